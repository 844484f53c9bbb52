#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_fuzz.sh - hostile datagrams on the ntm port, over IPv4 and IPv6:
# random bytes, empty payloads, data headers cut short, unknown receiver
# indexes, the right index with too little ciphertext or a bad tag, jumbo
# datagrams up to 65507 bytes (fragmented), UDP length fields that lie.
# The kernel must not oops (the runner checks the log), each kind must land
# in the expected counter, and the tunnel must still work.
# NTM_FUZZ_COUNT (default 200) sets the datagrams per kind, NTM_FUZZ_SEED
# the random seed (printed).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

C=${NTM_FUZZ_COUNT:-200}
SEED=${NTM_FUZZ_SEED:-$RANDOM}
ktap_plan $((1 + 2 * 7 + 3))
topo_need_ntm

topo_setup_or_bail
topo_tunnel_pair chacha20-poly1305 4 || ktap_bail "tunnel setup failed"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 || ktap_bail "no ping through the tunnel"
pkt_start "$NS_A"
ktap_ok "setup (seed $SEED, $C datagrams per kind)"

dstat() { num "$(topo_dstat "$NS_B" "$1")"; }
snap() { # snap: the relevant device counters of B as "a b c d e"
	nctl "$NS_B" -j device show $NTM_DEV 2>/dev/null |
		topo_json get stats.passed_up stats.drop_malformed stats.drop_no_tunnel \
			stats.drop_auth stats.rx_packets | tr '\n' ' '
}

# fuzz_kind DST KIND COUNT EXPR: send, then evaluate EXPR over the deltas
# pu ml nt au rx (passed_up, malformed, no_tunnel, auth, rx_packets)
fuzz_kind() {
	local dst=$1 kind=$2 n=$3 expr=$4 s0 s1 sent
	s0=$(snap)
	sent=$(pkt fuzz --dst "$dst" --port $NTM_PORT --kind "$kind" --count "$n" \
		--seed "$SEED" --receiver $IDX_B) || sent=0
	sleep 1
	s1=$(snap)
	read -r p0 m0 n0 a0 r0 <<<"$s0"
	read -r p1 m1 n1 a1 r1 <<<"$s1"
	pu=$((p1 - p0)) ml=$((m1 - m0)) nt=$((n1 - n0)) au=$((a1 - a0)) rx=$((r1 - r0))
	FUZZ_DETAIL="sent $sent: passed_up +$pu malformed +$ml no_tunnel +$nt auth +$au rx +$rx"
	[ "$sent" -eq "$n" ] && eval "$expr"
}

for fam in 4 6; do
	if [ $fam = 6 ]; then dst=$UL6_B; else dst=$UL4_B; fi
	t="IPv$fam"
	# Anything that is not a data message belongs to ntmd.
	fuzz_kind $dst random $C '[ $pu -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t random bytes ($FUZZ_DETAIL) -> passed up" $?
	ktap_diag "$FUZZ_DETAIL"
	fuzz_kind $dst zero 20 '[ $((pu + ml)) -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t empty payloads ($FUZZ_DETAIL) -> passed up or malformed" $?
	fuzz_kind $dst short $C '[ $ml -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t data header cut short ($FUZZ_DETAIL) -> drop_malformed" $?
	fuzz_kind $dst noindex $C '[ $nt -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t unknown receiver index ($FUZZ_DETAIL) -> drop_no_tunnel" $?
	fuzz_kind $dst shortct $C '[ $((ml + au)) -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t right index, shorter than a tag ($FUZZ_DETAIL) -> malformed/auth" $?
	fuzz_kind $dst badtag $C '[ $au -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t right index, random ciphertext ($FUZZ_DETAIL) -> drop_auth" $?
	fuzz_kind $dst jumbo 10 '[ $pu -eq $n ] && [ $rx -eq 0 ]' &&
		fuzz_kind $dst jumbodata 10 '[ $nt -eq $n ] && [ $rx -eq 0 ]'
	ktap_result "$t jumbo datagrams up to the UDP maximum, plain and as data ($FUZZ_DETAIL)" $?
done

# UDP length fields that disagree with the datagram: the UDP layer drops
# them; nothing may reach ntm as a data message.
s0=$(snap)
out=$(pkt badudp --src $UL4_A --dst $UL4_B --port $NTM_PORT --count 10)
sleep 1
s1=$(snap)
read -r p0 m0 n0 a0 r0 <<<"$s0"
read -r p1 m1 n1 a1 r1 <<<"$s1"
ktap_diag "bad UDP lengths: sent ${out:-?}; counters $s0 -> $s1"
ktap_result "UDP length fields that lie: no delivery, no crash" \
	$([ -n "$out" ] && [ "$r1" -eq "$r0" ] && echo 0 || echo 1)

# ntmd must survive everything it was handed.
kill -0 "$(topo_ntmd_pid "$NS_B")" 2>/dev/null
ktap_result "B's ntmd survived the datagrams passed up to it" $?

topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 2 >/dev/null && topo_ping "$NS_A" 6 -c 2 -W 2 >/dev/null
ktap_result "the tunnel still works after the fuzzing" $?

ktap_finish
