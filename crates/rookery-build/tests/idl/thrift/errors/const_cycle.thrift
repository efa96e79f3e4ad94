const i32 A = B
const i32 B = A
const i32 SELF = SELF
