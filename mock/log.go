package mock

import (
	"log/slog"
	"time"
)

// StubAttrs are the call-log fields about the stub that answered, stub i
// (-1 for none): matched, stub, and, when known, stub_source ("file:line")
// and delay. Every protocol mock logs them, and its call's duration with
// DurationAttr, so that one filter reads the logs of all three.
func StubAttrs(i int, st *Stub) []slog.Attr {
	attrs := []slog.Attr{slog.Bool("matched", i >= 0), slog.Int("stub", i)}
	if i < 0 || st == nil {
		return attrs
	}
	if src := st.Source(); src != "" {
		attrs = append(attrs, slog.String("stub_source", src))
	}
	if st.Delay > 0 {
		attrs = append(attrs, DurationAttr("delay", time.Duration(st.Delay)))
	}
	return attrs
}

// DurationAttr logs d as a Go duration string ("150ms", "1.503ms", the
// spelling of delay: in a stub file), never raw nanoseconds; rounded to the
// microsecond when longer than one.
func DurationAttr(key string, d time.Duration) slog.Attr {
	if d > time.Microsecond {
		d = d.Round(time.Microsecond)
	}
	return slog.String(key, d.String())
}
