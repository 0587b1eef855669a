package binding

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/translate"
)

// This file turns a failed protojson unmarshal into an error a client can
// act on. All of it runs only after a body has failed, so it may re-read the
// body: the cost of good errors is paid by bad requests alone.

// bodyError explains why protojson rejected body.
func (r *Rule) bodyError(body []byte, err error) *translate.Error {
	msg := translate.ProtoErrorText(err)
	field := "" // the violation's field when nothing more precise is known
	if r.body == bodyField {
		field = string(r.bodyField.Name())
	}
	if strings.Contains(msg, "exceeded max recursion depth") {
		return fieldError(field, fmt.Sprintf("request body is nested too deeply: the limit is %d levels", r.maxDepth))
	}
	if !json.Valid(body) {
		return fieldError(field, translate.NotJSON(body))
	}
	if r.strict {
		// protojson stops at the first unknown field; walk the body to
		// name all of them, so that a client fixes them in one round.
		w := r.walk(body, -1, true)
		if w.unknownTotal > 0 {
			var vs translate.Violations
			for _, p := range w.unknown {
				vs.Add(p, "unknown field "+quote(p))
			}
			vs.SetTotal(w.unknownTotal)
			return vs.Err()
		}
	}
	line, col, rest, ok := splitPosition(msg)
	if !ok {
		return fieldError(field, "invalid request body: "+msg)
	}
	if r.bodyPrefix != nil && line == 1 {
		// The position is in the wrapped body; move it back.
		col -= utf8.RuneCount(r.bodyPrefix)
	}
	off := offsetOf(body, line, col)
	line, col = translate.PositionOf(body, off)
	if p := r.walk(body, int64(off), false).located; p != "" {
		field = p
	}
	desc := fmt.Sprintf("invalid request body at line %d:%d", line, col)
	if field != "" {
		desc += fmt.Sprintf(" (field %s)", quote(field))
	}
	return fieldError(field, desc+": "+rest)
}

// fieldError is the 400 for one problem, without details when no field is
// known: a violation must name a field, and a body that is not JSON at all
// has none.
func fieldError(field, desc string) *translate.Error {
	if field == "" {
		return translate.BadRequest(desc)
	}
	var vs translate.Violations
	vs.Add(field, desc)
	return vs.Err()
}

// splitPosition parses protojson's "(line 1:13): problem" and
// "syntax error (line 1:13): problem".
func splitPosition(s string) (line, col int, rest string, ok bool) {
	t, syntax := strings.CutPrefix(s, "syntax error ")
	t, found := strings.CutPrefix(t, "(line ")
	if !found {
		return 0, 0, "", false
	}
	pos, rest, found := strings.Cut(t, "): ")
	if !found {
		return 0, 0, "", false
	}
	l, c, found := strings.Cut(pos, ":")
	line, err1 := strconv.Atoi(l)
	col, err2 := strconv.Atoi(c)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	if syntax {
		rest = "syntax error: " + rest
	}
	return line, col, rest, true
}

