//! Proof that the kit reads captures as Wireshark does: traffic made here on loopback (UDP and a
//! TCP connection, over IPv4 and IPv6) is captured by tcpdump in several formats, and every
//! number `socklab::capture` reads from each file — frame number, time, addresses, ports, flags,
//! absolute seq/ack, payload length and bytes — is compared with tshark's reading of the same file.
//!
//! Needs tcpdump and tshark, and permission to capture (root, or the capture capabilities);
//! `.ci/run` installs both. Without them these tests FAIL with the reason: they never skip.

use socklab::capture::{self, Flags, Packet};
use socklab::sniff::{tshark_packets, Tcpdump};
use socklab::{flow, sniff};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// What the traffic was, to check the kit found it (beyond agreeing with tshark).
struct Made {
    dir: PathBuf,
    /// Per address family: the UDP request's bytes, the TCP client's and server's sockets.
    flows: Vec<(Vec<u8>, SocketAddr, SocketAddr)>,
}

static MADE: OnceLock<Result<Made, String>> = OnceLock::new();

fn made() -> &'static Made {
    match MADE.get_or_init(record) {
        Ok(m) => m,
        Err(e) => panic!("could not make the test captures: {e}"),
    }
}

/// One UDP request and reply, then a TCP connection that sends a line each way and closes.
fn traffic(
    udp_server: &UdpSocket,
    listener: &TcpListener,
    n: u8,
) -> std::io::Result<(Vec<u8>, SocketAddr, SocketAddr)> {
    let ip = udp_server.local_addr()?.ip();
    let timeout = Some(Duration::from_secs(3));
    let client = UdpSocket::bind((ip, 0))?;
    client.set_read_timeout(timeout)?;
    udp_server.set_read_timeout(timeout)?;
    let request = format!("[{n}, \"The time is 2001-02-03 04:05:06.070809\"]").into_bytes();
    client.send_to(&request, udp_server.local_addr()?)?;
    let mut buf = [0u8; 1500];
    let (_, from) = udp_server.recv_from(&mut buf)?;
    udp_server.send_to(b"[1, \"reply\"]", from)?;
    client.recv_from(&mut buf)?;

    let mut c = TcpStream::connect(listener.local_addr()?)?;
    c.set_read_timeout(timeout)?;
    let (mut s, _) = listener.accept()?;
    s.set_read_timeout(timeout)?;
    c.write_all(b"hello\n")?;
    s.read_exact(&mut buf[..6])?;
    s.write_all(b"HELLO, world\n")?;
    c.read_exact(&mut buf[..13])?;
    let (client_addr, server_addr) = (c.local_addr()?, s.local_addr()?);
    drop(c);
    let _ = s.read(&mut buf)?; // the client's FIN
    drop(s);
    std::thread::sleep(Duration::from_millis(50));
    Ok((request, client_addr, server_addr))
}

