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
        .map(|(k, v)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            )
        })
        .collect();
    format!(
        "{} pairs [{}{}]",
        pairs.len(),
        keys.join(", "),
        if pairs.len() > 6 { ", …" } else { "" }
    )
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
            Op::SyncPut(k, v) => db.write(
                WriteBatch::default().put(b(k), b(v)),
                WriteOptions { sync: true },
            ),
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
            1 => Op::Batch(vec![
                (key, value.clone()),
                (format!("b{i:02}a"), value.clone()),
                (format!("b{i:02}b"), value),
            ]),
            2 => Op::Delete(format!("key{:02}", (i * 3) % 11)),
            4 => Op::SyncPut(key, value),
            5 => Op::Put(key, value),
            6 => Op::Sync,
            _ => Op::Flush,
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
fn check_oracle(
    image: &SimFs,
    states: &[Model],
    low: usize,
    acked: usize,
    context: &dyn Fn() -> String,
) {
    let db = open(image, 400)
        .unwrap_or_else(|e| panic!("reopening after the crash failed: {e}\n{}", context()));
    let got = scan_all(&db)
        .unwrap_or_else(|e| panic!("scanning the recovered database failed: {e}\n{}", context()));
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
    let again =
        open(image, 400).unwrap_or_else(|e| panic!("a second reopen failed: {e}\n{}", context()));
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
    // Tiny memtables (a flush every few writes) and a large one (no flush
    // but the explicit ones, so syncs are the only thing making writes
    // durable).
    for memtable_bytes in [400, 1 << 20] {
        let dry_run = SimFs::new();
        let full = run_workload(&dry_run, &ops, memtable_bytes);
        assert_eq!(
            full.acked,
            ops.len(),
            "without a crash every operation must succeed"
        );
        for point in CrashPoint::sweep(dry_run.op_count(), 0xdb) {
            let fs = SimFs::new();
            fs.stop_after(point.after_op);
            let progress = run_workload(&fs, &ops, memtable_bytes);
            let image = fs.crash(point.mode);
            let low = if point.mode == CrashMode::ProcessKill {
                progress.acked
            } else {
                progress.synced
            };
            let context = || {
                format!(
                    "{point} (memtable of {memtable_bytes} bytes): {progress:?}\ntrace of the crashed run:\n{}",
                    fs.trace_string()
                )
            };
            check_oracle(&image, &states, low, progress.acked, &context);
        }
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
            let context = || {
                format!(
                    "recovery crashed after its operation {after}, then {mode}\n{}",
                    image.trace_string()
                )
            };
            check_oracle(
                &image.crash(mode),
                &states,
                progress.synced,
                progress.acked,
                &context,
            );
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
            (Ok(()), true)
                if matches!(
                    op,
                    Op::Put(..) | Op::Delete(..) | Op::Batch(..) | Op::SyncPut(..)
                ) =>
            {
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
            let ok = got == pairs(&states[acked])
                || got == pairs(&states[(acked + 1).min(states.len() - 1)]);
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
    let kinds = [
        OpKind::Append,
        OpKind::Sync,
        OpKind::Create,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::SyncDir,
    ];
    for kind in kinds {
        let calls = dry_run.trace().iter().filter(|op| op.kind == kind).count() as u64;
        for nth in 1..=calls {
            for persistent in [false, true] {
                let fs = SimFs::new();
                let fault = Fault::nth(kind, nth);
                fs.inject(if persistent {
                    fault.persistent()
                } else {
                    fault
                });
                let (progress, _) = run_with_fault(&fs, &ops, &states);
                let image = fs.crash(CrashMode::ProcessKill);
                let context = || {
                    format!(
                        "{kind:?} call {nth} failed ({}): {progress:?}\n{}",
                        if persistent { "for good" } else { "once" },
                        fs.trace_string()
                    )
                };
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
    let tables: Vec<String> = fs
        .list(dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".sst"))
        .collect();
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
    assert_eq!(
        db.get(b"t2-0100").unwrap(),
        Some(Bytes::from("v".repeat(40)))
    );
    let total: u64 = tables.iter().map(|t| fs.reads(dir().join(t)).calls).sum();
    assert!(
        total <= 2,
        "a key in one table costs about one block read, {total} reads were made"
    );
}

// ─────────────────────────────────────────────────────────────────────────
// More graded tests, by task: the merge iterator (task 1), the write path
// (task 2), the read path (task 3), recovery (task 4), crash safety
// (task 5). Each names the mistake it catches in its messages.
// ─────────────────────────────────────────────────────────────────────────

use std::ops::Bound;

use lsm_workbook::ch07_engine::merge::{MergeIterator, Source};
use lsm_workbook::filename::FileName;
use lsm_workbook::fs::sim::TraceEntry;
use lsm_workbook::types::{Entry, SeqNo};
use proptest::prelude::*;

/// A merge source over `entries`, put in internal order first.
fn source(entries: Vec<Entry>) -> Source {
    Box::new(support::sorted(entries).into_iter().map(Ok))
}

/// Everything a merge of `sources` at `read_seq` yields, as `key=value`
/// strings (short, for messages); an error fails the test.
fn merged(sources: Vec<Vec<Entry>>, read_seq: SeqNo) -> Vec<String> {
    let sources = sources.into_iter().map(source).collect();
    MergeIterator::new(sources, read_seq)
        .map(|pair| {
            let (key, value) =
                pair.unwrap_or_else(|e| panic!("the merge failed on valid sources: {e}"));
            text(&key, &value)
        })
        .collect()
}

fn text(key: &[u8], value: &[u8]) -> String {
    format!(
        "{}={}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(value)
    )
}

#[test]
fn merge_yields_the_newest_version_of_each_key_across_sources() {
    use support::put;
    let memtable = vec![put("b", 9, "b9"), put("d", 7, "d7")];
    let newer_table = vec![put("a", 5, "a5"), put("b", 4, "b4"), put("c", 6, "c6")];
    let older_table = vec![put("a", 2, "a2"), put("c", 1, "c1"), put("e", 3, "e3")];
    let got = merged(vec![memtable, newer_table, older_table], 100);
    assert_eq!(
        got,
        ["a=a5", "b=b9", "c=c6", "d=d7", "e=e3"],
        "each key once, in key order, with its newest version whichever source holds it (a merge \
         that prefers the first source, or yields every version, gives a different answer)"
    );
    // The order of the sources does not matter: only sequence numbers do.
    let reversed = merged(
        vec![
            vec![put("a", 2, "a2"), put("c", 1, "c1"), put("e", 3, "e3")],
            vec![put("a", 5, "a5"), put("b", 4, "b4"), put("c", 6, "c6")],
            vec![put("b", 9, "b9"), put("d", 7, "d7")],
        ],
        100,
    );
    assert_eq!(
        reversed, got,
        "the newest version wins by sequence number, not by the position of its source"
    );
}

#[test]
fn merge_tombstone_hides_older_versions_in_other_sources() {
    use support::{del, put};
    let newest = vec![del("a", 8), put("c", 9, "c9")];
    let middle = vec![put("a", 5, "a5"), del("c", 6), put("b", 4, "b4")];
    let oldest = vec![put("a", 1, "a1"), put("c", 2, "c2"), del("d", 3)];
    let got = merged(vec![newest, middle, oldest], 100);
    assert_eq!(
        got,
        ["b=b4", "c=c9"],
        "a@8 is a tombstone, so a is gone (its older versions a@5, a@1 must not show through); \
         c@9 is newer than the tombstone c@6, so c=c9; d's only version is a tombstone: a merge \
         that skips a tombstone and takes the next version resurrects deleted keys"
    );
}

#[test]
fn merge_skips_versions_newer_than_the_read_seq() {
    use support::{del, put};
    let sources = || {
        vec![
            vec![put("a", 6, "a6"), del("b", 7), put("c", 8, "c8")],
            vec![put("a", 3, "a3"), put("b", 2, "b2"), put("d", 9, "d9")],
        ]
    };
    assert_eq!(
        merged(sources(), 5),
        ["a=a3", "b=b2"],
        "reading at seq 5: a@6 is too new, so a=a3 shows; the tombstone b@7 is too new to hide \
         b@2; c@8 and d@9 did not exist yet. A merge that decides a key by its newest version \
         before checking the read seq hides a3 and b2"
    );
    assert_eq!(
        merged(sources(), 7),
        ["a=a6"],
        "reading at seq 7: a=a6, the tombstone b@7 now hides b@2, c@8 and d@9 are too new"
    );
    assert_eq!(
        merged(sources(), 0),
        Vec::<String>::new(),
        "nothing is visible at seq 0"
    );
}

#[test]
fn merge_yields_one_of_many_versions_of_a_key() {
    // 60 versions of one key, dealt over three sources, between two others.
    let mut sources = vec![
        vec![support::put("a", 1000, "first")],
        Vec::new(),
        Vec::new(),
    ];
    for seq in 1..=60u64 {
        let value = if seq % 10 == 0 {
            None
        } else {
            Some(format!("v{seq}"))
        };
        let entry = match &value {
            Some(value) => support::put("k", seq, value),
            None => support::del("k", seq),
        };
        sources[(seq % 3) as usize].push(entry);
    }
    sources[1].push(support::put("z", 2000, "last"));
    for read_seq in [59u64, 60, 61, 35, 30, 1] {
        let got = merged(sources.clone(), read_seq);
        let expected: Vec<String> = match read_seq.min(60) {
            seq if seq % 10 == 0 => vec![],
            seq => vec![format!("k=v{seq}")],
        };
        assert_eq!(
            got, expected,
            "reading at seq {read_seq}: exactly one version of k (the newest at or below the read \
             seq, none if that one is a tombstone), and none of a@1000 or z@2000 (too new); a \
             merge that forgets the last key it decided yields older versions too"
        );
    }
    let all = merged(sources, 5000);
    assert_eq!(
        all,
        ["a=first", "z=last"],
        "at seq 5000 everything is visible, and k's newest version (k@60) is a tombstone"
    );
}

#[test]
fn merge_of_empty_sources_is_empty() {
    assert_eq!(
        merged(vec![], 10),
        Vec::<String>::new(),
        "a merge of no sources yields nothing"
    );
    assert_eq!(
        merged(vec![vec![], vec![], vec![]], 10),
        Vec::<String>::new(),
        "a merge of empty sources yields nothing"
    );
    let got = merged(vec![vec![], vec![support::put("a", 1, "x")], vec![]], 10);
    assert_eq!(
        got,
        ["a=x"],
        "empty sources between others are skipped, never ending the merge early"
    );
}

#[test]
fn merge_yields_a_source_error_then_ends() {
    use support::put;
    let failing: Source = Box::new(
        vec![
            Ok(put("a", 1, "a1")),
            Err(Error::corruption(
                "db/000007.sst",
                4096,
                "block checksum mismatch",
            )),
            Ok(put("y", 2, "y2")),
        ]
        .into_iter(),
    );
    let healthy = source(vec![
        put("b", 3, "b3"),
        put("c", 4, "c4"),
        put("z", 5, "z5"),
    ]);
    let mut merge = MergeIterator::new(vec![failing, healthy], 100);
    let expected: Vec<String> = ["a=a1", "b=b3", "c=c4", "y=y2", "z=z5"]
        .map(String::from)
        .to_vec();
    let mut before_error = Vec::new();
    let error = loop {
        match merge.next() {
            Some(Ok((key, value))) => before_error.push(text(&key, &value)),
            Some(Err(error)) => break error,
            None => panic!(
                "the merge ended after {before_error:?} without yielding the source's error: an \
                 error from a source must reach the reader, never be dropped like an end"
            ),
        }
        assert!(
            before_error.len() <= 2,
            "the merge went on past a failed source: {before_error:?}"
        );
    };
    assert!(
        expected.starts_with(&before_error),
        "before the error the merge may yield only correct pairs in order, got {before_error:?}"
    );
    assert!(
        matches!(&error, Error::Corruption { offset: 4096, .. }),
        "the source's own error must be passed on unchanged (it names the file and offset), got {error:?}"
    );
    assert!(
        merge.next().is_none() && merge.next().is_none(),
        "after yielding an error the merge must end: where the failed source's next entry would \
         sort is unknown, so any later pair could be a stale version"
    );
}

/// One version for the merge model: a key index, a tombstone flag, a value
/// byte and the source it goes to.
fn arb_merge_versions() -> impl Strategy<Value = Vec<(u8, bool, u8, usize)>> {
    prop::collection::vec(
        (0u8..6, prop::bool::weighted(0.25), any::<u8>(), 0usize..4),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    // Random versions (distinct sequence numbers) dealt over four sources,
    // read at a random sequence number, against a model: per key, the
    // newest version at or below the read seq, shown unless a tombstone.
    #[test]
    fn merge_matches_a_model_of_the_newest_visible_versions(
        versions in arb_merge_versions(),
        read_seq in 0u64..45,
    ) {
        let mut sources = vec![Vec::new(); 4];
        let mut model: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (index, &(key, is_delete, value, source)) in versions.iter().enumerate() {
            let seq = index as u64 + 1;
            let key = format!("k{key}");
            let value = format!("v{value}-{seq}");
            sources[source].push(if is_delete { support::del(&key, seq) } else { support::put(&key, seq, &value) });
            if seq <= read_seq {
                model.insert(key, (!is_delete).then_some(value));
            }
        }
        let expected: Vec<String> = model
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        let got = merged(sources, read_seq);
        prop_assert_eq!(got, expected, "the merge at seq {} disagrees with the model (per key: the newest version at or below the read seq, hidden if a tombstone)", read_seq);
    }
}

// ── task 2: the write path ───────────────────────────────────────────────

/// The names in the database directory ending with `suffix`, sorted.
fn files(fs: &SimFs, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list(dir())
        .unwrap()
        .into_iter()
        .filter(|name| name.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// The file number of a database file name (`None` for CURRENT and
/// names that are not the database's).
fn file_number(name: &str) -> Option<u64> {
    match FileName::parse(name)? {
        FileName::Log(n) | FileName::Table(n) | FileName::Manifest(n) => Some(n),
        FileName::Current | FileName::CurrentTemp => None,
    }
}

fn file_name(entry: &TraceEntry) -> String {
    entry
        .path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The trace from operation `from` on (0: all of it).
fn trace_since(fs: &SimFs, from: u64) -> Vec<TraceEntry> {
    fs.trace().into_iter().skip(from as usize).collect()
}

fn got(db: &Db, key: &str) -> Option<String> {
    db.get(key.as_bytes())
        .unwrap_or_else(|e| panic!("get({key}) failed: {e}"))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

#[test]
fn a_batch_is_numbered_by_the_engine_and_last_seq_grows_by_its_op_count() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    assert_eq!(
        db.last_seq(),
        0,
        "a new database has published no sequence number"
    );
    db.put(b("a"), b("1")).unwrap();
    assert_eq!(db.last_seq(), 1, "one put takes one sequence number");
    // The batch says seq 1000: the engine ignores that and numbers it.
    let batch = WriteBatch::new(1000)
        .put(b("b"), b("2"))
        .put(b("c"), b("3"))
        .delete(b("a"));
    db.write(batch, WriteOptions::default()).unwrap();
    assert_eq!(
        db.last_seq(),
        4,
        "a batch of 3 ops takes seqs 2, 3, 4: last_seq grows by the op count, and the seq the \
         caller put in the batch is ignored (the engine numbers every write)"
    );
    db.put(b("a"), b("5")).unwrap();
    assert_eq!(db.last_seq(), 5, "the next write continues the numbering");
    assert_eq!(
        got(&db, "a").as_deref(),
        Some("5"),
        "the put after the batch's delete wins"
    );
    assert_eq!(
        db.get_at(b"a", 3).unwrap(),
        Some(b("1")),
        "at seq 3 the batch's delete (seq 4) is not yet visible"
    );
    assert_eq!(
        db.get_at(b"a", 4).unwrap(),
        None,
        "at seq 4 the batch's delete hides a"
    );
    assert_eq!(
        db.get_at(b"b", 1).unwrap(),
        None,
        "at seq 1 the batch did not exist yet"
    );
    assert_eq!(
        db.get_at(b"c", 4).unwrap(),
        Some(b("3")),
        "the batch's ops are numbered in order"
    );
}

#[test]
fn an_empty_batch_writes_nothing() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    let before = fs.op_count();
    db.write(WriteBatch::default(), WriteOptions::default())
        .unwrap();
    db.write(WriteBatch::new(77), WriteOptions::default())
        .unwrap();
    assert_eq!(db.last_seq(), 1, "an empty batch takes no sequence number");
    let appends: Vec<String> = trace_since(&fs, before)
        .iter()
        .filter(|op| op.kind == OpKind::Append)
        .map(ToString::to_string)
        .collect();
    assert!(
        appends.is_empty(),
        "an empty batch appends no log record: {appends:?}"
    );
    db.put(b("b"), b("2")).unwrap();
    assert_eq!(
        db.last_seq(),
        2,
        "the write after an empty batch continues the numbering"
    );
    db.close().unwrap();
    let db = open(&fs.crash(CrashMode::PowerLoss), 1 << 20).unwrap();
    assert_eq!(
        db.last_seq(),
        2,
        "after reopening, the empty batches left no trace"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("a"), b("1")), (b("b"), b("2"))],
        "after reopening, the two real writes are there and nothing else"
    );
}

#[test]
fn writes_are_visible_to_get_and_scan_at_once() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("k1"), b("one")).unwrap();
    assert_eq!(
        got(&db, "k1").as_deref(),
        Some("one"),
        "a get right after a put sees it (was the seq published?)"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("k1"), b("one"))],
        "a scan right after a put sees it"
    );
    db.write(
        WriteBatch::default()
            .put(b("k2"), b("two"))
            .put(b("k1"), b("uno")),
        WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("k1"), b("uno")), (b("k2"), b("two"))],
        "a batch is visible as a whole right after it returns; its later op wins over the earlier version"
    );
    db.delete(b("k1")).unwrap();
    assert_eq!(
        got(&db, "k1"),
        None,
        "a get right after a delete sees the tombstone"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("k2"), b("two"))],
        "a scan right after a delete hides the key"
    );
}

