#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The check functions are called through ktap_check (SC2317); ls globs of
# fixed package and module names (SC2012); '$DKMS_NAME' is literal (SC2016).
# shellcheck disable=SC2317,SC2012,SC2016
#
# scripts/lib/deb-test.sh - `make deb-test` (D92): the packages of
# `make deb` in build/deb/ checked without installing them, KTAP output.
# Above all, DKMS builds and installs ntm.ko from the sources ntm-dkms
# ships, for the Debian kernel KVER the Makefile builds for (never
# `uname -r`: this machine need not be able to load modules).
#
# Nothing is written outside a scratch directory: the .debs are extracted
# with dpkg-deb -x, and dkms runs with --dkmstree, --sourcetree and
# --installtree inside it, --no-depmod, and its module signing key
# (mok_signing_key, mok_certificate, normally /var/lib/dkms/mok.*) there.
#
#   1-3   ntm-dkms: dkms.conf (name, PACKAGE_VERSION = VERSION, AUTOINSTALL),
#         postinst and prerm register and remove ntm/VERSION with DKMS
#   4-7   dkms add, build, install for KVER; modinfo: version = VERSION,
#         vermagic = KVER
#   8     dkms remove --all leaves no module in the install tree
#   9-11  ntmd, ntmctl --version = VERSION from the .debs; ntm-dev has
#         <linux/ntm.h>
#   12    ntmd: units in the systemd unit directory, sysusers/tmpfiles
#         handled by postinst, ntmd.service enabled there
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
. tests/selftests/lib/ktap.sh

version=$(cat VERSION)
KVER=${KVER:-$(scripts/lib/kver.sh)}
out=${NTM_DEB_DIR:-build/deb}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-deb-test.XXXXXX")
ktap_at_cleanup "rm -rf '$T'"

ktap_plan 12
deb() { # deb PACKAGE: its .deb of this version in build/deb
	local f
	f=$(ls "$out/$1_$version"-*_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || ktap_bail "no $out/$1_$version-*.deb: run make deb first"
	echo "$f"
}
for p in ntm-dkms ntmd ntmctl ntm-dev; do
	mkdir -p "$T/$p"
	dpkg-deb -x "$(deb $p)" "$T/$p/root" || ktap_bail "dpkg-deb -x $p"
	dpkg-deb -e "$(deb $p)" "$T/$p/DEBIAN" || ktap_bail "dpkg-deb -e $p"
done
src=$T/ntm-dkms/root/usr/src
conf=$src/ntm-$version/dkms.conf
ktap_diag "KVER $KVER, VERSION $version, scratch $T"

# 1-3: the package
conf_ok() {
	grep -qx 'PACKAGE_NAME="ntm"' "$conf" && grep -qx "PACKAGE_VERSION=\"$version\"" "$conf" &&
		grep -qx 'AUTOINSTALL="yes"' "$conf"
}
ktap_check "ntm-dkms: dkms.conf names ntm $version, AUTOINSTALL" conf_ok
postinst_ok() {
	grep -q "^DKMS_NAME=ntm\$" "$T/ntm-dkms/DEBIAN/postinst" &&
		grep -q "^DKMS_VERSION=$version\$" "$T/ntm-dkms/DEBIAN/postinst" &&
		grep -q '/usr/lib/dkms/common.postinst' "$T/ntm-dkms/DEBIAN/postinst"
}
ktap_check "ntm-dkms: postinst registers ntm/$version (common.postinst)" postinst_ok
ktap_check "ntm-dkms: prerm runs dkms remove" \
	grep -q 'dkms remove -m \$DKMS_NAME -v \$DKMS_VERSION --all' "$T/ntm-dkms/DEBIAN/prerm"

# 4-8: DKMS from the extracted source
dk=(--dkmstree "$T/dkms" --sourcetree "$src" --installtree "$T/modules")
# dkms install refuses a kernel without its directory in the install tree
mkdir -p "$T/dkms" "$T/modules/$KVER"
export mok_signing_key=$T/mok.key mok_certificate=$T/mok.pub
t0=$(date +%s)
ktap_check "dkms add ntm/$version" dkms add -m ntm -v "$version" "${dk[@]}"
if ! ktap_check "dkms build ntm/$version -k $KVER" dkms build -m ntm -v "$version" -k "$KVER" "${dk[@]}"; then
	ktap_diag_file "$(ls "$T"/dkms/ntm/"$version"/build/make.log 2>/dev/null | head -n 1)" 40
fi
ktap_diag "dkms build: $(($(date +%s) - t0)) s"
ktap_check "dkms install ntm/$version -k $KVER (scratch install tree)" \
	dkms install -m ntm -v "$version" -k "$KVER" --no-depmod "${dk[@]}"
ko=$(ls "$T/modules/$KVER"/updates/dkms/ntm.ko* 2>/dev/null | head -n 1)
modinfo_ok() {
	[ -n "$ko" ] || { echo "no ntm.ko in $T/modules/$KVER/updates/dkms"; return 1; }
	modinfo "$ko" | grep -E '^(version|vermagic|signer):'
	[ "$(modinfo -F version "$ko")" = "$version" ] &&
		[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$KVER" ]
}
ktap_check "modinfo: version $version, vermagic $KVER" modinfo_ok
ktap_diag "$(modinfo "$ko" 2>&1 | grep -E '^(version|vermagic|signer):')"
removed() {
	dkms remove -m ntm -v "$version" --all --no-depmod "${dk[@]}" || return 1
	! ls "$T/modules/$KVER"/updates/dkms/ntm.ko* 2>/dev/null
}
ktap_check "dkms remove --all: no ntm.ko left" removed

# 9-12: the other packages
ktap_check "ntmd --version: ntmd $version" \
	test "$("$T/ntmd/root/usr/sbin/ntmd" --version)" = "ntmd $version"
ktap_check "ntmctl --version: ntmctl $version" \
	test "$("$T/ntmctl/root/usr/sbin/ntmctl" --version)" = "ntmctl $version"
ktap_check "ntm-dev: /usr/include/linux/ntm.h" test -f "$T/ntm-dev/root/usr/include/linux/ntm.h"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
ntmd_ok() {
	local r=$T/ntmd/root p=$T/ntmd/DEBIAN/postinst
	test -f "$r$unitdir/ntmd.service" && test -f "$r$unitdir/ntmd@.service" &&
		grep -Eq '^\s*systemd-sysusers .*ntm\.conf$' "$p" && grep -Eq 'systemd-tmpfiles .*--create ntm\.conf' "$p" &&
		grep -q "deb-systemd-helper enable 'ntmd.service'" "$p" && test -d "$r/etc/ntm"
}
ktap_check "ntmd: units, sysusers and tmpfiles in postinst, ntmd.service enabled, /etc/ntm" ntmd_ok
ktap_finish
