//! Tests of the support code itself (`tus_tests::{server, hostile, proxy, certs, tls_proxy}`), driven
//! with hyper's low-level client and raw sockets, so that a bug in the oracle can't hide behind a bug
//! in the client under test.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Version};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::Digest as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use url::Url;

use tus_tests::certs::{TestPki, server_config};
use tus_tests::hostile::{HostileServer, Reply};
use tus_tests::proxy::{FaultPlan, FaultProxy};
use tus_tests::server::{Fault, FaultAction, RelativeMode, TusServer, http_date};
use tus_tests::tls_proxy::TlsProxy;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- a tiny HTTP client ------------------------------------------------------------------------

/// Runs a test body with a hard deadline.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("test timed out")
}

#[derive(Debug)]
struct Resp {
    status: u16,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn h(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn offset(&self) -> u64 {
        self.h("upload-offset").expect("Upload-Offset").parse().expect("numeric Upload-Offset")
    }
}

fn host_port(url: &Url) -> String {
    format!("{}:{}", url.host_str().expect("host"), url.port_or_known_default().expect("port"))
}

/// A request for `url` in origin form with `Host` and `Tus-Resumable: 1.0.0`.
fn tus(method: Method, url: &Url) -> http::request::Builder {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    Request::builder().method(method).uri(target).header("host", host_port(url)).header("tus-resumable", "1.0.0")
}

fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

/// Sends one request over a fresh HTTP/1.1 connection on `io`.
async fn send_on<I, B>(io: I, req: Request<B>) -> Result<Resp, BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let resp = sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, BoxError>(Resp { status: parts.status.as_u16(), version: parts.version, headers: parts.headers, body })
    }
    .await;
    driver.abort();
    result
}

/// Sends one request to `url`'s host over a fresh plain TCP connection.
async fn send<B>(url: &Url, req: Request<B>) -> Result<Resp, BoxError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let tcp = TcpStream::connect(host_port(url)).await?;
    send_on(tcp, req).await
}

async fn options(endpoint: &Url) -> Resp {
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri(endpoint.path())
        .header("host", host_port(endpoint))
        .body(empty())
        .unwrap();
    send(endpoint, req).await.expect("OPTIONS")
}

/// POSTs a new upload of `len` bytes; returns the response.
async fn create(endpoint: &Url, len: u64, extra: &[(&str, &str)]) -> Resp {
    let mut b = tus(Method::POST, endpoint).header("upload-length", len.to_string());
    for (n, v) in extra {
        b = b.header(*n, *v);
    }
    send(endpoint, b.body(empty()).unwrap()).await.expect("POST")
}

/// Creates an upload and returns its absolute URL.
async fn create_url(endpoint: &Url, len: u64) -> Url {
    let r = create(endpoint, len, &[]).await;
    assert_eq!(r.status, 201, "{r:?}");
    endpoint.join(r.h("location").expect("Location")).unwrap()
}

fn patch_req(url: &Url, offset: u64, data: &[u8], extra: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut b = tus(Method::PATCH, url)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string());
    for (n, v) in extra {
        b = b.header(*n, *v);
    }
    b.body(Full::new(Bytes::copy_from_slice(data))).unwrap()
}

async fn patch(url: &Url, offset: u64, data: &[u8], extra: &[(&str, &str)]) -> Result<Resp, BoxError> {
    send(url, patch_req(url, offset, data, extra)).await
}

async fn head(url: &Url) -> Resp {
    send(url, tus(Method::HEAD, url).body(empty()).unwrap()).await.expect("HEAD")
}

