//! When a chapter's test binary dies (an abort, a signal, the out-of-memory
//! killer) or hangs, libtest never prints its summary, and a parallel run
//! does not say which test was running. The grader then re-runs the
//! chapter's tests one at a time (`--test-threads=1`), where libtest
//! announces each test (`test NAME ... `) before running it: a run that dies
//! leaves that line unfinished, naming the culprit. The culprit is recorded
//! as failed, with the last lines the binary wrote to stderr, and the next
//! run skips it and every test that already has a result
//! (`--exact --skip NAME` for each), until a run completes, the number of
//! runs reaches its bound, or the time allowed for the re-runs runs out.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::Result;
use crate::cargo::{Captured, Killed};
use crate::libtest::{self, Outcome, TestRun};

/// Lines of the binary's stderr kept for a crash.
const STDERR_LINES_KEPT: usize = 4;

/// A test that crashed the test binary, or was still running at the
/// per-test time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    pub test: String,
    /// How it ended, short: `crashed the test binary with SIGABRT`,
    /// `timed out: still running after 60 s`.
    pub what: String,
    /// The binary's last stderr lines, then how the process ended.
    pub output: String,
}

impl Crash {
    /// The crash's one-line summary: `what`, and the most telling stderr
    /// line (`memory allocation of … bytes failed`).
    pub fn summary(&self) -> String {
        match self.output.lines().next() {
            Some(first) if !first.starts_with(ENDED_PREFIX) => format!("{}: {first}", self.what),
            _ => self.what.clone(),
        }
    }
}

/// How a run that printed no summary ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// The binary's last meaningful stderr lines (panic and abort
    /// messages), without cargo's own lines and backtraces.
    pub stderr: Vec<String>,
    /// Cargo's `process didn't exit successfully: … (STATUS)`:
    /// `signal: 6, SIGABRT: process abort signal`, `exit status: 1`.
    pub status: Option<String>,
    /// The limit the run was killed at, if it was.
    pub killed: Option<Killed>,
}

/// The first words of the line a crash's output ends with.
const ENDED_PREFIX: &str = "the test binary ";

impl End {
    pub fn of(captured: &Captured) -> End {
        let (stderr, status) = binary_stderr(&captured.stderr);
        End {
            stderr,
            status,
            killed: captured.killed,
        }
    }

    /// The signal's name (`SIGABRT`), if the binary died of one.
    fn signal(&self) -> Option<&str> {
        let status = self.status.as_deref()?.strip_prefix("signal: ")?;
        let (_, name) = status.split_once(", ")?;
        Some(name.split(':').next().unwrap_or(name))
    }

    /// What happened, as a chapter-level phrase: `crashed (signal: 6,
    /// SIGABRT: process abort signal)`, `timed out after 600 s`…
    pub fn describe(&self) -> String {
        match self.killed {
            Some(Killed::Total(limit)) => format!("timed out after {} s", limit.as_secs()),
            Some(Killed::Quiet(limit)) => format!(
                "made no progress for {} s (a test that never ends?)",
                limit.as_secs()
            ),
            None => match &self.status {
                Some(status) => format!("crashed ({status})"),
                None => "ended without libtest's summary".to_string(),
            },
        }
    }

    /// What a test that was running when the run ended did, short.
    fn what(&self) -> String {
        if let Some(Killed::Quiet(limit)) = self.killed {
            return format!("timed out: still running after {} s", limit.as_secs());
        }
        match (self.signal(), &self.status) {
            (Some("SIGKILL"), _) => "killed the test binary with SIGKILL: out of memory?".into(),
            (Some(signal), _) => format!("crashed the test binary with {signal}"),
            (None, Some(status)) => {
                format!("ended the test binary with {}", status.replace(':', ""))
            }
            (None, None) => "crashed the test binary".into(),
        }
    }

    /// The crash output of the test that was running.
    fn output(&self) -> String {
        let mut lines = self.stderr.clone();
        lines.push(match (self.killed, &self.status) {
            (Some(Killed::Quiet(limit)), _) => format!(
                "{ENDED_PREFIX}was killed: this test was still running after {} s",
                limit.as_secs()
            ),
            (Some(Killed::Total(limit)), _) => format!(
                "{ENDED_PREFIX}was killed after {} s while this test ran",
                limit.as_secs()
            ),
            (None, Some(status)) => format!("{ENDED_PREFIX}died while this test ran ({status})"),
            (None, None) => format!("{ENDED_PREFIX}died while this test ran"),
        });
        lines.join("\n")
    }
}