fn record() -> Result<Made, String> {
    sniff::tools_present()?;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-proof");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let hosts: [IpAddr; 2] = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let mut sockets = Vec::new();
    let mut ports = Vec::new();
    for ip in hosts {
        let udp = UdpSocket::bind((ip, 0)).map_err(|e| format!("bind {ip}: {e}"))?;
        let tcp = TcpListener::bind((ip, 0)).map_err(|e| format!("listen {ip}: {e}"))?;
        ports.push(udp.local_addr().unwrap().port());
        ports.push(tcp.local_addr().unwrap().port());
        sockets.push((udp, tcp));
    }
    let filter = ports
        .iter()
        .map(|p| format!("port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let dumps = [
        ("lo", "lo.pcap", &[][..]),
        ("lo", "lo-nano.pcap", &["--time-stamp-precision=nano"][..]),
        ("any", "any-sll2.pcap", &["-y", "LINUX_SLL2"][..]),
        ("any", "any-sll.pcap", &["-y", "LINUX_SLL"][..]),
    ];
    let mut running = Vec::new();
    for (iface, file, extra) in dumps {
        running.push(Tcpdump::start(iface, &dir.join(file), extra, &filter)?);
    }
    let mut flows = Vec::new();
    for (n, (udp, tcp)) in sockets.iter().enumerate() {
        flows.push(traffic(udp, tcp, n as u8).map_err(|e| format!("traffic: {e}"))?);
    }
    for d in running {
        let file = d.file.clone();
        eprintln!("{}: {}", file.display(), d.stop()?);
    }
    let out = Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(dir.join("lo.pcap"))
        .arg(dir.join("lo.pcapng"))
        .output()
        .map_err(|e| format!("editcap (part of tshark's packages): {e}"))?;
    if !out.status.success() {
        return Err(format!("editcap: {}", String::from_utf8_lossy(&out.stderr)));
    }
    // BSD loopback and raw IP: the same IP packets under other link headers.
    let frames = pcap_frames(&dir.join("lo.pcap"));
    // Each frame is its 16-byte record header, then 14 bytes of Ethernet, then the IP packet.
    let strip = |f: &Vec<u8>| f[16 + 14..].to_vec();
    let null: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let family: u32 = if f[16 + 14] >> 4 == 6 { 30 } else { 2 }; // AF_INET6 on macOS, AF_INET
            let mut out = family.to_le_bytes().to_vec();
            out.extend(strip(f));
            out
        })
        .collect();
    write_pcap(&dir.join("null.pcap"), 0, &frames, &null);
    let raw: Vec<Vec<u8>> = frames.iter().map(strip).collect();
    write_pcap(&dir.join("raw.pcap"), 101, &frames, &raw);
    Ok(Made { dir, flows })
}

/// The frames of a little-endian microsecond pcap file (as tcpdump writes on this machine).
fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("the capture exists");
    assert_eq!(
        &data[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "a LE microsecond pcap"
    );
    let mut at = 24;
    let mut frames = Vec::new();
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(data[at..at + 16 + caplen].to_vec()); // record header + frame
        at += 16 + caplen;
    }
    frames
}

/// Writes `bodies` with the record headers (times) of `records` under link type `link`.
fn write_pcap(path: &Path, link: u32, records: &[Vec<u8>], bodies: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(262_144u32.to_le_bytes());
    out.extend(link.to_le_bytes());
    for (rec, body) in records.iter().zip(bodies) {
        out.extend(&rec[..8]);
        out.extend((body.len() as u32).to_le_bytes());
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
    }
    std::fs::write(path, out).expect("write a pcap");
}

/// The kit's and tshark's readings of `file` agree on every packet and every field.
fn agrees_with_tshark(file: &str, link: &str) -> Vec<Packet> {
    let path = made().dir.join(file);
    let cap = capture::read(&path).unwrap_or_else(|e| panic!("the kit cannot read {file}: {e}"));
    assert_eq!(cap.link, link, "{file}");
    let reference = tshark_packets(&path).unwrap_or_else(|e| panic!("tshark: {e}"));
    assert!(!reference.is_empty(), "{file}: tshark sees no packets");
    assert_eq!(
        cap.packets.len(),
        reference.len(),
        "{file}: the kit read {} TCP/UDP packets, tshark {}",
        cap.packets.len(),
        reference.len()
    );
    for (kit, shark) in cap.packets.iter().zip(&reference) {
        assert_eq!(
            kit, shark,
            "{file}: frame {} differs from tshark's",
            shark.number
        );
    }
    cap.packets
}

/// What the traffic was is in the packets: UDP requests, handshakes found by flags, data.
fn holds_the_traffic(packets: &[Packet]) {
    for (request, client, server) in &made().flows {
        assert!(
            packets.iter().any(|p| p.is_udp() && p.payload == *request),
            "the UDP request {:?}",
            String::from_utf8_lossy(request)
        );
        let hs = capture::handshake(packets, |p| p.src == *client && p.dst == *server)
            .unwrap_or_else(|| panic!("no handshake from {client} to {server}"));
        assert!(hs.syn.flags.has(Flags::SYN) && !hs.syn.flags.has(Flags::ACK));
        assert_eq!(hs.syn_ack.ack, hs.syn.seq.wrapping_add(1));
        let data: Vec<usize> = packets
            .iter()
            .filter(|p| p.is_tcp() && p.len > 0 && (p.src == *client || p.src == *server))
            .map(|p| p.len)
            .collect();
        assert!(
            data.contains(&6) && data.contains(&13),
            "data lengths {data:?}"
        );
        assert!(packets
            .iter()
            .any(|p| p.src == *client && p.flags.has(Flags::FIN)));
    }
}

