//! Milestone 9 (stretch): questions on captures of netcat sessions (labs/netcat/answers.txt): a plain and
//! a TLS session where a line is typed, and a `--send-only` transfer; the scenario `socklab
//! capture` records, and what the questions read from the captures.

use super::{listening, NETCAT};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Packet};
use socklab::grader::{Program, WAIT};
use std::net::SocketAddr;

/// The line typed in the plain and the TLS session (and that the handout asks to type).
const TYPED: &str = "my password is swordfish";

pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "9 capture questions (stretch)",
    salt: "socklab/netcat/3b1e",
    captures: &[
        CaptureFile {
            name: "plain",
            holds: "a plain netcat session in which `my password is swordfish` was typed",
            check: |p| plain_seen(p).map(|_| ()),
        },
        CaptureFile {
            name: "tls",
            holds: "a netcat --ssl session (handshake included) in which `my password is swordfish` was typed",
            check: |p| tls_seen(p).map(|_| ()),
        },
        CaptureFile {
            name: "sendonly",
            holds: "a file sent with netcat --send-only to netcat -l, up to both FINs",
            check: |p| transfer_seen(p).map(|_| ()),
        },
    ],
    questions: &[
        Question {
            key: "plain_readable",
            capture: "plain",
            title: "whether the typed line can be read in the plain capture",
            text: "In plain.pcap, can you read the line you typed (`my password is swordfish`) \
                   in the packets? (yes or no)",
            form: Form::Choice(&["yes", "no"]),
            answer: Answer::Fixed {
                hash: "1f75f9b60e27539d18bd86c0aed3b47dce4d55a910da2634c45fd7ad2b15b70a",
                near: &[],
            },
            hint: "Filter `tcp.len > 0` and look at the bytes of each segment, or Follow > TCP Stream.",
        },
        Question {
            key: "plain_port",
            capture: "plain",
            title: "the listener's port in the plain capture",
            text: "In plain.pcap, which TCP port did the listening netcat use?",
            form: Form::Integer,
            answer: Answer::Capture(|p| {
                let hs = capture::handshake(p, |_| true)
                    .ok_or("it holds no TCP handshake: start the capture before connecting")?;
                Ok(f64::from(hs.syn.dst.port()))
            }),
            hint: "The SYN (SYN set, ACK clear) goes to the listener: read its destination port.",
        },
        Question {
            key: "typed_seq",
            capture: "plain",
            title: "the raw sequence number of the segment carrying the typed line",
            text: "In plain.pcap, what is the raw sequence number of the segment that carries the \
                   line you typed?",
            form: Form::Integer,
            answer: Answer::Capture(|p| {
                p.iter()
                    .find(|p| p.is_tcp() && contains(&p.payload, TYPED.as_bytes()))
                    .map(|p| f64::from(p.seq))
                    .ok_or_else(|| format!("no segment carries `{TYPED}`"))
            }),
            hint: "Find the segment whose bytes hold the line (Follow > TCP Stream, or \
                   `frame contains \"swordfish\"`), expand Transmission Control Protocol and read \
                   `Sequence Number (raw)`, not the relative one.",
        },
        Question {
            key: "tls_readable",
            capture: "tls",
            title: "whether the typed line can be read in the TLS capture",
            text: "In tls.pcap, can you read the line you typed in the packets? (yes or no)",
            form: Form::Choice(&["yes", "no"]),
            answer: Answer::Fixed {
                hash: "faa5a7a5d0c9f3a4c73e7269f5d3c17bc5c9053f03618e9c658f3b604a7b32ec",
                near: &[(
                    "723c70fd680a8530754b7d3ce8f258bd2babebcfa612ab827bde110a91db1f93",
                    "what you read in the handshake (names, the certificate) is not what you typed: \
                     after the handshake every record is `Application Data`, encrypted",
                )],
            },
            hint: "Filter `tls` and look at the records after the handshake: what does Wireshark call them?",
        },
        Question {
            key: "tls_version",
            capture: "tls",
            title: "the TLS version the two netcats negotiated",
            text: "Which TLS version did the session in tls.pcap use? (1.0, 1.1, 1.2 or 1.3)",
            form: Form::Choice(&["1.0", "1.1", "1.2", "1.3"]),
            answer: Answer::CaptureText(|p| Ok(tls_seen(p)?.to_string())),
            hint: "The version is chosen in the Server Hello. The record layer and the Server Hello's \
                   own `Version` field say 1.2 for compatibility even in TLS 1.3: look for the \
                   `supported_versions` extension.",
        },
        Question {
            key: "sent_bytes",
            capture: "sendonly",
            title: "how many bytes the --send-only transfer carried",
            text: "In sendonly.pcap, how many bytes of payload did the sender send in all?",
            form: Form::Integer,
            answer: Answer::Capture(|p| sent_bytes(p).map(|n| n as f64)),
            hint: "Add up the TCP payload lengths (tcp.len) of the sender's segments, or compare \
                   the sequence number of its FIN with the one of its SYN (a SYN counts one).",
        },
        Question {
            key: "first_fin",
            capture: "sendonly",
            title: "who sent the first FIN in the --send-only transfer",
            text: "In sendonly.pcap, which side sent the first FIN: the sender of the file or its \
                   receiver? (sender or receiver)",
            form: Form::Choice(&["sender", "receiver"]),
            answer: Answer::CaptureText(|p| Ok(transfer_seen(p)?.to_string())),
            hint: "Filter `tcp.flags.fin == 1`; the sender is the side whose segments carry the \
                   file's bytes.",
        },
    ],
    scenario,
};

