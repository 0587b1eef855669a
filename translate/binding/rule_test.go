package binding

import (
	"bytes"
	"encoding/json"
	"github.com/switchboard-gw/switchboard/translate"
	"regexp"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestNewRuleErrors(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	tests := []struct {
		name    string
		method  string
		path    []string
		body    string
		resp    string
		opts    Options
		wantErr string
	}{
		{name: "bad path field", method: "GetBook", path: []string{"nme"},
			wantErr: `library.v1.LibraryService.GetBook: path variable "nme": no field "nme" in library.v1.GetBookRequest`},
		{name: "json name is not a path", method: "UpdateBook", path: []string{"book.pageCount"},
			wantErr: `library.v1.LibraryService.UpdateBook: path variable "book.pageCount": no field "pageCount" in library.v1.Book`},
		{name: "path to message field", method: "UpdateBook", path: []string{"book"},
			wantErr: `library.v1.LibraryService.UpdateBook: path variable "book": field "book" in library.v1.UpdateBookRequest is a message (library.v1.Book); a path variable must be a singular scalar or wrapper field`},
		{name: "path to timestamp", method: "UpdateBook", path: []string{"book.publish_time"},
			wantErr: `library.v1.LibraryService.UpdateBook: path variable "book.publish_time": field "publish_time" in library.v1.Book is a message (google.protobuf.Timestamp); a path variable must be a singular scalar or wrapper field`},
		{name: "path to repeated", method: "UpdateBook", path: []string{"book.tags"},
			wantErr: `library.v1.LibraryService.UpdateBook: path variable "book.tags": field "tags" in library.v1.Book is repeated; a path variable must be a singular scalar or wrapper field`},
		{name: "path to map", method: "UpdateBook", path: []string{"book.labels"},
			wantErr: `library.v1.LibraryService.UpdateBook: path variable "book.labels": field "labels" in library.v1.Book is a map; a path variable must be a singular scalar or wrapper field`},
		{name: "path through scalar", method: "GetBook", path: []string{"name.x"},
			wantErr: `library.v1.LibraryService.GetBook: path variable "name.x": field "name" in library.v1.GetBookRequest is not a singular message, so "x" cannot reach into it`},
		{name: "path through repeated", method: kinds, path: []string{"items.x"},
			wantErr: `bindingtest.v1.KindsService.Echo: path variable "items.x": field "items" in bindingtest.v1.Kinds is not a singular message, so "x" cannot reach into it`},
		{name: "empty path", method: "GetBook", path: []string{""},
			wantErr: `library.v1.LibraryService.GetBook: path variable "": empty field path`},
		{name: "path twice", method: "GetBook", path: []string{"name", "name"},
			wantErr: `library.v1.LibraryService.GetBook: path variable "name" appears twice`},
		{name: "unknown body field", method: "CreateBook", path: []string{"parent"}, body: "bok",
			wantErr: `library.v1.LibraryService.CreateBook: body "bok": no field "bok" in library.v1.CreateBookRequest`},
		{name: "nested body field", method: "CreateBook", body: "book.title",
			wantErr: `library.v1.LibraryService.CreateBook: body "book.title": must be "*" or a top-level field name`},
		{name: "unknown response field", method: "ListShelves", resp: "shelfs",
			wantErr: `library.v1.LibraryService.ListShelves: response_body "shelfs": no field "shelfs" in library.v1.ListShelvesResponse`},
		{name: "negative depth", method: "GetBook", opts: Options{MaxDepth: -1},
			wantErr: `library.v1.LibraryService.GetBook: negative MaxDepth -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := tt.method
			if !bytes.ContainsRune([]byte(name), '.') {
				name = library + name
			}
			r, err := NewRule(s.method(t, name), tt.path, tt.body, tt.resp, s.res, tt.opts)
			if err == nil {
				t.Fatalf("NewRule succeeded: %+v", r)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error:\n got %s\nwant %s", err, tt.wantErr)
			}
		})
	}
	if _, err := NewRule(nil, nil, "", "", nil, Options{}); err == nil {
		t.Error("NewRule(nil method) succeeded")
	}
}

func TestNewRuleDefaults(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	md := s.method(t, library+"GetBook")
	r, err := NewRule(md, []string{"name"}, "", "", nil, Options{}) // nil resolver: GlobalTypes
	if err != nil {
		t.Fatal(err)
	}
	if r.Method() != md || r.Input() != md.Input() || r.Output() != md.Output() {
		t.Error("Method, Input or Output do not return the method's descriptors")
	}
	if r.maxDepth != DefaultMaxDepth {
		t.Errorf("max depth %d, want %d", r.maxDepth, DefaultMaxDepth)
	}
}

// TestLibraryAnnotations builds a rule for every google.api.http binding in
// library.proto, additional bindings included, from the annotations
// themselves, so that a binding added to the schema is covered.
func TestLibraryAnnotations(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	sd := s.message(t, "library.v1.Book").ParentFile().Services().ByName("LibraryService")
	vars := regexp.MustCompile(`\{([^}=]+)(=[^}]*)?\}`)
	n := 0
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		// The compiled options carry google.api.http as an extension the
		// compiler resolved; round-trip them through the generated type.
		raw, err := proto.Marshal(md.Options())
		if err != nil {
			t.Fatal(err)
		}
		opts := &descriptorpb.MethodOptions{}
		if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, opts); err != nil {
			t.Fatal(err)
		}
		rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			continue
		}
		for _, hr := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			var pattern string
			switch p := hr.GetPattern().(type) {
			case *annotations.HttpRule_Get:
				pattern = p.Get
			case *annotations.HttpRule_Post:
				pattern = p.Post
			case *annotations.HttpRule_Put:
				pattern = p.Put
			case *annotations.HttpRule_Patch:
				pattern = p.Patch
			case *annotations.HttpRule_Delete:
				pattern = p.Delete
			}
			var paths []string
			for _, m := range vars.FindAllStringSubmatch(pattern, -1) {
				paths = append(paths, m[1])
			}
			if _, err := NewRule(md, paths, hr.GetBody(), hr.GetResponseBody(), s.res, Options{}); err != nil {
				t.Errorf("%s %s: %v", md.Name(), pattern, err)
			}
			n++
		}
	}
	if n < 12 {
		t.Errorf("found %d bindings in library.proto, want at least 12", n)
	}
}

func TestCompactJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{}`, `{ "a": 1, "b" : [1, 2, {"c": "x y, z: \"q\" \\"}] }`,
		"{\n  \"a\":\t\"\\\\\",\r\n \"b\": null\n}", `"a b"`, `[ ]`, `"\u00e9 \" "`,
	} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := translate.CompactJSON([]byte(in)); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("translate.CompactJSON(%s) = %s, want %s", in, got, want.Bytes())
		}
	}
}

