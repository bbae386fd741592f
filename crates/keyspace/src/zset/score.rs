//! Scores and ranges as Valkey reads and writes them.
//!
//! - [`format_score`]: the text of a score in replies and in the small form. Integral values
//!   up to 2^62 print as integers; others print with the digits of `digits.rs` (those Valkey
//!   computes, which read back as the same double), in Valkey's layout (plain up to 7 trailing zeros, a fraction down to six
//!   leading zeros or while the exponent is small, else `1.5e-7` / `1e+20` with an unpadded
//!   exponent), and `inf`, `-inf`, `-0`.
//! - [`parse_score`]: a score argument (ZADD, ZINCRBY, WEIGHTS): a decimal or an infinity,
//!   never NaN, never a value that overflows or underflows to zero.
//! - [`ScoreRange`] and [`LexRange`]: the `min`/`max` of the range commands, with `(` for an
//!   exclusive score bound and `[`, `(`, `-`, `+` for lex bounds. A score bound reads like C's
//!   `strtod` over a NUL-terminated string: parsing stops at a NUL byte, an empty bound is 0,
//!   and out-of-range values become infinities or zero instead of errors.

use std::cmp::Ordering;

/// Room for the longest score text (a sign, 17 digits and 7 zeros, or a scientific form).
pub const SCORE_TEXT_MAX: usize = 32;

/// The largest magnitude Valkey prints as an integer (2^62, its `LLONG_MAX / 2` as a double).
const INTEGRAL_LIMIT: f64 = 4611686018427387904.0;

/// The integer a score prints as, when it is integral and within ±2^62 (-0 included, as 0).
pub fn score_as_integer(value: f64) -> Option<i64> {
    if !(-INTEGRAL_LIMIT..=INTEGRAL_LIMIT).contains(&value) {
        return None;
    }
    let integer = value as i64;
    (integer as f64 == value).then_some(integer)
}

/// Writes `value` as Valkey prints a score and returns the text.
pub fn format_score(value: f64, buffer: &mut [u8; SCORE_TEXT_MAX]) -> &[u8] {
    let special: Option<&[u8]> = if value.is_nan() {
        Some(b"nan")
    } else if value == f64::INFINITY {
        Some(b"inf")
    } else if value == f64::NEG_INFINITY {
        Some(b"-inf")
    } else if value == 0.0 {
        Some(if value.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        })
    } else {
        None
    };
    if let Some(text) = special {
        buffer[..text.len()].copy_from_slice(text);
        return &buffer[..text.len()];
    }
    if let Some(integer) = score_as_integer(value) {
        let mut digits = [0u8; 20];
        let text = crate::num::format_i64(integer, &mut digits);
        buffer[..text.len()].copy_from_slice(text);
        return &buffer[..text.len()];
    }
    let len = format_shortest(value, buffer);
    &buffer[..len]
}

/// The digits of a finite, non-zero `value`, laid out as Valkey does.
fn format_shortest(value: f64, out: &mut [u8; SCORE_TEXT_MAX]) -> usize {
    let mut digits = [0u8; 20];
    let (count, k) = super::digits::grisu2(value.abs(), &mut digits);
    let digits = &digits[..count];
    let mut len = 0;
    let mut push = |bytes: &[u8], len: &mut usize| {
        out[*len..*len + bytes.len()].copy_from_slice(bytes);
        *len += bytes.len();
    };
    if value < 0.0 {
        push(b"-", &mut len);
    }
    let count = count as i32;
    // `value` = digits × 10^k; `exponent` is the power of ten of the first digit.
    let exponent = k + count - 1;
    let magnitude = exponent.abs();
    if k >= 0 && magnitude < count + 7 {
        push(digits, &mut len);
        for _ in 0..k {
            push(b"0", &mut len);
        }
    } else if k < 0 && (k > -7 || magnitude < 4) {
        let integer_digits = count + k;
        if integer_digits <= 0 {
            push(b"0.", &mut len);
            for _ in 0..-integer_digits {
                push(b"0", &mut len);
            }
            push(digits, &mut len);
        } else {
            let split = integer_digits as usize;
            push(&digits[..split], &mut len);
            push(b".", &mut len);
            push(&digits[split..], &mut len);
        }
    } else {
        push(&digits[..1], &mut len);
        if digits.len() > 1 {
            push(b".", &mut len);
            push(&digits[1..], &mut len);
        }
        push(if exponent < 0 { b"e-" } else { b"e+" }, &mut len);
        let mut exponent_digits = [0u8; 20];
        push(
            crate::num::format_i64(i64::from(magnitude), &mut exponent_digits),
            &mut len,
        );
    }
    len
}

