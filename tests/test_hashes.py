"""Differential tests of the hash commands against Valkey, RESP2 and RESP3.

* ``test_case[name-respN]``: deterministic command tables, compared byte for
  byte.  Their listings (HGETALL, HKEYS, HVALS, HSCAN, HRANDFIELD with a count
  past the size) are of listpack hashes, whose order is insertion order;
  everything else (errors, counts, single fields, encodings) does not depend
  on order.  Field expiry uses absolute times, so every reply is exact.
* ``test_unordered[name-respN]``: listings of hashtable hashes (a large hash,
  a long value, or a field with a time to live), whose order is the hash
  table's own; replies marked ``U`` are compared as sorted fields or pairs.
* ``test_ttl_replies``: HTTL and HPTTL read a remaining time, which may differ
  by a rounding step between two servers asked a moment apart.
* Expired fields stay stored (HLEN counts them, the key exists) until the
  active cycle reclaims them: checked with the cycle off on both servers, then
  with short times to live and short sleeps with it on, including after the
  hash moved (RENAME, MOVE, COPY, SWAPDB).
* Random fields (HRANDFIELD) are checked as properties on both servers; HSCAN
  over large hashes by full iteration.
* ``test_random_workload``: a seeded random sequence of a few thousand hash and
  key commands, compared reply by reply (listings of hashtable hashes as
  sorted, times to live within a tolerance).
"""

from __future__ import annotations

import random
import time

import pytest

from difftools import Mismatch, as_bytes, call_both, open_pair, replies_match, run_commands, show_args
from harness import decode


def c(line: str):
    return line.split()


BIG = "9223372036854775808"
X64 = "x" * 64
X65 = "x" * 65
# Far-future Unix times, so times to live set with them never run out during a test.
T_S = 4000000000
T_MS = T_S * 1000


def pairs(n, prefix="f", value="v"):
    out = []
    for i in range(n):
        out += [f"{prefix}{i}", f"{value}{i}" if value else str(i)]
    return out


