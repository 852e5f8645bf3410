//! `socklab gradescope --out DIR` (`make gradescope`): the autograder zip for Gradescope.
//!
//! `DIR/autograder.zip` holds, at its root, the students' copy of the kit
//! ([`student_kit::write`]: no `solutions/`, no line of a blank's answer, since the student's
//! code runs in the same container as these files) and Gradescope's two scripts:
//! [`SETUP`] (`setup.sh`, run once as root when Gradescope builds the image: packages, a pinned
//! Rust toolchain, and the kit compiled so that a submission compiles only the student's files)
//! and [`RUN_AUTOGRADER`] (`run_autograder`, run for each submission: `socklab grade` on
//! `/autograder/submission` into `/autograder/results/results.json`, or a results file with score
//! 0 saying why nothing could be graded). The zip is made by the `zip` tool.
//! tests/gradescope.rs runs `run_autograder` on a fake `/autograder` tree.

use crate::student_kit;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `setup.sh`. The toolchain is the one the kit is tested with; `--submission labs` grades the
/// untouched labs once, which compiles what every submission shares and proves the kit grades on
/// this image (each check must fail for want of the student's code).
pub const SETUP: &str = r#"#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (docs/instructors.md).
set -euo pipefail
RUST_VERSION=1.95.0
kit=/autograder/source
export DEBIAN_FRONTEND=noninteractive HOME="${HOME:-/root}"

# A C compiler and linker (rustc links with cc; ring, rustls' cryptography, has C parts),
# curl and the certificates it needs for rustup.
apt-get update
apt-get install -y --no-install-recommends build-essential curl ca-certificates

curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
  sh -s -- -y --no-modify-path --profile minimal --default-toolchain "$RUST_VERSION"
export PATH="$HOME/.cargo/bin:$PATH"

# The grader, then the untouched labs graded as a submission: every dependency and the kit are
# compiled here, once, so a student's submission compiles only the student's files.
cd "$kit"
cargo build --bin socklab
target/debug/socklab grade --submission labs --no-sandbox --expect skeleton \
  --json /tmp/socklab-skeletons.json
"#;

/// `run_autograder`. `AUTOGRADER_ROOT` moves the tree (the kit's test uses it), and arguments
/// are passed on to `socklab grade` (the test grades one lab).
pub const RUN_AUTOGRADER: &str = r#"#!/usr/bin/env bash
# Gradescope runs this for each submission, in a fresh container of the image setup.sh built:
# it grades /autograder/submission with the kit's checks into /autograder/results/results.json.
# When grading cannot even start, results.json still says why, with score 0.
set -uo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
kit="$root/source"
submission="$root/submission"
results="$root/results/results.json"
log="$(mktemp)"
export PATH="${HOME:-/root}/.cargo/bin:$PATH" CARGO_TERM_COLOR=never CARGO_NET_OFFLINE=true
export CARGO_TARGET_DIR="$kit/target"

# $1 as a JSON string: control characters and invalid UTF-8 dropped, the rest escaped.
json_string() {
  local s
  s="$(printf '%s' "$1" | LC_ALL=C tr -d '\000-\010\013\014\016-\037\177' | iconv -c -f UTF-8 -t UTF-8)"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/}"; s="${s//$'\n'/\\n}"
  printf '"%s"' "$s"
}

# Writes a results.json with score 0 and the reason $1 for the student, then ends.
give_up() {
  echo "run_autograder: $1" >&2
  mkdir -p "$(dirname "$results")"
  printf '{"score": 0, "execution_time": %d, "output": %s, "tests": []}\n' \
    "$SECONDS" "$(json_string "$1")" >"$results"
  exit 0
}

# Runs a command with its output shown (Gradescope keeps it for the instructor) and kept in $log.
logged() {
  "$@" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

last_lines() { tail -n 15 "$log"; }

rm -f "$results"
if [ -z "$(find "$submission" -type f -print -quit 2>/dev/null)" ]; then
  give_up "Nothing was graded: the submission is empty. Upload your repository (the folder that \
holds labs/) or the contents of your labs folder (one folder per lab, such as udp-time/)."
fi
command -v cargo >/dev/null ||
  give_up "Nothing was graded: the autograder has no Rust toolchain (setup.sh installs it). Please tell your instructor."
cd "$kit" || give_up "Nothing was graded: the autograder's files are missing. Please tell your instructor."
logged cargo build --bin socklab ||
  give_up "Nothing was graded: the autograder itself did not build (not your code). Please tell your instructor. Its last lines:
$(last_lines)"

# Below Gradescope's default limit of 10 minutes, so that a timeout still reaches the student.
# The sandbox of `socklab grade` needs user namespaces, which Gradescope's containers lack.
logged timeout --kill-after=10 540 target/debug/socklab grade --submission "$submission" \
  --no-sandbox --json "$results" "$@"
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  give_up "Grading took longer than 9 minutes and was stopped: does a program of yours hang or wait for input?"
elif [ "$status" -ne 0 ] || [ ! -s "$results" ]; then
  give_up "Nothing was graded: the grader stopped (exit status $status). Its last lines:
$(last_lines)"
fi
"#;

/// Writes `out/autograder.zip` (replacing it) from the kit at `root`; returns the zip's path.
pub fn write(root: &Path, out: &Path) -> Result<PathBuf, String> {
    let out = fs::canonicalize(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let (kit, zip) = (out.join("autograder"), out.join("autograder.zip"));
    let _ = fs::remove_dir_all(&kit);
    // `zip` would add to an old file rather than replace it.
    if zip.exists() {
        fs::remove_file(&zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    }
    student_kit::write_with(root, &kit, student_kit::Answers::Kept)?;
    for (name, text) in [("setup.sh", SETUP), ("run_autograder", RUN_AUTOGRADER)] {
        let path = kit.join(name);
        fs::write(&path, text)
            .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o755)))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // From inside the folder: Gradescope wants setup.sh and run_autograder at the zip's root.
    let zipped = Command::new("zip")
        .args(["-q", "-r", "-X"])
        .arg(&zip)
        .arg(".")
        .current_dir(&kit)
        .output()
        .map_err(|e| format!("cannot run zip ({e}): install it (Debian: apt install zip)"))?;
    if !zipped.status.success() {
        return Err(format!(
            "zip failed: {}",
            String::from_utf8_lossy(&zipped.stderr).trim()
        ));
    }
    fs::remove_dir_all(&kit).map_err(|e| format!("{}: {e}", kit.display()))?;
    Ok(zip)
}
