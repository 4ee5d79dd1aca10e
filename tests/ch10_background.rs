//! Graded tests for chapter 10 — background work, write stalls and the
//! block cache. Book: "10. Background work, stalls and the block cache".
//! Run: `cargo test --test ch10_background --features ref-upto-ch09`.
//!
//! Four kinds of tests:
//! - `pressure` (task 1) on its own: every trigger, just below and at it;
//! - the `Cache` (task 2) on its own, through chapter 3's `BlockCache`
//!   trait, with tiny hand-made blocks whose one key names where they were
//!   inserted, so a wrong block is caught by name;
//! - the engine with background threads, stalls and the cache (task 3),
//!   on the simulated file system. Stalls are driven by
//!   `Db::pause_background` and by compactions the test holds back, never
//!   by timing: a test waits for a counter with a generous deadline and
//!   fails with a message instead of hanging;
//! - a real process, killed with SIGKILL while it writes through the real
//!   file system: the test re-runs its own binary as the child.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch03_sstable::{Block, BlockBuilder, BlockCache, BlockKey, CacheStats};
use lsm_workbook::ch06_manifest::TableMeta;
use lsm_workbook::ch07_engine::{
    Compaction, Db, DbStats, Maintenance, Options, StallOptions, WriteOptions,
};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, Task, compact};
use lsm_workbook::ch10_background::{Cache, Pressure, pressure};
use lsm_workbook::fs::{CrashMode, Fault, Fs, OpKind, SimFs};
use lsm_workbook::types::{Entry, Value, WriteBatch};

const DIR: &str = "db";

/// How long a test waits for something the engine must do before it
/// fails (generous: a loaded CI machine is slow, a hang is for ever).
const DEADLINE: Duration = Duration::from_secs(20);

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A small deterministic generator (SplitMix64), so runs repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// `true` with probability `percent` / 100.
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Polls `done` every millisecond; fails after [`DEADLINE`] with `what`
/// (which says what was awaited and the likely reason it never came).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < DEADLINE,
            "waited {DEADLINE:?} for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Joins `thread` once it has finished (failing after [`DEADLINE`] with
/// `what`); a panic in it is passed on as it was.
fn join_within<T>(thread: JoinHandle<T>, what: &str) -> T {
    wait_until(what, || thread.is_finished());
    match thread.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// What a test that never finished most likely did, for [`bounded`].
const CACHE_HANG: &str = "a cache call never returned: does insert's eviction loop end when no \
                          block is left to evict, and is every lock released?";
const ENGINE_HANG: &str = "the engine never returned: a cache call that loops (insert's eviction \
                           loop must end when no block is left), or a stopped write never woken?";

/// Runs a test's `body` on a thread and fails, naming `hang`, if it does
/// not finish within twice [`DEADLINE`]; a panic in it is passed on.
fn bounded(hang: &str, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(DEADLINE * 2) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {:?}: {hang}", DEADLINE * 2)
        }
    }
}

// ---------------------------------------------------------------------------
// Task 1: pressure.
// ---------------------------------------------------------------------------

/// Frozen memtables stop at 4; level 0 slows at 8 and stops at 12.
fn triggers() -> StallOptions {
    StallOptions {
        max_frozen_memtables: 4,
        level0_slowdown_tables: 8,
        level0_stop_tables: 12,
        slowdown_micros: 1000,
    }
}

#[test]
fn pressure_lets_writes_proceed_while_background_work_keeps_up() {
    let options = triggers();
    for (frozen, level0) in [(0, 0), (1, 0), (3, 0), (0, 1), (0, 7), (3, 7)] {
        assert_eq!(
            pressure(frozen, level0, &options),
            Pressure::Proceed,
            "{frozen} frozen memtables (stop at 4) and {level0} level-0 tables (slow at 8): \
             nothing has reached a trigger, so the write proceeds (a trigger is reached AT \
             its value: compare with >=, not >, and not one less)"
        );
    }
}

#[test]
fn pressure_stops_writes_once_frozen_memtables_reach_the_limit() {
    let options = triggers();
    assert_eq!(
        pressure(3, 0, &options),
        Pressure::Proceed,
        "3 frozen memtables, the limit is 4: just below it, the write proceeds (stopping at \
         limit - 1 stalls writes a memtable early)"
    );
    for frozen in [4, 5, 40] {
        assert_eq!(
            pressure(frozen, 0, &options),
            Pressure::Stop,
            "{frozen} frozen memtables with max_frozen_memtables 4: writes must stop until a \
             flush makes room (the limit is reached AT 4: >=, not >)"
        );
    }
}

#[test]
fn pressure_slows_writes_from_the_level0_slowdown_trigger() {
    let options = triggers();
    assert_eq!(
        pressure(0, 7, &options),
        Pressure::Proceed,
        "7 level-0 tables, the slowdown trigger is 8: just below it, the write proceeds"
    );
    for level0 in [8, 9, 11] {
        assert_eq!(
            pressure(0, level0, &options),
            Pressure::Slow,
            "{level0} level-0 tables (slow at 8, stop at 12): the write is delayed, not \
             stopped and not let through (the slowdown trigger is level0_slowdown_tables, \
             reached AT its value)"
        );
    }
}

#[test]
fn pressure_stops_writes_at_the_level0_stop_trigger() {
    let options = triggers();
    assert_eq!(
        pressure(0, 11, &options),
        Pressure::Slow,
        "11 level-0 tables, the stop trigger is 12: just below it, the write is only slowed"
    );
    for level0 in [12, 13, 100] {
        assert_eq!(
            pressure(0, level0, &options),
            Pressure::Stop,
            "{level0} level-0 tables with level0_stop_tables 12: writes must stop until \
             compaction empties level 0 (did you only check the frozen memtables?)"
        );
    }
}

#[test]
fn pressure_stop_beats_slow() {
    let options = triggers();
    assert_eq!(
        pressure(4, 9, &options),
        Pressure::Stop,
        "4 frozen memtables (the limit) and 9 level-0 tables (slowdown range): the stop \
         wins — check the stop triggers before the slowdown trigger"
    );
    assert_eq!(
        pressure(0, 12, &options),
        Pressure::Stop,
        "12 level-0 tables are at the slowdown trigger too, but at the stop trigger the \
         write stops: check Stop before Slow"
    );
    let stop_below_slowdown = StallOptions {
        level0_slowdown_tables: 10,
        level0_stop_tables: 5,
        ..triggers()
    };
    assert_eq!(
        pressure(0, 10, &stop_below_slowdown),
        Pressure::Stop,
        "with level0_stop_tables 5 below level0_slowdown_tables 10, 10 level-0 tables \
         reach both: the stop wins"
    );
}