#[test]
fn an_acknowledged_write_is_in_the_log_and_survives_a_process_kill() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    let log = files(&fs, ".log")
        .pop()
        .expect("an open database has a log");
    let log_path = dir().join(&log);
    let value = "a-value-that-must-be-in-the-log";
    let len_before = fs.file_bytes(&log_path).map_or(0, |bytes| bytes.len());
    db.put(b("key"), b(value)).unwrap();
    let len_after = fs.file_bytes(&log_path).map_or(0, |bytes| bytes.len());
    assert!(
        len_after >= len_before + value.len() + 3,
        "when put returns, its record must be appended to the log {log} (it grew from {len_before} \
         to {len_after} bytes): acknowledging before the WAL write, or keeping records in a buffer \
         of your own, loses acknowledged writes when the process dies"
    );
    // The process dies without close: every appended byte survives.
    let image = fs.crash(CrashMode::ProcessKill);
    let db = open(&image, 1 << 20).unwrap();
    assert_eq!(
        got(&db, "key").as_deref(),
        Some(value),
        "an acknowledged put must survive a process kill (promise P1)"
    );
}

#[test]
fn a_synced_write_survives_power_loss_and_a_plain_put_does_not_sync() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("plain"), b("1")).unwrap();
    db.write(
        WriteBatch::default().put(b("synced"), b("2")),
        WriteOptions { sync: true },
    )
    .unwrap();
    let image = fs.crash(CrashMode::PowerLoss);
    let recovered = open(&image, 1 << 20).unwrap();
    assert_eq!(
        scan_all(&recovered).unwrap(),
        vec![(b("plain"), b("1")), (b("synced"), b("2"))],
        "after a write with sync: true returns, it and every earlier write survive a power loss \
         (P2): sync the log before acknowledging"
    );
    let before = fs.op_count();
    db.put(b("later"), b("3")).unwrap();
    let syncs: Vec<String> = trace_since(&fs, before)
        .iter()
        .filter(|op| op.kind == OpKind::Sync)
        .map(ToString::to_string)
        .collect();
    assert!(
        syncs.is_empty(),
        "a plain put (sync: false) must not sync the log — a sync per write costs a disk flush; \
         sync only when asked: {syncs:?}"
    );
    let db = open(&fs.crash(CrashMode::PowerLoss), 1 << 20).unwrap();
    let after = scan_all(&db).unwrap();
    assert!(
        after.len() == 2 || after.len() == 3,
        "a power loss keeps the synced writes, and the unsynced one or not: {}",
        show(&after)
    );
}

