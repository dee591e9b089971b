//! The exact request headers of every operation, as the server received them, and the results the
//! operations return.

use std::sync::{Arc, Mutex};

use http::{Method, Version};
use tus_client::Source;
use tus_proto::{
    ChecksumAlgorithm, ChecksumPlacement, ChecksumRequest, Create, Extension, Length, Metadata, UploadConcat,
};
use tus_tests::server::TusServer;

use super::{OCTET, UA, assert_headers, bounded, builder, checksum_value, client, create, data, id, uploaded};

#[tokio::test]
async fn options_sends_no_tus_resumable_and_reads_the_configuration() {
    bounded(async {
        let server = TusServer::builder().max_size(1 << 30).start().await;
        let config = client().configuration(&server.endpoint()).await.expect("OPTIONS");
        assert_eq!(config.versions, ["1.0.0"]);
        assert_eq!(config.max_size, Some(1 << 30));
        for ext in [
            Extension::Creation,
            Extension::CreationWithUpload,
            Extension::CreationDeferLength,
            Extension::Termination,
            Extension::Concatenation,
            Extension::Checksum,
            Extension::Expiration,
        ] {
            assert!(config.supports(&ext), "{ext:?} missing from {:?}", config.extensions);
        }
        assert_eq!(
            config.checksum_algorithms,
            [ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha512, ChecksumAlgorithm::Md5]
        );
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, Method::OPTIONS);
        assert_eq!(reqs[0].path, "/files/");
        assert_eq!(reqs[0].version, Version::HTTP_11);
        assert_headers(&reqs[0], &server, &[("user-agent", UA)]);
    })
    .await;
}

#[tokio::test]
async fn create_with_a_known_length() {
    bounded(async {
        let server = TusServer::start().await;
        let created = client().create(&server.endpoint(), &Create::new(Length::Known(1234))).await.expect("create");
        assert_eq!(created.offset, 0);
        assert_eq!(created.url, server.upload_url(&id(&created.url)));
        let state = server.upload_state(id(&created.url)).expect("the upload exists");
        assert_eq!((state.offset, state.length, state.metadata, state.concat), (0, Some(1234), None, None));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!((&reqs[0].method, reqs[0].path.as_str()), (&Method::POST, "/files/"));
        assert_headers(
            &reqs[0],
            &server,
            &[("user-agent", UA), ("tus-resumable", "1.0.0"), ("upload-length", "1234"), ("content-length", "0")],
        );
    })
    .await;
}

#[tokio::test]
async fn create_with_a_deferred_length() {
    bounded(async {
        let server = TusServer::start().await;
        let created = client().create(&server.endpoint(), &Create::new(Length::Deferred)).await.expect("create");
        let state = server.upload_state(id(&created.url)).expect("the upload exists");
        assert_eq!(state.length, None);
        let info = client().info(&created.url).await.expect("HEAD");
        assert!(info.deferred && info.length.is_none() && info.offset == 0, "{info:?}");
        let reqs = server.requests();
        assert_headers(
            &reqs[0],
            &server,
            &[("user-agent", UA), ("tus-resumable", "1.0.0"), ("upload-defer-length", "1"), ("content-length", "0")],
        );
    })
    .await;
}

