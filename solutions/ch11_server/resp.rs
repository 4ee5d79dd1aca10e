//! The request side of RESP2, the Redis protocol: a client sends each
//! command either as an array of bulk strings or as one inline line.
//!
//! ```text
//!   array:   *2\r\n $3\r\n GET\r\n $1\r\n a\r\n      (what redis-cli sends)
//!            │       │     │        └ the bytes, then \r\n
//!            │       │     └ exactly 3 bytes of data (binary-safe)
//!            │       └ '$' and the bulk length
//!            └ '*' and the element count
//!   inline:  GET a\r\n    or    SET k "two words"\n  (what telnet sends)
//! ```
//!
//! You write [`parse_request`] (task 1) and [`RequestReader`]'s `feed` and
//! `next` (task 2). Book: "11. The server", §11.4.
//!
//! Trust boundary: every byte here comes from the network. A length is a
//! claim, checked against [`Limits`] before anything depends on it, and
//! never used to reserve memory: a 6-byte `$99999\r\n` must not allocate
//! 99,999 bytes. The parser never panics, and what it says about a prefix
//! of the bytes stays true of the whole: `Incomplete` means "the request
//! may still be valid", an error or a request is final.

use bytes::Bytes;
// BEGIN SOLUTION hide
use bytes::{Buf, BytesMut};
// END SOLUTION

/// How much a client may ask the server to hold. Every limit is checked
/// before the bytes it describes are buffered or copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string (Redis's `proto-max-bulk-len` is 512 MiB;
    /// ours is smaller).
    pub max_bulk_bytes: usize,
    /// The most elements in one request array.
    pub max_array_len: usize,
    /// The longest inline line, without its `\n` (Redis's
    /// `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_bytes: usize,
    /// The most bytes a [`RequestReader`] holds that it has not yet
    /// parsed (Redis's `client-query-buffer-limit`).
    pub max_buffered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_bytes: 8 << 20,
            max_array_len: 1 << 20,
            max_inline_bytes: 64 << 10,
            max_buffered_bytes: 16 << 20,
        }
    }
}

/// What [`parse_request`] found at the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet: read more bytes and ask again.
    Incomplete,
    /// A whole request: its arguments (the command name first) and how
    /// many bytes of the buffer it took. `args` is empty for a request
    /// Redis skips (an empty inline line, `*0\r\n`, `*-1\r\n`): drop the
    /// `consumed` bytes and go on.
    Request {
        /// The command and its arguments.
        args: Vec<Bytes>,
        /// The request's length in bytes.
        consumed: usize,
    },
}

/// A request the server cannot parse: the connection is answered with
/// the error (its `Display` is Redis's message) and closed, since the
/// bytes after it cannot be trusted to start a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*` not followed by a decimal count, or a count above
    /// [`Limits::max_array_len`].
    InvalidMultibulkLength,
    /// `$` not followed by a decimal length, a negative length, or one
    /// above [`Limits::max_bulk_bytes`].
    InvalidBulkLength,
    /// An array element that does not start with `$`.
    ExpectedDollar {
        /// The byte found instead.
        found: u8,
    },
    /// A bulk string's data not followed by `\r\n`: its length was wrong.
    ExpectedCrlf,
    /// An inline line longer than [`Limits::max_inline_bytes`].
    TooBigInlineRequest,
    /// An inline line with a quote that never closes, or a closing quote
    /// followed by something other than whitespace or the end of the line.
    UnbalancedQuotes,
    /// More unparsed bytes than [`Limits::max_buffered_bytes`].
    BufferFull {
        /// The bytes the reader would hold.
        buffered_bytes: usize,
        /// The limit.
        limit_bytes: usize,
    },
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => {
                write!(f, "Protocol error: invalid multibulk length")
            }
            ProtocolError::InvalidBulkLength => write!(f, "Protocol error: invalid bulk length"),
            ProtocolError::ExpectedDollar { found } => {
                write!(f, "Protocol error: expected '$', got '{}'", *found as char)
            }
            ProtocolError::ExpectedCrlf => {
                write!(f, "Protocol error: expected '\\r\\n' after bulk data")
            }
            ProtocolError::TooBigInlineRequest => {
                write!(f, "Protocol error: too big inline request")
            }
            ProtocolError::UnbalancedQuotes => {
                write!(f, "Protocol error: unbalanced quotes in request")
            }
            ProtocolError::BufferFull {
                buffered_bytes,
                limit_bytes,
            } => write!(
                f,
                "Protocol error: query buffer of {buffered_bytes} bytes is over the limit of \
                 {limit_bytes} bytes"
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The longest valid length line after `*` or `$`: `-9223372036854775808`
/// is 20 characters, so a line without `\r\n` after 32 bytes can never
/// become a valid length (and the parser need not wait for it).
pub const LENGTH_LINE_MAX_BYTES: usize = 32;

/// A decimal `i64` as Redis's `string2ll` reads one: an optional `-`,
/// digits, no `+`, no spaces, no leading zeros (but `0` itself).
pub fn parse_decimal(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(byte - b'0');
        // Accumulate negatively: i64::MIN has no positive counterpart.
        value = value.checked_mul(10)?.checked_sub(digit)?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

// ANCHOR: ch11_parse_request
/// Parses the request at the start of `buf`: an array of bulk strings if
/// it starts with `*`, otherwise an inline line. Stateless: called again
/// with more bytes, it starts again from the beginning.
///
/// Never allocates for a length it has not seen the bytes of: the
/// arguments are copied only once the whole request is in `buf`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    // BEGIN SOLUTION todo(buf, limits): an array of bulk strings or an inline line, or Incomplete — book §11.4, task 1
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_multibulk(buf, limits),
        Some(_) => parse_inline(buf, limits),
    }
    // END SOLUTION
}
// ANCHOR_END: ch11_parse_request

