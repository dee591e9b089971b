//! The classification table end to end: which failures are retried (with which delays), resynced or
//! fatal; the decision hook; `Retry-After`; the delay sequence with and without jitter; `metadata()`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use tus_retry::{Error, Metadata, RetryConfiguration, RetryDecision, Sleeper, Source};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, SEC, bounded, data, retry, secs, status_of, trace, uploader};

#[tokio::test]
async fn other_4xx_on_patch_are_fatal_at_once() {
    bounded(async {
        for code in [400u16, 401, 403, 405, 412, 415, 422] {
            let server = TusServer::start().await;
            let sleeper = RecordingSleeper::new();
            server.inject(Fault::patch(FaultAction::status(code)).nth(2));
            let body = data(3000, 1);
            let err = uploader(&sleeper, 1000)
                .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Fatal { .. }), "{code}: {err:?}");
            assert_eq!(status_of(&err), Some(code));
            let id = super::only_upload(&server);
            assert_eq!(err.upload_url(), Some(&server.upload_url(&id)), "{code}: the URL to resume from");
            assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000"], "{code}: one request, no retry");
            assert!(sleeper.delays().is_empty(), "{code}");
            assert_eq!(server.stored_bytes(&id).unwrap(), &body[..1000]);
        }
    })
    .await;
}

#[tokio::test]
async fn transient_statuses_are_retried_with_backoff() {
    bounded(async {
        for code in [500u16, 502, 503, 504, 408, 423, 429] {
            let server = TusServer::start().await;
            let sleeper = RecordingSleeper::new();
            server.inject(Fault::patch(FaultAction::status(code)).nth(2).times(2));
            let body = data(3000, 2);
            let url = uploader(&sleeper, 1000)
                .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
                .await
                .unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(server.stored_bytes(&url).unwrap(), body, "{code}");
            assert_eq!(sleeper.delays(), secs(&[1, 2]), "{code}");
            assert_eq!(
                trace(&server),
                [
                    "POST",
                    "PATCH 0+1000",
                    "PATCH 1000+1000",
                    "HEAD",
                    "PATCH 1000+1000",
                    "HEAD",
                    "PATCH 1000+1000",
                    "PATCH 2000+1000"
                ],
                "{code}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn broken_connections_and_timeouts_are_retried() {
    bounded(async {
        // The connection closes before any byte was stored, then the server never answers a PATCH.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 0 }).nth(2));
        server.inject(Fault::patch(FaultAction::Stall).nth(4));
        let client = tus_retry::Client::builder().stall_timeout(Some(Duration::from_millis(300))).build().unwrap();
        let body = data(3000, 3);
        let url = tus_retry::Uploader::new(client)
            .chunk_size(1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(
            trace(&server),
            [
                "POST",
                "PATCH 0+1000",
                "PATCH 1000+1000",
                "HEAD",
                "PATCH 1000+1000",
                "PATCH 2000+1000",
                "HEAD",
                "PATCH 2000+1000"
            ]
        );
        // The stall came after progress: the budget had started again.
        assert_eq!(sleeper.delays(), secs(&[1, 1]));
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_budget_is_spent() {
    bounded(async {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let endpoint = url::Url::parse(&format!("http://127.0.0.1:{port}/files/")).unwrap();
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 4))
            .upload(&endpoint, Source::bytes(data(10, 4)), Metadata::new())
            .await
            .unwrap_err();
        match &err {
            Error::Exhausted { attempts, last, upload_url } => {
                assert_eq!(*attempts, 4);
                assert!(last.is_connect(), "{last:?}");
                assert_eq!(*upload_url, None, "nothing was created");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.delays(), secs(&[1, 2, 4]));
    })
    .await;
}

#[tokio::test]
async fn the_delay_sequence_is_aiotus_s_without_jitter() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(503)).always());
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 10))
            .upload(&server.endpoint(), Source::bytes(data(2500, 5)), Metadata::new())
            .await
            .unwrap_err();
        match &err {
            Error::Exhausted { attempts: 10, last, upload_url: Some(_) } => {
                assert_eq!(last.status().map(|s| s.as_u16()), Some(503));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.delays(), secs(&[1, 2, 4, 8, 16, 32, 60, 60, 60]));
        // Every retry asked the server for its offset first.
        let expected: Vec<&str> = std::iter::once("POST")
            .chain(std::iter::once("PATCH 0+1000"))
            .chain(std::iter::repeat_n(["HEAD", "PATCH 0+1000"], 9).flatten())
            .collect();
        assert_eq!(trace(&server), expected);
        let id = super::only_upload(&server);
        assert!(server.stored_bytes(&id).unwrap().is_empty());
    })
    .await;
}

/// Runs a failing upload with jitter on and `seed`; returns the recorded delays.
async fn jittered_run(seed: u64) -> Vec<Duration> {
    let server = TusServer::start().await;
    let sleeper = RecordingSleeper::new();
    server.inject(Fault::patch(FaultAction::status(500)).always());
    let config = RetryConfiguration::default()
        .jitter_seed(seed)
        .retry_attempts(10)
        .sleeper(Arc::clone(&sleeper) as Arc<dyn Sleeper>);
    let err = uploader(&sleeper, 1000)
        .retry(config)
        .upload(&server.endpoint(), Source::bytes(data(100, 6)), Metadata::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exhausted { attempts: 10, .. }), "{err:?}");
    sleeper.delays()
}

