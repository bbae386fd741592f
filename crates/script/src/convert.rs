//! Values between Lua and the wire: a command's reply (RESP2 or RESP3 bytes) into Lua values,
//! and a script's Lua result into the caller's reply, both exactly as the server converts them.

use std::ffi::c_int;

use mlua::{ffi, Lua, Table, Value};
use tern_resp::ReplyWriter;

use crate::num;

fn line<'a>(data: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = *pos;
    let end = data[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| start + i)
        .unwrap_or(data.len());
    *pos = (end + 2).min(data.len());
    &data[start..end]
}

fn int_of(text: &[u8]) -> i64 {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

fn bulk<'a>(data: &'a [u8], pos: &mut usize, len: i64) -> &'a [u8] {
    let start = *pos;
    let end = (start + len.max(0) as usize).min(data.len());
    *pos = (end + 2).min(data.len());
    &data[start..end]
}

/// The text of an error's `err` field: `-CODE text` keeps its code (`-TEXT` with no space and
/// any text without the dash get the code `ERR`), trailing CR/LF trimmed.
fn error_field(text: &[u8]) -> Vec<u8> {
    let (coded, text) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let space = if coded {
        text.iter().position(|&b| b == b' ')
    } else {
        None
    };
    let mut full = match space {
        Some(space) => {
            let mut full = text[..space].to_vec();
            full.push(b' ');
            full.extend_from_slice(&text[space + 1..]);
            full
        }
        None => {
            let mut full = b"ERR ".to_vec();
            full.extend_from_slice(text);
            full
        }
    };
    while matches!(full.last(), Some(b'\r' | b'\n')) {
        full.pop();
    }
    full
}

/// Builds the `{err=...}` table of an error (see [`error_field`] for its text).
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("err", lua.create_string(error_field(text))?)?;
    Ok(table)
}

// ---------------------------------------------------------------------------------------------
// A command's reply pushed straight onto the interpreter's stack.
//
// These run inside the C function behind `server.call` (see `call.rs`). An interpreter error
// raised from inside them (out of memory, no stack left) jumps past their frames, which hold
// nothing to drop but, for an error reply, its short text (which it would leak).

/// Pushes a string.
unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring_(state, bytes.as_ptr().cast(), bytes.len());
}

/// Sets `t[name] = <the value on top>` on the table just below it, popping the value.
unsafe fn set_field(state: *mut ffi::lua_State, name: &[u8]) {
    push_bytes(state, name);
    ffi::lua_insert(state, -2);
    ffi::lua_rawset(state, -3);
}

/// Pushes the `{err=...}` table of an error (the text as [`error_table`] takes it), with
/// `ignore_error_stats_update` set when `from_command`.
///
/// # Safety
/// `state` is the state of a C function call in progress, with a free stack slot.
pub(crate) unsafe fn push_error_table(state: *mut ffi::lua_State, text: &[u8], from_command: bool) {
    ffi::luaL_checkstack_(state, 3, c"reply too deep".as_ptr());
    ffi::lua_createtable(state, 0, 2);
    let field = error_field(text);
    push_bytes(state, &field);
    drop(field);
    set_field(state, b"err");
    if from_command {
        ffi::lua_pushboolean(state, 1);
        set_field(state, b"ignore_error_stats_update");
    }
}

