package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ControlBodyLimit bounds the body of a control request: faults are small,
// and the endpoint should not hold whatever a client sends.
const ControlBodyLimit = 64 << 10

// ControlHosts are the Host names a control endpoint answers to: the
// loopback names, and listenHost when it names one address rather than
// every address (the rule of the gateway's admin API).
func ControlHosts(listenHost string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	switch h := strings.Trim(listenHost, "[]"); h {
	case "", "0.0.0.0", "::":
	default:
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// ControlHandler serves a mock's fault table over HTTP, so that an outage
// can be rehearsed with curl:
//
//	GET    /faults                 {"seed": N, "faults": [...]}
//	PUT    /faults                 replace them all: {"faults": [...], "seed": N} (seed optional) or a bare list
//	POST   /faults                 add one fault, or replace the one for its method
//	DELETE /faults[?method=M]      drop them all, or one (?subject=S for NATS)
//
// Every answer is the table as GET shows it, or {"error": ..., "problems":
// [...]} with 400 when a fault has problems (nothing is changed then).
// It answers only to hosts and refuses requests a browser marks as
// cross-origin, so that a web page (or a DNS name rebound to loopback)
// cannot break a mock behind the user's back.
func ControlHandler(t *FaultTable, hosts []string) http.Handler {
	return &control{t: t, hosts: hosts}
}

type control struct {
	t     *FaultTable
	hosts []string
}

type controlState struct {
	Seed   uint64  `json:"seed"`
	Faults []Fault `json:"faults"`
}

func (c *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if !slices.ContainsFunc(c.hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		controlError(w, http.StatusForbidden, fmt.Sprintf("the control endpoint does not answer to host %q (it answers to %s)", truncate(r.Host), strings.Join(c.hosts, ", ")), nil)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		controlError(w, http.StatusForbidden, fmt.Sprintf("cross-origin requests to the control endpoint are refused (Origin %q)", truncate(o)), nil)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		controlError(w, http.StatusForbidden, "cross-origin requests to the control endpoint are refused", nil)
		return
	}
	if r.URL.Path != "/faults" {
		controlError(w, http.StatusNotFound, "not found: the control endpoint serves /faults", nil)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut:
		body, ok := readControlBody(w, r)
		if !ok {
			return
		}
		faults, seed, err := c.decodeAll(body)
		if err == nil {
			err = c.t.Set(faults)
		}
		if err != nil {
			problemsError(w, err)
			return
		}
		if seed != nil {
			c.t.SetSeed(*seed)
		}
	case http.MethodPost:
		body, ok := readControlBody(w, r)
		if !ok {
			return
		}
		f, err := DecodeFaultJSON(body, c.t.NameKey())
		if err == nil {
			err = c.t.Put(f)
		} else if f.Name() != "" {
			// The table's checks too, so that one answer lists everything.
			_, cerr := c.t.checkOne(f)
			err = JoinProblems(err, cerr)
		}
		if err != nil {
			problemsError(w, err)
			return
		}
	case http.MethodDelete:
		key := c.t.NameKey()
		if name := r.URL.Query().Get(key); name != "" {
			if !c.t.Remove(name) {
				controlError(w, http.StatusNotFound, fmt.Sprintf("no fault for %s %q", key, name), nil)
				return
			}
			break
		}
		c.t.Clear()
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
		controlError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /faults (GET, PUT, POST, DELETE)", r.Method), nil)
		return
	}
	st := controlState{Seed: c.t.Seed(), Faults: c.t.Faults()}
	if st.Faults == nil {
		st.Faults = []Fault{}
	}
	writeControlJSON(w, http.StatusOK, st)
}

// decodeAll reads a PUT body: {"faults": [...], "seed": N} or a bare
// list, every problem reported.
func (c *control) decodeAll(body []byte) ([]Fault, *uint64, error) {
	v, err := DecodeRequest(body)
	if err != nil {
		return nil, nil, Problems{{Msg: "the body is not JSON: " + err.Error()}}
	}
	var list []any
	var seed *uint64
	var ps Problems
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		for _, k := range sortedKeys(x) {
			switch k {
			case "faults":
				l, ok := x[k].([]any)
				if !ok && x[k] != nil {
					ps = append(ps, Problem{Key: "faults", Msg: "must be a list"})
				}
				list = l
			case "seed":
				n, ok := x[k].(json.Number)
				s, err := strconv.ParseUint(n.String(), 10, 64)
				if !ok || err != nil {
					ps = append(ps, Problem{Key: "seed", Msg: "want a whole number from 0 to 18446744073709551615"})
					continue
				}
				seed = &s
			default:
				ps = append(ps, Problem{Key: k, Msg: "unknown key (want faults, seed)"})
			}
		}
	default:
		return nil, nil, Problems{{Msg: `want {"faults": [...], "seed": N} or a list of faults`}}
	}
	faults := make([]Fault, 0, len(list))
	for i, e := range list {
		f, err := faultFromJSON(e, c.t.NameKey(), i)
		var more Problems
		if errors.As(err, &more) {
			ps = append(ps, more...)
		}
		faults = append(faults, f)
	}
	if len(ps) > 0 {
		// The table's checks too, so that one answer lists everything.
		if _, err := c.t.Check(faults); err != nil {
			var more Problems
			errors.As(err, &more)
			ps = append(ps, more...)
		}
		return nil, nil, ps.normalise()
	}
	return faults, seed, nil
}

func readControlBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ControlBodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", ControlBodyLimit), nil)
		} else {
			controlError(w, http.StatusBadRequest, "cannot read the body: "+err.Error(), nil)
		}
		return nil, false
	}
	return b, true
}

func problemsError(w http.ResponseWriter, err error) {
	var ps Problems
	if !errors.As(err, &ps) {
		ps = Problems{{Msg: err.Error()}}
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	controlError(w, http.StatusBadRequest, ps.Error(), lines)
}

func controlError(w http.ResponseWriter, status int, msg string, problems []string) {
	writeControlJSON(w, status, struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems,omitempty"`
	}{msg, problems})
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// Control is a running control endpoint; see StartControl.
type Control struct {
	srv  *http.Server
	lis  net.Listener
	done chan struct{}
}

// StartControl serves ControlHandler for t on addr until Close. An
// address without a host ("":9092") listens on 127.0.0.1: the endpoint
// breaks the mock on request, which nobody else on the network should be
// able to do. It answers to the loopback names and to the host it listens
// on (ControlHosts).
func StartControl(addr string, t *FaultTable) (*Control, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	c := &Control{
		lis:  lis,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           ControlHandler(t, ControlHosts(host)),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       time.Minute,
		},
	}
	go func() {
		defer close(c.done)
		_ = c.srv.Serve(lis)
	}()
	return c, nil
}

// Addr is the address the endpoint listens on.
func (c *Control) Addr() net.Addr { return c.lis.Addr() }

// URL is the endpoint's base URL, "http://127.0.0.1:PORT".
func (c *Control) URL() string { return "http://" + c.lis.Addr().String() }

// Close stops the endpoint and waits for its connections to finish, a
// second at most, then closes those left.
func (c *Control) Close() error {
	// Shutdown rather than Close alone: it also waits out a connection
	// the server is closing after a refused body, which Close leaves to
	// linger.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	if err != nil {
		err = c.srv.Close()
	}
	<-c.done
	return err
}
