//! `cargo xtask demo [--release]`: the tus CLI against a real server, interrupted and resumed.
//!
//! 1. builds `tus` (`cargo build -p tus-cli`, dev profile unless `--release`);
//! 2. installs rustus if it is missing (`cargo xtask servers install`);
//! 3. starts rustus on a free loopback port, data in a temporary directory, behind a small throttling
//!    TCP proxy (so that an interruption lands mid-upload even on a fast loopback);
//! 4. writes 64 MiB of seeded pseudo-random bytes;
//! 5. runs `tus upload --resume` with the progress bar on the terminal, and sends it SIGINT once part
//!    of the file is on the server;
//! 6. runs the same command again, which resumes from the server's offset;
//! 7. checks that the server stores exactly the source's bytes.
//!
//! The resume state goes to a temporary `XDG_CACHE_HOME`. The server is stopped and the temporary
//! directory removed at the end (it is kept when a step fails, for a look at the server's files).

use std::{
    fs,
    io::{self, BufRead as _, BufReader, BufWriter, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::{cargo, display, servers, tools_dir, workspace_root};

/// Size of the demo file.
const FILE_SIZE: u64 = 64 << 20;
/// Seed of the demo file's bytes.
const SEED: u64 = 0x7475_732d_7273_2121;
/// Bytes per PATCH.
const CHUNK: &str = "256KiB";
/// Upload rate through the proxy: a 64 MiB upload takes a few seconds, long enough to watch and to
/// interrupt.
const RATE: u64 = 24 << 20;
/// The interruption comes once the server holds this much.
const INTERRUPT_AT: u64 = FILE_SIZE / 4;
/// rustus refuses bodies above 256 KiB by default.
const MAX_BODY: u64 = 16 << 20;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn run(args: &[&str]) -> Result<()> {
    let release = match args {
        [] => false,
        ["--release"] => true,
        _ => bail!("usage: cargo xtask demo [--release]"),
    };
    let start = Instant::now();
    let tmp = TempDir::new()?;
    let result = demo(release, &tmp);
    match &result {
        Ok(()) => println!("demo: ok: every step passed in {:.1}s", start.elapsed().as_secs_f64()),
        Err(_) => {
            tmp.keep();
            eprintln!("demo: FAILED; the files are kept in {}", tmp.path.display());
        }
    }
    result
}

fn demo(release: bool, tmp: &TempDir) -> Result<()> {
    step(1, "building the tus CLI");
    let tus = build_cli(release)?;
    println!("demo:   {}", tus.display());

    step(2, "checking the rustus install");
    let rustus = tools_dir().join("rustus/bin/rustus");
    if !rustus.is_file() {
        println!("demo:   {} is missing: running `cargo xtask servers install`", rustus.display());
        servers::install().context("installing the servers")?;
    }
    ensure!(rustus.is_file(), "{} is still missing after `cargo xtask servers install`", rustus.display());
    println!("demo:   {} (rustus {})", rustus.display(), servers::RUSTUS_VERSION);

    step(3, "starting rustus");
    let data = tmp.path.join("data");
    fs::create_dir_all(&data)?;
    let server = Server::start(&rustus, &data, &tmp.path.join("rustus.log"))?;
    let proxy = Throttle::start(server.addr, RATE)?;
    let endpoint = format!("http://{}/files/", proxy.addr);
    println!("demo:   rustus on http://{}/files/, data in {}", server.addr, data.display());
    println!(
        "demo:   the client talks to {endpoint}: a proxy that passes uploads at {} MiB/s, so that the \
         interruption lands mid-upload",
        RATE >> 20
    );

    step(4, "writing the file to upload");
    let file = tmp.path.join("demo.bin");
    write_file(&file)?;
    let source = fs::read(&file)?;
    println!(
        "demo:   {}: {} bytes of seeded pseudo-random data, FNV-1a-64 {:016x}",
        file.display(),
        source.len(),
        fnv1a64(&source)
    );

    let cache = tmp.path.join("cache");
    let upload = |stdout: Stdio| {
        let mut cmd = Command::new(&tus);
        cmd.args(["upload", "--resume", "--chunk-size", CHUNK, &endpoint])
            .arg(&file)
            .env("XDG_CACHE_HOME", &cache)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit());
        cmd
    };

    step(5, "uploading, then interrupting with Ctrl-C (SIGINT)");
    let mut first = upload(Stdio::piped());
    println!("demo:   $ XDG_CACHE_HOME={} {}", cache.display(), display(&first));
    let mut child = first.spawn().with_context(|| format!("could not start {}", tus.display()))?;
    let held = wait_for_bytes(&data, INTERRUPT_AT, &mut child)?;
    let pid = child.id();
    interrupt(&child)?;
    let (status, stdout) = wait(child)?;
    // Printed now, not before: tus's progress bar was still drawing on the terminal.
    println!("demo:   sent SIGINT to tus (pid {pid}) once the server held {held} bytes");
    ensure!(status.code() == Some(130), "the interrupted upload exited with {status}, expected 130");
    ensure!(stdout.trim().is_empty(), "the interrupted upload printed {stdout:?} on stdout");
    let sent_first = proxy.uploaded();
    let url = stored_url(&cache)?;
    let info = info(&tus, &url)?;
    let offset = info["offset"].as_u64().context("no offset in `tus info --json`")?;
    ensure!(offset > 0 && offset < FILE_SIZE, "after the interruption the server holds {offset} of {FILE_SIZE} bytes");
    println!("demo:   exit status 130: interrupted");
    println!("demo:   upload URL (from the resume state in {}): {url}", cache.display());
    println!(
        "demo:   `tus info` says: offset {offset} of {} bytes ({:.1}%)",
        info["length"],
        offset as f64 * 100.0 / FILE_SIZE as f64
    );

    step(6, "the same command again: it resumes");
    let mut second = upload(Stdio::piped());
    println!("demo:   $ XDG_CACHE_HOME={} {}", cache.display(), display(&second));
    let child = second.spawn().with_context(|| format!("could not start {}", tus.display()))?;
    let (status, stdout) = wait(child)?;
    ensure!(status.success(), "the resumed upload failed ({status})");
    let final_url = stdout.trim();
    ensure!(final_url == url, "the second run printed {final_url:?}, but the interrupted upload was {url}");
    let sent_second = proxy.uploaded() - sent_first;
    let uploads = count_uploads(&data)?;
    ensure!(uploads == 1, "the server holds {uploads} uploads, expected the one resumed");
    ensure!(
        sent_second < FILE_SIZE - offset / 2,
        "the second run sent {sent_second} bytes: it restarted instead of resuming from {offset}"
    );
    ensure!(stored_url(&cache).is_err(), "the resume state was not forgotten after the upload completed");
    println!("demo:   exit status 0; tus printed {final_url}");
    println!("demo:   resumed, not restarted: the same upload URL, still one upload on the server, and this run");
    println!(
        "demo:   sent {sent_second} bytes (with HTTP heads) for the {} the server lacked, not {FILE_SIZE}",
        FILE_SIZE - offset
    );
    println!("demo:   the resume state was forgotten on success");

    step(7, "checking what the server stored");
    let stored_path = stored_path(&data, &url)?;
    let stored = fs::read(&stored_path).with_context(|| format!("reading {}", stored_path.display()))?;
    println!("demo:   source {} bytes, FNV-1a-64 {:016x}", source.len(), fnv1a64(&source));
    println!("demo:   stored {} bytes, FNV-1a-64 {:016x} ({})", stored.len(), fnv1a64(&stored), stored_path.display());
    ensure!(stored.len() == source.len(), "the server stored {} bytes, the source has {}", stored.len(), source.len());
    if let Some(at) = stored.iter().zip(&source).position(|(a, b)| a != b) {
        bail!("the stored bytes differ from the source from byte {at} on");
    }
    println!("demo:   identical, byte for byte");

    drop(proxy);
    server.stop();
    println!("demo:   rustus stopped");
    Ok(())
}

fn step(n: u32, what: &str) {
    println!("\ndemo: [{n}/7] {what}");
}

/// `cargo build -p tus-cli`; the path of the `tus` executable, from cargo's JSON messages.
fn build_cli(release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "tus-cli", "--bin", "tus", "--message-format=json-render-diagnostics"])
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if release {
        cmd.arg("--release");
    }
    let shown = display(&cmd);
    println!("demo:   $ {shown}");
    let mut child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
    let mut exe = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
            if msg["reason"] == "compiler-artifact"
                && msg["target"]["name"] == "tus"
                && let Some(path) = msg["executable"].as_str()
            {
                exe = Some(PathBuf::from(path));
            }
        }
    }
    let status = child.wait()?;
    ensure!(status.success(), "`{shown}` failed ({status})");
    exe.context("cargo built no `tus` executable")
}

