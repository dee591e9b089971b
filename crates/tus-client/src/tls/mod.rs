//! TLS configuration: trust roots, client identity, certificate pinning.
//!
//! The client builder's `tls_*` methods collect the settings, and one
//! internal function lowers them into a `rustls::ClientConfig` (ring
//! provider). The public items here are the values a user passes in or gets
//! back: [`Fingerprint`] for pinning, [`PinMismatch`] inside a refused
//! handshake's error, and [`TlsConfigError`] when the settings cannot be
//! built.
//!
//! What each setting means:
//!
//! - **Roots.** By default every root store compiled in is trusted: the
//!   Mozilla roots of `webpki-roots` (default feature) and, with the
//!   `native-roots` feature, the operating system's store. Choosing a store
//!   explicitly trusts only the chosen ones. Added PEM roots are trusted in
//!   addition. Trusting nothing is an error, never a silent state.
//! - **Pins.** With one or more SHA-256 pins, the server's leaf certificate
//!   must match one of them. By default the pin *replaces* chain and hostname
//!   validation (like `aiohttp.Fingerprint`), so self-signed servers work; the
//!   pin-with-chain mode validates the chain first and then checks the pin.
//!   Handshake signatures are always verified.
//! - **No verification** accepts any certificate; handshake signatures are
//!   still verified. Pins, if any, still apply.
//! - **Preconfigured** uses the caller's `rustls::ClientConfig` as is; only its
//!   ALPN list is filled in when empty, and pins (pin-only mode) replace its
//!   verifier. Other TLS settings cannot be combined with it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

mod danger;
mod fingerprint;
mod pin;
#[cfg(test)]
mod tests;

pub use fingerprint::{Fingerprint, FingerprintError};
pub use pin::PinMismatch;

use danger::NoVerifier;
use pin::PinnedVerifier;

/// Why the TLS settings could not be turned into a rustls configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// No trust anchor at all: no root store compiled in or selected, and no
    /// root certificate added.
    #[error(
        "no root certificates to trust: enable the `webpki-roots` or `native-roots` feature, or add a root certificate"
    )]
    NoRootCertificates,
    /// A root store was selected whose cargo feature is not enabled.
    #[error("{store} roots were selected but the `{feature}` feature is not enabled")]
    RootStoreNotCompiled {
        /// The root store that was asked for.
        store: &'static str,
        /// The cargo feature of `tus-client` that provides it.
        feature: &'static str,
    },
    /// The operating system's root store was selected but yielded no
    /// usable certificate.
    #[error("no usable certificate in the platform root store ({details})")]
    NativeRoots {
        /// What went wrong while loading the store.
        details: String,
    },
    /// PEM data held no certificate.
    #[error("no certificate found in the {what} pem")]
    NoCertificateInPem {
        /// Which input: `"root certificate"` or `"client certificate"`.
        what: &'static str,
    },
    /// PEM data could not be parsed.
    #[error("invalid {what} pem")]
    InvalidPem {
        /// Which input: `"root certificate"`, `"client certificate"` or
        /// `"client private key"`.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A root certificate parsed as PEM but is not a usable trust anchor.
    #[error("invalid root certificate")]
    InvalidRootCertificate(#[source] rustls::Error),
    /// The client key PEM held no private key.
    #[error("no private key found in the client key pem")]
    MissingPrivateKey,
    /// The client private key does not belong to the client certificate.
    #[error("the client private key does not match the client certificate")]
    IdentityKeyMismatch,
    /// rustls refused the client certificate or key.
    #[error("invalid client certificate or key")]
    InvalidIdentity(#[source] rustls::Error),
    /// A setting was combined with a preconfigured rustls config, which
    /// already decides it.
    #[error("{setting} cannot be combined with a preconfigured rustls config")]
    ConflictsWithPreconfigured {
        /// The conflicting setting.
        setting: &'static str,
    },
    /// The certificate verifier could not be built from the roots.
    #[error("could not build the certificate verifier")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
    /// rustls refused the configuration for another reason.
    #[error("rustls refused the configuration")]
    Rustls(#[source] rustls::Error),
}

/// How pins combine with chain validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum PinMode {
    /// The pin replaces chain and hostname validation (self-signed servers
    /// work). This is what `aiohttp.Fingerprint` does.
    #[default]
    PinOnly,
    /// WebPKI chain and hostname validation first, then the pin.
    WithChain,
}

/// Which compiled-in root stores to trust.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum BuiltinRoots {
    /// Every store compiled in.
    #[default]
    Default,
    /// Only the ones selected (possibly none).
    Selected {
        /// The Mozilla roots from `webpki-roots`.
        webpki: bool,
        /// The operating system's store, from `rustls-native-certs`.
        native: bool,
    },
}

/// Client certificate chain and private key, both PEM, parsed at build time.
#[derive(Clone)]
pub(crate) struct IdentityPem {
    pub(crate) cert_chain_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
}

impl fmt::Debug for IdentityPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityPem")
            .field("cert_chain_pem", &format_args!("{} bytes", self.cert_chain_pem.len()))
            .field("key_pem", &format_args!("<redacted>"))
            .finish()
    }
}

