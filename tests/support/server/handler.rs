//! Connection handling and the tus request handlers of [`TusServer`](super::TusServer).

use std::convert::Infallible;
use std::future::pending;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::fault::FaultAction;
use super::tasks::{Tasks, TrackedExec};
use super::util::{self, Checksum};
use super::{RecordedRequest, RelativeMode, Shared, TUS_VERSION, Upload};

pub(crate) type Resp = Response<Full<Bytes>>;

const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

// ---- connections -------------------------------------------------------------------------------

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tasks: Tasks,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // E.g. EMFILE: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (shared, tasks2, tls) = (shared.clone(), tasks.clone(), tls.clone());
        tasks.spawn(async move {
            match tls {
                None => run_conn(stream, shared, tasks2).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls_stream)) = handshake.await {
                        run_conn(tls_stream, shared, tasks2).await;
                    }
                }
            }
        });
    }
}

/// Serves one connection (HTTP/1.1 or HTTP/2, auto-detected) until it ends or a handler asks for it
/// to be killed, in which case the connection future and socket are dropped without a response.
async fn run_conn<I>(io: I, shared: Arc<Shared>, tasks: Tasks)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let svc = {
        let kill = kill.clone();
        service_fn(move |req| handle(shared.clone(), kill.clone(), req))
    };
    let mut builder = auto::Builder::new(TrackedExec(tasks));
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

// ---- request dispatch --------------------------------------------------------------------------

/// What a handler wants done with the request.
enum Outcome {
    Respond(Resp),
    /// Close the connection without answering.
    Kill,
    /// Never answer.
    Stall,
}

impl From<Resp> for Outcome {
    fn from(r: Resp) -> Self {
        Self::Respond(r)
    }
}

/// Per-request context.
struct Ctx {
    shared: Arc<Shared>,
    seq: u64,
    /// `Host` (or HTTP/2 `:authority`) of the request, for absolute `Location`s.
    host: String,
}

/// Body-related fault parameters.
#[derive(Debug, Default, Clone, Copy)]
struct BodyPlan {
    keep: Option<u64>,
    cut_after: Option<u64>,
    stall_after: Option<u64>,
}

impl BodyPlan {
    fn stop_at(&self) -> Option<u64> {
        self.cut_after.or(self.stall_after)
    }

    fn stop_outcome(&self) -> Outcome {
        if self.cut_after.is_some() { Outcome::Kill } else { Outcome::Stall }
    }
}

async fn handle(shared: Arc<Shared>, kill: Arc<Notify>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let seq = record(&shared, &req);
    let method = effective_method(&req);
    let path = req.uri().path().to_owned();
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| header(req.headers(), HOST.as_str()).map(str::to_owned))
        .unwrap_or_else(|| shared.addr.to_string());
    let action = shared.lock().faults.take(&method, &path);
    let ctx = Ctx { shared, seq, host };

    let mut plan = BodyPlan::default();
    let mut lose_response = false;
    match action {
        None => {}
        Some(FaultAction::Status { code, headers, with_offset }) => {
            return Ok(fault_status(&ctx, &path, code, &headers, with_offset));
        }
        Some(FaultAction::Stall) => return pending().await,
        Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultAction::ChecksumMismatch) => {
            let mut body = req.into_body();
            drain(&ctx, &mut body, None).await;
            return Ok(error(StatusCode::from_u16(460).unwrap(), "checksum mismatch"));
        }
        Some(FaultAction::LoseResponse) => lose_response = true,
        Some(FaultAction::DropMidBody { after }) => plan.cut_after = Some(after),
        Some(FaultAction::StallMidBody { after }) => plan.stall_after = Some(after),
        Some(FaultAction::AcceptPartial { keep }) => plan.keep = Some(keep),
    }

    match route(&ctx, method, &path, req, plan).await {
        Outcome::Respond(resp) if !lose_response => Ok(resp),
        Outcome::Stall => pending().await,
        Outcome::Respond(_) | Outcome::Kill => {
            kill.notify_one();
            pending().await
        }
    }
}

