//! quinn-hqclient: AspNetQuicSteer's quinn 0.9 (Debian) hq-interop client. HTTP/0.9 over QUIC with ALPN
//! "hq-interop": each request is a client-initiated bidirectional stream carrying "GET /path\r\n" then FIN;
//! the response is every byte up to the server's FIN. A stream reset, a connection error or the timeout
//! fails the run.
//!
//!     quinn-hqclient [flags] https://127.0.0.1:4433/a https://127.0.0.1:4433/b ...
//!
//! Flags (Go style, one dash): -out DIR, -insecure | -ca FILE, -sni NAME, -addr HOST:PORT, -timeout 10s,
//! -parallel N (0: all at once), -mode multiplex|sequential|multiconnect|resumption|zerortt,
//! -keyupdate (force one key update right after the handshake, before the requests),
//! -rebind-after 50ms (switch the client to a new UDP socket / local port once, that long after the first
//! handshake completed), -v.
//!
//! Output (stdout):
//!     FILE /a bytes=1024 conn=1                       per completed download
//!     HQ_OK files=2 bytes=2048 ms=35 connections=1 zerortt=0 keyupdates_forced=0 rebinds=0 lost_packets=0 alpn=hq-interop
//! or "HQ_FAILED <error>" and exit code 1. Bad flags: exit 2. SSLKEYLOGFILE, when set, receives the TLS
//! secrets (rustls KeyLogFile, NSS format).

use std::fs;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const ALPN: &[u8] = b"hq-interop";

struct Target {
    authority: String,
    host: String,
    path: String,
}

struct Options {
    urls: Vec<Target>,
    out: Option<PathBuf>,
    insecure: bool,
    ca: Option<String>,
    sni: Option<String>,
    addr: Option<String>,
    timeout: Duration,
    parallel: usize,
    mode: String,
    key_update: bool,
    rebind_after: Option<Duration>,
    verbose: bool,
}

#[derive(Default)]
struct Totals {
    files: AtomicU64,
    bytes: AtomicU64,
    connections: AtomicU64,
    zero_rtt: AtomicU64,
    key_updates: AtomicU64,
    rebinds: AtomicU64,
    /// Set once a handshake completed: -rebind-after counts from then (RFC 9000 §9: a client must not migrate before
    /// the handshake is confirmed, and a slow handshake on a loaded machine must not turn into an early rebind).
    established: AtomicBool,
    lost_packets: AtomicU64,
    transfer_ms: AtomicU64,
    alpn: Mutex<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {text:?} (e.g. 10s, 500ms)");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_url(raw: &str) -> Result<Target, String> {
    let rest = raw
        .strip_prefix("https://")
        .ok_or_else(|| format!("URL {raw:?} does not start with https://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("URL {raw:?} has no host"));
    }
    let path = path.split(|c| c == '?' || c == '#').next().unwrap_or("/");
    let host = if let Some(stripped) = authority.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("").to_string()
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority).to_string()
    };
    Ok(Target { authority: authority.to_string(), host, path: path.to_string() })
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        urls: Vec::new(),
        out: None,
        insecure: false,
        ca: None,
        sni: None,
        addr: None,
        timeout: Duration::from_secs(10),
        parallel: 0,
        mode: "multiplex".to_string(),
        key_update: false,
        rebind_after: None,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let flag = arg.trim_start_matches('-');
        if !arg.starts_with('-') {
            options.urls.push(parse_url(&arg)?);
            continue;
        }
        let mut value = || args.next().ok_or_else(|| format!("flag {arg} needs a value"));
        match flag {
            "out" => options.out = Some(PathBuf::from(value()?)),
            "insecure" => options.insecure = true,
            "ca" => options.ca = Some(value()?),
            "sni" => options.sni = Some(value()?),
            "addr" => options.addr = Some(value()?),
            "timeout" => options.timeout = parse_duration(&value()?)?,
            "parallel" => options.parallel = value()?.parse().map_err(|_| "bad -parallel".to_string())?,
            "mode" => options.mode = value()?,
            "keyupdate" => options.key_update = true,
            "rebind-after" => options.rebind_after = Some(parse_duration(&value()?)?),
            "v" => options.verbose = true,
            _ => return Err(format!("unknown flag {arg}")),
        }
    }
    if options.urls.is_empty() {
        return Err("no URLs given".to_string());
    }
    if options.insecure == options.ca.is_some() {
        return Err("give exactly one of -insecure and -ca".to_string());
    }
    if options.urls.iter().any(|u| u.authority != options.urls[0].authority) {
        return Err("all URLs must name the same server".to_string());
    }
    match options.mode.as_str() {
        "multiplex" | "sequential" | "multiconnect" => {}
        "resumption" | "zerortt" if options.urls.len() >= 2 => {}
        "resumption" | "zerortt" => return Err(format!("mode {} needs at least 2 URLs", options.mode)),
        other => return Err(format!("unknown mode {other:?}")),
    }
    Ok(options)
}

