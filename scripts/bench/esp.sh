#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/esp.sh - ESP-in-UDP benchmark; runs INSIDE the VM as root:
#
#   NTM_BENCH_OUT=$PWD/build/bench scripts/vm --rw build/bench -- scripts/bench/esp.sh
#
# Two namespaces joined by a veth pair, in one run:
#   veth - plain underlay, the baseline;
#   ntm  - ntm.ko ESP tunnel mode in UDP on both sides (an ntm device each,
#          sockets owned by lib/ntm_genl.py, SA pair added with esp-add);
#   xfrm - the kernel's xfrm ESP tunnel mode with encap espinudp;
# both tunnels rfc4106(gcm(aes)) with 256-bit static keys, IPv4 in IPv4,
# inner MTU $MTU.  Each: iperf3 TCP (one stream, NTM_BENCH_TIME s) and
# 64-byte UDP packets per second.  It reports numbers and never judges
# them.  The JSON document goes to stdout between the NTM-ESP-BENCH-JSON
# markers and, with NTM_BENCH_OUT naming a writable directory, to
# $NTM_BENCH_OUT/esp-results.{json,txt,png}; scripts/bench/esp_results.py
# renders it.
#
# Knobs: NTM_BENCH_TIME (s per iperf3 run, 5), NTM_BENCH_TABLE (0: no text
# table on stderr), NTM_ESP_CONFIGS (subset of "veth ntm xfrm").
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
TOPO_ID=espbench
. "$REPO/tests/selftests/lib/topo.sh"

T=${NTM_BENCH_TIME:-5}
CONFIGS=${NTM_ESP_CONFIGS:-veth ntm xfrm}
MTU=1400
PORT=4500
GENL="$PY $REPO/tests/selftests/lib/ntm_genl.py"
RES=$(mktemp -d /tmp/ntmespbench.XXXXXX)
TOPO_TMP=$RES/topo
mkdir -p "$TOPO_TMP"
NTM_KEEP_TMP=1

log() { printf '[esp-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
err() { log "ERROR: $*"; printf '%s\n' "$*" >>"$RES/errors.txt"; }
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES/values.tsv"; }
want_cfg() { case " $CONFIGS " in *" $1 "*) return 0 ;; esac; return 1; }

