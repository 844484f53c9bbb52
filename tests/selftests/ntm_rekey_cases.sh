#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_rekey_cases.sh - the rekey of a data tunnel beyond the happy path of
# ntm_tunnel_life (Documentation/protocol/tunnel-keys.rst, "Rekeying";
# decisions.rst D50-D52):
#
#   - through a Relay Server: B and F (F behind a NAT that maps per
#     destination, so the path stays relayed) rekey every 10 s under a ping
#     each way; nothing is lost, the relay joins every new index pair in a
#     new kernel session and drops the old one after its grace (before the
#     idle timeout could), and the traffic keeps passing the relay;
#   - hostile Tunnel Requests toward a waiter (A, whose tunnel D opened),
#     sent by lib/ntmsig.py from another host with the communication's
#     K_tun and K_tmp (the DC runs with NTM_KEYLOG): a rekey of a
#     communication that has no tunnel yet (NOT_FOUND), a GENERATION equal
#     to the current one or two above it (MALFORMED), one two above while a
#     successor is pending, a wrong K_tmp (AUTH_FAILED); all answered only
#     with sealed refusals and counted; a wrong K_tun or an unknown
#     communication gets no answer at all.  A valid rekey the opener then
#     abandons: a retransmission gets the remembered answer (same
#     EPHEMERAL), a new request replaces the pending successor, and after
#     30 s unused it is deleted and the old key stays.  Throughout, the
#     tunnel A <-> D carries pings with its generation unchanged.
#
# Testbed: lib/relaybed.sh with one relay (RS1).  The test's own envelopes
# use sequence numbers from 40 on: above what D sends in the minutes the
# test lasts, and within the 64-entry replay window of D's later ones.
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"
. "$HERE/lib/relaybed.sh"

ktap_plan 13

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

num() { case $1 in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac; }
D=$SB_DOMAIN
REKEY=10 # the minimum rekey_after
T0=$EPOCHSECONDS
el() { echo "$((EPOCHSECONDS - T0)) s"; }

# --- 1: testbed and servers ------------------------------------------------------------
relaybed_setup || ktap_bail "relay testbed setup failed"
sigbed_add_public c $SB_C4 || ktap_bail "host C"
DC_KEYLOG=$SB_DIR/dc-keys.log
sigbed_write_as_conf
sigbed_write_dc_conf "relays = [\"rs1.infra.test:$RB_RS_TLS_PORT\"]"
relaybed_write_rs_conf rs1 $RB_RS1
SERVERS=0
export NTM_KEYLOG=$DC_KEYLOG
sigbed_start_bg dc
unset NTM_KEYLOG
sigbed_start rs1 && sigbed_wait_ready dc && sigbed_start as &&
	relaybed_wait_relays 30 1 &&
	SERVERS=1
check "testbed, AS, DC (NTM_KEYLOG) and RS1 up, the DC reaches RS1 ($(el))" $((1 - SERVERS)) dc rs1 as

# --- 2: nodes --------------------------------------------------------------------------
# B and F: short rekey_after (B opens their tunnel: it asks).  D opens A <-> D
# (D is NATed) and rekeys after 40 packets: once, when the test makes it.
NODES=0
if needs "nodes A (public), B, D, F (NATed) register" SERVERS; then
	rc=0
	for n in a b d f; do
		sigbed_password $n "pw $n $(sigbed_hex 4)"
		sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile $n)" >/dev/null 2>&1 || rc=1
	done
	sigbed_write_node_conf a "a@$D" "$(sigbed_pwfile a)"
	sigbed_write_node_conf b "b@$D" "$(sigbed_pwfile b)" password "rekey_after = $REKEY"
	sigbed_write_node_conf f "f@$D" "$(sigbed_pwfile f)" password "rekey_after = $REKEY"
	sigbed_write_node_conf d "d@$D" "$(sigbed_pwfile d)" password "rekey_packets = 40"
	for n in a b d f; do sigbed_start_bg $n || rc=1; done
	for n in a b d f; do sigbed_wait_ready $n || rc=1; done
	VIP4_A=$(sigbed_node a vip4) VIP6_A=$(sigbed_node a vip6)
	VIP4_B=$(sigbed_node b vip4) VIP4_D=$(sigbed_node d vip4) VIP6_D=$(sigbed_node d vip6)
	VIP4_F=$(sigbed_node f vip4)
	ktap_diag "A $VIP4_A $VIP6_A; B $VIP4_B; D $VIP4_D $VIP6_D; F $VIP4_F"
	[ $rc -eq 0 ] && [ -n "$VIP4_A" ] && [ -n "$VIP4_D" ] && NODES=1
	check "nodes A (public), B, D, F (NATed) register ($(el))" $((1 - NODES)) a b d f dc
