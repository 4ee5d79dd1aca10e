//! Graded tests for chapter 9 — snapshots, time travel and transactions.
//! Book: "9. Snapshots, time travel and transactions".
//! Run: `cargo test --test ch09_snapshots --features ref-upto-ch08`.
//!
//! Four kinds of tests:
//! - the timeline's pure functions ([`sample_for`], [`seq_as_of`],
//!   [`retained`]) on hand-built samples, no files;
//! - snapshots, reads as of a time and transactions through the engine on
//!   the simulated file system (`SimFs`), time driven by a `SimClock`,
//!   with tiny memtables and chapter 8's `Leveled` compaction in a small
//!   shape, so a few hundred writes flush and compact many times;
//! - a compaction the test arms by hand ([`CompactAll`]: every table merged
//!   one level down), to measure in bytes what compaction keeps;
//! - the whole chapter under stress: writers on other threads, crash
//!   sweeps (every file-system operation × the four crash images) and a
//!   model test against a versioned `BTreeMap`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch06_manifest::LEVEL_COUNT;
use lsm_workbook::ch07_engine::{Compaction, Db, Maintenance, Options, WriteOptions};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, Task, compact};
use lsm_workbook::ch09_snapshots::{
    Sample, Snapshot, TimelineOptions, Transaction, open_with_timeline, retained, sample_for,
    seq_as_of,
};
use lsm_workbook::clock::SimClock;
use lsm_workbook::fs::sim::{CrashPoint, Fault, OpKind};
use lsm_workbook::fs::{CrashMode, Fs, SimFs};
use lsm_workbook::types::{SeqNo, WriteBatch};
use proptest::prelude::*;
use support::b;

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

type Pairs = Vec<(Bytes, Bytes)>;
type Model = BTreeMap<Bytes, Bytes>;

/// Options on `fs` with a fixed salt and a memtable of `memtable_bytes`.
fn options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: memtable_bytes,
        salt_seed: Some(9),
        ..Options::default()
    }
}

/// A small leveled shape: level 0 compacts at 2 tables, level 1 holds
/// 2 KiB, each level 4 times more, tables of 1 KiB.
fn small_shape() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 2,
        level1_target_bytes: 2 << 10,
        level_size_factor: 4,
        table_target_bytes: 1 << 10,
    }
}

/// Options with chapter 8's compaction in the small shape.
fn leveled(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        compaction: Some(Arc::new(Leveled {
            options: small_shape(),
        })),
        ..options(fs, memtable_bytes)
    }
}

fn open(options: Options) -> Db {
    Db::open(dir(), options).expect("the database must open")
}

fn key(i: u32) -> String {
    format!("key{i:04}")
}

fn value(tag: &str, i: u32) -> Bytes {
    b(&format!("{tag}-{i:04}-{}", "v".repeat(40)))
}

fn text(bytes: &Option<Bytes>) -> String {
    match bytes {
        Some(bytes) => String::from_utf8_lossy(bytes).chars().take(24).collect(),
        None => "None".into(),
    }
}

/// Short text for pairs in messages: the count and the first few keys.
fn show(pairs: &[(Bytes, Bytes)]) -> String {
    let shown: Vec<String> = pairs
        .iter()
        .take(4)
        .map(|(k, v)| {
            let v: String = String::from_utf8_lossy(v).chars().take(12).collect();
            format!("{}={v}", String::from_utf8_lossy(k))
        })
        .collect();
    format!(
        "{} pairs [{}{}]",
        pairs.len(),
        shown.join(", "),
        if pairs.len() > 4 { ", …" } else { "" }
    )
}

/// Where two lists of pairs first differ, for messages.
fn first_difference(got: &[(Bytes, Bytes)], want: &[(Bytes, Bytes)]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "got {}, want {}; first difference at pair {at}: got {}, want {}",
        show(got),
        show(want),
        show(&got[at.min(got.len())..]),
        show(&want[at.min(want.len())..])
    )
}

fn pairs(model: &Model) -> Pairs {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn collect(scan: impl Iterator<Item = lsm_workbook::Result<(Bytes, Bytes)>>) -> Pairs {
    scan.collect::<lsm_workbook::Result<Pairs>>()
        .unwrap_or_else(|e| panic!("the scan failed: {e}"))
}

/// Bytes of the table files in the directory.
fn table_bytes(fs: &SimFs) -> u64 {
    fs.list(dir())
        .unwrap()
        .iter()
        .filter(|name| name.ends_with(".sst"))
        .map(|name| {
            fs.file_bytes(dir().join(name))
                .map_or(0, |bytes| bytes.len() as u64)
        })
        .sum()
}

/// Runs `body` on a thread and fails if it does not finish within
/// [`DEADLINE`]: a pin never released or a writer waiting on itself must
/// fail the test, not hang it.
fn with_deadline<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, wait) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = body();
        let _ = done.send(());
        result
    });
    match wait.recv_timeout(DEADLINE) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "the test did not finish within {DEADLINE:?}: does a commit write through the \
             database inside write_with (it holds the writer lock: return the batch instead), or \
             fail with Conflict every time, so that a retry never ends?"
        ),
        _ => match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
}

/// How long an engine test may take (the reference takes a few seconds).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

fn is_out_of_history<T: std::fmt::Debug>(result: &lsm_workbook::Result<T>) -> bool {
    matches!(result, Err(Error::OutOfHistory { .. }))
}

// ---------------------------------------------------------------------------
// 9.4 task 1: snapshots.
// ---------------------------------------------------------------------------

#[test]
fn a_snapshot_sees_exactly_the_writes_made_before_it() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("a"), b("a1")).unwrap();
    db.put(b("b"), b("b1")).unwrap();
    db.put(b("c"), b("c1")).unwrap();
    db.delete(b("c")).unwrap();
    let snapshot = db.snapshot();
    assert_eq!(
        snapshot.seq(),
        db.last_seq(),
        "a new snapshot reads at the last published sequence number (db.last_seq())"
    );
    db.put(b("a"), b("a2")).unwrap();
    db.delete(b("b")).unwrap();
    db.put(b("c"), b("c2")).unwrap();
    db.put(b("d"), b("d1")).unwrap();
    assert_eq!(
        snapshot.get(b"a").unwrap(),
        Some(b("a1")),
        "the snapshot saw a write made after it: read at snapshot.seq() with get_at, not get"
    );
    assert_eq!(
        snapshot.get(b"b").unwrap(),
        Some(b("b1")),
        "a delete made after the snapshot hid a key from it: read at snapshot.seq()"
    );
    assert_eq!(
        snapshot.get(b"c").unwrap(),
        None,
        "a key deleted before the snapshot was brought back by a later put"
    );
    assert_eq!(
        snapshot.get(b"d").unwrap(),
        None,
        "a key first written after the snapshot is visible through it"
    );
    let want = vec![(b("a"), b("a1")), (b("b"), b("b1"))];
    let got = collect(snapshot.scan(..));
    assert!(
        got == want,
        "a scan through the snapshot must use its seq (scan_at(bounds, seq)): {}",
        first_difference(&got, &want)
    );
    let got = collect(snapshot.scan(&b"b"[..]..));
    assert!(
        got == want[1..],
        "the snapshot's scan must honour its range: {}",
        first_difference(&got, &want[1..])
    );
    assert_eq!(
        db.get(b"a").unwrap(),
        Some(b("a2")),
        "a snapshot must not change what the database's own reads see"
    );
}

#[test]
fn a_snapshot_pins_its_sequence_number_until_it_is_dropped() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("a"), b("1")).unwrap();
    assert!(db.pins().is_empty(), "nothing is pinned before a snapshot");
    let first = db.snapshot();
    assert_eq!(
        db.pins().oldest(),
        Some(first.seq()),
        "db.snapshot() must pin the seq it reads at (db.pins().pin(|| db.last_seq())), or \
         compaction may drop the versions it sees"
    );
    db.put(b("a"), b("2")).unwrap();
    let second = db.snapshot();
    let third = db.snapshot();
    assert_eq!(
        db.pins().len(),
        3,
        "every snapshot holds a pin of its own, even two at the same seq"
    );
    assert_eq!(
        db.oldest_readable_seq(),
        first.seq(),
        "while the oldest snapshot lives, compaction must keep what it sees"
    );
    drop(first);
    assert_eq!(
        db.pins().oldest(),
        Some(second.seq()),
        "a snapshot was dropped but its pin was not released: Drop must unpin (db.pins().unpin(seq))"
    );
    drop(second);
    assert_eq!(
        db.pins().len(),
        1,
        "dropping one of two snapshots at the same seq releases one pin, not both"
    );
    drop(third);
    assert!(
        db.pins().is_empty(),
        "a snapshot was dropped but its pin was not released: Drop must unpin"
    );
    assert_eq!(
        db.oldest_readable_seq(),
        db.last_seq(),
        "with no snapshot left, compaction may keep only the newest versions"
    );
}

// A snapshot taken after a first round of writes must read that round
// through five rounds of overwrites and deletes that flush and compact the
// tree many times over (tiny memtables, leveled compaction).
#[test]
fn a_snapshot_reads_the_same_through_flushes_and_compactions() {
    with_deadline(|| {
        let fs = SimFs::new();
        let db = open(leveled(&fs, 1 << 10));
        let mut model = Model::new();
        for i in 0..200 {
            db.put(b(&key(i)), value("r0", i)).unwrap();
            model.insert(b(&key(i)), value("r0", i));
        }
        for i in (0..200).step_by(7) {
            db.delete(b(&key(i))).unwrap();
            model.remove(&b(&key(i)));
        }
        let snapshot = db.snapshot();
        let seen = model.clone();
        for round in 1..6u32 {
            for i in 0..200 {
                if i % 5 == round % 5 {
                    db.delete(b(&key(i))).unwrap();
                    model.remove(&b(&key(i)));
                } else {
                    db.put(b(&key(i)), value(&format!("r{round}"), i)).unwrap();
                    model.insert(b(&key(i)), value(&format!("r{round}"), i));
                }
            }
        }
        db.flush().unwrap();
        let stats = db.stats();
        assert!(
            stats.compactions > 0,
            "the test needs compactions to have run: {stats:?}"
        );
        for i in 0..200 {
            let k = b(&key(i));
            let got = snapshot.get(&k).unwrap();
            assert_eq!(
                got,
                seen.get(&k).cloned(),
                "{}: the snapshot's read changed after flushes and compactions (got {}): read at \
                 snapshot.seq(), and pin it so that compaction keeps the versions it sees",
                key(i),
                text(&got)
            );
        }
        let got = collect(snapshot.scan(..));
        let want = pairs(&seen);
        assert!(
            got == want,
            "the snapshot's scan changed after flushes and compactions: {}",
            first_difference(&got, &want)
        );
        let got = collect(db.scan(..));
        let want = pairs(&model);
        assert!(
            got == want,
            "the database's own scan must see the newest writes: {}",
            first_difference(&got, &want)
        );
    });
}