#[test]
fn close_makes_every_write_survive_power_loss() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    for i in 0..10u32 {
        db.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    db.close().unwrap();
    let db = open(&fs.crash(CrashMode::PowerLoss), 1 << 20).unwrap();
    assert_eq!(
        scan_all(&db).unwrap().len(),
        10,
        "close syncs the log: every write before it survives a power loss"
    );
}

#[test]
fn a_full_memtable_is_frozen_and_flushed_into_a_level0_table() {
    let fs = SimFs::new();
    let db = open(&fs, 400).unwrap();
    let first_log = files(&fs, ".log");
    let mut model = Model::new();
    for i in 0..30u32 {
        let (key, value) = (
            format!("key{i:02}"),
            format!("value-{i:02}-{}", "x".repeat(30)),
        );
        db.put(b(&key), b(&value)).unwrap();
        model.insert(b(&key), b(&value));
    }
    let stats = db.stats();
    let tables = files(&fs, ".sst");
    assert!(
        stats.flushes >= 3,
        "30 puts of ~45 bytes into a 400-byte memtable must freeze and flush it several times, \
         stats say {} flushes: check the memtable's size after each write",
        stats.flushes
    );
    assert_eq!(
        stats.levels.first().map(|level| level.0),
        Some(tables.len()),
        "every flush adds one level-0 table, and the directory holds exactly those: {tables:?}, stats {stats:?}"
    );
    assert_eq!(
        stats.frozen_memtables, 0,
        "each frozen memtable is flushed before the write returns"
    );
    assert!(
        stats.memtable_bytes < 400,
        "the active memtable is below its limit after a write ({} bytes)",
        stats.memtable_bytes
    );
    let logs = files(&fs, ".log");
    assert_eq!(
        logs.len(),
        1,
        "a flushed memtable's log is deleted once its table is installed; only the active log is left: {logs:?}"
    );
    assert_ne!(logs, first_log, "each freeze starts a new log");
    assert_eq!(
        scan_all(&db).unwrap(),
        pairs(&model),
        "every write is still there, now mostly in tables"
    );
    assert_eq!(
        db.get(b"key00").unwrap().as_ref(),
        model.get(&b("key00")),
        "a get of a flushed key finds it in its level-0 table"
    );
}