fn b64_digest<D: sha2::Digest>(data: &[u8]) -> String {
    B64.encode(D::digest(data))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

// ---- TusServer ---------------------------------------------------------------------------------

#[tokio::test]
async fn server_round_trip() {
    bounded(async {
        let server = TusServer::start().await;
        let endpoint = server.endpoint();
        assert_eq!(endpoint.as_str(), format!("http://{}/files/", server.addr()));

        let o = options(&endpoint).await;
        assert_eq!(o.status, 204);
        assert_eq!(o.h("tus-version"), Some("1.0.0"));
        assert_eq!(o.h("tus-resumable"), Some("1.0.0"));
        assert_eq!(
            o.h("tus-extension"),
            Some("creation,creation-with-upload,creation-defer-length,termination,concatenation,checksum,expiration")
        );
        assert_eq!(o.h("tus-checksum-algorithm"), Some("sha1,sha256,sha512,md5"));
        assert_eq!(o.h("tus-max-size"), None);

        let metadata = "filename aGVsbG8udHh0,empty";
        let c = create(&endpoint, 11, &[("upload-metadata", metadata)]).await;
        assert_eq!(c.status, 201, "{c:?}");
        let location = c.h("location").unwrap().to_owned();
        assert!(location.starts_with(endpoint.as_str()), "{location}");
        let url = Url::parse(&location).unwrap();

        let p1 = patch(&url, 0, b"hello ", &[]).await.unwrap();
        assert_eq!((p1.status, p1.offset()), (204, 6));
        let sha1 = format!("sha1 {}", b64_digest::<sha1::Sha1>(b"world"));
        let p2 = patch(&url, 6, b"world", &[("upload-checksum", &sha1)]).await.unwrap();
        assert_eq!((p2.status, p2.offset()), (204, 11));

        let h = head(&url).await;
        assert_eq!(h.status, 200);
        assert_eq!(h.offset(), 11);
        assert_eq!(h.h("upload-length"), Some("11"));
        assert_eq!(h.h("upload-metadata"), Some(metadata));
        assert_eq!(h.h("cache-control"), Some("no-store"));
        assert_eq!(h.h("upload-defer-length"), None);

        let g = send(&url, tus(Method::GET, &url).body(empty()).unwrap()).await.unwrap();
        assert_eq!((g.status, &g.body[..]), (200, &b"hello world"[..]));
        assert_eq!(server.stored_bytes(&location).unwrap(), b"hello world");
        assert_eq!(server.upload_ids().len(), 1);
        let state = server.upload_state(&location).unwrap();
        assert_eq!((state.offset, state.length), (11, Some(11)));
        assert_eq!(state.metadata.as_deref(), Some(metadata));

        let methods: Vec<_> = server.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, [Method::OPTIONS, Method::POST, Method::PATCH, Method::PATCH, Method::HEAD, Method::GET]);
        let patches = server.requests_with(Method::PATCH);
        assert_eq!(patches[1].body_len, 5);
        assert_eq!(patches[1].header("upload-checksum"), Some(sha1.as_str()));
        server.clear_requests();
        assert!(server.requests().is_empty());

        // Termination.
        let d = send(&url, tus(Method::DELETE, &url).body(empty()).unwrap()).await.unwrap();
        assert_eq!(d.status, 204);
        assert_eq!(head(&url).await.status, 404);
        assert!(server.upload_ids().is_empty());
    })
    .await;
}

#[tokio::test]
async fn server_rejects_bad_requests() {
    bounded(async {
        let server = TusServer::builder().max_size(100).body_limit(50).start().await;
        let endpoint = server.endpoint();
        let url = create_url(&endpoint, 20).await;

        // Wrong offset: 409 with the true offset, nothing stored.
        let r = patch(&url, 5, b"abc", &[]).await.unwrap();
        assert_eq!((r.status, r.offset()), (409, 0));
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), b"");

        // Tus-Resumable missing or wrong: 412 + Tus-Version.
        let mut req = patch_req(&url, 0, b"abc", &[]);
        req.headers_mut().remove("tus-resumable");
        let r = send(&url, req).await.unwrap();
        assert_eq!((r.status, r.h("tus-version")), (412, Some("1.0.0")));
        let mut req = tus(Method::HEAD, &url).body(empty()).unwrap();
        req.headers_mut().insert("tus-resumable", "0.2.2".parse().unwrap());
        assert_eq!(send(&url, req).await.unwrap().status, 412);

        // Content-Type must be exact.
        let mut req = patch_req(&url, 0, b"abc", &[]);
        req.headers_mut().insert("content-type", "application/offset+octet-stream; charset=utf-8".parse().unwrap());
        assert_eq!(send(&url, req).await.unwrap().status, 415);

        // Body past the length, body above the body limit.
        assert_eq!(patch(&url, 0, &[0; 21], &[]).await.unwrap().status, 413);
        let big = create_url(&endpoint, 100).await;
        assert_eq!(patch(&big, 0, &[0; 51], &[]).await.unwrap().status, 413);
        assert_eq!(server.stored_bytes(big.as_str()).unwrap(), b"");
        assert_eq!(patch(&big, 0, &[7; 50], &[]).await.unwrap().offset(), 50);

        // Creation errors.
        assert_eq!(create(&endpoint, 101, &[]).await.status, 413);
        let both = create(&endpoint, 5, &[("upload-defer-length", "1")]).await;
        assert_eq!(both.status, 400);
        let none = send(&endpoint, tus(Method::POST, &endpoint).body(empty()).unwrap()).await.unwrap();
        assert_eq!(none.status, 400);
        for bad in [
            "a b,c d",        // not base64
            "a aGk=, b aGk=", // space after comma
            "a aGk=,a aGk=",  // duplicate key
            "a aGk",          // missing padding
            "a aGk=,",        // empty pair
            "a a-_=",         // URL-safe alphabet
            "",               // empty header
        ] {
            let r = create(&endpoint, 5, &[("upload-metadata", bad)]).await;
            assert_eq!(r.status, 400, "metadata {bad:?} should be rejected");
        }
        for good in ["a aGk=", "a", "a ", "a aGk=,b,c aGVsbG8="] {
            let r = create(&endpoint, 5, &[("upload-metadata", good)]).await;
            assert_eq!(r.status, 201, "metadata {good:?} should be accepted");
        }
        // Unknown upload, unknown route.
        let missing = endpoint.join("nope").unwrap();
        assert_eq!(head(&missing).await.status, 404);
        let elsewhere = endpoint.join("/other").unwrap();
        assert_eq!(head(&elsewhere).await.status, 404);
    })
    .await;
}

