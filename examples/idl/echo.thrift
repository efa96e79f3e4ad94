// The echo service: the first example, the interop peer and the benchmark payload.
namespace rs echo
namespace py echo
namespace go echo

/// Raised by `fail`, to show a declared exception travelling back.
exception EchoError {
    1: i32 code,
    2: string message,
}

service Echo {
    /// Returns `msg` unchanged.
    string echo(1: string msg),

    /// Always throws `EchoError` with the given code and message.
    string fail(1: i32 code, 2: string message) throws (1: EchoError err),

    /// Fire and forget: the server counts it and sends nothing back.
    oneway void notify(1: string msg),
}
