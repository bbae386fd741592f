//! Reply encoding in RESP2 or RESP3.
//!
//! A [`ReplyWriter`] appends to a connection's output buffer. Handlers call the same methods in
//! both protocols; the writer picks the wire type (`map` is a `%` map in RESP3 and a flat array
//! of twice the length in RESP2, `null` is `_` or `$-1`, and so on). Writing allocates nothing
//! beyond the buffer's growth.

/// The protocol a connection speaks, chosen with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Appends replies to an output buffer.
pub struct ReplyWriter<'a> {
    pub out: &'a mut Vec<u8>,
    pub protocol: Protocol,
}

impl<'a> ReplyWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, protocol: Protocol) -> Self {
        ReplyWriter { out, protocol }
    }

    pub fn resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    #[inline]
    fn header(&mut self, kind: u8, value: i64) {
        self.out.push(kind);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. The text must not contain CR or LF.
    pub fn simple(&mut self, text: &[u8]) {
        self.out.push(b'+');
        self.out.extend_from_slice(text);
        self.out.extend_from_slice(b"\r\n");
    }

    /// `-text`, where text starts with the error code (`ERR`, `WRONGTYPE`...). CR and LF in the
    /// text would break the framing, so they are replaced by spaces, as Valkey does.
    pub fn error(&mut self, text: &[u8]) {
        self.out.push(b'-');
        let start = self.out.len();
        self.out.extend_from_slice(text);
        for byte in &mut self.out[start..] {
            if *byte == b'\r' || *byte == b'\n' {
                *byte = b' ';
            }
        }
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, value: i64) {
        self.header(b':', value);
    }

    #[inline]
    pub fn bulk(&mut self, value: &[u8]) {
        // One capacity check for the header, the value and the terminator.
        self.out.reserve(value.len() + 24);
        self.header(b'$', value.len() as i64);
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal text of `value`.
    pub fn bulk_int(&mut self, value: i64) {
        let mut buffer = itoa::Buffer::new();
        self.bulk(buffer.format(value).as_bytes());
    }

    /// The null bulk string (`$-1`), or RESP3 null.
    #[inline]
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1`), or RESP3 null.
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs; the caller then writes `2 * len` elements.
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    /// An out-of-band message (pub/sub, invalidation, MONITOR lines are simple strings).
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    pub fn boolean(&mut self, value: bool) {
        match (self.protocol, value) {
            (Protocol::Resp2, true) => self.out.extend_from_slice(b":1\r\n"),
            (Protocol::Resp2, false) => self.out.extend_from_slice(b":0\r\n"),
            (Protocol::Resp3, true) => self.out.extend_from_slice(b"#t\r\n"),
            (Protocol::Resp3, false) => self.out.extend_from_slice(b"#f\r\n"),
        }
    }

    /// Human-readable text (INFO, CLIENT LIST...): a verbatim string `txt:` in RESP3, a bulk
    /// string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', text.len() as i64 + 4);
                self.out.extend_from_slice(b"txt:");
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends bytes that already are a complete encoded reply.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(protocol: Protocol, write: impl FnOnce(&mut ReplyWriter)) -> String {
        let mut out = Vec::new();
        write(&mut ReplyWriter::new(&mut out, protocol));
        String::from_utf8(out).unwrap()
    }

    type Case<'a> = (&'a dyn Fn(&mut ReplyWriter), &'a str, &'a str);

    #[test]
    fn types_in_both_protocols() {
        let cases: [Case; 5] = [
            (&|w| w.null(), "$-1\r\n", "_\r\n"),
            (&|w| w.null_array(), "*-1\r\n", "_\r\n"),
            (&|w| w.map(2), "*4\r\n", "%2\r\n"),
            (&|w| w.boolean(true), ":1\r\n", "#t\r\n"),
            (&|w| w.verbatim(b"ab"), "$2\r\nab\r\n", "=6\r\ntxt:ab\r\n"),
        ];
        for (write, resp2, resp3) in cases {
            assert_eq!(encode(Protocol::Resp2, write), resp2);
            assert_eq!(encode(Protocol::Resp3, write), resp3);
        }
    }

    #[test]
    fn error_text_is_one_line() {
        assert_eq!(
            encode(Protocol::Resp2, |w| w.error(b"ERR a\r\nb")),
            "-ERR a  b\r\n"
        );
    }
}
