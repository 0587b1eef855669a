package binding

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/translate"
)

// bindQuery binds query parameters to the fields that neither the body nor
// the path binds. A key is a dotted field path, each segment a json_name or a
// proto name ("filter.author.name", "pageSize", "page_size"); a map entry is
// "labels[env]". Keys are visited in sorted order so that the same request
// always gets the same error.
//
// The values of one key keep their order (url.Values keeps them in the
// order of the query string), and that is the order of a repeated field's
// elements. The order between two keys is lost in url.Values; it matters
// only when two keys reach one repeated field (repeated_value and
// repeatedValue), which is refused for that reason.
func (r *Rule) bindQuery(msg protoreflect.Message, query url.Values, vs *translate.Violations) {
	keys := slices.Sorted(maps.Keys(query))
	if r.body == bodyWhole {
		// Only reached when strict: grpc-gateway binds no query parameter
		// when the body is the whole message, so none can have an effect.
		for _, k := range keys {
			vs.Add(k, fmt.Sprintf("query parameter %s is not accepted: the request body is the whole request message", quote(k)))
		}
		return
	}
	var set fieldSet
	for _, k := range keys {
		if values := query[k]; len(values) > 0 {
			r.bindParam(msg, k, values, vs, &set)
		}
	}
}

// fieldSet remembers which fields and map entries the query has set, and
// under which key, to catch one field named twice (page_size and pageSize).
// A few entries are searched in a slice; a query with many (a long list of
// map entries, say) moves to a map, so that it costs linear time, not
// quadratic.
type fieldSet struct {
	few  []fieldEntry
	many map[fieldRef]string
}

type fieldRef struct {
	m   protoreflect.Message
	num protoreflect.FieldNumber
	key any // the map key (a string, integer or bool), nil for a field
}

type fieldEntry struct {
	ref   fieldRef
	param string
}

const fewFields = 16

// add records that param sets ref. If ref was set before, it returns the
// parameter that set it, and true.
func (s *fieldSet) add(ref fieldRef, param string) (string, bool) {
	if s.many != nil {
		if prev, ok := s.many[ref]; ok {
			return prev, true
		}
		s.many[ref] = param
		return "", false
	}
	for _, e := range s.few {
		if e.ref == ref {
			return e.param, true
		}
	}
	if len(s.few) < fewFields {
		s.few = append(s.few, fieldEntry{ref, param})
		return "", false
	}
	s.many = make(map[fieldRef]string, 2*fewFields)
	for _, e := range s.few {
		s.many[e.ref] = e.param
	}
	s.many[ref] = param
	return "", false
}

