#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_signalling.sh - NTMobile signalling end to end: an Account Server, a
# Direction Coordinator and a DNS server (knot) on a public network, node A
# on it, node B behind a NAT router (lib/sigbed.sh has the map).  Accounts,
# login, registration with NAT detection, name resolution through the
# node's DNS hook that builds the tunnel, traffic over the virtual
# addresses both ways, a DC restart, certificate login, and the DC's
# defences against unknown keys, malformed datagrams and replays, probed
# with an independent implementation of the codec (lib/ntmsig.py).
# Flags set here are read through ${!name} (needs); config writers take
# optional extra TOML:
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"

ktap_plan 31

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi


T0=$EPOCHSECONDS
# --- 1-4: the testbed without ntmd -------------------------------------------------
sigbed_setup || ktap_bail "testbed setup failed"
out=$(sigbed_nat_check 2>&1)
rc=$?
ktap_diag "A sees B's ping as: $out"
check "testbed: namespaces up; R masquerades B ($SB_B4) as $SB_R4 (setup $((EPOCHSECONDS - T0)) s)" $rc

out=$(sigbed_dns_check 2>&1)
rc=$?
[ $rc -ne 0 ] && ktap_diag "$out" && sigbed_logtail "$SB_DIR/knot.log"
check "knot serves test. and the delegation ntm.test NS dc.infra.test" $rc

out=$(sigbed_pki_check 2>&1)
rc=$?
[ $rc -ne 0 ] && ktap_diag "$out"
check "PKI: the AS, DC and node C certificates verify against the test CA" $rc

out=$("$PY" "$SB_LIB_DIR/ntmsig.py" selftest 2>&1)
rc=$?
[ $rc -ne 0 ] && ktap_diag "$out"
check "ntmsig.py: an independent implementation of the codec passes its vectors" $rc

# --- 5-6: AS, DC, accounts -----------------------------------------------------------
sigbed_write_as_conf
sigbed_write_dc_conf
SERVERS_UP=0
if sigbed_start dc && sigbed_start as; then
	SERVERS_UP=1
fi
check "AS and DC start; their control sockets answer" $((1 - SERVERS_UP)) as dc

ACCOUNTS=0
if needs "accounts a@ntm.test, b@ntm.test (password) and c.ntm.test (certificate) added" SERVERS_UP; then
	rc=0
	sigbed_password a "correct horse a $(sigbed_hex 4)"
	sigbed_password b "correct horse b $(sigbed_hex 4)"
	for n in a b c; do
		pw=$(sigbed_pwfile "$n")
		[ $n = c ] && pw=--certificate
		out=$(sigbed_account_add "$n@$SB_DOMAIN" "$n.$SB_DOMAIN" "$pw" 2>&1) ||
			{ rc=1; ktap_diag "account add $n: $out"; }
	done
	list=$(sigbed_ctl as account list -j 2>&1)
	ktap_diag "account list: $(printf '%s' "$list" | jq -c '[.. | objects | select(has("fqdn")) | .fqdn]' 2>/dev/null)"
	for n in a b c; do
		[ "$(printf '%s' "$list" | jq --arg f "$n.$SB_DOMAIN" '[.. | objects | select(.fqdn? == $f)] | length' 2>/dev/null)" = 1 ] ||
			{ rc=1; ktap_diag "account of $n.$SB_DOMAIN not listed"; }
	done
	[ $rc -eq 0 ] && ACCOUNTS=1
	check "accounts a@ntm.test, b@ntm.test (password) and c.ntm.test (certificate) added" $rc as
fi

# --- 7-8: login and registration --------------------------------------------------------
A_UP=0 B_UP=0
if needs "node A (public) logs in and registers" ACCOUNTS; then
	sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)"
	rc=1
	if sigbed_start a; then
		VIP4_A=$(sigbed_node a vip4)
		VIP6_A=$(sigbed_node a vip6)
		ktap_diag "A: vip4 $VIP4_A vip6 $VIP6_A external $(sigbed_node a external_ep) nated $(sigbed_node a nated)"
		sigbed_in_pool "$VIP4_A" $SB_POOL4 && sigbed_in_pool "$VIP6_A" $SB_POOL6 &&
			[ "$(sigbed_node a nated)" = false ] && rc=0 && A_UP=1
	fi
	check "node A (public) logs in and registers: vip4 in $SB_POOL4, vip6 in $SB_POOL6, not NATed" $rc a as dc
