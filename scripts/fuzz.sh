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
# and makes the script fail; a timeout only if it reproduces alone (see
# run_one: libFuzzer's limit is wall-clock time).  NTM_FUZZ_MERGE=1 then adds to the checked-in
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
# CPU seconds one input may take (libFuzzer -timeout)
TIMEOUT=${NTM_FUZZ_TIMEOUT:-10}

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
case $SECS$RUNS$TIMEOUT in '' | *[!0-9]*) echo "fuzz.sh: NTM_FUZZ_SECONDS, NTM_FUZZ_RUNS and NTM_FUZZ_TIMEOUT are numbers" >&2; exit 2 ;; esac

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (scripts/install-deps.sh)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S "$REPO/ctld" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DNTM_FUZZ=ON -DNTM_TESTS=OFF >/dev/null
targets=()
for h in $harnesses; do targets+=("fuzz_$h"); done
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"

mkdir -p "$OUT"
# replay_cpu H FILE: CPU seconds (user + system) of one replay of FILE alone,
# with a generous wall-clock limit; "fail" when the replay itself fails
# shellcheck disable=SC2317
replay_cpu() {
	local h=$1 f=$2 tf
	tf=$(mktemp)
	if /usr/bin/time -o "$tf" -f '%U %S' "$BUILD/tests/fuzz/fuzz_$h" -runs=1 -timeout=120 \
		-rss_limit_mb=2048 "$f" >/dev/null 2>&1; then
		awk '{ printf "%.2f", $1 + $2 }' "$tf"
	else
		echo fail
	fi
	rm -f "$tf"
}

# judge_alone H FILE WHAT LOG: replays the artifact FILE alone.  If it needs
# TIMEOUT s of CPU (or fails) it stays a finding (status 1); otherwise it was
# the wall clock of a loaded machine: FILE moves to artifacts/H/spurious/
# (status 0).  WHAT names it in the log line.
# shellcheck disable=SC2317
judge_alone() {
	local h=$1 a=$2 what=$3 log=$4 cpu
	cpu=$(replay_cpu "$h" "$a")
	if [ "$cpu" = fail ] || awk -v c="$cpu" -v t="$TIMEOUT" 'BEGIN { exit !(c >= t) }'; then
		echo "fuzz.sh: $h: $what reproduced alone (${cpu} s of CPU): $a" >>"$log"
		return 1
	fi
	mkdir -p "$OUT/artifacts/$h/spurious"
	mv "$a" "$OUT/artifacts/$h/spurious/"
	echo "fuzz.sh: $h: $what not reproduced (${cpu} s of CPU alone): wall clock of a loaded machine" |
		tee -a "$log" >&2
}

# run_one H: one harness; its summary line into $OUT/H.result (run by xargs)
#
# libFuzzer's -timeout is wall-clock time: on a loaded machine (a nice-19
# campaign beside builds and VMs) an input that needs milliseconds of CPU
# can be stopped as a "timeout".  Such an artifact is replayed alone and
# counts as a finding only if it needs TIMEOUT seconds of CPU (or fails);
# otherwise it is moved to artifacts/H/spurious/ and the campaign goes on
# for the time and runs left (at most 3 such restarts).  A slow-unit-*
# artifact (an input that took 10 s without timing out) gets the same test
# at the end of the run.
# shellcheck disable=SC2317
run_one() {
	local h=$1 work=$OUT/corpus/$1 art=$OUT/artifacts/$1/ log=$OUT/$1.log rc=0 t0=$SECONDS
	local execs=0 n left runs_left spurious=0 a cpu
	mkdir -p "$work" "$art"
	: >"$log"
	# findings of earlier runs stay, but only this run's count
	touch "$OUT/$h.start"
	for ((attempt = 0; attempt < 4; attempt++)); do
		left=$((SECS - (SECONDS - t0)))
		runs_left=$((RUNS - execs))
		if [ "$left" -le 0 ] || [ "$runs_left" -le 0 ]; then break; fi
		rc=0
		# -rss_limit_mb: ASan's shadow; -timeout: one input may take 10 s at most
		"$BUILD/tests/fuzz/fuzz_$h" -runs="$runs_left" -max_total_time="$left" -print_final_stats=1 \
			-timeout="$TIMEOUT" -rss_limit_mb=2048 -artifact_prefix="$art" "$work" "$REPO/tests/fuzz/corpus/$h" \
			>"$log.part" 2>&1 || rc=$?
		cat "$log.part" >>"$log"
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.part" | tail -n 1)
		execs=$((execs + ${n:-0}))
		grep -q 'ERROR: libFuzzer: timeout' "$log.part" || break
		a=$(find "$art" -maxdepth 1 -type f -name 'timeout-*' -newer "$OUT/$h.start" | head -n 1)
		[ -n "$a" ] || break
		judge_alone "$h" "$a" timeout "$log" || break
		spurious=$((spurious + 1))
		rc=0
	done
	rm -f "$log.part"
	# libFuzzer also writes slow-unit-* for an input that took 10 s of wall
	# clock without timing out: the same test as for timeouts decides
	local slow=()
	mapfile -t slow < <(find "$art" -maxdepth 1 -type f -name 'slow-unit-*' -newer "$OUT/$h.start")
	for a in "${slow[@]}"; do
		judge_alone "$h" "$a" "slow unit" "$log" && spurious=$((spurious + 1))
	done
	local cov ft files crashes
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	files=$(find "$work" -type f | wc -l)
	crashes=$(find "$art" -maxdepth 1 -type f -newer "$OUT/$h.start" | wc -l)
	printf '%s %s %s %s %s %s %s %s %s\n' "$h" "$execs" "${cov:-0}" "${ft:-0}" "$files" "$crashes" "$rc" \
		$((SECONDS - t0)) "$spurious" \
		>"$OUT/$h.result"
}
export -f run_one replay_cpu judge_alone
export BUILD OUT REPO SECS RUNS TIMEOUT
echo "fuzz.sh: $harnesses: $RUNS runs or $SECS s each, $JOBS at once"
# shellcheck disable=SC2086
printf '%s\n' $harnesses | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

fail=0
json='{"max_runs": '"$RUNS"', "max_seconds": '"$SECS"', "harnesses": ['
sep=""
printf '%-10s %12s %8s %8s %8s %8s %8s %8s\n' harness execs seconds cov features corpus crashes spurious
for h in $harnesses; do
	read -r name execs cov ft files crashes rc secs spurious <"$OUT/$h.result"
	printf '%-10s %12s %8s %8s %8s %8s %8s %8s\n' "$name" "$execs" "$secs" "$cov" "$ft" "$files" "$crashes" "$spurious"
	json+=$(printf '%s\n  {"name": "%s", "execs": %s, "seconds": %s, "cov": %s, "features": %s, "corpus": %s, "crashes": %s, "spurious_timeouts": %s, "exit": %s}' \
		"$sep" "$name" "$execs" "$secs" "$cov" "$ft" "$files" "$crashes" "$spurious" "$rc")
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
