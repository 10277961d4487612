// Command h3client is AspNetQuicSteer's quic-go (0.29, Debian) HTTP/3 client, built on quic-go's
// http3.RoundTripper. One RoundTripper is one QUIC connection per server (quic-go caches one connection per
// host:port), so "one connection" below means one RoundTripper.
//
//	h3client MODE [flags] URL...
//
// Modes (flags must come before the URLs):
//
//	get      [-n N] [-c C] [-print] [-any-status] URL...
//	         N requests in total (default: one per URL; the URLs are used round robin), at most C at once
//	         (default 1), all on ONE connection. -print writes the body of a single GET (-n 1) to stdout
//	         (followed by a newline if it has none) before the result line.
//	         H3_OK requests=N status200=N bytes=B ms=T
//	download [-expect N] [-pattern=false] URL
//	         one GET; verifies status 200, the length (-expect N, -1: any) and the content pattern.
//	         H3_OK bytes=N ms=T mbps=X                       (mbps: megabits per second, 10^6 bit/s)
//	upload   -size N URL
//	         POSTs N bytes of the pattern (streamed) to an echo URL and verifies that the response body is
//	         byte-identical (same length, same content).
//	         H3_OK sent=N received=N ms=T
//	load     [-duration 10s] [-conns 4] [-streams 16] [-strict] URL...
//	         -conns connections (one RoundTripper each), each with -streams goroutines issuing GETs back to
//	         back (URLs round robin) until -duration has passed; every body is read to the end. Each
//	         connection first makes one untimed warm-up GET (handshake outside the measurement; its failure
//	         fails the run). A request fails on a transport error, a status other than 200 or -timeout.
//	         LOAD requests=R errors=E seconds=S rps=X
//	         Exit 1 if R is 0, or with -strict if E > 0 (the first error goes to stderr).
//	bulk     [-verify] [-expect N] URL
//	         one GET on one stream, bytes counted and discarded (-verify: checked against the pattern).
//	         seconds run from the end of the handshake to the last byte.
//	         BULK bytes=N seconds=S mbytes_per_s=X           (MB = 2^20 bytes, so /bytes/104857600 is 100 MB)
//
// Common flags: -insecure (no certificate verification) | -ca FILE (PEM to trust; exactly one of the two),
// -sni NAME (default: the URL's host), -timeout D (get/download/upload/bulk: the whole run, default 30s;
// load: each request, and the end of the run is bounded by -duration + -timeout), -v (progress on stderr).
// SSLKEYLOGFILE, when set, receives the TLS secrets (NSS key log format, appended).
//
// Content pattern (our ASP.NET sample's /bytes/{n} and /echo, and h3server, use the same): the byte at
// offset i is (byte)(i % 251).
//
// Failures print "H3_FAILED <reason>" (one line) and exit 1; bad usage exits 2. quic-go 0.29 offers QUIC v1,
// ALPN h3, TLS 1.3 and an X25519 key share only. Connections are closed (CONNECTION_CLOSE, H3_NO_ERROR) at
// the end of every run.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

const patternPeriod = 251

// patternTable holds the pattern from offset 0 for patternPeriod + chunk bytes, so that any chunk of at most
// `chunk` bytes starting at stream offset o equals patternTable[o%251 : o%251+len].
const chunk = 64 << 10

var patternTable = func() []byte {
	b := make([]byte, patternPeriod+chunk)
	for i := range b {
		b[i] = byte(i % patternPeriod)
	}
	return b
}()

var bufPool = sync.Pool{New: func() interface{} { b := make([]byte, chunk); return &b }}

// patternReader produces n bytes of the pattern.
type patternReader struct {
	off, n int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if len(p) > chunk {
		p = p[:chunk]
	}
	if rem := r.n - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	s := int(r.off % patternPeriod)
	n := copy(p, patternTable[s:s+len(p)])
	r.off += int64(n)
	return n, nil
}

