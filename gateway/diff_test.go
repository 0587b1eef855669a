package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
	"github.com/switchboard-gw/switchboard/gateway"
)

// uploadConfig has the library backend but not its set: the tests upload
// it, so that it can be replaced.
const uploadConfig = `
backends:
  library:
    grpc: {endpoints: ["%s"]}
`

func uploadGateway(t *testing.T) *testGateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(uploadConfig, startMock(t, "library.pb", "library.yaml")))
}

// libraryWithout is testdata/library.pb without the named methods of the
// library service, as an upload.
func libraryWithout(t *testing.T, methods ...string) []byte {
	t.Helper()
	fds, err := descriptors.ReadSetFile(root + "/library.pb")
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, f := range fds.GetFile() {
		for _, s := range f.GetService() {
			var keep []*descriptorpb.MethodDescriptorProto
			for _, m := range s.GetMethod() {
				if strings.Contains(","+strings.Join(methods, ",")+",", ","+m.GetName()+",") {
					dropped++
					continue
				}
				keep = append(keep, m)
			}
			s.Method = keep
		}
	}
	if dropped != len(methods) {
		t.Fatalf("dropped %d of the methods %v", dropped, methods)
	}
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// status is the google.rpc.Status body of an error, with the details the
// admin API sends.
type status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type       string `json:"@type"`
		Violations []struct {
			Type        string `json:"type"`
			Subject     string `json:"subject"`
			Description string `json:"description"`
		} `json:"violations"`
	} `json:"details"`
}

