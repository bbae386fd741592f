//! Request parsing: RESP multibulk arrays and inline commands.
//!
//! The parser is resumable. Given the unconsumed bytes of a connection's read buffer it either
//! returns a complete [`Request`] (arguments as ranges into those bytes), asks for more bytes, or
//! fails with the protocol error Valkey sends for the same input. A multibulk command that arrives
//! in pieces is not re-scanned from its start each time: the parser remembers how far it got,
//! relative to the start of the command, so the caller may move the unconsumed bytes to the front
//! of its buffer between calls.

/// The longest inline command line, and the longest `*<count>` or `$<len>` header line, Valkey
/// accepts before it gives up on finding the end of the line.
pub const INLINE_MAX_BYTES: usize = 64 * 1024;

/// Before a client authenticates, Valkey allows at most this many arguments per command ...
pub const UNAUTHENTICATED_ARGS_MAX: i64 = 10;
/// ... and at most this many bytes per argument.
pub const UNAUTHENTICATED_BULK_BYTES_MAX: i64 = 16 * 1024;

/// The limits the parser enforces, read from the server's configuration on every call.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub bulk_bytes_max: i64,
    /// Whether the connection still has to authenticate (tighter limits apply).
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            bulk_bytes_max: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// A protocol error. The text is the error line as sent, without the leading `-` and the CRLF.
/// After sending it the server closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub Vec<u8>);

impl ParseError {
    fn new(text: &str) -> Self {
        ParseError(format!("ERR Protocol error: {text}").into_bytes())
    }
}

/// What one call to [`Parser::parse`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command of this many bytes; [`Parser::request`] gives its arguments. A command
    /// with no arguments (an empty line, `*0`, `*-1`) is reported with zero arguments and is to be
    /// skipped by the caller.
    Command { consumed: usize },
    /// More bytes are needed. `buffer_bytes_hint` is how many bytes the caller's unconsumed input
    /// must hold for the command to complete, when known (it lets the caller grow its buffer once
    /// for a large argument instead of many times).
    Incomplete { buffer_bytes_hint: usize },
}

/// Where the arguments of the last parsed request live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgSource {
    /// Ranges into the caller's input (multibulk).
    Input,
    /// Ranges into the parser's own scratch buffer (inline commands, after unquoting).
    Scratch,
}

/// Resumable state of a multibulk command being received.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Arguments still to read.
    args_remaining: usize,
    /// Offset from the command start where the next `$<len>` header begins.
    offset: usize,
}

/// A resumable request parser; one per connection.
#[derive(Debug)]
pub struct Parser {
    ranges: Vec<(u32, u32)>,
    scratch: Vec<u8>,
    source: ArgSource,
    pending: Option<Pending>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

/// The arguments of one parsed command. Borrowing, allocation-free view.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    data: &'a [u8],
    ranges: &'a [(u32, u32)],
}

impl<'a> Request<'a> {
    /// Builds a request from arguments laid out in `data` at `ranges` (`(start, end)` pairs).
    pub fn new(data: &'a [u8], ranges: &'a [(u32, u32)]) -> Self {
        Request { data, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `index`. Panics when out of range: callers index only below `len()`, which the
    /// command table's arity check guarantees.
    #[inline]
    pub fn arg(&self, index: usize) -> &'a [u8] {
        let (start, end) = self.ranges[index];
        &self.data[start as usize..end as usize]
    }

    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        (index < self.ranges.len()).then(|| self.arg(index))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        self.ranges
            .iter()
            .map(|&(start, end)| &self.data[start as usize..end as usize])
    }

