//! End-to-end tests of the `tus` binary against real servers (rustus, @tus/server, installed by
//! `cargo xtask servers install`), the in-process fault-injecting `TusServer`, a hostile server, and a
//! TLS proxy. Every command runs with a time limit and fails the test if it prints a panic.

mod util;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tus_proto::http::Method;
use tus_tests::hostile::{HostileServer, Reply};
use tus_tests::real::{NodeOptions, RustusOptions};
use tus_tests::server::{Fault, FaultAction, TusServer};

use util::{Dir, data, node, node_with, rt, rustus, rustus_with, wait_until};

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().expect("a JSON object").keys().map(String::as_str).collect()
}

fn tus_server() -> TusServer {
    rt().block_on(TusServer::start())
}

fn big_rustus() -> tus_tests::real::RealServer {
    rustus_with(RustusOptions { max_body_size: Some(16 << 20), ..RustusOptions::default() })
}

// ---- upload -----------------------------------------------------------------------------------

#[test]
fn upload_to_node_prints_only_the_url() {
    let server = node();
    let dir = Dir::new("plain-node");
    let bytes = data(3 << 20, 1);
    dir.create("photo.jpg", &bytes);
    let out = dir.command(["upload", server.endpoint().as_str(), "photo.jpg"]).run();
    out.success();
    let url = out.url();
    assert!(url.as_str().starts_with(server.endpoint().as_str()), "{url}");
    // Not a terminal: no progress display, nothing else on stderr.
    assert_eq!(out.stderr, "", "stderr should be empty");
    assert_eq!(server.stored_bytes(&url).unwrap(), bytes);
    // `filename` comes from the file's name.
    let info = dir.command(["info", "--json", url.as_str()]).run();
    info.success();
    assert_eq!(info.json()["metadata"]["filename"], "photo.jpg");
}

#[test]
fn upload_to_rustus_shrinks_the_default_chunk_to_its_body_limit() {
    // rustus refuses bodies over 256 KiB by default; the default 4 MiB chunk is halved on 413.
    let server = rustus();
    let dir = Dir::new("rustus-413");
    let bytes = data(1 << 20, 2);
    dir.create("a.bin", &bytes);
    let out = dir.command(["upload", "-q", server.endpoint().as_str(), "a.bin"]).run();
    out.success();
    assert_eq!(server.stored_bytes(&out.url()).unwrap(), bytes);
}

#[test]
fn chunk_size_sets_the_patch_size() {
    let server = tus_server();
    let dir = Dir::new("chunk");
    dir.create("a.bin", &data(100_000, 3));
    dir.command(["upload", "-c", "32KiB", server.endpoint().as_str(), "a.bin"]).run().success();
    let patches = server.requests_with(Method::PATCH);
    let sizes: Vec<u64> = patches.iter().map(|r| r.body_len).collect();
    assert_eq!(sizes, [32768, 32768, 32768, 1696]);
}

#[test]
fn empty_file_uploads() {
    let server = node();
    let dir = Dir::new("empty");
    dir.create("empty", b"");
    let out = dir.command(["upload", server.endpoint().as_str(), "empty"]).run();
    out.success();
    assert_eq!(server.stored_bytes(&out.url()).unwrap(), b"");
}

#[test]
fn stdin_upload_uses_deferred_length() {
    let server = big_rustus();
    let dir = Dir::new("stdin");
    let bytes = data((5 << 20) + 123, 4);
    let out = dir.command(["upload", "-c", "1MiB", server.endpoint().as_str(), "-"]).stdin(bytes.clone()).run();
    out.success();
    let url = out.url();
    assert_eq!(server.stored_bytes(&url).unwrap(), bytes);
    // No filename for stdin.
    let info = dir.command(["info", "--json", url.as_str()]).run();
    info.success();
    let info = info.json();
    assert_eq!(info["length"], bytes.len());
    assert!(info["metadata"].get("filename").is_none(), "{info}");

    // The creation said Upload-Defer-Length: 1 and no Upload-Length.
    let server = tus_server();
    let out = dir.command(["upload", server.endpoint().as_str(), "-"]).stdin(&b"from a pipe"[..]).run();
    out.success();
    let posts = server.requests_with(Method::POST);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("upload-defer-length"), Some("1"));
    assert_eq!(posts[0].header("upload-length"), None);
    assert_eq!(server.stored_bytes(out.url().as_str()).unwrap(), b"from a pipe");

    // --resume cannot apply to a stream: a warning, and the upload goes on.
    let out = dir.command(["upload", "--resume", server.endpoint().as_str(), "-"]).stdin(&b"again"[..]).run();
    out.success().stderr_has(&["--resume has no effect"]);
    assert_eq!(server.stored_bytes(out.url().as_str()).unwrap(), b"again");
}

