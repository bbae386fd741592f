//! The decimal digits Valkey prints for a double: the Grisu2 algorithm (F. Loitsch, "Printing
//! Floating-Point Numbers Quickly and Accurately with Integers", PLDI 2010), computed step for
//! step as Valkey's formatter does, so the digits are the same ones.
//!
//! Grisu2 finds a short digit string inside the rounding interval of the double, using one
//! cached power of ten and 64-bit integer arithmetic. Its result always reads back as the same
//! double, and it is the shortest one for about 99.9% of doubles; for the rest it has one more
//! digit, or a last digit one off from the nearest, and Valkey prints exactly that. So a
//! general shortest-digit formatter would differ from Valkey on those, and this one does not.

/// A double as an integer significand and a binary exponent: `frac` × 2^`exp`.
#[derive(Clone, Copy)]
struct Fp {
    frac: u64,
    exp: i32,
}

const HIDDEN_BIT: u64 = 1 << 52;
/// The exponent bias plus the fraction width: a double is `significand` × 2^(e - 1075).
const EXPONENT_BIAS: i32 = 1075;
/// The binary exponent range the scaled values must land in, so the digits come out of
/// 64-bit integer arithmetic.
const ALPHA: i32 = -60;
const GAMMA: i32 = -32;
/// The cached powers are 10^(-348 + 8i).
const FIRST_POWER: i32 = -348;
const POWER_STEP: i32 = 8;
/// log10(2), as the search for the cached power estimates with it.
const LOG10_2: f64 = 0.30102999566398114;

/// The powers of ten 10^19 down to 10^0.
const TENS: [u64; 20] = {
    let mut tens = [1u64; 20];
    let mut index = 19;
    while index > 0 {
        tens[index - 1] = tens[index] * 10;
        index -= 1;
    }
    tens
};

