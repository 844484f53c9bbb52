#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_esp.sh - ESP tunnel mode in UDP (RFC 4303 + RFC 3948) against the
# kernel's own xfrm.  Namespace A has an ntm device whose UDP sockets are
# owned by a small python process (lib/ntm_genl.py own), ESP SAs programmed
# through raw genetlink (lib/ntm_genl.py esp-add); namespace B runs xfrm in
# tunnel mode with "encap espinudp" and a UDP_ENCAP_ESPINUDP socket.
#
# Cases: ping both ways for AES-GCM-128/256 and ChaCha20-Poly1305, with and
# without ESN; IPv6 inner; ESN across 2^32 in both directions; TCP both
# ways; replayed ESP counted as drop_replay; a flipped ciphertext byte as
# drop_auth; the 0xff NAT keepalive consumed; a non-ESP-marker datagram
# delivered to the socket owner; traffic-selector violations (inner source,
# inner destination); packets sealed by the test itself (valid, dummy next
# header 59, bad padding); soft+hard packet, byte and time lifetimes as
# events; modprobe -r under ESP traffic (the module is loaded again).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

GENL="$PY $TOPO_LIB_DIR/ntm_genl.py"
PORT=4500
ESP_DEV=ntm0
# inner addresses on B besides its VIP: a source outside A's REMOTE_TS and
# a destination on A's side outside A's LOCAL_TS
BAD_SRC=198.51.100.77
BAD_DST=198.51.100.9

ktap_plan 41
[ "$(id -u)" = 0 ] && modprobe -q ntm 2>/dev/null || { ktap_skip_rest "no root or no ntm module"; ktap_finish; }
command -v ip >/dev/null && ip xfrm state list >/dev/null 2>&1 ||
	{ ktap_skip_rest "no xfrm"; ktap_finish; }

topo_init bridge || ktap_bail "underlay setup failed"
T=$(topo_tmpdir)
topo_py_start "$NS_A" && topo_py_start "$NS_B" || ktap_bail "pyserve did not start"

# --- A: ntm0 with sockets owned by ntm_genl.py ------------------------------
A ip link add $ESP_DEV type ntm || ktap_bail "cannot create $ESP_DEV"
topo_bg "$NS_A" "$T/owner.log" $GENL own $ESP_DEV $PORT
OWNER_PID=$TOPO_LAST_PID
topo_wait 60 grep -q '^ready' "$T/owner.log" || { ktap_diag_file "$T/owner.log"; ktap_bail "socket owner did not start"; }
topo_ntm_addrs "$NS_A" $ESP_DEV || ktap_bail "inner addresses on A failed"

# --- B: xfrm, ESP-in-UDP socket, static policies -----------------------------
ESPINUDP_PY='
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 4500))
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
print("ready", flush=True)
time.sleep(86400)
'
topo_bg "$NS_B" "$T/espinudp.log" $PY -c "$ESPINUDP_PY"
topo_wait 20 grep -q ready "$T/espinudp.log" || ktap_bail "ESP-in-UDP socket in B did not start"
for a in $VIP4_B/32 $BAD_SRC/32; do B ip addr add $a dev lo; done
B ip addr add $VIP6_B/128 dev lo nodad
for d in $VIP4_A $BAD_DST; do
	B ip route add $d/32 dev vB src $VIP4_B
	B ip xfrm policy add src 198.51.100.0/24 dst $d/32 dir out \
		tmpl src $UL4_B dst $UL4_A proto esp reqid 2 mode tunnel
done
B ip -6 route add $VIP6_A/128 dev vB src $VIP6_B
B ip xfrm policy add src $VIP6_B/128 dst $VIP6_A/128 dir out \
	tmpl src $UL4_B dst $UL4_A proto esp reqid 2 mode tunnel
B ip xfrm policy add src $VIP4_A/32 dst 198.51.100.0/24 dir in \
	tmpl src $UL4_A dst $UL4_B proto esp reqid 1 mode tunnel
