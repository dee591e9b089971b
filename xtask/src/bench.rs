//! `cargo xtask bench`: tus-rs against its peers (aiotus, tuspy, tus-js-client, curl) on the same
//! servers (rustus, @tus/server), one after another, A B A B, in one run. See BENCHMARKS.md.
//!
//! ```text
//! cargo xtask bench [--size 1GiB] [--reps 3] [--only single,sink,many,parallel,cost,profile,criterion]
//!                   [--servers rustus,node] [--update BENCHMARKS.md] [--keep]
//! ```
//!
//! - Installs what it needs: the servers (`cargo xtask servers install`), the Python peers into a venv
//!   and tus-js-client with `npm ci` under `.tools/bench/`; curl and iperf3 come from the system.
//! - Builds the drivers in release mode: `bench_upload` and `bench_many` (examples of tus-retry),
//!   `tus-sink` and `tus-tls-proxy` (binaries of tus-tests), and the `tus` CLI (optional: its rows
//!   are left out if it does not build).
//! - Works in `/dev/shm/tus-bench-<pid>/` (tmpfs: sources and server data in memory), removed at the end
//!   unless `--keep`.
//! - Every upload's stored bytes are compared with the source; a mismatch fails the run.
//! - Writes `target/bench/report.md`; `--update FILE` also replaces the part of FILE between
//!   `<!-- bench:begin -->` and `<!-- bench:end -->` with it.

mod proc;
mod report;

use std::{
    fs,
    io::Read as _,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use self::proc::{Kind, Run, Server, Usage};
use self::report::{Report, Row};
use crate::{cargo, run_output, run_status, tools_dir, workspace_root};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// tus-rs's default chunk size (`tus_proto::DEFAULT_CHUNK_SIZE`), also aiotus's.
const DEFAULT_CHUNK: u64 = 4 * MIB;
const SECTIONS: [&str; 7] = ["single", "sink", "many", "parallel", "cost", "profile", "criterion"];
const AIOTUS: &str = "aiotus 1.1.0";
const TUSPY: &str = "tuspy 1.1.0";
const TUS_JS: &str = "tus-js-client 4.3.1";

/// Settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    size: u64,
    reps: usize,
    only: Vec<String>,
    servers: Vec<String>,
    update: Option<PathBuf>,
    keep: bool,
    small_files: usize,
    large_files: usize,
    concurrency: Vec<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            size: GIB,
            reps: 3,
            only: SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
            servers: vec!["rustus".into(), "node".into()],
            update: None,
            keep: false,
            small_files: 1000,
            large_files: 100,
            concurrency: vec![1, 8, 32],
        }
    }
}

impl Options {
    fn parse(args: &[&str]) -> Result<Self> {
        let mut o = Self::default();
        let mut rest = args;
        while let [flag, tail @ ..] = rest {
            let value = || tail.first().copied().with_context(|| format!("{flag} needs a value"));
            match *flag {
                "--size" => o.size = parse_size(value()?)?,
                "--reps" => o.reps = value()?.parse::<usize>()?.max(1),
                "--only" => o.only = list(value()?),
                "--servers" => o.servers = list(value()?),
                "--update" => o.update = Some(PathBuf::from(value()?)),
                "--small-files" => o.small_files = value()?.parse()?,
                "--large-files" => o.large_files = value()?.parse()?,
                "--concurrency" => {
                    o.concurrency = list(value()?).iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
                }
                "--keep" => {
                    o.keep = true;
                    rest = tail;
                    continue;
                }
                other => bail!("unknown bench option `{other}`\n\n{}", crate::USAGE),
            }
            rest = &tail[1..];
        }
        for section in &o.only {
            if !SECTIONS.contains(&section.as_str()) {
                bail!("unknown section `{section}`: expected some of {}", SECTIONS.join(","));
            }
        }
        for server in &o.servers {
            if !["rustus", "node"].contains(&server.as_str()) {
                bail!("unknown server `{server}`: expected rustus and/or node");
            }
        }
        Ok(o)
    }

    fn wants(&self, section: &str) -> bool {
        self.only.iter().any(|s| s == section)
    }

    /// The command line that reproduces `section` with these settings.
    fn command(&self, section: &str) -> String {
        let d = Self::default();
        let mut cmd = format!("cargo xtask bench --only {section}");
        if self.size != d.size {
            cmd += &format!(" --size {}", size_label(self.size).replace(' ', ""));
        }
        if self.reps != d.reps {
            cmd += &format!(" --reps {}", self.reps);
        }
        if section == "single" && self.servers != d.servers {
            cmd += &format!(" --servers {}", self.servers.join(","));
        }
        if section == "many" {
            if self.small_files != d.small_files {
                cmd += &format!(" --small-files {}", self.small_files);
            }
            if self.large_files != d.large_files {
                cmd += &format!(" --large-files {}", self.large_files);
            }
            if self.concurrency != d.concurrency {
                let c: Vec<String> = self.concurrency.iter().map(ToString::to_string).collect();
                cmd += &format!(" --concurrency {}", c.join(","));
            }
        }
        cmd
    }
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `1GiB`, `256MiB`, `64KiB`, `1000` (bytes).
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("bad size {text:?}"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1024,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        _ => bail!("bad size unit in {text:?}: use B, KiB, MiB or GiB"),
    };
    Ok(number * factor)
}