/// Accepts any server certificate (the interop runner's clients do not verify either).
struct SkipVerification;

impl rustls::client::ServerCertVerifier for SkipVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::Certificate,
        _intermediates: &[rustls::Certificate],
        _server_name: &rustls::ServerName,
        _scts: &mut dyn Iterator<Item = &[u8]>,
        _ocsp_response: &[u8],
        _now: SystemTime,
    ) -> Result<rustls::client::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::ServerCertVerified::assertion())
    }
}

/// rustls's in-memory session store, noting when a TLS 1.3 ticket ("session" key) arrives.
struct TicketStore {
    inner: Arc<rustls::client::ClientSessionMemoryCache>,
    ticket: AtomicBool,
}

impl rustls::client::StoresClientSessions for TicketStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        if key.starts_with(b"session") {
            self.ticket.store(true, Ordering::SeqCst);
        }
        self.inner.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }
}

fn client_config(options: &Options, tickets: Arc<TicketStore>) -> Result<quinn::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder()
        .with_safe_default_cipher_suites()
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?;
    let mut crypto = if options.insecure {
        builder.with_custom_certificate_verifier(Arc::new(SkipVerification)).with_no_client_auth()
    } else {
        let path = options.ca.as_ref().expect("checked in parse_args");
        let file = fs::File::open(path).map_err(|e| format!("reading -ca {path}: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls_pemfile::certs(&mut BufReader::new(file)).map_err(|e| e.to_string())? {
            roots.add(&rustls::Certificate(der)).map_err(|e| format!("-ca {path}: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("no certificate in {path}"));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    crypto.alpn_protocols = vec![ALPN.to_vec()];
    crypto.key_log = Arc::new(rustls::KeyLogFile::new());
    crypto.session_storage = tickets;
    crypto.enable_early_data = options.mode == "zerortt";

    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(options.timeout).map_err(|e| e.to_string())?;
    transport.max_idle_timeout(Some(idle));
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

fn local_bind_address(remote: &SocketAddr) -> SocketAddr {
    match (remote.is_ipv6(), remote.ip().is_loopback()) {
        (false, true) => "127.0.0.1:0".parse().unwrap(),
        (true, true) => "[::1]:0".parse().unwrap(),
        (false, false) => "0.0.0.0:0".parse().unwrap(),
        (true, false) => "[::]:0".parse().unwrap(),
    }
}

async fn fetch(
    conn: quinn::Connection,
    number: u64,
    path: String,
    out: Option<PathBuf>,
    totals: Arc<Totals>,
) -> Result<(), String> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| format!("{path}: opening a stream: {e}"))?;
    send.write_all(format!("GET {path}\r\n").as_bytes())
        .await
        .map_err(|e| format!("{path}: sending the request: {e}"))?;
    send.finish().await.map_err(|e| format!("{path}: finishing the request: {e}"))?;
    let mut file = match &out {
        Some(dir) => {
            let target = dir.join(path.trim_start_matches('/'));
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            Some(fs::File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?)
        }
        None => None,
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    loop {
        match recv.read(&mut buffer).await {
            Ok(Some(n)) => {
                if let Some(f) = file.as_mut() {
                    f.write_all(&buffer[..n]).map_err(|e| format!("{path}: writing: {e}"))?;
                }
                received += n as u64;
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{path}: after {received} bytes: {e}")),
        }
    }
    totals.files.fetch_add(1, Ordering::SeqCst);
    totals.bytes.fetch_add(received, Ordering::SeqCst);
    println!("FILE {path} bytes={received} conn={number}");
    Ok(())
}

async fn fetch_all(
    conn: &quinn::Connection,
    number: u64,
    paths: Vec<String>,
    parallel: usize,
    options: &Options,
    totals: &Arc<Totals>,
) -> Result<(), String> {
    let limit = if parallel == 0 { paths.len().max(1) } else { parallel };
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = Vec::new();
    for path in paths {
        let permit = permits.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let (conn, out, totals) = (conn.clone(), options.out.clone(), totals.clone());
        tasks.push(tokio::spawn(async move {
            let result = fetch(conn, number, path, out, totals).await;
            drop(permit);
            result
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn connect(
    endpoint: &quinn::Endpoint,
    remote: SocketAddr,
    server_name: &str,
    early: bool,
    totals: &Arc<Totals>,
) -> Result<(quinn::Connection, u64), String> {
    let connecting = endpoint.connect(remote, server_name).map_err(|e| e.to_string())?;
    let number = totals.connections.fetch_add(1, Ordering::SeqCst) + 1;
    let conn = if early {
        match connecting.into_0rtt() {
            Ok((conn, accepted)) => {
                let totals = totals.clone();
                tokio::spawn(async move {
                    if accepted.await {
                        totals.zero_rtt.fetch_add(1, Ordering::SeqCst);
                    }
                });
                conn
            }
            Err(_) => return Err("no session ticket for 0-RTT".to_string()),
        }
    } else {
        connecting.await.map_err(|e| format!("handshake {number}: {e}"))?
    };
    totals.established.store(true, Ordering::SeqCst);
    Ok((conn, number))
}

fn finish(conn: &quinn::Connection, totals: &Totals) {
    if let Some(data) = conn.handshake_data() {
        if let Ok(data) = data.downcast::<quinn::crypto::rustls::HandshakeData>() {
            if let Some(protocol) = data.protocol {
                *totals.alpn.lock().unwrap() = String::from_utf8_lossy(&protocol).into_owned();
            }
        }
    }
    totals.lost_packets.fetch_add(conn.stats().path.lost_packets, Ordering::SeqCst);
    conn.close(0u32.into(), b"");
}

async fn run(options: &Options, totals: Arc<Totals>, start: Instant) -> Result<(), String> {
    let first = &options.urls[0];
    let address = options.addr.clone().unwrap_or_else(|| {
        let has_port = if first.authority.starts_with('[') {
            !first.authority.ends_with(']')
        } else {
            first.authority.contains(':')
        };
        if has_port {
            first.authority.clone()
        } else {
            format!("{}:443", first.authority)
        }
    });
    let remote = address
        .to_socket_addrs()
        .map_err(|e| format!("resolving {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to nothing"))?;
    let server_name = options.sni.clone().unwrap_or_else(|| first.host.clone());
    let tickets = Arc::new(TicketStore {
        inner: rustls::client::ClientSessionMemoryCache::new(32),
        ticket: AtomicBool::new(false),
    });
    let bind = local_bind_address(&remote);
    let mut endpoint = quinn::Endpoint::client(bind).map_err(|e| format!("binding {bind}: {e}"))?;
    endpoint.set_default_client_config(client_config(options, tickets.clone())?);

    if let Some(delay) = options.rebind_after {
        let (endpoint, totals, verbose) = (endpoint.clone(), totals.clone(), options.verbose);
        tokio::spawn(async move {
            while !totals.established.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(delay).await;
            match UdpSocket::bind(bind).and_then(|socket| endpoint.rebind(socket)) {
                Ok(()) => {
                    totals.rebinds.fetch_add(1, Ordering::SeqCst);
                    if verbose {
                        eprintln!("quinn-hqclient: rebound to {:?}", endpoint.local_addr());
                    }
                }
                Err(e) => eprintln!("quinn-hqclient: rebind failed: {e}"),
            }
        });
    }

    let paths: Vec<String> = options.urls.iter().map(|u| u.path.clone()).collect();
    let parallel = if options.mode == "sequential" { 1 } else { options.parallel };
    let result = match options.mode.as_str() {
        "multiconnect" => {
            let mut result = Ok(());
            for path in paths {
                let (conn, number) = connect(&endpoint, remote, &server_name, false, &totals).await?;
                if options.key_update {
                    conn.force_key_update();
                    totals.key_updates.fetch_add(1, Ordering::SeqCst);
                }
                result = fetch_all(&conn, number, vec![path], 1, options, &totals).await;
                finish(&conn, &totals);
                if result.is_err() {
                    break;
                }
            }
            result
        }
        "resumption" | "zerortt" => {
            let (conn, number) = connect(&endpoint, remote, &server_name, false, &totals).await?;
            let mut result = fetch_all(&conn, number, paths[..1].to_vec(), 1, options, &totals).await;
            let deadline = Instant::now() + options.timeout;
            while result.is_ok() && !tickets.ticket.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    result = Err("no session ticket arrived".to_string());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            finish(&conn, &totals);
            if result.is_ok() {
                let early = options.mode == "zerortt";
                let (conn, number) = connect(&endpoint, remote, &server_name, early, &totals).await?;
                result = fetch_all(&conn, number, paths[1..].to_vec(), parallel, options, &totals).await;
                finish(&conn, &totals);
                if result.is_ok() && early && totals.zero_rtt.load(Ordering::SeqCst) == 0 {
                    result = Err("the server did not accept 0-RTT".to_string());
                }
            }
            result
        }
        _ => {
            let (conn, number) = connect(&endpoint, remote, &server_name, false, &totals).await?;
            if options.key_update {
                conn.force_key_update();
                totals.key_updates.fetch_add(1, Ordering::SeqCst);
            }
            let result = fetch_all(&conn, number, paths, parallel, options, &totals).await;
            finish(&conn, &totals);
            result
        }
    };
    totals.transfer_ms.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
    endpoint.close(0u32.into(), b"");
    // Let the CONNECTION_CLOSE go out; draining on loopback is short, but never wait long for it.
    let _ = tokio::time::timeout(Duration::from_millis(300), endpoint.wait_idle()).await;
    result
}

fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("quinn-hqclient: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let totals = Arc::new(Totals::default());
    let start = Instant::now();
    let outcome = runtime.block_on(async { tokio::time::timeout(options.timeout, run(&options, totals.clone(), start)).await });
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(_) => Some(format!(
            "timeout after {:?} ({} of {} files complete)",
            options.timeout,
            totals.files.load(Ordering::SeqCst),
            options.urls.len()
        )),
    };
    let mut stdout = std::io::stdout().lock();
    match error {
        None => {
            let _ = writeln!(
                stdout,
                "HQ_OK files={} bytes={} ms={} connections={} zerortt={} keyupdates_forced={} rebinds={} lost_packets={} alpn={}",
                totals.files.load(Ordering::SeqCst),
                totals.bytes.load(Ordering::SeqCst),
                totals.transfer_ms.load(Ordering::SeqCst),
                totals.connections.load(Ordering::SeqCst),
                totals.zero_rtt.load(Ordering::SeqCst),
                totals.key_updates.load(Ordering::SeqCst),
                totals.rebinds.load(Ordering::SeqCst),
                totals.lost_packets.load(Ordering::SeqCst),
                totals.alpn.lock().unwrap(),
            );
            let _ = stdout.flush();
            std::process::exit(0);
        }
        Some(message) => {
            let _ = writeln!(stdout, "HQ_FAILED {}", message.replace('\n', " "));
            let _ = stdout.flush();
            std::process::exit(1);
        }
    }
}
