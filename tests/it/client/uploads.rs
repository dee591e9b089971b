//! Whole uploads: relative `Location`s, forward-only sources of unknown length, checksum trailers,
//! expiry, any 2xx, redacted URLs in errors, and connection reuse.

use std::time::{Duration, SystemTime};

use http::Method;
use tus_client::Source;
use tus_proto::{ChecksumAlgorithm, ChecksumPlacement, ChecksumRequest, Create, Length, UploadOptions};
use tus_tests::proxy::{FaultPlan, FaultProxy};
use tus_tests::server::{DEFAULT_EXTENSIONS, Fault, FaultAction, RelativeMode, TusServer};

use super::{OCTET, UA, assert_headers, bounded, builder, checksum_value, client, create, data, id};

#[tokio::test]
async fn every_relative_location_mode_resolves_to_the_upload() {
    bounded(async {
        for mode in
            [RelativeMode::Absolute, RelativeMode::AbsolutePath, RelativeMode::Relative, RelativeMode::SchemeRelative]
        {
            let server = TusServer::builder().relative_location(mode).start().await;
            let client = client();
            let bytes = data(50_000, 20);
            let created = client.create(&server.endpoint(), &Create::new(Length::Known(50_000))).await.expect("create");
            assert_eq!(created.url, server.upload_url(&id(&created.url)), "{mode:?}");
            assert_eq!(created.url.as_str(), format!("http://{}/files/{}", server.addr(), id(&created.url)));
            let options = UploadOptions::default().chunk_size(20_000);
            client.upload_buffer(&created.url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
            assert_eq!(server.stored_bytes(id(&created.url)).unwrap(), bytes, "{mode:?}");
            for req in server.requests().iter().skip(1) {
                assert_eq!(req.path, created.url.path(), "{mode:?}");
            }
        }
    })
    .await;
}

/// Uploads `bytes` from a forward-only reader into a deferred-length upload with `upload_buffer`.
async fn upload_reader(server: &TusServer, bytes: &[u8], chunk: u64) -> url::Url {
    let client = client();
    let created = client.create(&server.endpoint(), &Create::new(Length::Deferred)).await.expect("create");
    // A pipe, as from stdin: the reader yields small pieces as the writer produces them.
    let (mut writer, reader) = tokio::io::duplex(1000);
    let owned = bytes.to_vec();
    let feeder = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        writer.write_all(&owned).await.expect("feed the pipe");
    });
    let source = Source::reader(reader);
    assert_eq!(source.len(), None);
    let options = UploadOptions::default().chunk_size(chunk);
    let end = client.upload_buffer(&created.url, &source, &options).await.expect("upload_buffer");
    feeder.await.unwrap();
    assert_eq!(end, bytes.len() as u64);
    created.url
}

#[tokio::test]
async fn a_reader_fills_a_deferred_upload_and_declares_the_length_once() {
    bounded(async {
        for (len, expected_patches) in [(10_000usize, 3usize), (8192, 3), (4095, 1), (0, 1)] {
            let server = TusServer::start().await;
            let bytes = data(len, 21);
            let url = upload_reader(&server, &bytes, 4096).await;
            let state = server.upload_state(id(&url)).unwrap();
            assert_eq!(state.length, Some(len as u64), "len {len}");
            assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes, "len {len}");
            let patches = server.requests_with(Method::PATCH);
            assert_eq!(patches.len(), expected_patches, "len {len}");
            let declared: Vec<Option<&str>> = patches.iter().map(|p| p.header("upload-length")).collect();
            let last = declared.len() - 1;
            for (i, d) in declared.iter().enumerate() {
                let want = (i == last).then(|| len.to_string());
                assert_eq!(*d, want.as_deref(), "len {len}, PATCH {i}: Upload-Length only on the last");
            }
            let last_patch = &patches[last];
            let last_len = len - last * 4096;
            let offset = (last * 4096).to_string();
            let length = len.to_string();
            assert_headers(
                last_patch,
                &server,
                &[
                    ("user-agent", UA),
                    ("tus-resumable", "1.0.0"),
                    ("upload-offset", &offset),
                    ("upload-length", &length),
                    ("content-type", OCTET),
                    ("content-length", &last_len.to_string()),
                ],
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_reader_resends_what_the_server_did_not_keep() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(20_000, 22);
        let created = client.create(&server.endpoint(), &Create::new(Length::Deferred)).await.expect("create");
        let source = Source::reader(std::io::Cursor::new(bytes.clone()));
        let options = UploadOptions::default().chunk_size(8192);
        // Partial acceptance, then a connection dropped mid-body: the retained bytes cover both.
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 3000 }));
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 2000 }).nth(2));
        let err = client.upload_buffer(&created.url, &source, &options).await.unwrap_err();
        assert!(matches!(err, tus_client::Error::Http { .. }), "{err:?}");
        assert_eq!(server.upload_state(id(&created.url)).unwrap().offset, 5000);
        let end = client.upload_buffer(&created.url, &source, &options).await.expect("resumed from the reader");
        assert_eq!(end, 20_000);
        assert_eq!(server.stored_bytes(id(&created.url)).unwrap(), bytes);
        assert_eq!(server.upload_state(id(&created.url)).unwrap().length, Some(20_000));
    })
    .await;
}

