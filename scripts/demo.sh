#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo.sh - a narrated demonstration of NTMobile signalling with ntm;
# runs INSIDE the VM (make demo = scripts/vm -- scripts/demo.sh).
#
# A small internet in network namespaces (tests/selftests/lib/sigbed.sh):
# an Account Server, a Direction Coordinator and a DNS server on a public
# network, node A on it, node B behind a NAT router.  Accounts are created,
# the nodes log in and register, A looks up b.ntm.test like any application
# would, and the DNS hook, the DC and the two nodes build a kernel tunnel
# through the NAT; ping and iperf3 run through it, B reaches A by name, and
# a summary table ends the show.  Key lines of the daemons' logs and a
# capture of the signalling datagrams make the message flow visible.  Exit
# status 0 only when every step worked.  NTM_DEMO_PAUSE (seconds between
# steps, default 0) slows it down; NTM_KEEP_TMP=1 keeps the logs and
# configuration (under /tmp of the VM: use scripts/vm --rw DIR and
# TMPDIR=DIR to see them afterwards).  The data plane on its own, with a
# manually keyed tunnel, is scripts/demo-dataplane.sh.
# Empty colour codes, "a && ok || bad", config writers without extra TOML:
# shellcheck disable=SC1007,SC2015,SC2119
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export NTM_REPO=$REPO
SB_ID=demo
# shellcheck source=tests/selftests/lib/sigbed.sh
. "$REPO/tests/selftests/lib/sigbed.sh"

T0=$(date +%s)
# shellcheck source=scripts/lib/narrate.sh
. "$HERE/lib/narrate.sh"

# Log excerpts: logmark NAME remembers where NAME's log is now; logshow NAME
# REGEX [N] prints up to N lines logged since then that match REGEX.
declare -A LOGPOS=()
logmark() {
	local n
	for n in "$@"; do LOGPOS[$n]=$({ wc -l <"$(sigbed_logfile "$n")"; } 2>/dev/null || echo 0); done
}
logshow() {
	local n=$1 re=$2 max=${3:-8} lines
	lines=$(tail -n +"$((${LOGPOS[$n]:-0} + 1))" "$(sigbed_logfile "$n")" 2>/dev/null | grep -Ei -- "$re" | tail -n "$max")
	if [ -n "$lines" ]; then
		printf '%s\n' "$lines" | cut -c1-160 | sed "s/^/   $C_$(printf '%-3s' "$n")|$N_ /"
	else
		printf '   %s%-3s| (no matching log lines)%s\n' "$D_" "$n" "$N_"
	fi
}
# A capture of port 7480 on the public switch's ports (all signalling
# between the public hosts and the NAT router).
cap_start() {
	CAP=$SB_DIR/$1.pcap
	ip netns exec "$SB_NS_SW" tcpdump -n -U -s 0 -i any -w "$CAP" "udp port $SB_PORT" >"$CAP.log" 2>&1 &
	CAP_PID=$!
	sigbed_wait 20 grep -q "listening on" "$CAP.log"
}
cap_stop() {
	sleep 0.5
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	"$PY" "$SB_LIB_DIR/ntmsig.py" summary "$CAP" --name $SB_A4=A --name $SB_R4=R/B --name $SB_DC4=DC \
		--name $SB_C4=C | sed 's/^/     /'
}

sigbed_trap

# -------------------------------------------------------------------------
step "The machine"
say "A qemu VM running Debian's kernel; the build machine's root file system is"
say "shared read-only, so the freshly built module and tools are used as they are."
run vm uname -sr
why=$(sigbed_missing)
[ -z "$why" ] || fatal "cannot run the demo: $why"
run vm modprobe ntm || fatal "ntm.ko does not load (make kmod)"
say "ntm.ko carries the data plane: encrypted tunnels between virtual addresses."
say "ntmd (user space) speaks the NTMobile signalling that sets those tunnels up."

step "A small internet in network namespaces"
say "Each host is a network namespace with its own interfaces, routes and sockets:"
say "   public network 192.0.2.0/24 (a bridge)"
say "     AS   $SB_AS4   as.infra.test   Account Server: logins, hands out keys"
say "     DC   $SB_DC4   dc.infra.test   Direction Coordinator of the domain $SB_DOMAIN"
say "     DNS  $SB_DNS4   ns.infra.test   knot, authoritative for test."
say "     A    $SB_A4    a.$SB_DOMAIN      a node with a public address"
say "     R    $SB_R4  NAT router      masquerades its private network"
say "   private network 10.0.0.0/24 behind R"
say "     B    $SB_B4     b.$SB_DOMAIN      a node behind the NAT"
sigbed_setup || fatal "could not build the testbed"
SB_NS[sw]=$SB_NS_SW
run a ip -br addr show pub0
run b ip -br addr show lan0
run b ip route
run r nft list ruleset
out=$(sigbed_nat_check 2>&1) && ok "B's packets reach A from $SB_R4: $(printf '%s' "$out" | head -1 | cut -c1-60)..." ||
	bad "NAT check: $out"

