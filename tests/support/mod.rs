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

/// A classic hex dump, 16 bytes a line with offsets, for snapshots and
/// failure messages.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&byte| {
                if byte.is_ascii_graphic() || byte == b' ' {
                    byte as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}  {:<47}  |{text}|\n",
            line * 16,
            hex.join(" ")
        ));
    }
    out
}
