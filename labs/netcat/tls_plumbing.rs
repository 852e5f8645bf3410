//! Given code of netcat (no blanks): TLS shared by the two copy threads, the TLS configuration
//! the options ask for, and the certificate's fingerprint for `-v`. The handshake and the
//! half-close over TLS are the lesson, in netcat.rs.

use super::options::{Config, TlsOptions};
use super::{lock, say, Halves, BUF};
use socklab::tls::{self, rustls, Trust};
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

// TLS shared by the two copy threads.
//
// rustls keeps a session in one object (`rustls::Connection`) that both directions update:
// decrypting needs the keys the handshake made, and a received alert may need an answer. So the
// object sits behind a lock. The socket does not: the receiving thread waits for bytes from the
// network *without* the lock, so the sending thread can encrypt and send meanwhile, and the
// sending thread writes records to the socket without the session lock, so a peer that is slow
// to read cannot stop us from reading. A second lock (`sending`) keeps records in order on the
// wire: it is taken before the session lock is let go.

pub(super) struct TlsShared {
    pub(super) session: Mutex<rustls::Connection>,
    /// Held while records go out on `tcp`, so two threads never interleave them.
    pub(super) sending: Mutex<()>,
    pub(super) tcp: TcpStream,
}

impl TlsShared {
    /// Sends the records the session has queued (data, alerts), in order.
    pub(super) fn send_records(
        &self,
        mut session: MutexGuard<'_, rustls::Connection>,
        records: &mut Vec<u8>,
    ) -> io::Result<()> {
        records.clear();
        while session.wants_write() {
            session.write_tls(records)?;
        }
        let _order = lock(&self.sending);
        drop(session);
        (&self.tcp).write_all(records)
    }
}

/// The receiving half: plaintext out of the records read from the socket.
pub(super) struct TlsReceive {
    shared: Arc<TlsShared>,
    /// Bytes read from the socket that the session has not taken yet.
    raw: Vec<u8>,
    start: usize,
    end: usize,
}

impl Read for TlsReceive {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut session = lock(&self.shared.session);
            match session.reader().read(buf) {
                // Ok(0) is the peer's close_notify: a clean end of its half.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    // The TCP stream ended without a close_notify: nothing proves that the
                    // peer meant to stop here (an attacker could have cut the stream). Ncat
                    // takes it as the end; so do we, but we say so.
                    log::warn!("the peer closed the connection without a TLS close_notify");
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            if self.start == self.end {
                // Wait for the network without holding the session.
                drop(session);
                self.start = 0;
                self.end = (&self.shared.tcp).read(&mut self.raw)?;
                session = lock(&self.shared.session);
            }
            // An empty slice tells the session that the TCP stream has ended.
            let mut unread = &self.raw[self.start..self.end];
            let taken = session.read_tls(&mut unread)?;
            self.start += taken;
            let processed = session.process_new_packets();
            if session.wants_write() {
                // An alert to send (after an error, say): only if the sending thread is not
                // busy, else it goes out with that thread's next records.
                if let Ok(_order) = self.shared.sending.try_lock() {
                    let mut records = Vec::new();
                    while session.wants_write() {
                        session.write_tls(&mut records)?;
                    }
                    drop(session);
                    (&self.shared.tcp).write_all(&records)?;
                }
            }
            processed.map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        }
    }
}

/// The sending half: plaintext in, records out.
pub(super) struct TlsSend {
    pub(super) shared: Arc<TlsShared>,
    /// Reused for every write, so sending allocates nothing.
    pub(super) records: Vec<u8>,
}

impl Write for TlsSend {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut session = lock(&self.shared.session);
        // The session takes what fits in its buffer (at least one record's worth).
        let n = session.writer().write(buf)?;
        self.shared.send_records(session, &mut self.records)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// TLS settings: the server's configuration (listening) or the client's (connecting).
pub(super) enum TlsSide {
    Server(Arc<rustls::ServerConfig>),
    Client(Arc<rustls::ClientConfig>, String),
}

impl Halves {
    /// A TLS session on `stream`, after its handshake: both threads share the session.
    pub(super) fn tls(session: rustls::Connection, stream: TcpStream) -> io::Result<Halves> {
        let shared = Arc::new(TlsShared {
            session: Mutex::new(session),
            sending: Mutex::new(()),
            tcp: stream.try_clone()?,
        });
        Ok(Halves {
            receive: Box::new(TlsReceive {
                shared: Arc::clone(&shared),
                raw: vec![0; BUF],
                start: 0,
                end: 0,
            }),
            send: Box::new(TlsSend {
                shared,
                records: Vec::with_capacity(BUF + 4096),
            }),
            socket: Some(stream),
        })
    }
}

/// With `-v`, a client says the fingerprint of the certificate it received.
pub(super) fn say_fingerprint(side: &TlsSide, session: &rustls::Connection, verbose: bool) {
    if let (TlsSide::Client(..), Some(certs)) = (side, session.peer_certificates()) {
        if let Some(cert) = certs.first() {
            say(
                verbose,
                &format!("SHA-256 fingerprint: {}", tls::fingerprint(cert)),
            );
        }
    }
}

/// The TLS configuration the options ask for: for a listener, the certificate from files or a
/// new self-signed one (its fingerprint said with -v); for a client, what it trusts.
pub(super) fn tls_side(cfg: &Config, opts: &TlsOptions) -> Result<TlsSide, String> {
    if cfg.listen {
        let identity = match &opts.cert {
            Some((cert, key)) => tls::identity_from_files(cert, key)?,
            None => {
                say(
                    cfg.verbose,
                    "Generating a temporary self-signed certificate. Use --ssl-key and --ssl-cert to use a permanent one.",
                );
                tls::self_signed(&["localhost", "127.0.0.1", &cfg.host])?
            }
        };
        say(
            cfg.verbose,
            &format!("SHA-256 fingerprint: {}", identity.fingerprint()),
        );
        // No TLS 1.3 session tickets: netcat never resumes a session, and a `--send-only` peer
        // never reads them, so its close with them unread would reach us as a reset.
        let mut config = (*tls::server_config(&identity)?).clone();
        config.send_tls13_tickets = 0;
        Ok(TlsSide::Server(Arc::new(config)))
    } else {
        let trust = match (&opts.trustfile, opts.verify) {
            (Some(file), _) => Trust::File(file),
            (None, true) => Trust::WebRoots,
            (None, false) => Trust::Anyone,
        };
        Ok(TlsSide::Client(
            tls::client_config(trust)?,
            cfg.host.clone(),
        ))
    }
}
