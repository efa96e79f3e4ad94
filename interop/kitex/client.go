package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/gopkg/cloud/metainfo"
	"github.com/cloudwego/kitex/client"
	"github.com/cloudwego/kitex/client/callopt"
	"github.com/cloudwego/kitex/pkg/connpool"
	"github.com/cloudwego/kitex/pkg/kerrors"
	"github.com/cloudwego/kitex/pkg/remote"
	"github.com/cloudwego/kitex/pkg/transmeta"
	"github.com/cloudwego/kitex/transport"

	"github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echo"
	echoservice "github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echo/echo"
	"github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echopb"
	echopbservice "github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echopb/echo"
)

// allCases are the cases call runs by default; protobuf has neither declared exceptions nor
// one-way calls, and skips those two.
var allCases = []string{"small", "large", "metadata", "timeout", "exception", "error", "biz", "oneway", "concurrent"}

// echoArgs and echoReply are an echo call and its answer, whichever the IDL.
type echoArgs struct {
	message string
	payload []byte
	delayMs int32
	keys    []string
	fail    string
}

type echoReply struct {
	message   string
	payload   []byte
	metadata  map[string]string
	timeoutMs int32
}

// caller calls the echo service of one IDL.
type caller struct {
	idl      string
	thrift   echoservice.Client
	protobuf echopbservice.Client
}

func newCaller(idl, addr, mode string) *caller {
	opts := []client.Option{
		client.WithHostPorts(addr),
		client.WithTransportProtocol(transport.TTHeader),
		client.WithMetaHandler(transmeta.ClientTTHeaderHandler),
		client.WithRPCTimeout(30 * time.Second),
		client.WithConnectTimeout(5 * time.Second),
	}
	if mode == "mux" {
		opts = append(opts, client.WithMuxConnection(1))
	} else {
		opts = append(opts, client.WithLongConnection(connpool.IdleConfig{
			MaxIdlePerAddress: 1000,
			MaxIdleGlobal:     1000,
			MaxIdleTimeout:    time.Minute,
		}))
	}
	c := &caller{idl: idl}
	var err error
	if idl == "thrift" {
		c.thrift, err = echoservice.NewClient("rookery-echo", opts...)
	} else {
		c.protobuf, err = echopbservice.NewClient("rookery-echo", opts...)
	}
	if err != nil {
		fail("building the %s client: %v", idl, err)
	}
	return c
}

func (c *caller) echo(ctx context.Context, a echoArgs, opts ...callopt.Option) (echoReply, error) {
	if c.thrift != nil {
		r, err := c.thrift.Echo(ctx, &echo.EchoRequest{
			Message: a.message, Payload: a.payload, DelayMs: a.delayMs, EchoMetadata: a.keys, Fail: a.fail,
		}, opts...)
		if err != nil {
			return echoReply{}, err
		}
		return echoReply{r.Message, r.Payload, r.Metadata, r.TimeoutMs}, nil
	}
	r, err := c.protobuf.Echo(ctx, &echopb.EchoRequest{
		Message: a.message, Payload: a.payload, DelayMs: a.delayMs, EchoMetadata: a.keys, Fail: a.fail,
	}, opts...)
	if err != nil {
		return echoReply{}, err
	}
	return echoReply{r.Message, r.Payload, r.Metadata, r.TimeoutMs}, nil
}

// runCases runs each case and prints its outcome; it says whether all passed.
func runCases(c *caller, cases []string) bool {
	passed := true
	for _, name := range cases {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		var err error
		if run, ok := caseFuncs[name]; !ok {
			err = fmt.Errorf("no such case (there are %s)", strings.Join(allCases, ", "))
		} else {
			err = run(c)
		}
		if err != nil {
			passed = false
			fmt.Printf("FAIL %s: %v\n", name, err)
		} else {
			fmt.Printf("ok %s\n", name)
		}
	}
	return passed
}

var caseFuncs = map[string]func(*caller) error{
	"small":      func(c *caller) error { return roundTrip(c, "hello, rookery", 16) },
	"large":      func(c *caller) error { return roundTrip(c, "a mebibyte", 1<<20) },
	"metadata":   caseMetadata,
	"timeout":    caseTimeout,
	"exception":  caseException,
	"error":      caseError,
	"biz":        caseBiz,
	"oneway":     caseOneway,
	"concurrent": caseConcurrent,
	// Not in allCases: only a server that answers a connection's calls at once passes it.
	"out_of_order": caseOutOfOrder,
}