#[test]
fn several_files_are_concatenated_in_order() {
    let server = big_rustus();
    let dir = Dir::new("multi");
    let parts: Vec<Vec<u8>> = (0..4).map(|i| data(300_000 + i * 1000, 10 + i as u64)).collect();
    for (i, p) in parts.iter().enumerate() {
        dir.create(&format!("part{i}"), p);
    }
    let out = dir
        .command([
            "upload",
            "-p",
            "2",
            "-m",
            "name=joined",
            server.endpoint().as_str(),
            "part0",
            "part1",
            "part2",
            "part3",
        ])
        .run();
    out.success();
    let url = out.url();
    assert_eq!(server.stored_bytes(&url).unwrap(), parts.concat());
    let info = dir.command(["info", "--json", url.as_str()]).run();
    info.success();
    let info = info.json();
    assert_eq!(info["metadata"]["name"], "joined");
    assert_eq!(info["offset"], parts.concat().len());
}

#[test]
fn parallel_splits_one_file_and_joins_it() {
    let server = big_rustus();
    let dir = Dir::new("split");
    let bytes = data(1_000_003, 20);
    dir.create("video.mp4", &bytes);
    let out = dir.command(["upload", "-p", "3", server.endpoint().as_str(), "video.mp4"]).run();
    out.success();
    let url = out.url();
    assert_eq!(server.stored_bytes(&url).unwrap(), bytes);
    let info = dir.command(["info", "--json", url.as_str()]).run();
    info.success();
    assert_eq!(info.json()["metadata"]["filename"], "video.mp4");

    // Three partial uploads and one final one.
    let server = tus_server();
    dir.command(["upload", "-p", "3", server.endpoint().as_str(), "video.mp4"]).run().success();
    let posts = server.requests_with(Method::POST);
    let concat: Vec<&str> = posts.iter().filter_map(|r| r.header("upload-concat")).collect();
    assert_eq!(concat.iter().filter(|c| **c == "partial").count(), 3, "{concat:?}");
    assert_eq!(concat.iter().filter(|c| c.starts_with("final;")).count(), 1, "{concat:?}");
}

#[test]
fn one_file_is_not_split_by_default_and_node_cannot_split() {
    // @tus/server has no concatenation: the plain case must not need it.
    let server = node();
    let dir = Dir::new("nosplit");
    dir.create("a", &data(10_000, 5));
    dir.command(["upload", server.endpoint().as_str(), "a"]).run().success();
    let out = dir.command(["upload", "-p", "3", server.endpoint().as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "concatenation"]);
    let out = dir.command(["upload", server.endpoint().as_str(), "a", "a"]).run();
    out.assert_code(1).stderr_has(&["concatenation"]);
}

#[test]
fn checksums_against_rustus() {
    let server = big_rustus();
    let dir = Dir::new("checksum");
    let bytes = data(700_000, 6);
    dir.create("a", &bytes);
    for alg in ["sha256", "auto", "sha1", "md5", "sha512"] {
        let out = dir.command(["upload", "-c", "256KiB", "--checksum", alg, server.endpoint().as_str(), "a"]).run();
        out.success();
        assert_eq!(server.stored_bytes(&out.url()).unwrap(), bytes, "--checksum {alg}");
    }
}

#[test]
fn checksum_headers_on_the_wire() {
    let server = tus_server();
    let dir = Dir::new("checksum-wire");
    dir.create("a", &data(5000, 7));
    for (alg, expected) in [("sha256", "sha256 "), ("auto", "sha512 "), ("md5", "md5 ")] {
        server.clear_requests();
        dir.command(["upload", "--checksum", alg, server.endpoint().as_str(), "a"]).run().success();
        let patches = server.requests_with(Method::PATCH);
        assert!(!patches.is_empty());
        for p in patches {
            let value = p.header("upload-checksum").unwrap_or_default();
            assert!(value.starts_with(expected), "--checksum {alg}: Upload-Checksum {value:?}");
        }
    }
}

#[test]
fn checksum_against_a_server_without_the_extension_fails_clearly() {
    let server = node();
    let dir = Dir::new("checksum-node");
    dir.create("a", b"hello");
    let out = dir.command(["upload", "--checksum", "sha256", server.endpoint().as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "does not support the `checksum` extension"]);
    assert_eq!(out.stdout, "");
    // `auto` falls back to no checksum.
    dir.command(["upload", "--checksum", "auto", server.endpoint().as_str(), "a"]).run().success();
}

