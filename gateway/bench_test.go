package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/descriptors"
)

// BenchmarkUnary measures GetBook through the gateway (HTTP/JSON in, gRPC
// out, JSON back) beside the same call made directly with a gRPC client
// against the same mock backend, in one run, so the ratio is the gateway's
// cost. Compare the two with benchstat or by eye: ns/op and allocs/op.
func BenchmarkUnary(b *testing.B) {
	mockAddr := startMock(b, "library.pb", "library.yaml")
	tg := startGateway(b, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`, mockAddr))

	b.Run("direct_grpc", func(b *testing.B) {
		fds, err := descriptors.ReadSetFile(root + "/library.pb")
		if err != nil {
			b.Fatal(err)
		}
		set, err := descriptors.NewSet("library", "", descriptors.Source{}, fds)
		if err != nil {
			b.Fatal(err)
		}
		d, err := set.Files.FindDescriptorByName("library.v1.LibraryService.GetBook")
		if err != nil {
			b.Fatal(err)
		}
		md := d.(protoreflect.MethodDescriptor)
		conn, err := grpc.NewClient(mockAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		nameField := md.Input().Fields().ByName("name")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := dynamicpb.NewMessage(md.Input())
			req.Set(nameField, protoreflect.ValueOfString("shelves/1/books/1"))
			resp := dynamicpb.NewMessage(md.Output())
			if err := conn.Invoke(context.Background(), "/library.v1.LibraryService/GetBook", req, resp); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("gateway_rest", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		defer client.CloseIdleConnections()
		url := tg.http.URL + "/v1/shelves/1/books/1"
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
