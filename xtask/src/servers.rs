//! `cargo xtask servers install|run`: the real tus servers the integration tests talk to.
//!
//! Layout under the tools directory (`.tools/` or `$TUS_TOOLS_DIR`):
//!
//! ```text
//! .tools/rustus/bin/rustus           cargo install --root .tools/rustus (+ cargo's .crates2.json)
//! .tools/node/                       package.json, package-lock.json, tus-node-server.mjs, node_modules/
//! .tools/versions.json               what was installed, so reruns skip work
//! .tools/cargo-target/               CARGO_TARGET_DIR of the rustus build (removed after success)
//! .tools/run/<server>-data/          data directory of `servers run`
//! ```

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, run_output, run_status, tools_dir, workspace_root};

/// rustus release installed with `cargo install`.
pub(crate) const RUSTUS_VERSION: &str = "0.5.10";
/// `hashers` enables the checksum extension (md5, sha1, sha256, sha512).
pub(crate) const RUSTUS_FEATURES: &str = "hashers";
/// @tus/server 2.x declares `"engines": { "node": ">=20.19.0" }`.
const NODE_MIN: (u32, u32) = (20, 19);
/// Files copied from `xtask/servers/` into `.tools/node/`.
const NODE_DEPS_FILES: [&str; 2] = ["package.json", "package-lock.json"];
const NODE_SCRIPT: &str = "tus-node-server.mjs";

fn rustus_bin(tools: &Path) -> PathBuf {
    tools.join("rustus/bin/rustus")
}

fn node_dir(tools: &Path) -> PathBuf {
    tools.join("node")
}

fn sources_dir() -> PathBuf {
    workspace_root().join("xtask/servers")
}

fn secs(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}

/// `cargo xtask servers install`.
pub(crate) fn install() -> Result<()> {
    let tools = tools_dir();
    fs::create_dir_all(&tools).with_context(|| format!("creating {}", tools.display()))?;
    let mut stamp = Stamp::load(&tools);

    let start = Instant::now();
    install_rustus(&tools, &mut stamp).context("installing rustus")?;
    println!("servers: rustus step took {}", secs(start));

    let start = Instant::now();
    install_node(&tools, &mut stamp).context("installing @tus/server")?;
    println!("servers: node step took {}", secs(start));
    Ok(())
}

fn install_rustus(tools: &Path, stamp: &mut Stamp) -> Result<()> {
    let root = tools.join("rustus");
    let bin = rustus_bin(tools);
    if rustus_is_installed(&root, &bin) {
        println!(
            "servers: rustus {RUSTUS_VERSION} (features: {RUSTUS_FEATURES}) already installed at {}",
            bin.display()
        );
        stamp.set("rustus", rustus_stamp(&bin));
        return stamp.save();
    }

    // A separate target dir: the workspace's own `target/` lock stays free, and a stale
    // half-built tree from an interrupted install is simply reused.
    let target = tools.join("cargo-target");
    println!(
        "servers: building rustus {RUSTUS_VERSION} with `cargo install` (takes a few minutes; \
         CARGO_TARGET_DIR={})",
        target.display()
    );
    run_status(
        cargo()
            .args(["install", "rustus", "--version", RUSTUS_VERSION])
            .args(["--locked", "--force", "--features", RUSTUS_FEATURES])
            .arg("--root")
            .arg(&root)
            .env("CARGO_TARGET_DIR", &target),
    )?;
    if !rustus_is_installed(&root, &bin) {
        bail!("`cargo install` finished but {} is not rustus {RUSTUS_VERSION} with `{RUSTUS_FEATURES}`", bin.display());
    }
    // Hundreds of MB of build artefacts that nothing reads again.
    if let Err(err) = fs::remove_dir_all(&target) {
        eprintln!("servers: warning: could not remove {}: {err}", target.display());
    }
    stamp.set("rustus", rustus_stamp(&bin));
    stamp.save()?;
    println!("servers: installed {}", bin.display());
    Ok(())
}

