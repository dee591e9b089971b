//! The hostile-server catalogue: one table of named cases ([`catalogue`]), each a server that answers
//! the client's requests (OPTIONS?/POST/HEAD/PATCH...) with one broken or awkward response, and the
//! outcome the client must reach within [`CASE_BOUND`].
//!
//! - **Broken** servers are [`HostileServer`] scripts: raw bytes per request, in arrival order (the
//!   last reply repeats). The upload must end in the expected error (fatal, or retries exhausted),
//!   of the expected class, with a message naming the culprit (the header, the status, the request);
//!   never a panic, never a success.
//! - **Awkward but legal** servers are either the in-process [`TusServer`] (a correct tus server) with
//!   a configuration or injected faults, where the stored bytes must equal the source; or a
//!   [`HostileServer`] script playing a correct server, where what the server received (paths,
//!   offsets, body lengths) must be exactly what a correct client sends.
//!
//! Every case runs in its own task (a panic is caught and reported as a failure), at most
//! [`PARALLEL`] at a time. The test prints the whole table (`--nocapture`) and fails listing every
//! case that did not reach its outcome, with the line of the case in the table.
//!
//! After the table: two of its cases confirmed by real servers (413 on PATCH from rustus's body limit,
//! 413 on creation from @tus/server's `maxSize`), and a server that drips its answers a byte at a time
//! (error and success answers), which the scripted server cannot do.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use tus_retry::{Checksum, ChecksumAlgorithm, Error, Metadata, Source, Uploader};
use tus_tests::hostile::{HostileRequest, HostileServer, Reply};
use tus_tests::server::{Fault, FaultAction, RelativeMode, TusServer, TusServerBuilder};
use url::Url;

use super::{TestSleeper, chain, client, fast_retry, payload};

/// Every case ends (in its expected outcome or not) within this.
const CASE_BOUND: Duration = Duration::from_secs(10);
/// Cases running at once.
const PARALLEL: usize = 8;
/// The upload sent to a scripted server (one PATCH unless a case says otherwise).
const SMALL: usize = 1000;
/// The upload sent to the in-process server: three PATCHes of [`CHUNK`].
const LEN: usize = 150_000;
const CHUNK: u64 = 64 << 10;
/// Attempts per budget against broken servers: "5xx forever" ends after this many requests.
const BROKEN_ATTEMPTS: u32 = 3;
/// Attempts per budget against awkward servers.
const LEGAL_ATTEMPTS: u32 = 10;
/// The client's stall timeout against broken servers, so silence is detected quickly.
const SHORT_STALL: Duration = Duration::from_millis(500);
/// The client's stall timeout against awkward servers, so a slow machine does not add requests to
/// a script (cases that need a stall to be detected use [`SHORT_STALL`]).
const LONG_STALL: Duration = Duration::from_secs(2);

// ---- the table -------------------------------------------------------------------------------------