#[test]
fn pressure_counts_a_limit_of_zero_as_one() {
    let zero = StallOptions {
        max_frozen_memtables: 0,
        level0_slowdown_tables: 0,
        level0_stop_tables: 0,
        slowdown_micros: 0,
    };
    assert_eq!(
        pressure(0, 0, &zero),
        Pressure::Proceed,
        "with every limit 0 and nothing waiting, a write must proceed: a limit of 0 counts \
         as 1 (otherwise 0 >= 0 stops every write and nothing ever unblocks it)"
    );
    assert_eq!(
        pressure(1, 0, &zero),
        Pressure::Stop,
        "max_frozen_memtables 0 counts as 1: one frozen memtable stops writes"
    );
    assert_eq!(
        pressure(0, 1, &zero),
        Pressure::Stop,
        "level0_stop_tables 0 counts as 1: one level-0 table stops writes"
    );
    let slow_zero = StallOptions {
        level0_slowdown_tables: 0,
        ..triggers()
    };
    assert_eq!(
        pressure(0, 0, &slow_zero),
        Pressure::Proceed,
        "level0_slowdown_tables 0 counts as 1: an empty level 0 does not slow writes"
    );
    assert_eq!(
        pressure(0, 1, &slow_zero),
        Pressure::Slow,
        "level0_slowdown_tables 0 counts as 1: one level-0 table slows writes"
    );
}

// ---------------------------------------------------------------------------
// Task 2: the cache on its own.
// ---------------------------------------------------------------------------

/// A one-entry block whose key is `name`: tells blocks apart.
fn block_named(name: &str) -> Block {
    let mut builder = BlockBuilder::new();
    builder.add(&Entry {
        key: Bytes::from(name.to_owned()),
        seq: 1,
        value: Value::Put(Bytes::new()),
    });
    Block::decode(Bytes::from(builder.finish()))
        .unwrap_or_else(|e| panic!("the test's one-entry block must decode (chapter 3): {e}"))
}

/// The name a [`block_named`] block carries.
fn name_of(block: &Block) -> String {
    match block.entry(0) {
        Ok(entry) => String::from_utf8_lossy(&entry.key).into_owned(),
        Err(error) => format!("<a block that does not decode: {error}>"),
    }
}

fn key(table: u64, offset: u64) -> BlockKey {
    BlockKey { table, offset }
}

/// The name of the block the tests insert under `key` (version `v`).
fn block_name(key: BlockKey, v: u64) -> String {
    format!("table {} offset {} v{v}", key.table, key.offset)
}

fn stats_of(cache: &Cache) -> CacheStats {
    cache.stats()
}

#[test]
fn the_cache_never_holds_more_than_its_capacity() {
    bounded(CACHE_HANG, || {
        for capacity in [0, 1, 100, 1000, 4096, 100_000, 1 << 20, 8 << 20] {
            let cache = Cache::new(capacity);
            let capacity_u64 = capacity as u64;
            assert_eq!(
                stats_of(&cache).capacity_bytes,
                capacity_u64,
                "stats().capacity_bytes must be the capacity Cache::new was given"
            );
            let mut rng = Rng(capacity_u64 ^ 0xcafe);
            let charge_max = (capacity / 8).max(1) as u64;
            let mut found = 0;
            for step in 0..3000u64 {
                let k = key(1 + rng.below(20), rng.below(40) * 4096);
                let charge = if rng.percent(10) {
                    1 + rng.below(2 * capacity_u64 + 2)
                } else {
                    1 + rng.below(charge_max)
                };
                cache.insert(k, block_named(&block_name(k, step)), charge as usize);
                let stats = stats_of(&cache);
                assert!(
                    stats.bytes <= capacity_u64,
                    "a cache of {capacity} bytes charges {} bytes after insert {step} (charge \
                 {charge}): insert must evict until the new block fits, and refuse a block \
                 larger than the capacity (did you evict only one block, or add the charge \
                 before checking?)",
                    stats.bytes
                );
                let probe = key(1 + rng.below(20), rng.below(40) * 4096);
                if let Some(block) = cache.get(probe) {
                    found += 1;
                    let name = name_of(&block);
                    let prefix = format!("table {} offset {} v", probe.table, probe.offset);
                    assert!(
                        name.starts_with(&prefix),
                        "get({probe:?}) returned the block `{name}`, inserted under another key"
                    );
                }
            }
            if capacity == 0 {
                assert_eq!(
                    found, 0,
                    "a cache of capacity 0 caches nothing, but get found {found} blocks"
                );
            }
        }
    });
}

/// Hot-set hit rate: `hot` blocks of `charge` bytes read over and over
/// while one-off blocks stream through the cache, as a scan would.
fn hot_set_hit_rate(capacity: usize) -> f64 {
    let charge = 1024;
    let hot = (capacity / 4 / charge) as u64;
    let cache = Cache::new(capacity);
    let mut rng = Rng(capacity as u64);
    let read = |k: BlockKey| {
        if cache.get(k).is_some() {
            return true;
        }
        cache.insert(k, block_named(&block_name(k, 0)), charge);
        false
    };
    // Warm-up: every hot block read once.
    for i in 0..hot {
        read(key(1, i * 4096));
    }
    let (mut hot_reads, mut hot_hits) = (0u64, 0u64);
    let mut one_off = 0;
    for _ in 0..40 * hot {
        if rng.percent(60) {
            hot_reads += 1;
            hot_hits += u64::from(read(key(1, rng.below(hot) * 4096)));
        } else {
            one_off += 1;
            read(key(2, one_off * 4096));
        }
    }
    hot_hits as f64 / hot_reads as f64
}

#[test]
fn a_hot_set_a_quarter_of_the_capacity_stays_cached_while_one_off_blocks_stream_through() {
    bounded(CACHE_HANG, || {
        for capacity in [256 << 10, 4 << 20] {
            let rate = hot_set_hit_rate(capacity);
            assert!(
                rate >= 0.90,
                "a hot set of a quarter of a {capacity}-byte cache, read 60% of the time among a \
             stream of blocks read once, was served {:.1}% of the time after warm-up; it \
             must be at least 90%. LRU (about 99%), CLOCK and S3-FIFO (about 100%) pass; \
             FIFO, which evicts in insertion order whatever was used since, gets about 83%. \
             Does get tell your policy the block was used?",
                rate * 100.0
            );
        }
    });
}

#[test]
fn get_returns_exactly_the_block_inserted_under_its_key() {
    bounded(CACHE_HANG, || {
        let cache = Cache::new(1 << 20);
        let tables = 1..=6u64;
        let offsets = [0u64, 4096, 8192, 12288];
        // Inserted interleaved: same offset in every table, then the next.
        for &offset in &offsets {
            for table in tables.clone() {
                let k = key(table, offset);
                cache.insert(k, block_named(&block_name(k, 0)), 200);
            }
        }
        for table in tables.clone() {
            for &offset in &offsets {
                let k = key(table, offset);
                let got = cache.get(k).map(|block| name_of(&block));
                assert_eq!(
                    got.as_deref(),
                    Some(block_name(k, 0).as_str()),
                    "24 blocks of 200 bytes fit a 1 MiB cache: get({k:?}) must return the block \
                 inserted under that key — the key is the table AND the offset (a cache keyed \
                 by the offset alone serves table 1's block to every table)"
                );
            }
        }
        for absent in [key(7, 0), key(1, 1), key(1, 4095), key(0, 0)] {
            let got = cache.get(absent).map(|block| name_of(&block));
            assert_eq!(
                got, None,
                "nothing was inserted under {absent:?}: get must miss, not return a neighbour"
            );
        }
    });
}