// Snapshots live in memory only: after a snapshot is dropped and the
// database reopened, nothing is pinned, compaction reclaims what only the
// snapshot saw, and reads (and a new snapshot) see the newest writes.
#[test]
fn after_a_reopen_with_the_snapshot_dropped_reads_see_the_newest_writes() {
    with_deadline(|| {
        let fs = SimFs::new();
        let db = open(leveled(&fs, 1 << 10));
        let mut model = Model::new();
        for round in 0..4u32 {
            let snapshot = db.snapshot();
            let before = collect(db.scan(..));
            for i in 0..120 {
                if (i + round).is_multiple_of(6) {
                    db.delete(b(&key(i))).unwrap();
                    model.remove(&b(&key(i)));
                } else {
                    db.put(b(&key(i)), value(&format!("r{round}"), i)).unwrap();
                    model.insert(b(&key(i)), value(&format!("r{round}"), i));
                }
            }
            let got = collect(snapshot.scan(..));
            assert!(
                got == before,
                "round {round}: the snapshot saw writes made after it: {}",
                first_difference(&got, &before)
            );
        }
        db.close().unwrap();
        let db = open(leveled(&fs, 1 << 10));
        assert!(
            db.pins().is_empty(),
            "a reopened database holds no pins: snapshots are in memory only"
        );
        let got = collect(db.scan(..));
        let want = pairs(&model);
        assert!(
            got == want,
            "after the reopen the database must hold the newest writes: {}",
            first_difference(&got, &want)
        );
        let snapshot = db.snapshot();
        assert_eq!(
            snapshot.seq(),
            db.last_seq(),
            "a snapshot after the reopen reads at the recovered last_seq"
        );
        db.put(b(&key(0)), b("after")).unwrap();
        let got = collect(snapshot.scan(..));
        assert!(
            got == want,
            "a snapshot after the reopen saw a later write: {}",
            first_difference(&got, &want)
        );
    });
}

/// A compaction armed by hand: when armed, the next flush merges every
/// table one level down (each level with all of the next), so all the
/// data is rewritten once and ends one level deeper. Measuring the bytes
/// after it shows exactly what `retain` kept at the engine's oldest
/// readable sequence number.
#[derive(Debug, Default)]
struct CompactAll {
    armed: AtomicBool,
}

impl CompactAll {
    /// Runs one full compaction now (through a flush).
    fn run_on(&self, db: &Db) {
        self.armed.store(true, Ordering::SeqCst);
        db.flush().unwrap();
    }
}

impl Compaction for CompactAll {
    fn run(&self, context: &mut Maintenance<'_>) -> lsm_workbook::Result<()> {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let version = context.manifest.version();
        let Some(deepest) = (0..LEVEL_COUNT)
            .rev()
            .find(|&l| !version.level(l).is_empty())
        else {
            return Ok(());
        };
        for level in 0..=deepest.min(LEVEL_COUNT - 2) {
            let version = context.manifest.version();
            let inputs = version.level(level).to_vec();
            if inputs.is_empty() {
                continue;
            }
            let task = Task {
                level,
                inputs,
                overlapping: version.level(level + 1).to_vec(),
            };
            let edit = compact(context, &task, 64 << 10)?;
            context.manifest.install(&edit)?;
        }
        Ok(())
    }
}

fn open_compact_all(options: Options) -> (Db, Arc<CompactAll>) {
    let all = Arc::new(CompactAll::default());
    let compaction: Arc<dyn Compaction> = Arc::clone(&all) as Arc<dyn Compaction>;
    let db = open(Options {
        compaction: Some(compaction),
        ..options
    });
    (db, all)
}

const ROUND_KEYS: u32 = 200;

fn write_round(db: &Db, tag: &str) {
    for i in 0..ROUND_KEYS {
        db.put(b(&key(i)), value(tag, i)).unwrap();
    }
    db.flush().unwrap();
}

/// Bytes of tables holding one version of each of the round's keys.
fn one_round_bytes() -> u64 {
    let fs = SimFs::new();
    let (db, all) = open_compact_all(options(&fs, 1 << 20));
    write_round(&db, "r1");
    all.run_on(&db);
    table_bytes(&fs)
}

// Measured in bytes of .sst files: with a snapshot before a round of
// overwrites, a full compaction keeps both versions (≥ 1.8 × the bytes of
// one version); once it is dropped, the next one keeps one (≤ 1.1 × + 1 KiB).
#[test]
fn compaction_keeps_the_versions_a_snapshot_sees_and_reclaims_them_once_it_is_dropped() {
    with_deadline(|| {
        let one = one_round_bytes();
        let fs = SimFs::new();
        let (db, all) = open_compact_all(options(&fs, 1 << 20));
        write_round(&db, "r0");
        let snapshot = db.snapshot();
        write_round(&db, "r1");
        all.run_on(&db);
        for i in 0..ROUND_KEYS {
            let got = snapshot.get(key(i).as_bytes()).unwrap();
            assert_eq!(
                got,
                Some(value("r0", i)),
                "{}: compaction dropped a version the snapshot sees (got {}): db.snapshot() must \
                 pin its seq, so that the engine's oldest readable seq keeps it",
                key(i),
                text(&got)
            );
        }
        let kept = table_bytes(&fs);
        assert!(
            kept >= one * 9 / 5,
            "with a snapshot before the overwrites, compaction must keep both versions: {kept} \
             bytes of tables, one version of every key takes {one} (bound: ≥ 1.8 × that)"
        );
        drop(snapshot);
        all.run_on(&db);
        let reclaimed = table_bytes(&fs);
        assert!(
            reclaimed <= one * 11 / 10 + 1024,
            "once the snapshot is dropped compaction must reclaim the old versions: {reclaimed} \
             bytes of tables, one version of every key takes {one} (bound: ≤ 1.1 × that + 1 KiB). \
             A snapshot was dropped but its pin was not released: Drop must unpin"
        );
        assert_eq!(
            db.get(key(7).as_bytes()).unwrap(),
            Some(value("r1", 7)),
            "after compaction the newest version must remain"
        );
    });
}

// ---------------------------------------------------------------------------
// 9.4 task 2: the timeline, pure functions on hand-built samples.
// ---------------------------------------------------------------------------

fn sample(time_micros: u64, seq: SeqNo) -> Sample {
    Sample { time_micros, seq }
}

fn timeline_options(resolution_micros: u64, retention_micros: u64) -> TimelineOptions {
    TimelineOptions {
        resolution_micros,
        retention_micros,
    }
}

#[test]
fn sample_for_takes_the_first_sample_then_one_per_resolution() {
    let o = timeline_options(1000, 1 << 40);
    assert_eq!(
        sample_for(&[], 1, 5000, &o),
        Some(sample(5000, 0)),
        "the first write ever gets a sample (now, first_seq − 1): nothing was written before it"
    );
    assert_eq!(
        sample_for(&[], 8, 5000, &o),
        Some(sample(5000, 7)),
        "a first sample after writes made without a timeline says seq first_seq − 1"
    );
    let samples = [sample(5000, 0)];
    assert_eq!(
        sample_for(&samples, 4, 5999, &o),
        None,
        "the last sample is 999 µs old, under the resolution of 1000: no new sample"
    );
    assert_eq!(
        sample_for(&samples, 4, 6000, &o),
        Some(sample(6000, 3)),
        "exactly one resolution after the last sample a new one is due (now − last ≥ resolution), \
         with seq first_seq − 1: the writes before this batch"
    );
    assert_eq!(
        sample_for(&samples, 4, 90_000, &o),
        Some(sample(90_000, 3)),
        "long after the last sample a new one is due"
    );
    let samples = [sample(5000, 0), sample(6000, 3)];
    assert_eq!(
        sample_for(&samples, 9, 6500, &o),
        None,
        "the resolution counts from the last sample, not the first"
    );
    assert_eq!(
        sample_for(&samples, 9, 7000, &o),
        Some(sample(7000, 8)),
        "the resolution counts from the last sample"
    );
}

#[test]
fn sample_for_reads_a_clock_that_went_backwards_as_the_last_samples_time() {
    let samples = [sample(5000, 0), sample(8000, 3)];
    assert_eq!(
        sample_for(&samples, 9, 4000, &timeline_options(1000, 1 << 40)),
        None,
        "the clock went back to before the last sample: read it as the last sample's time, \
         which is under the resolution (and compute now − last without underflow)"
    );
    assert_eq!(
        sample_for(&samples, 9, 4000, &timeline_options(0, 1 << 40)),
        Some(sample(8000, 8)),
        "with a resolution of 0 every write gets a sample, and one taken when the clock went back \
         is at the last sample's time: samples never go back in time"
    );
}

/// The samples of the `seq_as_of` cases: writes 1–5 between 10.0 and
/// 11.0 ms, 6–9 between 12.5 and 13.5, 10–12 from 15.0 (last_seq 12).
fn as_of_samples() -> [Sample; 3] {
    [sample(10_000, 0), sample(12_500, 5), sample(15_000, 9)]
}

