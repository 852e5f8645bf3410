//! `--wire lines|seed`: which framing the chat-room and chat programs speak.
//!
//! The framing itself is the lesson and lives in each lab file (`read_message`,
//! `write_message`); this is only the switch between the two, shared by the four programs.

use std::fmt;
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
}
