//! Graded tests for chapter 11 — the server: the Redis protocol (RESP2)
//! without a network. Book: "11. The server".
//! Run: `cargo test --test ch11_server --features ref-upto-ch10`.
//!
//! Three kinds of tests:
//! - `parse_request` (task 1) on byte streams cut at every point, on every
//!   malformed and oversized class (an error, never a panic, memory
//!   bounded by the bytes present), and on arbitrary bytes (proptest);
//! - `RequestReader` and `Reply::encode` (task 2): requests fed one byte at
//!   a time, pipelined batches split at every point, replies compared byte
//!   for byte with what Redis sends;
//! - `execute` (task 3): every command's reply, encoded and compared with
//!   Redis's bytes, on a database on the simulated file system; and
//!   MULTI/EXEC under a crash sweep: all of a transaction or none.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_workbook::ch07_engine::{Db, Options, WriteOptions};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions};
use lsm_workbook::ch09_snapshots::{TimelineOptions, open_with_timeline};
use lsm_workbook::ch11_server::{
    Limits, Outcome, Parsed, ProtocolError, Reply, RequestReader, ServerConfig, Session, execute,
    parse_request,
};
use lsm_workbook::clock::SimClock;
use lsm_workbook::fs::SimFs;
use lsm_workbook::fs::sim::CrashPoint;
use proptest::prelude::*;

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Bytes as a short readable string for failure messages: printable
/// ASCII as is, `\r` `\n` escaped, others `\xNN`, cut after 200 bytes.
fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &byte in bytes.iter().take(200) {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b' '..=b'~' => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    if bytes.len() > 200 {
        out.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    out
}

fn show_args(args: &[Bytes]) -> Vec<String> {
    args.iter().take(8).map(|arg| show(arg)).collect()
}

/// An array request as redis-cli sends it.
fn array(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn args_of(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|arg| Bytes::copy_from_slice(arg)).collect()
}

fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    parse_request(buf, &Limits::default())
}

/// The request `buf` must parse to, whole.
#[track_caller]
fn expect_request(buf: &[u8], expected: &[&[u8]], what: &str) {
    match parse(buf) {
        Ok(Parsed::Request { args, consumed }) => {
            assert_eq!(
                show_args(&args),
                show_args(&args_of(expected)),
                "{what}: wrong arguments parsed from {}",
                show(buf)
            );
            assert_eq!(
                consumed,
                buf.len(),
                "{what}: consumed must be the request's length in bytes ({})",
                show(buf)
            );
        }
        other => panic!(
            "{what}: {} must parse to a request, got {other:?}",
            show(buf)
        ),
    }
}

// ---------------------------------------------------------------- task 1

