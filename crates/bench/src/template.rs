//! Command templates: `SET __key__ __data__`, `HSET h:__key__ f __data__`, ...
//!
//! A template is split into arguments once, and compiled into a list of pre-encoded RESP byte
//! runs and placeholder arguments. Encoding one request then only copies those runs, the key and
//! the value into the connection's output buffer and writes the lengths of the arguments that
//! hold a placeholder: no allocation, no formatting beyond integers.
//!
//! A template may also be a sequence of commands separated by a bare `;` word, e.g.
//! `MULTI ; INCR a:__key__ ; GET a:__key__ ; EXEC`. The commands are encoded back to back as one
//! request, which is answered by one reply per command ([`Template::replies`]); the engine counts
//! it once, and its latency ends with the last reply. A quoted `";"` is an ordinary argument.

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
    /// Commands in the template: the replies that answer one request.
    pub replies: u16,
    lits: Vec<u8>,
    pieces: Vec<Piece>,
    ops: Vec<Op>,
    /// The pieces of the first argument that holds the key: cluster mode routes by it.
    route: Option<(u32, u32)>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let commands = split_commands(text)?;
        if commands.len() > usize::from(u16::MAX) {
            return Err(format!("too many commands in '{text}'"));
        }
        let names: Vec<String> = commands
            .iter()
            .map(|args| String::from_utf8_lossy(&args[0]).to_uppercase())
            .collect();
        let name = match names.len() {
            1..=3 => names.join(";"),
            n => format!("{};..;{}", names[0], names[n - 1]),
        };
        let mut t = Template {
            name,
            text: text.to_string(),
            has_key: false,
            has_data: false,
            replies: commands.len() as u16,
            lits: Vec::new(),
            pieces: Vec::new(),
            ops: Vec::new(),
            route: None,
        };
        let mut raw = Vec::new();
        for args in &commands {
            t.compile_command(args, &mut raw);
        }
        if !raw.is_empty() {
            t.push_raw(&raw);
        }
        Ok(t)
    }

    /// Append one command's ops; literal bytes gather in `raw` until an argument needs a
    /// placeholder (so a run of literal arguments, across commands too, is one copy).
    fn compile_command(&mut self, args: &[Vec<u8>], raw: &mut Vec<u8>) {
        let t = self;
        raw.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            let pieces = split_placeholders(arg);
            if pieces.iter().all(|p| matches!(p, Split::Lit(_))) {
                raw.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                raw.extend_from_slice(arg);
                raw.extend_from_slice(b"\r\n");
                continue;
            }
            if !raw.is_empty() {
                t.push_raw(raw);
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

/// Split a template into commands: [`split_args`], then a bare (unquoted) `;` word ends a
/// command. Every command has at least its name.
pub fn split_commands(text: &str) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut commands = vec![Vec::new()];
    for (arg, quoted) in split_words(text)? {
        if !quoted && arg == b";" {
            commands.push(Vec::new());
        } else {
            commands.last_mut().expect("never empty").push(arg);
        }
    }
    if commands.len() == 1 && commands[0].is_empty() {
        return Err("empty command template".into());
    }
    if commands.iter().any(|c| c.is_empty()) {
        return Err(format!("an empty command between ';' in '{text}'"));
    }
    Ok(commands)
}

/// Split a template into arguments: whitespace separates, `"..."` and `'...'` group, and inside
/// double quotes a backslash escapes the next character (`\n`, `\r`, `\t` and `\xHH` too).
pub fn split_args(text: &str) -> Result<Vec<Vec<u8>>, String> {
    Ok(split_words(text)?.into_iter().map(|(a, _)| a).collect())
}

/// [`split_args`], each argument with whether any of it was quoted.
fn split_words(text: &str) -> Result<Vec<(Vec<u8>, bool)>, String> {
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
        let mut quoted = false;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            match b[i] {
                b'"' => {
                    quoted = true;
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
                    quoted = true;
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
        args.push((arg, quoted));
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

    #[test]
    fn a_sequence_is_one_request_of_several_commands() {
        let t = Template::parse(
            "MULTI ; INCR a:__key__ ; INCR b:__key__ ; SET c:__key__ __data__ ; GET a:__key__ ; \
             DEL d:__key__ ; EXEC",
        )
        .unwrap();
        assert_eq!(t.replies, 7);
        assert_eq!(t.name, "MULTI;..;EXEC");
        assert!(t.has_key && t.has_data);
        let mut want = b"*1\r\n$5\r\nMULTI\r\n".to_vec();
        for (cmd, key) in [("INCR", "a:k7"), ("INCR", "b:k7")] {
            want.extend_from_slice(format!("*2\r\n$4\r\n{cmd}\r\n$4\r\n{key}\r\n").as_bytes());
        }
        want.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$4\r\nc:k7\r\n$2\r\nvv\r\n");
        want.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$4\r\na:k7\r\n");
        want.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$4\r\nd:k7\r\n");
        want.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        assert_eq!(enc(&t, b"k7", b"vv"), want);
        // Routed by the first argument that holds the key.
        assert_eq!(t.slot(b"k7"), Some(crate::cluster::key_slot(b"a:k7")));

        // Two or three commands keep every name in the label; literal-only sequences encode.
        let two = Template::parse("SET x 1 ; GET x").unwrap();
        assert_eq!((two.name.as_str(), two.replies), ("SET;GET", 2));
        assert!(!two.has_key);
        assert_eq!(
            enc(&two, b"", b""),
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n"
        );
        // A single command is one reply.
        assert_eq!(Template::parse("GET __key__").unwrap().replies, 1);
    }

    #[test]
    fn only_a_bare_semicolon_separates() {
        // Quoted, or part of a word, it is an argument.
        let t = Template::parse("ECHO \";\" ; ECHO ';' ; ECHO a;b").unwrap();
        assert_eq!(t.replies, 3);
        assert_eq!(
            enc(&t, b"", b""),
            b"*2\r\n$4\r\nECHO\r\n$1\r\n;\r\n*2\r\n$4\r\nECHO\r\n$1\r\n;\r\n\
              *2\r\n$4\r\nECHO\r\n$3\r\na;b\r\n"
        );
        assert_eq!(
            split_commands("PING ; PING").unwrap(),
            vec![vec![b"PING".to_vec()], vec![b"PING".to_vec()]]
        );
        for bad in ["; PING", "PING ;", "PING ; ; PING", ";", " "] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
