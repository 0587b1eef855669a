package translate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403,
		codes.ResourceExhausted: 429, codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400,
		codes.Unimplemented: 501, codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500,
		codes.Unauthenticated: 401, codes.Code(99): 500,
	}
	for c, w := range want {
		if got := HTTPStatus(c); got != w {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c, got, w)
		}
	}
}

func TestFromError(t *testing.T) {
	t.Parallel()
	withDetail, _ := status.New(codes.NotFound, "gone").WithDetails(&errdetails.ErrorInfo{Reason: "GONE"})
	tests := []struct {
		give        error
		wantCode    codes.Code
		wantMsg     string
		wantDetails int
	}{
		{context.DeadlineExceeded, codes.DeadlineExceeded, "upstream deadline exceeded", 0},
		{fmt.Errorf("wrapped: %w", context.Canceled), codes.Canceled, "request cancelled", 0},
		{withDetail.Err(), codes.NotFound, "gone", 1},
		{errors.New("dial tcp 10.0.3.7:9090: connection refused"), codes.Internal, "internal error", 0},
		{fmt.Errorf("x: %w", Errorf(codes.Aborted, "busy")), codes.Aborted, "busy", 0},
	}
	for _, tt := range tests {
		got := FromError(tt.give)
		if got.Code != tt.wantCode || got.Message != tt.wantMsg || len(got.Details) != tt.wantDetails {
			t.Errorf("FromError(%v) = %v %q %d details; want %v %q %d", tt.give, got.Code, got.Message, len(got.Details), tt.wantCode, tt.wantMsg, tt.wantDetails)
		}
	}
}

// TestWriteError checks the error bodies against golden files: a known
// detail rendered as JSON, an unknown one as @type and base64, the request
// id as RequestInfo, and a gateway-made status with no exact gRPC code.
func TestWriteError(t *testing.T) {
	t.Parallel()
	unknown := &anypb.Any{TypeUrl: "type.googleapis.com/acme.v1.Mystery", Value: []byte{0x08, 0x2a}}
	tests := []struct {
		name       string
		give       error
		requestID  string
		wantStatus int
	}{
		{"not_found_with_details", Errorf(codes.NotFound, `book "shelves/1/books/9" not found`).WithDetails(
			&errdetails.ErrorInfo{Reason: "BOOK_NOT_FOUND", Domain: "library.example.com"}), "req-1", 404},
		{"unknown_detail", &Error{Code: codes.FailedPrecondition, Message: "odd", Details: []*anypb.Any{unknown}}, "", 400},
		{"too_large", Refuse(ReasonBodyTooLarge, "request body exceeds the limit of %d bytes", 10), "", 413},
		{"bad_request", BadRequest(`invalid value "x" for field "page_size"`, Violation("page_size", "not an integer")), "", 400},
		{"internal_hides_cause", errors.New("dial tcp 10.0.3.7:9090: connection refused"), "", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			WriteError(rec, tt.give, nil, tt.requestID)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			golden(t, filepath.Join("testdata", "error_"+tt.name+".json"), rec.Body.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (-update to accept):\ngot  %s\nwant %s", path, got, want)
	}
}
