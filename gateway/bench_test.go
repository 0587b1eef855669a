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
	"github.com/switchboard-gw/switchboard/policy/idp"
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
		md := methodDescriptor(b, "library.pb", "library.v1.LibraryService.GetBook")
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

// BenchmarkPolicy measures one GetBook through a route guarded by an
// authenticated (JWT, key cached), authorized and rate-limited policy,
// beside the same call on a route with no policy, in one run: the
// difference is what the policy stage costs per request.
func BenchmarkPolicy(b *testing.B) {
	mockAddr := startMock(b, "library.pb", "library.yaml")
	provider, err := idp.New(idp.Options{Algorithm: "ES256"})
	if err != nil {
		b.Fatal(err)
	}
	if err := provider.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = provider.Close() })
	tg := startGatewayWith(b, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
policies:
  members:
    authenticate:
      jwt: {issuer: "%s", audiences: [library], algorithms: [ES256]}
      api_keys: {keys: [{name: ci, sha256: %s, scopes: [library.read]}]}
    require: {scopes: [library.read]}
    forward: {subject: X-User-Id}
    rate_limit: {rate: 1000000, per: 1s, burst: 1000000, key: subject}
routes:
  - {get: "/v1/open/{name=shelves/*/books/*}", backend: library, grpc: library.v1.LibraryService/GetBook}
  - {get: "/v1/guarded/{name=shelves/*/books/*}", backend: library, grpc: library.v1.LibraryService/GetBook, policy: members}
`, mockAddr, provider.Issuer(), sha(ciKey)))
	tok, err := provider.Mint(map[string]any{"sub": "bench", "aud": "library", "scope": "library.read"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		header     map[string]string
	}{
		{"no_policy", "/v1/open/shelves/1/books/1", nil},
		{"jwt_scope_ratelimit", "/v1/guarded/shelves/1/books/1", map[string]string{"Authorization": "Bearer " + tok}},
		{"apikey_scope_ratelimit", "/v1/guarded/shelves/1/books/1", map[string]string{"X-Api-Key": ciKey}},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			req, err := http.NewRequest("GET", tg.http.URL+c.path, nil)
			if err != nil {
				b.Fatal(err)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := client.Do(req)
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
}

// methodDescriptor is the method name of the descriptor set pb in
// testdata, for a client that calls it directly.
func methodDescriptor(tb testing.TB, pb, name string) protoreflect.MethodDescriptor {
	tb.Helper()
	fds, err := descriptors.ReadSetFile(root + "/" + pb)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := descriptors.NewSet(pb, "", descriptors.Source{}, fds)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := set.Files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		tb.Fatal(err)
	}
	return d.(protoreflect.MethodDescriptor)
}
