#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/deb.sh [tree|reuse] - the work of `make deb` (D92) and of the
# two package steps of `make check` (D101).
#
# dpkg-buildpackage writes its results next to the source directory and
# its own files into debian/, so the packages are built on a copy of the
# tree in build/deb/ntm-VERSION (git's files, committed or not, without
# build/); the .debs, .ddebs, .buildinfo and .changes land in build/deb/.
# JOBS: parallel jobs (DEB_BUILD_OPTIONS=parallel=N), default 2.
#
#   (no argument)  make deb: a fresh copy, `dpkg-buildpackage -us -uc -b`,
#                  lintian; the copy is removed afterwards (NTM_DEB_KEEP=1
#                  keeps it).
#   tree           make deb-ctld: refresh the copy (file times kept, so a
#                  second run rebuilds only what changed) and build ntmd and
#                  ntmctl there exactly as the packages do (debian/rules
#                  override_dh_auto_build: Debian's hardening flags), plus
#                  the benchmark tools in the same tree; the four binaries
#                  are then copied to build/deb/bin/, where the VM
#                  selftests of make check run them (NTM_BIN).  What the
#                  selftests test is what ships, and it is compiled once.
#   reuse          make deb NTM_DEB_REUSE=1 (make check, after deb-ctld):
#                  `dpkg-buildpackage -nc` on that copy, whose build is up
#                  to date, so nothing is compiled again; then lintian.
set -euo pipefail

cd "$(dirname "$0")/../.."
version=$(cat VERSION)
out=$PWD/build/deb
src=$out/ntm-$version
jobs=${JOBS:-2}
mode=${1:-full}

# copy git's files (tracked, and untracked but not ignored; one deleted but
# not yet committed is skipped) into $src, keeping $src/debian/build
copy_tree() {
	local keep=$out/.build-kept
	rm -rf "$keep"
	[ -d "$src/debian/build" ] && mv "$src/debian/build" "$keep"
	rm -rf "$src"
	mkdir -p "$src"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				[ -f "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
			done | tar -cf - --null -T - | tar -xf - -C "$src"
	else
		tar -cf - --exclude=./build --exclude-vcs . | tar -xf - -C "$src"
	fi
	if [ -d "$keep" ]; then mv "$keep" "$src/debian/build"; fi
}

packages() {
	local changes f
	changes=$(ls "$out"/ntm_"$version"-*_*.changes)
	echo "deb: lintian $changes"
	lintian --fail-on error,warning "$changes"
	echo "deb: packages in build/deb/:"
	for f in "$out"/*.deb "$out"/*.ddeb; do
		[ -e "$f" ] || continue
		printf '  %-40s %6s KiB\n' "${f##*/}" "$(( ($(stat -c %s "$f") + 1023) / 1024 ))"
	done
}

case $mode in
full)
	rm -rf "$out"
	copy_tree
	echo "deb: dpkg-buildpackage -us -uc -b in build/deb/ntm-$version"
	(cd "$src" && dpkg-buildpackage -us -uc -b -J"$jobs")
	[ -n "${NTM_DEB_KEEP:-}" ] || rm -rf "$src"
	packages
	;;
tree)
	mkdir -p "$out"
	rm -rf "${out:?}/bin" "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
	copy_tree
	echo "deb-ctld: ntmd, ntmctl as debian/rules builds them, in build/deb/ntm-$version/debian/build"
	(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs" debian/rules override_dh_auto_build)
	cmake --build "$src/debian/build/ctld" -j"$jobs" --target ntm-ikebench ntm-sigbench
	mkdir -p "$out/bin"
	for b in ntmd ntmctl ntm-ikebench ntm-sigbench; do
		cp -p "$src/debian/build/ctld/$b" "$out/bin/$b"
	done
	echo "deb-ctld: binaries in build/deb/bin/"
	;;
reuse)
	[ -x "$src/debian/build/ctld/ntmd" ] ||
		{ echo "deb: NTM_DEB_REUSE=1 needs make deb-ctld first" >&2; exit 1; }
	rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
	echo "deb: dpkg-buildpackage -us -uc -b -nc in build/deb/ntm-$version (built by deb-ctld)"
	(cd "$src" && dpkg-buildpackage -us -uc -b -nc -J"$jobs")
	packages
	;;
*)
	echo "usage: $0 [tree|reuse]" >&2
	exit 2
	;;
esac