#[test]
fn inserting_a_key_again_replaces_its_block_and_its_charge() {
    bounded(CACHE_HANG, || {
        let cache = Cache::new(10_000);
        let k = key(3, 8192);
        cache.insert(k, block_named(&block_name(k, 1)), 1000);
        cache.insert(k, block_named(&block_name(k, 2)), 3000);
        let got = cache.get(k).map(|block| name_of(&block));
        assert_eq!(
            got.as_deref(),
            Some(block_name(k, 2).as_str()),
            "a second insert under a key replaces the block: get must return the newer one (a \
             3000-byte block fits a 10,000-byte cache: if you shard, keep small caches whole)"
        );
        assert_eq!(
            stats_of(&cache).bytes,
            3000,
            "after replacing a 1000-byte block with a 3000-byte one, the cache charges 3000 \
         bytes: the old charge must be released (counting both leaks capacity)"
        );
        cache.insert(k, block_named(&block_name(k, 3)), 500);
        let stats = stats_of(&cache);
        assert_eq!(
            stats.bytes, 500,
            "replaced again by a 500-byte block: the cache charges 500 bytes"
        );
        assert_eq!(
            stats.evictions, 0,
            "replacing a key's block is not an eviction (nothing was pushed out to make room): \
             evictions must stay 0"
        );
        assert_eq!(
            stats.inserts, 3,
            "three inserts were made: inserts counts each"
        );
    });
}

#[test]
fn a_block_charged_more_than_the_capacity_is_not_cached() {
    bounded(CACHE_HANG, || {
        for capacity in [0usize, 1000, 4 << 20] {
            let cache = Cache::new(capacity);
            let small = key(1, 0);
            if capacity > 0 {
                cache.insert(small, block_named(&block_name(small, 0)), 1);
            }
            let big = key(2, 0);
            cache.insert(big, block_named(&block_name(big, 0)), capacity + 1);
            let stats = stats_of(&cache);
            assert!(
                stats.bytes <= capacity as u64,
                "a block charged {} bytes was offered to a {capacity}-byte cache: the cache now \
             charges {} bytes, more than its capacity",
                capacity + 1,
                stats.bytes
            );
            assert!(
                cache.get(big).is_none(),
                "a block charged {} bytes cannot fit a {capacity}-byte cache: it must not be \
             cached (compare the charge with the capacity before evicting or inserting)",
                capacity + 1
            );
        }
    });
}

#[test]
fn hits_misses_inserts_and_evictions_are_counted_exactly() {
    bounded(CACHE_HANG, || {
        let cache = Cache::new(1000);
        let keys: Vec<BlockKey> = (0..10).map(|i| key(1 + i % 3, i * 4096)).collect();
        let get = |k: BlockKey| cache.get(k);
        assert!(get(keys[0]).is_none(), "an empty cache must miss");
        for &k in &keys[..5] {
            cache.insert(k, block_named(&block_name(k, 0)), 100);
        }
        for &k in &keys[..5] {
            assert!(
                get(k).is_some(),
                "5 blocks of 100 bytes fit a 1000-byte cache: {k:?} must be found (if you shard, \
                 do not split a cache this small: each shard would hold less than a few blocks)"
            );
        }
        assert!(get(keys[5]).is_none(), "{:?} was never inserted", keys[5]);
        let stats = stats_of(&cache);
        assert_eq!(
            (
                stats.hits,
                stats.misses,
                stats.inserts,
                stats.evictions,
                stats.bytes
            ),
            (5, 2, 5, 0, 500),
            "after 1 miss, 5 inserts of 100 bytes, 5 hits and 1 miss: (hits, misses, inserts, \
         evictions, bytes) — count each get once, as a hit or a miss"
        );
        // Key 0 again, charged 200: a replacement. Then 5 more blocks: 1100
        // bytes wanted, so at least one block is evicted.
        cache.insert(keys[0], block_named(&block_name(keys[0], 1)), 200);
        for &k in &keys[5..] {
            cache.insert(k, block_named(&block_name(k, 0)), 100);
        }
        let stats = stats_of(&cache);
        assert_eq!(
            stats.inserts, 11,
            "11 inserts were made: inserts counts each"
        );
        assert!(
            stats.evictions >= 1,
            "1100 bytes were inserted into a 1000-byte cache: at least one block was evicted, \
         but evictions says {}",
            stats.evictions
        );
        // Which blocks are left decides the exact figures, whatever the policy.
        let before = stats;
        let mut present = 0;
        let mut charged = 0;
        for (index, &k) in keys.iter().enumerate() {
            if let Some(block) = cache.get(k) {
                present += 1;
                charged += if index == 0 { 200 } else { 100 };
                let want = block_name(k, u64::from(index == 0));
                assert_eq!(name_of(&block), want, "get({k:?}) returned another block");
            }
        }
        let after = stats_of(&cache);
        assert_eq!(
            before.evictions,
            10 - present,
            "10 distinct blocks were cached and {present} are still found: evictions must be \
         {} (count every block dropped to make room, once; not a replaced one)",
            10 - present
        );
        assert_eq!(
            before.bytes, charged,
            "the blocks still found are charged {charged} bytes in all: bytes must be exactly \
         that (release an evicted block's charge, and a replaced block's)"
        );
        assert_eq!(
            (after.hits - before.hits, after.misses - before.misses),
            (present, 10 - present),
            "10 gets, {present} found: each counts once as a hit or a miss"
        );
    });
}

#[test]
fn concurrent_gets_and_inserts_keep_the_bound_and_lose_no_count() {
    bounded(CACHE_HANG, || {
        for capacity in [64 << 10, 2 << 20] {
            let cache = Arc::new(Cache::new(capacity));
            let key_count = 2000u64;
            // Each key always has the same charge, so the final bytes can be
            // checked against the blocks present.
            let charge = |k: BlockKey| 64 + ((k.table * 7919 + k.offset / 4096) % 960) as usize;
            let key_of = |n: u64| key(1 + n % 5, (n / 5) * 4096);
            let threads: Vec<JoinHandle<(u64, u64)>> = (0..4u64)
                .map(|thread| {
                    let cache = Arc::clone(&cache);
                    std::thread::spawn(move || {
                        let mut rng = Rng(thread + 1);
                        let (mut gets, mut inserts) = (0, 0);
                        for _ in 0..5000 {
                            // Skewed: half the reads go to a tenth of the keys.
                            let n = if rng.percent(50) {
                                rng.below(key_count / 10)
                            } else {
                                rng.below(key_count)
                            };
                            let k = key_of(n);
                            gets += 1;
                            match cache.get(k) {
                                Some(block) => assert_eq!(
                                    name_of(&block),
                                    block_name(k, 0),
                                    "under 4 threads, get({k:?}) returned another key's block"
                                ),
                                None => {
                                    inserts += 1;
                                    cache.insert(k, block_named(&block_name(k, 0)), charge(k));
                                    let bytes = cache.stats().bytes;
                                    assert!(
                                        bytes <= capacity as u64,
                                        "while 4 threads insert, a {capacity}-byte cache reported \
                                     {bytes} bytes: count a block's bytes under the same lock \
                                     as the block (release the evicted bytes before adding)"
                                    );
                                }
                            }
                        }
                        (gets, inserts)
                    })
                })
                .collect();
            let (mut gets, mut inserts) = (0, 0);
            for thread in threads {
                let (g, i) = join_within(
                    thread,
                    "4 threads of 5000 cache operations to finish (a lock taken twice, or held \
                 while waiting for another?)",
                );
                gets += g;
                inserts += i;
            }
            let stats = stats_of(&cache);
            assert_eq!(
                stats.hits + stats.misses,
                gets,
                "4 threads made {gets} gets in all: hits + misses must add up to them (a \
             counter updated without the lock or an atomic loses increments)"
            );
            assert_eq!(
                stats.inserts, inserts,
                "4 threads made {inserts} inserts in all: inserts must count each"
            );
            assert!(
                stats.bytes <= capacity as u64,
                "after 4 threads' inserts the {capacity}-byte cache charges {} bytes",
                stats.bytes
            );
            let present: u64 = (0..key_count)
                .map(key_of)
                .filter(|&k| cache.get(k).is_some())
                .map(|k| charge(k) as u64)
                .sum();
            assert_eq!(
                stats.bytes, present,
                "the blocks still cached are charged {present} bytes, but bytes says {}: the \
             byte count drifted under concurrent inserts and evictions",
                stats.bytes
            );
        }
    });
}

