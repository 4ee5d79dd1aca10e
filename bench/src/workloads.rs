//! The workloads of LevelDB's `db_bench`, run against one engine.
//!
//! | workload     | database                 | what is timed                            |
//! |--------------|--------------------------|------------------------------------------|
//! | fillseq      | new                      | N writes, keys in order                  |
//! | fillsync     | new                      | N/100 writes, random order, each synced  |
//! | fillrandom   | new (kept: "main")       | N writes, a random permutation           |
//! | overwrite    | main                     | N writes, another permutation            |
//! | readrandom   | main, flushed + reopened | R gets of uniformly drawn present keys   |
//! | readmissing  | main, flushed + reopened | R gets of missing keys inside the range  |
//! | readseq      | main, flushed + reopened | one scan of the whole database           |
//! | seekrandom   | main, flushed + reopened | R seeks, each reading the first pair     |
//! | deleterandom | main                     | N deletes, a random permutation          |
//!
//! They always run in this order, whatever order `--workloads` names them
//! in. A read workload without a main database (fillrandom not chosen)
//! first loads one, untimed, as fillrandom would. After a write workload,
//! untimed, the engine is flushed (its memtable written out and synced),
//! then write amplification and space amplification are measured.
//!
//! Every operation is also timed alone (two `Instant::now()` around the
//! engine call; a readseq row: the time since the row before) into a
//! [`Histogram`], for its percentiles: the tail is where background work,
//! stalls and a cold cache show, and a throughput hides them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::data::{self, KEY_LEN_BYTES, VALUE_LEN_BYTES, Values, seed};
use crate::engine::{Engine, EngineKind, Op, Probe, Result, Settings};
use crate::histogram::{Histogram, Summary};
use crate::progress::Progress;

/// Every workload, in the order they run.
pub const ALL: [&str; 9] = [
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

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    /// N: keys in the database, writes per fill.
    pub num: u64,
    /// R: operations per random-read workload.
    pub reads: u64,
    /// Writes of fillsync.
    pub sync_num: u64,
    /// Operations per write call.
    pub batch: usize,
    /// The workloads to run (names from [`ALL`]).
    pub workloads: Vec<String>,
    /// Where the temporary databases go.
    pub dir: PathBuf,
    /// How our engine is opened (background threads, block cache).
    pub settings: Settings,
}

/// One workload's figures.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    /// Operations timed.
    pub ops: u64,
    /// Their time.
    pub elapsed: Duration,
    /// Key and value bytes written or read.
    pub bytes: u64,
    /// Reads that found a pair, and how many should have.
    pub found: Option<(u64, u64)>,
    /// Key and value bytes the workload wrote (the harness's count).
    pub user_bytes: u64,
    /// The engine's own counters over the workload: bytes it wrote, user
    /// bytes it counted.
    pub engine_bytes: Option<(u64, u64)>,
    /// Bytes the process handed to `write` calls (`/proc/self/io` wchar).
    pub io_bytes: Option<u64>,
    /// The database directory's size after the workload and a flush.
    pub dir_bytes: Option<u64>,
    /// Key and value bytes live in the database then.
    pub live_bytes: Option<u64>,
    /// The engine's tables after the workload (writes: after the flush).
    pub tables: Option<u64>,
    /// Each operation's latency.
    pub latency: Option<Summary>,
    /// The engine's stall and cache counters over the timed part.
    pub probe: Option<Probe>,
}

/// How a workload ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It ran (boxed: a measurement is large beside the other outcomes).
    Done(Box<Measurement>),
    /// It reached a `todo!()` of chapter `chapter`.
    Unimplemented {
        /// The chapter whose `todo!()` it reached.
        chapter: u32,
        /// The panic message.
        message: String,
    },
    /// It returned an error or panicked otherwise.
    Failed(String),
}

/// Runs the chosen workloads on one engine; `report` gets each outcome as
/// soon as it is known.
pub fn run(kind: &EngineKind, config: &Config, report: &mut dyn FnMut(&str, &Outcome)) {
    let mut runner = Runner {
        kind,
        config,
        values: Values::new(),
        main: Main::Absent,
        label: kind.name,
    };
    for name in ALL {
        if config.workloads.iter().any(|chosen| chosen == name) {
            let outcome = runner.run_one(name);
            report(name, &outcome);
        }
    }
    runner.main = Main::Absent;
}

/// The database that fillrandom builds and the later workloads use.
enum Main {
    Absent,
    /// Written to since it was last reopened.
    Written(Box<dyn Engine>),
    /// Flushed and reopened: ready for reads.
    Reopened(Box<dyn Engine>),
    /// Building or reopening it failed: every later user fails the same.
    Broken(Outcome),
}

