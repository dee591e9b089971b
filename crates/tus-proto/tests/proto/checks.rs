//! Checks shared by the property tests and the fuzz targets (which include this file by path): they use
//! nothing but `tus_proto` and the `http` and `url` it re-exports, and panic on a violation.

use tus_proto::header::{
    TusChecksumAlgorithm, TusExtension, TusHeader, TusMaxSize, TusResumable, TusVersion, UploadChecksum,
    UploadDeferLength, UploadExpires, UploadLength, UploadMetadata, UploadOffset, XHttpMethodOverride,
};
use tus_proto::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tus_proto::url::Url;
use tus_proto::{
    Create, Created, Length, Metadata, Patch, Patched, ResponseHead, ServerConfiguration, UploadConcat, UploadInfo,
    check_delete, concatenate, resolve_location,
};

/// The header names interpreters look at, for building responses from arbitrary input.
pub(crate) const HEADER_NAMES: &[&str] = &[
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-concat",
    "upload-expires",
    "location",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "content-length",
];

/// A response head with `status` and the headers `(index into HEADER_NAMES, value)`; values a header map
/// cannot hold are skipped.
pub(crate) fn response_head(status: u16, headers: &[(usize, Vec<u8>)]) -> ResponseHead {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(HeaderName::from_static(HEADER_NAMES[*name % HEADER_NAMES.len()]), value);
        }
    }
    let status = StatusCode::from_u16(status.clamp(100, 999)).expect("a status in 100..=999");
    ResponseHead::new(status, map)
}

/// A response head read from arbitrary bytes: two bytes of status, then `name-index value` lines.
pub(crate) fn response_from_bytes(data: &[u8]) -> ResponseHead {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (100 + u16::from_le_bytes([*a, *b]) % 900, rest),
        _ => (200, data),
    };
    let headers: Vec<(usize, Vec<u8>)> = rest
        .split(|b| *b == b'\n')
        .filter_map(|line| line.split_first().map(|(name, value)| (usize::from(*name), value.to_vec())))
        .collect();
    response_head(status, &headers)
}

/// Runs every interpreter over `response` and checks what they accept.
pub(crate) fn interpret_all(response: &ResponseHead) {
    let endpoint = Url::parse("https://tus.example/files/").unwrap();
    let upload = Url::parse("https://tus.example/files/abc").unwrap();
    let plans = [
        Create::new(Length::Known(100)).plan(&endpoint).unwrap(),
        Create::new(Length::Known(100)).with_upload(0..40).plan(&endpoint).unwrap(),
        concatenate(&endpoint, std::slice::from_ref(&upload), &Metadata::new()).unwrap(),
    ];
    for plan in &plans {
        if let Ok(created) = Created::from_response(plan, response) {
            assert!(response.status.is_success());
            assert!(created.offset <= plan.body.len());
            assert!(matches!(created.url.scheme(), "http" | "https"));
            assert!(created.url.host_str().is_some_and(|h| !h.is_empty()));
        }
    }
    let patch = Patch::new(10, 20).plan(&upload);
    if let Ok(patched) = Patched::from_response(&patch, response) {
        assert!(response.status.is_success());
        assert!((10..=30).contains(&patched.offset));
    }
    if let Ok(info) = UploadInfo::from_response(response) {
        assert!(response.status.is_success());
        assert!(info.length.is_none_or(|l| info.offset <= l));
        assert!(!(info.deferred && info.length.is_some()));
        assert_eq!(info.is_complete(), info.length == Some(info.offset));
    }
    if let Ok(config) = ServerConfiguration::from_response(response) {
        assert!(response.status.is_success());
        assert!(!config.versions.is_empty());
        if let Some(best) = config.strongest_checksum() {
            assert!(config.checksum_algorithms.contains(&best));
        }
    }
    assert_eq!(check_delete(response).is_ok(), response.status.is_success());
    if let Some(location) = response.headers.get("location") {
        if let Ok(u) = resolve_location(&endpoint, location.as_bytes()) {
            assert!(matches!(u.scheme(), "http" | "https"));
        }
    }
}

/// Parses `b` with every typed header; whatever parses from a valid header value must encode to a value
/// that parses the same.
pub(crate) fn all_headers(b: &[u8]) {
    fn round_trip<H: TusHeader + PartialEq + std::fmt::Debug>(b: &[u8]) {
        if let Ok(v) = H::parse(b) {
            let again = H::parse(v.encode().as_bytes());
            assert_eq!(again.as_ref().ok(), Some(&v), "{:?} -> {v:?} -> {again:?}", String::from_utf8_lossy(b));
        }
    }
    let _ = UploadMetadata::parse(b);
    assert!(UploadExpires::parse(b).is_ok(), "Upload-Expires never fails");
    if HeaderValue::from_bytes(b).is_err() {
        // Not something a header map can hold: only check that nothing panics.
        let _ = (UploadOffset::parse(b), UploadLength::parse(b), TusMaxSize::parse(b), TusResumable::parse(b));
        let _ = (TusVersion::parse(b), TusExtension::parse(b), TusChecksumAlgorithm::parse(b));
        let _ = (UploadDeferLength::parse(b), UploadConcat::parse(b), UploadChecksum::parse(b));
        let _ = XHttpMethodOverride::parse(b);
        return;
    }
    round_trip::<UploadOffset>(b);
    round_trip::<UploadLength>(b);
    round_trip::<TusMaxSize>(b);
    round_trip::<TusResumable>(b);
    round_trip::<TusVersion>(b);
    round_trip::<TusExtension>(b);
    round_trip::<TusChecksumAlgorithm>(b);
    round_trip::<UploadDeferLength>(b);
    round_trip::<UploadConcat>(b);
    round_trip::<UploadChecksum>(b);
    round_trip::<XHttpMethodOverride>(b);
    round_trip::<UploadExpires>(b);
    // The same bytes as two fields of one header: joined for lists, compared for singletons.
    let mut map = HeaderMap::new();
    let value = HeaderValue::from_bytes(b).unwrap();
    map.append("tus-extension", value.clone());
    map.append("tus-extension", value.clone());
    map.append("upload-offset", value.clone());
    map.append("upload-offset", value);
    let single = TusExtension::parse(b).map(|e| e.0);
    let doubled = tus_proto::header::get::<TusExtension>(&map).map(|e| e.map(|e| e.0));
    if let (Ok(single), Ok(Some(doubled))) = (single, doubled) {
        assert_eq!(doubled, [single.clone(), single].concat());
    }
    assert_eq!(
        tus_proto::header::get::<UploadOffset>(&map).ok().flatten(),
        UploadOffset::parse(b).ok(),
        "the same value twice reads as once"
    );
}

/// Decodes `b` as `Upload-Metadata`; what decodes with keys the encoder accepts must survive a round trip.
pub(crate) fn metadata(b: &[u8]) {
    let Ok(md) = Metadata::decode_bytes(b) else {
        return;
    };
    assert_eq!(Metadata::decode(std::str::from_utf8(b).unwrap()).as_ref(), Ok(&md));
    for (key, _) in md.iter() {
        assert!(!key.is_empty() && !key.contains(',') && !key.chars().any(|c| c.is_ascii_whitespace()));
    }
    if let Ok(encoded) = md.encode() {
        assert!(HeaderValue::from_str(&encoded).is_ok());
        let again = Metadata::decode(&encoded).unwrap();
        let normalised: Vec<(&str, Option<&[u8]>)> = md.iter().map(|(k, v)| (k, v.filter(|v| !v.is_empty()))).collect();
        assert_eq!(again.iter().collect::<Vec<_>>(), normalised);
    }
}
