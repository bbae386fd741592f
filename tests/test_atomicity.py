"""Scripts and transactions run alone across every worker thread.

Many connections, spread over the worker threads of one Tern, run a script that moves units
between keys: some keys it declares, others it reaches by names built inside the script (keys
it did not declare). Other connections read all the keys at once, with MGET, in a transaction
and from a read-only script. The total never changes, so any reader that sees a different total
saw a script half done.
"""

from __future__ import annotations

import random
import threading

from harness import decode, encode_command

KEYS = ["acct:%d" % i for i in range(8)]
TOTAL = 8000

# Moves ARGV[1] units from KEYS[1] to KEYS[2], then the same amount from an undeclared account
# (named by ARGV[2]) to another (ARGV[3]), reading each balance before writing it.
MOVE = """
local amount = tonumber(ARGV[1])
local a = tonumber(redis.call('GET', KEYS[1]))
redis.call('SET', KEYS[1], a - amount)
local b = tonumber(redis.call('GET', KEYS[2]))
redis.call('SET', KEYS[2], b + amount)
redis.call('DECRBY', 'acct:' .. ARGV[2], amount)
redis.call('INCRBY', 'acct:' .. ARGV[3], amount)
return 1
"""

SUM = """
local total = 0
for i = 0, 7 do total = total + tonumber(redis.call('GET', 'acct:' .. i)) end
return total
"""


def test_scripts_are_atomic_across_workers(start_server):
    server = start_server("tern", [("worker-threads", "2")])
    with server.client() as setup:
        setup.call("MSET", *[x for k in KEYS for x in (k, str(TOTAL // len(KEYS)))])
        move_sha = decode(setup.call("SCRIPT", "LOAD", MOVE)).decode()
        sum_sha = decode(setup.call("SCRIPT", "LOAD", SUM)).decode()
    errors = []
    stop = threading.Event()

    def mover(seed):
        rng = random.Random(seed)
        with server.client() as client:
            for _ in range(300):
                a, b, c, d = rng.sample(range(8), 4)
                batch = [("EVALSHA", move_sha, "2", KEYS[a], KEYS[b], str(rng.randint(1, 9)),
                          str(c), str(d)) for _ in range(4)]
                client.send(b"".join(encode_command(*args) for args in batch))
                for reply in client.read_replies(len(batch)):
                    if reply != b":1\r\n":
                        errors.append(("move", reply))

    def reader(kind):
        with server.client() as client:
            while not stop.is_set():
                if kind == 0:
                    total = sum(int(v) for v in decode(client.call("MGET", *KEYS)))
                elif kind == 1:
                    client.call("MULTI")
                    for k in KEYS:
                        client.call("GET", k)
                    total = sum(int(v) for v in decode(client.call("EXEC")))
                else:
                    total = decode(client.call("EVALSHA_RO", sum_sha, "0"))
                if total != TOTAL:
                    errors.append(("torn", kind, total))

    movers = [threading.Thread(target=mover, args=(i,)) for i in range(4)]
    readers = [threading.Thread(target=reader, args=(i % 3,)) for i in range(3)]
    for t in readers + movers:
        t.start()
    for t in movers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    with server.client() as client:
        assert sum(int(v) for v in decode(client.call("MGET", *KEYS))) == TOTAL
        # Every move ran: 4 movers x 300 batches x 4 scripts, counted once each.
        stats = decode(client.call("INFO", "commandstats")).decode()
    line = next(l for l in stats.split("\r\n") if l.startswith("cmdstat_evalsha:"))
    assert "calls=4800," in line, line
