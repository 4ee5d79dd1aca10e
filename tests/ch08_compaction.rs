//! Graded tests for chapter 8 — compaction. Book: "8. Compaction".
//! Run: `cargo test --test ch08_compaction --features ref-upto-ch07`.
//!
//! Three kinds of tests:
//! - the policy ([`pick`]) and [`retain`] on hand-built inputs, no files;
//! - [`compact`] through the engine, driven by a scripted [`Compaction`]
//!   that says which level to compact when (so a test can build exactly
//!   the shape it needs, e.g. a value deep down and a tombstone above it);
//! - the whole engine with [`Leveled`] on the simulated file system with
//!   scaled-down shapes: memtables of a few KiB, a level-1 target of a few
//!   KiB, small tables, so a few thousand writes build several levels.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lsm_workbook::ch06_manifest::{
    LEVEL_COUNT, TableMeta, Version, VersionEdit, read_current, replay,
};
use lsm_workbook::ch07_engine::{Compaction, Db, DbStats, Maintenance, Options, WriteOptions};
use lsm_workbook::ch08_compaction::{
    Leveled, LeveledOptions, Task, compact, level_target_bytes, pick, retain,
};
use lsm_workbook::filename::FileName;
use lsm_workbook::fs::sim::CrashPoint;
use lsm_workbook::fs::{CrashMode, Fs, SimFs};
use lsm_workbook::types::{Entry, InternalKey, SeqNo, WriteBatch};
use proptest::prelude::*;
use support::{del, put};

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

// ---------------------------------------------------------------------------
// Hand-built versions for the policy.
// ---------------------------------------------------------------------------

/// The policy's shape for hand-built versions: level 0 at 4 tables, level 1
/// holds 1000 bytes, level 2 10,000, level 3 100,000, …
fn policy_shape() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 4,
        level1_target_bytes: 1000,
        level_size_factor: 10,
        table_target_bytes: 100,
    }
}

/// A table numbered `number` holding user keys `smallest..=largest`.
fn table(number: u64, smallest: &str, largest: &str, size_bytes: u64) -> TableMeta {
    TableMeta {
        file_number: number,
        size_bytes,
        smallest: InternalKey::new(b(smallest), 50),
        largest: InternalKey::new(b(largest), 40),
    }
}

/// The version holding `tables` (level, table).
fn version(tables: &[(usize, TableMeta)]) -> Version {
    Version::default()
        .apply(&VersionEdit {
            next_file_number: Some(10_000),
            added: tables.to_vec(),
            ..VersionEdit::default()
        })
        .unwrap_or_else(|e| panic!("the test's hand-built version is invalid: {e}"))
}

fn numbers(tables: &[TableMeta]) -> Vec<u64> {
    let mut numbers: Vec<u64> = tables.iter().map(|t| t.file_number).collect();
    numbers.sort_unstable();
    numbers
}

/// `pick`, which must find a task.
fn must_pick(version: &Version, what: &str) -> Task {
    pick(version, &policy_shape()).unwrap_or_else(|| panic!("pick returned None, but {what}"))
}

#[test]
fn pick_finds_nothing_to_do_in_an_empty_or_small_version() {
    assert_eq!(
        pick(&Version::default(), &policy_shape()),
        None,
        "an empty version needs no compaction (a score of 0 must not count as due: only a score \
         of at least 1 is)"
    );
    let v = version(&[
        (0, table(1, "a", "z", 50)),
        (0, table(2, "a", "z", 50)),
        (0, table(3, "a", "z", 50)),
        (1, table(4, "a", "m", 450)),
        (1, table(5, "n", "z", 450)),
        (2, table(6, "a", "z", 9000)),
    ]);
    assert_eq!(
        pick(&v, &policy_shape()),
        None,
        "3 level-0 tables (trigger 4), 900 of 1000 bytes in level 1 and 9000 of 10,000 in level 2: \
         every score is below 1, so no task is due (is the byte target of level 2 \
         level1_target_bytes × factor?)"
    );
}

#[test]
fn pick_compacts_level0_once_it_holds_trigger_tables() {
    let mut tables: Vec<(usize, TableMeta)> =
        (1..=3).map(|n| (0, table(n, "c", "x", 10))).collect();
    assert_eq!(
        pick(&version(&tables), &policy_shape()),
        None,
        "3 level-0 tables with a trigger of 4 are not due yet (level 0 scores its table count \
         over the trigger, not its bytes)"
    );
    tables.push((0, table(4, "c", "x", 10)));
    let task = must_pick(&version(&tables), "4 level-0 tables reach the trigger of 4");
    assert_eq!(task.level, 0, "level 0 at its trigger must be compacted");
    assert_eq!(
        numbers(&task.inputs),
        vec![1, 2, 3, 4],
        "a level-0 compaction takes every level-0 table"
    );
    assert!(
        task.overlapping.is_empty(),
        "level 1 is empty, so nothing of it overlaps"
    );
}

#[test]
fn pick_from_level0_takes_every_table_even_disjoint_ones() {
    let v = version(&[
        (0, table(1, "a", "b", 10)),
        (0, table(2, "m", "n", 10)),
        (0, table(3, "a", "z", 10)),
        (0, table(4, "y", "z", 10)),
        (1, table(5, "c", "d", 100)),
    ]);
    let task = must_pick(&v, "level 0 holds 4 tables, its trigger");
    assert_eq!(task.level, 0, "level 0 is the one due");
    assert_eq!(
        numbers(&task.inputs),
        vec![1, 2, 3, 4],
        "level 0 must give all its tables, not just the oldest or one: their ranges overlap, so \
         leaving one behind could leave an older version above a newer one in level 1"
    );
    assert_eq!(
        numbers(&task.overlapping),
        vec![5],
        "the level-1 table c..d lies inside the level-0 tables' range a..z"
    );
    assert!(
        !task.is_trivial_move(),
        "four inputs are never a trivial move"
    );
}