// ---------------------------------------------------------------------------
// Task 3: the engine, its threads, stalls and the cache.
// ---------------------------------------------------------------------------

/// Options on `fs` with a fixed salt and a memtable of `memtable_bytes`;
/// inline (no background threads), no compaction, no cache.
fn options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: memtable_bytes,
        salt_seed: Some(10),
        ..Options::default()
    }
}

/// A scaled-down leveled shape: level 0 compacts at 4 tables, level 1
/// holds 64 KiB, tables of 16 KiB.
fn small_leveled() -> Arc<dyn Compaction> {
    Arc::new(Leveled {
        options: LeveledOptions {
            level0_trigger: 4,
            level1_target_bytes: 64 << 10,
            level_size_factor: 10,
            table_target_bytes: 16 << 10,
        },
    })
}

fn cache_of(capacity: usize) -> Option<Arc<dyn BlockCache>> {
    Some(Arc::new(Cache::new(capacity)))
}

fn open_with(options: Options) -> Db {
    Db::open(dir(), options).unwrap_or_else(|e| panic!("the database must open: {e}"))
}

fn value_of(db: &Db, key: &str) -> Option<String> {
    db.get(key.as_bytes())
        .unwrap_or_else(|e| panic!("get({key}) failed: {e}"))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Every pair of a full scan, or the first error.
fn scan_all(db: &Db) -> lsm_workbook::Result<Vec<(Bytes, Bytes)>> {
    db.scan(..).collect()
}

type Model = BTreeMap<String, String>;

/// Checks that `db` holds exactly `model`, by a full scan and a get of
/// every key; `when` says at what point, for the messages.
fn assert_holds(db: &Db, model: &Model, when: &str) {
    let scanned = scan_all(db).unwrap_or_else(|e| panic!("{when}: the scan failed: {e}"));
    let scanned: Vec<(String, String)> = scanned
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let wanted: Vec<(String, String)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if scanned != wanted {
        let first = scanned
            .iter()
            .zip(&wanted)
            .position(|(got, want)| got != want)
            .unwrap_or(scanned.len().min(wanted.len()));
        panic!(
            "{when}: a full scan returned {} pairs, the model holds {}; they first differ at \
             position {first}: scan {:?}, model {:?}",
            scanned.len(),
            wanted.len(),
            scanned.get(first),
            wanted.get(first)
        );
    }
    for (key, value) in model {
        let got = value_of(db, key);
        assert_eq!(
            got.as_deref(),
            Some(value.as_str()),
            "{when}: get({key}) must return the last value written"
        );
    }
}

/// A value of about 100 bytes naming its key and version.
fn versioned(key: &str, version: u64) -> String {
    format!("{key}=v{version:06}-{}", "x".repeat(80))
}

/// The sum of read calls on every table file of `fs`'s database.
fn table_reads(fs: &SimFs) -> u64 {
    let names = fs.list(dir()).unwrap_or_default();
    names
        .iter()
        .filter(|name| name.ends_with(".sst"))
        .map(|name| fs.reads(dir().join(name)).calls)
        .sum()
}

fn cache_stats(db: &Db) -> CacheStats {
    db.stats()
        .cache
        .expect("a database opened with a block cache reports its stats in DbStats::cache")
}

#[test]
fn reads_are_served_from_the_block_cache_on_a_second_pass() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            block_cache: cache_of(1 << 20),
            ..options(&fs, 16 << 10)
        });
        let keys: Vec<String> = (0..1500).map(|i| format!("key-{i:05}")).collect();
        for key in &keys {
            db.put(b(key), b(&versioned(key, 1))).unwrap();
        }
        db.flush().unwrap();
        assert!(
            db.stats().levels[0].0 >= 3,
            "the test expects several tables (1500 writes of 100 bytes, 16 KiB memtables)"
        );
        for key in &keys {
            assert_eq!(value_of(&db, key), Some(versioned(key, 1)), "first pass");
        }
        let first = cache_stats(&db);
        assert!(
            first.misses > 0 && first.inserts > 0,
            "the first pass over tables read through a cold cache must miss and insert blocks \
         (got {first:?})"
        );
        fs.reset_reads();
        for key in &keys {
            assert_eq!(
                value_of(&db, key),
                Some(versioned(key, 1)),
                "second pass: a cached block must give the same value as the file"
            );
        }
        let second = cache_stats(&db);
        assert_eq!(
            second.misses, first.misses,
            "every block of the first pass fits the 1 MiB cache: the second pass must miss \
         nothing, but misses grew from {} to {} (is the block evicted at once, or found \
         under another key than it was inserted with?)",
            first.misses, second.misses
        );
        assert!(
            second.hits >= first.hits + keys.len() as u64,
            "the second pass made {} gets that each read a data block: hits must grow by at \
         least that much (from {} to {})",
            keys.len(),
            first.hits,
            second.hits
        );
        assert_eq!(
            table_reads(&fs),
            0,
            "the second pass must read no table file: every block comes from the cache"
        );
    });
}

#[test]
fn compaction_never_lets_the_cache_serve_a_stale_block() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            compaction: Some(small_leveled()),
            block_cache: cache_of(1 << 20),
            ..options(&fs, 16 << 10)
        });
        let keys: Vec<String> = (0..1200).map(|i| format!("key-{i:05}")).collect();
        let mut model = Model::new();
        for version in 1..=3 {
            for key in &keys {
                let value = versioned(key, version);
                db.put(b(key), b(&value)).unwrap();
                model.insert(key.clone(), value);
            }
            db.flush().unwrap();
            // Read everything: the cache now holds blocks of these tables,
            // which the next round's compactions replace.
            assert_holds(
                &db,
                &model,
                &format!("after writing version {version} and compacting"),
            );
        }
        let stats = db.stats();
        assert!(
            stats.compactions > 0,
            "the test expects compactions (3 rounds of 120 KB through 16 KiB memtables and \
         level 0 compacting at 4), got {stats:?}"
        );
        assert!(
            cache_stats(&db).hits > 0,
            "reads went through the cache, so some must have hit"
        );
    });
}