#[tokio::test]
async fn server_checksums() {
    bounded(async {
        let server = TusServer::builder()
            .extensions(&["creation", "checksum", "checksum-trailer"])
            .checksum_algorithms(&["sha1", "sha256", "md5"])
            .start()
            .await;
        let url = create_url(&server.endpoint(), 12).await;

        let good = format!("sha256 {}", b64_digest::<sha2::Sha256>(b"abcd"));
        assert_eq!(patch(&url, 0, b"abcd", &[("upload-checksum", &good)]).await.unwrap().offset(), 4);
        let wrong = format!("sha256 {}", b64_digest::<sha2::Sha256>(b"xxxx"));
        let r = patch(&url, 4, b"efgh", &[("upload-checksum", &wrong)]).await.unwrap();
        assert_eq!(r.status, 460);
        assert_eq!(head(&url).await.offset(), 4);
        let r = patch(&url, 4, b"efgh", &[("upload-checksum", "crc32 AAAAAA==")]).await.unwrap();
        assert_eq!(r.status, 400);
        let sha512 = format!("sha512 {}", b64_digest::<sha2::Sha512>(b"efgh"));
        let r = patch(&url, 4, b"efgh", &[("upload-checksum", &sha512)]).await.unwrap();
        assert_eq!(r.status, 400, "sha512 is not enabled on this server");
        let md5 = format!("md5 {}", B64.encode(md5::Md5::digest(b"efgh")));
        assert_eq!(patch(&url, 4, b"efgh", &[("upload-checksum", &md5)]).await.unwrap().offset(), 8);

        // As a trailer (hyper's HTTP/1 client only sends trailers declared in a `Trailer` header).
        let with_trailer = |data: &'static [u8], digest: String| {
            let mut trailers = HeaderMap::new();
            trailers.insert("upload-checksum", digest.parse().unwrap());
            let body = Full::new(Bytes::from_static(data)).with_trailers(async move { Some(Ok(trailers)) });
            tus(Method::PATCH, &url)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", "8")
                .header("transfer-encoding", "chunked")
                .header("trailer", "Upload-Checksum")
                .body(body)
                .unwrap()
        };
        let bad = with_trailer(b"ijkl", format!("sha1 {}", b64_digest::<sha1::Sha1>(b"nope")));
        assert_eq!(send(&url, bad).await.unwrap().status, 460);
        assert_eq!(head(&url).await.offset(), 8);
        let ok = with_trailer(b"ijkl", format!("sha1 {}", b64_digest::<sha1::Sha1>(b"ijkl")));
        let r = send(&url, ok).await.unwrap();
        assert_eq!((r.status, r.offset()), (204, 12));
        let last = server.requests_with(Method::PATCH).pop().unwrap();
        assert!(last.trailers.unwrap().contains_key("upload-checksum"));
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), b"abcdefghijkl");
    })
    .await;
}

