//! A client of the reverse proxy: it sends one packet file's data message to the proxy, prints
//! the server's reply, and checks that the reply carries the SHA-1 of the payload it sent.
//!
//! The course's packet files (`1327.PP_2.json`) hold a pretty-printed data message
//! `{type: 0, srcid, privPoliId, payloadsize, payload}`; `-pkt 1327.PP_2` finds the file with or
//! without its `.json`, and `-id` replaces its `srcid`. The client never trusts the reply: it
//! hashes the payload itself and exits 0 only when the two agree.
//!
//!     rp_client -id ID -revproc P -pkt FILE [-revhost H]

#[path = "message.rs"]
mod message;

use message::{error_text, read_message, sha1_hex, write_message, Data, Reply};
use serde_json::Value;
use socklab::cli::{self, Args, Options};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// How long connecting to the proxy may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the reply: the proxy may try several servers first (each may take
/// seconds to be found down).
const REPLY_TIMEOUT: Duration = Duration::from_secs(40);

/// The packet file `name`, or `name.json`.
fn find_packet(name: &str) -> Result<PathBuf, String> {
    let plain = PathBuf::from(name);
    let with_json = PathBuf::from(format!("{name}.json"));
    [plain, with_json]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no packet file {name} (nor {name}.json)"))
}

/// Reads a packet file: a data message as the course writes them.
fn load_packet(path: &Path) -> Result<Data, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON packet ({e})", path.display()))?;
    Data::from_json(&value).map_err(|why| format!("{}: {why}", path.display()))
}

/// Sends `data` to the proxy at `proxy` over a new connection and returns its answer.
fn exchange(proxy: SocketAddr, data: &Data) -> Result<Value, String> {
    // BEGIN BLANK: one exchange with the proxy, bounded by CONNECT_TIMEOUT and REPLY_TIMEOUT (TcpStream's docs); an Err says which step failed
    let mut stream = TcpStream::connect_timeout(&proxy, CONNECT_TIMEOUT)
        .map_err(|e| format!("cannot connect to the reverse proxy at {proxy}: {e}"))?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(REPLY_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write_message(&mut stream, &data.to_json())
        .map_err(|e| format!("cannot send the message: {e}"))?;
    read_message(&mut stream).map_err(|e| format!("no reply from the reverse proxy: {e}"))
    // END BLANK
}

/// Whether `reply` answers `data`: the SHA-1 of the payload we sent, for us. `Err` says what
/// differs.
fn verify(reply: &Reply, data: &Data) -> Result<(), String> {
    // BEGIN BLANK: does the reply answer our data (the handout: what the client checks; sha1_hex)? An Err says what differs
    let want = sha1_hex(&data.payload);
    if !reply.payload.eq_ignore_ascii_case(&want) {
        return Err(format!(
            "Hash mismatch: the server sent {}, but the SHA-1 of the payload is {want}.",
            reply.payload
        ));
    }
    if reply.destid != data.srcid {
        return Err(format!(
            "The reply is for client {}, not for this client ({}).",
            reply.destid, data.srcid
        ));
    }
    Ok(())
    // END BLANK
}

fn client(proxy: SocketAddr, data: &Data) -> ExitCode {
    println!(
        "Sending message {} to privacy policy {} through reverse proxy running on port {}",
        data.payload,
        data.policy,
        proxy.port()
    );
    let answer = match exchange(proxy, data) {
        Ok(answer) => answer,
        Err(why) => {
            println!("{why}");
            return ExitCode::FAILURE;
        }
    };
    // BEGIN BLANK: what the client prints and how it ends for each kind of answer (the handout's protocol and log lines; error_text, Reply::from_json, verify)
    let reply = match Reply::from_json(&answer) {
        Ok(reply) => reply,
        Err(why) => {
            match error_text(&answer) {
                Some(sentence) => println!("The reverse proxy answered with an error: {sentence}"),
                None => println!("The answer is not a reply ({why}): {answer}"),
            }
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Receiving a response from the server {} payload: {}",
        reply.srcid, reply.payload
    );
    match verify(&reply, data) {
        Ok(()) => {
            println!("Hash matched.");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("{why}");
            ExitCode::FAILURE
        }
    }
    // END BLANK
}

const USAGE: &str = "Usage: rp_client -id ID -revproc P -pkt FILE [-revhost H]

Sends a packet file's message through the reverse proxy and checks the SHA-1 that comes back.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt(
        "",
        "id",
        "this client's id (replaces the packet's srcid)",
        "ID",
    );
    opts.optopt("", "revproc", "the reverse proxy's port", "P");
    opts.optopt("", "pkt", "the packet file (FILE or FILE.json)", "FILE");
    opts.optopt(
        "",
        "revhost",
        "the reverse proxy's host (default localhost)",
        "H",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("rp_client takes no positional arguments");
    }
    let (Some(revproc), Some(pkt)) = (args.opt::<u16>("revproc"), args.opt::<String>("pkt")) else {
        args.fail("-revproc and -pkt are required");
    };
    let id: Option<i64> = args.opt("id");
    let revhost: String = args.get("revhost", "localhost".to_string());
    let mut data = match find_packet(&pkt).and_then(|path| load_packet(&path)) {
        Ok(data) => data,
        Err(why) => args.fail(&why),
    };
    if let Some(id) = id {
        data.srcid = id;
    }
    // IPv4 first, as the course's AF_INET programs: a proxy on 0.0.0.0 does not hear ::1.
    let addrs: Vec<SocketAddr> = match (revhost.as_str(), revproc).to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => args.fail(&format!("-revhost {revhost}: {e}")),
    };
    let Some(proxy) = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
    else {
        args.fail(&format!("-revhost {revhost} has no address"));
    };
    client(proxy, &data)
}
