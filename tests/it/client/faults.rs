//! Injected faults: each error's predicate and retry class, and the upload going on afterwards.

use std::time::{Duration, Instant, SystemTime};

use http::{Method, StatusCode};
use tus_client::{Error, RetryClass, Source};
use tus_proto::{ChecksumAlgorithm, ChecksumPlacement, ChecksumRequest, Create, Length, UploadOptions};
use tus_tests::server::{Fault, FaultAction, TusServer, http_date};

use super::{bounded, builder, client, create, data, id};

fn patch_offsets(server: &TusServer) -> Vec<u64> {
    server
        .requests_with(Method::PATCH)
        .iter()
        .map(|r| r.header("upload-offset").expect("Upload-Offset").parse().unwrap())
        .collect()
}

#[track_caller]
fn assert_status(err: &Error, status: u16, class: RetryClass) {
    assert_eq!(err.status(), Some(StatusCode::from_u16(status).unwrap()), "{err}");
    assert_eq!(err.retry_class(), class, "{err}");
    assert!(!err.is_timeout() && !err.is_connect() && !err.is_protocol() && !err.is_tls(), "{err}");
}

#[tokio::test]
async fn dropped_mid_body_is_transient_and_upload_buffer_resumes_from_the_server_offset() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(300_000, 10);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, bytes.len() as u64).await;
        server.inject(Fault::patch(FaultAction::DropMidBody { after: 70_000 }));

        let err = client.upload_buffer(&url, &source, &UploadOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Http { .. }), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Transient);
        assert!(err.status().is_none() && !err.is_timeout() && !err.is_connect(), "{err}");
        assert_eq!(server.faults_fired(), 1);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes[..70_000]);

        server.clear_requests();
        let end = client.upload_buffer(&url, &source, &UploadOptions::default()).await.expect("resumed");
        assert_eq!(end, 300_000);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        let methods: Vec<Method> = server.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, [Method::HEAD, Method::PATCH]);
        assert_eq!(patch_offsets(&server), [70_000]);
    })
    .await;
}

#[tokio::test]
async fn locked_423_is_transient() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(10_000, 11);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 10_000).await;
        server.inject(Fault::patch(FaultAction::status(423)));
        let err = client.patch(&url, &source, 0, 10_000, None).await.unwrap_err();
        assert_status(&err, 423, RetryClass::Transient);
        assert_eq!(err.retry_after(), None);
        assert_eq!(server.upload_state(id(&url)).unwrap().offset, 0);
        // upload_buffer does not retry: it returns the first error...
        server.inject(Fault::patch(FaultAction::status(423)));
        let err = client.upload_buffer(&url, &source, &UploadOptions::default()).await.unwrap_err();
        assert_status(&err, 423, RetryClass::Transient);
        // ...and works once the lock is gone.
        client.upload_buffer(&url, &source, &UploadOptions::default()).await.expect("upload_buffer");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    })
    .await;
}

#[tokio::test]
async fn conflict_409_is_resync() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(10_000, 12);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 10_000).await;
        client.patch(&url, &source, 0, 4000, None).await.expect("PATCH");

        // The server's own 409: a PATCH at an offset it does not hold.
        let err = client.patch(&url, &source, 1000, 1000, None).await.unwrap_err();
        assert_status(&err, 409, RetryClass::Resync);
        // An injected 409 carrying the true offset.
        server.inject(Fault::patch(FaultAction::conflict()));
        let err = client.patch(&url, &source, 4000, 1000, None).await.unwrap_err();
        assert_status(&err, 409, RetryClass::Resync);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes[..4000]);

        // Resync: upload_buffer asks first (HEAD) and goes on from 4000.
        server.clear_requests();
        client.upload_buffer(&url, &source, &UploadOptions::default()).await.expect("upload_buffer");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        assert_eq!(patch_offsets(&server), [4000]);
    })
    .await;
}

