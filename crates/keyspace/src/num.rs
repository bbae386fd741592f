//! Numbers as Valkey reads and writes them.
//!
//! Integers use Valkey's strict syntax (no `+`, no leading zeros, no spaces, within `i64`).
//! Float increments use the C library's long double through a small C shim (`csrc/`), because
//! Valkey's INCRBYFLOAT results are long double sums printed with 17 decimals.

use std::os::raw::{c_char, c_int, c_long};

extern "C" {
    fn tern_long_double_add(
        current: *const c_char,
        current_len: usize,
        increment: *const c_char,
        increment_len: usize,
        out: *mut c_char,
        out_cap: usize,
    ) -> c_long;
    fn tern_long_double_valid(text: *const c_char, len: usize) -> c_int;
    fn tern_timeout_ms(text: *const c_char, len: usize, out_ms: *mut i64) -> c_int;
}

/// Valkey's strict integer syntax (one definition, shared with the protocol's length headers).
pub use tern_resp::parse::parse_strict_i64 as parse_i64;

/// Why a float increment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatIncrError {
    /// The stored value or the increment is not a valid float.
    NotAFloat,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// Adds `increment` to `current` (absent: zero) in long double precision and returns the sum
/// as Valkey prints it.
pub fn long_double_add(
    current: Option<&[u8]>,
    increment: &[u8],
) -> Result<Vec<u8>, FloatIncrError> {
    // 5 KiB holds the widest long double printed with 17 decimals (about 4950 digits).
    let mut out = vec![0u8; 5 * 1024];
    let (current_ptr, current_len) = match current {
        Some(text) => (text.as_ptr() as *const c_char, text.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer is valid for its length for the duration of the call, and the shim
    // writes at most `out.len()` bytes into `out`.
    let written = unsafe {
        tern_long_double_add(
            current_ptr,
            current_len,
            increment.as_ptr() as *const c_char,
            increment.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    match written {
        -3 => Err(FloatIncrError::NanOrInfinity),
        len if len > 0 => {
            out.truncate(len as usize);
            Ok(out)
        }
        _ => Err(FloatIncrError::NotAFloat),
    }
}

/// Whether `text` reads as a long double by Valkey's rules.
pub fn is_long_double(text: &[u8]) -> bool {
    // SAFETY: the pointer is valid for `text.len()` bytes during the call.
    unsafe { tern_long_double_valid(text.as_ptr() as *const c_char, text.len()) != 0 }
}

/// Why a blocking command's timeout was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutError {
    NotAFloat,
    OutOfRange,
    Negative,
}

/// A timeout in seconds (any float syntax the C library reads, as in Valkey) as milliseconds,
/// rounded up; 0 means no timeout.
pub fn timeout_ms(text: &[u8]) -> Result<u64, TimeoutError> {
    let mut ms: i64 = 0;
    // SAFETY: the pointer is valid for `text.len()` bytes and `ms` is a valid i64 during the call.
    let status = unsafe { tern_timeout_ms(text.as_ptr() as *const c_char, text.len(), &mut ms) };
    match status {
        0 if ms < 0 => Err(TimeoutError::Negative),
        0 => Ok(ms as u64),
        -2 => Err(TimeoutError::OutOfRange),
        _ => Err(TimeoutError::NotAFloat),
    }
}

/// Writes `value` in decimal into `buffer` and returns the text.
pub fn format_i64(value: i64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut magnitude = value.unsigned_abs();
    let mut pos = buffer.len();
    loop {
        pos -= 1;
        buffer[pos] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        pos -= 1;
        buffer[pos] = b'-';
    }
    &buffer[pos..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_double_sums_print_like_valkey() {
        let add = |current: Option<&str>, increment: &str| {
            long_double_add(current.map(str::as_bytes), increment.as_bytes())
                .map(|text| String::from_utf8(text).unwrap())
        };
        assert_eq!(
            add(None, "12345678.1").unwrap(),
            "12345678.1000000000003638"
        );
        assert_eq!(add(Some("0.1"), "0.2").unwrap(), "0.3");
        assert_eq!(add(None, "1e20").unwrap(), "100000000000000000000");
        assert_eq!(add(None, "1e-20").unwrap(), "0");
        assert_eq!(add(None, "3.0e3").unwrap(), "3000");
        assert_eq!(add(None, "0x10").unwrap(), "16");
        assert_eq!(add(None, " 1"), Err(FloatIncrError::NotAFloat));
        assert_eq!(add(None, "1 "), Err(FloatIncrError::NotAFloat));
        assert_eq!(add(None, "1e5000"), Err(FloatIncrError::NotAFloat));
        assert_eq!(add(None, "inf"), Err(FloatIncrError::NanOrInfinity));
        assert_eq!(add(Some("abc"), "1"), Err(FloatIncrError::NotAFloat));
        assert_eq!(add(Some("-1"), "1").unwrap(), "0");
    }

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(timeout_ms(b"0"), Ok(0));
        assert_eq!(timeout_ms(b"1.5"), Ok(1500));
        assert_eq!(timeout_ms(b"0.0001"), Ok(1));
        assert_eq!(timeout_ms(b"0x10"), Ok(16000));
        assert_eq!(timeout_ms(b"-0.0001"), Ok(0));
        assert_eq!(timeout_ms(b"-1"), Err(TimeoutError::Negative));
        assert_eq!(timeout_ms(b"inf"), Err(TimeoutError::OutOfRange));
        assert_eq!(timeout_ms(b"1e400"), Err(TimeoutError::OutOfRange));
        assert_eq!(timeout_ms(b"nan"), Err(TimeoutError::NotAFloat));
        assert_eq!(timeout_ms(b" 1"), Err(TimeoutError::NotAFloat));
    }

    #[test]
    fn integers() {
        let mut buffer = [0u8; 20];
        for value in [0, -1, 42, i64::MIN, i64::MAX] {
            let text = format_i64(value, &mut buffer).to_vec();
            assert_eq!(text, value.to_string().as_bytes());
            assert_eq!(parse_i64(&text), Some(value));
        }
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"01"), None);
    }
}
