package binding

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

const (
	queryGet    = "bindingtest.v1.QueryService.Get"
	legacyQuery = "bindingtest.v1.LegacyService.Query"
)

var (
	queryRule  = binding{method: queryGet}
	legacyRule = binding{method: legacyQuery, path: []string{"query_id"}}
	legacyID   = params("query_id", "q")
)

// queryCase is one test of the query binding. It runs twice: with the query
// as written, in proto field names, and with every field name in its keys
// (and in refuse) respelled as its json_name.
type queryCase struct {
	name   string
	rule   binding
	params routes.Params
	body   string   // JSON, for rules with a body
	query  string   // the raw query string, keys in proto names
	want   string   // the built message as JSON (either name form), when it builds
	refuse []string // when refused: the parameters its field violations name, in proto names
	asIs   bool     // the query spells names both ways on purpose: run it as written only
}

func runQueryCases(t *testing.T, cases []queryCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("two cases named %s", tc.name)
		}
		seen[tc.name] = true
		if (tc.want == "") == (tc.refuse == nil) {
			t.Fatalf("%s: give want or refuse", tc.name)
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spellings := []string{"proto_names", "json_names"}
			if tc.asIs {
				spellings = spellings[:1]
			}
			for _, sp := range spellings {
				t.Run(sp, func(t *testing.T) {
					r := tc.rule.rule(t)
					raw, refuse := tc.query, slices.Clone(tc.refuse)
					if sp == "json_names" {
						raw = respellQuery(t, r.Input(), raw)
						for i, k := range refuse {
							refuse[i] = respellKey(r.Input(), k)
						}
					}
					checkQueryCase(t, r, tc, raw, refuse)
				})
			}
		})
	}
}

func checkQueryCase(t *testing.T, r *Rule, tc queryCase, raw string, refuse []string) {
	t.Helper()
	s := loadSchema(t)
	query, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("bad test query %q: %v", raw, err)
	}
	ct := ""
	if tc.body != "" {
		ct = "application/json"
	}
	got, err := r.Request(tc.params, query, []byte(tc.body), ct)
	if refuse == nil {
		if err != nil {
			t.Fatalf("query %s: %v", raw, err)
		}
		if g, w := renderBuilt(t, s, r.Input(), got), renderJSON(t, s, r.Input(), tc.want); g != w {
			t.Errorf("query %s built\n got %s\nwant %s", raw, g, w)
		}
		return
	}
	if err == nil {
		t.Fatalf("query %s built %s; want it refused", raw, renderBuilt(t, s, r.Input(), got))
	}
	fields := violationFields(t, err)
	slices.Sort(fields)
	slices.Sort(refuse)
	if !slices.Equal(fields, refuse) {
		t.Errorf("query %s: violations name %q, want %q (%v)", raw, fields, refuse, err)
	}
}

// violationFields checks that err is a 400 INVALID_ARGUMENT and returns the
// fields its google.rpc.BadRequest names.
func violationFields(t *testing.T, err error) []string {
	t.Helper()
	var e *translate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *translate.Error: %v", err, err)
	}
	if e.Status() != 400 || e.Code != codes.InvalidArgument {
		t.Fatalf("status %d, code %v; want 400 INVALID_ARGUMENT (%v)", e.Status(), e.Code, e)
	}
	var fields []string
	for _, d := range e.Details {
		var br errdetails.BadRequest
		if d.MessageIs(&br) {
			if err := d.UnmarshalTo(&br); err != nil {
				t.Fatal(err)
			}
			for _, v := range br.GetFieldViolations() {
				if v.GetDescription() == "" {
					t.Errorf("violation of %q has no description", v.GetField())
				}
				fields = append(fields, v.GetField())
			}
		}
	}
	if fields == nil {
		t.Fatalf("no field violations in %v", e)
	}
	return fields
}

// renderBuilt renders a built request as compact JSON with proto names.
func renderBuilt(t *testing.T, s *schema, md protoreflect.MessageDescriptor, b []byte) string {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: s.res, AllowPartial: true}).Unmarshal(b, m); err != nil {
		t.Fatalf("built request does not decode: %v", err)
	}
	return renderMessage(t, s, m)
}

// renderJSON renders the JSON of a message of type md the same way, so that
// two JSON texts of one message compare equal.
func renderJSON(t *testing.T, s *schema, md protoreflect.MessageDescriptor, js string) string {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: s.res, AllowPartial: true}).Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("test JSON %s: %v", js, err)
	}
	return renderMessage(t, s, m)
}

func renderMessage(t *testing.T, s *schema, m proto.Message) string {
	t.Helper()
	out, err := protojson.MarshalOptions{UseProtoNames: true, Resolver: s.res, AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return string(translate.CompactJSON(out))
}

// respellQuery rewrites the keys of a raw query string with every field
// name as its json_name, keeping the pairs in order and the values as they
// are.
func respellQuery(t *testing.T, md protoreflect.MessageDescriptor, raw string) string {
	t.Helper()
	if raw == "" {
		return ""
	}
	pairs := strings.Split(raw, "&")
	for i, p := range pairs {
		k, v, hasValue := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			t.Fatalf("bad test key %q: %v", k, err)
		}
		pairs[i] = url.QueryEscape(respellKey(md, key))
		if hasValue {
			pairs[i] += "=" + v
		}
	}
	return strings.Join(pairs, "&")
}