#[tokio::test]
async fn create_with_metadata_and_read_it_back() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let mut metadata = Metadata::new();
        metadata.insert("filename", "résumé ☃.txt");
        metadata.insert_key("is_confidential");
        metadata.insert("blob", [0u8, 0xff, 0xfe, 1]);
        metadata.insert("empty", "");
        let create = Create::new(Length::Known(3)).metadata(metadata.clone());
        let created = client.create(&server.endpoint(), &create).await.expect("create");
        // Standard Base64 with padding, bare keys for empty values, no space after commas.
        let expected = "filename csOpc3Vtw6kg4piDLnR4dA==,is_confidential,blob AP/+AQ==,empty";
        let reqs = server.requests();
        assert_headers(
            &reqs[0],
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("upload-length", "3"),
                ("upload-metadata", expected),
                ("content-length", "0"),
            ],
        );
        assert_eq!(server.upload_state(id(&created.url)).unwrap().metadata.as_deref(), Some(expected));

        let read = client.metadata(&created.url).await.expect("metadata");
        assert_eq!(read.get("filename"), Some("résumé ☃.txt".as_bytes()));
        assert_eq!(read.entry("is_confidential"), Some(None));
        assert_eq!(read.get("blob"), Some(&[0u8, 0xff, 0xfe, 1][..]));
        assert_eq!(read.get("empty"), Some(&b""[..]));
        assert_eq!(read.len(), 4);
        let keys: Vec<&str> = read.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["filename", "is_confidential", "blob", "empty"]);

        // No metadata: no header at all (an empty one is refused by @tus/server).
        let plain = client.create(&server.endpoint(), &Create::new(Length::Known(1))).await.expect("create");
        assert!(!server.requests()[2].headers.contains_key("upload-metadata"));
        assert!(client.metadata(&plain.url).await.expect("metadata").is_empty());
    })
    .await;
}

#[tokio::test]
async fn create_a_partial_upload() {
    bounded(async {
        let server = TusServer::start().await;
        let created =
            client().create(&server.endpoint(), &Create::new(Length::Known(10)).partial(true)).await.expect("create");
        assert_eq!(server.upload_state(id(&created.url)).unwrap().concat.as_deref(), Some("partial"));
        assert_headers(
            &server.requests()[0],
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("upload-length", "10"),
                ("upload-concat", "partial"),
                ("content-length", "0"),
            ],
        );
        let info = client().info(&created.url).await.expect("HEAD");
        assert_eq!(info.concat, Some(UploadConcat::Partial));
    })
    .await;
}

#[tokio::test]
async fn create_with_upload_sends_the_first_bytes() {
    bounded(async {
        let server = TusServer::start().await;
        let bytes = data(100_000, 1);
        let source = Source::bytes(bytes.clone());
        let create = Create::new(Length::Known(100_000));
        let created =
            client().create_with_upload(&server.endpoint(), create, &source, 60_000).await.expect("create_with_upload");
        assert_eq!(created.offset, 60_000);
        assert_eq!(server.stored_bytes(id(&created.url)).unwrap(), bytes[..60_000]);
        let req = &server.requests()[0];
        assert_eq!((&req.method, req.body_len), (&Method::POST, 60_000));
        assert_headers(
            req,
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("upload-length", "100000"),
                ("content-type", OCTET),
                ("content-length", "60000"),
            ],
        );
        // The rest goes by PATCH from the server's offset.
        let end = client().upload_buffer(&created.url, &source, &Default::default()).await.expect("upload_buffer");
        assert_eq!(end, 100_000);
        assert_eq!(server.stored_bytes(id(&created.url)).unwrap(), bytes);
        assert_eq!(server.requests()[2].header("upload-offset"), Some("60000"));
    })
    .await;
}

#[tokio::test]
async fn head_operations_send_one_head_each() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let mut metadata = Metadata::new();
        metadata.insert("name", "x");
        let created =
            client.create(&server.endpoint(), &Create::new(Length::Known(10)).metadata(metadata)).await.unwrap();
        client.patch(&created.url, &Source::bytes(&b"0123456789"[..]), 0, 4, None).await.expect("PATCH");
        server.clear_requests();

        let info = client.info(&created.url).await.expect("info");
        assert_eq!((info.offset, info.length, info.deferred), (4, Some(10), false));
        assert_eq!(info.metadata.as_ref().and_then(|m| m.get("name")), Some(&b"x"[..]));
        assert!(info.concat.is_none() && info.expires.is_none() && !info.is_complete());
        assert_eq!(client.offset(&created.url).await.expect("offset"), 4);
        assert_eq!(client.metadata(&created.url).await.expect("metadata").get("name"), Some(&b"x"[..]));

        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        for req in &reqs {
            assert_eq!((&req.method, req.path.as_str()), (&Method::HEAD, created.url.path()));
            assert_headers(req, &server, &[("user-agent", UA), ("tus-resumable", "1.0.0")]);
        }
    })
    .await;
}

