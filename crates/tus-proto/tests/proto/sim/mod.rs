//! A simulated tus server that misbehaves on demand, and a driver that runs an [`Upload`] against it and
//! checks the state machine's invariants after every step.
//!
//! Shared by the property tests and by the `upload_machine` fuzz target (which includes this file by
//! path), so it uses nothing but `tus_proto` and the `http` and `url` it re-exports.
//!
//! Every decision of the server (and of the driver, such as declaring a deferred length early) is taken
//! from a byte string. While bytes remain, the server picks among correct answers, partial acceptance,
//! lost responses after storing all, some or none of a body, 409, 423, 5xx, 460/417, 413, data loss
//! (a rollback to a lower offset), expiry (404/410/403) and detectable garbage. When the bytes run out
//! it answers correctly, and the upload must then complete within a bounded number of steps.
//!
//! The invariants checked (a violation panics with a message and the transcript so far):
//! 1. every PATCH carries the `Upload-Offset` the server last confirmed to the machine (by an accepted
//!    PATCH, creation or HEAD answer), and follows an accepted answer, never a failure;
//! 2. bodies start at that offset and never pass the source's length;
//! 3. `is_complete()` only when the server holds every byte and knows the length;
//! 4. with a correct server the upload completes within a bounded number of steps;
//! 5. the server is never sent `Upload-Length` when it already knows the length (so at most one
//!    PATCH per upload carries it successfully).

use std::fmt::Write as _;

use tus_proto::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tus_proto::url::Url;
use tus_proto::{Body, ChecksumAlgorithm, ChecksumPlacement, Event, RequestKind, RequestPlan, ResponseHead, State};
use tus_proto::{Upload, UploadOptions};

/// The creation endpoint of the simulated server.
pub(crate) const ENDPOINT: &str = "https://tus.example/files/";