#[test]
fn headers_are_sent_on_every_request() {
    let server = tus_server();
    let dir = Dir::new("headers");
    dir.create("a", &data(10_000, 8));
    let endpoint = server.endpoint();
    let out = dir
        .command(["upload", "-c", "4KiB", "-H", "Authorization: Bearer s3cret", "-H", "X-Trace:  42 "])
        .args([endpoint.as_str(), "a"])
        .run();
    out.success();
    let url = out.url();
    let auth = ["-H", "Authorization: Bearer s3cret"];
    dir.command(["info"]).args(auth).arg(url.as_str()).run().success();
    dir.command(["options"]).args(auth).arg(endpoint.as_str()).run().success();
    dir.command(["delete"]).args(auth).arg(url.as_str()).run().success();
    let requests = server.requests();
    assert!(requests.len() >= 7, "{requests:?}");
    for r in &requests {
        assert_eq!(r.header("authorization"), Some("Bearer s3cret"), "{} {}", r.method, r.path);
    }
    let upload_requests = &requests[..requests.len() - 3];
    for r in upload_requests {
        assert_eq!(r.header("x-trace"), Some("42"), "{} {}", r.method, r.path);
    }
}

#[test]
fn metadata_round_trip() {
    let server = node();
    let dir = Dir::new("metadata");
    dir.create("report.pdf", b"%PDF");
    let out = dir
        .command(["upload", "-m", "owner=zoë", "-m", "flag", "-m", "empty=", "-m", "eq=a=b"])
        .args([server.endpoint().as_str(), "report.pdf"])
        .run();
    out.success();
    let info = dir.command(["info", "--json", out.url().as_str()]).run();
    info.success();
    let md = &info.json()["metadata"];
    assert_eq!(md["owner"], "zoë");
    assert_eq!(md["flag"], Value::Null);
    assert_eq!(md["empty"], Value::Null);
    assert_eq!(md["eq"], "a=b");
    assert_eq!(md["filename"], "report.pdf");

    // A given filename wins.
    let out = dir.command(["upload", "-m", "filename=other.pdf", server.endpoint().as_str(), "report.pdf"]).run();
    out.success();
    let info = dir.command(["info", "--json", out.url().as_str()]).run();
    assert_eq!(info.json()["metadata"]["filename"], "other.pdf");

    // The text form.
    let text = dir.command(["info", out.url().as_str()]).run();
    text.success();
    assert!(text.stdout.contains("filename: \"other.pdf\""), "{}", text.stdout);
}

