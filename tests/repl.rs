//! The `lsm` REPL (`src/bin/lsm.rs`), driven through stdin in a temporary
//! directory. Ungraded, like `tests/scratch.rs`: `tests/points.toml` does
//! not list it. The sessions need a working engine, so they run only when
//! every chapter comes from the reference (`--features solutions`); the
//! last test runs everywhere: whatever state your chapters are in, the REPL
//! reports, it never panics.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `lsm DIR` with `input` on stdin to the end and returns what it did.
fn run(dir: &Path, input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lsm"))
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lsm binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A failed open exits before reading stdin (a broken pipe here): what
    // it printed and its status say so, below.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().expect("lsm runs to the end")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(all(
    feature = "ref-ch01",
    feature = "ref-ch02",
    feature = "ref-ch03",
    feature = "ref-ch04",
    feature = "ref-ch05",
    feature = "ref-ch06",
    feature = "ref-ch07"
))]
mod reference {
    use std::io::{BufRead, BufReader, Write};
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::{run, text};

    /// Runs a session that must succeed and say nothing on stderr; returns
    /// its stdout.
    fn session(dir: &Path, input: &str) -> String {
        let output = run(dir, input);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(
            output.status.success() && stderr.is_empty(),
            "lsm ended with {} and stderr {stderr:?}; stdout: {stdout:?}",
            output.status
        );
        stdout
    }

