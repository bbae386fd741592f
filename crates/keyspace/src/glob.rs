//! Glob-style pattern matching with Valkey's rules, for KEYS, SCAN MATCH, CONFIG GET and
//! CLIENT KILL: `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` sets, `\x` a literal `x`.

/// Recursion depth beyond which a pattern fails to match, bounding the work a hostile pattern
/// such as `*a*a*a*...` can cause.
const NESTING_MAX: usize = 1000;

pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    matches(pattern, text, nocase, 0, &mut skip_longer)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// `skip_longer` is set once a `*` has tried every suffix and failed: a shorter text cannot match
/// either, so callers further up stop trying.
fn matches(
    mut pattern: &[u8],
    mut text: &[u8],
    nocase: bool,
    nesting: usize,
    skip_longer: &mut bool,
) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    while let Some(&first) = pattern.first() {
        match first {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                for start in 0..=text.len() {
                    if matches(
                        &pattern[1..],
                        &text[start..],
                        nocase,
                        nesting + 1,
                        skip_longer,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                if text.is_empty() {
                    return false;
                }
                text = &text[1..];
                pattern = &pattern[1..];
            }
            b'[' => {
                let Some(&byte) = text.first() else {
                    return false;
                };
                let (matched, rest) = match_set(&pattern[1..], byte, nocase);
                if !matched {
                    return false;
                }
                pattern = rest;
                text = &text[1..];
            }
            b'\\' if pattern.len() >= 2 => {
                if text.is_empty() || !eq(pattern[1], text[0], nocase) {
                    return false;
                }
                pattern = &pattern[2..];
                text = &text[1..];
            }
            literal => {
                if text.is_empty() || !eq(literal, text[0], nocase) {
                    return false;
                }
                pattern = &pattern[1..];
                text = &text[1..];
            }
        }
        if text.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && text.is_empty()
}

/// Matches `byte` against a set whose body starts at `pattern` (after the `[`). Returns whether it
/// matched and the pattern after the closing `]` (an unterminated set ends with the pattern).
fn match_set(mut pattern: &[u8], byte: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = pattern.first() == Some(&b'^');
    if negate {
        pattern = &pattern[1..];
    }
    let mut matched = false;
    loop {
        match pattern {
            [] => break,
            [b'\\', escaped, rest @ ..] => {
                matched |= eq(*escaped, byte, nocase);
                pattern = rest;
            }
            [b']', rest @ ..] => {
                pattern = rest;
                break;
            }
            [low, b'-', high, rest @ ..] => {
                let (mut low, mut high, mut value) = (*low, *high, byte);
                if low > high {
                    std::mem::swap(&mut low, &mut high);
                }
                if nocase {
                    low = low.to_ascii_lowercase();
                    high = high.to_ascii_lowercase();
                    value = value.to_ascii_lowercase();
                }
                matched |= (low..=high).contains(&value);
                pattern = rest;
            }
            [literal, rest @ ..] => {
                matched |= eq(*literal, byte, nocase);
                pattern = rest;
            }
        }
    }
    (matched != negate, pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("key:*", "key:1", true),
            ("[abc", "a", true),
            (
                "*a*a*a*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes(), false),
                *want,
                "{pattern} vs {text}"
            );
        }
        assert!(glob_match(b"HE*", b"hello", true));
        assert!(!glob_match(b"HE*", b"hello", false));
    }
}