/// The catalogue. Broken cases first, then awkward-but-legal ones against the in-process server, then
/// awkward-but-legal scripts.
fn catalogue() -> Vec<Case> {
    use Class::{Protocol, Status, Timeout, Transport};
    use End::{Either, Exhausted, Fatal};
    vec![
        // -- Broken: creation.
        broken("location_missing", vec![tus(201, &[])], Fatal, Protocol, &["creation POST", "no Location header"]),
        broken("location_unparseable", vec![created("http://[::1")], Fatal, Protocol, &["invalid Location", "[::1"]),
        broken(
            "location_not_http",
            vec![created("ftp://127.0.0.1/files/x")],
            Fatal,
            Protocol,
            &["Location", "not an http"],
        ),
        broken("location_empty", vec![created("")], Fatal, Protocol, &["invalid Location", "empty"]),
        broken(
            "redirect_on_creation",
            vec![tus(302, &[("Location", "/elsewhere/")])],
            Fatal,
            Status(302),
            &["creation POST", "302"],
        ),
        broken(
            "version_refused_412",
            vec![tus(412, &[("Tus-Version", "2.0.0")])],
            Fatal,
            Status(412),
            &["creation POST", "412"],
        ),
        broken("too_large_413_on_creation", vec![tus(413, &[])], Fatal, Status(413), &["creation POST", "413"]),
        // -- Broken: PATCH answers.
        broken(
            "patch_offset_missing",
            vec![created(UPLOAD), tus(204, &[])],
            Fatal,
            Protocol,
            &["PATCH", "no Upload-Offset header"],
        ),
        broken(
            "patch_offset_negative",
            vec![created(UPLOAD), patched("-1")],
            Fatal,
            Protocol,
            &["Upload-Offset", "\"-1\""],
        ),
        broken(
            "patch_offset_non_numeric",
            vec![created(UPLOAD), patched("12abc")],
            Fatal,
            Protocol,
            &["Upload-Offset", "12abc"],
        ),
        broken(
            "patch_offset_overflowing",
            vec![created(UPLOAD), patched("18446744073709551616")],
            Fatal,
            Protocol,
            &["Upload-Offset", "18446744073709551616"],
        ),
        broken(
            "patch_offset_too_large",
            vec![created(UPLOAD), patched("5000")],
            Fatal,
            Protocol,
            &["Upload-Offset 5000", "0..=1000"],
        ),
        broken_op(
            "patch_offset_backwards",
            Op::Upload { chunk: 500 },
            vec![created(UPLOAD), patched("500"), patched("100")],
            Fatal,
            Protocol,
            &["Upload-Offset 100", "500..=1000"],
        ),
        broken(
            "patch_offset_sent_twice_differently",
            vec![created(UPLOAD), tus(204, &[("Upload-Offset", "1000"), ("Upload-Offset", "10")])],
            Fatal,
            Protocol,
            &["Upload-Offset", "more than once"],
        ),
        broken(
            "creation_claims_stored_bytes",
            vec![tus(201, &[("Location", UPLOAD), ("Upload-Offset", "500")])],
            Fatal,
            Protocol,
            &["creation POST", "Upload-Offset 500"],
        ),
        broken(
            "patch_not_found_404",
            vec![created(UPLOAD), tus(404, &[]), tus(404, &[]), created(UPLOAD), tus(404, &[]), tus(404, &[])],
            Fatal,
            Status(404),
            &["PATCH", "404"],
        ),
        broken(
            "patch_unsupported_media_type_415",
            vec![created(UPLOAD), tus(415, &[])],
            Fatal,
            Status(415),
            &["PATCH", "415"],
        ),
        broken(
            "patch_locked_423_forever",
            vec![created(UPLOAD), tus(423, &[])],
            Exhausted,
            Status(423),
            &["gave up", "423"],
        ),
        broken(
            "patch_conflict_409_forever",
            vec![created(UPLOAD), tus(409, &[])],
            Exhausted,
            Status(409),
            &["gave up", "409"],
        ),
        // -- Broken: HEAD answers (reached after a 503 on the PATCH).
        broken(
            "head_answered_as_get",
            vec![created(UPLOAD), tus(503, &[]), head_as_get()],
            Fatal,
            Protocol,
            &["HEAD", "no Upload-Offset header", "GET"],
        ),
        broken(
            "head_offset_beyond_length",
            vec![created(UPLOAD), tus(503, &[]), head("2000", "1000")],
            Fatal,
            Protocol,
            &["HEAD", "Upload-Offset 2000"],
        ),
        broken(
            "head_length_mismatch",
            vec![created(UPLOAD), tus(503, &[]), head("0", "999")],
            Fatal,
            Protocol,
            &["Upload-Length 999", "1000 bytes long"],
        ),
        broken_op(
            "metadata_broken",
            Op::Metadata,
            vec![head_with("1000", "1000", &[("Upload-Metadata", "filename aGVsbG8=,name n*t-base64")])],
            Fatal,
            Protocol,
            &["HEAD", "metadata"],
        ),
        broken(
            "upload_gone_twice",
            vec![created(UPLOAD), tus(503, &[]), tus(404, &[]), created(UPLOAD), tus(503, &[]), tus(404, &[])],
            Fatal,
            Status(404),
            &["HEAD", "404"],
        ),
        broken_op(
            "options_not_tus",
            Op::UploadAutoChecksum,
            vec![Reply::response(200, &[("Content-Type", "text/html")], b"<html>hello</html>")],
            Fatal,
            Protocol,
            &["OPTIONS", "no Tus-Version header"],
        ),
        // -- Broken: not HTTP, endless errors, silence.
        broken(
            "garbage_instead_of_http",
            vec![Reply::raw(GARBAGE.to_vec())],
            Exhausted,
            Transport,
            &["gave up", "creation POST", "invalid HTTP"],
        ),
        broken(
            "header_of_several_mib",
            vec![Reply::raw(huge_header())],
            Exhausted,
            Transport,
            &["gave up", "creation POST", "too large"],
        ),
        broken(
            "server_error_503_forever",
            vec![tus(503, &[])],
            Exhausted,
            Status(503),
            &["gave up after 3 attempts", "503"],
        ),
        broken(
            "server_error_500_forever_after_creation",
            vec![created(UPLOAD), tus(500, &[])],
            Exhausted,
            Status(500),
            &["gave up", "500", UPLOAD],
        ),
        broken("closes_every_connection", vec![Reply::Close], Exhausted, Transport, &["gave up", "connection failed"]),
        broken(
            "accepts_body_never_answers",
            vec![created(UPLOAD), Reply::AcceptBodyThenSilent],
            Exhausted,
            Timeout,
            &["gave up", "timed out"],
        ),
        broken("never_answers", vec![Reply::Silent], Exhausted, Timeout, &["gave up", "creation POST", "timed out"]),
        broken(
            "patch_stores_nothing_forever",
            vec![created(UPLOAD), patched("0")],
            Either,
            Protocol,
            &["PATCH", "none"],
        ),
        // -- Awkward but legal, against the in-process server: byte-identical uploads.
        legal(
            "locked_423_twice",
            same,
            vec![Fault::patch(FaultAction::status(423)).times(2)],
            Op::upload(),
            2,
            no_check,
        ),
        legal(
            "conflict_409_with_true_offset",
            same,
            vec![Fault::patch(FaultAction::conflict())],
            Op::upload(),
            1,
            no_check,
        ),
        legal(
            "checksum_mismatch_460_once",
            same,
            vec![Fault::patch(FaultAction::ChecksumMismatch)],
            Op::UploadChecksum,
            1,
            checksummed,
        ),
        legal(
            "checksum_mismatch_417_once",
            same,
            vec![Fault::patch(FaultAction::status(417))],
            Op::UploadChecksum,
            1,
            checksummed,
        ),
        legal("too_large_413_on_patch", |b| b.body_limit(40_000), vec![], Op::upload(), 0, shrank_below_40000),
        legal(
            "response_lost_after_body_stored",
            same,
            vec![Fault::patch(FaultAction::LoseResponse)],
            Op::upload(),
            1,
            nothing_resent,
        ),
        legal(
            "partial_acceptance",
            same,
            vec![Fault::patch(FaultAction::AcceptPartial { keep: 10_000 }).times(3)],
            Op::upload(),
            3,
            no_check,
        ),
        legal("ok_200_instead_of_204", |b| b.ok_status(200), vec![], Op::upload(), 0, no_check),
        legal(
            "relative_location",
            |b| b.relative_location(RelativeMode::Relative),
            vec![],
            Op::upload(),
            0,
            patched_the_upload,
        ),
        legal(
            "absolute_path_location",
            |b| b.relative_location(RelativeMode::AbsolutePath),
            vec![],
            Op::upload(),
            0,
            patched_the_upload,
        ),
        legal(
            "scheme_relative_location",
            |b| b.relative_location(RelativeMode::SchemeRelative),
            vec![],
            Op::upload(),
            0,
            patched_the_upload,
        ),
        legal(
            "server_error_500_twice",
            same,
            vec![Fault::patch(FaultAction::status(500)).times(2)],
            Op::upload(),
            2,
            no_check,
        ),
        legal(
            "unavailable_503_with_retry_after",
            same,
            vec![Fault::patch(FaultAction::status_with(503, &[("Retry-After", "1")]))],
            Op::upload(),
            1,
            no_check,
        ),
        legal(
            "connection_dropped_mid_body",
            same,
            vec![Fault::patch(FaultAction::DropMidBody { after: 20_000 })],
            Op::upload(),
            1,
            no_check,
        ),
        legal(
            "stalled_mid_body",
            same,
            vec![Fault::patch(FaultAction::StallMidBody { after: 20_000 })],
            Op::Upload { chunk: CHUNK }.stalling(),
            1,
            no_check,
        ),
        legal(
            "server_lost_acknowledged_bytes",
            same,
            vec![],
            Op::UploadLosingBytes { after: 2 * CHUNK, keep: 1000 },
            0,
            resynced_lower,
        ),
        // -- Awkward but legal, scripted: what the server received is exactly what a correct client sends.
        scripted("script_relative_location", vec![created("abc"), patched("1000")], LONG_STALL, |r| {
            expect_patch(r.last(), "/files/abc", 0, SMALL as u64)
        }),
        scripted("script_absolute_path_elsewhere", vec![created("/elsewhere/u1"), patched("1000")], LONG_STALL, |r| {
            expect_patch(r.last(), "/elsewhere/u1", 0, SMALL as u64)
        }),
        scripted(
            "script_200_where_204_is_meant",
            vec![created(UPLOAD), tus(200, &[("Upload-Offset", "1000")])],
            LONG_STALL,
            |r| expect_patch(r.last(), UPLOAD, 0, SMALL as u64),
        ),
        scripted(
            "script_partial_acceptance",
            vec![created(UPLOAD), patched("300"), patched("1000")],
            LONG_STALL,
            |r| {
                expect_methods(r, &["POST", "PATCH", "PATCH"])?;
                expect_patch(r.get(1), UPLOAD, 0, SMALL as u64)?;
                expect_patch(r.get(2), UPLOAD, 300, 700)
            },
        ),
        scripted(
            "script_conflict_409_connection_closed",
            vec![created(UPLOAD), Reply::RawNoDrain(response(409, &[])), head("0", "1000"), patched("1000")],
            LONG_STALL,
            |r| {
                expect_methods(r, &["POST", "PATCH", "HEAD", "PATCH"])?;
                expect_patch(r.last(), UPLOAD, 0, SMALL as u64)
            },
        ),
        scripted(
            "script_response_lost_after_body_stored",
            vec![created(UPLOAD), Reply::AcceptBodyThenSilent, head("1000", "1000")],
            SHORT_STALL,
            |r| {
                expect_methods(r, &["POST", "PATCH", "HEAD"])?;
                expect_patch(r.get(1), UPLOAD, 0, SMALL as u64)
            },
        ),
        scripted(
            "script_head_metadata_broken_while_resuming",
            vec![
                created(UPLOAD),
                tus(503, &[]),
                head_with("0", "1000", &[("Upload-Metadata", "filename !!!")]),
                patched("1000"),
            ],
            LONG_STALL,
            |r| {
                expect_methods(r, &["POST", "PATCH", "HEAD", "PATCH"])?;
                expect_patch(r.last(), UPLOAD, 0, SMALL as u64)
            },
        ),
        scripted(
            "script_locked_423_twice",
            vec![created(UPLOAD), tus(423, &[]), head("0", "1000"), tus(423, &[]), head("0", "1000"), patched("1000")],
            LONG_STALL,
            |r| {
                expect_methods(r, &["POST", "PATCH", "HEAD", "PATCH", "HEAD", "PATCH"])?;
                expect_patch(r.last(), UPLOAD, 0, SMALL as u64)
            },
        ),
    ]
}

