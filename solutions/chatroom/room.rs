//! The room, given: who is connected (nickname → member) and queuing a line for one member
//! without ever waiting. `broadcast` and `unicast` are in chatroom_server.rs.

use super::QUEUE;
use crossbeam_channel::{Sender, TrySendError};
use socklab::wire::Wire;
use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One named client as the room sees it.
pub struct Member {
    /// Tells this connection apart from a later one that reuses the nickname.
    pub id: u64,
    /// The queue of the client's writer thread.
    pub queue: Sender<String>,
    /// The client's socket, kept to disconnect it when its queue overflows.
    pub stream: TcpStream,
}

#[derive(Default)]
pub struct Room {
    members: Mutex<HashMap<String, Member>>,
    next_id: AtomicU64,
    /// How every connection frames its messages.
    pub wire: Wire,
}

impl Room {
    /// An empty room whose connections frame their messages as `wire` says.
    pub fn new(wire: Wire) -> Room {
        Room {
            wire,
            ..Room::default()
        }
    }

    pub fn members(&self) -> MutexGuard<'_, HashMap<String, Member>> {
        // A thread that panicked while holding the lock cannot have left the map half-changed
        // (every change is one insert or remove), so the map is still good to use.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `name` to the room unless someone already has it; returns the member's ID.
    pub fn join(
        &self,
        name: &str,
        queue: &Sender<String>,
        stream: &TcpStream,
    ) -> Result<u64, String> {
        let mut members = self.members();
        if members.contains_key(name) {
            return Err(format!("the nickname {name} is taken"));
        }
        let stream = stream
            .try_clone()
            .map_err(|e| format!("server error ({e})"))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = queue.clone();
        members.insert(name.to_string(), Member { id, queue, stream });
        Ok(id)
    }

    /// Takes member `name` out of the room, unless the name now belongs to a newer connection.
    pub fn leave(&self, name: &str, id: u64) {
        let mut members = self.members();
        if members.get(name).is_some_and(|m| m.id == id) {
            members.remove(name);
        }
    }
}

/// Queues `line` for one member without ever waiting. `false` when the member must leave the
/// room: its writer has stopped, or its queue is full because it reads too slowly or not at
/// all — then it is disconnected, with the reason in the log.
pub fn offer(name: &str, member: &Member, line: &str) -> bool {
    match member.queue.try_send(line.to_string()) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            log::warn!("disconnecting {name}: {QUEUE} lines are waiting for it (it reads too slowly or not at all)");
            // Wakes up its reader thread, which then says `NAME left!` to the room.
            let _ = member.stream.shutdown(Shutdown::Both);
            false
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}
