#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_ike_rekey.sh - CHILD SA rekeys that charon initiates, with ntmd as
# the responder, lose nothing (decisions.rst D83).  charon, like libreswan,
# installs its new inbound SA only once it has read the CREATE_CHILD_SA
# answer; here that answer reaches it 400 ms late (netem on the NAT
# router, IKE packets only: on UDP 4500 they carry the 4-byte zero non-ESP
# marker, ESP does not), so a responder that sent on the new SA at once
# would lose ~400 ms of traffic per rekey.  ntmd installs the new pair as a
# successor (REPLACES, TAKEOVER ON_RX): it keeps sending on the old SA until
# ESP arrives on the new one or charon deletes the old one.  A 100/s ping
# runs across four such rekeys and must lose no packet.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/ikebed.sh"

ktap_plan 5

why=$(ib_missing)
if [ -z "$why" ]; then
	for m in sch_prio sch_netem cls_fw; do
		modprobe "$m" 2>/dev/null || why="no $m"
	done
fi
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi
ktap_at_cleanup ib_teardown

REKEYS=4
DELAY_MS=400

check() { # DESC RC
	if [ "$2" -eq 0 ]; then
		ktap_ok "$1"
	else
		ib_logtail 40
		ktap_fail "$1"
	fi
}
rc() { if "$@" >/dev/null 2>&1; then echo 0; else echo 1; fi; }
dev_json() { L "$NTMCTL" -j device show ipsec0 2>/dev/null; }
dstat() { # FIELD (dotted path into ntmctl -j device show)
	dev_json | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if isinstance(v, dict) else v[0][k]
print(v)' "$1" 2>/dev/null || echo 0
}
peer_deletes() { grep -c 'the peer deleted CHILD SA' "$IB_DIR/ntmd.log"; }
netem_pkts() {
	N tc -s qdisc show dev n1 | awk '/qdisc netem/ { n = 1 } n && /Sent/ { print $4; exit }'
}

# --- 1-2: testbed, ntmd -------------------------------------------------------
if ib_setup && ib_charon_start && ib_swanctl_load >/dev/null; then
	ktap_ok "testbed: namespaces, NAT, PKI, charon"
else
	ib_logtail 20
	ktap_bail "testbed setup failed"
fi
ib_ntmd_start ""
check "ntmd starts with the ike role on ipsec0" "$(rc ib_ctl status)"

# --- 3: charon initiates; its IKE traffic from ntmd is then delayed -----------
r=0
ib_swanctl --initiate --child netr --timeout 40 >"$IB_DIR/init.log" 2>&1 || r=1
[ $r -eq 0 ] && { ib_established pskr || r=1; }
L ping -q -c 3 -W 2 -I $IB_IN_L $IB_IN_S >/dev/null 2>&1 || r=1
# N -> S: UDP whose payload starts with 4 zero bytes (IKE behind the
# non-ESP marker) goes through netem, everything else (ESP) straight on
N nft -f - <<EOF || r=1
table ip ikedelay {
	chain forward {
		type filter hook forward priority filter;
		oifname "n1" udp sport 4500 @th,64,32 0 meta mark set 1
	}
}
EOF
N tc qdisc add dev n1 root handle 1: prio bands 3 priomap 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 || r=1
N tc qdisc add dev n1 parent 1:3 handle 30: netem delay ${DELAY_MS}ms limit 1000 || r=1
N tc filter add dev n1 parent 1: protocol ip prio 1 handle 1 fw flowid 1:3 || r=1
check "charon initiates (NAT-T, UDP 4500); ntmd's IKE packets to charon delayed ${DELAY_MS} ms" $r

# --- 4: charon rekeys under a 100/s ping --------------------------------------
tk_before=$(dstat stats.takeover)
del_before=$(peer_deletes)
L ping -q -c 2000 -i 0.01 -W 2 -I $IB_IN_L $IB_IN_S >"$IB_DIR/ping.log" 2>&1 &
ping_pid=$!
sleep 1.5
r=0
for i in $(seq 1 $REKEYS); do
	ib_swanctl --rekey --child netr >/dev/null 2>&1 || r=1
	done_rekey() { [ "$(peer_deletes)" -ge $((del_before + i)) ]; }
	ib_wait 10 done_rekey || { r=1; ktap_diag "rekey $i did not complete"; }
	sleep 1.5
done
wait $ping_pid
out=$(cat "$IB_DIR/ping.log")
tx=$(printf '%s' "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
rx=$(printf '%s' "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
rtt=$(printf '%s' "$out" | sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
lost=$((${tx:-0} - ${rx:-0}))
delayed=$(netem_pkts)
ktap_diag "rekeys: $(($(peer_deletes) - del_before))/$REKEYS; ping: ${tx:-?} sent, ${rx:-?} received, $lost lost, rtt avg ${rtt:-?} ms; IKE packets delayed: ${delayed:-0}"
[ -n "$tx" ] && [ "$tx" -gt 0 ] && [ "$lost" -eq 0 ] || r=1
# the delay hit IKE (answers and Delete answers), never ESP
[ "${delayed:-0}" -ge $REKEYS ] || r=1
awk -v a="${rtt:-999}" -v d=$DELAY_MS 'BEGIN { exit !(a < d / 2) }' || r=1
check "$REKEYS rekeys by charon, its answers ${DELAY_MS} ms late, under a 100/s ping: 0 lost" $r

# --- 5: what ntm.ko did ---------------------------------------------------------
settled() { [ "$(dstat num_tunnels)" = 1 ]; }
ib_wait 10 settled
tk=$(($(dstat stats.takeover) - tk_before))
nt=$(dstat num_tunnels)
plain=$(grep -c 'installing it plain' "$IB_DIR/ntmd.log")
ktap_diag "takeovers: $tk, ESP SA pairs left: $nt, successors installed plain: $plain"
r=0
[ "$tk" -ge $REKEYS ] && [ "$nt" = 1 ] && [ "$plain" = 0 ] || r=1
L ping -q -c 3 -W 2 -I $IB_IN_L $IB_IN_S >/dev/null 2>&1 || r=1
check "each new SA pair took over from the old one in ntm.ko; one pair left, traffic flows" $r

ib_swanctl --terminate --ike pskr >/dev/null 2>&1
ktap_finish
