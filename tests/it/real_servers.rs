//! Tests of the real-server harness (`tus_tests::real`) with raw HTTP, no client crates.
//!
//! These fail, never skip, when the servers are missing: run `cargo xtask servers install`.
//!
//! What the pinned servers advertise on `OPTIONS /files/` (checked below):
//!
//! - rustus 0.5.10 (`hashers` feature, default extensions): `200`, `Tus-Version: 1.0.0`,
//!   `Tus-Extension: creation-defer-length,creation-with-upload,creation,termination,concatenation,getting,checksum`
//!   (rustus sorts its list; `getting` is non-standard: `GET /files/<id>` returns the bytes),
//!   `Tus-Checksum-Algorithm: md5,sha1,sha256,sha512`, no `Tus-Max-Size`.
//! - @tus/server 2.4.5 + @tus/file-store 2.1.1: `204`, `Tus-Version: 1.0.0`,
//!   `Tus-Extension: creation,creation-with-upload,creation-defer-length,termination,expiration`
//!   (`expiration` is listed even without an expiration period), `Tus-Max-Size` only with `maxSize`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tus_tests::real::{NodeOptions, RealServer, RustusOptions, ServerKind};

const RUSTUS_EXTENSIONS: &[&str] = &[
    "getting",
    "creation",
    "termination",
    "creation-with-upload",
    "creation-defer-length",
    "concatenation",
    "checksum",
];
const NODE_EXTENSIONS: &[&str] =
    &["creation", "creation-with-upload", "creation-defer-length", "termination", "expiration"];

async fn rustus(options: RustusOptions) -> RealServer {
    RealServer::rustus(options).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn node(options: NodeOptions) -> RealServer {
    RealServer::node(options).await.unwrap_or_else(|e| panic!("{e}"))
}

struct Response {
    status: StatusCode,
    headers: HeaderMap,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }
}

