#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Functions called through ktap_check look unreachable to shellcheck
# (SC2317); "a && b || return" (SC2015) and single quotes around $ for
# another shell or knot (SC2016) are meant.
# shellcheck disable=SC2317,SC2015,SC2016
#
# tests/system/ntm_deploy.sh - Documentation/deploy.rst followed literally
# (issue 11 item 9).  Inside `scripts/vm --systemd` (systemd PID 1, a
# writable overlay root) every `.. code-block:: sh` of deploy.rst whose
# caption is "on HOST" runs, in document order, on HOST; blocks without
# such a caption are not run.  The block captioned "zone example." is the
# zone content the DNS server serves.  One KTAP point per block, then
# checks of the outcome.
#
# Run by `make deploy-test` (needs `make deb` first):
#	NTM_KO= scripts/vm --systemd --timeout 2400 -- tests/system/ntm_deploy.sh
# NTM_DEB_DIR: the directory with the .debs (default build/deb).
#
# The hosts are network namespaces with the names and addresses of the
# document, so nothing in a block is substituted:
#
#   inet (router)   192.0.2.1/24 (bridge), 198.51.100.1/24, 203.0.113.1/24
#     server        192.0.2.10    server.example, ntmd roles as+dc
#     resolver      192.0.2.53    knotd, authoritative for "example."
#     bob           198.51.100.20
#     nat           203.0.113.2, LAN 192.168.1.1/24, masquerade
#       alice       192.168.1.10
#   ca              no network at all (an offline CA)
#
# The mapping, all of it (functions defined in the shell that runs a block):
#   - each host has its own /etc/ntm, /var/lib/ntm, /run/ntm, /root and
#     /etc/resolv.conf: directories under /srv/ntm-deploy/HOST bind-mounted
#     in a private mount namespace (unshare -m) inside `ip netns exec HOST`;
#     every resolv.conf starts as "nameserver 192.0.2.53";
#   - `systemctl ... ntmd` and `journalctl -u ntmd` act on ntmd-HOST.service,
#     a copy of the packaged ntmd.service with a drop-in that adds
#     NetworkNamespacePath=/run/netns/HOST and BindPaths= of those
#     directories (StateDirectory=, RuntimeDirectory= and
#     ConfigurationDirectory= reset: the binds replace them);
#   - `apt install ./P_*.deb ...` checks that P is installed: the .debs are
#     installed once into the VM with dpkg -i (point 1), shared by all hosts;
#   - `scp FILE... root@NAME:` copies into /root of the host whose name is
#     NAME's first label.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export TMPDIR=${TMPDIR:-/tmp}
. "$REPO/tests/selftests/lib/ktap.sh"

DOC=$REPO/Documentation/deploy.rst
DEBS=${NTM_DEB_DIR:-$REPO/build/deb}
VERSION=$(cat "$REPO/VERSION")
SRV=/srv/ntm-deploy
T=$(mktemp -d "$TMPDIR/ntm-deploy.XXXXXX")
B=$T/blocks
HOSTS="ca server alice bob"
NETNS="inet nat resolver $HOSTS"
mkdir -p "$B"

# --- the blocks of deploy.rst -------------------------------------------------
#
# A directive line, its option lines (":caption: on HOST"), a blank line,
# then the content, indented by three spaces, until a line indented less.
awk -v dir="$B" '
function done_blk() { if (out != "") close(out); out = ""; inblk = 0 }
/^\.\. code-block::/ { done_blk(); indir = 1; cap = ""; lang = $3; dl = NR; next }
indir && /^   :caption:/ { cap = $0; sub(/^   :caption:[ \t]*/, "", cap); sub(/[ \t]+$/, "", cap); next }
indir && /^   :[a-z-]+:/ { next }
indir && /^[ \t]*$/ {
	indir = 0; inblk = 1
	if (lang == "sh" && cap ~ /^on [a-z]+$/) {
		n++; out = sprintf("%s/%02d-%s.sh", dir, n, substr(cap, 4))
		printf "%d\n", dl > (out ".line")
		close(out ".line")
	} else if (cap == "zone example.")
		out = dir "/zone"
	next
}
inblk && (/^   / || /^[ \t]*$/) { if (out != "") print substr($0, 4) > out; next }
{ done_blk(); indir = 0 }
' "$DOC" || ktap_bail "cannot read $DOC"
mapfile -t BLOCKS < <(cd "$B" && ls -- [0-9]*.sh 2>/dev/null)
[ "${#BLOCKS[@]}" -gt 0 ] || ktap_bail "no captioned blocks in $DOC"
[ -s "$B/zone" ] || ktap_bail "no block captioned \"zone example.\" in $DOC"

