//! Graded tests for chapter 7 — the engine. Book: "7. The engine".
//! Run: `cargo test --test ch07_engine --features ref-upto-ch06`.
//!
//! Every test runs the engine on the simulated file system (`SimFs`): it
//! can crash the engine at every file-system operation, build crash
//! images, inject I/O errors and count reads. Memtables are tiny (a few
//! hundred bytes), so a handful of writes already flushes tables.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch07_engine::{Db, Options, WriteOptions};
use lsm_workbook::fs::sim::CrashPoint;
use lsm_workbook::fs::{CrashMode, Fault, Fs, OpKind, SimFs};
use lsm_workbook::types::WriteBatch;

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

/// Options on `fs`, with a fixed salt and a memtable of `memtable_bytes`.
fn options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: memtable_bytes,
        salt_seed: Some(7),
        ..Options::default()
    }
}

fn open(fs: &SimFs, memtable_bytes: usize) -> lsm_workbook::Result<Db> {
    Db::open(dir(), options(fs, memtable_bytes))
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The model's content as the pairs a full scan must return.
type Model = BTreeMap<Bytes, Bytes>;

/// Everything a scan of the whole database returns, or the first error.
fn scan_all(db: &Db) -> lsm_workbook::Result<Vec<(Bytes, Bytes)>> {
    db.scan(..).collect()
}

fn pairs(model: &Model) -> Vec<(Bytes, Bytes)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Short text for a scan's result in messages: its length and a few keys.
fn show(pairs: &[(Bytes, Bytes)]) -> String {
    let keys: Vec<String> = pairs
        .iter()
        .take(6)
        .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
        .collect();
    format!("{} pairs [{}{}]", pairs.len(), keys.join(", "), if pairs.len() > 6 { ", …" } else { "" })
}

/// One operation of the crash workloads.
#[derive(Clone, Debug)]
enum Op {
    Put(String, String),
    Delete(String),
    /// An atomic batch of puts.
    Batch(Vec<(String, String)>),
    /// A put with `sync`.
    SyncPut(String, String),
    /// `Db::sync`.
    Sync,
    /// `Db::flush`.
    Flush,
}

impl Op {
    /// Applies the operation to the model (sync and flush change nothing).
    fn apply(&self, model: &mut Model) {
        match self {
            Op::Put(k, v) | Op::SyncPut(k, v) => {
                model.insert(b(k), b(v));
            }
            Op::Delete(k) => {
                model.remove(&b(k));
            }
            Op::Batch(puts) => {
                for (k, v) in puts {
                    model.insert(b(k), b(v));
                }
            }
            Op::Sync | Op::Flush => {}
        }
    }

    /// Runs the operation on the engine.
    fn run(&self, db: &Db) -> lsm_workbook::Result<()> {
        match self {
            Op::Put(k, v) => db.put(b(k), b(v)),
            Op::SyncPut(k, v) => db.write(WriteBatch::default().put(b(k), b(v)), WriteOptions { sync: true }),
            Op::Delete(k) => db.delete(b(k)),
            Op::Batch(puts) => {
                let mut batch = WriteBatch::default();
                for (k, v) in puts {
                    batch = batch.put(b(k), b(v));
                }
                db.write(batch, WriteOptions::default())
            }
            Op::Sync => db.sync(),
            Op::Flush => db.flush(),
        }
    }

    /// `true` for the operations after which every earlier one is synced.
    fn syncs(&self) -> bool {
        matches!(self, Op::SyncPut(..) | Op::Sync)
    }
}

/// A mixed workload: puts, overwrites, deletes, batches, synced writes,
/// syncs and flushes, with values long enough to fill tiny memtables.
fn mixed_workload() -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..24u32 {
        let key = format!("key{:02}", (i * 5) % 11);
        let value = format!("value-{i:02}-{}", "x".repeat(20));
        ops.push(match i % 8 {
            0 | 3 => Op::Put(key, value),
            1 => Op::Batch(vec![(key, value.clone()), (format!("b{i:02}a"), value.clone()), (format!("b{i:02}b"), value)]),
            2 => Op::Delete(format!("key{:02}", (i * 3) % 11)),
            4 => Op::SyncPut(key, value),
            5 => Op::Put(key, value),
            6 => Op::Flush,
            _ => Op::Sync,
        });
    }
    ops
}

