"""Differential tests of the set commands against Valkey, RESP2 and RESP3.

* ``test_case[name-respN]``: deterministic command tables, compared byte for
  byte.  They stay on intset and listpack sets, whose member order is defined
  (an intset is sorted, a listpack keeps insertion order), plus replies that
  do not list members.
* ``test_unordered[name-respN]``: commands whose replies list the members of
  a hashtable set, where the order is the hash table's own; replies marked
  ``U`` are compared as sorted multisets of the same RESP type, the rest byte
  for byte.
* Random members (SPOP, SRANDMEMBER) cannot be reproduced: their properties
  are checked on both servers (counts, distinctness, membership, the reply
  type, what remains).
* SSCAN over large sets: a full iteration returns every member.
"""

from __future__ import annotations

import pytest

from difftools import Mismatch, call_both, open_pair, replies_match, run_commands, show_args
from harness import decode


def c(line: str):
    return line.split()


BIG = "9223372036854775808"
INTS = " ".join(str(i) for i in range(0, 40, 3))
WORDS = " ".join(f"w{i}" for i in range(20))
# 130 members: past the listpack limit (128), so the set is a hashtable.
MANY = " ".join(f"m{i}" for i in range(130))
# 513 integers: past the intset limit (512).
MANY_INTS = " ".join(str(i) for i in range(513))
LONG = "x" * 65


def adds(key, members):
    return [["SADD", key, *members.split()]]


