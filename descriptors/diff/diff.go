// Package diff compares two versions of a descriptor set as the clients of
// a REST gateway see them, and says which changes break those clients.
//
// # Which rules
//
// The checks follow Buf's WIRE_JSON breaking-change category (changes that
// break the binary or the JSON encoding), because the gateway speaks JSON
// to its clients and protobuf to its backends. Covered as in WIRE_JSON:
// FIELD_SAME_NAME and FIELD_SAME_JSON_NAME, FIELD_SAME_ONEOF,
// FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY (implicit to explicit presence
// passes, repeated to map does not), FIELD_SAME_DEFAULT,
// MESSAGE_SAME_REQUIRED_FIELDS, ENUM_VALUE_SAME_NAME, and the RPC_SAME_*
// rules (request and response types, client and server streaming,
// idempotency level).
//
// Where it differs, it is stricter, for what a gateway adds:
//   - A removed service or method is breaking (Buf's RPC_NO_DELETE is in
//     FILE and PACKAGE only): through the gateway its routes vanish.
//   - A removed field or enum value is breaking even when its name and
//     number are reserved (Buf's *_NO_DELETE_UNLESS_*_RESERVED): a REST
//     client reading it from answers loses it. Register with
//     allow_breaking when that is intended.
//   - Any change of a field's declared type is breaking. Buf lets int32
//     and uint32, int64 and uint64, fixed32 and sfixed32, fixed64 and
//     sfixed64 swap, and an enum move under the same short name; a
//     negative number does not fit the unsigned type, and a reviewer
//     should see the move.
//   - google.api.http bindings are compared (Buf leaves custom options
//     out): a removed or changed binding is a URL clients call that now
//     answers 404 or differently.
//   - The gateway's own switchboard.v1.policy option is compared (element
//     "policy"): a removed option, a changed or dropped policy name,
//     removed scopes, and a removed or looser rate limit (a higher rate,
//     a larger burst, another key) open a method wider than before and
//     are breaking; an added option, policy, scope or rate limit, and a
//     tighter rate limit, are reported, not breaking.
//   - A field that becomes required through google.api.field_behavior =
//     REQUIRED is breaking, as a proto2 required field is.
//
// Services are those the gateway exposes (descriptors.Set.ExposedServices):
// for an upload, not those of a file another file of the set imports. A
// service whose file becomes imported is removed for clients, and reported
// so, even though its definition is still in the set.
//
// And it leaves out what a gateway cannot observe or what shows up
// elsewhere: removed messages and enums are reported but not breaking (as
// in WIRE_JSON: whatever used them changed too, and that change is), a
// changed package shows up as removed services, and reserved ranges,
// extensions, JSON-format features and comments are not compared.
package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
)

// Kind says what happened to an element.
type Kind string

const (
	Removed Kind = "removed"
	Added   Kind = "added"
	Changed Kind = "changed"
)

// The kinds of element a Change is about.
const (
	ElementService   = "service"
	ElementMethod    = "method"
	ElementHTTPRule  = "http_rule"
	ElementPolicy    = "policy"
	ElementMessage   = "message"
	ElementField     = "field"
	ElementEnum      = "enum"
	ElementEnumValue = "enum_value"
)

// Change is one difference between two versions of a set.
type Change struct {
	Kind     Kind   `json:"kind"`
	Breaking bool   `json:"breaking"`
	Element  string `json:"element"`
	// Path is the element's full name in the old version (the name
	// clients knew), in the new one for additions: "library.v1.Book.title",
	// "library.v1.LibraryService.GetBook" (also for its HTTP bindings),
	// "library.v1.Genre.FICTION" for an enum value.
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (c Change) String() string { return c.Message }

// Sets lists the differences from old to new, sorted by path, then element,
// kind and message, so the same two sets always give the same list. A nil
// old means new is the first version: its services, messages and enums are
// reported as added (not each of their members).
func Sets(old, new *descriptors.Set) []Change {
	d := &differ{}
	oldIdx, newIdx := index(old), index(new)
	d.services(oldIdx, newIdx)
	d.messages(oldIdx, newIdx)
	d.enums(oldIdx, newIdx)
	slices.SortFunc(d.out, compare)
	return d.out
}

// Breaking returns the breaking changes of cs, in their order.
func Breaking(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

// BreakingFirst returns cs with the breaking changes first, each group in
// its order: what a reader must act on comes before what is only news.
func BreakingFirst(cs []Change) []Change {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b Change) int {
		switch {
		case a.Breaking == b.Breaking:
			return 0
		case a.Breaking:
			return -1
		}
		return 1
	})
	return out
}

