//! Lab netcat against real peers: Debian's `ncat` and `netcat-openbsd` (`nc.openbsd`) both ways,
//! plain and with `--ssl` (ncat; OpenBSD's nc in Debian has no TLS, so `openssl s_client` and
//! `s_server` are the other TLS peers), 10 MiB of random bytes moved each way with equal SHA-256,
//! `--sh-exec` seen by a plain nc, and the silly server driven by a CRLF client and by nc.
//! `.ci/run` installs the tools; a missing tool fails its test with the reason.

use sha2::{Digest, Sha256};
use socklab::grader::start_server;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const NETCAT: &str = env!("CARGO_BIN_EXE_netcat");
const SILLY: &str = env!("CARGO_BIN_EXE_silly_server");
/// How long any one program may take here.
const LIMIT: Duration = Duration::from_secs(20);

/// A child process killed when dropped, so a failed test leaves nothing running.
struct Running(Child, String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Waits for the exit, at most [`LIMIT`].
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not end within {LIMIT:?}",
                self.1
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The tool must be installed (`.ci/run` installs it): a missing one fails with the reason.
fn tool(name: &str, package: &str) -> &'static str {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is missing: apt-get install -y {package} (.ci/run installs it)"
    );
    Box::leak(name.to_string().into_boxed_str())
}

fn ncat() -> &'static str {
    tool("ncat", "ncat")
}
fn openbsd() -> &'static str {
    tool("nc.openbsd", "netcat-openbsd")
}
fn openssl() -> &'static str {
    tool("openssl", "openssl")
}

/// A scratch folder for this test, removed when dropped (whether the test passed or not).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "socklab-netcat-interop-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    Scratch(dir)
}

/// Starts `program args` with stdin and stdout from/to files (or null), stderr to a file.
fn run(
    program: &str,
    args: &[&str],
    stdin: Option<&Path>,
    stdout: Option<&Path>,
    stderr: &Path,
    keep_stdin: bool,
) -> Running {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(match stdin {
            Some(p) => Stdio::from(File::open(p).expect("stdin file")),
            None if keep_stdin => Stdio::piped(),
            None => Stdio::null(),
        })
        .stdout(match stdout {
            Some(p) => Stdio::from(File::create(p).expect("stdout file")),
            None => Stdio::null(),
        })
        .stderr(Stdio::from(File::create(stderr).expect("stderr file")));
    let label = format!("{program} {}", args.join(" "));
    Running(
        cmd.spawn().unwrap_or_else(|e| panic!("{label}: {e}")),
        label,
    )
}

/// Waits until the file holds `text` (a listener's `Listening on` line), at most 5 s.
fn wait_for(file: &Path, text: &str, who: &Running) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let held = std::fs::read_to_string(file).unwrap_or_default();
        if held.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never said {text:?}; it said {held:?}",
            who.1
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A port free a moment ago, for tools that cannot listen on port 0 and tell.
fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port().to_string()
}

/// netcat's own `-v` listener line: `netcat: Listening on 127.0.0.1:PORT` → PORT.
fn netcat_port(err: &Path, who: &Running) -> String {
    wait_for(err, "Listening on", who);
    let text = std::fs::read_to_string(err).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("Listening on"))
        .unwrap_or("");
    line.rsplit(':').next().unwrap_or("").trim().to_string()
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("file to hash");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 10 MiB of random bytes (std's random hasher as the source) in `dir/in.bin`.
fn random_file(dir: &Path) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new();
    let mut out = Vec::with_capacity(10 << 20);
    let mut i = 0u64;
    while out.len() < 10 << 20 {
        let mut h = seed.build_hasher();
        h.write_u64(i);
        out.extend(h.finish().to_le_bytes());
        i += 1;
    }
    let path = dir.join("in.bin");
    std::fs::write(&path, &out).expect("random file");
    path
}

/// Which program listens and which sends, with their options.
struct Side<'a> {
    program: &'a str,
    args: &'a [&'a str],
}

