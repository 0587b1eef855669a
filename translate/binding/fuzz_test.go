package binding

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	// grpc-gateway's own query fuzz seeds (runtime/query_fuzz_test.go), for
	// the rules on its example message.
	for _, q := range gatewayFuzzSeeds {
		f.Add([]byte(nil), q, "5")
	}
	// The shapes of issue 15: well-known types from one value, Go
	// durations, numbers proto3 JSON does not have, a field under two names,
	// paths past a value, bound fields.
	f.Add([]byte(`{"inner_name":"b"}`), `struct_value={"a":[1,{"b":null}]}&value_value="x"&list_value=[]&empty_value=&repeated_empty={}&value_map[k]=1`, "5")
	f.Add([]byte(nil), "duration_value=13h0m0s&repeated_duration=1m30s&repeated_duration=1.5%C2%B5s&duration_map[a]=1h", "5")
	f.Add([]byte(nil), "float_value=0x1p4&double_value=Inf&wrapped_double=NaN&repeated_float=-Infinity&double_map[k]=1_0", "0x1p4")
	f.Add([]byte(nil), "repeated_int32=1&repeatedInt32=2&repeated_value=a&repeatedValue=b&int32_value=1&int32Value=2", "-1")
	f.Add([]byte(nil), "int32_value.nested=1&repeated_message.inner_name=x&timestamp_value.seconds=9&string_map.k=v&wrapped_int32.value=3", "9")
	f.Add([]byte(`{"string_value":"b"}`), "timestamp_value=2020-01-01T00:00:00Z&timestampValue.seconds=7&nested.string_value=q&nested=x", "5")
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
			if len(query) > 0 {
				checkBoundFieldsWin(t, s, r, ps, body, m)
			}
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
			{method: proto3Method},
			strict(binding{method: proto3Method}),
			{method: proto3Method, path: []string{"timestamp_value.seconds"}, body: "nested"},
			strict(binding{method: proto3Method, path: []string{"timestamp_value.seconds"}, body: "nested"}),
			{method: queryGet, path: []string{"wrapped_int32", "inner_message.inner_name"}, body: "repeated_int32"},
			strict(binding{method: queryGet, path: []string{"wrapped_int32", "inner_message.inner_name"}, body: "repeated_int32"}),
			withDepth(binding{method: queryGet}, 6),
			{method: legacyQuery, path: []string{"query_id"}},
			{method: queryGet, body: "*"},
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

// checkBoundFieldsWin checks rule 4 of issue 15 on a request that built:
// the query changed no field that the path or the body binds. The same
// request without its query must bind those fields the same.
func checkBoundFieldsWin(t *testing.T, s *schema, r *Rule, ps routes.Params, body []byte, built protoreflect.Message) {
	t.Helper()
	if len(r.pathVars) == 0 && r.body != bodyField {
		return
	}
	alone, err := r.Request(ps, nil, body, "application/json")
	if err != nil {
		return // the query was needed (a proto2 required field, say)
	}
	m := dynamicpb.NewMessage(r.Input())
	if err := (proto.UnmarshalOptions{Resolver: s.res}).Unmarshal(alone, m); err != nil {
		t.Fatal(err)
	}
	for _, pv := range r.pathVars {
		if a, b := fieldBytes(built, pv.fields), fieldBytes(m, pv.fields); !bytes.Equal(a, b) {
			t.Fatalf("%s: the query changed path-bound %s", r.Method().FullName(), pv.path)
		}
	}
	if r.body == bodyField {
		fds := []protoreflect.FieldDescriptor{r.bodyField}
		if a, b := fieldBytes(built, fds), fieldBytes(m, fds); !bytes.Equal(a, b) {
			t.Fatalf("%s: the query changed body-bound %s", r.Method().FullName(), r.bodyField.Name())
		}
	}
}

// fieldBytes is the wire form of the field at the end of fds, alone in its
// message, or nil when a message on the way is unset.
func fieldBytes(m protoreflect.Message, fds []protoreflect.FieldDescriptor) []byte {
	last := len(fds) - 1
	for _, fd := range fds[:last] {
		if !m.Has(fd) {
			return nil
		}
		m = m.Get(fd).Message()
	}
	only := m.New()
	if m.Has(fds[last]) {
		only.Set(fds[last], m.Get(fds[last]))
	}
	b, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(only.Interface())
	if err != nil {
		return []byte(err.Error())
	}
	return b
}

