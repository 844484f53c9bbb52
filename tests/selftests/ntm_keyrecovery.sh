#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_keyrecovery.sh - no server can recover the data keys of a tunnel
# (Documentation/protocol/tunnel-keys.rst, "Passive servers").
#
# The signalling testbed (lib/sigbed.sh): AS, DC and DNS on the public
# network, node A on it, node B behind the NAT router.  The DC runs with
# NTM_KEYLOG (it logs K_tun and K_tmp of every communication), node A too
# (it logs the data key and salts of every tunnel it programs).  A capture
# on every port of the public bridge records the signalling and the data
# tunnel while A and B ping each other by name with a marker in the
# payload; then A's tunnel is deleted and a ping builds a second one (a
# second exchange).  lib/keyrecovery.py then plays the servers with
# everything they hold -- their databases (K_ntmdc of both nodes), state
# directories, logs, the DC's key log and the capture:
#
#   - it opens every Tunnel Request/Response with K_tun and checks that
#     its own transcript reproduces AUTH (so it has the nodes' exact TH);
#   - EPHEMERAL is in every request and response, fresh per exchange, and
#     no body carries TLV 26 (the old SEALED_KEY);
#   - positive control: A's key log opens every data message of its
#     tunnels, and the plaintexts are the marked pings between the virtual
#     addresses (the decryptor works; the test can fail);
#   - every key a server can build (K_tun, K_tmp, K_auth, K_ntmdc, every
#     value of its databases and files, HKDF of each with every label of
#     the current and of the old SEALED_KEY scheme, the key schedule with DH
#     replaced by each and the real TH, X25519 of each with the captured
#     EPHEMERALs) opens no data message, even with the true salt; no
#     candidate salt is a true salt; no candidate reproduces CONFIRM.
#
# NTM_SIGBED_SAVE=DIR keeps the capture, key logs, databases and the
# analysis (keyrecovery.json) there.
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"

ktap_plan 12

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

T0=$EPOCHSECONDS
# --- 1: the testbed ------------------------------------------------------------------
sigbed_setup || ktap_bail "testbed setup failed"
check "testbed: namespaces, NAT router, knot and the test PKI up ($((EPOCHSECONDS - T0)) s)" 0

PCAP=$SB_DIR/keyrec.pcap
DC_KEYLOG=$SB_DIR/dc.keylog
A_KEYLOG=$SB_DIR/a.keylog
RESULT=$SB_DIR/keyrecovery.json
CAP_PID=""

