//! `lsm-bench` — LevelDB `db_bench`-style workloads on one engine: the
//! workbook's (your chapters by default, the reference with the
//! `reference` feature) or a peer compiled in with its feature.
//!
//! `cargo xtask bench` builds this binary in release (twice: yours and the
//! reference), runs it once per engine with `--machine`, and prints the
//! engines side by side. Run by hand:
//!
//! ```text
//! cargo run --release -p lsm-bench --features reference -- --num 100000
//! cargo run --release -p lsm-bench --features reference,fjall -- --engine fjall
//! ```
//!
//! Every engine runs in a new temporary directory (under `--dir`, default
//! the system's temporary directory), removed at the end. What the
//! workloads are: `workloads.rs`; what bytes they write: `data.rs`; how
//! each operation's latency is counted: `histogram.rs`.
//!
//! Our engine runs with chapter 10's background threads (2) and block
//! cache (32 MiB, fjall 3's default) unless told otherwise:
//! `--no-background --cache-bytes 0` is chapter 8's engine, everything
//! inline and every block read from its file.

mod data;
mod engine;
mod histogram;
mod panics;
mod peers;
mod progress;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use engine::{EngineKind, Settings};
use workloads::{Config, Measurement, Outcome};

const USAGE: &str = "\
usage: lsm-bench [options]

  --engine NAME      workbook (default) or a peer compiled in (--list)
  --num N            keys, and writes per fill (default 1000000)
  --reads R          operations of readrandom, readmissing, seekrandom (default N)
  --sync-num S       writes of fillsync (default N/100, as db_bench)
  --batch K          operations per write call (default 1)
  --workloads LIST   comma-separated, from: fillseq,fillsync,fillrandom,overwrite,
                     readrandom,readmissing,readseq,seekrandom,deleterandom (default all)
  --dir DIR          where the temporary databases go (default: the temp dir)
  --no-background    our engine flushes and compacts inline (background_threads 0;
                     default: 2 background threads, with write stalls)
  --cache-bytes N    our engine's block cache, in bytes (default 33554432 = 32 MiB,
                     fjall 3's default; 0: no cache)
  --machine          one tab-separated line per result, for `cargo xtask bench`
  --list             print the engines compiled in";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("lsm-bench: {message}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    engine: String,
    config: Config,
    machine: bool,
    list: bool,
}

fn run(args: &[String]) -> Result<(), String> {
    let parsed = parse(args)?;
    let kinds = engine::kinds();
    if parsed.list {
        for kind in &kinds {
            println!("{}\t{}", kind.name, kind.durability);
        }
        return Ok(());
    }
    let Some(kind) = kinds.iter().find(|kind| kind.name == parsed.engine) else {
        let names: Vec<&str> = kinds.iter().map(|kind| kind.name).collect();
        return Err(format!(
            "engine `{}` is not compiled in (have: {}; peers need their feature)",
            parsed.engine,
            names.join(", ")
        ));
    };
    let temp = tempfile::Builder::new()
        .prefix("lsm-bench-")
        .tempdir_in(&parsed.config.dir)
        .map_err(|e| {
            format!(
                "cannot create a directory in {}: {e}",
                parsed.config.dir.display()
            )
        })?;
    let config = Config {
        dir: temp.path().to_path_buf(),
        ..parsed.config
    };
    if let Some(kind) = memory_backed(&config.dir) {
        eprintln!(
            "lsm-bench: warning: {} is on {kind} (memory, not a disk): pass --dir",
            config.dir.display()
        );
    }
    panics::install_hook();
    let timer_nanos = workloads::timer_overhead_nanos(1_000_000);
    print_header(kind, &config, timer_nanos, parsed.machine);
    workloads::run(kind, &config, &mut |name, outcome| {
        if parsed.machine {
            println!("{}", machine_line(name, outcome));
        } else {
            println!("{}", human_line(name, outcome));
        }
    });
    Ok(())
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut engine = "workbook".to_string();
    let (mut num, mut reads, mut sync_num, mut batch) = (1_000_000u64, None, None, 1usize);
    let mut workloads: Vec<String> = workloads::ALL.iter().map(|w| w.to_string()).collect();
    let mut dir = std::env::temp_dir();
    let (mut machine, mut list) = (false, false);
    let mut settings = Settings::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--engine" => engine = value()?,
            "--num" => num = number(arg, &value()?)?,
            "--reads" => reads = Some(number(arg, &value()?)?),
            "--sync-num" => sync_num = Some(number(arg, &value()?)?),
            "--batch" => batch = number(arg, &value()?)?.max(1) as usize,
            "--workloads" => workloads = workload_list(&value()?)?,
            "--dir" => dir = PathBuf::from(value()?),
            "--no-background" => settings.background_threads = 0,
            "--cache-bytes" => {
                let bytes = number(arg, &value()?)?;
                settings.cache_bytes = usize::try_from(bytes)
                    .map_err(|_| format!("--cache-bytes {bytes} does not fit in memory"))?;
            }
            "--machine" => machine = true,
            "--list" => list = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if num == 0 {
        return Err("--num must be at least 1".into());
    }
    let config = Config {
        num,
        reads: reads.unwrap_or(num),
        sync_num: sync_num.unwrap_or((num / 100).max(1)),
        batch,
        workloads,
        dir,
        settings,
    };
    Ok(Args {
        engine,
        config,
        machine,
        list,
    })
}

