package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// tlsCA is a certificate authority made for one test.
type tlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTLSCA(t *testing.T, name string) tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
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
	return tlsCA{cert, key}
}

func (ca tlsCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca tlsCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// tlsLeaf is an issued certificate, as files' contents and for a client.
type tlsLeaf struct {
	certPEM, keyPEM []byte
	pair            tls.Certificate
}

// issue makes a P-256 certificate for subject, valid for 127.0.0.1 as a
// server or as a client.
func (ca tlsCA) issue(t *testing.T, subject pkix.Name, serial int64, client bool) tlsLeaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := tlsLeaf{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	if l.pair, err = tls.X509KeyPair(l.certPEM, l.keyPEM); err != nil {
		t.Fatal(err)
	}
	return l
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFiles writes a server certificate signed by ca and ca itself into a
// fresh directory: cert.pem, key.pem, ca.pem.
type tlsFiles struct{ dir, cert, key, ca string }

func writeTLSFiles(t *testing.T, ca tlsCA, server tlsLeaf) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	f := tlsFiles{dir: dir, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), ca: filepath.Join(dir, "ca.pem")}
	writeFile(t, f.cert, server.certPEM)
	writeFile(t, f.key, server.keyPEM)
	writeFile(t, f.ca, ca.pem())
	return f
}

// tlsGatewayConfig serves /v1/ping (no policy) and /v1/mtls (the policy
// mtls: the client certificate's subject forwarded as X-Client-Cert and
// one request a minute per certificate) over TLS with tlsYAML, the inside
// of the tls: mapping.
func tlsGatewayConfig(recAddr, tlsYAML string) string {
	return fmt.Sprintf(`
listen: 127.0.0.1:0
limits: {shutdown_timeout: 2s}
tls: {%s}
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 5s}
policies:
  mtls:
    forward: {client_cert: X-Client-Cert}
    rate_limit: {key: client_cert, rate: 1, per: 1m, burst: 1}
routes:
  - {post: /v1/ping, backend: rec, grpc: library.v1.LibraryService/Ping}
  - {post: /v1/mtls, backend: rec, grpc: library.v1.LibraryService/Ping, policy: mtls}
`, tlsYAML, recAddr)
}

// runTLSGateway runs a gateway from yaml with Run, so that requests meet
// the real listener and its TLS, and returns its address. The cleanup
// cancels Run and waits for it to return.
func runTLSGateway(t *testing.T, yaml string) string {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "{root}", root)
	cfg, err := config.Parse([]byte(yaml), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, quietLog(), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan gateway.Listeners, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- g.Run(ctx, nil, func(l gateway.Listeners) { started <- l }) }()
	var l gateway.Listeners
	select {
	case l = <-started:
	case err := <-runErr:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(eventTimeout):
		cancel()
		t.Fatal("Run did not start listening")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventTimeout):
			t.Error("Run did not return after its context ended")
		}
	})
	return l.HTTP
}

