// The IDL twin of the hand-written types in ../common/types.rs, for the Python peer
// (tests/python/alltypes_peer.py, driven by tests/python_peer.rs).
//
// Field 9 (`optional uuid a_uuid`) of AllTypes is left out: Debian's thrift compiler 0.17
// does not know the uuid type. The Rust side leaves it unset in the values it exchanges with
// Python. Negative field ids need `thrift --allow-neg-keys`.

namespace py rookery_alltypes

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 3,
  ULTRAVIOLET = -7,
}

struct Inner {
  1: i32 id,
  2: string name,
  3: optional bool flag,
}

union Choice {
  1: i64 num,
  2: string text,
  3: Inner inner,
  4: bool flag,
}

struct AllTypes {
  1: bool a_bool,
  2: i8 a_byte,
  3: i16 an_i16,
  4: i32 an_i32,
  5: i64 an_i64,
  6: double a_double,
  7: string a_string,
  8: binary a_binary,
  10: Inner inner,
  11: required Choice choice,
  12: map<string, i64> string_to_i64,
  13: set<i32> i32_set,
  14: list<list<string>> string_lists,
  15: list<bool> bools,
  16: map<i32, Inner> inners,
  17: Color color,
  18: optional i32 opt_i32,
  19: optional string opt_string,
  20: optional list<i64> opt_list,
  21: optional bool opt_bool,
  40: i64 far_i64,
  1000: string far_string,
  500: i32 back_i32,
  -5: i16 neg_i16,
  -1: bool neg_bool,
  32767: i8 max_id,
}
