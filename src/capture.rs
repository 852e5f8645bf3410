//! Reading packet captures: what the Wireshark questions, the `flow` tool and `make capture`
//! share.
//!
//! [`read`] takes a pcap or pcapng file (what tcpdump and Wireshark write) and returns its TCP
//! and UDP packets as a flat list of [`Packet`]s: time, addresses, ports, TCP flags, **absolute**
//! sequence and acknowledgement numbers (never Wireshark's relative ones) and payload length.
//! Link types: Ethernet, Linux cooked v1 and v2 (`tcpdump -i any`), BSD loopback (macOS `lo0`)
//! and raw IP; IPv4 and IPv6. The file format is parsed by `pcap-parser`, headers by
//! `etherparse`. A truncated or corrupt file is an `Err` that says what is wrong, never a panic.
//!
//! [`handshake`] finds a TCP three-way handshake by its flags (SYN, then the SYN-ACK that answers
//! it), wherever it is in the capture: the original harness took the first two packets instead.
//! [`reassemble`] puts one direction of a TCP stream back in order, as Wireshark's "Follow TCP
//! Stream" does.

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// A capture larger than this is refused: the labs' captures are a few kilobytes.
const MAX_FILE: u64 = 256 << 20;

/// Transport protocol of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// TCP flags, as the bits of the header's flags byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

impl fmt::Display for Flags {
    /// `SYN, ACK` — Wireshark's order and names.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let names = [
            (Flags::FIN, "FIN"),
            (Flags::SYN, "SYN"),
            (Flags::RST, "RST"),
            (Flags::PSH, "PSH"),
            (Flags::ACK, "ACK"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, n)| *n)
            .collect();
        write!(f, "{}", set.join(", "))
    }
}

/// One TCP or UDP packet of a capture.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// The frame number as Wireshark shows it (1 = the file's first frame, of any kind).
    pub number: usize,
    /// Capture time in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub protocol: Protocol,
    /// TCP flags (empty for UDP).
    pub flags: Flags,
    /// Absolute (raw) TCP sequence number; 0 for UDP.
    pub seq: u32,
    /// Absolute (raw) TCP acknowledgement number; 0 for UDP.
    pub ack: u32,
    /// Bytes of TCP or UDP payload (the UDP Length field minus its 8-byte header).
    pub len: usize,
    /// The payload bytes the capture holds (fewer than `len` if the snapshot length cut it).
    pub payload: Vec<u8>,
}

impl Packet {
    /// A TCP segment made by hand (tests, worked examples): frame `number`, captured
    /// `number` µs after the epoch.
    pub fn tcp(
        number: usize,
        src: impl Into<SocketAddr>,
        dst: impl Into<SocketAddr>,
        flags: u8,
        (seq, ack): (u32, u32),
        payload: &[u8],
    ) -> Packet {
        Packet {
            number,
            time_ns: number as u64 * 1000,
            src: src.into(),
            dst: dst.into(),
            protocol: Protocol::Tcp,
            flags: Flags(flags),
            seq,
            ack,
            len: payload.len(),
            payload: payload.to_vec(),
        }
    }

    /// A TCP segment between two loopback ports, made by hand (tests): no acknowledgement.
    pub fn segment(
        number: usize,
        src: u16,
        dst: u16,
        flags: u8,
        seq: u32,
        payload: &[u8],
    ) -> Packet {
        let (src, dst) = (([127, 0, 0, 1], src), ([127, 0, 0, 1], dst));
        Packet::tcp(number, src, dst, flags, (seq, 0), payload)
    }

    /// A UDP datagram made by hand, like [`Packet::tcp`].
    pub fn udp(
        number: usize,
        src: impl Into<SocketAddr>,
        dst: impl Into<SocketAddr>,
        payload: &[u8],
    ) -> Packet {
        Packet {
            protocol: Protocol::Udp,
            ..Packet::tcp(number, src, dst, 0, (0, 0), payload)
        }
    }

    pub fn is_tcp(&self) -> bool {
        self.protocol == Protocol::Tcp
    }

    pub fn is_udp(&self) -> bool {
        self.protocol == Protocol::Udp
    }

