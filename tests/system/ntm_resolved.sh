#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Functions called through ktap_check look unreachable to shellcheck
# (SC2317); "a && b || return" (SC2015) is meant; ls of a fixed package
# name (SC2012); sigbed functions without their optional argument (SC2119).
# shellcheck disable=SC2317,SC2015,SC2012,SC2119
#
# tests/system/ntm_resolved.sh - the node's DNS hook with a real
# systemd-resolved (issue 11 deliverable 5, D99).  Runs inside
# `scripts/vm --systemd` (systemd and D-Bus as on a host; the root file
# system is a tmpfs overlay, so what dpkg installs here is gone after the
# run) with ntmd and ntmctl of the build tree (NTM_BIN, no packages):
# Debian's systemd-resolved package (NTM_RESOLVED_DEB, default
# build/pkgcache/systemd-resolved_*.deb of `make resolved-deb`) is
# installed in the guest only, the sigbed testbed (AS, DC, knot, node B
# behind a NAT) runs in namespaces, and node h runs in the VM's own
# namespace with resolved = "auto":
#   resolvectl dns/domain ntm0 show the stub and ~ntm.test, `resolvectl
#   query` and `getent hosts` (through 127.0.0.53) build the tunnel to b,
#   names of the other zone still resolve, stopping ntmd reverts the link;
#   with resolved stopped and a regular /etc/resolv.conf, the fallback edits
#   it and restores it byte for byte, also after a crash (SIGKILL);
#   with a DC that hands out virtual IPv6 addresses only, resolved is
#   pointed at h's virtual IPv6 address and b.ntm.test resolves to b's.
#
#	make ctld resolved-deb
#	NTM_KO=... scripts/vm --systemd -- tests/system/ntm_resolved.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
export TMPDIR=${TMPDIR:-/tmp}
. "$REPO/tests/selftests/lib/ktap.sh"
. "$REPO/tests/selftests/lib/sigbed.sh"

H4=192.0.2.5
NS_H=sbH$$ # a name for the VM's own namespace, so that sigbed_* work for h
DEB=${NTM_RESOLVED_DEB:-$(ls "$REPO"/build/pkgcache/systemd-resolved_*.deb 2>/dev/null | head -n 1)}
T=$(mktemp -d "$TMPDIR/ntm-resolved.XXXXXX")

ktap_plan 20

[ -n "$DEB" ] && [ -f "$DEB" ] || ktap_bail "no systemd-resolved .deb (make resolved-deb)"
[ "$(cat /proc/1/comm)" = systemd ] || ktap_bail "not booted with systemd (scripts/vm --systemd)"
why=$(sigbed_missing) && ktap_bail "testbed: $why"
command -v resolvectl >/dev/null && ktap_bail "systemd-resolved is installed already: this test installs its own"

step() { # step DESC CMD...: CMD in this shell (what it sets stays), output shown on failure
	local desc=$1 rc log=$T/step.$((KTAP_COUNT + 1))
	shift
	"$@" >"$log.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ktap_ok "$desc"
	else
		ktap_diag "command failed (rc=$rc): $*"
		ktap_diag_file "$log.out" 40
		ktap_fail "$desc"
	fi
	return "$rc"
}

# --- 1: systemd-resolved in the guest -----------------------------------------------
cp -a /etc/resolv.conf "$T/resolv.conf.orig" 2>/dev/null
install_resolved() {
	DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" || return 1
	systemctl start systemd-resolved.service || return 1
	sigbed_wait 30 resolvectl status >/dev/null || return 1
	ls -l /etc/resolv.conf
}
step "dpkg -i $(basename "$DEB"), systemd-resolved running" install_resolved ||
	ktap_bail "no systemd-resolved"