/// A forward-only source whose confirmed bytes the server then loses fails with `Error::Source`
/// (fatal: retrying cannot bring the bytes back), not as a broken connection.
pub(super) async fn reader_cannot_rewind(server: &TusServer, client: &tus_client::Client) {
    let bytes = data(20_000, 23);
    let url = create(client, server, 20_000).await;
    let source = Source::reader_with_length(std::io::Cursor::new(bytes.clone()), 20_000);
    let options = UploadOptions::default().chunk_size(8192);
    // Confirm 8192 bytes (the reader releases them), then lose them on the server.
    server.inject(Fault::patch(FaultAction::status(503)).nth(2));
    let err = client.upload_buffer(&url, &source, &options).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert!(server.truncate(id(&url), 100));
    let err = client.upload_buffer(&url, &source, &options).await.unwrap_err();
    let tus_client::Error::Source(io) = &err else { panic!("expected Error::Source, got {err:?}") };
    let cause = io.get_ref().and_then(|e| e.downcast_ref::<tus_client::SourceError>());
    assert!(matches!(cause, Some(tus_client::SourceError::CannotRewind { released: 8192, wanted: 100 })), "{io:?}");
    assert_eq!(err.retry_class(), tus_client::RetryClass::Fatal);
}

#[tokio::test]
async fn a_reader_cannot_rewind_past_confirmed_bytes() {
    bounded(async {
        let server = TusServer::start().await;
        reader_cannot_rewind(&server, &client()).await;
    })
    .await;
}

#[tokio::test]
async fn a_file_that_shrank_is_a_source_error() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(50_000, 28);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let source = Source::file(file.path()).unwrap();
        assert_eq!(source.len(), Some(50_000));
        let url = create(&client, &server, 50_000).await;
        std::fs::write(file.path(), &bytes[..30_000]).unwrap();
        let err = client.upload_buffer(&url, &source, &UploadOptions::default()).await.unwrap_err();
        let tus_client::Error::Source(io) = &err else { panic!("expected Error::Source, got {err:?}") };
        let cause = io.get_ref().and_then(|e| e.downcast_ref::<tus_client::SourceError>());
        assert!(matches!(cause, Some(tus_client::SourceError::TooShort { ended: 30_000, needed: 50_000 })), "{io:?}");
        assert_eq!(err.retry_class(), tus_client::RetryClass::Fatal);
        assert!(server.upload_state(id(&url)).unwrap().offset <= 30_000);
    })
    .await;
}

