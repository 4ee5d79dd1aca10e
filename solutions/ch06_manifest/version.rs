//! The version: which tables are the database, per level, and the counters
//! recovery needs. A version is immutable; applying an edit makes the next
//! one, so a reader can keep using the version it started with.
//!
//! Invariants, checked by [`Version::apply`] (an edit that would break one
//! is refused and changes nothing):
//!
//! - a file number appears at most once in the whole version;
//! - level 0 holds its tables newest first (by file number, descending:
//!   flushes take their numbers in order); their key ranges may overlap;
//! - each level ≥ 1 is sorted by key and its tables do not overlap: a user
//!   key lies in at most one table of the level;
//! - every table has `smallest ≤ largest` and a file number below
//!   `next_file_number`;
//! - the counters never go backwards.

use super::edit::{LEVEL_COUNT, TableMeta, VersionEdit};
use crate::types::SeqNo;

/// The tables of the database per level, and the counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    levels: Vec<Vec<TableMeta>>,
    /// Logs numbered below this hold nothing the tables lack.
    pub log_number: u64,
    /// The next file number to hand out (recorded; the manifest's own
    /// counter may be ahead of it).
    pub next_file_number: u64,
    /// The last sequence number written to any table.
    pub last_seq: SeqNo,
}

impl Default for Version {
    /// The empty version: no tables, every counter at its start.
    fn default() -> Self {
        Version {
            levels: vec![Vec::new(); LEVEL_COUNT],
            log_number: 0,
            next_file_number: 1,
            last_seq: 0,
        }
    }
}

impl Version {
    /// The tables of `level`: newest first for level 0, sorted by key for
    /// the others. Empty for a level past the last.
    pub fn level(&self, level: usize) -> &[TableMeta] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// Every table, with its level, level by level.
    pub fn tables(&self) -> impl Iterator<Item = (usize, &TableMeta)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.iter().map(move |table| (level, table)))
    }

    /// `true` if a table of this version has `file_number`.
    pub fn contains_table(&self, file_number: u64) -> bool {
        self.tables()
            .any(|(_, table)| table.file_number == file_number)
    }

    /// The one edit that builds this version from the empty one: what a
    /// new manifest starts with.
    pub fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_seq: Some(self.last_seq),
            removed: Vec::new(),
            added: self
                .tables()
                .map(|(level, table)| (level, table.clone()))
                .collect(),
        }
    }

    // ANCHOR: ch06_apply
    /// The version after `edit`: its counters, then its removals, then its
    /// additions, every invariant of the module docs checked. `Err` says
    /// which rule the edit breaks; `self` is never changed.
    pub fn apply(&self, edit: &VersionEdit) -> Result<Version, String> {
        // BEGIN SOLUTION todo(edit): apply counters, removals and additions to a copy, checking every invariant — book §6.4, task 2
        let mut next = self.clone();
        next.set_counters(edit)?;
        for &(level, file_number) in &edit.removed {
            let tables = next.level_mut(level)?;
            let position = tables
                .iter()
                .position(|table| table.file_number == file_number)
                .ok_or_else(|| {
                    format!(
                        "removes table {file_number} from level {level}, which does not hold it"
                    )
                })?;
            tables.remove(position);
        }
        for (level, table) in &edit.added {
            next.check_new_table(*level, table)?;
            next.level_mut(*level)?.push(table.clone());
        }
        next.levels[0].sort_by_key(|table| std::cmp::Reverse(table.file_number));
        for level in 1..LEVEL_COUNT {
            next.levels[level].sort_by(|a, b| a.smallest.cmp(&b.smallest));
            check_no_overlap(level, &next.levels[level])?;
        }
        Ok(next)
        // END SOLUTION
    }
    // ANCHOR_END: ch06_apply

    // BEGIN SOLUTION hide
    fn set_counters(&mut self, edit: &VersionEdit) -> Result<(), String> {
        for (name, current, new) in [
            ("log_number", &mut self.log_number, edit.log_number),
            (
                "next_file_number",
                &mut self.next_file_number,
                edit.next_file_number,
            ),
            ("last_seq", &mut self.last_seq, edit.last_seq),
        ] {
            match new {
                Some(new) if new < *current => {
                    return Err(format!("{name} goes backwards: {current} -> {new}"));
                }
                Some(new) => *current = new,
                None => {}
            }
        }
        Ok(())
    }

    fn level_mut(&mut self, level: usize) -> Result<&mut Vec<TableMeta>, String> {
        self.levels
            .get_mut(level)
            .ok_or_else(|| format!("level {level} is out of range (0..{LEVEL_COUNT})"))
    }

    fn check_new_table(&self, level: usize, table: &TableMeta) -> Result<(), String> {
        let number = table.file_number;
        if self.contains_table(number) {
            return Err(format!(
                "adds table {number} to level {level}, but the version holds it already"
            ));
        }
        if number >= self.next_file_number {
            return Err(format!(
                "adds table {number}, a number not handed out yet (next_file_number is {})",
                self.next_file_number
            ));
        }
        if table.smallest > table.largest {
            return Err(format!(
                "table {number} has its smallest key after its largest"
            ));
        }
        Ok(())
    }
    // END SOLUTION
}

// BEGIN SOLUTION hide
/// Tables sorted by smallest key must each end before the next begins, by
/// user key: two versions of one key in two tables of a level would make a
/// lookup pick one table and miss the other.
fn check_no_overlap(level: usize, tables: &[TableMeta]) -> Result<(), String> {
    for pair in tables.windows(2) {
        if pair[0].largest.key >= pair[1].smallest.key {
            return Err(format!(
                "tables {} and {} overlap in level {level}",
                pair[0].file_number, pair[1].file_number
            ));
        }
    }
    Ok(())
}
// END SOLUTION
