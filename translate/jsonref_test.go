package translate

import (
	"fmt"
	"testing"
	"unicode/utf8"
)

// The scans of json.go as first written, byte by byte through a
// stringState: the faster ones must agree with them on any input.

func deeperThanReference(b []byte, max int) bool {
	depth := 0
	var st stringState
	for _, c := range b {
		if st.inside(c) {
			continue
		}
		switch c {
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

func shapeOfReference(b []byte, maxValues, maxContainers int) JSONShape {
	var sh JSONShape
	var st stringState
	var objects nesting // which open containers are objects
	prev := byte(0)     // the last structural byte, or 'v' after a value
	for _, c := range b {
		if st.in {
			st.inside(c)
			if !st.in {
				prev = 'v'
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			st.inside(c)
			// A string right after '{', or after ',' in an object, is a key.
			if !(prev == '{' || prev == ',' && objects.top()) {
				sh.Values++
			}
			continue
		case '{', '[':
			sh.Values++
			sh.Containers++
			objects.push(c == '{')
		case '}', ']':
			objects.pop()
			c = 'v'
		case ',', ':':
		default: // the first byte of a number or literal
			if prev != 'v' {
				sh.Values++
			}
			c = 'v'
		}
		prev = c
		if maxValues > 0 && sh.Values > maxValues || maxContainers > 0 && sh.Containers > maxContainers {
			return sh
		}
	}
	return sh
}

func checkTextReference(b []byte) error {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, size := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		line, col := PositionOf(b, off)
		return BadRequest(fmt.Sprintf("request body is not valid UTF-8 (line %d:%d)", line, col))
	}
	var st stringState
	pendingHigh := -1 // offset of an unpaired high surrogate escape
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !st.in {
			st.inside(c)
			continue
		}
		if !st.escaped && c == '\\' && i+1 < len(b) && b[i+1] == 'u' && i+5 < len(b) {
			v, ok := hex4(b[i+2 : i+6])
			switch {
			case ok && v >= 0xD800 && v <= 0xDBFF:
				if pendingHigh >= 0 {
					return loneSurrogate(b, pendingHigh)
				}
				pendingHigh = i
			case ok && v >= 0xDC00 && v <= 0xDFFF:
				if pendingHigh < 0 || pendingHigh != i-6 {
					return loneSurrogate(b, i)
				}
				pendingHigh = -1
			default:
				if pendingHigh >= 0 {
					return loneSurrogate(b, pendingHigh)
				}
			}
			i += 5
			continue
		}
		if pendingHigh >= 0 {
			return loneSurrogate(b, pendingHigh)
		}
		st.inside(c)
	}
	if pendingHigh >= 0 {
		return loneSurrogate(b, pendingHigh)
	}
	return nil
}

var scanSeeds = []string{
	`{"a":[1,2,{"b":null}]}`, `[]`, `"x"`, `{"a\"b":"c\\"}`, `[1,[2,[3]]]`, `"\ud800"`, `"\ud800\udc00"`, `"\udc00"`, `["\ud800", 1]`,
	`"unterminated`, `"esc\`, `{"k":"v\"}"}`, "\"\xff\"", `{"a":"\u00e9\ud83d\ude00"}`, `[[[[`, `]]}}`, `"\ud800\u0041"`, `"a\\\ud800"`,
}

func checkScans(t *testing.T, b []byte) {
	t.Helper()
	for _, max := range []int{0, 1, 2, 64} {
		if got, want := DeeperThan(b, max), deeperThanReference(b, max); got != want {
			t.Errorf("DeeperThan(%q, %d) = %v, want %v", b, max, got, want)
		}
	}
	for _, lim := range [][2]int{{0, 0}, {1, 1}, {3, 2}} {
		if got, want := ShapeOf(b, lim[0], lim[1]), shapeOfReference(b, lim[0], lim[1]); got != want {
			t.Errorf("ShapeOf(%q, %v) = %+v, want %+v", b, lim, got, want)
		}
	}
	got, want := CheckText(b), checkTextReference(b)
	if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
		t.Errorf("CheckText(%q) = %v, want %v", b, got, want)
	}
}

// TestScansMatchReference: the scans that jump over strings agree with the
// byte-by-byte ones they replace, on JSON and on anything else.
func TestScansMatchReference(t *testing.T) {
	t.Parallel()
	for _, s := range scanSeeds {
		checkScans(t, []byte(s))
	}
}

func FuzzScans(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkScans)
}
