//! Milestone 4: the seed's questions on captures of the student's own programs
//! (`labs/chat/answers.txt`): client 1's handshake with the server in `chatserver.pcap`, and the
//! UDP header questions on a P2P datagram in `client1.pcap`. Also the scenario `make capture`
//! runs, and how the server, client 1 and a P2P datagram are found in a capture.

use super::{free_udp_port, CLIENT, SERVER};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Packet};
use socklab::grader::{Program, WAIT};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

/// Where `make capture LAB=chat` runs the programs: the server, client 1 and client 2, as the
/// course's containers 10.20.30.3, .11 and .12.
/// Client 1's addresses in `make capture` and in the course's lab network.
const CLIENT1: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
    IpAddr::V4(Ipv4Addr::new(10, 20, 30, 11)),
];

/// The questions of `labs/chat/answers.txt`, in its order. Fixed answers are stored hashed:
/// `cargo run --bin socklab -- capture --lab chat --hash KEY=ANSWER` prints a hash.
pub(super) static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "4 capture questions",
    salt: "socklab/chat/b349",
    captures: &[
        CaptureFile {
            name: "chatserver",
            holds: "the server's TCP traffic with both clients, from client 1's SYN on",
            check: |packets| first_connection(packets).map(|_| ()),
        },
        CaptureFile {
            name: "client1",
            holds: "client 1's traffic, with a P2P (UDP) message between the clients",
            check: |packets| p2p_datagram(packets).map(|_| ()),
        },
        CaptureFile {
            name: "client2",
            holds: "client 2's traffic, with a P2P (UDP) message between the clients",
            check: |packets| p2p_datagram(packets).map(|_| ()),
        },
        CaptureFile {
            name: "chat",
            holds: "all the programs' traffic in one file, for delivery Q1's sequence diagram",
            check: |packets| {
                first_connection(packets)?;
                p2p_datagram(packets).map(|_| ())
            },
        },
    ],
    questions: &[
        Question {
            key: "syn_seq",
            capture: "chatserver",
            title: "the raw sequence number of client 1's SYN",
            text: "What is the raw sequence number of the SYN that opened the first TCP connection \
                   from client 1 to the server?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn.seq))),
            hint: "Filter `tcp.flags.syn == 1` and take client 1's first SYN (SYN set, ACK clear) \
                   to the server's port. Wireshark shows relative numbers (the SYN's is 0): untick \
                   Edit > Preferences > Protocols > TCP > Relative sequence numbers, or read \
                   `Sequence Number (raw)`.",
        },
        Question {
            key: "synack_seq",
            capture: "chatserver",
            title: "the raw sequence number of the server's SYN-ACK",
            text: "What is the raw sequence number of the SYN-ACK the server sent in reply to that \
                   SYN?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn_ack.seq))),
            hint: "The SYN-ACK is the next segment from the server's port to client 1's with both \
                   SYN and ACK set. The server chose its own initial sequence number: it is not \
                   related to the client's. Raw number, not relative.",
        },
        Question {
            key: "synack_ack",
            capture: "chatserver",
            title: "the acknowledgement number of the SYN-ACK",
            text: "What is the value of the acknowledgement field of that SYN-ACK? (raw number)",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn_ack.ack))),
            hint: "Read `Acknowledgment number (raw)` in the SYN-ACK's TCP details; compare it \
                   with your answer to the first question.",
        },
        Question {
            key: "p2p_port",
            capture: "client1",
            title: "the UDP port of the P2P datagrams",
            text: "To which UDP port did the first P2P datagram between the two clients go?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(p2p_datagram(p)?.dst.port()))),
            hint: "Filter `udp` in client1.pcap and read the first datagram's destination port; \
                   compare it with its source port.",
        },
        Question {
            key: "p2p_length",
            capture: "client1",
            title: "the UDP Length field of the first P2P datagram",
            text: "What is the value of the Length field in the UDP header of that datagram?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok((p2p_datagram(p)?.len + 8) as f64)),
            hint: "Expand User Datagram Protocol in that datagram and read `Length`; compare it \
                   with the bytes of text you sent.",
        },
        Question {
            key: "udp_fields",
            capture: "client1",
            title: "how many fields the UDP header has",
            text: "Select one P2P datagram between the two clients. How many fields does its UDP \
                   header have?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "9abdbbbd18f6a500868188876eaad35875d7e070caa3ba5b62d6c130150dd80a",
                near: &[],
            },
            hint: "Filter `udp` and expand User Datagram Protocol: count the header's fields (not \
                   the payload, nor the lines Wireshark adds in brackets).",
        },
        Question {
            key: "field_bytes",
            capture: "client1",
            title: "how many bytes each UDP header field takes",
            text: "How many bytes long is each field of the UDP header?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "94db312542ac40738b8974ba6711d657bbc7785b0420f7cef9a95540cf381a04",
                near: &[(
                    "cedcdd373d2deea9c2a494df3c27935303cbeea11dab7c3a1db65447bdae24bd",
                    "that is the number of bits; the question asks for bytes",
                )],
            },
            hint: "Click a header field in Wireshark: the bytes pane highlights its bytes.",
        },
        Question {
            key: "max_payload",
            capture: "client1",
            title: "the largest payload the UDP Length field allows",
            text: "What is the largest number of payload bytes that the UDP header's Length field \
                   allows? (UDP alone: do not count the IP header)",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "ad6c4875b254694fe63cf498a11f9be7e73e52373335970b05b69442e63da733",
                near: &[
                    ("f34ce06e92c34d49249ba237991d3970f1330c7abd4b75a2ab1579688ef69d75",
                     "that is what is left over IPv4, once its 20-byte header is also taken off; \
                      the question asks what UDP's own Length field allows"),
                    ("a47fb688c19e3351840bbaa77b8306a0e603984d071f1c8b77f50efbe818b8b1",
                     "that is the largest Length value, but Length counts the 8-byte header too"),
                ],
            },
            hint: "Look up what the Length field counts (RFC 768) and how large a number its \
                   bits can hold.",
        },
        Question {
            key: "max_port",
            capture: "client1",
            title: "the largest possible port number",
            text: "What is the largest possible source port number?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "da4b4c7b82e2e5a9ed3bc7c7ceaf3f0d086a9b5127578baadbf699d8257c46c6",
                near: &[(
                    "1db16fdcbb54e9cbb106281cb1eb6e38d320df5c468f9e71b776ae9e766bc4bf",
                    "that is how many values the field holds, but they start at 0",
                )],
            },
            hint: "A port is one UDP header field: how large a number fits in its bits?",
        },
        Question {
            key: "protocol_number",
            capture: "client1",
            title: "the IP protocol number of UDP",
            text: "What is the protocol number of UDP (the IPv4 Protocol field of a P2P datagram)?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "708b97ea1517953282d32890d5cd2e6abf7331380a687b016e713e7108a99868",
                near: &[(
                    "21a5a18c09a11922b36dfcf85d2e423eb8021b39a458c4dc0418df65544701ba",
                    "6 is TCP's number; look at a P2P datagram, not at the chat room's traffic",
                )],
            },
            hint: "Expand Internet Protocol Version 4 in a P2P datagram and read its Protocol \
                   field.",
        },
    ],
    scenario,
};

