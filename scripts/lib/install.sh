#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/install.sh install|uninstall - the work of `make install` and
# `make uninstall` (D91).  The Makefile passes every directory in the
# environment: DESTDIR PREFIX KVER KDIR BUILD SBINDIR MANDIR DOCDIR
# INCLUDEDIR UNITDIR SYSUSERSDIR TMPFILESDIR MODULESLOADDIR MODDIR;
# POLKITRULESDIR defaults to /usr/share/polkit-1/rules.d whatever PREFIX
# is: polkitd reads rules only there and in /etc/polkit-1/rules.d (D98).
#
# install writes a manifest of every file it installed (absolute paths as
# on the target, without DESTDIR) to $PREFIX/share/ntm/install-manifest.txt;
# uninstall removes exactly those files and the manifest, then the
# directories that are ntm's alone, if empty.  Nothing is ever written to or
# removed from /etc: the example configuration goes to $DOCDIR.
#
# MODULE_INSTALL says what becomes of the kernel module: "kbuild" (the
# default) installs the kmod/ntm.ko built by `make kmod` for $KVER; "dkms"
# installs its sources with a dkms.conf as $SRCDIR/ntm-VERSION for DKMS to
# build for every kernel (what the ntm-dkms package ships, D92), needs no
# kernel headers and runs no depmod; "none" installs no module.
#
# The daemon's binaries come from $BUILD/ctld, or from $NTM_BIN when set
# (make check installs the ones built as the packages build them, D101).
#
# depmod: with DESTDIR empty, `depmod -a $KVER` after install and uninstall
# (the Debian headers have no System.map, so kbuild's modules_install skips
# it).  With DESTDIR set, depmod is not run: `depmod -b $DESTDIR` would
# write modules.dep & co. for a tree that holds one module, files that
# belong to the target's kernel package; the target (a package's postinst)
# runs depmod.

set -euo pipefail

cd "$(dirname "$0")/../.."
: "${DESTDIR=}" "${PREFIX:?}" "${BUILD:?}" "${SBINDIR:?}" "${MANDIR:?}" "${DOCDIR:?}"
: "${MODULE_INSTALL:=kbuild}" "${SRCDIR:=/usr/src}" "${POLKITRULESDIR:=/usr/share/polkit-1/rules.d}"
case $MODULE_INSTALL in
kbuild) : "${KVER:?}" "${KDIR:?}" ;;
dkms | none) ;;
*) echo "install: MODULE_INSTALL=$MODULE_INSTALL: kbuild, dkms or none" >&2; exit 2 ;;
esac
version=$(cat VERSION)
bindir=${NTM_BIN:-$BUILD/ctld}
: "${INCLUDEDIR:?}" "${UNITDIR:?}" "${SYSUSERSDIR:?}" "${TMPFILESDIR:?}" "${MODULESLOADDIR:?}" "${MODDIR:?}"
MAKE=${MAKE:-make}
manifest=$PREFIX/share/ntm/install-manifest.txt
tmp=

installed=()

# put SRC DEST MODE: install one file, remember it
put() {
	echo "install $1 -> $DESTDIR$2"
	install -D -m "$3" "$1" "$DESTDIR$2"
	installed+=("$2")
}

depmod_note() {
	if [ "$MODULE_INSTALL" != kbuild ]; then
		return
	elif [ -z "$DESTDIR" ]; then
		echo "depmod -a $KVER"
		depmod -a "$KVER"
	else
		echo "install: DESTDIR is set: depmod not run; run 'depmod -a $KVER' on the target"
	fi
}