// Join is cs's messages joined with "; ", at most max of them followed by
// "and N more", for one-line error messages.
func Join(cs []Change, max int) string {
	var parts []string
	for i, c := range cs {
		if max > 0 && i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-max))
			break
		}
		parts = append(parts, c.Message)
	}
	return strings.Join(parts, "; ")
}

var elementRank = map[string]int{ElementService: 0, ElementMethod: 1, ElementHTTPRule: 2, ElementPolicy: 3,
	ElementMessage: 4, ElementField: 5, ElementEnum: 6, ElementEnumValue: 7}

func compare(a, b Change) int {
	return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(elementRank[a.Element], elementRank[b.Element]),
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Message, b.Message))
}

// setIndex is a set's own declarations by full name. Built-in files
// (google/protobuf, google/api, ...) are left out: they are the gateway's
// vocabulary, the same in both versions. services are those the gateway
// exposes; hidden those defined in the set but not exposed, by the file
// that imports theirs.
type setIndex struct {
	services map[protoreflect.FullName]protoreflect.ServiceDescriptor
	hidden   map[protoreflect.FullName]string
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
	enums    map[protoreflect.FullName]protoreflect.EnumDescriptor
}

func index(s *descriptors.Set) setIndex {
	idx := setIndex{services: map[protoreflect.FullName]protoreflect.ServiceDescriptor{},
		hidden:   map[protoreflect.FullName]string{},
		messages: map[protoreflect.FullName]protoreflect.MessageDescriptor{},
		enums:    map[protoreflect.FullName]protoreflect.EnumDescriptor{}}
	if s == nil {
		return idx
	}
	for _, sd := range s.ExposedServices() {
		idx.services[sd.FullName()] = sd
	}
	for _, sd := range s.Services() {
		if _, ok := idx.services[sd.FullName()]; !ok {
			idx.hidden[sd.FullName()] = importerOf(s, sd.ParentFile().Path())
		}
	}
	var walk func(ms protoreflect.MessageDescriptors, es protoreflect.EnumDescriptors)
	walk = func(ms protoreflect.MessageDescriptors, es protoreflect.EnumDescriptors) {
		for i := range es.Len() {
			idx.enums[es.Get(i).FullName()] = es.Get(i)
		}
		for i := range ms.Len() {
			md := ms.Get(i)
			if md.IsMapEntry() {
				continue // compared as the map field's key and value types
			}
			idx.messages[md.FullName()] = md
			walk(md.Messages(), md.Enums())
		}
	}
	for _, f := range s.FDS.GetFile() {
		if descriptors.IsBuiltin(f.GetName()) {
			continue
		}
		fd, err := s.Files.FindFileByPath(f.GetName())
		if err != nil {
			continue // cannot happen for a set built by NewSet
		}
		walk(fd.Messages(), fd.Enums())
	}
	return idx
}

// importerOf names the first file of s, by name, that imports path.
func importerOf(s *descriptors.Set, path string) string {
	var names []string
	for _, f := range s.FDS.GetFile() {
		if slices.Contains(f.GetDependency(), path) {
			names = append(names, f.GetName())
		}
	}
	if len(names) == 0 {
		return "another file of the set"
	}
	return slices.Min(names)
}

type differ struct{ out []Change }

func (d *differ) add(kind Kind, breaking bool, element string, path protoreflect.FullName, format string, args ...any) {
	d.out = append(d.out, Change{Kind: kind, Breaking: breaking, Element: element, Path: string(path), Message: fmt.Sprintf(format, args...)})
}

