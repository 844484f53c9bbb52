#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_basic.sh - traffic through an ntm tunnel between two namespaces:
# IPv4/IPv6 inner over IPv4/IPv6 outer, aes-gcm and chacha20-poly1305
# (8 combinations, ping and a short iperf3 TCP run each), tunnel counters,
# device MTU, large and fragmented pings, DF pings above the MTU; the outer
# header (decisions.rst D57): scrubbed on IPv6 too (the outer flow has a
# conntrack entry of its own), ECN copied out and merged back in (RFC
# 6040), DSCP 0; the cached outer route (D90) follows a route change and a
# device fwmark change at once, on both outer families.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

CIPHERS="aes-gcm chacha20-poly1305"
OUTERS="4 6"
# setup, MTU, then per (cipher, outer): 2 inner families x (ping, iperf3),
# counters, large pings, DF pings
ktap_plan $((2 + 2 * 2 * 7 + 3 + 2))
topo_need_ntm

topo_setup_or_bail
topo_iperf_server "$NS_B" || ktap_bail "iperf3 server did not start"
ktap_ok "setup: two hosts, ntmd in each, ntm0 up with inner addresses"

# Outer IPv4 costs 20 + 8 + 16 (header) + 16 (tag) = 60 bytes, IPv6 80: the
# device MTU must leave room for at least the IPv4 overhead on a 1500 underlay.
MTU=$(A cat /sys/class/net/$NTM_DEV/mtu)
MTU_B=$(B cat /sys/class/net/$NTM_DEV/mtu)
ktap_diag "ntm0 MTU: A $MTU, B $MTU_B (underlay 1500; 1440 fits IPv4 outer, 1420 fits IPv6 outer)"
if [ "$MTU" -ge 1280 ] && [ "$MTU" -le 1440 ] && [ "$MTU" = "$MTU_B" ]; then
	ktap_ok "device MTU $MTU is within 1280..1500-60"
else
	ktap_fail "device MTU $MTU (B: $MTU_B) is not within 1280..1440"
fi

tstat() { num "$(topo_tstat "$1" "$2")"; }

