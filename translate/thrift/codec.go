package thrift

import (
	"encoding/json"
	"errors"
	"fmt"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/translate"
)

// DefaultMaxDepth bounds JSON and Thrift nesting when no limit is given.
const DefaultMaxDepth = 64

// Codec converts between JSON and one protocol's encoding of the structs
// of an IDL, following the rules in the package documentation. It is safe
// for concurrent use; compiled types are kept for the codec's lifetime.
type Codec struct {
	s        *schema
	maxDepth int
	maxOut   int
}

// NewCodec returns a codec for protocol, "binary" (also "") or "compact".
// maxDepth bounds how deeply structs, lists, sets and maps nest inside a
// value, both ways; 0 means DefaultMaxDepth.
func NewCodec(protocol string, maxDepth int) (*Codec, error) {
	p, err := parseProtocol(protocol)
	if err != nil {
		return nil, err
	}
	if maxDepth < 0 || maxDepth > maxWireDepth {
		return nil, fmt.Errorf("max depth %d: want 0 (the default, %d) to %d", maxDepth, DefaultMaxDepth, maxWireDepth)
	}
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	return &Codec{s: newSchema(p == protoCompact), maxDepth: maxDepth, maxOut: defaultMaxOutput}, nil
}

// Protocol is "binary" or "compact".
func (c *Codec) Protocol() string {
	if c.s.compact {
		return "compact"
	}
	return "binary"
}

// Method compiles fn: its arguments struct and its result struct, which
// holds the return value as field 0 ("success") and the declared
// exceptions under their throws ids, as in every Apache generator.
func (c *Codec) Method(fn *idl.Function) (*Method, error) {
	m, err := c.s.method(fn)
	if err != nil {
		return nil, err
	}
	cp := *m
	cp.maxDepth, cp.maxOut = c.maxDepth, c.maxOut
	return &cp, nil
}

// EncodeStruct encodes the JSON object js as a value of st.
func (c *Codec) EncodeStruct(st *idl.Struct, js []byte) ([]byte, error) {
	ts, err := c.s.compileStruct(st)
	if err != nil {
		return nil, err
	}
	v, terr := trimJSON(js)
	if terr != nil {
		return nil, terr
	}
	out, terr := encodeRoot(c.s.compact, ts, &node{raw: v}, c.maxDepth, nil)
	if terr != nil {
		return nil, terr
	}
	return out, nil
}

// DecodeStruct renders an encoded value of st as JSON.
func (c *Codec) DecodeStruct(st *idl.Struct, b []byte) ([]byte, error) {
	ts, err := c.s.compileStruct(st)
	if err != nil {
		return nil, err
	}
	return decodeStruct(c.s.compact, ts, b, c.maxDepth, c.maxOut)
}

func decodeStruct(compact bool, ts *tstruct, b []byte, maxDepth, maxOut int) ([]byte, error) {
	s := decState{d: decoder{b: b, compact: compact}, maxDepth: maxDepth, maxOut: maxOut}
	s.structValue(ts, 0)
	if s.d.err != nil {
		return nil, s.d.err
	}
	return s.out, nil
}

// Method is a compiled function: its arguments and result in one protocol.
type Method struct {
	fn       *idl.Function
	compact  bool
	args     *tstruct
	result   *tstruct
	success  *tfield // nil for void
	maxDepth int
	maxOut   int
}

// Function is the IDL function.
func (m *Method) Function() *idl.Function { return m.fn }

// EncodeArgs encodes a JSON object keyed by argument name as the
// arguments struct. Errors are *translate.Error, INVALID_ARGUMENT.
func (m *Method) EncodeArgs(js []byte) ([]byte, error) {
	v, terr := trimJSON(js)
	if terr != nil {
		return nil, terr
	}
	out, terr := m.encode(&node{raw: v}, nil)
	if terr != nil {
		return nil, terr
	}
	return out, nil
}

func (m *Method) encode(root *node, dst []byte) ([]byte, *translate.Error) {
	return encodeRoot(m.compact, m.args, root, m.maxDepth, dst)
}

