//! Certificate pinning: a `ServerCertVerifier` that compares the leaf's SHA-256.
//!
//! This is the only place that implements `rustls::client::danger::ServerCertVerifier`
//! for pinning (rustls renames the trait on its main branch), next to the
//! "no verification" verifier in `danger.rs`.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::Fingerprint;

/// The server's certificate did not match any pinned fingerprint.
///
/// A TLS handshake refused for this reason fails with
/// `rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(..)))`
/// wrapping this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinMismatch {
    expected: Vec<Fingerprint>,
    presented: Fingerprint,
}

impl PinMismatch {
    /// The pinned fingerprints, any of which would have been accepted.
    pub fn expected(&self) -> &[Fingerprint] {
        &self.expected
    }

    /// The fingerprint of the certificate the server presented.
    pub fn presented(&self) -> &Fingerprint {
        &self.presented
    }
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server certificate sha-256 fingerprint {} matches no pin (expected ", self.presented)?;
        for (i, pin) in self.expected.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            write!(f, "{pin}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for PinMismatch {}

/// Accepts a server whose leaf certificate's SHA-256 is one of `pins`.
///
/// With `chain` set, that verifier (WebPKI, or the one of a preconfigured
/// config) runs first, so the pin only tightens trust. Without it the pin
/// replaces chain and hostname validation, which is what makes self-signed
/// servers work. Handshake signatures are always checked.
#[derive(Debug)]
pub(crate) struct PinnedVerifier {
    pins: Vec<Fingerprint>,
    chain: Option<Arc<dyn ServerCertVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedVerifier {
    /// Builds a verifier; `pins` must not be empty.
    pub(crate) fn new(
        pins: Vec<Fingerprint>,
        chain: Option<Arc<dyn ServerCertVerifier>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        debug_assert!(!pins.is_empty(), "a pin set must not be empty");
        Self { pins, chain, algorithms }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain {
            chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        let presented = Fingerprint::of_der(end_entity.as_ref());
        if self.pins.contains(&presented) {
            tracing::trace!(%presented, "server certificate matches a pin");
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch { expected: self.pins.clone(), presented };
        tracing::debug!(%mismatch, "refusing server certificate");
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(mismatch)))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.chain {
            Some(chain) => chain.verify_tls12_signature(message, cert, dss),
            None => rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.chain {
            Some(chain) => chain.verify_tls13_signature(message, cert, dss),
            None => rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match &self.chain {
            Some(chain) => chain.supported_verify_schemes(),
            None => self.algorithms.supported_schemes(),
        }
    }
}