B ip xfrm policy add src $VIP6_A/128 dst $VIP6_B/128 dir in \
	tmpl src $UL4_A dst $UL4_B proto esp reqid 1 mode tunnel
ktap_ok "setup: A ntm0 with adopted sockets on $PORT, B xfrm ESP-in-UDP"

# --- helpers -------------------------------------------------------------------
# jf FIELD: a (dotted) field of the JSON object on stdin, 0 when absent
jf() {
	local v
	v=$(topo_json get "$1")
	echo "${v:-0}"
}
tst() { topo_genl "$NS_A" tunnel $ESP_DEV "$SPI_BA" | jf "$1"; }
dstat() { topo_genl "$NS_A" devstats $ESP_DEV | jf "$1"; }

SPI_NEXT=$((0x1000))
SPI_AB=0 SPI_BA=0
# sa_pair CIPHER KEYBITS ESN [ntm_genl esp-add options]: a fresh SA pair.
# XF_AB_EXTRA / XF_BA_EXTRA: extra words for B's xfrm states (A->B, B->A).
sa_pair() {
	local cipher=$1 bits=$2 esn=$3 alg xesn="" aesn="" out
	shift 3
	[ "$SPI_BA" != 0 ] && topo_genl "$NS_A" del $ESP_DEV "$SPI_BA" >/dev/null 2>&1
	B ip xfrm state flush
	SPI_AB=$SPI_NEXT SPI_BA=$((SPI_NEXT + 1)) SPI_NEXT=$((SPI_NEXT + 16))
	K_AB=$(topo_hex $((bits / 8))) K_BA=$(topo_hex $((bits / 8)))
	S_AB=$(topo_hex 4) S_BA=$(topo_hex 4)
	CIPHER=$cipher
	if [ "$cipher" = aes-gcm ]; then alg='rfc4106(gcm(aes))'; else alg='rfc7539esp(chacha20,poly1305)'; fi
	# af-unspec: both inner families through one SA (else the selector
	# family defaults to the outer one)
	if [ "$esn" = 1 ]; then xesn="flag af-unspec flag esn replay-window 128"; aesn=--esn; else xesn="flag af-unspec replay-window 64"; fi
	# shellcheck disable=SC2086
	B ip xfrm state add src $UL4_A dst $UL4_B proto esp spi $SPI_AB reqid 1 mode tunnel \
		$xesn ${XF_AB_EXTRA:-} aead "$alg" 0x$K_AB$S_AB 128 encap espinudp $PORT $PORT 0.0.0.0 ||
		{ topo_log "xfrm state A->B failed"; return 1; }
	# shellcheck disable=SC2086
	B ip xfrm state add src $UL4_B dst $UL4_A proto esp spi $SPI_BA reqid 2 mode tunnel \
		$xesn ${XF_BA_EXTRA:-} aead "$alg" 0x$K_BA$S_BA 128 encap espinudp $PORT $PORT 0.0.0.0 ||
		{ topo_log "xfrm state B->A failed"; return 1; }
	out=$(topo_genl "$NS_A" esp-add $ESP_DEV --local $SPI_BA --remote $SPI_AB --endpoint $UL4_B:$PORT \
		--cipher "$cipher" --key "$K_AB" --rx-key "$K_BA" --tx-salt "$S_AB" --rx-salt "$S_BA" \
		--remote-ts $VIP4_B/32,$VIP6_B/128 --local-ts $VIP4_A/32,$VIP6_A/128 $aesn "$@" 2>&1) ||
		{ topo_log "esp-add: $out"; return 1; }
	return 0
}

ping_ab() { A ping -n -c "${1:-3}" -i 0.2 -W 2 $VIP4_B >/dev/null 2>&1; }
ping_ba() { B ping -n -c "${1:-3}" -i 0.2 -W 2 -I $VIP4_B $VIP4_A >/dev/null 2>&1; }
# received replies of a ping run
ping_rx() { sed -n 's/.* \([0-9]*\) received.*/\1/p'; }

