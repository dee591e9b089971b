//! After any failure the next request is a HEAD, and the next PATCH starts at the offset the server
//! reported, never at a local guess: 423, 409, lost responses, cut bodies, partial acceptance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::Method;
use tus_retry::{Metadata, Source};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, bounded, data, lines, patch_run, patches, secs, trace, uploader};

/// Asserts that every PATCH that does not continue where the previous one ended comes right after a
/// HEAD (the request log has no answers, so a PATCH at an offset other than the previous PATCH's end
/// means the client learnt it from a HEAD).
fn assert_resyncs_after_head(server: &TusServer) {
    let requests = server.requests();
    let mut expected_next: Option<u64> = None;
    for (i, r) in requests.iter().enumerate() {
        if r.method != Method::PATCH {
            continue;
        }
        let offset: u64 = r.header("upload-offset").unwrap().parse().unwrap();
        let len: u64 = r.header("content-length").unwrap().parse().unwrap();
        if expected_next.is_some_and(|e| e != offset) {
            assert_eq!(requests[i - 1].method, Method::HEAD, "request {i}: PATCH at {offset} without a HEAD before it");
        }
        expected_next = Some(offset + len);
    }
}

#[tokio::test]
async fn locked_423_twice_then_fine() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(423)).nth(3).times(2));
        let body = data(5000, 30);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), secs(&[1, 2]));
        assert_eq!(
            trace(&server),
            lines(&[
                &["POST", "PATCH 0+1000", "PATCH 1000+1000"],
                &["PATCH 2000+1000", "HEAD", "PATCH 2000+1000", "HEAD", "PATCH 2000+1000"],
                &["PATCH 3000+1000", "PATCH 4000+1000"],
            ])
        );
    })
    .await;
}

#[tokio::test]
async fn conflict_409_with_the_true_offset_resumes_from_the_server() {
    bounded(async {
        // The server lost acknowledged data (a crashed store, a proxy): the PATCH at the client's offset
        // gets a real 409 carrying the server's offset; a HEAD confirms it; the upload goes on from there.
        let server = Arc::new(TusServer::start().await);
        let sleeper = RecordingSleeper::new();
        let done = Arc::new(AtomicBool::new(false));
        let (srv, flag) = (Arc::clone(&server), Arc::clone(&done));
        let body = data(5000, 31);
        let url = uploader(&sleeper, 1000)
            .on_progress(move |p| {
                if p.confirmed == 3000 && !flag.swap(true, Ordering::SeqCst) {
                    let ids = srv.upload_ids();
                    assert!(srv.truncate(&ids[0], 1500));
                }
            })
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(sleeper.delays().is_empty(), "a resync does not wait");
        assert_eq!(
            trace(&server),
            lines(&[
                &["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+1000"],
                &["PATCH 3000+1000", "HEAD"],
                &["PATCH 1500+1000", "PATCH 2500+1000", "PATCH 3500+1000", "PATCH 4500+500"],
            ])
        );
        assert_resyncs_after_head(&server);
    })
    .await;
}

#[tokio::test]
async fn injected_409s_resync_without_waiting() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::conflict()).nth(2));
        server.inject(Fault::patch(FaultAction::conflict()).nth(5).times(2));
        let body = data(4000, 32);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(sleeper.delays().is_empty());
        assert_eq!(
            trace(&server),
            lines(&[
                &["POST", "PATCH 0+1000", "PATCH 1000+1000", "HEAD", "PATCH 1000+1000", "PATCH 2000+1000"],
                &["PATCH 3000+1000", "HEAD", "PATCH 3000+1000", "HEAD", "PATCH 3000+1000"],
            ])
        );

        // 409 forever: the resyncs count against the budget.
        let server = TusServer::start().await;
        server.inject(Fault::patch(FaultAction::conflict()).always());
        let err = uploader(&sleeper, 1000)
            .retry(super::retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, tus_retry::Error::Exhausted { attempts: 3, .. }), "{err:?}");
        assert_eq!(super::status_of(&err), Some(409));
        assert_eq!(trace(&server), ["POST", "PATCH 0+1000", "HEAD", "PATCH 0+1000", "HEAD", "PATCH 0+1000"]);
    })
    .await;
}

#[tokio::test]
async fn a_lost_patch_response_sends_no_byte_twice() {
    bounded(async {
        // The server stored the whole chunk but the answer never came: the HEAD shows the chunk is
        // there, and the upload goes on after it.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::LoseResponse).nth(2));
        server.inject(Fault::patch(FaultAction::LoseResponse).nth(5));
        let body = data(5500, 33);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), secs(&[1, 1]));
        assert_eq!(
            trace(&server),
            lines(&[
                &["POST", "PATCH 0+1000", "PATCH 1000+1000", "HEAD", "PATCH 2000+1000", "PATCH 3000+1000"],
                &["PATCH 4000+1000", "HEAD", "PATCH 5000+500"],
            ])
        );
        let sent: u64 = patches(&server).iter().map(|(_, n)| n).sum();
        assert_eq!(sent, body.len() as u64, "no byte sent twice");
    })
    .await;
}

#[tokio::test]
async fn a_lost_creation_response_creates_again() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::post(FaultAction::LoseResponse));
        let body = data(2500, 34);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(sleeper.delays(), secs(&[1]));
        let mut expected = lines(&[&["POST", "POST"]]);
        expected.extend(patch_run(0, 2500, 1000));
        assert_eq!(trace(&server), expected);
        // The first POST created an upload whose URL the client never learnt: an orphan that stays on
        // the server (empty) until the server expires it. The client cannot know it to DELETE it.
        let ids = server.upload_ids();
        assert_eq!(ids.len(), 2);
        assert_eq!(url, server.upload_url(&ids[1]));
        let orphan = server.upload_state(&ids[0]).unwrap();
        assert_eq!((orphan.offset, orphan.length), (0, Some(2500)));
    })
    .await;
}

#[tokio::test]
async fn a_body_cut_mid_way_resumes_from_what_the_server_kept() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 400 }).nth(2));
        let body = data(3000, 35);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(
            trace(&server),
            ["POST", "PATCH 0+1000", "PATCH 1000+1000", "HEAD", "PATCH 1400+1000", "PATCH 2400+600"]
        );
        assert_resyncs_after_head(&server);
    })
    .await;
}

#[tokio::test]
async fn partial_acceptance_continues_from_the_returned_offset() {
    bounded(async {
        // The server keeps only 300 bytes of three PATCHes and says so: no failure, no HEAD, the next
        // PATCH starts where the server stopped.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 300 }).nth(2).times(3));
        let body = data(5000, 36);
        let url = uploader(&sleeper, 1000)
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(sleeper.delays().is_empty());
        assert_eq!(
            trace(&server),
            lines(&[
                &["POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 1300+1000", "PATCH 1600+1000"],
                &["PATCH 1900+1000", "PATCH 2900+1000", "PATCH 3900+1000", "PATCH 4900+100"],
            ])
        );
    })
    .await;
}
