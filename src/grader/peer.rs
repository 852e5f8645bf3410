//! The test side of a line protocol: a TCP connection that sends lines or raw bytes and reads
//! lines with deadlines. Checks use it as a client of a student's server, and stand-in servers
//! ([`super::StandIn`]) use it on the connections they accept from a student's client.
//!
//! Every read and write has a time limit, so a silent or stuck program fails the check with a
//! sentence instead of hanging it.

use super::context::Context;
use super::{secs, QUIET, WAIT};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A line-oriented TCP peer; `who` names it in every message ("alice", "the test server").
pub struct LinePeer {
    who: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// The start of a line whose rest had not arrived when a read timed out.
    pending: Vec<u8>,
}

/// A line [`LinePeer::expect`] waited for, and the lines that came before it.
#[derive(Debug)]
pub struct Found {
    pub line: String,
    pub before: Vec<String>,
}

impl LinePeer {
    /// Connects to `to` within [`WAIT`].
    pub fn connect(to: SocketAddr, who: &str) -> Result<LinePeer, String> {
        let stream = TcpStream::connect_timeout(&to, WAIT)
            .with_context(|| format!("{who} connecting to the server at {to}"))?;
        LinePeer::new(stream, who)
    }

    /// Connects to `to` from local address `from` (bound before connecting), as a host with
    /// that address would: Linux routes all of 127.0.0.0/8 to loopback. Across netlab's hosts
    /// the socket is made on the host that has `from` ([`super::hosts::at`]).
    pub fn connect_from(to: SocketAddr, from: IpAddr, who: &str) -> Result<LinePeer, String> {
        LinePeer::new(tcp_from(to, from, who, None)?, who)
    }

