#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_tunnel_life.sh - a data tunnel after it is built
# (Documentation/protocol/tunnel-keys.rst, "Rekeying" and "Liveness"): the
# opener rekeys by time with a new X25519 exchange, make-before-break, so a
# ping running across several rekeys loses nothing; an idle tunnel is kept
# alive by authenticated probes; a peer that vanishes is declared dead on
# both sides, its tunnel removed, and the DNS hook stops answering with it;
# when it comes back, a new tunnel is built.  Testbed: lib/sigbed.sh (A
# public, B behind a NAT, so B opens).
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"

ktap_plan 9

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

# Short timers so the test sees several rekeys and a death in about a minute.
REKEY=15 KEEPALIVE=3 DEAD=9
NODE_EXTRA=$(printf 'rekey_after = %s\nkeepalive = %s\ndead_after = %s' $REKEY $KEEPALIVE $DEAD)

# peer FIELD NODE: a field of NODE's only peer (status .node.peers[0])
peer() { sigbed_jq "$2" ".node.peers[0].$1 // empty"; }

# --- 1: the testbed, the servers, two nodes -----------------------------------------------
T0=$EPOCHSECONDS
UP=0
rc=1
if sigbed_setup; then
	sigbed_write_as_conf
	sigbed_write_dc_conf
	if sigbed_start dc && sigbed_start as; then
		sigbed_password a "pw a $(sigbed_hex 4)"
		sigbed_password b "pw b $(sigbed_hex 4)"
		sigbed_account_add "a@$SB_DOMAIN" "a.$SB_DOMAIN" "$(sigbed_pwfile a)" >/dev/null &&
			sigbed_account_add "b@$SB_DOMAIN" "b.$SB_DOMAIN" "$(sigbed_pwfile b)" >/dev/null &&
			sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)" password "$NODE_EXTRA" &&
			sigbed_write_node_conf b "b@$SB_DOMAIN" "$(sigbed_pwfile b)" password "$NODE_EXTRA" &&
			sigbed_start a && sigbed_start b && rc=0 && UP=1
	fi
fi
VIP4_A=$(sigbed_node a vip4)
VIP4_B=$(sigbed_node b vip4)
check "AS, DC, node A (public) and node B (NAT) up: A $VIP4_A, B $VIP4_B (rekey_after $REKEY s, keepalive $KEEPALIVE s, dead_after $DEAD s; $((EPOCHSECONDS - T0)) s)" $rc as dc a b

# --- 2: the tunnel ---------------------------------------------------------------------------
TUNNEL=0
if needs "A resolves b.ntm.test; a tunnel joins A and B" UP; then
	got=$(sigbed_getent a ahostsv4 b.$SB_DOMAIN 2>&1)
	sigbed_wait 20 sigbed_tunnel_to a "$VIP4_B"
	sigbed_wait 20 sigbed_tunnel_to b "$VIP4_A"
	IDX_A0=$(peer local_index a)
	IDX_B0=$(peer local_index b)
	ktap_diag "getent: $got; A local $IDX_A0 (role $(peer role a)), B local $IDX_B0 (role $(peer role b))"
	[ "$got" = "$VIP4_B" ] && [ -n "$IDX_A0" ] && [ -n "$IDX_B0" ] && [ "$(peer role b)" = opener ] && TUNNEL=1
	check "A resolves b.ntm.test to $VIP4_B; a tunnel joins A and B, B opened it" $((1 - TUNNEL)) a b dc
fi

# --- 3-4: rekeys under traffic -------------------------------------------------------------------
REKEYED=0
if needs "a ping each way across rekeys loses nothing" TUNNEL; then
	# 40 s at 10 and 5 packets a second: at least two rekeys happen meanwhile
	sigbed_in a ping -q -i 0.1 -w 42 -c 400 "$VIP4_B" >"$SB_DIR/ping-ab" 2>&1 &
	pa=$!
	sigbed_in b ping -q -i 0.2 -w 42 -c 200 "$VIP4_A" >"$SB_DIR/ping-ba" 2>&1 &
	pb=$!
	wait $pa
	wait $pb
	ab=$(grep -o '[0-9]* packets transmitted, [0-9]* received' "$SB_DIR/ping-ab")
	ba=$(grep -o '[0-9]* packets transmitted, [0-9]* received' "$SB_DIR/ping-ba")
	GEN_A=$(peer generation a)
	GEN_B=$(peer generation b)
	ktap_diag "A->B: $ab; B->A: $ba; generation A $GEN_A, B $GEN_B; rekeys A $(peer rekeys a) B $(peer rekeys b)"
	ktap_diag "B's log: $(grep -E 'rekey|key [0-9]+ (installed|retired)' "$(sigbed_logfile b)" | tail -n 4 | tr '\n' '|')"
	rc=1
	# the same count sent and received, and most of what was planned was sent
	read -r abt _ _ abr _ <<<"$ab"
	read -r bat _ _ bar _ <<<"$ba"
	[ "${abt:-0}" -ge 300 ] && [ "$abt" = "$abr" ] && [ "${bat:-0}" -ge 150 ] && [ "$bat" = "$bar" ] &&
		[ "${GEN_A:-0}" -ge 2 ] && [ "${GEN_B:-0}" -ge 2 ] && rc=0 && REKEYED=1
	check "a ping each way across $GEN_B rekeys (every $REKEY s) loses nothing: $ab / $ba" $rc a b
