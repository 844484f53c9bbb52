#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Functions called through ktap_check look unreachable to shellcheck
# (SC2317); ls of fixed package names (SC2012); "a && b || return"
# (SC2015) is meant; sigbed functions called
# without their optional argument (SC2119).
# shellcheck disable=SC2317,SC2012,SC2015,SC2119
#
# tests/system/ntm_host.sh - ntm installed and run the way a Debian host
# runs it (issue 11, D96): inside `scripts/vm --systemd`, where systemd is
# PID 1 and the root file system is writable (a tmpfs overlay), the .debs
# of `make deb` are installed with dpkg, DKMS builds ntm.ko for the VM's
# kernel, and `systemctl start ntmd` brings a node up against an Account
# Server and a Direction Coordinator running in network namespaces (the
# sigbed testbed of tests/selftests/lib/sigbed.sh).  The node, in the VM's
# own network namespace, reaches node B (behind a NAT, in a namespace) by
# name through a tunnel.  `systemctl stop ntmd` must leave nothing behind,
# and purging the packages must remove the module DKMS built.
#
# Run by `make system-test`:
#	scripts/vm --systemd -- tests/system/ntm_host.sh
# NTM_DEB_DIR: the directory with the .debs (default build/deb).
#
# The host node "h" is 192.0.2.5 on the testbed's public bridge (veth
# host0 in the VM's namespace), h.ntm.test.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
export TMPDIR=${TMPDIR:-/tmp}
# the installed programs, not the build tree's
export NTM_BIN=/usr/sbin
. "$REPO/tests/selftests/lib/ktap.sh"
. "$REPO/tests/selftests/lib/sigbed.sh"

DEBS=${NTM_DEB_DIR:-$REPO/build/deb}
VERSION=$(cat "$REPO/VERSION")
KVER=$(uname -r)
H4=192.0.2.5
# systemd-analyze security: the exposure score (0 best, 10 worst) must not
# go past this (issue 11: "no regression past 2.0")
MAX_EXPOSURE=${NTM_MAX_EXPOSURE:-2.0}
T=$(mktemp -d "$TMPDIR/ntm-host.XXXXXX")

ktap_plan 26

# step DESC CMD...: like ktap_check, but CMD runs in this shell, not in a
# command substitution, so that what it sets (the testbed's namespaces and
# daemons) stays for the later points; its output and an xtrace are kept
# and shown when it fails
step() {
	local desc=$1 rc log=$T/step.$((KTAP_COUNT + 1)) xfd
	shift
	exec {xfd}>"$log.trace"
	BASH_XTRACEFD=$xfd
	set -x
	"$@" >"$log.out" 2>&1
	rc=$?
	{ set +x; } 2>/dev/null
	unset BASH_XTRACEFD
	exec {xfd}>&-
	if [ "$rc" = 0 ]; then
		ktap_ok "$desc"
	else
		ktap_diag "command failed (rc=$rc): $*"
		ktap_diag_file "$log.out" 30
		ktap_diag_file "$log.trace" 40
		ktap_fail "$desc"
	fi
	return "$rc"
}

diag_cmd() { # diag_cmd CMD...: CMD's output as diagnostics
	local out
	out=$("$@" 2>&1)
	[ -n "$out" ] && ktap_diag "$out"
}

# --- 1-4: the packages -------------------------------------------------------

