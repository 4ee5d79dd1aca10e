//! Fixtures for the grader's unit tests: points entries, chapters, and
//! chapter reports scored from canned libtest output (one with a failure,
//! one whose parallel run crashed).

use super::advice::SkipAhead;
use super::crash;
use super::score::{ChapterReport, Evidence, score};
use crate::libtest;
use crate::points::Entry;
use crate::workspace::Chapter;

pub fn entry(test: &str, points: u32) -> Entry {
    Entry {
        test: test.into(),
        points,
        section: "1.2".into(),
        line: 1,
    }
}

pub fn chapter(number: u32, name: &str) -> Chapter {
    Chapter {
        number,
        name: name.into(),
        is_dir: false,
    }
}

pub const RUN: &str = "running 3 tests\ntest a ... ok\ntest b ... FAILED\ntest extra ... ok\n\nfailures:\n\n---- b stdout ----\nthread 'b' (1) panicked at x.rs:1:1:\nnot yet implemented: ch01: b\n\nfailures:\n    b\n\ntest result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";

pub fn report() -> ChapterReport {
    let entries = [entry("a", 2), entry("b", 3)];
    let scored = score(&entries, &Evidence::of_run(libtest::parse(RUN)));
    ChapterReport {
        chapter: chapter(1, "ch01_memtable"),
        tests: scored.tests,
        problem: None,
        unlisted: Vec::new(),
    }
}

/// A chapter of four tests whose parallel run aborted: the serial
/// re-runs found `boom` (an abort) and `hang` (never finished); `c`
/// failed on its own, `d` passed.
pub fn crashed_report() -> ChapterReport {
    let entries = [
        entry("boom", 2),
        entry("hang", 1),
        entry("c", 1),
        entry("d", 1),
        entry("never", 1),
    ];
    let run = "test c ... FAILED\ntest d ... ok\n\nfailures:\n\n---- c stdout ----\nthread 'c' (9) panicked at tests/t.rs:1:1:\nassertion failed: x\n\nfailures:\n    c\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 2 filtered out\n";
    let mut evidence = Evidence::of_run(libtest::parse(run));
    evidence.crashes = vec![
        crash::Crash {
            test: "boom".into(),
            what: "crashed the test binary with SIGABRT".into(),
            output: "memory allocation of 309237645240 bytes failed\nthe test binary died while this test ran (signal: 6, SIGABRT: process abort signal)".into(),
        },
        crash::Crash {
            test: "hang".into(),
            what: "timed out: still running after 60 s".into(),
            output: "the test binary was killed: this test was still running after 60 s".into(),
        },
    ];
    let scored = score(&entries, &evidence);
    ChapterReport {
        chapter: chapter(3, "ch03_sstable"),
        tests: scored.tests,
        problem: Some("the test run crashed (signal: 6, SIGABRT: process abort signal)".into()),
        unlisted: scored.unlisted,
    }
}

/// The workbook's Cargo.toml features, as far as skipping ahead goes.
pub const MANIFEST: &str = r#"
[features]
ref-ch01 = []
# `ref-upto-chNN` takes chapters 1..=NN from the reference
ref-upto-ch01 = ["ref-ch01"]
ref-upto-ch02 = ["ref-upto-ch01", "ref-ch02"]
ref-upto-ch03 = ["ref-upto-ch02", "ref-ch03"]

[dependencies]
ref-upto-ch04 = "not a feature"
"#;

/// Chapters 1 to 5, named as in the workbook.
pub fn chapters() -> Vec<Chapter> {
    ["memtable", "wal", "sstable", "bloom", "index"]
        .iter()
        .zip(1..)
        .map(|(topic, number)| chapter(number, &format!("ch{number:02}_{topic}")))
        .collect()
}

/// Chapters 1 to 5 with [`MANIFEST`]'s `ref-upto-ch01` … `ref-upto-ch03`.
pub fn skip_ahead() -> SkipAhead {
    SkipAhead::new(&chapters(), MANIFEST)
}
