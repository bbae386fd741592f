//! `cmsgpack`: MessagePack encoding and decoding with the reference library's choices (numbers
//! that are whole and fit 64 bits as the smallest integer form, other numbers as a float when
//! they survive the trip through one, else a double; tables as arrays when their keys are 1..n,
//! else maps; tables nested 16 deep and everything without an encoding as nil) and its decoder's
//! limits (no bin or ext types, the interpreter's stack-slot limit on values returned at once).

use std::ffi::c_int;

use mlua::{ffi, Lua, Table, Value};

use super::{arg_error_at, error, exact, fmt_g, to_number, type_name, Args};

const NAME: &str = "cmsgpack";
const VERSION: &str = "lua-cmsgpack 0.4.0";
const COPYRIGHT: &str = "Copyright (C) 2012, Redis Ltd.";
const DESCRIPTION: &str = "MessagePack C implementation for Lua";

/// Tables nested this deep are encoded as nil (what keeps cycles finite).
const MAX_NESTING: usize = 16;

/// The interpreter's limit on stack slots a C function may hold (`LUAI_MAXCSTACK`): decoding
/// stops with a stack overflow where the reference library could not reserve a slot.
const MAX_SLOTS: usize = 8000;

/// A failure a library function reports.
enum Failure {
    /// An error raised with the script's position in front (`luaL_error`).
    Positioned(String),
    /// An error raised by the interpreter itself inside the library, which has no position.
    Plain(String),
    /// An error from the binding.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Failure {
        Failure::Lua(e)
    }
}

type Outcome = Result<Vec<Value>, Failure>;

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", wrapped(lua, pack)?)?;
    t.set(
        "unpack",
        wrapped(lua, |lua, args| unpack_entry(lua, args, Mode::All))?,
    )?;
    t.set(
        "unpack_one",
        wrapped(lua, |lua, args| unpack_entry(lua, args, Mode::One))?,
    )?;
    t.set(
        "unpack_limit",
        wrapped(lua, |lua, args| unpack_entry(lua, args, Mode::Limit))?,
    )?;
    t.set("_NAME", NAME)?;
    t.set("_VERSION", VERSION)?;
    t.set("_COPYRIGHT", COPYRIGHT)?;
    t.set("_DESCRIPTION", DESCRIPTION)?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// The C function in front of each library function.

/// Results of the Rust side: 0 then a table of results and their count, or 1 then the text of
/// an error to raise as a plain string.
const OK: i64 = 0;
const RAISE: i64 = 1;

/// Passes the arguments packed in a table with their count (numbers exact, as the shared shim
/// does), then either returns the results the Rust side listed (any number of them, nils
/// included) or raises its error text as a plain string, without a position, as the
/// interpreter's own errors inside a C function are.
unsafe extern "C-unwind" fn entry(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::luaL_checkstack(state, 4, c"too many arguments".as_ptr());
    ffi::lua_createtable(state, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti_(state, -2, i);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, -2);
    ffi::lua_pushinteger(state, n as ffi::lua_Integer);
    ffi::lua_call(state, 2, 3);
    // Stack: args..., tag, payload, count.
    let tag = ffi::lua_tointeger(state, -3);
    let count = ffi::lua_tointeger(state, -1) as c_int;
    ffi::lua_pop(state, 1);
    if tag == RAISE as ffi::lua_Integer {
        ffi::lua_error(state);
    }
    ffi::lua_replace(state, 1);
    ffi::lua_settop(state, 1);
    if ffi::lua_checkstack(state, count) == 0 {
        return ffi::luaL_error(state, c"stack overflow".as_ptr());
    }
    for i in 1..=count {
        ffi::lua_rawgeti(state, 1, i as ffi::lua_Integer);
    }
    count
}