    /// Whether the packet goes between the same two sockets as `other`, either way.
    pub fn same_flow(&self, other: &Packet) -> bool {
        self.protocol == other.protocol
            && ((self.src, self.dst) == (other.src, other.dst)
                || (self.src, self.dst) == (other.dst, other.src))
    }
}

/// The packets of one capture file.
#[derive(Debug)]
pub struct Capture {
    /// `pcap` or `pcapng`.
    pub format: &'static str,
    /// The link type of the (first) interface, e.g. `Ethernet` or `Linux cooked v2`.
    pub link: String,
    /// Every frame in the file, TCP/UDP or not.
    pub frames: usize,
    /// The TCP and UDP packets, in file order.
    pub packets: Vec<Packet>,
}

/// Reads a pcap or pcapng file. The error names the file and says what is wrong with it.
pub fn read(path: &Path) -> Result<Capture, String> {
    let name = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {name}: {e}"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "{name} is {size} bytes; captures larger than {MAX_FILE} bytes are not read"
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    parse(&data).map_err(|e| format!("{name}: {e}"))
}

/// Parses a whole capture held in memory: reads its blocks in order (`Layout` keeps the
/// format, link types and clocks they describe) and decodes each frame on its own (`decode`).
pub fn parse(data: &[u8]) -> Result<Capture, String> {
    if data.is_empty() {
        return Err("the file is empty (was the capture stopped before it started?)".into());
    }
    // The buffer holds the whole file, so the reader never needs to refill or grow.
    let capacity = data.len().max(1 << 16) + 1;
    let mut reader = pcap_parser::create_reader(capacity, data).map_err(|e| match e {
        PcapError::HeaderNotRecognized => {
            "not a pcap or pcapng file (its first bytes are not a capture header)".to_string()
        }
        PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
            "the file ends inside its header: it is truncated".to_string()
        }
        other => format!("not a readable capture ({other:?})"),
    })?;
    let mut layout = Layout::default();
    let mut frames = 0usize;
    let mut packets = Vec::new();
    loop {
        let exhausted = reader.reader_exhausted();
        let used = match reader.next() {
            Ok((used, block)) => {
                if let Some(frame) = layout.frame(block, frames)? {
                    frames += 1;
                    if let Some(p) = decode(frame.link?, frame.data, frames, frame.time_ns) {
                        packets.push(p);
                    }
                }
                used
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) if !exhausted => 0,
            Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
                return Err(format!(
                    "the file is truncated: it ends in the middle of frame {} (after {frames} complete frames). \
                     Stop tcpdump with Ctrl-C rather than killing it, and copy the file only after it stopped",
                    frames + 1
                ))
            }
            Err(e) => {
                return Err(format!(
                    "the file is corrupt after {frames} frames ({})",
                    describe(&e)
                ))
            }
        };
        if used == 0 {
            // The reader wants more input: this sees the end of the file, so that the next
            // round tells a clean end from a truncated frame.
            reader
                .refill()
                .map_err(|e| format!("cannot read the file ({})", describe(&e)))?;
        } else {
            reader.consume(used);
        }
    }
    Ok(Capture {
        format: layout.format,
        link: layout.link_name()?,
        frames,
        packets,
    })
}

/// What a reading error means, in words.
fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::BufferTooSmall => "a frame claims to be larger than the file".into(),
        PcapError::NomError(_, kind) => format!("unexpected bytes: {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("unexpected bytes: {kind:?}"),
        other => format!("{other:?}"),
    }
}

/// One frame of the file, as its packet block holds it.
struct Frame<'a> {
    /// The link type of the frame's interface (an error if the kit cannot decode it).
    link: Result<Link, String>,
    /// Capture time in nanoseconds since the Unix epoch.
    time_ns: u64,
    /// The captured bytes, from the link layer's header on.
    data: &'a [u8],
}

/// One pcapng interface: its link type and how its timestamps count.
struct Interface {
    link: Result<Link, String>,
    units_per_sec: u64,
    offset_secs: i64,
}

