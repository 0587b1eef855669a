package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error is the one error model of the gateway: a gRPC code, a message that is
// safe to show clients, optional details, and the cause, which is logged but
// never sent.
type Error struct {
	Code    codes.Code
	Message string
	Details []*anypb.Any
	// JSONDetails are details with no protobuf type (a Thrift exception,
	// say), each a JSON object with an "@type" key, rendered after Details.
	JSONDetails []json.RawMessage
	Cause       error
	// BackendHealthy says the failure is about this request, not the
	// backend's health (no responder on this request's NATS subject): the
	// breaker must not count it, or one client could open it for everyone.
	BackendHealthy bool
	// HTTPStatus overrides the status derived from Code, for errors the
	// gateway makes itself (405, 413, 415) that have no exact gRPC code.
	HTTPStatus int
	// Header holds response headers to send with the error, such as the
	// backend's Grpc-Metadata-* headers. May be nil.
	Header http.Header
}

var _ interface{ GRPCStatus() *status.Status } = (*Error)(nil)

// Errorf builds an Error whose message is shown to the client.
func Errorf(code codes.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// GRPCStatus lets grpc-go and status.FromError understand an Error.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.Code, e.Message)
	if len(e.Details) == 0 {
		return st
	}
	p := st.Proto()
	p.Details = e.Details
	return status.FromProto(p)
}

// WithDetails appends details; messages that cannot be packed are skipped,
// as a missing detail is better than a failed error response.
func (e *Error) WithDetails(msgs ...proto.Message) *Error {
	for _, m := range msgs {
		if a, err := anypb.New(m); err == nil {
			e.Details = append(e.Details, a)
		}
	}
	return e
}

// BadRequest is an INVALID_ARGUMENT error carrying google.rpc.BadRequest
// field violations, the shape clients can act on field by field.
func BadRequest(message string, violations ...*errdetails.BadRequest_FieldViolation) *Error {
	e := &Error{Code: codes.InvalidArgument, Message: message}
	if len(violations) > 0 {
		e.WithDetails(&errdetails.BadRequest{FieldViolations: violations})
	}
	return e
}

// Violation is shorthand for one BadRequest field violation.
func Violation(field, description string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
}

// FromError maps any error to an *Error. Context errors become CANCELLED or
// DEADLINE_EXCEEDED, gRPC statuses keep their code, message and details, and
// anything else becomes INTERNAL with a generic message and the original as
// the cause.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: codes.DeadlineExceeded, Message: "upstream deadline exceeded", Cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: codes.Canceled, Message: "request cancelled", Cause: err}
	}
	if st, ok := status.FromError(err); ok {
		p := st.Proto()
		return &Error{Code: st.Code(), Message: p.GetMessage(), Details: p.GetDetails(), Cause: err}
	}
	return &Error{Code: codes.Internal, Message: "internal error", Cause: err}
}

// Status is the HTTP status the error is written with.
func (e *Error) Status() int {
	if e.HTTPStatus != 0 {
		return e.HTTPStatus
	}
	return HTTPStatus(e.Code)
}

// HTTPError is an error the gateway makes itself with an explicit HTTP status.
func HTTPError(httpStatus int, format string, args ...any) *Error {
	return &Error{Code: CodeForHTTPStatus(httpStatus), HTTPStatus: httpStatus, Message: fmt.Sprintf(format, args...)}
}

// HTTPStatus is the canonical gRPC-to-HTTP mapping (google/rpc/code.proto),
// the one grpc-gateway and Envoy use.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // client closed request
	case codes.Unknown:
		return http.StatusInternalServerError
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Aborted:
		return http.StatusConflict
	case codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Internal:
		return http.StatusInternalServerError
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DataLoss:
		return http.StatusInternalServerError
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// CodeForHTTPStatus maps a status the gateway itself produces (404 no route,
// 405, 413, 415, ...) to the gRPC code its error body carries.
func CodeForHTTPStatus(s int) codes.Code {
	switch s {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusRequestHeaderFieldsTooLarge, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}
