#!/usr/bin/env bash
# Builds engine_bench and runs it: 5 repetitions, aggregates only, then prints the medians.
#
#   bench/run.sh [build-dir] [extra benchmark flags...]
#   e.g. bench/run.sh /tmp/build-bench --benchmark_filter=Apply
#
# Rates (items/s, bytes/s) are per CPU second of the benchmark thread: on a loaded machine wall
# time grows, CPU time much less. BM_MemoryPerEntry runs once (its counts are deterministic).
#
# The benchmark over real corosync (throughput, latency, failover; root) is a separate script:
#   sudo /usr/bin/python3 bench/cpg_throughput.py --pbxstated build/daemon/pbxstated --json out.json
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-/tmp/build-bench}"
shift || true

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target engine_bench

out="$build/engine_bench.json"
"$build/bench/engine_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@"

python3 - "$out" <<'PY'
import json, sys

def si(v):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3f}{unit}"
    return f"{v:.4g}"

data = json.load(open(sys.argv[1]))
skip = {"name", "run_name", "run_type", "aggregate_name", "aggregate_unit", "repetitions", "repetition_index",
        "threads", "iterations", "real_time", "cpu_time", "time_unit", "family_index",
        "per_family_instance_index", "error_occurred", "error_message"}
print("\nmedians (single run where a benchmark has one repetition):")
for b in data["benchmarks"]:
    single = b.get("run_type") == "iteration" and b.get("repetitions", 1) == 1
    if not (b.get("aggregate_name") == "median" or single):
        continue
    if b.get("error_occurred"):
        print(f"  {b['run_name']}: ERROR {b.get('error_message')}")
        continue
    def fmt(k, v):
        # Google Benchmark's console shows bytes/s in MiB ("M"); here: decimal MB/s, stated.
        return f"{k}={v / 1e6:.1f} MB/s" if k == "bytes_per_second" else f"{k}={si(v)}"
    counters = ", ".join(fmt(k, v) for k, v in b.items() if k not in skip and isinstance(v, (int, float)))
    print(f"  {b['run_name']}: cpu {b['cpu_time']:.3f} {b['time_unit']}, real {b['real_time']:.3f} {b['time_unit']}; {counters}")
PY
