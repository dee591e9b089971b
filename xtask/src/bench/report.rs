//! The markdown report of `cargo xtask bench`: medians, ratios against the peers of the same run,
//! and the targets, met or not.

use std::{fmt::Write as _, time::Duration};

use super::proc::Usage;
use super::{MIB, Options, load_average, size_label};

/// One client setting measured several times.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) client: String,
    pub(crate) setting: String,
    pub(crate) ours: bool,
    /// Bytes per file, and files per run.
    bytes: u64,
    files: usize,
    runs: Vec<Usage>,
    server_cpu: Vec<Duration>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

impl Row {
    pub(crate) fn new(client: String, setting: String, ours: bool, bytes: u64, files: usize) -> Self {
        Self { client, setting, ours, bytes, files, runs: Vec::new(), server_cpu: Vec::new() }
    }

    pub(crate) fn push(&mut self, usage: Usage, server_cpu: Duration) {
        self.runs.push(usage);
        self.server_cpu.push(server_cpu);
    }

    /// Median wall time, seconds.
    fn wall(&self) -> f64 {
        median(self.runs.iter().map(|u| u.wall.as_secs_f64()).collect())
    }

    /// Median client CPU, seconds.
    fn cpu(&self) -> f64 {
        median(self.runs.iter().map(|u| u.cpu.as_secs_f64()).collect())
    }

    /// Median peak RSS, MiB.
    fn rss(&self) -> f64 {
        median(self.runs.iter().map(|u| u.max_rss as f64 / MIB as f64).collect())
    }

    fn server(&self) -> f64 {
        median(self.server_cpu.iter().map(Duration::as_secs_f64).collect())
    }

    fn total_mib(&self) -> f64 {
        (self.bytes * self.files as u64) as f64 / MIB as f64
    }

    /// MiB/s at the median wall time.
    fn mibs(&self) -> f64 {
        self.total_mib() / self.wall()
    }

    /// Client CPU seconds per GiB sent.
    fn cpu_per_gib(&self) -> f64 {
        self.cpu() / (self.total_mib() / 1024.0)
    }

    fn files_per_s(&self) -> f64 {
        self.files as f64 / self.wall()
    }

    fn is_default_chunk(&self) -> bool {
        self.ours && self.setting.contains("(default)")
    }
}

/// One profiled upload: against what, its cost, and `(share %, object, symbol)` of the hottest symbols.
pub(crate) type Profile = (String, Usage, Vec<(f64, String, String)>);

/// A target of the issue, and what this run measured.
#[derive(Debug)]
struct Target {
    what: String,
    measured: String,
    met: bool,
}

/// The report, built section by section.
#[derive(Debug)]
pub(crate) struct Report {
    settings: String,
    versions: Vec<(String, String)>,
    targets: Vec<Target>,
    sections: Vec<String>,
    finish: String,
}

impl Report {
    pub(crate) fn new(options: &Options, versions: &[(String, String)]) -> Self {
        let settings = format!(
            "size {}, {} repetitions (median reported), sections {}, servers {}",
            size_label(options.size),
            options.reps,
            options.only.join(","),
            options.servers.join(",")
        );
        Self { settings, versions: versions.to_vec(), targets: Vec::new(), sections: Vec::new(), finish: String::new() }
    }

    fn target(&mut self, what: String, measured: String, met: bool) {
        self.targets.push(Target { what, measured, met });
    }