#[test]
fn parse_request_reads_an_array_of_bulk_strings() {
    expect_request(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n", &[b"GET", b"a"], "GET a");
    expect_request(
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n",
        &[b"SET", b"key", b""],
        "an empty bulk string is an argument",
    );
    let mut two = array(&[b"PING"]);
    two.extend_from_slice(&array(&[b"ECHO", b"x"]));
    match parse(&two) {
        Ok(Parsed::Request { args, consumed }) => {
            assert_eq!(
                show_args(&args),
                ["PING"],
                "only the first request is parsed"
            );
            assert_eq!(
                consumed,
                array(&[b"PING"]).len(),
                "consumed must stop at the end of the first request, not the buffer"
            );
        }
        other => panic!("two pipelined requests: the first must parse, got {other:?}"),
    }
}

#[test]
fn parse_request_is_binary_safe_inside_bulk_strings() {
    let value: &[u8] = b"a\r\nb\0\xff*$\r\n";
    expect_request(
        &array(&[b"SET", b"k", value]),
        &[b"SET", b"k", value],
        "a bulk string holding \\r\\n, NUL and 0xff: its length says where it ends, not a \\r\\n",
    );
}

// Every proper prefix of a request (array or inline) is Incomplete, and
// the whole is the request: the parser never guesses from a prefix.
#[test]
fn parse_request_is_incomplete_at_every_split_point_of_a_request() {
    let requests: Vec<Vec<u8>> = vec![
        array(&[b"SET", b"key", b"value with \r\n inside"]),
        array(&[b"MGET", b"a", b"bb", b"ccc", b""]),
        b"SET k \"two words\"\r\n".to_vec(),
        b"PING\n".to_vec(),
    ];
    for request in &requests {
        for cut in 0..request.len() {
            assert_eq!(
                parse(&request[..cut]),
                Ok(Parsed::Incomplete),
                "the first {cut} bytes of {} are not a whole request: Incomplete expected. Does \
                 the parser wait for the bulk data and its \\r\\n, and for the inline \\n?",
                show(request)
            );
        }
        assert!(
            matches!(parse(request), Ok(Parsed::Request { consumed, .. }) if consumed == request.len()),
            "the whole of {} is one request",
            show(request)
        );
    }
}

#[test]
fn parse_request_reads_inline_commands_with_quotes_and_escapes() {
    expect_request(b"GET a\r\n", &[b"GET", b"a"], "inline with \\r\\n");
    expect_request(b"GET a\n", &[b"GET", b"a"], "inline with a bare \\n");
    expect_request(
        b"  SET \t k   v  \r\n",
        &[b"SET", b"k", b"v"],
        "runs of whitespace",
    );
    expect_request(
        b"SET k \"two words\"\r\n",
        &[b"SET", b"k", b"two words"],
        "a double-quoted argument keeps its space",
    );
    expect_request(
        b"SET k \"a\\\"b\\\\c\\n\\r\\t\\x41\\x7a\"\r\n",
        &[b"SET", b"k", b"a\"b\\c\n\r\tAz"],
        "escapes inside double quotes: \\\" \\\\ \\n \\r \\t \\xHH",
    );
    expect_request(
        b"SET k 'it\\'s \\n'\r\n",
        &[b"SET", b"k", b"it's \\n"],
        "single quotes: only \\' is an escape",
    );
    expect_request(
        b"ECHO \"\"\r\n",
        &[b"ECHO", b""],
        "an empty quoted argument",
    );
}

#[test]
fn parse_request_skips_empty_lines_and_empty_arrays() {
    for skipped in [
        &b"\r\n"[..],
        b"\n",
        b"   \r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*-5\r\n",
    ] {
        assert_eq!(
            parse(skipped),
            Ok(Parsed::Request {
                args: Vec::new(),
                consumed: skipped.len()
            }),
            "{} is a request Redis skips (an empty line, or an array count of 0 or below): \
             no arguments, all of its bytes consumed",
            show(skipped)
        );
    }
}

// Each malformed class gets its own error, whose Display is Redis's
// message; the error is final: the same bytes with more after them give it
// again.
#[test]
fn parse_request_rejects_each_malformed_class_with_its_redis_error() {
    let cases: [(&[u8], ProtocolError, &str); 10] = [
        (
            b"*x\r\n",
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*2\n\r\n",
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*+1\r\n",
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*01\r\n",
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$x\r\n",
            ProtocolError::InvalidBulkLength,
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$-1\r\n",
            ProtocolError::InvalidBulkLength,
            "Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n:1\r\n",
            ProtocolError::ExpectedDollar { found: b':' },
            "Protocol error: expected '$', got ':'",
        ),
        (
            b"*1\r\n$1\r\nab\r\n",
            ProtocolError::ExpectedCrlf,
            "Protocol error: expected '\\r\\n' after bulk data",
        ),
        (
            b"SET k \"open\r\n",
            ProtocolError::UnbalancedQuotes,
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET k \"a\"b\r\n",
            ProtocolError::UnbalancedQuotes,
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (bytes, error, message) in cases {
        assert_eq!(
            parse(bytes),
            Err(error.clone()),
            "{} is malformed: the wrong error, or none",
            show(bytes)
        );
        assert_eq!(
            error.to_string(),
            message,
            "Display must be Redis's message"
        );
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            parse(&longer),
            Err(error),
            "an error is final: more bytes after {} must not change it",
            show(bytes)
        );
    }
}

// A declared length above the limits is refused as soon as its line is
// read, before its bytes arrive, and without allocating for it.
#[test]
fn parse_request_refuses_oversized_lengths_before_their_bytes_arrive() {
    let limits = Limits::default();
    let too_many = format!("*{}\r\n", limits.max_array_len + 1);
    let too_long = format!("*1\r\n${}\r\n", limits.max_bulk_bytes + 1);
    let huge = "*1\r\n$9223372036854775807\r\n".to_string();
    let overflow = "*1\r\n$99999999999999999999999\r\n".to_string();
    let cases = [
        (too_many, ProtocolError::InvalidMultibulkLength),
        (too_long, ProtocolError::InvalidBulkLength),
        (huge, ProtocolError::InvalidBulkLength),
        (overflow, ProtocolError::InvalidBulkLength),
    ];
    for (bytes, error) in cases {
        let (result, stats) = support::alloc::measure(|| parse_request(bytes.as_bytes(), &limits));
        assert_eq!(
            result,
            Err(error),
            "{} declares more than the limits allow: refuse it at once",
            show(bytes.as_bytes())
        );
        stats.assert_within(bytes.len() as u64, "parse_request of an oversized length");
    }
    let line = vec![b'x'; limits.max_inline_bytes + 1];
    assert_eq!(
        parse(&line),
        Err(ProtocolError::TooBigInlineRequest),
        "an inline line past max_inline_bytes without \\n is refused, not waited for"
    );
    assert_eq!(
        ProtocolError::TooBigInlineRequest.to_string(),
        "Protocol error: too big inline request"
    );
    let mut long_line = line.clone();
    long_line.push(b'\n');
    assert_eq!(
        parse(&long_line),
        Err(ProtocolError::TooBigInlineRequest),
        "an inline line past max_inline_bytes is refused even when its \\n is there (else a \
         prefix and the whole would disagree)"
    );
    let digits = vec![b'1'; 64];
    let mut count_line = b"*".to_vec();
    count_line.extend_from_slice(&digits);
    assert_eq!(
        parse(&count_line),
        Err(ProtocolError::InvalidMultibulkLength),
        "a count line of 64 digits without \\r\\n can never be a valid count: refuse it"
    );
}

// A request whose declared sizes are within the limits but whose bytes
// have not arrived allocates for the bytes present only.
#[test]
fn parse_request_never_allocates_for_a_declared_length() {
    let limits = Limits::default();
    let prefixes = [
        format!("*1\r\n${}\r\nabc", limits.max_bulk_bytes),
        format!("*{}\r\n$1\r\na\r\n$1\r\nb\r\n", limits.max_array_len),
    ];
    for prefix in prefixes {
        let (result, stats) = support::alloc::measure(|| parse_request(prefix.as_bytes(), &limits));
        assert_eq!(
            result,
            Ok(Parsed::Incomplete),
            "{} is the start of a valid request",
            show(prefix.as_bytes())
        );
        assert!(
            stats.peak_bytes < 4096,
            "parse_request of {} bytes that are not yet a request allocated {} bytes at the \
             peak: never reserve a declared length or count (Vec::with_capacity(len)); copy \
             only once the whole request is there",
            prefix.len(),
            stats.peak_bytes
        );
    }
    // A complete request of many tiny elements stays within 8 x its bytes.
    let many: Vec<&[u8]> = vec![b"" as &[u8]; 50_000];
    let request = array(&many);
    let (result, stats) = support::alloc::measure(|| parse_request(&request, &limits));
    assert!(
        matches!(result, Ok(Parsed::Request { ref args, .. }) if args.len() == 50_000),
        "a request of 50,000 empty bulk strings must parse"
    );
    stats.assert_within(request.len() as u64, "parse_request of 50,000 elements");
}

/// What parsing `whole` must say of its prefix `part` (the parser's
/// consistency): a prefix shorter than a request is Incomplete; one that
/// holds the request gives the same request; an error on the prefix is
/// the whole's error.
fn check_prefix_consistent(whole: &[u8], cut: usize, limits: &Limits) -> Result<(), TestCaseError> {
    let full = parse_request(whole, limits);
    let part = parse_request(&whole[..cut], limits);
    match (&part, &full) {
        (Ok(Parsed::Incomplete), Ok(Parsed::Incomplete) | Err(_)) => {}
        (Ok(Parsed::Incomplete), Ok(Parsed::Request { consumed, .. })) => prop_assert!(
            cut < *consumed,
            "the first {cut} bytes hold the whole request ({consumed} bytes) yet are Incomplete: {}",
            show(whole)
        ),
        (Ok(Parsed::Request { .. }), _) | (Err(_), _) => prop_assert_eq!(
            &part,
            &full,
            "a prefix decided something the whole disagrees with ({} of {} bytes): {}",
            cut,
            whole.len(),
            show(whole)
        ),
    }
    Ok(())
}

/// Bytes that look like requests: pieces of valid ones, mangled.
fn arb_request_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b" ".to_vec()),
        (0u32..40).prop_map(|n| n.to_string().into_bytes()),
        Just(b"-1".to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
        prop::collection::vec(prop::sample::select(b"abGET".to_vec()), 0..4),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    // Arbitrary bytes and request-like bytes: parse_request never panics,
    // consumes at most what it was given, and every prefix agrees with
    // the whole.
    #[test]
    fn parse_request_never_panics_and_every_prefix_agrees_with_the_whole(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..64), arb_request_like()],
        cut_seed in any::<usize>(),
    ) {
        let limits = Limits { max_bulk_bytes: 30, max_array_len: 20, max_inline_bytes: 40, ..Limits::default() };
        if let Ok(Parsed::Request { consumed, .. }) = parse_request(&bytes, &limits) {
            prop_assert!(consumed >= 1 && consumed <= bytes.len(), "consumed {} of {} bytes", consumed, bytes.len());
        }
        let cut = if bytes.is_empty() { 0 } else { cut_seed % (bytes.len() + 1) };
        check_prefix_consistent(&bytes, cut, &limits)?;
    }

    // The same bytes fed to a RequestReader whole or in two pieces give
    // the same requests, then the same error or the same wait.
    #[test]
    fn reader_fed_in_two_pieces_agrees_with_reader_fed_at_once(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..64), arb_request_like()],
        cut_seed in any::<usize>(),
    ) {
        let limits = Limits { max_bulk_bytes: 30, max_array_len: 20, max_inline_bytes: 40, ..Limits::default() };
        let cut = if bytes.is_empty() { 0 } else { cut_seed % (bytes.len() + 1) };
        let whole = drain_pieces(&[&bytes], limits);
        let split = drain_pieces(&[&bytes[..cut], &bytes[cut..]], limits);
        prop_assert_eq!(
            &split, &whole,
            "fed in two pieces (cut at {}) the reader disagrees with the reader fed at once: {}",
            cut, show(&bytes)
        );
    }
}