# --- 2: testbed, h in the VM's namespace ---------------------------------------------
testbed() {
	sigbed_setup || return 1
	ip link add host0 type veth peer name ph netns "$SB_NS_SW" || return 1
	ip netns exec "$SB_NS_SW" ip link set ph master br0 up || return 1
	ip addr add "$H4/24" dev host0 && ip link set host0 up || return 1
	sigbed_wait 15 ping -c1 -W1 "$SB_DC4" || return 1
	# resolved's own resolver for everything else: knot of the testbed
	resolvectl dns host0 "$SB_DNS4" && resolvectl domain host0 '~.' || return 1
	sigbed_write_as_conf
	sigbed_write_dc_conf
	sigbed_start as && sigbed_start dc || return 1
	sigbed_password h 'secret-h' && sigbed_password b 'secret-b' || return 1
	sigbed_account_add h@ntm.test h.ntm.test "$(sigbed_pwfile h)" || return 1
	sigbed_account_add b@ntm.test b.ntm.test "$(sigbed_pwfile b)" || return 1
	sigbed_write_node_conf b b@ntm.test "$(sigbed_pwfile b)" && sigbed_start b || return 1
	ip netns attach "$NS_H" 1 || return 1
	SB_NS[h]=$NS_H
	# h: resolved = "auto", upstream resolvers not set (they follow the system's)
	sigbed__common_conf h node >"$(sigbed_conf h)"
	cat >>"$(sigbed_conf h)" <<-EOF
	[tls]
	ca = "$SB_DIR/pki/ca.pem"

	[node]
	interface = "$SB_DEV"
	port = $SB_PORT
	as = "as.infra.test:$SB_AS_PORT"
	account = "h@ntm.test"
	password_file = "$(sigbed_pwfile h)"
	resolved = "auto"
	EOF
}
ktap_at_cleanup "ip link del host0 2>/dev/null; ip netns del $NS_H 2>/dev/null"
step "testbed: AS, DC, knot, node B; resolved asks knot for other names" testbed || ktap_bail "no testbed"

# --- 3-10: with systemd-resolved ---------------------------------------------------------
vip=""
link_set() {
	sigbed_start h || return 1
	vip=$(sigbed_node h vip4)
	[ -n "$vip" ] || return 1
	[ "$(sigbed_jq h .node.dns.system)" = systemd-resolved ] || { sigbed_status h; return 1; }
	sigbed_wait 10 sh -c "resolvectl dns $SB_DEV | grep -qF '$vip'" || { resolvectl status; return 1; }
	resolvectl domain "$SB_DEV" | grep -qF '~ntm.test' || { resolvectl domain; return 1; }
	resolvectl status "$SB_DEV" | grep -q -- '-DefaultRoute' || { resolvectl status "$SB_DEV"; return 1; }
	resolvectl dns "$SB_DEV"; resolvectl domain "$SB_DEV"
}
step "ntmd registered: resolvectl dns/domain $SB_DEV show $SB_DEV's stub and ~ntm.test, DefaultRoute=no" link_set

# What resolved grants (D99): root, or polkit; a capability alone is not
# enough on the dbus-daemon bus.  SetLinkDefaultRoute(ntm0, false) is what
# ntmd set already, so the call changes nothing when it is allowed.
polkit() {
	local idx out
	idx=$(cat "/sys/class/net/$SB_DEV/ifindex") || return 1
	busctl call org.freedesktop.resolve1 /org/freedesktop/resolve1 org.freedesktop.resolve1.Manager \
		SetLinkDefaultRoute ib "$idx" false || return 1
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
		busctl call org.freedesktop.resolve1 /org/freedesktop/resolve1 org.freedesktop.resolve1.Manager \
		SetLinkDefaultRoute ib "$idx" false 2>&1)
	echo "SetLinkDefaultRoute as uid 65534 with CAP_NET_ADMIN: ${out:-allowed}"
}
step "resolved's SetLink* as root allowed; as a user with CAP_NET_ADMIN: see the diagnostic" polkit
ktap_diag_file "$T/step.$KTAP_COUNT.out" 5