/// The plain capture must hold a connection and the typed line in a segment.
fn plain_seen(packets: &[Packet]) -> Result<(), String> {
    capture::handshake(packets, |_| true)
        .ok_or("it holds no TCP handshake: start the capture before connecting")?;
    if !packets
        .iter()
        .any(|p| p.is_tcp() && contains(&p.payload, TYPED.as_bytes()))
    {
        return Err(format!(
            "no segment carries `{TYPED}`: type it while capturing, without --ssl"
        ));
    }
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The TLS capture must hold a handshake with a Server Hello and application data; returns the
/// version negotiated ("1.3").
fn tls_seen(packets: &[Packet]) -> Result<&'static str, String> {
    let hs = capture::handshake(packets, |_| true)
        .ok_or("it holds no TCP handshake: start the capture before connecting")?;
    let from_server = capture::reassemble(packets, &hs.syn_ack);
    let from_client = capture::reassemble(packets, &hs.syn);
    if from_client.first() != Some(&22) {
        return Err("the client's first bytes are not a TLS handshake record (Client Hello): was --ssl used on both sides?".into());
    }
    let version = server_hello_version(&from_server)
        .ok_or("no TLS Server Hello in it: was --ssl used on both sides?")?;
    if contains(&from_client, TYPED.as_bytes()) || contains(&from_server, TYPED.as_bytes()) {
        return Err(format!(
            "`{TYPED}` travels in clear: this is not a TLS session"
        ));
    }
    if !records(&from_client).any(|(kind, _)| kind == 23) {
        return Err(
            "the client sent no Application Data record: type the line while capturing".into(),
        );
    }
    Ok(version)
}

/// The TLS records of a byte stream: (content type, body).
fn records(mut bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        if bytes.len() < 5 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let body = bytes.get(5..5 + len)?;
        let kind = bytes[0];
        bytes = &bytes[5 + len..];
        Some((kind, body))
    })
}

/// The version a Server Hello chose: its `supported_versions` extension (TLS 1.3), or else its
/// legacy version field.
fn server_hello_version(stream: &[u8]) -> Option<&'static str> {
    let (_, body) = records(stream).find(|(kind, body)| *kind == 22 && body.first() == Some(&2))?;
    // Handshake header (type, 3-byte length), version (2), random (32), session id.
    let mut at = 4;
    let legacy = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
    at += 2 + 32;
    at += 1 + usize::from(*body.get(at)?);
    at += 2 + 1; // cipher suite, compression
    let mut version = legacy;
    if let (Some(a), Some(b)) = (body.get(at), body.get(at + 1)) {
        let end = (at + 2 + usize::from(u16::from_be_bytes([*a, *b]))).min(body.len());
        at += 2;
        while at + 4 <= end {
            let kind = u16::from_be_bytes([body[at], body[at + 1]]);
            let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
            if kind == 43 && len == 2 && at + 6 <= end {
                version = u16::from_be_bytes([body[at + 4], body[at + 5]]);
            }
            at += 4 + len;
        }
    }
    match version {
        0x0301 => Some("1.0"),
        0x0302 => Some("1.1"),
        0x0303 => Some("1.2"),
        0x0304 => Some("1.3"),
        _ => None,
    }
}

