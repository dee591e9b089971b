//! 413: a PATCH too large for the server halves the chunk size (for the rest of the upload) down to
//! `min_chunk_size`; a creation-with-upload refused as too large is sent again without data; an upload
//! larger than `Tus-Max-Size` is refused at once.

use http::Method;
use tus_retry::{Error, Metadata, Source, Uploader};
use tus_tests::server::{Fault, FaultAction, TusServer};

use super::{RecordingSleeper, bounded, client, data, patches, retry, status_of, trace};

#[tokio::test]
async fn a_413_halves_the_chunk_until_it_fits_and_it_stays_smaller() {
    bounded(async {
        let server = TusServer::builder().body_limit(3000).start().await;
        let sleeper = RecordingSleeper::new();
        let body = data(20_000, 50);
        let url = Uploader::new(client())
            .chunk_size(16_000)
            .min_chunk_size(500)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(sleeper.delays().is_empty(), "a 413 is not waited for");
        let mut expected = vec!["POST", "PATCH 0+16000", "HEAD", "PATCH 0+8000", "HEAD", "PATCH 0+4000", "HEAD"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        expected.extend(super::patch_run(0, 20_000, 2000));
        assert_eq!(trace(&server), expected);
        assert!(patches(&server).iter().skip(3).all(|(_, n)| *n == 2000), "the chunk stays at 2000");
    })
    .await;
}

#[tokio::test]
async fn at_the_floor_a_413_is_fatal() {
    bounded(async {
        let server = TusServer::builder().body_limit(1000).start().await;
        let sleeper = RecordingSleeper::new();
        let err = Uploader::new(client())
            .chunk_size(4000)
            .min_chunk_size(2000)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(data(10_000, 51)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { upload_url: Some(_), .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(413));
        assert_eq!(trace(&server), ["POST", "PATCH 0+4000", "HEAD", "PATCH 0+2000"]);
        assert!(sleeper.delays().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_413_on_creation_with_upload_turns_it_off() {
    bounded(async {
        let server = TusServer::start().await;
        let sleeper = RecordingSleeper::new();
        server.inject(Fault::post(FaultAction::status(413)));
        let body = data(2500, 52);
        let url = Uploader::new(client())
            .chunk_size(1000)
            .creation_with_upload(true)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert!(sleeper.delays().is_empty());
        // The chunk size is untouched: only the data in the POST was refused.
        assert_eq!(
            trace(&server),
            ["OPTIONS", "POST+1000", "POST", "PATCH 0+1000", "PATCH 1000+1000", "PATCH 2000+500"]
        );

        // Without the fault, creation-with-upload carries the first chunk.
        let server = TusServer::start().await;
        let url = Uploader::new(client())
            .chunk_size(1000)
            .creation_with_upload(true)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(body.clone()), Metadata::new())
            .await
            .unwrap();
        assert_eq!(server.stored_bytes(&url).unwrap(), body);
        assert_eq!(trace(&server), ["OPTIONS", "POST+1000", "PATCH 1000+1000", "PATCH 2000+500"]);
    })
    .await;
}

#[tokio::test]
async fn an_upload_over_the_max_size_is_refused_at_once() {
    bounded(async {
        // A 413 on a creation without data: no chunk size can help (it used to halve the chunk size and
        // POST again down to the floor).
        let server = TusServer::builder().max_size(1000).start().await;
        let sleeper = RecordingSleeper::new();
        let err = Uploader::new(client())
            .chunk_size(4000)
            .min_chunk_size(500)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(data(5000, 53)), Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Fatal { upload_url: None, .. }), "{err:?}");
        assert_eq!(status_of(&err), Some(413));
        assert_eq!(server.requests_with(Method::POST).len(), 1);
        assert!(server.upload_ids().is_empty());

        // With creation-with-upload, the data is dropped first, then the plain creation is refused.
        let server = TusServer::builder().max_size(1000).start().await;
        let err = Uploader::new(client())
            .chunk_size(4000)
            .min_chunk_size(500)
            .creation_with_upload(true)
            .retry(retry(&sleeper, 3))
            .upload(&server.endpoint(), Source::bytes(data(5000, 53)), Metadata::new())
            .await
            .unwrap_err();
        assert_eq!(status_of(&err), Some(413));
        assert_eq!(trace(&server), ["OPTIONS", "POST+4000", "POST"]);
    })
    .await;
}