/// `receiver -l PORT > out` and `sender HOST PORT < in`; the SHA-256 of out must equal in's.
fn transfer(name: &str, receiver: Side, sender: Side) {
    let dir = scratch(name);
    let input = random_file(&dir);
    let (out, rerr, serr) = (
        dir.join("out.bin"),
        dir.join("receiver.err"),
        dir.join("sender.err"),
    );
    let listening_own = receiver.program == NETCAT;
    let port = if listening_own {
        "0".to_string()
    } else {
        free_port()
    };
    let mut args: Vec<&str> = vec!["-v", "-l"];
    args.extend(receiver.args);
    args.extend(["127.0.0.1", port.as_str()]);
    if receiver.program == openbsd() {
        args.retain(|a| *a != "127.0.0.1");
    }
    let tls = receiver.args.contains(&"--ssl");
    let mut listener = run(receiver.program, &args, None, Some(&out), &rerr, tls);
    // Over TLS the receiver's stdin stays open, as a terminal's would (the seed's usage).
    let _typing = listener.0.stdin.take();
    let port = if listening_own {
        netcat_port(&rerr, &listener)
    } else {
        wait_for(&rerr, "istening", &listener);
        port
    };
    let mut args: Vec<&str> = sender.args.to_vec();
    args.extend(["127.0.0.1", port.as_str()]);
    let mut client = run(sender.program, &args, Some(&input), None, &serr, false);
    let sent = client.wait();
    let received = listener.wait();
    let err = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        sent.success(),
        "{} failed ({sent}): {}",
        client.1,
        err(&serr)
    );
    assert!(
        received.success(),
        "{} failed ({received}): {}",
        listener.1,
        err(&rerr)
    );
    assert_eq!(
        sha256(&out),
        sha256(&input),
        "{name}: 10 MiB sent by {} differ at {}",
        client.1,
        listener.1
    );
}

#[test]
fn ncat_and_netcat_move_10_mib_both_ways_plain() {
    let ncat = ncat();
    transfer(
        "ncat-to-netcat",
        Side {
            program: NETCAT,
            args: &[],
        },
        Side {
            program: ncat,
            args: &["--send-only"],
        },
    );
    transfer(
        "netcat-to-ncat",
        Side {
            program: ncat,
            args: &[],
        },
        Side {
            program: NETCAT,
            args: &["--send-only"],
        },
    );
}

#[test]
fn ncat_and_netcat_move_10_mib_both_ways_over_tls() {
    let ncat = ncat();
    transfer(
        "ncat-to-netcat-tls",
        Side {
            program: NETCAT,
            args: &["--ssl"],
        },
        Side {
            program: ncat,
            args: &["--ssl", "--send-only"],
        },
    );
    transfer(
        "netcat-to-ncat-tls",
        Side {
            program: ncat,
            args: &["--ssl"],
        },
        Side {
            program: NETCAT,
            args: &["--ssl", "--send-only"],
        },
    );
}

#[test]
fn openbsd_nc_and_netcat_move_10_mib_both_ways() {
    let nc = openbsd();
    // -N: shut down the socket's write half at stdin's end, as netcat does.
    transfer(
        "openbsd-to-netcat",
        Side {
            program: NETCAT,
            args: &[],
        },
        Side {
            program: nc,
            args: &["-N"],
        },
    );
    transfer(
        "netcat-to-openbsd",
        Side {
            program: nc,
            args: &[],
        },
        Side {
            program: NETCAT,
            args: &["--send-only"],
        },
    );
}

/// Starts `program` with piped stdin/stdout and a stderr file; returns it and its pipes.
fn piped(
    program: &str,
    args: &[&str],
    stderr: &Path,
) -> (Running, std::process::ChildStdin, std::process::ChildStdout) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(File::create(stderr).expect("stderr file")))
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    (
        Running(child, format!("{program} {}", args.join(" "))),
        stdin,
        stdout,
    )
}

/// Reads `out` in a thread until its end, at most [`LIMIT`].
fn collect(mut out: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    })
}