/// What the blocks read so far say about the frames that follow: the file's format, its link
/// type and how its timestamps count.
struct Layout {
    /// `pcap` or `pcapng`.
    format: &'static str,
    /// A pcap file's link type and the nanoseconds in a unit of its timestamps' fraction.
    legacy: Option<(Result<Link, String>, u64)>,
    /// The interfaces of a pcapng file's current section, by id.
    interfaces: Vec<Interface>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            format: "pcap",
            legacy: None,
            interfaces: Vec::new(),
        }
    }
}

impl Layout {
    /// Takes in one block: a header or an interface description updates the layout, a packet
    /// block is returned as a frame with its time. `frames` counts the frames before it.
    fn frame<'a>(
        &mut self,
        block: PcapBlockOwned<'a>,
        frames: usize,
    ) -> Result<Option<Frame<'a>>, String> {
        Ok(match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let scale = if h.is_nanosecond_precision() { 1 } else { 1000 };
                self.legacy = Some((Link::from_code(h.network.0), scale));
                None
            }
            PcapBlockOwned::Legacy(b) => {
                let (link, scale) = self.legacy.clone().ok_or("a packet before the header")?;
                let ns = u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * scale;
                Some(Frame {
                    link,
                    time_ns: ns,
                    data: b.data,
                })
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.format = "pcapng";
                self.interfaces.clear();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    link: Link::from_code(idb.linktype.0),
                    units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_secs: idb.ts_offset(),
                });
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = self.interfaces.get(epb.if_id as usize) else {
                    return Err(format!(
                        "frame {} names interface {} that the file never describes: the file is corrupt",
                        frames + 1,
                        epb.if_id
                    ));
                };
                let ts = (u128::from(epb.ts_high) << 32) | u128::from(epb.ts_low);
                let ns = ts * 1_000_000_000 / u128::from(iface.units_per_sec.max(1))
                    + (iface.offset_secs.max(0) as u128) * 1_000_000_000;
                let caplen = (epb.caplen as usize).min(epb.data.len());
                Some(Frame {
                    link: iface.link.clone(),
                    time_ns: ns as u64,
                    data: &epb.data[..caplen],
                })
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let iface = self
                    .interfaces
                    .first()
                    .ok_or("a packet before any interface")?;
                Some(Frame {
                    link: iface.link.clone(),
                    time_ns: 0,
                    data: spb.data,
                })
            }
            PcapBlockOwned::NG(_) => None,
        })
    }

    /// The name of the file's link type: a pcap file's, or a pcapng file's first interface's.
    fn link_name(self) -> Result<String, String> {
        Ok(self
            .legacy
            .map(|(l, _)| l)
            .or_else(|| self.interfaces.first().map(|i| i.link.clone()))
            .transpose()?
            .map_or("no interface", Link::name)
            .to_string())
    }
}

/// A link type the kit can decode.
#[derive(Clone, Copy)]
enum Link {
    Ethernet,
    Null,
    Loop,
    Raw,
    Sll,
    Sll2,
}

impl Link {
    fn from_code(code: i32) -> Result<Link, String> {
        Ok(match code {
            1 => Link::Ethernet,
            0 => Link::Null,
            108 => Link::Loop,
            12 | 14 | 101 | 228 | 229 => Link::Raw,
            113 => Link::Sll,
            276 => Link::Sll2,
            other => {
                return Err(format!(
                "link type {other} is not one the kit reads (Ethernet, Linux cooked v1/v2, BSD loopback, raw IP); \
                 capture on the loopback or an Ethernet interface"
            ))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Link::Ethernet => "Ethernet",
            Link::Null => "BSD loopback",
            Link::Loop => "OpenBSD loopback",
            Link::Raw => "raw IP",
            Link::Sll => "Linux cooked v1",
            Link::Sll2 => "Linux cooked v2",
        }
    }
}

/// Decodes one frame; `None` for anything that is not TCP or UDP over IP (ARP, ICMP, damage).
fn decode(link: Link, data: &[u8], number: usize, time_ns: u64) -> Option<Packet> {
    packet(&without_link_header(link, data)?, number, time_ns)
}

/// The frame from its IP header on, sliced into headers: the link layer's header taken off.
fn without_link_header(link: Link, data: &[u8]) -> Option<SlicedPacket<'_>> {
    match link {
        Link::Ethernet => SlicedPacket::from_ethernet(data).ok(),
        // etherparse's from_linux_sll refuses some device types (the loopback's among them), so
        // the cooked headers are taken off here: v1 is 16 bytes with the EtherType last, v2 is
        // 20 bytes with the EtherType first.
        Link::Sll => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?).ok()
        }
        Link::Sll2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?).ok()
        }
        // 4 bytes of address family (host byte order for NULL, network order for LOOP), then IP.
        Link::Null | Link::Loop => SlicedPacket::from_ip(data.get(4..)?).ok(),
        Link::Raw => SlicedPacket::from_ip(data).ok(),
    }
}

