//! What a failing test tells the learner to do. A failure in the graded
//! chapter's own code points at its book section; one in another chapter's
//! code (`not yet implemented: chMM: …`, or a panic located in
//! `chapters/chMM_…`) says to finish that chapter first, or how to grade
//! this one on top of the reference instead: with `--isolated`, or with
//! the shortest `--features` that Cargo.toml allows ([`SkipAhead`]).

use crate::Result;
use crate::workspace::{self, Chapter, Workspace};

use super::score::TestResult;

/// The prefix of the features that take chapters 1..=NN from the reference.
const UPTO_PREFIX: &str = "ref-upto-ch";

/// How to take chapters from the reference on the command line: the
/// workbook's chapters, and the NN of each `ref-upto-chNN` feature its
/// Cargo.toml declares (chapters 1..=NN from the reference).
#[derive(Debug, Clone)]
pub struct SkipAhead {
    chapters: Vec<Chapter>,
    upto: Vec<u32>,
}

impl SkipAhead {
    /// From the workbook's chapters and the `[features]` of its Cargo.toml.
    pub fn load(ws: &Workspace, chapters: &[Chapter]) -> Result<SkipAhead> {
        let manifest = workspace::read(&ws.root.join("Cargo.toml"))?;
        Ok(SkipAhead::new(chapters, &manifest))
    }

    pub fn new(chapters: &[Chapter], manifest: &str) -> SkipAhead {
        SkipAhead {
            chapters: chapters.to_vec(),
            upto: upto_features(manifest),
        }
    }

    /// The features that take every chapter before `own` from the
    /// reference, and `later` too if the tests need a later chapter's code:
    /// `ref-upto-chNN` for the chapter just before `own` if Cargo.toml has
    /// it, otherwise each earlier chapter's `ref-chMM`.
    pub fn features(&self, own: u32, later: Option<u32>) -> Vec<String> {
        let earlier: Vec<&Chapter> = self.chapters.iter().filter(|c| c.number < own).collect();
        let mut features: Vec<String> = match earlier.last() {
            Some(last) if self.upto.contains(&last.number) => {
                vec![format!("{UPTO_PREFIX}{:02}", last.number)]
            }
            _ => earlier.iter().map(|c| c.ref_feature()).collect(),
        };
        let needed = self
            .chapters
            .iter()
            .filter(|c| c.number > own && Some(c.number) == later);
        features.extend(needed.map(Chapter::ref_feature));
        features
    }
}

/// The NN of every `ref-upto-chNN = …` line in the manifest's `[features]`.
fn upto_features(manifest: &str) -> Vec<u32> {
    let mut in_features = false;
    let mut upto = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        let Some((name, _)) = line.split_once('=').filter(|_| in_features) else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if let Some(number) = name.strip_prefix(UPTO_PREFIX).and_then(|n| n.parse().ok()) {
            upto.push(number);
        }
    }
    upto
}

/// Where a failure happened, when it is in another chapter's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elsewhere {
    /// The test reached chapter N's `todo!("chNN: …")`.
    Todo(u32),
    /// The test panicked in chapter N's file under `chapters/`.
    Panicked { chapter: u32, location: String },
}

/// Whether a failure's output shows it happened in another chapter's code
/// than chapter `own`'s: `not yet implemented: chMM: …`, or a panic located
/// in `chapters/chMM_…`. (A panic in the reference, `solutions/…`, is the
/// graded chapter's doing: it called the reference.)
pub fn elsewhere(output: &str, own: u32) -> Option<Elsewhere> {
    let marker = "not yet implemented: ch";
    for (at, _) in output.match_indices(marker) {
        if let Some(number) = chapter_number(&output[at + marker.len()..], ':')
            && number != own
        {
            return Some(Elsewhere::Todo(number));
        }
    }
    let panic = output.lines().find_map(|l| l.split_once(" panicked at "))?;
    let location = panic.1.trim().trim_end_matches(':').replace("src/../", "");
    let (_, file) = location.split_once("chapters/ch")?;
    let number = chapter_number(file, '_')?;
    (number != own).then_some(Elsewhere::Panicked {
        chapter: number,
        location,
    })
}

/// The number at the start of `text`, if `end` follows it: `03:` → 3.
fn chapter_number(text: &str, end: char) -> Option<u32> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 || !text[digits..].starts_with(end) {
        return None;
    }
    text[..digits].parse().ok()
}

/// What to do about a failing test: read its book section, or, if it
/// failed in another chapter's code, see to that chapter first.
pub fn pointer(test: &TestResult, chapter: &Chapter, skip: &SkipAhead) -> Vec<String> {
    let Some(elsewhere) = elsewhere(&test.output, chapter.number) else {
        return vec![format!("read book §{}", test.entry.section)];
    };
    let (other, first) = match elsewhere {
        Elsewhere::Todo(other) => (
            other,
            format!(
                "this test runs chapter {other}'s code, which is not done yet: \
                 finish chapter {other} first, or grade"
            ),
        ),
        Elsewhere::Panicked {
            chapter: other,
            location,
        } => (
            other,
            format!(
                "this test failed in chapter {other}'s code ({location}), not in this \
                 chapter's: fix chapter {other} first, or grade"
            ),
        ),
    };
    vec![
        first,
        format!(
            "this chapter on the reference for the others with `cargo xtask grade {} --isolated`",
            chapter.number
        ),
        format!(
            "(or `cargo test --test {}{}`)",
            chapter.name,
            feature_args(&skip.features(chapter.number, Some(other)))
        ),
    ]
}