#[test]
fn ethernet_pcap_from_loopback_matches_tshark() {
    let packets = agrees_with_tshark("lo.pcap", "Ethernet");
    holds_the_traffic(&packets);
    assert!(packets.iter().any(|p| p.src.is_ipv6()) && packets.iter().any(|p| p.src.is_ipv4()));
}

#[test]
fn nanosecond_pcap_matches_tshark() {
    holds_the_traffic(&agrees_with_tshark("lo-nano.pcap", "Ethernet"));
}

#[test]
fn pcapng_matches_tshark() {
    holds_the_traffic(&agrees_with_tshark("lo.pcapng", "Ethernet"));
}

#[test]
fn linux_cooked_captures_match_tshark() {
    holds_the_traffic(&agrees_with_tshark("any-sll2.pcap", "Linux cooked v2"));
    holds_the_traffic(&agrees_with_tshark("any-sll.pcap", "Linux cooked v1"));
}

#[test]
fn bsd_loopback_and_raw_ip_match_tshark() {
    let lo = agrees_with_tshark("lo.pcap", "Ethernet");
    for (file, link) in [("null.pcap", "BSD loopback"), ("raw.pcap", "raw IP")] {
        let packets = agrees_with_tshark(file, link);
        assert_eq!(packets, lo, "{file}: the same packets as lo.pcap");
    }
}

#[test]
fn truncated_files_are_clear_errors_as_tshark_says() {
    for file in ["lo.pcap", "lo.pcapng"] {
        let data = std::fs::read(made().dir.join(file)).unwrap();
        let cut = made().dir.join(format!("cut-{file}"));
        std::fs::write(&cut, &data[..data.len() - 30]).unwrap();
        let err = capture::read(&cut).expect_err("a truncated file is an error");
        assert!(err.contains("truncated"), "{file}: {err}");
        // Cut anywhere: a result or a message, never a panic.
        for end in 0..data.len() {
            let _ = capture::parse(&data[..end]);
        }
        let shark = Command::new("tshark").arg("-r").arg(&cut).output().unwrap();
        let said = String::from_utf8_lossy(&shark.stderr);
        assert!(
            said.contains("cut short") || said.contains("truncated"),
            "tshark agrees {file} is damaged: {said}"
        );
    }
}

#[test]
fn flow_svg_is_valid_xml_with_one_arrow_per_packet() {
    let packets = agrees_with_tshark("lo.pcap", "Ethernet");
    let svg = flow::svg(&packets, flow::Show::default());
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let arrows = doc
        .descendants()
        .filter(|n| n.has_tag_name("line") && n.attribute("class") == Some("arrow"))
        .count();
    assert_eq!(arrows, packets.len());
    let text = flow::text(&packets, flow::Show::default());
    assert_eq!(text.lines().count(), packets.len() + 1, "{text}");
    let syn = packets.iter().find(|p| p.flags.0 == Flags::SYN).unwrap();
    assert!(
        text.contains(&format!("SYN  seq={} ack=0", syn.seq)),
        "{text}"
    );
    // And the tool itself, on the file.
    let out = Command::new(env!("CARGO_BIN_EXE_flow"))
        .arg(made().dir.join("lo.pcap"))
        .args(["--svg"])
        .arg(made().dir.join("lo.svg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(made().dir.join("lo.svg")).unwrap();
    assert!(roxmltree::Document::parse(&written).is_ok());
    let bad = Command::new(env!("CARGO_BIN_EXE_flow"))
        .arg(made().dir.join("cut-nothing"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("panicked"));
}