    /// The first `count` arguments (at most all), as a new view.
    pub fn head(&self, count: usize) -> Request<'a> {
        Request {
            data: self.data,
            ranges: &self.ranges[..count.min(self.ranges.len())],
        }
    }

    /// Arguments from `start` on, as a new view.
    pub fn tail(&self, start: usize) -> Request<'a> {
        Request {
            data: self.data,
            ranges: &self.ranges[start.min(self.ranges.len())..],
        }
    }
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            ranges: Vec::with_capacity(8),
            scratch: Vec::new(),
            source: ArgSource::Input,
            pending: None,
        }
    }

    /// Whether a command has been partly received.
    pub fn is_mid_command(&self) -> bool {
        self.pending.is_some()
    }

    /// The arguments of the command the last `parse` returned as complete. `input` must be the
    /// same bytes that were given to `parse`.
    pub fn request<'a>(&'a self, input: &'a [u8]) -> Request<'a> {
        let data = match self.source {
            ArgSource::Input => input,
            ArgSource::Scratch => &self.scratch[..],
        };
        Request {
            data,
            ranges: &self.ranges,
        }
    }

    /// Parses the command at the start of `input`.
    pub fn parse(&mut self, input: &[u8], limits: ParseLimits) -> Result<Parsed, ParseError> {
        if input.is_empty() {
            return Ok(Parsed::Incomplete {
                buffer_bytes_hint: 0,
            });
        }
        if input[0] == b'*' {
            self.parse_multibulk(input, limits)
        } else {
            self.parse_inline(input)
        }
    }

    fn parse_multibulk(&mut self, input: &[u8], limits: ParseLimits) -> Result<Parsed, ParseError> {
        let mut pending = match self.pending {
            Some(pending) => pending,
            None => {
                let Some(line_end) = find_crlf(input, 1) else {
                    return incomplete_or(input, "too big mbulk count string");
                };
                let count = parse_strict_i64(&input[1..line_end]);
                let count = match count {
                    Some(count) if count <= i32::MAX as i64 => count,
                    _ => return Err(ParseError::new("invalid multibulk length")),
                };
                if count > UNAUTHENTICATED_ARGS_MAX && limits.unauthenticated {
                    return Err(ParseError::new("unauthenticated multibulk length"));
                }
                self.source = ArgSource::Input;
                self.ranges.clear();
                if count <= 0 {
                    return Ok(Parsed::Command {
                        consumed: line_end + 2,
                    });
                }
                // Reserve for the announced count, but not blindly: a hostile `*2000000000`
                // must not allocate before any argument has arrived.
                self.ranges.reserve((count as usize).min(1024));
                Pending {
                    args_remaining: count as usize,
                    offset: line_end + 2,
                }
            }
        };
        while pending.args_remaining > 0 {
            let header = pending.offset;
            if header >= input.len() {
                self.pending = Some(pending);
                return Ok(Parsed::Incomplete {
                    buffer_bytes_hint: 0,
                });
            }
            // The header ends at the first CR from its own first byte on: `*1\r\n\r\n` is a
            // header that is missing its `$`.
            let Some(line_end) = find_crlf(input, header) else {
                self.pending = Some(pending);
                if input.len() - header > INLINE_MAX_BYTES {
                    return Err(ParseError::new("too big bulk count string"));
                }
                return Ok(Parsed::Incomplete {
                    buffer_bytes_hint: 0,
                });
            };
            if input[header] != b'$' {
                let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
                text.push(input[header]);
                text.push(b'\'');
                return Err(ParseError(text));
            }
            let bulk_len = match parse_strict_i64(&input[header + 1..line_end]) {
                Some(len) if len >= 0 && len <= limits.bulk_bytes_max => len,
                _ => return Err(ParseError::new("invalid bulk length")),
            };
            if bulk_len > UNAUTHENTICATED_BULK_BYTES_MAX && limits.unauthenticated {
                return Err(ParseError::new("unauthenticated bulk length"));
            }
            let data_start = line_end + 2;
            let data_end = data_start + bulk_len as usize;
            if input.len() < data_end + 2 {
                self.pending = Some(pending);
                return Ok(Parsed::Incomplete {
                    buffer_bytes_hint: data_end + 2,
                });
            }
            if &input[data_end..data_end + 2] != b"\r\n" {
                return Err(ParseError::new("invalid CRLF in request"));
            }
            if data_end > u32::MAX as usize {
                // Commands are bounded by `client-query-buffer-limit` long before this.
                return Err(ParseError::new("invalid bulk length"));
            }
            self.ranges.push((data_start as u32, data_end as u32));
            pending.args_remaining -= 1;
            pending.offset = data_end + 2;
        }
        self.pending = None;
        Ok(Parsed::Command {
            consumed: pending.offset,
        })
    }

    fn parse_inline(&mut self, input: &[u8]) -> Result<Parsed, ParseError> {
        // The line ends at the first newline. A NUL byte before it hides the newline, as it does
        // for Valkey, whose inline parser treats the buffer as a C string.
        let Some(newline) = input.iter().position(|&b| b == b'\n' || b == 0) else {
            return incomplete_or(input, "too big inline request");
        };
        if input[newline] == 0 {
            return incomplete_or(input, "too big inline request");
        }
        let mut line = &input[..newline];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        self.source = ArgSource::Scratch;
        self.ranges.clear();
        self.scratch.clear();
        if split_inline(line, &mut self.scratch, &mut self.ranges).is_err() {
            return Err(ParseError::new("unbalanced quotes in request"));
        }
        Ok(Parsed::Command {
            consumed: newline + 1,
        })
    }
}