#[test]
fn openssl_s_client_talks_to_netcat_listening_with_ssl() {
    let openssl = openssl();
    let dir = scratch("s_client");
    let (nerr, cerr) = (dir.join("netcat.err"), dir.join("s_client.err"));
    let (mut server, mut to_server, from_server) =
        piped(NETCAT, &["-v", "-l", "--ssl", "127.0.0.1", "0"], &nerr);
    let port = netcat_port(&nerr, &server);
    let (line_tx, lines) = std::sync::mpsc::channel();
    let printed = thread::spawn(move || {
        let mut text = String::new();
        let mut reader = std::io::BufReader::new(from_server);
        while std::io::BufRead::read_line(&mut reader, &mut text).unwrap_or(0) > 0 {
            let _ = line_tx.send(());
        }
        text
    });
    let connect = format!("127.0.0.1:{port}");
    let (mut client, mut to_client, from_client) = piped(
        openssl,
        &["s_client", "-connect", &connect, "-quiet"],
        &cerr,
    );
    let got = collect(from_client);
    to_client
        .write_all(b"from s_client\n")
        .expect("typing into s_client");
    to_server
        .write_all(b"from netcat\n")
        .expect("typing into netcat");
    // Once s_client's line has arrived, netcat's stdin ends.
    let _ = lines.recv_timeout(LIMIT);
    drop(to_server);
    // netcat's stdin ended: its close_notify makes s_client end; then netcat ends too.
    let c = client.wait();
    drop(to_client);
    let s = server.wait();
    let err = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(s.success(), "netcat -l --ssl failed ({s}): {}", err(&nerr));
    assert_eq!(printed.join().expect("reader"), "from s_client\n");
    assert!(
        got.join().expect("reader").contains("from netcat"),
        "s_client: {c}, {}",
        err(&cerr)
    );
}

#[test]
fn netcat_with_ssl_talks_to_openssl_s_server() {
    let openssl = openssl();
    let dir = scratch("s_server");
    let id = socklab::tls::self_signed(&["localhost", "127.0.0.1"]).expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &id.cert_pem).expect("cert file");
    let socklab::tls::rustls::pki_types::PrivateKeyDer::Pkcs8(der) = &id.key else {
        panic!("PKCS#8 key")
    };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.secret_pkcs8_der());
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    std::fs::write(
        &key,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
    )
    .expect("key file");
    let port = free_port();
    let accept = format!("127.0.0.1:{port}");
    let (serr, nerr) = (dir.join("s_server.err"), dir.join("netcat.err"));
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let (server, mut to_server, from_server) = piped(
        openssl,
        &[
            "s_server", "-accept", &accept, "-cert", &cert, "-key", &key, "-quiet",
        ],
        &serr,
    );
    let got = collect(from_server);
    // s_server does not say when it listens: try until it does (it serves the next one too).
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&accept).is_err() {
        assert!(
            Instant::now() < deadline,
            "openssl s_server did not listen: {}",
            std::fs::read_to_string(&serr).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
    let (mut client, mut to_client, from_client) =
        piped(NETCAT, &["-v", "--ssl", "127.0.0.1", &port], &nerr);
    let printed = collect(from_client);
    wait_for(&nerr, "SSL connection to", &client);
    to_server
        .write_all(b"from s_server\n")
        .expect("typing into s_server");
    to_client
        .write_all(b"from netcat\n")
        .expect("typing into netcat");
    thread::sleep(Duration::from_millis(300));
    // netcat's stdin ends: its close_notify makes s_server close this connection, then netcat ends.
    drop(to_client);
    let c = client.wait();
    drop(to_server);
    drop(server);
    let err = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(c.success(), "netcat --ssl failed ({c}): {}", err(&nerr));
    assert!(
        printed.join().expect("reader").contains("from s_server"),
        "netcat: {}",
        err(&nerr)
    );
    assert!(
        got.join().expect("reader").contains("from netcat"),
        "s_server: {}",
        err(&serr)
    );
}

#[test]
fn a_plain_nc_sees_what_sh_exec_prints() {
    let nc = openbsd();
    let dir = scratch("sh-exec");
    let (nerr, cerr, out) = (
        dir.join("netcat.err"),
        dir.join("nc.err"),
        dir.join("nc.out"),
    );
    let mut server = run(
        NETCAT,
        &[
            "-v",
            "-l",
            "--sh-exec",
            "echo Successfully Connected",
            "127.0.0.1",
            "0",
        ],
        None,
        None,
        &nerr,
        false,
    );
    let port = netcat_port(&nerr, &server);
    let mut client = run(nc, &["127.0.0.1", &port], None, Some(&out), &cerr, false);
    assert!(
        client.wait().success(),
        "nc: {}",
        std::fs::read_to_string(&cerr).unwrap_or_default()
    );
    assert!(server.wait().success());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap_or_default(),
        "Successfully Connected\n"
    );
}

