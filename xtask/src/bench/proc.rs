//! Processes for `cargo xtask bench`: measured client runs (wall time, CPU, peak RSS through `wait4`)
//! and the servers they talk to (rustus, @tus/server, the sink, the TLS proxy, iperf3).

use std::{
    fs,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// What one measured client process cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) wall: Duration,
    /// User + system CPU of the process and every descendant it waited for.
    pub(crate) cpu: Duration,
    /// The largest resident set of the process or any waited-for descendant, in bytes.
    pub(crate) max_rss: u64,
}

/// A finished measured run: its cost and its standard output.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) usage: Usage,
    pub(crate) stdout: String,
}

/// Runs `cmd` to completion with stdout and stderr in files under `scratch`, and measures it.
///
/// Linux carries the peak RSS of the memory a process had before `execve` into its `ru_maxrss`, and a
/// child spawned with `vfork` (what `posix_spawn` does) had ours. So our own peak is reset to our
/// current RSS first (`/proc/self/clear_refs`), and [`floor`] measures what remains: the smallest
/// peak RSS any client can show.
pub(crate) fn measure(cmd: &mut Command, scratch: &Path) -> Result<Run> {
    measure_sampled(cmd, scratch, None)
}

/// [`measure`], also sampling the process's current RSS (`VmRSS`) every `every` while it runs, in bytes.
pub(crate) fn measure_rss(cmd: &mut Command, scratch: &Path, every: Duration) -> Result<(Run, Vec<u64>)> {
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let run = measure_sampled(cmd, scratch, Some((every, std::sync::Arc::clone(&samples))))?;
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    Ok((run, samples))
}

type Samples = std::sync::Arc<std::sync::Mutex<Vec<u64>>>;

fn measure_sampled(cmd: &mut Command, scratch: &Path, sample: Option<(Duration, Samples)>) -> Result<Run> {
    trim_heap();
    let _ = fs::write("/proc/self/clear_refs", "5");
    let shown = crate::display(cmd);
    let out_path = scratch.join("client.stdout");
    let err_path = scratch.join("client.stderr");
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).context("creating the stdout file")?)
        .stderr(fs::File::create(&err_path).context("creating the stderr file")?);
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample.map(|(every, samples)| {
        let (pid, done) = (child.id(), std::sync::Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(rss) = current_rss(pid) {
                    samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(rss);
                }
                std::thread::sleep(every);
            }
        })
    });
    let waited = wait4(&child);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.join();
    }
    let (status, cpu, max_rss) = waited?;
    let wall = start.elapsed();
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    if status != 0 {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let tail: String =
            stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        bail!("`{shown}` failed (wait status {status:#x}):\n{tail}");
    }
    Ok(Run { usage: Usage { wall, cpu, max_rss }, stdout })
}

/// Gives our freed heap back to the system, so that our current RSS (the floor of a child's peak, see
/// [`measure`]) stays small after a section that held a lot (the many-files section's URL lists).
#[allow(unsafe_code)]
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory at the top of glibc's heaps; it touches nothing
    // that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The peak RSS `measure` reports for a process that allocates nothing (`true`): the floor of every
/// RSS figure.
pub(crate) fn floor(scratch: &Path) -> Result<u64> {
    Ok(measure(&mut Command::new("true"), scratch)?.usage.max_rss)
}

/// Waits for `child` with `wait4(2)`, which reports the CPU time and peak RSS of exactly that process
/// (and the descendants it waited for). Returns the raw wait status, CPU time and peak RSS in bytes.
#[allow(unsafe_code)]
fn wait4(child: &Child) -> Result<(i32, Duration, u64)> {
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, exclusively borrowed out-pointers for the call.
        let got = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if got == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4");
        }
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    // Linux reports ru_maxrss in KiB.
    Ok((status, cpu, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024))
}

/// A live process's resident set (`VmRSS` of `/proc/<pid>/status`), in bytes.
fn current_rss(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system, all threads) used so far by a live process, from `/proc/<pid>/stat`.
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based from `state`).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / clock_ticks()))
}