// tlsClient trusts roots and presents cert (nil for none); h2 offers
// HTTP/2 by ALPN as well as HTTP/1.1. Its connections close with the test.
func tlsClient(t *testing.T, roots *x509.CertPool, cert *tls.Certificate, h2 bool) *http.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: roots}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: h2}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// tlsPost posts {} to https://addr+path with header, and returns the
// response with its body read, or the error.
func tlsPost(c *http.Client, addr, path string, header map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequest("POST", "https://"+addr+path, strings.NewReader(`{}`))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// TestListenerTLSProtocols: the TLS listener offers HTTP/2 by ALPN beside
// HTTP/1.1, refuses protocol versions below min_version (1.2 by default),
// and tells a plain-HTTP client it reached an HTTPS port.
func TestListenerTLSProtocols(t *testing.T) {
	_, rec := startRecorder(t)
	ca := newTLSCA(t, "test CA")
	f := writeTLSFiles(t, ca, ca.issue(t, pkix.Name{CommonName: "gateway"}, 100, false))
	addrs := map[string]string{}
	for _, min := range []string{"", "1.3"} {
		tlsYAML := fmt.Sprintf("cert_file: %s, key_file: %s", f.cert, f.key)
		if min != "" {
			tlsYAML += fmt.Sprintf(", min_version: %q", min)
		}
		addrs[min] = runTLSGateway(t, tlsGatewayConfig(rec, tlsYAML))
	}

	for _, c := range []struct {
		name      string
		h2        bool
		wantProto string
		wantALPN  string
	}{
		{"HTTP/2 by ALPN", true, "HTTP/2.0", "h2"},
		{"HTTP/1.1 for a client that offers only it", false, "HTTP/1.1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, err := tlsPost(tlsClient(t, ca.pool(), nil, c.h2), addrs[""], "/v1/ping", nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			if resp.Proto != c.wantProto {
				t.Errorf("Proto = %q, want %q", resp.Proto, c.wantProto)
			}
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != c.wantALPN {
				t.Errorf("ALPN = %+v, want %q", resp.TLS, c.wantALPN)
			}
		})
	}

	// Handshakes only: the versions a client may offer against what each
	// listener accepts.
	for _, c := range []struct {
		name          string
		listener      string // min_version
		clientMin     uint16
		clientMax     uint16
		wantVersion   uint16 // 0: refused
		wantErrSubstr string
	}{
		{"TLS 1.1 client, default minimum", "", tls.VersionTLS10, tls.VersionTLS11, 0, "protocol version not supported"},
		{"TLS 1.2 client, default minimum", "", tls.VersionTLS12, tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLS 1.3 client, default minimum", "", tls.VersionTLS13, tls.VersionTLS13, tls.VersionTLS13, ""},
		{"TLS 1.2 client, minimum 1.3", "1.3", tls.VersionTLS12, tls.VersionTLS12, 0, "protocol version not supported"},
		{"TLS 1.3 client, minimum 1.3", "1.3", tls.VersionTLS13, tls.VersionTLS13, tls.VersionTLS13, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &net.Dialer{Timeout: 5 * time.Second}
			conn, err := tls.DialWithDialer(d, "tcp", addrs[c.listener], &tls.Config{RootCAs: ca.pool(),
				MinVersion: c.clientMin, MaxVersion: c.clientMax})
			if c.wantVersion == 0 {
				if err == nil {
					v := conn.ConnectionState().Version
					conn.Close()
					t.Fatalf("handshake succeeded with %s", tls.VersionName(v))
				}
				if !strings.Contains(err.Error(), c.wantErrSubstr) {
					t.Errorf("handshake error = %v, want %q", err, c.wantErrSubstr)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			if v := conn.ConnectionState().Version; v != c.wantVersion {
				t.Errorf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(c.wantVersion))
			}
		})
	}

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		resp, err := http.Post("http://"+addrs[""]+"/v1/ping", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("status %d %q, want 400 saying the port speaks HTTPS", resp.StatusCode, body)
		}
	})
}

