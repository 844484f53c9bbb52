#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tests/selftests/run.sh - run the ntm selftests; INSIDE the VM, as root:
#
#	scripts/vm -- tests/selftests/run.sh            (make vm-test)
#	NTM_TESTS="ntm_basic ntm_replay" scripts/vm -- tests/selftests/run.sh
#
# Checks the prerequisites, runs every ntm_*.sh (or those named in NTM_TESTS,
# with or without the "ntm_" prefix and ".sh") through prove, and exits non-zero if any test
# failed.  Each test prints KTAP.  ntm_unload runs last: it unloads ntm.ko.
#
# Environment: NTM_BIN (directory of ntmctl and ntmd, default
# <repo>/build/ctld), NTM_TESTS, NTM_TEST_TIMEOUT (seconds per test, 900),
# NTM_PROVE_ARGS (default "-v --timer --nocolor"), NTM_KEEP_TMP=1 keeps scratch files.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
export NTM_BIN=${NTM_BIN:-$REPO/build/ctld}
export TMPDIR=${TMPDIR:-/tmp}
PY=${NTM_PYTHON:-/usr/bin/python3}
TIMEOUT=${NTM_TEST_TIMEOUT:-900}
ORDER="ntm_netlink ntm_nlfuzz ntm_secrets ntm_restart ntm_basic ntm_replay ntm_tamper ntm_fuzz ntm_acquire ntm_roaming ntm_lifetime ntm_rekey ntm_signalling ntm_metrics ntm_sigflood ntm_tunnel_life ntm_esp ntm_esp_scale ntm_ike ntm_ike_rekey ntm_scale ntm_relay ntm_relay_nat ntm_relay_cases ntm_rekey_cases ntm_keyrecovery ntm_socket ntm_unload"

say() { printf 'selftests: %s\n' "$*"; }
die() { printf 'selftests: %s\n' "$*" >&2; exit 1; }

# --- prerequisites ---------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (inside the VM: scripts/vm -- $0)"
missing=""
for c in ip ping iperf3 nft tcpdump socat prove modprobe setpriv unshare timeout ss awk od; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -x "$PY" ] || missing="$missing $PY"
[ -n "$missing" ] && die "missing tools:$missing (run scripts/install-deps.sh on the host)"
"$PY" -c 'import cryptography' 2>/dev/null ||
	say "python3-cryptography missing: the sealed-message cases will be skipped"
for b in ntmctl ntmd; do
	[ -x "$NTM_BIN/$b" ] || die "$NTM_BIN/$b not found (make ctld, or set NTM_BIN)"
done
if ! modprobe ntm 2>"$TMPDIR/modprobe.err"; then
	die "modprobe ntm failed: $(cat "$TMPDIR/modprobe.err") (make kmod; scripts/vm installs kmod/ntm.ko)"
fi
ip netns add ntmselftest-probe 2>/dev/null && ip netns del ntmselftest-probe ||
	die "cannot create network namespaces"
say "kernel $(uname -r), $(nproc) CPUs; ntm.ko srcversion $(cat /sys/module/ntm/srcversion 2>/dev/null); binaries in $NTM_BIN"

# --- which tests -------------------------------------------------------------
tests=()
if [ -n "${NTM_TESTS:-}" ]; then
	for t in $NTM_TESTS; do
		t=$(basename "${t%.sh}")
		# "basic" and "ntm_basic" both name ntm_basic.sh
		[ -f "$HERE/$t.sh" ] || t=ntm_$t
		[ -f "$HERE/$t.sh" ] || die "no such test: ${t#ntm_}"
		tests+=("$HERE/$t.sh")
	done
else
	for t in $ORDER; do
		[ -f "$HERE/$t.sh" ] && tests+=("$HERE/$t.sh")
	done
	# Tests added later that the order list does not know yet, before unload.
	for f in "$HERE"/ntm_*.sh; do
		case " $ORDER " in *" $(basename "$f" .sh) "*) continue ;; esac
		tests=("${tests[@]:0:${#tests[@]}-1}" "$f" "${tests[@]: -1}")
	done
fi
say "running ${#tests[@]} test(s): $(for t in "${tests[@]}"; do basename "$t" .sh; done | tr '\n' ' ')"

# Mark the kernel log so problems can be told apart per run; prove's
# summary (with the wall-clock time) stays the last thing printed.
echo "<6>ntm-selftests: start" >/dev/kmsg 2>/dev/null
# shellcheck disable=SC2086
prove ${NTM_PROVE_ARGS:--v --timer --nocolor} --exec "timeout -k 10 $TIMEOUT bash" "${tests[@]}"
rc=$?
echo "<6>ntm-selftests: end rc=$rc" >/dev/kmsg 2>/dev/null
exit $rc