struct Runner<'a> {
    kind: &'a EngineKind,
    config: &'a Config,
    values: Values,
    main: Main,
    label: &'a str,
}

impl Runner<'_> {
    fn run_one(&mut self, name: &str) -> Outcome {
        let uses_main = !matches!(name, "fillseq" | "fillsync" | "fillrandom");
        if let (true, Main::Broken(outcome)) = (uses_main, &self.main) {
            return outcome.clone();
        }
        crate::panics::forget_last();
        let caught = catch_unwind(AssertUnwindSafe(|| self.dispatch(name)));
        match caught {
            Ok(Ok(measurement)) => Outcome::Done(Box::new(measurement)),
            Ok(Err(error)) => {
                let outcome = crate::panics::outcome_of_error(&error.to_string());
                self.forget_main_after(name, &outcome);
                outcome
            }
            Err(_) => {
                let outcome = crate::panics::take_outcome();
                self.forget_main_after(name, &outcome);
                outcome
            }
        }
    }

    /// A workload that failed while the main database was out of its slot
    /// (being built, written or reopened) leaves it in an unknown state:
    /// mark it broken, so its later users fail the same way. A failed read
    /// leaves it in place, usable.
    fn forget_main_after(&mut self, name: &str, outcome: &Outcome) {
        let own_database = matches!(name, "fillseq" | "fillsync");
        if !own_database && matches!(self.main, Main::Absent) {
            self.main = Main::Broken(outcome.clone());
        }
    }

    fn dispatch(&mut self, name: &str) -> Result<Measurement> {
        let num = self.config.num;
        match name {
            "fillseq" => self.fill_new(name, &(0..num).collect::<Vec<_>>(), false),
            "fillsync" => {
                let order = data::permutation(num, seed::FILL_SYNC);
                let count = self.config.sync_num.min(num) as usize;
                self.fill_new(name, &order[..count], true)
            }
            "fillrandom" => {
                self.main = Main::Absent;
                let engine = (self.kind.open)(&self.main_dir(), &self.config.settings)?;
                let order = data::permutation(num, seed::FILL);
                self.write_main(name, engine, &order, WriteKind::Put)
            }
            "overwrite" => {
                let engine = self.take_main()?;
                let order = data::permutation(num, seed::OVERWRITE);
                self.write_main(name, engine, &order, WriteKind::Put)
            }
            "readrandom" => self.read_random(name, false),
            "readmissing" => self.read_random(name, true),
            "readseq" => self.read_seq(name),
            "seekrandom" => self.seek_random(name),
            "deleterandom" => {
                self.reopened()?;
                let engine = self.take_main()?;
                let order = data::permutation(num, seed::DELETE);
                self.write_main(name, engine, &order, WriteKind::Delete)
            }
            other => Err(format!("unknown workload `{other}`").into()),
        }
    }

    fn main_dir(&self) -> PathBuf {
        self.config.dir.join("main")
    }

    /// The main database, loaded (untimed, as fillrandom) if absent.
    fn take_main(&mut self) -> Result<Box<dyn Engine>> {
        match std::mem::replace(&mut self.main, Main::Absent) {
            Main::Written(engine) | Main::Reopened(engine) => Ok(engine),
            Main::Broken(outcome) => {
                self.main = Main::Broken(outcome);
                Err("the main database is broken by an earlier failure".into())
            }
            Main::Absent => {
                let dir = self.main_dir();
                remove_dir(&dir)?;
                let mut engine = (self.kind.open)(&dir, &self.config.settings)?;
                let order = data::permutation(self.config.num, seed::FILL);
                let mut progress = Progress::new(self.label, "loading", order.len() as u64);
                self.write_all(
                    engine.as_mut(),
                    &order,
                    WriteKind::Put,
                    false,
                    &mut progress,
                    &mut Histogram::new(),
                )?;
                progress.finish();
                Ok(engine)
            }
        }
    }

    /// The main database, flushed and reopened since its last write, left
    /// in its slot (a panicking read leaves it there).
    fn reopened(&mut self) -> Result<&mut dyn Engine> {
        if !matches!(self.main, Main::Reopened(_)) {
            let mut engine = self.take_main()?;
            engine.flush()?;
            engine.close()?;
            self.main = Main::Reopened((self.kind.open)(&self.main_dir(), &self.config.settings)?);
        }
        match &mut self.main {
            Main::Reopened(engine) => Ok(engine.as_mut()),
            _ => Err("the main database is unavailable".into()),
        }
    }

    fn fill_new(&mut self, name: &str, order: &[u64], sync: bool) -> Result<Measurement> {
        let dir = self.config.dir.join(name);
        remove_dir(&dir)?;
        let mut engine = (self.kind.open)(&dir, &self.config.settings)?;
        let measurement = self.timed_writes(name, engine.as_mut(), order, WriteKind::Put, sync);
        let closed = engine.close();
        let measurement = measurement?;
        closed?;
        remove_dir(&dir)?;
        Ok(measurement)
    }

    fn write_main(
        &mut self,
        name: &str,
        mut engine: Box<dyn Engine>,
        order: &[u64],
        kind: WriteKind,
    ) -> Result<Measurement> {
        let measurement = self.timed_writes(name, engine.as_mut(), order, kind, false)?;
        self.main = Main::Written(engine);
        Ok(measurement)
    }

    /// Times the writes, then (untimed) flushes and measures the
    /// amplifications.
    fn timed_writes(
        &mut self,
        name: &str,
        engine: &mut dyn Engine,
        order: &[u64],
        kind: WriteKind,
        sync: bool,
    ) -> Result<Measurement> {
        let counters_before = engine.counters();
        let probe_before = engine.probe();
        let io_before = io_written_bytes();
        let mut progress = Progress::new(self.label, name, order.len() as u64);
        let mut latency = Histogram::new();
        let started = Instant::now();
        let user_bytes = self.write_all(engine, order, kind, sync, &mut progress, &mut latency)?;
        let elapsed = started.elapsed();
        progress.finish();
        let probe = probe_delta(probe_before, engine.probe());
        engine.flush()?;
        let engine_bytes = match (counters_before, engine.counters()) {
            (Some((written0, user0)), Some((written1, user1))) => Some((
                written1.saturating_sub(written0),
                user1.saturating_sub(user0),
            )),
            _ => None,
        };
        let live_keys = match (name, kind) {
            (_, WriteKind::Delete) => 0,
            ("fillsync", _) => order.len() as u64,
            _ => self.config.num,
        };
        let dir = if name == "fillseq" || name == "fillsync" {
            self.config.dir.join(name)
        } else {
            self.main_dir()
        };
        Ok(Measurement {
            ops: order.len() as u64,
            elapsed,
            bytes: user_bytes,
            found: None,
            user_bytes,
            engine_bytes,
            io_bytes: io_before
                .zip(io_written_bytes())
                .map(|(before, after)| after.saturating_sub(before)),
            dir_bytes: dir_size_bytes(&dir).ok(),
            live_bytes: Some(live_keys * (KEY_LEN_BYTES + VALUE_LEN_BYTES) as u64),
            tables: engine.table_count(),
            latency: Some(latency.summary()),
            probe,
        })
    }

    /// Writes `order`'s keys in calls of `batch` operations, each call's
    /// time into `latency`; returns the user bytes written.
    fn write_all(
        &mut self,
        engine: &mut dyn Engine,
        order: &[u64],
        kind: WriteKind,
        sync: bool,
        progress: &mut Progress,
        latency: &mut Histogram,
    ) -> Result<u64> {
        let batch = self.config.batch.max(1);
        let mut keys = vec![[0u8; KEY_LEN_BYTES]; batch];
        let mut values = vec![[0u8; VALUE_LEN_BYTES]; batch];
        let mut user_bytes = 0;
        let mut done = 0;
        for chunk in order.chunks(batch) {
            for (slot, &i) in chunk.iter().enumerate() {
                data::key(i, &mut keys[slot]);
                if kind == WriteKind::Put {
                    values[slot].copy_from_slice(self.values.next_value());
                }
            }
            let ops: Vec<Op<'_>> = (0..chunk.len())
                .map(|slot| match kind {
                    WriteKind::Put => Op::Put(&keys[slot], &values[slot]),
                    WriteKind::Delete => Op::Delete(&keys[slot]),
                })
                .collect();
            let call = Instant::now();
            engine.write(&ops, sync)?;
            latency.record(call.elapsed());
            user_bytes += ops
                .iter()
                .map(|op| match op {
                    Op::Put(key, value) => key.len() + value.len(),
                    Op::Delete(key) => key.len(),
                } as u64)
                .sum::<u64>();
            done += chunk.len() as u64;
            progress.tick(done);
        }
        Ok(user_bytes)
    }

    fn read_random(&mut self, name: &str, missing: bool) -> Result<Measurement> {
        let (label, config) = (self.label, self.config);
        let engine = self.reopened()?;
        let seed = if missing {
            seed::READ_MISSING
        } else {
            seed::READ
        };
        let keys = data::uniform(config.reads, config.num, seed);
        let mut progress = Progress::new(label, name, keys.len() as u64);
        let (mut found, mut bytes) = (0, 0);
        let mut present = [0u8; KEY_LEN_BYTES];
        let mut absent = [0u8; KEY_LEN_BYTES + 1];
        let mut latency = Histogram::new();
        let probe_before = engine.probe();
        let started = Instant::now();
        for (done, &i) in (1..).zip(&keys) {
            let key: &[u8] = if missing {
                data::missing_key(i, &mut absent);
                &absent
            } else {
                data::key(i, &mut present);
                &present
            };
            let call = Instant::now();
            let got = engine.get(key)?;
            latency.record(call.elapsed());
            if let Some(len) = got {
                found += 1;
                bytes += (key.len() + len) as u64;
            }
            progress.tick(done);
        }
        let elapsed = started.elapsed();
        progress.finish();
        let expected = if missing { 0 } else { keys.len() as u64 };
        let count = keys.len() as u64;
        let mut m = read_measurement(count, elapsed, bytes, (found, expected));
        m.tables = engine.table_count();
        m.latency = Some(latency.summary());
        m.probe = probe_delta(probe_before, engine.probe());
        Ok(m)
    }

    fn read_seq(&mut self, name: &str) -> Result<Measurement> {
        let (label, num) = (self.label, self.config.num);
        let engine = self.reopened()?;
        let progress = Progress::new(label, name, 0);
        let mut latency = Histogram::new();
        let probe_before = engine.probe();
        let started = Instant::now();
        let mut previous = started;
        let (rows, bytes) = engine.scan_all(&mut || {
            let now = Instant::now();
            latency.record(now - previous);
            previous = now;
        })?;
        let elapsed = started.elapsed();
        progress.finish();
        let mut m = read_measurement(rows, elapsed, bytes, (rows, num));
        m.tables = engine.table_count();
        m.latency = Some(latency.summary());
        m.probe = probe_delta(probe_before, engine.probe());
        Ok(m)
    }

    fn seek_random(&mut self, name: &str) -> Result<Measurement> {
        let (label, config) = (self.label, self.config);
        let engine = self.reopened()?;
        let keys = data::uniform(config.reads, config.num, seed::SEEK);
        let mut progress = Progress::new(label, name, keys.len() as u64);
        let (mut found, mut bytes) = (0, 0);
        let mut target = [0u8; KEY_LEN_BYTES];
        let mut latency = Histogram::new();
        let probe_before = engine.probe();
        let started = Instant::now();
        for (done, &i) in (1..).zip(&keys) {
            data::key(i, &mut target);
            let call = Instant::now();
            let got = engine.seek(&target)?;
            latency.record(call.elapsed());
            if let Some((key, len)) = got {
                if key == target {
                    found += 1;
                }
                bytes += (key.len() + len) as u64;
            }
            progress.tick(done);
        }
        let elapsed = started.elapsed();
        progress.finish();
        let count = keys.len() as u64;
        let mut m = read_measurement(count, elapsed, bytes, (found, count));
        m.tables = engine.table_count();
        m.latency = Some(latency.summary());
        m.probe = probe_delta(probe_before, engine.probe());
        Ok(m)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteKind {
    Put,
    Delete,
}

fn read_measurement(ops: u64, elapsed: Duration, bytes: u64, found: (u64, u64)) -> Measurement {
    Measurement {
        ops,
        elapsed,
        bytes,
        found: Some(found),
        ..Measurement::default()
    }
}

/// The engine's counters over a workload, if it keeps them.
fn probe_delta(before: Option<Probe>, after: Option<Probe>) -> Option<Probe> {
    Some(after?.since(&before?))
}

/// What timing one operation costs: the mean of `Instant::now()` twice
/// and a record, over `rounds` empty operations, in nanoseconds (measured
/// once at the start of a run and printed with it).
pub fn timer_overhead_nanos(rounds: u32) -> f64 {
    let mut latency = Histogram::new();
    let started = Instant::now();
    for _ in 0..rounds {
        let call = Instant::now();
        latency.record(std::hint::black_box(call).elapsed());
    }
    started.elapsed().as_nanos() as f64 / f64::from(rounds.max(1))
}

/// Bytes this process has passed to `write` calls (Linux), `None`
/// elsewhere. Counts every engine's writes the same way, whatever its own
/// statistics say.
fn io_written_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The disk space of every file under `dir`, as `du` counts it: blocks
/// allocated (a preallocated but unwritten journal counts as what it
/// holds); the apparent length where there are no block counts.
fn dir_size_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            dir_size_bytes(&entry.path())?
        } else {
            allocated_bytes(&metadata)
        };
    }
    Ok(total)
}

#[cfg(unix)]
fn allocated_bytes(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.blocks() * 512
}

#[cfg(not(unix))]
fn allocated_bytes(metadata: &std::fs::Metadata) -> u64 {
    metadata.len()
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(format!("removing {}: {error}", dir.display()).into()),
    }
}