/// The transfer: the side that sent the most bytes is the sender; returns who sent the first
/// FIN ("sender" or "receiver").
fn transfer_seen(packets: &[Packet]) -> Result<&'static str, String> {
    let hs = capture::handshake(packets, |_| true)
        .ok_or("it holds no TCP handshake: start the capture before connecting")?;
    let (a, b) = (hs.syn.src, hs.syn.dst);
    let sent = |from: SocketAddr| -> usize {
        packets
            .iter()
            .filter(|p| p.is_tcp() && p.src == from && p.dst == if from == a { b } else { a })
            .map(|p| p.len)
            .sum()
    };
    let (sender, bytes) = if sent(a) >= sent(b) {
        (a, sent(a))
    } else {
        (b, sent(b))
    };
    if bytes == 0 {
        return Err("no bytes were sent on the connection: send a file while capturing".into());
    }
    let fins: Vec<&Packet> = packets
        .iter()
        .filter(|p| {
            p.is_tcp() && p.flags.has(Flags::FIN) && [(a, b), (b, a)].contains(&(p.src, p.dst))
        })
        .collect();
    let first = fins.first().ok_or(
        "the connection does not end in it (no FIN): stop the capture after both netcats ended",
    )?;
    if !fins.iter().any(|p| p.src != first.src) {
        return Err(
            "only one side's FIN is in it: stop the capture after both netcats ended".into(),
        );
    }
    Ok(if first.src == sender {
        "sender"
    } else {
        "receiver"
    })
}

/// The bytes the side that sent the most carried: its FIN's sequence number minus its SYN's,
/// less the one the SYN counts (retransmissions are not counted twice).
fn sent_bytes(packets: &[Packet]) -> Result<u32, String> {
    transfer_seen(packets)?;
    let hs = capture::handshake(packets, |_| true).ok_or("it holds no TCP handshake")?;
    let side = |syn: &Packet| -> Option<u32> {
        let fin = packets.iter().find(|p| {
            p.is_tcp() && p.src == syn.src && p.dst == syn.dst && p.flags.has(Flags::FIN)
        })?;
        Some(fin.seq.wrapping_sub(syn.seq).wrapping_sub(1))
    };
    let (a, b) = (side(&hs.syn), side(&hs.syn_ack));
    a.into_iter()
        .chain(b)
        .max()
        .ok_or_else(|| "no FIN in it: stop the capture after both netcats ended".to_string())
}

/// Starts `netcat -v -l IP 0 [extra]` on webserver and reads its address.
fn listener(rec: &Recorder, extra: &[&str]) -> Result<(Program, SocketAddr), String> {
    let ip = rec.ip("webserver")?;
    let mut args = vec!["-v", "-l"];
    args.extend(extra);
    args.extend([ip.as_str(), "0"]);
    let nc = rec.spawn_on("webserver", NETCAT, &args)?;
    let addr = listening(&nc)?;
    Ok((nc, addr))
}

/// A session captured as `name`: a listener and a client (both with `flags`), the client types
/// `lines`, then ends its input; both must end.
fn session(
    rec: &mut Recorder,
    name: &str,
    listen: &[&str],
    connect: &[&str],
    lines: &[&str],
) -> Result<(), String> {
    let (server, addr) = listener(rec, listen)?;
    let port = addr.port().to_string();
    rec.capture_on("webserver", name, &format!("tcp port {port}"))?;
    let server_name = rec.name_of("webserver")?;
    let mut args = connect.to_vec();
    args.extend([server_name.as_str(), port.as_str()]);
    let mut client = rec.spawn_on("client1", NETCAT, &args)?;
    for line in lines {
        client.send_line(line)?;
    }
    let last = lines.last().copied().unwrap_or("");
    server
        .expect_line(&format!("`{last}` printed by the listener"), WAIT, |l| {
            l == last
        })
        .map_err(|e| server.explain(e))?;
    client.close_stdin();
    for program in [&client, &server] {
        let (_, status) = program.finish(WAIT)?;
        if !status.success() {
            return Err(program.explain(format!("{} failed ({status})", program.label())));
        }
    }
    Ok(())
}

/// A plain session, a TLS session and a --send-only transfer, each in its own capture.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    session(rec, "plain", &[], &[], &[TYPED])?;
    session(rec, "tls", &["--ssl"], &["--ssl"], &[TYPED])?;
    let file: Vec<String> = (1..=200).map(|i| format!("line {i} of the file")).collect();
    let lines: Vec<&str> = file.iter().map(String::as_str).collect();
    session(rec, "sendonly", &[], &["--send-only"], &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls13_server_hello_is_read_by_its_extension() {
        // A Server Hello with legacy version 1.2 and supported_versions = 1.3.
        let mut hello = vec![2, 0, 0, 0, 0x03, 0x03];
        hello.extend([0u8; 32]);
        hello.extend([0, 0x13, 0x01, 0]); // no session id, cipher, compression
        hello.extend([0, 6, 0, 43, 0, 2, 0x03, 0x04]);
        let mut record = vec![22, 3, 3, 0, hello.len() as u8];
        record.extend(&hello);
        assert_eq!(server_hello_version(&record), Some("1.3"));
        hello.truncate(hello.len() - 8);
        let mut record = vec![22, 3, 3, 0, hello.len() as u8];
        record.extend(&hello);
        assert_eq!(server_hello_version(&record), Some("1.2"));
    }
}
