#!/usr/bin/env python3
"""Resident memory per key, tern against valkey-server, shape by shape.

For every shape a fresh tern and a fresh valkey-server are started (one
worker / main thread each, no persistence), the resident set size (VmRSS in
/proc/PID/status) is read, N keys of the shape are written through pipelined
connections, and the RSS is read again after a short settle.  The growth
divided by N is the figure: bytes per key, everything included (key, value,
table, allocator overhead).

Shapes (N keys each; key names ``key:%012d``, 16 bytes):
  string       16-byte value
  string+ttl   16-byte value with a one-day TTL
  hash10       10 fields ``field-N`` with 8-byte values
  set10        10 members ``member-N``
  zset10       10 members ``member-N`` with integer scores
  list10       10 elements ``element-N``
  biglist      one list of N elements ``element:%07d`` (the figure is per element)

Output: a table of bytes per key and the tern/valkey ratio; ``--json`` writes
the raw figures, and an SVG bar chart next to it.

Example
  scripts/bench-memory.py --keys 1000000
  scripts/bench-memory.py --keys 200000 --shapes hash10,zset10
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

from benchkit import encode, start

REPO = Path(__file__).resolve().parent.parent
SHAPES = ("string", "string+ttl", "hash10", "set10", "zset10", "list10", "biglist")
BATCH = 2000


def commands(shape: str, index: int):
    key = b"key:%012d" % index
    if shape == "string":
        return [(b"SET", key, b"v" * 16)]
    if shape == "string+ttl":
        return [(b"SET", key, b"v" * 16, b"EX", b"86400")]
    if shape == "hash10":
        args = [b"HSET", key]
        for n in range(10):
            args += [b"field-%d" % n, b"%08d" % (index + n) if n % 2 else b"val-%04d" % n]
        return [tuple(args)]
    if shape == "set10":
        return [(b"SADD", key, *[b"member-%d" % n for n in range(10)])]
    if shape == "zset10":
        args = [b"ZADD", key]
        for n in range(10):
            args += [b"%d" % (index % 1000 + n), b"member-%d" % n]
        return [tuple(args)]
    if shape == "list10":
        return [(b"RPUSH", key, *[b"element-%d" % n for n in range(10)])]
    if shape == "biglist":
        return [(b"RPUSH", b"biglist", b"element:%07d" % index)]
    raise ValueError(shape)


def count_replies(data: bytes) -> int:
    # Every command here answers with one line (+OK or :n).
    return data.count(b"\r\n")


def load(port: int, shape: str, keys: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = 0
    for start in range(0, keys, BATCH):
        payload = b"".join(encode(cmd) for i in range(start, min(keys, start + BATCH))
                           for cmd in commands(shape, i))
        sock.sendall(payload)
        pending += min(keys, start + BATCH) - start
        received = 0
        while received < pending:
            data = sock.recv(1 << 20)
            if not data:
                raise RuntimeError("server closed the connection")
            if data.startswith(b"-") or b"\r\n-" in data:
                raise RuntimeError(f"error reply while loading {shape}: {data[:200]!r}")
            received += count_replies(data)
        pending = 0
    sock.close()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def measure(kind: str, shape: str, keys: int, tern_bin: str) -> float:
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start(kind, tern_bin, workdir)
        try:
            time.sleep(0.3)
            before = rss_bytes(proc.pid)
            load(port, shape, keys)
            time.sleep(1.0)
            after = rss_bytes(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    return (after - before) / keys


def chart(results: dict, path: Path) -> None:
    """Writes an SVG bar chart of bytes per key, tern beside valkey, with the ratio on top."""
    shapes = list(results)
    top = max(max(r["tern"], r["valkey"]) for r in results.values()) * 1.15
    width, height, left, bottom, group = 120 * len(shapes) + 80, 320, 60, 40, 120
    plot = height - bottom - 30

    def bar(x: float, value: float, color: str) -> str:
        h = plot * value / top
        return (f'<rect x="{x:.0f}" y="{height - bottom - h:.1f}" width="40" height="{h:.1f}" '
                f'fill="{color}"><title>{value:.1f} B/key</title></rect>')

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<text x="{left}" y="18" font-size="14">Resident bytes per key '
             '(tern: blue, valkey: grey; tern/valkey above)</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" '
             f'y2="{height - bottom}" stroke="black"/>']
    for i, shape in enumerate(shapes):
        x = left + 20 + i * group
        r = results[shape]
        parts.append(bar(x, r["tern"], "#3b78c2"))
        parts.append(bar(x + 42, r["valkey"], "#9a9a9a"))
        parts.append(f'<text x="{x + 41}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{shape}</text>')
        peak = plot * max(r["tern"], r["valkey"]) / top
        parts.append(f'<text x="{x + 41}" y="{height - bottom - peak - 6:.0f}" '
                     f'text-anchor="middle">{r["ratio"]:.2f}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tern-bin", default=str(REPO / "target/release/tern"))
    parser.add_argument("--json", help="write the raw figures here (and an SVG chart beside it)")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes: {unknown}")
    results = {}
    print(f"{'shape':<12} {'tern B/key':>11} {'valkey B/key':>13} {'ratio':>7}")
    for shape in shapes:
        tern = measure("tern", shape, args.keys, args.tern_bin)
        valkey = measure("valkey", shape, args.keys, args.tern_bin)
        results[shape] = {"tern": tern, "valkey": valkey, "ratio": tern / valkey}
        print(f"{shape:<12} {tern:>11.1f} {valkey:>13.1f} {tern / valkey:>7.2f}", flush=True)
    if args.json:
        path = Path(args.json)
        path.write_text(json.dumps({"keys": args.keys, "results": results}, indent=2))
        chart(results, path.with_suffix(".svg"))
        print(f"figures: {path}, chart: {path.with_suffix('.svg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
