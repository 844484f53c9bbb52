#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_tamper.sh - integrity.  Data messages that B never accepted (captured
# on B's underlay while a netfilter rule kept them from B's socket) are
# altered and sent to B: a flipped ciphertext or tag byte or a changed
# counter fails authentication (drop_auth), an unknown receiver index is
# drop_no_tunnel, another message type is left to ntmd (passed_up).  None of
# them is delivered or advances the replay window: the unaltered originals
# are accepted afterwards.  A message resent as dozens of IPv4 fragments
# is dropped before decryption by the scatterlist bound (drop_malformed)
# and accepted whole afterwards.  Finally a pair with mismatched keys passes
# nothing and counts drop_auth.  Both ciphers.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

CIPHERS="chacha20-poly1305 aes-gcm"
ktap_plan $((1 + 2 * 10))
topo_need_ntm

topo_setup_or_bail
pkt_start "$NS_A"
ktap_ok "setup"

tstat() { num "$(topo_tstat "$1" "$2")"; }
dstat() { num "$(topo_dstat "$1" "$2")"; }
B_rx_dev() { num "$(B cat /sys/class/net/$NTM_DEV/statistics/rx_packets)"; }

block_b() { # keep A's data messages from B's ntm socket (tcpdump still sees them)
	B nft -f - <<-EOF
	table inet ntmtest {
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			udp dport $NTM_PORT ip saddr $UL4_A drop
		}
	}
	EOF
}
unblock_b() { B nft delete table inet ntmtest 2>/dev/null; }

# inject_check DESC MUTATION PICK STAT DELTA: send captured message PICK
# altered by MUTATION; STAT (B's device stats field) must grow by DELTA and
# B must deliver nothing.
inject_check() {
	local desc=$1 mut=$2 pick=$3 stat=$4 delta=$5 s0 s1 r0 r1 d0 d1 out
	s0=$(dstat "$NS_B" "$stat") r0=$(tstat "$NS_B" stats.rx_packets) d0=$(B_rx_dev)
	out=$(pkt inject "$PCAP" vA --pick "$pick" --mutate "$mut") || ktap_diag "inject: $out"
	sleep 0.5
	s1=$(dstat "$NS_B" "$stat") r1=$(tstat "$NS_B" stats.rx_packets) d1=$(B_rx_dev)
	if [ $((s1 - s0)) -eq "$delta" ] && [ "$r1" -eq "$r0" ] && [ "$d1" -eq "$d0" ]; then
		ktap_ok "$desc"
	else
		ktap_diag "$stat $s0 -> $s1 (want +$delta), tunnel rx $r0 -> $r1, ntm0 rx $d0 -> $d1"
		ktap_fail "$desc"
	fi
}

