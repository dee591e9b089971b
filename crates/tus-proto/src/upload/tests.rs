//! Transcript tests of the upload state machine.
//!
//! A script is one step a line:
//! - `STATUS | name: value | name: value` answers the request the machine plans next;
//! - `lost` records that the planned request got no answer ([`Upload::handle_failure`]);
//! - `declare N`, `chunk N`, `restart`, `checksum off` call the matching mutator;
//! - `answer STATUS | ...` feeds an answer without polling first (nothing in flight).
//!
//! The transcript shows every planned request (`>`), the answer (`<`), the result, the events and the
//! state after it, and at the end the next request the machine would send.

use expect_test::{Expect, expect};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use url::Url;

use super::*;
use crate::request::Body;

const ENDPOINT: &str = "https://tus.example/files/";

fn endpoint() -> Url {
    Url::parse(ENDPOINT).unwrap()
}

fn options(chunk: u64) -> UploadOptions {
    UploadOptions::default().chunk_size(chunk)
}

fn created(length: Option<u64>, options: UploadOptions) -> Upload {
    Upload::create(endpoint(), length, options).unwrap()
}

fn resumed(length: Option<u64>, chunk: u64) -> Upload {
    Upload::resume(Url::parse("https://tus.example/files/abc").unwrap(), length, options(chunk)).unwrap()
}

/// Renders a plan, checking the headers every plan must carry on the way.
fn render_plan(plan: &RequestPlan) -> String {
    let mut out = format!("> {} {}", plan.method, plan.url);
    let mut names: Vec<&HeaderName> = plan.headers.keys().collect();
    names.sort_by_key(|n| n.as_str());
    for name in names {
        let value = plan.headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>().join(", ");
        match name.as_str() {
            "tus-resumable" => assert_eq!(value, "1.0.0"),
            "content-type" => {
                assert_eq!(value, "application/offset+octet-stream");
                assert!(matches!(plan.body, Body::Source(_)), "content type on a plan without a source body");
            }
            "content-length" => assert_eq!(value, plan.body.len().to_string(), "content-length is not the body's"),
            _ => out.push_str(&format!(" | {name}: {value}")),
        }
    }
    assert!(plan.headers.contains_key("tus-resumable"), "{} without tus-resumable", plan.method);
    if plan.method != http::Method::HEAD
        && plan.checksum.as_ref().is_none_or(|c| c.placement == ChecksumPlacement::Header)
    {
        assert!(plan.headers.contains_key("content-length"), "{} without content-length", plan.method);
    }
    match &plan.body {
        Body::Empty => {}
        Body::Source(r) => out.push_str(&format!(" | body {r:?}")),
    }
    if let Some(c) = &plan.checksum {
        out.push_str(&format!(" | checksum {} {:?}", c.algorithm, c.placement));
    }
    out
}

fn parse_answer(line: &str) -> ResponseHead {
    let mut parts = line.split('|');
    let status: u16 = parts.next().unwrap().trim().parse().expect("a status");
    let mut headers = HeaderMap::new();
    for part in parts {
        let (name, value) = part.split_once(':').expect("name: value");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim()).unwrap(),
        );
    }
    ResponseHead::new(StatusCode::from_u16(status).unwrap(), headers)
}

fn render_after(upload: &mut Upload, result: Option<Result<(), Error>>, out: &mut String) {
    match result {
        None => {}
        Some(Ok(())) => out.push_str("  ok\n"),
        Some(Err(e)) => out.push_str(&format!("  error: {e}\n")),
    }
    while let Some(event) = upload.poll_event() {
        match event {
            Event::Created { url } => out.push_str(&format!("  event: Created {url}\n")),
            Event::Expires(t) => out.push_str(&format!("  event: Expires {}\n", httpdate::fmt_http_date(t))),
            other => out.push_str(&format!("  event: {other:?}\n")),
        }
    }
    out.push_str(&format!("  state: {:?} offset={} length={:?}\n", upload.state(), upload.offset(), upload.length()));
}

#[track_caller]
fn check(mut upload: Upload, script: &str, expected: Expect) {
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["lost"] => {
                match upload.poll_request() {
                    Some(plan) => out.push_str(&format!("{}\n", render_plan(&plan))),
                    None => out.push_str("> (nothing to send)\n"),
                }
                out.push_str("< lost\n");
                upload.handle_failure();
                render_after(&mut upload, None, &mut out);
            }
            ["declare", n] => {
                out.push_str(&format!("declare_length({n})\n"));
                let result = upload.declare_length(n.parse().unwrap());
                render_after(&mut upload, Some(result), &mut out);
            }
            ["chunk", n] => {
                out.push_str(&format!("set_chunk_size({n})\n"));
                let result = upload.set_chunk_size(n.parse().unwrap());
                render_after(&mut upload, Some(result), &mut out);
            }
            ["restart"] => {
                out.push_str("restart()\n");
                let result = upload.restart();
                render_after(&mut upload, Some(result), &mut out);
            }
            ["checksum", "off"] => {
                out.push_str("set_checksum(None)\n");
                upload.set_checksum(None);
            }
            ["answer", ..] => {
                let answer = line.trim_start_matches("answer").trim();
                out.push_str(&format!("< {answer} (unpolled)\n"));
                let result = upload.handle_response(&parse_answer(answer));
                render_after(&mut upload, Some(result), &mut out);
            }
            _ => {
                match upload.poll_request() {
                    Some(plan) => {
                        out.push_str(&format!("{}\n", render_plan(&plan)));
                        assert!(upload.poll_request().is_none(), "a second plan while one is in flight");
                        assert!(upload.is_in_flight());
                    }
                    None => out.push_str("> (nothing to send)\n"),
                }
                out.push_str(&format!("< {line}\n"));
                let result = upload.handle_response(&parse_answer(line));
                render_after(&mut upload, Some(result), &mut out);
            }
        }
    }
    match upload.poll_request() {
        Some(plan) => out.push_str(&format!("next: {}\n", render_plan(&plan))),
        None => out.push_str("next: nothing\n"),
    }
    expected.assert_eq(&out);
}

