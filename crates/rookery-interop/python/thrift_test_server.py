#!/usr/bin/env python3
"""A server of Apache Thrift's ThriftTest service (and SecondService), on Python's `thrift`
package, answering as Thrift's cross-language test servers do. Used by rookery's
cross-language tests: a rookery client calls every method against it.

    thrift_test_server.py --gen-dir DIR --protocol binary|compact --transport framed|buffered
                          [--multiplexed]

Binds 127.0.0.1 on a port the system picks and prints `listening on PORT` once it accepts
connections. Serves until it is killed or its stdin closes (so it never outlives the test that
started it). Oneway calls are counted: `testString("oneway count")`
answers how many arrived.
"""

import argparse
import os
import sys
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gen-dir", required=True)
    p.add_argument("--protocol", choices=["binary", "compact"], required=True)
    p.add_argument("--transport", choices=["framed", "buffered"], required=True)
    p.add_argument("--multiplexed", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, args.gen_dir)

    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.server import TServer
    from thrift.Thrift import TException
    from thrift.TMultiplexedProcessor import TMultiplexedProcessor
    from thrift.transport import TSocket, TTransport

    from ThriftTest import SecondService, ThriftTest
    from ThriftTest.ttypes import Insanity, Numberz, Xception, Xception2, Xtruct

    oneways = {"count": 0}
    lock = threading.Lock()

    class Handler:
        def testVoid(self):
            pass

        def testString(self, thing):
            if thing == "oneway count":
                with lock:
                    return str(oneways["count"])
            return thing

        def testBool(self, thing):
            return thing

        def testByte(self, thing):
            return thing

        def testI32(self, thing):
            return thing

        def testI64(self, thing):
            return thing

        def testDouble(self, thing):
            return thing

        def testBinary(self, thing):
            return thing

        def testStruct(self, thing):
            return thing

        def testNest(self, thing):
            return thing

        def testMap(self, thing):
            return thing

        def testStringMap(self, thing):
            return thing

        def testSet(self, thing):
            return thing

        def testList(self, thing):
            return thing

        def testEnum(self, thing):
            return thing

        def testTypedef(self, thing):
            return thing

        def testMapMap(self, hello):
            return {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}

        def testInsanity(self, argument):
            return {
                1: {Numberz.TWO: argument, Numberz.THREE: argument},
                2: {Numberz.SIX: Insanity()},
            }

        def testMulti(self, arg0, arg1, arg2, arg3, arg4, arg5):
            return Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

        def testException(self, arg):
            if arg == "Xception":
                raise Xception(errorCode=1001, message=arg)
            if arg == "TException":
                raise TException(message="This is a TException")

        def testMultiException(self, arg0, arg1):
            if arg0 == "Xception":
                raise Xception(errorCode=1001, message="This is an Xception")
            if arg0 == "Xception2":
                raise Xception2(
                    errorCode=2002, struct_thing=Xtruct(string_thing="This is an Xception2")
                )
            return Xtruct(string_thing=arg1)

        def testOneway(self, secondsToSleep):
            time.sleep(secondsToSleep)
            with lock:
                oneways["count"] += 1

    class Second:
        def secondtestString(self, thing):
            return 'testString("%s")' % thing

    if args.multiplexed:
        processor = TMultiplexedProcessor()
        processor.registerProcessor("ThriftTest", ThriftTest.Processor(Handler()))
        processor.registerProcessor("SecondService", SecondService.Processor(Second()))
    else:
        processor = ThriftTest.Processor(Handler())

    sock = TSocket.TServerSocket(host="127.0.0.1", port=0)
    if args.transport == "framed":
        tfactory = TTransport.TFramedTransportFactory()
    else:
        tfactory = TTransport.TBufferedTransportFactory()
    if args.protocol == "binary":
        pfactory = TBinaryProtocol.TBinaryProtocolFactory()
    else:
        pfactory = TCompactProtocol.TCompactProtocolFactory()
    server = TServer.TThreadedServer(processor, sock, tfactory, pfactory, daemon=True)
    # Listen here, to learn the port the system picked, and keep serve() from listening again.
    sock.listen()
    sock.listen = lambda: None
    port = sock.handle.getsockname()[1]

    def exit_when_stdin_closes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"listening on {port}", flush=True)
    server.serve()


if __name__ == "__main__":
    main()