#[test]
fn seq_as_of_uses_the_next_samples_seq_once_the_resolution_has_passed() {
    let samples = as_of_samples();
    let o = timeline_options(1000, 1 << 40);
    let cases: [(u64, SeqNo, &str); 11] = [
        (
            10_000,
            0,
            "a time equal to a sample's time answers that sample's seq",
        ),
        (
            10_999,
            0,
            "t_0 + resolution > T: writes 1–5 may have been made after T, so the sample's own seq",
        ),
        (
            11_000,
            5,
            "exactly at t_0 + resolution = T every write between samples 0 and 1 was made before \
             T: the next sample's seq (the test is t_j + resolution > T, strictly)",
        ),
        (
            12_499,
            5,
            "between t_0 + resolution and the next sample: its seq",
        ),
        (
            12_500,
            5,
            "a time equal to a sample's time answers that sample's seq",
        ),
        (
            13_499,
            5,
            "within the resolution after sample 1: its own seq",
        ),
        (
            13_500,
            9,
            "exactly one resolution after sample 1: the next sample's seq",
        ),
        (15_000, 9, "at the last sample: its seq"),
        (
            15_999,
            9,
            "within the resolution after the last sample: its seq, not last_seq (writes 10–12 may \
             have been made after T)",
        ),
        (
            16_000,
            12,
            "one resolution after the last sample every write was made before T: last_seq",
        ),
        (
            20_000,
            12,
            "now itself, long after the last sample: last_seq",
        ),
    ];
    for (time, want, why) in cases {
        let got = seq_as_of(&samples, time, 20_000, 12, &o);
        assert!(
            matches!(got, Ok(seq) if seq == want),
            "seq_as_of(T = {time}) with samples {samples:?}, resolution 1000, last_seq 12: got \
             {got:?}, want Ok({want}): {why}"
        );
    }
    let got = seq_as_of(&samples, 11_000, 20_000, 12, &o);
    assert!(
        !matches!(got, Ok(6..)),
        "seq_as_of returned a seq beyond the next sample's: writes after sample j+1 may have been \
         made after T"
    );
}

#[test]
fn seq_as_of_before_the_first_sample_is_0_only_if_nothing_was_written_before_it() {
    let o = timeline_options(1000, 1 << 40);
    let got = seq_as_of(&as_of_samples(), 9000, 20_000, 12, &o);
    assert!(
        matches!(got, Ok(0)),
        "before the first sample, whose seq is 0, nothing was written: want Ok(0), got {got:?}"
    );
    let late = [sample(10_000, 4), sample(12_500, 7)];
    let got = seq_as_of(&late, 9000, 20_000, 12, &o);
    assert!(
        matches!(
            got,
            Err(Error::OutOfHistory {
                time_micros: 9000,
                ..
            })
        ),
        "writes 1–4 were made before the first sample, at times nobody recorded: a read as of a \
         time before it is Error::OutOfHistory (with that time), never a guess; got {got:?}"
    );
    let got = seq_as_of(&late, 10_000, 20_000, 12, &o);
    assert!(
        matches!(got, Ok(4)),
        "at the first sample's own time its seq answers, even if it is not 0: got {got:?}"
    );
    let got = seq_as_of(&[], 9000, 20_000, 0, &o);
    assert!(
        matches!(got, Ok(0)),
        "no samples and nothing written: the empty database, Ok(0); got {got:?}"
    );
    let got = seq_as_of(&[], 9000, 20_000, 3, &o);
    assert!(
        is_out_of_history(&got),
        "no samples but 3 writes: nothing says when they were made, Error::OutOfHistory; got \
         {got:?}"
    );
}

#[test]
fn seq_as_of_refuses_the_future_and_times_outside_the_retention_window() {
    let samples = as_of_samples();
    let o = timeline_options(1000, 5000);
    let got = seq_as_of(&samples, 20_001, 20_000, 12, &o);
    assert!(
        matches!(
            got,
            Err(Error::OutOfHistory {
                time_micros: 20_001,
                ..
            })
        ),
        "a time after now is the future: Error::OutOfHistory, never today's data; got {got:?}"
    );
    let got = seq_as_of(&samples, 20_000, 20_000, 12, &o);
    assert!(matches!(got, Ok(12)), "now itself is answered: got {got:?}");
    let got = seq_as_of(&samples, 15_000, 20_000, 12, &o);
    assert!(
        matches!(got, Ok(9)),
        "the window's edge, now − retention, is inside it: got {got:?}"
    );
    let got = seq_as_of(&samples, 14_999, 20_000, 12, &o);
    assert!(
        matches!(
            got,
            Err(Error::OutOfHistory {
                time_micros: 14_999,
                ..
            })
        ),
        "one µs before now − retention is outside the window: compaction may have dropped what it \
         saw, so Error::OutOfHistory; got {got:?}"
    );
    let got = seq_as_of(&samples, 0, 3000, 12, &timeline_options(1000, 1 << 40));
    assert!(
        matches!(got, Ok(0)),
        "a retention longer than the clock's reading keeps everything (now − retention must not \
         underflow): got {got:?}"
    );
    let got = seq_as_of(&samples, 13_000, 12_000, 12, &o);
    assert!(
        is_out_of_history(&got),
        "the clock went back to 12.0 ms: 13.0 ms is the future, even though a sample is later; got \
         {got:?}"
    );
    let got = seq_as_of(&samples, 12_000, 12_000, 12, &o);
    assert!(
        matches!(got, Ok(5)),
        "with the clock gone back to 12.0 ms, a read as of now still follows the samples: got \
         {got:?}"
    );
}