type registeredSet struct {
	Version int           `json:"version"`
	History []int         `json:"history"`
	Changes []diff.Change `json:"changes"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return v
}

// TestAdminRegisterBreaking: an upload that removes a method is refused
// with 409, the change named in the message and listed in the details,
// and the old version keeps serving; allow_breaking=true registers it and
// reports the change.
func TestAdminRegisterBreaking(t *testing.T) {
	tg := uploadGateway(t)
	upload := func(query string, body []byte) response {
		return do(t, "POST", tg.admin.URL+"/admin/descriptors?name=library&backend=library"+query, body, protobufType)
	}
	lib := readFile(t, root+"/library.pb")

	r := upload("", lib)
	first := decode[registeredSet](t, r)
	if r.status != 201 || first.Version != 1 || len(diff.Breaking(first.Changes)) != 0 ||
		!strings.Contains(string(r.body), `"message": "service library.v1.LibraryService added"`) {
		t.Fatalf("first upload: %d %s", r.status, r.body)
	}
	r = upload("", lib)
	if again := decode[registeredSet](t, r); r.status != 201 || again.Version != 2 || again.Changes == nil || len(again.Changes) != 0 {
		t.Fatalf("the same set again: %d %s, want version 2 and no changes", r.status, r.body)
	}

	edited := libraryWithout(t, "DeleteBook")
	for _, query := range []string{"", "&allow_breaking=false"} {
		r = upload(query, edited)
		st := decode[status](t, r)
		if r.status != 409 || st.Code != 10 || !strings.Contains(st.Message, "method library.v1.LibraryService.DeleteBook removed (it served DELETE /v1/{name=shelves/*/books/*})") ||
			!strings.Contains(st.Message, "allow_breaking=true") {
			t.Fatalf("breaking upload%s: %d %s, want 409 naming the removed method", query, r.status, r.body)
		}
		if len(st.Details) == 0 || st.Details[0].Type != "type.googleapis.com/google.rpc.PreconditionFailure" || len(st.Details[0].Violations) != 1 {
			t.Fatalf("breaking upload%s: details %s", query, r.body)
		}
		if v := st.Details[0].Violations[0]; v.Type != "BREAKING_CHANGE" || v.Subject != "library.v1.LibraryService.DeleteBook" || !strings.Contains(v.Description, "DeleteBook removed") {
			t.Errorf("violation %+v", v)
		}
	}
	// Nothing changed: version 2 serves, DeleteBook included.
	if r := do(t, "GET", tg.admin.URL+"/admin/descriptors/library", nil, nil); !strings.Contains(string(r.body), `"version": 2`) {
		t.Errorf("after the refusals: %s", r.body)
	}
	if r := do(t, "DELETE", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status == 404 {
		t.Errorf("DeleteBook after the refusal: %d %s", r.status, r.body)
	}

	r = upload("&allow_breaking=true", edited)
	got := decode[registeredSet](t, r)
	if r.status != 201 || got.Version != 3 || len(got.Changes) != 1 || !got.Changes[0].Breaking ||
		got.Changes[0].Path != "library.v1.LibraryService.DeleteBook" || got.Changes[0].Kind != diff.Removed {
		t.Fatalf("allow_breaking=true: %d %s", r.status, r.body)
	}
	if r := do(t, "DELETE", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 405 {
		t.Errorf("DeleteBook after it was removed: %d %s, want 405", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 200 {
		t.Errorf("GetBook: %d %s", r.status, r.body)
	}
	// Adding it back breaks nothing.
	r = upload("", lib)
	if got := decode[registeredSet](t, r); r.status != 201 || len(got.Changes) != 1 || got.Changes[0].Breaking || got.Changes[0].Kind != diff.Added {
		t.Errorf("adding the method back: %d %s", r.status, r.body)
	}
}

// TestAdminAllowBreakingParam: the flag overrides a safety check, so only
// true and false, once, are taken; anything else is 400 before the body
// is read.
func TestAdminAllowBreakingParam(t *testing.T) {
	tg := uploadGateway(t)
	lib := readFile(t, root+"/library.pb")
	for _, q := range []string{"yes", "1", "TRUE", "True", "", "on", "true&allow_breaking=true", "true&allow_breaking=false", "tru%00e"} {
		r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=library&backend=library&allow_breaking="+q, lib, protobufType)
		if r.status != 400 || !strings.Contains(string(r.body), "allow_breaking") {
			t.Errorf("allow_breaking=%s: %d %s, want 400", q, r.status, r.body)
		}
	}
	if r := do(t, "GET", tg.admin.URL+"/admin/descriptors/library", nil, nil); r.status != 404 {
		t.Errorf("a refused upload registered: %d %s", r.status, r.body)
	}
}

// TestAdminDiffEndpoint: GET /admin/descriptors/NAME/diff between versions
// of the history, and its refusals.
func TestAdminDiffEndpoint(t *testing.T) {
	tg := uploadGateway(t)
	upload := func(query string, body []byte) {
		t.Helper()
		r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=library&backend=library"+query, body, protobufType)
		if r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
	}
	lib := readFile(t, root+"/library.pb")
	upload("", lib)                                                      // 1
	upload("", lib)                                                      // 2
	upload("&allow_breaking=true", libraryWithout(t, "Ping", "GetFile")) // 3

	type answer struct {
		Name     string        `json:"name"`
		From     *int          `json:"from"`
		To       int           `json:"to"`
		Breaking int           `json:"breaking"`
		Changes  []diff.Change `json:"changes"`
	}
	get := func(query string) (response, answer) {
		r := do(t, "GET", tg.admin.URL+"/admin/descriptors/library/diff"+query, nil, nil)
		var a answer
		if r.status == 200 {
			a = decode[answer](t, r)
		}
		return r, a
	}
	paths := func(cs []diff.Change) string {
		var out []string
		for _, c := range cs {
			mark := ""
			if c.Breaking {
				mark = "!"
			}
			out = append(out, mark+string(c.Kind)+" "+c.Path)
		}
		return strings.Join(out, ", ")
	}
	from := func(a answer) int {
		if a.From == nil {
			return 0
		}
		return *a.From
	}
	tests := []struct {
		query     string
		from, to  int // 0: none
		breaking  int
		wantPaths string
	}{
		{"", 2, 3, 2, "!removed library.v1.LibraryService.GetFile, !removed library.v1.LibraryService.Ping"},
		{"?from=1&to=2", 1, 2, 0, ""},
		{"?from=1", 1, 3, 2, "!removed library.v1.LibraryService.GetFile, !removed library.v1.LibraryService.Ping"},
		// Backwards: what a rollback would do.
		{"?from=3&to=2", 3, 2, 0, "added library.v1.LibraryService.GetFile, added library.v1.LibraryService.Ping"},
		{"?to=2", 1, 2, 0, ""},
		{"?from=2&to=2", 2, 2, 0, ""},
	}
	for _, tt := range tests {
		r, a := get(tt.query)
		if r.status != 200 || a.Name != "library" || from(a) != tt.from || a.To != tt.to || a.Breaking != tt.breaking || paths(a.Changes) != tt.wantPaths {
			t.Errorf("diff%s: %d %s\nwant from %d to %d, %d breaking: %s", tt.query, r.status, r.body, tt.from, tt.to, tt.breaking, tt.wantPaths)
		}
	}
	// The oldest version against nothing: everything is added.
	if r, a := get("?to=1"); r.status != 200 || a.From != nil || a.To != 1 || a.Breaking != 0 || !strings.Contains(paths(a.Changes), "added library.v1.LibraryService") {
		t.Errorf("diff?to=1: %d %s", r.status, r.body)
	}

	refusals := []struct {
		path   string
		status int
		want   string
	}{
		{"/admin/descriptors/library/diff?from=9", 404, `descriptor set \"library\" holds versions 1, 2, 3 (the last 10 are kept); no version from=9`},
		{"/admin/descriptors/library/diff?from=7&to=8", 404, "no version to=8, from=7"},
		{"/admin/descriptors/nope/diff", 404, `no descriptor set \"nope\"`},
		{"/admin/descriptors/library/diff?from=abc", 400, `query parameter from must be a version number (1, 2, ...), not \"abc\"`},
		{"/admin/descriptors/library/diff?from=0", 400, "query parameter from must be a version number"},
		{"/admin/descriptors/library/diff?to=-1", 400, "query parameter to must be a version number"},
		{"/admin/descriptors/library/diff?to=%2B1", 400, "query parameter to must be a version number"},
		{"/admin/descriptors/library/diff?to=99999999999999999999999", 400, "query parameter to must be a version number"},
		{"/admin/descriptors/library/diff?from=", 400, "query parameter from must be a version number"},
		{"/admin/descriptors/library/diff?from=1&from=2", 400, "query parameter from is given 2 times"},
	}
	for _, rf := range refusals {
		r := do(t, "GET", tg.admin.URL+rf.path, nil, nil)
		if r.status != rf.status || !strings.Contains(string(r.body), rf.want) {
			t.Errorf("%s: %d %s, want %d containing %q", rf.path, r.status, r.body, rf.status, rf.want)
		}
	}
	if r := do(t, "POST", tg.admin.URL+"/admin/descriptors/library/diff", nil, nil); r.status != 405 {
		t.Errorf("POST diff: %d", r.status)
	}
	if r := do(t, "GET", tg.admin.URL+"/", nil, nil); !strings.Contains(string(r.body), "/admin/descriptors/{name}/diff") {
		t.Errorf("the index does not list the diff endpoint: %s", r.body)
	}
}