// ---- script pieces ---------------------------------------------------------------------------------

/// The upload URL the scripts hand out (an absolute path, resolved against the creation URL).
const UPLOAD: &str = "/files/abc";

/// An SSH banner and binary noise where an HTTP response should be.
const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\x00\x00\x01\x14\x0a\x14\xff\xfe garbage\r\n\r\n";

/// A well-formed response with `Tus-Resumable: 1.0.0` and these headers.
fn response(code: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut all = vec![("Tus-Resumable", "1.0.0")];
    all.extend_from_slice(headers);
    tus_tests::hostile::response_bytes(code, &all, b"", true)
}

fn tus(code: u16, headers: &[(&str, &str)]) -> Reply {
    Reply::Raw(response(code, headers))
}

fn created(location: &str) -> Reply {
    tus(201, &[("Location", location)])
}

fn patched(offset: &str) -> Reply {
    tus(204, &[("Upload-Offset", offset)])
}

fn head(offset: &str, length: &str) -> Reply {
    head_with(offset, length, &[])
}

fn head_with(offset: &str, length: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("Upload-Offset", offset), ("Upload-Length", length), ("Cache-Control", "no-store")];
    headers.extend_from_slice(extra);
    tus(200, &headers)
}

/// What a CDN that turns HEAD into GET sends back: a page, no tus headers.
fn head_as_get() -> Reply {
    let page = b"<!doctype html><title>Upload</title><p>Not a tus answer</p>";
    Reply::response(200, &[("Content-Type", "text/html; charset=utf-8")], page)
}

