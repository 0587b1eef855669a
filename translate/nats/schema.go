package nats

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
)

var _ translate.Documented = (*Transcoder)(nil)

// Operation describes the route from its config: subject variables as
// path parameters, the payload as the body (protobuf messages in the
// route's JSON mapping when it is typed, any JSON or any bytes when not),
// and what comes back for the mode.
func (t *Transcoder) Operation(defs *jsonschema.Definitions) translate.OperationDoc {
	m := binding.Mapping{UseProtoNames: t.marshal.UseProtoNames, UseEnumNumbers: t.marshal.UseEnumNumbers,
		EmitUnpopulated: t.marshal.EmitUnpopulated}
	doc := translate.OperationDoc{Status: 200}
	for _, p := range t.subject.parts {
		if p.field == "" {
			continue
		}
		doc.PathParams = append(doc.PathParams, translate.ParamDoc{
			Name:        p.field,
			Description: "One NATS subject token: no '.', '*', '>' or whitespace.",
			Required:    true,
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}, Pattern: `^[^.*>\s]+$`,
				MinLength: jsonschema.Int(1), MaxLength: jsonschema.Int(MaxValueBytes)},
		})
	}

	if t.mode == ModeSubscribe {
		return t.subscribeOperation(defs, m, doc)
	}
	switch {
	case t.raw:
		doc.Request = &translate.BodyDoc{MediaType: translate.AnyMediaType,
			Description: "The message payload, any bytes; its Content-Type travels as a NATS header."}
	case t.reqType != nil:
		doc.Request = &translate.BodyDoc{Schema: binding.MessageSchema(defs, t.reqType.Descriptor(), m),
			Description: fmt.Sprintf("Sent as a %s in protobuf binary.", t.reqType.Descriptor().FullName())}
	default:
		doc.Request = &translate.BodyDoc{Schema: &jsonschema.Schema{}, Description: "The message payload: any JSON, passed on as it is."}
	}

	switch t.mode {
	case ModePublish:
		doc.Status = 202
		doc.Response = translate.BodyDoc{Description: "Published; nothing waits for a reply.", Schema: &jsonschema.Schema{
			Type:       jsonschema.Types{"object"},
			Properties: jsonschema.Properties{{Name: "subject", Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}}}},
			Required:   []string{"subject"},
		}}
	case ModeJetStream:
		doc.Status = 202
		doc.Headers = append(doc.Headers, translate.ParamDoc{
			Name: IdempotencyKeyHeader,
			Description: "Makes a retry safe: the stream stores a message once per key within its duplicate window " +
				"(the key is the JetStream message id).",
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}, Pattern: `^[!-~]+$`,
				MinLength: jsonschema.Int(1), MaxLength: jsonschema.Int(maxIdempotencyKey)},
		})
		doc.Response = translate.BodyDoc{Description: "Stored: the stream's acknowledgement.", Schema: pubAckSchema()}
	default:
		if t.replyType != nil {
			doc.Response = translate.BodyDoc{Schema: binding.MessageSchema(defs, t.replyType.Descriptor(), m)}
		} else {
			doc.Response = translate.BodyDoc{MediaType: translate.AnyMediaType,
				Description: "The service's reply as it sent it, in the media type its content-type header names (JSON when it is JSON)."}
		}
	}
	return doc
}

// pubAckSchema is JetStream's publish acknowledgement.
func pubAckSchema() *jsonschema.Schema {
	str := &jsonschema.Schema{Type: jsonschema.Types{"string"}}
	return &jsonschema.Schema{
		Type: jsonschema.Types{"object"},
		Properties: jsonschema.Properties{
			{Name: "stream", Schema: str},
			{Name: "seq", Schema: &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Minimum: jsonschema.Float(1)}},
			{Name: "duplicate", Schema: &jsonschema.Schema{Type: jsonschema.Types{"boolean"},
				Description: "The stream already held a message with this Idempotency-Key."}},
			{Name: "domain", Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}}},
		},
		Required: []string{"stream", "seq"},
	}
}
