//! Milestone 8: questions on a capture of the student's own programs (labs/xmlrpc/answers.txt):
//! the questions, what they read from the capture (the connection of the client's echo call),
//! and the scenario that makes the capture.

use super::{CLIENT, SERVER};
use base64::Engine;
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Packet};
use socklab::grader::WAIT;

/// The questions of `labs/xmlrpc/answers.txt`, in its order. The one fixed answer is stored
/// hashed: `cargo run --bin socklab -- capture --lab xmlrpc --hash KEY=ANSWER` prints a hash.
pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "8 capture questions",
    salt: "socklab/xmlrpc/e6b5",
    captures: &[CaptureFile {
        name: "xmlrpc",
        holds: "your client's echo call to your server and the reply, from the SYN to the FINs \
                (TCP on loopback)",
        check: |packets| call_seen(packets).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "server_port",
            capture: "xmlrpc",
            title: "the server's TCP port, read from the capture",
            text: "Which TCP port did your server listen on?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.syn.dst.port()))),
            hint: "The destination port of the client's SYN (the packet with SYN set and ACK clear): \
                   the OS chose it when the server bound port 0.",
        },
        Question {
            key: "syn_seq",
            capture: "xmlrpc",
            title: "the raw sequence number of the client's SYN",
            text: "What is the raw sequence number of the client's SYN?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.syn.seq))),
            hint: "Wireshark shows relative sequence numbers (the SYN's is 0): expand Transmission \
                   Control Protocol and read `Sequence Number (raw)`.",
        },
        Question {
            key: "token",
            capture: "xmlrpc",
            title: "the Base64 token of the Authorization header",
            text: "What Base64 token follows `Authorization: Basic` in your client's request? \
                   (exactly as sent: Base64 is case-sensitive)",
            form: Form::Text { ignore_case: false },
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.token)),
            hint: "Right-click the request > Follow > TCP Stream shows the head as text; copy the \
                   word after `Basic `, exactly (Base64 is case-sensitive).",
        },
        Question {
            key: "password",
            capture: "xmlrpc",
            title: "the password the token decodes to",
            text: "What password does that token decode to? (the part after the colon; case counts)",
            form: Form::Text { ignore_case: false },
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.password)),
            hint: "`echo TOKEN | base64 -d` prints username:password (so does Wireshark's \
                   `Credentials` line once it decodes the port as HTTP); give the part after the colon.",
        },
        Question {
            key: "readable",
            capture: "xmlrpc",
            title: "whether Basic auth without TLS hides the password",
            text: "Can anyone who can capture this traffic read the password? (yes or no)",
            form: Form::Choice(&["yes", "no"]),
            answer: Answer::Fixed {
                hash: "ef9cd0c0290705ade8b12853854430a2499ce65c771d2b55b80701dc3e2facc6",
                near: &[(
                    "ca15d482f77658e4319a62398aaa2c7b5da7fb653020be021af052e246938086",
                    "you have just read it from the capture yourself: Base64 is an encoding that \
                     anyone can reverse, not encryption",
                )],
            },
            hint: "What did you need, in the previous question, to turn the token into the \
                   password? Would someone else on the network path need anything more?",
        },
        Question {
            key: "status",
            capture: "xmlrpc",
            title: "the HTTP status code of the reply",
            text: "What HTTP status code did your server's reply carry?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.status))),
            hint: "The first line of the server's response: `HTTP/1.1 CODE REASON`.",
        },
        Question {
            key: "first_fin",
            capture: "xmlrpc",
            title: "which side sent the first FIN",
            text: "Which side sent the first FIN, the client or the server? (client or server)",
            form: Form::Choice(&["client", "server"]),
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.first_fin.to_string())),
            hint: "Filter `tcp.flags.fin == 1` and compare the first FIN's source port with the \
                   server's. The client asked for `Connection: close`, so both sides close right \
                   after the response: the server once it has written it, the client once it has \
                   read it. Which is first can change from run to run; answer for your capture.",
        },
    ],
    scenario,
};

/// What the questions read from the capture: the connection that carries the client's first
/// POST, found by its handshake's flags.
struct CallSeen {
    /// The client's SYN.
    syn: Packet,
    /// The Base64 token after `Authorization: Basic`.
    token: String,
    /// The password it decodes to (after the first `:`).
    password: String,
    /// The status code of the server's first response.
    status: u16,
    /// "client" or "server".
    first_fin: &'static str,
}