#[tokio::test]
async fn server_creation_variants() {
    bounded(async {
        let server = TusServer::start().await;
        let endpoint = server.endpoint();

        // Deferred length: Upload-Length accepted on one PATCH only.
        let r = send(&endpoint, tus(Method::POST, &endpoint).header("upload-defer-length", "1").body(empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, 201);
        let url = endpoint.join(r.h("location").unwrap()).unwrap();
        let h = head(&url).await;
        assert_eq!((h.h("upload-defer-length"), h.h("upload-length")), (Some("1"), None));
        assert_eq!(patch(&url, 0, b"ab", &[]).await.unwrap().offset(), 2);
        assert_eq!(patch(&url, 2, b"cd", &[("upload-length", "1")]).await.unwrap().status, 400);
        assert_eq!(patch(&url, 2, b"cd", &[("upload-length", "6")]).await.unwrap().offset(), 4);
        assert_eq!(patch(&url, 4, b"ef", &[("upload-length", "6")]).await.unwrap().status, 400);
        assert_eq!(patch(&url, 4, b"ef", &[]).await.unwrap().offset(), 6);
        assert_eq!(head(&url).await.h("upload-length"), Some("6"));
        let r = create(&endpoint, 0, &[]).await;
        assert_eq!(r.status, 201);
        let done = endpoint.join(r.h("location").unwrap()).unwrap();
        assert_eq!((head(&done).await.offset(), head(&done).await.h("upload-length")), (0, Some("0")));

        // creation-with-upload.
        let req = tus(Method::POST, &endpoint)
            .header("upload-length", "10")
            .header("content-type", "application/offset+octet-stream")
            .body(Full::new(Bytes::from_static(b"12345")))
            .unwrap();
        let r = send(&endpoint, req).await.unwrap();
        assert_eq!((r.status, r.offset()), (201, 5));
        assert_eq!(server.stored_bytes(r.h("location").unwrap()).unwrap(), b"12345");
        // Without the content type, the body is ignored.
        let req = tus(Method::POST, &endpoint)
            .header("upload-length", "10")
            .body(Full::new(Bytes::from_static(b"12345")))
            .unwrap();
        let r = send(&endpoint, req).await.unwrap();
        assert_eq!((r.status, r.h("upload-offset")), (201, None));

        // Extensions not advertised are not honoured.
        let plain = TusServer::builder().extensions(&["creation"]).start().await;
        let pe = plain.endpoint();
        let r =
            send(&pe, tus(Method::POST, &pe).header("upload-defer-length", "1").body(empty()).unwrap()).await.unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(create(&pe, 3, &[("upload-concat", "partial")]).await.status, 501);
        let purl = create_url(&pe, 3).await;
        assert_eq!(send(&purl, tus(Method::DELETE, &purl).body(empty()).unwrap()).await.unwrap().status, 405);
        let o = options(&pe).await;
        assert_eq!((o.h("tus-extension"), o.h("tus-checksum-algorithm")), (Some("creation"), None));
    })
    .await;
}

#[tokio::test]
async fn server_concatenation() {
    bounded(async {
        let server = TusServer::start().await;
        let endpoint = server.endpoint();
        let mut parts = Vec::new();
        for data in [&b"hello "[..], b"world"] {
            let r = create(&endpoint, data.len() as u64, &[("upload-concat", "partial")]).await;
            assert_eq!(r.status, 201);
            let url = endpoint.join(r.h("location").unwrap()).unwrap();
            assert_eq!(head(&url).await.h("upload-concat"), Some("partial"));
            parts.push(url);
        }
        // Not complete yet: 400.
        let list = format!("final;{} {}", parts[0], parts[1].path());
        let r = send(&endpoint, tus(Method::POST, &endpoint).header("upload-concat", &list).body(empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, 400);
        patch(&parts[0], 0, b"hello ", &[]).await.unwrap();
        patch(&parts[1], 0, b"world", &[]).await.unwrap();
        // With Upload-Length: 400.
        assert_eq!(create(&endpoint, 11, &[("upload-concat", &list)]).await.status, 400);
        let r = send(&endpoint, tus(Method::POST, &endpoint).header("upload-concat", &list).body(empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        let fin = endpoint.join(r.h("location").unwrap()).unwrap();
        let h = head(&fin).await;
        assert_eq!((h.offset(), h.h("upload-length"), h.h("upload-concat")), (11, Some("11"), Some(list.as_str())));
        assert_eq!(server.stored_bytes(fin.as_str()).unwrap(), b"hello world");
        assert_eq!(patch(&fin, 11, b"x", &[]).await.unwrap().status, 403);
        // A regular upload is not a partial.
        let regular = create_url(&endpoint, 0).await;
        let bad = format!("final;{regular}");
        let r = send(&endpoint, tus(Method::POST, &endpoint).header("upload-concat", &bad).body(empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, 400);
    })
    .await;
}

#[tokio::test]
async fn server_location_modes_ok_status_and_expiry() {
    bounded(async {
        for (mode, expect) in [
            (RelativeMode::Absolute, "http://HOST/files/"),
            (RelativeMode::AbsolutePath, "/files/"),
            (RelativeMode::Relative, ""),
            (RelativeMode::SchemeRelative, "//HOST/files/"),
        ] {
            let server = TusServer::builder().relative_location(mode).start().await;
            let r = create(&server.endpoint(), 1, &[]).await;
            let loc = r.h("location").unwrap();
            let id = &server.upload_ids()[0];
            let expect = format!("{}{id}", expect.replace("HOST", &server.addr().to_string()));
            assert_eq!(loc, expect, "{mode:?}");
            assert_eq!(server.endpoint().join(loc).unwrap(), server.upload_url(id));
        }

        let server = TusServer::builder().ok_status(200).expires_in(Duration::from_secs(1)).start().await;
        let endpoint = server.endpoint();
        assert_eq!(options(&endpoint).await.status, 200);
        let r = create(&endpoint, 4, &[]).await;
        let expires = r.h("upload-expires").expect("Upload-Expires").to_owned();
        assert!(expires.ends_with(" GMT") && expires.len() == 29, "{expires}");
        let url = endpoint.join(r.h("location").unwrap()).unwrap();
        let p = patch(&url, 0, b"ab", &[]).await.unwrap();
        assert_eq!((p.status, p.offset()), (200, 2));
        assert!(p.h("upload-expires").is_some());
        assert_eq!(head(&url).await.status, 200);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(head(&url).await.status, 410);
        assert!(server.upload_state(url.as_str()).unwrap().expired);

        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_403_712_000);
        assert_eq!(http_date(t), "Wed, 25 Jun 2014 16:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert!(http_date(SystemTime::now()).ends_with("GMT"));
    })
    .await;
}

// ---- faults ------------------------------------------------------------------------------------

#[tokio::test]
async fn fault_status_then_success() {
    bounded(async {
        let server = TusServer::start().await;
        let url = create_url(&server.endpoint(), 6).await;
        server.inject(Fault::patch(FaultAction::status(423)));
        assert_eq!(server.pending_faults(), 1);
        let r = patch(&url, 0, b"abc", &[]).await.unwrap();
        assert_eq!(r.status, 423);
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), b"");
        let r = patch(&url, 0, b"abc", &[]).await.unwrap();
        assert_eq!((r.status, r.offset()), (204, 3));
        assert_eq!((server.faults_fired(), server.pending_faults()), (1, 0));

        // 503 + Retry-After twice, on the 2nd HEAD onward; a 409 carrying the true offset.
        server.inject(Fault::head(FaultAction::status_with(503, &[("Retry-After", "1")])).nth(2).times(2));
        assert_eq!(head(&url).await.status, 200);
        let r = head(&url).await;
        assert_eq!((r.status, r.h("retry-after")), (503, Some("1")));
        assert_eq!(head(&url).await.status, 503);
        assert_eq!(head(&url).await.status, 200);
        server.inject(Fault::patch(FaultAction::conflict()).path_contains(url.path()));
        let r = patch(&url, 3, b"def", &[]).await.unwrap();
        assert_eq!((r.status, r.offset()), (409, 3));
        // Always + clear.
        server.inject(Fault::any(FaultAction::status(500)).always());
        assert_eq!(head(&url).await.status, 500);
        assert_eq!(options(&server.endpoint()).await.status, 500);
        server.clear_faults();
        assert_eq!(head(&url).await.status, 200);
        // ChecksumMismatch and Delay.
        server.inject(Fault::patch(FaultAction::ChecksumMismatch));
        assert_eq!(patch(&url, 3, b"def", &[]).await.unwrap().status, 460);
        server.inject(Fault::patch(FaultAction::Delay(Duration::from_millis(200))));
        let t = std::time::Instant::now();
        assert_eq!(patch(&url, 3, b"def", &[]).await.unwrap().offset(), 6);
        assert!(t.elapsed() >= Duration::from_millis(200));
    })
    .await;
}

#[tokio::test]
async fn fault_drop_mid_body_keeps_prefix() {
    bounded(async {
        let server = TusServer::start().await;
        let data = pattern(100_000);
        let url = create_url(&server.endpoint(), data.len() as u64).await;
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 40_000 }));
        let r = patch(&url, 0, &data, &[]).await;
        assert!(r.is_err(), "the connection should be cut: {r:?}");
        let h = head(&url).await;
        assert_eq!(h.offset(), 40_000);
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), &data[..40_000]);
        assert!(server.requests_with(Method::PATCH)[0].body_len >= 40_000);
        // Resume from there.
        let r = patch(&url, 40_000, &data[40_000..], &[]).await.unwrap();
        assert_eq!(r.offset(), 100_000);
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), data);
    })
    .await;
}