/// True when `bin` answers `--version` with the pinned version and cargo's own install record
/// (`<root>/.crates2.json`) says it was built with the pinned features.
fn rustus_is_installed(root: &Path, bin: &Path) -> bool {
    if !bin.is_file() {
        return false;
    }
    let Ok(version) = run_output(Command::new(bin).arg("--version")) else {
        return false;
    };
    if version != format!("Rustus {RUSTUS_VERSION}") {
        println!("servers: found `{version}` at {}, want {RUSTUS_VERSION}", bin.display());
        return false;
    }
    let Ok(text) = fs::read_to_string(root.join(".crates2.json")) else {
        return false;
    };
    let Ok(record) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let prefix = format!("rustus {RUSTUS_VERSION} ");
    record["installs"].as_object().is_some_and(|installs| {
        installs.iter().any(|(key, install)| {
            key.starts_with(&prefix)
                && install["features"].as_array().is_some_and(|f| f.iter().any(|f| f == RUSTUS_FEATURES))
        })
    })
}

fn rustus_stamp(bin: &Path) -> Value {
    json!({
        "version": RUSTUS_VERSION,
        "features": [RUSTUS_FEATURES],
        "bin": bin.display().to_string(),
    })
}

fn install_node(tools: &Path, stamp: &mut Stamp) -> Result<()> {
    let node_version = check_node()?;
    let npm_version =
        run_output(Command::new("npm").arg("--version")).context("npm is required (is Node.js installed?)")?;

    let src = sources_dir();
    let dest = node_dir(tools);
    fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;

    // The dependency set is identified by the exact bytes of package.json + package-lock.json.
    let mut deps_bytes = Vec::new();
    for name in NODE_DEPS_FILES {
        let path = src.join(name);
        deps_bytes.extend(fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
        deps_bytes.push(0);
    }
    let deps_key = format!("{:016x}", fnv1a64(&deps_bytes));

    let up_to_date = stamp.get("node")["deps_key"] == deps_key.as_str()
        && dest.join("node_modules/.package-lock.json").is_file()
        && NODE_DEPS_FILES.iter().all(|name| fs::read(src.join(name)).ok() == fs::read(dest.join(name)).ok());
    if up_to_date {
        println!("servers: node packages already installed in {}", dest.display());
    } else {
        for name in NODE_DEPS_FILES {
            copy(&src.join(name), &dest.join(name))?;
        }
        println!("servers: npm ci in {} (node {node_version}, npm {npm_version})", dest.display());
        // Optional dependencies are only the Redis clients for @tus/server's Redis locker/KV store.
        run_status(Command::new("npm").args(["ci", "--omit=optional", "--no-audit", "--no-fund"]).current_dir(&dest))?;
    }

    // The script is not a dependency: refresh it without reinstalling.
    let script_src = src.join(NODE_SCRIPT);
    let script_dest = dest.join(NODE_SCRIPT);
    if fs::read(&script_src).ok() != fs::read(&script_dest).ok() {
        copy(&script_src, &script_dest)?;
        println!("servers: updated {}", script_dest.display());
    }

    let server = installed_package_version(&dest, "@tus/server")?;
    let file_store = installed_package_version(&dest, "@tus/file-store")?;
    for (name, got) in [("@tus/server", &server), ("@tus/file-store", &file_store)] {
        let want = pinned_node_version(&src, name)?;
        if *got != want {
            bail!("{name} {got} is installed in {} but package.json pins {want}", dest.display());
        }
    }
    println!("servers: @tus/server {server}, @tus/file-store {file_store} in {}", dest.display());
    stamp.set(
        "node",
        json!({
            "deps_key": deps_key,
            "@tus/server": server,
            "@tus/file-store": file_store,
            "node": node_version,
            "npm": npm_version,
        }),
    );
    stamp.save()
}

/// `node --version`, checked against [`NODE_MIN`].
fn check_node() -> Result<String> {
    let version = run_output(Command::new("node").arg("--version"))
        .context("Node.js is required for @tus/server (`node` not found on PATH)")?;
    let mut parts = version.trim_start_matches('v').split('.').map(str::parse::<u32>);
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        bail!("cannot parse `node --version` output {version:?}");
    };
    if (major, minor) < NODE_MIN {
        bail!("node {version} is too old: @tus/server needs >= {}.{}", NODE_MIN.0, NODE_MIN.1);
    }
    Ok(version)
}