debs=()
for p in ntm-dkms ntmd ntmctl ntm-dev; do
	f=$(ls "$DEBS/${p}_${VERSION}-"*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || ktap_bail "no ${p}_$VERSION-*.deb in $DEBS (make deb)"
	debs+=("$f")
done
ktap_diag "installing ${debs[*]##*/}"

# man-db's trigger would rebuild the whole manual index under emulation
# (minutes); the index is not what this test checks, and this overlay
# is thrown away at power-off
rm -f /var/lib/man-db/auto-update
t0=$EPOCHSECONDS
install_debs() {
	DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" >"$T/dpkg.log" 2>&1 ||
		{ tail -n 40 "$T/dpkg.log"; return 1; }
}
ktap_check "dpkg -i ntm-dkms ntmd ntmctl ntm-dev" install_debs
ktap_diag "dpkg -i (with the DKMS build) took $((EPOCHSECONDS - t0)) s"
# DKMS's make.log starts with date(1)'s time; the file is last written at
# the end of the compile
dkms_log=/var/lib/dkms/ntm/$VERSION/$KVER/x86_64/log/make.log
if [ -f "$dkms_log" ] && t1=$(date -d "$(sed -n 2p "$dkms_log")" +%s 2>/dev/null); then
	ktap_diag "of which DKMS compiling ntm.ko: $(($(stat -c %Y "$dkms_log") - t1)) s"
fi

dkms_installed() {
	local s
	s=$(dkms status "ntm/$VERSION" -k "$KVER" 2>&1)
	echo "$s"
	case $s in *": installed"*) ;; *) return 1 ;; esac
	# modprobe's choice is DKMS's module, of this version
	[ "$(modinfo -F version ntm)" = "$VERSION" ] || return 1
	case $(modinfo -n ntm) in */updates/dkms/ntm.ko*) ;; *) return 1 ;; esac
}
ktap_check "DKMS built and installed ntm $VERSION for $KVER" dkms_installed

# postinst: the ntm user (sysusers.d), /var/lib/ntm (tmpfiles.d), the
# service enabled but skipped until /etc/ntm/ntmd.toml exists
postinst_done() {
	getent passwd ntm >/dev/null || { echo "no user ntm"; return 1; }
	# systemd-resolved's per-link DNS for the user ntm (D98)
	grep -q 'subject.user != "ntm"' /usr/share/polkit-1/rules.d/ntmd.rules ||
		{ echo "no polkit rule ntmd.rules"; return 1; }
	[ "$(stat -c '%a %U:%G' /var/lib/ntm)" = "700 ntm:ntm" ] ||
		{ echo "/var/lib/ntm not 0700 ntm:ntm: $(stat -c '%a %U:%G' /var/lib/ntm)"; return 1; }
	[ "$(systemctl is-enabled ntmd.service)" = enabled ] || { echo "ntmd.service not enabled"; return 1; }
	[ "$(systemctl show -P ConditionResult ntmd.service)" = no ] ||
		{ echo "ntmd.service ran without a configuration"; systemctl status ntmd --no-pager; return 1; }
	! systemctl is-failed -q ntmd.service
}
ktap_check "postinst: user ntm, /var/lib/ntm 0700 ntm:ntm, ntmd.service enabled, skipped without ntmd.toml" postinst_done

units_verify() {
	local out
	out=$(systemd-analyze verify /lib/systemd/system/ntmd.service /lib/systemd/system/ntmd@.service 2>&1) ||
		{ echo "$out"; return 1; }
	# verify also prints what it finds questionable without failing
	[ -z "$out" ] || { echo "$out"; return 1; }
}
ktap_check "systemd-analyze verify ntmd.service ntmd@.service: clean" units_verify

# --- 5-6: exposure ------------------------------------------------------------------

