//! Request plans (exact headers) and response interpreters.

use std::time::{Duration, SystemTime};

use expect_test::{Expect, expect};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tus_proto::{
    Body, ChecksumAlgorithm, ChecksumPlacement, Create, Created, Error, Extension, Length, Metadata, Patch, Patched,
    RequestKind, RequestPlan, ResponseHead, ServerConfiguration, UploadConcat, UploadInfo, check_delete, concatenate,
    delete, head, options, resolve_location,
};
use url::Url;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn endpoint() -> Url {
    url("https://tus.example/files/")
}

fn upload_url() -> Url {
    url("https://tus.example/files/abc")
}

/// Every header of a plan, sorted, one a line.
fn render(plan: &RequestPlan) -> String {
    let mut out = format!("{:?} {} {}\n", plan.kind, plan.method, plan.url);
    let mut lines: Vec<String> =
        plan.headers.iter().map(|(name, value)| format!("{name}: {}", value.to_str().unwrap())).collect();
    lines.sort();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!("body: {:?}\n", plan.body));
    if let Some(c) = &plan.checksum {
        out.push_str(&format!("checksum: {} {:?}\n", c.algorithm, c.placement));
    }
    out
}

#[track_caller]
fn check_plan(plan: &RequestPlan, expected: Expect) {
    expected.assert_eq(&render(plan));
}

fn response(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    ResponseHead::new(StatusCode::from_u16(status).unwrap(), map)
}

fn metadata() -> Metadata {
    let mut m = Metadata::new();
    m.insert("filename", "a.bin").insert_key("flag");
    m
}

// ---------------------------------------------------------------------------------------------------
// Plans.

