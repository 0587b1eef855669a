package framing

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is why a request head (or the framing of the connection it came on)
// was refused. It reports INVALID_ARGUMENT through GRPCStatus, so the
// gateway's error writer renders it as a 400 without a mapping of its own.
type Error string

func (e Error) Error() string { return string(e) }

// GRPCStatus makes the error an INVALID_ARGUMENT status for status.FromError.
func (e Error) GRPCStatus() *status.Status { return status.New(codes.InvalidArgument, string(e)) }

// The problems a head can have. The smuggling ones come first; the rest are
// malformed heads net/http mostly refuses by itself, refused here too so the
// scanner never has to guess where such a head's body ends.
const (
	ErrBothLengths      Error = "request has both Content-Length and Transfer-Encoding"
	ErrTEInHTTP10       Error = "Transfer-Encoding is not allowed in HTTP/1.0"
	ErrTENotChunked     Error = "Transfer-Encoding does not end in chunked"
	ErrChunkedTwice     Error = "Transfer-Encoding lists chunked more than once"
	ErrTEEmpty          Error = "Transfer-Encoding names no coding"
	ErrContentLengths   Error = "request has several Content-Length headers with different values"
	ErrContentLength    Error = "Content-Length is not a single decimal number"
	ErrObsFold          Error = "request head uses obsolete line folding"
	ErrNameSpace        Error = "header name has whitespace before the colon"
	ErrHeaderName       Error = "header name is not a token"
	ErrNoColon          Error = "header line has no colon"
	ErrBareCR           Error = "request head contains a bare CR"
	ErrRequestLine      Error = "malformed request line"
	ErrVersion          Error = "unsupported HTTP version"
	ErrHeadTooLarge     Error = "request head is too large"
	ErrChunkedBody      Error = "malformed chunked body"
	ErrTooManyPipelined Error = "too many pipelined requests"
	ErrEarlier          Error = "an earlier request on this connection was malformed"
	ErrUnverified       Error = "request framing could not be verified"
)

// earlier is the refusal of a request that came after the one that
// poisoned its connection.
func earlier(err error) error { return fmt.Errorf("%w: %w", ErrEarlier, err) }

// head is what the scanner needs from a good head: where its body ends and
// how net/http will treat it.
type head struct {
	length  uint64 // body length when neither chunked nor empty
	chunked bool
	post    bool   // net/http skips up to 4 CR/LF after a POST's body
	options bool   // OPTIONS *: answered by net/http, never by the handler
	line    uint64 // hash of the request line, to match the *http.Request
}

// CheckHead returns the problem of one raw request head, or nil. head is
// the request line and header lines up to and including the blank line that
// ends them; bytes after that blank line are ignored, and a head without one
// ends where head does.
func CheckHead(head []byte) error {
	_, err := parseHead(head)
	return err
}