// offsetOf is the byte offset of a protojson position: 1-based line, and
// 1-based column counted in runes.
func offsetOf(b []byte, line, col int) int {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return len(b)
		}
		off += i + 1
	}
	for ; col > 1 && off < len(b); col-- {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// walk reads body against the rule's descriptors. With target >= 0 it finds
// the field path at that byte offset; with collect it lists unknown fields.
func (r *Rule) walk(body []byte, target int64, collect bool) *walker {
	w := newWalker(body, r.res, r.maxDepth, 0, target, collect)
	switch {
	case r.body == bodyWhole:
		w.message(r.in.Descriptor(), "", 0)
	case r.bodyPrefix == nil:
		w.message(r.bodyField.Message(), string(r.bodyField.Name()), 1)
	default:
		w.field(r.bodyField, string(r.bodyField.Name()), 0)
	}
	return w
}

// walker follows a JSON document through message descriptors the way
// protojson reads it (json_name or proto name, [extension] names, the
// special forms of well-known types), tracking the field path. Paths use
// proto names, "[i]" for list elements and "[key]" for map entries, as
// google.rpc.BadRequest recommends.
type walker struct {
	dec      *json.Decoder
	res      translate.Resolver
	maxDepth int
	base     int64 // offset of dec's input in the whole body

	target  int64 // offset to locate, or -1
	found   bool
	located string

	collect      bool
	unknown      []string // the first translate.MaxViolations unknown field paths
	unknownTotal int

	failed bool
}

func newWalker(b []byte, res translate.Resolver, maxDepth int, base, target int64, collect bool) *walker {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers are only skipped; never convert (1e400 would fail)
	return &walker{dec: dec, res: res, maxDepth: maxDepth, base: base, target: target, collect: collect}
}

func (w *walker) stopped() bool { return w.failed || w.found && !w.collect }

func (w *walker) read() (json.Token, bool) {
	if w.stopped() {
		return nil, false
	}
	t, err := w.dec.Token()
	if err != nil {
		w.failed = true
		return nil, false
	}
	return t, true
}

// at records path as the located one if the token just read covers target.
func (w *walker) at(path string) {
	if w.target >= 0 && !w.found && w.base+w.dec.InputOffset() > w.target {
		w.found, w.located = true, path
	}
}

func (w *walker) addUnknown(path string) {
	if !w.collect {
		return
	}
	w.unknownTotal++
	if len(w.unknown) < translate.MaxViolations {
		w.unknown = append(w.unknown, path)
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// message walks one value of message type md.
func (w *walker) message(md protoreflect.MessageDescriptor, path string, depth int) bool {
	switch {
	case md.FullName() == "google.protobuf.Any":
		return w.any(path, depth)
	case hasCustomJSON(md) && md.FullName() != "google.protobuf.Empty":
		// A string, or free-form JSON: no field names to check. Empty
		// is an object without fields, walked below like any message.
		return w.skip(path)
	}
	tok, ok := w.read()
	if !ok {
		return false
	}
	w.at(path)
	if tok != json.Delim('{') || depth > w.maxDepth {
		return w.skipRest(tok, path) // protojson reports the type mismatch
	}
	return w.fields(md, path, depth, false)
}

// fields walks the members of an object whose '{' has been read.
func (w *walker) fields(md protoreflect.MessageDescriptor, path string, depth int, inAny bool) bool {
	for w.dec.More() {
		tok, ok := w.read()
		if !ok {
			return false
		}
		name, _ := tok.(string)
		fd := w.lookup(md, name)
		if fd == nil {
			kp := join(path, name)
			w.at(kp)
			if !inAny || name != "@type" {
				w.addUnknown(kp)
			}
			if !w.skip(kp) {
				return false
			}
			continue
		}
		kp := join(path, fieldName(fd))
		w.at(kp)
		if !w.field(fd, kp, depth) {
			return false
		}
	}
	if _, ok := w.read(); !ok { // '}'
		return false
	}
	w.at(path)
	return true
}

func (w *walker) lookup(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if len(name) > 2 && name[0] == '[' && name[len(name)-1] == ']' {
		xt, err := w.res.FindExtensionByName(protoreflect.FullName(name[1 : len(name)-1]))
		if err != nil {
			return nil
		}
		if xd := xt.TypeDescriptor(); xd.ContainingMessage().FullName() == md.FullName() {
			return xd
		}
		return nil
	}
	if fd := md.Fields().ByJSONName(name); fd != nil {
		return fd
	}
	return md.Fields().ByTextName(name)
}

func fieldName(fd protoreflect.FieldDescriptor) string {
	if fd.IsExtension() {
		return "[" + string(fd.FullName()) + "]"
	}
	return string(fd.Name())
}

// field walks the value of field fd.
func (w *walker) field(fd protoreflect.FieldDescriptor, path string, depth int) bool {
	switch {
	case fd.IsMap():
		tok, ok := w.read()
		if !ok {
			return false
		}
		w.at(path)
		if tok != json.Delim('{') {
			return w.skipRest(tok, path)
		}
		for w.dec.More() {
			k, ok := w.read()
			if !ok {
				return false
			}
			key, _ := k.(string)
			kp := path + "[" + key + "]"
			w.at(kp)
			if !w.singular(fd.MapValue(), kp, depth) {
				return false
			}
		}
		_, ok = w.read()
		w.at(path)
		return ok
	case fd.IsList():
		tok, ok := w.read()
		if !ok {
			return false
		}
		w.at(path)
		if tok != json.Delim('[') {
			return w.skipRest(tok, path)
		}
		for i := 0; w.dec.More(); i++ {
			if !w.singular(fd, path+"["+strconv.Itoa(i)+"]", depth) {
				return false
			}
		}
		_, ok = w.read()
		w.at(path)
		return ok
	}
	return w.singular(fd, path, depth)
}

func (w *walker) singular(fd protoreflect.FieldDescriptor, path string, depth int) bool {
	if fd.Message() != nil {
		return w.message(fd.Message(), path, depth+1)
	}
	return w.skip(path)
}

// skip reads one value whole.
func (w *walker) skip(path string) bool {
	tok, ok := w.read()
	if !ok {
		return false
	}
	w.at(path)
	return w.skipRest(tok, path)
}

// skipRest finishes a value whose first token was tok, iteratively, so that
// deep nesting costs no stack.
func (w *walker) skipRest(tok json.Token, path string) bool {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return true
	}
	for open := 1; open > 0; {
		t, ok := w.read()
		if !ok {
			return false
		}
		w.at(path)
		switch t {
		case json.Delim('{'), json.Delim('['):
			open++
		case json.Delim('}'), json.Delim(']'):
			open--
		}
	}
	return true
}

// any walks a google.protobuf.Any: its "@type" may come after the fields it
// types, so the value is read whole and walked again once the type is known.
func (w *walker) any(path string, depth int) bool {
	if w.stopped() {
		return false
	}
	var raw json.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		w.failed = true
		return false
	}
	end := w.base + w.dec.InputOffset()
	start := end - int64(len(raw))
	var head struct {
		Type string `json:"@type"`
	}
	if json.Unmarshal(raw, &head) != nil || head.Type == "" || depth > w.maxDepth {
		w.at(path)
		return true // not an object, or no type: protojson says so
	}
	mt, err := w.res.FindMessageByURL(head.Type)
	if err != nil {
		w.at(path)
		return true // protojson reports the unresolvable type
	}
	sub := newWalker(raw, w.res, w.maxDepth, start, w.target, w.collect)
	sub.found = w.found
	if tok, ok := sub.read(); ok && tok == json.Delim('{') {
		sub.at(path)
		md := mt.Descriptor()
		if hasCustomJSON(md) || md.FullName() == "google.protobuf.Any" {
			// {"@type": ..., "value": <the special form>}
			for sub.dec.More() {
				k, ok := sub.read()
				if !ok {
					break
				}
				key, _ := k.(string)
				kp := join(path, key)
				sub.at(kp)
				if key != "@type" && key != "value" {
					sub.addUnknown(kp)
				}
				if !sub.skip(kp) {
					break
				}
			}
		} else {
			sub.fields(md, path, depth, true)
		}
	}
	if sub.found && !w.found {
		w.found, w.located = true, sub.located
	}
	w.unknownTotal += sub.unknownTotal
	for _, p := range sub.unknown {
		if len(w.unknown) < translate.MaxViolations {
			w.unknown = append(w.unknown, p)
		}
	}
	w.at(path) // the target was in the Any but not in a member
	return true
}

// hasCustomJSON reports whether protojson reads md from something other than
// an object of its fields (Any is handled apart).
func hasCustomJSON(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
		"google.protobuf.Empty":
		return true
	}
	return isLeafMessage(md)
}
