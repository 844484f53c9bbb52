#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_netlink.sh - the generic netlink API under bad input.  A raw genetlink
# client (lib/ntm_genl.py) sends what ntmctl would never build (missing and
# mis-sized attributes, bad keys, salts, endpoints, fds, duplicates, unknown
# indexes) and checks the errno and that no state changed; then ntmctl's own
# error reporting and exit codes; then permissions and netns isolation.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

GENL="$PY $TOPO_LIB_DIR/ntm_genl.py"
NCASES=$($GENL cases 2>/dev/null || echo 0)
NCLI=13
NMISC=6
ktap_plan $((1 + NCASES + NCLI + NMISC))
topo_need_ntm

topo_setup_or_bail
# A second device in A without sockets (no ntmd): endpoint families fail.
A ip link add ntm1 type ntm || ktap_bail "ip link add ntm1 type ntm failed"
ktap_ok "setup: ntm0 with sockets, ntm1 without"

# --- raw genetlink battery ----------------------------------------------------
T=$(topo_tmpdir)
A $GENL check $NTM_DEV ntm1 >"$T/genl.out" 2>&1
got=0
while IFS= read -r line; do
	case $line in
	"ok "*) ktap_ok "genl: ${line#ok }"; got=$((got + 1)) ;;
	"not ok "*) ktap_fail "genl: ${line#not ok }"; got=$((got + 1)) ;;
	*) ktap_diag "$line" ;;
	esac
done <"$T/genl.out"
while [ $got -lt "$NCASES" ]; do
	ktap_fail "genl: case $((got + 1)) did not run"
	got=$((got + 1))
done

# --- ntmctl: errors a script can rely on ------------------------------------------
KEY=$(topo_hex 32)
add_args() { # add_args INDEX VIP4 [extra]
	echo "tunnel add $NTM_DEV --local-index $1 --remote-index 9$1 --endpoint $UL4_B:$NTM_PORT --vip4 $2 --cipher chacha20-poly1305 --key - --tx-salt 01020304 --rx-salt 05060708"
}
# cli_expect DESC RCS REGEX ARGS...: ntmctl in A exits with one of RCS
# ("1", "1 2") and its stderr matches REGEX
cli_expect() {
	local desc=$1 want=$2 re=$3 out rc
	shift 3
	out=$(nctl "$NS_A" "$@" 2>&1 >/dev/null)
	rc=$?
	if [[ " $want " == *" $rc "* ]] && printf '%s' "$out" | grep -Eqi -- "$re"; then
		ktap_ok "ntmctl: $desc (exit $rc: $(printf '%s' "$out" | head -n1 | cut -c1-100))"
	else
		ktap_diag "ntmctl $*"
		ktap_diag "exit $rc (want $want), stderr: $out"
		ktap_fail "ntmctl: $desc"
	fi
}
nt() { num "$(topo_dstat "$NS_A" num_tunnels)"; }

nctl "$NS_A" $(add_args 501 198.51.100.51) >/dev/null 2>&1 <<<"$KEY"
cli_expect "duplicate local index -> EEXIST" 1 "exist" $(add_args 501 198.51.100.52) <<<"$KEY"
cli_expect "duplicate virtual address -> EEXIST" 1 "exist" $(add_args 502 198.51.100.51) <<<"$KEY"
cli_expect "del of an unknown index -> ENOENT" 1 "no such|not found|unknown|enoent" \
	tunnel del $NTM_DEV --local-index 4242
cli_expect "show of an unknown device" 1 "no such|not found|unknown|enodev" device show nosuchntm9
cli_expect "usage: tunnel add without --key" 2 "key" \
	tunnel add $NTM_DEV --local-index 503 --remote-index 9503 --endpoint $UL4_B:$NTM_PORT \
	--vip4 198.51.100.53 --cipher chacha20-poly1305 --tx-salt 01020304 --rx-salt 05060708
cli_expect "key of the wrong length (usage or kernel error)" "1 2" "key" \
	tunnel add $NTM_DEV --local-index 503 --remote-index 9503 --endpoint $UL4_B:$NTM_PORT \
	--vip4 198.51.100.53 --cipher chacha20-poly1305 --key - --tx-salt 01020304 --rx-salt 05060708 <<<0011
cli_expect "same salt both directions" "1 2" "salt|invalid" \
	tunnel add $NTM_DEV --local-index 504 --remote-index 9504 --endpoint $UL4_B:$NTM_PORT \
	--vip4 198.51.100.54 --cipher chacha20-poly1305 --key - --tx-salt 01020304 --rx-salt 01020304 <<<"$KEY"
cli_expect "IPv6 endpoint on a device without an IPv6 socket" 1 "address|socket|avail" \
	tunnel add ntm1 --local-index 505 --remote-index 9505 --endpoint "[$UL6_B]:$NTM_PORT" \
	--vip4 198.51.100.55 --cipher chacha20-poly1305 --key - --tx-salt 01020304 --rx-salt 05060708 <<<"$KEY"
