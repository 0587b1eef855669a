package descriptors

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// OptionsFile is the path of Switchboard's own options file, importable by
// every set and source as google/api/annotations.proto is.
const OptionsFile = "switchboard/v1/options.proto"

//go:embed switchboard/v1/options.proto
var optionsSource []byte

// policyExt is the switchboard.v1.policy method option, as a dynamic
// extension of the compiled-in file.
var policyExt protoreflect.ExtensionType

func init() {
	fd, err := compileOptions()
	if err != nil {
		panic("descriptors: compiling the built-in " + OptionsFile + ": " + err.Error())
	}
	// In the global registry beside google/api, so that sets and sources
	// resolve the import from the binary.
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		panic("descriptors: registering " + OptionsFile + ": " + err.Error())
	}
	policyExt = dynamicpb.NewExtensionType(fd.Extensions().ByName("policy"))
}

func compileOptions() (protoreflect.FileDescriptor, error) {
	c := protocompile.Compiler{Resolver: protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if path == OptionsFile {
			return protocompile.SearchResult{Source: io.NopCloser(bytes.NewReader(optionsSource))}, nil
		}
		// Imports are the linked-in descriptors themselves, so that the
		// option extends the very MethodOptions every set uses.
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			return protocompile.SearchResult{}, err
		}
		return protocompile.SearchResult{Desc: fd}, nil
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	files, err := c.Compile(ctx, OptionsFile)
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

// MethodPolicy is a method's switchboard.v1.policy option.
type MethodPolicy struct {
	Policy    string
	Scopes    []string
	RateLimit *MethodRateLimit
}

// MethodRateLimit is the option's rate_limit.
type MethodRateLimit struct {
	Rate  float64
	Per   time.Duration
	Burst int64
	Key   string
}

// PolicyOption reads m's switchboard.v1.policy option. ok is false when
// the method has none; err names a malformed one (a per that is not a
// duration).
func PolicyOption(m protoreflect.MethodDescriptor) (p MethodPolicy, ok bool, err error) {
	opts := m.Options()
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return p, false, nil
	}
	// Whichever resolver parsed the options, a round trip through the
	// wire form with this one finds the extension.
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil || len(b) == 0 {
		return p, false, nil
	}
	types := new(protoregistry.Types)
	if err := types.RegisterExtension(policyExt); err != nil {
		return p, false, err
	}
	mo := new(descriptorpb.MethodOptions)
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: types}).Unmarshal(b, mo); err != nil {
		return p, false, nil
	}
	if !proto.HasExtension(mo, policyExt) {
		return p, false, nil
	}
	msg := proto.GetExtension(mo, policyExt).(protoreflect.Message)
	fields := msg.Descriptor().Fields()
	p.Policy = msg.Get(fields.ByName("policy")).String()
	scopes := msg.Get(fields.ByName("scopes")).List()
	for i := 0; i < scopes.Len(); i++ {
		p.Scopes = append(p.Scopes, scopes.Get(i).String())
	}
	if rf := fields.ByName("rate_limit"); msg.Has(rf) {
		rm := msg.Get(rf).Message()
		rfs := rm.Descriptor().Fields()
		rl := &MethodRateLimit{Rate: rm.Get(rfs.ByName("rate")).Float(), Burst: rm.Get(rfs.ByName("burst")).Int(),
			Key: rm.Get(rfs.ByName("key")).String(), Per: time.Second}
		if per := rm.Get(rfs.ByName("per")).String(); per != "" {
			d, err := time.ParseDuration(per)
			if err != nil || d <= 0 {
				return p, true, fmt.Errorf("%s: switchboard.v1.policy rate_limit.per %q is not a positive duration", m.FullName(), per)
			}
			rl.Per = d
		}
		p.RateLimit = rl
	}
	return p, true, nil
}
