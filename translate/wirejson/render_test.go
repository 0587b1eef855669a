package wirejson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	_ "google.golang.org/genproto/googleapis/api/annotations" // google/api/*.proto for the compiler
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/translate"
)

// The test schemas, compiled as translate/binding's tests compile them.
var (
	schemaOnce  sync.Once
	schemaFiles linker.Files
	schemaRes   typeResolver
	schemaErr   error
)

func loadSchema(t testing.TB) typeResolver {
	t.Helper()
	schemaOnce.Do(func() {
		// google/api/*.proto are not among protocompile's standard imports;
		// take them from the descriptors genproto registers.
		global := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			if err != nil {
				return protocompile.SearchResult{}, err
			}
			return protocompile.SearchResult{Desc: fd}, nil
		})
		c := protocompile.Compiler{
			Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
				&protocompile.SourceResolver{ImportPaths: []string{"../../testdata/proto", "../binding/testdata/proto"}},
				global,
			}),
		}
		schemaFiles, schemaErr = c.Compile(context.Background(),
			"library/v1/library.proto", "bindingtest/v1/kinds.proto", "bindingtest/v1/legacy.proto",
			"bindingtest/v1/query.proto", "bindingtest/examplepb/proto3.proto", "bindingtest/examplepb/proto2.proto")
		if schemaErr == nil {
			schemaRes = typeResolver{schemaFiles.AsResolver()}
		}
	})
	if schemaErr != nil {
		t.Fatalf("compile test schema: %v", schemaErr)
	}
	return schemaRes
}

// typeResolver finds the compiled types first, then the linked-in ones
// (well-known types, google.api, google.rpc).
type typeResolver struct{ files linker.Resolver }

