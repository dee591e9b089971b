//! `tus upload`.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use indicatif::HumanBytes;
use tus_retry::{CancellationToken, FileStore, Source, Uploader, Url};

use crate::client;
use crate::config::{Input, Mode, UploadConfig};
use crate::progress::Display;
use crate::report::Exit;

pub(crate) async fn run(cfg: UploadConfig) -> Result<(), Exit> {
    // First, so that a Ctrl-C from here on stops the upload cleanly instead of killing the process.
    let cancel = cancel_on_ctrl_c()?;

    let sources = cfg.inputs.iter().map(open).collect::<anyhow::Result<Vec<Source>>>()?;
    let total = sources.iter().map(Source::len).sum::<Option<u64>>();
    let parts_at_once = match cfg.mode {
        Mode::Single => 1,
        Mode::Split(n) | Mode::Multiple(n) => n,
    };
    let display = Display::new(!cfg.quiet, total);

    let mut uploader = Uploader::new(client::client(&cfg.connection)?)
        .retry(client::retry(&cfg.connection))
        .chunk_size(cfg.chunk_size)
        .checksum(cfg.checksum.clone())
        .cancel_token(cancel)
        .on_progress(display.callback(cfg.chunk_size.saturating_mul(parts_at_once as u64)));
    if cfg.resume {
        if cfg.inputs == [Input::Stdin] || sources.iter().any(|s| !s.is_seekable()) {
            crate::report::warn("--resume has no effect on a stream (stdin or a pipe): it cannot be read again");
        }
        let dir = FileStore::default_dir()
            .ok_or_else(|| anyhow!("--resume needs a cache directory, but neither XDG_CACHE_HOME nor HOME is set"))?;
        let store = FileStore::new(&dir)
            .with_context(|| format!("cannot create the resume state directory {}", dir.display()))?;
        uploader = uploader.store(Arc::new(store));
    }

    let endpoint = &cfg.endpoint;
    let metadata = cfg.metadata.clone();
    let result = match cfg.mode {
        Mode::Single => {
            let source = sources.into_iter().next().ok_or_else(|| anyhow!("nothing to upload"))?;
            uploader.upload(endpoint, source, metadata).await
        }
        Mode::Split(parts) => {
            let source = sources.into_iter().next().ok_or_else(|| anyhow!("nothing to upload"))?;
            uploader.upload_parallel(endpoint, source, parts, metadata).await
        }
        Mode::Multiple(at_once) => {
            uploader.parallel_uploads(at_once).upload_multiple(endpoint, sources, metadata).await
        }
    };

    match result {
        Ok(url) => {
            display.finish();
            let mut out = std::io::stdout().lock();
            writeln!(out, "{url}").and_then(|()| out.flush()).context("cannot write the upload URL to stdout")?;
            Ok(())
        }
        Err(e) if e.is_cancelled() => {
            display.abandon();
            interrupted(&cfg, &display, e.upload_url());
            Err(Exit::Interrupted)
        }
        Err(e) => {
            display.abandon();
            let hints = failure_hints(&cfg, &e);
            Err(crate::report::retry_failure(e, what(&cfg), hints))
        }
    }
}

/// What was being done, for the first part of an error message.
fn what(cfg: &UploadConfig) -> String {
    let inputs: Vec<String> = cfg.inputs.iter().map(Input::display).collect();
    format!("uploading {} failed", inputs.join(", "))
}

fn open(input: &Input) -> anyhow::Result<Source> {
    match input {
        Input::Stdin => Ok(Source::reader(tokio::io::stdin())),
        Input::File(path) => {
            let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
            if meta.is_dir() {
                return Err(anyhow!("cannot upload {}: it is a directory", path.display()));
            }
            if meta.is_file() {
                return Source::file(path).with_context(|| format!("cannot read {}", path.display()));
            }
            // A pipe or a device (`<(command)`, /dev/stdin): a stream of unknown length.
            let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Source::reader(tokio::fs::File::from_std(file)))
        }
    }
}

fn interrupted(cfg: &UploadConfig, display: &Display, url: Option<&Url>) {
    let last = display.last();
    let held = match last.total {
        Some(total) => format!("{} of {}", HumanBytes(last.confirmed), HumanBytes(total)),
        None => format!("{}", HumanBytes(last.confirmed)),
    };
    let mut err = std::io::stderr().lock();
    let part = if cfg.mode == Mode::Single { "" } else { " (one of its parts)" };
    let _ = match url {
        Some(url) => writeln!(err, "tus: interrupted; {held} are on the server, at {url}{part}"),
        None => writeln!(err, "tus: interrupted before the upload was created"),
    };
    if cfg.resume && url.is_some() {
        let _ = writeln!(err, "tus: run the same command again (with --resume) to continue from there");
    } else if url.is_some() {
        let _ = writeln!(err, "tus: the upload is unfinished; with --resume, an interrupted upload can be continued");
    }
}

fn failure_hints(cfg: &UploadConfig, e: &tus_retry::Error) -> Vec<String> {
    let mut hints = Vec::new();
    if let Some(status) = e.client_error().and_then(tus_client::Error::status) {
        if matches!(status.as_u16(), 404 | 405) && e.upload_url().is_none() {
            hints.push(format!("hint: is {} the server's creation URL (its tus endpoint)?", cfg.endpoint));
        }
    }
    if cfg.resume && e.upload_url().is_some() {
        hints.push("hint: run the same command again (with --resume) to continue where it stopped".to_owned());
    } else if let Some(url) = e.upload_url() {
        hints.push(format!("the unfinished upload is at {url}"));
    }
    hints
}

/// A token cancelled by the first Ctrl-C; a second one exits at once.
fn cancel_on_ctrl_c() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered now, not when the task first runs, so no early Ctrl-C kills the process.
        let mut interrupts = signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?;
        tokio::spawn(async move {
            if interrupts.recv().await.is_some() {
                cancel.cancel();
            }
            if interrupts.recv().await.is_some() {
                crate::progress::clear();
                eprintln!("tus: interrupted again; exiting");
                std::process::exit(crate::report::INTERRUPTED);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::progress::clear();
            eprintln!("tus: interrupted again; exiting");
            std::process::exit(crate::report::INTERRUPTED);
        }
    });
    Ok(token)
}