// BEGIN SOLUTION hide
/// An array request. Walks it once without allocating to learn whether it
/// is complete, then again to copy the arguments, so memory follows the
/// bytes present and never a declared count or length.
fn parse_multibulk(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let Some(consumed) = walk_multibulk(buf, limits, |_| {})? else {
        return Ok(Parsed::Incomplete);
    };
    let mut count = 0;
    walk_multibulk(buf, limits, |_| count += 1)?;
    let mut args = Vec::with_capacity(count);
    walk_multibulk(buf, limits, |arg| args.push(Bytes::copy_from_slice(arg)))?;
    Ok(Parsed::Request { args, consumed })
}

/// Calls `on_arg` with each bulk string of the array at the start of
/// `buf`; `Some(consumed)` once the whole array is there.
fn walk_multibulk(
    buf: &[u8],
    limits: &Limits,
    mut on_arg: impl FnMut(&[u8]),
) -> Result<Option<usize>, ProtocolError> {
    let Some((count, mut pos)) = length_line(buf, 1, ProtocolError::InvalidMultibulkLength)? else {
        return Ok(None);
    };
    // Redis skips an empty or null array; a count above the limit is
    // refused before any element is looked at.
    if count <= 0 {
        return Ok(Some(pos));
    }
    if count as u64 > limits.max_array_len as u64 {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    for _ in 0..count {
        let Some(&first) = buf.get(pos) else {
            return Ok(None);
        };
        if first != b'$' {
            return Err(ProtocolError::ExpectedDollar { found: first });
        }
        let Some((len, data_start)) = length_line(buf, pos + 1, ProtocolError::InvalidBulkLength)?
        else {
            return Ok(None);
        };
        let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
        if len > limits.max_bulk_bytes {
            return Err(ProtocolError::InvalidBulkLength);
        }
        let data_end = data_start + len;
        // The data and its \r\n: wait for both, then check the \r\n byte
        // by byte, so a prefix never reports what the whole would not.
        for (offset, expected) in [(0, b'\r'), (1, b'\n')] {
            match buf.get(data_end + offset) {
                None => return Ok(None),
                Some(&byte) if byte != expected => return Err(ProtocolError::ExpectedCrlf),
                Some(_) => {}
            }
        }
        on_arg(&buf[data_start..data_end]);
        pos = data_end + 2;
    }
    Ok(Some(pos))
}

/// The decimal number on the line that starts at `start` (after `*` or
/// `$`) and the offset after its `\r\n`; `None` if the line is not all
/// there. A line that is not a number, or too long to be one, is `error`.
fn length_line(
    buf: &[u8],
    start: usize,
    error: ProtocolError,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let rest = buf.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(LENGTH_LINE_MAX_BYTES + 1)];
    let Some(cr) = window.iter().position(|&byte| byte == b'\r') else {
        return if window.len() > LENGTH_LINE_MAX_BYTES {
            Err(error)
        } else {
            Ok(None)
        };
    };
    match rest.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(error),
    }
    let number = parse_decimal(&rest[..cr]).ok_or(error)?;
    Ok(Some((number, start + cr + 2)))
}

