"""Differential helpers: run the same commands on tern and Valkey and compare.

Replies are compared as raw bytes.  The only exception is the family of
commands that read a remaining time to live or an absolute expiry time: both
servers received the command a few microseconds apart, so a relative TTL may
legitimately differ by a rounding step.  For those, non-negative integers may
differ by a small tolerance; negative ones (-1 no TTL, -2 no key) must match.
"""

from __future__ import annotations

from harness import ConnectionClosed, RespClient, decode

# Command name (upper case) -> allowed absolute difference of the integer reply.
TOLERANCE = {
    b"TTL": 1,
    b"PTTL": 1000,
    b"EXPIRETIME": 1,
    b"PEXPIRETIME": 1000,
}


def as_bytes(arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode()


def is_help(args) -> bool:
    """X HELP: Tern writes its own help text (docs/compatibility.md), so only the
    form is compared: an array of status lines with the same first line."""
    return len(args) == 2 and as_bytes(args[1]).upper() == b"HELP"


def help_matches(a: bytes, b: bytes) -> bool:
    head_a, _, rest_a = a.partition(b"\r\n")
    head_b, _, rest_b = b.partition(b"\r\n")
    if not (head_a.startswith(b"*") and head_b.startswith(b"*")):
        return False
    first_a = rest_a.split(b"\r\n", 1)[0]
    first_b = rest_b.split(b"\r\n", 1)[0]
    lines_a = rest_a.split(b"\r\n")[:-1]
    return first_a == first_b and all(line.startswith(b"+") for line in lines_a)


def replies_match(args, a: bytes, b: bytes) -> bool:
    if a == b:
        return True
    if is_help(args):
        return help_matches(a, b)
    tol = TOLERANCE.get(as_bytes(args[0]).upper())
    if tol is None:
        return False
    try:
        da, db = decode(a), decode(b)
    except (ValueError, IndexError):
        return False
    if type(da) is int and type(db) is int and da >= 0 and db >= 0:
        return abs(da - db) <= tol
    return False


def show_args(args) -> str:
    return " ".join(repr(as_bytes(a))[1:] for a in args)


class Mismatch(AssertionError):
    pass


def call_both(ct: RespClient, cv: RespClient, args) -> tuple[bytes, bytes]:
    """Send one command to each server; a closed connection reads as a marker."""
    out = []
    for c in (ct, cv):
        try:
            out.append(c.call(*args))
        except ConnectionClosed as e:
            out.append(b"<connection closed> " + e.partial)
        except TimeoutError:
            # No reply at all: report it as a reply so the mismatch names the command.
            out.append(b"<no reply within the timeout>")
    return out[0], out[1]


def open_pair(tern, valkey, proto: int) -> tuple[RespClient, RespClient]:
    """Fresh connections to both servers, FLUSHALL, and HELLO 3 if asked.

    For HELLO the reply's field names are compared, not its values (the
    server name, version and client id differ by nature).
    """
    ct, cv = tern.client(), valkey.client()
    for c in (ct, cv):
        assert c.call("FLUSHALL") == b"+OK\r\n", f"FLUSHALL failed on {c}"
    if proto == 3:
        ht, hv = ct.call("HELLO", "3"), cv.call("HELLO", "3")
        assert hv.startswith(b"%"), hv
        assert ht.startswith(b"%"), f"tern HELLO 3 reply is not a map: {ht[:200]!r}"
        keys_t = [k for k, _ in decode(ht)]
        keys_v = [k for k, _ in decode(hv)]
        assert keys_t == keys_v, f"HELLO 3 fields differ: tern {keys_t} valkey {keys_v}"
    return ct, cv


def mismatch_report(title: str, index: int, args, rt: bytes, rv: bytes, history) -> str:
    lines = [
        title,
        f"command #{index}: {show_args(args)}",
        f"  tern:   {rt[:2000]!r}",
        f"  valkey: {rv[:2000]!r}",
        "preceding commands (oldest first):",
    ]
    for i, h in history[-12:]:
        lines.append(f"  #{i}: {show_args(h)}")
    return "\n".join(lines)


def run_commands(tern, valkey, proto: int, commands, title: str) -> int:
    """Run ``commands`` against both servers and fail on the first mismatch.

    ``commands`` is an iterable of argument lists, or a generator that is sent
    the decoded Valkey reply of each command it yields (so a generator can
    choose its next command from what the reference answered).  Returns the
    number of commands run.
    """
    ct, cv = open_pair(tern, valkey, proto)
    history = []
    try:
        it = iter(commands)
        send = getattr(it, "send", None)
        args = next(it, None)
        index = 0
        while args is not None:
            rt, rv = call_both(ct, cv, args)
            if not replies_match(args, rt, rv):
                raise Mismatch(mismatch_report(title, index, args, rt, rv, history))
            history.append((index, args))
            index += 1
            if send is not None:
                try:
                    reply = decode(rv)
                except ValueError:  # a closed-connection marker
                    reply = None
                try:
                    args = send(reply)
                except StopIteration:
                    args = None
            else:
                args = next(it, None)
        return index
    finally:
        ct.close()
        cv.close()
