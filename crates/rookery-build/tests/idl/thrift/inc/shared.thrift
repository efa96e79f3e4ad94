namespace * shared
include "../common/types.thrift"   // the same file base.thrift includes: loaded once

const i32 MAX = 100
const types.Text GREETING = "hello"

enum Level { LOW, HIGH }

struct Payload {
  1: string body
  2: Level level = Level.LOW
}

exception SharedError {
  1: string reason
}
