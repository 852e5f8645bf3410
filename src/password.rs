//! Password hashing for the labs that keep accounts (lab `chat`, delivery Q2).
//!
//! A stored password is `PBKDF2-HMAC-SHA256(password, salt, iterations)`: a random salt per
//! user (so equal passwords give different hashes, and a precomputed table is useless) and many
//! iterations (so each guess costs an attacker who stole the file that many hashes). HMAC and
//! PBKDF2 are written out here on the `sha2` crate, following RFC 2104 and RFC 8018 (§5.2); the
//! unit tests compare them with published test vectors. Not the socket lesson: the lab file only
//! calls [`hash_password`], [`verify_password`] and [`random_salt`].

use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// SHA-256 works on 64-byte blocks; HMAC pads its key to one block.
const BLOCK: usize = 64;
/// Bytes of a SHA-256 digest, and of the stored hash.
pub const HASH_LEN: usize = 32;
/// Bytes of random salt per user.
pub const SALT_LEN: usize = 16;

/// HMAC-SHA256 with its key already absorbed: the inner and outer hashers after the padded
/// key's block, cloned for every message (PBKDF2 calls HMAC many times with one key).
#[derive(Clone)]
struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    fn new(key: &[u8]) -> Hmac {
        // A key longer than a block is hashed first; a shorter one is padded with zeros.
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..HASH_LEN].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let mut inner = Sha256::new();
        inner.update(pad(0x36));
        let mut outer = Sha256::new();
        outer.update(pad(0x5c));
        Hmac { inner, outer }
    }

    /// HMAC(key, parts concatenated) = H((key ^ opad) || H((key ^ ipad) || message)).
    fn mac(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// HMAC-SHA256 of `message` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; HASH_LEN] {
    Hmac::new(key).mac(&[message])
}

/// PBKDF2 with HMAC-SHA256 as its pseudo-random function (RFC 8018 §5.2), filling `out`.
/// Block i of the output is U1 ^ U2 ^ … ^ Uc, where U1 = HMAC(P, S || i) and Uj = HMAC(P, Uj-1).
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let prf = Hmac::new(password);
    let fixed = FixedHmac::new(password);
    for (i, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
        // Block numbers start at 1, as a 4-byte big-endian integer.
        let index = (i as u32 + 1).to_be_bytes();
        let first = prf.mac(&[salt, &index]);
        // From here on in 32-bit words, the compression function's own unit.
        let mut u = [0u32; 8];
        for (word, bytes) in u.iter_mut().zip(first.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let mut t = u;
        for _ in 1..iterations {
            u = fixed.mac(&u);
            let mut w = 0;
            while w < 8 {
                t[w] ^= u[w];
                w += 1;
            }
        }
        let mut bytes = [0u8; HASH_LEN];
        for (out, word) in bytes.chunks_exact_mut(4).zip(t) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// SHA-256's initial state (FIPS 180-4, §5.3.3).
const SHA256_INIT: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// HMAC-SHA256 of a 32-byte message, the message of every PBKDF2 iteration after the first,
/// on SHA-256's compression function alone, in words: two blocks per iteration. The same result
/// as [`Hmac::mac`]; it exists because the lab programs are debug builds, where generic hashing
/// code and iterators run unoptimised: 100,000 iterations took 120 ms that way, 22 ms this way.
struct FixedHmac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl FixedHmac {
    fn new(key: &[u8]) -> FixedHmac {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..HASH_LEN].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let absorb = |byte: u8| {
            let mut state = SHA256_INIT;
            sha2::block_api::compress256(&mut state, &[block.map(|b| b ^ byte)]);
            state
        };
        FixedHmac {
            inner: absorb(0x36),
            outer: absorb(0x5c),
        }
    }

    fn mac(&self, message: &[u32; 8]) -> [u32; 8] {
        let inner = finish(self.inner, message);
        finish(self.outer, &inner)
    }
}

/// The last block of a 32-byte message after one 64-byte block: the message, the 0x80 byte,
/// zeros and the whole length in bits, (64 + 32) * 8 = 768 = 0x300.
const LAST_BLOCK: [u8; BLOCK] = {
    let mut block = [0u8; BLOCK];
    block[HASH_LEN] = 0x80;
    block[BLOCK - 2] = 0x03;
    block
};

/// SHA-256 from `state` (one key block absorbed) over the 32-byte `message`, in words.
fn finish(mut state: [u32; 8], message: &[u32; 8]) -> [u32; 8] {
    let mut block = LAST_BLOCK;
    let mut w = 0;
    while w < 8 {
        let [a, b, c, d] = message[w].to_be_bytes();
        block[4 * w] = a;
        block[4 * w + 1] = b;
        block[4 * w + 2] = c;
        block[4 * w + 3] = d;
        w += 1;
    }
    sha2::block_api::compress256(&mut state, &[block]);
    state
}

/// The stored form of `password` with this `salt`.
pub fn hash_password(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2_hmac_sha256(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// Whether `password` matches the stored `hash`, compared in constant time.
pub fn verify_password(password: &str, salt: &[u8], iterations: u32, hash: &[u8]) -> bool {
    constant_time_eq(&hash_password(password, salt, iterations), hash)
}

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// first differ, so response times leak nothing about how close a guess was.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early exit.
    std::hint::black_box(diff) == 0
}

/// `SALT_LEN` bytes from the operating system's random source (`/dev/urandom`, on Linux and
/// macOS). std has no random numbers of its own; this is the source `getrandom` would use.
pub fn random_salt() -> io::Result<[u8; SALT_LEN]> {
    let mut salt = [0u8; SALT_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut salt)?;
    Ok(salt)
}

/// Lower-case hexadecimal, for storing salts and hashes in a text file.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hexadecimal string, or `None` if it is not one.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        to_hex(bytes)
    }

    #[test]
    fn hmac_matches_rfc_4231_case_1() {
        let mac = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(
            hex(&mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn hmac_hashes_a_key_longer_than_a_block() {
        // RFC 4231 test case 6: a 131-byte key.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn pbkdf2_matches_published_vectors() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, two output blocks).
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(hex(&out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
        // The widely published SHA-256 companions of RFC 6070's vectors.
        let mut out = [0u8; 32];
        pbkdf2_hmac_sha256(b"password", b"salt", 4096, &mut out);
        assert_eq!(
            hex(&out),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
        let mut out = [0u8; 40];
        pbkdf2_hmac_sha256(
            b"passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            4096,
            &mut out,
        );
        assert_eq!(
            hex(&out),
            "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"
        );
    }

    #[test]
    fn verify_and_compare() {
        let salt = random_salt().unwrap();
        let hash = hash_password("correct horse", &salt, 10);
        assert!(verify_password("correct horse", &salt, 10, &hash));
        assert!(!verify_password("correct horsf", &salt, 10, &hash));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert_ne!(random_salt().unwrap(), salt);
        assert_eq!(from_hex(&to_hex(&salt)).unwrap(), salt);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("abc"), None);
    }
}
