#!/usr/bin/env bash
# Counts user-space instructions per call of one side of an echo pair with callgrind:
# repeatable, unlike timings on a shared machine. The other side runs natively.
#
#   benchmarks/callgrind.sh server|client FRAMEWORK [CONCURRENCY] [SECONDS]
#   benchmarks/callgrind.sh server rookery 100 5
#
# FRAMEWORK is rookery or raw (binaries in target/release, built with
# `cargo build --release -p rookery-benchmarks`). Prints calls, total instructions and
# instructions per call, and leaves the profile in $TMPDIR for callgrind_annotate.
set -euo pipefail
side=${1:?server or client}; fw=${2:?framework}; conc=${3:-100}; secs=${4:-5}
bin="$(cd "$(dirname "$0")/.." && pwd)/target/release"
server="$bin/$fw-echo-server"; client="$bin/$fw-echo-client"
tmp=${TMPDIR:-/tmp}; out="$tmp/callgrind.$fw.$side"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$tmp/callgrind.$fw.server.log"
rm -f "$out"
if [ "$side" = server ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out" "$server" --addr "127.0.0.1:$port" >"$log" 2>&1 &
else
    "$server" --addr "127.0.0.1:$port" >"$log" 2>&1 &
fi
spid=$!
for _ in $(seq 1 200); do grep -q listening "$log" && break; sleep 0.1; done
if [ "$side" = server ]; then
    report=$("$client" --addr "127.0.0.1:$port" --concurrency "$conc" --duration "$secs" --warmup 0 | tail -1)
else
    report=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$client" --addr "127.0.0.1:$port" \
        --concurrency "$conc" --duration "$secs" --warmup 0 2>/dev/null | tail -1)
fi
kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
calls=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["calls"])' "$report")
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' | head -1)
echo "$fw $side c=$conc: calls=$calls instructions=$total per_call=$((total / calls)) profile=$out"
