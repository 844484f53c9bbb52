#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install every Debian 12 package needed to build ntm and run its tests.
# Idempotent: re-running only installs what is missing.
set -eu

PKGS="
build-essential make pkg-config bc kmod cpio
linux-image-amd64 linux-headers-amd64 sparse
cmake g++ clang clang-tidy libclang-rt-14-dev
libnl-3-dev libnl-genl-3-dev libnl-route-3-dev
libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libasio-dev
libtomlplusplus-dev libssl-dev libsystemd-dev libgtest-dev libgmock-dev
libsqlite3-dev sqlite3 libldns-dev openssl
knot knot-dnsutils python3-cryptography
qemu-system-x86 busybox-static
iproute2 iputils-ping iperf3 nftables ethtool procps tcpdump socat
python3 python3-scapy wireguard-tools
strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
jq python3-matplotlib python3-yaml python3-jsonschema
debhelper dh-dkms dkms lintian
systemd dbus polkitd
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
else
	echo "install-deps: all packages present"
fi

# The headers package must match the installed image: both come from the
# same linux-*-amd64 meta package version, check it so a mismatch fails early.
img=$(ls -1 /lib/modules | sort -V | tail -n 1)
if [ ! -d "/usr/src/linux-headers-$img" ]; then
	echo "install-deps: no headers for kernel image $img" >&2
	exit 1
fi
echo "install-deps: kernel $img ready"
