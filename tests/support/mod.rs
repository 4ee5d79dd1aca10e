//! Helpers shared by the graded tests (not graded themselves).

#![allow(dead_code, reason = "each test target uses a different subset")]

use bytes::Bytes;
use lsm_workbook::types::{Entry, Value};

/// `Bytes` from a string literal.
pub fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A put version.
pub fn put(key: &str, seq: u64, value: &str) -> Entry {
    Entry {
        key: b(key),
        seq,
        value: Value::Put(b(value)),
    }
}

/// A tombstone version.
pub fn del(key: &str, seq: u64) -> Entry {
    Entry {
        key: b(key),
        seq,
        value: Value::Delete,
    }
}

/// `Value::Put` from a string.
pub fn val(text: &str) -> Value {
    Value::Put(b(text))
}

/// Entries as short readable strings, for assertion messages:
/// `a@3=x`, `a@2=<del>`.
pub fn show(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| {
            let key = String::from_utf8_lossy(&entry.key);
            match &entry.value {
                Value::Put(v) => format!("{key}@{}={}", entry.seq, String::from_utf8_lossy(v)),
                Value::Delete => format!("{key}@{}=<del>", entry.seq),
            }
        })
        .collect()
}