func (r typeResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.files.FindMessageByName(n); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := r.files.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r typeResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.files.FindExtensionByName(n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r typeResolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.files.FindExtensionByNumber(m, n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

func messageDesc(t testing.TB, name string) protoreflect.MessageDescriptor {
	t.Helper()
	mt, err := loadSchema(t).FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatalf("no message %s: %v", name, err)
	}
	return mt.Descriptor()
}

// Compilers by options, shared by tests and the fuzz target.
var (
	compilersMu sync.Mutex
	compilers   = map[Options]*Compiler{}
)

func plan(t testing.TB, md protoreflect.MessageDescriptor, opts Options) *Message {
	t.Helper()
	compilersMu.Lock()
	c := compilers[opts]
	if c == nil {
		c = NewCompiler(opts)
		compilers[opts] = c
	}
	compilersMu.Unlock()
	m, err := c.Compile(md)
	if err != nil {
		t.Fatalf("compile %s: %v", md.FullName(), err)
	}
	return m
}

// reference renders b as translate/binding's Rule.Reply does.
func reference(res typeResolver, md protoreflect.MessageDescriptor, b []byte, opts Options) ([]byte, error) {
	msg, err := referenceDecode(res, md, b, opts)
	if err != nil {
		return nil, err
	}
	out, err := referenceMarshal(res, opts).Marshal(msg)
	if err != nil {
		return nil, err
	}
	return translate.CompactJSON(out), nil
}

// referenceDecode decodes as Rule.decodeReply does, a panic of the decoder
// (protobuf-go v1.36.12 has one, on a map key lost to a key of another
// wire type) being an invalid reply.
func referenceDecode(res typeResolver, md protoreflect.MessageDescriptor, b []byte, opts Options) (msg *dynamicpb.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	msg = dynamicpb.NewMessage(md)
	return msg, proto.UnmarshalOptions{AllowPartial: true, RecursionLimit: opts.WireDepth, Resolver: res}.Unmarshal(b, msg)
}

func referenceMarshal(res typeResolver, opts Options) protojson.MarshalOptions {
	return protojson.MarshalOptions{
		UseProtoNames:   opts.UseProtoNames,
		EmitUnpopulated: opts.EmitUnpopulated,
		UseEnumNumbers:  opts.UseEnumNumbers,
		AllowPartial:    true,
		Resolver:        res,
	}
}

// referenceField renders one field of b as Rule.replyField does: the
// message with only that field set, and the field's value cut out of it.
func referenceField(res typeResolver, md protoreflect.MessageDescriptor, b []byte, fd protoreflect.FieldDescriptor, opts Options) (out []byte, set bool, err error) {
	msg, err := referenceDecode(res, md, b, opts)
	if err != nil {
		return nil, false, err
	}
	if !msg.Has(fd) {
		return nil, false, nil
	}
	only := dynamicpb.NewMessage(md)
	only.Set(fd, msg.Get(fd))
	js, err := referenceMarshal(res, opts).Marshal(only)
	if err != nil {
		return nil, false, err
	}
	name := fd.JSONName()
	if opts.UseProtoNames {
		name = fd.TextName()
	}
	v, ok := member(translate.CompactJSON(js), name)
	if !ok {
		return nil, false, fmt.Errorf("reference output has no %q", name)
	}
	return v, true, nil
}

// member returns the value of the top-level member name of a compact JSON
// object protojson wrote, as translate/binding cuts it out (encoding/json
// would refuse replies nested past its own limit).
func member(obj []byte, name string) ([]byte, bool) {
	quoted, _ := json.Marshal(name)
	for i := 1; i < len(obj) && obj[i] == '"'; {
		keyEnd := stringEnd(obj, i)
		if keyEnd < 0 || keyEnd >= len(obj) || obj[keyEnd] != ':' {
			return nil, false
		}
		start := keyEnd + 1
		stop := valueEnd(obj, start)
		if stop < 0 {
			return nil, false
		}
		if bytes.Equal(obj[i:keyEnd], quoted) {
			return obj[start:stop], true
		}
		if i = stop; i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return nil, false
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the compact JSON value at b[i].
func valueEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			e := stringEnd(b, j)
			if e < 0 {
				return -1
			}
			if depth == 0 {
				return e
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j // a scalar ends at its object's close
			}
			if depth--; depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// mismatch compares wirejson with the reference on one input and says how
// they differ, or "". anyOnly is set when wirejson refused an Any that the
// reference rendered, the one difference allowed.
func mismatch(t testing.TB, md protoreflect.MessageDescriptor, b []byte, opts Options) (diff string, anyOnly bool) {
	res := loadSchema(t)
	want, wantErr := reference(res, md, b, opts)
	got, gotErr := plan(t, md, opts).AppendJSON([]byte("prefix"), b)
	switch {
	case gotErr != nil && wantErr == nil:
		if errors.Is(gotErr, errAny) {
			return "", true
		}
		return fmt.Sprintf("wirejson failed (%v), reference gave %s", gotErr, short(want)), false
	case gotErr == nil && wantErr != nil:
		return fmt.Sprintf("reference failed (%v), wirejson gave %s", wantErr, short(got)), false
	case gotErr != nil:
		if string(got) != "prefix" {
			return fmt.Sprintf("wirejson failed but returned %s, not dst", short(got)), false
		}
		return "", false
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		return fmt.Sprintf("dst not kept: %s", short(got)), false
	}
	if got = got[len("prefix"):]; !bytes.Equal(got, want) {
		return fmt.Sprintf("\n got: %s\nwant: %s", short(got), short(want)), false
	}
	return "", false
}

// fieldMismatch is mismatch for AppendFieldJSON.
func fieldMismatch(t testing.TB, md protoreflect.MessageDescriptor, b []byte, opts Options, fi int) (diff string, anyOnly bool) {
	res := loadSchema(t)
	m := plan(t, md, opts)
	f := m.Fields[fi]
	want, wantSet, wantErr := referenceField(res, md, b, f.Desc, opts)
	got, gotSet, gotErr := m.AppendFieldJSON([]byte("prefix"), b, f)
	switch {
	case gotErr != nil && wantErr == nil:
		if errors.Is(gotErr, errAny) {
			return "", true
		}
		return fmt.Sprintf("field %s: wirejson failed (%v), reference gave %s (set %v)", f.Name, gotErr, short(want), wantSet), false
	case gotErr == nil && wantErr != nil:
		return fmt.Sprintf("field %s: reference failed (%v), wirejson gave %s (set %v)", f.Name, wantErr, short(got), gotSet), false
	case gotErr != nil:
		if string(got) != "prefix" || gotSet {
			return fmt.Sprintf("field %s: wirejson failed but returned %s, set %v", f.Name, short(got), gotSet), false
		}
		return "", false
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		return fmt.Sprintf("field %s: dst not kept: %s", f.Name, short(got)), false
	}
	got = got[len("prefix"):]
	if gotSet != wantSet || !bytes.Equal(got, want) {
		return fmt.Sprintf("field %s:\n got: %s (set %v)\nwant: %s (set %v)", f.Name, short(got), gotSet, short(want), wantSet), false
	}
	return "", false
}

// short abbreviates long inputs and outputs in failure messages.
func short[T ~[]byte | ~string](s T) string {
	const max = 400
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...(%d bytes)...%q", s[:max/2], len(s), s[len(s)-max/2:])
}

// allOptions are the eight combinations of the options that change what
// a reply renders as.
func allOptions() []Options {
	var all []Options
	for i := range 8 {
		all = append(all, Options{UseProtoNames: i&1 != 0, EmitUnpopulated: i&2 != 0, UseEnumNumbers: i&4 != 0})
	}
	return all
}

// encodeJSON builds a message of the named type from its JSON.
func encodeJSON(t testing.TB, name, js string) []byte {
	t.Helper()
	res := loadSchema(t)
	m := dynamicpb.NewMessage(messageDesc(t, name))
	if err := (protojson.UnmarshalOptions{Resolver: res, AllowPartial: true}).Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("test message %s: %v", js, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true, AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Wire builders for inputs no encoder writes.
func tag(num protowire.Number, wt protowire.Type) []byte { return protowire.AppendTag(nil, num, wt) }

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(num, protowire.VarintType), v)
}

func fixed32(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(tag(num, protowire.Fixed32Type), v)
}

func fixed64(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(tag(num, protowire.Fixed64Type), v)
}

func lenField(num protowire.Number, parts ...[]byte) []byte {
	return protowire.AppendBytes(tag(num, protowire.BytesType), cat(parts...))
}

func str(num protowire.Number, s string) []byte { return lenField(num, []byte(s)) }

// neg is a negative integer as a varint carries it.
func neg(v int64) uint64 { return uint64(v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func group(num protowire.Number, parts ...[]byte) []byte {
	return cat(tag(num, protowire.StartGroupType), cat(parts...), tag(num, protowire.EndGroupType))
}

func packedVarints(num protowire.Number, vs ...uint64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, v)
	}
	return lenField(num, p)
}

// nest wraps inner in depth levels of field num.
func nest(num protowire.Number, depth int, inner []byte) []byte {
	b := inner
	for range depth {
		b = lenField(num, b)
	}
	return b
}

// jsonCases are valid messages, written as JSON.
var jsonCases = []struct{ name, msg, json string }{
	{"kinds scalars", "bindingtest.v1.Kinds", `{"i32":-5,"i64":"-9007199254740993","u32":4294967295,"u64":"18446744073709551615",
		"s32":-2147483648,"s64":"-9223372036854775808","f32":4294967295,"f64":"18446744073709551615","sf32":-1,"sf64":"-1",
		"flt":1.5,"dbl":-2.25e-10,"b":true,"s":"h\u00e9llo \"q\" \\ / \n\t\r\b\f\u0001\u001f\u007f <>& \u2028 \ufffd \ud83d\ude00",
		"by":"AAEC/w==","color":"GREEN","custom":"named"}`},
	{"kinds floats big", "bindingtest.v1.Kinds", `{"flt":3.4028235e38,"dbl":1e21}`},
	{"kinds floats edge", "bindingtest.v1.Kinds", `{"flt":1e-6,"dbl":1e-7}`},
	{"kinds floats small", "bindingtest.v1.Kinds", `{"flt":1.0e-7,"dbl":123456789012345680000}`},
	{"kinds floats special", "bindingtest.v1.Kinds", `{"flt":"NaN","dbl":"-Infinity","fv":"Infinity","dv":"NaN"}`},
	{"kinds floats subnormal", "bindingtest.v1.Kinds", `{"flt":1e-45,"dbl":5e-324}`},
	{"kinds floats plain", "bindingtest.v1.Kinds", `{"flt":0.1,"dbl":0.1,"fv":16777217,"dv":-0.000001}`},
	{"kinds lists", "bindingtest.v1.Kinds", `{"rI64":["1","-2","9223372036854775807"],"rColor":["RED","GREEN",7,"COLOR_UNSPECIFIED"],
		"rTs":["1970-01-01T00:00:00Z","2024-02-29T12:34:56.789Z","0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z"],
		"items":[{"x":"a","y":1},{},{"y":-3}]}`},
	{"kinds maps", "bindingtest.v1.Kinds", `{"byI32":{"-3":"m","10":"t","2":"two","-2147483648":"min"},"byBool":{"true":"t","false":"f"},
		"byU64":{"18446744073709551615":"1","0":"-1","10":"5"},
		"children":{"b":{"x":"bx"},"a":{},"":{"y":2},"\u00e9":{},"Z":{}},"wrapped":{"w":0,"v":-1}}`},
	{"kinds wrappers zero", "bindingtest.v1.Kinds", `{"bv":false,"bytv":"","u64v":"0","dv":0,"sv":"","fv":0}`},
	{"kinds wrappers", "bindingtest.v1.Kinds", `{"bv":true,"bytv":"/w==","u64v":"18446744073709551615","dv":-1.5,"sv":"s\"","fv":2.5}`},
	{"kinds oneof string", "bindingtest.v1.Kinds", `{"a":""}`},
	{"kinds oneof message", "bindingtest.v1.Kinds", `{"inner":{}}`},
	{"kinds recursion", "bindingtest.v1.Kinds", `{"self":{"self":{"self":{"i32":1,"nested":{"x":"deep"}}}},"nested":{"x":"n"}}`},
	{"kinds any", "bindingtest.v1.Kinds", `{"any":{"@type":"type.googleapis.com/bindingtest.v1.Inner","x":"in any"}}`},
	{"kinds any empty", "bindingtest.v1.Kinds", `{"any":{}}`},
	{"kinds mask", "bindingtest.v1.Kinds", `{"mask":"a.bC,d,fooBar.baz"}`},
	{"kinds mask empty", "bindingtest.v1.Kinds", `{"mask":""}`},
	{"kinds durations", "bindingtest.v1.Kinds", `{"dur":"-1.5s"}`},
	{"kinds duration max", "bindingtest.v1.Kinds", `{"dur":"315576000000.999999999s"}`},
	{"kinds duration small", "bindingtest.v1.Kinds", `{"dur":"-0.000001s"}`},
	{"kinds duration zero", "bindingtest.v1.Kinds", `{"dur":"0s"}`},
	{"kinds value null", "bindingtest.v1.Kinds", `{"val":null}`},
	{"kinds value number", "bindingtest.v1.Kinds", `{"val":-1.25e300}`},
	{"kinds value string", "bindingtest.v1.Kinds", `{"val":"s"}`},
	{"kinds value bool", "bindingtest.v1.Kinds", `{"val":false}`},
	{"kinds value struct", "bindingtest.v1.Kinds", `{"val":{"b":[1,"two",null,true,{"c":{}},[]],"a":{"nested":{"k":0}}}}`},
	{"kinds value list", "bindingtest.v1.Kinds", `{"val":[[],[[]],{}]}`},
	{"kinds optional zero", "bindingtest.v1.Kinds", `{"opt":0}`},
	{"kinds optional", "bindingtest.v1.Kinds", `{"opt":-7}`},
	{"kinds empty", "bindingtest.v1.Kinds", `{}`},
	{"query all", "bindingtest.v1.QueryKinds", `{"int32Value":1,"int64Value":"2","uint32Value":3,"uint64Value":"4","sint32Value":-5,
		"sint64Value":"-6","fixed32Value":7,"fixed64Value":"8","sfixed32Value":-9,"sfixed64Value":"-10","floatValue":11.5,
		"doubleValue":12.25,"boolValue":true,"stringValue":"s","bytesValue":"Yg==","enumValue":"DARK","optionalInt32":0,
		"optionalString":"","repeatedInt32":[1,-1],"repeatedInt64":["-1"],"repeatedUint64":["1"],"repeatedFloat":[1.5,"NaN"],
		"repeatedDouble":[-0.0,1e100],"repeatedBool":[true,false],"repeatedString":["a",""],"repeatedBytes":["","AA=="],
		"repeatedEnum":["LIGHT",9],"repeatedMessage":[{"innerName":"n","innerTime":"2000-01-01T00:00:00.000001Z","innerTags":["t"]}],
		"durationValue":"3s","emptyValue":{},"fieldMask":"a,b.c","structValue":{"k":"v"},"valueValue":[1],"listValue":["x",2],
		"nullValue":null,"timestampValue":"1970-01-01T00:00:00.100Z","wrappedDouble":1,"wrappedFloat":2,"wrappedInt64":"3",
		"wrappedUint64":"4","wrappedInt32":5,"wrappedUint32":6,"wrappedBool":true,"wrappedString":"w","wrappedBytes":"d3c=",
		"repeatedTimestamp":["1999-12-31T23:59:59Z"],"repeatedDuration":["1s","-1s"],"repeatedValue":[null,"v",{"a":[]}],
		"repeatedStruct":[{},{"a":1}],"repeatedList":[[],[1]],"repeatedEmpty":[{},{}],"repeatedWrapped":["1","0"],
		"repeatedMask":["",  "aB"],
		"stringMap":{"b":"1","a":"2"},"int32Map":{"-1":"a","1":"b"},"int64Map":{"-9223372036854775808":"min","9223372036854775807":"max"},
		"uint32Map":{"4294967295":"max","0":"z"},"uint64Map":{"1":"x"},"sint32Map":{"-2":"a","-10":"b"},"sint64Map":{"5":"a","-5":"b"},
		"fixed32Map":{"3":"c","20":"d"},"fixed64Map":{"100":"e","99":"f"},"sfixed32Map":{"-1":"g","1":"h"},"sfixed64Map":{"0":"i"},
		"boolMap":{"false":"no","true":"yes"},"doubleMap":{"x":"Infinity","y":1e-10},"bytesMap":{"k":"AQI="},"enumMap":{"a":"LIGHT","b":5},
		"valueMap":{"v":{"n":null}},"structMap":{"s":{}},"durationMap":{"d":"1.000000001s"},"emptyMap":{"e":{}},"wrappedMap":{"w":0},
		"messageMap":{"m":{"innerCount":3}},"choiceTimestamp":"2020-01-01T00:00:00Z","innerMessage":{},"nestedKinds":{"nestedKinds":{}}}`},
	{"query choice struct", "bindingtest.v1.QueryKinds", `{"choiceStruct":{"a":{"b":[{}]}}}`},
	{"query choice message", "bindingtest.v1.QueryKinds", `{"choiceMessage":{"innerTags":["a","b"]}}`},
	{"query null value", "bindingtest.v1.QueryKinds", `{"nullValue":"NULL_VALUE","repeatedValue":[null]}`},
	{"proto3 message", "bindingtest.examplepb.Proto3Message", `{"nested":{"floatValue":1.5,"nested":{"repeatedValue":["a"]}},
		"floatValue":-1.5,"doubleValue":2.5,"int64Value":"-3","int32Value":4,"uint64Value":"5","uint32Value":6,"boolValue":true,
		"stringValue":"s","bytesValue":"YWI=","repeatedValue":["x","y"],"optionalValue":"","repeatedMessage":["1","2"],"enumValue":"Z",
		"repeatedEnum":["X","Z",3],"timestampValue":"2001-02-03T04:05:06Z","durationValue":"7s","fieldmaskValue":"aB.cD",
		"oneofStringValue":"o","nestedOneofValueOne":{"int32Value":1},"wrapperDoubleValue":1,"wrapperFloatValue":2,"wrapperInt64Value":"3",
		"wrapperInt32Value":4,"wrapperUInt64Value":"5","wrapperUInt32Value":6,"wrapperBoolValue":false,"wrapperStringValue":"",
		"wrapperBytesValue":"","mapValue":{"k":"v"},"mapValue2":{"k":2},"mapValue3":{"3":"v"},"mapValue4":{"k":"4"},"mapValue5":{"-5":"v"},
		"mapValue6":{"k":6},"mapValue7":{"7":"v"},"mapValue8":{"k":"8"},"mapValue9":{"9":"v"},"mapValue10":{"k":1.5},"mapValue12":{"k":-2.5},
		"mapValue14":{"k":true},"mapValue15":{"false":"f"},"mapValue16":{"k":"16"},"structValueValue":{"a":1},"structValue":{"b":2}}`},
	{"proto3 oneof bool", "bindingtest.examplepb.Proto3Message", `{"oneofBoolValue":false,"nestedOneofInt32Value":0}`},
	{"proto2 message", "bindingtest.examplepb.Proto2Message", `{"floatValue":1,"doubleValue":0,"int64Value":"0","int32Value":0,
		"uint64Value":"0","uint32Value":0,"boolValue":false,"stringValue":"","bytesValue":"","repeatedValue":["", "a"]}`},
	{"proto2 empty", "bindingtest.examplepb.Proto2Message", `{}`},
	{"legacy", "bindingtest.v1.Legacy", `{"id":"x","level":"HIGH","count":7}`},
	{"legacy unset", "bindingtest.v1.Legacy", `{}`},
	{"book", "library.v1.Book", bookJSON},
	{"book empty", "library.v1.Book", `{}`},
	{"list books", "library.v1.ListBooksResponse", `{"books":[` + bookJSON + `,{"name":"b2"}],"nextPageToken":"t","totalSize":"2"}`},
	{"book filter", "library.v1.BookFilter", `{"author":{"name":"a"},"genres":["FICTION","HISTORY"],"publishedAfter":"2000-01-01T00:00:00Z",
		"labels":{"k":"v"},"minPages":"10","maxAge":"3600s"}`},
	{"struct", "google.protobuf.Struct", `{"z":1,"a":{"b":null},"m":[true]}`},
	{"struct empty", "google.protobuf.Struct", `{}`},
	{"value", "google.protobuf.Value", `{"a":[1,2,{"b":"c"}]}`},
	{"list value", "google.protobuf.ListValue", `[1,"a",null,false,[],{}]`},
	{"list value empty", "google.protobuf.ListValue", `[]`},
	{"timestamp", "google.protobuf.Timestamp", `"2017-01-15T01:30:15.010Z"`},
	{"timestamp micros", "google.protobuf.Timestamp", `"1969-12-31T23:59:59.999999Z"`},
	{"timestamp zero", "google.protobuf.Timestamp", `"1970-01-01T00:00:00Z"`},
	{"duration", "google.protobuf.Duration", `"-315576000000.000000001s"`},
	{"field mask", "google.protobuf.FieldMask", `"a,bC,d.eF.g"`},
	{"empty", "google.protobuf.Empty", `{}`},
	{"int64 wrapper", "google.protobuf.Int64Value", `"-1"`},
	{"uint32 wrapper", "google.protobuf.UInt32Value", `4294967295`},
	{"float wrapper", "google.protobuf.FloatValue", `"NaN"`},
	{"string wrapper", "google.protobuf.StringValue", `"\u0000"`},
	{"bytes wrapper", "google.protobuf.BytesValue", `"AAAA"`},
	{"bool wrapper", "google.protobuf.BoolValue", `true`},
}

const bookJSON = `{"name":"shelves/1/books/2","title":"The \"Go\" Programming Language","author":{"name":"Alan Donovan","country":"US"},
	"pageCount":"380","genre":"SCIENCE","publishTime":"2015-10-26T00:00:00Z","labels":{"lang":"go","level":"intermediate","format":"paper"},
	"tags":["go","programming","classic"],"edition":1,"rating":4.7,"copiesSold":"1000000","available":true,
	"extra":{"isbn":"978-0134190440","reviews":[{"by":"x","stars":5}],"digital":false,"weight":0.9}}`

// wireCase is an input built on the wire: what no encoder writes but a
// backend may send, valid or not.
type wireCase struct {
	name, msg string
	wire      []byte
	depth     int  // Options.WireDepth
	whole     bool // AppendJSON only: AppendFieldJSON of each field would take too long
}

// Field numbers of bindingtest.v1.Kinds.
const (
	kI32, kI64, kU32, kU64, kS32, kS64, kF32, kF64, kSF32, kSF64, kFlt, kDbl, kB, kS, kBy, kColor = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
	kRI64, kRColor, kRTs, kItems, kByI32, kByBool, kByU64, kChildren, kWrapped                    = 17, 18, 19, 20, 21, 22, 23, 24, 25
	kBv, kBytv, kU64v, kDv, kSv, kFv, kA, kInner, kNested, kSelf, kAny, kMask, kDur, kVal, kOpt   = 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40
)

func wireCases() []wireCase {
	const kinds, legacy, proto2, query = "bindingtest.v1.Kinds", "bindingtest.v1.Legacy", "bindingtest.examplepb.Proto2Message", "bindingtest.v1.QueryKinds"
	inner := func(parts ...[]byte) []byte { return cat(parts...) }
	badUTF8 := "a\xffb"
	var cases []wireCase
	add := func(name, msg string, wire []byte) { cases = append(cases, wireCase{name: name, msg: msg, wire: wire}) }
	addDepth := func(name, msg string, depth int, wire []byte) {
		cases = append(cases, wireCase{name: name, msg: msg, wire: wire, depth: depth})
	}

	// Truncations and invalid keys.
	add("empty", kinds, nil)
	add("truncated tag", kinds, []byte{0x80})
	add("truncated varint", kinds, []byte{byte(kI32 << 3), 0x80})
	add("varint overflow", kinds, append([]byte{byte(kI64 << 3)}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02))
	add("varint ten bytes", kinds, append([]byte{byte(kI64 << 3)}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	add("truncated fixed32", kinds, []byte{byte(kF32<<3 | 5), 1, 2, 3})
	add("truncated fixed64", kinds, []byte{byte(kF64<<3 | 1), 1, 2, 3, 4, 5, 6, 7})
	add("truncated length", kinds, []byte{byte(kS<<3 | 2), 5, 'a'})
	add("field zero", kinds, []byte{0x00, 0x01})
	add("field too big", kinds, protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3))
	add("field max unknown", kinds, varint(protowire.MaxValidNumber, 1))
	add("wire type 6", kinds, []byte{byte(kI32<<3 | 6), 0})
	add("wire type 7 unknown", kinds, cat(protowire.AppendVarint(nil, 99<<3|7), []byte{0}))
	add("stray end group", kinds, tag(99, protowire.EndGroupType))
	add("unknown group", kinds, cat(group(99, varint(1, 1), group(2, str(3, "x"))), varint(kI32, 3)))
	add("unknown group mismatched", kinds, cat(tag(99, protowire.StartGroupType), tag(98, protowire.EndGroupType)))
	add("unknown group open", kinds, tag(99, protowire.StartGroupType))
	add("group on known field", kinds, group(kI32, varint(1, 1)))
	add("truncated nested", kinds, lenField(kNested, []byte{byte(1<<3 | 2), 9}))

	// Last wins, merges, oneofs.
	add("duplicate scalars", kinds, cat(varint(kI32, 1), str(kS, "first"), varint(kI32, 2), str(kS, "second")))
	add("duplicate to zero", kinds, cat(varint(kI32, 1), varint(kI32, 0), str(kS, "x"), str(kS, "")))
	add("explicit zeros", kinds, cat(varint(kI32, 0), varint(kI64, 0), fixed32(kFlt, 0), fixed64(kDbl, 0), varint(kB, 0), str(kS, ""), str(kBy, ""), varint(kColor, 0)))
	add("negative zero", kinds, cat(fixed32(kFlt, 0x80000000), fixed64(kDbl, 1<<63)))
	add("int32 truncation", kinds, cat(varint(kI32, 1<<32), varint(kU32, 1<<32|5), varint(kS32, 1<<33|3), varint(kColor, 1<<32|1), varint(kSF32, 1)))
	add("int32 sign", kinds, cat(varint(kI32, math.MaxUint64), varint(kS32, math.MaxUint32)))
	add("bool varint", kinds, varint(kB, 256))
	add("merged message", kinds, cat(lenField(kNested, str(1, "x")), varint(kI32, 1), lenField(kNested, varint(2, 5)), lenField(kNested, str(1, "y"))))
	add("merged deep", kinds, cat(lenField(kSelf, lenField(kNested, str(1, "a"))), lenField(kSelf, lenField(kNested, varint(2, 1)), varint(kI32, 4))))
	add("merged timestamp", kinds, cat(lenField(kRTs, varint(1, 5)), lenField(kDur, varint(1, 5)), lenField(kDur, varint(2, 7))))
	add("merged wrapper", kinds, cat(lenField(kBv, varint(1, 1)), lenField(kBv, varint(1, 0))))
	add("oneof last", kinds, cat(str(kA, "a"), lenField(kInner, str(1, "i"))))
	add("oneof back", kinds, cat(lenField(kInner, str(1, "i")), str(kA, "a"), lenField(kInner, varint(2, 2))))
	add("oneof merge", kinds, cat(lenField(kInner, str(1, "i")), lenField(kInner, varint(2, 2))))
	add("oneof dropped invalid", kinds, cat(lenField(kInner, []byte{0x80}), str(kA, "a")))
	add("oneof dropped bad utf8", kinds, cat(lenField(kInner, str(1, badUTF8)), str(kA, "a")))
	add("oneof dropped to itself", kinds, cat(str(kA, "a"), str(kA, "b")))
	add("oneof wrong wire type", kinds, cat(str(kA, "a"), varint(kInner, 1)))
	add("value kinds switch", "google.protobuf.Value", cat(lenField(5, lenField(1, str(1, "k"))), fixed64(2, math.Float64bits(2))))
	add("value dropped invalid", "google.protobuf.Value", cat(lenField(5, []byte{0xff}), varint(4, 1)))
	add("value none", "google.protobuf.Value", nil)
	add("value nan", "google.protobuf.Value", fixed64(2, math.Float64bits(math.NaN())))
	add("value inf", "google.protobuf.Value", fixed64(2, math.Float64bits(math.Inf(-1))))
	add("value null enum", "google.protobuf.Value", varint(1, 5))
	add("kinds value none", kinds, lenField(kVal))
	add("kinds value unknown only", kinds, lenField(kVal, varint(9, 1)))

	// Lists: packed and not, interleaved, empty runs.
	add("packed and unpacked", kinds, cat(varint(kRI64, 1), packedVarints(kRI64, 2, 3), varint(kI32, 9), varint(kRI64, 4), packedVarints(kRI64)))
	add("packed empty only", kinds, packedVarints(kRI64))
	add("packed truncated", kinds, lenField(kRI64, []byte{0x80}))
	add("packed enums", kinds, packedVarints(kRColor, 0, 1, 2, 3, 1<<32|2))
	add("packed fixed", query, cat(lenField(23, protowire.AppendFixed32(protowire.AppendFixed32(nil, math.Float32bits(1.5)), 0x7fc00001)), fixed32(23, 0)))
	add("packed fixed bad length", query, lenField(23, []byte{1, 2, 3, 4, 5}))
	add("packed doubles", query, cat(lenField(24, protowire.AppendFixed64(nil, math.Float64bits(-1e-7))), fixed64(24, math.Float64bits(1e21))))
	add("packed doubles bad length", query, lenField(24, make([]byte, 12)))
	add("packed bools", query, packedVarints(25, 0, 1, 300))
	add("list wrong wire type", kinds, cat(fixed64(kRI64, 1), str(kRTs, "x")))
	add("list of messages wrong wire type", kinds, cat(varint(kItems, 1), lenField(kItems)))
	add("list message invalid", kinds, lenField(kItems, []byte{0x08}))
	add("string list bad utf8", query, str(26, badUTF8))
	// Runs inside a message checked but not rendered (another field's
	// AppendFieldJSON, a dropped oneof member).
	add("packed in nested", kinds, lenField(kSelf, packedVarints(kRI64, 1, 2), lenField(kRI64, []byte{0x80, 0x01})))
	add("packed truncated in nested", kinds, cat(varint(kI32, 1), lenField(kSelf, lenField(kRI64, []byte{0x80}))))
	add("packed bad length in nested", query, cat(varint(1, 1), lenField(101, lenField(23, []byte{1, 2, 3}))))
	add("packed in dropped oneof", query, cat(lenField(93, lenField(1, str(1, "k"), lenField(2, lenField(6, lenField(1, fixed64(2, 1)))))), str(90, "s")))
	add("list empty messages", kinds, cat(lenField(kItems), lenField(kItems), lenField(kRTs)))

	// Maps.
	add("map entry empty", kinds, cat(lenField(kByI32), lenField(kByBool), lenField(kByU64), lenField(kChildren), lenField(kWrapped)))
	add("map entry key only", kinds, cat(lenField(kByI32, varint(1, 7)), lenField(kChildren, str(1, "k"))))
	add("map entry value only", kinds, cat(lenField(kByI32, str(2, "v")), lenField(kChildren, lenField(2, str(1, "x")))))
	add("map duplicate keys", kinds, cat(lenField(kByI32, varint(1, 1), str(2, "a")), lenField(kByI32, varint(1, 0), str(2, "z")),
		lenField(kByI32, varint(1, 1), str(2, "b"))))
	add("map duplicate message keys", kinds, cat(lenField(kChildren, str(1, "k"), lenField(2, str(1, "first"))),
		lenField(kChildren, str(1, "k"), lenField(2, varint(2, 2)))))
	add("map replaced invalid value", kinds, cat(lenField(kChildren, str(1, "k"), lenField(2, []byte{0x80})), lenField(kChildren, str(1, "k"))))
	add("map value merge", kinds, lenField(kChildren, lenField(2, str(1, "x")), str(1, "k"), lenField(2, varint(2, 3))))
	add("map value repeated scalar", kinds, lenField(kByI32, str(2, "a"), varint(1, 3), str(2, "b"), varint(1, 4)))
	add("map entry unknown fields", kinds, lenField(kByI32, varint(1, 3), varint(3, 1), group(4), str(2, "v"), fixed32(9, 1)))
	add("map entry wrong wire types", kinds, lenField(kByI32, str(1, "k"), varint(2, 1)))
	add("map key lost to another wire type", kinds, lenField(kByI32, varint(1, 48), str(1, "0")))
	add("map key lost, then found", kinds, lenField(kByI32, varint(1, 48), str(1, "0"), varint(1, 49)))
	add("map key of another wire type first", kinds, lenField(kByI32, str(1, "0"), varint(1, 49)))
	add("map key lost in a dropped entry", kinds, cat(lenField(kByI32, varint(1, 1), fixed64(1, 1)), lenField(kByI32, varint(1, 1))))
	add("map key lost in a string map", kinds, lenField(kChildren, str(1, "k"), varint(1, 1)))
	add("map entry bad tag", kinds, lenField(kByI32, []byte{0x00}))
	add("map entry truncated", kinds, lenField(kByI32, []byte{0x08}))
	add("map wrong wire type", kinds, cat(varint(kByI32, 1), fixed32(kChildren, 1)))
	add("map key bad utf8", kinds, lenField(kChildren, str(1, badUTF8)))
	add("map value bad utf8", kinds, lenField(kByI32, str(2, badUTF8)))
	add("map key order", kinds, cat(lenField(kByI32, varint(1, math.MaxUint64)), lenField(kByI32, varint(1, 1)), lenField(kByI32, varint(1, 1<<31)),
		lenField(kByU64, varint(1, math.MaxUint64)), lenField(kByU64, varint(1, 1)), lenField(kByBool, varint(1, 2)), lenField(kByBool)))
	add("map string key order", kinds, cat(lenField(kChildren, str(1, "b")), lenField(kChildren, str(1, "B")), lenField(kChildren, str(1, "\u00e9")),
		lenField(kChildren, str(1, "ab")), lenField(kChildren, str(1, "a")), lenField(kChildren, str(1, "\U0001F600")), lenField(kChildren, str(1, "\uffff"))))
	add("map wrapper value", kinds, cat(lenField(kWrapped, str(1, "a")), lenField(kWrapped, str(1, "b"), lenField(2, varint(1, 1<<32|9)))))
	add("struct entry no value", "google.protobuf.Struct", lenField(1, str(1, "k")))
	add("struct entry empty value", "google.protobuf.Struct", lenField(1, str(1, "k"), lenField(2)))
	add("struct replaced bad value", "google.protobuf.Struct", cat(lenField(1, str(1, "k")), lenField(1, str(1, "k"), lenField(2, varint(4, 1)))))
	add("list value empty element", "google.protobuf.ListValue", lenField(1))
	add("enum map default", query, lenField(74, str(1, "k")))
	add("enum map undeclared", query, lenField(74, str(1, "k"), varint(2, 77)))
	add("bool map", query, cat(lenField(71, varint(1, 5), str(2, "t")), lenField(71, str(2, "f"))))
	add("sint map", query, cat(lenField(65, varint(1, 3)), lenField(65, varint(1, 4)), lenField(66, varint(1, 1)), lenField(66, varint(1, 2))))
	add("fixed maps", query, cat(lenField(67, fixed32(1, math.MaxUint32)), lenField(69, fixed32(1, math.MaxUint32)), lenField(68, fixed64(1, 1<<63)), lenField(70, fixed64(1, 1<<63))))
	add("fixed map key wrong wire type", query, lenField(67, varint(1, 1)))

	// Strings.
	add("bad utf8 proto3", kinds, str(kS, badUTF8))
	add("bad utf8 proto3 overwritten", kinds, cat(str(kS, badUTF8), str(kS, "ok")))
	add("bad utf8 proto2", proto2, str(8, badUTF8))
	add("bad utf8 proto2 overwritten", proto2, cat(str(8, badUTF8), str(8, "ok")))
	add("bad utf8 proto2 list", proto2, cat(str(10, "ok"), str(10, badUTF8)))
	add("bad utf8 legacy id", legacy, str(1, "\xc0\x80"))
	add("surrogate utf8", kinds, str(kS, "\xed\xa0\x80"))
	add("replacement char", kinds, str(kS, "\xef\xbf\xbd"))
	add("every control", kinds, str(kS, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f\"\\"))
	add("bad utf8 mask", kinds, lenField(kMask, str(1, badUTF8)))
	add("bad utf8 in any", kinds, lenField(kAny, str(1, badUTF8)))

	// Enums.
	add("closed enum undeclared", legacy, cat(str(1, "x"), varint(2, 5)))
	add("closed enum declared", legacy, cat(varint(2, 5), varint(2, 2)))
	add("closed enum negative", legacy, varint(2, math.MaxUint64))
	add("open enum undeclared", kinds, cat(varint(kColor, 42), packedVarints(kRColor, 42, math.MaxUint64)))
	add("null value field", query, cat(varint(37, 3), packedVarints(28, 0, 1, 5)))

	// Well-known types on the edge.
	add("timestamp max", kinds, lenField(kRTs, varint(1, 253402300799), varint(2, 999999999)))
	add("timestamp too late", kinds, lenField(kRTs, varint(1, 253402300800)))
	add("timestamp min", kinds, lenField(kRTs, varint(1, neg(-62135596800))))
	add("timestamp too early", kinds, lenField(kRTs, varint(1, neg(-62135596801))))
	add("timestamp negative nanos", kinds, lenField(kRTs, varint(2, neg(-1))))
	add("timestamp big nanos", kinds, lenField(kRTs, varint(2, 1000000000)))
	add("timestamp nanos truncated to int32", kinds, lenField(kRTs, varint(2, 1<<32|5)))
	add("timestamp digits", kinds, cat(lenField(kRTs, varint(2, 1)), lenField(kRTs, varint(2, 1000)), lenField(kRTs, varint(2, 1000000)),
		lenField(kRTs, varint(2, 120000000)), lenField(kRTs, varint(1, neg(-1)), varint(2, 5))))
	add("timestamp unknown field", kinds, lenField(kRTs, varint(3, 1), str(4, "x")))
	add("timestamp wrong wire type", kinds, lenField(kRTs, fixed64(1, 5)))
	add("duration bounds", kinds, lenField(kDur, varint(1, 315576000000), varint(2, 999999999)))
	add("duration too long", kinds, lenField(kDur, varint(1, 315576000001)))
	add("duration too short", kinds, lenField(kDur, varint(1, neg(-315576000001))))
	add("duration sign mismatch", kinds, lenField(kDur, varint(1, 1), varint(2, neg(-1))))
	add("duration sign mismatch 2", kinds, lenField(kDur, varint(1, neg(-1)), varint(2, 1)))
	add("duration negative nanos", kinds, lenField(kDur, varint(2, neg(-1000))))
	add("duration big nanos", kinds, lenField(kDur, varint(2, 1000000000)))
	add("duration digits", "google.protobuf.Duration", cat(varint(1, 12), varint(2, 3400)))
	for _, p := range []string{"", "a", "a_b", "a_b_c.d_e", "a1", "a_1", "a__b", "_a", "a_", "fooBar", "a.b", "a..b", ".a", "a.", "1a",
		"a.1b", "a_B", "x_y.z", "A", "a-b", "ab_cd9_ef", "a._b"} {
		add("field mask "+p, "google.protobuf.FieldMask", str(1, p))
	}
	add("field mask paths", "google.protobuf.FieldMask", cat(str(1, "a_b"), varint(1, 3), str(1, "c")))
	add("wrapper unset", "google.protobuf.StringValue", varint(2, 1))
	add("wrapper enum-like", "google.protobuf.Int32Value", varint(1, 1<<32|3))
	add("wrapper wrong wire type", "google.protobuf.BoolValue", fixed32(1, 1))
	add("empty with fields", "google.protobuf.Empty", cat(varint(1, 1), str(2, "x")))
	add("any type only", kinds, lenField(kAny, str(1, "type.googleapis.com/bindingtest.v1.Inner")))
	add("any unresolvable", kinds, lenField(kAny, str(1, "type.googleapis.com/no.Such"), str(2, "x")))
	add("any value only", kinds, lenField(kAny, str(2, "x")))
	add("any invalid", kinds, lenField(kAny, []byte{0x80}))
	add("any invalid dropped", kinds, cat(lenField(kInner, lenField(1, []byte{0x80})), lenField(kAny, []byte{0x80})))

	// Unknown fields everywhere.
	add("unknown fields", kinds, cat(varint(1000, 1), fixed32(1001, 1), fixed64(1002, 1), str(1003, badUTF8), group(1004), varint(kI32, 5)))
	add("unknown in nested", kinds, lenField(kNested, varint(99, 1), str(1, "x")))
	add("wrong wire types", kinds, cat(fixed32(kI32, 1), varint(kS, 1), fixed64(kFlt, 1), fixed32(kDbl, 1), str(kB, "x"), varint(kNested, 1), fixed32(kColor, 1)))
	add("wrong wire type then right", kinds, cat(fixed32(kI32, 1), varint(kI32, 2)))

	// Recursion depth, exact at the boundary.
	selfNest := func(n int) []byte { return nest(kSelf, n, varint(kI32, 1)) }
	for _, d := range []int{1, 2, 3, 5} {
		for n := d - 2; n <= d; n++ {
			if n < 0 {
				continue
			}
			addDepth(fmt.Sprintf("depth %d self %d", d, n), kinds, d, selfNest(n))
			// A map entry counts one level, its message value one more.
			addDepth(fmt.Sprintf("depth %d map %d", d, n), kinds, d, nest(kSelf, n, lenField(kChildren, str(1, "k"), lenField(2, varint(2, 1)))))
			addDepth(fmt.Sprintf("depth %d map no value %d", d, n), kinds, d, nest(kSelf, n, lenField(kChildren, str(1, "k"))))
			addDepth(fmt.Sprintf("depth %d map scalar %d", d, n), kinds, d, nest(kSelf, n, lenField(kByI32, str(2, "v"))))
			addDepth(fmt.Sprintf("depth %d map wrong wire type %d", d, n), kinds, d, nest(kSelf, n, varint(kByI32, 1)))
			addDepth(fmt.Sprintf("depth %d list %d", d, n), kinds, d, nest(kSelf, n, lenField(kItems, str(1, "x"))))
			addDepth(fmt.Sprintf("depth %d empty message %d", d, n), kinds, d, nest(kSelf, n, lenField(kNested)))
			addDepth(fmt.Sprintf("depth %d oneof dropped %d", d, n), kinds, d, nest(kSelf, n, cat(lenField(kInner), str(kA, "a"))))
			addDepth(fmt.Sprintf("depth %d struct %d", d, n), kinds, d, nest(kSelf, n, lenField(kVal, lenField(5, lenField(1, str(1, "k"), lenField(2, varint(4, 1)))))))
		}
	}
	addDepth("negative depth", kinds, -1, nil)
	deepStruct := varint(4, 1)
	for range 40 {
		deepStruct = lenField(6, lenField(1, deepStruct))
	}
	add("deep list values", "google.protobuf.Value", deepStruct)
	cases = append(cases, wireCase{name: "default depth", msg: kinds, wire: selfNest(9999), whole: true},
		wireCase{name: "past default depth", msg: kinds, wire: selfNest(10000), whole: true})
	add("nested inner", kinds, inner(lenField(kChildren, str(1, "a"), lenField(2, str(1, "x"), varint(2, 1)))))
	return cases
}

func TestRenderJSONCases(t *testing.T) {
	for _, c := range jsonCases {
		b := encodeJSON(t, c.msg, c.json)
		md := messageDesc(t, c.msg)
		for _, opts := range allOptions() {
			t.Run(fmt.Sprintf("%s/%+v", c.name, opts), func(t *testing.T) {
				checkAll(t, md, b, opts, strings.Contains(c.name, "any"))
			})
		}
	}
}

func TestRenderWireCases(t *testing.T) {
	for _, c := range wireCases() {
		md := messageDesc(t, c.msg)
		for _, opts := range allOptions() {
			opts.WireDepth = c.depth
			t.Run(fmt.Sprintf("%s/%+v", c.name, opts), func(t *testing.T) {
				if c.whole {
					if diff, _ := mismatch(t, md, c.wire, opts); diff != "" {
						t.Error(diff)
					}
					return
				}
				checkAll(t, md, c.wire, opts, strings.Contains(c.name, "any"))
			})
		}
	}
}

// checkAll compares AppendJSON and AppendFieldJSON of every field with the
// reference. anyAllowed says the input holds an Any, which wirejson may
// refuse.
func checkAll(t *testing.T, md protoreflect.MessageDescriptor, b []byte, opts Options, anyAllowed bool) {
	t.Helper()
	if diff, anyOnly := mismatch(t, md, b, opts); diff != "" || anyOnly && !anyAllowed {
		t.Errorf("AppendJSON of %s: %s (Any refused: %v)", short(b), diff, anyOnly)
	}
	m := plan(t, md, opts)
	if m.WellKnown != NotWellKnown && m.WellKnown != Empty {
		return
	}
	for i := range m.Fields {
		if diff, anyOnly := fieldMismatch(t, md, b, opts, i); diff != "" || anyOnly && !anyAllowed {
			t.Errorf("AppendFieldJSON of %s: %s (Any refused: %v)", short(b), diff, anyOnly)
		}
	}
}

// TestRenderScalars compares every float, integer and string form with the
// reference, through the fields of Kinds.
func TestRenderScalars(t *testing.T) {
	md := messageDesc(t, "bindingtest.v1.Kinds")
	var floats []float64
	for _, f := range []float64{0, 1, -1, 0.1, 1.0 / 3, 1e-6, 9.99999e-7, 1e-7, 1e20, 1e21, 9.999999e20, 123456789, 1e-300, 5e-324,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.MaxFloat32, math.SmallestNonzeroFloat32, 16777217, 2.5e-8, 1e100} {
		floats = append(floats, f, -f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1)))
	}
	for _, f := range floats {
		b := cat(fixed64(kDbl, math.Float64bits(f)), fixed32(kFlt, math.Float32bits(float32(f))), lenField(kVal, fixed64(2, math.Float64bits(f))))
		if diff, _ := mismatch(t, md, b, Options{}); diff != "" {
			t.Errorf("float %v: %s", f, diff)
		}
	}
	for _, v := range []uint64{0, 1, 127, 128, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		b := cat(varint(kI32, v), varint(kI64, v), varint(kU32, v), varint(kU64, v), varint(kS32, v), varint(kS64, v),
			fixed32(kF32, uint32(v)), fixed64(kF64, v), fixed32(kSF32, uint32(v)), fixed64(kSF64, v), varint(kColor, v), varint(kB, v))
		if diff, _ := mismatch(t, md, b, Options{}); diff != "" {
			t.Errorf("integer %d: %s", v, diff)
		}
	}
	for r := rune(0); r < 0x3000; r++ {
		b := cat(str(kS, "a"+string(r)+"b"), lenField(kChildren, str(1, string(r))))
		if diff, _ := mismatch(t, md, b, Options{}); diff != "" {
			t.Errorf("rune %U: %s", r, diff)
		}
	}
	for c := 0; c < 256; c++ {
		b := cat(str(kS, string([]byte{'x', byte(c)})), str(kBy, string([]byte{byte(c), byte(c), 0})))
		if diff, _ := mismatch(t, md, b, Options{}); diff != "" {
			t.Errorf("byte %#x: %s", c, diff)
		}
	}
}

// TestRenderUnpopulated: an empty message shows every field's unpopulated
// form under each option set.
func TestRenderUnpopulated(t *testing.T) {
	md := messageDesc(t, "bindingtest.v1.QueryKinds")
	for _, opts := range allOptions() {
		if diff, _ := mismatch(t, md, nil, opts); diff != "" {
			t.Errorf("%+v: %s", opts, diff)
		}
	}
}

// TestTimestampAndDurationText checks the dates and fractions written
// without the time package against protojson's way with it, over the
// whole range: every day of the first and last years, of the years around
// 1970 and of century years (leap or not), and a stride through the rest.
func TestTimestampAndDurationText(t *testing.T) {
	trim := func(x string) string {
		x = strings.TrimSuffix(x, "000")
		x = strings.TrimSuffix(x, "000")
		return strings.TrimSuffix(x, ".000")
	}
	nanos := []int32{0, 1, 999999999, 1000, 1000000, 120000000, 500, 4000000, 123456789}
	checkTimestamp := func(secs int64, n int32) {
		want := `"` + trim(time.Unix(secs, int64(n)).UTC().Format("2006-01-02T15:04:05.000000000")) + `Z"`
		got, err := appendTimestamp(nil, secs, n)
		if err != nil || string(got) != want {
			t.Fatalf("timestamp %d.%09d: got %s (%v), want %s", secs, n, got, err, want)
		}
	}
	day := int64(86400)
	var starts []int64
	for _, year := range []int{1, 2, 99, 100, 399, 400, 1600, 1700, 1899, 1900, 1969, 1970, 1971, 1999, 2000, 2024, 2100, 2400, 9998, 9999} {
		starts = append(starts, time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	}
	for i, start := range starts {
		for d := int64(0); d < 366; d++ {
			secs := start + d*day + int64(i*3607+int(d)*61)%day
			if secs <= maxTimestampSeconds {
				checkTimestamp(secs, nanos[int(d)%len(nanos)])
			}
		}
	}
	for secs := int64(minTimestampSeconds); secs <= maxTimestampSeconds; secs += 7*day + 3599 {
		checkTimestamp(secs, nanos[int(secs&7)])
	}
	for _, secs := range []int64{minTimestampSeconds, maxTimestampSeconds, -1, 0, 1, 951782400, 951868799} {
		for _, n := range nanos {
			checkTimestamp(secs, n)
		}
	}
	for _, secs := range []int64{0, 1, -1, 59, 3600, maxDurationSeconds, -maxDurationSeconds, 1234567890} {
		for _, n := range nanos {
			if secs < 0 {
				n = -n
			}
			sign, s, ns := "", secs, n
			if s < 0 || ns < 0 {
				sign, s, ns = "-", -s, -ns
			}
			want := `"` + trim(fmt.Sprintf("%s%d.%09d", sign, s, ns)) + `s"`
			got, err := appendDuration(nil, secs, n)
			if err != nil || string(got) != want {
				t.Fatalf("duration %d, %d: got %s (%v), want %s", secs, n, got, err, want)
			}
		}
	}
}

func TestAppendFieldJSONRefusesOtherFields(t *testing.T) {
	kinds := plan(t, messageDesc(t, "bindingtest.v1.Kinds"), Options{})
	book := plan(t, messageDesc(t, "library.v1.Book"), Options{})
	if _, _, err := kinds.AppendFieldJSON(nil, nil, book.Fields[0]); err == nil {
		t.Error("a field of another message was taken")
	}
	if _, _, err := kinds.AppendFieldJSON(nil, nil, nil); err == nil {
		t.Error("a nil field was taken")
	}
}

// TestRenderAllocs: rendering allocates nothing of its own once dst is big
// enough (the scratch is pooled).
func TestRenderAllocs(t *testing.T) {
	if poolDropsItems() {
		t.Skip("sync.Pool drops items (the race detector makes it), so the scratch is not reused")
	}
	for _, c := range []struct{ msg, json string }{{"library.v1.Book", bookJSON}, {"bindingtest.v1.Kinds", richKindsJSON}} {
		md := messageDesc(t, c.msg)
		b := encodeJSON(t, c.msg, c.json)
		for _, opts := range []Options{{}, {EmitUnpopulated: true}} {
			m := plan(t, md, opts)
			dst := make([]byte, 0, 1<<16)
			if _, err := m.AppendJSON(dst, b); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := m.AppendJSON(dst, b); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 0 {
				t.Errorf("%s %+v: %v allocations per reply", c.msg, opts, allocs)
			}
		}
	}
}

// poolDropsItems reports whether sync.Pool drops what it is given, as it
// does at random under the race detector.
func poolDropsItems() bool {
	var p sync.Pool
	for range 100 {
		x := new(int)
		p.Put(x)
		if p.Get() != x {
			return true
		}
	}
	return false
}

// richKindsJSON is a Kinds message with every kind of field set.
const richKindsJSON = `{"i32":-5,"i64":"-9007199254740993","u32":4294967295,"u64":"18446744073709551615","s32":-2147483648,
	"s64":"-9223372036854775808","f32":4294967295,"f64":"18446744073709551615","sf32":-1,"sf64":"-1","flt":1.5,"dbl":-2.25e-10,
	"b":true,"s":"a string with \"quotes\" and a \n newline, and \u00e9","by":"AAEC/w==","color":"GREEN",
	"rI64":["1","-2","3"],"rColor":["RED","GREEN"],"rTs":["2024-02-29T12:34:56.789Z"],"items":[{"x":"a","y":1},{"y":2}],
	"byI32":{"3":"c","1":"a","2":"b"},"byBool":{"true":"t"},"byU64":{"10":"5"},"children":{"b":{"x":"bx"},"a":{"y":1}},
	"wrapped":{"w":7},"bv":true,"bytv":"/w==","u64v":"7","dv":1.5,"sv":"s","fv":2.5,"inner":{"x":"i"},"nested":{"x":"n","y":9},
	"self":{"i32":1,"s":"self"},"mask":"a.bC,d","dur":"1.5s","val":{"k":[1,"two",null,true]},"opt":3,"custom":"named"}`

func BenchmarkRender(b *testing.B) {
	res := loadSchema(b)
	cases := []struct{ name, msg, json string }{
		{"Book", "library.v1.Book", bookJSON},
		{"Kinds", "bindingtest.v1.Kinds", richKindsJSON},
	}
	b.Run("wirejson", func(b *testing.B) {
		for _, c := range cases {
			m := plan(b, messageDesc(b, c.msg), Options{})
			wire := encodeJSON(b, c.msg, c.json)
			b.Run(c.name, func(b *testing.B) {
				var dst []byte
				b.ReportAllocs()
				b.SetBytes(int64(len(wire)))
				for b.Loop() {
					var err error
					if dst, err = m.AppendJSON(dst[:0], wire); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("reference", func(b *testing.B) {
		for _, c := range cases {
			md := messageDesc(b, c.msg)
			mt := dynamicpb.NewMessageType(md)
			wire := encodeJSON(b, c.msg, c.json)
			decode := proto.UnmarshalOptions{AllowPartial: true, Resolver: res}
			marshal := referenceMarshal(res, Options{})
			b.Run(c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(wire)))
				for b.Loop() {
					msg := mt.New()
					if err := decode.Unmarshal(wire, msg.Interface()); err != nil {
						b.Fatal(err)
					}
					out, err := marshal.Marshal(msg.Interface())
					if err != nil {
						b.Fatal(err)
					}
					translate.CompactJSON(out)
				}
			})
		}
	})
}
