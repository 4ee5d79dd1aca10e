//! `cargo xtask bench`: LevelDB `db_bench`-style workloads on your engine
//! and on the reference, side by side (and on peer engines with
//! `--peers`).
//!
//! How: build the `lsm-bench` binary (workspace member `bench/`) in release
//! twice — default features (your chapters) and `--features reference`
//! (plus the peers' features with `--peers`) — copying each binary aside
//! under `target/xtask-bench/`, then run one process per engine, one after
//! the other, with `--machine`: it prints one tab-separated line per
//! workload (its progress goes to stderr, passed through). The lines are
//! put side by side here, and written as JSON with `--json`. An engine that
//! reaches a `todo!()` is reported per workload as "not implemented yet
//! (chapter N)" by the binary itself, which catches the panic.
//!
//! Our engine runs with chapter 10's background threads and block cache
//! (the binary's defaults: 2 threads, 32 MiB — fjall 3's default cache).
//! After the reference, two variants of it run only what they are for:
//! `reference-inline` (no background threads: fillrandom and overwrite,
//! to compare the write tail with stalls and without) and
//! `reference-nocache` (no block cache: the same database built again,
//! then the reads), each shown only in the rows it is for.
//!
//! Nothing here is compiled by a learner's `cargo test` or `cargo xtask
//! grade`: the binary is built only by this command, the peers only with
//! `--peers`, RocksDB (C++, about 20 minutes) only with `--rocksdb`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cargo::cargo;
use crate::json::Value;
use crate::workspace::Workspace;
use crate::{Result, failed, help_requested, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask bench [--num N] [--reads R] [--sync-num S] [--batch K]
                         [--workloads LIST] [--json FILE] [--dir DIR]
                         [--no-background] [--cache-bytes N] [--no-variants]
                         [--features F] [--reference-only] [--peers] [--rocksdb]

Runs LevelDB db_bench workloads on your engine (chapters/) and on the
reference (solutions/), release builds, each in a new temporary directory,
and prints ops/s, MB/s, yours/reference, write and space amplification,
and each operation's latency: p50, p99, p99.9 and max.

  --num N            keys (16-byte \"{:016}\" numbers, 100-byte values),
                     and writes per fill (default 1000000)
  --reads R          gets/seeks of readrandom, readmissing, seekrandom
                     (default N)
  --sync-num S       writes of fillsync, each synced (default N/100, as
                     db_bench does)
  --batch K          operations per write call (default 1)
  --workloads LIST   comma-separated, from fillseq,fillsync,fillrandom,
                     overwrite,readrandom,readmissing,readseq,seekrandom,
                     deleterandom (default: all; they always run in this order)
  --json FILE        also write every figure to FILE as JSON
  --dir DIR          where the temporary databases go (default: the system's
                     temporary directory; use a real disk, not tmpfs)
  --no-background    our engine (yours and the reference) flushes and compacts
                     inline (default: 2 background threads, with write stalls;
                     inline if your chapter 10 is not done)
  --cache-bytes N    our engine's block cache (default 33554432 = 32 MiB,
                     fjall 3's default; 0: none)
  --no-variants      skip reference-inline (the reference without background
                     threads: fillrandom, overwrite) and reference-nocache
                     (without the block cache: the reads, on the same
                     database built again), which run after the reference
  --features F       your build takes these workbook features, e.g.
                     `ref-upto-ch06` to bench your chapter 7 on the
                     reference chapters 1-6 (default: all your chapters)
  --reference-only   skip your engine (no build of chapters/)
  --peers            also fjall (twice: its default, and `fjall-buffered` with
                     its journal kept in its user-space buffer), sled and
                     redb, on the same bytes (their crates are compiled the
                     first time: a few minutes)
  --rocksdb          also RocksDB (compiles its C++: about 20 minutes; untested)

Compare ratios within one run: the machine's speed varies from run to run.";

/// The workloads, in the order they run (as the binary runs them).
const WORKLOADS: [&str; 9] = [
    "fillseq",
    "fillsync",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readmissing",
    "readseq",
    "seekrandom",
    "deleterandom",
];

/// The peers `--peers` adds: features of `lsm-bench`, and the engines
/// each feature compiles in (fjall twice: its default, which hands every
/// write to the OS as ours does, and with its journal left in its 8 KiB
/// user-space buffer).
const PEERS: [(&str, &[&str]); 3] = [
    ("fjall", &["fjall", "fjall-buffered"]),
    ("sled", &["sled"]),
    ("redb", &["redb"]),
];

/// A run of the reference with one setting changed, shown only in the
/// rows it is for.
#[derive(Debug)]
struct Variant {
    label: &'static str,
    /// What differs, for the configuration lines.
    what: &'static str,
    /// Without background threads (else: without the block cache).
    inline: bool,
    /// The workloads it runs: the ones it is shown in, and what they need
    /// to see the same database as the reference's run.
    runs: &'static [&'static str],
    /// The workloads it is shown in.
    shows: &'static [&'static str],
}