// ---------------------------------------------------------------- task 2

/// What a reader yields for `pieces` fed one after the other, draining
/// after each: the requests, then the error that stopped it (if any).
fn drain_pieces(pieces: &[&[u8]], limits: Limits) -> (Vec<Vec<String>>, Option<ProtocolError>) {
    let mut reader = RequestReader::new(limits);
    let mut requests = Vec::new();
    for piece in pieces {
        if let Err(error) = reader.feed(piece) {
            return (requests, Some(error));
        }
        loop {
            match reader.next() {
                Ok(Some(args)) => requests.push(args.iter().map(|a| show(a)).collect()),
                Ok(None) => break,
                Err(error) => return (requests, Some(error)),
            }
            assert!(
                requests.len() < 10_000,
                "next() keeps returning requests: does it drop the bytes a request consumed?"
            );
        }
    }
    (requests, None)
}

fn strings(requests: &[&[&str]]) -> Vec<Vec<String>> {
    requests
        .iter()
        .map(|request| request.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn reader_yields_a_request_fed_one_byte_at_a_time() {
    let request = array(&[b"SET", b"key", b"a value\r\n"]);
    let pieces: Vec<&[u8]> = request.chunks(1).collect();
    let (requests, error) = drain_pieces(&pieces, Limits::default());
    assert_eq!(
        error, None,
        "a valid request fed one byte at a time is no error"
    );
    assert_eq!(
        requests,
        strings(&[&["SET", "key", "a value\\r\\n"]]),
        "one request, fed one byte at a time: next() must say None until it is whole, then \
         return it once"
    );
}

// A pipelined batch — arrays, inline lines, skipped empty lines — split at
// every point into two feeds, gives the same requests in order.
#[test]
fn reader_yields_a_pipelined_batch_in_order_at_every_split_point() {
    let mut batch = array(&[b"SET", b"a", b"1"]);
    batch.extend_from_slice(b"\r\nGET a\r\n");
    batch.extend_from_slice(&array(&[b"INCR", b"n"]));
    batch.extend_from_slice(b"*0\r\nECHO \"x y\"\n");
    batch.extend_from_slice(&array(&[b"MGET", b"a", b"n"]));
    let expected = strings(&[
        &["SET", "a", "1"],
        &["GET", "a"],
        &["INCR", "n"],
        &["ECHO", "x y"],
        &["MGET", "a", "n"],
    ]);
    for cut in 0..=batch.len() {
        let got = drain_pieces(&[&batch[..cut], &batch[cut..]], Limits::default());
        assert_eq!(
            got,
            (expected.clone(), None),
            "the pipelined batch {} fed in two pieces cut at byte {cut}: every request, in \
             order, each once (empty lines and *0 skipped)",
            show(&batch)
        );
    }
}

#[test]
fn reader_drops_the_bytes_of_each_request_it_returns() {
    let mut reader = RequestReader::new(Limits::default());
    let first = array(&[b"PING"]);
    reader.feed(&first).unwrap();
    reader.feed(b"GET").unwrap();
    assert_eq!(
        reader.buffered_len(),
        first.len() + 3,
        "fed bytes are buffered"
    );
    let args = reader.next().unwrap();
    assert_eq!(
        args.as_deref().map(show_args),
        Some(vec!["PING".to_string()])
    );
    assert_eq!(
        reader.buffered_len(),
        3,
        "after next() returned PING only the 3 bytes of the unfinished GET may remain"
    );
    assert_eq!(
        reader.next(),
        Ok(None),
        "an unfinished inline line is not a request yet"
    );
}

#[test]
fn reader_refuses_bytes_past_max_buffered_bytes() {
    let limits = Limits {
        max_buffered_bytes: 100,
        ..Limits::default()
    };
    let mut reader = RequestReader::new(limits);
    reader.feed(&[b'a'; 60]).unwrap();
    let (result, stats) = support::alloc::measure(|| reader.feed(&[b'b'; 41]));
    assert_eq!(
        result,
        Err(ProtocolError::BufferFull {
            buffered_bytes: 101,
            limit_bytes: 100
        }),
        "60 bytes buffered, 41 more would pass max_buffered_bytes = 100: refuse them"
    );
    stats.assert_within(41, "a refused feed");
    assert_eq!(
        reader.buffered_len(),
        60,
        "a refused feed buffers nothing of what it refused"
    );
    reader.feed(&[b'b'; 40]).unwrap();
    assert_eq!(reader.buffered_len(), 100, "exactly the limit is allowed");
}

#[test]
fn encode_writes_each_reply_type_as_redis_does() {
    let cases: Vec<(Reply, &[u8])> = vec![
        (Reply::ok(), b"+OK\r\n"),
        (Reply::Simple("PONG".into()), b"+PONG\r\n"),
        (Reply::error("ERR no such thing"), b"-ERR no such thing\r\n"),
        (Reply::Integer(0), b":0\r\n"),
        (Reply::Integer(-42), b":-42\r\n"),
        (Reply::Integer(i64::MAX), b":9223372036854775807\r\n"),
        (Reply::Bulk(b("hello")), b"$5\r\nhello\r\n"),
        (Reply::Bulk(Bytes::new()), b"$0\r\n\r\n"),
        (Reply::Bulk(b("a\r\nb")), b"$4\r\na\r\nb\r\n"),
        (Reply::Nil, b"$-1\r\n"),
        (Reply::Array(Vec::new()), b"*0\r\n"),
        (Reply::NilArray, b"*-1\r\n"),
        (
            Reply::Array(vec![
                Reply::Bulk(b("a")),
                Reply::Nil,
                Reply::Integer(3),
                Reply::Array(vec![Reply::ok()]),
            ]),
            b"*4\r\n$1\r\na\r\n$-1\r\n:3\r\n*1\r\n+OK\r\n",
        ),
    ];
    for (reply, expected) in cases {
        let mut out = b"before|".to_vec();
        reply.encode(&mut out);
        assert_eq!(
            show(&out),
            show(&[b"before|" as &[u8], expected].concat()),
            "{reply:?} encoded wrongly (encode must append to `out`, not replace it)"
        );
    }
}

#[test]
fn encode_writes_line_breaks_in_simple_strings_and_errors_as_spaces() {
    let mut out = Vec::new();
    Reply::error("ERR bad\r\nthing").encode(&mut out);
    Reply::Simple("a\nb".into()).encode(&mut out);
    assert_eq!(
        show(&out),
        show(b"-ERR bad  thing\r\n+a b\r\n"),
        "a \\r or \\n inside a one-line reply would end it early: write each as a space"
    );
}

// ---------------------------------------------------------------- task 3

fn sim_options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: memtable_bytes,
        salt_seed: Some(11),
        ..Options::default()
    }
}

