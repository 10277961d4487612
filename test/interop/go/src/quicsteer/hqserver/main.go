// Command hqserver is AspNetQuicSteer's quic-go (0.29, Debian) hq-interop server: it serves the files of a
// directory over HTTP/0.9 over QUIC (ALPN "hq-interop"), as the QUIC interop runner's servers do. A request is
// a client-initiated bidirectional stream carrying "GET /path\r\n" then FIN; the server waits for the FIN,
// answers with the file's bytes and FIN. A missing file (or a directory, or a path escaping -www) resets the
// stream with application error 0x194 (404); a request that is not "GET /..." resets it with 0x190 (400).
//
//	hqserver -addr 127.0.0.1:0 -www DIR -cert cert.pem -key key.pem [-retry] [-keyupdate N] [-q]
//
// Output (stdout), one line each:
//
//	LISTENING 127.0.0.1:43817                  once, when the socket is bound and connections are accepted
//	RETRY_SENT remote=127.0.0.1:5555           each Retry packet sent (with -retry)
//	REQ conn=1 path=/a bytes=1024 result=ok    each request (result ok | notfound | badrequest | error:<err>); not with -q
//	CONN n=1 remote=127.0.0.1:5555 alpn=hq-interop resumed=false zerortt=false retry_validated=true keyupdates_local=0 keyupdates_remote=0 requests=2 bytes=2048 close=<reason>
//	                                           when a connection ends (close is quic-go's error text)
//
// It runs until killed, or for -exit-after (default 5m) at most; exit 1 if it cannot listen, 2 on bad flags.
// SSLKEYLOGFILE, when set, receives the TLS secrets (NSS key log format, appended).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
	_ "unsafe" // go:linkname, for the key update interval

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/logging"
)

const (
	alpn              = "hq-interop"
	errorNotFound     = 0x194
	errorBadRequest   = 0x190
	maxRequestBytes   = 8 << 10
	requestReadWindow = 30 * time.Second
)

// keyUpdateInterval is quic-go 0.29's internal handshake.KeyUpdateInterval (see hqclient).
//
//go:linkname keyUpdateInterval github.com/lucas-clemente/quic-go/internal/handshake.KeyUpdateInterval
var keyUpdateInterval uint64

var stdout sync.Mutex

func printf(format string, args ...interface{}) {
	stdout.Lock()
	fmt.Printf(format+"\n", args...)
	stdout.Unlock()
}

// connStats is what the tracer and the request handlers learn about one connection.
type connStats struct {
	mu               sync.Mutex
	keyUpdatesLocal  int
	keyUpdatesRemote int
	retryValidated   bool
	closeReason      string
}

