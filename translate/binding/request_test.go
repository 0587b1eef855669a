package binding

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

const (
	library = "library.v1.LibraryService."
	kinds   = "bindingtest.v1.KindsService.Echo"
	legacy  = "bindingtest.v1.LegacyService.Put"
)

// binding is the part of a google.api.http rule a Rule is built from.
type binding struct {
	method string // a LibraryService method name, or a full method name
	path   []string
	body   string
	resp   string
	opts   Options
}

func (b binding) rule(t testing.TB) *Rule {
	t.Helper()
	s := loadSchema(t)
	name := b.method
	if !strings.Contains(name, ".") {
		name = library + name
	}
	r, err := NewRule(s.method(t, name), b.path, b.body, b.resp, s.res, b.opts)
	if err != nil {
		t.Fatalf("NewRule: %v", err)
	}
	return r
}

// The library's own bindings, as in library.proto.
var (
	getBook      = binding{method: "GetBook", path: []string{"name"}}
	listBooks    = binding{method: "ListBooks", path: []string{"parent"}}
	createBook   = binding{method: "CreateBook", path: []string{"parent"}, body: "book"}
	updateBook   = binding{method: "UpdateBook", path: []string{"book.name"}, body: "book"}
	deleteBook   = binding{method: "DeleteBook", path: []string{"name"}}
	archiveBook  = binding{method: "ArchiveBook", path: []string{"name"}, body: "*"}
	searchBooks  = binding{method: "SearchBooks"}
	searchPost   = binding{method: "SearchBooks", body: "*"}
	listShelves  = binding{method: "ListShelves", resp: "shelves"}
	getCover     = binding{method: "GetBookCover", path: []string{"name"}}
	uploadCover  = binding{method: "UploadBookCover", path: []string{"name"}, body: "cover"}
	getFile      = binding{method: "GetFile", path: []string{"path"}}
	kindsQuery   = binding{method: kinds}
	kindsStar    = binding{method: kinds, body: "*"}
	legacyStar   = binding{method: legacy, body: "*"}
	bookPath     = routes.Params{{FieldPath: "name", Value: "shelves/1/books/2"}}
	shelfPath    = routes.Params{{FieldPath: "parent", Value: "shelves/1"}}
	bookNamePath = routes.Params{{FieldPath: "book.name", Value: "shelves/1/books/2"}}
)

// params builds path variables from field path, value pairs.
func params(kv ...string) routes.Params {
	var ps routes.Params
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, routes.Param{FieldPath: kv[i], Value: kv[i+1]})
	}
	return ps
}

func strict(b binding) binding {
	b.opts.Strict = true
	return b
}

func withDepth(b binding, depth int) binding {
	b.opts.MaxDepth = depth
	return b
}

func withBody(b binding, body string) binding {
	b.body = body
	return b
}

// deep nests a JSON object n levels inside key.
func deep(key string, n int) string {
	return strings.Repeat(`{"`+key+`":`, n) + "{}" + strings.Repeat("}", n)
}

const realisticBook = `{
  "name": "ignored-by-server",
  "title": "The Dispossessed",
  "author": {"name": "Ursula K. Le Guin", "country": "US"},
  "pageCount": "387",
  "genre": "FICTION",
  "publishTime": "1974-05-01T00:00:00Z",
  "labels": {"series": "Hainish Cycle", "format": "paperback"},
  "tags": ["utopia", "anarchism", "physics"],
  "edition": 3,
  "rating": 4.5,
  "copiesSold": "1000000",
  "available": true,
  "extra": {"awards": ["Hugo", "Nebula", "Locus"], "translated": true, "languages": 40}
}`

