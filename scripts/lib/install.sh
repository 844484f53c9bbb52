#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/install.sh install|uninstall - the work of `make install` and
# `make uninstall` (D91).  The Makefile passes every directory in the
# environment: DESTDIR PREFIX KVER KDIR BUILD SBINDIR MANDIR DOCDIR
# INCLUDEDIR UNITDIR SYSUSERSDIR TMPFILESDIR MODULESLOADDIR MODDIR.
#
# install writes a manifest of every file it installed (absolute paths as
# on the target, without DESTDIR) to $PREFIX/share/ntm/install-manifest.txt;
# uninstall removes exactly those files and the manifest, then the
# directories that are ntm's alone, if empty.  Nothing is ever written to or
# removed from /etc: the example configuration goes to $DOCDIR.
#
# depmod: with DESTDIR empty, `depmod -a $KVER` after install and uninstall
# (the Debian headers have no System.map, so kbuild's modules_install skips
# it).  With DESTDIR set, depmod is not run: `depmod -b $DESTDIR` would
# write modules.dep & co. for a tree that holds one module, files that
# belong to the target's kernel package; the target (a package's postinst)
# runs depmod.

set -euo pipefail

cd "$(dirname "$0")/../.."
: "${DESTDIR=}" "${PREFIX:?}" "${KVER:?}" "${KDIR:?}" "${BUILD:?}" "${SBINDIR:?}" "${MANDIR:?}" "${DOCDIR:?}"
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
	if [ -z "$DESTDIR" ]; then
		echo "depmod -a $KVER"
		depmod -a "$KVER"
	else
		echo "install: DESTDIR is set: depmod not run; run 'depmod -a $KVER' on the target"
	fi
}

do_install() {
	local f s
	[ -f kmod/ntm.ko ] || { echo "install: kmod/ntm.ko is not built (make kmod)" >&2; exit 1; }
	for f in ntmd ntmctl; do
		[ -x "$BUILD/ctld/$f" ] || { echo "install: $BUILD/ctld/$f is not built (make ctld)" >&2; exit 1; }
	done
	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:-}"' EXIT

	# The module through kbuild (compression and signing as the kernel's
	# configuration says; unsigned here: the Debian headers have no key).
	$MAKE --no-print-directory -C "$KDIR" M="$PWD/kmod" INSTALL_MOD_DIR=extra CONFIG_MODULE_SIG_ALL= \
		INSTALL_MOD_PATH="$DESTDIR" modules_install
	for f in "$DESTDIR$MODDIR"/ntm.ko*; do
		[ -f "$f" ] || { echo "install: kbuild installed no ntm.ko in $DESTDIR$MODDIR" >&2; exit 1; }
		installed+=("${f#"$DESTDIR"}")
	done

	put "$BUILD/ctld/ntmd" "$SBINDIR/ntmd" 0755
	put "$BUILD/ctld/ntmctl" "$SBINDIR/ntmctl" 0755

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
	depmod_note
}

do_uninstall() {
	local p n=0 d
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
	rm -f "$DESTDIR$manifest"
	# directories that only ntm uses
	for d in "$PREFIX/share/ntm" "$DOCDIR"; do
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
