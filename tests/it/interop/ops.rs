//! Every tus-client operation against rustus 0.5.10 and @tus/server 2.4.5, as each supports it.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use tus_client::{RetryClass, Source};
use tus_proto::{
    ChecksumAlgorithm, ChecksumPlacement, ChecksumRequest, Create, Extension, Length, Metadata, UploadConcat,
    UploadOptions,
};
use tus_tests::real::{NodeOptions, ServerKind};

use super::{assert_stored, both, bounded, chunk, client, data, node, start};

both!(
    options_reports_versions_extensions_and_checksums,
    metadata_round_trip,
    deferred_length_from_a_reader,
    creation_with_upload,
    head_reports_offset_length_and_metadata,
    patch_in_chunks_with_upload_buffer,
    terminate_then_404,
);

async fn options_reports_versions_extensions_and_checksums(kind: ServerKind) {
    let server = start(kind).await;
    let config = client().configuration(&server.endpoint()).await.expect("OPTIONS");
    assert_eq!(config.versions, ["1.0.0"], "{kind}");
    assert!(config.speaks_1_0_0());
    assert_eq!(config.max_size, None, "{kind}");
    let mut common = vec![
        Extension::Creation,
        Extension::CreationWithUpload,
        Extension::CreationDeferLength,
        Extension::Termination,
    ];
    match kind {
        ServerKind::Rustus => {
            common.extend([Extension::Concatenation, Extension::Checksum, Extension::Other("getting".into())]);
            assert_eq!(
                config.checksum_algorithms,
                [ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha512]
            );
            assert_eq!(config.strongest_checksum(), Some(ChecksumAlgorithm::Sha512));
        }
        ServerKind::Node => {
            common.push(Extension::Expiration);
            assert!(config.checksum_algorithms.is_empty());
            assert!(!config.supports(&Extension::Concatenation) && !config.supports(&Extension::Checksum));
        }
    }
    let mut got = config.extensions.clone();
    got.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    common.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(got, common, "{kind}");
}

async fn metadata_round_trip(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let mut metadata = Metadata::new();
    metadata.insert("filename", "résumé ☃ 日本.txt");
    metadata.insert("filetype", "text/plain");
    metadata.insert_key("is_confidential");
    metadata.insert("blob", [0xffu8, 0xfe, 0x00, 0x80]);
    let created =
        client.create(&server.endpoint(), &Create::new(Length::Known(5)).metadata(metadata)).await.expect("create");
    let read = client.metadata(&created.url).await.expect("metadata");
    assert_eq!(read.get("filename"), Some("résumé ☃ 日本.txt".as_bytes()), "{kind}: UTF-8 value");
    assert_eq!(read.get("filetype"), Some(&b"text/plain"[..]), "{kind}");
    match kind {
        // @tus/server keeps the bare key as a bare key, but decodes every value into a JavaScript string
        // as UTF-8 and re-encodes it on HEAD: the bytes that are not UTF-8 come back as U+FFFD.
        ServerKind::Node => {
            assert_eq!(read.entry("is_confidential"), Some(None), "{kind}: key-only entry");
            let lossy = String::from_utf8_lossy(&[0xffu8, 0xfe, 0x00, 0x80]).into_owned();
            assert_eq!(read.get("blob"), Some(lossy.as_bytes()), "{kind}: a non-UTF-8 value is mangled");
            assert_eq!(read.len(), 4);
        }
        // rustus decodes values into UTF-8 strings when storing them: it drops the key-only entry and
        // the value that is not UTF-8 (protocol.md §2), and echoes the rest.
        ServerKind::Rustus => {
            assert!(!read.contains_key("is_confidential"), "{kind}: {read:?}");
            assert!(!read.contains_key("blob"), "{kind}: {read:?}");
            assert_eq!(read.len(), 2, "{kind}: {read:?}");
        }
    }
    client.upload_buffer(&created.url, &Source::bytes(&b"hello"[..]), &UploadOptions::default()).await.unwrap();
    assert_stored(&server, &created.url, b"hello");
    // Metadata survives completion.
    assert_eq!(client.metadata(&created.url).await.unwrap().get("filetype"), Some(&b"text/plain"[..]));
}