pub(crate) fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} B"),
    }
}

/// A client and how it is told to chunk.
#[derive(Debug, Clone)]
enum Client {
    /// tus-rs through `tus_retry::Uploader` (`bench_upload`): chunk bytes (0 = one PATCH), extra args.
    Ours(u64, Vec<String>),
    Aiotus(u64),
    Tuspy(u64),
    TusJs(u64),
    /// One streamed PATCH.
    Curl,
    /// The `tus` CLI (`tus upload -q -c CHUNK`): chunk bytes (0 = one PATCH).
    Cli(u64),
}

impl Client {
    fn is_ours(&self) -> bool {
        matches!(self, Self::Ours(..) | Self::Cli(_))
    }

    fn name(&self) -> String {
        match self {
            Self::Ours(..) => "tus-rs (library)".into(),
            Self::Aiotus(_) => AIOTUS.into(),
            Self::Tuspy(_) => TUSPY.into(),
            Self::TusJs(_) => TUS_JS.into(),
            Self::Curl => "curl -T".into(),
            Self::Cli(_) => "tus-rs (`tus upload` CLI)".into(),
        }
    }

    fn chunk_label(&self, size: u64) -> String {
        let chunk = match self {
            Self::Ours(c, _) | Self::Aiotus(c) | Self::Tuspy(c) | Self::TusJs(c) | Self::Cli(c) => *c,
            Self::Curl => 0,
        };
        if chunk == 0 || chunk >= size {
            "one PATCH".into()
        } else if chunk == DEFAULT_CHUNK && matches!(self, Self::Ours(..) | Self::Aiotus(_) | Self::Cli(_)) {
            format!("{} (default)", size_label(chunk))
        } else {
            size_label(chunk)
        }
    }

    fn command(&self, env: &Env, endpoint: &str, file: &Path, ca: Option<&Path>) -> Command {
        match self {
            Self::Ours(chunk, extra) => {
                let mut cmd = Command::new(&env.bench_upload);
                cmd.arg(endpoint).arg(file).args(["--chunk-size", &chunk.to_string()]).args(extra);
                if let Some(ca) = ca {
                    // A byte-forwarding proxy cannot add X-Forwarded-Proto, so the client does; rustus
                    // then builds https Locations.
                    cmd.arg("--cacert").arg(ca).args(["--header", "X-Forwarded-Proto: https"]);
                }
                cmd
            }
            Self::Aiotus(chunk) => {
                let mut cmd = Command::new(env.python());
                cmd.arg(&env.py_driver).arg("aiotus").arg(endpoint).arg(file).arg(chunk.to_string());
                if let Some(ca) = ca {
                    cmd.arg("--cacert").arg(ca);
                }
                cmd
            }
            Self::Tuspy(chunk) => {
                let mut cmd = Command::new(env.python());
                cmd.arg(&env.py_driver).arg("tuspy").arg(endpoint).arg(file).arg(chunk.to_string());
                cmd
            }
            Self::TusJs(chunk) => {
                let mut cmd = Command::new("node");
                cmd.arg(&env.js_driver).arg(endpoint).arg(file).arg(chunk.to_string());
                cmd
            }
            Self::Cli(chunk) => {
                let mut cmd = Command::new(&env.cli);
                let chunk = if *chunk == 0 { u64::MAX >> 1 } else { *chunk };
                cmd.args(["upload", "-q", "-c", &chunk.to_string()]).arg(endpoint).arg(file);
                if let Some(ca) = ca {
                    cmd.arg("--cacert").arg(ca).args(["-H", "X-Forwarded-Proto: https"]);
                }
                cmd
            }
            Self::Curl => {
                let mut cmd = Command::new("sh");
                cmd.arg(&env.curl_script).arg(endpoint).arg(file);
                if let Some(ca) = ca {
                    cmd.arg("--cacert").arg(ca).args(["-H", "X-Forwarded-Proto: https"]);
                }
                cmd
            }
        }
    }
}

/// Paths of everything a run uses.
struct Env {
    work: PathBuf,
    rustus: PathBuf,
    node_script: PathBuf,
    bench_upload: PathBuf,
    bench_many: PathBuf,
    /// The `tus` CLI, when it builds (it is optional: its rows are left out otherwise).
    cli: PathBuf,
    sink: PathBuf,
    tls_proxy: PathBuf,
    venv: PathBuf,
    py_driver: PathBuf,
    js_driver: PathBuf,
    curl_script: PathBuf,
}

impl Env {
    fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }

    fn scratch(&self) -> PathBuf {
        self.work.join("scratch")
    }
}