/// A 201 whose head is several MiB long (one huge header).
fn huge_header() -> Vec<u8> {
    let mut bytes = b"HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\nX-Padding: ".to_vec();
    bytes.resize(bytes.len() + (6 << 20), b'a');
    bytes.extend_from_slice(b"\r\nLocation: /files/abc\r\nContent-Length: 0\r\n\r\n");
    bytes
}

// ---- checks of awkward cases -----------------------------------------------------------------------

type TusCheck = fn(&TusServer, &Url) -> Result<(), String>;
type ScriptCheck = fn(&[HostileRequest]) -> Result<(), String>;

fn same(builder: TusServerBuilder) -> TusServerBuilder {
    builder
}

fn no_check(_: &TusServer, _: &Url) -> Result<(), String> {
    Ok(())
}

fn patches(server: &TusServer) -> Vec<(u64, u64)> {
    server
        .requests_with(Method::PATCH)
        .iter()
        .map(|r| {
            let offset = r.header("upload-offset").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
            let len = r.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
            (offset, len)
        })
        .collect()
}

fn checksummed(server: &TusServer, _: &Url) -> Result<(), String> {
    let missing = server.requests_with(Method::PATCH).iter().filter(|r| r.header("upload-checksum").is_none()).count();
    if missing > 0 { Err(format!("{missing} PATCHes without Upload-Checksum")) } else { Ok(()) }
}

fn shrank_below_40000(server: &TusServer, _: &Url) -> Result<(), String> {
    let patches = patches(server);
    let refused = patches.iter().filter(|(_, len)| *len > 40_000).count();
    let last_big = patches.iter().rposition(|(_, len)| *len > 40_000);
    let small_after = last_big.is_some_and(|i| patches[i + 1..].iter().all(|(_, len)| *len <= 40_000));
    if refused == 0 || !small_after {
        return Err(format!("expected PATCHes above the 40000-byte limit, then only below it: {patches:?}"));
    }
    Ok(())
}

fn nothing_resent(server: &TusServer, _: &Url) -> Result<(), String> {
    let sent: u64 = patches(server).iter().map(|(_, len)| len).sum();
    if sent == LEN as u64 {
        Ok(())
    } else {
        Err(format!("{sent} body bytes sent for {LEN}: a stored chunk was sent again"))
    }
}

