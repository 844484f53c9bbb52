#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2317 # the helpers run through ktap_check
#
# scripts/lib/install-test.sh - `make install` and `make uninstall` into
# temporary DESTDIRs, checked (D91; the install-test step of make check).
# Needs kmod/ntm.ko and build/ctld/{ntmd,ntmctl} (make kmod ctld), or
# ntmd and ntmctl in $NTM_BIN (make check: build/deb/bin).  Never
# installs into the real system.  Exits 1 when a check failed.
#
#   1. make install DESTDIR=D1 PREFIX=/usr: exactly the expected files (the
#      module, ntmd and ntmctl, both units with ExecStart=/usr/sbin/ntmd,
#      sysusers.d, tmpfiles.d, modules-load.d, man pages, bash and zsh completion, the uapi header,
#      the example configuration, the manifest), in the directories that
#      `pkg-config systemd` names; no benchmark tool, nothing in /etc; an
#      /etc/ntm/ntmd.toml already there is left alone; the units differ in
#      RuntimeDirectory= and ntmd.service has ConditionPathExists=;
#      `systemd-analyze verify` accepts both units (when it is installed)
#   2. make install DESTDIR=D2 (default PREFIX): ExecStart=/usr/local/sbin/ntmd
#   3. make uninstall, same DESTDIR and PREFIX: no file left but the user's
#      ntmd.toml and a file of someone else's in the same directories
#
# Output: KTAP (tests/selftests/lib/ktap.sh, as the VM selftests), with the
# differences of a failed check as diagnostics.

set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
MAKE=${MAKE:-make}
KVER=${KVER:-$(scripts/lib/kver.sh)}
# shellcheck source=tests/selftests/lib/ktap.sh
. tests/selftests/lib/ktap.sh
root=$(mktemp -d "${TMPDIR:-/tmp}/ntm-install-test.XXXXXX")
ktap_at_cleanup "rm -rf '$root'"
ktap_plan 27

sdvar() {
	local v
	v=$(pkg-config --variable="$1" systemd 2>/dev/null)
	echo "${v:-$2}"
}
unitdir=$(sdvar systemdsystemunitdir /lib/systemd/system)
sysusersdir=$(sdvar sysusersdir /usr/lib/sysusers.d)
tmpfilesdir=$(sdvar tmpfilesdir /usr/lib/tmpfiles.d)
modulesloaddir=$(sdvar modulesloaddir /usr/lib/modules-load.d)

# expected PREFIX: the files of an install, sorted, without DESTDIR
expected() {
	local p=$1
	{
		echo "/lib/modules/$KVER/extra/ntm.ko"
		echo "$p/sbin/ntmd"
		echo "$p/sbin/ntmctl"
		echo "$unitdir/ntmd.service"
		echo "$unitdir/ntmd@.service"
		echo "$sysusersdir/ntm.conf"
		echo "$tmpfilesdir/ntm.conf"
		echo "$modulesloaddir/ntm.conf"
		echo "/usr/share/polkit-1/rules.d/ntmd.rules"
		echo "$p/share/man/man8/ntmd.8"
		echo "$p/share/man/man8/ntmctl.8"
		echo "$p/share/man/man5/ntmd.toml.5"
		echo "$p/share/bash-completion/completions/ntmctl"
		echo "$p/share/zsh/vendor-completions/_ntmctl"
		echo "$p/include/linux/ntm.h"
		echo "$p/share/doc/ntm/ntmd.toml.example"
		echo "$p/share/ntm/install-manifest.txt"
	} | sort
}

# files DESTDIR: every file and link under DESTDIR, sorted, without DESTDIR
files() {
	[ -d "$1" ] || return 0
	(cd "$1" && find . \( -type f -o -type l \) -printf '/%P\n') | sort
}

same_list() { # same_list WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		return 0
	fi
	echo "$1: expected vs installed:"
	diff <(echo "$2") <(echo "$3") | sed 's/^/  /'
	return 1
}

unit_key() { # unit_key FILE KEY: the values of KEY= in FILE
	sed -n "s/^$2=//p" "$1"
}

d1=$root/usr
d2=$root/local
mkdir -p "$d1/etc/ntm" "$d1/usr/sbin"
echo 'roles = ["node"]  # the user edited this' >"$d1/etc/ntm/ntmd.toml"
echo 'not ntm' >"$d1/usr/sbin/other-tool"

# ---- 1. PREFIX=/usr ----
if $MAKE --no-print-directory install DESTDIR="$d1" PREFIX=/usr >"$root/install1.log" 2>&1; then
	ktap_ok "make install DESTDIR=... PREFIX=/usr"
else
	ktap_fail "make install DESTDIR=... PREFIX=/usr (exit $?)"
	ktap_diag_file "$root/install1.log" 20
fi
ktap_check "with DESTDIR: depmod not run, and said so" grep -q 'depmod not run' "$root/install1.log"

want=$(expected /usr; echo /etc/ntm/ntmd.toml; echo /usr/sbin/other-tool)
want=$(sort <<<"$want")
ktap_check "installed files: exactly the expected ones" same_list "PREFIX=/usr" "$want" "$(files "$d1")"
ktap_check "no benchmark tools installed" \
	bash -c "! find '$d1' -name 'ntm-*bench' | grep -q ."
ktap_check "/etc/ntm/ntmd.toml of the user untouched" \
	grep -qx 'roles = \["node"\]  # the user edited this' "$d1/etc/ntm/ntmd.toml"