fn open_db() -> Db {
    Db::open(dir(), sim_options(&SimFs::new(), 1 << 20)).expect("a new database opens")
}

/// One connection on a database: runs requests, returns encoded replies.
struct Client<'a> {
    db: &'a Db,
    config: ServerConfig,
    session: Session,
}

impl<'a> Client<'a> {
    fn new(db: &'a Db) -> Self {
        Client::with_config(db, ServerConfig::default())
    }

    fn with_config(db: &'a Db, config: ServerConfig) -> Self {
        Client {
            db,
            config,
            session: Session::new(),
        }
    }

    /// Runs `args`; the reply's bytes (and whether the connection closes).
    fn outcome(&mut self, args: &[&str]) -> (Vec<u8>, bool) {
        let args = args.iter().map(|a| b(a)).collect();
        match execute(self.db, &self.config, &mut self.session, args) {
            Outcome::Reply(reply) => (reply.to_bytes(), false),
            Outcome::Close(reply) => (reply.to_bytes(), true),
        }
    }

    fn run(&mut self, args: &[&str]) -> Vec<u8> {
        let (bytes, closed) = self.outcome(args);
        assert!(!closed, "{args:?} must not close the connection");
        bytes
    }

    /// Runs `args` and checks the reply's bytes.
    #[track_caller]
    fn expect(&mut self, args: &[&str], expected: &str, hint: &str) {
        let got = self.run(args);
        assert_eq!(
            show(&got),
            show(expected.as_bytes()),
            "{args:?}: the reply differs from Redis's. {hint}"
        );
    }
}

#[test]
fn ping_and_echo_reply_as_redis_does() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["PING"],
        "+PONG\r\n",
        "PING alone is the simple string PONG",
    );
    c.expect(
        &["ping", "hi"],
        "$2\r\nhi\r\n",
        "PING msg is msg as a bulk string; names are case-insensitive",
    );
    c.expect(
        &["ECHO", "a b"],
        "$3\r\na b\r\n",
        "ECHO returns its argument as a bulk string",
    );
    c.expect(
        &["PING", "a", "b"],
        "-ERR wrong number of arguments for 'ping' command\r\n",
        "PING takes at most one argument",
    );
}