step "DNS: how nodes find the DC"
say "The zone test. has the servers' addresses and delegates $SB_DOMAIN to the DC:"
say "the NS record of a node domain names the DC that coordinates it."
sed 's/^/     /' "$SB_DIR/knot/zones/test.zone"
run a kdig +noall +authority +additional @$SB_DNS4 NS b.$SB_DOMAIN
sigbed_dns_check >/dev/null 2>&1 && ok "referral for *.$SB_DOMAIN: NS dc.infra.test" || bad "DNS check"

step "A throw-away PKI"
say "A test CA (ECDSA P-256) signs the AS's and DC's certificates: nodes check the AS"
say "by name; the AS and the DC authenticate each other (mutual TLS)."
for c in as dc; do
	say "$c: $(openssl x509 -in "$SB_DIR/pki/$c.pem" -noout -ext subjectAltName,extendedKeyUsage 2>/dev/null | grep -v ':$' | tr -s ' \n' ' ')"
done
sigbed_pki_check >/dev/null 2>&1 && ok "openssl verify: certificates valid for their use" || bad "certificate check"

step "Start the Direction Coordinator"
say "The DC owns $SB_DOMAIN: it keeps the registry of nodes (virtual addresses, real"
say "and external endpoints) and decides how two nodes reach each other."
sigbed_write_dc_conf
sed 's/^/     /' "$(sigbed_conf dc)" | grep -v '^ *#'
show dc "ntmd --config \$D/dc.toml &"
sigbed_start dc || fatal "the DC did not start"
ok "DC listens on UDP $SB_PORT (nodes) and TLS $SB_DC_TLS_PORT (the AS)"

step "Start the Account Server and create accounts"
sigbed_write_as_conf
show as "ntmd --config \$D/as.toml &"
sigbed_start as || fatal "the AS did not start"
sigbed_password a "correct horse a"
sigbed_password b "correct horse b"
run as "$NTMCTL" --config "$(sigbed_conf as)" account add "a@$SB_DOMAIN" --fqdn a.$SB_DOMAIN --password-file "$(sigbed_pwfile a)" --kdf-cost 10 ||
	fatal "account add failed"
run as "$NTMCTL" --config "$(sigbed_conf as)" account add "b@$SB_DOMAIN" --fqdn b.$SB_DOMAIN --password-file "$(sigbed_pwfile b)" --kdf-cost 10 ||
	fatal "account add failed"
run as "$NTMCTL" --config "$(sigbed_conf as)" account list
say "The AS stores only scrypt hashes of the passwords."

step "Node A logs in and registers"
say "Login (TLS to as.infra.test:$SB_AS_PORT): the AS checks the password, makes a fresh"
say "key K_ntmdc and its KEY_ID, and hands both to the DC of $SB_DOMAIN (Key"
say "Distribution over mutual TLS; the DC's NTM ACK comes back) before it answers A."
say "K_ntmdc is shared by A and the DC only: it seals every UDP message between them."
say "Registration (UDP to the DC, sealed with K_ntmdc): A lists its real endpoints;"
say "the DC assigns virtual addresses and tells A what source address it saw."
sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)"
logmark a as dc
show a "ntmd --config \$D/a.toml &"
sigbed_start a || fatal "node A did not register"
logshow as 'login|key|distribut|ack' 4
logshow dc 'key|regist' 4
logshow a 'login|key|regist|vip|address' 5
VIP4_A=$(sigbed_node a vip4) VIP6_A=$(sigbed_node a vip6)
ok "a.$SB_DOMAIN: virtual $VIP4_A and $VIP6_A; seen from $(sigbed_node a external_ep); NAT: $(sigbed_node a nated)"
run a ip -br addr show $SB_DEV

step "Node B, behind the NAT, logs in and registers"
say "B says it is at $SB_B4:$SB_PORT, but the DC sees the packet come from the NAT"
say "router: B is behind a NAT.  B's keepalives (every $SB_KEEPALIVE s here) keep that NAT"
say "mapping open, so the DC can reach B later."
sigbed_write_node_conf b "b@$SB_DOMAIN" "$(sigbed_pwfile b)"
logmark b dc
show b "ntmd --config \$D/b.toml &"
sigbed_start b || fatal "node B did not register"
logshow dc 'regist|nat' 4
VIP4_B=$(sigbed_node b vip4) VIP6_B=$(sigbed_node b vip6)
EXT_B=$(sigbed_dc_node b.$SB_DOMAIN external_ep)
[ "$(sigbed_dc_node b.$SB_DOMAIN nated)" = true ] && ok "b.$SB_DOMAIN: virtual $VIP4_B and $VIP6_B; behind a NAT, seen as $EXT_B" ||
	bad "the DC did not detect B's NAT"