# resolve_b -4|-6 POOL: resolvectl query b.ntm.test in that family gives an
# address of POOL ($b_addr), and a ping to it goes through the tunnel
b_addr=""
resolve_b() {
	local out
	out=$(timeout 60 resolvectl query "$1" b.ntm.test) || { echo "$out"; return 1; }
	echo "$out"
	b_addr=$(printf '%s\n' "$out" | awk '/b.ntm.test:/ { print $2; exit }')
	sigbed_in_pool "$b_addr" "$2" || return 1
	sigbed_wait 30 ping "$1" -c 1 -W 2 "$b_addr"
}

# stop_reverted: h stopped, its log says the link was reverted, and
# resolved no longer routes ~ntm.test
stop_reverted() {
	sigbed_stop h 15 || return 1
	grep -q "systemd-resolved: $SB_DEV reverted" "$(sigbed_logfile h)" || { tail -n 20 "$(sigbed_logfile h)"; return 1; }
	! resolvectl domain 2>/dev/null | grep -qF '~ntm.test'
}

b_vip=""
query() {
	resolve_b -4 "$SB_POOL4" || return 1
	b_vip=$b_addr
}
step "resolvectl query b.ntm.test: b's virtual address, the tunnel carries a ping" query

getent_b() {
	local a h
	# (getent hosts prefers b's virtual IPv6 address: compare the IPv4 one)
	a=$(timeout 60 getent ahostsv4 b.ntm.test | awk '{ print $1; exit }')
	[ "$a" = "$b_vip" ] || { echo "getent: '$a', resolvectl: '$b_vip'"; return 1; }
	h=$(timeout 60 getent hosts b.ntm.test | awk '{ print $1; exit }')
	sigbed_in_pool "$h" "$SB_POOL4" || sigbed_in_pool "$h" "$SB_POOL6" || { echo "getent hosts: '$h'"; return 1; }
	[ "$(sigbed_jq h '.node.dns.hooked')" -ge 2 ]
}
step "getent ahostsv4/hosts b.ntm.test (glibc -> 127.0.0.53 -> resolved -> the stub) agree" getent_b

other_names() {
	local a
	a=$(timeout 60 getent hosts www.example.test | awk '{ print $1; exit }')
	[ "$a" = "$SB_WWW4" ] || { echo "www.example.test -> '$a'"; return 1; }
	timeout 60 resolvectl query as.infra.test | grep -qF "$SB_AS4"
}
step "other names (www.example.test, as.infra.test) still resolve, not through the stub" other_names

upstream_followed() {
	# the stub's own upstream: resolved's uplink (knot), never its own addresses
	local up
	up=$(sigbed_jq h '.node.dns.forwarded')
	timeout 30 kdig +short @"$SB_DNS_HOOK" www.example.test A | grep -qxF "$SB_WWW4" || return 1
	[ "$(sigbed_jq h '.node.dns.forwarded')" -gt "$up" ] || return 1
	! grep -E "upstream resolvers now .*($SB_DNS_HOOK|$vip)" "$(sigbed_logfile h)"
}
step "the stub forwards other names to resolved's uplink server, never to itself" upstream_followed

# resolved keeps per-link settings in memory: a restart (an upgrade, a
# crash) forgets them, and ntmd must give ntm0 its DNS again by itself
# (NameOwnerChanged, D102).  host0's, set by this test, the test restores.
resolved_restarted() {
	local out a
	systemctl restart systemd-resolved || return 1
	sigbed_wait 15 sh -c "resolvectl dns $SB_DEV | grep -qF '$vip'" ||
		{ resolvectl status; tail -n 20 "$(sigbed_logfile h)"; return 1; }
	resolvectl domain "$SB_DEV" | grep -qF '~ntm.test' || { resolvectl domain; return 1; }
	grep -q "systemd-resolved restarted: $SB_DEV has its DNS settings again" "$(sigbed_logfile h)" ||
		{ tail -n 20 "$(sigbed_logfile h)"; return 1; }
	resolvectl dns host0 "$SB_DNS4" && resolvectl domain host0 '~.' || return 1
	out=$(timeout 60 resolvectl query -4 b.ntm.test) || { echo "$out"; return 1; }
	a=$(printf '%s\n' "$out" | awk '/b.ntm.test:/ { print $2; exit }')
	sigbed_in_pool "$a" "$SB_POOL4"
}
step "systemctl restart systemd-resolved: ntmd sets $SB_DEV's DNS again, b.ntm.test resolves" resolved_restarted

