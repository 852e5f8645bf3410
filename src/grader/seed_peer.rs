//! The test side of the seeds' own chat bytes (`--wire seed` of the chatroom and chat
//! programs): no newlines, one message per write, and one `recv(1024)` taken as one message, as
//! the seeds' Python programs do. A peer that reads once sees one message only if it left in one
//! write, so a check counts the writes ([`SeedPeer::segments`], from TCP_INFO), never guesses
//! them from one read.
//!
//! Like [`super::LinePeer`], every read and write has a time limit, and what is sent and
//! received goes into the check's transcript.

use super::context::Context;
use super::{data_segments_in, secs, WAIT};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

/// A TCP connection that speaks the seeds' bytes; `who` names it in every message.
pub struct SeedPeer {
    stream: TcpStream,
    who: String,
}

impl SeedPeer {
    /// Connects to `to` within [`WAIT`].
    pub fn connect(to: SocketAddr, who: &str) -> Result<SeedPeer, String> {
        let stream = TcpStream::connect_timeout(&to, WAIT)
            .with_context(|| format!("{who} connecting to the server at {to}"))?;
        SeedPeer::new(stream, who)
    }

    /// Wraps a connected stream: one a check opened (`tcp_from`), or one a stand-in accepted.
    pub fn new(stream: TcpStream, who: &str) -> Result<SeedPeer, String> {
        stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_write_timeout(Some(WAIT)))
            .context("setting the test socket's timeouts")?;
        Ok(SeedPeer {
            stream,
            who: who.to_string(),
        })
    }

    /// Sends `text` as it is, in one write and without a newline, as the seeds do.
    pub fn send(&mut self, text: &str) -> Result<(), String> {
        super::transcript::note(&self.who, "sent", text);
        self.stream
            .write_all(text.as_bytes())
            .with_context(|| format!("{} sending {text:?}", self.who))
    }

    /// Reads until exactly the bytes of `want` came (within [`WAIT`]); anything else, a newline
    /// included, is a failure that shows what came.
    pub fn expect(&mut self, want: &str) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        while got.len() < want.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.stream
                .set_read_timeout(Some(left))
                .context("setting the test socket's timeout")?;
            let mut buf = [0u8; 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    let closed = format!("{}: the connection was closed", self.who);
                    super::transcript::event(&closed);
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // A signal stopped and resumed the read (the machine's other processes being
                // frozen and thawed): read on until the deadline.
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            if !want
                .as_bytes()
                .starts_with(&got[..got.len().min(want.len())])
            {
                break;
            }
        }
        let text = String::from_utf8_lossy(&got);
        if !got.is_empty() {
            super::transcript::note(&self.who, "received", &text);
        }
        if got != want.as_bytes() {
            return Err(format!(
                "{} expected the seed's bytes {want:?} (no newline) within {}, got {:?}",
                self.who,
                secs(WAIT),
                text
            ));
        }
        Ok(())
    }

    /// How many data segments this socket has received so far: read it before asking for a
    /// message and after the whole message came, the difference is the number of writes.
    pub fn segments(&self) -> Result<u32, String> {
        data_segments_in(&self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn expects_exact_bytes_and_says_what_came() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = SeedPeer::connect(listener.local_addr().unwrap(), "amy").unwrap();
        let (mut other, _) = listener.accept().unwrap();
        other.write_all(b"NICKNAME").unwrap();
        peer.expect("NICKNAME").unwrap();
        peer.send("amy").unwrap();
        let mut buf = [0u8; 3];
        other.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"amy");
        other.write_all(b"amy joined!\n").unwrap();
        let err = peer.expect("amy joined!").unwrap_err();
        assert!(err.contains(r#"got "amy joined!\n""#), "{err}");
    }
}