#[tokio::test]
async fn patch_sends_offset_content_type_and_length() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(5000, 2);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, 5000).await;
        let first = client.patch(&url, &source, 0, 3000, None).await.expect("PATCH");
        assert_eq!(first.offset, 3000);
        let second = client.patch(&url, &source, 3000, 2000, None).await.expect("PATCH");
        assert_eq!(second.offset, 5000);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        let patches = server.requests_with(Method::PATCH);
        for (req, (offset, len)) in patches.iter().zip([("0", "3000"), ("3000", "2000")]) {
            assert_eq!(req.path, url.path());
            assert_headers(
                req,
                &server,
                &[
                    ("user-agent", UA),
                    ("tus-resumable", "1.0.0"),
                    ("upload-offset", offset),
                    ("content-type", OCTET),
                    ("content-length", len),
                ],
            );
        }
    })
    .await;
}

#[tokio::test]
async fn patch_checksum_header_for_every_algorithm_is_verified_by_the_server() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let algorithms =
            [ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha512, ChecksumAlgorithm::Md5];
        let bytes = data(4 * 70_000, 3);
        let source = Source::bytes(bytes.clone());
        let url = create(&client, &server, bytes.len() as u64).await;
        for (i, alg) in algorithms.iter().enumerate() {
            let (start, end) = (i * 70_000, (i + 1) * 70_000);
            let checksum = ChecksumRequest { algorithm: alg.clone(), placement: ChecksumPlacement::Header };
            let patched = client.patch(&url, &source, start as u64, 70_000, Some(checksum)).await;
            assert_eq!(patched.expect("PATCH with checksum").offset, end as u64, "{alg:?}");
            let req = server.requests_with(Method::PATCH).pop().unwrap();
            assert_headers(
                &req,
                &server,
                &[
                    ("user-agent", UA),
                    ("tus-resumable", "1.0.0"),
                    ("upload-offset", &start.to_string()),
                    ("content-type", OCTET),
                    ("content-length", "70000"),
                    ("upload-checksum", &checksum_value(alg, &bytes[start..end])),
                ],
            );
        }
        // The server verified every digest (a mismatch is 460 and stores nothing).
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);

        // And through upload_buffer: a checksum on every chunk.
        let url = create(&client, &server, bytes.len() as u64).await;
        server.clear_requests();
        let options = tus_proto::UploadOptions::default()
            .chunk_size(100_000)
            .checksum(ChecksumAlgorithm::Sha256, ChecksumPlacement::Header);
        client.upload_buffer(&url, &source, &options).await.expect("upload_buffer with checksums");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        let patches = server.requests_with(Method::PATCH);
        assert_eq!(patches.len(), 3);
        for (req, start) in patches.iter().zip([0usize, 100_000, 200_000]) {
            let end = (start + 100_000).min(bytes.len());
            assert_eq!(
                req.header("upload-checksum"),
                Some(checksum_value(&ChecksumAlgorithm::Sha256, &bytes[start..end]).as_str())
            );
        }
    })
    .await;
}