reverted() {
	stop_reverted || return 1
	! resolvectl dns "$SB_DEV" 2>/dev/null | grep -qF "$vip"
}
step "ntmd stopped: the link reverted, resolved no longer routes ~ntm.test" reverted

# --- 11-14: ntmd as the user ntm, as ntmd.service runs it (D98) ------------------------
# setpriv gives it what the unit does: uid/gid ntm, no supplementary group,
# CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (ambient, bounding) and nothing
# else.  resolved grants its SetLink*/RevertLink through polkit only: the
# rule of the ntmd package (ctld/systemd/ntmd.polkit.rules) in
# /usr/share/polkit-1/rules.d of the overlay, polkitd of the host root.
RULE=/usr/share/polkit-1/rules.d/ntmd.rules
NTMD_ROOT=$NTMD
as_ntm_prepare() {
	getent passwd ntm >/dev/null || systemd-sysusers "$REPO/ctld/systemd/ntm.sysusers" || return 1
	command -v pkcheck >/dev/null || { echo "no polkitd on the host root (scripts/install-deps.sh)"; return 1; }
	cat >"$T/ntmd-as-ntm" <<-EOF
	#!/bin/sh
	exec setpriv --reuid=ntm --regid=ntm --clear-groups \\
		--bounding-set=-all,+net_admin,+net_bind_service \\
		--inh-caps=-all,+net_admin,+net_bind_service \\
		--ambient-caps=-all,+net_admin,+net_bind_service "$NTMD_ROOT" "\$@"
	EOF
	chmod 0755 "$T/ntmd-as-ntm"
	# what ntm reads: the testbed's directory (traverse), the CA, the
	# configuration; what it owns: its password (0600) and state_dir
	chmod 0711 "$SB_DIR" "$SB_DIR/pki" "$T" && chmod 0644 "$SB_DIR/pki/ca.pem" "$(sigbed_conf h)" || return 1
	chown ntm:ntm "$(sigbed_pwfile h)" && chown -R ntm:ntm "$SB_DIR/h" || return 1
	# NTM_RESOLVED_NO_RULE=1: without it, to see points 12-13 fail
	if [ -z "${NTM_RESOLVED_NO_RULE:-}" ]; then
		install -D -m 0644 "$REPO/ctld/systemd/ntmd.polkit.rules" "$RULE" || return 1
	fi
	systemctl try-restart polkit.service
}
as_ntm_link_set() {
	local pid
	NTMD=$T/ntmd-as-ntm sigbed_start h || return 1
	pid=${SB_PID[h]}
	grep -E '^(Uid|Gid|CapEff|CapAmb|CapBnd):' "/proc/$pid/status"
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$(id -u ntm)" ] || return 1
	[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")" = 0000000000001400 ] || return 1
	vip=$(sigbed_node h vip4)
	[ -n "$vip" ] || return 1
	[ "$(sigbed_jq h .node.dns.system)" = systemd-resolved ] || { sigbed_status h; return 1; }
	sigbed_wait 10 sh -c "resolvectl dns $SB_DEV | grep -qF '$vip'" ||
		{ resolvectl status; tail -n 20 "$(sigbed_logfile h)"; return 1; }
	resolvectl domain "$SB_DEV" | grep -qF '~ntm.test' || { resolvectl domain; return 1; }
	resolvectl status "$SB_DEV" | grep -q -- '-DefaultRoute' || { resolvectl status "$SB_DEV"; return 1; }
	[ "$(sigbed_jq h '.node.dns.system_error // ""')" = "" ] || { sigbed_jq h .node.dns; return 1; }
	resolvectl dns "$SB_DEV"; resolvectl domain "$SB_DEV"
}
as_ntm_query() {
	resolve_b -4 "$SB_POOL4" && stop_reverted
}
as_ntm_refused() {
	local log n
	[ ! -e "$RULE" ] || mv "$RULE" "$T/ntmd.rules.away" || return 1
	systemctl try-restart polkit.service
	log=$(sigbed_logfile h)
	n=$(wc -l <"$log")
	NTMD=$T/ntmd-as-ntm sigbed_start h || return 1
	vip=$(sigbed_node h vip4)
	sigbed_wait 10 sh -c "tail -n +$((n + 1)) '$log' | grep -q 'refused\\|access denied'" || true
	tail -n +"$((n + 1))" "$log" | grep -E 'dns:' | tail -n 5
	sigbed_jq h .node.dns
	# not set: resolved refused SetLinkDNS
	! resolvectl dns "$SB_DEV" 2>/dev/null | grep -qF "$vip" || { echo "link DNS set without the rule"; return 1; }
	# one error, naming the cause (polkit, the user ntm) and the fix (the rule)
	[ "$(tail -n +"$((n + 1))" "$log" | grep -c "access denied): ntmd runs as user ntm, which resolved allows only through polkit, and the rule $RULE .* is missing")" = 1 ] ||
		return 1
	sigbed_jq h .node.dns.system_error | grep -qF "the rule $RULE" || return 1
	# the stub still answers on the virtual address
	timeout 30 kdig +short @"$vip" b.ntm.test A | grep -q . || return 1
	sigbed_stop h 15 || return 1
	[ ! -e "$T/ntmd.rules.away" ] || mv "$T/ntmd.rules.away" "$RULE" || return 1
	tail -n +"$((n + 1))" "$log" | grep -m 1 'access denied)'
}
step "as the user ntm: CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only, polkit rule $RULE installed" as_ntm_prepare
step "as the user ntm: resolved granted SetLinkDNS/Domains/DefaultRoute (resolvectl dns/domain $SB_DEV)" \
	as_ntm_link_set