#[test]
fn a_flushed_log_is_deleted_only_after_its_table_and_manifest_edit_are_durable() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    for i in 0..20u32 {
        db.put(format!("key{i:02}"), "v".repeat(30)).unwrap();
    }
    let old_logs = files(&fs, ".log");
    let start = fs.op_count();
    db.flush().unwrap();
    let trace = trace_since(&fs, start);
    let shown = trace
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let position = |what: &str, found: &dyn Fn(&TraceEntry) -> bool| {
        trace
            .iter()
            .position(found)
            .unwrap_or_else(|| panic!("the flush never did this: {what}\nits trace:\n{shown}"))
    };
    let table = trace
        .iter()
        .find(|op| op.kind == OpKind::Create && file_name(op).ends_with(".sst"))
        .map(file_name)
        .unwrap_or_else(|| panic!("the flush created no table\n{shown}"));
    let table_sync = position("sync the table", &|op| {
        op.kind == OpKind::Sync && file_name(op) == table
    });
    let dir_sync = position("sync the directory after creating the table", &|op| {
        op.kind == OpKind::SyncDir && op.number > trace[table_sync].number
    });
    let edit = position("append the edit to the manifest", &|op| {
        op.kind == OpKind::Append
            && file_name(op).starts_with("MANIFEST-")
            && op.number > trace[table_sync].number
    });
    let edit_sync = position("sync the manifest after the edit", &|op| {
        op.kind == OpKind::Sync
            && file_name(op).starts_with("MANIFEST-")
            && op.number > trace[edit].number
    });
    for log in &old_logs {
        let remove = position(&format!("remove the flushed log {log}"), &|op| {
            op.kind == OpKind::Remove && &file_name(op) == log
        });
        assert!(
            remove > edit_sync && dir_sync < edit,
            "the flushed log {log} must be removed only after its table is synced (op {}), its name \
             made durable (op {}) and the manifest edit naming it synced (op {}); it was removed at \
             op {}: a crash in between loses the memtable's writes\n{shown}",
            trace[table_sync].number,
            trace[dir_sync].number,
            trace[edit_sync].number,
            trace[remove].number
        );
    }
}

#[test]
fn a_failed_log_write_refuses_later_writes_and_reads_keep_working() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    fs.inject(Fault::nth(OpKind::Append, 1));
    assert!(
        db.put(b("b"), b("2")).is_err(),
        "the put whose log append failed must fail"
    );
    assert!(
        db.put(b("c"), b("3")).is_err(),
        "after a failed log append every later write must fail until reopen (fail-stop, P6): the \
         log may hold half a record, and appending after it makes it corruption"
    );
    assert!(
        db.delete(b("a")).is_err(),
        "a delete after a failed log append must fail too"
    );
    assert!(
        db.flush().is_err(),
        "a flush after a failed write must fail too"
    );
    assert_eq!(
        got(&db, "a").as_deref(),
        Some("1"),
        "reads keep working after a failed write"
    );
    assert_eq!(
        got(&db, "b"),
        None,
        "a write whose log append failed must never become visible"
    );
    let db = open(&fs.crash(CrashMode::ProcessKill), 1 << 20).unwrap();
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("a"), b("1"))],
        "after reopening, the acknowledged write is there and the failed ones are not"
    );
    db.put(b("d"), b("4")).unwrap();
}

#[test]
fn a_failed_sync_is_reported_and_never_retried_into_success() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    fs.inject(Fault::nth(OpKind::Sync, 1).forgetting());
    let synced = db.write(
        WriteBatch::default().put(b("b"), b("2")),
        WriteOptions { sync: true },
    );
    assert!(
        synced.is_err(),
        "a synced write whose sync failed must not be acknowledged"
    );
    assert!(
        db.sync().is_err(),
        "after a failed sync, sync() must fail too: the kernel may have dropped the unsynced \
         bytes, so a retried fsync that succeeds proves nothing (never retry a failed fsync)"
    );
    assert!(
        db.put(b("c"), b("3")).is_err(),
        "writes stay refused after a failed sync"
    );
    assert!(
        db.close().is_err(),
        "close after a failed sync must report the failure"
    );
    let db = open(&fs.crash(CrashMode::PowerLoss), 1 << 20).unwrap();
    let recovered = scan_all(&db).unwrap();
    let prefixes = [
        vec![],
        vec![(b("a"), b("1"))],
        vec![(b("a"), b("1")), (b("b"), b("2"))],
    ];
    assert!(
        prefixes.contains(&recovered),
        "after the failed sync and a power loss the database holds a prefix of the writes, got {}",
        show(&recovered)
    );
}

// ── task 3: the read path ────────────────────────────────────────────────

#[test]
fn get_finds_the_newest_version_across_the_memtable_and_tables() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    for key in ["a", "b", "c"] {
        db.put(b(key), b(&format!("{key}-table1"))).unwrap();
    }
    db.flush().unwrap();
    db.put(b("a"), b("a-table2")).unwrap();
    db.put(b("d"), b("d-table2")).unwrap();
    db.flush().unwrap();
    db.put(b("a"), b("a-memtable")).unwrap();
    db.put(b("c"), b("c-memtable")).unwrap();
    assert_eq!(files(&fs, ".sst").len(), 2, "two flushes make two tables");
    for (key, expected) in [
        ("a", Some("a-memtable")),
        ("b", Some("b-table1")),
        ("c", Some("c-memtable")),
        ("d", Some("d-table2")),
        ("bb", None),
        ("e", None),
    ] {
        assert_eq!(
            got(&db, key).as_deref(),
            expected,
            "get({key}): the memtable first, then the tables newest first; the first version \
             found decides (reading tables oldest first, or stopping at the first table whose \
             range holds the key without finding it, gives older or missing values)"
        );
    }
}

/// Runs `setup` on a fresh database, then `db.flush()` with the `k`-th
/// create from then on failing, where `k` is the create of the first
/// table the flush writes (found by a dry run of the same steps).
fn flush_failing_at_table_create(setup: &dyn Fn(&Db)) -> (SimFs, Db) {
    let dry_run = SimFs::new();
    let db = open(&dry_run, 1 << 20).unwrap();
    setup(&db);
    let start = dry_run.op_count();
    db.flush().unwrap();
    let creates: Vec<TraceEntry> = trace_since(&dry_run, start)
        .into_iter()
        .filter(|op| op.kind == OpKind::Create)
        .collect();
    let nth = creates
        .iter()
        .position(|op| file_name(op).ends_with(".sst"))
        .expect("a flush of a non-empty memtable creates a table") as u64
        + 1;
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    setup(&db);
    fs.inject(Fault::nth(OpKind::Create, nth));
    assert!(
        db.flush().is_err(),
        "the flush whose table could not be created must fail"
    );
    (fs, db)
}

#[test]
fn reads_see_a_frozen_memtable_whose_flush_failed() {
    let setup = |db: &Db| {
        db.put(b("x"), b("x-table")).unwrap();
        db.put(b("y"), b("y-table")).unwrap();
        db.flush().unwrap();
        db.put(b("x"), b("x-frozen")).unwrap();
        db.delete(b("y")).unwrap();
        db.put(b("z"), b("z-frozen")).unwrap();
    };
    let (_fs, db) = flush_failing_at_table_create(&setup);
    assert_eq!(
        db.stats().frozen_memtables,
        1,
        "a memtable whose flush failed stays frozen (and readable) until reopen"
    );
    assert_eq!(
        got(&db, "x").as_deref(),
        Some("x-frozen"),
        "get must look in the frozen memtables, before the tables"
    );
    assert_eq!(
        got(&db, "y"),
        None,
        "a tombstone in a frozen memtable hides the table's value"
    );
    assert_eq!(
        got(&db, "z").as_deref(),
        Some("z-frozen"),
        "a key only in the frozen memtable is found"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("x"), b("x-frozen")), (b("z"), b("z-frozen"))],
        "a scan merges the frozen memtable with the tables"
    );
    assert_eq!(
        db.get_at(b"x", 2).unwrap(),
        Some(b("x-table")),
        "an older seq still reads the table"
    );
}

#[test]
fn a_tombstone_hides_a_value_in_an_older_table() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    db.put(b("b"), b("2")).unwrap();
    db.flush().unwrap();
    db.delete(b("a")).unwrap();
    assert_eq!(
        got(&db, "a"),
        None,
        "a tombstone in the memtable hides the table's value (it ends the search)"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("b"), b("2"))],
        "a scan hides a key deleted in the memtable"
    );
    db.flush().unwrap();
    assert_eq!(
        got(&db, "a"),
        None,
        "a tombstone flushed into a newer table hides the older table's value: the flush must \
         write tombstones, and get must stop at the first version it finds"
    );
    assert_eq!(
        scan_all(&db).unwrap(),
        vec![(b("b"), b("2"))],
        "a scan hides a key deleted in a newer table"
    );
    db.close().unwrap();
    let db = open(&fs, 1 << 20).unwrap();
    assert_eq!(got(&db, "a"), None, "the delete survives a reopen");
}

