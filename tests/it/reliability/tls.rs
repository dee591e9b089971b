//! TLS: a TLS-terminating proxy ([`TlsProxy`]) in front of rustus and @tus/server, the client trusting
//! the test CA or pinning the certificate, and the stored file byte-identical to the source. Then the
//! fault proxy in front of the TLS proxy, so connections break in the middle of TLS records.
//!
//! The TLS proxy forwards raw bytes, so the servers see plain HTTP and would build `http://`
//! `Location`s (tus pitfall #2). What the tests do about it:
//! - @tus/server runs with `relativeLocation` (`Location: /files/<id>`), which the client resolves
//!   against the `https://` creation URL;
//! - rustus (actix-web) takes the scheme of its absolute `Location` from `X-Forwarded-Proto` (with or
//!   without `--behind-proxy`), so the client sends `X-Forwarded-Proto: https` as a default header, as
//!   a real TLS terminator would add it. [`rustus_without_forwarded_proto_fails_clearly`] shows what
//!   happens without it.

use std::sync::Arc;
use std::time::Duration;

use tus_retry::tus_client::Fingerprint;
use tus_retry::{Client, Uploader};
use tus_tests::certs::{LeafCert, TestPki};
use tus_tests::proxy::FaultProxy;
use tus_tests::real::{NodeOptions, RealServer, ServerKind};
use tus_tests::tls_proxy::TlsProxy;
use url::Url;

use super::proxy::{CHUNK, Profile, survive};
use super::{TestSleeper, assert_stored, chain, fast_retry, node, payload, rustus, source_file, upload_file};

/// How the client trusts the proxy's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// The proxy shows the CA-signed leaf; the client trusts only the test CA.
    Ca,
    /// The proxy shows a self-signed leaf; the client trusts nothing but its SHA-256 pin.
    Pin,
}

fn leaf(pki: &TestPki, trust: Trust) -> &LeafCert {
    match trust {
        Trust::Ca => &pki.server,
        Trust::Pin => &pki.self_signed,
    }
}

fn tls_client(pki: &TestPki, trust: Trust, kind: ServerKind, stall: Duration) -> Client {
    let mut builder = Client::builder()
        .stall_timeout(Some(stall))
        .connect_timeout(Some(Duration::from_secs(5)))
        .tls_no_builtin_roots();
    builder = match trust {
        Trust::Ca => builder.add_root_certificate_pem(pki.ca.pem.as_bytes()),
        Trust::Pin => {
            builder.tls_pin_sha256(Fingerprint::from_hex(&pki.self_signed.sha256_hex).expect("valid fingerprint"))
        }
    };
    if kind == ServerKind::Rustus {
        builder = builder.default_header("X-Forwarded-Proto", "https");
    }
    builder.build().expect("TLS client builds")
}

async fn server(kind: ServerKind) -> RealServer {
    match kind {
        ServerKind::Rustus => rustus().await,
        ServerKind::Node => node(NodeOptions { relative_location: true, ..NodeOptions::default() }).await,
    }
}

/// A clean upload through the TLS proxy.
async fn through_tls(kind: ServerKind, trust: Trust) {
    let pki = TestPki::new();
    let server = server(kind).await;
    let proxy = TlsProxy::start(server.addr(), TestPki::server_config(leaf(&pki, trust), None)).await;
    let what = format!("{kind} behind the TLS proxy ({trust:?})");
    let data = payload(3 << 20, 42);
    let (_dir, path) = source_file(&data);
    let sleeper = TestSleeper::none();
    let uploader = Uploader::new(tls_client(&pki, trust, kind, Duration::from_secs(10)))
        .chunk_size(CHUNK)
        .retry(fast_retry(5, sleeper));
    let endpoint = proxy.url("/files/");
    let url = upload_file(&server, &uploader, &endpoint, &path, &what).await;
    assert_eq!(url.scheme(), "https", "{what}: upload URL {url}");
    assert_eq!(url.port(), Some(proxy.addr().port()), "{what}: the upload URL {url} bypasses the TLS proxy");
    assert!(proxy.connections() >= 1, "{what}: no connection reached the TLS proxy");
    assert_eq!(proxy.handshake_failures(), 0, "{what}: TLS handshakes failed");
    assert_stored(&server, &url, &data, &what);
}