#[test]
fn retained_counts_the_oldest_samples_no_read_in_the_window_needs() {
    let samples = [
        sample(1000, 0),
        sample(2000, 2),
        sample(3000, 4),
        sample(4000, 6),
    ];
    let o = timeline_options(100, 1500);
    let cases: [(u64, usize, &str); 7] = [
        (
            3499,
            0,
            "the window starts at 1999, before the second sample: every sample is needed",
        ),
        (
            3500,
            1,
            "the window starts at 2000 exactly: the sample at 2000 answers a read as of the \
             start, the one at 1000 is needed by no read",
        ),
        (
            4499,
            1,
            "the window starts at 2999: the sample at 2000 still answers its start",
        ),
        (
            4500,
            2,
            "the window starts at 3000 exactly: the samples before it are not needed",
        ),
        (
            100_000,
            3,
            "long after every sample: keep the last one, it answers every read in the window",
        ),
        (
            1000,
            0,
            "now − retention underflows: nothing is outside the window",
        ),
        (0, 0, "a clock at 0: nothing is outside the window"),
    ];
    for (now, want, why) in cases {
        let got = retained(&samples, now, &o);
        assert_eq!(
            got, want,
            "retained(samples at 1000, 2000, 3000, 4000; now {now}; retention 1500): {why}"
        );
    }
    assert_eq!(retained(&[], 100_000, &o), 0, "no samples, none to drop");
    // Dropping what `retained` says changes no read inside the window.
    for now in (4000..9000).step_by(250) {
        let dropped = retained(&samples, now, &o);
        for time in (now - 1500..=now).step_by(50) {
            let all = seq_as_of(&samples, time, now, 9, &o);
            let kept = seq_as_of(&samples[dropped..], time, now, 9, &o);
            assert!(
                matches!((&all, &kept), (Ok(a), Ok(k)) if a == k),
                "at now {now}, retained dropped {dropped} samples and the read as of {time} \
                 changed from {all:?} to {kept:?}: keep the last sample at or before now − \
                 retention"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 9.4 task 2: reads as of a time through the engine.
// ---------------------------------------------------------------------------

/// The SimClock's start: 2024-01-01, in microseconds.
const T0: u64 = 1_704_067_200_000_000;
const SECOND: u64 = 1_000_000;

/// One sample a second, an hour of history.
fn hour() -> TimelineOptions {
    timeline_options(SECOND, 3600 * SECOND)
}

fn with_clock(options: Options, clock: &SimClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        ..options
    }
}

fn open_timeline(options: Options, timeline: TimelineOptions) -> Db {
    open_with_timeline(dir(), options, timeline).expect("the database must open with a timeline")
}

/// Round `round` of the timed workloads: every key but a few, one value.
fn round_batch(round: u32, keys: u32) -> (WriteBatch, Vec<(Bytes, Option<Bytes>)>) {
    let mut batch = WriteBatch::default();
    let mut ops = Vec::new();
    for i in 0..keys {
        let k = b(&key(i));
        if (i + round).is_multiple_of(5) {
            batch = batch.delete(k.clone());
            ops.push((k, None));
        } else {
            let v = value(&format!("r{round}"), i);
            batch = batch.put(k.clone(), v.clone());
            ops.push((k, Some(v)));
        }
    }
    (batch, ops)
}

fn apply(model: &mut Model, ops: &[(Bytes, Option<Bytes>)]) {
    for (k, v) in ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// Checks every read as of the rounds' times: `states[r]` is the content
/// after `r` rounds, round `r` written at `T0 + 10 s × r`.
fn check_as_of(db: &Db, states: &[Model], when: &str) {
    check_as_of_refusing_from(db, states, when, u64::MAX);
}

/// [`check_as_of`], where a read as of `refusable_from` or later may also
/// be refused with `Error::OutOfHistory` (never answered wrong): after a
/// crash, the writes newer than the timeline's last sample were made at
/// times the timeline cannot vouch for, from that sample's time plus the
/// resolution until the reopen (a `Gap`).
fn check_as_of_refusing_from(db: &Db, states: &[Model], when: &str, refusable_from: u64) {
    for round in 0..states.len() - 1 {
        let at = T0 + 10 * SECOND * round as u64;
        for (time, state, what) in [
            (at + 5 * SECOND, round + 1, "5 s after round"),
            (at.saturating_sub(1), round, "1 µs before round"),
        ] {
            let scanned = db.scan_as_of(.., time);
            if time >= refusable_from && is_out_of_history(&scanned) {
                continue;
            }
            let got = collect(
                scanned
                    .unwrap_or_else(|e| panic!("{when}: scan_as_of({what} {round}) failed: {e}")),
            );
            let want = pairs(&states[state]);
            assert!(
                got == want,
                "{when}: a scan as of {what} {round} must see the {state} rounds written by then \
                 (a read as of T sees every write made before T − resolution and none after T): {}",
                first_difference(&got, &want)
            );
        }
        let time = at + 5 * SECOND;
        for i in [0, 3, 11] {
            let k = b(&key(i));
            let got = db.get_as_of(&k, time);
            if time >= refusable_from && is_out_of_history(&got) {
                continue;
            }
            let got = got.unwrap();
            assert_eq!(
                got,
                states[round + 1].get(&k).cloned(),
                "{when}: get_as_of({}, 5 s after round {round}) got {}: read at the seq the \
                 history maps the time to (pin_as_of, then get_at), not at last_seq",
                key(i),
                text(&got)
            );
        }
    }
}

// Six rounds of writes 10 s apart on a SimClock, with tiny memtables and
// leveled compaction; reads as of 5 s after each round and 1 µs before
// it see exactly the rounds made by then, before and after a reopen.
#[test]
fn reads_as_of_a_time_see_the_database_as_it_was_through_flushes_compactions_and_reopens() {
    with_deadline(|| {
        let fs = SimFs::new();
        let clock = SimClock::at(T0);
        let db = open_timeline(with_clock(leveled(&fs, 1 << 10), &clock), hour());
        let mut states = vec![Model::new()];
        for round in 0..6 {
            let mut model = states[states.len() - 1].clone();
            for i in 0..60 {
                let k = b(&key(i));
                if (i + round).is_multiple_of(5) {
                    db.delete(k.clone()).unwrap();
                    model.remove(&k);
                } else {
                    let v = value(&format!("r{round}"), i);
                    db.put(k.clone(), v.clone()).unwrap();
                    model.insert(k, v);
                }
            }
            states.push(model);
            clock.advance(10 * SECOND);
        }
        db.flush().unwrap();
        assert!(
            db.stats().compactions > 0,
            "the test needs compactions to have run: {:?}",
            db.stats()
        );
        check_as_of(&db, &states, "after flushes and compactions");
        assert!(
            db.pins().is_empty(),
            "get_as_of and scan_as_of must release their pins (db.pins().unpin(seq))"
        );
        db.close().unwrap();
        clock.advance(SECOND);
        let db = open_timeline(with_clock(leveled(&fs, 1 << 10), &clock), hour());
        check_as_of(&db, &states, "after a reopen");
        db.flush().unwrap();
        check_as_of(&db, &states, "after a reopen and a flush");
    });
}

// The guarantee at the resolution's edge, through the engine: with one
// sample a second, writes at 0 s, 0.6 s, 3 s and 3.2 s; a read as of T sees
// every write made before T − 1 s and none made after T.
#[test]
fn a_read_as_of_a_time_sees_every_write_before_it_minus_the_resolution_and_none_after_it() {
    let fs = SimFs::new();
    let clock = SimClock::at(T0);
    let db = open_timeline(with_clock(options(&fs, 1 << 20), &clock), hour());
    let ms = SECOND / 1000;
    db.put(b("a"), b("1")).unwrap();
    clock.set(T0 + 600 * ms);
    db.put(b("a"), b("2")).unwrap();
    db.put(b("b"), b("1")).unwrap();
    clock.set(T0 + 3000 * ms);
    db.put(b("a"), b("3")).unwrap();
    clock.set(T0 + 3200 * ms);
    db.put(b("c"), b("1")).unwrap();
    clock.set(T0 + 10 * SECOND);
    let read = |key: &str, at_ms: u64| {
        db.get_as_of(key.as_bytes(), T0 + at_ms * ms)
            .unwrap_or_else(|e| panic!("get_as_of({key}, {at_ms} ms) failed: {e}"))
    };
    assert!(
        read("a", 500) != Some(b("2")) && read("b", 500).is_none(),
        "as of 0.5 s the read saw a write made at 0.6 s, after it: between two samples writes \
         are placed only within the resolution after the first, so use sample j's own seq while \
         t_j + resolution > T"
    );
    assert_eq!(
        (read("a", 2000), read("b", 2000)),
        (Some(b("2")), Some(b("1"))),
        "as of 2 s the read must see every write made before 1 s (a = 2 and b = 1, made at 0.6 s): \
         once t_j + resolution ≤ T, the next sample's seq"
    );
    assert_eq!(
        read("c", 3100),
        None,
        "as of 3.1 s the read saw c, written at 3.2 s: seq_as_of returned the next sample's seq \
         (or last_seq) although t_j + resolution > T: writes after sample j may have been made \
         after T"
    );
    let a = read("a", 3100);
    assert!(
        a == Some(b("2")) || a == Some(b("3")),
        "as of 3.1 s, a must be 2 (made at 0.6 s) or 3 (made at 3 s): got {}",
        text(&a)
    );
    assert_eq!(
        read("a", 4200),
        Some(b("3")),
        "as of 4.2 s every write made before 3.2 s is seen: a = 3"
    );
    assert_eq!(
        read("c", 5000),
        Some(b("1")),
        "as of 5 s every write is seen"
    );
}

// Rounds of synced batches 10 s apart, the last one not synced; after
// each of the four crash images the reads as of each round's time must
// agree with the rounds that survived.
#[test]
fn reads_as_of_a_time_survive_every_crash_image() {
    with_deadline(|| {
        for mode in CrashMode::all(0x09) {
            let fs = SimFs::new();
            let clock = SimClock::at(T0);
            let db = open_timeline(with_clock(leveled(&fs, 1 << 10), &clock), hour());
            let mut states = vec![Model::new()];
            for round in 0..6 {
                let (batch, ops) = round_batch(round, 12);
                db.write(batch, WriteOptions { sync: round < 5 }).unwrap();
                let mut model = states[states.len() - 1].clone();
                apply(&mut model, &ops);
                states.push(model);
                clock.advance(10 * SECOND);
            }
            drop(db);
            let image = fs.crash(mode);
            clock.advance(10 * SECOND);
            let db = open_timeline(with_clock(leveled(&image, 1 << 10), &clock), hour());
            let got = collect(db.scan(..));
            let low = if mode == CrashMode::ProcessKill { 6 } else { 5 };
            let Some(kept) = (low..=6).find(|&k| pairs(&states[k]) == got) else {
                panic!(
                    "{mode}: the recovered database is not the state after 5 or 6 rounds: {}",
                    show(&got)
                );
            };
            // Reads up to the resolution after the last surviving round's
            // time must be answered; later ones may be refused (a gap).
            let refusable_from = T0 + 10 * SECOND * (kept as u64 - 1) + SECOND;
            check_as_of_refusing_from(
                &db,
                &states[..=kept],
                &format!("after a crash ({mode})"),
                refusable_from,
            );
            let late = db.scan_as_of(.., T0 + 55 * SECOND);
            if !is_out_of_history(&late) {
                let got = collect(late.unwrap());
                let want = pairs(&states[kept]);
                assert!(
                    got == want,
                    "{mode}: a read as of after the last round sees the rounds that survived \
                     (samples above the recovered last_seq are clamped), or is refused: {}",
                    first_difference(&got, &want)
                );
            }
            let now = db.scan_as_of(.., T0 + 70 * SECOND);
            assert!(
                !is_out_of_history(&now),
                "{mode}: a read as of the reopen itself is always answered (the gap ends there)"
            );
        }
    });
}

// A read as of a time that fails (here: the table's block cannot be read)
// must still release the pin it took, or compaction keeps that version
// forever.
#[test]
fn a_read_as_of_a_time_that_fails_releases_its_pin() {
    let fs = SimFs::new();
    let clock = SimClock::at(T0);
    let db = open_timeline(with_clock(options(&fs, 1 << 20), &clock), hour());
    db.put(b("k"), b("v")).unwrap();
    db.flush().unwrap();
    clock.advance(5 * SECOND);
    fs.inject(Fault::nth(OpKind::Read, 1).persistent());
    let got = db.get_as_of(b"k", T0 + 2 * SECOND);
    assert!(
        matches!(got, Err(Error::Io { .. })),
        "the injected read fault must reach the caller of get_as_of: got {got:?}"
    );
    assert!(
        db.pins().is_empty(),
        "get_as_of failed, and left {} pin(s) behind: release the pin also when the read fails \
         (take the read's result, unpin, then return it — not `get_at(..)?` before the unpin)",
        db.pins().len()
    );
}

// Writes made while the database was open without its timeline happened
// at times the timeline never saw: reads as of those times are refused,
// never answered with a write made after them.
#[test]
fn writes_the_timeline_did_not_see_are_refused_never_misplaced() {
    let fs = SimFs::new();
    let clock = SimClock::at(T0);
    let timed = || with_clock(options(&fs, 1 << 20), &clock);
    let db = open_timeline(timed(), hour());
    db.put(b("k"), b("old")).unwrap();
    db.close().unwrap();
    clock.advance(100 * SECOND);
    let plain = open(timed());
    plain.put(b("k"), b("new, at T0 + 100 s")).unwrap();
    plain.close().unwrap();
    clock.advance(100 * SECOND);
    let db = open_timeline(timed(), hour());
    let got = db.get_as_of(b"k", T0 + 50 * SECOND);
    assert!(
        is_out_of_history(&got),
        "as of T0 + 50 s the timeline cannot tell whether the write made without it (at T0 + \
         100 s) had happened: Error::OutOfHistory, not its value; got {got:?}"
    );
    assert_eq!(
        db.get_as_of(b"k", T0).ok().flatten(),
        Some(b("old")),
        "as of T0, inside the resolution after the last sample, 'old' is the answer"
    );
    assert_eq!(
        db.get_as_of(b"k", T0 + 200 * SECOND).ok().flatten(),
        Some(b("new, at T0 + 100 s")),
        "as of the reopen (the gap's end), the write made without the timeline is visible"
    );
}

#[test]
fn a_read_as_of_a_time_outside_the_history_is_an_error() {
    let fs = SimFs::new();
    let clock = SimClock::at(T0);
    let plain = open(with_clock(options(&fs, 1 << 20), &clock));
    plain.put(b("a"), b("before the timeline")).unwrap();
    let got = plain.get_as_of(b"a", T0);
    assert!(
        is_out_of_history(&got),
        "a database opened without a history cannot answer a read as of a time: got {got:?}"
    );
    plain.close().unwrap();
    clock.advance(10 * SECOND);
    let db = open_timeline(
        with_clock(options(&fs, 1 << 20), &clock),
        timeline_options(SECOND, 60 * SECOND),
    );
    db.put(b("a"), b("with the timeline")).unwrap();
    clock.advance(10 * SECOND);
    let got = db.get_as_of(b"a", T0 + 5 * SECOND);
    assert!(
        is_out_of_history(&got),
        "before the first sample, 'a' had a value written at a time nobody recorded: \
         Error::OutOfHistory, never a guess; got {got:?}"
    );
    let got = db.get_as_of(b"a", T0 + 25 * SECOND);
    assert!(
        is_out_of_history(&got),
        "a time after now (the clock reads T0 + 20 s) is the future: Error::OutOfHistory; got \
         {got:?}"
    );
    let got = db.get_as_of(b"a", T0 + 20 * SECOND);
    assert_eq!(
        got.ok().flatten(),
        Some(b("with the timeline")),
        "now itself is answered"
    );
    clock.advance(120 * SECOND);
    db.put(b("b"), b("later")).unwrap();
    let got = db.get_as_of(b"a", T0 + 15 * SECOND);
    assert!(
        is_out_of_history(&got),
        "120 s later, with a retention of 60 s, T0 + 15 s is outside the window: \
         Error::OutOfHistory; got {got:?}"
    );
    let got = db.scan_as_of(.., T0 + 15 * SECOND).map(|_| ());
    assert!(
        is_out_of_history(&got),
        "scan_as_of refuses the same times as get_as_of: got {got:?}"
    );
    assert!(
        db.pins().is_empty(),
        "a refused read pins nothing (pin_as_of fails without pinning)"
    );
    clock.advance(SECOND);
    let got = db.get_as_of(b"b", T0 + 141 * SECOND);
    assert_eq!(
        got.ok().flatten(),
        Some(b("later")),
        "one resolution after a write, a read as of then sees it"
    );
    assert!(
        db.pins().is_empty(),
        "get_as_of must release the pin it took: db.pins().unpin(seq) after the read"
    );
}

// Measured in bytes of .sst files: versions a read inside the retention
// window (100 s) may see are kept by compaction (≥ 1.8 × the bytes of one
// version); once the window has moved past them they are reclaimed
// (≤ 1.1 × + 1 KiB) and the read is refused.
#[test]
fn compaction_keeps_versions_inside_the_retention_window_and_reclaims_them_outside() {
    with_deadline(|| {
        let one = one_round_bytes();
        let fs = SimFs::new();
        let clock = SimClock::at(T0);
        let all = Arc::new(CompactAll::default());
        let compaction: Arc<dyn Compaction> = Arc::clone(&all) as Arc<dyn Compaction>;
        let db = open_timeline(
            Options {
                compaction: Some(compaction),
                ..with_clock(options(&fs, 1 << 20), &clock)
            },
            timeline_options(SECOND, 100 * SECOND),
        );
        write_round(&db, "r0");
        clock.advance(10 * SECOND);
        write_round(&db, "r1");
        all.run_on(&db);
        let check_r0 = |when: &str| {
            for i in (0..ROUND_KEYS).step_by(13) {
                let got = db.get_as_of(key(i).as_bytes(), T0 + 5 * SECOND).unwrap();
                assert_eq!(
                    got,
                    Some(value("r0", i)),
                    "{when}: a read as of T0 + 5 s, inside the retention window, lost its version \
                     (got {}): compaction keeps what the timeline's oldest readable seq needs",
                    text(&got)
                );
            }
        };
        check_r0("right after the overwrite");
        clock.advance(50 * SECOND);
        db.put(b("marker"), b("1")).unwrap();
        all.run_on(&db);
        check_r0("60 s later, still inside the window");
        let kept = table_bytes(&fs);
        assert!(
            kept >= one * 9 / 5,
            "inside the retention window compaction must keep both versions: {kept} bytes of \
             tables, one version of every key takes {one} (bound: ≥ 1.8 × that)"
        );
        clock.advance(150 * SECOND);
        db.put(b("marker"), b("2")).unwrap();
        all.run_on(&db);
        let reclaimed = table_bytes(&fs);
        assert!(
            reclaimed <= one * 11 / 10 + 1024,
            "210 s after the first round, with 100 s of retention, compaction must reclaim it: \
             {reclaimed} bytes of tables, one version takes {one} (bound: ≤ 1.1 × that + 1 KiB): \
             does seq_as_of or retained keep too much?"
        );
        let got = db.get_as_of(key(1).as_bytes(), T0 + 5 * SECOND);
        assert!(
            is_out_of_history(&got),
            "the first round is outside the window now: a read as of it must be refused, not \
             answered from what compaction left; got {got:?}"
        );
        let got = db
            .get_as_of(key(1).as_bytes(), T0 + 150 * SECOND)
            .unwrap_or_else(|e| {
                panic!(
                    "a read as of T0 + 150 s, inside the 100 s window at T0 + 210 s, must be \
                     answered: {e} (did retained drop the last sample at or before the window's \
                     start? it still answers reads as of the start)"
                )
            });
        assert_eq!(
            got,
            Some(value("r1", 1)),
            "inside the window the newer round is read"
        );
    });
}

// ---------------------------------------------------------------------------
// 9.4 task 3: transactions.
// ---------------------------------------------------------------------------

fn commit(transaction: Transaction<'_>) -> lsm_workbook::Result<()> {
    transaction.commit(WriteOptions::default())
}

fn read_number(transaction: &mut Transaction<'_>, key: &str) -> u64 {
    transaction
        .get(key.as_bytes())
        .unwrap()
        .map_or(0, |v| String::from_utf8_lossy(&v).parse().unwrap_or(0))
}

#[test]
fn two_transactions_incrementing_one_counter_cannot_both_commit() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("counter"), b("0")).unwrap();
    let mut first = db.transaction();
    let mut second = db.transaction();
    let one = read_number(&mut first, "counter");
    let two = read_number(&mut second, "counter");
    first.put(b("counter"), b(&(one + 1).to_string()));
    second.put(b("counter"), b(&(two + 1).to_string()));
    let got = commit(first);
    assert!(
        got.is_ok(),
        "the first commit has nothing to conflict with: {got:?}"
    );
    let got = commit(second);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "counter"),
        "a lost update: both transactions read counter = 0 and wrote 1. The commit must check, \
         under write_with, that every key it read still has the value it saw, and fail with \
         Error::Conflict {{ key: \"counter\" }}; got {got:?}"
    );
    assert_eq!(
        db.get(b"counter").unwrap(),
        Some(b("1")),
        "the failed commit must not have written"
    );
    let mut retry = db.transaction();
    let n = read_number(&mut retry, "counter");
    retry.put(b("counter"), b(&(n + 1).to_string()));
    commit(retry).unwrap();
    assert_eq!(
        db.get(b"counter").unwrap(),
        Some(b("2")),
        "a retried transaction reads the new value and commits"
    );
}

