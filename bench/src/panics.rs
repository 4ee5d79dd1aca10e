//! A learner's engine may reach a `todo!()`: the harness catches the panic
//! and reports "not implemented yet (chapter N)" for that workload, then
//! goes on with the next. The hook records the panic instead of printing
//! it.

use std::sync::Mutex;

use crate::workloads::Outcome;

static LAST: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Replaces the default panic hook with one that records the message and
/// location of the last panic.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_else(|| "(no message)".to_string());
        let location = info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST.lock() {
            *last = Some((message, location));
        }
    }));
}

/// What the last panic means: a chapter's `todo!()`, or a failure.
pub fn take_outcome() -> Outcome {
    let last = LAST.lock().ok().and_then(|mut last| last.take());
    let Some((message, location)) = last else {
        return Outcome::Failed("panicked (no message recorded)".into());
    };
    match todo_chapter(&message) {
        Some(chapter) => Outcome::Unimplemented { chapter, message },
        None => Outcome::Failed(format!("panicked at {location}: {message}")),
    }
}

/// Forgets the last panic (one of an earlier workload must not explain a
/// later one's error).
pub fn forget_last() {
    if let Ok(mut last) = LAST.lock() {
        *last = None;
    }
}

/// What an engine error means: with background threads a `todo!()`
/// reached by a flush or a compaction panics on a worker, which poisons
/// the database, and the write that sees it returns an error. If a
/// chapter's `todo!()` panicked since the workload began, that is the
/// cause; otherwise the error is a failure.
pub fn outcome_of_error(error: &str) -> Outcome {
    let last = LAST.lock().ok().and_then(|mut last| last.take());
    match last.and_then(|(message, _)| Some((todo_chapter(&message)?, message))) {
        Some((chapter, message)) => Outcome::Unimplemented { chapter, message },
        None => Outcome::Failed(error.to_string()),
    }
}

/// `Some(7)` for `not yet implemented: ch07: …`.
fn todo_chapter(message: &str) -> Option<u32> {
    let rest = message.strip_prefix("not yet implemented: ch")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todo_message_names_its_chapter() {
        assert_eq!(
            todo_chapter("not yet implemented: ch07: number, log, insert — book §7.4"),
            Some(7),
            "a starter's todo!() message starts with its chapter tag"
        );
        assert_eq!(
            todo_chapter("index out of bounds"),
            None,
            "other panics name no chapter"
        );
    }
}