/// `cargo xtask bench ...`.
pub(crate) fn run(args: &[&str]) -> Result<()> {
    let options = Options::parse(args)?;
    let started = Instant::now();
    println!("bench: settings {options:?}");
    let env = prepare(&options)?;
    let mut report = Report::new(&options, &env_versions(&env)?);
    let result = run_sections(&options, &env, &mut report);
    let floor = proc::floor(&env.scratch()).map_or(f64::NAN, |b| b as f64 / MIB as f64);
    if !options.keep {
        let _ = fs::remove_dir_all(&env.work);
    }
    result?;
    report.finish(started.elapsed(), floor);
    let text = report.render();
    let out_dir = workspace_root().join("target/bench");
    fs::create_dir_all(&out_dir)?;
    let out = out_dir.join("report.md");
    fs::write(&out, &text)?;
    println!("\n{text}\nbench: report written to {}", out.display());
    if let Some(path) = &options.update {
        splice(path, &text)?;
        println!("bench: updated {}", path.display());
    }
    println!("bench: took {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run_sections(options: &Options, env: &Env, report: &mut Report) -> Result<()> {
    let needs_source = ["single", "sink", "parallel", "cost", "profile"].iter().any(|s| options.wants(s));
    let source = env.work.join(format!("source-{}", size_label(options.size).replace(' ', "")));
    if needs_source {
        random_file(&source, options.size)?;
    }
    if options.wants("single") {
        for server in &options.servers {
            single(options, env, report, server, &source)?;
        }
    }
    if options.wants("sink") {
        sink(options, env, report, &source)?;
    }
    if options.wants("many") {
        many(options, env, report)?;
    }
    if options.wants("parallel") {
        parallel(options, env, report, &source)?;
    }
    if options.wants("cost") {
        cost(options, env, report, &source)?;
    }
    if options.wants("profile") {
        profile(env, report, &source)?;
    }
    if options.wants("criterion") {
        criterion(report)?;
    }
    Ok(())
}

/// Installs and builds everything; returns the paths.
fn prepare(options: &Options) -> Result<Env> {
    let root = workspace_root();
    let tools = tools_dir();
    let only_criterion = options.only.iter().all(|s| s == "criterion");
    let bench_tools = tools.join("bench");
    let work = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() }
        .join(format!("tus-bench-{}", std::process::id()));
    let env = Env {
        work,
        rustus: tools.join("rustus/bin/rustus"),
        node_script: tools.join("node/tus-node-server.mjs"),
        bench_upload: root.join("target/release/examples/bench_upload"),
        bench_many: root.join("target/release/examples/bench_many"),
        cli: root.join("target/release/tus"),
        sink: root.join("target/release/tus-sink"),
        tls_proxy: root.join("target/release/tus-tls-proxy"),
        venv: bench_tools.join("venv"),
        py_driver: root.join("xtask/bench/py_driver.py"),
        js_driver: bench_tools.join("npm/js_driver.mjs"),
        curl_script: root.join("xtask/bench/curl_upload.sh"),
    };
    if only_criterion {
        return Ok(env);
    }
    crate::servers::install().context("installing the servers")?;
    install_peers(&bench_tools)?;
    for tool in ["curl", "iperf3"] {
        if Command::new(tool).arg("--version").output().is_err() {
            install_system_package(tool);
        }
        if Command::new(tool).arg("--version").output().is_err() {
            bail!("`{tool}` is required: install it from the system's packages (e.g. `apt-get install -y {tool}`)");
        }
    }
    println!("bench: building the drivers (release)");
    run_status(
        cargo()
            .args(["build", "--release", "--quiet", "-p", "tus-retry", "--example", "bench_upload"])
            .args(["--example", "bench_many", "-p", "tus-tests", "--bin", "tus-sink", "--bin", "tus-tls-proxy"])
            .current_dir(&root),
    )?;
    // The CLI is built on its own: a CLI that does not build only drops its rows.
    let _ = fs::remove_file(&env.cli);
    let cli =
        cargo().args(["build", "--release", "--quiet", "-p", "tus-cli", "--bin", "tus"]).current_dir(&root).status();
    if !cli.is_ok_and(|s| s.success()) {
        println!("bench: warning: the `tus` CLI did not build; its rows are left out");
    }
    fs::create_dir_all(env.scratch())?;
    Ok(env)
}

impl Env {
    /// `clients` plus the CLI's rows, when the CLI was built.
    fn with_cli(&self, mut clients: Vec<Client>, cli: &[u64]) -> Vec<Client> {
        if self.cli.is_file() {
            clients.extend(cli.iter().map(|c| Client::Cli(*c)));
        }
        clients
    }
}