CASES = {
    "sscan-cursors": [c("SADD s a b 1"), c("SSCAN s 00"), c("SSCAN s +0"), ["SSCAN", "s", " 0"],
                      c("SSCAN s -0"), c("SSCAN s -1"), c("SSCAN s 0x"), c("SSCAN s abc"),
                      ["SSCAN", "s", "0\x00junk"], c("SSCAN nx 007")],
    "sadd-basic": [c("SADD s a b c a"), c("SADD s b d"), c("SMEMBERS s"), c("SCARD s"),
                   c("OBJECT ENCODING s"), c("TYPE s")],
    "sadd-intset": [c("SADD s 5 3 1 3 -2"), c("SMEMBERS s"), c("OBJECT ENCODING s"),
                    c("SADD s 9223372036854775807 -9223372036854775808"), c("SMEMBERS s")],
    "sadd-int-syntax": [c("SADD s 1 007 +5 -0 1e3 0x1f"), c("SMEMBERS s"),
                        c("OBJECT ENCODING s"), c(f"SADD t 1 {BIG}"), c("OBJECT ENCODING t"),
                        c("SMEMBERS t")],
    "sadd-intset-to-listpack": [c("SADD s 3 1 2"), c("SADD s a"), c("OBJECT ENCODING s"),
                                c("SMEMBERS s"), c("SADD s 0"), c("SMEMBERS s")],
    "sadd-first-string": [c("SADD s a 1 2"), c("OBJECT ENCODING s"), c("SMEMBERS s")],
    "sadd-long-member": [c("SADD s 1"), ["SADD", "s", LONG], c("OBJECT ENCODING s"),
                         ["SADD", "t", "a", "x" * 64], c("OBJECT ENCODING t"),
                         ["SADD", "u", LONG], c("OBJECT ENCODING u")],
    "sadd-hint": [adds("s", MANY)[0], c("OBJECT ENCODING s"), c("SCARD s"),
                  ["SADD", "t", *(["a"] * 129)], c("OBJECT ENCODING t"), c("SCARD t"),
                  ["SADD", "u", *(["1"] * 513)], c("OBJECT ENCODING u"),
                  ["SADD", "v", *(["1"] * 512)], c("OBJECT ENCODING v")],
    "intset-limit": [adds("s", " ".join(str(i) for i in range(512)))[0], c("OBJECT ENCODING s"),
                     c("SADD s 512"), c("OBJECT ENCODING s"), c("SCARD s")],
    "intset-to-hashtable-many": [adds("s", " ".join(str(i) for i in range(128)))[0],
                                 c("SADD s x"), c("OBJECT ENCODING s"), c("SCARD s"),
                                 adds("t", " ".join(str(i) for i in range(127)))[0],
                                 c("SADD t x"), c("OBJECT ENCODING t")],
    "listpack-limit": [adds("s", " ".join(f"m{i}" for i in range(128)))[0],
                       c("OBJECT ENCODING s"), c("SADD s m0"), c("OBJECT ENCODING s"),
                       c("SADD s m128"), c("OBJECT ENCODING s")],
    "no-conversion-down": [c("SADD s 1 a"), c("SREM s a"), c("OBJECT ENCODING s"),
                           c("SMEMBERS s"), adds("h", MANY)[0],
                           ["SREM", "h", *[f"m{i}" for i in range(125)]],
                           c("OBJECT ENCODING h"), c("SCARD h"), c("SREM h m125 m126 m127 m128"),
                           c("SREM h m129"), c("EXISTS h"), c("SADD h 1"), c("OBJECT ENCODING h")],
    "srem": [c("SREM s a"), c("SADD s a b c"), c("SREM s a x a"), c("SMEMBERS s"),
             c("SREM s b c"), c("EXISTS s"), c("SADD i 1 2 3"), c("SREM i 2 x 007"),
             c("SMEMBERS i")],
    "sismember": [c("SISMEMBER s a"), c("SADD s a 1"), c("SISMEMBER s a"), c("SISMEMBER s b"),
                  c("SADD i 1 2"), c("SISMEMBER i 1"), c("SISMEMBER i 01"), c("SISMEMBER i x"),
                  c("SMISMEMBER s a b 1"), c("SMISMEMBER nx a b"), c("SMISMEMBER i 2 3")],
    "scard-smembers-missing": [c("SCARD nx"), c("SMEMBERS nx"), c("SINTER nx"), c("SUNION nx"),
                               c("SDIFF nx")],
    "wrongtype": [c("SET str v"), c("SADD str a"), c("SREM str a"), c("SMEMBERS str"),
                  c("SISMEMBER str a"), c("SMISMEMBER str a"), c("SCARD str"), c("SPOP str"),
                  c("SPOP str 2"), c("SPOP str 0"), c("SRANDMEMBER str"), c("SRANDMEMBER str 2"),
                  c("SRANDMEMBER str 0"), c("SRANDMEMBER str -2"), c("SINTER str"),
                  c("SINTER nx str"), c("SUNION str"), c("SDIFF str"), c("SDIFF nx str"),
                  c("SINTERSTORE d str"), c("SUNIONSTORE d str"), c("SDIFFSTORE d str"),
                  c("SINTERCARD 1 str"), c("SINTERCARD 2 nx str"), c("SSCAN str 0"),
                  c("SMOVE str d a"), c("SADD s a"), c("SMOVE s str a"), c("SMOVE nx str a"),
                  c("SMEMBERS s")],
    "strings-against-sets": [c("SADD s a"), c("GET s"), c("APPEND s x"), c("INCR s"),
                             c("INCRBYFLOAT s 1"), c("STRLEN s"), c("GETRANGE s 0 1"),
                             c("SETRANGE s 0 x"), c("GETSET s v"), c("GETDEL s"), c("GETEX s"),
                             c("MGET s"), c("SET s v GET"), c("LCS s s"), c("TYPE s"),
                             c("SET s v"), c("TYPE s")],
    "keys-commands": [c("SADD s 1 2 3"), c("SADD t a b"), c("TYPE s"), c("TYPE t"),
                      c("OBJECT ENCODING s"), c("OBJECT ENCODING t"), c("RENAME s r"),
                      c("SMEMBERS r"), c("COPY t u"), c("SADD t c"), c("SMEMBERS u"),
                      c("SMEMBERS t"), c("MOVE u 1"), c("SELECT 1"), c("SMEMBERS u"),
                      c("SELECT 0"), c("EXPIRE r 1000"), c("SADD r 4"), c("TTL r"),
                      c("SINTERSTORE r r"), c("TTL r"), c("DEL t"), c("EXISTS t"),
                      c("SCAN 0 TYPE set"), c("SCAN 0 TYPE string")],
    "spop-errors": [c("SPOP nx"), c("SPOP nx 0"), c("SPOP nx 3"), c("SADD s 1"), c("SPOP s -1"),
                    c("SPOP s x"), c(f"SPOP s {BIG}"), c("SPOP s 1 2"), c("SPOP s 0"),
                    c("SPOP s"), c("EXISTS s"), c("SADD s 1 2"), c("SPOP s 2"), c("EXISTS s"),
                    c("SADD s a b"), c("SPOP s 5"), c("EXISTS s")],
    "srandmember-errors": [c("SRANDMEMBER nx"), c("SRANDMEMBER nx 0"), c("SRANDMEMBER nx 5"),
                           c("SRANDMEMBER nx -5"), c("SADD s 3 1 2"), c("SRANDMEMBER s x"),
                           c(f"SRANDMEMBER s {BIG}"), c("SRANDMEMBER s -9223372036854775808"),
                           c("SRANDMEMBER s 1 2"), c("SRANDMEMBER s 0"), c("SRANDMEMBER s 3"),
                           c("SRANDMEMBER s 100"), c("SADD l b a"), c("SRANDMEMBER l 2"),
                           c("SRANDMEMBER l 9223372036854775807")],
    "smove": [c("SMOVE nx d a"), c("SADD s a b 1"), c("SMOVE s d a"), c("SMEMBERS s"),
              c("SMEMBERS d"), c("OBJECT ENCODING d"), c("SMOVE s d zz"), c("SMOVE s s b"),
              c("SMOVE s s zz"), c("SMOVE s d 1"), c("SMEMBERS d"), c("SMOVE s e b"),
              c("EXISTS s"), c("SADD i 1 2"), c("SMOVE i j 1"), c("OBJECT ENCODING j"),
              c("SMOVE d j a"), c("OBJECT ENCODING j"), c("SMEMBERS j"), c("SMOVE d j a"),
              c("SET str v"), c("SMOVE d str 1"), c("SMEMBERS d")],
    "smove-hashtag": [c("SADD {t}a 1 2"), c("SMOVE {t}a {t}b 2"), c("SMEMBERS {t}b"),
                      c("SMEMBERS {t}a")],
    "sinter-intset": [c(f"SADD a {INTS}"), c("SADD b 0 3 4 9 12 100"), c("SADD c 3 12 9 7"),
                      c("SINTER a b"), c("SINTER a b c"), c("SINTER b"), c("SINTER a nx"),
                      c("SINTER nx a"), c("SINTER a a"), c("SINTERCARD 2 a b"),
                      c("SINTERCARD 3 a b c LIMIT 1"), c("SINTERCARD 3 a b c LIMIT 0"),
                      c("SINTERCARD 2 a b limit 100"), c("SINTERCARD 2 a nx"),
                      c("SINTERSTORE d a b c"), c("SMEMBERS d"), c("OBJECT ENCODING d"),
                      c("SINTERSTORE d a nx"), c("EXISTS d"), c("SET d v"),
                      c("SINTERSTORE d a b"), c("TYPE d"), c("SINTERSTORE d b nx"),
                      c("TYPE d")],
    "sinter-listpack": [c("SADD a x y z 1 2"), c("SADD b z 2 y q"), c("SINTER a b"),
                        c("SINTER b a"), c("SINTERSTORE d a b"), c("OBJECT ENCODING d"),
                        c("SMEMBERS d"), c("SINTERSTORE e a b 2"), c("OBJECT ENCODING e"),
                        c("SMEMBERS e")],
    "sintercard-errors": [c("SINTERCARD 0 a"), c("SINTERCARD -1 a"), c("SINTERCARD x a"),
                          c(f"SINTERCARD {BIG} a"), c("SINTERCARD 2 a"), c("SINTERCARD 3 a b"),
                          c("SINTERCARD 1 a LIMIT"), c("SINTERCARD 1 a LIMIT -1"),
                          c("SINTERCARD 1 a LIMIT x"), c("SINTERCARD 1 a FOO 1"),
                          c("SINTERCARD 1 a LIMIT 1 LIMIT 2"), c("SINTERCARD 1"),
                          c("SINTERCARD 1 a b")],
    "sunion-sdiff-intset": [c("SADD a 5 1 3"), c("SADD b 2 3 4"), c("SUNION a b"),
                            c("SUNION a nx b"), c("SDIFF a b"), c("SDIFF b a"), c("SDIFF a a"),
                            c("SDIFF a nx"), c("SDIFF nx a"), c("SUNIONSTORE d a b"),
                            c("OBJECT ENCODING d"), c("SMEMBERS d"), c("SDIFFSTORE e a b"),
                            c("SMEMBERS e"), c("SDIFFSTORE e a a"), c("EXISTS e"),
                            c("SUNIONSTORE f nx"), c("EXISTS f"), c("SDIFFSTORE d b a"),
                            c("SMEMBERS d")],
    "sunion-sdiff-store-listpack": [c("SADD a x 1 y"), c("SADD b 2 y z"),
                                    c("SUNIONSTORE d a b"), c("OBJECT ENCODING d"),
                                    c("SMEMBERS d"), c("SDIFFSTORE e a b"),
                                    c("OBJECT ENCODING e"), c("SMEMBERS e"),
                                    c("SDIFFSTORE e b a nx"), c("SMEMBERS e"),
                                    c("SUNIONSTORE a a b"), c("SMEMBERS a")],
    "store-encodings": [adds("h", MANY)[0], c("SADD i 1 2 3"), c("SINTERSTORE d h i"),
                        c("EXISTS d"), c("SADD h 1 2"), c("SINTERSTORE d h i"),
                        c("OBJECT ENCODING d"), c("SMEMBERS d"), c("SDIFFSTORE e i h"),
                        c("OBJECT ENCODING e"), c("SMEMBERS e"), c("SUNIONSTORE u h i"),
                        c("OBJECT ENCODING u"), c("SCARD u"), c("SDIFFSTORE v h i"),
                        c("SCARD v"), c("OBJECT ENCODING v")],
    "sscan": [c("SSCAN nx 0"), c("SSCAN nx 0 bad"), c("SSCAN nx x"), c("SADD s 3 1 2 10"),
              c("SSCAN s 0"), c("SSCAN s 0 MATCH 1*"), c("SSCAN s 0 match *0 count 1"),
              c("SSCAN s 0 COUNT 1"), c("SSCAN s 0 COUNT 0"), c("SSCAN s 0 COUNT -1"),
              c("SSCAN s 0 COUNT x"), c("SSCAN s 0 MATCH"), c("SSCAN s 0 TYPE set"),
              c("SSCAN s 0 NOVALUES"), c("SSCAN s 0 NOSCORES"), c("SSCAN s x"),
              c("SSCAN s -1"), c("SSCAN s 5"), c("SADD l b a c"), c("SSCAN l 0"),
              c("SSCAN l 0 MATCH [ab]"), c("SSCAN l 0 MATCH *")],
    "arity": [c("SADD s"), c("SREM s"), c("SMEMBERS"), c("SMEMBERS a b"), c("SISMEMBER s"),
              c("SMISMEMBER s"), c("SCARD"), c("SPOP"), c("SRANDMEMBER"), c("SMOVE a b"),
              c("SINTER"), c("SINTERCARD"), c("SINTERCARD 1"), c("SINTERSTORE d"),
              c("SUNION"), c("SUNIONSTORE d"), c("SDIFF"), c("SDIFFSTORE d"), c("SSCAN s")],
    "binary-members": [["SADD", "s", b"\x00a", b"line\r\nbreak", b"", "h\u00e9".encode()],
                       c("SMEMBERS s"), ["SISMEMBER", "s", b""], ["SREM", "s", b""],
                       c("SMEMBERS s"), ["SADD", "", "1"], ["SMEMBERS", ""]],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(CASES))