/// Reads a score stored as text in the small form (always text [`format_score`] wrote).
pub fn parse_stored_score(text: &[u8]) -> f64 {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

fn without_sign(text: &[u8]) -> &[u8] {
    match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    }
}

/// `inf` or `infinity` in any case, with an optional sign.
fn is_infinity_literal(text: &[u8]) -> bool {
    let unsigned = without_sign(text);
    unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity")
}

/// The decimal float syntax both parsers accept: an optional sign, then `inf` or `infinity` in
/// any case, or digits with an optional point and an optional exponent. Returns the value and
/// whether its mantissa had a non-zero digit (to tell an underflow from a real zero).
fn parse_float(text: &[u8]) -> Option<(f64, bool)> {
    let unsigned = without_sign(text);
    if is_infinity_literal(text) {
        let value = if text[0] == b'-' {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Some((value, true));
    }
    let mantissa_end = unsigned
        .iter()
        .position(|&b| b == b'e' || b == b'E')
        .unwrap_or(unsigned.len());
    let mantissa = &unsigned[..mantissa_end];
    let digits = mantissa.iter().filter(|b| b.is_ascii_digit()).count();
    let points = mantissa.iter().filter(|&&b| b == b'.').count();
    if digits == 0 || digits + points != mantissa.len() || points > 1 {
        return None;
    }
    if mantissa_end < unsigned.len() {
        let exponent = &unsigned[mantissa_end + 1..];
        let exponent = without_sign(exponent);
        if exponent.is_empty() || !exponent.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    let nonzero = mantissa.iter().any(|&b| (b'1'..=b'9').contains(&b));
    Some((value, nonzero))
}

/// A score argument (ZADD, ZINCRBY, WEIGHTS) by Valkey's rules: the whole text is a float, not
/// NaN, and it neither overflows to an infinity nor underflows to zero.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    let (value, nonzero) = parse_float(text)?;
    if value.is_infinite() && !is_infinity_literal(text) {
        return None;
    }
    if value == 0.0 && nonzero {
        return None;
    }
    Some(value)
}

/// A score range bound's value, read up to the first NUL byte; an empty text is 0.
fn parse_bound(text: &[u8]) -> Option<f64> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let text = &text[..end];
    if text.is_empty() {
        return Some(0.0);
    }
    parse_float(text).map(|(value, _)| value)
}