#[test]
fn two_databases_sharing_one_cache_never_see_each_others_blocks() {
    bounded(ENGINE_HANG, || {
        let cache: Arc<dyn BlockCache> = Arc::new(Cache::new(1 << 20));
        let (fs_a, fs_b) = (SimFs::new(), SimFs::new());
        let open = |fs: &SimFs| {
            open_with(Options {
                block_cache: Some(Arc::clone(&cache)),
                ..options(fs, 16 << 10)
            })
        };
        let (a, b_db) = (open(&fs_a), open(&fs_b));
        let keys: Vec<String> = (0..800).map(|i| format!("key-{i:05}")).collect();
        for key in &keys {
            a.put(b(key), b(&format!("a:{key}"))).unwrap();
            b_db.put(b(key), b(&format!("b:{key}"))).unwrap();
        }
        a.flush().unwrap();
        b_db.flush().unwrap();
        assert_eq!(
            fs_a.list(dir()).unwrap(),
            fs_b.list(dir()).unwrap(),
            "test setup: the two databases must have the same file names (same numbers)"
        );
        for round in 0..2 {
            for key in &keys {
                for (db, tag) in [(&a, "a"), (&b_db, "b")] {
                    assert_eq!(
                        value_of(db, key),
                        Some(format!("{tag}:{key}")),
                        "round {round}: database {tag} read another database's block through \
                     the shared cache (their tables have the same file numbers and \
                     offsets: the cache key must be the open table's BlockKey::table)"
                    );
                }
            }
        }
        assert!(
            cache.stats().hits > 0,
            "both databases read through the shared cache: some reads must hit"
        );
    });
}

/// The stress test's key space: writer `w` owns keys `w{w}-{i}`; for each,
/// the version a writer is about to write and the last one acknowledged.
struct Keyspace {
    keys_per_writer: usize,
    started: Vec<AtomicU64>,
    acked: Vec<AtomicU64>,
}

impl Keyspace {
    fn key(&self, index: usize) -> String {
        format!(
            "w{}-{:04}",
            index / self.keys_per_writer,
            index % self.keys_per_writer
        )
    }

    /// Checks a value read for key `index` against what is possible: a
    /// version written (at most the one being written) and at least
    /// `floor`. Returns the version.
    fn check(&self, index: usize, value: &[u8], floor: u64) -> Result<u64, String> {
        let key = self.key(index);
        let text = String::from_utf8_lossy(value);
        let version = text
            .strip_prefix(&format!("{key}=v"))
            .and_then(|rest| rest.get(..6))
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| format!("{key} holds `{:.40}`, a value never written", text))?;
        if text != versioned(&key, version) {
            return Err(format!("{key} holds a damaged value `{:.40}…`", text));
        }
        let started = self.started[index].load(Ordering::Acquire);
        if version > started {
            return Err(format!(
                "{key} holds version {version}, never written (the newest started is {started})"
            ));
        }
        if version < floor {
            return Err(format!(
                "{key} holds version {version}, older than version {floor}, which was \
                 acknowledged or already seen by this reader before the read"
            ));
        }
        Ok(version)
    }
}

/// A reader's checks, until `stop`: gets of random keys and scans of one
/// writer's keys, each against the key space. Returns the reads made.
fn stress_reader(db: &Db, space: &Keyspace, stop: &AtomicBool, seed: u64) -> Result<u64, String> {
    let mut rng = Rng(seed);
    let total = space.started.len();
    let mut seen = vec![0u64; total];
    let mut reads = 0;
    while !stop.load(Ordering::Acquire) {
        if rng.percent(95) {
            let index = rng.below(total as u64) as usize;
            let floor = space.acked[index].load(Ordering::Acquire).max(seen[index]);
            let key = space.key(index);
            match db
                .get(key.as_bytes())
                .map_err(|e| format!("get({key}): {e}"))?
            {
                Some(value) => seen[index] = space.check(index, &value, floor)?,
                None if floor > 0 => {
                    return Err(format!("{key} read as absent after version {floor}"));
                }
                None => {}
            }
        } else {
            let writer = rng.below((total / space.keys_per_writer) as u64) as usize;
            let first = writer * space.keys_per_writer;
            let floors: Vec<u64> = (first..first + space.keys_per_writer)
                .map(|index| space.acked[index].load(Ordering::Acquire).max(seen[index]))
                .collect();
            let (lower, upper) = (format!("w{writer}-"), format!("w{writer}."));
            let mut next = first;
            for item in db.scan(lower.as_bytes()..upper.as_bytes()) {
                let (key, value) = item.map_err(|e| format!("scan: {e}"))?;
                let index = (next..first + space.keys_per_writer)
                    .find(|&index| space.key(index).as_bytes() == key.as_ref())
                    .ok_or_else(|| {
                        format!(
                            "a scan of {lower}… returned {} out of order or unknown",
                            String::from_utf8_lossy(&key)
                        )
                    })?;
                for skipped in next..index {
                    if floors[skipped - first] > 0 {
                        return Err(format!("a scan skipped {}", space.key(skipped)));
                    }
                }
                seen[index] = space.check(index, &value, floors[index - first])?;
                next = index + 1;
            }
            for skipped in next..first + space.keys_per_writer {
                if floors[skipped - first] > 0 {
                    return Err(format!("a scan ended before {}", space.key(skipped)));
                }
            }
        }
        reads += 1;
    }
    Ok(reads)
}

/// A writer: `rounds` versions of each of its keys, in a shuffled order.
fn stress_writer(db: &Db, space: &Keyspace, writer: usize, rounds: u64) -> Result<(), String> {
    let first = writer * space.keys_per_writer;
    let mut order: Vec<usize> = (first..first + space.keys_per_writer).collect();
    let mut rng = Rng(100 + writer as u64);
    for version in 1..=rounds {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for &index in &order {
            let key = space.key(index);
            space.started[index].store(version, Ordering::Release);
            db.put(b(&key), b(&versioned(&key, version)))
                .map_err(|e| format!("put({key}) version {version}: {e}"))?;
            space.acked[index].store(version, Ordering::Release);
        }
    }
    Ok(())
}

#[test]
fn writers_and_readers_on_background_threads_see_only_possible_values() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        // Tight stall triggers, so writers are slowed and stopped too.
        let stressed = |threads: usize| Options {
            background_threads: threads,
            stall_rule: Some(pressure),
            compaction: Some(small_leveled()),
            block_cache: cache_of(256 << 10),
            stall: StallOptions {
                max_frozen_memtables: 2,
                level0_slowdown_tables: 4,
                level0_stop_tables: 6,
                slowdown_micros: 100,
            },
            ..options(&fs, 32 << 10)
        };
        let db = Arc::new(open_with(stressed(2)));
        let (writers, keys_per_writer, rounds) = (3, 150, 30);
        let space = Arc::new(Keyspace {
            keys_per_writer,
            started: (0..writers * keys_per_writer)
                .map(|_| AtomicU64::new(0))
                .collect(),
            acked: (0..writers * keys_per_writer)
                .map(|_| AtomicU64::new(0))
                .collect(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let writer_threads: Vec<JoinHandle<Result<(), String>>> = (0..writers)
            .map(|writer| {
                let (db, space) = (Arc::clone(&db), Arc::clone(&space));
                std::thread::spawn(move || stress_writer(&db, &space, writer, rounds))
            })
            .collect();
        let reader_threads: Vec<JoinHandle<Result<u64, String>>> = (0..2)
            .map(|reader| {
                let (db, space, stop) = (Arc::clone(&db), Arc::clone(&space), Arc::clone(&stop));
                std::thread::spawn(move || stress_reader(&db, &space, &stop, 7 + reader))
            })
            .collect();
        let mut failures = Vec::new();
        for thread in writer_threads {
            if let Err(failure) = join_within(
                thread,
                "3 writers of 4500 writes each to finish with background flushes and \
             compactions (a write that stopped and was never woken?)",
            ) {
                failures.push(format!("a writer: {failure}"));
            }
        }
        stop.store(true, Ordering::Release);
        let mut reads = 0;
        for thread in reader_threads {
            match join_within(thread, "the readers to stop") {
                Ok(count) => reads += count,
                Err(failure) => failures.push(format!("a reader: {failure}")),
            }
        }
        assert!(
            failures.is_empty(),
            "with 3 writers and 2 readers on background flushes, compactions and a block \
         cache: {}",
            failures.join("; ")
        );
        assert!(reads > 0, "the readers must have read something");
        let model: Model = (0..writers * keys_per_writer)
            .map(|index| {
                let key = space.key(index);
                let value = versioned(&key, rounds);
                (key, value)
            })
            .collect();
        assert_holds(&db, &model, "after the stress, before close");
        let stats: DbStats = db.stats();
        assert!(
            stats.flushes > 0 && stats.background_threads == 2,
            "the stress must have flushed on 2 background threads: {stats:?}"
        );
        let db = Arc::into_inner(db).expect("every thread has ended");
        db.close()
            .unwrap_or_else(|e| panic!("close after the stress must succeed: {e}"));
        let db = open_with(stressed(0));
        assert_holds(&db, &model, "after close and reopen");
    });
}