async fn route(ctx: &Ctx, method: Method, path: &str, req: Request<Incoming>, plan: BodyPlan) -> Outcome {
    let is_collection = path == "/files" || path == "/files/";
    let id = util::id_in_path(path).map(str::to_owned);
    if !is_collection && id.is_none() {
        return error(StatusCode::NOT_FOUND, "no such route").into();
    }
    if method == Method::OPTIONS {
        return options(ctx).into();
    }
    if matches!(method, Method::POST | Method::HEAD | Method::PATCH | Method::DELETE)
        && header(req.headers(), "tus-resumable") != Some(TUS_VERSION)
    {
        let mut r = error(StatusCode::PRECONDITION_FAILED, "missing or unsupported Tus-Resumable");
        put(&mut r, "tus-version", TUS_VERSION);
        return r.into();
    }
    // Requests that never read an upload body still honour DropMidBody/StallMidBody.
    let reads_upload_body = method == Method::PATCH || method == Method::POST;
    if !reads_upload_body && plan.stop_at().is_some() {
        let mut body = req.into_body();
        drain(ctx, &mut body, plan.stop_at()).await;
        return plan.stop_outcome();
    }
    match (method, id) {
        (Method::POST, None) => create(ctx, req, plan).await,
        (Method::HEAD, Some(id)) => head(ctx, &id).into(),
        (Method::PATCH, Some(id)) => patch(ctx, req, &id, plan).await,
        (Method::DELETE, Some(id)) => delete(ctx, &id).into(),
        (Method::GET, Some(id)) => get(ctx, &id).into(),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into(),
    }
}

// ---- handlers ----------------------------------------------------------------------------------

fn options(ctx: &Ctx) -> Resp {
    let cfg = &ctx.shared.config;
    let mut r = empty(cfg.ok_status.unwrap_or(StatusCode::NO_CONTENT));
    put(&mut r, "tus-version", TUS_VERSION);
    if !cfg.extensions.is_empty() {
        put(&mut r, "tus-extension", &cfg.extensions.join(","));
    }
    if let Some(max) = cfg.max_size {
        put(&mut r, "tus-max-size", &max.to_string());
    }
    if cfg.has("checksum") {
        put(&mut r, "tus-checksum-algorithm", &cfg.checksum_algorithms.join(","));
    }
    r
}

fn head(ctx: &Ctx, id: &str) -> Resp {
    let cfg = &ctx.shared.config;
    let mut st = ctx.shared.lock();
    let u = match lookup(&mut st.uploads, id) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut r = empty(cfg.ok_status.unwrap_or(StatusCode::OK));
    put(&mut r, "upload-offset", &u.offset().to_string());
    match u.length {
        Some(len) => put(&mut r, "upload-length", &len.to_string()),
        None => put(&mut r, "upload-defer-length", "1"),
    }
    if let Some(m) = &u.metadata {
        put(&mut r, "upload-metadata", m);
    }
    if let Some(c) = &u.concat {
        put(&mut r, "upload-concat", c);
    }
    put(&mut r, CACHE_CONTROL.as_str(), "no-store");
    r
}

fn delete(ctx: &Ctx, id: &str) -> Resp {
    let cfg = &ctx.shared.config;
    if !cfg.has("termination") {
        return error(StatusCode::METHOD_NOT_ALLOWED, "termination not supported");
    }
    let mut st = ctx.shared.lock();
    if let Err(r) = lookup(&mut st.uploads, id) {
        return r;
    }
    st.uploads.remove(id);
    empty(cfg.ok_status.unwrap_or(StatusCode::NO_CONTENT))
}

fn get(ctx: &Ctx, id: &str) -> Resp {
    let mut st = ctx.shared.lock();
    match lookup(&mut st.uploads, id) {
        Ok(u) => {
            let mut r = Response::new(Full::new(Bytes::from(u.data.clone())));
            put(&mut r, "tus-resumable", TUS_VERSION);
            put(&mut r, CONTENT_TYPE.as_str(), "application/octet-stream");
            r
        }
        Err(r) => r,
    }
}