def test_case(tern, valkey, name, proto):
    run_commands(tern, valkey, proto, CASES[name], f"case {name!r} RESP{proto}")


# ---------------------------------------------------------------------------
# Unordered replies
# ---------------------------------------------------------------------------

def U(line):
    return ("unordered", line.split() if isinstance(line, str) else line)


def flat_sorted(value):
    """A reply listing members, as a sorted list (SSCAN: its member array)."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        return [value[0], sorted(value[1])]
    return sorted(value)


def run_unordered(tern, valkey, proto, commands, title):
    ct, cv = open_pair(tern, valkey, proto)
    try:
        for index, item in enumerate(commands):
            unordered = isinstance(item, tuple)
            args = item[1] if unordered else item
            rt, rv = call_both(ct, cv, args)
            if unordered:
                ok = rt[:1] == rv[:1] and flat_sorted(decode(rt)) == flat_sorted(decode(rv))
            else:
                ok = replies_match(args, rt, rv)
            if not ok:
                raise Mismatch(f"{title}: command #{index}: {show_args(args)}\n"
                               f"  tern:   {rt[:1000]!r}\n  valkey: {rv[:1000]!r}")
    finally:
        ct.close()
        cv.close()


UNORDERED = {
    "hashtable-members": [adds("h", MANY)[0], c("OBJECT ENCODING h"), U("SMEMBERS h"),
                          c("SCARD h"), c("SISMEMBER h m7"), c("SMISMEMBER h m1 x m129"),
                          U("SRANDMEMBER h 1000")],
    "hashtable-algebra": [adds("h", MANY)[0], adds("g", " ".join(f"m{i}" for i in range(0, 200, 2)))[0],
                          c("SADD i 1 2 3"), c("SADD l m1 m2 zz 1"), U("SINTER h g"),
                          U("SINTER g h l"), c("SINTERCARD 2 h g"), c("SINTERCARD 2 h g LIMIT 7"),
                          U("SUNION h g"), U("SUNION i l"), U("SUNION i"), U("SDIFF h g"),
                          U("SDIFF g h"), U("SDIFF l h i"), U("SDIFF i l"),
                          c("SUNIONSTORE d h g"), c("OBJECT ENCODING d"), U("SMEMBERS d"),
                          c("SINTERSTORE d h g l"), c("OBJECT ENCODING d"), c("SMEMBERS d"),
                          c("SDIFFSTORE d g h"), c("OBJECT ENCODING d"), U("SMEMBERS d")],
    "intset-hashtable": [adds("i", MANY_INTS)[0], c("OBJECT ENCODING i"), c("SCARD i"),
                         c("SADD j 1 2 600"), U("SINTER i j"), c("SINTERSTORE d i j"),
                         c("OBJECT ENCODING d"), c("SMEMBERS d"), U("SDIFF j i"),
                         U("SUNION j"), c("SREM i 0 1 2"), c("SCARD i")],
    "spop-whole": [adds("h", MANY)[0], U("SPOP h 130"), c("EXISTS h"), adds("l", WORDS)[0],
                   U("SPOP l 25"), c("EXISTS l"), c(f"SADD i {INTS}"), c("SPOP i 100"),
                   c("EXISTS i"), adds("l", WORDS)[0], U("SRANDMEMBER l 20")],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(UNORDERED))
def test_unordered(tern, valkey, name, proto):
    run_unordered(tern, valkey, proto, UNORDERED[name], f"unordered {name!r} RESP{proto}")


# ---------------------------------------------------------------------------
# Random members: properties on both servers
# ---------------------------------------------------------------------------

def _servers(tern, valkey, proto):
    ct, cv = open_pair(tern, valkey, proto)
    return [("tern", ct), ("valkey", cv)]


SHAPES = {
    "intset": [str(i) for i in range(0, 60, 3)],
    "listpack": [f"w{i}" for i in range(20)],
    "hashtable": [f"m{i}" for i in range(300)],
    "int-hashtable": [str(i) for i in range(600)],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_srandmember_properties(tern, valkey, shape, proto):
    members = SHAPES[shape]
    universe = {m.encode() for m in members}
    for who, cl in _servers(tern, valkey, proto):
        cl.call("SADD", "s", *members)
        one = decode(cl.call("SRANDMEMBER", "s"))
        assert one in universe, who
        for count in (1, 2, 5, len(members) - 1, len(members), len(members) + 3):
            raw = cl.call("SRANDMEMBER", "s", count)
            assert raw.startswith(b"*"), (who, raw[:20])
            got = decode(raw)
            assert len(got) == min(count, len(members)), (who, count)
            assert len(set(got)) == len(got), (who, count)
            assert set(got) <= universe
        for count in (1, 3, len(members), 2 * len(members)):
            got = decode(cl.call("SRANDMEMBER", "s", -count))
            assert len(got) == count and set(got) <= universe, (who, count)
        many = decode(cl.call("SRANDMEMBER", "s", -20 * len(members)))
        assert len(set(many)) > len(members) // 2, who
        assert decode(cl.call("SCARD", "s")) == len(members), who
        cl.close()


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_spop_properties(tern, valkey, shape, proto):
    members = SHAPES[shape]
    n = len(members)
    results = {}
    # Counts that take both of Valkey's paths: few (members popped one by one) and most
    # (the set rebuilt from the members it keeps).
    for who, cl in _servers(tern, valkey, proto):
        cl.call("SADD", "s", *members)
        remaining = {m.encode() for m in members}
        popped = decode(cl.call("SPOP", "s"))
        assert popped in remaining
        remaining.discard(popped)
        seen = []
        for count in (1, 3, n // 2, n - n // 2 - 10):
            raw = cl.call("SPOP", "s", count)
            assert raw.startswith(b"~" if proto == 3 else b"*"), (who, raw[:20])
            got = decode(raw)
            assert len(got) == count and len(set(got)) == count, (who, count)
            assert set(got) <= remaining, who
            remaining -= set(got)
            assert set(decode(cl.call("SMEMBERS", "s"))) == remaining, who
            seen.append((count, decode(cl.call("OBJECT", "ENCODING", "s"))))
        assert decode(cl.call("SCARD", "s")) == len(remaining) == 5
        got = decode(cl.call("SPOP", "s", 10))
        assert set(got) == remaining and decode(cl.call("EXISTS", "s")) == 0, who
        results[who] = seen
        cl.close()
    assert results["tern"] == results["valkey"]


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_sscan_full_iteration(tern, valkey, proto):
    members = [f"member:{i}" for i in range(1000)]
    for who, cl in _servers(tern, valkey, proto):
        cl.call("SADD", "s", *members)
        cursor, found = b"0", []
        for _ in range(10000):
            cursor, batch = decode(cl.call("SSCAN", "s", cursor, "COUNT", "50"))
            found.extend(batch)
            if cursor == b"0":
                break
        assert set(found) == {m.encode() for m in members}, who
        cursor, found = b"0", []
        for _ in range(10000):
            cursor, batch = decode(cl.call("SSCAN", "s", cursor, "MATCH", "member:1??"))
            found.extend(batch)
            if cursor == b"0":
                break
        assert set(found) == {f"member:{i}".encode() for i in range(100, 200)}, who
        cl.close()


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_sscan_pages_and_survives_changes(tern, valkey, proto):
    # A large set comes back in pages, and a member present for the whole scan is returned even
    # while other members are removed and added between the calls.
    for who, cl in _servers(tern, valkey, proto):
        cl.call("DEL", "churn")
        cl.call("SADD", "churn", *[f"m{i}" for i in range(2000)])
        kept = {f"m{i}".encode() for i in range(2000) if i % 3 == 0}
        cursor, found, calls = b"0", set(), 0
        while True:
            cursor, batch = decode(cl.call("SSCAN", "churn", cursor, "COUNT", "20"))
            found.update(batch)
            calls += 1
            removed = [f"m{i}" for i in range(calls * 7 % 2000, 2000, 97) if i % 3 != 0]
            cl.call("SREM", "churn", *removed)
            cl.call("SADD", "churn", *[f"new{calls}-{i}" for i in range(5)])
            if cursor == b"0":
                break
        assert calls > 10, who
        assert kept <= found, (who, len(kept - found))
        cl.close()
