package descriptors

import (
	"errors"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Types resolves message, enum and extension types for one Set. It
// implements protoregistry.MessageTypeResolver and
// protoregistry.ExtensionTypeResolver, so it can be handed to
// protojson.MarshalOptions / UnmarshalOptions and proto.UnmarshalOptions as
// the Resolver for a set's messages and their google.protobuf.Any fields.
//
// Lookups go, in order:
//  1. to the generated Go type, when the name is declared in a built-in
//     file the set did not ship (NewSet linked the very descriptor from
//     GlobalFiles), so a google.rpc.BadRequest detail unmarshals into
//     *errdetails.BadRequest and type switches keep working;
//  2. to a dynamicpb type built from the set's Files;
//  3. to protoregistry.GlobalTypes, so google.rpc.* error details and the
//     well-known types always resolve, even in an Any inside a backend's
//     error that the set never mentions.
//
// Types is safe for concurrent use; it never changes after NewSet.
type Types struct {
	files   *protoregistry.Files
	dynamic *dynamicpb.Types
}

var (
	_ protoregistry.MessageTypeResolver   = (*Types)(nil)
	_ protoregistry.ExtensionTypeResolver = (*Types)(nil)
)

func newTypes(files *protoregistry.Files) *Types {
	return &Types{files: files, dynamic: dynamicpb.NewTypes(files)}
}

// isLinkedIn reports whether the set resolves name to exactly the descriptor
// of the linked-in generated code, which is the case for built-in files that
// NewSet supplied. A set that ships its own copy of a built-in file gets
// dynamic types for it instead, since its copy may differ.
func (t *Types) isLinkedIn(name protoreflect.FullName) bool {
	d, err := t.files.FindDescriptorByName(name)
	if err != nil {
		return false
	}
	g, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	return err == nil && d == g
}

// FindMessageByName looks a message type up by full name.
func (t *Types) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if t.isLinkedIn(name) {
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	mt, err := t.dynamic.FindMessageByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindMessageByName(name)
	}
	return mt, err
}

// FindMessageByURL looks a message type up by a google.protobuf.Any type
// URL; everything up to the last '/' is ignored.
func (t *Types) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	return t.FindMessageByName(protoreflect.FullName(url[strings.LastIndexByte(url, '/')+1:]))
}

// FindEnumByName looks an enum type up by full name.
func (t *Types) FindEnumByName(name protoreflect.FullName) (protoreflect.EnumType, error) {
	if t.isLinkedIn(name) {
		if et, err := protoregistry.GlobalTypes.FindEnumByName(name); err == nil {
			return et, nil
		}
	}
	et, err := t.dynamic.FindEnumByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindEnumByName(name)
	}
	return et, err
}

// FindExtensionByName looks an extension up by the extension field's full
// name (e.g. "google.api.http").
func (t *Types) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t.isLinkedIn(field) {
		if xt, err := protoregistry.GlobalTypes.FindExtensionByName(field); err == nil {
			return xt, nil
		}
	}
	xt, err := t.dynamic.FindExtensionByName(field)
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByName(field)
	}
	return xt, err
}

// FindExtensionByNumber looks an extension up by the extended message's full
// name and the field number.
func (t *Types) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	xt, err := t.dynamic.FindExtensionByNumber(message, field)
	if err == nil {
		if t.isLinkedIn(xt.TypeDescriptor().FullName()) {
			if gxt, gerr := protoregistry.GlobalTypes.FindExtensionByNumber(message, field); gerr == nil {
				return gxt, nil
			}
		}
		return xt, nil
	}
	if errors.Is(err, protoregistry.NotFound) {
		return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
	}
	return nil, err
}
