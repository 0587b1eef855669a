package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
	// Reason picks the HTTP status of an error the gateway makes itself
	// where no gRPC code maps to the right one (405, 413, 415, 502), from
	// one small table; the zero value means the status follows Code.
	Reason Reason
	// Header holds response headers to send with the error, such as the
	// backend's Grpc-Metadata-* headers. May be nil.
	Header http.Header

	// What a backend reports about a failed call: facts, never an HTTP
	// status. The shared layer decides status, retries, breaker
	// accounting and metrics from them, the same way for every protocol.

	// Application says the backend's application answered with this
	// outcome (a gRPC status from the server, a declared Thrift
	// exception, a NATS micro error): the transport worked.
	Application bool
	// DeclaredStatus is the HTTP status the application itself declared
	// for an Application outcome: a Thrift exception's configured or
	// annotated status, a NATS micro error code, a JetStream API error
	// code. 0 means none; it is only honoured on Application outcomes.
	DeclaredStatus int
	// FromServer says something came back from the upstream server before
	// the call failed; false means the failure was on the gateway's side
	// of the wire (refused connection, closed client, local deadline).
	FromServer bool
	// Retryable says the request provably never reached the upstream
	// application (no connection could be made, no responder took the
	// message), so sending it again cannot repeat a side effect.
	Retryable bool
	// BackendHealthy says the failure is about this request, not the
	// backend's health (no responder on this request's NATS subject): the
	// breaker must not count it, or one client could open it for everyone.
	BackendHealthy bool
	// Endpoint is the upstream address the failed attempt went to, when
	// the backend knows it, for logs.
	Endpoint string
}

// Reason names an error the gateway makes itself whose HTTP status no
// gRPC code gives.
type Reason uint8

const (
	ReasonNone                 Reason = iota
	ReasonMethodNotAllowed            // 405: the path exists, the method does not
	ReasonBodyTooLarge                // 413: over the body or message limit
	ReasonUnsupportedMediaType        // 415: not a media type the route takes
	ReasonHeadersTooLarge             // 431
	ReasonBadGateway                  // 502: the backend's reply is invalid
	ReasonRequestTimeout              // 408: the client did not send its request in time
	ReasonNotAcceptable               // 406: the client accepts none of the route's media types
	ReasonUpgradeRequired             // 426: the route streams both ways: it needs a WebSocket
)

var reasonStatus = [...]int{
	ReasonMethodNotAllowed:     http.StatusMethodNotAllowed,
	ReasonBodyTooLarge:         http.StatusRequestEntityTooLarge,
	ReasonUnsupportedMediaType: http.StatusUnsupportedMediaType,
	ReasonHeadersTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
	ReasonBadGateway:           http.StatusBadGateway,
	ReasonRequestTimeout:       http.StatusRequestTimeout,
	ReasonNotAcceptable:        http.StatusNotAcceptable,
	ReasonUpgradeRequired:      http.StatusUpgradeRequired,
}

var reasonCode = [...]codes.Code{
	ReasonMethodNotAllowed:     codes.Unimplemented,
	ReasonBodyTooLarge:         codes.InvalidArgument,
	ReasonUnsupportedMediaType: codes.InvalidArgument,
	ReasonHeadersTooLarge:      codes.InvalidArgument,
	ReasonBadGateway:           codes.Internal,
	ReasonRequestTimeout:       codes.DeadlineExceeded,
	ReasonNotAcceptable:        codes.InvalidArgument,
	ReasonUpgradeRequired:      codes.FailedPrecondition,
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
//
// Both are made valid UTF-8 (a parameter name can be anything a client
// sent), or the detail could not be packed and would be lost.
func Violation(field, description string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: strings.ToValidUTF8(field, "\uFFFD"),
		Description: strings.ToValidUTF8(description, "\uFFFD")}
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

// Status is the HTTP status the error is written with: the status an
// application declared, else its reason's, else the canonical mapping of
// its code.
func (e *Error) Status() int {
	if e.Application && e.DeclaredStatus >= 400 && e.DeclaredStatus <= 599 {
		return e.DeclaredStatus
	}
	if int(e.Reason) < len(reasonStatus) && reasonStatus[e.Reason] != 0 {
		return reasonStatus[e.Reason]
	}
	return HTTPStatus(e.Code)
}

// Refuse is an error the gateway makes itself for a reason whose status
// no gRPC code gives; its code comes from the same table.
func Refuse(reason Reason, format string, args ...any) *Error {
	return &Error{Code: reasonCode[reason], Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Declared is an application's error with the HTTP status it declared (a
// Thrift exception's, a NATS micro error's); its gRPC code is the one that
// status maps to.
func Declared(status int, message string) *Error {
	return &Error{Code: CodeForHTTPStatus(status), DeclaredStatus: status, Application: true, Message: message}
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

// CodeForHTTPStatus maps an HTTP status (one an application declared, or
// one an admin endpoint answers) to the gRPC code its error body carries.
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
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusInternalServerError:
		return codes.Internal
	}
	return codes.Unknown
}
