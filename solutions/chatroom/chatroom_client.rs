//! Chat-room client: joins a `chatroom_server`, sends each line typed on stdin, and prints
//! every line the server sends.
//!
//!     chatroom_client [--host H] [--port P] [--nickname N] [--wire lines|seed]
//!
//! Without `--host` or `--nickname` it asks for them, as the seed's client does. A line typed as
//! `@NAME text` is a private message to NAME. `--wire seed` speaks the seed's bytes (no
//! newlines, one recv(1024) as one message), to talk to the seed's Python server.

use socklab::cli::{self, Args, Options};
use socklab::wire::{read_line, read_recv, ReadError, Wire};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// The seed's port.
const PORT: u16 = 3040;
/// Longest line accepted from the server, in bytes (a chat line plus its `NAME: ` prefix).
const MAX_LINE: usize = 8192;
/// After our input ends, how long to wait for the server to close its side.
const LINGER: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// Framing: one message per line (the same rules as the server).

/// Reads one message in the framing `wire` says (socklab::wire's read_line, or read_recv in seed mode).
fn read_message(reader: &mut impl BufRead, wire: Wire) -> Result<Option<String>, ReadError> {
    match wire {
        Wire::Lines => read_line(reader, MAX_LINE),
        Wire::Seed => read_recv(reader),
    }
}

/// Writes one message in a single write: with its `\n`, or in seed mode bare.
fn write_message(mut out: impl Write, line: &str, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Lines => out.write_all(format!("{line}\n").as_bytes()),
        Wire::Seed => out.write_all(line.as_bytes()),
    }
}

/// Whether `message` is `word`. In seed mode a message may arrive stuck to the one before it
/// (`amy joined!Connected to server!`): nothing on the wire says where one ends, so the
/// best a seed-mode reader can do is look at how the bytes end.
fn is(message: &str, word: &str, wire: Wire) -> bool {
    match wire {
        Wire::Lines => message == word,
        Wire::Seed => message.ends_with(word),
    }
}

// ---------------------------------------------------------------------------------------------
// The user's side.

/// Prints `prompt` and reads one line from stdin; `None` when stdin has ended.
fn ask(input: &mut impl BufRead, prompt: &str) -> io::Result<Option<String>> {
    println!("{prompt}");
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}

/// Answers `NICKNAME` until the server welcomes us with `Connected to server!`. A refusal
/// (`ERROR …`) is printed and the user is asked for another nickname. Returns the nickname
/// the server accepted, or `None` if stdin or the connection ended first.
fn handshake(
    server: &mut impl BufRead,
    stream: &TcpStream,
    input: &mut impl BufRead,
    mut nickname: String,
    wire: Wire,
) -> io::Result<Option<String>> {
    let mut refused = false;
    loop {
        let Some(line) = read_message(server, wire)? else {
            println!("The server closed the connection.");
            return Ok(None);
        };
        if is(&line, "NICKNAME", wire) {
            // Seed mode: an `ERROR …` refusal may have arrived stuck to this NICKNAME.
            let before = &line[..line.len() - "NICKNAME".len()];
            if !before.is_empty() {
                println!("{before}");
                refused |= before.starts_with("ERROR");
            }
            if refused {
                // BEGIN BLANK: the server refused `nickname`: get another from the user (handout: "What this version fixes", 3); stdin ended: Ok(None)
                match ask(input, "Choose your nickname:")? {
                    Some(name) => nickname = name,
                    None => return Ok(None),
                }
                // END BLANK
            }
            write_message(stream, &nickname, wire)?;
            continue;
        }
        println!("{line}");
        if line.starts_with("ERROR") {
            refused = true;
        }
        if is(&line, "Connected to server!", wire) {
            return Ok(Some(nickname));
        }
    }
}

/// Prints every line from the server until it closes the connection, then ends the program.
fn receive(mut server: impl BufRead, wire: Wire) {
    // BEGIN BLANK: print what the server sends until it closes (handout: milestone 6); a bad line (which ReadError?) must not end it
    loop {
        match read_message(&mut server, wire) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {
                println!("The server closed the connection.");
                break;
            }
            Err(ReadError::Io(e)) => {
                println!("The server closed the connection ({e}).");
                break;
            }
            Err(bad) => log::warn!("skipped {bad} from the server"),
        }
    }
    // END BLANK
    // The main thread may be waiting for a line on stdin: nothing more can happen, so end here.
    std::process::exit(0);
}

fn client(
    host: Option<String>,
    port: u16,
    nickname: Option<String>,
    wire: Wire,
) -> io::Result<ExitCode> {
    let mut input = io::stdin().lock();
    let host: String =
        /* BLANK: the server's host: --host, else asked (`ask`, the seed's prompt); stdin ended: Ok(ExitCode::FAILURE) */
        match host {
            Some(h) => h,
            None => match ask(&mut input, "Enter server IP address:")? {
                Some(h) => h,
                None => return Ok(ExitCode::FAILURE),
            },
        }
        /* END */;
    let nickname: String =
        /* BLANK: the nickname: --nickname, else asked (`ask`, the seed's prompt); stdin ended: Ok(ExitCode::FAILURE) */
        match nickname {
            Some(n) => n,
            None => match ask(&mut input, "Choose your nickname:")? {
                Some(n) => n,
                None => return Ok(ExitCode::FAILURE),
            },
        }
        /* END */;
    let stream: TcpStream =
        /* BLANK: a TCP connection to (host, port) */ TcpStream::connect((host.as_str(), port))? /* END */;
    let mut server = BufReader::new(stream.try_clone()?);
    let Some(nickname) = handshake(&mut server, &stream, &mut input, nickname, wire)? else {
        return Ok(ExitCode::FAILURE);
    };
    // The reader goes to its own thread, with whatever it has already buffered.
    let receiver = thread::spawn(move || receive(server, wire));

    // BEGIN BLANK: send what the user types, as the seed's client does (handout: The protocol), until stdin ends
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        write_message(&stream, &format!("{nickname}: {text}"), wire)?;
    }
    // END BLANK

    // Our input has ended: tell the server (it sends `NAME left!` and closes), and give the
    // receiver a moment to print what is still on its way.
    stream.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + LINGER;
    while !receiver.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    Ok(ExitCode::SUCCESS)
}

const USAGE: &str =
    "Usage: chatroom_client [--host H] [--port P] [--nickname N] [--wire lines|seed]

Joins a chat room: type a line to send it to everyone, `@NAME text` to send it to NAME only.
Without --host or --nickname, asks for them. --wire seed speaks the seed's bytes.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "host", "the server's address (asked when absent)", "H");
    opts.optopt("", "port", "the server's port (default 3040)", "P");
    opts.optopt("", "nickname", "your nickname (asked when absent)", "N");
    socklab::wire::option(&mut opts);
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("chatroom_client takes no positional arguments");
    }
    let port: u16 = args.get("port", PORT);
    let wire: Wire = args.get("wire", Wire::Lines);
    match client(args.opt("host"), port, args.opt("nickname"), wire) {
        Ok(code) => code,
        Err(e) => {
            println!("An error occurred: {e}");
            ExitCode::FAILURE
        }
    }
}
