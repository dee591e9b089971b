//! The retry budget: `retry_attempts` failures in a row end the upload, but the count starts again
//! whenever the server's offset advances, so outages spread over a long upload do not add up (aiotus's
//! budget never resets: ten short outages kill a long upload).

use tus_retry::{Error, Metadata, Source, Uploader};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, bounded, client, data, lines, patch_run, retry, secs, trace, uploader};

#[tokio::test]
async fn every_second_patch_failing_still_completes() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        // PATCH #1 succeeds, then every even PATCH fails: each chunk fails once, then goes through.
        for n in (2..=78).step_by(2) {
            server.inject(Fault::patch(FaultAction::status(500)).nth(n));
        }
        let body = data(40_000, 20);
        let url = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(server.faults_fired(), 39);
        // 39 failures with a budget of 3: each is the first of its budget, so every delay is the first.
        assert_eq!(sleeper.delays(), secs(&[1; 39]));
        let mut expected = lines(&[&["POST", "PATCH 0+1000"]]);
        for k in 1..40 {
            let p = format!("PATCH {}+1000", k * 1000);
            expected.extend([p.clone(), "HEAD".into(), p]);
        }
        assert_eq!(trace(&server), expected);
    })
    .await;
}

#[tokio::test]
async fn connections_dropped_mid_body_keep_making_progress() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        // Eight PATCHes in a row are cut after 300 bytes; the server keeps what it received.
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 300 }).nth(2).times(8));
        let body = data(6000, 21);
        let url = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), secs(&[1; 8]), "every cut followed progress");
        let mut expected = lines(&[&["POST", "PATCH 0+1000"]]);
        for at in (1000..3400).step_by(300) {
            expected.extend([format!("PATCH {at}+1000"), "HEAD".into()]);
        }
        expected.extend(patch_run(3400, 6000, 1000));
        assert_eq!(trace(&server), expected);
    })
    .await;
}

#[tokio::test]
async fn without_progress_the_budget_runs_out() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(500)).nth(2).always());
        let body = data(5000, 22);
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap_err();
        let id = super::only_upload(&server);
        match &err {
            Error::Exhausted { attempts: 3, last, upload_url } => {
                assert_eq!(last.status().map(|s| s.as_u16()), Some(500));
                assert_eq!(upload_url.as_ref(), Some(&server.upload_url(&id)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.delays(), secs(&[1, 2]));
        assert_eq!(
            trace(&server),
            ["POST", "PATCH 0+1000", "PATCH 1000+1000", "HEAD", "PATCH 1000+1000", "HEAD", "PATCH 1000+1000"]
        );
        assert_eq!(server.stored_bytes(&id).unwrap(), &body[..1000]);

        // The same with connections cut before any byte is stored: no progress either.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 0 }).nth(2).always());
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap_err();
        match &err {
            Error::Exhausted { attempts: 3, last, upload_url: Some(_) } => {
                assert_eq!(last.retry_class(), tus_retry::tus_client::RetryClass::Transient, "{last:?}");
                assert_eq!(last.status(), None, "{last:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.delays(), secs(&[1, 2]));
    })
    .await;
}

#[tokio::test]
async fn one_attempt_means_no_retry() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(503)).nth(2));
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 1))
            .upload(&server.endpoint(), Source::bytes(data(3000, 23)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Exhausted { attempts: 1, .. }), "{err:?}");
        assert!(sleeper.delays().is_empty());
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "PATCH 1000+1000"]);
    })
    .await;
}

#[tokio::test]
async fn ten_short_outages_do_not_kill_a_long_upload() {
    bounded(async {
        // aiotus's flaw: its 10 attempts are never given back, so 10 failures anywhere in an upload end
        // it. Here: ten outages of two failures each (a 503, then a connection cut), spread over a
        // 64-chunk upload, with aiotus's default budget of 10 attempts.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        for i in 0..10 {
            server.inject(Fault::patch(FaultAction::status(503)).nth(6 * i + 3));
            server.inject(Fault::patch(FaultAction::DropMidBody { after: 0 }).nth(6 * i + 4));
        }
        let body = data(64 * 2048, 24);
        let url = Uploader::new(client())
            .chunk_size(2048)
            .retry(retry(&sleeper, 10))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(server.faults_fired(), 20, "20 failures, twice aiotus's whole budget");
        assert_eq!(sleeper.delays(), secs(&[1, 2].repeat(10)), "each outage started a fresh budget");
        assert_eq!(super::patches(&server).len(), 64 + 20);
    })
    .await;
}

#[tokio::test]
async fn a_patch_the_server_keeps_none_of_counts_against_the_budget() {
    bounded(async {
        // A server that answers 204 but keeps no byte would make a naive loop resend forever.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 0 }).nth(2).always());
        let err = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(data(3000, 25)), Metadata::new())
            .await
            .unwrap_err();
        match &err {
            Error::Exhausted { attempts: 3, last, upload_url: Some(_) } => assert!(last.is_protocol(), "{last:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.delays(), secs(&[1, 2]));
        // (Whether a HEAD comes between the resends is the state machine's choice.)
        assert_eq!(super::patches(&server), [(0, 1000), (1000, 1000), (1000, 1000), (1000, 1000)]);
        assert_eq!(server.requests_with(http::Method::POST).len(), 1);

        // Twice, then the server takes bytes again: the upload completes.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 0 }).nth(2).times(2));
        let body = data(3000, 26);
        let url = uploader(&sleeper, 1000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), secs(&[1, 2]));
    })
    .await;
}
