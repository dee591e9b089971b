//! [`RealServer`]: a real tus server (rustus or @tus/server) in a child process, for interop tests.
//!
//! The servers are installed under `<workspace>/.tools/` (or `$TUS_TOOLS_DIR`) by
//! `cargo xtask servers install`; a missing install is an error that says so, never a skip.
//!
//! ```text
//! let server = RealServer::rustus(RustusOptions::default()).await?;
//! // ... run the client against server.endpoint() (http://127.0.0.1:<port>/files/) ...
//! assert_eq!(server.stored_bytes(&upload_url)?, data);
//! ```
//!
//! Each server gets a fresh temporary data directory and a free port on 127.0.0.1, and is killed when
//! the [`RealServer`] is dropped. Both are also tied to the test process's lifetime through a stdin
//! pipe, so they do not outlive a test binary that is killed: @tus/server (`tus-node-server.mjs`)
//! exits when its stdin closes, and rustus runs under a small `sh` watchdog that SIGKILLs it then
//! (rustus itself ignores stdin and takes ~30 s to stop on SIGTERM: actix's graceful shutdown).
//!
//! What each server stores, and where:
//!
//! - rustus 0.5.10 (`file-storage` + `file-info-storage`, both pointed at the data directory):
//!   bytes in `<data>/<dir-structure>/<id>` (the dir structure is empty by default), and a JSON
//!   record `<data>/<id>.info` whose `path` field is the absolute path of the bytes. Ids are UUIDs.
//! - @tus/server 2.4.5 + @tus/file-store 2.1.1 (`FileStore` with its default `FileConfigstore`):
//!   bytes in `<data>/<id>`, JSON record (`size`, `metadata`, `creation_date`) in `<data>/<id>.json`.
//!   Ids are 32 hex digits.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};

/// How long a server may take to answer `OPTIONS` after being started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The creation path both servers are configured with.
pub const BASE_PATH: &str = "/files";

const INSTALL_HINT: &str = "run `cargo xtask servers install` (CI runs it \
                            as the first step of `cargo xtask ci`)";
/// Attempts at finding a free port for rustus (it cannot bind port 0 and report the port).
const PORT_ATTEMPTS: usize = 5;
/// Captured server output kept for error messages and [`RealServer::logs`].
const LOG_LIMIT: usize = 256 * 1024;

/// `<workspace>/.tools`, or `$TUS_TOOLS_DIR` when set (the same rule as `cargo xtask`).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("TUS_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests package lives one level below the workspace root")
            .join(".tools"),
    }
}

/// Path of the rustus binary installed by `cargo xtask servers install`.
pub fn rustus_bin() -> PathBuf {
    tools_dir().join("rustus/bin/rustus")
}

/// Directory holding `tus-node-server.mjs` and its `node_modules`.
pub fn node_dir() -> PathBuf {
    tools_dir().join("node")
}

/// Which real server a [`RealServer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// rustus (Rust, actix-web), built with the `hashers` feature.
    Rustus,
    /// @tus/server with @tus/file-store on Node.js (tus-node-server).
    Node,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rustus => "rustus",
            Self::Node => "tus-node-server",
        })
    }
}

/// Settings for [`RealServer::rustus`]. The defaults are rustus's own except `workers`.
///
/// rustus 0.5.10 has no option to limit the upload size (no `Tus-Max-Size`) and accepts
/// `Upload-Length: 0` without any flag (`--allow-empty` only exists in later releases).
#[derive(Debug, Clone, Default)]
pub struct RustusOptions {
    /// `--max-body-size`: the largest request body (PATCH or creation-with-upload POST) rustus
    /// reads; bigger bodies get `413`. rustus's default is 262144 (256 KiB).
    pub max_body_size: Option<usize>,
    /// `--tus-extensions`: the enabled extensions, replacing rustus's default
    /// `getting,creation,termination,creation-with-upload,creation-defer-length,concatenation,checksum`.
    pub extensions: Option<Vec<String>>,
    /// `--dir-structure`: subdirectories of the data directory for the bytes, a template with
    /// `{year}`, `{month}`, `{day}`, `{hour}`, `{minute}` (UTC), e.g. `"{year}/{month}/{day}"`.
    /// Upload records stay at `<data>/<id>.info`.
    pub dir_structure: Option<String>,
    /// `--remove-parts true`: delete partial uploads once a final upload is concatenated.
    pub remove_parts: bool,
    /// `--workers` (actix worker threads); `None` means 2 here, not one per core.
    pub workers: Option<usize>,
    /// Further arguments, appended as given.
    pub extra_args: Vec<String>,
}