/// Every TLS knob of the client builder; lowered by [`client_config`].
///
/// Setters only record; all parsing and validation happens in
/// [`client_config`], so the builder can report errors from `build()`.
#[derive(Clone, Debug)]
pub(crate) struct TlsSettings {
    pub(crate) builtin_roots: BuiltinRoots,
    pub(crate) extra_roots_pem: Vec<Vec<u8>>,
    pub(crate) identity: Option<IdentityPem>,
    pub(crate) danger_accept_invalid_certs: bool,
    pub(crate) pins: Vec<Fingerprint>,
    pub(crate) pin_mode: PinMode,
    pub(crate) preconfigured: Option<Arc<ClientConfig>>,
    pub(crate) http2: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            builtin_roots: BuiltinRoots::Default,
            extra_roots_pem: Vec::new(),
            identity: None,
            danger_accept_invalid_certs: false,
            pins: Vec::new(),
            pin_mode: PinMode::PinOnly,
            preconfigured: None,
            http2: true,
        }
    }
}

impl TlsSettings {
    /// Trusts the `webpki-roots` store; with [`Self::native_roots`] both are
    /// trusted. Fails at build time without the `webpki-roots` feature.
    pub(crate) fn webpki_roots(&mut self) -> &mut Self {
        self.select_builtin(true, false)
    }

    /// Trusts the operating system's store; with [`Self::webpki_roots`] both
    /// are trusted. Fails at build time without the `native-roots` feature.
    pub(crate) fn native_roots(&mut self) -> &mut Self {
        self.select_builtin(false, true)
    }

    /// Trusts no compiled-in store, only roots added as PEM.
    pub(crate) fn no_builtin_roots(&mut self) -> &mut Self {
        self.builtin_roots = BuiltinRoots::Selected { webpki: false, native: false };
        self
    }

    /// Also trusts every certificate in `pem` as a root.
    pub(crate) fn add_root_certificate_pem(&mut self, pem: &[u8]) -> &mut Self {
        self.extra_roots_pem.push(pem.to_vec());
        self
    }