fi
if needs "node B (behind the NAT) registers; the DC detects the NAT" ACCOUNTS; then
	sigbed_write_node_conf b "b@$SB_DOMAIN" "$(sigbed_pwfile b)"
	rc=1
	if sigbed_start b; then
		VIP4_B=$(sigbed_node b vip4)
		VIP6_B=$(sigbed_node b vip6)
		ext=$(sigbed_dc_node b.$SB_DOMAIN external_ep)
		nat=$(sigbed_dc_node b.$SB_DOMAIN nated)
		nat_a=$(sigbed_dc_node a.$SB_DOMAIN nated)
		ktap_diag "B: vip4 $VIP4_B vip6 $VIP6_B; the DC sees it from $ext, nated $nat (A: nated $nat_a)"
		ktap_diag "dc nodes: $(sigbed_ctl dc dc nodes -j 2>&1 | jq -c . 2>/dev/null)"
		sigbed_in_pool "$VIP4_B" $SB_POOL4 && sigbed_in_pool "$VIP6_B" $SB_POOL6 &&
			[ "$VIP4_B" != "$VIP4_A" ] && [ "$nat" = true ] && [ "$nat_a" = false ] &&
			[[ $ext == "$SB_R4:"* ]] && [ "$(sigbed_node b nated)" = true ] && rc=0 && B_UP=1
	fi
	check "node B (behind the NAT) registers; DC: nated true, external $SB_R4:*; A nated false" $rc b as dc
fi

# --- 9-15: name resolution builds the tunnel; traffic ---------------------------------------
TUNNEL=0
if needs "A resolves b.ntm.test (getent ahostsv4) to B's vip4" A_UP B_UP; then
	got=$(sigbed_getent a ahostsv4 b.$SB_DOMAIN 2>&1)
	ktap_diag "getent ahostsv4 b.$SB_DOMAIN on A: $got (B's vip4 $VIP4_B)"
	check "A resolves b.ntm.test (getent ahostsv4) to B's vip4" "$(rc [ "$got" = "$VIP4_B" ])" a b dc
fi
if needs "a kernel tunnel joins A and B on both sides" A_UP B_UP; then
	sigbed_wait 20 sigbed_tunnel_to a "$VIP4_B"
	sigbed_wait 20 sigbed_tunnel_to b "$VIP4_A"
	ta=$(sigbed_tunnels a | jq -c --arg v "$VIP4_B" 'select(.vip4 == $v)')
	tb=$(sigbed_tunnels b | jq -c --arg v "$VIP4_A" 'select(.vip4 == $v)')
	ktap_diag "A's tunnel: $ta"
	ktap_diag "B's tunnel: $tb"
	ktap_diag "A's peers: $(sigbed_jq a '.node.peers' | jq -c . 2>/dev/null)"
	rc=1
	if [ -n "$ta" ] && [ -n "$tb" ]; then
		# B opens (it is behind the NAT), so A's endpoint for B is the NAT's.
		ep=$(printf '%s' "$ta" | jq -r .endpoint)
		ktap_diag "A's endpoint for B: $ep"
		[ "$(printf '%s' "$ta" | jq -r .remote_index)" = "$(printf '%s' "$tb" | jq -r .local_index)" ] &&
			[ "$(printf '%s' "$tb" | jq -r .remote_index)" = "$(printf '%s' "$ta" | jq -r .local_index)" ] &&
			[[ $ep == "$SB_R4:"* ]] && rc=0 && TUNNEL=1
	fi
	check "a kernel tunnel joins A and B on both sides (indexes match; A sends to $SB_R4)" $rc a b dc
