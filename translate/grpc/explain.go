package grpc

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/translate"
)

var _ translate.Explainer = (*Transcoder)(nil)

// ExplainCall decodes the request message Encode wrote back into the
// method's input type: as JSON with proto field names (what the backend
// sees, not the REST names) and as protobuf text.
func (t *Transcoder) ExplainCall(call *translate.Call) ([]byte, string, error) {
	msg := dynamicpb.NewMessage(t.rule.Method().Input())
	if err := (proto.UnmarshalOptions{Resolver: t.rule.Resolver()}).Unmarshal(call.Body, msg); err != nil {
		return nil, "", err
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true, Resolver: t.rule.Resolver(), Multiline: true, Indent: "  "}.Marshal(msg)
	if err != nil {
		return nil, "", err
	}
	text := prototext.MarshalOptions{Multiline: true, Indent: "  ", Resolver: t.rule.Resolver()}.Format(msg)
	return js, text, nil
}
