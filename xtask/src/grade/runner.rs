//! Running a chapter's graded tests: compile its test target with the
//! mode's features (a crate-wide compile error is remembered per feature
//! set and reported without recompiling), run it within the time limits,
//! and, if the binary crashed or hung, re-run its tests one at a time
//! (`crash.rs`) and describe what happened. The result is scored by
//! `score.rs`.

use std::collections::HashMap;
use std::time::Duration;

use crate::Result;
use crate::cargo::{self, Captured, Limits};
use crate::libtest;
use crate::points::{Entry, Points};
use crate::workspace::{Chapter, Workspace};

use super::crash;
use super::score::{ChapterReport, Evidence, Status, TestResult, score};

/// Time allowed for a chapter's test run, unless `--timeout` says otherwise.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// The reference's slowest test takes under a second in a debug build.
pub const TEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

/// Compiles and runs chapters' test targets; remembers crate-wide compile
/// errors per feature set so they are reported without recompiling.
pub struct Grader<'a> {
    pub ws: &'a Workspace,
    pub points: &'a Points,
    /// Time allowed for a chapter's run (and again for its re-runs).
    pub timeout: Duration,
    /// Time one test may run: a run with no new result for this long is
    /// killed.
    pub test_timeout: Duration,
    crate_errors: HashMap<Vec<String>, String>,
}

impl<'a> Grader<'a> {
    pub fn new(ws: &'a Workspace, points: &'a Points) -> Self {
        Grader {
            ws,
            points,
            timeout: TIMEOUT_DEFAULT,
            test_timeout: TEST_TIMEOUT_DEFAULT,
            crate_errors: HashMap::new(),
        }
    }

    /// Grades one chapter with the given features.
    pub fn grade(&mut self, chapter: &Chapter, features: &[String]) -> Result<ChapterReport> {
        let entries = self.points.entries(&chapter.name);
        let mut report = ChapterReport {
            chapter: chapter.clone(),
            tests: Vec::new(),
            problem: None,
            unlisted: Vec::new(),
        };
        if let Some(errors) = self.compile(chapter, features)? {
            report.tests = entries.iter().map(|e| not_compiled(e, &errors)).collect();
            report.problem = Some(errors);
            return Ok(report);
        }
        self.progress(&format!("running {} …", chapter.name));
        let limits = Limits {
            total: Some(self.timeout),
            quiet: Some(self.test_timeout),
        };
        let captured = self.run_tests(chapter, features, None, limits)?;
        let run = libtest::parse(&captured.stdout);
        let (evidence, crash_report) = if run.summary.is_some() {
            (Evidence::of_run(run), None)
        } else {
            let (evidence, text) = self.recover(chapter, features, entries.len(), &captured)?;
            (evidence, Some(text))
        };
        let scored = score(entries, &evidence);
        report.tests = scored.tests;
        report.unlisted = scored.unlisted;
        report.problem = match (crash_report, scored.problem) {
            (Some(crash), Some(other)) => Some(format!("{crash}\n{other}")),
            (crash, other) => crash.or(other),
        };
        Ok(report)
    }

    /// After a run that ended without libtest's summary: the evidence of
    /// one-at-a-time re-runs, and the chapter's problem text.
    fn recover(
        &self,
        chapter: &Chapter,
        features: &[String],
        test_count: usize,
        first: &Captured,
    ) -> Result<(Evidence, String)> {
        let end = crash::End::of(first);
        self.progress(&format!(
            "{}: the test run {}; re-running its tests one at a time …",
            chapter.name,
            end.describe()
        ));
        let run = |skip: &[String], time_left| {
            let limits = Limits {
                total: Some(time_left),
                quiet: Some(self.test_timeout),
            };
            self.run_tests(chapter, features, Some(skip), limits)
        };
        let found = |crash: &crash::Crash| {
            self.progress(&format!(
                "{}: {} {}; going on without it …",
                chapter.name, crash.test, crash.what
            ));
        };
        let recovery = crash::recover(test_count + 1, self.timeout, run, found)?;
        let text = crash_problem(&end, &recovery);
        Ok((Evidence::of_recovery(recovery), text))
    }

    /// `Ok(Some(errors))` if the test target does not compile.
    fn compile(&mut self, chapter: &Chapter, features: &[String]) -> Result<Option<String>> {
        if let Some(errors) = self.crate_errors.get(features) {
            return Ok(Some(errors.clone()));
        }
        self.progress(&format!("compiling {} …", chapter.name));
        let mut command = cargo::cargo(&self.ws.root);
        command
            .args(["test", "--no-run", "--message-format", "short", "--test"])
            .arg(&chapter.name)
            .args(cargo::feature_args(features));
        let captured = cargo::capture(command, None)?;
        if captured.success() {
            return Ok(None);
        }
        let errors = compile_errors(&captured.stderr);
        let crate_wide = !captured.stderr.contains("(test \"");
        let message = if crate_wide && features.is_empty() {
            format!(
                "the crate does not compile. It is one crate, so an error in any chapter \
                 file stops every chapter; fix the first error:\n{errors}"
            )
        } else {
            let with = if features.is_empty() {
                "no features".to_string()
            } else {
                format!("features {}", features.join(","))
            };
            format!("does not compile ({with}):\n{errors}")
        };
        if crate_wide {
            self.crate_errors.insert(features.to_vec(), message.clone());
        }
        Ok(Some(message))
    }

