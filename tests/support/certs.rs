//! Test PKI made with rcgen at test time: a CA, two CA-signed server leaves (`localhost` + IP SAN
//! `127.0.0.1`; the second for pin-rotation tests), a self-signed leaf (no CA), and a CA-signed client
//! certificate for mTLS. All keys are ECDSA P-256; certificates are valid from yesterday for ten years.
//!
//! rustls configs use the ring provider explicitly (`rustls::crypto::ring::default_provider()`), so no
//! process-wide default provider needs installing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest as _, Sha256};

/// The test certificate authority.
pub struct CaCert {
    pub der: CertificateDer<'static>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CaCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCert").finish_non_exhaustive()
    }
}

impl CaCert {
    /// A root store trusting only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("CA cert is valid");
        roots
    }

    /// The CA's private key (PKCS#8 PEM).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }
}

/// A leaf certificate with its key.
#[derive(Debug)]
pub struct LeafCert {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    key_pkcs8: Vec<u8>,
    /// The leaf followed by the CA (just the leaf when self-signed).
    pub chain: Vec<CertificateDer<'static>>,
    /// SHA-256 of the certificate DER, lowercase hex (64 chars).
    pub sha256_hex: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex (stays the same if re-issued with the
    /// same key).
    pub spki_sha256_hex: String,
    /// The same SPKI digest in standard Base64 (`pin-sha256` style, as curl's `--pinnedpubkey`).
    pub spki_sha256_base64: String,
}

impl LeafCert {
    /// The private key as rustls wants it.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    /// The chain as PEM (leaf first).
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
    }
}

/// The whole test PKI; see the module docs.
#[derive(Debug)]
pub struct TestPki {
    pub ca: CaCert,
    /// Server leaf signed by the CA, for `localhost` and `127.0.0.1`.
    pub server: LeafCert,
    /// A second server leaf signed by the CA (different key), for pin rotation.
    pub server2: LeafCert,
    /// A self-signed server leaf (not CA-signed) for `localhost` and `127.0.0.1`.
    pub self_signed: LeafCert,
    /// A client certificate signed by the CA (for mTLS).
    pub client: LeafCert,
}

/// Paths written by [`TestPki::write_to`].
#[derive(Debug, Clone)]
pub struct PkiFiles {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    /// Server leaf + CA.
    pub server_chain: PathBuf,
    pub server_key: PathBuf,
    pub server2_cert: PathBuf,
    pub server2_key: PathBuf,
    pub self_signed_cert: PathBuf,
    pub self_signed_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    pub fn new() -> Self {
        let ca = new_ca();
        let server = leaf(Some(&ca), "tus test server", ExtendedKeyUsagePurpose::ServerAuth);
        let server2 = leaf(Some(&ca), "tus test server 2", ExtendedKeyUsagePurpose::ServerAuth);
        let self_signed = leaf(None, "tus self-signed", ExtendedKeyUsagePurpose::ServerAuth);
        let client = leaf(Some(&ca), "tus test client", ExtendedKeyUsagePurpose::ClientAuth);
        Self { ca, server, server2, self_signed, client }
    }

    /// A server config for `leaf` (ring provider, ALPN `h2` and `http/1.1`). With
    /// `require_client_auth`, clients must present a certificate signed by that CA.
    pub fn server_config(leaf: &LeafCert, require_client_auth: Option<&CaCert>) -> Arc<rustls::ServerConfig> {
        server_config(leaf, require_client_auth)
    }

    /// A client config (ring provider, ALPN `h2` and `http/1.1`) trusting `roots`, optionally
    /// presenting `client_cert`.
    pub fn client_config(roots: rustls::RootCertStore, client_cert: Option<&LeafCert>) -> Arc<rustls::ClientConfig> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots);
        let mut config = match client_cert {
            Some(c) => builder.with_client_auth_cert(c.chain.clone(), c.key_der()).expect("valid client cert"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// Writes every certificate and key as PEM under `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PkiFiles> {
        let write = |name: &str, contents: &str| -> std::io::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, contents)?;
            Ok(path)
        };
        Ok(PkiFiles {
            ca_cert: write("ca.pem", &self.ca.pem)?,
            server_cert: write("server.pem", &self.server.cert_pem)?,
            server_chain: write("server-chain.pem", &self.server.chain_pem())?,
            server_key: write("server-key.pem", &self.server.key_pem)?,
            server2_cert: write("server2.pem", &self.server2.cert_pem)?,
            server2_key: write("server2-key.pem", &self.server2.key_pem)?,
            self_signed_cert: write("self-signed.pem", &self.self_signed.cert_pem)?,
            self_signed_key: write("self-signed-key.pem", &self.self_signed.key_pem)?,
            client_cert: write("client.pem", &self.client.cert_pem)?,
            client_key: write("client-key.pem", &self.client.key_pem)?,
        })
    }
}

/// See [`TestPki::server_config`].
pub fn server_config(leaf: &LeafCert, require_client_auth: Option<&CaCert>) -> Arc<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions");
    let builder = match require_client_auth {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(ca.root_store()), provider())
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(leaf.chain.clone(), leaf.key_der()).expect("valid server cert and key");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn validity(params: &mut CertificateParams) {
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(86_400)).into();
    params.not_after = (now + Duration::from_secs(10 * 365 * 86_400)).into();
}

fn new_ca() -> CaCert {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
    params.distinguished_name.push(DnType::CommonName, "tus-rs test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params);
    let key = KeyPair::generate().expect("generate key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    CaCert { der: cert.der().clone(), pem: cert.pem(), issuer: Issuer::new(params, key) }
}

fn leaf(ca: Option<&CaCert>, cn: &str, eku: ExtendedKeyUsagePurpose) -> LeafCert {
    let sans = match eku {
        ExtendedKeyUsagePurpose::ServerAuth => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        _ => vec!["tus-test-client".to_owned()],
    };
    let mut params = CertificateParams::new(sans).expect("valid SANs");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = ca.is_some();
    validity(&mut params);
    let key = KeyPair::generate().expect("generate key");
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer).expect("sign leaf"),
        None => params.self_signed(&key).expect("self-sign leaf"),
    };
    let cert_der = cert.der().clone();
    let mut chain = vec![cert_der.clone()];
    if let Some(ca) = ca {
        chain.push(ca.der.clone());
    }
    let spki = Sha256::digest(key.subject_public_key_info());
    LeafCert {
        sha256_hex: sha256_hex(&cert_der),
        spki_sha256_hex: spki.iter().map(|b| format!("{b:02x}")).collect(),
        spki_sha256_base64: base64::engine::general_purpose::STANDARD.encode(spki),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key_pkcs8: key.serialize_der(),
        cert_der,
        chain,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
