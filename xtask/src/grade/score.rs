//! Scoring: what each graded test earned, from what the run(s) showed. A
//! test earns its points only if libtest printed exactly one `test NAME ...
//! ok` line for it and the `ok` lines agree with libtest's summary; a test
//! with no result did not run and says why; one that crashed the binary or
//! hung fails with what the re-runs found.

use crate::libtest::{Outcome, TestRun};
use crate::points::Entry;
use crate::workspace::Chapter;

use super::crash;

/// How one graded test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    /// Crashed the test binary or never finished; the text says how (the
    /// output has what the binary printed).
    Crashed(String),
    Ignored,
    /// Not reported as run; the reason says why (timeout, crash…).
    DidNotRun(String),
    NotCompiled,
}

/// One graded test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub entry: Entry,
    pub status: Status,
    /// The failure section (or compiler errors) for a failed test.
    pub output: String,
}

impl TestResult {
    /// Failed, by a panic or a crash: not merely not run.
    pub fn is_failure(&self) -> bool {
        matches!(self.status, Status::Failed | Status::Crashed(_))
    }

    pub fn earned(&self) -> u32 {
        if self.status == Status::Passed {
            self.entry.points
        } else {
            0
        }
    }

    /// A short description for scoreboards and results.json.
    pub fn status_text(&self) -> String {
        match &self.status {
            Status::Passed => "passed".into(),
            Status::Failed => "failed".into(),
            Status::Crashed(how) => how.clone(),
            Status::Ignored => "ignored (counts as not passed)".into(),
            Status::DidNotRun(reason) => reason.clone(),
            Status::NotCompiled => "did not compile".into(),
        }
    }
}

/// The results of one chapter.
#[derive(Debug, Clone)]
pub struct ChapterReport {
    pub chapter: Chapter,
    pub tests: Vec<TestResult>,
    /// A problem with the run as a whole (compile error, timeout, crash).
    pub problem: Option<String>,
    /// Tests that ran but have no entry in points.toml (an error).
    pub unlisted: Vec<String>,
}

impl ChapterReport {
    pub fn passed(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == Status::Passed)
            .count()
    }

    pub fn points(&self) -> u32 {
        self.tests.iter().map(TestResult::earned).sum()
    }

    pub fn max_points(&self) -> u32 {
        self.tests.iter().map(|t| t.entry.points).sum()
    }

    /// The first test (in points.toml order) that failed or crashed.
    pub fn first_failure(&self) -> Option<&TestResult> {
        self.tests.iter().find(|t| t.is_failure())
    }

    /// Every test passed.
    pub fn complete(&self) -> bool {
        !self.tests.is_empty() && self.tests.iter().all(|t| t.status == Status::Passed)
    }
}

/// The points earned and the points possible, over every report.
pub fn total_points(reports: &[ChapterReport]) -> (u32, u32) {
    let points = reports.iter().map(ChapterReport::points).sum();
    let max = reports.iter().map(ChapterReport::max_points).sum();
    (points, max)
}

/// What a chapter's run(s) showed, to score from.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Every result line and failure section.
    pub run: TestRun,
    /// Tests that crashed the binary or never finished.
    pub crashes: Vec<crash::Crash>,
    /// The `ok` lines disagree with a summary: no points at all.
    pub inconsistent: Option<String>,
    /// Why a test with no result did not run.
    pub not_run: String,
}

impl Evidence {
    /// One run that printed its summary (or none, in tests).
    pub fn of_run(run: TestRun) -> Evidence {
        let ok_lines = run
            .outcomes
            .iter()
            .filter(|(_, o)| *o == Outcome::Ok)
            .count();
        let inconsistent = run.summary.filter(|s| s.passed != ok_lines).map(|s| {
            format!(
                "libtest's output is inconsistent ({ok_lines} `ok` lines, but its summary says {} \
                 passed); no points awarded. Does the code print to stdout?",
                s.passed
            )
        });
        Evidence {
            run,
            crashes: Vec::new(),
            inconsistent,
            not_run: "did not run".into(),
        }
    }

    pub fn of_recovery(recovery: crash::Recovery) -> Evidence {
        let inconsistent = recovery.inconsistent.then(|| {
            "libtest's output is inconsistent (its `ok` lines disagree with its summary); \
             no points awarded. Does the code print to stdout?"
                .to_string()
        });
        let not_run = match recovery.stopped {
            Some(_) => "did not run: the re-runs stopped first".into(),
            None => "did not run".into(),
        };
        Evidence {
            run: recovery.run,
            crashes: recovery.crashes,
            inconsistent,
            not_run,
        }
    }
}

