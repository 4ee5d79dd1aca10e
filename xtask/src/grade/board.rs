//! The scoreboard printed to the terminal: one row per chapter (tests
//! passed, points), then under it where to start, the chapter's problem
//! (said once when every chapter shares it), the first failing test with a
//! few lines of its message and what to do about it, and the total.

use crate::libtest;
use crate::points;

use super::Mode;
use super::advice::{SkipAhead, elsewhere, pointer};
use super::score::{ChapterReport, Status, TestResult, total_points};

/// The indentation of the lines under a chapter's row.
const PAD: &str = "      ";

/// The scoreboard text. `starts_at_first`: the graded chapters begin with
/// the workbook's first chapter (so "start here" can point at it); `skip`
/// says how to grade a chapter on the reference for the others.
pub fn scoreboard(
    mode: Mode,
    reports: &[ChapterReport],
    starts_at_first: bool,
    skip: &SkipAhead,
) -> String {
    let mut out = format!("lsm-workbook grade — mode: {}\n\n", mode.describe());
    let width = reports
        .iter()
        .map(|r| r.chapter.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    out.push_str(&format!(
        "  {:width$}  {:>9}  {:>10}\n",
        "chapter", "tests", "points"
    ));
    let nothing_passed = reports.iter().all(|r| r.passed() == 0);
    let mut previous_problem = None;
    for (index, report) in reports.iter().enumerate() {
        let start_here = index == 0 && starts_at_first && nothing_passed && mode != Mode::Reference;
        // One compile error breaks every chapter: say it once.
        let repeated = report.problem.is_some() && report.problem == previous_problem;
        out.push_str(&chapter_row(report, width, start_here, repeated));
        out.push_str(&failures(report, skip));
        previous_problem.clone_from(&report.problem);
    }
    out.push_str(&total_row(reports, width));
    out
}

fn total_row(reports: &[ChapterReport], width: usize) -> String {
    let (points, max) = total_points(reports);
    let passed: usize = reports.iter().map(ChapterReport::passed).sum();
    let total: usize = reports.iter().map(|r| r.tests.len()).sum();
    let percent = (points * 100).checked_div(max).unwrap_or(0);
    format!(
        "  {:width$}  {:>9}  {:>10}  ({percent}%)\n",
        "total",
        format!("{passed}/{total}"),
        format!("{points}/{max}")
    )
}

fn chapter_row(report: &ChapterReport, width: usize, start_here: bool, repeated: bool) -> String {
    let chapter = &report.chapter;
    let tests = format!("{}/{}", report.passed(), report.tests.len());
    let points = format!("{}/{}", report.points(), report.max_points());
    let mark = if report.complete() { "✓" } else { "✗" };
    let mut out = format!("{mark} {:width$}  {tests:>9}  {points:>10}\n", chapter.name);
    let pad = PAD;
    if start_here {
        out.push_str(&format!(
            "{pad}start here: read book §{}, then edit {}\n",
            chapter.number,
            chapter.starter_display()
        ));
    }
    if report.tests.is_empty() {
        out.push_str(&format!(
            "{pad}no graded tests for {} in {}\n",
            chapter.name,
            points::PATH
        ));
    }
    for name in &report.unlisted {
        out.push_str(&format!(
            "{pad}error: test `{name}` ran but is not in {}\n",
            points::PATH
        ));
    }
    if repeated {
        out.push_str(&format!("{pad}(the same problem as above)\n"));
    } else if let Some(problem) = &report.problem {
        for line in problem.lines() {
            out.push_str(&format!("{pad}{line}\n"));
        }
    }
    out
}

/// The first failing test: name, a few lines of its message, and the book
/// section, or the chapter whose code it failed in. If that is another
/// chapter's, the first test failing in this chapter's own code follows.
/// Without failures, the first test that did not pass (ignored, not run).
fn failures(report: &ChapterReport, skip: &SkipAhead) -> String {
    let chapter = &report.chapter;
    let pad = PAD;
    let Some(first) = report.first_failure() else {
        let not_passed = report
            .tests
            .iter()
            .find(|t| t.status != Status::Passed && t.status != Status::NotCompiled);
        return not_passed.map_or_else(String::new, |test| {
            format!(
                "{pad}first test not passed: {} ({})\n",
                test.entry.test,
                test.status_text()
            )
        });
    };
    let mut out = failure_lines("first failing test", first, pointer(first, chapter, skip));
    if elsewhere(&first.output, chapter.number).is_some() {
        let own = report
            .tests
            .iter()
            .find(|t| t.is_failure() && elsewhere(&t.output, chapter.number).is_none());
        if let Some(own) = own {
            out.push_str(&failure_lines(
                "first failing test in this chapter's own code",
                own,
                pointer(own, chapter, skip),
            ));
        }
    }
    out
}

/// A failing test's name and status, a few lines of its message, then
/// `advice`: what to do about it.
fn failure_lines(label: &str, test: &TestResult, advice: Vec<String>) -> String {
    let pad = PAD;
    let mut out = format!(
        "{pad}{label}: {} ({})\n",
        test.entry.test,
        test.status_text()
    );
    for line in libtest::excerpt(&test.output, 6) {
        out.push_str(&format!("{pad}  │ {line}\n"));
    }
    for line in advice {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::fixtures::{crashed_report, report, skip_ahead};
    use crate::grade::gradescope::results_json;

    #[test]
    fn scoreboard_shows_first_failure_and_section() {
        let board = scoreboard(Mode::Cumulative, &[report()], true, &skip_ahead());
        assert!(board.contains("ch01_memtable"), "{board}");
        assert!(board.contains("1/2"), "{board}");
        assert!(board.contains("2/5"), "{board}");
        assert!(board.contains("first failing test: b"), "{board}");
        assert!(board.contains("│ not yet implemented: ch01: b"), "{board}");
        assert!(board.contains("read book §1.2"), "{board}");
        assert!(!board.contains("start here"), "{board}");
    }

    #[test]
    fn scoreboard_says_where_to_start() {
        let mut untouched = report();
        for test in &mut untouched.tests {
            test.status = Status::Failed;
        }
        let board = scoreboard(Mode::Cumulative, &[untouched], true, &skip_ahead());
        assert!(board.contains("start here: read book §1, then edit chapters/ch01_memtable.rs"));
    }

    #[test]
    fn crashed_tests_fail_with_their_output_and_others_still_count() {
        let report = crashed_report();
        let statuses: Vec<&Status> = report.tests.iter().map(|t| &t.status).collect();
        assert_eq!(
            statuses,
            vec![
                &Status::Crashed("crashed the test binary with SIGABRT".into()),
                &Status::Crashed("timed out: still running after 60 s".into()),
                &Status::Failed,
                &Status::Passed,
                &Status::DidNotRun("did not run".into()),
            ]
        );
        assert_eq!(report.points(), 1);
        assert!(report.unlisted.is_empty(), "{:?}", report.unlisted);
        let board = scoreboard(Mode::Isolated, &[report], false, &skip_ahead());
        assert!(
            board.contains("first failing test: boom (crashed the test binary with SIGABRT)"),
            "{board}"
        );
        assert!(
            board.contains("│ memory allocation of 309237645240 bytes failed"),
            "{board}"
        );
        assert!(board.contains("read book §1.2"), "{board}");
    }

    #[test]
    fn the_first_failing_test_is_one_that_failed_not_one_that_did_not_run() {
        let mut report = crashed_report();
        report.tests.swap(0, 4);
        report.tests.swap(1, 2);
        // Order now: never (did not run), c (failed), …
        let first = report.first_failure().unwrap();
        assert_eq!(first.entry.test, "c");
        let board = scoreboard(Mode::Cumulative, &[report], false, &skip_ahead());
        assert!(board.contains("first failing test: c (failed)"), "{board}");
        assert!(!board.contains("first failing test: never"), "{board}");
        let mut unrun = crashed_report();
        unrun.tests.retain(|t| !t.is_failure());
        let board = scoreboard(Mode::Cumulative, &[unrun], false, &skip_ahead());
        assert!(
            board.contains("first test not passed: never (did not run)"),
            "{board}"
        );
        assert!(!board.contains("read book"), "{board}");
    }

    #[test]
    fn a_failure_in_another_chapter_sends_there_not_to_the_book() {
        let mut report = crashed_report();
        report.tests[0].status = Status::Failed;
        report.tests[0].output = "thread 'boom' (3) panicked at src/../chapters/ch01_memtable.rs:50:9:\nnot yet implemented: ch01: find the newest version — book §1.3".into();
        let board = scoreboard(Mode::Cumulative, &[report.clone()], false, &skip_ahead());
        assert!(
            board.contains(
                "this test runs chapter 1's code, which is not done yet: finish chapter 1 first, or grade\n"
            ),
            "{board}"
        );
        assert!(
            board.contains("`cargo xtask grade 3 --isolated`"),
            "{board}"
        );
        assert!(
            board.contains("(or `cargo test --test ch03_sstable --features ref-upto-ch02`)"),
            "{board}"
        );
        // The book pointer is for the first failure in this chapter's code.
        let own = board
            .find("first failing test in this chapter's own code: hang")
            .expect(&board);
        assert_eq!(board.matches("read book §").count(), 1, "{board}");
        assert!(board[own..].contains("read book §1.2"), "{board}");
        let json = results_json(&[report], &board, &skip_ahead()).render();
        assert!(
            json.contains("failed — this test runs chapter 1's code"),
            "{json}"
        );
        assert!(json.contains("--features ref-upto-ch02`)"), "{json}");
    }
}