// DecodeArgs renders an encoded arguments struct as a JSON object keyed by
// argument name.
func (m *Method) DecodeArgs(b []byte) ([]byte, error) {
	return decodeStruct(m.compact, m.args, b, m.maxDepth, m.maxOut)
}

// EncodeResult encodes a result struct from JSON: {"success": value} for
// a return value, {"<exception field>": {...}} for a declared exception, {}
// for a void function's normal return. Errors are *translate.Error.
func (m *Method) EncodeResult(js []byte) ([]byte, error) {
	v, terr := trimJSON(js)
	if terr != nil {
		return nil, terr
	}
	out, terr := encodeRoot(m.compact, m.result, &node{raw: v}, m.maxDepth, nil)
	if terr != nil {
		return nil, terr
	}
	return out, nil
}

// Result is a decoded result struct.
type Result struct {
	// Success is the return value as JSON; nil for a void function, and
	// when an exception was thrown or the result was missing.
	Success json.RawMessage
	// Exception is the declared exception the function threw, if any.
	Exception *ThrownException
}

// ThrownException is a declared exception from a result struct.
type ThrownException struct {
	Field   string          // the throws clause's name for it
	Type    string          // "prefix.Name"
	TypeURL string          // "thrift/prefix.Name", its @type in error details
	Message string          // its message/msg/what/why string field, if set
	JSON    json.RawMessage // its fields, as a JSON object
	st      *tstruct
}

// ErrMissingResult is a non-void function's reply without a value or an
// exception: generated clients report MISSING_RESULT, and so does the
// gateway, rather than the zero value Apache's Go client returns.
var ErrMissingResult = errors.New("the reply has neither a result nor a declared exception")

// DecodeResult reads a result struct. A non-void function's result with
// neither a value nor an exception is ErrMissingResult.
func (m *Method) DecodeResult(b []byte) (*Result, error) {
	res, err := m.decodeResult(b)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// decodeResult is DecodeResult without a Result on the heap, for the
// Transcoder, which reads one per call.
func (m *Method) decodeResult(b []byte) (Result, error) {
	s := decState{d: decoder{b: b, compact: m.compact}, maxDepth: m.maxDepth, maxOut: m.maxOut, out: make([]byte, 0, 2*len(b)+16)}
	var res Result
	var last int16
	seen := map[int16]bool{}
	for s.d.err == nil {
		wt, id, bv := s.d.fieldHeader(&last)
		if wt == tStop {
			break
		}
		f := m.result.field(id)
		if f == nil || f.t.wire != wt {
			if !(s.d.compact && wt == tBool) {
				s.d.skip(wt, maxWireDepth)
			}
			continue
		}
		if seen[id] {
			return Result{}, wireErrorf("result field %s is sent twice", f.name)
		}
		seen[id] = true
		start := len(s.out)
		if wt == tBool && s.d.compact {
			s.out = fmt.Appendf(s.out, "%t", bv)
		} else {
			s.value(f.t, 0)
		}
		if s.d.err != nil {
			break
		}
		v := s.out[start:len(s.out):len(s.out)]
		if f == m.success {
			res.Success = v
			continue
		}
		if res.Exception == nil {
			res.Exception = &ThrownException{Field: f.name, Type: f.t.st.name, TypeURL: f.t.st.typeURL, JSON: v, st: f.t.st}
		}
	}
	if s.d.err != nil {
		return Result{}, s.d.err
	}
	if ex := res.Exception; ex != nil {
		res.Success = nil
		if mf := ex.st.msgField; mf != nil {
			var fields map[string]json.RawMessage
			if json.Unmarshal(ex.JSON, &fields) == nil {
				var msg string
				if json.Unmarshal(fields[mf.name], &msg) == nil {
					ex.Message = msg
				}
			}
		}
		return res, nil
	}
	if m.success != nil && res.Success == nil {
		return Result{}, ErrMissingResult
	}
	return res, nil
}
