package binding

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/wirejson"
)

// The fast path (wirejson, no intermediate message) is held to the
// reference path (dynamicpb and protojson) here: whatever the fast path
// takes, the reference must take too and build the same message. Declining
// is always allowed; TestFastPathTakesCommonInputs checks that the common
// inputs are not declined.

// sameRequest fails t unless fast (when taken) means what the reference
// built from the same input.
func sameRequest(t *testing.T, s *schema, r *Rule, ps routes.Params, query url.Values, body []byte, ct string) (taken bool) {
	t.Helper()
	fast, ok := r.fastRequest(ps, query, body, ct)
	ref, err := r.referenceRequest(ps, query, body, ct)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s: the fast path took a request the reference refuses (%v)\nbody %q\nquery %q\npath %v",
			r.Method().FullName(), err, body, query.Encode(), ps)
	}
	a, b := canonical(t, s, r, fast), canonical(t, s, r, ref)
	if !bytes.Equal(a, b) {
		fm, rm := decodeInput(t, s, r, fast), decodeInput(t, s, r, ref)
		t.Fatalf("%s: the paths differ\nbody %q\nquery %q\npath %v\nfast      %v\nreference %v",
			r.Method().FullName(), body, query.Encode(), ps, fm, rm)
	}
	return true
}

func decodeInput(t *testing.T, s *schema, r *Rule, b []byte) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(r.Input())
	if err := (proto.UnmarshalOptions{Resolver: s.res, AllowPartial: true}).Unmarshal(b, m); err != nil {
		t.Fatalf("%s: built request does not decode: %v (%x)", r.Method().FullName(), err, b)
	}
	return m
}

