//! Checks for lab `netcat`: the netcat program (`streams.rs`: connect, listen, half-close, file
//! transfer, UDP, CRLF, commands, errors; `tls.rs`: TLS both ways against the grader's rustls),
//! the silly chatter (`silly.rs`), the pipes measurement (`pipes.rs`) and the questions on a
//! capture of netcat sessions (`questions.rs`). Each program is checked on its own, against
//! sockets written here, so one unfinished program does not cost the others' points.
//!
//! How the grader learns a listener's port: netcat's stdout is the data, so a listener is
//! started with `-v -l 127.0.0.1 0` and the grader reads the address from the `-v` line
//! `netcat: Listening on 127.0.0.1:PORT` on stderr (Ncat's wording; unlike Ncat, which says
//! `:0`, the line must carry the port the OS chose). See [`listening`].
//!
//! Across netlab's hosts (`grade --net`) netcat and the silly server run on webserver and the
//! sockets written here on client1; pipes stays on loopback ([`PIPES_STAY`]).

use socklab::grader::{Check, Lab, Program, WAIT};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

mod pipes;
mod questions;
mod silly;
mod streams;
mod tls;

const NETCAT: &str = "netcat";
const SILLY: &str = "silly_server";
const PIPES: &str = "pipes";
/// Why the pipes checks run on loopback under `grade --net`.
const LIMITS_HERE: &str =
    "the grader limits the program's file descriptors itself, which it can do only here";
const STDOUT_HERE: &str = "the grader closes netcat's stdout itself, which it can do only here";
const PIPES_STAY: &str =
    "the pipes program measures channels inside itself, with no peer on another host";

