package thrift_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

// TestGeneratedClientAgainstMock: Apache's generated Go client talks to the
// mock, so the mock is a stand-in for a real Thrift server, not only for
// the gateway.
func TestGeneratedClientAgainstMock(t *testing.T) {
	t.Parallel()
	prog, err := idl.ParseFile("testdata/interop/interop.thrift", idl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stubs, err := mock.LoadStubs("testdata/interop/stubs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{"binary", "compact"} {
		for _, transport := range []string{"framed", "buffered"} {
			t.Run(proto+"/"+transport, func(t *testing.T) {
				t.Parallel()
				srv, err := thriftmock.New(prog, "Interop", stubs, thriftmock.Options{Protocol: proto, Transport: transport}, nil)
				if err != nil {
					t.Fatal(err)
				}
				lis, _ := net.Listen("tcp", "127.0.0.1:0")
				done := make(chan error, 1)
				go func() { done <- srv.Serve(lis) }()
				defer func() { srv.Stop(); <-done }()

				// Apache's TSocket needs both timeouts set, or a silent
				// server hangs the client.
				cfg := &athrift.TConfiguration{ConnectTimeout: time.Second, SocketTimeout: 5 * time.Second}
				var tf athrift.TTransportFactory = athrift.NewTFramedTransportFactoryConf(athrift.NewTTransportFactory(), cfg)
				if transport == "buffered" {
					tf = athrift.NewTBufferedTransportFactory(8192)
				}
				var pf athrift.TProtocolFactory = athrift.NewTBinaryProtocolFactoryConf(cfg)
				if proto == "compact" {
					pf = athrift.NewTCompactProtocolFactoryConf(cfg)
				}
				trans, err := tf.GetTransport(athrift.NewTSocketConf(lis.Addr().String(), cfg))
				if err != nil {
					t.Fatal(err)
				}
				if err := trans.Open(); err != nil {
					t.Fatal(err)
				}
				defer trans.Close()
				c := gen.NewInteropClientFactory(trans, pf)
				ctx := context.Background()

				if q, err := c.Divide(ctx, 6, 2); err != nil || q != 3 {
					t.Errorf("divide: %v %v", q, err)
				}
				_, err = c.Divide(ctx, 6, 0)
				var io *gen.InvalidOperation
				if !errors.As(err, &io) || io.WhatOp != 1 || io.Why != "division by zero" {
					t.Errorf("divide by zero: %v", err)
				}
				if s, err := c.Ping(ctx); err != nil || s != "pong" {
					t.Errorf("ping: %q %v", s, err)
				}
				e := gen.NewEverything()
				e.Scalars = &gen.Scalars{Large: 1 << 60, Color: gen.Color_BLUE, Hue: gen.Hue(gen.Color_RED), Bin: []byte("b")}
				e.Req = "r"
				e.ByName = map[string]*gen.Point{"a": {X: 1}, "b": {Y: 2}}
				e.Origin = &gen.Point{X: 1, Y: 2}
				got, err := c.Echo(ctx, e)
				if err != nil || !got.Equals(e) {
					t.Errorf("echo: %v %v\nsent %v", got, err, e)
				}
				if err := c.Fire(ctx, "x", 1); err != nil {
					t.Errorf("fire: %v", err)
				}
				var ae athrift.TApplicationException
				if err := c.Touch(ctx, 0); !errors.As(err, &ae) || ae.TypeId() != athrift.UNKNOWN_METHOD {
					t.Errorf("touch 0: %v", err)
				}
				if err := c.Touch(ctx, 1); err != nil {
					t.Errorf("touch 1: %v", err)
				}
			})
		}
	}
}