// The on-call example of "A Critique of ANSI SQL Isolation Levels": each
// doctor checks that the other is on call, then goes off call. Snapshot
// isolation lets both commit (nobody on call); validating reads prevents it.
#[test]
fn write_skew_between_two_doctors_going_off_call_is_prevented() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("alice"), b("on")).unwrap();
    db.put(b("bob"), b("on")).unwrap();
    let mut alice = db.transaction();
    let mut bob = db.transaction();
    for t in [&mut alice, &mut bob] {
        let on = [b"alice".as_slice(), b"bob"]
            .iter()
            .filter(|k| t.get(k).unwrap() == Some(b("on")))
            .count();
        assert_eq!(on, 2, "both transactions see both doctors on call");
    }
    alice.put(b("alice"), b("off"));
    bob.put(b("bob"), b("off"));
    commit(alice).unwrap();
    let got = commit(bob);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "alice"),
        "write skew: bob's transaction read alice = on, and alice went off call since. It wrote \
         only bob, so checking its writes is not enough: check every key it read. Want \
         Error::Conflict {{ key: \"alice\" }}, got {got:?}"
    );
    assert_eq!(
        db.get(b"bob").unwrap(),
        Some(b("on")),
        "someone must still be on call"
    );
}

#[test]
fn a_transaction_reads_its_own_writes_in_get_and_scan() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    for k in ["b", "c", "e"] {
        db.put(b(k), b(&format!("{k}1"))).unwrap();
    }
    let mut t = db.transaction();
    t.put(b("b"), b("b2"));
    t.delete(b("c"));
    t.put(b("d"), b("d2"));
    t.put(b("a"), b("a2"));
    t.put(b("f"), b("f2"));
    assert_eq!(
        t.get(b"b").unwrap(),
        Some(b("b2")),
        "read-your-own-writes: get must return the transaction's own put before the snapshot's"
    );
    assert_eq!(
        t.get(b"c").unwrap(),
        None,
        "the transaction's own delete must hide the stored key from its get"
    );
    assert_eq!(
        t.get(b"d").unwrap(),
        Some(b("d2")),
        "get must see a key the transaction put that the database does not hold"
    );
    assert_eq!(
        t.get(b"e").unwrap(),
        Some(b("e1")),
        "other keys come from the snapshot"
    );
    let want: Pairs = [
        ("a", "a2"),
        ("b", "b2"),
        ("d", "d2"),
        ("e", "e1"),
        ("f", "f2"),
    ]
    .iter()
    .map(|(k, v)| (b(k), b(v)))
    .collect();
    let got = t.scan(..).unwrap();
    assert!(
        got == want,
        "the transaction's scan merges its own writes in key order: an own put replaces (b), an \
         own delete removes (c), an own new key appears in order (a before the first stored key, \
         d in between, f after the last): {}",
        first_difference(&got, &want)
    );
    let got = t.scan(&b"b"[..]..&b"e"[..]).unwrap();
    assert!(
        got == want[1..3],
        "a scan of b..e holds only the pairs in its range, own writes included: {}",
        first_difference(&got, &want[1..3])
    );
    let got = t.scan(&b"c"[..]..=&b"c"[..]).unwrap();
    assert!(
        got.is_empty(),
        "a scan of c..=c must not return c, which the transaction deleted: {}",
        show(&got)
    );
    assert_eq!(
        db.get(b"b").unwrap(),
        Some(b("b1")),
        "nothing reaches the database before commit"
    );
    commit(t).unwrap();
    let got = collect(db.scan(..));
    assert!(
        got == want,
        "after the commit the database holds the transaction's writes: {}",
        first_difference(&got, &want)
    );
}

#[test]
fn a_conflicting_commit_writes_nothing() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("x"), b("1")).unwrap();
    db.put(b("z"), b("1")).unwrap();
    let mut t = db.transaction();
    assert_eq!(t.get(b"x").unwrap(), Some(b("1")));
    t.put(b("x"), b("2"));
    t.put(b("y"), b("new"));
    t.delete(b("z"));
    db.put(b("x"), b("5")).unwrap();
    let before = db.last_seq();
    let got = commit(t);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "x"),
        "x changed after the transaction read it: want Error::Conflict {{ key: \"x\" }}, got \
         {got:?}"
    );
    assert_eq!(
        db.get(b"y").unwrap(),
        None,
        "a conflicting commit writes nothing, not even its keys that conflict with nothing: \
         validate every read before building the batch, and return the error from write_with's \
         closure"
    );
    assert_eq!(
        db.get(b"z").unwrap(),
        Some(b("1")),
        "a conflicting commit must not apply its deletes"
    );
    assert_eq!(
        db.get(b"x").unwrap(),
        Some(b("5")),
        "the other write stands"
    );
    assert_eq!(
        db.last_seq(),
        before,
        "a conflicting commit must not use sequence numbers (nothing was logged)"
    );
    assert!(
        db.pins().is_empty(),
        "a finished transaction must release its snapshot's pin"
    );
}