#[test]
fn set_then_get_round_trips_and_an_absent_key_is_nil() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["GET", "k"],
        "$-1\r\n",
        "an absent key is the null bulk string",
    );
    c.expect(&["SET", "k", "v1"], "+OK\r\n", "SET answers +OK");
    c.expect(
        &["GET", "k"],
        "$2\r\nv1\r\n",
        "GET returns the value SET wrote",
    );
    c.expect(&["set", "k", ""], "+OK\r\n", "an empty value is a value");
    c.expect(
        &["GET", "k"],
        "$0\r\n\r\n",
        "an empty value is an empty bulk string, not nil",
    );
    assert_eq!(
        db.get(b"k").unwrap(),
        Some(Bytes::new()),
        "SET writes to the database"
    );
    c.expect(
        &["SET", "k", "v", "EX", "10"],
        "-ERR syntax error\r\n",
        "options other than NX and XX are a syntax error",
    );
}

#[test]
fn set_nx_and_xx_write_only_if_the_key_is_absent_or_present() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["SET", "k", "a", "XX"],
        "$-1\r\n",
        "XX on an absent key writes nothing: nil",
    );
    c.expect(
        &["GET", "k"],
        "$-1\r\n",
        "XX on an absent key must not write",
    );
    c.expect(
        &["SET", "k", "a", "nx"],
        "+OK\r\n",
        "NX on an absent key writes",
    );
    c.expect(
        &["SET", "k", "b", "NX"],
        "$-1\r\n",
        "NX on a present key writes nothing: nil",
    );
    c.expect(
        &["GET", "k"],
        "$1\r\na\r\n",
        "NX on a present key must not overwrite",
    );
    c.expect(
        &["SET", "k", "c", "XX"],
        "+OK\r\n",
        "XX on a present key writes",
    );
    c.expect(&["GET", "k"], "$1\r\nc\r\n", "XX overwrote");
    c.expect(
        &["SET", "k", "d", "NX", "XX"],
        "-ERR syntax error\r\n",
        "NX and XX together are a syntax error",
    );
}

#[test]
fn del_and_exists_count_the_keys_that_were_there() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.run(&["SET", "a", "1"]);
    c.run(&["SET", "b", "2"]);
    c.expect(
        &["EXISTS", "a", "b", "c", "a"],
        ":3\r\n",
        "EXISTS counts each present key, repeats included",
    );
    c.expect(
        &["DEL", "a", "c", "a"],
        ":1\r\n",
        "DEL counts the keys it deleted: a once, c was absent",
    );
    c.expect(&["EXISTS", "a"], ":0\r\n", "a deleted key does not exist");
    assert_eq!(db.get(b"a").unwrap(), None, "DEL deletes in the database");
    c.expect(
        &["DEL"],
        "-ERR wrong number of arguments for 'del' command\r\n",
        "DEL needs a key",
    );
}

#[test]
fn mset_writes_every_pair_and_mget_reads_them_in_order() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(&["MSET", "a", "1", "b", "2"], "+OK\r\n", "MSET answers +OK");
    c.expect(
        &["MGET", "b", "x", "a"],
        "*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n",
        "MGET: one reply per key, nil for absent",
    );
    c.expect(
        &["MSET", "a", "1", "b"],
        "-ERR wrong number of arguments for 'mset' command\r\n",
        "MSET needs key-value pairs",
    );
}

#[test]
fn incr_counts_from_zero_and_rejects_values_that_are_not_integers() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["INCR", "n"],
        ":1\r\n",
        "INCR of an absent key counts from 0",
    );
    c.expect(&["INCR", "n"], ":2\r\n", "INCR adds one");
    c.expect(
        &["GET", "n"],
        "$1\r\n2\r\n",
        "INCR stores the number as decimal text",
    );
    c.run(&["SET", "s", "12a"]);
    c.expect(
        &["INCR", "s"],
        "-ERR value is not an integer or out of range\r\n",
        "12a is not an integer",
    );
    c.run(&["SET", "s", " 1"]);
    c.expect(
        &["INCR", "s"],
        "-ERR value is not an integer or out of range\r\n",
        "Redis accepts no spaces",
    );
    c.run(&["SET", "m", "-5"]);
    c.expect(&["INCR", "m"], ":-4\r\n", "negative numbers count up");
    c.run(&["SET", "max", &i64::MAX.to_string()]);
    c.expect(
        &["INCR", "max"],
        "-ERR increment or decrement would overflow\r\n",
        "i64::MAX + 1 overflows",
    );
}

// Concurrent INCRs from several sessions lose no increment: each is a
// read-modify-write in one write_with batch.
#[test]
fn incr_from_concurrent_sessions_loses_no_increment() {
    let db = open_db();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut c = Client::new(&db);
                for _ in 0..100 {
                    c.run(&["INCR", "n"]);
                }
            });
        }
    });
    assert_eq!(
        db.get(b"n").unwrap(),
        Some(b("400")),
        "4 sessions x 100 INCRs: a lost increment means the read and the write were not one \
         Db::write_with (another write came between them)"
    );
}

#[test]
fn unknown_commands_and_wrong_arity_are_redis_shaped_errors() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["FOO", "a", "b"],
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
        "Redis quotes the name as sent and each argument followed by a space",
    );
    c.expect(
        &["nope"],
        "-ERR unknown command 'nope', with args beginning with: \r\n",
        "no arguments",
    );
    c.expect(
        &["GET"],
        "-ERR wrong number of arguments for 'get' command\r\n",
        "the name lowercase",
    );
    c.expect(
        &["Incr", "a", "b"],
        "-ERR wrong number of arguments for 'incr' command\r\n",
        "INCR takes one key",
    );
    c.expect(
        &["DBSIZE", "x"],
        "-ERR wrong number of arguments for 'dbsize' command\r\n",
        "DBSIZE takes none",
    );
}

