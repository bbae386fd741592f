//! `cjson`: JSON encoding and decoding with the reference library's choices (tables are arrays
//! when their keys are 1..n with few holes, numbers printed with `%.14g`, `/` escaped, null as a
//! NULL light userdata) and its configuration functions, which keep their settings per module
//! table for the life of the interpreter.

use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::{arg_error, arg_error_at, error, exact, fmt_g, number_of, shimmed, type_name, Args};

/// The interpreter's limit on stack slots a C function may hold (`LUAI_MAXCSTACK`): the
/// reference library stops nesting when it cannot reserve more.
const MAX_SLOTS: usize = 8000;

/// The deepest nesting encoded or decoded here whatever the configuration: the reference goes
/// up to the slot limit above (about 8000 levels for arrays, 4000 for objects), which recursion
/// on a worker thread's stack cannot afford.
const MAX_NESTING: usize = 2000;

#[derive(Clone, Copy)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuses NaN and infinities, 1 prints them, 2 prints them as null.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    encode_keep_buffer: i32,
    precision: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

/// A new module table with its own configuration (`cjson.new()` makes another).
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.set(
        "encode",
        shimmed(lua, move |lua, args: Args| {
            if args.n != 1 {
                return Err(arg_error_at(lua, 1, 1, "expected 1 argument"));
            }
            let config = *c.lock();
            let mut encoder = Encoder {
                cfg: config,
                out: Vec::new(),
            };
            encoder.value(&args.get(1)?, 0, 1)?;
            lua.create_string(&encoder.out)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let text = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => fmt_g(*n, 14).into_bytes(),
                other => {
                    return Err(arg_error(
                        lua,
                        1,
                        &format!("string expected, got {}", type_name(Some(other))),
                    ))
                }
            };
            let config = *c.lock();
            decode(lua, &config, &text)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            check_count(lua, &args, 3)?;
            let mut cfg = c.lock();
            let convert = enum_option(lua, &args, 1, &mut cfg.sparse_convert, BOOL_OPTIONS)?;
            let ratio = integer_option(lua, &args, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, &args, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok((convert, ratio, safe))
        })?,
    )?;
    type Field = fn(&mut Config) -> &mut i32;
    let integers: [(&str, Field, i32, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, i32::MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, i32::MAX),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in integers {
        let c = cfg.clone();
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                check_count(lua, &args, 1)?;
                let mut cfg = c.lock();
                integer_option(lua, &args, 1, field(&mut cfg), min, max)
            })?,
        )?;
    }
    let enums: [(&str, Field, &'static [&'static str]); 3] = [
        (
            "encode_keep_buffer",
            |c| &mut c.encode_keep_buffer,
            BOOL_OPTIONS,
        ),
        (
            "encode_invalid_numbers",
            |c| &mut c.encode_invalid_numbers,
            &["off", "on", "null"],
        ),
        (
            "decode_invalid_numbers",
            |c| &mut c.decode_invalid_numbers,
            BOOL_OPTIONS,
        ),
    ];
    for (name, field, options) in enums {
        let c = cfg.clone();
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                check_count(lua, &args, 1)?;
                let mut cfg = c.lock();
                enum_option(lua, &args, 1, field(&mut cfg), options)
            })?,
        )?;
    }
    t.set("new", lua.create_function(|lua, ()| create(lua))?)?;
    t.set("null", Value::NULL)?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

fn check_count(lua: &Lua, args: &MultiValue, most: usize) -> mlua::Result<()> {
    if args.len() > most {
        return Err(arg_error(lua, most + 1, "found too many arguments"));
    }
    Ok(())
}

