enum Color {
  RED = 1
  CRIMSON = 1
}

struct Loose {
  string no_id
  0: i32 zero_id
}

service Old {
  async void fire(1: optional i32 ignored)
}