/// A range of scores (ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYSCORE...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` (`(` marks an exclusive bound); None if either is not a float.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_exclusive) = Self::bound(min)?;
        let (max, max_exclusive) = Self::bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        })
    }

    fn bound(text: &[u8]) -> Option<(f64, bool)> {
        match text.first() {
            Some(b'(') => parse_bound(&text[1..]).map(|v| (v, true)),
            _ => parse_bound(text).map(|v| (v, false)),
        }
    }

    /// Whether no score can be in the range.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    /// Whether `score` is not below the range.
    #[inline]
    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// Whether `score` is not above the range.
    #[inline]
    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lex range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Lowest,
    /// `+`: above every member.
    Highest,
    /// `[member`
    Inclusive(&'a [u8]),
    /// `(member`
    Exclusive(&'a [u8]),
}

impl LexBound<'_> {
    fn parse(text: &[u8]) -> Option<LexBound<'_>> {
        // Valkey reads the text as a C string: a NUL right after `+` or `-` ends it.
        let alone = text.len() == 1 || text.get(1) == Some(&0);
        match text.first() {
            Some(b'+') if alone => Some(LexBound::Highest),
            Some(b'-') if alone => Some(LexBound::Lowest),
            Some(b'[') => Some(LexBound::Inclusive(&text[1..])),
            Some(b'(') => Some(LexBound::Exclusive(&text[1..])),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// Compares a member with this bound's value (`-` below all, `+` above all).
    fn compare_member(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Lowest => Ordering::Greater,
            LexBound::Highest => Ordering::Less,
            LexBound::Inclusive(value) | LexBound::Exclusive(value) => member.cmp(value),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            LexBound::Lowest => 0,
            LexBound::Inclusive(_) | LexBound::Exclusive(_) => 1,
            LexBound::Highest => 2,
        }
    }

    /// Compares the values of two bounds.
    fn compare(&self, other: &LexBound<'_>) -> Ordering {
        match (self, other) {
            (
                LexBound::Inclusive(a) | LexBound::Exclusive(a),
                LexBound::Inclusive(b) | LexBound::Exclusive(b),
            ) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A range of members by their bytes (ZRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX...), meaningful
/// when all members have the same score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    /// Parses `min` and `max`; None if either is not a valid lex bound.
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Whether no member can be in the range.
    pub fn is_empty(&self) -> bool {
        match self.min.compare(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            Ordering::Less => false,
        }
    }

    /// Whether `member` is not below the range.
    #[inline]
    pub fn above_min(&self, member: &[u8]) -> bool {
        let order = self.min.compare_member(member);
        if self.min.exclusive() {
            order == Ordering::Greater
        } else {
            order != Ordering::Less
        }
    }

    /// Whether `member` is not above the range.
    #[inline]
    pub fn below_max(&self, member: &[u8]) -> bool {
        let order = self.max.compare_member(member);
        if self.max.exclusive() {
            order == Ordering::Less
        } else {
            order != Ordering::Greater
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: f64) -> String {
        let mut buffer = [0u8; SCORE_TEXT_MAX];
        String::from_utf8(format_score(value, &mut buffer).to_vec()).unwrap()
    }

    #[test]
    fn scores_print_like_valkey() {
        for (value, expected) in [
            (1.0, "1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1.5e-7, "1.5e-7"),
            (-1e-7, "-1e-7"),
            (1e-6, "0.000001"),
            (0.00001, "0.00001"),
            (1e17, "100000000000000000"),
            (123456789012345678.0, "123456789012345680"),
            (4611686018427387904.0, "4611686018427387904"),
            (1e20, "1e+20"),
            (-4.7e18, "-4.7e+18"),
            (1.2345678901234567e23, "123456789012345670000000"),
            (-1.2345678901234567e23, "-123456789012345670000000"),
            (1.5e22, "1.5e+22"),
            (123456.7890123, "1.234567890123e+5"),
            (0.000123456789, "1.23456789e-4"),
            (1.2345678901234567e-5, "1.2345678901234568e-5"),
            (12345.678, "12345.678"),
            (-1234567.1, "-1234567.1"),
            (0.30000000000000004, "0.30000000000000004"),
            // Where Valkey's digits are not the shortest, or not the nearest.
            (5.302614071082905e-17, "5.3026140710829047e-17"),
            (-1462468587316101.2, "-1462468587316101.2"),
            (-356120.4849460439, "-3.5612048494604393e+5"),
            (2.7589442517007837e186, "2.7589442517007836e+186"),
            (1e300, "1e+300"),
            (2.5e-100, "2.5e-100"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(text(value), expected, "{value:e}");
        }
    }

    #[test]
    fn score_arguments() {
        let ok = |t: &str| parse_score(t.as_bytes());
        assert_eq!(ok("1"), Some(1.0));
        assert_eq!(ok("+1"), Some(1.0));
        assert_eq!(ok(".5"), Some(0.5));
        assert_eq!(ok("5."), Some(5.0));
        assert_eq!(ok("1E+5"), Some(1e5));
        assert_eq!(ok("00012"), Some(12.0));
        assert_eq!(ok("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(ok("INFINITY"), Some(f64::INFINITY));
        assert_eq!(ok("4.9e-324"), Some(5e-324));
        assert_eq!(ok("0e500"), Some(0.0));
        for bad in [
            "", " 1", "1 ", "0x10", "1e400", "1e-400", "2e-324", "nan", "-nan", "1e", "1,5", "-",
            "+", ".", "e5", "1e5.5", "infinit", "1\0",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn score_ranges() {
        let range = |a: &str, b: &str| ScoreRange::parse(a.as_bytes(), b.as_bytes());
        let r = range("(1", "2").unwrap();
        assert!(r.min_exclusive && !r.max_exclusive && !r.above_min(1.0) && r.below_max(2.0));
        assert_eq!(range("", "(").unwrap().min, 0.0);
        assert_eq!(range("1\0x", "2").unwrap().min, 1.0);
        assert_eq!(range("1e400", "-1e400").unwrap().max, f64::NEG_INFINITY);
        assert!(range("nan", "1").is_none());
        assert!(range(" 1", "2").is_none());
        assert!(range("[1", "2").is_none());
        assert!(range("((1", "2").is_none());
        assert!(range("2", "(2").unwrap().is_empty());
    }

    #[test]
    fn lex_ranges() {
        let range = |a: &'static str, b: &'static str| LexRange::parse(a.as_bytes(), b.as_bytes());
        assert!(range("a", "b").is_none());
        assert!(range("", "+").is_none());
        assert!(range("-x", "+").is_none());
        let all = range("-", "+").unwrap();
        assert!(all.above_min(b"") && all.below_max(b"\xff"));
        assert!(range("+", "-").unwrap().is_empty());
        assert!(range("+", "+").unwrap().is_empty());
        assert!(range("[a", "(a").unwrap().is_empty());
        assert!(!range("[a", "[a").unwrap().is_empty());
        let r = range("(a", "[c").unwrap();
        assert!(
            !r.above_min(b"a") && r.above_min(b"aa") && r.below_max(b"c") && !r.below_max(b"ca")
        );
    }
}