/// rustus in a child process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(bin: &Path, data: &Path, log: &Path) -> Result<Self> {
        let mut last_error = None;
        for _attempt in 0..5 {
            let port = free_port()?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let log_file = fs::File::create(log)?;
            let mut cmd = Command::new(bin);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--url", "/files"])
                .arg("--data-dir")
                .arg(data)
                .arg("--info-dir")
                .arg(data)
                .args(["--max-body-size", &MAX_BODY.to_string(), "--workers", "2", "--log-level", "INFO"])
                .current_dir(data)
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file);
            let child = cmd.spawn().with_context(|| format!("could not start {}", bin.display()))?;
            let mut server = Self { child, addr };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let text = fs::read_to_string(log).unwrap_or_default();
                    let in_use = text.contains("AddrInUse") || text.contains("Address already in use");
                    last_error = Some(e.context(format!("rustus log:\n{}", tail(&text, 20))));
                    if !in_use {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("rustus did not start")))
    }

    /// Until `OPTIONS /files/` answers 2xx with `Tus-Version`.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("rustus exited early ({status})");
            }
            if probe(self.addr).is_ok() {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "rustus did not answer OPTIONS within {READY_TIMEOUT:?}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        // SIGKILL: rustus (actix) takes ~30 s to stop gracefully on SIGTERM.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn probe(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(stream, "OPTIONS /files/ HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let ok = response.starts_with("HTTP/1.1 2") && response.to_ascii_lowercase().contains("\ntus-version:");
    if ok { Ok(()) } else { Err(io::Error::other("not a tus server")) }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A TCP proxy that passes client-to-server bytes at `rate` bytes per second per connection (and
/// server-to-client bytes freely), counting them. Its threads end with the process.
struct Throttle {
    addr: SocketAddr,
    uploaded: Arc<AtomicU64>,
}

impl Throttle {
    fn start(upstream: SocketAddr, rate: u64) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let uploaded = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&uploaded);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    let _ = relay(client, upstream, rate, &counter);
                });
            }
        });
        Ok(Self { addr, uploaded })
    }

    /// Bytes passed from clients to the server so far.
    fn uploaded(&self) -> u64 {
        self.uploaded.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, upstream: SocketAddr, rate: u64, counter: &AtomicU64) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut down_from, mut down_to) = (server.try_clone()?, client.try_clone()?);
    thread::spawn(move || {
        let _ = io::copy(&mut down_from, &mut down_to);
        let _ = down_to.shutdown(std::net::Shutdown::Write);
    });
    let (mut from, mut to) = (client, server);
    let start = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])?;
        total += n as u64;
        counter.fetch_add(n as u64, Ordering::SeqCst);
        let due = Duration::from_secs_f64(total as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
    }
    to.shutdown(std::net::Shutdown::Write)
}

