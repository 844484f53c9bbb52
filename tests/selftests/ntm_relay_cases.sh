#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_relay_cases.sh - the relay cases ntm_relay_nat.sh does not cover
# (Documentation/protocol/relay.rst), with real daemons and real nftables
# NATs in network namespaces:
#
#   1. a node behind a home NAT behind a carrier-grade NAT (two masquerade
#      layers, the middle network in 100.64.0.0/10) and a node behind an
#      ordinary NAT: relayed first, then direct through both layers;
#   2. an IPv4-only node and an IPv6-only node through a dual-stack relay
#      (an IPv4 leg joined to an IPv6 leg): ping and TCP over both inner
#      families, always relayed;
#   3. the relayed IPv4 node moves to another NAT under a ping: the relay's
#      leg follows its authenticated Relay Bind, the ping resumes;
#   4. spoofed data datagrams at the relay (a leg's receiver index from a
#      wrong source) are dropped and counted in the kernel, and a captured
#      authentic Relay Bind replayed from other addresses moves nothing and
#      is counted by the relay's ntmd.
#   5. B's default route replaced with no address change: a network
#      change, so B's Relay Bind goes at once, not at the next 10 s rebind.
#
# Map (lib/sigbed.sh and lib/relaybed.sh, dual-stack public network):
#
#   public 192.0.2.0/24 and 2001:db8::/64
#     AS .10/::10, DC .20/::20, DNS .53/::53, RS1 .30/::30 (dual-stack relay)
#     G   2001:db8::7 only   g.ntm.test, IPv6-only
#     R   192.0.2.254   NAT: B 10.0.0.2 (IPv4-only)
#     R2  192.0.2.252   NAT: D 10.2.0.2; B moves here as 10.2.0.9 (case 3)
#     CGN 192.0.2.250   carrier-grade NAT: 100.64.0.0/24 inside
#       HR 100.64.0.2   home NAT: H 192.168.1.2
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"
. "$HERE/lib/relaybed.sh"

ktap_plan 19

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

num() { case $1 in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac; }

D=$SB_DOMAIN
SB_PUB6=2001:db8
RS1_6=$SB_PUB6::30
DC6=$SB_PUB6::20
DNS6=$SB_PUB6::53
G6=$SB_PUB6::7
CGN4=192.0.2.250
HR4=100.64.0.2
H4=192.168.1.2
B_NEW4=10.2.0.9
# lost pings allowed while B moves (case 3): 0.2 s apart, so 25 are 5 s
MOVE_LOSS_MAX=${NTM_MOVE_LOSS_MAX:-25}
# seconds the CGN node may take to go direct after the tunnel exists
CGN_DIRECT_MAX=30

# --- testbed helpers --------------------------------------------------------------------

# relaycase NAME ARGS...: lib/relaycase.py in NAME's namespace
relaycase() {
	local n=$1
	shift
	sigbed_in "$n" "$PY" "$HERE/lib/relaycase.py" "$@"
}

# add_v6only NAME ADDR6: a host on the public bridge with only an IPv6 address
add_v6only() {
	local n=$1 ns=sb${1^}$SB_ID
	sigbed__ns_add "$ns" || return 1
	SB_NS[$n]=$ns
	SB_ADDR[$n]=$2
	ip link add pub0 netns "$ns" type veth peer name "p$n" netns "$SB_NS_SW" || return 1
	ip netns exec "$SB_NS_SW" ip link set "p$n" master br0 up || return 1
	ip netns exec "$ns" ip -6 addr add "$2/64" dev pub0 nodad || return 1
	ip netns exec "$ns" ip link set pub0 up
}

# home_nat NAME: a NAT router behind the CGN (its WAN is lan0, in
# 100.64.0.0/24) with the LAN 192.168.1.0/24; masquerade and the firewall
# every home router has (lib/relaybed.sh, relaybed_firewall)
home_nat() {
	sigbed_in "$1" ip link add lanbr type bridge mcast_snooping 0 || return 1
	sigbed_in "$1" ip addr add 192.168.1.1/24 dev lanbr
	sigbed_in "$1" ip link set lanbr up
	sigbed_in "$1" sysctl -qw net.ipv4.ip_forward=1
	sigbed_in "$1" nft -f - <<-'EOF2'
	table ip home_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "lan0" ip saddr 192.168.1.0/24 masquerade
		}
	}
	table inet home_fw {
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "lan0" meta l4proto udp ct state new drop
		}
	}
	EOF2
}

# second_uplink: B gets lan1, a port of R2's LAN, down until B moves (case 3)
second_uplink() {
	ip link add lan1 netns "${SB_NS[b]}" type veth peer name lbmove netns "${SB_NS[r2]}" || return 1
	sigbed_in r2 ip link set lbmove master lanbr up
}