fn patched_the_upload(server: &TusServer, url: &Url) -> Result<(), String> {
    let wrong: Vec<String> =
        server.requests_with(Method::PATCH).iter().filter(|r| r.path != url.path()).map(|r| r.path.clone()).collect();
    if url.path().starts_with("/files/") && url.host_str() == Some("127.0.0.1") && wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("upload URL {url}, PATCHes to {wrong:?}"))
    }
}

fn resynced_lower(server: &TusServer, _: &Url) -> Result<(), String> {
    // After the loss the next PATCH starts from what the server still holds (1000), not from what it
    // had confirmed before.
    if patches(server).iter().any(|(offset, _)| *offset == 1000) {
        Ok(())
    } else {
        Err(format!("no PATCH resumed from the server's lower offset: {:?}", patches(server)))
    }
}

fn expect_methods(requests: &[HostileRequest], methods: &[&str]) -> Result<(), String> {
    let got: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    if got == methods { Ok(()) } else { Err(format!("requests {got:?}, expected {methods:?}")) }
}

fn expect_patch(request: Option<&HostileRequest>, path: &str, offset: u64, body: u64) -> Result<(), String> {
    let Some(r) = request else {
        return Err("missing request".into());
    };
    let got_offset = r.header("upload-offset").and_then(|v| v.parse::<u64>().ok());
    if r.method == "PATCH" && r.path == path && got_offset == Some(offset) && r.body_len == body {
        Ok(())
    } else {
        Err(format!(
            "got {} {} (Upload-Offset {got_offset:?}, {} body bytes), expected PATCH {path} at {offset} with {body}",
            r.method, r.path, r.body_len
        ))
    }
}

// ---- the case type and its constructors --------------------------------------------------------------

/// One entry of the catalogue.
struct Case {
    name: &'static str,
    /// Where the case is written, for failure messages.
    at: &'static Location<'static>,
    server: Server,
    op: Op,
    expect: Expect,
}

enum Server {
    Script(Vec<Reply>),
    Tus { setup: fn(TusServerBuilder) -> TusServerBuilder, faults: Vec<Fault> },
}

/// What the client is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Upload ([`SMALL`] bytes to a script, [`LEN`] to the in-process server) in chunks of `chunk`.
    Upload { chunk: u64 },
    /// Like `Upload`, with the client's [`SHORT_STALL`] so that a stall is detected quickly.
    UploadStalling { chunk: u64 },
    /// Upload with a SHA-1 `Upload-Checksum` on every PATCH (asks OPTIONS first).
    UploadChecksum,
    /// Upload with `Checksum::Auto` (asks OPTIONS first).
    UploadAutoChecksum,
    /// Upload; once the server confirmed `after` bytes, it loses all but `keep` of them.
    UploadLosingBytes { after: u64, keep: u64 },
    /// Read the metadata of an upload.
    Metadata,
}

impl Op {
    fn upload() -> Self {
        Self::Upload { chunk: CHUNK }
    }

    fn stalling(self) -> Self {
        match self {
            Self::Upload { chunk } => Self::UploadStalling { chunk },
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// `Error::Fatal`: not retried.
    Fatal,
    /// `Error::Exhausted` after exactly [`BROKEN_ATTEMPTS`] attempts.
    Exhausted,
    /// Either: whether retrying can help is the retry policy's call; the case only demands a clear
    /// error within the bound.
    Either,
}

/// The class of the client error behind the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The server broke the protocol (`Error::is_protocol`).
    Protocol,
    /// The server answered this status.
    Status(u16),
    /// The stall timeout expired.
    Timeout,
    /// The connection failed or what came back was not HTTP (no status, no timeout, not protocol).
    Transport,
}

enum Expect {
    Fails { end: End, class: Class, says: &'static [&'static str] },
    Stored { fired: usize, check: TusCheck },
    Received(ScriptCheck),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fails { end, class, .. } => {
                let class = match class {
                    Class::Status(code) => code.to_string(),
                    other => format!("{other:?}").to_lowercase(),
                };
                let end = match end {
                    End::Fatal => "fatal",
                    End::Exhausted => "exhausted",
                    End::Either => "fatal or exhausted",
                };
                write!(f, "{end} ({class})")
            }
            Self::Stored { .. } => f.write_str("byte-identical"),
            Self::Received(_) => f.write_str("correct requests"),
        }
    }
}

#[track_caller]
fn broken(name: &'static str, script: Vec<Reply>, end: End, class: Class, says: &'static [&'static str]) -> Case {
    broken_op(name, Op::upload(), script, end, class, says)
}

#[track_caller]
fn broken_op(
    name: &'static str,
    op: Op,
    script: Vec<Reply>,
    end: End,
    class: Class,
    says: &'static [&'static str],
) -> Case {
    Case {
        name,
        at: Location::caller(),
        server: Server::Script(script),
        op,
        expect: Expect::Fails { end, class, says },
    }
}

