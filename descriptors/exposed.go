package descriptors

import (
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ImportedFiles names the files of an uploaded set that another of its
// files imports, or nil for a set from any other source. An upload built
// with --include_imports carries the files it imports; their services are
// dependencies, not the upload's to expose. Sets from the config expose
// only the services it lists, and reflection sets what the server serves,
// so only uploads need this.
func (s *Set) ImportedFiles() map[string]bool {
	if s == nil || s.Source.Kind != SourceUpload {
		return nil
	}
	imported := map[string]bool{}
	for _, f := range s.FDS.GetFile() {
		for _, dep := range f.GetDependency() {
			imported[dep] = true
		}
	}
	return imported
}

// ExposedServices returns the services of Services that the gateway may
// route: for an uploaded set, those of its files that no other file of the
// set imports (see ImportedFiles); for other sets, all of them. Sorted by
// full name.
//
// This is the one statement of the rule: routing and the breaking-change
// diff (descriptors/diff) must agree on it, or a service can vanish from
// the routes with no change reported.
func (s *Set) ExposedServices() []protoreflect.ServiceDescriptor {
	all := s.Services()
	imported := s.ImportedFiles()
	if len(imported) == 0 {
		return all
	}
	return slices.DeleteFunc(all, func(sd protoreflect.ServiceDescriptor) bool {
		return imported[sd.ParentFile().Path()]
	})
}
