package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

const pingPath = "/library.v1.LibraryService/Ping"

// TestRoundRobin spreads calls over every endpoint of a backend.
func TestRoundRobin(t *testing.T) {
	a, addrA := startRecorder(t)
	b, addrB := startRecorder(t)
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec:
    grpc: {endpoints: ["%s", "%s"]}
services:
  - name: library.v1.LibraryService
    backend: rec
    unannotated: true
`, addrA, addrB))
	// round_robin spreads over the endpoints that are connected; the second
	// may still be connecting for the first few calls, so call until both
	// have answered, within a bound.
	calls := func() (int, int) {
		a.mu.Lock()
		defer a.mu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		return a.calls, b.calls
	}
	sent := 0
	for deadline := time.Now().Add(5 * time.Second); sent < 20 || time.Now().Before(deadline); sent++ {
		if r := do(t, "POST", tg.http.URL+pingPath, []byte(`{}`), map[string]string{"Content-Type": "application/json"}); r.status != 200 {
			t.Fatalf("call %d: %d %s", sent, r.status, r.body)
		}
		if na, nb := calls(); sent >= 19 && na > 0 && nb > 0 {
			sent++
			break
		}
	}
	if na, nb := calls(); na == 0 || nb == 0 || na+nb != sent {
		t.Errorf("calls split %d/%d of %d; want both endpoints used", na, nb, sent)
	}
}

// TestTLSBackend reaches a backend over TLS with a private CA and mutual
// TLS, and fails closed when the CA is wrong.
func TestTLSBackend(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert := issue(t, ca, caKey, "backend.test", false)
	clientCert := issue(t, ca, caKey, "gateway", true)
	writePEM(t, filepath.Join(dir, "client.pem"), "CERTIFICATE", clientCert.Certificate[0])
	keyDER, err := x509.MarshalECPrivateKey(clientCert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "client-key.pem"), "EC PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	rs, addr := startRecorder(t, grpc.Creds(creds))

	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  secure:
    grpc:
      endpoints: ["%s"]
      tls: {ca_file: %s, cert_file: %s, key_file: %s, server_name: backend.test}
    timeout: 2s
services:
  - name: library.v1.LibraryService
    backend: secure
    unannotated: true
`, addr, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")))
	if r := do(t, "POST", tg.http.URL+pingPath, []byte(`{}`), map[string]string{"Content-Type": "application/json"}); r.status != 200 {
		t.Fatalf("over mutual TLS: %d %s", r.status, r.body)
	}
	rs.mu.Lock()
	calls := rs.calls
	rs.mu.Unlock()
	if calls != 1 {
		t.Errorf("backend saw %d calls", calls)
	}

	// Without server_name the certificate is checked against the endpoint's
	// own host (here its IP address), not the backend's name in the config.
	byHost := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  secure:
    grpc:
      endpoints: ["%s"]
      tls: {ca_file: %s, cert_file: %s, key_file: %s}
    timeout: 2s
services:
  - name: library.v1.LibraryService
    backend: secure
    unannotated: true
`, addr, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")))
	if r := do(t, "POST", byHost.http.URL+pingPath, []byte(`{}`), map[string]string{"Content-Type": "application/json"}); r.status != 200 {
		t.Fatalf("TLS checked against the endpoint host: %d %s", r.status, r.body)
	}

	// A CA that did not sign the server certificate: the call must fail, and
	// the client sees 503 without the handshake details.
	other, _ := newCA(t)
	writePEM(t, filepath.Join(dir, "other-ca.pem"), "CERTIFICATE", other.Raw)
	bad := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  secure:
    grpc:
      endpoints: ["%s"]
      tls: {ca_file: %s, server_name: backend.test}
    timeout: 1s
services:
  - name: library.v1.LibraryService
    backend: secure
    unannotated: true
`, addr, filepath.Join(dir, "other-ca.pem")))
	r := do(t, "POST", bad.http.URL+pingPath, []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 503 && r.status != 504 {
		t.Errorf("untrusted server: %d %s, want 503 or 504", r.status, r.body)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, client bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
