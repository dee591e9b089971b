//! An upload that vanished from the server (404 or 410) is created anew, once, when the source can be
//! read again from the start; never for a reader, never twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tus_retry::{Error, Metadata, Source, Uploader};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{ProgressLog, RecordingSleeper, bounded, data, lines, patch_run, secs, status_of, trace, uploader};

/// What to do to the server when the upload reaches 2000 confirmed bytes.
#[derive(Clone, Copy)]
enum Vanish {
    /// Forget the upload and fail the next PATCH with a 500, so the HEAD after it gets 404.
    ForgetAfterFailure,
    /// Forget it: the next PATCH gets 404.
    Forget,
    /// Expire it: the next PATCH gets 410.
    Expire,
}

/// An `on_progress` callback that makes the upload vanish when it reaches 2000 confirmed bytes, at most
/// `times` times (waiting for the count to fall back to 0, as after a re-creation, in between).
fn vanish_at_2000(
    server: &Arc<TusServer>,
    how: Vanish,
    times: u32,
) -> impl Fn(tus_retry::Progress) + Send + Sync + 'static {
    let server = Arc::clone(server);
    let acted = AtomicU32::new(0);
    let armed = AtomicBool::new(true); // false: waiting for the count to fall back to 0
    move |p| {
        if armed.load(Ordering::SeqCst) && acted.load(Ordering::SeqCst) < times && p.confirmed == 2000 {
            armed.store(false, Ordering::SeqCst);
            acted.fetch_add(1, Ordering::SeqCst);
            let id = server.upload_ids().pop().expect("an upload");
            match how {
                Vanish::ForgetAfterFailure => {
                    assert!(server.forget(&id));
                    server.inject(Fault::patch(FaultAction::status(500)));
                }
                Vanish::Forget => assert!(server.forget(&id)),
                Vanish::Expire => assert!(server.expire(&id)),
            }
        } else if !armed.load(Ordering::SeqCst) && p.confirmed == 0 {
            armed.store(true, Ordering::SeqCst);
        }
    }
}

fn fresh_run(len: u64) -> Vec<String> {
    let mut out = vec!["POST".to_owned()];
    out.extend(patch_run(0, len, 1000));
    out
}

#[tokio::test]
async fn a_vanished_upload_is_created_again_once() {
    bounded(async {
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let progress = ProgressLog::default();
        let log = progress.callback();
        let vanish = vanish_at_2000(&server, Vanish::ForgetAfterFailure, 1);
        let body = data(6000, 40);
        let url = uploader(&sleeper, 1000)
            .on_progress(move |p| {
                log(p);
                vanish(p);
            })
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(server.upload_ids().len(), 1, "the first upload is gone");
        assert_eq!(url, server.upload_url(&server.upload_ids()[0]));
        assert_eq!(sleeper.delays(), secs(&[1]));
        let mut expected = lines(&[&["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000", "HEAD"]]);
        expected.extend(fresh_run(6000));
        assert_eq!(trace(&server), expected);
        // Progress went back to 0 with the new upload, then to the end.
        progress.assert_sane(6000);
        assert!(progress.events().iter().any(|p| p.confirmed == 0 && p.sent > 0));
    })
    .await;
}

#[tokio::test]
async fn a_second_vanish_is_fatal() {
    bounded(async {
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 1000)
            .on_progress(vanish_at_2000(&server, Vanish::ForgetAfterFailure, 2))
            .upload(&server.endpoint(), Source::bytes(data(6000, 41)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(404));
        let attempt = lines(&[&["PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000", "HEAD"]]);
        let mut expected = vec!["POST".to_owned()];
        expected.extend(attempt.clone());
        expected.push("POST".to_owned());
        expected.extend(attempt);
        assert_eq!(trace(&server), expected);
        assert!(server.upload_ids().is_empty());
        // The URL in the error is the second upload's (the one that vanished last).
        let posts = server.requests();
        assert_eq!(posts.iter().filter(|r| r.method == http::Method::POST).count(), 2);
        assert!(err.upload_url().unwrap().path().starts_with("/files/000002"), "{:?}", err.upload_url());
    })
    .await;
}

#[tokio::test]
async fn a_reader_cannot_be_created_again() {
    bounded(async {
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let body = data(6000, 42);
        let source = Source::reader_with_length(std::io::Cursor::new(body), 6000);
        let err = uploader(&sleeper, 1000)
            .on_progress(vanish_at_2000(&server, Vanish::ForgetAfterFailure, 1))
            .upload(&server.endpoint(), source, Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(404));
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000", "HEAD"]);
    })
    .await;
}

#[tokio::test]
async fn re_creation_can_be_turned_off() {
    bounded(async {
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 1000)
            .recreate_if_gone(false)
            .on_progress(vanish_at_2000(&server, Vanish::ForgetAfterFailure, 1))
            .upload(&server.endpoint(), Source::bytes(data(6000, 43)), Metadata::new())
            .await
            .unwrap_err();
        assert_eq!(status_of(&err), Some(404));
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000", "HEAD"]);
    })
    .await;
}

#[tokio::test]
async fn a_patch_answered_404_or_410_is_checked_with_a_head_and_created_again() {
    bounded(async {
        for how in [Vanish::Forget, Vanish::Expire] {
            let server = Arc::new(TusServer::start().await);
            let sleeper = RecordingSleeper::new();
            let body = data(6000, 44);
            let url = uploader(&sleeper, 1000)
                .on_progress(vanish_at_2000(&server, how, 1))
                .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
                .await
                .unwrap();
            assert_eq!(server.stored_bytes(&url).unwrap(), body);
            assert!(sleeper.delays().is_empty(), "nothing to wait for");
            let mut expected = lines(&[&["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000", "HEAD"]]);
            expected.extend(fresh_run(6000));
            assert_eq!(trace(&server), expected);
        }

        // A reader: the PATCH's 410 is final at once (there is nothing to re-create from).
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let source = Source::reader_with_length(std::io::Cursor::new(data(6000, 45)), 6000);
        let err = Uploader::new(super::client())
            .chunk_size(1000)
            .retry(super::retry(&sleeper, 5))
            .on_progress(vanish_at_2000(&server, Vanish::Expire, 1))
            .upload(&server.endpoint(), source, Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(410));
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000"]);
    })
    .await;
}