// TestListenerTLSCertificateReload rewrites the certificate and key files
// of a running gateway: new connections get the new certificate within a
// few seconds (the files are polled once a second), while a keep-alive
// connection opened before goes on working.
func TestListenerTLSCertificateReload(t *testing.T) {
	_, rec := startRecorder(t)
	ca := newTLSCA(t, "test CA")
	const oldSerial, newSerial = 1001, 1002
	f := writeTLSFiles(t, ca, ca.issue(t, pkix.Name{CommonName: "gateway"}, oldSerial, false))
	addr := runTLSGateway(t, tlsGatewayConfig(rec, fmt.Sprintf("cert_file: %s, key_file: %s", f.cert, f.key)))

	// reused reports whether each request went over a connection used before.
	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
	old := tlsClient(t, ca.pool(), nil, false)
	post := func(c *http.Client) (*http.Response, error) {
		req, err := http.NewRequest("POST", "https://"+addr+"/v1/ping", strings.NewReader(`{}`))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	serial := func(resp *http.Response) int64 { return resp.TLS.PeerCertificates[0].SerialNumber.Int64() }
	resp, err := post(old)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || serial(resp) != oldSerial {
		t.Fatalf("before the rotation: status %d, serial %d", resp.StatusCode, serial(resp))
	}

	// Rotate: a new key and a new certificate, written in place the way
	// many tools do (the certificate, then the key).
	next := ca.issue(t, pkix.Name{CommonName: "gateway"}, newSerial, false)
	writeFile(t, f.cert, next.certPEM)
	writeFile(t, f.key, next.keyPEM)
	rotated := time.Now()
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool()})
		if err != nil {
			// Between the two writes the files do not match; the old
			// certificate must keep serving meanwhile.
			t.Fatalf("a handshake during the rotation failed: %v", err)
		}
		got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		conn.Close()
		if got == newSerial {
			break
		}
		if got != oldSerial {
			t.Fatalf("serial %d, neither the old nor the new", got)
		}
		if time.Since(rotated) > 5*time.Second {
			t.Fatal("new connections still get the old certificate 5s after the rotation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new connections saw the new certificate %v after the rotation", time.Since(rotated).Round(time.Millisecond))

	resp, err = post(old)
	if err != nil {
		t.Fatalf("the connection opened before the rotation: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("the connection opened before the rotation: status %d", resp.StatusCode)
	}
	if len(reused) != 2 || !reused[1] || serial(resp) != oldSerial {
		t.Errorf("second request: reused %v, serial %d; want the first connection, with serial %d", reused, serial(resp), oldSerial)
	}
	resp, err = post(tlsClient(t, ca.pool(), nil, true))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || serial(resp) != newSerial {
		t.Errorf("a new client: status %d, serial %d, want 200 and %d", resp.StatusCode, serial(resp), newSerial)
	}
}

// TestListenerMutualTLS: with client_auth: require only certificates of
// the client CA get through the handshake; with verify_if_given a client
// without one is served, but a certificate of another CA is still
// refused. A verified certificate is an identity: its subject reaches the
// backend in place of whatever the client sent under that header, and it
// keys its own rate limit bucket.
func TestListenerMutualTLS(t *testing.T) {
	rs, rec := startRecorder(t)
	ca := newTLSCA(t, "test CA")
	other := newTLSCA(t, "test CA") // the same name, another key
	f := writeTLSFiles(t, ca, ca.issue(t, pkix.Name{CommonName: "gateway"}, 100, false))
	alice := pkix.Name{CommonName: "alice", Organization: []string{"Example"}}
	certs := map[string]*tls.Certificate{}
	for name, l := range map[string]tlsLeaf{
		"alice": ca.issue(t, alice, 200, true),
		"bob":   ca.issue(t, pkix.Name{CommonName: "bob", Organization: []string{"Example"}}, 201, true),
		// The same subject (and serial) as alice's, from a CA the
		// gateway does not trust.
		"mallory": other.issue(t, alice, 200, true),
		// The trusted CA's, but for servers only (no clientAuth usage).
		"server": ca.issue(t, pkix.Name{CommonName: "carol", Organization: []string{"Example"}}, 202, false),
	} {
		certs[name] = &l.pair
	}
	spoof := map[string]string{"X-Client-Cert": "CN=root,O=Example", "Grpc-Metadata-X-Client-Cert": "CN=root,O=Example"}

	type step struct {
		name    string
		cert    string            // "" presents none
		header  map[string]string // sent beside the request
		want    int               // 0: the handshake is refused
		subject string            // x-client-cert the backend gets on 200; "" none
		alert   string            // the server's alert when want is 0
	}
	for _, mode := range []struct {
		clientAuth string
		steps      []step
	}{
		{"require", []step{
			{"no certificate", "", nil, 0, "", "certificate required"},
			{"another CA's certificate with a trusted subject", "mallory", nil, 0, "", "unknown certificate authority"},
			{"a trusted CA's certificate not meant for clients", "server", nil, 0, "", "bad certificate"},
			{"a trusted certificate, the spoofed header replaced", "alice", spoof, 200, "CN=alice,O=Example", ""},
			{"the same certificate again is over its limit", "alice", nil, 429, "", ""},
			{"another certificate has its own bucket", "bob", nil, 200, "CN=bob,O=Example", ""},
		}},
		{"verify_if_given", []step{
			{"no certificate is served, the spoofed header dropped", "", spoof, 200, "", ""},
			{"another CA's certificate with a trusted subject", "mallory", nil, 0, "", "unknown certificate authority"},
			{"a trusted CA's certificate not meant for clients", "server", nil, 0, "", "bad certificate"},
			{"a trusted certificate", "alice", spoof, 200, "CN=alice,O=Example", ""},
		}},
	} {
		t.Run(mode.clientAuth, func(t *testing.T) {
			addr := runTLSGateway(t, tlsGatewayConfig(rec, fmt.Sprintf("cert_file: %s, key_file: %s, client_ca_file: %s, client_auth: %s",
				f.cert, f.key, f.ca, mode.clientAuth)))
			// Steps run in order: the rate limit remembers earlier ones.
			for _, s := range mode.steps {
				rs.mu.Lock()
				callsBefore := rs.calls
				rs.mu.Unlock()
				// A client per step: a connection carries one identity.
				resp, body, err := tlsPost(tlsClient(t, ca.pool(), certs[s.cert], true), addr, "/v1/mtls", s.header)
				rs.mu.Lock()
				calls, md := rs.calls-callsBefore, rs.md
				rs.mu.Unlock()
				if s.want == 0 {
					if err == nil {
						t.Errorf("%s: served with status %d; want the handshake refused", s.name, resp.StatusCode)
						continue
					}
					if calls != 0 {
						t.Errorf("%s: the backend was called", s.name)
					}
					// What the HTTP client says depends on when it noticed
					// (under TLS 1.3 the client's side of the handshake ends
					// before the server checks the certificate); the server's
					// alert, read from the connection, says why.
					if got := handshakeAlert(t, addr, ca.pool(), certs[s.cert]); !strings.Contains(got, s.alert) {
						t.Errorf("%s: the server's answer is %q, want the alert %q", s.name, got, s.alert)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", s.name, err)
					continue
				}
				if resp.StatusCode != s.want {
					t.Errorf("%s: status %d, want %d: %s", s.name, resp.StatusCode, s.want, body)
					continue
				}
				if s.want == 429 {
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("%s: 429 without Retry-After", s.name)
					}
					if calls != 0 {
						t.Errorf("%s: a refused request reached the backend", s.name)
					}
					continue
				}
				if calls != 1 {
					t.Errorf("%s: the backend saw %d calls, want 1", s.name, calls)
				}
				got := md.Get("x-client-cert")
				switch {
				case s.subject == "" && (len(got) > 1 || len(got) == 1 && got[0] != ""):
					// No certificate: forwarded empty, never the client's copy.
					t.Errorf("%s: x-client-cert = %q reached the backend; want it empty", s.name, got)
				case s.subject != "" && (len(got) != 1 || got[0] != s.subject):
					t.Errorf("%s: x-client-cert = %q, want [%q]", s.name, got, s.subject)
				}
			}
		})
	}
}

// handshakeAlert dials addr presenting cert (nil for none) and reads from
// the connection: a server that refuses the certificate says so with an
// alert, which the read returns. "" means the server took the certificate.
func handshakeAlert(t *testing.T, addr string, roots *x509.CertPool, cert *tls.Certificate) string {
	t.Helper()
	tc := &tls.Config{RootCAs: roots}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// An HTTP/1.1 request the server answers if it took the certificate.
	if _, err := io.WriteString(conn, "GET /v1/ping HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
		return err.Error()
	}
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		return err.Error()
	}
	return ""
}

