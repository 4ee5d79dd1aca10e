//! `redis-cli` (Debian's redis-tools) runs a scripted session against the
//! real binary on 127.0.0.1: `tests/redis_cli.sh` sends the commands, this
//! test compares what redis-cli printed with the text a terminal user
//! would see. The script installs redis-tools if `redis-cli` is missing;
//! if it cannot (no apt, no network, no root), the test says so and skips.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Running;

/// The script may install redis-tools first (each apt step is bounded at
/// 120 s by the script itself); past this the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(420);
/// The script's exit code for "cannot install redis-cli" (automake's skip).
const SKIPPED: i32 = 77;

/// What `redis-cli --no-raw` prints for the session in `redis_cli.sh`.
const EXPECTED: &str = r#"PONG
"hello world"
OK
"hello"
(nil)
(nil)
(nil)
OK
1) "ada"
2) "grace"
3) (nil)
4) "barbara"
(integer) 1
(integer) 2
(error) ERR value is not an integer or out of range
OK
QUEUED
QUEUED
QUEUED
1) OK
2) (integer) 2
3) "2"
(error) ERR EXEC without MULTI
1) "0"
2) 1) "user:1"
   2) "user:2"
   3) "user:3"
1) "1"
2) 1) "counter"
   2) "greeting"
1) "0"
2) 1) "inside"
   2) "user:1"
   3) "user:2"
   4) "user:3"
(integer) 6
(integer) 2
(integer) 1
(integer) 4
(error) ERR unknown command 'GETX', with args beginning with: 'greeting' 
# Server
redis_version:7.0.0
lsm_workbook_version:0.1.0
redis_mode:standalone
OK
"#;

#[test]
fn a_scripted_redis_cli_session_prints_what_redis_would() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/redis_cli.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .arg(server.addr.port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs tests/redis_cli.sh");
    let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait on the script") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tests/redis_cli.sh did not finish within {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout_reader.join().expect("the stdout reader");
    let stderr = stderr_reader.join().expect("the stderr reader");
    let stderr_tail: String = last_lines(&stderr, 10);
    if status.code() == Some(SKIPPED) {
        println!("SKIPPED a_scripted_redis_cli_session_prints_what_redis_would: {stderr_tail}");
        eprintln!("SKIPPED a_scripted_redis_cli_session_prints_what_redis_would: {stderr_tail}");
        return;
    }
    assert!(
        status.success(),
        "tests/redis_cli.sh failed ({status}); its stderr ends: {stderr_tail}"
    );
    // INFO's text is printed as the server sent it, with \r\n.
    let got = stdout.replace("\r\n", "\n");
    let (got_lines, want_lines): (Vec<&str>, Vec<&str>) =
        (got.lines().collect(), EXPECTED.lines().collect());
    for (i, want) in want_lines.iter().enumerate() {
        let line = got_lines.get(i).copied();
        assert_eq!(
            line,
            Some(*want),
            "redis-cli's output line {} differs (a reply of the wrong type or text, \
             or a missing reply shifts every later line); the whole output, \
             line by line, expected | got:\n{}",
            i + 1,
            side_by_side(&want_lines, &got_lines)
        );
    }
    assert_eq!(
        got_lines.len(),
        want_lines.len(),
        "redis-cli printed more lines than expected, expected | got:\n{}",
        side_by_side(&want_lines, &got_lines)
    );
}

/// `expected | got` per line, the differing ones marked with `≠`.
fn side_by_side(want: &[&str], got: &[&str]) -> String {
    let width = want
        .iter()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    (0..want.len().max(got.len()))
        .map(|i| {
            let (w, g) = (want.get(i).copied(), got.get(i).copied());
            let mark = if w == g { ' ' } else { '≠' };
            let (w, g) = (w.unwrap_or("(missing)"), g.unwrap_or("(missing)"));
            format!("{mark} {:>3}  {w:<width$} | {g}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