fn number(flag: &str, text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{flag} wants a number, got `{text}`"))
}

fn workload_list(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text
        .split(',')
        .map(|name| name.trim().to_string())
        .collect();
    for name in &names {
        if !workloads::ALL.contains(&name.as_str()) {
            return Err(format!(
                "unknown workload `{name}` (have: {})",
                workloads::ALL.join(",")
            ));
        }
    }
    Ok(names)
}

/// The file system type of `dir` if it lives in memory (tmpfs, ramfs).
fn memory_backed(dir: &std::path::Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let (_, kind) = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(point)
                .then(|| (point.len(), kind.to_string()))
        })
        .max()?;
    matches!(kind.as_str(), "tmpfs" | "ramfs").then_some(kind)
}

fn print_header(kind: &EngineKind, config: &Config, timer_nanos: f64, machine: bool) {
    let notes = engine::notes(kind, &config.settings);
    if machine {
        println!(
            "engine\tname={}\tdurability={}\tdurability_sync={}\tnotes={}",
            kind.name,
            clean(kind.durability),
            clean(kind.durability_sync),
            clean(&notes)
        );
        println!(
            "config\tnum={}\treads={}\tsync_num={}\tbatch={}\tdir={}\t\
             background_threads={}\tcache_bytes={}\ttimer_nanos={timer_nanos:.1}",
            config.num,
            config.reads,
            config.sync_num,
            config.batch,
            config.dir.display(),
            config.settings.background_threads,
            config.settings.cache_bytes,
        );
    } else {
        println!(
            "{}: N = {}, reads = {}, fillsync = {} writes, {} per write call, in {}\n\
             a write returns at: {}; with sync: {}\n{notes}\n\
             latencies: each operation timed alone; timing one costs {timer_nanos:.0} ns\n",
            kind.name,
            config.num,
            config.reads,
            config.sync_num,
            config.batch,
            config.dir.display(),
            kind.durability,
            kind.durability_sync,
        );
    }
}

