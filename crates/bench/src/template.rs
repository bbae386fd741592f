//! Command templates: `SET __key__ __data__`, `HSET h:__key__ f __data__`, ...
//!
//! A template is split into arguments once, and compiled into a list of pre-encoded RESP byte
//! runs and placeholder arguments. Encoding one request then only copies those runs, the key and
//! the value into the connection's output buffer and writes the lengths of the arguments that
//! hold a placeholder: no allocation, no formatting beyond integers.

/// The key placeholder.
pub const KEY: &str = "__key__";
/// The value placeholder.
pub const DATA: &str = "__data__";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// A range of `Template::lits`.
    Lit(u32, u32),
    Key,
    Data,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Pre-encoded bytes: a range of `Template::lits`.
    Raw(u32, u32),
    /// An argument with placeholders: a range of `Template::pieces`.
    Arg(u32, u32),
}

#[derive(Clone, Debug)]
pub struct Template {
    /// The label in reports: the command name, upper case (made unique by the caller).
    pub name: String,
    /// The template as given.
    pub text: String,
    pub has_key: bool,
    pub has_data: bool,
    lits: Vec<u8>,
    pieces: Vec<Piece>,
    ops: Vec<Op>,
    /// The pieces of the first argument that holds the key: cluster mode routes by it.
    route: Option<(u32, u32)>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let args = split_args(text)?;
        if args.is_empty() {
            return Err("empty command template".into());
        }
        let mut t = Template {
            name: String::from_utf8_lossy(&args[0]).to_uppercase(),
            text: text.to_string(),
            has_key: false,
            has_data: false,
            lits: Vec::new(),
            pieces: Vec::new(),
            ops: Vec::new(),
            route: None,
        };
        let mut raw = format!("*{}\r\n", args.len()).into_bytes();
        for arg in &args {
            let pieces = split_placeholders(arg);
            if pieces.iter().all(|p| matches!(p, Split::Lit(_))) {
                raw.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                raw.extend_from_slice(arg);
                raw.extend_from_slice(b"\r\n");
                continue;
            }
            if !raw.is_empty() {
                t.push_raw(&raw);
                raw.clear();
            }
            let first = t.pieces.len() as u32;
            for p in pieces {
                let piece = match p {
                    Split::Lit(bytes) => {
                        let a = t.lits.len() as u32;
                        t.lits.extend_from_slice(bytes);
                        Piece::Lit(a, t.lits.len() as u32)
                    }
                    Split::Key => {
                        t.has_key = true;
                        Piece::Key
                    }
                    Split::Data => {
                        t.has_data = true;
                        Piece::Data
                    }
                };
                t.pieces.push(piece);
            }
            let range = (first, t.pieces.len() as u32);
            if t.route.is_none() && t.pieces[first as usize..].contains(&Piece::Key) {
                t.route = Some(range);
            }
            t.ops.push(Op::Arg(range.0, range.1));
        }
        if !raw.is_empty() {
            t.push_raw(&raw);
        }
        Ok(t)
    }

    fn push_raw(&mut self, bytes: &[u8]) {
        let a = self.lits.len() as u32;
        self.lits.extend_from_slice(bytes);
        self.ops.push(Op::Raw(a, self.lits.len() as u32));
    }

    #[inline]
    fn piece_len(&self, p: Piece, key: &[u8], data: &[u8]) -> usize {
        match p {
            Piece::Lit(a, b) => (b - a) as usize,
            Piece::Key => key.len(),
            Piece::Data => data.len(),
        }
    }

    #[inline]
    fn put_piece(&self, out: &mut Vec<u8>, p: Piece, key: &[u8], data: &[u8]) {
        match p {
            Piece::Lit(a, b) => out.extend_from_slice(&self.lits[a as usize..b as usize]),
            Piece::Key => out.extend_from_slice(key),
            Piece::Data => out.extend_from_slice(data),
        }
    }

    /// Append one request, with `key` and `data` in place of the placeholders.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>, key: &[u8], data: &[u8]) {
        for &op in &self.ops {
            match op {
                Op::Raw(a, b) => out.extend_from_slice(&self.lits[a as usize..b as usize]),
                Op::Arg(a, b) => {
                    let pieces = &self.pieces[a as usize..b as usize];
                    let len: usize = pieces.iter().map(|&p| self.piece_len(p, key, data)).sum();
                    out.push(b'$');
                    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
                    out.extend_from_slice(b"\r\n");
                    for &p in pieces {
                        self.put_piece(out, p, key, data);
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }

    /// The hash slot this request goes to in cluster mode (`None`: the template names no key).
    #[inline]
    pub fn slot(&self, key: &[u8]) -> Option<u16> {
        let (a, b) = self.route?;
        let pieces = &self.pieces[a as usize..b as usize];
        if let [Piece::Key] = pieces {
            return Some(crate::cluster::key_slot(key));
        }
        let mut buf = [0u8; 512];
        let mut len = 0;
        for &p in pieces {
            let bytes: &[u8] = match p {
                Piece::Lit(a, b) => &self.lits[a as usize..b as usize],
                Piece::Key => key,
                Piece::Data => b"",
            };
            let take = bytes.len().min(buf.len() - len);
            buf[len..len + take].copy_from_slice(&bytes[..take]);
            len += take;
        }
        Some(crate::cluster::key_slot(&buf[..len]))
    }
}

enum Split<'a> {
    Lit(&'a [u8]),
    Key,
    Data,
}

fn split_placeholders(arg: &[u8]) -> Vec<Split<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut lit_start = 0;
    while i < arg.len() {
        let rest = &arg[i..];
        let hit = if rest.starts_with(KEY.as_bytes()) {
            Some((Split::Key, KEY.len()))
        } else if rest.starts_with(DATA.as_bytes()) {
            Some((Split::Data, DATA.len()))
        } else {
            None
        };
        match hit {
            Some((piece, len)) => {
                if lit_start < i {
                    out.push(Split::Lit(&arg[lit_start..i]));
                }
                out.push(piece);
                i += len;
                lit_start = i;
            }
            None => i += 1,
        }
    }
    if lit_start < arg.len() || out.is_empty() {
        out.push(Split::Lit(&arg[lit_start..]));
    }
    out
}

/// Split a template into arguments: whitespace separates, `"..."` and `'...'` group, and inside
/// double quotes a backslash escapes the next character (`\n`, `\r`, `\t` and `\xHH` too).
pub fn split_args(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = text.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let mut arg = Vec::new();
        while i < b.len() && !b[i].is_ascii_whitespace() {
            match b[i] {
                b'"' => {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return Err(format!("unbalanced quotes in '{text}'")),
                            Some(b'"') => break,
                            Some(b'\\') => {
                                let c = *b.get(i + 1).ok_or("trailing backslash")?;
                                i += 1;
                                match c {
                                    b'n' => arg.push(b'\n'),
                                    b'r' => arg.push(b'\r'),
                                    b't' => arg.push(b'\t'),
                                    b'x' => {
                                        let hex = text.get(i + 1..i + 3).ok_or("bad \\x escape")?;
                                        arg.push(
                                            u8::from_str_radix(hex, 16)
                                                .map_err(|_| "bad \\x escape")?,
                                        );
                                        i += 2;
                                    }
                                    c => arg.push(c),
                                }
                            }
                            Some(&c) => arg.push(c),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'\'' => {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return Err(format!("unbalanced quotes in '{text}'")),
                            Some(b'\'') => break,
                            Some(&c) => arg.push(c),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                c => {
                    arg.push(c);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(t: &Template, key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        t.encode(&mut out, key, data);
        out
    }

    #[test]
    fn set_and_get_encode_as_resp() {
        let set = Template::parse("set __key__ __data__").unwrap();
        assert_eq!(set.name, "SET");
        assert!(set.has_key && set.has_data);
        assert_eq!(
            enc(&set, b"key:12", b"xyz"),
            b"*3\r\n$3\r\nset\r\n$6\r\nkey:12\r\n$3\r\nxyz\r\n"
        );
        let get = Template::parse("GET __key__").unwrap();
        assert_eq!(enc(&get, b"k", b""), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(get.slot(b"foo"), Some(12182));
    }

    #[test]
    fn placeholders_inside_arguments() {
        let t = Template::parse("HSET h:__key__ \"a field\" v=__data__! EX 10").unwrap();
        assert_eq!(
            enc(&t, b"k1", b"dd"),
            b"*6\r\n$4\r\nHSET\r\n$4\r\nh:k1\r\n$7\r\na field\r\n$5\r\nv=dd!\r\n$2\r\nEX\r\n$2\r\n10\r\n"
        );
        // Routed by the expanded key argument.
        assert_eq!(t.slot(b"k1"), Some(crate::cluster::key_slot(b"h:k1")));
        let tagged = Template::parse("SET {__key__}:x 1").unwrap();
        assert_eq!(tagged.slot(b"foo"), Some(12182));
        let none = Template::parse("PING").unwrap();
        assert_eq!(none.slot(b"foo"), None);
        assert_eq!(enc(&none, b"", b""), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(
            split_args(r#"a "b c" 'd e' "\x41\n" x"y"z"#).unwrap(),
            vec![
                b"a".to_vec(),
                b"b c".to_vec(),
                b"d e".to_vec(),
                b"A\n".to_vec(),
                b"xyz".to_vec()
            ]
        );
        assert!(split_args("\"open").is_err());
        assert!(Template::parse("   ").is_err());
    }
}
