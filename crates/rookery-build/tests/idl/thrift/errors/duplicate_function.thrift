service Base {
  void ping()
}

service Child extends Base {
  void pong()
  void pong(1: i32 twice)
  void ping()
}
