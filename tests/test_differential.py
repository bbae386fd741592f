"""Differential tests: the same commands go to tern and to Valkey, and the
replies must be identical byte for byte (RESP2 and RESP3).

Two parts:

* ``test_random_sequence[seed-respN]``: a seeded random sequence of string,
  key-space and connection commands over a small key space (8 keys, 4
  databases), valid and invalid.  On a mismatch the seed, the command index,
  the command, both raw replies and the commands before it are printed.
  ``TERN_DIFF_SEEDS=1,2,3`` and ``TERN_DIFF_COMMANDS=N`` override the seeds
  and the sequence length.
* ``test_case[name-respN]``: hand-picked edge cases per command (the
  ``CASES`` table), each run on freshly flushed servers.

Only strings are stored, so no wrong-type errors are produced.  Time-related
choices keep the comparison deterministic:

* relative TTLs are at least 1000 s and all distinct within a sequence
  (a counter), so nothing expires during a run and GT/LT comparisons between
  two relative deadlines never depend on which millisecond a server saw;
* absolute times are either long past (the key is deleted at once) or far in
  the future (2100 and later), never near the current time;
* TTL/PTTL/EXPIRETIME/PEXPIRETIME replies are compared with a tolerance
  (see ``difftools.TOLERANCE``).
"""

from __future__ import annotations

import os
import random
import types

import pytest

from difftools import run_commands

# ---------------------------------------------------------------------------
# Random sequences
# ---------------------------------------------------------------------------

# Eight keys so that commands collide often: plain, hash-tagged, binary with
# NUL and CRLF inside, and the empty key.
KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4", b"{t}k5", b"bin\x00\r\nkey\xff", b""]

INTEGERS = [
    "0", "1", "-1", "7", "42", "-100", "1000", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "007", "+5", "-0", " 5", "5 ", "1e3", "0x1f", "", "abc",
]
FLOATS = [
    "0", "0.5", "-1.5", "3.0e2", "1e308", "-1e308", "1e309", "inf", "-inf", "+inf",
    "nan", "NaN", "0.1", "1e-10", "5.0", "-0.0", "1.5e", ".5", "5.", "abc", "",
    "9223372036854775807", "1e17",
]
STRINGS = [
    b"", b"v", b"hello", b"hello world", b"\x00\x01\x02\xff", b"line\r\nbreak",
    "h\u00e9llo \u2603".encode(), b"x" * 44, b"x" * 45, b"ab" * 50, b"12", b"-3",
    b"3.5", b"ohmytext", b"mynewtext", b" 1",
]
# Absolute times: long past (deleting) or far future (year 2100, 3000, 9999).
ABS_SECONDS = ["1", "1000", "4102444800", "32503680000", "253402300799"]
# Times that are invalid, zero or negative (errors or deletion).  Huge values
# overflow once added to the current time or scaled to milliseconds, so they
# are errors too; a huge value that did not overflow would set a relative
# deadline that two commands could tie on (see the module docstring).
BAD_TTLS = [
    "0", "-1", "-1000", "abc", "", "1.5", "9223372036854775807",
    "9223372036854775806", "9223372036854775000", "-9223372036854775808", " 100",
]
INDEXES = ["0", "1", "2", "3", "5", "-1", "-2", "-5", "-100", "100",
           "9223372036854775807", "-9223372036854775808", "x", ""]