#[tokio::test]
async fn jitter_is_bounded_and_reproducible_for_a_seed() {
    bounded(async {
        let a = jittered_run(1234).await;
        let full = secs(&[1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(a.len(), full.len());
        for (d, f) in a.iter().zip(&full) {
            assert!(*d >= *f / 2 && *d <= *f, "{d:?} outside [{:?}, {f:?}]", *f / 2);
        }
        assert_ne!(a, full, "jitter changed nothing");
        assert_eq!(a, jittered_run(1234).await, "same seed, same delays");
        assert_ne!(a, jittered_run(4321).await, "another seed, other delays");
    })
    .await;
}

#[tokio::test]
async fn retry_after_raises_the_delay() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status_with(503, &[("Retry-After", "7")])).nth(2));
        server.inject(Fault::patch(FaultAction::status_with(429, &[("Retry-After", "1")])).nth(4));
        server.inject(Fault::patch(FaultAction::status(423)).nth(5));
        server.inject(Fault::patch(FaultAction::status_with(409, &[("Retry-After", "3")]).with_offset()).nth(7));
        let body = data(4000, 7);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        // 503 + Retry-After 7 → 7 s instead of 1 s; progress resets the budget; 429 + Retry-After 1 → the
        // 1 s backoff; 423 (second failure in a row) → 2 s; 409 + Retry-After 3 → 3 s instead of at once.
        assert_eq!(sleeper.delays(), secs(&[7, 1, 2, 3]));
    })
    .await;
}

#[tokio::test]
async fn the_hook_overrides_the_class() {
    bounded(async {
        // Retry: a 401 (fatal by default) is retried, as after refreshing a token.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(401)).nth(2));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&calls);
        let config = retry(&sleeper, 5).on_error(move |e, n| {
            log.lock().unwrap().push((e.status().map(|s| s.as_u16()), n));
            if e.status().is_some_and(|s| s == 401) { RetryDecision::Retry } else { RetryDecision::Default }
        });
        let body = data(3000, 8);
        let url = uploader(&sleeper, 1000)
            .retry(config)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), [SEC]);
        assert_eq!(*calls.lock().unwrap(), [(Some(401), 1)]);

        // Fail: a 503 (transient by default) ends the upload at once.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(503)).nth(2));
        let config = retry(&sleeper, 5).on_error(|_, _| RetryDecision::Fail);
        let err = uploader(&sleeper, 1000)
            .retry(config)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(503));
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000"]);
        assert!(sleeper.delays().is_empty());

        // RetryAfter: exactly the hook's delay, whatever the backoff and Retry-After say.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status_with(500, &[("Retry-After", "30")])).times(2));
        let config =
            retry(&sleeper, 5).on_error(|_, n| RetryDecision::RetryAfter(Duration::from_millis(250 * u64::from(n))));
        let url = uploader(&sleeper, 1000)
            .retry(config)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), [Duration::from_millis(250), Duration::from_millis(500)]);
        assert_eq!(
            trace(&server)[..6],
            ["POST", "PATCH 0+1000", "HEAD", "PATCH 0+1000", "HEAD", "PATCH 0+1000"].map(String::from)
        );
    })
    .await;
}

#[tokio::test]
async fn metadata_404_is_not_retried() {
    bounded(async {
        // aiotus retries a 404 for about four minutes; here it is one request.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 1000).metadata(&server.upload_url("nope")).await.unwrap_err();
        assert!(matches!(err, Error::Fatal { .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(404));
        assert_eq!(err.upload_url(), Some(&server.upload_url("nope")));
        assert_eq!(trace(&server), ["HEAD"]);
        assert!(sleeper.delays().is_empty());

        // Even with a budget of one attempt it is a fatal error, not an exhausted budget.
        let err = uploader(&sleeper, 1000).retry(retry(&sleeper, 1)).metadata(&server.upload_url("nope")).await;
        assert!(matches!(err, Err(Error::Fatal { .. })), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn metadata_is_read_with_retries() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let mut metadata = Metadata::new();
        metadata.insert("filename", "résumé.pdf").insert_key("flag");
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(data(10, 9)), metadata.clone())
            .await
            .unwrap();
        server.clear_requests();
        server.inject(Fault::head(FaultAction::status(503)).times(2));
        let read = uploader(&sleeper, 1000).metadata(&url).await.unwrap();
        assert_eq!(read.get("filename"), Some("résumé.pdf".as_bytes()));
        assert!(read.contains_key("flag"));
        assert_eq!(trace(&server), ["HEAD", "HEAD", "HEAD"]);
        assert_eq!(sleeper.delays(), secs(&[1, 2]));

        // 410 (expired) is not retried either.
        server.clear_requests();
        server.expire(&url);
        let err = uploader(&sleeper, 1000).info(&url).await.unwrap_err();
        assert_eq!(status_of(&err), Some(410));
        assert_eq!(server.requests_with(Method::HEAD).len(), 1);
    })
    .await;
}

#[tokio::test]
async fn creation_failures_follow_the_same_table() {
    bounded(async {
        // A 500 on creation is retried; a 403 is not.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::post(FaultAction::status(500)));
        server.inject(Fault::post(FaultAction::DropMidBody { after: 0 }).nth(2));
        let body = data(1500, 10);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(trace(&server), super::lines(&[&["POST", "POST", "POST"], &["PATCH 0+1000", "PATCH 1000+500"]]));
        assert_eq!(sleeper.delays(), secs(&[1, 2]));

        let server = TusServer::start().await;
        server.inject(Fault::post(FaultAction::status(403)));
        let err = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap_err();
        assert_eq!(status_of(&err), Some(403));
        assert_eq!(err.upload_url(), None);
        assert_eq!(trace(&server), ["POST"]);
    })
    .await;
}
