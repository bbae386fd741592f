//! The libraries scripts get besides Lua's own: cjson, bit, struct, cmsgpack.

use mlua::{Lua, Table};

pub fn register(lua: &Lua, hidden: &Table) -> mlua::Result<()> {
    hidden.set("cjson", lua.create_table()?)?;
    hidden.set("bit", lua.create_table()?)?;
    hidden.set("struct", lua.create_table()?)?;
    hidden.set("cmsgpack", lua.create_table()?)?;
    Ok(())
}
