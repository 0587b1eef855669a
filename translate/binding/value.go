package binding

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/translate"
)

// This file parses the string form of a value, as path variables and query
// parameters carry it, into a field. The forms are those of proto3 JSON, so
// that a value means the same in the URL as in a body, with the additions
// clients expect from grpc-gateway: enums and bools accept more spellings,
// durations may be written as Go prints them ("1m30s"), and Struct, Value
// and ListValue are given as their JSON text. Problems are returned as short
// descriptions ("not an integer") that the caller wraps with the field and
// value.

// Well-known message types that are set from a single value, as if they
// were scalars: those whose JSON form is a string, those given as JSON text,
// and Empty.
const (
	wktTimestamp = "google.protobuf.Timestamp"
	wktDuration  = "google.protobuf.Duration"
	wktFieldMask = "google.protobuf.FieldMask"
	wktStruct    = "google.protobuf.Struct"
	wktValue     = "google.protobuf.Value"
	wktListValue = "google.protobuf.ListValue"
	wktEmpty     = "google.protobuf.Empty"
)

func isWrapper(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue",
		"google.protobuf.BytesValue":
		return true
	}
	return false
}

// isLeafMessage reports whether a message is set from one string.
func isLeafMessage(md protoreflect.MessageDescriptor) bool {
	switch name := md.FullName(); name {
	case wktTimestamp, wktDuration, wktFieldMask, wktStruct, wktValue, wktListValue, wktEmpty:
		return true
	default:
		return isWrapper(name)
	}
}

// isLeaf reports whether fd (or its elements) takes a value from a string.
func isLeaf(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() == nil || isLeafMessage(fd.Message())
}

// setSingular sets the string form s into the singular field fd of m.
// depth is how many message levels the value may still nest, for the types
// given as JSON text.
func setSingular(m protoreflect.Message, fd protoreflect.FieldDescriptor, s string, depth int) string {
	if fd.Message() != nil {
		return setLeafMessage(m.Mutable(fd).Message(), s, depth)
	}
	v, problem := parseScalar(fd, s)
	if problem != "" {
		return problem
	}
	m.Set(fd, v)
	return ""
}

// appendValue appends the string form s to the repeated field list.
func appendValue(list protoreflect.List, fd protoreflect.FieldDescriptor, s string, depth int) string {
	if fd.Message() != nil {
		e := list.NewElement()
		if problem := setLeafMessage(e.Message(), s, depth); problem != "" {
			return problem
		}
		list.Append(e)
		return ""
	}
	v, problem := parseScalar(fd, s)
	if problem != "" {
		return problem
	}
	list.Append(v)
	return ""
}

// setMapValue sets the string form s as the value of key k in mp.
func setMapValue(mp protoreflect.Map, k protoreflect.MapKey, fd protoreflect.FieldDescriptor, s string, depth int) string {
	if fd.Message() != nil {
		v := mp.NewValue()
		if problem := setLeafMessage(v.Message(), s, depth); problem != "" {
			return problem
		}
		mp.Set(k, v)
		return ""
	}
	v, problem := parseScalar(fd, s)
	if problem != "" {
		return problem
	}
	mp.Set(k, v)
	return ""
}

// setLeafMessage fills a wrapper, Timestamp, Duration, FieldMask, Struct,
// Value, ListValue or Empty from s. m is a fresh message.
func setLeafMessage(m protoreflect.Message, s string, depth int) string {
	md := m.Descriptor()
	switch md.FullName() {
	case wktTimestamp:
		if !timeChars(s) || unmarshalJSONString(m, s) != nil {
			return "not an RFC 3339 timestamp such as 2024-01-01T00:00:00Z"
		}
		return ""
	case wktDuration:
		if timeChars(s) && unmarshalJSONString(m, s) == nil {
			return ""
		}
		if d, ok := goDuration(s); ok {
			m.Set(md.Fields().ByNumber(1), protoreflect.ValueOfInt64(int64(d/time.Second)))
			m.Set(md.Fields().ByNumber(2), protoreflect.ValueOfInt32(int32(d%time.Second)))
			return ""
		}
		return `not a duration in seconds such as "1.5s"`
	case wktStruct, wktValue, wktListValue:
		return setJSONText(m, s, depth)
	case wktEmpty:
		// No value (empty=, or a bare empty) or the JSON of an empty
		// message; either way the field is present.
		if s == "" || protojson.Unmarshal([]byte(s), m.Interface()) == nil {
			return ""
		}
		return "not empty: a google.protobuf.Empty takes no value or {}"
	case wktFieldMask:
		paths, ok := parseFieldMask(s)
		if !ok {
			return `not a field mask: comma-separated field paths such as "title,author.name"`
		}
		list := m.Mutable(md.Fields().ByNumber(1)).List()
		for _, p := range paths {
			list.Append(protoreflect.ValueOfString(p))
		}
		return ""
	}
	if isWrapper(md.FullName()) {
		vfd := md.Fields().ByNumber(1)
		v, problem := parseScalar(vfd, s)
		if problem != "" {
			return problem
		}
		m.Set(vfd, v)
		return ""
	}
	return "a message cannot be set from a single value" // unreachable: resolution checks isLeaf
}

