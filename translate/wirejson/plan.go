package wirejson

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Options are the JSON options of a plan, fixed when it is compiled: they
// change the keys and values a plan writes, so each set has its own plans.
type Options struct {
	// UseProtoNames renders the proto field names instead of json_name.
	UseProtoNames bool
	// EmitUnpopulated renders unset fields with their zero value (null for
	// fields with presence), as protojson does.
	EmitUnpopulated bool
	// UseEnumNumbers renders enums as numbers.
	UseEnumNumbers bool
	// DiscardUnknown skips unknown keys in request bodies; without it an
	// unknown key is not taken (the reference path names it).
	DiscardUnknown bool
	// MaxDepth is the message nesting limit of request bodies, counted as
	// protojson counts its RecursionLimit. 0 means no limit of the plan's
	// own.
	MaxDepth int
	// Resolver finds the types google.protobuf.Any values name; nil
	// leaves every Any to the reference path.
	Resolver Resolver
	// WireDepth is the message nesting limit of replies on the wire,
	// counted as proto.UnmarshalOptions counts its RecursionLimit. 0 means
	// protobuf's default (10000).
	WireDepth int
}

// Resolver finds a message type by an Any's type URL, as
// protoregistry.Types and the descriptor snapshots do.
type Resolver interface {
	FindMessageByURL(url string) (protoreflect.MessageType, error)
}

// WellKnown names the well-known types whose JSON form is not an object of
// their fields.
type WellKnown uint8

const (
	NotWellKnown WellKnown = iota
	Any
	Timestamp
	Duration
	FieldMask
	Struct
	Value
	ListValue
	Empty
	// Wrapper is any of the nine google.protobuf.*Value wrappers, whose
	// JSON is the JSON of their field 1.
	Wrapper
)

var wellKnownByName = map[protoreflect.FullName]WellKnown{
	"google.protobuf.Any":         Any,
	"google.protobuf.Timestamp":   Timestamp,
	"google.protobuf.Duration":    Duration,
	"google.protobuf.FieldMask":   FieldMask,
	"google.protobuf.Struct":      Struct,
	"google.protobuf.Value":       Value,
	"google.protobuf.ListValue":   ListValue,
	"google.protobuf.Empty":       Empty,
	"google.protobuf.DoubleValue": Wrapper,
	"google.protobuf.FloatValue":  Wrapper,
	"google.protobuf.Int64Value":  Wrapper,
	"google.protobuf.UInt64Value": Wrapper,
	"google.protobuf.Int32Value":  Wrapper,
	"google.protobuf.UInt32Value": Wrapper,
	"google.protobuf.BoolValue":   Wrapper,
	"google.protobuf.StringValue": Wrapper,
	"google.protobuf.BytesValue":  Wrapper,
}

// Message is the plan of one message type: its fields with everything a
// request or reply needs of them resolved, so that transcoding does no
// descriptor lookups. Plans are immutable once compiled and shared by all
// requests.
type Message struct {
	Desc      protoreflect.MessageDescriptor
	WellKnown WellKnown
	// Fields in declaration order, the order protojson writes them in.
	Fields []*Field
	// Oneofs is how many real (not synthetic) oneofs the message has;
	// Field.Oneof indexes them.
	Oneofs int
	// Required is set when the message reaches a proto2 required field,
	// which only the reference path checks.
	Required bool

	byNumber []*Field         // indexed by field number when dense
	byNumMap map[int32]*Field // otherwise
	byName   map[string]*Field

	opts *Options // the compiler's, for the renderer
	// compiler compiled the plan, and compiles the types Any values name.
	compiler *Compiler
}