exposure() { # exposure UNIT: systemd-analyze security's overall score
	systemd-analyze security --no-pager "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
exposure_ok() { # exposure_ok UNIT
	local s
	s=$(exposure "$1")
	ktap_diag "systemd-analyze security $1: exposure $s (at most $MAX_EXPOSURE)"
	[ -n "$s" ] && awk -v s="$s" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'
}
ktap_check "systemd-analyze security ntmd.service: exposure at most $MAX_EXPOSURE" exposure_ok ntmd.service
ktap_check "systemd-analyze security ntmd@ntm9.service: exposure at most $MAX_EXPOSURE" exposure_ok ntmd@ntm9.service

# --- 7-8: the testbed, the configuration --------------------------------------------

why=$(sigbed_missing) && ktap_bail "testbed: $why"
testbed() {
	sigbed_setup || return 1
	# the VM's own namespace on the public bridge, as host h
	ip link add host0 type veth peer name ph netns "$SB_NS_SW" || return 1
	ip netns exec "$SB_NS_SW" ip link set ph master br0 up || return 1
	ip addr add "$H4/24" dev host0 && ip link set host0 up || return 1
	sigbed_wait 15 ping -c1 -W1 "$SB_DC4" || { echo "h cannot reach the DC"; return 1; }
	# (these two return the status of their optional-argument test)
	sigbed_write_as_conf
	sigbed_write_dc_conf
	sigbed_start as && sigbed_start dc || return 1
	sigbed_password h 'secret-h' && sigbed_password b 'secret-b' || return 1
	sigbed_account_add h@ntm.test h.ntm.test "$(sigbed_pwfile h)" || return 1
	sigbed_account_add b@ntm.test b.ntm.test "$(sigbed_pwfile b)" || return 1
	sigbed_write_node_conf b b@ntm.test "$(sigbed_pwfile b)" && sigbed_start b
}
ktap_at_cleanup "ip link del host0 2>/dev/null"
step "testbed: AS, DC, DNS and node B (behind a NAT) in namespaces" testbed ||
	ktap_bail "no testbed"

# /etc/ntm as an administrator writes it: the CA (root's, 0644), the
# password (the daemon user's, ntm:ntm 0600, D98), the roles; everything
# else (state_dir, control_socket) left at the defaults
write_config() {
	install -d -m 0755 /etc/ntm
	install -m 0644 "$SB_DIR/pki/ca.pem" /etc/ntm/ca.pem
	install -o ntm -g ntm -m 0600 "$(sigbed_pwfile h)" /etc/ntm/password
	cat >/etc/ntm/ntmd.toml <<-EOF
	# h.ntm.test, written by tests/system/ntm_host.sh
	roles = ["node"]
	log_level = "info"
	dns_servers = ["$SB_DNS_EP"]

	[tls]
	ca = "/etc/ntm/ca.pem"

	[node]
	interface = "ntm0"
	port = $SB_PORT
	as = "as.infra.test:$SB_AS_PORT"
	auth = "password"
	account = "h@ntm.test"
	password_file = "/etc/ntm/password"
	dns_listen = ["$SB_DNS_HOOK:53"]
	dns_upstream = ["$SB_DNS_EP"]
	resolved = "no"
	EOF
	# ntmd (user ntm) and the group's ntmctl read it; it holds no secret
	chmod 0644 /etc/ntm/ntmd.toml
	ntmd --config /etc/ntm/ntmd.toml --check-config
}
ktap_check "/etc/ntm/ntmd.toml written, ntmd --check-config accepts it" write_config

# --- 9-17: systemctl start ----------------------------------------------------------

t0=$EPOCHSECONDS
ktap_check "systemctl start ntmd (Type=notify: returns once ntmd is ready)" \
	timeout 300 systemctl start ntmd.service ||
	diag_cmd journalctl -u ntmd --no-pager -n 40
ktap_diag "systemctl start took $((EPOCHSECONDS - t0)) s"

host_registered() {
	[ "$(ntmctl status -j 2>/dev/null | jq -r .node.registered)" = true ]
}
registered() {
	sigbed_wait 60 host_registered || { ntmctl status; return 1; }
	ntmctl status
}
ktap_check "ntmctl status (default socket /run/ntm/ntmd.sock): h.ntm.test registered" registered

sandboxed() {
	local pid uid
	pid=$(systemctl show -P MainPID ntmd.service)
	[ "${pid:-0}" -gt 0 ] || { echo "no main PID"; return 1; }
	uid=$(id -u ntm)
	# the user ntm (real, effective, saved, file system uid), not root (D98)
	[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")" = "$uid $uid $uid $uid" ] ||
		{ grep -E '^(Uid|Gid):' "/proc/$pid/status"; return 1; }
	# exactly CAP_NET_ADMIN (12) and CAP_NET_BIND_SERVICE (10): effective,
	# permitted, ambient and bounding
	grep -E '^Cap(Eff|Prm|Amb|Bnd):' "/proc/$pid/status"
	[ "$(awk '/^Cap(Eff|Prm|Amb|Bnd):/ { print $2 }' "/proc/$pid/status" | sort -u)" = 0000000000001400 ] ||
		return 1
	[ "$(stat -c '%a %U:%G' /run/ntm)" = "750 ntm:ntm" ] && [ -S /run/ntm/ntmd.sock ] ||
		{ ls -la /run/ntm; return 1; }
	[ "$(stat -c '%a %U:%G' /run/ntm/ntmd.sock)" = "660 ntm:ntm" ] || { ls -la /run/ntm; return 1; }
	systemctl show -P StatusText ntmd.service | grep -q .
}
ktap_check "ntmd runs as ntm with CapEff = CAP_NET_ADMIN CAP_NET_BIND_SERVICE, /run/ntm, a status line" sandboxed

# the group ntm reads status, only root (or ntm) changes state (D98)
useradd -M -N -g users -G ntm -s /bin/sh ntm-reader 2>/dev/null
useradd -M -N -g users -s /bin/sh ntm-other 2>/dev/null
as_user() { # as_user USER CMD...
	local u=$1
	shift
	setpriv --reuid="$u" --regid=users --init-groups -- "$@"
}
group_reads() {
	local out
	as_user ntm-reader ntmctl status || return 1
	out=$(as_user ntm-reader ntmctl ike initiate moon --no-wait 2>&1) && { echo "$out"; return 1; }
	echo "$out"
	case $out in *"permission denied: ike-initiate needs root"*) ;; *) return 1 ;; esac
	# the kernel's own rule: every ntm genetlink command needs CAP_NET_ADMIN
	out=$(as_user ntm-reader ntmctl tunnel del ntm0 --local-index 1 2>&1) && { echo "$out"; return 1; }
	echo "$out"
	case $out in *"Operation not permitted (ntm needs CAP_NET_ADMIN)"*) ;; *) return 1 ;; esac
}
ktap_check "a member of group ntm: ntmctl status works; ike initiate, tunnel del refused as needing root" group_reads