const VARIANTS: [Variant; 2] = [
    Variant {
        label: "reference-inline",
        what: "the reference with --no-background (background_threads 0): the write that \
               fills the memtable flushes it and compacts, inline; nothing to stall for",
        inline: true,
        runs: &["fillrandom", "overwrite"],
        shows: &["fillrandom", "overwrite"],
    },
    Variant {
        label: "reference-nocache",
        what: "the reference with --cache-bytes 0: every block read from its file; the \
               database built again (fillrandom, overwrite), only its reads shown",
        inline: false,
        runs: &[
            "fillrandom",
            "overwrite",
            "readrandom",
            "readmissing",
            "readseq",
            "seekrandom",
        ],
        shows: &["readrandom", "readmissing", "readseq", "seekrandom"],
    },
];

#[derive(Debug, Default)]
struct Args {
    /// Passed on to the binary as they are (every engine).
    pass: Vec<String>,
    /// `--workloads`, if given.
    workloads: Option<Vec<String>>,
    /// Our engine only: `--no-background`.
    no_background: bool,
    /// Our engine only: `--cache-bytes`.
    cache_bytes: Option<String>,
    no_variants: bool,
    json: Option<PathBuf>,
    reference_only: bool,
    peers: bool,
    rocksdb: bool,
    /// Features of lsm-workbook for your build, e.g. `ref-upto-ch06`.
    features: Vec<String>,
}

impl Args {
    /// The binary's arguments: the common ones, `workloads` (if some), and
    /// for our engine its settings, `inline` or `no_cache` forcing them.
    fn engine_args(
        &self,
        ours: bool,
        workloads: Option<&[String]>,
        inline: bool,
        no_cache: bool,
    ) -> Vec<String> {
        let mut out = self.pass.clone();
        if let Some(list) = workloads.or(self.workloads.as_deref()) {
            out.extend(["--workloads".to_string(), list.join(",")]);
        }
        if ours {
            if self.no_background || inline {
                out.push("--no-background".into());
            }
            let cache = if no_cache {
                Some("0")
            } else {
                self.cache_bytes.as_deref()
            };
            if let Some(bytes) = cache {
                out.extend(["--cache-bytes".to_string(), bytes.to_string()]);
            }
        }
        out
    }

    /// The variants to run, each with its workloads (those chosen) and the
    /// ones it is shown in; none with `--no-variants`, none whose setting
    /// the main runs already have.
    fn variants(&self) -> Vec<(&'static Variant, Vec<String>, Vec<String>)> {
        if self.no_variants {
            return Vec::new();
        }
        let chosen = |names: &[&str]| -> Vec<String> {
            let names = names.iter().filter(|name| {
                self.workloads
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|w| w == *name))
            });
            names.map(|name| name.to_string()).collect()
        };
        VARIANTS
            .iter()
            .filter(|v| {
                if v.inline {
                    !self.no_background
                } else {
                    self.cache_bytes.as_deref().map(|b| b.replace('_', "")) != Some("0".into())
                }
            })
            .filter_map(|v| {
                let (runs, shows) = (chosen(v.runs), chosen(v.shows));
                (!shows.is_empty()).then_some((v, runs, shows))
            })
            .collect()
    }
}

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    let args = parse(args)?;
    let ws = Workspace::locate()?;
    let mut runs = Vec::new();
    if !args.reference_only {
        let yours: Vec<String> = args
            .features
            .iter()
            .map(|feature| format!("lsm-workbook/{feature}"))
            .collect();
        runs.push(match build(&ws, "yours", &yours)? {
            Some(binary) => run_engine(
                &binary,
                "workbook",
                "yours",
                &args.engine_args(true, None, false, false),
            )?,
            None => EngineRun::not_built("yours", "does not compile: see the errors above"),
        });
    }
    let mut features = vec!["reference".to_string()];
    let mut peers: Vec<&str> = Vec::new();
    if args.peers {
        for (feature, engines) in PEERS {
            features.push(feature.to_string());
            peers.extend(engines);
        }
    }
    if args.rocksdb {
        features.push("rocksdb".to_string());
        peers.push("rocksdb");
    }
    let Some(binary) = build(&ws, "reference", &features)? else {
        return Err(failed(
            "the reference (lsm-bench --features reference) does not build",
        ));
    };
    runs.push(run_engine(
        &binary,
        "workbook",
        "reference",
        &args.engine_args(true, None, false, false),
    )?);
    for (variant, workloads, shows) in args.variants() {
        let pass = args.engine_args(true, Some(&workloads), variant.inline, !variant.inline);
        let mut run = run_engine(&binary, "workbook", variant.label, &pass)?;
        run.shows = Some(shows);
        run.variant = Some(variant.what);
        runs.push(run);
    }
    for peer in peers {
        runs.push(run_engine(
            &binary,
            peer,
            peer,
            &args.engine_args(false, None, false, false),
        )?);
    }
    print!("{}", render(&runs));
    if let Some(path) = &args.json {
        let text = to_json(&runs).render();
        std::fs::write(path, text)
            .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
        println!("\nwritten: {}", path.display());
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Args> {
    let mut parsed = Args::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| usage_error(format!("{arg} needs a value"), USAGE))
        };
        match arg.as_str() {
            "--num" | "--reads" | "--sync-num" | "--batch" => {
                let text = value()?;
                if text
                    .replace('_', "")
                    .parse::<u64>()
                    .map_or(true, |n| n == 0)
                {
                    return Err(usage_error(format!("{arg} wants a positive number"), USAGE));
                }
                parsed.pass.extend([arg.clone(), text]);
            }
            "--workloads" => {
                let text = value()?;
                let mut names = Vec::new();
                for name in text.split(',').map(str::trim) {
                    if !WORKLOADS.contains(&name) {
                        return Err(usage_error(format!("unknown workload `{name}`"), USAGE));
                    }
                    names.push(name.to_string());
                }
                parsed.workloads = Some(names);
            }
            "--cache-bytes" => {
                let text = value()?;
                if text.replace('_', "").parse::<u64>().is_err() {
                    return Err(usage_error(
                        format!("{arg} wants a number of bytes (0: no cache)"),
                        USAGE,
                    ));
                }
                parsed.cache_bytes = Some(text);
            }
            "--no-background" => parsed.no_background = true,
            "--no-variants" => parsed.no_variants = true,
            "--dir" => {
                let dir = PathBuf::from(value()?);
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                parsed.pass.extend([arg.clone(), dir.display().to_string()]);
            }
            "--json" => parsed.json = Some(PathBuf::from(value()?)),
            "--features" => parsed.features.extend(workbook_features(&value()?, USAGE)?),
            "--reference-only" => parsed.reference_only = true,
            "--peers" => parsed.peers = true,
            "--rocksdb" => parsed.rocksdb = true,
            other => return Err(usage_error(format!("unknown argument `{other}`"), USAGE)),
        }
    }
    Ok(parsed)
}

