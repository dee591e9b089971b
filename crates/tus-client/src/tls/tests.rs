//! TLS layer and connector tests: rcgen certificates, an in-process
//! tokio-rustls server on 127.0.0.1:0, real connections through `Connector`
//! and hyper-util's legacy `Client`. Every test runs under [`bounded`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::TokioExecutor;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{AlertDescription, CertificateError, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower_service::Service;

use super::*;
use crate::connect::{ConnectTimeout, Connector, InvalidDestination, MaybeHttpsStream};

/// The most any single test may take.
const TEST_LIMIT: Duration = Duration::from_secs(20);
/// The connect timeout of connectors under test (not the one being tested).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, test).await.expect("test did not finish in time")
}

// ---------------------------------------------------------------------------
// Certificates.

struct Cred {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl Cred {
    fn new(cert: &rcgen::Certificate, key: &KeyPair) -> Self {
        Self { cert_der: cert.der().clone(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.cert_der)
    }
}

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    /// Signed by the CA for `localhost` and `127.0.0.1`.
    leaf: Cred,
    /// A second CA-signed leaf for the same names (key rotation).
    leaf2: Cred,
    /// Signed by the CA for another name only.
    other_name: Cred,
    /// Self-signed for `localhost` and `127.0.0.1`.
    self_signed: Cred,
    /// Signed by the CA, for client authentication.
    client: Cred,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "tus-rs test ca");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let signed = |names: &[&str], eku: ExtendedKeyUsagePurpose| {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, "tus-rs test");
            params.extended_key_usages = vec![eku];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &*ca).unwrap();
            Cred::new(&cert, &key)
        };
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        let leaf = signed(&["localhost", "127.0.0.1"], server.clone());
        let leaf2 = signed(&["localhost", "127.0.0.1"], server.clone());
        let other_name = signed(&["other.test"], server);
        let client = signed(&[], ExtendedKeyUsagePurpose::ClientAuth);

        let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let self_signed = Cred::new(&self_signed.cert, &self_signed.signing_key);

        Pki { ca_pem: ca.pem(), ca_der: ca.der().clone(), leaf, leaf2, other_name, self_signed, client }
    })
}

// ---------------------------------------------------------------------------
// In-process servers.

/// What the TLS server saw of one connection.
#[derive(Debug)]
enum Seen {
    Accepted { alpn: Option<Vec<u8>>, client_cert: bool },
    Refused(String),
}

struct TlsServer {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsServer {
    fn url(&self, host: &str) -> http::Uri {
        format!("https://{host}:{}/files/", self.addr.port()).parse().unwrap()
    }

    async fn next_seen(&mut self) -> Seen {
        self.seen.recv().await.expect("server stopped")
    }
}

#[derive(Default)]
struct ServerOpts {
    /// Require a client certificate signed by this CA.
    client_ca: Option<CertificateDer<'static>>,
    alpn: Vec<Vec<u8>>,
    /// Sign the handshake with this key instead of the certificate's own.
    wrong_key: Option<PrivateKeyDer<'static>>,
    /// Offer only TLS 1.2.
    tls12_only: bool,
}

/// Serves a fixed certificate and key, skipping rustls's key/cert check.
#[derive(Debug)]
struct FixedCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A TLS server presenting `cred` that answers every request with `200 ok`.
async fn tls_server(cred: &Cred, opts: ServerOpts) -> TlsServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if opts.tls12_only { &[&rustls::version::TLS12] } else { rustls::DEFAULT_VERSIONS };
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions).unwrap();
    let builder = match opts.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = match opts.wrong_key {
        None => builder.with_single_cert(vec![cred.cert_der.clone()], cred.key_der()).unwrap(),
        Some(key) => {
            let provider = rustls::crypto::ring::default_provider();
            let key = provider.key_provider.load_private_key(key).unwrap();
            let certified = rustls::sign::CertifiedKey::new(vec![cred.cert_der.clone()], key);
            builder.with_cert_resolver(Arc::new(FixedCert(Arc::new(certified))))
        }
    };
    config.alpn_protocols = opts.alpn;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve_tls(acceptor.clone(), tcp, tx.clone()));
        }
    });
    TlsServer { addr, seen, task }
}

