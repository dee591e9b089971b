//! tus-client against the in-process [`TusServer`]: the exact headers of every operation, every
//! operation end to end, injected faults with their error predicates and retry classes, the TLS
//! matrix, and connection reuse.
//!
//! Every test runs under [`bounded`], so a hang is a failure, and compares stored bytes byte for byte
//! where data is involved.

mod faults;
mod headers;
mod tls;
mod uploads;

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::Digest as _;
use tus_client::{Client, ClientBuilder, Source};
use tus_proto::{ChecksumAlgorithm, Create, Length};
use tus_tests::server::{RecordedRequest, TusServer};
use tus_tests::util::data;
use url::Url;

/// The user agent the tests set, so header assertions don't depend on the crate version.
const UA: &str = "tus-rs-tests/1";
const OCTET: &str = "application/offset+octet-stream";

/// Runs a test body with a hard deadline.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("test timed out")
}

/// A builder with the test user agent and a stall timeout that fails a hung test quickly.
fn builder() -> ClientBuilder {
    Client::builder().user_agent(UA).stall_timeout(Some(Duration::from_secs(10)))
}

fn client() -> Client {
    builder().build().expect("client")
}

/// Creates an upload of `len` bytes and returns its URL.
async fn create(client: &Client, server: &TusServer, len: u64) -> Url {
    client.create(&server.endpoint(), &Create::new(Length::Known(len))).await.expect("create").url
}

/// Creates an upload holding `bytes`, sent with `upload_buffer`.
async fn uploaded(client: &Client, server: &TusServer, bytes: &[u8]) -> Url {
    let url = create(client, server, bytes.len() as u64).await;
    let source = Source::bytes(bytes.to_vec());
    client.upload_buffer(&url, &source, &Default::default()).await.expect("upload_buffer");
    url
}

/// `<alg> <base64 digest>` of `bytes`, computed here independently of the client.
fn checksum_value(alg: &ChecksumAlgorithm, bytes: &[u8]) -> String {
    let digest = match alg {
        ChecksumAlgorithm::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        ChecksumAlgorithm::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        ChecksumAlgorithm::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
        ChecksumAlgorithm::Md5 => md5::Md5::digest(bytes).to_vec(),
        other => panic!("no digest for {other:?}"),
    };
    format!("{} {}", alg.as_str(), B64.encode(digest))
}

/// Asserts that `req` carries exactly these headers (names lower-case, one value each) besides
/// `host`, which must name the server.
#[track_caller]
fn assert_headers(req: &RecordedRequest, server: &TusServer, expected: &[(&str, &str)]) {
    let mut got: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII header").to_owned()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = expected.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    want.push(("host".to_owned(), server.addr().to_string()));
    want.sort();
    assert_eq!(got, want, "headers of {} {}", req.method, req.path);
}

/// The upload id in an upload URL.
fn id(url: &Url) -> String {
    url.path_segments().and_then(|mut s| s.next_back()).expect("an id").to_owned()
}
