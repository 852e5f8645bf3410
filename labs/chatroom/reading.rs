//! Given helpers of chatroom_server.rs's framing: what can go wrong with a line, skipping an
//! overlong one, and seed mode (`--wire seed`): the seed's framing is not the lesson (the
//! handout's "Why the seed's protocol breaks" shows what goes wrong with it), but the server can
//! speak it.

use super::MAX_LINE;
use socklab::wire::SEED_RECV;
use std::fmt;
use std::io::{self, BufRead};

/// Why a line could not be read.
pub enum LineError {
    /// Longer than `MAX_LINE` bytes; the rest of it has been skipped.
    TooLong,
    /// Not valid UTF-8.
    NotUtf8,
    /// The connection failed, or closed in the middle of a line.
    Io(io::Error),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "line longer than {MAX_LINE} bytes"),
            LineError::NotUtf8 => write!(f, "line is not valid UTF-8"),
            LineError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Skips the rest of an overlong line without keeping it in memory.
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

/// Seed mode: whatever one read returns, at most SEED_RECV bytes, is one message, as the
/// seed's `recv(1024)`. Nothing tells where a message ends, so none is looked for.
pub fn read_recv(reader: &mut impl BufRead) -> Result<Option<String>, LineError> {
    let chunk = reader.fill_buf().map_err(LineError::Io)?;
    if chunk.is_empty() {
        return Ok(None);
    }
    let n = chunk.len().min(SEED_RECV);
    let message = chunk[..n].to_vec();
    reader.consume(n);
    String::from_utf8(message)
        .map(Some)
        .map_err(|_| LineError::NotUtf8)
}
