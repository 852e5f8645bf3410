//! The accounts of `chatserver --users FILE` (milestone "Q2 accounts"): the `SIGNUP`/`LOGIN`
//! request, and the users file, which never holds a password, only its salted PBKDF2 hash, and is
//! replaced atomically, so a crash never leaves half of it. The handout's "Q2: accounts" tells why.

use super::check_name;
use serde::{Deserialize, Serialize};
use socklab::password;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The longest password, in bytes.
const MAX_PASSWORD: usize = 256;
/// PBKDF2 iterations for a new account: each password guess costs an attacker who stole the
/// users file this many HMAC-SHA256 computations. Kept per account, so it can be raised later.
const ITERATIONS: u32 = 100_000;

/// One account as stored: never the password, only its salted PBKDF2 hash.
#[derive(Clone, Serialize, Deserialize)]
struct Account {
    /// Hex of SALT_LEN random bytes.
    salt: String,
    iterations: u32,
    /// Hex of PBKDF2-HMAC-SHA256(password, salt, iterations).
    hash: String,
}

/// The users file: `{"format": "socklab-chat-users/1", "users": {NAME: Account}}`.
#[derive(Serialize, Deserialize)]
struct UsersFile {
    format: String,
    users: BTreeMap<String, Account>,
}

const FORMAT: &str = "socklab-chat-users/1";

/// The accounts and the file that keeps them. The mutex is held from the check that a name is
/// free until the file with the new account is safely on disk, so of two sign-ups racing for
/// one name exactly one wins.
pub struct Accounts {
    path: PathBuf,
    users: Mutex<BTreeMap<String, Account>>,
}

impl Accounts {
    /// Reads `path`; a missing file is an empty one. Anything unreadable is an error, so that a
    /// damaged file is never replaced by one that forgot everybody.
    pub fn load(path: &Path) -> Result<Accounts, String> {
        let users = match fs::read_to_string(path) {
            Ok(text) => {
                let file: UsersFile =
                    todo!("fill in: the file's JSON as a UsersFile (serde_json's docs); an error must name the file");
                if file.format != FORMAT {
                    return Err(format!(
                        "{} has format {:?}, expected {FORMAT:?}",
                        path.display(),
                        file.format
                    ));
                }
                for (name, account) in &file.users {
                    let salt = password::from_hex(&account.salt);
                    let hash = password::from_hex(&account.hash);
                    if check_name(name).is_err()
                        || salt.is_none()
                        || hash.is_none_or(|h| h.len() != password::HASH_LEN)
                        || account.iterations == 0
                    {
                        return Err(format!(
                            "{}: the account {name:?} is damaged",
                            path.display()
                        ));
                    }
                }
                file.users
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Accounts {
            path: path.to_path_buf(),
            users: Mutex::new(users),
        })
    }

    fn users(&self) -> MutexGuard<'_, BTreeMap<String, Account>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the account `name`, on disk, before it says yes.
    pub fn sign_up(&self, name: &str, password: &str) -> Result<(), String> {
        // Hash before taking the lock: it is the slow part, and needs no shared state.
        let salt = password::random_salt().map_err(|e| {
            log::error!("no random salt: {e}");
            "the server could not create the account".to_string()
        })?;
        let hash = password::hash_password(password, &salt, ITERATIONS);
        let account = Account {
            salt: password::to_hex(&salt),
            iterations: ITERATIONS,
            hash: password::to_hex(&hash),
        };
        todo!("fill in: add the account: of two racing sign-ups one wins, and OK only once it is on disk (handout: \"One winner\", \"Crash-safe file\")");
        log::info!("new account {name}");
        Ok(())
    }

    /// Checks `name`'s password.
    pub fn log_in(&self, name: &str, password: &str) -> Result<(), String> {
        let account = self.users().get(name).cloned();
        let Some(account) = account else {
            // Spend the same time as for a real account, so timing does not tell which exist
            // (the reason below does tell: a trade-off for clearer messages, see the handout).
            password::hash_password(password, &[0; password::SALT_LEN], ITERATIONS);
            return Err(format!("unknown user {name}"));
        };
        // Both were checked to be hex when the file was loaded or the account was created.
        let salt = password::from_hex(&account.salt).unwrap_or_default();
        let hash = password::from_hex(&account.hash).unwrap_or_default();
        todo!("fill in: refuse a wrong password (src/password.rs: how is a password compared with the stored hash?)");
        Ok(())
    }
}

/// Saves the users file (save); a failure is logged here, and the client is only told that it failed.
fn saved(path: &Path, users: &BTreeMap<String, Account>) -> bool {
    match save(path, users) {
        Ok(()) => true,
        Err(e) => {
            log::error!("could not save {}: {e}", path.display());
            false
        }
    }
}

/// Replaces the users file without ever leaving a half-written one: write a temporary file in
/// the same folder, flush it to the disk, rename it over the old one (atomic), then flush the
/// folder so the rename itself survives a crash.
fn save(path: &Path, users: &BTreeMap<String, Account>) -> io::Result<()> {
    let file = UsersFile {
        format: FORMAT.to_string(),
        users: users.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(io::Error::other)?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = folder.join(format!(".{name}.tmp"));
    todo!("fill in: put text in place of the file at `path` atomically (handout: \"Crash-safe file\"; std::fs::File, std::fs::rename)");
    File::open(&folder)?.sync_all()
}

/// Creates (or truncates) a file only its owner can read: hashes are still worth guarding.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Reads a `SIGNUP NAME PASSWORD` or `LOGIN NAME PASSWORD` line (the password is the rest of
/// the line, spaces included) and returns the name it authenticates. Never logs the line.
pub fn authenticate(accounts: &Accounts, line: &str) -> Result<String, String> {
    let mut words = line.splitn(3, ' ');
    let request = (words.next(), words.next(), words.next());
    let (command, name, password) = match request {
        (Some(c @ ("SIGNUP" | "LOGIN")), Some(name), Some(pw)) if !pw.is_empty() => (c, name, pw),
        _ => {
            return Err(
                "malformed request: send SIGNUP NAME PASSWORD or LOGIN NAME PASSWORD".into(),
            )
        }
    };
    if password.len() > MAX_PASSWORD {
        return Err(format!("a password has at most {MAX_PASSWORD} bytes"));
    }
    if command == "SIGNUP" {
        check_name(name)?;
        accounts.sign_up(name, password)?;
    } else {
        accounts.log_in(name, password)?;
    }
    Ok(name.to_string())
}
