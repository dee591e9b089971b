//! Table-driven parse and encode cases for every typed header.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method};
use tus_proto::header::{
    self, TusChecksumAlgorithm, TusExtension, TusHeader, TusMaxSize, TusResumable, TusVersion, UploadChecksum,
    UploadDeferLength, UploadExpires, UploadLength, UploadMetadata, UploadOffset, XHttpMethodOverride,
};
use tus_proto::{ChecksumAlgorithm, Error, Extension, Metadata, MetadataError, UploadConcat};

/// The reason of an `InvalidHeader` error, checking that it names `header`.
#[track_caller]
fn reason<T: std::fmt::Debug>(result: Result<T, Error>, header: &str) -> &'static str {
    match result {
        Err(Error::InvalidHeader { header: h, reason, .. }) => {
            assert_eq!(h, header);
            reason
        }
        other => panic!("expected an InvalidHeader error for {header}, got {other:?}"),
    }
}

fn map(name: &'static str, values: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append(name, HeaderValue::from_bytes(v).unwrap());
    }
    headers
}

// ---------------------------------------------------------------------------------------------------
// Numbers: Upload-Offset, Upload-Length, Tus-Max-Size.

const NUMBERS: &[(&[u8], Result<u64, &str>)] = &[
    (b"0", Ok(0)),
    (b"1", Ok(1)),
    (b"00012", Ok(12)),
    (b" 7 ", Ok(7)),
    (b"\t7\t", Ok(7)),
    (b"1024", Ok(1024)),
    (b"18446744073709551615", Ok(u64::MAX)),
    (b"018446744073709551615", Ok(u64::MAX)),
    (b"18446744073709551616", Err("too large for 64 bits")),
    (b"99999999999999999999999", Err("too large for 64 bits")),
    (b"-1", Err("negative")),
    (b"-0", Err("negative")),
    (b" -12 ", Err("negative")),
    (b"+1", Err("not a non-negative decimal integer")),
    (b"--1", Err("not a non-negative decimal integer")),
    (b"-", Err("not a non-negative decimal integer")),
    (b"1.5", Err("not a non-negative decimal integer")),
    (b"1e3", Err("not a non-negative decimal integer")),
    (b"0x10", Err("not a non-negative decimal integer")),
    (b"1 2", Err("not a non-negative decimal integer")),
    (b"1,2", Err("not a non-negative decimal integer")),
    (b"abc", Err("not a non-negative decimal integer")),
    (b"12abc", Err("not a non-negative decimal integer")),
    (b"", Err("empty")),
    (b"   ", Err("empty")),
    (b"\xff1", Err("not UTF-8")),
    (b"1\x80", Err("not UTF-8")),
    ("\u{0661}".as_bytes(), Err("not a non-negative decimal integer")),
];

#[test]
fn numbers_parse() {
    for (input, expected) in NUMBERS {
        let shown = String::from_utf8_lossy(input);
        match expected {
            Ok(n) => {
                assert_eq!(UploadOffset::parse(input).unwrap(), UploadOffset(*n), "Upload-Offset {shown:?}");
                assert_eq!(UploadLength::parse(input).unwrap(), UploadLength(*n), "Upload-Length {shown:?}");
                assert_eq!(TusMaxSize::parse(input).unwrap(), TusMaxSize(*n), "Tus-Max-Size {shown:?}");
            }
            Err(why) => {
                assert_eq!(reason(UploadOffset::parse(input), "Upload-Offset"), *why, "Upload-Offset {shown:?}");
                assert_eq!(reason(UploadLength::parse(input), "Upload-Length"), *why, "Upload-Length {shown:?}");
                assert_eq!(reason(TusMaxSize::parse(input), "Tus-Max-Size"), *why, "Tus-Max-Size {shown:?}");
            }
        }
    }
}

#[test]
fn number_errors_keep_the_value_as_sent() {
    let err = UploadOffset::parse(b"\xff12").unwrap_err();
    assert_eq!(
        err,
        Error::InvalidHeader { header: "Upload-Offset", value: "\u{fffd}12".to_owned(), reason: "not UTF-8" }
    );
    assert_eq!(err.to_string(), "invalid Upload-Offset header \"\u{fffd}12\": not UTF-8");
    assert!(err.is_protocol_violation());
}

