//! One control group per sandboxed submission: the limits that hold for the sandbox as a whole
//! (CPU, memory with swap and tmpfs pages included, processes), where per-process limits cannot.
//!
//! cgroup v2 is used where its `cpu`, `memory` and `pids` controllers can be enabled below the
//! grader's own group: run as root with the unified hierarchy at `/sys/fs/cgroup`, or under a
//! delegated group (`systemd-run --user --scope -p Delegate=yes make grade …`). On a hybrid
//! system whose controllers are still on v1 hierarchies (Debian with `systemd.unified_cgroup_
//! hierarchy=0`, and this kit's CI machine), the same limits are set through v1's files
//! (`cpu.cfs_quota_us`, `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`, `pids.max`).
//! Where neither can be written, [`Cgroups::find`] says why in one sentence and grading goes on
//! with the per-process limits alone.
//!
//! A group is made before bubblewrap starts; bubblewrap enters it between fork and exec
//! ([`Group::enter_paths`], written by the child itself), so everything the sandbox starts is in it
//! from the first instruction. It is removed when the sandbox has ended.

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The limits of one sandbox as a whole.
#[derive(Clone, Copy, Debug)]
pub struct GroupLimits {
    /// CPU time per period, in cores (1.0: at most one core's worth, whatever the processes).
    pub cores: f64,
    /// Memory (processes, kernel memory, and its tmpfs pages: /kit, /tmp, /dev/shm, memfds), in
    /// bytes; swap may not be used beyond it.
    pub memory: u64,
    /// Processes and threads.
    pub pids: u64,
}

/// Which cgroup interface this machine offers.
#[derive(Clone, Debug)]
enum Kind {
    /// The unified hierarchy: the folder below which groups are made.
    V2(PathBuf),
    /// v1 hierarchies: the folders (cpu, memory, pids) below which groups are made.
    V1 {
        cpu: PathBuf,
        memory: PathBuf,
        pids: PathBuf,
    },
}

/// Where this machine's sandbox groups go.
#[derive(Clone, Debug)]
pub struct Cgroups {
    kind: Kind,
}

/// One sandbox's group (its folders; removed on drop).
pub struct Group {
    dirs: Vec<PathBuf>,
}

impl Cgroups {
    /// Finds a place where this process may make groups with the three controllers. `Err` says
    /// in one sentence why not.
    pub fn find() -> Result<Cgroups, String> {
        // For measuring what the groups change (docs/instructors.md): SOCKLAB_CGROUPS=off.
        if std::env::var_os("SOCKLAB_CGROUPS").is_some_and(|v| v == "off") {
            return Err("SOCKLAB_CGROUPS=off".into());
        }
        let mounts = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        // Mount points: (fstype, super options, mount point).
        let mut v2_mount = None;
        let mut v1_mounts: Vec<(String, PathBuf)> = Vec::new();
        for line in mounts.lines() {
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let point = before.split(' ').nth(4).unwrap_or_default();
            let mut after = after.split(' ');
            let (fstype, super_opts) = (after.next().unwrap_or(""), after.nth(1).unwrap_or(""));
            match fstype {
                "cgroup2" => v2_mount = Some(PathBuf::from(point)),
                "cgroup" => v1_mounts.push((super_opts.to_string(), PathBuf::from(point))),
                _ => {}
            }
        }
        let v1 = |controller: &str| -> Option<PathBuf> {
            let (_, point) = v1_mounts
                .iter()
                .find(|(opts, _)| opts.split(',').any(|o| o == controller))?;
            // "4:memory:/some/group" (or "1:cpu,cpuacct:/…")
            let path = own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
                names.split(',').any(|n| n == controller).then_some(path)
            })?;
            Some(point.join(path.trim_start_matches('/')))
        };
        let mut why = "no cgroup file system is mounted".to_string();
        if let Some(mount) = v2_mount {
            let path = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/");
            let own_dir = mount.join(path.trim_start_matches('/'));
            // Below the grader's own group when its controllers are on for children (the root
            // group, a container's, a delegated one); as root, else, in a group of the kit's
            // own at the top (as Docker does with its cgroupfs driver); not root, in a
            // delegated group whose processes first move to a leaf of their own.
            // SAFETY: geteuid has no arguments and cannot fail.
            let as_root = unsafe { libc::geteuid() } == 0;
            // (group, move its processes to a leaf first, enable the controllers in its parent)
            let mut tries: Vec<(PathBuf, bool, bool)> = vec![(own_dir.clone(), false, false)];
            if as_root && own_dir != mount {
                tries.push((mount.join("socklab"), false, true));
            } else if !as_root {
                tries.push((own_dir, true, false));
            }
            for (dir, move_out, in_parent) in tries {
                let _ = fs::create_dir(&dir);
                if move_out {
                    move_to_leaf(&dir);
                }
                match enable_v2(&dir, in_parent) {
                    Ok(()) => {
                        return Ok(Cgroups {
                            kind: Kind::V2(dir),
                        })
                    }
                    Err(e) => why = e,
                }
            }
        }
        if let (Some(cpu), Some(memory), Some(pids)) = (v1("cpu"), v1("memory"), v1("pids")) {
            let cgroups = Cgroups {
                kind: Kind::V1 { cpu, memory, pids },
            };
            // A trial group: can it be made and given limits?
            let limits = GroupLimits {
                cores: 1.0,
                memory: 1 << 30,
                pids: 64,
            };
            return match cgroups.make("probe", limits) {
                Ok(_) => Ok(cgroups),
                Err(e) => Err(format!("cgroup v1 limits cannot be set here: {e}")),
            };
        }
        Err(why)
    }

    /// Makes a group named after `name` with `limits`.
    pub fn make(&self, name: &str, limits: GroupLimits) -> Result<Group, String> {
        let leaf = format!("socklab-{}-{name}", std::process::id());
        const PERIOD: u64 = 100_000;
        let quota = ((limits.cores * PERIOD as f64) as u64).max(1000);
        let (dirs, files): (Vec<PathBuf>, Vec<(PathBuf, String)>) = match &self.kind {
            Kind::V2(parent) => {
                let dir = parent.join(&leaf);
                let files = vec![
                    (dir.join("cpu.max"), format!("{quota} {PERIOD}")),
                    (dir.join("memory.max"), limits.memory.to_string()),
                    (dir.join("memory.swap.max"), "0".into()),
                    (dir.join("pids.max"), limits.pids.to_string()),
                ];
                (vec![dir], files)
            }
            Kind::V1 { cpu, memory, pids } => {
                let (c, m, p) = (cpu.join(&leaf), memory.join(&leaf), pids.join(&leaf));
                let mut files = vec![
                    (c.join("cpu.cfs_period_us"), PERIOD.to_string()),
                    (c.join("cpu.cfs_quota_us"), quota.to_string()),
                    (m.join("memory.limit_in_bytes"), limits.memory.to_string()),
                ];
                // Memory plus swap: only where the kernel accounts swap.
                if memory.join("memory.memsw.limit_in_bytes").exists() {
                    files.push((
                        m.join("memory.memsw.limit_in_bytes"),
                        limits.memory.to_string(),
                    ));
                }
                files.push((p.join("pids.max"), limits.pids.to_string()));
                let mut dirs = vec![c, m, p];
                dirs.dedup();
                (dirs, files)
            }
        };
        let group = Group { dirs };
        for dir in &group.dirs {
            // A group left by an earlier grader of the same pid and name is reused.
            if let Err(e) = fs::create_dir(dir) {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(format!("{}: {e}", dir.display()));
                }
            }
        }
        for (file, value) in files {
            fs::write(&file, &value).map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok(group)
    }

    /// Said when grading with these groups: one line.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::V2(dir) => format!("cgroup v2 below {}", dir.display()),
            Kind::V1 { .. } => "cgroup v1 (cpu, memory, pids)".into(),
        }
    }
}