fi
if needs "after the rekeys: one kernel tunnel each side, new indexes matching" REKEYED; then
	sleep 3 # the retirement grace
	ta=$(sigbed_tunnels a)
	tb=$(sigbed_tunnels b)
	na=$(printf '%s\n' "$ta" | grep -c .)
	nb=$(printf '%s\n' "$tb" | grep -c .)
	la=$(printf '%s' "$ta" | jq -r .local_index | head -n 1)
	ra=$(printf '%s' "$ta" | jq -r .remote_index | head -n 1)
	lb=$(printf '%s' "$tb" | jq -r .local_index | head -n 1)
	rb=$(printf '%s' "$tb" | jq -r .remote_index | head -n 1)
	ktap_diag "A: $na tunnel(s), local $la remote $ra (was $IDX_A0); B: $nb, local $lb remote $rb (was $IDX_B0)"
	check "after the rekeys: one kernel tunnel each side, new indexes that match" \
		"$(rc [ "$na" = 1 ] && [ "$nb" = 1 ] && [ "$la" = "$rb" ] && [ "$lb" = "$ra" ] &&
			[ "$la" != "$IDX_A0" ] && [ "$lb" != "$IDX_B0" ])" a b
fi

# --- 5: an idle tunnel stays ------------------------------------------------------------------------
if needs "an idle tunnel outlives dead_after: probes keep it" TUNNEL; then
	comm0=$(peer comm_id a)
	built0=$(sigbed_node a tunnels_built)
	sleep $((DEAD + 6))
	comm1=$(peer comm_id a)
	pa=$(peer probes_answered a)
	pb=$(peer probes_answered b)
	ok=$(rc quiet sigbed_in a ping -c 2 -i 0.3 -W 2 "$VIP4_B")
	ktap_diag "after $((DEAD + 6)) s idle: comm $comm0 -> $comm1; probes answered A $pa B $pb; built $built0 -> $(sigbed_node a tunnels_built)"
	check "an idle tunnel outlives dead_after ($DEAD s): probes answered, same tunnel, ping works" \
		"$(rc [ -n "$comm1" ] && [ "$comm1" = "$comm0" ] && [ "$((${pa:-0} + ${pb:-0}))" -gt 0 ] && [ "$ok" = 0 ] &&
			[ "$(sigbed_node a tunnels_built)" = "$built0" ])" a b
fi

# --- 6-8: a peer vanishes -----------------------------------------------------------------------------
GONE=0
if needs "B vanishes: A removes the tunnel within dead_after" TUNNEL; then
	# B is cut off the network: nothing in or out of its uplink
	ip netns exec "${SB_NS[b]}" nft -f - <<-EOF
		table inet vanish {
			chain in { type filter hook input priority -10; iifname != "lo" iifname != "$SB_DEV" drop; }
			chain out { type filter hook output priority -10; oifname != "lo" oifname != "$SB_DEV" drop; }
		}
	EOF
	t0=$EPOCHSECONDS
	sigbed_wait $((DEAD + 15)) sh -c "! ip netns exec ${SB_NS[a]} $NTMCTL -j tunnel show $SB_DEV | grep -q local_index"
	dt=$((EPOCHSECONDS - t0))
	na=$(sigbed_tunnels a | grep -c .)
	ktap_diag "A's tunnels after $dt s: $na; peers: $(sigbed_jq a '.node.peers | length'); dead: $(sigbed_node a tunnels_dead)"
	ktap_diag "A's log: $(grep 'removed' "$(sigbed_logfile a)" | tail -n 1)"
	[ "$na" = 0 ] && [ "$(sigbed_jq a '.node.peers | length')" = 0 ] && GONE=1
	check "B vanishes: A removes its tunnel and peer in $dt s (dead_after $DEAD s)" $((1 - GONE)) a
fi
if needs "B, cut off, removes its side too" GONE; then
	sigbed_wait $((DEAD + 10)) sh -c "! ip netns exec ${SB_NS[b]} $NTMCTL -j tunnel show $SB_DEV | grep -q local_index"
	nb=$(sigbed_tunnels b | grep -c .)
	check "B, cut off, removes its side too ($nb tunnels left)" "$(rc [ "$nb" = 0 ])" b
fi
if needs "A's DNS hook no longer answers b.ntm.test with B's address" GONE; then
	got=$(sigbed_getent a ahostsv4 b.$SB_DOMAIN 2>&1)
	ktap_diag "getent b.$SB_DOMAIN on A while B is away: '${got//$'\n'/ }'"
	check "A's DNS hook no longer answers b.ntm.test with B's address" "$(rc [ "$got" != "$VIP4_B" ])" a dc
fi

# --- 9: B comes back ------------------------------------------------------------------------------------
if needs "B comes back: A reaches it by name again" GONE; then
	ip netns exec "${SB_NS[b]}" nft delete table inet vanish
	resolves_b() { [ "$(sigbed_getent a ahostsv4 b.$SB_DOMAIN)" = "$VIP4_B" ]; }
	sigbed_wait 60 resolves_b
	ok=$(rc quiet sigbed_in a ping -c 3 -i 0.3 -W 2 "$VIP4_B")
	ktap_diag "B's log: $(grep -E 'registered|tunnel to' "$(sigbed_logfile b)" | tail -n 2 | tr '\n' '|')"
	check "B comes back: A resolves b.ntm.test and pings it through a new tunnel" "$ok" a b dc
fi

ktap_finish
