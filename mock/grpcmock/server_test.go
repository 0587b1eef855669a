package grpcmock

import (
	"encoding/json"
	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
	"io"
	"log/slog"

	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/mock"
)

const (
	getBook     = "/library.v1.LibraryService/GetBook"
	searchBooks = "/library.v1.LibraryService/SearchBooks"
	listBooks   = "/library.v1.LibraryService/ListBooks"
	createBook  = "/library.v1.LibraryService/CreateBook"
	deleteBook  = "/library.v1.LibraryService/DeleteBook"
)

const testStubs = `
stubs:
  - method: library.v1.LibraryService/GetBook
    match: {name: shelves/1/books/1}
    headers: {x-mock: "yes"}
    trailers: {x-served-by: grpcmock}
    response:
      name: shelves/1/books/1
      title: The Dispossessed
      pageCount: "387"
      copies_sold: "18446744073709551615"
      edition: 1
  - method: /library.v1.LibraryService/GetBook
    match: {name: shelves/9/books/slow}
    delay: 5s
    response: {name: shelves/9/books/slow}
  - method: library.v1.LibraryService.GetBook
    match: {name: shelves/1/books/404}
    headers: {x-error: "yes"}
    error:
      code: NOT_FOUND
      message: book not found
      details:
        - "@type": google.rpc.ErrorInfo
          reason: BOOK_NOT_FOUND
          domain: library.example.com
          metadata: {name: shelves/1/books/404}
  - method: library.v1.LibraryService/SearchBooks
    match: {filter.author.name: Ursula K. Le Guin, pageSize: 5}
    response: {books: [{title: by json name}]}
  - method: library.v1.LibraryService/SearchBooks
    match: {filter.author: {name: Ursula K. Le Guin}, page_size: 0}
    response: {books: [{title: by object}]}
  - method: library.v1.LibraryService/ListBooks
    match: {filter.minPages: 100, filter.genres: [FICTION, SCIENCE]}
    response: {total_size: "1"}
  - method: library.v1.LibraryService/ListBooks
    response: {total_size: "7"}
  - method: library.v1.LibraryService/CreateBook
    response:
      name: shelves/1/books/3
      title: "{{request.book.title}}"
      pageCount: "{{request.book.pageCount}}"
      tags: "{{request.book.tags}}"
      author: "{{request.book.author}}"
  - method: library.v1.LibraryService/DeleteBook
    match: {force: false}
    error: {code: FAILED_PRECONDITION, message: set force}
  - method: library.v1.LibraryService/DeleteBook
    response: {}
`

