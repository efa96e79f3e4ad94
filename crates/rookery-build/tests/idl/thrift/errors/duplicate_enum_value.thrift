enum Color {
  RED,
  GREEN,
  RED = 7,
  CRIMSON = 0
}