#[test]
fn retries_counts_retries_after_the_first_failure() {
    let server = tus_server();
    let dir = Dir::new("retries");
    dir.create("a", &data(1000, 9));
    let fast = ["--max-retry-delay", "0.05"];
    // Two failures with one retry allowed: gives up after two attempts.
    server.inject(Fault::patch(FaultAction::status(500)).times(2));
    let out = dir.command(["upload", "--retries", "1"]).args(fast).args([server.endpoint().as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["gave up after 2 attempts", "500"]);
    assert_eq!(out.stdout, "");
    // Two failures with two retries allowed: succeeds.
    server.clear_faults();
    server.inject(Fault::patch(FaultAction::status(500)).times(2));
    let out = dir.command(["upload", "--retries", "2"]).args(fast).args([server.endpoint().as_str(), "a"]).run();
    out.success().stderr_has(&["retrying"]);
    // --max-retry-delay caps the backoff: four retries would wait 1 + 2 + 4 + 8 s (halved at least,
    // with jitter) without the cap.
    server.clear_faults();
    server.inject(Fault::patch(FaultAction::status(503)).times(4));
    let start = std::time::Instant::now();
    let out = dir.command(["upload", "--retries", "4"]).args(fast).args([server.endpoint().as_str(), "a"]).run();
    out.success();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[cfg(target_os = "linux")]
#[test]
fn progress_is_drawn_on_a_terminal_unless_quiet() {
    // util-linux `script` runs the command on a pseudo-terminal (stdout and stderr both go to it).
    let server = tus_server();
    let dir = Dir::new("tty");
    dir.create("a", &data(2 << 20, 16));
    let tus = env!("CARGO_BIN_EXE_tus");
    let run = |extra: &str| {
        let line = format!("{tus} upload -c 256KiB {extra} {} a", server.endpoint());
        dir.command(Vec::<&str>::new()).run_program("script", ["-qec", &line, "/dev/null"])
    };
    let out = run("");
    out.success();
    assert!(out.stdout.contains("2.00 MiB/2.00 MiB"), "no progress bar on a terminal:\n{}", out.show());
    let out = run("-q");
    out.success();
    assert!(!out.stdout.contains("MiB"), "-q still draws:\n{}", out.show());
    assert!(out.stdout.contains(server.endpoint().as_str()), "{}", out.show());
}

#[test]
fn timeout_fails_a_stalled_request_which_is_then_retried() {
    let server = tus_server();
    let dir = Dir::new("timeout");
    let bytes = data(50_000, 10);
    dir.create("a", &bytes);
    server.inject(Fault::patch(FaultAction::Stall));
    let out = dir
        .command(["upload", "--timeout", "0.5", "--retries", "1", "--max-retry-delay", "0.05"])
        .args([server.endpoint().as_str(), "a"])
        .run();
    out.success().stderr_has(&["timed out"]);
    assert_eq!(server.stored_bytes(out.url().as_str()).unwrap(), bytes);
}

#[test]
fn verbose_logs_requests() {
    let server = tus_server();
    let dir = Dir::new("verbose");
    dir.create("a", b"abc");
    let out = dir.command(["upload", "-v", server.endpoint().as_str(), "a"]).run();
    out.success().stderr_has(&["upload created", "upload complete", "PATCH"]);
    out.url();
}

// ---- resume and Ctrl-C --------------------------------------------------------------------------

/// Starts an upload that stalls in its second PATCH, waits until the server holds `first + partial`
/// bytes, and sends SIGINT. Returns the interrupted run's output.
fn interrupted_upload(server: &TusServer, dir: &Dir, extra: &[&str]) -> util::Output {
    server.inject(Fault::patch(FaultAction::StallMidBody { after: 10_000 }).nth(2));
    let running = dir.command(["upload", "-c", "64KiB"]).args(extra).args([server.endpoint().as_str(), "a"]).spawn();
    wait_until("the server holds 64 KiB + 10000 bytes", Duration::from_secs(20), || {
        server.upload_ids().first().and_then(|id| server.upload_state(id)).is_some_and(|s| s.offset >= 65_536 + 10_000)
    });
    running.interrupt();
    running.wait(Duration::from_secs(20), "interrupted upload")
}

#[test]
fn resume_continues_an_interrupted_upload() {
    let server = tus_server();
    let dir = Dir::new("resume");
    let bytes = data(300_000, 11);
    dir.create("a", &bytes);
    let out = interrupted_upload(&server, &dir, &["--resume"]);
    out.assert_code(130).stderr_has(&["interrupted", "--resume"]);
    assert_eq!(out.stdout, "");
    let ids = server.upload_ids();
    assert_eq!(ids.len(), 1);
    let url = server.upload_url(&ids[0]);
    out.stderr_has(&[url.as_str()]);
    let offset = server.upload_state(&ids[0]).unwrap().offset;
    assert!(offset < bytes.len() as u64);
    assert_eq!(dir.resume_entries().len(), 1, "the resume state is kept");

    server.clear_requests();
    let again = dir.command(["upload", "-c", "64KiB", "--resume", server.endpoint().as_str(), "a"]).run();
    again.success();
    assert_eq!(again.url(), url, "the same upload was continued");
    let requests = server.requests();
    assert_eq!(requests[0].method, "HEAD", "a resume starts with HEAD: {requests:?}");
    assert_eq!(requests[0].path, url.path());
    assert!(requests.iter().all(|r| r.method != "POST"), "no new upload was created: {requests:?}");
    let first_patch = requests.iter().find(|r| r.method == "PATCH").expect("a PATCH");
    assert_eq!(first_patch.header("upload-offset"), Some(offset.to_string().as_str()));
    assert_eq!(server.stored_bytes(url.as_str()).unwrap(), bytes);
    assert_eq!(dir.resume_entries(), Vec::<std::path::PathBuf>::new(), "forgotten on success");

    // Without --resume, the same file makes a new upload.
    server.clear_requests();
    dir.command(["upload", server.endpoint().as_str(), "a"]).run().success();
    assert!(server.requests().iter().any(|r| r.method == "POST"));
}

#[test]
fn interrupt_without_resume_prints_where_the_upload_is() {
    let server = tus_server();
    let dir = Dir::new("interrupt");
    dir.create("a", &data(300_000, 12));
    let out = interrupted_upload(&server, &dir, &[]);
    let url = server.upload_url(&server.upload_ids()[0]);
    out.assert_code(130).stderr_has(&["interrupted", url.as_str()]);
    assert!(dir.resume_entries().is_empty(), "no state without --resume");
}

#[test]
fn resume_with_a_real_server_after_ctrl_c() {
    let server = big_rustus();
    let dir = Dir::new("resume-rustus");
    let bytes = data(48 << 20, 13);
    dir.create("a", &bytes);
    let endpoint = server.endpoint();
    let args = ["upload", "--resume", "-c", "64KiB", endpoint.as_str(), "a"];
    let running = dir.command(args).spawn();
    // Interrupt as soon as a few chunks are on the server.
    wait_until("rustus holds some bytes", Duration::from_secs(20), || {
        std::fs::read_dir(server.data_dir())
            .map(|d| {
                d.flatten().any(|e| {
                    e.path().extension().is_none_or(|x| x != "info")
                        && e.metadata().is_ok_and(|m| m.is_file() && m.len() >= 256 << 10)
                })
            })
            .unwrap_or(false)
    });
    running.interrupt();
    let out = running.wait(Duration::from_secs(20), "interrupted upload");
    out.assert_code(130).stderr_has(&["interrupted"]);
    assert!(dir.resume_entries().len() == 1, "the resume state is kept");
    let again = dir.command(args).run();
    again.success();
    let url = again.url();
    assert!(out.stderr.contains(url.as_str()), "the same upload was continued\n{}", out.show());
    assert_eq!(server.stored_bytes(&url).unwrap(), bytes);
    assert!(dir.resume_entries().is_empty());
}

// ---- info, options, delete ------------------------------------------------------------------------

/// Creates an upload with the library, not the CLI: `length` bytes or deferred, with `metadata`.
fn create_upload(endpoint: &url::Url, length: tus_proto::Length, metadata: tus_proto::Metadata) -> url::Url {
    let client = tus_client::Client::new().unwrap();
    let create = tus_proto::Create::new(length).metadata(metadata);
    rt().block_on(client.create(endpoint, &create)).unwrap().url
}

#[test]
fn info_json_shape() {
    let server = node_with(NodeOptions { expiration_ms: Some(3_600_000), ..NodeOptions::default() });
    let dir = Dir::new("info");
    let mut md = tus_proto::Metadata::new();
    md.insert("name", "zoë");
    // An unfinished upload of known length, and one with a deferred length.
    let known = create_upload(&server.endpoint(), tus_proto::Length::Known(100), md);
    let deferred = create_upload(&server.endpoint(), tus_proto::Length::Deferred, tus_proto::Metadata::new());

    let out = dir.command(["info", "--json", known.as_str()]).run();
    out.success();
    let info = out.json();
    assert_eq!(keys(&info), BTreeSet::from(["url", "offset", "length", "metadata", "expires"]));
    assert_eq!(info["url"], known.as_str());
    assert_eq!(info["offset"], 0);
    assert_eq!(info["length"], 100);
    assert_eq!(info["metadata"], serde_json::json!({"name": "zoë"}));
    // @tus/server 2.4.5 sends Upload-Expires on POST and PATCH only, never on HEAD.
    assert_eq!(info["expires"], Value::Null);

    let out = dir.command(["info", "--json", deferred.as_str()]).run();
    out.success();
    let info = out.json();
    assert_eq!(keys(&info), BTreeSet::from(["url", "offset", "length", "metadata", "expires"]));
    assert_eq!(info["length"], Value::Null);
    assert_eq!(info["offset"], 0);
    assert_eq!(info["metadata"], serde_json::json!({}));

    let text = dir.command(["info", known.as_str()]).run();
    text.success();
    for needle in ["Offset:    0", "Length:    100", "unfinished", "Expires:   not announced", "name: \"zoë\""] {
        assert!(text.stdout.contains(needle), "{needle:?} missing:\n{}", text.stdout);
    }
    let text = dir.command(["info", deferred.as_str()]).run();
    assert!(text.stdout.contains("deferred"), "{}", text.stdout);
}

#[test]
fn info_shows_the_expiry_a_head_announces() {
    let head = Reply::status(
        200,
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Offset", "3"),
            ("Upload-Length", "10"),
            ("Upload-Expires", "Wed, 25 Nov 2026 10:05:09 GMT"),
        ],
    );
    let server = rt().block_on(HostileServer::start(vec![head]));
    let dir = Dir::new("info-expires");
    let out = dir.command(["info", "--json", server.url("/files/1").as_str()]).run();
    out.success();
    let info = out.json();
    assert_eq!(info["expires"], "2026-11-25T10:05:09Z");
    assert_eq!(info["offset"], 3);
    assert_eq!(info["length"], 10);
    let text = dir.command(["info", server.url("/files/1").as_str()]).run();
    text.success();
    assert!(text.stdout.contains("Expires:   2026-11-25T10:05:09Z"), "{}", text.stdout);
    assert!(text.stdout.contains("30.0% uploaded"), "{}", text.stdout);
}

#[test]
fn info_metadata_that_is_not_utf8_is_base64() {
    // The in-process server keeps metadata bytes as sent (@tus/server would turn them into U+FFFD).
    let server = tus_server();
    let dir = Dir::new("info-bin");
    let mut md = tus_proto::Metadata::new();
    md.insert("bin", [0xff, 0xfe]);
    md.insert("text", "plain");
    md.insert_key("flag");
    let url = create_upload(&server.endpoint(), tus_proto::Length::Known(5), md);
    let out = dir.command(["info", "--json", url.as_str()]).run();
    out.success();
    assert_eq!(out.json()["metadata"], serde_json::json!({"bin": "//4=", "text": "plain", "flag": null}));
    let text = dir.command(["info", url.as_str()]).run();
    text.success();
    assert!(text.stdout.contains("bin: (base64) //4="), "{}", text.stdout);
}

#[test]
fn info_of_a_complete_upload_without_expiry() {
    let server = rustus();
    let dir = Dir::new("info-rustus");
    dir.create("a", b"0123456789");
    let url = dir.command(["upload", server.endpoint().as_str(), "a"]).run().url();
    let out = dir.command(["info", "--json", url.as_str()]).run();
    out.success();
    let info = out.json();
    assert_eq!(info["offset"], 10);
    assert_eq!(info["length"], 10);
    assert_eq!(info["expires"], Value::Null);
    assert!(info["metadata"].is_object());
}

#[test]
fn options_json_shape() {
    let dir = Dir::new("options");
    let server = rustus();
    let out = dir.command(["options", "--json", server.endpoint().as_str()]).run();
    out.success();
    let opts = out.json();
    assert_eq!(keys(&opts), BTreeSet::from(["versions", "extensions", "max_size", "checksum_algorithms"]));
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().expect("array").iter().map(|s| s.as_str().expect("string").to_owned()).collect()
    };
    assert_eq!(strings(&opts["versions"]), ["1.0.0"]);
    let extensions = strings(&opts["extensions"]);
    for e in ["creation", "concatenation", "checksum", "creation-defer-length"] {
        assert!(extensions.iter().any(|x| x == e), "{e} missing: {extensions:?}");
    }
    assert_eq!(opts["max_size"], Value::Null);
    let algorithms = strings(&opts["checksum_algorithms"]);
    assert!(algorithms.iter().any(|a| a == "sha256"), "{algorithms:?}");

    let node = node_with(NodeOptions { max_size: Some(1 << 20), ..NodeOptions::default() });
    let out = dir.command(["options", "--json", node.endpoint().as_str()]).run();
    out.success();
    let opts = out.json();
    assert_eq!(opts["max_size"], 1 << 20);
    assert_eq!(opts["checksum_algorithms"], Value::Array(Vec::new()));

    let text = dir.command(["options", node.endpoint().as_str()]).run();
    text.success();
    assert!(text.stdout.contains("Max size:            1048576"), "{}", text.stdout);
    assert!(text.stdout.contains("Extensions:          creation"), "{}", text.stdout);
}

