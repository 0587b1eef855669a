package policy

import (
	"io"
	"sync/atomic"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Budget bounds the memory that request bodies hold across the gateway:
// the bytes received so far, and what they decode into. A request takes
// from it as bytes arrive, not what it declares, so a client trickling a
// large body holds only what it has sent; all it took comes back when it
// ends.
type Budget struct {
	limit int64
	used  atomic.Int64
	name  string // the config key, for messages
}

// NewBudget is a budget of limit bytes; 0 or less is none (nil).
func NewBudget(limit int64, name string) *Budget {
	if limit <= 0 {
		return nil
	}
	return &Budget{limit: limit, name: name}
}

// Take takes n bytes, or refuses with 503 and Retry-After when the budget
// would go past its limit.
func (b *Budget) Take(n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		e := translate.Errorf(codes.Unavailable,
			"the gateway holds its limit of %d bytes of request bodies (%s); retry shortly", b.limit, b.name)
		e.Header = map[string][]string{"Retry-After": {"1"}}
		return e
	}
	return nil
}

// Give returns n bytes.
func (b *Budget) Give(n int64) {
	if b != nil && n > 0 {
		b.used.Add(-n)
	}
}

// Used is what is taken now, for tests and metrics.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Tab is one request's account with a budget.
type Tab struct {
	b     *Budget
	taken atomic.Int64
}

// Take takes n for the request.
func (t *Tab) Take(n int64) error {
	if t == nil {
		return nil
	}
	if err := t.b.Take(n); err != nil {
		return err
	}
	t.taken.Add(n)
	return nil
}

// Close gives back all the request took.
func (t *Tab) Close() {
	if t != nil {
		t.b.Give(t.taken.Swap(0))
	}
}

// Open opens a tab for one request; nil budget, nil tab.
func (b *Budget) Open() *Tab {
	if b == nil {
		return nil
	}
	return &Tab{b: b}
}

// meteredBody takes from a tab as bytes are read.
type meteredBody struct {
	io.ReadCloser
	tab *Tab
}

func (m *meteredBody) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	if n > 0 {
		if terr := m.tab.Take(int64(n)); terr != nil {
			return 0, terr
		}
	}
	return n, err
}

// Meter charges tab for every byte read from body.
func Meter(body io.ReadCloser, tab *Tab) io.ReadCloser {
	if tab == nil {
		return body
	}
	return &meteredBody{ReadCloser: body, tab: tab}
}
