//go:build unix

package thrift

import (
	"errors"
	"syscall"
)

// connAlive reads from the socket without blocking (Go keeps sockets in
// non-blocking mode): EAGAIN means open and quiet, as a pooled connection
// should be; 0 bytes means the peer closed it; data means the peer sent
// something nobody asked for. The technique is go-sql-driver/mysql's.
func connAlive(rc syscall.RawConn) bool {
	ok := false
	err := rc.Read(func(fd uintptr) bool {
		var buf [1]byte
		_, err := syscall.Read(int(fd), buf[:])
		ok = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true // never wait for readability
	})
	return err == nil && ok
}