fn call_seen(packets: &[Packet]) -> Result<CallSeen, String> {
    let post = packets
        .iter()
        .find(|p| p.is_tcp() && p.payload.starts_with(b"POST "))
        .ok_or("it holds no TCP segment that starts an HTTP POST request")?;
    let hs = capture::handshake(packets, |syn| syn.src == post.src && syn.dst == post.dst)
        .ok_or_else(|| {
            format!(
                "it holds no handshake (SYN, then SYN-ACK) of the connection from {} to {} that \
                 carries the POST: start the capture before the client",
                post.src, post.dst
            )
        })?;
    let request = capture::reassemble(packets, &hs.syn);
    let head = head_lines(&request).ok_or("the client's request head is incomplete")?;
    let auth = head
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("Authorization"))
        .map(|(_, value)| value.trim().to_string())
        .ok_or("the client's request has no Authorization header")?;
    let token = match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Basic") => token.trim().to_string(),
        _ => {
            return Err(format!(
                "its Authorization header is not Basic: {auth:.60?}"
            ))
        }
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&token)
        .map_err(|_| format!("the Authorization token {token:.60?} is not Base64"))?;
    let decoded = String::from_utf8_lossy(&decoded).to_string();
    let password = decoded
        .split_once(':')
        .map(|(_, pass)| pass.to_string())
        .ok_or("the decoded Authorization token has no `:` between user and password")?;
    let response = capture::reassemble(packets, &hs.syn_ack);
    let status_line = head_lines(&response)
        .and_then(|lines| lines.into_iter().next())
        .ok_or("it holds no complete response head from the server")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("the server's response starts with {status_line:.60?}"))?;
    let fin = packets
        .iter()
        .filter(|p| p.number > hs.syn.number && p.same_flow(&hs.syn))
        .find(|p| p.flags.has(Flags::FIN))
        .ok_or("its connection has no FIN yet: stop the capture after the client has exited")?;
    Ok(CallSeen {
        first_fin: if fin.src == hs.syn.src {
            "client"
        } else {
            "server"
        },
        syn: hs.syn,
        token,
        password,
        status,
    })
}

/// The lines of an HTTP head (up to the empty line), or `None` if it is not complete.
fn head_lines(bytes: &[u8]) -> Option<Vec<String>> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(
        String::from_utf8_lossy(&bytes[..end])
            .split("\r\n")
            .map(str::to_string)
            .collect(),
    )
}

/// The solution server and client making one echo call on loopback, captured on the server's
/// port from before the client connects until after it has exited.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let host = rec.ip("webserver")?;
    // A password made up for this capture: the token and the password questions are answered
    // from the capture, never from the handout's `user:pass` example.
    let password = format!("capture-{:06}", (socklab::chance() * 1e6) as u32);
    let (_server, addr) = rec.start_server_on(
        "webserver",
        SERVER,
        &["--host", &host, "--port", "0", "--password", &password],
    )?;
    let port = addr.port().to_string();
    rec.capture_on("client1", "xmlrpc", &format!("tcp port {port}"))?;
    let server = rec.name_of("webserver")?;
    let client = rec.spawn_on(
        "client1",
        CLIENT,
        &["--host", &server, "--port", &port, "--password", &password],
    )?;
    client.run_to_end(WAIT).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_is_read_from_segments_out_of_order_and_retransmitted() {
        let (c, s) = (40000, 8000);
        let (ack, syn, fin, psh) = (Flags::ACK, Flags::SYN, Flags::FIN, Flags::PSH);
        let head = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nauthorization: basic dXNlcjpwYXNz\r\n\r\n";
        let (first, rest) = head.split_at(20);
        let reply = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        // A segment wrapping past 2^32 on the client's side.
        let isn = u32::MAX - 5;
        let mut packets = vec![
            Packet::segment(1, c, s, syn, isn, b""),
            Packet::segment(2, s, c, syn | ack, 7, b""),
            Packet::segment(4, c, s, psh | ack, isn.wrapping_add(21), rest),
            Packet::segment(5, c, s, psh | ack, isn.wrapping_add(1), first),
            Packet::segment(6, c, s, psh | ack, isn.wrapping_add(1), first),
            Packet::segment(7, s, c, psh | ack, 8, reply),
            Packet::segment(
                8,
                c,
                s,
                fin | ack,
                isn.wrapping_add(1 + head.len() as u32),
                b"",
            ),
            Packet::segment(9, s, c, fin | ack, 8 + reply.len() as u32, b""),
        ];
        // The SYN-ACK must acknowledge the SYN.
        packets[1].ack = isn.wrapping_add(1);
        assert_eq!(capture::reassemble(&packets, &packets[0]), head.to_vec());
        let seen = call_seen(&packets).unwrap();
        assert_eq!(seen.syn.seq, isn);
        assert_eq!(seen.syn.dst.port(), s);
        assert_eq!(seen.token, "dXNlcjpwYXNz");
        assert_eq!(seen.password, "pass");
        assert_eq!(seen.status, 401);
        assert_eq!(seen.first_fin, "client");

        // Without the FINs, or with a segment missing, the capture does not hold the call.
        let err = call_seen(&packets[..6]).err().unwrap();
        assert!(err.contains("no FIN"), "{err}");
        let gap: Vec<Packet> = packets.iter().filter(|p| p.number != 4).cloned().collect();
        let err = call_seen(&gap).err().unwrap();
        assert!(err.contains("incomplete"), "{err}");
        assert!(call_seen(&packets[2..])
            .err()
            .unwrap()
            .contains("no handshake"));
    }
}