/// Whether a TCP payload carries a `!{…}` user list (at its start or after a newline).
fn carries_map(payload: &[u8]) -> bool {
    payload.starts_with(b"!{") || payload.windows(3).any(|w| w == b"\n!{")
}

/// The chat server's socket: the source of the first TCP segment carrying a `!{…}` user list.
fn chat_server(packets: &[Packet]) -> Option<SocketAddr> {
    packets
        .iter()
        .find(|p| p.is_tcp() && carries_map(&p.payload))
        .map(|p| p.src)
}

/// The handshake of client 1's first connection to the chat server, found by its flags. Client
/// 1 is 127.0.0.11 (`make capture`) or 10.20.30.11 (the course's network) when the capture
/// holds one of them, else the first client seen talking to the server.
fn first_connection(packets: &[Packet]) -> Result<capture::Handshake, String> {
    let server = chat_server(packets).ok_or(
        "it holds no TCP segment from a chat server with a `!{…}` user list: capture on the \
         server's port while the clients join",
    )?;
    let mut clients: Vec<IpAddr> = Vec::new();
    for p in packets.iter().filter(|p| p.is_tcp()) {
        let peer = if p.src == server {
            p.dst
        } else if p.dst == server {
            p.src
        } else {
            continue;
        };
        if !clients.contains(&peer.ip()) {
            clients.push(peer.ip());
        }
    }
    let client1 = clients
        .iter()
        .find(|ip| CLIENT1.contains(ip))
        .or(clients.first())
        .copied()
        .ok_or("it holds no client of the chat server")?;
    capture::handshake(packets, |syn| syn.src.ip() == client1 && syn.dst == server).ok_or_else(
        || {
            format!(
                "it holds no handshake (a SYN, then the SYN-ACK answering it) of a connection \
                 from client 1 ({client1}) to the server ({server}): the capture began after \
                 client 1 had connected; start it before the clients"
            )
        },
    )
}

