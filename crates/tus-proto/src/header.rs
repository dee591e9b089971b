//! Typed tus headers, each with `parse` and `encode`.
//!
//! Every header type implements [`TusHeader`]. Read one from a [`HeaderMap`] with [`get`] (absent is
//! `Ok(None)`, present but unreadable is an [`Error::InvalidHeader`]) and write one with [`TusHeader::encode`].
//!
//! ```
//! use tus_proto::header::{self, TusHeader, UploadOffset};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert(UploadOffset::NAME, UploadOffset(1024).encode());
//! assert_eq!(header::get::<UploadOffset>(&headers)?, Some(UploadOffset(1024)));
//!
//! headers.insert(UploadOffset::NAME, http::HeaderValue::from_static("-1"));
//! assert!(header::get::<UploadOffset>(&headers).is_err());
//! # Ok::<(), tus_proto::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::error::Error;
use crate::metadata::Metadata;

/// `Tus-Resumable`.
pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
/// `Tus-Version`.
pub const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
/// `Tus-Extension`.
pub const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
/// `Tus-Max-Size`.
pub const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
/// `Tus-Checksum-Algorithm`.
pub const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
/// `Upload-Offset`.
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// `Upload-Length`.
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
/// `Upload-Defer-Length`.
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
/// `Upload-Metadata`.
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
/// `Upload-Concat`.
pub const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
/// `Upload-Expires`.
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
/// `Upload-Checksum`.
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
/// `X-HTTP-Method-Override`.
pub const X_HTTP_METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// The only protocol version this crate speaks.
pub const TUS_VERSION_1_0_0: &str = "1.0.0";

/// The content type of every PATCH body (and of a creation-with-upload body), compared as a whole
/// string by tusd.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// A typed tus header.
pub trait TusHeader: Sized {
    /// The header's name.
    const NAME: HeaderName;

    /// Parses the header's value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHeader`], naming the header and the value.
    fn parse(value: &[u8]) -> Result<Self, Error>;

    /// Encodes the header's value.
    fn encode(&self) -> HeaderValue;
}

/// Reads a typed header from a map: `Ok(None)` when absent.
///
/// List headers (`Tus-Version`, `Tus-Extension`, `Tus-Checksum-Algorithm`) sent as several fields are
/// joined with commas, as HTTP allows. Any other header sent more than once with different values is
/// an error, since the client cannot know which one the server meant.
///
/// # Errors
///
/// [`Error::InvalidHeader`].
pub fn get<H: TusHeader>(headers: &HeaderMap) -> Result<Option<H>, Error> {
    let mut values = headers.get_all(H::NAME).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let rest: Vec<&HeaderValue> = values.collect();
    if rest.is_empty() {
        return H::parse(first.as_bytes()).map(Some);
    }
    if is_list_header(&H::NAME) {
        let mut joined = first.as_bytes().to_vec();
        for v in rest {
            joined.push(b',');
            joined.extend_from_slice(v.as_bytes());
        }
        return H::parse(&joined).map(Some);
    }
    if rest.iter().all(|v| *v == first) {
        return H::parse(first.as_bytes()).map(Some);
    }
    Err(Error::invalid_header(header_str(&H::NAME), first.as_bytes(), "sent more than once with different values"))
}

fn is_list_header(name: &HeaderName) -> bool {
    *name == TUS_VERSION || *name == TUS_EXTENSION || *name == TUS_CHECKSUM_ALGORITHM
}

/// A canonical, human-readable spelling of a tus header name for messages.
pub(crate) fn header_str(name: &HeaderName) -> &'static str {
    match name.as_str() {
        "tus-resumable" => "Tus-Resumable",
        "tus-version" => "Tus-Version",
        "tus-extension" => "Tus-Extension",
        "tus-max-size" => "Tus-Max-Size",
        "tus-checksum-algorithm" => "Tus-Checksum-Algorithm",
        "upload-offset" => "Upload-Offset",
        "upload-length" => "Upload-Length",
        "upload-defer-length" => "Upload-Defer-Length",
        "upload-metadata" => "Upload-Metadata",
        "upload-concat" => "Upload-Concat",
        "upload-expires" => "Upload-Expires",
        "upload-checksum" => "Upload-Checksum",
        "x-http-method-override" => "X-HTTP-Method-Override",
        _ => "unknown",
    }
}