# --- interop: ciphers x ESN ----------------------------------------------------
for cfg in "aes-gcm 128 0" "aes-gcm 256 0" "chacha20-poly1305 256 0" \
	"aes-gcm 128 1" "aes-gcm 256 1" "chacha20-poly1305 256 1"; do
	# shellcheck disable=SC2086
	set -- $cfg
	tag="$1-$2$([ "$3" = 1 ] && echo " ESN")"
	if ! sa_pair "$1" "$2" "$3"; then
		ktap_fail "$tag: ping A->B (SA setup failed)"
		ktap_fail "$tag: ping B->A (SA setup failed)"
		continue
	fi
	if topo_wait 10 ping_ab 1 && ping_ab 3; then ktap_ok "$tag: ping A->B (ntm -> xfrm)"; else
		ktap_diag "A tunnel: $(topo_genl "$NS_A" tunnel $ESP_DEV $SPI_BA)"
		ktap_diag "B: $(B ip -s xfrm state 2>&1 | head -30)"
		ktap_fail "$tag: ping A->B (ntm -> xfrm)"
	fi
	if ping_ba 3; then ktap_ok "$tag: ping B->A (xfrm -> ntm)"; else
		ktap_diag "A tunnel: $(topo_genl "$NS_A" tunnel $ESP_DEV $SPI_BA)"
		ktap_fail "$tag: ping B->A (xfrm -> ntm)"
	fi
	if [ "$tag" = "aes-gcm-128" ]; then
		if A ping -6 -n -c 3 -i 0.2 -W 2 $VIP6_B >/dev/null 2>&1 &&
			B ping -6 -n -c 3 -i 0.2 -W 2 -I $VIP6_B $VIP6_A >/dev/null 2>&1; then
			ktap_ok "$tag: IPv6 inner over IPv4 outer, both ways"
		else
			ktap_fail "$tag: IPv6 inner over IPv4 outer, both ways"
		fi
	fi
done

# --- ESN across 2^32 -------------------------------------------------------------
# A starts sending at 2^32-16; B's inbound window starts just below, B's
# outbound sequence at 2^32-16 too (A infers the high half, RFC 4303 A.2).
XF_AB_EXTRA="replay-seq 0xffffffe0" XF_BA_EXTRA="replay-oseq 0xfffffff0"
if sa_pair aes-gcm 128 1 --tx-counter 0xfffffff0; then
	XF_AB_EXTRA="" XF_BA_EXTRA=""
	n=$(A ping -n -c 40 -i 0.05 -W 2 $VIP4_B 2>&1 | ping_rx)
	tx=$(tst tx_counter)
	ktap_diag "A->B across 2^32: $n/40 replies, A tx_counter $tx"
	ktap_result "ESN: A->B across 2^32 (tx_counter $tx, $n/40 replies)" \
		$([ "${n:-0}" -ge 36 ] && [ "$tx" -gt 4294967296 ] && echo 0 || echo 1)
	n=$(B ping -n -c 40 -i 0.05 -W 2 -I $VIP4_B $VIP4_A 2>&1 | ping_rx)
	rx=$(tst rx_counter)
	ktap_diag "B->A across 2^32: $n/40 replies, A rx_counter $rx; B: $(B ip xfrm state 2>&1 | grep -c esn) ESN states"
	ktap_result "ESN: B->A across 2^32 (A rx_counter $rx, $n/40 replies)" \
		$([ "${n:-0}" -ge 36 ] && [ "$rx" -gt 4294967296 ] && echo 0 || echo 1)
else
	XF_AB_EXTRA="" XF_BA_EXTRA=""
	ktap_fail "ESN: A->B across 2^32 (SA setup failed)"
	ktap_fail "ESN: B->A across 2^32 (SA setup failed)"
fi

