//! Sequence diagrams of a capture, like Wireshark's Flow Graph: one column per host, one row
//! per packet with its time, direction, TCP flags, absolute seq/ack and payload length.
//! [`text`] draws it for a terminal, [`svg`] as a picture (the `flow` tool prints both).
//!
//! Hosts are IP addresses. When a capture has packets from an address to itself (everything on
//! loopback is 127.0.0.1), the columns are sockets (address and port) instead, or there would
//! be nothing to draw between. A column that receives a SYN is marked `(server)`: that is where
//! connections are made to. With [`Show::payload`] each row also shows its payload as text.

use crate::capture::Packet;
use std::fmt::Write as _;

/// What a diagram shows besides flags, numbers and lengths.
#[derive(Clone, Copy, Debug, Default)]
pub struct Show {
    /// Each packet's payload as text (the first bytes, escaped), as Wireshark's bytes pane.
    pub payload: bool,
}

/// The columns of the diagram (with `(server)` after a column that receives a SYN) and the
/// column each packet goes from and to.
struct Layout {
    nodes: Vec<String>,
    rows: Vec<(usize, usize)>,
}

fn layout(packets: &[Packet]) -> Layout {
    let by_socket = packets.iter().any(|p| p.src.ip() == p.dst.ip());
    let key = |a: &std::net::SocketAddr| {
        if by_socket {
            a.to_string()
        } else {
            a.ip().to_string()
        }
    };
    let mut nodes: Vec<String> = Vec::new();
    let mut index = |k: String| match nodes.iter().position(|n| *n == k) {
        Some(i) => i,
        None => {
            nodes.push(k);
            nodes.len() - 1
        }
    };
    let rows: Vec<(usize, usize)> = packets
        .iter()
        .map(|p| (index(key(&p.src)), index(key(&p.dst))))
        .collect();
    let syn = crate::capture::Flags::SYN;
    let ack = crate::capture::Flags::ACK;
    let mut servers = vec![false; nodes.len()];
    for (p, &(_, to)) in packets.iter().zip(&rows) {
        if p.is_tcp() && p.flags.has(syn) && !p.flags.has(ack) {
            servers[to] = true;
        }
    }
    for (node, server) in nodes.iter_mut().zip(servers) {
        if server {
            node.push_str(" (server)");
        }
    }
    Layout { nodes, rows }
}

/// Most payload bytes a row shows as text.
const PAYLOAD_SHOWN: usize = 40;

/// A payload as text for a row: printable ASCII as it is, `\n`, `\r` and other bytes escaped,
/// cut after [`PAYLOAD_SHOWN`] bytes.
fn payload_text(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(PAYLOAD_SHOWN) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    if bytes.len() > PAYLOAD_SHOWN {
        out.push('…');
    }
    out
}

/// What a row says about its packet: `SYN, ACK  seq=… ack=… len=0`, or `UDP len=46`; with
/// `show.payload`, then the payload as text.
pub fn label(p: &Packet, show: Show) -> String {
    let mut label = numbers(p);
    if show.payload && !p.payload.is_empty() {
        label.push_str("  ");
        label.push_str(&payload_text(&p.payload));
    }
    label
}

fn numbers(p: &Packet) -> String {
    if p.is_tcp() {
        format!(
            "{}  seq={} ack={} len={}",
            if p.flags.0 == 0 {
                "(no flags)".to_string()
            } else {
                p.flags.to_string()
            },
            p.seq,
            p.ack,
            p.len
        )
    } else {
        format!("UDP  len={}", p.len)
    }
}

/// Seconds since the first packet, with microseconds.
fn since(first: u64, p: &Packet) -> String {
    format!("{:.6}", p.time_ns.saturating_sub(first) as f64 / 1e9)
}

/// Column width of the text diagram: room for `127.0.0.1:40123 (server)`.
const COL: usize = 28;

