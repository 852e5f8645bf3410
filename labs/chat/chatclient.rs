//! Chat client: talks to the chat room through the server over TCP, and straight to another
//! client over UDP (peer-to-peer), using the server's map of active users name → IP.
//!
//! Input lines: `#ls` lists the active users, `@NAME: text` sends `text` to NAME over UDP,
//! anything else goes to the room. Every client listens for UDP on the same port (5000 by
//! default), so knowing a peer's IP is enough to reach it.
//!
//! `--wire seed` speaks the course's own bytes (no newlines, one recv(1024) as one message,
//! no answer awaited for a bare name), to talk to the course's Python server.
//!
//!     chatclient [--server HOST] [--port P] [--bind IP] [--udp-port U]
//!                [--name NAME] [--password PW [--signup]] [--wire lines|seed]

#[path = "client_options.rs"]
mod client_options;

use client_options::{Link, Login};
use socket2::{Domain, Protocol, Socket, Type};
use socklab::wire::{read_line, read_recv, ReadError, Wire};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::process::{self, ExitCode};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

/// The server's TCP port, and the UDP port every client listens on, as in the seed.
const PORT: u16 = 5000;
/// The longest line the server accepts, in bytes.
const MAX_TYPED: usize = 4096;
/// The longest line taken from the server, in bytes: a `!` map of many users is long.
const MAX_LINE: usize = 20 * MAX_TYPED;
/// The largest UDP payload over IPv4: 65535 − 8 (UDP header) − 20 (IPv4 header).
const MAX_DATAGRAM: usize = 65507;

/// name → IP address (as text) of every active user, from the server's last `!` line.
#[derive(Clone, Default)]
struct ActiveUsers(Arc<Mutex<BTreeMap<String, String>>>);

