#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/handover.sh - handover benchmark (issue 12, item 6); runs
# INSIDE the VM as root:
#
#   NTM_BENCH_OUT=$PWD/build/bench scripts/vm --rw build/bench --timeout 1800 -- scripts/bench/handover.sh
#
# The testbed of tests/selftests/lib/relaybed.sh (AS, DC, knot, two relays,
# NATs; real ntmd on every node).  Node B, behind the NAT R (10.0.0.2), has
# a second uplink into the LAN of the NAT R2 (10.2.0.9), down at first -- the
# move of tests/selftests/ntm_relay_cases.sh, case 3.  B moves from R to R2,
# back to R, ... under traffic with a peer P:
#   direct  - P = A (public): the tunnel A <-> B is direct; A's kernel
#             endpoint follows B's new NAT mapping (roaming);
#   relayed - P = F behind R3, the per-destination NAT: the tunnel B <-> F
#             stays on a relay; the relay's leg follows B's Relay Bind.
# Each move (NTM_HO_REPS per case, cases interleaved) runs under:
#   - ping B -> P and ping P -> B, NTM_HO_PPS each (100), ping -D;
#   - iperf3 -R (P sends to B, NTM_HO_RATE, 20 Mbit/s; -i 0.1 s intervals);
#   - a long-lived TCP connection B -> P (handover_tcp.py: a 16-byte
#     record every 20 ms, echoed by P);
#   - `ntmctl -j monitor` in P and B, each line stamped with the guest's
#     clock; the daemons' logs around the move.
# B's move is one `ip -batch` (old address flushed, old link down, new link
# up, new address, default route); t_break and t_up are bash's
# $EPOCHREALTIME in B's namespace just before and just after it.
# handover_results.py turns the raw files into figures:
#   handover time - from t_up (B has its new address and route) to the
#     receipt of the first echo reply whose request was sent after t_up
#     (reply time from ping -D, request time = reply time - rtt): the first
#     packet delivered on the new path, there and back; for both pings (B's
#     view, P's view) -- the larger of the two is the handover time;
#   outage - the longest gap between two consecutive echo replies of a
#     ping (it includes the address change itself);
#   TCP - connections lost (iperf3 error, echo connection reset or silent at
#     the end) and the stall: the longest run of empty 0.1 s intervals of
#     iperf3, the longest gap between echoes of the long-lived connection.
# It reports numbers and never judges them.  The JSON document goes to
# stdout between the NTM-HANDOVER-BENCH-JSON markers and, with NTM_BENCH_OUT
# naming a writable directory, to $NTM_BENCH_OUT/handover-results.{json,txt,png}.
#
# Knobs: NTM_HO_REPS (5 moves per case), NTM_HO_CASES ("direct relayed"),
# NTM_HO_PPS (100), NTM_HO_RATE (20M), NTM_HO_BEFORE (3 s of traffic before
# the move), NTM_HO_AFTER (15 s after it), NTM_HO_CHART (0: no chart),
# NTM_BENCH_TABLE (0: no text table on stderr).
# shellcheck disable=SC2317,SC2034,SC2119,SC2015
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
SB_LOG_LEVEL=info
. "$REPO/tests/selftests/lib/sigbed.sh"
. "$REPO/tests/selftests/lib/relaybed.sh"

REPS=${NTM_HO_REPS:-5}
CASES=${NTM_HO_CASES:-direct relayed}
PPS=${NTM_HO_PPS:-100}
RATE=${NTM_HO_RATE:-20M}
BEFORE=${NTM_HO_BEFORE:-3}
AFTER=${NTM_HO_AFTER:-15}
DUR=$((BEFORE + AFTER))
D=$SB_DOMAIN
B_OLD4=$SB_B4       # on lan0, behind R
B_NEW4=10.2.0.9     # on lan1, behind R2
ECHO_PORT=7999
RES=$(mktemp -d /tmp/ntmhobench.XXXXXX)