cases_setup() {
	relaybed_setup || return 1
	# the AAAA records an IPv6-only node needs (the AS's name; G names the DC by address)
	relaybed_dns as $SB_PUB6::10 AAAA || return 1
	relaybed_nat cgn $CGN4 100.64.0 || return 1
	relaybed_firewall cgn || return 1
	relaybed_add_private cgn hr $HR4 || return 1
	home_nat hr || return 1
	relaybed_add_private hr h $H4 || return 1
	add_v6only g "$G6" || return 1
	second_uplink || return 1
	sigbed_wait 15 sigbed_in h ping -c1 -W1 $RB_RS1 || { sigbed_log "H cannot reach RS1 through two NATs"; return 1; }
	sigbed_wait 15 sigbed_in g ping -6 -c1 -W1 "$RS1_6" || { sigbed_log "G cannot reach RS1 over IPv6"; return 1; }
	sigbed_wait 15 sigbed_in g kdig +time=1 +retry=0 @"$DNS6" AAAA as.infra.test +short ||
		{ sigbed_log "as.infra.test AAAA does not resolve over IPv6"; return 1; }
}

# --- status helpers -----------------------------------------------------------------------

# peer NODE PEER JQ: a field of NODE's peer entry for PEER.ntm.test
peer() { relaybed_peer "$1" "$2.$D" "$3"; }
path_is() { [ "$(peer "$1" "$2" '.path.path')" = "$3" ]; }
# rs_dev FIELD: a counter of RS1's ntm device (kernel)
rs_dev() {
	num "$(sigbed_in rs1 "$NTMCTL" -j show $RB_RS_DEV 2>/dev/null |
		jq -r "[.. | objects | .$1? // empty] | first // 0" 2>/dev/null)"
}
# rs_sessions: RS1's kernel relay sessions, one JSON object per line
rs_sessions() { sigbed_in rs1 "$NTMCTL" -j relay show $RB_RS_DEV 2>/dev/null | jq -c '.[]' 2>/dev/null; }
# rs_session_of INDEX: the kernel session that has a leg with receiver INDEX
rs_session_of() { rs_sessions | jq -c --argjson i "$1" 'select(.legs[0].index == $i or .legs[1].index == $i)' | tail -n 1; }
# rs_leg_ep INDEX: the endpoint of the leg whose receiver index is INDEX
rs_leg_ep() { rs_session_of "$1" | jq -r --argjson i "$1" '.legs[] | select(.index == $i) | .endpoint'; }
# rs_ntmd FILTER: a field of RS1's ntmd status (.rs)
rs_ntmd() { num "$(sigbed_jq rs1 ".rs.$1 // 0")"; }
# capture NAME FILE FILTER: tcpdump on NAME's pub0 into FILE, packet by
# packet (-U); CAP is tcpdump's own pid (ip netns exec execs it)
capture() {
	ip netns exec "${SB_NS[$1]}" tcpdump -n -U -s 0 -i pub0 -w "$2" "$3" 2>"$2.err" &
	CAP=$!
	SB_BGPIDS="$CAP $SB_BGPIDS"
	sigbed_wait 30 grep -q "listening on" "$2.err"
}
capture_stop() {
	sleep 0.5
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# pcap_count FILE [FILTER]: packets in FILE (matching FILTER)
pcap_count() { tcpdump -n -r "$1" ${2:+"$2"} 2>/dev/null | wc -l; }
# log_s NAME PATTERN: the time of day (s) of the first line of NAME's log with PATTERN
log_s() {
	grep -m1 -- "$2" "$(sigbed_logfile "$1")" | awk '{ split($2, t, ":"); printf "%.3f", t[1] * 3600 + t[2] * 60 + t[3] }'
}
# last_log_s NODE PATTERN: like log_s, for the last matching line
last_log_s() {
	grep -- "$2" "$(sigbed_logfile "$1")" | tail -n 1 | awk '{ split($2, t, ":"); printf "%.3f", t[1] * 3600 + t[2] * 60 + t[3] }'
}
ping_recv() { sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1"; }

T0=$EPOCHSECONDS
# --- 1: testbed ---------------------------------------------------------------------
cases_setup || ktap_bail "relay cases testbed setup failed"
ktap_ok "testbed: dual-stack public network, RS1 dual-stack, B behind R, D behind R2, H behind a home NAT behind a CGN, G IPv6-only ($((EPOCHSECONDS - T0)) s)"

# --- 2: servers --------------------------------------------------------------------------
sigbed_write_as_conf
# the AS also listens on IPv6, for G
sed -i "s|^listen = \[\"$SB_AS4:$SB_AS_PORT\"\]|listen = [\"$SB_AS4:$SB_AS_PORT\", \"[$SB_PUB6::10]:$SB_AS_PORT\"]|" "$(sigbed_conf as)"
sigbed_write_dc_conf "relays = [\"rs1.infra.test:$RB_RS_TLS_PORT\"]"
relaybed_write_rs_conf rs1 $RB_RS1 "$RS1_6"
# kernel sessions idle for 20 s are removed (the H <-> D fallback below)
sed -i 's/^session_idle = .*/session_idle = 20/' "$(sigbed_conf rs1)"
SERVERS=0
sigbed_start rs1 && sigbed_start dc && sigbed_start as &&
	relaybed_wait_relays 30 1 &&
	SERVERS=1
ktap_diag "dc relays: $(sigbed_jq dc '.dc.relays' | jq -c . 2>/dev/null)"
check "AS, DC and the dual-stack relay RS1 start; the DC reaches RS1" $((1 - SERVERS)) rs1 dc as

# --- 3: nodes ------------------------------------------------------------------------------
NODES=0
if needs "nodes B, D, H (NATed, IPv4) and G (IPv6 only, public) register" SERVERS; then
	rc=0
	for n in b d h g; do
		sigbed_password $n "pw $n $(sigbed_hex 4)"
		sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile $n)" >/dev/null 2>&1 || rc=1
		if [ $n = g ]; then
			SB_DNS_EP="[$DNS6]:53" sigbed_write_node_conf $n "$n@$D" "$(sigbed_pwfile $n)" password \
				"dc = \"[$DC6]:$SB_PORT\""
		else
			sigbed_write_node_conf $n "$n@$D" "$(sigbed_pwfile $n)"
		fi
	done
	for n in b d h g; do sigbed_start_bg $n || rc=1; done
	for n in b d h g; do
		sigbed_wait_ready $n || rc=1
		eval "VIP4_${n^^}=\$(sigbed_node $n vip4)"
		eval "VIP6_${n^^}=\$(sigbed_node $n vip6)"
		ktap_diag "$n: $(sigbed_node $n vip4) $(sigbed_node $n vip6) seen from $(sigbed_node $n external_ep), nated $(sigbed_node $n nated)"
	done
	for n in b d h; do [ "$(sigbed_node $n nated)" = true ] || rc=1; done
	[ "$(sigbed_node g nated)" = false ] || rc=1
	case $(sigbed_node g external_ep) in "[$G6]:"*) ;; *) rc=1 ;; esac
	case $(sigbed_node h external_ep) in "$CGN4:"*) ;; *) rc=1 ;; esac
	[ $rc -eq 0 ] && NODES=1
	check "nodes B, D, H (NATed, IPv4; H seen from the CGN's address) and G (IPv6 only, public) register" $rc b d h g dc
