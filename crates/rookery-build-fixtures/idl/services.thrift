// A service that extends another file's service, with void, oneway and declared exceptions.
include "shared.thrift"

namespace rs fixtures.services

exception Overdrawn {
    1: i64 balance,
    2: string message,
}

exception Frozen {
    1: string reason,
}

struct Account {
    1: required string owner,
    2: i64 balance,
    3: optional list<string> history,
}

service Bank extends shared.Base {
    /** Opens an account; a void method with arguments. */
    void open(1: string owner, 2: i64 deposit),

    /** The account of `owner`. */
    Account get(1: string owner) throws (1: Frozen frozen),

    /** Takes money out: throws one of two exceptions. */
    i64 withdraw(1: string owner, 2: i64 amount) throws (1: Overdrawn overdrawn, 2: Frozen frozen),

    /** Freezes an account: throws, returns nothing. */
    void freeze(1: string owner) throws (1: Frozen frozen),

    /** Fire and forget. */
    oneway void audit(1: string note),

    /** Many arguments of many types. */
    map<string, i64> report(1: list<string> owners, 2: optional shared.Level level, 3: shared.Point at, 4: set<i32> codes, 5: bool verbose, 6: double factor),

    /** An argument named like the context. */
    string echo(1: string cx),
}

/** Extends a service of the same file. */
service Branch extends Bank {
    i32 staff(),
}