cleanup() {
	topo_cleanup
	rm -rf "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

iperf_field() {
	$PY - "$1" "$2" <<-'EOF'
	import json, sys
	try:
	    d = json.load(open(sys.argv[1]))
	    print(eval(sys.argv[2]))
	except Exception:
	    print(0)
	EOF
}

# measure NAME DST: TCP one stream and UDP 64 B from A to DST (server in B)
measure() {
	local name=$1 dst=$2 f v
	f=$RES/$name-tcp.json
	topo_iperf "$NS_A" "$dst" "$f" -t "$T" -O 1 || err "$name: iperf3 TCP failed: $(head -c 300 "$f")"
	v=$(iperf_field "$f" 'd["end"]["sum_received"]["bits_per_second"]')
	put "$name" tcp_bps "$v"
	put "$name" tcp_retransmits "$(iperf_field "$f" 'd["end"]["sum_sent"].get("retransmits", 0)')"
	log "$name: TCP $v bit/s"
	f=$RES/$name-udp64.json
	topo_iperf "$NS_A" "$dst" "$f" -u -l 64 -b 0 -t "$T" || err "$name: iperf3 UDP failed: $(head -c 300 "$f")"
	v=$(iperf_field "$f" 'round(d["end"]["sum_received"]["bytes"] / 64 / d["end"]["sum_received"]["seconds"])')
	put "$name" udp64_rx_pps "$v"
	put "$name" udp64_lost_pct "$(iperf_field "$f" 'round(d["end"]["sum_received"]["lost_percent"], 2)')"
	log "$name: UDP 64 B $v packets/s received"
}

K_AB=$(topo_hex 32) K_BA=$(topo_hex 32) S_AB=$(topo_hex 4) S_BA=$(topo_hex 4)
SPI_AB=$((0x3001)) SPI_BA=$((0x3002))

bench_veth() {
	put veth mtu 1500
	measure veth $UL4_B
}

# ntm on both sides: A and B each own their device's sockets
bench_ntm() {
	local ns side
	modprobe ntm || { err "ntm: modprobe failed"; return 1; }
	for ns in "$NS_A" "$NS_B"; do
		side=$([ "$ns" = "$NS_A" ] && echo A || echo B)
		in_ns "$ns" ip link add ntm0 type ntm || { err "ntm: no ntm link kind"; return 1; }
		topo_bg "$ns" "$RES/owner-$side.log" $GENL own ntm0 $PORT
		OWNERS="${OWNERS:-} $TOPO_LAST_PID"
		topo_wait 20 grep -q '^ready' "$RES/owner-$side.log" || { err "ntm: socket owner in $side"; return 1; }
		topo_ntm_addrs "$ns" || { err "ntm: addresses in $side"; return 1; }
		in_ns "$ns" ip link set ntm0 mtu $MTU
	done
	A $GENL esp-add ntm0 --local $SPI_BA --remote $SPI_AB --endpoint $UL4_B:$PORT \
		--cipher aes-gcm --key "$K_AB" --rx-key "$K_BA" --tx-salt "$S_AB" --rx-salt "$S_BA" \
		--remote-ts $VIP4_B/32 --local-ts $VIP4_A/32 >/dev/null || { err "ntm: esp-add in A"; return 1; }
	B $GENL esp-add ntm0 --local $SPI_AB --remote $SPI_BA --endpoint $UL4_A:$PORT \
		--cipher aes-gcm --key "$K_BA" --rx-key "$K_AB" --tx-salt "$S_BA" --rx-salt "$S_AB" \
		--remote-ts $VIP4_A/32 --local-ts $VIP4_B/32 >/dev/null || { err "ntm: esp-add in B"; return 1; }
	topo_wait 20 A ping -c1 -W1 $VIP4_B || { err "ntm: no ping"; return 1; }
	put ntm mtu "$MTU"
	measure ntm $VIP4_B
	put ntm esp_rx_packets "$(B $GENL tunnel ntm0 $SPI_AB | $PY -c 'import json,sys; print(json.load(sys.stdin)["stats"]["rx_packets"])' 2>/dev/null)"
	A ip link del ntm0
	B ip link del ntm0
	# the owners still hold port $PORT, which xfrm's socket needs next
	for pid in $OWNERS; do topo_kill "$pid"; done
}

XF_A=198.51.100.129
XF_B=198.51.100.130
ESPINUDP_PY='
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 4500))
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
print("ready", flush=True)
time.sleep(86400)
'
bench_xfrm() {
	local ns
	for ns in "$NS_A" "$NS_B"; do
		topo_bg "$ns" "$RES/espinudp-$ns.log" $PY -c "$ESPINUDP_PY"
		in_ns "$ns" ip xfrm state add src $UL4_A dst $UL4_B proto esp spi $SPI_AB reqid 1 \
			mode tunnel replay-window 64 aead 'rfc4106(gcm(aes))' 0x"$K_AB$S_AB" 128 \
			encap espinudp $PORT $PORT 0.0.0.0 || { err "xfrm state add failed"; return 1; }
		in_ns "$ns" ip xfrm state add src $UL4_B dst $UL4_A proto esp spi $SPI_BA reqid 2 \
			mode tunnel replay-window 64 aead 'rfc4106(gcm(aes))' 0x"$K_BA$S_BA" 128 \
			encap espinudp $PORT $PORT 0.0.0.0 || { err "xfrm state add failed"; return 1; }
	done
	A ip addr add $XF_A/32 dev lo
	B ip addr add $XF_B/32 dev lo
	A ip xfrm policy add src $XF_A/32 dst $XF_B/32 dir out \
		tmpl src $UL4_A dst $UL4_B proto esp reqid 1 mode tunnel
	A ip xfrm policy add src $XF_B/32 dst $XF_A/32 dir in \
		tmpl src $UL4_B dst $UL4_A proto esp reqid 2 mode tunnel
	B ip xfrm policy add src $XF_B/32 dst $XF_A/32 dir out \
		tmpl src $UL4_B dst $UL4_A proto esp reqid 2 mode tunnel
	B ip xfrm policy add src $XF_A/32 dst $XF_B/32 dir in \
		tmpl src $UL4_A dst $UL4_B proto esp reqid 1 mode tunnel
	A ip route add $XF_B/32 dev vA src $XF_A mtu lock $MTU
	B ip route add $XF_A/32 dev vB src $XF_B mtu lock $MTU
	topo_wait 20 A ping -c1 -W1 $XF_B || { err "xfrm: no ping"; return 1; }
	put xfrm mtu "$MTU"
	measure xfrm $XF_B
	for ns in "$NS_A" "$NS_B"; do
		in_ns "$ns" ip xfrm policy flush
		in_ns "$ns" ip xfrm state flush
	done
}

# --------------------------------------------------------------- run
log "kernel $(uname -r), $(nproc) CPUs, iperf3 ${T}s per run"
{
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'cpus\t%s\n' "$(nproc)"
	printf 'iperf_seconds\t%s\n' "$T"
	printf 'inner_mtu\t%s\n' "$MTU"
	printf 'cipher\t%s\n' "rfc4106(gcm(aes)) 256-bit key, 16-byte ICV"
	printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf 'virt\t%s\n' "$(grep -qw hypervisor /proc/cpuinfo && echo "qemu TCG, software emulation" || echo "none detected")"
} >"$RES/meta.tsv"

topo_init veth || { err "topology setup failed"; exit 1; }
topo_iperf_server "$NS_B" || err "iperf3 server did not start"
want_cfg veth && bench_veth
want_cfg ntm && bench_ntm
want_cfg xfrm && bench_xfrm

# --------------------------------------------------------------- report
$PY "$HERE/esp_results.py" collect "$RES" >"$RES/esp-results.json" || err "could not assemble results"
if [ -n "${NTM_BENCH_OUT:-}" ] && mkdir -p "$NTM_BENCH_OUT" 2>/dev/null &&
	cp "$RES/esp-results.json" "$NTM_BENCH_OUT/esp-results.json" 2>/dev/null; then
	$PY "$HERE/esp_results.py" table "$RES/esp-results.json" >"$NTM_BENCH_OUT/esp-results.txt"
	MPLCONFIGDIR=$RES $PY "$HERE/esp_results.py" chart "$RES/esp-results.json" "$NTM_BENCH_OUT/esp-results.png" ||
		log "no chart (python3-matplotlib missing?)"
	log "results written to $NTM_BENCH_OUT/esp-results.{json,txt,png}"
fi
echo "=== NTM-ESP-BENCH-JSON BEGIN ==="
cat "$RES/esp-results.json"
echo "=== NTM-ESP-BENCH-JSON END ==="
[ "${NTM_BENCH_TABLE:-1}" != 0 ] && $PY "$HERE/esp_results.py" table "$RES/esp-results.json" >&2
exit 0