pub fn lab() -> Lab {
    Lab::new(
        "netcat",
        "netcat with TLS, the silly chatter, pipes against sockets",
        &[NETCAT, SILLY, PIPES],
    )
    .checks(vec![
        Check::new("1 connect and listen", "HOST PORT: connects, stdin goes out, what arrives is printed", 3,
            "connect() makes the socket, session() runs the two copy directions (handout: netcat's modes; std: TcpStream).", streams::connects).across_hosts(),
        Check::new("1 connect and listen", "-l: listens (port 0 works), accepts, copies both ways", 3,
            "listen(): a listening socket and its first connection (std: TcpListener). The grader reads the port from the -v line `Listening on ADDR`.", streams::listens).across_hosts(),
        Check::new("1 connect and listen", "-v says `Connected to …`, `Listening on …`, `Connection from …` on stderr", 1,
            "The given say() lines print once connect() and listen() have their sockets.", streams::verbose_lines).across_hosts(),
        Check::new("2 streams", "at stdin's end: half-close, then the response is still read (request/response)", 3,
            "When stdin ends, what does the peer see, and can your netcat still read its answer? (handout: Two directions, and the half-close)", streams::half_close).across_hosts(),
        Check::new("2 streams", "-l with stdin already ended: half-closes, still prints what arrives", 2,
            "The two directions are independent: the end of one (stdin) must not end the other.", streams::listener_half_close).across_hosts(),
        Check::new("2 streams", "a file moves exactly: `-l > out` and `--send-only < in` (256 KiB)", 3,
            "Every byte of every read must be written, in order: look at how much of buf each write takes.", streams::file_transfer).across_hosts(),
        Check::new("2 streams", "--recv-only: typed lines stay home, what arrives is printed", 1,
            "Which modes use the sending direction at all?", streams::recv_only)
            .needs(&["HOST PORT: connects, stdin goes out, what arrives is printed"]).across_hosts(),
        Check::new("2 streams", "data flows both ways at the same time", 2,
            "One thread per direction: while one waits for stdin, the other must keep reading the network.", streams::both_ways_at_once).across_hosts(),
        Check::new("2 streams", "a peer that resets mid-transfer: one line on stderr, exit 1", 2,
            "A read or write error on the socket ends the session with the error; do not unwrap it or retry.", streams::reset).across_hosts(),
        Check::new("2 streams", "--send-only: a receiver that leaves before stdin ends: one line on stderr, exit 1", 1,
            "A write, or the half-close, on a connection the peer has left fails: what does your copy loop do with those errors? (handout: Two directions, and the half-close)", streams::receiver_leaves)
            .needs(&["a file moves exactly: `-l > out` and `--send-only < in` (256 KiB)"]).across_hosts(),
        Check::new("2 streams", "memory stays flat while 64 MiB go through", 1,
            "Copy with a fixed buffer, chunk by chunk; never read all of stdin before sending.", streams::flat_memory)
            .limit(20).across_hosts(),
        Check::new("3 errors", "connection refused and port in use: one line on stderr, exit 1", 2,
            "Return the io::Error from connect/bind: main prints it as one line and exits 1.", streams::errors).across_hosts(),
        Check::new("4 silly server", "prints `server listening at IP:PORT` and answers `What?` to every line", 2,
            "The server's first line, then an answer per line (handout: The silly chatter; std: TcpListener, BufRead).", silly::answers).across_hosts(),
        Check::new("4 silly server", "serves several clients at once", 1,
            "One thread per client in the accept loop.", silly::several).across_hosts(),
        Check::new("4 silly server", "survives garbage, a huge line and a client that vanishes", 2,
            "read_line takes bytes, not text; an error on one client ends only that client's thread.", silly::survives).across_hosts(),
        Check::new("4 silly server", "out of file descriptors: says so, waits without spinning, serves again", 1,
            "A failed accept is not the end of the server: what does it print, how soon does it try again, and what frees a descriptor?", silly::out_of_descriptors)
            .needs(&["serves several clients at once"])
            .loopback_only(LIMITS_HERE),
        Check::new("4 silly server", "no descriptor for a client's second handle: turns it away, says so, accepts on", 1,
            "When try_clone fails, the server can never close that client at shutdown: what should become of the connection, and of the accept loop?", silly::turned_away)
            .needs(&["serves several clients at once"])
            .loopback_only(LIMITS_HERE),
        Check::new("4 silly server", "`q` (also `q\\r` from telnet) closes that client", 1,
            "What does a line end with when telnet sends it, and when netcat does? (handout: The silly chatter)", silly::q_closes_client).across_hosts(),
        Check::new("4 silly server", "after `q`: stops accepting, tells the others, exits 0 once they are gone", 3,
            "Closing gracefully (handout: The silly chatter): what wakes the blocked accept(), and who waits for the other clients' threads?", silly::graceful_shutdown).across_hosts(),
        Check::new("5 UDP and CRLF (stretch)", "-u HOST PORT: each stdin line is a datagram, replies are printed", 2,
            "connect() with -u: which peer do send and recv talk to? (std: UdpSocket)", streams::udp_connect).across_hosts(),
        Check::new("5 UDP and CRLF (stretch)", "-u -l: the first datagram picks the peer, then both ways", 2,
            "listen_udp(): who is the peer before the first datagram, and where do that datagram's bytes go? (std: UdpSocket)", streams::udp_listen).across_hosts(),
        Check::new("5 UDP and CRLF (stretch)", "stdout closed (`| head -0`): netcat ends, over TCP and -u -l", 1,
            "What becomes of an error writing to stdout (receive_all, listen_udp)? Nobody will ever read what netcat receives now.", streams::stdout_closed)
            .needs(&["HOST PORT: connects, stdin goes out, what arrives is printed", "-u -l: the first datagram picks the peer, then both ways"])
            .loopback_only(STDOUT_HERE),
        Check::new("5 UDP and CRLF (stretch)", "-C sends line ends as CRLF (and only with -C)", 1,
            "send_all with -C: the given Crlf converts; does every chunk go through it, and only with -C?", streams::crlf).across_hosts(),
        Check::new("6 commands and -k (stretch)", "a chunk read in one piece goes out in one write (also with -C)", 1,
            "A read, then one write of what it returned (converted, with -C): how many writes does your loop make per chunk?", streams::one_write_per_chunk)
            .needs(&["--sh-exec: the command's output goes to the client, then the connection ends"]).across_hosts(),
        Check::new("6 commands and -k (stretch)", "--sh-exec: the command's output goes to the client, then the connection ends", 2,
            "The command's stdout is the session's input: the sending direction ends (and half-closes) when it ends.", streams::sh_exec).across_hosts(),
        Check::new("6 commands and -k (stretch)", "-k -e cat: one command per connection, several at once", 2,
            "-k: can a second client be served while the first is still connected? (std: thread::scope)", streams::keep_open).across_hosts(),
        Check::new("6 commands and -k (stretch)", "-k out of file descriptors: says so, waits without spinning, accepts again", 1,
            "A failed accept must not end -k: what does netcat print, how soon does it try again?", streams::keep_open_out_of_descriptors)
            .needs(&["-k -e cat: one command per connection, several at once"])
            .loopback_only(LIMITS_HERE),
        Check::new("6 commands and -k (stretch)", "2 MiB of random bytes move exactly both ways (through `cat`)", 2,
            "Bytes are not text: never turn them into a String; copy what read() returned, all of it.", streams::binary_exact).across_hosts(),
        Check::new("7 TLS (stretch)", "-l --ssl: a TLS client sees the self-signed certificate -v names, and talks", 3,
            "wrap_tls() on the listening side: the handshake must be over before the copy threads start (handout: TLS; rustls::Connection).", tls::tls_listener).across_hosts(),
        Check::new("7 TLS (stretch)", "--ssl HOST PORT: talks to a TLS server; stdin's end is a close_notify", 3,
            "wrap_tls() on the connecting side, and the half-close over TLS: what tells the peer that the end is real? (handout: TLS)", tls::tls_client).across_hosts(),
        Check::new("7 TLS (stretch)", "--ssl-verify --ssl-trustfile: the right certificate passes, another fails", 1,
            "The client side's server name must be the host you connect to: the certificate is checked against it.", tls::tls_verify).across_hosts(),
        Check::new("7 TLS (stretch)", "--ssl-cert/--ssl-key: the listener presents that certificate", 1,
            "The given tls_side() (tls_plumbing.rs) loads them; wrap_tls() must use the server config it made.", tls::tls_cert_files).across_hosts(),
        Check::new("8 pipes (stretch)", "prints MiB/s for pipe, unix socket, tcp and udp, with ratios and UDP losses", 2,
            "Each through_* function makes its channel (handout: Pipes and sockets, measured; std: UnixStream, TcpListener, UdpSocket).", pipes::figures)
            .limit(20)
            .loopback_only(PIPES_STAY),
        Check::new("8 pipes (stretch)", "the figures fit the time the program took", 1,
            "Time only the transfer, and print what you measured.", pipes::honest)
            .limit(20)
            .loopback_only(PIPES_STAY),
    ])
    .questions(&questions::QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// Shared by the parts.

/// The address a listener started with `-v` gives in its line `Listening on ADDR` on stderr.
/// (A helper for the harness: reading a line of a program's stderr within a time.)
fn listening(program: &Program) -> Result<SocketAddr, String> {
    let line = stderr_line(program, "a `-v` line `Listening on ADDR` on stderr", |l| {
        l.contains("Listening on ")
    })?;
    let word = line.split_whitespace().last().unwrap_or("");
    word.parse()
        .map_err(|_| format!("the line {line:?} should end with the address listened on, IP:PORT"))
        .and_then(|addr: SocketAddr| match addr.port() {
            0 => Err(format!(
                "{line:?}: say the port the OS chose (local_addr), not 0"
            )),
            _ => Ok(addr),
        })
}

/// The first line of the program's stderr that satisfies `want`, within [`WAIT`].
fn stderr_line(
    program: &Program,
    what: &str,
    want: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(line) = program.stderr().lines().find(|l| want(l)) {
            return Ok(line.to_string());
        }
        let ended = !program.is_running();
        if ended {
            // It has exited: let the harness collect the rest of its stderr, then look again.
            let _ = program.panic_message();
            if let Some(line) = program.stderr().lines().find(|l| want(l)) {
                return Ok(line.to_string());
            }
        }
        if ended || Instant::now() >= deadline {
            let err = program.stderr();
            let shown = match err.trim() {
                "" => "nothing".to_string(),
                text => format!("{:?}", text.lines().take(5).collect::<Vec<_>>()),
            };
            return Err(program.explain(format!("expected {what}; stderr held {shown}")));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The first position where `got` and `want` differ, in words.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    match got.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => format!(
            "byte {i} differs (got {:#04x}, sent {:#04x})",
            got[i], want[i]
        ),
        None if got.len() < want.len() => {
            format!("only {} of {} bytes arrived", got.len(), want.len())
        }
        None => format!("{} bytes arrived, {} were sent", got.len(), want.len()),
    }
}
