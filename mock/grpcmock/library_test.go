package grpcmock

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/mock"
)

// The demo and the gateway's end-to-end tests rely on this file; it must
// load against the real schema, and its showcase answers must be what the
// comments in it promise.
func TestLibraryStubs(t *testing.T) {
	t.Parallel()
	files := library(t)
	stubs, err := mock.LoadStubs("../../testdata/stubs/library.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startStubs(t, files, stubs)
	ctx := context.Background()

	r := h.call(ctx, t, files, getBook, `{"name":"shelves/1/books/1"}`)
	if r.err != nil {
		t.Fatal(r.err)
	}
	checks := map[string]any{
		"title": "The Dispossessed", "author.name": "Ursula K. Le Guin", "author.country": "US",
		"page_count": int64(387), "edition.value": int64(1), "rating": 4.6, "available": true,
		"copies_sold": uint64(math.MaxUint64), "publish_time.seconds": time.Date(1974, 5, 1, 0, 0, 0, 0, time.UTC).Unix(),
	}
	for path, want := range checks {
		v := get(t, r.msg, path)
		var got any
		switch want.(type) {
		case string:
			got = v.String()
		case int64:
			got = v.Int()
		case uint64:
			got = v.Uint()
		case float64:
			got = v.Float()
		case bool:
			got = v.Bool()
		}
		if got != want {
			t.Errorf("GetBook 1 %s = %v, want %v", path, got, want)
		}
	}
	if got := get(t, r.msg, "genre").Enum(); got != 1 {
		t.Errorf("genre = %d, want FICTION", got)
	}
	if got := get(t, r.msg, "labels").Map().Len(); got != 2 {
		t.Errorf("labels = %d entries", got)
	}
	if got := get(t, r.msg, "tags").List().Len(); got != 3 {
		t.Errorf("tags = %d entries", got)
	}

	r = h.call(ctx, t, files, getBook, `{"name":"shelves/1/books/2"}`)
	if r.err != nil || get(t, r.msg, "title").String() != "A Brief History of Time" {
		t.Errorf("GetBook 2: %v %v", r.err, r.msg)
	}

	r = h.call(ctx, t, files, getBook, `{"name":"shelves/7/books/7"}`)
	st := status.Convert(r.err)
	if st.Code() != codes.NotFound || st.Message() != "book not found" {
		t.Fatalf("fallback: %v", st)
	}
	var sawInfo, sawResource bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			sawInfo = d.Reason == "BOOK_NOT_FOUND" && d.Domain == "library.example.com" && len(d.Metadata) > 0
		case *errdetails.ResourceInfo:
			sawResource = d.ResourceType == "library.v1.Book"
		default:
			t.Errorf("unexpected detail %T %v", d, d)
		}
	}
	if !sawInfo || !sawResource {
		t.Errorf("fallback details = %v", st.Details())
	}

	r = h.call(ctx, t, files, getBook, `{"name":"shelves/9/books/down"}`)
	if st := status.Convert(r.err); st.Code() != codes.Unavailable || len(st.Details()) != 1 {
		t.Errorf("down: %v %v", st, st.Details())
	}

	shortCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	r = h.call(shortCtx, t, files, getBook, `{"name":"shelves/9/books/slow"}`)
	if status.Code(r.err) != codes.DeadlineExceeded {
		t.Errorf("slow: %v", r.err)
	}

	cases := []struct{ method, req, want string }{
		{listBooks, `{"parent":"shelves/1"}`, `"total_size":"2"`},
		{createBook, `{"parent":"shelves/1","book":{"title":"Solaris","author":{"name":"Stanisław Lem"},"pageCount":"204","genre":"SCIENCE"}}`,
			`{"name":"shelves/1/books/3","title":"Solaris","author":{"name":"Stanisław Lem"},"page_count":"204","genre":"SCIENCE","available":true}`},
		{"/library.v1.LibraryService/UpdateBook", `{"book":{"name":"shelves/1/books/1","title":"New"},"updateMask":"title"}`,
			`{"name":"shelves/1/books/1","title":"New"}`},
		{deleteBook, `{"name":"shelves/1/books/1"}`, `{}`},
		{"/library.v1.LibraryService/ArchiveBook", `{"name":"shelves/1/books/2"}`, `"name":"shelves/1/books/2"`},
		{"/library.v1.LibraryService/ArchiveBook", `{"name":"shelves/1/books/2"}`, `"archived":"true"`},
		{searchBooks, `{"filter":{"author":{"name":"Ursula K. Le Guin"}}}`, `"total_size":"1"`},
		{searchBooks, `{"query":"hawking"}`, `A Brief History of Time`},
		{searchBooks, `{"query":"nothing"}`, `{"books":[]}`},
		{"/library.v1.LibraryService/ListShelves", `{}`, `{"shelves":[{"name":"shelves/1","theme":"Classics"},`},
		{"/library.v1.LibraryService/GetBookCover", `{"name":"shelves/1/books/1"}`, `{"content_type":"text/plain","data":"Y292ZXIgb2Ygc2hlbHZlcy8xL2Jvb2tzLzEK"}`},
		{"/library.v1.LibraryService/UploadBookCover", `{"name":"shelves/1/books/1","cover":{"contentType":"image/png","data":"AAAA"}}`, `{}`},
		{"/library.v1.LibraryService/GetFile", `{"path":"a/b/c.txt"}`, `{"path":"a/b/c.txt","size":"42"}`},
		{"/library.v1.LibraryService/Ping", `{"message":"hi"}`, `{"message":"hi","time":"2024-01-01T00:00:00Z"}`},
	}
	for _, c := range cases {
		r := h.call(ctx, t, files, c.method, c.req)
		if r.err != nil {
			t.Errorf("%s %s: %v", c.method, c.req, r.err)
			continue
		}
		// Empty lists are omitted by protojson; {"books":[]} means "no books".
		got := jsonOf(t, r.msg)
		if c.want == `{"books":[]}` {
			if got != `{}` {
				t.Errorf("%s %s = %s, want no books", c.method, c.req, got)
			}
			continue
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s %s = %s, want it to contain %s", c.method, c.req, got, c.want)
		}
	}

	for _, c := range []struct{ req, field string }{
		{`{"parent":"shelves/1"}`, "book"},
		{`{"parent":"shelves/1","book":{"author":{"name":"x"}}}`, "book.title"},
	} {
		r := h.call(ctx, t, files, createBook, c.req)
		st := status.Convert(r.err)
		if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
			t.Errorf("CreateBook %s: %v", c.req, st)
			continue
		}
		br, ok := st.Details()[0].(*errdetails.BadRequest)
		if !ok || br.FieldViolations[0].Field != c.field {
			t.Errorf("CreateBook %s details = %v", c.req, st.Details())
		}
	}
}