/// The model after each prefix of `ops`: `states[k]` is the content after
/// the first `k` operations.
fn model_states(ops: &[Op]) -> Vec<Model> {
    let mut states = vec![Model::new()];
    let mut model = Model::new();
    for op in ops {
        op.apply(&mut model);
        states.push(model.clone());
    }
    states
}

/// What a run of the workload got to: operations acknowledged, and how
/// many of them were synced when it stopped.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    opened: bool,
    acked: usize,
    synced: usize,
}

/// Opens the database and runs `ops` until the first error.
fn run_workload(fs: &SimFs, ops: &[Op], memtable_bytes: usize) -> Progress {
    let mut progress = Progress::default();
    let Ok(db) = open(fs, memtable_bytes) else {
        return progress;
    };
    progress.opened = true;
    for op in ops {
        if op.run(&db).is_err() {
            break;
        }
        progress.acked += 1;
        if op.syncs() {
            progress.synced = progress.acked;
        }
    }
    progress
}

/// The oracle of RELIABILITY.md: the database recovered from `image` must
/// hold exactly the state after some prefix k of the workload, with
/// low ≤ k ≤ acked + 1 (the operation in flight may or may not have made
/// it; a batch is one operation, so it is all there or not at all). Then a
/// write after reopen must win, and reopening again must change nothing.
fn check_oracle(image: &SimFs, states: &[Model], low: usize, acked: usize, context: &dyn Fn() -> String) {
    let db = open(image, 400).unwrap_or_else(|e| panic!("reopening after the crash failed: {e}\n{}", context()));
    let got = scan_all(&db).unwrap_or_else(|e| panic!("scanning the recovered database failed: {e}\n{}", context()));
    let high = (acked + 1).min(states.len() - 1);
    let prefix = (low..=high).find(|&k| pairs(&states[k]) == got);
    assert!(
        prefix.is_some(),
        "the recovered database is not the state after any prefix of k operations with \
         {low} <= k <= {high} (synced or acknowledged, up to the one in flight): it holds {}; the \
         state after {low} holds {}\n{}",
        show(&got),
        show(&pairs(&states[low])),
        context()
    );
    // Sequence numbers were recovered: a new write beats every old one.
    db.put(b("key00"), b("after-the-crash")).unwrap();
    assert_eq!(
        db.get(b"key00").unwrap(),
        Some(b("after-the-crash")),
        "a write after reopening must win over every recovered version of its key (was the last \
         sequence number recovered?)\n{}",
        context()
    );
    let mut expected = got.clone();
    match expected.iter_mut().find(|(k, _)| k.as_ref() == b"key00") {
        Some(pair) => pair.1 = b("after-the-crash"),
        None => {
            expected.push((b("key00"), b("after-the-crash")));
            expected.sort();
        }
    }
    db.close().unwrap();
    let again = open(image, 400).unwrap_or_else(|e| panic!("a second reopen failed: {e}\n{}", context()));
    assert_eq!(
        scan_all(&again).unwrap(),
        expected,
        "reopening again must give the same database (recovery is idempotent)\n{}",
        context()
    );
}

// The crash oracle: crash after every file-system operation of a mixed
// workload (puts, deletes, batches, synced writes, syncs, flushes; tiny
// memtables, so many flushes), in each of the four crash images. Reopening
// must always work and give the state after a prefix of the operations that
// keeps every synced one (every acknowledged one, for a process kill).
#[test]
fn crash_at_every_operation_recovers_a_prefix_with_every_synced_write() {
    let ops = mixed_workload();
    let states = model_states(&ops);
    let dry_run = SimFs::new();
    let full = run_workload(&dry_run, &ops, 400);
    assert_eq!(full.acked, ops.len(), "without a crash every operation must succeed");
    for point in CrashPoint::sweep(dry_run.op_count(), 0xdb) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let progress = run_workload(&fs, &ops, 400);
        let image = fs.crash(point.mode);
        let low = if point.mode == CrashMode::ProcessKill { progress.acked } else { progress.synced };
        let context = || format!("{point}: {progress:?}\ntrace of the crashed run:\n{}", fs.trace_string());
        check_oracle(&image, &states, low, progress.acked, &context);
    }
}