/// Writes puts `prefix-N` (about 100 bytes each), adding them to `model`,
/// until `done(stats)` holds; fails if it does not within `limit` writes.
fn write_until(
    db: &Db,
    model: &mut Model,
    prefix: &str,
    limit: usize,
    what: &str,
    done: impl Fn(&DbStats) -> bool,
) {
    for n in 0..limit {
        if done(&db.stats()) {
            return;
        }
        let key = format!("{prefix}-{n:06}");
        let value = versioned(&key, 1);
        db.put(b(&key), b(&value))
            .unwrap_or_else(|e| panic!("{what}: write {n} failed: {e}"));
        model.insert(key, value);
    }
    assert!(
        done(&db.stats()),
        "{what}: not reached after {limit} writes"
    );
}

#[test]
fn writes_stop_at_the_frozen_memtable_limit_until_a_flush_makes_room() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = Arc::new(open_with(Options {
            background_threads: 1,
            stall_rule: Some(pressure),
            stall: StallOptions {
                max_frozen_memtables: 3,
                ..StallOptions::default()
            },
            ..options(&fs, 32 << 10)
        }));
        let mut model = Model::new();
        let pause = db.pause_background();
        write_until(
            &db,
            &mut model,
            "before",
            20_000,
            "with the background paused, full memtables pile up frozen until there are 3",
            |stats| stats.frozen_memtables >= 3,
        );
        assert_eq!(
            db.stats().stopped_writes,
            0,
            "no write was stopped while fewer than max_frozen_memtables (3) were frozen"
        );
        let writer = {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.put(b("stalled"), b("the write that waited")))
        };
        wait_until(
            "a write with 3 frozen memtables (max_frozen_memtables 3) to be counted in \
         stopped_writes: pressure must say Stop at the limit",
            || db.stats().stopped_writes >= 1,
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !writer.is_finished(),
            "the stopped write returned while the background was paused and 3 memtables were \
         frozen: it must wait for a flush"
        );
        drop(pause);
        join_within(
            writer,
            "the stopped write to go ahead once the background resumed and flushed",
        )
        .unwrap_or_else(|e| panic!("the stopped write must succeed once room is made: {e}"));
        model.insert("stalled".into(), "the write that waited".into());
        let stats = db.stats();
        assert!(
            stats.stall_micros > 0,
            "a write waited, so stall_micros must be above 0: {stats:?}"
        );
        assert_holds(&db, &model, "after the stall");
    });
}

/// Compaction that does nothing: level 0 only grows.
#[derive(Debug)]
struct NoCompaction;

impl Compaction for NoCompaction {
    fn run(&self, _context: &mut Maintenance<'_>) -> lsm_workbook::Result<()> {
        Ok(())
    }
}

#[test]
fn writes_are_slowed_once_level0_reaches_the_slowdown_trigger_and_still_succeed() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            background_threads: 1,
            stall_rule: Some(pressure),
            compaction: Some(Arc::new(NoCompaction)),
            stall: StallOptions {
                max_frozen_memtables: 100,
                level0_slowdown_tables: 2,
                level0_stop_tables: 100,
                slowdown_micros: 100,
            },
            ..options(&fs, 1 << 20)
        });
        let mut model = Model::new();
        let mut write = |db: &Db, key: String| {
            let value = versioned(&key, 1);
            db.put(b(&key), b(&value))
                .unwrap_or_else(|e| panic!("a slowed write must still succeed: {e}"));
            model.insert(key, value);
        };
        for n in 0..20 {
            write(&db, format!("first-{n:03}"));
        }
        db.flush().unwrap();
        for n in 0..20 {
            write(&db, format!("second-{n:03}"));
        }
        assert_eq!(
            db.stats().slowed_writes,
            0,
            "with 1 level-0 table and level0_slowdown_tables 2, no write is slowed"
        );
        db.flush().unwrap();
        assert_eq!(db.stats().levels[0].0, 2, "test setup: two level-0 tables");
        for n in 0..20 {
            write(&db, format!("third-{n:03}"));
        }
        let stats = db.stats();
        assert!(
            stats.slowed_writes >= 20,
            "20 writes with 2 level-0 tables (level0_slowdown_tables 2) must each be slowed: \
         slowed_writes is {} (pressure must say Slow at the slowdown trigger)",
            stats.slowed_writes
        );
        assert!(
            stats.stall_micros > 0,
            "slowed writes were delayed: stall_micros must be above 0"
        );
        assert_eq!(
            stats.stopped_writes, 0,
            "below the stop triggers, a slowed write is not stopped"
        );
        assert_holds(&db, &model, "after slowed writes");
    });
}

/// Compaction held back until the test opens the gate; then it merges all
/// of level 0 into level 1.
#[derive(Debug, Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn open(&self) {
        *self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.opened.notify_all();
    }
}

/// Opens the gate when dropped, so a failing test does not leave a
/// background compaction waiting (and the database's drop joining it).
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

fn overlaps(table: &TableMeta, smallest: &Bytes, largest: &Bytes) -> bool {
    table.smallest.key <= *largest && *smallest <= table.largest.key
}

impl Compaction for Gate {
    fn run(&self, context: &mut Maintenance<'_>) -> lsm_workbook::Result<()> {
        let started = Instant::now();
        let mut open = self.open.lock().unwrap();
        while !*open {
            let Some(left) = (DEADLINE * 2).checked_sub(started.elapsed()) else {
                return Ok(());
            };
            open = self.opened.wait_timeout(open, left).unwrap().0;
        }
        drop(open);
        let version = context.manifest.version();
        let inputs = version.level(0).to_vec();
        let (Some(smallest), Some(largest)) = (
            inputs.iter().map(|t| t.smallest.key.clone()).min(),
            inputs.iter().map(|t| t.largest.key.clone()).max(),
        ) else {
            return Ok(());
        };
        let overlapping = version
            .level(1)
            .iter()
            .filter(|t| overlaps(t, &smallest, &largest))
            .cloned()
            .collect();
        let task = Task {
            level: 0,
            inputs,
            overlapping,
        };
        let edit = compact(context, &task, 1 << 20)?;
        context.manifest.install(&edit)
    }
}