func TestRequest(t *testing.T) {
	t.Parallel()
	const kindsScalars = "i32=-2147483648&i64=-9223372036854775808&u32=4294967295&u64=18446744073709551615" +
		"&s32=-5&s64=-6&f32=7&f64=8&sf32=-9&sf64=-10&flt=NaN&dbl=-Infinity&b=true&s=h%C3%A9llo&by=AQID&color=GREEN"
	tests := []struct {
		name       string // golden file: request_<name>.json
		rule       binding
		params     routes.Params
		query      string
		body       string
		ct         string // Content-Type; "application/json" when body is set and ct is ""
		wantStatus int    // 0: the request builds
	}{
		// Each library binding.
		{name: "get_book", rule: getBook, params: bookPath},
		{name: "get_book_read_mask", rule: getBook, params: bookPath, query: "readMask=title,author.name,pageCount"},
		{name: "get_book_read_mask_snake", rule: getBook, params: bookPath, query: "read_mask=page_count,publish_time"},
		{name: "list_books", rule: listBooks, params: shelfPath, query: "pageSize=5&page_token=abc&filter.author.name=Le%20Guin"},
		{name: "create_book", rule: createBook, params: shelfPath, query: "book_id=b1", body: realisticBook},
		{name: "update_book", rule: updateBook, params: bookNamePath, query: "update_mask=title,author.name",
			body: `{"name":"shelves/9/books/9","title":"New title","author":{"name":"A"}}`},
		{name: "update_book_query_into_body_ignored", rule: updateBook, params: bookNamePath, query: "book.title=from-query",
			body: `{"title":"from-body"}`},
		{name: "delete_book", rule: deleteBook, params: bookPath, query: "force=true"},
		{name: "archive_book", rule: archiveBook, params: bookPath, query: "reason=ignored",
			body: `{"name":"shelves/9/books/9","reason":"out of print"}`},
		{name: "search_books", rule: searchBooks, query: "query=dune&filter.author.name=Le%20Guin&filter.genres=FICTION&filter.genres=2" +
			"&filter.labels[env]=prod&filter.labels[tier]=gold&filter.min_pages=100&filter.published_after=2020-01-01T00:00:00Z" +
			"&filter.max_age=3600s&cursor=AQID&tags=a&tags=b&page_size=5"},
		{name: "search_books_post", rule: searchPost, query: "page_size=99",
			body: `{"query":"dune","filter":{"genres":["SCIENCE",1],"minPages":"10","maxAge":"1.5s"},"cursor":"AQID","pageSize":5}`},
		{name: "list_shelves", rule: listShelves},
		{name: "get_book_cover", rule: getCover, params: bookPath},
		{name: "upload_book_cover", rule: uploadCover, params: bookPath, body: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ct: "image/png"},
		{name: "upload_book_cover_empty", rule: uploadCover, params: bookPath, ct: "image/png"},
		{name: "get_file", rule: getFile, params: routes.Params{{FieldPath: "path", Value: "docs/a b/c.txt"}}},
		{name: "ping_star", rule: binding{method: "Ping", body: "*"}, body: `{"message":"hi"}`},

		// Numbers.
		{name: "int64_max_string", rule: createBook, params: shelfPath, body: `{"pageCount":"9223372036854775807"}`},
		{name: "int64_max_number", rule: createBook, params: shelfPath, body: `{"pageCount":9223372036854775807}`},
		{name: "int64_overflow", rule: createBook, params: shelfPath, body: `{"pageCount":"9223372036854775808"}`, wantStatus: 400},
		{name: "int32_overflow_query", rule: listBooks, params: shelfPath, query: "page_size=3000000000", wantStatus: 400},
		{name: "int32_overflow_body", rule: searchPost, body: `{"pageSize":3000000000}`, wantStatus: 400},
		{name: "uint64_max", rule: createBook, params: shelfPath, body: `{"copiesSold":"18446744073709551615"}`},
		{name: "uint64_negative", rule: createBook, params: shelfPath, body: `{"copiesSold":-1}`, wantStatus: 400},
		{name: "kinds_scalars_query", rule: kindsQuery, query: kindsScalars},
		{name: "kinds_float_infinity", rule: kindsQuery, query: "flt=Infinity&dbl=1e308"},
		{name: "kinds_float_out_of_range", rule: kindsQuery, query: "flt=1e39", wantStatus: 400},
		{name: "kinds_double_out_of_range", rule: kindsQuery, query: "dbl=1e309", wantStatus: 400},
		{name: "kinds_uint_negative", rule: kindsQuery, query: "u32=-1", wantStatus: 400},
		{name: "kinds_not_an_integer", rule: kindsQuery, query: "i64=1.0", wantStatus: 400},
		{name: "kinds_int_whitespace", rule: kindsQuery, query: "i32=%201", wantStatus: 400},
		{name: "kinds_bool_bad", rule: kindsQuery, query: "b=yes", wantStatus: 400},
		{name: "kinds_bool_spellings", rule: kindsQuery, query: "b=1&bv=false"},

		// Wrong JSON types.
		{name: "string_into_int", rule: createBook, params: shelfPath, body: `{"pageCount":"abc"}`, wantStatus: 400},
		{name: "object_into_string", rule: createBook, params: shelfPath, body: `{"title":{"a":1}}`, wantStatus: 400},
		{name: "nested_type_error", rule: createBook, params: shelfPath, body: `{"author":{"name":5}}`, wantStatus: 400},
		{name: "list_element_type_error", rule: createBook, params: shelfPath, body: `{"tags":["a",{"b":1}]}`, wantStatus: 400},
		{name: "multiline_error_position", rule: createBook, params: shelfPath,
			body: "{\n  \"title\": \"x\",\n  \"rating\": \"high\"\n}", wantStatus: 400},
		{name: "duplicate_body_field", rule: createBook, params: shelfPath, body: `{"page_count":1,"pageCount":2}`, wantStatus: 400},
		{name: "array_for_message", rule: archiveBook, params: bookPath, body: `[1,2]`, wantStatus: 400},
		{name: "trailing_garbage", rule: archiveBook, params: bookPath, body: `{"reason":"x"} y`, wantStatus: 400},

		// Unknown fields.
		{name: "unknown_body_lenient", rule: createBook, params: shelfPath,
			body: `{"title":"x","bogus":1,"author":{"name":"a","nick":"b"}}`},
		{name: "unknown_body_strict", rule: strict(createBook), params: shelfPath,
			body: `{"title":"x","bogus":1,"author":{"name":"a","nick":"b"}}`, wantStatus: 400},
		{name: "unknown_body_strict_star", rule: strict(archiveBook), params: bookPath,
			body: `{"reason":"x","extra_field":1,"nested":{"deep":{"deeper":true}}}`, wantStatus: 400},
		{name: "unknown_body_strict_lists_maps", rule: strict(kindsStar),
			body: `{"items":[{"x":"a"},{"zz":1}],"children":{"k":{"qq":2}},"self":{"self":{"oops":[]}},"val":{"free":"form"}}`, wantStatus: 400},
		{name: "unknown_body_strict_any", rule: strict(kindsStar),
			body: `{"any":{"x":"a","zz":1,"@type":"type.googleapis.com/bindingtest.v1.Inner"}}`, wantStatus: 400},
		{name: "unknown_body_strict_many", rule: strict(archiveBook), params: bookPath,
			body: `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}`, wantStatus: 400},
		{name: "unknown_query_lenient", rule: listBooks, params: shelfPath, query: "foo=1&bar=2&pageSize=3&utm_source=x"},
		{name: "unknown_query_strict", rule: strict(listBooks), params: shelfPath, query: "foo=1&bar=2&pageSize=3", wantStatus: 400},
		{name: "query_past_scalar_strict", rule: strict(listBooks), params: shelfPath, query: "page_size.x=1&filter.author.name.y=2", wantStatus: 400},
		{name: "strict_path_bound_param", rule: strict(getBook), params: bookPath, query: "name=other", wantStatus: 400},
		{name: "strict_body_bound_param", rule: strict(updateBook), params: bookNamePath, query: "book.title=x", wantStatus: 400},
		{name: "strict_star_query", rule: strict(archiveBook), params: bookPath, query: "reason=x", wantStatus: 400},
		{name: "path_bound_param_lenient", rule: getBook, params: bookPath, query: "name=other"},

		// Enums, well-known types, bytes, maps.
		{name: "bad_enum_query", rule: searchBooks, query: "filter.genres=POETRY", wantStatus: 400},
		{name: "bad_enum_body_lenient", rule: createBook, params: shelfPath, body: `{"genre":"POETRY","title":"x"}`},
		{name: "bad_enum_body_strict", rule: strict(createBook), params: shelfPath, body: `{"genre":"POETRY"}`, wantStatus: 400},
		{name: "enum_numbers_open", rule: kindsQuery, query: "color=2&r_color=RED&r_color=7"},
		{name: "bad_timestamp_query", rule: searchBooks, query: "filter.published_after=yesterday", wantStatus: 400},
		{name: "bad_timestamp_body", rule: createBook, params: shelfPath, body: `{"publishTime":"2024-13-01T00:00:00Z"}`, wantStatus: 400},
		{name: "bad_duration_query", rule: searchBooks, query: "filter.max_age=1h", wantStatus: 400},
		{name: "bad_wrapper_query", rule: searchBooks, query: "filter.min_pages=abc", wantStatus: 400},
		{name: "bad_base64_query", rule: searchBooks, query: "cursor=%21%21%21", wantStatus: 400},
		{name: "base64_plus_as_space", rule: searchBooks, query: "cursor=a+b/", wantStatus: 400},
		{name: "base64_url_unpadded", rule: searchBooks, query: "cursor=-_8"},
		{name: "base64_std_padded", rule: searchBooks, query: "cursor=%2B%2F8%3D"},
		{name: "wrappers_query", rule: kindsQuery, query: "bv=true&bytv=AQID&u64v=18446744073709551615&dv=NaN&sv=hi&fv=-Infinity"},
		{name: "repeated_timestamps", rule: kindsQuery, query: "r_ts=2024-01-01T00:00:00Z&r_ts=2024-01-02T00:00:00.5%2B01:00&r_i64=9223372036854775807&r_i64=-1"},
		{name: "field_mask_forms", rule: kindsQuery, query: "mask=title,authorName,author_name.first,a.bC"},
		{name: "field_mask_bad", rule: kindsQuery, query: "mask=title,,x", wantStatus: 400},
		{name: "duration_forms", rule: kindsQuery, query: "dur=-1.000000001s"},
		{name: "maps_query", rule: kindsQuery, query: "by_i32[7]=x&by_bool[true]=y&by_u64[18446744073709551615]=-5&wrapped[w]=3&children_ignored[x]=1"},
		{name: "map_key_bad_type", rule: kindsQuery, query: "by_i32[abc]=x&by_bool[yes]=y", wantStatus: 400},
		{name: "map_value_bad", rule: kindsQuery, query: "by_u64[1]=x", wantStatus: 400},
		{name: "map_of_messages", rule: kindsQuery, query: "children[k]=x", wantStatus: 400},
		{name: "map_without_key", rule: searchBooks, query: "filter.labels=x", wantStatus: 400},
		{name: "map_key_twice", rule: searchBooks, query: "filter.labels[env]=a&filter.labels[env]=b", wantStatus: 400},
		{name: "brackets_on_non_map", rule: listBooks, params: shelfPath, query: "page_size[x]=1", wantStatus: 400},
		{name: "message_field_query", rule: searchBooks, query: "filter=x&filter.author=y", wantStatus: 400},
		{name: "repeated_message_query", rule: kindsQuery, query: "items.x=1", wantStatus: 400},
		{name: "singular_twice", rule: listBooks, params: shelfPath, query: "page_size=1&page_size=2", wantStatus: 400},
		{name: "singular_two_spellings", rule: listBooks, params: shelfPath, query: "page_size=1&pageSize=2", wantStatus: 400},
		{name: "invalid_utf8_query", rule: searchBooks, query: "filter.author.name=%FF", wantStatus: 400},
		{name: "whitespace_kept", rule: searchBooks, query: "query=%20dune%20"},
		{name: "json_name_query", rule: kindsQuery, query: "custom=x&opt=0"},
		{name: "oneof_conflict", rule: kindsQuery, query: "a=x&inner.x=y", wantStatus: 400},
		{name: "oneof_member", rule: kindsQuery, query: "inner.x=y&inner.y=2"},
		{name: "query_too_deep", rule: withDepth(kindsQuery, 3), query: "self.self.self.i32=1", wantStatus: 400},
		{name: "query_deep_ok", rule: withDepth(kindsQuery, 3), query: "self.self.i32=1"},
		{name: "many_problems", rule: searchBooks, query: "page_size=x&cursor=!&filter.genres=X&filter.min_pages=y&tags=ok&filter.max_age=z&query=%FF", wantStatus: 400},

		// Bodies.
		{name: "non_json_body", rule: createBook, params: shelfPath, body: `not json`, wantStatus: 400},
		{name: "non_json_body_star", rule: archiveBook, params: bookPath, body: `{"reason": "x",}`, wantStatus: 400},
		{name: "empty_body", rule: createBook, params: shelfPath},
		{name: "empty_body_text_plain", rule: createBook, params: shelfPath, ct: "text/plain"},
		{name: "null_body", rule: createBook, params: shelfPath, body: ` null `},
		{name: "null_body_star", rule: archiveBook, params: bookPath, body: `null`},
		{name: "deep_struct", rule: createBook, params: shelfPath, body: `{"extra":` + deep("a", 100) + `}`, wantStatus: 400},
		{name: "deep_unknown_lenient", rule: createBook, params: shelfPath, body: `{"bogus":` + deep("a", 100) + `}`, wantStatus: 400},
		{name: "deep_recursive", rule: withDepth(kindsStar, 3), body: deep("self", 5), wantStatus: 400},
		{name: "deep_recursive_ok", rule: withDepth(kindsStar, 3), body: deep("self", 2)},
		{name: "text_plain_415", rule: createBook, params: shelfPath, body: `{"title":"x"}`, ct: "text/plain", wantStatus: 415},
		{name: "json_charset", rule: createBook, params: shelfPath, body: `{"title":"x"}`, ct: `Application/JSON; charset="UTF-8"`},
		{name: "json_latin1_415", rule: createBook, params: shelfPath, body: `{"title":"x"}`, ct: "application/json; charset=latin1", wantStatus: 415},
		{name: "no_content_type", rule: createBook, params: shelfPath, body: `{"title":"x"}`, ct: "-"},
		{name: "invalid_utf8_body", rule: createBook, params: shelfPath, body: "{\"title\":\"\xff\"}", wantStatus: 400},
		{name: "body_repeated_field", rule: withBody(kindsQuery, "r_i64"), body: `[1,"2","9223372036854775807"]`},
		{name: "body_repeated_field_error", rule: withBody(kindsQuery, "r_i64"), body: "[1,\n \"x\"]", wantStatus: 400},
		{name: "body_map_field", rule: withBody(kindsQuery, "by_i32"), body: `{"1":"a","-2":"b"}`},
		{name: "body_map_field_bad_key", rule: withBody(kindsQuery, "by_i32"), body: `{"one":"a"}`, wantStatus: 400},
		{name: "body_scalar_field", rule: withBody(kindsQuery, "s"), body: `"hello"`},
		{name: "body_scalar_field_error", rule: withBody(kindsQuery, "i32"), body: `"x"`, wantStatus: 400},
		{name: "body_scalar_injection", rule: withBody(kindsQuery, "i32"), body: `1,"s":"injected"`, wantStatus: 400},
		{name: "body_repeated_injection", rule: withBody(kindsQuery, "r_i64"), body: `[1],"s":"injected"`, wantStatus: 400},
		{name: "body_scalar_strict", rule: strict(withBody(kindsQuery, "i32")), body: `7`},
		{name: "body_wkt_field", rule: withBody(kindsQuery, "dur"), body: `"3s"`},
		{name: "body_any", rule: kindsStar,
			body: `{"any":{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"2024-01-01T00:00:00Z"},"val":{"a":[1,null,"x"]}}`},
		{name: "body_any_unknown_type", rule: kindsStar, body: `{"any":{"@type":"type.googleapis.com/nope.Nope","x":1}}`, wantStatus: 400},

		// Path variables.
		{name: "path_vars_typed", rule: binding{method: kinds, path: []string{"i64", "nested.y", "bv", "color", "by"}},
			params: params("i64", "-9223372036854775808", "nested.y", "42", "bv", "true", "color", "RED", "by", "_-8")},
		{name: "path_vars_bad", rule: binding{method: kinds, path: []string{"i64", "nested.y"}},
			params: params("i64", "12abc", "nested.y", "99999999999"), wantStatus: 400},
		{name: "path_var_out_of_order", rule: binding{method: kinds, path: []string{"s", "a"}},
			params: params("a", "first", "s", "second")},
		{name: "path_var_invalid_utf8", rule: getBook, params: params("name", "shelves/\xff"), wantStatus: 400},

		// proto2.
		{name: "legacy_ok", rule: legacyStar, body: `{"id":"x"}`},
		{name: "legacy_required_missing", rule: legacyStar, body: `{"level":"LOW"}`, wantStatus: 400},
		{name: "legacy_required_from_path", rule: binding{method: legacy, path: []string{"id"}, body: "*"},
			params: params("id", "from-path"), body: `{"level":"HIGH"}`},
		{name: "legacy_closed_enum_number", rule: binding{method: legacy, path: []string{"id"}},
			params: params("id", "x"), query: "level=5", wantStatus: 400},
		{name: "legacy_closed_enum_known_number", rule: binding{method: legacy, path: []string{"id"}},
			params: params("id", "x"), query: "level=2&count=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := loadSchema(t)
			r := tt.rule.rule(t)
			query, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatalf("bad test query: %v", err)
			}
			ct := tt.ct
			switch {
			case ct == "-":
				ct = ""
			case ct == "" && tt.body != "":
				ct = "application/json"
			}
			got, err := r.Request(tt.params, query, []byte(tt.body), ct)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Request: %v", err)
				}
				golden(t, "request_"+tt.name, s.render(t, r.Input(), got))
				return
			}
			if err == nil {
				t.Fatalf("Request succeeded with %s; want status %d", s.render(t, r.Input(), got), tt.wantStatus)
			}
			var e *translate.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *translate.Error: %v", err, err)
			}
			if e.Status() != tt.wantStatus {
				t.Errorf("status %d, want %d (%v)", e.Status(), tt.wantStatus, e)
			}
			if e.Code != codes.InvalidArgument {
				t.Errorf("code %v, want InvalidArgument", e.Code)
			}
			golden(t, "request_"+tt.name, translate.MarshalStatus(e, e.Details, nil))
		})
	}
}