FINAL=7
ktap_plan $((2 + ${#BLOCKS[@]} + FINAL))

diag_cmd() { # diag_cmd CMD...: CMD's output as diagnostics
	local out
	out=$("$@" 2>&1)
	[ -n "$out" ] && ktap_diag "$out"
}

# --- 1: the packages, once for all hosts ------------------------------------------

debs=()
for p in ntm-dkms ntmd ntmctl; do
	f=$(find "$DEBS" -maxdepth 1 -name "${p}_${VERSION}-*.deb" | sort | head -n 1)
	[ -n "$f" ] || ktap_bail "no ${p}_$VERSION-*.deb in $DEBS (make deb)"
	debs+=("$f")
done
# man-db's trigger would rebuild the manual index under emulation (minutes)
rm -f /var/lib/man-db/auto-update
t0=$EPOCHSECONDS
install_debs() {
	DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" >"$T/dpkg.log" 2>&1 ||
		{ tail -n 40 "$T/dpkg.log"; return 1; }
	[ "$(modinfo -F version ntm)" = "$VERSION" ]
}
ktap_check "dpkg -i ntm-dkms ntmd ntmctl (DKMS builds ntm.ko), shared by the hosts" install_debs ||
	ktap_bail "no packages"
ktap_diag "dpkg -i took $((EPOCHSECONDS - t0)) s"

# --- 2: the network, the DNS server, the per-host directories and units ----------

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
	local ns p h
	for h in $HOSTS; do
		systemctl stop "ntmd-$h.service" 2>/dev/null
	done
	[ -n "${KNOT_PID:-}" ] && kill "$KNOT_PID" 2>/dev/null
	for ns in $NETNS; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$T"
}
ktap_at_cleanup cleanup

veth() { # veth NS1 IF1 NS2 IF2
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
		in_ns "$1" ip link set "$2" up && in_ns "$3" ip link set "$4" up
}

network() {
	local ns
	for ns in $NETNS; do
		ip netns add "$ns" && in_ns "$ns" ip link set lo up || return 1
	done
	# the router: the servers' LAN on a bridge, bob's link, alice's NAT's link
	in_ns inet ip link add br0 type bridge mcast_snooping 0 && in_ns inet ip link set br0 up &&
		in_ns inet ip addr add 192.0.2.1/24 dev br0 || return 1
	for ns in server resolver; do
		veth "$ns" eth0 inet "to-$ns" && in_ns inet ip link set "to-$ns" master br0 || return 1
	done
	in_ns server ip addr add 192.0.2.10/24 dev eth0 && in_ns server ip route add default via 192.0.2.1 &&
		in_ns resolver ip addr add 192.0.2.53/24 dev eth0 &&
		in_ns resolver ip route add default via 192.0.2.1 || return 1
	veth bob eth0 inet to-bob && in_ns inet ip addr add 198.51.100.1/24 dev to-bob &&
		in_ns bob ip addr add 198.51.100.20/24 dev eth0 &&
		in_ns bob ip route add default via 198.51.100.1 || return 1
	veth nat wan0 inet to-nat && in_ns inet ip addr add 203.0.113.1/24 dev to-nat &&
		in_ns nat ip addr add 203.0.113.2/24 dev wan0 &&
		in_ns nat ip route add default via 203.0.113.1 || return 1
	veth alice eth0 nat lan0 && in_ns nat ip addr add 192.168.1.1/24 dev lan0 &&
		in_ns alice ip addr add 192.168.1.10/24 dev eth0 &&
		in_ns alice ip route add default via 192.168.1.1 || return 1
	in_ns inet sysctl -qw net.ipv4.ip_forward=1 && in_ns nat sysctl -qw net.ipv4.ip_forward=1 || return 1
	in_ns nat nft -f - <<-'EOF' || return 1
	table ip home_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "wan0" ip saddr 192.168.1.0/24 masquerade
		}
	}
	EOF
	in_ns alice ping -c1 -W5 198.51.100.20 >/dev/null && in_ns bob ping -c1 -W5 192.0.2.10 >/dev/null ||
		{ echo "no route between the hosts"; return 1; }
}