fn clock_ticks() -> u64 {
    // `getconf CLK_TCK` is 100 on every Linux this runs on; ask once, fall back to that.
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Which server a [`Server`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rustus,
    Node,
    Sink,
    TlsProxy,
}

/// A server child process; killed on drop. Its stdin stays open while it runs (the node server, the
/// sink and the proxy exit when it closes).
pub(crate) struct Server {
    pub(crate) kind: Kind,
    pub(crate) addr: SocketAddr,
    /// Where it stores upload bytes (rustus, node).
    pub(crate) data_dir: Option<PathBuf>,
    /// The CA a client must trust (TLS proxy).
    pub(crate) ca: Option<PathBuf>,
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `http://127.0.0.1:<port>/files/` (`https` for the TLS proxy).
    pub(crate) fn endpoint(&self) -> String {
        let scheme = if self.kind == Kind::TlsProxy { "https" } else { "http" };
        format!("{scheme}://{}/files/", self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn cpu(&self) -> Option<Duration> {
        process_cpu(self.pid())
    }

    /// rustus with file storage in `data`, `workers` actix workers and a PATCH body limit of
    /// `max_body` bytes (its default is 256 KiB).
    pub(crate) fn rustus(bin: &Path, data: &Path, max_body: u64, log: &Path) -> Result<Self> {
        fs::create_dir_all(data)?;
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--url", "/files"])
            .arg("--data-dir")
            .arg(data)
            .arg("--info-dir")
            .arg(data)
            .args(["--workers", "2", "--max-body-size", &max_body.to_string(), "--log-level", "WARN"])
            .env("NO_COLOR", "1");
        let (child, stdin) = spawn(cmd, log)?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut server =
            Self { kind: Kind::Rustus, addr, data_dir: Some(data.to_owned()), ca: None, child, _stdin: stdin };
        server.wait_ready(log)?;
        Ok(server)
    }

    /// @tus/server with @tus/file-store in `data`.
    pub(crate) fn node(script: &Path, data: &Path, log: &Path) -> Result<Self> {
        fs::create_dir_all(data)?;
        let mut cmd = Command::new("node");
        cmd.arg(script).args(["--host", "127.0.0.1", "--port", "0", "--path", "/files", "--dir"]).arg(data);
        Self::listening(Kind::Node, cmd, log, Some(data.to_owned()), None)
    }

    /// The sink (`tus-sink`).
    pub(crate) fn sink(bin: &Path, log: &Path) -> Result<Self> {
        Self::listening(Kind::Sink, Command::new(bin), log, None, None)
    }

    /// The TLS-terminating proxy in front of `upstream`; its CA goes to `cert_dir/ca.pem`.
    pub(crate) fn tls_proxy(bin: &Path, upstream: SocketAddr, cert_dir: &Path, log: &Path) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["--upstream", &upstream.to_string(), "--cert-dir"]).arg(cert_dir);
        Self::listening(Kind::TlsProxy, cmd, log, None, Some(cert_dir.join("ca.pem")))
    }

    /// Starts a server that prints `LISTENING <port>` on stdout.
    fn listening(
        kind: Kind,
        mut cmd: Command,
        log: &Path,
        data_dir: Option<PathBuf>,
        ca: Option<PathBuf>,
    ) -> Result<Self> {
        let shown = crate::display(&cmd);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(fs::File::create(log)?);
        let mut child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                bail!("`{shown}` exited before listening: {}", fs::read_to_string(log).unwrap_or_default());
            };
            if let Some(port) = line?.strip_prefix("LISTENING ") {
                break port.trim().parse::<u16>().context("bad LISTENING line")?;
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut server = Self { kind, addr, data_dir, ca, child, _stdin: stdin };
        if kind != Kind::TlsProxy {
            server.wait_ready(log)?;
        }
        Ok(server)
    }

    /// Polls `OPTIONS /files/` until it answers 2xx with `Tus-Version` (20 s at most).
    fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(head) = raw_request(self.addr, "OPTIONS", "/files/")
                && head.starts_with("HTTP/1.1 2")
                && head.to_ascii_lowercase().contains("tus-version:")
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("{:?} exited ({status}): {}", self.kind, fs::read_to_string(log).unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("{:?} not ready after 20 s: {}", self.kind, fs::read_to_string(log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn spawn(mut cmd: Command, log: &Path) -> Result<(Child, Option<ChildStdin>)> {
    let shown = crate::display(&cmd);
    let out = fs::File::create(log)?;
    cmd.stdin(Stdio::piped()).stdout(out.try_clone()?).stderr(out);
    let mut child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
    let stdin = child.stdin.take();
    Ok((child, stdin))
}

/// A free TCP port on 127.0.0.1 (for rustus, which cannot report a port it picked itself).
pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// One request with no body over a fresh connection; returns the response head.
pub(crate) fn raw_request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    Ok(text.split("\r\n\r\n").next().unwrap_or_default().to_owned())
}

/// A header's value in a response head (case-insensitive name).
pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Loopback throughput measured by iperf3 (memory to memory, one stream, `secs` seconds), in bytes/s.
pub(crate) fn iperf3(secs: u64) -> Result<f64> {
    let port = free_port()?.to_string();
    let mut server = Command::new("iperf3")
        .args(["-s", "-B", "127.0.0.1", "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("could not start `iperf3 -s` (is iperf3 installed?)")?;
    let mut result = Err(anyhow::anyhow!("iperf3 server did not start"));
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let out = Command::new("iperf3")
            .args(["-c", "127.0.0.1", "-p", &port, "-t", &secs.to_string(), "-J"])
            .output()
            .context("could not run `iperf3 -c`")?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(bits) = json["end"]["sum_received"]["bits_per_second"].as_f64() {
            result = Ok(bits / 8.0);
            break;
        }
        result = Err(anyhow::anyhow!("iperf3 -c: {}", json["error"]));
    }
    let _ = server.kill();
    let _ = server.wait();
    result
}