/// An inline request: one line ending in `\n` (a `\r` before it is
/// dropped), split into arguments as `redis-cli` would quote them.
fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let window = &buf[..buf.len().min(limits.max_inline_bytes.saturating_add(1))];
    let Some(newline) = window.iter().position(|&byte| byte == b'\n') else {
        return if window.len() > limits.max_inline_bytes {
            Err(ProtocolError::TooBigInlineRequest)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = &buf[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    Ok(Parsed::Request {
        args,
        consumed: newline + 1,
    })
}

/// Splits a line as Redis's `sdssplitargs`: arguments separated by
/// whitespace; `"…"` with the escapes `\" \\ \n \r \t \b \a \xHH`
/// (any other `\c` is `c`); `'…'` with only `\'`. A closing quote must
/// be followed by whitespace or the end. `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while line.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        if pos >= line.len() {
            return Some(args);
        }
        let (arg, next) = split_one(line, pos)?;
        args.push(Bytes::from(arg));
        pos = next;
    }
}

/// One argument starting at `pos` (not whitespace) and where it ends.
fn split_one(line: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut arg = Vec::new();
    let mut quote: Option<u8> = None;
    loop {
        let byte = line.get(pos).copied();
        match (quote, byte) {
            (None, None) => return Some((arg, pos)),
            (None, Some(c)) if c.is_ascii_whitespace() => return Some((arg, pos)),
            (None, Some(c @ (b'"' | b'\''))) => quote = Some(c),
            (None, Some(c)) => arg.push(c),
            (Some(_), None) => return None,
            (Some(q), Some(c)) if c == q => {
                // The closing quote must end the argument.
                if line.get(pos + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return None;
                }
                return Some((arg, pos + 1));
            }
            (Some(b'"'), Some(b'\\')) => {
                let (byte, len) = unescape(line.get(pos + 1..).unwrap_or_default())?;
                arg.push(byte);
                pos += len;
            }
            (Some(b'\''), Some(b'\\')) if line.get(pos + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                pos += 1;
            }
            (Some(_), Some(c)) => arg.push(c),
        }
        pos += 1;
    }
}

/// The byte an escape inside `"…"` stands for (`after` starts just after
/// the backslash) and how many bytes after the backslash it took.
/// `None` if the line ends right after the backslash.
fn unescape(after: &[u8]) -> Option<(u8, usize)> {
    let hex = |byte: u8| (byte as char).to_digit(16);
    if let [b'x', high, low, ..] = after
        && let (Some(high), Some(low)) = (hex(*high), hex(*low))
    {
        return Some(((high * 16 + low) as u8, 3));
    }
    let byte = match after.first()? {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => *other,
    };
    Some((byte, 1))
}
// END SOLUTION

/// A connection's unparsed bytes: feed it what the socket gives, then take
/// every complete request out with [`next`](RequestReader::next) until it
/// says `None` — a client may send many requests in one write
/// (pipelining) or one request over many.
#[derive(Debug, Default)]
pub struct RequestReader {
    // BEGIN SOLUTION hide: the unparsed bytes and the limits — book §11.4, task 2
    buf: BytesMut,
    limits: Limits,
    // END SOLUTION
}

impl RequestReader {
    /// A reader with nothing buffered.
    pub fn new(limits: Limits) -> RequestReader {
        // BEGIN SOLUTION todo(limits): an empty buffer and these limits — book §11.4, task 2
        RequestReader {
            buf: BytesMut::new(),
            limits,
        }
        // END SOLUTION
    }

    // ANCHOR: ch11_reader
    /// Appends `bytes` to the unparsed bytes; refuses (buffering nothing)
    /// if that would hold more than [`Limits::max_buffered_bytes`].
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        // BEGIN SOLUTION todo(self, bytes): append, unless it would pass max_buffered_bytes — book §11.4, task 2
        let buffered_bytes = self.buf.len().saturating_add(bytes.len());
        if buffered_bytes > self.limits.max_buffered_bytes {
            return Err(ProtocolError::BufferFull {
                buffered_bytes,
                limit_bytes: self.limits.max_buffered_bytes,
            });
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
        // END SOLUTION
    }

    /// The next complete request's arguments, `None` if the bytes so far
    /// do not hold one. Requests Redis skips (empty lines, empty arrays)
    /// are dropped here and never returned. After an error the reader's
    /// bytes are not a request stream any more: close the connection.
    #[expect(
        clippy::should_implement_trait,
        reason = "a fallible next, called until it returns Ok(None)"
    )]
    pub fn next(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        // BEGIN SOLUTION todo(self): parse at the start of the buffer; drop what a request consumed — book §11.4, task 2
        loop {
            match parse_request(&self.buf, &self.limits)? {
                Parsed::Incomplete => return Ok(None),
                Parsed::Request { args, consumed } => {
                    self.buf.advance(consumed);
                    if !args.is_empty() {
                        return Ok(Some(args));
                    }
                }
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch11_reader

    /// How many bytes are buffered and not yet parsed.
    pub fn buffered_len(&self) -> usize {
        // BEGIN SOLUTION todo(self): the unparsed bytes' length — book §11.4, task 2
        self.buf.len()
        // END SOLUTION
    }
}