dns() { # knotd authoritative for example., the zone of deploy.rst
	local k=$T/knot
	mkdir -p "$k/run" "$k/db" "$k/zones"
	cat >"$k/knot.conf" <<-EOF
	server:
	    rundir: "$k/run"
	    listen: [ 192.0.2.53@53 ]
	database:
	    storage: "$k/db"
	template:
	  - id: default
	    storage: "$k/zones"
	    file: "%s.zone"
	    zonefile-sync: -1
	    journal-content: none
	zone:
	  - domain: example.
	EOF
	{
		printf '%s\n' '$ORIGIN example.' '$TTL 300' \
			'@ SOA ns.example. hostmaster.example. 1 3600 600 86400 300' \
			'@ NS ns.example.' 'ns A 192.0.2.53' '; Documentation/deploy.rst:'
		cat "$B/zone"
	} >"$k/zones/example.zone"
	in_ns resolver knotd -c "$k/knot.conf" >"$T/knot.log" 2>&1 &
	KNOT_PID=$!
	local _
	for _ in $(seq 30); do
		[ "$(in_ns bob kdig +time=1 +retry=0 +short @192.0.2.53 A server.example 2>/dev/null)" = 192.0.2.10 ] &&
			return 0
		sleep 1
	done
	cat "$T/knot.log" "$k/zones/example.zone"
	return 1
}

host_dirs() { # what the packages make on each host, per host
	local h d
	for h in $HOSTS; do
		d=$SRV/$h
		install -d -m 0755 "$d" "$d/etc-ntm" && install -d -m 0700 "$d/root" &&
			install -d -m 0700 -o ntm -g ntm "$d/lib-ntm" &&
			install -d -m 0750 -o ntm -g ntm "$d/run-ntm" || return 1
		echo "nameserver 192.0.2.53" >"$d/resolv.conf"
		chmod 0644 "$d/resolv.conf"
	done
	# the mount points (the first two are the packages')
	mkdir -p /etc/ntm /var/lib/ntm /run/ntm
}

units() { # ntmd-HOST.service: the packaged unit in HOST's namespaces
	local h d u=/etc/systemd/system
	for h in server alice bob; do
		d=$SRV/$h
		cp /lib/systemd/system/ntmd.service "$u/ntmd-$h.service" && mkdir -p "$u/ntmd-$h.service.d" || return 1
		cat >"$u/ntmd-$h.service.d/deploy-test.conf" <<-EOF
		# tests/system/ntm_deploy.sh: ntmd.service on the host $h
		[Unit]
		ConditionPathExists=
		ConditionPathExists=$d/etc-ntm/ntmd.toml
		[Service]
		NetworkNamespacePath=/run/netns/$h
		StateDirectory=
		RuntimeDirectory=
		ConfigurationDirectory=
		BindReadOnlyPaths=$d/etc-ntm:/etc/ntm $d/resolv.conf:/etc/resolv.conf
		BindPaths=$d/lib-ntm:/var/lib/ntm $d/run-ntm:/run/ntm
		EOF
	done
	systemctl daemon-reload
}

# The shell a block runs in, inside `ip netns exec HOST unshare -m -u`
cat >"$T/inhost.sh" <<'EOF'
# inhost.sh HOST BLOCK (bash): the per-host mounts and the mapping
H=$1
D=/srv/ntm-deploy/$H
mount --bind "$D/etc-ntm" /etc/ntm && mount --bind "$D/lib-ntm" /var/lib/ntm &&
	mount --bind "$D/run-ntm" /run/ntm && mount --bind "$D/root" /root &&
	mount --bind "$D/resolv.conf" /etc/resolv.conf || exit 97