// gatewayFuzzSeeds are the seeds of grpc-gateway's FuzzPopulateQueryParameters
// (v2.30.0, runtime/query_fuzz_test.go).
var gatewayFuzzSeeds = []string{
	"bool_value=true&bytes_value=YWJjMTIzIT8kKiYoKSctPUB-&double_value=2.5&duration_value=13h0m0s&enum_value=1&fieldmask_value=float_value%2Cdouble_value&float_value=1.5&int32_value=-2&int64_value=-1&map_value10%5Bkey%5D=1.5&map_value11%5B1.5%5D=value&map_value12%5Bkey%5D=2.5&map_value13%5B2.5%5D=value&map_value14%5Bkey%5D=true&map_value15%5Btrue%5D=value&map_value16%5Bkey%5D=2&map_value2%5Bkey%5D=-2&map_value3%5B-2%5D=value&map_value4%5Bkey%5D=-1&map_value5%5B-1%5D=value&map_value6%5Bkey%5D=3&map_value7%5B3%5D=value&map_value8%5Bkey%5D=4&map_value9%5B4%5D=value&map_value%5Bfourth%5D=&map_value%5Bkey%5D=value&map_value%5Bsecond%5D=bar&map_value%5Bthird%5D=zzz&map_value%5B~%21%40%23%24%25%5E%26%2A%28%29%5D=value&repeated_enum=1&repeated_enum=2&repeated_enum=0&repeated_message=1&repeated_message=2&repeated_message=3&repeated_value=a&repeated_value=b&repeated_value=c&string_value=str&struct_value=%7B%22a%22%3A%7B%22b%22%3A1%7D%7D&struct_value_value=%7B%22a%22%3A%7B%22b%22%3A1%7D%7D&timestamp_value=2016-12-15T12%3A23%3A32.000000049Z&uint32_value=4&uint64_value=3&wrapper_bool_value=true&wrapper_bytes_value=YWJjMTIzIT8kKiYoKSctPUB-&wrapper_double_value=2.5&wrapper_float_value=1.5&wrapper_int32_value=-2&wrapper_int64_value=-1&wrapper_string_value=str&wrapper_u_int32_value=4&wrapper_u_int64_value=3",
	"boolValue=true&bytesValue=Ynl0ZXM%3D&doubleValue=2.5&durationValue=13h0m0s&enumValue=1&fieldmaskValue=float_value%2Cdouble_value&floatValue=1.5&int32Value=-2&int64Value=-1&repeatedEnum=1&repeatedEnum=2&repeatedEnum=0&repeatedValue=a&repeatedValue=b&repeatedValue=c&stringValue=str&struct_value=%7B%7D&struct_value_value=%22%22&timestampValue=2016-12-15T12%3A23%3A32.000000049Z&uint32Value=4&uint64Value=3&wrapperBoolValue=true&wrapperBytesValue=Ynl0ZXM%3D&wrapperDoubleValue=2.5&wrapperFloatValue=1.5&wrapperInt32Value=-2&wrapperInt64Value=-1&wrapperStringValue=str&wrapperUInt32Value=4&wrapperUInt64Value=3",
	"enum_value=Z&repeated_enum=X&repeated_enum=2&repeated_enum=0&struct_value=%7B%22c%22%3A%5B1%2C2%5D%2C%22d%22%3A%5B%7B%22e%22%3A1%2C%22f%22%3A%7B%7D%7D%5D%7D&struct_value_value=%7B%7D",
	"struct_value_value=%5B%5D",
	"bool_value=true&double_value=2.5&float_value=1.5&int32_value=-2&int64_value=-1&repeated_value=a&repeated_value=b&repeated_value=c&string_value=str&uint32_value=4&uint64_value=3",
	"boolValue=true&doubleValue=2.5&floatValue=1.5&int32Value=-2&int64Value=-1&repeatedValue=a&repeatedValue=b&repeatedValue=c&stringValue=str&uint32Value=4&uint64Value=",
	"nested.nested.map_value%5Bfirst%5D=foo&nested.nested.map_value%5Bsecond%5D=bar&nested.nested.nested.repeated_value=a&nested.nested.nested.repeated_value=b&nested.nested.nested.repeated_value=c&nested.nested.nested.string_value=s&nested.nested.string_value=t&nested.string_value=u",
	"oneof_string_value=foobar",
	"nested_oneof_value_one.int64Value=-1&nested_oneof_value_one.string_value=foo",
}