fi

# keys COMM: "K_TUN K_TMP" of a communication, from the DC's key log
keys() {
	awk -v c="comm=$(printf '%08x' "$1")" '$1 == "COMM" && $2 == c {
		split($3, t, "="); split($4, m, "="); k = t[2] " " m[2] } END { print k }' "$DC_KEYLOG"
}
# hostile COMM K_TUN K_TMP ARGS...: Tunnel Requests to A as D (lib/ntmsig.py
# tunnel-request), sent from host C; one result line each
hostile() {
	local comm=$1 kt=$2 km=$3
	shift 3
	sigbed_ntmsig c tunnel-request --to "$SB_A4:$SB_PORT" --comm-id "$comm" --k-tun "$kt" --k-tmp "$km" \
		--fqdn "d.$D" --vip4 "$VIP4_D" ${VIP6_D:+--vip6 "$VIP6_D"} \
		--peer-fqdn "a.$D" --peer-vip4 "$VIP4_A" ${VIP6_A:+--peer-vip6 "$VIP6_A"} --cipher "$CIPHER" "$@" 2>&1
}
# field NAME LINE...: NAME=VALUE of result lines, one value per line
field() {
	local f=$1
	shift
	printf '%s\n' "$@" | grep -o "\b$f=[^ ]*" | cut -d= -f2
}
peer() { relaybed_peer "$1" "$2" ".$3 | if . == null then empty else . end"; }
failed_a() { num "$(sigbed_node a tunnels_failed)"; }
refusals_a() { grep -c "tunnel request from $SB_C4:.*$1" "$(sigbed_logfile a)"; }

# --- 3: a rekey of a communication that has no tunnel ------------------------------------
# D's Tunnel Request cannot reach A for a moment: A holds the communication
# (it waits) but no tunnel.
NOTFOUND=0
if needs "a rekey request for a communication without a tunnel: a sealed NOT_FOUND, counted" NODES; then
	sigbed_in a nft -f - <<-EOF
		table inet rk_block {
			chain in { type filter hook input priority -10; ip saddr $RB_R2 meta l4proto udp drop; }
		}
	EOF
	sigbed_getent a ahostsv4 "d.$D" >"$SB_DIR/getent-ad" 2>&1 &
	SB_BGPIDS="$! $SB_BGPIDS"
	sigbed_wait 30 grep -q "route direction for d.$D: the peer opens" "$(sigbed_logfile a)"
	COMM1=$(grep -o "route direction for d.$D: the peer opens.*(comm 0x[0-9a-f]*)" "$(sigbed_logfile a)" |
		tail -n 1 | grep -o '0x[0-9a-f]*')
	read -r KT1 KM1 <<<"$(keys "${COMM1:-0}")"
	CIPHER=2
	f0=$(failed_a)
	out=$(hostile "${COMM1:-1}" "${KT1:-00}" "${KM1:-00}" --seq 40 --generation 1)
	f1=$(failed_a)
	nt=$(sigbed_tunnels a | grep -c .)
	sigbed_in a nft delete table inet rk_block
	ktap_diag "comm $COMM1 (keys ${KT1:+known}): $out; A's tunnels_failed $f0 -> $f1, kernel tunnels $nt"
	ktap_diag "A: $(grep "tunnel request from $SB_C4" "$(sigbed_logfile a)" | tail -n 1)"
	[ "$(field status "$out")" = not_found ] && [ "$f1" -gt "$f0" ] && [ "$nt" = 0 ] &&
		[ "$(refusals_a 'no tunnel of this communication')" = 1 ] && NOTFOUND=1
	check "a rekey request for a communication without a tunnel: a sealed NOT_FOUND, counted" $((1 - NOTFOUND)) a
