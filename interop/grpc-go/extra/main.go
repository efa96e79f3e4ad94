// Command extra covers, with grpc-go's own stubs, what grpc-go's interop client and server
// leave out but rookery's Python (grpcio) suite checks:
//
//	extra check --addr 127.0.0.1:PORT [--cases a,b] [--ca_file ca.pem --server_host_override NAME]
//
// calls a rookery server with grpc-go's health client, the grpc.reflection.v1 stubs and a
// gzip-compressed unary call, and prints one `ok CASE` or `FAIL CASE: why` line per case,
// exiting 1 if any failed;
//
//	extra serve [--addr 127.0.0.1:0]
//
// serves grpc-go's interop TestService (interop.NewTestServer, the same implementation as
// google.golang.org/grpc/interop/server) with gzip registered, which the stock server
// lacks, on a loopback address, and prints `listening on HOST:PORT` once it accepts.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/interop"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The service the interop server serves, by its full name.
const testService = "grpc.testing.TestService"

// Every case of `check`, in the order they run when --cases is not given.
var allCases = []string{
	"health_check",
	"health_unknown_service",
	"health_watch",
	"health_list",
	"reflection_list",
	"reflection_resolve",
	"client_compressed_unary",
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: extra check|serve [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "check":
		os.Exit(check(os.Args[2:]))
	case "serve":
		os.Exit(serve(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "extra: unknown command %q (want check or serve)\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(args []string) int {
	flags := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:0", "the loopback address to listen on")
	flags.Parse(args)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "extra serve: listening on %s: %v\n", *addr, err)
		return 1
	}
	server := grpc.NewServer()
	testpb.RegisterTestServiceServer(server, interop.NewTestServer())
	// The listener accepts (into its backlog) from here on, so the line is a readiness signal.
	fmt.Printf("listening on %s\n", lis.Addr())
	if err := server.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "extra serve: %v\n", err)
		return 1
	}
	return 0
}

func check(args []string) int {
	flags := flag.NewFlagSet("check", flag.ExitOnError)
	addr := flags.String("addr", "", "the server, HOST:PORT")
	cases := flags.String("cases", strings.Join(allCases, ","), "comma-separated cases to run")
	caFile := flags.String("ca_file", "", "with it, TLS trusting this CA (PEM) alone")
	hostOverride := flags.String("server_host_override", "", "the name the server's TLS certificate must carry")
	timeout := flags.Duration("timeout", 20*time.Second, "the deadline of each case")
	flags.Parse(args)
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "extra check: --addr is required")
		return 2
	}

	creds := insecure.NewCredentials()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "extra check: reading the CA: %v\n", err)
			return 2
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "extra check: no certificate in %s\n", *caFile)
			return 2
		}
		creds = credentials.NewClientTLSFromCert(roots, *hostOverride)
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(os.Stderr, "extra check: grpc.NewClient(%q): %v\n", *addr, err)
		return 2
	}
	defer conn.Close()

	runners := map[string]func(context.Context, *grpc.ClientConn) error{
		"health_check":            healthCheck,
		"health_unknown_service":  healthUnknownService,
		"health_watch":            healthWatch,
		"health_list":             healthList,
		"reflection_list":         reflectionList,
		"reflection_resolve":      reflectionResolve,
		"client_compressed_unary": clientCompressedUnary,
	}
	failed := 0
	for _, name := range strings.Split(*cases, ",") {
		run, known := runners[name]
		if !known {
			fmt.Printf("FAIL %s: no such case (cases: %s)\n", name, strings.Join(allCases, ","))
			failed++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		err := run(ctx, conn)
		cancel()
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", name, err)
			failed++
		} else {
			fmt.Printf("ok %s\n", name)
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// Check answers SERVING for the server as a whole and for the test service.
func healthCheck(ctx context.Context, conn *grpc.ClientConn) error {
	client := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", testService} {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("Check(%q): %w", service, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("Check(%q) is %v, want SERVING", service, resp.GetStatus())
		}
	}
	return nil
}

// Check of a service the server does not know fails with NOT_FOUND, as the health protocol
// says.
func healthUnknownService(ctx context.Context, conn *grpc.ClientConn) error {
	const unknown = "grpc.testing.NoSuchService"
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: unknown})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("Check(%q) = %v, want NOT_FOUND", unknown, err)
	}
	return nil
}

// Watch of the test service sends SERVING first and stays open.
func healthWatch(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: testService})
	if err != nil {
		return fmt.Errorf("Watch(%q): %w", testService, err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("Watch(%q), first message: %w", testService, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("Watch(%q) first sent %v, want SERVING", testService, resp.GetStatus())
	}
	return nil
}

// List names the test service, SERVING.
func healthList(ctx context.Context, conn *grpc.ClientConn) error {
	resp, err := healthpb.NewHealthClient(conn).List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		return fmt.Errorf("List: %w", err)
	}
	got, ok := resp.GetStatuses()[testService]
	if !ok {
		return fmt.Errorf("List lacks %s: %v", testService, resp.GetStatuses())
	}
	if got.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("List has %s %v, want SERVING", testService, got.GetStatus())
	}
	return nil
}