/// The diagram as text: a header with the hosts, then one line per packet.
pub fn text(packets: &[Packet], show: Show) -> String {
    let Layout { nodes, rows } = layout(packets);
    let first = packets.first().map_or(0, |p| p.time_ns);
    let mut out = String::new();
    let mut head = format!("{:>10}  ", "time (s)");
    for n in &nodes {
        let _ = write!(head, "{:<COL$}", n);
    }
    let _ = writeln!(out, "{}", head.trim_end());
    for (p, &(a, b)) in packets.iter().zip(&rows) {
        let width = COL * nodes.len().saturating_sub(1) + 1;
        let mut line: Vec<char> = vec![' '; width];
        for i in 0..nodes.len() {
            line[i * COL] = '|';
        }
        let (lo, hi) = (a.min(b) * COL, a.max(b) * COL);
        if lo == hi {
            line[lo] = '*';
        } else {
            for c in line.iter_mut().take(hi).skip(lo + 1) {
                *c = '-';
            }
            if a < b {
                line[hi - 1] = '>';
            } else {
                line[lo + 1] = '<';
            }
        }
        let drawn: String = line.into_iter().collect();
        let _ = writeln!(out, "{:>10}  {drawn}   {}", since(first, p), label(p, show));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The diagram as an SVG picture: a lifeline per host and one arrow (`class="arrow"`) per packet,
/// labelled like the text rows.
pub fn svg(packets: &[Packet], show: Show) -> String {
    let Layout { nodes, rows } = layout(packets);
    let first = packets.first().map_or(0, |p| p.time_ns);
    let (left, colw, top, rowh) = (90, 340, 50, 34);
    let width = left + colw * nodes.len().max(1) + 40;
    let height = top + rowh * (packets.len() + 1);
    let x = |i: usize| left + colw / 2 + i * colw;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">"##
    );
    out.push_str(
        r##"<defs><marker id="head" markerWidth="10" markerHeight="8" refX="10" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#1f4e79"/></marker></defs>"##,
    );
    out.push('\n');
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="10" y="{}" fill="#555">time (s)</text>"##,
        top - 20
    );
    for (i, n) in nodes.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text class="host" x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"##,
            x(i),
            top - 20,
            escape(n)
        );
        let _ = writeln!(
            out,
            r##"<line class="lifeline" x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999" stroke-dasharray="4,3"/>"##,
            x(i),
            top - 10,
            height - 10
        );
    }
    for (k, (p, &(a, b))) in packets.iter().zip(&rows).enumerate() {
        let y = top + rowh * (k + 1);
        let _ = writeln!(
            out,
            r##"<text x="10" y="{y}" fill="#555">{}</text>"##,
            since(first, p)
        );
        let (x1, x2) = if a == b {
            (x(a), x(a) + 40)
        } else {
            (x(a), x(b))
        };
        let _ = writeln!(
            out,
            r##"<line class="arrow" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#1f4e79" stroke-width="1.5" marker-end="url(#head)"/>"##
        );
        let _ = writeln!(
            out,
            r##"<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>"##,
            (x1 + x2) / 2,
            y - 6,
            escape(&label(p, show))
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Flags;
    use std::net::SocketAddr;

    fn packet(src: &str, dst: &str, flags: u8, seq: u32, t: u64) -> Packet {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        Packet {
            number: 1,
            time_ns: t,
            ..Packet::tcp(1, src, dst, flags, (seq, 0), b"")
        }
    }

    #[test]
    fn hosts_are_columns_and_packets_rows() {
        let ps = [
            packet("10.0.0.11:5000", "10.0.0.3:80", Flags::SYN, 7, 0),
            packet(
                "10.0.0.3:80",
                "10.0.0.11:5000",
                Flags::SYN | Flags::ACK,
                9,
                1_500,
            ),
        ];
        let t = text(&ps, Show::default());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].contains("10.0.0.11") && lines[0].contains("10.0.0.3"));
        assert!(
            lines[1].contains("->|") && lines[1].contains("SYN  seq=7"),
            "{t}"
        );
        assert!(
            lines[2].contains("|<-") && lines[2].contains("SYN, ACK  seq=9"),
            "{t}"
        );
        assert!(lines[2].trim_start().starts_with("0.000002"), "{t}");
        let s = svg(&ps, Show::default());
        assert_eq!(s.matches(r#"class="arrow""#).count(), 2);
    }

    #[test]
    fn loopback_columns_are_sockets() {
        let ps = [packet("127.0.0.1:4000", "127.0.0.1:80", Flags::SYN, 1, 0)];
        assert!(text(&ps, Show::default())
            .lines()
            .next()
            .unwrap()
            .contains("127.0.0.1:4000"));
    }

    #[test]
    fn the_column_the_syn_goes_to_is_the_server_and_payloads_show_as_text() {
        let mut hello = packet("127.0.0.1:4000", "127.0.0.1:80", Flags::ACK, 2, 10);
        hello.payload = b"amy: hi\n\x01".to_vec();
        let ps = [
            packet("127.0.0.1:4000", "127.0.0.1:80", Flags::SYN, 1, 0),
            hello,
        ];
        let plain = text(&ps, Show::default());
        let head = plain.lines().next().unwrap();
        assert!(head.contains("127.0.0.1:80 (server)"), "{plain}");
        assert!(!head.contains("4000 (server)"), "{plain}");
        assert!(!plain.contains("amy"), "{plain}");
        let shown = text(&ps, Show { payload: true });
        assert!(shown.contains(r#""amy: hi\n\x01""#), "{shown}");
        assert!(svg(&ps, Show { payload: true }).contains("amy: hi"));
    }
}