// patternChecker is a writer that verifies that what it is given continues the pattern.
type patternChecker struct {
	off int64
	bad int64 // offset of the first mismatch, -1 while none
}

func newPatternChecker() *patternChecker { return &patternChecker{bad: -1} }

func (c *patternChecker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		m := len(p)
		if m > chunk {
			m = chunk
		}
		s := int(c.off % patternPeriod)
		if c.bad < 0 && !bytes.Equal(p[:m], patternTable[s:s+m]) {
			for i := 0; i < m; i++ {
				if p[i] != patternTable[s+i] {
					c.bad = c.off + int64(i)
					break
				}
			}
		}
		c.off += int64(m)
		p = p[m:]
	}
	return n, nil
}

func (c *patternChecker) err() error {
	if c.bad >= 0 {
		return fmt.Errorf("content differs from the pattern at offset %d", c.bad)
	}
	return nil
}

type options struct {
	insecure bool
	caFile   string
	sni      string
	timeout  time.Duration
	verbose  bool
}

func (o *options) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.insecure, "insecure", false, "skip server certificate verification")
	fs.StringVar(&o.caFile, "ca", "", "PEM file of CA / self-signed certificate(s) to trust")
	fs.StringVar(&o.sni, "sni", "", "TLS server name (default: the URL's host)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit: whole run (get, download, upload, bulk), each request (load)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
}

var keyLog io.Writer

func (o *options) logf(format string, args ...interface{}) {
	if o.verbose {
		fmt.Fprintf(os.Stderr, "h3client: "+format+"\n", args...)
	}
}

// conn is one RoundTripper, i.e. one QUIC connection, that records when its handshake completed.
type conn struct {
	rt          *http3.RoundTripper
	mu          sync.Mutex
	handshaken  time.Time
	handshakeMs int64
}

func (o *options) newConn() *conn {
	tlsConf := &tls.Config{
		ServerName:         o.sni,
		InsecureSkipVerify: o.insecure,
		KeyLogWriter:       keyLog,
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			usage("reading -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			usage("no certificate in %s", o.caFile)
		}
		tlsConf.RootCAs = pool
	}
	hsTimeout := o.timeout
	if hsTimeout > 10*time.Second {
		hsTimeout = 10 * time.Second
	}
	c := &conn{}
	c.rt = &http3.RoundTripper{
		TLSClientConfig:    tlsConf,
		DisableCompression: true,
		QuicConfig: &quic.Config{
			Versions:             []quic.VersionNumber{quic.Version1},
			HandshakeIdleTimeout: hsTimeout,
			MaxIdleTimeout:       30 * time.Second,
			KeepAlivePeriod:      10 * time.Second,
			MaxIncomingStreams:   -1, // the server may not open bidirectional streams in HTTP/3
		},
		Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (quic.EarlyConnection, error) {
			start := time.Now()
			qc, err := quic.DialAddrEarlyContext(ctx, addr, tlsCfg, cfg)
			if err != nil {
				return nil, err
			}
			go func() {
				select {
				case <-qc.HandshakeComplete().Done():
					now := time.Now()
					c.mu.Lock()
					c.handshaken = now
					c.handshakeMs = now.Sub(start).Milliseconds()
					c.mu.Unlock()
					st := qc.ConnectionState()
					o.logf("connected to %s in %s: alpn=%s cipher=%s", addr, now.Sub(start).Round(time.Microsecond),
						st.TLS.NegotiatedProtocol, tls.CipherSuiteName(st.TLS.CipherSuite))
				case <-qc.Context().Done():
				}
			}()
			return qc, nil
		},
	}
	return c
}

func (c *conn) handshakeTime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handshaken
}

