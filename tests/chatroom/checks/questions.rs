//! Milestone 7: questions on a capture of the built server and client (labs/chatroom/answers.txt),
//! the scenario `socklab capture` records, and what the questions read from the capture.

use super::{printed, CLIENT, SERVER};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Packet};
use socklab::grader::{Program, WAIT};
use std::net::SocketAddr;

/// The chat line the scenario sends (and the handout asks to type when capturing by hand).
const LINE: &str = "hello everyone";

/// The questions of `labs/chatroom/answers.txt`, in its order. The fixed answer is stored
/// hashed: `cargo run --bin socklab -- capture --lab chatroom --hash KEY=ANSWER` prints a hash.
pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "7 capture questions",
    salt: "socklab/chatroom/578d",
    captures: &[CaptureFile {
        name: "chatroom",
        holds:
            "two clients joining, `hello everyone` and a client leaving (TCP on the server's port)",
        check: |packets| room_seen(packets).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "server_port",
            capture: "chatroom",
            title: "the server's TCP port, read from the capture",
            text: "Which TCP port did your server listen on?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(room_seen(p)?.server.port()))),
            hint: "The port the server's `NICKNAME` comes from, and the destination port of every \
                   client's SYN: the OS chose it when the server bound port 0.",
        },
        Question {
            key: "line_seq",
            capture: "chatroom",
            title: "the raw sequence number of the segment carrying `hello everyone`",
            text: "What was the raw sequence number of the segment that carried the line \
                   `hello everyone` from a client to the server?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(room_seen(p)?.line.seq))),
            hint: "Find the segment to the server's port whose bytes show the line. Wireshark \
                   shows sequence numbers relative to the connection's first one: the raw one is \
                   `Sequence Number (raw)` in the segment's TCP details.",
        },
        Question {
            key: "line_ack",
            capture: "chatroom",
            title: "the acknowledgement number the server sent back for that segment",
            text: "What acknowledgement number (raw) did the server send back to that client in \
                   its first segment after the one carrying `hello everyone`?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(room_seen(p)?.line_ack))),
            hint: "Follow the client's connection (Follow > TCP Stream, or filter on its port) \
                   and read the next segment from the server: its `Acknowledgment number (raw)`. \
                   Compare it with the line's sequence number and its `Len=`.",
        },
        Question {
            key: "first_fin_port",
            capture: "chatroom",
            title: "the source port of the first FIN",
            text: "Look at the first connection that ended: from which TCP port did its first FIN \
                   come?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(room_seen(p)?.first_fin))),
            hint: "Filter `tcp.flags.fin == 1` and read the source port of the first segment \
                   listed; compare it with the server's port (question 1) to see which side \
                   ended the connection.",
        },
        Question {
            key: "message_end",
            capture: "chatroom",
            title: "what marks the end of a message in the stream",
            text:
                "What tells the server where one chat message ends: the end of a TCP segment, or \
                   the newline character? (segment or newline)",
            form: Form::Choice(&["segment", "newline"]),
            answer: Answer::Fixed {
                hash: "d9bf210d769e356564cdb2576067348dd29659cb4915398976f631f0f865950b",
                near: &[(
                    "d83c8c2cbd49a459d849061d58ba7fc9199757c88d6478817c6121b70f2a0eb2",
                    "in your capture each line may have a segment of its own, but TCP promises \
                     nothing about that: it may put two lines in one segment or split one over \
                     two, and `read` hands out bytes, not segments",
                )],
            },
            hint: "Two things to compare: how the segments of your capture line up with the \
                   lines typed, and what your server's reading code looks for in the bytes. \
                   Which of the two does TCP promise to keep?",
        },
    ],
    scenario,
};

/// What the questions read from a capture of the chat room.
struct RoomSeen {
    /// The server's socket: where `NICKNAME` comes from.
    server: SocketAddr,
    /// The segment that carried `hello everyone` from a client to the server.
    line: Packet,
    /// The acknowledgement number of the server's first segment back to the line's sender
    /// after the line.
    line_ack: u32,
    /// The source port of the first FIN on a connection with the server.
    first_fin: u16,
}