#[track_caller]
fn legal(
    name: &'static str,
    setup: fn(TusServerBuilder) -> TusServerBuilder,
    faults: Vec<Fault>,
    op: Op,
    fired: usize,
    check: TusCheck,
) -> Case {
    Case {
        name,
        at: Location::caller(),
        server: Server::Tus { setup, faults },
        op,
        expect: Expect::Stored { fired, check },
    }
}

#[track_caller]
fn scripted(name: &'static str, script: Vec<Reply>, stall: Duration, check: ScriptCheck) -> Case {
    let op = if stall == SHORT_STALL { Op::UploadStalling { chunk: CHUNK } } else { Op::upload() };
    Case { name, at: Location::caller(), server: Server::Script(script), op, expect: Expect::Received(check) }
}

// ---- running a case ------------------------------------------------------------------------------------

/// What happened, for the table.
struct Outcome {
    result: String,
    elapsed: Duration,
    failure: Option<String>,
}

enum Got {
    Uploaded(Url),
    Metadata(Metadata),
}

fn uploader(case: &Case, sleeper: Arc<TestSleeper>) -> Uploader {
    let broken = matches!(case.expect, Expect::Fails { .. });
    let stall = match case.op {
        _ if broken => SHORT_STALL,
        Op::UploadStalling { .. } => SHORT_STALL,
        _ => LONG_STALL,
    };
    let attempts = if broken { BROKEN_ATTEMPTS } else { LEGAL_ATTEMPTS };
    let mut uploader = Uploader::new(client(stall)).chunk_size(CHUNK).retry(fast_retry(attempts, sleeper));
    match case.op {
        Op::Upload { chunk } | Op::UploadStalling { chunk } => uploader = uploader.chunk_size(chunk),
        Op::UploadChecksum => uploader = uploader.checksum(Checksum::Algorithm(ChecksumAlgorithm::Sha1)),
        Op::UploadAutoChecksum => uploader = uploader.checksum(Checksum::Auto),
        Op::UploadLosingBytes { .. } | Op::Metadata => {}
    }
    uploader
}

async fn drive(uploader: &Uploader, op: Op, endpoint: &Url, data: &[u8]) -> Result<Got, Error> {
    match op {
        Op::Metadata => uploader.metadata(&endpoint.join("abc").expect("valid URL")).await.map(Got::Metadata),
        _ => uploader.upload(endpoint, Source::bytes(data.to_vec()), Metadata::new()).await.map(Got::Uploaded),
    }
}

async fn run(case: Arc<Case>) -> Result<String, String> {
    let sleeper = TestSleeper::none();
    let mut uploader = uploader(&case, Arc::clone(&sleeper));
    match &case.server {
        Server::Script(script) => {
            let server = HostileServer::start(script.clone()).await;
            let data = payload(SMALL, 7);
            let got = drive(&uploader, case.op, &server.url("/files/"), &data).await;
            let requests = server.requests();
            let seen: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
            let result = match &case.expect {
                Expect::Fails { end, class, says } => judge_failure(got, *end, *class, says, &requests),
                Expect::Received(check) => match got {
                    Ok(Got::Uploaded(url)) => {
                        check(&requests).map_err(|e| format!("uploaded to {url}, but {e}"))?;
                        Ok(format!("ok, {} requests", requests.len()))
                    }
                    Ok(Got::Metadata(_)) => Err("read metadata instead of uploading".into()),
                    Err(e) => Err(format!("failed: {}", chain(&e))),
                },
                Expect::Stored { .. } => Err("a scripted server stores nothing".into()),
            };
            result.map_err(|e| format!("{e}\n    requests: {seen:?}"))
        }
        Server::Tus { setup, faults } => {
            let server = Arc::new(setup(TusServer::builder()).start().await);
            for fault in faults {
                server.inject(fault.clone());
            }
            if let Op::UploadLosingBytes { after, keep } = case.op {
                let (server, done) = (Arc::clone(&server), AtomicBool::new(false));
                uploader = uploader.on_progress(move |p| {
                    if p.confirmed >= after && !done.swap(true, Ordering::SeqCst) {
                        for id in server.upload_ids() {
                            server.truncate(&id, keep);
                        }
                    }
                });
            }
            let data = payload(LEN, 8);
            let got = drive(&uploader, case.op, &server.endpoint(), &data).await;
            drop(uploader); // It may hold the server (progress hook).
            let Expect::Stored { fired, check } = &case.expect else {
                return Err("the in-process server only plays awkward-but-legal cases".into());
            };
            let url = match got {
                Ok(Got::Uploaded(url)) => url,
                Ok(Got::Metadata(_)) => return Err("read metadata instead of uploading".into()),
                Err(e) => return Err(format!("failed: {}", chain(&e))),
            };
            let stored = server.stored_bytes(&url).ok_or_else(|| format!("the server has no upload at {url}"))?;
            if stored != data {
                return Err(format!("stored {} bytes that differ from the {} sent", stored.len(), data.len()));
            }
            if server.faults_fired() < *fired {
                return Err(format!("only {} of {fired} faults fired: the case proves nothing", server.faults_fired()));
            }
            check(&server, &url)?;
            Ok(format!("ok, {} requests, {} retries", server.requests().len(), sleeper.calls()))
        }
    }
}