fi

# --- 4-7: case 1, double NAT / carrier-grade NAT ---------------------------------------------
HD=0
if needs "H (home NAT behind a CGN) resolves d.ntm.test: the DC relays first" NODES; then
	t_res=$EPOCHSECONDS
	got=$(sigbed_getent h ahostsv4 d.$D 2>&1)
	t_got=$((EPOCHSECONDS - t_res))
	relay=$(peer h d '.path.relay')
	first=$(peer h d '.path.path')
	ktap_diag "getent on H: $got (D's $VIP4_D) in $t_got s; path $first via $relay; dc relayed $(sigbed_jq dc .dc.directions_relayed)"
	[ "$got" = "$VIP4_D" ] && case $relay in "$RB_RS1":*) true ;; *) false ;; esac && HD=1
	check "H (home NAT behind a CGN) resolves d.ntm.test: the DC relays first (via $relay)" $((1 - HD)) h d dc rs1
fi
HD_DIRECT=0
if needs "H and D go direct through both NAT layers of H and D's NAT" HD; then
	sigbed_wait 20 sigbed_in h ping -c1 -W1 "$VIP4_D"
	sigbed_wait $CGN_DIRECT_MAX sh -c "[ \"\$(ip netns exec ${SB_NS[h]} $NTMCTL status -j --socket $(sigbed_sock h) | jq -r '.node.peers[] | select(.fqdn == \"d.$D\") | .path.path')\" = direct ]"
	t_direct=$((EPOCHSECONDS - t_res))
	sigbed_wait 10 sh -c "[ \"\$(ip netns exec ${SB_NS[d]} $NTMCTL status -j --socket $(sigbed_sock d) | jq -r '.node.peers[] | select(.fqdn == \"h.$D\") | .path.path')\" = direct ]"
	dir_h=$(peer h d '.path.direct')
	dir_d=$(peer d h '.path.direct')
	map_h=$(sigbed_node h nat_mapping)
	# from H's log: the tunnel through the relay, then direct
	t_relay=$(log_s h "tunnel to d.$D (.*) via $RB_RS1")
	t_dir=$(log_s h "tunnel to d.$D is direct now")
	T_CGN=$(awk -v a="$t_relay" -v b="$t_dir" 'BEGIN { if (a != "" && b != "") printf "%.1f", b - a; else print "?" }')
	ktap_diag "H's log: relayed tunnel up, direct $T_CGN s later"
	ktap_diag "direct $t_direct s after the resolution: H -> $dir_h, D -> $dir_d; H's NAT mapping $map_h; H's path $(peer h d '.path' | jq -c . 2>/dev/null)"
	case $dir_h in "$RB_R2":*) case $dir_d in "$CGN4":*) HD_DIRECT=1 ;; esac ;; esac
	# relayed first: the path moved from the relay to the direct endpoint
	[ "$map_h" = endpoint-independent ] && [ "$(num "$(peer h d '.path.to_direct')")" -ge 1 ] || HD_DIRECT=0
	check "H and D go from the relay to direct through both NAT layers, $T_CGN s after the relayed tunnel was up (H -> $dir_h, D -> $dir_d; mapping $map_h)" \
		$((1 - HD_DIRECT)) h d
