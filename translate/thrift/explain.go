package thrift

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-gw/switchboard/translate"
)

var _ translate.Explainer = (*Transcoder)(nil)

// ExplainCall decodes the args struct Encode wrote, with the IDL's field
// names, and shows the call as the backend receives it.
func (t *Transcoder) ExplainCall(call *translate.Call) ([]byte, string, error) {
	js, err := t.m.DecodeArgs(call.Body)
	if err != nil {
		return nil, "", err
	}
	var pretty any
	if err := json.Unmarshal(js, &pretty); err == nil {
		if b, err := json.MarshalIndent(pretty, "", "  "); err == nil {
			js = b
		}
	}
	kind := "CALL"
	if t.fn.Oneway {
		kind = "ONEWAY (sent as CALL, as Apache Thrift's Go client does)"
	}
	return js, fmt.Sprintf("%s %s(%s): %d bytes of Thrift args", kind, call.Method, argNames(t.m.args), len(call.Body)), nil
}