func (r *Rule) bindParam(msg protoreflect.Message, key string, values []string, vs *translate.Violations, set *fieldSet) {
	path, mapKey, hasMapKey := key, "", false
	if i := strings.IndexByte(key, '['); i >= 0 {
		if i == 0 || !strings.HasSuffix(key, "]") {
			r.unknownParam(key, vs)
			return
		}
		path, mapKey, hasMapKey = key[:i], key[i+1:len(key)-1], true
	}

	// Resolve the key against descriptors first and touch the message only
	// once the key is known to be good: a rejected key leaves no trace.
	var buf [8]protoreflect.FieldDescriptor
	chain := buf[:0]
	md := r.in.Descriptor()
	for rest, more := path, true; more; {
		var seg string
		seg, rest, more = strings.Cut(rest, ".")
		if md == nil { // the previous segment was a value, not a message
			if more {
				seg += "." + rest
			}
			r.pastValue(key, chain, seg, vs)
			return
		}
		if len(chain) == r.maxDepth {
			vs.Add(key, fmt.Sprintf("query parameter %s is nested deeper than %d fields", quote(key), r.maxDepth))
			return
		}
		fd := fieldByName(md, seg)
		if fd == nil {
			r.unknownParam(key, vs)
			return
		}
		chain = append(chain, fd)
		if len(chain) == 1 && r.body == bodyField && fd == r.bodyField {
			r.boundParam(key, fmt.Sprintf("query parameter %s sets a field that the request body binds", quote(key)), vs)
			return
		}
		if fd.IsMap() || fd.IsList() || isLeaf(fd) {
			md = nil
		} else {
			md = fd.Message()
		}
	}
	if desc := r.pathBound(key, chain, true); desc != "" {
		r.boundParam(key, desc, vs)
		return
	}

	leaf := chain[len(chain)-1]
	switch {
	case leaf.IsMap():
		if !hasMapKey {
			vs.Add(key, fmt.Sprintf("field %s is a map: set an entry with %s[key]=value", quote(path), path))
			return
		}
		if !isLeaf(leaf.MapValue()) {
			vs.Add(key, fmt.Sprintf("field %s is a map of messages (%s), which cannot be set from the query", quote(path), typeName(leaf.MapValue())))
			return
		}
	case hasMapKey:
		vs.Add(key, fmt.Sprintf("field %s is not a map, so it takes no [key]", quote(path)))
		return
	case !isLeaf(leaf):
		vs.Add(key, fmt.Sprintf("query parameter %s names a message field (%s), not a value; set its fields instead, such as %s.<field>=value", quote(key), typeName(leaf), path))
		return
	}

	m := msg
	for i, fd := range chain {
		if other := oneofSibling(m, fd); other != nil {
			vs.Add(key, fmt.Sprintf("query parameter %s sets field %s, but %s, of the same oneof, is already set", quote(key), quote(string(fd.Name())), quote(string(other.Name()))))
			return
		}
		if i < len(chain)-1 {
			m = m.Mutable(fd).Message()
		}
	}

	// How many message levels a value given as JSON text (a Struct, say)
	// may still nest: as many as it would have in a body.
	depth := r.maxDepth - len(chain)
	switch {
	case leaf.IsList():
		// One repeated field under two keys would be two lists of values
		// whose order relative to each other is lost: refuse rather than
		// guess.
		if prev, dup := set.add(fieldRef{m, leaf.Number(), nil}, key); dup {
			vs.Add(key, fmt.Sprintf("query parameter %s sets the repeated field that %s also sets; give all its values under one name, so that their order is kept", quote(key), quote(prev)))
			return
		}
		list := m.Mutable(leaf).List()
		for _, v := range values {
			if problem := appendValue(list, leaf, v, depth); problem != "" {
				vs.Add(key, invalidValue(v, key, leaf, problem))
			}
		}
	case leaf.IsMap():
		k, problem := parseMapKey(leaf.MapKey(), mapKey)
		if problem != "" {
			vs.Add(key, fmt.Sprintf("invalid map key %s for field %s (%s): %s", quote(mapKey), quote(path), typeName(leaf.MapKey()), problem))
			return
		}
		if _, dup := set.add(fieldRef{m, leaf.Number(), k.Interface()}, key); len(values) > 1 || dup {
			vs.Add(key, tooMany(key, len(values)))
			return
		}
		if problem := setMapValue(m.Mutable(leaf).Map(), k, leaf.MapValue(), values[0], depth); problem != "" {
			vs.Add(key, invalidValue(values[0], key, leaf.MapValue(), problem))
		}
	default:
		// A non-repeated field set twice is an error rather than "last
		// wins": proxies and frameworks disagree on which of two values is
		// the last, and grpc-gateway v2 rejects it too.
		if _, dup := set.add(fieldRef{m, leaf.Number(), nil}, key); len(values) > 1 || dup {
			vs.Add(key, tooMany(key, len(values)))
			return
		}
		if problem := setSingular(m, leaf, values[0], depth); problem != "" {
			vs.Add(key, invalidValue(values[0], key, leaf, problem))
		}
	}
}