# --- TCP -----------------------------------------------------------------------
sa_pair aes-gcm 256 0 || ktap_bail "SA setup failed"
topo_wait 10 ping_ab 1
topo_iperf_server "$NS_B" || ktap_diag "iperf3 server did not start"
for dir in "A->B" "B->A"; do
	f=$T/iperf-$([ "$dir" = "A->B" ] && echo up || echo down).json
	if [ "$dir" = "A->B" ]; then topo_iperf "$NS_A" $VIP4_B "$f" -t 2; else topo_iperf "$NS_A" $VIP4_B "$f" -t 2 -R; fi
	bytes=$(iperf_bytes "$f")
	if [ "$bytes" -gt 0 ]; then ktap_ok "TCP $dir through ESP ($bytes bytes)"; else
		ktap_diag_file "$f" 15
		ktap_fail "TCP $dir through ESP"
	fi
done

# --- replay ----------------------------------------------------------------------
PCAP=$T/b2a.pcap
topo_capture_start "$NS_B" vB "$PCAP" "udp and src host $UL4_B and dst port $PORT" ||
	ktap_diag "tcpdump did not start"
ping_ba 5
topo_capture_stop
rp0=$(tst stats.drop_replay) rx0=$(tst stats.rx_packets)
n=$(topo_genl "$NS_B" esp-inject "$PCAP" vB $PORT 2>&1)
sleep 1
rp1=$(tst stats.drop_replay) rx1=$(tst stats.rx_packets)
ktap_diag "replayed $n ESP packets: drop_replay $rp0 -> $rp1, rx_packets $rx0 -> $rx1"
ktap_result "replayed ESP packets all counted in drop_replay ($n)" \
	$([ "${n:-0}" -ge 2 ] 2>/dev/null && [ $((rp1 - rp0)) -eq "$n" ] && echo 0 || echo 1)
ktap_result "replayed ESP packets not delivered" $([ "$rx1" -eq "$rx0" ] && echo 0 || echo 1)

# --- tamper: packets A never saw, one byte of ciphertext flipped ----------------
A nft -f - <<-EOF
table inet esptest {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip saddr $UL4_B udp dport $PORT drop
	}
}
EOF
PCAP2=$T/unseen.pcap
topo_capture_start "$NS_B" vB "$PCAP2" "udp and src host $UL4_B and dst port $PORT"
B ping -n -c 2 -i 0.2 -W 1 -I $VIP4_B $VIP4_A >/dev/null 2>&1
topo_capture_stop
A nft delete table inet esptest
au0=$(tst stats.drop_auth) rx0=$(tst stats.rx_packets)
topo_genl "$NS_B" esp-inject "$PCAP2" vB $PORT --pick 0 --mutate cipher >/dev/null 2>&1
sleep 1
au1=$(tst stats.drop_auth) rx1=$(tst stats.rx_packets)
ktap_result "flipped ciphertext byte: drop_auth +$((au1 - au0)), not delivered" \
	$([ $((au1 - au0)) -eq 1 ] && [ "$rx1" -eq "$rx0" ] && echo 0 || echo 1)
topo_genl "$NS_B" esp-inject "$PCAP2" vB $PORT --pick 0 >/dev/null 2>&1
sleep 1
rx2=$(tst stats.rx_packets)
ktap_result "the untampered original is accepted afterwards (rx +$((rx2 - rx1)))" \
	$([ $((rx2 - rx1)) -eq 1 ] && echo 0 || echo 1)

# --- keepalive and non-ESP marker ----------------------------------------------------
SEND_PY='import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 4500))'
ka0=$(dstat keepalive_rx) pu0=$(dstat passed_up)
B $PY -c "$SEND_PY" $UL4_A ff
sleep 0.5
ka1=$(dstat keepalive_rx) pu1=$(dstat passed_up)
ktap_result "0xff NAT keepalive consumed (keepalive_rx +$((ka1 - ka0)), passed_up +$((pu1 - pu0)))" \
	$([ $((ka1 - ka0)) -eq 1 ] && [ "$pu1" -eq "$pu0" ] && ! grep -q ' ff$' "$T/owner.log" && echo 0 || echo 1)