#[test]
fn delete_then_info_says_gone() {
    let server = node();
    let dir = Dir::new("delete");
    dir.create("a", b"bye");
    let url = dir.command(["upload", server.endpoint().as_str(), "a"]).run().url();
    let out = dir.command(["delete", url.as_str()]).run();
    out.success();
    assert_eq!(out.stdout, "");
    let out = dir.command(["info", url.as_str()]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "404", "does not exist"]);
    assert_eq!(out.stdout, "");
    let out = dir.command(["delete", url.as_str()]).run();
    out.assert_code(1).stderr_has(&["404"]);
}

// ---- usage errors ---------------------------------------------------------------------------------

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = Dir::new("usage");
    dir.create("a", b"x");
    let e = "http://127.0.0.1:9/files/";
    let cases: &[(&[&str], &str)] = &[
        (&["upload", "--bogus", e, "a"], "--bogus"),
        (&["upload", e], "<FILE>"),
        (&["frobnicate"], "frobnicate"),
        (&["upload", "-c", "0", e, "a"], "--chunk-size \"0\""),
        (&["upload", "-c", "4MB", e, "a"], "ambiguous"),
        (&["upload", "-c", "lots", e, "a"], "--chunk-size"),
        (&["upload", "-m", "a b=1", e, "a"], "\"a b\""),
        (&["upload", "-m", "=1", e, "a"], "empty key"),
        (&["upload", "-m", "k=1", "-m", "k=2", e, "a"], "duplicate key"),
        (&["upload", "--pin-sha256", "zz", e, "a"], "--pin-sha256"),
        (&["upload", "--pin-sha256", "abcd", e, "a"], "64"),
        (&["upload", "-H", "nocolon", e, "a"], "NAME: VALUE"),
        (&["upload", "-H", "Upload-Offset: 0", e, "a"], "tus protocol headers"),
        (&["upload", "--checksum", "crc32", e, "a"], "sha256"),
        (&["upload", "-p", "0", e, "a"], "--parallel"),
        (&["upload", "-p", "2", e, "-"], "stdin"),
        (&["upload", e, "-", "a"], "stdin"),
        (&["upload", "--timeout", "0", e, "a"], "--timeout"),
        (&["upload", "--timeout", "soon", e, "a"], "--timeout"),
        (&["upload", "--retries", "many", e, "a"], "--retries"),
        (&["upload", "--cert", "c.pem", e, "a"], "--key"),
        (&["upload", "-k", "--pin-sha256", &"ab".repeat(32), e, "a"], "--insecure"),
        (&["upload", "ftp://example.com/", "a"], "http or https"),
        (&["upload", "not a url", "a"], "invalid URL"),
        (&["info", "/files/x"], "invalid URL"),
        (&["options"], "<ENDPOINT>"),
    ];
    for (args, needle) in cases {
        let out = dir.command(*args).run();
        out.assert_code(2).stderr_has(&[needle]);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains("error"), "{args:?}\n{}", out.show());
    }
}

