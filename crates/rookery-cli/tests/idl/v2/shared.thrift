// Included by calc.thrift: a base service and a struct the calculator uses.
namespace rs shared

struct Note {
    1: string text,
    2: optional i64 at,
}

service Base {
    string version(),
}