#[test]
fn a_read_only_transaction_commits_and_a_dropped_one_writes_nothing() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("a"), b("1")).unwrap();
    let mut reader = db.transaction();
    assert_eq!(reader.get(b"a").unwrap(), Some(b("1")));
    assert_eq!(reader.scan(..).unwrap().len(), 1);
    db.put(b("a"), b("2")).unwrap();
    assert_eq!(
        reader.get(b"a").unwrap(),
        Some(b("1")),
        "a transaction reads at its snapshot: a later write is invisible to it"
    );
    let before = db.last_seq();
    let got = commit(reader);
    assert!(
        got.is_ok(),
        "a transaction that only read commits (its reads came from one snapshot, a consistent \
         view): got {got:?}"
    );
    assert_eq!(db.last_seq(), before, "a read-only commit writes nothing");
    let mut dropped = db.transaction();
    dropped.put(b("b"), b("never"));
    assert_eq!(dropped.write_count(), 1);
    drop(dropped);
    assert_eq!(
        db.get(b"b").unwrap(),
        None,
        "a dropped transaction writes nothing"
    );
    assert_eq!(
        db.last_seq(),
        before,
        "a dropped transaction writes nothing"
    );
    assert!(
        db.pins().is_empty(),
        "a committed or dropped transaction must release its snapshot's pin"
    );
}

#[test]
fn a_commit_conflicts_on_any_key_read_by_get_or_returned_by_scan_even_an_absent_one() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("a"), b("1")).unwrap();
    db.put(b("b"), b("1")).unwrap();

    let mut absent = db.transaction();
    assert_eq!(absent.get(b"k").unwrap(), None);
    absent.put(b("out"), b("1"));
    db.put(b("k"), b("inserted")).unwrap();
    let got = commit(absent);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "k"),
        "the transaction read k as absent and another commit inserted it: remember None as what \
         was seen, and conflict; got {got:?}"
    );

    let mut scanner = db.transaction();
    assert_eq!(scanner.scan(..).unwrap().len(), 3);
    scanner.put(b("out"), b("2"));
    db.put(b("b"), b("2")).unwrap();
    let got = commit(scanner);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "b"),
        "the transaction's scan returned b = 1 and b changed since: every pair a scan returns from \
         the snapshot is a read to validate; got {got:?}"
    );

    let mut stale = db.transaction();
    db.put(b("a"), b("2")).unwrap();
    assert_eq!(
        stale.get(b"a").unwrap(),
        Some(b("1")),
        "a transaction reads at its snapshot, taken when it began"
    );
    stale.put(b("out"), b("3"));
    let got = commit(stale);
    assert!(
        matches!(&got, Err(Error::Conflict { key }) if key == "a"),
        "the transaction read a = 1 at its snapshot, and a is 2 now: a conflict; got {got:?}"
    );
    assert_eq!(
        db.get(b"out").unwrap(),
        None,
        "no conflicting commit may write"
    );
}

// Validation is by value (the book's choice): a key written after the
// snapshot but put back to the value the transaction saw is no conflict.
#[test]
fn a_key_written_back_to_the_value_read_is_not_a_conflict() {
    let fs = SimFs::new();
    let db = open(options(&fs, 1 << 20));
    db.put(b("a"), b("1")).unwrap();
    let mut t = db.transaction();
    assert_eq!(t.get(b"a").unwrap(), Some(b("1")));
    db.put(b("a"), b("2")).unwrap();
    db.put(b("a"), b("1")).unwrap();
    t.put(b("b"), b("done"));
    let got = commit(t);
    assert!(
        got.is_ok(),
        "a was changed and changed back: its value is what the transaction read, so the commit \
         is serializable (as if it ran at commit time). Validate by comparing db.get(key) with \
         the value seen, not by looking for newer versions; got {got:?}"
    );
    assert_eq!(db.get(b"b").unwrap(), Some(b("done")));
}

// ---------------------------------------------------------------------------
// 9.4 task 4: the whole chapter under stress.
// ---------------------------------------------------------------------------

// A writer thread writes batches {a = i, b = i, c<i> = i} (3 sequence
// numbers each) while the test takes snapshots, lets the writer move at
// least 10 batches on, and reads through each: it must see exactly the
// batches numbered at or below its seq, whole.
#[test]
fn a_snapshot_is_isolated_from_a_concurrent_writer() {
    with_deadline(|| {
        let fs = SimFs::new();
        let db = open(leveled(&fs, 2 << 10));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) && i < 5000 {
                    i += 1;
                    let v = b(&i.to_string());
                    let batch = WriteBatch::default()
                        .put(b("a"), v.clone())
                        .put(b("b"), v.clone())
                        .put(b(&format!("c{i:06}")), v);
                    db.write(batch, WriteOptions::default()).unwrap();
                }
            });
            for _ in 0..30 {
                let snapshot = db.snapshot();
                let seq = snapshot.seq();
                while db.last_seq() < seq + 30 && !writer.is_finished() {
                    std::thread::yield_now();
                }
                assert_eq!(
                    seq % 3,
                    0,
                    "a snapshot must read at a published sequence number (db.last_seq()), which \
                     ends a batch"
                );
                let batches = seq / 3;
                let want = (batches > 0).then(|| b(&batches.to_string()));
                for k in [&b"a"[..], b"b"] {
                    let got = snapshot.get(k).unwrap();
                    assert_eq!(
                        got,
                        want,
                        "the snapshot at seq {seq} read {} = {} while the writer was at seq {}: \
                         the snapshot saw a write made after it; read at snapshot.seq() with \
                         get_at, not get",
                        String::from_utf8_lossy(k),
                        text(&got),
                        db.last_seq()
                    );
                }
                let count = collect(snapshot.scan(&b"c"[..]..&b"d"[..])).len() as u64;
                assert_eq!(
                    count, batches,
                    "the snapshot at seq {seq} ({batches} batches) scanned {count} c-keys: a scan \
                     through it must use its seq, not the latest"
                );
            }
            stop.store(true, Ordering::SeqCst);
            writer.join().expect("the writer thread must not panic");
        });
        assert!(
            db.pins().is_empty(),
            "every snapshot was dropped: its pin must be released"
        );
    });
}

// Four threads each increment a shared counter 40 times, each increment a
// transaction retried on Conflict: the counter must end at 160.
#[test]
fn concurrent_transactions_incrementing_a_counter_lose_no_update() {
    with_deadline(|| {
        let fs = SimFs::new();
        let db = open(leveled(&fs, 2 << 10));
        let conflicts = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for thread in 0..4 {
                let (db, conflicts) = (&db, &conflicts);
                s.spawn(move || {
                    for _ in 0..40 {
                        loop {
                            let mut t = db.transaction();
                            let n = read_number(&mut t, "counter");
                            t.put(b("counter"), b(&(n + 1).to_string()));
                            t.put(b(&format!("last-{thread}")), b(&n.to_string()));
                            match commit(t) {
                                Ok(()) => break,
                                Err(Error::Conflict { .. }) => {
                                    conflicts.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("a commit failed with {e}, not a conflict"),
                            }
                        }
                    }
                });
            }
        });
        let got = db.get(b"counter").unwrap();
        assert_eq!(
            got,
            Some(b("160")),
            "4 threads × 40 committed increments must give 160 (got {}, with {} conflicts \
             retried): a lost update; validate every read under write_with's lock",
            text(&got),
            conflicts.load(Ordering::Relaxed)
        );
        assert!(db.pins().is_empty(), "every transaction released its pin");
    });
}

/// One step of the commit crash workload.
#[derive(Clone, Copy, Debug)]
enum CommitStep {
    /// A synced batch setting every key to v0.
    Setup,
    /// A transaction that reads every key, writes every key with its tag
    /// (deleting one), and commits (synced if `sync`).
    Commit { tag: u32, sync: bool },
    /// Two transactions read every key; the first commits with its tag,
    /// the second must fail with Conflict.
    Race { tag: u32 },
}

const COMMIT_KEYS: u32 = 6;

impl CommitStep {
    fn writes(tag: u32) -> Vec<(Bytes, Option<Bytes>)> {
        (0..COMMIT_KEYS)
            .map(|i| {
                let k = b(&key(i));
                if tag > 0 && i == tag % COMMIT_KEYS {
                    (k, None)
                } else {
                    (k, Some(value(&format!("t{tag}"), i)))
                }
            })
            .collect()
    }

    fn apply(self, model: &mut Model) {
        let tag = match self {
            CommitStep::Setup => 0,
            CommitStep::Commit { tag, .. } | CommitStep::Race { tag } => tag,
        };
        apply(model, &CommitStep::writes(tag));
    }

    fn syncs(self) -> bool {
        matches!(
            self,
            CommitStep::Setup | CommitStep::Commit { sync: true, .. }
        )
    }

