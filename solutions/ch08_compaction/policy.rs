//! The leveled policy: a pure function from a version to the next
//! compaction task, or none.
//!
//! Each level has a **score**: level 0 its table count over the trigger,
//! a level ≥ 1 its bytes over its target (the targets grow by a factor per
//! level). The level with the highest score of at least 1 compacts first;
//! on a tie the lower level wins, since its data is the newest. The last
//! level has no score: there is nowhere below it to go.
//!
//! ```text
//!  level  tables/bytes     target     score
//!  L0     5 tables         trigger 4  1.25   ← picked
//!  L1     9 MiB            10 MiB     0.90
//!  L2     120 MiB          100 MiB    1.20
//! ```

use super::{LeveledOptions, Task};
use crate::ch06_manifest::{LEVEL_COUNT, Version};
// BEGIN SOLUTION hide
use crate::ch06_manifest::TableMeta;
use bytes::Bytes;
// END SOLUTION

/// The byte target of `level` (≥ 1): `level1_target_bytes` times the
/// factor once per level below 1.
pub fn level_target_bytes(level: usize, options: &LeveledOptions) -> u64 {
    let mut target = options.level1_target_bytes;
    for _ in 1..level {
        target = target.saturating_mul(options.level_size_factor);
    }
    target
}

/// The score of `level` in `version`: how urgently it needs compaction
/// (1.0 and above: it does). The last level scores 0.
pub fn score(version: &Version, level: usize, options: &LeveledOptions) -> f64 {
    if level + 1 >= LEVEL_COUNT {
        return 0.0;
    }
    let tables = version.level(level);
    if level == 0 {
        return tables.len() as f64 / options.level0_trigger.max(1) as f64;
    }
    let bytes: u64 = tables.iter().map(|table| table.size_bytes).sum();
    bytes as f64 / level_target_bytes(level, options).max(1) as f64
}

// ANCHOR: ch08_pick
/// The next compaction `version` needs, or `None` if every level scores
/// below 1:
///
/// - the level with the highest score (the lower level on a tie);
/// - from level 0, every level-0 table (their ranges may overlap, so any
///   one of them may hide versions in another); from a level ≥ 1, the
///   table whose overlapping bytes in the next level are the fewest for
///   its own bytes (RocksDB's `kMinOverlappingRatio`: it moves the most
///   data down for the least rewritten; on a tie the one with the
///   smallest keys);
/// - plus every table of the next level whose key range overlaps the
///   inputs' (by user key, so all versions of a key move together).
pub fn pick(version: &Version, options: &LeveledOptions) -> Option<Task> {
    // BEGIN SOLUTION todo(version, options): the highest score ≥ 1, its inputs, and the overlapping tables below — book §8.4, task 1
    let (level, best) = (0..LEVEL_COUNT)
        .map(|level| (level, score(version, level, options)))
        .fold((0, 0.0), |best, candidate| {
            if candidate.1 > best.1 {
                candidate
            } else {
                best
            }
        });
    if best < 1.0 {
        return None;
    }
    let tables = version.level(level);
    let next = version.level(level + 1);
    let inputs: Vec<TableMeta> = if level == 0 {
        tables.to_vec()
    } else {
        // a's ratio below b's: a.overlap / a.size < b.overlap / b.size,
        // cross-multiplied to stay in integers.
        let ratio = |table: &TableMeta| (overlap_bytes(next, table), table.size_bytes.max(1));
        let best = tables.iter().map(|table| (ratio(table), table)).min_by(
            |((a_overlap, a_size), a), ((b_overlap, b_size), b)| {
                (u128::from(*a_overlap) * u128::from(*b_size))
                    .cmp(&(u128::from(*b_overlap) * u128::from(*a_size)))
                    .then(a.smallest.cmp(&b.smallest))
            },
        )?;
        vec![best.1.clone()]
    };
    let (smallest, largest) = key_range(&inputs)?;
    let overlapping = next
        .iter()
        .filter(|table| overlaps(table, &smallest, &largest))
        .cloned()
        .collect();
    Some(Task {
        level,
        inputs,
        overlapping,
    })
    // END SOLUTION
}
// ANCHOR_END: ch08_pick

// BEGIN SOLUTION hide
/// `true` if `table`'s user keys meet `smallest..=largest`.
fn overlaps(table: &TableMeta, smallest: &Bytes, largest: &Bytes) -> bool {
    table.largest.key >= *smallest && table.smallest.key <= *largest
}

/// The bytes of the tables of `next` (a level ≥ 1: sorted, disjoint) that
/// overlap `table`'s user keys.
fn overlap_bytes(next: &[TableMeta], table: &TableMeta) -> u64 {
    let first = next.partition_point(|t| t.largest.key < table.smallest.key);
    next[first..]
        .iter()
        .take_while(|t| t.smallest.key <= table.largest.key)
        .map(|t| t.size_bytes)
        .sum()
}

/// The smallest and largest user keys of `tables`.
fn key_range(tables: &[TableMeta]) -> Option<(Bytes, Bytes)> {
    let smallest = tables.iter().map(|table| &table.smallest.key).min()?;
    let largest = tables.iter().map(|table| &table.largest.key).max()?;
    Some((smallest.clone(), largest.clone()))
}
// END SOLUTION
