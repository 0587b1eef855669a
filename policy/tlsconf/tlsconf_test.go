package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	pollInterval = 20 * time.Millisecond
	goleak.VerifyTestMain(m)
}

func TestValidate(t *testing.T) {
	ok := Options{CertFile: "c.pem", KeyFile: "k.pem"}
	with := func(f func(*Options)) Options {
		o := ok
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string // "" is valid
	}{
		{"minimal", ok, ""},
		{"min 1.2", with(func(o *Options) { o.MinVersion = "1.2" }), ""},
		{"min 1.3", with(func(o *Options) { o.MinVersion = "1.3" }), ""},
		{"client auth none", with(func(o *Options) { o.ClientAuth = "none" }), ""},
		{"require with CA", with(func(o *Options) { o.ClientAuth, o.ClientCAFile = "require", "ca.pem" }), ""},
		{"verify_if_given with CA", with(func(o *Options) { o.ClientAuth, o.ClientCAFile = "verify_if_given", "ca.pem" }), ""},
		{"CA without client auth", with(func(o *Options) { o.ClientCAFile = "ca.pem" }), ""},
		{"no cert", with(func(o *Options) { o.CertFile = "" }), "cert_file is required"},
		{"no key", with(func(o *Options) { o.KeyFile = "" }), "key_file is required"},
		{"min 1.0", with(func(o *Options) { o.MinVersion = "1.0" }), "min_version 1.0"},
		{"min 1.1", with(func(o *Options) { o.MinVersion = "1.1" }), "min_version 1.1"},
		{"min 9", with(func(o *Options) { o.MinVersion = "9" }), `min_version "9"`},
		{"min TLS1.2", with(func(o *Options) { o.MinVersion = "TLS1.2" }), "min_version"},
		{"require without CA", with(func(o *Options) { o.ClientAuth = "require" }), "client_auth require needs client_ca_file"},
		{"verify_if_given without CA", with(func(o *Options) { o.ClientAuth = "verify_if_given" }), "client_auth verify_if_given needs client_ca_file"},
		{"unknown client auth", with(func(o *Options) { o.ClientAuth, o.ClientCAFile = "optional", "ca.pem" }), `client_auth "optional"`},
		{"client auth case", with(func(o *Options) { o.ClientAuth, o.ClientCAFile = "Require", "ca.pem" }), `client_auth "Require"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Validate reads nothing: the files above do not exist.
	if _, err := Server(Options{CertFile: "c.pem", KeyFile: "k.pem", MinVersion: "1.1"}); err == nil || !strings.Contains(err.Error(), "min_version") {
		t.Errorf("Server with a bad option = %v", err)
	}
}

func TestServeHTTP2AndHTTP1(t *testing.T) {
	ca := newCA(t, "server CA")
	f := newFiles(t)
	f.writeLeaf(t, ca.serverLeaf(t))
	r := startReloader(t, f.options(nil))
	// Two listeners from one Reloader, as the gateway and admin ports may be.
	for _, url := range []string{serve(t, r), serve(t, r)} {
		if body, _ := mustGet(t, newClient(t, clientOpts{roots: ca.pool()}), url); body != "HTTP/2.0|" {
			t.Errorf("HTTP/2 client got %q", body)
		}
		if body, _ := mustGet(t, newClient(t, clientOpts{roots: ca.pool(), http1Only: true}), url); body != "HTTP/1.1|" {
			t.Errorf("HTTP/1.1 client got %q", body)
		}
	}
}

func TestMinVersion(t *testing.T) {
	ca := newCA(t, "server CA")
	f := newFiles(t)
	f.writeLeaf(t, ca.serverLeaf(t))
	for _, tc := range []struct {
		min      string
		client   uint16
		accepted bool
	}{
		{"", tls.VersionTLS11, false},
		{"", tls.VersionTLS10, false},
		{"1.2", tls.VersionTLS11, false},
		{"1.2", tls.VersionTLS12, true},
		{"1.2", tls.VersionTLS13, true},
		{"1.3", tls.VersionTLS12, false},
		{"1.3", tls.VersionTLS13, true},
	} {
		o := f.options(nil)
		o.MinVersion = tc.min
		url := serve(t, startReloader(t, o))
		conn, err := tls.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/"), &tls.Config{
			RootCAs:    ca.pool(),
			MinVersion: tls.VersionTLS10,
			MaxVersion: tc.client,
		})
		if err == nil {
			err = conn.Handshake()
			conn.Close()
		}
		if accepted := err == nil; accepted != tc.accepted {
			t.Errorf("min_version %q, client up to %s: accepted %v (%v)", tc.min, tls.VersionName(tc.client), accepted, err)
		} else if err != nil && !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("min_version %q, client up to %s: refused for another reason: %v", tc.min, tls.VersionName(tc.client), err)
		}
	}
}

// A rotated certificate is what new connections see at once after Reload,
// while a keep-alive connection opened before goes on being served.
func TestRotateKeepsOpenConnections(t *testing.T) {
	ca := newCA(t, "server CA")
	f := newFiles(t)
	old := ca.serverLeaf(t)
	f.writeLeaf(t, old)
	r := startReloader(t, f.options(nil))
	url := serve(t, r)

	kept := newClient(t, clientOpts{roots: ca.pool(), http1Only: true})
	if _, cert := mustGet(t, kept, url); cert.SerialNumber.Cmp(old.cert.SerialNumber) != 0 {
		t.Fatal("first connection did not see the first certificate")
	}

	next := ca.serverLeaf(t)
	f.writeLeaf(t, next)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.Certificate().SerialNumber; got.Cmp(next.cert.SerialNumber) != 0 {
		t.Fatalf("Certificate() serial %x after Reload, want %x", got, next.cert.SerialNumber)
	}
	if got := serialOf(t, ca.pool(), url); got.Cmp(next.cert.SerialNumber) != 0 {
		t.Errorf("new connection sees serial %x, want the new %x", got, next.cert.SerialNumber)
	}

	var reused bool
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := kept.Do(req)
	if err != nil {
		t.Fatalf("kept-alive connection dropped: %v", err)
	}
	resp.Body.Close()
	if !reused {
		t.Error("the second request did not reuse the kept-alive connection")
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(old.cert.SerialNumber) != 0 {
		t.Errorf("kept-alive connection shows serial %x, want the old %x", got, old.cert.SerialNumber)
	}
}

// Without Reload, the poller finds each way of replacing the files.
func TestRotateDetected(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*testing.T, files, leaf)
	}{
		{"in place", func(t *testing.T, f files, l leaf) { f.writeLeaf(t, l) }},
		{"by rename", func(t *testing.T, f files, l leaf) {
			writeByRename(t, f.cert, l.certPEM)
			writeByRename(t, f.key, l.keyPEM)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newCA(t, "server CA")
			f := newFiles(t)
			f.writeLeaf(t, ca.serverLeaf(t))
			r := startReloader(t, f.options(nil))
			url := serve(t, r)

			next := ca.serverLeaf(t)
			tc.write(t, f, next)
			waitFor(t, "the new certificate", func() bool {
				return r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) == 0
			})
			if got := serialOf(t, ca.pool(), url); got.Cmp(next.cert.SerialNumber) != 0 {
				t.Errorf("new connection sees serial %x, want %x", got, next.cert.SerialNumber)
			}
		})
	}
}

// Kubernetes mounts a secret as symlinks into a ..data link it swaps by
// rename; the file names themselves never change.
func TestRotateKubernetesSymlinkSwap(t *testing.T) {
	ca := newCA(t, "server CA")
	dir := t.TempDir()
	version := func(name string, l leaf) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeInPlace(t, filepath.Join(d, "tls.crt"), l.certPEM)
		writeInPlace(t, filepath.Join(d, "tls.key"), l.keyPEM)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", ca.serverLeaf(t))
	for _, name := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	r := startReloader(t, Options{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")})
	url := serve(t, r)

	next := ca.serverLeaf(t)
	version("..v2", next)
	waitFor(t, "the new certificate", func() bool {
		return r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) == 0
	})
	if got := serialOf(t, ca.pool(), url); got.Cmp(next.cert.SerialNumber) != 0 {
		t.Errorf("new connection sees serial %x, want %x", got, next.cert.SerialNumber)
	}
}

func TestMismatchedKey(t *testing.T) {
	ca := newCA(t, "server CA")
	first, other := ca.serverLeaf(t), ca.serverLeaf(t)

	f := newFiles(t)
	writeInPlace(t, f.cert, first.certPEM)
	writeInPlace(t, f.key, other.keyPEM)
	if _, err := Server(f.options(nil)); err == nil || !strings.Contains(err.Error(), "private key does not match") || !strings.Contains(err.Error(), f.key) {
		t.Fatalf("Server with a key of another certificate = %v", err)
	}

	writeInPlace(t, f.key, first.keyPEM)
	r := startReloader(t, f.options(nil))
	url := serve(t, r)
	writeByRename(t, f.key, other.keyPEM)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Fatalf("Reload to a mismatched key = %v", err)
	}
	if r.Certificate().SerialNumber.Cmp(first.cert.SerialNumber) != 0 {
		t.Fatal("Certificate() changed after a failed Reload")
	}
	if got := serialOf(t, ca.pool(), url); got.Cmp(first.cert.SerialNumber) != 0 {
		t.Fatalf("new connection sees serial %x after a failed reload, want the old %x", got, first.cert.SerialNumber)
	}
}

// A bad change found by the poller is logged once, however long it stays.
func TestBadChangeLoggedOnce(t *testing.T) {
	ca := newCA(t, "server CA")
	first, next := ca.serverLeaf(t), ca.serverLeaf(t)
	f := newFiles(t)
	f.writeLeaf(t, first)
	rec, log := newRecorder()
	r := startReloader(t, f.options(log))
	url := serve(t, r)
	errorsLogged := func() int { return rec.count(slog.LevelError, "private key does not match") }

	// Renames, so that the poller never sees a file half-written.
	writeByRename(t, f.key, next.keyPEM)
	waitFor(t, "the error to be logged", func() bool { return errorsLogged() > 0 })
	waitPolls(t, r, 10)
	if n := rec.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d errors logged for one bad change, want 1", n)
	}
	if got := serialOf(t, ca.pool(), url); got.Cmp(first.cert.SerialNumber) != 0 {
		t.Errorf("new connection sees serial %x while the key does not match, want the old %x", got, first.cert.SerialNumber)
	}

	// Completing the rotation mends it; the next bad change is logged too.
	writeByRename(t, f.cert, next.certPEM)
	waitFor(t, "the new certificate", func() bool {
		return r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) == 0
	})
	writeByRename(t, f.key, first.keyPEM)
	waitFor(t, "the second error", func() bool { return errorsLogged() == 2 })
	waitPolls(t, r, 5)
	if n := rec.count(slog.LevelError, ""); n != 2 {
		t.Errorf("%d errors logged for two bad changes, want 2", n)
	}
}

// A rewrite that keeps size, inode and modification time (within one tick of
// the kernel's clock, or with times set back) is found by the periodic
// re-read.
func TestRereadFindsRewriteStatMisses(t *testing.T) {
	manualPolls(t)
	ca := newCA(t, "server CA")
	first := ca.serverLeaf(t)
	next := ca.serverLeaf(t)
	for i := 0; len(next.certPEM) != len(first.certPEM); i++ {
		if i == 100 {
			t.Fatal("no certificate of the same size")
		}
		next = ca.serverLeaf(t)
	}
	f := newFiles(t)
	f.writeLeaf(t, first)
	r := startReloader(t, f.options(nil))
	before := map[string]os.FileInfo{}
	for _, p := range []string{f.cert, f.key} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = fi
	}

	f.writeLeaf(t, next)
	for p, fi := range before {
		if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	r.check()
	if r.Certificate().SerialNumber.Cmp(first.cert.SerialNumber) != 0 {
		t.Skip("stat saw the rewrite; nothing left to test")
	}
	for range rereadPolls {
		r.check()
	}
	if r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) != 0 {
		t.Errorf("a rewrite stat cannot see was not loaded after %d polls", rereadPolls)
	}
}

// writeNewer rewrites path in place and moves its modification time on by a
// second, so that stat sees the change on kernels whose file times are
// coarser than the test's pace.
func writeNewer(t *testing.T, path string, data []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeInPlace(t, path, data)
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// manualPolls stops the poller for the test's Reloaders: the test calls
// check itself.
func manualPolls(t *testing.T) {
	old := pollInterval
	pollInterval = time.Hour
	t.Cleanup(func() { pollInterval = old })
}

// The poll steps by hand: a change that does not load is logged only once
// it has stayed for a poll, so the moment between writing a new certificate
// and its key is no error.
func TestCheckWaitsAPollBeforeLogging(t *testing.T) {
	manualPolls(t)
	ca := newCA(t, "server CA")
	first, next, other := ca.serverLeaf(t), ca.serverLeaf(t), ca.serverLeaf(t)
	f := newFiles(t)
	f.writeLeaf(t, first)
	rec, log := newRecorder()
	r := startReloader(t, f.options(log))
	errorsLogged := func() int { return rec.count(slog.LevelError, "") }

	writeNewer(t, f.cert, next.certPEM)
	r.check()
	writeNewer(t, f.key, next.keyPEM)
	r.check()
	if n := errorsLogged(); n != 0 {
		t.Errorf("%d errors logged for a rotation checked between its two writes", n)
	}
	if r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) != 0 {
		t.Fatal("the rotation was not loaded")
	}

	writeNewer(t, f.key, other.keyPEM)
	r.check()
	if n := errorsLogged(); n != 0 {
		t.Errorf("%d errors logged at once", n)
	}
	for range 3 {
		r.check()
	}
	if n := errorsLogged(); n != 1 {
		t.Errorf("%d errors logged for a bad change that stayed, want 1", n)
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of a mismatched key succeeded")
	}
	r.check()
	if n := errorsLogged(); n != 1 {
		t.Errorf("%d errors logged after Reload returned the same one, want 1", n)
	}
	if r.Certificate().SerialNumber.Cmp(next.cert.SerialNumber) != 0 {
		t.Error("a bad change replaced the certificate")
	}
}

func TestTruncatedFiles(t *testing.T) {
	ca := newCA(t, "server CA")
	intermediate := newCA(t, "intermediate")
	first, next := ca.serverLeaf(t), ca.serverLeaf(t)
	half := func(b []byte) []byte { return b[:len(b)/2] }

	for _, tc := range []struct {
		name      string
		cert, key []byte
	}{
		{"half a certificate", half(first.certPEM), first.keyPEM},
		{"half a key", first.certPEM, half(first.keyPEM)},
		{"empty certificate", nil, first.keyPEM},
		{"chain with half an intermediate", append(append([]byte{}, first.certPEM...), half(intermediate.pem)...), first.keyPEM},
		{"not PEM", []byte("hello"), first.keyPEM},
	} {
		f := newFiles(t)
		writeInPlace(t, f.cert, tc.cert)
		writeInPlace(t, f.key, tc.key)
		if _, err := Server(f.options(nil)); err == nil {
			t.Errorf("%s: Server succeeded", tc.name)
		} else if !strings.Contains(err.Error(), "cert_file") && !strings.Contains(err.Error(), "key_file") {
			t.Errorf("%s: error %q names no file", tc.name, err)
		}
	}

	f := newFiles(t)
	f.writeLeaf(t, first)
	if _, err := Server(Options{CertFile: f.cert, KeyFile: filepath.Join(f.dir, "missing.key")}); err == nil || !strings.Contains(err.Error(), "key_file") {
		t.Errorf("Server with a missing key = %v", err)
	}
	r := startReloader(t, f.options(nil))
	url := serve(t, r)
	for _, write := range []func(){
		func() { writeInPlace(t, f.cert, half(next.certPEM)); writeInPlace(t, f.key, next.keyPEM) },
		func() { writeInPlace(t, f.cert, next.certPEM); writeInPlace(t, f.key, half(next.keyPEM)) },
		func() { writeInPlace(t, f.cert, nil) },
		func() { os.Remove(f.key) },
	} {
		write()
		if err := r.Reload(); err == nil {
			t.Error("Reload of a half-written file succeeded")
		}
		if got := serialOf(t, ca.pool(), url); got.Cmp(first.cert.SerialNumber) != 0 {
			t.Fatalf("new connection sees serial %x after a failed reload, want the old %x", got, first.cert.SerialNumber)
		}
	}
	f.writeLeaf(t, next)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, ca.pool(), url); got.Cmp(next.cert.SerialNumber) != 0 {
		t.Errorf("new connection sees serial %x once the files are whole, want %x", got, next.cert.SerialNumber)
	}
}

// An expired certificate is loaded (whether to serve it is the operator's
// call) and a warning is logged.
func TestExpiredCertificate(t *testing.T) {
	ca := newCA(t, "server CA")
	expired := ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		NotBefore:   time.Now().Add(-48 * time.Hour),
		NotAfter:    time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	f := newFiles(t)
	f.writeLeaf(t, expired)
	rec, log := newRecorder()
	r := startReloader(t, f.options(log))
	if r.Certificate().SerialNumber.Cmp(expired.cert.SerialNumber) != 0 {
		t.Error("the expired certificate is not the one in use")
	}
	if rec.count(slog.LevelWarn, "expired") != 1 {
		t.Error("no warning logged for an expired certificate")
	}
}

func clientAuthSetup(t *testing.T, mode string) (url string, serverCA, clientCA, otherCA *testCA, f files, r *Reloader) {
	serverCA, clientCA, otherCA = newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "other CA")
	f = newFiles(t)
	f.writeLeaf(t, serverCA.serverLeaf(t))
	writeInPlace(t, f.ca, clientCA.pem)
	o := f.options(nil)
	o.ClientAuth, o.ClientCAFile = mode, f.ca
	r = startReloader(t, o)
	return serve(t, r), serverCA, clientCA, otherCA, f, r
}

var alice = pkix.Name{CommonName: "alice", Organization: []string{"Example"}, OrganizationalUnit: []string{"Payments"}}

func TestClientAuthRequire(t *testing.T) {
	url, serverCA, clientCA, otherCA, _, _ := clientAuthSetup(t, "require")
	roots := serverCA.pool()

	for _, http1 := range []bool{false, true} {
		if _, _, err := get(newClient(t, clientOpts{roots: roots, http1Only: http1}), url); err == nil {
			t.Errorf("http1Only=%v: served without a client certificate", http1)
		} else {
			t.Logf("http1Only=%v, no certificate: %v", http1, err)
		}
		stranger := otherCA.clientLeaf(t, alice).tlsCert(t)
		if _, _, err := get(newClient(t, clientOpts{roots: roots, cert: &stranger, http1Only: http1}), url); err == nil {
			t.Errorf("http1Only=%v: served a client certificate from another CA", http1)
		} else {
			t.Logf("http1Only=%v, certificate from another CA: %v", http1, err)
		}
		good := clientCA.clientLeaf(t, alice).tlsCert(t)
		body, _ := mustGet(t, newClient(t, clientOpts{roots: roots, cert: &good, http1Only: http1}), url)
		_, subject, _ := strings.Cut(body, "|")
		if want := "CN=alice,OU=Payments,O=Example"; subject != want || subject != alice.String() {
			t.Errorf("http1Only=%v: ClientSubject = %q, want %q", http1, subject, want)
		}
	}
}

func TestClientAuthVerifyIfGiven(t *testing.T) {
	url, serverCA, clientCA, otherCA, _, _ := clientAuthSetup(t, "verify_if_given")
	roots := serverCA.pool()

	if body, _ := mustGet(t, newClient(t, clientOpts{roots: roots}), url); body != "HTTP/2.0|" {
		t.Errorf("without a client certificate: %q, want no subject", body)
	}
	stranger := otherCA.clientLeaf(t, alice).tlsCert(t)
	if _, _, err := get(newClient(t, clientOpts{roots: roots, cert: &stranger}), url); err == nil {
		t.Error("served a client certificate from another CA")
	}
	good := clientCA.clientLeaf(t, alice).tlsCert(t)
	if body, _ := mustGet(t, newClient(t, clientOpts{roots: roots, cert: &good}), url); body != "HTTP/2.0|"+alice.String() {
		t.Errorf("with a good certificate: %q", body)
	}
}

// The client CA file is watched like the certificate: after it is replaced,
// new handshakes verify against the new bundle.
func TestClientCARotation(t *testing.T) {
	url, serverCA, clientCA, otherCA, f, r := clientAuthSetup(t, "require")
	roots := serverCA.pool()
	fromOld := clientCA.clientLeaf(t, alice).tlsCert(t)
	fromNew := otherCA.clientLeaf(t, alice).tlsCert(t)
	accepted := func(cert *tls.Certificate) bool {
		_, _, err := get(newClient(t, clientOpts{roots: roots, cert: cert}), url)
		return err == nil
	}
	if !accepted(&fromOld) || accepted(&fromNew) {
		t.Fatal("before rotation: want the old CA's client only")
	}

	writeByRename(t, f.ca, otherCA.pem)
	waitFor(t, "the new client CA", func() bool { return accepted(&fromNew) })
	if accepted(&fromOld) {
		t.Error("after rotation: the old CA's client is still accepted")
	}

	// A bundle of both, then a half-written bundle: the whole one stays.
	writeInPlace(t, f.ca, append(append([]byte{}, clientCA.pem...), otherCA.pem...))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if !accepted(&fromOld) || !accepted(&fromNew) {
		t.Error("with a bundle of both CAs: want both clients")
	}
	writeInPlace(t, f.ca, append(append([]byte{}, clientCA.pem...), otherCA.pem[:len(otherCA.pem)/2]...))
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "client_ca_file") {
		t.Errorf("Reload of a half-written CA bundle = %v", err)
	}
	if !accepted(&fromNew) {
		t.Error("a half-written CA bundle dropped a CA")
	}
}

func TestClose(t *testing.T) {
	ca := newCA(t, "server CA")
	f := newFiles(t)
	first := ca.serverLeaf(t)
	f.writeLeaf(t, first)
	r, err := Server(f.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	f.writeLeaf(t, ca.serverLeaf(t))
	// Close waited for the poller to end: no check can see the new files.
	select {
	case <-r.done:
	default:
		t.Fatal("the poller still runs after Close")
	}
	if got := serialOf(t, ca.pool(), url); got.Cmp(first.cert.SerialNumber) != 0 {
		t.Error("files are still watched after Close")
	}
}

func TestClientSubject(t *testing.T) {
	if got := ClientSubject(nil); got != "" {
		t.Errorf("ClientSubject(nil) = %q", got)
	}
	ca := newCA(t, "client CA")
	l := ca.clientLeaf(t, alice)
	// Presented but not verified (RequestClientCert) is no subject.
	if got := ClientSubject(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{l.cert}}); got != "" {
		t.Errorf("unverified certificate: ClientSubject = %q", got)
	}
	cs := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{l.cert, ca.cert}}}
	if got := ClientSubject(cs); got != "CN=alice,OU=Payments,O=Example" {
		t.Errorf("ClientSubject = %q", got)
	}
}

// waitPolls waits until the poller has checked the files n more times.
func waitPolls(t *testing.T, r *Reloader, n int64) {
	t.Helper()
	start := r.polls.Load()
	waitFor(t, fmt.Sprintf("%d polls", n), func() bool { return r.polls.Load() >= start+n })
}