    pub(crate) fn single(&mut self, server: &str, command: &str, rows: Vec<Row>) {
        let fastest_peer = rows.iter().filter(|r| !r.ours).map(Row::wall).fold(f64::INFINITY, f64::min);
        let curl = rows.iter().find(|r| r.client.starts_with("curl")).map(Row::cpu_per_gib);
        let mut s = format!("### Single file, {server}\n\n`{command}`\n\n");
        s += "| client | chunk | wall s | MiB/s | client CPU s | CPU s/GiB | peak RSS MiB | server CPU s | wall ÷ fastest peer | CPU ÷ curl |\n";
        s += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
        for r in &rows {
            let vs_curl = curl.map_or_else(|| "–".into(), |c| format!("{:.2}", r.cpu_per_gib() / c));
            let name = if r.ours { format!("**{}**", r.client) } else { r.client.clone() };
            let _ = writeln!(
                s,
                "| {name} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} | {vs_curl} |",
                r.setting,
                r.wall(),
                r.mibs(),
                r.cpu(),
                r.cpu_per_gib(),
                r.rss(),
                r.server(),
                r.wall() / fastest_peer
            );
        }
        let fastest_name = rows
            .iter()
            .filter(|r| !r.ours)
            .min_by(|a, b| a.wall().total_cmp(&b.wall()))
            .map(|r| format!("{} {}", r.client, r.setting))
            .unwrap_or_default();
        if let Some(ours) = rows.iter().find(|r| r.is_default_chunk()) {
            let ratio = ours.wall() / fastest_peer;
            self.target(
                format!("wall time ≤ fastest peer, default chunk size, {server}"),
                format!("{:.2} s vs {:.2} s ({fastest_name}): ×{ratio:.2}", ours.wall(), fastest_peer),
                ratio <= 1.0,
            );
            if let Some(c) = curl {
                self.target(
                    format!("client CPU per GiB < curl's, {server}"),
                    format!("{:.2} vs {c:.2} CPU s/GiB: ×{:.2}", ours.cpu_per_gib(), ours.cpu_per_gib() / c),
                    ours.cpu_per_gib() < c,
                );
            }
            self.target(
                format!("peak RSS < 24 MiB, {} at the default chunk size, {server}", size_label(ours.bytes)),
                format!("{:.1} MiB", ours.rss()),
                ours.rss() < 24.0,
            );
        }
        self.sections.push(s);
    }

    pub(crate) fn sink(&mut self, command: &str, iperf: f64, rows: Vec<Row>) {
        let iperf_mibs = iperf / MIB as f64;
        let curl = rows.iter().find(|r| r.client.starts_with("curl")).map(Row::cpu_per_gib);
        let mut s = format!("### Client ceiling: the sink\n\n`{command}`\n\n");
        let _ =
            writeln!(s, "iperf3 loopback (memory to memory, one stream, 5 s), same run: **{iperf_mibs:.0} MiB/s**.\n");
        s += "| client | chunk | wall s | MiB/s | of iperf3 | client CPU s | CPU s/GiB | peak RSS MiB | sink CPU s | CPU ÷ curl |\n";
        s += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
        for r in &rows {
            let vs_curl = curl.map_or_else(|| "–".into(), |c| format!("{:.2}", r.cpu_per_gib() / c));
            let name = if r.ours { format!("**{}**", r.client) } else { r.client.clone() };
            let _ = writeln!(
                s,
                "| {name} | {} | {:.2} | {:.0} | {:.0}% | {:.2} | {:.2} | {:.1} | {:.2} | {vs_curl} |",
                r.setting,
                r.wall(),
                r.mibs(),
                100.0 * r.mibs() / iperf_mibs,
                r.cpu(),
                r.cpu_per_gib(),
                r.rss(),
                r.server(),
            );
        }
        if let Some(ours) = rows.iter().find(|r| r.is_default_chunk()) {
            let share = ours.mibs() / iperf_mibs;
            self.target(
                "≥ 70% of the iperf3 loopback figure against the sink (default chunk size)".into(),
                format!("{:.0} of {iperf_mibs:.0} MiB/s: {:.0}%", ours.mibs(), 100.0 * share),
                share >= 0.70,
            );
            if let Some(c) = curl {
                self.target(
                    "client CPU per GiB < curl's, sink".into(),
                    format!("{:.2} vs {c:.2} CPU s/GiB: ×{:.2}", ours.cpu_per_gib(), ours.cpu_per_gib() / c),
                    ours.cpu_per_gib() < c,
                );
            }
        }
        self.sections.push(s);
    }

