//! Checked settings, made from the raw [`crate::args`].
//!
//! Everything here is decided from the command line alone (no file or network access), and every
//! problem is a [`UsageError`]: the process exits with status 2.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tus_client::Fingerprint;
use tus_proto::http::{HeaderName, HeaderValue};
use tus_retry::{Checksum, ChecksumAlgorithm, Metadata, Url};

use crate::args::{Args, Command, ConnectionArgs, DeleteArgs, InfoArgs, OptionsArgs, UploadArgs};

/// Default `--retries` of `upload`.
const UPLOAD_RETRIES: u32 = 10;
/// Default `--retries` of `info`, `options` and `delete`: they should fail fast.
const QUERY_RETRIES: u32 = 2;
/// Default `--parallel` for several files.
const DEFAULT_PARALLEL_FILES: usize = 3;
/// The largest number of seconds accepted for a duration (about 31 years).
const MAX_SECS: f64 = 1e9;

/// A command line that parses but makes no sense; exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// What to do.
#[derive(Debug)]
pub(crate) enum Config {
    Upload(UploadConfig),
    Info(QueryConfig),
    Options(QueryConfig),
    Delete(QueryConfig),
}

/// Logging verbosity, from `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verbosity(pub(crate) u8);

/// One input of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub(crate) fn display(&self) -> String {
        match self {
            Self::Stdin => "stdin".to_owned(),
            Self::File(p) => p.display().to_string(),
        }
    }
}

/// How the inputs are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One input, one upload.
    Single,
    /// One file, split into this many (> 1) ranges joined by concatenation.
    Split(usize),
    /// Several files joined by concatenation, this many at once.
    Multiple(usize),
}

#[derive(Debug)]
pub(crate) struct UploadConfig {
    pub(crate) endpoint: Url,
    pub(crate) inputs: Vec<Input>,
    pub(crate) mode: Mode,
    pub(crate) chunk_size: u64,
    pub(crate) metadata: Metadata,
    pub(crate) checksum: Checksum,
    pub(crate) resume: bool,
    pub(crate) quiet: bool,
    pub(crate) connection: Connection,
}

/// `info`, `options`, `delete`: one URL.
#[derive(Debug)]
pub(crate) struct QueryConfig {
    pub(crate) url: Url,
    pub(crate) json: bool,
    pub(crate) connection: Connection,
}

#[derive(Debug, Clone)]
pub(crate) struct Connection {
    /// Checked `(name, value)` pairs.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) retries: u32,
    pub(crate) max_retry_delay: Duration,
    pub(crate) timeout: Duration,
    pub(crate) tls: Tls,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Tls {
    pub(crate) cacert: Option<PathBuf>,
    pub(crate) pins: Vec<Fingerprint>,
    /// Client certificate and key.
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
    pub(crate) insecure: bool,
}

impl Config {
    /// Checks the raw arguments.
    pub(crate) fn from_args(args: Args) -> Result<(Self, Verbosity), UsageError> {
        let verbosity = Verbosity(args.verbose);
        let config = match args.command {
            Command::Upload(a) => Self::Upload(upload(a)?),
            Command::Info(InfoArgs { url, json, connection }) => Self::Info(query(&url, json, connection)?),
            Command::Options(OptionsArgs { endpoint, json, connection }) => {
                Self::Options(query(&endpoint, json, connection)?)
            }
            Command::Delete(DeleteArgs { url, connection }) => Self::Delete(query(&url, false, connection)?),
        };
        Ok((config, verbosity))
    }
}

fn query(url: &str, json: bool, connection: ConnectionArgs) -> Result<QueryConfig, UsageError> {
    Ok(QueryConfig { url: parse_url(url)?, json, connection: parse_connection(connection, QUERY_RETRIES)? })
}

fn upload(a: UploadArgs) -> Result<UploadConfig, UsageError> {
    let endpoint = parse_url(&a.endpoint)?;
    let inputs: Vec<Input> =
        a.files.into_iter().map(|p| if p.as_os_str() == "-" { Input::Stdin } else { Input::File(p) }).collect();
    let stdin_count = inputs.iter().filter(|i| **i == Input::Stdin).count();
    if stdin_count > 0 && inputs.len() > 1 {
        return Err(usage("stdin (\"-\") can only be uploaded alone, not joined with other files"));
    }
    if a.parallel == Some(0) {
        return Err(usage("invalid --parallel 0: must be at least 1"));
    }
    let mode = match (inputs.as_slice(), a.parallel) {
        ([Input::Stdin], Some(n)) if n > 1 => {
            return Err(usage("--parallel cannot split stdin: its length is unknown and it cannot be re-read"));
        }
        ([_], Some(n)) if n > 1 => Mode::Split(n),
        ([_], _) => Mode::Single,
        (_, n) => Mode::Multiple(n.unwrap_or(DEFAULT_PARALLEL_FILES)),
    };
    let chunk_size =
        parse_size(&a.chunk_size).map_err(|e| usage(format!("invalid --chunk-size {:?}: {e}", a.chunk_size)))?;
    let mut metadata = parse_metadata(&a.metadata)?;
    if let ([Input::File(path)], false) = (inputs.as_slice(), metadata.contains_key("filename")) {
        if let Some(name) = file_name(path) {
            metadata.insert("filename", name);
        }
    }
    let checksum = match &a.checksum {
        None => Checksum::None,
        Some(alg) => parse_checksum(alg)?,
    };
    Ok(UploadConfig {
        endpoint,
        inputs,
        mode,
        chunk_size,
        metadata,
        checksum,
        resume: a.resume,
        quiet: a.quiet,
        connection: parse_connection(a.connection, UPLOAD_RETRIES)?,
    })
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).filter(|n| !n.is_empty())
}