/// The workbook features of `--features a,b` (only `ref-…` ones: the
/// peers are not features of a learner's build).
pub fn workbook_features(text: &str, usage: &'static str) -> Result<Vec<String>> {
    let features = text.split(',').map(str::trim).filter(|f| !f.is_empty());
    features
        .map(|feature| {
            if feature.starts_with("ref-") {
                Ok(feature.to_string())
            } else {
                Err(usage_error(
                    format!("--features takes the workbook's ref-… features, not `{feature}`"),
                    usage,
                ))
            }
        })
        .collect()
}

/// Builds `lsm-bench` in release with `features`, and copies the binary to
/// `target/xtask-bench/lsm-bench-LABEL` (the next build overwrites
/// `target/release/lsm-bench`). `None` if it does not compile (cargo's
/// errors are on the terminal).
fn build(ws: &Workspace, label: &str, features: &[String]) -> Result<Option<PathBuf>> {
    build_bin(ws, "lsm-bench", label, features)
}

/// Builds binary `bin` of package `lsm-bench` in release with `features`,
/// and copies it to `target/xtask-bench/BIN-LABEL`. `None` if it does not
/// compile (cargo's errors are on the terminal).
pub fn build_bin(
    ws: &Workspace,
    bin: &str,
    label: &str,
    features: &[String],
) -> Result<Option<PathBuf>> {
    let shown = if features.is_empty() {
        String::new()
    } else {
        format!(" --features {}", features.join(","))
    };
    eprintln!("building {label}: cargo build --release -p lsm-bench --bin {bin}{shown}");
    let mut command = cargo(&ws.root);
    command.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "lsm-bench",
        "--bin",
        bin,
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let status = command
        .status()
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Ok(None);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.root.join("target"));
    let built = target.join("release").join(binary_name(bin));
    let aside = target.join("xtask-bench");
    std::fs::create_dir_all(&aside)
        .map_err(|e| failed(format!("cannot create {}: {e}", aside.display())))?;
    let copy = aside.join(binary_name(&format!("{bin}-{label}")));
    std::fs::copy(&built, &copy).map_err(|e| {
        failed(format!(
            "cannot copy {} to {}: {e}",
            built.display(),
            copy.display()
        ))
    })?;
    Ok(Some(copy))
}

fn binary_name(stem: &str) -> String {
    format!("{stem}{}", std::env::consts::EXE_SUFFIX)
}

/// One engine's run: what it said about itself, and a row per workload.
#[derive(Debug, Default)]
struct EngineRun {
    label: String,
    /// `name`, `durability`, `durability_sync`, `notes`.
    engine: BTreeMap<String, String>,
    /// `num`, `reads`, `sync_num`, `batch`, `dir`.
    config: BTreeMap<String, String>,
    /// Workload name → its line's fields (`kind` = result, unimplemented
    /// or failed).
    rows: BTreeMap<String, BTreeMap<String, String>>,
    /// Why the engine did not run, or how its process ended badly.
    problem: Option<String>,
    /// A variant is shown only in these workloads' rows.
    shows: Option<Vec<String>>,
    /// A variant: what differs from the reference.
    variant: Option<&'static str>,
}

impl EngineRun {
    fn not_built(label: &str, why: &str) -> Self {
        EngineRun {
            label: label.into(),
            problem: Some(why.into()),
            ..EngineRun::default()
        }
    }

    fn row(&self, workload: &str) -> Option<&BTreeMap<String, String>> {
        self.rows.get(workload)
    }

