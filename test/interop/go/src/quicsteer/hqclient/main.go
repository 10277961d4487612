// Command hqclient is AspNetQuicSteer's quic-go (0.29, Debian) hq-interop client: HTTP/0.9 over QUIC with
// ALPN "hq-interop", as the QUIC interop runner's clients speak it. Each request is one client-initiated
// bidirectional stream carrying "GET /path\r\n" followed by FIN; the response is every byte the server
// sends on that stream up to its FIN. A stream reset, a connection error or the timeout fails the run.
//
//	hqclient [flags] https://127.0.0.1:4433/a https://127.0.0.1:4433/b ...
//
// Output (stdout):
//
//	FILE /a bytes=1024 conn=1               one line per completed download (in completion order)
//	HQ_OK files=2 bytes=2048 ms=35 connections=1 retries=0 resumed=0 zerortt=0 keyupdates_local=0 keyupdates_remote=0 version=0x00000001 alpn=hq-interop cipher=TLS_AES_128_GCM_SHA256
//
// or, on any failure, "HQ_FAILED <error>" (same fields are not printed) and exit code 1. Bad flags: exit 2.
// Exit code 0 only when every URL was downloaded completely (response stream ended with FIN).
//
// Modes (-mode): multiplex (default: every request at once on one connection, bounded by -parallel),
// sequential (one connection, one request at a time), multiconnect (a new connection per URL, one after
// the other), resumption (first URL on one connection, wait for a session ticket, then the rest on a second
// connection that must resume), zerortt (like resumption, but the second connection sends its requests in
// 0-RTT before the handshake completes).
//
// SSLKEYLOGFILE, when set, receives the TLS secrets (NSS key log format, appended).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	_ "unsafe" // go:linkname, for the key update interval

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/logging"
)

const alpn = "hq-interop"

// keyUpdateInterval is quic-go 0.29's internal handshake.KeyUpdateInterval: a connection initiates a key
// update after sending or receiving that many packets with the current keys (default 100000). quic-go's own
// interop client sets it to 100 for the "keyupdate" test case; the package is internal, hence linkname.
//
//go:linkname keyUpdateInterval github.com/lucas-clemente/quic-go/internal/handshake.KeyUpdateInterval
var keyUpdateInterval uint64

// stats aggregates what the tracer sees over every connection of the run.
type stats struct {
	mu               sync.Mutex
	retries          int
	keyUpdatesLocal  int
	keyUpdatesRemote int
	version          logging.VersionNumber
}

type connTracer struct {
	logging.NullConnectionTracer
	s *stats
}

func (t connTracer) ReceivedRetry(*logging.Header) {
	t.s.mu.Lock()
	t.s.retries++
	t.s.mu.Unlock()
}

func (t connTracer) NegotiatedVersion(chosen logging.VersionNumber, _, _ []logging.VersionNumber) {
	t.s.mu.Lock()
	t.s.version = chosen
	t.s.mu.Unlock()
}

func (t connTracer) UpdatedKey(_ logging.KeyPhase, remote bool) {
	t.s.mu.Lock()
	if remote {
		t.s.keyUpdatesRemote++
	} else {
		t.s.keyUpdatesLocal++
	}
	t.s.mu.Unlock()
}

func (s *stats) TracerForConnection(context.Context, logging.Perspective, logging.ConnectionID) logging.ConnectionTracer {
	return connTracer{s: s}
}
func (*stats) SentPacket(net.Addr, *logging.Header, logging.ByteCount, []logging.Frame) {}
func (*stats) DroppedPacket(net.Addr, logging.PacketType, logging.ByteCount, logging.PacketDropReason) {
}

// ticketCache signals every session ticket the server sends.
type ticketCache struct {
	tls.ClientSessionCache
	put chan struct{}
}

func (c *ticketCache) Put(key string, cs *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, cs)
	select {
	case c.put <- struct{}{}:
	default:
	}
}

type client struct {
	addr     string
	tlsConf  *tls.Config
	quicConf *quic.Config
	outDir   string
	verbose  bool

	mu        sync.Mutex
	files     int
	bytes     int64
	resumed   int
	zeroRTT   int
	cipher    uint16
	alpn      string
	connCount int
}

func (c *client) logf(format string, args ...interface{}) {
	if c.verbose {
		fmt.Fprintf(os.Stderr, "hqclient: "+format+"\n", args...)
	}
}

// dial opens one connection. With early (0-RTT), it returns as soon as requests may be sent in 0-RTT;
// otherwise it dials without 0-RTT and returns after the handshake completed.
func (c *client) dial(ctx context.Context, early bool) (quic.Connection, int, error) {
	var conn quic.Connection
	var err error
	if early {
		conn, err = quic.DialAddrEarlyContext(ctx, c.addr, c.tlsConf, c.quicConf)
	} else {
		conn, err = quic.DialAddrContext(ctx, c.addr, c.tlsConf, c.quicConf)
	}
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	c.connCount++
	n := c.connCount
	c.mu.Unlock()
	return conn, n, nil
}