#[tokio::test]
async fn checksum_trailer_reaches_the_server_and_is_verified() {
    bounded(async {
        let mut extensions = DEFAULT_EXTENSIONS.to_vec();
        extensions.push("checksum-trailer");
        let server = TusServer::builder().extensions(&extensions).start().await;
        let client = client();
        let bytes = data(300_000, 24);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 300_000).await;
        let checksum = ChecksumRequest { algorithm: ChecksumAlgorithm::Sha256, placement: ChecksumPlacement::Trailer };
        let patched = client.patch(&url, &source, 0, 100_000, Some(checksum)).await.expect("PATCH with a trailer");
        assert_eq!(patched.offset, 100_000);
        let req = server.requests_with(Method::PATCH).pop().unwrap();
        assert_headers(
            &req,
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("upload-offset", "0"),
                ("content-type", OCTET),
                ("trailer", "Upload-Checksum"),
                ("transfer-encoding", "chunked"),
            ],
        );
        assert_eq!(req.body_len, 100_000);
        let trailers = req.trailers.as_ref().expect("the request carried trailers");
        let expected = checksum_value(&ChecksumAlgorithm::Sha256, &bytes[..100_000]);
        assert_eq!(trailers.get("upload-checksum").and_then(|v| v.to_str().ok()), Some(expected.as_str()));

        // Every algorithm, through upload_buffer.
        let mut start = 100_000usize;
        for alg in [ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha512, ChecksumAlgorithm::Md5] {
            let options = UploadOptions::default().chunk_size(40_000).checksum(alg.clone(), ChecksumPlacement::Trailer);
            server.inject(Fault::patch(FaultAction::status(503)).nth(2));
            server.clear_requests();
            let _ = client.upload_buffer(&url, &source, &options).await;
            let patch = &server.requests_with(Method::PATCH)[0];
            let value = checksum_value(&alg, &bytes[start..start + 40_000]);
            let sent = patch.trailers.as_ref().and_then(|t| t.get("upload-checksum")).and_then(|v| v.to_str().ok());
            assert_eq!(sent, Some(value.as_str()), "{alg:?}");
            start += 40_000;
            assert_eq!(server.upload_state(id(&url)).unwrap().offset, start as u64);
        }
        let options =
            UploadOptions::default().chunk_size(64_000).checksum(ChecksumAlgorithm::Sha1, ChecksumPlacement::Trailer);
        client.upload_buffer(&url, &source, &options).await.expect("upload_buffer with trailers");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    })
    .await;
}

#[tokio::test]
async fn expiry_is_reported_on_creation_and_patch() {
    bounded(async {
        let server = TusServer::builder().expires_in(Duration::from_secs(3600)).start().await;
        let client = client();
        let created = client.create(&server.endpoint(), &Create::new(Length::Known(10))).await.expect("create");
        let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
        let near = |t: SystemTime| {
            let d = in_an_hour.duration_since(t).unwrap_or_else(|e| e.duration());
            d < Duration::from_secs(5)
        };
        assert!(created.expires.is_some_and(near), "{:?}", created.expires);
        let patched = client.patch(&created.url, &Source::bytes(vec![0u8; 10]), 0, 5, None).await.expect("PATCH");
        assert!(patched.expires.is_some_and(near), "{:?}", patched.expires);
    })
    .await;
}

#[tokio::test]
async fn any_2xx_is_success() {
    bounded(async {
        for status in [200, 204] {
            let server = TusServer::builder().ok_status(status).start().await;
            let client = client();
            client.configuration(&server.endpoint()).await.expect("OPTIONS");
            let bytes = data(5000, 25);
            let url = create(&client, &server, 5000).await;
            client
                .upload_buffer(&url, &Source::bytes(bytes.clone()), &UploadOptions::default().chunk_size(2000))
                .await
                .expect("upload");
            assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
            client.terminate(&url).await.expect("DELETE");
        }
    })
    .await;
}