async fn serve_tls(acceptor: tokio_rustls::TlsAcceptor, tcp: TcpStream, seen: mpsc::UnboundedSender<Seen>) {
    let accepted = tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(tcp).into_fallible()).await;
    let mut tls = match accepted {
        Err(_) => {
            let _ = seen.send(Seen::Refused("handshake timed out".into()));
            return;
        }
        Ok(Err((error, mut tcp))) => {
            let _ = seen.send(Seen::Refused(error.to_string()));
            // Wait for the client to hang up, so it reads our alert rather
            // than a reset.
            let _ = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let mut buf = [0u8; 1024];
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
            return;
        }
        Ok(Ok(tls)) => tls,
    };
    let (_, session) = tls.get_ref();
    let _ = seen.send(Seen::Accepted {
        alpn: session.alpn_protocol().map(<[u8]>::to_vec),
        client_cert: session.peer_certificates().is_some_and(|c| !c.is_empty()),
    });
    answer(&mut tls).await;
}

/// Reads one request head and answers `200 ok`.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S) {
    let _ = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await?;
        stream.shutdown().await
    })
    .await;
}

/// A plain-TCP HTTP server answering `200 ok`.
async fn plain_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move { answer(&mut tcp).await });
        }
    });
    (addr, task)
}

// ---------------------------------------------------------------------------
// Client helpers.

fn settings() -> TlsSettings {
    TlsSettings::default()
}

fn connector(settings: &TlsSettings) -> Connector {
    Connector::new(client_config(settings).expect("tls config builds"), Some(CONNECT_TIMEOUT))
}

/// GETs `url` through hyper-util's legacy client; returns status and body.
async fn get(
    settings: &TlsSettings,
    url: http::Uri,
) -> Result<(http::StatusCode, Bytes), hyper_util::client::legacy::Error> {
    let client: Client<Connector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector(settings));
    let response = client.get(url).await?;
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Ok((status, body))
}

#[track_caller]
fn assert_ok(result: Result<(http::StatusCode, Bytes), hyper_util::client::legacy::Error>) {
    match result {
        Ok((status, body)) => {
            assert_eq!(status, http::StatusCode::OK);
            assert_eq!(body, "ok");
        }
        Err(e) => panic!("request failed: {}", render(&e)),
    }
}

/// The error and its causes, as `find_*` sees them.
fn render(err: &(dyn std::error::Error + 'static)) -> String {
    error_chain(err).map(|e| e.to_string()).collect::<Vec<_>>().join(": ")
}

/// The `rustls::Error` behind a refused request.
#[track_caller]
fn tls_error(err: &hyper_util::client::legacy::Error) -> &rustls::Error {
    find_rustls_error(err).unwrap_or_else(|| panic!("no rustls error in: {}", render(err)))
}

// ---------------------------------------------------------------------------
// Pinning.

#[tokio::test]
async fn pin_matches_self_signed_certificate() {
    bounded(async {
        let pki = pki();
        let mut server = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let mut s = settings();
        s.pin_sha256(pki.self_signed.fingerprint());
        assert_ok(get(&s, server.url("127.0.0.1")).await);
        assert_ok(get(&s, server.url("localhost")).await);
        assert!(matches!(server.next_seen().await, Seen::Accepted { .. }));
    })
    .await;
}

#[tokio::test]
async fn pin_mismatch_names_expected_and_presented_fingerprints() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let mut s = settings();
        s.pin_sha256(pki.leaf2.fingerprint());
        let err = get(&s, server.url("127.0.0.1")).await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");

        // The chain spelled out: legacy::Error -> io::Error (tokio-rustls)
        // -> payload rustls::Error -> OtherError -> PinMismatch.
        let io = std::error::Error::source(&err)
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .expect("the connect error is the handshake's io::Error");
        let tls =
            io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).expect("whose payload is the rustls::Error");
        let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = tls else {
            panic!("unexpected rustls error {tls:?}");
        };
        let direct = other.0.downcast_ref::<PinMismatch>().expect("a PinMismatch");

        let mismatch = find_pin_mismatch(&err).expect("find_pin_mismatch finds it");
        assert_eq!(mismatch, direct);
        assert_eq!(mismatch.expected(), [pki.leaf2.fingerprint()]);
        assert_eq!(*mismatch.presented(), pki.self_signed.fingerprint());
        let shown = render(&err);
        assert!(shown.contains(&pki.leaf2.fingerprint().to_string()), "{shown}");
        assert!(shown.contains(&pki.self_signed.fingerprint().to_string()), "{shown}");
    })
    .await;
}