func TestStubbedResponse(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	r := h.call(context.Background(), t, files, getBook, `{"name":"shelves/1/books/1"}`)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := get(t, r.msg, "title").String(); got != "The Dispossessed" {
		t.Errorf("title = %q", got)
	}
	if got := get(t, r.msg, "page_count").Int(); got != 387 {
		t.Errorf("page_count = %d", got)
	}
	if got := get(t, r.msg, "copies_sold").Uint(); got != math.MaxUint64 {
		t.Errorf("copies_sold = %d", got)
	}
	if got := get(t, r.msg, "edition.value").Int(); got != 1 {
		t.Errorf("edition = %d", got)
	}
	if got := r.header.Get("x-mock"); len(got) != 1 || got[0] != "yes" {
		t.Errorf("header x-mock = %v (all: %v)", got, r.header)
	}
	if got := r.trailer.Get("x-served-by"); len(got) != 1 || got[0] != "grpcmock" {
		t.Errorf("trailer x-served-by = %v (all: %v)", got, r.trailer)
	}
	logs := h.logs.String()
	for _, want := range []string{"method=" + getBook, "code=OK", "matched=true", "stub=0", "stub_source=TestStubbedResponse.yaml:3", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestMatchOnRequestFields(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	ctx := context.Background()
	cases := []struct {
		method, req, want string
	}{
		// Nested path plus a json-named key (pageSize) against an int32.
		{searchBooks, `{"filter":{"author":{"name":"Ursula K. Le Guin"}},"pageSize":5}`, `{"books":[{"title":"by json name"}]}`},
		// An object matches on the keys it lists; page_size: 0 matches an
		// unset int32 because unset fields render as their zero value.
		{searchBooks, `{"filter":{"author":{"name":"Ursula K. Le Guin","country":"US"}}}`, `{"books":[{"title":"by object"}]}`},
		// 100 matches the Int64Value rendered as "100"; enum lists by name.
		{listBooks, `{"filter":{"minPages":"100","genres":["FICTION","SCIENCE"]}}`, `{"total_size":"1"}`},
		{listBooks, `{"filter":{"minPages":"100","genres":["FICTION"]}}`, `{"total_size":"7"}`},
		{listBooks, `{"filter":{"minPages":"101","genres":["FICTION","SCIENCE"]}}`, `{"total_size":"7"}`},
		{deleteBook, `{"name":"x","force":true}`, `{}`},
	}
	for _, c := range cases {
		r := h.call(ctx, t, files, c.method, c.req)
		if r.err != nil {
			t.Errorf("%s %s: %v", c.method, c.req, r.err)
			continue
		}
		if got := jsonOf(t, r.msg); got != c.want {
			t.Errorf("%s %s = %s, want %s", c.method, c.req, got, c.want)
		}
	}
	r := h.call(ctx, t, files, deleteBook, `{"name":"x"}`)
	if status.Code(r.err) != codes.FailedPrecondition {
		t.Errorf("DeleteBook without force: %v", r.err)
	}
}

func TestErrorWithDetails(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	r := h.call(context.Background(), t, files, getBook, `{"name":"shelves/1/books/404"}`)
	st := status.Convert(r.err)
	if st.Code() != codes.NotFound || st.Message() != "book not found" {
		t.Fatalf("status = %v", st)
	}
	ds := st.Details()
	if len(ds) != 1 {
		t.Fatalf("details = %v", ds)
	}
	ei, ok := ds[0].(*errdetails.ErrorInfo)
	if !ok {
		t.Fatalf("detail is %T: %v", ds[0], ds[0])
	}
	if ei.Reason != "BOOK_NOT_FOUND" || ei.Domain != "library.example.com" || ei.Metadata["name"] != "shelves/1/books/404" {
		t.Errorf("ErrorInfo = %v", ei)
	}
	// A bare "@type" gets the prefix other languages' clients require.
	if url := st.Proto().Details[0].TypeUrl; url != "type.googleapis.com/google.rpc.ErrorInfo" {
		t.Errorf("type URL = %q", url)
	}
	if got := r.header.Get("x-error"); len(got) != 1 {
		t.Errorf("headers with an error: %v", r.header)
	}
}

func TestUnmatchedAndUnknown(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	ctx := context.Background()

	r := h.call(ctx, t, files, getBook, `{"name":"shelves/2/books/2"}`)
	if st := status.Convert(r.err); st.Code() != codes.Unimplemented || st.Message() != "no stub matches "+getBook {
		t.Errorf("unmatched: %v", st)
	}
	// A method in the schema without any stub is unmatched too, not unknown.
	r = h.call(ctx, t, files, "/library.v1.LibraryService/Ping", `{}`)
	if st := status.Convert(r.err); st.Code() != codes.Unimplemented || st.Message() != "no stub matches /library.v1.LibraryService/Ping" {
		t.Errorf("no stubs: %v", st)
	}
	for _, m := range []string{"/library.v1.LibraryService/Nope", "/x.Y/Z", "/grpc.health.v1.Health/Nope"} {
		err := h.conn.Invoke(ctx, m, &descriptorpb.FileDescriptorProto{}, &descriptorpb.FileDescriptorProto{})
		if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "unknown method "+m {
			t.Errorf("%s: %v", m, st)
		}
	}
	// Undecodable bytes: a length-delimited field 1 claiming 5 bytes, with 1.
	var out []byte
	err := h.conn.Invoke(ctx, getBook, &[]byte{0x0a, 0x05, 'x'}, &out, grpc.ForceCodecV2(grpcbackend.Codec{}))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "library.v1.GetBookRequest") {
		t.Errorf("bad bytes: %v", st)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "matched=false") || !strings.Contains(logs, "code=UNIMPLEMENTED") {
		t.Errorf("unmatched calls not logged as warnings:\n%s", logs)
	}
}

func TestDelayHonoursDeadline(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	r := h.call(ctx, t, files, getBook, `{"name":"shelves/9/books/slow"}`)
	if status.Code(r.err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED", r.err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("call took %v", d)
	}
	// The handler must give up when the client does, not sleep out its 5s.
	// GracefulStop returns once every handler has (it cancels nothing), so
	// its return is the event; the bound, well short of the 5s delay, only
	// turns a handler that ignores the cancellation into a failure. The
	// harness's cleanup stops the server again, which is harmless.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		h.srv.GracefulStop()
	}()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatalf("handler still sleeping after the client gave up:\n%s", h.logs.String())
	}
	// It logged its call before returning (code from the cancelled context).
	if logs := h.logs.String(); !strings.Contains(logs, "stub=1") {
		t.Errorf("no log line for the delayed call:\n%s", logs)
	}
}

