//! The libraries scripts get besides Lua's own: cjson, bit, struct, cmsgpack. Each matches the
//! reference server's bundled library output for output and error for error.

mod bit;

use mlua::{Lua, MultiValue, Table, Value};

pub fn register(lua: &Lua, hidden: &Table) -> mlua::Result<()> {
    hidden.set("cjson", lua.create_table()?)?;
    hidden.set("bit", bit::create(lua)?)?;
    hidden.set("struct", lua.create_table()?)?;
    hidden.set("cmsgpack", lua.create_table()?)?;
    Ok(())
}

/// A Lua type name as the interpreter prints it in argument errors.
pub(crate) fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) => "userdata",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `bad argument #n to 'name' (detail)`, the interpreter's argument error, naming the function
/// as the caller's code does (`?` when called from a C function such as `pcall`).
pub(crate) fn arg_error(lua: &Lua, index: usize, detail: &str) -> mlua::Error {
    arg_error_at(lua, 0, index, detail)
}

/// [`arg_error`] for a function `level` frames up the stack (1 for a function behind a shim).
pub(crate) fn arg_error_at(lua: &Lua, level: usize, index: usize, detail: &str) -> mlua::Error {
    let (name, what) = match lua.inspect_stack(level) {
        Some(debug) => {
            let names = debug.names();
            (names.name.map(|n| n.into_owned()), names.name_what)
        }
        None => (None, None),
    };
    let mut index = index;
    if what == Some("method") {
        index -= 1;
        if index == 0 {
            let name = name.unwrap_or_else(|| "?".into());
            return error(format!("calling '{name}' on bad self ({detail})"));
        }
    }
    let name = name.unwrap_or_else(|| "?".into());
    error(format!("bad argument #{index} to '{name}' ({detail})"))
}

/// A plain error raised by a library function (the script position is added by the handler).
pub(crate) fn error(text: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(text.into())
}

/// A value as a number the way the interpreter converts it (numbers and numeric strings).
pub(crate) fn to_number(lua: &Lua, value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        v @ Value::String(_) => lua.coerce_number(v.clone()).ok().flatten(),
        _ => None,
    }
}

/// `luaL_checknumber`: the number at argument `index` (1-based) or the argument error.
pub(crate) fn check_number(lua: &Lua, args: &MultiValue, index: usize) -> mlua::Result<f64> {
    let value = args.get(index - 1);
    to_number(lua, value).ok_or_else(|| {
        arg_error(
            lua,
            index,
            &format!("number expected, got {}", type_name(value)),
        )
    })
}