async fn create(ctx: &Ctx, req: Request<Incoming>, plan: BodyPlan) -> Outcome {
    let cfg = &ctx.shared.config;
    if !cfg.has("creation") {
        return error(StatusCode::METHOD_NOT_ALLOWED, "creation not supported").into();
    }
    let h = req.headers();
    let bad = |msg: &str| Outcome::from(error(StatusCode::BAD_REQUEST, msg));

    // Upload-Concat.
    let concat_raw = header(h, "upload-concat").map(str::to_owned);
    let mut final_parts: Option<Vec<String>> = None;
    if let Some(v) = &concat_raw {
        if !cfg.has("concatenation") {
            return error(StatusCode::NOT_IMPLEMENTED, "concatenation not supported").into();
        }
        if v.trim() == "partial" {
        } else if let Some(list) = v.strip_prefix("final;") {
            let mut ids = Vec::new();
            for part in list.split_whitespace() {
                match util::concat_part_id(part) {
                    Some(id) => ids.push(id.to_owned()),
                    None => return bad(&format!("bad URL in Upload-Concat: {part:?}")),
                }
            }
            if ids.is_empty() {
                return bad("Upload-Concat final without URLs");
            }
            final_parts = Some(ids);
        } else {
            return bad("invalid Upload-Concat");
        }
    }
    let is_partial = concat_raw.is_some() && final_parts.is_none();

    // Upload-Length / Upload-Defer-Length.
    let length_h = header(h, "upload-length");
    let defer_h = header(h, "upload-defer-length");
    let length = if final_parts.is_some() {
        if length_h.is_some() || defer_h.is_some() {
            return bad("a final upload must not carry Upload-Length or Upload-Defer-Length");
        }
        None
    } else {
        match (length_h, defer_h) {
            (Some(_), Some(_)) => {
                return bad("both Upload-Length and Upload-Defer-Length");
            }
            (None, None) => return bad("Upload-Length or Upload-Defer-Length required"),
            (Some(v), None) => match parse_u64(v) {
                Some(n) => Some(n),
                None => return bad("invalid Upload-Length"),
            },
            (None, Some(v)) => {
                if !cfg.has("creation-defer-length") {
                    return bad("creation-defer-length not supported");
                }
                if v != "1" {
                    return bad("Upload-Defer-Length must be 1");
                }
                None
            }
        }
    };
    if length.zip(cfg.max_size).is_some_and(|(len, max)| len > max) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "Upload-Length exceeds Tus-Max-Size").into();
    }

    // Upload-Metadata.
    let metadata = header(h, "upload-metadata").map(str::to_owned);
    if let Some(Err(msg)) = metadata.as_deref().map(util::validate_metadata) {
        return bad(&msg);
    }
    if h.contains_key("upload-metadata") && metadata.is_none() {
        return bad("Upload-Metadata is not valid UTF-8");
    }

    // creation-with-upload.
    let has_body = cfg.has("creation-with-upload") && header(h, CONTENT_TYPE.as_str()) == Some(OFFSET_OCTET_STREAM);
    let content_length = header(h, CONTENT_LENGTH.as_str()).and_then(parse_u64);
    let checksum = match header_checksum(cfg, h) {
        Ok(c) if has_body => c,
        Ok(_) => None,
        Err(msg) => return bad(&msg),
    };
    let trailer_announced = trailer_announced(cfg, h);
    if has_body {
        if final_parts.is_some() && content_length != Some(0) {
            return error(StatusCode::FORBIDDEN, "a final upload cannot carry data").into();
        }
        let too_large = |cl: u64| cfg.body_limit.is_some_and(|b| cl > b) || length.is_some_and(|l| cl > l);
        if content_length.is_some_and(too_large) {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large").into();
        }
    } else if let Some(stop) = plan.stop_at() {
        let mut body = req.into_body();
        drain(ctx, &mut body, Some(stop)).await;
        return plan.stop_outcome();
    }

    // Create.
    let expires_at = cfg.expires_in.map(|d| SystemTime::now() + d);
    let id = {
        let mut st = ctx.shared.lock();
        let mut upload = Upload { length, metadata, concat: concat_raw, is_partial, expires_at, ..Upload::default() };
        if let Some(parts) = &final_parts {
            for part in parts {
                let Some(p) = st.uploads.get_mut(part) else {
                    return bad(&format!("partial upload {part} not found"));
                };
                if p.check_expired() || !p.is_partial || !p.is_complete() {
                    return bad(&format!("upload {part} is not a complete partial upload"));
                }
                upload.data.extend_from_slice(&p.data);
            }
            upload.length = Some(upload.offset());
            upload.is_final = true;
            if cfg.max_size.is_some_and(|m| upload.offset() > m) {
                return error(StatusCode::PAYLOAD_TOO_LARGE, "final upload exceeds Tus-Max-Size").into();
            }
        }
        st.create(upload)
    };

    let mut offset = None;
    if has_body {
        let mut body = req.into_body();
        let limit = min_opt([cfg.body_limit, length, cfg.max_size]);
        let buffered = checksum.is_some() || trailer_announced;
        let run = read_body(ctx, &mut body, (!buffered).then_some((&id, 0)), limit, plan).await;
        match settle_body(ctx, &id, 0, checksum, trailer_announced, plan, run) {
            Ok(o) => offset = Some(o),
            Err(outcome) => return outcome,
        }
    }

    let mut r = empty(StatusCode::CREATED);
    let location = match cfg.relative {
        RelativeMode::Absolute => {
            let scheme = if cfg.tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{}/files/{id}", ctx.host)
        }
        RelativeMode::AbsolutePath => format!("/files/{id}"),
        RelativeMode::Relative => id.clone(),
        RelativeMode::SchemeRelative => format!("//{}/files/{id}", ctx.host),
    };
    put(&mut r, "location", &location);
    if let Some(o) = offset {
        put(&mut r, "upload-offset", &o.to_string());
    }
    if let Some(t) = expires_at {
        put(&mut r, "upload-expires", &util::http_date(t));
    }
    r.into()
}

