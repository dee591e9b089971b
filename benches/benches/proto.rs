//! Micro-benchmarks of tus-proto: the header parsers and the state machine's cost per chunk.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, StatusCode};
use tus_proto::header::{TusExtension, TusHeader as _, UploadChecksum, UploadExpires, UploadMetadata, UploadOffset};
use tus_proto::{Metadata, ResponseHead, Upload, UploadOptions};

const METADATA: &str = "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,filetype YXBwbGljYXRpb24vcGRm,is_confidential";
const EXTENSIONS: &str =
    "creation,creation-with-upload,termination,concatenation,creation-defer-length,checksum,expiration";

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("Upload-Offset", |b| b.iter(|| UploadOffset::parse(black_box(b"1073741824"))));
    g.bench_function("Tus-Extension", |b| b.iter(|| TusExtension::parse(black_box(EXTENSIONS.as_bytes()))));
    g.bench_function("Upload-Metadata", |b| b.iter(|| UploadMetadata::parse(black_box(METADATA.as_bytes()))));
    g.bench_function("Upload-Expires", |b| {
        b.iter(|| UploadExpires::parse(black_box(b"Wed, 25 Jun 2014 16:00:00 GMT")));
    });
    g.bench_function("Upload-Checksum", |b| {
        b.iter(|| UploadChecksum::parse(black_box(b"sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")));
    });
    g.finish();

    let mut metadata = Metadata::new();
    metadata.insert("filename", "world_domination_plan.pdf").insert("filetype", "application/pdf");
    metadata.insert_key("is_confidential");
    c.bench_function("encode/Upload-Metadata", |b| b.iter(|| black_box(&metadata).encode()));
}

/// One 1 GiB upload in 4 MiB chunks, driven through the state machine with canned `204` answers: what
/// tus-proto adds per PATCH (plan, headers, response interpretation, events), without any I/O.
fn state_machine(c: &mut Criterion) {
    const LENGTH: u64 = 1 << 30;
    const CHUNK: u64 = 4 << 20;
    let url = url::Url::parse("http://127.0.0.1:1080/files/24e533e02ec3bc40c387f1a0e460e216").expect("url");
    let mut g = c.benchmark_group("upload");
    g.throughput(Throughput::Elements(LENGTH / CHUNK));
    g.bench_function("per chunk (1 GiB in 4 MiB PATCHes)", |b| {
        b.iter(|| {
            let options = UploadOptions::default().chunk_size(CHUNK);
            let mut upload = Upload::resume(url.clone(), Some(LENGTH), options).expect("valid");
            let mut offset = 0u64;
            while let Some(plan) = upload.poll_request() {
                if let Some(range) = plan.body.range() {
                    offset = range.end;
                }
                let request = plan.to_request(()).expect("valid request");
                black_box(&request);
                let mut headers = HeaderMap::new();
                headers.insert("upload-offset", HeaderValue::from(offset));
                headers.insert("upload-length", HeaderValue::from(LENGTH));
                headers.insert("tus-resumable", HeaderValue::from_static("1.0.0"));
                let status = if plan.body.range().is_some() { StatusCode::NO_CONTENT } else { StatusCode::OK };
                upload.handle_response(&ResponseHead::new(status, headers)).expect("accepted");
                while let Some(event) = upload.poll_event() {
                    black_box(event);
                }
            }
            assert!(upload.is_complete());
        });
    });
    g.finish();
}

criterion_group!(benches, parsers, state_machine);
criterion_main!(benches);
