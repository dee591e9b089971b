//! `tus-sink`: a minimal tus 1.0.0 endpoint that discards every byte, for `cargo xtask bench`'s
//! client-ceiling measurement. Build it in release mode.
//!
//! ```text
//! tus-sink [--port N]      prints `LISTENING <port>` once it accepts connections (port 0 = any)
//! ```
//!
//! OPTIONS, POST (creation), HEAD, PATCH and DELETE (termination) at `/files/`, with correct offsets
//! and nothing stored: a PATCH body is read frame by frame and dropped. One thread, so it takes as
//! little CPU as possible away from the client. Exits when stdin closes.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// `id → (offset, length)`.
type Uploads = Arc<Mutex<HashMap<u64, (u64, u64)>>>;

fn main() -> std::io::Result<()> {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(value)) => port = value.parse().map_err(std::io::Error::other)?,
            _ => return Err(std::io::Error::other("usage: tus-sink [--port N]")),
        }
    }
    exit_when_stdin_closes();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    let uploads: Uploads = Arc::default();
    let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (uploads, next_id) = (Arc::clone(&uploads), Arc::clone(&next_id));
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&uploads), Arc::clone(&next_id)));
            let _ = hyper::server::conn::http1::Builder::new()
                .max_buf_size(4 * 1024 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn number(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

async fn handle(
    req: Request<Incoming>,
    uploads: Uploads,
    next_id: Arc<std::sync::atomic::AtomicU64>,
) -> Result<Response<Empty<Bytes>>, hyper::Error> {
    let id: Option<u64> = req.uri().path().strip_prefix("/files/").and_then(|rest| rest.parse().ok());
    let mut response = Response::new(Empty::new());
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static("1.0.0"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    let status = match (req.method().clone(), id) {
        (Method::OPTIONS, _) => {
            headers.insert("tus-version", HeaderValue::from_static("1.0.0"));
            headers.insert("tus-extension", HeaderValue::from_static("creation,termination"));
            StatusCode::NO_CONTENT
        }
        (Method::POST, None) => match number(&req, "upload-length") {
            Some(length) => {
                let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                uploads.lock().unwrap_or_else(|e| e.into_inner()).insert(id, (0, length));
                let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
                let location = format!("http://{host}/files/{id}");
                headers.insert("location", HeaderValue::from_str(&location).expect("ascii"));
                StatusCode::CREATED
            }
            None => StatusCode::BAD_REQUEST,
        },
        (Method::HEAD, Some(id)) => match uploads.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            Some(&(offset, length)) => {
                headers.insert("upload-offset", offset.into());
                headers.insert("upload-length", length.into());
                StatusCode::OK
            }
            None => StatusCode::NOT_FOUND,
        },
        (Method::PATCH, Some(id)) => {
            let Some(&(offset, length)) = uploads.lock().unwrap_or_else(|e| e.into_inner()).get(&id) else {
                return Ok(with_status(response, StatusCode::NOT_FOUND));
            };
            if number(&req, "upload-offset") != Some(offset) {
                return Ok(with_status(response, StatusCode::CONFLICT));
            }
            let mut body = req.into_body();
            let mut received = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    received += data.len() as u64;
                }
            }
            let new_offset = offset + received;
            if new_offset > length {
                return Ok(with_status(response, StatusCode::PAYLOAD_TOO_LARGE));
            }
            uploads.lock().unwrap_or_else(|e| e.into_inner()).insert(id, (new_offset, length));
            response.headers_mut().insert("upload-offset", new_offset.into());
            StatusCode::NO_CONTENT
        }
        (Method::DELETE, Some(id)) => match uploads.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::NOT_FOUND,
        },
        _ => StatusCode::METHOD_NOT_ALLOWED,
    };
    Ok(with_status(response, status))
}

fn with_status(mut response: Response<Empty<Bytes>>, status: StatusCode) -> Response<Empty<Bytes>> {
    *response.status_mut() = status;
    response
}

/// Stdin reaching EOF (the harness went away) ends the process.
fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        while std::io::Read::read(&mut std::io::stdin(), &mut buf).is_ok_and(|n| n > 0) {}
        std::process::exit(0);
    });
}
