package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/bytedance/gopkg/cloud/metainfo"
	"github.com/cloudwego/kitex/pkg/kerrors"
	"github.com/cloudwego/kitex/pkg/rpcinfo"
	"github.com/cloudwego/kitex/pkg/transmeta"
	"github.com/cloudwego/kitex/server"

	"github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echo"
	echoservice "github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echo/echo"
	"github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echopb"
	echopbservice "github.com/rookery-rs/rookery/interop/kitex/kitex_gen/echopb/echo"
)

// EchoedBy is the response metadata key (a Kitex backward value, raw TTHeader string info
// in the reply) both echo servers set, with their name as the value.
const EchoedBy = "echoed-by"

// newServer builds the echo server of idl on addr: run serves until stop is called.
func newServer(idl string, addr *net.TCPAddr, mux bool) (run func() error, stop func() error) {
	opts := []server.Option{
		server.WithServiceAddr(addr),
		server.WithMetaHandler(transmeta.ServerTTHeaderHandler),
		server.WithExitWaitTime(time.Second),
	}
	if mux {
		opts = append(opts, server.WithMuxTransport())
	}
	var svr server.Server
	if idl == "thrift" {
		svr = echoservice.NewServer(&thriftEcho{}, opts...)
	} else {
		svr = echopbservice.NewServer(&protobufEcho{}, opts...)
	}
	return svr.Run, svr.Stop
}

// bizError is the business status both echo servers fail with when asked to ("biz"):
// code 1001, the request's message, one extra field.
func bizError(message string) error {
	return kerrors.NewBizStatusErrorWithExtra(1001, message, map[string]string{"k": "v"})
}

// wait sleeps for ms milliseconds, or until the call is abandoned.
func wait(ctx context.Context, ms int32) error {
	if ms <= 0 {
		return nil
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timeoutMs is the time the caller gave the call, as Kitex read it from TTHeader.
func timeoutMs(ctx context.Context) int32 {
	return int32(rpcinfo.GetRPCInfo(ctx).Config().RPCTimeout().Milliseconds())
}

// requestMetadata reads keys from the call's metadata as a Kitex handler does, through
// metainfo: transient values (one hop) first, then persistent ones (every hop).
func requestMetadata(ctx context.Context, keys []string) map[string]string {
	found := make(map[string]string, len(keys))
	for _, k := range keys {
		if v, ok := metainfo.GetValue(ctx, k); ok {
			found[k] = v
		} else if v, ok := metainfo.GetPersistentValue(ctx, k); ok {
			found[k] = v
		}
	}
	return found
}

// thriftEcho serves idl/echo.thrift.
type thriftEcho struct {
	mu       sync.Mutex
	notified []string
}

func (h *thriftEcho) Echo(ctx context.Context, req *echo.EchoRequest) (*echo.EchoResponse, error) {
	if err := wait(ctx, req.DelayMs); err != nil {
		return nil, err
	}
	switch req.Fail {
	case "exception":
		return nil, &echo.EchoError{Code: 7, Message: req.Message}
	case "error":
		return nil, errors.New("kitex-peer fails as asked: " + req.Message)
	case "biz":
		return nil, bizError(req.Message)
	}
	metainfo.SendBackwardValue(ctx, EchoedBy, "kitex")
	return &echo.EchoResponse{
		Message:   req.Message,
		Payload:   req.Payload,
		Metadata:  requestMetadata(ctx, req.EchoMetadata),
		TimeoutMs: timeoutMs(ctx),
	}, nil
}

func (h *thriftEcho) Notify(ctx context.Context, message string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notified = append(h.notified, message)
	return nil
}

func (h *thriftEcho) Notified(ctx context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.notified...), nil
}

// protobufEcho serves idl/echo.proto.
type protobufEcho struct{}

func (protobufEcho) Echo(ctx context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	if err := wait(ctx, req.DelayMs); err != nil {
		return nil, err
	}
	switch req.Fail {
	case "error":
		return nil, errors.New("kitex-peer fails as asked: " + req.Message)
	case "biz":
		return nil, bizError(req.Message)
	}
	metainfo.SendBackwardValue(ctx, EchoedBy, "kitex")
	return &echopb.EchoResponse{
		Message:   req.Message,
		Payload:   req.Payload,
		Metadata:  requestMetadata(ctx, req.EchoMetadata),
		TimeoutMs: timeoutMs(ctx),
	}, nil
}