B $PY -c "$SEND_PY" $UL4_A 00000000494b4576322d74657374
sleep 0.5
pu2=$(dstat passed_up)
ktap_result "non-ESP marker datagram left to the socket owner (passed_up +$((pu2 - pu1)))" \
	$([ $((pu2 - pu1)) -eq 1 ] && grep -q "^rx $UL4_B 00000000494b4576322d74657374" "$T/owner.log" && echo 0 || echo 1)

# --- traffic selectors ---------------------------------------------------------------
ts0=$(tst stats.drop_ts) rx0=$(tst stats.rx_packets)
B ping -n -c 2 -i 0.2 -W 1 -I $BAD_SRC $VIP4_A >/dev/null 2>&1
sleep 0.5
ts1=$(tst stats.drop_ts) rx1=$(tst stats.rx_packets)
ktap_result "inner source outside REMOTE_TS dropped (drop_ts +$((ts1 - ts0)))" \
	$([ $((ts1 - ts0)) -eq 2 ] && [ "$rx1" -eq "$rx0" ] && echo 0 || echo 1)
B ping -n -c 2 -i 0.2 -W 1 -I $VIP4_B $BAD_DST >/dev/null 2>&1
sleep 0.5
ts2=$(tst stats.drop_ts) rx2=$(tst stats.rx_packets)
ktap_result "inner destination outside LOCAL_TS dropped (drop_ts +$((ts2 - ts1)))" \
	$([ $((ts2 - ts1)) -eq 2 ] && [ "$rx2" -eq "$rx1" ] && echo 0 || echo 1)

# --- packets sealed by the test (python3-cryptography) ------------------------------
if "$PY" -c 'import cryptography' 2>/dev/null; then
	seq=$(($(tst rx_counter) + 1000))
	craft() {
		topo_genl "$NS_B" esp-craft --src $UL4_B --dst $UL4_A --cipher "$CIPHER" --key "$K_BA" \
			--salt "$S_BA" --spi "$SPI_BA" --inner-src $VIP4_B --inner-dst $VIP4_A "$@" >/dev/null
	}
	rx0=$(tst stats.rx_packets) du0=$(tst stats.dummy_rx) ml0=$(tst stats.drop_malformed)
	craft --seq $seq
	sleep 0.5
	rx1=$(tst stats.rx_packets)
	ktap_result "an ESP packet sealed by the test is accepted (rx +$((rx1 - rx0)))" \
		$([ $((rx1 - rx0)) -eq 1 ] && echo 0 || echo 1)
	craft --seq $((seq + 1)) --nh 59
	sleep 0.5
	rx2=$(tst stats.rx_packets) du1=$(tst stats.dummy_rx)
	ktap_result "next header 59 (dummy) counted in dummy_rx, never delivered" \
		$([ $((du1 - du0)) -eq 1 ] && [ "$rx2" -eq "$rx1" ] && echo 0 || echo 1)
	craft --seq $((seq + 2)) --badpad
	sleep 0.5
	rx3=$(tst stats.rx_packets) ml1=$(tst stats.drop_malformed)
	ktap_result "padding not 1, 2, 3, ... is drop_malformed" \
		$([ $((ml1 - ml0)) -eq 1 ] && [ "$rx3" -eq "$rx2" ] && echo 0 || echo 1)
else
	for i in 1 2 3; do ktap_skip "sealed ESP packet $i" "python3-cryptography missing"; done
fi

