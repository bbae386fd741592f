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

/// Results kept in a Lua table (1..count, nils included) rather than as handles: the binding
/// holds each handle in a slot of a stack as limited as the interpreter's.
struct Results {
    list: Table,
    count: usize,
}

impl Results {
    fn new(lua: &Lua) -> mlua::Result<Results> {
        Ok(Results {
            list: lua.create_table()?,
            count: 0,
        })
    }

    fn push(&mut self, value: Value) -> mlua::Result<()> {
        self.count += 1;
        self.list.raw_set(self.count, value)
    }
}

type Outcome = Result<Results, Failure>;

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let entries = entries_function(lua)?;
    t.set(
        "pack",
        wrapped(lua, move |lua, args| pack(lua, &entries, args))?,
    )?;
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
    super::call_packed(state, 3);
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
    F: Fn(&Lua, Args) -> Outcome + 'static,
{
    let raw =
        lua.create_function(
            move |lua, (t, n): (Table, usize)| match f(lua, Args { n, t }) {
                Ok(results) => Ok((OK, Value::Table(results.list), results.count as i64)),
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

/// The C function listing a table's entries (see [`entries`]).
fn entries_function(lua: &Lua) -> mlua::Result<mlua::Function> {
    // SAFETY: `entries` follows the C function protocol and reserves the slots it uses.
    unsafe { lua.create_c_function(entries) }
}

/// Lists the entries of the table given, in the interpreter's order, as a new table
/// `{k1, v1, k2, v2, ...}` and their count: keys stay exact there (the binding turns a key
/// closer to zero than its epsilon into 0, which it could not continue a traversal from), and
/// one table holds what would otherwise take a binding handle per key and value.
unsafe extern "C-unwind" fn entries(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checkstack(state, 4, c"in function entries".as_ptr());
    ffi::lua_settop(state, 1);
    ffi::lua_createtable(state, 0, 0);
    let mut n: c_int = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, 1) != 0 {
        ffi::lua_pushvalue(state, -2);
        ffi::lua_rawseti_(state, 2, 2 * n + 1);
        ffi::lua_rawseti_(state, 2, 2 * n + 2);
        n += 1;
    }
    ffi::lua_pushinteger(state, n as ffi::lua_Integer);
    2
}

fn pack(lua: &Lua, entries: &mlua::Function, args: Args) -> Outcome {
    if args.n == 0 {
        return Err(arg_error_at(lua, 1, 0, "MessagePack pack needs input.").into());
    }
    let mut out = Vec::new();
    for i in 1..=args.n {
        encode(entries, &mut out, &args.get(i)?, 0)?;
    }
    let mut results = Results::new(lua)?;
    results.push(Value::String(lua.create_string(&out)?))?;
    Ok(results)
}

/// Appends `value`, found `level` tables deep.
fn encode(
    entries: &mlua::Function,
    out: &mut Vec<u8>,
    value: &Value,
    level: usize,
) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(out, *n),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(entries, out, t, level)?,
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

fn encode_table(
    entries: &mlua::Function,
    out: &mut Vec<u8>,
    t: &Table,
    level: usize,
) -> mlua::Result<()> {
    let (list, n): (Table, usize) = entries.call(t)?;
    let read = |i: usize| exact(&list, Value::Integer(i as i64), list.raw_get(i)?);
    if is_array(n, |i| read(2 * i - 1))? {
        let len = t.raw_len();
        encode_header(out, len, 0x90, 0xdc);
        for i in 1..=len {
            let v = exact(t, Value::Integer(i as i64), t.raw_get(i)?)?;
            encode(entries, out, &v, level + 1)?;
        }
    } else {
        encode_header(out, n, 0x80, 0xde);
        for i in 1..=n {
            encode(entries, out, &read(2 * i - 1)?, level + 1)?;
            encode(entries, out, &read(2 * i)?, level + 1)?;
        }
    }
    Ok(())
}

/// Whether the `n` keys (`key(1..=n)`) are exactly 1..n (numbers, whole, within a C int), the
/// empty table included.
fn is_array(n: usize, key: impl Fn(usize) -> mlua::Result<Value>) -> mlua::Result<bool> {
    let mut max = 0i64;
    for i in 1..=n {
        let k = match key(i)? {
            Value::Integer(k) => k as f64,
            Value::Number(k) => k,
            _ => return Ok(false),
        };
        if !(k > 0.0 && k <= i32::MAX as f64 && k.trunc() == k) {
            return Ok(false);
        }
        max = max.max(k as i64);
    }
    Ok(max == n as i64)
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
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
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
    let mut results = Results::new(lua)?;
    if !all {
        // The next offset goes in front; its value is known at the end.
        results.push(Value::Nil)?;
    }
    let work = lua.create_table()?;
    let mut count = 0i64;
    while cur.pos < len && count < limit {
        let value = decode(lua, &mut cur, &work, below + count as usize)?;
        results.push(value)?;
        count += 1;
    }
    if !all {
        if below + count as usize + 1 > MAX_SLOTS {
            return Err(overflow("in function mp_unpack_full"));
        }
        let next = if cur.pos == len { -1 } else { cur.pos as i64 };
        results.list.raw_set(1, next)?;
    }
    Ok(results)
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

/// A table being filled; the table itself (and its pending map key) sit in the work table at
/// `2 * depth - 1` (and `2 * depth`).
struct Frame {
    map: bool,
    left: usize,
    index: i64,
    key_pending: bool,
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
        0xd9..=0xdb => {
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
/// tables are kept in `work` rather than on the machine stack: the slot limit allows thousands.
fn decode(lua: &Lua, cur: &mut Cursor, work: &Table, top: usize) -> Result<Value, Failure> {
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
                    work.raw_set(2 * frames.len() + 1, table)?;
                    frames.push(Frame {
                        map: false,
                        left: n,
                        index: 1,
                        key_pending: false,
                    });
                    continue;
                }
                Value::Table(table)
            }
            Item::Map(n) => {
                let table = lua.create_table()?;
                if n > 0 {
                    held += 1;
                    work.raw_set(2 * frames.len() + 1, table)?;
                    frames.push(Frame {
                        map: true,
                        left: n,
                        index: 0,
                        key_pending: false,
                    });
                    continue;
                }
                Value::Table(table)
            }
        };
        // Hand the value to the tables it completes.
        loop {
            let depth = frames.len();
            let Some(frame) = frames.last_mut() else {
                return Ok(value);
            };
            let table: Table = work.raw_get(2 * depth - 1)?;
            if frame.map {
                if !frame.key_pending {
                    work.raw_set(2 * depth, value)?;
                    frame.key_pending = true;
                    held += 1;
                    break;
                }
                let key: Value = work.raw_get(2 * depth)?;
                match &key {
                    Value::Nil => return Err(Failure::Plain("table index is nil".into())),
                    Value::Number(n) if n.is_nan() => {
                        return Err(Failure::Plain("table index is NaN".into()))
                    }
                    _ => {}
                }
                work.raw_set(2 * depth, Value::Nil)?;
                table.raw_set(key, value)?;
                frame.key_pending = false;
                held -= 1;
            } else {
                table.raw_set(frame.index, value)?;
                frame.index += 1;
            }
            frame.left -= 1;
            if frame.left > 0 {
                break;
            }
            let done = frames.pop().expect("a frame");
            held -= if done.map { 1 } else { 2 };
            work.raw_set(2 * depth - 1, Value::Nil)?;
            value = Value::Table(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(value: f64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_number(&mut out, value);
        out
    }

    fn unpacked(lua: &Lua, bytes: &[u8]) -> Result<Vec<Value>, String> {
        let results = unpack(lua, bytes, 0, 0, 1).map_err(|e| match e {
            Failure::Positioned(t) | Failure::Plain(t) => t,
            Failure::Lua(e) => e.to_string(),
        })?;
        (1..=results.count)
            .map(|i| results.list.raw_get(i).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn integers_take_the_smallest_form() {
        let cases: [(i64, &[u8]); 12] = [
            (0, b"\x00"),
            (127, b"\x7f"),
            (128, b"\xcc\x80"),
            (256, b"\xcd\x01\x00"),
            (65536, b"\xce\x00\x01\x00\x00"),
            (1 << 32, b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
            (-1, b"\xff"),
            (-32, b"\xe0"),
            (-33, b"\xd0\xdf"),
            (-129, b"\xd1\xff\x7f"),
            (-32769, b"\xd2\xff\xff\x7f\xff"),
            (i64::MIN, b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
        ];
        for (n, bytes) in cases {
            let mut out = Vec::new();
            encode_int(&mut out, n);
            assert_eq!(out, bytes, "{n}");
        }
    }

    #[test]
    fn numbers_are_floats_when_they_survive_one() {
        assert_eq!(packed(-0.0), b"\x00");
        assert_eq!(packed(0.5), b"\xca\x3f\x00\x00\x00");
        assert_eq!(packed(2f64.powi(63)), b"\xca\x5f\x00\x00\x00");
        assert_eq!(packed(f64::INFINITY), b"\xca\x7f\x80\x00\x00");
        assert_eq!(packed(0.1)[0], 0xcb);
        assert_eq!(packed(f64::NAN)[0], 0xcb);
        assert_eq!(packed(1e-300)[0], 0xcb);
    }

    #[test]
    fn strings_take_their_length_form() {
        for (len, head) in [
            (31, vec![0xbf]),
            (32, vec![0xd9, 32]),
            (256, vec![0xda, 1, 0]),
        ] {
            let mut out = Vec::new();
            encode_bytes(&mut out, &vec![b'a'; len]);
            assert_eq!(out[..head.len()], head[..]);
            assert_eq!(out.len(), head.len() + len);
        }
    }

    #[test]
    fn tables_are_arrays_only_for_keys_one_to_n() {
        let lua = Lua::new();
        let entries = entries_function(&lua).unwrap();
        let t: Table = lua.load("return {10, 20}").eval().unwrap();
        let mut out = Vec::new();
        encode_table(&entries, &mut out, &t, 0).unwrap();
        assert_eq!(out, b"\x92\x0a\x14");
        let t: Table = lua.load("return {[1] = 1, [3] = 3}").eval().unwrap();
        out.clear();
        encode_table(&entries, &mut out, &t, 0).unwrap();
        assert_eq!(out[0], 0x82);
        let t: Table = lua.load("local t = {} t[1] = t return t").eval().unwrap();
        out.clear();
        encode_table(&entries, &mut out, &t, 0).unwrap();
        assert_eq!(out, [&[0x91u8; 16][..], &[0xc0]].concat());
        // A key too close to zero for the binding's integers stays exact.
        let t: Table = lua.load("return {[1e-300] = true}").eval().unwrap();
        out.clear();
        encode_table(&entries, &mut out, &t, 0).unwrap();
        assert_eq!(
            out,
            [&[0x81u8, 0xcb][..], &1e-300f64.to_be_bytes(), &[0xc3]].concat()
        );
    }

    #[test]
    fn decoding_reads_every_form_and_refuses_bad_input() {
        let lua = Lua::new();
        let values = unpacked(
            &lua,
            b"\x01\xff\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa2ab\xc3",
        )
        .unwrap();
        assert_eq!(values.len(), 5);
        assert_eq!(values[0], Value::Number(1.0));
        assert_eq!(values[1], Value::Number(-1.0));
        assert_eq!(values[2], Value::Number(-1.0));
        assert_eq!(values[4], Value::Boolean(true));
        let nested = unpacked(&lua, b"\x92\x81\xa1k\x05\x90").unwrap();
        let t = match &nested[0] {
            Value::Table(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        let inner: Table = t.raw_get(1).unwrap();
        assert_eq!(inner.raw_get::<i64>("k").unwrap(), 5);
        assert_eq!(
            unpacked(&lua, b"\x91").unwrap_err(),
            "Missing bytes in input."
        );
        assert_eq!(
            unpacked(&lua, b"\xdb\x00\x00\x00\x05ab").unwrap_err(),
            "Missing bytes in input."
        );
        assert_eq!(
            unpacked(&lua, b"\xc4\x01a").unwrap_err(),
            "Bad data format in input."
        );
        assert_eq!(
            unpacked(&lua, b"\xd4\x01\x02").unwrap_err(),
            "Bad data format in input."
        );
        assert_eq!(
            unpacked(&lua, b"\x81\xc0\x01").unwrap_err(),
            "table index is nil"
        );
    }

    #[test]
    fn decoding_stops_at_the_slot_limit() {
        let lua = Lua::new();
        assert_eq!(
            unpacked(&lua, &[1; MAX_SLOTS - 1]).unwrap().len(),
            MAX_SLOTS - 1
        );
        assert!(unpacked(&lua, &[1; MAX_SLOTS])
            .unwrap_err()
            .starts_with("stack overflow"));
        // Thousands of tables deep, held outside the machine stack.
        let mut deep = vec![0x91; 3998];
        deep.push(1);
        assert_eq!(unpacked(&lua, &deep).unwrap().len(), 1);
    }
}
