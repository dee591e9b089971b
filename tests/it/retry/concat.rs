//! Concatenation: `upload_parallel` (one source split into parts) and `upload_multiple` (aiotus's,
//! several sources, a limited number at once), the final POST, and servers without concatenation.

use std::collections::HashMap;

use http::Method;
use tus_retry::{Error, Metadata, Source};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{ProgressLog, RecordingSleeper, bounded, data, uploader};

/// The part URLs of the final POST, in order.
fn final_parts(server: &TusServer) -> Vec<String> {
    let posts = server.requests_with(Method::POST);
    let finals: Vec<_> = posts.iter().filter_map(|r| r.header("upload-concat")?.strip_prefix("final;")).collect();
    assert_eq!(finals.len(), 1, "one final POST");
    finals[0].split(' ').map(str::to_owned).collect()
}

fn id(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn upload_parallel_with_four_parts() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let body = data(40_001, 80);
        let progress = ProgressLog::default();
        let mut metadata = Metadata::new();
        metadata.insert("filename", "big.bin");
        let url = uploader(&sleeper, 4000)
            .on_progress(progress.callback())
            .upload_parallel(&server.endpoint(), Source::bytes(body.clone()), 4, metadata)
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);

        let requests = server.requests();
        assert_eq!(requests[0].method, Method::OPTIONS, "concatenation support is checked first");
        let partials: Vec<_> = requests
            .iter()
            .filter(|r| r.method == Method::POST && r.header("upload-concat") == Some("partial"))
            .collect();
        assert_eq!(partials.len(), 4);
        assert!(partials.iter().all(|r| r.header("upload-metadata").is_none()), "parts carry no metadata");
        // The final POST: the parts in order, the metadata, no length, and it comes last but for a HEAD.
        let finals =
            server.requests_with(Method::POST).into_iter().filter(|r| r.header("upload-concat") != Some("partial"));
        let fin = finals.last().unwrap();
        assert_eq!(fin.header("upload-metadata"), Some("filename YmlnLmJpbg=="));
        assert_eq!(fin.header("upload-length"), None);
        let parts = final_parts(&server);
        assert_eq!(parts.len(), 4);
        let bounds = [0, 10_000, 20_000, 30_000, 40_001];
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(server.stored_bytes(id(part)).unwrap(), &body[bounds[i]..bounds[i + 1]], "part {i}");
            assert_eq!(server.upload_state(id(part)).unwrap().concat.as_deref(), Some("partial"));
        }
        let last = requests.last().unwrap();
        assert_eq!((last.method.clone(), last.path.as_str()), (Method::HEAD, url.path()), "the result is checked");
        progress.assert_sane(40_001);
    })
    .await;
}

#[tokio::test]
async fn upload_multiple_runs_at_most_two_at_once() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        let sources: Vec<Vec<u8>> = [3000, 5500, 1, 4000, 2500].iter().zip(81..).map(|(n, s)| data(*n, s)).collect();
        let progress = ProgressLog::default();
        let mut metadata = Metadata::new();
        metadata.insert("name", "album").insert_key("public");
        let url = uploader(&sleeper, 1000)
            .parallel_uploads(2)
            .on_progress(progress.callback())
            .upload_multiple(&server.endpoint(), sources.iter().map(|s| Source::bytes(s.clone())).collect(), metadata)
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), sources.concat());
        progress.assert_sane(sources.iter().map(|s| s.len() as u64).sum());

        // The final POST lists the parts in the order of the sources, and carries the metadata.
        let parts = final_parts(&server);
        for (part, source) in parts.iter().zip(&sources) {
            assert_eq!(&server.stored_bytes(id(part)).unwrap(), source);
        }
        let fin = server
            .requests_with(Method::POST)
            .into_iter()
            .find(|r| r.header("upload-concat").is_some_and(|v| v.starts_with("final;")));
        assert_eq!(fin.unwrap().header("upload-metadata"), Some("name YWxidW0=,public"));

        // Concurrency from the log: a part lives from its POST (ids are given in POST order) to the
        // last request on its URL. At most two at once, and two did overlap.
        let requests = server.requests();
        let ids = server.upload_ids();
        let mut posts = requests.iter().filter(|r| r.header("upload-concat") == Some("partial")).map(|r| r.seq);
        let mut spans: HashMap<String, (u64, u64)> = HashMap::new();
        for id in &ids[..5] {
            let start = posts.next().unwrap();
            let end = requests.iter().filter(|r| r.path.ends_with(id.as_str())).map(|r| r.seq).max().unwrap();
            spans.insert(id.clone(), (start, end));
        }
        let max_live =
            requests.iter().map(|r| spans.values().filter(|(a, b)| *a <= r.seq && r.seq <= *b).count()).max().unwrap();
        assert_eq!(max_live, 2, "{spans:?}");
        assert!(sleeper.delays().is_empty());
    })
    .await;
}

#[tokio::test]
async fn parts_retry_on_their_own() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(503)).nth(3).times(2));
        server.inject(Fault::patch(FaultAction::LoseResponse).nth(9));
        server.inject(Fault::post(FaultAction::status(500)).nth(2));
        let body = data(30_000, 90);
        let url = uploader(&sleeper, 2000)
            .upload_parallel(&server.endpoint(), Source::bytes(body.clone()), 3, Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(server.faults_fired(), 4);
        assert_eq!(sleeper.delays().len(), 4);
    })
    .await;
}

#[tokio::test]
async fn a_failing_part_fails_the_whole() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::patch(FaultAction::status(403)).nth(2));
        let err = uploader(&sleeper, 1000)
            .upload_parallel(&server.endpoint(), Source::bytes(data(20_000, 91)), 2, Metadata::new())
            .await
            .unwrap_err();
        assert_eq!(super::status_of(&err), Some(403));
        assert!(err.upload_url().is_some(), "the failed part's URL");
        assert!(server.requests_with(Method::POST).iter().all(|r| r.header("upload-concat") == Some("partial")));
    })
    .await;
}

#[tokio::test]
async fn a_server_without_concatenation_is_refused_before_any_post() {
    bounded(async {
        let server = TusServer::builder().extensions(&["creation", "termination", "checksum"]).start().await;
        let sleeper = RecordingSleeper::new();
        let err = uploader(&sleeper, 1000)
            .upload_parallel(&server.endpoint(), Source::bytes(data(5000, 92)), 4, Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "concatenation", .. }), "{err:?}");
        let err = uploader(&sleeper, 1000)
            .upload_multiple(
                &server.endpoint(),
                vec![Source::bytes(data(10, 93)), Source::bytes(data(10, 94))],
                Metadata::new(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { extension: "concatenation", .. }), "{err:?}");
        assert_eq!(super::trace(&server), ["OPTIONS", "OPTIONS"]);

        // Usage errors: a reader cannot be split, and there must be at least one source.
        let err = uploader(&sleeper, 1000)
            .upload_parallel(
                &server.endpoint(),
                Source::reader(std::io::Cursor::new(vec![1u8; 10])),
                2,
                Metadata::new(),
            )
            .await;
        assert!(matches!(err, Err(Error::Usage(_))), "{err:?}");
        let err = uploader(&sleeper, 1000).upload_multiple(&server.endpoint(), vec![], Metadata::new()).await;
        assert!(matches!(err, Err(Error::Usage(_))), "{err:?}");
        assert_eq!(server.requests().len(), 2, "nothing more was sent");
    })
    .await;
}
