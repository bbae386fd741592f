"""Differential tests of the list commands against Valkey, RESP2 and RESP3.

Every reply of a list command is deterministic, so each table is compared byte
for byte.  Encodings: a list is ``listpack`` while it fits Valkey's 8 KB
listpack limit and ``quicklist`` past it; the tables check growth at the exact
boundary, and shrinking back only where the list is a single quicklist node in
Valkey (Tern does not model nodes; see ``crates/keyspace/src/list.rs``).
"""

from __future__ import annotations

import pytest

from difftools import run_commands


def c(line: str):
    return line.split()


X60 = "x" * 60
BIG = "9223372036854775808"


CASES = {
    "push-basic": [c("LPUSH l a b c"), c("RPUSH l d e"), c("LRANGE l 0 -1"), c("LLEN l"),
                   c("TYPE l"), c("OBJECT ENCODING l"), c("LPUSH l"), c("RPUSH")],
    "pushx": [c("LPUSHX l a"), c("RPUSHX l a b"), c("EXISTS l"), c("RPUSH l x"),
              c("LPUSHX l a b"), c("RPUSHX l y z"), c("LRANGE l 0 -1"), c("LPUSHX l")],
    "pop": [c("LPOP l"), c("RPOP l"), c("LPOP l 2"), c("RPOP l 0"), c("RPUSH l a b c d e"),
            c("LPOP l"), c("RPOP l"), c("LPOP l 0"), c("LPOP l 1"), c("RPOP l 5"),
            c("EXISTS l"), c("RPUSH l a"), c("RPOP l 1"), c("EXISTS l")],
    "pop-errors": [c("LPOP l x"), c("LPOP l -1"), c("RPOP l 1 2"), c("LPOP l 1 2"),
                   c("RPUSH l a"), c("LPOP l -5"), c("RPOP l 1.5"), c("LPOP"),
                   c(f"LPOP l {BIG}"), c("LPOP l 9223372036854775807"), c("EXISTS l")],
    "llen": [c("LLEN l"), c("RPUSH l a b"), c("LLEN l"), c("LLEN"), c("LLEN l x")],
    "lrange": [c("LRANGE l 0 -1"), c("RPUSH l a b c d e"), c("LRANGE l 0 0"),
               c("LRANGE l -2 -1"), c("LRANGE l -100 100"), c("LRANGE l 3 1"),
               c("LRANGE l 5 10"), c("LRANGE l -1 -2"), c("LRANGE l 1 -2"),
               c("LRANGE l x 1"), c("LRANGE l 0 y"), c("LRANGE nx x 1"), c("LRANGE l 0"),
               c(f"LRANGE l 0 {BIG}"), c("LRANGE l -9223372036854775808 9223372036854775807")],
    "lindex": [c("LINDEX l 0"), c("LINDEX l x"), c("RPUSH l a b c"), c("LINDEX l 0"),
               c("LINDEX l -1"), c("LINDEX l -3"), c("LINDEX l -4"), c("LINDEX l 3"),
               c("LINDEX l x"), c("LINDEX l"), c(f"LINDEX l {BIG}")],
    "lset": [c("LSET l 0 a"), c("LSET l x a"), c("RPUSH l a b c"), c("LSET l 0 A"),
             c("LSET l -1 C"), c("LSET l 3 z"), c("LSET l -4 z"), c("LSET l x z"),
             c("LRANGE l 0 -1"), c("LSET l 0"), c("LSET l 1 12345"), c("LRANGE l 0 -1")],
    "linsert": [c("LINSERT l BEFORE a b"), c("RPUSH l a b c b"), c("LINSERT l BEFORE b x"),
                c("LINSERT l after b y"), c("LINSERT l AFTER c z"), c("LINSERT l before q w"),
                c("LRANGE l 0 -1"), c("LINSERT l MIDDLE a b"), c("LINSERT nx MIDDLE a b"),
                c("LINSERT l BEFORE a"), c("LINSERT l after a b c")],
    "lrem": [c("LREM l 0 a"), c("RPUSH l a b a c a d a"), c("LREM l 2 a"),
             c("LRANGE l 0 -1"), c("LREM l -1 a"), c("LRANGE l 0 -1"), c("LREM l 0 a"),
             c("LRANGE l 0 -1"), c("LREM l 0 zz"), c("LREM l x a"), c("LREM nx x a"),
             c("LREM l 0 b"), c("LREM l -5 c"), c("LREM l 1 d"), c("EXISTS l"),
             c("RPUSH n 1 01 1 1"), c("LREM n -9223372036854775808 1"), c("LRANGE n 0 -1")],
    "ltrim": [c("LTRIM l 0 1"), c("RPUSH l a b c d e f"), c("LTRIM l 1 -2"),
              c("LRANGE l 0 -1"), c("LTRIM l -2 100"), c("LRANGE l 0 -1"), c("LTRIM l x 1"),
              c("LTRIM nx x 1"), c("LTRIM l 1 0"), c("EXISTS l"), c("RPUSH m a b"),
              c("LTRIM m 5 10"), c("EXISTS m"), c("RPUSH m a b"), c("LTRIM m -100 -3"),
              c("EXISTS m"), c("LTRIM m 0")],
    "lpos": [c("LPOS l a"), c("LPOS l a COUNT 0"), c("RPUSH l a b c a b c a"),
             c("LPOS l a"), c("LPOS l c"), c("LPOS l z"), c("LPOS l a RANK 2"),
             c("LPOS l a RANK -1"), c("LPOS l a RANK -2"), c("LPOS l a RANK 4"),
             c("LPOS l a RANK -4"), c("LPOS l a COUNT 0"), c("LPOS l a COUNT 2"),
             c("LPOS l a COUNT 2 RANK -1"), c("LPOS l a RANK 2 COUNT 0"),
             c("LPOS l a MAXLEN 3"), c("LPOS l a MAXLEN 4"), c("LPOS l a COUNT 0 MAXLEN 4"),
             c("LPOS l a RANK -1 MAXLEN 1"), c("LPOS l a RANK -1 MAXLEN 2 COUNT 0"),
             c("LPOS l z COUNT 5"), c("LPOS l a MAXLEN 0"), c("LPOS l a rank 1 count 1 maxlen 0"),
             c("LPOS l a RANK 1 RANK 3")],
    "lpos-errors": [c("RPUSH l a"), c("LPOS l a RANK 0"), c("LPOS l a RANK x"),
                    c("LPOS l a RANK -9223372036854775808"), c("LPOS l a COUNT -1"),
                    c("LPOS l a COUNT x"), c("LPOS l a MAXLEN -1"), c("LPOS l a MAXLEN x"),
                    c("LPOS l a FOO"), c("LPOS l a RANK"), c("LPOS l a COUNT"),
                    c("LPOS nx a RANK 0"), c("LPOS nx a COUNT 1"), c("LPOS l"),
                    c("LPOS l a COUNT 1 FOO"), c("LPOS l a RANK 9223372036854775807")],
    "lmove": [c("LMOVE a b LEFT RIGHT"), c("RPUSH a 1 2 3"), c("LMOVE a b LEFT RIGHT"),
              c("LMOVE a b RIGHT LEFT"), c("LMOVE a b left left"), c("LRANGE a 0 -1"),
              c("LRANGE b 0 -1"), c("EXISTS a"), c("LMOVE b b LEFT RIGHT"),
              c("LRANGE b 0 -1"), c("LMOVE b b RIGHT RIGHT"), c("LRANGE b 0 -1"),
              c("LMOVE a b UP LEFT"), c("LMOVE a b LEFT DOWN"), c("LMOVE a b LEFT"),
              c("RPUSH one x"), c("LMOVE one one LEFT RIGHT"), c("LRANGE one 0 -1"),
              c("TYPE b")],
    "rpoplpush": [c("RPOPLPUSH a b"), c("RPUSH a x y z"), c("RPOPLPUSH a b"),
                  c("RPOPLPUSH a a"), c("LRANGE a 0 -1"), c("RPOPLPUSH a b"),
                  c("RPOPLPUSH a b"), c("EXISTS a"), c("LRANGE b 0 -1"), c("RPOPLPUSH a")],
    "lmpop": [c("LMPOP 1 l LEFT"), c("LMPOP 2 a b RIGHT COUNT 3"), c("RPUSH b 1 2 3 4"),
              c("LMPOP 2 a b LEFT"), c("LMPOP 2 a b RIGHT COUNT 2"),
              c("LMPOP 2 b a left count 10"), c("EXISTS b"), c("RPUSH a x"), c("RPUSH b y"),
              c("LMPOP 2 a b RIGHT"), c("LMPOP 2 a b RIGHT"), c("LMPOP 3 a a b LEFT")],
    "lmpop-errors": [c("RPUSH l a b"), c("LMPOP 0 l LEFT"), c("LMPOP x l LEFT"),
                     c("LMPOP -1 l LEFT"), c("LMPOP 5 l LEFT"), c("LMPOP 1 l MIDDLE"),
                     c("LMPOP 1 l LEFT COUNT 0"), c("LMPOP 1 l LEFT COUNT x"),
                     c("LMPOP 1 l LEFT COUNT -1"), c("LMPOP 1 l LEFT COUNT 1 COUNT 1"),
                     c("LMPOP 1 l LEFT COUNT"), c("LMPOP 1 l LEFT FOO"), c("LMPOP 1 l"),
                     c("LMPOP 2 l LEFT"), c("LMPOP 1"), c("LRANGE l 0 -1")],
    "wrongtype": [c("SET s v"), c("SADD t m"), c("LPUSH s a"), c("RPUSH t a"),
                  c("LPUSHX s a"), c("RPUSHX t a"), c("LPOP s"), c("RPOP t 2"), c("LLEN s"),
                  c("LRANGE s 0 -1"), c("LINDEX s 0"), c("LSET s 0 a"), c("LINSERT s BEFORE a b"),
                  c("LREM s 0 a"), c("LTRIM s 0 1"), c("LPOS s a"), c("LPOS t a COUNT 0"),
                  c("LMOVE s l LEFT LEFT"), c("RPUSH l a"), c("LMOVE l s LEFT LEFT"),
                  c("RPOPLPUSH l t"), c("LRANGE l 0 -1"), c("LMPOP 2 nx s LEFT"),
                  c("LMPOP 2 l s LEFT"), c("LMPOP 2 s l LEFT"),
                  c("GET l"), c("APPEND l x"), c("INCR l"), c("SADD l m"), c("SCARD l"),
                  c("SMEMBERS l"), c("STRLEN l"), c("GETRANGE l 0 1"), c("TYPE l"),
                  c("LINDEX s x"), c("LRANGE s x 1")],
    "keyspace": [c("RPUSH l a b c"), c("RENAME l m"), c("LRANGE m 0 -1"), c("COPY m n"),
                 c("LPUSH n z"), c("LRANGE m 0 -1"), c("LRANGE n 0 -1"), c("MOVE n 1"),
                 c("EXISTS n"), c("SELECT 1"), c("LRANGE n 0 -1"), c("TYPE n"),
                 c("OBJECT ENCODING n"), c("SELECT 0"), c("SET s v"), c("SADD t x"),
                 c("SCAN 0 TYPE list"), c("SCAN 0 TYPE string"), c("DEL m"), c("EXISTS m"),
                 c("RPUSH e a"), c("EXPIRE e 100"), c("LPUSH e b"), c("TTL e"),
                 c("RPOPLPUSH e f"), c("TTL e"), c("TTL f"), c("RENAME e f"), c("TYPE f")],
    "integers": [c("RPUSH l 1 01 -0 +1 10000 -1 9223372036854775807 -9223372036854775808"),
                 c(f"RPUSH l {BIG} 1e3 0x10"), c("LRANGE l 0 -1"), c("LPOS l 1 COUNT 0"),
                 c("LREM l 0 1"), c("LRANGE l 0 -1"), c("LINSERT l BEFORE 01 2"),
                 c("LRANGE l 0 -1")],
    "empty-and-binary": [["RPUSH", "l", "", "a\x00b", "\r\n"], c("LRANGE l 0 -1"),
                         ["LPOS", "l", ""], ["LREM", "l", "0", ""], ["LINSERT", "l", "AFTER",
                                                                     "\r\n", ""],
                         c("LRANGE l 0 -1"), c("LLEN l")],
    "encoding-growth": [["RPUSH", "a", *([X60] * 133)], c("OBJECT ENCODING a"),
                        ["RPUSH", "d", "x" * 8185], c("OBJECT ENCODING d"),
                        ["RPUSH", "e", "x" * 8186], c("OBJECT ENCODING e"),
                        ["RPUSH", "f", *[str(i) for i in range(1000)]], c("OBJECT ENCODING f"),
                        ["RPUSH", "g", *["x" * 20] * 300], c("OBJECT ENCODING g"),
                        c("RPUSH h a"), ["LPUSH", "h", "y" * 8180], c("OBJECT ENCODING h"),
                        c("RPUSH i a"), ["RPUSHX", "i", "y" * 8179], c("OBJECT ENCODING i"),
                        c("RPUSH j a"), ["LINSERT", "j", "BEFORE", "zz", "y" * 8182],
                        c("OBJECT ENCODING j"), c("LLEN j"),
                        c("RPUSH k a"), ["LSET", "k", "5", "y" * 8182], c("OBJECT ENCODING k"),
                        c("RPUSH m a"), ["LSET", "m", "0", "y" * 8190], c("OBJECT ENCODING m")],
    "encoding-single-node-shrink": [
        ["RPUSH", "e", "x" * 9000], c("OBJECT ENCODING e"), c("RPUSH e a"),
        c("OBJECT ENCODING e"), c("LPOP e"), c("OBJECT ENCODING e"),
        ["RPUSH", "q", "x" * 9000, "b", "c"], c("OBJECT ENCODING q"), c("LPOP q"),
        c("OBJECT ENCODING q"),
        ["RPUSH", "r", "x" * 9000], ["LSET", "r", "0", "small"], c("OBJECT ENCODING r"),
        ["RPUSH", "t", "x" * 9000, "keep"], c("LREM t 0 keep"), c("OBJECT ENCODING t"),
        c("LTRIM t 0 0"), c("OBJECT ENCODING t"),
        ["RPUSH", "u", "x" * 9000, "keep"], c("LTRIM u 1 1"), c("OBJECT ENCODING u"),
        ["RPUSH", "v", "y" * 9000, "k"], c("LMOVE v w LEFT LEFT"), c("OBJECT ENCODING v"),
        c("OBJECT ENCODING w"), c("LMOVE v w LEFT LEFT"), c("OBJECT ENCODING w")],
    "blocking-timeouts": [c("BLPOP l 0.01"), c("BRPOP l 0.01"), c("BLMOVE a b LEFT LEFT 0.01"),
                          c("BRPOPLPUSH a b 0.01"), c("BLMPOP 0.01 1 l LEFT")],
}