fi
if needs "ping over vip4: A -> B and B -> A" TUNNEL; then
	sigbed_in a ping -c 3 -i 0.3 -W 2 "$VIP4_B" >"$SB_DIR/ping-ab" 2>&1
	r1=$?
	sigbed_in b ping -c 3 -i 0.3 -W 2 "$VIP4_A" >"$SB_DIR/ping-ba" 2>&1
	r2=$?
	ktap_diag "A->B: $(grep 'packet loss' "$SB_DIR/ping-ab")"
	ktap_diag "B->A: $(grep 'packet loss' "$SB_DIR/ping-ba")"
	check "ping over vip4: A -> B and B -> A" $((r1 | r2)) a b
fi
# ntmctl status: a peer table like tailscale status; show names the tunnel by its peer (D93)
if needs "ntmctl status: peer table (B's FQDN, vips, direct, handshake, transfer); show names the tunnel b.ntm.test" TUNNEL; then
	st=$(sigbed_ctl a status 2>&1)
	shw=$(sigbed_ctl a show "$SB_DEV" 2>&1)
	row=$(printf '%s\n' "$st" | grep "^b\.$SB_DOMAIN ")
	ktap_diag "A's status: $(printf '%s\n' "$st" | head -n 3 | tr '\n' '|')"
	ktap_diag "A's show: $(printf '%s\n' "$shw" | grep '^tunnel:' | tr '\n' '|')"
	rc=1
	printf '%s\n' "$st" | head -n 1 | grep -q '^PEER  *VIRTUAL  *PATH  *ENDPOINT  *HANDSHAKE  *RX  *TX$' &&
		printf '%s' "$row" | grep -qF "$VIP4_B,$VIP6_B" && printf '%s' "$row" | grep -q ' direct ' &&
		printf '%s' "$row" | grep -qE ' [0-9]+s ago ' &&
		printf '%s' "$row" | grep -qE '[0-9.]+ (B|KiB|MiB) +[0-9.]+ (B|KiB|MiB)$' &&
		printf '%s\n' "$shw" | grep -q "^tunnel: [0-9]* (b\.$SB_DOMAIN)$" && rc=0
	check "ntmctl status: peer table (B's FQDN, vips, direct, handshake, transfer); show names the tunnel b.ntm.test" $rc a
fi
if needs "AAAA: A resolves b.ntm.test to B's vip6; ping6 both ways" TUNNEL; then
	got=$(sigbed_getent a ahostsv6 b.$SB_DOMAIN 2>&1)
	ktap_diag "getent ahostsv6 b.$SB_DOMAIN on A: $got (B's vip6 $VIP6_B)"
	sigbed_in a ping -6 -c 3 -i 0.3 -W 2 "$VIP6_B" >"$SB_DIR/ping6-ab" 2>&1
	r1=$?
	sigbed_in b ping -6 -c 3 -i 0.3 -W 2 "$VIP6_A" >"$SB_DIR/ping6-ba" 2>&1
	r2=$?
	ktap_diag "A->B: $(grep 'packet loss' "$SB_DIR/ping6-ab"); B->A: $(grep 'packet loss' "$SB_DIR/ping6-ba")"
	[ "$got" = "$VIP6_B" ] || r1=1
	check "AAAA: A resolves b.ntm.test to B's vip6; ping6 both ways" $((r1 | r2)) a b
fi

# tcp_once FROM TO VIP: one TCP connection FROM -> TO's VIP carries a token
tcp_once() {
	local from=$1 to=$2 vip=$3 f=$SB_DIR/tcp-$1$2 tok pid
	tok="ntm-$(sigbed_hex 8)"
	rm -f "$f"
	sigbed_in "$to" timeout 60 socat -u TCP-LISTEN:7000,reuseaddr OPEN:"$f",creat,trunc 2>"$f.err" &
	pid=$!
	sigbed_wait 15 sh -c "ip netns exec ${SB_NS[$to]} ss -Hltn 'sport = :7000' | grep -q LISTEN"
	printf '%s\n' "$tok" | sigbed_in "$from" timeout 30 socat -u - "TCP:$vip:7000,connect-timeout=15" 2>&1
	wait "$pid"
	[ "$(cat "$f" 2>/dev/null)" = "$tok" ] || { cat "$f.err"; return 1; }
}
if needs "TCP both ways through the virtual addresses" TUNNEL; then
	out=$(tcp_once a b "$VIP4_B" 2>&1)
	r1=$?
	[ -n "$out" ] && ktap_diag "A->B: $out"
	out=$(tcp_once b a "$VIP4_A" 2>&1)
	r2=$?
	[ -n "$out" ] && ktap_diag "B->A: $out"
	check "TCP both ways through the virtual addresses (socat A->B, B->A)" $((r1 | r2)) a b