async fn patch(ctx: &Ctx, req: Request<Incoming>, id: &str, plan: BodyPlan) -> Outcome {
    let cfg = &ctx.shared.config;
    let h = req.headers();
    let bad = |msg: &str| Outcome::from(error(StatusCode::BAD_REQUEST, msg));
    if header(h, CONTENT_TYPE.as_str()) != Some(OFFSET_OCTET_STREAM) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/offset+octet-stream")
            .into();
    }
    let Some(offset) = header(h, "upload-offset").and_then(parse_u64) else {
        return bad("missing or invalid Upload-Offset");
    };
    let checksum = match header_checksum(cfg, h) {
        Ok(c) => c,
        Err(msg) => return bad(&msg),
    };
    let trailer_announced = trailer_announced(cfg, h);
    let content_length = header(h, CONTENT_LENGTH.as_str()).and_then(parse_u64);

    let length = {
        let mut st = ctx.shared.lock();
        let u = match lookup(&mut st.uploads, id) {
            Ok(u) => u,
            Err(r) => return r.into(),
        };
        if u.is_final {
            return error(StatusCode::FORBIDDEN, "cannot PATCH a final upload").into();
        }
        if u.offset() != offset {
            let mut r = error(StatusCode::CONFLICT, "Upload-Offset mismatch");
            put(&mut r, "upload-offset", &u.offset().to_string());
            return r.into();
        }
        if let Some(v) = header(h, "upload-length") {
            if u.length.is_some() {
                return bad("Upload-Length is already known");
            }
            match parse_u64(v) {
                Some(len) if len >= offset && cfg.max_size.is_none_or(|m| len <= m) => {
                    u.length = Some(len);
                }
                _ => return bad("invalid Upload-Length"),
            }
        }
        u.length
    };

    let remaining = length.map(|l| l - offset);
    let max_remaining = match length {
        None => cfg.max_size.map(|m| m.saturating_sub(offset)),
        Some(_) => None,
    };
    let limit = min_opt([cfg.body_limit, remaining, max_remaining]);
    if content_length.is_some_and(|cl| limit.is_some_and(|l| cl > l)) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large").into();
    }
    let buffered = checksum.is_some() || trailer_announced;
    let mut body = req.into_body();
    let run = read_body(ctx, &mut body, (!buffered).then_some((id, offset)), limit, plan).await;
    let new_offset = match settle_body(ctx, id, offset, checksum, trailer_announced, plan, run) {
        Ok(o) => o,
        Err(outcome) => return outcome,
    };

    let mut r = empty(cfg.ok_status.unwrap_or(StatusCode::NO_CONTENT));
    put(&mut r, "upload-offset", &new_offset.to_string());
    if let Some(d) = cfg.expires_in {
        let t = SystemTime::now() + d;
        if let Some(u) = ctx.shared.lock().uploads.get_mut(id) {
            u.expires_at = Some(t);
        }
        put(&mut r, "upload-expires", &util::http_date(t));
    }
    r.into()
}