#[test]
fn the_silly_server_answers_a_crlf_client_and_nc_then_q_closes_it() {
    let nc = openbsd();
    let (_server, addr) =
        start_server(Command::new(SILLY).args(["--host", "127.0.0.1", "--port", "0"]))
            .expect("silly_server starts");
    let port = addr.port().to_string();
    let dir = scratch("silly");
    // nc.openbsd -N: half-close at stdin's end; the server answers and closes on its end.
    let ask = |flags: &[&str], input: &[u8], name: &str| -> String {
        let (inp, out, err) = (
            dir.join(format!("{name}.in")),
            dir.join(format!("{name}.out")),
            dir.join(format!("{name}.err")),
        );
        std::fs::write(&inp, input).expect("input");
        let mut args = flags.to_vec();
        args.extend(["127.0.0.1", port.as_str()]);
        let mut client = run(nc, &args, Some(&inp), Some(&out), &err, false);
        assert!(
            client.wait().success(),
            "nc {args:?}: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        std::fs::read_to_string(&out).unwrap_or_default()
    };
    assert_eq!(
        ask(&["-N"], b"hello\nhow are you?\n", "plain"),
        "What?\nWhat?\n"
    );
    // -C: CRLF line ends, as telnet sends them; `q\r\n` ends the client and the server.
    assert_eq!(
        ask(&["-N", "-C"], b"hi there\nq\n", "crlf"),
        "What?\nBye!\n"
    );
}

/// The handout's examples (solutions/netcat/README.md: "netcat's modes" and "The silly
/// chatter"), as the handout shows them; the test below runs each as written, but on a free port.
const HANDOUT_NETCAT: &str = r#"
    netcat -l 11211                                   # a listener on port 11211
    netcat localhost 11211                            # ... and a client: type on both sides
    netcat -v --listen --ssl localhost 11211          # the same inside TLS
    netcat -C --ssl localhost 11211
    netcat -l --sh-exec "echo Successfully Connected" 11211
    netcat -l 11211 > outputfile                      # receive a file ...
    echo Hello > inputfile
    netcat --send-only localhost 11211 < inputfile    # ... and send it
    cat outputfile                                    # Hello
"#;
const HANDOUT_SILLY: &str = r#"
    silly_server --port 8000 &
    netcat 127.0.0.1 8000          # or: telnet 127.0.0.1 8000
"#;

/// Waits until something listens on TCP `port` (IPv4 or IPv6, from /proc/net), at most 5 s: the
/// handout's listeners have no `-v`, so nothing else says when they are ready.
fn wait_listening(port: &str, who: &Running) {
    let hex = format!(":{:04X} ", port.parse::<u16>().expect("a port"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listening = ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    words.len() > 3 && format!("{} ", words[1]).ends_with(&hex) && words[3] == "0A"
                })
        });
        if listening {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never listened on port {port}",
            who.1
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// One handout pair: `listener` and `client` (each the handout's words, split), both with stdin
/// open as in a terminal; one line typed on each side must arrive on the other, then the
/// client's Ctrl-D ends both. `crlf`: what the client's line ends as at the listener.
fn type_on_both_sides(name: &str, listener: &[&str], client: &[&str], crlf: bool) {
    let dir = scratch(name);
    let file = |f: &str| dir.join(f);
    let mut server = run(
        NETCAT,
        listener,
        None,
        Some(&file("l.out")),
        &file("l.err"),
        true,
    );
    let port = listener.last().expect("a port").to_string();
    wait_listening(&port, &server);
    let mut user = run(
        NETCAT,
        client,
        None,
        Some(&file("c.out")),
        &file("c.err"),
        true,
    );
    let mut typing = user.0.stdin.take().expect("client stdin");
    typing.write_all(b"hello from the client\n").expect("typed");
    let end = if crlf { "\r\n" } else { "\n" };
    wait_for(
        &file("l.out"),
        &format!("hello from the client{end}"),
        &server,
    );
    let mut answering = server.0.stdin.take().expect("listener stdin");
    answering
        .write_all(b"hello from the listener\n")
        .expect("typed");
    wait_for(&file("c.out"), "hello from the listener\n", &user);
    drop(typing);
    let err = |f: &str| std::fs::read_to_string(file(f)).unwrap_or_default();
    assert!(user.wait().success(), "{}: {}", user.1, err("c.err"));
    assert!(server.wait().success(), "{}: {}", server.1, err("l.err"));
}

#[test]
fn the_handouts_examples_work_as_written() {
    let handout = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/solutions/netcat/README.md"
    ))
    .expect("the handout");
    for block in [HANDOUT_NETCAT, HANDOUT_SILLY] {
        assert!(
            handout.contains(block.trim_start_matches('\n')),
            "the handout's examples changed: update this test to run them\n{block}"
        );
    }
    let port = free_port();
    let p = port.as_str();
    type_on_both_sides("handout-plain", &["-l", p], &["localhost", p], false);
    let port = free_port();
    let p = port.as_str();
    type_on_both_sides(
        "handout-tls",
        &["-v", "--listen", "--ssl", "localhost", p],
        &["-C", "--ssl", "localhost", p],
        true,
    );

    // --sh-exec, with the plain client of the first example (its stdin open, as a terminal's).
    let dir = scratch("handout-sh-exec");
    let port = free_port();
    let p = port.as_str();
    let args = ["-l", "--sh-exec", "echo Successfully Connected", p];
    let mut server = run(NETCAT, &args, None, None, &dir.join("l.err"), true);
    wait_listening(p, &server);
    let out = dir.join("c.out");
    let mut user = run(
        NETCAT,
        &["localhost", p],
        None,
        Some(&out),
        &dir.join("c.err"),
        true,
    );
    assert!(user.wait().success(), "{} failed", user.1);
    assert!(server.wait().success(), "{} failed", server.1);
    let got = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(got, "Successfully Connected\n");

    // A file: `-l PORT > outputfile`, `echo Hello > inputfile`, `--send-only … < inputfile`.
    let dir = scratch("handout-file");
    let (input, output) = (dir.join("inputfile"), dir.join("outputfile"));
    std::fs::write(&input, "Hello\n").expect("inputfile");
    let port = free_port();
    let p = port.as_str();
    let mut server = run(
        NETCAT,
        &["-l", p],
        None,
        Some(&output),
        &dir.join("l.err"),
        true,
    );
    wait_listening(p, &server);
    let args = ["--send-only", "localhost", p];
    let mut user = run(NETCAT, &args, Some(&input), None, &dir.join("c.err"), false);
    assert!(user.wait().success(), "{} failed", user.1);
    assert!(server.wait().success(), "{} failed", server.1);
    let got = std::fs::read_to_string(&output).unwrap_or_default();
    assert_eq!(got, "Hello\n", "outputfile holds what inputfile held");

    // The silly chatter, and netcat as its client: a line, `What?`, then `q` ends both.
    let dir = scratch("handout-silly");
    let port = free_port();
    let p = port.as_str();
    let mut silly = run(SILLY, &["--port", p], None, None, &dir.join("s.err"), false);
    wait_listening(p, &silly);
    let out = dir.join("c.out");
    let mut user = run(
        NETCAT,
        &["127.0.0.1", p],
        None,
        Some(&out),
        &dir.join("c.err"),
        true,
    );
    let mut typing = user.0.stdin.take().expect("client stdin");
    typing.write_all(b"hello\n").expect("typed");
    wait_for(&out, "What?\n", &user);
    typing.write_all(b"q\n").expect("typed");
    assert!(
        silly.wait().success(),
        "{} did not end with 0 after q",
        silly.1
    );
    assert!(user.wait().success(), "{} failed", user.1);
}