#[tokio::test]
async fn any_of_several_pins_accepts_for_rotation() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.leaf2, ServerOpts::default()).await;
        let mut s = settings();
        s.pin_sha256(pki.leaf.fingerprint()).pin_sha256(pki.leaf2.fingerprint());
        assert_ok(get(&s, server.url("localhost")).await);

        let other = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let err = get(&s, other.url("localhost")).await.unwrap_err();
        let mismatch = find_pin_mismatch(&err).expect("pin mismatch");
        assert_eq!(mismatch.expected(), [pki.leaf.fingerprint(), pki.leaf2.fingerprint()]);
    })
    .await;
}

#[tokio::test]
async fn pin_with_chain_refuses_self_signed_even_when_pinned() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let mut s = settings();
        s.no_builtin_roots()
            .add_root_certificate_pem(pki.ca_pem.as_bytes())
            .pin_sha256(pki.self_signed.fingerprint())
            .pin_with_chain(true);
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        assert_eq!(*tls_error(&err), rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(find_pin_mismatch(&err).is_none());
    })
    .await;
}

#[tokio::test]
async fn pin_with_chain_needs_both_chain_and_pin() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.leaf, ServerOpts::default()).await;
        let mut s = settings();
        s.no_builtin_roots()
            .add_root_certificate_pem(pki.ca_pem.as_bytes())
            .pin_with_chain(true)
            .pin_sha256(pki.leaf.fingerprint());
        assert_ok(get(&s, server.url("localhost")).await);

        let mut wrong_pin = s.clone();
        wrong_pin.pins = vec![pki.leaf2.fingerprint()];
        let err = get(&wrong_pin, server.url("localhost")).await.unwrap_err();
        let mismatch = find_pin_mismatch(&err).expect("pin mismatch");
        assert_eq!(*mismatch.presented(), pki.leaf.fingerprint());
    })
    .await;
}

#[tokio::test]
async fn pin_applies_to_preconfigured_config() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let base = base_config();
        let mut s = settings();
        s.preconfigured(base.clone()).pin_sha256(pki.self_signed.fingerprint());
        assert_ok(get(&s, server.url("localhost")).await);

        // Without the pin the preconfigured (CA-only) trust refuses it.
        let mut s = settings();
        s.preconfigured(base);
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        assert_eq!(*tls_error(&err), rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
    })
    .await;
}

// ---------------------------------------------------------------------------
// Roots and verification.

#[tokio::test]
async fn custom_ca_is_trusted() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.leaf, ServerOpts::default()).await;
        let mut s = settings();
        s.no_builtin_roots().add_root_certificate_pem(pki.ca_pem.as_bytes());
        assert_ok(get(&s, server.url("localhost")).await);
        assert_ok(get(&s, server.url("127.0.0.1")).await);
    })
    .await;
}

#[tokio::test]
async fn hostname_is_checked_without_pins() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.other_name, ServerOpts::default()).await;
        let mut s = settings();
        s.no_builtin_roots().add_root_certificate_pem(pki.ca_pem.as_bytes());
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        assert!(
            matches!(
                tls_error(&err),
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
            ),
            "{}",
            render(&err)
        );
    })
    .await;
}

#[cfg(feature = "webpki-roots")]
#[tokio::test]
async fn default_roots_refuse_test_certificates() {
    bounded(async {
        let pki = pki();
        for cred in [&pki.leaf, &pki.self_signed] {
            let server = tls_server(cred, ServerOpts::default()).await;
            let err = get(&settings(), server.url("localhost")).await.unwrap_err();
            assert!(err.is_connect());
            assert_eq!(*tls_error(&err), rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
        }
    })
    .await;
}

#[cfg(feature = "native-roots")]
#[tokio::test]
async fn native_roots_refuse_test_certificates() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.leaf, ServerOpts::default()).await;
        let mut s = settings();
        s.native_roots();
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        assert_eq!(*tls_error(&err), rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
    })
    .await;
}

#[tokio::test]
async fn no_verification_accepts_any_certificate() {
    bounded(async {
        let pki = pki();
        for cred in [&pki.self_signed, &pki.other_name] {
            let server = tls_server(cred, ServerOpts::default()).await;
            let mut s = settings();
            s.danger_accept_invalid_certs();
            assert_ok(get(&s, server.url("localhost")).await);
        }
    })
    .await;
}