for cipher in $CIPHERS; do
	for outer in $OUTERS; do
		tag="$cipher outer IPv$outer"
		topo_tunnel_flush >/dev/null 2>&1
		if ! topo_tunnel_pair "$cipher" "$outer"; then
			for i in $(seq 7); do ktap_fail "$tag: tunnel setup failed"; done
			continue
		fi
		for inner in 4 6; do
			t="$tag inner IPv$inner"
			# The first packets may wait for neighbour resolution on the underlay.
			if topo_wait 10 topo_ping "$NS_A" "$inner" -c1 -W2 &&
				out=$(topo_ping "$NS_A" "$inner" -c 5 -i 0.2 -W 2 2>&1); then
				ktap_ok "$t: ping"
			else
				ktap_diag "$out"
				ktap_fail "$t: ping"
			fi
			f=$(topo_tmpdir)/iperf-$cipher-$outer-$inner.json
			if [ "$inner" = 6 ]; then dst=$VIP6_B; else dst=$VIP4_B; fi
			topo_iperf "$NS_A" "$dst" "$f" -t 2
			bytes=$(iperf_bytes "$f")
			if [ "$bytes" -gt 0 ]; then
				ktap_ok "$t: iperf3 TCP ($bytes bytes received)"
			else
				ktap_diag_file "$f" 15
				ktap_fail "$t: iperf3 TCP"
			fi
		done

		# counters: both directions moved, in bytes and packets
		atx=$(tstat "$NS_A" stats.tx_packets) arx=$(tstat "$NS_A" stats.rx_packets)
		btx=$(tstat "$NS_B" stats.tx_packets) brx=$(tstat "$NS_B" stats.rx_packets)
		actr=$(tstat "$NS_A" tx_counter) brctr=$(tstat "$NS_B" rx_counter)
		abytes=$(tstat "$NS_A" stats.tx_bytes)
		ktap_diag "A tx $atx rx $arx tx_bytes $abytes tx_counter $actr; B tx $btx rx $brx rx_counter $brctr"
		if [ "$atx" -gt 0 ] && [ "$arx" -gt 0 ] && [ "$btx" -gt 0 ] && [ "$brx" -gt 0 ] &&
			[ "$abytes" -gt 0 ] && [ "$actr" -gt 0 ] && [ "$brctr" -gt 0 ] &&
			[ "$brx" -le "$atx" ]; then
			ktap_ok "$tag: tunnel counters move on both sides"
		else
			ktap_diag "$(nctl "$NS_A" -j tunnel show $NTM_DEV 2>&1 | head -c 1500)"
			ktap_fail "$tag: tunnel counters move on both sides"
		fi

		# large pings: 1400 fits, 3000 is fragmented by the inner IP layer
		if topo_ping "$NS_A" 4 -c 2 -W 3 -s 1400 >/dev/null 2>&1 &&
			topo_ping "$NS_A" 4 -c 2 -W 3 -s 3000 >/dev/null 2>&1 &&
			topo_ping "$NS_A" 6 -c 2 -W 3 -s 1400 >/dev/null 2>&1 &&
			topo_ping "$NS_A" 6 -c 2 -W 3 -s 3000 >/dev/null 2>&1; then
			ktap_ok "$tag: pings of 1400 and 3000 bytes (fragmented inside)"
		else
			ktap_fail "$tag: pings of 1400 and 3000 bytes (fragmented inside)"
		fi

		# DF: exactly the MTU passes (the outer packet must fit or be handled),
		# one byte more is refused locally with "message too long"
		r=0
		out=$(topo_ping "$NS_A" 4 -c 1 -W 3 -M do -s $((MTU - 28)) 2>&1) ||
			{ r=1; ktap_diag "IPv4 DF ping of MTU $MTU failed: $out"; }
		out=$(topo_ping "$NS_A" 6 -c 1 -W 3 -M do -s $((MTU - 48)) 2>&1) ||
			{ r=1; ktap_diag "IPv6 ping of MTU $MTU failed: $out"; }
		out=$(topo_ping "$NS_A" 4 -c 1 -W 2 -M do -s $((MTU - 27)) 2>&1)
		if ! printf '%s' "$out" | grep -qi "too long\|frag needed\|mtu"; then
			r=1
			ktap_diag "IPv4 DF ping above MTU: $out"
		fi
		out=$(topo_ping "$NS_A" 6 -c 1 -W 2 -M do -s $((MTU - 47)) 2>&1)
		if ! printf '%s' "$out" | grep -qi "too long\|too big\|mtu"; then
			r=1
			ktap_diag "IPv6 ping above MTU: $out"
		fi
		ktap_result "$tag: DF ping of exactly the MTU passes, MTU+1 gets message too long" $r
	done
done

# --- the outer header ---------------------------------------------------------
# cnt NS NAME: packets of the named nftables counter in table inet ntmout
cnt() { num "$(in_ns "$1" nft list counter inet ntmout "$2" 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p')"; }
A nft -f - <<EOF
table inet ntmout {
	counter u6 { }
	counter u6ct { }
	counter ect4 { }
	counter ect6 { }
	chain out {
		type filter hook output priority 0; policy accept;
		meta nfproto ipv6 udp dport $NTM_PORT counter name "u6"
		meta nfproto ipv6 udp dport $NTM_PORT ct protocol udp counter name "u6ct"
		udp dport $NTM_PORT ip dscp 0 ip ecn ect0 counter name "ect4"
		udp dport $NTM_PORT ip6 dscp 0 ip6 ecn ect0 counter name "ect6"
	}
}
EOF
topo_tunnel_flush >/dev/null 2>&1
topo_tunnel_pair chacha20-poly1305 6 || ktap_diag "outer IPv6 tunnel setup failed"
# inner TOS 0xba: DSCP EF (46) and ECT(0)
topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 2 -Q 0xba >/dev/null 2>&1
u6=$(cnt "$NS_A" u6) u6ct=$(cnt "$NS_A" u6ct) e6=$(cnt "$NS_A" ect6)
ktap_diag "outer IPv6: $u6 datagrams, $u6ct of them in a UDP conntrack entry, $e6 with ECT(0) and DSCP 0"
ktap_result "outer IPv6 is scrubbed: every outer datagram has its own UDP conntrack entry" \
	"$([ "$u6" -ge 3 ] && [ "$u6ct" = "$u6" ] && echo 0 || echo 1)"
topo_tunnel_flush >/dev/null 2>&1
topo_tunnel_pair chacha20-poly1305 4 || ktap_diag "outer IPv4 tunnel setup failed"
topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 2 -Q 0xba >/dev/null 2>&1
e4=$(cnt "$NS_A" ect4)
ktap_diag "outer IPv4: $e4 datagrams with ECT(0) and DSCP 0 for inner DSCP 46 + ECT(0)"
ktap_result "ECN copied to the outer header, DSCP not (IPv4 and IPv6 outer)" \
	"$([ "$e4" -ge 3 ] && [ "$e6" -ge 3 ] && echo 0 || echo 1)"