others_refused() {
	local out
	out=$(as_user ntm-other ntmctl status 2>&1) && { echo "$out"; return 1; }
	echo "$out"
	case $out in *"permission denied on /run/ntm/ntmd.sock"*) ;; *) return 1 ;; esac
}
ktap_check "a user outside group ntm: permission denied on the control socket" others_refused

# ntmctl run as root on a database in /var/lib/ntm acts as its owner, ntm:
# nothing there is root's afterwards, so ntmd can write it (D98)
state_owned() {
	printf 'pw-x\n' >"$T/pw-x" && chmod 600 "$T/pw-x"
	ntmctl account add x@ntm.test --fqdn x.ntm.test --password-file "$T/pw-x" --kdf-cost 10 \
		--db /var/lib/ntm/accounts.db || return 1
	ntmctl account list --db /var/lib/ntm/accounts.db | grep -q x.ntm.test || return 1
	ls -lan /var/lib/ntm
	[ -z "$(find /var/lib/ntm ! -user ntm -o ! -group ntm)" ]
}
ktap_check "ntmctl account add as root in /var/lib/ntm: every file there is ntm's" state_owned

b_vip=""
by_name() {
	b_vip=$(kdig +short @"$SB_DNS_HOOK" b.ntm.test A 2>&1 | tail -n 1)
	sigbed_in_pool "$b_vip" "$SB_POOL4" || { echo "b.ntm.test -> '$b_vip'"; return 1; }
	sigbed_wait 60 ping -c 1 -W 2 "$b_vip" || { ntmctl show; return 1; }
	ping -c 3 -i 0.3 -W 2 "$b_vip"
}
ktap_check "the host reaches b.ntm.test by name through a tunnel" by_name

journal_has() {
	journalctl -u ntmd.service --no-pager -o cat | grep -E "$1"
}
ktap_check "the journal has ntmd's lines (registration)" journal_has 'regist'

# ntmd@.service (a device with hand-keyed tunnels) runs beside it; its
# runtime directory is its own, so stopping it keeps ntmd.service's socket
template() {
	timeout 120 systemctl start ntmd@ntm9.service || { journalctl -u ntmd@ntm9 --no-pager -n 20; return 1; }
	ip link show ntm9 >/dev/null && [ -d /run/ntm-ntm9 ] || return 1
	timeout 60 systemctl stop ntmd@ntm9.service || return 1
	! ip link show ntm9 >/dev/null 2>&1 && [ ! -e /run/ntm-ntm9 ] || return 1
	[ -S /run/ntm/ntmd.sock ] && host_registered
}
ktap_check "ntmd@ntm9.service starts and stops beside it, ntmd.service's socket stays" template

# --- 18-21: reload, stop --------------------------------------------------------------

