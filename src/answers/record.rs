//! Recording a lab's captures: its scenario runs the built programs on loopback under tcpdump,
//! and each capture made is checked to hold what the questions need.

use super::QuestionSet;
use crate::capture;
use crate::grader::{Ctx, Program};
use crate::sniff::Tcpdump;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a running scenario can do: start the lab's programs and start captures.
pub struct Recorder {
    ctx: Ctx,
    dir: PathBuf,
    dumps: Vec<Tcpdump>,
}

impl Recorder {
    /// Starts a lab program (killed when recording ends).
    pub fn spawn(&self, bin: &str, args: &[&str]) -> Result<Program, String> {
        self.ctx.spawn(bin, args)
    }

    /// Starts a lab server and reads its address from its first line, as
    /// [`crate::grader::Ctx::start_server`].
    pub fn start_server(
        &self,
        bin: &str,
        args: &[&str],
    ) -> Result<(Program, std::net::SocketAddr), String> {
        self.ctx.start_server(bin, args)
    }

    /// Starts capturing into capture `name` on the loopback with a tcpdump `filter`
    /// ("udp port 40123"); returns once tcpdump is listening.
    pub fn capture(&mut self, name: &str, filter: &str) -> Result<(), String> {
        let file = self.dir.join(format!("{name}.pcap"));
        self.dumps.push(Tcpdump::start("lo", &file, &[], filter)?);
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
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = std::env::temp_dir().join(format!("socklab-capture-{}", std::process::id()));
    let ctx = Ctx::new(Arc::new(bins), scratch.clone(), dir.to_path_buf());
    let kill = ctx.killer();
    let mut rec = Recorder {
        ctx,
        dir: dir.to_path_buf(),
        dumps: Vec::new(),
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
