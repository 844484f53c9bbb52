# SPDX-License-Identifier: GPL-2.0
# scripts/lib/narrate.sh - the narration of the demo acts: numbered steps,
# commands shown as typed, green and red verdicts.  Sourced after sigbed.sh;
# the act sets T0 and counts failures in FAILED.
# shellcheck disable=SC2034
PAUSE=${NTM_DEMO_PAUSE:-0}
FAILED=0
STEP=0
if [ -t 1 ]; then B_=$'\e[1m' D_=$'\e[2m' G_=$'\e[32m' R_=$'\e[31m' C_=$'\e[36m' N_=$'\e[0m'; else B_= D_= G_= R_= C_= N_=; fi

step() {
	STEP=$((STEP + 1))
	printf '\n%s== %d. %s%s %s(%d s)%s\n' "$B_" "$STEP" "$*" "$N_" "$D_" $(($(date +%s) - T0)) "$N_"
	[ "$PAUSE" != 0 ] && sleep "$PAUSE"
	return 0
}
say() { printf '   %s\n' "$*"; }
# show WHO TEXT: a command line as typed on host WHO
show() { printf '%s   [%s]$ %s%s\n' "$D_" "$1" "$2" "$N_"; }
# run WHO CMD...: show the command as typed on host WHO (a name of the
# testbed, or "vm"), run it there, indent its output
run() {
	local who=$1 rc
	shift
	local shown
	shown=$(printf '%s ' "$@" | sed "s|$NTM_BIN/||g")
	[ -n "$SB_DIR" ] && shown=${shown//$SB_DIR\//\$D\/}
	show "$who" "$shown"
	if [ "$who" = vm ]; then "$@" 2>&1 | sed 's/^/     /'; else sigbed_in "$who" "$@" 2>&1 | sed 's/^/     /'; fi
	rc=${PIPESTATUS[0]}
	[ "$rc" -ne 0 ] && { printf '   %sexit status %d%s\n' "$R_" "$rc" "$N_"; FAILED=$((FAILED + 1)); }
	return "$rc"
}
ok() { printf '   %s✔ %s%s\n' "$G_" "$*" "$N_"; }
bad() { printf '   %s✘ %s%s\n' "$R_" "$*" "$N_"; FAILED=$((FAILED + 1)); }
fatal() {
	bad "$*"
	printf '\ndemo aborted after %d s\n' $(($(date +%s) - T0))
	exit 1
}
# logline NAME REGEX [N]: the last N lines of NAME's ntmd log matching REGEX
logline() {
	grep -Ei -- "$2" "$(sigbed_logfile "$1")" 2>/dev/null | grep -v ' debug: ' | tail -n "${3:-3}" |
		cut -c25-170 | sed "s/^/   $C_$(printf '%-4s' "$1")|$N_ /"
}