fn text<H: TusHeader>(value: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| Error::invalid_header(header_str(&H::NAME), value, "not UTF-8"))
}

/// Parses a non-negative decimal integer as tus defines it: digits only, optional surrounding white space.
pub(crate) fn parse_u64(header: &'static str, value: &[u8]) -> Result<u64, Error> {
    let s = std::str::from_utf8(value).map_err(|_| Error::invalid_header(header, value, "not UTF-8"))?.trim();
    if s.is_empty() {
        return Err(Error::invalid_header(header, value, "empty"));
    }
    if s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_header(header, value, "negative"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_header(header, value, "not a non-negative decimal integer"));
    }
    s.parse::<u64>().map_err(|_| Error::invalid_header(header, value, "too large for 64 bits"))
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn header_value(s: &str) -> HeaderValue {
    // Every value this module encodes is built from validated ASCII; a failure is a bug in this module.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

macro_rules! u64_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub u64);

        impl TusHeader for $ty {
            const NAME: HeaderName = $name;

            fn parse(value: &[u8]) -> Result<Self, Error> {
                parse_u64(header_str(&Self::NAME), value).map(Self)
            }

            fn encode(&self) -> HeaderValue {
                HeaderValue::from(self.0)
            }
        }
    };
}

u64_header!(
    /// `Upload-Offset`: a byte offset within an upload.
    UploadOffset,
    UPLOAD_OFFSET
);
u64_header!(
    /// `Upload-Length`: the total size of an upload in bytes.
    UploadLength,
    UPLOAD_LENGTH
);
u64_header!(
    /// `Tus-Max-Size`: the largest upload the server accepts, in bytes.
    TusMaxSize,
    TUS_MAX_SIZE
);

/// `Tus-Resumable`: the protocol version of a request or response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TusResumable(pub String);

impl Default for TusResumable {
    fn default() -> Self {
        Self(TUS_VERSION_1_0_0.to_owned())
    }
}

impl TusHeader for TusResumable {
    const NAME: HeaderName = TUS_RESUMABLE;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        let s = text::<Self>(value)?;
        if s.is_empty() {
            return Err(Error::invalid_header("Tus-Resumable", value, "empty"));
        }
        Ok(Self(s.to_owned()))
    }

    fn encode(&self) -> HeaderValue {
        header_value(&self.0)
    }
}

/// `Tus-Version`: the protocol versions a server speaks, in its order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TusVersion(pub Vec<String>);

impl TusHeader for TusVersion {
    const NAME: HeaderName = TUS_VERSION;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        let versions: Vec<String> = list(text::<Self>(value)?).map(str::to_owned).collect();
        if versions.is_empty() {
            return Err(Error::invalid_header("Tus-Version", value, "lists no version"));
        }
        Ok(Self(versions))
    }

    fn encode(&self) -> HeaderValue {
        header_value(&self.0.join(","))
    }
}

/// A protocol extension named in `Tus-Extension`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Extension {
    /// `creation`: POST creates an upload.
    Creation,
    /// `creation-with-upload`: the creation POST may carry data.
    CreationWithUpload,
    /// `creation-defer-length`: an upload may be created before its length is known.
    CreationDeferLength,
    /// `termination`: DELETE removes an upload.
    Termination,
    /// `concatenation`: partial uploads can be joined into a final one.
    Concatenation,
    /// `concatenation-unfinished`: a final upload may be created before its parts are complete.
    ConcatenationUnfinished,
    /// `checksum`: PATCH may carry `Upload-Checksum`.
    Checksum,
    /// `checksum-trailer`: `Upload-Checksum` may be sent as a trailer.
    ChecksumTrailer,
    /// `expiration`: unfinished uploads expire (`Upload-Expires`).
    Expiration,
    /// An extension this crate does not know (rustus's `getting`, for example), kept as sent.
    Other(String),
}

