//! Recording a lab's captures: its scenario runs the built programs under tcpdump, on loopback
//! or across netlab's hosts (`make capture NET=1`), and each capture made is checked to hold what
//! the questions need.
//!
//! A scenario names the course's hosts (`webserver`, `client1`, `client2`) for where each
//! program runs and each capture is made. On loopback a host is an address of 127/8 with the
//! host's last byte (webserver 127.0.0.3, client1 127.0.0.11) and every capture listens on `lo`;
//! across hosts it is the netlab host itself, found by its name, captured on its `eth0`.

use super::QuestionSet;
use crate::capture;
use crate::grader::{Ctx, Program};
use crate::netlab;
use crate::sniff::Tcpdump;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a running scenario can do: start the lab's programs on a host and start captures.
pub struct Recorder {
    ctx: Ctx,
    dir: PathBuf,
    dumps: Vec<Tcpdump>,
    /// The netlab subnet when the scenario runs across netlab's hosts; `None` on loopback.
    net: Option<[u8; 3]>,
}

impl Recorder {
    /// The address of `host` in this run: its netlab address, or 127.0.0.x on loopback.
    pub fn ip(&self, host: &str) -> Result<String, String> {
        let Some(last) = netlab::HOSTS
            .iter()
            .find(|(h, _)| *h == host)
            .map(|&(_, d)| d)
        else {
            return Err(format!("the scenario names an unknown host {host:?}"));
        };
        Ok(match self.net {
            Some([a, b, c]) => format!("{a}.{b}.{c}.{last}"),
            None => format!("127.0.0.{last}"),
        })
    }

    /// What a client types to reach `host`: across hosts the web server is `www.ttm4200.com`
    /// (asked of the DNS server, as in the course), on loopback its address.
    pub fn name_of(&self, host: &str) -> Result<String, String> {
        match (self.net, host) {
            (Some(_), "webserver") => Ok(format!("www.{}", netlab::ZONE)),
            (Some(_), _) => Ok(host.to_string()),
            (None, _) => self.ip(host),
        }
    }

    /// For a scenario that talks to the programs itself, from the grader: it runs on loopback
    /// only, since nothing outside netlab's hosts may send to them.
    pub fn loopback_only(&self, lab: &str) -> Result<(), String> {
        match self.net {
            None => Ok(()),
            Some(_) => Err(format!(
                "the {lab} scenario talks to the programs from the grader, so it runs on loopback \
                 only: capture it without NET=1"
            )),
        }
    }

    /// Starts a lab program on `host` (killed when recording ends).
    pub fn spawn_on(&self, host: &str, bin: &str, args: &[&str]) -> Result<Program, String> {
        self.ip(host)?;
        self.ctx.spawn_on(self.net.map(|_| host), bin, args)
    }

    /// Starts a lab server on `host` and reads its address from its first line, as
    /// [`crate::grader::Ctx::start_server`].
    pub fn start_server_on(
        &self,
        host: &str,
        bin: &str,
        args: &[&str],
    ) -> Result<(Program, std::net::SocketAddr), String> {
        let server = self.spawn_on(host, bin, args)?;
        let addr = server.address(crate::grader::WAIT)?;
        Ok((server, addr))
    }

    /// Starts capturing into capture `name` what `host` sees, with a tcpdump `filter`
    /// ("udp port 40123"); returns once tcpdump is listening. `host` may also be `switch`:
    /// what crosses the network's switch, every host's traffic.
    pub fn capture_on(&mut self, host: &str, name: &str, filter: &str) -> Result<(), String> {
        let iface = match host {
            "switch" => "br0",
            _ => {
                self.ip(host)?;
                "eth0"
            }
        };
        let file = self.dir.join(format!("{name}.pcap"));
        let dump = match self.net {
            None => Tcpdump::start("lo", &file, &[], filter)?,
            Some(_) => {
                Tcpdump::start_in(Some(&netlab::namespace(host)), iface, &file, &[], filter)?
            }
        };
        self.dumps.push(dump);
        Ok(())
    }
}

/// Runs `set`'s scenario under tcpdump with the built programs `bins`, saving the captures in
/// `dir`; returns a line per capture saying what it holds.
pub fn record(
    set: &QuestionSet,
    lab: &str,
    bins: BTreeMap<String, PathBuf>,
    dir: &Path,
    across_hosts: bool,
) -> Result<Vec<String>, String> {
    let net = match across_hosts {
        false => None,
        true => Some(netlab::current_subnet().ok_or(
            "netlab is not up: `sudo make netlab` first (or capture without NET=1, on loopback)",
        )?),
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = std::env::temp_dir().join(format!("socklab-capture-{}", std::process::id()));
    let ctx = Ctx::new(Arc::new(bins), scratch.clone(), dir.to_path_buf());
    let kill = ctx.killer();
    let mut rec = Recorder {
        ctx,
        dir: dir.to_path_buf(),
        dumps: Vec::new(),
        net,
    };
    let outcome = (set.scenario)(&mut rec);
    let stopped: Result<Vec<String>, String> = rec.dumps.drain(..).map(Tcpdump::stop).collect();
    kill();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome?;
    stopped?;
    let mut report = Vec::new();
    for spec in set.captures {
        let path = dir.join(format!("{}.pcap", spec.name));
        let cap = capture::read(&path)?;
        (spec.check)(&cap.packets).map_err(|e| {
            format!(
                "{} should hold {}, but {e}: do your programs work? (make grade LAB={})",
                path.display(),
                spec.holds,
                lab
            )
        })?;
        report.push(format!(
            "{}: {} TCP/UDP packets ({} link)",
            path.display(),
            cap.packets.len(),
            cap.link
        ));
    }
    Ok(report)
}
