//! Milestone 9: questions on captures of the student's own programs (labs/http/answers.txt):
//! `http.pcap` holds `http_get -L /home` (two requests) and three requests on one kept-alive
//! connection; `https.pcap` holds one `http_get` over TLS. The questions read the connections,
//! the requests in them and a status code, and what TLS still shows: the port and the server
//! name in the ClientHello.

use super::wire::{keep_request, Conn};
use super::{running_on, HTTP_GET, WEBAPP};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Handshake, Packet};
use socklab::grader::WAIT;
use std::net::SocketAddr;

/// The path the HTTPS request asks for (the question asks whether it can be read).
const SECRET_PATH: &str = "/index/capture-me";

/// The questions of `labs/http/answers.txt`, in its order. The fixed answer is stored hashed:
/// `cargo run --bin socklab -- capture --lab http --hash KEY=ANSWER` prints a hash.
pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "9 capture questions",
    salt: "socklab/http/3c1f",
    captures: &[
        CaptureFile {
            name: "http",
            holds: "`http_get -L` fetching /home (then /index), and requests for / and /data on \
                    one kept-alive connection (TCP on the webapp's port)",
            check: |packets| plain_seen(packets).map(|_| ()),
        },
        CaptureFile {
            name: "https",
            holds: "one `http_get --cacert` request to `webapp --tls` at https://localhost:PORT/ \
                    (TCP on the webapp's port)",
            check: |packets| tls_seen(packets).map(|_| ()),
        },
    ],
    questions: &[
        Question {
            key: "index_client_port",
            capture: "http",
            title: "the client port that sent GET /index after the redirect",
            text: "http_get -L asked for /home, got a redirect, then asked for /index. From which \
                   TCP port (on the client's side) did the request for /index go out?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(plain_seen(p)?.index_client_port))),
            hint: "Find the segment whose payload starts with `GET /index` (the filter \
                   `http.request.uri == \"/index\"` finds it) and read its source port. Is it the \
                   connection that carried GET /home? What did http_get's request say about the \
                   connection?",
        },
        Question {
            key: "csv_request_seq",
            capture: "http",
            title: "the raw sequence number of the request for /data?format=csv",
            text: "The requests for /, /data?format=json and /data?format=csv went out with \
                   keep-alive. What is the raw TCP sequence number of the segment that carries \
                   GET /data?format=csv?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(plain_seen(p)?.csv_request_seq))),
            hint: "Wireshark shows relative sequence numbers by default: read `Sequence Number \
                   (raw)` in the TCP header, or use the column tcp.seq_raw. Follow > TCP Stream on \
                   the connection that asks for / first: what else does it carry?",
        },
        Question {
            key: "home_response_bytes",
            capture: "http",
            title: "the size of the whole response to GET /home",
            text: "How many bytes long is your webapp's whole response to GET /home: status \
                   line, headers, the empty line and the body?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(plain_seen(p)?.home_response_bytes as f64)),
            hint: "Find the segment from the webapp's port on the connection that asked for \
                   /home: its TCP payload length is the answer when the response went out in one \
                   write (Follow > TCP Stream shows its bytes).",
        },
        Question {
            key: "https_port",
            capture: "https",
            title: "the TCP port the HTTPS request went to",
            text: "To which TCP port did the HTTPS connection go?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(tls_seen(p)?.server.port()))),
            hint: "Look at the TCP header of the first segment, the SYN: what does TLS protect, \
                   and what does it leave as it is?",
        },
        Question {
            key: "https_path",
            capture: "https",
            title: "whether the path of an HTTPS request can be read in a capture",
            text: "Can the path of that HTTPS request (/index/capture-me) be read anywhere in the \
                   capture? (yes or no)",
            form: Form::Choice(&["yes", "no"]),
            answer: Answer::Fixed {
                hash: "2351405605dcc21491c7bf5e8d65a7e35e40ea3acd71ea015cb5e2dd819f36f9",
                near: &[(
                    "34b1bb664623da8e4b2e6de0b252219659a8e23bd952a54ab18c48b7fdda0262",
                    "search the capture for it (Edit > Find Packet > String, in the packet \
                     bytes), and look at what the records after the handshake hold",
                )],
            },
            hint: "Search the packet bytes for `capture-me` (Edit > Find Packet, String, Packet \
                   bytes), and look at what the segments after the handshake carry.",
        },
        Question {
            key: "client_hello_bytes",
            capture: "https",
            title: "the length of the TLS record that carries the ClientHello",
            text: "How long is the TLS record that carries http_get's ClientHello: the Length \
                   field of that record's header, in bytes?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(tls_seen(p)?.client_hello_bytes))),
            hint: "The client's first segment after the TCP handshake starts with the record \
                   header: content type, version, Length. In Wireshark: Transport Layer Security > \
                   TLS Record Layer: Handshake Protocol: Client Hello > Length (the record's, not \
                   the handshake message's). While there, open its server_name extension: which \
                   name can anyone on the path read, and why must it be sent in the clear?",
        },
    ],
    scenario,
};