hostname "$H"
export HOME=/root
# with_unit CMD ARGS...: CMD with the unit ntmd named ntmd-HOST.service
with_unit() {
	local cmd=$1 a=() x
	shift
	for x in "$@"; do
		case $x in
		ntmd | ntmd.service) a+=("ntmd-$H.service") ;;
		*) a+=("$x") ;;
		esac
	done
	command "$cmd" "${a[@]}"
}
systemctl() { with_unit systemctl "$@"; }
journalctl() { with_unit journalctl "$@"; }
apt() {
	local p
	[ "${1:-}" = install ] || { echo "deploy test: only apt install is mapped" >&2; return 1; }
	shift
	for p in "$@"; do
		case $p in -*) continue ;; esac
		p=${p#./}
		p=${p%%_*}
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
			{ echo "deploy test: $p is not installed" >&2; return 1; }
		echo "deploy test: $p installed (dpkg -i, once for all hosts)"
	done
}
scp() {
	local dst=${!#} h path
	h=${dst%%:*}
	h=${h#*@}
	h=${h%%.*}
	path=${dst#*:}
	[ -d "/srv/ntm-deploy/$h/root" ] || { echo "deploy test: scp to an unknown host $h" >&2; return 1; }
	case $path in /*) echo "deploy test: scp to an absolute path is not mapped" >&2; return 1 ;; esac
	cp -- "${@:1:$#-1}" "/srv/ntm-deploy/$h/root/$path"
}
cd /root || exit 97
set -e -o pipefail
PS4="+ $H: "
set -x
. "$2"
EOF

setup() {
	network || return 1
	dns || return 1
	host_dirs && units
}
step_log=$T/setup.log
if setup >"$step_log" 2>&1; then
	ktap_ok "the hosts (namespaces, router, NAT), knotd serving the zone of deploy.rst, ntmd-HOST units"
else
	ktap_diag_file "$step_log" 40
	ktap_fail "the hosts (namespaces, router, NAT), knotd serving the zone of deploy.rst, ntmd-HOST units"
	ktap_bail "no hosts"
fi

# --- one point per block ---------------------------------------------------------------

on_host() { # on_host HOST FILE: FILE as a block on HOST, at most 600 s
	timeout 600 ip netns exec "$1" unshare --mount --uts --propagation private -- bash "$T/inhost.sh" "$1" "$2"
}

for f in "${BLOCKS[@]}"; do
	h=${f#*-}
	h=${h%.sh}
	line=$(cat "$B/$f.line")
	t0=$EPOCHSECONDS
	if on_host "$h" "$B/$f" >"$T/$f.log" 2>&1; then
		ktap_ok "deploy.rst:$line on $h ($((EPOCHSECONDS - t0)) s)"
	else
		ktap_diag "block deploy.rst:$line on $h failed:"
		ktap_diag_file "$T/$f.log" 40
		case $h in server | alice | bob)
			diag_cmd journalctl -u "ntmd-$h.service" --no-pager -n 30 ;;
		esac
		ktap_fail "deploy.rst:$line on $h"
	fi
done

# --- the outcome ---------------------------------------------------------------------

ctl() { # ctl HOST ARGS...: ntmctl on HOST
	local h=$1
	shift
	ip netns exec "$h" unshare --mount --propagation private -- sh -c \
		'mount --bind "$0/etc-ntm" /etc/ntm && mount --bind "$0/lib-ntm" /var/lib/ntm &&
		 mount --bind "$0/run-ntm" /run/ntm && exec ntmctl "$@"' "$SRV/$h" "$@"
}

peer_of() { # peer_of HOST FQDN: HOST's ntmd has a tunnel to FQDN, established (a time), direct
	ctl "$1" -j status | jq -e --arg f "$2" \
		'.node.peers[] | select(.fqdn == $f and (.established // 0) > 0 and .path.path == "direct")'
}

by_name() {
	local out vip
	out=$(on_host_cmd alice 'getent ahostsv4 bob.ntm.example') || { echo "$out"; return 1; }
	echo "$out"
	vip=$(echo "$out" | awk 'NR == 1 { print $1 }')
	case $vip in 10.77.*) ;; *) echo "bob.ntm.example is $vip, not in 10.77.0.0/16"; return 1 ;; esac
	in_ns alice ip route get "$vip" | grep -q 'dev ntm0' || { in_ns alice ip route get "$vip"; return 1; }
	in_ns alice ping -c 3 -i 0.3 -W 3 "$vip"
}
on_host_cmd() { # on_host_cmd HOST CMD: CMD's output as a one-line block (its trace in cmd.err)
	printf '%s\n' "$2" >"$T/cmd.sh"
	on_host "$1" "$T/cmd.sh" 2>>"$T/cmd.err"
}
ktap_check "alice resolves bob.ntm.example to a virtual address and pings it through ntm0" by_name

statuses() {
	peer_of alice bob.ntm.example || { ctl alice status; return 1; }
	peer_of bob alice.ntm.example || { ctl bob status; return 1; }
}
ktap_check "ntmctl status: alice has bob.ntm.example as an established peer, bob has alice" statuses

nated() { # the DC saw alice behind her NAT, bob at his address
	local j
	j=$(ctl server -j dc nodes) || return 1
	echo "$j"
	echo "$j" | jq -e '.[] | select(.fqdn == "alice.ntm.example" and .nated == true and .online == true)
		| select(.external_ep | startswith("203.0.113.2:"))' >/dev/null &&
		echo "$j" | jq -e '.[] | select(.fqdn == "bob.ntm.example" and .nated == false and .online == true)
		| select(.external_ep | startswith("198.51.100.20:"))' >/dev/null
}
ktap_check "the DC has alice online behind 203.0.113.2 (NATed), bob at 198.51.100.20" nated

sandboxed() { # each ntmd as the packaged unit runs it: user ntm, in its namespace
	local h pid
	for h in server alice bob; do
		pid=$(systemctl show -P MainPID "ntmd-$h.service")
		[ "${pid:-0}" -gt 0 ] || { echo "$h: no main PID"; return 1; }
		[ "$(stat -c %U "/proc/$pid")" = ntm ] || { echo "$h: ntmd not the user ntm"; return 1; }
		[ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$h" readlink /proc/self/ns/net)" ] ||
			{ echo "$h: ntmd not in the namespace $h"; return 1; }
	done
}
ktap_check "ntmd of server, alice, bob: the user ntm, each in its host's namespace" sandboxed

errors=$(journalctl -p err --no-pager -o cat -u ntmd-server.service -u ntmd-alice.service -u ntmd-bob.service 2>&1)
[ -n "$errors" ] && ktap_diag "journalctl -u ntmd -p err (the doc's first look): $errors"

stopped() { # systemctl stop: no ntm device, the DC sees the node offline
	local h
	for h in alice bob; do
		timeout 60 systemctl stop "ntmd-$h.service" || return 1
		[ "$(systemctl show -P Result "ntmd-$h.service")" = success ] ||
			{ echo "$h: $(systemctl show -P Result "ntmd-$h.service")"; return 1; }
		if in_ns "$h" ip link show ntm0 2>/dev/null || in_ns "$h" ip -o -d link show | grep -w ntm; then
			echo "$h: an ntm device is left"
			return 1
		fi
	done
}
ktap_check "systemctl stop ntmd on alice and bob: success, no ntm device left" stopped

offline() {
	local _
	for _ in $(seq 20); do
		[ "$(ctl server -j dc nodes | jq '[.[] | select(.online)] | length')" = 0 ] && return 0
		sleep 1
	done
	ctl server dc nodes
	return 1
}
ktap_check "the DC has both nodes offline (they deregistered)" offline

server_stop() {
	timeout 60 systemctl stop ntmd-server.service &&
		[ "$(systemctl show -P Result ntmd-server.service)" = success ]
}
ktap_check "systemctl stop ntmd on the server: success" server_stop

ktap_finish