/// Settings for [`RealServer::node`] (flags of `tus-node-server.mjs`).
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// `--relative-location`: `Location: /files/<id>` instead of `http://127.0.0.1:<port>/files/<id>`.
    pub relative_location: bool,
    /// `--expiration-ms`: FileStore's `expirationPeriodInMilliseconds`. With a value > 0 the server
    /// sends `Upload-Expires` on POST/PATCH of unfinished uploads and answers `410` once expired.
    pub expiration_ms: Option<u64>,
    /// `--max-size`: the server's `maxSize` (advertised as `Tus-Max-Size`; larger uploads get `413`).
    pub max_size: Option<u64>,
    /// `--disable-termination-for-finished-uploads` (DELETE of a finished upload gets `400`).
    pub disable_termination_for_finished_uploads: bool,
}

/// A running real tus server; killed on drop.
pub struct RealServer {
    kind: ServerKind,
    addr: SocketAddr,
    version: String,
    data_dir: PathBuf,
    log: Log,
    // On drop: stdin is closed (node exits; rustus's watchdog SIGKILLs rustus), the direct child
    // (node, or rustus's `sh`) gets SIGKILL, then the data directory is removed.
    child: Child,
    stdin: Option<ChildStdin>,
    _tmp: tempfile::TempDir,
}

impl fmt::Debug for RealServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealServer")
            .field("kind", &self.kind)
            .field("addr", &self.addr)
            .field("version", &self.version)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.start_kill();
    }
}

