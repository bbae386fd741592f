//! `bit`: bitwise operations on 32-bit integers, numbers converted as the reference library
//! does (rounded to nearest, then taken modulo 2^32; results are signed).

use mlua::{Lua, MultiValue, Table};

use super::{arg_error, to_number, type_name};

/// The number's low 32 bits after rounding to an integer: adding 2^52 + 2^51 puts the integer
/// part in the low bits of the mantissa.
pub(crate) fn tobit(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `index` (1-based) as 32 bits, or the reference's argument error.
fn barg(lua: &Lua, args: &MultiValue, index: usize) -> mlua::Result<u32> {
    let value = args.get(index - 1);
    match to_number(lua, value) {
        Some(n) => Ok(tobit(n)),
        None => Err(arg_error(
            lua,
            index,
            &format!("number expected, got {}", type_name(value)),
        )),
    }
}

fn ret(b: u32) -> f64 {
    b as i32 as f64
}

pub(crate) fn tohex(b: u32, width: i32) -> String {
    let upper = width < 0;
    let n = width.unsigned_abs().min(8) as usize;
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = vec![b'0'; n];
    let mut b = b;
    for slot in out.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    String::from_utf8(out).unwrap_or_default()
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|lua, args: MultiValue| Ok(ret(barg(lua, &args, 1)?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|lua, args: MultiValue| Ok(ret(!barg(lua, &args, 1)?)))?,
    )?;
    t.set(
        "bswap",
        lua.create_function(|lua, args: MultiValue| Ok(ret(barg(lua, &args, 1)?.swap_bytes())))?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let b = barg(lua, &args, 1)?;
            let width = if args.len() < 2 {
                8
            } else {
                barg(lua, &args, 2)? as i32
            };
            Ok(tohex(b, width))
        })?,
    )?;
    type Fold = fn(u32, u32) -> u32;
    let folds: [(&'static str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let mut b = barg(lua, &args, 1)?;
                // The reference reads the other arguments from the last one down.
                for index in (2..=args.len()).rev() {
                    b = op(b, barg(lua, &args, index)?);
                }
                Ok(ret(b))
            })?,
        )?;
    }
    type Shift = fn(u32, u32) -> u32;
    let shifts: [(&'static str, Shift); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let b = barg(lua, &args, 1)?;
                let n = barg(lua, &args, 2)? & 31;
                Ok(ret(op(b, n)))
            })?,
        )?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_rounds_to_nearest_even_and_wraps() {
        assert_eq!(tobit(1.5) as i32, 2);
        assert_eq!(tobit(2.5) as i32, 2);
        assert_eq!(tobit(-1.5) as i32, -2);
        assert_eq!(tobit(2f64.powi(31)) as i32, i32::MIN);
        assert_eq!(tobit(2f64.powi(32) + 5.0), 5);
        assert_eq!(tobit(f64::NAN), 0);
        assert_eq!(tobit(f64::INFINITY), 0);
        assert_eq!(tobit(1e300) as i32, -2013235812);
    }

    #[test]
    fn tohex_widths() {
        assert_eq!(tohex(255, 8), "000000ff");
        assert_eq!(tohex(255, -2), "FF");
        assert_eq!(tohex(0x12345678, -3), "678");
        assert_eq!(tohex(255, 0), "");
        assert_eq!(tohex(255, 9), "000000ff");
        assert_eq!(tohex(255, i32::MIN), "000000FF");
    }
}