fi

# --- 4: the tunnel A <-> D, rekeyed once ---------------------------------------------------
AD=0
if needs "A <-> D: D's tunnel once it gets through; D rekeys after 40 packets (generation 1)" NODES; then
	sigbed_wait 25 sigbed_tunnel_to a "$VIP4_D" ||
		{ sigbed_getent a ahostsv4 "d.$D" >/dev/null 2>&1; sigbed_wait 20 sigbed_tunnel_to a "$VIP4_D"; }
	# 50 packets: one rekey at 40, at most 10 under the new key; the test
	# sends 12 more (points 10 and 12), so D does not rekey again
	sigbed_in a ping -q -i 0.2 -c 25 -W 2 "$VIP4_D" >"$SB_DIR/ping-ad0" 2>&1
	sigbed_wait 20 sh -c "[ \"\$(ip netns exec ${SB_NS[a]} $NTMCTL status -j --socket $(sigbed_sock a) | jq -r '.node.peers[0] | \"\\(.generation) \\(.changing_key)\"')\" = '1 false' ]"
	GEN=$(peer a "d.$D" generation)
	COMM=$(peer a "d.$D" comm_id)
	IDX_A=$(peer a "d.$D" local_index)
	IDX_D=$(peer d "a.$D" local_index)
	case $(peer a "d.$D" cipher) in aes*) CIPHER=1 ;; *) CIPHER=2 ;; esac
	read -r KT KM <<<"$(keys "${COMM:-0}")"
	ktap_diag "comm $(printf '%#x' "${COMM:-0}") (first one $COMM1); generation A $GEN D $(peer d "a.$D" generation); role A $(peer a "d.$D" role); indexes A $IDX_A D $IDX_D; $(tail -n 2 "$SB_DIR/ping-ad0" | head -n 1)"
	[ "$GEN" = 1 ] && [ "$(peer d "a.$D" generation)" = 1 ] && [ "$(peer a "d.$D" role)" = waiter ] &&
		[ -n "$KT" ] && [ -n "$KM" ] && AD=1
	check "A <-> D: D's tunnel once it gets through; D rekeys after 40 packets (generation $GEN)" $((1 - AD)) a d
fi

# --- 5-7: rekeys through the relay ------------------------------------------------------------
BF=0
if needs "B -> F (F behind a per-destination NAT): a relayed tunnel" NODES; then
	got=$(sigbed_getent b ahostsv4 "f.$D" 2>&1)
	sigbed_wait 20 sigbed_in b ping -c1 -W1 "$VIP4_F"
	ktap_diag "getent: $got; path B $(peer b "f.$D" path.path) via $(peer b "f.$D" path.relay), F $(peer f "b.$D" path.path); role B $(peer b "f.$D" role)"
	[ "$got" = "$VIP4_F" ] && [ "$(peer b "f.$D" path.path)" = relay ] && BF=1
	check "B -> F (F behind a per-destination NAT): a relayed tunnel" $((1 - BF)) b f dc rs1
