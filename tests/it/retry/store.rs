//! Resume after a restart through an [`UploadStore`]: the first run is cancelled mid-way, a second run
//! with a new client and uploader sharing only the store HEADs the same URL and finishes, and the entry
//! is removed on success.

use std::sync::Arc;

use http::Method;
use tus_retry::{CancellationToken, Error, FileStore, MemoryStore, Metadata, Source, UploadStore, Uploader};
use tus_tests::server::TusServer;

use super::{ProgressLog, RecordingSleeper, bounded, client, data, patch_run, retry, trace};

/// An uploader as a fresh process would make it: a new client, 1000-byte chunks, `store`.
fn fresh(sleeper: &Arc<RecordingSleeper>, store: Arc<dyn UploadStore>) -> Uploader {
    Uploader::new(client()).chunk_size(1000).retry(retry(sleeper, 5)).store(store)
}

/// Runs an upload that is cancelled once `at` bytes are confirmed; returns the URL it left behind.
async fn interrupted(uploader: Uploader, endpoint: &url::Url, source: Source, at: u64) -> url::Url {
    let token = CancellationToken::new();
    let t = token.clone();
    let err = uploader
        .cancel_token(token)
        .on_progress(move |p| {
            if p.confirmed >= at {
                t.cancel();
            }
        })
        .upload(endpoint, source, Metadata::new())
        .await
        .unwrap_err();
    match err {
        Error::Cancelled { upload_url: Some(url) } => url,
        other => panic!("{other:?}"),
    }
}

fn upload_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "upload"))
        .count()
}

#[tokio::test]
async fn memory_store_with_a_resume_key() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let body = data(10_000, 70);
        let first = fresh(&sleeper, store.clone()).resume_key("video-1");
        let url = interrupted(first, &server.endpoint(), Source::bytes(body.clone()), 3000).await;
        assert_eq!(store.len(), 1, "the entry survives the cancellation");
        server.clear_requests();

        let progress = ProgressLog::default();
        let resumed = fresh(&sleeper, store.clone())
            .resume_key("video-1")
            .on_progress(progress.callback())
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(resumed, url, "the same upload");
        let mut expected = vec!["HEAD".to_owned()];
        expected.extend(patch_run(3000, 10_000, 1000));
        assert_eq!(trace(&server), expected, "no new POST");
        assert_eq!(server.requests()[0].path, url.path());
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(store.is_empty(), "the entry is removed on success");
        // The bytes the server already held count as sent and confirmed from the first event on.
        progress.assert_sane(10_000);
        assert_eq!(progress.events()[0].confirmed, 3000);

        // Another key is another upload.
        server.clear_requests();
        fresh(&sleeper, store.clone())
            .resume_key("video-2")
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(trace(&server)[0], "POST");
    })
    .await;
}

#[tokio::test]
async fn file_store_with_a_real_file() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("video.bin");
        let body = data(10_000, 71);
        std::fs::write(&path, &body).unwrap();
        let store_dir = dir.path().join("store");

        let first = fresh(&sleeper, Arc::new(FileStore::new(&store_dir).unwrap()));
        let url = interrupted(first, &server.endpoint(), Source::file(&path).unwrap(), 4000).await;
        assert_eq!(upload_files(&store_dir), 1);
        server.clear_requests();

        // A new process: a new store on the same directory, the file opened again.
        let second = fresh(&sleeper, Arc::new(FileStore::new(&store_dir).unwrap()));
        let resumed = second.upload(&server.endpoint(), Source::file(&path).unwrap(), Metadata::new()).await.unwrap();
        assert_eq!(resumed, url);
        let mut expected = vec!["HEAD".to_owned()];
        expected.extend(patch_run(4000, 10_000, 1000));
        assert_eq!(trace(&server), expected);
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(upload_files(&store_dir), 0, "the entry is removed on success");

        // A changed file (another size) is not the same source: a new upload.
        let first = fresh(&sleeper, Arc::new(FileStore::new(&store_dir).unwrap()));
        let stale = interrupted(first, &server.endpoint(), Source::file(&path).unwrap(), 2000).await;
        std::fs::write(&path, &body[..9000]).unwrap();
        server.clear_requests();
        let other = fresh(&sleeper, Arc::new(FileStore::new(&store_dir).unwrap()))
            .upload(&server.endpoint(), Source::file(&path).unwrap(), Metadata::new())
            .await
            .unwrap();
        assert_ne!(other, stale);
        assert_eq!(trace(&server)[0], "POST");
        assert_eq!(server.stored_bytes(&other).unwrap(), &body[..9000]);
    })
    .await;
}