// sortedKeys is the union of both maps' keys, sorted.
func sortedKeys[V any](a, b map[protoreflect.FullName]V) []protoreflect.FullName {
	var out []protoreflect.FullName
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (d *differ) services(old, new setIndex) {
	for _, name := range sortedKeys(old.services, new.services) {
		o, inOld := old.services[name]
		n, inNew := new.services[name]
		switch {
		case !inNew:
			msg := fmt.Sprintf("service %s removed (with its %s", name, plural(o.Methods().Len(), "method"))
			if bs := serviceBindings(o); len(bs) > 0 {
				msg += ", serving " + bindingList(bs)
			}
			msg += ")"
			if importer, ok := new.hidden[name]; ok {
				msg += fmt.Sprintf(": its file %s is now imported by %s, and the gateway does not expose the services of files an upload imports",
					o.ParentFile().Path(), importer)
			}
			d.add(Removed, true, ElementService, name, "%s", msg)
		case !inOld:
			msg := fmt.Sprintf("service %s added", name)
			if _, ok := old.hidden[name]; ok {
				msg += fmt.Sprintf(": its file %s is no longer imported by another file of the set", n.ParentFile().Path())
			}
			d.add(Added, false, ElementService, name, "%s", msg)
		default:
			d.methods(o, n)
		}
	}
}

// serviceBindings is the HTTP bindings of all of sd's methods, in
// declaration order.
func serviceBindings(sd protoreflect.ServiceDescriptor) []descriptors.HTTPBinding {
	var out []descriptors.HTTPBinding
	for i := range sd.Methods().Len() {
		out = append(out, descriptors.HTTPRules(sd.Methods().Get(i))...)
	}
	return out
}

func (d *differ) methods(old, new protoreflect.ServiceDescriptor) {
	for i := range old.Methods().Len() {
		o := old.Methods().Get(i)
		n := new.Methods().ByName(o.Name())
		if n == nil {
			msg := fmt.Sprintf("method %s removed", o.FullName())
			if bs := descriptors.HTTPRules(o); len(bs) > 0 {
				msg += " (it served " + bindingList(bs) + ")"
			}
			d.add(Removed, true, ElementMethod, o.FullName(), "%s", msg)
			continue
		}
		d.method(o, n)
	}
	for i := range new.Methods().Len() {
		n := new.Methods().Get(i)
		if old.Methods().ByName(n.Name()) == nil {
			msg := fmt.Sprintf("method %s added", n.FullName())
			if bs := descriptors.HTTPRules(n); len(bs) > 0 {
				msg += " (at " + bindingList(bs) + ")"
			}
			d.add(Added, false, ElementMethod, n.FullName(), "%s", msg)
		}
	}
}

func (d *differ) method(o, n protoreflect.MethodDescriptor) {
	name := o.FullName()
	if o.Input().FullName() != n.Input().FullName() {
		d.add(Changed, true, ElementMethod, name, "method %s changed request type from %s to %s", name, o.Input().FullName(), n.Input().FullName())
	}
	if o.Output().FullName() != n.Output().FullName() {
		d.add(Changed, true, ElementMethod, name, "method %s changed response type from %s to %s", name, o.Output().FullName(), n.Output().FullName())
	}
	if so, sn := streaming(o), streaming(n); so != sn {
		d.add(Changed, true, ElementMethod, name, "method %s changed from %s to %s", name, so, sn)
	}
	// Idempotency can pick the HTTP verb (Connect's GET) and whether a
	// call is retried.
	if io, in := idempotency(o), idempotency(n); io != in {
		d.add(Changed, true, ElementMethod, name, "method %s changed idempotency_level from %s to %s", name, io, in)
	}
	d.bindings(name, descriptors.HTTPRules(o), descriptors.HTTPRules(n))
	d.policy(o, n)
}

func streaming(m protoreflect.MethodDescriptor) string {
	switch {
	case m.IsStreamingClient() && m.IsStreamingServer():
		return "bidirectional streaming"
	case m.IsStreamingClient():
		return "client streaming"
	case m.IsStreamingServer():
		return "server streaming"
	}
	return "unary"
}

func idempotency(m protoreflect.MethodDescriptor) descriptorpb.MethodOptions_IdempotencyLevel {
	if mo, ok := m.Options().(*descriptorpb.MethodOptions); ok {
		return mo.GetIdempotencyLevel()
	}
	return descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN
}

// bindings compares a method's google.api.http bindings. A binding is
// known by its verb and path: the same pair with another body or
// response_body is changed; what is left is paired in order (the primary
// binding with the primary binding) as changed, and the rest is removed
// or added.
func (d *differ) bindings(method protoreflect.FullName, old, new []descriptors.HTTPBinding) {
	key := func(b descriptors.HTTPBinding) string { return b.Method + " " + b.Path }
	var oldLeft, newLeft []descriptors.HTTPBinding
	for _, o := range old {
		i := slices.IndexFunc(new, func(n descriptors.HTTPBinding) bool { return key(n) == key(o) })
		if i < 0 {
			oldLeft = append(oldLeft, o)
			continue
		}
		n := new[i]
		var parts []string
		if o.Body != n.Body {
			parts = append(parts, fmt.Sprintf("body from %s to %s", quoteOrNone(o.Body), quoteOrNone(n.Body)))
		}
		if o.ResponseBody != n.ResponseBody {
			parts = append(parts, fmt.Sprintf("response_body from %s to %s", quoteOrNone(o.ResponseBody), quoteOrNone(n.ResponseBody)))
		}
		if len(parts) > 0 {
			d.add(Changed, true, ElementHTTPRule, method, "HTTP binding %s of %s changed %s", key(o), method, strings.Join(parts, " and "))
		}
	}
	for _, n := range new {
		if !slices.ContainsFunc(old, func(o descriptors.HTTPBinding) bool { return key(n) == key(o) }) {
			newLeft = append(newLeft, n)
		}
	}
	paired := min(len(oldLeft), len(newLeft))
	for i := range paired {
		d.add(Changed, true, ElementHTTPRule, method, "HTTP binding of %s changed from %s to %s", method, bindingText(oldLeft[i]), bindingText(newLeft[i]))
	}
	for _, o := range oldLeft[paired:] {
		d.add(Removed, true, ElementHTTPRule, method, "HTTP binding %s of %s removed", bindingText(o), method)
	}
	for _, n := range newLeft[paired:] {
		d.add(Added, false, ElementHTTPRule, method, "HTTP binding %s of %s added", bindingText(n), method)
	}
}

func bindingText(b descriptors.HTTPBinding) string {
	s := b.Method + " " + b.Path
	if b.Body != "" {
		s += fmt.Sprintf(" (body %q)", b.Body)
	}
	if b.ResponseBody != "" {
		s += fmt.Sprintf(" (response_body %q)", b.ResponseBody)
	}
	return s
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return fmt.Sprintf("%q", s)
}

func bindingList(bs []descriptors.HTTPBinding) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.Method + " " + b.Path
	}
	return strings.Join(parts, ", ")
}