/// 10^(-348 + 8i) for i in 0..87, as a normalized 64-bit significand (rounded to nearest) and
/// a binary exponent. Computed exactly with rational arithmetic: for each power p, e is the
/// exponent with 2^63 <= 10^p / 2^e < 2^64, and the significand is 10^p / 2^e rounded.
const CACHED_POWERS: [(u64, i32); 87] = [
    (0xfa8fd5a0081c0288, -1220),
    (0xbaaee17fa23ebf76, -1193),
    (0x8b16fb203055ac76, -1166),
    (0xcf42894a5dce35ea, -1140),
    (0x9a6bb0aa55653b2d, -1113),
    (0xe61acf033d1a45df, -1087),
    (0xab70fe17c79ac6ca, -1060),
    (0xff77b1fcbebcdc4f, -1034),
    (0xbe5691ef416bd60c, -1007),
    (0x8dd01fad907ffc3c, -980),
    (0xd3515c2831559a83, -954),
    (0x9d71ac8fada6c9b5, -927),
    (0xea9c227723ee8bcb, -901),
    (0xaecc49914078536d, -874),
    (0x823c12795db6ce57, -847),
    (0xc21094364dfb5637, -821),
    (0x9096ea6f3848984f, -794),
    (0xd77485cb25823ac7, -768),
    (0xa086cfcd97bf97f4, -741),
    (0xef340a98172aace5, -715),
    (0xb23867fb2a35b28e, -688),
    (0x84c8d4dfd2c63f3b, -661),
    (0xc5dd44271ad3cdba, -635),
    (0x936b9fcebb25c996, -608),
    (0xdbac6c247d62a584, -582),
    (0xa3ab66580d5fdaf6, -555),
    (0xf3e2f893dec3f126, -529),
    (0xb5b5ada8aaff80b8, -502),
    (0x87625f056c7c4a8b, -475),
    (0xc9bcff6034c13053, -449),
    (0x964e858c91ba2655, -422),
    (0xdff9772470297ebd, -396),
    (0xa6dfbd9fb8e5b88f, -369),
    (0xf8a95fcf88747d94, -343),
    (0xb94470938fa89bcf, -316),
    (0x8a08f0f8bf0f156b, -289),
    (0xcdb02555653131b6, -263),
    (0x993fe2c6d07b7fac, -236),
    (0xe45c10c42a2b3b06, -210),
    (0xaa242499697392d3, -183),
    (0xfd87b5f28300ca0e, -157),
    (0xbce5086492111aeb, -130),
    (0x8cbccc096f5088cc, -103),
    (0xd1b71758e219652c, -77),
    (0x9c40000000000000, -50),
    (0xe8d4a51000000000, -24),
    (0xad78ebc5ac620000, 3),
    (0x813f3978f8940984, 30),
    (0xc097ce7bc90715b3, 56),
    (0x8f7e32ce7bea5c70, 83),
    (0xd5d238a4abe98068, 109),
    (0x9f4f2726179a2245, 136),
    (0xed63a231d4c4fb27, 162),
    (0xb0de65388cc8ada8, 189),
    (0x83c7088e1aab65db, 216),
    (0xc45d1df942711d9a, 242),
    (0x924d692ca61be758, 269),
    (0xda01ee641a708dea, 295),
    (0xa26da3999aef774a, 322),
    (0xf209787bb47d6b85, 348),
    (0xb454e4a179dd1877, 375),
    (0x865b86925b9bc5c2, 402),
    (0xc83553c5c8965d3d, 428),
    (0x952ab45cfa97a0b3, 455),
    (0xde469fbd99a05fe3, 481),
    (0xa59bc234db398c25, 508),
    (0xf6c69a72a3989f5c, 534),
    (0xb7dcbf5354e9bece, 561),
    (0x88fcf317f22241e2, 588),
    (0xcc20ce9bd35c78a5, 614),
    (0x98165af37b2153df, 641),
    (0xe2a0b5dc971f303a, 667),
    (0xa8d9d1535ce3b396, 694),
    (0xfb9b7cd9a4a7443c, 720),
    (0xbb764c4ca7a44410, 747),
    (0x8bab8eefb6409c1a, 774),
    (0xd01fef10a657842c, 800),
    (0x9b10a4e5e9913129, 827),
    (0xe7109bfba19c0c9d, 853),
    (0xac2820d9623bf429, 880),
    (0x80444b5e7aa7cf85, 907),
    (0xbf21e44003acdd2d, 933),
    (0x8e679c2f5e44ff8f, 960),
    (0xd433179d9c8cb841, 986),
    (0x9e19db92b4e31ba9, 1013),
    (0xeb96bf6ebadf77d9, 1039),
    (0xaf87023b9bf0ee6b, 1066),
];

fn decompose(value: f64) -> Fp {
    let bits = value.to_bits();
    let fraction = bits & (HIDDEN_BIT - 1);
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        Fp {
            frac: fraction,
            exp: 1 - EXPONENT_BIAS,
        }
    } else {
        Fp {
            frac: fraction | HIDDEN_BIT,
            exp: biased - EXPONENT_BIAS,
        }
    }
}

/// Shifts the significand left until its top bit is set.
fn normalize(fp: Fp) -> Fp {
    let shift = fp.frac.leading_zeros() as i32;
    Fp {
        frac: fp.frac << shift,
        exp: fp.exp - shift,
    }
}

/// The two ends of the interval of reals that round to `fp`, on a common normalized exponent.
fn boundaries(fp: Fp) -> (Fp, Fp) {
    let upper = normalize(Fp {
        frac: (fp.frac << 1) + 1,
        exp: fp.exp - 1,
    });
    // At a power of two the interval below is half as wide.
    let lower_shift = if fp.frac == HIDDEN_BIT { 2 } else { 1 };
    let lower_exp = fp.exp - lower_shift;
    let lower = Fp {
        frac: ((fp.frac << lower_shift) - 1) << (lower_exp - upper.exp),
        exp: upper.exp,
    };
    (lower, upper)
}

