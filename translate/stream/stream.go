// Package stream is the HTTP framing of streamed calls: it picks how a
// stream of JSON messages is written from the client's Accept header,
// writes the messages as they arrive (NDJSON, Server-Sent Events or one JSON
// array), and reads newline-delimited JSON request bodies line by line.
//
// The messages themselves are encoded elsewhere; this package only frames
// them, so every protocol's streams look the same on the wire.
package stream

import (
	"strconv"
	"strings"
)

// Framing is how a stream of JSON messages is written on an HTTP response.
type Framing uint8

const (
	NDJSON    Framing = iota // application/x-ndjson: {"result": MSG}\n per message, grpc-gateway v2's shape
	SSE                      // text/event-stream: Server-Sent Events
	JSONArray                // application/json: one JSON array, written as messages arrive
)

const numFramings = JSONArray + 1

var framingNames = [numFramings]struct{ contentType, name string }{
	NDJSON:    {"application/x-ndjson", "ndjson"},
	SSE:       {"text/event-stream", "sse"},
	JSONArray: {"application/json", "json"},
}

// ContentType is the media type a response in this framing is sent with
// (and the one Negotiate matches in Accept); "" for an unknown framing.
func (f Framing) ContentType() string {
	if f >= numFramings {
		return ""
	}
	return framingNames[f].contentType
}

// String is the short name, for logs and metrics labels.
func (f Framing) String() string {
	if f >= numFramings {
		return "Framing(" + strconv.Itoa(int(f)) + ")"
	}
	return framingNames[f].name
}

// Limits on the Accept header Negotiate reads: a client needs a handful of
// media ranges, and anything larger is refused rather than parsed.
const (
	maxAcceptRanges = 64
	maxAcceptBytes  = 8 << 10
)

// Negotiate picks the framing from the request's Accept header values (all
// of them, as r.Header.Values("Accept")).
//
// No Accept header, or one without any media range, means NDJSON, the
// default; so do "*/*" and "application/*". Each framing gets the quality
// of the most specific range that matches its media type (RFC 9110
// §12.5.1; q=0 excludes it), parameters other than q are allowed and do not
// affect matching, and the highest quality wins. A tie goes to the framing
// the client named more specifically ("application/json, */*" is a JSON
// array), then to the order NDJSON, SSE, JSONArray.
//
// ok is false when the client accepts none of the three (the caller answers
// 406), and also, to bound the work a hostile header can cause, when the
// values hold more than 64 media ranges or more than 8 KiB. A malformed
// range (bad syntax, a q-value outside the RFC grammar) matches nothing.
func Negotiate(accept []string) (f Framing, ok bool) {
	total := 0
	for _, v := range accept {
		total += len(v) + 1 // +1: the comma a join would add, so empty values count too
		if total > maxAcceptBytes+1 {
			return NDJSON, false
		}
	}
	type match struct{ spec, q int } // spec: 2 type/subtype, 1 type/*, 0 */*, -1 none
	var best [numFramings]match
	for i := range best {
		best[i].spec = -1
	}
	ranges := 0
	for _, v := range accept {
		for v != "" {
			var elem string
			elem, v = nextElement(v)
			elem = trimOWS(elem)
			if elem == "" {
				continue // the list syntax allows empty elements
			}
			if ranges++; ranges > maxAcceptRanges {
				return NDJSON, false
			}
			typ, sub, q, valid := parseRange(elem)
			if !valid {
				continue
			}
			for i := range best {
				spec := matchSpec(typ, sub, Framing(i).ContentType())
				if spec < 0 {
					continue
				}
				// The most specific range decides; among equally specific
				// ones (differing only in parameters) the most generous does.
				if spec > best[i].spec || spec == best[i].spec && q > best[i].q {
					best[i] = match{spec, q}
				}
			}
		}
	}
	if ranges == 0 {
		return NDJSON, true
	}
	pick := -1
	for i, m := range best {
		if m.spec < 0 || m.q == 0 {
			continue
		}
		if pick < 0 || m.q > best[pick].q || m.q == best[pick].q && m.spec > best[pick].spec {
			pick = i
		}
	}
	if pick < 0 {
		return NDJSON, false
	}
	return Framing(pick), true
}

// nextElement splits off the first comma-separated element of an Accept
// value; a comma inside a quoted parameter value does not split.
func nextElement(s string) (elem, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++ // quoted-pair: the next byte is literal
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseRange parses one media range with its parameters, strictly by RFC
// 9110's grammar: media-range = type "/" subtype *( OWS ";" OWS [ parameter ] ).
// q is the weight in thousandths (1000 when absent); parameters after q are
// accept extensions and ignored.
func parseRange(s string) (typ, sub string, q int, ok bool) {
	typ, s = cutToken(s)
	if typ == "" || len(s) == 0 || s[0] != '/' {
		return "", "", 0, false
	}
	sub, s = cutToken(s[1:])
	if sub == "" || typ == "*" && sub != "*" {
		return "", "", 0, false
	}
	q, seenQ := 1000, false
	for {
		s = trimOWS(s)
		if s == "" {
			return typ, sub, q, true
		}
		if s[0] != ';' {
			return "", "", 0, false
		}
		s = trimOWS(s[1:])
		if s == "" || s[0] == ';' {
			continue // empty parameter
		}
		var name, value string
		name, s = cutToken(s)
		if name == "" || len(s) == 0 || s[0] != '=' {
			return "", "", 0, false
		}
		s = s[1:]
		if len(s) > 0 && s[0] == '"' {
			var good bool
			value, s, good = cutQuoted(s)
			if !good {
				return "", "", 0, false
			}
		} else if value, s = cutToken(s); value == "" {
			return "", "", 0, false
		}
		if !seenQ && (name == "q" || name == "Q") {
			seenQ = true
			if q, ok = parseQ(value); !ok {
				return "", "", 0, false
			}
		}
	}
}

// parseQ parses a qvalue, ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
// into thousandths; strconv.ParseFloat would take "NaN", "1e3" and hex.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] != '0' && s[0] != '1' {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}

// matchSpec is how specifically the range typ/sub matches the media type
// mt: 2 exactly, 1 by type/*, 0 by */*, -1 not at all.
func matchSpec(typ, sub, mt string) int {
	mtTyp, mtSub, _ := strings.Cut(mt, "/")
	switch {
	case typ == "*" && sub == "*":
		return 0
	case !equalFold(typ, mtTyp):
		return -1
	case sub == "*":
		return 1
	case equalFold(sub, mtSub):
		return 2
	}
	return -1
}

// equalFold compares ASCII case-insensitively; media types are ASCII
// tokens, and strings.EqualFold's Unicode folding (the Kelvin sign matches
// "k") has no place here.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// cutToken splits off the longest prefix of token characters.
func cutToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// cutQuoted splits off a quoted-string (s starts with '"'); its value is
// not needed, only where it ends and whether it is well formed.
func cutQuoted(s string) (value, rest string, ok bool) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[1:i], s[i+1:], true
		case c == '\\':
			if i+1 >= len(s) || !isQuotedText(s[i+1]) && s[i+1] != '"' && s[i+1] != '\\' {
				return "", "", false
			}
			i++
		case !isQuotedText(c):
			return "", "", false
		}
	}
	return "", "", false // unterminated
}

// isQuotedText is qdtext: HTAB, SP, visible ASCII but '"' and '\\', obs-text.
func isQuotedText(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x5B || 0x5D <= c && c <= 0x7E || c >= 0x80
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
