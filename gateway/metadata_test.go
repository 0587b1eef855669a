package gateway_test

import (
	"encoding/base64"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
)

// recordingServer is a gRPC server that answers every method with an empty
// message and records what arrived, to check metadata and deadlines.
type recordingServer struct {
	mu       sync.Mutex
	md       metadata.MD
	deadline time.Duration
	calls    int
}

func (s *recordingServer) handle(_ any, stream grpc.ServerStream) error {
	var in []byte
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	dl, _ := stream.Context().Deadline()
	s.mu.Lock()
	s.md, s.deadline = md, time.Until(dl)
	s.calls++
	s.mu.Unlock()
	_ = stream.SetHeader(metadata.Pairs("x-served-by", "recorder", "trace-bin", "\x00\x01\x02"))
	stream.SetTrailer(metadata.Pairs("x-cost", "3"))
	out := []byte{}
	return stream.SendMsg(&out)
}

func startRecorder(t *testing.T, opts ...grpc.ServerOption) (*recordingServer, string) {
	t.Helper()
	rs := &recordingServer{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveAnyMethod(t, lis, rs.handle, opts...)
	return rs, lis.Addr().String()
}

// serveAnyMethod serves handle for every method on lis, raw bytes in and
// out, until the test ends.
func serveAnyMethod(t *testing.T, lis net.Listener, handle grpc.StreamHandler, opts ...grpc.ServerOption) {
	t.Helper()
	srv := grpc.NewServer(append(opts, grpc.UnknownServiceHandler(handle), grpc.ForceServerCodecV2(grpcbackend.Codec{}))...)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
}

func TestMetadataBothWays(t *testing.T) {
	rs, addr := startRecorder(t)
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec:
    grpc: {endpoints: ["%s"]}
    timeout: 2s
    headers: [X-Tenant]
services:
  - name: library.v1.LibraryService
    backend: rec
    unannotated: true
`, addr))
	resp := do(t, "POST", tg.http.URL+"/library.v1.LibraryService/Ping", []byte(`{}`), map[string]string{
		"Content-Type":           "application/json",
		"Authorization":          "Bearer abc",
		"X-Tenant":               "acme",
		"Traceparent":            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Grpc-Metadata-Foo":      "bar",
		"Grpc-Metadata-Blob-Bin": base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}),
		"Grpc-Timeout":           "10S",
		"Cookie":                 "session=secret",
		"X-Internal-Secret":      "nope",
		"X-Request-Id":           "meta-test",
	})
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	rs.mu.Lock()
	md, deadline := rs.md, rs.deadline
	rs.mu.Unlock()
	want := map[string]string{
		"authorization": "Bearer abc",
		"x-tenant":      "acme",
		"traceparent":   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"foo":           "bar",
		"blob-bin":      "\xff\x00",
		"x-request-id":  "meta-test",
	}
	for k, v := range want {
		if got := md.Get(k); len(got) != 1 || got[0] != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"cookie", "x-internal-secret"} {
		if got := md.Get(k); len(got) > 0 {
			t.Errorf("metadata %s = %q leaked to the backend", k, got)
		}
	}
	if got := md.Get("x-forwarded-for"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("x-forwarded-for = %q", got)
	}
	if got := md.Get(":authority"); len(got) != 1 || got[0] != addr {
		t.Errorf(":authority = %q, want the endpoint %s", got, addr)
	}
	if deadline <= 0 || deadline > 2*time.Second {
		t.Errorf("backend saw a deadline of %v; want at most the backend's 2s although the client asked 10s", deadline)
	}
	for k, v := range map[string]string{
		"Grpc-Metadata-X-Served-By": "recorder",
		"Grpc-Metadata-Trace-Bin":   base64.StdEncoding.EncodeToString([]byte{0, 1, 2}),
		"Grpc-Metadata-X-Cost":      "3",
	} {
		if got := resp.header.Get(k); got != v {
			t.Errorf("response header %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Grpc-Metadata-Content-Type", "Grpc-Metadata-Grpc-Status"} {
		if got := resp.header.Get(k); got != "" {
			t.Errorf("response header %s = %q: transport metadata leaked", k, got)
		}
	}
	for _, h := range []map[string]string{
		{"Grpc-Metadata-Grpc-Status": "0"},
		{"Grpc-Metadata-Connection": "close"},
		{"Grpc-Metadata-Upgrade": "h2c"},
		{"Grpc-Metadata-X-Request-Id": "spoofed"},
		{"Authorization": "Bearer good", "Grpc-Metadata-Authorization": "Bearer forged"},
		{"Authorization": "Bearer \xe9"},
		{"Grpc-Metadata-Foo": "caf\xc3\xa9"},
		{"Grpc-Metadata-Blob-Bin": "!!!"},
	} {
		h["Content-Type"] = "application/json"
		r := do(t, "POST", tg.http.URL+"/library.v1.LibraryService/Ping", []byte(`{}`), h)
		if r.status != 400 {
			t.Errorf("headers %q: status %d, want 400: %s", h, r.status, r.body)
		}
	}
	// An absurd Grpc-Timeout is no limit, not an overflow into the past.
	if r := do(t, "POST", tg.http.URL+"/library.v1.LibraryService/Ping", []byte(`{}`), map[string]string{"Content-Type": "application/json", "Grpc-Timeout": "99999999H"}); r.status != 200 {
		t.Errorf("Grpc-Timeout 99999999H: status %d, want 200: %s", r.status, r.body)
	}
}