// goDuration parses a duration as Go prints a time.Duration ("13h0m0s",
// "1m30s", "1.5µs", with us or μs for µs), the form clients written in Go
// send, which grpc-gateway accepts through time.ParseDuration. Only that
// printed form is taken: it always ends in a seconds unit and loses no
// precision, while other spellings Go would parse ("1h", "90m", "0",
// "1.0000000001s") are left to fail with the proto3 JSON form's message.
func goDuration(s string) (time.Duration, bool) {
	if len(s) > 64 {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false
	}
	// Go prints microseconds as µs (U+00B5) and parses us and μs (U+03BC)
	// as the same unit.
	printed := d.String()
	if strings.HasSuffix(s, "us") || strings.HasSuffix(s, "μs") {
		printed = strings.TrimSuffix(printed, "µs")
		s = strings.TrimSuffix(strings.TrimSuffix(s, "us"), "μs")
	}
	return d, printed == s
}

// setJSONText fills a Struct, Value or ListValue from its JSON text, with
// protojson, so that it means what it would in a body, within the depth the
// field has left.
func setJSONText(m protoreflect.Message, s string, depth int) string {
	var want string
	switch m.Descriptor().FullName() {
	case wktStruct:
		want = `a JSON object such as {"a":1}`
	case wktListValue:
		want = `a JSON array such as [1,"a"]`
	default:
		want = `JSON text such as {"a":1}, [1], "text", 1.5, true or null`
	}
	if depth < 1 {
		return "nested deeper than the depth limit"
	}
	err := protojson.UnmarshalOptions{RecursionLimit: depth}.Unmarshal([]byte(s), m.Interface())
	if err == nil {
		return ""
	}
	detail := translate.ProtoErrorText(err)
	if translate.CheckText([]byte(s)) != nil && utf8.ValidString(s) {
		detail = "a \\u escape is half of a UTF-16 surrogate pair" // protojson says "unexpected EOF"
	}
	if s == "" {
		detail = "no value"
	}
	return "not " + want + ": " + detail
}

// timeChars reports whether s has only characters a Timestamp or Duration can
// contain, so that it can be quoted as a JSON string without escaping.
func timeChars(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == ':' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// unmarshalJSONString lets protojson parse a Timestamp or Duration, so that
// the string forms accepted are exactly proto3 JSON's.
func unmarshalJSONString(m protoreflect.Message, s string) error {
	b := make([]byte, 0, len(s)+2)
	b = append(append(append(b, '"'), s...), '"')
	return protojson.Unmarshal(b, m.Interface())
}

// parseFieldMask accepts the JSON form (lowerCamelCase: "authorName") and
// the proto form ("author_name"), as clients use both; a path containing an
// underscore is taken as written, any other is converted to snake_case.
func parseFieldMask(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	paths := strings.Split(s, ",")
	for i, p := range paths {
		if !strings.Contains(p, "_") {
			p = snakeCase(p)
		}
		if !protoreflect.FullName(p).IsValid() {
			return nil, false
		}
		paths[i] = p
	}
	return paths, true
}

func snakeCase(s string) string {
	var b []byte // allocated only when there is an upper-case letter
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			if b == nil {
				b = append(make([]byte, 0, len(s)+4), s[:i]...)
			}
			b = append(b, '_', c+'a'-'A')
		case b != nil:
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// parseScalar parses the string form of a scalar or enum field. Integers are
// parsed as integers, never through float64, so 64-bit values are exact.
func parseScalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, string) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		// Checked for every string field, proto2 included: the value came
		// from a URL, and the backend would reject invalid UTF-8 anyway.
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, "not valid UTF-8"
		}
		return protoreflect.ValueOfString(s), ""
	case protoreflect.BytesKind:
		b, ok := decodeBase64(s)
		if !ok {
			if strings.Contains(s, " ") {
				return protoreflect.Value{}, "not base64 (a + in a query string means a space: encode it as %2B, or use URL-safe base64)"
			}
			return protoreflect.Value{}, "not base64"
		}
		return protoreflect.ValueOfBytes(b), ""
	case protoreflect.BoolKind:
		// strconv.ParseBool, as grpc-gateway uses: true/false, 1/0, t/f.
		b, err := strconv.ParseBool(s)
		if err != nil {
			return protoreflect.Value{}, "not a boolean (true or false)"
		}
		return protoreflect.ValueOfBool(b), ""
	case protoreflect.EnumKind:
		return parseEnum(fd.Enum(), s)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, intProblem(err, "int32")
		}
		return protoreflect.ValueOfInt32(int32(n)), ""
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, intProblem(err, "int64")
		}
		return protoreflect.ValueOfInt64(n), ""
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, uintProblem(err, s, "uint32")
		}
		return protoreflect.ValueOfUint32(uint32(n)), ""
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, uintProblem(err, s, "uint64")
		}
		return protoreflect.ValueOfUint64(n), ""
	case protoreflect.FloatKind:
		f, problem := parseFloat(s, 32, "float")
		if problem != "" {
			return protoreflect.Value{}, problem
		}
		return protoreflect.ValueOfFloat32(float32(f)), ""
	case protoreflect.DoubleKind:
		f, problem := parseFloat(s, 64, "double")
		if problem != "" {
			return protoreflect.Value{}, problem
		}
		return protoreflect.ValueOfFloat64(f), ""
	}
	return protoreflect.Value{}, "cannot be set from a single value"
}