#[tokio::test]
async fn upload_buffer_heads_then_patches_in_chunks() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let bytes = data(10_000, 4);
        let url = create(&client, &server, 10_000).await;
        server.clear_requests();
        let options = tus_proto::UploadOptions::default().chunk_size(4096);
        let end = client.upload_buffer(&url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
        assert_eq!(end, 10_000);
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        let reqs = server.requests();
        let methods: Vec<&Method> = reqs.iter().map(|r| &r.method).collect();
        assert_eq!(methods, [&Method::HEAD, &Method::PATCH, &Method::PATCH, &Method::PATCH]);
        assert_headers(&reqs[0], &server, &[("user-agent", UA), ("tus-resumable", "1.0.0")]);
        for (req, (offset, len)) in reqs[1..].iter().zip([("0", "4096"), ("4096", "4096"), ("8192", "1808")]) {
            assert_headers(
                req,
                &server,
                &[
                    ("user-agent", UA),
                    ("tus-resumable", "1.0.0"),
                    ("upload-offset", offset),
                    ("content-type", OCTET),
                    ("content-length", len),
                ],
            );
        }
        // A complete upload: one HEAD, nothing to send.
        server.clear_requests();
        let end = client.upload_buffer(&url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
        assert_eq!(end, 10_000);
        assert_eq!(server.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn terminate_sends_delete_and_the_upload_is_gone() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let url = create(&client, &server, 10).await;
        client.terminate(&url).await.expect("DELETE");
        assert!(server.upload_state(id(&url)).is_none());
        let req = server.requests().pop().unwrap();
        assert_eq!((&req.method, req.path.as_str()), (&Method::DELETE, url.path()));
        assert_headers(&req, &server, &[("user-agent", UA), ("tus-resumable", "1.0.0"), ("content-length", "0")]);
        let err = client.info(&url).await.unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{err}");
        let err = client.terminate(&url).await.unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{err}");
    })
    .await;
}

#[tokio::test]
async fn concatenate_joins_partials_in_order() {
    bounded(async {
        let server = TusServer::start().await;
        let client = client();
        let (a, b) = (data(3000, 5), data(5000, 6));
        let mut parts = Vec::new();
        for bytes in [&a, &b] {
            let create = Create::new(Length::Known(bytes.len() as u64)).partial(true);
            let url = client.create(&server.endpoint(), &create).await.expect("create partial").url;
            client.upload_buffer(&url, &Source::bytes(bytes.clone()), &Default::default()).await.expect("upload");
            parts.push(url);
        }
        server.clear_requests();
        let mut metadata = Metadata::new();
        metadata.insert("filename", "joined.bin");
        let created = client.concatenate(&server.endpoint(), &parts, &metadata).await.expect("concatenate");
        assert_eq!(server.stored_bytes(id(&created.url)).unwrap(), [a.as_slice(), b.as_slice()].concat());
        let req = &server.requests()[0];
        let concat = format!("final;{} {}", parts[0], parts[1]);
        assert_headers(
            req,
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("upload-concat", &concat),
                ("upload-metadata", "filename am9pbmVkLmJpbg=="),
                ("content-length", "0"),
            ],
        );
        let info = client.info(&created.url).await.expect("HEAD");
        assert!(info.is_complete() && info.offset == 8000, "{info:?}");
        let Some(UploadConcat::Final(listed)) = info.concat else { panic!("no final Upload-Concat: {info:?}") };
        assert_eq!(listed, [parts[0].as_str(), parts[1].as_str()]);
        assert_eq!(info.metadata.unwrap().get("filename"), Some(&b"joined.bin"[..]));
    })
    .await;
}

#[tokio::test]
async fn default_user_agent_names_the_crate() {
    bounded(async {
        let server = TusServer::start().await;
        let client = tus_client::Client::new().expect("client");
        client.configuration(&server.endpoint()).await.expect("OPTIONS");
        let ua = server.requests()[0].header("user-agent").expect("a user agent").to_owned();
        let version = ua.strip_prefix("tus-rs/").unwrap_or_else(|| panic!("user agent {ua:?}"));
        assert!(version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()), "{ua}");
    })
    .await;
}

