package main

import (
	"context"
	"io"
	"testing"
)

// switchboard ws --origin works without any -H.
func TestWSOriginWithoutHeaders(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v", r)
		}
	}()
	_ = cmdWS(context.Background(), []string{"--origin", "https://app.example.com", "ws://127.0.0.1:1/v1/ticks:chat"}, io.Discard, io.Discard)
}