/// An integer setting: unchanged by nil, else checked against its range; returns the setting.
fn integer_option(
    lua: &Lua,
    args: &MultiValue,
    index: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<f64> {
    let value = args.get(index - 1).unwrap_or(&Value::Nil);
    if !value.is_nil() {
        let Some(n) = super::to_number(lua, Some(value)) else {
            return Err(arg_error(
                lua,
                index,
                &format!("number expected, got {}", type_name(Some(value))),
            ));
        };
        // A C conversion: toward zero to 64 bits (out of range is the lowest), then the low 32.
        let wide = if n.is_finite() && n.abs() < 9.2e18 {
            n as i64
        } else {
            i64::MIN
        };
        let v = wide as i32;
        if v < min || v > max {
            // The reference names argument 1 whichever argument is out of range.
            return Err(arg_error(
                lua,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(*setting as f64)
}

/// An option among `options` (its index is the setting), or a boolean for off/on; returns the
/// setting as a boolean when it is off/on, else as its name.
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    index: usize,
    setting: &mut i32,
    options: &'static [&'static str],
) -> mlua::Result<Value> {
    let value = args.get(index - 1).unwrap_or(&Value::Nil);
    match value {
        Value::Nil => {}
        Value::Boolean(b) => *setting = *b as i32,
        other => {
            let text = match other {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => fmt_g(*n, 14).into_bytes(),
                _ => {
                    return Err(arg_error(
                        lua,
                        index,
                        &format!("string expected, got {}", type_name(Some(other))),
                    ))
                }
            };
            match options.iter().position(|o| o.as_bytes() == text) {
                Some(i) => *setting = i as i32,
                None => {
                    return Err(arg_error(
                        lua,
                        index,
                        &format!("invalid option '{}'", String::from_utf8_lossy(&text)),
                    ))
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        Ok(Value::Boolean(*setting == 1))
    } else {
        Ok(Value::String(
            lua.create_string(options[*setting as usize])?,
        ))
    }
}

// ===== Encoding =====

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
}

fn cannot(value: &Value, reason: &str) -> mlua::Error {
    error(format!(
        "Cannot serialise {}: {reason}",
        type_name(Some(value))
    ))
}

impl Encoder {
    /// Appends `value`; `depth` is the nesting of the enclosing table, `slots` the stack slots
    /// the reference library would hold at this point.
    fn value(&mut self, value: &Value, depth: usize, slots: usize) -> mlua::Result<()> {
        match value {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => {
                self.number(value, number_of(value).unwrap_or(0.0))?
            }
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = depth + 1;
                if depth > self.cfg.encode_max_depth as usize
                    || slots + 3 > MAX_SLOTS
                    || depth > MAX_NESTING
                {
                    return Err(error(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                // Two walks over the table, one to tell an array from an object and one to
                // write an object, so that no more than one entry is held at a time (a
                // binding handle each, of which there are only a few thousand).
                let length = self.array_length(
                    value,
                    t.clone()
                        .pairs::<Value, Value>()
                        .map(|pair| pair.map(|(k, _)| number_of(&k))),
                )?;
                match length {
                    Some(len) if len > 0 => {
                        self.out.push(b'[');
                        for i in 1..=len {
                            if i > 1 {
                                self.out.push(b',');
                            }
                            let v = exact(t, Value::Integer(i), t.raw_get(i)?)?;
                            self.value(&v, depth, slots + 1)?;
                        }
                        self.out.push(b']');
                    }
                    _ => {
                        self.out.push(b'{');
                        for (i, pair) in t.clone().pairs::<Value, Value>().enumerate() {
                            let (k, v) = pair?;
                            let v = exact(t, k.clone(), v)?;
                            if i > 0 {
                                self.out.push(b',');
                            }
                            match &k {
                                Value::Integer(_) | Value::Number(_) => {
                                    self.out.push(b'"');
                                    self.number(&k, number_of(&k).unwrap_or(0.0))?;
                                    self.out.extend_from_slice(b"\":");
                                }
                                Value::String(s) => {
                                    self.string(&s.as_bytes());
                                    self.out.push(b':');
                                }
                                other => {
                                    return Err(cannot(
                                        other,
                                        "table key must be a number or string",
                                    ))
                                }
                            }
                            self.value(&v, depth, slots + 2)?;
                        }
                        self.out.push(b'}');
                    }
                }
            }
            other => return Err(cannot(other, "type not supported")),
        }
        Ok(())
    }

    /// The array length of a table whose keys (given as numbers, None for another type) are
    /// all integers >= 1 (None when another key exists), with the reference's arithmetic: the largest key held in a C int (keys past
    /// its range make it negative, so such tables are objects), sparse arrays refused or turned
    /// into objects per configuration.
    fn array_length(
        &self,
        table: &Value,
        keys: impl Iterator<Item = mlua::Result<Option<f64>>>,
    ) -> mlua::Result<Option<i64>> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for key in keys {
            let k = match key? {
                Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => k,
                _ => return Ok(None),
            };
            if k > max as f64 {
                max = if k < 2_147_483_648.0 {
                    k as i32
                } else {
                    i32::MIN
                };
            }
            items = items.wrapping_add(1);
        }
        let cfg = &self.cfg;
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                return Err(cannot(table, "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max as i64))
    }

    fn number(&mut self, value: &Value, n: f64) -> mlua::Result<()> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(cannot(value, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        self.out
            .extend_from_slice(fmt_g(n, self.cfg.precision as usize).as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &b in s {
            match b {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                b'\x08' => self.out.extend_from_slice(b"\\b"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\x0c' => self.out.extend_from_slice(b"\\f"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0..=0x1f | 0x7f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[(b >> 4) as usize]);
                    self.out.push(HEX[(b & 15) as usize]);
                }
                _ => self.out.push(b),
            }
        }
        self.out.push(b'"');
    }
}

// ===== Decoding =====

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    data: &'a [u8],
    pos: usize,
    depth: usize,
}

fn decode(lua: &Lua, cfg: &Config, text: &[u8]) -> mlua::Result<Value> {
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        lua,
        cfg,
        data: text,
        pos: 0,
        depth: 0,
    };
    let (tok, index) = p.next_token();
    let value = p.value(tok, index, 1)?;
    let (tok, index) = p.next_token();
    if !matches!(tok, Tok::End) {
        return Err(parse_error("the end", &tok, index));
    }
    Ok(value)
}

fn parse_error(expected: &str, tok: &Tok, index: usize) -> mlua::Error {
    error(format!(
        "Expected {expected} but found {} at character {}",
        tok.name(),
        index + 1
    ))
}

impl Parser<'_> {
    /// The byte at `i`; the text ends at its first NUL, as a C string.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// The next token and where it starts (where the error is, for an error token).
    fn next_token(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let ch = self.at(start);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return (tok, start);
        }
        if ch == 0 {
            return (Tok::End, start);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return (Tok::Error("invalid token"), start);
        }
        if ch == b'"' {
            return self.string_token();
        }
        let rest = &self.data[start.min(self.data.len())..];
        if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.invalid_number() {
                return (Tok::Error("invalid number"), start);
            }
            return self.number_token();
        }
        if rest.starts_with(b"true") {
            self.pos += 4;
            return (Tok::Bool(true), start);
        }
        if rest.starts_with(b"false") {
            self.pos += 5;
            return (Tok::Bool(false), start);
        }
        if rest.starts_with(b"null") {
            self.pos += 4;
            return (Tok::Null, start);
        }
        if self.cfg.decode_invalid_numbers != 0 && self.invalid_number() {
            return self.number_token();
        }
        (Tok::Error("invalid token"), start)
    }

    /// Numbers strict JSON refuses but the C library's reader takes: a leading `+`, hex,
    /// leading zeros, infinities and NaN.
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> (Tok, usize) {
        let start = self.pos;
        let end = self.data[start..]
            .iter()
            .position(|&b| b == 0)
            .map_or(self.data.len(), |i| start + i);
        match strtod(&self.data[start..end]) {
            Some((n, used)) => {
                self.pos += used;
                (Tok::Num(n), start)
            }
            None => (Tok::Error("invalid number"), start),
        }
    }

    fn string_token(&mut self) -> (Tok, usize) {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return (Tok::Error("unexpected end of string"), self.pos);
            }
            if ch == b'\\' {
                let translated = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => b'\x08',
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => b'\x0c',
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut out) {
                            continue;
                        }
                        return (Tok::Error("invalid unicode escape code"), self.pos);
                    }
                    _ => return (Tok::Error("invalid escape code"), self.pos),
                };
                out.push(translated);
                self.pos += 2;
                continue;
            }
            out.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        (Tok::Str(out), start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = (v << 4) | (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// `\uXXXX` (or a surrogate pair of them) at `pos` as UTF-8; false if malformed.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
        if char::from_u32(cp).is_some() {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            // A lone surrogate code point cannot be one here (pairs are joined, halves
            // refused), but keep the raw three-byte form for completeness.
            out.extend_from_slice(&[
                0xE0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]);
        }
        self.pos += len;
        true
    }

    /// One value from its first token; `slots` as in the encoder.
    fn value(&mut self, tok: Tok, index: usize, slots: usize) -> mlua::Result<Value> {
        Ok(match tok {
            Tok::Str(s) => Value::String(self.lua.create_string(&s)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => Value::NULL,
            Tok::ObjBegin => Value::Table(self.object(slots)?),
            Tok::ArrBegin => Value::Table(self.array(slots)?),
            other => return Err(parse_error("value", &other, index)),
        })
    }

    fn descend(&mut self, slots: usize, need: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth as usize
            && slots + need <= MAX_SLOTS
            && self.depth <= MAX_NESTING
        {
            return Ok(());
        }
        Err(error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.pos
        )))
    }

    fn object(&mut self, slots: usize) -> mlua::Result<Table> {
        self.descend(slots, 3)?;
        let table = self.lua.create_table()?;
        let (mut tok, mut index) = self.next_token();
        if matches!(tok, Tok::ObjEnd) {
            self.depth -= 1;
            return Ok(table);
        }
        loop {
            let Tok::Str(key) = tok else {
                return Err(parse_error("object key string", &tok, index));
            };
            let key = self.lua.create_string(&key)?;
            let (colon, at) = self.next_token();
            if !matches!(colon, Tok::Colon) {
                return Err(parse_error("colon", &colon, at));
            }
            let (first, at) = self.next_token();
            let value = self.value(first, at, slots + 2)?;
            table.raw_set(key, value)?;
            let (next, at) = self.next_token();
            match next {
                Tok::ObjEnd => {
                    self.depth -= 1;
                    return Ok(table);
                }
                Tok::Comma => {}
                other => return Err(parse_error("comma or object end", &other, at)),
            }
            (tok, index) = self.next_token();
        }
    }

    fn array(&mut self, slots: usize) -> mlua::Result<Table> {
        self.descend(slots, 2)?;
        let table = self.lua.create_table()?;
        let (mut tok, mut index) = self.next_token();
        if matches!(tok, Tok::ArrEnd) {
            self.depth -= 1;
            return Ok(table);
        }
        let mut i: i64 = 1;
        loop {
            let value = self.value(tok, index, slots + 1)?;
            table.raw_set(i, value)?;
            i += 1;
            let (next, at) = self.next_token();
            match next {
                Tok::ArrEnd => {
                    self.depth -= 1;
                    return Ok(table);
                }
                Tok::Comma => {}
                other => return Err(parse_error("comma or array end", &other, at)),
            }
            (tok, index) = self.next_token();
        }
    }
}

/// The C library's `strtod` on a prefix of `s`: the value and the bytes it used, None when no
/// number starts there. Takes a sign, decimal and hex forms, `inf`, `infinity` and `nan`.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let negative = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if negative { -v } else { v };
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return Some((sign(f64::INFINITY), i + 8));
    }
    if starts(b"inf") {
        return Some((sign(f64::INFINITY), i + 3));
    }
    if starts(b"nan") {
        let mut used = i + 3;
        if s.get(used) == Some(&b'(') {
            let close = s[used + 1..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
            if let Some(k) = close {
                if s[used + 1 + k] == b')' {
                    used += k + 2;
                }
            }
        }
        return Some((sign(f64::NAN), used));
    }
    if rest.len() >= 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x' {
        if let Some((v, used)) = hex_float(&rest[2..]) {
            return Some((sign(v), i + 2 + used));
        }
        return Some((sign(0.0), i + 1));
    }
    let mut j = i;
    let mut digits = 0;
    while s.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
        digits += 1;
    }
    if s.get(j) == Some(&b'.') {
        j += 1;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            while s.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[i..j]).ok()?;
    let text = text.strip_suffix('.').unwrap_or(text);
    let v: f64 = if text.starts_with('.') {
        format!("0{text}").parse().ok()?
    } else {
        text.replace(".e", "e").replace(".E", "E").parse().ok()?
    };
    Some((sign(v), j))
}