fn judge_failure(
    got: Result<Got, Error>,
    end: End,
    class: Class,
    says: &[&str],
    requests: &[HostileRequest],
) -> Result<String, String> {
    let e = match got {
        Ok(Got::Uploaded(url)) => return Err(format!("reported success ({url})")),
        Ok(Got::Metadata(m)) => return Err(format!("reported success (metadata {m:?})")),
        Err(e) => e,
    };
    let text = chain(&e);
    let ended = match (&e, end) {
        (Error::Fatal { .. }, End::Fatal) => true,
        (Error::Exhausted { attempts, .. }, End::Exhausted | End::Either) => *attempts == BROKEN_ATTEMPTS,
        (Error::Fatal { .. }, End::Either) => true,
        _ => false,
    };
    if !ended {
        return Err(format!("expected {end:?}, got: {text}"));
    }
    let Some(client_error) = e.client_error() else {
        return Err(format!("no client error behind: {text}"));
    };
    let class_ok = match class {
        Class::Protocol => client_error.is_protocol(),
        Class::Status(code) => client_error.status().is_some_and(|s| s.as_u16() == code),
        Class::Timeout => client_error.is_timeout(),
        Class::Transport => {
            !client_error.is_protocol() && client_error.status().is_none() && !client_error.is_timeout()
        }
    };
    if !class_ok {
        return Err(format!("expected a {class:?} error, got: {text}"));
    }
    let lower = text.to_lowercase();
    let missing: Vec<&&str> = says.iter().filter(|s| !lower.contains(&s.to_lowercase())).collect();
    if !missing.is_empty() {
        return Err(format!("the message lacks {missing:?}: {text}"));
    }
    let mut root: &dyn std::error::Error = &e;
    while let Some(next) = root.source() {
        root = next;
    }
    let shown = e.to_string();
    let cause = root.to_string();
    if shown.contains(&cause) {
        Ok(format!("{} requests: {shown}", requests.len()))
    } else {
        Ok(format!("{} requests: {shown} (cause: {cause})", requests.len()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_of_broken_and_awkward_servers() {
    let cases: Vec<Arc<Case>> = catalogue().into_iter().map(Arc::new).collect();
    let broken = cases.iter().filter(|c| matches!(c.expect, Expect::Fails { .. })).count();
    assert!(broken >= 25, "the catalogue needs at least 25 broken cases, has {broken}");
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");

    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for case in &cases {
        let (case, permits) = (Arc::clone(case), Arc::clone(&permits));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let begun = Instant::now();
            // A panic inside the client surfaces as a JoinError of this inner task.
            let result = match tokio::time::timeout(CASE_BOUND, tokio::spawn(run(case))).await {
                Err(_) => Err(format!("no outcome within {CASE_BOUND:?}")),
                Ok(Err(join)) if join.is_panic() => Err(format!("panicked: {join}")),
                Ok(Err(join)) => Err(format!("task failed: {join}")),
                Ok(Ok(result)) => result,
            };
            let elapsed = begun.elapsed();
            match result {
                Ok(result) => Outcome { result, elapsed, failure: None },
                Err(failure) => Outcome { result: "FAILED".into(), elapsed, failure: Some(failure) },
            }
        }));
    }
    let mut failures = Vec::new();
    eprintln!("| case | expected | result | time |\n|---|---|---|---|");
    for (case, task) in cases.iter().zip(tasks) {
        let outcome = task.await.expect("the case runner does not panic");
        let result = outcome.result.replace('|', "\\|");
        eprintln!("| {} | {} | {} | {:.0?} |", case.name, case.expect, result, outcome.elapsed);
        if let Some(failure) = outcome.failure {
            failures.push(format!("{} ({}): {failure}", case.name, case.at));
        }
    }
    eprintln!("{} cases ({broken} broken) in {:.2?}", cases.len(), started.elapsed());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

// ---- the same, from real servers -----------------------------------------------------------------------

/// 413 on PATCH from a real server: rustus with its default 256 KiB body limit and 1 MiB chunks. The
/// client halves the chunk until it fits (1 MiB, 512 KiB, 256 KiB) and the stored file is the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_rustus_body_limit_below_the_chunk_size() {
    let server = tus_tests::real::RealServer::rustus(tus_tests::real::RustusOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let data = payload(3 << 20, 9);
    let (_dir, path) = super::source_file(&data);
    let sleeper = TestSleeper::none();
    let uploader = Uploader::new(client(LONG_STALL)).chunk_size(1 << 20).retry(fast_retry(LEGAL_ATTEMPTS, sleeper));
    let what = "rustus with a 256 KiB body limit, 1 MiB chunks";
    let url = super::upload_file(&server, &uploader, &server.endpoint(), &path, what).await;
    assert!(server.logs().contains("\"413\""), "{what}: rustus never answered 413:\n{}", server.logs());
    super::assert_stored(&server, &url, &data, what);
}

/// 413 on creation from a real server: @tus/server with `maxSize` below the upload's length. Fatal at
/// once, naming the status; nothing is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_node_max_size_413_on_creation() {
    let options = tus_tests::real::NodeOptions { max_size: Some(1000), ..Default::default() };
    let server = super::node(options).await;
    let sleeper = TestSleeper::none();
    let uploader = Uploader::new(client(LONG_STALL)).retry(fast_retry(LEGAL_ATTEMPTS, Arc::clone(&sleeper)));
    let result = tokio::time::timeout(
        CASE_BOUND,
        uploader.upload(&server.endpoint(), Source::bytes(payload(5000, 10)), Metadata::new()),
    )
    .await
    .expect("a 413 on creation ends at once");
    let e = result.expect_err("an upload above the server's maximum size cannot succeed");
    assert!(matches!(e, Error::Fatal { .. }), "{}", chain(&e));
    assert_eq!(e.client_error().and_then(|c| c.status()).map(|s| s.as_u16()), Some(413), "{}", chain(&e));
    assert!(chain(&e).contains("creation POST") && chain(&e).contains("413"), "{}", chain(&e));
    assert_eq!(sleeper.calls(), 0, "a 413 on creation was retried: {e}");
}

// ---- a server that drips its answers -------------------------------------------------------------------

/// A server whose answers never finish: for each request it sends `head(method)` (which announces a
/// 100 000-byte body), then one body byte every 100 ms, each of them progress for a stall watchdog.
/// [`HostileServer`] writes whole replies, so this one is written here.
async fn dripping_server(head: fn(&str) -> &'static [u8]) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            connections.spawn(async move {
                // Read the head and the body (Content-Length) of one request.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                let (end, body) = loop {
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let body = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, body);
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                while buf.len() < end + body {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let method = String::from_utf8_lossy(&buf[..end]).split(' ').next().unwrap_or("").to_owned();
                if stream.write_all(head(&method)).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if stream.write_all(b"x").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, task)
}