step "as the user ntm: resolvectl query b.ntm.test, the tunnel carries a ping; stop reverts the link" as_ntm_query
sigbed_stop h 15 # after a failure: the next points start their own h
step "as the user ntm without the rule: refused, one error naming polkit and $RULE, stub on the VIP stays" \
	as_ntm_refused
ktap_diag_file "$T/step.$KTAP_COUNT.out" 1
sigbed_stop h 15
[ ! -e "$T/ntmd.rules.away" ] || mv "$T/ntmd.rules.away" "$RULE"
NTMD=$NTMD_ROOT

# --- 15-18: without systemd-resolved ---------------------------------------------------------
fallback_prepare() {
	systemctl stop systemd-resolved.service || return 1
	rm -f /etc/resolv.conf
	printf '# written by ntm_resolved.sh\nnameserver %s\noptions timeout:2\n' "$SB_DNS4" >/etc/resolv.conf
	cp -a /etc/resolv.conf "$T/before"
}
edited() {
	local first
	sigbed_start h || return 1
	[ "$(sigbed_jq h .node.dns.system)" = resolv.conf ] || { sigbed_status h; return 1; }
	first=$(grep -m1 nameserver /etc/resolv.conf)
	cat /etc/resolv.conf
	case $first in "nameserver $SB_DNS_HOOK "*) ;; *) return 1 ;; esac
	grep -q "nameserver $SB_DNS4" /etc/resolv.conf || return 1
	first=$(timeout 60 getent ahostsv4 b.ntm.test | awk '{ print $1; exit }')
	[ "$first" = "$b_vip" ] || { echo "getent: '$first'"; return 1; }
}
step "systemctl stop systemd-resolved, /etc/resolv.conf a regular file" fallback_prepare
step "resolved stopped: 'nameserver $SB_DNS_HOOK' first in /etc/resolv.conf, getent hosts b.ntm.test" edited