// canonical re-encodes a built request deterministically, the contents of
// every Any included, so that field order and explicit zeros do not count
// as differences.
func canonical(t *testing.T, s *schema, r *Rule, b []byte) []byte {
	t.Helper()
	m := decodeInput(t, s, r, b)
	canonicalAny(t, s, m)
	out, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canonicalAny re-encodes the value of every Any in m deterministically.
func canonicalAny(t *testing.T, s *schema, m protoreflect.Message) {
	t.Helper()
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		fds := m.Descriptor().Fields()
		url, value := m.Get(fds.ByNumber(1)).String(), m.Get(fds.ByNumber(2)).Bytes()
		mt, err := s.res.FindMessageByURL(url)
		if err != nil {
			return
		}
		inner := mt.New()
		if err := (proto.UnmarshalOptions{Resolver: s.res, AllowPartial: true}).Unmarshal(value, inner.Interface()); err != nil {
			t.Fatalf("Any %s does not decode: %v", url, err)
		}
		canonicalAny(t, s, inner)
		b, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(inner.Interface())
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 || m.Has(fds.ByNumber(2)) {
			m.Set(fds.ByNumber(2), protoreflect.ValueOfBytes(b))
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					canonicalAny(t, s, v.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					canonicalAny(t, s, v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			canonicalAny(t, s, v.Message())
		}
		return true
	})
}

// FuzzFastRequest runs FuzzRequest's rules and inputs through both paths.
// Its seeds are FuzzRequest's, plus bodies for every kind of field.
func FuzzFastRequest(f *testing.F) {
	for _, seed := range fastRequestSeeds {
		f.Add([]byte(seed.body), seed.query, seed.path)
	}
	f.Fuzz(func(t *testing.T, body []byte, rawQuery, pathValue string) {
		s := loadSchema(t)
		query, _ := url.ParseQuery(rawQuery)
		for _, fr := range fuzzRules(t) {
			var ps routes.Params
			for _, p := range fr.path {
				ps = append(ps, routes.Param{FieldPath: p, Value: pathValue})
			}
			sameRequest(t, s, fr.rule, ps, query, body, "application/json")
		}
	})
}

type fastSeed struct{ body, query, path string }

var fastRequestSeeds = []fastSeed{
	{realisticBook, "book_id=b1", "shelves/1"},
	{`{"i32":-2147483648,"i64":"-9223372036854775808","u32":4294967295,"u64":"18446744073709551615","s32":-5,"s64":"-6",` +
		`"f32":7,"f64":"8","sf32":-9,"sf64":"-10","flt":"NaN","dbl":"-Infinity","b":true,"s":"h\u00e9llo\ud83d\ude00","by":"AQID-_","color":"GREEN"}`, "", "1"},
	{`{"rI64":["1",2,"-3"],"rColor":["RED",2,0],"rTs":["2020-01-01T00:00:00Z","1970-01-01T00:00:00.5+01:00"],"items":[{"x":"a","y":1},{}]}`, "", "1"},
	{`{"byI32":{"1":"a","-2":"b"},"byBool":{"true":"t","false":"f"},"byU64":{"18446744073709551615":"-1"},"children":{"k":{"x":"v"}},"wrapped":{"w":7,"z":0}}`, "", "1"},
	{`{"bv":false,"bytv":"","u64v":"0","dv":1e308,"sv":"","fv":-0.0,"a":"x","nested":{"x":"n"},"self":{"self":{"i32":1}}}`, "", "1"},
	{`{"mask":"a.b,cD","dur":"-1.5s","val":{"a":[1,"x",null,true,{"b":{}}]},"opt":0,"custom":"c","inner":{"x":"i"}}`, "", "1"},
	{`{"i32":1e2,"u32":"1.0","i64":" 5","flt":"1e39","color":"PURPLE","by":"!!"}`, "", "1"},
	{`{"a":"x","inner":{}}`, "", "1"},
	{`{"any":{"x":"a","@type":"type.googleapis.com/bindingtest.v1.Inner","y":2}}`, "", "1"},
	{`{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.5s"}}`, "", "1"},
	{`{"any":{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/bindingtest.v1.Kinds","i32":1,"any":{}}}}`, "", "1"},
	{`{"any":{"@type":"type.googleapis.com/google.protobuf.Empty"}}`, "", "1"},
	{`{"any":{"@type":"type.googleapis.com/bindingtest.v1.Nope","x":1}}`, "", "1"},
	{`{"any":{"x":"a"}}`, "", "1"},
	{`{"i32":1,"i32":2}`, "", "1"},
	{`{"s":"\ud800"}`, "", "1"},
	{`{"unknown":{"deep":[1,{"x":[[]]}]},"s":"ok"}`, "", "1"},
	{`[1,"2",null]`, "filter.labels[env]=prod&filter.genres=2&page_size=5", "-9"},
	{``, "query=dune&filter.author.name=Le%20Guin&filter.genres=FICTION&filter.genres=2&filter.min_pages=100&cursor=AQID&tags=a&tags=b&page_size=5", ""},
	{``, "filter.published_after=2020-01-01T00:00:00Z&filter.max_age=1.5s&pageSize=5&page_size=6", ""},
	{`null`, "%zz&a=%&b", "\xff"},
	{`{"title":"x","bogus":{"a":[1,2]}}`, "update_mask=title,author.name", "shelves/1/books/2"},
	{`{"self":{"self":{"any":{"@type":"type.googleapis.com/bindingtest.v1.Inner","x":"a"}}}}`, "cursor=AQID&tags=a&tags=b", "x"},
	{`{"string_value":"b"}`, "timestamp_value=2020-01-01T00:00:00Z&timestampValue.seconds=7&nested.string_value=q&nested=x", "5"},
	{`{"inner_name":"b"}`, `struct_value={"a":[1,{"b":null}]}&value_value="x"&list_value=[]&empty_value=&repeated_empty={}&value_map[k]=1`, "5"},
}

// TestFastPathTakesCommonInputs: the fast path is only worth having if it
// takes what clients send. Each of these must be taken, and built as the
// reference builds it.
func TestFastPathTakesCommonInputs(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	tests := []struct {
		name   string
		rule   binding
		params routes.Params
		query  string
		body   string
	}{
		{"get_book", getBook, bookPath, "", ""},
		{"list_books_query", listBooks, shelfPath, "pageSize=5&page_token=abc&filter.author.name=Le%20Guin", ""},
		{"get_book_read_mask", getBook, bookPath, "readMask=title,author.name,pageCount", ""},
		{"search_wkts", searchBooks, nil, "filter.published_after=2020-01-01T00:00:00Z&filter.max_age=1.5s&query=x", ""},
		{"create_book", createBook, shelfPath, "book_id=b1", realisticBook},
		{"update_book", updateBook, bookNamePath, "", `{"title":"New","pageCount":"12"}`},
		{"archive_book", archiveBook, bookPath, "", `{"reason":"old"}`},
		{"search_query", searchBooks, nil, "query=dune&filter.author.name=Le%20Guin&filter.genres=FICTION&filter.genres=2&cursor=AQID&tags=a&tags=b&page_size=5", ""},
		{"search_post", searchPost, nil, "", `{"query":"dune","pageSize":5,"tags":["a","b"]}`},
		{"kinds_scalars", kindsStar, nil, "", fastRequestSeeds[1].body},
		{"kinds_lists", kindsStar, nil, "", fastRequestSeeds[2].body},
		{"kinds_maps", kindsStar, nil, "", fastRequestSeeds[3].body},
		{"kinds_wrappers", kindsStar, nil, "", fastRequestSeeds[4].body},
		{"kinds_wkts", kindsStar, nil, "", fastRequestSeeds[5].body},
		{"kinds_unknown_skipped", kindsStar, nil, "", fastRequestSeeds[10].body},
		{"kinds_repeated_body", withBody(kindsQuery, "r_i64"), nil, "", `["1",2]`},
		{"kinds_map_body", withBody(kindsQuery, "by_i32"), nil, "", `{"1":"a"}`},
		{"kinds_any", kindsStar, nil, "", `{"any":{"x":"a","@type":"type.googleapis.com/bindingtest.v1.Inner","y":2}}`},
		{"kinds_any_wkt", kindsStar, nil, "", `{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.5s"}}`},
		{"kinds_any_pretty", kindsStar, nil, "", "{\"any\": {\"@type\": \"type.googleapis.com/bindingtest.v1.Inner\", \"x\": \"a\"}}"},
		{"kinds_any_in_any", kindsStar, nil, "", `{"any":{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/bindingtest.v1.Kinds","i32":1,"any":{}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule.rule(t)
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRequest(t, s, r, tt.params, q, []byte(tt.body), "application/json") {
				t.Fatalf("the fast path declined a common request")
			}
		})
	}
}

// sameReply fails t unless the fast path's rendering of b (when taken) is
// byte for byte the reference's.
func sameReply(t *testing.T, r *Rule, b []byte) (taken bool) {
	t.Helper()
	fast, ok, fastErr := r.fastReply(b)
	if ok && fastErr != nil {
		// Too deep: refused on the fast path's own authority; the
		// reference must not be asked, as it may not stop.
		if !errors.Is(fastErr, wirejson.ErrTooDeep) {
			t.Fatalf("%s: the fast path refused with %v", r.Method().FullName(), fastErr)
		}
		return true
	}
	ref, ct, err := r.referenceReply(b)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s: the fast path rendered a reply the reference refuses (%v): %x", r.Method().FullName(), err, b)
	}
	if ct != jsonContentType || !bytes.Equal(fast, ref) {
		t.Fatalf("%s: the paths differ on %x\nfast      %s\nreference %s (%s)", r.Method().FullName(), b, fast, ref, ct)
	}
	return true
}

// replyRules cover each response_body form and each rendering option.
var replyRules = []binding{
	getBook,
	listShelves,
	{method: kinds},
	{method: kinds, opts: Options{EmitUnpopulated: true}},
	{method: kinds, opts: Options{UseProtoNames: true, UseEnumNumbers: true}},
	{method: kinds, resp: "r_i64"},
	{method: kinds, resp: "children", opts: Options{EmitUnpopulated: true}},
	{method: kinds, resp: "color"},
	{method: kinds, resp: "nested"},
	{method: kinds, resp: "val"},
	{method: legacy},
	{method: legacy, opts: Options{EmitUnpopulated: true}},
	{method: proto3Method, opts: Options{EmitUnpopulated: true, UseProtoNames: true}},
	withDepth(binding{method: kinds}, 3),
}

// anyBodies are Kinds with an Any of each shape: a message, well-known
// types, an Any in an Any, an empty one.
var anyBodies = []string{
	`{"any":{"x":"a","@type":"type.googleapis.com/bindingtest.v1.Inner","y":2}}`,
	`{"any":{"@type":"type.googleapis.com/bindingtest.v1.Inner"}}`,
	`{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.5s"}}`,
	`{"any":{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}}`,
	`{"any":{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/bindingtest.v1.Kinds","i32":1,"any":{}}}}`,
	`{"any":{}}`,
}

// FuzzFastReply renders arbitrary wire bytes with each reply rule on both
// paths. Its seeds are valid encodings of varied messages.
func FuzzFastReply(f *testing.F) {
	s := loadSchema(f)
	for _, seed := range fastRequestSeeds[1:6] {
		f.Add(s.encode(f, s.message(f, "bindingtest.v1.Kinds"), seed.body))
	}
	for _, body := range anyBodies {
		f.Add(s.encode(f, s.message(f, "bindingtest.v1.Kinds"), body))
	}
	f.Add(s.encode(f, s.message(f, "library.v1.Book"), fullBook))
	f.Add([]byte{0x0a, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rb := range replyRules {
			sameReply(t, rb.rule(t), b)
		}
	})
}

func TestFastPathTakesCommonReplies(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	book := s.encode(t, s.message(t, "library.v1.Book"), fullBook)
	shelves := s.encode(t, s.message(t, "library.v1.ListShelvesResponse"), `{"shelves":[{"name":"shelves/1","theme":"sf"},{"name":"shelves/2"}]}`)
	for i, seed := range fastRequestSeeds[1:6] {
		k := s.encode(t, s.message(t, "bindingtest.v1.Kinds"), seed.body)
		for _, rb := range replyRules[2:10] {
			if !sameReply(t, rb.rule(t), k) && rb.resp == "" {
				t.Errorf("kinds seed %d, %+v: the fast path declined", i, rb)
			}
		}
	}
	for _, body := range anyBodies {
		k := s.encode(t, s.message(t, "bindingtest.v1.Kinds"), body)
		for _, rb := range replyRules[2:5] {
			if !sameReply(t, rb.rule(t), k) {
				t.Errorf("%s, %+v: the fast path declined", body, rb)
			}
		}
	}
	if !sameReply(t, getBook.rule(t), book) {
		t.Error("GetBook: the fast path declined")
	}
	if !sameReply(t, listShelves.rule(t), shelves) {
		t.Error("ListShelves: the fast path declined")
	}
}

// TestFastPathDeclines: inputs the reference refuses, or takes in ways the
// fast path leaves to it, must be declined, never built differently.
func TestFastPathDeclines(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	bigMap := func(dupAt int) string {
		var b bytes.Buffer
		b.WriteString(`{"byI32":{`)
		for i := 0; i < 100; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dupAt {
				k = 3
			}
			fmt.Fprintf(&b, `"%d":"v%d"`, k, i)
		}
		b.WriteString(`}}`)
		return b.String()
	}
	tests := []struct {
		name string
		rule binding
		body string
	}{
		{"duplicate key late in a big map", kindsStar, bigMap(99)},
		{"duplicate key early in a big map", kindsStar, bigMap(10)},
		{"duplicate key spelled differently", kindsStar, `{"byI32":{"1":"a","01":"b"}}`},
		{"field under both names", kindsStar, `{"rI64":["1"],"r_i64":["2"]}`},
		{"two members of a oneof", kindsStar, `{"a":"x","inner":{}}`},
		{"integer with an exponent", kindsStar, `{"i32":1e2}`},
		{"integer string with a space", kindsStar, `{"i64":" 5"}`},
		{"unknown enum name", kindsStar, `{"color":"PURPLE"}`},
		{"float32 out of range", kindsStar, `{"flt":1e39}`},
		{"lone surrogate", kindsStar, `{"s":"\ud800"}`},
		{"null body", kindsStar, `null`},
		{"trailing data", kindsStar, `{} {}`},
		{"unknown field when strict", strict(kindsStar), `{"nope":1}`},
		{"Any of an unknown type", kindsStar, `{"any":{"@type":"type.googleapis.com/x.Nope"}}`},
		{"too deep", withDepth(kindsStar, 3), `{"self":{"self":{"self":{}}}}`},
		{"null for a repeated Value", binding{method: queryGet, body: "*"}, `{"repeatedValue":null,"int32Value":7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if sameRequest(t, s, tt.rule.rule(t), nil, nil, []byte(tt.body), "application/json") {
				t.Errorf("the fast path took %s", tt.body)
			}
		})
	}
	// Without the duplicate the big map is taken, and built as the
	// reference builds it.
	if !sameRequest(t, s, kindsStar.rule(t), nil, nil, []byte(bigMap(-1)), "application/json") {
		t.Error("the fast path declined a big map")
	}
}

// TestReplyAnyDepth: protojson decodes Any contents afresh, so a chain of
// Anys could nest without bound and overflow the stack. The fast path
// counts them against the reply's limit and refuses deeper replies itself.
func TestReplyAnyDepth(t *testing.T) {
	t.Parallel()
	r := binding{method: kinds}.rule(t)
	nest := func(levels int) []byte {
		b := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1) // i32 = 1
		for i := 0; i < levels; i++ {
			var any []byte
			any = protowire.AppendString(protowire.AppendTag(any, 1, protowire.BytesType), "type.googleapis.com/bindingtest.v1.Kinds")
			any = protowire.AppendBytes(protowire.AppendTag(any, 2, protowire.BytesType), b)
			b = protowire.AppendBytes(protowire.AppendTag(nil, 36, protowire.BytesType), any)
		}
		return b
	}
	if _, _, err := r.Reply(nest(10)); err != nil {
		t.Fatalf("10 Anys deep: %v", err)
	}
	_, _, err := r.Reply(nest(5000))
	var te *translate.Error
	if !errors.As(err, &te) || te.Code != codes.Internal || !errors.Is(err, wirejson.ErrTooDeep) {
		t.Fatalf("5000 Anys deep: %v, want INTERNAL for a reply nested too deep", err)
	}
}
