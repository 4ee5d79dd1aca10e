//! `lsm-sim` — chapter 8's compaction policy at work on a simulated
//! workload: the engine runs on a file system in memory (no disk I/O), with
//! options scaled down so that a run of seconds builds several levels, and
//! the simulator prints, as the writes go on, the level shape and the three
//! amplifications; `--svg` draws them.
//!
//! `cargo xtask sim` builds and runs it (your chapters; the reference with
//! `--reference`). By hand:
//!
//! ```text
//! cargo run --release -p lsm-bench --bin lsm-sim --features reference -- --writes 100000
//! ```
//!
//! What is measured, per row:
//! - **w-amp**: bytes written (logs, flushes, compaction) ÷ bytes the user
//!   wrote — `DbStats`, as `cargo xtask bench` computes it;
//! - **s-amp**: bytes of every file in the directory ÷ bytes of live data,
//!   the live data from the simulator's own model of the workload (every
//!   key's latest value, deleted keys not counted);
//! - **r-amp**: tables consulted per get (`tables_read_by_gets / gets`) over
//!   `--reads` gets of live keys made for the row; **r-max**: what a get may
//!   have to look at — every level-0 table and one table per non-empty
//!   deeper level (filters let most of them say no without a read).

mod memfs;
mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use lsm_workbook::ch07_engine::{Compaction, Db, DbStats, Options, WriteOptions};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, level_target_bytes};
use lsm_workbook::types::WriteBatch;

use memfs::MemFs;

const USAGE: &str = "\
usage: lsm-sim [options]

Runs chapter 8's leveled compaction (yours; the reference when built with
--features reference) on a simulated workload, in memory, and prints how
the level shape and the write, space and read amplifications evolve.

workload
  --writes N          write calls, one key each (default 200000)
  --keys K            distinct keys written, \"{:016}\" numbers (default 20000:
                      each key is written N/K times on average)
  --order ORDER       random (default) or sequential (key = i mod K)
  --deletes P         percent of writes that are deletes (default 0)
  --value-bytes V     bytes of each value (default 100)
  --seed S            seed of the random order (default 1)
engine, scaled down so that a short run builds several levels
  --memtable KIB      memtable size (default 64)
  --l0-trigger T      level-0 tables that start a compaction (default 4)
  --l1-target KIB     level 1's byte target (default 256)
  --factor F          each level's target is F times the one above (default 10)
  --table-target KIB  compaction output table size (default 64)
  --manifest-rotate KIB  the manifest is rewritten once it reaches this (default 64)
  --no-compaction     chapter 7's engine without compaction, to compare