func TestTemplatingEcho(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	r := h.call(context.Background(), t, files, createBook,
		`{"parent":"shelves/1","book":{"title":"Echo","pageCount":"12","tags":["a","b"]}}`)
	if r.err != nil {
		t.Fatal(r.err)
	}
	// author was not sent: its template renders null, i.e. unset.
	want := `{"name":"shelves/1/books/3","title":"Echo","page_count":"12","tags":["a","b"]}`
	if got := jsonOf(t, r.msg); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	stream, err := reflectionv1.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	list := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range list.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if strings.Join(names, ",") != "library.v1.LibraryService" {
		t.Errorf("services = %v", names)
	}
	fileResp := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "library.v1.LibraryService",
	}})
	var paths []string
	for _, b := range fileResp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		var fdp descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(b, &fdp); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, fdp.GetName())
	}
	// The file comes first, with its imports, so a client can link it.
	if len(paths) == 0 || paths[0] != "library/v1/library.proto" || !strings.Contains(strings.Join(paths, ","), "google/api/http.proto") {
		t.Errorf("files = %v", paths)
	}
	// Health is served natively and describable through the fallback.
	health := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "grpc.health.v1.Health",
	}})
	if health.GetErrorResponse() != nil {
		t.Errorf("health not describable: %v", health.GetErrorResponse())
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}

	// v1alpha, still what many tools speak.
	alpha, err := reflectionv1alpha.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alpha.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	aresp, err := alpha.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := aresp.GetListServicesResponse().GetService(); len(got) != 1 || got[0].GetName() != "library.v1.LibraryService" {
		t.Errorf("v1alpha services = %v", got)
	}
	if err := alpha.CloseSend(); err != nil {
		t.Fatal(err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	files := library(t)
	h := start(t, files, testStubs)
	hc := healthgrpc.NewHealthClient(h.conn)
	for _, svc := range []string{"", "library.v1.LibraryService"} {
		resp, err := hc.Check(context.Background(), &healthgrpc.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, resp, err)
		}
	}
	if got := h.srv.Services(); len(got) != 1 || got[0] != "library.v1.LibraryService" {
		t.Errorf("Services() = %v", got)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	files := library(t)
	cases := []struct{ name, yaml, want string }{
		{"unknown method", "stubs:\n  - method: library.v1.LibraryService/GetBok\n",
			"x.yaml:2: stubs[0].method: service library.v1.LibraryService has no method GetBok (it has GetBook, "},
		{"unknown service", "stubs:\n  - method: library.v2.LibraryService/GetBook\n", "no service library.v2.LibraryService in the descriptors"},
		{"native service", "stubs:\n  - method: grpc.health.v1.Health/Check\n", "served by the mock itself"},
		{"bad response field", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    response: {titel: x}\n",
			`x.yaml:3: stubs[0].response: response does not fit library.v1.Book`},
		{"bad response type", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    response: {page_count: lots}\n", "response does not fit library.v1.Book"},
		{"bad enum", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    response: {genre: POETRY}\n", "response does not fit library.v1.Book"},
		{"unknown detail type", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    error:\n      code: NOT_FOUND\n      details: [{\"@type\": google.rpc.Nope}]\n",
			"x.yaml:5: stubs[0].error.details[0]: detail type.googleapis.com/google.rpc.Nope"},
		{"bad detail field", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    error:\n      code: NOT_FOUND\n      details: [{\"@type\": google.rpc.ErrorInfo, reson: X}]\n",
			"error.details[0]"},
		{"bad match path", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    match: {nme: x}\n", `x.yaml:3: stubs[0].match.nme: library.v1.GetBookRequest has no field "nme"`},
		{"match into scalar", "stubs:\n  - method: library.v1.LibraryService/GetBook\n    match: {name.x: x}\n", `name is a string, it has no field "x"`},
		{"bad template path", "stubs:\n  - method: library.v1.LibraryService/CreateBook\n    response: {title: \"{{request.book.titel}}\"}\n", `library.v1.Book has no field "titel"`},
		{"template rest does not fit", "stubs:\n  - method: library.v1.LibraryService/CreateBook\n    response: {title: \"{{request.book.title}}\", nope: 1}\n", "response does not fit library.v1.Book"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stubs, err := mock.ParseStubs([]byte(c.yaml), "x.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(files, nil, stubs, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New error = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
	// Stubs built in Go are validated too.
	_, err := New(files, nil, &mock.Stubs{Stubs: []mock.Stub{{Method: "nodots"}}}, nil)
	if err == nil || err.Error() != `stubs[0].method: method "nodots": want package.Service/Method` {
		t.Errorf("Go stubs not validated: %v", err)
	}
}

// streamingProto has a streaming method, which the library schema lacks,
// and a well-known type as a request.
const streamingProto = `
syntax = "proto3";
package demo.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/wrappers.proto";
service Demo {
  rpc Watch(google.protobuf.Empty) returns (stream google.protobuf.Empty);
  rpc Echo(google.protobuf.StringValue) returns (google.protobuf.StringValue);
}
`

func TestStreamingAndWellKnownRequest(t *testing.T) {
	t.Parallel()
	files := compile(t, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{
		"demo/v1/demo.proto": streamingProto,
	})}, "demo/v1/demo.proto")

	h := start(t, files, "stubs:\n  - method: demo.v1.Demo/Echo\n    response: \"{{request}}\"\n  - method: demo.v1.Demo/Watch\n    stream: [{}, {}]\n")
	ctx := context.Background()
	r := h.call(ctx, t, files, "/demo.v1.Demo/Echo", `"hello"`)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := get(t, r.msg, "value").String(); got != "hello" {
		t.Errorf("echo = %q", got)
	}
	desc := &grpc.StreamDesc{ServerStreams: true}
	cs, err := h.conn.NewStream(ctx, desc, "/demo.v1.Demo/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&descriptorpb.FileDescriptorProto{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// A stub on a streaming method streams (stream_test.go has the rest).
	n := 0
	for {
		err := cs.RecvMsg(&descriptorpb.FileDescriptorProto{})
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("streaming call: %v", err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("streaming call sent %d messages, want 2", n)
	}
}

// The call log: the fields every mock writes, durations as Go durations.
func TestCallLog(t *testing.T) {
	t.Parallel()
	files := library(t)
	stubs, err := mock.ParseStubs([]byte(`stubs:
  - method: library.v1.LibraryService/GetBook
    match: {name: shelves/1/books/1}
    delay: 20ms
    response: {title: The Dispossessed}
  - method: library.v1.LibraryService/GetBook
    error: {code: NOT_FOUND, message: "{{request.name}}"}
`), "log.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startLogged(t, files, stubs, func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) })
	ctx := context.Background()
	h.call(ctx, t, files, getBook, `{"name":"shelves/1/books/1"}`)
	r := h.call(ctx, t, files, getBook, `{"name":"shelves/1/books/2"}`)
	// The error's message is a template too.
	if st := status.Convert(r.err); st.Code() != codes.NotFound || st.Message() != "shelves/1/books/2" {
		t.Errorf("templated error: %v", st)
	}
	h.call(ctx, t, files, "/library.v1.LibraryService/Ping", `{}`)
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 3 {
		t.Fatalf("want 3 records:\n%s", h.logs.String())
	}
	want := []map[string]any{
		{"msg": "grpcmock call", "method": getBook, "code": "OK", "matched": true, "stub": 0.0, "stub_source": "log.yaml:2", "delay": "20ms"},
		{"msg": "grpcmock call", "method": getBook, "code": "NOT_FOUND", "matched": true, "stub": 1.0, "stub_source": "log.yaml:6", "error": "shelves/1/books/2"},
		{"msg": "grpcmock call", "method": "/library.v1.LibraryService/Ping", "code": "UNIMPLEMENTED", "matched": false, "stub": -1.0, "level": "WARN"},
	}
	for i, rec := range recs {
		for k, v := range want[i] {
			if rec[k] != v {
				t.Errorf("record %d: %s = %#v, want %#v", i, k, rec[k], v)
			}
		}
		d, err := time.ParseDuration(rec["duration"].(string))
		if err != nil || d < 0 || i == 0 && d < 20*time.Millisecond {
			t.Errorf("record %d: duration %v: %v", i, rec["duration"], err)
		}
	}
}