log() { printf '[handover-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
err() { log "ERROR: $*"; printf '%s\n' "$*" >>"$RES/errors.txt"; }
put() {
	local f=$1
	shift
	(IFS=$'\t'; printf '%s\n' "$*") >>"$RES/$f"
}
now_ns() { date +%s%N; }

BG=""
cleanup() {
	local p
	for p in $BG; do kill "$p" 2>/dev/null; done
	sigbed_teardown
	rm -rf "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# bg NAME OUT CMD...: CMD in NAME's namespace in the background; $! is it
bg() {
	local n=$1 out=$2
	shift 2
	ip netns exec "${SB_NS[$n]}" "$@" >"$out" 2>&1 &
	BG="$! $BG"
}

# --------------------------------------------------------------- meta
put meta.tsv kernel "$(uname -r)"
put meta.tsv cpus "$(nproc)"
put meta.tsv date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put meta.tsv virt "$(if grep -qw hypervisor /proc/cpuinfo; then echo "qemu (hypervisor flag)"; else echo "none detected"; fi)"
put meta.tsv repetitions "$REPS"
put meta.tsv ping_pps "$PPS"
put meta.tsv iperf_rate "$RATE"
put meta.tsv seconds_before "$BEFORE"
put meta.tsv seconds_after "$AFTER"
put meta.tsv keepalive_s "$SB_KEEPALIVE"
T_START=$(now_ns)

# --------------------------------------------------------------- testbed
# second_uplink: B gets lan1, a port of R2's LAN, down until B moves there
# (as in tests/selftests/ntm_relay_cases.sh)
second_uplink() {
	ip link add lan1 netns "${SB_NS[b]}" type veth peer name lbmove netns "${SB_NS[r2]}" || return 1
	sigbed_in r2 ip link set lbmove master lanbr up
}

setup() {
	local n rc=0
	why=$(sigbed_missing)
	[ -n "$why" ] && { err "testbed unavailable: $why"; return 1; }
	TMPDIR=$RES relaybed_setup || { err "relay testbed setup failed"; return 1; }
	second_uplink || { err "B's second uplink failed"; return 1; }
	sigbed_write_as_conf
	sigbed_write_dc_conf "$(relaybed_dc_relays)"
	relaybed_write_rs_conf rs1 $RB_RS1
	relaybed_write_rs_conf rs2 $RB_RS2
	sigbed_start rs1 && sigbed_start rs2 && sigbed_start dc && sigbed_start as ||
		{ err "AS, DC or a relay did not start"; return 1; }
	relaybed_wait_relays 60 2 || err "the DC does not see both relays up"
	for n in a b f; do
		sigbed_password "$n" "bench $n $(sigbed_hex 6)"
		sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile "$n")" >/dev/null 2>&1 || rc=1
		sigbed_write_node_conf "$n" "$n@$D" "$(sigbed_pwfile "$n")"
	done
	for n in a b f; do sigbed_start_bg "$n" || rc=1; done
	for n in a b f; do sigbed_wait_ready "$n" 90 || rc=1; done
	[ $rc = 0 ] || { err "nodes did not come up"; return 1; }
	VIP4_A=$(sigbed_node a vip4) VIP4_B=$(sigbed_node b vip4) VIP4_F=$(sigbed_node f vip4)
	log "nodes: A $VIP4_A, B $VIP4_B (nated $(sigbed_node b nated)), F $VIP4_F ($(sigbed_node f nat_mapping))"
	# the tunnels: B resolves both peers (the DC directs them)
	[ "$(sigbed_getent b ahostsv4 a.$D 2>&1)" = "$VIP4_A" ] || err "B cannot resolve a.$D"
	[ "$(sigbed_getent b ahostsv4 f.$D 2>&1)" = "$VIP4_F" ] || err "B cannot resolve f.$D"
	sigbed_wait 30 sigbed_in b ping -c1 -W1 "$VIP4_A" || { err "no ping B -> A"; return 1; }
	sigbed_wait 30 sigbed_in b ping -c1 -W1 "$VIP4_F" || { err "no ping B -> F"; return 1; }
	put meta.tsv path_b_a "$(relaybed_peer b a.$D '.path.path')"
	put meta.tsv path_b_f "$(relaybed_peer b f.$D '.path.path') $(relaybed_peer b f.$D '.path.relay')"
	# servers in the peers
	for n in a f; do
		bg "$n" "$RES/iperf3-$n.log" iperf3 -s
		bg "$n" "$RES/echo-$n.log" "$PY" "$HERE/handover_tcp.py" server 0.0.0.0 $ECHO_PORT
	done
	sleep 1
}

peer_of() { case $1 in direct) echo a ;; relayed) echo f ;; esac; }
vip_of() { case $1 in a) echo "$VIP4_A" ;; f) echo "$VIP4_F" ;; b) echo "$VIP4_B" ;; esac; }