    /// Runs the step; `Err` once the file system has stopped.
    fn run(self, db: &Db) -> lsm_workbook::Result<()> {
        match self {
            CommitStep::Setup => {
                let mut batch = WriteBatch::default();
                for (k, v) in CommitStep::writes(0) {
                    batch = batch.put(k, v.unwrap_or_default());
                }
                db.write(batch, WriteOptions { sync: true })
            }
            CommitStep::Commit { tag, sync } => {
                begin_writing(db, tag)?.commit(WriteOptions { sync })
            }
            CommitStep::Race { tag } => {
                let first = begin_writing(db, tag)?;
                let second = begin_writing(db, tag + 100)?;
                first.commit(WriteOptions::default())?;
                match second.commit(WriteOptions::default()) {
                    Err(Error::Conflict { .. }) => Ok(()),
                    Ok(()) => panic!(
                        "two transactions read every key and the first committed: the second must \
                         fail with Conflict, it committed"
                    ),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// A transaction that has read every key and buffered the writes of `tag`.
fn begin_writing(db: &Db, tag: u32) -> lsm_workbook::Result<Transaction<'_>> {
    let mut t = db.transaction();
    for i in 0..COMMIT_KEYS {
        t.get(key(i).as_bytes())?;
    }
    for (k, v) in CommitStep::writes(tag) {
        match v {
            Some(v) => t.put(k, v),
            None => t.delete(k),
        }
    }
    Ok(t)
}

fn commit_workload() -> Vec<CommitStep> {
    let mut steps = vec![CommitStep::Setup];
    for tag in 1..=7 {
        steps.push(if tag == 4 {
            CommitStep::Race { tag }
        } else {
            CommitStep::Commit {
                tag,
                sync: tag.is_multiple_of(2),
            }
        });
    }
    steps
}

/// What a run got to: steps acknowledged, and how many were synced.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    acked: usize,
    synced: usize,
}

/// The crash workloads' engine: tiny memtables and a tight leveled shape,
/// so commits flush and compact.
fn crash_options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        compaction: Some(Arc::new(Leveled {
            options: LeveledOptions {
                level0_trigger: 2,
                level1_target_bytes: 600,
                level_size_factor: 2,
                table_target_bytes: 400,
            },
        })),
        ..options(fs, memtable_bytes)
    }
}

fn run_commits(fs: &SimFs, steps: &[CommitStep], memtable_bytes: usize) -> Progress {
    let mut progress = Progress::default();
    let Ok(db) = Db::open(dir(), crash_options(fs, memtable_bytes)) else {
        return progress;
    };
    for step in steps {
        if step.run(&db).is_err() {
            break;
        }
        progress.acked += 1;
        if step.syncs() {
            progress.synced = progress.acked;
        }
    }
    progress
}

fn prefix_states<S: Copy>(steps: &[S], apply: impl Fn(S, &mut Model)) -> Vec<Model> {
    let mut states = vec![Model::new()];
    for &step in steps {
        let mut model = states[states.len() - 1].clone();
        apply(step, &mut model);
        states.push(model);
    }
    states
}

// The crash sweep: stop the file system after each of its operations in a
// workload of transactions (tiny memtables: commits flush and compact),
// build each of the four crash images, reopen: the database must hold the
// state after a prefix of the commits, each commit all there or not at all,
// with every synced one (every acknowledged one, for a process kill).
#[test]
fn a_crash_during_commit_leaves_all_of_the_transaction_or_none() {
    with_deadline(|| {
        let steps = commit_workload();
        let states = prefix_states(&steps, CommitStep::apply);
        // Tiny memtables (commits flush and compact) and a large one (only
        // the log's syncs make commits durable).
        for memtable_bytes in [400, 1 << 20] {
            sweep_commits(&steps, &states, memtable_bytes);
        }
    });
}

/// One crash sweep of the commit workload with memtables of
/// `memtable_bytes`.
fn sweep_commits(steps: &[CommitStep], states: &[Model], memtable_bytes: usize) {
    let dry_run = SimFs::new();
    let full = run_commits(&dry_run, steps, memtable_bytes);
    assert_eq!(
        full.acked,
        steps.len(),
        "without a crash every commit of the workload must succeed"
    );
    for point in CrashPoint::sweep(dry_run.op_count(), 0x9c) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let progress = run_commits(&fs, steps, memtable_bytes);
        let image = fs.crash(point.mode);
        let low = if point.mode == CrashMode::ProcessKill {
            progress.acked
        } else {
            progress.synced
        };
        let high = (progress.acked + 1).min(steps.len());
        let context = || format!("{point} (memtable of {memtable_bytes} bytes): {progress:?}");
        let db = Db::open(dir(), crash_options(&image, memtable_bytes))
            .unwrap_or_else(|e| panic!("reopening after the crash failed: {e}\n{}", context()));
        let got = collect(db.scan(..));
        assert!(
            (low..=high).any(|k| pairs(&states[k]) == got),
            "the recovered database is not the state after k steps with {low} <= k <= {high}: \
             it holds {}, the state after {low} holds {}. A commit must be one batch (all of \
             its writes in one db.write_with), never a write per key, and synced if its \
             options say so\n{}",
            show(&got),
            show(&pairs(&states[low])),
            context()
        );
        let mut t = db.transaction();
        t.get(b"key0000").unwrap();
        t.put(b("key0000"), b("after"));
        t.commit(WriteOptions::default())
            .unwrap_or_else(|e| panic!("a commit after recovery failed: {e}\n{}", context()));
        assert_eq!(
            db.get(b"key0000").unwrap(),
            Some(b("after")),
            "a commit after recovery must win over every recovered version\n{}",
            context()
        );
    }
}

/// Rounds 10 s apart on the clock, each one batch, even rounds synced.
fn run_timed_rounds(fs: &SimFs, clock: &SimClock, rounds: u32) -> Progress {
    let mut progress = Progress::default();
    let Ok(db) = open_with_timeline(dir(), with_clock(crash_options(fs, 400), clock), hour())
    else {
        return progress;
    };
    for round in 0..rounds {
        clock.set(T0 + 10 * SECOND * u64::from(round));
        let (batch, _) = round_batch(round, 8);
        if db
            .write(
                batch,
                WriteOptions {
                    sync: round.is_multiple_of(2),
                },
            )
            .is_err()
        {
            break;
        }
        progress.acked += 1;
        if round.is_multiple_of(2) {
            progress.synced = progress.acked;
        }
    }
    progress
}

// The crash sweep of the timeline: crash after every file-system operation
// of six timed rounds (flushing and compacting), in each crash image; after
// recovery, a read as of 5 s after round r sees the rounds up to r that
// survived, and one as of before the first round sees nothing.
#[test]
fn a_crash_at_any_operation_keeps_every_read_as_of_a_time_right() {
    with_deadline(|| {
        const ROUNDS: u32 = 6;
        let rounds: Vec<u32> = (0..ROUNDS).collect();
        let states = prefix_states(&rounds, |round, model| {
            apply(model, &round_batch(round, 8).1);
        });
        let dry_run = SimFs::new();
        let full = run_timed_rounds(&dry_run, &SimClock::at(T0), ROUNDS);
        assert_eq!(
            full.acked,
            rounds.len(),
            "without a crash every round is written"
        );
        for point in CrashPoint::sweep(dry_run.op_count(), 0x7e) {
            let fs = SimFs::new();
            let clock = SimClock::at(T0);
            fs.stop_after(point.after_op);
            let progress = run_timed_rounds(&fs, &clock, ROUNDS);
            let image = fs.crash(point.mode);
            clock.set(T0 + 100 * SECOND);
            let context = || format!("{point}: {progress:?}");
            let db = open_with_timeline(
                dir(),
                with_clock(crash_options(&image, 400), &clock),
                hour(),
            )
            .unwrap_or_else(|e| panic!("reopening after the crash failed: {e}\n{}", context()));
            let got = collect(db.scan(..));
            let low = if point.mode == CrashMode::ProcessKill {
                progress.acked
            } else {
                progress.synced
            };
            let high = (progress.acked + 1).min(rounds.len());
            let Some(kept) = (low..=high).find(|&k| pairs(&states[k]) == got) else {
                panic!(
                    "the recovered database is not the state after k rounds with {low} <= k <= \
                     {high}: {}\n{}",
                    show(&got),
                    context()
                );
            };
            for round in 0..ROUNDS as usize {
                let time = T0 + 10 * SECOND * round as u64 + 5 * SECOND;
                let scanned = db.scan_as_of(.., time);
                // From the resolution after the last surviving round's time
                // to the reopen, a read may be refused (a gap), never wrong.
                if round + 1 >= kept && is_out_of_history(&scanned) {
                    continue;
                }
                let got = collect(scanned.unwrap_or_else(|e| {
                    panic!(
                        "scan_as_of(5 s after round {round}) failed: {e}\n{}",
                        context()
                    )
                }));
                let want = pairs(&states[(round + 1).min(kept)]);
                assert!(
                    got == want,
                    "after recovery with {kept} rounds, a read as of 5 s after round {round} must \
                     see the rounds up to it that survived: {}\n{}",
                    first_difference(&got, &want),
                    context()
                );
            }
            let got = collect(db.scan_as_of(.., T0 - 1).unwrap_or_else(|e| {
                panic!(
                    "scan_as_of(before the first round) failed: {e}\n{}",
                    context()
                )
            }));
            assert!(
                got.is_empty(),
                "before the first round nothing was written: {}\n{}",
                show(&got),
                context()
            );
        }
    });
}

// The model test: random puts, deletes, snapshots (taken, read, dropped),
// transactions (begun, read, written, scanned, committed, dropped),
// flushes and reopens on a tiny leveled engine, against a versioned
// BTreeMap that keeps every version with its sequence number.
#[derive(Clone, Debug)]
enum ModelOp {
    Put(u8, u16),
    Delete(u8),
    Snapshot,
    ReadSnapshot(u8, u8),
    ScanSnapshot(u8),
    DropSnapshot(u8),
    Begin,
    TxnGet(u8, u8),
    TxnPut(u8, u8, u16),
    TxnDelete(u8, u8),
    TxnScan(u8, u8, u8),
    Commit(u8),
    Abort(u8),
    Flush,
    Reopen,
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    let k = || 0..16u8;
    prop_oneof![
        6 => (k(), any::<u16>()).prop_map(|(k, v)| ModelOp::Put(k, v)),
        2 => k().prop_map(ModelOp::Delete),
        2 => Just(ModelOp::Snapshot),
        3 => (any::<u8>(), k()).prop_map(|(i, k)| ModelOp::ReadSnapshot(i, k)),
        1 => any::<u8>().prop_map(ModelOp::ScanSnapshot),
        1 => any::<u8>().prop_map(ModelOp::DropSnapshot),
        2 => Just(ModelOp::Begin),
        3 => (any::<u8>(), k()).prop_map(|(i, k)| ModelOp::TxnGet(i, k)),
        3 => (any::<u8>(), k(), any::<u16>()).prop_map(|(i, k, v)| ModelOp::TxnPut(i, k, v)),
        2 => (any::<u8>(), k()).prop_map(|(i, k)| ModelOp::TxnDelete(i, k)),
        2 => (any::<u8>(), k(), k()).prop_map(|(i, a, z)| ModelOp::TxnScan(i, a, z)),
        2 => any::<u8>().prop_map(ModelOp::Commit),
        1 => any::<u8>().prop_map(ModelOp::Abort),
        1 => Just(ModelOp::Flush),
        1 => Just(ModelOp::Reopen),
    ]
}