    pub(crate) fn many(
        &mut self,
        command: &str,
        tables: Vec<(usize, u64, Vec<Row>)>,
        growth: Vec<(usize, usize, Usage, u64)>,
    ) {
        let mut s = format!("### Many files, rustus\n\n`{command}`\n\n");
        s += "One process uploads every file: tus-rs through one `Uploader` and one `Client` (`bench_many`), \
              aiotus through one `aiohttp.ClientSession` with `asyncio.gather` and a semaphore.\n\n";
        for (count, size, rows) in &tables {
            let _ = writeln!(s, "{count} files of {}:\n", size_label(*size));
            let mut worst: Option<(f64, String)> = None;
            s += "| client | concurrency | wall s | files/s | client CPU s | peak RSS MiB | server CPU s | files/s ÷ aiotus |\n";
            s += "|---|---|--:|--:|--:|--:|--:|--:|\n";
            for pair in rows.chunks(2) {
                let peer = pair.iter().find(|r| !r.ours).map_or(f64::NAN, Row::files_per_s);
                for r in pair {
                    let name = if r.ours { format!("**{}**", r.client) } else { r.client.clone() };
                    let _ = writeln!(
                        s,
                        "| {name} | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.2} | {:.2} |",
                        r.setting.trim_start_matches("concurrency "),
                        r.wall(),
                        r.files_per_s(),
                        r.cpu(),
                        r.rss(),
                        r.server(),
                        r.files_per_s() / peer
                    );
                    if r.ours {
                        let ratio = r.files_per_s() / peer;
                        if worst.as_ref().is_none_or(|(w, _)| ratio < *w) {
                            worst = Some((ratio, r.setting.clone()));
                        }
                    }
                }
            }
            s.push('\n');
            if let Some((ratio, setting)) = worst {
                self.target(
                    format!("≥ 5× aiotus's files per second, {count} files of {}", size_label(*size)),
                    format!("lowest ×{ratio:.2} ({setting})"),
                    ratio >= 5.0,
                );
            }
        }
        if !growth.is_empty() {
            s += "Memory against the number of files (tus-rs, the 64 KiB files uploaded again and again; \
                  resident set sampled every 20 ms while it runs):\n\n";
            s += "| uploads | concurrency | wall s | files/s | median RSS MiB | peak RSS MiB |\n|--:|--:|--:|--:|--:|--:|\n";
            for (n, c, u, median) in &growth {
                let _ = writeln!(
                    s,
                    "| {n} | {c} | {:.2} | {:.0} | {:.1} | {:.1} |",
                    u.wall.as_secs_f64(),
                    *n as f64 / u.wall.as_secs_f64(),
                    *median as f64 / MIB as f64,
                    u.max_rss as f64 / MIB as f64
                );
            }
            let (first, last) = (&growth[0], &growth[growth.len() - 1]);
            let mib = |b: u64| b as f64 / MIB as f64;
            self.target(
                "memory does not grow with the number of files (median RSS while running)".into(),
                format!(
                    "{:.1} MiB at {} uploads, {:.1} MiB at {} (peak {:.1} → {:.1} MiB)",
                    mib(first.3),
                    first.0,
                    mib(last.3),
                    last.0,
                    mib(first.2.max_rss),
                    mib(last.2.max_rss)
                ),
                mib(last.3) <= mib(first.3) * 1.10 + 1.0,
            );
            s.push('\n');
        }
        self.sections.push(s);
    }

    pub(crate) fn parallel(&mut self, command: &str, rows: Vec<Row>) {
        let base = rows.first().map_or(f64::NAN, Row::wall);
        let mut s = format!("### Parallel split (concatenation), rustus\n\n`{command}`\n\n");
        s += "| client | parts | wall s | MiB/s | client CPU s | peak RSS MiB | server CPU s | wall ÷ 1 part |\n";
        s += "|---|---|--:|--:|--:|--:|--:|--:|\n";
        for r in &rows {
            let parts = r.client.clone();
            let _ = writeln!(
                s,
                "| **{parts}** | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.2} | {:.2} |",
                r.setting,
                r.wall(),
                r.mibs(),
                r.cpu(),
                r.rss(),
                r.server(),
                r.wall() / base
            );
        }
        self.sections.push(s);
    }

