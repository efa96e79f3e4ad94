#!/usr/bin/env python3
"""A client of Apache Thrift's ThriftTest service, on Python's `thrift` package, that calls
every method and checks every answer. Used by rookery's cross-language tests against a rookery
server.

    thrift_test_client.py --gen-dir DIR --port PORT --protocol binary|compact
                          --transport framed|buffered [--multiplexed]

DIR holds the code `thrift --gen py ThriftTest.thrift` wrote. Prints `ok METHOD` for each
method that answered right and exits 0; on the first wrong answer prints `FAIL METHOD: why`
and exits 1.
"""

import argparse
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gen-dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--protocol", choices=["binary", "compact"], required=True)
    p.add_argument("--transport", choices=["framed", "buffered"], required=True)
    p.add_argument(
        "--multiplexed",
        action="store_true",
        help="name the services (ThriftTest:, SecondService:) as TMultiplexedProtocol does",
    )
    args = p.parse_args()
    sys.path.insert(0, args.gen_dir)

    from thrift.protocol import TBinaryProtocol, TCompactProtocol, TMultiplexedProtocol
    from thrift.Thrift import TApplicationException
    from thrift.transport import TSocket, TTransport

    from ThriftTest import SecondService, ThriftTest
    from ThriftTest.ttypes import (
        Insanity,
        Numberz,
        Xception,
        Xception2,
        Xtruct,
        Xtruct2,
    )

    sock = TSocket.TSocket(args.host, args.port)
    sock.setTimeout(10_000)
    if args.transport == "framed":
        transport = TTransport.TFramedTransport(sock)
    else:
        transport = TTransport.TBufferedTransport(sock)
    if args.protocol == "binary":
        protocol = TBinaryProtocol.TBinaryProtocol(transport)
    else:
        protocol = TCompactProtocol.TCompactProtocol(transport)
    if args.multiplexed:
        client = ThriftTest.Client(TMultiplexedProtocol.TMultiplexedProtocol(protocol, "ThriftTest"))
        second = SecondService.Client(
            TMultiplexedProtocol.TMultiplexedProtocol(protocol, "SecondService")
        )
    else:
        client = ThriftTest.Client(protocol)
        second = None
    transport.open()

    def check(method, got, want):
        if got != want:
            print(f"FAIL {method}: got {got!r}, want {want!r}", flush=True)
            sys.exit(1)
        print(f"ok {method}", flush=True)

    check("testVoid", client.testVoid(), None)
    for s in ["", "hello", "unicode: héllo, 世界, \U0001F426", "x" * 100_000]:
        check("testString", client.testString(s), s)
    check("testBool", client.testBool(True), True)
    check("testBool", client.testBool(False), False)
    for b in [0, 1, -1, 127, -128]:
        check("testByte", client.testByte(b), b)
    for i in [0, 1, -1, 2**31 - 1, -(2**31)]:
        check("testI32", client.testI32(i), i)
    for i in [0, 1, -1, 2**63 - 1, -(2**63), 2**40 + 7]:
        check("testI64", client.testI64(i), i)
    for d in [0.0, -5.25, 1e300, -1e-300, 2.5]:
        check("testDouble", client.testDouble(d), d)
    blob = bytes(range(256)) * 3
    check("testBinary", client.testBinary(blob), blob)
    check("testBinary", client.testBinary(b""), b"")

    x = Xtruct(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    check("testStruct", client.testStruct(x), x)
    x2 = Xtruct2(byte_thing=1, struct_thing=x, i32_thing=5)
    check("testNest", client.testNest(x2), x2)
    m = {i: i - 10 for i in range(5)}
    check("testMap", client.testMap(m), m)
    check("testMap", client.testMap({}), {})
    sm = {"a": "2", "b": "blah", "some": "thing", "": "empty key", "héllo": "wörld"}
    check("testStringMap", client.testStringMap(sm), sm)
    s = {-2, -1, 0, 1, 2, 3}
    check("testSet", client.testSet(s), s)
    lst = [-2, -1, 0, 1, 2, 3, 3]
    check("testList", client.testList(lst), lst)
    for e in [Numberz.ONE, Numberz.TWO, Numberz.FIVE, Numberz.EIGHT]:
        check("testEnum", client.testEnum(e), e)
    check("testTypedef", client.testTypedef(309858235082523), 309858235082523)
    check(
        "testMapMap",
        client.testMapMap(1),
        {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}},
    )

    insane = Insanity(
        userMap={Numberz.FIVE: 5, Numberz.EIGHT: 8},
        xtructs=[Xtruct(string_thing="Goodbye4", byte_thing=4, i32_thing=4, i64_thing=4)],
    )
    got = client.testInsanity(insane)
    # An empty Insanity comes back with its containers unset or empty, depending on the
    # server: both mean "empty".
    empty = got.get(2, {}).get(Numberz.SIX)
    if empty is None or (empty.userMap or {}) != {} or (empty.xtructs or []) != []:
        print(f"FAIL testInsanity: got {got!r}", flush=True)
        sys.exit(1)
    check("testInsanity", {1: got.get(1)}, {1: {Numberz.TWO: insane, Numberz.THREE: insane}})

    check(
        "testMulti",
        client.testMulti(9, 5, 7, {1: "one", 2: "two"}, Numberz.FIVE, 12345),
        Xtruct(string_thing="Hello2", byte_thing=9, i32_thing=5, i64_thing=7),
    )

    try:
        client.testException("Xception")
        print("FAIL testException: no Xception", flush=True)
        sys.exit(1)
    except Xception as e:
        check("testException", (e.errorCode, e.message), (1001, "Xception"))
    try:
        client.testException("TException")
        print("FAIL testException: no TException", flush=True)
        sys.exit(1)
    except TApplicationException as e:
        print(f"ok testException (TException: {e.message})", flush=True)
    check("testException", client.testException("success"), None)

    try:
        client.testMultiException("Xception", "ignored")
        print("FAIL testMultiException: no Xception", flush=True)
        sys.exit(1)
    except Xception as e:
        check("testMultiException", (e.errorCode, e.message), (1001, "This is an Xception"))
    try:
        client.testMultiException("Xception2", "ignored")
        print("FAIL testMultiException: no Xception2", flush=True)
        sys.exit(1)
    except Xception2 as e:
        check(
            "testMultiException",
            (e.errorCode, e.struct_thing.string_thing),
            (2002, "This is an Xception2"),
        )
    # Only string_thing is set; a server may send the other fields as 0 (Apache's C++ and
    # Java servers, and rookery's, write every field that is not optional) or leave them out
    # (Python's), and both mean the same: compare with the unset ones as 0.
    got = client.testMultiException("success", "foobar")
    check(
        "testMultiException",
        (got.string_thing, got.byte_thing or 0, got.i32_thing or 0, got.i64_thing or 0),
        ("foobar", 0, 0, 0),
    )

    # Oneway: nothing comes back; the connection still works after it.
    client.testOneway(1)
    print("ok testOneway", flush=True)
    check("testVoid", client.testVoid(), None)

    if second is not None:
        check("secondtestString", second.secondtestString("two"), "testString(\"two\")")

    transport.close()
    print("all ok", flush=True)


if __name__ == "__main__":
    main()