/// A source of decisions: the bytes, then zeros ("behave") once they run out.
#[derive(Debug)]
pub(crate) struct Choices<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Choices<'a> {
    /// Decisions taken from `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The next decision byte; 0 once the bytes are used up.
    pub(crate) fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..=max` (0 once the bytes are used up).
    pub(crate) fn upto(&mut self, max: u64) -> u64 {
        let b = u64::from(self.byte());
        if max == 0 { 0 } else { b % (max + 1) }
    }

    /// Whether every byte has been used: from now on the server behaves.
    pub(crate) fn exhausted(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// What to upload and how.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// The source's true length.
    pub(crate) length: u64,
    /// Whether the upload is created with a deferred length (declared once the driver "reaches the end").
    pub(crate) deferred: bool,
    /// The initial chunk size (at least 1).
    pub(crate) chunk_size: u64,
    /// Whether to use creation-with-upload.
    pub(crate) creation_with_upload: bool,
    /// Whether to ask for a checksum on every PATCH.
    pub(crate) checksum: bool,
}

impl Scenario {
    /// A scenario read from the first bytes of `choices`.
    pub(crate) fn from_choices(choices: &mut Choices<'_>) -> Self {
        let flags = choices.byte();
        let length = match flags & 3 {
            0 => 0,
            1 => choices.upto(16),
            2 => choices.upto(64),
            _ => u64::from(choices.byte()) * 4 + u64::from(choices.byte() & 3),
        };
        Self {
            length,
            deferred: flags & 4 != 0,
            chunk_size: 1 + choices.upto(40),
            creation_with_upload: flags & 8 != 0,
            checksum: flags & 16 != 0,
        }
    }
}

/// One upload as the server holds it.
#[derive(Debug, Clone)]
struct Stored {
    /// The bytes the server really holds.
    offset: u64,
    /// The length, once the server knows it.
    length: Option<u64>,
    /// The end of the furthest body the client ever planned for this upload.
    planned_end: u64,
    /// Expired or deleted.
    gone: bool,
}

/// The simulated server.
#[derive(Debug, Default)]
pub(crate) struct Server {
    uploads: Vec<Stored>,
    /// How many requests it answered, by kind: POST, HEAD, PATCH.
    pub(crate) counts: [u64; 3],
}

/// What the server did with a request.
enum Answer {
    Lost,
    Response(ResponseHead),
}

fn response(status: u16, headers: &[(&str, String)]) -> Answer {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    Answer::Response(ResponseHead::new(StatusCode::from_u16(status).unwrap(), map))
}

fn upload_id(url: &Url) -> Option<usize> {
    url.as_str().strip_prefix(ENDPOINT)?.parse().ok()
}

impl Server {
    /// The upload at `url`, if this server created it.
    fn stored(&self, url: &Url) -> Option<&Stored> {
        upload_id(url).and_then(|id| self.uploads.get(id))
    }

    fn answer(&mut self, plan: &RequestPlan, choices: &mut Choices<'_>, log: &mut String) -> Answer {
        match plan.kind {
            RequestKind::Create | RequestKind::CreateWithUpload => {
                self.counts[0] += 1;
                self.create(plan, choices, log)
            }
            RequestKind::Head => {
                self.counts[1] += 1;
                self.head(plan, choices, log)
            }
            RequestKind::Patch => {
                self.counts[2] += 1;
                self.patch(plan, choices, log)
            }
            other => panic!("the machine planned {other:?}\n{log}"),
        }
    }

    fn create(&mut self, plan: &RequestPlan, choices: &mut Choices<'_>, log: &mut String) -> Answer {
        let length = plan.headers.get("upload-length").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let deferred = plan.headers.get("upload-defer-length").is_some_and(|v| v == "1");
        assert!(length.is_some() != deferred, "POST needs Upload-Length xor Upload-Defer-Length\n{log}");
        let body = plan.body.len();
        let mut create = |offset: u64| {
            self.uploads.push(Stored { offset, length, planned_end: body, gone: false });
            self.uploads.len() - 1
        };
        let location = |id: usize, form: u8| match form % 3 {
            0 => format!("{ENDPOINT}{id}"),
            1 => format!("/files/{id}"),
            _ => id.to_string(),
        };
        let with_offset = |id: usize, form: u8, offset: u64| {
            let mut headers = vec![("location", location(id, form))];
            if plan.kind == RequestKind::CreateWithUpload {
                headers.push(("upload-offset", offset.to_string()));
            }
            headers
        };
        let c = choices.byte();
        if c < 128 {
            let id = create(body);
            return response(201, &with_offset(id, c, body));
        }
        match c % 9 {
            0 => {
                let k = choices.upto(body);
                let id = create(k);
                response(201, &with_offset(id, c, k))
            }
            1 => {
                // The body was ignored (tusd without the content type): no Upload-Offset.
                let id = create(0);
                response(201, &[("location", location(id, c))])
            }
            2 => {
                let k = choices.upto(body);
                create(k);
                Answer::Lost
            }
            3 => Answer::Lost,
            4 => response(500, &[]),
            5 => {
                create(0);
                response(201, &[])
            }
            6 => {
                let id = create(body);
                let mut headers = with_offset(id, c, body);
                headers.retain(|(n, _)| *n != "upload-offset");
                headers.push(("upload-offset", (body + 1).to_string()));
                response(201, &headers)
            }
            7 => response(413, &[]),
            _ => {
                let id = create(body);
                let mut headers = with_offset(id, c, body);
                headers.push(("upload-expires", "1718000000".to_owned()));
                response(200, &headers)
            }
        }
    }

    fn info_headers(stored: &Stored) -> Vec<(&'static str, String)> {
        let mut headers = vec![("upload-offset", stored.offset.to_string()), ("cache-control", "no-store".into())];
        match stored.length {
            Some(l) => {
                headers.push(("upload-length", l.to_string()));
                headers.push(("content-length", l.to_string()));
            }
            None => headers.push(("upload-defer-length", "1".into())),
        }
        headers
    }

    fn head(&mut self, plan: &RequestPlan, choices: &mut Choices<'_>, log: &mut String) -> Answer {
        let Some(id) = upload_id(&plan.url).filter(|id| *id < self.uploads.len()) else {
            panic!("HEAD of an upload this server never created: {}\n{log}", plan.url);
        };
        let stored = &mut self.uploads[id];
        if stored.gone {
            return response(404, &[]);
        }
        let c = choices.byte();
        if c < 128 {
            return response(if c % 2 == 0 { 200 } else { 204 }, &Self::info_headers(stored));
        }
        match c % 9 {
            0 => Answer::Lost,
            1 => response(423, &[]),
            2 => response(if c % 2 == 0 { 500 } else { 503 }, &[]),
            3 => {
                // Data loss: a buffering proxy or store kept less than it confirmed.
                stored.offset = choices.upto(stored.offset);
                let _ = writeln!(log, "  (server rolls back to {})", stored.offset);
                response(200, &Self::info_headers(stored))
            }
            // A HEAD answered as a GET.
            4 => response(200, &[("content-type", "text/html".into()), ("content-length", "42".into())]),
            5 => {
                // An offset past anything the client ever sent, with a length to match it.
                let offset = stored.planned_end + 1 + choices.upto(7);
                let length = offset + choices.upto(3);
                response(200, &[("upload-offset", offset.to_string()), ("upload-length", length.to_string())])
            }
            6 => {
                stored.gone = true;
                let _ = writeln!(log, "  (upload expires)");
                response([404, 410, 403][usize::from(c % 3)], &[])
            }
            7 => response(200, &[("upload-offset", ["-1", "abc", ""][usize::from(c % 3)].into())]),
            _ => match stored.length {
                // A length that contradicts the one the client sent.
                Some(l) => response(
                    200,
                    &[("upload-offset", stored.offset.to_string()), ("upload-length", (l + 1).to_string())],
                ),
                None => response(200, &Self::info_headers(stored)),
            },
        }
    }

    fn patch(&mut self, plan: &RequestPlan, choices: &mut Choices<'_>, log: &mut String) -> Answer {
        let Some(id) = upload_id(&plan.url).filter(|id| *id < self.uploads.len()) else {
            panic!("PATCH of an upload this server never created: {}\n{log}", plan.url);
        };
        let Body::Source(range) = plan.body.clone() else { panic!("PATCH without a source body\n{log}") };
        let offset = plan.offset().expect("PATCH without Upload-Offset");
        let declared = plan.headers.get("upload-length").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        let stored = &mut self.uploads[id];
        stored.planned_end = stored.planned_end.max(range.end);
        if stored.gone {
            return response(404, &[]);
        }
        if declared.is_some() && stored.length.is_some() {
            panic!("invariant 5: Upload-Length sent to a server that already knows the length\n{log}");
        }
        let c = choices.byte();
        let c = if c < 128 { 0 } else { 1 + c % 14 };
        if c == 13 {
            stored.offset = choices.upto(stored.offset);
            let _ = writeln!(log, "  (server rolls back to {})", stored.offset);
        }
        match c {
            4 => return Answer::Lost,
            5 => return response(409, &[]),
            6 => return response(423, &[]),
            8 => return response(if choices.byte() % 2 == 0 { 460 } else { 417 }, &[]),
            9 => return response(413, &[]),
            _ => {}
        }
        if offset != stored.offset {
            return response(409, &[]);
        }
        if let Some(length) = declared {
            if length < stored.offset {
                return response(400, &[]);
            }
            stored.length = Some(length);
        }
        if stored.length.is_some_and(|l| range.end > l) {
            return response(413, &[]);
        }
        let len = range.end - range.start;
        let mut store = |k: u64| {
            stored.offset = range.start + k;
            stored.offset
        };
        match c {
            1 => {
                let k = choices.upto(len.saturating_sub(1));
                response(204, &[("upload-offset", store(k).to_string())])
            }
            2 => {
                store(len);
                Answer::Lost
            }
            3 => {
                store(choices.upto(len));
                Answer::Lost
            }
            7 => {
                // tusd's read timeout: part of the body stored, then 500.
                store(choices.upto(len));
                response(500, &[])
            }
            10 => response(204, &[("upload-offset", (store(len) + 1).to_string())]),
            11 if range.start > 0 => response(204, &[("upload-offset", (range.start - 1).to_string())]),
            11 => response(204, &[]),
            12 => response(200, &[("upload-offset", store(len).to_string()), ("upload-expires", "not a date".into())]),
            _ => response(204, &[("upload-offset", store(len).to_string())]),
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub(crate) struct Report {
    /// Steps (requests planned) in all.
    pub(crate) steps: u64,
    /// Steps after the server started to behave.
    pub(crate) honest_steps: u64,
    /// How many times the upload was restarted after it was gone.
    pub(crate) restarts: u64,
    /// POST, HEAD and PATCH counts.
    pub(crate) counts: [u64; 3],
    /// The transcript.
    pub(crate) log: String,
}

/// The most steps a run takes while the server still misbehaves.
const MAX_CHAOS_STEPS: u64 = 1_000_000;

fn offset_of(response: &ResponseHead) -> Option<u64> {
    response.headers.get("upload-offset").and_then(|v| v.to_str().ok()?.parse().ok())
}

/// Runs `scenario` against a server that takes its decisions from `choices`, checking the invariants at
/// every step. Panics on a violation.
pub(crate) fn run(scenario: &Scenario, choices: &mut Choices<'_>) -> Report {
    let total = scenario.length;
    let mut options = UploadOptions::default()
        .chunk_size(scenario.chunk_size.max(1))
        .creation_with_upload(scenario.creation_with_upload);
    if scenario.checksum {
        options = options.checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Header);
    }
    let endpoint = Url::parse(ENDPOINT).unwrap();
    let mut upload = Upload::create(endpoint, (!scenario.deferred).then_some(total), options).expect("a valid upload");
    let mut server = Server::default();
    let mut log = format!("{scenario:?}\n");

    // What the driver saw the server confirm, and whether the last answer was accepted.
    let mut confirmed: Option<u64> = None;
    let mut current_url: Option<Url> = None;
    let mut last_accepted = false;
    let mut report = Report { steps: 0, honest_steps: 0, restarts: 0, counts: [0; 3], log: String::new() };
    let mut honest_budget: Option<u64> = None;

    loop {
        report.steps += 1;
        if choices.exhausted() {
            // From here on the server behaves: the upload must finish in a bounded number of steps.
            let budget = *honest_budget.get_or_insert_with(|| total / upload.chunk_size() + 8);
            report.honest_steps += 1;
            assert!(
                report.honest_steps <= budget,
                "invariant 4: no completion {budget} steps after the server started to behave\n{log}"
            );
        } else {
            assert!(report.steps <= MAX_CHAOS_STEPS + 1, "the driver loops\n{log}");
        }

        // The driver reads ahead: a deferred upload's length is declared once the source's end is within
        // the next chunk (and below, at random, earlier while a request is in flight).
        if upload.length().is_none() && upload.offset().saturating_add(upload.chunk_size()) >= total {
            let _ = writeln!(log, "declare_length({total})");
            upload.declare_length(total).unwrap_or_else(|e| panic!("declare_length({total}): {e}\n{log}"));
        }

        let Some(plan) = upload.poll_request() else {
            match upload.state() {
                State::Complete => break,
                State::Gone => {
                    let _ = writeln!(log, "restart()");
                    upload.restart().unwrap_or_else(|e| panic!("restart: {e}\n{log}"));
                    report.restarts += 1;
                    confirmed = None;
                    current_url = None;
                    last_accepted = false;
                    continue;
                }
                other => panic!("no request to send in state {other:?}\n{log}"),
            }
        };
        assert!(upload.poll_request().is_none(), "a second request while one is in flight\n{log}");
        trim_log(&mut log);
        let _ = writeln!(
            log,
            "> {} {} offset={:?} length={:?} body={:?}",
            plan.method,
            plan.url.path(),
            plan.offset(),
            plan.headers.get("upload-length"),
            plan.body.range()
        );
        check_plan(scenario, &upload, &plan, confirmed, current_url.as_ref(), last_accepted, &log);
        if upload.length().is_none() && !choices.exhausted() && choices.byte() >= 192 {
            let _ = writeln!(log, "declare_length({total}) while the request is in flight");
            upload.declare_length(total).unwrap_or_else(|e| panic!("declare_length({total}): {e}\n{log}"));
        }

        match server.answer(&plan, choices, &mut log) {
            Answer::Lost => {
                let _ = writeln!(log, "< lost");
                upload.handle_failure();
                last_accepted = false;
            }
            Answer::Response(response) => {
                let _ = write!(log, "< {}", response.status.as_u16());
                for (name, value) in &response.headers {
                    let _ = write!(log, " | {name}: {}", String::from_utf8_lossy(value.as_bytes()));
                }
                log.push('\n');
                match upload.handle_response(&response) {
                    Ok(()) => {
                        last_accepted = true;
                        confirmed = Some(match plan.kind {
                            RequestKind::Create | RequestKind::CreateWithUpload => {
                                current_url = upload.url().cloned();
                                assert_eq!(
                                    upload.url().and_then(upload_id),
                                    Some(server.uploads.len() - 1),
                                    "the machine does not use the URL just created\n{log}"
                                );
                                offset_of(&response).unwrap_or(0)
                            }
                            _ => offset_of(&response).expect("an accepted answer without Upload-Offset"),
                        });
                    }
                    Err(e) => {
                        let _ = writeln!(log, "  error: {e}");
                        last_accepted = false;
                        assert!(!matches!(e, tus_proto::Error::Usage(_)), "a usage error: {e}\n{log}");
                        if e.status() == Some(StatusCode::PAYLOAD_TOO_LARGE) && plan.kind == RequestKind::Patch {
                            let half = (upload.chunk_size() / 2).max(1);
                            upload.set_chunk_size(half).unwrap();
                        }
                    }
                }
            }
        }
        assert!(!upload.is_in_flight(), "a request still in flight after its answer\n{log}");
        if last_accepted {
            assert_eq!(Some(upload.offset()), confirmed, "the machine's offset is not the confirmed one\n{log}");
        }

        let mut completed_event = false;
        while let Some(event) = upload.poll_event() {
            match event {
                Event::Confirmed { offset } | Event::Resynced { offset, .. } => {
                    assert_eq!(Some(offset), confirmed, "an event reports an unconfirmed offset\n{log}");
                }
                Event::Completed => completed_event = true,
                _ => {}
            }
        }
        assert_eq!(completed_event, upload.is_complete(), "Completed event and state disagree\n{log}");

        if upload.is_complete() {
            let stored = current_url.as_ref().and_then(|u| server.stored(u)).cloned();
            let stored = stored.unwrap_or_else(|| panic!("complete without an upload on the server\n{log}"));
            assert!(
                !stored.gone && stored.length == Some(total) && stored.offset == total,
                "invariant 3: complete while the server holds {stored:?} of {total} bytes\n{log}"
            );
            assert_eq!(upload.length(), Some(total));
            assert_eq!(upload.offset(), total);
        }
    }
    assert!(upload.poll_request().is_none());
    assert!(matches!(upload.handle_response(&ResponseHead::default()), Err(tus_proto::Error::Usage(_))));
    report.counts = server.counts;
    report.log = log;
    report
}

/// Keeps the transcript short: the scenario and the last few hundred lines are what a failure needs.
fn trim_log(log: &mut String) {
    const KEEP: usize = 32 * 1024;
    if log.len() > 2 * KEEP {
        let mut cut = log.len() - KEEP;
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        let head = log.lines().next().unwrap_or_default().to_owned();
        let tail = log.split_off(cut);
        *log = format!("{head}\n...\n{tail}");
    }
}

fn check_plan(
    scenario: &Scenario,
    upload: &Upload,
    plan: &RequestPlan,
    confirmed: Option<u64>,
    current_url: Option<&Url>,
    last_accepted: bool,
    log: &str,
) {
    let total = scenario.length;
    assert_eq!(plan.headers.get("tus-resumable").map(|v| v.as_bytes()), Some(&b"1.0.0"[..]), "{log}");
    if let Some(length) = upload.length() {
        assert_eq!(length, total, "the machine believes in a length the source does not have\n{log}");
    }
    if let Some(declared) = plan.headers.get("upload-length") {
        assert_eq!(declared.to_str().unwrap(), total.to_string(), "a wrong Upload-Length\n{log}");
    }
    let range = plan.body.range();
    if let Some(r) = &range {
        assert!(r.start <= r.end && r.end <= total, "invariant 2: body {r:?} past the length {total}\n{log}");
        assert_eq!(
            plan.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/offset+octet-stream"[..]),
            "{log}"
        );
    }
    match plan.kind {
        RequestKind::Create | RequestKind::CreateWithUpload => {
            assert_eq!(plan.method, Method::POST);
            assert_eq!(plan.url.as_str(), ENDPOINT);
            assert!(plan.checksum.is_none(), "{log}");
            if let Some(r) = range {
                assert_eq!(r.start, 0, "a creation body not starting at 0\n{log}");
                assert!(r.end - r.start <= upload.chunk_size(), "{log}");
            }
        }
        RequestKind::Head => {
            assert_eq!(plan.method, Method::HEAD);
            assert_eq!(Some(&plan.url), current_url, "HEAD of another upload\n{log}");
            assert!(plan.body.is_empty() && range.is_none(), "{log}");
        }
        RequestKind::Patch => {
            assert_eq!(plan.method, Method::PATCH);
            assert_eq!(Some(&plan.url), current_url, "PATCH of another upload\n{log}");
            assert!(last_accepted, "invariant 1: a PATCH right after a failure, without a HEAD\n{log}");
            let offset = plan.offset().expect("a PATCH without Upload-Offset");
            assert_eq!(Some(offset), confirmed, "invariant 1: PATCH at an offset the server did not confirm\n{log}");
            let r = range.expect("a PATCH without a source body");
            assert_eq!(r.start, offset, "invariant 2: the body does not start at Upload-Offset\n{log}");
            assert!(r.end - r.start <= upload.chunk_size(), "a body larger than a chunk\n{log}");
            assert_eq!(plan.checksum.is_some(), scenario.checksum, "{log}");
            assert_eq!(
                plan.headers.get("content-length").map(|v| v.to_str().unwrap().to_owned()),
                Some((r.end - r.start).to_string()),
                "{log}"
            );
        }
        other => panic!("the machine planned {other:?}\n{log}"),
    }
}