impl RealServer {
    /// Starts rustus on a free port of 127.0.0.1 with a fresh data directory and waits until it
    /// answers `OPTIONS /files/`.
    pub async fn rustus(options: RustusOptions) -> Result<Self, String> {
        let bin = rustus_bin();
        if !bin.is_file() {
            return Err(format!("rustus is not installed ({} is missing): {INSTALL_HINT}", bin.display()));
        }
        let version = command_output(&bin, &["--version"]).await?; // "Rustus 0.5.10"
        let version = version.replacen("Rustus", "rustus", 1);

        let mut last_error = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let tmp = tempdir()?;
            let data_dir = tmp.path().join("data");
            std::fs::create_dir(&data_dir).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;
            let port = free_port()?;

            let mut args: Vec<String> = vec![
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--url".into(),
                BASE_PATH.into(),
                "--data-dir".into(),
                data_dir.display().to_string(),
                "--info-dir".into(),
                data_dir.display().to_string(),
                "--workers".into(),
                options.workers.unwrap_or(2).to_string(),
                "--log-level".into(),
                "INFO".into(),
            ];
            if let Some(size) = options.max_body_size {
                args.extend(["--max-body-size".into(), size.to_string()]);
            }
            if let Some(extensions) = &options.extensions {
                args.extend(["--tus-extensions".into(), extensions.join(",")]);
            }
            if let Some(dirs) = &options.dir_structure {
                args.extend(["--dir-structure".into(), dirs.clone()]);
            }
            if options.remove_parts {
                args.extend(["--remove-parts".into(), "true".into()]);
            }
            args.extend(options.extra_args.iter().cloned());

            // sh runs rustus in the background and SIGKILLs it once our end of its stdin closes,
            // i.e. when this RealServer is dropped or the test process dies.
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(RUSTUS_WATCHDOG)
                .arg("rustus-watchdog")
                .arg(&bin)
                .args(&args)
                .current_dir(tmp.path())
                .env("NO_COLOR", "1")
                .env_remove("CLICOLOR_FORCE");
            // Configuration from the environment would override nothing we pass but could add to it.
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("RUSTUS_") {
                    cmd.env_remove(key);
                }
            }
            let spawned = spawn(cmd, &bin)?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            // actix logs "Starting N workers" only after binding, so an answer to OPTIONS before that
            // line would come from some other process that grabbed the port.
            match spawned.wait_ready(|log| log.contains("Starting ").then_some(addr)).await {
                Ok((child, stdin, log, _)) => {
                    return Ok(Self {
                        kind: ServerKind::Rustus,
                        addr,
                        version,
                        data_dir,
                        log,
                        child,
                        stdin,
                        _tmp: tmp,
                    });
                }
                Err(err) => {
                    let retry = err.exited
                        && (err.message.contains("AddrInUse") || err.message.contains("Address already in use"));
                    last_error = format!("rustus (attempt {attempt}, port {port}): {}", err.message);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    /// Starts @tus/server (FileStore) on a free port of 127.0.0.1 with a fresh data directory and waits
    /// until it answers `OPTIONS /files/`.
    pub async fn node(options: NodeOptions) -> Result<Self, String> {
        let dir = node_dir();
        let script = dir.join("tus-node-server.mjs");
        let server_pkg = dir.join("node_modules/@tus/server/package.json");
        let store_pkg = dir.join("node_modules/@tus/file-store/package.json");
        for path in [&script, &server_pkg, &store_pkg] {
            if !path.is_file() {
                return Err(format!("@tus/server is not installed ({} is missing): {INSTALL_HINT}", path.display()));
            }
        }
        let node_version = command_output(Path::new("node"), &["--version"]).await?;
        let version = format!(
            "@tus/server {}, @tus/file-store {}, node {node_version}",
            package_version(&server_pkg)?,
            package_version(&store_pkg)?
        );

        let tmp = tempdir()?;
        let data_dir = tmp.path().join("data");
        std::fs::create_dir(&data_dir).map_err(|e| format!("creating {}: {e}", data_dir.display()))?;
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--path", BASE_PATH, "--dir"])
            .arg(&data_dir)
            .current_dir(tmp.path());
        if options.relative_location {
            cmd.arg("--relative-location");
        }
        if let Some(ms) = options.expiration_ms {
            cmd.args(["--expiration-ms", &ms.to_string()]);
        }
        if let Some(max) = options.max_size {
            cmd.args(["--max-size", &max.to_string()]);
        }
        if options.disable_termination_for_finished_uploads {
            cmd.arg("--disable-termination-for-finished-uploads");
        }
        let spawned = spawn(cmd, Path::new("node"))?;
        let (child, stdin, log, addr) = spawned
            .wait_ready(|log| {
                let port = log.lines().find_map(|line| line.strip_prefix("[stdout] LISTENING "))?;
                Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port.trim().parse().ok()?)))
            })
            .await
            .map_err(|err| format!("tus-node-server: {}", err.message))?;
        Ok(Self { kind: ServerKind::Node, addr, version, data_dir, log, child, stdin, _tmp: tmp })
    }

    /// Which server this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// e.g. `rustus 0.5.10` or `@tus/server 2.4.5, @tus/file-store 2.1.1, node v20.20.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The creation URL, `http://127.0.0.1:<port>/files/`.
    pub fn endpoint(&self) -> url::Url {
        url::Url::parse(&format!("http://{}{BASE_PATH}/", self.addr)).expect("valid URL")
    }

    /// The server's data directory (bytes and upload records; see the module docs for the layout).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server printed so far (stdout and stderr, prefixed; the last 256 KiB).
    pub fn logs(&self) -> String {
        self.log.text()
    }

    /// The bytes the server has stored for the upload at `upload_url` (absolute, or only the path),
    /// read from its data directory rather than over HTTP.
    pub fn stored_bytes(&self, upload_url: &url::Url) -> io::Result<Vec<u8>> {
        std::fs::read(self.stored_path(upload_url)?)
    }

    /// The server's JSON record of the upload (rustus `<id>.info`, @tus/server `<id>.json`).
    pub fn stored_info(&self, upload_url: &url::Url) -> io::Result<serde_json::Value> {
        let id = upload_id(upload_url)?;
        let file = match self.kind {
            ServerKind::Rustus => format!("{id}.info"),
            ServerKind::Node => format!("{id}.json"),
        };
        let text = std::fs::read_to_string(self.data_dir.join(file))?;
        serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Where the bytes of the upload at `upload_url` live.
    pub fn stored_path(&self, upload_url: &url::Url) -> io::Result<PathBuf> {
        let id = upload_id(upload_url)?;
        match self.kind {
            ServerKind::Rustus => {
                let info = self.stored_info(upload_url)?;
                match info["path"].as_str() {
                    Some(path) => Ok(PathBuf::from(path)),
                    None => Ok(self.data_dir.join(&id)),
                }
            }
            ServerKind::Node => Ok(self.data_dir.join(&id)),
        }
    }
}