# The module's sources for DKMS: the repository's layout (kmod/, uapi/,
# VERSION), so kmod/Kbuild finds ../uapi and ../VERSION as in `make kmod`.
install_dkms_source() {
	local d=$SRCDIR/ntm-$version f
	sed -e "s|@VERSION@|$version|g" kmod/dkms.conf.in >"$tmp/dkms.conf"
	put "$tmp/dkms.conf" "$d/dkms.conf" 0644
	put VERSION "$d/VERSION" 0644
	for f in kmod/Kbuild kmod/*.[ch] uapi/linux/ntm.h; do
		case $f in
		*.mod.c) continue ;;
		esac
		put "$f" "$d/$f" 0644
	done
}

do_install() {
	local f s
	if [ "$MODULE_INSTALL" = kbuild ] && [ ! -f kmod/ntm.ko ]; then
		echo "install: kmod/ntm.ko is not built (make kmod)" >&2
		exit 1
	fi
	for f in ntmd ntmctl; do
		[ -x "$bindir/$f" ] || { echo "install: $bindir/$f is not built (make ctld)" >&2; exit 1; }
	done
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}"' EXIT

	case $MODULE_INSTALL in
	kbuild)
		# The module through kbuild (compression and signing as the
		# kernel's configuration says; unsigned here: the Debian headers
		# have no key).
		$MAKE --no-print-directory -C "$KDIR" M="$PWD/kmod" INSTALL_MOD_DIR=extra CONFIG_MODULE_SIG_ALL= \
			INSTALL_MOD_PATH="$DESTDIR" modules_install
		for f in "$DESTDIR$MODDIR"/ntm.ko*; do
			[ -f "$f" ] || { echo "install: kbuild installed no ntm.ko in $DESTDIR$MODDIR" >&2; exit 1; }
			installed+=("${f#"$DESTDIR"}")
		done
		;;
	dkms) install_dkms_source ;;
	esac

	put "$bindir/ntmd" "$SBINDIR/ntmd" 0755
	put "$bindir/ntmctl" "$SBINDIR/ntmctl" 0755

	for f in ntmd.service ntmd@.service; do
		sed -e "s|@SBINDIR@|$SBINDIR|g" "ctld/systemd/$f.in" >"$tmp/$f"
		if grep -n '@[A-Z_]*@' "$tmp/$f"; then
			echo "install: unsubstituted variable in ctld/systemd/$f.in" >&2
			exit 1
		fi
		put "$tmp/$f" "$UNITDIR/$f" 0644
	done
	put ctld/systemd/ntm.sysusers "$SYSUSERSDIR/ntm.conf" 0644
	put ctld/systemd/ntm.tmpfiles "$TMPFILESDIR/ntm.conf" 0644
	put ctld/systemd/ntm.modules-load "$MODULESLOADDIR/ntm.conf" 0644
	# systemd-resolved's per-link DNS for the user ntm (D98, D99)
	put ctld/systemd/ntmd.polkit.rules "$POLKITRULESDIR/ntmd.rules" 0644

	for f in Documentation/man/*.[1-8]; do
		s=${f##*.}
		put "$f" "$MANDIR/man$s/${f##*/}" 0644
	done
	put ctld/completion/ntmctl.bash "$PREFIX/share/bash-completion/completions/ntmctl" 0644
	put ctld/completion/_ntmctl "$PREFIX/share/zsh/vendor-completions/_ntmctl" 0644
	put uapi/linux/ntm.h "$INCLUDEDIR/linux/ntm.h" 0644
	put ctld/ntmd.toml.example "$DOCDIR/ntmd.toml.example" 0644

	printf '%s\n' "${installed[@]}" >"$tmp/manifest"
	install -D -m 0644 "$tmp/manifest" "$DESTDIR$manifest"
	echo "install: ${#installed[@]} files, manifest $DESTDIR$manifest"
	if [ -z "$DESTDIR" ] && [ ! -e /etc/ntm/ntmd.toml ]; then
		echo "install: no /etc/ntm/ntmd.toml yet: start from $DOCDIR/ntmd.toml.example" \
			"(ntmd.service does not start without it)"
	fi
	if [ "$MODULE_INSTALL" = dkms ] && [ -z "$DESTDIR" ]; then
		echo "install: module sources in $SRCDIR/ntm-$version: dkms install ntm/$version"
	fi
	depmod_note
}

do_uninstall() {
	local p n=0 d dirs
	if [ ! -f "$DESTDIR$manifest" ]; then
		echo "uninstall: no $DESTDIR$manifest: nothing installed with PREFIX=$PREFIX" >&2
		exit 1
	fi
	while IFS= read -r p; do
		case $p in
		/*) ;;
		*) echo "uninstall: bad manifest line '$p'" >&2; exit 1 ;;
		esac
		if [ -e "$DESTDIR$p" ] || [ -L "$DESTDIR$p" ]; then
			echo "rm $DESTDIR$p"
			rm -f "$DESTDIR$p"
			n=$((n + 1))
		fi
	done <"$DESTDIR$manifest"
	# directories that only ntm uses: those of a DKMS source tree, if any
	dirs=$(sed -n "s|^\($SRCDIR/ntm-[^/]*\)/dkms.conf\$|\1/kmod \1/uapi/linux \1/uapi \1|p" \
		"$DESTDIR$manifest")
	rm -f "$DESTDIR$manifest"
	for d in $dirs "$PREFIX/share/ntm" "$DOCDIR"; do
		rmdir --ignore-fail-on-non-empty "$DESTDIR$d" 2>/dev/null || true
	done
	echo "uninstall: $n files removed"
	depmod_note
}

case ${1-} in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
