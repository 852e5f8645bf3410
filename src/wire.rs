//! `--wire lines|seed`: which framing the chat-room and chat programs speak, and the words
//! the four programs (chatroom_server, chatroom_client, chatserver, chatclient) frame with.
//!
//! The framing itself is the lesson and lives in each lab file, under the same names in all
//! four: `read_line` (one `\n`-terminated line: the framing the labs teach),
//! `read_message(reader, wire)` (one message in the framing `wire` says:
//! `Result<Option<String>, ReadError>`) and `write_message(out, line, wire)` (one message in a
//! single write: `io::Result<()>`). What is shared and is not the lesson is here: the switch
//! ([`Wire`], [`option`]), why a message could not be read ([`ReadError`]), the seed's framing
//! ([`read_recv`]) and skipping the rest of an overlong line ([`skip_line`]).

use std::fmt;
use std::io::{self, BufRead};
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
pub fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
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
