//! The TLS matrix against the in-process server over HTTPS (certificates made with rcgen at test
//! time): pins (match, mismatch, rotation), a custom CA, mTLS, no verification, default trust refusing
//! test certificates, and HTTP/2 through ALPN.

use std::sync::OnceLock;

use http::{Method, Version};
use tus_client::{Client, ClientBuilder, Error, Fingerprint, RetryClass, Source};
use tus_proto::{ChecksumAlgorithm, ChecksumPlacement, UploadOptions};
use tus_tests::certs::{LeafCert, TestPki};
use tus_tests::server::{DEFAULT_EXTENSIONS, TusServer};

use super::{OCTET, UA, bounded, builder, checksum_value, create, data, id};

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(TestPki::new)
}

fn fingerprint(leaf: &LeafCert) -> Fingerprint {
    let fp = Fingerprint::of_der(&leaf.cert_der);
    assert_eq!(Fingerprint::from_hex(&leaf.sha256_hex).unwrap(), fp);
    fp
}

/// An HTTPS server presenting `leaf`, optionally requiring a client certificate from the test CA.
async fn https(leaf: &LeafCert, mtls: bool) -> TusServer {
    let config = TestPki::server_config(leaf, mtls.then_some(&pki().ca));
    TusServer::builder().tls(config).start().await
}

