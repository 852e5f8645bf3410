//! `chatroom_server`'s command line, given: the options, their defaults and the usage text.

use socklab::cli::{self, Args, Options};
use socklab::wire::Wire;

const USAGE: &str = "Usage: chatroom_server [--host H] [--port P] [--name NAME] [--wire lines|seed]

A chat-room hub: relays each line to every client, or to one with @NAME.
--wire seed speaks the seed's bytes (no newlines), for the seed's Python client.";

/// What the command line asks for.
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// The server's name, shown when it starts.
    pub name: String,
    pub wire: Wire,
}

/// Reads the command line (a mistake prints one `error:` line and the usage, and exits 2).
pub fn parse(default_port: u16) -> Settings {
    let mut opts = Options::new();
    opts.optopt("", "host", "address to listen on (default 0.0.0.0)", "H");
    opts.optopt("", "port", "port to listen on (default 3040; 0: any)", "P");
    opts.optopt(
        "",
        "name",
        "the server's name, shown when it starts",
        "NAME",
    );
    socklab::wire::option(&mut opts);
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("chatroom_server takes no positional arguments");
    }
    let host: String = args.get("host", "0.0.0.0".to_string());
    let port: u16 = args.get("port", default_port);
    let name: String = args.get("name", "server".to_string());
    let wire: Wire = args.get("wire", Wire::Lines);
    Settings {
        host,
        port,
        name,
        wire,
    }
}
