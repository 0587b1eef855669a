// Package redistest runs a real redis-server for tests: the one on PATH
// (Debian's redis-server package), on a free port of 127.0.0.1, without
// persistence, stopped when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startAttempts is how many ports Start tries: another process may take
// the port between our picking it and redis binding it.
const startAttempts = 5

// readyTimeout is how long a started redis-server has to answer.
const readyTimeout = 10 * time.Second

// Server is a redis-server process started for one test binary or test.
type Server struct {
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	output *lockedBuffer
	exited chan struct{} // closed once cmd.Wait returns
	err    error         // cmd.Wait's, once exited is closed
}

// Start starts redis-server on 127.0.0.1 on a free random port, with no persistence (--save "" --appendonly no),
// waits until it answers PING, and stops it in t.Cleanup. If redis-server is not on PATH: when the
// environment has CI=true, t.Fatalf (CI must run everything); otherwise t.Skipf with a loud reason
// ("redis-server not found: install Debian's redis-server to run this test; CI installs it").
//
// Readiness is checked with INFO rather than a bare PING, so that the
// answer is known to come from this process and not from another server
// that took the port first.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const reason = "redis-server not found: install Debian's redis-server to run this test; CI installs it"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (%v)", reason, err)
		}
		t.Skipf("%s (%v)", reason, err)
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	// Registered after TempDir, so it runs before the directory goes.
	t.Cleanup(s.Stop)

	var failures []string
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		p, err := s.launch(port)
		if err == nil {
			s.mu.Lock()
			s.port, s.proc = port, p
			s.mu.Unlock()
			return s
		}
		failures = append(failures, err.Error())
	}
	t.Fatalf("redistest: redis-server did not start in %d attempts:\n%s", startAttempts, strings.Join(failures, "\n"))
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's database 0 as a redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the process, as an outage would, and waits for it to be gone.
// It is safe to call twice, and after the test's own Stop.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Restart starts the server again on the same port (after a Stop; a
// running server is stopped first). Retries briefly while the port is not
// yet free.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := s.launch(s.port)
		if err == nil {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server did not restart on %s: %v", s.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launch starts redis-server on port and waits until it answers, or kills
// it and says why it did not, with its output.
func (s *Server) launch(port int) (*process, error) {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
	)
	p := &process{cmd: cmd, output: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.output
	cmd.Stderr = p.output
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(readyTimeout)
	for {
		err := p.answers(addr)
		if err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redis-server on %s exited (%v) before answering; its output:\n%s", addr, p.err, p.output)
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("redis-server on %s did not answer in %s (last: %v); its output:\n%s", addr, readyTimeout, err, p.output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answers is nil when the server on addr is this process and ready.
func (p *process) answers(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	head = strings.TrimSuffix(head, "\r\n")
	if !strings.HasPrefix(head, "$") {
		// Such as -LOADING while it reads a dataset.
		return fmt.Errorf("INFO answered %q", head)
	}
	n, err := strconv.Atoi(head[1:])
	if err != nil || n < 0 {
		return fmt.Errorf("INFO answered %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(p.cmd.Process.Pid) + "\r\n"
	if !bytes.Contains(body, []byte(want)) {
		return errors.New("another server answers on " + addr)
	}
	return nil
}

// kill ends the process and waits until it is reaped.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // fails only if it has exited already
	<-p.exited
}

// freePort is a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a process's output while others may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