impl Extension {
    /// The extension's name as it appears in `Tus-Extension`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Creation => "creation",
            Self::CreationWithUpload => "creation-with-upload",
            Self::CreationDeferLength => "creation-defer-length",
            Self::Termination => "termination",
            Self::Concatenation => "concatenation",
            Self::ConcatenationUnfinished => "concatenation-unfinished",
            Self::Checksum => "checksum",
            Self::ChecksumTrailer => "checksum-trailer",
            Self::Expiration => "expiration",
            Self::Other(s) => s,
        }
    }
}

impl FromStr for Extension {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "creation" => Self::Creation,
            "creation-with-upload" => Self::CreationWithUpload,
            "creation-defer-length" => Self::CreationDeferLength,
            "termination" => Self::Termination,
            "concatenation" => Self::Concatenation,
            "concatenation-unfinished" => Self::ConcatenationUnfinished,
            "checksum" => Self::Checksum,
            "checksum-trailer" => Self::ChecksumTrailer,
            "expiration" => Self::Expiration,
            _ => Self::Other(s.to_owned()),
        })
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Tus-Extension`: the extensions a server supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TusExtension(pub Vec<Extension>);

impl TusHeader for TusExtension {
    const NAME: HeaderName = TUS_EXTENSION;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        Ok(Self(list(text::<Self>(value)?).map(|s| s.parse().unwrap_or_else(|e| match e {})).collect()))
    }

    fn encode(&self) -> HeaderValue {
        header_value(&self.0.iter().map(Extension::as_str).collect::<Vec<_>>().join(","))
    }
}

/// A checksum algorithm for the `checksum` extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// MD5 (weak; offered by rustus).
    Md5,
    /// SHA-1, the one every checksum server must support.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
    /// An algorithm this crate does not know, kept as sent (lowercased).
    Other(String),
}

impl ChecksumAlgorithm {
    /// The algorithm's name as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Other(s) => s,
        }
    }

    /// How strong the algorithm is, for picking the best one both sides support; `None` for unknown ones.
    pub fn strength(&self) -> Option<u8> {
        match self {
            Self::Md5 => Some(1),
            Self::Sha1 => Some(2),
            Self::Sha256 => Some(3),
            Self::Sha512 => Some(4),
            Self::Other(_) => None,
        }
    }

    /// The strongest known algorithm in `offered`, if any.
    pub fn strongest<'a>(offered: impl IntoIterator<Item = &'a Self>) -> Option<Self> {
        offered.into_iter().filter(|a| a.strength().is_some()).max_by_key(|a| a.strength()).cloned()
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "md5" => Self::Md5,
            "sha1" | "sha-1" => Self::Sha1,
            "sha256" | "sha-256" => Self::Sha256,
            "sha512" | "sha-512" => Self::Sha512,
            _ => Self::Other(lower),
        })
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Tus-Checksum-Algorithm`: the checksum algorithms a server supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TusChecksumAlgorithm(pub Vec<ChecksumAlgorithm>);

impl TusHeader for TusChecksumAlgorithm {
    const NAME: HeaderName = TUS_CHECKSUM_ALGORITHM;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        Ok(Self(list(text::<Self>(value)?).map(|s| s.parse().unwrap_or_else(|e| match e {})).collect()))
    }

    fn encode(&self) -> HeaderValue {
        header_value(&self.0.iter().map(ChecksumAlgorithm::as_str).collect::<Vec<_>>().join(","))
    }
}

/// `Upload-Defer-Length: 1`: the upload's length is not known yet. The only valid value is `1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UploadDeferLength;

impl TusHeader for UploadDeferLength {
    const NAME: HeaderName = UPLOAD_DEFER_LENGTH;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        match text::<Self>(value)? {
            "1" => Ok(Self),
            _ => Err(Error::invalid_header("Upload-Defer-Length", value, "the only valid value is 1")),
        }
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_static("1")
    }
}

/// `Upload-Metadata`, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadMetadata(pub Metadata);

impl TusHeader for UploadMetadata {
    const NAME: HeaderName = UPLOAD_METADATA;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        Ok(Self(Metadata::decode_bytes(value)?))
    }

    /// Encodes the metadata. Keys that [`Metadata::encode`] refuses produce an empty value; callers that
    /// build requests go through [`Metadata::encode`] and see the error instead.
    fn encode(&self) -> HeaderValue {
        header_value(&self.0.encode().unwrap_or_default())
    }
}

