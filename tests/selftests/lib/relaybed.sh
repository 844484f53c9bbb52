# SPDX-License-Identifier: GPL-2.0
# relaybed.sh - the relay testbed: lib/sigbed.sh's small internet (AS, DC,
# DNS, node A public, NAT router R with node B behind it) plus two Relay
# Servers and more NATs.  Sourced after sigbed.sh by ntm_relay_nat.sh and
# the demo; runs as root inside the VM.
#
#   public network 192.0.2.0/24
#     RS1  192.0.2.30   rs1.infra.test  ntmd roles=[rs], UDP 7480, TLS 7483
#     RS2  192.0.2.31   rs2.infra.test
#     R2   192.0.2.252  NAT router: LAN 10.2.0.0/24, node D 10.2.0.2
#     R3   192.0.2.253  NAT router mapping per destination
#                       (masquerade random,fully-random): LAN 10.3.0.0/24,
#                       node F 10.3.0.2
#   behind R (10.0.0.0/24) besides B: node E 10.0.0.3 (same NAT as B)
#
#	relaybed_setup || fail
#	relaybed_write_rs_conf rs1 192.0.2.30; sigbed_start rs1

RB_RS1=192.0.2.30
RB_RS2=192.0.2.31
RB_R2=192.0.2.252
RB_R3=192.0.2.253
RB_D4=10.2.0.2
RB_E4=10.0.0.3
RB_F4=10.3.0.2
RB_RS_TLS_PORT=7483
RB_RS_DEV=ntmrs0

# relaybed_nat NAME PUBLIC_ADDR LAN_PREFIX(a.b.c) [MASQUERADE_FLAGS]: a NAT
# router on the public bridge whose LAN is LAN_PREFIX.0/24 (router .1)
relaybed_nat() {
	local n=$1 pub=$2 lan=$3 flags=${4:-}
	sigbed_add_public "$n" "$pub" || return 1
	sigbed_in "$n" ip link add lanbr type bridge mcast_snooping 0 || return 1
	sigbed_in "$n" ip addr add "$lan.1/24" dev lanbr
	sigbed_in "$n" ip link set lanbr up
	sigbed_in "$n" sysctl -qw net.ipv4.ip_forward=1
	sigbed_in "$n" nft -f - <<-EOF2 || return 1
	table ip relaybed_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "pub0" ip saddr $lan.0/24 masquerade $flags
		}
	}
	EOF2
}

# relaybed_firewall NAME: what every home router does besides NAT -- new
# UDP flows from the outside to the router itself are dropped.  Without
# it, a peer's probe that arrives before our own first packet reaches the
# router's stack, its conntrack entry is confirmed, and our own packet
# toward that peer then clashes with it and leaves from another port
# (Documentation/decisions.rst D43): no hole punching works through such
# a router.
relaybed_firewall() {
	sigbed_in "$1" nft -f - <<-'EOF2'
	table inet relaybed_fw {
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "pub0" meta l4proto udp ct state new drop
		}
	}
	EOF2
}

# relaybed_add_private ROUTER NAME ADDR: a host on ROUTER's LAN
relaybed_add_private() {
	local r=$1 n=$2 addr=$3 ns=sb${2^}$SB_ID
	[ -z "${SB_NS[$n]:-}" ] || return 0
	sigbed__ns_add "$ns" || return 1
	SB_NS[$n]=$ns
	SB_ADDR[$n]=$addr
	ip link add lan0 netns "$ns" type veth peer name "l$n" netns "${SB_NS[$r]}" || return 1
	sigbed_in "$r" ip link set "l$n" master lanbr up || return 1
	ip netns exec "$ns" ip addr add "$addr/24" dev lan0 || return 1
	ip netns exec "$ns" ip link set lan0 up
	ip netns exec "$ns" ip route add default via "${addr%.*}.1"
}

# relaybed_dns NAME ADDR [TYPE]: NAME.infra.test TYPE (A) ADDR in the running knot
relaybed_dns() {
	local k=$SB_DIR/knot
	sigbed_in dns knotc -s "$k/run/knot.sock" zone-begin test. >/dev/null &&
		sigbed_in dns knotc -s "$k/run/knot.sock" zone-set test. "$1.infra" 30 "${3:-A}" "$2" >/dev/null &&
		sigbed_in dns knotc -s "$k/run/knot.sock" zone-commit test. >/dev/null
}

