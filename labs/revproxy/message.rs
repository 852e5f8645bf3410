//! The reverse proxy's messages: JSON objects over TCP, shared by revproc, rp_server and rp_client.
//!
//! A message is one JSON object, written with one `write` and no newline after it; the
//! connection carries one message each way and then closes. TCP does not keep the writer's
//! boundaries, so a reader collects bytes until they hold one complete JSON value (the
//! framing, `read_message`, is yours to write). Decoding the fields is given: the course's
//! programs disagree on spellings and types (`privPolyId` or `privPoliId`, `100` or `"100"`),
//! so every reader here takes any of them, and every writer emits numbers.
//!
//!     type 1 setup  (server → proxy)   {"type": 1, "id": 100, "privPolyId": "PP_1", "listenport": 124}
//!     ack           (proxy → server)   {"Status": "Successfully setup with reverse proxy"}
//!     type 0 data   (client → proxy → server)
//!                   {"type": 0, "srcid": 50, "privPoliId": "PP_1", "payloadsize": 32, "payload": "…"}
//!     type 2 reply  (server → proxy → client)
//!                   {"type": 2, "srcid": 100, "destid": 50, "payloadsize": …, "payload": "<SHA-1 hex>"}
//!     type 3 error  (to whoever is waiting)   {"type": 3, "error": "a sentence"}

// Each program uses its own part of this file.
#![allow(dead_code)]

use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// The largest message accepted, in bytes; a longer one is refused, never buffered without end.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// How long, at most, what a peer still sends after the answer is dropped (close_gently).
const LINGER: Duration = Duration::from_secs(1);

pub const DATA: i64 = 0;
pub const SETUP: i64 = 1;
pub const REPLY: i64 = 2;
/// Our addition to the assignment: a message saying what went wrong, in a sentence.
pub const ERROR: i64 = 3;

/// What the proxy answers to a setup (one student's proxy sends it, and some servers wait for it).
pub const ACK_STATUS: &str = "Successfully setup with reverse proxy";

// ---------------------------------------------------------------------------------------------
// Framing: one JSON value per message.

/// Why no message could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before sending anything: nothing was lost.
    Closed,
    /// The peer closed the connection in the middle of a message.
    Truncated,
    /// More than `MAX_MESSAGE` bytes without a complete JSON value.
    TooLarge,
    /// The bytes are not JSON.
    NotJson(String),
    /// The connection failed or timed out.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ReadError::Closed => write!(f, "the connection closed before a message"),
            ReadError::Truncated => write!(f, "the connection closed in the middle of a message"),
            ReadError::TooLarge => write!(f, "a message longer than {MAX_MESSAGE} bytes"),
            ReadError::NotJson(why) => write!(f, "not JSON ({why})"),
            ReadError::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                write!(f, "no complete message in time")
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl ReadError {
    /// Whether the reader gave up waiting (the peer is alive but silent, or very slow).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ReadError::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    }
}

/// What the bytes received so far hold: `None` while they are a JSON value's beginning (or only
/// white space), `Some(Ok(value))` once one value is complete (anything after it is ignored: a
/// trailing newline, say), `Some(Err(…))` when they cannot be the beginning of any JSON value.
pub fn complete_value(received: &[u8]) -> Option<Result<Value, String>> {
    let mut values = serde_json::Deserializer::from_slice(received).into_iter::<Value>();
    match values.next() {
        None => None,
        Some(Ok(value)) => Some(Ok(value)),
        Some(Err(e)) if e.is_eof() => None,
        Some(Err(e)) => Some(Err(e.to_string())),
    }
}

/// Reads one message: bytes until they hold one complete JSON value (see `complete_value`),
/// however many reads that takes, and never more than `MAX_MESSAGE` bytes.
pub fn read_message(stream: &mut impl Read) -> Result<Value, ReadError> {
    let mut received: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    todo!("fill in: one whole message, however TCP cuts it (the handout's framing; complete_value); every other ending is a ReadError, and MAX_MESSAGE bounds what you keep");
}

/// Sends one message: the JSON text of `message` in a single write, so that a peer reading it
/// with one `recv(1024)` (as the course's Python programs do) gets all of it.
pub fn write_message(stream: &mut impl Write, message: &Value) -> io::Result<()> {
    todo!("fill in: the message's JSON text, as the handout's framing section says it is written");
}

/// Closes after the answer without losing it. Bytes the peer sent that were never read (the
/// rest of an oversized or garbled message) turn the close into a reset, and a reset may
/// destroy the answer before the peer reads it. So: our FIN first, then read and drop what is
/// left, for at most LINGER and a bounded amount.
pub fn close_gently(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER));
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut left = 4 * MAX_MESSAGE;
    while left > 0 && Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fields, read liberally.

/// The JSON object of a message, or why it is not one.
fn object(message: &Value) -> Result<&Map<String, Value>, String> {
    message
        .as_object()
        .ok_or_else(|| format!("a message must be a JSON object, not {}", brief(message)))
}

/// A JSON value shortened for a log line or an error sentence.
pub fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Whole number `key`: a JSON integer, or a string holding one (`"100"`), as some programs send.
pub fn int_field(message: &Value, key: &str) -> Result<i64, String> {
    let value = object(message)?
        .get(key)
        .ok_or_else(|| format!("the field `{key}` is missing"))?;
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number.ok_or_else(|| format!("`{key}` must be a whole number, not {}", brief(value)))
}