// ---- bodies ------------------------------------------------------------------------------------

/// How reading a body ended.
#[derive(Debug)]
enum BodyEnd {
    Done,
    /// Reached the DropMidBody/StallMidBody point (or the body ended before it).
    Stopped,
    ClientGone,
    Timeout,
    TooLarge,
    /// The upload was deleted meanwhile.
    Gone,
    /// Another request changed the upload meanwhile.
    Interrupted,
}

#[derive(Debug)]
struct BodyRun {
    end: BodyEnd,
    /// Bytes taken from the body (up to the stop point).
    received: u64,
    /// Bytes appended to the upload (direct mode).
    stored: u64,
    /// The body (buffered mode).
    buffer: Vec<u8>,
    trailers: Option<HeaderMap>,
}

/// Reads an upload body. In direct mode (`direct = Some((id, start))`) bytes are appended to the upload
/// as they arrive (so a cut connection keeps what was received, like tusd); otherwise they are
/// buffered for a checksum check. Honours `limit` (413), `plan.keep`, and the stop point.
async fn read_body(
    ctx: &Ctx,
    body: &mut Incoming,
    direct: Option<(&str, u64)>,
    limit: Option<u64>,
    plan: BodyPlan,
) -> BodyRun {
    let mut run = BodyRun { end: BodyEnd::Done, received: 0, stored: 0, buffer: Vec::new(), trailers: None };
    let stop_at = plan.stop_at();
    let mut wire = 0u64;
    run.end = loop {
        if stop_at.is_some_and(|s| run.received >= s) {
            break BodyEnd::Stopped;
        }
        let frame = match tokio::time::timeout(ctx.shared.config.read_timeout, body.frame()).await {
            Err(_) => break BodyEnd::Timeout,
            Ok(None) => break BodyEnd::Done,
            Ok(Some(Err(_))) => break BodyEnd::ClientGone,
            Ok(Some(Ok(frame))) => frame,
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    set_trailers(ctx, &t);
                    run.trailers = Some(t);
                }
                continue;
            }
        };
        wire += data.len() as u64;
        let mut chunk = &data[..];
        if let Some(s) = stop_at {
            chunk = &chunk[..chunk.len().min((s - run.received) as usize)];
        }
        if limit.is_some_and(|l| run.received + chunk.len() as u64 > l) {
            set_body_len(ctx, wire);
            break BodyEnd::TooLarge;
        }
        run.received += chunk.len() as u64;
        let mut st = ctx.shared.lock();
        if let Some(r) = st.request_mut(ctx.seq) {
            r.body_len = wire;
        }
        match direct {
            None => run.buffer.extend_from_slice(chunk),
            Some((id, start)) => {
                let room = plan.keep.map_or(usize::MAX, |k| k.saturating_sub(run.stored) as usize);
                let storable = &chunk[..chunk.len().min(room)];
                match st.uploads.get_mut(id) {
                    None => break BodyEnd::Gone,
                    Some(u) if u.offset() != start + run.stored => break BodyEnd::Interrupted,
                    Some(u) => u.data.extend_from_slice(storable),
                }
                run.stored += storable.len() as u64;
            }
        }
    };
    if matches!(run.end, BodyEnd::Done) && stop_at.is_some() {
        run.end = BodyEnd::Stopped;
    }
    run
}

