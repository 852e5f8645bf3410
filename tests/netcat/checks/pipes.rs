//! Milestone 8: `pipes` prints a figure per transport that is plausible and fits its run time.

use super::PIPES;
use socket2::{Domain, Protocol, Socket, Type};
use socklab::grader::{shown, Ctx};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// MiB the checks ask `pipes` to move per transport: enough to measure, quick in a debug build.
const MIB: f64 = 16.0;

/// The figures `pipes` printed.
struct Figures {
    /// MiB/s of pipe, unix socket, tcp loopback, udp loopback.
    rates: [f64; 4],
    /// Ratios to the pipe's figure, as printed, for the three sockets.
    ratios: [f64; 3],
    lost: u64,
    sent: u64,
    datagram: u64,
}

const NAMES: [&str; 4] = ["pipe:", "unix socket:", "tcp loopback:", "udp loopback:"];

/// The first number after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> Option<f64> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| !w.is_empty())?
        .parse()
        .ok()
}

fn parse(lines: &[String]) -> Result<Figures, String> {
    let line_of = |name: &str| {
        lines.iter().find(|l| l.starts_with(name)).ok_or_else(|| {
            format!(
                "no line starting with `{name}` (it printed {})",
                shown(lines)
            )
        })
    };
    let mut rates = [0.0; 4];
    let mut ratios = [0.0; 3];
    for (i, name) in NAMES.iter().enumerate() {
        let line = line_of(name)?;
        rates[i] = number_after(line, name)
            .filter(|r| r.is_finite() && *r > 0.0 && line.contains("MiB/s"))
            .ok_or_else(|| format!("{line:?} should give `NAME: X MiB/s` with X > 0"))?;
        if i > 0 {
            ratios[i - 1] = number_after(line, "(")
                .filter(|_| line.contains("x pipe)"))
                .ok_or_else(|| {
                    format!("{line:?} should give its ratio to the pipe as `(R x pipe)`")
                })?;
        }
    }
    let udp = line_of("udp loopback:")?;
    let lost = number_after(udp, "lost ");
    let sent = number_after(udp, " of ");
    let datagram = number_after(udp, "datagrams of ");
    let (Some(lost), Some(sent), Some(datagram)) = (lost, sent, datagram) else {
        return Err(format!(
            "{udp:?} should end with `lost L of N datagrams of S bytes`"
        ));
    };
    Ok(Figures {
        rates,
        ratios,
        lost: lost as u64,
        sent: sent as u64,
        datagram: datagram as u64,
    })
}

/// Holds port 1 on loopback, TCP (listening) and UDP, while `pipes` runs: every channel must be
/// on a port the system picks, so a port taken by someone else never matters. SO_REUSEPORT lets
/// the two pipes checks running at once both hold it, while a bind without it (std's, even with
/// the SO_REUSEADDR TcpListener sets) fails. Where the grader may not bind port 1 (not root),
/// nobody else may either, and nothing is held.
fn hold_port_one() -> Vec<Socket> {
    [(Type::STREAM, Protocol::TCP), (Type::DGRAM, Protocol::UDP)]
        .into_iter()
        .filter_map(|(kind, protocol)| {
            let socket = Socket::new(Domain::IPV4, kind, Some(protocol)).ok()?;
            let on: libc::c_int = 1;
            // SAFETY: setsockopt reads an int from a live local for its given length.
            let set = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_REUSEPORT,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if set != 0 {
                return None;
            }
            let addr = SocketAddr::from(([127, 0, 0, 1], 1));
            socket.bind(&addr.into()).ok()?;
            if kind == Type::STREAM {
                socket.listen(1).ok()?;
            }
            Some(socket)
        })
        .collect()
}

fn run(ctx: &Ctx) -> Result<(Figures, Duration), String> {
    let _held = hold_port_one();
    let started = Instant::now();
    let program = ctx.spawn(PIPES, &["--mib", "16"])?;
    let lines = program.run_to_end(Duration::from_secs(15))?;
    let took = started.elapsed();
    Ok((parse(&lines)?, took))
}

pub(super) fn figures(ctx: &Ctx) -> Result<(), String> {
    let (f, _) = run(ctx)?;
    for (i, name) in NAMES.iter().enumerate() {
        // Below 10 MiB/s nothing moves as fast as it can; above 100 GiB/s no memory does.
        if !(10.0..=100.0 * 1024.0).contains(&f.rates[i]) {
            return Err(format!(
                "`{name} {:.1} MiB/s` is not plausible for a transfer on one machine",
                f.rates[i]
            ));
        }
        if i > 0 {
            let want = f.rates[i] / f.rates[0];
            if (f.ratios[i - 1] - want).abs() > 0.02 + want * 0.02 {
                return Err(format!("{name} its ratio to the pipe should be {:.1} / {:.1} = {want:.2}, it printed {:.2}", f.rates[i], f.rates[0], f.ratios[i - 1]));
            }
        }
    }
    if f.sent * f.datagram != (MIB as u64) * 1024 * 1024
        && f.sent != ((MIB as u64) * 1024 * 1024).div_ceil(f.datagram.max(1))
    {
        return Err(format!(
            "--mib 16: {} datagrams of {} bytes are not 16 MiB",
            f.sent, f.datagram
        ));
    }
    if f.lost > f.sent {
        return Err(format!(
            "lost {} of {} datagrams: more than were sent",
            f.lost, f.sent
        ));
    }
    Ok(())
}

pub(super) fn honest(ctx: &Ctx) -> Result<(), String> {
    let (f, took) = run(ctx)?;
    let udp_mib = (f.sent - f.lost) as f64 * f.datagram as f64 / (1024.0 * 1024.0);
    let timed: f64 = f.rates[..3].iter().map(|r| MIB / r).sum::<f64>() + udp_mib / f.rates[3];
    if timed > took.as_secs_f64() {
        return Err(format!(
            "at the rates printed the four transfers took {timed:.2} s, but the whole program ran {:.2} s: the figures are slower than what happened",
            took.as_secs_f64()
        ));
    }
    Ok(())
}