/// The Python venv (aiotus, tuspy) and tus-js-client, under `.tools/bench/`, redone only when the
/// pinned requirements change.
fn install_peers(dir: &Path) -> Result<()> {
    let src = workspace_root().join("xtask/bench");
    fs::create_dir_all(dir)?;
    let requirements = fs::read(src.join("requirements.txt")).context("reading xtask/bench/requirements.txt")?;
    let venv = dir.join("venv");
    let stamp = venv.join("requirements.txt");
    if fs::read(&stamp).ok().as_ref() != Some(&requirements) || !venv.join("bin/python").is_file() {
        println!("bench: creating the Python venv {} (aiotus, tuspy)", venv.display());
        let _ = fs::remove_dir_all(&venv);
        run_status(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run_status(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(src.join("requirements.txt")),
        )?;
        fs::write(&stamp, &requirements)?;
    }
    let npm = dir.join("npm");
    fs::create_dir_all(&npm)?;
    let mut fresh = true;
    for name in ["package.json", "package-lock.json"] {
        let want = fs::read(src.join(name)).with_context(|| format!("reading xtask/bench/{name}"))?;
        if fs::read(npm.join(name)).ok().as_ref() != Some(&want) {
            fs::write(npm.join(name), &want)?;
            fresh = false;
        }
    }
    if !fresh || !npm.join("node_modules/tus-js-client/package.json").is_file() {
        println!("bench: npm ci in {} (tus-js-client)", npm.display());
        run_status(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--quiet"]).current_dir(&npm))?;
    }
    // The driver resolves tus-js-client from its own directory.
    fs::copy(src.join("js_driver.mjs"), npm.join("js_driver.mjs"))?;
    Ok(())
}

/// Tries `apt-get install -y <package>` (after `apt-get update`) when running as root on a Debian-like
/// system; the caller checks whether the tool is there afterwards.
fn install_system_package(package: &str) {
    let root = run_output(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0");
    if !root || Command::new("apt-get").arg("--version").output().is_err() {
        return;
    }
    println!("bench: `{package}` is missing; installing it with apt-get");
    let quiet = |cmd: &mut Command| cmd.env("DEBIAN_FRONTEND", "noninteractive").status().is_ok_and(|s| s.success());
    let _ = quiet(Command::new("apt-get").args(["update", "-qq"]));
    let _ = quiet(Command::new("apt-get").args(["install", "-y", "-qq", package]));
}

/// Versions of everything measured, and the machine, for the report.
fn env_versions(env: &Env) -> Result<Vec<(String, String)>> {
    let cmd = |program: &str, args: &[&str]| {
        run_output(Command::new(program).args(args)).map(|s| s.lines().next().unwrap_or_default().to_owned())
    };
    let mut v = Vec::new();
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0));
    v.push(("machine".into(), format!("{cpu}, {cores} cores, {mem} RAM, kernel {}", cmd("uname", &["-r"])?)));
    v.push(("load average at start".into(), load_average()));
    if env.scratch().is_dir() {
        let floor = proc::floor(&env.scratch())? as f64 / MIB as f64;
        v.push((
            "peak-RSS floor".into(),
            format!("{floor:.1} MiB (`true` measured the same way; no RSS below it can show)"),
        ));
    }
    v.push(("rustc".into(), cmd("rustc", &["--version"])?));
    v.push(("rustus".into(), cmd(&env.rustus.display().to_string(), &["--version"]).unwrap_or_default()));
    let node_pkg = |name: &str| -> String {
        let path = tools_dir().join("node/node_modules").join(name).join("package.json");
        fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|j| j["version"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    v.push((
        "@tus/server".into(),
        format!(
            "{} + @tus/file-store {}, node {}",
            node_pkg("@tus/server"),
            node_pkg("@tus/file-store"),
            cmd("node", &["--version"])?
        ),
    ));
    v.push(("python".into(), cmd(&env.python().display().to_string(), &["--version"]).unwrap_or_default()));
    v.push(("curl".into(), cmd("curl", &["--version"])?));
    v.push(("iperf3".into(), cmd("iperf3", &["--version"]).unwrap_or_default()));
    v.push(("peers".into(), format!("{AIOTUS}, {TUSPY} (PyPI, pinned in xtask/bench/requirements.txt); {TUS_JS} (npm, xtask/bench/package-lock.json)")));
    Ok(v)
}

pub(crate) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `size` random bytes at `path` (from /dev/urandom), reused when already there.
fn random_file(path: &Path, size: u64) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut urandom = fs::File::open("/dev/urandom")?.take(size);
    let mut out = fs::File::create(path)?;
    std::io::copy(&mut urandom, &mut out).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Compares two files, 1 MiB at a time (small buffers keep xtask's own RSS low: see `proc::measure`).
fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let (ma, mb) = (fs::metadata(a)?, fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut fs::File, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The last path segment of an upload URL.
fn upload_id(url: &str) -> Result<&str> {
    let id = url.trim().trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("no upload id in {url:?}");
    }
    Ok(id)
}

/// Checks that `store` holds exactly the bytes of `source` for the upload at `url`.
fn verify(store: &Server, url: &str, source: &Path) -> Result<()> {
    let id = upload_id(url)?;
    let size = fs::metadata(source)?.len();
    match store.kind {
        Kind::Sink => {
            let head = proc::raw_request(store.addr, "HEAD", &format!("/files/{id}"))?;
            let offset = proc::header(&head, "upload-offset").and_then(|v| v.parse::<u64>().ok());
            let length = proc::header(&head, "upload-length").and_then(|v| v.parse::<u64>().ok());
            if offset != Some(size) || length != Some(size) {
                bail!("the sink holds offset {offset:?} of {length:?} for {url}, expected {size}");
            }
            Ok(())
        }
        Kind::Rustus | Kind::Node => {
            let data = store.data_dir.as_ref().context("no data dir")?;
            let stored = if store.kind == Kind::Rustus {
                let info: serde_json::Value = serde_json::from_str(
                    &fs::read_to_string(data.join(format!("{id}.info")))
                        .with_context(|| format!("no record of {url}"))?,
                )?;
                info["path"].as_str().map_or_else(|| data.join(id), PathBuf::from)
            } else {
                data.join(id)
            };
            if !same_bytes(&stored, source).with_context(|| format!("reading {}", stored.display()))? {
                bail!("the bytes stored for {url} ({}) differ from {}", stored.display(), source.display());
            }
            Ok(())
        }
        Kind::TlsProxy => bail!("verify against the server behind the proxy"),
    }
}

/// Removes everything in a server's data directory (between runs; tmpfs is memory).
fn clear(server: &Server) -> Result<()> {
    if let Some(dir) = &server.data_dir {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() { fs::remove_dir_all(&path)? } else { fs::remove_file(&path)? }
        }
    }
    Ok(())
}

/// Where a client sends and where the bytes end up.
struct Target<'a> {
    /// The server the client talks to (the proxy, for TLS).
    front: &'a Server,
    /// The server that stores the bytes (checked after each upload).
    store: &'a Server,
}

/// One measured upload of `source` by `client`, verified, with the servers' CPU time.
fn upload_once(env: &Env, client: &Client, target: &Target<'_>, source: &Path) -> Result<(Usage, Duration)> {
    let mut cmd = client.command(env, &target.front.endpoint(), source, target.front.ca.as_deref());
    let cpu_before = server_cpu(target);
    let Run { usage, stdout } = proc::measure(&mut cmd, &env.scratch())?;
    let cpu = server_cpu(target).saturating_sub(cpu_before);
    let url = stdout.lines().rev().find(|l| !l.trim().is_empty()).context("the client printed no upload URL")?;
    verify(target.store, url, source).with_context(|| format!("{} uploaded wrong bytes", client.name()))?;
    clear(target.store)?;
    Ok((usage, cpu))
}

fn server_cpu(target: &Target<'_>) -> Duration {
    let front =
        if target.front.pid() == target.store.pid() { Duration::ZERO } else { target.front.cpu().unwrap_or_default() };
    front + target.store.cpu().unwrap_or_default()
}

/// Runs every client `reps` times, A B A B, and returns one row per client.
fn rounds(
    options: &Options,
    env: &Env,
    section: &str,
    clients: &[Client],
    target: &Target<'_>,
    source: &Path,
) -> Result<Vec<Row>> {
    let size = fs::metadata(source)?.len();
    let mut rows: Vec<Row> =
        clients.iter().map(|c| Row::new(c.name(), c.chunk_label(size), c.is_ours(), size, 1)).collect();
    for rep in 1..=options.reps {
        for (client, row) in clients.iter().zip(rows.iter_mut()) {
            let (usage, server) = upload_once(env, client, target, source)
                .with_context(|| format!("{section}: {} ({})", row.client, row.setting))?;
            println!(
                "bench: [{section}] rep {rep}/{} {:<22} {:<16} {:>6.2} s {:>7.0} MiB/s  cpu {:>5.2} s  rss {:>5.1} MiB  server cpu {:>5.2} s  (load {})",
                options.reps,
                row.client,
                row.setting,
                usage.wall.as_secs_f64(),
                size as f64 / MIB as f64 / usage.wall.as_secs_f64(),
                usage.cpu.as_secs_f64(),
                usage.max_rss as f64 / MIB as f64,
                server.as_secs_f64(),
                load_average(),
            );
            row.push(usage, server);
        }
    }
    Ok(rows)
}

/// rustus's PATCH body limit for a run: room for the largest chunk any client sends (one PATCH of the
/// whole file).
fn rustus_body_limit(size: u64) -> u64 {
    size.max(64 * MIB) + MIB
}

fn start_server(env: &Env, name: &str, size: u64) -> Result<Server> {
    let data = env.work.join(format!("{name}-data"));
    let log = env.work.join(format!("{name}.log"));
    match name {
        "rustus" => Server::rustus(&env.rustus, &data, rustus_body_limit(size), &log),
        "node" => Server::node(&env.node_script, &data, &log),
        other => bail!("unknown server {other}"),
    }
}

/// Single file, every client, at the default chunk size, 64 MiB chunks and one PATCH.
fn single(options: &Options, env: &Env, report: &mut Report, server_name: &str, source: &Path) -> Result<()> {
    println!("\nbench: single file of {} against {server_name}", size_label(options.size));
    let server = start_server(env, server_name, options.size)?;
    let big = 64 * MIB;
    let clients = vec![
        Client::Ours(DEFAULT_CHUNK, vec![]),
        Client::Aiotus(DEFAULT_CHUNK),
        Client::Tuspy(DEFAULT_CHUNK),
        Client::TusJs(DEFAULT_CHUNK),
        Client::Ours(big, vec![]),
        Client::Aiotus(big),
        Client::Tuspy(big),
        Client::TusJs(big),
        Client::Ours(0, vec![]),
        Client::Aiotus(options.size),
        Client::TusJs(0),
        Client::Curl,
    ];
    let clients = env.with_cli(clients, &[DEFAULT_CHUNK]);
    let target = Target { front: &server, store: &server };
    let rows = rounds(options, env, &format!("single/{server_name}"), &clients, &target, source)?;
    report.single(server_name, &options.command("single"), rows);
    Ok(())
}

/// The client ceiling: the same upload against the sink, and iperf3's loopback figure.
fn sink(options: &Options, env: &Env, report: &mut Report, source: &Path) -> Result<()> {
    println!("\nbench: loopback ceiling (iperf3, 5 s)");
    let iperf = proc::iperf3(5)?;
    println!("bench: iperf3 loopback {:.0} MiB/s", iperf / MIB as f64);
    let sink = Server::sink(&env.sink, &env.work.join("sink.log"))?;
    let clients = vec![
        Client::Ours(DEFAULT_CHUNK, vec![]),
        Client::Ours(64 * MIB, vec![]),
        Client::Ours(0, vec![]),
        Client::Aiotus(DEFAULT_CHUNK),
        Client::Curl,
    ];
    let clients = env.with_cli(clients, &[DEFAULT_CHUNK]);
    let target = Target { front: &sink, store: &sink };
    let rows = rounds(options, env, "sink", &clients, &target, source)?;
    report.sink(&options.command("sink"), iperf, rows);
    Ok(())
}

/// Many small files through the library and through aiotus, at several concurrencies.
fn many(options: &Options, env: &Env, report: &mut Report) -> Result<()> {
    let sets = [(options.small_files, 64 * 1024), (options.large_files, 4 * MIB)];
    let server = start_server(env, "rustus", 64 * MIB)?;
    let mut tables = Vec::new();
    for (count, size) in sets {
        if count == 0 {
            continue;
        }
        println!("\nbench: many files: {count} × {} against rustus", size_label(size));
        let dir = env.work.join(format!("many-{}", size_label(size).replace(' ', "")));
        let mut paths = Vec::new();
        for i in 0..count {
            let path = dir.join(format!("f{i:05}"));
            random_file(&path, size)?;
            paths.push(path);
        }
        let list = dir.join("list");
        fs::write(&list, paths.iter().map(|p| format!("{}\n", p.display())).collect::<String>())?;
        let mut rows = Vec::new();
        for &c in &options.concurrency {
            let mut ours = Row::new("tus-rs (library)".into(), format!("concurrency {c}"), true, size, count);
            let mut peer =
                Row::new(format!("{AIOTUS} (asyncio.gather)"), format!("concurrency {c}"), false, size, count);
            for rep in 1..=options.reps {
                for (row, is_ours) in [(&mut ours, true), (&mut peer, false)] {
                    let mut cmd = if is_ours {
                        let mut cmd = Command::new(&env.bench_many);
                        cmd.arg(server.endpoint()).arg(&list).args(["--concurrency", &c.to_string()]);
                        cmd
                    } else {
                        let mut cmd = Command::new(env.python());
                        cmd.arg(&env.py_driver).arg("aiotus-many").arg(server.endpoint()).arg(&list).arg(c.to_string());
                        cmd
                    };
                    let (usage, cpu) = many_once(env, &server, &mut cmd, &paths)?;
                    println!(
                        "bench: [many] rep {rep}/{} {:<32} c={c:<3} {:>6.2} s {:>7.0} files/s  cpu {:>5.2} s  rss {:>5.1} MiB  (load {})",
                        options.reps,
                        row.client,
                        usage.wall.as_secs_f64(),
                        count as f64 / usage.wall.as_secs_f64(),
                        usage.cpu.as_secs_f64(),
                        usage.max_rss as f64 / MIB as f64,
                        load_average()
                    );
                    row.push(usage, cpu);
                }
            }
            rows.push(ours);
            rows.push(peer);
        }
        tables.push((count, size, rows));
    }
    // Memory against the number of files: the same 64 KiB files uploaded 1,000, 10,000 and 30,000 times,
    // with the resident set sampled while it runs (a peak alone rises with the length of a run, since
    // a longer run has more chances to catch a momentary high).
    let mut growth = Vec::new();
    if options.small_files > 0 {
        let dir = env.work.join("many-64KiB");
        let files: Vec<PathBuf> = (0..options.small_files).map(|i| dir.join(format!("f{i:05}"))).collect();
        let c = *options.concurrency.iter().max().unwrap_or(&8);
        for n in [1_000, 10_000, 30_000] {
            let paths: Vec<PathBuf> = files.iter().cycle().take(n).cloned().collect();
            let list = dir.join(format!("list-{n}"));
            fs::write(&list, paths.iter().map(|p| format!("{}\n", p.display())).collect::<String>())?;
            let mut cmd = Command::new(&env.bench_many);
            cmd.arg(server.endpoint()).arg(&list).args(["--concurrency", &c.to_string()]);
            let (run, samples) = proc::measure_rss(&mut cmd, &env.scratch(), Duration::from_millis(20))?;
            check_many(&server, &run.stdout, &paths)?;
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
            println!(
                "bench: [many/growth] {n} uploads, c={c}: {:.2} s, peak rss {:.1} MiB, median rss {:.1} MiB ({} samples)",
                run.usage.wall.as_secs_f64(),
                run.usage.max_rss as f64 / MIB as f64,
                median as f64 / MIB as f64,
                samples.len()
            );
            growth.push((n, c, run.usage, median));
        }
    }
    report.many(&options.command("many"), tables, growth);
    Ok(())
}

/// One measured many-files run; every stored file is checked.
fn many_once(env: &Env, server: &Server, cmd: &mut Command, paths: &[PathBuf]) -> Result<(Usage, Duration)> {
    let target = Target { front: server, store: server };
    let before = server_cpu(&target);
    let Run { usage, stdout } = proc::measure(cmd, &env.scratch())?;
    let cpu = server_cpu(&target).saturating_sub(before);
    check_many(server, &stdout, paths)?;
    Ok((usage, cpu))
}

/// Checks every upload of a many-files run, then empties the server.
fn check_many(server: &Server, stdout: &str, paths: &[PathBuf]) -> Result<()> {
    // One upload URL per line in list order, or `<index> <url>` lines in any order (bench_many).
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != paths.len() {
        bail!("the client printed {} upload URLs for {} files", lines.len(), paths.len());
    }
    let mut seen = vec![false; paths.len()];
    for (n, line) in lines.iter().enumerate() {
        let (index, url) = match line.split_once(' ') {
            Some((i, url)) => (i.parse::<usize>().context("bad index")?, url),
            None => (n, *line),
        };
        let path = paths.get(index).with_context(|| format!("index {index} out of range"))?;
        if std::mem::replace(&mut seen[index], true) {
            bail!("file {index} reported twice");
        }
        verify(server, url, path)?;
    }
    clear(server)
}

/// `--parallel 1/2/4` on rustus (concatenation).
fn parallel(options: &Options, env: &Env, report: &mut Report, source: &Path) -> Result<()> {
    println!("\nbench: parallel split against rustus");
    let server = start_server(env, "rustus", options.size)?;
    let clients: Vec<Client> =
        [1, 2, 4].iter().map(|p| Client::Ours(DEFAULT_CHUNK, vec!["--parallel".into(), p.to_string()])).collect();
    let target = Target { front: &server, store: &server };
    let mut rows = rounds(options, env, "parallel", &clients, &target, source)?;
    for (row, parts) in rows.iter_mut().zip([1, 2, 4]) {
        row.setting = format!("{parts} part{}", if parts == 1 { "" } else { "s" });
    }
    report.parallel(&options.command("parallel"), rows);
    Ok(())
}

/// Checksum (sha256 per PATCH) and TLS (through a terminating proxy) against the plain upload.
fn cost(options: &Options, env: &Env, report: &mut Report, source: &Path) -> Result<()> {
    println!("\nbench: checksum and TLS cost against rustus");
    let server = start_server(env, "rustus", options.size)?;
    let proxy = Server::tls_proxy(&env.tls_proxy, server.addr, &env.work.join("certs"), &env.work.join("proxy.log"))?;
    let plain = Target { front: &server, store: &server };
    let tls = Target { front: &proxy, store: &server };
    let sha = || vec!["--checksum".to_owned(), "sha256".to_owned()];
    let cases: Vec<(&str, Client, &Target<'_>)> = vec![
        ("plain", Client::Ours(DEFAULT_CHUNK, vec![]), &plain),
        ("checksum sha256", Client::Ours(DEFAULT_CHUNK, sha()), &plain),
        ("TLS", Client::Ours(DEFAULT_CHUNK, vec![]), &tls),
        ("TLS + checksum sha256", Client::Ours(DEFAULT_CHUNK, sha()), &tls),
        ("plain", Client::Curl, &plain),
        ("TLS", Client::Curl, &tls),
    ];
    let size = fs::metadata(source)?.len();
    let mut rows: Vec<Row> = cases
        .iter()
        .map(|(label, c, _)| Row::new(c.name(), format!("{label}, {}", c.chunk_label(size)), c.is_ours(), size, 1))
        .collect();
    for rep in 1..=options.reps {
        for ((_, client, target), row) in cases.iter().zip(rows.iter_mut()) {
            let (usage, cpu) = upload_once(env, client, target, source)
                .with_context(|| format!("cost: {} {}", row.client, row.setting))?;
            println!(
                "bench: [cost] rep {rep}/{} {:<18} {:<34} {:>6.2} s  cpu {:>5.2} s  rss {:>5.1} MiB  (load {})",
                options.reps,
                row.client,
                row.setting,
                usage.wall.as_secs_f64(),
                usage.cpu.as_secs_f64(),
                usage.max_rss as f64 / MIB as f64,
                load_average()
            );
            row.push(usage, cpu);
        }
    }
    report.cost(&options.command("cost"), rows);
    Ok(())
}

/// Where tus-rs's CPU time goes in one upload against the sink and against rustus: `perf record`
/// (software clock, so it works in VMs without hardware counters), the hottest symbols.
fn profile(env: &Env, report: &mut Report, source: &Path) -> Result<()> {
    if Command::new("perf").arg("--version").output().is_err() {
        println!("bench: perf is not installed; skipping the profile (apt-get install linux-perf)");
        report.profile("cargo xtask bench --only profile", Vec::new());
        return Ok(());
    }
    let size = fs::metadata(source)?.len();
    let sink = Server::sink(&env.sink, &env.work.join("sink-profile.log"))?;
    let rustus = start_server(env, "rustus", size)?;
    let mut profiles = Vec::new();
    for (name, server) in [("the sink", &sink), ("rustus", &rustus)] {
        println!("\nbench: perf record of tus-rs (4 MiB chunks) against {name}");
        let data = env.work.join(format!("perf-{}.data", name.replace(' ', "-")));
        let mut cmd = Command::new("perf");
        cmd.args(["record", "-q", "-e", "cpu-clock", "-F", "2000", "-g", "-o"])
            .arg(&data)
            .arg("--")
            .arg(&env.bench_upload)
            .arg(server.endpoint())
            .arg(source);
        let run = proc::measure(&mut cmd, &env.scratch())?;
        let url = run.stdout.lines().rev().find(|l| !l.trim().is_empty()).context("no upload URL")?.to_owned();
        verify(server, &url, source)?;
        clear(server)?;
        let text = run_output(
            Command::new("perf")
                .args([
                    "report",
                    "--no-children",
                    "--sort",
                    "dso,symbol",
                    "--stdio",
                    "-g",
                    "none",
                    "--percent-limit",
                    "1",
                    "-i",
                ])
                .arg(&data),
        )?;
        let mut rows = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            let Some((percent, rest)) = line.split_once('%') else { continue };
            let Ok(percent) = percent.trim().parse::<f64>() else { continue };
            let rest: Vec<&str> = rest.split_whitespace().collect();
            // `<dso> [k]|[.] <symbol...>`
            let (dso, symbol) = match rest.as_slice() {
                [dso, kind, symbol @ ..] if kind.starts_with('[') => {
                    let symbol: Vec<&str> = symbol.iter().copied().filter(|t| *t != "-").collect();
                    (*dso, symbol.join(" "))
                }
                _ => continue,
            };
            rows.push((percent, dso.to_owned(), symbol));
        }
        profiles.push((name.to_owned(), run.usage, rows));
    }
    report.profile("cargo xtask bench --only profile", profiles);
    Ok(())
}

/// Criterion micro-benchmarks of tus-proto (package `tus-benches`), summarised from criterion's
/// `estimates.json` files.
fn criterion(report: &mut Report) -> Result<()> {
    println!("\nbench: criterion micro-benchmarks (cargo bench -p tus-benches)");
    let root = workspace_root();
    let criterion_dir = root.join("target/criterion");
    let _ = fs::remove_dir_all(&criterion_dir);
    run_status(
        cargo()
            .args([
                "bench",
                "-p",
                "tus-benches",
                "--bench",
                "proto",
                "--",
                "--warm-up-time",
                "1",
                "--measurement-time",
                "3",
            ])
            .current_dir(&root),
    )?;
    let mut results = Vec::new();
    collect_estimates(&criterion_dir, &criterion_dir, &mut results)?;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    report.criterion("cargo xtask bench --only criterion", results);
    Ok(())
}

/// `(benchmark id, median ns, throughput bytes or elements per iteration)` from every `new/` directory.
fn collect_estimates(root: &Path, dir: &Path, out: &mut Vec<(String, f64, Option<String>)>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let estimates: serde_json::Value = serde_json::from_str(&fs::read_to_string(path.join("estimates.json"))?)?;
            let bench: serde_json::Value = serde_json::from_str(&fs::read_to_string(path.join("benchmark.json"))?)?;
            let median = estimates["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
            let throughput = match &bench["throughput"] {
                serde_json::Value::Object(map) => map.iter().next().map(|(k, v)| format!("{v} {k}")),
                _ => None,
            };
            let id = bench["full_id"]
                .as_str()
                .map_or_else(|| dir.strip_prefix(root).unwrap_or(dir).display().to_string(), str::to_owned);
            out.push((id, median, throughput));
            continue;
        }
        collect_estimates(root, &path, out)?;
    }
    Ok(())
}

/// Replaces the text between the bench markers of `path` with `text`.
fn splice(path: &Path, text: &str) -> Result<()> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let old = fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{BEGIN}\n{text}\n{}", &old[..b], &old[e..]),
        _ => format!("{old}\n{BEGIN}\n{text}\n{END}\n"),
    };
    fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