#[tokio::test]
async fn partial_acceptance_is_handled_inside_upload_buffer() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(10_000, 13);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 10_000).await;

        // One PATCH: the answer tells how much was kept.
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 500 }));
        let patched = client.patch(&url, &source, 0, 4096, None).await.expect("PATCH");
        assert_eq!(patched.offset, 500);

        server.clear_requests();
        server.inject(Fault::patch(FaultAction::AcceptPartial { keep: 1000 }).times(2));
        let options = UploadOptions::default().chunk_size(4096);
        let end = client.upload_buffer(&url, &source, &options).await.expect("upload_buffer");
        assert_eq!(end, 10_000);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        assert_eq!(patch_offsets(&server), [500, 1500, 2500, 6596]);
        assert_eq!(server.requests_with(Method::HEAD).len(), 1, "partial acceptance needs no HEAD");
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_transient_and_carry_retry_after() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let source = Source::bytes(data(1000, 14));
        let url = create(&client, &server, 1000).await;
        for code in [500, 503] {
            server.inject(Fault::patch(FaultAction::status_with(code, &[("Retry-After", "7")])));
            let err = client.patch(&url, &source, 0, 1000, None).await.unwrap_err();
            assert_status(&err, code, RetryClass::Transient);
            assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err}");
        }
        // On other requests too, and without Retry-After.
        server.inject(Fault::post(FaultAction::status_with(503, &[("Retry-After", "7")])));
        let err = client.create(&server.endpoint(), &Create::new(Length::Known(1))).await.unwrap_err();
        assert_status(&err, 503, RetryClass::Transient);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        server.inject(Fault::head(FaultAction::status(502)));
        let err = client.info(&url).await.unwrap_err();
        assert_status(&err, 502, RetryClass::Transient);
        assert_eq!(err.retry_after(), None);
        // Retry-After as an HTTP date.
        let at = http_date(SystemTime::now() + Duration::from_secs(60));
        server.inject(Fault::patch(FaultAction::status_with(503, &[("Retry-After", &at)])));
        let err = client.patch(&url, &source, 0, 1000, None).await.unwrap_err();
        let after = err.retry_after().expect("a Retry-After date");
        assert!(after > Duration::from_secs(55) && after <= Duration::from_secs(60), "{after:?}");
        assert_eq!(server.upload_state(id(&url)).unwrap().offset, 0);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_stall_timeout() {
    bounded(async {
        let server = TusServer::start().await;
        let stall = Duration::from_millis(300);
        let client = builder().stall_timeout(Some(stall)).build().unwrap();
        let bytes = data(100_000, 15);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 100_000).await;

        #[track_caller]
        fn check(err: &Error, started: Instant, stall: Duration) {
            let took = started.elapsed();
            assert!(err.is_timeout(), "{err:?}");
            assert!(matches!(err, Error::Timeout { after, .. } if *after == stall), "{err:?}");
            assert_eq!(err.retry_class(), RetryClass::Transient);
            assert!(took >= stall && took < Duration::from_secs(5), "took {took:?}");
        }

        server.inject(Fault::patch(FaultAction::Stall));
        let started = Instant::now();
        let err = client.patch(&url, &source, 0, 100_000, None).await.unwrap_err();
        check(&err, started, stall);
        assert!(err.to_string().contains("timed out"), "{err}");

        server.inject(Fault::head(FaultAction::Stall));
        let started = Instant::now();
        check(&client.info(&url).await.unwrap_err(), started, stall);

        server.inject(Fault::options(FaultAction::Stall));
        let started = Instant::now();
        check(&client.configuration(&server.endpoint()).await.unwrap_err(), started, stall);

        server.inject(Fault::post(FaultAction::Stall));
        let started = Instant::now();
        check(&client.create(&server.endpoint(), &Create::new(Length::Known(1))).await.unwrap_err(), started, stall);

        // The upload is untouched and goes on afterwards.
        client.upload_buffer(&url, &source, &UploadOptions::default()).await.expect("upload_buffer");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_stops_reading_the_body_times_out_and_the_upload_resumes() {
    bounded(async {
        let server = TusServer::start().await;
        let stall = Duration::from_millis(300);
        let client = builder().stall_timeout(Some(stall)).build().unwrap();
        // Larger than what loopback socket buffers and hyper hold, so the writer blocks.
        let len = 32 * 1024 * 1024;
        let bytes = data(len, 16);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, len as u64).await;
        server.inject(Fault::patch(FaultAction::StallMidBody { after: 100_000 }));
        let started = Instant::now();
        let options = UploadOptions::default().chunk_size(len as u64);
        let err = client.upload_buffer(&url, &source, &options).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Transient);
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        assert_eq!(server.upload_state(id(&url)).unwrap().offset, 100_000);

        server.clear_requests();
        client.upload_buffer(&url, &source, &options).await.expect("resumed");
        assert!(server.stored_bytes(id(&url)).unwrap() == bytes, "stored bytes differ");
        assert_eq!(patch_offsets(&server), [100_000]);
    })
    .await;
}