/// A full round trip: OPTIONS, creation, chunked upload, HEAD, DELETE; stored bytes compared.
async fn round_trip(client: &Client, server: &TusServer) {
    assert_eq!(server.endpoint().scheme(), "https");
    client.configuration(&server.endpoint()).await.expect("OPTIONS");
    let bytes = data(300_000, 30);
    let url = create(client, server, 300_000).await;
    let options = UploadOptions::default().chunk_size(128 * 1024);
    client.upload_buffer(&url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
    assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    assert!(client.info(&url).await.expect("HEAD").is_complete());
    client.terminate(&url).await.expect("DELETE");
}

/// Asserts a refused handshake: a fatal TLS error, and the server saw no request.
#[track_caller]
fn assert_refused(err: &Error, server: &TusServer) {
    assert!(err.is_tls() && err.is_connect(), "{err:?}");
    assert_eq!(err.retry_class(), RetryClass::Fatal, "{err}");
    assert!(err.status().is_none());
    assert!(server.requests().is_empty(), "no request got through");
}

fn tls_builder() -> ClientBuilder {
    builder()
}

#[tokio::test]
async fn pin_matches_a_self_signed_certificate() {
    bounded(async {
        let server = https(&pki().self_signed, false).await;
        let client = tls_builder().tls_pin_sha256(fingerprint(&pki().self_signed)).build().unwrap();
        round_trip(&client, &server).await;
    })
    .await;
}

#[tokio::test]
async fn pin_mismatch_names_the_expected_and_presented_fingerprints() {
    bounded(async {
        let server = https(&pki().self_signed, false).await;
        let pin = fingerprint(&pki().server2);
        let client = tls_builder().tls_pin_sha256(pin).build().unwrap();
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
        let mismatch = err.pin_mismatch().unwrap_or_else(|| panic!("no pin mismatch in {err:?}"));
        assert_eq!(mismatch.expected(), [pin]);
        assert_eq!(*mismatch.presented(), fingerprint(&pki().self_signed));
        let text = err.to_string();
        assert!(text.contains(&pin.to_string()) && text.contains(&mismatch.presented().to_string()), "{text}");
        // A CA-signed certificate does not get past a pin either.
        let server = https(&pki().server, false).await;
        let client =
            tls_builder().add_root_certificate_pem(pki().ca.pem.as_bytes()).tls_pin_sha256(pin).build().unwrap();
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
        assert_eq!(*err.pin_mismatch().expect("pin mismatch").presented(), fingerprint(&pki().server));
    })
    .await;
}

#[tokio::test]
async fn any_of_two_pins_is_accepted_for_rotation() {
    bounded(async {
        let old = fingerprint(&pki().server2);
        let new = fingerprint(&pki().self_signed);
        let client = tls_builder().tls_pin_sha256(old).tls_pin_sha256(new).build().unwrap();
        // The second pin matches...
        let server = https(&pki().self_signed, false).await;
        round_trip(&client, &server).await;
        // ...and the first still does, for a server not yet rotated.
        let server = https(&pki().server2, false).await;
        round_trip(&client, &server).await;
        // A third certificate matches neither.
        let server = https(&pki().server, false).await;
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
        assert_eq!(err.pin_mismatch().expect("pin mismatch").expected(), [old, new]);
    })
    .await;
}

#[tokio::test]
async fn a_custom_ca_is_trusted() {
    bounded(async {
        let server = https(&pki().server, false).await;
        let client =
            tls_builder().tls_no_builtin_roots().add_root_certificate_pem(pki().ca.pem.as_bytes()).build().unwrap();
        round_trip(&client, &server).await;
        // Added to the built-in roots, too.
        let client = tls_builder().add_root_certificate_pem(pki().ca.pem.as_bytes()).build().unwrap();
        round_trip(&client, &server).await;
        // The CA does not make a self-signed certificate trusted.
        let server = https(&pki().self_signed, false).await;
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
        assert!(err.pin_mismatch().is_none());
    })
    .await;
}

#[tokio::test]
async fn mtls_needs_the_client_identity() {
    bounded(async {
        let server = https(&pki().server, true).await;
        let ca = pki().ca.pem.as_bytes();
        let client = tls_builder()
            .add_root_certificate_pem(ca)
            .identity_pem(pki().client.chain_pem().as_bytes(), pki().client.key_pem.as_bytes())
            .build()
            .unwrap();
        round_trip(&client, &server).await;
        // The leaf alone (without the CA in the chain) is enough too: the server knows the CA.
        let client = tls_builder()
            .add_root_certificate_pem(ca)
            .identity_pem(pki().client.cert_pem.as_bytes(), pki().client.key_pem.as_bytes())
            .build()
            .unwrap();
        client.configuration(&server.endpoint()).await.expect("OPTIONS with the leaf only");

        // Without an identity the server refuses. In TLS 1.3 the client finishes its half of the
        // handshake and learns of the refusal from the server's alert when it reads the response.
        let server = https(&pki().server, true).await;
        let client = tls_builder().http2(false).add_root_certificate_pem(ca).build().unwrap();
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
        // Over HTTP/2 too (how it is classified there: see `mtls_refusal_over_http2_is_a_tls_error`).
        let client = tls_builder().add_root_certificate_pem(ca).build().unwrap();
        assert!(client.configuration(&server.endpoint()).await.is_err());
        assert!(server.requests().is_empty());
        // A certificate the server's CA did not sign is refused as well.
        let client = tls_builder()
            .http2(false)
            .add_root_certificate_pem(ca)
            .identity_pem(pki().self_signed.cert_pem.as_bytes(), pki().self_signed.key_pem.as_bytes())
            .build()
            .unwrap();
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
    })
    .await;
}

/// When a server refuses the client certificate, TLS 1.3 reports it in an alert after the client's side
/// of the handshake is done, so the error arrives on the first read of the response. Over HTTP/1.1 the
/// `io::Error` carries the `rustls::Error`; over HTTP/2 the h2 crate flattens it to a message, which
/// `Client::transport_error` still recognises: either way it is `Error::Tls`, fatal, never retried.
#[tokio::test]
async fn mtls_refusal_over_http2_is_a_tls_error() {
    bounded(async {
        let server = https(&pki().server, true).await;
        let client = tls_builder().add_root_certificate_pem(pki().ca.pem.as_bytes()).build().unwrap();
        let err = client.configuration(&server.endpoint()).await.unwrap_err();
        assert_refused(&err, &server);
    })
    .await;
}

#[tokio::test]
async fn no_verification_accepts_any_certificate() {
    bounded(async {
        let client = tls_builder().danger_accept_invalid_certs().build().unwrap();
        for leaf in [&pki().self_signed, &pki().server] {
            let server = https(leaf, false).await;
            round_trip(&client, &server).await;
        }
    })
    .await;
}

#[tokio::test]
async fn default_trust_refuses_test_certificates() {
    bounded(async {
        let client = Client::builder().build().unwrap();
        for leaf in [&pki().self_signed, &pki().server] {
            let server = https(leaf, false).await;
            let err = client.configuration(&server.endpoint()).await.unwrap_err();
            assert_refused(&err, &server);
            assert!(err.pin_mismatch().is_none());
            assert!(err.to_string().contains("TLS"), "{err}");
        }
    })
    .await;
}

#[tokio::test]
async fn http2_is_negotiated_through_alpn_for_a_whole_upload() {
    bounded(async {
        let mut extensions = DEFAULT_EXTENSIONS.to_vec();
        extensions.push("checksum-trailer");
        let config = TestPki::server_config(&pki().self_signed, None);
        let server = TusServer::builder().tls(config).extensions(&extensions).start().await;
        let client = tls_builder().tls_pin_sha256(fingerprint(&pki().self_signed)).build().unwrap();
        round_trip(&client, &server).await;
        let reqs = server.requests();
        assert_eq!(reqs.len(), 8, "OPTIONS, POST, HEAD, 3 PATCH, HEAD, DELETE");
        assert!(
            reqs.iter().all(|r| r.version == Version::HTTP_2),
            "{:?}",
            reqs.iter().map(|r| r.version).collect::<Vec<_>>()
        );

        // The headers of a PATCH over HTTP/2 (no Host: the authority is in the request line).
        let patch = &server.requests_with(Method::PATCH)[1];
        let mut names: Vec<&str> = patch.headers.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "content-type", "tus-resumable", "upload-offset", "user-agent"]);
        assert_eq!(patch.header("content-type"), Some(OCTET));
        assert_eq!(patch.header("upload-offset"), Some("131072"));
        assert_eq!(patch.header("content-length"), Some("131072"));
        assert_eq!(patch.header("user-agent"), Some(UA));

        // Checksum trailers travel as HTTP/2 trailers.
        server.clear_requests();
        let bytes = data(100_000, 31);
        let url = create(&client, &server, 100_000).await;
        let options =
            UploadOptions::default().chunk_size(60_000).checksum(ChecksumAlgorithm::Sha512, ChecksumPlacement::Trailer);
        client.upload_buffer(&url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        let patches = server.requests_with(Method::PATCH);
        assert_eq!(patches.len(), 2);
        for (patch, range) in patches.iter().zip([0..60_000, 60_000..100_000]) {
            assert_eq!(patch.version, Version::HTTP_2);
            let sent = patch.trailers.as_ref().and_then(|t| t.get("upload-checksum")).and_then(|v| v.to_str().ok());
            assert_eq!(sent, Some(checksum_value(&ChecksumAlgorithm::Sha512, &bytes[range]).as_str()));
        }

        // With HTTP/2 off, the same server is spoken to in HTTP/1.1.
        server.clear_requests();
        let client = tls_builder().http2(false).tls_pin_sha256(fingerprint(&pki().self_signed)).build().unwrap();
        round_trip(&client, &server).await;
        assert!(server.requests().iter().all(|r| r.version == Version::HTTP_11));
    })
    .await;
}

#[tokio::test]
async fn a_source_error_over_http2_is_still_a_source_error() {
    bounded(async {
        let server = https(&pki().self_signed, false).await;
        let client = tls_builder().tls_pin_sha256(fingerprint(&pki().self_signed)).build().unwrap();
        super::uploads::reader_cannot_rewind(&server, &client).await;
        assert!(server.requests().iter().all(|r| r.version == Version::HTTP_2));
    })
    .await;
}
