//! Digests for the `checksum` extension, computed while the body streams.

use std::ops::Range;

use sha1::Digest as _;
use tus_proto::ChecksumAlgorithm;

use crate::source::Source;

/// A running digest of one request body.
#[derive(Clone)]
pub(crate) enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for `algorithm`, or `None` for one this crate cannot compute.
    pub(crate) fn new(algorithm: &ChecksumAlgorithm) -> Option<Self> {
        Some(match algorithm {
            ChecksumAlgorithm::Md5 => Self::Md5(md5::Md5::new()),
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            ChecksumAlgorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
            _ => return None,
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Md5(h) => h.finalize().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Whether this crate can compute `algorithm`.
pub fn is_supported(algorithm: &ChecksumAlgorithm) -> bool {
    Hasher::new(algorithm).is_some()
}

/// The digest of `range` of `source`, read piece by piece (never whole).
pub(crate) async fn digest_range(
    source: &Source,
    range: Range<u64>,
    mut hasher: Hasher,
) -> Result<Vec<u8>, std::io::Error> {
    let mut pos = range.start;
    while pos < range.end {
        let piece = source.read_at(pos, usize::try_from(range.end - pos).unwrap_or(usize::MAX)).await?;
        if piece.is_empty() {
            return Err(std::io::Error::other(crate::source::SourceError::TooShort { ended: pos, needed: range.end }));
        }
        hasher.update(&piece);
        pos += piece.len() as u64;
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let cases = [
            (ChecksumAlgorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (ChecksumAlgorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (ChecksumAlgorithm::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ];
        for (alg, hex) in cases {
            let mut h = Hasher::new(&alg).unwrap();
            h.update(b"ab");
            h.update(b"c");
            let got: String = h.finish().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "{alg}");
        }
        assert!(Hasher::new(&ChecksumAlgorithm::Other("crc32".into())).is_none());
    }
}