    /// Whether this run has a row in `workload`'s group of the table.
    fn shown_in(&self, workload: &str) -> bool {
        match &self.shows {
            Some(shows) => shows.iter().any(|w| w == workload),
            None => true,
        }
    }

    fn number(&self, workload: &str, field: &str) -> Option<f64> {
        self.row(workload)?.get(field)?.parse().ok()
    }

    fn durability(&self) -> String {
        match (
            self.engine.get("durability"),
            self.engine.get("durability_sync"),
        ) {
            (Some(plain), Some(sync)) => format!("{plain}; fillsync: {sync}"),
            _ => "-".into(),
        }
    }
}

/// Runs the binary for one engine, reading its result lines as they come;
/// its progress lines (stderr) go to the terminal.
fn run_engine(binary: &Path, engine: &str, label: &str, pass: &[String]) -> Result<EngineRun> {
    eprintln!("bench: running {label}");
    let mut child = Command::new(binary)
        .args(["--engine", engine, "--machine"])
        .args(pass)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", binary.display())))?;
    let mut run = EngineRun {
        label: label.into(),
        ..EngineRun::default()
    };
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| failed(format!("reading {label}'s output: {e}")))?;
            take_line(&mut run, &line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| failed(format!("waiting for {label}: {e}")))?;
    if !status.success() {
        run.problem = Some(format!("the benchmark process ended badly ({status})"));
    }
    Ok(run)
}

/// Files one `kind\tkey=value\t…` line into `run`.
fn take_line(run: &mut EngineRun, line: &str) {
    let mut fields = line.split('\t');
    let kind = fields.next().unwrap_or_default();
    let map: BTreeMap<String, String> = fields
        .filter_map(|field| field.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    match kind {
        "engine" => run.engine = map,
        "config" => run.config = map,
        "result" | "unimplemented" | "failed" => {
            if let Some(workload) = map.get("workload").cloned() {
                let mut map = map;
                map.insert("kind".into(), kind.into());
                run.rows.insert(workload, map);
            }
        }
        _ => {}
    }
}

/// The figures of one row, derived from a result line.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    ops_per_sec: f64,
    mb_per_sec: f64,
    /// Write amplification, and whether it came from the engine's own
    /// counters (`true`) or from the bytes the process wrote.
    write_amp: Option<(f64, bool)>,
    space_amp: Option<f64>,
    found: Option<(u64, u64)>,
    /// Per operation, in nanoseconds: p50, p99, p99.9, max.
    latency: Option<[f64; 4]>,
    /// Writes slowed, stopped, and the seconds they waited.
    stalls: Option<(f64, f64, f64)>,
    /// Block cache hits ÷ lookups, if there were lookups.
    cache_hit_rate: Option<f64>,
}

fn figures(run: &EngineRun, workload: &str) -> Option<Figures> {
    let row = run.row(workload)?;
    if row.get("kind").map(String::as_str) != Some("result") {
        return None;
    }
    let get = |field: &str| run.number(workload, field);
    let seconds = get("nanos")? / 1e9;
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let from_engine = ratio(get("engine_written"), get("engine_user_bytes")).map(|a| (a, true));
    let from_io = ratio(get("io_written"), get("user_bytes")).map(|a| (a, false));
    let found = row
        .get("found")
        .zip(row.get("expected"))
        .and_then(|(found, expected)| Some((found.parse().ok()?, expected.parse().ok()?)));
    Some(Figures {
        ops_per_sec: get("ops")? / seconds.max(1e-9),
        mb_per_sec: get("bytes")? / seconds.max(1e-9) / 1e6,
        write_amp: from_engine.or(from_io),
        space_amp: ratio(get("dir_bytes"), get("live_bytes")),
        found,
        latency: (|| Some([get("p50")?, get("p99")?, get("p999")?, get("max")?]))(),
        stalls: (|| Some((get("slowed")?, get("stopped")?, get("stall_micros")? / 1e6)))(),
        cache_hit_rate: get("cache_hits")
            .zip(get("cache_misses"))
            .and_then(|(hits, misses)| ratio(Some(hits), Some(hits + misses))),
    })
}

/// The side-by-side table, the engines' durability and the notes.
fn render(runs: &[EngineRun]) -> String {
    let mut out = String::new();
    if let Some(config) = runs.iter().map(|run| &run.config).find(|c| !c.is_empty()) {
        let field = |key: &str| config.get(key).map_or("?", String::as_str);
        out.push_str(&format!(
            "\nN = {} keys (16 B) with 100 B values (half compressible); {} per write call;\n\
             readrandom/readmissing/seekrandom: {} ops; fillsync: {} synced writes (N/100 \
             by default, as db_bench);\nrelease builds, databases in {}\n\n",
            field("num"),
            plural(field("batch"), "op"),
            field("reads"),
            field("sync_num"),
            field("dir"),
        ));
    }
    out.push_str(&settings_lines(runs));
    let reference = runs.iter().find(|run| run.label == "reference");
    out.push_str(&format!(
        "{:<13} {:<LABEL$} {:>11} {:>7} {:>6} {:>6} {:>5} {:>7} {:>7} {:>7} {:>7}  {}\n",
        "workload",
        "engine",
        "ops/s",
        "MB/s",
        "vs ref",
        "w-amp",
        "s-amp",
        "p50 µs",
        "p99",
        "p99.9",
        "max",
        "notes"
    ));
    let chosen = WORKLOADS
        .iter()
        .filter(|w| runs.iter().any(|run| run.rows.contains_key(**w)));
    for workload in chosen {
        let shown = runs.iter().filter(|run| run.shown_in(workload));
        for (index, run) in shown.enumerate() {
            let name = if index == 0 { *workload } else { "" };
            out.push_str(&row_line(name, workload, run, reference));
        }
    }
    out.push_str(&legend(runs));
    out
}

