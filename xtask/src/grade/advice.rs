//! What a failing test tells the learner to do. A failure in the graded
//! chapter's own code points at its book section; one in another chapter's
//! code (`not yet implemented: chMM: …`, or a panic located in
//! `chapters/chMM_…`) says to finish that chapter first, or how to grade
//! this one on top of the reference instead.

use crate::workspace::Chapter;

use super::score::TestResult;

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
pub fn pointer(test: &TestResult, chapter: &Chapter) -> Vec<String> {
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
            "(or `cargo test --test {} --features ref-ch{other:02}`)",
            chapter.name
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
