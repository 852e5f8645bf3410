//! pipes: measures the seed's claim that "pipes are fast and reliable, sockets slower and less
//! reliable". It moves the same number of bytes from one thread to another through an anonymous
//! pipe, a Unix-domain stream socket, TCP over loopback and UDP over loopback, and prints the
//! throughput of each, its ratio to the pipe's, and how many UDP datagrams were lost.
//!
//!     pipes [--mib N]
//!
//! Output, one line per transport (the grader reads these):
//!
//!     pipe: 2950.3 MiB/s
//!     unix socket: 2510.8 MiB/s (0.85 x pipe)
//!     tcp loopback: 1402.2 MiB/s (0.48 x pipe)
//!     udp loopback: 803.4 MiB/s (0.27 x pipe), lost 130 of 8192 datagrams of 8192 bytes

use socklab::cli::{self, Args, Options};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// MiB moved through each transport unless `--mib` says otherwise.
const MIB: u64 = 256;
/// Bytes per write on the stream transports.
const CHUNK: usize = 64 * 1024;
/// Bytes per UDP datagram.
const DATAGRAM: usize = 8 * 1024;
/// The UDP receiver decides that the sender is done after this long without a datagram.
const SILENCE: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------------
// Streams: pipe, Unix-domain socket, TCP.

/// Writes `bytes` bytes into `writer` from a second thread while this thread reads them from
/// `reader` until the end of the stream; returns the time from the first write to the end.
fn measure(
    bytes: u64,
    writer: impl Write + Send + 'static,
    mut reader: impl Read,
) -> io::Result<Duration> {
    let started = Instant::now();
    let sender = thread::spawn(move || -> io::Result<()> {
        let mut writer = writer;
        let chunk = vec![0x5a_u8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            writer.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        // Dropping the writer (closing our end) is what ends the reader's stream.
        Ok(())
    });
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let elapsed = started.elapsed();
    sender
        .join()
        .map_err(|_| io::Error::other("the writing thread panicked"))??;
    if got != bytes {
        return Err(io::Error::other(format!("{got} of {bytes} bytes arrived")));
    }
    Ok(elapsed)
}

fn through_pipe(bytes: u64) -> io::Result<Duration> {
    // BEGIN BLANK: an anonymous pipe, measured from its writing end to its reading end (std::io::pipe)
    let (reader, writer) = io::pipe()?;
    measure(bytes, writer, reader)
    // END BLANK
}

fn through_unix_socket(bytes: u64) -> io::Result<Duration> {
    // BEGIN BLANK: two connected Unix-domain stream sockets, measured from one to the other (std: UnixStream)
    let (a, b) = UnixStream::pair()?;
    measure(bytes, a, b)
    // END BLANK
}

fn through_tcp(bytes: u64) -> io::Result<Duration> {
    // BEGIN BLANK: a TCP connection over loopback, on a port the system picks, measured from one end to the other (std: TcpListener, TcpStream)
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    measure(bytes, client, server)
    // END BLANK
}

// ---------------------------------------------------------------------------------------------
// UDP: no stream, no end, no retransmission.

/// What the UDP run saw.
struct UdpRun {
    elapsed: Duration,
    /// Datagrams handed to send().
    sent: u64,
    /// Bytes that arrived.
    received: u64,
}

/// Sends `bytes` bytes as datagrams of `DATAGRAM` bytes, as fast as they go, and counts what
/// arrives. There is no end of stream: the receiver stops after `SILENCE` without a datagram,
/// and the time counted ends at the last datagram received.
fn through_udp(bytes: u64) -> io::Result<UdpRun> {
    let count = bytes.div_ceil(DATAGRAM as u64);
    let receiver: UdpSocket =
        /* BLANK: the receiver's UDP socket on loopback, on a port the system picks (std: UdpSocket) */
        UdpSocket::bind(("127.0.0.1", 0))?
        /* END */;
    // No end of stream: the receiver's reads give up after SILENCE without a datagram.
    receiver.set_read_timeout(Some(SILENCE))?;
    let to = receiver.local_addr()?;
    let started = Instant::now();
    let sender = thread::spawn(move || -> io::Result<u64> {
        let datagram = vec![0xa5_u8; DATAGRAM];
        let mut sent = 0u64;
        // BEGIN BLANK: send `count` datagrams to `to` from a UDP socket of its own, counting each in `sent` (handout: Pipes and sockets, measured; std: UdpSocket)
        let sock = UdpSocket::bind(("127.0.0.1", 0))?;
        for _ in 0..count {
            sent += 1;
            // UDP promises nothing: a send the system refuses is one more datagram lost, and
            // the losses are what this run measures.
            let _ = sock.send_to(&datagram, to);
        }
        // END BLANK
        Ok(sent)
    });
    let mut buf = vec![0u8; DATAGRAM];
    let mut received = 0u64;
    let mut last = started;
    // BEGIN BLANK: receive until the sender has gone quiet (how does a read timeout show as an error?); count the bytes in `received`, the arrival in `last`
    loop {
        match receiver.recv(&mut buf) {
            Ok(n) => {
                received += n as u64;
                last = Instant::now();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return Err(e),
        }
    }
    // END BLANK
    let sent = sender
        .join()
        .map_err(|_| io::Error::other("the sending thread panicked"))??;
    Ok(UdpRun {
        elapsed: last - started,
        sent,
        received,
    })
}

// ---------------------------------------------------------------------------------------------
// Figures.

/// MiB per second for `bytes` in `elapsed`.
fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9)
}

fn run(mib: u64) -> io::Result<()> {
    let bytes = mib * 1024 * 1024;
    println!("moving {mib} MiB through each transport, from one thread to another");
    let pipe = rate(bytes, through_pipe(bytes)?);
    println!("pipe: {pipe:.1} MiB/s");
    let unix = rate(bytes, through_unix_socket(bytes)?);
    println!("unix socket: {unix:.1} MiB/s ({:.2} x pipe)", unix / pipe);
    let tcp = rate(bytes, through_tcp(bytes)?);
    println!("tcp loopback: {tcp:.1} MiB/s ({:.2} x pipe)", tcp / pipe);
    let udp_run = through_udp(bytes)?;
    let udp = rate(udp_run.received, udp_run.elapsed);
    let arrived = udp_run.received / DATAGRAM as u64;
    println!(
        "udp loopback: {udp:.1} MiB/s ({:.2} x pipe), lost {} of {} datagrams of {DATAGRAM} bytes",
        udp / pipe,
        udp_run.sent.saturating_sub(arrived),
        udp_run.sent
    );
    Ok(())
}

const USAGE: &str = "Usage: pipes [--mib N]

Moves N MiB through a pipe, a Unix-domain socket, TCP and UDP over loopback, and prints MiB/s.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt(
        "",
        "mib",
        "MiB to move through each transport (default 256)",
        "N",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("pipes takes no positional arguments");
    }
    let mib: u64 = args.get("mib", MIB);
    if mib == 0 || mib > 64 * 1024 {
        args.fail("--mib must be between 1 and 65536");
    }
    match run(mib) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipes: {e}");
            ExitCode::FAILURE
        }
    }
}