fi
if needs "B resolves a.ntm.test and pings it" A_UP B_UP; then
	got=$(sigbed_getent b ahostsv4 a.$SB_DOMAIN 2>&1)
	ktap_diag "getent ahostsv4 a.$SB_DOMAIN on B: $got (A's vip4 $VIP4_A)"
	rc=1
	# ping by name, as an application: it resolves through the hook too
	[ "$got" = "$VIP4_A" ] &&
		sigbed_resolv_run b ping -c 2 -i 0.3 -W 2 a.$SB_DOMAIN >"$SB_DIR/ping-name" 2>&1 && rc=0
	ktap_diag "$(head -1 "$SB_DIR/ping-name" 2>/dev/null)"
	check "B resolves a.ntm.test to A's vip4 and pings it by name" $rc a b
fi
# first_ping FROM NAME: both nodes forget their tunnels, then FROM pings NAME
# once, by name, as an application would: resolution builds a new tunnel
# and the very first packet must arrive (D55: the waiter holds its tunnel
# until the opener has the key)
peers_gone() { [ "$(sigbed_jq "$1" '.node.peers | length')" = 0 ]; }
first_ping() {
	local n
	for n in a b; do
		sigbed_in "$n" "$NTMCTL" tunnel flush $SB_DEV >/dev/null 2>&1
	done
	sigbed_wait 10 peers_gone a && sigbed_wait 10 peers_gone b || return 2
	sigbed_resolv_run "$1" ping -c 1 -W 3 "$2" >/dev/null 2>&1
}
if needs "the first packet on a new tunnel arrives" A_UP B_UP; then
	# A is the waiter (B, behind the NAT, opens): A answers B's Tunnel
	# Request and at once has a name to give its application, while B
	# still has to read the answer.  A qdisc on A delays what A sends under
	# K_tun (envelope kind 0x11: the Tunnel Response) by 300 ms, not its
	# data, so without the hold A's first ping reaches B before B has a
	# tunnel, every time.
	sigbed_in a tc qdisc add dev pub0 root handle 1: prio bands 3 priomap 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 &&
		sigbed_in a tc qdisc add dev pub0 parent 1:1 handle 10: netem delay 300ms &&
		sigbed_in a tc filter add dev pub0 parent 1: protocol ip u32 match ip protocol 17 0xff \
			match ip sport $SB_PORT 0xffff match u32 0x00000011 0xffffffff at 28 flowid 1:1 ||
		ktap_diag "the delay for A's Tunnel Responses could not be set up"
	lost_ab=0 lost_ba=0 broken=0
	for i in 1 2 3 4 5 6 7 8; do
		first_ping a b.$SB_DOMAIN
		case $? in 0) ;; 1) lost_ab=$((lost_ab + 1)) ;; *) broken=1 ;; esac
	done
	delayed=$(sigbed_in a tc -s qdisc show dev pub0 | awk '/netem/ { getline; print $2; exit }')
	sigbed_in a tc qdisc del dev pub0 root 2>/dev/null
	for i in 1 2 3 4; do
		first_ping b a.$SB_DOMAIN
		case $? in 0) ;; 1) lost_ba=$((lost_ba + 1)) ;; *) broken=1 ;; esac
	done
	ktap_diag "new tunnel, one ping by name: A->B (A's Tunnel Responses 300 ms late, ${delayed:-?} bytes delayed)" \
		"lost $lost_ab of 8, B->A lost $lost_ba of 4; A's held tunnels released by timeout: $(sigbed_jq a '.node.held_released')"
	check "the first packet on a new tunnel arrives: one ping by name, 8 times A->B with A's answers late, 4 times B->A" \
		"$(rc test "$lost_ab$lost_ba$broken" = 000)" a b dc