#[test]
fn requirepass_refuses_commands_until_auth_succeeds() {
    let db = open_db();
    let config = ServerConfig {
        requirepass: Some("sesame".into()),
        ..ServerConfig::default()
    };
    let mut c = Client::with_config(&db, config);
    c.expect(
        &["GET", "k"],
        "-NOAUTH Authentication required.\r\n",
        "before AUTH every data command is refused",
    );
    c.expect(
        &["SET", "k", "v"],
        "-NOAUTH Authentication required.\r\n",
        "refused writes change nothing",
    );
    assert_eq!(db.get(b"k").unwrap(), None, "a refused SET must not write");
    c.expect(
        &["AUTH", "wrong"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "a wrong password",
    );
    c.expect(
        &["AUTH", "alice", "sesame"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "only the user `default` exists",
    );
    c.expect(&["AUTH", "sesame"], "+OK\r\n", "the right password");
    c.expect(&["SET", "k", "v"], "+OK\r\n", "after AUTH commands run");
    let mut other = Client::with_config(
        &db,
        ServerConfig {
            requirepass: Some("sesame".into()),
            ..ServerConfig::default()
        },
    );
    other.expect(
        &["GET", "k"],
        "-NOAUTH Authentication required.\r\n",
        "authentication is per session",
    );
    other.expect(
        &["AUTH", "default", "sesame"],
        "+OK\r\n",
        "AUTH default password",
    );
    let mut open = Client::new(&db);
    open.expect(
        &["AUTH", "x"],
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
        "AUTH without requirepass",
    );
}

#[test]
fn multi_queues_commands_and_exec_runs_them_reading_earlier_queued_writes() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.run(&["SET", "a", "1"]);
    c.expect(&["MULTI"], "+OK\r\n", "MULTI starts a transaction");
    c.expect(
        &["SET", "b", "2"],
        "+QUEUED\r\n",
        "inside MULTI commands are queued",
    );
    c.expect(&["INCR", "a"], "+QUEUED\r\n", "queued");
    c.expect(&["GET", "a"], "+QUEUED\r\n", "queued");
    c.expect(&["DEL", "b"], "+QUEUED\r\n", "queued");
    c.expect(&["EXISTS", "b"], "+QUEUED\r\n", "queued");
    assert_eq!(db.get(b"b").unwrap(), None, "nothing runs before EXEC");
    c.expect(
        &["EXEC"],
        "*5\r\n+OK\r\n:2\r\n$1\r\n2\r\n:1\r\n:0\r\n",
        "EXEC replies with an array of the queued commands' replies; each reads the writes \
         queued before it (GET a sees INCR's 2, DEL b sees SET b)",
    );
    assert_eq!(
        db.get(b"a").unwrap(),
        Some(b("2")),
        "EXEC wrote INCR's value"
    );
    assert_eq!(
        db.get(b"b").unwrap(),
        None,
        "EXEC wrote the DEL after the SET"
    );
    c.expect(
        &["GET", "a"],
        "$1\r\n2\r\n",
        "after EXEC commands run again at once",
    );
}

#[test]
fn exec_without_multi_nested_multi_and_discard_are_redis_shaped() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["EXEC"],
        "-ERR EXEC without MULTI\r\n",
        "EXEC outside a transaction",
    );
    c.expect(
        &["DISCARD"],
        "-ERR DISCARD without MULTI\r\n",
        "DISCARD outside a transaction",
    );
    c.expect(&["MULTI"], "+OK\r\n", "MULTI");
    c.expect(
        &["MULTI"],
        "-ERR MULTI calls can not be nested\r\n",
        "a nested MULTI is an error",
    );
    c.expect(
        &["SET", "k", "v"],
        "+QUEUED\r\n",
        "still in the transaction",
    );
    c.expect(&["DISCARD"], "+OK\r\n", "DISCARD drops the queue");
    assert_eq!(
        db.get(b"k").unwrap(),
        None,
        "a discarded transaction writes nothing"
    );
    c.expect(
        &["EXEC"],
        "-ERR EXEC without MULTI\r\n",
        "DISCARD ended the transaction",
    );
}

#[test]
fn exec_after_a_refused_command_discards_the_whole_transaction() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.run(&["MULTI"]);
    c.expect(&["SET", "k", "v"], "+QUEUED\r\n", "queued");
    c.expect(
        &["GET"],
        "-ERR wrong number of arguments for 'get' command\r\n",
        "arity is checked when queuing",
    );
    c.expect(
        &["EXEC"],
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
        "a command refused while queuing aborts the transaction",
    );
    assert_eq!(
        db.get(b"k").unwrap(),
        None,
        "an aborted transaction writes nothing"
    );
    c.expect(
        &["GET", "k"],
        "$-1\r\n",
        "after EXECABORT the session is out of the transaction",
    );
}