/// The TCP or UDP packet in a sliced frame: IP addresses, then ports, flags, numbers, payload.
fn packet(sliced: &SlicedPacket, number: usize, time_ns: u64) -> Option<Packet> {
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net.as_ref()? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Arp(_) => return None,
    };
    let p = |protocol, sp, dp, flags, seq, ack, len, payload: &[u8]| Packet {
        number,
        time_ns,
        src: SocketAddr::new(src_ip, sp),
        dst: SocketAddr::new(dst_ip, dp),
        protocol,
        flags: Flags(flags),
        seq,
        ack,
        len,
        payload: payload.to_vec(),
    };
    match sliced.transport.as_ref()? {
        TransportSlice::Tcp(t) => {
            let bits = [
                (t.fin(), Flags::FIN),
                (t.syn(), Flags::SYN),
                (t.rst(), Flags::RST),
                (t.psh(), Flags::PSH),
                (t.ack(), Flags::ACK),
            ];
            let flags = bits.iter().filter(|(on, _)| *on).fold(0, |f, (_, b)| f | b);
            Some(p(
                Protocol::Tcp,
                t.source_port(),
                t.destination_port(),
                flags,
                t.sequence_number(),
                t.acknowledgment_number(),
                t.payload().len(),
                t.payload(),
            ))
        }
        TransportSlice::Udp(u) => Some(p(
            Protocol::Udp,
            u.source_port(),
            u.destination_port(),
            0,
            0,
            0,
            usize::from(u.length()).saturating_sub(8),
            u.payload(),
        )),
        _ => None,
    }
}

/// A TCP three-way handshake found by its flags.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The SYN (SYN set, ACK clear) that opened the connection.
    pub syn: Packet,
    /// The SYN-ACK that answers it: the reverse direction, acknowledging the SYN's seq + 1.
    pub syn_ack: Packet,
}

/// The first handshake (in capture order) whose SYN satisfies `wanted` — for example "from
/// client 1 to the server's port". Packets before it, retransmitted SYNs and other connections do
/// not matter: it is found by flags and by the SYN-ACK acknowledging the SYN, not by position.
pub fn handshake(packets: &[Packet], wanted: impl Fn(&Packet) -> bool) -> Option<Handshake> {
    packets
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_tcp() && p.flags.has(Flags::SYN) && !p.flags.has(Flags::ACK))
        .filter(|(_, p)| wanted(p))
        .find_map(|(i, syn)| {
            let syn_ack = packets[i + 1..].iter().find(|r| {
                r.is_tcp()
                    && r.flags.has(Flags::SYN)
                    && r.flags.has(Flags::ACK)
                    && (r.src, r.dst) == (syn.dst, syn.src)
                    && r.ack == syn.seq.wrapping_add(1)
            })?;
            Some(Handshake {
                syn: syn.clone(),
                syn_ack: syn_ack.clone(),
            })
        })
}

/// The bytes sent in one direction of a connection, after `syn` (its SYN or SYN-ACK), put in
/// order by sequence number, as Wireshark's "Follow TCP Stream" does: a retransmitted segment
/// counts once, and the bytes stop at the first gap (a segment missing from the capture).
pub fn reassemble(packets: &[Packet], syn: &Packet) -> Vec<u8> {
    let start = syn.seq.wrapping_add(1);
    let mut segments: std::collections::BTreeMap<u32, &[u8]> = std::collections::BTreeMap::new();
    for p in packets
        .iter()
        .filter(|p| p.number > syn.number && p.is_tcp() && (p.src, p.dst) == (syn.src, syn.dst))
    {
        if !p.payload.is_empty() {
            segments
                .entry(p.seq.wrapping_sub(start))
                .or_insert(&p.payload);
        }
    }
    let mut bytes = Vec::new();
    for (offset, data) in segments {
        let offset = offset as usize;
        if offset > bytes.len() {
            break;
        }
        if offset + data.len() > bytes.len() {
            bytes.extend_from_slice(&data[bytes.len() - offset..]);
        }
    }
    bytes
}