#[tokio::test]
async fn gone_uploads_are_fatal() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let url = create(&client, &server, 10).await;
        let unknown = server.upload_url("nosuchupload");
        let err = client.info(&unknown).await.unwrap_err();
        assert_status(&err, 404, RetryClass::Fatal);
        let err = client.offset(&unknown).await.unwrap_err();
        assert_status(&err, 404, RetryClass::Fatal);
        let err = client.patch(&unknown, &Source::bytes(&b"x"[..]), 0, 1, None).await.unwrap_err();
        assert_status(&err, 404, RetryClass::Fatal);
        // upload_buffer stops at the 404 HEAD.
        let err =
            client.upload_buffer(&unknown, &Source::bytes(&b"x"[..]), &UploadOptions::default()).await.unwrap_err();
        assert_status(&err, 404, RetryClass::Fatal);

        assert!(server.expire(id(&url)));
        let err = client.info(&url).await.unwrap_err();
        assert_status(&err, 410, RetryClass::Fatal);
    })
    .await;
}

#[tokio::test]
async fn checksum_mismatch_460_is_resync() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(5000, 17);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 5000).await;
        let checksum = ChecksumRequest { algorithm: ChecksumAlgorithm::Sha1, placement: ChecksumPlacement::Header };
        server.inject(Fault::patch(FaultAction::ChecksumMismatch));
        let err = client.patch(&url, &source, 0, 5000, Some(checksum.clone())).await.unwrap_err();
        assert_status(&err, 460, RetryClass::Resync);
        assert_eq!(server.upload_state(id(&url)).unwrap().offset, 0, "a mismatching chunk is discarded");
        client.patch(&url, &source, 0, 5000, Some(checksum)).await.expect("the same range again");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    })
    .await;
}

#[tokio::test]
async fn body_too_large_413_is_fatal() {
    bounded(async {
        let server = TusServer::builder().body_limit(4096).start().await;
        let client = client();
        let bytes = data(10_000, 18);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 10_000).await;
        let err = client.patch(&url, &source, 0, 8192, None).await.unwrap_err();
        assert_status(&err, 413, RetryClass::Fatal);
        let err = client.upload_buffer(&url, &source, &UploadOptions::default()).await.unwrap_err();
        assert_status(&err, 413, RetryClass::Fatal);
        assert_eq!(server.upload_state(id(&url)).unwrap().offset, 0);
        // Within the limit, it works.
        client.upload_buffer(&url, &source, &UploadOptions::default().chunk_size(4096)).await.expect("4 KiB chunks");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
    })
    .await;
}

#[tokio::test]
async fn head_without_upload_offset_is_a_protocol_error() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let url = create(&client, &server, 10).await;
        for status in [200, 204] {
            server.inject(Fault::head(FaultAction::status(status)));
            let err = client.info(&url).await.unwrap_err();
            assert!(err.is_protocol(), "{err:?}");
            assert_eq!(err.retry_class(), RetryClass::Fatal);
            assert!(err.status().is_none());
            assert!(
                matches!(err.protocol_error(), Some(tus_proto::Error::MissingHeader { header: "Upload-Offset", .. })),
                "{err:?}"
            );
            // `Display` names the request; the cause (the missing header) is the source.
            let chain: Vec<String> = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                .map(|e| e.to_string())
                .collect();
            assert!(chain[0].contains("HEAD") && chain[1].contains("Upload-Offset"), "{chain:?}");
        }
        // upload_buffer never treats it as offset 0.
        server.inject(Fault::head(FaultAction::status(200)));
        let err =
            client.upload_buffer(&url, &Source::bytes(vec![1u8; 10]), &UploadOptions::default()).await.unwrap_err();
        assert!(err.is_protocol(), "{err:?}");
        assert!(server.requests_with(Method::PATCH).is_empty());
    })
    .await;
}

#[tokio::test]
async fn creation_without_location_is_a_protocol_error() {
    bounded(async {
        let server = TusServer::start().await;
        server.inject(Fault::post(FaultAction::status(201)));
        let err = client().create(&server.endpoint(), &Create::new(Length::Known(1))).await.unwrap_err();
        assert!(err.is_protocol(), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Fatal);
        assert!(matches!(err.protocol_error(), Some(tus_proto::Error::MissingHeader { header: "Location", .. })));
    })
    .await;
}

#[tokio::test]
async fn refused_connection_is_a_transient_connect_error() {
    bounded(async {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let endpoint = url::Url::parse(&format!("http://127.0.0.1:{port}/files/")).unwrap();
        let err = client().configuration(&endpoint).await.unwrap_err();
        assert!(err.is_connect() && !err.is_tls(), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Transient);
    })
    .await;
}
