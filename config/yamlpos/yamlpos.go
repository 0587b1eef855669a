// Package yamlpos turns yaml.v3's decoder messages ("yaml: line 12: ...")
// into positions, so that the config file and stub files report problems
// the same way: "file:line: message", the form editors and terminals turn
// into links.
package yamlpos

import (
	"regexp"
	"strconv"
	"strings"
)

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Split reads the line a yaml.v3 message names, and the message without
// it. ok is false when the message names no line; rest then has no
// "yaml: " prefix.
func Split(msg string) (line int, rest string, ok bool) {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil {
			return n, m[2], true
		}
	}
	return 0, strings.TrimPrefix(msg, "yaml: "), false
}

// Format is msg as "file:line: message", or "file: message" when it names
// no line.
func Format(file, msg string) string {
	if line, rest, ok := Split(msg); ok {
		return file + ":" + strconv.Itoa(line) + ": " + rest
	}
	_, rest, _ := Split(msg)
	return file + ": " + rest
}