// Field is the plan of one field.
type Field struct {
	Desc protoreflect.FieldDescriptor
	Num  protowire.Number
	Kind protoreflect.Kind
	// WireType is the wire type of one value (of one element for lists,
	// BytesType for messages and map entries).
	WireType protowire.Type
	// Tag is the encoded key of one value; PackedTag the key of a packed
	// run (lists of numeric kinds only).
	Tag, PackedTag []byte
	// Key is `"name":`, the JSON key under the plan's options.
	Key []byte
	// Name is the key without quotes or colon.
	Name string

	List, Map bool
	// Presence: an unset field is told from a zero one (proto3 optional,
	// proto2, messages, oneof members).
	Presence bool
	// Packable: a repeated numeric field, which the wire may carry packed
	// or not, whatever the descriptor says.
	Packable bool
	// Oneof is the index of the field's oneof, or -1.
	Oneof int
	// ValidateUTF8: strings must be valid UTF-8 on the wire (proto3, or
	// editions' utf8_validation = VERIFY).
	ValidateUTF8 bool

	// Message is the plan of a message field's type, or of a map's entry.
	Message *Message
	// MapKey and MapValue are the entry's fields 1 and 2.
	MapKey, MapValue *Field
	// Enum is the enum type of an enum field; ClosedEnum says values it
	// does not declare are unknown fields on the wire (proto2).
	Enum       protoreflect.EnumDescriptor
	ClosedEnum bool
	// NullValue: the enum is google.protobuf.NullValue, whose JSON is null.
	NullValue bool

	// What the reply renderer needs precomputed:
	index int // in Message.Fields
	// unpopulated is the JSON protojson's EmitUnpopulated writes for the
	// field when unset, nil when it leaves the field out (oneof members,
	// proto3 optional included).
	unpopulated []byte
	// defaultBits and defaultRaw are the field's default value (what an
	// absent map value decodes to) in the renderer's form.
	defaultBits uint64
	defaultRaw  []byte
	// enumNames are the quoted names of the enum's numbers, the first
	// declared of aliases winning as in EnumValueDescriptors.ByNumber.
	enumNames *enumNames
	// badKey: the name is not valid UTF-8, which protojson fails to write.
	badKey bool
}

// ErrUnsupported is wrapped by Compile's error for a message the plans do
// not cover (groups, extensions, message sets); callers use the reference
// path for it.
var ErrUnsupported = errors.New("wirejson: not supported")

// Compiler compiles and caches plans under one Options. It is safe for
// concurrent use.
type Compiler struct {
	opts  Options
	mu    sync.Mutex
	plans map[protoreflect.FullName]*Message
	// failed remembers types that do not compile (groups, extensions), so
	// that an Any naming one costs a lookup, not a compile, each time.
	failed map[protoreflect.MessageDescriptor]error
}

// NewCompiler returns a compiler for opts.
func NewCompiler(opts Options) *Compiler {
	return &Compiler{opts: opts, plans: map[protoreflect.FullName]*Message{}}
}

// Options are the options the compiler's plans use.
func (c *Compiler) Options() Options { return c.opts }

// Compile returns the plan of md and of every message it reaches.
func (c *Compiler) Compile(md protoreflect.MessageDescriptor) (*Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.plans[md.FullName()]; ok && m.Desc == md {
		return m, nil
	}
	if err, ok := c.failed[md]; ok {
		return nil, err
	}
	// A failed compile must not leave half-built plans behind.
	added := map[protoreflect.FullName]*Message{}
	m, err := c.compile(md, added)
	if err != nil {
		if c.failed == nil {
			c.failed = map[protoreflect.MessageDescriptor]error{}
		}
		if len(c.failed) < 1024 {
			c.failed[md] = err
		}
		return nil, err
	}
	for n, p := range added {
		c.plans[n] = p
		p.Required = reachesRequired(p, map[*Message]bool{})
	}
	return m, nil
}

func (c *Compiler) compile(md protoreflect.MessageDescriptor, added map[protoreflect.FullName]*Message) (*Message, error) {
	if m, ok := added[md.FullName()]; ok {
		return m, nil // recursion: the plan is being filled in
	}
	if m, ok := c.plans[md.FullName()]; ok && m.Desc == md {
		return m, nil
	}
	if md.ExtensionRanges().Len() > 0 {
		return nil, fmt.Errorf("%w: %s has extension ranges", ErrUnsupported, md.FullName())
	}
	m := &Message{Desc: md, WellKnown: wellKnownByName[md.FullName()], byName: map[string]*Field{}, opts: &c.opts, compiler: c}
	added[md.FullName()] = m
	oneofs := md.Oneofs()
	real := map[protoreflect.OneofDescriptor]int{}
	for i := 0; i < oneofs.Len(); i++ {
		if od := oneofs.Get(i); !od.IsSynthetic() {
			real[od] = m.Oneofs
			m.Oneofs++
		}
	}
	fields := md.Fields()
	maxNum := int32(0)
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		f, err := c.field(fd, real, added)
		if err != nil {
			return nil, err
		}
		f.index = len(m.Fields)
		m.Fields = append(m.Fields, f)
		if n := int32(fd.Number()); n > maxNum {
			maxNum = n
		}
		if _, taken := m.byName[fd.JSONName()]; !taken {
			m.byName[fd.JSONName()] = f
		}
	}
	// Both names are accepted in requests; a json_name wins a clash with
	// another field's proto name, as protojson looks json_names up first.
	for _, f := range m.Fields {
		if _, taken := m.byName[string(f.Desc.Name())]; !taken {
			m.byName[string(f.Desc.Name())] = f
		}
	}
	if maxNum <= 256 || int(maxNum) <= 4*len(m.Fields) {
		m.byNumber = make([]*Field, maxNum+1)
		for _, f := range m.Fields {
			m.byNumber[f.Num] = f
		}
	} else {
		m.byNumMap = make(map[int32]*Field, len(m.Fields))
		for _, f := range m.Fields {
			m.byNumMap[int32(f.Num)] = f
		}
	}
	return m, nil
}