/// `Upload-Concat`: a partial upload, or a final upload and the parts it joins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UploadConcat {
    /// `partial`: this upload is a part of a later final upload.
    Partial,
    /// `final;<url> <url> ...`: this upload joins the parts in order. URLs are kept as sent (absolute
    /// or absolute-path); resolve them with [`UploadConcat::resolve_parts`].
    Final(Vec<String>),
}

impl UploadConcat {
    /// The part URLs of a final upload, resolved against `base` (the URL the header came from).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHeader`] for a part that is not a URL reference.
    pub fn resolve_parts(&self, base: &url::Url) -> Result<Vec<url::Url>, Error> {
        match self {
            Self::Partial => Ok(Vec::new()),
            Self::Final(parts) => parts
                .iter()
                .map(|p| {
                    base.join(p)
                        .map_err(|_| Error::invalid_header("Upload-Concat", p.as_bytes(), "a part is not a URL"))
                })
                .collect(),
        }
    }
}

impl TusHeader for UploadConcat {
    const NAME: HeaderName = UPLOAD_CONCAT;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        let s = text::<Self>(value)?;
        if s.eq_ignore_ascii_case("partial") {
            return Ok(Self::Partial);
        }
        match s.split_once(';') {
            Some((kind, parts)) if kind.trim().eq_ignore_ascii_case("final") => {
                let parts: Vec<String> = parts.split_ascii_whitespace().map(str::to_owned).collect();
                if parts.is_empty() {
                    return Err(Error::invalid_header("Upload-Concat", value, "a final upload lists no parts"));
                }
                Ok(Self::Final(parts))
            }
            _ => Err(Error::invalid_header("Upload-Concat", value, "expected `partial` or `final;<url> <url>...`")),
        }
    }

    fn encode(&self) -> HeaderValue {
        match self {
            Self::Partial => HeaderValue::from_static("partial"),
            Self::Final(parts) => header_value(&format!("final;{}", parts.join(" "))),
        }
    }
}

/// `Upload-Expires`: when an unfinished upload will be removed.
///
/// A value that cannot be read (servers have sent Unix timestamps) means "unknown", not an error:
/// parsing never fails and gives `UploadExpires(None)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadExpires(pub Option<SystemTime>);

impl TusHeader for UploadExpires {
    const NAME: HeaderName = UPLOAD_EXPIRES;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        let time = std::str::from_utf8(value).ok().and_then(|s| httpdate::parse_http_date(s.trim()).ok());
        Ok(Self(time))
    }

    fn encode(&self) -> HeaderValue {
        self.0.map_or_else(|| HeaderValue::from_static(""), |t| header_value(&httpdate::fmt_http_date(t)))
    }
}

/// `Upload-Checksum: <algorithm> <base64 digest>`: the digest of one request's body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The raw digest bytes.
    pub digest: Vec<u8>,
}

impl TusHeader for UploadChecksum {
    const NAME: HeaderName = UPLOAD_CHECKSUM;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        let s = text::<Self>(value)?;
        let mut parts = s.split_ascii_whitespace();
        let (Some(alg), Some(digest), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::invalid_header("Upload-Checksum", value, "expected `<algorithm> <base64 digest>`"));
        };
        let digest = STANDARD
            .decode(digest)
            .map_err(|_| Error::invalid_header("Upload-Checksum", value, "digest is not valid base64"))?;
        Ok(Self { algorithm: alg.parse().unwrap_or_else(|e| match e {}), digest })
    }

    fn encode(&self) -> HeaderValue {
        header_value(&format!("{} {}", self.algorithm.as_str(), STANDARD.encode(&self.digest)))
    }
}

/// `X-HTTP-Method-Override`: the method a server should act on when the request had to be sent as POST.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XHttpMethodOverride(pub Method);

impl TusHeader for XHttpMethodOverride {
    const NAME: HeaderName = X_HTTP_METHOD_OVERRIDE;

    fn parse(value: &[u8]) -> Result<Self, Error> {
        Method::from_bytes(text::<Self>(value)?.as_bytes())
            .map(Self)
            .map_err(|_| Error::invalid_header("X-HTTP-Method-Override", value, "not an HTTP method"))
    }

    fn encode(&self) -> HeaderValue {
        header_value(self.0.as_str())
    }
}
