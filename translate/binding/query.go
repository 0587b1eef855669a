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

// fieldSet remembers which singular fields and map entries the query has
// set, to catch one field set under two spellings (page_size and pageSize).
// A few entries are searched in a slice; a query with many (a long list of
// map entries, say) moves to a map, so that it costs linear time, not
// quadratic.
type fieldSet struct {
	few  []fieldRef
	many map[fieldRef]struct{}
}

type fieldRef struct {
	m   protoreflect.Message
	num protoreflect.FieldNumber
	key any // the map key (a string, integer or bool), nil for a singular field
}

const fewFields = 16

// add records a field and reports whether it was already set.
func (s *fieldSet) add(ref fieldRef) bool {
	if s.many != nil {
		if _, ok := s.many[ref]; ok {
			return true
		}
		s.many[ref] = struct{}{}
		return false
	}
	if slices.Contains(s.few, ref) {
		return true
	}
	if len(s.few) < fewFields {
		s.few = append(s.few, ref)
		return false
	}
	s.many = make(map[fieldRef]struct{}, 2*fewFields)
	for _, x := range s.few {
		s.many[x] = struct{}{}
	}
	s.many[ref] = struct{}{}
	return false
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
			r.unknownParam(key, vs)
			return
		}
		if len(chain) == r.maxDepth {
			vs.Add(key, fmt.Sprintf("query parameter %s is nested deeper than %d fields", quote(key), r.maxDepth))
			return
		}
		fd := md.Fields().ByJSONName(seg)
		if fd == nil {
			fd = md.Fields().ByTextName(seg)
		}
		if fd == nil {
			r.unknownParam(key, vs)
			return
		}
		chain = append(chain, fd)
		if len(chain) == 1 && r.body == bodyField && fd == r.bodyField {
			r.boundParam(key, "the request body", vs)
			return
		}
		switch {
		case !more:
		case fd.IsMap() || fd.IsList() && !isLeaf(fd):
			vs.Add(key, fmt.Sprintf("query parameter %s reaches into %s, a repeated field, whose elements cannot be set from the query", quote(key), quote(string(fd.Name()))))
			return
		case isLeaf(fd):
			md = nil
		default:
			md = fd.Message()
		}
	}
	for _, pv := range r.pathVars {
		if slices.Equal(pv.fields, chain) {
			r.boundParam(key, "the URL path", vs)
			return
		}
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

	switch {
	case leaf.IsList():
		list := m.Mutable(leaf).List()
		for _, v := range values {
			if problem := appendValue(list, leaf, v); problem != "" {
				vs.Add(key, invalidValue(v, key, leaf, problem))
			}
		}
	case leaf.IsMap():
		k, problem := parseMapKey(leaf.MapKey(), mapKey)
		if problem != "" {
			vs.Add(key, fmt.Sprintf("invalid map key %s for field %s (%s): %s", quote(mapKey), quote(path), typeName(leaf.MapKey()), problem))
			return
		}
		if len(values) > 1 || set.add(fieldRef{m, leaf.Number(), k.Interface()}) {
			vs.Add(key, tooMany(key, len(values)))
			return
		}
		if problem := setMapValue(m.Mutable(leaf).Map(), k, leaf.MapValue(), values[0]); problem != "" {
			vs.Add(key, invalidValue(values[0], key, leaf.MapValue(), problem))
		}
	default:
		// A non-repeated field set twice is an error rather than "last
		// wins": proxies and frameworks disagree on which of two values is
		// the last, and grpc-gateway v2 rejects it too.
		if len(values) > 1 || set.add(fieldRef{m, leaf.Number(), nil}) {
			vs.Add(key, tooMany(key, len(values)))
			return
		}
		if problem := setSingular(m, leaf, values[0]); problem != "" {
			vs.Add(key, invalidValue(values[0], key, leaf, problem))
		}
	}
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

// boundParam handles a key naming a field the body or the path binds. It is
// ignored, as grpc-gateway ignores it; strict rules say it has no effect.
func (r *Rule) boundParam(key, by string, vs *translate.Violations) {
	if r.strict {
		vs.Add(key, fmt.Sprintf("query parameter %s sets a field that %s binds", quote(key), by))
	}
}