/// Finishes an upload body: verifies checksums, commits buffered bytes or rolls back direct ones.
/// Returns the new offset, or what to answer instead.
#[allow(clippy::result_large_err)] // a test server: clarity over a few bytes
fn settle_body(
    ctx: &Ctx,
    id: &str,
    start: u64,
    header_checksum: Option<Checksum>,
    trailer_announced: bool,
    plan: BodyPlan,
    run: BodyRun,
) -> Result<u64, Outcome> {
    let cfg = &ctx.shared.config;
    let direct = header_checksum.is_none() && !trailer_announced;
    let rollback = || {
        if direct {
            let mut st = ctx.shared.lock();
            match st.uploads.get_mut(id) {
                Some(u) if u.offset() == start + run.stored => u.data.truncate(start as usize),
                _ => {}
            }
        }
    };
    match run.end {
        BodyEnd::Done => {}
        BodyEnd::Stopped => return Err(plan.stop_outcome()),
        BodyEnd::ClientGone => return Err(Outcome::Kill),
        BodyEnd::Timeout => {
            return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "timed out reading the body").into());
        }
        BodyEnd::TooLarge => {
            rollback();
            return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "body too large").into());
        }
        BodyEnd::Gone => return Err(error(StatusCode::NOT_FOUND, "upload gone").into()),
        BodyEnd::Interrupted => {
            return Err(error(StatusCode::BAD_REQUEST, "upload interrupted by another request").into());
        }
    }

    let trailer_value =
        run.trailers.as_ref().filter(|_| cfg.has("checksum-trailer")).and_then(|t| header(t, "upload-checksum"));
    let checksum = match (header_checksum, trailer_value) {
        (Some(c), _) => Some(c),
        (None, Some(v)) => match util::parse_checksum(v, &cfg.checksum_algorithms) {
            Ok(c) => Some(c),
            Err(msg) => {
                rollback();
                return Err(error(StatusCode::BAD_REQUEST, &msg).into());
            }
        },
        (None, None) if trailer_announced => {
            return Err(error(StatusCode::BAD_REQUEST, "announced Upload-Checksum trailer missing").into());
        }
        (None, None) => None,
    };
    let mismatch = || error(StatusCode::from_u16(460).unwrap(), "checksum mismatch").into();

    let mut st = ctx.shared.lock();
    let Some(u) = st.uploads.get_mut(id) else {
        return Err(error(StatusCode::NOT_FOUND, "upload gone").into());
    };
    if direct {
        // A trailer checksum nobody announced: verify after the fact and drop the chunk on mismatch.
        if let Some(c) = checksum {
            let range = start as usize..(start + run.stored) as usize;
            if run.stored == run.received && u.offset() == start + run.stored && !c.matches(&u.data[range]) {
                u.data.truncate(start as usize);
                return Err(mismatch());
            }
        }
    } else {
        if checksum.as_ref().is_some_and(|c| !c.matches(&run.buffer)) {
            return Err(mismatch());
        }
        if u.offset() != start {
            return Err(error(StatusCode::BAD_REQUEST, "upload interrupted by another request").into());
        }
        let n = plan.keep.map_or(run.buffer.len(), |k| run.buffer.len().min(k as usize));
        u.data.extend_from_slice(&run.buffer[..n]);
    }
    Ok(u.offset())
}