fi
if needs "direct through the CGN: ping H <-> D passes no relay" HD_DIRECT; then
	r0=$(rs_dev relay_rx_packets)
	out=$(sigbed_in h ping -c 10 -i 0.2 -W 2 "$VIP4_D" 2>&1)
	prc=$?
	out2=$(sigbed_in d ping -c 5 -i 0.2 -W 2 "$VIP4_H" 2>&1)
	prc2=$?
	r1=$(rs_dev relay_rx_packets)
	ktap_diag "H -> D: $(printf '%s' "$out" | tail -n 2 | head -n 1); D -> H: $(printf '%s' "$out2" | tail -n 2 | head -n 1); relay forwarded $((r1 - r0))"
	ok=1
	[ $prc -eq 0 ] && [ $prc2 -eq 0 ] && [ $((r1 - r0)) -lt 5 ] && path_is h d direct && ok=0
	check "direct through the CGN: ping H <-> D, the relay forwards $((r1 - r0)) datagrams" $ok h d
fi

# block_hd on|off: R2 drops UDP from the CGN's address (the direct path
# between H and D), never D's own traffic to the relay
block_hd() {
	if [ "$1" = on ]; then
		sigbed_in r2 nft -f - <<-EOF2
		table inet cases_block {
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				ip saddr $CGN4 meta l4proto udp drop
			}
		}
		EOF2
	else
		sigbed_in r2 nft delete table inet cases_block
	fi
}
if needs "H <-> D direct for longer than the relay's idle timeout, then the direct path breaks: back through the relay" HD_DIRECT; then
	# unused while direct, the relay's kernel session is removed for idleness
	sigbed_wait 60 sh -c "[ \$(ip netns exec ${SB_NS[rs1]} $NTMCTL -j show $RB_RS_DEV | jq '[.. | objects | .relay_expired? // empty] | first // 0') -ge 1 ]"
	expired=$(rs_dev relay_expired)
	sigbed_in h ping -n -i 0.2 -W 1 -c 100 "$VIP4_D" >"$SB_DIR/ping-fb.txt" 2>&1 &
	ppid=$!
	sleep 2
	block_hd on
	# the clock of the daemons' log lines (seconds of the day, same VM)
	t_block=$(date +%H:%M:%S.%N | awk '{ split($1, t, ":"); printf "%.3f", t[1] * 3600 + t[2] * 60 + t[3] }')
	sigbed_wait 20 path_is h d relay
	sigbed_wait 10 path_is d h relay
	wait $ppid
	# when each side's ntmd moved the tunnel back (D54: about 2 s; D follows H's probe through the relay)
	fb_h=$(last_log_s h "to d.$D: the direct path broke") fb_d=$(last_log_s d "to h.$D: the direct path broke")
	t_fb=$(awk -v a="$t_block" -v b="$fb_h" 'BEGIN { if (b != "" && b >= a) printf "%.1f", b - a; else print "?" }')
	t_fb_d=$(awk -v a="$t_block" -v b="$fb_d" 'BEGIN { if (b != "" && b >= a) printf "%.1f", b - a; else print "?" }')
	recv=$(num "$(ping_recv "$SB_DIR/ping-fb.txt")")
	ok=1
	# a loaded TCG VM: 4 s for the move, 80 of 100 pings (5 a second: about 2 s lost by design)
	path_is h d relay && path_is d h relay && [ "$recv" -ge 80 ] &&
		awk -v a="$t_fb" -v b="$t_fb_d" 'BEGIN { exit !(a != "?" && b != "?" && a <= 4.0 && b <= 4.0) }' &&
		sigbed_in h ping -c 2 -W 2 "$VIP4_D" >/dev/null 2>&1 && ok=0
	block_hd off
	ktap_diag "RS1: $expired idle removals, $(rs_ntmd sessions_restored) sessions restored by Relay Binds; back on the relay $t_fb s (H) and $t_fb_d s (D) after the block; ping: $(tail -n 2 "$SB_DIR/ping-fb.txt" | head -n 1)"
	check "H <-> D direct for longer than the relay's idle timeout, then the direct path breaks: back through the relay in $t_fb s (H) / $t_fb_d s (D), $recv of 100 pings" \
		$ok h d rs1