ktap_check "ntmd and ntmctl executable" test -x "$d1/usr/sbin/ntmd" -a -x "$d1/usr/sbin/ntmctl"
ktap_check "the module is ntm.ko" test "$(modinfo -F name "$d1/lib/modules/$KVER/extra/ntm.ko" 2>/dev/null)" = ntm
ktap_check "the manifest lists every installed file" same_list manifest \
	"$(expected /usr | grep -v install-manifest)" "$(sort "$d1/usr/share/ntm/install-manifest.txt")"

u=$d1$unitdir/ntmd.service
ui=$d1$unitdir/ntmd@.service
ktap_check "ntmd.service: ExecStart=/usr/sbin/ntmd --config ..." \
	test "$(unit_key "$u" ExecStart)" = "/usr/sbin/ntmd --config /etc/ntm/ntmd.toml"
ktap_check "ntmd@.service: ExecStart=/usr/sbin/ntmd --interface %i ..." \
	grep -q '^ExecStart=/usr/sbin/ntmd --interface %i ' "$ui"
ktap_check "ntmd.service: ConditionPathExists=/etc/ntm/ntmd.toml" \
	test "$(unit_key "$u" ConditionPathExists)" = /etc/ntm/ntmd.toml
ktap_check "ntmd.service: RuntimeDirectory=ntm (control socket /run/ntm/ntmd.sock)" \
	test "$(unit_key "$u" RuntimeDirectory)" = ntm
ktap_check "ntmd@.service: a runtime directory per instance, not ntm's" \
	test "$(unit_key "$ui" RuntimeDirectory)" = ntm-%i
ktap_check "no unsubstituted @VAR@ in the units" bash -c "! grep -n '@[A-Z_]*@' '$u' '$ui'"
ktap_check "sysusers.d: user ntm" grep -q '^u ntm ' "$d1$sysusersdir/ntm.conf"
ktap_check "tmpfiles.d: /var/lib/ntm 0700" grep -q '^d /var/lib/ntm 0700 ' "$d1$tmpfilesdir/ntm.conf"
ktap_check "modules-load.d: ntm" grep -qx ntm "$d1$modulesloaddir/ntm.conf"
ktap_check "polkit rule: resolved's per-link DNS for the user ntm" \
	grep -q 'subject.user != "ntm"' "$d1/usr/share/polkit-1/rules.d/ntmd.rules"

# systemd-analyze verify checks that the ExecStart= binary exists (on the
# host, not under DESTDIR: 252 has no --root for verify), so the installed
# units are verified with ExecStart= pointed at the DESTDIR's ntmd, and
# with the [Install] WantedBy= check, which is all it needs of the host.
if command -v systemd-analyze >/dev/null; then
	vd=$root/verify
	mkdir -p "$vd"
	for f in ntmd.service ntmd@.service; do
		sed "s|^ExecStart=/usr/sbin/ntmd|ExecStart=$d1/usr/sbin/ntmd|" "$d1$unitdir/$f" >"$vd/$f"
	done
	cp "$vd/ntmd@.service" "$vd/ntmd@ntm0.service"
	if (cd "$vd" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
		"$vd/ntmd.service" "$vd/ntmd@ntm0.service") >"$root/verify.log" 2>&1 &&
		! grep -v -e '^$' "$root/verify.log" | grep -q .; then
		ktap_ok "systemd-analyze verify: both units clean"
	else
		ktap_fail "systemd-analyze verify"
		ktap_diag_file "$root/verify.log"
	fi
else
	ktap_skip "systemd-analyze verify" "systemd-analyze not installed"
fi

# ---- 2. default PREFIX (/usr/local) ----
if $MAKE --no-print-directory install DESTDIR="$d2" >"$root/install2.log" 2>&1; then
	ktap_ok "make install DESTDIR=... (PREFIX=/usr/local)"
else
	ktap_fail "make install DESTDIR=... (PREFIX=/usr/local)"
	ktap_diag_file "$root/install2.log" 20
fi
ktap_check "installed files with PREFIX=/usr/local" same_list "PREFIX=/usr/local" \
	"$(expected /usr/local)" "$(files "$d2")"
ktap_check "ntmd.service: ExecStart=/usr/local/sbin/ntmd" \
	grep -q '^ExecStart=/usr/local/sbin/ntmd --config ' "$d2$unitdir/ntmd.service"
ktap_check "ntmd@.service: ExecStart=/usr/local/sbin/ntmd" \
	grep -q '^ExecStart=/usr/local/sbin/ntmd --interface ' "$d2$unitdir/ntmd@.service"

# ---- 3. uninstall ----
for p in /usr /usr/local; do
	d=$d1
	[ "$p" = /usr ] || d=$d2
	if $MAKE --no-print-directory uninstall DESTDIR="$d" PREFIX="$p" >"$root/uninstall.log" 2>&1; then
		ktap_ok "make uninstall DESTDIR=... PREFIX=$p"
	else
		ktap_fail "make uninstall DESTDIR=... PREFIX=$p"
		ktap_diag_file "$root/uninstall.log" 20
	fi
done
ktap_check "uninstall PREFIX=/usr: only the user's files left" same_list "after uninstall" \
	"$(printf '%s\n' /etc/ntm/ntmd.toml /usr/sbin/other-tool)" "$(files "$d1")"
ktap_check "uninstall PREFIX=/usr/local: no file left" same_list "after uninstall" "" "$(files "$d2")"

ktap_finish
