//! Milestone 7: questions on a capture of the student's three programs (labs/revproxy/answers.txt),
//! the scenario `socklab capture` records, and what the questions read from the capture.

use super::{sha1_hex, ACK, CLIENT, PAYLOAD, PROXY, SERVER};
use serde_json::Value;
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{Flags, Packet};
use socklab::grader::WAIT;
use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};

/// The questions of `labs/revproxy/answers.txt`, in its order. Fixed answers are stored hashed:
/// `cargo run --bin socklab -- capture --lab revproxy --hash KEY=ANSWER` prints a hash.
pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "7 capture questions",
    salt: "socklab/revproxy/3a86",
    captures: &[CaptureFile {
        name: "revproxy",
        holds: "a server's setup and one client message through the proxy, with the reply (TCP on \
                the proxy's and the server's ports)",
        check: |packets| request_seen(packets).and(setup_port(packets)).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "setup_port",
            capture: "revproxy",
            title: "the source port of the server's setup connection, read from the capture",
            text: "From which TCP port did the server send its setup message (type 1) to the \
                   proxy?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(setup_port(p)?))),
            hint: "Find the segment carrying the setup message (type 1). Compare its source port \
                   with the `listenport` it carries: which one does the proxy connect to later?",
        },
        Question {
            key: "proxy_port",
            capture: "revproxy",
            title: "the proxy's source port towards the server, read from the capture",
            text:
                "From which TCP port did the proxy connect to the server to forward the client's \
                   message?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(request_seen(p)?.proxy_port))),
            hint:
                "Find the second segment carrying the data message (type 0): the first goes from \
                   the client to the proxy, the second from the proxy to the server. Its source \
                   port was picked by the proxy's OS when it connected.",
        },
        Question {
            key: "digest_chars",
            capture: "revproxy",
            title: "the length of a SHA-1 hex digest, in characters",
            text: "How many characters long is the SHA-1 digest in the reply's payload?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "52155f581e4af94070e95344801693ae2578770c0c7b28b0522f1bb729238cfe",
                near: &[(
                    "3f416a2f889510ae9179721eaf6274a969f74c7d8bd71ac8e6aeb0eb60f3721c",
                    "that is the digest's length in bytes; the payload writes each byte as two \
                     hex characters",
                )],
            },
            hint: "Look at the reply's payload in your capture (or in `payloadsize`).",
        },
        Question {
            key: "digest_bits",
            capture: "revproxy",
            title: "the length of a SHA-1 digest, in bits",
            text: "How many bits long is a SHA-1 digest?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "daa8ef4f47a081699ea339a820394822975bbfcdebc77a492b05862aec095484",
                near: &[(
                    "0a7af3aebc5910fd0cf9cde2cc7d773d81b28df4ce832e72665f07c7dda26ced",
                    "each hex character is one byte on the wire, but it stands for only 4 bits \
                     of the digest",
                )],
            },
            hint: "Each hex digit of the payload stands for how many bits?",
        },
    ],
    scenario,
};

/// The source port of the segment carrying the server's setup (type 1).
fn setup_port(packets: &[Packet]) -> Result<u16, String> {
    packets
        .iter()
        .filter(|p| p.is_tcp())
        .find(|p| message(p).is_some_and(|m| type_is(&m, 1)))
        .map(|p| p.src.port())
        .ok_or_else(|| {
            "it holds no setup message (type 1): start the capture before the server".to_string()
        })
}

/// What the questions read from a capture of one request through the proxy.
#[derive(Debug)]
struct RequestSeen {
    /// The proxy's port on its connection to the server.
    proxy_port: u16,
}

/// A message of the protocol, if the segment's payload is one whole JSON object.
fn message(packet: &Packet) -> Option<Value> {
    let value: Value = serde_json::from_slice(packet.payload.trim_ascii()).ok()?;
    value.is_object().then_some(value)
}

/// Whether `message` has type `want` (as a number or a string).
fn type_is(message: &Value, want: i64) -> bool {
    match &message["type"] {
        Value::Number(n) => n.as_i64() == Some(want),
        Value::String(s) => s.trim().parse() == Ok(want),
        _ => false,
    }
}

/// Whether `message` is a data message (type 0).
fn is_data(message: &Value) -> bool {
    type_is(message, 0)
}

