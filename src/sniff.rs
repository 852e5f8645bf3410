//! The outside tools around captures: tcpdump records them (`make capture`, the proof tests) and
//! tshark reads them as an independent reference for [`crate::capture`] (the proof tests, and
//! the answers of the solutions). Both are Debian packages; `.ci/run` installs them.

use crate::capture::{Flags, Packet, Protocol};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How to capture by hand when tcpdump cannot run here.
pub const BY_HAND: &str = "capture by hand: in one terminal `sudo tcpdump -i lo -w FILE` \
(or Wireshark: capture on the loopback interface, then File > Save As, pcapng or pcap), \
run the programs in another terminal, then stop the capture with Ctrl-C";

/// A running tcpdump writing a capture file. Dropping it stops tcpdump.
pub struct Tcpdump {
    child: Option<Child>,
    pub file: PathBuf,
    said: mpsc::Receiver<String>,
}

impl Tcpdump {
    /// Starts `tcpdump -i IFACE -w FILE EXTRA… FILTER` and waits until it is listening.
    /// `--immediate-mode` so that no packet waits in a kernel buffer when it is stopped.
    /// `EXTRA` may override the buffer (`-B`) or the link type (`-y LINUX_SLL`).
    pub fn start(
        iface: &str,
        file: &Path,
        extra: &[&str],
        filter: &str,
    ) -> Result<Tcpdump, String> {
        Tcpdump::start_in(None, iface, file, extra, filter)
    }

    /// The same in a network namespace (a netlab host's), when one is given.
    pub fn start_in(
        namespace: Option<&str>,
        iface: &str,
        file: &Path,
        extra: &[&str],
        filter: &str,
    ) -> Result<Tcpdump, String> {
        let mut cmd = match namespace {
            None => Command::new("tcpdump"),
            Some(ns) => {
                // `ip netns exec` becomes tcpdump (same process): Ctrl-C still reaches it.
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns, "tcpdump"]);
                cmd
            }
        };
        let mut child = cmd
            // An 8 MiB buffer: with a smaller one, `-i any` drops packets of short bursts.
            .args(["-i", iface, "-U", "--immediate-mode", "-B", "8192", "-n", "-w"])
            .arg(file)
            .args(extra)
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("tcpdump is not installed (Debian/Ubuntu: sudo apt-get install tcpdump); or {BY_HAND}")
                }
                _ => format!("could not start tcpdump: {e}; {BY_HAND}"),
            })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains("listening on") => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let said = seen.join(" / ");
                    let why = if said.contains("ermission") || said.contains("not permitted") {
                        format!("tcpdump is not permitted to capture here ({said}). Let it capture without root: \
                             `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)`, then try again; or {BY_HAND}")
                    } else {
                        format!("tcpdump did not start listening ({said}); {BY_HAND}")
                    };
                    return Err(why);
                }
            }
        }
        Ok(Tcpdump {
            child: Some(child),
            file: file.to_path_buf(),
            said: rx,
        })
    }

    /// Stops tcpdump the way Ctrl-C does (SIGINT), so that it finishes the file, and waits.
    /// Returns what tcpdump said when it stopped ("12 packets captured, …").
    pub fn stop(mut self) -> Result<String, String> {
        // Let the last packets of the scenario reach tcpdump first.
        std::thread::sleep(Duration::from_millis(300));
        self.finish()?;
        let mut said = Vec::new();
        while let Ok(line) = self.said.recv_timeout(Duration::from_millis(500)) {
            said.push(line);
        }
        Ok(said.join(", "))
    }

    fn finish(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("tcpdump did not stop on SIGINT and was killed".into())
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The tshark fields read for each packet, in this order.
const FIELDS: [&str; 17] = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "udp.srcport",
    "tcp.dstport",
    "udp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.len",
    "udp.length",
    "tcp.payload",
    "udp.payload",
];

/// Reads the TCP and UDP packets of a capture with tshark (Wireshark's reader), into the same
/// [`Packet`]s as [`crate::capture::read`]: the independent reading that the kit's is compared with.
pub fn tshark_packets(path: &Path) -> Result<Vec<Packet>, String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-n", "-o", "tcp.relative_sequence_numbers:FALSE"])
        .args(["-Y", "(tcp or udp) and not icmp and not icmpv6"])
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "tshark is not installed (Debian/Ubuntu: sudo DEBIAN_FRONTEND=noninteractive apt-get install tshark)".to_string()
        }
        _ => format!("could not run tshark: {e}"),
    })?;
    if !out.status.success() {
        return Err(format!(
            "tshark could not read {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| parse_row(line).map_err(|e| format!("tshark row {line:?}: {e}")))
        .collect()
}

fn parse_row(line: &str) -> Result<Packet, String> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != FIELDS.len() {
        return Err(format!("expected {} fields", FIELDS.len()));
    }
    let num = |s: &str| -> Result<u64, String> {
        let s = s.trim();
        match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.parse(),
        }
        .map_err(|_| format!("{s:?} is not a number"))
    };
    let ip = |v4: &str, v6: &str| -> Result<IpAddr, String> {
        let s = if v4.is_empty() { v6 } else { v4 };
        s.parse().map_err(|_| format!("{s:?} is not an address"))
    };
    let either = |a: &str, b: &'_ str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let tcp = !f[6].is_empty();
    let (secs, frac) = f[1].split_once('.').unwrap_or((f[1], "0"));
    let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let time_ns = num(secs)? * 1_000_000_000 + num(&frac9)?;
    let payload_hex = either(f[15], f[16]).replace(':', "");
    let payload = (0..payload_hex.len() / 2)
        .map(|i| u8::from_str_radix(&payload_hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "payload is not hex".to_string())?;
    let port = |s: String| -> Result<u16, String> { Ok(num(&s)? as u16) };
    Ok(Packet {
        number: num(f[0])? as usize,
        time_ns,
        src: SocketAddr::new(ip(f[2], f[3])?, port(either(f[6], f[7]))?),
        dst: SocketAddr::new(ip(f[4], f[5])?, port(either(f[8], f[9]))?),
        protocol: if tcp { Protocol::Tcp } else { Protocol::Udp },
        // tshark's tcp.flags holds all 12 bits; the kit keeps FIN, SYN, RST, PSH and ACK.
        flags: Flags(if tcp { (num(f[10])? & 0x1f) as u8 } else { 0 }),
        seq: if tcp { num(f[11])? as u32 } else { 0 },
        ack: if tcp { num(f[12])? as u32 } else { 0 },
        len: if tcp {
            num(f[13])? as usize
        } else {
            (num(f[14])? as usize).saturating_sub(8)
        },
        payload,
    })
}

/// Whether tcpdump and tshark are both installed (for messages; the tests insist on both).
pub fn tools_present() -> Result<(), String> {
    for tool in ["tcpdump", "tshark"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(format!(
                "{tool} is not installed; on Debian/Ubuntu: sudo DEBIAN_FRONTEND=noninteractive apt-get install tcpdump tshark"
            ));
        }
    }
    Ok(())
}