// ---------------------------------------------------------------------------------------------
// Reading the captures.

/// One connection to the server: its handshake and the request targets the client sent on it.
struct Connection {
    handshake: Handshake,
    targets: Vec<String>,
}

/// Every connection to `server` that has a handshake in the capture.
fn connections(packets: &[Packet], server: SocketAddr) -> Vec<Connection> {
    let syns = packets.iter().filter(|p| {
        p.is_tcp() && p.dst == server && p.flags.has(Flags::SYN) && !p.flags.has(Flags::ACK)
    });
    let mut found: Vec<Connection> = Vec::new();
    for syn in syns {
        if found.iter().any(|c| c.handshake.syn.src == syn.src) {
            continue; // a retransmitted SYN
        }
        let Some(handshake) = capture::handshake(packets, |s| s.src == syn.src && s.dst == server)
        else {
            continue;
        };
        let bytes = capture::reassemble(packets, &handshake.syn);
        let targets = String::from_utf8_lossy(&bytes)
            .split("\r\n")
            .filter_map(|line| line.strip_prefix("GET "))
            .filter_map(|rest| rest.split(' ').next())
            .map(str::to_string)
            .collect();
        found.push(Connection { handshake, targets });
    }
    found
}

/// What the questions read from `http.pcap`.
struct PlainSeen {
    index_client_port: u16,
    csv_request_seq: u32,
    home_response_bytes: usize,
}

fn plain_seen(packets: &[Packet]) -> Result<PlainSeen, String> {
    let server = packets
        .iter()
        .find(|p| p.is_tcp() && p.payload.starts_with(b"GET /home "))
        .map(|p| p.dst)
        .ok_or("it holds no request for /home: run `http_get -L http://127.0.0.1:PORT/home` while capturing")?;
    let conns = connections(packets, server);
    let asks = |c: &Connection, wanted: &str| c.targets.iter().any(|t| t == wanted);
    let home = conns.iter().find(|c| asks(c, "/home")).ok_or_else(|| {
        format!("it holds no handshake of the connection to {server} that asks for /home: start the capture before http_get")
    })?;
    let index = conns
        .iter()
        .find(|c| asks(c, "/index"))
        .ok_or("it holds no request for /index (with its connection's handshake): did http_get -L follow the redirect?")?;
    let csv = conns
        .iter()
        .find(|c| asks(c, "/data?format=csv"))
        .ok_or("it holds no request for /data?format=csv (with its connection's handshake): send the three requests while capturing, as `curl URL URL URL` does")?;
    let stream = capture::reassemble(packets, &csv.handshake.syn);
    let at = stream
        .windows(21)
        .position(|w| w == b"GET /data?format=csv ")
        .ok_or("the request for /data?format=csv is not whole in the capture")?;
    let csv_request_seq = csv
        .handshake
        .syn
        .seq
        .wrapping_add(1)
        .wrapping_add(at as u32);
    let response = capture::reassemble(packets, &home.handshake.syn_ack);
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("it holds no complete response to GET /home (status line and headers)")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let length: usize = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("Content-Length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .ok_or("the response to GET /home has no Content-Length")?;
    Ok(PlainSeen {
        index_client_port: index.handshake.syn.src.port(),
        csv_request_seq,
        home_response_bytes: head_end + 4 + length,
    })
}

/// What the questions read from `https.pcap`.
struct TlsSeen {
    server: SocketAddr,
    /// The Length field of the record header of the client's first record.
    client_hello_bytes: u16,
}

fn tls_seen(packets: &[Packet]) -> Result<TlsSeen, String> {
    for hs in packets
        .iter()
        .filter(|p| p.is_tcp() && p.flags.has(Flags::SYN) && !p.flags.has(Flags::ACK))
    {
        let Some(handshake) = capture::handshake(packets, |s| s.src == hs.src && s.dst == hs.dst)
        else {
            continue;
        };
        let bytes = capture::reassemble(packets, &handshake.syn);
        if client_hello_sni(&bytes).is_some() {
            let answered = capture::reassemble(packets, &handshake.syn_ack);
            // Application data (record type 23) from the server: the response went out.
            if !answered.is_empty() && records(&answered).contains(&23) {
                return Ok(TlsSeen {
                    server: handshake.syn.dst,
                    client_hello_bytes: u16::from_be_bytes([bytes[3], bytes[4]]),
                });
            }
            return Err("its TLS connection has a ClientHello but no application data from the server: did the request succeed?".into());
        }
    }
    Err("it holds no TLS connection whose ClientHello names a server: fetch https://localhost:PORT/… (a name, not an IP address) while capturing, from before http_get starts".into())
}

/// The content types of the TLS records in `bytes`, as far as they are complete.
fn records(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 5) {
        types.push(header[0]);
        at += 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    }
    types
}