type connTracer struct {
	logging.NullConnectionTracer
	s *connStats
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

func (t connTracer) SentTransportParameters(tp *logging.TransportParameters) {
	t.s.mu.Lock()
	t.s.retryValidated = tp.RetrySourceConnectionID != nil
	t.s.mu.Unlock()
}

func (t connTracer) ClosedConnection(err error) {
	t.s.mu.Lock()
	t.s.closeReason = strings.ReplaceAll(err.Error(), "\n", " ")
	t.s.mu.Unlock()
}

// tracer hands out one connStats per connection, found again through the connection's tracing ID.
type tracer struct {
	mu    sync.Mutex
	conns map[uint64]*connStats
}

func (t *tracer) TracerForConnection(ctx context.Context, _ logging.Perspective, _ logging.ConnectionID) logging.ConnectionTracer {
	s := &connStats{}
	if id, ok := ctx.Value(quic.ConnectionTracingKey).(uint64); ok {
		t.mu.Lock()
		t.conns[id] = s
		t.mu.Unlock()
	}
	return connTracer{s: s}
}

func (t *tracer) stats(conn quic.Connection) *connStats {
	id, _ := conn.Context().Value(quic.ConnectionTracingKey).(uint64)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.conns[id]
	delete(t.conns, id)
	if s == nil {
		s = &connStats{}
	}
	return s
}

func (t *tracer) SentPacket(remote net.Addr, hdr *logging.Header, _ logging.ByteCount, _ []logging.Frame) {
	if logging.PacketTypeFromHeader(hdr) == logging.PacketTypeRetry {
		printf("RETRY_SENT remote=%s", remote)
	}
}
func (*tracer) DroppedPacket(net.Addr, logging.PacketType, logging.ByteCount, logging.PacketDropReason) {
}

type server struct {
	www   string
	quiet bool
}

func (s *server) handleConn(n int, conn quic.EarlyConnection, st *connStats) {
	var requests, bytes int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var acceptErr error
	for {
		str, err := conn.AcceptStream(context.Background())
		if err != nil {
			acceptErr = err
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := s.handleStream(n, str)
			mu.Lock()
			requests++
			bytes += sent
			mu.Unlock()
		}()
	}
	wg.Wait()
	tlsState := conn.ConnectionState().TLS
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closeReason == "" && acceptErr != nil { // the tracer may learn of the close after the streams do
		st.closeReason = strings.ReplaceAll(acceptErr.Error(), "\n", " ")
	}
	printf("CONN n=%d remote=%s alpn=%s resumed=%t zerortt=%t retry_validated=%t keyupdates_local=%d keyupdates_remote=%d requests=%d bytes=%d close=%s",
		n, conn.RemoteAddr(), tlsState.NegotiatedProtocol, tlsState.DidResume, tlsState.Used0RTT, st.retryValidated,
		st.keyUpdatesLocal, st.keyUpdatesRemote, requests, bytes, st.closeReason)
}

func (s *server) handleStream(n int, str quic.Stream) int64 {
	result, p, sent := s.serve(str)
	if !s.quiet {
		printf("REQ conn=%d path=%s bytes=%d result=%s", n, p, sent, result)
	}
	return sent
}

func (s *server) serve(str quic.Stream) (result string, p string, sent int64) {
	_ = str.SetReadDeadline(time.Now().Add(requestReadWindow))
	raw, err := io.ReadAll(io.LimitReader(str, maxRequestBytes+1))
	if err != nil {
		str.CancelWrite(errorBadRequest)
		return "error:" + strings.ReplaceAll(err.Error(), " ", "_"), "-", 0
	}
	request := strings.TrimRight(string(raw), "\r\n ")
	if len(raw) > maxRequestBytes || !strings.HasPrefix(request, "GET /") || strings.ContainsAny(request, "\r\n") {
		str.CancelWrite(errorBadRequest)
		return "badrequest", "-", 0
	}
	target := request[len("GET "):]
	if u, err := url.ParseRequestURI(target); err == nil {
		p = u.Path
	} else {
		str.CancelWrite(errorBadRequest)
		return "badrequest", "-", 0
	}
	clean := path.Clean(p)
	file, err := os.Open(filepath.Join(s.www, filepath.FromSlash(clean)))
	if err == nil {
		if info, statErr := file.Stat(); statErr != nil || info.IsDir() {
			file.Close()
			err = errors.New("not a file")
		}
	}
	if err != nil {
		str.CancelWrite(errorNotFound)
		return "notfound", p, 0
	}
	defer file.Close()
	sent, err = io.Copy(str, file)
	if err != nil {
		return "error:" + strings.ReplaceAll(err.Error(), " ", "_"), p, sent
	}
	if err := str.Close(); err != nil {
		return "error:" + strings.ReplaceAll(err.Error(), " ", "_"), p, sent
	}
	return "ok", p, sent
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "hqserver: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP address to listen on (loopback; port 0 picks a free one)")
	www := flag.String("www", "", "directory to serve")
	certFile := flag.String("cert", "", "certificate chain PEM")
	keyFile := flag.String("key", "", "private key PEM")
	retry := flag.Bool("retry", false, "send a Retry to every new connection (address validation)")
	keyUpdate := flag.Uint64("keyupdate", 0, "initiate a key update every N packets sent or received (0: quic-go's default, 100000)")
	maxStreams := flag.Int64("max-streams", 0, "max concurrent bidirectional streams a client may open (0: quic-go's default, 100)")
	idle := flag.Duration("idle", 0, "max idle timeout (0: quic-go's default, 30s)")
	exitAfter := flag.Duration("exit-after", 5*time.Minute, "exit after this long at most")
	quiet := flag.Bool("q", false, "do not print a REQ line per request")
	flag.Parse()
	if flag.NArg() != 0 {
		usage("unexpected arguments: %v", flag.Args())
	}
	if *www == "" || *certFile == "" || *keyFile == "" {
		usage("-www, -cert and -key are required")
	}
	if info, err := os.Stat(*www); err != nil || !info.IsDir() {
		usage("-www %s is not a directory", *www)
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
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{alpn}}
	if p := os.Getenv("SSLKEYLOGFILE"); p != "" {
		keyLog, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			usage("opening SSLKEYLOGFILE: %v", err)
		}
		defer keyLog.Close()
		tlsConf.KeyLogWriter = keyLog
	}
	if *keyUpdate > 0 {
		keyUpdateInterval = *keyUpdate
	}

	tr := &tracer{conns: map[uint64]*connStats{}}
	quicConf := &quic.Config{
		Versions:                 []quic.VersionNumber{quic.Version1},
		RequireAddressValidation: func(net.Addr) bool { return *retry },
		MaxIncomingStreams:       *maxStreams,
		MaxIdleTimeout:           *idle,
		Tracer:                   tr,
	}
	ln, err := quic.ListenAddrEarly(*addr, tlsConf, quicConf)
	if err != nil {
		fmt.Printf("LISTEN_FAILED %v\n", err)
		os.Exit(1)
	}
	printf("LISTENING %s", ln.Addr())
	time.AfterFunc(*exitAfter, func() {
		printf("EXITING after %s", *exitAfter)
		os.Exit(0)
	})

	srv := &server{www: *www, quiet: *quiet}
	for n := 1; ; n++ {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			fmt.Printf("ACCEPT_FAILED %v\n", err)
			os.Exit(1)
		}
		go srv.handleConn(n, conn, tr.stats(conn))
	}
}
