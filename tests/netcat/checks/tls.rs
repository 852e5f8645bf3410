//! Milestone 5: netcat's TLS against the grader's own TLS side (rustls, through
//! `socklab::tls`), both ways: the certificate it presents or accepts, data both ways, and the
//! half-close over TLS, which is a close_notify alert before the FIN.

use super::{listening, stderr_line, NETCAT};
use base64::Engine;
use socklab::grader::{Context, Ctx, Program, StandIn, WAIT};
use socklab::tls::{self, rustls, Identity, Trust};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
type Server = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// A TLS client (trusting any certificate, as netcat's default) connected to `addr`, its
/// handshake done.
fn tls_connect(addr: SocketAddr, nc: &Program) -> Result<Client, String> {
    let config = tls::client_config(Trust::Anyone)?;
    let conn = rustls::ClientConnection::new(config, tls::server_name("localhost")?)
        .context("TLS client setup")?;
    let tcp =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    tcp.set_read_timeout(Some(WAIT))
        .context("the test socket")?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| nc.explain(format!("the TLS handshake with netcat failed: {e}")))?;
    }
    Ok(tls)
}

/// The server side of TLS on an accepted connection, its handshake done.
fn tls_accept(stream: TcpStream, identity: &Identity, nc: &Program) -> Result<Server, String> {
    let conn =
        rustls::ServerConnection::new(tls::server_config(identity)?).context("TLS server setup")?;
    stream
        .set_read_timeout(Some(WAIT))
        .context("the test socket")?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| nc.explain(format!("the TLS handshake with netcat failed: {e}")))?;
    }
    Ok(tls)
}

/// How a TLS stream ended, read to its end within [`WAIT`].
enum End {
    /// close_notify: netcat said it is done sending.
    CloseNotify,
    /// The TCP stream ended without a close_notify.
    Cut,
    /// Nothing ended within the time.
    None,
}

fn read_to_end(stream: &mut impl Read, sock: &TcpStream) -> Result<(Vec<u8>, End), String> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((got, End::None));
        }
        sock.set_read_timeout(Some(left))
            .context("the test socket")?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok((got, End::CloseNotify)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok((got, End::Cut)),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok((got, End::None))
            }
            Err(e) => return Err(format!("the TLS connection with netcat failed: {e}")),
        }
    }
}

/// Reads one line (up to `\n`) from a TLS stream within [`WAIT`].
fn read_line(stream: &mut impl Read, nc: &Program, what: &str) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            Ok(_) => {
                return Err(nc.explain(format!(
                    "expected {what}; the TLS stream ended after {:?}",
                    String::from_utf8_lossy(&line)
                )))
            }
            Err(e) => {
                return Err(nc.explain(format!(
                    "expected {what}; got {:?}, then {e}",
                    String::from_utf8_lossy(&line)
                )))
            }
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

fn printed(nc: &Program, want: &str) -> Result<(), String> {
    nc.expect_line(
        &format!("`{want}` printed (it arrived over TLS)"),
        WAIT,
        |l| l == want,
    )
    .map(|_| ())
    .map_err(|e| nc.explain(e))
}

/// Both ways, then netcat's stdin ends (a close_notify must come), then the test side's last
/// words, close_notify and FIN (netcat must print them and exit 0).
fn talk(mut nc: Program, tls: &mut impl TlsEnd) -> Result<(), String> {
    tls.write_all(b"hello over tls\n")
        .context("sending over TLS")?;
    tls.flush().context("sending over TLS")?;
    printed(&nc, "hello over tls")?;
    nc.send_line("hello back")?;
    let line = read_line(tls, &nc, "`hello back` typed into netcat")?;
    if line != "hello back" {
        return Err(format!(
            "typed `hello back` into netcat; the TLS peer read {line:?}"
        ));
    }
    nc.close_stdin();
    let sock = tls.socket().try_clone().context("the test socket")?;
    match read_to_end(tls, &sock)? {
        (rest, End::CloseNotify) if rest.is_empty() => {}
        (rest, End::CloseNotify) => return Err(format!("unexpected bytes {:?} after `hello back`", String::from_utf8_lossy(&rest))),
        (_, End::Cut) => {
            return Err(nc.explain(
                "netcat's stdin ended and its TCP stream ended without a TLS close_notify: over TLS the half-close is send_close_notify, then the FIN".into(),
            ))
        }
        (_, End::None) => {
            return Err(nc.explain(format!("netcat's stdin ended, but no close_notify came within {} s", WAIT.as_secs())))
        }
    }
    tls.write_all(b"last words\n")
        .context("sending after netcat's close_notify")?;
    tls.close_notify();
    tls.flush().context("sending close_notify")?;
    tls.socket().shutdown(Shutdown::Write).context("closing")?;
    printed(&nc, "last words")?;
    let (_, status) = nc.finish(WAIT)?;
    if !status.success() {
        return Err(format!(
            "after the peer's close_notify and FIN netcat should exit 0; {status}"
        ));
    }
    Ok(())
}

/// The test side of a TLS connection, client or server.
trait TlsEnd: Read + Write {
    fn socket(&self) -> &TcpStream;
    fn close_notify(&mut self);
}

impl TlsEnd for Client {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
    fn close_notify(&mut self) {
        self.conn.send_close_notify();
    }
}

impl TlsEnd for Server {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
    fn close_notify(&mut self) {
        self.conn.send_close_notify();
    }
}