fn incomplete_or(input: &[u8], too_big: &str) -> Result<Parsed, ParseError> {
    if input.len() > INLINE_MAX_BYTES {
        Err(ParseError::new(too_big))
    } else {
        Ok(Parsed::Incomplete {
            buffer_bytes_hint: 0,
        })
    }
}

/// Position of the `\r` of the first `\r\n` at or after `from`. A header line is terminated by
/// the first `\r`; if what follows it is not `\n` the length parse fails as Valkey's does.
#[inline]
fn find_crlf(input: &[u8], from: usize) -> Option<usize> {
    let cr = from + input.get(from..)?.iter().position(|&b| b == b'\r')?;
    (cr + 1 < input.len()).then_some(cr)
}

/// Walks the complete multibulk commands at the start of `input` (at most `max_commands`) and
/// calls `visit` with each one's second argument, usually its key. Stops at the first thing that
/// is not a complete, well-formed array of bulk strings. This is a cheap look ahead for
/// prefetching; the commands are parsed for real by [`Parser`] afterwards.
pub fn peek_first_args<'a>(input: &'a [u8], max_commands: usize, mut visit: impl FnMut(&'a [u8])) {
    let mut pos = 0;
    for _ in 0..max_commands {
        let Some((count, mut cursor)) = peek_header(input, pos, b'*') else {
            return;
        };
        for index in 0..count {
            let Some((len, start)) = peek_header(input, cursor, b'$') else {
                return;
            };
            let end = start + len;
            if input.len() < end + 2 {
                return;
            }
            if index == 1 {
                visit(&input[start..end]);
            }
            cursor = end + 2;
        }
        pos = cursor;
    }
}

/// Reads `<kind><digits>\r\n` at `pos`; returns the number and the position after the line.
#[inline]
fn peek_header(input: &[u8], pos: usize, kind: u8) -> Option<(usize, usize)> {
    if *input.get(pos)? != kind {
        return None;
    }
    let mut value = 0usize;
    let mut cursor = pos + 1;
    while let Some(&digit) = input.get(cursor) {
        if digit == b'\r' {
            return (cursor > pos + 1 && input.get(cursor + 1) == Some(&b'\n'))
                .then_some((value, cursor + 2));
        }
        if !digit.is_ascii_digit() || cursor - pos > 10 {
            return None;
        }
        value = value * 10 + usize::from(digit - b'0');
        cursor += 1;
    }
    None
}

/// Valkey's strict integer syntax: optional `-`, no `+`, no leading zeros, no `-0`, no spaces,
/// at most 20 characters, within `i64`.
pub fn parse_strict_i64(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Splits a line into arguments with the inline command rules (quotes, escapes), as the config
/// file reader needs too. Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut bytes = Vec::new();
    let mut ranges = Vec::new();
    split_inline(line, &mut bytes, &mut ranges).ok()?;
    Some(
        ranges
            .iter()
            .map(|&(start, end)| bytes[start as usize..end as usize].to_vec())
            .collect(),
    )
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|value| value as u8)
}

