#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/deb.sh - the work of `make deb` (D92): the Debian packages
# of debian/ built with `dpkg-buildpackage -us -uc -b`, then lintian.
#
# dpkg-buildpackage writes its results next to the source directory and
# its own files into debian/, so the build runs on a copy of the tree in
# build/deb/ntm-VERSION (git's files, committed or not, without build/);
# the .debs, .ddebs, .buildinfo and .changes land in build/deb/, and the
# copy is removed afterwards (NTM_DEB_KEEP=1 keeps it).  JOBS: parallel
# jobs (DEB_BUILD_OPTIONS=parallel=N), default 2.
set -euo pipefail

cd "$(dirname "$0")/../.."
version=$(cat VERSION)
out=$PWD/build/deb
src=$out/ntm-$version

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and untracked-but-not-ignored files; one deleted but not
	# yet committed is skipped
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -f "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
		done | tar -cf - --null -T - | tar -xf - -C "$src"
else
	tar -cf - --exclude=./build --exclude-vcs . | tar -xf - -C "$src"
fi

echo "deb: dpkg-buildpackage -us -uc -b in build/deb/ntm-$version"
(cd "$src" && dpkg-buildpackage -us -uc -b -J"${JOBS:-2}")
[ -n "${NTM_DEB_KEEP:-}" ] || rm -rf "$src"

changes=$(ls "$out"/ntm_"$version"-*_*.changes)
echo "deb: lintian $changes"
lintian --fail-on error,warning "$changes"
echo "deb: packages in build/deb/:"
for f in "$out"/*.deb "$out"/*.ddeb; do
	[ -e "$f" ] || continue
	printf '  %-40s %6s KiB\n' "${f##*/}" "$(( ($(stat -c %s "$f") + 1023) / 1024 ))"
done