    /// Wraps a connected stream, giving it read and write timeouts of [`WAIT`].
    pub fn new(stream: TcpStream, who: &str) -> Result<LinePeer, String> {
        stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_read_timeout(Some(WAIT)))
            .and_then(|()| stream.set_write_timeout(Some(WAIT)))
            .context("setting the test socket's timeouts")?;
        let reader = BufReader::new(stream.try_clone().context("cloning a test socket")?);
        Ok(LinePeer {
            who: who.to_string(),
            stream,
            reader,
            pending: Vec::new(),
        })
    }

    /// Who this peer is, for messages.
    pub fn who(&self) -> &str {
        &self.who
    }

    /// The connection itself (its addresses, `shutdown`, a clone for another thread).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends `line` and a newline.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        self.send_raw(format!("{line}\n").as_bytes())
    }

    /// Sends bytes as they are: half a line, invalid UTF-8, a huge line.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        super::transcript::note(&self.who, "sent", &String::from_utf8_lossy(bytes));
        self.stream
            .write_all(bytes)
            .with_context(|| format!("{} sending", self.who))
    }

    /// The next line if one arrives within `within`, `None` if none does; an error when the
    /// connection was closed or failed.
    pub fn next_within(&mut self, within: Duration) -> Result<Option<String>, String> {
        let deadline = Instant::now() + within;
        loop {
            match self.read_line_within(deadline.saturating_duration_since(Instant::now())) {
                // A read with a timeout that a signal stopped and resumed (the machine's other
                // processes being frozen and thawed) fails with EINTR: read on until the deadline.
                Err(e) if e.kind() == ErrorKind::Interrupted && Instant::now() < deadline => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(None),
                other => {
                    return other.map_err(|e| format!("setting the test socket's timeout: {e}"))?
                }
            }
        }
    }

    fn read_line_within(
        &mut self,
        within: Duration,
    ) -> std::io::Result<Result<Option<String>, String>> {
        self.stream
            .set_read_timeout(Some(within.max(Duration::from_millis(1))))?;
        let mut buf = std::mem::take(&mut self.pending);
        Ok(match self.reader.read_until(b'\n', &mut buf) {
            // A last line without its newline still counts: the connection ends it.
            Ok(0) if buf.is_empty() => {
                super::transcript::event(&format!("{}: the connection was closed", self.who));
                Err(format!("the connection of {} was closed", self.who))
            }
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                super::transcript::note(&self.who, "received", &line);
                Ok(Some(line))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // A part of a line may have been read: keep it for the next read.
                self.pending = buf;
                Ok(None)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                self.pending = buf;
                return Err(e);
            }
            Err(e) => Err(format!("the connection of {} failed: {e}", self.who)),
        })
    }

    /// The next line, within [`WAIT`]; silence is an error too.
    pub fn line(&mut self) -> Result<String, String> {
        self.next_within(WAIT)?
            .ok_or_else(|| format!("{} received no line within {}", self.who, secs(WAIT)))
    }

    /// The very next line must be `want`.
    pub fn expect_next(&mut self, want: &str) -> Result<(), String> {
        match self.next_within(WAIT) {
            Ok(Some(line)) if line == want => Ok(()),
            Ok(Some(line)) => Err(format!(
                "{} expected `{want}` first, got {line:?}",
                self.who
            )),
            Ok(None) => Err(format!(
                "{} expected `{want}` within {}; got nothing",
                self.who,
                secs(WAIT)
            )),
            Err(e) => Err(format!("{} expected `{want}`: {e}", self.who)),
        }
    }

    /// Reads lines until one satisfies `want`, within [`WAIT`]; `what` describes it for the
    /// error, which also shows the last lines that came instead.
    pub fn expect(&mut self, what: &str, want: impl Fn(&str) -> bool) -> Result<Found, String> {
        let deadline = Instant::now() + WAIT;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left) {
                Ok(Some(line)) if want(&line) => return Ok(Found { line, before }),
                Ok(Some(line)) => before.push(line),
                Ok(None) => {
                    return Err(format!(
                        "{} expected {what} within {}; got {}",
                        self.who,
                        secs(WAIT),
                        shown(&before)
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "{} expected {what}, but {e}; got {} before",
                        self.who,
                        shown(&before)
                    ))
                }
            }
        }
    }

    /// Reads lines until one equals `want`; returns the lines before it.
    pub fn expect_line(&mut self, want: &str) -> Result<Vec<String>, String> {
        Ok(self.expect(&format!("`{want}`"), |l| l == want)?.before)
    }

    /// Everything that arrives within `within` (nothing is an empty list).
    pub fn quiet(&mut self, within: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(seen);
            }
            match self.next_within(left)? {
                Some(line) => seen.push(line),
                None => return Ok(seen),
            }
        }
    }

    /// Nothing may arrive within [`QUIET`]; `why` says what a line would mean.
    pub fn assert_quiet(&mut self, why: &str) -> Result<(), String> {
        match self.quiet(QUIET)?.as_slice() {
            [] => Ok(()),
            lines => Err(format!("{} got {}: {why}", self.who, shown(lines))),
        }
    }

    /// Whether the other side closes the connection within `within` (lines before are skipped).
    pub fn closes(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.next_within(left) {
                Ok(Some(_)) => continue,
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    }
}

/// Lines as a student reads them in a failure: `nothing`, one line quoted, or the last few.
/// An `Option<String>` line is shown with `shown(line.as_slice())`, never as Rust's `Some(…)`.
pub fn shown(lines: &[String]) -> String {
    match lines.len() {
        0 => "nothing".to_string(),
        1 => format!("{:?}", lines[0]),
        n if n > 6 => format!("{:?} … ({n} lines)", &lines[n - 6..]),
        _ => format!("{lines:?}"),
    }
}

/// How many TCP segments carrying data `stream` has received so far (Linux's
/// `tcpi_data_segs_in`). A message far below the MSS that the sender hands to one `write` leaves
/// as one segment, while a sender that writes it piece by piece sends several (the first piece
/// leaves at once, since nothing is in flight), so the count tells how many writes a message took:
/// the seeds' Python peers read once (`recv(1024)`) and would get only the first piece. Read the
/// count before the message is asked for and after all of it came; the difference is the number
/// of writes. Unlike a single read, this does not depend on how fast the grader's thread wakes.
pub fn data_segments_in(stream: &TcpStream) -> Result<u32, String> {
    let (info, len) = tcp_info(stream)?;
    let field_end = std::mem::offset_of!(libc::tcp_info, tcpi_data_segs_in) + 4;
    if len < field_end {
        return Err("this kernel does not count data segments (Linux 4.6 or later does)".into());
    }
    Ok(info.tcpi_data_segs_in)
}