class Generator:
    """Produces one random command sequence from a seed."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.rel_counter = 0
        # (weight, method) pairs; the weights favour writes and reads of
        # strings, which is where most of the encoding rules are.
        self.table = [
            (10, self.gen_set), (5, self.gen_get), (3, self.gen_getex),
            (2, self.gen_getdel), (2, self.gen_getset), (3, self.gen_mget),
            (2, self.gen_mset), (1, self.gen_msetnx), (2, self.gen_setnx),
            (2, self.gen_setex), (3, self.gen_append), (2, self.gen_strlen),
            (5, self.gen_incr), (3, self.gen_incrbyfloat), (3, self.gen_getrange),
            (3, self.gen_setrange), (2, self.gen_lcs), (3, self.gen_del),
            (3, self.gen_exists), (1, self.gen_touch), (6, self.gen_expire),
            (5, self.gen_ttl), (2, self.gen_persist), (2, self.gen_type),
            (2, self.gen_rename), (2, self.gen_copy), (2, self.gen_move),
            (2, self.gen_object), (1, self.gen_dbsize), (2, self.gen_select),
            (1, self.gen_swapdb), (0.3, self.gen_flushdb), (1, self.gen_ping),
            (1, self.gen_unknown),
        ]
        self.weights = [w for w, _ in self.table]

    # -- value pools ----------------------------------------------------------

    def key(self):
        return self.r.choice(KEYS)

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def value(self):
        pool = self.r.choice((INTEGERS, FLOATS, STRINGS, STRINGS))
        return self.r.choice(pool)

    def integer(self):
        if self.r.random() < 0.6:
            return str(self.r.randint(-50, 50))
        return self.r.choice(INTEGERS)

    def db(self):
        if self.r.random() < 0.9:
            return str(self.r.randint(0, 3))
        return self.r.choice(["16", "-1", "x", "", "9999999999999"])

    def rel_seconds(self) -> int:
        # Distinct and far apart: see the module docstring.
        self.rel_counter += 1
        return 1000 + 20 * self.rel_counter

    def ttl_value(self, unit: str, absolute: bool) -> str:
        """A time argument for unit 's' or 'ms', relative or absolute."""
        roll = self.r.random()
        if roll < 0.15:
            return self.r.choice(BAD_TTLS)
        scale = 1000 if unit == "ms" else 1
        if absolute:
            base = int(self.r.choice(ABS_SECONDS)) * scale
            if unit == "ms":
                base += self.r.randint(0, 999)
            return str(base)
        rel = self.rel_seconds() * scale
        if unit == "ms":
            rel += self.r.randint(0, 999)
        return str(rel)

    def expiry_option(self, allow_keepttl=True, allow_persist=False):
        """One of EX/PX/EXAT/PXAT (with a value), KEEPTTL or PERSIST."""
        names = ["EX", "PX", "EXAT", "PXAT"]
        if allow_keepttl:
            names.append("KEEPTTL")
        if allow_persist:
            names.append("PERSIST")
        name = self.r.choice(names)
        if name in ("KEEPTTL", "PERSIST"):
            return [name]
        unit = "ms" if name.startswith("P") else "s"
        value = self.ttl_value(unit, absolute=name.endswith("AT"))
        if self.r.random() < 0.03:
            return [name]  # missing value
        return [name, value]

    def name(self, name: str) -> str:
        roll = self.r.random()
        if roll < 0.8:
            return name
        if roll < 0.9:
            return name.lower()
        return "".join(c.lower() if self.r.random() < 0.5 else c for c in name)

    # -- generators -------------------------------------------------------------

    def gen_set(self):
        args = [self.name("SET"), self.key(), self.value()]
        opts = []
        cond = self.r.random()
        if cond < 0.15:
            opts.append(["NX"])
        elif cond < 0.3:
            opts.append(["XX"])
        elif cond < 0.4:
            opts.append(["IFEQ", self.value()])
        if self.r.random() < 0.25:
            opts.append(["GET"])
        if self.r.random() < 0.5:
            opts.append(self.expiry_option())
        if self.r.random() < 0.08:
            # A conflicting or unknown extra option.
            opts.append(self.r.choice([["NX"], ["XX"], ["EX", "10"], ["KEEPTTL"], ["FOO"],
                                       ["PX", "100000"], ["GET"], ["IFEQ"]]))
        self.r.shuffle(opts)
        for o in opts:
            args += o
        return args

    def gen_get(self):
        return [self.name("GET"), self.key()]

    def gen_getex(self):
        args = [self.name("GETEX"), self.key()]
        if self.r.random() < 0.7:
            args += self.expiry_option(allow_keepttl=False, allow_persist=True)
        if self.r.random() < 0.08:
            args += self.r.choice([["PERSIST"], ["EX", "1000"], ["KEEPTTL"], ["BAR"]])
        return args

    def gen_getdel(self):
        return [self.name("GETDEL"), self.key()]

    def gen_getset(self):
        return [self.name("GETSET"), self.key(), self.value()]

    def gen_mget(self):
        return [self.name("MGET")] + self.keys(1, 6)

    def _pairs(self):
        args = []
        for k in self.keys(1, 4):
            args += [k, self.value()]
        if self.r.random() < 0.1:
            args.append(self.key())  # odd number of arguments
        return args

    def gen_mset(self):
        return [self.name("MSET")] + self._pairs()

    def gen_msetnx(self):
        return [self.name("MSETNX")] + self._pairs()

    def gen_setnx(self):
        return [self.name("SETNX"), self.key(), self.value()]

    def gen_setex(self):
        if self.r.random() < 0.5:
            return [self.name("SETEX"), self.key(), self.ttl_value("s", False), self.value()]
        return [self.name("PSETEX"), self.key(), self.ttl_value("ms", False), self.value()]

    def gen_append(self):
        return [self.name("APPEND"), self.key(), self.value()]

    def gen_strlen(self):
        return [self.name("STRLEN"), self.key()]

    def gen_incr(self):
        kind = self.r.choice(["INCR", "DECR", "INCRBY", "DECRBY"])
        if kind in ("INCR", "DECR"):
            return [self.name(kind), self.key()]
        return [self.name(kind), self.key(), self.integer()]

    def gen_incrbyfloat(self):
        return [self.name("INCRBYFLOAT"), self.key(), self.r.choice(FLOATS + ["1", "-3", "2.5"])]

    def gen_getrange(self):
        name = self.r.choice(["GETRANGE", "SUBSTR"])
        return [self.name(name), self.key(), self.r.choice(INDEXES), self.r.choice(INDEXES)]

    def gen_setrange(self):
        roll = self.r.random()
        if roll < 0.85:
            offset = str(self.r.randint(0, 300))
        else:
            offset = self.r.choice(["-1", "536870912", "abc", "", "9223372036854775807"])
        return [self.name("SETRANGE"), self.key(), offset, self.value()]

    def gen_lcs(self):
        a, b = self.key(), self.key()
        # LCS costs O(len(a) * len(b)) time and memory on the server, so the
        # string lengths are asked first (those two commands are compared too).
        la = yield [self.name("STRLEN"), a]
        lb = yield [self.name("STRLEN"), b]
        if not (isinstance(la, int) and isinstance(lb, int)) or la * lb > 250_000:
            return
        args = [self.name("LCS"), a, b]
        opts = []
        if self.r.random() < 0.3:
            opts.append(["LEN"])
        if self.r.random() < 0.4:
            opts.append(["IDX"])
        if self.r.random() < 0.3:
            opts.append(["MINMATCHLEN", self.r.choice(["0", "1", "2", "4", "-1", "x"])])
        if self.r.random() < 0.3:
            opts.append(["WITHMATCHLEN"])
        if self.r.random() < 0.05:
            opts.append(["BOGUS"])
        self.r.shuffle(opts)
        for o in opts:
            args += o
        yield args

    def gen_del(self):
        return [self.name(self.r.choice(["DEL", "UNLINK"]))] + self.keys(1, 3)

    def gen_exists(self):
        return [self.name("EXISTS")] + self.keys(1, 5)

    def gen_touch(self):
        return [self.name("TOUCH")] + self.keys(1, 4)

    def gen_expire(self):
        name = self.r.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
        unit = "ms" if name.startswith("P") else "s"
        args = [self.name(name), self.key(), self.ttl_value(unit, absolute=name.endswith("AT"))]
        roll = self.r.random()
        if roll < 0.5:
            args.append(self.r.choice(["NX", "XX", "GT", "LT"]))
        elif roll < 0.58:
            args += self.r.choice([["NX", "XX"], ["GT", "LT"], ["NX", "GT"], ["XX", "GT"],
                                   ["FOO"], ["xx", "lt"]])
        return args

    def gen_ttl(self):
        name = self.r.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
        return [self.name(name), self.key()]

    def gen_persist(self):
        return [self.name("PERSIST"), self.key()]

    def gen_type(self):
        return [self.name("TYPE"), self.key()]

    def gen_rename(self):
        return [self.name(self.r.choice(["RENAME", "RENAMENX"])), self.key(), self.key()]

    def gen_copy(self):
        args = [self.name("COPY"), self.key(), self.key()]
        if self.r.random() < 0.5:
            args += ["DB", self.db()]
        if self.r.random() < 0.4:
            args.append("REPLACE")
        if self.r.random() < 0.05:
            args.append(self.r.choice(["DB", "NOPE"]))
        return args

    def gen_move(self):
        return [self.name("MOVE"), self.key(), self.db()]

    def gen_object(self):
        sub = self.r.choice(["ENCODING", "ENCODING", "FREQ", "REFCOUNT", "HELP", "NOSUCH"])
        if sub == "HELP":
            return [self.name("OBJECT"), self.name("HELP")]
        return [self.name("OBJECT"), self.name(sub), self.key()]

    def gen_dbsize(self):
        return [self.name("DBSIZE")]

    def gen_select(self):
        return [self.name("SELECT"), self.db()]

    def gen_swapdb(self):
        return [self.name("SWAPDB"), self.db(), self.db()]

    def gen_flushdb(self):
        return [self.name("FLUSHDB")] + self.r.choice([[], ["ASYNC"], ["SYNC"], ["LATER"]])

    def gen_ping(self):
        roll = self.r.random()
        if roll < 0.3:
            return [self.name("PING")]
        if roll < 0.6:
            return [self.name("PING"), self.value()]
        if roll < 0.9:
            return [self.name("ECHO"), self.value()]
        return self.r.choice([["PING", "a", "b"], ["ECHO"], ["ECHO", "a", "b"]])

    def gen_unknown(self):
        return [self.r.choice(["NOSUCHCOMMAND", "GETT", "", "SET\x00"])] + self.keys(0, 2)

    # -- the sequence ---------------------------------------------------------------

    def mutate_arity(self, args):
        """Drop trailing arguments or add extra ones (wrong arity, syntax)."""
        if self.r.random() < 0.5 and len(args) > 1:
            return args[:self.r.randint(1, len(args) - 1)]
        return args + [self.value() for _ in range(self.r.randint(1, 3))]

    def commands(self, n: int):
        for _ in range(n):
            _, fn = self.r.choices(self.table, weights=self.weights)[0]
            out = fn()
            if isinstance(out, types.GeneratorType):
                yield from out
                continue
            if self.r.random() < 0.05:
                out = self.mutate_arity(out)
            yield out


def _seeds():
    env = os.environ.get("TERN_DIFF_SEEDS")
    if env:
        return [int(s) for s in env.split(",") if s.strip()]
    return list(range(1, 13))


N_COMMANDS = int(os.environ.get("TERN_DIFF_COMMANDS", "500"))


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("seed", _seeds())
def test_random_sequence(tern, valkey, seed, proto):
    title = (f"random sequence mismatch: seed={seed} RESP{proto} "
             f"(rerun: TERN_DIFF_SEEDS={seed} pytest tests/test_differential.py "
             f"-k 'random_sequence and {seed}-resp{proto}')")
    n = run_commands(tern, valkey, proto, Generator(seed).commands(N_COMMANDS), title)
    assert n >= N_COMMANDS


# ---------------------------------------------------------------------------
# Hand-picked cases
# ---------------------------------------------------------------------------

def c(line: str):
    """Split a command line on spaces; '' stands for an empty argument."""
    return ["" if a == "''" else a for a in line.split(" ")]


BIG = "9223372036854775807"
SMALL = "-9223372036854775808"
FAR = "4102444800"       # 2100-01-01, seconds
FAR_MS = "4102444800123"  # the same, milliseconds

CASES = {
    "scan-cursor-errors": [c("SCAN abc"), c("SCAN -1"), c("SCAN 1x"), c("SCAN 0 COUNT 0")],
    # -- SET ------------------------------------------------------------------
    "set-basic": [c("SET k v"), c("GET k"), c("SET k v2 GET"), c("GET k")],
    "set-nx-xx": [c("SET k v XX"), c("SET k v NX"), c("SET k w NX"), c("SET k w XX"), c("GET k"),
                  c("SET k v NX XX"), c("SET k v XX NX")],
    "set-get-missing": [c("SET k v GET"), c("SET k w NX GET"), c("SET n v XX GET")],
    "set-ex-values": [c("SET k v EX 0"), c("SET k v EX -1"), c("SET k v EX abc"), c("SET k v EX"),
                      c("SET k v PX 0"), c("SET k v EX 1.5"), c(f"SET k v EX {BIG}"),
                      c(f"SET k v PX {BIG}"), c("SET k v EX 9223372036854775"),
                      c("SET k v EX 9223372036854776"), c("EXISTS k")],
    "set-ex-px-conflict": [c("SET k v EX 1000 PX 1000000"), c("SET k v EX 100 EX 100"),
                           c("SET k v KEEPTTL EX 100"), c("SET k v EXAT 1 PXAT 1"),
                           c("SET k v PX 1000 KEEPTTL")],
    "set-keepttl": [c("SET k v EX 1000"), c("SET k w KEEPTTL"), c("TTL k"), c("SET k x"), c("TTL k")],
    "set-exat-past": [c("SET k v EXAT 1"), c("EXISTS k"), c("SET k v PXAT 1"), c("GET k"),
                      c("SET k v EXAT 0"), c("SET k v PXAT -5")],
    "set-exat-future": [c(f"SET k v EXAT {FAR}"), c("EXPIRETIME k"), c("PEXPIRETIME k"),
                        c(f"SET k v PXAT {FAR_MS}"), c("PEXPIRETIME k"), c("EXPIRETIME k")],
    "set-options-case": [c("set k v ex 1000 nx"), c("set k v xx get keepttl"), c("TTL k")],
    "set-unknown-option": [c("SET k v FOO"), c("SET k v NX FOO"), c("SET k v EXX 10")],
    "set-arity": [c("SET"), c("SET k"), c("SET k v EX 10 extra")],
    "set-ifeq": [c("SET k v IFEQ v"), c("SET k v"), c("SET k w IFEQ x"), c("SET k w IFEQ v"),
                 c("GET k"), c("SET k z IFEQ w GET"), c("SET k y IFEQ nope GET"),
                 c("SET k v IFEQ w NX"), c("SET k v IFEQ w XX"), c("SET k v IFEQ"),
                 c("SET k v IFEQ w EX 1000"), c("TTL k")],
    "set-binary": [["SET", b"\x00\xff\r\n", b"a\r\nb\x00"], ["GET", b"\x00\xff\r\n"],
                   ["STRLEN", b"\x00\xff\r\n"], ["SET", b"", b""], ["GET", b""], ["EXISTS", b""]],
    "set-large": [["SET", "k", "x" * 100000], ["STRLEN", "k"], ["GETRANGE", "k", "99990", "-1"]],
    # -- GET family ----------------------------------------------------------------
    "get": [c("GET k"), c("SET k v"), c("GET k"), c("GET"), c("GET k k")],
    "getex": [c("SET k v"), c("GETEX k"), c("GETEX k EX 1000"), c("TTL k"), c("GETEX k PERSIST"),
              c("TTL k"), c("GETEX k EX 0"), c("GETEX k EX -1"), c("GETEX k PX abc"),
              c("GETEX k EX 100 PX 100"), c("GETEX k PERSIST EX 100"), c("GETEX k KEEPTTL"),
              c("GETEX k EXAT 1"), c("EXISTS k"), c("GETEX missing EX 100"), c("GETEX"),
              c("GETEX k EX")],
    "getex-far": [c("SET k v"), c(f"GETEX k PXAT {FAR_MS}"), c("PEXPIRETIME k"),
                  c(f"GETEX k EXAT {BIG}"), c(f"GETEX k PX {BIG}")],
    "getdel": [c("SET k v EX 1000"), c("GETDEL k"), c("GETDEL k"), c("EXISTS k"), c("GETDEL")],
    "getset": [c("GETSET k v"), c("SET k w EX 1000"), c("GETSET k x"), c("TTL k"), c("GETSET k")],
    "mget": [c("SET a 1"), c("SET c 3"), c("MGET a b c"), c("MGET b"), c("MGET")],
    "mset": [c("MSET a 1 b 2"), c("MGET a b"), c("MSET a 1 b"), c("MSET"), c("MSET a"),
             c("MSET a 1 a 2"), c("GET a")],
    "msetnx": [c("MSETNX a 1 b 2"), c("MSETNX b 3 c 4"), c("MGET a b c"), c("MSETNX a"),
               c("MSETNX c 1 c 2"), c("GET c")],
    "setnx-setex": [c("SETNX k v"), c("SETNX k w"), c("GET k"), c("SETEX k 1000 v"), c("TTL k"),
                    c("SETEX k 0 v"), c("SETEX k -5 v"), c("SETEX k abc v"), c("PSETEX k 0 v"),
                    c("PSETEX k 1000000 v"), c("PTTL k"), c(f"SETEX k {BIG} v"),
                    c(f"PSETEX k {BIG} v"), c("SETEX k 1000"), c("SETNX k")],
    # -- APPEND / STRLEN / ranges ------------------------------------------------------------
    "append": [c("APPEND k a"), c("APPEND k bc"), c("GET k"), c("STRLEN k"), c("APPEND k ''"),
               c("SET n 10"), c("APPEND n 5"), c("OBJECT ENCODING n"), c("GET n"), c("APPEND k")],
    "strlen": [c("STRLEN k"), c("SET k 12345"), c("STRLEN k"), c("SET k -0.5"), c("STRLEN k"),
               c("STRLEN")],
    "getrange": [c("SET k Hello_World")] + [c(f"GETRANGE k {a} {b}") for a, b in [
        ("0", "4"), ("-3", "-1"), ("0", "-1"), ("5", "3"), ("-100", "100"), ("100", "200"),
        ("0", "0"), ("-1", "-1"), ("-1", "-5"), (SMALL, BIG), (BIG, SMALL), ("x", "1"), ("0", "")]]
        + [c("GETRANGE missing 0 -1"), c("GETRANGE k 0"), c("SUBSTR k 1 3"), c("SUBSTR k -2 -1"),
           c("SET n 12345"), c("GETRANGE n 1 2")],
    "setrange": [c("SETRANGE k 5 abc"), c("GET k"), c("SETRANGE k 0 X"), c("GET k"),
                 c("SETRANGE k 0 ''"), c("SETRANGE missing 10 ''"), c("EXISTS missing"),
                 c("SETRANGE k -1 x"), c("SETRANGE k 536870912 x"), c("SETRANGE k 536870911 ''"),
                 c("SETRANGE k abc x"), c("SET n 100"), c("SETRANGE n 1 5"), c("GET n"),
                 c("OBJECT ENCODING n"), c("SETRANGE k 1")],
    # -- counters --------------------------------------------------------------------------
    "incr": [c("INCR k"), c("INCR k"), c("DECR k"), c("GET k"), c("INCRBY k 10"), c("DECRBY k 3"),
             c("INCRBY k -7"), c("GET k"), c("OBJECT ENCODING k"), c("INCR")],
    "incr-overflow": [c(f"SET k {BIG}"), c("INCR k"), c("INCRBY k 0"), c(f"SET k {SMALL}"),
                      c("DECR k"), c(f"DECRBY k {SMALL}"), c("SET k 0"), c(f"DECRBY k {SMALL}"),
                      c(f"INCRBY k {BIG}"), c("INCRBY k 1"), c("GET k")],
    "incr-not-integer": [c("SET k abc"), c("INCR k"), c("SET k ''"), c("INCR k"), ["SET", "k", " 1"], c("INCR k"),
                         c("SET k 1.0"), c("INCR k"), c("SET k 007"), c("INCR k"),
                         c("SET k 9223372036854775808"), c("INCR k"), c("SET k +1"), c("INCR k"),
                         c("INCRBY k x"), c("INCRBY k 1.5"), c("INCRBY k ''"),
                         c("INCRBY n 9223372036854775808"), c("SET k -0"), c("INCR k")],
    "incrbyfloat": [c("INCRBYFLOAT k 1.5"), c("INCRBYFLOAT k 0.1"), c("INCRBYFLOAT k -1.6"),
                    c("GET k"), c("INCRBYFLOAT k 3.0e2"), c("INCRBYFLOAT k 1e17"),
                    c("INCRBYFLOAT k 5.0"), c("SET k 10"), c("INCRBYFLOAT k 0"),
                    c("INCRBYFLOAT k -10"), c("GET k"), c("INCRBYFLOAT k 1e-10")],
    "incrbyfloat-invalid": [c("SET k 1"), c("INCRBYFLOAT k nan"), c("INCRBYFLOAT k inf"),
                            c("INCRBYFLOAT k -inf"), c("INCRBYFLOAT k abc"), c("INCRBYFLOAT k ''"),
                            c("INCRBYFLOAT k 1e309"), ["INCRBYFLOAT", "k", "1.5 "],
                            c("SET k abc"), c("INCRBYFLOAT k 1"), c("SET k inf"),
                            c("INCRBYFLOAT k 1"), c("INCRBYFLOAT k")],
    "incrbyfloat-huge": [c("INCRBYFLOAT k 1e308"), c("INCRBYFLOAT k 1e308"), c("GET k"),
                         c("INCRBYFLOAT k -1e308"), c("STRLEN k"),
                         c("SET j 1.7976931348623157e308"), c("INCRBYFLOAT j 1e308")],
    # -- LCS ---------------------------------------------------------------------------------
    "lcs": [c("MSET a ohmytext b mynewtext"), c("LCS a b"), c("LCS a b LEN"), c("LCS a b IDX"),
            c("LCS a b IDX MINMATCHLEN 4"), c("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN"),
            c("LCS a b IDX WITHMATCHLEN"), c("LCS a b LEN IDX"), c("LCS a missing"),
            c("LCS missing missing2 IDX"), c("LCS a b MINMATCHLEN"), c("LCS a b MINMATCHLEN x"),
            c("LCS a b MINMATCHLEN -1 IDX"), c("LCS a b FOO"), c("LCS a"), c("LCS a a"),
            c("LCS a b len"), c("LCS b a IDX WITHMATCHLEN MINMATCHLEN 2")],
    # -- key space -------------------------------------------------------------------------------
    "del-exists": [c("MSET a 1 b 2"), c("EXISTS a b c a"), c("DEL a c"), c("UNLINK b b"),
                   c("EXISTS a b"), c("DEL"), c("EXISTS"), c("TOUCH a b"), c("SET a 1"),
                   c("TOUCH a a missing"), c("TOUCH")],
    "expire-basic": [c("EXPIRE k 1000"), c("SET k v"), c("EXPIRE k 1000"), c("TTL k"), c("PTTL k"),
                     c("PERSIST k"), c("PERSIST k"), c("TTL k"), c("PTTL k"), c("TTL missing"),
                     c("PTTL missing"), c("EXPIRETIME k"), c("PEXPIRETIME missing"),
                     c("PEXPIRE k 1000000"), c("PTTL k"), c("EXPIRE k 0"), c("EXISTS k")],
    "expire-options": [c("SET k v"), c("EXPIRE k 1000 XX"), c("EXPIRE k 1000 NX"),
                       c("EXPIRE k 2000 NX"), c("EXPIRE k 3000 GT"), c("EXPIRE k 100 GT"),
                       c("EXPIRE k 100 LT"), c("EXPIRE k 5000 LT"), c("TTL k"),
                       c("EXPIRE k 1000 NX XX"), c("EXPIRE k 1000 GT LT"), c("EXPIRE k 1000 NX GT"),
                       c("EXPIRE k 1000 XX GT"), c("EXPIRE k 1000 FOO"), c("EXPIRE k 1500 gt"),
                       c("PERSIST k"), c("EXPIRE k 1000 GT"), c("EXPIRE k 1000 LT"), c("TTL k")],
    "expire-negative": [c("SET k v"), c("EXPIRE k -1 GT"), c("EXISTS k"), c("EXPIRE k -1 LT"),
                        c("EXISTS k"), c("SET k v"), c("PEXPIRE k -100"), c("EXISTS k"),
                        c("SET k v"), c("EXPIRE k 1000"), c("EXPIRE k -5 GT"), c("EXISTS k")],
    "expire-invalid": [c("SET k v"), c(f"EXPIRE k {BIG}"), c(f"PEXPIRE k {BIG}"),
                       c("EXPIRE k 9223372036854775806"), c("EXPIRE k abc"), c("EXPIRE k ''"),
                       c("EXPIRE k 1.5"), c(f"EXPIRE k {SMALL}"), c(f"PEXPIRE k {SMALL}"),
                       c("EXPIRE k 4611686018427387904"), c("EXPIRE k"), c("EXPIRE"), c("TTL k")],
    "expireat": [c("SET k v"), c(f"EXPIREAT k {FAR}"), c("TTL k"), c("EXPIRETIME k"),
                 c("PEXPIRETIME k"), c(f"PEXPIREAT k {FAR_MS}"), c("PEXPIRETIME k"),
                 c("EXPIRETIME k"), c("EXPIREAT k 32503680000 GT"), c("EXPIRETIME k"),
                 c(f"EXPIREAT k {FAR} GT"), c(f"EXPIREAT k {FAR} LT"), c("EXPIRETIME k"),
                 c(f"EXPIREAT k {BIG}"), c(f"PEXPIREAT k {BIG}"), c("EXPIREAT k 1"),
                 c("EXISTS k"), c(f"EXPIREAT missing {FAR}")],
    "expireat-past": [c("SET k v"), c("PEXPIREAT k 1000 NX"), c("EXISTS k"), c("SET k v"),
                      c("EXPIREAT k 1 XX"), c("EXISTS k"), c("SET k v EX 1000"),
                      c("EXPIREAT k 1 GT"), c("EXISTS k"), c("EXPIREAT k 0 LT"), c("EXISTS k")],
    "ttl-types": [c("TTL"), c("PTTL k k"), c("EXPIRETIME"), c("PERSIST"), c("TYPE"),
                  c("TYPE missing"), c("SET k v"), c("TYPE k"), c("SET n 5"), c("TYPE n")],
    "rename": [c("RENAME a b"), c("SET a 1"), c("RENAME a b"), c("GET b"), c("EXISTS a"),
               c("RENAME b b"), c("RENAMENX b b"), c("SET c 3"), c("RENAMENX b c"),
               c("RENAMENX b d"), c("MGET b c d"), c("RENAME missing missing"), c("RENAME a"),
               c("SET e 1 EX 1000"), c("RENAME e f"), c("TTL f")],
    "copy": [c("SET a 1"), c("COPY a b"), c("COPY a b"), c("COPY a b REPLACE"), c("COPY a a"),
             c("COPY missing b"), c("COPY a b DB 1"), c("COPY a b DB 1"), c("SELECT 1"),
             c("GET b"), c("SELECT 0"), c("COPY a b DB 16"), c("COPY a b DB -1"),
             c("COPY a b DB x"), c("COPY a b DB"), c("COPY a b FOO"), c("COPY a a DB 0"),
             c("COPY a a DB 2"), c("COPY a"), c("SET t v EX 1000"), c("COPY t u"), c("TTL u"),
             c("COPY a b REPLACE DB 1 REPLACE")],
    "move": [c("SET a 1"), c("MOVE a 1"), c("EXISTS a"), c("MOVE a 1"), c("SELECT 1"),
             c("GET a"), c("MOVE a 1"), c("SET a 2"), c("SELECT 0"), c("SET a 3"), c("MOVE a 1"),
             c("MOVE a 16"), c("MOVE a -1"), c("MOVE a x"), c("MOVE missing 2"), c("MOVE a"),
             c("SET t v EX 1000"), c("MOVE t 2"), c("SELECT 2"), c("TTL t")],
    "object": [c("SET i 123"), c("SET s hello"), ["SET", "l44", "x" * 44], ["SET", "l45", "x" * 45],
               c("SET big 12345678901234567890"), c("SET neg -5"), c("SET f 1.5"),
               c("OBJECT ENCODING i"), c("OBJECT ENCODING s"), c("OBJECT ENCODING l44"),
               c("OBJECT ENCODING l45"), c("OBJECT ENCODING big"), c("OBJECT ENCODING neg"),
               c("OBJECT ENCODING f"), c("OBJECT ENCODING missing"), c("APPEND s x"),
               c("OBJECT ENCODING s"), c("INCR i"), c("OBJECT ENCODING i"), c("OBJECT REFCOUNT i"),
               c("OBJECT REFCOUNT s"), c("OBJECT REFCOUNT missing"), c("OBJECT FREQ s"),
               c("OBJECT HELP"), c("object help"), c("OBJECT NOSUCH s"), c("OBJECT ENCODING"),
               c("OBJECT ENCODING s s"), c("OBJECT"), c("OBJECT HELP extra")],
    "object-int-boundaries": [c("SET a 10000"), c("SET b 9999"), c("SET c -1"), c("SET d 0"),
                              c("SET e 00"), c("SET f 9223372036854775807"),
                              c("SET g -9223372036854775808"), c("SET h 1e3"),
                              c("OBJECT ENCODING a"), c("OBJECT ENCODING b"), c("OBJECT ENCODING c"),
                              c("OBJECT ENCODING d"), c("OBJECT ENCODING e"), c("OBJECT ENCODING f"),
                              c("OBJECT ENCODING g"), c("OBJECT ENCODING h"),
                              c("OBJECT REFCOUNT b"), c("OBJECT REFCOUNT a")],
    # -- databases ---------------------------------------------------------------------------
    "select": [c("SELECT 1"), c("SET a 1"), c("DBSIZE"), c("SELECT 0"), c("DBSIZE"), c("GET a"),
               c("SELECT 15"), c("SELECT 16"), c("SELECT -1"), c("SELECT x"), c("SELECT ''"),
               c(f"SELECT {BIG}"), c("SELECT 1 2"), c("SELECT"), c("DBSIZE x")],
    "swapdb": [c("SET a 0"), c("SELECT 1"), c("SET b 1"), c("SWAPDB 0 1"), c("GET a"), c("GET b"),
               c("SWAPDB 1 1"), c("SWAPDB 0 16"), c("SWAPDB -1 0"), c("SWAPDB x 0"),
               c("SWAPDB 0"), c("DBSIZE")],
    "flushdb": [c("MSET a 1 b 2"), c("SELECT 1"), c("SET c 3"), c("FLUSHDB"), c("DBSIZE"),
                c("SELECT 0"), c("DBSIZE"), c("FLUSHDB ASYNC"), c("DBSIZE"), c("SET a 1"),
                c("FLUSHDB SYNC"), c("FLUSHDB sync"), c("FLUSHDB LATER"), c("FLUSHDB SYNC ASYNC")],
    # -- connection --------------------------------------------------------------------------
    # COMMAND's wire facts come from the reference server (scripts/gen-command-table.py); key
    # specs with a prose "notes" field (SET, GETEX...) are the documented exception.
    "command-info": [c("COMMAND INFO get mset lcs copy del expire scan client|kill nosuch"),
                     c("COMMAND INFO object|encoding config|get incrbyfloat"),
                     c("COMMAND GETKEYS mset a 1 b 2"), c("COMMAND GETKEYS lcs x y"),
                     c("COMMAND GETKEYS get"), c("COMMAND GETKEYS ping"), c("COMMAND GETKEYS nosuch a"),
                     c("COMMAND GETKEYSANDFLAGS copy a b"), c("COMMAND GETKEYSANDFLAGS del a b"),
                     c("COMMAND LIST FILTERBY PATTERN getr*"), c("COMMAND COUNT x")],
    "ping-echo": [c("PING"), c("PING hello"), c("PING ''"), c("PING a b"), c("ECHO hi"),
                  c("ECHO ''"), ["ECHO", b"\x00\r\n\xff"], c("ECHO"), c("ECHO a b"), c("ping"),
                  c("PiNg x")],
    "unknown-commands": [c("NOSUCH"), c("NOSUCH a b c"), c("NOSUCH a b c d e f g"), c("''"),
                         ["NOSUCH", "x" * 200], ["NOSUCH", b"a\r\nb"], c("SET\x00 a b"),
                         c("GETT k")],
    "arity": [c("GETSET k"), c("GETDEL"), c("GETRANGE k 0"), c("SETRANGE k 0"), c("INCRBY k"),
              c("DECRBY"), c("APPEND k"), c("STRLEN k k"), c("SETNX k"), c("PSETEX k 100"),
              c("TYPE a b"), c("RENAMENX a"), c("MOVE a"), c("SWAPDB 1"), c("DBSIZE 1"),
              c("PERSIST a b"), c("PEXPIRETIME"), c("LCS a"), c("GETEX"), c("SUBSTR k 1"),
              c("UNLINK"), c("DECR"), c("DECR a b"), c("MGET")],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(CASES))
def test_case(tern, valkey, name, proto):
    run_commands(tern, valkey, proto, CASES[name], f"case {name!r} RESP{proto}")
