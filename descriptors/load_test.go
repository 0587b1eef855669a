package descriptors

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSetFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pb")
	if err := os.WriteFile(garbage, []byte("syntax = \"proto3\";\npackage x;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		path      string
		wantFiles int
		wantIs    error
		wantSub   string
	}{
		{name: "golden", path: goldenPath, wantFiles: 12},
		{name: "missing file", path: filepath.Join(dir, "nope.pb"), wantIs: fs.ErrNotExist, wantSub: "nope.pb"},
		{name: "proto source instead of a set", path: garbage, wantSub: "garbage.pb: descriptors: not a binary FileDescriptorSet"},
		{name: "empty file", path: empty, wantIs: ErrEmptySet, wantSub: "empty.pb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fds, err := ReadSetFile(tt.path)
			if tt.wantFiles > 0 {
				if err != nil {
					t.Fatalf("ReadSetFile: %v", err)
				}
				if got := len(fds.GetFile()); got != tt.wantFiles {
					t.Fatalf("got %d files, want %d", got, tt.wantFiles)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadSetFile succeeded, want error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not contain %q", err, tt.wantSub)
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	t.Parallel()
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr string // "" for success
		wantIs  error
	}{
		{name: "golden", in: golden},
		{name: "nil", in: nil, wantIs: ErrEmptySet},
		// Field 1 (file), length 3, but only one byte follows.
		{name: "truncated", in: []byte{0x0a, 0x03, 0x0a}, wantErr: "not a binary FileDescriptorSet"},
		{name: "random bytes", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, wantErr: "not a binary FileDescriptorSet"},
		// A valid message of unknown fields only: decodes, but is no set.
		{name: "unknown fields only", in: []byte{0x10, 0x01}, wantIs: ErrEmptySet},
		// One file without a name: field 1, length 2, field 3 (dependency) "".
		{name: "nameless file", in: []byte{0x0a, 0x02, 0x1a, 0x00}, wantErr: "file #0 in the set has no name"},
		{name: "truncated golden", in: golden[:len(golden)/2], wantErr: "not a binary FileDescriptorSet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fds, err := ParseSet(tt.in)
			if tt.wantErr == "" && tt.wantIs == nil {
				if err != nil {
					t.Fatalf("ParseSet: %v", err)
				}
				if len(fds.GetFile()) == 0 {
					t.Fatal("no files")
				}
				return
			}
			if err == nil {
				t.Fatal("ParseSet succeeded, want error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}