/// Moves every process of `dir` (a delegated group: ours to arrange) to its leaf
/// `socklab-processes`, since a group with processes cannot give its children controllers.
fn move_to_leaf(dir: &Path) {
    let leaf = dir.join("socklab-processes");
    let _ = fs::create_dir(&leaf);
    for pid in fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
    {
        let _ = fs::write(leaf.join("cgroup.procs"), pid);
    }
}

/// Turns on the cpu, memory and pids controllers for the children of `dir` (and, `in_parent`,
/// for `dir` itself in its parent: the hierarchy's root, which may have processes).
fn enable_v2(dir: &Path, in_parent: bool) -> Result<(), String> {
    if let Some(parent) = dir.parent().filter(|_| in_parent) {
        let control = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
        if !["cpu", "memory", "pids"]
            .iter()
            .all(|c| control.split_whitespace().any(|e| e == *c))
        {
            let _ = fs::write(parent.join("cgroup.subtree_control"), "+cpu +memory +pids");
        }
    }
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let missing: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !available.split_whitespace().any(|a| a == *c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "cgroup v2's {} controller is not available in {} (a hybrid system keeps them on v1)",
            missing.join(", "),
            dir.display()
        ));
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control).unwrap_or_default();
    if ["cpu", "memory", "pids"]
        .iter()
        .all(|c| enabled.split_whitespace().any(|e| e == *c))
    {
        return Ok(());
    }
    fs::write(&control, "+cpu +memory +pids").map_err(|e| {
        format!(
            "cannot enable cgroup v2 controllers in {} ({e}); run the grader in a delegated \
             group: systemd-run --user --scope -p Delegate=yes make grade …",
            dir.display()
        )
    })
}

impl Group {
    /// The files a process writes "0" into to enter this group (one per hierarchy), made
    /// before the fork so that the child only opens and writes.
    pub fn enter_paths(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .filter_map(|d| {
                CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).ok()
            })
            .collect()
    }

    /// Whether the kernel killed a process of it for want of memory.
    pub fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|d| {
            // v2: memory.events; v1: memory.oom_control. Both say "oom_kill N".
            ["memory.events", "memory.oom_control"].iter().any(|f| {
                fs::read_to_string(d.join(f))
                    .unwrap_or_default()
                    .lines()
                    .any(|l| {
                        l.strip_prefix("oom_kill ")
                            .and_then(|n| n.trim().parse::<u64>().ok())
                            .is_some_and(|n| n > 0)
                    })
            })
        })
    }

    /// Kills what is left in it (a sandbox's processes die with its PID namespace; this is
    /// for the moment between).
    fn kill_all(&self) {
        for dir in &self.dirs {
            if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            for pid in fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
            {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    // SAFETY: kill with integer arguments only.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in &self.dirs {
            while fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                self.kill_all();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Enters the groups: called in the child between fork and exec (open and write only).
///
/// # Safety
/// Only async-signal-safe calls, on memory prepared before the fork.
pub unsafe fn enter(paths: &[CString]) -> bool {
    paths.iter().all(|p| {
        let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
        libc::close(fd);
        ok
    })
}
