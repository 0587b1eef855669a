package translate

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// Explainer is a transcoder that can show the backend message it encoded,
// for tools that explain a request without sending it: as JSON, and as the
// protocol's own text form (protobuf text, a Thrift call, a NATS subject
// and payload).
type Explainer interface {
	ExplainCall(call *Call) (messageJSON []byte, messageText string, err error)
}

// StableText undoes the whitespace protobuf-go's text and JSON encoders
// vary on purpose from build to build (so that nobody depends on it):
// explanations are compared in golden files. JSON is re-indented; text
// loses the extra space after a field name.
func StableText(text string) string {
	return extraSpace.ReplaceAllString(text, "$1: ")
}

var extraSpace = regexp.MustCompile(`(?m)^(\s*[\w\[\]./]+):\s+`)

// StableJSON re-indents JSON with two spaces.
func StableJSON(js []byte) []byte {
	var c bytes.Buffer
	if err := json.Compact(&c, js); err != nil {
		return js
	}
	var out bytes.Buffer
	if err := json.Indent(&out, c.Bytes(), "", "  "); err != nil {
		return js
	}
	return out.Bytes()
}