// respellKey turns each segment of a key that names a field into the
// field's json_name, up to the first one that does not.
func respellKey(md protoreflect.MessageDescriptor, key string) string {
	path, suffix := key, ""
	if i := strings.IndexByte(key, '['); i >= 0 {
		path, suffix = key[:i], key[i:]
	}
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		if md == nil {
			break
		}
		fd := fieldByName(md, seg)
		if fd == nil {
			break
		}
		segs[i] = fd.JSONName()
		md = nil
		if isSingularMessage(fd) {
			md = fd.Message()
		}
	}
	return strings.Join(segs, ".") + suffix
}

func TestRespellKey(t *testing.T) {
	t.Parallel()
	md := loadSchema(t).message(t, "bindingtest.v1.QueryKinds")
	for in, want := range map[string]string{
		"int32_value":                     "int32Value",
		"inner_message.inner_time.nanos":  "innerMessage.innerTime.nanos",
		"string_map[a_b]":                 "stringMap[a_b]",
		"bogus_key.inner_name":            "bogus_key.inner_name",
		"int32_value.not_a_field":         "int32Value.not_a_field",
		"nested_kinds.repeated_int32.x_y": "nestedKinds.repeatedInt32.x_y",
	} {
		if got := respellKey(md, in); got != want {
			t.Errorf("respellKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQueryKinds: every scalar kind and every well-known type from the
// query, in both spellings, proto3 and proto2.
func TestQueryKinds(t *testing.T) {
	t.Parallel()
	runQueryCases(t, []queryCase{
		{name: "every_scalar", rule: queryRule,
			query: "int32_value=-2147483648&int64_value=-9223372036854775808&uint32_value=4294967295" +
				"&uint64_value=18446744073709551615&sint32_value=-5&sint64_value=-6&fixed32_value=7&fixed64_value=8" +
				"&sfixed32_value=-9&sfixed64_value=-10&float_value=1.5&double_value=-2.5e-3&bool_value=true" +
				"&string_value=h%C3%A9llo&bytes_value=AQID&enum_value=DARK&optional_int32=0&optional_string=",
			want: `{"int32_value":-2147483648,"int64_value":"-9223372036854775808","uint32_value":4294967295,` +
				`"uint64_value":"18446744073709551615","sint32_value":-5,"sint64_value":"-6","fixed32_value":7,"fixed64_value":"8",` +
				`"sfixed32_value":-9,"sfixed64_value":"-10","float_value":1.5,"double_value":-0.0025,"bool_value":true,` +
				`"string_value":"héllo","bytes_value":"AQID","enum_value":"DARK","optional_int32":0,"optional_string":""}`},
		{name: "every_single_value_wkt", rule: queryRule,
			query: `duration_value=1.5s&empty_value=&field_mask=innerName,inner_message.inner_count&struct_value={"a":1}` +
				`&value_value="x"&list_value=[1,"a"]&null_value=NULL_VALUE&timestamp_value=2016-12-15T12:23:32.000000049Z` +
				`&wrapped_double=2.5&wrapped_float=-1.5&wrapped_int64=-1&wrapped_uint64=3&wrapped_int32=-2` +
				`&wrapped_uint32=4&wrapped_bool=false&wrapped_string=&wrapped_bytes=-_8`,
			want: `{"duration_value":"1.5s","empty_value":{},"field_mask":"innerName,innerMessage.innerCount",` +
				`"struct_value":{"a":1},"value_value":"x","list_value":[1,"a"],"timestamp_value":"2016-12-15T12:23:32.000000049Z",` +
				`"wrapped_double":2.5,"wrapped_float":-1.5,"wrapped_int64":"-1","wrapped_uint64":"3","wrapped_int32":-2,` +
				`"wrapped_uint32":4,"wrapped_bool":false,"wrapped_string":"","wrapped_bytes":"+/8="}`},
		{name: "repeated_wkts", rule: queryRule,
			query: `repeated_timestamp=2024-01-01T00:00:00Z&repeated_duration=1m30s&repeated_value={"a":null}` +
				`&repeated_struct={}&repeated_list=[]&repeated_empty=&repeated_wrapped=3&repeated_mask=a,b`,
			want: `{"repeated_timestamp":["2024-01-01T00:00:00Z"],"repeated_duration":["90s"],"repeated_value":[{"a":null}],` +
				`"repeated_struct":[{}],"repeated_list":[[]],"repeated_empty":[{}],"repeated_wrapped":["3"],"repeated_mask":["a,b"]}`},
		{name: "maps_every_key_kind", rule: queryRule,
			query: "string_map[k]=v&int32_map[-1]=a&int64_map[-9223372036854775808]=b&uint32_map[4294967295]=c" +
				"&uint64_map[18446744073709551615]=d&sint32_map[-2]=e&sint64_map[-3]=f&fixed32_map[4]=g&fixed64_map[5]=h" +
				"&sfixed32_map[-6]=i&sfixed64_map[-7]=j&bool_map[false]=k&double_map[x]=-Infinity&bytes_map[y]=AQID" +
				"&enum_map[z]=2&wrapped_map[w]=-3",
			want: `{"string_map":{"k":"v"},"int32_map":{"-1":"a"},"int64_map":{"-9223372036854775808":"b"},` +
				`"uint32_map":{"4294967295":"c"},"uint64_map":{"18446744073709551615":"d"},"sint32_map":{"-2":"e"},` +
				`"sint64_map":{"-3":"f"},"fixed32_map":{"4":"g"},"fixed64_map":{"5":"h"},"sfixed32_map":{"-6":"i"},` +
				`"sfixed64_map":{"-7":"j"},"bool_map":{"false":"k"},"double_map":{"x":"-Infinity"},"bytes_map":{"y":"AQID"},` +
				`"enum_map":{"z":"DARK"},"wrapped_map":{"w":-3}}`},
		{name: "maps_of_wkts", rule: queryRule,
			query: `value_map[v]={"a":[1]}&struct_map[s]={"b":true}&duration_map[d]=13h0m0s&empty_map[e]={}`,
			want:  `{"value_map":{"v":{"a":[1]}},"struct_map":{"s":{"b":true}},"duration_map":{"d":"46800s"},"empty_map":{"e":{}}}`},
		{name: "map_of_messages", rule: queryRule, query: "message_map[k]=x", refuse: []string{"message_map[k]"}},
		{name: "oneof_wkt_member", rule: queryRule, query: `choice_struct={"a":1}`, want: `{"choice_struct":{"a":1}}`},
		{name: "oneof_message_member", rule: queryRule, query: "choice_message.inner_name=n&choice_message.inner_count=2",
			want: `{"choice_message":{"inner_name":"n","inner_count":2}}`},
		{name: "oneof_two_members", rule: queryRule, query: "choice_string=s&choice_timestamp=2024-01-01T00:00:00Z",
			refuse: []string{"choice_timestamp"}},
		{name: "nested", rule: queryRule,
			query: "nested_kinds.nested_kinds.int64_value=1&nested_kinds.struct_value={}&inner_message.inner_time=2024-01-01T00:00:00Z",
			want:  `{"nested_kinds":{"nested_kinds":{"int64_value":"1"},"struct_value":{}},"inner_message":{"inner_time":"2024-01-01T00:00:00Z"}}`},
		// Any has no one-value form: a body gives it as an object with @type.
		// Its two fields can be set, as grpc-gateway sets them.
		{name: "any_from_one_value", rule: queryRule, query: `any_value={"@type":"type.googleapis.com/google.protobuf.Empty"}`,
			refuse: []string{"any_value"}},
		{name: "any_fields", rule: queryRule, query: "any_value.type_url=type.googleapis.com/google.protobuf.Empty&any_value.value=",
			want: `{"any_value":{"@type":"type.googleapis.com/google.protobuf.Empty"}}`},
		{name: "null_value", rule: queryRule, query: "null_value=0&value_value=null", want: `{"value_value":null}`},

		// proto2.
		{name: "proto2_every_scalar", rule: legacyRule, params: legacyID,
			query: "int32_value=0&int64_value=-1&uint32_value=2&uint64_value=3&sint32_value=-4&sint64_value=-5" +
				"&fixed32_value=6&fixed64_value=7&sfixed32_value=-8&sfixed64_value=-9&float_value=0&double_value=NaN" +
				"&bool_value=false&string_value=&bytes_value=&level_value=HIGH",
			want: `{"query_id":"q","int32_value":0,"int64_value":"-1","uint32_value":2,"uint64_value":"3","sint32_value":-4,` +
				`"sint64_value":"-5","fixed32_value":6,"fixed64_value":"7","sfixed32_value":-8,"sfixed64_value":"-9",` +
				`"float_value":0,"double_value":"NaN","bool_value":false,"string_value":"","bytes_value":"","level_value":"HIGH"}`},
		{name: "proto2_group_oneof_map", rule: legacyRule, params: legacyID,
			query: "ExtraGroup.extra_note=n&pick_number=5&level_map[a]=LOW&repeated_level=2&repeated_level=LOW",
			want: `{"query_id":"q","ExtraGroup":{"extra_note":"n"},"pick_number":"5","level_map":{"a":"LOW"},` +
				`"repeated_level":["HIGH","LOW"]}`},
		{name: "proto2_group_as_value", rule: legacyRule, params: legacyID, query: "ExtraGroup=x", refuse: []string{"ExtraGroup"}},
		{name: "proto2_closed_enum", rule: legacyRule, params: legacyID, query: "level_value=3&level_map[a]=0",
			refuse: []string{"level_value", "level_map[a]"}},
		{name: "proto2_nested_required", rule: legacyRule, params: legacyID, query: "nested_query.int32_value=1",
			refuse: []string{"nested_query.query_id"}, asIs: true},
		{name: "proto2_nested_required_set", rule: legacyRule, params: legacyID, query: "nested_query.query_id=n",
			want: `{"query_id":"q","nested_query":{"query_id":"n"}}`},
	})
}

// TestQueryOneValueWKTs is rule 1 of issue 15: Struct, Value and ListValue
// from the JSON text of one parameter, Empty from no value or {}.
func TestQueryOneValueWKTs(t *testing.T) {
	t.Parallel()
	var cases []queryCase
	for i, js := range []string{`{"a":{"b":1}}`, `""`, `{}`, `[]`, `true`, `0`, `null`, `"text"`, `-1.5e3`, ` [ 1 , {"x":[null]} ] `} {
		cases = append(cases, queryCase{name: "value_" + string(rune('a'+i)), rule: queryRule,
			query: "value_value=" + url.QueryEscape(js), want: `{"value_value":` + js + `}`})
	}
	cases = append(cases, []queryCase{
		{name: "struct", rule: queryRule, query: `struct_value={"a":1,"b":[true,null,"x"],"c":{"d":{}}}`,
			want: `{"struct_value":{"a":1,"b":[true,null,"x"],"c":{"d":{}}}}`},
		{name: "struct_empty", rule: queryRule, query: `struct_value={}`, want: `{"struct_value":{}}`},
		{name: "struct_escaped", rule: queryRule, query: "struct_value=" + url.QueryEscape(`{"a&b=c":"\u00e9 \ud83d\ude00"}`),
			want: `{"struct_value":{"a&b=c":"é 😀"}}`},
		{name: "struct_array", rule: queryRule, query: `struct_value=[]`, refuse: []string{"struct_value"}},
		{name: "struct_scalar", rule: queryRule, query: `struct_value=1`, refuse: []string{"struct_value"}},
		{name: "struct_no_value", rule: queryRule, query: `struct_value=`, refuse: []string{"struct_value"}},
		{name: "struct_not_json", rule: queryRule, query: `struct_value={a:1}`, refuse: []string{"struct_value"}},
		{name: "struct_duplicate_key", rule: queryRule, query: `struct_value={"a":1,"a":2}`, refuse: []string{"struct_value"}},
		{name: "struct_invalid_utf8", rule: queryRule, query: `struct_value={"a":"%FF"}`, refuse: []string{"struct_value"}},
		{name: "struct_lone_surrogate", rule: queryRule, query: `struct_value={"a":"\ud800"}`, refuse: []string{"struct_value"}},
		{name: "struct_trailing", rule: queryRule, query: `struct_value={}{}`, refuse: []string{"struct_value"}},
		{name: "struct_too_deep", rule: queryRule, query: "struct_value=" + deep("a", 100), refuse: []string{"struct_value"}},
		{name: "struct_twice", rule: queryRule, query: `struct_value={}&struct_value={}`, refuse: []string{"struct_value"}},
		{name: "value_bare_text", rule: queryRule, query: `value_value=text`, refuse: []string{"value_value"}},
		{name: "value_nan", rule: queryRule, query: `value_value=NaN`, refuse: []string{"value_value"}},
		{name: "value_no_value", rule: queryRule, query: `value_value=`, refuse: []string{"value_value"}},
		{name: "list", rule: queryRule, query: `list_value=[1,"a",{"b":null},[]]`, want: `{"list_value":[1,"a",{"b":null},[]]}`},
		{name: "list_object", rule: queryRule, query: `list_value={}`, refuse: []string{"list_value"}},
		{name: "empty_no_value", rule: queryRule, query: `empty_value=`, want: `{"empty_value":{}}`},
		{name: "empty_bare_key", rule: queryRule, query: `empty_value`, want: `{"empty_value":{}}`},
		{name: "empty_object", rule: queryRule, query: `empty_value=%7B%20%7D`, want: `{"empty_value":{}}`},
		{name: "empty_with_field", rule: queryRule, query: `empty_value={"a":1}`, refuse: []string{"empty_value"}},
		{name: "empty_null", rule: queryRule, query: `empty_value=null`, refuse: []string{"empty_value"}},
		{name: "empty_repeated", rule: queryRule, query: `repeated_empty=&repeated_empty={}`, want: `{"repeated_empty":[{},{}]}`},
		{name: "value_repeated_bad_element", rule: queryRule, query: `repeated_value=1&repeated_value=x`, refuse: []string{"repeated_value"}},
		{name: "value_map_bad", rule: queryRule, query: `value_map[k]=x`, refuse: []string{"value_map[k]"}},
		{name: "strict_struct", rule: strict(queryRule), query: `struct_value={"unknown":{"any":"thing"}}`,
			want: `{"struct_value":{"unknown":{"any":"thing"}}}`},
	}...)
	runQueryCases(t, cases)
}

// TestQueryJSONTextDepth checks that a Struct, Value or ListValue given in
// the query may nest exactly as deep as the same value in a body.
func TestQueryJSONTextDepth(t *testing.T) {
	t.Parallel()
	// Each key, and the body that puts the same value (%s) in the same place.
	places := map[string]string{
		"struct_value":                          `{"struct_value":%s}`,
		"value_value":                           `{"value_value":%s}`,
		"list_value":                            `{"list_value":%s}`,
		"nested_kinds.struct_value":             `{"nested_kinds":{"struct_value":%s}}`,
		"nested_kinds.nested_kinds.value_value": `{"nested_kinds":{"nested_kinds":{"value_value":%s}}}`,
		"value_map[k]":                          `{"value_map":{"k":%s}}`,
		"repeated_value":                        `{"repeated_value":[%s]}`,
	}
	for _, depth := range []int{2, 3, 4, 5, 8} {
		query := withDepth(queryRule, depth).rule(t)
		body := withDepth(withBody(queryRule, "*"), depth).rule(t)
		for key, place := range places {
			accepted := 0
			for n := 0; n < 6; n++ {
				js := strings.Repeat(`{"a":`, n) + "{}" + strings.Repeat("}", n)
				if key == "list_value" {
					js = strings.Repeat("[", n+1) + strings.Repeat("]", n+1)
				}
				_, qerr := query.Request(nil, url.Values{key: {js}}, nil, "")
				b := strings.Replace(place, "%s", js, 1)
				_, berr := body.Request(nil, nil, []byte(b), "application/json")
				if (qerr == nil) != (berr == nil) {
					t.Errorf("depth %d, %s=%s: query error %v; body %s error %v", depth, key, js, qerr, b, berr)
				}
				if qerr == nil {
					accepted++
				}
			}
			if depth == 8 && accepted == 0 {
				t.Errorf("depth 8, %s: nothing accepted", key)
			}
		}
	}
}

// TestQueryDurations is rule 2: a Duration is given as proto3 JSON has it,
// or as Go prints a time.Duration.
func TestQueryDurations(t *testing.T) {
	t.Parallel()
	var cases []queryCase
	for i, c := range []struct{ in, want string }{
		{"1.5s", "1.5s"}, {"-1.000000001s", "-1.000000001s"}, {"0s", "0s"}, {"315576000000s", "315576000000s"},
		{"13h0m0s", "46800s"}, {"1m30s", "90s"}, {"-1m30s", "-90s"}, {"1h0m0.5s", "3600.5s"}, {"500ms", "0.5s"},
		{"1.5%C2%B5s", "0.0000015s"}, {"2us", "0.000002s"}, {"2%CE%BCs", "0.000002s"}, {"10ns", "0.00000001s"},
		{"2562047h47m16.854775807s", "9223372036.854775807s"},
	} {
		cases = append(cases, queryCase{name: "ok_" + string(rune('a'+i)), rule: queryRule,
			query: "duration_value=" + c.in, want: `{"duration_value":"` + c.want + `"}`})
	}
	for i, in := range []string{
		"1h", "90m", "1h30m", "0", "5", "1.0000000001s", "01m30s", "+1m30s", "1m30", "1 s", "1m30s%20", "null", "",
		"1.5S", "P1D", "2562048h0m0s", "315576000001s", "1d",
	} {
		cases = append(cases, queryCase{name: "bad_" + string(rune('a'+i)), rule: queryRule,
			query: "duration_value=" + in, refuse: []string{"duration_value"}})
	}
	cases = append(cases,
		queryCase{name: "repeated", rule: queryRule, query: "repeated_duration=1m30s&repeated_duration=1s&repeated_duration=0.5s",
			want: `{"repeated_duration":["90s","1s","0.5s"]}`},
		queryCase{name: "map", rule: queryRule, query: "duration_map[a]=1m0s&duration_map[b]=1m", refuse: []string{"duration_map[b]"}},
	)
	runQueryCases(t, cases)
}

// TestQueryRefusals is rule 3: what cannot be meant is refused, lenient or
// strict, naming the parameter.
func TestQueryRefusals(t *testing.T) {
	t.Parallel()
	var cases []queryCase
	for _, r := range []binding{queryRule, strict(queryRule)} {
		prefix := "lenient_"
		if r.opts.Strict {
			prefix = "strict_"
		}
		// A dotted path through every kind of field that holds a value.
		for _, key := range []string{
			"int32_value.nested", "int64_value.nested", "uint32_value.nested", "uint64_value.nested",
			"sint32_value.nested", "sint64_value.nested", "fixed32_value.nested", "fixed64_value.nested",
			"sfixed32_value.nested", "sfixed64_value.nested", "float_value.nested", "double_value.nested",
			"bool_value.nested", "string_value.nested", "bytes_value.nested", "enum_value.nested",
			"optional_int32.nested", "choice_string.nested", "string_value.nested.deeper", "inner_message.inner_name.x",
			"repeated_int32.nested", "repeated_enum.nested", "repeated_string.nested",
			"repeated_message.inner_name", "repeated_wrapped.value", "repeated_timestamp.seconds", "repeated_value.null_value",
			"string_map.k", "message_map.k.inner_name", "string_map[k].x",
			"timestamp_value.seconds", "duration_value.nanos", "wrapped_int32.value", "struct_value.fields",
			"value_value.string_value", "list_value.values", "empty_value.x", "field_mask.paths",
			"choice_timestamp.seconds", "nested_kinds.timestamp_value.nanos",
		} {
			want := []string{key}
			if key == "string_map[k].x" {
				// Not a map entry: the key does not end in ]; it names
				// nothing.
				if !r.opts.Strict {
					cases = append(cases, queryCase{name: prefix + key, rule: r, query: key + "=1", want: `{}`})
					continue
				}
			}
			cases = append(cases, queryCase{name: prefix + key, rule: r, query: key + "=1", refuse: want})
		}
		// Numbers in forms proto3 JSON does not have.
		for _, q := range []string{
			"float_value=0x1p4", "double_value=0x1p-2", "double_value=0X1.8P1", "double_value=0x1p99999",
			"float_value=Inf", "float_value=-Inf", "double_value=+Inf", "double_value=inf", "double_value=infinity",
			"double_value=-infinity", "double_value=%2BInfinity", "double_value=INFINITY", "double_value=nan",
			"double_value=NAN", "double_value=1_000", "double_value=0x_1p4",
			"wrapped_double=0x10p0", "wrapped_float=Inf", "repeated_double=1&repeated_double=Inf",
			"repeated_float=0x1p0", "double_map[k]=-Inf", "int32_value=0x10", "int64_value=1_000", "uint64_value=0b1",
		} {
			key, _, _ := strings.Cut(q, "=")
			cases = append(cases, queryCase{name: prefix + q, rule: r, query: q, refuse: []string{key}})
		}
		// The same field under its two names.
		for _, c := range []struct{ query, refused string }{
			{"repeated_int32=1&repeatedInt32=2", "repeated_int32"},
			{"repeatedInt32=2&repeated_int32=1", "repeated_int32"},
			{"repeated_value=1&repeatedValue=2", "repeated_value"},
			{"repeated_timestamp=2024-01-01T00:00:00Z&repeatedTimestamp=2024-01-01T00:00:00Z", "repeated_timestamp"},
			{"inner_message.inner_tags=a&innerMessage.innerTags=b", "inner_message.inner_tags"},
			{"inner_message.inner_tags=a&innerMessage.inner_tags=b", "inner_message.inner_tags"},
			{"int32_value=1&int32Value=1", "int32_value"},
			{"string_map[k]=a&stringMap[k]=b", "string_map[k]"},
			{"struct_value={}&structValue={}", "struct_value"},
		} {
			cases = append(cases, queryCase{name: prefix + c.query, rule: r, query: c.query, refuse: []string{c.refused}, asIs: true})
		}
		cases = append(cases, queryCase{name: prefix + "map_two_names_two_entries", rule: r,
			query: "string_map[a]=1&stringMap[b]=2", want: `{"string_map":{"a":"1","b":"2"}}`, asIs: true})
	}
	// proto2 fields and the path variable binding a float.
	cases = append(cases,
		queryCase{name: "proto2_through_scalar", rule: legacyRule, params: legacyID, query: "int32_value.x=1&ExtraGroup.extra_note.y=2",
			refuse: []string{"int32_value.x", "ExtraGroup.extra_note.y"}},
		queryCase{name: "proto2_two_names", rule: legacyRule, params: legacyID, query: "repeated_value=a&repeatedValue=b",
			refuse: []string{"repeated_value"}, asIs: true},
		queryCase{name: "proto2_hex_float", rule: legacyRule, params: legacyID, query: "double_value=0x1p1", refuse: []string{"double_value"}},
		queryCase{name: "path_hex_float", rule: binding{method: queryGet, path: []string{"double_value"}},
			params: params("double_value", "0x1p4"), refuse: []string{"double_value"}, asIs: true},
		queryCase{name: "path_infinity", rule: binding{method: queryGet, path: []string{"double_value"}},
			params: params("double_value", "-Infinity"), want: `{"double_value":"-Infinity"}`},
	)
	// What still builds: proto3 JSON numbers, and unknown names, which are
	// ignored unless strict.
	cases = append(cases,
		queryCase{name: "json_numbers", rule: queryRule,
			query: "float_value=Infinity&double_value=-1.5E-3&wrapped_double=NaN&repeated_float=-Infinity&repeated_float=1e38&repeated_double=.5&repeated_double=-0",
			want:  `{"float_value":"Infinity","double_value":-0.0015,"wrapped_double":"NaN","repeated_float":["-Infinity",1e38],"repeated_double":[0.5,-0]}`},
		queryCase{name: "unknown_ignored", rule: queryRule, query: "bogus=1&bogus.x=2&inner_message.bogus=3&nested_kinds.bogus.x=4&int32_value=5",
			want: `{"int32_value":5}`},
		queryCase{name: "unknown_strict", rule: strict(queryRule), query: "bogus=1&inner_message.bogus=3&int32_value=5",
			refuse: []string{"bogus", "inner_message.bogus"}},
	)
	runQueryCases(t, cases)
}

// TestQueryBoundFields is rule 4: a parameter never changes a field that
// the path or the body binds, nor replaces a message holding one. It is
// ignored, or refused when strict.
func TestQueryBoundFields(t *testing.T) {
	t.Parallel()
	tsPath := binding{method: queryGet, path: []string{"timestamp_value.seconds"}}
	innerPath := binding{method: queryGet, path: []string{"inner_message.inner_name", "int32_value"}}
	wrapperPath := binding{method: queryGet, path: []string{"wrapped_int32"}}
	innerBody := binding{method: queryGet, body: "inner_message"}
	listBody := binding{method: queryGet, body: "repeated_int32"}
	starBody := binding{method: queryGet, body: "*"}
	tsParams := params("timestamp_value.seconds", "5")
	innerParams := params("inner_message.inner_name", "from-path", "int32_value", "7")
	var cases []queryCase
	for _, c := range []struct {
		name   string
		rule   binding
		params routes.Params
		body   string
		query  string
		want   string   // lenient
		refuse []string // strict
	}{
		{"replace_timestamp", tsPath, tsParams, "", "timestamp_value=2020-01-01T00:00:00Z",
			`{"timestamp_value":"1970-01-01T00:00:05Z"}`, []string{"timestamp_value"}},
		{"same_timestamp_field", tsPath, tsParams, "", "timestamp_value.seconds=9",
			`{"timestamp_value":"1970-01-01T00:00:05Z"}`, []string{"timestamp_value.seconds"}},
		{"under_timestamp_field", tsPath, tsParams, "", "timestamp_value.seconds.x=9",
			`{"timestamp_value":"1970-01-01T00:00:05Z"}`, []string{"timestamp_value.seconds.x"}},
		{"path_scalar", innerPath, innerParams, "", "int32_value=8&string_value=s",
			`{"inner_message":{"inner_name":"from-path"},"int32_value":7,"string_value":"s"}`, []string{"int32_value"}},
		{"path_nested", innerPath, innerParams, "", "inner_message.inner_name=q&inner_message.inner_count=3",
			`{"inner_message":{"inner_name":"from-path","inner_count":3},"int32_value":7}`, []string{"inner_message.inner_name"}},
		{"replace_message", innerPath, innerParams, "", "inner_message=x",
			`{"inner_message":{"inner_name":"from-path"},"int32_value":7}`, []string{"inner_message"}},
		{"under_path_scalar", innerPath, innerParams, "", "inner_message.inner_name.x=1&int32_value.y=2",
			`{"inner_message":{"inner_name":"from-path"},"int32_value":7}`, []string{"inner_message.inner_name.x", "int32_value.y"}},
		{"path_wrapper", wrapperPath, params("wrapped_int32", "1"), "", "wrapped_int32=2&wrapped_int32.value=3",
			`{"wrapped_int32":1}`, []string{"wrapped_int32", "wrapped_int32.value"}},
		{"body_message", innerBody, nil, `{"inner_name":"from-body"}`,
			"inner_message.inner_name=q&inner_message.inner_count=3&inner_message=x&string_value=s",
			`{"inner_message":{"inner_name":"from-body"},"string_value":"s"}`,
			[]string{"inner_message.inner_name", "inner_message.inner_count", "inner_message"}},
		{"body_message_empty", innerBody, nil, "", "inner_message.inner_count=3&inner_message.bogus.x=1",
			`{}`, []string{"inner_message.inner_count", "inner_message.bogus.x"}},
		{"body_repeated", listBody, nil, `[1,2]`, "repeated_int32=3&repeated_int32.x=4",
			`{"repeated_int32":[1,2]}`, []string{"repeated_int32", "repeated_int32.x"}},
		{"body_star", starBody, nil, `{"int32_value":1}`, "int32_value=2&string_value=s&bogus.x=1",
			`{"int32_value":1}`, []string{"int32_value", "string_value", "bogus.x"}},
		{"proto2_path", legacyRule, legacyID, "", "query_id=other&int32_value=1",
			`{"query_id":"q","int32_value":1}`, []string{"query_id"}},
	} {
		lenient := queryCase{name: c.name, rule: c.rule, params: c.params, body: c.body, query: c.query, want: c.want}
		strictCase := queryCase{name: "strict_" + c.name, rule: strict(c.rule), params: c.params, body: c.body, query: c.query, refuse: c.refuse}
		cases = append(cases, lenient, strictCase)
	}
	runQueryCases(t, cases)
}

// TestQueryOrder is rule 5: a repeated field's elements are in the order
// the query string gives them, whatever comes between.
func TestQueryOrder(t *testing.T) {
	t.Parallel()
	runQueryCases(t, []queryCase{
		{name: "scalars", rule: queryRule, query: "repeated_int32=3&repeated_int32=1&repeated_int32=2",
			want: `{"repeated_int32":[3,1,2]}`},
		{name: "interleaved", rule: queryRule,
			query: "repeated_string=c&string_value=x&repeated_string=a&inner_message.inner_tags=z&repeated_string=b&inner_message.inner_tags=a",
			want:  `{"repeated_string":["c","a","b"],"string_value":"x","inner_message":{"inner_tags":["z","a"]}}`},
		{name: "kinds", rule: queryRule,
			query: "repeated_enum=DARK&repeated_enum=0&repeated_enum=LIGHT&repeated_bool=true&repeated_bool=0&repeated_bytes=AQ&repeated_bytes=AA" +
				"&repeated_uint64=18446744073709551615&repeated_uint64=0&repeated_int64=-1&repeated_int64=1",
			want: `{"repeated_enum":["DARK","SHADE_UNSPECIFIED","LIGHT"],"repeated_bool":[true,false],"repeated_bytes":["AQ==","AA=="],` +
				`"repeated_uint64":["18446744073709551615","0"],"repeated_int64":["-1","1"]}`},
		{name: "wkts", rule: queryRule,
			query: `repeated_timestamp=2024-01-02T00:00:00Z&repeated_timestamp=2024-01-01T00:00:00Z&repeated_wrapped=3&repeated_wrapped=1` +
				`&repeated_value="b"&repeated_value="a"&repeated_struct={"z":1}&repeated_struct={"a":1}&repeated_mask=b&repeated_mask=a`,
			want: `{"repeated_timestamp":["2024-01-02T00:00:00Z","2024-01-01T00:00:00Z"],"repeated_wrapped":["3","1"],` +
				`"repeated_value":["b","a"],"repeated_struct":[{"z":1},{"a":1}],"repeated_mask":["b","a"]}`},
		{name: "nested", rule: queryRule, query: "nested_kinds.repeated_double=2&nested_kinds.repeated_double=-1&nested_kinds.repeated_double=1",
			want: `{"nested_kinds":{"repeated_double":[2,-1,1]}}`},
		{name: "proto2", rule: legacyRule, params: legacyID, query: "repeated_value=b&repeated_value=a&repeated_level=HIGH&repeated_level=1",
			want: `{"query_id":"q","repeated_value":["b","a"],"repeated_level":["HIGH","LOW"]}`},
	})
}

// TestQueryRefusalMessages pins the wording of the refusals this file adds,
// which the table tests check only by the field they name.
func TestQueryRefusalMessages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rule   binding
		params routes.Params
		query  string
		want   string
	}{
		{queryRule, nil, "int32_value.nested=1", `unknown query parameter "int32_value.nested"`},
		{queryRule, nil, "repeated_message.inner_name=1", `query parameter "repeated_message.inner_name" reaches into "repeated_message", a repeated field, whose elements cannot be set from the query`},
		{queryRule, nil, "string_map.k=1", `query parameter "string_map.k" reaches into "string_map", a map, whose entries are set as string_map[key]=value`},
		{queryRule, nil, "timestampValue.seconds=1", `query parameter "timestampValue.seconds" reaches into "timestamp_value" (google.protobuf.Timestamp), which is set from one value, as timestamp_value=value`},
		{queryRule, nil, "float_value=0x1p4", `invalid value "0x1p4" for field "float_value" (float): not a number as proto3 JSON writes it: decimal digits with an optional exponent, or "Infinity", "-Infinity" or "NaN"`},
		{queryRule, nil, "double_value=Inf", `invalid value "Inf" for field "double_value" (double): not a number as proto3 JSON writes it: decimal digits with an optional exponent, or "Infinity", "-Infinity" or "NaN"`},
		{queryRule, nil, "double_value=x", `invalid value "x" for field "double_value" (double): not a number`},
		{queryRule, nil, "repeated_value=1&repeatedValue=2", `query parameter "repeated_value" sets the repeated field that "repeatedValue" also sets; give all its values under one name, so that their order is kept`},
		{queryRule, nil, "struct_value=[]", `invalid value "[]" for field "struct_value" (google.protobuf.Struct): not a JSON object such as {"a":1}: syntax error (line 1:1): unexpected token [`},
		{queryRule, nil, `struct_value={"a":"\ud800"}`, `invalid value "{\"a\":\"\\ud800\"}" for field "struct_value" (google.protobuf.Struct): not a JSON object such as {"a":1}: a \u escape is half of a UTF-16 surrogate pair`},
		{queryRule, nil, "list_value=", `invalid value "" for field "list_value" (google.protobuf.ListValue): not a JSON array such as [1,"a"]: no value`},
		{queryRule, nil, "value_value=x", `invalid value "x" for field "value_value" (google.protobuf.Value): not JSON text such as {"a":1}, [1], "text", 1.5, true or null: syntax error (line 1:1): invalid value x`},
		{queryRule, nil, "empty_value=x", `invalid value "x" for field "empty_value" (google.protobuf.Empty): not empty: a google.protobuf.Empty takes no value or {}`},
		{queryRule, nil, "duration_value=1h", `invalid value "1h" for field "duration_value" (google.protobuf.Duration): not a duration in seconds such as "1.5s"`},
		{strict(binding{method: queryGet, path: []string{"timestamp_value.seconds"}}), params("timestamp_value.seconds", "1"),
			"timestamp_value=2020-01-01T00:00:00Z", `query parameter "timestamp_value" would replace "timestamp_value", which holds "timestamp_value.seconds", bound by the URL path`},
		{strict(binding{method: queryGet, path: []string{"timestamp_value.seconds"}}), params("timestamp_value.seconds", "1"),
			"timestampValue.seconds=2", `query parameter "timestampValue.seconds" sets a field that the URL path binds`},
	} {
		r := c.rule.rule(t)
		query, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Request(c.params, query, nil, "")
		var e *translate.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: err = %v, want a refusal", c.query, err)
			continue
		}
		if e.Message != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.query, e.Message, c.want)
		}
	}
}