CASES = {
    "hset-basic": [c("HSET h a 1 b 2 c 3"), c("HSET h a 9 d 4"), c("HGETALL h"), c("HKEYS h"),
                   c("HVALS h"), c("HLEN h"), c("HGET h a"), c("HGET h zz"), c("HGET nx a"),
                   c("HMGET h a zz d"), c("HMGET nx a b"), c("HEXISTS h a"), c("HEXISTS h zz"),
                   c("HEXISTS nx a"), c("TYPE h"), c("OBJECT ENCODING h"), c("HMSET h e 5 a 0"),
                   c("HGETALL h"), c("HGETALL nx"), c("HKEYS nx"), c("HVALS nx"), c("HLEN nx")],
    "arity": [c("HSET h a"), c("HSET h a 1 b"), c("HMSET h a"), c("HMSET h a 1 b"), c("HSET h"),
              c("HGET h"), c("HGET h a b"), c("HMGET h"), c("HDEL h"), c("HLEN"), c("HLEN a b"),
              c("HSETNX h a"), c("HINCRBY h a"), c("HINCRBYFLOAT h a"), c("HSTRLEN h"),
              c("HKEYS"), c("HVALS a b"), c("HGETALL"), c("HEXISTS h"), c("HRANDFIELD"),
              c("HSCAN h"), c("HEXPIRE h 1 FIELDS 1"), c("HPEXPIRE h 1 FIELDS"),
              c("HEXPIREAT h"), c("HTTL h FIELDS 1"), c("HPTTL h"), c("HEXPIRETIME h FIELDS"),
              c("HPEXPIRETIME h FIELDS 1"), c("HPERSIST h FIELDS 1"), c("HGETEX h FIELDS 1"),
              c("HGETEX h"), c("HSETEX h FIELDS 1 a"), c("HGETDEL h FIELDS 1"),
              c("HSET h a 1 b 2"), c("HGETALL h")],
    "hsetnx-hdel": [c("HSETNX h a 1"), c("HSETNX h a 2"), c("HSETNX h b 3"), c("HGETALL h"),
                    c("HDEL h zz"), c("HDEL nx a"), c("HDEL h a zz a"), c("HGETALL h"),
                    c("HDEL h b b"), c("EXISTS h"), c("HSET h a 1 b 2 c 3"),
                    c("HDEL h a b c d"), c("EXISTS h")],
    "integer-fields": [c("HSET h 1 2 3 4 -5 -6"), c("HSET h 01 x 007 y +1 z"), c("HGET h 1"),
                       c("HGET h 01"), c("HGET h -5"), c("HGETALL h"), c("HSTRLEN h -5"),
                       c("HSTRLEN h 007"), c(f"HSET h {BIG} 9223372036854775807"),
                       c(f"HGET h {BIG}"), c("HSET h -9223372036854775808 0"),
                       c("HINCRBY h -9223372036854775808 -1"), c("HDEL h 1 01"),
                       c("HKEYS h"), c("HVALS h"), c("HEXISTS h 3"), c("HEXISTS h 03")],
    "hstrlen": [c("HSTRLEN h a"), c("HSET h a hello b -12 c 3.50 d"), ["HSET", "h", "e", ""],
                c("HSTRLEN h a"), c("HSTRLEN h b"), c("HSTRLEN h c"), c("HSTRLEN h e"),
                c("HSTRLEN h zz"), c("HSTRLEN nx a")],
    "hincrby": [c("HINCRBY h n 5"), c("HINCRBY h n -10"), c("HINCRBY h n x"),
                c("HINCRBY h n 1.5"), c(f"HINCRBY h n {BIG}"), c("HINCRBY h n +1"),
                c("HINCRBY h n 9223372036854775807"), c("HINCRBY h m 9223372036854775807"),
                c("HINCRBY h m 1"), c("HINCRBY h m -1"), c("HINCRBY h o -9223372036854775808"),
                c("HINCRBY h o -1"), ["HSET", "h", "s", "abc", "t", "1.5", "u", "007", "v", " 1"],
                c("HINCRBY h s 1"),
                c("HINCRBY h t 1"), c("HINCRBY h u 1"), c("HINCRBY h v 1"), c("HGETALL h"),
                c("HINCRBY nx f x"), c("EXISTS nx"), c("HINCRBY nx f 0"), c("HGETALL nx"),
                c("OBJECT ENCODING h")],
    "hincrbyfloat": [c("HINCRBYFLOAT h f 1.5"), c("HINCRBYFLOAT h f 0.1"),
                     c("HINCRBYFLOAT h f -1.6"), c("HINCRBYFLOAT h f abc"),
                     c("HINCRBYFLOAT h f inf"), c("HINCRBYFLOAT h f -inf"),
                     c("HINCRBYFLOAT h f nan"), ["HINCRBYFLOAT", "h", "f", ""],
                     c("HINCRBYFLOAT h g 0x10"), c("HINCRBYFLOAT h g 1.0e3"),
                     c("HINCRBYFLOAT h g 5"), c("HINCRBYFLOAT h g 1e5000"),
                     c("HINCRBYFLOAT h i 12345678.1"), c("HSET h s abc n 10 e 1e2"),
                     c("HINCRBYFLOAT h s 1"), c("HINCRBYFLOAT h n 0.5"), c("HINCRBYFLOAT h e 1"),
                     c("HINCRBYFLOAT h big 1e300"), c("HINCRBYFLOAT h big 1e300"),
                     c("HGETALL h"), c("OBJECT ENCODING h"), c("HINCRBYFLOAT nx f inf"),
                     c("EXISTS nx")],
    "hincrbyfloat-long": [c("HSET h a 1"), c("HINCRBYFLOAT h a 1e63"), c("OBJECT ENCODING h"),
                          c("HINCRBYFLOAT h a 1e64"), c("OBJECT ENCODING h"), c("HGET h a"),
                          c("HINCRBYFLOAT g f 1e4931"), c("HINCRBYFLOAT g f 1e4931"),
                          c("HINCRBYFLOAT g f 1e4931"), c("HSTRLEN g f"), c("OBJECT ENCODING g")],
    "hrandfield-deterministic": [c("HRANDFIELD nx"), c("HRANDFIELD nx 0"), c("HRANDFIELD nx 5"),
                                 c("HRANDFIELD nx -5 WITHVALUES"), c("HRANDFIELD nx x"),
                                 c("HRANDFIELD nx 1 foo"), c("HSET h a 1 b 2 c 3"),
                                 c("HRANDFIELD h x"), c("HRANDFIELD h 1 x"),
                                 c("HRANDFIELD h 1 withvalues x"),
                                 c("HRANDFIELD h -9223372036854775808"),
                                 c(f"HRANDFIELD h {BIG}"),
                                 c("HRANDFIELD h 4611686018427387904 withvalues"),
                                 c("HRANDFIELD h -4611686018427387904 withvalues"),
                                 c("HRANDFIELD h 4611686018427387903 withvalues"),
                                 c("HRANDFIELD h 9223372036854775807"), c("HRANDFIELD h 3"),
                                 c("HRANDFIELD h 0"), c("HRANDFIELD h 0 withvalues"),
                                 c("HRANDFIELD h 100 WithValues"), c("HSET one k v"),
                                 c("HRANDFIELD one"), c("HRANDFIELD one -3"),
                                 c("HRANDFIELD one -2 withvalues"), c("HRANDFIELD one 1")],
    "hscan-listpack": [c("HSCAN nx 0"), c("HSCAN nx 0 FOO"), c("HSCAN nx x"),
                       c("HSET h a 1 b 2 c 3 ab 4 10 x"), c("HSCAN h 0"), c("HSCAN h 5"),
                       c("HSCAN h x"), c("HSCAN h -1"), c("HSCAN h 18446744073709551615"),
                       c("HSCAN h 18446744073709551616"), c("HSCAN h 0 NOVALUES"),
                       c("HSCAN h 0 novalues MATCH a*"), c("HSCAN h 0 MATCH a* COUNT 1"),
                       c("HSCAN h 0 MATCH 1*"), c("HSCAN h 0 MATCH * NOVALUES"),
                       c("HSCAN h 0 COUNT 0"), c("HSCAN h 0 COUNT -1"), c("HSCAN h 0 COUNT x"),
                       c("HSCAN h 0 MATCH"), c("HSCAN h 0 NOSCORES"), c("HSCAN h 0 TYPE hash"),
                       c("HSCAN h 0 NOVALUES x"), c("HSCAN h 0 COUNT 1 COUNT 0"),
                       c("HSCAN h 0 MATCH [ab]")],
    "hscan-cursor-syntax": [c("HSET h a 1"), *[["HSCAN", "h", cursor] for cursor in (
        b"00", b"+1", b" 1", b"\t5", b"-01", b"-0", b" +5", b"5 ", b"", b"+", b"-", b" ",
        b"99999999999999999999", b"18446744073709551615", b"18446744073709551616",
        b"-18446744073709551615", b"-18446744073709551616", b"1\x00x", b"\x001", b"0x10",
        b"1e3", b"-1", b"--1", b"+-1", b" -3")]],
    "wrongtype-hash-commands": [
        c("SET s v"), c("HSET s a 1"), c("HMSET s a 1"), c("HSETNX s a 1"), c("HGET s a"),
        c("HMGET s a"), c("HDEL s a"), c("HLEN s"), c("HEXISTS s a"), c("HSTRLEN s a"),
        c("HKEYS s"), c("HVALS s"), c("HGETALL s"), c("HINCRBY s a 1"), c("HINCRBY s a x"),
        c("HINCRBYFLOAT s a 1"), c("HINCRBYFLOAT s a x"), c("HRANDFIELD s"),
        c("HRANDFIELD s 2"), c("HRANDFIELD s 0"), c("HRANDFIELD s x"), c("HSCAN s 0"),
        c("HSCAN s x"), c("HSCAN s 0 COUNT 0"), c("HEXPIRE s 10 FIELDS 1 a"),
        c("HEXPIRE s x FIELDS 1 a"), c("HEXPIRE s 10 FIELDS 2 a"), c("HPEXPIRE s 10 FIELDS 1 a"),
        c("HEXPIREAT s 10 FIELDS 1 a"), c("HPEXPIREAT s 10 FIELDS 1 a"),
        c("HTTL s FIELDS 1 a"), c("HPTTL s FIELDS 1 a"), c("HEXPIRETIME s FIELDS 1 a"),
        c("HPEXPIRETIME s FIELDS 1 a"), c("HTTL s FOO 1 a"), c("HTTL s FIELDS 2 a"),
        c("HPERSIST s FIELDS 1 a"), c("HPERSIST s FIELDS 2 a"), c("HGETEX s FIELDS 1 a"),
        c("HGETEX s EX x FIELDS 1 a"), c("HGETEX s EX -1 FIELDS 1 a"),
        c("HSETEX s FIELDS 1 a 1"), c("HSETEX s NX FIELDS 1 a 1"),
        c("HSETEX s EX x FIELDS 1 a 1"), c("HGETDEL s FIELDS 1 a"), c("HGETDEL s FIELDS 2 a"),
        c("RPUSH l x"), c("HSET l a 1"), c("HGETALL l"), c("SADD t x"), c("HLEN t"),
        c("GET s")],
    "wrongtype-other-commands": [
        c("HSET h a 1"), c("GET h"), c("SET h v GET"), c("APPEND h x"), c("INCR h"),
        c("INCRBYFLOAT h 1"), c("STRLEN h"), c("GETRANGE h 0 1"), c("SETRANGE h 0 x"),
        c("GETDEL h"), c("GETEX h"), c("MGET h"), c("LPUSH h x"), c("LLEN h"),
        c("LRANGE h 0 -1"), c("SADD h x"), c("SCARD h"), c("SMEMBERS h"), c("SINTER h"),
        c("HGETALL h"), c("SET h v"), c("TYPE h")],
    "keys-commands": [c("HSET h a 1 b 2"), c("HSET g x 1"), c("TYPE h"), c("OBJECT ENCODING h"),
                      c("EXISTS h g nx"), c("RENAME h r"), c("HGETALL r"), c("EXISTS h"),
                      c("COPY r c"), c("HSET r z 9"), c("HGETALL c"), c("HGETALL r"),
                      c("COPY r c"), c("COPY r c REPLACE"), c("HGETALL c"), c("MOVE c 1"),
                      c("SELECT 1"), c("HGETALL c"), c("OBJECT ENCODING c"), c("SELECT 0"),
                      c("EXPIRE r 1000"), c("HSET r y 8"), c("TTL r"), c("PERSIST r"),
                      c("TTL r"), c("SCAN 0 TYPE hash MATCH r COUNT 100"), c("SCAN 0 TYPE string"),
                      c("KEYS r"), c("DEL r g"), c("EXISTS r g"), c("DBSIZE"),
                      c("RENAMENX c2 x"), c("HSET big " + " ".join(pairs(600))),
                      c("COPY big big2"), c("OBJECT ENCODING big2"), c("HLEN big2")],
    "conversions": [["HSET", "e", *pairs(512)], c("OBJECT ENCODING e"), c("HSET e f0 w"),
                    c("OBJECT ENCODING e"), c("HSET e new w"), c("OBJECT ENCODING e"),
                    c("HLEN e"), c("HDEL e new f1 f2"), c("OBJECT ENCODING e"),
                    ["HSET", "d", *(["f", "v"] * 513)], c("OBJECT ENCODING d"), c("HLEN d"),
                    ["HSET", "d2", *(["f", "v"] * 512)], c("OBJECT ENCODING d2"),
                    ["HMSET", "d3", *(["f", "v"] * 513)], c("OBJECT ENCODING d3"),
                    ["HSETEX", "n", "FIELDS", "513", *pairs(513)], c("OBJECT ENCODING n"),
                    ["HSETEX", "n2", "FIELDS", "513", *(["f", "v"] * 513)],
                    c("OBJECT ENCODING n2"), ["HSET", "g", "a", X64, X64, "1"],
                    c("OBJECT ENCODING g"), c("HGETALL g"), ["HSET", "g", "b", X65],
                    c("OBJECT ENCODING g"), ["HSET", "k", X65, "1"], c("OBJECT ENCODING k"),
                    c("HSET s a 1"), ["HSETNX", "s", "a", X65], c("OBJECT ENCODING s"),
                    ["HSETNX", "s", "b", X65], c("OBJECT ENCODING s"),
                    ["HINCRBYFLOAT", "m", X65, "1"], c("OBJECT ENCODING m"),
                    ["HINCRBY", "m2", X64, "1"], c("OBJECT ENCODING m2"),
                    ["HSETEX", "n3", "FIELDS", "1", "a", X65], c("OBJECT ENCODING n3"),
                    c("HSETEX n4 KEEPTTL FIELDS 1 a 1"), c("OBJECT ENCODING n4"),
                    c("HSET q a 1"), c("COPY q q2"), c("OBJECT ENCODING q2")],
    "hexpire-errors": [c("HSET h a 1 b 2"), c("HEXPIRE h 100 FIELDS 1 a b"),
                       c("HEXPIRE h 100 FIELDS 3 a b"), c("HEXPIRE h 100 FIELDS 0 a"),
                       c("HEXPIRE h 100 FIELDS -1 a"), c("HEXPIRE h 100 FIELDS x a"),
                       c("HEXPIRE h 100 FIELDS 1.5 a"), c("HEXPIRE h 100 FOO 1 a"),
                       c("HEXPIRE h 100 NX XX FIELDS 1 a"), c("HEXPIRE h 100 GT LT FIELDS 1 a"),
                       c("HEXPIRE h 100 NX GT FIELDS 1 a"), c("HEXPIRE h 100 NX LT FIELDS 1 a"),
                       c("HEXPIRE h 100 FOO FIELDS 1 a"), c("HEXPIRE h 100 NX FOO FIELDS 1 a"),
                       c("HEXPIRE h x FIELDS 1 a"), c("HEXPIRE h -1 FIELDS 1 a"),
                       c("HEXPIRE h 9223372036854775807 FIELDS 1 a"),
                       c("HPEXPIRE h 9223372036854775807 FIELDS 1 a"),
                       c("HEXPIREAT h 9223372036854776 FIELDS 1 b"),
                       c("HPEXPIRE h -9223372036854775808 FIELDS 1 b"),
                       c(f"HPEXPIRE h {BIG} FIELDS 1 b"), c("HEXPIRE h 100 a b FIELDS"),
                       c("HEXPIRE h 100 FIELDS 9223372036854775807 a"),
                       c("HEXPIRE h 1 NX FIELDS 1"), c("HEXPIRE nx x FIELDS 1 a"),
                       c("HEXPIRE nx 100 FIELDS 2 a"), c("HEXPIRE nx 100 FIELDS 1 a"),
                       c("OBJECT ENCODING h"), c("HGETALL h")],
    "hexpire-listpack": [c("HSET h a 1 b 2 c 3 d 4 e 5"), c("HPEXPIREAT h 0 FIELDS 1 a"),
                         c("HEXPIRE h 0 FIELDS 1 b"), c("OBJECT ENCODING h"),
                         c(f"HPEXPIREAT h {T_MS} XX FIELDS 1 c"),
                         c(f"HPEXPIREAT h {T_MS} GT FIELDS 1 c"),
                         c("HPEXPIREAT h 1 XX FIELDS 1 c"), c("HPEXPIREAT h 1 GT FIELDS 1 c"),
                         c("HPEXPIREAT h 1 LT FIELDS 1 c"), c("HPEXPIREAT h 1 NX FIELDS 2 c zz"),
                         c("HEXPIRE h 100 FIELDS 1 zz"), c("HPERSIST h FIELDS 2 d zz"),
                         c("HEXPIRETIME h FIELDS 3 d zz e"), c("OBJECT ENCODING h"),
                         c("HGETALL h"), c("HPEXPIREAT h 1 FIELDS 2 d e"), c("EXISTS h")],
    "hexpire-conditions": [c("HSET k a 1 b 2"), c(f"HPEXPIREAT k {T_MS} FIELDS 1 a"),
                           c("OBJECT ENCODING k"), c(f"HPEXPIREAT k {T_MS - 1} GT FIELDS 1 a"),
                           c(f"HPEXPIREAT k {T_MS} GT FIELDS 1 a"),
                           c(f"HPEXPIREAT k {T_MS + 1} GT FIELDS 2 a b"),
                           c(f"HPEXPIREAT k {T_MS + 1} LT FIELDS 2 a b"),
                           c(f"HPEXPIRETIME k FIELDS 2 a b"),
                           c(f"HPEXPIREAT k {T_MS + 5} LT FIELDS 2 a b"),
                           c(f"HPEXPIREAT k {T_MS} NX FIELDS 1 a"),
                           c(f"HPEXPIREAT k {T_MS} XX FIELDS 2 a b"),
                           c(f"HPEXPIREAT k {T_MS} XX GT FIELDS 2 a b"),
                           c(f"HPEXPIREAT k {T_MS} XX LT FIELDS 2 a b"),
                           c(f"HPEXPIRETIME k FIELDS 3 a b zz"), c("HEXPIRETIME k FIELDS 2 a b"),
                           c(f"HEXPIREAT k {T_S + 10} nx fields 1 a"),
                           c(f"HEXPIREAT k {T_S + 10} xx fields 1 a"),
                           c("HPEXPIRETIME k FIELDS 1 a"), c("HPEXPIREAT k 1 XX FIELDS 3 a b zz"),
                           c("HGETALL k"), c("HPEXPIREAT k 0 NX FIELDS 1 b"), c("EXISTS k")],
    "hexpire-rounding": [c("HSET t a 1 b 2"), c(f"HPEXPIREAT t {T_MS + 499} FIELDS 1 a"),
                         c(f"HPEXPIREAT t {T_MS + 500} FIELDS 1 b"),
                         c("HEXPIRETIME t FIELDS 2 a b"), c("HPEXPIRETIME t FIELDS 2 a b"),
                         c("HPEXPIREAT t 9223372036854775807 FIELDS 1 a"),
                         c("HPEXPIRETIME t FIELDS 1 a"), c("HEXPIRETIME t FIELDS 1 a"),
                         c("HEXPIREAT t 9223372036854775 FIELDS 1 b"),
                         c("HPEXPIRETIME t FIELDS 1 b")],
    "httl-errors": [c("HSET h a 1"), c("HTTL h FIELDS 2 a"), c("HTTL h FIELDS x a"),
                    c("HTTL h FOO 1 a"), c("HTTL h FOO x a"), c("HTTL h FIELDS -1 a"),
                    c("HTTL h FIELDS 0 a"), c("HTTL h FIELDS 1 a b"),
                    c("HTTL h FIELDS 9223372036854775807 a"), c("HTTL h fields 1 a"),
                    c("HTTL h FIELDS 3 a zz a"), c("HPTTL nx FIELDS 1 a"),
                    c("HTTL nx FIELDS 2 a"), c("HEXPIRETIME h FIELDS 1 a"),
                    c("HPEXPIRETIME h FOO 1 a")],
    "hpersist": [c("HSET h a 1 b 2"), c("HPERSIST h FIELDS 2 a zz"), c("HPERSIST h FIELDS 2 a"),
                 c("HPERSIST h FOO 1 a"), c("HPERSIST h FOO x a"), c("HPERSIST h FIELDS x a"),
                 c("HPERSIST h FIELDS 0 a"), c("HPERSIST h FIELDS -1 a"),
                 c("HPERSIST nx FIELDS 1 a"), c(f"HPEXPIREAT h {T_MS} FIELDS 1 a"),
                 c("HPERSIST h FIELDS 3 a a b"), c("HPEXPIRETIME h FIELDS 2 a b"),
                 c("OBJECT ENCODING h")],
    "hgetdel": [c("HGETDEL h FIELDS 2 a"), c("HGETDEL h FOO 1 a"), c("HGETDEL h FOO x a"),
                c("HGETDEL h FIELDS x a"), c("HGETDEL h FIELDS 0 a"), c("HGETDEL nx FIELDS 1 a"),
                c("HSET h a 1 b 2 c 3"), c("HGETDEL h FIELDS 3 b b zz"), c("HGETALL h"),
                c("HGETDEL h FIELDS 3 a c a"), c("EXISTS h"), c("HSET h a 1"),
                c("HGETDEL h fields 1 a"), c("EXISTS h")],
    "hsetex-basic": [c("HSETEX h FIELDS 1 a 1"), c("OBJECT ENCODING h"),
                     c("HSETEX h NX FIELDS 1 b 1"), c("HSETEX h XX FIELDS 1 b 1"),
                     c("HSETEX h FNX FIELDS 1 a 2"), c("HSETEX h FNX FIELDS 2 b 2 c 3"),
                     c("HSETEX h FXX FIELDS 2 b 2 c 3"), c("HSETEX h FXX FIELDS 2 b 2 a 3"),
                     c("HSETEX h FNX FNX FIELDS 1 zz 1"), c("HSETEX h NX NX FIELDS 1 a 1"),
                     c("HSETEX h KEEPTTL KEEPTTL FIELDS 1 a 1"), c("HGETALL h"),
                     c("HSETEX h KEEPTTL FIELDS 1 q 5"), c("OBJECT ENCODING h"),
                     c("HSETEX nx FXX FIELDS 1 a 1"), c("HSETEX nx XX FIELDS 1 a 1"),
                     c("EXISTS nx"), c("HSETEX nx FNX FIELDS 1 a 1"),
                     c("HSETEX nx2 FXX KEEPTTL FIELDS 1 a 1"),
                     c("HSETEX nx3 FNX FIELDS 2 a 1 a 2"), c("HGETALL nx3")],
    "hsetex-errors": [c("HSET h a 1"), c("HSETEX h NX XX FIELDS 1 a 1"),
                      c("HSETEX h FNX FXX FIELDS 1 a 1"), c("HSETEX h FXX FNX FIELDS 1 a 1"),
                      c("HSETEX h EX 100 PX 100 FIELDS 1 a 1"),
                      c("HSETEX h EX 100 KEEPTTL FIELDS 1 a 1"),
                      c("HSETEX h KEEPTTL EX 100 FIELDS 1 a 1"), c("HSETEX h EX FIELDS 1 a 1"),
                      c("HSETEX h EX x FIELDS 1 a 1"), c("HSETEX h EX 100 EX x FIELDS 1 a 1"),
                      c("HSETEX h EX -1 FIELDS 1 a 1"), c("HSETEX h PERSIST FIELDS 1 a 1"),
                      c("HSETEX h GET FIELDS 1 a 1"), c("HSETEX h FOO FIELDS 1 a 1"),
                      c("HSETEX h FIELDS 2 a 1"), c("HSETEX h FIELDS 0 a 1"),
                      c("HSETEX h FIELDS x a 1"), c("HSETEX h FIELDS 1 a 1 b"),
                      c("HSETEX h a 1 FIELDS 1 a 1"), c("HSETEX h FIELDS 1 a 1 FIELDS 1 b 2"),
                      c("HSETEX h EX 9223372036854775807 FIELDS 1 a 1"),
                      c("HSETEX h PX 9223372036854775807 FIELDS 1 a 1"),
                      c("HSETEX h EX 1 FIELDS 9223372036854775807 a 1"),
                      c("HSETEX h EX 1 FIELDS 4611686018427387904 a 1"),
                      c("HSETEX h EX 1 FIELDS 1 a"), c("HSETEX h FNX EX -1 FIELDS 1 a 1"),
                      c("HSETEX h FXX EX x FIELDS 1 zz 1"), c("HSETEX h NX EX x FIELDS 1 zz 1"),
                      c("HSETEX nx NX EX x FIELDS 1 zz 1"), c("HSETEX nx XX EX -1 FIELDS 1 a 1"),
                      c("HSETEX fields FIELDS 1 a 1"), c("HSETEX fields 1 a 1 b 2"),
                      c("HSETEX h fields 1 a 1"), c("HGETALL h"), c("OBJECT ENCODING h")],
    "hsetex-expiry": [c(f"HSETEX h EXAT {T_S} FIELDS 2 a 1 b 2"), c("OBJECT ENCODING h"),
                      c("HPEXPIRETIME h FIELDS 2 a b"),
                      c(f"HSETEX h PXAT {T_MS + 7} FIELDS 1 a 3"),
                      c("HSETEX h KEEPTTL FIELDS 2 a 4 c 5"), c("HPEXPIRETIME h FIELDS 3 a b c"),
                      c("HSETEX h FIELDS 1 a 6"), c("HPEXPIRETIME h FIELDS 1 a"),
                      c(f"HSETEX h EXAT {T_S} EXAT {T_S + 1} FIELDS 1 c 7"),
                      c("HPEXPIRETIME h FIELDS 1 c"), c("HSETEX h PX 0 FIELDS 2 a 1 zz 1"),
                      c("HEXISTS h a"), c("HSETEX h EX 0 FIELDS 1 b 1"),
                      c("HSETEX h PXAT 0 FIELDS 1 c 1"), c("EXISTS h"),
                      c("HSETEX h PX 0 FIELDS 1 a 1"), c("EXISTS h"), c("HSET h a 1 c 3"),
                      c("HSETEX h EXAT 1 FIELDS 2 a 1 b 2"), c("HGETALL h"),
                      c("HSETEX h FXX PX 0 FIELDS 1 zz 1"), c("HSETEX h XX PX 0 FIELDS 1 c 1"),
                      c("EXISTS h"), c(f"HSETEX h EXAT {T_S} FIELDS 1 a 1"),
                      c(f"HSETEX h NX PXAT {T_MS} FIELDS 1 b 1"), c("HGETALL h")],
    "hgetex": [c("HSET h a 1 b 2 c 3"), c("HGETEX h FIELDS 2 a zz"),
               c(f"HGETEX h EXAT {T_S} FIELDS 2 a zz"), c("OBJECT ENCODING h"),
               c("HPEXPIRETIME h FIELDS 3 a b zz"), c("HGETEX h PERSIST FIELDS 3 a b zz"),
               c("HPEXPIRETIME h FIELDS 3 a b zz"), c(f"HGETEX h PXAT {T_MS} FIELDS 1 c"),
               c(f"HGETEX h EXAT {T_S} EXAT {T_S + 1} FIELDS 1 c"),
               c("HEXPIRETIME h FIELDS 1 c"), c("HGETEX h PX 0 FIELDS 2 a zz"),
               c("HLEN h"), c("HGETEX h EXAT 1 FIELDS 2 b b"), c("HGETEX h PXAT 1 FIELDS 1 c"),
               c("EXISTS h"), c("HSET h a 1"), c("HGETEX h EX 100 PX 100 FIELDS 1 a"),
               c("HGETEX h EX 100 PERSIST FIELDS 1 a"), c("HGETEX h PERSIST EX 100 FIELDS 1 a"),
               c("HGETEX h PERSIST PERSIST FIELDS 1 a"), c("HGETEX h KEEPTTL FIELDS 1 a"),
               c("HGETEX h NX FIELDS 1 a"), c("HGETEX h FNX FIELDS 1 a"),
               c("HGETEX h EX FIELDS 1 a"), c("HGETEX h EX x FIELDS 1 a"),
               c("HGETEX h EX -1 FIELDS 1 a"), c("HGETEX h EX 9223372036854775807 FIELDS 1 a"),
               c("HGETEX h FIELDS 0 a"), c("HGETEX h FIELDS 2 a"), c("HGETEX h FIELDS x a"),
               c("HGETEX h FIELDS -1 a"), c("HGETEX h a FIELDS 1 a"), c("HGETEX h FOO 1 a"),
               c("HGETEX h EX 1 FIELDS 1"), c("HGETEX fields FIELDS 1 a"),
               c("HGETEX nx EX x FIELDS 1 a"), c("HGETEX nx EX 100 FIELDS 2 a b"),
               c("HGETEX nx PERSIST FIELDS 1 a"), c("EXISTS nx"), c("OBJECT ENCODING h"),
               c("HGETEX h PERSIST FIELDS 1 a"), c("HGETEX h EX 100 FIELDS 1 zz"),
               c("OBJECT ENCODING h"), c("HGETEX h EX 100 FIELDS 2 a a"),
               c("OBJECT ENCODING h"), c("HGETEX h PX 0 FIELDS 2 a a"), c("EXISTS h")],
    "field-ttl-and-writes": [c("HSET p a 1 b 2 c 3"), c(f"HPEXPIREAT p {T_MS} FIELDS 1 b"),
                             c("HSET p b 9"), c("HPEXPIRETIME p FIELDS 1 b"),
                             c(f"HPEXPIREAT p {T_MS} FIELDS 1 b"), c("HINCRBY p b 1"),
                             c("HPEXPIRETIME p FIELDS 1 b"), c("HINCRBYFLOAT p b 0.5"),
                             c("HPEXPIRETIME p FIELDS 1 b"), c("HSETNX p b 1"),
                             c("HPEXPIRETIME p FIELDS 1 b"), c("HMSET p b 2"),
                             c("HPEXPIRETIME p FIELDS 1 b"), c(f"HPEXPIREAT p {T_MS} FIELDS 1 b"),
                             c("HDEL p b"), c("HPEXPIRETIME p FIELDS 1 b"), c("HGET p b"),
                             c("OBJECT ENCODING p"), c(f"HPEXPIREAT p {T_MS} FIELDS 2 a c"),
                             c("COPY p p2"), c("OBJECT ENCODING p2"),
                             c("HPEXPIRETIME p2 FIELDS 2 a c"), c("RENAME p p3"),
                             c("HPEXPIRETIME p3 FIELDS 2 a c"), c("HLEN p3")],
    "sort-patterns": [c("RPUSH l 3 1 2"), c("HSET w_1 f 30 g x"), c("HSET w_2 f 10"),
                      c("HSET w_3 f 20"), c("HSET o_1 name one"), c("HSET o_3 name three"),
                      c("SET s_2 str"), c("SORT l BY w_*->f"), c("SORT l BY w_*->f DESC"),
                      c("SORT l BY w_*->f GET o_*->name GET # GET w_*->g"),
                      c("SORT l BY w_*->missing GET o_*->"), c("SORT l GET s_*->f GET s_*"),
                      c("SORT l BY o_*->name ALPHA GET o_*->name"), c("SORT w_1"),
                      c("SORT_RO l BY w_*->f GET o_*->name"),
                      c(f"HPEXPIREAT w_2 {T_MS} FIELDS 1 f"), c("SORT l BY w_*->f"),
                      c("HPEXPIREAT w_2 0 FIELDS 1 f"), c("SORT l BY w_*->f GET w_*->f")],
    "binary-fields": [["HSET", "h", b"\x00a", b"\x00v", b"line\r\nbreak", b"", b"", b"empty"],
                      c("HGETALL h"), ["HGET", "h", b""], ["HSTRLEN", "h", b"\x00a"],
                      ["HDEL", "h", b""], c("HKEYS h"), ["HSCAN", "h", "0", "MATCH", "*break"],
                      ["HSET", "", "f", "v"], ["HGETALL", ""]],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(CASES))
