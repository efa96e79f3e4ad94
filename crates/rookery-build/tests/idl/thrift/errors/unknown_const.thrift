include "../inc/shared.thrift"

enum Numberz { ONE = 1, TWO = 2 }

const i32 A = NOPE
const Numberz B = ONE
const Numberz C = Numberz.TEN
const i32 D = shared.MIN
const string E = Numberz
struct Point {}
const i32 F = Point.X