/// The engine column's width: `reference-nocache`.
const LABEL: usize = 17;

/// How our engine ran (threads, cache) and what timing an operation
/// costs, from the runs' config lines.
fn settings_lines(runs: &[EngineRun]) -> String {
    let ours: Vec<&EngineRun> = runs
        .iter()
        .filter(|run| run.engine.get("name").is_some_and(|n| n == "workbook"))
        .collect();
    let mut out = String::new();
    let described = |run: &EngineRun| {
        let threads = run.config.get("background_threads")?;
        let cache: u64 = run.config.get("cache_bytes")?.parse().ok()?;
        let threads = match threads.as_str() {
            "0" => "inline (0 background threads)".to_string(),
            n => format!("{n} background threads"),
        };
        let cache = match cache {
            0 => "no block cache".to_string(),
            33_554_432 => "32 MiB block cache (fjall 3's default)".to_string(),
            bytes if bytes % (1 << 20) == 0 => format!("{} MiB block cache", bytes >> 20),
            bytes => format!("{bytes} B block cache"),
        };
        Some(format!("{threads}, {cache}"))
    };
    for run in &ours {
        if let Some(text) = described(run) {
            out.push_str(&format!("{:<LABEL$} asked for: {text}\n", run.label));
        }
    }
    let timer: Vec<f64> = runs
        .iter()
        .filter_map(|run| run.config.get("timer_nanos")?.parse().ok())
        .collect();
    if let (Some(low), Some(high)) = (
        timer.iter().copied().reduce(f64::min),
        timer.iter().copied().reduce(f64::max),
    ) {
        out.push_str(&format!(
            "latency: every operation timed alone (Instant::now() before and after the call, \
             then a histogram record:\n{low:.0}-{high:.0} ns per operation, measured at each \
             start, inside the timed loop and its ops/s)\n"
        ));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Nanoseconds as microseconds, three significant digits or so.
fn micros(nanos: f64) -> String {
    let us = nanos / 1e3;
    if us < 10.0 {
        format!("{us:.2}")
    } else if us < 100.0 {
        format!("{us:.1}")
    } else {
        thousands(us)
    }
}

fn plural(count: &str, unit: &str) -> String {
    if count == "1" {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

fn row_line(name: &str, workload: &str, run: &EngineRun, reference: Option<&EngineRun>) -> String {
    let label = &run.label;
    let head = format!("{name:<13} {label:<LABEL$}");
    let Some(row) = run.row(workload) else {
        let why = run.problem.as_deref().unwrap_or("did not run");
        return format!("{head} {why}\n");
    };
    match row.get("kind").map(String::as_str) {
        Some("unimplemented") => {
            let chapter = row.get("chapter").map_or("?", String::as_str);
            let who = if label == "yours" {
                "your engine"
            } else {
                label
            };
            return format!("{head} {who}: not implemented yet (chapter {chapter})\n");
        }
        Some("failed") => {
            let message = row.get("message").map_or("", String::as_str);
            return format!("{head} FAILED: {}\n", shorten(message, 100));
        }
        _ => {}
    }
    let Some(f) = figures(run, workload) else {
        return format!("{head} (unreadable result line)\n");
    };
    let vs_ref = reference
        .and_then(|r| figures(r, workload))
        .filter(|r| r.ops_per_sec > 0.0)
        .map_or("-".to_string(), |r| {
            format!("{:.2}", f.ops_per_sec / r.ops_per_sec)
        });
    let write_amp = f.write_amp.map_or("-".to_string(), |(amp, from_engine)| {
        format!("{amp:.2}{}", if from_engine { " " } else { "*" })
    });
    let space_amp = f
        .space_amp
        .map_or("-".to_string(), |amp| format!("{amp:.2}"));
    let mb = if f.mb_per_sec > 0.0 {
        format!("{:.1}", f.mb_per_sec)
    } else {
        "-".into()
    };
    let mut notes = Vec::new();
    if let Some((found, expected)) = f.found
        && found != expected
    {
        notes.push(format!("WRONG: found {found} of {expected}"));
    }
    if let Some(tables) = row.get("tables").filter(|t| !t.is_empty()) {
        notes.push(plural(tables, "table"));
    }
    if let Some((slowed, stopped, seconds)) = f.stalls
        && slowed + stopped > 0.0
    {
        notes.push(format!(
            "stalls: {} slowed, {} stopped, {seconds:.2} s",
            thousands(slowed),
            thousands(stopped)
        ));
    }
    if let Some(rate) = f.cache_hit_rate {
        notes.push(format!("cache {:.1}% hits", rate * 100.0));
    }
    let notes = notes.join("; ");
    let [p50, p99, p999, max] = f.latency.map_or_else(
        || ["-".to_string(), "-".into(), "-".into(), "-".into()],
        |l| l.map(micros),
    );
    format!(
        "{head} {:>11} {mb:>7} {vs_ref:>6} {write_amp:>6} {space_amp:>5} {p50:>7} {p99:>7} \
         {p999:>7} {max:>7}  {notes}\n",
        thousands(f.ops_per_sec)
    )
}

fn legend(runs: &[EngineRun]) -> String {
    let mut out = String::from(
        "\nvs ref: ops/s ÷ the reference's, in this run. w-amp: bytes written ÷ user bytes \
         (key + value) of the workload,\nafter a final flush; from the engine's counters \
         (DbStats: wal + flush + compaction bytes), or * from the bytes\nthe process passed \
         to write() (/proc/self/io wchar) where the engine keeps none. s-amp: the \
         directory's bytes ÷\nlive user bytes, after the flush. Reads run on the database \
         flushed and reopened after the writes.\np50 … max: each operation's latency in µs \
         (a write call, a get, a seek; readseq: from one row to the next), from\na log-linear \
         histogram (within 1/128 above the true value; max exact).\nnotes: the engine's tables \
         after the workload (a get may probe each; a seek reads a block of each); writes\n\
         slowed and stopped by chapter 10's stall rule and the time they waited; block cache \
         hits ÷ lookups.\n\nwhen a write returns, it is in:\n",
    );
    for run in runs.iter().filter(|run| run.variant.is_none()) {
        out.push_str(&format!("  {:<LABEL$} {}\n", run.label, run.durability()));
    }
    out.push_str("\nconfiguration:\n");
    for run in runs {
        let notes = match run.variant {
            Some(what) => what,
            None => run.engine.get("notes").map_or("-", String::as_str),
        };
        out.push_str(&format!("  {:<LABEL$} {notes}\n", run.label));
        if let Some(problem) = &run.problem {
            out.push_str(&format!("  {:<LABEL$} {problem}\n", ""));
        }
    }
    out
}

/// `1234567.8` → `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

/// Every figure, for machines.
fn to_json(runs: &[EngineRun]) -> Value {
    let reference = runs.iter().find(|run| run.label == "reference");
    let config = runs
        .iter()
        .map(|run| &run.config)
        .find(|c| !c.is_empty())
        .cloned()
        .unwrap_or_default();
    let mut top: Vec<(String, Value)> = Vec::new();
    for key in ["num", "reads", "sync_num", "batch"] {
        if let Some(n) = config.get(key).and_then(|v| v.parse::<f64>().ok()) {
            top.push((key.into(), Value::Number(n)));
        }
    }
    let engines = runs
        .iter()
        .map(|run| {
            let mut pairs = vec![("label".to_string(), Value::string(&run.label))];
            for (key, value) in &run.engine {
                pairs.push((key.clone(), Value::string(value)));
            }
            if let Some(what) = run.variant {
                pairs.push(("variant".into(), Value::string(what)));
            }
            for key in ["background_threads", "cache_bytes", "timer_nanos"] {
                if let Some(n) = run.config.get(key).and_then(|v| v.parse::<f64>().ok()) {
                    pairs.push((key.into(), Value::Number(n)));
                }
            }
            if let Some(problem) = &run.problem {
                pairs.push(("problem".into(), Value::string(problem)));
            }
            Value::Object(pairs)
        })
        .collect();
    top.push(("engines".into(), Value::Array(engines)));
    let mut results = Vec::new();
    for workload in WORKLOADS {
        for run in runs.iter().filter(|run| run.shown_in(workload)) {
            if let Some(row) = run.row(workload) {
                results.push(result_json(workload, run, row, reference));
            }
        }
    }
    top.push(("results".into(), Value::Array(results)));
    Value::Object(top)
}

fn result_json(
    workload: &str,
    run: &EngineRun,
    row: &BTreeMap<String, String>,
    reference: Option<&EngineRun>,
) -> Value {
    let kind = row.get("kind").map_or("failed", String::as_str);
    let status = if kind == "result" { "ok" } else { kind };
    let mut pairs = vec![
        ("workload".to_string(), Value::string(workload)),
        ("engine".to_string(), Value::string(&run.label)),
        ("status".to_string(), Value::string(status)),
    ];
    for key in ["chapter", "message"] {
        if let Some(value) = row.get(key) {
            pairs.push((key.into(), Value::string(value)));
        }
    }
    let Some(f) = figures(run, workload) else {
        return Value::Object(pairs);
    };
    let mut number = |key: &str, value: f64| pairs.push((key.into(), Value::Number(value)));
    for key in [
        "ops",
        "bytes",
        "user_bytes",
        "io_written",
        "dir_bytes",
        "live_bytes",
    ] {
        if let Some(value) = run.number(workload, key) {
            number(key, value);
        }
    }
    if let Some(nanos) = run.number(workload, "nanos") {
        number("seconds", nanos / 1e9);
    }
    number("ops_per_sec", f.ops_per_sec);
    number("mb_per_sec", f.mb_per_sec);
    if let Some(r) = reference.and_then(|r| figures(r, workload))
        && r.ops_per_sec > 0.0
    {
        number("ratio_to_reference", f.ops_per_sec / r.ops_per_sec);
    }
    if let Some((amp, from_engine)) = f.write_amp {
        number("write_amp", amp);
        pairs.push((
            "write_amp_source".into(),
            Value::string(if from_engine { "engine" } else { "io" }),
        ));
    }
    if let Some(amp) = f.space_amp {
        pairs.push(("space_amp".into(), Value::Number(amp)));
    }
    if let Some((found, expected)) = f.found {
        pairs.push(("found".into(), Value::Number(found as f64)));
        pairs.push(("expected".into(), Value::Number(expected as f64)));
    }
    for (key, field) in [
        ("mean_us", "mean"),
        ("p50_us", "p50"),
        ("p99_us", "p99"),
        ("p999_us", "p999"),
        ("p9999_us", "p9999"),
        ("max_us", "max"),
    ] {
        if let Some(nanos) = run.number(workload, field) {
            pairs.push((key.into(), Value::Number(nanos / 1e3)));
        }
    }
    if let Some((slowed, stopped, seconds)) = f.stalls {
        pairs.push(("slowed_writes".into(), Value::Number(slowed)));
        pairs.push(("stopped_writes".into(), Value::Number(stopped)));
        pairs.push(("stall_seconds".into(), Value::Number(seconds)));
    }
    if let Some(rate) = f.cache_hit_rate {
        pairs.push(("cache_hit_rate".into(), Value::Number(rate)));
    }
    Value::Object(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_go_to_your_build_and_only_ref_features_are_taken() {
        let args: Vec<String> = ["--features", "ref-upto-ch06", "--num", "10"]
            .map(String::from)
            .to_vec();
        let parsed = parse(&args).unwrap();
        assert_eq!(parsed.features, vec!["ref-upto-ch06".to_string()]);
        assert_eq!(parsed.pass, vec!["--num".to_string(), "10".to_string()]);
        let bad: Vec<String> = ["--features", "fjall"].map(String::from).to_vec();
        assert!(parse(&bad).is_err(), "peers are not features of your build");
    }

    fn run_from(label: &str, lines: &[&str]) -> EngineRun {
        let mut run = EngineRun {
            label: label.into(),
            ..EngineRun::default()
        };
        for line in lines {
            take_line(&mut run, line);
        }
        run
    }

    const REFERENCE: &[&str] = &[
        "engine\tname=workbook\tdurability=OS buffer\tdurability_sync=fsync\tnotes=n",
        "config\tnum=1000\treads=1000\tsync_num=10\tbatch=1\tdir=/tmp/x",
        "result\tworkload=fillseq\tops=1000\tnanos=1000000\tbytes=116000\tfound=\texpected=\t\
         user_bytes=116000\tengine_written=290000\tengine_user_bytes=116000\tio_written=300000\t\
         dir_bytes=140000\tlive_bytes=116000",
        "result\tworkload=readrandom\tops=1000\tnanos=2000000\tbytes=116000\tfound=1000\t\
         expected=1000\tuser_bytes=0\tengine_written=\tengine_user_bytes=\tio_written=\t\
         dir_bytes=\tlive_bytes=",
    ];

    #[test]
    fn figures_come_from_the_result_line() {
        let run = run_from("reference", REFERENCE);
        let f = figures(&run, "fillseq").expect("fillseq has a result");
        assert!(
            (f.ops_per_sec - 1_000_000.0).abs() < 1e-6,
            "1000 ops in 1 ms"
        );
        assert!((f.mb_per_sec - 116.0).abs() < 1e-6, "116 kB in 1 ms");
        assert_eq!(
            f.write_amp,
            Some((2.5, true)),
            "the engine's counters win over the io count"
        );
        assert!(
            f.space_amp
                .is_some_and(|a| (a - 140.0 / 116.0).abs() < 1e-9)
        );
    }

    #[test]
    fn unimplemented_workload_names_its_chapter_not_a_crash() {
        let reference = run_from("reference", REFERENCE);
        let yours = run_from(
            "yours",
            &["unimplemented\tworkload=fillseq\tchapter=7\tmessage=not yet implemented: ch07: x"],
        );
        let line = row_line("fillseq", "fillseq", &yours, Some(&reference));
        assert!(
            line.contains("your engine: not implemented yet (chapter 7)"),
            "a todo!() is reported by chapter, got {line:?}"
        );
    }

    #[test]
    fn wrong_read_counts_are_flagged() {
        let mut lines = REFERENCE.to_vec();
        lines[3] = "result\tworkload=readrandom\tops=1000\tnanos=2000000\tbytes=1\tfound=990\t\
                    expected=1000\tuser_bytes=0";
        let run = run_from("yours", &lines);
        let line = row_line("readrandom", "readrandom", &run, None);
        assert!(line.contains("WRONG: found 990 of 1000"), "got {line:?}");
    }

    #[test]
    fn json_has_a_result_per_row_and_the_ratio() {
        let reference = run_from("reference", REFERENCE);
        let text = to_json(&[reference]).render();
        assert!(text.contains("\"ratio_to_reference\": 1.0"), "{text}");
        assert!(text.contains("\"workload\": \"readrandom\""), "{text}");
    }

    fn args(list: &[&str]) -> Args {
        let list: Vec<String> = list.iter().map(|a| a.to_string()).collect();
        parse(&list).expect("the arguments parse")
    }

    #[test]
    fn our_settings_go_to_our_engine_only() {
        let parsed = args(&["--num", "10", "--no-background", "--cache-bytes", "4096"]);
        let ours = parsed.engine_args(true, None, false, false);
        assert_eq!(
            ours,
            ["--num", "10", "--no-background", "--cache-bytes", "4096"].map(String::from),
            "our engine gets its settings"
        );
        let peer = parsed.engine_args(false, None, false, false);
        assert_eq!(peer, ["--num", "10"].map(String::from), "a peer gets none");
        let nocache = parsed.engine_args(true, None, false, true);
        assert!(
            nocache.ends_with(&["--cache-bytes".to_string(), "0".to_string()]),
            "the no-cache variant overrides --cache-bytes, got {nocache:?}"
        );
        assert!(
            parse(&["--cache-bytes".to_string(), "lots".to_string()]).is_err(),
            "--cache-bytes wants a number"
        );
    }

    #[test]
    fn variants_run_what_their_rows_need_among_the_chosen_workloads() {
        let all = args(&[]).variants();
        let labels: Vec<&str> = all.iter().map(|(v, _, _)| v.label).collect();
        assert_eq!(
            labels,
            ["reference-inline", "reference-nocache"],
            "both by default"
        );
        let reads = args(&["--workloads", "fillrandom,readrandom"]).variants();
        let (nocache, runs, shows) = reads
            .iter()
            .find(|(v, _, _)| v.label == "reference-nocache")
            .expect("readrandom chosen: the no-cache variant runs");
        assert!(!nocache.inline, "the no-cache variant keeps its threads");
        assert_eq!(
            runs,
            &["fillrandom", "readrandom"].map(String::from),
            "it builds the database the reference read (fillrandom only here)"
        );
        assert_eq!(
            shows,
            &["readrandom"].map(String::from),
            "shown in readrandom"
        );
        let writes_only = args(&["--workloads", "fillseq"]).variants();
        assert!(writes_only.is_empty(), "no variant has a row in fillseq");
        let inline = args(&["--no-background"]).variants();
        assert!(
            inline.iter().all(|(v, _, _)| !v.inline),
            "with --no-background the reference is already inline"
        );
        assert!(
            args(&["--cache-bytes", "0"])
                .variants()
                .iter()
                .all(|(v, _, _)| v.inline)
        );
        assert!(
            args(&["--no-variants"]).variants().is_empty(),
            "--no-variants"
        );
    }

    #[test]
    fn latency_and_stalls_and_cache_are_shown() {
        let mut lines = REFERENCE.to_vec();
        lines.push(
            "result\tworkload=fillrandom\tops=1000\tnanos=1000000\tbytes=116000\tfound=\t\
             expected=\tuser_bytes=116000\tmean=900\tp50=800\tp99=12000\tp999=450000\t\
             p9999=900000\tmax=1234567\tslowed=3\tstopped=1\tstall_micros=2500000\t\
             cache_hits=0\tcache_misses=0",
        );
        lines[3] = "result\tworkload=readrandom\tops=1000\tnanos=2000000\tbytes=116000\t\
                    found=1000\texpected=1000\tuser_bytes=0\tp50=1500\tp99=9000\tp999=20000\t\
                    max=30000\tslowed=0\tstopped=0\tstall_micros=0\tcache_hits=90\t\
                    cache_misses=10";
        let run = run_from("reference", &lines);
        let write = row_line("fillrandom", "fillrandom", &run, None);
        for part in [
            "0.80",
            "12.0",
            "450",
            "1,235",
            "stalls: 3 slowed, 1 stopped, 2.50 s",
        ] {
            assert!(write.contains(part), "{part:?} missing from {write:?}");
        }
        assert!(
            !write.contains("cache"),
            "no lookups, no hit rate: {write:?}"
        );
        let read = row_line("readrandom", "readrandom", &run, None);
        assert!(read.contains("cache 90.0% hits"), "got {read:?}");
        assert!(!read.contains("stalls"), "no stalls, no note: {read:?}");
        let json = to_json(&[run]).render();
        assert!(
            json.contains("\"p99_us\": 12.0"),
            "{}",
            &json[..json.len().min(400)]
        );
    }

    #[test]
    fn a_variant_has_rows_only_where_it_is_shown() {
        let reference = run_from("reference", REFERENCE);
        let mut variant = run_from("reference-nocache", REFERENCE);
        variant.shows = Some(vec!["readrandom".into()]);
        variant.variant = Some("no cache");
        let table = render(&[reference, variant]);
        let rows: Vec<&str> = table
            .lines()
            .filter(|line| line.get(14..31) == Some("reference-nocache"))
            .collect();
        assert_eq!(rows.len(), 1, "one row, readrandom's, got {rows:?}");
        assert!(
            rows[0].contains("500,000"),
            "readrandom's figures, got {rows:?}"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
    }
}