relaybed_setup() {
	sigbed_setup || return 1
	local n
	for n in rs1:$RB_RS1 rs2:$RB_RS2; do
		sigbed_add_public "${n%%:*}" "${n#*:}" || return 1
		relaybed_dns "${n%%:*}" "${n#*:}" || { sigbed_log "cannot add ${n%%:*} to the zone"; return 1; }
		sigbed_cert "${n%%:*}" "${n%%:*}.infra.test" serverAuth,clientAuth || return 1
	done
	relaybed_nat r2 $RB_R2 10.2.0 || return 1
	relaybed_nat r3 $RB_R3 10.3.0 "random,fully-random" || return 1
	for n in r r2 r3; do relaybed_firewall $n || return 1; done
	relaybed_add_private r2 d $RB_D4 || return 1
	relaybed_add_private r3 f $RB_F4 || return 1
	sigbed_add_private e $RB_E4 || return 1
	for n in d e f; do
		sigbed_wait 15 sigbed_in "$n" ping -c1 -W1 $RB_RS1 ||
			{ sigbed_log "$n cannot reach RS1 through its NAT"; return 1; }
	done
	sigbed_wait 15 sigbed_in a kdig +time=1 +retry=0 @$SB_DNS4 A rs2.infra.test +short ||
		{ sigbed_log "rs2.infra.test does not resolve"; return 1; }
}

# relaybed_write_rs_conf NAME ADDR [ADDR6]: $SB_DIR/NAME.toml (with ADDR6
# a dual-stack relay)
relaybed_write_rs_conf() {
	local n=$1 addr=$2 addrs="\"$2\""
	[ -n "${3:-}" ] && addrs="$addrs, \"$3\""
	{
		sigbed__common_conf "$n" rs
		cat <<-EOF

		[tls]
		ca = "$SB_DIR/pki/ca.pem"
		certificate = "$SB_DIR/pki/$n.pem"
		private_key = "$SB_DIR/pki/$n.key"

		[rs]
		interface = "$RB_RS_DEV"
		port = $SB_PORT
		listen_tls = ["$addr:$RB_RS_TLS_PORT"]
		addresses = [$addrs]
		trusted_dc = ["dc.infra.test"]
		session_idle = 60
		EOF
	} >"$(sigbed_conf "$n")"
}

# relaybed_dc_relays: the [dc] lines naming both relays
relaybed_dc_relays() {
	echo "relays = [\"rs1.infra.test:$RB_RS_TLS_PORT\", \"rs2.infra.test:$RB_RS_TLS_PORT\"]"
}

# relaybed_wait_relays SECONDS N: wait until the DC reports N relays up
# (its mutual-TLS Key Sharing link to each); 1 when it does not in time
relaybed_wait_relays() {
	sigbed_wait "$1" sh -c "[ \"\$(ip netns exec ${SB_NS[dc]} $NTMCTL status -j --socket $(sigbed_sock dc) | jq '[.dc.relays[] | select(.up)] | length')\" = $2 ]"
}

# relaybed_block_direct on|off: R2 drops UDP from R's public address -- the
# direct path between the nodes behind R and D -- but never D's own traffic
# to the relays
relaybed_block_direct() {
	if [ "$1" = on ]; then
		sigbed_in r2 nft -f - <<-EOF2
		table inet relaybed_block {
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				ip saddr $SB_R4 meta l4proto udp drop
			}
		}
		EOF2
	else
		sigbed_in r2 nft delete table inet relaybed_block
	fi
}

# relaybed_peer NODE PEER_FQDN JQ: a field of NODE's peer entry for PEER_FQDN
relaybed_peer() {
	sigbed_jq "$1" ".node.peers[] | select(.fqdn == \"$2\") | $3"
}

# relaybed_relay_rx RS: packets the relay's kernel forwarded so far
relaybed_relay_rx() {
	sigbed_in "$1" "$NTMCTL" -j show $RB_RS_DEV 2>/dev/null |
		jq -r '[.. | objects | .relay_rx_packets? // empty] | first // 0' 2>/dev/null
}
