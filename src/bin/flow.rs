//! `flow`: prints a capture as a sequence diagram (one column per host, one row per packet) and
//! with `--svg FILE` draws it as a picture. The drawing is in src/flow.rs.
use socklab::cli::{self, Options};
use socklab::{capture, flow};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "Usage: flow CAPTURE [--svg FILE] [--port N] [--tcp | --udp] [--payload]

Prints the TCP and UDP packets of a pcap or pcapng file as a sequence diagram, like Wireshark's
Flow Graph, with absolute (raw) sequence and acknowledgement numbers. The column that receives
SYNs is marked (server).";

fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt(
        "",
        "svg",
        "also draw the diagram into this SVG file",
        "FILE",
    );
    opts.optopt("", "port", "only packets to or from this port", "N");
    opts.optflag("", "tcp", "only TCP packets");
    opts.optflag("", "udp", "only UDP packets");
    opts.optflag("", "payload", "show each packet's payload as text");
    let args = cli::parse(opts, USAGE);
    let [file] = args.free() else {
        args.fail("expected one capture file");
    };
    let port: Option<u16> = args.opt("port");
    let (tcp, udp) = (args.flag("tcp"), args.flag("udp"));
    let cap = match capture::read(&PathBuf::from(file)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flow: {e}");
            return ExitCode::FAILURE;
        }
    };
    let packets: Vec<_> = cap
        .packets
        .into_iter()
        .filter(|p| port.is_none_or(|n| p.src.port() == n || p.dst.port() == n))
        .filter(|p| (!tcp || p.is_tcp()) && (!udp || p.is_udp()))
        .collect();
    println!(
        "{file}: {} packets shown ({} frames, {}, {})\n",
        packets.len(),
        cap.frames,
        cap.format,
        cap.link
    );
    let show = flow::Show {
        payload: args.flag("payload"),
    };
    print!("{}", flow::text(&packets, show));
    if let Some(out) = args.opt::<PathBuf>("svg") {
        if let Err(e) = std::fs::write(&out, flow::svg(&packets, show)) {
            eprintln!("flow: {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        println!("\nwrote {}", out.display());
    }
    ExitCode::SUCCESS
}