/// A connection, the same whichever way its packet goes.
fn connection(p: &Packet) -> (SocketAddr, SocketAddr) {
    if p.src < p.dst {
        (p.src, p.dst)
    } else {
        (p.dst, p.src)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn request_seen(packets: &[Packet]) -> Result<RequestSeen, String> {
    let tcp: Vec<&Packet> = packets.iter().filter(|p| p.is_tcp()).collect();
    // The first data message is the client's; the same payload sent again is the proxy's copy.
    let mut data = tcp
        .iter()
        .filter_map(|p| message(p).filter(is_data).map(|m| (*p, m)));
    let (first, request) = data.next().ok_or(
        "it holds no data message (type 0): capture while a client sends its packet through the \
         proxy",
    )?;
    let payload = request["payload"].as_str().unwrap_or_default().to_string();
    let forwarded = data
        .find(|(p, m)| {
            m["payload"].as_str() == Some(payload.as_str()) && connection(p) != connection(first)
        })
        .map(|(p, _)| p)
        .ok_or(
            "it holds the client's data message but not the proxy's copy of it to a server: \
             capture on the server's port too (`tcp port PROXY or tcp port SERVER`)",
        )?;
    let hash = sha1_hex(&payload);
    let carriers: BTreeSet<_> = tcp
        .iter()
        .filter(|p| {
            contains(&p.payload, payload.as_bytes()) || contains(&p.payload, hash.as_bytes())
        })
        .map(|p| connection(p))
        .collect();
    if !tcp
        .iter()
        .any(|p| p.dst == first.src && contains(&p.payload, hash.as_bytes()))
    {
        return Err(format!(
            "it holds no reply carrying {hash} (the SHA-1 of the payload) to the client: stop the \
             capture after the client has printed its result"
        ));
    }
    let opened: BTreeSet<_> = tcp
        .iter()
        .filter(|p| p.flags.has(Flags::SYN) && !p.flags.has(Flags::ACK))
        .map(|p| connection(p))
        .collect();
    if let Some((a, b)) = carriers.iter().find(|c| !opened.contains(c)) {
        return Err(format!(
            "the connection between {a} and {b} began before the capture (its SYN is missing): \
             start the capture before the client"
        ));
    }
    Ok(RequestSeen {
        proxy_port: forwarded.src.port(),
    })
}

/// A port for the server to listen on, chosen before it starts (the capture's filter names it):
/// free now, and below the range the OS hands out for port 0 and for connections
/// (`ip_local_port_range`), so that no socket of another program takes it before the server
/// binds it, as a port 0 let go at once could be.
fn server_port() -> Result<u16, String> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range");
    let low: u16 = range
        .ok()
        .and_then(|r| r.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(32768)
        .clamp(11000, 60000);
    for _ in 0..100 {
        let port = 10000 + (socklab::chance() * f64::from(low - 10000)) as u16;
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("finding a free port below {low}: none of 100 tried was free"))
}

/// The solution's proxy (webserver) and a server (client2), then one client (client1) sending
/// the course's packet; captured at the proxy on its port and the server's (a free port chosen
/// here, so the server's setup is captured too). On loopback or across netlab's hosts.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let proxy_ip = rec.ip("webserver")?;
    let args = ["-port", "0", "-host", &proxy_ip];
    let (_proxy, addr) = rec.start_server_on("webserver", PROXY, &args)?;
    let port = addr.port().to_string();
    let listen = server_port()?.to_string();
    let filter = format!("tcp port {port} or tcp port {listen}");
    rec.capture_on("webserver", "revproxy", &filter)?;
    let proxy = rec.name_of("webserver")?;
    let (server, _) = rec.start_server_on(
        "client2",
        SERVER,
        // On every address: on loopback the proxy sees the setup come from 127.0.0.1.
        &[
            "-id", "2", "-pp", "PP_2", "-listen", &listen, "-revproc", &port, "-revhost", &proxy,
            "-host", "0.0.0.0",
        ],
    )?;
    server
        .expect_line("the acknowledgement", WAIT, |l| l.contains(ACK))
        .map_err(|e| server.explain(e))?;
    let dir = std::env::temp_dir().join(format!("socklab-revproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let packet = dir.join("1327.PP_2.json");
    std::fs::write(&packet, super::client::packet_text(1327, "PP_2", PAYLOAD))
        .map_err(|e| format!("{}: {e}", packet.display()))?;
    let client = rec.spawn_on(
        "client1",
        CLIENT,
        &[
            "-id",
            "1327",
            "-revproc",
            &port,
            "-pkt",
            &packet.to_string_lossy(),
            "-revhost",
            &proxy,
        ],
    )?;
    let result = client.run_to_end(WAIT);
    let _ = std::fs::remove_dir_all(&dir);
    let lines = result?;
    if !lines.iter().any(|l| l.trim() == "Hash matched.") {
        return Err(format!(
            "the client should print `Hash matched.`; it printed {lines:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_found_by_its_messages() {
        let (syn, ack, psh) = (Flags::SYN, Flags::ACK, Flags::PSH);
        let (client, proxy, out, server) = (41000, 5000, 42000, 6000);
        let request =
            br#"{"type": 0, "srcid": 1, "privPoliId": "PP_1", "payloadsize": 3, "payload": "abc"}"#;
        let reply = format!(
            r#"{{"type": 2, "srcid": 2, "destid": 1, "payloadsize": 40, "payload": "{}"}}"#,
            sha1_hex("abc")
        );
        let packets = vec![
            Packet::segment(1, client, proxy, syn, 1, b""),
            Packet::segment(2, client, proxy, psh | ack, 2, request),
            Packet::segment(3, out, server, syn, 1, b""),
            Packet::segment(4, out, server, psh | ack, 2, request),
            Packet::segment(5, server, out, psh | ack, 2, reply.as_bytes()),
            Packet::segment(6, proxy, client, psh | ack, 2, reply.as_bytes()),
        ];
        let seen = request_seen(&packets).unwrap();
        assert_eq!(seen.proxy_port, out);
        let err = request_seen(&packets[..5]).unwrap_err();
        assert!(err.contains("no reply"), "{err}");
        let err = request_seen(&packets[1..]).unwrap_err();
        assert!(err.contains("SYN is missing"), "{err}");
        let err = request_seen(&packets[..2]).unwrap_err();
        assert!(err.contains("proxy's copy"), "{err}");
        assert!(setup_port(&packets).is_err());
        let setup = br#"{"type": "1", "id": 2, "privPolyId": "PP_1", "listenport": 6000}"#;
        let mut with_setup = vec![Packet::segment(0, 39000, proxy, psh | ack, 2, setup)];
        with_setup.extend(packets);
        assert_eq!(setup_port(&with_setup).unwrap(), 39000);
    }
}
