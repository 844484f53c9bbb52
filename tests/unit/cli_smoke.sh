#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# cli_smoke.sh NTMCTL NTMD: exit statuses of the real binaries that do not
# depend on the kernel (run by ctest).
set -u
NTMCTL=$1
NTMD=$2
fail=0

expect() { # expect RC CMD...: CMD exits with RC
	want=$1
	shift
	"$@" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $* exited $rc, want $want"
		fail=1
	else
		echo "ok: $* -> $rc"
	fi
}

expect 0 "$NTMCTL" --help
expect 2 "$NTMCTL"
expect 2 "$NTMCTL" show a/b
expect 2 "$NTMCTL" tunnel flush
expect 2 "$NTMCTL" device set ntm0
expect 2 "$NTMCTL" monitor --count 0
expect 0 "$NTMD" --help
expect 2 "$NTMD"
expect 2 "$NTMD" --interface ntm0
expect 2 "$NTMD" --interface ntm0 --port 0
expect 2 "$NTMD" --interface ntm0 --port 4500 --log-level loud
expect 2 "$NTMD" --interface bad/name --port 4500
exit $fail
