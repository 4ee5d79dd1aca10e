//! `cargo xtask grade [N…] [--isolated] [--reference] [--json FILE]`.
//!
//! For each chapter, in order: compile its test target with the mode's
//! features, run it with a timeout, read libtest's output and award a test's
//! points only if libtest printed `test NAME ... ok` for it in this run.
//! A run that crashes or hangs (no `test result:` line) is re-run one test
//! at a time to find the culprit. Then print a scoreboard (and optionally
//! Gradescope's `results.json`). `cargo xtask check` reuses [`Grader`] for
//! the teaching contract.
//!
//! This file has the command line and the modes; the rest, by what it does:
//! - `grade/runner.rs`: compiling and running a chapter's test target;
//! - `grade/crash.rs`: re-running a crashed or hung run one test at a time;
//! - `grade/score.rs`: statuses and points, from what the runs showed;
//! - `grade/board.rs`: the scoreboard printed to the terminal;
//! - `grade/advice.rs`: what a failing test tells the learner to do;
//! - `grade/gradescope.rs`: Gradescope's `results.json`.

mod advice;
mod board;
mod crash;
#[cfg(test)]
mod fixtures;
mod gradescope;
mod runner;
mod score;

use std::path::PathBuf;
use std::time::Duration;

use crate::points;
use crate::workspace::{self, Chapter, Workspace};
use crate::{Result, failed, help_requested, usage_error};
use advice::SkipAhead;
use board::scoreboard;
use gradescope::results_json;
pub use runner::{Grader, compile_errors};
use runner::{TEST_TIMEOUT_DEFAULT, TIMEOUT_DEFAULT};
pub use score::{ChapterReport, Status};

pub const USAGE: &str = "\
usage: cargo xtask grade [N…] [--isolated] [--reference] [--json FILE]
                         [--timeout SECS] [--test-timeout SECS]

Runs the graded tests of chapters N… (default: all) and prints a scoreboard.

  (default)     your code for every chapter (chapters build on each other)
  --isolated    each chapter graded on top of the reference for all others
  --reference   the reference solutions (must score 100%)
  --json FILE   also write a Gradescope results.json to FILE
  --timeout S   seconds allowed per chapter's test run (default 600); as
                many again for re-running a run that crashed
  --test-timeout S
                seconds one test may run without finishing (default 60)

N is a chapter number (3, 03, ch03) or name (ch03_sstable).

If a chapter's test binary crashes (an abort, a stack overflow, out of
memory) or a test never ends, its tests are re-run one at a time to find
the culprit, which fails with what it printed; the others still count.";

/// Which implementation of each chapter is graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cumulative,
    Isolated,
    Reference,
}

impl Mode {
    /// The Cargo features for grading `chapter` among `all` chapters.
    pub fn features(self, chapter: &Chapter, all: &[Chapter]) -> Vec<String> {
        match self {
            Mode::Cumulative => Vec::new(),
            Mode::Reference => vec!["solutions".into()],
            Mode::Isolated => isolated_features(chapter, all),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Cumulative => "cumulative — your code for every chapter; features: none",
            Mode::Isolated => {
                "isolated — each chapter on top of the reference for all others; \
                 features: every ref-chMM except the graded chapter"
            }
            Mode::Reference => "reference — the solutions; features: solutions",
        }
    }
}

/// `ref-chMM` for every chapter but `chapter`.
pub fn isolated_features(chapter: &Chapter, all: &[Chapter]) -> Vec<String> {
    all.iter()
        .filter(|other| other.number != chapter.number)
        .map(Chapter::ref_feature)
        .collect()
}

/// Parsed command line.
struct Options {
    selectors: Vec<String>,
    mode: Mode,
    json: Option<PathBuf>,
    timeout: Duration,
    test_timeout: Duration,
}