#[test]
fn numbers_encode() {
    for n in [0, 1, 12, 1024, u64::MAX] {
        let encoded = UploadOffset(n).encode();
        assert_eq!(encoded, n.to_string().as_str());
        assert_eq!(UploadOffset::parse(encoded.as_bytes()).unwrap(), UploadOffset(n));
        assert_eq!(UploadLength(n).encode(), n.to_string().as_str());
        assert_eq!(TusMaxSize(n).encode(), n.to_string().as_str());
    }
    assert_eq!(UploadOffset::NAME, "upload-offset");
    assert_eq!(UploadLength::NAME, "upload-length");
    assert_eq!(TusMaxSize::NAME, "tus-max-size");
}

// ---------------------------------------------------------------------------------------------------
// header::get and duplicate fields.

#[test]
fn get_absent_is_none() {
    assert_eq!(header::get::<UploadOffset>(&HeaderMap::new()).unwrap(), None);
    assert_eq!(header::get::<TusExtension>(&HeaderMap::new()).unwrap(), None);
    assert_eq!(header::get::<UploadExpires>(&HeaderMap::new()).unwrap(), None);
}

#[test]
fn get_is_case_insensitive_on_names() {
    let mut headers = HeaderMap::new();
    headers.insert(http::HeaderName::from_bytes(b"Upload-Offset").unwrap(), HeaderValue::from_static("5"));
    assert_eq!(header::get::<UploadOffset>(&headers).unwrap(), Some(UploadOffset(5)));
}

