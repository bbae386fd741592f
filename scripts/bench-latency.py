#!/usr/bin/env python3
"""GET latency while big frees and mass expiry happen, tern against valkey-server.

A prober (its own process and connection) sends GET on a small key on a fixed
schedule, one every --probe-interval-us (1 ms), and records each request's
latency from the time it was due: a server stall delays every request due
during it, and each of those counts, not only the one that was in flight.
Meanwhile the server is busy with one of:

  unlink   UNLINK of a set of N elements (freed off the request path)
  del      DEL of the same set with ``lazyfree-lazy-user-del no`` on both
           servers, so the set is freed inline by the command
  expire   K keys with the same expiry time (one PEXPIREAT for all), reclaimed
           by the active expiry cycle while nobody reads them
  expire-one-slot
           the same with every key in one hash slot (a hash tag); not run unless
           asked for (--scenarios), it shows how the cycle copes with one big slot

For each scenario a fresh tern (``--worker-threads 1`` unless told otherwise)
and a fresh valkey-server are started, no persistence, default directives
otherwise.  The window measured is, for unlink/del, from sending the command
until it was answered and nothing is left to free (INFO
``lazyfree_pending_objects`` is 0), plus half a second; for expire, from the
expiry time until only the probe key is left (DBSIZE 1).  The figures are p50,
p99 and max of the GETs due in that window, the command's own round trip
(unlink/del) and when the work was done: everything freed (unlink/del), every
key reclaimed (expire).  Latencies are measured by a Python client, so the
floor is tens of microseconds; what matters is the tail.

The set's members are --member-bytes long (16).  Tern keeps strings of up to 22
bytes inside its set's table, so freeing such a set takes few deallocations
even inline; --member-bytes 32 gives every member an allocation of its own in
both servers.

Output: a table with both servers side by side; ``--json`` writes the raw
figures and an SVG chart of p99 and max beside it.

The defaults (a set of 1,000,000, 200,000 keys expiring) finish in about a
minute.  The full-size run (issue 6's figures: a 10,000,000-element set,
1,000,000 keys expiring in the same second) is

  scripts/bench-latency.py --elements 10000000 --expire-keys 1000000 \\
      --json bench-results/latency.json

which needs a few GB of memory per server and some minutes of loading.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

from benchkit import encode, start

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("unlink", "del", "expire", "expire-one-slot")
DEFAULT_SCENARIOS = ("unlink", "del", "expire")
BATCH = 1000


class Conn:
    """A minimal RESP client: enough for the replies these commands get."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("server closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RuntimeError(f"error reply: {rest.decode()}")
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buf) < size + 2:
                self._fill()
            value, self.buf = self.buf[:size], self.buf[size + 2:]
            return value
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line[:80]!r}")

    def call(self, *args):
        self.sock.sendall(encode(args))
        return self.reply()

    def pipeline(self, commands) -> None:
        self.sock.sendall(b"".join(encode(c) for c in commands))
        for _ in commands:
            self.reply()

    def info_field(self, section: str, field: str) -> int:
        text = self.call("INFO", section).decode()
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
        return 0

    def close(self) -> None:
        self.sock.close()


def prober(port: int, interval: float, stop, out) -> None:
    """Sends GET probe on a fixed schedule, one every `interval` seconds, until told to stop;
    sends back (intended send time, latency) pairs in seconds of time.monotonic(). A reply
    that comes late delays the next sends, and their latency counts from when they were due
    (not from when they could be sent), so a stall of the server shows in every request it
    held up rather than in one."""
    conn = Conn(port)
    request = encode(("GET", "probe"))
    samples = []
    due = time.monotonic()
    while not stop.is_set():
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        conn.sock.sendall(request)
        conn.reply()
        samples.append((due, time.monotonic() - due))
        due += interval
    conn.close()
    out.send(samples)


class Probe:
    def __init__(self, port: int, interval: float):
        self.stop = multiprocessing.Event()
        self.receiver, sender = multiprocessing.Pipe(duplex=False)
        self.proc = multiprocessing.Process(target=prober,
                                            args=(port, interval, self.stop, sender))
        self.proc.start()

    def finish(self) -> list[tuple[float, float]]:
        self.stop.set()
        samples = self.receiver.recv()
        self.proc.join(10)
        return samples


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples, begin: float, end: float) -> dict:
    window = [latency for sent, latency in samples if begin <= sent <= end]
    return {
        "probes": len(window),
        "p50_us": percentile(window, 0.50) * 1e6,
        "p99_us": percentile(window, 0.99) * 1e6,
        "max_us": max(window) * 1e6 if window else float("nan"),
    }