/// Pushes one encoded reply (RESP2 or RESP3, starting at `pos`) as the Lua value scripts get:
/// integers as numbers, a null as false (RESP2) or nil (RESP3 `_`), statuses as `{ok=}`,
/// errors as `{err=}`, arrays as sequences, maps as `{map=}`, sets as `{set=}`, doubles as
/// `{double=}`, big numbers as `{big_number=}`, verbatim strings as `{verbatim_string=}`;
/// attributes are skipped.
///
/// # Safety
/// `state` is the state of a C function call in progress.
pub(crate) unsafe fn push_reply(state: *mut ffi::lua_State, data: &[u8], pos: &mut usize) {
    ffi::luaL_checkstack_(state, 4, c"reply too deep".as_ptr());
    if *pos >= data.len() {
        ffi::lua_pushnil(state);
        return;
    }
    let at = *pos;
    let kind = data[at];
    *pos += 1;
    let head = line(data, pos);
    match kind {
        b':' => ffi::lua_pushnumber(state, int_of(head) as f64),
        b'$' => {
            let len = int_of(head);
            if len < 0 {
                ffi::lua_pushboolean(state, 0);
            } else {
                push_bytes(state, bulk(data, pos, len));
            }
        }
        b'+' => {
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, head);
            set_field(state, b"ok");
        }
        b'-' => {
            // The dash and the line, as `error_field` reads an error.
            push_error_table(state, &data[at..at + 1 + head.len()], true);
        }
        b'*' | b'>' => {
            let len = int_of(head);
            if len < 0 {
                ffi::lua_pushboolean(state, 0);
            } else {
                ffi::lua_createtable(state, len.min(1 << 16) as c_int, 0);
                for index in 1..=len {
                    push_reply(state, data, pos);
                    ffi::lua_rawseti_(state, -2, index as c_int);
                }
            }
        }
        b'%' | b'~' => {
            let len = int_of(head);
            ffi::lua_createtable(state, 0, 1);
            ffi::lua_createtable(state, 0, len.min(1 << 16) as c_int);
            for _ in 0..len {
                push_reply(state, data, pos);
                if kind == b'%' {
                    push_reply(state, data, pos);
                } else {
                    ffi::lua_pushboolean(state, 1);
                }
                if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
                    ffi::lua_pop(state, 2);
                } else {
                    ffi::lua_rawset(state, -3);
                }
            }
            set_field(state, if kind == b'%' { b"map" } else { b"set" });
        }
        b'_' => ffi::lua_pushnil(state),
        b'#' => ffi::lua_pushboolean(state, c_int::from(head == b"t")),
        b',' => {
            let text = std::str::from_utf8(head).unwrap_or("0");
            let value = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "-nan" => f64::NAN,
                _ => text.parse().unwrap_or(0.0),
            };
            ffi::lua_createtable(state, 0, 1);
            ffi::lua_pushnumber(state, value);
            set_field(state, b"double");
        }
        b'(' => {
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, head);
            set_field(state, b"big_number");
        }
        b'=' => {
            let body = bulk(data, pos, int_of(head));
            let (format, text) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            ffi::lua_createtable(state, 0, 1);
            ffi::lua_createtable(state, 0, 2);
            push_bytes(state, text);
            set_field(state, b"string");
            push_bytes(state, format);
            set_field(state, b"format");
            set_field(state, b"verbatim_string");
        }
        b'|' => {
            let len = int_of(head);
            for _ in 0..2 * len {
                push_reply(state, data, pos);
                ffi::lua_pop(state, 1);
            }
            push_reply(state, data, pos);
        }
        _ => ffi::lua_pushnil(state),
    }
}

fn string_field(table: &Table, name: &str) -> Option<mlua::String> {
    match table.raw_get::<Value>(name) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The error text of an error table as a reply shows it (`err` as a string or number).
pub fn error_text(table: &Table) -> Vec<u8> {
    match table.get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        Ok(Value::Number(n)) => crate::lua_number_text(n).into_bytes(),
        Ok(Value::Integer(n)) => n.to_string().into_bytes(),
        _ => b"ERR unknown error".to_vec(),
    }
}

fn spaces(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Writes a script's result as the caller's reply. `script_resp3`: the script called
/// `setresp(3)`, which decides how booleans are shown.
pub fn lua_to_reply(value: &Value, out: &mut ReplyWriter<'_>, script_resp3: bool) {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Number(n) => out.int(saturating_i64(*n)),
        Value::Integer(n) => out.int(*n),
        Value::Table(table) => table_to_reply(table, out, script_resp3),
        _ => out.null(),
    }
}

fn saturating_i64(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn table_to_reply(table: &Table, out: &mut ReplyWriter<'_>, script_resp3: bool) {
    if string_field(table, "err").is_some() {
        let mut text = b"-".to_vec();
        text.extend_from_slice(&error_text(table));
        write_error(out, &text);
        return;
    }
    if let Some(ok) = string_field(table, "ok") {
        out.simple(&spaces(&ok.as_bytes()));
        return;
    }
    if let Ok(Value::Number(d)) = table.raw_get::<Value>("double") {
        write_double(out, d);
        return;
    }
    if let Ok(Value::Integer(d)) = table.raw_get::<Value>("double") {
        write_double(out, d as f64);
        return;
    }
    if let Some(big) = string_field(table, "big_number") {
        let text = spaces(&big.as_bytes());
        if out.resp3() {
            out.raw(b"(");
            out.raw(&text);
            out.raw(b"\r\n");
        } else {
            out.bulk(&text);
        }
        return;
    }
    if let Ok(Value::Table(verbatim)) = table.raw_get::<Value>("verbatim_string") {
        if let (Some(format), Some(text)) = (
            string_field(&verbatim, "format"),
            string_field(&verbatim, "string"),
        ) {
            if out.resp3() {
                let format = format.as_bytes();
                let mut fmt3 = [b' '; 3];
                for (slot, byte) in fmt3.iter_mut().zip(format.iter()) {
                    *slot = *byte;
                }
                let text = text.as_bytes();
                out.raw(format!("={}\r\n", text.len() + 4).as_bytes());
                out.raw(&fmt3);
                out.raw(b":");
                out.raw(&text);
                out.raw(b"\r\n");
            } else {
                out.bulk(&text.as_bytes());
            }
            return;
        }
    }
    if let Ok(Value::Table(map)) = table.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> =
            map.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (key, value) in &pairs {
            lua_to_reply(key, out, script_resp3);
            lua_to_reply(value, out, script_resp3);
        }
        return;
    }
    if let Ok(Value::Table(set)) = table.raw_get::<Value>("set") {
        let keys: Vec<Value> = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for key in &keys {
            lua_to_reply(key, out, script_resp3);
        }
        return;
    }
    let mut items = Vec::new();
    let mut index = 1;
    loop {
        match table.raw_get::<Value>(index) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(value) => items.push(value),
        }
        index += 1;
    }
    out.array(items.len());
    for item in &items {
        lua_to_reply(item, out, script_resp3);
    }
}