@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(CASES))
def test_case(tern, valkey, name, proto):
    run_commands(tern, valkey, proto, CASES[name], f"case {name!r} RESP{proto}")


# OBJECT ENCODING inside the workload: this sequence crosses the limit both
# ways and matches Valkey; another sequence could drift where Valkey's
# quicklist keeps two small nodes (see the module comment), so it can be
# switched off.
ENCODINGS_IN_WORKLOAD = True


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_queue_workload(tern, valkey, proto):
    """A long mixed sequence over several keys, crossing the encoding limit both ways."""

    def commands():
        import random  # noqa: PLC0415

        rng = random.Random(4)
        keys = ["q1", "q2", "q3"]
        for step in range(1500):
            key = rng.choice(keys)
            other = rng.choice(keys)
            roll = rng.random()
            width = rng.choice([1, 5, 40, 300, 1500])
            value = f"{step}:" + "v" * width if rng.random() < 0.7 else str(rng.randint(-50, 50))
            if roll < 0.3:
                yield [rng.choice(["LPUSH", "RPUSH"]), key, value, str(step)]
            elif roll < 0.45:
                yield [rng.choice(["LPOP", "RPOP"]), key, str(rng.randint(0, 3))]
            elif roll < 0.55:
                yield ["LMOVE", key, other, rng.choice(["LEFT", "RIGHT"]),
                       rng.choice(["LEFT", "RIGHT"])]
            elif roll < 0.65:
                yield ["LRANGE", key, str(rng.randint(-10, 10)), str(rng.randint(-10, 10))]
            elif roll < 0.7:
                yield ["LREM", key, str(rng.randint(-2, 2)), str(rng.randint(-50, 50))]
            elif roll < 0.75:
                yield ["LINDEX", key, str(rng.randint(-20, 20))]
            elif roll < 0.8:
                yield ["LPOS", key, str(rng.randint(-50, 50)), "COUNT", "0"]
            elif roll < 0.85:
                yield ["LINSERT", key, rng.choice(["BEFORE", "AFTER"]),
                       str(rng.randint(-50, 50)), value]
            elif roll < 0.9:
                yield ["LMPOP", "3", *keys, rng.choice(["LEFT", "RIGHT"]), "COUNT",
                       str(rng.randint(1, 4))]
            elif roll < 0.95:
                yield ["LSET", key, str(rng.randint(-5, 5)), value]
            elif ENCODINGS_IN_WORKLOAD and roll < 0.97:
                yield ["OBJECT", "ENCODING", key]
            else:
                yield ["LLEN", key]

    run_commands(tern, valkey, proto, commands(), f"queue workload RESP{proto}")
