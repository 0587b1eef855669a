// Package tlsconf serves the gateway's listener over TLS with certificates
// that are reloaded from disk while the gateway runs.
//
// Changes are found by polling: once a second the files are stat'ed (through
// symlinks: device, inode, size, modification time) and re-read only when
// that changed. Polling rather than fsnotify because:
//   - os.Stat follows symlinks, so a Kubernetes secret's ..data swap, a
//     certbot live/ link and a rename over the file are all seen without
//     working out which directories to watch, and rewatching them when they
//     are replaced;
//   - it works where inotify does not (NFS and other network or FUSE
//     mounts) and needs no inotify watches, which are a per-user limit;
//   - a write in progress shows up as one change to retry on the next tick
//     rather than a burst of events to debounce.
//
// The price is up to a second before handshakes see a new certificate;
// Reload forces a check at once. The check runs on a ticker, not on the
// handshake, so that no client's handshake waits on file I/O. File times
// are as coarse as the kernel's clock tick, so a same-size rewrite within
// one tick of the last can keep the stamps; the files are therefore also
// re-read once a minute whatever stat says.
package tlsconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pollInterval is how often the files are checked; tests shorten it.
var pollInterval = time.Second

// rereadPolls is how many polls may pass without reading the files.
const rereadPolls = 60

// Options configures the listener's TLS. The fields mirror config.ListenerTLS.
type Options struct {
	CertFile, KeyFile string // PEM; required
	ClientCAFile      string // optional: PEM bundle of CAs for client certificates
	ClientAuth        string // "none" (default), "verify_if_given", "require"; the last two need ClientCAFile
	MinVersion        string // "1.2" (default) or "1.3"
	Log               *slog.Logger
}

// Validate checks the options without reading any file. Errors name the
// config field.
func (o Options) Validate() error {
	var errs []error
	if o.CertFile == "" {
		errs = append(errs, errors.New("cert_file is required"))
	}
	if o.KeyFile == "" {
		errs = append(errs, errors.New("key_file is required"))
	}
	if mode, err := clientAuthMode(o.ClientAuth); err != nil {
		errs = append(errs, err)
	} else if mode != tls.NoClientCert && o.ClientCAFile == "" {
		errs = append(errs, fmt.Errorf("client_auth %s needs client_ca_file", o.ClientAuth))
	}
	if _, err := minVersion(o.MinVersion); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func clientAuthMode(s string) (tls.ClientAuthType, error) {
	switch s {
	case "", "none":
		return tls.NoClientCert, nil
	case "verify_if_given":
		return tls.VerifyClientCertIfGiven, nil
	case "require":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("client_auth %q is not none, verify_if_given or require", s)
}

func minVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	case "1.0", "1.1":
		return 0, fmt.Errorf("min_version %s is no longer safe; use 1.2 or 1.3", s)
	}
	return 0, fmt.Errorf("min_version %q is not 1.2 or 1.3", s)
}

// Reloader holds the listener's TLS state and swaps it when the files
// change.
type Reloader struct {
	opts       Options
	log        *slog.Logger
	clientAuth tls.ClientAuthType
	minVersion uint16
	config     *tls.Config
	current    atomic.Pointer[state]
	// polls counts the poller's checks, so that tests can wait for some
	// to pass instead of sleeping.
	polls atomic.Int64

	// mu serializes checks (the poller and Reload) and guards the fields
	// below.
	mu      sync.Mutex
	seen    stamps // the files as last checked, loaded or not
	unread  int    // polls since the files were last read
	failure error  // why the files as last read do not load, or nil
	logged  bool   // failure has been logged

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// state is one loaded set of files; handshakes use it whole.
type state struct {
	cert   tls.Certificate
	leaf   *x509.Certificate
	config *tls.Config
	sum    [sha256.Size]byte // of the files' bytes: a touch is no change
}

// Server loads the files and returns a server config (ALPN "h2" and
// "http/1.1", so net/http serves HTTP/2) whose certificate and client CA
// pool are reloaded when the files change on disk, without a restart and
// without dropping connections: handshakes after a change use the new files.
// A change that does not load (a half-written file, a key that does not
// match) keeps the old certificate and is logged once per change, after it
// has stayed so for one poll (a rotation writes the certificate and the key
// one after the other, and the moment between is no error).
func Server(o Options) (*Reloader, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	r := &Reloader{
		opts: o,
		log:  o.Log,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.clientAuth, _ = clientAuthMode(o.ClientAuth)
	r.minVersion, _ = minVersion(o.MinVersion)
	if r.clientAuth == tls.NoClientCert && o.ClientCAFile != "" {
		r.log.Warn("tls: client_ca_file is ignored while client_auth is none", slog.String("client_ca_file", o.ClientCAFile))
	}

	r.seen = r.stat()
	st, err := r.load()
	if err != nil {
		return nil, err
	}
	r.current.Store(st)
	r.logLoaded(st, "tls: certificate loaded")

	r.config = &tls.Config{
		MinVersion: r.minVersion,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &r.current.Load().cert, nil
		},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current.Load().config, nil
		},
		ClientAuth: r.clientAuth,
		// The pool in use is in the config GetConfigForClient returns. An
		// empty one here fails closed should that hook ever be bypassed:
		// a nil pool would verify clients against the system roots.
		ClientCAs: x509.NewCertPool(),
	}
	go r.poll()
	return r, nil
}

// Config is a TLS config for one listener. Its GetConfigForClient hands
// each handshake the files last loaded; keep it when cloning the config.
// Each call returns a new config: net/http writes to the one it is given,
// so listeners must not share one.
func (r *Reloader) Config() *tls.Config { return r.config.Clone() }

// Certificate is the leaf certificate in use.
func (r *Reloader) Certificate() *x509.Certificate { return r.current.Load().leaf }