// close closes the QUIC connection (CONNECTION_CLOSE with H3_NO_ERROR), bounded in time.
func (c *conn) close() {
	done := make(chan struct{})
	go func() {
		_ = c.rt.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// do sends one request and streams the body into sink (nil: discard). It returns the status and body length.
func (c *conn) do(ctx context.Context, method, rawURL string, body io.Reader, size int64, sink io.Writer) (int, int64, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return 0, 0, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var n int64
	if sink == nil {
		n, err = io.Copy(io.Discard, resp.Body) // io.Discard pools its own buffers
	} else {
		buf := bufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(sink, struct{ io.Reader }{resp.Body}, *buf)
		bufPool.Put(buf)
	}
	if err != nil {
		return resp.StatusCode, n, fmt.Errorf("after %d body bytes: %w", n, err)
	}
	return resp.StatusCode, n, nil
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "h3client: "+format+"\n", args...)
	fmt.Fprintln(os.Stderr, "usage: h3client get|download|upload|load|bulk [flags] URL...  (h3client MODE -h for the flags)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Printf("H3_FAILED %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	os.Exit(1)
}

// explain turns a context deadline into a readable timeout error.
func explain(ctx context.Context, err error, what string, timeout time.Duration) error {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: timeout after %s: %v", what, timeout, err)
	}
	return fmt.Errorf("%s: %v", what, err)
}

func parseURLs(fs *flag.FlagSet, min, max int) []string {
	args := fs.Args()
	if len(args) < min {
		usage("%s: needs at least %d URL(s)", fs.Name(), min)
	}
	if max > 0 && len(args) > max {
		usage("%s: takes at most %d URL(s), got %d", fs.Name(), max, len(args))
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			usage("%s: flag %s after the URLs (flags go first)", fs.Name(), a)
		}
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			usage("%s: bad URL %q (need https://HOST:PORT/path)", fs.Name(), a)
		}
	}
	return args
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func main() {
	if len(os.Args) < 2 {
		usage("no mode given")
	}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			usage("opening SSLKEYLOGFILE: %v", err)
		}
		defer f.Close()
		keyLog = f
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	var o options
	o.register(fs)
	var run func()
	switch mode {
	case "get":
		n := fs.Int("n", 0, "total number of requests (default: one per URL)")
		c := fs.Int("c", 1, "at most this many requests at once")
		print := fs.Bool("print", false, "print the response body (only with a single request)")
		anyStatus := fs.Bool("any-status", false, "do not fail on statuses other than 200 (they are counted)")
		run = func() { runGet(&o, parseURLs(fs, 1, 0), *n, *c, *print, *anyStatus) }
	case "download":
		expect := fs.Int64("expect", -1, "expected body length in bytes (-1: any)")
		pattern := fs.Bool("pattern", true, "verify the content pattern (byte i = i % 251)")
		run = func() { runDownload(&o, parseURLs(fs, 1, 1)[0], *expect, *pattern) }
	case "upload":
		size := fs.Int64("size", -1, "bytes to POST")
		run = func() {
			if *size < 0 {
				usage("upload: -size is required")
			}
			runUpload(&o, parseURLs(fs, 1, 1)[0], *size)
		}
	case "load":
		duration := fs.Duration("duration", 10*time.Second, "how long to issue requests")
		conns := fs.Int("conns", 4, "connections")
		streams := fs.Int("streams", 16, "concurrent requests (goroutines) per connection")
		strict := fs.Bool("strict", false, "fail (exit 1) if any request failed")
		fs.Lookup("timeout").DefValue = "10s"
		o.timeout = 10 * time.Second
		run = func() {
			if *conns < 1 || *streams < 1 || *duration <= 0 {
				usage("load: -conns, -streams and -duration must be positive")
			}
			runLoad(&o, parseURLs(fs, 1, 0), *duration, *conns, *streams, *strict)
		}
	case "bulk":
		verify := fs.Bool("verify", false, "verify the content pattern (byte i = i % 251)")
		expect := fs.Int64("expect", -1, "expected body length in bytes (-1: any)")
		fs.Lookup("timeout").DefValue = "120s"
		o.timeout = 120 * time.Second
		run = func() { runBulk(&o, parseURLs(fs, 1, 1)[0], *verify, *expect) }
	case "-h", "-help", "--help", "help":
		usage("modes: get, download, upload, load, bulk")
	default:
		usage("unknown mode %q", mode)
	}
	_ = fs.Parse(os.Args[2:])
	if o.insecure == (o.caFile != "") {
		usage("give exactly one of -insecure and -ca")
	}
	if o.timeout <= 0 {
		usage("-timeout must be positive")
	}
	run()
}

