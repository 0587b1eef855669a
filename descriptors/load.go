package descriptors

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ErrEmptySet is returned by ParseSet when the bytes decode to a
// FileDescriptorSet without files. Almost any byte string is a valid
// protobuf message full of unknown fields, so an empty result is the only
// reliable sign that something other than a FileDescriptorSet was uploaded.
var ErrEmptySet = errors.New("descriptors: FileDescriptorSet has no files")

// ReadSetFile reads a binary FileDescriptorSet as written by
// `protoc --include_imports -o set.pb` or `buf build -o set.pb`. Errors name
// the path.
func ReadSetFile(path string) (*descriptorpb.FileDescriptorSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("descriptors: read set: %w", err)
	}
	fds, err := ParseSet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fds, nil
}

// ParseSet decodes a binary FileDescriptorSet. Options that carry extensions
// known to the binary (google.api.http in particular) are decoded into
// extension fields, so MethodsWithHTTPRules and the route builder see them;
// anything else is kept as unknown fields and survives re-marshalling.
//
// It checks only the shape (at least one file, every file named); linking is
// NewSet's job.
func ParseSet(b []byte) (*descriptorpb.FileDescriptorSet, error) {
	fds := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(b, fds); err != nil {
		return nil, fmt.Errorf("descriptors: not a binary FileDescriptorSet (make one with protoc --include_imports -o or buf build -o): %w", err)
	}
	if len(fds.GetFile()) == 0 {
		return nil, fmt.Errorf("%w (is this a binary FileDescriptorSet from protoc --include_imports -o or buf build -o?)", ErrEmptySet)
	}
	for i, f := range fds.GetFile() {
		if f.GetName() == "" {
			return nil, fmt.Errorf("descriptors: file #%d in the set has no name", i)
		}
	}
	return fds, nil
}