/// The binary's own stderr, from cargo's: what follows cargo's last
/// `Running …` line up to cargo's closing `error: test failed`, without
/// blank lines, notes and backtraces (the last few lines are kept); and the
/// exit status cargo reports after it.
pub fn binary_stderr(stderr: &str) -> (Vec<String>, Option<String>) {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Running "))
        .map_or(0, |i| i + 1);
    let mut kept: Vec<String> = Vec::new();
    let mut status = None;
    let mut in_backtrace = false;
    let mut in_cargo_trailer = false;
    for line in &lines[start..] {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("process didn't exit successfully: ") {
            status = rest
                .rsplit_once(" (")
                .map(|(_, s)| s.strip_suffix(')').unwrap_or(s).to_string());
            continue;
        }
        // `error: test failed, to rerun pass …`, `Caused by: …`, and with
        // `--no-fail-fast`, `error: 1 target failed: …`.
        in_cargo_trailer |= trimmed.starts_with("error: test failed, to rerun pass");
        if in_cargo_trailer {
            continue;
        }
        if trimmed == "stack backtrace:" {
            in_backtrace = true;
            continue;
        }
        if in_backtrace && line.starts_with(' ') {
            continue;
        }
        in_backtrace = false;
        if trimmed.is_empty() || trimmed.starts_with("note: ") {
            continue;
        }
        kept.push(libtest::shorten(trimmed, 160));
    }
    let from = kept.len().saturating_sub(STDERR_LINES_KEPT);
    (kept.split_off(from), status)
}

/// What the one-at-a-time re-runs found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Every result and failure section the re-runs printed.
    pub run: TestRun,
    /// The culprits, in the order found.
    pub crashes: Vec<Crash>,
    /// Re-runs made.
    pub runs: usize,
    /// The `ok` lines of the run that completed disagree with its summary.
    pub inconsistent: bool,
    /// Why the re-runs stopped before one completed (tests without a
    /// result did not run for this reason); `None` if one completed.
    pub stopped: Option<String>,
}

/// Re-runs until a run completes, at most `max_runs` runs within `budget`.
/// `run(skip, time_left)` makes one run, skipping the tests named (each with
/// `--exact --skip`), and returns what it printed; `found` hears of each
/// culprit as it is found.
pub fn recover(
    max_runs: usize,
    budget: Duration,
    mut run: impl FnMut(&[String], Duration) -> Result<Captured>,
    mut found: impl FnMut(&Crash),
) -> Result<Recovery> {
    let begun = Instant::now();
    let mut recovery = Recovery::default();
    // Tests with a result or found guilty: the next runs skip them.
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut skip: Vec<String> = Vec::new();
    loop {
        if recovery.runs >= max_runs {
            recovery.stopped = Some(format!(
                "the re-runs stopped after {max_runs} runs without one completing"
            ));
            break;
        }
        let time_left = budget.saturating_sub(begun.elapsed());
        if time_left.is_zero() {
            recovery.stopped = Some(out_of_time(budget));
            break;
        }
        let captured = run(&skip, time_left)?;
        recovery.runs += 1;
        let printed = libtest::parse(&captured.stdout);
        for (name, outcome) in &printed.outcomes {
            recovery.run.outcomes.push((name.clone(), *outcome));
            if done.insert(name.clone()) {
                skip.push(name.clone());
            }
        }
        for (name, section) in &printed.failures {
            recovery
                .run
                .failures
                .entry(name.clone())
                .or_insert_with(|| section.clone());
        }
        if let Some(summary) = printed.summary {
            let ok_lines = printed.outcomes.iter().filter(|(_, o)| *o == Outcome::Ok);
            recovery.inconsistent = summary.passed != ok_lines.count();
            break;
        }
        let end = End::of(&captured);
        let culprit = printed.unfinished.filter(|name| !done.contains(name));
        match (culprit, end.killed) {
            (Some(_), Some(Killed::Total(_))) => {
                // Not the test's fault: the re-runs ran out of time.
                recovery.stopped = Some(out_of_time(budget));
                break;
            }
            (Some(test), _) => {
                done.insert(test.clone());
                skip.push(test.clone());
                let crash = Crash {
                    test,
                    what: end.what(),
                    output: end.output(),
                };
                found(&crash);
                recovery.crashes.push(crash);
            }
            (None, _) => {
                let mut why = format!("the test binary {} outside any test", end.describe());
                if let Some(line) = end.stderr.last() {
                    why.push_str(&format!(": {line}"));
                }
                recovery.stopped = Some(why);
                break;
            }
        }
    }
    Ok(recovery)
}