/// ` --features a,b` for cargo's command line, or nothing.
fn feature_args(features: &[String]) -> String {
    if features.is_empty() {
        String::new()
    } else {
        format!(" --features {}", features.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::fixtures::{MANIFEST, chapters, entry, skip_ahead};
    use crate::grade::score::Status;

    #[test]
    fn failures_in_another_chapters_code_are_recognised() {
        let todo = "thread 't' (3) panicked at src/../chapters/ch01_memtable.rs:50:9:\nnot yet implemented: ch01: find the newest version — book §1.3";
        assert_eq!(elsewhere(todo, 3), Some(Elsewhere::Todo(1)));
        assert_eq!(elsewhere(todo, 1), None, "its own todo");
        let bug =
            "thread 't' (3) panicked at src/../chapters/ch02_wal.rs:7:5:\nindex out of bounds";
        assert_eq!(
            elsewhere(bug, 3),
            Some(Elsewhere::Panicked {
                chapter: 2,
                location: "chapters/ch02_wal.rs:7:5".into()
            })
        );
        let dir = "thread 't' (3) panicked at src/../chapters/ch03_sstable/block.rs:7:5:\noops";
        assert_eq!(elsewhere(dir, 3), None);
        assert!(matches!(
            elsewhere(dir, 5),
            Some(Elsewhere::Panicked { chapter: 3, .. })
        ));
        let reference = "thread 't' (3) panicked at src/../solutions/ch01_memtable.rs:7:5:\noops";
        assert_eq!(elsewhere(reference, 3), None);
        let test = "thread 't' (3) panicked at tests/ch03_sstable.rs:7:5:\nassertion failed";
        assert_eq!(elsewhere(test, 3), None);
        assert_eq!(elsewhere("not yet implemented: chapter", 3), None);
        assert_eq!(chapter_number("12_x", '_'), Some(12));
        assert_eq!(chapter_number("_x", '_'), None);
        assert_eq!(chapter_number("1x", '_'), None);
    }

    #[test]
    fn skipping_ahead_takes_the_earlier_chapters_with_one_ref_upto_feature() {
        let skip = skip_ahead();
        assert_eq!(skip.features(2, Some(1)), vec!["ref-upto-ch01"]);
        assert_eq!(skip.features(3, Some(1)), vec!["ref-upto-ch02"]);
        assert_eq!(skip.features(4, Some(2)), vec!["ref-upto-ch03"]);
        assert_eq!(
            skip.features(5, Some(3)),
            vec!["ref-ch01", "ref-ch02", "ref-ch03", "ref-ch04"],
            "no `ref-upto-ch04` under [features]: the explicit list"
        );
    }

    #[test]
    fn skipping_ahead_adds_a_later_chapter_only_if_the_tests_need_its_code() {
        let skip = skip_ahead();
        assert_eq!(skip.features(1, Some(2)), vec!["ref-ch02"]);
        assert_eq!(skip.features(3, Some(4)), vec!["ref-upto-ch02", "ref-ch04"]);
        assert_eq!(skip.features(3, None), vec!["ref-upto-ch02"]);
        assert_eq!(
            skip.features(3, Some(9)),
            vec!["ref-upto-ch02"],
            "chapter 9 does not exist, nor does its feature"
        );
    }

    #[test]
    fn without_ref_upto_features_skipping_ahead_lists_every_earlier_chapter() {
        let old = MANIFEST.replace("ref-upto-", "old-upto-");
        let skip = SkipAhead::new(&chapters(), &old);
        assert_eq!(skip.features(3, Some(1)), vec!["ref-ch01", "ref-ch02"]);
        assert_eq!(
            SkipAhead::new(&chapters(), "").features(2, Some(1)),
            vec!["ref-ch01"]
        );
    }

    #[test]
    fn a_failure_in_a_later_chapters_code_suggests_its_reference_too() {
        let mut test = TestResult {
            entry: entry("t", 1),
            status: Status::Failed,
            output: "thread 't' (3) panicked at src/../chapters/ch04_bloom.rs:7:5:\noops".into(),
        };
        let chapters = chapters();
        let advice = pointer(&test, &chapters[2], &skip_ahead());
        assert_eq!(
            advice.last().map(String::as_str),
            Some("(or `cargo test --test ch03_sstable --features ref-upto-ch02,ref-ch04`)"),
            "{advice:?}"
        );
        test.output = "not yet implemented: ch02: replay — book §2.5".into();
        let advice = pointer(&test, &chapters[0], &skip_ahead());
        assert_eq!(
            advice.last().map(String::as_str),
            Some("(or `cargo test --test ch01_memtable --features ref-ch02`)"),
            "{advice:?}"
        );
        let advice = pointer(&test, &chapters[4], &skip_ahead());
        assert_eq!(
            advice.last().map(String::as_str),
            Some(
                "(or `cargo test --test ch05_index --features ref-ch01,ref-ch02,ref-ch03,ref-ch04`)"
            ),
            "{advice:?}"
        );
    }
}
