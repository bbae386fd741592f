//! Values between Lua and the wire: a command's reply (RESP2 or RESP3 bytes) into Lua values,
//! and a script's Lua result into the caller's reply, both exactly as the server converts them.

use mlua::{Lua, Table, Value};
use tern_resp::ReplyWriter;

use crate::num;

/// Parses one encoded reply into a Lua value. Errors become `{err = "CODE text"}`.
pub fn reply_to_lua(lua: &Lua, reply: &[u8]) -> mlua::Result<Value> {
    let mut pos = 0;
    parse(lua, reply, &mut pos)
}

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

/// Builds the `{err=...}` table of an error: `-CODE text` keeps its code (`-TEXT` with no space
/// and any text without the dash get the code `ERR`), trailing CR/LF trimmed.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
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
    let table = lua.create_table()?;
    table.raw_set("err", lua.create_string(&full)?)?;
    Ok(table)
}

fn parse(lua: &Lua, data: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    if *pos >= data.len() {
        return Ok(Value::Nil);
    }
    let kind = data[*pos];
    *pos += 1;
    let head = line(data, pos);
    Ok(match kind {
        b':' => Value::Number(int_of(head) as f64),
        b'$' => {
            let len = int_of(head);
            if len < 0 {
                Value::Boolean(false)
            } else {
                Value::String(lua.create_string(bulk(data, pos, len))?)
            }
        }
        b'+' => {
            let table = lua.create_table()?;
            table.raw_set("ok", lua.create_string(head)?)?;
            Value::Table(table)
        }
        b'-' => {
            let mut text = b"-".to_vec();
            text.extend_from_slice(head);
            let table = error_table(lua, &text)?;
            table.raw_set("ignore_error_stats_update", true)?;
            Value::Table(table)
        }
        b'*' => {
            let len = int_of(head);
            if len < 0 {
                Value::Boolean(false)
            } else {
                let table = lua.create_table_with_capacity(len as usize, 0)?;
                for index in 1..=len {
                    let value = parse(lua, data, pos)?;
                    table.raw_set(index, value)?;
                }
                Value::Table(table)
            }
        }
        b'%' => {
            let len = int_of(head);
            let inner = lua.create_table()?;
            for _ in 0..len {
                let key = parse(lua, data, pos)?;
                let value = parse(lua, data, pos)?;
                if !key.is_nil() {
                    inner.raw_set(key, value)?;
                }
            }
            let table = lua.create_table()?;
            table.raw_set("map", inner)?;
            Value::Table(table)
        }
        b'~' => {
            let len = int_of(head);
            let inner = lua.create_table()?;
            for _ in 0..len {
                let key = parse(lua, data, pos)?;
                if !key.is_nil() {
                    inner.raw_set(key, true)?;
                }
            }
            let table = lua.create_table()?;
            table.raw_set("set", inner)?;
            Value::Table(table)
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let text = std::str::from_utf8(head).unwrap_or("0");
            let value = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "-nan" => f64::NAN,
                _ => text.parse().unwrap_or(0.0),
            };
            let table = lua.create_table()?;
            table.raw_set("double", value)?;
            Value::Table(table)
        }
        b'(' => {
            let table = lua.create_table()?;
            table.raw_set("big_number", lua.create_string(head)?)?;
            Value::Table(table)
        }
        b'=' => {
            let body = bulk(data, pos, int_of(head));
            let (format, text) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            let inner = lua.create_table()?;
            inner.raw_set("string", lua.create_string(text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            let table = lua.create_table()?;
            table.raw_set("verbatim_string", inner)?;
            Value::Table(table)
        }
        b'|' => {
            let len = int_of(head);
            for _ in 0..2 * len {
                parse(lua, data, pos)?;
            }
            parse(lua, data, pos)?
        }
        b'>' => {
            let len = int_of(head);
            let table = lua.create_table()?;
            for index in 1..=len {
                let value = parse(lua, data, pos)?;
                table.raw_set(index, value)?;
            }
            Value::Table(table)
        }
        _ => Value::Nil,
    })
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
        let value = reply_to_lua(lua, reply).unwrap();
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