# --- make-before-break rekey of an SA pair (REPLACES / TAKEOVER, D83) -----------------
# tf SPI FIELD: a field of A's SA SPI
tf() { topo_genl "$NS_A" tunnel $ESP_DEV "$1" | jf "$2"; }
# new_skeys: fresh keys and salts for the next succ_add in SK_AB, SK_BA,
# SS_AB, SS_BA (succ_add runs in $(...): it cannot set them itself)
new_skeys() { SK_AB=$(topo_hex 16) SK_BA=$(topo_hex 16) SS_AB=$(topo_hex 4) SS_BA=$(topo_hex 4); }
# succ_add SPI_IN SPI_OUT [options]: an SA pair on A with those keys; prints
# only a refusal (B's xfrm states are added by b_states)
succ_add() {
	local in=$1 out=$2
	shift 2
	topo_genl "$NS_A" esp-add $ESP_DEV --local "$in" --remote "$out" --endpoint $UL4_B:$PORT \
		--cipher aes-gcm --key "$SK_AB" --rx-key "$SK_BA" --tx-salt "$SS_AB" --rx-salt "$SS_BA" \
		--remote-ts $VIP4_B/32,$VIP6_B/128 --local-ts $VIP4_A/32,$VIP6_A/128 "$@" 2>&1 | grep -v '^errno=0 '
}
# b_states SPI_AB SPI_BA: B's xfrm states for the last succ_add (B sends on
# the newest state of a policy: from now on on SPI_BA)
b_states() {
	B ip xfrm state add src $UL4_A dst $UL4_B proto esp spi "$1" reqid 1 mode tunnel \
		flag af-unspec replay-window 64 aead 'rfc4106(gcm(aes))' 0x$SK_AB$SS_AB 128 \
		encap espinudp $PORT $PORT 0.0.0.0 &&
	B ip xfrm state add src $UL4_B dst $UL4_A proto esp spi "$2" reqid 2 mode tunnel \
		flag af-unspec replay-window 64 aead 'rfc4106(gcm(aes))' 0x$SK_BA$SS_BA 128 \
		encap espinudp $PORT $PORT 0.0.0.0
}
# errno_of OUTPUT: the errno name in an esp-add refusal ("errno=N NAME ...")
errno_of() { printf '%s' "$1" | sed -n 's/^errno=[0-9]* \([A-Z]*\).*/\1/p'; }

sa_pair aes-gcm 128 0
O_IN=$SPI_BA O_OUT=$SPI_AB
topo_wait 10 ping_ab 1
N1_IN=$((SPI_NEXT + 1)) N1_OUT=$SPI_NEXT N2_IN=$((SPI_NEXT + 3)) N2_OUT=$((SPI_NEXT + 2))
N3_IN=$((SPI_NEXT + 5)) N3_OUT=$((SPI_NEXT + 4))
SPI_NEXT=$((SPI_NEXT + 16))
new_skeys

e1=$(errno_of "$(succ_add $N1_IN $N1_OUT --replaces 0x7fff0001)")
e2=$(errno_of "$(succ_add $N1_IN $N1_OUT --takeover rx)")
ktap_diag "replaces an unknown SA: $e1; takeover without replaces: $e2"
ktap_result "an ESP successor of an unknown SA is ENOENT; TAKEOVER without REPLACES is refused on ESP" \
	$([ "$e1" = ENOENT ] && [ -n "$e2" ] && ! topo_genl "$NS_A" tunnel $ESP_DEV $N1_IN >/dev/null 2>&1 && echo 0 || echo 1)

out=$(succ_add $N1_IN $N1_OUT --replaces $O_IN --takeover rx)
st_n=$(tf $N1_IN state) rp_n=$(tf $N1_IN replaces) st_o=$(tf $O_IN state)
e3=$(errno_of "$(succ_add $N2_IN $N2_OUT --replaces $O_IN)")
e4=$(errno_of "$(succ_add $N2_IN $N2_OUT --replaces $N1_IN)")
ktap_diag "successor $N1_IN: $st_n, replaces $rp_n; predecessor $st_o; a second successor: $e3; a successor of the pending one: $e4 ${out:+($out)}"
ktap_result "successor pair (REPLACES, takeover rx) pending, predecessor active; a second successor and a successor of the pending one are EBUSY" \
	$([ "$st_n" = pending ] && [ "$rp_n" = "$O_IN" ] && [ "$st_o" = active ] &&
		[ "$e3" = EBUSY ] && [ "$e4" = EBUSY ] && echo 0 || echo 1)

