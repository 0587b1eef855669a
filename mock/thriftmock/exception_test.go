package thriftmock

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

// exceptionStubs name their exceptions with exception:, with no code, in
// every spelling the gateway or the IDL uses, with templates in the fields
// and the message.
const exceptionStubs = `
stubs:
  - method: Calculator.calculate
    match: {w.op: SUBTRACT}
    error:
      exception: InvalidOperation
      message: "{{request.w.comment}}"      # fills InvalidOperation.why
      fields: {whatOp: "{{request.w.num1}}"}
  - method: Calculator.calculate
    match: {w.op: MULTIPLY}
    error:
      exception: InvalidOperation
      fields: {whatOp: "{{request.w.comment}}"}   # a string where an i32 goes
  - method: Calculator.calculate
    error:
      exception: calculator.InvalidOperation
      fields: {whatOp: 4, why: "{{request.w.comment}}"}
  - method: Calculator.lookup
    match: {key: gone}
    error:
      exception: thrift/calculator.NotFound   # as the gateway shows it
      message: no such key
      fields: {id: "7"}
  - method: Calculator.lookup
    error:
      exception: NotFound
      message: "{{request.key}}"
      fields: {id: "{{request.key}}"}
`

func TestExceptionByName(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(exceptionStubs), "exceptions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr := start(t, stubs, Options{}, nil)
	b, err := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tests := []struct {
		fn, body string
		status   int
		want     string
	}{
		// The stub's message reaches the client as the error's message, and
		// the templates are expanded in the exception's fields.
		{"calculate", `{"logid":1,"w":{"num1":9,"op":"SUBTRACT","comment":"no subtracting today"}}`, 500,
			`{"code":2,"message":"no subtracting today","details":[{"@type":"thrift/calculator.InvalidOperation","whatOp":9,"why":"no subtracting today"}]}`},
		// A template whose value does not fit its field is the stub's bug.
		{"calculate", `{"logid":1,"w":{"op":"MULTIPLY","comment":"x"}}`, 502,
			`{"code":13,"message":"backend mock failed (INTERNAL_ERROR)","details":[]}`},
		// A message given in the fields; a missing template value leaves the
		// field unset, and the gateway falls back to the type name.
		{"calculate", `{"logid":1,"w":{"op":"ADD","comment":"adding is off"}}`, 500,
			`{"code":2,"message":"adding is off","details":[{"@type":"thrift/calculator.InvalidOperation","whatOp":4,"why":"adding is off"}]}`},
		{"calculate", `{"logid":1,"w":{"op":"ADD"}}`, 500,
			`{"code":2,"message":"InvalidOperation","details":[{"@type":"thrift/calculator.InvalidOperation","whatOp":4}]}`},
		// An exception whose message field is called message.
		{"lookup", `{"key":"gone"}`, 500,
			`{"code":2,"message":"no such key","details":[{"@type":"thrift/calculator.NotFound","message":"no such key","id":"7"}]}`},
		{"lookup", `{"key":"42"}`, 500,
			`{"code":2,"message":"42","details":[{"@type":"thrift/calculator.NotFound","message":"42","id":"42"}]}`},
	}
	for _, tt := range tests {
		status, body := call(t, b, Options{}, tt.fn, tt.body)
		if status != tt.status || body != tt.want {
			t.Errorf("%s %s:\n got %d %s\nwant %d %s", tt.fn, tt.body, status, body, tt.status, tt.want)
		}
	}
}

// A message cannot travel in an exception without a message field, and a
// stub saying so is refused rather than quietly losing it.
func TestExceptionLoadProblems(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(`stubs:
  - method: Calculator.lookup
    match: {key: a}
    error:
      exception: Gone
      message: it is gone
  - method: Calculator.lookup
    match: {key: b}
    error:
      exception: NotFound
      code: NOT_FOUND
  - method: Calculator.lookup
    match: {key: c}
    error:
      exception: Missing
  - method: Calculator.lookup
    match: {key: d}
    error:
      exception: NotFound
      details: [{"@type": NotFound}]
  - method: Calculator.lookup
    match: {key: e}
    error:
      code: INTERNAL
      fields: {id: 1}
`), "x.yaml")
	want := `x.yaml:11: stubs[1].error.code: a Thrift exception carries no status code (the gateway takes it from the route's exceptions: or the IDL's http.status); drop code
x.yaml:20: stubs[3].error.details: an exception takes its fields from fields, not details
x.yaml:25: stubs[4].error.fields: fields are a Thrift exception's: name it with exception`
	if err == nil || err.Error() != want {
		t.Fatalf("ParseStubs:\n%v\nwant\n%s", err, want)
	}
	_, nerr := New(calculator(t), "Calculator", stubs, Options{}, nil)
	want = `x.yaml:6: stubs[0].error.message: Gone has no string field named message, msg, what or why, so the message cannot reach the client (the gateway would show "Gone"); drop message or set the exception's fields
x.yaml:15: stubs[2].error.exception: "Missing" is not an exception lookup declares (NotFound, Gone)`
	if nerr == nil || nerr.Error() != want {
		t.Fatalf("New:\n%v\nwant\n%s", nerr, want)
	}
}

// The call log: the fields every mock writes, durations as Go durations.
func TestCallLog(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(`stubs:
  - method: Calculator.add
    delay: 20ms
    response: 3
  - method: Calculator.calculate
    error: {exception: InvalidOperation, message: nope}
`), "log.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	addr := start(t, stubs, Options{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	b, _ := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}})
	defer b.Close()
	call(t, b, Options{}, "add", `{"num1":1,"num2":2}`)
	call(t, b, Options{}, "calculate", `{"logid":1,"w":{}}`)
	call(t, b, Options{}, "stats", `{"ids":[]}`)
	recs := records(t, logs.String())
	if len(recs) != 3 {
		t.Fatalf("want 3 records:\n%s", logs.String())
	}
	want := []map[string]any{
		{"msg": "thriftmock call", "method": "add", "outcome": "reply", "matched": true, "stub": 0.0, "stub_source": "log.yaml:2", "delay": "20ms"},
		{"msg": "thriftmock call", "method": "calculate", "outcome": "exception InvalidOperation", "matched": true, "stub": 1.0, "stub_source": "log.yaml:5", "error": "nope"},
		{"msg": "thriftmock call", "method": "stats", "outcome": "application exception UNKNOWN_METHOD", "matched": false, "stub": -1.0, "error": "no stub matches Calculator/stats", "level": "WARN"},
	}
	for i, rec := range recs {
		for k, v := range want[i] {
			if rec[k] != v {
				t.Errorf("record %d: %s = %#v, want %#v", i, k, rec[k], v)
			}
		}
		d, err := time.ParseDuration(rec["duration"].(string))
		if err != nil || d < 0 {
			t.Errorf("record %d: duration %v: %v", i, rec["duration"], err)
		}
		if i == 0 && d < 20*time.Millisecond {
			t.Errorf("the delayed call took %v", d)
		}
		if i == 2 && (rec["stub_source"] != nil || rec["delay"] != nil) {
			t.Errorf("an unmatched call has a stub_source or delay: %v", rec)
		}
	}
}

func records(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}