async fn deferred_length_from_a_reader(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let len = (2 * chunk(kind) + 12_345) as usize;
    let bytes = data(len, 40);
    let created = client.create(&server.endpoint(), &Create::new(Length::Deferred)).await.expect("create deferred");
    let info = client.info(&created.url).await.expect("HEAD");
    assert!(info.deferred && info.length.is_none() && info.offset == 0, "{kind}: {info:?}");
    let source = Source::reader(std::io::Cursor::new(bytes.clone()));
    let options = UploadOptions::default().chunk_size(chunk(kind));
    let end = client.upload_buffer(&created.url, &source, &options).await.expect("upload_buffer from a reader");
    assert_eq!(end, len as u64);
    let info = client.info(&created.url).await.expect("HEAD");
    assert_eq!((info.offset, info.length, info.deferred), (len as u64, Some(len as u64), false), "{kind}");
    assert_stored(&server, &created.url, &bytes);
}

async fn creation_with_upload(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let bytes = data(600_000, 41);
    let source = Source::bytes(bytes.clone());
    let create = Create::new(Length::Known(600_000));
    let created =
        client.create_with_upload(&server.endpoint(), create, &source, 100_000).await.expect("POST with data");
    assert_eq!(created.offset, 100_000, "{kind}: the server keeps the body");
    assert_eq!(client.offset(&created.url).await.unwrap(), 100_000);
    let options = UploadOptions::default().chunk_size(chunk(kind));
    client.upload_buffer(&created.url, &source, &options).await.expect("upload_buffer");
    assert_stored(&server, &created.url, &bytes);
}

async fn head_reports_offset_length_and_metadata(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let mut metadata = Metadata::new();
    metadata.insert("filename", "a.bin");
    let created =
        client.create(&server.endpoint(), &Create::new(Length::Known(1000)).metadata(metadata)).await.expect("create");
    let info = client.info(&created.url).await.expect("HEAD");
    assert_eq!((info.offset, info.length, info.deferred), (0, Some(1000), false), "{kind}");
    let bytes = data(1000, 42);
    let source = Source::bytes(bytes.clone());
    let patched = client.patch(&created.url, &source, 0, 400, None).await.expect("PATCH");
    assert_eq!(patched.offset, 400);
    let info = client.info(&created.url).await.expect("HEAD");
    assert_eq!((info.offset, info.length), (400, Some(1000)), "{kind}");
    assert_eq!(info.metadata.as_ref().and_then(|m| m.get("filename")), Some(&b"a.bin"[..]));
    assert!(info.concat.is_none() && !info.is_complete());
    // A PATCH at a stale offset is refused with 409, a resync.
    let err = client.patch(&created.url, &source, 0, 400, None).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::CONFLICT), "{kind}: {err}");
    assert_eq!(err.retry_class(), RetryClass::Resync);
    assert_eq!(client.offset(&created.url).await.unwrap(), 400);
    client.patch(&created.url, &source, 400, 600, None).await.expect("PATCH the rest");
    assert!(client.info(&created.url).await.unwrap().is_complete());
    assert_stored(&server, &created.url, &bytes);
}