#[test]
fn pick_compacts_a_level_over_its_byte_target() {
    let v = version(&[
        (1, table(1, "a", "f", 400)),
        (1, table(2, "g", "m", 700)),
        (1, table(3, "n", "z", 300)),
    ]);
    let task = must_pick(&v, "level 1 holds 1400 bytes, over its 1000-byte target");
    assert_eq!(task.level, 1, "level 1 is over its target");
    assert_eq!(
        numbers(&task.inputs),
        vec![1],
        "from a level ≥ 1 the policy takes one table, not the whole level; with nothing below, \
         every table overlaps 0 bytes, and the tie goes to the smallest keys (table 1, a..f)"
    );
}

#[test]
fn pick_from_a_level_takes_the_table_with_the_least_overlap_below_for_its_size() {
    // Level 1: 1800 bytes over 1000. Level 2: 8000 bytes, under 10,000.
    // Overlap per byte: table 1 4000/800 = 5, table 2 1000/700 ≈ 1.4,
    // table 3 3000/300 = 10.
    let v = version(&[
        (1, table(1, "a", "f", 800)),
        (1, table(2, "g", "m", 700)),
        (1, table(3, "n", "z", 300)),
        (2, table(10, "a", "e", 4000)),
        (2, table(11, "h", "k", 1000)),
        (2, table(12, "o", "y", 3000)),
    ]);
    let task = must_pick(&v, "level 1 holds 1800 bytes, over its 1000-byte target");
    assert_eq!(
        (task.level, numbers(&task.inputs)),
        (1, vec![2]),
        "table 2 rewrites 1000 bytes below for its 700 (about 1.4 per byte), fewer than table 1 \
         (5 per byte: the largest table is not the rule) or table 3 (10 per byte, and not the \
         fewest bytes below either: the ratio is overlap ÷ the table's own size)"
    );
    assert_eq!(
        numbers(&task.overlapping),
        vec![11],
        "only h..=k of level 2 overlaps g..=m"
    );
}

#[test]
fn pick_takes_the_highest_score_first() {
    // Level 1: 1500 / 1000 = 1.5. Level 2: 25,000 / 10,000 = 2.5. Level 0: 4/4 = 1.
    let mut tables: Vec<(usize, TableMeta)> =
        (1..=4).map(|n| (0, table(n, "a", "b", 10))).collect();
    tables.push((1, table(10, "a", "k", 1500)));
    tables.push((2, table(20, "a", "k", 12_500)));
    tables.push((2, table(21, "l", "z", 12_500)));
    let task = must_pick(&version(&tables), "three levels score at least 1");
    assert_eq!(
        task.level, 2,
        "level 2 scores 2.5, above level 1 (1.5) and level 0 (1.0): the highest score goes first, \
         not the first level that is due"
    );
}

#[test]
fn pick_breaks_a_tie_toward_the_lower_level() {
    // Level 1: 2000 / 1000 = 2. Level 2: 20,000 / 10,000 = 2.
    let v = version(&[
        (1, table(10, "a", "k", 2000)),
        (2, table(20, "a", "k", 10_000)),
        (2, table(21, "l", "z", 10_000)),
    ]);
    let task = must_pick(&v, "two levels score 2");
    assert_eq!(
        task.level, 1,
        "levels 1 and 2 both score 2: on a tie the lower level goes first (its data is the \
         newest) — compare with > not >=, or scan from level 0 down"
    );
}

#[test]
fn pick_skips_empty_levels_and_compacts_into_an_empty_one() {
    let v = version(&[(3, table(30, "a", "z", 150_000))]);
    let task = must_pick(&v, "level 3 holds 150,000 bytes over its 100,000 target");
    assert_eq!(
        task.level, 3,
        "levels 0–2 are empty (score 0, not NaN or a division by an empty level): level 3 is due"
    );
    assert_eq!(
        numbers(&task.inputs),
        vec![30],
        "its one table is the input"
    );
    assert!(
        task.overlapping.is_empty(),
        "level 4 is empty: nothing overlaps"
    );
    assert!(
        task.is_trivial_move(),
        "one table with nothing below to merge with is a trivial move"
    );
}

#[test]
fn pick_never_scores_the_last_level() {
    let last = LEVEL_COUNT - 1;
    let v = version(&[(last, table(1, "a", "z", u64::MAX / 4))]);
    assert_eq!(
        pick(&v, &policy_shape()),
        None,
        "the last level (level {last}) has nowhere below it to go: it must never be picked, \
         however large"
    );
}

#[test]
fn pick_adds_every_overlapping_table_of_the_next_level_and_no_other() {
    let v = version(&[
        (1, table(1, "f", "m", 1500)),
        (2, table(10, "a", "c", 100)),
        // Ends at "f": overlaps (by user key, whatever the sequence numbers).
        (
            2,
            TableMeta {
                file_number: 11,
                size_bytes: 100,
                smallest: InternalKey::new(b("d"), 9),
                largest: InternalKey::new(b("f"), 99),
            },
        ),
        (2, table(12, "g", "h", 100)),
        // Starts at "m": overlaps.
        (
            2,
            TableMeta {
                file_number: 13,
                size_bytes: 100,
                smallest: InternalKey::new(b("m"), 1),
                largest: InternalKey::new(b("n"), 1),
            },
        ),
        (2, table(14, "o", "z", 100)),
    ]);
    let task = must_pick(&v, "level 1 holds 1500 bytes over its 1000 target");
    assert_eq!(task.level, 1, "level 1 is the one due");
    assert_eq!(numbers(&task.inputs), vec![1], "its one table is the input");
    assert_eq!(
        numbers(&task.overlapping),
        vec![11, 12, 13],
        "the input holds keys f..=m: tables 11 (d..=f, touching at f), 12 (g..=h, inside) and 13 \
         (m..=n, touching at m) overlap it and must be merged; 10 (a..=c) and 14 (o..=z) must \
         not. Compare user keys with inclusive bounds, not internal keys (every version of a key \
         must move together)"
    );
    assert!(
        !task.is_trivial_move(),
        "with overlapping tables below it is not a trivial move"
    );
}

