//! Test helpers, after ripgrep's `tests/util.rs`: a [`Dir`] fixture (a temporary directory that is
//! also the command's cache directory) and [`TestCommand`], the `tus` binary with a time limit.
//!
//! Set `TUS_CLI_TEST_SHOW=1` (with `--nocapture`) to see every command line and its output.

#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long one run of `tus` may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The runtime the in-process servers and the real servers' log readers run on. Tests run `tus` on
/// their own thread and use this only to start servers (`rt().block_on(...)`), so the servers keep
/// serving while a test waits for the command.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
    })
}

pub fn rustus() -> tus_tests::real::RealServer {
    rustus_with(tus_tests::real::RustusOptions::default())
}

pub fn rustus_with(options: tus_tests::real::RustusOptions) -> tus_tests::real::RealServer {
    rt().block_on(tus_tests::real::RealServer::rustus(options)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn node() -> tus_tests::real::RealServer {
    node_with(tus_tests::real::NodeOptions::default())
}

pub fn node_with(options: tus_tests::real::NodeOptions) -> tus_tests::real::RealServer {
    rt().block_on(tus_tests::real::RealServer::node(options)).unwrap_or_else(|e| panic!("{e}"))
}

/// `len` pseudo-random bytes from `seed` (xorshift64*), reproducible.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A temporary directory for one test. Commands made from it run in it, with it as their cache
/// directory (the `--resume` state lands in `<dir>/cache`).
#[derive(Debug)]
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new(name: &str) -> Self {
        let tmp = tempfile::Builder::new().prefix(&format!("tus-cli-{name}-")).tempdir().expect("temp dir");
        Self { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes `contents` to `name` (relative) and returns the path.
    pub fn create(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    /// The `--resume` state directory.
    pub fn resume_dir(&self) -> PathBuf {
        self.path().join("cache/tus-rs/uploads")
    }

    /// Entries in the `--resume` state directory.
    pub fn resume_entries(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.resume_dir()) {
            Ok(entries) => entries.map(|e| e.expect("dir entry").path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `tus` with `args`, run in this directory.
    pub fn command<I, S>(&self, args: I) -> TestCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tus"));
        cmd.args(args)
            .current_dir(self.path())
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("HOME", self.path())
            .env_remove("RUST_LOG")
            .env_remove("RUST_BACKTRACE");
        TestCommand { cmd, stdin: None, timeout: COMMAND_TIMEOUT }
    }
}

/// A `tus` command line.
#[derive(Debug)]
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl TestCommand {
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Runs `program args` instead of `tus` (in the same directory and environment), e.g. a wrapper.
    pub fn run_program<I, S>(&mut self, program: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(program);
        cmd.args(args);
        if let Some(dir) = self.cmd.get_current_dir() {
            cmd.current_dir(dir);
        }
        for (key, value) in self.cmd.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        self.cmd = cmd;
        self.run()
    }

    /// Pipes these bytes to stdin (else stdin is empty).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Runs to completion (killed after the time limit, which fails the test).
    pub fn run(&mut self) -> Output {
        let shown = format!("{:?}", self.cmd);
        self.spawn().wait(self.timeout, &shown)
    }

    /// Starts the command; see [`Running`].
    pub fn spawn(&mut self) -> Running {
        self.cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("start tus");
        let mut stdin = child.stdin.take().expect("stdin pipe");
        let input = self.stdin.take().unwrap_or_default();
        let writer = thread::spawn(move || {
            // The command may exit before reading everything (e.g. a usage error).
            let _ = stdin.write_all(&input);
        });
        let stdout = reader(child.stdout.take().expect("stdout pipe"));
        let stderr = reader(child.stderr.take().expect("stderr pipe"));
        Running { child, writer: Some(writer), stdout: Some(stdout), stderr: Some(stderr) }
    }
}

fn reader(mut pipe: impl std::io::Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// A running `tus`.
#[derive(Debug)]
pub struct Running {
    child: Child,
    writer: Option<thread::JoinHandle<()>>,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let status = Command::new("kill").args(["-INT", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for the exit (at most `timeout`, else the process is killed and the test fails).
    pub fn wait(mut self, timeout: Duration, shown: &str) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for tus") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
                panic!(
                    "{shown} did not finish within {timeout:?}; stderr so far:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let stdout = self.stdout.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let output = Output {
            shown: shown.to_owned(),
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        output.assert_no_panic();
        if std::env::var_os("TUS_CLI_TEST_SHOW").is_some() {
            eprintln!("$ {shown}\n{}", output.show());
        }
        output
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished `tus` did.
#[derive(Debug)]
pub struct Output {
    shown: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Fails the test unless the exit status is `code`, showing the output.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{} exited with {}; expected {code}\n{}",
            self.shown,
            self.status,
            self.show()
        );
        self
    }

    pub fn success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Fails unless stderr contains every one of `needles`.
    pub fn stderr_has(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n{}", self.show());
        }
        self
    }

    /// The upload URL: stdout must be exactly one line holding an http(s) URL.
    pub fn url(&self) -> url::Url {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "stdout should be exactly the URL\n{}", self.show());
        url::Url::parse(lines[0]).unwrap_or_else(|e| panic!("stdout is not a URL ({e})\n{}", self.show()))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.show()))
    }

    fn assert_no_panic(&self) {
        for bad in ["panicked", "RUST_BACKTRACE", "internal error"] {
            assert!(!self.stderr.contains(bad), "{} printed {bad:?}\n{}", self.shown, self.show());
        }
    }

    pub fn show(&self) -> String {
        format!("--- stdout ---\n{}--- stderr ---\n{}--------------", self.stdout, self.stderr)
    }
}

/// Polls `cond` every 10 ms until it holds, failing the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        thread::sleep(Duration::from_millis(10));
    }
}
