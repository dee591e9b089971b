//! Sources of unknown length (a pipe, a child's stdout): creation-defer-length, the length declared on
//! exactly one PATCH, whether the end falls on a chunk boundary or not.

use std::time::Duration;

use http::Method;
use tokio::io::AsyncWriteExt as _;
use tus_retry::{Error, Metadata, Source};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{ProgressLog, RecordingSleeper, bounded, data, trace, uploader};

/// A reader fed by a task that writes `body` in bursts of `burst` bytes, pausing between them.
fn pipe(body: Vec<u8>, burst: usize) -> Source {
    let (mut writer, reader) = tokio::io::duplex(512);
    tokio::spawn(async move {
        for piece in body.chunks(burst) {
            writer.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Dropping the writer ends the stream.
    });
    Source::reader(reader)
}

/// Asserts the deferred-length shape: a POST with `Upload-Defer-Length: 1` and no length, and exactly
/// one PATCH declaring `len`, the last.
fn assert_deferred(server: &TusServer, len: u64) {
    let posts = server.requests_with(Method::POST);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("upload-defer-length"), Some("1"));
    assert_eq!(posts[0].header("upload-length"), None);
    let patches = server.requests_with(Method::PATCH);
    let declaring: Vec<_> = patches.iter().filter(|r| r.header("upload-length").is_some()).collect();
    assert_eq!(declaring.len(), 1, "Upload-Length on exactly one PATCH");
    assert_eq!(declaring[0].header("upload-length"), Some(len.to_string().as_str()));
    assert_eq!(declaring[0].seq, patches.last().unwrap().seq, "on the last PATCH");
}

#[tokio::test]
async fn a_pipe_ending_inside_a_chunk() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let body = data(10_500, 100);
        let progress = ProgressLog::default();
        let url = uploader(&sleeper, 2000)
            .on_progress(progress.callback())
            .upload(&server.endpoint(), pipe(body.clone(), 700), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_deferred(&server, 10_500);
        assert_eq!(
            trace(&server),
            [
                "OPTIONS",
                "POST defer",
                "PATCH 0+2000",
                "PATCH 2000+2000",
                "PATCH 4000+2000",
                "PATCH 6000+2000",
                "PATCH 8000+2000",
                "PATCH 10000+500 len=10500"
            ]
        );
        // The total is unknown until the end is found.
        let events = progress.events();
        assert_eq!(events[0].total, None);
        progress.assert_sane(10_500);
    })
    .await;
}

#[tokio::test]
async fn a_pipe_ending_on_a_chunk_boundary() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let body = data(10_000, 101);
        let url = uploader(&sleeper, 2000)
            .upload(&server.endpoint(), pipe(body.clone(), 999), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_deferred(&server, 10_000);
        // The end is found only after the last full chunk: an empty PATCH declares the length.
        assert_eq!(
            trace(&server)[2..],
            [
                "PATCH 0+2000",
                "PATCH 2000+2000",
                "PATCH 4000+2000",
                "PATCH 6000+2000",
                "PATCH 8000+2000",
                "PATCH 10000+0 len=10000"
            ]
        );
        let state = server.upload_state(&url).unwrap();
        assert_eq!((state.offset, state.length), (10_000, Some(10_000)));

        // An empty pipe: an empty upload.
        let server = TusServer::start().await;
        let url =
            uploader(&sleeper, 2000).upload(&server.endpoint(), pipe(Vec::new(), 1), Metadata::new()).await.unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), b"");
        assert_eq!(trace(&server), ["OPTIONS", "POST defer", "PATCH 0+0 len=0"]);
    })
    .await;
}

#[tokio::test]
async fn a_child_process_stdout_written_in_bursts() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg("seq 1 2000; sleep 0.05; seq 2001 4000; sleep 0.05; seq 4001 5000")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let stdout = child.stdout.take().unwrap();
        let expected: String = (1..=5000).map(|i| format!("{i}\n")).collect();
        let url =
            uploader(&sleeper, 4096).upload(&server.endpoint(), Source::reader(stdout), Metadata::new()).await.unwrap();
        assert!(child.wait().await.unwrap().success());
        assert_eq!(server.stored_bytes(&url).unwrap(), expected.as_bytes());
        assert_deferred(&server, expected.len() as u64);
        assert!(
            server
                .requests_with(Method::PATCH)
                .iter()
                .rev()
                .skip(1)
                .all(|r| r.header("content-length") == Some("4096"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_pipe_survives_failures_from_the_bytes_it_still_holds() {
    bounded(async {
        // A reader cannot rewind, but it keeps the bytes the server has not confirmed: a cut PATCH and a
        // lost answer are resumed from the server's offset.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 500 }).nth(2));
        server.inject(Fault::patch(FaultAction::LoseResponse).nth(4));
        let body = data(9000, 102);
        let url = uploader(&sleeper, 2000)
            .upload(&server.endpoint(), pipe(body.clone(), 1500), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(
            trace(&server),
            [
                "OPTIONS",
                "POST defer",
                "PATCH 0+2000",
                "PATCH 2000+2000",
                "HEAD",
                "PATCH 2500+2000",
                "PATCH 4500+2000",
                "HEAD",
                "PATCH 6500+2000",
                "PATCH 8500+500 len=9000"
            ]
        );
        assert_eq!(sleeper.delays(), super::secs(&[1, 1]));
    })
    .await;
}

#[tokio::test]
async fn a_server_without_defer_length_is_refused_before_any_data() {
    bounded(async {
        let server = TusServer::builder().extensions(&["creation", "termination"]).start().await;
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 2000)
            .upload(&server.endpoint(), pipe(data(10, 103), 10), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "creation-defer-length", .. }), "{err:?}");
        assert_eq!(trace(&server), ["OPTIONS"]);
    })
    .await;
}