func (c *Compiler) field(fd protoreflect.FieldDescriptor, oneofs map[protoreflect.OneofDescriptor]int, added map[protoreflect.FullName]*Message) (*Field, error) {
	if fd.Kind() == protoreflect.GroupKind {
		return nil, fmt.Errorf("%w: %s is a group", ErrUnsupported, fd.FullName())
	}
	name := fd.JSONName()
	if c.opts.UseProtoNames {
		name = fd.TextName()
	}
	// The key is quoted as protojson quotes it, which unlike encoding/json
	// leaves <, > and & alone.
	key := appendQuoted(nil, []byte(name))
	f := &Field{
		Desc:         fd,
		Num:          fd.Number(),
		Kind:         fd.Kind(),
		WireType:     wireType(fd.Kind()),
		Name:         name,
		Key:          append(key, ':'),
		List:         fd.IsList(),
		Map:          fd.IsMap(),
		Presence:     fd.HasPresence(),
		Oneof:        -1,
		ValidateUTF8: fd.Kind() == protoreflect.StringKind && enforceUTF8(fd),
		badKey:       !utf8.ValidString(name),
	}
	f.Tag = protowire.AppendTag(nil, f.Num, f.WireType)
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		f.Oneof = oneofs[od]
	}
	if f.List && f.WireType != protowire.BytesType {
		f.Packable = true
		f.PackedTag = protowire.AppendTag(nil, f.Num, protowire.BytesType)
	}
	if ed := fd.Enum(); ed != nil {
		f.Enum = ed
		f.ClosedEnum = ed.IsClosed()
		f.NullValue = ed.FullName() == "google.protobuf.NullValue"
		f.enumNames = newEnumNames(ed)
	}
	if !f.List && !f.Map && fd.Message() == nil {
		f.defaultBits, f.defaultRaw = defaultValue(fd)
	}
	f.unpopulated = unpopulatedJSON(f, c.opts.UseEnumNumbers)
	if md := fd.Message(); md != nil {
		m, err := c.compile(md, added)
		if err != nil {
			return nil, err
		}
		f.Message = m
		if f.Map {
			f.MapKey, f.MapValue = m.Fields[0], m.Fields[1]
			if f.MapKey.Num != 1 {
				f.MapKey, f.MapValue = f.MapValue, f.MapKey
			}
		}
	}
	return f, nil
}

// enforceUTF8 says whether the wire must carry valid UTF-8 for a string
// field, as protobuf-go decides it (internal/strs.EnforceUTF8): proto3 does,
// proto2 does not, and an editions field says so through its descriptor's
// EnforceUTF8 method when it has one (protodesc's do, protocompile's do
// not, and then protobuf-go does not check).
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.Syntax() == protoreflect.Editions {
		if e, ok := fd.(interface{ EnforceUTF8() bool }); ok {
			return e.EnforceUTF8()
		}
	}
	return fd.Syntax() == protoreflect.Proto3
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	default: // string, bytes, message
		return protowire.BytesType
	}
}

// reachesRequired reports whether m reaches a proto2 required field.
func reachesRequired(m *Message, seen map[*Message]bool) bool {
	if seen[m] {
		return false
	}
	seen[m] = true
	if m.Desc.RequiredNumbers().Len() > 0 {
		return true
	}
	for _, f := range m.Fields {
		if f.Message != nil && reachesRequired(f.Message, seen) {
			return true
		}
	}
	return false
}

// ByNumber is the field with wire number n, or nil (an unknown field).
func (m *Message) ByNumber(n protowire.Number) *Field {
	if m.byNumber != nil {
		if n >= 0 && int(n) < len(m.byNumber) {
			return m.byNumber[n]
		}
		return nil
	}
	return m.byNumMap[int32(n)]
}

// ByName is the field a JSON key names, by json_name or proto name, or nil.
func (m *Message) ByName(name string) *Field { return m.byName[name] }