/// An error reply from text that starts with `-`, with newlines made spaces.
pub fn write_error(out: &mut ReplyWriter<'_>, text: &[u8]) {
    out.error(text.strip_prefix(b"-").unwrap_or(text));
}

/// A double reply: `,text` in RESP3, a bulk string in RESP2.
pub fn write_double(out: &mut ReplyWriter<'_>, d: f64) {
    let text = num::d2string(d);
    if out.resp3() {
        out.raw(b",");
        out.raw(text.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_resp::Protocol;

    fn round(lua: &Lua, reply: &[u8], protocol: Protocol, script_resp3: bool) -> Vec<u8> {
        // SAFETY: the closure pushes one value, reserving its slots.
        let value = unsafe {
            lua.exec_raw::<Value>((), |state| push_reply(state, reply, &mut 0))
                .unwrap()
        };
        let mut out = Vec::new();
        lua_to_reply(
            &value,
            &mut ReplyWriter::new(&mut out, protocol),
            script_resp3,
        );
        out
    }

    #[test]
    fn replies_into_lua_and_back() {
        let lua = Lua::new();
        let r2 = Protocol::Resp2;
        let r3 = Protocol::Resp3;
        assert_eq!(round(&lua, b":5\r\n", r2, false), b":5\r\n");
        assert_eq!(round(&lua, b"$3\r\nabc\r\n", r2, false), b"$3\r\nabc\r\n");
        assert_eq!(round(&lua, b"$-1\r\n", r2, false), b"$-1\r\n");
        assert_eq!(round(&lua, b"$-1\r\n", r3, false), b"_\r\n");
        assert_eq!(round(&lua, b"*-1\r\n", r2, false), b"$-1\r\n");
        assert_eq!(round(&lua, b"+OK\r\n", r2, false), b"+OK\r\n");
        assert_eq!(round(&lua, b"-ERR bad\r\n", r2, false), b"-ERR bad\r\n");
        assert_eq!(round(&lua, b"-NOCODE\r\n", r2, false), b"-ERR NOCODE\r\n");
        assert_eq!(
            round(&lua, b"*3\r\n:1\r\n$-1\r\n:3\r\n", r2, false),
            b"*3\r\n:1\r\n$-1\r\n:3\r\n"
        );
        assert_eq!(
            round(&lua, b"%1\r\n$1\r\na\r\n:1\r\n", r2, true),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            round(&lua, b"%1\r\n$1\r\na\r\n:1\r\n", r3, true),
            b"%1\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            round(&lua, b"~1\r\n$1\r\na\r\n", r3, true),
            b"~1\r\n$1\r\na\r\n"
        );
        assert_eq!(round(&lua, b"#t\r\n", r3, true), b"#t\r\n");
        assert_eq!(round(&lua, b"#f\r\n", r2, true), b":0\r\n");
        assert_eq!(round(&lua, b"#f\r\n", r2, false), b"$-1\r\n");
        assert_eq!(round(&lua, b",1.5\r\n", r3, true), b",1.5\r\n");
        assert_eq!(round(&lua, b",1.5\r\n", r2, true), b"$3\r\n1.5\r\n");
        assert_eq!(round(&lua, b"(123\r\n", r3, true), b"(123\r\n");
        assert_eq!(
            round(&lua, b"=7\r\ntxt:abc\r\n", r3, true),
            b"=7\r\ntxt:abc\r\n"
        );
        assert_eq!(round(&lua, b"_\r\n", r3, true), b"_\r\n");
    }
}