/// The upload id: the last non-empty path segment of the upload URL.
pub fn upload_id(upload_url: &url::Url) -> io::Result<String> {
    let id = upload_url.path_segments().and_then(|mut segments| segments.rfind(|s| !s.is_empty())).unwrap_or_default();
    let valid = !id.is_empty()
        && id != ".."
        && id != "."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(id.to_owned())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no upload id in {upload_url} (last segment {id:?})")))
    }
}

/// `sh -c` script: `$1..` is the rustus command line. Exits with rustus's status; SIGKILLs rustus
/// as soon as stdin (kept open by the harness) reaches EOF.
const RUSTUS_WATCHDOG: &str = r#"
exec 3<&0 </dev/null
"$@" 3<&- &
server=$!
{ cat <&3 >/dev/null; kill -KILL "$server" 2>/dev/null; } &
watchdog=$!
exec 3<&-
wait "$server"
status=$?
kill "$watchdog" 2>/dev/null
exit "$status"
"#;

/// Captured output of a server process, bounded.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn push(&self, stream: &str, line: &str) {
        let mut text = self.0.lock().unwrap_or_else(|e| e.into_inner());
        text.push('[');
        text.push_str(stream);
        text.push_str("] ");
        text.push_str(line.trim_end());
        text.push('\n');
        if text.len() > LOG_LIMIT {
            let mut cut = text.len() - LOG_LIMIT / 2;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.replace_range(..cut, "[…]\n");
        }
    }

    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn collect(&self, stream: &'static str, reader: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.push(stream, &line);
            }
        });
    }
}

struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    log: Log,
}

struct StartError {
    /// The process exited (as opposed to never becoming ready).
    exited: bool,
    message: String,
}

fn spawn(mut cmd: Command, program: &Path) -> Result<Spawned, String> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("could not start {}: {e}; {INSTALL_HINT}", program.display()))?;
    let log = Log::default();
    if let Some(stdout) = child.stdout.take() {
        log.collect("stdout", stdout);
    }
    if let Some(stderr) = child.stderr.take() {
        log.collect("stderr", stderr);
    }
    let stdin = child.stdin.take();
    Ok(Spawned { child, stdin, log })
}

impl Spawned {
    /// Polls until `address(log)` yields the server's address and `OPTIONS /files/` answers 2xx with
    /// `Tus-Version`, the process exits, or [`READY_TIMEOUT`] passes.
    async fn wait_ready(
        mut self,
        address: impl Fn(&str) -> Option<SocketAddr>,
    ) -> Result<(Child, Option<ChildStdin>, Log, SocketAddr), StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_probe = String::from("no address yet");
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Err(self.exited(status).await),
                Ok(None) => {}
                Err(e) => return Err(self.failed(format!("waiting for the process: {e}"))),
            }
            if let Some(addr) = address(&self.log.text()) {
                match probe_options(addr).await {
                    Ok(()) => return Ok((self.child, self.stdin, self.log, addr)),
                    Err(e) => last_probe = format!("OPTIONS http://{addr}{BASE_PATH}/: {e}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(self.failed(format!("not ready after {READY_TIMEOUT:?} (last probe: {last_probe})")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn exited(&self, status: ExitStatus) -> StartError {
        // Let the readers drain what the process wrote before dying.
        tokio::time::sleep(Duration::from_millis(100)).await;
        StartError { exited: true, message: format!("exited early ({status}); output:\n{}", self.log.text()) }
    }

    fn failed(&self, what: String) -> StartError {
        StartError { exited: false, message: format!("{what}; output:\n{}", self.log.text()) }
    }
}

/// One raw `OPTIONS /files/` over a fresh connection; Ok if the answer is 2xx with `Tus-Version`.
async fn probe_options(addr: SocketAddr) -> io::Result<()> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!(
            "OPTIONS {BASE_PATH}/ HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        io::Result::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 2 s"))??;
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status_ok = head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2");
    let tus = head.lines().any(|line| line.to_ascii_lowercase().starts_with("tus-version:"));
    if status_ok && tus {
        Ok(())
    } else {
        Err(io::Error::other(format!("unexpected answer: {}", head.lines().next().unwrap_or("(empty)"))))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("tus-real-server-")
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))
}

async fn command_output(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("could not run {}: {e}; {INSTALL_HINT}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} {}` failed ({}): {}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn package_version(package_json: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(package_json).map_err(|e| format!("reading {}: {e}", package_json.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", package_json.display()))?;
    json["version"].as_str().map(str::to_owned).ok_or_else(|| format!("no version in {}", package_json.display()))
}
