//! `struct`: binary packing with the reference library's format language (`<` `>` byte order,
//! `!n` alignment, `b B h H l L T i[n] I[n] f d s c[n] x`) and its C conversions.

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg_error, arg_error_at, error, fmt_g, shimmed, type_name, Args};

const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the platform's strictest alignment (a double's).
const MAX_ALIGN: usize = 8;

struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Format<'a> {
        // The format is a C string: it ends at its first NUL.
        let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
        Format {
            fmt: &fmt[..end],
            pos: 0,
            little: true,
            align: 1,
        }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// A count after an option, or `default` without one.
    fn num(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i64 = 0;
        while let Some(&d) = self.fmt.get(self.pos).filter(|b| b.is_ascii_digit()) {
            let d = (d - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(error("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// The size of option `opt` (None for an option the format language lacks).
    fn size(&mut self, opt: u8) -> mlua::Result<Option<usize>> {
        Ok(Some(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let size = self.num(4)?;
                if size > MAX_INT_SIZE {
                    return Err(error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            b's' | b' ' | b'<' | b'>' | b'!' => 0,
            _ => return Ok(None),
        }))
    }

    fn to_align(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
    }

    /// The options that change no data: byte order and alignment.
    fn common(&mut self, opt: u8) -> mlua::Result<()> {
        match opt {
            b'>' => self.little = false,
            b'<' => self.little = true,
            b'!' => {
                let a = self.num(MAX_ALIGN)?;
                if a == 0 || a & (a - 1) != 0 {
                    return Err(error(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
            }
            _ => {}
        }
        Ok(())
    }
}

fn invalid_option(lua: &Lua, level: usize, opt: u8) -> mlua::Error {
    arg_error_at(
        lua,
        level,
        1,
        &format!("invalid format option '{}'", opt as char),
    )
}

/// A number as C's `(unsigned long)` conversion gives it on this platform: in range of a long
/// through a signed conversion, beyond it through an unsigned one; out of range is 2^63.
fn c_ulong(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    const TOP: u64 = 1 << 63;
    let signed = |x: f64| {
        if (-TWO63..TWO63).contains(&x) {
            x as i64 as u64
        } else {
            TOP
        }
    };
    if n < TWO63 {
        signed(n)
    } else {
        signed(n - TWO63) ^ TOP
    }
}

/// Text of a string argument as `luaL_checklstring` reads it (numbers printed as `%.14g`).
fn string_arg(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(fmt_g(*n, 14).into_bytes()),
        _ => None,
    }
}

fn number_arg(lua: &Lua, value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(_) => lua.coerce_number(value.clone()).ok().flatten(),
        _ => None,
    }
}

fn pack(lua: &Lua, args: Args) -> mlua::Result<mlua::String> {
    // Past the arguments the reference reads its own nil marker.
    let arg = |i: usize| -> mlua::Result<(Value, &'static str)> {
        if i > args.n {
            Ok((Value::Nil, "nil"))
        } else {
            let v = args.get(i)?;
            let name = type_name(Some(&v));
            Ok((v, name))
        }
    };
    let fmt = if args.n == 0 {
        return Err(arg_error_at(lua, 1, 1, "string expected, got no value"));
    } else {
        let v = args.get(1)?;
        string_arg(&v).ok_or_else(|| {
            arg_error_at(
                lua,
                1,
                1,
                &format!("string expected, got {}", type_name(Some(&v))),
            )
        })?
    };
    let mut f = Format::new(&fmt);
    let mut out: Vec<u8> = Vec::new();
    let mut next = 2;
    while let Some(opt) = f.next() {
        let Some(mut size) = f.size(opt)? else {
            return Err(invalid_option(lua, 1, opt));
        };
        let pad = f.to_align(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let (v, name) = arg(next)?;
                let n = number_arg(lua, &v).ok_or_else(|| {
                    arg_error_at(lua, 1, next, &format!("number expected, got {name}"))
                })?;
                next += 1;
                let value = c_ulong(n);
                let bytes: Vec<u8> = (0..size)
                    .map(|k| if k < 8 { (value >> (8 * k)) as u8 } else { 0 })
                    .collect();
                if f.little {
                    out.extend(bytes);
                } else {
                    out.extend(bytes.into_iter().rev());
                }
            }
            b'x' => out.push(0),
            b'f' | b'd' => {
                let (v, name) = arg(next)?;
                let n = number_arg(lua, &v).ok_or_else(|| {
                    arg_error_at(lua, 1, next, &format!("number expected, got {name}"))
                })?;
                next += 1;
                let bytes = if opt == b'f' {
                    let b = (n as f32).to_le_bytes();
                    if f.little {
                        b.to_vec()
                    } else {
                        (n as f32).to_be_bytes().to_vec()
                    }
                } else if f.little {
                    n.to_le_bytes().to_vec()
                } else {
                    n.to_be_bytes().to_vec()
                };
                out.extend(bytes);
            }
            b'c' | b's' => {
                let (v, name) = arg(next)?;
                let s = string_arg(&v).ok_or_else(|| {
                    arg_error_at(lua, 1, next, &format!("string expected, got {name}"))
                })?;
                next += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The reference names the argument after the string.
                    return Err(arg_error_at(lua, 1, next, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.common(opt)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let string_at = |i: usize| -> mlua::Result<Vec<u8>> {
        let v = args.get(i - 1);
        v.and_then(string_arg)
            .ok_or_else(|| arg_error(lua, i, &format!("string expected, got {}", type_name(v))))
    };
    let fmt = string_at(1)?;
    let data = string_at(2)?;
    let data_value = args.get(1).cloned().unwrap_or(Value::Nil);
    let start: u64 = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(v) => {
            let n = number_arg(lua, v).ok_or_else(|| {
                arg_error(
                    lua,
                    3,
                    &format!("number expected, got {}", type_name(Some(v))),
                )
            })?;
            (if n.is_finite() && n.abs() < 9.2e18 {
                n as i64
            } else {
                i64::MIN
            }) as u64
        }
    };
    if start == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let ld = data.len();
    let too_short = || arg_error(lua, 2, "data string too short");
    let mut f = Format::new(&fmt);
    let mut out: Vec<Value> = Vec::new();
    while let Some(opt) = f.next() {
        let Some(mut size) = f.size(opt)? else {
            return Err(invalid_option(lua, 0, opt));
        };
        pos = pos.wrapping_add(f.to_align(pos, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = &data[pos..pos + size];
                let mut l: u64 = 0;
                let mut push = |b: u8| l = l.wrapping_shl(8) | b as u64;
                if f.little {
                    bytes.iter().rev().for_each(|&b| push(b));
                } else {
                    bytes.iter().for_each(|&b| push(b));
                }
                let n = if opt.is_ascii_lowercase() {
                    let shift = ((size * 8) as u32).wrapping_sub(1) & 63;
                    let mask = u64::MAX << shift;
                    if l & mask != 0 {
                        l |= mask;
                    }
                    l as i64 as f64
                } else {
                    l as f64
                };
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let v = if f.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(v as f64));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let v = if f.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    // The length is the value read just before (the data string when none).
                    let previous = out.last().cloned().unwrap_or(data_value.clone());
                    let Some(n) = number_arg(lua, &previous) else {
                        return Err(error("format 'c0' needs a previous size"));
                    };
                    out.pop();
                    size = if n >= 0.0 { n as usize } else { usize::MAX };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error("unfinished string in data"));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => f.common(opt)?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    let v = args.front();
    let fmt = v
        .and_then(string_arg)
        .ok_or_else(|| arg_error(lua, 1, &format!("string expected, got {}", type_name(v))))?;
    let mut f = Format::new(&fmt);
    let mut total: usize = 0;
    while let Some(opt) = f.next() {
        // Options the format language lacks count for nothing here.
        let size = f.size(opt)?.unwrap_or(0);
        total += f.to_align(total, opt, size);
        match opt {
            b's' => return Err(arg_error(lua, 1, "option 's' has no fixed size")),
            b'c' if size == 0 => return Err(arg_error(lua, 1, "option 'c0' has no fixed size")),
            b'<' | b'>' | b'!' | b' ' => f.common(opt)?,
            _ => {}
        }
        total += size;
    }
    Ok(total as f64)
}

pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", shimmed(lua, pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_conversions_of_out_of_range_numbers() {
        assert_eq!(c_ulong(-1.0), u64::MAX);
        assert_eq!(c_ulong(1e20), 0);
        assert_eq!(c_ulong(2f64.powi(63)), 1 << 63);
        assert_eq!(c_ulong(2f64.powi(64)), 0);
        assert_eq!(c_ulong(f64::NAN), 0);
        assert_eq!(c_ulong(-1.9), u64::MAX);
    }

    #[test]
    fn alignment_pads_to_the_smaller_of_size_and_limit() {
        let mut f = Format::new(b"");
        f.align = 8;
        assert_eq!(f.to_align(1, b'i', 4), 3);
        assert_eq!(f.to_align(1, b'd', 8), 7);
        assert_eq!(f.to_align(1, b'c', 8), 0);
        f.align = 2;
        assert_eq!(f.to_align(1, b'i', 4), 1);
    }
}