def fill_set(conn: Conn, elements: int, member_bytes: int) -> None:
    commands = []
    for start_index in range(0, elements, BATCH):
        end = min(elements, start_index + BATCH)
        commands.append([b"SADD", b"bigset"]
                        + [(b"m%d:" % i).ljust(member_bytes, b"x") for i in range(start_index, end)])
        if len(commands) == 20:
            conn.pipeline(commands)
            commands = []
    if commands:
        conn.pipeline(commands)


def run_free(port: int, args, command: str) -> dict:
    conn = Conn(port)
    conn.call("SET", "probe", "v" * 16)
    if command == "DEL":
        conn.call("CONFIG", "SET", "lazyfree-lazy-user-del", "no")
    fill_set(conn, args.elements, args.member_bytes)
    size = int(conn.call("SCARD", "bigset"))
    assert size == args.elements, size
    probe = Probe(port, args.probe_interval_us / 1e6)
    time.sleep(0.5)
    begin = time.monotonic()
    conn.call(command, "bigset")
    answered = time.monotonic()
    deadline = answered + 120
    while conn.info_field("memory", "lazyfree_pending_objects") and time.monotonic() < deadline:
        time.sleep(0.01)
    freed = time.monotonic()
    time.sleep(0.5)
    samples = probe.finish()
    conn.close()
    result = summary(samples, begin, freed + 0.5)
    result["command_ms"] = (answered - begin) * 1e3
    result["freed_ms"] = (freed - begin) * 1e3
    return result


def run_expire(port: int, args, prefix: bytes) -> dict:
    conn = Conn(port)
    conn.call("SET", "probe", "v" * 16)
    keys = args.expire_keys
    names = [prefix + b"%09d" % i for i in range(keys)]
    began = time.monotonic()
    for start_index in range(0, keys, BATCH * 10):
        conn.pipeline([(b"SET", name, b"v" * 16) for name in names[start_index:start_index + BATCH * 10]])
    load_seconds = time.monotonic() - began
    # One expiry time for every key, far enough ahead for the second pass to finish first.
    at_ms = int(time.time() * 1000 + (load_seconds * 2 + 2) * 1000)
    for start_index in range(0, keys, BATCH * 10):
        conn.pipeline([(b"PEXPIREAT", name, at_ms) for name in names[start_index:start_index + BATCH * 10]])
    left_ms = at_ms - time.time() * 1000
    if left_ms <= 0:
        print(f"  warning: the expiry time passed {-left_ms:.0f} ms before loading ended",
              file=sys.stderr)
    probe = Probe(port, args.probe_interval_us / 1e6)
    time.sleep(max(0.0, left_ms / 1000))
    begin = time.monotonic()
    deadline = begin + 300
    while int(conn.call("DBSIZE")) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    end = time.monotonic()
    time.sleep(0.2)
    samples = probe.finish()
    conn.close()
    result = summary(samples, begin, end)
    result["reclaim_ms"] = (end - begin) * 1e3
    return result


def measure(kind: str, scenario: str, args) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        proc, port = start(kind, args.tern_bin, workdir, args.tern_threads)
        try:
            if scenario == "unlink":
                return run_free(port, args, "UNLINK")
            if scenario == "del":
                return run_free(port, args, "DEL")
            if scenario == "expire":
                return run_expire(port, args, b"expiring:")
            return run_expire(port, args, b"{expiring}:")
        finally:
            proc.terminate()
            proc.wait(30)