# pending: A still sends on the predecessor (B has no state for the successor yet)
to0=$(tf $O_IN stats.tx_packets) tn0=$(tf $N1_IN stats.tx_packets)
ping_ab 3
rc=$?
to1=$(tf $O_IN stats.tx_packets) tn1=$(tf $N1_IN stats.tx_packets)
ktap_result "while the successor is pending A sends on the predecessor (tx +$((to1 - to0)) / +$((tn1 - tn0)))" \
	$([ $rc = 0 ] && [ $((to1 - to0)) -ge 3 ] && [ "$tn1" = "$tn0" ] && echo 0 || echo 1)

# B moves to the new pair: its first packet makes the successor take over
b_states $N1_OUT $N1_IN || ktap_diag "B: xfrm states for the successor failed"
ping_ba 3
rc=$?
st_n=$(tf $N1_IN state) st_o=$(tf $O_IN state) rn=$(tf $N1_IN stats.rx_packets)
to0=$(tf $O_IN stats.tx_packets) tn0=$(tf $N1_IN stats.tx_packets)
ping_ab 3
rc2=$?
to1=$(tf $O_IN stats.tx_packets) tn1=$(tf $N1_IN stats.tx_packets)
ktap_diag "after B's packets: successor $st_n (rx $rn), predecessor $st_o; A->B tx old +$((to1 - to0)) new +$((tn1 - tn0))"
ktap_result "the successor's first authenticated packet makes it active and the predecessor retired; A then sends on the successor" \
	$([ $rc = 0 ] && [ $rc2 = 0 ] && [ "$st_n" = active ] && [ "$st_o" = retired ] && [ "$rn" -ge 1 ] &&
		[ "$to1" = "$to0" ] && [ $((tn1 - tn0)) -ge 3 ] && echo 0 || echo 1)

if "$PY" -c 'import cryptography' 2>/dev/null; then
	ro0=$(tf $O_IN stats.rx_packets)
	topo_genl "$NS_B" esp-craft --src $UL4_B --dst $UL4_A --cipher aes-gcm --key "$K_BA" --salt "$S_BA" \
		--spi "$O_IN" --inner-src $VIP4_B --inner-dst $VIP4_A --seq $(($(tf $O_IN rx_counter) + 100)) >/dev/null
	sleep 0.5
	ro1=$(tf $O_IN stats.rx_packets)
	ktap_result "the retired predecessor still decrypts a packet sent under the old key (rx +$((ro1 - ro0)))" \
		$([ $((ro1 - ro0)) = 1 ] && echo 0 || echo 1)
else
	ktap_skip "retired SA decrypts" "python3-cryptography missing"
fi

e5=$(errno_of "$(succ_add $N2_IN $N2_OUT --replaces $O_IN)")
out=$(succ_add $N2_IN $N2_OUT --replaces $N1_IN --takeover rx)
st2=$(tf $N2_IN state)
topo_genl "$NS_A" set $ESP_DEV $N2_IN --takeover now >/dev/null 2>&1
rc=$?
st2b=$(tf $N2_IN state) st1=$(tf $N1_IN state)
ktap_diag "a successor of the retired SA: $e5; second generation $st2 -> $st2b after SET TAKEOVER NOW (rc $rc), first generation $st1 ${out:+($out)}"
ktap_result "a retired SA cannot be replaced (EBUSY); SET_TUNNEL TAKEOVER NOW activates a pending ESP successor" \
	$([ "$e5" = EBUSY ] && [ "$st2" = pending ] && [ $rc = 0 ] && [ "$st2b" = active ] && [ "$st1" = retired ] && echo 0 || echo 1)