    /// Runs the chapter's tests: in parallel, or with `serial` one at a
    /// time, skipping the tests it names (`--exact` makes each `--skip`
    /// match one whole name, not every name containing it).
    fn run_tests(
        &self,
        chapter: &Chapter,
        features: &[String],
        serial: Option<&[String]>,
        limits: Limits,
    ) -> Result<Captured> {
        let mut command = cargo::cargo(&self.ws.root);
        command
            .args(["test", "--test", &chapter.name])
            .args(cargo::feature_args(features))
            .args(["--no-fail-fast", "--", "--color", "never"])
            // Backtraces only slow the run down; the scoreboard shows the
            // panic message, and `cargo test` shows backtraces on request.
            .env("RUST_BACKTRACE", "0");
        if let Some(skip) = serial {
            command.args(["--test-threads=1", "--exact"]);
            for name in skip {
                command.args(["--skip", name]);
            }
        }
        cargo::capture_limited(command, limits)
    }

    /// Progress goes to stderr, so stdout holds only the scoreboard.
    fn progress(&self, message: &str) {
        eprintln!("  {message}");
    }
}

fn not_compiled(entry: &Entry, errors: &str) -> TestResult {
    TestResult {
        entry: entry.clone(),
        status: Status::NotCompiled,
        output: errors.to_string(),
    }
}

/// The first error lines of cargo's `--message-format short` output.
pub fn compile_errors(stderr: &str) -> String {
    let errors: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.contains(": error"))
        .filter(|l| !l.starts_with("error: could not compile"))
        .take(6)
        // The switchboard's `#[path = "../chapters/…"]` shows as `src/../`.
        .map(|l| l.replace("src/../", ""))
        .collect();
    if errors.is_empty() {
        cargo::tail(stderr, 6)
    } else {
        errors.join("\n")
    }
}

/// The chapter's problem text after a crash: what happened, each culprit,
/// and why the re-runs stopped early if they did.
fn crash_problem(end: &crash::End, recovery: &crash::Recovery) -> String {
    let mut text = format!(
        "the test run {}; its tests were re-run one at a time (--test-threads=1):",
        end.describe()
    );
    text.push_str(&culprits(&recovery.crashes));
    match &recovery.stopped {
        Some(why) => text.push_str(&format!("\n  {why}; the tests that had not run score 0")),
        None if recovery.crashes.is_empty() => {
            text.push_str(
                "\n  every test finished this time (the crash needs tests running side by \
                 side?); scored from the re-run",
            );
            if let Some(line) = end.stderr.last() {
                text.push_str(&format!("\n  the first run's last words: {line}"));
            }
        }
        None => {}
    }
    text
}

/// One line per culprit, `\n  NAME: SUMMARY`; culprits that ended the same
/// way are listed together.
fn culprits(crashes: &[crash::Crash]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for crash in crashes {
        let summary = crash.summary();
        match groups.iter_mut().find(|(s, _)| *s == summary) {
            Some((_, tests)) => tests.push(&crash.test),
            None => groups.push((summary, vec![&crash.test])),
        }
    }
    let mut text = String::new();
    for (summary, tests) in &groups {
        text.push_str(&format!("\n  {}: {summary}", tests[0]));
        let more = &tests[1..];
        if !more.is_empty() {
            let shown = more.len().min(3);
            let mut names = more[..shown].join(", ");
            if more.len() > shown {
                names.push_str(&format!(" and {} more", more.len() - shown));
            }
            text.push_str(&format!("\n  (the same for {names})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_errors_keep_error_lines() {
        let stderr = "   Compiling x\nsrc/a.rs:1:2: warning: unused\nsrc/a.rs:3:4: error[E0425]: cannot find value `y`\nerror: could not compile `x` (lib) due to 1 previous error\n";
        assert_eq!(
            compile_errors(stderr),
            "src/a.rs:3:4: error[E0425]: cannot find value `y`"
        );
    }

    #[test]
    fn culprits_that_ended_alike_are_listed_together() {
        let crash = |test: &str, what: &str| crash::Crash {
            test: test.into(),
            what: what.into(),
            output: "memory allocation of 8 bytes failed\nthe test binary died".into(),
        };
        let abort = "crashed the test binary with SIGABRT";
        let recovery = crash::Recovery {
            crashes: vec![
                crash("a", abort),
                crash("b", "timed out"),
                crash("c", abort),
                crash("d", abort),
                crash("e", abort),
                crash("f", abort),
            ],
            stopped: Some("the re-runs ran out of time (600 s allowed)".into()),
            ..Default::default()
        };
        let end = crash::End {
            stderr: Vec::new(),
            status: Some("signal: 6, SIGABRT: process abort signal".into()),
            killed: None,
        };
        assert_eq!(
            crash_problem(&end, &recovery),
            "the test run crashed (signal: 6, SIGABRT: process abort signal); \
             its tests were re-run one at a time (--test-threads=1):
  a: crashed the test binary with SIGABRT: memory allocation of 8 bytes failed
  (the same for c, d, e and 1 more)
  b: timed out: memory allocation of 8 bytes failed
  the re-runs ran out of time (600 s allowed); the tests that had not run score 0"
        );
    }
}