var closedChannel = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// finish records the TLS outcome of a connection once its handshake is complete, and closes it.
func (c *client) finish(ctx context.Context, conn quic.Connection) {
	var handshakeDone <-chan struct{} = closedChannel
	if early, ok := conn.(quic.EarlyConnection); ok {
		handshakeDone = early.HandshakeComplete().Done()
	}
	select {
	case <-handshakeDone:
		st := conn.ConnectionState().TLS
		c.mu.Lock()
		if st.DidResume {
			c.resumed++
		}
		if st.Used0RTT {
			c.zeroRTT++
		}
		c.cipher = st.CipherSuite
		c.alpn = st.NegotiatedProtocol
		c.mu.Unlock()
	case <-ctx.Done():
	}
	_ = conn.CloseWithError(0, "")
}

func (c *client) fetch(ctx context.Context, conn quic.Connection, connNumber int, u *url.URL) error {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return fmt.Errorf("%s: opening a stream: %w", path, err)
	}
	if _, err := str.Write([]byte("GET " + path + "\r\n")); err != nil {
		return fmt.Errorf("%s: sending the request: %w", path, err)
	}
	if err := str.Close(); err != nil {
		return fmt.Errorf("%s: closing the request side: %w", path, err)
	}
	// Cancel reads when the context ends, so a stalled response cannot outlive the timeout.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			str.CancelRead(0)
		case <-stop:
		}
	}()

	var sink io.Writer = io.Discard
	if c.outDir != "" {
		target := filepath.Join(c.outDir, filepath.FromSlash(u.Path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		file, err := os.Create(target)
		if err != nil {
			return err
		}
		defer file.Close()
		sink = file
	}
	n, err := io.Copy(sink, str)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: timed out after %d bytes", path, n)
		}
		return fmt.Errorf("%s: after %d bytes: %w", path, n, err)
	}
	c.mu.Lock()
	c.files++
	c.bytes += n
	c.mu.Unlock()
	fmt.Printf("FILE %s bytes=%d conn=%d\n", u.Path, n, connNumber)
	return nil
}

// fetchAll downloads urls on conn, at most parallel at a time (0: all at once).
func (c *client) fetchAll(ctx context.Context, conn quic.Connection, connNumber int, urls []*url.URL, parallel int) error {
	if parallel <= 0 || parallel > len(urls) {
		parallel = len(urls)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, parallel)
	errs := make(chan error, len(urls))
	var wg sync.WaitGroup
	for _, u := range urls {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(u *url.URL) {
			defer wg.Done()
			defer func() { <-slots }()
			if err := c.fetch(ctx, conn, connNumber, u); err != nil {
				errs <- err
				cancel()
			}
		}(u)
	}
	wg.Wait()
	close(errs)
	if err, ok := <-errs; ok {
		return err
	}
	return ctx.Err()
}

func (c *client) run(ctx context.Context, mode string, urls []*url.URL, parallel int, ticketTimeout time.Duration) error {
	switch mode {
	case "multiplex", "sequential":
		if mode == "sequential" {
			parallel = 1
		}
		conn, n, err := c.dial(ctx, false)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		defer c.finish(ctx, conn)
		return c.fetchAll(ctx, conn, n, urls, parallel)
	case "multiconnect":
		for _, u := range urls {
			conn, n, err := c.dial(ctx, false)
			if err != nil {
				return fmt.Errorf("handshake %d: %w", n+1, err)
			}
			err = c.fetchAll(ctx, conn, n, []*url.URL{u}, 1)
			c.finish(ctx, conn)
			if err != nil {
				return err
			}
		}
		return nil
	case "resumption", "zerortt":
		if len(urls) < 2 {
			return errors.New("mode " + mode + " needs at least 2 URLs")
		}
		cache := &ticketCache{ClientSessionCache: tls.NewLRUClientSessionCache(4), put: make(chan struct{}, 1)}
		c.tlsConf.ClientSessionCache = cache
		conn, n, err := c.dial(ctx, false)
		if err != nil {
			return fmt.Errorf("handshake 1: %w", err)
		}
		err = c.fetchAll(ctx, conn, n, urls[:1], 1)
		if err == nil {
			select {
			case <-cache.put:
			case <-time.After(ticketTimeout):
				err = fmt.Errorf("no session ticket within %s", ticketTimeout)
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		c.finish(ctx, conn)
		if err != nil {
			return err
		}
		conn, n, err = c.dial(ctx, mode == "zerortt")
		if err != nil {
			return fmt.Errorf("handshake 2: %w", err)
		}
		err = c.fetchAll(ctx, conn, n, urls[1:], parallel)
		c.finish(ctx, conn)
		return err
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "hqclient: "+format+"\n", args...)
	os.Exit(2)
}

func parseCiphers(list string) []uint16 {
	if list == "" {
		return nil
	}
	var suites []uint16
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "TLS_AES_128_GCM_SHA256":
			suites = append(suites, tls.TLS_AES_128_GCM_SHA256)
		case "TLS_AES_256_GCM_SHA384":
			suites = append(suites, tls.TLS_AES_256_GCM_SHA384)
		case "TLS_CHACHA20_POLY1305_SHA256":
			suites = append(suites, tls.TLS_CHACHA20_POLY1305_SHA256)
		default:
			usage("unknown TLS 1.3 cipher suite %q", name)
		}
	}
	return suites
}

