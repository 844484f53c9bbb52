#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo-ike.sh - the IPsec act of `make demo`: ntmd speaks IKEv2 with
# a stock strongSwan (Debian's charon) through a NAT and carries ESP-in-UDP
# in ntm.ko; runs INSIDE the VM.  Test bed: tests/selftests/lib/ikebed.sh
# (ntm host L behind an nftables NAT N, strongSwan host S).  Exit status 0
# only when every step worked.
# Empty colour codes, "a && ok || bad":
# shellcheck disable=SC1007,SC2015
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export NTM_REPO=$REPO
IB_ID=demo

if [ -t 1 ]; then B_=$'\e[1m' D_=$'\e[2m' G_=$'\e[32m' R_=$'\e[31m' N_=$'\e[0m'; else B_= D_= G_= R_= N_=; fi
FAILED=0
STEP=0
T0=$(date +%s)
ktap_diag() { printf '   %s%s%s\n' "$D_" "$*" "$N_"; }
# shellcheck source=tests/selftests/lib/ikebed.sh
. "$REPO/tests/selftests/lib/ikebed.sh"
trap ib_teardown EXIT

step() {
	STEP=$((STEP + 1))
	printf '\n%s== IPsec %d. %s%s %s(%d s)%s\n' "$B_" "$STEP" "$*" "$N_" "$D_" $(($(date +%s) - T0)) "$N_"
}
ok() { printf '   %s✔ %s%s\n' "$G_" "$*" "$N_"; }
bad() { printf '   %s✘ %s%s\n' "$R_" "$*" "$N_"; FAILED=$((FAILED + 1)); }
indent() { sed 's/^/     /'; }
# run WHO CMD...: show and run a command on host L (ntm) or S (strongSwan)
run() {
	local who=$1
	shift
	printf '%s   [%s]$ %s%s\n' "$D_" "$who" "$(printf '%s ' "$@" | sed "s|$NTM_BIN/||g; s|$IB_DIR/|\$D/|g")" "$N_"
	"$who" "$@" 2>&1 | indent
	return "${PIPESTATUS[0]}"
}

why=$(ib_missing)
[ -n "$why" ] && { bad "cannot run: $why"; exit 1; }

step "A host with ntm (L) behind a NAT, a strongSwan host (S) on the other side"
ib_setup && ok "namespaces L, N (nftables masquerade), S; a test CA with ECDSA certificates" ||
	{ bad "test bed"; exit 1; }
ktap_diag "L 10.0.1.2 -- NAT 10.0.1.1|10.0.2.1 -- S 10.0.2.2; inner networks 10.1.0.0/24 (L) and 10.2.0.0/24 (S)"
ib_charon_start && ib_swanctl_load >/dev/null && ok "charon (strongSwan 5.9) started and configured with swanctl" ||
	{ bad "charon"; exit 1; }
ib_ntmd_start && ok "ntmd started with roles = [\"ike\"] on device ipsec0 (UDP 500, 4500 adopted by ntm.ko)" ||
	{ bad "ntmd"; exit 1; }
printf '%s' "$D_"
sed -n '/^\[\[ike.connection\]\]/,/^$/p' "$IB_DIR/ntmd.toml" | sed -n '1,13p' | indent
printf '%s' "$N_"

step "ntmd initiates IKEv2 with a pre-shared key (IKE_SA_INIT, IKE_AUTH) through the NAT"
run L "$NTMCTL" ike initiate psk --socket "$IB_DIR/ntmd.sock"
if ib_wait 40 ib_established psk; then
	ok "IKE SA and CHILD SA established"
else
	bad "no IKE SA"
fi
run L "$NTMCTL" ike list --socket "$IB_DIR/ntmd.sock"

step "strongSwan's view: it sees the NAT, both sides moved to port 4500, ESP in UDP"
ib_swanctl --list-sas --ike psk 2>&1 | indent

step "Traffic between the inner networks: ntm.ko on one side, the kernel's xfrm on the other"
run L ping -c 3 -I "$IB_IN_L" "$IB_IN_S" && ok "L -> S through the tunnel" || bad "ping L -> S"
run S ping -c 3 -I "$IB_IN_S" "$IB_IN_L" && ok "S -> L through the tunnel" || bad "ping S -> L"

step "Rekey the CHILD SA under a running ping (new SA first, old one deleted after)"
L ping -q -c 40 -i 0.1 -I "$IB_IN_L" "$IB_IN_S" >"$IB_DIR/demo-ping.txt" 2>&1 &
pp=$!
sleep 1
run L "$NTMCTL" ike rekey psk --child --socket "$IB_DIR/ntmd.sock"
wait $pp
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$IB_DIR/demo-ping.txt")
grep 'packet loss' "$IB_DIR/demo-ping.txt" | indent
[ "$loss" = "0" ] && ok "no packet lost during the rekey" || bad "$loss% lost during the rekey"
grep -E 'rekeying CHILD|CHILD SA #|deleted' "$IB_DIR/ntmd.log" | tail -n 3 | sed 's/^.*info: //' | indent

step "Certificates: ECDSA P-256 with RFC 7427 signatures, then a clean Delete"
run L "$NTMCTL" ike initiate cert --socket "$IB_DIR/ntmd.sock"
if ib_wait 40 ib_established cert; then
	ok "authenticated with certificates from the test CA"
else
	bad "certificate authentication"
fi
run L "$NTMCTL" ike terminate cert --socket "$IB_DIR/ntmd.sock"
sleep 2
if ib_swanctl --list-sas --ike cert 2>/dev/null | grep -q ESTABLISHED; then
	bad "charon still has the certificate SA"
else
	ok "charon deleted its side too"
fi

step "Counters"
ib_ctl -j status | python3 -c '
import json, sys
c = json.load(sys.stdin)["ike"]["counters"]
keys = ["ike_established", "child_installed", "child_rekeyed", "retransmits", "drop_malformed", "drop_icv"]
print("     " + ", ".join("%s %s" % (k, c[k]) for k in keys))'
echo
if [ "$FAILED" -eq 0 ]; then
	printf '%sIPsec act complete: every step worked (%d s)%s\n' "$G_" $(($(date +%s) - T0)) "$N_"
	exit 0
fi
printf '%sIPsec act complete with %d failed step(s)%s\n' "$R_" "$FAILED" "$N_"
exit 1