func (d *differ) messages(old, new setIndex) {
	for _, name := range sortedKeys(old.messages, new.messages) {
		o, inOld := old.messages[name]
		n, inNew := new.messages[name]
		switch {
		case !inNew && !parentToo(o, new.messages):
			// Not breaking in itself: a field or method that used it
			// changed type, and that change is.
			d.add(Removed, false, ElementMessage, name, "message %s removed", name)
		case !inOld && !parentToo(n, old.messages):
			d.add(Added, false, ElementMessage, name, "message %s added", name)
		case !inNew || !inOld:
			// Said with its enclosing message.
		default:
			d.fields(o, n)
		}
	}
}

// parentToo says whether a nested declaration's enclosing message is
// missing from the other version as well, so that only the outermost
// removal or addition is reported.
func parentToo(d protoreflect.Descriptor, other map[protoreflect.FullName]protoreflect.MessageDescriptor) bool {
	p, ok := d.Parent().(protoreflect.MessageDescriptor)
	if !ok {
		return false
	}
	_, inOther := other[p.FullName()]
	return !inOther
}

// fields compares two versions of a message's fields. A field is found by
// its name, else by its number (a rename), else it was removed.
func (d *differ) fields(old, new protoreflect.MessageDescriptor) {
	of, nf := old.Fields(), new.Fields()
	matched := map[protoreflect.Name]bool{} // new fields accounted for
	for i := range of.Len() {
		o := of.Get(i)
		n := nf.ByName(o.Name())
		if n == nil {
			if byNum := nf.ByNumber(o.Number()); byNum != nil && of.ByName(byNum.Name()) == nil {
				n = byNum
			}
		}
		if n == nil {
			d.add(Removed, true, ElementField, o.FullName(), "field %s (number %d) removed", o.FullName(), o.Number())
			continue
		}
		matched[n.Name()] = true
		d.field(o, n)
	}
	for i := range nf.Len() {
		n := nf.Get(i)
		if matched[n.Name()] {
			continue
		}
		// A new required field refuses every request that does not send
		// it, which is every request an existing client sends.
		if req := requiredBy(n); req != "" {
			d.add(Added, true, ElementField, n.FullName(), "field %s (number %d, %s) added as required (%s)", n.FullName(), n.Number(), typeString(n), req)
			continue
		}
		d.add(Added, false, ElementField, n.FullName(), "field %s (number %d, %s) added", n.FullName(), n.Number(), typeString(n))
	}
}

