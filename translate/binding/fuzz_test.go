package binding

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// FuzzRequest feeds arbitrary bodies, query strings and path values to a
// set of rules covering each body mode, strictness and the query binder.
// Request must never panic, every error must be a client error (400, or 415
// for the content type), and every success must decode as the input type.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(realisticBook), "book_id=b1", "shelves/1")
	f.Add([]byte(`{"title":"x","bogus":{"a":[1,2]}}`), "update_mask=title,author.name", "shelves/1/books/2")
	f.Add([]byte(`[1,"2",null]`), "filter.labels[env]=prod&filter.genres=2&page_size=5", "-9")
	f.Add([]byte(`{"self":{"self":{"any":{"@type":"type.googleapis.com/bindingtest.v1.Inner","x":"a"}}}}`), "cursor=AQID&tags=a&tags=b", "x")
	f.Add([]byte(``), "filter.published_after=2020-01-01T00:00:00Z&filter.max_age=1.5s&filter.min_pages=100", "")
	f.Add([]byte(`null`), "%zz&a=%&b", "\xff")
	f.Fuzz(func(t *testing.T, body []byte, rawQuery, pathValue string) {
		s := loadSchema(t)
		query, _ := url.ParseQuery(rawQuery) // keep what parses, as net/http does
		built := make([]proto.Message, len(fuzzRules(t)))
		for i, fr := range fuzzRules(t) {
			r, b := fr.rule, fr.binding
			var ps routes.Params
			for _, p := range b.path {
				ps = append(ps, routes.Param{FieldPath: p, Value: pathValue})
			}
			got, err := r.Request(ps, query, body, "application/json")
			if err != nil {
				var e *translate.Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: error %T is not a *translate.Error: %v", b.method, err, err)
				}
				if e.Code != codes.InvalidArgument || (e.Status() != 400 && e.Status() != 415) {
					t.Fatalf("%s: error %v has status %d; want INVALID_ARGUMENT 400 or 415", b.method, e, e.Status())
				}
				continue
			}
			m := dynamicpb.NewMessage(r.Input())
			if err := (proto.UnmarshalOptions{Resolver: s.res}).Unmarshal(got, m); err != nil {
				t.Fatalf("%s: built request does not decode: %v", b.method, err)
			}
			if r.body != bodyNone && r.bodyHTTP == nil && len(body) > 0 && !json.Valid(body) {
				t.Fatalf("%s: accepted a body that is not JSON: %q", b.method, body)
			}
			built[i] = m
		}
		// Strictness only ever rejects more: what a strict rule accepts, its
		// lenient twin accepts and builds the same.
		for i, fr := range fuzzRules(t) {
			if fr.lenient >= 0 && built[i] != nil && !proto.Equal(built[i], built[fr.lenient]) {
				t.Fatalf("%s: strict built %v, lenient built %v", fr.method, built[i], built[fr.lenient])
			}
		}
	})
}

type fuzzRule struct {
	binding
	rule    *Rule
	lenient int // index of the same binding without Strict, or -1
}

var (
	fuzzOnce     sync.Once
	fuzzRuleList []fuzzRule
)

// fuzzRules builds the rules once per process: NewRule is not what is fuzzed.
func fuzzRules(t testing.TB) []fuzzRule {
	fuzzOnce.Do(func() {
		for _, b := range []binding{
			updateBook,
			strict(updateBook),
			searchBooks,
			strict(searchBooks),
			createBook,
			strict(createBook),
			archiveBook,
			uploadCover,
			withBody(kindsQuery, "r_i64"),
			strict(withDepth(kindsStar, 8)),
			{method: kinds, path: []string{"i64"}, body: "by_i32"},
			{method: kinds, path: []string{"nested.y"}, body: "nested", opts: Options{Strict: true}},
			{method: legacy, path: []string{"id"}, body: "*"},
		} {
			lenient := -1
			if b.opts.Strict {
				for j, prev := range fuzzRuleList {
					lb := b
					lb.opts.Strict = false
					if prev.method == b.method && prev.body == b.body && slices.Equal(prev.path, b.path) && prev.opts == lb.opts {
						lenient = j
					}
				}
			}
			fuzzRuleList = append(fuzzRuleList, fuzzRule{b, b.rule(t), lenient})
		}
	})
	return fuzzRuleList
}