#[test]
fn duplicate_singleton_fields() {
    // The same value twice is harmless.
    assert_eq!(header::get::<UploadOffset>(&map("upload-offset", &[b"5", b"5"])).unwrap(), Some(UploadOffset(5)));
    // Different values: the client cannot know which one the server meant.
    for (name, values) in [
        ("upload-offset", &[&b"5"[..], b"6"][..]),
        ("upload-length", &[b"5", b"05"]),
        ("upload-metadata", &[b"a", b"b"]),
        ("upload-concat", &[b"partial", b"final;a"]),
        ("tus-max-size", &[b"1", b"2", b"1"]),
        ("upload-defer-length", &[b"1", b"0"]),
    ] {
        let headers = map(name, values);
        let err = match name {
            "upload-offset" => header::get::<UploadOffset>(&headers).map(|_| ()),
            "upload-length" => header::get::<UploadLength>(&headers).map(|_| ()),
            "upload-metadata" => header::get::<UploadMetadata>(&headers).map(|_| ()),
            "upload-concat" => header::get::<UploadConcat>(&headers).map(|_| ()),
            "tus-max-size" => header::get::<TusMaxSize>(&headers).map(|_| ()),
            _ => header::get::<UploadDeferLength>(&headers).map(|_| ()),
        };
        match err {
            Err(Error::InvalidHeader { reason, value, .. }) => {
                assert_eq!(reason, "sent more than once with different values", "{name}");
                assert_eq!(value.as_bytes(), values[0], "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // A bad value repeated is still bad.
    assert_eq!(
        reason(header::get::<UploadOffset>(&map("upload-offset", &[b"x", b"x"])), "Upload-Offset"),
        "not a non-negative decimal integer"
    );
}

#[test]
fn duplicate_list_fields_are_joined() {
    let headers = map("tus-version", &[b"1.0.0", b"0.2.2, 0.2.1"]);
    assert_eq!(header::get::<TusVersion>(&headers).unwrap().unwrap().0, ["1.0.0", "0.2.2", "0.2.1"]);
    let headers = map("tus-extension", &[b"creation", b"termination,expiration"]);
    assert_eq!(
        header::get::<TusExtension>(&headers).unwrap().unwrap().0,
        [Extension::Creation, Extension::Termination, Extension::Expiration]
    );
    let headers = map("tus-checksum-algorithm", &[b"sha1", b"md5"]);
    assert_eq!(
        header::get::<TusChecksumAlgorithm>(&headers).unwrap().unwrap().0,
        [ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Md5]
    );
    // Empty fields among them are skipped.
    let headers = map("tus-version", &[b"", b"1.0.0"]);
    assert_eq!(header::get::<TusVersion>(&headers).unwrap().unwrap().0, ["1.0.0"]);
}

// ---------------------------------------------------------------------------------------------------
// Tus-Resumable, Tus-Version.

#[test]
fn tus_resumable() {
    assert_eq!(TusResumable::default().0, "1.0.0");
    assert_eq!(TusResumable::default().encode(), "1.0.0");
    assert_eq!(TusResumable::parse(b"1.0.0").unwrap().0, "1.0.0");
    assert_eq!(TusResumable::parse(b" 1.0.0 ").unwrap().0, "1.0.0");
    assert_eq!(TusResumable::parse(b"0.2.2").unwrap().0, "0.2.2");
    assert_eq!(reason(TusResumable::parse(b""), "Tus-Resumable"), "empty");
    assert_eq!(reason(TusResumable::parse(b"  "), "Tus-Resumable"), "empty");
    assert_eq!(reason(TusResumable::parse(b"\xfe"), "Tus-Resumable"), "not UTF-8");
}

#[test]
fn tus_version() {
    type Case<'a> = (&'a [u8], Result<&'a [&'a str], &'a str>);
    let cases: &[Case<'_>] = &[
        (b"1.0.0", Ok(&["1.0.0"])),
        (b"1.0.0,0.2.2,0.2.1", Ok(&["1.0.0", "0.2.2", "0.2.1"])),
        (b" 1.0.0 , 0.9.9 ", Ok(&["1.0.0", "0.9.9"])),
        (b"1.0.0,,0.2.2,", Ok(&["1.0.0", "0.2.2"])),
        (b"", Err("lists no version")),
        (b" , ,", Err("lists no version")),
        (b"\xff", Err("not UTF-8")),
    ];
    for (input, expected) in cases {
        match expected {
            Ok(list) => assert_eq!(TusVersion::parse(input).unwrap().0, *list),
            Err(why) => assert_eq!(reason(TusVersion::parse(input), "Tus-Version"), *why),
        }
    }
    let v = TusVersion(vec!["1.0.0".into(), "0.2.2".into()]);
    assert_eq!(v.encode(), "1.0.0,0.2.2");
    assert_eq!(TusVersion::parse(v.encode().as_bytes()).unwrap(), v);
}

// ---------------------------------------------------------------------------------------------------
// Tus-Extension.

#[test]
fn tus_extension_known_unknown_and_case() {
    let all = b"creation,creation-with-upload,creation-defer-length,termination,concatenation,\
concatenation-unfinished,checksum,checksum-trailer,expiration";
    assert_eq!(
        TusExtension::parse(all).unwrap().0,
        [
            Extension::Creation,
            Extension::CreationWithUpload,
            Extension::CreationDeferLength,
            Extension::Termination,
            Extension::Concatenation,
            Extension::ConcatenationUnfinished,
            Extension::Checksum,
            Extension::ChecksumTrailer,
            Extension::Expiration,
        ]
    );
    // rustus's default list: the non-standard `getting` is kept.
    let rustus = TusExtension::parse(
        b"getting,creation,termination,creation-with-upload,creation-defer-length,concatenation,checksum",
    )
    .unwrap();
    assert_eq!(rustus.0[0], Extension::Other("getting".into()));
    assert_eq!(rustus.0.len(), 7);
    // Known names match case-insensitively; unknown ones keep their case.
    assert_eq!(
        TusExtension::parse(b"Creation, TERMINATION ,X-Custom").unwrap().0,
        [Extension::Creation, Extension::Termination, Extension::Other("X-Custom".into())]
    );
    assert_eq!(TusExtension::parse(b"").unwrap().0, []);
    assert_eq!(TusExtension::parse(b" , ").unwrap().0, []);
    assert_eq!(reason(TusExtension::parse(b"creation,\xff"), "Tus-Extension"), "not UTF-8");
}

#[test]
fn tus_extension_encode_and_display() {
    let list = TusExtension(vec![Extension::Creation, Extension::Other("getting".into()), Extension::Checksum]);
    assert_eq!(list.encode(), "creation,getting,checksum");
    assert_eq!(TusExtension::parse(list.encode().as_bytes()).unwrap(), list);
    assert_eq!(Extension::CreationDeferLength.to_string(), "creation-defer-length");
    assert_eq!(Extension::Other("Up".into()).as_str(), "Up");
    assert_eq!("expiration".parse::<Extension>().unwrap(), Extension::Expiration);
    assert_eq!("Checksum-Trailer".parse::<Extension>().unwrap(), Extension::ChecksumTrailer);
}

// ---------------------------------------------------------------------------------------------------
// Tus-Checksum-Algorithm.

#[test]
fn tus_checksum_algorithm() {
    assert_eq!(
        TusChecksumAlgorithm::parse(b"md5,sha1,sha256,sha512").unwrap().0,
        [ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha512]
    );
    assert_eq!(
        TusChecksumAlgorithm::parse(b"SHA1, sha-256 ,SHA-512,crc32,CRC32C").unwrap().0,
        [
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Sha512,
            ChecksumAlgorithm::Other("crc32".into()),
            ChecksumAlgorithm::Other("crc32c".into()),
        ]
    );
    assert_eq!(TusChecksumAlgorithm::parse(b"").unwrap().0, []);
    assert_eq!(reason(TusChecksumAlgorithm::parse(b"\xc3"), "Tus-Checksum-Algorithm"), "not UTF-8");
    let list = TusChecksumAlgorithm(vec![ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Other("crc32".into())]);
    assert_eq!(list.encode(), "sha1,crc32");
    assert_eq!(TusChecksumAlgorithm::parse(list.encode().as_bytes()).unwrap(), list);
}

#[test]
fn checksum_algorithm_strength() {
    use ChecksumAlgorithm::*;
    let other = || Other("crc32".to_owned());
    assert!(Md5.strength() < Sha1.strength());
    assert!(Sha1.strength() < Sha256.strength());
    assert!(Sha256.strength() < Sha512.strength());
    assert_eq!(other().strength(), None);
    let cases: Vec<(Vec<ChecksumAlgorithm>, Option<ChecksumAlgorithm>)> = vec![
        (vec![], None),
        (vec![other()], None),
        (vec![Md5], Some(Md5)),
        (vec![Md5, Sha1], Some(Sha1)),
        (vec![Sha512, Md5, other()], Some(Sha512)),
        (vec![other(), Sha256, Sha1], Some(Sha256)),
    ];
    for (offered, expected) in cases {
        assert_eq!(ChecksumAlgorithm::strongest(&offered), expected, "{offered:?}");
    }
    assert_eq!(Sha256.to_string(), "sha256");
    assert_eq!("SHA-1".parse::<ChecksumAlgorithm>().unwrap(), Sha1);
}

// ---------------------------------------------------------------------------------------------------
// Upload-Defer-Length.

#[test]
fn upload_defer_length() {
    assert_eq!(UploadDeferLength::parse(b"1").unwrap(), UploadDeferLength);
    assert_eq!(UploadDeferLength::parse(b" 1 ").unwrap(), UploadDeferLength);
    for bad in [&b"0"[..], b"true", b"", b"01", b"2", b"yes", b"1,1", b"\xff"] {
        assert!(
            matches!(UploadDeferLength::parse(bad), Err(Error::InvalidHeader { header: "Upload-Defer-Length", .. })),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(UploadDeferLength.encode(), "1");
}

// ---------------------------------------------------------------------------------------------------
// Upload-Metadata as a header.

#[test]
fn upload_metadata_header() {
    let parsed = UploadMetadata::parse(b"filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential").unwrap();
    assert_eq!(parsed.0.get("filename"), Some(&b"world_domination_plan.pdf"[..]));
    assert_eq!(parsed.0.entry("is_confidential"), Some(None));
    assert_eq!(UploadMetadata::parse(b"\xff").unwrap_err(), Error::Metadata(MetadataError::NotUtf8));
    assert!(matches!(UploadMetadata::parse(b"a b c"), Err(Error::Metadata(MetadataError::MalformedPair(_)))));
    assert_eq!(parsed.encode(), "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential");
    // Keys that encode refuses give an empty value here; request builders report the error instead.
    let mut bad = Metadata::new();
    bad.insert("a b", "x");
    assert_eq!(UploadMetadata(bad).encode(), "");
}

// ---------------------------------------------------------------------------------------------------
// Upload-Concat.

#[test]
fn upload_concat_parse() {
    let fin = |parts: &[&str]| UploadConcat::Final(parts.iter().map(|s| (*s).to_owned()).collect());
    let cases: Vec<(&[u8], Result<UploadConcat, &str>)> = vec![
        (b"partial", Ok(UploadConcat::Partial)),
        (b" partial ", Ok(UploadConcat::Partial)),
        (b"PARTIAL", Ok(UploadConcat::Partial)),
        (b"final;a b", Ok(fin(&["a", "b"]))),
        (b"final;/files/a /files/b", Ok(fin(&["/files/a", "/files/b"]))),
        // rustus's echo: a space after the semicolon and relative parts.
        (b"final; /files/a /files/b", Ok(fin(&["/files/a", "/files/b"]))),
        (
            b"final;https://tus.example/files/a https://tus.example/files/b",
            Ok(fin(&["https://tus.example/files/a", "https://tus.example/files/b"])),
        ),
        (b"Final ;a", Ok(fin(&["a"]))),
        (b"final;a   b\tc", Ok(fin(&["a", "b", "c"]))),
        (b"final;", Err("a final upload lists no parts")),
        (b"final;   ", Err("a final upload lists no parts")),
        (b"final", Err("expected `partial` or `final;<url> <url>...`")),
        (b"final a b", Err("expected `partial` or `final;<url> <url>...`")),
        (b"partial;a", Err("expected `partial` or `final;<url> <url>...`")),
        (b"", Err("expected `partial` or `final;<url> <url>...`")),
        (b"garbage", Err("expected `partial` or `final;<url> <url>...`")),
        (b"\xff", Err("not UTF-8")),
    ];
    for (input, expected) in cases {
        let shown = String::from_utf8_lossy(input);
        match expected {
            Ok(v) => assert_eq!(UploadConcat::parse(input).unwrap(), v, "{shown:?}"),
            Err(why) => assert_eq!(reason(UploadConcat::parse(input), "Upload-Concat"), why, "{shown:?}"),
        }
    }
}

#[test]
fn upload_concat_encode_and_resolve() {
    assert_eq!(UploadConcat::Partial.encode(), "partial");
    let fin = UploadConcat::Final(vec!["https://tus.example/files/a".into(), "/files/b".into()]);
    assert_eq!(fin.encode(), "final;https://tus.example/files/a /files/b");
    assert_eq!(UploadConcat::parse(fin.encode().as_bytes()).unwrap(), fin);

    let base = url::Url::parse("https://tus.example/files/final").unwrap();
    let rustus = UploadConcat::parse(b"final; /files/a b //cdn.example/c https://other.example/d").unwrap();
    let parts: Vec<String> = rustus.resolve_parts(&base).unwrap().into_iter().map(String::from).collect();
    assert_eq!(
        parts,
        [
            "https://tus.example/files/a",
            "https://tus.example/files/b",
            "https://cdn.example/c",
            "https://other.example/d"
        ]
    );
    assert_eq!(UploadConcat::Partial.resolve_parts(&base).unwrap(), []);
    let bad = UploadConcat::Final(vec!["http://[::1".into()]);
    assert_eq!(reason(bad.resolve_parts(&base), "Upload-Concat"), "a part is not a URL");
}

// ---------------------------------------------------------------------------------------------------
// Upload-Expires.

#[test]
fn upload_expires() {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000);
    let cases: &[(&[u8], Option<SystemTime>)] = &[
        (b"Wed, 25 Jun 2014 16:00:00 GMT", Some(when)),
        (b" Wed, 25 Jun 2014 16:00:00 GMT ", Some(when)),
        (b"Wednesday, 25-Jun-14 16:00:00 GMT", Some(when)),
        (b"Wed Jun 25 16:00:00 2014", Some(when)),
        // Garbage is "unknown", never an error.
        (b"1403712000", None),
        (b"2014-06-25T16:00:00Z", None),
        (b"tomorrow", None),
        (b"", None),
        (b"Wed, 32 Jun 2014 16:00:00 GMT", None),
        (b"\xff\xfe", None),
    ];
    for (input, expected) in cases {
        assert_eq!(UploadExpires::parse(input).unwrap().0, *expected, "{:?}", String::from_utf8_lossy(input));
    }
    assert_eq!(UploadExpires(Some(when)).encode(), "Wed, 25 Jun 2014 16:00:00 GMT");
    assert_eq!(UploadExpires(None).encode(), "");
    assert_eq!(header::get::<UploadExpires>(&map("upload-expires", &[b"soon"])).unwrap(), Some(UploadExpires(None)));
}

// ---------------------------------------------------------------------------------------------------
// Upload-Checksum.

#[test]
fn upload_checksum() {
    let sha1_hello = [
        0x2a, 0xae, 0x6c, 0x35, 0xc9, 0x4f, 0xcf, 0xb4, 0x15, 0xdb, 0xe9, 0x5f, 0x40, 0x8b, 0x9c, 0xe9, 0x1e, 0xe8,
        0x46, 0xed,
    ];
    let parsed = UploadChecksum::parse(b"sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
    assert_eq!(parsed, UploadChecksum { algorithm: ChecksumAlgorithm::Sha1, digest: sha1_hello.to_vec() });
    assert_eq!(parsed.encode(), "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    assert_eq!(UploadChecksum::parse(b"  SHA256   AAAA  ").unwrap().algorithm, ChecksumAlgorithm::Sha256);
    assert_eq!(UploadChecksum::parse(b"crc32 AAAA").unwrap().algorithm, ChecksumAlgorithm::Other("crc32".into()));
    let format = "expected `<algorithm> <base64 digest>`";
    let cases: &[(&[u8], &str)] = &[
        (b"sha1", format),
        (b"sha1 ", format),
        (b"", format),
        (b"sha1 AAAA AAAA", format),
        (b"sha1 !!!!", "digest is not valid base64"),
        (b"sha1 AAA", "digest is not valid base64"),
        (b"sha1 Kq5sNclPz7QV2-lfQIuc6R7oRu0=", "digest is not valid base64"),
        (b"sha1 \xff", "not UTF-8"),
    ];
    for (input, why) in cases {
        assert_eq!(
            reason(UploadChecksum::parse(input), "Upload-Checksum"),
            *why,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// X-HTTP-Method-Override.

#[test]
fn x_http_method_override() {
    assert_eq!(XHttpMethodOverride::parse(b"PATCH").unwrap().0, Method::PATCH);
    assert_eq!(XHttpMethodOverride::parse(b" DELETE ").unwrap().0, Method::DELETE);
    // Methods are case-sensitive: `patch` is some other method, not PATCH.
    assert_ne!(XHttpMethodOverride::parse(b"patch").unwrap().0, Method::PATCH);
    for bad in [&b""[..], b"PA TCH", b"PATCH,DELETE", b"\xff"] {
        assert!(
            matches!(
                XHttpMethodOverride::parse(bad),
                Err(Error::InvalidHeader { header: "X-HTTP-Method-Override", .. })
            ),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(XHttpMethodOverride(Method::PATCH).encode(), "PATCH");
    assert_eq!(XHttpMethodOverride::NAME, "x-http-method-override");
}

#[test]
fn header_names() {
    assert_eq!(header::TUS_RESUMABLE, "tus-resumable");
    assert_eq!(header::TUS_VERSION, "tus-version");
    assert_eq!(header::TUS_EXTENSION, "tus-extension");
    assert_eq!(header::TUS_CHECKSUM_ALGORITHM, "tus-checksum-algorithm");
    assert_eq!(header::UPLOAD_DEFER_LENGTH, "upload-defer-length");
    assert_eq!(header::UPLOAD_METADATA, "upload-metadata");
    assert_eq!(header::UPLOAD_CONCAT, "upload-concat");
    assert_eq!(header::UPLOAD_EXPIRES, "upload-expires");
    assert_eq!(header::UPLOAD_CHECKSUM, "upload-checksum");
    assert_eq!(header::OFFSET_OCTET_STREAM, "application/offset+octet-stream");
    assert_eq!(header::TUS_VERSION_1_0_0, "1.0.0");
}
