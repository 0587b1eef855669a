package framing

import (
	"bytes"
	"hash/maphash"
	"net/http"
	"sync"
)

// defaultLimit bounds a head the scanner buffers when it does not know the
// server's MaxHeaderBytes. net/http reads at most MaxHeaderBytes+4096 bytes
// for a head, plus up to 4 KiB it had read ahead; the slack covers both, so
// the scanner never refuses a head net/http would take.
const (
	headSlack    = 16 << 10
	defaultLimit = http.DefaultMaxHeaderBytes + headSlack
)

// maxPending bounds the heads read but not yet claimed by Guard. net/http
// reads at most 4 KiB ahead of the request it serves, at least 16 bytes a
// head, so more than this means no Guard is claiming them (a Listener
// without Guard): stop scanning rather than grow.
const maxPending = 1024

type state uint8

const (
	stHead      state = iota // reading a request head
	stBody                   // skipping a Content-Length body
	stChunkSize              // reading a chunk-size line
	stChunkData              // skipping chunk data
	stChunkEnd               // expecting the CRLF after chunk data
	stTrailer                // reading the trailer section after the last chunk
	stStopped                // poisoned or hijacked: nothing more is scanned
)

// scanner follows HTTP/1.1 framing over the bytes net/http reads from one
// connection, judging each request head in turn. It runs inside Read, so by
// the time net/http has parsed the Nth head the scanner has judged it.
type scanner struct {
	mu sync.Mutex

	st             state
	limit          int  // longest head or trailer section
	optionsVisible bool // the server passes OPTIONS * to its handler

	buf     []byte // a head or chunk-size line that spans reads
	n       int    // bytes of the current head or trailer section so far
	lineLen int    // bytes of the current line so far, LF excluded
	lineCR  bool   // the current line starts with CR
	remain  uint64 // bytes left of the body or chunk
	crlf    int    // bytes of the CRLF after chunk data seen so far
	skip    int    // leading CR/LF bytes net/http discards before the next head
	post    bool   // the last head was a POST

	visible int      // good heads the handler will see
	queue   []uint64 // their request-line hashes, not yet claimed
	qhead   int
	served  int // requests Guard has claimed

	poisonAt   int   // 1-based number of the first request to refuse; 0: none
	poisonSelf bool  // that request's own head is the bad one
	poisonErr  error // why
	unverified bool  // Guard and the scanner disagreed: refuse everything

	// trace, for tests, sees each head judged (its request-line hash) and
	// each other problem (hash 0).
	trace func(line uint64, err error)
}

func newScanner() *scanner { return &scanner{limit: defaultLimit} }

// configure adopts the serving http.Server's settings.
func (s *scanner) configure(srv *http.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.optionsVisible = srv.DisableGeneralOptionsHandler
	maxHeader := srv.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = http.DefaultMaxHeaderBytes
	}
	s.limit = maxHeader + headSlack
}

// feed scans bytes just read from the connection.
func (s *scanner) feed(p []byte) {
	s.mu.Lock()
	s.scan(p)
	s.mu.Unlock()
}

func (s *scanner) scan(p []byte) {
	for len(p) > 0 {
		switch s.st {
		case stStopped:
			return

		case stHead:
			// net/http tolerates up to 4 CR/LF after a POST body (old
			// clients sent one) and discards them; so must we.
			for s.skip > 0 && len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
				p = p[1:]
				s.skip--
			}
			if len(p) == 0 {
				return
			}
			s.skip = 0
			end, found := s.findBlank(p)
			s.n += end
			if s.n > s.limit {
				s.fail(ErrHeadTooLarge, true)
				return
			}
			if !found {
				s.keep(p)
				return
			}
			h := p[:end]
			if len(s.buf) > 0 {
				s.keep(h)
				h = s.buf
			}
			s.endHead(h)
			p = p[end:]

		case stBody, stChunkData:
			k := uint64(len(p))
			if k > s.remain {
				k = s.remain
			}
			s.remain -= k
			p = p[k:]
			if s.remain == 0 {
				if s.st == stBody {
					s.toHead()
				} else {
					s.st, s.crlf = stChunkEnd, 0
				}
			}

		case stChunkEnd:
			if p[0] != "\r\n"[s.crlf] {
				s.fail(ErrChunkedBody, false)
				return
			}
			p = p[1:]
			if s.crlf++; s.crlf == 2 {
				s.st = stChunkSize
			}

		case stChunkSize:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				if len(s.buf)+len(p) > maxChunkLine {
					s.fail(ErrChunkedBody, false)
					return
				}
				s.keep(p)
				return
			}
			line := p[:i+1]
			p = p[i+1:]
			if len(s.buf) > 0 {
				if len(s.buf)+len(line) > maxChunkLine {
					s.fail(ErrChunkedBody, false)
					return
				}
				s.keep(line)
				line = s.buf
			}
			size, ok := parseChunkSize(line)
			s.release()
			switch {
			case !ok:
				s.fail(ErrChunkedBody, false)
				return
			case size == 0:
				s.st, s.n, s.lineLen = stTrailer, 0, 0
			default:
				s.st, s.remain = stChunkData, size
			}

		case stTrailer:
			// Trailer fields do not frame anything; only the blank line
			// that ends them matters, found as net/textproto finds it.
			end, found := s.findBlank(p)
			s.n += end
			if s.n > s.limit {
				s.fail(ErrChunkedBody, false)
				return
			}
			p = p[end:]
			if found {
				s.toHead()
			}
		}
	}
}