#[test]
fn scan_visits_every_key_once_with_match_and_count() {
    let db = open_db();
    let mut c = Client::new(&db);
    for i in 0..25 {
        c.run(&["SET", &format!("key:{i:02}"), "v"]);
    }
    c.run(&["SET", "other", "v"]);
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    for round in 0.. {
        assert!(
            round < 100,
            "SCAN never returned cursor 0: does the last page say 0?"
        );
        let reply = c.run(&["SCAN", &cursor, "MATCH", "key:*", "COUNT", "7"]);
        let (next, keys) = decode_scan(&reply);
        assert!(
            keys.len() <= 7,
            "COUNT 7 examines at most 7 keys per call, got {}",
            keys.len()
        );
        seen.extend(keys);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let expected: Vec<String> = (0..25).map(|i| format!("key:{i:02}")).collect();
    assert_eq!(
        seen, expected,
        "SCAN with MATCH key:* must return every matching key once, in key order, and not 'other'"
    );
    c.expect(
        &["SCAN", "12345"],
        "-ERR invalid cursor\r\n",
        "a cursor this session never got",
    );
    c.expect(
        &["SCAN", "x"],
        "-ERR invalid cursor\r\n",
        "a cursor that is not a number",
    );
}

/// `SCAN`'s reply: the next cursor and the keys.
fn decode_scan(reply: &[u8]) -> (String, Vec<String>) {
    // An array of a bulk cursor and an array of bulk keys, read line by
    // line (not with the chapter's own code).
    let mut pos = 0;
    let line = |pos: &mut usize| -> String {
        let end = reply[*pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| *pos + i)
            .unwrap_or_else(|| panic!("a SCAN reply ends every line in \\r\\n: {}", show(reply)));
        let text = String::from_utf8_lossy(&reply[*pos..end]).into_owned();
        *pos = end + 2;
        text
    };
    assert_eq!(
        line(&mut pos),
        "*2",
        "SCAN replies with [cursor, keys]: {}",
        show(reply)
    );
    let _len = line(&mut pos);
    let cursor = line(&mut pos);
    let count: usize = line(&mut pos)
        .trim_start_matches('*')
        .parse()
        .unwrap_or_else(|_| panic!("SCAN's second element is an array of keys: {}", show(reply)));
    let mut keys = Vec::new();
    for _ in 0..count {
        let _len = line(&mut pos);
        keys.push(line(&mut pos));
    }
    (cursor, keys)
}

#[test]
fn dbsize_counts_live_keys_also_inside_a_transaction() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(&["DBSIZE"], ":0\r\n", "an empty database");
    c.run(&["MSET", "a", "1", "b", "2", "c", "3"]);
    c.run(&["SET", "a", "again"]);
    c.run(&["DEL", "b"]);
    c.expect(
        &["DBSIZE"],
        ":2\r\n",
        "overwrites count once and deleted keys not at all",
    );
    c.run(&["MULTI"]);
    c.run(&["SET", "d", "4"]);
    c.run(&["DEL", "a"]);
    c.run(&["DBSIZE"]);
    c.expect(
        &["EXEC"],
        "*3\r\n+OK\r\n:1\r\n:2\r\n",
        "DBSIZE inside EXEC counts the queued writes before it",
    );
}

#[test]
fn get_asof_reads_the_value_a_key_had_at_a_time() {
    const SECOND: u64 = 1_000_000;
    let fs = SimFs::new();
    let clock = SimClock::at(1_700_000_000 * SECOND);
    let options = Options {
        clock: Arc::new(clock.clone()),
        ..sim_options(&fs, 1 << 20)
    };
    let db = open_with_timeline(
        dir(),
        options,
        TimelineOptions {
            resolution_micros: SECOND,
            retention_micros: 3600 * SECOND,
        },
    )
    .expect("a database with a timeline opens");
    let mut c = Client::new(&db);
    c.run(&["SET", "k", "old"]);
    let then_ms = (1_700_000_000 * SECOND + 5 * SECOND) / 1000;
    clock.advance(10 * SECOND);
    c.run(&["SET", "k", "new"]);
    c.expect(
        &["GET", "k", "ASOF", &then_ms.to_string()],
        "$3\r\nold\r\n",
        "GET ASOF unix-ms reads chapter 9's get_as_of (milliseconds x 1000)",
    );
    c.expect(
        &["GET", "k"],
        "$3\r\nnew\r\n",
        "GET without ASOF reads the newest",
    );
    c.expect(
        &["GET", "k", "asof", "soon"],
        "-ERR value is not an integer or out of range\r\n",
        "ASOF needs an integer",
    );
    c.expect(
        &["GET", "k", "ASOF"],
        "-ERR syntax error\r\n",
        "ASOF without a time",
    );
    let engine_error = db
        .get_as_of(b"k", 1000 * 1000)
        .expect_err("a time before the timeline's window is chapter 9's error");
    c.expect(
        &["GET", "k", "ASOF", "1000"],
        &format!("-ERR {engine_error}\r\n"),
        "a time before the history: -ERR and the engine's message, which says where the window starts",
    );
}

#[test]
fn connection_commands_answer_as_redis_cli_and_redis_benchmark_expect() {
    let db = open_db();
    let mut c = Client::new(&db);
    c.expect(
        &["CONFIG", "GET", "save"],
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
        "redis-benchmark asks CONFIG GET save",
    );
    c.expect(
        &["CONFIG", "GET", "appendonly"],
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
        "and CONFIG GET appendonly",
    );
    c.expect(
        &["CONFIG", "GET", "maxmemory"],
        "*0\r\n",
        "any other parameter: an empty array",
    );
    c.expect(
        &["COMMAND"],
        "*0\r\n",
        "COMMAND: an empty array, so redis-cli starts",
    );
    c.expect(
        &["COMMAND", "DOCS"],
        "*0\r\n",
        "COMMAND DOCS: an empty array",
    );
    c.expect(&["COMMAND", "COUNT"], ":0\r\n", "COMMAND COUNT: 0");
    c.expect(&["CLIENT", "GETNAME"], "$-1\r\n", "no name yet");
    c.expect(&["CLIENT", "SETNAME", "me"], "+OK\r\n", "CLIENT SETNAME");
    c.expect(&["CLIENT", "GETNAME"], "$2\r\nme\r\n", "the name set");
    c.expect(
        &["CLIENT", "SETINFO", "lib-name", "redis-rs"],
        "+OK\r\n",
        "CLIENT SETINFO, as client libraries send",
    );
    c.expect(
        &["HELLO", "3"],
        "-NOPROTO sorry, this protocol version is not supported.\r\n",
        "only RESP2 is spoken",
    );
    c.expect(
        &["HELLO", "2"],
        concat!(
            "*12\r\n",
            "$6\r\nserver\r\n$5\r\nredis\r\n",
            "$7\r\nversion\r\n$5\r\n7.0.0\r\n",
            "$5\r\nproto\r\n:2\r\n",
            "$4\r\nmode\r\n$10\r\nstandalone\r\n",
            "$4\r\nrole\r\n$6\r\nmaster\r\n",
            "$7\r\nmodules\r\n*0\r\n",
        ),
        "HELLO 2: RESP2's form of Redis's map, the pairs of book §11.3 in order",
    );
    let info = c.run(&["INFO"]);
    let text = String::from_utf8_lossy(&info);
    assert!(
        info.starts_with(b"$") && text.contains("# Server\r\n") && text.contains("\r\nlast_seq:"),
        "INFO is a bulk string of # Section and key:value lines with DbStats, got {}",
        show(&info)
    );
    let (bytes, closed) = c.outcome(&["QUIT"]);
    assert_eq!(
        (show(&bytes), closed),
        (show(b"+OK\r\n"), true),
        "QUIT answers +OK and closes the connection"
    );
}