/// Keys k00..k31 spread over three tables and the memtable, with
/// overwrites and deletes; returns the database and its model.
fn layered_database(fs: &SimFs) -> (Db, Model) {
    let db = open(fs, 1 << 20).unwrap();
    let mut model = Model::new();
    let mut put = |key: String, value: Option<String>| {
        match &value {
            Some(value) => db.put(b(&key), b(value)).unwrap(),
            None => db.delete(b(&key)).unwrap(),
        }
        match value {
            Some(value) => model.insert(b(&key), b(&value)),
            None => model.remove(&b(&key)),
        };
    };
    for i in (0..30).step_by(2) {
        put(format!("k{i:02}"), Some(format!("t1-{i}")));
    }
    db.flush().unwrap();
    for i in 0..15 {
        put(format!("k{i:02}"), Some(format!("t2-{i}")));
    }
    db.flush().unwrap();
    for i in (15..30).step_by(2) {
        put(format!("k{i:02}"), Some(format!("t3-{i}")));
    }
    put("k20".into(), None);
    put("k22".into(), None);
    db.flush().unwrap();
    put("k05".into(), Some("mem-5".into()));
    put("k31".into(), Some("mem-31".into()));
    put("k03".into(), None);
    (db, model)
}

fn in_bounds(key: &[u8], (lower, upper): (Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    let above = match lower {
        Bound::Included(bound) => key >= bound,
        Bound::Excluded(bound) => key > bound,
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(bound) => key <= bound,
        Bound::Excluded(bound) => key < bound,
        Bound::Unbounded => true,
    };
    above && below
}

#[test]
fn scans_honour_every_kind_of_bound_across_memtable_and_tables() {
    let fs = SimFs::new();
    let (db, model) = layered_database(&fs);
    assert_eq!(files(&fs, ".sst").len(), 3, "the setup makes three tables");
    let keys: [&[u8]; 10] = [
        b"", b"a", b"k00", b"k03", b"k05", b"k055", b"k14", b"k20", b"k31", b"z",
    ];
    let mut bounds = vec![Bound::Unbounded];
    for key in keys {
        bounds.push(Bound::Included(key));
        bounds.push(Bound::Excluded(key));
    }
    for &lower in &bounds {
        for &upper in &bounds {
            let range = (lower, upper);
            let expected: Vec<(Bytes, Bytes)> = pairs(&model)
                .into_iter()
                .filter(|(k, _)| in_bounds(k, range))
                .collect();
            let got: Vec<(Bytes, Bytes)> = db
                .scan(range)
                .collect::<lsm_workbook::Result<_>>()
                .unwrap_or_else(|e| panic!("scan {range:?} failed: {e}"));
            assert_eq!(
                got,
                expected,
                "scan with bounds {:?}: got {}, expected {} (an empty or reversed range yields \
                 nothing; an excluded bound leaves out exactly that key; every source — memtable \
                 and each table — must start at the lower bound and stop at the upper)",
                range,
                show(&got),
                show(&expected)
            );
        }
    }
}

#[test]
fn a_scan_is_a_snapshot_writes_and_flushes_during_it_do_not_appear() {
    let fs = SimFs::new();
    let (db, model) = layered_database(&fs);
    let mut scan = db.scan(..);
    let mut seen: Vec<(Bytes, Bytes)> = scan
        .by_ref()
        .take(3)
        .collect::<lsm_workbook::Result<_>>()
        .unwrap();
    db.put(b("k00a"), b("new-behind")).unwrap();
    db.put(b("k27"), b("new-value-ahead")).unwrap();
    db.put(b("k195"), b("new-key-ahead")).unwrap();
    db.delete(b("k29")).unwrap();
    db.delete(b("k31")).unwrap();
    db.flush().unwrap();
    db.put(b("k28"), b("after-the-flush")).unwrap();
    for pair in scan {
        seen.push(pair.unwrap_or_else(|e| panic!("the scan failed after writes and a flush: {e}")));
    }
    assert_eq!(
        seen,
        pairs(&model),
        "a scan reads at the sequence number of its start: writes, deletes and flushes made \
         while it runs must not appear in it (got {}, expected {})",
        show(&seen),
        show(&pairs(&model))
    );
    let now = scan_all(&db).unwrap();
    assert!(
        now.iter()
            .any(|(k, v)| k.as_ref() == b"k195" && v.as_ref() == b"new-key-ahead")
            && !now.iter().any(|(k, _)| k.as_ref() == b"k29"),
        "a new scan sees the new writes: {}",
        show(&now)
    );
}

#[test]
fn get_at_and_scan_at_an_older_seq_see_the_older_state() {
    let fs = SimFs::new();
    let db = open(&fs, 300).unwrap();
    let mut model = Model::new();
    let mut history: Vec<(SeqNo, Model)> = vec![(db.last_seq(), model.clone())];
    for i in 0..40u32 {
        let key = format!("key{}", i % 7);
        if i % 5 == 4 {
            db.delete(b(&key)).unwrap();
            model.remove(&b(&key));
        } else {
            let value = format!("v{i}-{}", "x".repeat(20));
            db.put(b(&key), b(&value)).unwrap();
            model.insert(b(&key), b(&value));
        }
        if i % 9 == 8 {
            db.flush().unwrap();
        }
        history.push((db.last_seq(), model.clone()));
    }
    assert!(
        db.stats().flushes >= 4,
        "the workload flushes several tables"
    );
    for (seq, then) in &history {
        let scanned: Vec<(Bytes, Bytes)> = db
            .scan_at((Bound::Unbounded, Bound::Unbounded), *seq)
            .collect::<lsm_workbook::Result<_>>()
            .unwrap();
        assert_eq!(
            scanned,
            pairs(then),
            "scan_at seq {seq} must see the database as it was then (got {}, expected {}): \
             versions newer than the read seq are skipped, in memtables and tables alike",
            show(&scanned),
            show(&pairs(then))
        );
        for i in 0..7 {
            let key = b(&format!("key{i}"));
            assert_eq!(
                db.get_at(&key, *seq).unwrap(),
                then.get(&key).cloned(),
                "get_at(key{i}, {seq}) must return the version that was newest at seq {seq}"
            );
        }
    }
}

// ── task 4: recovery ─────────────────────────────────────────────────────

/// Writes `bytes` as the file `name` of the database directory, durably.
fn write_file(fs: &SimFs, name: &str, bytes: &[u8]) {
    let mut file = fs.create(&dir().join(name)).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    fs.sync_dir(dir()).unwrap();
}

/// A workload with overwrites, deletes, batches and flushes (memtable of
/// 400 bytes); returns its model.
fn write_history(db: &Db) -> Model {
    let mut model = Model::new();
    for i in 0..40u32 {
        let key = format!("key{:02}", (i * 7) % 17);
        let value = format!("value-{i:02}-{}", "y".repeat(i as usize % 13));
        match i % 6 {
            2 => {
                db.delete(b(&key)).unwrap();
                model.remove(&b(&key));
            }
            4 => {
                let other = format!("pair{i:02}");
                db.write(
                    WriteBatch::default()
                        .put(b(&key), b(&value))
                        .put(b(&other), b(&value)),
                    WriteOptions::default(),
                )
                .unwrap();
                model.insert(b(&key), b(&value));
                model.insert(b(&other), b(&value));
            }
            _ => {
                db.put(b(&key), b(&value)).unwrap();
                model.insert(b(&key), b(&value));
            }
        }
        if i % 11 == 10 {
            db.flush().unwrap();
        }
    }
    model
}

#[test]
fn reopen_after_close_keeps_everything() {
    let fs = SimFs::new();
    let db = open(&fs, 400).unwrap();
    let model = write_history(&db);
    let last_seq = db.last_seq();
    db.close().unwrap();
    let db = open(&fs, 400).unwrap();
    let recovered = scan_all(&db).unwrap();
    assert_eq!(
        recovered,
        pairs(&model),
        "after close and reopen the database holds exactly what was written (got {}, expected {}): \
         replay every log the manifest still needs, on top of its tables",
        show(&recovered),
        show(&pairs(&model))
    );
    assert_eq!(
        db.last_seq(),
        last_seq,
        "reopening recovers the last sequence number"
    );
    for (key, value) in &model {
        assert_eq!(
            db.get(key).unwrap().as_ref(),
            Some(value),
            "get after reopen agrees with the scan"
        );
    }
}

#[test]
fn reopen_after_a_process_kill_keeps_every_acknowledged_write() {
    let fs = SimFs::new();
    let db = open(&fs, 400).unwrap();
    let model = write_history(&db);
    let last_seq = db.last_seq();
    let image = fs.crash(CrashMode::ProcessKill);
    drop(db);
    let db = open(&image, 400).unwrap();
    let recovered = scan_all(&db).unwrap();
    assert_eq!(
        recovered,
        pairs(&model),
        "after a process kill (no close, no sync) every acknowledged write is recovered (got {}, \
         expected {}): the log holds them all",
        show(&recovered),
        show(&pairs(&model))
    );
    assert_eq!(
        db.last_seq(),
        last_seq,
        "the last sequence number is recovered from the logs"
    );
}

#[test]
fn the_last_seq_is_recovered_so_a_write_after_reopen_wins() {
    for flushed in [false, true] {
        let where_ = if flushed {
            "in a table (the log is empty)"
        } else {
            "in the log only"
        };
        let fs = SimFs::new();
        let db = open(&fs, 1 << 20).unwrap();
        for i in 0..30u32 {
            db.put(b("key"), b(&format!("old-{i}"))).unwrap();
            db.put(format!("other{i:02}"), "x").unwrap();
        }
        if flushed {
            db.flush().unwrap();
        }
        let last_seq = db.last_seq();
        let image = fs.crash(CrashMode::ProcessKill);
        drop(db);
        let db = open(&image, 1 << 20).unwrap();
        assert_eq!(
            db.last_seq(),
            last_seq,
            "with every write {where_}, reopening must recover last_seq {last_seq} (from the \
             manifest's last_seq and the logs replayed after it)"
        );
        db.put(b("key"), b("new")).unwrap();
        assert_eq!(
            got(&db, "key").as_deref(),
            Some("new"),
            "with the old versions {where_}: a write after reopen must win over every recovered version"
        );
        assert_eq!(
            db.last_seq(),
            last_seq + 1,
            "the first write after reopen takes the next number"
        );
        let image = image.crash(CrashMode::ProcessKill);
        drop(db);
        let db = open(&image, 1 << 20).unwrap();
        assert_eq!(
            got(&db, "key").as_deref(),
            Some("new"),
            "with the old versions {where_}: after another reopen the new write still wins (it \
             must have a higher sequence number than the old ones, not a reused one)"
        );
        assert_eq!(
            scan_all(&db).unwrap().len(),
            31,
            "every other key is still visible"
        );
    }
}

#[test]
fn reopening_twice_gives_the_same_database() {
    let fs = SimFs::new();
    let db = open(&fs, 400).unwrap();
    let model = write_history(&db);
    let image = fs.crash(CrashMode::ProcessKill);
    drop(db);
    let first = open(&image, 400).unwrap();
    let (pairs_first, seq_first) = (scan_all(&first).unwrap(), first.last_seq());
    drop(first);
    let again = image.crash(CrashMode::ProcessKill);
    let second = open(&again, 400).unwrap();
    assert_eq!(
        (scan_all(&second).unwrap(), second.last_seq()),
        (pairs_first.clone(), seq_first),
        "a second recovery (of what the first left, with no write in between) must give the same \
         pairs and last_seq: recovery is idempotent"
    );
    second.close().unwrap();
    let third = open(&again.crash(CrashMode::PowerLoss), 400).unwrap();
    assert_eq!(
        scan_all(&third).unwrap(),
        pairs(&model),
        "what recovery wrote (its table, its edit, the new log) is durable: a power loss after a \
         clean reopen and close loses nothing"
    );
}

/// The crash image (process kill) of a flush stopped just before its
/// manifest edit: the table is written, the memtable's log and a newer one
/// exist, and the manifest still needs both. Found by a dry run.
fn image_of_flush_stopped_before_its_edit(setup: &dyn Fn(&Db)) -> SimFs {
    let dry_run = SimFs::new();
    let db = open(&dry_run, 1 << 20).unwrap();
    setup(&db);
    let start = dry_run.op_count();
    db.flush().unwrap();
    let trace = trace_since(&dry_run, start);
    let edit = trace
        .iter()
        .find(|op| op.kind == OpKind::Append && file_name(op).starts_with("MANIFEST-"))
        .unwrap_or_else(|| {
            panic!(
                "a flush must append an edit to the manifest:\n{}",
                dry_run.trace_string()
            )
        });
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    setup(&db);
    fs.stop_after(edit.number - 1);
    assert!(
        db.flush().is_err(),
        "a flush stopped before its manifest edit fails"
    );
    fs.crash(CrashMode::ProcessKill)
}

fn two_log_setup(db: &Db) {
    for i in 0..20u32 {
        db.put(format!("key{i:02}"), format!("value-{i}")).unwrap();
    }
}

/// The two logs of `image`, older first, with a check that there are two.
fn two_logs(image: &SimFs) -> (String, String) {
    let logs = files(image, ".log");
    assert_eq!(
        logs.len(),
        2,
        "a flush stopped before its edit leaves the frozen memtable's log and the new one: {logs:?}"
    );
    (logs[0].clone(), logs[1].clone())
}

#[test]
fn a_missing_log_between_needed_logs_is_corruption() {
    let image = image_of_flush_stopped_before_its_edit(&two_log_setup);
    let (older, _newer) = two_logs(&image);
    let intact = open(&image.crash(CrashMode::ProcessKill), 1 << 20).unwrap();
    assert_eq!(
        scan_all(&intact).unwrap().len(),
        20,
        "with both logs there, recovery replays all 20 writes"
    );
    image.remove(&dir().join(&older)).unwrap();
    let result = open(&image, 1 << 20);
    assert!(
        matches!(result, Err(Error::Corruption { .. })),
        "with the older of two needed logs ({older}) deleted, open must fail with Corruption — the \
         newer log starts after a gap of sequence numbers; replaying what is there would open a \
         database with a hole in it. Got {:?}",
        result.map(|db| show(&scan_all(&db).unwrap_or_default()))
    );
}

#[test]
fn a_damaged_older_log_is_corruption() {
    let image = image_of_flush_stopped_before_its_edit(&two_log_setup);
    let (older, _newer) = two_logs(&image);
    let path = dir().join(&older);
    let len = image.file_bytes(&path).unwrap().len() as u64;
    // A cut tail: harmless in the newest log, but an older log was synced
    // whole before a newer one was started, so in it a cut is damage.
    let cut = image.crash(CrashMode::ProcessKill);
    cut.truncate(&path, len - 3).unwrap();
    let result = open(&cut, 1 << 20);
    assert!(
        matches!(result, Err(Error::Corruption { .. })),
        "a torn tail in {older}, a log that a newer log follows, must be Corruption (only the newest \
         log may end torn): got {:?}",
        result.map(|db| show(&scan_all(&db).unwrap_or_default()))
    );
    // Garbage after the older log's last record: no record is lost (the
    // newer log still continues it), but an older log was complete when
    // the newer one was started, so anything after its records is damage.
    let garbage = image.crash(CrashMode::ProcessKill);
    garbage.append_garbage(&path, &[0xa5; 40]).unwrap();
    let result = open(&garbage, 1 << 20);
    assert!(
        matches!(result, Err(Error::Corruption { .. })),
        "garbage after the records of {older}, a log that a newer log follows, must be Corruption \
         (a torn tail is allowed only in the newest log): got {:?}",
        result.map(|db| show(&scan_all(&db).unwrap_or_default()))
    );
    // A flipped bit in the middle of the older log.
    let flipped = image.crash(CrashMode::ProcessKill);
    flipped.flip_bit(&path, len * 4).unwrap();
    let result = open(&flipped, 1 << 20);
    assert!(
        matches!(result, Err(Error::Corruption { .. })),
        "a damaged record in {older} must be Corruption, never skipped or cut: got {:?}",
        result.map(|db| show(&scan_all(&db).unwrap_or_default()))
    );
}

#[test]
fn orphan_tables_are_deleted_at_open_and_unknown_files_are_left_alone() {
    let image = image_of_flush_stopped_before_its_edit(&two_log_setup);
    let orphans = files(&image, ".sst");
    assert_eq!(
        orphans.len(),
        1,
        "the stopped flush left its table, which no version holds: {orphans:?}"
    );
    let unknown = ["notes.txt", "7.log", "000099.sst.bak", "LOCK"];
    for name in unknown {
        write_file(&image, name, name.as_bytes());
    }
    let db = open(&image, 1 << 20).unwrap();
    let listing = image.list(dir()).unwrap();
    assert!(
        !listing.contains(&orphans[0]),
        "the orphan table {} (written, never installed) must be deleted at open, after the \
         recovered version is durable: {listing:?}",
        orphans[0]
    );
    for name in unknown {
        assert_eq!(
            image.file_bytes(dir().join(name)).as_deref(),
            Some(name.as_bytes()),
            "{name} is not a database file name: open must leave it alone"
        );
    }
    assert_eq!(
        scan_all(&db).unwrap().len(),
        20,
        "the writes came back from the logs"
    );
}

#[test]
fn a_table_whose_size_differs_from_the_manifest_is_corruption() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("small")).unwrap();
    db.flush().unwrap();
    for i in 0..30u32 {
        db.put(format!("k{i:02}"), "a longer table".repeat(3))
            .unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let tables = files(&fs, ".sst");
    assert_eq!(tables.len(), 2, "two flushes make two tables: {tables:?}");
    // A valid table, but another one: the manifest's size gives it away.
    let other = fs.file_bytes(dir().join(&tables[1])).unwrap();
    fs.remove(&dir().join(&tables[0])).unwrap();
    write_file(&fs, &tables[0], &other);
    let result = open(&fs, 1 << 20);
    assert!(
        matches!(&result, Err(Error::Corruption { file, .. }) if file.ends_with(&tables[0])),
        "{} holds a valid table of {} bytes but the manifest recorded another size: open must \
         fail with Corruption naming that file (check each table's size against its TableMeta \
         when opening it), got {:?}",
        tables[0],
        other.len(),
        result.map(|db| show(&scan_all(&db).unwrap_or_default()))
    );
    fs.remove(&dir().join(&tables[0])).unwrap();
    let result = open(&fs, 1 << 20);
    assert!(
        result.is_err(),
        "a table the manifest names is missing: open must fail, not serve a database without it"
    );
}

