//! Reply framing without allocation.
//!
//! The load generator never needs a reply's value, only where each reply ends and whether it is
//! an error (and, for errors, the first few bytes of the text: the error kind, or a redirect).
//! [`Scanner`] is a byte-at-a-time state machine that is fed whatever a `read` returned, in
//! chunks split anywhere, and consumes every byte it is given: a bulk payload is skipped by
//! counting, a header number is accumulated digit by digit, and the nesting of aggregates is a
//! single counter of frames still owed (RESP is prefix-encoded, so no stack is needed). It
//! therefore keeps no bytes across reads and the caller's read buffer can be reused at once.
//!
//! [`Value`] and [`decode`] are the opposite: a small allocating decoder for set-up time
//! (`CLUSTER SLOTS`, `HELLO`), never used on the hot path.

/// How many bytes of an error's text are kept (enough for `MOVED <slot> <host>:<port>`).
pub const ERROR_CAPTURE: usize = 256;

/// What a completed top-level reply was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// A reply that answers a request; `error` for `-...` and `!...` at the top level.
    Reply { error: bool },
    /// An out-of-band RESP3 push frame (answers no request).
    Push,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Expecting a type byte.
    Type,
    /// Reading a header number (`$`, `*`, ... up to the newline).
    Header,
    /// Skipping a line's content up to the newline (simple string, error, integer, ...).
    Line,
    /// Skipping a bulk payload plus its CRLF: this many bytes are left.
    Bulk,
}

