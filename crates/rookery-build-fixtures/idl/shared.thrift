// Included by services.thrift and all_types.thrift: its definitions are reached as `shared.X`.
namespace rs fixtures.shared

/** A point, shared across files. */
struct Point {
    1: i32 x,
    2: i32 y,
}

enum Level {
    LOW = 1,
    HIGH = 10,
}

const i32 MAX_POINTS = 100

/** The base service: every service of services.thrift extends it. */
service Base {
    /** Returns the server's name. */
    string name(),
    /** Does nothing, and says so with no value. */
    void ping(),
}
