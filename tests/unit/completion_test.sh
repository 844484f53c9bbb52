#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# completion_test.sh DIR: the bash completion of ntmctl (DIR/ntmctl.bash)
# completes commands, subcommands, options and option values (run by ctest).
set -u
# shellcheck source=/dev/null
. "$1/ntmctl.bash" || exit 1
fail=0

expect() { # expect "WANT" WORD...: completing the last WORD offers exactly WANT
	want=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_ntmctl
	got="${COMPREPLY[*]}"
	if [ "$got" != "$want" ]; then
		echo "FAIL: ntmctl ${*:2}<TAB>: '$got', want '$want'"
		fail=1
	else
		echo "ok: ntmctl ${*:2}<TAB> -> $got"
	fi
}

complete -p ntmctl | grep -q -- '-F _ntmctl' || { echo "FAIL: complete -p ntmctl"; fail=1; }
expect "show" ntmctl sh
expect "show status" ntmctl s
expect "add" ntmctl tunnel a
expect "add" ntmctl -j --config /etc/ntm/ntmd.toml relay a
expect "--no-wait" ntmctl ike initiate --no
expect "--child" ntmctl ike rekey psk --ch
expect "aes-gcm chacha20-poly1305" ntmctl tunnel add ntm0 --cipher ''
expect "esp-udp" ntmctl tunnel add ntm0 --encap e
expect "--local-index --lifetime --local-ts" ntmctl tunnel add ntm0 --l
expect "nodes" ntmctl dc n
expect "" ntmctl show --bogus
exit $fail
