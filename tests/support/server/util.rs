//! Small pure helpers of the test server: HTTP dates, `Upload-Metadata` validation, checksums.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::Digest as _;

/// Formats `t` as an RFC 9110 IMF-fixdate, e.g. `Wed, 25 Jun 2014 16:00:00 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let weekday = DAYS[(days % 7) as usize]; // 1970-01-01 was a Thursday
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Validates an `Upload-Metadata` value as strictly as @tus/server: comma-separated `key base64`
/// pairs (or a bare `key`, or `key ` with an empty value), keys non-empty and unique, no space after a
/// comma, values standard Base64 with canonical padding.
pub(crate) fn validate_metadata(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("empty Upload-Metadata".into());
    }
    let mut keys = HashSet::new();
    for pair in raw.split(',') {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, Some(v)),
            None => (pair, None),
        };
        if key.is_empty() {
            return Err(format!("empty metadata key in {pair:?}"));
        }
        if let Some(v) = value {
            if v.contains(' ') {
                return Err(format!("more than one space in metadata pair {pair:?}"));
            }
            if !v.is_empty() && STANDARD.decode(v).is_err() {
                return Err(format!("metadata value of {key:?} is not standard Base64"));
            }
        }
        if !keys.insert(key) {
            return Err(format!("duplicate metadata key {key:?}"));
        }
    }
    Ok(())
}

/// Digest of `data` with a tus checksum algorithm name; `None` if the algorithm is not implemented.
pub(crate) fn digest(alg: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        "md5" => md5::Md5::digest(data).to_vec(),
        _ => return None,
    })
}

/// A parsed `Upload-Checksum` value.
#[derive(Debug, Clone)]
pub(crate) struct Checksum {
    pub(crate) alg: String,
    pub(crate) expected: Vec<u8>,
}

/// Parses `Upload-Checksum: <alg> <base64>` against the enabled algorithms. `Err` means 400.
pub(crate) fn parse_checksum(value: &str, enabled: &[String]) -> Result<Checksum, String> {
    let (alg, b64) = value.trim().split_once(' ').ok_or_else(|| format!("malformed Upload-Checksum {value:?}"))?;
    if !enabled.iter().any(|a| a == alg) || digest(alg, b"").is_none() {
        return Err(format!("unsupported checksum algorithm {alg:?}"));
    }
    let expected = STANDARD.decode(b64.trim()).map_err(|_| format!("Upload-Checksum digest is not Base64: {b64:?}"))?;
    Ok(Checksum { alg: alg.to_owned(), expected })
}

impl Checksum {
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        digest(&self.alg, data).is_some_and(|d| d == self.expected)
    }
}

/// The upload id in a URL or id string: the last non-empty path segment, query/fragment removed.
pub(crate) fn id_of(url_or_id: &str) -> &str {
    let s = url_or_id.split(['?', '#']).next().unwrap_or("");
    s.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The upload id addressed by a request path `/files/<id>`, if it is one.
pub(crate) fn id_in_path(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/files/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Resolves one URL of an `Upload-Concat: final;...` list to an upload id. Accepts absolute URLs
/// (`http(s)://host/files/id`), scheme-relative (`//host/files/id`), absolute paths (`/files/id`) and
/// bare ids (relative to `/files/`).
pub(crate) fn concat_part_id(part: &str) -> Option<&str> {
    let path = if let Some(rest) =
        part.strip_prefix("http://").or_else(|| part.strip_prefix("https://")).or_else(|| part.strip_prefix("//"))
    {
        &rest[rest.find('/')?..]
    } else if part.starts_with('/') {
        part
    } else {
        return (!part.is_empty() && !part.contains('/')).then_some(part);
    };
    id_in_path(path.split(['?', '#']).next()?)
}