/// Every version of every key, with its sequence number.
#[derive(Debug, Default)]
struct Versions {
    keys: BTreeMap<Bytes, Vec<(SeqNo, Option<Bytes>)>>,
    last_seq: SeqNo,
}

impl Versions {
    fn write(&mut self, key: Bytes, value: Option<Bytes>) {
        self.last_seq += 1;
        self.keys
            .entry(key)
            .or_default()
            .push((self.last_seq, value));
    }

    fn get_at(&self, key: &[u8], seq: SeqNo) -> Option<Bytes> {
        self.keys
            .get(key)?
            .iter()
            .rev()
            .find(|(s, _)| *s <= seq)
            .and_then(|(_, v)| v.clone())
    }

    fn scan_at(&self, seq: SeqNo) -> Model {
        self.keys
            .keys()
            .filter_map(|k| self.get_at(k, seq).map(|v| (k.clone(), v)))
            .collect()
    }
}

/// What the model knows of one open transaction.
#[derive(Debug, Default)]
struct TxnModel {
    seq: SeqNo,
    writes: BTreeMap<Bytes, Option<Bytes>>,
    /// Keys it surely read (get from the snapshot, pairs its scans
    /// returned from the snapshot), with what it saw.
    reads: BTreeMap<Bytes, Option<Bytes>>,
    /// Snapshot pairs its scans met but hid behind its own writes: an
    /// implementation may or may not validate them.
    hidden: BTreeMap<Bytes, Option<Bytes>>,
}

fn model_key(k: u8) -> Bytes {
    b(&format!("k{k:02}"))
}

fn model_value(v: u16) -> Bytes {
    b(&format!("{v}-{}", "m".repeat(30)))
}

#[test]
fn snapshots_and_transactions_match_a_versioned_model() {
    with_deadline(|| {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 96,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let ops = proptest::collection::vec(model_op(), 1..120);
        if let Err(error) = runner.run(&ops, |ops| model_case(&ops)) {
            panic!("snapshots and transactions against a versioned BTreeMap: {error}");
        }
    });
}

fn model_options(fs: &SimFs) -> Options {
    Options {
        compaction: Some(Arc::new(Leveled {
            options: LeveledOptions {
                level0_trigger: 2,
                level1_target_bytes: 1 << 10,
                level_size_factor: 2,
                table_target_bytes: 512,
            },
        })),
        ..options(fs, 512)
    }
}

/// One case: the operations between two reopens run on one open database.
fn model_case(ops: &[ModelOp]) -> Result<(), TestCaseError> {
    let fs = SimFs::new();
    let mut model = Versions::default();
    for segment in ops.split(|op| matches!(op, ModelOp::Reopen)) {
        let db = open(model_options(&fs));
        prop_assert_eq!(
            db.last_seq(),
            model.last_seq,
            "the reopened database must recover last_seq"
        );
        // A snapshot at the start, so that every case exercises one.
        let mut snapshots = vec![(db.snapshot(), model.last_seq)];
        let mut transactions: Vec<(Transaction<'_>, TxnModel)> = Vec::new();
        for op in segment {
            model_step(&db, &mut model, &mut snapshots, &mut transactions, op)?;
            prop_assert_eq!(
                db.pins().len(),
                snapshots.len() + transactions.len(),
                "after {:?}: pins held must equal the live snapshots and transactions (a \
                 snapshot's Drop must unpin, db.snapshot() must pin)",
                op
            );
        }
        let got = collect(db.scan(..));
        let want = pairs(&model.scan_at(model.last_seq));
        prop_assert!(
            got == want,
            "the database's scan differs from the model: {}",
            first_difference(&got, &want)
        );
        drop(transactions);
        drop(snapshots);
        db.close().unwrap();
    }
    Ok(())
}

fn pick<T>(items: &mut [T], i: u8) -> Option<&mut T> {
    let len = items.len();
    (len > 0).then(|| &mut items[usize::from(i) % len])
}

fn model_step<'db>(
    db: &'db Db,
    model: &mut Versions,
    snapshots: &mut Vec<(Snapshot<'db>, SeqNo)>,
    transactions: &mut Vec<(Transaction<'db>, TxnModel)>,
    op: &ModelOp,
) -> Result<(), TestCaseError> {
    match *op {
        ModelOp::Put(k, v) => {
            db.put(model_key(k), model_value(v)).unwrap();
            model.write(model_key(k), Some(model_value(v)));
        }
        ModelOp::Delete(k) => {
            db.delete(model_key(k)).unwrap();
            model.write(model_key(k), None);
        }
        ModelOp::Snapshot if snapshots.len() < 4 => {
            let snapshot = db.snapshot();
            prop_assert_eq!(
                snapshot.seq(),
                model.last_seq,
                "a snapshot reads at last_seq"
            );
            snapshots.push((snapshot, model.last_seq));
        }
        ModelOp::Snapshot => {}
        ModelOp::ReadSnapshot(i, k) => {
            if let Some((snapshot, seq)) = pick(snapshots, i) {
                let got = snapshot.get(&model_key(k)).unwrap();
                let want = model.get_at(&model_key(k), *seq);
                prop_assert!(
                    got == want,
                    "a snapshot at seq {} read k{:02} = {}, the model says {}: the snapshot saw \
                     a later write, or compaction dropped a version it sees",
                    seq,
                    k,
                    text(&got),
                    text(&want)
                );
            }
        }
        ModelOp::ScanSnapshot(i) => {
            if let Some((snapshot, seq)) = pick(snapshots, i) {
                let got = collect(snapshot.scan(..));
                let want = pairs(&model.scan_at(*seq));
                prop_assert!(
                    got == want,
                    "a scan through the snapshot at seq {} differs from the model: {}",
                    seq,
                    first_difference(&got, &want)
                );
            }
        }
        ModelOp::DropSnapshot(i) => {
            if !snapshots.is_empty() {
                let at = usize::from(i) % snapshots.len();
                snapshots.remove(at);
            }
        }
        ModelOp::Begin if transactions.len() < 3 => {
            let t = db.transaction();
            prop_assert_eq!(
                t.snapshot_seq(),
                model.last_seq,
                "a transaction reads at a snapshot taken when it begins"
            );
            let seq = model.last_seq;
            transactions.push((
                t,
                TxnModel {
                    seq,
                    ..TxnModel::default()
                },
            ));
        }
        ModelOp::Begin => {}
        ModelOp::TxnGet(i, k) => {
            if let Some((t, m)) = pick(transactions, i) {
                let key = model_key(k);
                let got = t.get(&key).unwrap();
                let want = match m.writes.get(&key) {
                    Some(own) => own.clone(),
                    None => {
                        let seen = model.get_at(&key, m.seq);
                        m.reads.entry(key).or_insert_with(|| seen.clone());
                        seen
                    }
                };
                prop_assert!(
                    got == want,
                    "a transaction's get of k{:02} returned {}, want {} (its own write first, \
                     else its snapshot)",
                    k,
                    text(&got),
                    text(&want)
                );
            }
        }
        ModelOp::TxnPut(i, k, v) => {
            if let Some((t, m)) = pick(transactions, i) {
                t.put(model_key(k), model_value(v));
                m.writes.insert(model_key(k), Some(model_value(v)));
            }
        }
        ModelOp::TxnDelete(i, k) => {
            if let Some((t, m)) = pick(transactions, i) {
                t.delete(model_key(k));
                m.writes.insert(model_key(k), None);
            }
        }
        ModelOp::TxnScan(i, a, z) => {
            if let Some((t, m)) = pick(transactions, i) {
                let (start, end) = (model_key(a.min(z)), model_key(a.max(z)));
                let got = t.scan(&start[..]..&end[..]).unwrap();
                let mut view = Model::new();
                for (k, v) in model.scan_at(m.seq).range(start.clone()..end.clone()) {
                    if m.writes.contains_key(k) {
                        m.hidden.entry(k.clone()).or_insert_with(|| Some(v.clone()));
                    } else {
                        m.reads.entry(k.clone()).or_insert_with(|| Some(v.clone()));
                    }
                    view.insert(k.clone(), v.clone());
                }
                for (k, v) in m.writes.range(start..end) {
                    match v {
                        Some(v) => view.insert(k.clone(), v.clone()),
                        None => view.remove(k),
                    };
                }
                let want = pairs(&view);
                prop_assert!(
                    got == want,
                    "a transaction's scan differs from its snapshot with its own writes over it: \
                     {}",
                    first_difference(&got, &want)
                );
            }
        }
        ModelOp::Commit(i) => {
            if !transactions.is_empty() {
                let at = usize::from(i) % transactions.len();
                let (t, m) = transactions.remove(at);
                model_commit(model, t, &m)?;
            }
        }
        ModelOp::Abort(i) => {
            if !transactions.is_empty() {
                let at = usize::from(i) % transactions.len();
                transactions.remove(at);
            }
        }
        ModelOp::Flush => db.flush().unwrap(),
        ModelOp::Reopen => {}
    }
    prop_assert_eq!(
        db.last_seq(),
        model.last_seq,
        "after {:?} the database's last_seq differs from the model's",
        op
    );
    Ok(())
}

fn model_commit(
    model: &mut Versions,
    t: Transaction<'_>,
    m: &TxnModel,
) -> Result<(), TestCaseError> {
    let changed = |reads: &BTreeMap<Bytes, Option<Bytes>>| {
        reads
            .iter()
            .find(|(k, seen)| model.get_at(k, model.last_seq) != **seen)
            .map(|(k, _)| k.clone())
    };
    let must = if m.writes.is_empty() {
        None
    } else {
        changed(&m.reads)
    };
    let may = !m.writes.is_empty() && changed(&m.hidden).is_some();
    let got = t.commit(WriteOptions::default());
    match (&got, &must) {
        (Ok(()), None) => {
            for (k, v) in &m.writes {
                model.write(k.clone(), v.clone());
            }
        }
        (Err(Error::Conflict { .. }), None) if may => {}
        (Err(Error::Conflict { .. }), Some(_)) => {}
        (Ok(()), Some(key)) => {
            return Err(TestCaseError::fail(format!(
                "a commit succeeded although {} changed after the transaction read it: validate \
                 every read under write_with",
                String::from_utf8_lossy(key)
            )));
        }
        _ => {
            return Err(TestCaseError::fail(format!(
                "a commit of a transaction whose reads all still hold (or that wrote nothing) \
                 must succeed, got {got:?}"
            )));
        }
    }
    Ok(())
}