/// The host name in the server_name extension of the ClientHello that starts `bytes`.
fn client_hello_sni(bytes: &[u8]) -> Option<String> {
    // Record: type 22 (handshake), version, length; handshake: type 1 (ClientHello), length.
    if bytes.first() != Some(&22) || bytes.get(5) != Some(&1) {
        return None;
    }
    let mut r = Reader { bytes, at: 9 };
    r.skip(2 + 32)?; // client version, random
    let n = r.u8()?;
    r.skip(n.into())?; // session id
    let n = r.u16()?;
    r.skip(n.into())?; // cipher suites
    let n = r.u8()?;
    r.skip(n.into())?; // compression methods
    let end = r.u16()? as usize + r.at;
    while r.at < end {
        let (kind, len) = (r.u16()?, r.u16()? as usize);
        if kind != 0 {
            r.skip(len)?;
            continue;
        }
        r.skip(2)?; // the list's length
        if r.u8()? != 0 {
            return None; // not a host name
        }
        let n = r.u16()? as usize;
        let name = r.bytes.get(r.at..r.at + n)?;
        return Some(String::from_utf8_lossy(name).to_string());
    }
    None
}

/// A cursor over bytes that gives up (None) at their end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip(&mut self, n: usize) -> Option<()> {
        (self.at + n <= self.bytes.len()).then(|| self.at += n)
    }

    fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario.

/// Starts a webapp with `extra` options; its address (and with --tls its certificate's path).
fn webapp(
    rec: &Recorder,
    extra: &[&str],
) -> Result<(socklab::grader::Program, SocketAddr, Option<String>), String> {
    let mut args = vec!["--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let server = rec.spawn_on("webserver", WEBAPP, &args)?;
    let tls = extra.contains(&"--tls");
    let addr = running_on(&server.line(WAIT)?, if tls { "https" } else { "http" })?;
    let pem = if tls {
        let line = server.line(WAIT)?;
        Some(line.split_whitespace().last().unwrap_or("").to_string())
    } else {
        None
    };
    Ok((server, addr, pem))
}

/// The solution webapp, plain then with --tls, each captured on its port: http_get -L /home;
/// three requests on one kept-alive connection (as `curl URL URL URL` sends them); then http_get
/// over TLS.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    rec.loopback_only("http")?;
    let (_plain, addr, _) = webapp(rec, &[])?;
    rec.capture_on("webserver", "http", &format!("tcp port {}", addr.port()))?;
    let home = format!("http://{addr}/home");
    rec.spawn_on("client1", HTTP_GET, &["-L", &home])?
        .run_to_end(WAIT)?;
    let mut conn = Conn::tcp(addr)?;
    for target in ["/", "/data?format=json"] {
        conn.send(&keep_request("GET", target))?;
        conn.reply(target, false)?;
    }
    conn.send(b"GET /data?format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    conn.reply("/data?format=csv", false)?;
    conn.closes(WAIT)?;

    let (_tls, addr, pem) = webapp(rec, &["--tls"])?;
    rec.capture_on("webserver", "https", &format!("tcp port {}", addr.port()))?;
    let url = format!("https://localhost:{}{SECRET_PATH}", addr.port());
    let pem = pem.unwrap_or_default();
    rec.spawn_on("client1", HTTP_GET, &["--cacert", &pem, &url])?
        .run_to_end(WAIT)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_read_from_a_client_hello() {
        // A minimal TLS 1.2 ClientHello with one cipher suite and a server_name "localhost".
        let name = b"localhost";
        let mut sni = vec![0, 0];
        let list_len = (name.len() + 3) as u16;
        let ext_len = list_len + 2;
        sni.extend(ext_len.to_be_bytes());
        sni.extend(list_len.to_be_bytes());
        sni.push(0);
        sni.extend((name.len() as u16).to_be_bytes());
        sni.extend(name);
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend((sni.len() as u16).to_be_bytes());
        body.extend(&sni);
        let mut hello = vec![1, 0];
        hello.extend((body.len() as u16).to_be_bytes());
        hello.extend(&body);
        let mut record = vec![22, 3, 1];
        record.extend((hello.len() as u16).to_be_bytes());
        record.extend(&hello);
        assert_eq!(client_hello_sni(&record).as_deref(), Some("localhost"));
        assert_eq!(records(&record), vec![22]);
        assert_eq!(client_hello_sni(&record[..record.len() - 3]), None);
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1\r\n"), None);
    }
}