/// Reads and discards a body (up to `stop` bytes if given), recording its length.
async fn drain(ctx: &Ctx, body: &mut Incoming, stop: Option<u64>) {
    let mut n = 0u64;
    while stop.is_none_or(|s| n < s) {
        match tokio::time::timeout(ctx.shared.config.read_timeout, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    n += d.len() as u64;
                    set_body_len(ctx, n);
                } else if let Some(t) = frame.trailers_ref() {
                    set_trailers(ctx, t);
                }
            }
            _ => return,
        }
    }
}

// ---- helpers -----------------------------------------------------------------------------------

fn record(shared: &Shared, req: &Request<Incoming>) -> u64 {
    let mut st = shared.lock();
    let seq = st.next_seq;
    st.next_seq += 1;
    st.requests.push(RecordedRequest {
        seq,
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().map(str::to_owned),
        version: req.version(),
        headers: req.headers().clone(),
        body_len: 0,
        trailers: None,
    });
    seq
}

fn set_body_len(ctx: &Ctx, n: u64) {
    if let Some(r) = ctx.shared.lock().request_mut(ctx.seq) {
        r.body_len = n;
    }
}

fn set_trailers(ctx: &Ctx, t: &HeaderMap) {
    if let Some(r) = ctx.shared.lock().request_mut(ctx.seq) {
        r.trailers = Some(t.clone());
    }
}

fn effective_method(req: &Request<Incoming>) -> Method {
    header(req.headers(), "x-http-method-override")
        .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())
        .unwrap_or_else(|| req.method().clone())
}

/// Looks an upload up, answering 404 (unknown) or 410 (expired) otherwise.
#[allow(clippy::result_large_err)]
fn lookup<'a>(uploads: &'a mut std::collections::HashMap<String, Upload>, id: &str) -> Result<&'a mut Upload, Resp> {
    match uploads.get_mut(id) {
        None => Err(error(StatusCode::NOT_FOUND, "upload not found")),
        Some(u) => {
            if u.check_expired() {
                Err(error(StatusCode::GONE, "upload expired"))
            } else {
                Ok(u)
            }
        }
    }
}

fn header_checksum(cfg: &super::Config, h: &HeaderMap) -> Result<Option<Checksum>, String> {
    if !cfg.has("checksum") {
        return Ok(None);
    }
    match h.get("upload-checksum") {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| "Upload-Checksum is not ASCII".to_owned())?;
            util::parse_checksum(v, &cfg.checksum_algorithms).map(Some)
        }
    }
}

/// Whether the request announced an `Upload-Checksum` trailer (and the server takes trailers).
fn trailer_announced(cfg: &super::Config, h: &HeaderMap) -> bool {
    cfg.has("checksum-trailer")
        && h.get_all("trailer")
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|n| n.trim().eq_ignore_ascii_case("upload-checksum"))))
}

fn fault_status(ctx: &Ctx, path: &str, code: u16, headers: &[(String, String)], with_offset: bool) -> Resp {
    let status = StatusCode::from_u16(code).expect("valid status code");
    let mut r = empty(status);
    if with_offset {
        let st = ctx.shared.lock();
        if let Some(u) = util::id_in_path(path).and_then(|id| st.uploads.get(id)) {
            put(&mut r, "upload-offset", &u.offset().to_string());
        }
    }
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        let value = HeaderValue::from_str(value).expect("valid header value");
        r.headers_mut().append(name, value);
    }
    r
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn parse_u64(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

fn min_opt<const N: usize>(values: [Option<u64>; N]) -> Option<u64> {
    values.into_iter().flatten().min()
}

fn put(r: &mut Resp, name: &str, value: &str) {
    r.headers_mut().insert(
        HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
        HeaderValue::from_str(value).expect("valid header value"),
    );
}

/// An empty response with `Tus-Resumable`.
fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    put(&mut r, "tus-resumable", TUS_VERSION);
    r
}

/// An error response with a `text/plain` message and `Tus-Resumable`.
fn error(status: StatusCode, msg: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{msg}\n"))));
    *r.status_mut() = status;
    put(&mut r, "tus-resumable", TUS_VERSION);
    put(&mut r, CONTENT_TYPE.as_str(), "text/plain; charset=utf-8");
    r
}