fi
if needs "A resolves www.example.test through its DNS hook (forwarded)" A_UP; then
	got=$(sigbed_getent a ahostsv4 www.example.test 2>&1)
	ktap_diag "getent ahostsv4 www.example.test on A: $got"
	check "A resolves www.example.test ($SB_WWW4) through its DNS hook (forwarded to knot)" \
		"$(rc [ "$got" = "$SB_WWW4" ])" a
fi

# --- 16-18: the DC's defences, probed with ntmsig.py -------------------------------------------
if needs "unknown key id: the DC answers NOTICE unknown_key and counts it" SERVERS_UP A_UP; then
	before=$(sigbed_dc_drop unknown_key)
	got=$(sigbed_ntmsig a expect-notice --to $SB_DC4:$SB_PORT --timeout 15 2>&1)
	sleep 1
	after=$(sigbed_dc_drop unknown_key)
	ktap_diag "NOTICE: $got; drops.unknown_key $before -> $after"
	[ "$got" = unknown_key ] && [ "$after" -gt "$before" ]
	check "unknown key id: the DC answers NOTICE unknown_key; drops.unknown_key grows" $? dc
fi
if needs "malformed datagrams are counted; the DC still answers" SERVERS_UP A_UP; then
	before=$(sigbed_dc_drop malformed)
	sigbed_ntmsig a garbage --to $SB_DC4:$SB_PORT --kind short --count 20 >/dev/null
	sigbed_ntmsig a garbage --to $SB_DC4:$SB_PORT --kind trunc --count 20 >/dev/null
	sigbed_ntmsig a garbage --to $SB_DC4:$SB_PORT --kind 0x13 --count 10 >/dev/null
	sleep 1
	after=$(sigbed_dc_drop malformed)
	got=$(sigbed_ntmsig a expect-notice --to $SB_DC4:$SB_PORT --timeout 15 2>&1)
	ktap_diag "drops.malformed $before -> $after; afterwards: NOTICE $got; drops $(sigbed_jq dc '.dc.drops' | jq -c . 2>/dev/null)"
	[ "$after" -gt "$before" ] && [ "$got" = unknown_key ] && sigbed_running dc
	check "50 malformed datagrams: drops.malformed grows; the DC still answers" $? dc
fi
if needs "a replayed keepalive of A is dropped and counted" SERVERS_UP A_UP; then
	pcap=$SB_DIR/replay.pcap
	before=$(sigbed_dc_drop replay)
	# The next datagram A's ntmd sends the DC (a keepalive every $SB_KEEPALIVE s).
	sigbed_in a timeout $((SB_KEEPALIVE * 4 + 10)) tcpdump -n -U -i pub0 -c 1 -w "$pcap" \
		"udp and src host $SB_A4 and src port $SB_PORT and dst host $SB_DC4 and dst port $SB_PORT and udp[8:4] = 0x10" \
		>/dev/null 2>&1
	out=$(sigbed_ntmsig a replay "$pcap" --to $SB_DC4:$SB_PORT --kind 0x10 --count 3 2>&1)
	rc=$?
	sleep 1
	after=$(sigbed_dc_drop replay)
	ktap_diag "$out; drops.replay $before -> $after; A still registered: $(sigbed_node a registered)"
	[ $rc -eq 0 ] && [ "$after" -gt "$before" ] && rc=0 || rc=1
	check "a captured datagram of A sent again: drops.replay grows" $rc dc
fi

# --- 19: certificate login ---------------------------------------------------------------
C_UP=0
if needs "certificate login: node C registers" ACCOUNTS; then
	sigbed_add_public c $SB_C4
	sigbed_write_node_conf c "" "" certificate
	rc=1
	if sigbed_start c; then
		VIP4_C=$(sigbed_node c vip4)
		fq=$(sigbed_node c fqdn)
		ktap_diag "C: fqdn $fq vip4 $VIP4_C"
		[ "$fq" = "c.$SB_DOMAIN" ] && sigbed_in_pool "$VIP4_C" $SB_POOL4 && rc=0 && C_UP=1
	fi
	check "certificate login: node C ($SB_C4) registers as c.ntm.test (after the garbage: the DC still serves)" $rc c as dc
fi