// Recovery can crash too: run the workload to its end, crash (power loss),
// then crash the recovery itself after each of its operations; the next
// recovery must still give a state the oracle accepts.
#[test]
fn a_crash_during_recovery_is_recovered_from() {
    let ops = mixed_workload();
    let states = model_states(&ops);
    let fs = SimFs::new();
    let progress = run_workload(&fs, &ops, 400);
    let crashed = fs.crash(CrashMode::PowerLoss);
    let dry_run = crashed.crash(CrashMode::ProcessKill);
    let before = dry_run.op_count();
    drop(open(&dry_run, 400).expect("recovery without a crash works"));
    let recovery_ops = dry_run.op_count() - before;
    for after in 0..=recovery_ops {
        for mode in CrashMode::all(after) {
            let image = crashed.crash(CrashMode::ProcessKill);
            image.stop_after(after);
            let _ = open(&image, 400);
            let context = || format!("recovery crashed after its operation {after}, then {mode}\n{}", image.trace_string());
            check_oracle(&image.crash(mode), &states, progress.synced, progress.acked, &context);
        }
    }
}

/// Fails unless every write after the first failure also fails.
fn run_with_fault(fs: &SimFs, ops: &[Op], states: &[Model]) -> (Progress, bool) {
    let mut progress = Progress::default();
    let Ok(db) = open(fs, 400) else {
        return (progress, true);
    };
    progress.opened = true;
    let mut failed = false;
    for (index, op) in ops.iter().enumerate() {
        let result = op.run(&db);
        match (&result, failed) {
            (Ok(()), false) => {
                progress.acked += 1;
                if op.syncs() {
                    progress.synced = progress.acked;
                }
            }
            (Err(_), false) => failed = true,
            (Ok(()), true) if matches!(op, Op::Put(..) | Op::Delete(..) | Op::Batch(..) | Op::SyncPut(..)) => {
                panic!(
                    "operation {index} ({op:?}) succeeded after an earlier write failed: after a failed \
                     log write, sync, flush or manifest install the engine must refuse writes until \
                     reopened (fail-stop, P6)\n{}",
                    fs.trace_string()
                );
            }
            _ => {}
        }
        // Reads never lie: an error, or the acknowledged state (plus the
        // operation in flight).
        if let Ok(got) = scan_all(&db) {
            let acked = progress.acked;
            let ok = got == pairs(&states[acked]) || got == pairs(&states[(acked + 1).min(states.len() - 1)]);
            assert!(
                ok,
                "after operation {index} ({op:?}, {}) a scan returned {}, but the acknowledged \
                 state holds {}: a read may fail, never return a wrong answer\n{}",
                if failed { "failing" } else { "ok" },
                show(&got),
                show(&pairs(&states[acked])),
                fs.trace_string()
            );
        }
    }
    (progress, failed)
}

