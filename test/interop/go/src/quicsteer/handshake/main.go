// Command handshake is AspNetQuicSteer's quic-go (0.29, Debian) interop client: it dials one QUIC
// connection, completes the handshake, prints one machine-readable result line and closes.
//
// Output (stdout), one line each, in this order:
//
//	HANDSHAKE_OK alpn=h3 version=0x00000001 cipher=TLS_AES_128_GCM_SHA256 tls=0x0304 sni=localhost resumed=false datagrams=false
//	PEER_TP initial_max_data=... (the server's transport parameters as quic-go parsed them; quic-go
//	                               substitutes RFC defaults for absent ones, e.g. max_udp_payload_size=2^62-1)
//	PEER_CLOSED <error>          (only with -hold, when the server closed the connection first)
//	CLOSED code=0x0              (we closed the connection with an application error)
//
// On failure it prints "HANDSHAKE_FAILED <error>" and exits 1. Invalid flags exit 2.
// SSLKEYLOGFILE, when set, receives the TLS secrets in NSS key log format.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/logging"
)

// tracer records what quic-go 0.29's ConnectionState does not expose: the QUIC version in use and the
// server's transport parameters.
type tracer struct {
	logging.NullConnectionTracer
	mu      sync.Mutex
	version logging.VersionNumber
	peerTP  *logging.TransportParameters
}

func (t *tracer) NegotiatedVersion(chosen logging.VersionNumber, _, _ []logging.VersionNumber) {
	t.mu.Lock()
	t.version = chosen
	t.mu.Unlock()
}

func (t *tracer) ReceivedTransportParameters(tp *logging.TransportParameters) {
	t.mu.Lock()
	t.peerTP = tp
	t.mu.Unlock()
}

type tracerFactory struct{ conn *tracer }

func (f tracerFactory) TracerForConnection(context.Context, logging.Perspective, logging.ConnectionID) logging.ConnectionTracer {
	return f.conn
}
func (tracerFactory) SentPacket(net.Addr, *logging.Header, logging.ByteCount, []logging.Frame) {}
func (tracerFactory) DroppedPacket(net.Addr, logging.PacketType, logging.ByteCount, logging.PacketDropReason) {
}

func fail(format string, args ...interface{}) {
	fmt.Printf("HANDSHAKE_FAILED "+format+"\n", args...)
	os.Exit(1)
}

func usage(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "handshake: "+format+"\n", args...)
	os.Exit(2)
}

func parseCurves(list string) []tls.CurveID {
	if list == "" {
		return nil
	}
	var curves []tls.CurveID
	for _, name := range strings.Split(list, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "x25519":
			curves = append(curves, tls.X25519)
		case "p256", "p-256", "secp256r1":
			curves = append(curves, tls.CurveP256)
		case "p384", "p-384", "secp384r1":
			curves = append(curves, tls.CurveP384)
		case "p521", "p-521", "secp521r1":
			curves = append(curves, tls.CurveP521)
		default:
			usage("unknown curve %q (x25519, p256, p384, p521)", name)
		}
	}
	return curves
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