run dc "$NTMCTL" --config "$(sigbed_conf dc)" dc nodes

step "A looks up b.$SB_DOMAIN"
say "An application on A asks for b.$SB_DOMAIN.  A's resolver is ntmd's DNS hook"
say "($SB_DNS_HOOK:53).  The name is in an NTM domain, so the hook does not forward it:"
say " 1. A -> DC  Direction Request (PEER_FQDN b.$SB_DOMAIN), sealed with K_ntmdc."
say " 2. The DC decides the route: B is behind a NAT and A is not, so B must open"
say "    (a packet from A would not get through B's NAT).  It draws COMM_ID, K_tun"
say "    and K_tmp, and answers A first: Route Direction, ACTION=WAIT."
say " 3. DC -> B  Route Direction, ACTION=OPEN, with A's endpoint; through B's NAT"
say "    mapping.  B acks."
say " 4. B -> A  Tunnel Request (K_tun), with the data key K_mncn sealed with K_tmp;"
say "    it leaves through the NAT and opens a mapping for A's answer."
say " 5. A -> B  Tunnel Response with CONFIRM (proof that A holds K_mncn)."
say " 6. Both program the kernel tunnel; the hook answers the query with B's"
say "    virtual address."
logmark a b dc
cap_start lookup
show a "getent ahostsv4 b.$SB_DOMAIN        # /etc/resolv.conf: nameserver $SB_DNS_HOOK"
got=$(sigbed_getent a ahostsv4 b.$SB_DOMAIN 2>&1)
printf '     %s\n' "$got"
sigbed_wait 10 sigbed_tunnel_to b "$VIP4_A"
say "Signalling on the wire (captured on the public switch; only the 16-byte"
say "header is readable: key, key id, sequence):"
cap_stop
say "The daemons' view:"
logshow a 'direction|route|tunnel|dns' 6
logshow dc 'direction|route|nat|open|wait' 6
logshow b 'route|direction|tunnel|open' 6
[ "$got" = "$VIP4_B" ] && ok "b.$SB_DOMAIN is $VIP4_B for applications on A" || bad "lookup of b.$SB_DOMAIN on A: '$got'"

step "The kernel tunnel"
say "On each side ntm.ko now has a tunnel: local and remote index, the peer's"
say "real endpoint (for A: the NAT's address and port), its virtual addresses."
run a "$NTMCTL" tunnel show $SB_DEV
run b "$NTMCTL" tunnel show $SB_DEV
say "ntmd's view (who opened, who waited):"
for n in a b; do
	say "$n: $(sigbed_jq "$n" '.node.peers[]? | "\(.fqdn) \(.vip4) role=\(.role) cipher=\(.cipher) endpoint=\(.endpoint)"' | tr '\n' ' ')"
done
sigbed_tunnel_to a "$VIP4_B" && sigbed_tunnel_to b "$VIP4_A" && ok "tunnel on both sides" || bad "tunnel missing"