/// No tabs or newlines inside a field.
fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn machine_line(name: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done(m) => {
            let optional = |value: Option<u64>| value.map_or(String::new(), |v| v.to_string());
            format!(
                "result\tworkload={name}\tops={}\tnanos={}\tbytes={}\tfound={}\texpected={}\t\
                 user_bytes={}\tengine_written={}\tengine_user_bytes={}\tio_written={}\t\
                 dir_bytes={}\tlive_bytes={}\ttables={}{}{}",
                m.ops,
                m.elapsed.as_nanos(),
                m.bytes,
                optional(m.found.map(|f| f.0)),
                optional(m.found.map(|f| f.1)),
                m.user_bytes,
                optional(m.engine_bytes.map(|e| e.0)),
                optional(m.engine_bytes.map(|e| e.1)),
                optional(m.io_bytes),
                optional(m.dir_bytes),
                optional(m.live_bytes),
                optional(m.tables),
                m.latency.map_or(String::new(), |l| format!(
                    "\tmean={}\tp50={}\tp99={}\tp999={}\tp9999={}\tmax={}",
                    l.mean, l.p50, l.p99, l.p999, l.p9999, l.max
                )),
                m.probe.map_or(String::new(), |p| format!(
                    "\tslowed={}\tstopped={}\tstall_micros={}\tcache_hits={}\tcache_misses={}",
                    p.slowed_writes, p.stopped_writes, p.stall_micros, p.cache_hits, p.cache_misses
                )),
            )
        }
        Outcome::Unimplemented { chapter, message } => format!(
            "unimplemented\tworkload={name}\tchapter={chapter}\tmessage={}",
            clean(message)
        ),
        Outcome::Failed(message) => {
            format!("failed\tworkload={name}\tmessage={}", clean(message))
        }
    }
}

fn human_line(name: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done(m) => human_measurement(name, m),
        Outcome::Unimplemented { chapter, message } => {
            format!("{name:<13} not implemented yet (chapter {chapter}): {message}")
        }
        Outcome::Failed(message) => format!("{name:<13} FAILED: {message}"),
    }
}

fn human_measurement(name: &str, m: &Measurement) -> String {
    let seconds = m.elapsed.as_secs_f64().max(1e-9);
    let mut line = format!(
        "{name:<13} {:>12.0} ops/s {:>8.1} MB/s  ({} ops in {:.2} s)",
        m.ops as f64 / seconds,
        m.bytes as f64 / seconds / 1e6,
        m.ops,
        seconds
    );
    if let Some((found, expected)) = m.found {
        line.push_str(&format!("  found {found} of {expected} expected"));
    }
    if let Some((written, user)) = m.engine_bytes.filter(|e| e.1 > 0) {
        line.push_str(&format!("  w-amp {:.2}", written as f64 / user as f64));
    }
    if let Some(io) = m.io_bytes.filter(|_| m.user_bytes > 0) {
        line.push_str(&format!("  io-amp {:.2}", io as f64 / m.user_bytes as f64));
    }
    if let (Some(dir), Some(live)) = (m.dir_bytes, m.live_bytes.filter(|&l| l > 0)) {
        line.push_str(&format!("  s-amp {:.2}", dir as f64 / live as f64));
    }
    if let Some(l) = m.latency {
        let micros = |nanos: u64| nanos as f64 / 1e3;
        line.push_str(&format!(
            "  µs p50 {:.2} p99 {:.2} p99.9 {:.1} max {:.0}",
            micros(l.p50),
            micros(l.p99),
            micros(l.p999),
            micros(l.max)
        ));
    }
    if let Some(p) = m.probe {
        if p.slowed_writes + p.stopped_writes > 0 {
            line.push_str(&format!(
                "  stalls {} slowed {} stopped {:.2} s",
                p.slowed_writes,
                p.stopped_writes,
                p.stall_micros as f64 / 1e6
            ));
        }
        if p.cache_hits + p.cache_misses > 0 {
            line.push_str(&format!(
                "  cache {:.1}% hits",
                100.0 * p.cache_hits as f64 / (p.cache_hits + p.cache_misses) as f64
            ));
        }
    }
    if let Some(tables) = m.tables {
        line.push_str(&format!(
            "  {tables} table{}",
            if tables == 1 { "" } else { "s" }
        ));
    }
    line
}
