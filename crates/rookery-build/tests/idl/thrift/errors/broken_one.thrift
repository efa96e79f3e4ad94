struct One {
  1: i32
}
