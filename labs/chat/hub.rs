//! The hub, given: who is connected (name → client), the `!` map of active users, and cutting
//! off a client that does not keep up. `queue_all`, which queues a line for the clients, is in
//! chatserver.rs.

use super::seed::python_json;
use crossbeam_channel::{Sender, TrySendError};
use socklab::wire::Wire;
use std::collections::BTreeMap;
use std::net::{IpAddr, Shutdown, TcpStream};

/// One connected, registered client.
pub struct Client {
    /// Tells this connection apart from a later one with the same name.
    pub id: u64,
    pub ip: IpAddr,
    /// Feeds this client's writer thread.
    pub queue: Sender<String>,
    /// A handle on the socket, to cut off a client that is too slow.
    pub stream: TcpStream,
}

#[derive(Default)]
pub struct Hub {
    /// name → client; a BTreeMap so the `!` map lists names in order.
    pub clients: BTreeMap<String, Client>,
    pub next_id: u64,
    /// How messages are framed (the `!` map is written the seed's way in seed mode).
    pub wire: Wire,
}

impl Hub {
    /// Queues `line` for `client` without ever waiting; false if its queue is full or closed.
    pub fn send(client: &Client, line: &str) -> bool {
        match client.queue.try_send(line.to_string()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                log::warn!(
                    "a client at {} does not keep up; disconnecting it",
                    client.ip
                );
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Sends `msg` to every client except the one with id `sender`.
    pub fn broadcast_msg(&mut self, sender: u64, msg: &str) {
        let slow = self.queue_all(Some(sender), msg);
        if !slow.is_empty() {
            self.cut_off(&slow);
            self.broadcast_active_users();
        }
    }

    /// Sends every client `!` followed by the map name → IP as JSON: `!{"alice":"10.0.0.2"}`.
    pub fn broadcast_active_users(&mut self) {
        loop {
            let users: BTreeMap<&str, String> = self
                .clients
                .iter()
                .map(|(name, c)| (name.as_str(), c.ip.to_string()))
                .collect();
            let json = match self.wire {
                // A map of strings always serialises.
                Wire::Lines => serde_json::to_string(&users).expect("strings"),
                Wire::Seed => python_json(&users),
            };
            let active_users = format!("!{json}");
            let slow = self.queue_all(None, &active_users);
            if slow.is_empty() {
                return;
            }
            // Those are gone: tell the others again, with the map that no longer lists them.
            self.cut_off(&slow);
        }
    }

    /// Removes clients and closes their sockets, which also ends their reader threads.
    fn cut_off(&mut self, names: &[String]) {
        for name in names {
            if let Some(client) = self.clients.remove(name) {
                let _ = client.stream.shutdown(Shutdown::Both);
                println!("{name} was disconnected");
            }
        }
    }
}