// I/O errors: for every kind of file-system call and every n, fail the
// n-th such call (once, and from then on for good). Every operation either
// succeeds or fails, reads never return wrong data, writes stay refused
// after the first failure, and a reopen recovers a state the oracle
// accepts (appended writes survive: the process did not die).
#[test]
fn io_errors_at_every_call_fail_stop_and_lose_nothing_acknowledged() {
    let ops = mixed_workload();
    let states = model_states(&ops);
    let dry_run = SimFs::new();
    run_workload(&dry_run, &ops, 400);
    let kinds = [OpKind::Append, OpKind::Sync, OpKind::Create, OpKind::Rename, OpKind::Remove, OpKind::SyncDir];
    for kind in kinds {
        let calls = dry_run.trace().iter().filter(|op| op.kind == kind).count() as u64;
        for nth in 1..=calls {
            for persistent in [false, true] {
                let fs = SimFs::new();
                let fault = Fault::nth(kind, nth);
                fs.inject(if persistent { fault.persistent() } else { fault });
                let (progress, _) = run_with_fault(&fs, &ops, &states);
                let image = fs.crash(CrashMode::ProcessKill);
                let context = || format!("{kind:?} call {nth} failed ({}): {progress:?}\n{}", if persistent { "for good" } else { "once" }, fs.trace_string());
                check_oracle(&image, &states, progress.acked, progress.acked, &context);
            }
        }
    }
}

// Many threads on one `Arc<Db>`: writers write two keys in one batch,
// readers scan them; a scan never sees half a batch, and a key's value never
// goes back to an older one.
#[test]
fn threads_never_see_a_torn_batch_or_a_value_going_backwards() {
    let fs = SimFs::new();
    let db = Arc::new(open(&fs, 2000).unwrap());
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..150u32 {
                    let value = format!("{i:06}");
                    let batch = WriteBatch::default()
                        .put(format!("w{writer}-a"), value.clone())
                        .put(format!("w{writer}-b"), value);
                    db.write(batch, WriteOptions::default()).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut last = [Bytes::new(), Bytes::new()];
                for _ in 0..200 {
                    let got: Vec<(Bytes, Bytes)> = db.scan(..).collect::<lsm_workbook::Result<_>>().unwrap();
                    for writer in 0..2 {
                        let a = got.iter().find(|(k, _)| k.as_ref() == format!("w{writer}-a").as_bytes());
                        let b = got.iter().find(|(k, _)| k.as_ref() == format!("w{writer}-b").as_bytes());
                        assert_eq!(
                            a.map(|p| &p.1),
                            b.map(|p| &p.1),
                            "a scan saw half of a batch: publish a batch's sequence number only after all of it is in the memtable"
                        );
                        if let Some((_, value)) = a {
                            assert!(value >= &last[writer], "a value went backwards: {last:?} then {value:?}");
                            last[writer] = value.clone();
                        }
                    }
                }
            })
        })
        .collect();
    for thread in writers.into_iter().chain(readers) {
        thread.join().expect("no thread may panic");
    }
    assert_eq!(db.get(b"w0-a").unwrap(), Some(b("000149")));
}

// With a filter and an index in every table, a point read touches at most
// one data block per table whose filter admits the key, and none for a
// table that cannot hold it.
#[test]
fn a_get_reads_at_most_one_block_per_table_that_may_hold_the_key() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    for table in 0..4u32 {
        for i in 0..200u32 {
            db.put(format!("t{table}-{i:04}"), "v".repeat(40)).unwrap();
        }
        db.flush().unwrap();
    }
    let tables: Vec<String> = fs.list(dir()).unwrap().into_iter().filter(|n| n.ends_with(".sst")).collect();
    assert_eq!(tables.len(), 4, "four flushes make four tables: {tables:?}");
    for key in ["t2-0100", "t0-0007", "t3-0199", "t1-0150x", "zzz"] {
        fs.reset_reads();
        let _ = db.get(key.as_bytes()).unwrap();
        for table in &tables {
            let reads = fs.reads(dir().join(table)).calls;
            assert!(
                reads <= 1,
                "get({key}) read {table} {reads} times: a table is opened once (footer, filter and \
                 index kept in memory) and a lookup reads at most one data block"
            );
        }
    }
    fs.reset_reads();
    assert_eq!(db.get(b"t2-0100").unwrap(), Some(Bytes::from("v".repeat(40))));
    let total: u64 = tables.iter().map(|t| fs.reads(dir().join(t)).calls).sum();
    assert!(total <= 2, "a key in one table costs about one block read, {total} reads were made");
    let _ = Error::InvalidArgument(String::new());
}