/// An error answer whose body drips forever: each attempt ends one stall timeout after the head, so
/// the upload gives up within the bound instead of reading 64 KiB at 10 bytes a second (this used to
/// take hours: the watchdog saw every byte as progress).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_body_dripping_forever() {
    let (addr, server) =
        dripping_server(|_| b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100000\r\n\r\n").await;
    let uploader = Uploader::new(client(SHORT_STALL)).retry(fast_retry(BROKEN_ATTEMPTS, TestSleeper::none()));
    let endpoint = Url::parse(&format!("http://{addr}/files/")).expect("valid URL");
    let started = Instant::now();
    let result = tokio::time::timeout(
        CASE_BOUND,
        uploader.upload(&endpoint, Source::bytes(payload(SMALL, 11)), Metadata::new()),
    )
    .await
    .unwrap_or_else(|_| panic!("a dripping 503 held the upload for more than {CASE_BOUND:?}"));
    server.abort();
    let e = result.expect_err("503 forever cannot succeed");
    assert!(matches!(e, Error::Exhausted { attempts: BROKEN_ATTEMPTS, .. }), "{}", chain(&e));
    assert_eq!(e.client_error().and_then(|c| c.status()).map(|s| s.as_u16()), Some(503), "{}", chain(&e));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

/// Success answers whose bodies drip forever: the answer is the head, so the upload goes on after one
/// stall timeout per request and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_bodies_dripping_forever() {
    let (addr, server) = dripping_server(|method| match method {
        "POST" => {
            b"HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\nLocation: /files/abc\r\nContent-Length: 100000\r\n\r\n"
        }
        _ => b"HTTP/1.1 200 OK\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 1000\r\nContent-Length: 100000\r\n\r\n",
    })
    .await;
    let uploader = Uploader::new(client(SHORT_STALL)).retry(fast_retry(BROKEN_ATTEMPTS, TestSleeper::none()));
    let endpoint = Url::parse(&format!("http://{addr}/files/")).expect("valid URL");
    let result = tokio::time::timeout(
        CASE_BOUND,
        uploader.upload(&endpoint, Source::bytes(payload(SMALL, 12)), Metadata::new()),
    )
    .await
    .unwrap_or_else(|_| panic!("dripping answers held the upload for more than {CASE_BOUND:?}"));
    server.abort();
    let url = result.unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(url.path(), "/files/abc");
}