# --- 20-21: DC restart ----------------------------------------------------------------------
if needs "DC restart keeps a and b with their virtual addresses" SERVERS_UP A_UP B_UP; then
	b4a=$(sigbed_dc_node a.$SB_DOMAIN vip4) b4b=$(sigbed_dc_node b.$SB_DOMAIN vip4)
	b6a=$(sigbed_dc_node a.$SB_DOMAIN vip6) b6b=$(sigbed_dc_node b.$SB_DOMAIN vip6)
	sigbed_stop dc
	r1=$?
	sigbed_start dc
	r2=$?
	a4=$(sigbed_dc_node a.$SB_DOMAIN vip4) b4=$(sigbed_dc_node b.$SB_DOMAIN vip4)
	a6=$(sigbed_dc_node a.$SB_DOMAIN vip6) b6=$(sigbed_dc_node b.$SB_DOMAIN vip6)
	ktap_diag "stop: exit $r1; before: a $b4a $b6a, b $b4b $b6b; after: a $a4 $a6, b $b4 $b6"
	rc=1
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -n "$a4" ] && [ "$a4" = "$b4a" ] && [ "$b4" = "$b4b" ] &&
		[ "$a6" = "$b6a" ] && [ "$b6" = "$b6b" ] && [ "$a4" = "$VIP4_A" ] && rc=0
	check "DC restart (SIGTERM, exit 0): dc nodes lists a and b with the same virtual addresses" $rc dc
fi
if needs "after the DC restart, A's keepalive captured before it is still a replay" SERVERS_UP A_UP; then
	# The capture of the replay case above predates the restart; the DC
	# keeps each key's receive high-water mark in its registry (D58).
	rc=1
	if [ -s "$SB_DIR/replay.pcap" ]; then
		before=$(sigbed_dc_drop replay)
		out=$(sigbed_ntmsig a replay "$SB_DIR/replay.pcap" --to $SB_DC4:$SB_PORT --kind 0x10 --count 3 2>&1)
		r=$?
		sleep 1
		after=$(sigbed_dc_drop replay)
		ktap_diag "$out; drops.replay $before -> $after after the restart"
		[ $r -eq 0 ] && [ $((after - before)) -ge 3 ] && rc=0
	else
		ktap_diag "no capture from before the restart"
	fi
	check "after the DC restart, A's keepalive captured before it is still dropped as a replay" $rc dc
fi
if needs "after the DC restart a fresh lookup works" A_UP; then
	rc=0
	if [ "$C_UP" = 1 ]; then
		# C never talked to A: this takes a new Direction Request.
		got=""
		end=$((EPOCHSECONDS + 60))
		while [ "$got" != "$VIP4_A" ] && [ "$EPOCHSECONDS" -lt "$end" ]; do
			got=$(sigbed_getent c ahostsv4 a.$SB_DOMAIN 2>/dev/null)
			[ "$got" = "$VIP4_A" ] || sleep 2
		done
		ktap_diag "C resolves a.$SB_DOMAIN: $got"
		[ "$got" = "$VIP4_A" ] && sigbed_in c ping -c 2 -i 0.3 -W 2 "$VIP4_A" >/dev/null 2>&1 || rc=1
	else
		ktap_diag "node C is not up: only B is checked"
	fi
	if [ "$B_UP" = 1 ]; then
		got=$(sigbed_getent b ahostsv4 a.$SB_DOMAIN 2>&1)
		ktap_diag "B resolves a.$SB_DOMAIN: $got"
		[ "$got" = "$VIP4_A" ] && sigbed_in b ping -c 2 -i 0.3 -W 2 "$VIP4_A" >/dev/null 2>&1 || rc=1
	fi
	check "after the DC restart: C resolves a.ntm.test (new tunnel) and pings A; so does B" $rc a b c dc
fi

