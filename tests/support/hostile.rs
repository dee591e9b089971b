//! [`HostileServer`]: a raw TCP server on 127.0.0.1 that answers each HTTP/1.1 request with scripted
//! bytes, malformed or misbehaving on purpose.
//!
//! For each connection it reads a request head, drains the body when the reply says so (a
//! `Content-Length` or chunked body, up to a cap), and writes the next [`Reply`] of the script (the last
//! one repeats once the script runs out; an empty script means [`Reply::Close`]). Replies are taken in
//! the order requests arrive, across all connections. Dropping the server closes everything.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::tasks::Tasks;

/// Default cap on drained request bodies.
pub const DEFAULT_BODY_CAP: u64 = 64 << 20;
const MAX_HEAD: usize = 64 << 10;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Drain the body, write these bytes verbatim, then close the connection (FIN, after which the
    /// server waits up to 1 s for the client to close so the bytes aren't lost to a reset).
    Raw(Vec<u8>),
    /// Write these bytes right after the request head without reading the body, then close (the
    /// unread body usually makes the kernel reset the connection, as tusd does on 409, tusd#1371).
    RawNoDrain(Vec<u8>),
    /// Drain the body, write these bytes, then keep the connection open: the next request on it (if
    /// the client sends one) gets the next reply.
    RawKeepOpen(Vec<u8>),
    /// Never answer and never read the body; hold the connection until the client leaves or the
    /// server is dropped.
    Silent,
    /// Read the whole body, then never answer.
    AcceptBodyThenSilent,
    /// Close the connection right after reading the request head.
    Close,
}

impl Reply {
    /// A well-formed `HTTP/1.1 <code> <reason>` response with these headers, `Content-Length: 0` and
    /// `Connection: close`.
    pub fn status(code: u16, headers: &[(&str, &str)]) -> Self {
        Self::response(code, headers, b"")
    }

    /// A well-formed response with a body (`Content-Length` set, `Connection: close`).
    pub fn response(code: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self::Raw(response_bytes(code, headers, body, true))
    }

    /// Like [`Reply::status`] but without `Connection: close`, kept open for the next request.
    pub fn status_keep_open(code: u16, headers: &[(&str, &str)]) -> Self {
        Self::RawKeepOpen(response_bytes(code, headers, b"", false))
    }

    /// `Raw` from anything byte-like.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Raw(bytes.into())
    }
}

/// Builds `HTTP/1.1 <code> <reason>\r\n<headers>Content-Length: <n>\r\n[Connection: close\r\n]\r\n<body>`.
pub fn response_bytes(code: u16, headers: &[(&str, &str)], body: &[u8], close: bool) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("Status");
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A request head as received (header names keep their case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileRequest {
    pub method: String,
    pub path: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// Body bytes drained (0 if the reply didn't read the body).
    pub body_len: u64,
    /// Index of the connection it came on (0-based).
    pub connection: usize,
}

impl HostileRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    script: Vec<Reply>,
    next: AtomicUsize,
    connections: AtomicUsize,
    requests: Mutex<Vec<HostileRequest>>,
    body_cap: u64,
}

impl Shared {
    fn next_reply(&self) -> Reply {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        match self.script.len() {
            0 => Reply::Close,
            n => self.script[i.min(n - 1)].clone(),
        }
    }
}

/// The scripted server; see the module docs.
pub struct HostileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Tasks,
}

impl std::fmt::Debug for HostileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl HostileServer {
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_with_body_cap(script, DEFAULT_BODY_CAP).await
    }

    /// Like [`HostileServer::start`], draining at most `body_cap` body bytes per request.
    pub async fn start_with_body_cap(script: Vec<Reply>, body_cap: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            script,
            next: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            body_cap,
        });
        let tasks = Tasks::new();
        let (shared2, tasks2) = (shared.clone(), tasks.clone());
        tasks.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let conn = shared2.connections.fetch_add(1, Ordering::SeqCst);
                tasks2.spawn(serve(stream, shared2.clone(), conn));
            }
        });
        Self { addr, shared, tasks }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).expect("valid url")
    }

    /// Request heads received so far, in arrival order.
    pub fn requests(&self) -> Vec<HostileRequest> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Replies handed out so far.
    pub fn replies_used(&self) -> usize {
        self.shared.next.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>, conn: usize) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let index = {
            let mut reqs = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
            reqs.push(HostileRequest { connection: conn, ..req.clone() });
            reqs.len() - 1
        };
        let reply = shared.next_reply();
        match reply {
            Reply::Close => return,
            Reply::Silent => return std::future::pending().await,
            Reply::AcceptBodyThenSilent => {
                drain_recorded(&mut stream, &mut buf, &req, &shared, index).await;
                return std::future::pending().await;
            }
            Reply::RawNoDrain(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Raw(bytes) => {
                drain_recorded(&mut stream, &mut buf, &req, &shared, index).await;
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                // Lingering close: wait (bounded) for the client to close, discarding what it sends.
                let mut sink = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                })
                .await;
                return;
            }
            Reply::RawKeepOpen(bytes) => {
                drain_recorded(&mut stream, &mut buf, &req, &shared, index).await;
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Answers `Expect: 100-continue`, drains the body and records its length.
async fn drain_recorded(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    req: &HostileRequest,
    shared: &Shared,
    index: usize,
) {
    if req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let n = drain_body(stream, buf, req, shared.body_cap).await;
    if let Some(r) = shared.requests.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
        r.body_len = n;
    }
}

/// Reads one request head (consuming it from `buf`/the stream). `None` on EOF, error or garbage.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<HostileRequest> {
    let end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD || !read_more(stream, buf).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path, version) = (first.next()?, first.next()?, first.next().unwrap_or(""));
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    Some(HostileRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        version: version.to_owned(),
        headers,
        body_len: 0,
        connection: 0,
    })
}

/// Drains a `Content-Length` or chunked body (up to `cap` bytes); returns the body bytes consumed.
async fn drain_body(stream: &mut TcpStream, buf: &mut Vec<u8>, req: &HostileRequest, cap: u64) -> u64 {
    let chunked = req.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return drain_chunked(stream, buf, cap).await;
    }
    let len: u64 = req.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let want = len.min(cap);
    let mut got = 0u64;
    loop {
        let take = (buf.len() as u64).min(want - got) as usize;
        buf.drain(..take);
        got += take as u64;
        if got >= want || !read_more(stream, buf).await {
            return got;
        }
    }
}

async fn drain_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, cap: u64) -> u64 {
    let mut total = 0u64;
    loop {
        // Chunk-size line.
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD || !read_more(stream, buf).await {
                return total;
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        buf.drain(..line_end + 2);
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = u64::from_str_radix(size_hex, 16) else {
            return total;
        };
        if size == 0 {
            // Trailer section, ended by an empty line.
            loop {
                if let Some(i) = find(buf, b"\r\n") {
                    buf.drain(..i + 2);
                    if i == 0 {
                        return total;
                    }
                    continue;
                }
                if buf.len() > MAX_HEAD || !read_more(stream, buf).await {
                    return total;
                }
            }
        }
        // Chunk data plus CRLF.
        let mut left = size + 2;
        while left > 0 {
            if buf.is_empty() && !read_more(stream, buf).await {
                return total;
            }
            let take = (buf.len() as u64).min(left) as usize;
            buf.drain(..take);
            left -= take as u64;
        }
        total += size;
        if total >= cap {
            return total;
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