func TestMember(t *testing.T) {
	t.Parallel()
	obj := []byte(`{"a":"x\"}","bb":[1,{"c":"]"}],"c":-1.5e3,"d":{"e":[]},"f":true,"g":null}`)
	for name, want := range map[string]string{
		"a": `"x\"}"`, "bb": `[1,{"c":"]"}]`, "c": `-1.5e3`, "d": `{"e":[]}`, "f": `true`, "g": `null`,
	} {
		got, ok := member(obj, name)
		if !ok || string(got) != want {
			t.Errorf("member(%q) = %s, %v; want %s", name, got, ok, want)
		}
	}
	if _, ok := member(obj, "zz"); ok {
		t.Error("member found a missing key")
	}
	for _, bad := range []string{``, `[]`, `{"a"}`, `{"a":"x`} {
		if _, ok := member([]byte(bad), "a"); ok {
			t.Errorf("member(%q) succeeded", bad)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "", "title": "title", "authorName": "author_name", "a.bCdE": "a.b_cd_e", "URL": "_u_r_l",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"AQID": "\x01\x02\x03", "+/8=": "\xfb\xff", "+/8": "\xfb\xff", "-_8=": "\xfb\xff", "-_8": "\xfb\xff", "": "",
	} {
		got, ok := decodeBase64(in)
		if !ok || string(got) != want {
			t.Errorf("decodeBase64(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"!", "A", "+_8=", "AQ=D", " AQID"} {
		if _, ok := decodeBase64(bad); ok {
			t.Errorf("decodeBase64(%q) succeeded", bad)
		}
	}
	for ct, want := range map[string]bool{
		"": true, "application/json": true, "APPLICATION/JSON ; charset=utf-8": true, "application/json;charset=UTF8": true,
		"application/json; foo=bar": true, "application/json; charset=latin1": false, "text/json": false,
		"application/jsonx": false, "application/merge-patch+json": false, "text/plain": false,
	} {
		if got := translate.IsJSONMediaType(ct); got != want {
			t.Errorf("translate.IsJSONMediaType(%q) = %v, want %v", ct, got, want)
		}
	}
	body := []byte("ab\né\nxyz")
	for _, off := range []int{0, 1, 2, 3, 5, 6, 7, len(body)} {
		line, col := translate.PositionOf(body, off)
		if got := offsetOf(body, line, col); got != off {
			t.Errorf("offset %d -> %d:%d -> %d", off, line, col, got)
		}
	}
	for in, want := range map[string][3]any{
		"(line 1:13): invalid value":          {1, 13, "invalid value"},
		"syntax error (line 2:1): unexpected": {2, 1, "syntax error: unexpected"},
	} {
		line, col, rest, ok := splitPosition(in)
		if !ok || line != want[0] || col != want[1] || rest != want[2] {
			t.Errorf("splitPosition(%q) = %d, %d, %q, %v", in, line, col, rest, ok)
		}
	}
	for _, bad := range []string{"unexpected EOF", "(line x:1): a", "(line 1:1) a"} {
		if _, _, _, ok := splitPosition(bad); ok {
			t.Errorf("splitPosition(%q) succeeded", bad)
		}
	}
}
