package binding

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/switchboard-gw/switchboard/translate"
)

const fullBook = `{
  "name": "shelves/1/books/2",
  "title": "A \"quoted\", title: {with} [brackets]",
  "author": {"name": "Ursula K. Le Guin"},
  "pageCount": "9223372036854775807",
  "genre": "SCIENCE",
  "publishTime": "2024-01-01T00:00:00.500Z",
  "labels": {"b": "2", "a": "1"},
  "tags": ["x", "y"],
  "edition": 0,
  "rating": 4.25,
  "copiesSold": "18446744073709551615",
  "available": true,
  "extra": {"k": [1, "two", null, {"n": true}]}
}`

func TestReply(t *testing.T) {
	t.Parallel()
	var (
		book       = `library.v1.Book`
		shelves    = `library.v1.ListShelvesResponse`
		booksResp  = `library.v1.ListBooksResponse`
		kindsMsg   = `bindingtest.v1.Kinds`
		twoShelves = `{"shelves":[{"name":"shelves/1","theme":"sf"},{"name":"shelves/2"}]}`
	)
	kindsResp := func(field string, opts Options) binding {
		return binding{method: kinds, resp: field, opts: opts}
	}
	tests := []struct {
		name   string // golden file: reply_<name>.json
		rule   binding
		msg    string // the reply's message type
		reply  string // the reply as JSON, encoded to binary for Reply
		suffix []byte // appended to the encoded reply
	}{
		{name: "get_book", rule: getBook, msg: book, reply: fullBook},
		{name: "get_book_proto_names", rule: binding{method: "GetBook", opts: Options{UseProtoNames: true}}, msg: book, reply: fullBook},
		{name: "get_book_enum_numbers", rule: binding{method: "GetBook", opts: Options{UseEnumNumbers: true}}, msg: book, reply: fullBook},
		{name: "get_book_emit_unpopulated", rule: binding{method: "GetBook", opts: Options{EmitUnpopulated: true}},
			msg: book, reply: `{"name":"shelves/1/books/2"}`},
		{name: "get_book_all_options", rule: binding{method: "GetBook", opts: Options{UseProtoNames: true, EmitUnpopulated: true, UseEnumNumbers: true}},
			msg: book, reply: `{"name":"shelves/1/books/2","genre":"HISTORY"}`},
		{name: "get_book_unknown_fields_kept", rule: getBook, msg: book, reply: `{"name":"n"}`,
			suffix: protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "from a newer backend")},
		{name: "delete_book_empty", rule: deleteBook, msg: "google.protobuf.Empty", reply: `{}`},
		{name: "list_shelves", rule: listShelves, msg: shelves, reply: twoShelves},
		{name: "list_shelves_empty", rule: listShelves, msg: shelves, reply: `{}`},
		{name: "list_shelves_whole", rule: binding{method: "ListShelves"}, msg: shelves, reply: twoShelves},
		{name: "list_shelves_proto_names_unpopulated", rule: binding{method: "ListShelves", resp: "shelves", opts: Options{EmitUnpopulated: true, UseProtoNames: true}},
			msg: shelves, reply: twoShelves},
		{name: "resp_string", rule: binding{method: "ListBooks", resp: "next_page_token"}, msg: booksResp, reply: `{"nextPageToken":"a\",\"b:{}","totalSize":"3"}`},
		{name: "resp_string_unset", rule: binding{method: "ListBooks", resp: "next_page_token"}, msg: booksResp, reply: `{"totalSize":"3"}`},
		{name: "resp_int64", rule: binding{method: "ListBooks", resp: "total_size"}, msg: booksResp, reply: `{"totalSize":"5","books":[{"title":"t"}]}`},
		{name: "resp_int64_unset", rule: binding{method: "ListBooks", resp: "total_size"}, msg: booksResp, reply: `{}`},
		{name: "resp_enum_unset", rule: kindsResp("color", Options{}), msg: kindsMsg, reply: `{}`},
		{name: "resp_enum_unset_numbers", rule: kindsResp("color", Options{UseEnumNumbers: true}), msg: kindsMsg, reply: `{}`},
		{name: "resp_enum", rule: kindsResp("color", Options{}), msg: kindsMsg, reply: `{"color":"RED"}`},
		{name: "resp_optional_unset", rule: kindsResp("opt", Options{}), msg: kindsMsg, reply: `{}`},
		{name: "resp_optional_zero", rule: kindsResp("opt", Options{}), msg: kindsMsg, reply: `{"opt":0}`},
		{name: "resp_oneof_unset", rule: kindsResp("a", Options{}), msg: kindsMsg, reply: `{}`},
		{name: "resp_map", rule: kindsResp("by_i32", Options{EmitUnpopulated: true}), msg: kindsMsg, reply: `{"byI32":{"1":"a","2":"b"},"s":"x"}`},
		{name: "resp_map_unset", rule: kindsResp("by_i32", Options{}), msg: kindsMsg, reply: `{"s":"x"}`},
		{name: "resp_repeated_int64", rule: kindsResp("r_i64", Options{}), msg: kindsMsg, reply: `{"rI64":["1","-2"]}`},
		{name: "resp_json_name", rule: kindsResp("json_named", Options{}), msg: kindsMsg, reply: `{"custom":"x","i32":1}`},
		{name: "resp_bytes", rule: kindsResp("by", Options{}), msg: kindsMsg, reply: `{"by":"AQID"}`},
		{name: "resp_double_nan", rule: kindsResp("dbl", Options{}), msg: kindsMsg, reply: `{"dbl":"NaN"}`},
		{name: "resp_message", rule: kindsResp("nested", Options{}), msg: kindsMsg, reply: `{"nested":{"x":"a"},"s":"no"}`},
		{name: "resp_message_unset", rule: kindsResp("nested", Options{}), msg: kindsMsg, reply: `{"s":"no"}`},
		{name: "resp_message_unset_unpopulated", rule: kindsResp("nested", Options{EmitUnpopulated: true}), msg: kindsMsg, reply: `{}`},
		{name: "resp_wkt", rule: kindsResp("dur", Options{}), msg: kindsMsg, reply: `{"dur":"1.5s"}`},
		{name: "resp_value_unset", rule: kindsResp("val", Options{}), msg: kindsMsg, reply: `{}`},
		{name: "resp_any", rule: kindsResp("any", Options{}), msg: kindsMsg,
			reply: `{"any":{"@type":"type.googleapis.com/bindingtest.v1.Inner","x":"a","y":2}}`},
		{name: "kinds_wkts", rule: binding{method: kinds}, msg: kindsMsg,
			reply: `{"bv":false,"u64v":"18446744073709551615","fv":"-Infinity","mask":"a.bC,d","dur":"-0.5s","rTs":["2024-01-01T00:00:00Z"],"val":null,"f64":"1","flt":1.5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := loadSchema(t)
			r := tt.rule.rule(t)
			b := append(s.encode(t, s.message(t, tt.msg), tt.reply), tt.suffix...)
			body, ct, err := r.Reply(b)
			if err != nil {
				t.Fatalf("Reply: %v", err)
			}
			if ct != "application/json" {
				t.Errorf("content type %q, want application/json", ct)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, body); err != nil {
				t.Fatalf("reply is not JSON: %v\n%s", err, body)
			}
			if !bytes.Equal(compact.Bytes(), body) {
				t.Errorf("reply is not compact: %s", body)
			}
			// Golden files are indented, which hides a lone scalar's
			// quoting, so wrap the body.
			golden(t, "reply_"+tt.name, append(append([]byte(`{"body":`), body...), '}'))
		})
	}
}

func TestReplyHTTPBody(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	cover := binding{method: "bindingtest.v1.KindsService.Cover", resp: "cover"}
	tests := []struct {
		name     string
		rule     binding
		msg      string
		reply    string
		wantBody string
		wantCT   string
	}{
		{name: "get_book_cover", rule: getCover, msg: "google.api.HttpBody",
			reply: `{"contentType":"image/jpeg","data":"/9j/4AAQ"}`, wantBody: "\xff\xd8\xff\xe0\x00\x10", wantCT: "image/jpeg"},
		{name: "default_content_type", rule: getCover, msg: "google.api.HttpBody",
			reply: `{"data":"AQID"}`, wantBody: "\x01\x02\x03", wantCT: "application/octet-stream"},
		{name: "empty", rule: getCover, msg: "google.api.HttpBody", reply: `{}`, wantCT: "application/octet-stream"},
		{name: "response_field", rule: cover, msg: "bindingtest.v1.CoverReply",
			reply: `{"cover":{"contentType":"text/csv; charset=utf-8","data":"YSxiCg=="},"note":"n"}`, wantBody: "a,b\n", wantCT: "text/csv; charset=utf-8"},
		{name: "response_field_unset", rule: cover, msg: "bindingtest.v1.CoverReply", reply: `{"note":"n"}`, wantCT: "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.rule.rule(t)
			body, ct, err := r.Reply(s.encode(t, s.message(t, tt.msg), tt.reply))
			if err != nil {
				t.Fatalf("Reply: %v", err)
			}
			if string(body) != tt.wantBody || ct != tt.wantCT {
				t.Errorf("Reply = %q, %q; want %q, %q", body, ct, tt.wantBody, tt.wantCT)
			}
		})
	}
}

func TestReplyErrors(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	// Past the reply limit for a request depth of 3 (replyDepth(3) levels
	// on the wire): the reply limit is looser than the request's, since
	// Struct and Value nest several messages per JSON level.
	deepKinds := strings.Repeat(`{"self":`, replyDepth(3)+1) + `{"i32":1}` + strings.Repeat("}", replyDepth(3)+1)
	// An Any (field 36) whose type the resolver cannot find.
	anyValue := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "type.googleapis.com/nope.Nope")
	unknownAny := protowire.AppendBytes(protowire.AppendTag(nil, 36, protowire.BytesType), anyValue)
	tests := []struct {
		name    string
		rule    binding
		reply   []byte
		wantMsg string
	}{
		{name: "garbage", rule: getBook, reply: []byte("\xff\xff\xff"), wantMsg: "invalid reply from backend"},
		// A field that says 10 bytes follow, and 3 do: cutting a whole
		// encoding short may land between fields, where it is valid
		// (protobuf-go varies field order by the binary's hash).
		{name: "truncated", rule: getBook,
			reply:   append(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.BytesType), 10), "abc"...),
			wantMsg: "invalid reply from backend"},
		{name: "invalid_utf8", rule: getBook,
			reply: protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff"), wantMsg: "invalid reply from backend"},
		{name: "too_deep", rule: withDepth(binding{method: kinds}, 3),
			reply: s.encode(t, s.message(t, "bindingtest.v1.Kinds"), deepKinds), wantMsg: "invalid reply from backend"},
		{name: "unknown_any", rule: binding{method: kinds}, reply: unknownAny, wantMsg: "cannot render the backend's reply as JSON"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.rule.rule(t)
			body, _, err := r.Reply(tt.reply)
			if err == nil {
				t.Fatalf("Reply succeeded: %s", body)
			}
			var e *translate.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *translate.Error", err)
			}
			if e.Code != codes.Internal || e.Message != tt.wantMsg || e.Cause == nil {
				t.Errorf("error = %v (cause %v); want INTERNAL %q with a cause", e, e.Cause, tt.wantMsg)
			}
		})
	}
}
