exception Oops { 1: string why }

struct Pair {
  1: i32 left
  1: i32 right
  2: string left
}

service Calls {
  void call(1: i32 a, 1: i32 b) throws (1: Oops first, 1: Oops second)
}