/// The IP addresses the chat server's `!{…}` user lists in `packets` name.
fn listed_ips(packets: &[Packet]) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for p in packets.iter().filter(|p| p.is_tcp()) {
        for line in String::from_utf8_lossy(&p.payload).lines() {
            let Some(json) = line.strip_prefix('!') else {
                continue;
            };
            let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(json) else {
                continue;
            };
            for ip in map.values().filter_map(|v| v.parse::<IpAddr>().ok()) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
    }
    ips
}

/// The first P2P datagram: UDP from one client's P2P port to the same port at another
/// (unicast) address; both addresses in the server's user list when the capture holds one.
fn p2p_datagram(packets: &[Packet]) -> Result<&Packet, String> {
    let listed = listed_ips(packets);
    let unicast = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    };
    packets
        .iter()
        .find(|p| {
            p.is_udp()
                && p.src.port() == p.dst.port()
                && p.src.ip() != p.dst.ip()
                && unicast(p.dst.ip())
                && (listed.is_empty()
                    || (listed.contains(&p.src.ip()) && listed.contains(&p.dst.ip())))
        })
        .ok_or_else(|| {
            "it holds no P2P datagram (UDP from one client's P2P port to the same port at the \
             other client's address): send `@NAME: text` while capturing"
                .to_string()
        })
}

