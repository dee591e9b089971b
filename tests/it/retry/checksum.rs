//! Checksums: `Checksum::Auto` picks the strongest algorithm the server offers; a mismatch is resent
//! after a HEAD; an explicit algorithm the server lacks is refused before any data.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::Method;
use sha2::Digest as _;
use tus_retry::{Checksum, ChecksumAlgorithm, Error, Metadata, Source};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, bounded, data, trace, uploader};

/// The `Upload-Checksum` of every PATCH.
fn checksums(server: &TusServer) -> Vec<Option<String>> {
    server.requests_with(Method::PATCH).iter().map(|r| r.header("upload-checksum").map(str::to_owned)).collect()
}

#[tokio::test]
async fn auto_picks_sha512_against_the_default_server() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let body = data(2500, 110);
        let url = uploader(&sleeper, 1000)
            .checksum(Checksum::Auto)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(trace(&server), ["OPTIONS", "POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+500"]);
        let expected: Vec<Option<String>> = [0..1000, 1000..2000, 2000..2500]
            .into_iter()
            .map(|r| Some(format!("sha512 {}", B64.encode(sha2::Sha512::digest(&body[r])))))
            .collect();
        assert_eq!(checksums(&server), expected);

        // A server offering only sha1 and md5: sha1.
        let server = TusServer::builder().checksum_algorithms(&["md5", "sha1"]).start().await;
        uploader(&sleeper, 1000)
            .checksum(Checksum::Auto)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert!(checksums(&server).iter().all(|c| c.as_deref().is_some_and(|c| c.starts_with("sha1 "))));

        // A server without the extension: no checksum, and no error.
        let server = TusServer::builder().extensions(&["creation"]).start().await;
        let url = uploader(&sleeper, 1000)
            .checksum(Checksum::Auto)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(checksums(&server).iter().all(Option::is_none));
    })
    .await;
}

#[tokio::test]
async fn a_checksum_mismatch_is_resent() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::ChecksumMismatch).nth(2));
        let body = data(3000, 111);
        let url = uploader(&sleeper, 1000)
            .checksum(Checksum::Algorithm(ChecksumAlgorithm::Sha256))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(
            trace(&server),
            ["OPTIONS", "POST", "PATCH 0+1000", "PATCH 1000+1000", "HEAD", "PATCH 1000+1000", "PATCH 2000+1000"]
        );
        assert!(sleeper.delays().is_empty(), "a mismatch is resent at once");
        let sums = checksums(&server);
        assert_eq!(sums[1], sums[2], "the same bytes, the same digest");
        assert!(sums.iter().all(|c| c.as_deref().is_some_and(|c| c.starts_with("sha256 "))));

        // A mismatch every time: the resends count against the budget.
        let server = TusServer::start().await;
        server.inject(Fault::patch(FaultAction::ChecksumMismatch).always());
        let err = uploader(&sleeper, 1000)
            .retry(super::retry(&sleeper, 3))
            .checksum(Checksum::Auto)
            .upload(&server.endpoint(), Source::bytes(body), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Exhausted { attempts: 3, .. }), "{err:?}");
        assert_eq!(super::status_of(&err), Some(460));
    })
    .await;
}

#[tokio::test]
async fn an_explicit_algorithm_the_server_lacks_is_refused_before_any_data() {
    bounded(async {
        let sleeper = RecordingSleeper::new();
        // No checksum extension at all.
        let server = TusServer::builder().extensions(&["creation", "termination"]).start().await;
        let err = uploader(&sleeper, 1000)
            .checksum(Checksum::Algorithm(ChecksumAlgorithm::Sha1))
            .upload(&server.endpoint(), Source::bytes(data(100, 112)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "checksum", .. }), "{err:?}");
        assert_eq!(trace(&server), ["OPTIONS"]);

        // The extension, but not this algorithm.
        let server = TusServer::builder().checksum_algorithms(&["sha1"]).start().await;
        let err = uploader(&sleeper, 1000)
            .checksum(Checksum::Algorithm(ChecksumAlgorithm::Sha512))
            .upload(&server.endpoint(), Source::bytes(data(100, 113)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "checksum", .. }), "{err:?}");
        assert_eq!(trace(&server), ["OPTIONS"]);

        // The same for parallel parts: refused after the one OPTIONS.
        let err = uploader(&sleeper, 1000)
            .checksum(Checksum::Algorithm(ChecksumAlgorithm::Sha512))
            .upload_parallel(&server.endpoint(), Source::bytes(data(100, 114)), 2, Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "checksum", .. }), "{err:?}");
        assert_eq!(trace(&server), ["OPTIONS", "OPTIONS"]);
    })
    .await;
}