#[test]
fn pick_from_a_level_prefers_a_table_with_nothing_below_and_moves_it() {
    let v = version(&[
        (1, table(1, "a", "c", 300)),
        (1, table(2, "d", "f", 900)),
        (1, table(3, "g", "k", 200)),
        (2, table(10, "a", "b", 100)),
        (2, table(11, "x", "z", 100)),
    ]);
    let task = must_pick(&v, "level 1 holds 1400 bytes over its 1000 target");
    assert_eq!(
        (task.level, numbers(&task.inputs)),
        (1, vec![2]),
        "tables 2 (d..f) and 3 (g..k) overlap nothing in level 2, table 1 (a..c) overlaps a..b: \
         of the two with no overlap, table 2 has the smaller keys"
    );
    assert!(
        task.overlapping.is_empty(),
        "nothing in level 2 overlaps d..=f (a..=b and x..=z do not)"
    );
    assert!(
        task.is_trivial_move(),
        "one input and nothing below: a trivial move"
    );
}

// ---------------------------------------------------------------------------
// retain on hand-built version lists.
// ---------------------------------------------------------------------------

fn show(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| match e.value.as_put() {
            Some(v) => format!("@{}={}", e.seq, String::from_utf8_lossy(v)),
            None => format!("@{}=<del>", e.seq),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn retain_keeps_versions_newer_than_the_oldest_readable_seq_and_the_newest_at_or_below() {
    let versions = [
        put("k", 9, "c"),
        put("k", 7, "b"),
        put("k", 4, "a2"),
        put("k", 2, "a1"),
    ];
    let kept = retain(&versions, 5, false);
    assert_eq!(
        show(&kept),
        show(&versions[..3]),
        "S = 5: k@9 and k@7 are newer than S (a reader between them may want them), k@4 is what a \
         reader at S sees; only k@2, hidden by k@4 from every reader, goes"
    );
    let kept = retain(&versions, 7, false);
    assert_eq!(
        show(&kept),
        show(&versions[..2]),
        "S = 7: k@9 is newer, k@7 (seq equal to S) is the newest at or below S and is kept; \
         everything older goes (compare seq > S for 'newer', not >=)"
    );
}

#[test]
fn retain_drops_every_version_hidden_by_a_newer_one() {
    let versions = [
        put("k", 30, "new"),
        put("k", 20, "mid"),
        del("k", 15),
        put("k", 10, "old"),
    ];
    let kept = retain(&versions, 100, false);
    assert_eq!(
        show(&kept),
        show(&versions[..1]),
        "every version is at or below S = 100: only the newest is visible to any reader, the \
         others are shadowed and must go (that is how compaction reclaims space)"
    );
}

#[test]
fn retain_drops_a_tombstone_at_the_bottom() {
    let versions = [del("k", 8), put("k", 3, "old")];
    let kept = retain(&versions, 10, true);
    assert!(
        kept.is_empty(),
        "a tombstone at or below S, at the bottom (no deeper level can hold k): it hides \
         nothing any more and must go with everything older; kept {}",
        show(&kept)
    );
}

#[test]
fn retain_keeps_a_tombstone_where_a_deeper_level_may_hold_the_key() {
    let versions = [del("k", 8), put("k", 3, "old")];
    let kept = retain(&versions, 10, false);
    assert_eq!(
        show(&kept),
        show(&versions[..1]),
        "not at the bottom: a deeper level may hold an older k, and dropping the tombstone would \
         bring it back (a resurrected delete); keep the tombstone, drop what it hides"
    );
}

#[test]
fn retain_keeps_a_tombstone_newer_than_the_oldest_readable_seq_even_at_the_bottom() {
    let versions = [del("k", 8), put("k", 3, "old")];
    let kept = retain(&versions, 5, true);
    assert_eq!(
        show(&kept),
        show(&versions),
        "S = 5: a reader at 5 must still see k@3; the tombstone @8 is newer than S and a reader \
         above it must see k deleted: both stay, even at the bottom"
    );
}

#[test]
fn retain_with_the_oldest_readable_seq_at_zero_keeps_every_version() {
    let versions = [
        put("k", 9, "c"),
        del("k", 6),
        put("k", 4, "b"),
        put("k", 1, "a"),
    ];
    let kept = retain(&versions, 0, true);
    assert_eq!(
        show(&kept),
        show(&versions),
        "S = 0: every version is newer than S (sequence numbers start at 1), so a reader may \
         want any of them: keep all (do not stop at the first version)"
    );
}

#[test]
fn retain_with_the_oldest_readable_seq_at_max_keeps_only_the_newest() {
    let versions = [put("k", 9, "c"), del("k", 6), put("k", 4, "b")];
    assert_eq!(
        show(&retain(&versions, SeqNo::MAX, false)),
        show(&versions[..1]),
        "S = MAX: only the newest version can be read"
    );
    let tomb = [del("k", 9), put("k", 4, "b")];
    assert!(
        retain(&tomb, SeqNo::MAX, true).is_empty(),
        "S = MAX at the bottom, the newest a tombstone: nothing of k is left"
    );
    assert!(
        retain(&[], SeqNo::MAX, true).is_empty(),
        "no versions in, none out"
    );
}

// ---------------------------------------------------------------------------
// compact through the engine, with a scripted compaction.
// ---------------------------------------------------------------------------

/// A compaction the test drives: each flush runs the queued levels (all
/// of level L and the overlapping tables of L+1, merged by the learner's
/// [`compact`] into L+1) and records every task and edit.
#[derive(Debug, Default)]
struct Scripted {
    queue: Mutex<VecDeque<usize>>,
    /// Overrides the engine's oldest readable sequence number.
    oldest_readable_seq: Option<SeqNo>,
    table_target_bytes: u64,
    done: Mutex<Vec<(Task, VersionEdit)>>,
}

impl Scripted {
    fn new(table_target_bytes: u64, oldest_readable_seq: Option<SeqNo>) -> Arc<Scripted> {
        Arc::new(Scripted {
            table_target_bytes,
            oldest_readable_seq,
            ..Scripted::default()
        })
    }

    fn queue(&self, levels: &[usize]) {
        self.queue.lock().unwrap().extend(levels);
    }

    fn done(&self) -> Vec<(Task, VersionEdit)> {
        self.done.lock().unwrap().clone()
    }
}

fn overlaps(table: &TableMeta, smallest: &Bytes, largest: &Bytes) -> bool {
    table.largest.key >= *smallest && table.smallest.key <= *largest
}

impl Compaction for Scripted {
    fn run(&self, context: &mut Maintenance<'_>) -> lsm_workbook::Result<()> {
        if let Some(seq) = self.oldest_readable_seq {
            context.oldest_readable_seq = seq;
        }
        loop {
            let Some(level) = self.queue.lock().unwrap().pop_front() else {
                return Ok(());
            };
            let version = context.manifest.version();
            let inputs = version.level(level).to_vec();
            let (Some(smallest), Some(largest)) = (
                inputs.iter().map(|t| t.smallest.key.clone()).min(),
                inputs.iter().map(|t| t.largest.key.clone()).max(),
            ) else {
                continue;
            };
            let overlapping = version
                .level(level + 1)
                .iter()
                .filter(|t| overlaps(t, &smallest, &largest))
                .cloned()
                .collect();
            let task = Task {
                level,
                inputs,
                overlapping,
            };
            let edit = compact(context, &task, self.table_target_bytes)?;
            self.done.lock().unwrap().push((task, edit.clone()));
            context.manifest.install(&edit)?;
        }
    }
}

fn scripted_db(fs: &SimFs, compaction: &Arc<Scripted>) -> Db {
    let compaction: Arc<dyn Compaction> = Arc::clone(compaction) as Arc<dyn Compaction>;
    Db::open(
        dir(),
        Options {
            fs: Arc::new(fs.clone()),
            memtable_size_bytes: 1 << 20,
            salt_seed: Some(8),
            compaction: Some(compaction),
            ..Options::default()
        },
    )
    .expect("the database must open")
}

/// The current version, replayed from the directory's manifest.
fn replayed_version(fs: &SimFs) -> Version {
    let number = read_current(fs, dir())
        .expect("CURRENT must be readable")
        .expect("CURRENT must name a manifest");
    let path = FileName::Manifest(number).path(dir());
    replay(fs, &path)
        .unwrap_or_else(|e| panic!("the manifest must replay: {e}"))
        .0
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

/// Writes keys `keys` with values of `value_len` bytes tagged `tag`.
fn write_keys(db: &Db, keys: impl Iterator<Item = u32>, tag: &str, value_len: usize) {
    for i in keys {
        let value = format!("{tag}-{i:05}-{}", "v".repeat(value_len));
        db.put(b(&key(i)), b(&value)).unwrap();
    }
}

#[test]
fn compact_writes_outputs_to_the_next_level_and_removes_every_input_in_one_edit() {
    let fs = SimFs::new();
    let scripted = Scripted::new(2 << 10, None);
    let db = scripted_db(&fs, &scripted);
    // Level 1: one table of the even keys (moved down from level 0).
    write_keys(&db, (0..200).step_by(2), "first", 20);
    scripted.queue(&[0]);
    db.flush().unwrap();
    // Level 0: two tables, overlapping level 1.
    write_keys(&db, 50..120, "second", 20);
    db.flush().unwrap();
    write_keys(&db, 100..150, "third", 20);
    scripted.queue(&[0]);
    db.flush().unwrap();
    let done = scripted.done();
    assert_eq!(done.len(), 2, "the test ran two compactions");
    let (task, edit) = &done[1];
    assert_eq!(task.inputs.len(), 2, "two level-0 tables were compacted");
    assert!(!task.overlapping.is_empty(), "they overlap level 1");
    let mut removed = edit.removed.clone();
    removed.sort_unstable();
    let mut want: Vec<(usize, u64)> = task
        .inputs
        .iter()
        .map(|t| (0, t.file_number))
        .chain(task.overlapping.iter().map(|t| (1, t.file_number)))
        .collect();
    want.sort_unstable();
    assert_eq!(
        removed, want,
        "the edit must remove every input (level 0) and every overlapping table (level 1), each \
         at its own level, in the same edit that adds the outputs"
    );
    assert!(
        !edit.added.is_empty() && edit.added.iter().all(|(level, _)| *level == 1),
        "the outputs must go to level task.level + 1 = 1, got levels {:?}",
        edit.added.iter().map(|(l, _)| *l).collect::<Vec<_>>()
    );
    let version = replayed_version(&fs);
    assert!(
        version.level(0).is_empty(),
        "after installing, level 0 holds nothing"
    );
    for (_, t) in &edit.added {
        assert!(
            fs.file_bytes(FileName::Table(t.file_number).path(dir()))
                .is_some(),
            "output table {} must exist on disk",
            t.file_number
        );
    }
    for i in 0..200 {
        let want = if (100..150).contains(&i) {
            Some("third")
        } else if (50..120).contains(&i) {
            Some("second")
        } else if i % 2 == 0 {
            Some("first")
        } else {
            None
        };
        let got = db.get(key(i).as_bytes()).unwrap();
        let got_tag = got.as_ref().map(|v| {
            String::from_utf8_lossy(v)
                .split('-')
                .next()
                .unwrap_or("")
                .to_owned()
        });
        assert_eq!(
            got_tag.as_deref(),
            want,
            "get({}) after the compaction: the newest version must win (merge newest first)",
            key(i)
        );
    }
}

#[test]
fn compact_splits_outputs_near_the_target_size_and_never_inside_a_key() {
    let fs = SimFs::new();
    let target = 2 << 10;
    // Keep every version (as if a snapshot at 0 were open): each key holds
    // 6 versions of ~100 bytes, ~600 bytes a key, so table boundaries often
    // fall inside a key's versions.
    let scripted = Scripted::new(target, Some(0));
    let db = scripted_db(&fs, &scripted);
    for round in 0..6 {
        // Values of 40 to 140 bytes, so that the sizes do not line up
        // with key boundaries.
        for i in 0..60u32 {
            let value = format!(
                "r{round}-{i:05}-{}",
                "v".repeat(40 + (i * 37 % 100) as usize)
            );
            db.put(b(&key(i)), b(&value)).unwrap();
        }
        db.flush().unwrap();
    }
    scripted.queue(&[0]);
    let flushed = db.flush();
    let done = scripted.done();
    let (_, edit) = done.last().expect("the compaction ran");
    let mut outputs: Vec<TableMeta> = edit.added.iter().map(|(_, t)| t.clone()).collect();
    outputs.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    let total: u64 = outputs.iter().map(|t| t.size_bytes).sum();
    assert!(
        outputs.len() >= 6,
        "about {total} bytes with a target of {target}: expected many output tables, got {} \
         (start a new table once the current one reaches table_target_bytes)",
        outputs.len()
    );
    for pair in outputs.windows(2) {
        assert!(
            pair[0].largest.key < pair[1].smallest.key,
            "output tables {} (…{:?}@{}) and {} ({:?}@{}…) share or overlap user keys: split only \
             between two keys, never inside one key's versions",
            pair[0].file_number,
            pair[0].largest.key,
            pair[0].largest.seq,
            pair[1].file_number,
            pair[1].smallest.key,
            pair[1].smallest.seq,
        );
    }
    assert!(
        flushed.is_ok(),
        "the compaction's edit was refused: {:?}",
        flushed.err()
    );
    for t in &outputs[..outputs.len() - 1] {
        assert!(
            t.size_bytes >= target / 2 && t.size_bytes <= 2 * target,
            "output table {} holds {} bytes, not near the target {target} (every output but the \
             last should be about table_target_bytes)",
            t.file_number,
            t.size_bytes
        );
    }
    for seq in [1u64, 61, 200, 360] {
        let round = (seq - 1) / 60;
        let got = db.get_at(key(0).as_bytes(), seq).unwrap();
        assert!(
            got.as_ref()
                .is_some_and(|v| v.starts_with(format!("r{round}-").as_bytes())),
            "with the oldest readable seq at 0 every version must survive: get_at({}, {seq}) \
             should be round {round}, got {:?}",
            key(0),
            got.map(|v| String::from_utf8_lossy(&v[..8.min(v.len())]).into_owned())
        );
    }
}

#[test]
fn compact_drops_shadowed_versions() {
    let fs = SimFs::new();
    let scripted = Scripted::new(1 << 20, None);
    let db = scripted_db(&fs, &scripted);
    for round in 0..8 {
        write_keys(&db, 0..100, &format!("r{round}"), 60);
        db.flush().unwrap();
    }
    let before: u64 = db.stats().levels.iter().map(|(_, bytes)| bytes).sum();
    scripted.queue(&[0]);
    db.flush().unwrap();
    let stats = db.stats();
    let after: u64 = stats.levels.iter().map(|(_, bytes)| bytes).sum();
    assert!(
        after * 4 < before,
        "8 overwrites of the same 100 keys: compaction must keep only the newest version of each \
         (no reader can see older ones), so the bytes must shrink about 8×: {before} bytes before, \
         {after} after"
    );
    for i in (0..100).step_by(7) {
        let got = db.get(key(i).as_bytes()).unwrap();
        assert!(
            got.as_ref().is_some_and(|v| v.starts_with(b"r7-")),
            "get({}) must return the newest version (round 7) after compaction",
            key(i)
        );
    }
}

#[test]
fn a_tombstone_over_a_deeper_value_survives_compactions_above_the_bottom() {
    let fs = SimFs::new();
    let scripted = Scripted::new(1 << 20, None);
    let db = scripted_db(&fs, &scripted);
    write_keys(&db, 0..50, "old", 30);
    // Push the values down to level 3.
    scripted.queue(&[0, 1, 2]);
    db.flush().unwrap();
    let v = replayed_version(&fs);
    assert!(
        !v.level(3).is_empty() && v.level(0).is_empty(),
        "the test moved its values to level 3"
    );
    for i in (0..50).step_by(2) {
        db.delete(b(&key(i))).unwrap();
    }
    write_keys(&db, 100..110, "other", 30);
    // L0 → L1, then L1 → L2: neither reaches level 3, where the values are.
    scripted.queue(&[0]);
    db.flush().unwrap();
    scripted.queue(&[1]);
    db.flush().unwrap();
    let check = |db: &Db, when: &str| {
        for i in 0..50 {
            let got = db.get(key(i).as_bytes()).unwrap();
            if i % 2 == 0 {
                assert!(
                    got.is_none(),
                    "{} was deleted, but {when} it is back: a tombstone was dropped although \
                     level 3 holds an older value of its key: drop a tombstone only where no \
                     deeper level can hold the key (is_bottom_for)",
                    key(i)
                );
            } else {
                assert!(got.is_some(), "{} was never deleted ({when})", key(i));
            }
        }
    };
    check(&db, "after compacting level 0 into 1 and 1 into 2");
    drop(db);
    let db = scripted_db(&fs, &scripted);
    check(&db, "after a reopen");
    // Now to the bottom: the tombstones meet the values and both go.
    scripted.queue(&[2]);
    db.flush().unwrap();
    check(&db, "after compacting level 2 into level 3");
    let bytes_with: u64 = db.stats().levels.iter().map(|(_, b)| b).sum();
    assert!(bytes_with > 0, "the database still holds the live keys");
}

#[test]
fn a_compaction_that_reaches_the_bottom_drops_the_tombstones() {
    let fs = SimFs::new();
    let scripted = Scripted::new(1 << 20, None);
    let db = scripted_db(&fs, &scripted);
    write_keys(&db, 0..400, "old", 100);
    scripted.queue(&[0]);
    db.flush().unwrap();
    let full = db.stats().levels[1].1;
    for i in 0..400 {
        if i % 10 != 0 {
            db.delete(b(&key(i))).unwrap();
        }
    }
    scripted.queue(&[0]);
    db.flush().unwrap();
    let after = db.stats().levels[1].1;
    assert!(
        after * 5 < full,
        "level 1 is the bottom (nothing below it) and 90% of its keys were deleted: the values \
         and their tombstones must all go, leaving about a tenth of {full} bytes; got {after} \
         (is a tombstone kept although no deeper level holds its key? is_bottom_for)"
    );
    for i in (0..400).step_by(9) {
        assert_eq!(
            db.get(key(i).as_bytes()).unwrap().is_some(),
            i % 10 == 0,
            "get({}) after the bottom compaction",
            key(i)
        );
    }
}

// ---------------------------------------------------------------------------
// The engine with leveled compaction.
// ---------------------------------------------------------------------------

/// A scaled-down leveled shape: level 0 compacts at 4 tables, level 1
/// holds 8 KiB, each level 10 times more, tables of 4 KiB.
fn shape() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 4,
        level1_target_bytes: 8 << 10,
        level_size_factor: 10,
        table_target_bytes: 4 << 10,
    }
}

fn options_with(fs: &SimFs, shape: LeveledOptions, memtable_size_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes,
        salt_seed: Some(8),
        compaction: Some(Arc::new(Leveled { options: shape })),
        ..Options::default()
    }
}