#[test]
fn writes_stop_at_the_level0_stop_trigger_until_compaction_lets_them_go() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let gate = Arc::new(Gate::default());
        let db = Arc::new(open_with(Options {
            background_threads: 2,
            stall_rule: Some(pressure),
            compaction: Some(Arc::clone(&gate) as Arc<dyn Compaction>),
            stall: StallOptions {
                max_frozen_memtables: 100,
                level0_slowdown_tables: 100,
                level0_stop_tables: 3,
                slowdown_micros: 100,
            },
            ..options(&fs, 1 << 20)
        }));
        // Dropped before `db`: a failure below releases the compaction first.
        let _release = OpenOnDrop(Arc::clone(&gate));
        let mut model = Model::new();
        for table in 0..3 {
            for n in 0..20 {
                let key = format!("t{table}-{n:03}");
                let value = versioned(&key, 1);
                db.put(b(&key), b(&value)).unwrap_or_else(|e| {
                    panic!("with {table} level-0 tables (stop at 3), a write must succeed: {e}")
                });
                model.insert(key, value);
            }
            db.flush().unwrap();
        }
        assert_eq!(
            db.stats().levels[0].0,
            3,
            "test setup: 3 level-0 tables, held there by the gated compaction"
        );
        let writer = {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.put(b("stalled"), b("the write that waited")))
        };
        wait_until(
            "a write with 3 level-0 tables (level0_stop_tables 3) to be counted in \
         stopped_writes: pressure must say Stop at the level-0 stop trigger",
            || db.stats().stopped_writes >= 1,
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !writer.is_finished(),
            "the write went ahead with level 0 at its stop trigger and compaction held back: \
         it must wait until compaction empties level 0"
        );
        gate.open();
        join_within(
            writer,
            "the stopped write to go ahead once compaction merged level 0 into level 1",
        )
        .unwrap_or_else(|e| panic!("the stopped write must succeed after the compaction: {e}"));
        model.insert("stalled".into(), "the write that waited".into());
        let stats = db.stats();
        assert!(
            stats.levels[0].0 < 3 && stats.stall_micros > 0,
            "after the compaction level 0 is below the stop trigger and the wait was counted \
         in stall_micros: {stats:?}"
        );
        assert_holds(&db, &model, "after the level-0 stall");
    });
}

/// `true` once `fs`'s trace holds a failed create of a table file.
fn a_table_create_failed(fs: &SimFs) -> bool {
    fs.trace().iter().any(|op| {
        op.kind == OpKind::Create && !op.ok && op.path.to_string_lossy().ends_with(".sst")
    })
}

#[test]
fn a_failed_background_flush_poisons_every_later_write_and_reads_keep_working() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            background_threads: 1,
            stall_rule: Some(pressure),
            ..options(&fs, 32 << 10)
        });
        let mut model = Model::new();
        let pause = db.pause_background();
        write_until(
            &db,
            &mut model,
            "acked",
            20_000,
            "with the background paused, a full memtable stays frozen",
            |stats| stats.frozen_memtables >= 1,
        );
        // Every create fails from now on: the background flush's table first.
        fs.inject(Fault::nth(OpKind::Create, 1).persistent());
        drop(pause);
        wait_until(
            "the background flush to try (and fail) to create its table",
            || a_table_create_failed(&fs),
        );
        let started = Instant::now();
        let first_error = loop {
            assert!(
                started.elapsed() < DEADLINE,
                "a background flush failed {DEADLINE:?} ago and writes still succeed: a failed \
             background job must poison the database"
            );
            let key = format!("after-{:06}", model.len());
            match db.put(b(&key), b("tiny")) {
                Ok(()) => {
                    model.insert(key, "tiny".into());
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(error) => break error,
            }
        };
        assert!(
            matches!(first_error, Error::Poisoned { .. }),
            "after a failed background flush, the next write must fail with Error::Poisoned, \
         got {first_error:?}"
        );
        for n in 0..3 {
            let result = db.put(b(&format!("refused-{n}")), b("x"));
            assert!(
                matches!(result, Err(Error::Poisoned { .. })),
                "every write after a background failure fails with Poisoned (fail-stop), got \
             {result:?}"
            );
        }
        assert!(
            matches!(db.flush(), Err(Error::Poisoned { .. })),
            "a flush after a background failure fails with Poisoned"
        );
        for (key, value) in &model {
            assert_eq!(
                value_of(&db, key).as_deref(),
                Some(value.as_str()),
                "reads keep working after a background failure (the memtable whose flush \
             failed stays readable)"
            );
        }
        drop(db);
        let image = fs.crash(CrashMode::ProcessKill);
        let db = open_with(options(&image, 32 << 10));
        assert_holds(
            &db,
            &model,
            "reopened on the same files without the fault, after a background failure",
        );
    });
}

#[test]
fn a_writer_stopped_on_a_stall_is_woken_with_the_background_error() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = Arc::new(open_with(Options {
            background_threads: 1,
            stall_rule: Some(pressure),
            stall: StallOptions {
                max_frozen_memtables: 2,
                ..StallOptions::default()
            },
            ..options(&fs, 32 << 10)
        }));
        let mut model = Model::new();
        let pause = db.pause_background();
        write_until(
            &db,
            &mut model,
            "acked",
            20_000,
            "with the background paused, full memtables pile up frozen until there are 2",
            |stats| stats.frozen_memtables >= 2,
        );
        let writer = {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.put(b("stalled"), b("never acknowledged")))
        };
        wait_until(
            "a write with 2 frozen memtables (max_frozen_memtables 2) to be counted in \
         stopped_writes: pressure must say Stop at the limit",
            || db.stats().stopped_writes >= 1,
        );
        fs.inject(Fault::nth(OpKind::Create, 1).persistent());
        drop(pause);
        let result = join_within(
            writer,
            "the stopped writer to wake up after the background flush failed (a stopped write \
         must be woken by a failure, not left waiting for a flush that will never come)",
        );
        assert!(
            matches!(result, Err(Error::Poisoned { .. })),
            "a writer stopped on a stall when the background flush failed must get \
         Error::Poisoned, got {result:?}"
        );
        drop(db);
        let image = fs.crash(CrashMode::ProcessKill);
        let db = open_with(options(&image, 32 << 10));
        assert_holds(&db, &model, "reopened without the fault");
    });
}

#[test]
fn close_with_background_work_pending_loses_nothing() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            background_threads: 1,
            stall_rule: Some(pressure),
            compaction: Some(small_leveled()),
            block_cache: cache_of(256 << 10),
            stall: StallOptions {
                max_frozen_memtables: 8,
                ..StallOptions::default()
            },
            ..options(&fs, 32 << 10)
        });
        let mut model = Model::new();
        // The pause is never released: close must stop threads that are
        // waiting for it, with 5 memtables frozen and not flushed.
        std::mem::forget(db.pause_background());
        write_until(
            &db,
            &mut model,
            "pending",
            50_000,
            "with the background paused, full memtables pile up frozen until there are 5",
            |stats| stats.frozen_memtables >= 5,
        );
        let (done, closed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(db.close());
        });
        let result = closed.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "close() did not return within {DEADLINE:?} with the background paused and 5 \
             memtables frozen: close stops the threads after their running job, it does not \
             wait for the pending ones"
            )
        });
        result.unwrap_or_else(|e| panic!("close must succeed: {e}"));
        let db = open_with(options(&fs, 32 << 10));
        assert_holds(
            &db,
            &model,
            "reopened after close with 5 memtables never flushed",
        );
    });
}

