// kitex-peer: a Kitex echo server and client that rookery's tests and benchmarks run against
// (interop/kitex/README.md). Thrift binary over TTHeader (idl/echo.thrift) and Kitex
// Protobuf over TTHeader (idl/echo.proto); the client pooled or multiplexed.
//
//	kitex-peer serve --idl thrift|protobuf --addr 127.0.0.1:PORT [--mux]
//	kitex-peer call  --idl thrift|protobuf --addr 127.0.0.1:PORT --mode pooled|mux --cases a,b
//	kitex-peer bench --idl thrift|protobuf --addr 127.0.0.1:PORT --mode pooled|mux
//	                 --concurrency N --size BYTES --duration 10s [--warmup 2s]
//
// serve prints "listening on ADDR" once the port accepts, and stops when its stdin closes.
// call prints "ok CASE" or "FAIL CASE: why" per case and exits 1 if any failed. bench prints
// one JSON line with the calls per second and latency percentiles.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	idl := fs.String("idl", "thrift", "thrift (Thrift binary over TTHeader) or protobuf (Kitex Protobuf over TTHeader)")
	addr := fs.String("addr", "127.0.0.1:0", "the server's address")
	mux := fs.Bool("mux", false, "serve: accept multiplexed connections (replies out of order)")
	mode := fs.String("mode", "pooled", "call/bench: pooled (a pool of connections) or mux (one multiplexed connection)")
	cases := fs.String("cases", strings.Join(allCases, ","), "call: the cases to run")
	concurrency := fs.Int("concurrency", 100, "bench: callers at once")
	size := fs.Int("size", 1024, "bench: payload bytes per request")
	duration := fs.Duration("duration", 10*time.Second, "bench: how long to measure")
	warmup := fs.Duration("warmup", 2*time.Second, "bench: how long to call before measuring")
	_ = fs.Parse(args)
	if *idl != "thrift" && *idl != "protobuf" {
		fail("--idl must be thrift or protobuf, not %q", *idl)
	}
	if *mode != "pooled" && *mode != "mux" {
		fail("--mode must be pooled or mux, not %q", *mode)
	}

	switch cmd {
	case "serve":
		serve(*idl, *addr, *mux)
	case "call":
		c := newCaller(*idl, *addr, *mode)
		if !runCases(c, strings.Split(*cases, ",")) {
			os.Exit(1)
		}
	case "bench":
		c := newCaller(*idl, *addr, *mode)
		bench(c, *concurrency, *size, *warmup, *duration)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kitex-peer serve|call|bench --idl thrift|protobuf --addr HOST:PORT [flags]; -h for the flags")
	os.Exit(2)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kitex-peer: "+format+"\n", args...)
	os.Exit(2)
}

// serve runs the echo server on addr until stdin closes.
func serve(idl, addr string, mux bool) {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		fail("bad --addr %q: %v", addr, err)
	}
	if tcp.Port == 0 {
		fail("--addr needs a port: Kitex does not say which one it picked")
	}
	run, stop := newServer(idl, tcp, mux)
	errs := make(chan error, 1)
	go func() { errs <- run() }()
	if err := waitAccepting(addr, errs); err != nil {
		fail("serving on %s: %v", addr, err)
	}
	fmt.Printf("listening on %s\n", addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = stop()
}

// waitAccepting returns once addr accepts connections, or the server's error.
func waitAccepting(addr string, errs <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errs:
			return fmt.Errorf("the server stopped: %v", err)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing accepts on %s after 30 s", addr)
}
