"""The encoding thresholds as configuration: set at start and with CONFIG SET.

Each case starts a fresh Tern and a fresh Valkey with the same directives, then
runs the same commands on both; OBJECT ENCODING shows where a collection left
its compact form.
"""

from __future__ import annotations

import pytest

from difftools import run_commands


def c(line: str):
    return line.split()


CONFIG_NAMES = [c("CONFIG GET *-max-*-entries"), c("CONFIG GET *-max-*-value"),
                c("CONFIG GET list-max-*"), c("CONFIG GET set-max-intset-entries"),
                c("CONFIG SET hash-max-listpack-entries -1"),
                c("CONFIG SET hash-max-listpack-entries 1k"),
                c("CONFIG SET set-max-listpack-value abc"),
                c("CONFIG SET list-max-listpack-size 2147483648"),
                c("CONFIG SET zset-max-ziplist-entries 7"), c("CONFIG GET zset-max-*-entries"),
                c("CONFIG SET list-max-ziplist-size -6"), c("CONFIG GET list-max-listpack-size")]

SETS = [c("CONFIG SET set-max-intset-entries 3"), c("SADD s 1 2 3"), c("OBJECT ENCODING s"),
        c("SADD s 4"), c("OBJECT ENCODING s"), c("CONFIG SET set-max-listpack-entries 2"),
        c("SADD t a b"), c("OBJECT ENCODING t"), c("SADD t c"), c("OBJECT ENCODING t"),
        c("CONFIG SET set-max-listpack-entries 10 set-max-listpack-value 3"),
        c("SADD u abc"), c("OBJECT ENCODING u"), c("SADD u abcd"), c("OBJECT ENCODING u"),
        c("CONFIG SET set-max-intset-entries 0"), c("SADD v 1"), c("OBJECT ENCODING v")]

LISTS = [c("CONFIG SET list-max-listpack-size 3"), c("RPUSH l a b c"), c("OBJECT ENCODING l"),
         c("RPUSH l d"), c("OBJECT ENCODING l"), c("RPOP l 3"), c("OBJECT ENCODING l"),
         c("CONFIG SET list-max-listpack-size 0"), c("RPUSH m a"), c("OBJECT ENCODING m"),
         c("RPUSH m b"), c("OBJECT ENCODING m"),
         c("CONFIG SET list-max-listpack-size -1"), ["RPUSH", "n", "x" * 4000],
         c("OBJECT ENCODING n"), ["RPUSH", "n", "y" * 100], c("OBJECT ENCODING n"),
         c("CONFIG SET list-max-listpack-size -5"), ["RPUSH", "o", "x" * 60000],
         c("OBJECT ENCODING o"), ["RPUSH", "o", "y" * 6000], c("OBJECT ENCODING o"),
         c("CONFIG SET list-max-listpack-size 100"), ["RPUSH", "p", "x" * 8000],
         c("OBJECT ENCODING p"), ["RPUSH", "p", "y" * 500], c("OBJECT ENCODING p"),
         c("LRANGE l 0 -1"), c("LLEN o")]

CASES = {"config-names": CONFIG_NAMES, "sets": SETS, "lists": LISTS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_thresholds_set_at_run_time(start_pair, name):
    tern, valkey = start_pair()
    run_commands(tern, valkey, 2, CASES[name], name)


def test_thresholds_set_at_start(start_pair):
    directives = [("set-max-intset-entries", "2"), ("list-max-listpack-size", "2")]
    tern, valkey = start_pair(directives)
    run_commands(tern, valkey, 2, [c("SADD s 1 2"), c("OBJECT ENCODING s"), c("SADD s 3"),
                                   c("OBJECT ENCODING s"), c("RPUSH l a b"),
                                   c("OBJECT ENCODING l"), c("RPUSH l c"),
                                   c("OBJECT ENCODING l"),
                                   c("CONFIG GET set-max-intset-entries")], "start")