out=$(succ_add $N3_IN $N3_OUT --replaces $N2_IN --takeover rx)
st3=$(tf $N3_IN state)
topo_genl "$NS_A" del $ESP_DEV $N2_IN >/dev/null 2>&1
st3b=$(tf $N3_IN state)
ktap_diag "third generation $st3, after its predecessor's deletion $st3b ${out:+($out)}"
ktap_result "deleting the predecessor of a pending ESP successor makes the successor active" \
	$([ "$st3" = pending ] && [ "$st3b" = active ] && echo 0 || echo 1)
for spi in $O_IN $N1_IN $N2_IN $N3_IN; do topo_genl "$NS_A" del $ESP_DEV "$spi" >/dev/null 2>&1; done
SPI_BA=0

# --- lifetimes: events on the multicast group -------------------------------------------
topo_bg "$NS_A" "$T/events.log" $GENL monitor 0
topo_wait 10 grep -q ready "$T/events.log" || ktap_diag "event monitor did not start"
# have_event SPI REASON
have_event() { grep -q "\"local_index\": $1,.*\"reason\": \"$2\"" "$T/events.log"; }
gone() { ! topo_genl "$NS_A" tunnel $ESP_DEV "$1" >/dev/null 2>&1; }

sa_pair aes-gcm 128 0 --soft-packets 5 --hard-packets 10
spi=$SPI_BA
A ping -n -c 14 -i 0.1 -W 1 $VIP4_B >/dev/null 2>&1
topo_wait 5 have_event "$spi" hard_packets
ktap_result "packet limits: soft_packets then hard_packets event, tunnel removed" \
	$(have_event "$spi" soft_packets && have_event "$spi" hard_packets && gone "$spi" && echo 0 || echo 1)

sa_pair aes-gcm 128 0 --soft-bytes 600 --hard-bytes 1200
spi=$SPI_BA
A ping -n -c 14 -i 0.1 -W 1 -s 100 $VIP4_B >/dev/null 2>&1
topo_wait 5 have_event "$spi" hard_bytes
ktap_result "byte limits: soft_bytes then hard_bytes event, tunnel removed" \
	$(have_event "$spi" soft_bytes && have_event "$spi" hard_bytes && gone "$spi" && echo 0 || echo 1)

sa_pair aes-gcm 128 0 --soft-lifetime 1 --lifetime 3
spi=$SPI_BA
topo_wait 8 have_event "$spi" lifetime
ktap_result "time limits: soft_time then lifetime event, tunnel removed" \
	$(have_event "$spi" soft_time && have_event "$spi" lifetime && gone "$spi" && echo 0 || echo 1)
ktap_diag_file "$T/events.log" 12

# --- unload under ESP traffic -----------------------------------------------------------
sa_pair aes-gcm 256 1
topo_wait 10 ping_ab 1
topo_bg "$NS_A" "$T/iperf-unload.json" iperf3 -c $VIP4_B -t 30 -J
IPERF_PID=$TOPO_LAST_PID
topo_bg "$NS_B" "$T/ping-unload.out" ping -n -i 0.05 -W 1 -c 400 -I $VIP4_B $VIP4_A
sleep 3
topo_dmesg_mark "ntm_esp: unload under traffic"
# adopted sockets hold the module (D77): the owner goes first, as ntmd
# would on "systemctl stop"; the traffic goes on
kill -KILL "$OWNER_PID" 2>/dev/null
ok=1
for i in $(seq 60); do
	if modprobe -r ntm 2>"$T/rmmod.err"; then ok=0; break; fi
	sleep 0.5
done
ktap_diag "modprobe -r after $i attempts: $(cat "$T/rmmod.err")"
ktap_result "modprobe -r ntm under ESP traffic" $ok
topo_kill "$IPERF_PID"
modprobe ntm
ktap_result "module gone with its device, and loads again" \
	$([ $ok -eq 0 ] && ! A ip link show $ESP_DEV >/dev/null 2>&1 && grep -qw '^ntm' /proc/modules && echo 0 || echo 1)

ktap_finish