#[test]
fn file_numbers_are_never_reused_after_a_crash_during_a_flush() {
    let dry_run = SimFs::new();
    let db = open(&dry_run, 1 << 20).unwrap();
    two_log_setup(&db);
    let start = dry_run.op_count();
    db.flush().unwrap();
    let end = dry_run.op_count();
    for after in start..=end {
        for mode in [CrashMode::ProcessKill, CrashMode::PowerLoss] {
            let fs = SimFs::new();
            let db = open(&fs, 1 << 20).unwrap();
            two_log_setup(&db);
            fs.stop_after(after);
            let _ = db.flush();
            drop(db);
            let image = fs.crash(mode);
            let on_disk: Vec<String> = image.list(dir()).unwrap();
            let highest = on_disk
                .iter()
                .filter_map(|name| file_number(name))
                .max()
                .unwrap_or(0);
            let before = image.op_count();
            let db = open(&image, 1 << 20).unwrap_or_else(|e| {
                panic!(
                    "reopening after a crash after op {after} ({mode}) failed: {e}\n{}",
                    fs.trace_string()
                )
            });
            db.put(b("after"), b("reopen")).unwrap();
            db.flush().unwrap();
            let reused: Vec<String> = trace_since(&image, before)
                .iter()
                .filter(|op| op.kind == OpKind::Create)
                .map(file_name)
                .filter(|name| file_number(name).is_some_and(|n| n <= highest))
                .collect();
            assert!(
                reused.is_empty(),
                "crash after op {after} ({mode}), files on disk {on_disk:?}: after reopening, new \
                 files must be numbered above every file on disk (the highest is {highest}), but \
                 {reused:?} were created — a file number is never reused, even after a crash\n{}",
                fs.trace_string()
            );
            let len = scan_all(&db).unwrap().len();
            assert!(
                len == 21 || (mode == CrashMode::PowerLoss && len == 1),
                "crash after op {after} ({mode}): the 20 writes (synced by the freeze) and the new \
                 one must be there, {len} pairs are"
            );
        }
    }
}

