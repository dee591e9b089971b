//! Cancellation: through a token, with and without termination, during a backoff, and by dropping the
//! future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use tokio::sync::Notify;
use tus_retry::{CancellationToken, Error, Metadata, RetryConfiguration, Sleeper, Source, Uploader};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, bounded, client, data, patch_run, trace, uploader};

/// An `on_progress` callback that cancels `token` once `at` bytes are confirmed.
fn cancel_at(token: &CancellationToken, at: u64) -> impl Fn(tus_retry::Progress) + Send + Sync + 'static {
    let token = token.clone();
    move |p| {
        if p.confirmed >= at {
            token.cancel();
        }
    }
}

#[tokio::test]
async fn cancel_keeps_the_upload_resumable() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let token = CancellationToken::new();
        let body = data(10_000, 60);
        let err = uploader(&sleeper, 1000)
            .cancel_token(token.clone())
            .on_progress(cancel_at(&token, 2000))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        let id = super::only_upload(&server);
        assert_eq!(err.upload_url(), Some(&server.upload_url(&id)), "the URL to resume from");
        // Nothing was sent after the cancellation, and the server still has the upload.
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000"]);
        assert_eq!(server.stored_bytes(&id).unwrap(), &body[..2000]);

        // It can be finished from that URL with the client alone.
        let client = client();
        let source = Source::bytes(body.clone());
        client.upload_buffer(err.upload_url().unwrap(), &source, &Default::default()).await.unwrap();
        assert_eq!(server.stored_bytes(&id).unwrap(), body);
    })
    .await;
}

#[tokio::test]
async fn cancel_with_terminate_deletes_the_upload() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let token = CancellationToken::new();
        let err = uploader(&sleeper, 1000)
            .cancel_token(token.clone())
            .terminate_on_cancel(true)
            .on_progress(cancel_at(&token, 2000))
            .upload(&server.endpoint(), Source::bytes(data(10_000, 61)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled { upload_url: None }), "{err:?}");
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000", "DELETE"]);
        assert!(server.upload_ids().is_empty(), "the upload is gone");
        let deleted = server.requests_with(Method::DELETE);
        let gone = server.upload_url(deleted[0].path.trim_start_matches("/files/"));
        let err = uploader(&sleeper, 1000).info(&gone).await.unwrap_err();
        assert_eq!(super::status_of(&err), Some(404));
    })
    .await;
}

#[tokio::test]
async fn cancel_before_anything_sends_nothing() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let token = CancellationToken::new();
        token.cancel();
        let err = uploader(&sleeper, 1000)
            .cancel_token(token)
            .terminate_on_cancel(true)
            .upload(&server.endpoint(), Source::bytes(data(100, 62)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled { upload_url: None }), "{err:?}");
        assert!(server.requests().is_empty());
    })
    .await;
}

/// A sleeper that cancels a token when asked to sleep, and never wakes.
#[derive(Debug)]
struct CancellingSleeper(CancellationToken);

impl Sleeper for CancellingSleeper {
    fn sleep(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.cancel();
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn cancel_during_the_backoff() {
    bounded(async {
        let server = TusServer::start().await;
        let token = CancellationToken::new();
        server.inject(Fault::patch(FaultAction::status(503)).nth(2));
        let config = RetryConfiguration::default().sleeper(Arc::new(CancellingSleeper(token.clone())));
        let err = Uploader::new(client())
            .chunk_size(1000)
            .retry(config)
            .cancel_token(token)
            .upload(&server.endpoint(), Source::bytes(data(5000, 63)), Metadata::new())
            .await
            .unwrap_err();
        let id = super::only_upload(&server);
        assert!(matches!(&err, Error::Cancelled { upload_url: Some(u) } if *u == server.upload_url(&id)), "{err:?}");
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000"]);
    })
    .await;
}

/// Drives `upload` until `notify` fires, then drops it; returns the number of requests the server saw
/// then, after letting anything already in flight arrive.
async fn drop_when_notified(
    server: &TusServer,
    notify: &Notify,
    upload: impl Future<Output = Result<url::Url, Error>>,
) {
    tokio::select! {
        result = upload => panic!("the upload finished: {result:?}"),
        () = notify.notified() => {}
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = server.requests().len();
    let stored: Vec<_> = server.upload_ids().iter().map(|id| server.upload_state(id).unwrap().offset).collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.requests().len(), seen, "requests after the future was dropped: {:?}", trace(server));
    let after: Vec<_> = server.upload_ids().iter().map(|id| server.upload_state(id).unwrap().offset).collect();
    assert_eq!(after, stored);
}

#[tokio::test]
async fn dropping_the_future_stops_the_upload() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let notify = Arc::new(Notify::new());
        let n = Arc::clone(&notify);
        let body = data(50_000, 64);
        let uploader = uploader(&sleeper, 1000).on_progress(move |p| {
            if p.confirmed >= 3000 {
                n.notify_one();
            }
        });
        let endpoint = server.endpoint();
        drop_when_notified(&server, &notify, uploader.upload(&endpoint, Source::bytes(body.clone()), Metadata::new()))
            .await;
        let id = super::only_upload(&server);
        let offset = server.upload_state(&id).unwrap().offset;
        assert!((3000..50_000).contains(&offset), "{offset}");
        assert_eq!(server.stored_bytes(&id).unwrap(), &body[..offset as usize]);
        let t = trace(&server);
        assert_eq!(t[0], "POST");
        assert_eq!(t[1..], patch_run(0, (t.len() as u64 - 1) * 1000, 1000)[..]);

        // The same for parallel parts: every part's task stops.
        let server = TusServer::start().await;
        let notify = Arc::new(Notify::new());
        let n = Arc::clone(&notify);
        let uploader = super::uploader(&sleeper, 1000).on_progress(move |p| {
            if p.confirmed >= 6000 {
                n.notify_one();
            }
        });
        let endpoint = server.endpoint();
        drop_when_notified(
            &server,
            &notify,
            uploader.upload_parallel(&endpoint, Source::bytes(body), 4, Metadata::new()),
        )
        .await;
        assert!(!server.upload_ids().is_empty());
        assert!(server.requests_with(Method::POST).iter().all(|r| r.header("upload-concat") == Some("partial")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_with_terminate_deletes_every_part() {
    bounded(async {
        // Every part sees the token and DELETEs its own upload; none may be cut short by the first
        // part's return (a part whose POST was in flight returns at once, with nothing to delete: the
        // others used to be aborted then, before their DELETE). Many rounds, on two threads: a race.
        for _ in 0..50 {
            let server = TusServer::start().await;
            let sleeper = RecordingSleeper::new();
            let token = CancellationToken::new();
            let err = uploader(&sleeper, 1000)
                .cancel_token(token.clone())
                .terminate_on_cancel(true)
                .on_progress(cancel_at(&token, 3000))
                .upload_parallel(&server.endpoint(), Source::bytes(data(30_000, 65)), 3, Metadata::new())
                .await
                .unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            // Every part the client knew (it sent data to it) is gone. A part whose creation POST was
            // in flight at the cancellation may remain, empty: the client never learnt its URL.
            for id in server.upload_ids() {
                let patched = server.requests_with(Method::PATCH).iter().any(|r| r.path.ends_with(id.as_str()));
                assert!(!patched, "part {id} left on the server: {:?}", trace(&server));
                assert_eq!(server.upload_state(&id).unwrap().offset, 0);
            }
        }
    })
    .await;
}