# --- an expired key: the DC refuses it, the node logs in again -----------------------------------
if needs "expired key: the DC answers KEY_EXPIRED, the node logs in again" SERVERS_UP C_UP; then
	# Age C's K_ntmdc in the registry while the DC is down (the DC caches
	# keys it has used); C's next keepalive meets an expired key.
	old_key=$(sigbed_node c key_id)
	before=$(sigbed_dc_drop expired_key)
	sigbed_stop dc
	sqlite3 "$SB_DIR/dc/registry.db" "UPDATE keys SET expires = CAST(strftime('%s', 'now') AS INTEGER) - 60 WHERE fqdn = 'c.$SB_DOMAIN'"
	sigbed_start dc
	# C logged in during the DC restart above; NOTICEs are trusted once a
	# minute (D71), so the new login may come up to ~60 s + one
	# retransmission later: wait up to 120 s.
	sigbed_wait 120 sh -c "[ \"\$(ip netns exec ${SB_NS[c]} $NTMCTL status -j --socket $(sigbed_sock c) | jq -r '.node.key_id')\" != \"$old_key\" ]"
	sigbed_wait 30 sh -c "ip netns exec ${SB_NS[c]} $NTMCTL status -j --socket $(sigbed_sock c) | jq -e '.node.registered' >/dev/null"
	new_key=$(sigbed_node c key_id)
	after=$(sigbed_dc_drop expired_key)
	ktap_diag "C's key $old_key -> $new_key; DC drops.expired_key $before -> $after; $(grep -m1 'KEY_EXPIRED' "$(sigbed_logfile c)")"
	[ -n "$new_key" ] && [ "$new_key" != "$old_key" ] && [ "$after" -gt "$before" ] &&
		[ "$(sigbed_node c registered)" = true ] && sigbed_in c ping -c 2 -i 0.3 -W 3 "$VIP4_A" >/dev/null 2>&1
	check "expired key: the DC answers NOTICE KEY_EXPIRED; C logs in again (new key) and keeps working" $? c dc as
fi

# --- acquire, mobility, a node's own defences ----------------------------------------------------
if needs "acquire: C pings B's vip4 without a lookup; the kernel's acquire event builds the tunnel" B_UP C_UP; then
	# C never resolved b: no tunnel. The first packet is held by ntm.ko,
	# which tells ntmd (acquire); ntmd asks the DC by address; B (NATed) opens.
	sigbed_in c ping -c 8 -i 1 -W 3 "$VIP4_B" >"$SB_DIR/ping-acquire" 2>&1
	recv=$(awk '/packets transmitted/ { print $4 }' "$SB_DIR/ping-acquire")
	ktap_diag "C->B by address: $(grep 'packets transmitted' "$SB_DIR/ping-acquire"); C acquires: $(sigbed_node c acquires)"
	[ "${recv:-0}" -ge 1 ] && sigbed_tunnel_to c "$VIP4_B" && [ "$(sigbed_node c acquires)" -ge 1 ]
	check "acquire: C pings B's vip4 without a lookup; the tunnel is built from the kernel's acquire event" $? c b dc
fi
if needs "garbage to a node's port is counted; the node keeps working" C_UP; then
	before=$(sigbed_jq c '[.node.drops[]] | add')
	sigbed_ntmsig a garbage --to $SB_C4:$SB_PORT --kind short --count 10 --seed 7 >/dev/null
	sigbed_ntmsig a garbage --to $SB_C4:$SB_PORT --kind 0x10 --count 10 --seed 7 >/dev/null
	sigbed_ntmsig a garbage --to $SB_C4:$SB_PORT --kind 0x11 --count 10 --seed 7 >/dev/null
	sleep 1
	after=$(sigbed_jq c '[.node.drops[]] | add')
	ktap_diag "C drops $before -> $after: $(sigbed_jq c '.node.drops' | jq -c . 2>/dev/null)"
	[ "${after:-0}" -ge $((${before:-0} + 30)) ] && sigbed_running c &&
		sigbed_in c ping -c 2 -i 0.3 -W 3 "$VIP4_A" >/dev/null 2>&1
	check "30 garbage datagrams to node C's port: all counted as drops; C still reaches A" $? c