# CE set on the outer header on its way into B
B nft -f - <<EOF
table inet ntmout {
	counter ce_in { }
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		udp dport $NTM_PORT ip ecn set ce
		iifname "$NTM_DEV" ip ecn ce counter name "ce_in"
	}
}
EOF
d0=$(num "$(topo_dstat "$NS_B" drop_ecn)") e0=$(num "$(topo_tstat "$NS_B" stats.drop_ecn)")
topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 2 -Q 0x02 >"$(topo_tmpdir)/ecn-ect.ping" 2>&1
r1=$?
topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 1 >"$(topo_tmpdir)/ecn-notect.ping" 2>&1
r2=$?
ce=$(cnt "$NS_B" ce_in) d1=$(num "$(topo_dstat "$NS_B" drop_ecn)") e1=$(num "$(topo_tstat "$NS_B" stats.drop_ecn)")
ktap_diag "outer CE: ECT(0) pings rc $r1, $ce arrived with CE inside; not-ECT pings rc $r2, drop_ecn $d0 -> $d1 (tunnel $e0 -> $e1)"
ktap_result "outer CE becomes inner CE; CE for a not-ECN-capable inner packet is a counted drop (RFC 6040), on the device and the tunnel" \
	"$([ $r1 = 0 ] && [ "$ce" -ge 3 ] && [ $r2 != 0 ] && [ $((d1 - d0)) -ge 3 ] && [ $((e1 - e0)) -ge 3 ] && echo 0 || echo 1)"
A nft delete table inet ntmout 2>/dev/null
B nft delete table inet ntmout 2>/dev/null

# --- the cached outer route follows route and fwmark changes (D90) ---------
# One ping A->B through the tunnel from each CPU after each change (the
# cache is per CPU): the route cache must not keep a route the change made
# wrong, nor a dead one after it is undone.  "up": every ping answered,
# "down": none, "mixed": some.
p1() {
	local c n=0 ok=0
	for c in $(seq 0 $(($(nproc) - 1))); do
		n=$((n + 1))
		in_ns "$NS_A" taskset -c "$c" ping -4 -n -c 1 -W 2 "$(topo_peer4 "$NS_A")" >/dev/null 2>&1 &&
			ok=$((ok + 1))
	done
	if [ $ok = $n ]; then echo up; elif [ $ok = 0 ]; then echo down; else echo mixed; fi
}
for outer in 4 6; do
	if [ $outer = 4 ]; then ul=$UL4_B/32; else ul=$UL6_B/128; fi
	topo_tunnel_flush >/dev/null 2>&1
	topo_tunnel_pair chacha20-poly1305 $outer || ktap_diag "outer IPv$outer tunnel setup failed"
	e0=$(num "$(topo_dstat "$NS_A" drop_tx_error)")
	s1=$(p1)
	A ip -$outer route add blackhole $ul
	s2=$(p1)
	A ip -$outer route del blackhole $ul
	s3=$(p1)
	# rules and routes first: a rule change flushes every cached route
	A ip -$outer rule add fwmark 0x5a lookup 90
	A ip -$outer route add blackhole $ul table 90
	s3b=$(p1)
	nctl "$NS_A" device set $NTM_DEV --fwmark 0x5a
	s4=$(p1)
	nctl "$NS_A" device set $NTM_DEV --fwmark 0
	s5=$(p1)
	A ip -$outer rule del fwmark 0x5a lookup 90
	A ip -$outer route flush table 90 2>/dev/null
	e1=$(num "$(topo_dstat "$NS_A" drop_tx_error)")
	got="$s1 $s2 $s3 $s3b $s4 $s5"
	ktap_diag "outer IPv$outer: cached route $s1, blackhole route $s2, removed $s3;" \
		"a rule for fwmark 0x5a into a blackhole table $s3b, the device's fwmark" \
		"set to 0x5a $s4, back to 0 $s5; drop_tx_error $e0 -> $e1"
	ktap_result "outer IPv$outer: a route change and a fwmark change take effect at the next packet" \
		"$([ "$got" = "up down up up down up" ] && [ "$e1" -gt "$e0" ] && echo 0 || echo 1)"
done

ktap_finish