func formatTP(tp *logging.TransportParameters) string {
	if tp == nil {
		return "none"
	}
	datagrams := "absent"
	if tp.MaxDatagramFrameSize >= 0 { // quic-go uses -1 (protocol.InvalidByteCount) for "not sent"
		datagrams = strconv.FormatInt(int64(tp.MaxDatagramFrameSize), 10)
	}
	return fmt.Sprintf("initial_max_data=%d initial_max_stream_data_bidi_local=%d initial_max_stream_data_bidi_remote=%d "+
		"initial_max_stream_data_uni=%d initial_max_streams_bidi=%d initial_max_streams_uni=%d max_idle_timeout_ms=%d "+
		"max_udp_payload_size=%d ack_delay_exponent=%d max_ack_delay_ms=%d active_connection_id_limit=%d "+
		"disable_active_migration=%t max_datagram_frame_size=%s stateless_reset_token=%t retry_scid=%t",
		tp.InitialMaxData, tp.InitialMaxStreamDataBidiLocal, tp.InitialMaxStreamDataBidiRemote,
		tp.InitialMaxStreamDataUni, tp.MaxBidiStreamNum, tp.MaxUniStreamNum, tp.MaxIdleTimeout.Milliseconds(),
		tp.MaxUDPPayloadSize, tp.AckDelayExponent, tp.MaxAckDelay.Milliseconds(), tp.ActiveConnectionIDLimit,
		tp.DisableActiveMigration, datagrams, tp.StatelessResetToken != nil, tp.RetrySourceConnectionID != nil)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4433", "server address host:port")
	alpn := flag.String("alpn", "h3", "ALPN protocol(s) to offer, comma separated")
	sni := flag.String("sni", "localhost", "TLS server name (SNI, and the name verified unless -insecure)")
	timeout := flag.Duration("timeout", 5*time.Second, "overall handshake timeout")
	insecure := flag.Bool("insecure", false, "skip server certificate verification")
	caFile := flag.String("ca", "", "PEM file of CA / self-signed certificate(s) to trust (instead of the system roots)")
	curves := flag.String("curves", "", "TLS key exchange groups in preference order: x25519,p256,p384,p521 (default: quic-go's, x25519 key share)")
	ciphers := flag.String("ciphers", "", "TLS 1.3 cipher suites, comma separated (default: quic-go's)")
	version := flag.String("version", "0x00000001", "QUIC version to offer (hex)")
	hold := flag.Duration("hold", 0, "after the handshake, wait up to this long for the server to close the connection")
	closeCode := flag.Uint64("close-code", 0, "application error code used to close the connection")
	flag.Parse()
	if flag.NArg() != 0 {
		usage("unexpected arguments: %v", flag.Args())
	}

	v, err := strconv.ParseUint(strings.TrimPrefix(*version, "0x"), 16, 32)
	if err != nil {
		usage("bad -version %q: %v", *version, err)
	}

	tlsConf := &tls.Config{
		ServerName:         *sni,
		NextProtos:         strings.Split(*alpn, ","),
		InsecureSkipVerify: *insecure,
		CurvePreferences:   parseCurves(*curves),
		CipherSuites:       parseCiphers(*ciphers),
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			usage("reading -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			usage("no certificate found in %s", *caFile)
		}
		tlsConf.RootCAs = pool
	}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			usage("opening SSLKEYLOGFILE: %v", err)
		}
		defer f.Close()
		tlsConf.KeyLogWriter = f
	}

	t := &tracer{}
	quicConf := &quic.Config{
		Versions:             []quic.VersionNumber{quic.VersionNumber(v)},
		HandshakeIdleTimeout: *timeout,
		MaxIdleTimeout:       *timeout + *hold,
		Tracer:               tracerFactory{conn: t},
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := quic.DialAddrContext(ctx, *addr, tlsConf, quicConf)
	if err != nil {
		fail("%v", err)
	}
	state := conn.ConnectionState()
	if !state.TLS.HandshakeComplete {
		fail("handshake not complete after dial")
	}
	t.mu.Lock()
	negotiated, peerTP := t.version, t.peerTP
	t.mu.Unlock()
	fmt.Printf("HANDSHAKE_OK alpn=%s version=%#08x cipher=%s tls=%#04x sni=%s resumed=%t datagrams=%t\n",
		state.TLS.NegotiatedProtocol, uint32(negotiated), tls.CipherSuiteName(state.TLS.CipherSuite),
		state.TLS.Version, state.TLS.ServerName, state.TLS.DidResume, state.SupportsDatagrams)
	fmt.Printf("PEER_TP %s\n", formatTP(peerTP))

	if *hold > 0 {
		select {
		case <-conn.Context().Done():
			// The connection's context carries no error in 0.29; AcceptStream returns the close reason.
			_, err := conn.AcceptStream(context.Background())
			var appErr *quic.ApplicationError
			var trErr *quic.TransportError
			switch {
			case errors.As(err, &appErr):
				fmt.Printf("PEER_CLOSED application code=%#x remote=%t reason=%q\n", uint64(appErr.ErrorCode), appErr.Remote, appErr.ErrorMessage)
			case errors.As(err, &trErr):
				fmt.Printf("PEER_CLOSED transport code=%#x remote=%t reason=%q\n", uint64(trErr.ErrorCode), trErr.Remote, trErr.ErrorMessage)
			default:
				fmt.Printf("PEER_CLOSED other error=%q\n", fmt.Sprint(err))
			}
			os.Exit(0)
		case <-time.After(*hold):
		}
	}

	if err := conn.CloseWithError(quic.ApplicationErrorCode(*closeCode), ""); err != nil {
		fail("closing: %v", err)
	}
	fmt.Printf("CLOSED code=%#x\n", *closeCode)
}
