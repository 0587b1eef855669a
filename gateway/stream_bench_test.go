package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Messages per second through a server stream: BenchmarkServerStreamNDJSON
// reads stream.v1.Ticker/Watch through the gateway as NDJSON (gRPC in,
// one JSON line per message out), BenchmarkServerStreamDirect reads the
// same stream from the same kind of backend with a grpc-go client that
// decodes each message. Each op is one message: ns/op and allocs/op are
// per message (gateway, backend and client all in this process), and
// msgs/s is reported beside them. Run both in one go:
//
//	go test -run '^$' -bench ServerStream -benchmem -count 3 ./gateway/

// startBenchTicker serves a Watch that sends ?at= small ticks as fast as
// flow control lets it, then ends well.
func startBenchTicker(b *testing.B) string {
	b.Helper()
	return startTickerBackend(b, tickerMethods{watch: func(req []byte, s grpc.ServerStream) error {
		n, _, _ := tickFields(req)
		for i := range n {
			msg := tickWire(i+1, "tick")
			if err := s.SendMsg(&msg); err != nil {
				return err
			}
		}
		return nil
	}})
}

func BenchmarkServerStreamNDJSON(b *testing.B) {
	tg := tickerGateway(b, startBenchTicker(b), "", "")
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest("GET", fmt.Sprintf("%s/v1/ticks?at=%d", tg.http.URL, b.N), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	b.ReportAllocs()
	b.ResetTimer()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		b.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil {
			b.Fatalf("after %d messages: %v", n, err)
		}
		if !bytes.HasPrefix(line, []byte(`{"result":`)) {
			b.Fatalf("after %d messages: %s", n, line)
		}
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("%d messages, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkServerStreamDirect(b *testing.B) {
	addr := startBenchTicker(b)
	md := methodDescriptor(b, "stream.pb", "stream.v1.Ticker.Watch")
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	in := dynamicpb.NewMessage(md.Input())
	in.Set(md.Input().Fields().ByName("at"), protoreflect.ValueOfInt64(int64(b.N)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/stream.v1.Ticker/Watch")
	if err != nil {
		b.Fatal(err)
	}
	if err := cs.SendMsg(in); err != nil {
		b.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		out := dynamicpb.NewMessage(md.Output()) // as a generated client's Recv allocates each
		err := cs.RecvMsg(out)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatalf("after %d messages: %v", n, err)
		}
		n++
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("%d messages, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