func runGet(o *options, urls []string, n, c int, print, anyStatus bool) {
	if n <= 0 {
		n = len(urls)
	}
	if c < 1 {
		c = 1
	}
	if c > n {
		c = n
	}
	if print && n != 1 {
		usage("get: -print needs exactly one request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cn := o.newConn()
	defer cn.close()

	var next, ok200, total int64
	var mu sync.Mutex
	var firstErr error
	var body bytes.Buffer
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(n) {
					return
				}
				u := urls[i%int64(len(urls))]
				var sink io.Writer
				if print {
					sink = &body
				}
				status, got, err := cn.do(ctx, http.MethodGet, u, nil, 0, sink)
				if err != nil {
					setErr(explain(ctx, err, fmt.Sprintf("request %d (%s)", i+1, u), o.timeout))
					return
				}
				atomic.AddInt64(&total, got)
				if status == http.StatusOK {
					atomic.AddInt64(&ok200, 1)
				} else if !anyStatus {
					setErr(fmt.Errorf("request %d (%s): status %d", i+1, u, status))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("timeout after %s (%d of %d requests complete)", o.timeout, atomic.LoadInt64(&next), n)
	}
	if firstErr != nil {
		cn.close()
		fail(firstErr)
	}
	if print {
		os.Stdout.Write(body.Bytes())
		if body.Len() == 0 || body.Bytes()[body.Len()-1] != '\n' {
			fmt.Println()
		}
	}
	fmt.Printf("H3_OK requests=%d status200=%d bytes=%d ms=%d\n", n, ok200, total, ms(elapsed))
}

func runDownload(o *options, u string, expect int64, pattern bool) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cn := o.newConn()
	defer cn.close()
	checker := newPatternChecker()
	var sink io.Writer
	if pattern {
		sink = checker
	}
	start := time.Now()
	status, n, err := cn.do(ctx, http.MethodGet, u, nil, 0, sink)
	elapsed := time.Since(start)
	switch {
	case err != nil:
		err = explain(ctx, err, u, o.timeout)
	case status != http.StatusOK:
		err = fmt.Errorf("%s: status %d", u, status)
	case expect >= 0 && n != expect:
		err = fmt.Errorf("%s: received %d bytes, expected %d", u, n, expect)
	case pattern:
		err = checker.err()
	}
	if err != nil {
		cn.close()
		fail(err)
	}
	fmt.Printf("H3_OK bytes=%d ms=%d mbps=%.1f\n", n, ms(elapsed), float64(n)*8/1e6/elapsed.Seconds())
}

// countingReader counts what the request body writer has read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(&c.n, int64(n))
	return n, err
}

func runUpload(o *options, u string, size int64) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cn := o.newConn()
	defer cn.close()
	checker := newPatternChecker()
	body := &countingReader{r: &patternReader{n: size}}
	start := time.Now()
	status, n, err := cn.do(ctx, http.MethodPost, u, body, size, checker)
	elapsed := time.Since(start)
	sent := atomic.LoadInt64(&body.n)
	switch {
	case err != nil:
		err = explain(ctx, err, fmt.Sprintf("%s (sent %d)", u, sent), o.timeout)
	case status != http.StatusOK:
		err = fmt.Errorf("%s: status %d", u, status)
	case sent != size:
		err = fmt.Errorf("%s: sent only %d of %d bytes", u, sent, size)
	case n != size:
		err = fmt.Errorf("%s: sent %d bytes, received %d", u, sent, n)
	default:
		err = checker.err()
	}
	if err != nil {
		cn.close()
		fail(err)
	}
	fmt.Printf("H3_OK sent=%d received=%d ms=%d\n", sent, n, ms(elapsed))
}