fn open(fs: &SimFs) -> Db {
    Db::open(dir(), options_with(fs, shape(), 4 << 10)).expect("the database must open")
}

/// Runs `body` on a thread and fails if it does not finish within
/// [`DEADLINE`]: a compaction that never settles (say, outputs written back
/// into the level they came from, so `pick` finds the same task forever)
/// must fail the test, not hang it.
fn with_deadline<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, wait) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = body();
        let _ = done.send(());
        result
    });
    match wait.recv_timeout(DEADLINE) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "the test did not finish within {DEADLINE:?}: does compaction settle? (compact must \
             write its outputs to task.level + 1 and remove every input, so that pick eventually \
             returns None)"
        ),
        _ => match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        },
    }
}

/// How long an engine test may take (the reference takes a few seconds).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

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

fn level_tables(stats: &DbStats) -> Vec<usize> {
    stats.levels.iter().map(|(tables, _)| *tables).collect()
}

fn scan_all(db: &Db) -> lsm_workbook::Result<Vec<(Bytes, Bytes)>> {
    db.scan(..).collect()
}

/// A pseudo-random sequence (xorshift), so the workloads are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random puts and deletes on `keys` keys; returns the model.
fn random_writes(db: &Db, count: u32, keys: u64, seed: u64) -> BTreeMap<Bytes, Bytes> {
    let mut rng = XorShift(seed);
    let mut model = BTreeMap::new();
    for i in 0..count {
        let k = b(&key((rng.next() % keys) as u32));
        if rng.next().is_multiple_of(8) {
            db.delete(k.clone()).unwrap();
            model.remove(&k);
        } else {
            let v = b(&format!(
                "v{i:06}-{}",
                "x".repeat((rng.next() % 60) as usize)
            ));
            db.put(k.clone(), v.clone()).unwrap();
            model.insert(k, v);
        }
    }
    model
}