// TestListenerTLSConfigProblems: files that cannot serve are found by
// gateway.New, so validate reports them before anything listens, each
// under the key of the tls: mapping at fault.
func TestListenerTLSConfigProblems(t *testing.T) {
	ca := newTLSCA(t, "test CA")
	a := ca.issue(t, pkix.Name{CommonName: "a"}, 1, false)
	b := ca.issue(t, pkix.Name{CommonName: "b"}, 2, false)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, path("a.pem"), a.certPEM)
	writeFile(t, path("a-key.pem"), a.keyPEM)
	writeFile(t, path("b-key.pem"), b.keyPEM)
	writeFile(t, path("ca.pem"), ca.pem())
	writeFile(t, path("half.pem"), a.certPEM[:len(a.certPEM)/2])

	for _, c := range []struct {
		name string
		yaml string
		key  string // the config key the problem is reported under
		want []string
	}{
		{"the key of another certificate",
			fmt.Sprintf("tls: {cert_file: %s, key_file: %s}", path("a.pem"), path("b-key.pem")),
			"tls", []string{"private key does not match public key", path("a.pem"), path("b-key.pem")}},
		{"a key file that does not exist",
			fmt.Sprintf("tls: {cert_file: %s, key_file: %s}", path("a.pem"), path("nope.pem")),
			"tls", []string{"key_file", "no such file"}},
		{"a half-written certificate",
			fmt.Sprintf("tls: {cert_file: %s, key_file: %s}", path("half.pem"), path("a-key.pem")),
			"tls", []string{"cert_file", "do not decode"}},
		{"client_auth require without client_ca_file",
			fmt.Sprintf("tls: {cert_file: %s, key_file: %s, client_auth: require}", path("a.pem"), path("a-key.pem")),
			"tls", []string{"client_auth require needs client_ca_file"}},
		{"min_version 1.1",
			fmt.Sprintf("tls: {cert_file: %s, key_file: %s, min_version: \"1.1\"}", path("a.pem"), path("a-key.pem")),
			"tls", []string{"min_version 1.1 is no longer safe"}},
		{"the admin listener's key of another certificate",
			fmt.Sprintf("admin: {listen: 127.0.0.1:0, tls: {cert_file: %s, key_file: %s}}", path("a.pem"), path("b-key.pem")),
			"admin.tls", []string{"private key does not match public key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("listen: 127.0.0.1:0\n"+c.yaml+"\nbackends: {}\n"), "test.yaml", builtin.Protocols().Config())
			if err != nil {
				t.Fatalf("config.Parse refused it already: %v", err)
			}
			g, err := gateway.New(context.Background(), cfg, quietLog(), observability.NewMetrics())
			if err == nil {
				g.Close()
				t.Fatal("gateway.New accepted it")
			}
			t.Logf("gateway.New: %v", err)
			// test.yaml:LINE: KEY: what is wrong.
			if re := regexp.MustCompile(`(?m)^test\.yaml:2: ` + regexp.QuoteMeta(c.key) + `: `); !re.MatchString(err.Error()) {
				t.Errorf("error %q is not reported at test.yaml:2 under %s", err, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