fi
if needs "mobility: B changes its address and registers again; traffic continues" A_UP B_UP; then
	# B moves inside its LAN: new address, old one gone. Its NAT mapping
	# changes with it; ntmd sees the change (rtnetlink) and registers again,
	# and the first authenticated packet from B moves A's endpoint (roaming).
	ep_before=$(sigbed_jq a ".node.peers[] | select(.fqdn == \"b.$SB_DOMAIN\") | .endpoint")
	# (flush, not del: deleting a primary address takes its secondaries along)
	sigbed_in b ip addr flush dev lan0
	sigbed_in b ip addr add 10.0.0.12/24 dev lan0
	sigbed_in b ip route replace default via $SB_LAN_R4
	ok=1
	if sigbed_wait 60 sh -c "ip netns exec ${SB_NS[dc]} $NTMCTL --config $(sigbed_conf dc) dc nodes -j | grep -q '10.0.0.12:$SB_PORT'"; then
		sigbed_in b ping -c 3 -i 0.5 -W 3 "$VIP4_A" >"$SB_DIR/ping-move" 2>&1 &&
			sigbed_in a ping -c 3 -i 0.5 -W 3 "$VIP4_B" >>"$SB_DIR/ping-move" 2>&1 && ok=0
	else
		ktap_diag "the DC did not see B's new local address within 60 s"
	fi
	ep_after=$(sigbed_jq a ".node.peers[] | select(.fqdn == \"b.$SB_DOMAIN\") | .endpoint")
	ktap_diag "B's local endpoints at the DC: $(sigbed_dc_node b.$SB_DOMAIN local_eps | jq -c . 2>/dev/null); A's endpoint for B: $ep_before -> $ep_after"
	grep 'packets transmitted' "$SB_DIR/ping-move" 2>/dev/null | while IFS= read -r l; do ktap_diag "$l"; done
	check "mobility: B changes address, registers again (DC sees 10.0.0.12), ping both ways still works" $ok a b dc
fi

# --- 22: wrong password ----------------------------------------------------------------------
if needs "a wrong password makes ntmd exit with 'wrong account or password'" ACCOUNTS; then
	sigbed_add_public w 192.0.2.4
	sigbed_password w "not the password of a"
	sigbed_write_node_conf w "a@$SB_DOMAIN" "$(sigbed_pwfile w)"
	sigbed_start_bg w
	sigbed_wait_exit w 60
	rc=$?
	ktap_diag "ntmd exit status $rc; $(grep -m1 -i 'wrong account or password' "$(sigbed_logfile w)")"
	ok=1
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi 'wrong account or password' "$(sigbed_logfile w)" && ok=0
	check "wrong password: ntmd exits non-zero within 60 s saying 'wrong account or password'" $ok w as
fi

# --- 23-24: clean shutdown ----------------------------------------------------------------------
if needs "clean shutdown of A removes ntm0 and its tunnels" A_UP; then
	sigbed_stop a
	r1=$?
	sigbed_in a ip link show $SB_DEV >/dev/null 2>&1
	r2=$?
	left=$(sigbed_in a "$NTMCTL" -j show 2>/dev/null | jq -c '[.. | objects | select(has("local_index"))] | length' 2>/dev/null)
	ktap_diag "ntmd exit $r1; ip link show $SB_DEV: $([ $r2 -eq 0 ] && echo present || echo gone); tunnels left: ${left:-0}"
	[ $r1 -eq 0 ] && [ $r2 -ne 0 ] && [ "${left:-0}" = 0 ]
	check "clean shutdown of A: exit 0, $SB_DEV gone, ntmctl shows no tunnel" $? a
fi
if needs "the DC marks A offline after its deregistration" A_UP SERVERS_UP; then
	sigbed_wait 15 sh -c "[ \"\$(ip netns exec ${SB_NS[dc]} $NTMCTL --config $(sigbed_conf dc) dc nodes -j | jq -r '.. | objects | select(.fqdn? == \"a.$SB_DOMAIN\") | .online')\" = false ]"
	on=$(sigbed_dc_node a.$SB_DOMAIN online)
	ktap_diag "a.$SB_DOMAIN online: $on; still has vip4 $(sigbed_dc_node a.$SB_DOMAIN vip4)"
	[ "$on" = false ] && [ "$(sigbed_dc_node a.$SB_DOMAIN vip4)" = "$VIP4_A" ]
	check "the DC marks A offline at once (Deregistration) and keeps its virtual addresses" $? dc
fi

ktap_diag "total time $((EPOCHSECONDS - T0)) s"
ktap_finish