// parseHead splits lines the way net/textproto does (at LF, dropping one CR
// before it), so that for every head it accepts, net/http sees the same
// lines and the same framing headers.
func parseHead(b []byte) (h head, err error) {
	line, b := nextLine(b)
	if bytes.IndexByte(line, '\r') >= 0 {
		return h, ErrBareCR
	}
	// net/http: method SP request-target SP version, split at the first two
	// spaces; whatever follows the second is the version.
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 {
		return h, ErrRequestLine
	}
	h.line = hashLine(line)
	h.post = string(method) == "POST"
	h.options = string(method) == "OPTIONS" && string(target) == "*"
	major, minor, ok := parseVersion(proto)
	if !ok || major != 1 {
		// HTTP/0.x and HTTP/2+ are refused by net/http, except the h2c
		// preface PRI * HTTP/2.0, after which the bytes are not HTTP/1.
		return h, ErrVersion
	}

	var (
		cl          []byte // first Content-Length value
		te          bool
		codings     int
		chunkeds    int
		lastChunked bool
	)
	for len(b) > 0 {
		line, b = nextLine(b)
		if len(line) == 0 {
			break // the blank line that ends the head
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return h, ErrBareCR
		}
		if line[0] == ' ' || line[0] == '\t' {
			// textproto joins a folded line to the one before; a front
			// end may not, and so read different headers.
			return h, ErrObsFold
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return h, ErrNoColon
		}
		if err := checkName(name); err != nil {
			return h, err
		}
		value = trimOWS(value)
		switch {
		case equalFold(name, "content-length"):
			if !isDigits(value) {
				// Also "5, 5": RFC 9110 §8.6 lets a recipient reject
				// a list, net/http does, and accepting it would mean
				// picking a value for net/http.
				return h, ErrContentLength
			}
			if cl == nil {
				cl = value
			} else if !bytes.Equal(cl, value) {
				// Identical copies are accepted, as net/http does;
				// they frame the same body either way.
				return h, ErrContentLengths
			}
		case equalFold(name, "transfer-encoding"):
			te = true
			for len(value) > 0 {
				var c []byte
				c, value, _ = bytes.Cut(value, []byte{','})
				c = trimOWS(c)
				if len(c) == 0 {
					continue // empty list elements are allowed and mean nothing
				}
				codings++
				lastChunked = equalFold(c, "chunked")
				if lastChunked {
					chunkeds++
				}
			}
		}
	}

	switch {
	case te && cl != nil:
		// net/http would drop Content-Length and read chunked; a front end
		// that used Content-Length would see another request in the body.
		return h, ErrBothLengths
	case te && minor == 0:
		// net/http ignores Transfer-Encoding in HTTP/1.0, so the chunked
		// body would be read as the next request.
		return h, ErrTEInHTTP10
	case te && codings == 0:
		return h, ErrTEEmpty
	case chunkeds > 1:
		return h, ErrChunkedTwice
	case te && !lastChunked:
		return h, ErrTENotChunked
	case te:
		h.chunked = true
	case cl != nil:
		n, ok := parseDecimal(cl)
		if !ok {
			return h, ErrContentLength
		}
		h.length = n
	}
	return h, nil
}

// nextLine returns the line at the start of b without its LF and the one CR
// before it, and the rest of b.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		line, rest = b, nil
	} else {
		line, rest = b[:i], b[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func checkName(name []byte) error {
	if len(name) == 0 {
		return ErrHeaderName
	}
	for _, c := range name {
		if c == ' ' || c == '\t' {
			// net/http keeps "Transfer-Encoding :" as a different header
			// than "Transfer-Encoding"; a front end may trim it.
			return ErrNameSpace
		}
		if !isTchar(c) {
			return ErrHeaderName
		}
	}
	return nil
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool { return tchar[c] }

var tchar = func() (t [256]bool) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = true
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// equalFold compares ASCII letters without case. Unicode folding would be
// wrong here: net/http matches names byte by byte, and strings.EqualFold
// equates "ſ" (U+017F) with "s".
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseDecimal parses digits as net/http does (strconv.ParseUint(s, 10, 63)).
func parseDecimal(b []byte) (uint64, bool) {
	const maxLen = 1<<63 - 1
	var n uint64
	for _, c := range b {
		if n > (maxLen-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// parseVersion is net/http's ParseHTTPVersion: exactly "HTTP/d.d".
func parseVersion(v []byte) (major, minor int, ok bool) {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' {
		return 0, 0, false
	}
	if v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// maxChunkLine is the longest chunk-size line, CRLF included, that net/http
// reads: it must fit its 4 KiB bufio.Reader.
const maxChunkLine = 4096

// parseChunkSize mirrors net/http's chunk-size line parsing (readChunkLine,
// trimTrailingWhitespace, removeChunkExtension, parseHexUint): line ends in
// CRLF with no other CR, extensions after ';' are ignored, and the size is
// 1 to 16 hex digits. Being exactly as lenient keeps the scanner in step.
func parseChunkSize(line []byte) (uint64, bool) {
	if i := bytes.IndexByte(line, '\r'); len(line) > maxChunkLine || i < 0 || i != len(line)-2 {
		return 0, false
	}
	p := line[:len(line)-2]
	for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
		p = p[:len(p)-1]
	}
	p, _, _ = bytes.Cut(p, []byte{';'})
	if len(p) == 0 || len(p) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range p {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// lineSeed seeds the request-line hash. maphash rather than a byte-at-a-
// time hash: the line is hashed twice per request, and this is the hot path.
var lineSeed = maphash.MakeSeed()

// hashLine hashes a request line, to match it with the *http.Request
// net/http made of it.
func hashLine(line []byte) uint64 { return maphash.Bytes(lineSeed, line) }
