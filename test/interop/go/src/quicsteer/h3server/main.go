// Command h3server is AspNetQuicSteer's quic-go (0.29, Debian) HTTP/3-only server (http3.Server on a QUIC
// listener; no TCP, no Alt-Svc). It is the baseline server for eng/bench-h3.sh and the target that proves the
// headless Chromium command line (test/interop/H3.md).
//
//	h3server -addr 127.0.0.1:0 -cert cert.pem -key key.pem [-max-streams N] [-exit-after 10m] [-v]
//
// Resources:
//
//	GET  /hello         "Hello from h3server over HTTP/3\n" (text/plain)
//	GET  /bytes/{n}     n bytes of the pattern (byte i = i % 251), streamed, with Content-Length
//	POST /echo          the request body, streamed back as it arrives (no Content-Length)
//	GET  /              an HTML page whose inline script writes
//	                    performance.getEntriesByType('navigation')[0].nextHopProtocol into <pre id=proto>,
//	                    so `chromium --headless --dump-dom` shows <pre id="proto">h3</pre>
//	anything else       404
//
// Output (stdout): "LISTENING 127.0.0.1:PORT" once the socket is bound and connections are accepted;
// with -v, one "REQ <method> <path> status=<code> bytes=<n> remote=<addr>" line per request.
// Exit 1 if it cannot listen, 2 on bad flags; otherwise it runs until killed or for -exit-after at most.
// SSLKEYLOGFILE, when set, receives the TLS secrets (NSS key log format, appended).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

const (
	patternPeriod = 251
	chunk         = 64 << 10
	hello         = "Hello from h3server over HTTP/3\n"
	maxBytes      = int64(1) << 40
)

var patternTable = func() []byte {
	b := make([]byte, patternPeriod+chunk)
	for i := range b {
		b[i] = byte(i % patternPeriod)
	}
	return b
}()

const indexPage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>h3server</title></head>
<body>
<p>h3server (quic-go 0.29)</p>
<pre id="proto">pending</pre>
<script>
var e = performance.getEntriesByType('navigation')[0];
document.getElementById('proto').textContent = e ? e.nextHopProtocol : 'no-navigation-entry';
</script>
</body></html>
`

var stdout sync.Mutex

func printf(format string, args ...interface{}) {
	stdout.Lock()
	fmt.Printf(format+"\n", args...)
	stdout.Unlock()
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func handler(verbose bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(hello)))
		io.WriteString(w, hello)
	})
	mux.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
		if err != nil || n < 0 || n > maxBytes {
			http.Error(w, "bad length", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		if r.Method == http.MethodHead {
			return
		}
		for off := int64(0); off < n; {
			m := int64(chunk)
			if n-off < m {
				m = n - off
			}
			s := int(off % patternPeriod)
			if _, err := w.Write(patternTable[s : s+int(m)]); err != nil {
				return
			}
			off += m
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			http.Error(w, "POST a body", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, chunk)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return // io.EOF: done; anything else: the stream was reset, nothing more to do
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(indexPage)))
		io.WriteString(w, indexPage)
	})
	if !verbose {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		mux.ServeHTTP(cw, r)
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		printf("REQ %s %s status=%d bytes=%d remote=%s", r.Method, r.URL.Path, status, cw.n, r.RemoteAddr)
	})
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "h3server: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP address to listen on (loopback; port 0 picks a free one)")
	certFile := flag.String("cert", "", "certificate chain PEM")
	keyFile := flag.String("key", "", "private key PEM")
	maxStreams := flag.Int64("max-streams", 0, "max concurrent bidirectional streams per connection (0: quic-go's default, 100)")
	exitAfter := flag.Duration("exit-after", 10*time.Minute, "exit after this long at most")
	verbose := flag.Bool("v", false, "print a REQ line per request")
	flag.Parse()
	if flag.NArg() != 0 {
		usage("unexpected arguments: %v", flag.Args())
	}
	if *certFile == "" || *keyFile == "" {
		usage("-cert and -key are required")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		usage("bad -addr: %v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		usage("-addr must be a loopback address, not %q", host)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		usage("loading the certificate: %v", err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	if p := os.Getenv("SSLKEYLOGFILE"); p != "" {
		keyLog, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			usage("opening SSLKEYLOGFILE: %v", err)
		}
		defer keyLog.Close()
		tlsConf.KeyLogWriter = keyLog
	}
	quicConf := &quic.Config{
		Versions:           []quic.VersionNumber{quic.Version1},
		MaxIncomingStreams: *maxStreams,
	}
	// ConfigureTLSConfig selects ALPN h3 for QUIC v1; the listener is ours so that port 0 works and
	// LISTENING is printed only once the socket is bound.
	ln, err := quic.ListenAddrEarly(*addr, http3.ConfigureTLSConfig(tlsConf), quicConf)
	if err != nil {
		fmt.Printf("LISTEN_FAILED %v\n", err)
		os.Exit(1)
	}
	srv := &http3.Server{Handler: handler(*verbose), QuicConfig: quicConf}
	printf("LISTENING %s", ln.Addr())
	time.AfterFunc(*exitAfter, func() {
		printf("EXITING after %s", *exitAfter)
		os.Exit(0)
	})
	if err := srv.ServeListener(ln); err != nil {
		fmt.Printf("SERVE_FAILED %v\n", err)
		os.Exit(1)
	}
}