fn parse_url(s: &str) -> Result<Url, UsageError> {
    let url = Url::parse(s).map_err(|e| usage(format!("invalid URL {s:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage(format!("invalid URL {s:?}: the scheme must be http or https")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(usage(format!("invalid URL {s:?}: no host")));
    }
    Ok(url)
}

fn parse_connection(a: ConnectionArgs, default_retries: u32) -> Result<Connection, UsageError> {
    let headers = a.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    let timeout = parse_secs(&a.timeout).map_err(|e| usage(format!("invalid --timeout {:?}: {e}", a.timeout)))?;
    if timeout.is_zero() {
        return Err(usage(format!("invalid --timeout {:?}: must be more than 0 seconds", a.timeout)));
    }
    let max_retry_delay = parse_secs(&a.max_retry_delay)
        .map_err(|e| usage(format!("invalid --max-retry-delay {:?}: {e}", a.max_retry_delay)))?;
    let pins = a
        .pins
        .iter()
        .map(|p| Fingerprint::from_hex(p).map_err(|e| usage(format!("invalid --pin-sha256 {p:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if a.insecure && !pins.is_empty() {
        return Err(usage("--insecure and --pin-sha256 contradict each other: a pin is a stricter check"));
    }
    let identity = match (a.cert, a.key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        // clap's `requires` makes these unreachable; keep the message anyway.
        _ => return Err(usage("--cert and --key go together")),
    };
    Ok(Connection {
        headers,
        retries: a.retries.unwrap_or(default_retries),
        max_retry_delay,
        timeout,
        tls: Tls { cacert: a.cacert, pins, identity, insecure: a.insecure },
    })
}

/// `NAME: VALUE` (curl's `-H`).
fn parse_header(s: &str) -> Result<(String, String), UsageError> {
    let bad = |why: &str| usage(format!("invalid --header {s:?}: {why}"));
    let Some((name, value)) = s.split_once(':') else {
        return Err(bad("expected NAME: VALUE"));
    };
    let name = name.trim();
    let value = value.trim();
    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid header name"))?;
    HeaderValue::from_str(value).map_err(|_| bad("the value holds characters a header cannot carry"))?;
    let lower = header_name.as_str();
    if lower.starts_with("upload-") || lower.starts_with("tus-") {
        return Err(bad("tus protocol headers are set by the client (use --metadata for Upload-Metadata)"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `KEY=VALUE` or `KEY`, in the order given; duplicates and bad keys are refused.
fn parse_metadata(pairs: &[String]) -> Result<Metadata, UsageError> {
    let mut md = Metadata::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((k, v)) => md.push(k, Some(v.as_bytes().to_vec())),
            None => md.push(pair.as_str(), None),
        };
    }
    md.validate().map_err(|e| usage(format!("invalid --metadata: {e}")))?;
    Ok(md)
}

fn parse_checksum(s: &str) -> Result<Checksum, UsageError> {
    let alg = s.trim().to_ascii_lowercase();
    if alg == "auto" {
        return Ok(Checksum::Auto);
    }
    match alg.parse::<ChecksumAlgorithm>() {
        Ok(
            a @ (ChecksumAlgorithm::Sha1
            | ChecksumAlgorithm::Sha256
            | ChecksumAlgorithm::Sha512
            | ChecksumAlgorithm::Md5),
        ) => Ok(Checksum::Algorithm(a)),
        _ => Err(usage(format!("invalid --checksum {s:?}: expected sha1, sha256, sha512, md5 or auto"))),
    }
}

/// A size in bytes: a plain number, or a number with a binary unit: `KiB`, `MiB`, `GiB`, `TiB` (also
/// `K`, `M`, `G`, `T`; case does not matter). Decimal units (`MB`) are refused as ambiguous; 0 is refused.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err("expected a number of bytes, optionally with a unit: 4MiB, 512KiB, 1GiB, 1048576".into());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        "kb" | "mb" | "gb" | "tb" => {
            return Err(format!("{unit:?} is ambiguous; use a binary unit (KiB, MiB, GiB) or a plain number of bytes"));
        }
        _ => return Err(format!("unknown unit {unit:?}; use KiB, MiB, GiB or a plain number of bytes")),
    };
    let n: u64 = digits.parse().map_err(|_| "the number is too large".to_owned())?;
    let bytes = n.checked_mul(1u64 << shift).ok_or_else(|| "the size is too large".to_owned())?;
    if bytes == 0 {
        return Err("must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// Seconds, possibly fractional (`0.5`), not negative.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| "expected a number of seconds".to_owned())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err("expected a number of seconds, not negative".into());
    }
    if secs > MAX_SECS {
        return Err("too large".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size(" 7 B "), Ok(7));
        for bad in ["0", "0MiB", "", "MiB", "abc", "1.5MiB", "-1", "4MB", "4 parsecs", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_size("4MB").unwrap_err().contains("ambiguous"));
        assert!(parse_size("16777216TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn metadata() {
        let md = parse_metadata(&["a=1".into(), "b".into(), "c=".into(), "d=x=y".into()]).unwrap();
        assert_eq!(md.encode().unwrap(), "a MQ==,b,c,d eD15");
        assert!(parse_metadata(&["a b=1".into()]).unwrap_err().0.contains("\"a b\""));
        assert!(parse_metadata(&["=1".into()]).is_err());
        assert!(parse_metadata(&["a=1".into(), "a=2".into()]).unwrap_err().0.contains("duplicate"));
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header("X-A: b c").unwrap(), ("X-A".into(), "b c".into()));
        assert_eq!(parse_header("X-Empty:").unwrap(), ("X-Empty".into(), String::new()));
        assert_eq!(parse_header("Authorization: Bearer a:b").unwrap().1, "Bearer a:b");
        assert!(parse_header("nocolon").is_err());
        assert!(parse_header("bad name: v").is_err());
        assert!(parse_header("Upload-Offset: 3").is_err());
        assert!(parse_header("X: a\u{1}b").is_err());
    }

    #[test]
    fn checksums() {
        assert_eq!(parse_checksum("auto").unwrap(), Checksum::Auto);
        assert_eq!(parse_checksum("SHA256").unwrap(), Checksum::Algorithm(ChecksumAlgorithm::Sha256));
        assert!(parse_checksum("crc32").is_err());
    }

    #[test]
    fn secs() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("60"), Ok(Duration::from_secs(60)));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("inf").is_err());
        assert!(parse_secs("x").is_err());
    }
}