n=$(nt)
ktap_result "ntmctl: failed commands left exactly the one good tunnel (num_tunnels $n)" \
	$([ "$n" -eq 1 ] && echo 0 || echo 1)
nctl "$NS_A" tunnel flush $NTM_DEV >/dev/null 2>&1

# --- tunnel limit per device ----------------------------------------------------
dmax0=$(topo_dstat "$NS_A" max_tunnels)
nctl "$NS_A" device set $NTM_DEV --max-tunnels 3 || ktap_diag "device set --max-tunnels 3 failed"
dmax=$(topo_dstat "$NS_A" max_tunnels)
ktap_diag "max_tunnels: default $dmax0, after --max-tunnels 3: $dmax"
ktap_result "limit: --max-tunnels 3 is reported (default $dmax0)" \
	$([ "$dmax0" = 131072 ] && [ "$dmax" = 3 ] && echo 0 || echo 1)
ref0=$(num "$(topo_dstat "$NS_A" stats.tunnel_refused)")
for i in 1 2 3; do
	nctl "$NS_A" $(add_args 51$i 198.51.100.6$i) >/dev/null 2>&1 <<<"$KEY" || ktap_diag "add 51$i failed"
done
cli_expect "limit: a 4th tunnel is refused with ENOSPC and a message" 1 "tunnel limit" \
	$(add_args 514 198.51.100.64) <<<"$KEY"
ref1=$(num "$(topo_dstat "$NS_A" stats.tunnel_refused)")
n=$(nt)
ktap_diag "limit 3: num_tunnels $n, tunnel_refused $ref0 -> $ref1"
ktap_result "limit: 3 tunnels, the refusal counted (tunnel_refused $ref0 -> $ref1)" \
	$([ "$n" -eq 3 ] && [ "$ref1" -eq $((ref0 + 1)) ] && echo 0 || echo 1)
nctl "$NS_A" tunnel del $NTM_DEV --local-index 512 >/dev/null 2>&1
nctl "$NS_A" $(add_args 514 198.51.100.64) >/dev/null 2>&1 <<<"$KEY"
rc=$?
n=$(nt)
ktap_result "limit: after one is deleted, the 4th can be added (exit $rc, num_tunnels $n)" \
	$([ $rc -eq 0 ] && [ "$n" -eq 3 ] && echo 0 || echo 1)
nctl "$NS_A" tunnel flush $NTM_DEV >/dev/null 2>&1
nctl "$NS_A" device set $NTM_DEV --max-tunnels 131072 >/dev/null 2>&1

# --- permissions and namespaces ------------------------------------------------
out=$(A setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	$GENL getdev $NTM_DEV 2>&1)
ktap_diag "unprivileged: $out"
printf '%s' "$out" | grep -q "errno=1 "
ktap_result "an unprivileged user gets EPERM" $?

out=$(A unshare -U -r $GENL getdev $NTM_DEV 2>&1)
ktap_diag "root of a new user namespace: $out"
printf '%s' "$out" | grep -q "errno=1 "
ktap_result "root of a user namespace that does not own the netns gets EPERM" $?

A ip link add ntmx type ntm || ktap_diag "ip link add ntmx failed"
ifx=$(A cat /sys/class/net/ntmx/ifindex)
cli_b=$(B "$NTMCTL" device show ntmx 2>&1)
rc=$?
ktap_diag "B: ntmctl device show ntmx: exit $rc: $cli_b"
ktap_result "a device in A is invisible by name from B" $([ $rc -ne 0 ] && echo 0 || echo 1)
out=$(B $GENL getdev-index "$ifx" 2>&1)
ktap_diag "B: GET_DEVICE ifindex $ifx (A's ntmx): $out"
printf '%s' "$out" | grep -q "errno=" && ! printf '%s' "$out" | grep -q "errno=0 "
ktap_result "a device in A is invisible by ifindex from B" $?
n=$(nctl "$NS_B" -j show 2>/dev/null | grep -c ntmx)
ktap_result "ntmctl show in B does not list A's devices" $([ "$n" -eq 0 ] && echo 0 || echo 1)

# A device moved to another namespace keeps working there, or the move is refused.
if A ip link set ntmx netns "$NS_B" 2>"$T/move.err"; then
	B "$NTMCTL" device show ntmx >/dev/null 2>&1 && ! A "$NTMCTL" device show ntmx >/dev/null 2>&1
	ktap_result "ntmx moved to B is managed from B only" $?
else
	ktap_diag "moving ntmx to B refused: $(cat "$T/move.err")"
	ktap_ok "ntmx cannot move to another namespace (refused cleanly)"
fi

ktap_finish
