#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/check.sh STEP... - run `make STEP` for each step in order (the
# driver behind `make check`), keep going after a failure where that makes
# sense, and end with a summary.  A step is skipped when a step it needs has
# failed.  Each step's output is shown live and kept in build/check/STEP.log.
#
# A step written &STEP runs in the background at the lowest CPU priority
# (nice 19) while the following steps run, its output only into its log,
# which is printed when the step is joined: when a later step needs it, or
# at the end.  make check builds the ASan tree and the packages this way
# during the VM selftests, whose guests spend most of their time waiting on
# protocol timers: the builds take the idle cycles and the VMs keep their
# speed (Documentation/decisions.rst D94, D100).  A step written +STEP runs
# in the background the same way but at normal priority: for a step that
# must not starve (one with timeouts of its own) beside the next one.
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
	system-test | deb-test) echo deb ;;
	esac
}

declare -A result bg_pid
order=()
t0=$SECONDS

# join STEP: wait for a background step, print its log, record its result
join() {
	local step=$1 rc start end
	[ -n "${bg_pid[$step]-}" ] || return 0
	wait "${bg_pid[$step]}"
	rc=$(cat "$logdir/$step.rc" 2>/dev/null || echo 1)
	read -r start end <"$logdir/$step.time" 2>/dev/null || { start=0; end=0; }
	unset "bg_pid[$step]"
	echo
	echo "======================================== make $step (ran in the background, $((end - start)) s)"
	cat "$logdir/$step.log"
	if [ "$rc" = 0 ]; then result[$step]=PASS; else result[$step]=FAIL; fi
	declare -g "t_${step//-/_}=$((end - start))"
}

for arg in "$@"; do
	step=${arg#[&+]}
	order+=("$step")
	missing=""
	for n in $(needs "$step"); do
		join "$n"
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
	if [ "$arg" != "$step" ]; then
		echo
		if [ "${arg:0:1}" = + ]; then nice=0; else nice=19; fi
		echo "======================================== make $step: started in the background (nice $nice, log $logdir/$step.log)"
		rm -f "$logdir/$step.rc"
		(
			start=$(date +%s)
			nice -n "$nice" "$MAKE" --no-print-directory "$step" >"$logdir/$step.log" 2>&1 </dev/null
			echo $? >"$logdir/$step.rc"
			echo "$start $(date +%s)" >"$logdir/$step.time"
		) &
		bg_pid[$step]=$!
		result[$step]=RUNNING
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
for step in "${!bg_pid[@]}"; do
	join "$step"
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