def test_case(tern, valkey, name, proto):
    run_commands(tern, valkey, proto, CASES[name], f"case {name!r} RESP{proto}")


# ---------------------------------------------------------------------------
# Unordered replies and tolerant comparison
# ---------------------------------------------------------------------------

def U(line):
    return ("unordered", line.split() if isinstance(line, str) else line)


# Commands that list fields, values or pairs of a hash.
LISTINGS = {b"HGETALL", b"HKEYS", b"HVALS", b"HSCAN", b"HRANDFIELD"}
# Commands that read remaining times: non-negative replies may differ by this much.
TTL_TOLERANCE = {b"HTTL": 1, b"HPTTL": 1000, b"HEXPIRETIME": 1, b"HPEXPIRETIME": 1000}


def _normal(value):
    """A listing as a canonical value: pairs (from a map or a RESP3 pair list) and plain
    elements sorted, nested SCAN replies normalised inside."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list) \
            and isinstance(value[0], bytes) and value[0].isdigit():
        return [value[0], _normal(value[1])]
    if isinstance(value, list):
        return sorted(repr(v) for v in value)
    return value


def same_unordered(args, rt: bytes, rv: bytes) -> bool:
    """Same RESP type and the same elements in any order. Flat RESP2 pair lists (HGETALL,
    HSCAN, HRANDFIELD WITHVALUES) are compared as pairs."""
    if rt[:1] != rv[:1]:
        return False
    dt, dv = decode(rt), decode(rv)
    words = [as_bytes(a).upper() for a in args]
    name = words[0]
    with_pairs = name == b"HGETALL" or (name == b"HSCAN" and b"NOVALUES" not in words) \
        or (name == b"HRANDFIELD" and len(args) == 4)
    if with_pairs:
        def paired(v):
            if isinstance(v, list) and len(v) == 2 and isinstance(v[1], list) \
                    and isinstance(v[0], bytes) and v[0].isdigit():
                return [v[0], paired(v[1])]
            if isinstance(v, list) and v and not isinstance(v[0], (list, tuple)):
                return sorted(zip(v[::2], v[1::2]))
            return sorted(tuple(p) for p in v)
        return paired(dt) == paired(dv)
    return _normal(dt) == _normal(dv)


def ttl_close(args, rt: bytes, rv: bytes) -> bool:
    tol = TTL_TOLERANCE.get(as_bytes(args[0]).upper())
    if tol is None or rt[:1] != b"*" or rv[:1] != b"*":
        return False
    dt, dv = decode(rt), decode(rv)
    if len(dt) != len(dv):
        return False
    return all(a == b or (a >= 0 and b >= 0 and abs(a - b) <= tol) for a, b in zip(dt, dv))


def run_unordered(tern, valkey, proto, commands, title):
    ct, cv = open_pair(tern, valkey, proto)
    try:
        for index, item in enumerate(commands):
            unordered = isinstance(item, tuple)
            args = item[1] if unordered else item
            rt, rv = call_both(ct, cv, args)
            if unordered:
                ok = same_unordered(args, rt, rv)
            else:
                ok = replies_match(args, rt, rv) or ttl_close(args, rt, rv)
            if not ok:
                raise Mismatch(f"{title}: command #{index}: {show_args(args)}\n"
                               f"  tern:   {rt[:1000]!r}\n  valkey: {rv[:1000]!r}")
    finally:
        ct.close()
        cv.close()


UNORDERED = {
    "large-hash": [["HSET", "h", *pairs(600)], c("OBJECT ENCODING h"), c("HLEN h"),
                   U("HGETALL h"), U("HKEYS h"), U("HVALS h"), U("HRANDFIELD h 1000"),
                   U("HRANDFIELD h 600 WITHVALUES"), c("HGET h f599"), c("HMGET h f0 zz f1"),
                   c("HDEL h f0 f1 zz"), c("HLEN h"), c("HEXISTS h f0"), c("HSTRLEN h f2"),
                   c("HINCRBY h n 7"), c("HINCRBYFLOAT h n 0.5"), c("HGET h n"),
                   U("HSCAN h 0 COUNT 10000"), U("HSCAN h 0 COUNT 10000 NOVALUES"),
                   U("HSCAN h 0 COUNT 10000 MATCH f1*")],
    "volatile-hash": [c("HSET h a 1 b 2 c 3"), c(f"HPEXPIREAT h {T_MS} FIELDS 1 b"),
                      c("OBJECT ENCODING h"), U("HGETALL h"), U("HKEYS h"), U("HVALS h"),
                      U("HRANDFIELD h 10"), U("HRANDFIELD h 3 WITHVALUES"),
                      U("HSCAN h 0 COUNT 100"), U("HSCAN h 0 NOVALUES COUNT 100"),
                      c("HPERSIST h FIELDS 1 b"), c("OBJECT ENCODING h"), U("HGETALL h"),
                      c("HDEL h a b c"), c("EXISTS h")],
    "long-value": [["HSET", "h", "a", "1", "b", X65], c("OBJECT ENCODING h"), U("HGETALL h"),
                   c("HDEL h b"), c("OBJECT ENCODING h"), c("HGETALL h"),
                   c("HSET h c 3 d 4"), U("HGETALL h")],
    "ttl-readers": [c("HSET h a 1 b 2"), c("HEXPIRE h 100 FIELDS 1 a"),
                    c("HPEXPIRE h 5500 FIELDS 1 b"), c("HTTL h FIELDS 3 a b zz"),
                    c("HPTTL h FIELDS 3 a b zz"), c("HEXPIRETIME h FIELDS 2 a b"),
                    c("HPEXPIRETIME h FIELDS 2 a b"), c("HEXPIRE h 50 GT FIELDS 1 a"),
                    c("HEXPIRE h 50 LT FIELDS 1 a"), c("HTTL h FIELDS 1 a"),
                    c("HPEXPIRE h 100000 XX GT FIELDS 2 a b"), c("HTTL h FIELDS 2 a b"),
                    c("HSETEX h EX 77 FIELDS 1 c 3"), c("HTTL h FIELDS 1 c"),
                    c("HSETEX h PX 1234 FIELDS 1 d 3"), c("HPTTL h FIELDS 1 d"),
                    c("HGETEX h EX 33 FIELDS 2 c zz"), c("HTTL h FIELDS 2 c zz"),
                    c("HGETEX h PX 999 FIELDS 1 c"), c("HPTTL h FIELDS 1 c"),
                    c("HSETEX h KEEPTTL FIELDS 1 c 4"), c("HPTTL h FIELDS 1 c"),
                    c("HINCRBY h c 1"), c("HPTTL h FIELDS 1 c")],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(UNORDERED))
def test_unordered(tern, valkey, name, proto):
    run_unordered(tern, valkey, proto, UNORDERED[name], f"unordered {name!r} RESP{proto}")


# ---------------------------------------------------------------------------
# Expired fields: stored until reclaimed
# ---------------------------------------------------------------------------

EXPIRED_FIELDS = [
    c("HSET h a 1 b 2 c 3 d 4 e 5 f 6 g 7 x 9"),
    c("HPEXPIRE h 20 FIELDS 7 a b c d e f g"),
    ("sleep",),
    c("HLEN h"), c("HGET h a"), c("HMGET h a x"), c("HEXISTS h a"), c("HSTRLEN h a"),
    c("HTTL h FIELDS 2 a x"), c("HSETNX h a 10"), c("HLEN h"), c("HDEL h b"), c("HLEN h"),
    c("HGETDEL h FIELDS 1 c"), c("HLEN h"), c("HEXPIRE h 100 FIELDS 1 d"),
    c("HPERSIST h FIELDS 1 d"), c("HGETEX h PX 0 FIELDS 1 d"), c("HGETEX h EX 100 FIELDS 1 d"),
    c("HLEN h"), c("HINCRBY h e 5"), c("HTTL h FIELDS 1 e"), c("HLEN h"),
    c("HSETEX h KEEPTTL FIELDS 1 f 1"), c("HTTL h FIELDS 1 f"), c("HSETEX h FXX FIELDS 1 g 1"),
    c("HSETEX h FNX FIELDS 1 g 1"), c("HLEN h"), U("HKEYS h"), U("HGETALL h"),
    c("COPY h h2"), c("HLEN h2"),
    c("HSET k a 1 b 2"), c("HPEXPIRE k 20 FIELDS 1 a"), ("sleep",), c("HDEL k b"),
    c("EXISTS k"), c("TYPE k"), c("HLEN k"), c("HGETALL k"), c("HKEYS k"), c("HRANDFIELD k"),
    c("HRANDFIELD k -3 WITHVALUES"), c("HRANDFIELD k 3"), c("HSCAN k 0"),
    c("COPY k k2"), c("EXISTS k2"), c("HLEN k2"), c("OBJECT ENCODING k2"), c("RENAME k k3"),
    c("HLEN k3"), c("HINCRBYFLOAT k3 a 1.5"), c("HLEN k3"), c("HPTTL k3 FIELDS 1 a"),
    c("HSET m a 1 b 2"), c("HPEXPIRE m 20 FIELDS 2 a b"), ("sleep",),
    c("HSETEX m PX 0 FIELDS 1 a 1"), c("HLEN m"), c("HSETEX m PX 0 FIELDS 1 b 1"),
    c("EXISTS m"), c("DBSIZE"),
]


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_expired_fields_stay_until_reclaimed(tern, valkey, proto):
    """With the active cycle off, expired fields are invisible to reads but still stored."""
    ct, cv = open_pair(tern, valkey, proto)
    try:
        for cl in (ct, cv):
            assert cl.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        for index, item in enumerate(EXPIRED_FIELDS):
            if item == ("sleep",):
                time.sleep(0.05)
                continue
            unordered = isinstance(item, tuple)
            args = item[1] if unordered else item
            rt, rv = call_both(ct, cv, args)
            ok = same_unordered(args, rt, rv) if unordered else replies_match(args, rt, rv)
            if not ok:
                raise Mismatch(f"command #{index}: {show_args(args)}\n"
                               f"  tern:   {rt[:500]!r}\n  valkey: {rv[:500]!r}")
    finally:
        for cl in (ct, cv):
            cl.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            cl.close()


def _both(tern, valkey, proto):
    ct, cv = open_pair(tern, valkey, proto)
    return [("tern", ct), ("valkey", cv)]


def test_active_expiry_reclaims_fields(tern, valkey):
    """Expired fields disappear without any access to their hash, and a hash whose last field
    expires disappears as a key."""
    results = {}
    for who, cl in _both(tern, valkey, 2):
        cl.call("HSET", "h", "a", "1", "b", "2", "c", "3")
        cl.call("HPEXPIRE", "h", "80", "FIELDS", "2", "a", "b")
        cl.call("HSET", "gone", "x", "1")
        cl.call("HPEXPIRE", "gone", "80", "FIELDS", "1", "x")
        cl.call("HSETEX", "g2", "PX", "80", "FIELDS", "2", "p", "1", "q", "2")
        big = []
        for i in range(300):
            big += [f"f{i}", "v"]
        cl.call("HSET", "big", *big)
        cl.call("HPEXPIRE", "big", "80", "FIELDS", "200", *[f"f{i}" for i in range(200)])
        cl.call("HPEXPIRE", "big", "100000", "FIELDS", "1", "f299")
        assert decode(cl.call("DBSIZE")) == 4, who
        time.sleep(0.5)
        # DBSIZE and SCAN do not look inside the hashes: only the active cycle can have
        # removed the keys.
        seen = (decode(cl.call("DBSIZE")),
                sorted(decode(cl.call("SCAN", "0", "COUNT", "1000"))[1]),
                decode(cl.call("HLEN", "h")), decode(cl.call("HLEN", "big")))
        [ttl] = decode(cl.call("HTTL", "big", "FIELDS", "1", "f299"))
        assert 95 <= ttl <= 100, (who, ttl)
        results[who] = seen
        cl.close()
    assert results["tern"] == results["valkey"]
    assert results["tern"][:4] == (2, [b"big", b"h"], 1, 100)


def test_active_expiry_follows_moved_hashes(tern, valkey):
    """A hash with volatile fields keeps being reclaimed after RENAME, COPY, MOVE, SWAPDB."""
    results = {}
    for who, cl in _both(tern, valkey, 2):
        for db in (1, 2):
            cl.call("SELECT", db)
            cl.call("FLUSHDB")
        cl.call("SELECT", "0")
        for name in ("r", "c", "m", "s"):
            cl.call("HSET", name, "a", "1")
            cl.call("HPEXPIRE", name, "80", "FIELDS", "1", "a")
        cl.call("RENAME", "r", "renamed-to-another-slot")
        cl.call("COPY", "c", "copied-elsewhere")
        cl.call("MOVE", "m", "1")
        cl.call("SELECT", "2")
        cl.call("HSET", "s2", "a", "1")
        cl.call("HPEXPIRE", "s2", "80", "FIELDS", "1", "a")
        cl.call("SWAPDB", "2", "3")
        cl.call("SELECT", "0")
        time.sleep(0.5)
        sizes = []
        for db in (0, 1, 2, 3):
            cl.call("SELECT", db)
            sizes.append(decode(cl.call("DBSIZE")))
        cl.call("SELECT", "3")
        cl.call("FLUSHDB")
        cl.call("SELECT", "1")
        cl.call("FLUSHDB")
        results[who] = sizes
        cl.close()
    assert results["tern"] == results["valkey"] == [0, 0, 0, 0]


# ---------------------------------------------------------------------------
# Random fields: properties on both servers
# ---------------------------------------------------------------------------

SHAPES = {
    "listpack": [f"w{i}" for i in range(20)],
    "hashtable": [f"m{i}" for i in range(600)],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_hrandfield_properties(tern, valkey, shape, proto):
    fields = SHAPES[shape]
    universe = {f.encode(): f"v-{f}".encode() for f in fields}
    n = len(fields)
    for who, cl in _both(tern, valkey, proto):
        args = []
        for f in fields:
            args += [f, f"v-{f}"]
        cl.call("HSET", "h", *args)
        assert decode(cl.call("OBJECT", "ENCODING", "h")) == shape.encode()
        order = decode(cl.call("HKEYS", "h"))
        one = decode(cl.call("HRANDFIELD", "h"))
        assert one in universe, who
        for count in (1, 2, 5, n // 4, n // 2, n - 1, n, n + 3):
            got = decode(cl.call("HRANDFIELD", "h", count))
            assert len(got) == min(count, n), (who, count)
            assert len(set(got)) == len(got) and set(got) <= set(universe), (who, count)
            if shape == "listpack":
                # A listpack sample keeps the hash's order.
                positions = [order.index(f) for f in got]
                assert positions == sorted(positions), (who, count)
            raw = cl.call("HRANDFIELD", "h", count, "WITHVALUES")
            got = decode(raw)
            if proto == 3:
                assert all(isinstance(p, list) and len(p) == 2 for p in got), who
                flat = [x for p in got for x in p]
            else:
                flat = got
            assert len(flat) == 2 * min(count, n), (who, count)
            for field, value in zip(flat[::2], flat[1::2]):
                assert universe[field] == value, who
        for count in (1, 3, n, 3 * n):
            got = decode(cl.call("HRANDFIELD", "h", -count))
            assert len(got) == count and set(got) <= set(universe), (who, count)
            got = decode(cl.call("HRANDFIELD", "h", -count, "WITHVALUES"))
            assert len(got) == (count if proto == 3 else 2 * count), (who, count)
        many = decode(cl.call("HRANDFIELD", "h", -20 * n))
        assert len(set(many)) > n // 2, who
        cl.close()


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_hscan_full_iteration(tern, valkey, proto):
    fields = [f"field:{i}" for i in range(2000)]
    args = []
    for f in fields:
        args += [f, f"v{f}"]
    for who, cl in _both(tern, valkey, proto):
        cl.call("HSET", "h", *args)
        for options, wanted in (([], set(fields)),
                                (["MATCH", "field:1??"],
                                 {f"field:{i}" for i in range(100, 200)})):
            cursor, found = b"0", {}
            for _ in range(100000):
                cursor, batch = decode(cl.call("HSCAN", "h", cursor, "COUNT", "37", *options))
                for field, value in zip(batch[::2], batch[1::2]):
                    assert value == b"v" + field, who
                    found[field] = value
                if cursor == b"0":
                    break
            assert set(found) == {f.encode() for f in wanted}, (who, options)
        # Fields present for the whole iteration are returned even while others are removed.
        cursor, found, step = b"0", set(), 0
        for _ in range(100000):
            cursor, batch = decode(cl.call("HSCAN", "h", cursor, "COUNT", "50", "NOVALUES"))
            found.update(batch)
            cl.call("HDEL", "h", f"field:{1000 + step}")
            step += 1
            if cursor == b"0":
                break
        kept = {f"field:{i}".encode() for i in range(1000)}
        assert kept <= found, who
        cl.close()


# ---------------------------------------------------------------------------
# Seeded random workload
# ---------------------------------------------------------------------------

KEYS = ["h1", "h2", "h3", "{h}4", "{h}5"]
FIELDS = [f"f{i}" for i in range(12)] + ["1", "2", "-3", "007", ""]
VALUES = ["0", "1", "-7", "12", "3.5", "abc", "", "9223372036854775807", "x" * 10]


def workload(rng: random.Random, steps: int):
    """Yields hash and key commands on a few keys; times to live are absolute and far off, or
    in the past, so every reply is reproducible."""
    def key():
        return rng.choice(KEYS)

    def fields(most=4):
        return [rng.choice(FIELDS) for _ in range(rng.randint(1, most))]

    def value():
        return X65 if rng.random() < 0.02 else rng.choice(VALUES)

    def when_ms():
        return rng.choice([0, 1, T_MS, T_MS + 1000, T_MS + 2000, T_MS - 1000])

    makers = [
        (12, lambda: ["HSET", key(), *[x for f in fields() for x in (f, value())]]),
        (2, lambda: ["HMSET", key(), rng.choice(FIELDS), value()]),
        (3, lambda: ["HSETNX", key(), rng.choice(FIELDS), value()]),
        (5, lambda: ["HGET", key(), rng.choice(FIELDS)]),
        (3, lambda: ["HMGET", key(), *fields()]),
        (5, lambda: ["HDEL", key(), *fields()]),
        (3, lambda: ["HLEN", key()]),
        (2, lambda: ["HEXISTS", key(), rng.choice(FIELDS)]),
        (2, lambda: ["HSTRLEN", key(), rng.choice(FIELDS)]),
        (3, lambda: ["HGETALL", key()]),
        (1, lambda: ["HKEYS", key()]),
        (1, lambda: ["HVALS", key()]),
        (4, lambda: ["HINCRBY", key(), rng.choice(FIELDS), rng.choice(["1", "-5", "x", "100"])]),
        (3, lambda: ["HINCRBYFLOAT", key(), rng.choice(FIELDS),
                     rng.choice(["1.5", "-0.25", "3", "abc"])]),
        (1, lambda: ["HRANDFIELD", key(), "100", *rng.choice([[], ["WITHVALUES"]])]),
        (1, lambda: ["HSCAN", key(), "0", "COUNT", "1000",
                     *rng.choice([[], ["MATCH", "f1*"], ["NOVALUES"]])]),
        (4, lambda: [rng.choice(["HPEXPIREAT", "HEXPIREAT"]), key(),
                     str(when_ms()) if rng.random() < 0.5 else str(when_ms() // 1000),
                     *rng.choice([[], ["NX"], ["XX"], ["GT"], ["LT"], ["XX", "GT"]]),
                     "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields(3))]),
        (2, lambda: ["HPEXPIRETIME", key(), "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields())]),
        (1, lambda: ["HEXPIRETIME", key(), "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields())]),
        (2, lambda: ["HPERSIST", key(), "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields())]),
        (2, lambda: ["HGETDEL", key(), "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields(2))]),
        (3, lambda: ["HGETEX", key(),
                     *rng.choice([[], ["PERSIST"], ["PXAT", str(when_ms())],
                                  ["EXAT", str(when_ms() // 1000)]]),
                     "FIELDS", *(lambda fs: [str(len(fs)), *fs])(fields(3))]),
        (3, lambda: ["HSETEX", key(),
                     *rng.choice([[], ["NX"], ["XX"], ["FNX"], ["FXX"]]),
                     *rng.choice([[], ["KEEPTTL"], ["PXAT", str(when_ms())]]),
                     "FIELDS", *(lambda fs: [str(len(fs)), *[x for f in fs for x in (f, value())]])(
                         fields(3))]),
        (1, lambda: ["OBJECT", "ENCODING", key()]),
        (1, lambda: ["EXISTS", *rng.sample(KEYS, 2)]),
        (1, lambda: ["TYPE", key()]),
        (1, lambda: ["DEL", key()]),
        (1, lambda: ["COPY", key(), key(), *rng.choice([[], ["REPLACE"]])]),
        (1, lambda: ["RENAME", "{h}4", "{h}5"] if rng.random() < 0.5 else ["RENAME", "{h}5", "{h}4"]),
        (1, lambda: ["SET", key(), "str"]),
    ]
    weights = [w for w, _ in makers]
    for _ in range(steps):
        _, make = rng.choices(makers, weights=weights)[0]
        yield make()


@pytest.mark.parametrize("proto,seed,steps", [(2, 11, 4000), (3, 23, 2000)],
                         ids=["resp2", "resp3"])
def test_random_workload(tern, valkey, proto, seed, steps):
    ct, cv = open_pair(tern, valkey, proto)
    history = []
    try:
        for index, args in enumerate(workload(random.Random(seed), steps)):
            rt, rv = call_both(ct, cv, args)
            ok = replies_match(args, rt, rv)
            if not ok and args[0] in ("HGETALL", "HKEYS", "HVALS", "HSCAN", "HRANDFIELD"):
                # Listings of a hashtable hash come in the table's own order.
                enc = [cl.call("OBJECT", "ENCODING", args[1]) for cl in (ct, cv)]
                ok = enc[0] == enc[1] == b"$9\r\nhashtable\r\n" and same_unordered(args, rt, rv)
            if not ok:
                lines = [f"seed {seed}, command #{index}: {show_args(args)}",
                         f"  tern:   {rt[:500]!r}", f"  valkey: {rv[:500]!r}", "before:"]
                lines += [f"  {show_args(h)}" for h in history[-15:]]
                raise Mismatch("\n".join(lines))
            history.append(args)
    finally:
        ct.close()
        cv.close()