/// A hex float's digits after `0x` (`h.hhhp±d`): the value and the bytes used, None without a
/// digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut mantissa: f64 = 0.0;
    let mut exp: i64 = 0;
    let mut j = 0;
    let mut digits = 0;
    while let Some(d) = s.get(j).and_then(|b| (*b as char).to_digit(16)) {
        mantissa = mantissa * 16.0 + d as f64;
        j += 1;
        digits += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        let mut fraction = 0;
        while let Some(d) = s.get(k).and_then(|b| (*b as char).to_digit(16)) {
            mantissa = mantissa * 16.0 + d as f64;
            k += 1;
            fraction += 1;
        }
        if digits + fraction > 0 {
            j = k;
            digits += fraction;
            exp -= 4 * fraction as i64;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let negative = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            let mut e: i64 = 0;
            while let Some(d) = s.get(k).filter(|b| b.is_ascii_digit()) {
                e = (e * 10 + (d - b'0') as i64).min(100_000);
                k += 1;
            }
            exp += if negative { -e } else { e };
            j = k;
        }
    }
    Some((mantissa * 2f64.powi(exp.clamp(-100_000, 100_000) as i32), j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1e+"), Some((1.0, 1)));
        assert_eq!(strtod(b"1.5E3x"), Some((1500.0, 5)));
        assert_eq!(strtod(b"-0x1F"), Some((-31.0, 5)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"0x1p4"), Some((16.0, 5)));
        assert_eq!(strtod(b"+1"), Some((1.0, 2)));
        assert_eq!(strtod(b"-Infinity"), Some((f64::NEG_INFINITY, 9)));
        assert_eq!(strtod(b"infx").map(|r| r.1), Some(3));
        assert!(strtod(b"nan").unwrap().0.is_nan());
        assert!(strtod(b"-nan").unwrap().0.is_sign_negative());
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"--1"), None);
        assert_eq!(strtod(b".5"), Some((0.5, 2)));
        assert_eq!(strtod(b"1e400"), Some((f64::INFINITY, 5)));
    }

    fn encoder() -> Encoder {
        Encoder {
            cfg: Config::default(),
            out: Vec::new(),
        }
    }

    #[test]
    fn strings_escape_as_the_reference() {
        let mut e = encoder();
        e.string(b"a/b\"c\\\n\x01\x7f\xff");
        assert_eq!(e.out, b"\"a\\/b\\\"c\\\\\\n\\u0001\\u007f\xff\"");
    }

    #[test]
    fn decode_and_encode_round_trip() {
        let lua = Lua::new();
        let cfg = Config::default();
        let v = decode(
            &lua,
            &cfg,
            br#"{"a":[1,2.5,"\u20ac\ud83d\ude00",null,true]}"#,
        )
        .unwrap();
        let mut e = encoder();
        e.value(&v, 0, 1).unwrap();
        assert_eq!(
            String::from_utf8(e.out).unwrap(),
            "{\"a\":[1,2.5,\"\u{20ac}\u{1F600}\",null,true]}"
        );
        let err = decode(&lua, &cfg, b"[1,]").unwrap_err().to_string();
        assert!(err.contains("Expected value but found T_ARR_END at character 4"));
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        let err = decode(&lua, &cfg, deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("Found too many nested data structures (1001) at character 1001"));
    }
}
