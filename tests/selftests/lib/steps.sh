# SPDX-License-Identifier: GPL-2.0
# steps.sh - KTAP steps of the daemon testbeds (sigbed.sh, relaybed.sh):
# a result that shows the daemons' logs when it fails, and steps skipped
# as failures when an earlier one they build on failed.  Sourced after
# ktap.sh and sigbed.sh.

# check DESC RC [INSTANCES...]: report; on failure show the daemons' logs
check() {
	local desc=$1 rc=$2 n
	shift 2
	if [ "$rc" -eq 0 ]; then
		ktap_ok "$desc"
		return 0
	fi
	for n in "$@"; do
		sigbed_logtail "$(sigbed_logfile "$n")" 25
	done
	ktap_fail "$desc"
	return 1
}
# needs DESC VAR...: fail DESC at once when an earlier step it builds on failed
needs() {
	local desc=$1 v
	shift
	for v in "$@"; do
		if [ "${!v:-0}" != 1 ]; then
			ktap_diag "not tried: it needs $v"
			ktap_fail "$desc"
			return 1
		fi
	done
	return 0
}
# rc CMD...: 0 when CMD succeeds, else 1 (for check); CMD's output is its own
rc() { if "$@"; then echo 0; else echo 1; fi; }
# quiet CMD...: CMD without its output (for rc)
quiet() { "$@" >/dev/null 2>&1; }
