package binding

import (
	"net/url"
	"testing"

	"github.com/switchboard-gw/switchboard/routes"
)

// Each benchmark runs the fast path (wirejson, what Request and Reply use)
// beside the reference path (dynamicpb and protojson) on the same input,
// in one run, so that the ratio is the fast path's gain.

func benchRequest(b *testing.B, r *Rule, ps routes.Params, query url.Values, body []byte) {
	b.Run("fast", func(b *testing.B) {
		if _, ok := r.fastRequest(ps, query, body, "application/json"); !ok {
			b.Fatal("the fast path declined")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := r.Request(ps, query, body, "application/json"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := r.referenceRequest(ps, query, body, "application/json"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchReply(b *testing.B, r *Rule, reply []byte) {
	b.Run("fast", func(b *testing.B) {
		if _, ok, _ := r.fastReply(reply); !ok {
			b.Fatal("the fast path declined")
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(reply)))
		for b.Loop() {
			if _, _, err := r.Reply(reply); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reply)))
		for b.Loop() {
			if _, _, err := r.referenceReply(reply); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequest is the common write: CreateBook with a realistic body
// and a path variable.
func BenchmarkRequest(b *testing.B) {
	benchRequest(b, createBook.rule(b), shelfPath, nil, []byte(realisticBook))
}

// BenchmarkRequestQuery is a read with query parameters and a path
// variable.
func BenchmarkRequestQuery(b *testing.B) {
	query, err := url.ParseQuery("pageSize=5&page_token=abc&filter.author.name=Le%20Guin")
	if err != nil {
		b.Fatal(err)
	}
	benchRequest(b, listBooks.rule(b), shelfPath, query, nil)
}

// BenchmarkRequestKinds is a body with every kind of field.
func BenchmarkRequestKinds(b *testing.B) {
	benchRequest(b, kindsStar.rule(b), nil, nil, []byte(fastRequestSeeds[1].body))
}

// BenchmarkReply renders a full Book.
func BenchmarkReply(b *testing.B) {
	s := loadSchema(b)
	benchReply(b, getBook.rule(b), s.encode(b, s.message(b, "library.v1.Book"), fullBook))
}

// BenchmarkReplyResponseBody renders a repeated response_body field.
func BenchmarkReplyResponseBody(b *testing.B) {
	s := loadSchema(b)
	benchReply(b, listShelves.rule(b), s.encode(b, s.message(b, "library.v1.ListShelvesResponse"),
		`{"shelves":[{"name":"shelves/1","theme":"sf"},{"name":"shelves/2","theme":"history"},{"name":"shelves/3"}]}`))
}
