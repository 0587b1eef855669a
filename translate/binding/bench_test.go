package binding

import (
	"net/url"
	"testing"
)

// BenchmarkRequest is the common write: CreateBook with a realistic body
// and a path variable.
func BenchmarkRequest(b *testing.B) {
	r := createBook.rule(b)
	body := []byte(realisticBook)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := r.Request(shelfPath, nil, body, "application/json"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestQuery is a read with many query parameters.
func BenchmarkRequestQuery(b *testing.B) {
	r := searchBooks.rule(b)
	query, err := url.ParseQuery("query=dune&filter.author.name=Le%20Guin&filter.genres=FICTION&filter.genres=2" +
		"&filter.labels[env]=prod&filter.min_pages=100&filter.published_after=2020-01-01T00:00:00Z" +
		"&filter.max_age=3600s&cursor=AQID&tags=a&tags=b&page_size=5")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Request(nil, query, nil, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReply renders a full Book.
func BenchmarkReply(b *testing.B) {
	s := loadSchema(b)
	r := getBook.rule(b)
	reply := s.encode(b, s.message(b, "library.v1.Book"), fullBook)
	b.ReportAllocs()
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		if _, _, err := r.Reply(reply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplyResponseBody renders a repeated response_body field.
func BenchmarkReplyResponseBody(b *testing.B) {
	s := loadSchema(b)
	r := listShelves.rule(b)
	reply := s.encode(b, s.message(b, "library.v1.ListShelvesResponse"),
		`{"shelves":[{"name":"shelves/1","theme":"sf"},{"name":"shelves/2","theme":"history"},{"name":"shelves/3"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Reply(reply); err != nil {
			b.Fatal(err)
		}
	}
}
