#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print the version of the Debian kernel that ntm builds for and tests on.
#
# That is the newest directory in /lib/modules that has a matching
# /boot/vmlinuz-VERSION; never `uname -r` (the build machine's own kernel may
# not be the one we target, and may not even support modules).
# NTM_KVER overrides the detection.
set -eu

if [ -n "${NTM_KVER:-}" ]; then
	echo "$NTM_KVER"
	exit 0
fi

best=""
for d in /lib/modules/*/; do
	v=$(basename "$d")
	[ -f "/boot/vmlinuz-$v" ] || continue
	best="$best
$v"
done
best=$(printf '%s\n' "$best" | sed '/^$/d' | sort -V | tail -n 1)
if [ -z "$best" ]; then
	echo "kver: no kernel found (need /lib/modules/VER and /boot/vmlinuz-VER);" \
		"run scripts/install-deps.sh" >&2
	exit 1
fi
echo "$best"