// TestRequestHugeBody checks that a body of a few megabytes of valid JSON
// goes through: nothing in the path is quadratic or size-limited.
func TestRequestHugeBody(t *testing.T) {
	t.Parallel()
	r := createBook.rule(t)
	var b strings.Builder
	b.WriteString(`{"title":"huge","tags":[`)
	const n = 200_000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"tag-number-`)
		b.WriteString(strings.Repeat("x", 4))
		b.WriteString(`"`)
	}
	b.WriteString(`],"extra":{"blob":"` + strings.Repeat("y", 1<<20) + `"}}`)
	body := []byte(b.String())
	if len(body) < 4<<20 {
		t.Fatalf("test body is only %d bytes", len(body))
	}
	got, err := r.Request(shelfPath, nil, body, "application/json")
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if len(got) < 4<<20 {
		t.Errorf("request is %d bytes, want the body's content", len(got))
	}
}

// TestRequestConcurrent uses one rule from many goroutines, as the gateway
// does; run with -race to check that a Rule holds no per-request state.
func TestRequestConcurrent(t *testing.T) {
	t.Parallel()
	r := strict(updateBook).rule(t)
	query := url.Values{"update_mask": {"title"}}
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			var err error
			for j := 0; j < 50 && err == nil; j++ {
				_, err = r.Request(bookNamePath, query, []byte(`{"title":"x"}`), "application/json")
				if err == nil {
					_, err = r.Request(bookNamePath, query, []byte(`{"bogus":1}`), "application/json")
					if err == nil {
						err = errors.New("unknown field accepted")
					} else {
						err = nil
					}
				}
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestRequestManyParams checks that a query with very many parameters costs
// linear time: duplicate detection must not compare every pair.
func TestRequestManyParams(t *testing.T) {
	t.Parallel()
	r := kindsQuery.rule(t)
	query := url.Values{}
	const n = 50_000
	for i := 0; i < n; i++ {
		query.Set("by_i32["+strconv.Itoa(i)+"]", "v")
	}
	query.Set("by_i32[00001]", "dup") // the same entry as by_i32[1]
	_, err := r.Request(nil, query, nil, "")
	var e *translate.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, `"by_i32[1]"`) {
		t.Fatalf("err = %v; want the duplicate entry by_i32[1] reported", err)
	}
	delete(query, "by_i32[00001]")
	if _, err := r.Request(nil, query, nil, ""); err != nil {
		t.Fatal(err)
	}
}