// ── task 5: crash safety ─────────────────────────────────────────────────

fn batch_setup(db: &Db) {
    db.write(
        WriteBatch::default().put(b("before"), b("synced")),
        WriteOptions { sync: true },
    )
    .unwrap();
}

/// 30 puts in one batch: more than the memtable holds, so writing it also
/// freezes and flushes.
fn big_batch() -> WriteBatch {
    (0..30u32).fold(WriteBatch::default(), |batch, i| {
        batch.put(
            format!("bk{i:02}"),
            format!("batch-value-{i:02}-{}", "z".repeat(12)),
        )
    })
}

// Crash at every operation of writing one large batch (which also freezes
// and flushes the memtable) and of the sync after it, in every crash mode:
// the recovered database holds all of the batch or none of it.
#[test]
fn a_batch_is_all_or_nothing_after_a_crash_at_any_point() {
    let run = |fs: &SimFs| -> Option<Db> {
        let db = open(fs, 600).ok()?;
        batch_setup(&db);
        Some(db)
    };
    let dry_run = SimFs::new();
    let db = run(&dry_run).unwrap();
    let start = dry_run.op_count();
    db.write(big_batch(), WriteOptions::default()).unwrap();
    db.sync().unwrap();
    assert!(
        db.stats().flushes >= 1,
        "the batch is larger than the memtable, so it is flushed"
    );
    let end = dry_run.op_count();
    for after in start..=end {
        for mode in CrashMode::all(after) {
            let fs = SimFs::new();
            let db = run(&fs).unwrap();
            fs.stop_after(after);
            let acked = db.write(big_batch(), WriteOptions::default()).is_ok() && db.sync().is_ok();
            drop(db);
            let db = open(&fs.crash(mode), 600).unwrap_or_else(|e| {
                panic!(
                    "reopening after a crash after op {after} ({mode}) failed: {e}\n{}",
                    fs.trace_string()
                )
            });
            let recovered = scan_all(&db).unwrap();
            let batch_keys = recovered
                .iter()
                .filter(|(k, _)| k.starts_with(b"bk"))
                .count();
            assert!(
                batch_keys == 0 || batch_keys == 30,
                "crash after op {after} ({mode}): {batch_keys} of the batch's 30 puts were recovered \
                 — a batch is one log record, applied whole or not at all (writing each op as its \
                 own record, or freezing in the middle of a batch, splits it)\n{}",
                fs.trace_string()
            );
            assert!(
                !(acked && batch_keys == 0),
                "crash after op {after} ({mode}): the batch and its sync were acknowledged but lost"
            );
            assert!(
                recovered.iter().any(|(k, _)| k.as_ref() == b"before"),
                "crash after op {after} ({mode}): the synced write before the batch was lost"
            );
        }
    }
}