// pastValue refuses a key whose path goes on past a field that holds a
// value, not a message: a scalar, a well-known type set from one value, a
// repeated field or a map. grpc-gateway refuses these too; ignoring them
// would hide a client's mistake, as the field they name does not exist. A
// key under a field the path binds is ignored like any other bound key.
//
// rest is the part of the key's path after chain. A path variable may reach
// into a well-known type ({timestamp_value.seconds}), so the bound check
// follows rest through every singular message field, well-known or not.
func (r *Rule) pastValue(key string, chain []protoreflect.FieldDescriptor, rest string, vs *translate.Violations) {
	fd := chain[len(chain)-1]
	if len(r.pathVars) > 0 {
		full := chain
		for last := fd; rest != "" && isSingularMessage(last); {
			var seg string
			seg, rest, _ = strings.Cut(rest, ".")
			if last = fieldByName(last.Message(), seg); last == nil {
				break
			}
			full = append(full, last)
		}
		if desc := r.pathBound(key, full, false); desc != "" {
			r.boundParam(key, desc, vs)
			return
		}
	}
	name := quote(string(fd.Name()))
	switch {
	case fd.IsMap():
		vs.Add(key, fmt.Sprintf("query parameter %s reaches into %s, a map, whose entries are set as %s[key]=value", quote(key), name, fieldPath(chain)))
	case fd.IsList():
		vs.Add(key, fmt.Sprintf("query parameter %s reaches into %s, a repeated field, whose elements cannot be set from the query", quote(key), name))
	case fd.Message() != nil:
		vs.Add(key, fmt.Sprintf("query parameter %s reaches into %s (%s), which is set from one value, as %s=value", quote(key), name, typeName(fd), fieldPath(chain)))
	default:
		// A scalar has no fields: the parameter names nothing.
		vs.Add(key, fmt.Sprintf("unknown query parameter %s", quote(key)))
	}
}

// pathBound describes how the URL path binds the field a key reaches, or
// returns "": when a path variable's field is the key's field or contains
// it, and, for a key that was fully resolved (complete), when the key's
// field contains a path variable's, so that setting it would replace the
// bound value (timestamp_value=… with {timestamp_value.seconds} bound).
func (r *Rule) pathBound(key string, chain []protoreflect.FieldDescriptor, complete bool) string {
	for _, pv := range r.pathVars {
		switch {
		case len(pv.fields) <= len(chain) && slices.Equal(pv.fields, chain[:len(pv.fields)]):
			return fmt.Sprintf("query parameter %s sets a field that the URL path binds", quote(key))
		case complete && len(chain) < len(pv.fields) && slices.Equal(chain, pv.fields[:len(chain)]):
			return fmt.Sprintf("query parameter %s would replace %s, which holds %s, bound by the URL path", quote(key), quote(fieldPath(chain)), quote(pv.path))
		}
	}
	return ""
}

// fieldByName finds a field by its json_name or its proto name.
func fieldByName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByJSONName(name); fd != nil {
		return fd
	}
	return md.Fields().ByTextName(name)
}

// fieldPath is the dotted proto-name path of a chain of fields.
func fieldPath(chain []protoreflect.FieldDescriptor) string {
	var b strings.Builder
	for i, fd := range chain {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(fd.Name()))
	}
	return b.String()
}

func tooMany(key string, n int) string {
	if n > 1 {
		return fmt.Sprintf("query parameter %s is given %d times, but its field takes a single value", quote(key), n)
	}
	return fmt.Sprintf("query parameter %s sets a field that another parameter already set; it takes a single value", quote(key))
}

// oneofSibling returns the other member of fd's oneof that m already has set.
func oneofSibling(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	od := fd.ContainingOneof()
	if od == nil || od.IsSynthetic() {
		return nil
	}
	if cur := m.WhichOneof(od); cur != nil && cur != fd {
		return cur
	}
	return nil
}

// unknownParam handles a key that names no field: ignored, as grpc-gateway
// does, so that clients may add tracking or cache-busting parameters,
// unless the rule is strict.
func (r *Rule) unknownParam(key string, vs *translate.Violations) {
	if r.strict {
		vs.Add(key, fmt.Sprintf("unknown query parameter %s", quote(key)))
	}
}

// boundParam handles a key naming a field the body or the path binds, or a
// message holding one. Bound fields win: the key is ignored, as
// grpc-gateway's filter ignores it; strict rules refuse it with desc.
func (r *Rule) boundParam(key, desc string, vs *translate.Violations) {
	if r.strict {
		vs.Add(key, desc)
	}
}