#[test]
fn dropping_a_database_while_background_work_runs_loses_no_acknowledged_write() {
    bounded(ENGINE_HANG, || {
        let fs = SimFs::new();
        let db = open_with(Options {
            background_threads: 2,
            stall_rule: Some(pressure),
            compaction: Some(small_leveled()),
            block_cache: cache_of(256 << 10),
            ..options(&fs, 32 << 10)
        });
        let mut model = Model::new();
        for n in 0..3000 {
            let key = format!("key-{:05}", (n * 7919) % 3000);
            let value = versioned(&key, n);
            db.put(b(&key), b(&value)).unwrap();
            model.insert(key, value);
        }
        // No close: the handle stops the threads as it drops, mid-work.
        drop(db);
        let image = fs.crash(CrashMode::ProcessKill);
        let db = open_with(Options {
            compaction: Some(small_leveled()),
            ..options(&image, 32 << 10)
        });
        assert_holds(
            &db,
            &model,
            "reopened from the process-kill image of a database dropped without close",
        );
    });
}

// ---------------------------------------------------------------------------
// A real process, killed.
// ---------------------------------------------------------------------------

/// Set for the child: the directory it writes its database in.
const CHILD_DIR_ENV: &str = "LSM_CH10_CHILD_DIR";
/// Set to replay the kill test with a given seed.
const KILL_SEED_ENV: &str = "LSM_CH10_KILL_SEED";
/// This test's name, which the child is run as.
const KILL_TEST: &str = "a_process_killed_with_sigkill_keeps_every_acknowledged_write";

fn kill_key(i: u64) -> String {
    format!("key-{i:08}")
}

fn kill_value(i: u64) -> String {
    format!("value-{i}-{}", "y".repeat(i as usize % 50))
}

fn kill_options() -> Options {
    Options {
        memtable_size_bytes: 64 << 10,
        compaction: Some(small_leveled()),
        ..Options::default()
    }
}

/// The child: writes key after key with background flushes and
/// compactions, printing `ack i` once write `i` returned, until killed.
fn kill_child(dir: &Path) {
    let db = Db::open(
        dir,
        Options {
            background_threads: 2,
            stall_rule: Some(pressure),
            block_cache: cache_of(1 << 20),
            ..kill_options()
        },
    )
    .unwrap_or_else(|e| panic!("the child's database must open: {e}"));
    let mut out = std::io::stdout().lock();
    // libtest's `test NAME ... ` has no newline yet: end its line first.
    if writeln!(out).is_err() {
        return;
    }
    let started = Instant::now();
    for i in 0..2_000_000 {
        // An orphan (a parent that died without killing it) stops too.
        if started.elapsed() > DEADLINE * 3 {
            return;
        }
        db.write(
            WriteBatch::default().put(b(&kill_key(i)), b(&kill_value(i))),
            WriteOptions { sync: false },
        )
        .unwrap_or_else(|e| panic!("the child's write {i} failed: {e}"));
        // The parent gone (a closed pipe) ends the child.
        if writeln!(out, "ack {i}").and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// Runs one child, kills it after `target` acknowledgements; returns the
/// acknowledgements received.
fn run_and_kill(dir: &Path, target: u64, seed: u64) -> u64 {
    let stderr_path = dir.with_extension("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([KILL_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = 0;
    // Other lines are libtest's own.
    let on_line = |line: String, acked: &mut u64| {
        if let Some(number) = line.strip_prefix("ack ") {
            assert_eq!(
                number.parse::<u64>().ok(),
                Some(*acked),
                "the child acknowledged out of order (seed {seed})"
            );
            *acked += 1;
        }
    };
    let mut killed = false;
    while acked < target {
        match received.recv_timeout(DEADLINE) {
            Ok(line) => on_line(line, &mut acked),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the child wrote nothing for {DEADLINE:?} after {acked} acknowledged writes \
                     (seed {seed}): a write stopped and never woken?"
                );
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if acked == target {
            // SIGKILL on Unix: no destructor, no close, no flush runs.
            child.kill().unwrap();
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    // Lines printed before the kill are acknowledged writes too.
    while let Ok(line) = received.recv_timeout(DEADLINE) {
        on_line(line, &mut acked);
    }
    let _ = reader.join();
    if !killed {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let lines: Vec<&str> = stderr.lines().collect();
        // The child's panic: the line after `panicked at` holds its message.
        let panic = lines
            .iter()
            .position(|line| line.contains("panicked at"))
            .map_or(&[][..], |at| &lines[at..(at + 2).min(lines.len())]);
        let tail = &lines[lines.len().saturating_sub(6)..];
        panic!(
            "the child ended ({status}) after {acked} of the {target} acknowledged writes \
             the test waited for (seed {seed}); it panicked:\n{}\nits stderr ends:\n{}",
            panic.join("\n"),
            tail.join("\n")
        );
    }
    acked
}

#[test]
fn a_process_killed_with_sigkill_keeps_every_acknowledged_write() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        kill_child(Path::new(&dir));
        return;
    }
    let seed = std::env::var(KILL_SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("kill test seed {seed}: replay with {KILL_SEED_ENV}={seed}");
    let mut rng = Rng(seed);
    let base = tempfile::tempdir().expect("a temporary directory");
    for run in 0..3 {
        let target = 2000 + rng.below(18_001);
        let dir: PathBuf = base.path().join(format!("db{run}"));
        let acked = run_and_kill(&dir, target, seed);
        assert!(
            acked >= target,
            "the child acknowledged {acked} writes, fewer than {target} (seed {seed})"
        );
        let db = Db::open(&dir, kill_options()).unwrap_or_else(|e| {
            panic!("run {run}: the database of a killed process must reopen (seed {seed}): {e}")
        });
        let found: BTreeMap<Bytes, Bytes> = db
            .scan(..)
            .collect::<lsm_workbook::Result<_>>()
            .unwrap_or_else(|e| panic!("run {run}: the scan after reopen failed: {e}"));
        for i in 0..acked {
            let got = found.get(kill_key(i).as_bytes());
            assert!(
                got.map(|v| v.as_ref()) == Some(kill_value(i).as_bytes()),
                "run {run}, seed {seed}: write {i} of the {acked} the killed child \
                 acknowledged is {} after reopen ({} keys found)",
                match got {
                    None => "missing".to_string(),
                    Some(v) => format!("`{:.40}`", String::from_utf8_lossy(v)),
                },
                found.len()
            );
        }
        for (k, v) in &found {
            let i = String::from_utf8_lossy(k)
                .strip_prefix("key-")
                .and_then(|n| n.parse::<u64>().ok());
            assert!(
                i.is_some_and(|i| v.as_ref() == kill_value(i).as_bytes()),
                "run {run}, seed {seed}: the reopened database holds {} = `{:.40}`, which \
                 the child never wrote",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            );
        }
    }
}