func randomPayload(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func roundTrip(c *caller, message string, size int) error {
	payload := randomPayload(size)
	r, err := c.echo(context.Background(), echoArgs{message: message, payload: payload})
	if err != nil {
		return err
	}
	if r.message != message {
		return fmt.Errorf("message %q came back as %q", message, r.message)
	}
	if !bytes.Equal(r.payload, payload) {
		return fmt.Errorf("a payload of %d bytes came back as %d different bytes", len(payload), len(r.payload))
	}
	return nil
}

// caseMetadata: a transient and a persistent metainfo value reach the server's handler
// (which reads them through metainfo and returns them), and the server's backward value
// comes back.
func caseMetadata(c *caller) error {
	ctx := metainfo.WithValue(context.Background(), "tenant", "t-1")
	ctx = metainfo.WithPersistentValue(ctx, "region", "p-1")
	ctx = metainfo.WithBackwardValues(ctx)
	r, err := c.echo(ctx, echoArgs{message: "metadata", keys: []string{"tenant", "region", "absent"}})
	if err != nil {
		return err
	}
	want := map[string]string{"tenant": "t-1", "region": "p-1"}
	if fmt.Sprint(r.metadata) != fmt.Sprint(want) {
		return fmt.Errorf("the server read the metadata %v, not %v", r.metadata, want)
	}
	if by, ok := metainfo.RecvBackwardValue(ctx, EchoedBy); !ok || by == "" {
		return fmt.Errorf("no %q in the reply's metadata (backward values: %v)", EchoedBy, metainfo.RecvAllBackwardValues(ctx))
	}
	return nil
}

// caseTimeout: the time the client gives a call (5 s) reaches the server.
func caseTimeout(c *caller) error {
	r, err := c.echo(context.Background(), echoArgs{message: "timeout"}, callopt.WithRPCTimeout(5*time.Second))
	if err != nil {
		return err
	}
	if r.timeoutMs <= 1000 || r.timeoutMs > 5000 {
		return fmt.Errorf("the server saw a timeout of %d ms, not 5000 ms less the time on the way", r.timeoutMs)
	}
	return nil
}

// caseException: a declared exception arrives as that exception, with its fields.
func caseException(c *caller) error {
	if c.thrift == nil {
		return errors.New("protobuf has no declared exceptions")
	}
	_, err := c.echo(context.Background(), echoArgs{message: "declared", fail: "exception"})
	var declared *echo.EchoError
	if !errors.As(err, &declared) {
		return fmt.Errorf("want the declared EchoError, got %T: %v", err, err)
	}
	if declared.Code != 7 || declared.Message != "declared" {
		return fmt.Errorf("EchoError{code: %d, message: %q}, want {7, \"declared\"}", declared.Code, declared.Message)
	}
	return nil
}

// caseError: an undeclared failure arrives as an error that carries the server's message,
// and the connection serves the next call.
func caseError(c *caller) error {
	_, err := c.echo(context.Background(), echoArgs{message: "undeclared-7f3a", fail: "error"})
	if err == nil {
		return errors.New("the call succeeded")
	}
	var declared *echo.EchoError
	if errors.As(err, &declared) {
		return fmt.Errorf("an undeclared failure arrived as the declared EchoError: %v", err)
	}
	if !strings.Contains(err.Error(), "undeclared-7f3a") {
		return fmt.Errorf("the error lost the server's message: %T: %v", err, err)
	}
	// On the wire it is a Thrift application exception (Kitex Protobuf carries the same
	// type and message), of kind INTERNAL_ERROR.
	var app *remote.TransError
	if !errors.As(err, &app) || app.TypeID() != remote.InternalError {
		return fmt.Errorf("want an application exception of kind INTERNAL_ERROR (%d), got %T: %v", remote.InternalError, err, err)
	}
	return roundTrip(c, "after an error", 16)
}

// caseBiz: a business status (kerrors.BizStatusError) arrives with its code, message and
// extra fields, and the connection serves the next call.
func caseBiz(c *caller) error {
	_, err := c.echo(context.Background(), echoArgs{message: "biz-1", fail: "biz"})
	biz, ok := kerrors.FromBizStatusError(err)
	if !ok {
		return fmt.Errorf("want a BizStatusError, got %T: %v", err, err)
	}
	if biz.BizStatusCode() != 1001 || biz.BizMessage() != "biz-1" || biz.BizExtra()["k"] != "v" {
		return fmt.Errorf("BizStatusError{%d, %q, %v}, want {1001, \"biz-1\", map[k:v]}", biz.BizStatusCode(), biz.BizMessage(), biz.BizExtra())
	}
	return roundTrip(c, "after a business status", 16)
}

// caseOneway: a one-way call arrives (the server lists it in notified()).
func caseOneway(c *caller) error {
	if c.thrift == nil {
		return errors.New("protobuf has no one-way calls")
	}
	msg := fmt.Sprintf("oneway-%d", rand.Int63())
	if err := c.thrift.Notify(context.Background(), msg); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.thrift.Notified(context.Background())
		if err != nil {
			return err
		}
		for _, m := range got {
			if m == msg {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%q is not among the notified messages after 10 s: %v", msg, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caseConcurrent: 200 calls at once, the later ones answered sooner (each waits less on
// the server), each reply matching its own request.
func caseConcurrent(c *caller) error {
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := fmt.Sprintf("call-%d", i)
			payload := randomPayload(64 + i)
			r, err := c.echo(context.Background(), echoArgs{message: msg, payload: payload, delayMs: int32((n - i) / 4)})
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: %v", msg, err)
			case r.message != msg || !bytes.Equal(r.payload, payload):
				errs <- fmt.Errorf("%s was answered with the reply to %q", msg, r.message)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var all []string
	for err := range errs {
		all = append(all, err.Error())
	}
	if len(all) > 0 {
		return fmt.Errorf("%d of %d calls failed: %s", len(all), n, strings.Join(all, "; "))
	}
	return nil
}

// caseOutOfOrder: 50 calls at once, each told to wait less on the server than the one sent
// before it, come back in another order than they were sent (and each with its own reply):
// the server answered them out of order.
func caseOutOfOrder(c *caller) error {
	const n = 50
	var done atomic.Int32
	finished := make([]int32, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := fmt.Sprintf("order-%d", i)
			r, err := c.echo(context.Background(), echoArgs{message: msg, delayMs: int32(5 * (n - i))})
			finished[i] = done.Add(1)
			if err != nil {
				errs <- err
			} else if r.message != msg {
				errs <- fmt.Errorf("%s was answered with the reply to %q", msg, r.message)
			}
		}(i)
		// Sent in order: each call starts after the one before it.
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	if finished[n-1] > finished[0] {
		return fmt.Errorf("the last call sent (waiting 5 ms) finished after the first (waiting %d ms): replies came in the order sent", 5*n)
	}
	return nil
}
