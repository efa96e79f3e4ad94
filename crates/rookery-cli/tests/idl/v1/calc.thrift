// The scaffolding test's service, as first written.
include "shared.thrift"

namespace rs calc

exception DivideByZero {
    1: string message,
}

service Calc extends shared.Base {
    /// Adds two numbers.
    i64 add(1: i64 a, 2: i64 b),
    /// Divides, or says why not.
    double divide(1: double a, 2: double b) throws (1: DivideByZero oops),
    list<shared.Note> notes(1: map<string, i32> filter),
    oneway void reset(),
}
