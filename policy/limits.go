package policy

import (
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// BodyLimits bound request bodies.
type BodyLimits struct {
	// MaxBody is the most one body may hold once decoded; 0 is no limit.
	MaxBody int64
	// Budget, when set, is charged every body byte as it is read (after
	// decoding) until the request ends; past its limit the read fails
	// with 503. Routes charge it for what bodies decode into too.
	Budget *Budget
}

type tabKey struct{}

// TabFrom is the request's account with the body budget, or nil.
func TabFrom(ctx context.Context) *Tab {
	if f, ok := ctx.Value(factsKey{}).(*facts); ok && f.tab != nil {
		return f.tab
	}
	t, _ := ctx.Value(tabKey{}).(*Tab)
	return t
}

// Limits rejects requests whose body is too large before any route work is
// done, decodes gzip and deflate bodies, and caps the body of the rest so a
// handler reading it gets *http.MaxBytesError at MaxBody of decoded bytes
// (a gzip bomb is a 413 like any other large body).
//
// A request with both Content-Length and Transfer-Encoding cannot be refused
// here: net/http deletes the Content-Length header before a handler runs;
// policy/framing refuses it below net/http.
func Limits(l BodyLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Content-Length")) > 1 {
			translate.Fail(w, r, translate.Errorf(codes.InvalidArgument, "request has several Content-Length headers"), nil)
			return
		}
		decode, err := bodyDecoder(r.Header.Values("Content-Encoding"))
		if err != nil {
			translate.Fail(w, r, err, nil)
			return
		}
		// A stream of NDJSON messages is bounded per message and per
		// route, not as one body: its length is the route's to judge.
		upload := translate.IsNDJSONMediaType(r.Header.Get("Content-Type"))
		if upload {
			r = r.WithContext(context.WithValue(r.Context(), streamBodyKey{}, &streamBody{raw: r.Body, decode: decode}))
		}
		if l.MaxBody > 0 && r.ContentLength > l.MaxBody && !upload {
			// Say no before reading: the client learns at once and the
			// connection is closed rather than drained.
			w.Header().Set("Connection", "close")
			translate.Fail(w, r, translate.Refuse(translate.ReasonBodyTooLarge,
				"request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, l.MaxBody), nil)
			return
		}
		if decode != nil {
			body := r.Body
			if l.MaxBody > 0 {
				body = http.MaxBytesReader(w, body, l.MaxBody)
			}
			r.Body = &lazyDecoder{src: body, decode: decode}
			// What the handler reads is no longer encoded, nor of the
			// declared length.
			r.Header.Del("Content-Encoding")
			r.Header.Del("Content-Length")
			r.ContentLength = -1
		}
		if l.MaxBody > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, l.MaxBody)
		}
		if tab := l.Budget.Open(); tab != nil {
			defer tab.Close()
			if hasBody(r) {
				r.Body = Meter(r.Body, tab)
			}
			if f, ok := r.Context().Value(factsKey{}).(*facts); ok {
				// Behind the global policy: the request's facts carry
				// the tab, with no context (and request copy) of its own;
				// the latest one opened is the one TabFrom finds.
				prev := f.tab
				f.tab = tab
				defer func() { f.tab = prev }()
			} else {
				r = r.WithContext(context.WithValue(r.Context(), tabKey{}, tab))
			}
		}
		next.ServeHTTP(w, r)
	})
}

type streamBodyKey struct{}

// streamBody is a streamed upload's body before the one-body limit and
// the body budget: a stream holds one message at a time, however long.
type streamBody struct {
	raw    io.ReadCloser
	decode decoderFunc
}

// StreamBody is the body of a request that streams messages (an NDJSON
// upload), decoded, bounded at max bytes in all (0: no bound) instead of
// the one-body limit. It is charged to the body budget as it is read; its
// reader holds one message at a time, and gives back what a message took
// (TabFrom(ctx).Close) once it is sent. Without Limits in front, it is
// r.Body.
func StreamBody(w http.ResponseWriter, r *http.Request, max int64) io.ReadCloser {
	sb, ok := r.Context().Value(streamBodyKey{}).(*streamBody)
	if !ok || sb.raw == nil {
		return r.Body
	}
	body := sb.raw
	if sb.decode != nil {
		body = &lazyDecoder{src: body, decode: sb.decode}
	}
	if max > 0 {
		body = http.MaxBytesReader(w, body, max)
	}
	return Meter(body, TabFrom(r.Context()))
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

type decoderFunc func(io.Reader) (io.ReadCloser, error)

// bodyDecoder is the decoder for a request's Content-Encoding: nil for
// none or identity; 415 for anything but one gzip or deflate.
func bodyDecoder(values []string) (decoderFunc, error) {
	var codings []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return nil, nil
	case len(codings) > 1:
		return nil, translate.Refuse(translate.ReasonUnsupportedMediaType,
			"request body has several content codings (%s); send one of gzip or deflate", strings.Join(codings, ", "))
	}
	switch codings[0] {
	case "gzip", "x-gzip":
		return func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }, nil
	case "deflate":
		return func(r io.Reader) (io.ReadCloser, error) { return zlib.NewReader(r) }, nil
	}
	return nil, translate.Refuse(translate.ReasonUnsupportedMediaType,
		"unsupported Content-Encoding %q: send gzip, deflate or identity", codings[0])
}

// lazyDecoder starts decoding on the first Read, so that a malformed
// stream is an error of reading the body (a 400 naming it), on the
// handler's goroutine, only if the route reads a body at all.
type lazyDecoder struct {
	src    io.ReadCloser
	decode decoderFunc
	dec    io.ReadCloser
	err    error
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.dec == nil && d.err == nil {
		d.dec, d.err = d.decode(d.src)
	}
	if d.err != nil {
		return 0, d.err
	}
	return d.dec.Read(p)
}

func (d *lazyDecoder) Close() error {
	if d.dec != nil {
		_ = d.dec.Close()
	}
	return d.src.Close()
}
