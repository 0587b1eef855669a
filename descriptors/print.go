package descriptors

import (
	"fmt"
	"io"

	"github.com/jhump/protoreflect/v2/protoprint"
)

// PrintProto writes the set's own files (not the built-ins it imports) as
// .proto source, comments included where the set kept them, one after
// the other, each under a "// file: PATH" line.
func (s *Set) PrintProto(w io.Writer) error {
	p := protoprint.Printer{Compact: false, SortElements: false}
	for _, f := range s.FDS.GetFile() {
		if IsBuiltin(f.GetName()) {
			continue
		}
		fd, err := s.Files.FindFileByPath(f.GetName())
		if err != nil {
			return fmt.Errorf("%s: %w", f.GetName(), err)
		}
		if _, err := fmt.Fprintf(w, "// file: %s\n", fd.Path()); err != nil {
			return err
		}
		if err := p.PrintProtoFile(fd, w); err != nil {
			return fmt.Errorf("printing %s: %w", fd.Path(), err)
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
}
