#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/debug-kernel.sh - the debug kernel of `make check-debug` (D89):
# Debian's linux-source-6.1 built with KASAN, KFENCE, lockdep, kmemleak,
# DEBUG_ATOMIC_SLEEP and friends (scripts/debug-kernel.config), and ntm.ko
# built against it, both cached under build/debug-kernel/.
#
#   scripts/debug-kernel.sh build     build what is missing (kernel, ntm.ko)
#   scripts/debug-kernel.sh vm ARGS   scripts/vm ARGS on the debug kernel,
#                                     with its ntm.ko and the kmemleak check
#
# Layout of build/debug-kernel/:
#   src-KEY/       the extracted source; KEY hashes the tarball's size+mtime
#   out-KEY/       the O= build directory (kept when a build is interrupted:
#                  the next run resumes it)
#   mods-KEY/      modules_install output (modules.builtin for modprobe)
#   ntm/kmod/      a copy of kmod/ (and ntm/uapi/) that ntm.ko is built in,
#                  so the normal kmod/ntm.ko is left alone
#   ntm.ko         the debug ntm.ko
#   build.log      the last kernel build's log
# out-KEY/.ntm-stamp holds the hash of tarball + fragment of the last
# complete build: if it matches, `build` does not even start make.
#
# Environment: NTM_DEBUG_KERNEL_SRC (tarball, default
# /usr/src/linux-source-6.1.tar.xz), JOBS (make -j, default 2).  Every
# compile runs under nice -n 19.

set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
TARBALL=${NTM_DEBUG_KERNEL_SRC:-/usr/src/linux-source-6.1.tar.xz}
FRAG=$REPO/scripts/debug-kernel.config
TOP=$REPO/build/debug-kernel
JOBS=${JOBS:-2}

die() {
	echo "debug-kernel: $*" >&2
	exit 1
}
log() { echo "debug-kernel: $*" >&2; }

[ -r "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.1)"
KEY=$(stat -L -c '%s-%Y' "$TARBALL" | sha256sum | cut -c1-12)
SRC=$TOP/src-$KEY
OUT=$TOP/out-$KEY
MODS=$TOP/mods-$KEY
STAMP=$({ stat -L -c '%s-%Y' "$TARBALL"; cat "$FRAG"; } | sha256sum | cut -c1-16)
NICE=(nice -n 19)

kmake() { "${NICE[@]}" make -C "$SRC" O="$OUT" "$@"; }

extract() {
	[ -d "$SRC" ] && return 0
	log "extracting $TARBALL into $SRC"
	# Sources and build trees of another tarball are stale now.
	find "$TOP" -mindepth 1 -maxdepth 1 \( -name 'src-*' -o -name 'out-*' -o -name 'mods-*' \) \
		! -name "*-$KEY" -exec rm -rf {} + 2>/dev/null || true
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	"${NICE[@]}" tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1
	mv -T "$SRC.tmp" "$SRC"
}

# x86_64_defconfig + kvm_guest.config + the fragment, then every line of
# the fragment must be in the final .config (merge_config.sh only warns).
configure() {
	local line opt want got bad=0
	mkdir -p "$OUT"
	kmake -s x86_64_defconfig
	kmake -s kvm_guest.config
	(cd "$SRC" && "${NICE[@]}" scripts/kconfig/merge_config.sh -m -O "$OUT" \
		"$OUT/.config" "$FRAG" >"$OUT/merge.log" 2>&1) ||
		{ cat "$OUT/merge.log" >&2; die "merge_config.sh failed"; }
	kmake -s olddefconfig
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*}; want=$line ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want="" ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=" "$OUT/.config" || true)
		if [ "$got" != "$want" ]; then
			echo "debug-kernel: $opt: want '${want:-not set}', .config has '${got:-not set}'" >&2
			bad=1
		fi
	done <"$FRAG"
	[ "$bad" = 0 ] || die "the fragment did not apply (unknown option or unmet dependency)"
}

build_kernel() {
	if [ -f "$OUT/.ntm-stamp" ] && [ "$(cat "$OUT/.ntm-stamp")" = "$STAMP" ] &&
		[ -f "$OUT/vmlinux" ]; then
		return 0
	fi
	extract
	configure
	local t0=$SECONDS
	log "building the kernel in $OUT (make -j$JOBS, nice 19; log: $TOP/build.log)"
	# A bare make builds vmlinux, bzImage and modules.
	if ! kmake -j"$JOBS" >"$TOP/build.log" 2>&1; then
		tail -n 40 "$TOP/build.log" >&2
		die "kernel build failed (log: $TOP/build.log)"
	fi
	rm -rf "$MODS"
	kmake -s INSTALL_MOD_PATH="$MODS" modules_install >>"$TOP/build.log" 2>&1 ||
		die "modules_install failed (log: $TOP/build.log)"
	echo "$STAMP" >"$OUT/.ntm-stamp"
	log "kernel $(kmake -s kernelrelease) built in $((SECONDS - t0)) s"
}

# ntm.ko in a copy of kmod/ (timestamps kept: make stays incremental).
build_module() {
	local d=$TOP/ntm
	mkdir -p "$d/kmod" "$d/uapi"
	cp -p "$REPO"/kmod/*.[ch] "$REPO/kmod/Kbuild" "$d/kmod/"
	cp -pr "$REPO"/uapi/. "$d/uapi/"
	cp -p "$REPO/VERSION" "$d/"
	"${NICE[@]}" make -C "$OUT" M="$d/kmod" -j"$JOBS" modules >"$TOP/kmod.log" 2>&1 ||
		{ cat "$TOP/kmod.log" >&2; die "ntm.ko build failed"; }
	cp "$d/kmod/ntm.ko" "$TOP/ntm.ko.tmp"
	mv -f "$TOP/ntm.ko.tmp" "$TOP/ntm.ko"
}

krelease() { cat "$OUT/include/config/kernel.release"; }

case ${1:-} in
build)
	mkdir -p "$TOP"
	build_kernel
	build_module
	log "ready: kernel $(krelease) ($OUT/vmlinux), $TOP/ntm.ko"
	;;
vm)
	shift
	if [ ! -f "$OUT/.ntm-stamp" ] || [ ! -f "$TOP/ntm.ko" ]; then
		die "no debug kernel yet: run scripts/debug-kernel.sh build (make check-debug)"
	fi
	rel=$(krelease)
	export NTM_VM_KERNEL=$OUT/arch/x86/boot/bzImage
	export NTM_VM_MODDIR=$MODS/lib/modules/$rel
	export NTM_KVER=$rel
	export NTM_KO=${NTM_KO-$TOP/ntm.ko}
	export NTM_VM_KMEMLEAK=${NTM_VM_KMEMLEAK:-1}
	exec "$REPO/scripts/vm" "$@"
	;;
*)
	echo "usage: scripts/debug-kernel.sh build | vm [scripts/vm ARGS]" >&2
	exit 2
	;;
esac