output
  --samples S         rows printed (default 20)
  --reads R           gets of live keys per row, for r-amp (default 2000)
  --svg FILE          draw the levels' bytes and the amplifications over time,
                      and the final shape against the targets
  --keep DIR          write the final database into DIR (must not exist):
                      `cargo xtask dump DIR --svg FILE` then draws its tables";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::parse(&args) {
        Ok(config) => config,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lsm-sim: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // A learner's chapter may reach a `todo!()`: say which chapter, not a
    // backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| run(&config));
    let _ = std::panic::take_hook();
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(message)) => {
            eprintln!("lsm-sim: {message}");
            ExitCode::FAILURE
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            match message.strip_prefix("not yet implemented: ") {
                Some(todo) => eprintln!(
                    "lsm-sim: your engine is not implemented yet: {todo}\n\
                     (`cargo xtask sim --reference` runs the reference; \
                     `--features ref-upto-ch07` puts your chapter 8 on the reference chapters 1-7)"
                ),
                None => eprintln!("lsm-sim: the engine panicked: {message}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// What to simulate, from the command line.
#[derive(Clone, Debug)]
struct Config {
    writes: u64,
    keys: u64,
    sequential: bool,
    delete_percent: u64,
    value_bytes: usize,
    seed: u64,
    memtable_bytes: usize,
    manifest_rotate_bytes: u64,
    leveled: LeveledOptions,
    compaction: bool,
    samples: u64,
    reads: u64,
    svg: Option<PathBuf>,
    keep: Option<PathBuf>,
}

impl Config {
    fn parse(args: &[String]) -> Result<Config, String> {
        let mut config = Config {
            writes: 200_000,
            keys: 20_000,
            sequential: false,
            delete_percent: 0,
            value_bytes: 100,
            seed: 1,
            memtable_bytes: 64 << 10,
            manifest_rotate_bytes: 64 << 10,
            leveled: LeveledOptions {
                level0_trigger: 4,
                level1_target_bytes: 256 << 10,
                level_size_factor: 10,
                table_target_bytes: 64 << 10,
            },
            compaction: true,
            samples: 20,
            reads: 2000,
            svg: None,
            keep: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let number = |text: String| {
                text.replace('_', "")
                    .parse::<u64>()
                    .map_err(|_| format!("{flag}: `{text}` is not a whole number"))
            };
            match flag.as_str() {
                "--help" | "-h" => return Err(USAGE.into()),
                "--writes" => config.writes = number(value()?)?,
                "--keys" => config.keys = number(value()?)?,
                "--order" => {
                    config.sequential = match value()?.as_str() {
                        "random" => false,
                        "sequential" => true,
                        other => {
                            return Err(format!("--order: `{other}` is not random or sequential"));
                        }
                    }
                }
                "--deletes" => config.delete_percent = number(value()?)?,
                "--value-bytes" => config.value_bytes = number(value()?)? as usize,
                "--seed" => config.seed = number(value()?)?,
                "--memtable" => config.memtable_bytes = (number(value()?)? << 10) as usize,
                "--manifest-rotate" => config.manifest_rotate_bytes = number(value()?)? << 10,
                "--l0-trigger" => config.leveled.level0_trigger = number(value()?)? as usize,
                "--l1-target" => config.leveled.level1_target_bytes = number(value()?)? << 10,
                "--factor" => config.leveled.level_size_factor = number(value()?)?,
                "--table-target" => config.leveled.table_target_bytes = number(value()?)? << 10,
                "--no-compaction" => config.compaction = false,
                "--samples" => config.samples = number(value()?)?,
                "--reads" => config.reads = number(value()?)?,
                "--svg" => config.svg = Some(PathBuf::from(value()?)),
                "--keep" => config.keep = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        if config.writes == 0 || config.keys == 0 || config.samples == 0 {
            return Err("--writes, --keys and --samples must be at least 1".into());
        }
        if config.delete_percent > 100 {
            return Err("--deletes is a percentage: 0 to 100".into());
        }
        if config.memtable_bytes == 0
            || config.manifest_rotate_bytes == 0
            || config.leveled.level0_trigger == 0
            || config.leveled.level1_target_bytes == 0
            || config.leveled.level_size_factor < 2
            || config.leveled.table_target_bytes == 0
        {
            return Err("the engine options must be at least 1 (the factor at least 2)".into());
        }
        if let Some(dir) = &config.keep
            && dir.exists()
        {
            return Err(format!("--keep {}: already exists", dir.display()));
        }
        Ok(config)
    }
}

/// A small, fast, seeded generator (xorshift64*), so a run is repeatable.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One printed row: the shape and the three amplifications after `writes`.
#[derive(Clone, Debug)]
pub struct Sample {
    pub writes: u64,
    /// Tables and bytes per level.
    pub levels: Vec<(usize, u64)>,
    pub write_amp: f64,
    pub space_amp: f64,
    pub read_amp: f64,
    pub read_max: usize,
}

fn run(config: &Config) -> Result<(), String> {
    let fs = MemFs::default();
    let dir = PathBuf::from("/sim");
    let compaction = config.compaction.then(|| {
        Arc::new(Leveled {
            options: config.leveled,
        }) as Arc<dyn Compaction>
    });
    let options = Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: config.memtable_bytes,
        manifest_rotate_len_bytes: config.manifest_rotate_bytes,
        salt_seed: Some(config.seed),
        compaction,
        ..Options::default()
    };
    let db = Db::open(&dir, options).map_err(|e| format!("open: {e}"))?;
    print_header(config);

    // The model: each live key's value length.
    let mut live: BTreeMap<u64, usize> = BTreeMap::new();
    let mut live_bytes: u64 = 0;
    let key_bytes = key(0).len() as u64;
    let mut rng = Rng::new(config.seed);
    let value: Vec<u8> = (0..config.value_bytes)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let every = config.writes.div_ceil(config.samples);
    let mut samples = Vec::new();
    for i in 0..config.writes {
        let k = if config.sequential {
            i % config.keys
        } else {
            rng.below(config.keys)
        };
        let delete = config.delete_percent > 0 && rng.below(100) < config.delete_percent;
        let batch = if delete {
            if let Some(old) = live.remove(&k) {
                live_bytes -= key_bytes + old as u64;
            }
            WriteBatch::default().delete(key(k))
        } else {
            if let Some(old) = live.insert(k, value.len()) {
                live_bytes -= key_bytes + old as u64;
            }
            live_bytes += key_bytes + value.len() as u64;
            WriteBatch::default().put(key(k), value.clone())
        };
        db.write(batch, WriteOptions::default())
            .map_err(|e| format!("write {i}: {e}"))?;
        if (i + 1) % every == 0 || i + 1 == config.writes {
            let sample = measure(&db, &fs, &dir, &live, live_bytes, config, &mut rng, i + 1)?;
            print_row(&sample, config);
            samples.push(sample);
        }
    }
    db.flush().map_err(|e| format!("flush: {e}"))?;
    let settled = measure(
        &db,
        &fs,
        &dir,
        &live,
        live_bytes,
        config,
        &mut rng,
        config.writes,
    )?;
    println!("after a flush:");
    print_row(&settled, config);
    let stats = db.stats();
    print_written(&stats);
    print_shape(&settled, config);
    if let Some(path) = &config.svg {
        let picture = svg::draw(&samples, &settled, config.leveled, config.compaction);
        std::fs::write(path, picture).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("drew {}", path.display());
    }
    db.close().map_err(|e| format!("close: {e}"))?;
    if let Some(target) = &config.keep {
        keep(&fs, &dir, target)?;
        println!(
            "wrote the database to {}: `cargo xtask dump {} --svg levels.svg` draws its tables",
            target.display(),
            target.display()
        );
    }
    Ok(())
}

fn key(k: u64) -> Vec<u8> {
    format!("{k:016}").into_bytes()
}

#[allow(clippy::too_many_arguments)]
fn measure(
    db: &Db,
    fs: &MemFs,
    dir: &Path,
    live: &BTreeMap<u64, usize>,
    live_bytes: u64,
    config: &Config,
    rng: &mut Rng,
    writes: u64,
) -> Result<Sample, String> {
    let before = db.stats();
    let mut gets = 0;
    if !live.is_empty() {
        for _ in 0..config.reads {
            // A live key: the first at or after a random one (wrapping).
            let from = rng.below(config.keys);
            let Some((&k, &len)) = live.range(from..).next().or_else(|| live.iter().next()) else {
                break;
            };
            let found = db.get(&key(k)).map_err(|e| format!("get: {e}"))?;
            if found.as_ref().map(|v| v.len()) != Some(len) {
                return Err(format!(
                    "get {:016} after {writes} writes: expected a value of {len} bytes, got {}",
                    k,
                    match found {
                        Some(v) => format!("{} bytes", v.len()),
                        None => "nothing".into(),
                    }
                ));
            }
            gets += 1;
        }
    }
    let after = db.stats();
    let consulted = after.tables_read_by_gets - before.tables_read_by_gets;
    let disk: u64 = fs.sizes(dir).iter().map(|(_, len)| len).sum();
    let written = after.wal_bytes + after.flush_bytes + after.compaction_bytes;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let levels = after.levels.clone();
    let read_max = levels.first().map_or(0, |&(n, _)| n)
        + levels.iter().skip(1).filter(|&&(n, _)| n > 0).count();
    Ok(Sample {
        writes,
        levels,
        write_amp: ratio(written, after.user_bytes),
        space_amp: ratio(disk, live_bytes),
        read_amp: ratio(consulted, gets),
        read_max,
    })
}

/// Levels shown: every level the shape could reach in this run, at least
/// through level 3.
fn shown_levels(config: &Config) -> usize {
    let user = config.keys * (16 + config.value_bytes as u64);
    let mut level = 1;
    while level < 6 && level_target_bytes(level, &config.leveled) < user {
        level += 1;
    }
    (level + 1).max(4)
}

fn print_header(config: &Config) {
    let c = &config.leveled;
    println!(
        "{} writes of {} keys ({}, {}% deletes, {}-byte values); memtable {}, {}",
        config.writes,
        config.keys,
        if config.sequential {
            "sequential"
        } else {
            "random"
        },
        config.delete_percent,
        config.value_bytes,
        human(config.memtable_bytes as u64),
        if config.compaction {
            format!(
                "leveled: level-0 trigger {}, level 1 {}, factor {}, tables {}",
                c.level0_trigger,
                human(c.level1_target_bytes),
                c.level_size_factor,
                human(c.table_target_bytes)
            )
        } else {
            "no compaction".into()
        }
    );
    println!("a level: tables/bytes; targets in the header");
    let mut line = format!("{:>9} {:>6}", "writes", "L0");
    for level in 1..shown_levels(config) {
        let target = level_target_bytes(level, &config.leveled);
        line += &format!(" {:>13}", format!("L{level}≤{}", human(target)));
    }
    line += &format!(
        " {:>6} {:>6} {:>6} {:>5}",
        "w-amp", "s-amp", "r-amp", "r-max"
    );
    println!("{line}");
}

fn print_row(sample: &Sample, config: &Config) {
    let cell = |level: usize| match sample.levels.get(level) {
        Some(&(0, _)) | None => "-".to_string(),
        Some(&(tables, bytes)) => format!("{tables}/{}", human(bytes)),
    };
    let mut line = format!("{:>9} {:>6}", sample.writes, cell(0));
    for level in 1..shown_levels(config) {
        line += &format!(" {:>13}", cell(level));
    }
    line += &format!(
        " {:>6.2} {:>6.2} {:>6.2} {:>5}",
        sample.write_amp, sample.space_amp, sample.read_amp, sample.read_max
    );
    println!("{line}");
}

/// Where the written bytes went, each as a multiple of the user's bytes.
fn print_written(stats: &DbStats) {
    let user = stats.user_bytes.max(1) as f64;
    println!(
        "bytes written per byte the user wrote ({} user bytes; {} compactions, {} trivial moves):",
        human(stats.user_bytes),
        stats.compactions,
        stats.trivial_moves
    );
    let mut line = format!(
        "  log {:.2} + L0 (flushes) {:.2}",
        stats.wal_bytes as f64 / user,
        stats.flush_bytes as f64 / user
    );
    for (level, &bytes) in stats.compaction_bytes_by_level.iter().enumerate().skip(1) {
        if bytes > 0 {
            line += &format!(" + L{level} {:.2}", bytes as f64 / user);
        }
    }
    let total = stats.wal_bytes + stats.flush_bytes + stats.compaction_bytes;
    line += &format!(" = w-amp {:.2}", total as f64 / user);
    println!("{line}");
}

/// The final shape: each level's bytes against its target.
fn print_shape(sample: &Sample, config: &Config) {
    println!("the shape after the flush (each level against its target):");
    for (level, &(tables, bytes)) in sample.levels.iter().enumerate() {
        if tables == 0 {
            continue;
        }
        if level == 0 || !config.compaction {
            println!("  L{level}: {tables} tables, {}", human(bytes));
            continue;
        }
        let target = level_target_bytes(level, &config.leveled);
        let fill = bytes as f64 / target as f64;
        let bar = "#".repeat(((fill * 20.0).round() as usize).min(60));
        println!(
            "  L{level}: {tables:>3} tables, {:>7} of {:>7} ({:>3.0}%) {bar}",
            human(bytes),
            human(target),
            fill * 100.0
        );
    }
}

/// Copies the database out of memory into a real directory.
fn keep(fs: &MemFs, dir: &Path, target: &Path) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    for (name, _) in fs.sizes(dir) {
        let bytes = fs.bytes(&dir.join(&name)).unwrap_or_default();
        let path = target.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// `1.5M`, `64K`, `812` (bytes, powers of 1024).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value < 10.0 && value.fract() > 0.05 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Config, String> {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        Config::parse(&args)
    }

    #[test]
    fn options_are_parsed_in_their_units() {
        let config = parse("--writes 1_000 --memtable 8 --l1-target 32 --order sequential")
            .expect("valid options parse");
        assert_eq!(config.writes, 1000, "underscores are allowed in numbers");
        assert_eq!(config.memtable_bytes, 8 << 10, "--memtable is in KiB");
        assert_eq!(
            config.leveled.level1_target_bytes,
            32 << 10,
            "--l1-target is in KiB"
        );
        assert!(config.sequential, "--order sequential");
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        for (args, says) in [
            ("--writes", "needs a value"),
            ("--writes ten", "not a whole number"),
            ("--deletes 120", "percentage"),
            ("--factor 1", "factor at least 2"),
            ("--order backwards", "random or sequential"),
            ("--bogus", "unknown option"),
        ] {
            let error = parse(args).expect_err(args);
            assert!(
                error.contains(says),
                "{args}: {error:?} should say {says:?}"
            );
        }
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human(812), "812");
        assert_eq!(human(64 << 10), "64K");
        assert_eq!(human(1536 << 10), "1.5M");
        assert_eq!(human(2560 << 10), "2.5M");
    }

    /// A whole small run on the reference (CI tests the workspace with
    /// the reference chapters): it finishes, its reads check out against
    /// the model, and it draws a picture.
    #[cfg(feature = "reference")]
    #[test]
    fn a_small_run_simulates_and_draws() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let svg = dir.path().join("sim.svg");
        let keep = dir.path().join("db");
        let mut config =
            parse("--writes 6000 --keys 1500 --deletes 20 --memtable 8 --l1-target 32")
                .expect("valid options");
        config.svg = Some(svg.clone());
        config.keep = Some(keep.clone());
        run(&config).expect("the simulation runs");
        let picture = std::fs::read_to_string(&svg).expect("the picture is written");
        assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
        assert!(
            picture.contains("L2"),
            "6000 writes through 8-KiB memtables reach level 2"
        );
        let files = std::fs::read_dir(&keep)
            .expect("--keep writes the database")
            .count();
        assert!(
            files >= 3,
            "CURRENT, a manifest and tables are kept: {files} files"
        );
    }
}