// findBlank looks in p for the end of the current head or trailer section:
// a line that is empty or a lone CR before its LF, which is where
// net/textproto stops. It returns how much of p belongs to the section.
func (s *scanner) findBlank(p []byte) (end int, found bool) {
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			if s.lineLen == 0 {
				s.lineCR = p[i] == '\r'
			}
			s.lineLen += len(p) - i
			return len(p), false
		}
		total := s.lineLen + j
		startsCR := s.lineCR
		if s.lineLen == 0 && j > 0 {
			startsCR = p[i] == '\r'
		}
		s.lineLen = 0
		i += j + 1
		if total == 0 || total == 1 && startsCR {
			return i, true
		}
	}
	return len(p), false
}

// endHead judges a complete head and sets up the skipping of its body.
func (s *scanner) endHead(b []byte) {
	h, err := parseHead(b)
	s.release()
	if s.trace != nil {
		s.trace(h.line, err)
	}
	seen := !h.options || s.optionsVisible
	if err != nil {
		// Refuse this request if the handler will see it, else the next
		// one: OPTIONS * is answered by net/http itself.
		s.poison(err, seen)
		return
	}
	if seen {
		s.visible++
		s.queue = append(s.queue, h.line)
		if len(s.queue)-s.qhead > maxPending {
			s.fail(ErrTooManyPipelined, false)
			return
		}
	}
	s.post = h.post
	switch {
	case h.chunked:
		s.st = stChunkSize
	case h.length > 0:
		s.st, s.remain = stBody, h.length
	default:
		s.toHead()
	}
}

func (s *scanner) toHead() {
	s.st, s.n, s.lineLen = stHead, 0, 0
	s.skip = 0
	if s.post {
		s.skip = 4
	}
}

// keep appends b to buf without letting buf's capacity pass what a head or
// chunk-size line may take.
func (s *scanner) keep(b []byte) {
	need := len(s.buf) + len(b)
	if need > cap(s.buf) {
		bound := max(s.limit, maxChunkLine)
		c := min(max(2*cap(s.buf), need, 512), bound)
		nb := make([]byte, len(s.buf), c)
		copy(nb, s.buf)
		s.buf = nb
	}
	s.buf = append(s.buf, b...)
}

// release empties buf, dropping it if a long head made it big.
func (s *scanner) release() {
	if cap(s.buf) > 4096 {
		s.buf = nil
	}
	s.buf = s.buf[:0]
}

// fail poisons the connection for a problem found outside a head's lines.
func (s *scanner) fail(err error, self bool) {
	if s.trace != nil {
		s.trace(0, err)
	}
	s.poison(err, self)
}

// poison stops scanning: from the next request the handler sees (or this
// one, if self) every request on the connection is refused. Heads already
// judged good stay claimable.
func (s *scanner) poison(err error, self bool) {
	s.st = stStopped
	s.buf = nil
	if s.poisonAt == 0 {
		s.poisonAt, s.poisonSelf, s.poisonErr = s.visible+1, self, err
	}
}

// claim is Guard's half: the Nth request net/http hands to the handler
// takes the Nth good head, which must have the same request line.
// Anything else (more requests than heads, another line) means the two
// parsers disagree about where requests begin, so nothing on the
// connection can be trusted any more.
func (s *scanner) claim(line uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served++
	if s.unverified {
		return ErrUnverified
	}
	if s.poisonAt != 0 && s.served >= s.poisonAt {
		if s.served == s.poisonAt && s.poisonSelf {
			return s.poisonErr
		}
		return earlier(s.poisonErr)
	}
	if s.qhead == len(s.queue) || s.queue[s.qhead] != line {
		s.unverified = true
		s.poison(ErrUnverified, false)
		return ErrUnverified
	}
	s.qhead++
	if s.qhead == len(s.queue) {
		s.queue, s.qhead = s.queue[:0], 0
	}
	return nil
}

// stop ends scanning for a connection net/http no longer reads requests
// from (hijacked).
func (s *scanner) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poison(errHijacked, false)
}

const errHijacked Error = "connection was hijacked"

// requestLine hashes the request line net/http parsed r from: the same
// bytes, hashed in pieces, give the same hash.
func requestLine(r *http.Request) uint64 {
	var h maphash.Hash
	h.SetSeed(lineSeed)
	_, _ = h.WriteString(r.Method)
	_ = h.WriteByte(' ')
	_, _ = h.WriteString(r.RequestURI)
	_ = h.WriteByte(' ')
	_, _ = h.WriteString(r.Proto)
	return h.Sum64()
}
