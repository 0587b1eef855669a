package nats

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/switchboard-gw/switchboard/translate"
)

var _ translate.Explainer = (*Transcoder)(nil)

// ExplainCall shows the message as it would be published: the subject,
// the headers, and the payload (decoded from protobuf on a typed route).
// A subscription publishes nothing: it shows what it would subscribe to.
func (t *Transcoder) ExplainCall(call *translate.Call) ([]byte, string, error) {
	if t.mode == ModeSubscribe {
		return t.explainSubscription(call)
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s %s\n", strings.ToUpper(t.mode), call.Method)
	keys := make([]string, 0, len(call.Metadata))
	for k := range call.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range call.Metadata[k] {
			fmt.Fprintf(&text, "%s: %s\n", k, v)
		}
	}
	payload := call.Body
	if t.reqType != nil && len(payload) > 0 {
		msg := t.reqType.New()
		if err := t.decode.Unmarshal(payload, msg.Interface()); err != nil {
			return nil, "", err
		}
		js, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(msg.Interface())
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(&text, "\n%s", prototext.MarshalOptions{Multiline: true, Indent: "  "}.Format(msg.Interface()))
		return js, text.String(), nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, payload, "", "  ") == nil {
		payload = pretty.Bytes()
	} else if len(payload) > 0 {
		// A raw route's payload need not be JSON: show it as a string.
		payload, _ = json.Marshal(string(payload))
	}
	fmt.Fprintf(&text, "\n%d bytes of payload\n", len(call.Body))
	if len(payload) == 0 {
		payload = []byte("null")
	}
	return payload, text.String(), nil
}

func (t *Transcoder) explainSubscription(call *translate.Call) ([]byte, string, error) {
	s, err := decodeSubscription(call.Body)
	if err != nil {
		return nil, "", err
	}
	var text strings.Builder
	fmt.Fprintf(&text, "SUBSCRIBE %s\n", call.Method)
	if s.Stream == "" {
		fmt.Fprintf(&text, "core NATS: messages published from now on, up to %d buffered\n", cmp.Or(s.MaxPending, DefaultMaxPending))
	} else {
		fmt.Fprintf(&text, "JetStream stream %s, ordered consumer, delivering %s", s.Stream, s.Deliver)
		switch s.Deliver {
		case deliverSeq:
			fmt.Fprintf(&text, " from sequence %d", s.StartSeq)
		case deliverTime:
			fmt.Fprintf(&text, " from %s", s.StartTime.Format(time.RFC3339Nano))
		}
		text.WriteString("\n")
	}
	js, _ := json.Marshal(s)
	return js, text.String(), nil
}