# B's uplink: "r" (lan0, 10.0.0.2) or "r2" (lan1, 10.2.0.9)
B_AT=r
# move FROM: B changes uplinks away from FROM; prints "T_BREAK T_UP" (ns).
# One ip process takes the whole change (ip -batch; a separate process per
# step costs up to a second each in a loaded emulated guest, and the node
# would be without any address in between); the times come from bash's
# $EPOCHREALTIME, no fork.  (Run in $(...): the caller flips B_AT.)
move() {
	local old new gw addr
	if [ "$1" = r ]; then old=lan0 new=lan1 gw=${B_NEW4%.*}.1 addr=$B_NEW4; else old=lan1 new=lan0 gw=$SB_LAN_R4 addr=$B_OLD4; fi
	sigbed_in b bash -c "t0=\${EPOCHREALTIME/./}
		printf '%s\\n' 'addr flush dev $old' 'link set $old down' 'link set $new up' 'addr add $addr/24 dev $new' \\
			'route replace default via $gw dev $new onlink' | ip -force -batch - || echo 'move failed' >&2
		t1=\${EPOCHREALTIME/./}
		echo \${t0}000 \${t1}000"
}

# monitor NAME OUT SECONDS: ntmctl -j monitor, every line stamped (ns)
monitor() {
	local n=$1 out=$2 s=$3
	ip netns exec "${SB_NS[$n]}" bash -c "timeout $s $NTMCTL -j monitor --socket $(sigbed_sock "$n") 2>&1 |
		while IFS= read -r l; do echo \"\${EPOCHREALTIME/./} \$l\"; done" >"$out" 2>&1 &
	BG="$! $BG"
}

# run_move CASE REP
run_move() {
	local c=$1 rep=$2 p vp pre pids="" t l from to n
	p=$(peer_of "$c") vp=$(vip_of "$p")
	pre=$RES/$c-$rep
	from=$B_AT
	for n in b "$p" rs1 rs2; do put "$c-$rep-loglines.tsv" "$n" "$(wc -l <"$(sigbed_logfile "$n")")"; done
	monitor "$p" "$pre-monitor-peer.txt" $((DUR + 3))
	monitor b "$pre-monitor-b.txt" $((DUR + 3))
	sleep 0.5
	bg b "$pre-iperf.json" timeout $((DUR + 30)) iperf3 -c "$vp" -R -J -i 0.1 -t "$DUR" -b "$RATE"
	pids="$pids $!"
	bg b "$pre-tcp.json" "$PY" "$HERE/handover_tcp.py" client "$vp" $ECHO_PORT "$DUR"
	pids="$pids $!"
	iv=$(awk -v p="$PPS" 'BEGIN { printf "%.4f", 1 / p }')
	bg b "$pre-ping-b.txt" ping -D -n -i "$iv" -W 1 -w "$DUR" "$vp"
	pids="$pids $!"
	bg "$p" "$pre-ping-peer.txt" ping -D -n -i "$iv" -W 1 -w "$DUR" "$VIP4_B"
	pids="$pids $!"
	sleep "$BEFORE"
	t=$(move "$from" 2>"$pre-move.err")
	[ -s "$pre-move.err" ] && err "$c $rep: move $from: $(tr '\n' ' ' <"$pre-move.err")"
	if [ "$from" = r ]; then B_AT=r2; else B_AT=r; fi
	to=$B_AT
	put moves.tsv "$c" "$rep" "$from" "$to" "${t% *}" "${t#* }"
	for l in $pids; do wait "$l" 2>/dev/null; done
	sleep 1
	# the daemons' log lines since the start of this move
	for n in b "$p" rs1 rs2; do
		l=$(awk -F'\t' -v n="$n" '$1 == n { print $2 }' "$RES/$c-$rep-loglines.tsv")
		tail -n +"$((l + 1))" "$(sigbed_logfile "$n")" | sed "s/^/$n /" >>"$pre-logs.txt"
	done
	log "$c $rep: B $from -> $to; ping B: $(tail -n 2 "$pre-ping-b.txt" | head -n 1); tcp: $(head -c 120 "$pre-tcp.json" | tr -d '\n')"
	# settle: the next move starts from a working path
	sigbed_wait 30 sigbed_in b ping -c1 -W1 "$vp" || err "$c $rep: no ping B -> $p 30 s after the move"
	sigbed_wait 30 sigbed_in "$p" ping -c1 -W1 "$VIP4_B" || err "$c $rep: no ping $p -> B 30 s after the move"
	put "$c-$rep-state.tsv" path "$(relaybed_peer b "$p.$D" '.path' | jq -c . 2>/dev/null)"
	put "$c-$rep-state.tsv" b_external "$(sigbed_node b external_ep)"
	put "$c-$rep-state.tsv" peer_tunnel "$(sigbed_tunnels "$p" | tr '\n' ' ' | head -c 1500)"
}