fn check_shape(version: &Version, shape: &LeveledOptions, when: &str) {
    assert!(
        version.level(0).len() < shape.level0_trigger,
        "{when}: level 0 holds {} tables, at or over its trigger of {}: compaction must run until \
         no level is due (loop on pick until it returns None)",
        version.level(0).len(),
        shape.level0_trigger
    );
    for level in 1..LEVEL_COUNT {
        let tables = version.level(level);
        for pair in tables.windows(2) {
            assert!(
                pair[0].largest.key < pair[1].smallest.key,
                "{when}: tables {} and {} of level {level} overlap: a level ≥ 1 must be sorted \
                 and disjoint (merge every overlapping table of the next level)",
                pair[0].file_number,
                pair[1].file_number
            );
        }
        let bytes: u64 = tables.iter().map(|t| t.size_bytes).sum();
        if level + 1 < LEVEL_COUNT {
            let target = level_target_bytes(level, shape);
            assert!(
                bytes < target,
                "{when}: level {level} holds {bytes} bytes, at or over its target of {target} \
                 once compaction has settled"
            );
        }
    }
}

#[test]
fn many_random_writes_keep_every_level_sorted_disjoint_and_under_its_target() {
    with_deadline(many_random_writes_keep_every_level_sorted_disjoint_and_under_its_target_body);
}