/// The fault proxy in front of the TLS proxy: cuts, stalls and resets inside the TLS stream.
async fn tls_under_faults(kind: ServerKind, seed: u64) {
    let pki = TestPki::new();
    let server = server(kind).await;
    let tls = TlsProxy::start(server.addr(), TestPki::server_config(&pki.server, None)).await;
    let profile = Profile::of(kind);
    let faults = FaultProxy::start(tls.addr(), profile.plan(seed)).await;
    let endpoint = Url::parse(&format!("https://127.0.0.1:{}/files/", faults.addr().port())).expect("valid URL");
    let what = format!("{kind} behind the fault proxy and the TLS proxy, seed {seed}");
    let client = tls_client(&pki, Trust::Ca, kind, profile.client_stall);
    survive(&server, &faults, client, &endpoint, seed, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_trusting_the_ca() {
    through_tls(ServerKind::Rustus, Trust::Ca).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_pinned() {
    through_tls(ServerKind::Rustus, Trust::Pin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_trusting_the_ca() {
    through_tls(ServerKind::Node, Trust::Ca).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_pinned() {
    through_tls(ServerKind::Node, Trust::Pin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_under_faults_seed_21() {
    tls_under_faults(ServerKind::Rustus, 21).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_under_faults_seed_22() {
    tls_under_faults(ServerKind::Node, 22).await;
}

/// A wrong pin ends the upload at once with an error naming both fingerprints; nothing is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_fails_fast_and_clearly() {
    let pki = TestPki::new();
    let server = rustus().await;
    let proxy = TlsProxy::start(server.addr(), TestPki::server_config(&pki.server, None)).await;
    let wrong = Fingerprint::from_hex(&pki.server2.sha256_hex).expect("valid fingerprint");
    let client = Client::builder().tls_no_builtin_roots().tls_pin_sha256(wrong).build().expect("client builds");
    let sleeper = TestSleeper::none();
    let uploader = Uploader::new(client).retry(fast_retry(5, Arc::clone(&sleeper)));
    let source = tus_retry::Source::bytes(payload(1000, 1));
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        uploader.upload(&proxy.url("/files/"), source, tus_retry::Metadata::new()),
    )
    .await
    .expect("a pin mismatch ends within 10 s");
    let err = result.expect_err("a pin mismatch must not upload");
    let text = chain(&err);
    assert!(matches!(err, tus_retry::Error::Fatal { .. }), "not fatal: {text}");
    assert!(err.client_error().is_some_and(|e| e.is_tls() && e.pin_mismatch().is_some()), "no pin mismatch: {text}");
    assert!(text.contains(&pki.server2.sha256_hex[..8]) || text.contains(&wrong.to_string()[..8]), "{text}");
    assert_eq!(sleeper.calls(), 0, "a TLS failure was retried: {text}");
    assert!(server.stored_bytes(&Url::parse("http://x/files/none").expect("url")).is_err());
}

/// Without `X-Forwarded-Proto`, rustus answers the creation with `Location: http://<proxy>/files/<id>`:
/// the TLS proxy's port, but plain HTTP. The client follows it as given (tus pitfall #2), the TLS
/// proxy refuses the plaintext, and the upload fails with an error naming the `http://` URL; it does
/// not report success and does not reach the server around the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_without_forwarded_proto_fails_clearly() {
    let pki = TestPki::new();
    let server = rustus().await;
    let proxy = TlsProxy::start(server.addr(), TestPki::server_config(&pki.server, None)).await;
    let client = Client::builder()
        .stall_timeout(Some(Duration::from_secs(2)))
        .tls_no_builtin_roots()
        .add_root_certificate_pem(pki.ca.pem.as_bytes())
        .build()
        .expect("client builds");
    let uploader = Uploader::new(client).retry(fast_retry(3, TestSleeper::none()));
    let source = tus_retry::Source::bytes(payload(1000, 2));
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        uploader.upload(&proxy.url("/files/"), source, tus_retry::Metadata::new()),
    )
    .await
    .expect("ends within 20 s");
    let err = result.expect_err("an http:// Location behind a TLS proxy cannot work");
    let text = chain(&err);
    eprintln!("rustus behind the TLS proxy without X-Forwarded-Proto: {text}");
    let url = err.upload_url().expect("the upload was created").clone();
    assert_eq!(url.scheme(), "http", "{text}");
    assert_eq!(url.port(), Some(proxy.addr().port()), "{text}");
    assert!(text.contains(&format!("http://127.0.0.1:{}/files/", proxy.addr().port())), "{text}");
    assert!(proxy.handshake_failures() >= 1, "the plaintext request never reached the TLS proxy: {text}");
}