restored() {
	sigbed_stop h 15 || return 1
	cmp /etc/resolv.conf "$T/before" || { diff "$T/before" /etc/resolv.conf; return 1; }
	[ ! -e "$SB_DIR/h/resolv.conf.ntmd-backup" ]
}
step "ntmd stopped: /etc/resolv.conf restored byte for byte, no backup left" restored

crash_recovered() {
	local rc
	sigbed_start h || { echo "first start"; return 1; }
	sigbed_jq h .node.dns
	grep -E 'dns:|resolved' "$(sigbed_logfile h)" | tail -n 12
	kill -KILL "${SB_PID[h]}"
	wait "${SB_PID[h]}" 2>/dev/null
	SB_PID[h]=""
	ip link del "$SB_DEV" 2>/dev/null
	cat /etc/resolv.conf; ls -la "$SB_DIR/h"
	grep -q "added by ntmd" /etc/resolv.conf && [ -e "$SB_DIR/h/resolv.conf.ntmd-backup" ] ||
		{ echo "no edit or no backup after SIGKILL"; return 1; }
	sigbed_start h || { echo "second start"; return 1; }
	grep "did not stop cleanly" "$(sigbed_logfile h)" || { tail -n 30 "$(sigbed_logfile h)"; return 1; }
	sigbed_stop h 15
	rc=$?
	[ "$rc" = 0 ] || { echo "ntmd exit status $rc"; tail -n 30 "$(sigbed_logfile h)"; return 1; }
	cmp /etc/resolv.conf "$T/before" || { diff "$T/before" /etc/resolv.conf; return 1; }
}
step "after a SIGKILL the next run restores the backup; its stop leaves the file as it was" crash_recovered

# --- 19-20: a node with a virtual IPv6 address only ---------------------------------------
# A DC with pool6 alone (config.cpp accepts either pool): resolved must be
# pointed at the stub on h's virtual IPv6 address.  A fresh registry, so
# that no node keeps an IPv4 address from the first DC.
vip6=""
v6_only_set() {
	systemctl start systemd-resolved.service || return 1
	sigbed_wait 30 resolvectl status >/dev/null || return 1
	sigbed_stop h 15; sigbed_stop b 15; sigbed_stop dc 15
	rm -f "$SB_DIR"/dc/registry.db* || return 1
	sigbed_write_dc_conf
	sed -i '/^pool4 = /d' "$(sigbed_conf dc)" || return 1
	grep -q '^pool4' "$(sigbed_conf dc)" && return 1
	sigbed_start dc && sigbed_start b && sigbed_start h || return 1
	vip6=$(sigbed_node h vip6)
	sigbed_in_pool "$vip6" "$SB_POOL6" || { sigbed_status h; return 1; }
	[ -z "$(sigbed_node h vip4)" ] || { echo "h has a virtual IPv4 address"; return 1; }
	[ "$(sigbed_jq h .node.dns.system)" = systemd-resolved ] || { sigbed_status h; return 1; }
	sigbed_wait 10 sh -c "resolvectl dns $SB_DEV | grep -qF '$vip6'" ||
		{ resolvectl status; tail -n 20 "$(sigbed_logfile h)"; return 1; }
	resolvectl domain "$SB_DEV" | grep -qF '~ntm.test' || { resolvectl domain; return 1; }
	grep -q "dns stub: listening on \[$vip6\]:53" "$(sigbed_logfile h)" ||
		{ grep 'dns' "$(sigbed_logfile h)" | tail -n 10; return 1; }
	resolvectl dns "$SB_DEV"; resolvectl domain "$SB_DEV"
}
step "DC with pool6 only: resolvectl dns $SB_DEV shows h's virtual IPv6 address, the stub listens there" v6_only_set

v6_only_query() {
	resolve_b -6 "$SB_POOL6" || return 1
	timeout 30 kdig +short @"$vip6" b.ntm.test AAAA | grep -qxF "$b_addr" || return 1
	stop_reverted
}
step "vip6-only: resolvectl query -6 b.ntm.test, ping -6 through the tunnel; stop reverts the link" v6_only_query
sigbed_stop h 15

sigbed_teardown
rm -rf "$T"
ktap_finish