/// Writes [`FILE_SIZE`] bytes from xorshift64* seeded with [`SEED`].
fn write_file(path: &Path) -> Result<()> {
    let mut out = BufWriter::new(fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    let mut x = SEED;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..FILE_SIZE / block.len() as u64 {
        for word in block.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            word.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.write_all(&block)?;
    }
    out.flush()?;
    Ok(())
}

/// Waits until one upload file in rustus's data directory holds at least `at` bytes; returns its size.
fn wait_for_bytes(data: &Path, at: u64, child: &mut Child) -> Result<u64> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let held = upload_files(data)?.iter().filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).max().unwrap_or(0);
        if held >= at {
            return Ok(held);
        }
        if let Some(status) = child.try_wait()? {
            bail!("tus finished ({status}) before it could be interrupted, with {held} bytes on the server");
        }
        ensure!(Instant::now() < deadline, "the server got only {held} bytes in {RUN_TIMEOUT:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// rustus keeps each upload's bytes in `<data>/<id>` and its record in `<data>/<id>.info`.
fn upload_files(data: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(data)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_none() {
            files.push(path);
        }
    }
    Ok(files)
}

fn count_uploads(data: &Path) -> Result<usize> {
    Ok(fs::read_dir(data)?.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "info")).count())
}

/// Where rustus keeps the bytes of the upload at `url`: the `path` of its `.info` record.
fn stored_path(data: &Path, url: &str) -> Result<PathBuf> {
    let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    ensure!(!id.is_empty() && !id.contains(".."), "no upload id in {url}");
    let record = data.join(format!("{id}.info"));
    let text = fs::read_to_string(&record).with_context(|| format!("reading {}", record.display()))?;
    let info: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", record.display()))?;
    Ok(info["path"].as_str().map_or_else(|| data.join(id), PathBuf::from))
}

/// The upload URL in the CLI's resume state (`$XDG_CACHE_HOME/tus-rs/uploads/*.upload`).
fn stored_url(cache: &Path) -> Result<String> {
    let dir = cache.join("tus-rs/uploads");
    let mut urls = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "upload") {
            let text = fs::read_to_string(&path)?;
            urls.extend(text.lines().filter_map(|l| l.strip_prefix("url=")).map(str::to_owned));
        }
    }
    match urls.as_slice() {
        [url] => Ok(url.clone()),
        [] => bail!("no resume state in {}", dir.display()),
        _ => bail!("{} resume entries in {}, expected one", urls.len(), dir.display()),
    }
}

/// `tus info --json <url>`.
fn info(tus: &Path, url: &str) -> Result<Value> {
    let out = Command::new(tus).args(["info", "--json", url]).stdin(Stdio::null()).output()?;
    ensure!(out.status.success(), "`tus info` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    serde_json::from_slice(&out.stdout).context("parsing `tus info --json`")
}

fn interrupt(child: &Child) -> Result<()> {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().context("running kill")?;
    ensure!(status.success(), "`kill -INT {}` failed ({status})", child.id());
    Ok(())
}

/// Waits for the exit, at most [`RUN_TIMEOUT`]; returns the status and stdout.
fn wait(mut child: Child) -> Result<(ExitStatus, String)> {
    let mut stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("tus did not finish within {RUN_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok((status, reader.join().unwrap_or_default()))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A temporary directory, removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: std::cell::Cell<bool>,
}

impl TempDir {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("tus-demo-{}-{nanos:08x}", std::process::id()));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path, keep: std::cell::Cell::new(false) })
    }

    fn keep(&self) {
        self.keep.set(true);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep.get() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