#[tokio::test]
async fn fault_lose_response_accept_partial_and_stalls() {
    bounded(async {
        let server = TusServer::start().await;
        let url = create_url(&server.endpoint(), 10).await;

        server.inject(Fault::patch(FaultAction::LoseResponse));
        assert!(patch(&url, 0, b"abcd", &[]).await.is_err());
        assert_eq!(head(&url).await.offset(), 4, "the body was stored although the response was lost");

        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 2 }));
        let r = patch(&url, 4, b"efgh", &[]).await.unwrap();
        assert_eq!((r.status, r.offset()), (204, 6));
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), b"abcdef");

        // A stall holds the request until the client gives up.
        server.inject(Fault::head(FaultAction::Stall));
        let stalled = tokio::time::timeout(Duration::from_millis(300), head(&url)).await;
        assert!(stalled.is_err(), "a stalled HEAD must not be answered");
        server.inject(Fault::patch(FaultAction::StallMidBody { after: 2 }));
        let stalled = tokio::time::timeout(Duration::from_millis(300), patch(&url, 6, b"ghij", &[])).await;
        assert!(stalled.is_err());
        assert_eq!(head(&url).await.offset(), 8, "StallMidBody stores what it read");

        // A LoseResponse POST creates an upload whose URL the client never learns.
        server.inject(Fault::post(FaultAction::LoseResponse));
        let r = send(
            &server.endpoint(),
            tus(Method::POST, &server.endpoint()).header("upload-length", "1").body(empty()).unwrap(),
        )
        .await;
        assert!(r.is_err());
        assert_eq!(server.upload_ids().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn dropping_servers_closes_everything() {
    bounded(async {
        let server = TusServer::start().await;
        let addr = server.addr();
        let url = create_url(&server.endpoint(), 10).await;
        server.inject(Fault::head(FaultAction::Stall));
        let stalled = tokio::spawn(async move { head(&url).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!stalled.is_finished());
        drop(server);
        // The stalled request ends (its connection is closed) and the port is closed.
        let joined = tokio::time::timeout(Duration::from_secs(5), stalled).await;
        assert!(joined.expect("stalled request should end").is_err(), "HEAD should fail, not succeed");
        assert!(TcpStream::connect(addr).await.is_err());

        let hostile = HostileServer::start(vec![Reply::Silent]).await;
        let haddr = hostile.addr();
        let mut s = TcpStream::connect(haddr).await.unwrap();
        s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(hostile);
        let mut buf = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await.unwrap();
        assert!(n.is_err() || buf.is_empty());
        assert!(TcpStream::connect(haddr).await.is_err());
    })
    .await;
}

// ---- hostile server ----------------------------------------------------------------------------

#[tokio::test]
async fn hostile_server_writes_raw_bytes() {
    bounded(async {
        let raw = b"HTTP/1.1 200 OK\r\nUpload-Offset: banana\r\nContent-Length: 0\r\n\r\n".to_vec();
        let server =
            HostileServer::start(vec![Reply::Raw(raw.clone()), Reply::status(503, &[("Retry-After", "7")])]).await;
        let addr = server.addr();
        let exchange = |request: &'static [u8]| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(request).await.unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            out
        };
        let got =
            exchange(b"PATCH /files/x HTTP/1.1\r\nHost: h\r\nUpload-Offset: 0\r\nContent-Length: 5\r\n\r\nhello").await;
        assert_eq!(got, raw);
        let expected =
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        assert_eq!(exchange(b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n").await, expected);
        // The last reply repeats; chunked bodies are drained.
        let got =
            exchange(b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").await;
        assert_eq!(got, expected);

        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!((reqs[0].method.as_str(), reqs[0].path.as_str()), ("PATCH", "/files/x"));
        assert_eq!(reqs[0].header("upload-offset"), Some("0"));
        assert_eq!(reqs[0].headers[1].0, "Upload-Offset", "header case is kept");
        assert_eq!((reqs[0].body_len, reqs[2].body_len), (5, 3));
        assert_eq!(server.connections(), 3);

        // Through hyper: a 2xx HEAD without a valid Upload-Offset is visible as such.
        let hostile = HostileServer::start(vec![Reply::status(200, &[("Tus-Resumable", "1.0.0")])]).await;
        let url = hostile.url("/files/x");
        let r = head(&url).await;
        assert_eq!((r.status, r.h("upload-offset")), (200, None));
    })
    .await;
}

#[tokio::test]
async fn hostile_server_keep_open_silent_and_close() {
    bounded(async {
        let server = HostileServer::start(vec![
            Reply::RawKeepOpen(b"HTTP/1.1 204 No Content\r\nUpload-Offset: 1\r\n\r\n".to_vec()),
            Reply::status_keep_open(204, &[("Upload-Offset", "2")]),
            Reply::Close,
            Reply::AcceptBodyThenSilent,
        ])
        .await;
        // Two requests on one kept-open connection.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(b"HEAD /1 HTTP/1.1\r\nHost: h\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
        s.write_all(b"HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n").await.unwrap();
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("Upload-Offset: 2"));
        // The next connection is closed without an answer.
        let url = server.url("/files/x");
        let r = send(&url, tus(Method::HEAD, &url).body(empty()).unwrap()).await;
        assert!(r.is_err(), "{r:?}");
        // Then the body is read but nothing comes back.
        let silent = tokio::time::timeout(Duration::from_millis(300), patch(&url, 0, b"abc", &[])).await;
        assert!(silent.is_err(), "AcceptBodyThenSilent must not answer");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 4);
        assert_eq!((reqs[0].connection, reqs[1].connection), (0, 0));
        assert_eq!(reqs[3].body_len, 3);
    })
    .await;
}

// ---- fault proxy -------------------------------------------------------------------------------

/// Uploads `data` to `url` by HEAD + PATCH-the-rest until done; returns the number of failed attempts.
async fn upload_resiliently(url: &Url, data: &[u8]) -> usize {
    let mut failures = 0;
    for _ in 0..50 {
        let offset = match send(url, tus(Method::HEAD, url).body(empty()).unwrap()).await {
            Ok(r) if r.status == 200 => r.offset(),
            _ => {
                failures += 1;
                continue;
            }
        };
        if offset == data.len() as u64 {
            return failures;
        }
        match patch(url, offset, &data[offset as usize..], &[]).await {
            Ok(r) if r.status == 204 && r.offset() == data.len() as u64 => return failures,
            _ => failures += 1,
        }
    }
    panic!("upload did not finish in 50 attempts");
}

#[tokio::test]
async fn proxy_cuts_then_forwards_cleanly() {
    bounded(async {
        let server = TusServer::start().await;
        let proxy = FaultProxy::start(server.addr(), FaultPlan::seeded(7).cut_every(5_000..50_000).max_faults(3)).await;
        let endpoint = proxy.url("/files/");
        let data = pattern(300_000);
        let url = create_url(&endpoint, data.len() as u64).await;
        assert_eq!(url.port(), Some(proxy.addr().port()), "Location follows the Host header");
        let failures = upload_resiliently(&url, &data).await;
        assert_eq!(proxy.faults_injected(), 3);
        assert_eq!(proxy.cuts(), 3);
        assert!(failures >= 3, "every cut should fail a request ({failures})");
        assert!(proxy.connections() >= 8);
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), data);
        // The server kept the bytes before each cut: more than one PATCH carried data.
        let patches = server.requests_with(Method::PATCH);
        assert!(patches.len() >= 4, "{}", patches.len());
        assert!(proxy.client_bytes() < 4 * data.len() as u64);

        // Same seed, same cut points.
        let draws = |seed| {
            let mut rng = tus_tests::proxy::SplitMix64::new(seed);
            (0..5).map(|_| rng.in_range(5_000..50_000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    })
    .await;
}

#[tokio::test]
async fn proxy_resets_and_stalls() {
    bounded(async {
        let server = TusServer::start().await;
        let proxy = FaultProxy::start(
            server.addr(),
            FaultPlan::seeded(1)
                .cut_every(1_000..2_000)
                .reset_probability(0.5)
                .stall_probability(0.3)
                .stall_for(Duration::from_millis(200))
                .max_faults(6),
        )
        .await;
        let data = pattern(50_000);
        let url = create_url(&proxy.url("/files/"), data.len() as u64).await;
        upload_resiliently(&url, &data).await;
        assert_eq!(proxy.faults_injected(), 6);
        assert_eq!(proxy.cuts() + proxy.stalls() + proxy.resets(), 6);
        assert!(proxy.resets() > 0 && proxy.stalls() > 0, "seed 1 should give both kinds");
        assert_eq!(server.stored_bytes(url.as_str()).unwrap(), data);

        // Disabled: clean.
        let clean = FaultProxy::start(server.addr(), FaultPlan::seeded(3).cut_every(10..20)).await;
        clean.set_faults_enabled(false);
        let url = create_url(&clean.url("/files/"), 3).await;
        assert_eq!(patch(&url, 0, b"abc", &[]).await.unwrap().offset(), 3);
        assert_eq!(clean.faults_injected(), 0);
    })
    .await;
}

// ---- TLS ---------------------------------------------------------------------------------------

async fn tls_connect(
    addr: std::net::SocketAddr,
    name: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from(name.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await
}

#[tokio::test]
async fn tls_proxy_in_front_of_plain_server() {
    bounded(async {
        let pki = TestPki::new();
        assert_eq!(pki.server.sha256_hex.len(), 64);
        assert_eq!(pki.server.sha256_hex, tus_tests::certs::sha256_hex(&pki.server.cert_der));
        assert_ne!(pki.server.sha256_hex, pki.server2.sha256_hex);
        assert!(pki.server.sha256_hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));

        let server = TusServer::start().await;
        let proxy = TlsProxy::start(server.addr(), server_config(&pki.server, None)).await;
        let trusting = TestPki::client_config(pki.ca.root_store(), None);
        for name in ["127.0.0.1", "localhost"] {
            let tls = tls_connect(proxy.addr(), name, trusting.clone()).await.expect("handshake");
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
            let url = proxy.url("/files/");
            let req = Request::builder()
                .method(Method::OPTIONS)
                .uri("/files/")
                .header("host", host_port(&url))
                .body(empty())
                .unwrap();
            let r = send_on(tls, req).await.unwrap();
            assert_eq!((r.status, r.h("tus-version")), (204, Some("1.0.0")));
        }

        // Without the CA, or with the self-signed leaf, the handshake fails.
        let untrusting = TestPki::client_config(rustls::RootCertStore::empty(), None);
        assert!(tls_connect(proxy.addr(), "localhost", untrusting).await.is_err());
        let self_signed = TlsProxy::start(server.addr(), server_config(&pki.self_signed, None)).await;
        assert!(tls_connect(self_signed.addr(), "localhost", trusting.clone()).await.is_err());
        // mTLS: a client certificate is required.
        let mtls = TlsProxy::start(server.addr(), server_config(&pki.server, Some(&pki.ca))).await;
        let with_cert = TestPki::client_config(pki.ca.root_store(), Some(&pki.client));
        let tls = tls_connect(mtls.addr(), "localhost", with_cert).await.expect("mTLS handshake");
        let r = send_on(tls, tus(Method::HEAD, &mtls.url("/files/nope")).body(empty()).unwrap()).await.unwrap();
        assert_eq!(r.status, 404);
        let without = tls_connect(mtls.addr(), "localhost", trusting).await;
        // TLS 1.3: the client may only learn of the rejection on its first read.
        if let Ok(tls) = without {
            let r = send_on(tls, tus(Method::HEAD, &mtls.url("/files/nope")).body(empty()).unwrap()).await;
            assert!(r.is_err(), "{r:?}");
        }

        let dir = tempfile::tempdir().unwrap();
        let files = pki.write_to(dir.path()).unwrap();
        let pem = std::fs::read_to_string(files.ca_cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(std::fs::read_to_string(files.server_chain).unwrap().matches("BEGIN CERTIFICATE").count() == 2);
    })
    .await;
}

#[tokio::test]
async fn tls_server_speaks_h2_and_http1() {
    bounded(async {
        let pki = TestPki::new();
        let server = TusServer::builder().tls(server_config(&pki.server, None)).start().await;
        let endpoint = server.endpoint();
        assert_eq!(endpoint.scheme(), "https");
        let client = TestPki::client_config(pki.ca.root_store(), None);

        // HTTP/2 (ALPN h2).
        let tls = tls_connect(server.addr(), "127.0.0.1", client.clone()).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let post = Request::builder()
            .method(Method::POST)
            .uri(endpoint.as_str())
            .header("tus-resumable", "1.0.0")
            .header("upload-length", "3")
            .body(empty())
            .unwrap();
        let r = sender.send_request(post).await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.version(), Version::HTTP_2);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(endpoint.as_str()), "{location}");
        let patch = Request::builder()
            .method(Method::PATCH)
            .uri(&location)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .body(Full::new(Bytes::from_static(b"abc")))
            .unwrap();
        let r = sender.send_request(patch).await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["upload-offset"].to_str().unwrap()), (204, "3"));
        driver.abort();
        assert_eq!(server.stored_bytes(&location).unwrap(), b"abc");
        assert!(server.requests().iter().all(|r| r.version == Version::HTTP_2));

        // HTTP/1.1 on the same server.
        let http1 = TestPki::client_config(pki.ca.root_store(), None);
        let mut only_http1 = (*http1).clone();
        only_http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = tls_connect(server.addr(), "localhost", std::sync::Arc::new(only_http1)).await.unwrap();
        let url = Url::parse(&location).unwrap();
        let r = send_on(tls, tus(Method::HEAD, &url).body(empty()).unwrap()).await.unwrap();
        assert_eq!((r.status, r.version, r.offset()), (200, Version::HTTP_11, 3));
    })
    .await;
}