#[tokio::test]
async fn error_messages_never_show_the_query_string() {
    bounded(async {
        let server = TusServer::start().await;
        let client = builder().stall_timeout(Some(Duration::from_millis(300))).build().unwrap();
        let mut endpoint = server.endpoint();
        endpoint.set_query(Some("token=secret"));
        let created = client.create(&endpoint, &Create::new(Length::Known(100_000))).await.expect("create");
        assert_eq!(server.requests()[0].query.as_deref(), Some("token=secret"), "the token is sent");
        let mut url = created.url.clone();
        url.set_query(Some("token=secret"));
        let source = Source::bytes(data(100_000, 26));

        let mut errors = Vec::new();
        server.inject(Fault::post(FaultAction::status(500)));
        errors.push(client.create(&endpoint, &Create::new(Length::Known(1))).await.unwrap_err());
        server.inject(Fault::head(FaultAction::status(200)));
        errors.push(client.info(&url).await.unwrap_err());
        server.inject(Fault::head(FaultAction::Stall));
        errors.push(client.info(&url).await.unwrap_err());
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 10 }));
        errors.push(client.patch(&url, &source, 0, 100_000, None).await.unwrap_err());
        server.inject(Fault::patch(FaultAction::status(409)));
        errors.push(client.upload_buffer(&url, &source, &UploadOptions::default()).await.unwrap_err());
        server.forget(id(&url));
        errors.push(client.info(&url).await.unwrap_err());
        errors.push(client.terminate(&url).await.unwrap_err());
        let mut closed = url::Url::parse("http://127.0.0.1:9/files/x?token=secret").unwrap();
        errors.push(client.info(&closed).await.unwrap_err());
        closed.set_password(Some("hunter2")).unwrap();
        closed.set_username("user").unwrap();
        errors.push(client.info(&closed).await.unwrap_err());

        assert_eq!(errors.len(), 9);
        for err in &errors {
            let mut text = format!("{err} | {err:?}");
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(&format!(" | {s} | {s:?}"));
                source = s.source();
            }
            assert!(!text.contains("secret") && !text.contains("hunter2"), "{text}");
            assert!(err.to_string().contains("127.0.0.1"), "the URL is still named: {err}");
        }
        let shown = format!("http://{}/files/?…", server.addr());
        assert!(errors[0].to_string().contains(&shown), "{} should name {shown}", errors[0]);
        let shown = format!("{}?…", created.url);
        assert!(errors[1].to_string().contains(&shown), "{} should name {shown}", errors[1]);
        assert!(errors[8].to_string().contains("http://user:…@127.0.0.1:9/files/x?…"), "{}", errors[8]);
    })
    .await;
}

#[tokio::test]
async fn sequential_patches_reuse_one_connection() {
    bounded(async {
        let server = TusServer::start().await;
        let proxy = FaultProxy::start(server.addr(), FaultPlan::clean()).await;
        let endpoint = proxy.url("/files/");
        let bytes = data(20 * 5000, 27);
        let source = Source::bytes(bytes.clone());

        let client = client();
        let url = client.create(&endpoint, &Create::new(Length::Known(100_000))).await.expect("create").url;
        assert_eq!(url.port(), Some(proxy.addr().port()), "the Location names the proxy");
        for i in 0..20u64 {
            let patched = client.patch(&url, &source, i * 5000, 5000, None).await.expect("PATCH");
            assert_eq!(patched.offset, (i + 1) * 5000);
        }
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        assert_eq!(server.requests_with(Method::PATCH).len(), 20);
        assert!(proxy.connections() <= 2, "{} connections for 21 requests", proxy.connections());

        // Control: without an idle pool every request opens a connection, so the count is real.
        let before = proxy.connections();
        let client = builder().pool_max_idle_per_host(0).build().unwrap();
        let url = client.create(&endpoint, &Create::new(Length::Known(100_000))).await.expect("create").url;
        for i in 0..5u64 {
            client.patch(&url, &source, i * 5000, 5000, None).await.expect("PATCH");
        }
        assert_eq!(proxy.connections() - before, 6);
    })
    .await;
}

/// A source of unknown length (a reader) sent to an upload whose length the server already knows must
/// end there: `upload_buffer` checks before the chunk that completes the upload, so a longer reader is
/// refused instead of being cut silently. A file or memory source longer than the upload is refused too
/// (`LengthMismatch`).
#[tokio::test]
async fn a_reader_longer_than_the_upload_is_refused() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let url = create(&client, &server, 5000).await;
        // Memory of the same length is refused...
        let err = client.upload_buffer(&url, &Source::bytes(data(10_000, 29)), &UploadOptions::default()).await;
        assert!(err.as_ref().is_err_and(tus_client::Error::is_protocol), "{err:?}");
        // ...and so should be a reader that goes on past the length.
        let reader = Source::reader(std::io::Cursor::new(data(10_000, 29)));
        let result = client.upload_buffer(&url, &reader, &UploadOptions::default()).await;
        assert!(result.is_err(), "a 10000-byte reader was cut to the upload's 5000 bytes: {result:?}");
        let err = result.unwrap_err();
        assert!(err.to_string().contains("source") && format!("{err:?}").contains("TooLong"), "{err:?}");
        assert_ne!(server.upload_state(&url).unwrap().offset, 5000, "the upload must not be completed");
    })
    .await;
}