fi
RELAYED=0
rs_sessions() { sigbed_in rs1 "$NTMCTL" -j relay show $RB_RS_DEV 2>/dev/null; }
# rs_gone: none of RS1's kernel sessions $S_END is left
rs_gone() {
	[ "$(rs_sessions | jq --argjson s "$S_END" '[.[] | select(.id as $i | $s | any(.[]; . == $i))] | length')" = 0 ]
}
if needs "a ping each way across rekeys through the relay loses nothing" BF; then
	r0=$(num "$(relaybed_relay_rx rs1)")
	c0=$(num "$(sigbed_jq rs1 .rs.sessions_created)")
	g0=$(peer b "f.$D" generation)
	sigbed_in b ping -q -i 0.1 -w 33 -c 300 "$VIP4_F" >"$SB_DIR/ping-bf" 2>&1 &
	pa=$!
	sigbed_in f ping -q -i 0.2 -w 33 -c 150 "$VIP4_B" >"$SB_DIR/ping-fb" 2>&1 &
	pb=$!
	wait $pa
	wait $pb
	# the pings may end in the middle of a rekey (every $REKEY s, and a
	# slow guest stretches the pings): read the generations between two
	# rekeys, when neither side is changing its key
	# (one status read per side and round: each costs seconds in the guest).
	# The generations checked are the ones read here: the reads below take
	# seconds more, long enough for the next rekey to start between them.
	ST_B="" ST_F=""
	settled() {
		ST_B=$(relaybed_peer b "f.$D" '"\(.generation) \(.changing_key)"')
		ST_F=$(relaybed_peer f "b.$D" '"\(.generation) \(.changing_key)"')
		[ "${ST_B#* }" = false ] && [ "$ST_B" = "$ST_F" ]
	}
	sigbed_wait 20 settled || ktap_diag "B and F not settled 20 s after the pings: B '$ST_B', F '$ST_F'"
	T_END=$EPOCHSECONDS
	S_END=$(rs_sessions | jq -c '[.[] | .id]')
	# when the sessions of now are all gone, noted while the test goes on
	(
		while [ "$EPOCHSECONDS" -lt $((T_END + 90)) ]; do
			if rs_gone; then
				date +%s >"$SB_DIR/rs-gone"
				exit 0
			fi
			sleep 2
		done
	) &
	SB_BGPIDS="$! $SB_BGPIDS"
	r1=$(num "$(relaybed_relay_rx rs1)")
	bf=$(grep -o '[0-9]* packets transmitted, [0-9]* received' "$SB_DIR/ping-bf")
	fb=$(grep -o '[0-9]* packets transmitted, [0-9]* received' "$SB_DIR/ping-fb")
	GEN_B=$(num "${ST_B%% *}")
	GEN_F=$(num "${ST_F%% *}")
	read -r bft _ _ bfr _ <<<"$bf"
	read -r fbt _ _ fbr _ <<<"$fb"
	ktap_diag "B->F: $bf; F->B: $fb; generation $g0 -> B $GEN_B F $GEN_F; rekeys B $(peer b "f.$D" rekeys) F $(peer f "b.$D" rekeys); node counters B $(sigbed_node b rekeys)/$(sigbed_node b rekeys_failed) F $(sigbed_node f rekeys); RS forwarded $((r1 - r0)); paths B $(peer b "f.$D" path.path) F $(peer f "b.$D" path.path)"
	ktap_diag "B's log: $(grep -E 'rekey|key [0-9]+ (installed|retired)' "$(sigbed_logfile b)" | tail -n 3 | tr '\n' '|')"
	[ "$(num "$bft")" -ge 250 ] && [ "$bft" = "$bfr" ] && [ "$(num "$fbt")" -ge 120 ] && [ "$fbt" = "$fbr" ] &&
		[ "$GEN_B" -ge 2 ] && [ "$GEN_F" = "$GEN_B" ] && [ "$(num "$(peer b "f.$D" rekeys)")" -ge 2 ] &&
		[ $((r1 - r0)) -ge $((bfr + fbr)) ] &&
		[ "$(peer b "f.$D" path.path)" = relay ] && [ "$(peer f "b.$D" path.path)" = relay ] && RELAYED=1
	check "a ping each way across $GEN_B rekeys (every $REKEY s) through the relay loses nothing: $bf / $fb; RS1 forwarded $((r1 - r0))" \
		$((1 - RELAYED)) b f rs1