fn parse_args(args: &[String]) -> Result<Options> {
    help_requested(args, USAGE)?;
    let mut options = Options {
        selectors: Vec::new(),
        mode: Mode::Cumulative,
        json: None,
        timeout: TIMEOUT_DEFAULT,
        test_timeout: TEST_TIMEOUT_DEFAULT,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--isolated" | "--reference" if options.mode != Mode::Cumulative => {
                return Err(usage_error(
                    "--isolated and --reference exclude each other",
                    USAGE,
                ));
            }
            "--isolated" => options.mode = Mode::Isolated,
            "--reference" => options.mode = Mode::Reference,
            "--json" => {
                let file = iter
                    .next()
                    .ok_or_else(|| usage_error("--json needs a FILE", USAGE))?;
                options.json = Some(PathBuf::from(file));
            }
            "--timeout" | "--test-timeout" => {
                let secs = iter
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| *s > 0);
                let secs =
                    secs.ok_or_else(|| usage_error(format!("{arg} needs SECS > 0"), USAGE))?;
                match arg.as_str() {
                    "--timeout" => options.timeout = Duration::from_secs(secs),
                    _ => options.test_timeout = Duration::from_secs(secs),
                }
            }
            flag if flag.starts_with('-') => {
                return Err(usage_error(format!("unknown option `{flag}`"), USAGE));
            }
            selector => options.selectors.push(selector.to_string()),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let ws = Workspace::locate()?;
    let all = ws.chapters()?;
    let selected = workspace::select(&all, &options.selectors, USAGE)?;
    let points = points::load(&ws)?;
    let mut grader = Grader::new(&ws, &points);
    grader.timeout = options.timeout;
    grader.test_timeout = options.test_timeout;
    let mut reports = Vec::new();
    for chapter in &selected {
        let features = options.mode.features(chapter, &all);
        reports.push(grader.grade(chapter, &features)?);
    }
    let starts_at_first = selected.first() == all.first();
    let skip = SkipAhead::load(&ws, &all)?;
    let board = scoreboard(options.mode, &reports, starts_at_first, &skip);
    println!("{board}");
    if let Some(path) = &options.json {
        let json = results_json(&reports, &board, &skip).render();
        workspace::write(path, json.as_bytes())?;
        println!("wrote {}", path.display());
    }
    reference_verdict(options.mode, &reports)
}

/// `--reference` must score 100% with no unlisted tests.
fn reference_verdict(mode: Mode, reports: &[ChapterReport]) -> Result<()> {
    if mode != Mode::Reference {
        return Ok(());
    }
    let (points, max) = score::total_points(reports);
    let unlisted = reports.iter().any(|r| !r.unlisted.is_empty());
    if points < max || max == 0 || unlisted {
        return Err(failed(format!(
            "the reference scored {points}/{max}; it must score 100% with every test in {}",
            points::PATH
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn isolated_features_skip_the_graded_chapter() {
        let all = [
            chapter(1, "ch01_a"),
            chapter(2, "ch02_b"),
            chapter(3, "ch03_c"),
        ];
        assert_eq!(
            isolated_features(&all[1], &all),
            vec!["ref-ch01", "ref-ch03"]
        );
        assert_eq!(Mode::Reference.features(&all[0], &all), vec!["solutions"]);
        assert!(Mode::Cumulative.features(&all[0], &all).is_empty());
    }

    #[test]
    fn options_parse() {
        let args: Vec<String> = [
            "2",
            "--isolated",
            "--json",
            "r.json",
            "ch03",
            "--test-timeout",
            "9",
        ]
        .map(String::from)
        .into();
        let options = parse_args(&args).unwrap();
        assert_eq!(options.mode, Mode::Isolated);
        assert_eq!(options.test_timeout, Duration::from_secs(9));
        assert_eq!(options.timeout, TIMEOUT_DEFAULT);
        assert_eq!(options.selectors, vec!["2", "ch03"]);
        assert_eq!(options.json, Some(PathBuf::from("r.json")));
        for bad in [
            &["--json"][..],
            &["--isolated", "--reference"],
            &["--fast"],
            &["--timeout", "0"],
            &["--test-timeout"],
        ] {
            let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(
                matches!(parse_args(&bad), Err(crate::Failure::Usage { .. })),
                "{bad:?}"
            );
        }
    }
}
