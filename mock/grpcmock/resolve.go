package grpcmock

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// chainResolver asks the caller's resolver first and the linked-in types
// second, so google.rpc details and well-known types always resolve. It
// also serves as the reflection service's extension resolver, which needs
// RangeExtensionsByMessage that *dynamicpb.Types lacks; extensions are then
// found by walking the descriptors.
type chainResolver struct {
	first Resolver
	files *protoregistry.Files
}

func (r *chainResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if t, err := r.first.FindMessageByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r *chainResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t, err := r.first.FindMessageByURL(url); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r *chainResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t, err := r.first.FindExtensionByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r *chainResolver) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t, err := r.first.FindExtensionByNumber(m, f); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

func (r *chainResolver) RangeExtensionsByMessage(m protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	seen := map[protoreflect.FieldNumber]bool{}
	stop := false
	yield := func(xt protoreflect.ExtensionType) bool {
		n := xt.TypeDescriptor().Number()
		if seen[n] {
			return true
		}
		seen[n] = true
		if !f(xt) {
			stop = true
		}
		return !stop
	}
	if rr, ok := r.first.(interface {
		RangeExtensionsByMessage(protoreflect.FullName, func(protoreflect.ExtensionType) bool)
	}); ok {
		rr.RangeExtensionsByMessage(m, yield)
	}
	if !stop {
		r.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			rangeExtensions(fd.Extensions(), fd.Messages(), m, yield)
			return !stop
		})
	}
	if !stop {
		protoregistry.GlobalTypes.RangeExtensionsByMessage(m, yield)
	}
}

func rangeExtensions(xds protoreflect.ExtensionDescriptors, mds protoreflect.MessageDescriptors, m protoreflect.FullName, yield func(protoreflect.ExtensionType) bool) bool {
	for i := 0; i < xds.Len(); i++ {
		xd := xds.Get(i)
		if xd.ContainingMessage().FullName() == m && !yield(dynamicpb.NewExtensionType(xd)) {
			return false
		}
	}
	for i := 0; i < mds.Len(); i++ {
		md := mds.Get(i)
		if !rangeExtensions(md.Extensions(), md.Messages(), m, yield) {
			return false
		}
	}
	return true
}

// descResolver serves reflection from the mock's descriptors, falling back
// to the linked-in ones so that grpcurl can also describe the health and
// reflection services the mock runs natively.
type descResolver struct{ files *protoregistry.Files }

func (r descResolver) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.files.FindFileByPath(p); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(p)
}

func (r descResolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.files.FindDescriptorByName(n); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(n)
}

// serviceLister tells reflection which services to list: the mocked ones
// only, so that a client building routes from reflection (the gateway)
// sees the user's API and not the mock's plumbing.
type serviceLister struct{ s *Server }

func (l serviceLister) GetServiceInfo() map[string]grpc.ServiceInfo { return l.s.info }

// opaqueJSON holds the well-known types whose proto3 JSON form is not an
// object of their fields; a path into one is passed through unchecked.
var opaqueJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Any":         true,
	"google.protobuf.Timestamp":   true,
	"google.protobuf.Duration":    true,
	"google.protobuf.FieldMask":   true,
	"google.protobuf.Struct":      true,
	"google.protobuf.Value":       true,
	"google.protobuf.ListValue":   true,
	"google.protobuf.BoolValue":   true,
	"google.protobuf.BytesValue":  true,
	"google.protobuf.DoubleValue": true,
	"google.protobuf.FloatValue":  true,
	"google.protobuf.Int32Value":  true,
	"google.protobuf.Int64Value":  true,
	"google.protobuf.StringValue": true,
	"google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true,
}

// protoPath checks a dotted request path against the input type and spells
// its field segments with proto names, the keys of the request map. Stubs
// may use either proto or JSON names (including custom json_name, which
// the name-conversion fallback in mock.Lookup cannot guess).
func protoPath(md protoreflect.MessageDescriptor, path string) (string, error) {
	const (
		inMessage = iota
		inMapKey
		inList
		inScalar
		opaque
	)
	segs := strings.Split(path, ".")
	out := make([]string, 0, len(segs))
	mode, cur := inMessage, md
	var container protoreflect.FieldDescriptor
	after := func(fd protoreflect.FieldDescriptor) {
		if fd.Message() != nil {
			mode, cur = inMessage, fd.Message()
		} else {
			mode, cur, container = inScalar, nil, fd
		}
	}
	for _, seg := range segs {
		switch mode {
		case opaque:
			out = append(out, seg)
		case inMessage:
			if opaqueJSON[cur.FullName()] {
				mode = opaque
				out = append(out, seg)
				continue
			}
			fd := cur.Fields().ByName(protoreflect.Name(seg))
			if fd == nil {
				fd = cur.Fields().ByJSONName(seg)
			}
			if fd == nil {
				return "", fmt.Errorf("%s has no field %q", cur.FullName(), seg)
			}
			out = append(out, string(fd.Name()))
			switch {
			case fd.IsMap():
				mode, container = inMapKey, fd
			case fd.IsList():
				mode, container = inList, fd
			default:
				after(fd)
			}
		case inMapKey:
			out = append(out, seg)
			after(container.MapValue())
		case inList:
			if _, err := strconv.Atoi(seg); err != nil {
				return "", fmt.Errorf("%s is a list: index it with a number, not %q", strings.Join(out, "."), seg)
			}
			out = append(out, seg)
			after(container)
		case inScalar:
			return "", fmt.Errorf("%s is a %s, it has no field %q", strings.Join(out, "."), container.Kind(), seg)
		}
	}
	return strings.Join(out, "."), nil
}