// Crash at every operation of a flush, in every crash image (two seeds
// each): every synced write is still there, whether the crash left the
// table, the edit, the log or all of them.
#[test]
fn power_loss_during_a_flush_never_loses_a_synced_write() {
    let setup = |db: &Db| {
        for i in 0..20u32 {
            db.put(format!("key{i:02}"), format!("value-{i:02}"))
                .unwrap();
        }
        db.sync().unwrap();
    };
    let dry_run = SimFs::new();
    let db = open(&dry_run, 1 << 20).unwrap();
    setup(&db);
    let start = dry_run.op_count();
    db.flush().unwrap();
    let end = dry_run.op_count();
    for after in start..=end {
        let fs = SimFs::new();
        let db = open(&fs, 1 << 20).unwrap();
        setup(&db);
        fs.stop_after(after);
        let _ = db.flush();
        drop(db);
        for mode in CrashMode::all(after)
            .into_iter()
            .chain(CrashMode::all(after + 1000))
        {
            let db = open(&fs.crash(mode), 1 << 20).unwrap_or_else(|e| {
                panic!(
                    "reopening after a crash after op {after} ({mode}) failed: {e}\n{}",
                    fs.trace_string()
                )
            });
            let recovered = scan_all(&db).unwrap();
            assert_eq!(
                recovered.len(),
                20,
                "crash after op {after} of the flush ({mode}): {} of 20 synced writes recovered \
                 ({}). The flushed log may be deleted only after the table is synced, its name \
                 made durable, and the manifest edit that retires the log is synced\n{}",
                recovered.len(),
                show(&recovered),
                fs.trace_string()
            );
        }
    }
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    Put(u8, usize),
    Delete(u8),
    Batch(Vec<(u8, Option<usize>)>),
    Get(u8),
    Scan(u8, u8, bool),
    Flush,
    Reopen,
    CrashReopen,
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0u8..12, 0usize..40).prop_map(|(k, len)| Step::Put(k, len)),
        2 => (0u8..12).prop_map(Step::Delete),
        2 => prop::collection::vec((0u8..12, prop::option::weighted(0.8, 0usize..30)), 0..5)
            .prop_map(Step::Batch),
        2 => (0u8..12).prop_map(Step::Get),
        1 => (0u8..12, 0u8..12, any::<bool>()).prop_map(|(lo, hi, inclusive)| Step::Scan(lo, hi, inclusive)),
        1 => Just(Step::Flush),
        1 => Just(Step::Reopen),
        1 => Just(Step::CrashReopen),
    ]
}

fn model_key(k: u8) -> Bytes {
    Bytes::from(format!("key{k:02}"))
}

fn model_value(k: u8, step: usize, len: usize) -> Bytes {
    Bytes::from(format!("{k}@{step}:{}", "v".repeat(len)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    // Random puts, deletes, batches, gets, scans, flushes, reopens and
    // crash-reopens (process kill) with a 256-byte memtable (so many
    // flushes), against a BTreeMap.
    #[test]
    fn engine_matches_a_model_with_flushes_reopens_and_crashes(steps in prop::collection::vec(arb_step(), 1..40)) {
        let mut fs = SimFs::new();
        let mut db = open(&fs, 256).unwrap();
        let mut model = Model::new();
        for (index, step) in steps.iter().enumerate() {
            match step {
                Step::Put(k, len) => {
                    db.put(model_key(*k), model_value(*k, index, *len)).unwrap();
                    model.insert(model_key(*k), model_value(*k, index, *len));
                }
                Step::Delete(k) => {
                    db.delete(model_key(*k)).unwrap();
                    model.remove(&model_key(*k));
                }
                Step::Batch(ops) => {
                    let mut batch = WriteBatch::default();
                    for (k, len) in ops {
                        batch = match len {
                            Some(len) => batch.put(model_key(*k), model_value(*k, index, *len)),
                            None => batch.delete(model_key(*k)),
                        };
                        match len {
                            Some(len) => model.insert(model_key(*k), model_value(*k, index, *len)),
                            None => model.remove(&model_key(*k)),
                        };
                    }
                    db.write(batch, WriteOptions::default()).unwrap();
                }
                Step::Get(k) => {
                    let got = db.get(&model_key(*k)).unwrap();
                    prop_assert_eq!(got.as_ref(), model.get(&model_key(*k)), "get(key{:02}) at step {} disagrees with the model: the newest version across the memtables and tables decides, a tombstone hides", k, index);
                }
                Step::Scan(lo, hi, inclusive) => {
                    let (lo, hi) = (model_key(*lo), model_key(*hi));
                    let upper = if *inclusive { Bound::Included(hi.as_ref()) } else { Bound::Excluded(hi.as_ref()) };
                    let range = (Bound::Included(lo.as_ref()), upper);
                    let got: Vec<(Bytes, Bytes)> = db.scan(range).collect::<lsm_workbook::Result<_>>().unwrap();
                    let expected: Vec<(Bytes, Bytes)> =
                        pairs(&model).into_iter().filter(|(k, _)| in_bounds(k, range)).collect();
                    prop_assert_eq!(&got, &expected, "scan {:?} at step {} disagrees with the model: got {}, expected {}", range, index, show(&got), show(&expected));
                }
                Step::Flush => db.flush().unwrap(),
                Step::Reopen | Step::CrashReopen => {
                    let last_seq = db.last_seq();
                    if matches!(step, Step::Reopen) {
                        db.close().unwrap();
                    } else {
                        let image = fs.crash(CrashMode::ProcessKill);
                        drop(db);
                        fs = image;
                    }
                    db = open(&fs, 256).unwrap();
                    prop_assert_eq!(db.last_seq(), last_seq, "{:?} at step {} must recover last_seq", step, index);
                    let got = scan_all(&db).unwrap();
                    prop_assert_eq!(
                        &got, &pairs(&model),
                        "after {:?} at step {} the database must hold every acknowledged write: got {}, expected {}",
                        step, index, show(&got), show(&pairs(&model))
                    );
                }
            }
        }
        let got = scan_all(&db).unwrap();
        prop_assert_eq!(&got, &pairs(&model), "at the end: got {}, expected {}", show(&got), show(&pairs(&model)));
    }
}

// The exact order of a flush, pinned (the book reads it line by line): the
// freeze syncs the old log and creates the next; the table is written,
// synced and its name made durable; the edit is appended and synced; only
// then is the old log removed.
#[test]
fn flush_trace_matches_snapshot() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    db.write(
        WriteBatch::default()
            .put(b("b"), b("2"))
            .put(b("c"), b("3")),
        WriteOptions { sync: true },
    )
    .unwrap();
    let before = fs.op_count() as usize;
    db.flush().unwrap();
    let trace: String = fs.trace()[before..]
        .iter()
        .map(|op| format!("{op}\n"))
        .collect();
    insta::assert_snapshot!("flush_trace", trace);
}

// The exact order of recovery, pinned: the replayed log becomes a table,
// one edit adds it and retires the log, and only then is the new log
// created and the old one removed.
#[test]
fn recovery_trace_matches_snapshot() {
    let fs = SimFs::new();
    let db = open(&fs, 1 << 20).unwrap();
    db.put(b("a"), b("1")).unwrap();
    db.flush().unwrap();
    db.put(b("b"), b("2")).unwrap();
    db.put(b("c"), b("3")).unwrap();
    drop(db); // a process kill: the two puts are only in the log
    let image = fs.crash(CrashMode::ProcessKill);
    let db = open(&image, 1 << 20).unwrap();
    let trace = image.trace_string();
    assert_eq!(
        db.get(b"c").unwrap(),
        Some(b("3")),
        "the logged writes are recovered"
    );
    insta::assert_snapshot!("recovery_trace", trace);
}
