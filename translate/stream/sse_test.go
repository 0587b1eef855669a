package stream

import (
	"bytes"
	"strings"
)

// sseEvent is one event as an EventSource would dispatch it, with the
// field names that built it so tests can check no other field crept in.
type sseEvent struct {
	Type   string // "" for the default "message"
	Data   string
	ID     string
	HasID  bool
	Fields []string
}

// parseSSE parses b by the HTML Living Standard's event-stream rules
// (§9.2.6): lines end at CRLF, LF or CR; an empty line dispatches; a line
// starting with ':' is a comment; one space after the colon is dropped.
// incomplete reports bytes left at the end that no empty line dispatched
// (an unterminated line, or fields without their blank line).
func parseSSE(b []byte) (events []sseEvent, comments []string, incomplete bool) {
	var cur sseEvent
	var data strings.Builder
	hasData, pending := false, false
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			return events, comments, true
		}
		line := string(b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
		switch {
		case line == "":
			if hasData {
				cur.Data = strings.TrimSuffix(data.String(), "\n")
				events = append(events, cur)
			}
			cur, hasData, pending = sseEvent{}, false, false
			data.Reset()
			continue
		case line[0] == ':':
			comments = append(comments, line[1:])
			continue
		}
		pending = true
		name, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		cur.Fields = append(cur.Fields, name)
		switch name {
		case "event":
			cur.Type = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.Contains(value, "\x00") {
				cur.ID, cur.HasID = value, true
			}
		}
	}
	return events, comments, pending
}