/// Whether the other side of `stream` has closed or reset the connection, read from the
/// kernel's TCP state (CLOSE_WAIT after its FIN, CLOSE after a reset) without reading any data:
/// for a check whose peer must not read what is waiting.
pub fn peer_closed(stream: &TcpStream) -> bool {
    // Linux's TCP states: 7 CLOSE, 8 CLOSE_WAIT.
    tcp_info(stream).is_ok_and(|(info, _)| matches!(info.tcpi_state, 7 | 8))
}

/// The kernel's TCP_INFO for `stream`, and how many bytes of it the kernel filled: the kit's
/// one reader of it (segments sent, unacknowledged, the connection's state).
pub fn tcp_info(stream: &TcpStream) -> Result<(libc::tcp_info, usize), String> {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain old data; the kernel fills at most `len` bytes of it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a valid socket, a buffer of `len` bytes and its length.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(format!(
            "reading the test socket's TCP counters: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((info, len as usize))
}

/// A TCP connection to `to` from local address `from`, as a host with that address would make
/// it (Linux routes all of 127.0.0.0/8 to loopback; across netlab's hosts the socket is made on
/// the host that has `from`, [`super::hosts::at`]). `recv_buffer` is set before connecting, when
/// it still shapes the window the peer is offered.
pub fn tcp_from(
    to: SocketAddr,
    from: IpAddr,
    who: &str,
    recv_buffer: Option<usize>,
) -> Result<TcpStream, String> {
    let domain = if from.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket = super::hosts::at(from, || {
        Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
    })
    .context("creating a test socket")?;
    if let Some(size) = recv_buffer {
        let _ = socket.set_recv_buffer_size(size);
    }
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .with_context(|| format!("binding a test socket to {from}"))?;
    socket
        .connect_timeout(&to.into(), WAIT)
        .with_context(|| format!("{who} connecting to the server at {to} from {from}"))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connected pair: the peer under test and the raw other end.
    fn pair() -> (LinePeer, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = LinePeer::connect(listener.local_addr().unwrap(), "tester").unwrap();
        let (other, _) = listener.accept().unwrap();
        (peer, other)
    }

    #[test]
    fn half_a_line_waits_for_its_rest_across_a_timeout() {
        let (mut peer, mut other) = pair();
        other.write_all(b"hel").unwrap();
        assert_eq!(peer.next_within(Duration::from_millis(50)).unwrap(), None);
        other.write_all(b"lo\nnext\n").unwrap();
        assert_eq!(peer.line().unwrap(), "hello");
        assert_eq!(peer.line().unwrap(), "next");
    }

    #[test]
    fn expect_says_what_came_instead_and_quiet_collects() {
        let (mut peer, mut other) = pair();
        other.write_all(b"a\nb\nwanted\nlate\n").unwrap();
        let found = peer.expect("`wanted`", |l| l == "wanted").unwrap();
        assert_eq!((found.line.as_str(), found.before.len()), ("wanted", 2));
        assert_eq!(peer.quiet(Duration::from_millis(100)).unwrap(), ["late"]);
        assert!(peer.assert_quiet("nothing more is due").is_ok());
        drop(other);
        let err = peer.expect("`more`", |l| l == "more").unwrap_err();
        assert!(err.contains("closed"), "{err}");
        assert!(peer.closes(Duration::from_millis(100)));
    }

    #[test]
    fn lines_show_as_text_never_as_some() {
        assert_eq!(shown(&[]), "nothing");
        assert_eq!(shown(Some("hi".to_string()).as_slice()), "\"hi\"");
        let many: Vec<String> = (0..9).map(|i| i.to_string()).collect();
        assert!(shown(&many).ends_with("(9 lines)"));
    }

    #[test]
    fn data_segments_count_the_writes_of_a_small_message() {
        let (peer, mut server) = pair();
        let before = data_segments_in(peer.stream()).unwrap();
        server.write_all(b"{\"one\": 1}").unwrap();
        // Long enough for the ACK: with data in flight, Nagle would glue the pieces below.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(data_segments_in(peer.stream()).unwrap() - before, 1);
        for piece in [&b"{"[..], b"\"two\"", b": 2}"] {
            server.write_all(piece).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(data_segments_in(peer.stream()).unwrap() - before >= 3);
    }
}