fi
JOINED=0
# pair_session LOCAL REMOTE: ids of RS1's kernel sessions joining the two indexes
pair_session() {
	rs_sessions | jq -r --argjson a "${1:-0}" --argjson b "${2:-0}" \
		'.[] | select(([.legs[].index] | sort) == ([$a, $b] | sort)) | .id' 2>/dev/null
}
if needs "RS1 joined every new index pair in a kernel session, the old ones kept for their grace" RELAYED; then
	# B and F rekey every $REKEY s while the test reads, and one status
	# read takes seconds in the guest: B's index read now and F's read
	# later may belong to two generations, a pair no session ever joined.
	# Each node's own pair (its local and remote index, one read) is
	# consistent: RS1 programs the session before it forwards the response
	# that lets the opener use the new key, so both pairs must be joined.
	lb="" rb="" lf="" rf="" cur="" curf=""
	joined_now() {
		read -r lb rb <<<"$(relaybed_peer b "f.$D" '"\(.local_index) \(.remote_index)"')"
		read -r lf rf <<<"$(relaybed_peer f "b.$D" '"\(.local_index) \(.remote_index)"')"
		cur=$(pair_session "$lb" "$rb")
		curf=$(pair_session "$lf" "$rf")
		[ -n "$cur" ] && [ -n "$curf" ]
	}
	if ! sigbed_wait 20 joined_now; then
		ktap_diag "no session for B's pair $lb/$rb ('$cur') or F's $lf/$rf ('$curf') in 20 s"
		ktap_diag "RS1's kernel sessions: $(rs_sessions | jq -c '[.[] | {id, i: [.legs[].index]}]')"
		ktap_diag "RS1: $(grep -E 'rs: comm' "$(sigbed_logfile rs1)" | tail -n 4 | tr '\n' '|')"
	fi
	c1=$(num "$(sigbed_jq rs1 .rs.sessions_created)")
	ks=$(num "$(sigbed_jq rs1 .rs.kernel_sessions)")
	ktap_diag "RS1: sessions created $c0 -> $c1, kernel sessions $ks ($S_END); B $lb <-> $rb: session '$cur', F $lf <-> $rf: '$curf'; $(sigbed_jq rs1 '.rs | {communications, binds, forwarded, drops}' | jq -c .)"
	[ -n "$cur" ] && [ -n "$curf" ] && [ $((c1 - c0)) -ge $((GEN_B - g0)) ] && [ "$ks" -ge 2 ] && JOINED=1
	check "RS1 joined every new index pair in a kernel session ($((c1 - c0)) created for $((GEN_B - g0)) rekeys), the old ones kept for their grace ($ks sessions)" \
		$((1 - JOINED)) rs1 b f
fi

# --- 8-10: hostile rekey requests toward A ----------------------------------------------------
WRONGGEN=0
if needs "rekey requests with GENERATION g and g+2: sealed MALFORMED each, counted; the tunnel unchanged" AD; then
	f0=$(failed_a)
	mapfile -t out < <(hostile "$COMM" "$KT" "$KM" --seq 41 --generation "$GEN" --generation $((GEN + 2)))
	f1=$(failed_a)
	ktap_diag "${out[*]}; A's tunnels_failed $f0 -> $f1"
	ktap_diag "A: $(grep "tunnel request from $SB_C4" "$(sigbed_logfile a)" | tail -n 2 | tr '\n' '|')"
	[ "$(field status "${out[@]}" | tr '\n' ' ')" = "malformed malformed " ] && [ $((f1 - f0)) = 2 ] &&
		[ "$(refusals_a "GENERATION $GEN, expected $((GEN + 1))")" = 1 ] &&
		[ "$(refusals_a "GENERATION $((GEN + 2)), expected $((GEN + 1))")" = 1 ] &&
		[ "$(peer a "d.$D" generation)" = "$GEN" ] && [ "$(peer a "d.$D" changing_key)" = false ] &&
		[ "$(sigbed_tunnels a | grep -c .)" = 1 ] && WRONGGEN=1
	check "rekey requests with GENERATION $GEN and $((GEN + 2)) (current $GEN): sealed MALFORMED each, counted; the tunnel unchanged" \
		$((1 - WRONGGEN)) a