def chart(results: dict, path: Path) -> None:
    """An SVG with two panels (p99, max), one group of bars per scenario, tern beside valkey,
    on a logarithmic scale of microseconds."""
    import math

    scenarios = list(results)
    panels = [("p99_us", "p99 GET latency"), ("max_us", "max GET latency")]
    group, left, bottom, plot = 130, 70, 40, 220
    panel_width = left + group * len(scenarios) + 20
    width, height = panel_width * len(panels), plot + bottom + 40
    values = [r[k][f] for r in results.values() for k in ("tern", "valkey")
              for f, _ in panels if r[k][f] == r[k][f] and r[k][f] > 0]
    low = 10 ** (math.floor(math.log10(min(values))) - 1) if values else 1
    high = 10 ** math.ceil(math.log10(max(values))) if values else 10
    span = math.log10(high) - math.log10(low) or 1

    def y(value: float) -> float:
        value = min(max(value, low), high)
        return height - bottom - plot * (math.log10(value) - math.log10(low)) / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">']
    for p, (field, title) in enumerate(panels):
        x0 = p * panel_width
        parts.append(f'<text x="{x0 + left}" y="18" font-size="14">{title} (µs, log scale; '
                     'tern blue, valkey grey)</text>')
        parts.append(f'<line x1="{x0 + left}" y1="{height - bottom}" '
                     f'x2="{x0 + panel_width - 10}" y2="{height - bottom}" stroke="black"/>')
        decade = low
        while decade <= high:
            parts.append(f'<text x="{x0 + left - 6}" y="{y(decade) + 4:.0f}" '
                         f'text-anchor="end">{decade:g}</text>')
            parts.append(f'<line x1="{x0 + left}" y1="{y(decade):.1f}" '
                         f'x2="{x0 + panel_width - 10}" y2="{y(decade):.1f}" stroke="#ddd"/>')
            decade *= 10
        for i, scenario in enumerate(scenarios):
            x = x0 + left + 20 + i * group
            for offset, kind, color in ((0, "tern", "#3b78c2"), (42, "valkey", "#9a9a9a")):
                value = results[scenario][kind][field]
                top = y(value)
                parts.append(f'<rect x="{x + offset}" y="{top:.1f}" width="40" '
                             f'height="{height - bottom - top:.1f}" fill="{color}">'
                             f'<title>{kind} {scenario}: {value:.0f} µs</title></rect>')
            parts.append(f'<text x="{x + 41}" y="{height - bottom + 16}" '
                         f'text-anchor="middle">{scenario}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=1_000_000,
                        help="members of the set UNLINKed and DELeted (full size: 10000000)")
    parser.add_argument("--expire-keys", type=int, default=200_000,
                        help="keys expiring at the same time (full size: 1000000)")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help=f"some of {', '.join(SCENARIOS)}")
    parser.add_argument("--member-bytes", type=int, default=16,
                        help="length of the set's members (tern keeps up to 22 bytes inline, "
                             "so its set of short members frees with few deallocations)")
    parser.add_argument("--probe-interval-us", type=int, default=1000,
                        help="the prober's schedule: one GET every so many microseconds")
    parser.add_argument("--tern-bin", default=str(REPO / "target/release/tern"))
    parser.add_argument("--tern-threads", type=int, default=1)
    parser.add_argument("--json", help="write the raw figures here (and an SVG chart beside it)")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {unknown}")
    print(f"set of {args.elements} elements of {args.member_bytes} bytes; "
          f"{args.expire_keys} keys expiring together; tern on {args.tern_threads} worker "
          f"thread(s); one GET every {args.probe_interval_us} µs")
    header = (f"{'scenario':<9} {'server':<7} {'p50 µs':>8} {'p99 µs':>9} {'max µs':>9} "
              f"{'probes':>7} {'command ms':>11} {'done ms':>9}")
    print(header)
    results = {}
    for scenario in scenarios:
        results[scenario] = {}
        for kind in ("tern", "valkey"):
            r = measure(kind, scenario, args)
            results[scenario][kind] = r
            command = f"{r['command_ms']:.1f}" if "command_ms" in r else "-"
            done = r.get("freed_ms", r.get("reclaim_ms"))
            print(f"{scenario:<9} {kind:<7} {r['p50_us']:>8.0f} {r['p99_us']:>9.0f} "
                  f"{r['max_us']:>9.0f} {r['probes']:>7} {command:>11} {done:>9.0f}",
                  flush=True)
        ratio = results[scenario]["tern"]["p99_us"] / results[scenario]["valkey"]["p99_us"]
        print(f"{'':<9} p99 tern/valkey: {ratio:.2f}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"elements": args.elements,
                                    "member_bytes": args.member_bytes,
                                    "expire_keys": args.expire_keys,
                                    "probe_interval_us": args.probe_interval_us,
                                    "tern_threads": args.tern_threads, "results": results},
                                   indent=2))
        chart(results, path.with_suffix(".svg"))
        print(f"figures: {path}, chart: {path.with_suffix('.svg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
