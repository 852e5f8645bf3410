//! HTTP on the test side: a connection to the student's webapp (plain or inside TLS) that sends
//! raw bytes and reads responses, and the requests the stand-in servers that test http_get
//! read. Every read and write gives up after [`WAIT`]. The reader is the harness's
//! ([`socklab::grader::http`]), shared with the xmlrpc checks.

use socklab::grader::http::{self, Sender};
pub(super) use socklab::grader::http::{connect, read_reply, set_timeouts, Reply, Request};
use socklab::grader::{Context, WAIT};
use socklab::tls::{self, rustls, Trust};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// A byte stream both ways: TCP, or TLS around it.
pub(super) trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A connection to the student's server.
pub(super) struct Conn {
    reader: BufReader<Box<dyn Stream>>,
    /// The TCP socket under it, for timeouts.
    tcp: TcpStream,
}

impl Conn {
    /// A plain TCP connection.
    pub(super) fn tcp(addr: SocketAddr) -> Result<Conn, String> {
        let tcp = connect(addr)?;
        let clone = tcp.try_clone().context("cloning the test socket")?;
        Ok(Conn {
            reader: BufReader::new(Box::new(tcp)),
            tcp: clone,
        })
    }

    /// A TLS connection trusting the certificates in `pem`, asking for server name `localhost`.
    pub(super) fn tls(addr: SocketAddr, pem: &Path) -> Result<Conn, String> {
        let tcp = connect(addr)?;
        let clone = tcp.try_clone().context("cloning the test socket")?;
        let config = tls::client_config(Trust::File(pem))?;
        let conn = rustls::ClientConnection::new(config, tls::server_name("localhost")?)
            .context("starting TLS")?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        // The handshake, now: a certificate the test does not trust fails here, with its reason.
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .context("the TLS handshake with the server")?;
        }
        Ok(Conn {
            reader: BufReader::new(Box::new(stream)),
            tcp: clone,
        })
    }

    /// Sends `bytes` as they are.
    pub(super) fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .context("sending to the server")
    }

    /// Closes the sending side of the TCP connection (the server reads the end of the stream).
    pub(super) fn finish_sending(&mut self) -> Result<(), String> {
        self.tcp
            .shutdown(std::net::Shutdown::Write)
            .context("closing the test's sending side")
    }

    /// Reads one response; `head_only` for the answer to a HEAD request (no body follows).
    /// `request` names what it answers, for the errors.
    pub(super) fn reply(&mut self, request: &str, head_only: bool) -> Result<Reply, String> {
        read_reply(&mut self.reader, head_only)
            .with_context(|| format!("the response to {request}"))
    }

    /// Whether the server closes the connection within `within` (reading nothing more);
    /// `Ok(false)` when it stays open; bytes arriving are an error.
    pub(super) fn closes(&mut self, within: Duration) -> Result<bool, String> {
        self.tcp
            .set_read_timeout(Some(within))
            .context("setting a read timeout")?;
        let mut byte = [0u8; 1];
        let outcome = match self.reader.read(&mut byte) {
            Ok(0) => Ok(true),
            Ok(_) => Err(format!(
                "the server sent bytes ({:?}…) where it should have sent nothing more",
                String::from_utf8_lossy(self.reader.buffer())
            )),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            // A reset closes it too.
            Err(_) => Ok(true),
        };
        let _ = self.tcp.set_read_timeout(Some(WAIT));
        outcome
    }
}

/// Reads a request's head from http_get (and the body its Content-Length announces).
pub(super) fn read_request(reader: &mut impl BufRead) -> Result<Request, String> {
    http::read_request(reader, &Sender::client("http_get"))
}

/// A GET of `target` closing the connection.
pub(super) fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A GET of `target` keeping the connection open.
pub(super) fn keep_request(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}