fi
PENDING=0
if needs "a valid rekey left pending: g+2 refused meanwhile, a retransmission answered alike, a new one replaces it" AD; then
	PRIV=$(sigbed_hex 32)
	TXID=$((0x$(sigbed_hex 3) + 1))
	rk0=$(num "$(sigbed_node a rekeys)")
	f0=$(failed_a)
	l1=$(hostile "$COMM" "$KT" "$KM" --seq 43 --generation $((GEN + 1)) --private "$PRIV" --txid "$TXID" --index 0x5eed0001)
	t1=$(sigbed_tunnels a | grep -c .)
	ch=$(peer a "d.$D" changing_key)
	l2=$(hostile "$COMM" "$KT" "$KM" --seq 44 --generation $((GEN + 2)))
	l3=$(hostile "$COMM" "$KT" "$KM" --seq 45 --generation $((GEN + 1)) --private "$PRIV" --txid "$TXID" --index 0x5eed0001)
	rk1=$(num "$(sigbed_node a rekeys)")
	succ1=$(sigbed_tunnels a | jq -r "select(.local_index != $IDX_A) | .local_index" | tr '\n' ' ')
	l4=$(hostile "$COMM" "$KT" "$KM" --seq 46 --generation $((GEN + 1)))
	rk2=$(num "$(sigbed_node a rekeys)")
	succ2=$(sigbed_tunnels a | jq -r "select(.local_index != $IDX_A) | .local_index" | tr '\n' ' ')
	f1=$(failed_a)
	T_PENDING=$EPOCHSECONDS
	for l in "$l1" "$l2" "$l3" "$l4"; do ktap_diag "$l"; done
	ktap_diag "A: kernel tunnels $t1 (changing_key $ch); successor '$succ1' then '$succ2'; rekeys $rk0 -> $rk1 -> $rk2; tunnels_failed $f0 -> $f1; generation $(peer a "d.$D" generation)"
	[ "$(field status "$l1")" = ok ] && [ "$(field kx "$l1")" = ok ] && [ "$t1" = 2 ] && [ "$ch" = true ] &&
		[ "$(field status "$l2")" = malformed ] &&
		[ "$(field status "$l3")" = ok ] && [ "$(field eph "$l3")" = "$(field eph "$l1")" ] && [ "$(field kx "$l3")" = ok ] &&
		[ "$(field status "$l4")" = ok ] && [ "$(field kx "$l4")" = ok ] && [ "$(field eph "$l4")" != "$(field eph "$l1")" ] &&
		[ $((rk1 - rk0)) = 1 ] && [ $((rk2 - rk0)) = 2 ] && [ $((f1 - f0)) = 1 ] &&
		[ -n "$succ1" ] && [ -n "$succ2" ] && [ "$succ1" != "$succ2" ] && [ "$(echo $succ2 | wc -w)" = 1 ] &&
		[ "$(peer a "d.$D" generation)" = "$GEN" ] && PENDING=1
	check "a valid rekey left pending: $((GEN + 2)) refused meanwhile, a retransmission gets the same answer, a new request replaces the successor" \
		$((1 - PENDING)) a
fi
NOANSWER=0
if needs "a wrong K_tmp: sealed AUTH_FAILED; a wrong K_tun or an unknown communication: no answer, counted; A <-> D pings" AD; then
	d0=$(sigbed_jq a '.node.drops | "\(.auth) \(.unknown_key)"')
	f0=$(failed_a)
	l1=$(hostile "$COMM" "$KT" "$(sigbed_hex 32)" --seq 47 --generation $((GEN + 1)))
	l2=$(hostile "$COMM" "$(sigbed_hex 32)" "$KM" --seq 48 --generation $((GEN + 1)))
	l3=$(hostile $((0x$(sigbed_hex 3) + 1)) "$(sigbed_hex 32)" "$(sigbed_hex 32)" --seq 1 --generation 1)
	d1=$(sigbed_jq a '.node.drops | "\(.auth) \(.unknown_key)"')
	f1=$(failed_a)
	read -r au0 uk0 <<<"$d0"
	read -r au1 uk1 <<<"$d1"
	ok=$(rc quiet sigbed_in a ping -c 3 -i 0.3 -W 2 "$VIP4_D")
	for l in "$l1" "$l2" "$l3"; do ktap_diag "$l"; done
	ktap_diag "A: drops auth $au0 -> $au1, unknown_key $uk0 -> $uk1; tunnels_failed $f0 -> $f1; ping A -> D: $ok; generation A $(peer a "d.$D" generation) D $(peer d "a.$D" generation)"
	[ "$(field status "$l1")" = auth_failed ] && [ "$(field answers "$l2")" = 0 ] && [ "$(field answers "$l3")" = 0 ] &&
		[ $((f1 - f0)) = 1 ] && [ $((au1 - au0)) -ge 1 ] && [ $((uk1 - uk0)) -ge 1 ] && [ "$ok" = 0 ] &&
		[ "$(peer a "d.$D" generation)" = "$GEN" ] && [ "$(peer d "a.$D" generation)" = "$GEN" ] && NOANSWER=1
	check "a wrong K_tmp: sealed AUTH_FAILED; a wrong K_tun or an unknown communication: no answer, counted; A <-> D pings, generation $GEN" \
		$((1 - NOANSWER)) a d