for cipher in $CIPHERS; do
	topo_tunnel_flush >/dev/null 2>&1
	if ! topo_tunnel_pair "$cipher" 4 || ! topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2; then
		for i in $(seq 10); do ktap_fail "$cipher: tunnel setup failed"; done
		continue
	fi
	PCAP=$(topo_tmpdir)/fresh-$cipher.pcap
	block_b || ktap_bail "nft rule failed"
	topo_capture_start "$NS_B" vB "$PCAP" "udp and dst port $NTM_PORT and src host $UL4_A" ||
		ktap_bail "tcpdump did not start"
	# 1000-byte echoes: message 5 is resent in dozens of IPv4 fragments below
	topo_ping "$NS_A" 4 -c 6 -i 0.2 -W 1 -s 1000 >/dev/null 2>&1
	topo_capture_stop
	unblock_b
	n=$(num "$(pkt count "$PCAP" $NTM_PORT)")
	info=$(pkt info "$PCAP" $NTM_PORT)
	ktap_diag "$cipher: captured $n messages B never saw: ${info:0:200}"
	if [ "$n" -ge 6 ]; then
		ktap_ok "$cipher: captured $n unaccepted data messages"
	else
		ktap_fail "$cipher: captured $n unaccepted data messages (want 6)"
	fi

	inject_check "$cipher: flipped ciphertext byte -> drop_auth" cipher 0 stats.drop_auth 1
	inject_check "$cipher: flipped tag byte -> drop_auth" tag 1 stats.drop_auth 1
	inject_check "$cipher: counter changed -> drop_auth" counter=+1000000 2 stats.drop_auth 1
	inject_check "$cipher: unknown receiver index -> drop_no_tunnel" receiver=0x7ffffff3 3 \
		stats.drop_no_tunnel 1
	inject_check "$cipher: other message type -> passed up to ntmd" type=0x10 4 stats.passed_up 1

	# Receive sizes its scatterlist from skb_cow_data() before it can
	# authenticate: a datagram reassembled from many fragments (one
	# frag_list element each) would make it allocate that many entries.
	# Above MAX_SKB_FRAGS + 8 it is a counted drop, before decryption and
	# without touching the replay window: the same message whole is
	# accepted afterwards.
	m0=$(dstat "$NS_B" stats.drop_malformed) r0=$(tstat "$NS_B" stats.rx_packets)
	out=$(pkt inject "$PCAP" vA --pick 5 --fragment 16) || ktap_diag "inject: $out"
	sleep 0.5
	m1=$(dstat "$NS_B" stats.drop_malformed) r1=$(tstat "$NS_B" stats.rx_packets)
	pkt inject "$PCAP" vA --pick 5 >/dev/null
	sleep 0.5
	r2=$(tstat "$NS_B" stats.rx_packets)
	ktap_diag "$cipher: message 5 in 16-byte fragments: drop_malformed $m0 -> $m1, rx $r0 -> $r1; whole: rx -> $r2"
	ktap_result "$cipher: a message in 60+ IPv4 fragments is dropped before decryption (scatterlist bound), then accepted whole" \
		$([ $((m1 - m0)) -eq 1 ] && [ "$r1" -eq "$r0" ] && [ $((r2 - r1)) -eq 1 ] && echo 0 || echo 1)

	# The originals were never accepted: they still are, once each.
	r0=$(tstat "$NS_B" stats.rx_packets) arx0=$(tstat "$NS_A" stats.rx_packets)
	pkt inject "$PCAP" vA --pick 0 >/dev/null
	pkt inject "$PCAP" vA --pick 2 >/dev/null
	pkt inject "$PCAP" vA --pick 3 >/dev/null
	sleep 1
	r1=$(tstat "$NS_B" stats.rx_packets) arx1=$(tstat "$NS_A" stats.rx_packets)
	ktap_diag "originals: B rx $r0 -> $r1, A rx (echo replies) $arx0 -> $arx1"
	ktap_result "$cipher: unaltered originals accepted afterwards (tampering advanced nothing)" \
		$([ $((r1 - r0)) -eq 3 ] && echo 0 || echo 1)
	ktap_result "$cipher: B answered the accepted echo requests" \
		$([ $((arx1 - arx0)) -ge 3 ] && echo 0 || echo 1)

	# mismatched keys
	topo_tunnel_flush >/dev/null 2>&1
	a0=$(dstat "$NS_B" stats.drop_auth)
	if topo_tunnel_pair "$cipher" 4 "$(topo_hex 32)" "$(topo_hex 32)"; then
		if topo_ping "$NS_A" 4 -c 3 -i 0.3 -W 1 >/dev/null 2>&1; then
			pr=1
		else
			pr=0
		fi
		a1=$(dstat "$NS_B" stats.drop_auth) r=$(tstat "$NS_B" stats.rx_packets)
		ktap_diag "mismatched keys: B drop_auth $a0 -> $a1, B rx $r"
		ktap_result "$cipher: mismatched keys: nothing delivered, drop_auth counts every message" \
			$([ $pr = 0 ] && [ $((a1 - a0)) -ge 3 ] && [ "$r" -eq 0 ] && echo 0 || echo 1)
	else
		ktap_fail "$cipher: mismatched keys: tunnel setup failed"
	fi
done

ktap_finish
