struct Plain { 1: string message }
exception Real { 1: string message }
typedef Real Alias

service Thrower {
  void a() throws (1: Plain plain)
  void b() throws (1: Alias alias, 2: i32 code)
}