// TestRegisterWithBreaking: the Go API. Register is strict; RegisterWith
// returns the changes and a *BreakingError that is an ErrConflict.
func TestRegisterWithBreaking(t *testing.T) {
	tg := uploadGateway(t)
	fds, err := descriptors.ReadSetFile(root + "/library.pb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.g.Register("library", "library", fds); err != nil {
		t.Fatal(err)
	}
	edited, err := descriptors.ParseSet(libraryWithout(t, "ListShelves"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.g.Register("library", "library", edited)
	var be *gateway.BreakingError
	if !errors.Is(err, gateway.ErrConflict) || !errors.As(err, &be) || be.Set != "library" || be.Version != 1 || len(be.Changes) != 1 {
		t.Fatalf("Register = %v, want a BreakingError", err)
	}
	set, changes, err := tg.g.RegisterWith("library", "library", edited, gateway.RegisterOptions{AllowBreaking: true})
	if err != nil || set.Version != 2 || len(diff.Breaking(changes)) != 1 {
		t.Fatalf("RegisterWith(AllowBreaking) = %v, %v, %v", set, changes, err)
	}
}

// TestBreakingErrorMessage: the message lists at most 20 changes and
// counts the rest; the error keeps them all.
func TestBreakingErrorMessage(t *testing.T) {
	var cs []diff.Change
	for i := range 25 {
		cs = append(cs, diff.Change{Kind: diff.Removed, Breaking: true, Element: diff.ElementField, Path: fmt.Sprintf("t.A.f%02d", i),
			Message: fmt.Sprintf("field t.A.f%02d removed", i)})
	}
	msg := (&gateway.BreakingError{Set: "t", Version: 4, Changes: cs}).Error()
	for _, want := range []string{`the upload of set "t" breaks clients of version 4 with 25 breaking changes: field t.A.f00 removed; `,
		"field t.A.f19 removed; and 5 more (register with allow_breaking=true to accept them)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "f20") {
		t.Errorf("message lists more than 20: %q", msg)
	}
}

// libraryImported is testdata/library.pb with one more file that imports
// library/v1/library.proto, as protoc --include_imports builds an upload of
// that file: the library service's file becomes a dependency.
func libraryImported(t *testing.T) []byte {
	t.Helper()
	fds, err := descriptors.ReadSetFile(root + "/library.pb")
	if err != nil {
		t.Fatal(err)
	}
	fds.File = append(fds.File, &descriptorpb.FileDescriptorProto{
		Name:       proto.String("library/v1/extra.proto"),
		Package:    proto.String("library.v1extra"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"library/v1/library.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Shelfmark"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("book"), JsonName: proto.String("book"), Number: proto.Int32(1),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
				TypeName: proto.String(".library.v1.Book"),
			}},
		}},
	})
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAdminRegisterImportedServiceFile: an upload that adds a file
// importing the service's file takes the service's routes away (the
// gateway does not expose the services of an upload's imported files);
// the diff sees what the gateway exposes, so it is refused with 409
// naming the service and its routes, and allow_breaking=true registers it.
func TestAdminRegisterImportedServiceFile(t *testing.T) {
	tg := uploadGateway(t)
	upload := func(query string, body []byte) response {
		return do(t, "POST", tg.admin.URL+"/admin/descriptors?name=library&backend=library"+query, body, protobufType)
	}
	getBook := func() int { return do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil).status }

	if r := upload("", readFile(t, root+"/library.pb")); r.status != 201 {
		t.Fatalf("first upload: %d %s", r.status, r.body)
	}
	if s := getBook(); s != 200 {
		t.Fatalf("GetBook after the first upload: %d", s)
	}

	v2 := libraryImported(t)
	r := upload("", v2)
	st := decode[status](t, r)
	if r.status != 409 || st.Code != 10 {
		t.Fatalf("upload importing the service's file: %d %s, want 409", r.status, r.body)
	}
	for _, want := range []string{
		"service library.v1.LibraryService removed (with its 12 methods, serving ",
		"GET /v1/{name=shelves/*/books/*}", "DELETE /v1/{name=shelves/*/books/*}",
		"its file library/v1/library.proto is now imported by library/v1/extra.proto",
		"allow_breaking=true",
	} {
		if !strings.Contains(st.Message, want) {
			t.Errorf("409 message lacks %q: %s", want, st.Message)
		}
	}
	if len(st.Details) == 0 || len(st.Details[0].Violations) != 1 || st.Details[0].Violations[0].Subject != "library.v1.LibraryService" ||
		st.Details[0].Violations[0].Type != "BREAKING_CHANGE" {
		t.Errorf("violations: %s", r.body)
	}
	if s := getBook(); s != 200 {
		t.Errorf("GetBook after the refusal: %d, want 200 (version 1 still serves)", s)
	}

	r = upload("&allow_breaking=true", v2)
	got := decode[registeredSet](t, r)
	if r.status != 201 || got.Version != 2 {
		t.Fatalf("allow_breaking=true: %d %s", r.status, r.body)
	}
	var breaking []string
	for _, c := range diff.Breaking(got.Changes) {
		breaking = append(breaking, string(c.Kind)+" "+c.Element+" "+c.Path)
	}
	if strings.Join(breaking, ", ") != "removed service library.v1.LibraryService" {
		t.Errorf("allow_breaking=true: breaking changes %v, want the service removed", breaking)
	}
	// What the diff said is what happened.
	if s := getBook(); s != 404 {
		t.Errorf("GetBook once its file is imported: %d, want 404", s)
	}
}
