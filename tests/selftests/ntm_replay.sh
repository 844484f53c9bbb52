#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_replay.sh - anti-replay.  Data messages captured on the underlay and
# sent again are dropped (drop_replay) and never delivered twice; then, with
# messages sealed by the test itself (it knows the keys), the window: a
# fresh counter is accepted, an older unseen one inside the window too, the
# same counter twice is not, and one left of the window is not.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 11
topo_need_ntm

topo_setup_or_bail
CIPHER=chacha20-poly1305
topo_tunnel_pair $CIPHER 4 || ktap_bail "tunnel setup failed"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 || ktap_bail "no ping through the tunnel"
pkt_start "$NS_A"
ktap_ok "setup: tunnel A<->B ($CIPHER, outer IPv4) passes traffic"

tstat() { num "$(topo_tstat "$1" "$2")"; }
B_rx_dev() { num "$(B cat /sys/class/net/$NTM_DEV/statistics/rx_packets)"; }

# --- capture and replay -----------------------------------------------------
PCAP=$(topo_tmpdir)/a2b.pcap
topo_capture_start "$NS_B" vB "$PCAP" "udp and dst port $NTM_PORT and src host $UL4_A" ||
	ktap_bail "tcpdump did not start"
topo_ping "$NS_A" 4 -c 5 -i 0.2 -W 2 >/dev/null
topo_ping "$NS_A" 6 -c 3 -i 0.2 -W 2 >/dev/null
topo_capture_stop
n=$(num "$(pkt count "$PCAP" $NTM_PORT)")
info=$(pkt info "$PCAP" $NTM_PORT)
ktap_diag "captured $n data messages A->B (index counter length): ${info:0:300}"
if [ "$n" -ge 6 ]; then
	ktap_ok "captured $n data messages on the underlay"
else
	ktap_fail "captured $n data messages on the underlay (want >= 6 of 8 sent)"
fi

rp0=$(tstat "$NS_B" stats.drop_replay) rx0=$(tstat "$NS_B" stats.rx_packets)
dev0=$(B_rx_dev) arx0=$(tstat "$NS_A" stats.rx_packets)
out=$(pkt inject "$PCAP" vA) || ktap_diag "inject: $out"
sleep 1
rp1=$(tstat "$NS_B" stats.drop_replay) rx1=$(tstat "$NS_B" stats.rx_packets)
dev1=$(B_rx_dev) arx1=$(tstat "$NS_A" stats.rx_packets)
ktap_diag "after replaying $n: drop_replay $rp0 -> $rp1, B rx $rx0 -> $rx1, B ntm0 rx $dev0 -> $dev1, A rx $arx0 -> $arx1"
ktap_result "every replayed message counted in drop_replay" $([ $((rp1 - rp0)) -eq "$n" ] && echo 0 || echo 1)
ktap_result "replayed messages not delivered (tunnel and ntm0 rx unchanged)" \
	$([ "$rx1" -eq "$rx0" ] && [ "$dev1" -eq "$dev0" ] && echo 0 || echo 1)
ktap_result "no echo replies for replayed requests (A rx unchanged)" \
	$([ "$arx1" -eq "$arx0" ] && echo 0 || echo 1)

# Twice more, all at once: still all dropped.
pkt inject "$PCAP" vA >/dev/null
pkt inject "$PCAP" vA >/dev/null
sleep 1
rp2=$(tstat "$NS_B" stats.drop_replay) rx2=$(tstat "$NS_B" stats.rx_packets)
ktap_result "repeated replays all dropped (drop_replay +$((rp2 - rp1)) of $((2 * n)))" \
	$([ $((rp2 - rp1)) -eq $((2 * n)) ] && [ "$rx2" -eq "$rx1" ] && echo 0 || echo 1)

if topo_ping "$NS_A" 4 -c 2 -W 2 >/dev/null; then
	ktap_ok "tunnel still works after the replays"
else
	ktap_fail "tunnel still works after the replays"
fi

# --- the window, with messages the test seals itself ------------------------
# A message "from A" to B: receiver B's index, A's tx salt, the shared key.
craft() {
	pkt craft --src $UL4_A --dst $UL4_B --sport $NTM_PORT --dport $NTM_PORT \
		--cipher $CIPHER --key "$TUN_KEY" --salt "$TUN_SALT_AB" --receiver $IDX_B \
		--inner-src $VIP4_A --inner-dst $VIP4_B "$@"
}
if ! "$PY" -c 'import cryptography' 2>/dev/null; then
	ktap_skip_rest "python3-cryptography missing"
	ktap_finish
fi
base=$(( $(tstat "$NS_A" tx_counter) + 10000 ))
rx0=$(tstat "$NS_B" stats.rx_packets) rp0=$(tstat "$NS_B" stats.drop_replay)
craft --counter "$base" >/dev/null
sleep 0.5
rx1=$(tstat "$NS_B" stats.rx_packets)
ktap_result "a message sealed by the test with a fresh counter is accepted (wire format as specified)" \
	$([ $((rx1 - rx0)) -eq 1 ] && echo 0 || echo 1)
craft --counter $((base - 100)) >/dev/null
sleep 0.5
rx2=$(tstat "$NS_B" stats.rx_packets)
ktap_result "an older unseen counter inside the window is accepted" \
	$([ $((rx2 - rx1)) -eq 1 ] && echo 0 || echo 1)
craft --counter "$base,$((base - 100))" >/dev/null
sleep 0.5
rx3=$(tstat "$NS_B" stats.rx_packets) rp3=$(tstat "$NS_B" stats.drop_replay)
ktap_result "the same counters again are replays" \
	$([ "$rx3" -eq "$rx2" ] && [ $((rp3 - rp0)) -eq 2 ] && echo 0 || echo 1)
craft --counter $((base - 4096 - 10)) >/dev/null
sleep 0.5
rx4=$(tstat "$NS_B" stats.rx_packets) rp4=$(tstat "$NS_B" stats.drop_replay)
ktap_diag "window: rx $rx0 $rx1 $rx2 $rx3 $rx4, drop_replay $rp0 $rp3 $rp4, rx_counter $(tstat "$NS_B" rx_counter)"
ktap_result "a counter left of the $((4096))-message window is dropped as replay" \
	$([ "$rx4" -eq "$rx3" ] && [ $((rp4 - rp3)) -eq 1 ] && echo 0 || echo 1)

ktap_finish