fn many_random_writes_keep_every_level_sorted_disjoint_and_under_its_target_body() {
    let fs = SimFs::new();
    let db = open(&fs);
    let model = random_writes(&db, 6000, 3000, 0x5eed);
    db.flush().unwrap();
    let stats = db.stats();
    assert!(
        stats.compaction_bytes > 0,
        "6000 writes through 4-KiB memtables must have compacted: {stats:?}"
    );
    assert_eq!(
        stats.compaction_bytes_by_level.iter().sum::<u64>(),
        stats.compaction_bytes,
        "the bytes compacted per level must add up to all the bytes compacted"
    );
    assert_eq!(
        stats.compaction_bytes_by_level.first(),
        Some(&0),
        "nothing compacts into level 0 (an edit that adds outputs at task.level instead of task.level + 1?)"
    );
    assert!(
        stats.compactions > 0,
        "compactions that rewrote tables are counted: {stats:?}"
    );
    let deepest = level_tables(&stats)
        .iter()
        .rposition(|&n| n > 0)
        .unwrap_or(0);
    assert!(
        deepest >= 2,
        "the data must reach level 2 or deeper (level 1 holds 8 KiB): levels {:?}",
        level_tables(&stats)
    );
    check_shape(&replayed_version(&fs), &shape(), "after 6000 random writes");
    let got = scan_all(&db).unwrap();
    let want: Vec<(Bytes, Bytes)> = model.into_iter().collect();
    assert_eq!(
        got.len(),
        want.len(),
        "the scan must hold every live key once"
    );
    assert!(
        got == want,
        "the scan after compaction must equal the model"
    );
}

#[test]
fn overwrites_and_deletes_reclaim_space() {
    with_deadline(overwrites_and_deletes_reclaim_space_body);
}