// ask sends one reflection request on its own stream and returns the answer.
func ask(ctx context.Context, conn *grpc.ClientConn, req *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(req); err != nil {
		return nil, fmt.Errorf("sending: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return nil, fmt.Errorf("half-closing: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("receiving: %w", err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		return nil, fmt.Errorf("after the one answer, want the end of the stream, got %v", err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("error response %s: %q", codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

// list_services over grpc.reflection.v1 names the test service and the health service.
func reflectionList(ctx context.Context, conn *grpc.ClientConn) error {
	resp, err := ask(ctx, conn, &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	})
	if err != nil {
		return fmt.Errorf("list_services: %w", err)
	}
	list := resp.GetListServicesResponse()
	if list == nil {
		return fmt.Errorf("list_services answered %v", resp)
	}
	var names []string
	for _, s := range list.GetService() {
		names = append(names, s.GetName())
	}
	sort.Strings(names)
	for _, want := range []string{testService, "grpc.health.v1.Health"} {
		if !contains(names, want) {
			return fmt.Errorf("services %v lack %s", names, want)
		}
	}
	return nil
}

// file_containing_symbol for the test service, with the files it imports fetched by
// file_by_filename as needed, gives descriptors that protobuf-go links into a registry, in
// which TestService.UnaryCall takes a SimpleRequest and the health service has Check.
func reflectionResolve(ctx context.Context, conn *grpc.ClientConn) error {
	files := map[string]*descriptorpb.FileDescriptorProto{}
	add := func(encoded [][]byte) error {
		for _, b := range encoded {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fd); err != nil {
				return fmt.Errorf("a file descriptor does not parse: %w", err)
			}
			files[fd.GetName()] = fd
		}
		return nil
	}
	for _, symbol := range []string{testService, "grpc.health.v1.Health"} {
		resp, err := ask(ctx, conn, &reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
		})
		if err != nil {
			return fmt.Errorf("file_containing_symbol %s: %w", symbol, err)
		}
		if err := add(resp.GetFileDescriptorResponse().GetFileDescriptorProto()); err != nil {
			return fmt.Errorf("file_containing_symbol %s: %w", symbol, err)
		}
	}
	// Imports not sent along are asked for by name, until none is missing.
	for {
		var missing []string
		for _, fd := range files {
			for _, dep := range fd.GetDependency() {
				if _, ok := files[dep]; !ok && !contains(missing, dep) {
					missing = append(missing, dep)
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		for _, name := range missing {
			resp, err := ask(ctx, conn, &reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: name},
			})
			if err != nil {
				return fmt.Errorf("file_by_filename %s: %w", name, err)
			}
			before := len(files)
			if err := add(resp.GetFileDescriptorResponse().GetFileDescriptorProto()); err != nil {
				return fmt.Errorf("file_by_filename %s: %w", name, err)
			}
			if _, ok := files[name]; !ok || len(files) == before {
				return fmt.Errorf("file_by_filename %s did not send that file", name)
			}
		}
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range files {
		set.File = append(set.File, fd)
	}
	registry, err := protodesc.NewFiles(set)
	if err != nil {
		return fmt.Errorf("the files do not link: %w", err)
	}
	found, err := registry.FindDescriptorByName(testService)
	if err != nil {
		return fmt.Errorf("%s in the linked files: %w", testService, err)
	}
	service, ok := found.(protoreflect.ServiceDescriptor)
	if !ok {
		return fmt.Errorf("%s is a %T, not a service", testService, found)
	}
	method := service.Methods().ByName("UnaryCall")
	if method == nil {
		return fmt.Errorf("%s has no UnaryCall", testService)
	}
	if in, out := method.Input().FullName(), method.Output().FullName(); in != "grpc.testing.SimpleRequest" || out != "grpc.testing.SimpleResponse" {
		return fmt.Errorf("UnaryCall takes %s and returns %s", in, out)
	}
	health, err := registry.FindDescriptorByName("grpc.health.v1.Health.Check")
	if err != nil {
		return fmt.Errorf("grpc.health.v1.Health.Check in the linked files: %w", err)
	}
	if _, ok := health.(protoreflect.MethodDescriptor); !ok {
		return fmt.Errorf("grpc.health.v1.Health.Check is a %T, not a method", health)
	}
	return nil
}

// The interop spec's large unary call (a 271828-byte request for a 314159-byte answer) with
// the request compressed by grpc-go's gzip.
func clientCompressedUnary(ctx context.Context, conn *grpc.ClientConn) error {
	const reqSize, respSize = 271828, 314159
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{
		ResponseType: testpb.PayloadType_COMPRESSABLE,
		ResponseSize: respSize,
		Payload:      &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, reqSize)},
	}, grpc.UseCompressor(gzip.Name))
	if err != nil {
		return fmt.Errorf("UnaryCall compressed by gzip: %w", err)
	}
	body := resp.GetPayload().GetBody()
	if len(body) != respSize {
		return fmt.Errorf("the answer has %d bytes, want %d", len(body), respSize)
	}
	if !bytes.Equal(body, make([]byte, respSize)) {
		return errors.New("the answer's payload is not all zeros")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