# --------------------------------------------------------------- run
modprobe ntm || err "modprobe ntm failed"
if setup; then
	put meta.tsv setup_seconds "$(awk -v a="$T_START" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
	# the order of the cases alternates from one repetition to the next, so
	# each case moves both ways (R -> R2 and R2 -> R)
	order=$CASES
	for rep in $(seq 1 "$REPS"); do
		for c in $order; do
			run_move "$c" "$rep"
		done
		# shellcheck disable=SC2086
		order=$(printf '%s\n' $order | tac | tr '\n' ' ')
	done
	put meta.tsv path_b_f_end "$(relaybed_peer b f.$D '.path' | jq -c . 2>/dev/null)"
	put meta.tsv rs_status "$(for n in rs1 rs2; do sigbed_jq $n '.rs | {communications, kernel_sessions, forwarded, binds}' | jq -c --arg n $n '{($n): .}'; done | tr '\n' ' ')"
fi
put meta.tsv total_seconds "$(awk -v a="$T_START" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
if [ -n "${NTM_BENCH_OUT:-}" ] && [ -n "$SB_DIR" ]; then
	mkdir -p "$NTM_BENCH_OUT/handover-logs" 2>/dev/null &&
		cp "$SB_DIR"/*.log "$NTM_BENCH_OUT/handover-logs/" 2>/dev/null
	mkdir -p "$NTM_BENCH_OUT/handover-raw" 2>/dev/null && cp "$RES"/*.* "$NTM_BENCH_OUT/handover-raw/" 2>/dev/null
fi

# --------------------------------------------------------------- report
$PY "$HERE/handover_results.py" collect "$RES" >"$RES/handover-results.json" || err "could not assemble results"
if [ -n "${NTM_BENCH_OUT:-}" ] && mkdir -p "$NTM_BENCH_OUT" 2>/dev/null &&
	cp "$RES/handover-results.json" "$NTM_BENCH_OUT/handover-results.json" 2>/dev/null; then
	$PY "$HERE/handover_results.py" table "$RES/handover-results.json" >"$NTM_BENCH_OUT/handover-results.txt"
	if [ "${NTM_HO_CHART:-1}" != 0 ]; then
		MPLCONFIGDIR=$RES $PY "$HERE/handover_results.py" chart "$RES/handover-results.json" "$NTM_BENCH_OUT/handover-results.png" ||
			log "no chart (python3-matplotlib missing?)"
	fi
	log "results written to $NTM_BENCH_OUT/handover-results.{json,txt,png}"
fi
echo "=== NTM-HANDOVER-BENCH-JSON BEGIN ==="
cat "$RES/handover-results.json"
echo "=== NTM-HANDOVER-BENCH-JSON END ==="
[ "${NTM_BENCH_TABLE:-1}" != 0 ] && $PY "$HERE/handover_results.py" table "$RES/handover-results.json" >&2
exit 0