func main() {
	outDir := flag.String("out", "", "directory to write downloads to (URL path under it); empty: count bytes only")
	insecure := flag.Bool("insecure", false, "skip server certificate verification")
	caFile := flag.String("ca", "", "PEM file of CA / self-signed certificate(s) to trust")
	sni := flag.String("sni", "", "TLS server name (default: the URLs' host)")
	addrFlag := flag.String("addr", "", "UDP address to dial (default: the URLs' host:port)")
	timeout := flag.Duration("timeout", 10*time.Second, "overall time limit for the whole run")
	parallel := flag.Int("parallel", 0, "at most this many requests at once per connection (0: all)")
	mode := flag.String("mode", "multiplex", "multiplex | sequential | multiconnect | resumption | zerortt")
	keyUpdate := flag.Uint64("keyupdate", 0, "initiate a key update every N packets sent or received (0: quic-go's default, 100000)")
	ciphers := flag.String("ciphers", "", "TLS 1.3 cipher suites, comma separated (default: quic-go's)")
	expectRetry := flag.Bool("expect-retry", false, "fail unless the server sent a Retry")
	expectKeyUpdate := flag.Bool("expect-keyupdate", false, "fail unless at least one key update happened")
	maxStreamWindow := flag.Uint64("stream-window", 0, "max stream receive window in bytes (0: quic-go's default, 6 MB)")
	verbose := flag.Bool("v", false, "log progress to stderr")
	flag.Parse()
	if flag.NArg() == 0 {
		usage("no URLs given")
	}
	if *insecure == (*caFile != "") {
		usage("give exactly one of -insecure and -ca")
	}

	var urls []*url.URL
	host := ""
	for _, raw := range flag.Args() {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			usage("bad URL %q", raw)
		}
		if host == "" {
			host = u.Host
		} else if u.Host != host {
			usage("all URLs must name the same server (%s, %s)", host, u.Host)
		}
		urls = append(urls, u)
	}
	addr := *addrFlag
	if addr == "" {
		addr = host
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "443")
		}
	}
	serverName := *sni
	if serverName == "" {
		serverName = urls[0].Hostname()
	}

	tlsConf := &tls.Config{
		ServerName:         serverName,
		NextProtos:         []string{alpn},
		InsecureSkipVerify: *insecure,
		CipherSuites:       parseCiphers(*ciphers),
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			usage("reading -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			usage("no certificate in %s", *caFile)
		}
		tlsConf.RootCAs = pool
	}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		keyLog, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			usage("opening SSLKEYLOGFILE: %v", err)
		}
		defer keyLog.Close()
		tlsConf.KeyLogWriter = keyLog
	}
	if *keyUpdate > 0 {
		keyUpdateInterval = *keyUpdate
	}

	st := &stats{}
	quicConf := &quic.Config{
		Versions:               []quic.VersionNumber{quic.Version1},
		HandshakeIdleTimeout:   *timeout,
		MaxIdleTimeout:         *timeout,
		MaxStreamReceiveWindow: *maxStreamWindow,
		Tracer:                 st,
	}
	c := &client{addr: addr, tlsConf: tlsConf, quicConf: quicConf, outDir: *outDir, verbose: *verbose}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	err := c.run(ctx, *mode, urls, *parallel, *timeout)
	elapsed := time.Since(start)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil && *expectRetry && st.retries == 0 {
		err = errors.New("expected a Retry, the server sent none")
	}
	if err == nil && *expectKeyUpdate && st.keyUpdatesLocal+st.keyUpdatesRemote == 0 {
		err = errors.New("expected a key update, none happened")
	}
	if err == nil && (*mode == "resumption" || *mode == "zerortt") && c.resumed == 0 {
		err = errors.New("the second connection did not resume the TLS session")
	}
	if err == nil && *mode == "zerortt" && c.zeroRTT == 0 {
		err = errors.New("the server did not accept 0-RTT")
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s (%d of %d files complete): %w", *timeout, c.files, len(urls), err)
		}
		fmt.Printf("HQ_FAILED %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	fmt.Printf("HQ_OK files=%d bytes=%d ms=%d connections=%d retries=%d resumed=%d zerortt=%d keyupdates_local=%d keyupdates_remote=%d version=0x%08x alpn=%s cipher=%s\n",
		c.files, c.bytes, elapsed.Milliseconds(), c.connCount, st.retries, c.resumed, c.zeroRTT,
		st.keyUpdatesLocal, st.keyUpdatesRemote, uint32(st.version), c.alpn, tls.CipherSuiteName(c.cipher))
}