fn out_of_time(budget: Duration) -> String {
    format!(
        "the re-runs ran out of time ({} s allowed)",
        budget.as_secs()
    )
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    /// Cargo's stderr after the binary aborted on a failed allocation.
    const ABORT_STDERR: &str = "\
warning: unused variable: `x`
  --> src/../chapters/ch03_sstable/block.rs:3:9
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.05s
     Running tests/ch03_sstable.rs (target/debug/deps/ch03_sstable-0123abcd)
memory allocation of 309237645240 bytes failed
stack backtrace:
   0: std::alloc::rust_oom
             at /rustc/library/std/src/alloc.rs:424:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.
error: test failed, to rerun pass `--test ch03_sstable`

Caused by:
  process didn't exit successfully: `/w/target/debug/deps/ch03_sstable-0123abcd --color never --test-threads=1 --exact --skip a` (signal: 6, SIGABRT: process abort signal)
error: 1 target failed:
    `--test ch03_sstable`
";

    fn exited(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(code << 8))
    }

    fn captured(stdout: &str, stderr: &str, killed: Option<Killed>) -> Captured {
        Captured {
            status: if killed.is_some() { None } else { exited(101) },
            killed,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn the_binarys_stderr_is_kept_without_cargos_lines() {
        let (lines, status) = binary_stderr(ABORT_STDERR);
        assert_eq!(
            lines,
            vec!["memory allocation of 309237645240 bytes failed"]
        );
        assert_eq!(
            status.as_deref(),
            Some("signal: 6, SIGABRT: process abort signal")
        );
        let overflow = "     Running tests/t.rs (x)\n\nthread 'deep' (8381) has overflowed its stack\nfatal runtime error: stack overflow, aborting\nerror: test failed, to rerun pass `--test t`\n\nCaused by:\n  process didn't exit successfully: `x` (signal: 6, SIGABRT: process abort signal)\n";
        let (lines, _) = binary_stderr(overflow);
        assert_eq!(
            lines,
            vec![
                "thread 'deep' (8381) has overflowed its stack",
                "fatal runtime error: stack overflow, aborting"
            ]
        );
        let killed = "     Running tests/t.rs (x)\nerror: test failed, to rerun pass `--test t`\n\nCaused by:\n  process didn't exit successfully: `x` (signal: 9, SIGKILL: kill)\n";
        assert_eq!(
            binary_stderr(killed),
            (Vec::new(), Some("signal: 9, SIGKILL: kill".to_string()))
        );
    }

    #[test]
    fn a_crashed_serial_run_names_its_culprit_with_the_abort_message() {
        let stdout = "\nrunning 3 tests\ntest a ... ok\ntest b ... ";
        let end = End::of(&captured(stdout, ABORT_STDERR, None));
        assert_eq!(end.what(), "crashed the test binary with SIGABRT");
        assert_eq!(
            end.describe(),
            "crashed (signal: 6, SIGABRT: process abort signal)"
        );
        let output = end.output();
        assert!(output.starts_with("memory allocation of 309237645240 bytes failed\n"));
        assert!(
            output.ends_with("died while this test ran (signal: 6, SIGABRT: process abort signal)")
        );
    }

    /// Canned runs, replayed in order; records the skips each run got.
    struct Replay {
        runs: Vec<Captured>,
        skips: Vec<Vec<String>>,
    }

    impl Replay {
        fn run(&mut self, skip: &[String], _time_left: Duration) -> Result<Captured> {
            self.skips.push(skip.to_vec());
            Ok(self.runs.remove(0))
        }
    }

    fn replay(runs: Vec<Captured>) -> Replay {
        Replay {
            runs,
            skips: Vec::new(),
        }
    }

    const SUMMARY_TAIL: &str =
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out\n";

    #[test]
    fn re_runs_skip_each_culprit_and_every_finished_test_until_one_completes() {
        let quiet = Killed::Quiet(Duration::from_secs(60));
        let mut runs = replay(vec![
            captured(
                "running 4 tests\ntest a ... ok\ntest b ... FAILED\ntest c ... ",
                ABORT_STDERR,
                None,
            ),
            captured("running 1 test\ntest d ... ", "", Some(quiet)),
            captured(
                &format!("running 1 test\ntest e ... ok\n{SUMMARY_TAIL}"),
                "",
                None,
            ),
        ]);
        let recovery =
            recover(10, Duration::from_secs(600), |s, t| runs.run(s, t), |_| {}).unwrap();
        assert_eq!(
            runs.skips,
            vec![vec![], vec!["a", "b", "c"], vec!["a", "b", "c", "d"]]
        );
        assert_eq!(recovery.runs, 3);
        assert_eq!(recovery.stopped, None);
        assert!(!recovery.inconsistent);
        let tests: Vec<&str> = recovery.crashes.iter().map(|c| c.test.as_str()).collect();
        assert_eq!(tests, ["c", "d"]);
        assert_eq!(
            recovery.crashes[0].summary(),
            "crashed the test binary with SIGABRT: memory allocation of 309237645240 bytes failed"
        );
        assert_eq!(
            recovery.crashes[1].summary(),
            "timed out: still running after 60 s"
        );
        assert!(
            recovery.crashes[1]
                .output
                .contains("still running after 60 s")
        );
        assert_eq!(recovery.run.outcomes_of("a"), vec![Outcome::Ok]);
        assert_eq!(recovery.run.outcomes_of("b"), vec![Outcome::Failed]);
        assert_eq!(recovery.run.outcomes_of("e"), vec![Outcome::Ok]);
    }

    #[test]
    fn re_runs_are_bounded() {
        let crash = || captured("test x ... ok\ntest y ... ", ABORT_STDERR, None);
        let mut runs = replay(vec![crash()]);
        let recovery = recover(1, Duration::from_secs(600), |s, t| runs.run(s, t), |_| {}).unwrap();
        assert_eq!(recovery.runs, 1);
        assert!(
            recovery
                .stopped
                .as_deref()
                .unwrap()
                .contains("after 1 runs"),
            "{:?}",
            recovery.stopped
        );
        // The same culprit again (it should have been skipped) stops too.
        let mut runs = replay(vec![crash(), crash()]);
        let recovery = recover(5, Duration::from_secs(600), |s, t| runs.run(s, t), |_| {}).unwrap();
        assert_eq!(recovery.runs, 2);
        assert!(recovery.stopped.unwrap().contains("outside any test"));
        assert_eq!(recovery.crashes.len(), 1);
    }

    #[test]
    fn running_out_of_time_blames_no_test() {
        let total = Killed::Total(Duration::from_secs(5));
        let mut runs = replay(vec![captured(
            "test a ... ok\ntest slow ... ",
            "",
            Some(total),
        )]);
        let recovery = recover(5, Duration::from_secs(5), |s, t| runs.run(s, t), |_| {}).unwrap();
        assert!(recovery.crashes.is_empty());
        assert_eq!(
            recovery.stopped.as_deref(),
            Some("the re-runs ran out of time (5 s allowed)")
        );
        assert_eq!(recovery.run.outcomes_of("a"), vec![Outcome::Ok]);
        let mut none = replay(Vec::new());
        let recovery = recover(5, Duration::ZERO, |s, t| none.run(s, t), |_| {}).unwrap();
        assert_eq!(recovery.runs, 0);
        assert!(recovery.stopped.is_some());
    }

    #[test]
    fn a_crash_between_tests_stops_the_re_runs() {
        let stderr =
            "     Running tests/t.rs (x)\nfatal runtime error: thread local panicked on drop\n";
        let mut runs = replay(vec![captured(
            "running 2 tests\ntest a ... ok\n",
            stderr,
            None,
        )]);
        let recovery = recover(5, Duration::from_secs(600), |s, t| runs.run(s, t), |_| {}).unwrap();
        assert!(recovery.crashes.is_empty());
        let stopped = recovery.stopped.unwrap();
        assert!(stopped.contains("outside any test"), "{stopped}");
        assert!(
            stopped.ends_with("thread local panicked on drop"),
            "{stopped}"
        );
    }

    #[test]
    fn oom_kills_are_named() {
        let stderr = "     Running tests/t.rs (x)\nerror: test failed, to rerun pass `--test t`\n\nCaused by:\n  process didn't exit successfully: `x` (signal: 9, SIGKILL: kill)\n";
        let end = End::of(&captured("test big ... ", stderr, None));
        assert_eq!(
            end.what(),
            "killed the test binary with SIGKILL: out of memory?"
        );
        let exit = "     Running tests/t.rs (x)\nCaused by:\n  process didn't exit successfully: `x` (exit status: 3)\n";
        let end = End::of(&captured("test quits ... ", exit, None));
        assert_eq!(end.what(), "ended the test binary with exit status 3");
    }
}