impl ActiveUsers {
    fn get(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the map with the JSON after the `!` of a server line.
    fn update(&self, json: &str) {
        todo!("fill in: make the server's map (JSON) the active users (serde_json's docs); a bad map must not end the client");
    }

    /// The name registered with `ip`, or `Non-registered`.
    fn name_of(&self, ip: IpAddr) -> String {
        todo!("fill in: the name the active users give `ip` (the map holds IPs as text), or `Non-registered`");
    }
}

// ---------------------------------------------------------------------------------------------
// Framing: one message per line, as the server does it (or, with --wire seed, one per recv).

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

// ---------------------------------------------------------------------------------------------
// Sockets.

/// A TCP connection to `server`, from `bind` if given. Binding before connecting chooses the
/// source address the server sees: on one machine, each client can then have its own IP.
fn connect(server: SocketAddr, bind: Option<IpAddr>) -> io::Result<TcpStream> {
    todo!("fill in: a TCP connection to server from the address `bind` when given (handout: Running it on one machine; socket2::Socket)");
}

/// The UDP socket for peer-to-peer messages, bound to (ip, port).
fn udp_socket(ip: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let address = SocketAddr::new(ip, port);
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // Make the UDP socket reusable, as the seed does: a restarted client can bind again at once.
    socket.set_reuse_address(true)?;
    todo!("fill in: bind the UDP socket to address (socket2's Socket::bind: which address type does it take?)");
    Ok(socket.into())
}

// ---------------------------------------------------------------------------------------------
// The three activities: the server's lines, peers' datagrams, and the user's input.

/// Prints what the server sends; a `!` line updates the active users instead.
fn receive_tcp(mut reader: BufReader<TcpStream>, users: ActiveUsers, wire: Wire) {
    loop {
        let received: Result<Option<String>, ReadError> =
            todo!("fill in: one message from the server, framed as `wire` says");
        match received {
            Ok(Some(msg)) => match msg.strip_prefix('!') {
                Some(json) => users.update(json),
                None => println!("incoming msg from chatserver ({msg})"),
            },
            Ok(None) | Err(ReadError::Io(_)) => {
                // Possibly the server stopped, or it cut us off.
                println!("Disconnected from the chat server");
                process::exit(0);
            }
            Err(bad) => log::warn!("ignored {bad} from the server"),
        }
    }
}

/// Prints every datagram another client sends, with the sender's name found from its IP.
fn receive_udp(udp: UdpSocket, users: ActiveUsers) {
    let mut buf = vec![0u8; 65535];
    loop {
        let received: io::Result<(usize, SocketAddr)> =
            todo!("fill in: one datagram from a peer, and who sent it (std::net::UdpSocket)");
        let (len, address) = match received {
            Ok(r) => r,
            Err(e) => {
                log::warn!("UDP receive failed: {e}");
                continue;
            }
        };
        let Ok(msg) = std::str::from_utf8(&buf[..len]) else {
            log::warn!("ignored a datagram from {address} that is not UTF-8");
            continue;
        };
        // One message, one line: a peer must not be able to fake other lines of output.
        let msg = msg.replace(|c: char| c.is_control(), " ");
        let sending_client = users.name_of(address.ip());
        println!("Incoming msg (P2P) from {sending_client}:{msg}");
    }
}

/// Reads the user's lines until end of input: `#ls`, `@NAME: text` (UDP), or the room (TCP).
fn send(
    input: &mut impl Iterator<Item = io::Result<String>>,
    tcp: &TcpStream,
    udp: &UdpSocket,
    udp_port: u16,
    users: &ActiveUsers,
    wire: Wire,
) -> io::Result<()> {
    prompt(">");
    for line in input {
        let line = line?;
        let usr_input = line.trim_end_matches('\r');
        if usr_input == "#ls" {
            // A map of strings always serialises.
            println!("{}", serde_json::to_string(&*users.get()).expect("strings"));
        } else if let Some(rest) = usr_input.strip_prefix('@') {
            let Some((receiving_client, msg)) = rest.split_once(':') else {
                println!("write @NAME: message to send to one user");
                prompt(">");
                continue;
            };
            let receiving_client = receiving_client.trim();
            todo!("fill in: send msg over UDP to receiving_client's IP from the map (handout: Peer-to-peer); say so for an unknown name or a message over MAX_DATAGRAM");
        } else if usr_input.len() > MAX_TYPED {
            println!("a message has at most {MAX_TYPED} bytes");
        } else if !usr_input.is_empty() {
            todo!("fill in: send the typed line to the room");
        }
        prompt(">");
    }
    Ok(())
}

/// Shows `text` as a prompt when a person is typing; piped input gets no prompts.
fn prompt(text: &str) {
    if io::stdin().is_terminal() {
        print!("{text}");
        let _ = io::stdout().flush();
    }
}

fn client(link: Link, name: Option<String>, login: Login) -> io::Result<ExitCode> {
    let Link {
        host,
        port,
        bind,
        udp_port,
        wire,
    } = link;
    let host = host.as_str();
    let addresses: Vec<SocketAddr> =
        todo!("fill in: the server's addresses from the system resolver (std::net::ToSocketAddrs)");
    // With --bind, the server's address must be of the same family (IPv4 or IPv6).
    let server = addresses
        .into_iter()
        .find(|a| bind.is_none_or(|b| a.is_ipv4() == b.is_ipv4()))
        .ok_or_else(|| io::Error::other(format!("{host} has no usable address")))?;
    let tcp = connect(server, bind)
        .map_err(|e| io::Error::new(e.kind(), format!("could not connect to {server}: {e}")))?;
    // Our IP as the server sees it: the server's map will hold this one.
    let client_ip: IpAddr =
        todo!("fill in: our IP as the server sees it (handout: Running it across hosts; std::net::TcpStream)");
    let udp = udp_socket(client_ip, udp_port)
        .map_err(|e| io::Error::new(e.kind(), format!("UDP port {client_ip}:{udp_port}: {e}")))?;

    let mut input = io::stdin().lock().lines();
    let mut reader = BufReader::new(tcp.try_clone()?);
    let asked = name.is_none();
    let mut name = name;
    // Seed mode: the user map may arrive stuck to the server's OK.
    let mut early_users = None;
    loop {
        let name = match name.take() {
            Some(n) => n,
            None => {
                print!("First enter your name to register it in the server: ");
                if !io::stdin().is_terminal() {
                    println!();
                }
                io::stdout().flush()?;
                match input.next() {
                    Some(line) => line?.trim().to_string(),
                    None => return Ok(ExitCode::FAILURE),
                }
            }
        };
        let request = match &login.password {
            None => name,
            Some(pw) if login.signup => format!("SIGNUP {name} {pw}"),
            Some(pw) => format!("LOGIN {name} {pw}"),
        };
        todo!("fill in: send the registration line to the server");
        // The seed's server answers a bare name with nothing: go on, as the seed's client does.
        if wire == Wire::Seed && login.password.is_none() {
            break;
        }
        let answer = match read_message(&mut reader, wire) {
            Err(ReadError::Io(e)) => return Err(e),
            other => other,
        };
        match answer {
            Ok(Some(answer)) if answer.starts_with("OK") => {
                early_users = answer.find("!{").map(|i| answer[i + 1..].to_string());
                break;
            }
            Ok(Some(answer)) if answer.starts_with("ERR") && asked => {
                println!("refused by the server: {}", answer[3..].trim());
            }
            Ok(Some(answer)) if answer.starts_with("ERR") => {
                println!("refused by the server: {}", answer[3..].trim());
                return Ok(ExitCode::FAILURE);
            }
            Ok(Some(answer)) => {
                println!("unexpected answer from the server (not OK or ERR): {answer}");
                return Ok(ExitCode::FAILURE);
            }
            Err(bad) => {
                println!("unexpected answer from the server: {bad}");
                return Ok(ExitCode::FAILURE);
            }
            Ok(None) => {
                println!("the server closed the connection");
                return Ok(ExitCode::FAILURE);
            }
        }
    }

    println!("Connection Established!");
    println!("Now you can enter '#ls' to list active users,");
    println!("'@<user1>: msg' send msg to a specific user,");
    println!("or just write your msg to send to all users");
    println!("*************************************************");
    let users = ActiveUsers::default();
    if let Some(json) = early_users {
        users.update(&json);
    }
    let (tcp_users, udp_users) = (users.clone(), users.clone());
    let udp_reader = udp.try_clone()?;
    thread::spawn(move || receive_tcp(reader, tcp_users, wire));
    thread::spawn(move || receive_udp(udp_reader, udp_users));
    send(&mut input, &tcp, &udp, udp_port, &users, wire)?;
    // End of input (Ctrl-D): leave the room.
    let _ = tcp.shutdown(Shutdown::Both);
    Ok(ExitCode::SUCCESS)
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let (link, name, login) = client_options::parse(PORT);
    match client(link, name, login) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chatclient: {e}");
            ExitCode::FAILURE
        }
    }
}