/// The fingerprint netcat's `-v` gives for its certificate.
fn said_fingerprint(nc: &Program) -> Result<String, String> {
    let line = stderr_line(nc, "a `-v` line `SHA-256 fingerprint: AB:CD:…`", |l| {
        l.contains("SHA-256 fingerprint:")
    })?;
    Ok(line
        .rsplit("fingerprint:")
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

fn seen_fingerprint(tls: &Client) -> Result<String, String> {
    let certs = tls
        .conn
        .peer_certificates()
        .ok_or("netcat presented no certificate")?;
    Ok(tls::fingerprint(
        certs.first().ok_or("netcat presented no certificate")?,
    ))
}

pub(super) fn tls_listener(ctx: &Ctx) -> Result<(), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let nc = ctx.spawn(NETCAT, &["-v", "-l", "--ssl", &host, "0"])?;
    let addr = listening(&nc)?;
    let said = said_fingerprint(&nc)?;
    let mut tls = tls_connect(addr, &nc)?;
    let seen = seen_fingerprint(&tls)?;
    if said != seen {
        return Err(format!("netcat -v said its certificate's SHA-256 fingerprint is {said}, but it presented {seen}"));
    }
    talk(nc, &mut tls)
}

/// Where the test TLS servers listen: 127.0.0.1 on loopback, client1 across hosts.
fn server_ip(ctx: &Ctx) -> String {
    ctx.ip("client1", [127, 0, 0, 1]).to_string()
}

/// A certificate for the test TLS servers, naming the address netcat connects to.
fn server_identity(ctx: &Ctx) -> Result<Identity, String> {
    tls::self_signed(&["localhost", &server_ip(ctx)])
}

pub(super) fn tls_client(ctx: &Ctx) -> Result<(), String> {
    let identity = server_identity(ctx)?;
    let host = server_ip(ctx);
    let hub = StandIn::listen((host.as_str(), 0))?;
    let port = hub.port();
    let nc = ctx.spawn(NETCAT, &["--ssl", &host, &port])?;
    let (stream, _) = hub.next("connection from netcat --ssl", &nc)?;
    let mut tls = tls_accept(stream, &identity, &nc)?;
    talk(nc, &mut tls)
}

pub(super) fn tls_verify(ctx: &Ctx) -> Result<(), String> {
    let identity = server_identity(ctx)?;
    let dir = ctx.scratch_dir();
    let right = dir.join("right.pem");
    std::fs::write(&right, &identity.cert_pem).context("writing the certificate")?;
    let wrong = dir.join("wrong.pem");
    std::fs::write(&wrong, &server_identity(ctx)?.cert_pem)
        .context("writing another certificate")?;
    for (file, good) in [(&right, true), (&wrong, false)] {
        let host = server_ip(ctx);
        let hub = StandIn::listen((host.as_str(), 0))?;
        let port = hub.port();
        let trust = file.display().to_string();
        let mut nc = ctx.spawn(
            NETCAT,
            &["--ssl-verify", "--ssl-trustfile", &trust, &host, &port],
        )?;
        let (stream, _) = hub.next("connection from netcat --ssl-verify", &nc)?;
        let accepted = tls_accept(stream, &identity, &nc);
        if good {
            let mut tls =
                accepted.map_err(|e| format!("trusting the server's own certificate: {e}"))?;
            nc.send_line("verified")?;
            let line = read_line(&mut tls, &nc, "`verified` typed into netcat")?;
            if line != "verified" {
                return Err(format!("typed `verified`; the server read {line:?}"));
            }
        } else {
            let (_, status) = nc.finish(WAIT).map_err(|e| format!("a certificate the trust file does not hold: netcat should give up at once: {e}"))?;
            let err = nc.stderr();
            let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
            if accepted.is_ok() && status.success() || status.code() != Some(1) || lines != 1 {
                return Err(format!(
                    "with --ssl-trustfile holding another certificate, netcat must refuse the server: one line on stderr, exit 1; it {status} after {lines} line(s)"
                ));
            }
        }
    }
    Ok(())
}

/// The private key of an identity in PEM (PKCS#8), as `--ssl-key` reads it.
fn key_pem(identity: &Identity) -> Result<String, String> {
    let rustls::pki_types::PrivateKeyDer::Pkcs8(key) = &identity.key else {
        return Err("the test key is not PKCS#8".into());
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(key.secret_pkcs8_der());
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    ))
}

pub(super) fn tls_cert_files(ctx: &Ctx) -> Result<(), String> {
    let identity = server_identity(ctx)?;
    let dir = ctx.scratch_dir();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &identity.cert_pem).context("writing the certificate")?;
    std::fs::write(&key, key_pem(&identity)?).context("writing the key")?;
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let nc = ctx.spawn(
        NETCAT,
        &[
            "-v",
            "-l",
            "--ssl",
            "--ssl-cert",
            &cert,
            "--ssl-key",
            &key,
            &host,
            "0",
        ],
    )?;
    let addr = listening(&nc)?;
    let mut tls = tls_connect(addr, &nc)?;
    let seen = seen_fingerprint(&tls)?;
    if seen != identity.fingerprint() {
        return Err(format!(
            "netcat should present the certificate of --ssl-cert ({}), it presented {seen}",
            identity.fingerprint()
        ));
    }
    tls.write_all(b"with my own certificate\n")
        .context("sending over TLS")?;
    tls.flush().context("sending over TLS")?;
    printed(&nc, "with my own certificate")?;
    Ok(())
}
