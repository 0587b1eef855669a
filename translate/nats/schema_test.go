package nats

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
)

func shopTypes(t *testing.T) (order, status protoreflect.MessageDescriptor, set *descriptors.Set) {
	t.Helper()
	fds, err := descriptors.Compile(context.Background(), []string{"shop/v1/shop.proto"}, []string{"../../testdata/proto"})
	if err != nil {
		t.Fatal(err)
	}
	set, err = descriptors.NewSet("shop", "", descriptors.Source{Kind: descriptors.SourceProto, Ref: "shop.proto"}, fds)
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) protoreflect.MessageDescriptor {
		d, err := set.Files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatal(err)
		}
		return d.(protoreflect.MessageDescriptor)
	}
	return find("shop.v1.Order"), find("shop.v1.OrderStatus"), set
}

func natsCompact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNATSOperation: what each kind of NATS route documents.
func TestNATSOperation(t *testing.T) {
	order, status, set := shopTypes(t)
	tests := []struct {
		name   string
		fields []string
		route  Route
		check  func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions)
	}{
		{"typed request", []string{"id"}, Route{Subject: "orders.{id}.status", Request: order, Reply: status, Resolver: set.Types},
			func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
				if len(od.PathParams) != 1 || od.PathParams[0].Name != "id" || od.PathParams[0].Schema.Pattern == "" {
					t.Errorf("path params %+v", od.PathParams)
				}
				if got := natsCompact(t, od.Request.Schema); got != `{"$ref":"#/components/schemas/shop.v1.Order"}` {
					t.Errorf("request %s", got)
				}
				if od.Status != 200 || natsCompact(t, od.Response.Schema) != `{"$ref":"#/components/schemas/shop.v1.OrderStatus"}` {
					t.Errorf("reply %d %s", od.Status, natsCompact(t, od.Response.Schema))
				}
				// The reply in the route's mapping, as the transcoder renders it.
				reply := dynamicpb.NewMessage(status)
				if err := protojson.Unmarshal([]byte(`{"id":"42","status":"STATUS_SHIPPED"}`), reply); err != nil {
					t.Fatal(err)
				}
				out, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(reply)
				if err != nil {
					t.Fatal(err)
				}
				if problems := defs.ValidateJSON(od.Response.Schema, out); len(problems) > 0 {
					t.Errorf("%s: %v", out, problems)
				}
			}},
		{"typed, proto names and enum numbers", nil, Route{Subject: "orders.status", Request: order, Reply: status,
			UseProtoNames: true, UseEnumNumbers: true},
			func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
				def := defs.Get("shop.v1.Order-proto_names-enum_numbers")
				if def == nil || def.Properties.Get("total_cents") == nil || def.Properties.Get("totalCents") != nil {
					t.Errorf("definitions %v", defs.Names())
				}
				if got := natsCompact(t, defs.Get("shop.v1.OrderStatus-proto_names-enum_numbers").Properties.Get("status")); got != `{"$ref":"#/components/schemas/shop.v1.Status-enum_numbers"}` {
					t.Errorf("status %s", got)
				}
			}},
		{"untyped request", []string{"id"}, Route{Subject: "orders.{id}.get"},
			func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
				if od.Request.MediaType != "" || natsCompact(t, od.Request.Schema) != `{}` {
					t.Errorf("any JSON in: %+v", od.Request)
				}
				if od.Response.MediaType != translate.AnyMediaType || od.Response.Schema != nil {
					t.Errorf("the reply passes as sent: %+v", od.Response)
				}
			}},
		{"raw publish", nil, Route{Subject: "logs", Mode: ModePublish, Raw: true},
			func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
				if od.Request.MediaType != translate.AnyMediaType {
					t.Errorf("raw body %+v", od.Request)
				}
				if od.Status != 202 || natsCompact(t, od.Response.Schema) != `{"type":"object","properties":{"subject":{"type":"string"}},"required":["subject"]}` {
					t.Errorf("publish reply %d %s", od.Status, natsCompact(t, od.Response.Schema))
				}
			}},
		{"jetstream", []string{"id"}, Route{Subject: "orders.{id}.created", Mode: ModeJetStream},
			func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
				if len(od.Headers) != 1 || od.Headers[0].Name != IdempotencyKeyHeader || od.Headers[0].Required {
					t.Errorf("headers %+v", od.Headers)
				}
				ack := []byte(`{"stream":"ORDERS","seq":7,"duplicate":true}`)
				if od.Status != 202 || len(defs.ValidateJSON(od.Response.Schema, ack)) > 0 {
					t.Errorf("ack %d %s", od.Status, natsCompact(t, od.Response.Schema))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := NewTranscoder("bus", tt.fields, tt.route)
			if err != nil {
				t.Fatal(err)
			}
			defs := jsonschema.NewDefinitions()
			tt.check(t, tc.Operation(defs), defs)
		})
	}
}