/// A library function behind [`entry`]. Its argument errors name the function one level up the
/// stack ([`arg_error_at`] with level 1).
fn wrapped<F>(lua: &Lua, f: F) -> mlua::Result<mlua::Function>
where
    F: Fn(&Lua, Args) -> Outcome + Send + 'static,
{
    let raw =
        lua.create_function(
            move |lua, (t, n): (Table, usize)| match f(lua, Args { n, t }) {
                Ok(values) => {
                    let count = values.len() as i64;
                    let list = lua.create_table_with_capacity(values.len(), 0)?;
                    for (i, v) in values.into_iter().enumerate() {
                        list.raw_set(i + 1, v)?;
                    }
                    Ok((OK, Value::Table(list), count))
                }
                Err(Failure::Plain(text)) => {
                    Ok((RAISE, Value::String(lua.create_string(&text)?), 0))
                }
                Err(Failure::Positioned(text)) => Err(error(text)),
                Err(Failure::Lua(e)) => Err(e),
            },
        )?;
    // SAFETY: the closure only pushes a C closure over the function it was given.
    unsafe { lua.exec_raw::<mlua::Function>(raw, |state| ffi::lua_pushcclosure(state, entry, 1)) }
}

// ---------------------------------------------------------------------------------------------
// Encoding.

fn pack(lua: &Lua, args: Args) -> Outcome {
    if args.n == 0 {
        return Err(arg_error_at(lua, 1, 0, "MessagePack pack needs input.").into());
    }
    let mut out = Vec::new();
    for i in 1..=args.n {
        encode(&mut out, &args.get(i)?, 0)?;
    }
    Ok(vec![Value::String(lua.create_string(&out)?)])
}

/// Appends `value`, found `level` tables deep.
fn encode(out: &mut Vec<u8>, value: &Value, level: usize) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(out, *n),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // Whole numbers a 64-bit integer holds exactly are integers (-0 included); 2^63 is not.
    if n.is_finite()
        && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n)
        && n.trunc() == n
    {
        return encode_int(out, n as i64);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// An array or map header: the fix form up to 15 entries, then 16 and 32 bits.
fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, wide: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize) -> mlua::Result<()> {
    let mut pairs = Vec::new();
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair?;
        let v = exact(t, k.clone(), v)?;
        pairs.push((k, v));
    }
    if is_array(&pairs) {
        let len = t.raw_len();
        encode_header(out, len, 0x90, 0xdc);
        for i in 1..=len {
            let v = exact(t, Value::Integer(i as i64), t.raw_get(i)?)?;
            encode(out, &v, level + 1)?;
        }
    } else {
        encode_header(out, pairs.len(), 0x80, 0xde);
        for (k, v) in &pairs {
            encode(out, k, level + 1)?;
            encode(out, v, level + 1)?;
        }
    }
    Ok(())
}

/// Whether the keys are exactly 1..n (numbers, whole, within a C int), the empty table included.
fn is_array(pairs: &[(Value, Value)]) -> bool {
    let mut max = 0i64;
    for (k, _) in pairs {
        let n = match k {
            Value::Integer(n) => *n as f64,
            Value::Number(n) => *n,
            _ => return false,
        };
        if !(n > 0.0 && n <= i32::MAX as f64 && n.trunc() == n) {
            return false;
        }
        max = max.max(n as i64);
    }
    max == pairs.len() as i64
}

// ---------------------------------------------------------------------------------------------
// Decoding.

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    All,
    One,
    Limit,
}

/// `lua_tointeger` on a number: truncated, out-of-range values (and NaN) as the machine's
/// conversion gives them.
fn c_integer(n: f64) -> i64 {
    if n.is_nan() || n >= 9_223_372_036_854_775_808.0 || n < -9_223_372_036_854_775_808.0 {
        i64::MIN
    } else {
        n as i64
    }
}

/// Argument `i` as an integer the way `luaL_checkinteger` / `luaL_optinteger` read it.
fn integer_arg(lua: &Lua, args: &Args, i: usize, default: Option<i64>) -> Result<i64, Failure> {
    let v = if i <= args.n {
        Some(args.get(i)?)
    } else {
        None
    };
    if let Some(d) = default {
        if matches!(v, None | Some(Value::Nil)) {
            return Ok(d);
        }
    }
    match to_number(lua, v.as_ref()) {
        Some(n) => Ok(c_integer(n)),
        None => {
            let name = type_name(v.as_ref());
            Err(arg_error_at(lua, 1, i, &format!("number expected, got {name}")).into())
        }
    }
}

