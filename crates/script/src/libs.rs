//! The libraries scripts get besides Lua's own: cjson, bit, struct, cmsgpack. Each matches the
//! reference server's bundled library output for output and error for error.

mod bit;
mod cjson;
mod cmsgpack;
mod lstruct;

use std::ffi::c_int;

use mlua::{ffi, Lua, Table, Value};

pub fn register(lua: &Lua, hidden: &Table) -> mlua::Result<()> {
    hidden.set("cjson", cjson::create(lua)?)?;
    hidden.set("bit", bit::create(lua)?)?;
    hidden.set("struct", lstruct::create(lua)?)?;
    hidden.set("cmsgpack", cmsgpack::create(lua)?)?;
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

/// `printf("%.<precision>g")`: the shortest of fixed and exponent forms, trailing zeros removed.
pub(crate) fn fmt_g(n: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_fraction(&format!("{:.*}", decimals, n)).to_string()
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// The C function in front of a library function that needs its arguments exact: it passes
/// them packed in a table with their count, so numbers reach Rust unrounded (a plain argument
/// list turns numbers closer to zero than the machine epsilon, and -0, into the integer 0).
/// Being a C function, it keeps the caller's frame on a tail call, so errors still carry the
/// script's position.
unsafe extern "C-unwind" fn pack_arguments(state: *mut ffi::lua_State) -> c_int {
    let n = call_packed(state, ffi::LUA_MULTRET);
    ffi::lua_gettop(state) - n
}

/// Calls the function in upvalue 1 with the C function's arguments packed in a table and their
/// count, asking for `results` results (which follow the arguments on the stack); returns the
/// number of arguments.
///
/// # Safety
/// `state` is the state of a call of a C closure whose first upvalue is a function.
pub(crate) unsafe fn call_packed(state: *mut ffi::lua_State, results: c_int) -> c_int {
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
    ffi::lua_call(state, 2, results);
    n
}

/// A function that gets its arguments through [`pack_arguments`]. Its argument errors name the
/// function one level up the stack ([`arg_error_at`] with level 1).
pub(crate) fn shimmed<F, R>(lua: &Lua, f: F) -> mlua::Result<mlua::Function>
where
    F: Fn(&Lua, Args) -> mlua::Result<R> + Send + 'static,
    R: mlua::IntoLuaMulti,
{
    let raw = lua.create_function(move |lua, (t, n): (Table, usize)| f(lua, Args { n, t }))?;
    // SAFETY: the closure only pushes a C closure over the function it was given.
    unsafe {
        lua.exec_raw::<mlua::Function>(raw, |state| ffi::lua_pushcclosure(state, pack_arguments, 1))
    }
}

/// Arguments packed by [`pack_arguments`].
pub(crate) struct Args {
    pub n: usize,
    pub t: Table,
}

impl Args {
    /// Argument `i` (1-based), numbers exact.
    pub fn get(&self, i: usize) -> mlua::Result<Value> {
        exact(&self.t, Value::Integer(i as i64), self.t.raw_get(i)?)
    }
}

/// `value`, read from `table[key]`, with its number re-read exactly when the plain conversion
/// may have rounded it to the integer 0.
pub(crate) fn exact(table: &Table, key: Value, value: Value) -> mlua::Result<Value> {
    match value {
        Value::Integer(0) => Ok(Value::Number(
            table
                .raw_get::<Option<f64>>(key)
                .ok()
                .flatten()
                .unwrap_or(0.0),
        )),
        other => Ok(other),
    }
}

/// A number value as f64.
pub(crate) fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}