func intProblem(err error, typ string) string {
	if errors.Is(err, strconv.ErrRange) {
		return "out of range for " + typ
	}
	return "not an integer"
}

func uintProblem(err error, s, typ string) string {
	if errors.Is(err, strconv.ErrRange) {
		return "out of range for " + typ
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return "out of range for " + typ // a negative number
	}
	return "not an unsigned integer"
}

// parseFloat parses a float or double in a form proto3 JSON has.
func parseFloat(s string, bits int, typ string) (float64, string) {
	f, err := strconv.ParseFloat(s, bits)
	switch {
	case !jsonFloatForm(s) && (err == nil || errors.Is(err, strconv.ErrRange)):
		return 0, `not a number as proto3 JSON writes it: decimal digits with an optional exponent, or "Infinity", "-Infinity" or "NaN"`
	case err != nil:
		return 0, floatProblem(err, typ)
	}
	return f, ""
}

// jsonFloatForm reports whether s, which strconv.ParseFloat accepts, is a
// number as proto3 JSON has it: decimal notation, or exactly NaN, Infinity
// or -Infinity. strconv also takes hexadecimal floats (0x1p4), digit
// separators (1_0) and Inf, inf, infinity, nan in any case; none of them
// would be accepted in a body, and a hexadecimal id sent to a float field
// is a client bug, not a number.
func jsonFloatForm(s string) bool {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

func floatProblem(err error, typ string) string {
	if errors.Is(err, strconv.ErrRange) {
		return "out of range for " + typ
	}
	return "not a number"
}

// parseEnum takes a value name (case-sensitive, as in proto3 JSON) or a
// number. Open (proto3) enums accept any int32 number, as the wire does;
// closed (proto2) enums only their declared numbers.
func parseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.Value, string) {
	if ev := ed.Values().ByName(protoreflect.Name(s)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), ""
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err == nil {
		if ed.IsClosed() && ed.Values().ByNumber(protoreflect.EnumNumber(n)) == nil {
			return protoreflect.Value{}, "unknown enum number"
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), ""
	}
	vals := ed.Values()
	var b strings.Builder
	b.WriteString("unknown enum value; want one of ")
	const show = 10
	for i := 0; i < vals.Len() && i < show; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(vals.Get(i).Name()))
	}
	if vals.Len() > show {
		b.WriteString(", ...")
	}
	b.WriteString(" or a number")
	return protoreflect.Value{}, b.String()
}

// decodeBase64 accepts standard and URL-safe base64, padded or not, as
// proto3 JSON does for bytes.
func decodeBase64(s string) ([]byte, bool) {
	url := strings.ContainsAny(s, "-_")
	padded := len(s)%4 == 0
	var enc *base64.Encoding
	switch {
	case url && padded:
		enc = base64.URLEncoding
	case url:
		enc = base64.RawURLEncoding
	case padded:
		enc = base64.StdEncoding
	default:
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// parseMapKey parses a map key from its string form (map keys are strings,
// integers or bools).
func parseMapKey(fd protoreflect.FieldDescriptor, s string) (protoreflect.MapKey, string) {
	v, problem := parseScalar(fd, s)
	if problem != "" {
		return protoreflect.MapKey{}, problem
	}
	return v.MapKey(), ""
}

// typeName names a field's type for error messages: the scalar kind, or the
// full name of the enum or message.
func typeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.Enum() != nil:
		return string(fd.Enum().FullName())
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// maxQuoted bounds how much of a client's value is echoed in an error.
const maxQuoted = 64

func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

func invalidValue(value, field string, fd protoreflect.FieldDescriptor, problem string) string {
	return fmt.Sprintf("invalid value %s for field %s (%s): %s", quote(value), quote(field), typeName(fd), problem)
}