// ------------------------------------------------------- crash sweep

/// One step of the transaction workload: a synced MSET, then MULTI /
/// writes / EXEC transactions.
#[derive(Clone, Copy, Debug)]
enum TxStep {
    Setup,
    Transaction { tag: u32 },
}

const TX_KEYS: u32 = 5;

fn tx_key(i: u32) -> String {
    format!("key{i}")
}

impl TxStep {
    /// The requests of the step (without MULTI/EXEC).
    fn requests(self) -> Vec<Vec<String>> {
        match self {
            TxStep::Setup => {
                let mut mset = vec!["MSET".to_string()];
                for i in 0..TX_KEYS {
                    mset.push(tx_key(i));
                    mset.push("v0".into());
                }
                vec![mset]
            }
            TxStep::Transaction { tag } => {
                let mut requests = Vec::new();
                for i in 0..TX_KEYS {
                    if i == tag % TX_KEYS {
                        requests.push(vec!["DEL".into(), tx_key(i)]);
                    } else {
                        requests.push(vec![
                            "SET".into(),
                            tx_key(i),
                            format!("t{tag}-{}", "x".repeat(40)),
                        ]);
                    }
                }
                requests.push(vec!["INCR".into(), "count".into()]);
                requests
            }
        }
    }

    fn apply(self, model: &mut BTreeMap<String, String>) {
        for request in self.requests() {
            match request[0].as_str() {
                "MSET" => {
                    for pair in request[1..].chunks(2) {
                        model.insert(pair[0].clone(), pair[1].clone());
                    }
                }
                "SET" => {
                    model.insert(request[1].clone(), request[2].clone());
                }
                "DEL" => {
                    model.remove(&request[1]);
                }
                _ => {
                    let n: i64 = model.get("count").map_or(0, |v| v.parse().unwrap());
                    model.insert("count".into(), (n + 1).to_string());
                }
            }
        }
    }

    /// Runs the step; `false` once the database refused (the file system
    /// stopped).
    fn run(self, client: &mut Client<'_>) -> bool {
        let requests = self.requests();
        fn as_strs(request: &[String]) -> Vec<&str> {
            request.iter().map(String::as_str).collect()
        }
        match self {
            TxStep::Setup => client.run(&as_strs(&requests[0])) == b"+OK\r\n",
            TxStep::Transaction { .. } => {
                client.run(&["MULTI"]);
                for request in &requests {
                    client.run(&as_strs(request));
                }
                client.run(&["EXEC"]).starts_with(b"*")
            }
        }
    }
}

fn tx_workload() -> Vec<TxStep> {
    let mut steps = vec![TxStep::Setup];
    steps.extend((1..=6).map(|tag| TxStep::Transaction { tag }));
    steps
}

fn tx_options(fs: &SimFs) -> Options {
    Options {
        compaction: Some(Arc::new(Leveled {
            options: LeveledOptions {
                level0_trigger: 2,
                level1_target_bytes: 600,
                level_size_factor: 2,
                table_target_bytes: 400,
            },
        })),
        ..sim_options(fs, 400)
    }
}

/// Runs the workload until the database refuses; the steps acknowledged.
fn run_tx_steps(fs: &SimFs, steps: &[TxStep]) -> usize {
    let Ok(db) = Db::open(dir(), tx_options(fs)) else {
        return 0;
    };
    let config = ServerConfig {
        write_options: WriteOptions { sync: true },
        ..ServerConfig::default()
    };
    let mut client = Client::with_config(&db, config);
    steps
        .iter()
        .take_while(|step| step.run(&mut client))
        .count()
}

// The crash sweep: stop the file system after each of its operations while
// a client runs synced MULTI/EXEC transactions (tiny memtables: they flush
// and compact), build each of the four crash images, reopen: the database
// must hold the state after a prefix of the steps, each transaction all
// there or not at all, with every acknowledged one.
#[test]
fn exec_is_all_or_nothing_under_a_crash_sweep() {
    let steps = tx_workload();
    let mut states = vec![BTreeMap::new()];
    for step in &steps {
        let mut model = states[states.len() - 1].clone();
        step.apply(&mut model);
        states.push(model);
    }
    let dry_run = SimFs::new();
    assert_eq!(
        run_tx_steps(&dry_run, &steps),
        steps.len(),
        "without a crash every transaction of the workload must succeed"
    );
    for point in CrashPoint::sweep(dry_run.op_count(), 0x11) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let acked = run_tx_steps(&fs, &steps);
        let image = fs.crash(point.mode);
        let high = (acked + 1).min(steps.len());
        let db = Db::open(dir(), tx_options(&image))
            .unwrap_or_else(|e| panic!("reopening after the crash failed at {point}: {e}"));
        let got: BTreeMap<String, String> = db
            .scan(..)
            .map(|pair| {
                let (k, v) = pair.unwrap();
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        assert!(
            (acked..=high).any(|k| states[k] == got),
            "after a crash at {point} ({acked} steps acknowledged, synced) the database is not \
             the state after k steps, {acked} <= k <= {high}: it holds {} keys, count = {:?}. \
             EXEC must write the whole queue as ONE batch (one Db::write_with), never a write \
             per command",
            got.len(),
            got.get("count"),
        );
    }
}
