#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/check.sh STEP... - run `make STEP` for each step in order (the
# driver behind `make check`), keep going after a failure where that makes
# sense, and end with a summary.  A step is skipped when a step it needs has
# failed.  Each step's output is shown live and kept in build/check/STEP.log.
# Exit status: 0 when every step passed, 1 otherwise.

set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
MAKE=${MAKE:-make}
logdir=build/check
mkdir -p "$logdir"

# Which steps each step needs.
needs() {
	case $1 in
	unit) echo ctld-asan ;;
	vm-test | install-test | bench | demo) echo kmod ctld ;;
	esac
}

declare -A result
order=()
t0=$SECONDS
for step in "$@"; do
	order+=("$step")
	missing=""
	for n in $(needs "$step"); do
		case ${result[$n]-} in
		FAIL | SKIP) missing="$missing $n" ;;
		esac
	done
	if [ -n "$missing" ]; then
		result[$step]=SKIP
		echo
		echo "======================================== make $step: skipped, failed:$missing"
		continue
	fi
	echo
	echo "======================================== make $step"
	start=$SECONDS
	$MAKE --no-print-directory "$step" 2>&1 | tee "$logdir/$step.log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" = 0 ]; then result[$step]=PASS; else result[$step]=FAIL; fi
	declare "t_${step//-/_}=$((SECONDS - start))"
done

echo
echo "======================================== make check summary"
failed=0
skipped=0
for step in "${order[@]}"; do
	t=t_${step//-/_}
	case ${result[$step]} in
	PASS) printf '  PASS  %-10s %5s s\n' "$step" "${!t}" ;;
	FAIL) printf '  FAIL  %-10s %5s s   log: %s\n' "$step" "${!t}" "$logdir/$step.log"
		failed=$((failed + 1)) ;;
	SKIP) printf '  SKIP  %-10s          needs: %s\n' "$step" "$(needs "$step")"
		skipped=$((skipped + 1)) ;;
	esac
done
if [ "$failed" = 0 ] && [ "$skipped" = 0 ]; then
	echo "RESULT: PASS (${#order[@]} steps, $((SECONDS - t0)) s)"
	exit 0
fi
echo "RESULT: FAIL ($failed failed, $skipped skipped, $((SECONDS - t0)) s)"
exit 1