func runLoad(o *options, urls []string, duration time.Duration, conns, streams int, strict bool) {
	cs := make([]*conn, conns)
	for i := range cs {
		cs[i] = o.newConn()
	}
	closeAll := func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func(c *conn) { defer wg.Done(); c.close() }(c)
		}
		wg.Wait()
	}
	defer closeAll()

	// Warm-up: one GET per connection, so that every handshake is done before the clock starts.
	var wg sync.WaitGroup
	warmErrs := make([]error, conns)
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c *conn) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			status, _, err := c.do(ctx, http.MethodGet, urls[0], nil, 0, nil)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				warmErrs[i] = explain(ctx, err, fmt.Sprintf("connection %d warm-up GET %s", i+1, urls[0]), o.timeout)
			}
		}(i, c)
	}
	wg.Wait()
	for _, err := range warmErrs {
		if err != nil {
			closeAll()
			fail(err)
		}
	}
	o.logf("%d connections up, running %d streams each for %s", conns, streams, duration)

	var requests, errCount int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(duration)
	hardStop, cancelAll := context.WithDeadline(context.Background(), deadline.Add(o.timeout))
	defer cancelAll()
	for ci, c := range cs {
		for s := 0; s < streams; s++ {
			wg.Add(1)
			go func(c *conn, k int) {
				defer wg.Done()
				for i := k; time.Now().Before(deadline) && hardStop.Err() == nil; i++ {
					ctx, cancel := context.WithTimeout(hardStop, o.timeout)
					status, _, err := c.do(ctx, http.MethodGet, urls[i%len(urls)], nil, 0, nil)
					if err == nil && status != http.StatusOK {
						err = fmt.Errorf("%s: status %d", urls[i%len(urls)], status)
					} else if err != nil {
						err = explain(ctx, err, urls[i%len(urls)], o.timeout)
					}
					cancel()
					if err != nil {
						atomic.AddInt64(&errCount, 1)
						firstErr.CompareAndSwap(nil, err.Error())
						time.Sleep(10 * time.Millisecond) // no busy loop on a dead connection
						continue
					}
					atomic.AddInt64(&requests, 1)
				}
			}(c, ci*streams+s)
		}
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	fmt.Printf("LOAD requests=%d errors=%d seconds=%.2f rps=%.0f\n", requests, errCount, seconds, float64(requests)/seconds)
	if e, ok := firstErr.Load().(string); ok {
		fmt.Fprintf(os.Stderr, "h3client: first error: %s\n", e)
	}
	if requests == 0 || (strict && errCount > 0) {
		closeAll()
		os.Exit(1)
	}
}

func runBulk(o *options, u string, verify bool, expect int64) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cn := o.newConn()
	defer cn.close()
	checker := newPatternChecker()
	var sink io.Writer
	if verify {
		sink = checker
	}
	start := time.Now()
	status, n, err := cn.do(ctx, http.MethodGet, u, nil, 0, sink)
	end := time.Now()
	switch {
	case err != nil:
		err = explain(ctx, err, u, o.timeout)
	case status != http.StatusOK:
		err = fmt.Errorf("%s: status %d", u, status)
	case expect >= 0 && n != expect:
		err = fmt.Errorf("%s: received %d bytes, expected %d", u, n, expect)
	case verify:
		err = checker.err()
	}
	if err != nil {
		cn.close()
		fail(err)
	}
	if hs := cn.handshakeTime(); !hs.IsZero() && hs.After(start) {
		start = hs
	}
	seconds := end.Sub(start).Seconds()
	fmt.Printf("BULK bytes=%d seconds=%.3f mbytes_per_s=%.1f\n", n, seconds, float64(n)/(1<<20)/seconds)
}