fi

# --- 11-12: after the grace ----------------------------------------------------------------------
if needs "RS1 drops the sessions of before the rekeys after their grace; B -> F still relayed" JOINED; then
	# the session in use when the ping ended is retired by the next rekey
	# (<= $REKEY s later) and removed 30 s after that: before the kernel's
	# idle timeout (session_idle 60 s) could remove it
	sigbed_wait $((T_END + 95 - $EPOCHSECONDS)) test -s "$SB_DIR/rs-gone"
	dt=$(($(cat "$SB_DIR/rs-gone" 2>/dev/null || echo 0) - T_END))
	left=$(rs_sessions | jq -c '[.[] | .id]')
	r0=$(num "$(relaybed_relay_rx rs1)")
	ok=$(rc quiet sigbed_in b ping -c 3 -i 0.3 -W 2 "$VIP4_F")
	r1=$(num "$(relaybed_relay_rx rs1)")
	cur=""
	b_joined() {
		read -r lb rb <<<"$(relaybed_peer b "f.$D" '"\(.local_index) \(.remote_index)"')"
		cur=$(pair_session "$lb" "$rb")
		[ -n "$cur" ]
	}
	sigbed_wait 20 b_joined || true
	ktap_diag "$dt s after the ping: sessions $S_END -> $left; current pair: '$cur'; B -> F ping $ok, RS1 forwarded $((r1 - r0)); generation B $(peer b "f.$D" generation); path $(peer b "f.$D" path.path)"
	check "RS1 drops the sessions of before the rekeys after their grace ($dt s); B -> F still relayed, in the current pair's session" \
		"$(rc rs_gone && [ "$dt" -gt 0 ] && [ "$dt" -lt 58 ] && [ -n "$cur" ] && [ "$ok" = 0 ] && [ $((r1 - r0)) -ge 6 ] &&
			[ "$(peer b "f.$D" path.path)" = relay ])" rs1 b f
fi
if needs "the abandoned successor goes after 30 s unused; the old key stays and carries the pings" PENDING; then
	alone() { [ "$(sigbed_tunnels a | grep -c .)" = 1 ] && [ "$(peer a "d.$D" changing_key)" = false ]; }
	sigbed_wait $((T_PENDING + 45 - $EPOCHSECONDS)) alone
	dt=$((EPOCHSECONDS - T_PENDING))
	la=$(sigbed_tunnels a | jq -r .local_index)
	ok=$(rc quiet sigbed_in a ping -c 3 -i 0.3 -W 2 "$VIP4_D")
	ktap_diag "$dt s after the last request: A's tunnels $la (was $IDX_A), generation A $(peer a "d.$D" generation) D $(peer d "a.$D" generation), D's index $(peer d "a.$D" local_index) (was $IDX_D); ping $ok"
	ktap_diag "A: $(grep -E 'successor|key [0-9]+' "$(sigbed_logfile a)" | tail -n 2 | tr '\n' '|')"
	check "the abandoned successor goes after 30 s unused ($dt s); the old key stays and carries the pings" \
		"$(rc alone && [ "$la" = "$IDX_A" ] && [ "$ok" = 0 ] && [ "$(peer a "d.$D" generation)" = "$GEN" ] &&
			[ "$(peer d "a.$D" generation)" = "$GEN" ] && [ "$(peer d "a.$D" local_index)" = "$IDX_D" ])" a d
fi

# --- 13: bookkeeping --------------------------------------------------------------------------
ktap_diag "A: $(sigbed_jq a '.node | {tunnels_built, tunnels_failed, rekeys, rekeys_failed, drops}' | jq -c .)"
ktap_diag "RS1: $(sigbed_jq rs1 '.rs | {communications, kernel_sessions, sessions_created, sessions_restored, forwarded, drops}' | jq -c .) ($(el) in all)"
check "every ntmd still runs; no kernel warning, oops or leak report" \
	"$(rc sh -c 'for p in '"${SB_PID[*]}"'; do kill -0 $p || exit 1; done; ! dmesg | grep -E "WARNING:|BUG:|Oops|unreferenced object"')"
ktap_finish