/// The solution server and two clients on their own loopback addresses: client 1 writes to the
/// room, then client 1 and client 2 exchange P2P messages, and both leave. Three captures, as
/// the seed's three tcpdumps: the server's, client 1's and client 2's; and a fourth with all of
/// it, for delivery Q1's sequence diagram.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let (server_ip, ip1, ip2) = (rec.ip("webserver")?, rec.ip("client1")?, rec.ip("client2")?);
    let args = ["--host", &server_ip, "--port", "0"];
    let (_server, addr) = rec.start_server_on("webserver", SERVER, &args)?;
    let port = addr.port().to_string();
    let udp = free_udp_port()?.to_string();
    rec.capture_on(
        "webserver",
        "chatserver",
        &format!("tcp and host {server_ip} and port {port}"),
    )?;
    // Everything, in one file (across hosts, on the switch): the server's connections and the
    // clients' P2P datagrams.
    rec.capture_on(
        "switch",
        "chat",
        &format!(
            "( tcp and host {server_ip} and port {port} ) or ( udp and port {udp} and \
             ( host {ip1} or host {ip2} ) )"
        ),
    )?;
    for (name, ip) in [("client1", &ip1), ("client2", &ip2)] {
        rec.capture_on(
            name,
            name,
            &format!("host {ip} and ( ( tcp and port {port} ) or ( udp and port {udp} ) )"),
        )?;
    }
    let server = rec.name_of("webserver")?;
    let spawn = |host: &str, ip: &str| {
        let args = ["--server", &server, "--port", &port, "--bind", ip];
        let more = ["--udp-port", &udp, "--name", host];
        rec.spawn_on(host, CLIENT, &[&args[..], &more[..]].concat())
    };
    let established = |client: &Program| {
        client.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })
    };
    let mut client1 = spawn("client1", &ip1)?;
    established(&client1)?;
    let mut client2 = spawn("client2", &ip2)?;
    established(&client2)?;
    client1.send_line("hello everyone")?;
    client2.expect_line(
        "client 2 printing `incoming msg from chatserver (client1: hello everyone)`",
        WAIT,
        |l| l.contains("incoming msg from chatserver (client1: hello everyone"),
    )?;
    // Client 1 learns of client 2 from the server's map; wait until `#ls` shows it.
    let deadline = Instant::now() + WAIT;
    loop {
        client1.send_line("#ls")?;
        let listed = client1.expect_line(
            "client 1's `#ls` listing client2",
            Duration::from_millis(300),
            |l| l.contains("\"client2\""),
        );
        match listed {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {}
        }
    }
    client1.send_line("@client2: hi client 2, this is P2P")?;
    client2.expect_line("client 2 printing client 1's P2P message", WAIT, |l| {
        l.contains("Incoming msg (P2P) from client1")
    })?;
    client2.send_line("@client1: hi back")?;
    client1.expect_line("client 1 printing client 2's P2P message", WAIT, |l| {
        l.contains("Incoming msg (P2P) from client2")
    })?;
    // Both leave (end of input), so the captures end with each connection's FINs; client 1
    // stays long enough to get the map without client 2 (the server's delayed-ACK and Nagle
    // timers would otherwise hold it until client 1's own FIN).
    for client in [&mut client2, &mut client1] {
        client.close_stdin();
        client.run_to_end(WAIT)?;
        thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab::capture::Flags;

    const SERVER_AT: ([u8; 4], u16) = ([10, 20, 30, 3], 5000);

    /// A client at `ip` (port 40000) connecting to the server: SYN, SYN-ACK, ACK, its name, and
    /// the server's `OK` with the map.
    fn join(first: usize, ip: [u8; 4], isn: u32, server_isn: u32) -> Vec<Packet> {
        let (c, s) = ((ip, 40000), SERVER_AT);
        let (syn, ack, psh) = (Flags::SYN, Flags::ACK, Flags::PSH);
        vec![
            Packet::tcp(first, c, s, syn, (isn, 0), b""),
            Packet::tcp(first + 1, s, c, syn | ack, (server_isn, isn + 1), b""),
            Packet::tcp(first + 2, c, s, ack, (isn + 1, server_isn + 1), b""),
            Packet::tcp(
                first + 3,
                c,
                s,
                psh | ack,
                (isn + 1, server_isn + 1),
                b"bob\n",
            ),
            Packet::tcp(
                first + 4,
                s,
                c,
                psh | ack,
                (server_isn + 1, isn + 5),
                b"OK welcome\n!{\"alice\":\"10.20.30.11\",\"bob\":\"10.20.30.12\"}\n",
            ),
        ]
    }

    #[test]
    fn client_1s_handshake_is_found_by_flags_wherever_it_is() {
        // Client 2 connects first; client 1 (10.20.30.11) second: its handshake is the answer.
        let mut packets = join(1, [10, 20, 30, 12], 100, 900);
        packets.extend(join(6, [10, 20, 30, 11], 7000, 555));
        let hs = first_connection(&packets).unwrap();
        assert_eq!(
            (hs.syn.seq, hs.syn_ack.seq, hs.syn_ack.ack),
            (7000, 555, 7001)
        );

        // Other addresses: client 1 is the first client seen talking to the server.
        let mut packets = join(1, [192, 168, 1, 7], 100, 900);
        packets.extend(join(6, [192, 168, 1, 8], 7000, 555));
        let hs = first_connection(&packets).unwrap();
        assert_eq!(hs.syn.src.ip(), IpAddr::from([192, 168, 1, 7]));
        assert_eq!((hs.syn.seq, hs.syn_ack.seq), (100, 900));
    }

    #[test]
    fn a_capture_that_starts_after_client_1_connected_is_refused_with_the_reason() {
        let mut packets = join(1, [10, 20, 30, 11], 7000, 555);
        packets.extend(join(6, [10, 20, 30, 12], 100, 900));
        // The first three packets (client 1's handshake) are not in the capture.
        let late: Vec<Packet> = packets[3..].to_vec();
        let err = first_connection(&late).err().unwrap();
        assert!(
            err.contains("10.20.30.11") && err.contains("began after client 1"),
            "{err}"
        );
        // Without any user list, the chat server cannot be told apart.
        let err = first_connection(&packets[..3]).err().unwrap();
        assert!(err.contains("user list"), "{err}");
    }

    #[test]
    fn p2p_datagrams_go_between_two_clients_on_one_port() {
        let (a, b) = ([10, 20, 30, 11], [10, 20, 30, 12]);
        let mdns = Packet::udp(1, (a, 5353), ([224, 0, 0, 251], 5353), b"hi");
        let dns = Packet::udp(2, (a, 40000), ([10, 20, 30, 2], 53), b"hi");
        assert!(p2p_datagram(&[mdns.clone(), dns.clone()]).is_err());
        let chat = Packet::udp(3, (b, 5000), (a, 5000), b"hi");
        let number = p2p_datagram(&[mdns, dns, chat.clone()]).unwrap().number;
        assert_eq!(number, 3);
        // With the server's user list in the capture, both ends must be listed in it.
        let mut packets = join(1, a, 7000, 555);
        packets.push(Packet::udp(6, (a, 6000), ([10, 20, 30, 99], 6000), b"hi"));
        assert!(p2p_datagram(&packets).is_err());
        packets.push(chat);
        assert_eq!(p2p_datagram(&packets).unwrap().number, 3);
    }
}
