//! `cargo xtask tidy`: checks that `cargo`/`clippy` cannot express.
//!
//! - tus-proto stays pure: none of [`BANNED_IN_PROTO`] among its transitive normal dependencies.
//! - No leftover `dbg!(`, `todo!(`, `unimplemented!(` in `crates/**/*.rs`.

use std::{
    collections::{HashMap, VecDeque},
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo, run_output, workspace_root};

/// The sans-I/O crate that must not pull in a runtime, HTTP stack or TLS.
const PROTO_CRATE: &str = "tus-proto";
const BANNED_IN_PROTO: [&str; 6] = ["tokio", "hyper", "rustls", "mio", "socket2", "hyper-util"];
const BANNED_MACROS: [&str; 3] = ["dbg!(", "todo!(", "unimplemented!("];

pub(crate) fn run() -> Result<()> {
    let mut problems = Vec::new();
    problems.extend(proto_dependencies().context("checking tus-proto's dependencies")?);
    problems.extend(banned_macros().context("scanning crates/ for leftover macros")?);
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("tidy found {} problem(s)", problems.len())
}

/// Walks the resolve graph from tus-proto along normal (non-dev, non-build) edges.
fn proto_dependencies() -> Result<Vec<String>> {
    let text = run_output(cargo().args(["metadata", "--format-version", "1"]).current_dir(workspace_root()))?;
    let meta: Value = serde_json::from_str(&text).context("parsing `cargo metadata` output")?;
    banned_dependencies(&meta)
}

/// Problems found in `cargo metadata` output: paths from tus-proto to banned crates.
fn banned_dependencies(meta: &Value) -> Result<Vec<String>> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .context("no packages in metadata")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let root = meta["workspace_members"]
        .as_array()
        .context("no workspace_members in metadata")?
        .iter()
        .filter_map(Value::as_str)
        .find(|id| names.get(id) == Some(&PROTO_CRATE))
        .with_context(|| format!("{PROTO_CRATE} is not a workspace member"))?;

    // id -> ids of its normal dependencies.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().context("no resolve graph in metadata")? {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        let deps =
            node["deps"].as_array().into_iter().flatten().filter(|dep| {
                dep["dep_kinds"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
            });
        edges.insert(id, deps.filter_map(|dep| dep["pkg"].as_str()).collect());
    }

    // Breadth-first, remembering how each package was reached to print the path.
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([root]);
    let mut problems = Vec::new();
    while let Some(id) = queue.pop_front() {
        for &dep in edges.get(id).map(Vec::as_slice).unwrap_or_default() {
            if dep == root || parent.contains_key(dep) {
                continue;
            }
            parent.insert(dep, id);
            let name = names.get(dep).copied().unwrap_or(dep);
            if BANNED_IN_PROTO.contains(&name) {
                let mut path = vec![name];
                let mut at = dep;
                while let Some(&up) = parent.get(at) {
                    path.push(names.get(up).copied().unwrap_or(up));
                    at = up;
                }
                path.reverse();
                problems.push(format!(
                    "{PROTO_CRATE} must stay free of I/O crates but depends on {name}: {}",
                    path.join(" -> ")
                ));
            }
            queue.push_back(dep);
        }
    }
    Ok(problems)
}

fn banned_macros() -> Result<Vec<String>> {
    scan_macros(&workspace_root())
}

/// Leftover macros in `<root>/crates/**/*.rs`, as `path:line: ...`.
fn scan_macros(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files)?;
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            for needle in BANNED_MACROS.iter().filter(|m| line.contains(*m)) {
                let shown = file.strip_prefix(root).unwrap_or(&file).display();
                problems.push(format!("{shown}:{}: leftover `{needle}`: {}", n + 1, line.trim()));
            }
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if entry.file_name() != "target" {
                rust_files(&path, out)?;
            }
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dep(pkg: &str, kind: Option<&str>) -> Value {
        json!({ "name": pkg, "pkg": pkg, "dep_kinds": [{ "kind": kind, "target": null }] })
    }

    fn metadata(nodes: Value) -> Value {
        let names = ["tus-proto", "url", "tokio", "mio", "proptest", "cc", "libc"];
        json!({
            "packages": names.iter().map(|n| json!({ "id": n, "name": n })).collect::<Vec<_>>(),
            "workspace_members": ["tus-proto"],
            "resolve": { "nodes": nodes },
        })
    }

    #[test]
    fn reports_the_path_to_a_banned_crate() {
        let meta = metadata(json!([
            { "id": "tus-proto", "deps": [dep("url", None), dep("proptest", Some("dev"))] },
            { "id": "url", "deps": [dep("tokio", None)] },
            { "id": "tokio", "deps": [dep("mio", None)] },
            { "id": "proptest", "deps": [dep("tokio", None)] },
        ]));
        let problems = banned_dependencies(&meta).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].ends_with("tus-proto -> url -> tokio"), "{problems:?}");
        assert!(problems[1].ends_with("tus-proto -> url -> tokio -> mio"), "{problems:?}");
    }

    #[test]
    fn ignores_dev_and_build_dependencies() {
        let meta = metadata(json!([
            { "id": "tus-proto", "deps": [dep("proptest", Some("dev")), dep("cc", Some("build"))] },
            { "id": "proptest", "deps": [dep("tokio", None)] },
            { "id": "cc", "deps": [dep("mio", None)] },
        ]));
        assert_eq!(banned_dependencies(&meta).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn finds_leftover_macros() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let dir = root.join("crates/a/src");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("lib.rs"), "fn f() {\n    dbg!(1);\n    todo!()\n}\n").unwrap();
        fs::write(dir.join("notes.txt"), "unimplemented!(\n").unwrap();
        let problems = scan_macros(&root);
        fs::remove_dir_all(&root).unwrap();
        let problems = problems.unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("crates/a/src/lib.rs:2: leftover `dbg!(`"), "{problems:?}");
        assert!(problems[1].starts_with("crates/a/src/lib.rs:3: leftover `todo!(`"), "{problems:?}");
    }
}