    /// Presents this client certificate chain (leaf first) and private key.
    pub(crate) fn identity_pem(&mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> &mut Self {
        self.identity = Some(IdentityPem { cert_chain_pem: cert_chain_pem.to_vec(), key_pem: key_pem.to_vec() });
        self
    }

    /// Accepts any server certificate (pins, if any, still apply).
    pub(crate) fn danger_accept_invalid_certs(&mut self) -> &mut Self {
        self.danger_accept_invalid_certs = true;
        self
    }

    /// Adds a pin; any one matching pin accepts the server.
    pub(crate) fn pin_sha256(&mut self, pin: Fingerprint) -> &mut Self {
        if !self.pins.contains(&pin) {
            self.pins.push(pin);
        }
        self
    }

    /// Also validates the chain and hostname before checking pins.
    pub(crate) fn pin_with_chain(&mut self, yes: bool) -> &mut Self {
        self.pin_mode = if yes { PinMode::WithChain } else { PinMode::PinOnly };
        self
    }

    /// Uses this rustls config instead of building one.
    pub(crate) fn preconfigured(&mut self, config: ClientConfig) -> &mut Self {
        self.preconfigured = Some(Arc::new(config));
        self
    }

    /// Offers HTTP/2 through ALPN (default: on).
    pub(crate) fn http2(&mut self, yes: bool) -> &mut Self {
        self.http2 = yes;
        self
    }

    fn select_builtin(&mut self, webpki: bool, native: bool) -> &mut Self {
        self.builtin_roots = match self.builtin_roots {
            BuiltinRoots::Default => BuiltinRoots::Selected { webpki, native },
            BuiltinRoots::Selected { webpki: w, native: n } => {
                BuiltinRoots::Selected { webpki: w || webpki, native: n || native }
            }
        };
        self
    }
}

/// Builds the rustls client configuration for `settings`.
///
/// ALPN offers `h2` then `http/1.1` when HTTP/2 is on, else only
/// `http/1.1`; a preconfigured config keeps its own ALPN list if it has one.
///
/// # Errors
///
/// See [`TlsConfigError`]: unusable PEM input, a key that does not match the
/// certificate, no trust anchor, or settings that conflict with a
/// preconfigured config.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsConfigError> {
    if let Some(config) = &settings.preconfigured {
        return preconfigured(config, settings);
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Rustls)?;

    let builder = if !settings.pins.is_empty() {
        let chain = match settings.pin_mode {
            PinMode::PinOnly => None,
            PinMode::WithChain => Some(webpki_verifier(settings, &provider)? as Arc<_>),
        };
        let verifier = PinnedVerifier::new(settings.pins.clone(), chain, algorithms);
        builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
    } else if settings.danger_accept_invalid_certs {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerifier::new(algorithms)))
    } else {
        builder.with_webpki_verifier(webpki_verifier(settings, &provider)?)
    };

    let mut config = match &settings.identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let (chain, key) = parse_identity(identity)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => TlsConfigError::IdentityKeyMismatch,
                e => TlsConfigError::InvalidIdentity(e),
            })?
        }
    };
    config.alpn_protocols = alpn(settings.http2);
    Ok(Arc::new(config))
}

/// Walks an error and its causes, also stepping into the payload of an
/// `io::Error` and into the `OtherError` of a `rustls::Error`, which plain
/// `source()` walking skips.
///
/// This is how a [`PinMismatch`] is found behind hyper-util's
/// `legacy::Error` → `io::Error` (from tokio-rustls) → `rustls::Error`.
pub(crate) fn error_chain<'a>(err: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| next_cause(e))
}

/// The first `rustls::Error` in `err`'s chain (see [`error_chain`]).
pub(crate) fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    error_chain(err).find_map(|e| e.downcast_ref::<rustls::Error>())
}

/// The [`PinMismatch`] that refused a handshake, if one is in `err`'s chain.
pub(crate) fn find_pin_mismatch<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a PinMismatch> {
    error_chain(err).find_map(|e| e.downcast_ref::<PinMismatch>())
}

fn next_cause<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = err.downcast_ref::<io::Error>() {
        // `io::Error::source()` returns the payload's source, not the payload.
        return match io.get_ref() {
            Some(inner) => Some(inner),
            None => io.source(),
        };
    }
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        // `rustls::Error` has no `source()`; its `OtherError`s hold the cause.
        return match tls {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) | rustls::Error::Other(other) => {
                Some(&*other.0)
            }
            _ => None,
        };
    }
    err.source()
}

fn alpn(http2: bool) -> Vec<Vec<u8>> {
    if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] }
}