async fn patch_in_chunks_with_upload_buffer(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let len = 1_500_000usize;
    let bytes = data(len, 43);
    let created = client.create(&server.endpoint(), &Create::new(Length::Known(len as u64))).await.expect("create");
    let options = UploadOptions::default().chunk_size(chunk(kind) / 2);
    let end = client.upload_buffer(&created.url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
    assert_eq!(end, len as u64);
    assert_stored(&server, &created.url, &bytes);
    // From a file, too.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let created = client.create(&server.endpoint(), &Create::new(Length::Known(len as u64))).await.expect("create");
    let options = UploadOptions::default().chunk_size(chunk(kind));
    client.upload_buffer(&created.url, &Source::file(file.path()).unwrap(), &options).await.expect("upload_buffer");
    assert_stored(&server, &created.url, &bytes);
}

async fn terminate_then_404(kind: ServerKind) {
    let server = start(kind).await;
    let client = client();
    let created = client.create(&server.endpoint(), &Create::new(Length::Known(10))).await.expect("create");
    client.patch(&created.url, &Source::bytes(vec![7u8; 10]), 0, 4, None).await.expect("PATCH");
    client.terminate(&created.url).await.expect("DELETE");
    let err = client.info(&created.url).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{kind}: {err}");
    assert_eq!(err.retry_class(), RetryClass::Fatal);
    assert!(server.stored_bytes(&created.url).is_err(), "{kind}: the bytes are gone");
    let err = client.patch(&created.url, &Source::bytes(vec![7u8; 10]), 4, 6, None).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{kind}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_concatenation() {
    bounded(async {
        let server = start(ServerKind::Rustus).await;
        let client = client();
        let parts_data = [data(300_000, 44), data(1, 45), data(123_456, 46)];
        let mut parts = Vec::new();
        for bytes in &parts_data {
            let create = Create::new(Length::Known(bytes.len() as u64)).partial(true);
            let created = client.create(&server.endpoint(), &create).await.expect("create partial");
            let options = UploadOptions::default().chunk_size(chunk(ServerKind::Rustus));
            client.upload_buffer(&created.url, &Source::bytes(bytes.clone()), &options).await.expect("upload part");
            assert_eq!(client.info(&created.url).await.unwrap().concat, Some(UploadConcat::Partial));
            parts.push(created.url);
        }
        let mut metadata = Metadata::new();
        metadata.insert("filename", "joined.bin");
        let created = client.concatenate(&server.endpoint(), &parts, &metadata).await.expect("concatenate");
        let joined = parts_data.concat();
        assert_stored(&server, &created.url, &joined);
        let info = client.info(&created.url).await.expect("HEAD final");
        assert!(info.is_complete() && info.offset == joined.len() as u64, "{info:?}");
        assert!(matches!(&info.concat, Some(UploadConcat::Final(p)) if p.len() == 3), "{info:?}");
        assert_eq!(info.metadata.unwrap().get("filename"), Some(&b"joined.bin"[..]));
        // A final upload takes no PATCH.
        let err = client.patch(&created.url, &Source::bytes(vec![0u8; 1]), joined.len() as u64, 1, None).await;
        assert!(err.is_err(), "PATCH on a final upload: {err:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_checksums_of_every_algorithm() {
    bounded(async {
        let server = start(ServerKind::Rustus).await;
        let client = client();
        let algorithms =
            [ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha512];
        let piece = 200_000u64;
        let bytes = data(4 * piece as usize, 47);
        let source = Source::bytes(bytes.clone());
        let created = client.create(&server.endpoint(), &Create::new(Length::Known(4 * piece))).await.expect("create");
        // A client whose hook corrupts every Upload-Checksum (the digest of other bytes).
        let corrupting = tus_client::Client::builder()
            .on_request(|req| {
                if let Some(value) = req.headers().get("upload-checksum").and_then(|v| v.to_str().ok()) {
                    let alg = value.split(' ').next().unwrap_or_default().to_owned();
                    let wrong = tus_client::tus_proto::header::UploadChecksum {
                        algorithm: alg.parse().expect("algorithm"),
                        digest: vec![0u8; digest_len(&alg)],
                    };
                    use tus_client::tus_proto::header::TusHeader as _;
                    req.headers_mut().insert("upload-checksum", wrong.encode());
                }
            })
            .build()
            .unwrap();
        for (i, alg) in algorithms.iter().enumerate() {
            let offset = i as u64 * piece;
            let checksum = ChecksumRequest { algorithm: alg.clone(), placement: ChecksumPlacement::Header };
            // A wrong digest: rustus answers 417 (not 460), nothing is stored, and it is a resync.
            let err = corrupting.patch(&created.url, &source, offset, piece, Some(checksum.clone())).await.unwrap_err();
            assert_eq!(err.status(), Some(StatusCode::EXPECTATION_FAILED), "{alg:?}: {err}");
            assert_eq!(err.retry_class(), RetryClass::Resync);
            assert_eq!(client.offset(&created.url).await.unwrap(), offset, "{alg:?}: nothing stored");
            let patched = client.patch(&created.url, &source, offset, piece, Some(checksum)).await;
            assert_eq!(patched.expect("PATCH with a right checksum").offset, offset + piece, "{alg:?}");
        }
        assert_stored(&server, &created.url, &bytes);

        // The same through upload_buffer, a checksum on every chunk.
        let created = client.create(&server.endpoint(), &Create::new(Length::Known(4 * piece))).await.expect("create");
        let options =
            UploadOptions::default().chunk_size(piece).checksum(ChecksumAlgorithm::Sha256, ChecksumPlacement::Header);
        client.upload_buffer(&created.url, &source, &options).await.expect("upload_buffer with checksums");
        assert_stored(&server, &created.url, &bytes);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_body_limit_answers_413() {
    bounded(async {
        let server = start(ServerKind::Rustus).await;
        let client = client();
        let bytes = data(4 * 1024 * 1024, 48);
        let created =
            client.create(&server.endpoint(), &Create::new(Length::Known(bytes.len() as u64))).await.expect("create");
        let err =
            client.patch(&created.url, &Source::bytes(bytes.clone()), 0, bytes.len() as u64, None).await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Fatal);
        assert_eq!(client.offset(&created.url).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_expiration() {
    bounded(async {
        let server = node(NodeOptions { expiration_ms: Some(3_600_000), ..NodeOptions::default() }).await;
        let client = client();
        let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
        let near = |t: SystemTime| {
            let d = in_an_hour.duration_since(t).unwrap_or_else(|e| e.duration());
            d < Duration::from_secs(10)
        };
        let created = client.create(&server.endpoint(), &Create::new(Length::Known(10))).await.expect("create");
        assert!(created.expires.is_some_and(near), "Upload-Expires on POST: {:?}", created.expires);
        let source = Source::bytes(vec![1u8; 10]);
        let patched = client.patch(&created.url, &source, 0, 5, None).await.expect("PATCH");
        assert!(patched.expires.is_some_and(near), "Upload-Expires on PATCH: {:?}", patched.expires);
        // @tus/server never sends Upload-Expires on HEAD (its HeadHandler sets only Upload-Offset,
        // Upload-Length or Upload-Defer-Length, Upload-Metadata and Cache-Control), so `info` cannot
        // report it: the expiry is known from POST and PATCH answers only.
        let info = client.info(&created.url).await.expect("HEAD");
        assert_eq!(info.expires, None);
        // Nor on the last PATCH: a finished upload no longer expires.
        let patched = client.patch(&created.url, &source, 5, 5, None).await.expect("PATCH");
        assert_eq!(patched.expires, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_relative_location() {
    bounded(async {
        let server = node(NodeOptions { relative_location: true, ..NodeOptions::default() }).await;
        let client = client();
        let bytes = data(2_500_000, 49);
        let created =
            client.create(&server.endpoint(), &Create::new(Length::Known(bytes.len() as u64))).await.expect("create");
        // `Location: /files/<id>` resolved against the creation URL.
        let id = tus_tests::real::upload_id(&created.url).unwrap();
        assert_eq!(created.url.as_str(), format!("http://{}/files/{id}", server.addr()));
        let options = UploadOptions::default().chunk_size(1024 * 1024);
        client.upload_buffer(&created.url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
        assert_stored(&server, &created.url, &bytes);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_refuses_concatenation() {
    bounded(async {
        let server = start(ServerKind::Node).await;
        let err = client().create(&server.endpoint(), &Create::new(Length::Known(10)).partial(true)).await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::NOT_IMPLEMENTED), "{err}");
        assert_eq!(err.retry_class(), RetryClass::Fatal, "501 Not Implemented will not change on a retry");
    })
    .await;
}

fn digest_len(algorithm: &str) -> usize {
    match algorithm {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        "sha512" => 64,
        other => panic!("unknown algorithm {other}"),
    }
}
