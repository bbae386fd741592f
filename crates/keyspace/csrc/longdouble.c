/*
 * Extended precision ("long double") arithmetic for INCRBYFLOAT and HINCRBYFLOAT.
 *
 * Valkey computes these increments in the platform's long double (80-bit on x86-64) and prints
 * the result with 17 digits after the point, trimmed. Rust has no long double, and emulating it
 * bit-exactly (parsing, rounding, printing) would be far more code than this file, so the three
 * operations are done here by the C library itself, which is what makes the results identical.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text accepted as a number, as in Valkey. */
#define TERN_LONG_DOUBLE_TEXT_MAX (5 * 1024)

/* Parses text as a long double with Valkey's rules: no leading space, the whole text must be
 * consumed (a NUL byte inside it is not an end), no overflow or underflow to zero, no NaN.
 * Returns 1 on success. */
static int parse_long_double(const char *text, size_t len, long double *out) {
    char buf[TERN_LONG_DOUBLE_TEXT_MAX];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end != buf + len ||
        (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* Formats with 17 digits after the point, then drops trailing zeros and a trailing point;
 * "-0" becomes "0". Returns the length written, or 0 if it does not fit. */
static size_t format_long_double(long double value, char *out, size_t cap) {
    int len = snprintf(out, cap, "%.17Lf", value);
    if (len <= 0 || (size_t)len >= cap) return 0;
    if (strchr(out, '.') != NULL) {
        char *p = out + len - 1;
        while (*p == '0') {
            p--;
            len--;
        }
        if (*p == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    out[len] = '\0';
    return (size_t)len;
}

/* Adds increment to current (NULL current means 0). Returns:
 *   >0: the length of the formatted sum written to out,
 *   -1: current is not a valid float,
 *   -2: increment is not a valid float,
 *   -3: the sum is NaN or infinite,
 *   -4: out is too small. */
long tern_long_double_add(const char *current, size_t current_len, const char *increment,
                          size_t increment_len, char *out, size_t out_cap) {
    long double base = 0, delta, sum;
    size_t len;

    if (current != NULL && !parse_long_double(current, current_len, &base)) return -1;
    if (!parse_long_double(increment, increment_len, &delta)) return -2;
    sum = base + delta;
    if (isnan(sum) || isinf(sum)) return -3;
    len = format_long_double(sum, out, out_cap);
    if (len == 0) return -4;
    return (long)len;
}

/* Whether text is a valid long double by the rules above. */
int tern_long_double_valid(const char *text, size_t len) {
    long double ignored;
    return parse_long_double(text, len, &ignored);
}

/* A blocking command's timeout in seconds as whole milliseconds, rounded up as Valkey rounds
 * it. Returns 0 and sets *out_ms, -1 when text is not a valid float, -2 when the milliseconds
 * do not fit a signed 64-bit integer. */
int tern_timeout_ms(const char *text, size_t len, long long *out_ms) {
    long double seconds, ms;

    if (!parse_long_double(text, len, &seconds)) return -1;
    ms = seconds * 1000.0L;
    if (ms > (long double)9223372036854775807LL) return -2;
    *out_ms = (long long)ceill(ms);
    return 0;
}
