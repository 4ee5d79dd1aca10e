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

/// Parses the request at the start of `buf`: an array of bulk strings if
/// it starts with `*`, otherwise an inline line. Stateless: called again
/// with more bytes, it starts again from the beginning.
///
/// Never allocates for a length it has not seen the bytes of: the
/// arguments are copied only once the whole request is in `buf`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let _ = (buf, limits);
    todo!("ch11: an array of bulk strings or an inline line, or Incomplete — book §11.4, task 1")
}

/// A connection's unparsed bytes: feed it what the socket gives, then take
/// every complete request out with [`next`](RequestReader::next) until it
/// says `None` — a client may send many requests in one write
/// (pipelining) or one request over many.
#[derive(Debug, Default)]
pub struct RequestReader {
    // TODO(ch11): the unparsed bytes and the limits — book §11.4, task 2
}

impl RequestReader {
    /// A reader with nothing buffered.
    pub fn new(limits: Limits) -> RequestReader {
        let _ = limits;
        todo!("ch11: an empty buffer and these limits — book §11.4, task 2")
    }

    /// Appends `bytes` to the unparsed bytes; refuses (buffering nothing)
    /// if that would hold more than [`Limits::max_buffered_bytes`].
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let _ = (self, bytes);
        todo!("ch11: append, unless it would pass max_buffered_bytes — book §11.4, task 2")
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
        let _ = self;
        todo!(
            "ch11: parse at the start of the buffer; drop what a request consumed — book §11.4, task 2"
        )
    }

    /// How many bytes are buffered and not yet parsed.
    pub fn buffered_len(&self) -> usize {
        let _ = self;
        todo!("ch11: the unparsed bytes' length — book §11.4, task 2")
    }
}