fn installed_package_version(node_dir: &Path, package: &str) -> Result<String> {
    let path = node_dir.join("node_modules").join(package).join("package.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json["version"].as_str().map(str::to_owned).with_context(|| format!("no version in {}", path.display()))
}

fn pinned_node_version(src: &Path, package: &str) -> Result<String> {
    let path = src.join("package.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json["dependencies"][package]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} does not list {package}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// FNV-1a, 64 bit: a content key for the stamp (not security relevant).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// `.tools/versions.json`: `{ "rustus": {...}, "node": {...} }`.
struct Stamp {
    path: PathBuf,
    value: Value,
}

impl Stamp {
    fn load(tools: &Path) -> Self {
        let path = tools.join("versions.json");
        let value = fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        Self { path, value }
    }

    fn get(&self, key: &str) -> &Value {
        &self.value[key]
    }

    fn set(&mut self, key: &str, value: Value) {
        self.value[key] = value;
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.value)? + "\n";
        fs::write(&self.path, text).with_context(|| format!("writing {}", self.path.display()))
    }
}

/// `cargo xtask servers run rustus|node [--port N] [-- extra server args]`.
pub(crate) fn run_cmd(args: &[&str]) -> Result<()> {
    let (kind, mut rest) = match args {
        [kind, rest @ ..] => (*kind, rest),
        [] => bail!("usage: cargo xtask servers run rustus|node [--port N] [-- ARGS...]"),
    };
    let mut port: Option<u16> = None;
    let mut extra: Vec<&str> = Vec::new();
    while let [arg, tail @ ..] = rest {
        match *arg {
            "--port" => {
                let [value, tail @ ..] = tail else { bail!("--port needs a value") };
                port = Some(value.parse().with_context(|| format!("bad port {value:?}"))?);
                rest = tail;
                continue;
            }
            "--" => {
                extra.extend(tail);
                break;
            }
            other => bail!("unknown argument `{other}` (server flags go after `--`)"),
        }
    }

    let tools = tools_dir();
    let data = tools.join("run").join(format!("{kind}-data"));
    fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let mut cmd = match kind {
        "rustus" => {
            let bin = rustus_bin(&tools);
            if !bin.is_file() {
                bail!("{} is missing: run `cargo xtask servers install`", bin.display());
            }
            let port = port.unwrap_or(1081);
            println!("servers: rustus {RUSTUS_VERSION} on http://127.0.0.1:{port}/files/ (data: {})", data.display());
            let mut cmd = Command::new(bin);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--url", "/files"])
                .arg("--data-dir")
                .arg(&data)
                .arg("--info-dir")
                .arg(&data);
            cmd
        }
        "node" => {
            let script = node_dir(&tools).join(NODE_SCRIPT);
            if !node_dir(&tools).join("node_modules/@tus/server").is_dir() || !script.is_file() {
                bail!("@tus/server is not installed in {}: run `cargo xtask servers install`", tools.display());
            }
            let port = port.unwrap_or(1080);
            println!("servers: @tus/server on http://127.0.0.1:{port}/files/ (data: {})", data.display());
            let mut cmd = Command::new("node");
            cmd.arg(script).args(["--port", &port.to_string(), "--ignore-stdin", "--dir"]).arg(&data);
            cmd
        }
        other => bail!("unknown server `{other}`: expected `rustus` or `node`"),
    };
    cmd.args(extra).current_dir(&data);
    println!("servers: Ctrl-C to stop");
    run_status(&mut cmd)
}