#[test]
fn help_and_version() {
    let dir = Dir::new("help");
    let out = dir.command(["--help"]).run();
    out.success();
    for word in ["upload", "info", "options", "delete"] {
        assert!(out.stdout.contains(word), "{}", out.stdout);
    }
    let out = dir.command(["upload", "--help"]).run();
    out.success();
    for flag in ["--chunk-size", "--parallel", "--metadata", "--header", "--retries", "--max-retry-delay", "--timeout"]
    {
        assert!(out.stdout.contains(flag), "{flag} missing from upload --help");
    }
    for flag in ["--checksum", "--resume", "--cacert", "--pin-sha256", "--cert", "--key", "--insecure", "--quiet"] {
        assert!(out.stdout.contains(flag), "{flag} missing from upload --help");
    }
    let out = dir.command(["--version"]).run();
    out.success();
    assert!(out.stdout.starts_with("tus "), "{}", out.stdout);
}

// ---- failures -----------------------------------------------------------------------------------

#[test]
fn missing_file_fails() {
    let server = tus_server();
    let dir = Dir::new("missing");
    let out = dir.command(["upload", server.endpoint().as_str(), "nope.bin"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "nope.bin"]);
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let out = dir.command(["upload", server.endpoint().as_str(), "d"]).run();
    out.assert_code(1).stderr_has(&["directory"]);
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn connection_refused_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}/files/");
    let dir = Dir::new("refused");
    dir.create("a", b"x");
    let out = dir.command(["upload", "--retries", "0", &endpoint, "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "cannot connect", "refused"]);
    let out = dir.command(["upload", "--retries", "2", "--max-retry-delay", "0.05", &endpoint, "a"]).run();
    out.assert_code(1).stderr_has(&["gave up after 3 attempts", "cannot connect"]);
    for cmd in ["info", "options", "delete"] {
        let out = dir.command([cmd, "--retries", "0", &format!("{endpoint}x")]).run();
        out.assert_code(1).stderr_has(&["cannot connect"]);
    }
}

#[test]
fn wrong_endpoint_fails_with_the_status() {
    let server = rustus();
    let dir = Dir::new("404");
    dir.create("a", b"x");
    let endpoint = server.endpoint().join("/nothing-here/").unwrap();
    let out = dir.command(["upload", endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "404", "creation URL"]);
}

#[test]
fn hostile_servers_fail_cleanly() {
    let dir = Dir::new("hostile");
    dir.create("a", &data(5000, 14));
    let scripts: Vec<(Vec<Reply>, &str)> = vec![
        (vec![Reply::raw("this is not HTTP\r\n\r\n")], "tus: error:"),
        (vec![Reply::status(201, &[("Tus-Resumable", "1.0.0")])], "Location"),
        (vec![Reply::status(201, &[("Tus-Resumable", "1.0.0"), ("Location", "ftp://x/y")])], "Location"),
        (
            vec![
                Reply::status(201, &[("Tus-Resumable", "1.0.0"), ("Location", "/files/1")]),
                Reply::status(204, &[("Tus-Resumable", "1.0.0"), ("Upload-Offset", "999999")]),
            ],
            "Upload-Offset",
        ),
        (vec![Reply::response(403, &[("Content-Type", "text/plain")], b"quota exceeded")], "quota exceeded"),
        (vec![Reply::Close], "tus: error:"),
    ];
    for (script, needle) in scripts {
        let server = rt().block_on(HostileServer::start(script));
        let out = dir
            .command(["upload", "--retries", "1", "--max-retry-delay", "0.05", "--timeout", "2"])
            .args([server.url("/files/").as_str(), "a"])
            .run();
        out.assert_code(1).stderr_has(&[needle]);
    }
    // Silence: the stall timeout ends it.
    let server = rt().block_on(HostileServer::start(vec![Reply::Silent]));
    let out = dir.command(["upload", "--retries", "0", "--timeout", "0.3", server.url("/files/").as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["timed out"]);
    // HEAD without Upload-Offset (a HEAD answered as a GET by a proxy).
    let server = rt().block_on(HostileServer::start(vec![Reply::status(200, &[("Tus-Resumable", "1.0.0")])]));
    let out = dir.command(["info", "--retries", "0", server.url("/files/1").as_str()]).run();
    out.assert_code(1).stderr_has(&["Upload-Offset"]);
}

// ---- TLS ------------------------------------------------------------------------------------------

struct Tls {
    proxy: tus_tests::tls_proxy::TlsProxy,
    upstream: tus_tests::real::RealServer,
}

/// @tus/server (relative `Location`, so uploads stay on the proxy's https URL) behind a TLS proxy
/// presenting `leaf`, optionally requiring a client certificate from the test CA.
fn tls_node(pki: &tus_tests::certs::TestPki, leaf: &tus_tests::certs::LeafCert, mtls: bool) -> Tls {
    let upstream = node_with(NodeOptions { relative_location: true, ..NodeOptions::default() });
    let config = tus_tests::certs::TestPki::server_config(leaf, mtls.then_some(&pki.ca));
    let proxy = rt().block_on(tus_tests::tls_proxy::TlsProxy::start(upstream.addr(), config));
    Tls { proxy, upstream }
}

fn colons(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":")
}

#[test]
fn tls_trust_and_pinning() {
    let pki = tus_tests::certs::TestPki::new();
    let dir = Dir::new("tls");
    let files = pki.write_to(dir.path()).unwrap();
    let bytes = data(200_000, 15);
    dir.create("a", &bytes);
    let tls = tls_node(&pki, &pki.server, false);
    let endpoint = tls.proxy.url("/files/");
    let fail_fast = ["--retries", "0"];

    // Default trust (Mozilla roots) refuses the test CA.
    let out = dir.command(["upload"]).args(fail_fast).args([endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:", "TLS handshake", "certificate"]);

    // --cacert trusts it.
    let out = dir.command(["upload", "--cacert"]).arg(&files.ca_cert).args([endpoint.as_str(), "a"]).run();
    out.success();
    let url = out.url();
    assert_eq!(url.scheme(), "https");
    assert_eq!(tls.upstream.stored_bytes(&url).unwrap(), bytes);
    dir.command(["info", "--cacert"]).arg(&files.ca_cert).arg(url.as_str()).run().success();

    // A pin replaces chain validation, plain or colon-separated.
    for pin in [pki.server.sha256_hex.clone(), colons(&pki.server.sha256_hex.to_uppercase())] {
        let out = dir.command(["upload", "--pin-sha256", &pin, endpoint.as_str(), "a"]).run();
        out.success();
    }
    // One of several pins is enough (rotation).
    dir.command(["options", "--pin-sha256", &pki.server2.sha256_hex, "--pin-sha256", &pki.server.sha256_hex])
        .arg(endpoint.as_str())
        .run()
        .success();

    // A mismatch names both fingerprints, even with a trusted chain.
    let out = dir
        .command(["upload", "--pin-sha256", &pki.server2.sha256_hex, "--cacert"])
        .arg(&files.ca_cert)
        .args(fail_fast)
        .args([endpoint.as_str(), "a"])
        .run();
    out.assert_code(1).stderr_has(&[
        "tus: error:",
        "matches no pin",
        &colons(&pki.server.sha256_hex),
        &colons(&pki.server2.sha256_hex),
    ]);
}

#[test]
fn tls_insecure_and_client_certificates() {
    let pki = tus_tests::certs::TestPki::new();
    let dir = Dir::new("tls-k");
    let files = pki.write_to(dir.path()).unwrap();
    dir.create("a", b"over tls");

    // A self-signed certificate: refused by default (even with the CA), accepted with -k.
    let tls = tls_node(&pki, &pki.self_signed, false);
    let endpoint = tls.proxy.url("/files/");
    let out =
        dir.command(["upload", "--retries", "0", "--cacert"]).arg(&files.ca_cert).args([endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["TLS handshake"]);
    let out = dir.command(["upload", "-k", endpoint.as_str(), "a"]).run();
    out.success();
    assert_eq!(tls.upstream.stored_bytes(&out.url()).unwrap(), b"over tls");

    // mTLS: the proxy wants a client certificate signed by the test CA.
    let tls = tls_node(&pki, &pki.server, true);
    let endpoint = tls.proxy.url("/files/");
    let out =
        dir.command(["upload", "--retries", "0", "--cacert"]).arg(&files.ca_cert).args([endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:"]);
    let out = dir
        .command(["upload", "--cacert"])
        .arg(&files.ca_cert)
        .arg("--cert")
        .arg(&files.client_cert)
        .arg("--key")
        .arg(&files.client_key)
        .args([endpoint.as_str(), "a"])
        .run();
    out.success();
    assert_eq!(tls.upstream.stored_bytes(&out.url()).unwrap(), b"over tls");

    // Unreadable PEM files are operation failures naming the file.
    let out = dir.command(["upload", "--cacert", "missing.pem", endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["--cacert", "missing.pem"]);
    let out = dir.command(["upload", "--cacert"]).arg(&files.client_key).args([endpoint.as_str(), "a"]).run();
    out.assert_code(1).stderr_has(&["tus: error:"]);
}