/// Splits an inline command line into arguments, appending their bytes to `out` and their ranges
/// to `ranges`. The rules are Valkey's: arguments are separated by white space; an argument is a
/// run of unquoted, "double-quoted" and 'single-quoted' pieces; in double quotes `\xHH`, `\n`,
/// `\r`, `\t`, `\b`, `\a` and `\<any>` are escapes; in single quotes only `\'` is. A quote left
/// open is an error.
fn split_inline(line: &[u8], out: &mut Vec<u8>, ranges: &mut Vec<(u32, u32)>) -> Result<(), ()> {
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            return Ok(());
        }
        let start = out.len();
        while pos < line.len() && !is_space(line[pos]) {
            match line[pos] {
                quote @ (b'"' | b'\'') => pos = read_quoted(line, pos + 1, quote, out)?,
                byte => {
                    out.push(byte);
                    pos += 1;
                }
            }
        }
        ranges.push((start as u32, out.len() as u32));
    }
}

/// Reads a quoted piece starting after its opening quote; returns the position after the
/// closing quote.
fn read_quoted(line: &[u8], mut pos: usize, quote: u8, out: &mut Vec<u8>) -> Result<usize, ()> {
    while pos < line.len() {
        let byte = line[pos];
        let next = line.get(pos + 1).copied();
        // A backslash right before a closing quote that ends the line stays a backslash.
        let escape_ends_line = next == Some(quote) && pos + 2 == line.len();
        if byte == b'\\' && next.is_some() && !escape_ends_line {
            let next = next.unwrap_or_default();
            if quote == b'\'' {
                if next == b'\'' {
                    out.push(b'\'');
                    pos += 2;
                } else {
                    out.push(b'\\');
                    pos += 1;
                }
                continue;
            }
            if next == b'x' {
                let high = line.get(pos + 2).copied().and_then(hex_value);
                let low = line.get(pos + 3).copied().and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    pos += 4;
                    continue;
                }
            }
            out.push(match next {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 0x08,
                b'a' => 0x07,
                other => other,
            });
            pos += 2;
            continue;
        }
        if byte == quote {
            return Ok(pos + 1);
        }
        out.push(byte);
        pos += 1;
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses all of `input` as one stream; returns each command's arguments, or the error.
    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, Vec<u8>> {
        let mut parser = Parser::new();
        let mut commands = Vec::new();
        let mut pos = 0;
        loop {
            match parser.parse(&input[pos..], ParseLimits::default()) {
                Ok(Parsed::Command { consumed }) => {
                    let request = parser.request(&input[pos..]);
                    if !request.is_empty() {
                        commands.push(request.iter().map(|a| a.to_vec()).collect());
                    }
                    pos += consumed;
                }
                Ok(Parsed::Incomplete { .. }) => return Ok(commands),
                Err(ParseError(text)) => return Err(text),
            }
        }
    }

    fn check(input: &[u8], expect: &[&[&str]]) {
        let got = parse_all(input).expect("parse error");
        let want: Vec<Vec<Vec<u8>>> = expect
            .iter()
            .map(|cmd| cmd.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect();
        assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    }

    fn check_error(input: &[u8], expect: &str) {
        let got = parse_all(input).expect_err("expected a protocol error");
        assert_eq!(String::from_utf8_lossy(&got), expect);
    }

    #[test]
    fn multibulk() {
        check(b"*1\r\n$4\r\nPING\r\n", &[&["PING"]]);
        check(
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n",
            &[&["ECHO", ""], &["PING"]],
        );
        check(b"*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n", &[&["PING"]]);
        check(b"*1\r\n$4\r\nPING\n", &[]);
        check(b"*20000000\r\n", &[]);
    }

    #[test]
    fn multibulk_errors() {
        check_error(
            b"*3000000000\r\n",
            "ERR Protocol error: invalid multibulk length",
        );
        check_error(b"*abc\r\n", "ERR Protocol error: invalid multibulk length");
        check_error(b"*\r\n", "ERR Protocol error: invalid multibulk length");
        check_error(b"*+1\r\n", "ERR Protocol error: invalid multibulk length");
        check_error(b"*01\r\n", "ERR Protocol error: invalid multibulk length");
        check_error(b"*1\r\nx\r\n", "ERR Protocol error: expected '$', got 'x'");
        check_error(b"*1\r\n\r\n", "ERR Protocol error: expected '$', got '\r'");
        check_error(b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length");
        check_error(b"*1\r\n$-0\r\n", "ERR Protocol error: invalid bulk length");
        check_error(b"*1\r\n$\r\n", "ERR Protocol error: invalid bulk length");
        check_error(
            b"*1\r\n$600000000\r\n",
            "ERR Protocol error: invalid bulk length",
        );
        check_error(
            b"*1\r\n$3\r\nabcde\r\n",
            "ERR Protocol error: invalid CRLF in request",
        );
        let mut long = b"*".to_vec();
        long.extend(std::iter::repeat_n(b'1', 70_000));
        check_error(&long, "ERR Protocol error: too big mbulk count string");
        let mut long = b"*1\r\n$".to_vec();
        long.extend(std::iter::repeat_n(b'1', 70_000));
        check_error(&long, "ERR Protocol error: too big bulk count string");
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = ParseLimits {
            unauthenticated: true,
            ..ParseLimits::default()
        };
        let mut parser = Parser::new();
        assert_eq!(
            parser.parse(b"*11\r\n", limits),
            Err(ParseError::new("unauthenticated multibulk length"))
        );
        assert_eq!(
            parser.parse(b"*1\r\n$16385\r\n", limits),
            Err(ParseError::new("unauthenticated bulk length"))
        );
        assert!(parser.parse(b"*10\r\n$16384\r\n", limits).is_ok());
    }

    #[test]
    fn inline() {
        check(b"PING\r\n", &[&["PING"]]);
        check(b"PING\n\r\n\r\nPING\r\r\n", &[&["PING"], &["PING"]]);
        check(b"PING\rx\n", &[&["PING", "x"]]);
        check(b"set a 'b'c\r\n", &[&["set", "a", "bc"]]);
        check(b"ECHO \"\\x41\\x4g\"\r\n", &[&["ECHO", "Ax4g"]]);
        check(b"ECHO a\"b c\"d\r\n", &[&["ECHO", "ab cd"]]);
        check(b"ECHO 'a'\"b\"c\r\n", &[&["ECHO", "abc"]]);
        check(b"ECHO \"a\\\"b\"\r\n", &[&["ECHO", "a\"b"]]);
        check(b"ECHO \"a\\\"\r\n", &[&["ECHO", "a\\"]]);
        check(b"ECHO 'a\\'\r\n", &[&["ECHO", "a\\"]]);
        check(b"ECHO 'a\\nb'\r\n", &[&["ECHO", "a\\nb"]]);
        check(
            b"ECHO \"\\t\\b\\a\\r\\q\"\r\n",
            &[&["ECHO", "\t\x08\x07\rq"]],
        );
        check(b"ECHO \"\" ''\r\n", &[&["ECHO", "", ""]]);
        check(b"ECHO a\\\r\n", &[&["ECHO", "a\\"]]);
        check(b"ECHO \x0bx\r\n", &[&["ECHO", "x"]]);
        // A NUL hides the newline: nothing is complete yet.
        check(b"PING \x00\r\nPING\r\n", &[]);
    }

    #[test]
    fn inline_errors() {
        check_error(
            b"\"\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        );
        check_error(
            b"ECHO x\\\"y\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        );
        check_error(
            b"ECHO \"a\\\" \r\n",
            "ERR Protocol error: unbalanced quotes in request",
        );
        check_error(
            &[b'x'; 70_000],
            "ERR Protocol error: too big inline request",
        );
    }

    #[test]
    fn peeks_second_arguments_of_complete_commands() {
        let mut seen = Vec::new();
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$2\r\nbc\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$5\r\nab";
        peek_first_args(input, 10, |key| seen.push(key.to_vec()));
        assert_eq!(seen, vec![b"a".to_vec(), b"bc".to_vec()]);
    }

    #[test]
    fn strict_integers() {
        for (text, want) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-0", None),
            ("+1", None),
            ("01", None),
            (" 1", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(parse_strict_i64(text.as_bytes()), want, "{text}");
        }
    }
}
