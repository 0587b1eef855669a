package redistest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that Stop takes the goroutine waiting on the process
// with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return &net.AddrError{Err: "answered " + line, Addr: addr}
	}
	return nil
}

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if got, want := s.URL(), "redis://"+s.Addr()+"/0"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}

	s.Stop()
	s.Stop() // twice is fine
	if err := ping(s.Addr()); err == nil {
		t.Fatal("PING answered after Stop")
	}

	addr := s.Addr()
	s.Restart(t)
	if s.Addr() != addr {
		t.Errorf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	// Restarting a running server stops it first.
	s.Restart(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING after a second Restart: %v", err)
	}
}

func TestTwoServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on %s", a.Addr())
	}
	for _, s := range []*Server{a, b} {
		if err := ping(s.Addr()); err != nil {
			t.Errorf("PING %s: %v", s.Addr(), err)
		}
	}
}