/// A chapter's results, computed from libtest's output alone.
#[derive(Debug)]
pub struct Scored {
    pub tests: Vec<TestResult>,
    pub unlisted: Vec<String>,
    pub problem: Option<String>,
}

/// Scores `entries` from the evidence. Points go only to tests with exactly
/// one `ok` line, and only if the `ok` lines agree with libtest's summary.
pub fn score(entries: &[Entry], evidence: &Evidence) -> Scored {
    let inconsistent = evidence.inconsistent.is_some();
    let tests = entries
        .iter()
        .map(|entry| {
            let mut result = score_one(entry, evidence);
            if inconsistent && result.status == Status::Passed {
                result.status = Status::DidNotRun("not counted: output inconsistent".into());
            }
            result
        })
        .collect();
    let mut unlisted: Vec<String> = Vec::new();
    let ran = evidence.run.outcomes.iter().map(|(name, _)| name);
    for name in ran.chain(evidence.crashes.iter().map(|c| &c.test)) {
        if !entries.iter().any(|e| &e.test == name) && !unlisted.contains(name) {
            unlisted.push(name.clone());
        }
    }
    Scored {
        tests,
        unlisted,
        problem: evidence.inconsistent.clone(),
    }
}

fn score_one(entry: &Entry, evidence: &Evidence) -> TestResult {
    let run = &evidence.run;
    let crash = evidence.crashes.iter().find(|c| c.test == entry.test);
    let (status, output) = match (run.outcomes_of(&entry.test).as_slice(), crash) {
        ([], Some(crash)) => (Status::Crashed(crash.what.clone()), crash.output.clone()),
        (_, Some(_)) => (
            Status::DidNotRun("reported more than once; not counted".into()),
            String::new(),
        ),
        ([], None) => (Status::DidNotRun(evidence.not_run.clone()), String::new()),
        ([Outcome::Ok], None) => (Status::Passed, String::new()),
        ([Outcome::Ignored], None) => (Status::Ignored, String::new()),
        ([Outcome::Failed], None) => {
            let output = run.failures.get(&entry.test).cloned();
            (
                Status::Failed,
                output.unwrap_or_else(|| "(no output captured)".into()),
            )
        }
        _ => (
            Status::DidNotRun("reported more than once; not counted".into()),
            String::new(),
        ),
    };
    TestResult {
        entry: entry.clone(),
        status,
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::fixtures::{RUN, entry};
    use crate::libtest;

    #[test]
    fn points_only_for_ok_lines() {
        let entries = [entry("a", 2), entry("b", 3), entry("c", 5)];
        let scored = score(&entries, &Evidence::of_run(libtest::parse(RUN)));
        let statuses: Vec<&Status> = scored.tests.iter().map(|t| &t.status).collect();
        let did_not_run = Status::DidNotRun("did not run".into());
        assert_eq!(
            statuses,
            vec![&Status::Passed, &Status::Failed, &did_not_run]
        );
        assert_eq!(scored.tests.iter().map(TestResult::earned).sum::<u32>(), 2);
        assert!(scored.tests[1].output.contains("not yet implemented: ch01"));
        assert_eq!(scored.unlisted, vec!["extra"]);
        assert_eq!(scored.problem, None);
    }

    #[test]
    fn inconsistent_output_earns_nothing() {
        let forged = "test a ... ok\ntest a ... ok\ntest b ... ok\ntest result: ok. 1 passed; 0 failed; 0 ignored\n";
        let scored = score(
            &[entry("a", 1), entry("b", 1)],
            &Evidence::of_run(libtest::parse(forged)),
        );
        assert!(scored.problem.is_some());
        assert!(
            scored.tests.iter().all(|t| t.earned() == 0),
            "{:?}",
            scored.tests
        );
    }

    #[test]
    fn duplicate_results_are_not_counted() {
        let forged = "test a ... ok\ntest a ... FAILED\n";
        let evidence = Evidence::of_run(libtest::parse(forged));
        let scored = score(&[entry("a", 1)], &evidence);
        assert_eq!(scored.tests[0].earned(), 0);
        let cut = score(&[entry("b", 1)], &evidence);
        assert_eq!(cut.tests[0].status, Status::DidNotRun("did not run".into()));
    }
}