/// The cached power that scales a value of binary exponent `exp` into [ALPHA, GAMMA], and its
/// decimal exponent. The search starts from the same estimate as Valkey's, which decides
/// between two powers when both fit.
fn cached_power(exp: i32) -> (Fp, i32) {
    let estimate = (f64::from(-(exp + CACHED_POWERS.len() as i32)) * LOG10_2) as i32;
    let mut index = ((estimate - FIRST_POWER) / POWER_STEP) as usize;
    loop {
        let (frac, power_exp) = CACHED_POWERS[index];
        let scaled = exp + power_exp + 64;
        if scaled < ALPHA {
            index += 1;
        } else if scaled > GAMMA {
            index -= 1;
        } else {
            let k = FIRST_POWER + index as i32 * POWER_STEP;
            return (
                Fp {
                    frac,
                    exp: power_exp,
                },
                k,
            );
        }
    }
}

/// The high 64 bits of the 128-bit product, rounded.
fn multiply(a: Fp, b: Fp) -> Fp {
    let product = u128::from(a.frac) * u128::from(b.frac) + (1u128 << 63);
    Fp {
        frac: (product >> 64) as u64,
        exp: a.exp + b.exp + 64,
    }
}

/// Moves the last digit down while that brings the digits closer to the value and stays in
/// the interval.
fn round_last(digits: &mut [u8], delta: u64, mut rest: u64, ten_kappa: u64, distance: u64) {
    // Wrapping arithmetic throughout, as the reference computes with unsigned 64-bit integers.
    let last = digits.len() - 1;
    while rest < distance
        && delta.wrapping_sub(rest) >= ten_kappa
        && (rest.wrapping_add(ten_kappa) < distance
            || distance.wrapping_sub(rest) > rest.wrapping_add(ten_kappa).wrapping_sub(distance))
    {
        digits[last] -= 1;
        rest = rest.wrapping_add(ten_kappa);
    }
}

/// Writes the digits of `upper`'s scaled value that stay within `delta` of it; returns their
/// count and adds the decimal exponent of the last digit to `k`.
fn generate(w: Fp, upper: Fp, lower: Fp, digits: &mut [u8; 20], k: &mut i32) -> usize {
    let distance = upper.frac - w.frac;
    let mut delta = upper.frac - lower.frac;
    let shift = -upper.exp;
    let one = 1u64 << shift;
    let mut integral = upper.frac >> shift;
    let mut fractional = upper.frac & (one - 1);
    let mut count = 0;
    let mut kappa = 10;
    for &divisor in &TENS[10..] {
        let digit = integral / divisor;
        if digit != 0 || count != 0 {
            digits[count] = b'0' + digit as u8;
            count += 1;
        }
        integral -= digit * divisor;
        kappa -= 1;
        let rest = (integral << shift) + fractional;
        if rest <= delta {
            *k += kappa;
            round_last(
                &mut digits[..count],
                delta,
                rest,
                divisor << shift,
                distance,
            );
            return count;
        }
    }
    let mut unit = 18;
    loop {
        fractional *= 10;
        delta = delta.wrapping_mul(10);
        kappa -= 1;
        let digit = fractional >> shift;
        if digit != 0 || count != 0 {
            digits[count] = b'0' + digit as u8;
            count += 1;
        }
        fractional &= one - 1;
        if fractional < delta {
            *k += kappa;
            round_last(
                &mut digits[..count],
                delta,
                fractional,
                one,
                distance.wrapping_mul(TENS[unit]),
            );
            return count;
        }
        unit -= 1;
    }
}

/// The digits of a finite, positive `value` and the decimal exponent of the last one
/// (`value` ≈ digits × 10^exponent), as Valkey computes them.
pub(super) fn grisu2(value: f64, digits: &mut [u8; 20]) -> (usize, i32) {
    let fp = decompose(value);
    let (lower, upper) = boundaries(fp);
    let w = normalize(fp);
    let (power, k) = cached_power(upper.exp);
    let w = multiply(w, power);
    let mut upper = multiply(upper, power);
    let mut lower = multiply(lower, power);
    lower.frac += 1;
    upper.frac -= 1;
    let mut exponent = -k;
    let count = generate(w, upper, lower, digits, &mut exponent);
    (count, exponent)
}