#[tokio::test]
async fn a_stored_upload_the_server_forgot_is_created_again() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let body = data(5000, 72);
        let url = interrupted(
            fresh(&sleeper, store.clone()).resume_key("k"),
            &server.endpoint(),
            Source::bytes(body.clone()),
            2000,
        )
        .await;
        assert!(server.forget(&url));
        server.clear_requests();
        let new = fresh(&sleeper, store.clone())
            .resume_key("k")
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_ne!(new, url);
        let mut expected = vec!["HEAD".to_owned(), "POST".to_owned()];
        expected.extend(patch_run(0, 5000, 1000));
        assert_eq!(trace(&server), expected);
        assert_eq!(server.stored_bytes(&new).unwrap(), body);
        assert!(store.is_empty());
        assert!(sleeper.delays().is_empty());
    })
    .await;
}

#[tokio::test]
async fn terminating_on_cancel_removes_the_entry() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let token = CancellationToken::new();
        let t = token.clone();
        let err = fresh(&sleeper, store.clone())
            .resume_key("k")
            .cancel_token(token)
            .terminate_on_cancel(true)
            .on_progress(move |p| {
                if p.confirmed >= 2000 {
                    t.cancel();
                }
            })
            .upload(&server.endpoint(), Source::bytes(data(5000, 73)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled { upload_url: None }), "{err:?}");
        assert!(store.is_empty(), "no entry points at the deleted upload");
        assert_eq!(server.requests_with(Method::DELETE).len(), 1);
    })
    .await;
}

#[tokio::test]
async fn upload_multiple_with_a_resume_key_uploads_every_source() {
    bounded(async {
        // With one key for every part, the second and third parts (of the same length) found the first
        // part's finished upload in the store and "resumed" it: the result was the first source three
        // times, reported as success.
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let parts: Vec<Vec<u8>> = (0..3).map(|i| data(3000, 78 + i)).collect();
        let url = fresh(&sleeper, store.clone())
            .resume_key("album")
            .parallel_uploads(1)
            .upload_multiple(
                &server.endpoint(),
                parts.iter().map(|p| Source::bytes(p.clone())).collect(),
                Metadata::new(),
            )
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), parts.concat());
        assert_eq!(server.upload_ids().len(), 4, "three parts and the final upload");
        assert!(store.is_empty());
    })
    .await;
}

#[tokio::test]
async fn parts_of_upload_multiple_are_resumed_each_from_its_own_entry() {
    bounded(async {
        // Three parts of the same length under one resume key, one at a time; cancelled when the first
        // is done and the second half-way. Each part must find its own upload again (they used to share
        // one entry, so the first part resumed the second's upload: a corrupted result).
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let parts: Vec<Vec<u8>> = (0..3).map(|i| data(3000, 74 + i)).collect();
        let sources = || parts.iter().map(|p| Source::bytes(p.clone())).collect::<Vec<_>>();
        let token = CancellationToken::new();
        let t = token.clone();
        let err = fresh(&sleeper, store.clone())
            .resume_key("album")
            .parallel_uploads(1)
            .cancel_token(token)
            .on_progress(move |p| {
                if p.confirmed >= 4000 {
                    t.cancel();
                }
            })
            .upload_multiple(&server.endpoint(), sources(), Metadata::new())
            .await
            .unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(store.len(), 2);
        let first_run: Vec<String> = server.upload_ids();
        assert_eq!(first_run.len(), 2);
        server.clear_requests();

        let url = fresh(&sleeper, store.clone())
            .resume_key("album")
            .parallel_uploads(1)
            .upload_multiple(&server.endpoint(), sources(), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), parts.concat());
        let requests = server.requests();
        let heads: Vec<&str> = requests.iter().filter(|r| r.method == Method::HEAD).map(|r| r.path.as_str()).collect();
        for id in &first_run {
            assert!(heads.contains(&format!("/files/{id}").as_str()), "{id} was not resumed: {heads:?}");
        }
        let posts: Vec<String> = requests.iter().filter(|r| r.method == Method::POST).map(super::describe).collect();
        assert_eq!(posts, ["POST partial", "POST final"], "only the third part was created");
        assert!(store.is_empty());
    })
    .await;
}

#[tokio::test]
async fn parallel_parts_are_resumed_after_a_restart() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let store = Arc::new(MemoryStore::new());
        let body = data(8000, 77);
        let token = CancellationToken::new();
        let t = token.clone();
        let err = fresh(&sleeper, store.clone())
            .resume_key("big")
            .cancel_token(token)
            .on_progress(move |p| {
                if p.confirmed >= 3000 {
                    t.cancel();
                }
            })
            .upload_parallel(&server.endpoint(), Source::bytes(body.clone()), 2, Metadata::new())
            .await
            .unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        let created = server.upload_ids();
        assert_eq!(created.len(), 2);
        assert_eq!(store.len(), 2);
        server.clear_requests();

        let url = fresh(&sleeper, store.clone())
            .resume_key("big")
            .upload_parallel(&server.endpoint(), Source::bytes(body.clone()), 2, Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        let posts: Vec<String> = server.requests_with(Method::POST).iter().map(super::describe).collect();
        assert_eq!(posts, ["POST final"], "both parts were resumed");
        assert_eq!(server.requests_with(Method::HEAD).len(), 3, "one per part, one for the final upload");
        assert!(store.is_empty());
    })
    .await;
}
