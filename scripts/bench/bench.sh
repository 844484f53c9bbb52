#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/bench.sh - run the benchmark in the VM (HOST side) and render
# it: build/bench/results.json, results.txt (table with ratios), results.png
# (chart) and vm.log (the whole VM output).
#
#   scripts/bench/bench.sh [--render-only]
#
# NTM_BENCH_* variables are passed through to scripts/bench/run.sh (see there);
# NTM_BENCH_ICOUNT=1 runs the VM on the virtual clock (scripts/vm --icount
# with shift NTM_BENCH_ICOUNT_SHIFT, default 2; 1 vCPU).
# The repository is read-only in the VM, so run.sh prints the JSON between
# markers and this wrapper extracts it.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${NTM_BENCH_DIR:-$REPO/build/bench}
PY=/usr/bin/python3
mkdir -p "$OUT"

if [ "${1:-}" != "--render-only" ]; then
	cd "$REPO" || exit 1
	# stdout carries the JSON; the progress log (stderr) is kept too.
	vmargs=()
	if [ -n "${NTM_BENCH_ICOUNT:-}" ] && [ "$NTM_BENCH_ICOUNT" != 0 ]; then
		vmargs=(--icount="${NTM_BENCH_ICOUNT_SHIFT:-2}" --smp 1)
	fi
	NTM_BENCH_TABLE=0 scripts/vm "${vmargs[@]+"${vmargs[@]}"}" -- scripts/bench/run.sh 2>&1 | tee "$OUT/vm.log"
	rc=${PIPESTATUS[0]}
	sed -n '/^=== NTM-BENCH-JSON BEGIN ===$/,/^=== NTM-BENCH-JSON END ===$/p' "$OUT/vm.log" |
		sed '1d;$d' | tr -d '\r' >"$OUT/results.json.new"
	if ! $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/results.json.new" 2>/dev/null; then
		echo "bench: no results in the VM output (scripts/vm exit $rc); see $OUT/vm.log" >&2
		rm -f "$OUT/results.json.new"
		exit 1
	fi
	mv "$OUT/results.json.new" "$OUT/results.json"
	[ "$rc" -eq 0 ] || echo "bench: scripts/vm exited $rc (results kept)" >&2
fi

$PY "$HERE/results.py" table "$OUT/results.json" | tee "$OUT/results.txt"
if $PY "$HERE/results.py" chart "$OUT/results.json" "$OUT/results.png"; then
	echo "bench: chart in $OUT/results.png"
else
	echo "bench: no chart (python3-matplotlib missing? run scripts/install-deps.sh)" >&2
fi
echo "bench: results in $OUT/results.json"