    pub(crate) fn cost(&mut self, command: &str, rows: Vec<Row>) {
        let mut s = format!("### Checksum and TLS cost, rustus\n\n`{command}`\n\n");
        s += "TLS: `tus-tls-proxy` (rustls, one thread) terminates TLS in front of rustus on the same machine; \
              its CPU is counted as server CPU.\n\n";
        s += "| client | case | wall s | MiB/s | client CPU s | peak RSS MiB | server CPU s | wall ÷ plain | CPU ÷ plain |\n";
        s += "|---|---|--:|--:|--:|--:|--:|--:|--:|\n";
        for r in &rows {
            let plain = rows.iter().find(|p| p.client == r.client && p.setting.starts_with("plain"));
            let (w, c) = plain.map_or((f64::NAN, f64::NAN), |p| (r.wall() / p.wall(), r.cpu() / p.cpu()));
            let name = if r.ours { format!("**{}**", r.client) } else { r.client.clone() };
            let _ = writeln!(
                s,
                "| {name} | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.2} | {w:.2} | {c:.2} |",
                r.setting,
                r.wall(),
                r.mibs(),
                r.cpu(),
                r.rss(),
                r.server()
            );
        }
        self.sections.push(s);
    }

    pub(crate) fn profile(&mut self, command: &str, profiles: Vec<Profile>) {
        let mut s = format!("### Profile: where tus-rs's CPU time goes\n\n`{command}`\n\n");
        if profiles.is_empty() {
            s += "perf is not installed on this machine: no profile.\n";
        }
        for (server, usage, rows) in profiles {
            let _ = writeln!(
                s,
                "Against {server} (4 MiB chunks, `perf record -e cpu-clock -g`): {:.2} s wall and {:.2} CPU s with perf attached. \
                 Symbols with ≥ 1% of the samples:\n",
                usage.wall.as_secs_f64(),
                usage.cpu.as_secs_f64()
            );
            s += "| share | where | symbol |\n|--:|---|---|\n";
            for (percent, dso, symbol) in rows {
                let _ = writeln!(s, "| {percent:.1}% | {dso} | `{symbol}` |");
            }
            s.push('\n');
        }
        self.sections.push(s);
    }

    pub(crate) fn criterion(&mut self, command: &str, results: Vec<(String, f64, Option<String>)>) {
        let mut s = format!("### Criterion micro-benchmarks (tus-proto)\n\n`{command}`\n\n");
        s += "| benchmark | median per iteration | |\n|---|--:|---|\n";
        for (id, ns, throughput) in results {
            let time = if ns >= 1_000_000.0 {
                format!("{:.2} ms", ns / 1e6)
            } else if ns >= 1_000.0 {
                format!("{:.2} µs", ns / 1e3)
            } else {
                format!("{ns:.1} ns")
            };
            // `{"Elements": 256}` becomes "256 Elements": show the time per element too.
            let per = throughput.as_deref().and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok());
            let per =
                per.map_or_else(String::new, |n| format!("{:.2} µs per element ({n} per iteration)", ns / n / 1e3));
            let _ = writeln!(s, "| `{id}` | {time} | {per} |");
        }
        self.sections.push(s);
    }

    pub(crate) fn finish(&mut self, took: Duration, floor_mib: f64) {
        self.finish = format!(
            "Run took {:.0} s; load average at the end: {}; peak-RSS floor at the end: {floor_mib:.1} MiB.",
            took.as_secs_f64(),
            load_average()
        );
    }

    pub(crate) fn render(&self) -> String {
        let mut s = String::from("## Results\n\n");
        let _ = writeln!(s, "Settings: {}. {}\n", self.settings, self.finish);
        s += "| | |\n|---|---|\n";
        for (k, v) in &self.versions {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
        if !self.targets.is_empty() {
            s += "### Targets\n\n| target | this run | met |\n|---|---|---|\n";
            for t in &self.targets {
                let _ = writeln!(s, "| {} | {} | {} |", t.what, t.measured, if t.met { "yes" } else { "**no**" });
            }
            s.push('\n');
        }
        for section in &self.sections {
            s += section;
            s.push('\n');
        }
        s
    }
}