fi

# --- 8-11: case 2, IPv4-only node <-> IPv6-only node through a dual-stack relay ------------------
BG=0
if needs "B (IPv4 only) resolves g.ntm.test (IPv6 only): relayed with an IPv4 and an IPv6 leg" NODES; then
	got4=$(sigbed_getent b ahostsv4 g.$D 2>&1)
	got6=$(sigbed_getent b ahostsv6 g.$D 2>&1)
	relay_b=$(peer b g '.path.relay')
	sigbed_wait 20 sigbed_in b ping -c1 -W1 "$VIP4_G"
	relay_g=$(peer g b '.path.relay')
	IDX_B=$(peer b g '.local_index')
	IDX_G=$(peer g b '.local_index')
	sess=$(rs_session_of "$(num "$IDX_B")")
	ktap_diag "B: g is $got4 / $got6; B via $relay_b, G via $relay_g; indexes B $IDX_B G $IDX_G; RS1 session $sess"
	# both legs from the one listing: a second one may come after the session idled out (20 s) under load
	leg_b=$(printf '%s' "$sess" | jq -r --argjson i "$(num "$IDX_B")" '.legs[] | select(.index == $i) | .endpoint' 2>/dev/null)
	leg_g=$(printf '%s' "$sess" | jq -r --argjson i "$(num "$IDX_G")" '.legs[] | select(.index == $i) | .endpoint' 2>/dev/null)
	[ "$got4" = "$VIP4_G" ] && [ "$got6" = "$VIP6_G" ] && [ "$relay_b" = "$RB_RS1:$SB_PORT" ] &&
		[ "$relay_g" = "[$RS1_6]:$SB_PORT" ] &&
		case $leg_b in "$SB_R4":*) true ;; *) false ;; esac &&
		case $leg_g in "[$G6]:"*) true ;; *) false ;; esac && BG=1
	check "B (IPv4 only) resolves g.ntm.test (IPv6 only): relayed, RS1's kernel joins leg $leg_b to leg $leg_g" \
		$((1 - BG)) b g dc rs1
fi
if needs "ping and ping6 B <-> G over both inner families through the mixed relay" BG; then
	rc=0
	r0=$(rs_dev relay_tx_packets)
	for args in "b $VIP4_G" "b $VIP6_G" "g $VIP4_B" "g $VIP6_B"; do
		# shellcheck disable=SC2086
		set -- $args
		out=$(sigbed_in "$1" ping -c 3 -i 0.2 -W 2 "$2" 2>&1) || rc=1
		ktap_diag "$1 -> $2: $(printf '%s' "$out" | tail -n 2 | head -n 1)"
	done
	r1=$(rs_dev relay_tx_packets)
	[ $((r1 - r0)) -ge 24 ] || rc=1
	check "ping and ping6 B <-> G over both inner families through the mixed relay ($((r1 - r0)) forwarded)" $rc b g rs1
fi
# tcp_over FROM TO ADDR: an iperf3 TCP stream (4 s, 2 Mbit/s) from FROM to TO's ADDR
tcp_over() {
	local T=$SB_DIR out irc err bytes
	sigbed_in "$2" iperf3 -s -1 -p 5202 >"$T/iperf3-s-$3.log" 2>&1 &
	SB_BGPIDS="$! $SB_BGPIDS"
	sigbed_wait 10 sh -c "ip netns exec ${SB_NS[$2]} ss -Hltn 'sport = :5202' | grep -q LISTEN"
	sigbed_in "$1" iperf3 -c "$3" -p 5202 -t 4 -b 2M -J >"$T/iperf3-c-$3.json" 2>&1
	irc=$?
	err=$(jq -r '.error // empty' "$T/iperf3-c-$3.json" 2>/dev/null)
	bytes=$(num "$(jq -r '.end.sum_received.bytes // 0' "$T/iperf3-c-$3.json" 2>/dev/null)")
	ktap_diag "TCP $1 -> $2 over $3: exit $irc, $bytes bytes received${err:+, error: $err}"
	[ $irc -eq 0 ] && [ -z "$err" ] && [ "$bytes" -gt 500000 ]
}
if needs "a TCP connection B -> G over the inner IPv4 and one over the inner IPv6 through the mixed relay" BG; then
	ok=0
	tcp_over b g "$VIP4_G" || ok=1
	tcp_over b g "$VIP6_G" || ok=1
	check "a TCP connection B -> G over the inner IPv4 and one over the inner IPv6 through the mixed relay" $ok b g rs1