#[test]
fn options_plan_has_no_tus_resumable() {
    let plan = options(&endpoint());
    check_plan(
        &plan,
        expect![[r#"
            Options OPTIONS https://tus.example/files/
            body: Empty
        "#]],
    );
    assert!(!plan.headers.contains_key("tus-resumable"));
}

#[test]
fn head_plan() {
    check_plan(
        &head(&upload_url()),
        expect![[r#"
            Head HEAD https://tus.example/files/abc
            tus-resumable: 1.0.0
            body: Empty
        "#]],
    );
}

#[test]
fn delete_plan() {
    check_plan(
        &delete(&upload_url()),
        expect![[r#"
            Delete DELETE https://tus.example/files/abc
            content-length: 0
            tus-resumable: 1.0.0
            body: Empty
        "#]],
    );
}

#[test]
fn create_plans() {
    check_plan(
        &Create::new(Length::Known(1000)).plan(&endpoint()).unwrap(),
        expect![[r#"
            Create POST https://tus.example/files/
            content-length: 0
            tus-resumable: 1.0.0
            upload-length: 1000
            body: Empty
        "#]],
    );
    check_plan(
        &Create::new(Length::Deferred).plan(&endpoint()).unwrap(),
        expect![[r#"
            Create POST https://tus.example/files/
            content-length: 0
            tus-resumable: 1.0.0
            upload-defer-length: 1
            body: Empty
        "#]],
    );
    check_plan(
        &Create::new(Length::Known(0)).metadata(metadata()).partial(true).plan(&endpoint()).unwrap(),
        expect![[r#"
            Create POST https://tus.example/files/
            content-length: 0
            tus-resumable: 1.0.0
            upload-concat: partial
            upload-length: 0
            upload-metadata: filename YS5iaW4=,flag
            body: Empty
        "#]],
    );
    check_plan(
        &Create::new(Length::Known(10)).with_upload(0..4).plan(&endpoint()).unwrap(),
        expect![[r#"
            CreateWithUpload POST https://tus.example/files/
            content-length: 4
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-length: 10
            body: Source(0..4)
            "#]],
    );
    check_plan(
        &Create::new(Length::Deferred).with_upload(0..7).plan(&endpoint()).unwrap(),
        expect![[r#"
            CreateWithUpload POST https://tus.example/files/
            content-length: 7
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-defer-length: 1
            body: Source(0..7)
        "#]],
    );
}

#[test]
fn create_with_empty_metadata_sends_no_header() {
    let plan = Create::new(Length::Known(1)).metadata(Metadata::new()).plan(&endpoint()).unwrap();
    assert!(!plan.headers.contains_key("upload-metadata"));
    assert!(!plan.headers.contains_key("upload-concat"));
    assert!(!plan.headers.contains_key("content-type"));
}

#[test]
fn create_refuses_bad_input() {
    let mut bad = Metadata::new();
    bad.insert("a,b", "x");
    assert!(matches!(
        Create::new(Length::Known(1)).metadata(bad).plan(&endpoint()),
        Err(Error::Metadata(tus_proto::MetadataError::InvalidKey { found: ',', .. }))
    ));
    assert!(matches!(Create::new(Length::Known(10)).with_upload(1..4).plan(&endpoint()), Err(Error::Usage(_))));
    assert!(matches!(Create::new(Length::Known(3)).with_upload(0..4).plan(&endpoint()), Err(Error::Usage(_))));
    assert!(Create::new(Length::Known(4)).with_upload(0..4).plan(&endpoint()).is_ok());
    assert!(Create::new(Length::Known(4)).with_upload(0..0).plan(&endpoint()).is_ok());
}

#[test]
fn patch_plans() {
    let plan = Patch::new(4096, 1024).plan(&upload_url());
    check_plan(
        &plan,
        expect![[r#"
            Patch PATCH https://tus.example/files/abc
            content-length: 1024
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-offset: 4096
            body: Source(4096..5120)
        "#]],
    );
    assert_eq!(plan.offset(), Some(4096));
    // The content type is compared as a whole string by tusd: no parameters.
    assert_eq!(plan.headers["content-type"], "application/offset+octet-stream");
    check_plan(
        &Patch::new(8, 0).declare_length(8).plan(&upload_url()),
        expect![[r#"
            Patch PATCH https://tus.example/files/abc
            content-length: 0
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-length: 8
            upload-offset: 8
            body: Source(8..8)
        "#]],
    );
    check_plan(
        &Patch::new(0, 5).checksum(ChecksumAlgorithm::Sha256, ChecksumPlacement::Header).plan(&upload_url()),
        expect![[r#"
            Patch PATCH https://tus.example/files/abc
            content-length: 5
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-offset: 0
            body: Source(0..5)
            checksum: sha256 Header
        "#]],
    );
    check_plan(
        &Patch::new(0, 5).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Trailer).plan(&upload_url()),
        expect![[r#"
            Patch PATCH https://tus.example/files/abc
            content-type: application/offset+octet-stream
            trailer: Upload-Checksum
            tus-resumable: 1.0.0
            upload-offset: 0
            body: Source(0..5)
            checksum: sha1 Trailer
        "#]],
    );
}

#[test]
fn set_checksum_adds_the_header() {
    let mut plan = Patch::new(0, 11).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Header).plan(&upload_url());
    plan.set_checksum(
        ChecksumAlgorithm::Sha1,
        vec![
            0x2a, 0xae, 0x6c, 0x35, 0xc9, 0x4f, 0xcf, 0xb4, 0x15, 0xdb, 0xe9, 0x5f, 0x40, 0x8b, 0x9c, 0xe9, 0x1e, 0xe8,
            0x46, 0xed,
        ],
    );
    assert_eq!(plan.headers["upload-checksum"], "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    plan.set_checksum(ChecksumAlgorithm::Md5, vec![0; 16]);
    assert_eq!(plan.headers.get_all("upload-checksum").iter().count(), 1);
    assert_eq!(plan.headers["upload-checksum"], "md5 AAAAAAAAAAAAAAAAAAAAAA==");
}

#[test]
fn concatenate_plan() {
    let parts = [url("https://tus.example/files/a"), url("https://tus.example/files/b?x=1")];
    check_plan(
        &concatenate(&endpoint(), &parts, &metadata()).unwrap(),
        expect![[r#"
            Concatenate POST https://tus.example/files/
            content-length: 0
            tus-resumable: 1.0.0
            upload-concat: final;https://tus.example/files/a https://tus.example/files/b?x=1
            upload-metadata: filename YS5iaW4=,flag
            body: Empty
        "#]],
    );
    let plan = concatenate(&endpoint(), &parts[..1], &Metadata::new()).unwrap();
    assert!(!plan.headers.contains_key("upload-metadata"));
    assert!(!plan.headers.contains_key("upload-length"), "a final upload has no Upload-Length");
    assert!(matches!(concatenate(&endpoint(), &[], &Metadata::new()), Err(Error::Usage(_))));
    let mut bad = Metadata::new();
    bad.insert("", "x");
    assert!(matches!(concatenate(&endpoint(), &parts, &bad), Err(Error::Metadata(_))));
}

#[test]
fn method_override_rewrites_patch_and_delete_only() {
    check_plan(
        &Patch::new(0, 3).plan(&upload_url()).with_method_override(),
        expect![[r#"
            Patch POST https://tus.example/files/abc
            content-length: 3
            content-type: application/offset+octet-stream
            tus-resumable: 1.0.0
            upload-offset: 0
            x-http-method-override: PATCH
            body: Source(0..3)
        "#]],
    );
    check_plan(
        &delete(&upload_url()).with_method_override(),
        expect![[r#"
            Delete POST https://tus.example/files/abc
            content-length: 0
            tus-resumable: 1.0.0
            x-http-method-override: DELETE
            body: Empty
        "#]],
    );
    for plan in [
        head(&upload_url()),
        options(&endpoint()),
        Create::new(Length::Known(1)).plan(&endpoint()).unwrap(),
        concatenate(&endpoint(), &[upload_url()], &Metadata::new()).unwrap(),
    ] {
        let rewritten = plan.clone().with_method_override();
        assert_eq!(rewritten, plan, "{} must not be rewritten", plan.method);
        assert!(!rewritten.headers.contains_key("x-http-method-override"));
    }
    // Applying it twice changes nothing more.
    let once = Patch::new(0, 3).plan(&upload_url()).with_method_override();
    assert_eq!(once.clone().with_method_override(), once);
}

#[test]
fn to_request_carries_method_url_and_headers() {
    let plan = Patch::new(2, 3).plan(&upload_url());
    let request = plan.to_request(vec![1u8, 2, 3]).unwrap();
    assert_eq!(request.method(), Method::PATCH);
    assert_eq!(request.uri(), "https://tus.example/files/abc");
    assert_eq!(request.headers(), &plan.headers);
    assert_eq!(request.body(), &[1, 2, 3]);
}

#[test]
fn body_accessors() {
    assert_eq!(Body::Empty.len(), 0);
    assert!(Body::Empty.is_empty());
    assert_eq!(Body::Empty.range(), None);
    assert_eq!(Body::Source(3..10).len(), 7);
    assert!(Body::Source(3..3).is_empty());
    assert_eq!(Body::Source(3..3).range(), Some(3..3));
}

// ---------------------------------------------------------------------------------------------------
// Created and Location.

#[test]
fn created_any_2xx_with_location() {
    let plan = Create::new(Length::Known(10)).plan(&endpoint()).unwrap();
    for status in [200, 201, 204] {
        let created = Created::from_response(&plan, &response(status, &[("location", "/files/x")])).unwrap();
        assert_eq!(created.url.as_str(), "https://tus.example/files/x", "{status}");
        assert_eq!(created.offset, 0);
        assert_eq!(created.expires, None);
    }
    let created = Created::from_response(
        &plan,
        &response(
            201,
            &[("location", "x"), ("upload-offset", "0"), ("upload-expires", "Wed, 25 Jun 2014 16:00:00 GMT")],
        ),
    )
    .unwrap();
    assert_eq!(created.url.as_str(), "https://tus.example/files/x");
    assert_eq!(created.expires, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000)));
}

#[test]
fn created_errors() {
    let plan = Create::new(Length::Known(10)).plan(&endpoint()).unwrap();
    let err = Created::from_response(&plan, &response(201, &[])).unwrap_err();
    assert_eq!(
        err,
        Error::MissingHeader {
            request: RequestKind::Create,
            header: "Location",
            hint: ": a 2xx without Location is not a tus creation endpoint"
        }
    );
    assert!(err.is_protocol_violation());
    for status in [400, 403, 413, 500, 301] {
        let err = Created::from_response(&plan, &response(status, &[("location", "/files/x")])).unwrap_err();
        assert_eq!(err, Error::Status { request: RequestKind::Create, status: StatusCode::from_u16(status).unwrap() });
        assert_eq!(err.status(), Some(StatusCode::from_u16(status).unwrap()));
        assert!(!err.is_protocol_violation());
    }
    // A POST without a body cannot have stored anything.
    assert!(matches!(
        Created::from_response(&plan, &response(201, &[("location", "x"), ("upload-offset", "1")])),
        Err(Error::OffsetOutOfRange { offset: 1, .. })
    ));
    assert!(matches!(
        Created::from_response(&plan, &response(201, &[("location", "x"), ("upload-offset", "x")])),
        Err(Error::InvalidHeader { header: "Upload-Offset", .. })
    ));
}

#[test]
fn created_with_upload_offsets() {
    let plan = Create::new(Length::Known(10)).with_upload(0..6).plan(&endpoint()).unwrap();
    let offset = |value: Option<&str>| {
        let mut headers = vec![("location", "/files/x")];
        if let Some(v) = value {
            headers.push(("upload-offset", v));
        }
        Created::from_response(&plan, &response(201, &headers)).map(|c| c.offset)
    };
    assert_eq!(offset(Some("6")).unwrap(), 6);
    assert_eq!(offset(Some("2")).unwrap(), 2);
    assert_eq!(offset(Some("0")).unwrap(), 0);
    // The server ignored the body (tusd and @tus/server do without the content type).
    assert_eq!(offset(None).unwrap(), 0);
    let err = offset(Some("7")).unwrap_err();
    assert_eq!(
        err,
        Error::OffsetOutOfRange { request: RequestKind::CreateWithUpload, offset: 7, expected: "0..=6".into() }
    );
    assert_eq!(err.to_string(), "creation-with-upload POST answered Upload-Offset 7, expected 0..=6");
}

#[test]
fn created_for_a_concatenation() {
    let plan = concatenate(&endpoint(), &[url("https://tus.example/files/a")], &Metadata::new()).unwrap();
    let created = Created::from_response(&plan, &response(201, &[("location", "/files/final")])).unwrap();
    assert_eq!(created.url.as_str(), "https://tus.example/files/final");
    assert_eq!(
        Created::from_response(&plan, &response(501, &[])).unwrap_err().status(),
        Some(StatusCode::NOT_IMPLEMENTED)
    );
}

#[test]
fn location_resolution() {
    let cases: &[(&str, &[u8], Result<&str, &str>)] = &[
        ("https://tus.example/files/", b"https://tus.example/files/abc", Ok("https://tus.example/files/abc")),
        ("https://tus.example/files/", b"/files/x", Ok("https://tus.example/files/x")),
        ("https://tus.example/files/", b"x", Ok("https://tus.example/files/x")),
        ("https://tus.example/files", b"x", Ok("https://tus.example/x")),
        ("https://tus.example/files/", b"files/x", Ok("https://tus.example/files/files/x")),
        ("https://tus.example/files/", b"//host.example/x", Ok("https://host.example/x")),
        ("http://tus.example/files/", b"//host.example/x", Ok("http://host.example/x")),
        ("https://tus.example/files/", b"http://tus.example/files/x", Ok("http://tus.example/files/x")),
        ("https://tus.example:8443/files/", b"/files/x", Ok("https://tus.example:8443/files/x")),
        ("https://tus.example/files/?a=1", b"x?b=2", Ok("https://tus.example/files/x?b=2")),
        ("https://tus.example/a/b/", b"../c", Ok("https://tus.example/a/c")),
        ("https://tus.example/files/", b" /files/x ", Ok("https://tus.example/files/x")),
        ("https://tus.example/files/", b"", Err("empty")),
        ("https://tus.example/files/", b"  ", Err("empty")),
        ("https://tus.example/files/", b"ftp://tus.example/x", Err("not an http or https URL")),
        ("https://tus.example/files/", b"file:///etc/passwd", Err("not an http or https URL")),
        ("https://tus.example/files/", b"data:,x", Err("not an http or https URL")),
        ("https://tus.example/files/", b"http://", Err("empty host")),
        ("https://tus.example/files/", b"https://[::1", Err("invalid IPv6 address")),
        ("https://tus.example/files/", b"\xff", Err("not UTF-8")),
    ];
    for (base, location, expected) in cases {
        let shown = String::from_utf8_lossy(location);
        match (resolve_location(&url(base), location), expected) {
            (Ok(u), Ok(e)) => assert_eq!(u.as_str(), *e, "{base} + {shown:?}"),
            (Err(Error::InvalidLocation { reason, location }), Err(e)) => {
                assert_eq!(reason, *e, "{base} + {shown:?}");
                assert_eq!(location, shown);
            }
            (got, _) => panic!("{base} + {shown:?}: {got:?}, expected {expected:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// UploadInfo.

#[test]
fn upload_info_200_and_204() {
    for status in [200, 204] {
        let info = UploadInfo::from_response(&response(
            status,
            &[("upload-offset", "5"), ("upload-length", "10"), ("cache-control", "no-store")],
        ))
        .unwrap();
        assert_eq!(info.offset, 5);
        assert_eq!(info.length, Some(10));
        assert!(!info.deferred);
        assert!(!info.is_complete());
        assert_eq!(info.metadata, None);
        assert_eq!(info.concat, None);
        assert_eq!(info.expires, None);
    }
}

#[test]
fn upload_info_server_styles() {
    // tusd: Content-Length equal to the upload length, metadata echoed, Upload-Concat with absolute parts.
    let tusd = UploadInfo::from_response(&response(
        200,
        &[
            ("upload-offset", "10"),
            ("upload-length", "10"),
            ("content-length", "10"),
            ("upload-metadata", "filename YS5iaW4=,flag "),
            ("upload-concat", "final;https://tus.example/files/a https://tus.example/files/b"),
            ("tus-resumable", "1.0.0"),
        ],
    ))
    .unwrap();
    assert!(tusd.is_complete());
    let md = tusd.metadata.unwrap();
    assert_eq!(md.get("filename"), Some(&b"a.bin"[..]));
    assert_eq!(md.entry("flag"), Some(None));
    assert_eq!(
        tusd.concat,
        Some(UploadConcat::Final(vec!["https://tus.example/files/a".into(), "https://tus.example/files/b".into()]))
    );
    // rustus: Upload-Created and Cache-Control: no-cache are ignored.
    let rustus = UploadInfo::from_response(&response(
        200,
        &[
            ("upload-offset", "3"),
            ("upload-length", "9"),
            ("upload-created", "1718000000"),
            ("cache-control", "no-cache"),
        ],
    ))
    .unwrap();
    assert_eq!((rustus.offset, rustus.length), (3, Some(9)));
    // @tus/server: Upload-Expires is only on POST/PATCH; when present and readable it is kept.
    let expiring = UploadInfo::from_response(&response(
        200,
        &[("upload-offset", "0"), ("upload-length", "9"), ("upload-expires", "Wed, 25 Jun 2014 16:00:00 GMT")],
    ))
    .unwrap();
    assert!(expiring.expires.is_some());
    let garbage = UploadInfo::from_response(&response(
        200,
        &[("upload-offset", "0"), ("upload-length", "9"), ("upload-expires", "1718000000")],
    ))
    .unwrap();
    assert_eq!(garbage.expires, None);
}

#[test]
fn upload_info_deferred() {
    let info =
        UploadInfo::from_response(&response(200, &[("upload-offset", "7"), ("upload-defer-length", "1")])).unwrap();
    assert_eq!((info.offset, info.length, info.deferred), (7, None, true));
    assert!(!info.is_complete());
    // No length and no deferral (broken servers): not complete, not deferred.
    let info = UploadInfo::from_response(&response(200, &[("upload-offset", "7")])).unwrap();
    assert_eq!((info.length, info.deferred), (None, false));
    assert!(!info.is_complete());
    // Both: the length wins.
    let info = UploadInfo::from_response(&response(
        200,
        &[("upload-offset", "7"), ("upload-length", "7"), ("upload-defer-length", "1")],
    ))
    .unwrap();
    assert_eq!((info.length, info.deferred), (Some(7), false));
    assert!(info.is_complete());
    assert!(matches!(
        UploadInfo::from_response(&response(200, &[("upload-offset", "7"), ("upload-defer-length", "true")])),
        Err(Error::InvalidHeader { header: "Upload-Defer-Length", .. })
    ));
}

#[test]
fn upload_info_errors() {
    // A HEAD answered as a GET: no Upload-Offset. An error, never offset 0.
    let err = UploadInfo::from_response(&response(200, &[("content-type", "text/html"), ("content-length", "1234")]))
        .unwrap_err();
    assert!(matches!(err, Error::MissingHeader { request: RequestKind::Head, header: "Upload-Offset", .. }));
    assert_eq!(
        err.to_string(),
        "HEAD response has no Upload-Offset header (was the HEAD answered as a GET by a proxy?)"
    );
    assert_eq!(
        UploadInfo::from_response(&response(200, &[("upload-offset", "11"), ("upload-length", "10")])).unwrap_err(),
        Error::OffsetOutOfRange {
            request: RequestKind::Head,
            offset: 11,
            expected: "at most the Upload-Length 10".into()
        }
    );
    for (name, value) in [("upload-offset", "-1"), ("upload-offset", ""), ("upload-length", "x")] {
        let mut headers = vec![("upload-offset", "1"), ("upload-length", "10")];
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
        assert!(matches!(UploadInfo::from_response(&response(200, &headers)), Err(Error::InvalidHeader { .. })));
    }
    assert!(matches!(
        UploadInfo::from_response(&response(200, &[("upload-offset", "1"), ("upload-metadata", "a b c")])),
        Err(Error::Metadata(_))
    ));
    assert!(matches!(
        UploadInfo::from_response(&response(200, &[("upload-offset", "1"), ("upload-concat", "final;")])),
        Err(Error::InvalidHeader { header: "Upload-Concat", .. })
    ));
    for status in [404, 410, 403, 423, 500] {
        let err = UploadInfo::from_response(&response(status, &[("upload-offset", "1")])).unwrap_err();
        assert_eq!(err, Error::Status { request: RequestKind::Head, status: StatusCode::from_u16(status).unwrap() });
    }
}

// ---------------------------------------------------------------------------------------------------
// Patched.

#[test]
fn patched_bounds() {
    let plan = Patch::new(100, 50).plan(&upload_url());
    let answer = |offset: &str| Patched::from_response(&plan, &response(204, &[("upload-offset", offset)]));
    assert_eq!(answer("150").unwrap().offset, 150);
    assert_eq!(answer("120").unwrap().offset, 120);
    assert_eq!(answer("100").unwrap().offset, 100);
    for bad in [99, 151, 0, u64::MAX] {
        assert_eq!(
            answer(&bad.to_string()).unwrap_err(),
            Error::OffsetOutOfRange { request: RequestKind::Patch, offset: bad, expected: "100..=150".into() }
        );
    }
    assert_eq!(
        Patched::from_response(&plan, &response(204, &[])).unwrap_err(),
        Error::MissingHeader { request: RequestKind::Patch, header: "Upload-Offset", hint: "" }
    );
    assert!(Patched::from_response(&plan, &response(200, &[("upload-offset", "150")])).is_ok());
    for status in [409, 423, 460, 417, 413, 400, 403, 404, 410, 500, 503] {
        let err = Patched::from_response(&plan, &response(status, &[("upload-offset", "150")])).unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::from_u16(status).unwrap()));
    }
    let expiring = Patched::from_response(
        &plan,
        &response(204, &[("upload-offset", "150"), ("upload-expires", "Wed, 25 Jun 2014 16:00:00 GMT")]),
    )
    .unwrap();
    assert_eq!(expiring.expires, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000)));
    // An empty PATCH (declaring the length) can only answer its own offset.
    let empty = Patch::new(8, 0).declare_length(8).plan(&upload_url());
    assert_eq!(Patched::from_response(&empty, &response(204, &[("upload-offset", "8")])).unwrap().offset, 8);
    assert!(Patched::from_response(&empty, &response(204, &[("upload-offset", "9")])).is_err());
    // tusd answers a PATCH on a complete upload with the sent offset: accepted as "nothing stored".
    assert_eq!(answer("100").unwrap().offset, 100);
}

#[test]
fn check_delete_statuses() {
    assert!(check_delete(&response(204, &[])).is_ok());
    assert!(check_delete(&response(200, &[])).is_ok());
    for status in [404, 405, 410, 400, 501] {
        assert_eq!(
            check_delete(&response(status, &[])).unwrap_err(),
            Error::Status { request: RequestKind::Delete, status: StatusCode::from_u16(status).unwrap() }
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// ServerConfiguration.

#[test]
fn configuration_tusd() {
    let config = ServerConfiguration::from_response(&response(
        200,
        &[
            ("tus-resumable", "1.0.0"),
            ("tus-version", "1.0.0"),
            ("tus-extension", "creation,creation-with-upload,termination,concatenation,creation-defer-length"),
            ("tus-max-size", "1073741824"),
        ],
    ))
    .unwrap();
    assert_eq!(config.versions, ["1.0.0"]);
    assert!(config.speaks_1_0_0());
    assert_eq!(config.max_size, Some(1 << 30));
    assert!(config.supports(&Extension::CreationDeferLength));
    assert!(!config.supports(&Extension::Checksum));
    assert_eq!(config.checksum_algorithms, []);
    assert_eq!(config.strongest_checksum(), None);
}

#[test]
fn configuration_tus_node_server() {
    let config = ServerConfiguration::from_response(&response(
        204,
        &[
            ("tus-version", "1.0.0"),
            ("tus-extension", "creation,creation-with-upload,creation-defer-length,termination,expiration"),
        ],
    ))
    .unwrap();
    assert_eq!(config.max_size, None);
    assert!(config.supports(&Extension::Expiration));
    assert!(!config.supports(&Extension::Concatenation));
}

#[test]
fn configuration_rustus() {
    let config = ServerConfiguration::from_response(&response(
        200,
        &[
            ("tus-version", "1.0.0"),
            (
                "tus-extension",
                "getting,creation,termination,creation-with-upload,creation-defer-length,concatenation,checksum",
            ),
            ("tus-checksum-algorithm", "md5,sha1,sha256,sha512"),
        ],
    ))
    .unwrap();
    assert_eq!(config.extensions[0], Extension::Other("getting".into()));
    assert!(config.supports(&Extension::Checksum));
    assert_eq!(config.strongest_checksum(), Some(ChecksumAlgorithm::Sha512));
}

#[test]
fn configuration_any_2xx_and_minimal() {
    for status in [200, 204, 202] {
        let config = ServerConfiguration::from_response(&response(status, &[("tus-version", "1.0.0,0.2.2")])).unwrap();
        assert_eq!(config.versions, ["1.0.0", "0.2.2"]);
        assert_eq!(config.extensions, []);
        assert_eq!(config.max_size, None);
    }
    let old = ServerConfiguration::from_response(&response(200, &[("tus-version", "0.2.2")])).unwrap();
    assert!(!old.speaks_1_0_0());
}

#[test]
fn configuration_errors() {
    assert_eq!(
        ServerConfiguration::from_response(&response(200, &[("tus-extension", "creation")])).unwrap_err(),
        Error::MissingHeader {
            request: RequestKind::Options,
            header: "Tus-Version",
            hint: ": is this a tus endpoint?"
        }
    );
    for bad in ["xyz", "-1", "1.5", ""] {
        assert!(
            matches!(
                ServerConfiguration::from_response(&response(200, &[("tus-version", "1.0.0"), ("tus-max-size", bad)])),
                Err(Error::InvalidHeader { header: "Tus-Max-Size", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ServerConfiguration::from_response(&response(200, &[("tus-version", "")])),
        Err(Error::InvalidHeader { header: "Tus-Version", .. })
    ));
    assert_eq!(
        ServerConfiguration::from_response(&response(404, &[("tus-version", "1.0.0")])).unwrap_err(),
        Error::Status { request: RequestKind::Options, status: StatusCode::NOT_FOUND }
    );
}

#[test]
fn strongest_checksum_needs_the_extension() {
    let mut config = ServerConfiguration {
        versions: vec!["1.0.0".into()],
        checksum_algorithms: vec![ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256],
        ..ServerConfiguration::default()
    };
    assert_eq!(config.strongest_checksum(), None, "algorithms without the checksum extension");
    config.extensions.push(Extension::Checksum);
    assert_eq!(config.strongest_checksum(), Some(ChecksumAlgorithm::Sha256));
    config.checksum_algorithms = vec![ChecksumAlgorithm::Other("crc32".into())];
    assert_eq!(config.strongest_checksum(), None, "only unknown algorithms");
    config.checksum_algorithms.clear();
    assert_eq!(config.strongest_checksum(), None);
}

#[test]
fn response_head_constructors() {
    let response = http::Response::builder().status(204).header("upload-offset", "3").body(()).unwrap();
    let head = ResponseHead::of(&response);
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert_eq!(head.headers["upload-offset"], "3");
    let (parts, ()) = response.into_parts();
    assert_eq!(ResponseHead::from(parts), head);
}

#[test]
fn error_display_and_classification() {
    let cases: Vec<(Error, &str, bool)> = vec![
        (
            Error::Status { request: RequestKind::Patch, status: StatusCode::CONFLICT },
            "PATCH answered 409 Conflict",
            false,
        ),
        (
            Error::UnexpectedStatus { request: RequestKind::Create, status: StatusCode::OK, expected: "201" },
            "creation POST answered 200 OK, expected 201",
            true,
        ),
        (
            Error::LengthMismatch { server: 5, local: 6 },
            "server reports Upload-Length 5, but the upload is 6 bytes long",
            true,
        ),
        (Error::Usage("x"), "invalid use: x", false),
        (Error::InvalidLength { declared: 3, reason: "y".into() }, "declared length 3 contradicts y", false),
    ];
    for (err, text, violation) in cases {
        assert_eq!(err.to_string(), text);
        assert_eq!(err.is_protocol_violation(), violation, "{err:?}");
    }
    assert_eq!(RequestKind::Concatenate.to_string(), "concatenation POST");
    assert_eq!(RequestKind::Options.to_string(), "OPTIONS");
    assert_eq!(RequestKind::Delete.to_string(), "DELETE");
}

#[test]
fn a_final_upload_may_report_its_parts_bytes_on_creation() {
    // rustus answers the final concatenation POST with `Upload-Offset` equal to the parts' total; a plain
    // creation with the same header would be refused, since a POST without a body stores nothing.
    let parts = [url("https://tus.example/files/a"), url("https://tus.example/files/b")];
    let plan = concatenate(&endpoint(), &parts, &Metadata::new()).unwrap();
    let answer = response(201, &[("location", "/files/final"), ("upload-offset", "12345")]);
    let created = Created::from_response(&plan, &answer).unwrap();
    assert_eq!(created.url.as_str(), "https://tus.example/files/final");

    let plain = tus_proto::Create::new(tus_proto::Length::Known(20000)).plan(&endpoint()).unwrap();
    assert!(matches!(Created::from_response(&plain, &answer), Err(Error::OffsetOutOfRange { .. })));
}

#[test]
fn status_text_names_the_tus_checksum_status() {
    assert_eq!(tus_proto::status_text(StatusCode::from_u16(460).unwrap()), "460 Checksum Mismatch");
    assert_eq!(tus_proto::status_text(StatusCode::LOCKED), "423 Locked");
    assert_eq!(tus_proto::status_text(StatusCode::from_u16(599).unwrap()), "599");
}
