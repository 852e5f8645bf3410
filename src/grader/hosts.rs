//! Grading across netlab's hosts (`socklab grade --net`, docs/netlab.md): the student's
//! programs run on `webserver`, the grader's own sockets (test clients, stand-in servers) live
//! on `client1` and `client2`, and every byte between them crosses the network's switch.
//!
//! Only a check that says it can ([`super::Check::across_hosts`]) runs so; it asks its
//! [`super::Ctx`] for the hosts' addresses instead of choosing 127.0.0.x itself. Its thread
//! enters client1's network namespace before it starts ([`enter`]), so every socket it makes
//! belongs to client1; [`at`] makes one on the host that owns a given address (client2), and
//! the programs it starts go through `netlab exec webserver`. A socket stays in the namespace it
//! was made in whichever thread uses it, so only the moment of making it matters.
//! Every other check runs on loopback as before, and the report says which and why.

use crate::netlab;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;

/// The subnet of the netlab being graded on; unset on loopback (the default).
static NET: OnceLock<[u8; 3]> = OnceLock::new();

/// The host where the student's programs run.
pub const PROGRAMS: &str = "webserver";
/// The host a check's thread lives on: its sockets are made there unless [`at`] says otherwise.
pub const GRADER: &str = "client1";

/// Starts grading across hosts: netlab must be up, open, and this process allowed to enter
/// its namespaces. Returns a line saying where things run.
pub fn start() -> Result<String, String> {
    netlab::check_rights()?;
    let subnet = netlab::current_subnet().ok_or(
        "netlab is not up: `sudo make netlab` first (or grade without NET=1, on loopback)",
    )?;
    for host in [PROGRAMS, GRADER, "client2"] {
        if netlab::closed(host) {
            return Err(format!(
                "{host} is closed (netlab up --closed): the checks use ports the system picks, so \
                 grade on an open network (netlab down, then netlab up)"
            ));
        }
    }
    // A second start in one process (grade --watch) finds it set: same network.
    let _ = NET.set(subnet);
    let ip = |host| {
        netlab::address(subnet, host)
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    Ok(format!(
        "across netlab's hosts: your programs on {PROGRAMS} ({}), the grader's peers on {GRADER} \
         ({}) and client2 ({})",
        ip(PROGRAMS),
        ip(GRADER),
        ip("client2")
    ))
}

/// The subnet being graded on, when grading across hosts.
pub fn subnet() -> Option<[u8; 3]> {
    NET.get().copied()
}

/// The netlab host that has address `ip`, when grading across hosts.
fn owner(ip: IpAddr) -> Option<&'static str> {
    let [a, b, c] = subnet()?;
    match ip {
        IpAddr::V4(v4) => {
            let [w, x, y, z] = v4.octets();
            if [w, x, y] != [a, b, c] {
                return None;
            }
            netlab::HOSTS
                .iter()
                .find(|(_, last)| *last == z)
                .map(|(h, _)| *h)
        }
        IpAddr::V6(_) => None,
    }
}

extern "C" {
    /// setns(2), from the C library std links anyway.
    fn setns(fd: std::os::raw::c_int, nstype: std::os::raw::c_int) -> std::os::raw::c_int;
}

/// CLONE_NEWNET: the kind of namespace `setns` is asked to join.
const CLONE_NEWNET: std::os::raw::c_int = 0x4000_0000;

/// Moves the calling thread (only it) into the network namespace that `ns` refers to.
fn join(ns: &File, what: &str) -> Result<(), String> {
    // SAFETY: setns only reads the descriptor, which `ns` keeps open during the call; it changes
    // the namespace of the calling thread, which no Rust invariant depends on.
    let done = unsafe { setns(ns.as_raw_fd(), CLONE_NEWNET) };
    if done == 0 {
        Ok(())
    } else {
        Err(format!(
            "entering {what}'s network namespace: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// netlab's namespace of `host`, opened.
fn namespace_of(host: &str) -> Result<File, String> {
    let path = format!("/run/netns/{}", netlab::namespace(host));
    File::open(&path).map_err(|e| format!("{path}: {e} (is netlab still up?)"))
}

/// Moves the calling thread into `host`'s network namespace for good: the sockets it makes
/// from now on, and the threads and programs it starts, are on `host`.
pub(crate) fn enter(host: &str) -> Result<(), String> {
    join(&namespace_of(host)?, host)
}

/// Runs `make` (which makes a socket) on the host that has address `ip` when grading across
/// hosts, then returns the thread to where it was; otherwise (loopback) simply runs it.
pub fn at<T, E: std::fmt::Display>(
    ip: IpAddr,
    make: impl FnOnce() -> Result<T, E>,
) -> Result<T, String> {
    let Some(host) = owner(ip) else {
        return make().map_err(|e| e.to_string());
    };
    let here = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("/proc/thread-self/ns/net: {e}"))?;
    join(&namespace_of(host)?, host)?;
    let made = make().map_err(|e| e.to_string());
    join(&here, "the grader")?;
    made
}
