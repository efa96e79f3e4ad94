enum Color { RED = 1, GREEN = 2 }
struct Point { 1: i32 x, 2: i32 y }

const i32 COUNT = "ten"
const i32 WIDE = 2147483648
const byte SMALL = 300
const i16 SHORT = -40000
const i64 WHOLE = 1.5
const list<i8> BYTES = [1, 2, 128]
const map<string, i32> LIMITS = {"a": 1, 2: 2}
const Color NOT_A_COLOR = 3
const Point ORIGIN = {"x": 0, "z": 0}
const i8 TOO_BIG = COUNT_OK
const i32 COUNT_OK = 1000
const uuid ID = "not-a-uuid"
const bool MAYBE = 2
