#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Kernel style gates for kmod/ and uapi/: checkpatch --strict, sparse and
# W=1, and the netlink spec against uapi/ and the policies (nlspec-check.py,
# D84).  checkpatch ships only inside Debian's linux-source-6.1 tarball, so
# it is extracted once into build/checkpatch (install the package with
# `apt-get install linux-source-6.1`; it is not part of install-deps.sh
# because CI does not need 140 MB for a style check).
set -eu
cd "$(dirname "$0")/.."
cp=build/checkpatch/scripts/checkpatch.pl
if [ ! -x "$cp" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$tarball" ]; then
		echo "kmod-lint: install linux-source-6.1 for checkpatch" >&2
		exit 2
	fi
	mkdir -p build/checkpatch
	tar -xJf "$tarball" -C build/checkpatch --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
status=0
perl "$cp" --strict --no-tree --terse --show-types \
	-f $(ls kmod/*.c kmod/*.h | grep -v 'mod\.c$') uapi/linux/ntm.h |
	grep -v '^total:' |
	grep ':' && status=1
make -C kmod clean >/dev/null
out=$(make -C kmod check 2>&1) || { echo "$out"; exit 1; }
if echo "$out" | grep -E 'warning|error'; then
	status=1
fi
/usr/bin/python3 scripts/nlspec-check.py || status=1
[ $status -eq 0 ] && echo "kmod-lint: checkpatch --strict, sparse, W=1, netlink spec: clean"
exit $status