func (d *differ) field(o, n protoreflect.FieldDescriptor) {
	name := o.FullName()
	// REST clients know a field by its name, never by its number (unlike
	// protobuf wire clients): JSON bodies and answers use the JSON name,
	// query parameters and field paths the proto name, and the gateway
	// accepts both. So a rename is breaking even with the number kept.
	if o.Name() != n.Name() || o.JSONName() != n.JSONName() {
		switch {
		case o.Name() == n.Name():
			d.add(Changed, true, ElementField, name, "field %s changed JSON name from %q to %q", name, o.JSONName(), n.JSONName())
		case o.JSONName() == n.JSONName():
			d.add(Changed, true, ElementField, name, "field %s (number %d) renamed to %s (JSON name %q kept)", name, o.Number(), n.Name(), n.JSONName())
		default:
			d.add(Changed, true, ElementField, name, "field %s (number %d) renamed to %s (JSON name %q, was %q)", name, o.Number(), n.Name(), n.JSONName(), o.JSONName())
		}
	}
	if o.Number() != n.Number() {
		d.add(Changed, true, ElementField, name, "field %s changed number from %d to %d", name, o.Number(), n.Number())
	}
	if to, tn := typeString(o), typeString(n); to != tn {
		d.add(Changed, true, ElementField, name, "field %s changed type from %s to %s", name, to, tn)
	}
	if oo, no := oneof(o), oneof(n); oo != no {
		switch {
		case oo == "":
			d.add(Changed, true, ElementField, name, "field %s moved into oneof %s", name, no)
		case no == "":
			d.add(Changed, true, ElementField, name, "field %s moved out of oneof %s", name, oo)
		default:
			d.add(Changed, true, ElementField, name, "field %s moved from oneof %s to oneof %s", name, oo, no)
		}
	}
	ro, rn := requiredBy(o), requiredBy(n)
	switch {
	case ro == "" && rn != "":
		d.add(Changed, true, ElementField, name, "field %s became required (%s)", name, rn)
	case ro == "proto2 required" && rn != "proto2 required":
		// Buf's MESSAGE_SAME_REQUIRED_FIELDS: a reader of the old schema
		// (a backend not yet redeployed) refuses messages without it.
		d.add(Changed, true, ElementField, name, "field %s is no longer proto2 required", name)
	case ro != "" && rn == "":
		d.add(Changed, false, ElementField, name, "field %s is no longer required (%s removed)", name, ro)
	}
	if do, dn := defaultString(o), defaultString(n); do != dn {
		d.add(Changed, true, ElementField, name, "field %s changed default from %s to %s", name, do, dn)
	}
	// Presence decides whether an unset field appears in answers; both
	// forms read the same JSON, so it is news, not a break (as in
	// FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY).
	// A move into or out of a oneof changes presence too; it was said.
	if o.Cardinality() != protoreflect.Repeated && n.Cardinality() != protoreflect.Repeated && oneof(o) == oneof(n) &&
		o.HasPresence() != n.HasPresence() {
		d.add(Changed, false, ElementField, name, "field %s changed presence from %s to %s", name, presence(o), presence(n))
	}
}

// typeString is a field's type as a reader of the .proto would write it:
// "int64", "repeated string", "map<string, library.v1.Book>",
// "library.v1.Author".
func typeString(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map<" + scalarType(f.MapKey()) + ", " + scalarType(f.MapValue()) + ">"
	case f.IsList():
		return "repeated " + scalarType(f)
	}
	return scalarType(f)
}

func scalarType(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}

// oneof is the real oneof a field belongs to; a proto3 optional field's
// synthetic oneof is presence, not membership.
func oneof(f protoreflect.FieldDescriptor) string {
	if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return string(od.Name())
	}
	return ""
}

func presence(f protoreflect.FieldDescriptor) string {
	if f.HasPresence() {
		return "explicit"
	}
	return "implicit"
}

func defaultString(f protoreflect.FieldDescriptor) string {
	if !f.HasDefault() {
		return "none"
	}
	if f.Kind() == protoreflect.EnumKind {
		return string(f.DefaultEnumValue().Name())
	}
	return fmt.Sprintf("%q", fmt.Sprint(f.Default().Interface()))
}