/// The incremental reply scanner. See the module documentation.
#[derive(Clone, Debug)]
pub struct Scanner {
    phase: Phase,
    /// The type byte of the frame whose header is being read.
    kind: u8,
    /// Frames still needed to finish the current top-level reply (0: between replies).
    owed: u64,
    /// The header number being accumulated.
    num: i64,
    neg: bool,
    /// Bytes of bulk payload (plus CRLF) still to skip.
    skip: u64,
    /// The top-level frame is an error / a push.
    top_error: bool,
    top_push: bool,
    /// Whether the current frame is the top-level one (its text is captured when an error).
    at_top: bool,
    capturing: bool,
    err: [u8; ERROR_CAPTURE],
    err_len: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner {
            phase: Phase::Type,
            kind: 0,
            owed: 0,
            num: 0,
            neg: false,
            skip: 0,
            top_error: false,
            top_push: false,
            at_top: true,
            capturing: false,
            err: [0; ERROR_CAPTURE],
            err_len: 0,
        }
    }

    /// The captured text of the last error reply (without the `-` and CRLF; truncated to
    /// [`ERROR_CAPTURE`] bytes). Valid after `feed` returned `Done::Reply { error: true }` and
    /// until the next call.
    pub fn error_text(&self) -> &[u8] {
        &self.err[..self.err_len]
    }

    /// True when no reply is partly scanned.
    pub fn idle(&self) -> bool {
        self.phase == Phase::Type && self.owed == 0
    }

    /// Consume bytes from `buf` up to and including the end of the next complete top-level
    /// reply. Returns the bytes consumed and, if a reply was completed, what it was. When it
    /// returns `None` it has consumed all of `buf`. `Err` means the bytes are not RESP.
    #[inline]
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Done>), ProtocolError> {
        let mut i = 0;
        let n = buf.len();
        while i < n {
            match self.phase {
                Phase::Type => {
                    let t = buf[i];
                    i += 1;
                    self.begin(t)?;
                }
                Phase::Header => {
                    // Digits, an optional sign, then CR LF (CR ignored).
                    while i < n {
                        let b = buf[i];
                        i += 1;
                        match b {
                            b'0'..=b'9' => {
                                self.num = self
                                    .num
                                    .saturating_mul(10)
                                    .saturating_add((b - b'0') as i64)
                            }
                            b'-' => self.neg = true,
                            b'\r' => {}
                            b'\n' => {
                                if let Some(done) = self.header_done()? {
                                    return Ok((i, Some(done)));
                                }
                                break;
                            }
                            // `$?` streamed strings and other oddities: not supported.
                            _ => return Err(ProtocolError),
                        }
                    }
                }
                Phase::Line => {
                    let rest = &buf[i..];
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => {
                            if self.capturing {
                                self.capture(&rest[..p]);
                            }
                            i += p + 1;
                            self.phase = Phase::Type;
                            if let Some(done) = self.frame_done() {
                                return Ok((i, Some(done)));
                            }
                        }
                        None => {
                            if self.capturing {
                                self.capture(rest);
                            }
                            i = n;
                        }
                    }
                }
                Phase::Bulk => {
                    let avail = (n - i) as u64;
                    if avail < self.skip {
                        if self.capturing {
                            self.capture(&buf[i..]);
                        }
                        self.skip -= avail;
                        i = n;
                    } else {
                        let end = i + self.skip as usize;
                        if self.capturing {
                            self.capture(&buf[i..end]);
                        }
                        i = end;
                        self.skip = 0;
                        self.phase = Phase::Type;
                        if let Some(done) = self.frame_done() {
                            return Ok((i, Some(done)));
                        }
                    }
                }
            }
        }
        Ok((n, None))
    }

    #[inline]
    fn begin(&mut self, t: u8) -> Result<(), ProtocolError> {
        self.at_top = self.owed == 0;
        if self.at_top {
            self.owed = 1;
            self.top_error = matches!(t, b'-' | b'!');
            self.top_push = t == b'>';
            self.err_len = 0;
        }
        self.kind = t;
        self.capturing = self.at_top && self.top_error;
        match t {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => self.phase = Phase::Line,
            b'$' | b'!' | b'=' | b'*' | b'~' | b'>' | b'%' | b'|' => {
                self.phase = Phase::Header;
                self.num = 0;
                self.neg = false;
            }
            // Stray line endings between replies are tolerated.
            b'\r' | b'\n' if self.at_top => {
                self.owed = 0;
                self.phase = Phase::Type;
            }
            _ => return Err(ProtocolError),
        }
        Ok(())
    }

    /// A header line ended. Returns a completed reply when the frame had no payload.
    #[inline]
    fn header_done(&mut self) -> Result<Option<Done>, ProtocolError> {
        let num = if self.neg { -self.num } else { self.num };
        match self.kind {
            b'$' | b'!' | b'=' => {
                if num < 0 {
                    self.phase = Phase::Type;
                    return Ok(self.frame_done());
                }
                self.skip = num as u64 + 2;
                self.phase = Phase::Bulk;
                Ok(None)
            }
            _ => {
                // Aggregates: this frame is done, its elements are owed.
                self.phase = Phase::Type;
                let mut elements = if num < 0 { 0 } else { num as u64 };
                match self.kind {
                    b'%' => elements *= 2,
                    // An attribute is followed by the value it annotates.
                    b'|' => elements = elements * 2 + 1,
                    _ => {}
                }
                self.owed += elements;
                self.capturing = false;
                Ok(self.frame_done())
            }
        }
    }

    /// One frame (header and payload) is finished.
    #[inline]
    fn frame_done(&mut self) -> Option<Done> {
        self.capturing = false;
        self.owed -= 1;
        if self.owed > 0 {
            return None;
        }
        if self.top_push {
            Some(Done::Push)
        } else {
            Some(Done::Reply {
                error: self.top_error,
            })
        }
    }

    #[inline]
    fn capture(&mut self, bytes: &[u8]) {
        let room = ERROR_CAPTURE - self.err_len;
        let take = bytes.len().min(room);
        for &b in &bytes[..take] {
            // Line content excludes the CR before the newline; a bulk error's CRLF is dropped too.
            if b != b'\r' && b != b'\n' {
                self.err[self.err_len] = b;
                self.err_len += 1;
            }
        }
    }
}

/// Bytes that are not RESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError;

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("protocol error: the server sent bytes that are not RESP")
    }
}

/// A decoded reply, for set-up time only.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
    /// RESP3 map (pairs flattened: key, value, key, value, ...).
    Map(Vec<Value>),
    Other(Vec<u8>),
}