step "Traffic through the tunnel"
P4=$(sigbed_in a ping -n -c 5 -i 0.2 -W 2 "$VIP4_B" 2>&1)
show a "ping -c 5 $VIP4_B"
printf '%s\n' "$P4" | tail -n 2 | sed 's/^/     /'
printf '%s\n' "$P4" | grep -q ' 0% packet loss' && ok "IPv4 A -> B: 5 of 5" || bad "IPv4 ping A -> B"
P6=$(sigbed_in a ping -6 -n -c 5 -i 0.2 -W 2 "$VIP6_B" 2>&1)
show a "ping -6 -c 5 $VIP6_B"
printf '%s\n' "$P6" | tail -n 2 | sed 's/^/     /'
printf '%s\n' "$P6" | grep -q ' 0% packet loss' && ok "IPv6 A -> B: 5 of 5" || bad "IPv6 ping A -> B"
RTT=$(printf '%s\n' "$P4" | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
sigbed_in b iperf3 -s -1 >"$SB_DIR/iperf3-server.log" 2>&1 &
IPERF_PID=$!
SB_BGPIDS="$IPERF_PID $SB_BGPIDS"
sigbed_wait 15 sh -c "ip netns exec ${SB_NS[b]} ss -Hltn 'sport = :5201' | grep -q LISTEN"
show a "iperf3 -c $VIP4_B -t 3"
sigbed_in a timeout 60 iperf3 -c "$VIP4_B" -t 3 -J >"$SB_DIR/iperf3.json" 2>&1
MBPS=$(jq -r '.end.sum_received.bits_per_second / 1e6 * 10 | floor / 10' "$SB_DIR/iperf3.json" 2>/dev/null)
if [ -n "$MBPS" ] && [ "$MBPS" != null ] && [ "$MBPS" != 0 ]; then
	ok "$MBPS Mbit/s TCP A -> B through the NAT (software-emulated CPU: compare ratios, not numbers)"
else
	bad "iperf3 through the tunnel"
fi

step "B reaches A by name"
say "The tunnel works both ways; B's own hook answers from what it knows."
show b "getent ahostsv4 a.$SB_DOMAIN; ping -c 3 a.$SB_DOMAIN"
got=$(sigbed_getent b ahostsv4 a.$SB_DOMAIN 2>&1)
printf '     %s\n' "$got"
PB=$(sigbed_resolv_run b ping -n -c 3 -i 0.3 -W 2 a.$SB_DOMAIN 2>&1)
printf '%s\n' "$PB" | tail -n 2 | sed 's/^/     /'
[ "$got" = "$VIP4_A" ] && printf '%s\n' "$PB" | grep -q ' 0% packet loss' && ok "B -> a.$SB_DOMAIN ($VIP4_A)" ||
	bad "B cannot reach a.$SB_DOMAIN"

step "Other names are forwarded"
say "Names outside the NTM domains go to the ordinary DNS server ($SB_DNS4)."
show a "getent ahostsv4 www.example.test"
got=$(sigbed_getent a ahostsv4 www.example.test 2>&1)
printf '     %s\n' "$got"
[ "$got" = "$SB_WWW4" ] && ok "www.example.test is $SB_WWW4 (from knot, through A's hook)" || bad "forwarding"

step "Summary"
field() { sigbed_dc_node "$1.$SB_DOMAIN" "$2"; }
tsum() { # NAME STAT: sum of a tunnel counter over NAME's tunnels
	sigbed_tunnels "$1" | jq -s "map(.stats.$2 // 0) | add // 0" 2>/dev/null
}
printf '\n   %-22s %24s %24s\n' "" "node A" "node B"
row() { printf '   %-22s %24s %24s\n' "$1" "$2" "$3"; }
row "FQDN" "a.$SB_DOMAIN" "b.$SB_DOMAIN"
row "real address" "$SB_A4" "$SB_B4"
row "external (DC's view)" "$(field a external_ep)" "$(field b external_ep)"
row "behind a NAT" "$(field a nated)" "$(field b nated)"
row "virtual IPv4" "$VIP4_A" "$VIP4_B"
row "virtual IPv6" "$VIP6_A" "$VIP6_B"
row "online (DC)" "$(field a online)" "$(field b online)"
row "kernel tunnels" "$(sigbed_tunnels a | wc -l)" "$(sigbed_tunnels b | wc -l)"
row "tunnel role" "$(sigbed_jq a '[.node.peers[]?.role] | join(",")')" "$(sigbed_jq b '[.node.peers[]?.role] | join(",")')"
row "tx packets" "$(tsum a tx_packets)" "$(tsum b tx_packets)"
row "rx packets" "$(tsum a rx_packets)" "$(tsum b rx_packets)"
row "tx bytes (inner)" "$(tsum a tx_bytes)" "$(tsum b tx_bytes)"
row "rx bytes (inner)" "$(tsum a rx_bytes)" "$(tsum b rx_bytes)"
echo
printf '   %-22s %s\n' "AS logins ok / failed" "$(sigbed_jq as '"\(.as.logins_ok) / \(.as.logins_failed)"')"
printf '   %-22s %s\n' "DC nodes / online" "$(sigbed_jq dc '"\(.dc.nodes) / \(.dc.online)"')"
printf '   %-22s %s\n' "DC drops" "$(sigbed_jq dc '.dc.drops | to_entries | map("\(.key) \(.value)") | join(", ")')"
printf '   %-22s %s\n' "ping RTT avg (ms)" "${RTT:--}"
printf '   %-22s %s\n' "iperf3 TCP (Mbit/s)" "${MBPS:--}"
printf '   %-22s %s\n' "demo time (s)" "$(($(date +%s) - T0))"
echo
if [ "$FAILED" -eq 0 ]; then
	printf '%sdemo complete: every step worked%s\n' "$G_" "$N_"
	exit 0
fi
printf '%sdemo complete with %d failed step(s)%s\n' "$R_" "$FAILED" "$N_"
exit 1