/// Text `key` (a number is taken as its text: a policy called 7).
pub fn text_field(message: &Value, key: &str) -> Result<String, String> {
    match object(message)?.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("`{key}` must be text, not {}", brief(other))),
        None => Err(format!("the field `{key}` is missing")),
    }
}

/// The privacy policy, under either spelling the assignment uses (`privPoliId`, `privPolyId`).
pub fn policy_field(message: &Value) -> Result<String, String> {
    let fields = object(message)?;
    todo!("fill in: the policy's text (text_field) under either spelling (this file's top comment; the handout); an Err naming both keys when neither is there");
}

/// The message's type (0 data, 1 setup, 2 reply, 3 error).
pub fn type_field(message: &Value) -> Result<i64, String> {
    int_field(message, "type")
}

/// The sentence of an error message: ours (`error`), or `Error` as one student's proxy sends.
pub fn error_text(message: &Value) -> Option<String> {
    let fields = message.as_object()?;
    let text = fields.get("error").or_else(|| fields.get("Error"))?;
    Some(
        text.as_str()
            .map_or_else(|| text.to_string(), str::to_string),
    )
}

/// An error message carrying `sentence`.
pub fn error_message(sentence: &str) -> Value {
    json!({"type": ERROR, "error": sentence})
}

/// The payload's SHA-1 in lowercase hex (hashing is not the lesson: the sha1 crate).
pub fn sha1_hex(payload: &str) -> String {
    Sha1::digest(payload.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A port number from a message.
fn port_field(message: &Value, key: &str) -> Result<u16, String> {
    let port = int_field(message, key)?;
    u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("`{key}` must be a port from 1 to 65535, not {port}"))
}

/// Checks the type of a message before its fields are read.
fn expect_type(message: &Value, want: i64, name: &str) -> Result<(), String> {
    match type_field(message)? {
        t if t == want => Ok(()),
        t => Err(format!(
            "expected a {name} message (type {want}), got type {t}"
        )),
    }
}

/// `payloadsize` must match the payload when it is given (its length in characters, as
/// Python's `len` counts them). A data message that disagrees is refused; a reply that disagrees
/// is only worth a warning (a real student's server copies the request's size): what judges a
/// reply is the client's own hash check.
pub fn check_size(message: &Value, payload: &str) -> Result<(), String> {
    if object(message)?.contains_key("payloadsize") {
        let size = int_field(message, "payloadsize")?;
        let len = payload.chars().count();
        if usize::try_from(size).ok() != Some(len) {
            return Err(format!(
                "`payloadsize` is {size} but the payload has {len} characters"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The three messages.

/// Type 1: a server announces itself to the proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub id: i64,
    pub policy: String,
    pub listenport: u16,
}

impl Setup {
    pub fn from_json(message: &Value) -> Result<Setup, String> {
        expect_type(message, SETUP, "setup")?;
        Ok(Setup {
            id: int_field(message, "id")?,
            policy: policy_field(message)?,
            listenport: port_field(message, "listenport")?,
        })
    }

    /// Both spellings of the policy key, so that a proxy reading either one accepts it.
    pub fn to_json(&self) -> Value {
        json!({
            "type": SETUP,
            "id": self.id,
            "privPolyId": self.policy,
            "privPoliId": self.policy,
            "listenport": self.listenport,
        })
    }
}

/// Type 0: a client's payload for any server of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub srcid: i64,
    pub policy: String,
    pub payload: String,
}

impl Data {
    pub fn from_json(message: &Value) -> Result<Data, String> {
        expect_type(message, DATA, "data")?;
        let payload = text_field(message, "payload")?;
        check_size(message, &payload)?;
        Ok(Data {
            srcid: int_field(message, "srcid")?,
            policy: policy_field(message)?,
            payload,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "type": DATA,
            "srcid": self.srcid,
            "privPoliId": self.policy,
            "payloadsize": self.payload.chars().count(),
            "payload": self.payload,
        })
    }
}

/// Type 2: a server's answer to one client (`srcid` is the server's id, `destid` the client's).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub srcid: i64,
    pub destid: i64,
    pub payload: String,
}

impl Reply {
    pub fn from_json(message: &Value) -> Result<Reply, String> {
        expect_type(message, REPLY, "reply")?;
        // No check_size here: see check_size.
        let payload = text_field(message, "payload")?;
        Ok(Reply {
            srcid: int_field(message, "srcid")?,
            destid: int_field(message, "destid")?,
            payload,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "type": REPLY,
            "srcid": self.srcid,
            "destid": self.destid,
            "payloadsize": self.payload.chars().count(),
            "payload": self.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_complete_only_when_it_ends() {
        assert!(complete_value(b"").is_none());
        assert!(complete_value(b"  \n").is_none());
        assert!(complete_value(b"{\"type\": 0, \"pay").is_none());
        assert_eq!(
            complete_value(b"{\"a\": 1}\n").unwrap().unwrap(),
            json!({"a": 1})
        );
        assert!(complete_value(b"hello").unwrap().is_err());
    }

    #[test]
    fn the_course_packet_hashes_as_in_the_seed() {
        assert_eq!(
            sha1_hex("uddirbgwkejcwxxezgadhwwvonhrhgoi"),
            "5d5b56e93d61c78d2c28d0f6b5cf45d196b825b6"
        );
    }
}