// Close stops watching the files. The config keeps serving the last
// certificate loaded.
func (r *Reloader) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
	})
	return nil
}

// Reload re-reads the files now, changed or not. On error the certificate
// in use is kept; the error is returned rather than logged.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen, r.unread = r.stat(), 0
	err := r.apply()
	r.failure, r.logged = err, err != nil
	return err
}

func (r *Reloader) poll() {
	defer close(r.done)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.check()
			r.polls.Add(1)
		}
	}
}

// check reloads the files if they changed since the last check. A failure
// is logged once the files have stayed the same for a poll, and retried
// every poll until they load.
func (r *Reloader) check() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.stat()
	changed := !now.equal(r.seen)
	if r.unread++; !changed && r.failure == nil && r.unread < rereadPolls {
		return
	}
	r.seen, r.unread = now, 0
	err := r.apply()
	switch {
	case err == nil:
		r.failure = nil
	case changed || r.failure == nil:
		r.failure, r.logged = err, false
	case !r.logged:
		r.log.Error("tls: files changed but do not load; still serving the previous certificate", slog.Any("error", err))
		r.logged = true
	}
}

// apply loads the files and, if they load and differ from those in use,
// swaps them in.
func (r *Reloader) apply() error {
	st, err := r.load()
	if err != nil {
		return err
	}
	if st.sum == r.current.Load().sum {
		return nil
	}
	r.current.Store(st)
	r.logLoaded(st, "tls: certificate reloaded")
	return nil
}

func (r *Reloader) logLoaded(st *state, msg string) {
	attrs := []any{
		slog.String("subject", st.leaf.Subject.String()),
		slog.String("serial", st.leaf.SerialNumber.Text(16)),
		slog.Time("not_after", st.leaf.NotAfter),
	}
	r.log.Info(msg, attrs...)
	// An expired certificate is still served: refusing to start, or keeping
	// an older one, is a choice the operator makes, not the gateway.
	switch now := time.Now(); {
	case now.After(st.leaf.NotAfter):
		r.log.Warn("tls: certificate has expired; clients will refuse it", attrs...)
	case now.Before(st.leaf.NotBefore):
		r.log.Warn("tls: certificate is not valid yet; clients will refuse it", append(attrs, slog.Time("not_before", st.leaf.NotBefore))...)
	}
}

// load reads and checks every file; it changes nothing.
func (r *Reloader) load() (*state, error) {
	o := r.opts
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return nil, fmt.Errorf("tls: cert_file: %w", err)
	}
	keyPEM, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: key_file: %w", err)
	}
	if err := wholePEM(certPEM); err != nil {
		return nil, fmt.Errorf("tls: cert_file %s: %w", o.CertFile, err)
	}
	if err := wholePEM(keyPEM); err != nil {
		return nil, fmt.Errorf("tls: key_file %s: %w", o.KeyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: cert_file %s with key_file %s: %w", o.CertFile, o.KeyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil { // GODEBUG x509keypairleaf=0
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: cert_file %s: %w", o.CertFile, err)
		}
		cert.Leaf = leaf
	}

	h := sha256.New()
	for _, b := range [][]byte{certPEM, keyPEM} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var pool *x509.CertPool
	if r.clientAuth != tls.NoClientCert {
		caPEM, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file: %w", err)
		}
		if pool, err = parsePool(caPEM); err != nil {
			return nil, fmt.Errorf("tls: client_ca_file %s: %w", o.ClientCAFile, err)
		}
		h.Write(caPEM)
	}

	st := &state{cert: cert, leaf: leaf}
	h.Sum(st.sum[:0])
	st.config = &tls.Config{
		MinVersion:   r.minVersion,
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{cert},
		ClientAuth:   r.clientAuth,
		ClientCAs:    pool,
	}
	return st, nil
}

var pemBegin = []byte("-----BEGIN")

// wholePEM refuses a file with a PEM block that does not decode: a file
// caught half-written ends in one. tls.X509KeyPair and
// CertPool.AppendCertsFromPEM skip such blocks, which would drop an
// intermediate from a chain or a CA from a bundle without a word.
func wholePEM(data []byte) error {
	blocks := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks++
	}
	if begins := bytes.Count(data, pemBegin); blocks != begins {
		return fmt.Errorf("%d of %d PEM blocks do not decode (truncated or half-written?)", begins-blocks, begins)
	}
	if blocks == 0 {
		return errors.New("no PEM data")
	}
	return nil
}

func parsePool(data []byte) (*x509.CertPool, error) {
	if err := wholePEM(data); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block; want only CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	return pool, nil
}

// ClientSubject is the verified client certificate's subject (RFC 2253 form,
// from pkix.Name.String), "" if none was verified.
func ClientSubject(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return cs.VerifiedChains[0][0].Subject.String()
}

// stamps are what stat says of the files, in order cert, key, client CA.
type stamps [3]stamp

type stamp struct {
	info os.FileInfo
	err  string
}

func (r *Reloader) stat() stamps {
	var s stamps
	paths := [3]string{r.opts.CertFile, r.opts.KeyFile, ""}
	if r.clientAuth != tls.NoClientCert {
		paths[2] = r.opts.ClientCAFile
	}
	for i, p := range paths {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			s[i].err = err.Error()
			continue
		}
		s[i].info = fi
	}
	return s
}

func (s stamps) equal(t stamps) bool {
	for i := range s {
		a, b := s[i], t[i]
		if a.err != b.err || (a.info == nil) != (b.info == nil) {
			return false
		}
		if a.info == nil {
			continue
		}
		if !os.SameFile(a.info, b.info) || a.info.Size() != b.info.Size() || !a.info.ModTime().Equal(b.info.ModTime()) {
			return false
		}
	}
	return true
}