keyrec_save() {
	[ -n "${NTM_SIGBED_SAVE:-}" ] && [ -n "$SB_DIR" ] || return 0
	mkdir -p "$NTM_SIGBED_SAVE/keyrec" &&
		cp -- "$PCAP" "$DC_KEYLOG" "$A_KEYLOG" "$RESULT" "$SB_DIR"/dc/*.db* "$SB_DIR"/as/*.db* \
			"$NTM_SIGBED_SAVE/keyrec/" 2>/dev/null
	return 0
}
keyrec_stop_capture() {
	[ -n "$CAP_PID" ] || return 0
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=""
}
# (ktap_at_cleanup prepends: these run before sigbed_teardown)
ktap_at_cleanup keyrec_save
ktap_at_cleanup keyrec_stop_capture

# --- 2: AS and DC (DC with a key log), accounts ----------------------------------------
sigbed_write_as_conf
sigbed_write_dc_conf
SERVERS_UP=0 ACCOUNTS=0
export NTM_KEYLOG=$DC_KEYLOG
sigbed_start dc && unset NTM_KEYLOG && sigbed_start as && SERVERS_UP=1
unset NTM_KEYLOG
if [ $SERVERS_UP = 1 ]; then
	rc=0
	for n in a b; do
		sigbed_password $n "keyrec $n $(sigbed_hex 4)"
		out=$(sigbed_account_add "$n@$SB_DOMAIN" "$n.$SB_DOMAIN" "$(sigbed_pwfile $n)" 2>&1) ||
			{ rc=1; ktap_diag "account add $n: $out"; }
	done
	[ $rc -eq 0 ] && ACCOUNTS=1
	grep -q 'NTM_KEYLOG is set' "$(sigbed_logfile dc)" ||
		{ ACCOUNTS=0; ktap_diag "the DC does not warn that NTM_KEYLOG is set"; }
fi
check "AS and DC (NTM_KEYLOG=dc.keylog, it warns) start; accounts a@, b@$SB_DOMAIN added (at $((EPOCHSECONDS - T0)) s)" \
	$((1 - ACCOUNTS)) as dc

# --- 3: the nodes -----------------------------------------------------------------------
NODES=0
if needs "nodes A (NTM_KEYLOG, public) and B (behind the NAT) register" ACCOUNTS; then
	sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)"
	sigbed_write_node_conf b "b@$SB_DOMAIN" "$(sigbed_pwfile b)"
	export NTM_KEYLOG=$A_KEYLOG
	sigbed_start_bg a
	unset NTM_KEYLOG
	sigbed_start_bg b
	if sigbed_wait_ready a && sigbed_wait_ready b; then
		VIP4_A=$(sigbed_node a vip4) VIP4_B=$(sigbed_node b vip4)
		VIP6_A=$(sigbed_node a vip6) VIP6_B=$(sigbed_node b vip6)
		ktap_diag "A: $VIP4_A $VIP6_A; B: $VIP4_B $VIP6_B (nated $(sigbed_node b nated))"
		[ -n "$VIP4_A" ] && [ -n "$VIP4_B" ] && NODES=1
	fi
	check "nodes A (NTM_KEYLOG=a.keylog, public) and B (behind the NAT) register (at $((EPOCHSECONDS - T0)) s)" \
		$((1 - NODES)) a b dc
fi

# --- 4: capture; traffic by name ---------------------------------------------------------
# Every port of the public bridge: A <-> DC, R (B) <-> DC, A <-> R.  Only
# addresses inside the VM's namespaces.
MARKER="kr$(sigbed_hex 4)"
MARKER_HEX=$(printf '%s' "$MARKER" | od -An -tx1 | tr -d ' \n')
TUNNEL1=0
if needs "capture; A and B ping each other by name (first exchange)" NODES; then
	ip netns exec "$SB_NS_SW" tcpdump -n -U -i any -s 0 -w "$PCAP" "udp port $SB_PORT" 2>"$PCAP.err" &
	CAP_PID=$!
	sigbed_wait 30 grep -q "listening on" "$PCAP.err" || ktap_diag "tcpdump: $(cat "$PCAP.err")"
	sigbed_resolv_run a ping -c 3 -i 0.3 -W 3 -p "$MARKER_HEX" b.$SB_DOMAIN >"$SB_DIR/ping1-ab" 2>&1
	r1=$?
	sigbed_resolv_run b ping -c 3 -i 0.3 -W 3 -p "$MARKER_HEX" a.$SB_DOMAIN >"$SB_DIR/ping1-ba" 2>&1
	r2=$?
	ktap_diag "marker \"$MARKER\" (ping -p $MARKER_HEX)"
	ktap_diag "A -> b.$SB_DOMAIN: $(grep -h 'packet loss' "$SB_DIR/ping1-ab"); B -> a.$SB_DOMAIN: $(grep -h 'packet loss' "$SB_DIR/ping1-ba")"
	ktap_diag "A's tunnels: $(sigbed_tunnels a | jq -c '{local_index, remote_index, cipher, endpoint, vip4}' | tr '\n' ' ')"
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && sigbed_tunnel_to a "$VIP4_B" && TUNNEL1=1
	check "capture on the bridge; A pings b.$SB_DOMAIN and B pings a.$SB_DOMAIN with the marker (first exchange)" \
		$((1 - TUNNEL1)) a b dc
fi

# --- 5: a second exchange ----------------------------------------------------------------
TUNNEL2=0
if needs "A's tunnel deleted; a ping builds a second tunnel (second exchange)" TUNNEL1; then
	li=$(sigbed_tunnels a | jq -r --arg v "$VIP4_B" 'select(.vip4 == $v) | .local_index' | head -1)
	sigbed_in a "$NTMCTL" tunnel del $SB_DEV --local-index "$li"
	# The next packet to B has no tunnel: acquire, Direction Request, B opens again.
	sigbed_in a ping -c 4 -i 0.5 -W 5 -p "$MARKER_HEX" "$VIP4_B" >"$SB_DIR/ping2-ab" 2>&1
	sigbed_wait 20 sh -c "[ \$(grep -c '^TUNNEL' '$A_KEYLOG') -ge 2 ]"
	sigbed_in a ping -c 3 -i 0.3 -W 3 -p "$MARKER_HEX" "$VIP4_B" >>"$SB_DIR/ping2-ab" 2>&1
	r1=$?
	sigbed_in b ping -c 3 -i 0.3 -W 3 -p "$MARKER_HEX" "$VIP4_A" >"$SB_DIR/ping2-ba" 2>&1
	r2=$?
	li2=$(sigbed_tunnels a | jq -r --arg v "$VIP4_B" 'select(.vip4 == $v) | .local_index' | head -1)
	ktap_diag "A's tunnel to B: local index $li deleted, now $li2; A -> B: $(grep -h 'packet loss' "$SB_DIR/ping2-ab" | tr '\n' ' '); B -> A: $(grep -h 'packet loss' "$SB_DIR/ping2-ba")"
	ktap_diag "key logs: A $(grep -c '^TUNNEL' "$A_KEYLOG" 2>/dev/null) TUNNEL lines, DC $(grep -c '^COMM' "$DC_KEYLOG" 2>/dev/null) COMM lines"
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -n "$li2" ] && [ "$li2" != "$li" ] &&
		[ "$(grep -c '^TUNNEL' "$A_KEYLOG")" -ge 2 ] && TUNNEL2=1
	check "A's tunnel deleted; a ping to B's vip4 builds a new one (second exchange); ping both ways" \
		$((1 - TUNNEL2)) a b dc
fi
sleep 1
keyrec_stop_capture

# --- 6-12: what the servers saw, and what they can do with it --------------------------------
ANALYSED=0
if needs "the servers' holdings collected and analysed (lib/keyrecovery.py)" TUNNEL2; then
	T1=$EPOCHSECONDS
	# Everything the servers hold: databases and state directories, their
	# logs and configuration, the DC's key log, and what the AS sees in
	# transit (each node's password at login).  Not node A's key log: it is
	# only the positive control.  No relay on this path, so no RS state.
	"$PY" "$SB_LIB_DIR/keyrecovery.py" analyse --pcap "$PCAP" --dc-keylog "$DC_KEYLOG" \
		--node-keylog "$A_KEYLOG" --marker "$MARKER_HEX" \
		--vip "$VIP4_A" --vip "$VIP4_B" --vip "$VIP6_A" --vip "$VIP6_B" \
		--server-path "$SB_DIR/dc" --server-path "$SB_DIR/as" --server-path "$DC_KEYLOG" \
		--server-path "$(sigbed_logfile dc)" --server-path "$(sigbed_logfile as)" \
		--server-path "$(sigbed_conf dc)" --server-path "$(sigbed_conf as)" \
		--secret-file "$(sigbed_pwfile a)" --secret-file "$(sigbed_pwfile b)" \
		--json "$RESULT" >"$RESULT.out" 2>&1
	prc=$?
	ktap_diag "keyrecovery.py: exit $prc in $((EPOCHSECONDS - T1)) s; $(jq -r '"\(.materials) materials, \(.candidates) candidate keys, \(.salts) candidate salts, \(.trials) AEAD trials"' "$RESULT" 2>/dev/null)"
	if jq -e .checks "$RESULT" >/dev/null 2>&1; then
		ANALYSED=1
	else
		ktap_diag "$(tail -n 20 "$RESULT.out")"
	fi
fi
# result NAME DESC: one check of the analysis, with its diagnostics
result() {
	local name=$1 desc=$2 ok
	if [ "$ANALYSED" != 1 ]; then
		ktap_diag "not tried: the analysis did not run"
		ktap_fail "$desc"
		return
	fi
	jq -r --arg n "$name" '.checks[$n].diag[]' "$RESULT" | while IFS= read -r l; do ktap_diag "$l"; done
	ok=$(jq -r --arg n "$name" '.checks[$n].ok' "$RESULT")
	ktap_result "$desc" "$(rc [ "$ok" = true ])"
}
result evidence "the servers' holdings: their databases (K_ntmdc of a and b), state, logs, the DC's key log (K_tun, K_tmp), the capture"
result transcripts "the DC opens every Tunnel Request/Response with K_tun; its transcripts reproduce AUTH (it has TH)"
result ephemeral "EPHEMERAL in every Tunnel Request and Response, distinct between the two exchanges; no TLV 26 (SEALED_KEY)"
result control "positive control: A's key log opens every data message; plaintexts are IP between the vips with the marker"
n=$(jq -r '.candidates // 0' "$RESULT" 2>/dev/null)
result attack "no key a server can build (${n:-0} candidates) opens a data message, with either cipher and the true salt"
result salts "no salt a server can build equals a tunnel's salt"
result confirm "no candidate confirmation key reproduces a captured CONFIRM"

ktap_diag "total time $((EPOCHSECONDS - T0)) s"
ktap_finish