#[tokio::test]
async fn default_headers_and_the_request_hook_reach_every_request() {
    bounded(async {
        let server = TusServer::start().await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        let client = builder()
            .default_header("authorization", "Bearer abc")
            .default_header("x-trace", "1")
            // A default Content-Type must never replace the one a PATCH needs.
            .default_header("content-type", "text/plain")
            .on_request(move |req| {
                seen2.lock().unwrap().push(req.method().clone());
                let value = format!("signed-{}", req.method());
                req.headers_mut().insert("x-hook", value.parse().unwrap());
            })
            .build()
            .unwrap();
        client.configuration(&server.endpoint()).await.expect("OPTIONS");
        let url = uploaded(&client, &server, b"hello").await;
        client.terminate(&url).await.expect("DELETE");
        let reqs = server.requests();
        let methods: Vec<Method> = reqs.iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, [Method::OPTIONS, Method::POST, Method::HEAD, Method::PATCH, Method::DELETE]);
        assert_eq!(*seen.lock().unwrap(), methods, "the hook sees each request once");
        for req in &reqs {
            assert_eq!(req.header("authorization"), Some("Bearer abc"), "{}", req.method);
            assert_eq!(req.header("x-trace"), Some("1"));
            assert_eq!(req.header("x-hook"), Some(format!("signed-{}", req.method).as_str()));
            assert_eq!(req.header("user-agent"), Some(UA));
            assert_eq!(
                req.headers.get_all("content-type").iter().count(),
                usize::from(req.headers.contains_key("content-type"))
            );
        }
        let patch = &reqs[3];
        assert_eq!(patch.header("content-type"), Some(OCTET));
        assert_headers(
            patch,
            &server,
            &[
                ("user-agent", UA),
                ("authorization", "Bearer abc"),
                ("x-trace", "1"),
                ("x-hook", "signed-PATCH"),
                ("tus-resumable", "1.0.0"),
                ("upload-offset", "0"),
                ("content-type", OCTET),
                ("content-length", "5"),
            ],
        );
        assert_headers(
            &reqs[0],
            &server,
            &[
                ("user-agent", UA),
                ("authorization", "Bearer abc"),
                ("x-trace", "1"),
                ("content-type", "text/plain"),
                ("x-hook", "signed-OPTIONS"),
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn method_override_sends_patch_and_delete_as_post() {
    bounded(async {
        let server = TusServer::start().await;
        let client = builder().method_override(true).build().unwrap();
        let bytes = data(20_000, 7);
        client.configuration(&server.endpoint()).await.expect("OPTIONS");
        let url = create(&client, &server, 20_000).await;
        let options = tus_proto::UploadOptions::default().chunk_size(8192);
        client.upload_buffer(&url, &Source::bytes(bytes.clone()), &options).await.expect("upload_buffer");
        assert_eq!(server.stored_bytes(id(&url)).unwrap(), bytes);
        client.terminate(&url).await.expect("DELETE as POST");
        assert!(server.upload_state(id(&url)).is_none());

        let reqs = server.requests();
        let wire: Vec<(Method, Option<&str>)> =
            reqs.iter().map(|r| (r.method.clone(), r.header("x-http-method-override"))).collect();
        assert_eq!(
            wire,
            [
                (Method::OPTIONS, None),
                (Method::POST, None),
                (Method::HEAD, None),
                (Method::POST, Some("PATCH")),
                (Method::POST, Some("PATCH")),
                (Method::POST, Some("PATCH")),
                (Method::POST, Some("DELETE")),
            ]
        );
        assert_headers(
            &reqs[3],
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("x-http-method-override", "PATCH"),
                ("upload-offset", "0"),
                ("content-type", OCTET),
                ("content-length", "8192"),
            ],
        );
        assert_headers(
            &reqs[6],
            &server,
            &[
                ("user-agent", UA),
                ("tus-resumable", "1.0.0"),
                ("x-http-method-override", "DELETE"),
                ("content-length", "0"),
            ],
        );
        assert_eq!(reqs[6].path, url.path());
    })
    .await;
}
