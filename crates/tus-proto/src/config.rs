use crate::header::{ChecksumAlgorithm, Extension, TUS_VERSION_1_0_0};

/// What a server said about itself in its OPTIONS response (aiotus's `ServerConfiguration`, plus the
/// checksum algorithms). Build one with [`ServerConfiguration::from_response`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerConfiguration {
    /// The protocol versions the server speaks, in its order of preference (`Tus-Version`).
    pub versions: Vec<String>,
    /// The largest upload the server accepts, in bytes (`Tus-Max-Size`).
    pub max_size: Option<u64>,
    /// The extensions the server supports (`Tus-Extension`), in its order.
    pub extensions: Vec<Extension>,
    /// The checksum algorithms the server supports (`Tus-Checksum-Algorithm`).
    pub checksum_algorithms: Vec<ChecksumAlgorithm>,
}

impl ServerConfiguration {
    /// Whether the server advertises `extension`.
    pub fn supports(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }

    /// Whether the server speaks tus 1.0.0, the version this crate implements.
    pub fn speaks_1_0_0(&self) -> bool {
        self.versions.iter().any(|v| v == TUS_VERSION_1_0_0)
    }

    /// The strongest checksum algorithm the server supports, among those this crate knows, if it
    /// advertises the `checksum` extension.
    pub fn strongest_checksum(&self) -> Option<ChecksumAlgorithm> {
        if !self.supports(&Extension::Checksum) {
            return None;
        }
        ChecksumAlgorithm::strongest(&self.checksum_algorithms)
    }
}
