//! `--wire lines|seed`: which framing the chat-room and chat programs speak, and the words
//! the four programs (chatroom_server, chatroom_client, chatserver, chatclient) frame with.
//!
//! Each lab file frames with two functions under the same names in all four:
//! `read_message(reader, wire)` (one message in the framing `wire` says:
//! `Result<Option<String>, ReadError>`) and `write_message(out, line, wire)` (one message in a
//! single write: `io::Result<()>`). What the four share is here, given: the switch ([`Wire`],
//! [`option`]), why a message could not be read ([`ReadError`]), one bounded line
//! ([`read_line`], the framing the labs teach) and the seed's framing ([`read_recv`]).

use std::fmt;
use std::io::{self, BufRead, Read};
use std::str::FromStr;

/// How messages are cut apart on a TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wire {
    /// Every message ends with `\n`, so the receiver finds its end whatever TCP's segments
    /// are. The default, and what the labs teach.
    #[default]
    Lines,
    /// The seeds' own bytes: no newline anywhere; one message is one `send`, and the receiver
    /// takes what one `recv(1024)` returns as one message. TCP keeps no such boundaries: two
    /// messages sent back to back can arrive as one, and a long one in pieces. Spoken so that
    /// the seeds' Python programs and ours can talk, and to watch that go wrong.
    Seed,
}

/// Adds the `--wire lines|seed` option, the same for the four programs that take it; read it
/// with `args.get("wire", Wire::Lines)`.
pub fn option(opts: &mut getopts::Options) {
    opts.optopt(
        "",
        "wire",
        "lines (default: one message per line) or seed (the seed's bytes)",
        "W",
    );
}

/// What the seeds' programs read at once: `recv(1024)`.
pub const SEED_RECV: usize = 1024;

/// Why one message could not be read. `TooLong` and `NotUtf8` spoil one message only: the
/// connection can go on (the rest of an overlong line has been skipped). `Io` ends it.
#[derive(Debug)]
pub enum ReadError {
    /// Longer than the limit (in bytes) the program reads; the rest of it has been skipped.
    TooLong(usize),
    /// Not valid UTF-8.
    NotUtf8,
    /// The connection failed, timed out, or closed in the middle of a line.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLong(max) => write!(f, "a line longer than {max} bytes"),
            ReadError::NotUtf8 => f.write_str("a line that is not UTF-8"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// For `?` in a function that returns `io::Result`: a spoiled message is `InvalidData`.
impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io(e) => e,
            bad => io::Error::new(io::ErrorKind::InvalidData, bad.to_string()),
        }
    }
}

/// Lines mode's `read_message`: one `\n`-terminated line of at most `max` bytes, without its
/// `\n` (or `\r\n`). `Ok(None)` is a clean end of the stream, between two lines; an end in
/// the middle of a line is an `Io` error. A longer line is [`ReadError::TooLong`], and its
/// rest is skipped, so the next read starts on a new line.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    // take() bounds what one line may cost in memory, whatever the peer sends.
    let n = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(ReadError::Io)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > max {
        skip_line(reader).map_err(ReadError::Io)?;
        return Err(ReadError::TooLong(max));
    } else {
        let why = "the connection ended in the middle of a line";
        return Err(ReadError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            why,
        )));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ReadError::NotUtf8)
}

/// Seed mode's `read_message`: whatever one read returns, at most [`SEED_RECV`] bytes, is one
/// message, as the seeds' `recv(1024)`. Nothing tells where a message ends, so none is looked
/// for. `Ok(None)`: the peer closed the connection.
pub fn read_recv(reader: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let chunk = reader.fill_buf().map_err(ReadError::Io)?;
    if chunk.is_empty() {
        return Ok(None);
    }
    let n = chunk.len().min(SEED_RECV);
    let message = String::from_utf8(chunk[..n].to_vec());
    reader.consume(n);
    message.map(Some).map_err(|_| ReadError::NotUtf8)
}

/// Skips the rest of an overlong line, up to and with its `\n`, without keeping it in memory.
fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let n = chunk.len();
        reader.consume(n);
    }
}

impl FromStr for Wire {
    type Err = String;

    fn from_str(text: &str) -> Result<Wire, String> {
        match text {
            "lines" => Ok(Wire::Lines),
            "seed" => Ok(Wire::Seed),
            _ => Err("choose lines or seed".into()),
        }
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wire::Lines => "lines",
            Wire::Seed => "seed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_names_and_refuses_others() {
        assert_eq!("lines".parse::<Wire>(), Ok(Wire::Lines));
        assert_eq!("seed".parse::<Wire>(), Ok(Wire::Seed));
        assert!("Seed".parse::<Wire>().is_err());
        assert_eq!(Wire::Seed.to_string(), "seed");
    }

    #[test]
    fn lines_end_at_newlines_and_long_or_bad_ones_spoil_one_line_only() {
        let mut r = io::BufReader::with_capacity(3, &b"hi\r\n\nabcdefgh\n\xff\nlast\nhalf"[..]);
        assert_eq!(read_line(&mut r, 5).unwrap().as_deref(), Some("hi"));
        assert_eq!(read_line(&mut r, 5).unwrap().as_deref(), Some(""));
        assert!(matches!(read_line(&mut r, 5), Err(ReadError::TooLong(5))));
        assert!(matches!(read_line(&mut r, 5), Err(ReadError::NotUtf8)));
        assert_eq!(read_line(&mut r, 5).unwrap().as_deref(), Some("last"));
        match read_line(&mut r, 5) {
            Err(ReadError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("a line cut off by the end of the stream gave {other:?}"),
        }
        assert!(read_line(&mut r, 5).unwrap().is_none());
        // Exactly `max` bytes is still a line.
        assert_eq!(
            read_line(&mut &b"12345\n"[..], 5).unwrap().as_deref(),
            Some("12345")
        );
    }

    #[test]
    fn seed_reads_take_what_one_read_gives_and_skips_end_lines() {
        let mut r = io::BufReader::with_capacity(2, &b"hi\xffthere"[..]);
        assert_eq!(read_recv(&mut r).unwrap().as_deref(), Some("hi"));
        assert!(matches!(read_recv(&mut r), Err(ReadError::NotUtf8)));
        let mut r = &b"very long\nnext"[..];
        skip_line(&mut r).unwrap();
        assert_eq!(r, b"next");
        let e: io::Error = ReadError::TooLong(8).into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "a line longer than 8 bytes");
    }
}
