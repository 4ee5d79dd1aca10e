//! Dumping a manifest (each edit, then the version it leads to, level by
//! level) and a `CURRENT` file (the manifest it names).

use std::path::Path;

use lsm_workbook::Error;
use lsm_workbook::ch02_wal::read_log;
use lsm_workbook::ch06_manifest::{EDIT_KEY, LEVEL_COUNT, TableMeta, Version, VersionEdit};
use lsm_workbook::fs::Fs;
use lsm_workbook::types::{InternalKey, Op};

use super::{Out, damage, plural, say, show};

/// Prints every edit of the manifest at `path` as it is replayed, then the
/// resulting version. Stops at the first record that is not a valid edit.
pub fn dump(fs: &dyn Fs, path: &Path, out: &mut Out) {
    let mut records = Vec::new();
    let report = match read_log(fs, path, &mut |offset, batch| records.push((offset, batch))) {
        Ok(report) => Some(report),
        Err(Error::Corruption { offset, detail, .. }) => {
            damage!(out, "record at {offset}: CORRUPTION: {detail}");
            None
        }
        Err(other) => {
            damage!(out, "error: {other}");
            return;
        }
    };
    let mut version = Version::default();
    for (number, (offset, batch)) in records.iter().enumerate() {
        let edit = match batch.ops.as_slice() {
            [Op::Put { key, value }] if key.as_ref() == EDIT_KEY => VersionEdit::decode(value),
            _ => Err(format!(
                "record holds {} ops, not one edit",
                batch.ops.len()
            )),
        };
        let applied = edit.and_then(|edit| {
            print_edit(out, number as u64 + 1, *offset, &edit);
            version.apply(&edit)
        });
        match applied {
            Ok(next) => version = next,
            Err(detail) => {
                damage!(out, "edit at {offset}: CORRUPTION: {detail}");
                break;
            }
        }
    }
    if let Some(tail) = report.and_then(|report| report.torn_tail) {
        say!(
            out,
            "torn tail at {}: {} byte{} dropped: {}",
            tail.offset,
            tail.dropped_len_bytes,
            plural(tail.dropped_len_bytes),
            tail.reason
        );
    }
    print_version(out, &version);
}

fn print_edit(out: &mut Out, number: u64, offset: u64, edit: &VersionEdit) {
    say!(out, "edit {number} at {offset}:");
    for (name, counter) in [
        ("log_number", edit.log_number),
        ("next_file_number", edit.next_file_number),
        ("last_seq", edit.last_seq),
    ] {
        if let Some(value) = counter {
            say!(out, "  {name} = {value}");
        }
    }
    for (level, file_number) in &edit.removed {
        say!(out, "  remove L{level} #{file_number}");
    }
    for (level, table) in &edit.added {
        say!(out, "  add    L{level} {}", show_table(table));
    }
}

fn print_version(out: &mut Out, version: &Version) {
    say!(
        out,
        "version: log_number {}, next_file_number {}, last_seq {}",
        version.log_number,
        version.next_file_number,
        version.last_seq
    );
    for level in 0..LEVEL_COUNT {
        let tables = version.level(level);
        if tables.is_empty() {
            continue;
        }
        let bytes: u64 = tables.iter().map(|table| table.size_bytes).sum();
        say!(
            out,
            "  L{level}: {} table{}, {bytes} bytes",
            tables.len(),
            plural(tables.len() as u64)
        );
        for table in tables {
            say!(out, "    {}", show_table(table));
        }
    }
}

/// `#12 4096 bytes ["apple"@9 .. "fig"@1]`
fn show_table(table: &TableMeta) -> String {
    format!(
        "#{} {} bytes [{} .. {}]",
        table.file_number,
        table.size_bytes,
        show_key(&table.smallest),
        show_key(&table.largest)
    )
}

fn show_key(key: &InternalKey) -> String {
    format!("{}@{}", show(&key.key), key.seq)
}

/// Prints what a `CURRENT` file names.
pub fn dump_current(fs: &dyn Fs, path: &Path, out: &mut Out) {
    let dir = lsm_workbook::fs::parent_dir(path);
    match lsm_workbook::ch06_manifest::read_current(fs, &dir) {
        Ok(Some(number)) => say!(out, "names MANIFEST-{number:06}"),
        Ok(None) => damage!(out, "no CURRENT in {}", dir.display()),
        Err(error) => damage!(out, "CORRUPTION: {error}"),
    }
}