// ---------------------------------------------------------------------------------------------------
// Creation and plain uploads.

#[test]
fn plain_upload_in_chunks() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: https://tus.example/files/abc
        204 | upload-offset: 4
        204 | upload-offset: 8
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: https://tus.example/files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn any_2xx_is_success() {
    check(
        created(Some(6), options(4)),
        "
        200 | location: /files/abc
        200 | upload-offset: 4
        202 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 6
            < 200 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 200 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..6
            < 202 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              event: Completed
              state: Complete offset=6 length=Some(6)
            next: nothing
        "#]],
    );
}

#[test]
fn zero_length_upload_completes_after_creation_without_patch() {
    check(
        created(Some(0), options(4).creation_with_upload(true)),
        "201 | location: /files/empty",
        expect![[r#"
        > POST https://tus.example/files/ | upload-length: 0
        < 201 | location: /files/empty
          ok
          event: Created https://tus.example/files/empty
          event: Completed
          state: Complete offset=0 length=Some(0)
        next: nothing
    "#]],
    );
}

#[test]
fn creation_sends_metadata_and_partial() {
    let mut metadata = Metadata::new();
    metadata.insert("filename", "a.bin");
    metadata.insert_key("flag");
    check(
        created(Some(3), options(4).metadata(metadata).partial(true)),
        "201 | location: /files/p",
        expect![[r#"
        > POST https://tus.example/files/ | upload-concat: partial | upload-length: 3 | upload-metadata: filename YS5iaW4=,flag
        < 201 | location: /files/p
          ok
          event: Created https://tus.example/files/p
          state: Uploading offset=0 length=Some(3)
        next: > PATCH https://tus.example/files/p | upload-offset: 0 | body 0..3
    "#]],
    );
}

#[test]
fn creation_with_upload_full_acceptance() {
    check(
        created(Some(4), options(8).creation_with_upload(true)),
        "201 | location: /files/abc | upload-offset: 4",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 4 | body 0..4
            < 201 | location: /files/abc | upload-offset: 4
              ok
              event: Created https://tus.example/files/abc
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

#[test]
fn creation_with_upload_partial_acceptance() {
    check(
        created(Some(10), options(8).creation_with_upload(true)),
        "
        201 | location: /files/abc | upload-offset: 3
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10 | body 0..8
            < 201 | location: /files/abc | upload-offset: 3
              ok
              event: Created https://tus.example/files/abc
              event: Confirmed { offset: 3 }
              state: Uploading offset=3 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 3 | body 3..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn creation_with_upload_without_upload_offset_means_nothing_stored() {
    check(
        created(Some(10), options(8).creation_with_upload(true)),
        "
        201 | location: /files/abc
        204 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10 | body 0..8
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
        "#]],
    );
}

#[test]
fn creation_with_upload_offset_past_the_body_is_an_error_and_creates_again() {
    check(
        created(Some(10), options(8).creation_with_upload(true)),
        "
        201 | location: /files/abc | upload-offset: 9
        201 | location: /files/def | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10 | body 0..8
            < 201 | location: /files/abc | upload-offset: 9
              error: creation-with-upload POST answered Upload-Offset 9, expected 0..=8
              state: Creating offset=0 length=Some(10)
            > POST https://tus.example/files/ | upload-length: 10 | body 0..8
            < 201 | location: /files/def | upload-offset: 8
              ok
              event: Created https://tus.example/files/def
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            next: > PATCH https://tus.example/files/def | upload-offset: 8 | body 8..10
        "#]],
    );
}

#[test]
fn creation_upload_offset_on_a_post_without_body_is_an_error() {
    check(
        created(Some(10), options(8)),
        "201 | location: /files/abc | upload-offset: 5",
        expect![[r#"
        > POST https://tus.example/files/ | upload-length: 10
        < 201 | location: /files/abc | upload-offset: 5
          error: creation POST answered Upload-Offset 5, expected 0..=0
          state: Creating offset=0 length=Some(10)
        next: > POST https://tus.example/files/ | upload-length: 10
    "#]],
    );
}

#[test]
fn creation_failures_plan_the_creation_again() {
    check(
        created(Some(2), options(8)),
        "
        lost
        500
        201
        201 | location: ftp://tus.example/x
        201 | location: /files/abc
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 2
            < lost
              state: Creating offset=0 length=Some(2)
            > POST https://tus.example/files/ | upload-length: 2
            < 500
              error: creation POST answered 500 Internal Server Error
              state: Creating offset=0 length=Some(2)
            > POST https://tus.example/files/ | upload-length: 2
            < 201
              error: creation POST response has no Location header: a 2xx without Location is not a tus creation endpoint
              state: Creating offset=0 length=Some(2)
            > POST https://tus.example/files/ | upload-length: 2
            < 201 | location: ftp://tus.example/x
              error: invalid Location "ftp://tus.example/x": not an http or https URL
              state: Creating offset=0 length=Some(2)
            > POST https://tus.example/files/ | upload-length: 2
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(2)
            next: > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..2
        "#]],
    );
}

#[test]
fn location_forms_are_resolved_against_the_endpoint() {
    for (location, expected) in [
        ("https://other.example/u/1", "https://other.example/u/1"),
        ("/uploads/1", "https://tus.example/uploads/1"),
        ("abc", "https://tus.example/files/abc"),
        ("files/abc", "https://tus.example/files/files/abc"),
        ("//cdn.example/x", "https://cdn.example/x"),
        ("http://tus.example/files/abc", "http://tus.example/files/abc"),
    ] {
        let mut upload = created(Some(1), options(4));
        upload.poll_request().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::LOCATION, HeaderValue::from_str(location).unwrap());
        upload.handle_response(&ResponseHead::new(StatusCode::CREATED, headers)).unwrap();
        assert_eq!(upload.url().unwrap().as_str(), expected, "Location {location:?}");
        assert_eq!(upload.poll_request().unwrap().url.as_str(), expected);
    }
}

#[test]
fn invalid_locations_are_errors() {
    check(
        created(Some(1), options(4)),
        "
        201 | location: ftp://tus.example/x
        201 | location: mailto:a@b.example
        201 | location: //
        201 | location: http://[::1
        201 | location: /files/ok
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 1
            < 201 | location: ftp://tus.example/x
              error: invalid Location "ftp://tus.example/x": not an http or https URL
              state: Creating offset=0 length=Some(1)
            > POST https://tus.example/files/ | upload-length: 1
            < 201 | location: mailto:a@b.example
              error: invalid Location "mailto:a@b.example": not an http or https URL
              state: Creating offset=0 length=Some(1)
            > POST https://tus.example/files/ | upload-length: 1
            < 201 | location: //
              error: invalid Location "//": empty host
              state: Creating offset=0 length=Some(1)
            > POST https://tus.example/files/ | upload-length: 1
            < 201 | location: http://[::1
              error: invalid Location "http://[::1": invalid IPv6 address
              state: Creating offset=0 length=Some(1)
            > POST https://tus.example/files/ | upload-length: 1
            < 201 | location: /files/ok
              ok
              event: Created https://tus.example/files/ok
              state: Uploading offset=0 length=Some(1)
            next: > PATCH https://tus.example/files/ok | upload-offset: 0 | body 0..1
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// PATCH answers.

#[test]
fn patch_partial_acceptance_continues_from_the_server_offset() {
    check(
        created(Some(10), options(6)),
        "
        201 | location: /files/abc
        204 | upload-offset: 2
        204 | upload-offset: 8
        204 | upload-offset: 8
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < 204 | upload-offset: 2
              ok
              event: Confirmed { offset: 2 }
              state: Uploading offset=2 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 2 | body 2..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
            < 204 | upload-offset: 8
              error: PATCH of 2 bytes at offset 8 was accepted, but the server kept none of them
              state: Syncing offset=8 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 204 | upload-offset: 10
              ok
              event: Resynced { offset: 10, previous: 8 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn lost_patch_then_head_shows_full_body_stored() {
    check(
        created(Some(10), options(6)),
        "
        201 | location: /files/abc
        lost
        200 | upload-offset: 6 | upload-length: 10
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < lost
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 6 | upload-length: 10
              ok
              event: Resynced { offset: 6, previous: 0 }
              state: Uploading offset=6 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 6 | body 6..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn lost_patch_then_head_shows_part_of_the_body_stored() {
    check(
        created(Some(10), options(6)),
        "
        201 | location: /files/abc
        lost
        200 | upload-offset: 5 | upload-length: 10
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < lost
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 5 | upload-length: 10
              ok
              event: Resynced { offset: 5, previous: 0 }
              state: Uploading offset=5 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 5 | body 5..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn lost_patch_then_head_shows_nothing_stored() {
    check(
        created(Some(10), options(6)),
        "
        201 | location: /files/abc
        lost
        200 | upload-offset: 0 | upload-length: 10
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < lost
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 10
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              state: Uploading offset=6 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 6 | body 6..10
        "#]],
    );
}

#[test]
fn lost_last_patch_then_head_shows_everything_completes() {
    check(
        created(Some(4), options(6)),
        "
        201 | location: /files/abc
        lost
        204 | upload-offset: 4 | upload-length: 4
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 4
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < lost
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 204 | upload-offset: 4 | upload-length: 4
              ok
              event: Resynced { offset: 4, previous: 0 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

#[test]
fn conflict_then_head_resumes_from_the_server_offset() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        409
        200 | upload-offset: 2 | upload-length: 10
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 409
              error: PATCH answered 409 Conflict
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 2 | upload-length: 10
              ok
              event: Resynced { offset: 2, previous: 4 }
              state: Uploading offset=2 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 2 | body 2..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              state: Uploading offset=6 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 6 | body 6..10
        "#]],
    );
}

#[test]
fn locked_and_server_errors_are_followed_by_head() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        423
        200 | upload-offset: 0 | upload-length: 10
        500
        503
        200 | upload-offset: 0 | upload-length: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 423
              error: PATCH answered 423 Locked
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 10
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 500
              error: PATCH answered 500 Internal Server Error
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 503
              error: HEAD answered 503 Service Unavailable
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 10
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
        "#]],
    );
}

#[test]
fn checksum_mismatch_resends_the_same_range_after_head() {
    check(
        created(Some(10), options(4).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Header)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        460
        200 | upload-offset: 4 | upload-length: 10
        417
        200 | upload-offset: 4 | upload-length: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4 | checksum sha1 Header
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8 | checksum sha1 Header
            < 460
              error: PATCH answered 460 Checksum Mismatch
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8 | checksum sha1 Header
            < 417
              error: PATCH answered 417 Expectation Failed
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8 | checksum sha1 Header
        "#]],
    );
}

#[test]
fn too_large_then_head_then_smaller_chunks() {
    check(
        created(Some(10), options(8)),
        "
        201 | location: /files/abc
        413
        chunk 4
        200 | upload-offset: 0 | upload-length: 10
        204 | upload-offset: 4
        chunk 0
        chunk 2
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..8
            < 413
              error: PATCH answered 413 Payload Too Large
              state: Syncing offset=0 length=Some(10)
            set_chunk_size(4)
              ok
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 10
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            set_chunk_size(0)
              error: invalid use: the chunk size must be at least 1 byte
              state: Uploading offset=4 length=Some(10)
            set_chunk_size(2)
              ok
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              state: Uploading offset=6 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 6 | body 6..8
        "#]],
    );
}

#[test]
fn patch_answer_offsets_outside_the_sent_range_are_errors() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        204 | upload-offset: 3
        200 | upload-offset: 4 | upload-length: 10
        204 | upload-offset: 9
        200 | upload-offset: 4 | upload-length: 10
        204
        200 | upload-offset: 4 | upload-length: 10
        204 | upload-offset: -4
        200 | upload-offset: 4 | upload-length: 10
        204 | upload-offset: 4 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 3
              error: PATCH answered Upload-Offset 3, expected 4..=8
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 9
              error: PATCH answered Upload-Offset 9, expected 4..=8
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204
              error: PATCH response has no Upload-Offset header
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: -4
              error: invalid Upload-Offset header "-4": negative
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 4 | upload-offset: 8
              error: invalid Upload-Offset header "4": sent more than once with different values
              state: Syncing offset=4 length=Some(10)
            next: > HEAD https://tus.example/files/abc
        "#]],
    );
}

#[test]
fn checksum_request_is_on_every_patch_until_turned_off() {
    check(
        created(Some(10), options(4).checksum(ChecksumAlgorithm::Sha256, ChecksumPlacement::Header)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        lost
        200 | upload-offset: 4 | upload-length: 10
        checksum off
        204 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4 | checksum sha256 Header
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8 | checksum sha256 Header
            < lost
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            set_checksum(None)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
        "#]],
    );
}

#[test]
fn checksum_trailer_drops_content_length() {
    check(
        created(Some(10), options(8).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Trailer)),
        "
        201 | location: /files/abc
        204 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | trailer: Upload-Checksum | upload-offset: 0 | body 0..8 | checksum sha1 Trailer
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            next: > PATCH https://tus.example/files/abc | trailer: Upload-Checksum | upload-offset: 8 | body 8..10 | checksum sha1 Trailer
        "#]],
    );
}

#[test]
fn creation_with_upload_post_carries_no_checksum_request() {
    check(
        created(
            Some(10),
            options(8).creation_with_upload(true).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Header),
        ),
        "201 | location: /files/abc | upload-offset: 8",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10 | body 0..8
            < 201 | location: /files/abc | upload-offset: 8
              ok
              event: Created https://tus.example/files/abc
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10 | checksum sha1 Header
        "#]],
    );
}

#[test]
fn upload_expires_garbage_is_ignored_and_a_date_is_reported() {
    check(
        created(Some(8), options(4)),
        "
        201 | location: /files/abc | upload-expires: 1718000000
        204 | upload-offset: 4 | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT
        lost
        200 | upload-offset: 4 | upload-length: 8 | upload-expires: not a date
        204 | upload-offset: 8 | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT | upload-expires: soon
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 8
            < 201 | location: /files/abc | upload-expires: 1718000000
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4 | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT
              ok
              event: Expires Wed, 25 Jun 2014 16:00:00 GMT
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < lost
              state: Syncing offset=4 length=Some(8)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 8 | upload-expires: not a date
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8 | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT | upload-expires: soon
              ok
              event: Confirmed { offset: 8 }
              event: Completed
              state: Complete offset=8 length=Some(8)
            next: nothing
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// HEAD answers.

#[test]
fn head_rollback_to_a_lower_offset_is_followed() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        204 | upload-offset: 8
        lost
        200 | upload-offset: 0 | upload-length: 10
        204 | upload-offset: 4
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
            < lost
              state: Syncing offset=8 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 10
              ok
              event: Resynced { offset: 0, previous: 8 }
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
        "#]],
    );
}

#[test]
fn head_offset_past_what_was_sent_is_an_error() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        lost
        200 | upload-offset: 5 | upload-length: 10
        204 | upload-offset: 4 | upload-length: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < lost
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 5 | upload-length: 10
              error: HEAD answered Upload-Offset 5, expected at most the 4 bytes sent
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 204 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 0 }
              state: Uploading offset=4 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
        "#]],
    );
}

#[test]
fn head_offset_past_the_length_is_an_error() {
    check(
        resumed(Some(10), 4),
        "
        200 | upload-offset: 11 | upload-length: 10
        200 | upload-offset: 11 | upload-length: 11
        200 | upload-offset: 11
        200 | upload-offset: 3 | upload-length: 10
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 11 | upload-length: 10
              error: HEAD answered Upload-Offset 11, expected at most the Upload-Length 10
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 11 | upload-length: 11
              error: server reports Upload-Length 11, but the upload is 10 bytes long
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 11
              error: HEAD answered Upload-Offset 11, expected at most the length 10
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 3 | upload-length: 10
              ok
              event: Resynced { offset: 3, previous: 0 }
              state: Uploading offset=3 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 3 | body 3..7
        "#]],
    );
}

#[test]
fn head_without_upload_offset_is_an_error_never_zero() {
    check(
        created(Some(10), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        lost
        200 | content-type: text/html | content-length: 512
        200 | upload-offset: abc | upload-length: 10
        200 | upload-offset: 4 | upload-length: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < lost
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | content-type: text/html | content-length: 512
              error: HEAD response has no Upload-Offset header (was the HEAD answered as a GET by a proxy?)
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: abc | upload-length: 10
              error: invalid Upload-Offset header "abc": not a non-negative decimal integer
              state: Syncing offset=4 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 10
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(10)
            next: > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
        "#]],
    );
}

#[test]
fn head_gone_statuses_make_the_upload_gone_and_restart_creates_again() {
    for status in [404, 410, 403] {
        let mut upload = created(Some(4), options(4));
        for line in ["201 | location: /files/abc".to_owned(), "409".to_owned(), status.to_string()] {
            upload.poll_request().unwrap();
            let _ = upload.handle_response(&parse_answer(&line));
        }
        assert_eq!(upload.state(), State::Gone, "HEAD {status}");
        assert!(upload.poll_request().is_none());
    }
    check(
        created(Some(4), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 2
        lost
        404
        restart
        201 | location: /files/def
        204 | upload-offset: 4
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 4
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 2
              ok
              event: Confirmed { offset: 2 }
              state: Uploading offset=2 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 2 | body 2..4
            < lost
              state: Syncing offset=2 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 404
              error: HEAD answered 404 Not Found
              event: Gone
              state: Gone offset=2 length=Some(4)
            restart()
              ok
              state: Creating offset=0 length=Some(4)
            > POST https://tus.example/files/ | upload-length: 4
            < 201 | location: /files/def
              ok
              event: Created https://tus.example/files/def
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/def | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

#[test]
fn head_other_errors_keep_syncing() {
    check(
        resumed(Some(4), 4),
        "
        401
        400
        423
        502
        lost
        200 | upload-offset: 4 | upload-length: 4
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 401
              error: HEAD answered 401 Unauthorized
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 400
              error: HEAD answered 400 Bad Request
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 423
              error: HEAD answered 423 Locked
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 502
              error: HEAD answered 502 Bad Gateway
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < lost
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 4
              ok
              event: Resynced { offset: 4, previous: 0 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

#[test]
fn restart_is_only_for_gone_uploads_with_an_endpoint() {
    check(
        resumed(Some(4), 4),
        "
        restart
        410
        restart
        ",
        expect![[r#"
            restart()
              error: invalid use: only an upload that is gone can be restarted
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 410
              error: HEAD answered 410 Gone
              event: Gone
              state: Gone offset=0 length=Some(4)
            restart()
              error: invalid use: restart needs the creation endpoint
              state: Gone offset=0 length=Some(4)
            next: nothing
        "#]],
    );
    let mut upload = resumed(Some(4), 4);
    upload.poll_request().unwrap();
    let _ = upload.handle_response(&parse_answer("410"));
    while upload.poll_event().is_some() {}
    upload.set_endpoint(endpoint());
    check(
        upload,
        "
        restart
        201 | location: /files/new
        ",
        expect![[r#"
            restart()
              ok
              state: Creating offset=0 length=Some(4)
            > POST https://tus.example/files/ | upload-length: 4
            < 201 | location: /files/new
              ok
              event: Created https://tus.example/files/new
              state: Uploading offset=0 length=Some(4)
            next: > PATCH https://tus.example/files/new | upload-offset: 0 | body 0..4
        "#]],
    );
}

#[test]
fn garbage_metadata_or_concat_in_a_head_does_not_block_resuming() {
    // Resuming needs only the offset and the length; `UploadInfo::from_response` (used by `info`) still
    // reports such garbage, as the request tests check.
    check(
        resumed(Some(4), 4),
        "
        200 | upload-offset: 0 | upload-length: 4 | upload-metadata: filename !!!
        lost
        200 | upload-offset: 0 | upload-length: 4 | upload-concat: whatever
        204 | upload-offset: 4
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 4 | upload-metadata: filename !!!
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < lost
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 4 | upload-concat: whatever
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// Resuming.

#[test]
fn resume_with_matching_length() {
    check(
        resumed(Some(10), 4),
        "
        200 | upload-offset: 6 | upload-length: 10 | content-length: 10
        204 | upload-offset: 10
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 6 | upload-length: 10 | content-length: 10
              ok
              event: Resynced { offset: 6, previous: 0 }
              state: Uploading offset=6 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 6 | body 6..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn resume_with_mismatching_length_is_an_error_every_time() {
    check(
        resumed(Some(10), 4),
        "
        200 | upload-offset: 6 | upload-length: 12
        200 | upload-offset: 6 | upload-length: 12
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 6 | upload-length: 12
              error: server reports Upload-Length 12, but the upload is 10 bytes long
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 6 | upload-length: 12
              error: server reports Upload-Length 12, but the upload is 10 bytes long
              state: Syncing offset=0 length=Some(10)
            next: > HEAD https://tus.example/files/abc
        "#]],
    );
}

#[test]
fn resume_of_a_complete_upload_is_complete_after_head() {
    check(
        resumed(Some(10), 4),
        "204 | upload-offset: 10 | upload-length: 10",
        expect![[r#"
        > HEAD https://tus.example/files/abc
        < 204 | upload-offset: 10 | upload-length: 10
          ok
          event: Resynced { offset: 10, previous: 0 }
          event: Completed
          state: Complete offset=10 length=Some(10)
        next: nothing
    "#]],
    );
}

#[test]
fn resume_with_unknown_local_length_takes_the_server_length() {
    check(
        resumed(None, 4),
        "
        200 | upload-offset: 2 | upload-length: 5
        204 | upload-offset: 5
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 2 | upload-length: 5
              ok
              event: Resynced { offset: 2, previous: 0 }
              state: Uploading offset=2 length=Some(5)
            > PATCH https://tus.example/files/abc | upload-offset: 2 | body 2..5
            < 204 | upload-offset: 5
              ok
              event: Confirmed { offset: 5 }
              event: Completed
              state: Complete offset=5 length=Some(5)
            next: nothing
        "#]],
    );
}

#[test]
fn resume_of_a_deferred_upload() {
    check(
        resumed(None, 4),
        "
        200 | upload-offset: 2 | upload-defer-length: 1
        204 | upload-offset: 6
        declare 7
        204 | upload-offset: 7
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 2 | upload-defer-length: 1
              ok
              event: Resynced { offset: 2, previous: 0 }
              state: Uploading offset=2 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 2 | body 2..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              state: Uploading offset=6 length=None
            declare_length(7)
              ok
              state: Uploading offset=6 length=Some(7)
            > PATCH https://tus.example/files/abc | upload-length: 7 | upload-offset: 6 | body 6..7
            < 204 | upload-offset: 7
              ok
              event: Confirmed { offset: 7 }
              event: Completed
              state: Complete offset=7 length=Some(7)
            next: nothing
        "#]],
    );
}

#[test]
fn resume_known_length_on_a_server_that_still_defers_declares_it() {
    check(
        resumed(Some(4), 4),
        "
        200 | upload-offset: 4 | upload-defer-length: 1
        204 | upload-offset: 4
        ",
        expect![[r#"
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-defer-length: 1
              ok
              event: Resynced { offset: 4, previous: 0 }
              state: Uploading offset=4 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-length: 4 | upload-offset: 4 | body 4..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// Deferred length.

#[test]
fn deferred_length_declared_at_a_chunk_boundary_sends_an_empty_patch() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        204 | upload-offset: 8
        declare 8
        204 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=None
            declare_length(8)
              ok
              state: Uploading offset=8 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-length: 8 | upload-offset: 8 | body 8..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              event: Completed
              state: Complete offset=8 length=Some(8)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_declared_mid_chunk() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        declare 6
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            declare_length(6)
              ok
              state: Uploading offset=4 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-length: 6 | upload-offset: 4 | body 4..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              event: Completed
              state: Complete offset=6 length=Some(6)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_patch_partially_stored_still_gave_the_server_the_length() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        declare 3
        204 | upload-offset: 1
        204 | upload-offset: 3
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            declare_length(3)
              ok
              state: Uploading offset=0 length=Some(3)
            > PATCH https://tus.example/files/abc | upload-length: 3 | upload-offset: 0 | body 0..3
            < 204 | upload-offset: 1
              ok
              event: Confirmed { offset: 1 }
              state: Uploading offset=1 length=Some(3)
            > PATCH https://tus.example/files/abc | upload-offset: 1 | body 1..3
            < 204 | upload-offset: 3
              ok
              event: Confirmed { offset: 3 }
              event: Completed
              state: Complete offset=3 length=Some(3)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_patch_lost_and_the_server_got_the_length() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        declare 6
        lost
        200 | upload-offset: 5 | upload-length: 6
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            declare_length(6)
              ok
              state: Uploading offset=4 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-length: 6 | upload-offset: 4 | body 4..6
            < lost
              state: Syncing offset=4 length=Some(6)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 5 | upload-length: 6
              ok
              event: Resynced { offset: 5, previous: 4 }
              state: Uploading offset=5 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-offset: 5 | body 5..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              event: Completed
              state: Complete offset=6 length=Some(6)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_patch_lost_and_the_server_did_not_get_it() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        declare 6
        lost
        200 | upload-offset: 4 | upload-defer-length: 1
        204 | upload-offset: 6
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            declare_length(6)
              ok
              state: Uploading offset=4 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-length: 6 | upload-offset: 4 | body 4..6
            < lost
              state: Syncing offset=4 length=Some(6)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-defer-length: 1
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(6)
            > PATCH https://tus.example/files/abc | upload-length: 6 | upload-offset: 4 | body 4..6
            < 204 | upload-offset: 6
              ok
              event: Confirmed { offset: 6 }
              event: Completed
              state: Complete offset=6 length=Some(6)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_declared_before_creation_is_sent_at_creation() {
    check(
        created(None, options(4).creation_with_upload(true)),
        "
        declare 3
        201 | location: /files/abc | upload-offset: 3
        ",
        expect![[r#"
            declare_length(3)
              ok
              state: Creating offset=0 length=Some(3)
            > POST https://tus.example/files/ | upload-length: 3 | body 0..3
            < 201 | location: /files/abc | upload-offset: 3
              ok
              event: Created https://tus.example/files/abc
              event: Confirmed { offset: 3 }
              event: Completed
              state: Complete offset=3 length=Some(3)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_declared_while_the_creation_is_in_flight() {
    // The POST said `Upload-Defer-Length: 1`; the length must still go out on a PATCH.
    let mut upload = created(None, options(4));
    let post = upload.poll_request().unwrap();
    assert!(post.headers.contains_key("upload-defer-length"));
    upload.declare_length(3).unwrap();
    check(
        upload,
        "
        answer 201 | location: /files/abc
        204 | upload-offset: 3
        ",
        expect![[r#"
            < 201 | location: /files/abc (unpolled)
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(3)
            > PATCH https://tus.example/files/abc | upload-length: 3 | upload-offset: 0 | body 0..3
            < 204 | upload-offset: 3
              ok
              event: Confirmed { offset: 3 }
              event: Completed
              state: Complete offset=3 length=Some(3)
            next: nothing
        "#]],
    );
}

#[test]
fn deferred_length_of_zero() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        declare 0
        204 | upload-offset: 0
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            declare_length(0)
              ok
              state: Uploading offset=0 length=Some(0)
            > PATCH https://tus.example/files/abc | upload-length: 0 | upload-offset: 0 | body 0..0
            < 204 | upload-offset: 0
              ok
              event: Confirmed { offset: 0 }
              event: Completed
              state: Complete offset=0 length=Some(0)
            next: nothing
        "#]],
    );
}

#[test]
fn declare_length_contradictions() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        declare 3
        lost
        declare 7
        200 | upload-offset: 6 | upload-defer-length: 1
        declare 5
        declare 8
        declare 8
        declare 9
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            declare_length(3)
              error: declared length 3 contradicts the 4 bytes the server already holds
              state: Uploading offset=4 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < lost
              state: Syncing offset=4 length=None
            declare_length(7)
              error: declared length 7 contradicts the 8 bytes already sent
              state: Syncing offset=4 length=None
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 6 | upload-defer-length: 1
              ok
              event: Resynced { offset: 6, previous: 4 }
              state: Uploading offset=6 length=None
            declare_length(5)
              error: declared length 5 contradicts the 6 bytes the server already holds
              state: Uploading offset=6 length=None
            declare_length(8)
              ok
              state: Uploading offset=6 length=Some(8)
            declare_length(8)
              ok
              state: Uploading offset=6 length=Some(8)
            declare_length(9)
              error: declared length 9 contradicts the known length 8
              state: Uploading offset=6 length=Some(8)
            next: > PATCH https://tus.example/files/abc | upload-length: 8 | upload-offset: 6 | body 6..8
        "#]],
    );
    check(
        created(Some(5), options(4)),
        "declare 6\ndeclare 5",
        expect![[r#"
        declare_length(6)
          error: declared length 6 contradicts the known length 5
          state: Creating offset=0 length=Some(5)
        declare_length(5)
          ok
          state: Creating offset=0 length=Some(5)
        next: > POST https://tus.example/files/ | upload-length: 5
    "#]],
    );
}

#[test]
fn garbage_head_does_not_change_the_length() {
    // A HEAD whose offset is past what was sent is rejected whole: its Upload-Length must not stick.
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        lost
        200 | upload-offset: 900 | upload-length: 1000
        200 | upload-offset: 4 | upload-defer-length: 1
        declare 10
        204 | upload-offset: 8
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=None
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < lost
              state: Syncing offset=4 length=None
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 900 | upload-length: 1000
              error: HEAD answered Upload-Offset 900, expected at most the 8 bytes sent
              state: Syncing offset=4 length=None
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-defer-length: 1
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=None
            declare_length(10)
              ok
              state: Uploading offset=4 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-length: 10 | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              state: Uploading offset=8 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 8 | body 8..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn garbage_head_does_not_forget_that_the_server_has_the_length() {
    check(
        created(Some(8), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 4
        lost
        200 | upload-offset: 9
        200 | upload-offset: 4 | upload-length: 8
        204 | upload-offset: 8
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 8
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              state: Uploading offset=4 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < lost
              state: Syncing offset=4 length=Some(8)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 9
              error: HEAD answered Upload-Offset 9, expected at most the 8 bytes sent
              state: Syncing offset=4 length=Some(8)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 4 | upload-length: 8
              ok
              event: Resynced { offset: 4, previous: 4 }
              state: Uploading offset=4 length=Some(8)
            > PATCH https://tus.example/files/abc | upload-offset: 4 | body 4..8
            < 204 | upload-offset: 8
              ok
              event: Confirmed { offset: 8 }
              event: Completed
              state: Complete offset=8 length=Some(8)
            next: nothing
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// Misuse.

#[test]
fn handle_response_with_nothing_in_flight_is_a_usage_error() {
    check(
        created(Some(4), options(4)),
        "answer 201 | location: /files/abc",
        expect![[r#"
        < 201 | location: /files/abc (unpolled)
          error: invalid use: handle_response called with no request in flight
          state: Creating offset=0 length=Some(4)
        next: > POST https://tus.example/files/ | upload-length: 4
    "#]],
    );
    check(
        created(Some(0), options(4)),
        "
        201 | location: /files/abc
        answer 204 | upload-offset: 0
        lost
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 0
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              event: Completed
              state: Complete offset=0 length=Some(0)
            < 204 | upload-offset: 0 (unpolled)
              error: invalid use: handle_response called with no request in flight
              state: Complete offset=0 length=Some(0)
            > (nothing to send)
            < lost
              state: Complete offset=0 length=Some(0)
            next: nothing
        "#]],
    );
}

#[test]
fn zero_chunk_size_is_refused() {
    assert_eq!(
        Upload::create(endpoint(), Some(1), options(0)).unwrap_err(),
        Error::Usage("the chunk size must be at least 1 byte")
    );
    assert!(matches!(Upload::resume(endpoint(), None, options(0)), Err(Error::Usage(_))));
    let mut upload = created(Some(1), options(1));
    assert!(matches!(upload.set_chunk_size(0), Err(Error::Usage(_))));
    assert_eq!(upload.chunk_size(), 1);
}

#[test]
fn invalid_metadata_is_refused_at_construction() {
    let mut metadata = Metadata::new();
    metadata.insert("bad key", "x");
    let err = Upload::create(endpoint(), Some(1), options(1).metadata(metadata)).unwrap_err();
    assert!(matches!(err, Error::Metadata(crate::MetadataError::InvalidKey { found: ' ', .. })), "{err:?}");
}

#[test]
fn accessors() {
    let mut upload = created(Some(9), options(4).creation_with_upload(true));
    assert_eq!(upload.state(), State::Creating);
    assert_eq!(upload.endpoint().unwrap().as_str(), ENDPOINT);
    assert!(upload.url().is_none());
    assert_eq!(upload.length(), Some(9));
    assert!(upload.options().creation_with_upload);
    assert!(!upload.is_in_flight());
    let plan = upload.poll_request().unwrap();
    assert_eq!(plan.kind, RequestKind::CreateWithUpload);
    assert!(upload.is_in_flight());
    upload.handle_failure();
    assert!(!upload.is_in_flight());
    upload.handle_failure();
    assert_eq!(upload.state(), State::Creating);
    assert!(upload.poll_event().is_none());
}

#[test]
fn zero_length_upload_without_creation_with_upload() {
    check(
        created(Some(0), options(4)),
        "204 | location: /files/empty | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT",
        expect![[r#"
        > POST https://tus.example/files/ | upload-length: 0
        < 204 | location: /files/empty | upload-expires: Wed, 25 Jun 2014 16:00:00 GMT
          ok
          event: Created https://tus.example/files/empty
          event: Expires Wed, 25 Jun 2014 16:00:00 GMT
          event: Completed
          state: Complete offset=0 length=Some(0)
        next: nothing
    "#]],
    );
}

#[test]
fn refused_length_declaration_is_followed_by_head() {
    check(
        created(None, options(4)),
        "
        201 | location: /files/abc
        declare 2
        400
        200 | upload-offset: 0 | upload-length: 2
        204 | upload-offset: 2
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            declare_length(2)
              ok
              state: Uploading offset=0 length=Some(2)
            > PATCH https://tus.example/files/abc | upload-length: 2 | upload-offset: 0 | body 0..2
            < 400
              error: PATCH answered 400 Bad Request
              state: Syncing offset=0 length=Some(2)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 2
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(2)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..2
            < 204 | upload-offset: 2
              ok
              event: Confirmed { offset: 2 }
              event: Completed
              state: Complete offset=2 length=Some(2)
            next: nothing
        "#]],
    );
}

// ---------------------------------------------------------------------------------------------------
// Servers that bend the protocol.

#[test]
fn head_without_any_length_header_does_not_resend_upload_length() {
    // A HEAD with neither `Upload-Length` nor `Upload-Defer-Length` (pitfall 6): sending `Upload-Length`
    // again would be a 400 on tusd and rustus, so the PATCH after it carries none.
    check(
        created(Some(10), options(6)),
        "
        201 | location: /files/abc
        lost
        200 | upload-offset: 3
        204 | upload-offset: 9
        204 | upload-offset: 10
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 10
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..6
            < lost
              state: Syncing offset=0 length=Some(10)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 3
              ok
              event: Resynced { offset: 3, previous: 0 }
              state: Uploading offset=3 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 3 | body 3..9
            < 204 | upload-offset: 9
              ok
              event: Confirmed { offset: 9 }
              state: Uploading offset=9 length=Some(10)
            > PATCH https://tus.example/files/abc | upload-offset: 9 | body 9..10
            < 204 | upload-offset: 10
              ok
              event: Confirmed { offset: 10 }
              event: Completed
              state: Complete offset=10 length=Some(10)
            next: nothing
        "#]],
    );
}

#[test]
fn head_with_defer_length_after_a_known_length_resends_it() {
    // The server says it lacks the length (it lost the PATCH that carried it): send it again.
    check(
        created(None, options(6)),
        "
        201 | location: /files/abc
        declare 4
        lost
        200 | upload-offset: 0 | upload-defer-length: 1
        204 | upload-offset: 4
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-defer-length: 1
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=None
            declare_length(4)
              ok
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-length: 4 | upload-offset: 0 | body 0..4
            < lost
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-defer-length: 1
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-length: 4 | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}

#[test]
fn a_server_that_keeps_accepting_nothing_is_reported_every_time() {
    // Each zero-progress answer is an error (for the retry budget) followed by a HEAD.
    check(
        created(Some(4), options(4)),
        "
        201 | location: /files/abc
        204 | upload-offset: 0
        200 | upload-offset: 0 | upload-length: 4
        204 | upload-offset: 0
        200 | upload-offset: 0 | upload-length: 4
        204 | upload-offset: 4
        ",
        expect![[r#"
            > POST https://tus.example/files/ | upload-length: 4
            < 201 | location: /files/abc
              ok
              event: Created https://tus.example/files/abc
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 0
              error: PATCH of 4 bytes at offset 0 was accepted, but the server kept none of them
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 4
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 0
              error: PATCH of 4 bytes at offset 0 was accepted, but the server kept none of them
              state: Syncing offset=0 length=Some(4)
            > HEAD https://tus.example/files/abc
            < 200 | upload-offset: 0 | upload-length: 4
              ok
              event: Resynced { offset: 0, previous: 0 }
              state: Uploading offset=0 length=Some(4)
            > PATCH https://tus.example/files/abc | upload-offset: 0 | body 0..4
            < 204 | upload-offset: 4
              ok
              event: Confirmed { offset: 4 }
              event: Completed
              state: Complete offset=4 length=Some(4)
            next: nothing
        "#]],
    );
}
