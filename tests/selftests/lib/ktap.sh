# SPDX-License-Identifier: GPL-2.0
# ktap.sh - KTAP (version 1) output for the ntm selftests.
#
# Source it from a test script (bash), declare the plan, report results:
#
#	. "$(dirname "$0")/lib/ktap.sh"
#	ktap_plan 3
#	ktap_ok "first thing"
#	ktap_check "second thing" ping -c1 192.0.2.2
#	ktap_skip "third thing" "no IPv6"
#	ktap_finish
#
# The plan is printed first, as KTAP asks.  When a script dies before it has
# reported every planned result (a failed setup, set -e, a signal), the exit
# trap reports the missing ones as failures, so a broken test can never look
# like a short passing one.  ktap_finish (or the trap) exits non-zero when any
# result failed.  Diagnostics go to stdout as "# ..." lines, which prove shows
# in verbose mode and otherwise ignores.

KTAP_PLANNED=0
KTAP_COUNT=0
KTAP_PASS=0
KTAP_FAIL=0
KTAP_SKIP=0
KTAP_FINISHED=0
# Commands run by the exit trap before the KTAP summary (topology teardown).
KTAP_CLEANUP=""

ktap_print() {
	printf '%s\n' "$*"
}

ktap_diag() {
	local line
	# One "# " per line so multi-line command output stays diagnostic.
	printf '%s\n' "$*" | while IFS= read -r line; do
		printf '# %s\n' "$line"
	done
}

# ktap_diag_file FILE [MAXLINES]: show (the tail of) a log file as diagnostics
ktap_diag_file() {
	local f=$1 n=${2:-40}
	[ -s "$f" ] || return 0
	ktap_diag "--- $(basename "$f") (last $n lines) ---"
	ktap_diag "$(tail -n "$n" "$f")"
}

ktap_plan() {
	KTAP_PLANNED=$1
	ktap_print "KTAP version 1"
	ktap_print "1..$KTAP_PLANNED"
}

ktap_ok() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_PASS=$((KTAP_PASS + 1))
	ktap_print "ok $KTAP_COUNT $*"
}

ktap_fail() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_FAIL=$((KTAP_FAIL + 1))
	ktap_print "not ok $KTAP_COUNT $*"
}

# ktap_skip DESC REASON
ktap_skip() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_SKIP=$((KTAP_SKIP + 1))
	ktap_print "ok $KTAP_COUNT $1 # SKIP $2"
}

# ktap_result DESC RC: ok when RC is 0
ktap_result() {
	if [ "$2" -eq 0 ]; then
		ktap_ok "$1"
	else
		ktap_fail "$1"
	fi
}

# ktap_check DESC CMD...: run CMD, ok when it succeeds; its output becomes
# diagnostics when it fails.
ktap_check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_ok "$desc"
	else
		ktap_diag "command failed (rc=$rc): $*"
		[ -n "$out" ] && ktap_diag "$out"
		ktap_fail "$desc"
	fi
	return $rc
}

# ktap_check_fail DESC CMD...: ok when CMD fails (negative tests)
ktap_check_fail() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		ktap_ok "$desc"
	else
		ktap_diag "command unexpectedly succeeded: $*"
		[ -n "$out" ] && ktap_diag "$out"
		ktap_fail "$desc"
	fi
	return 0
}

# ktap_skip_rest REASON: report every remaining planned result as skipped
ktap_skip_rest() {
	while [ "$KTAP_COUNT" -lt "$KTAP_PLANNED" ]; do
		ktap_skip "test $((KTAP_COUNT + 1))" "$1"
	done
}

# ktap_bail REASON: abort the script; missing results are failures
ktap_bail() {
	ktap_diag "bail out: $*"
	exit 1
}

ktap_at_cleanup() {
	KTAP_CLEANUP="$*; $KTAP_CLEANUP"
}

ktap__exit_trap() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	if [ -n "$KTAP_CLEANUP" ]; then
		eval "$KTAP_CLEANUP" >/dev/null 2>&1
	fi
	if [ "$KTAP_FINISHED" -eq 0 ]; then
		if [ "$KTAP_COUNT" -lt "$KTAP_PLANNED" ]; then
			ktap_diag "script ended early (rc=$rc) after $KTAP_COUNT of $KTAP_PLANNED results"
			while [ "$KTAP_COUNT" -lt "$KTAP_PLANNED" ]; do
				ktap_fail "test $((KTAP_COUNT + 1)) # not run, script ended early"
			done
		fi
		ktap_diag "totals: pass:$KTAP_PASS fail:$KTAP_FAIL skip:$KTAP_SKIP"
		[ "$KTAP_FAIL" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
		exit 1
	fi
	exit "$rc"
}

ktap__signal() {
	ktap_diag "killed by signal $1"
	exit 1
}

trap ktap__exit_trap EXIT
trap 'ktap__signal INT' INT
trap 'ktap__signal TERM' TERM
trap 'ktap__signal HUP' HUP

# ktap_finish: close the run; exit status reflects failures
ktap_finish() {
	local rc=0
	if [ "$KTAP_COUNT" -ne "$KTAP_PLANNED" ]; then
		ktap_diag "planned $KTAP_PLANNED results, reported $KTAP_COUNT"
		while [ "$KTAP_COUNT" -lt "$KTAP_PLANNED" ]; do
			ktap_fail "test $((KTAP_COUNT + 1)) # not run"
		done
		rc=1
	fi
	[ "$KTAP_FAIL" -eq 0 ] || rc=1
	ktap_diag "totals: pass:$KTAP_PASS fail:$KTAP_FAIL skip:$KTAP_SKIP"
	KTAP_FINISHED=1
	if [ -n "$KTAP_CLEANUP" ]; then
		eval "$KTAP_CLEANUP" >/dev/null 2>&1
		KTAP_CLEANUP=""
	fi
	exit $rc
}