fn overwrites_and_deletes_reclaim_space_body() {
    let fs = SimFs::new();
    let db = open(&fs);
    for round in 0..12u32 {
        for i in 0..400 {
            db.put(b(&key(i)), b(&format!("r{round:02}-{}", "y".repeat(40))))
                .unwrap();
        }
    }
    for i in 0..400 {
        if i % 10 != 0 {
            db.delete(b(&key(i))).unwrap();
        }
    }
    // Enough further writes of other keys to push everything down.
    for i in 0..3000 {
        db.put(b(&format!("z{i:05}")), b("small")).unwrap();
    }
    db.flush().unwrap();
    let live: u64 = scan_all(&db)
        .unwrap()
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    let on_disk = table_bytes(&fs);
    let written = db.stats().user_bytes;
    // Not tighter: a level under its target is not compacted, so the
    // versions in it wait there for the next compaction that passes (the
    // reference ends with level 2 at 99 % of its target, above a smaller
    // level 3). Keeping every shadowed version, or the input files, puts
    // the tables far above the bound.
    assert!(
        on_disk <= 4 * live + (16 << 10),
        "12 overwrites of 400 keys, 90% then deleted: {written} bytes written, {live} bytes \
         live, {on_disk} bytes of tables on disk (bound: 4 × live + 16 KiB). Shadowed versions \
         and tombstones at the bottom must be dropped, and input tables deleted"
    );
}

#[test]
fn sequential_writes_move_tables_down_without_rewriting_them() {
    with_deadline(sequential_writes_move_tables_down_without_rewriting_them_body);
}

fn sequential_writes_move_tables_down_without_rewriting_them_body() {
    let fs = SimFs::new();
    let db = open(&fs);
    for i in 0..8000 {
        db.put(b(&key(i)), b(&format!("value-{i:05}-{}", "s".repeat(20))))
            .unwrap();
    }
    db.flush().unwrap();
    let stats = db.stats();
    assert!(
        level_tables(&stats)[2..].iter().sum::<usize>() > 0,
        "8000 sequential writes must reach level 2: {:?}",
        level_tables(&stats)
    );
    assert!(
        stats.compaction_bytes < stats.flush_bytes * 3 / 2,
        "keys written in order never overlap the level below, so a table of level ≥ 1 moves down \
         by a manifest edit alone (Task::is_trivial_move): compaction wrote {} bytes for {} bytes \
         flushed",
        stats.compaction_bytes,
        stats.flush_bytes
    );
    check_shape(
        &replayed_version(&fs),
        &shape(),
        "after 8000 sequential writes",
    );
}

#[test]
fn a_get_reads_at_most_one_table_per_level_below_zero() {
    with_deadline(a_get_reads_at_most_one_table_per_level_below_zero_body);
}

fn a_get_reads_at_most_one_table_per_level_below_zero_body() {
    let fs = SimFs::new();
    let db = open(&fs);
    let model = random_writes(&db, 5000, 2500, 0xa11);
    db.flush().unwrap();
    let version = replayed_version(&fs);
    let mut checked = 0;
    for (k, v) in model.iter().step_by(23) {
        fs.reset_reads();
        assert_eq!(
            db.get(k).unwrap().as_ref(),
            Some(v),
            "get({:?}) after compaction",
            k
        );
        checked += 1;
        for level in 1..LEVEL_COUNT {
            let read: Vec<u64> = version
                .level(level)
                .iter()
                .filter(|t| fs.reads(FileName::Table(t.file_number).path(dir())).calls > 0)
                .map(|t| t.file_number)
                .collect();
            assert!(
                read.len() <= 1,
                "get({k:?}) read tables {read:?} of level {level}: a level ≥ 1 is disjoint, so \
                 at most one of its tables can hold a key"
            );
        }
    }
    assert!(checked > 50, "the test checked {checked} keys");
}

// A model test: random puts, deletes, flushes and reopens with an
// aggressive shape (level 0 at 2 tables, each level 2× the one above),
// against a BTreeMap.
#[derive(Clone, Debug)]
enum ModelOp {
    Put(u8, u16),
    Delete(u8),
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        8 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| ModelOp::Put(k % 64, v)),
        3 => any::<u8>().prop_map(|k| ModelOp::Delete(k % 64)),
        1 => Just(ModelOp::Flush),
        1 => Just(ModelOp::Reopen),
    ]
}

fn tight() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 2,
        level1_target_bytes: 1 << 10,
        level_size_factor: 2,
        table_target_bytes: 512,
    }
}

fn open_tight(fs: &SimFs) -> Db {
    Db::open(dir(), options_with(fs, tight(), 512)).expect("the database must open")
}

#[test]
fn compaction_with_reopens_matches_a_btreemap() {
    with_deadline(|| {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let ops = proptest::collection::vec(op(), 1..160);
        if let Err(error) = runner.run(&ops, |ops| model_case(&ops)) {
            panic!("the engine with compaction against a BTreeMap: {error}");
        }
    });
}

