package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"
)

// stdin is what ws sends; tests replace it.
var stdin io.Reader = os.Stdin

// cmdWS is a small WebSocket client for the gateway's streaming routes:
// each line of stdin is sent as a text frame; at the end of stdin an empty
// frame ends the client's side; every frame received is printed on a line
// of its own. It exits 0 when the gateway closes the socket with 1000.
func cmdWS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ws", flag.ContinueOnError)
	fs.SetOutput(stderr)
	origin := fs.String("origin", "", "the Origin header to send, as a browser on that origin would")
	var headers headerFlags
	fs.Var(&headers, "H", "a request header, 'Name: value' (repeatable), e.g. -H 'Authorization: Bearer TOKEN'")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "ws: want one URL (ws://HOST/PATH or wss://...)")
		return errUsage
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	h := http.Header(headers)
	if h == nil {
		h = http.Header{}
	}
	if *origin != "" {
		h.Set("Origin", *origin)
	}
	conn, resp, err := websocket.Dial(ctx, fs.Arg(0), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("ws: %s: %s", resp.Status, body)
		}
		return fmt.Errorf("ws: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 20)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue // an empty frame would end the stream early
			}
			if conn.Write(ctx, websocket.MessageText, sc.Bytes()) != nil {
				return
			}
		}
		_ = conn.Write(ctx, websocket.MessageText, nil)
	}()
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			switch code := websocket.CloseStatus(err); {
			case code == websocket.StatusNormalClosure:
				return nil
			case code != -1:
				var ce websocket.CloseError
				errors.As(err, &ce)
				return fmt.Errorf("ws: closed with %d: %s", code, ce.Reason)
			}
			return fmt.Errorf("ws: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", msg)
	}
}

// headerFlags collects -H 'Name: value' flags.
type headerFlags http.Header

func (h *headerFlags) String() string { return "" }

func (h *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	value = strings.TrimLeft(value, " \t")
	if !ok || name == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	if *h == nil {
		*h = headerFlags{}
	}
	http.Header(*h).Add(name, value)
	return nil
}