#[tokio::test]
async fn no_verification_still_enforces_pins() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki.self_signed, ServerOpts::default()).await;
        let mut s = settings();
        s.danger_accept_invalid_certs().pin_sha256(pki.leaf.fingerprint());
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        assert!(find_pin_mismatch(&err).is_some(), "{}", render(&err));
    })
    .await;
}

#[tokio::test]
async fn handshake_signatures_are_checked_by_pin_and_no_verification() {
    bounded(async {
        let pki = pki();
        let mut pinned = settings();
        pinned.pin_sha256(pki.self_signed.fingerprint());
        let mut unverified = settings();
        unverified.danger_accept_invalid_certs();
        for (s, tls12_only) in [(&pinned, false), (&pinned, true), (&unverified, false), (&unverified, true)] {
            // The server sends the self-signed certificate but signs with
            // another key, as an attacker replaying a certificate would.
            let opts = ServerOpts { wrong_key: Some(pki.leaf.key_der()), tls12_only, ..ServerOpts::default() };
            let server = tls_server(&pki.self_signed, opts).await;
            let err = get(s, server.url("localhost")).await.unwrap_err();
            assert_eq!(
                *tls_error(&err),
                rustls::Error::InvalidCertificate(CertificateError::BadSignature),
                "tls 1.2 only: {tls12_only}, {s:?}"
            );

            // The same server with the right key is accepted.
            let opts = ServerOpts { tls12_only, ..ServerOpts::default() };
            let server = tls_server(&pki.self_signed, opts).await;
            assert_ok(get(s, server.url("localhost")).await);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Client certificates.

#[tokio::test]
async fn mtls_with_identity_is_accepted() {
    bounded(async {
        let pki = pki();
        let opts = ServerOpts { client_ca: Some(pki.ca_der.clone()), ..ServerOpts::default() };
        let mut server = tls_server(&pki.leaf, opts).await;
        let mut s = settings();
        s.no_builtin_roots()
            .add_root_certificate_pem(pki.ca_pem.as_bytes())
            .identity_pem(pki.client.cert_pem.as_bytes(), pki.client.key_pem.as_bytes());
        assert_ok(get(&s, server.url("localhost")).await);
        match server.next_seen().await {
            Seen::Accepted { client_cert, .. } => assert!(client_cert),
            seen => panic!("server saw {seen:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn mtls_without_identity_is_refused() {
    bounded(async {
        let pki = pki();
        let opts = ServerOpts { client_ca: Some(pki.ca_der.clone()), ..ServerOpts::default() };
        let mut server = tls_server(&pki.leaf, opts).await;
        let mut s = settings();
        s.no_builtin_roots().add_root_certificate_pem(pki.ca_pem.as_bytes());
        let err = get(&s, server.url("localhost")).await.unwrap_err();
        // TLS 1.3: the client finishes its half of the handshake and learns of
        // the refusal from the server's alert when it reads the response.
        assert_eq!(
            *tls_error(&err),
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
            "{}",
            render(&err)
        );
        match server.next_seen().await {
            Seen::Refused(why) => assert!(why.contains("certificate"), "{why}"),
            seen => panic!("server saw {seen:?}"),
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// ALPN.

async fn negotiated(http2: bool, server_alpn: &[&[u8]]) -> (Option<Vec<u8>>, bool) {
    let pki = pki();
    let opts = ServerOpts { alpn: server_alpn.iter().map(|p| p.to_vec()).collect(), ..ServerOpts::default() };
    let mut server = tls_server(&pki.self_signed, opts).await;
    let mut s = settings();
    s.pin_sha256(pki.self_signed.fingerprint()).http2(http2);
    let stream = connector(&s).call(server.url("localhost")).await.unwrap();
    let alpn = stream.tls().expect("an https stream").alpn_protocol().map(<[u8]>::to_vec);
    match server.next_seen().await {
        Seen::Accepted { alpn: seen, .. } => assert_eq!(seen, alpn, "both sides agree"),
        seen => panic!("server saw {seen:?}"),
    }
    (alpn, stream.connected().is_negotiated_h2())
}

#[tokio::test]
async fn alpn_negotiates_h2_when_both_sides_allow_it() {
    bounded(async {
        let both: &[&[u8]] = &[b"h2", b"http/1.1"];
        assert_eq!(negotiated(true, both).await, (Some(b"h2".to_vec()), true));
        assert_eq!(negotiated(false, both).await, (Some(b"http/1.1".to_vec()), false));
        assert_eq!(negotiated(true, &[b"http/1.1"]).await, (Some(b"http/1.1".to_vec()), false));
        assert_eq!(negotiated(true, &[]).await, (None, false));
    })
    .await;
}

#[test]
fn alpn_lists() {
    let mut s = settings();
    s.danger_accept_invalid_certs();
    let on = client_config(&s).unwrap();
    assert_eq!(on.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    let off = client_config(s.http2(false)).unwrap();
    assert_eq!(off.alpn_protocols, [b"http/1.1".to_vec()]);

    let mut own = base_config();
    own.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut s = settings();
    s.preconfigured(own);
    assert_eq!(client_config(&s).unwrap().alpn_protocols, [b"http/1.1".to_vec()]);
    let mut s = settings();
    s.preconfigured(base_config());
    assert_eq!(client_config(&s).unwrap().alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
}

// ---------------------------------------------------------------------------
// Connector behaviour.

#[tokio::test]
async fn plain_http_goes_without_tls() {
    bounded(async {
        let (addr, task) = plain_server().await;
        let url: http::Uri = format!("http://127.0.0.1:{}/", addr.port()).parse().unwrap();
        let stream = connector(&settings_for_tests()).call(url.clone()).await.unwrap();
        assert!(matches!(stream, MaybeHttpsStream::Http(_)));
        drop(stream);
        assert_ok(get(&settings_for_tests(), url).await);
        task.abort();
    })
    .await;
}

#[tokio::test]
async fn unsupported_scheme_is_refused() {
    bounded(async {
        let err = connector(&settings_for_tests()).call("ftp://127.0.0.1:21/".parse().unwrap()).await.unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<InvalidDestination>(),
                Some(InvalidDestination::UnsupportedScheme(s)) if s == "ftp"
            ),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn stalled_handshake_hits_the_connect_timeout() {
    bounded(async {
        // Accepts TCP and never answers the ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        let timeout = Duration::from_millis(300);
        let config = client_config(&settings_for_tests()).unwrap();
        let url: http::Uri = format!("https://127.0.0.1:{port}/").parse().unwrap();

        let started = Instant::now();
        let err = Connector::new(config.clone(), Some(timeout)).call(url.clone()).await.unwrap_err();
        let waited = started.elapsed();
        let timed_out = err.downcast_ref::<ConnectTimeout>().unwrap_or_else(|| panic!("not a timeout: {err}"));
        assert_eq!(timed_out.after, Some(timeout));
        assert!(waited >= timeout && waited < timeout * 10, "{waited:?}");
        assert_eq!(err.to_string(), "connect timed out after 300ms");

        // Through the legacy client: a connect error whose source is it.
        let client: Client<Connector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(Connector::new(config, Some(timeout)));
        let err = client.get(url).await.unwrap_err();
        assert!(err.is_connect());
        assert!(std::error::Error::source(&err).is_some_and(|e| e.downcast_ref::<ConnectTimeout>().is_some()));
        holder.abort();
    })
    .await;
}

#[test]
fn server_name_comes_from_the_host() {
    let name = |url: &str| crate::connect::server_name(&url.parse().unwrap());
    assert_eq!(name("https://localhost:1080/files").unwrap(), ServerName::try_from("localhost").unwrap());
    assert!(matches!(name("https://127.0.0.1/").unwrap(), ServerName::IpAddress(_)));
    assert!(matches!(name("https://[::1]:8443/").unwrap(), ServerName::IpAddress(_)));
    assert!(matches!(name("/relative"), Err(InvalidDestination::MissingHost)));
}

/// Settings that build without any root feature: verification off.
fn settings_for_tests() -> TlsSettings {
    let mut s = settings();
    s.danger_accept_invalid_certs();
    s
}

/// A plain rustls config trusting only the test CA, as a caller might build.
fn base_config() -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca_der.clone()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

// ---------------------------------------------------------------------------
// Configuration errors.

#[track_caller]
fn config_error(settings: &TlsSettings) -> TlsConfigError {
    client_config(settings).expect_err("configuration must fail")
}

#[test]
fn root_pem_without_certificate_is_an_error() {
    let mut s = settings();
    s.add_root_certificate_pem(b"not a pem at all");
    let err = config_error(&s);
    assert!(matches!(err, TlsConfigError::NoCertificateInPem { what: "root certificate" }), "{err:?}");
    assert_eq!(err.to_string(), "no certificate found in the root certificate pem");

    let mut s = settings();
    s.add_root_certificate_pem(pki().leaf.key_pem.as_bytes());
    assert!(matches!(config_error(&s), TlsConfigError::NoCertificateInPem { .. }));

    let mut s = settings();
    s.add_root_certificate_pem(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert!(matches!(config_error(&s), TlsConfigError::InvalidPem { what: "root certificate", .. }));
}

#[test]
fn trusting_nothing_is_an_error() {
    let mut s = settings();
    s.no_builtin_roots();
    let err = config_error(&s);
    assert!(matches!(err, TlsConfigError::NoRootCertificates), "{err:?}");

    // Pin-with-chain needs roots too; pin-only and no verification do not.
    s.pin_sha256(pki().leaf.fingerprint()).pin_with_chain(true);
    assert!(matches!(config_error(&s), TlsConfigError::NoRootCertificates));
    s.pin_with_chain(false);
    client_config(&s).unwrap();
    let mut s = settings();
    s.no_builtin_roots().danger_accept_invalid_certs();
    client_config(&s).unwrap();
}

#[cfg(not(any(feature = "webpki-roots", feature = "native-roots")))]
#[test]
fn default_without_root_features_is_an_error() {
    assert!(matches!(config_error(&settings()), TlsConfigError::NoRootCertificates));
    let mut s = settings();
    s.webpki_roots();
    assert!(matches!(config_error(&s), TlsConfigError::RootStoreNotCompiled { feature: "webpki-roots", .. }));
}

#[cfg(feature = "webpki-roots")]
#[test]
fn default_settings_build() {
    let config = client_config(&settings()).unwrap();
    assert_eq!(config.alpn_protocols.len(), 2);
}

#[test]
fn identity_errors_are_specific() {
    let pki = pki();
    let with_identity = |cert: &str, key: &str| {
        let mut s = settings_for_tests();
        s.identity_pem(cert.as_bytes(), key.as_bytes());
        s
    };

    client_config(&with_identity(&pki.client.cert_pem, &pki.client.key_pem)).unwrap();
    // One PEM holding both works for both arguments.
    let both = format!("{}{}", pki.client.cert_pem, pki.client.key_pem);
    client_config(&with_identity(&both, &both)).unwrap();

    let err = config_error(&with_identity(&pki.client.cert_pem, &pki.client.cert_pem));
    assert!(matches!(err, TlsConfigError::MissingPrivateKey), "{err:?}");
    assert_eq!(err.to_string(), "no private key found in the client key pem");

    let err = config_error(&with_identity(&pki.client.key_pem, &pki.client.key_pem));
    assert!(matches!(err, TlsConfigError::NoCertificateInPem { what: "client certificate" }), "{err:?}");

    let err = config_error(&with_identity(&pki.client.cert_pem, &pki.leaf.key_pem));
    assert!(matches!(err, TlsConfigError::IdentityKeyMismatch), "{err:?}");
    assert_eq!(err.to_string(), "the client private key does not match the client certificate");
}

#[test]
fn preconfigured_conflicts_are_errors() {
    type Set = fn(&mut TlsSettings);
    let conflicts: [(&str, Set); 5] = [
        ("choosing root certificates", |s| {
            s.no_builtin_roots();
        }),
        ("choosing root certificates", |s| {
            s.add_root_certificate_pem(pki().ca_pem.as_bytes());
        }),
        ("a client identity", |s| {
            s.identity_pem(b"", b"");
        }),
        ("accepting invalid certificates", |s| {
            s.danger_accept_invalid_certs();
        }),
        ("pinning with chain validation", |s| {
            s.pin_sha256(pki().leaf.fingerprint()).pin_with_chain(true);
        }),
    ];
    for (expected, set) in conflicts {
        let mut s = settings();
        s.preconfigured(base_config());
        set(&mut s);
        match config_error(&s) {
            TlsConfigError::ConflictsWithPreconfigured { setting } => {
                assert_eq!(setting, expected);
            }
            err => panic!("{expected}: {err:?}"),
        }
    }
}

#[test]
fn identity_debug_hides_the_key() {
    let mut s = settings();
    s.identity_pem(pki().client.cert_pem.as_bytes(), pki().client.key_pem.as_bytes());
    let debug = format!("{s:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

// ---------------------------------------------------------------------------
// Fingerprints.

#[test]
fn fingerprint_parsing() {
    let hex = "0123456789abcdef".repeat(4);
    let bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let colons = bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    let expected = Fingerprint::from_bytes(bytes.try_into().unwrap());

    let good = [
        hex.clone(),
        hex.to_uppercase(),
        colons.clone(),
        colons.to_lowercase(),
        format!("  {colons}\n"),
        format!("sha256 Fingerprint={colons}"),
        format!("SHA256 Fingerprint={hex}"),
    ];
    for input in &good {
        assert_eq!(Fingerprint::from_hex(input), Ok(expected), "{input:?}");
        assert_eq!(input.parse::<Fingerprint>(), Ok(expected), "{input:?}");
    }

    use FingerprintError::*;
    let bad = [
        (String::new(), WrongLength { digits: 0 }),
        (hex[..62].to_owned(), WrongLength { digits: 62 }),
        (format!("{hex}0"), WrongLength { digits: 65 }),
        (format!("{colons}:AB"), WrongLength { digits: 66 }),
        (format!("{}g{}", &hex[..10], &hex[11..]), InvalidChar { ch: 'g', position: 10 }),
        (format!(" {}-", &hex[..63]), InvalidChar { ch: '-', position: 64 }),
        (format!("{}é", &hex[..63]), InvalidChar { ch: 'é', position: 63 }),
        (format!("{colons}:"), MalformedGroup { position: 96 }),
        (format!(":{colons}"), MalformedGroup { position: 0 }),
        (format!("ABC:{}", &colons[3..]), MalformedGroup { position: 0 }),
        (format!("A:{}", &colons[2..]), MalformedGroup { position: 0 }),
        (colons.replacen(':', "::", 1), MalformedGroup { position: 3 }),
    ];
    for (input, error) in &bad {
        assert_eq!(Fingerprint::from_hex(input), Err(error.clone()), "{input:?}");
    }
    assert_eq!(
        InvalidChar { ch: 'g', position: 10 }.to_string(),
        "invalid character 'g' at position 10, expected a hex digit or ':'"
    );
    assert_eq!(WrongLength { digits: 62 }.to_string(), "wrong length: 62 hex digits, a sha-256 fingerprint has 64");
}

#[test]
fn fingerprint_display_and_digest() {
    // SHA-256 of the empty string.
    let empty = Fingerprint::of_der(b"");
    let shown = empty.to_string();
    assert_eq!(
        shown,
        "e3:b0:c4:42:98:fc:1c:14:9a:fb:f4:c8:99:6f:b9:24:27:ae:41:e4:64:9b:93:4c:a4:95:99:1b:78:52:b8:55"
    );
    assert_eq!(shown.parse::<Fingerprint>(), Ok(empty));
    assert_eq!(format!("{empty:?}"), format!("Fingerprint({shown})"));
    assert_ne!(pki().leaf.fingerprint(), pki().leaf2.fingerprint());
}

#[test]
fn pin_mismatch_display_names_both() {
    use rustls::client::danger::ServerCertVerifier;
    let a = Fingerprint::from_bytes([0xaa; 32]);
    let b = Fingerprint::from_bytes([0xbb; 32]);
    let presented = pki().leaf.fingerprint();
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let err = pin::PinnedVerifier::new(vec![a, b], None, algorithms)
        .verify_server_cert(
            &pki().leaf.cert_der,
            &[],
            &ServerName::try_from("localhost").unwrap(),
            &[],
            rustls_pki_types::UnixTime::now(),
        )
        .unwrap_err();
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
    let found = find_pin_mismatch(&io).expect("found through io::Error and rustls::Error");
    assert_eq!(found.expected(), [a, b]);
    assert_eq!(*found.presented(), presented);
    assert_eq!(
        found.to_string(),
        format!("server certificate sha-256 fingerprint {presented} matches no pin (expected {a} or {b})")
    );
}