/// The hosts (IP addresses) of `packets` in the order they first appear.
pub fn hosts(packets: &[Packet]) -> Vec<IpAddr> {
    let mut seen = HashMap::new();
    let mut order = Vec::new();
    for p in packets {
        for ip in [p.src.ip(), p.dst.ip()] {
            if seen.insert(ip, ()).is_none() {
                order.push(ip);
            }
        }
    }
    order
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pcap file (microsecond, little-endian) with `link` and the given frames.
    pub fn pcap(link: u32, frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(0xa1b2_c3d4u32.to_le_bytes());
        out.extend(2u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        out.extend([0u8; 8]);
        out.extend(65535u32.to_le_bytes());
        out.extend(link.to_le_bytes());
        for (sec, usec, data) in frames {
            for v in [*sec, *usec, data.len() as u32, data.len() as u32] {
                out.extend(v.to_le_bytes());
            }
            out.extend(data);
        }
        out
    }

    /// An IPv4 TCP segment from 10.0.0.1:port_a to 10.0.0.2:port_b.
    fn tcp(sp: u16, dp: u16, seq: u32, ack: u32, syn: bool, has_ack: bool) -> Vec<u8> {
        let mut h = etherparse::TcpHeader::new(sp, dp, seq, 65535);
        h.syn = syn;
        h.ack = has_ack;
        h.acknowledgment_number = ack;
        let b = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
        let b = if sp < dp {
            b
        } else {
            etherparse::PacketBuilder::ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
        };
        let mut out = Vec::new();
        b.tcp_header(h)
            .write(&mut out, &[])
            .expect("writing to a Vec");
        out
    }

    #[test]
    fn handshake_is_found_by_flags_not_position() {
        // Data of an older connection first, then a SYN, an unrelated SYN-ACK, the real SYN-ACK.
        let frames = vec![
            (1, 0, tcp(1000, 5000, 77, 88, false, true)),
            (2, 0, tcp(1001, 5000, 500, 0, true, false)),
            (3, 0, tcp(5000, 1002, 900, 12, true, true)),
            (4, 250_000, tcp(5000, 1001, 9000, 501, true, true)),
        ];
        let cap = parse(&pcap(101, &frames)).expect("a valid capture");
        assert_eq!(cap.link, "raw IP");
        assert_eq!(cap.packets.len(), 4);
        let hs = handshake(&cap.packets, |p| p.dst.port() == 5000).expect("a handshake");
        assert_eq!((hs.syn.number, hs.syn_ack.number), (2, 4));
        assert_eq!(
            (hs.syn.seq, hs.syn_ack.seq, hs.syn_ack.ack),
            (500, 9000, 501)
        );
        assert_eq!(hs.syn_ack.time_ns, 4_250_000_000);
        assert_eq!(hs.syn_ack.flags.to_string(), "SYN, ACK");
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let good = pcap(101, &[(1, 0, tcp(1, 2, 3, 4, true, false))]);
        assert!(parse(&[]).unwrap_err().contains("empty"));
        assert!(parse(b"hello, this is not a capture file at all")
            .unwrap_err()
            .contains("not a pcap"));
        for cut in [10, 30, good.len() - 5] {
            let err = parse(&good[..cut]).unwrap_err();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
        let mut huge = good.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes()); // caplen of frame 1
        assert!(parse(&huge).is_err());
        let mut odd_link = good.clone();
        odd_link[20..24].copy_from_slice(&147u32.to_le_bytes());
        assert!(parse(&odd_link).unwrap_err().contains("link type 147"));
        // Every prefix and every single-byte change: an answer, never a panic.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = parse(&bad);
        }
    }
}