impl Value {
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) | Value::Other(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Bulk(b) | Value::Simple(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Decode one complete reply at the start of `buf`: `Ok(Some((value, used)))`, `Ok(None)` when
/// more bytes are needed.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
        let rest = buf.get(pos..)?;
        let p = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((&rest[..p], pos + p + 2))
    }
    fn number(bytes: &[u8]) -> Result<i64, ProtocolError> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(ProtocolError)
    }
    fn at(buf: &[u8], pos: usize) -> Result<Option<(Value, usize)>, ProtocolError> {
        let Some(&t) = buf.get(pos) else {
            return Ok(None);
        };
        let Some((head, next)) = line(buf, pos + 1) else {
            return Ok(None);
        };
        Ok(Some(match t {
            b'+' => (Value::Simple(head.to_vec()), next),
            b'-' => (Value::Error(head.to_vec()), next),
            b':' => (Value::Int(number(head)?), next),
            b'_' => (Value::Nil, next),
            b',' | b'#' | b'(' => (Value::Other(head.to_vec()), next),
            b'$' | b'!' | b'=' => {
                let len = number(head)?;
                if len < 0 {
                    return Ok(Some((Value::Nil, next)));
                }
                let end = next + len as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                let data = buf[next..end].to_vec();
                let v = match t {
                    b'!' => Value::Error(data),
                    b'=' => Value::Other(data),
                    _ => Value::Bulk(data),
                };
                (v, end + 2)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = number(head)?;
                if n < 0 {
                    return Ok(Some((Value::Nil, next)));
                }
                let count = if matches!(t, b'%' | b'|') { n * 2 } else { n } as usize;
                let mut items = Vec::with_capacity(count.min(1024));
                let mut p = next;
                for _ in 0..count {
                    match at(buf, p)? {
                        Some((v, q)) => {
                            items.push(v);
                            p = q;
                        }
                        None => return Ok(None),
                    }
                }
                if t == b'|' {
                    // Attributes annotate the next value: return that value.
                    return at(buf, p);
                }
                let v = if t == b'%' {
                    Value::Map(items)
                } else {
                    Value::Array(items)
                };
                (v, p)
            }
            _ => return Err(ProtocolError),
        }))
    }
    at(buf, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `bytes` split into chunks of `chunk` and collect the completed replies and their
    /// error texts.
    fn scan(bytes: &[u8], chunk: usize) -> Vec<(Done, Vec<u8>)> {
        let mut s = Scanner::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            let mut pos = 0;
            while pos < piece.len() {
                let (used, done) = s.feed(&piece[pos..]).unwrap();
                pos += used;
                if let Some(d) = done {
                    out.push((d, s.error_text().to_vec()));
                }
            }
        }
        assert!(s.idle());
        out
    }

    const MIX: &[u8] =
        b"+OK\r\n-ERR wrong\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n\
%1\r\n+k\r\n+v\r\n_\r\n>2\r\n+message\r\n+x\r\n!9\r\nMOVED 1 a\r\n|1\r\n+ttl\r\n:3\r\n#t\r\n\
*0\r\n*3\r\n-nested\r\n$0\r\n\r\n,1.5\r\n";

    #[test]
    fn frames_split_anywhere_scan_alike() {
        let whole = scan(MIX, MIX.len());
        let kinds: Vec<Done> = whole.iter().map(|(d, _)| *d).collect();
        let ok = Done::Reply { error: false };
        let err = Done::Reply { error: true };
        assert_eq!(
            kinds,
            vec![
                ok,
                err,
                ok,
                ok,
                ok,
                ok,
                ok,
                ok,
                ok,
                Done::Push,
                err,
                ok,
                ok,
                ok
            ]
        );
        assert_eq!(whole[1].1, b"ERR wrong");
        assert_eq!(whole[10].1, b"MOVED 1 a");
        for chunk in 1..MIX.len() {
            assert_eq!(scan(MIX, chunk), whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn a_large_bulk_is_skipped_by_counting() {
        let mut bytes = b"$100000\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 100_000));
        bytes.extend_from_slice(b"\r\n+OK\r\n");
        assert_eq!(scan(&bytes, 4096).len(), 2);
    }

    #[test]
    fn error_text_is_truncated_not_overflowed() {
        let mut bytes = b"-ERR ".to_vec();
        bytes.extend(std::iter::repeat_n(b'y', 1000));
        bytes.extend_from_slice(b"\r\n");
        let got = scan(&bytes, 7);
        assert_eq!(got[0].1.len(), ERROR_CAPTURE);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Scanner::new().feed(b"?what\r\n").is_err());
        assert!(Scanner::new().feed(b"$x\r\n").is_err());
    }

    #[test]
    fn decode_values() {
        let (v, used) = decode(b"*2\r\n:1\r\n$2\r\nab\r\n+rest").unwrap().unwrap();
        assert_eq!(used, 16);
        assert_eq!(
            v,
            Value::Array(vec![Value::Int(1), Value::Bulk(b"ab".to_vec())])
        );
        assert_eq!(decode(b"*2\r\n:1\r\n$2\r\na").unwrap(), None);
        assert_eq!(decode(b"").unwrap(), None);
    }
}