fn unpack_entry(lua: &Lua, args: Args, mode: Mode) -> Outcome {
    let (limit, offset) = match mode {
        Mode::All => (0, 0),
        Mode::One => (1, integer_arg(lua, &args, 2, Some(0))?),
        Mode::Limit => {
            let limit = integer_arg(lua, &args, 2, None)?;
            (limit, integer_arg(lua, &args, 3, Some(0))?)
        }
    };
    let first = if args.n >= 1 {
        Some(args.get(1)?)
    } else {
        None
    };
    let bytes = match &first {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Integer(n)) => fmt_g(*n as f64, 14).into_bytes(),
        Some(Value::Number(n)) => fmt_g(*n, 14).into_bytes(),
        other => {
            let name = type_name(other.as_ref());
            return Err(arg_error_at(lua, 1, 1, &format!("string expected, got {name}")).into());
        }
    };
    // The slots held below the results: every argument for `unpack`, only the input otherwise.
    let below = if mode == Mode::All { args.n } else { 1 };
    unpack(lua, &bytes, limit, offset, below)
}

/// Decodes up to `limit` values from `offset` (all of them when both are 0, and then without
/// the next offset in front).
fn unpack(lua: &Lua, s: &[u8], limit: i64, offset: i64, below: usize) -> Outcome {
    let len = s.len();
    let all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Failure::Positioned(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Failure::Positioned(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor {
        s,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    let mut count = 0i64;
    while cur.pos < len && count < limit {
        values.push(decode(lua, &mut cur, below + values.len())?);
        count += 1;
    }
    if !all {
        let next = if cur.pos == len { -1 } else { cur.pos as i64 };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(values)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.s.len() - self.pos
    }

    /// The next `n` bytes after the type byte, or the truncation error.
    fn take(&mut self, skip: usize, n: usize) -> Result<&[u8], Failure> {
        if self.left() < skip + n {
            return Err(missing());
        }
        let start = self.pos + skip;
        self.pos = start + n;
        Ok(&self.s[start..start + n])
    }
}

fn missing() -> Failure {
    Failure::Positioned("Missing bytes in input.".into())
}

fn overflow(what: &str) -> Failure {
    Failure::Positioned(format!("stack overflow ({what})"))
}

/// A table being filled.
struct Frame {
    table: Table,
    map: bool,
    left: usize,
    index: i64,
    key: Option<Value>,
}

/// What a type byte starts.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| acc << 8 | b as u64)
}

/// Reads one item's head (a whole scalar, or a container's length).
fn item(lua: &Lua, cur: &mut Cursor) -> Result<Item, Failure> {
    let t = cur.s[cur.pos];
    let num = |n: f64| Ok(Item::Value(Value::Number(n)));
    match t {
        0xcc => num(cur.take(1, 1)?[0] as f64),
        0xd0 => num(cur.take(1, 1)?[0] as i8 as f64),
        0xcd => num(be(cur.take(1, 2)?) as f64),
        0xd1 => num(be(cur.take(1, 2)?) as u16 as i16 as f64),
        0xce => num(be(cur.take(1, 4)?) as f64),
        0xd2 => num(be(cur.take(1, 4)?) as u32 as i32 as f64),
        // Unsigned 64 bits go through a signed integer: 2^63 and above come out negative.
        0xcf | 0xd3 => num(be(cur.take(1, 8)?) as i64 as f64),
        0xc0 => {
            cur.pos += 1;
            Ok(Item::Value(Value::Nil))
        }
        0xc2 | 0xc3 => {
            cur.pos += 1;
            Ok(Item::Value(Value::Boolean(t == 0xc3)))
        }
        0xca => num(f32::from_bits(be(cur.take(1, 4)?) as u32) as f64),
        0xcb => num(f64::from_bits(be(cur.take(1, 8)?))),
        0xd9 | 0xda | 0xdb => {
            let width = 1 << (t - 0xd9);
            if cur.left() < 1 + width {
                return Err(missing());
            }
            let n = be(&cur.s[cur.pos + 1..cur.pos + 1 + width]) as usize;
            if t == 0xdb {
                // The 32-bit form consumes its header before checking the body.
                cur.pos += 5;
                string(lua, cur.take(0, n)?)
            } else {
                string(lua, cur.take(1 + width, n)?)
            }
        }
        0xdc | 0xde => Ok(container(t == 0xde, be(cur.take(1, 2)?) as usize)),
        0xdd | 0xdf => Ok(container(t == 0xdf, be(cur.take(1, 4)?) as usize)),
        _ if t & 0x80 == 0 => {
            cur.pos += 1;
            num(t as f64)
        }
        _ if t & 0xe0 == 0xe0 => {
            cur.pos += 1;
            num(t as i8 as f64)
        }
        _ if t & 0xe0 == 0xa0 => string(lua, cur.take(1, (t & 0x1f) as usize)?),
        _ if t & 0xf0 == 0x90 => {
            cur.pos += 1;
            Ok(Item::Array((t & 0xf) as usize))
        }
        _ if t & 0xf0 == 0x80 => {
            cur.pos += 1;
            Ok(Item::Map((t & 0xf) as usize))
        }
        _ => Err(Failure::Positioned("Bad data format in input.".into())),
    }
}

fn container(map: bool, n: usize) -> Item {
    if map {
        Item::Map(n)
    } else {
        Item::Array(n)
    }
}

fn string(lua: &Lua, bytes: &[u8]) -> Result<Item, Failure> {
    Ok(Item::Value(Value::String(lua.create_string(bytes)?)))
}

/// Decodes one value; `top` is the stack slots the reference library holds before it. Nested
/// tables are kept on a list rather than the machine stack: the slot limit allows thousands.
fn decode(lua: &Lua, cur: &mut Cursor, top: usize) -> Result<Value, Failure> {
    let mut frames: Vec<Frame> = Vec::new();
    // Slots held by the tables being filled: a table and its pending index or key.
    let mut held = 0usize;
    loop {
        if cur.left() == 0 {
            return Err(missing());
        }
        if top + held + 1 > MAX_SLOTS {
            return Err(overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let mut value = match item(lua, cur)? {
            Item::Value(v) => v,
            Item::Array(n) => {
                if top + held + 2 > MAX_SLOTS {
                    return Err(overflow("in function mp_decode_to_lua_array"));
                }
                let table = lua.create_table()?;
                if n > 0 {
                    held += 2;
                    frames.push(Frame {
                        table,
                        map: false,
                        left: n,
                        index: 1,
                        key: None,
                    });
                    continue;
                }
                Value::Table(table)
            }
            Item::Map(n) => {
                let table = lua.create_table()?;
                if n > 0 {
                    held += 1;
                    frames.push(Frame {
                        table,
                        map: true,
                        left: n,
                        index: 0,
                        key: None,
                    });
                    continue;
                }
                Value::Table(table)
            }
        };
        // Hand the value to the tables it completes.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(value);
            };
            if frame.map {
                match frame.key.take() {
                    None => {
                        frame.key = Some(value);
                        held += 1;
                        break;
                    }
                    Some(key) => {
                        match &key {
                            Value::Nil => return Err(Failure::Plain("table index is nil".into())),
                            Value::Number(n) if n.is_nan() => {
                                return Err(Failure::Plain("table index is NaN".into()))
                            }
                            _ => {}
                        }
                        frame.table.raw_set(key, value)?;
                        held -= 1;
                    }
                }
            } else {
                frame.table.raw_set(frame.index, value)?;
                frame.index += 1;
            }
            frame.left -= 1;
            if frame.left > 0 {
                break;
            }
            let done = frames.pop().expect("a frame");
            held -= if done.map { 1 } else { 2 };
            value = Value::Table(done.table);
        }
    }
}

/// Used by the unit tests: the values `cmsgpack.unpack` gives for `bytes`.
#[cfg(test)]
fn unpack_all(lua: &Lua, bytes: &[u8]) -> Result<Vec<Value>, String> {
    unpack(lua, bytes, 0, 0, 1).map_err(|e| match e {
        Failure::Positioned(t) | Failure::Plain(t) => t,
        Failure::Lua(e) => e.to_string(),
    })
}
