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
    let _ = (version, options);
    todo!(
        "ch08: the highest score ≥ 1, its inputs, and the overlapping tables below — book §8.4, task 1"
    )
}
