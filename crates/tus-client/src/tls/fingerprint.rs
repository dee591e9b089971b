//! SHA-256 certificate fingerprints.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The SHA-256 digest of a certificate's DER encoding, as used for pinning.
///
/// This is the value `openssl x509 -noout -fingerprint -sha256` prints and the
/// one `aiohttp.Fingerprint` compares.
///
/// It parses from 64 hex digits, either plain (`"ab01…"`) or colon-separated
/// per byte (`"AB:01:…"`), in either case; surrounding whitespace and
/// OpenSSL's `sha256 Fingerprint=` prefix are ignored. It displays as
/// lowercase colon-separated hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Wraps a raw 32-byte digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Computes the fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Parses a fingerprint written in hex.
    ///
    /// # Errors
    ///
    /// Returns a [`FingerprintError`] naming the first problem found: a
    /// character that is not a hex digit or `:`, a colon-separated group that
    /// is not exactly two digits, or a length other than 32 bytes.
    pub fn from_hex(s: &str) -> Result<Self, FingerprintError> {
        parse(s)
    }

    /// The raw 32-byte digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Fingerprint {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Fingerprint {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a string is not a valid SHA-256 fingerprint.
///
/// Positions count characters from the start of the input, starting at 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// A character that is neither a hex digit nor `:`.
    #[error("invalid character {ch:?} at position {position}, expected a hex digit or ':'")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its position in the input.
        position: usize,
    },
    /// In colon-separated form, a group that is not exactly two hex digits.
    #[error("expected two hex digits before ':' at position {position}")]
    MalformedGroup {
        /// Where the malformed group starts in the input.
        position: usize,
    },
    /// The input does not hold exactly 64 hex digits (32 bytes).
    #[error("wrong length: {digits} hex digits, a sha-256 fingerprint has 64")]
    WrongLength {
        /// How many hex digits the input holds.
        digits: usize,
    },
}

/// The prefix `openssl x509 -fingerprint -sha256` prints before the digest.
const OPENSSL_PREFIX: &str = "sha256 fingerprint=";

fn parse(input: &str) -> Result<Fingerprint, FingerprintError> {
    // Work on (position, char) pairs so errors point into the original input.
    let mut chars: Vec<(usize, char)> = input.chars().enumerate().collect();
    while chars.last().is_some_and(|(_, c)| c.is_whitespace()) {
        chars.pop();
    }
    let leading = chars.iter().take_while(|(_, c)| c.is_whitespace()).count();
    let mut chars = &chars[leading..];
    let prefix_len = OPENSSL_PREFIX.chars().count();
    if chars.len() >= prefix_len
        && chars[..prefix_len].iter().map(|(_, c)| c.to_ascii_lowercase()).eq(OPENSSL_PREFIX.chars())
    {
        chars = &chars[prefix_len..];
    }

    let colons = chars.iter().any(|&(_, c)| c == ':');
    let mut nibbles = Vec::with_capacity(64);
    let mut group_start = chars.first().map_or(0, |&(p, _)| p);
    let mut group_len = 0;
    for &(position, ch) in chars {
        if ch == ':' {
            if group_len != 2 {
                return Err(FingerprintError::MalformedGroup { position: group_start });
            }
            group_len = 0;
            group_start = position + 1;
            continue;
        }
        let Some(v) = ch.to_digit(16) else {
            return Err(FingerprintError::InvalidChar { ch, position });
        };
        group_len += 1;
        if colons && group_len > 2 {
            return Err(FingerprintError::MalformedGroup { position: group_start });
        }
        nibbles.push(v as u8);
    }
    if colons && group_len != 2 {
        return Err(FingerprintError::MalformedGroup { position: group_start });
    }
    if nibbles.len() != 64 {
        return Err(FingerprintError::WrongLength { digits: nibbles.len() });
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        *byte = (pair[0] << 4) | pair[1];
    }
    Ok(Fingerprint(out))
}