/// One case of the model test.
fn model_case(ops: &[ModelOp]) -> Result<(), TestCaseError> {
    let fs = SimFs::new();
    let mut db = open_tight(&fs);
    let mut model: BTreeMap<Bytes, Bytes> = BTreeMap::new();
    for op in ops {
        match op {
            ModelOp::Put(k, v) => {
                let (k, v) = (
                    b(&key(u32::from(*k))),
                    b(&format!("{v}-{}", "p".repeat(30))),
                );
                db.put(k.clone(), v.clone()).unwrap();
                model.insert(k, v);
            }
            ModelOp::Delete(k) => {
                let k = b(&key(u32::from(*k)));
                db.delete(k.clone()).unwrap();
                model.remove(&k);
            }
            ModelOp::Flush => db.flush().unwrap(),
            ModelOp::Reopen => {
                db.close().unwrap();
                db = open_tight(&fs);
            }
        }
    }
    let got = scan_all(&db).unwrap();
    let want: Vec<(Bytes, Bytes)> = model.clone().into_iter().collect();
    prop_assert!(
        got == want,
        "the scan differs from the model after {} ops: {} pairs, want {} (a lost write, a resurrected delete or an older version winning)",
        ops.len(),
        got.len(),
        want.len()
    );
    for k in 0..64u32 {
        let k = b(&key(k));
        prop_assert_eq!(db.get(&k).unwrap(), model.get(&k).cloned(), "get({:?})", k);
    }
    db.flush().unwrap();
    check_shape(
        &replayed_version(&fs),
        &tight(),
        "after the model's operations",
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The crash oracle over a compaction-heavy workload.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum CrashOp {
    Put(String, String),
    SyncPut(String, String),
    Delete(String),
    Sync,
}

type Model = BTreeMap<Bytes, Bytes>;

fn crash_workload() -> Vec<CrashOp> {
    let mut ops = Vec::new();
    for i in 0..36u32 {
        let k = format!("key{:02}", (i * 7) % 13);
        let v = format!("value-{i:02}-{}", "c".repeat(40));
        ops.push(match i % 6 {
            0 | 1 | 3 => CrashOp::Put(k, v),
            2 => CrashOp::Delete(format!("key{:02}", (i * 5) % 13)),
            4 => CrashOp::SyncPut(k, v),
            _ => CrashOp::Sync,
        });
    }
    ops
}

fn crash_shape() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 2,
        level1_target_bytes: 300,
        level_size_factor: 2,
        table_target_bytes: 200,
    }
}

fn open_crash(fs: &SimFs) -> lsm_workbook::Result<Db> {
    Db::open(dir(), options_with(fs, crash_shape(), 200))
}

fn crash_states(ops: &[CrashOp]) -> Vec<Model> {
    let mut states = vec![Model::new()];
    let mut model = Model::new();
    for op in ops {
        match op {
            CrashOp::Put(k, v) | CrashOp::SyncPut(k, v) => {
                model.insert(b(k), b(v));
            }
            CrashOp::Delete(k) => {
                model.remove(&b(k));
            }
            CrashOp::Sync => {}
        }
        states.push(model.clone());
    }
    states
}

#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    acked: usize,
    synced: usize,
}

fn run_crash_workload(fs: &SimFs, ops: &[CrashOp]) -> Progress {
    let mut progress = Progress::default();
    let Ok(db) = open_crash(fs) else {
        return progress;
    };
    for op in ops {
        let done = match op {
            CrashOp::Put(k, v) => db.put(b(k), b(v)),
            CrashOp::SyncPut(k, v) => db.write(
                WriteBatch::default().put(b(k), b(v)),
                WriteOptions { sync: true },
            ),
            CrashOp::Delete(k) => db.delete(b(k)),
            CrashOp::Sync => db.sync(),
        };
        if done.is_err() {
            break;
        }
        progress.acked += 1;
        if matches!(op, CrashOp::SyncPut(..) | CrashOp::Sync) {
            progress.synced = progress.acked;
        }
    }
    progress
}

fn show_pairs(pairs: &[(Bytes, Bytes)]) -> String {
    let shown: Vec<String> = pairs
        .iter()
        .take(16)
        .map(|(k, v)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(&v[..v.len().min(8)])
            )
        })
        .collect();
    format!("{} pairs [{}]", pairs.len(), shown.join(" "))
}

/// RELIABILITY.md's oracle: the recovered database is the state after some
/// prefix k with low ≤ k ≤ acked + 1; a new write wins; a second reopen
/// changes nothing.
fn check_oracle(
    image: &SimFs,
    states: &[Model],
    low: usize,
    acked: usize,
    context: &dyn Fn() -> String,
) {
    let db = open_crash(image)
        .unwrap_or_else(|e| panic!("reopening after the crash failed: {e}\n{}", context()));
    let got = scan_all(&db)
        .unwrap_or_else(|e| panic!("scanning the recovered database failed: {e}\n{}", context()));
    let high = (acked + 1).min(states.len() - 1);
    let pairs = |m: &Model| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let prefix = (low..=high).find(|&k| pairs(&states[k]) == got);
    assert!(
        prefix.is_some(),
        "the recovered database is not the state after any prefix of k operations with {low} <= k \
         <= {high}: it holds {}; the state after {low} holds {}. A compaction must install its \
         outputs and remove its inputs in one manifest edit, with the outputs' names synced \
         first, and never lose a version\n{}",
        show_pairs(&got),
        show_pairs(&pairs(&states[low])),
        context()
    );
    db.put(b("key00"), b("after-the-crash")).unwrap();
    db.flush().unwrap();
    assert_eq!(
        db.get(b"key00").unwrap(),
        Some(b("after-the-crash")),
        "a write after reopening must win over every recovered version\n{}",
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
        open_crash(image).unwrap_or_else(|e| panic!("a second reopen failed: {e}\n{}", context()));
    assert!(
        scan_all(&again).unwrap() == expected,
        "reopening again must give the same database\n{}",
        context()
    );
}

#[test]
fn crash_at_every_operation_of_a_compacting_workload_recovers_a_prefix() {
    with_deadline(crash_at_every_operation_of_a_compacting_workload_recovers_a_prefix_body);
}

fn crash_at_every_operation_of_a_compacting_workload_recovers_a_prefix_body() {
    let ops = crash_workload();
    let states = crash_states(&ops);
    let dry_run = SimFs::new();
    let full = run_crash_workload(&dry_run, &ops);
    assert_eq!(
        full.acked,
        ops.len(),
        "without a crash every operation must succeed"
    );
    let version = replayed_version(&dry_run);
    assert!(
        version.tables().any(|(level, _)| level >= 2),
        "the workload must compact down to level 2 at least"
    );
    for point in CrashPoint::sweep(dry_run.op_count(), 0xc8) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let progress = run_crash_workload(&fs, &ops);
        let image = fs.crash(point.mode);
        let low = if point.mode == CrashMode::ProcessKill {
            progress.acked
        } else {
            progress.synced
        };
        let context = || {
            let trace = fs.trace_string();
            let tail: String = trace
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            format!("{point}: {progress:?}\nlast operations of the crashed run:\n{tail}")
        };
        check_oracle(&image, &states, low, progress.acked, &context);
    }
}