/// One request on a fresh client; `Tus-Resumable: 1.0.0` except on OPTIONS.
async fn send(method: Method, url: &url::Url, headers: &[(&str, &str)], body: Vec<u8>) -> Response {
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut request = Request::builder().method(method.clone()).uri(url.as_str());
    if method != Method::OPTIONS {
        request = request.header("Tus-Resumable", "1.0.0");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("valid request");
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .unwrap_or_else(|_| panic!("{method} {url}: no response within 30 s"))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (parts, body) = response.into_parts();
    body.collect().await.expect("response body");
    Response { status: parts.status, headers: parts.headers }
}

fn extension_set(response: &Response) -> BTreeSet<String> {
    response.header("tus-extension").expect("Tus-Extension header").split(',').map(|e| e.trim().to_owned()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Deterministic, incompressible-looking test data.
fn payload(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// POST, then PATCH `data` in `chunk`-sized pieces, then HEAD; returns the upload URL.
async fn upload(server: &RealServer, data: &[u8], chunk: usize) -> url::Url {
    let endpoint = server.endpoint();
    let length = data.len().to_string();
    let created = send(
        Method::POST,
        &endpoint,
        &[("Upload-Length", &length), ("Upload-Metadata", "filename dGVzdC5iaW4=")],
        Vec::new(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{} POST", server.kind());
    let location = created.header("location").expect("Location on 201");
    let upload_url = endpoint.join(location).expect("resolvable Location");

    let mut offset = 0;
    for piece in data.chunks(chunk.max(1)) {
        let offset_header = offset.to_string();
        let patched = send(
            Method::PATCH,
            &upload_url,
            &[("Upload-Offset", &offset_header), ("Content-Type", "application/offset+octet-stream")],
            piece.to_vec(),
        )
        .await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{} PATCH at {offset}", server.kind());
        offset += piece.len();
        assert_eq!(patched.header("upload-offset"), Some(offset.to_string().as_str()));
    }

    let head = send(Method::HEAD, &upload_url, &[], Vec::new()).await;
    assert!(head.status.is_success(), "{} HEAD: {}", server.kind(), head.status);
    assert_eq!(head.header("upload-offset"), Some(length.as_str()));
    assert_eq!(head.header("upload-length"), Some(length.as_str()));
    upload_url
}

#[tokio::test]
async fn rustus_options_advertises_extensions_and_checksums() {
    let server = rustus(RustusOptions::default()).await;
    assert_eq!(server.kind(), ServerKind::Rustus);
    assert_eq!(server.version(), "rustus 0.5.10");
    let endpoint = server.endpoint();
    assert_eq!(endpoint.as_str(), format!("http://{}/files/", server.addr()));

    let options = send(Method::OPTIONS, &endpoint, &[], Vec::new()).await;
    assert_eq!(options.status, StatusCode::OK);
    assert_eq!(options.header("tus-version"), Some("1.0.0"));
    assert_eq!(extension_set(&options), set(RUSTUS_EXTENSIONS));
    assert_eq!(options.header("tus-checksum-algorithm"), Some("md5,sha1,sha256,sha512"));
    assert_eq!(options.header("tus-max-size"), None);
}

#[tokio::test]
async fn rustus_extension_override() {
    let server = rustus(RustusOptions {
        extensions: Some(vec!["creation".into(), "termination".into()]),
        ..RustusOptions::default()
    })
    .await;
    let options = send(Method::OPTIONS, &server.endpoint(), &[], Vec::new()).await;
    assert_eq!(extension_set(&options), set(&["creation", "termination"]));
    assert_eq!(options.header("tus-checksum-algorithm"), None);
}

#[tokio::test]
async fn rustus_round_trip_reads_back_stored_bytes() {
    let server = rustus(RustusOptions::default()).await;
    let data = payload(300_000);
    // Chunks under rustus's default 256 KiB body limit.
    let upload_url = upload(&server, &data, 128 * 1024).await;
    assert_eq!(server.stored_bytes(&upload_url).expect("stored bytes"), data);
    let path = server.stored_path(&upload_url).unwrap();
    assert!(path.starts_with(server.data_dir().canonicalize().unwrap()), "{}", path.display());
    let info = server.stored_info(&upload_url).expect("rustus .info");
    assert_eq!(info["metadata"]["filename"], "test.bin");
    assert_eq!(info["offset"], 300_000);

    // rustus 0.5.10 accepts an empty upload without `--allow-empty` (later releases need it).
    let empty = send(Method::POST, &server.endpoint(), &[("Upload-Length", "0")], Vec::new()).await;
    assert_eq!(empty.status, StatusCode::CREATED);
    let empty_url = server.endpoint().join(empty.header("location").unwrap()).unwrap();
    assert_eq!(server.stored_bytes(&empty_url).unwrap(), b"");
}

#[tokio::test]
async fn rustus_dir_structure_is_followed() {
    let server = rustus(RustusOptions { dir_structure: Some("{year}/x".into()), ..RustusOptions::default() }).await;
    let data = payload(1000);
    let upload_url = upload(&server, &data, 1000).await;
    let path = server.stored_path(&upload_url).unwrap();
    let dir = path.parent().unwrap();
    assert_eq!(dir.file_name().unwrap(), "x", "{}", path.display());
    assert!(dir.parent().unwrap().file_name().unwrap().to_str().unwrap().starts_with("20"), "{}", path.display());
    assert_eq!(server.stored_bytes(&upload_url).unwrap(), data);
}

#[tokio::test]
async fn rustus_body_limit_is_configurable() {
    let data = payload(300 * 1024);
    let length = data.len().to_string();

    let default = rustus(RustusOptions::default()).await;
    let created = send(Method::POST, &default.endpoint(), &[("Upload-Length", &length)], Vec::new()).await;
    let url = default.endpoint().join(created.header("location").unwrap()).unwrap();
    let patched = send(
        Method::PATCH,
        &url,
        &[("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream")],
        data.clone(),
    )
    .await;
    assert_eq!(patched.status, StatusCode::PAYLOAD_TOO_LARGE, "default limit is 256 KiB");
    assert_eq!(default.stored_bytes(&url).unwrap(), b"");

    let raised = rustus(RustusOptions { max_body_size: Some(1 << 20), ..RustusOptions::default() }).await;
    let url = upload(&raised, &data, data.len()).await;
    assert_eq!(raised.stored_bytes(&url).unwrap(), data);
}

#[tokio::test]
async fn rustus_is_killed_on_drop() {
    let server = rustus(RustusOptions::default()).await;
    let addr = server.addr();
    drop(server);
    assert_port_closes(addr).await;
}

#[tokio::test]
async fn node_options_advertises_extensions() {
    let server = node(NodeOptions::default()).await;
    assert_eq!(server.kind(), ServerKind::Node);
    assert!(server.version().starts_with("@tus/server 2.4.5, @tus/file-store 2.1.1"), "{}", server.version());
    let endpoint = server.endpoint();
    assert_eq!(endpoint.as_str(), format!("http://{}/files/", server.addr()));

    let options = send(Method::OPTIONS, &endpoint, &[], Vec::new()).await;
    assert_eq!(options.status, StatusCode::NO_CONTENT);
    assert_eq!(options.header("tus-version"), Some("1.0.0"));
    assert_eq!(extension_set(&options), set(NODE_EXTENSIONS));
    assert_eq!(options.header("tus-checksum-algorithm"), None);
    assert_eq!(options.header("tus-max-size"), None);
}

#[tokio::test]
async fn node_options_flags() {
    let server = node(NodeOptions {
        relative_location: true,
        expiration_ms: Some(3_600_000),
        max_size: Some(1000),
        ..NodeOptions::default()
    })
    .await;
    let options = send(Method::OPTIONS, &server.endpoint(), &[], Vec::new()).await;
    assert_eq!(options.header("tus-max-size"), Some("1000"));

    let created = send(Method::POST, &server.endpoint(), &[("Upload-Length", "10")], Vec::new()).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let location = created.header("location").unwrap();
    assert!(location.starts_with("/files/"), "relative Location, got {location}");
    assert!(created.header("upload-expires").is_some_and(|d| d.ends_with(" GMT")));

    let too_big = send(Method::POST, &server.endpoint(), &[("Upload-Length", "1001")], Vec::new()).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn node_round_trip_reads_back_stored_bytes() {
    let server = node(NodeOptions::default()).await;
    let data = payload(300_000);
    let upload_url = upload(&server, &data, 100_000).await;
    assert_eq!(server.stored_bytes(&upload_url).expect("stored bytes"), data);
    assert_eq!(server.stored_path(&upload_url).unwrap().parent(), Some(server.data_dir()));
    let info = server.stored_info(&upload_url).expect("@tus/file-store .json");
    assert_eq!(info["size"], 300_000);
    assert_eq!(info["metadata"]["filename"], "test.bin");

    let empty = send(Method::POST, &server.endpoint(), &[("Upload-Length", "0")], Vec::new()).await;
    assert_eq!(empty.status, StatusCode::CREATED);
    let empty_url = server.endpoint().join(empty.header("location").unwrap()).unwrap();
    assert_eq!(server.stored_bytes(&empty_url).unwrap(), b"");
}

#[tokio::test]
async fn node_is_killed_on_drop() {
    let server = node(NodeOptions::default()).await;
    let addr = server.addr();
    drop(server);
    assert_port_closes(addr).await;
}

async fn assert_port_closes(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "{addr} still accepts connections 10 s after drop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