// requiredBy says what makes a field required: a proto2 (or editions
// LEGACY_REQUIRED) label, google.api.field_behavior = REQUIRED, or ""
// for neither.
func requiredBy(f protoreflect.FieldDescriptor) string {
	if f.Cardinality() == protoreflect.Required {
		return "proto2 required"
	}
	for _, b := range fieldBehavior(f) {
		if b == annotations.FieldBehavior_REQUIRED {
			return "google.api.field_behavior = REQUIRED"
		}
	}
	return ""
}

// fieldBehavior reads google.api.field_behavior whatever shape the options
// arrived in (generated, dynamic, unknown bytes), through the wire form
// as descriptors.HTTPRule does.
func fieldBehavior(f protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	opts := f.Options()
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil || len(b) == 0 {
		return nil
	}
	fo := new(descriptorpb.FieldOptions)
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(b, fo); err != nil {
		return nil
	}
	if !proto.HasExtension(fo, annotations.E_FieldBehavior) {
		return nil
	}
	v, _ := proto.GetExtension(fo, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return v
}

func (d *differ) enums(old, new setIndex) {
	for _, name := range sortedKeys(old.enums, new.enums) {
		o, inOld := old.enums[name]
		n, inNew := new.enums[name]
		switch {
		case !inNew && !parentToo(o, new.messages):
			d.add(Removed, false, ElementEnum, name, "enum %s removed", name)
		case !inOld && !parentToo(n, old.messages):
			d.add(Added, false, ElementEnum, name, "enum %s added", name)
		case !inNew || !inOld:
			// Said with its enclosing message.
		default:
			d.enumValues(o, n)
		}
	}
}

// enumValues compares an enum's values by name, which is what JSON
// carries; a name gone whose number a new name took is a rename.
func (d *differ) enumValues(old, new protoreflect.EnumDescriptor) {
	ov, nv := old.Values(), new.Values()
	path := func(e protoreflect.EnumDescriptor, v protoreflect.EnumValueDescriptor) protoreflect.FullName {
		return e.FullName().Append(v.Name())
	}
	renamedTo := map[protoreflect.Name]bool{}
	for i := range ov.Len() {
		o := ov.Get(i)
		if n := nv.ByName(o.Name()); n != nil {
			if o.Number() != n.Number() {
				d.add(Changed, true, ElementEnumValue, path(old, o), "enum value %s changed number from %d to %d", path(old, o), o.Number(), n.Number())
			}
			continue
		}
		if n := nv.ByNumber(o.Number()); n != nil && ov.ByName(n.Name()) == nil && !renamedTo[n.Name()] {
			renamedTo[n.Name()] = true
			d.add(Changed, true, ElementEnumValue, path(old, o), "enum value %s (%d) renamed to %s", path(old, o), o.Number(), n.Name())
			continue
		}
		d.add(Removed, true, ElementEnumValue, path(old, o), "enum value %s (%d) removed", path(old, o), o.Number())
	}
	for i := range nv.Len() {
		n := nv.Get(i)
		if ov.ByName(n.Name()) == nil && !renamedTo[n.Name()] {
			d.add(Added, false, ElementEnumValue, path(new, n), "enum value %s (%d) added", path(new, n), n.Number())
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// policy compares a method's switchboard.v1.policy option, the gateway's
// own access control: what opens the method wider than before (a removed
// option, policy or scope, a removed or looser rate limit) is breaking;
// what closes it further is news.
func (d *differ) policy(o, n protoreflect.MethodDescriptor) {
	name := o.FullName()
	op, oOK, oErr := descriptors.PolicyOption(o)
	np, nOK, nErr := descriptors.PolicyOption(n)
	switch {
	case !oOK && !nOK:
		return
	case oOK && !nOK:
		d.add(Removed, true, ElementPolicy, name, "switchboard.v1.policy option of %s removed (it had %s)", name, policyText(op))
		return
	case !oOK && nOK:
		d.add(Added, false, ElementPolicy, name, "switchboard.v1.policy option of %s added (%s)", name, policyText(np))
		return
	}
	if nErr != nil && (oErr == nil || oErr.Error() != nErr.Error()) {
		// The gateway refuses to build the route's policy; say so rather
		// than compare half an option.
		d.add(Changed, true, ElementPolicy, name, "switchboard.v1.policy option of %s is no longer valid: %v", name, nErr)
	}

	switch on, nn := policyName(op.Policy), policyName(np.Policy); {
	case on == nn:
	case on == "":
		d.add(Changed, false, ElementPolicy, name, "switchboard.v1.policy of %s changed policy from %s to %q", name, quoteOrNone(op.Policy), np.Policy)
	default:
		d.add(Changed, true, ElementPolicy, name, "switchboard.v1.policy of %s changed policy from %q to %s", name, op.Policy, quoteOrNone(np.Policy))
	}

	var removed, added []string
	for _, s := range op.Scopes {
		if !slices.Contains(np.Scopes, s) && !slices.Contains(removed, s) {
			removed = append(removed, s)
		}
	}
	for _, s := range np.Scopes {
		if !slices.Contains(op.Scopes, s) && !slices.Contains(added, s) {
			added = append(added, s)
		}
	}
	if len(removed) > 0 {
		d.add(Changed, true, ElementPolicy, name, "switchboard.v1.policy of %s no longer requires %s %s", name, scopeWord(len(removed)), strings.Join(removed, ", "))
	}
	if len(added) > 0 {
		d.add(Changed, false, ElementPolicy, name, "switchboard.v1.policy of %s now requires %s %s", name, scopeWord(len(added)), strings.Join(added, ", "))
	}

	if nErr != nil {
		return // its rate limit was not read; reported above
	}
	orl, nrl := op.RateLimit, np.RateLimit
	switch {
	case orl == nil && nrl == nil:
	case nrl == nil:
		d.add(Changed, true, ElementPolicy, name, "switchboard.v1.policy of %s removed its rate limit (%s)", name, rateText(orl))
	case orl == nil:
		d.add(Changed, false, ElementPolicy, name, "switchboard.v1.policy of %s added a rate limit (%s)", name, rateText(nrl))
	default:
		var looser []string
		if rateKey(orl.Key) != rateKey(nrl.Key) {
			// Another key counts other buckets: header:NAME lets clients
			// pick theirs. Not an order, so breaking either way.
			looser = append(looser, fmt.Sprintf("key from %s to %s", rateKey(orl.Key), rateKey(nrl.Key)))
		}
		if perSecond(nrl) > perSecond(orl) {
			looser = append(looser, "a higher rate")
		}
		if nrl.Burst > orl.Burst {
			looser = append(looser, "a larger burst")
		}
		switch {
		case len(looser) > 0:
			d.add(Changed, true, ElementPolicy, name, "switchboard.v1.policy of %s loosened its rate limit from %s to %s (%s)", name, rateText(orl), rateText(nrl), strings.Join(looser, ", "))
		case rateText(orl) != rateText(nrl):
			d.add(Changed, false, ElementPolicy, name, "switchboard.v1.policy of %s tightened its rate limit from %s to %s", name, rateText(orl), rateText(nrl))
		}
	}
}

// policyName is the option's policy with "none" (no policy of the
// method's own) said as "".
func policyName(p string) string {
	if p == "none" {
		return ""
	}
	return p
}

func rateKey(k string) string {
	if k == "" {
		return "client_ip"
	}
	return k
}

// perSecond is a rate limit's sustained rate in requests per second.
func perSecond(rl *descriptors.MethodRateLimit) float64 {
	per := rl.Per
	if per <= 0 {
		per = time.Second
	}
	return rl.Rate / per.Seconds()
}

func rateText(rl *descriptors.MethodRateLimit) string {
	return fmt.Sprintf("%g per %s, burst %d, key %s", rl.Rate, rl.Per, rl.Burst, rateKey(rl.Key))
}

func policyText(p descriptors.MethodPolicy) string {
	var parts []string
	if p.Policy != "" {
		parts = append(parts, fmt.Sprintf("policy %q", p.Policy))
	}
	if len(p.Scopes) > 0 {
		parts = append(parts, scopeWord(len(p.Scopes))+" "+strings.Join(p.Scopes, ", "))
	}
	if p.RateLimit != nil {
		parts = append(parts, "rate limit "+rateText(p.RateLimit))
	}
	if len(parts) == 0 {
		return "no settings"
	}
	return strings.Join(parts, "; ")
}

func scopeWord(n int) string {
	if n == 1 {
		return "scope"
	}
	return "scopes"
}