// ---- an independent client: curl ---------------------------------------------------------------

async fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-", "-o", "/dev/null"])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run curl");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.stderr)
}

#[tokio::test]
async fn server_works_with_curl() {
    bounded(async {
        let server = TusServer::start().await;
        let endpoint = server.endpoint();
        let (head_out, _) =
            curl(&["-X", "POST", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Length: 2000000", endpoint.as_str()])
                .await;
        assert!(head_out.starts_with("HTTP/1.1 201"), "{head_out}");
        let location = head_out.lines().find_map(|l| l.strip_prefix("location: ")).expect("location").trim().to_owned();
        // A 2 MB body: curl sends `Expect: 100-continue` and waits for the interim response.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("body");
        let data = pattern(2_000_000);
        std::fs::write(&file, &data).unwrap();
        let started = std::time::Instant::now();
        let (out, _) = curl(&[
            "-X",
            "PATCH",
            "-H",
            "Tus-Resumable: 1.0.0",
            "-H",
            "Upload-Offset: 0",
            "-H",
            "Content-Type: application/offset+octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
            &location,
        ])
        .await;
        assert!(out.contains("HTTP/1.1 204"), "{out}");
        assert!(out.contains("upload-offset: 2000000"), "{out}");
        assert!(started.elapsed() < Duration::from_millis(900), "curl should not wait out its Expect timeout");
        let patch = server.requests_with(Method::PATCH).pop().unwrap();
        assert_eq!(patch.header("expect"), Some("100-continue"));
        assert_eq!(server.stored_bytes(&location).unwrap(), data);
        let (out, _) = curl(&["-I", "-H", "Tus-Resumable: 1.0.0", &location]).await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("upload-offset: 2000000") && out.contains("cache-control: no-store"), "{out}");
    })
    .await;
}

#[tokio::test]
async fn server_inspection_helpers() {
    bounded(async {
        let server = TusServer::start().await;
        let url = create_url(&server.endpoint(), 6).await;
        patch(&url, 0, b"abcdef", &[]).await.unwrap();
        let id = server.upload_ids().pop().unwrap();
        assert_eq!(server.stored_bytes(&url), server.stored_bytes(&id));
        assert!(server.truncate(&url, 2));
        assert_eq!(head(&url).await.offset(), 2, "a lost tail shows up as a smaller offset");
        assert_eq!(server.upload_state(&id).unwrap().offset, 2);
        assert!(server.expire(&url));
        assert_eq!(head(&url).await.status, 410);
        assert!(server.forget(&url));
        assert_eq!(head(&url).await.status, 404);
        assert!(!server.forget(&url) && server.stored_bytes(&url).is_none());
        // X-HTTP-Method-Override turns a POST into a PATCH (and is matched by PATCH faults).
        let url = create_url(&server.endpoint(), 3).await;
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 1 }));
        let mut req = patch_req(&url, 0, b"xyz", &[("x-http-method-override", "PATCH")]);
        *req.method_mut() = Method::POST;
        let r = send(&url, req).await.unwrap();
        assert_eq!((r.status, r.offset()), (204, 1));
        assert_eq!(server.requests().last().unwrap().method, Method::POST);
    })
    .await;
}