fn room_seen(packets: &[Packet]) -> Result<RoomSeen, String> {
    let server = packets
        .iter()
        .find(|p| p.is_tcp() && p.payload.starts_with(b"NICKNAME"))
        .map(|p| p.src)
        .ok_or(
            "it holds no `NICKNAME` line from a chat-room server: capture on the server's port \
             from before the clients connect",
        )?;
    capture::handshake(packets, |syn| syn.dst == server).ok_or_else(|| {
        format!(
            "it holds no handshake (SYN, then SYN-ACK) of a connection to the server at {server}: \
             start the capture before the clients"
        )
    })?;
    let line = packets
        .iter()
        .find(|p| {
            p.is_tcp()
                && p.dst == server
                && p.payload.windows(LINE.len()).any(|w| w == LINE.as_bytes())
        })
        .cloned()
        .ok_or_else(|| {
            format!("it holds no segment carrying the line `{LINE}` to the server: type it in a client while capturing")
        })?;
    let line_ack = packets
        .iter()
        .filter(|p| p.number > line.number && p.is_tcp())
        .find(|p| p.src == server && p.dst == line.src && p.flags.has(Flags::ACK))
        .map(|p| p.ack)
        .ok_or_else(|| {
            format!("it holds no segment from the server back to {} after the line `{LINE}`: stop the capture later", line.src)
        })?;
    let fin = packets
        .iter()
        .filter(|p| p.is_tcp() && (p.src == server || p.dst == server))
        .find(|p| p.flags.has(Flags::FIN))
        .ok_or(
            "no connection with the server ends in it (no FIN): stop the capture after a client \
             has left",
        )?;
    Ok(RoomSeen {
        server,
        line,
        line_ack,
        first_fin: fin.src.port(),
    })
}

/// The solution server and two clients on loopback: both join, amy writes `hello everyone`,
/// ben leaves, then amy; captured on the server's port.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let host = rec.ip("webserver")?;
    let (_server, addr) =
        rec.start_server_on("webserver", SERVER, &["--host", &host, "--port", "0"])?;
    let port = addr.port().to_string();
    rec.capture_on("webserver", "chatroom", &format!("tcp port {port}"))?;
    let server = rec.name_of("webserver")?;
    let join = |on: &str, name: &str| -> Result<Program, String> {
        let client = rec.spawn_on(
            on,
            CLIENT,
            &["--host", &server, "--port", &port, "--nickname", name],
        )?;
        printed(&client, "`Connected to server!`", "Connected to server!")?;
        Ok(client)
    };
    let mut amy = join("client1", "amy")?;
    let mut ben = join("client2", "ben")?;
    printed(&amy, "`ben joined!`", "ben joined!")?;
    amy.send_line(LINE)?;
    printed(&ben, "`amy: hello everyone`", "amy: hello everyone")?;
    ben.close_stdin();
    printed(&amy, "`ben left!`", "ben left!")?;
    amy.close_stdin();
    for client in [&ben, &amy] {
        if !client.wait(WAIT)?.success() {
            return Err(client.explain("a client failed".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_is_read_by_its_lines_and_flags() {
        let (s, amy, old) = (3040, 41000, 39000);
        let (syn, ack, psh, fin) = (Flags::SYN, Flags::ACK, Flags::PSH, Flags::FIN);
        let mut packets = vec![
            // A connection already open when the capture began ends first, from the server.
            Packet::segment(1, s, old, fin | ack, 500, b""),
            Packet::segment(2, amy, s, syn, 10, b""),
            Packet::segment(3, s, amy, syn | ack, 70, b""),
            Packet::segment(4, s, amy, psh | ack, 71, b"NICKNAME\n"),
            Packet::segment(5, amy, s, psh | ack, 11, b"amy\n"),
            Packet::segment(6, amy, s, psh | ack, 15, b"amy: hello everyone\n"),
            Packet::segment(7, s, amy, psh | ack, 80, b"amy: hello everyone\n"),
            Packet::segment(8, amy, s, fin | ack, 35, b""),
        ];
        packets[2].ack = 11;
        packets[6].ack = 35;
        let seen = room_seen(&packets).unwrap();
        assert_eq!(seen.server.port(), s);
        assert_eq!(
            (seen.line.number, seen.line.seq, seen.line.len),
            (6, 15, 20)
        );
        assert_eq!(seen.line_ack, 35);
        assert_eq!(seen.first_fin, s);
        assert_eq!(room_seen(&packets[1..]).unwrap().first_fin, amy);

        let err = room_seen(&packets[1..7]).err().unwrap();
        assert!(err.contains("no FIN"), "{err}");
        let err = room_seen(&packets[1..6]).err().unwrap();
        assert!(err.contains("no segment from the server back"), "{err}");
        let err = room_seen(&packets[2..]).err().unwrap();
        assert!(err.contains("no handshake"), "{err}");
        let err = room_seen(&packets[4..]).err().unwrap();
        assert!(err.contains("NICKNAME"), "{err}");
    }
}
