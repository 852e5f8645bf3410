//! A stand-in server written in the check, for testing a student's *client*: it listens on a
//! loopback address, serves in its own thread, and reports what it saw over a channel, which
//! the check reads with a deadline. It stops when dropped, so nothing outlives the check.
//!
//! ```text
//! let server = StandIn::udp("127.0.0.1:0", |sock, datagram, from, seen| { … seen.send(…) })?;
//! let client = ctx.spawn("udp_time", &["client", "127.0.0.1", &server.port()])?;
//! let request = server.next("the client's request", &client)?;
//! ```

use super::context::Context;
use super::{secs, Program, WAIT};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How often a stand-in's thread looks at its stop flag.
const TICK: Duration = Duration::from_millis(10);

/// A stand-in server whose thread reports values of type `T`.
pub struct StandIn<T> {
    addr: SocketAddr,
    seen: Receiver<T>,
    stop: Arc<AtomicBool>,
}

impl<T: Send + 'static> StandIn<T> {
    /// A TCP stand-in: accepts connections on `bind` and hands each, one at a time, to `serve`
    /// in the stand-in's thread.
    pub fn tcp(
        bind: impl ToSocketAddrs,
        mut serve: impl FnMut(TcpStream, SocketAddr, &Sender<T>) + Send + 'static,
    ) -> Result<StandIn<T>, String> {
        let listener = TcpListener::bind(bind).context("the test server binding")?;
        listener
            .set_nonblocking(true)
            .context("the test server's listening socket")?;
        let addr = listener.local_addr().context("the test server's address")?;
        StandIn::run(addr, move |stop, tx| {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, from)) => {
                        // Accepted sockets inherit non-blocking mode on some systems.
                        let _ = stream.set_nonblocking(false);
                        serve(stream, from, tx);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(TICK),
                    Err(_) => thread::sleep(TICK),
                }
            }
        })
    }

    /// A UDP stand-in: hands each datagram received on `bind` to `serve` with the socket, to
    /// answer from.
    pub fn udp(
        bind: impl ToSocketAddrs,
        mut serve: impl FnMut(&UdpSocket, &[u8], SocketAddr, &Sender<T>) + Send + 'static,
    ) -> Result<StandIn<T>, String> {
        let sock = UdpSocket::bind(bind).context("the test server binding")?;
        sock.set_read_timeout(Some(TICK * 10))
            .context("the test server's socket")?;
        let addr = sock.local_addr().context("the test server's address")?;
        StandIn::run(addr, move |stop, tx| {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((len, from)) = sock.recv_from(&mut buf) {
                    serve(&sock, &buf[..len], from, tx);
                }
            }
        })
    }

    fn run(
        addr: SocketAddr,
        body: impl FnOnce(&AtomicBool, &Sender<T>) + Send + 'static,
    ) -> Result<StandIn<T>, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, seen) = unbounded();
        let stopped = Arc::clone(&stop);
        let transcript = super::transcript::Transcript::current();
        thread::Builder::new()
            .name(format!("stand-in {addr}"))
            .spawn(move || {
                if let Some(t) = transcript {
                    t.enter();
                }
                body(&stopped, &tx)
            })
            .context("starting the test server's thread")?;
        Ok(StandIn { addr, seen, stop })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port, as a program argument.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// The next value the stand-in reported, within [`WAIT`]; `what` names it for the error,
    /// which also says whether `client` crashed.
    pub fn next(&self, what: &str, client: &Program) -> Result<T, String> {
        self.next_within(WAIT, what, client)
    }

    /// The same, within `within`.
    pub fn next_within(&self, within: Duration, what: &str, client: &Program) -> Result<T, String> {
        match self.seen.recv_timeout(within) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Err(client.explain(
                format!("the test server got no {what} within {}", secs(within)),
            )),
        }
    }

    /// Whatever it reported so far, without waiting.
    pub fn drain(&self) -> Vec<T> {
        self.seen.try_iter().collect()
    }
}

impl StandIn<(TcpStream, SocketAddr)> {
    /// A TCP stand-in that only accepts: [`StandIn::next`] is the next connection (the check
    /// then plays the server on it, usually as a [`super::LinePeer`]).
    pub fn listen(bind: impl ToSocketAddrs) -> Result<Self, String> {
        StandIn::tcp(bind, |stream, from, tx| {
            let _ = tx.send((stream, from));
        })
    }
}

impl<T> Drop for StandIn<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grader::LinePeer;

    #[test]
    fn a_stand_in_reports_what_it_saw_and_stops_when_dropped() {
        let udp = StandIn::udp("127.0.0.1:0", |sock, bytes, from, seen| {
            let _ = seen.send(bytes.to_vec());
            let _ = sock.send_to(bytes, from);
        })
        .unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        sock.send_to(b"ping", udp.addr()).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(sock.recv(&mut buf).unwrap(), 4);
        assert_eq!(udp.drain(), vec![b"ping".to_vec()]);

        let tcp = StandIn::listen("127.0.0.1:0").unwrap();
        let addr = tcp.addr();
        let _client = LinePeer::connect(addr, "client").unwrap();
        assert!(tcp.seen.recv_timeout(WAIT).unwrap().0.peer_addr().is_ok());
        drop(tcp);
        // The thread notices the flag within a tick, and the listening socket goes with it.
        let deadline = std::time::Instant::now() + WAIT;
        while TcpStream::connect(addr).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "still listening at {addr}"
            );
            thread::sleep(TICK);
        }
    }
}
