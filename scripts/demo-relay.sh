#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo-relay.sh - the relay act of `make demo`; runs INSIDE the VM.
#
# Two nodes behind two different NAT routers cannot reach each other
# directly at first.  B looks up d.ntm.test; the DC puts a Relay Server
# between them, the relay's kernel forwards the encrypted traffic without
# the keys to read it, and as soon as the NATs let the nodes' probes
# through, the tunnel moves to the direct path while a ping keeps running.
# The relay's counters prove where the packets went.  Exit status 0 only
# when every step worked.  The map is in tests/selftests/lib/relaybed.sh.
# shellcheck disable=SC2119
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export NTM_REPO=$REPO
SB_ID=rdemo
# shellcheck source=tests/selftests/lib/sigbed.sh
. "$REPO/tests/selftests/lib/sigbed.sh"
# shellcheck source=tests/selftests/lib/relaybed.sh
. "$REPO/tests/selftests/lib/relaybed.sh"
# shellcheck source=scripts/lib/narrate.sh
. "$HERE/lib/narrate.sh"
T0=$(date +%s)
D=$SB_DOMAIN
sigbed_trap

rs_rx() { relaybed_relay_rx rs1; }
path() { relaybed_peer b d.$D ".path$1"; }

# -------------------------------------------------------------------------
step "Two NATs and a relay"
why=$(sigbed_missing)
[ -z "$why" ] || fatal "cannot run the demo: $why"
modprobe ntm || fatal "ntm.ko does not load (make kmod)"
relaybed_setup || fatal "testbed setup failed"
say "B ($SB_B4) sits behind NAT router R ($SB_R4), D ($RB_D4) behind R2 ($RB_R2)."
say "Relay Servers RS1 ($RB_RS1) and RS2 ($RB_RS2) run ntmd with roles = [\"rs\"]."
say "For the first part R2 drops what comes from R: no direct path exists yet."
relaybed_block_direct on

step "AS, DC and the relays start; the DC connects to each relay over mutual TLS"
sigbed_write_as_conf
sigbed_write_dc_conf "$(relaybed_dc_relays)"
relaybed_write_rs_conf rs1 $RB_RS1
relaybed_write_rs_conf rs2 $RB_RS2
{ sigbed_start rs1 && sigbed_start rs2 && sigbed_start dc && sigbed_start as; } || fatal "the servers do not start"
relaybed_wait_relays 30 2 &&
	ok "the DC sees both relays: $(sigbed_jq dc '[.dc.relays[] | "\(.relay) up, \(.sessions)/\(.capacity)"] | join("; ")')" ||
	bad "the DC does not reach its relays"

step "B and D log in and register, each behind its NAT"
for n in b d; do
	sigbed_password $n "pw $n $(sigbed_hex 4)"
	sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile $n)" >/dev/null 2>&1
	sigbed_write_node_conf $n "$n@$D" "$(sigbed_pwfile $n)"
	sigbed_start $n || fatal "node $n does not register"
	say "$n.$D: virtual $(sigbed_node $n vip4), seen by the DC from $(sigbed_node $n external_ep), behind a NAT: $(sigbed_node $n nated)"
done
VIP4_D=$(sigbed_node d vip4)

step "B looks up d.ntm.test: the DC relays, the relay forwards"
printf '%s   [b]$ getent ahostsv4 d.%s%s\n' "$D_" "$D" "$N_"
got=$(sigbed_getent b ahostsv4 d.$D 2>&1)
say "$got"
[ "$got" = "$VIP4_D" ] && ok "d.ntm.test is $VIP4_D" || bad "the lookup failed"
logline dc "through relay" 1
logline rs1 "rs: (relay|comm)" 3
logline b "relay|tunnel to d" 3
r0=$(rs_rx)
run b ping -c 10 -i 0.2 -W 2 "$VIP4_D" | tail -n 2
r1=$(rs_rx)
say "RS1's kernel forwarded $((r1 - r0)) datagrams of that ping; it holds no key: it read none of them."
say "B's path to D: $(path '.path') via $(path '.relay')"
[ "$(path '.path')" = relay ] && [ $((r1 - r0)) -ge 20 ] && ok "relayed" || bad "not relayed"

step "R2 lets the direct path through: the nodes' probes find it, under a running ping"
sigbed_in b ping -n -i 0.2 -W 1 -c 120 "$VIP4_D" >"$SB_DIR/demo-ping.txt" 2>&1 &
ppid=$!
sleep 2
relaybed_block_direct off
t=$(date +%s)
sigbed_wait 40 sh -c "[ \"\$(ip netns exec ${SB_NS[b]} $NTMCTL status -j --socket $(sigbed_sock b) | jq -r '.node.peers[] | select(.fqdn == \"d.$D\") | .path.path')\" = direct ]"
say "direct after $(($(date +%s) - t)) s: $(path '.direct') (probes sent $(path '.probes_sent'), answered $(path '.probes_answered'))"
logline b "direct now" 1
logline d "direct now" 1
r2=$(rs_rx)
sleep 5
r3=$(rs_rx)
wait $ppid
say "ping across the switch: $(tail -n 2 "$SB_DIR/demo-ping.txt" | head -n 1)"
say "RS1 forwarded $((r3 - r2)) datagrams in the last 5 s of direct traffic"
[ "$(path '.path')" = direct ] && [ $((r3 - r2)) -lt 5 ] && ok "direct, the relay stays only as the fallback" ||
	bad "the tunnel did not move to the direct path"

step "Summary"
printf '   %-28s %s\n' "DC directions relayed" "$(sigbed_jq dc .dc.directions_relayed)"
printf '   %-28s %s\n' "RS1 communications" "$(sigbed_jq rs1 .rs.communications)"
printf '   %-28s %s\n' "RS1 kernel datagrams" "$(rs_rx)"
printf '   %-28s %s\n' "B's path to D" "$(path '.path') $(path '.direct')"
printf '   %-28s %s\n' "NAT mapping (B)" "$(sigbed_node b nat_mapping)"
printf '   %-28s %s\n' "demo time (s)" "$(($(date +%s) - T0))"
echo
if [ "$FAILED" -eq 0 ]; then
	printf '%srelay act complete: every step worked%s\n' "$G_" "$N_"
	exit 0
fi
printf '%srelay act complete with %d failed step(s)%s\n' "$R_" "$FAILED" "$N_"
exit 1