    fn table_bytes(dir: &Path) -> Vec<u64> {
        let mut sizes: Vec<u64> = std::fs::read_dir(dir)
            .expect("the database directory lists")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".sst"))
            .map(|entry| entry.metadata().expect("a table has metadata").len())
            .collect();
        sizes.sort();
        sizes
    }

    // Every command once, and exactly what a piped session prints for it
    // (no prompt, no banner); BATCH's timing is checked by its shape.
    #[test]
    fn session_with_every_command_prints_exactly_its_results() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let stdout = session(
            dir.path(),
            concat!(
                "SET a 1\n",
                "set \"b c\" \"x y\"\n",
                "SET k\\xff v\\x00\\\"\n",
                "\n",
                "# a comment\n",
                "GET a\n",
                "GET \"b c\"\n",
                "GET k\\xFF\n",
                "GET missing\n",
                "DEL a\n",
                "GET a\n",
                "SCAN\n",
                "SCAN b\n",
                "SCAN \"\" k\n",
                "FLUSH\n",
                "STATS\n",
                "HELP\n",
                "BATCH 10\n",
                "QUIT\n",
                "GET a\n",
            ),
        );
        let tables = table_bytes(dir.path());
        assert_eq!(tables.len(), 1, "FLUSH writes one level-0 table");
        let mut expected = String::from(concat!(
            "OK\nOK\nOK\n",
            "\"1\"\n\"x y\"\n\"v\\x00\\\"\"\n(nil)\n",
            "OK\n(nil)\n",
            "\"b c\" \"x y\"\n\"k\\xff\" \"v\\x00\\\"\"\n(2 pairs)\n",
            "\"b c\" \"x y\"\n(1 pair)\n",
            "\"b c\" \"x y\"\n(1 pair)\n",
            "OK\n",
        ));
        expected += &format!("L0: 1 table, {} bytes\n", tables[0]);
        for level in 1..7 {
            expected += &format!("L{level}: 0 tables, 0 bytes\n");
        }
        expected += "memtable: 0 bytes, 0 frozen\nlast seq: 4\n";
        let lines: Vec<&str> = stdout.lines().collect();
        let prefix_len = expected.lines().count();
        assert_eq!(
            lines[..prefix_len.min(lines.len())].join("\n"),
            expected.trim_end(),
            "the session up to STATS' counters"
        );
        let rest = &lines[prefix_len..];
        assert!(
            rest.len() > 2 && rest[0].starts_with("bytes written: user "),
            "STATS prints the bytes written next: {rest:?}"
        );
        assert_eq!(
            rest[1], "flushes 1, gets 5, tables read by gets 0",
            "STATS' counters after one flush and five gets (all before it)"
        );
        let help = &rest[2..rest.len() - 1];
        for command in [
            "SET", "GET", "DEL", "SCAN", "BATCH", "FLUSH", "STATS", "HELP", "QUIT",
        ] {
            assert!(
                help.iter().any(|line| line.starts_with(command)),
                "HELP lists {command}: {help:?}"
            );
        }
        let batch = rest[rest.len() - 1];
        assert!(
            batch.starts_with("OK 10 puts (one write each) in ") && batch.ends_with(" ops/s"),
            "BATCH reports its count and rate: {batch:?}"
        );
        assert!(!stdout.contains("lsm> "), "no prompt when stdin is a pipe");
    }

    #[test]
    fn bad_commands_get_one_line_errors_and_the_session_goes_on() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bad = [
            "FROB a",
            "SET a",
            "GET",
            "DEL a b",
            "SCAN a b c",
            "SCAN z a",
            "BATCH",
            "BATCH x",
            "BATCH 0",
            "BATCH -3",
            "FLUSH now",
            "QUIT now",
            "SET \"a b",
            "SET a \\q",
            "SET a \\x4",
        ];
        let input = bad.join("\n") + "\nSET a 1\nGET a\n";
        let stdout = session(dir.path(), &input);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            bad.len() + 2,
            "one line per bad command, then OK and the value: {lines:?}"
        );
        for (command, line) in bad.iter().zip(&lines) {
            assert!(
                line.starts_with("error: "),
                "{command:?} is refused with one error line, got {line:?}"
            );
        }
        assert_eq!(lines[bad.len()..], ["OK", "\"1\""], "the session goes on");
    }

    #[test]
    fn data_survives_quit_end_of_input_and_a_new_process() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        session(
            dir.path(),
            "SET a 1\nSET b 2\nFLUSH\nDEL a\nSET c 3\nQUIT\n",
        );
        session(dir.path(), "SET d 4\n");
        let stdout = session(dir.path(), "SCAN\nSTATS\n");
        assert!(
            stdout.starts_with("\"b\" \"2\"\n\"c\" \"3\"\n\"d\" \"4\"\n(3 pairs)\n"),
            "every write of the earlier sessions is there, the deleted key is not: {stdout:?}"
        );
        assert!(
            stdout.contains("last seq: 5\n"),
            "the sequence number is recovered: {stdout:?}"
        );
    }

    // Reads each OK before sending the next command, then kills the
    // process without QUIT: every acknowledged write must be there (P1).
    #[test]
    fn a_killed_process_loses_no_acknowledged_write() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lsm"))
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the lsm binary starts");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        let count = 40;
        for i in 0..count {
            let command = if i == count / 2 {
                "FLUSH".to_string()
            } else {
                format!("SET k{i:02} v{i}")
            };
            writeln!(stdin, "{command}").expect("lsm reads its stdin");
            line.clear();
            stdout.read_line(&mut line).expect("lsm answers");
            assert_eq!(line, "OK\n", "{command} is acknowledged");
        }
        child.kill().expect("the process is killed");
        child.wait().expect("the killed process is reaped");
        let scan = session(dir.path(), "SCAN\n");
        assert!(
            scan.ends_with(&format!("({} pairs)\n", count - 1)),
            "every acknowledged SET survives the kill: {scan:?}"
        );
    }
}

#[test]
fn without_a_directory_lsm_prints_its_usage_and_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_lsm"))
        .output()
        .expect("the lsm binary runs");
    assert_eq!(output.status.code(), Some(2), "a usage error exits with 2");
    assert!(
        text(&output.stderr).starts_with("usage: lsm DIR"),
        "the usage goes to stderr: {:?}",
        text(&output.stderr)
    );
}

// Runs on any mix of chapters: an unfinished one is reported in one line
// ("chapter N is not done yet: …"), never as a panic with a backtrace.
#[test]
fn unfinished_chapters_are_reported_never_panicked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = run(
        dir.path(),
        "SET a 1\nGET a\nDEL a\nSCAN\nFLUSH\nSTATS\nBATCH 3\nQUIT\n",
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    for stream in [&stdout, &stderr] {
        assert!(
            !stream.contains("panicked") && !stream.contains("RUST_BACKTRACE"),
            "a todo!() or panic is reported in one line, not as a panic: {stream:?}"
        );
    }
    if !output.status.success() {
        assert!(
            stderr.contains("is not done yet: ") || stderr.starts_with("error: "),
            "a failed open says why in one line: {stderr:?}"
        );
    }
}
