//! Number text as the server prints it: integers in the `long long` range that are exact print
//! as integers, others with the shortest digits that read back to the same double.

/// Whether `d` is an integer that fits the range the server converts exactly (half of i64).
pub fn double_to_i64(d: f64) -> Option<i64> {
    let half = (i64::MAX / 2) as f64;
    if !(-half..=half).contains(&d) {
        return None;
    }
    let value = d as i64;
    (value as f64 == d).then_some(value)
}

/// The shortest round-trip text of a double: plain digits for moderate exponents, otherwise
/// `d.ddde+XX`.
pub fn dtoa(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let negative = d < 0.0;
    // `{:e}` gives the shortest digits that round-trip, as `d.ddde±x`.
    let sci = format!("{:e}", d.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let ndigits = digits.len() as i32;
    // K: the power of ten of the last digit.
    let k = exponent - (ndigits - 1);
    let exp = (k + ndigits - 1).abs();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if k >= 0 && exp < ndigits + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        return out;
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits - k.abs();
        if offset <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-offset) as usize));
            out.push_str(&digits);
        } else {
            out.push_str(&digits[..offset as usize]);
            out.push('.');
            out.push_str(&digits[offset as usize..]);
        }
        return out;
    }
    let shown = ndigits.min(18 - i32::from(negative)) as usize;
    out.push_str(&digits[..1]);
    if shown > 1 {
        out.push('.');
        out.push_str(&digits[1..shown]);
    }
    out.push('e');
    out.push(if k + ndigits - 1 < 0 { '-' } else { '+' });
    out.push_str(&exp.to_string());
    out
}

/// A double as a reply shows it: exact integers as integers, else [`dtoa`].
pub fn d2string(d: f64) -> String {
    if d == 0.0 || d.is_nan() || d.is_infinite() {
        return dtoa(d);
    }
    match double_to_i64(d) {
        Some(value) => value.to_string(),
        None => dtoa(d),
    }
}

/// A number passed as a command argument: an integer when exact, else [`dtoa`].
pub fn arg_text(d: f64) -> String {
    match double_to_i64(d) {
        Some(value) => value.to_string(),
        None => dtoa(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_doubles() {
        let cases = [
            (2.75, "2.75"),
            (1e20, "1e+20"),
            (1e-7, "1e-7"),
            (0.1, "0.1"),
            (3.0, "3"),
            (123456789012345678.0, "123456789012345680"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e16, "10000000000000000"),
            (1e21, "1e+21"),
            (12345.678, "12345.678"),
            (1e15 + 0.5, "1000000000000000.5"),
            (2f64.powi(63), "9223372036854776000"),
            (-1.5e-10, "-1.5e-10"),
            (1e300, "1e+300"),
        ];
        for (value, text) in cases {
            assert_eq!(d2string(value), text, "{value}");
        }
        assert_eq!(arg_text(-0.0), "0");
    }
}