fn preconfigured(config: &Arc<ClientConfig>, settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let conflict = |setting| Err(TlsConfigError::ConflictsWithPreconfigured { setting });
    if settings.builtin_roots != BuiltinRoots::Default || !settings.extra_roots_pem.is_empty() {
        return conflict("choosing root certificates");
    }
    if settings.identity.is_some() {
        return conflict("a client identity");
    }
    if settings.danger_accept_invalid_certs {
        return conflict("accepting invalid certificates");
    }
    if !settings.pins.is_empty() && settings.pin_mode == PinMode::WithChain {
        return conflict("pinning with chain validation");
    }
    if settings.pins.is_empty() && !config.alpn_protocols.is_empty() {
        return Ok(config.clone());
    }
    let mut config = (**config).clone();
    if config.alpn_protocols.is_empty() {
        config.alpn_protocols = alpn(settings.http2);
    }
    if !settings.pins.is_empty() {
        let algorithms = config.crypto_provider().signature_verification_algorithms;
        let verifier = PinnedVerifier::new(settings.pins.clone(), None, algorithms);
        config.dangerous().set_certificate_verifier(Arc::new(verifier));
    }
    Ok(Arc::new(config))
}

fn webpki_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsConfigError> {
    let roots = root_store(settings)?;
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().map_err(|e| match e {
        rustls::client::VerifierBuilderError::NoRootAnchors => TlsConfigError::NoRootCertificates,
        e => TlsConfigError::Verifier(e),
    })
}

fn root_store(settings: &TlsSettings) -> Result<RootCertStore, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    let (webpki, native, explicit) = match settings.builtin_roots {
        BuiltinRoots::Default => (cfg!(feature = "webpki-roots"), cfg!(feature = "native-roots"), false),
        BuiltinRoots::Selected { webpki, native } => (webpki, native, true),
    };
    if webpki {
        add_webpki_roots(&mut roots)?;
    }
    if native {
        add_native_roots(&mut roots, explicit)?;
    }
    for pem in &settings.extra_roots_pem {
        add_pem_roots(&mut roots, pem)?;
    }
    if roots.is_empty() {
        return Err(TlsConfigError::NoRootCertificates);
    }
    Ok(roots)
}

#[cfg(feature = "webpki-roots")]
fn add_webpki_roots(roots: &mut RootCertStore) -> Result<(), TlsConfigError> {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(())
}

#[cfg(not(feature = "webpki-roots"))]
fn add_webpki_roots(_roots: &mut RootCertStore) -> Result<(), TlsConfigError> {
    Err(TlsConfigError::RootStoreNotCompiled { store: "webpki", feature: "webpki-roots" })
}

/// Adds the OS store. A failure is an error only when the store was chosen
/// explicitly; as one of the default stores it is logged and skipped.
#[cfg(feature = "native-roots")]
fn add_native_roots(roots: &mut RootCertStore, explicit: bool) -> Result<(), TlsConfigError> {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "while loading the platform root store");
    }
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    tracing::debug!(added, ignored, "loaded the platform root store");
    if added > 0 {
        return Ok(());
    }
    let details = if loaded.errors.is_empty() {
        format!("{ignored} unparsable certificates")
    } else {
        loaded.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    };
    if explicit {
        Err(TlsConfigError::NativeRoots { details })
    } else {
        tracing::warn!(%details, "the platform root store is empty");
        Ok(())
    }
}

#[cfg(not(feature = "native-roots"))]
fn add_native_roots(_roots: &mut RootCertStore, _explicit: bool) -> Result<(), TlsConfigError> {
    Err(TlsConfigError::RootStoreNotCompiled { store: "native", feature: "native-roots" })
}

fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), TlsConfigError> {
    const WHAT: &str = "root certificate";
    let mut found = false;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|source| TlsConfigError::InvalidPem { what: WHAT, source })?;
        roots.add(cert).map_err(TlsConfigError::InvalidRootCertificate)?;
        found = true;
    }
    if found { Ok(()) } else { Err(TlsConfigError::NoCertificateInPem { what: WHAT }) }
}

fn parse_identity(
    identity: &IdentityPem,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    const WHAT: &str = "client certificate";
    let chain = CertificateDer::pem_slice_iter(&identity.cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsConfigError::InvalidPem { what: WHAT, source })?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificateInPem { what: WHAT });
    }
    let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsConfigError::MissingPrivateKey,
        source => TlsConfigError::InvalidPem { what: "client private key", source },
    })?;
    Ok((chain, key))
}