fi
if needs "B <-> G stay relayed (no common family: no probing)" BG; then
	ok=1
	pb=$(peer b g '.path.path') pg=$(peer g b '.path.path')
	probes=$(num "$(peer b g '.path.probes_sent')")
	[ "$pb" = relay ] && [ "$pg" = relay ] && [ "$(peer b g '.path.probe')" = false ] && [ "$probes" = 0 ] && ok=0
	check "B <-> G stay relayed (paths $pb / $pg, $probes probes: no common family, no probing)" $ok b g
fi

# --- 12-13: case 4a, spoofed data datagrams at the relay ------------------------------------------
SPOOF_N=20
if needs "datagrams with B's and G's receiver indexes from wrong sources are dropped and counted by RS1's kernel" BG; then
	# the tunnel is older than a direct tunnel's K_tun lifetime (60 s) by now:
	# it must still be the same one, not rebuilt through a new Direction
	idx_b=$(peer b g '.local_index') idx_g=$(peer g b '.local_index')
	SAME=0
	if [ "$idx_b" = "$IDX_B" ] && [ "$idx_g" = "$IDX_G" ]; then
		SAME=1
	else
		ktap_diag "B <-> G was rebuilt: indexes now B $idx_b G $idx_g (were $IDX_B, $IDX_G)"
	fi
	IDX_B0=$IDX_B
	IDX_B=$(num "$idx_b") IDX_G=$(num "$idx_g")
	leg_b0=$(rs_leg_ep "$IDX_B") leg_g0=$(rs_leg_ep "$IDX_G")
	# what leaves RS1's relay port; the spoofed datagrams are 200-byte UDP payloads
	capture rs1 "$SB_DIR/spoof.pcap" "udp src port $SB_PORT and (src host $RB_RS1 or src host $RS1_6)"
	tpid=$CAP
	# traffic now, so the kernel session is not idle (20 s) while it is counted
	sigbed_in b ping -c 1 -W 2 "$VIP4_G" >/dev/null 2>&1
	sess0=$(rs_session_of "$IDX_B")
	s0=$(rs_dev drop_relay_src) tx0=$(rs_dev relay_tx_packets) ds0=$(num "$(jq -r .drop_src <<<"$sess0")")
	bport=${leg_b0##*:}
	# forged sources: a third address and B's own NAT address with another port (G's index: what B sends), a third address with B's index
	relaycase dns spoof --src 192.0.2.77 --sport $SB_PORT --dst $RB_RS1 --dport $SB_PORT --index "$IDX_G" --count $SPOOF_N >/dev/null
	relaycase dns spoof --src $SB_R4 --sport $((bport + 1)) --dst $RB_RS1 --dport $SB_PORT --index "$IDX_G" --count $SPOOF_N >/dev/null
	relaycase dns spoof --src 192.0.2.77 --sport $SB_PORT --dst $RB_RS1 --dport $SB_PORT --index "$IDX_B" --count $SPOOF_N >/dev/null
	sleep 1
	s1=$(rs_dev drop_relay_src) tx1=$(rs_dev relay_tx_packets)
	sess1=$(rs_session_of "$IDX_B")
	ds1=$(num "$(jq -r .drop_src <<<"$sess1")")
	# the capture's control: an authentic ping B -> G is forwarded both ways (116-byte payloads)
	sigbed_in b ping -c 3 -i 0.2 -W 2 "$VIP4_G" >/dev/null 2>&1
	capture_stop "$tpid"
	fwd=$(pcap_count "$SB_DIR/spoof.pcap" "len == 242 or len == 262")
	ctl=$(pcap_count "$SB_DIR/spoof.pcap")
	ktap_diag "spoofed 3 x $SPOOF_N: drop_relay_src $s0 -> $s1, session $(jq -r .id <<<"$sess0") -> $(jq -r .id <<<"$sess1") drop_src $ds0 -> $ds1, relay_tx $tx0 -> $tx1; out of RS1: $fwd of the spoofed size, $ctl in all (the ping's)"
	ok=1
	[ $((s1 - s0)) -ge $((3 * SPOOF_N)) ] && [ "$fwd" = 0 ] &&
		[ "$ctl" -ge 6 ] && [ $((tx1 - tx0)) -lt "$SPOOF_N" ] && ok=0
	check "$((3 * SPOOF_N)) datagrams with B's and G's receiver indexes from wrong sources: dropped and counted by RS1's kernel (drop_relay_src +$((s1 - s0))), none forwarded" $ok rs1
	ok=1
	[ $SAME = 1 ] && [ -n "$leg_b0" ] && [ "$(rs_leg_ep "$IDX_B")" = "$leg_b0" ] && [ "$(rs_leg_ep "$IDX_G")" = "$leg_g0" ] &&
		sigbed_in b ping -c 2 -i 0.3 -W 2 "$VIP4_G" >/dev/null 2>&1 && ok=0
	check "the spoofed datagrams moved no leg ($leg_b0, $leg_g0) and B <-> G still flows in the tunnel of step 8" $ok b g rs1
fi

# --- 14-15: case 3, the relayed node B moves to another NAT under a ping --------------------------
MOVED=0
if needs "B moves from R to R2 under a ping from G: the relay leg follows B's Relay Bind" BG; then
	leg_old=$(rs_leg_ep "$IDX_B")
	binds0=$(rs_ntmd binds)
	# B's authentic Relay Binds as RS1 receives them, for case 4b
	capture rs1 "$SB_DIR/binds.pcap" "udp dst port $SB_PORT and udp[8:4] = 0x11 and (src host $SB_R4 or src host $RB_R2)"
	CAP_PID=$CAP
	# at least one Relay Bind from the old address (B binds every 10 s)
	sigbed_wait 25 sh -c "[ \$(tcpdump -n -r $SB_DIR/binds.pcap 2>/dev/null | grep -c '$SB_R4') -ge 1 ]"
	sigbed_in g ping -n -i 0.2 -W 1 -c 100 "$VIP4_B" >"$SB_DIR/ping-move.txt" 2>&1 &
	ppid=$!
	sleep 4
	t_move=$(date +%s.%N)
	sigbed_in b sh -c "ip addr flush dev lan0 && ip link set lan0 down && ip link set lan1 up &&
		ip addr add $B_NEW4/24 dev lan1 && ip route replace default via ${B_NEW4%.*}.1"
	sigbed_wait 20 sh -c "ip netns exec ${SB_NS[rs1]} $NTMCTL -j relay show $RB_RS_DEV | jq -r '.[].legs[] | select(.index == $IDX_B) | .endpoint' | grep -q '^$RB_R2:'"
	t_leg=$(awk -v a="$t_move" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	wait $ppid
	leg_new=$(rs_leg_ep "$IDX_B")
	recv=$(num "$(ping_recv "$SB_DIR/ping-move.txt")")
	LOST=$((100 - recv))
	binds1=$(rs_ntmd binds)
	ktap_diag "B moved: leg $leg_old -> $leg_new $t_leg s after the move; RS1 binds $binds0 -> $binds1; ping G -> B: $(tail -n 2 "$SB_DIR/ping-move.txt" | head -n 1)"
	ktap_diag "B now: external $(sigbed_node b external_ep), path $(peer b g '.path' | jq -c . 2>/dev/null)"
	case $leg_new in "$RB_R2":*) MOVED=1 ;; esac
	# the same tunnel followed B: not rebuilt through a new Direction
	[ "$(peer b g '.local_index')" = "$IDX_B" ] || { MOVED=0; ktap_diag "B's tunnel to G was rebuilt: $(peer b g '.local_index')"; }
	check "B moves from R to R2 under a ping from G: RS1 moves B's leg to $leg_new after B's Relay Bind, $t_leg s, same tunnel" \
		$((1 - MOVED)) b g rs1
	ok=1
	[ $MOVED = 1 ] && [ "$LOST" -le "$MOVE_LOSS_MAX" ] && sigbed_in g ping -c 2 -W 2 "$VIP4_B" >/dev/null 2>&1 && ok=0
	check "the ping G -> B resumes: $LOST of 100 lost (at most $MOVE_LOSS_MAX, 0.2 s apart)" $ok b g rs1
fi

# --- 16: case 4b, a captured Relay Bind replayed from other addresses --------------------------------
if needs "a captured authentic Relay Bind of B replayed from other addresses is refused and moves nothing" MOVED; then
	capture_stop "$CAP_PID"
	# G -> B traffic throughout, so the kernel session does not go idle
	# (20 s) while the capture is parsed: an idle removal and the Relay
	# Bind that restores it would move nothing but would blank the leg
	sigbed_in g ping -n -i 1 -W 1 -w 90 "$VIP4_B" >/dev/null 2>&1 &
	KEEP_PID=$!
	SB_BGPIDS="$KEEP_PID $SB_BGPIDS"
	sigbed_wait 25 sh -c "[ -n \"\$(ip netns exec ${SB_NS[rs1]} $NTMCTL -j relay show $RB_RS_DEV | jq -r '.[].legs[] | select(.index == $IDX_B) | .endpoint')\" ]"
	# the smallest K_tun envelope from B's old address: a Relay Bind (a
	# Tunnel Request is much larger; nothing else of B goes to the relay)
	line=$(relaycase rs1 sigs "$SB_DIR/binds.pcap" $SB_PORT 2>&1 | awk -v s="$SB_R4" '$1 == s' | sort -k5,5n | head -n 1)
	hex=${line##* }
	ktap_diag "captured from B's old address: $(printf '%s' "$line" | cut -d' ' -f1-5)"
	leg0=$(rs_leg_ep "$IDX_B")
	rp0=$(rs_ntmd drops.replay) mv0=$(grep -c "b.$D moved to" "$(sigbed_logfile rs1)")
	ans=1
	if [ -n "$hex" ]; then
		# from a third address (answers are counted), and forged from B's old endpoint
		ans=$(relaycase dns send --hex "$hex" --dst $RB_RS1 --dport $SB_PORT --sport $SB_PORT --wait 2)
		relaycase dns send --raw --hex "$hex" --src $SB_R4 --sport "$(printf '%s' "$line" | cut -d' ' -f2)" \
			--dst $RB_RS1 --dport $SB_PORT >/dev/null
		sleep 1
	fi
	rp1=$(rs_ntmd drops.replay) mv1=$(grep -c "b.$D moved to" "$(sigbed_logfile rs1)")
	leg1=$(rs_leg_ep "$IDX_B")
	ktap_diag "replayed twice: RS1 drops.replay $rp0 -> $rp1, leg moves logged $mv0 -> $mv1, answers to the replayer $ans; B's leg $leg0 -> $leg1"
	ok=1
	[ -n "$hex" ] && [ "$(peer b g '.local_index')" = "$IDX_B0" ] && [ $((rp1 - rp0)) -ge 2 ] && [ "$mv1" = "$mv0" ] && [ "$ans" = 0 ] && [ "$leg1" = "$leg0" ] &&
		sigbed_in g ping -c 2 -i 0.3 -W 2 "$VIP4_B" >/dev/null 2>&1 && ok=0
	check "a captured authentic Relay Bind of B replayed from two other addresses: refused as replays (+$((rp1 - rp0))), unanswered, B's leg stays $leg1" \
		$ok b g rs1
	kill "$KEEP_PID" 2>/dev/null
fi

# --- 17: a new default route alone is a network change: B binds at once -----------------------------
if needs "B's default route replaced, no address changed: B sends a Relay Bind at once" MOVED; then
	# traffic both ways, so no bind comes from a silent tunnel (kRxStale)
	sigbed_in g ping -n -i 0.3 -W 1 -w 30 "$VIP4_B" >/dev/null 2>&1 &
	KEEP_PID=$!
	SB_BGPIDS="$KEEP_PID $SB_BGPIDS"
	binds_b() { num "$(peer b g '.path.binds')"; }
	binds_above() { [ "$(binds_b)" -gt "$1" ]; }
	# line up with B's periodic bind (every 10 s after the last answer): the next one comes >= 10 s later
	bb0=$(binds_b)
	ok=1
	lined_up=0
	sigbed_wait 15 binds_above "$bb0" && lined_up=1
	[ "$lined_up" = 1 ] || ktap_diag "no periodic bind from B within 15 s ($bb0): the point cannot tell a triggered bind from a periodic one"
	bb1=$(binds_b)
	gw=$(sigbed_in b ip -4 route show default | awk '{ print $3; exit }')
	sigbed_in b sh -c "ip route del default && ip route add default via $gw"
	sigbed_wait 5 binds_above "$bb1" && [ "$lined_up" = 1 ] && ok=0
	bb2=$(binds_b)
	kill "$KEEP_PID" 2>/dev/null
	ktap_diag "B's binds to RS1: $bb0, $bb1 after the periodic one, $bb2 within 5 s of the new default route via $gw"
	check "B's default route replaced, no address changed: B sends a Relay Bind at once ($bb1 -> $bb2), not at the next 10 s rebind" \
		$ok b g rs1
fi

# --- 18-19: bookkeeping ---------------------------------------------------------------
ktap_diag "rs1: $(sigbed_jq rs1 '.rs | {communications, kernel_sessions, forwarded, binds, drops}' | jq -c . 2>/dev/null)"
check "every ntmd is still running" \
	"$(rc sh -c 'for p in '"${SB_PID[*]}"'; do kill -0 $p || exit 1; done')"
check "no kernel warning, oops or leak report" "$(rc sh -c '! dmesg | grep -E "WARNING:|BUG:|Oops|unreferenced object"')"
ktap_finish
