package binding

import (
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/routes"
)

// The cross-check with grpc-gateway: the cases of its own query parameter
// tests (v2.30.0, runtime/query_test.go: TestPopulateParameters,
// TestPopulateParametersWithFilters and
// TestPopulateQueryParametersWithInvalidNestedParameters), transcribed as
// query strings with the message grpc-gateway builds or its refusal, run
// against this package on copies of the example messages they use
// (testdata/proto/bindingtest/examplepb). Clients and tools written against
// grpc-gateway send these queries.
//
// Then the deliberate differences: queries where Switchboard and
// grpc-gateway disagree on purpose, with grpc-gateway's outcome (checked by
// running its PopulateQueryParameters on the same messages) and the reason.

const (
	proto3Method = "bindingtest.examplepb.ExampleService.Proto3"
	proto2Method = "bindingtest.examplepb.Example2Service.Proto2"
)

// rawQuery encodes key, value pairs as a query string, in the order given.
func rawQuery(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

type gatewayCase struct {
	name   string
	rule   binding // zero: Proto3Message with no path variable and no body
	params routes.Params
	query  string
	want   string // the message built, as JSON; "" for a refusal
	// gateway is grpc-gateway's outcome when it differs from want, with
	// the reason for the difference; empty when both agree.
	gateway string
}

func TestGatewayQueryCases(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-check with grpc-gateway's query parameter tests")
	}
	t.Parallel()
	const (
		timeStr     = "2016-12-15T12:23:32.000000049Z" // time.Date(2016, 12, 15, 12, 23, 32, 49, UTC) as RFC3339Nano
		durationStr = "13h0m0s"                        // (13 * time.Hour).String()
	)
	cases := []gatewayCase{
		// TestPopulateParameters.
		{name: "0_every_field", query: rawQuery(
			"float_value", "1.5", "double_value", "2.5", "int64_value", "-1", "int32_value", "-2",
			"uint64_value", "3", "uint32_value", "4", "bool_value", "true", "string_value", "str",
			"bytes_value", "YWJjMTIzIT8kKiYoKSctPUB-",
			"repeated_value", "a", "repeated_value", "b", "repeated_value", "c",
			"optional_value", "str",
			"repeated_message", "1", "repeated_message", "2", "repeated_message", "3",
			"enum_value", "1", "repeated_enum", "1", "repeated_enum", "2", "repeated_enum", "0",
			"timestamp_value", timeStr, "duration_value", durationStr, "fieldmask_value", "float_value,double_value",
			"wrapper_float_value", "1.5", "wrapper_double_value", "2.5", "wrapper_int64_value", "-1",
			"wrapper_int32_value", "-2", "wrapper_u_int64_value", "3", "wrapper_u_int32_value", "4",
			"wrapper_bool_value", "true", "wrapper_string_value", "str", "wrapper_bytes_value", "YWJjMTIzIT8kKiYoKSctPUB-",
			"map_value[key]", "value", "map_value[second]", "bar", "map_value[third]", "zzz", "map_value[fourth]", "",
			"map_value[~!@#$%^&*()]", "value",
			"map_value2[key]", "-2", "map_value3[-2]", "value", "map_value4[key]", "-1", "map_value5[-1]", "value",
			"map_value6[key]", "3", "map_value7[3]", "value", "map_value8[key]", "4", "map_value9[4]", "value",
			"map_value10[key]", "1.5", "map_value11[1.5]", "value", "map_value12[key]", "2.5", "map_value13[2.5]", "value",
			"map_value14[key]", "true", "map_value15[true]", "value", "map_value16[key]", "2",
			"struct_value_value", `{"a":{"b":1}}`, "struct_value", `{"a":{"b":1}}`),
			want: `{"float_value":1.5,"double_value":2.5,"int64_value":"-1","int32_value":-2,"uint64_value":"3",` +
				`"uint32_value":4,"bool_value":true,"string_value":"str","bytes_value":"YWJjMTIzIT8kKiYoKSctPUB-",` +
				`"repeated_value":["a","b","c"],"optional_value":"str","repeated_message":["1","2","3"],` +
				`"enum_value":"Y","repeated_enum":["Y","Z","X"],"timestamp_value":"` + timeStr + `",` +
				`"duration_value":"46800s","fieldmask_value":"floatValue,doubleValue",` +
				`"wrapper_float_value":1.5,"wrapper_double_value":2.5,"wrapper_int64_value":"-1","wrapper_int32_value":-2,` +
				`"wrapper_u_int64_value":"3","wrapper_u_int32_value":4,"wrapper_bool_value":true,"wrapper_string_value":"str",` +
				`"wrapper_bytes_value":"YWJjMTIzIT8kKiYoKSctPUB-",` +
				`"map_value":{"key":"value","second":"bar","third":"zzz","fourth":"","~!@#$%^&*()":"value"},` +
				`"map_value2":{"key":-2},"map_value3":{"-2":"value"},"map_value4":{"key":"-1"},"map_value5":{"-1":"value"},` +
				`"map_value6":{"key":3},"map_value7":{"3":"value"},"map_value8":{"key":"4"},"map_value9":{"4":"value"},` +
				`"map_value10":{"key":1.5},"map_value12":{"key":2.5},"map_value14":{"key":true},"map_value15":{"true":"value"},` +
				`"map_value16":{"key":"2"},"struct_value_value":{"a":{"b":1}},"struct_value":{"a":{"b":1}}}`},
		{name: "1_json_names", query: rawQuery(
			"floatValue", "1.5", "doubleValue", "2.5", "int64Value", "-1", "int32Value", "-2",
			"uint64Value", "3", "uint32Value", "4", "boolValue", "true", "stringValue", "str", "bytesValue", "Ynl0ZXM=",
			"repeatedValue", "a", "repeatedValue", "b", "repeatedValue", "c",
			"enumValue", "1", "repeatedEnum", "1", "repeatedEnum", "2", "repeatedEnum", "0",
			"timestampValue", timeStr, "durationValue", durationStr, "fieldmaskValue", "float_value,double_value",
			"wrapperFloatValue", "1.5", "wrapperDoubleValue", "2.5", "wrapperInt64Value", "-1", "wrapperInt32Value", "-2",
			"wrapperUInt64Value", "3", "wrapperUInt32Value", "4", "wrapperBoolValue", "true",
			"wrapperStringValue", "str", "wrapperBytesValue", "Ynl0ZXM=",
			"struct_value_value", `""`, "struct_value", "{}"),
			want: `{"float_value":1.5,"double_value":2.5,"int64_value":"-1","int32_value":-2,"uint64_value":"3",` +
				`"uint32_value":4,"bool_value":true,"string_value":"str","bytes_value":"Ynl0ZXM=",` +
				`"repeated_value":["a","b","c"],"enum_value":"Y","repeated_enum":["Y","Z","X"],` +
				`"timestamp_value":"` + timeStr + `","duration_value":"46800s","fieldmask_value":"floatValue,doubleValue",` +
				`"wrapper_float_value":1.5,"wrapper_double_value":2.5,"wrapper_int64_value":"-1","wrapper_int32_value":-2,` +
				`"wrapper_u_int64_value":"3","wrapper_u_int32_value":4,"wrapper_bool_value":true,"wrapper_string_value":"str",` +
				`"wrapper_bytes_value":"Ynl0ZXM=","struct_value_value":"","struct_value":{}}`},
		{name: "2_enum_names", query: rawQuery("enum_value", "Z", "repeated_enum", "X", "repeated_enum", "2", "repeated_enum", "0",
			"struct_value_value", "{}", "struct_value", `{"c":[1,2],"d":[{"e":1,"f":{}}]}`),
			want: `{"enum_value":"Z","repeated_enum":["X","Z","X"],"struct_value_value":{},"struct_value":{"c":[1,2],"d":[{"e":1,"f":{}}]}}`},
		{name: "3_value_array", query: rawQuery("struct_value_value", "[]"), want: `{"struct_value_value":[]}`},
		{name: "4_value_bool", query: rawQuery("struct_value_value", "true"), want: `{"struct_value_value":true}`},
		{name: "5_value_number", query: rawQuery("struct_value_value", "0"), want: `{"struct_value_value":0}`},
		{name: "6_proto2", rule: binding{method: proto2Method}, query: rawQuery(
			"float_value", "1.5", "double_value", "2.5", "int64_value", "-1", "int32_value", "-2", "uint64_value", "3",
			"uint32_value", "4", "bool_value", "true", "string_value", "str",
			"repeated_value", "a", "repeated_value", "b", "repeated_value", "c"),
			want: `{"float_value":1.5,"double_value":2.5,"int64_value":"-1","int32_value":-2,"uint64_value":"3",` +
				`"uint32_value":4,"bool_value":true,"string_value":"str","repeated_value":["a","b","c"]}`},
		{name: "7_proto2_json_names", rule: binding{method: proto2Method}, query: rawQuery(
			"floatValue", "1.5", "doubleValue", "2.5", "int64Value", "-1", "int32Value", "-2", "uint64Value", "3",
			"uint32Value", "4", "boolValue", "true", "stringValue", "str",
			"repeatedValue", "a", "repeatedValue", "b", "repeatedValue", "c"),
			want: `{"float_value":1.5,"double_value":2.5,"int64_value":"-1","int32_value":-2,"uint64_value":"3",` +
				`"uint32_value":4,"bool_value":true,"string_value":"str","repeated_value":["a","b","c"]}`},
		{name: "8_nested", query: rawQuery(
			"nested.nested.nested.repeated_value", "a", "nested.nested.nested.repeated_value", "b",
			"nested.nested.nested.repeated_value", "c", "nested.nested.nested.string_value", "s",
			"nested.nested.string_value", "t", "nested.string_value", "u",
			"nested.nested.map_value[first]", "foo", "nested.nested.map_value[second]", "bar"),
			want: `{"nested":{"nested":{"map_value":{"first":"foo","second":"bar"},` +
				`"nested":{"repeated_value":["a","b","c"],"string_value":"s"},"string_value":"t"},"string_value":"u"}}`},
		{name: "9_oneof", query: "oneof_string_value=foobar", want: `{"oneof_string_value":"foobar"}`},
		{name: "10_oneof_json_name", query: "oneofStringValue=foobar", want: `{"oneof_string_value":"foobar"}`},
		{name: "11_oneof_bool", query: "oneof_bool_value=true", want: `{"oneof_bool_value":true}`},
		{name: "12_oneof_message", query: "nested_oneof_value_one.int64Value=-1&nested_oneof_value_one.string_value=foo",
			want: `{"nested_oneof_value_one":{"int64_value":"-1","string_value":"foo"}}`},
		{name: "13_timestamp_null", query: "timestampValue=null"},
		{name: "14_duration_null", query: "durationValue=null"},
		{name: "15_oneof_twice", query: "oneof_bool_value=true&oneof_string_value=foobar"},
		{name: "16_nested_oneof_twice", query: "nested_oneof_int32_value=10&nested_oneof_value_one.int32Value=-1"},
		{name: "17_nested_oneof_twice", query: "nested_oneof_value_one.int32Value=-1&nested_oneof_int32_value=10"},
		{name: "18_too_many_values", query: "uint64_value=1&uint64_value=2"},
		{name: "19_into_repeated_message", query: "repeated_message.value=1"},
		{name: "20_timestamp_year_0", query: "timestampValue=0000-01-01T00:00:00.00Z"},

		// TestPopulateParametersWithFilters. grpc-gateway's filter is the
		// field paths the route's path and body bind; here they are bound
		// by a path variable or a body field as a google.api.http rule
		// would. Its third case (filter nested.nested) has no rule: a path
		// variable must be a scalar, a body a top-level field.
		{name: "filter_0", rule: binding{method: proto3Method, path: []string{"bool_value"}, body: "repeated_value"},
			params: params("bool_value", "false"),
			query:  rawQuery("bool_value", "true", "string_value", "str", "repeated_value", "a", "repeated_value", "b", "repeated_value", "c"),
			want:   `{"string_value":"str"}`},
		{name: "filter_1", rule: binding{method: proto3Method, body: "nested"},
			query: rawQuery("nested.nested.bool_value", "true", "nested.nested.string_value", "str", "nested.string_value", "str", "string_value", "str"),
			want:  `{"string_value":"str"}`},
		{name: "filter_3", rule: binding{method: proto3Method, path: []string{"nested.nested.string_value"}},
			params: params("nested.nested.string_value", ""), // the value grpc-gateway's case leaves unset
			query:  rawQuery("nested.nested.bool_value", "true", "nested.nested.string_value", "str", "nested.string_value", "str", "string_value", "str"),
			want:   `{"nested":{"string_value":"str","nested":{"bool_value":true}},"string_value":"str"}`},
	}

	// TestPopulateQueryParametersWithInvalidNestedParameters: a path through
	// a scalar or a repeated field is refused.
	for _, key := range []string{"float_value", "double_value", "int64_value", "int32_value", "uint64_value", "uint32_value",
		"bool_value", "string_value", "repeated_value", "enum_value", "repeated_enum"} {
		cases = append(cases, gatewayCase{name: "invalid_nested_" + key, query: key + ".nested=test"})
	}

	// The deliberate differences.
	cases = append(cases, []gatewayCase{
		{name: "diff_duration_go_spellings", query: "duration_value=1h",
			gateway: `{"duration_value":"3600s"}: grpc-gateway takes every time.ParseDuration spelling. Switchboard takes ` +
				`Go's syntax in the form Go prints (13h0m0s, 1m30s), besides proto3 JSON's 1.5s: the printed form always ends ` +
				`in a seconds unit and loses no precision; 1h stays refused as it always was here`},
		{name: "diff_duration_truncated", query: "duration_value=1.0000000001s",
			gateway: `{"duration_value":"1s"}: time.ParseDuration drops the digit past nanoseconds; proto3 JSON refuses it, ` +
				`and Switchboard will not change a value silently`},
		{name: "diff_duration_unitless", query: "duration_value=0",
			gateway: `{"duration_value":"0s"}: a number without a unit is no duration in proto3 JSON`},
		{name: "diff_duration_proto3_range", query: "duration_value=315576000000s", want: `{"duration_value":"315576000000s"}`,
			gateway: `refused: time.Duration ends at about 292 years; proto3 JSON durations reach 10000 years, and ` +
				`Switchboard takes what a body takes`},
		{name: "diff_hex_float", query: "float_value=0x1p4",
			gateway: `{"float_value":16}: strconv.ParseFloat reads hexadecimal; proto3 JSON has decimal only, and a hex ` +
				`value sent to a float field is almost always an id or a hash by mistake`},
		{name: "diff_inf", query: "double_value=Inf",
			gateway: `{"double_value":"Infinity"}: proto3 JSON spells it Infinity, -Infinity and NaN only; a value means ` +
				`the same in the URL and in a body`},
		{name: "diff_digit_separators", query: "double_value=1_0",
			gateway: `{"double_value":10}: not a proto3 JSON number`},
		{name: "diff_repeated_two_names", query: "repeated_value=a&repeatedValue=b&repeated_value=c",
			gateway: `{"repeated_value":["a","c","b"]} or ["b","a","c"]: the two keys are appended in Go map ` +
				`iteration order, which is random; Switchboard refuses what it cannot order`},
		{name: "diff_singular_two_names", query: "uint64_value=1&uint64Value=2",
			gateway: `{"uint64_value":"1"} or "2", at random: last wins in map iteration order`},
		{name: "diff_into_timestamp", query: "timestamp_value.seconds=5&timestamp_value.nanos=-3",
			gateway: `a Timestamp with nanos -3, which protojson cannot even render: setting a well-known type's ` +
				`fields one by one bypasses the range checks of its JSON form; Switchboard takes it as one value`},
		{name: "diff_into_wrapper", query: "wrapper_int32_value.value=4",
			gateway: `{"wrapper_int32_value":4}: the JSON mapping names it wrapper_int32_value=4; a wrapper is one value`},
		{name: "diff_into_value", query: "struct_value_value.string_value=x",
			gateway: `{"struct_value_value":"x"}: a Value is given as JSON text, struct_value_value="x"`},
		{name: "diff_open_enum_number", query: "enum_value=7", want: `{"enum_value":7}`,
			gateway: `refused: grpc-gateway takes declared numbers only; a proto3 enum is open, and proto3 JSON and the ` +
				`wire carry unknown numbers, so Switchboard does too (closed proto2 enums take declared numbers only)`},
		{name: "diff_field_mask_json_names", query: "fieldmask_value=floatValue,nested.doubleValue",
			want: `{"fieldmask_value":"floatValue,nested.doubleValue"}`,
			gateway: `paths kept as floatValue and nested.doubleValue, which name no field and which protojson cannot ` +
				`render: Switchboard reads lowerCamelCase paths as the JSON mapping writes them`},
		{name: "diff_invalid_utf8", query: "string_value=%FF",
			gateway: `accepted, and the message then fails to marshal: Switchboard answers 400 at once`},
		{name: "diff_replace_bound_message", rule: binding{method: proto3Method, path: []string{"timestamp_value.seconds"}},
			params: params("timestamp_value.seconds", "5"), query: "timestamp_value=2020-01-01T00:00:00Z",
			want: `{"timestamp_value":"1970-01-01T00:00:05Z"}`,
			gateway: `{"timestamp_value":"2020-01-01T00:00:00Z"}: its filter drops keys at or under a bound path only, ` +
				`so this key replaces the Timestamp and the path's value is lost; bound fields win here`},
		{name: "diff_list_value", rule: binding{method: queryGet}, query: `list_value=[1,"a"]`, want: `{"list_value":[1,"a"]}`,
			gateway: `refused, "unsupported message type": Switchboard takes a ListValue's JSON text as it takes a Value's`},
		{name: "diff_empty", rule: binding{method: queryGet}, query: `empty_value=`, want: `{"empty_value":{}}`,
			gateway: `refused, "unsupported message type": an Empty has one value, given as nothing or {}`},
	}...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rule := tc.rule
			if rule.method == "" {
				rule = binding{method: proto3Method}
			}
			r := rule.rule(t)
			query, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatalf("bad test query: %v", err)
			}
			got, err := r.Request(tc.params, query, nil, "")
			s := loadSchema(t)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("query %s: %v", tc.query, err)
				}
				if g, w := renderBuilt(t, s, r.Input(), got), renderJSON(t, s, r.Input(), tc.want); g != w {
					t.Errorf("query %s built\n got %s\nwant %s", tc.query, g, w)
				}
				return
			}
			if err == nil {
				t.Fatalf("query %s built %s; want it refused", tc.query, renderBuilt(t, s, r.Input(), got))
			}
			for _, f := range violationFields(t, err) { // a 400, naming the parameter
				if _, ok := query[f]; !ok {
					t.Errorf("violation names %q, not a parameter of %s (%v)", f, tc.query, err)
				}
			}
		})
	}
}
