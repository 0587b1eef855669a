package binding

import (
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestPatchFieldMask: on PATCH, an unset update_mask is filled from the
// body's keys, relative to the body field, as grpc-gateway does; a mask the
// client sent is kept; without the option nothing is filled.
func TestPatchFieldMask(t *testing.T) {
	t.Parallel()
	patch := updateBook
	patch.opts.PatchFieldMask = true
	tests := []struct {
		name  string
		rule  binding
		query string
		body  string
		want  string // the mask's paths, comma-separated
	}{
		{"filled from nested keys, proto names", patch, "", `{"title":"x","author":{"name":"y"},"pageCount":"3","labels":{"a":"b"},"publishTime":"2020-01-01T00:00:00Z"}`, "author.name,labels,page_count,publish_time,title"},
		{"client mask kept", patch, "update_mask=rating", `{"title":"x"}`, "rating"},
		{"empty object sets nothing", patch, "", `{}`, ""},
		{"an empty nested object is the field itself", patch, "", `{"author":{}}`, "author"},
		{"unknown keys ignored", patch, "", `{"title":"x","bogus":1}`, "title"},
		{"off without the option", updateBook, "", `{"title":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.rule.rule(t)
			q, _ := url.ParseQuery(tt.query)
			b, err := r.Request(bookNamePath, q, []byte(tt.body), "application/json")
			if err != nil {
				t.Fatal(err)
			}
			msg := dynamicpb.NewMessage(r.Input())
			if err := proto.Unmarshal(b, msg); err != nil {
				t.Fatal(err)
			}
			fd := r.Input().Fields().ByName("update_mask")
			var got []string
			if msg.Has(fd) {
				l := msg.Get(fd).Message().Get(fd.Message().Fields().ByName("paths")).List()
				for i := 0; i < l.Len(); i++ {
					got = append(got, l.Get(i).String())
				}
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("mask %q, want %q", strings.Join(got, ","), tt.want)
			}
		})
	}
}