reload() {
	local n
	n=$(journal_has 'regist' | wc -l)
	timeout 60 systemctl reload ntmd.service || return 1
	sigbed_wait 60 sh -c "[ \$(journalctl -u ntmd.service --no-pager -o cat | grep -cE 'regist') -gt $n ]" ||
		return 1
	sigbed_wait 60 host_registered && systemctl is-active -q ntmd.service
}
ktap_check "systemctl reload ntmd: registers again, keeps running" reload

t0=$EPOCHSECONDS
ktap_check "systemctl stop ntmd" timeout 60 systemctl stop ntmd.service
ktap_diag "systemctl stop took $((EPOCHSECONDS - t0)) s"

nothing_left() {
	local bad=0
	[ "$(systemctl show -P ActiveState ntmd.service)" = inactive ] || { echo "not inactive"; bad=1; }
	[ "$(systemctl show -P Result ntmd.service)" = success ] || { echo "result $(systemctl show -P Result ntmd.service)"; bad=1; }
	[ "$(systemctl show -P ExecMainStatus ntmd.service)" = 0 ] || { echo "exit status $(systemctl show -P ExecMainStatus ntmd.service)"; bad=1; }
	[ ! -e /sys/fs/cgroup/system.slice/ntmd.service ] || { echo "cgroup left: $(cat /sys/fs/cgroup/system.slice/ntmd.service/cgroup.procs)"; bad=1; }
	! ip link show ntm0 >/dev/null 2>&1 || { echo "ntm0 left"; bad=1; }
	[ ! -e /run/ntm ] || { echo "/run/ntm left: $(ls -la /run/ntm)"; bad=1; }
	# no UDP port, no DNS stub, no route into the pools in this namespace
	if ss -Hanu | grep -E ":$SB_PORT\b|$SB_DNS_HOOK:53\b"; then bad=1; fi
	if ip route show table all | grep -E '10\.77\.|fd00:77:'; then bad=1; fi
	return "$bad"
}
ktap_check "after stop: inactive, exit 0, no process, device, socket, port or route left" nothing_left

# the DC heard the deregistration: h is offline in its table (the record
# and its virtual addresses stay reserved for h's next registration)
h_offline() { [ "$(sigbed_dc_node h.ntm.test online)" = false ]; }
deregistered() {
	sigbed_wait 20 h_offline || { sigbed_ctl dc dc nodes; return 1; }
}
ktap_check "the DC has h.ntm.test offline (deregistered)" deregistered

# --- 22-26: the module, purge ----------------------------------------------------------

sigbed_teardown
ktap_check "nothing holds ntm.ko: modprobe -r ntm" modprobe -r ntm

purge() {
	DEBIAN_FRONTEND=noninteractive dpkg --purge ntm-dev ntmctl ntmd ntm-dkms >"$T/purge.log" 2>&1 ||
		{ tail -n 40 "$T/purge.log"; return 1; }
}
ktap_check "dpkg --purge ntm-dev ntmctl ntmd ntm-dkms" purge

module_gone() {
	local s
	# stdout only: dkms 3.0.10 checks /proc with [ -e <(echo) ], and that
	# echo now and then reports "write error: Broken pipe" on stderr
	s=$(dkms status ntm 2>/dev/null)
	[ -z "$s" ] || { echo "dkms status: $s"; return 1; }
	! modinfo ntm >/dev/null 2>&1 || { echo "modinfo still finds $(modinfo -n ntm)"; return 1; }
	[ ! -e "/usr/src/ntm-$VERSION" ] && [ ! -e /var/lib/dkms/ntm ]
}
ktap_check "purge: DKMS forgot ntm, no ntm.ko left for $KVER" module_gone

units_gone() {
	[ ! -e /lib/systemd/system/ntmd.service ] && [ ! -e /lib/systemd/system/ntmd@.service ] || return 1
	[ ! -e /etc/systemd/system/multi-user.target.wants/ntmd.service ] || return 1
	! systemctl cat ntmd.service >/dev/null 2>&1
}
ktap_check "purge: units and their enablement gone" units_gone

programs_gone() {
	! command -v ntmd && ! command -v ntmctl && [ ! -e /usr/include/linux/ntm.h ] &&
		[ ! -e /usr/share/polkit-1/rules.d/ntmd.rules ]
}
ktap_check "purge: ntmd, ntmctl, <linux/ntm.h>, the polkit rule gone" programs_gone

rm -rf "$T"
ktap_finish
