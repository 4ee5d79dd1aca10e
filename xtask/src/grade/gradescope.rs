//! Gradescope's `results.json` (`grade --json FILE`): the score, the
//! scoreboard as the overall output, and one entry per graded test,
//! numbered `chapter.index` and tagged `chNN`, with its status, its book
//! section (or the chapter to finish first) and its failure output, cut
//! short.

use crate::json::Value;

use super::advice::{SkipAhead, elsewhere, pointer};
use super::score::{ChapterReport, Status, TestResult, total_points};

/// Gradescope's results.json; `skip` says how to grade a chapter on the
/// reference for the others.
pub fn results_json(reports: &[ChapterReport], board: &str, skip: &SkipAhead) -> Value {
    let mut tests = Vec::new();
    for report in reports {
        for (index, test) in report.tests.iter().enumerate() {
            tests.push(test_json(report, index, test, skip));
        }
    }
    let (points, max) = total_points(reports);
    Value::object([
        ("score", Value::Number(f64::from(points))),
        ("max_score", Value::Number(f64::from(max))),
        ("output", Value::string(board)),
        ("tests", Value::Array(tests)),
    ])
}

fn test_json(report: &ChapterReport, index: usize, test: &TestResult, skip: &SkipAhead) -> Value {
    let mut output = format!("{} — book §{}", test.status_text(), test.entry.section);
    if test.is_failure() && elsewhere(&test.output, report.chapter.number).is_some() {
        let advice = pointer(test, &report.chapter, skip).join(" ");
        output = format!("{} — {advice}", test.status_text());
    }
    if !test.output.is_empty() {
        output.push_str("\n\n");
        output.push_str(&shorten(&test.output, 4000));
    }
    let status = if test.status == Status::Passed {
        "passed"
    } else {
        "failed"
    };
    Value::object([
        ("name", Value::string(test.entry.test.as_str())),
        (
            "number",
            Value::string(format!("{}.{}", report.chapter.number, index + 1)),
        ),
        ("score", Value::Number(f64::from(test.earned()))),
        ("max_score", Value::Number(f64::from(test.entry.points))),
        ("status", Value::string(status)),
        ("output", Value::string(output)),
        (
            "tags",
            Value::Array(vec![Value::string(report.chapter.tag())]),
        ),
        ("visibility", Value::string("visible")),
    ])
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}\n… (cut)", &text[..index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::fixtures::{report, skip_ahead};

    #[test]
    fn results_json_numbers_tests_by_chapter() {
        let json = results_json(&[report()], "board", &skip_ahead()).render();
        assert!(json.contains("\"score\": 2.0"), "{json}");
        assert!(json.contains("\"max_score\": 5.0"), "{json}");
        assert!(json.contains("\"number\": \"1.2\""), "{json}");
        assert!(
            json.contains("\"tags\": [\n        \"ch01\"\n      ]"),
            "{json}"
        );
        assert!(json.contains("\"visibility\": \"visible\""), "{json}");
    }
}
