#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/fuzz.sh [HARNESS...] - a libFuzzer campaign over the parsers of
# tests/fuzz (default: every harness).  Not part of `make check`, which only
# replays the checked-in corpus (ctest fuzz_replay.*); run by `make fuzz`.
#
# Builds the harnesses with clang (NTM_FUZZ=ON: libFuzzer, ASan, UBSan) in
# build/ctld-fuzz, then runs each for NTM_FUZZ_RUNS executions (10 000 000)
# or NTM_FUZZ_SECONDS (1800), whichever comes first, on a working
# corpus kept in build/fuzz/corpus/HARNESS between runs, seeded from
# tests/fuzz/corpus/HARNESS.  NTM_FUZZ_JOBS harnesses run at once (2).
# A crash, leak or timeout leaves its input in build/fuzz/artifacts/HARNESS/
# and makes the script fail.  NTM_FUZZ_MERGE=1 then adds to the checked-in
# corpus only the inputs that reach new coverage (libFuzzer -merge=1), so
# that make check replays what the campaign found.  Results: a table on
# stdout and build/fuzz/results.json.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build/ctld-fuzz
OUT=$REPO/build/fuzz
SECS=${NTM_FUZZ_SECONDS:-1800}
RUNS=${NTM_FUZZ_RUNS:-10000000}
JOBS=${NTM_FUZZ_JOBS:-2}
MERGE=${NTM_FUZZ_MERGE:-0}

all=$(sed -n 's/^set(NTM_FUZZ_HARNESSES \(.*\))$/\1/p' "$REPO/tests/fuzz/CMakeLists.txt")
[ -n "$all" ] || { echo "fuzz.sh: no harness list in tests/fuzz/CMakeLists.txt" >&2; exit 2; }
if [ $# -gt 0 ]; then
	for h in "$@"; do
		case " $all " in *" $h "*) ;; *) echo "fuzz.sh: unknown harness '$h' (have: $all)" >&2; exit 2 ;; esac
	done
	harnesses="$*"
else
	harnesses=$all
fi
case $SECS$RUNS in '' | *[!0-9]*) echo "fuzz.sh: NTM_FUZZ_SECONDS and NTM_FUZZ_RUNS are numbers" >&2; exit 2 ;; esac

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (scripts/install-deps.sh)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S "$REPO/ctld" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DNTM_FUZZ=ON -DNTM_TESTS=OFF >/dev/null
targets=()
for h in $harnesses; do targets+=("fuzz_$h"); done
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"

mkdir -p "$OUT"
# run_one H: one harness; its summary line into $OUT/H.result (run by xargs)
# shellcheck disable=SC2317
run_one() {
	local h=$1 work=$OUT/corpus/$1 art=$OUT/artifacts/$1/ log=$OUT/$1.log rc=0 t0=$SECONDS
	mkdir -p "$work" "$art"
	# findings of earlier runs stay, but only this run's count
	touch "$OUT/$h.start"
	# -rss_limit_mb: ASan's shadow; -timeout: one input may take 10 s at most
	"$BUILD/tests/fuzz/fuzz_$h" -runs="$RUNS" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$art" "$work" "$REPO/tests/fuzz/corpus/$h" \
		>"$log" 2>&1 || rc=$?
	local execs cov ft files crashes
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	files=$(find "$work" -type f | wc -l)
	crashes=$(find "$art" -maxdepth 1 -type f -newer "$OUT/$h.start" | wc -l)
	printf '%s %s %s %s %s %s %s %s\n' "$h" "${execs:-0}" "${cov:-0}" "${ft:-0}" "$files" "$crashes" "$rc" \
		$((SECONDS - t0)) \
		>"$OUT/$h.result"
}
export -f run_one
export BUILD OUT REPO SECS RUNS
echo "fuzz.sh: $harnesses: $RUNS runs or $SECS s each, $JOBS at once"
# shellcheck disable=SC2086
printf '%s\n' $harnesses | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

fail=0
json='{"max_runs": '"$RUNS"', "max_seconds": '"$SECS"', "harnesses": ['
sep=""
printf '%-10s %12s %8s %8s %8s %8s %8s\n' harness execs seconds cov features corpus crashes
for h in $harnesses; do
	read -r name execs cov ft files crashes rc secs <"$OUT/$h.result"
	printf '%-10s %12s %8s %8s %8s %8s %8s\n' "$name" "$execs" "$secs" "$cov" "$ft" "$files" "$crashes"
	json+=$(printf '%s\n  {"name": "%s", "execs": %s, "seconds": %s, "cov": %s, "features": %s, "corpus": %s, "crashes": %s, "exit": %s}' \
		"$sep" "$name" "$execs" "$secs" "$cov" "$ft" "$files" "$crashes" "$rc")
	sep=","
	if [ "$crashes" != 0 ] || [ "$rc" != 0 ]; then
		fail=1
		echo "fuzz.sh: $h: exit $rc, $crashes artifact(s) in $OUT/artifacts/$h/ (log $OUT/$h.log)" >&2
	fi
done
printf '%s\n]}\n' "$json" >"$OUT/results.json"

if [ "$MERGE" = 1 ] && [ $fail = 0 ]; then
	for h in $harnesses; do
		before=$(find "$REPO/tests/fuzz/corpus/$h" -type f | wc -l)
		"$BUILD/tests/fuzz/fuzz_$h" -merge=1 -timeout=10 "$REPO/tests/fuzz/corpus/$h" "$OUT/corpus/$h" \
			>"$OUT/$h.merge.log" 2>&1
		after=$(find "$REPO/tests/fuzz/corpus/$h" -type f | wc -l)
		echo "fuzz.sh: $h: checked-in corpus $before -> $after files"
	done
fi
echo "fuzz.sh: results in $OUT/results.json"
exit $fail
