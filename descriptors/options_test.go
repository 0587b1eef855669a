package descriptors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const policyProto = `syntax = "proto3";
package shop.v1;
import "google/api/annotations.proto";
import "switchboard/v1/options.proto";
message Req { string id = 1; }
service Shop {
  rpc Get(Req) returns (Req) {
    option (google.api.http) = {get: "/v1/items/{id}"};
    option (switchboard.v1.policy) = {policy: "members", scopes: ["shop.read", "shop.list"],
      rate_limit: {rate: 5, per: "1m", burst: 10, key: "subject"}};
  }
  rpc Plain(Req) returns (Req);
  rpc Bad(Req) returns (Req) { option (switchboard.v1.policy) = {rate_limit: {rate: 1, per: "soon"}}; }
}
`

func TestPolicyOption(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.proto"), []byte(policyProto), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := Compile(context.Background(), []string{"shop.proto"}, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	// As an upload would: the set holds the built-in file too.
	set, err := NewSet("shop", "", Source{Kind: SourceUpload}, fds)
	if err != nil {
		t.Fatal(err)
	}
	d, err := set.Files.FindDescriptorByName("shop.v1.Shop")
	if err != nil {
		t.Fatal(err)
	}
	methods := d.(protoreflect.ServiceDescriptor).Methods()

	p, ok, err := PolicyOption(methods.ByName("Get"))
	if err != nil || !ok {
		t.Fatalf("Get: ok=%v err=%v", ok, err)
	}
	if p.Policy != "members" || strings.Join(p.Scopes, ",") != "shop.read,shop.list" || p.RateLimit == nil ||
		*p.RateLimit != (MethodRateLimit{Rate: 5, Per: time.Minute, Burst: 10, Key: "subject"}) {
		t.Errorf("Get: got %+v (rate %+v)", p, p.RateLimit)
	}
	if _, ok, err := PolicyOption(methods.ByName("Plain")); ok || err != nil {
		t.Errorf("Plain: ok=%v err=%v, want no option", ok, err)
	}
	if _, _, err := PolicyOption(methods.ByName("Bad")); err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Errorf("Bad: err=%v, want the per named", err)
	}
	if !IsBuiltin(OptionsFile) {
		t.Errorf("%s is not built in", OptionsFile)
	}
}

func TestPrintProto(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.proto"), []byte(policyProto), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := Compile(context.Background(), []string{"shop.proto"}, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet("shop", "", Source{Kind: SourceUpload}, fds)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := set.PrintProto(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"// file: shop.proto", "service Shop", `get: "/v1/items/{id}"`, "(switchboard.v1.policy)", `scopes: [`} {
		if !strings.Contains(out, want) {
			t.Errorf("printed proto lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "// file: google/") {
		t.Errorf("built-in files were printed:\n%s", out)
	}
}
