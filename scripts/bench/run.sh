#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/run.sh - ntm benchmark; runs INSIDE the VM as root
# (make bench, or scripts/bench/bench.sh which also renders the results).
#
# In one run, between two namespaces joined by a veth pair:
#   - TCP bulk throughput (iperf3, one and two streams) and 64-byte UDP
#     packet rate for: plain veth, ntm chacha20-poly1305, ntm aes-gcm,
#     WireGuard (chacha20poly1305) and xfrm ESP-in-UDP rfc4106(gcm(aes));
#     every tunnel carries IPv4 in IPv4 with inner MTU $MTU.  Every path is
#     set up once, then measured in NTM_BENCH_REPS rounds; round r measures
#     every path, starting at path r mod n (veth ntm-chacha ntm-aesgcm
#     wireguard xfrm, then ntm-chacha ntm-aesgcm wireguard xfrm veth, ...)
#     so that drift of the host or the guest hits all paths alike;
#   - kernel memory per ntm tunnel (N tunnels with distinct keys through
#     `ntmctl batch`), per WireGuard peer and per xfrm SA.
# It reports numbers and never judges them.  The JSON document (every
# repetition, the median, min and max of each path, the ratios of medians
# and their spread over the rounds) goes to stdout between the
# NTM-BENCH-JSON markers, and to $NTM_BENCH_OUT/results.json when
# NTM_BENCH_OUT names a writable directory (the repository itself is
# read-only inside the VM).
#
# Knobs (environment): NTM_BENCH_TIME (s per iperf3 run, 3),
# NTM_BENCH_REPS (rounds, 5), NTM_BENCH_TUNNELS (100000, ChaCha20-Poly1305),
# NTM_BENCH_API_TUNNELS (20000 AES-GCM, then 20000 ChaCha20-Poly1305
# through the crypto API),
# NTM_BENCH_WG_PEERS (10000), NTM_BENCH_XFRM_SAS (10000),
# NTM_BENCH_ONLY ("throughput memory" subset), NTM_BENCH_TABLE (0: no text
# table on stderr), NTM_BENCH_CONFIGS (subset of "veth ntm-chacha
# ntm-aesgcm wireguard xfrm", or ntm-chacha-api added: ChaCha20-Poly1305
# through the crypto API, D106).  NTM_VM_CLOCK (set by scripts/vm: "host" or
# "icount shift=N,sleep=off") goes into the results as the clock mode.
# The setup_, use_ and down_ functions of the paths are called by name:
# shellcheck disable=SC2317
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
TOPO_ID=bench
. "$REPO/tests/selftests/lib/topo.sh"

T=${NTM_BENCH_TIME:-3}
REPS=${NTM_BENCH_REPS:-5}
NTUN=${NTM_BENCH_TUNNELS:-100000}
NTUN_API=${NTM_BENCH_API_TUNNELS:-20000}
NWG=${NTM_BENCH_WG_PEERS:-10000}
NSA=${NTM_BENCH_XFRM_SAS:-10000}
ONLY=${NTM_BENCH_ONLY:-throughput memory}
CONFIGS=${NTM_BENCH_CONFIGS:-veth ntm-chacha ntm-aesgcm wireguard xfrm}
MTU=1420
RES=$(mktemp -d /tmp/ntmbench.XXXXXX)
TOPO_TMP=$RES/topo
mkdir -p "$TOPO_TMP"
NTM_KEEP_TMP=1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
err() { log "ERROR: $*"; printf '%s\n' "$*" >>"$RES/errors.txt"; }

cleanup() {
	topo_cleanup
	rm -rf "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# put SECTION NAME KEY VALUE: record one number (or string) of the results
put() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES/values.tsv"
}
# put_run REP NAME KEY VALUE: one number of one repetition of a path
put_run() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES/runs.tsv"
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
want_cfg() { case " $CONFIGS " in *" $1 "*) return 0 ;; esac; return 1; }

# iperf_put REP NAME FILE KEY EXPR [KEY EXPR...]: record each python
# expression over the iperf3 JSON document d as KEY of the repetition (an
# empty value when the run failed: not counted in the medians); one python
# start per file, which costs ~1 s under TCG
iperf_put() {
	$PY - "$@" >>"$RES/runs.tsv" <<-'EOF'
	import json, sys
	rep, name, path = sys.argv[1:4]
	try:
	    d = json.load(open(path))
	    # a run that failed has an error and no intervals (an error after a
	    # complete run leaves its figures usable)
	    if "error" in d and not d.get("intervals"):
	        raise ValueError(d["error"])
	except Exception as e:
	    print("iperf3 %s round %s: %s" % (name, rep, e), file=sys.stderr)
	    d = None
	args = sys.argv[4:]
	for key, expr in zip(args[0::2], args[1::2]):
	    try:
	        v = eval(expr) if d is not None else ""
	    except Exception:
	        v = ""
	    print("%s\t%s\t%s\t%s" % (rep, name, key, v))
	EOF
}
# run_val REP NAME KEY: a value recorded for the repetition (for the log)
run_val() {
	awk -F'\t' -v r="$1" -v n="$2" -v k="$3" '$1 == r && $2 == n && $3 == k { v = $4 } END { print v }' "$RES/runs.tsv"
}

# measure REP NAME DST: TCP x1, TCP x2, UDP 64 B through DST (server in B)
measure() {
	local rep=$1 name=$2 dst=$3 f
	log "round $rep $name: TCP 1 stream to $dst, ${T}s"
	f=$RES/$name-$rep-tcp1.json
	topo_iperf "$NS_A" "$dst" "$f" -t "$T" -O 1 || err "$name round $rep: iperf3 TCP failed: $(head -c 300 "$f")"
	iperf_put "$rep" "$name" "$f" \
		tcp1_bps 'd["end"]["sum_received"]["bits_per_second"]' \
		tcp_mss 'd["start"].get("tcp_mss_default", 0)' \
		tcp1_retransmits 'd["end"]["sum_sent"].get("retransmits", 0)' \
		cpu_sender_pct 'round(d["end"]["cpu_utilization_percent"]["host_total"], 1)' \
		cpu_receiver_pct 'round(d["end"]["cpu_utilization_percent"]["remote_total"], 1)'
	log "round $rep $name: TCP 1 stream: $(run_val "$rep" "$name" tcp1_bps) bit/s"

	f=$RES/$name-$rep-tcp2.json
	topo_iperf "$NS_A" "$dst" "$f" -t "$T" -O 1 -P 2 || err "$name round $rep: iperf3 TCP -P 2 failed: $(head -c 300 "$f")"
	iperf_put "$rep" "$name" "$f" tcp2_bps 'd["end"]["sum_received"]["bits_per_second"]'
	log "round $rep $name: TCP 2 streams: $(run_val "$rep" "$name" tcp2_bps) bit/s"

	f=$RES/$name-$rep-udp64.json
	topo_iperf "$NS_A" "$dst" "$f" -u -l 64 -b 0 -t "$T" || err "$name round $rep: iperf3 UDP failed: $(head -c 300 "$f")"
	iperf_put "$rep" "$name" "$f" \
		udp64_rx_pps 'round(d["end"]["sum_received"]["bytes"] / 64 / d["end"]["sum_received"]["seconds"])' \
		udp64_tx_pps 'round(d["end"]["sum_sent"]["packets"] / d["end"]["sum_sent"]["seconds"])' \
		udp64_lost_pct 'round(d["end"]["sum_received"]["lost_percent"], 2)'
	log "round $rep $name: UDP 64 B: $(run_val "$rep" "$name" udp64_rx_pps) packets/s received"
	rm -f "$RES/$name-$rep-"*.json
}

# ping_ok NS DST: the path works (WireGuard needs a handshake first)
ping_ok() {
	topo_wait 20 in_ns "$1" ping -c1 -W1 "$2"
}

meminfo_kernel() { # Slab + Percpu + VmallocUsed, bytes
	awk '/^(Slab|Percpu|VmallocUsed):/ { s += $2 } END { printf "%.0f\n", s * 1024 }' /proc/meminfo
}
meminfo_free() { awk '/^MemFree:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	# Let RCU callbacks and deferred frees run.
	sleep 2
	echo 3 >/proc/sys/vm/drop_caches
}

# mem_probe SECTION COUNT KIND: record the delta since mem_base per object
mem_base() {
	settle
	MEM_K0=$(meminfo_kernel)
	MEM_F0=$(meminfo_free)
}
mem_probe() {
	local sec=$1 n=$2 k1 f1
	[ "${n:-0}" -gt 0 ] 2>/dev/null || { err "$sec: no objects to measure"; return 1; }
	settle
	k1=$(meminfo_kernel)
	f1=$(meminfo_free)
	put memory "$sec" count "$n"
	put memory "$sec" kernel_delta_bytes "$((k1 - MEM_K0))"
	put memory "$sec" memfree_delta_bytes "$((MEM_F0 - f1))"
	put memory "$sec" bytes_per_object "$(((k1 - MEM_K0) / n))"
	put memory "$sec" memfree_bytes_per_object "$(((MEM_F0 - f1) / n))"
	log "$sec: $n objects, kernel (Slab+Percpu+Vmalloc) +$((k1 - MEM_K0)) B = $(((k1 - MEM_K0) / n)) B each; MemFree -$((MEM_F0 - f1)) B"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --------------------------------------------------------------- setup
ntm_ok=0
if [ -x "$NTMCTL" ] && [ -x "$NTMD" ] && modprobe ntm 2>/dev/null; then
	ntm_ok=1
else
	err "ntm unavailable (module or $NTM_BIN binaries missing): ntm rows skipped"
fi

CLOCK=${NTM_VM_CLOCK:-unknown}
log "kernel $(uname -r), $(nproc) CPUs, clock $CLOCK, iperf3 ${T}s per run, $REPS rounds"
put meta run kernel "$(uname -r)"
put meta run cpus "$(nproc)"
# per-CPU allocations are made for every possible CPU, online or not
put meta run possible_cpus "$(($(cut -d- -f2 /sys/devices/system/cpu/possible) + 1))"
put meta run iperf_seconds "$T"
put meta run repetitions "$REPS"
put meta run clock "$CLOCK"
put meta run inner_mtu "$MTU"
put meta run date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put meta run virt "$(if dmesg 2>/dev/null | grep -q 'Hypervisor detected'; then
	dmesg | sed -n 's/.*Hypervisor detected: //p' | head -n1
elif grep -qw hypervisor /proc/cpuinfo; then echo "qemu TCG, software emulation"; else echo "none detected"; fi)"
put meta run ntm_available "$ntm_ok"

topo_init veth || { err "topology setup failed"; exit 1; }
topo_iperf_server "$NS_B" || err "iperf3 server did not start"

# --------------------------------------------------------------- throughput
# clock_mark TAG: the guest's clock next to the host's, read as the mtime the
# host gives a file created on the scripts/vm --rw share: under -icount the
# guest's seconds are virtual, and the host's say how long the run took.
clock_mark() {
	local f=${NTM_BENCH_OUT:-}/.bench-clock-$1
	put meta run "clock_${1}_guest_s" "$(now)"
	[ -n "${NTM_BENCH_OUT:-}" ] && [ -d "$NTM_BENCH_OUT" ] && [ -w "$NTM_BENCH_OUT" ] || return 0
	rm -f "$f"
	: >"$f" || return 0
	put meta run "clock_${1}_host_s" "$(stat -c %.9Y "$f")"
	rm -f "$f"
}

# Each path has a setup (once, before the first round), a use (before each
# of its measurements: checks the path, and for ntm installs the tunnel of
# its cipher on the shared ntm0) and a teardown (after the last round).
# DST_<path> is the address iperf3 connects to.

setup_veth() { put throughput veth mtu 1500; }
use_veth() { DST=$UL4_B; }
down_veth() { :; }

# Both ntm paths share ntm0 (one ntmd per namespace); use_ntm replaces the
# tunnel by one of the path's cipher, which takes a few ntmctl calls.
NTM_UP=0
setup_ntm() {
	if [ $NTM_UP = 0 ]; then
		topo_ntm_up || { err "ntm: ntmd/ntm0 setup failed"; return 1; }
		A ip link set ntm0 mtu $MTU
		B ip link set ntm0 mtu $MTU
		NTM_UP=1
	fi
	put throughput "$1" mtu "$(A cat /sys/class/net/ntm0/mtu)"
}
use_ntm() {
	local name=$1 cipher=$2
	topo_tunnel_flush >/dev/null 2>&1
	topo_tunnel_pair "$cipher" 4 || { err "$name: tunnel setup failed"; return 1; }
	ping_ok "$NS_A" $VIP4_B || { err "$name: no ping through the tunnel"; return 1; }
	DST=$VIP4_B
}
down_ntm() { topo_tunnel_flush >/dev/null 2>&1; }
setup_ntm_chacha() { setup_ntm ntm-chacha20-poly1305; }
use_ntm_chacha() { use_ntm ntm-chacha20-poly1305 chacha20-poly1305; }
down_ntm_chacha() { down_ntm; }
# ChaCha20-Poly1305 through the crypto API instead of the library (D106):
# the module parameter chacha_api is read when a tunnel is created.
setup_ntm_chacha_api() { setup_ntm ntm-chacha20-poly1305-api; }
use_ntm_chacha_api() {
	local rc param=/sys/module/ntm/parameters/chacha_api
	echo 1 >$param || { err "ntm-chacha-api: cannot set chacha_api"; return 1; }
	use_ntm ntm-chacha20-poly1305-api chacha20-poly1305
	rc=$?
	echo 0 >$param
	return $rc
}
down_ntm_chacha_api() { down_ntm; }
setup_ntm_aesgcm() { setup_ntm ntm-aes-gcm; }
use_ntm_aesgcm() { use_ntm ntm-aes-gcm aes-gcm; }
down_ntm_aesgcm() { down_ntm; }

WG_A=198.51.100.65
WG_B=198.51.100.66
setup_wireguard() {
	local d=$RES/wg
	mkdir -p "$d"
	wg genkey >"$d/a.key" && wg genkey >"$d/b.key" || { err "wg genkey failed"; return 1; }
	wg pubkey <"$d/a.key" >"$d/a.pub"
	wg pubkey <"$d/b.key" >"$d/b.pub"
	A ip link add wg0 type wireguard || { err "no wireguard link kind"; return 1; }
	B ip link add wg0 type wireguard
	A wg set wg0 listen-port 51821 private-key "$d/a.key" \
		peer "$(cat "$d/b.pub")" endpoint $UL4_B:51821 allowed-ips $WG_B/32
	B wg set wg0 listen-port 51821 private-key "$d/b.key" \
		peer "$(cat "$d/a.pub")" endpoint $UL4_A:51821 allowed-ips $WG_A/32
	A ip addr add $WG_A/32 dev wg0
	B ip addr add $WG_B/32 dev wg0
	A ip link set wg0 mtu $MTU up
	B ip link set wg0 mtu $MTU up
	A ip route add $WG_B/32 dev wg0 src $WG_A
	B ip route add $WG_A/32 dev wg0 src $WG_B
	put throughput wireguard mtu "$(A cat /sys/class/net/wg0/mtu)"
}
use_wireguard() {
	ping_ok "$NS_A" $WG_B || { err "wireguard: no ping"; return 1; }
	DST=$WG_B
}
down_wireguard() {
	A ip link del wg0 2>/dev/null
	B ip link del wg0 2>/dev/null
}

XF_A=198.51.100.129
XF_B=198.51.100.130
# A UDP socket with UDP_ENCAP_ESPINUDP on port 4500: without it the kernel
# does not decapsulate ESP-in-UDP.
ESPINUDP_PY='
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 4500))
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
print("ready", flush=True)
time.sleep(86400)
'
setup_xfrm() {
	local k1 k2 ns
	k1=$(topo_hex 36)
	k2=$(topo_hex 36)
	for ns in "$NS_A" "$NS_B"; do
		topo_bg "$ns" "$RES/espinudp-$ns.log" $PY -c "$ESPINUDP_PY"
		in_ns "$ns" ip xfrm state add src $UL4_A dst $UL4_B proto esp spi 0x1001 reqid 1 \
			mode tunnel replay-window 64 aead 'rfc4106(gcm(aes))' 0x"$k1" 128 \
			encap espinudp 4500 4500 0.0.0.0 || { err "xfrm state add failed"; return 1; }
		in_ns "$ns" ip xfrm state add src $UL4_B dst $UL4_A proto esp spi 0x2002 reqid 2 \
			mode tunnel replay-window 64 aead 'rfc4106(gcm(aes))' 0x"$k2" 128 \
			encap espinudp 4500 4500 0.0.0.0 || { err "xfrm state add failed"; return 1; }
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
	# The inner route carries the same MTU as the tunnel devices.
	A ip route add $XF_B/32 dev vA src $XF_A mtu lock $MTU
	B ip route add $XF_A/32 dev vB src $XF_B mtu lock $MTU
	put throughput xfrm mtu "$MTU"
}
use_xfrm() {
	ping_ok "$NS_A" $XF_B || { err "xfrm: no ping"; return 1; }
	DST=$XF_B
}
down_xfrm() {
	local ns
	put throughput xfrm esp_rx_packets "$(B ip -s xfrm state get src $UL4_A dst $UL4_B proto esp spi 0x1001 2>/dev/null |
		awk '/lifetime current/ { getline; sub(/\(packets\)/, "", $2); print $2; exit }')"
	for ns in "$NS_A" "$NS_B"; do
		in_ns "$ns" ip xfrm policy flush
		in_ns "$ns" ip xfrm state flush
	done
}

# the result name of a path (the JSON keys of the single-run bench)
path_name() {
	case $1 in
	ntm-chacha) echo ntm-chacha20-poly1305 ;;
	ntm-chacha-api) echo ntm-chacha20-poly1305-api ;;
	ntm-aesgcm) echo ntm-aes-gcm ;;
	*) echo "$1" ;;
	esac
}

bench_throughput() {
	local paths="" p rep i n t0
	for p in veth ntm-chacha ntm-chacha-api ntm-aesgcm wireguard xfrm; do
		want_cfg "$p" || continue
		case $p in ntm-*) [ $ntm_ok = 1 ] || continue ;; esac
		if "setup_${p//-/_}"; then
			paths="$paths $p"
		else
			err "$p: setup failed, path left out"
		fi
	done
	# shellcheck disable=SC2086
	set -- $paths
	n=$#
	[ "$n" -gt 0 ] || { err "throughput: no path to measure"; return 1; }
	put meta run paths "${paths# }"
	log "throughput: $REPS rounds over $n paths:$paths"
	clock_mark start
	t0=$(now)
	for rep in $(seq 1 "$REPS"); do
		# rotate: round r starts at path (r - 1) mod n
		for i in $(seq 0 $((n - 1))); do
			eval "p=\${$(((rep - 1 + i) % n + 1))}"
			if "use_${p//-/_}"; then
				put_run "$rep" "$(path_name "$p")" position "$((i + 1))"
				measure "$rep" "$(path_name "$p")" "$DST"
			else
				err "$p round $rep: path not usable, not measured"
			fi
		done
	done
	put meta run throughput_guest_seconds "$(elapsed "$t0")"
	clock_mark end
	for p in $paths; do
		"down_${p//-/_}"
	done
}

want throughput && bench_throughput

# --------------------------------------------------------------- memory
bench_mem_ntm() {
	local n=$NTUN f=$RES/batch-add.txt t0 out cnt
	[ -n "$(A ip -br link show ntm0 2>/dev/null)" ] || topo_ntm_up ||
		{ err "memory: ntm setup failed"; return 1; }
	topo_tunnel_flush >/dev/null 2>&1
	log "ntm memory: generating $n tunnels with distinct keys"
	$PY - "$n" "$f" <<-'EOF'
	import os, sys
	n, path = int(sys.argv[1]), sys.argv[2]
	with open(path, "w") as f:
	    for i in range(1, n + 1):
	        vip = "198.18.%d.%d" % ((i >> 8) & 0xff, i & 0xff) if i < 65536 else \
	              "198.19.%d.%d" % (((i - 65536) >> 8) & 0xff, (i - 65536) & 0xff)
	        f.write("tunnel add ntm0 --local-index %d --remote-index %d "
	                "--endpoint 192.0.2.2:51820 --vip4 %s --cipher chacha20-poly1305 "
	                "--key %s --tx-salt %s --rx-salt %s\n" % (
	                    i + 100000, i + 100000, vip, os.urandom(32).hex(),
	                    "a" + os.urandom(4).hex()[1:], "b" + os.urandom(4).hex()[1:]))
	EOF
	mem_base
	t0=$(now)
	out=$(A "$NTMCTL" batch "$f" 2>&1) || err "ntm memory: batch add failed: $(printf '%s' "$out" | tail -n 3)"
	put memory ntm add_seconds "$(elapsed "$t0")"
	cnt=$(topo_dstat "$NS_A" num_tunnels)
	put memory ntm num_tunnels_reported "${cnt:-0}"
	log "ntm memory: added in $(elapsed "$t0") s, device reports ${cnt:-?} tunnels"
	mem_probe ntm "${cnt:-$n}"
	# the dump alone, output to /dev/null: what reading it costs (a jq or
	# Python behind the pipe timed its own parsing too), JSON and text
	t0=$(now)
	A "$NTMCTL" -j tunnel show ntm0 >/dev/null || err "ntm memory: JSON dump failed"
	put memory ntm dump_seconds "$(elapsed "$t0")"
	t0=$(now)
	A "$NTMCTL" tunnel show ntm0 >/dev/null || err "ntm memory: text dump failed"
	put memory ntm dump_text_seconds "$(elapsed "$t0")"
	# untimed: does the JSON dump hold every tunnel?
	cnt=$(A "$NTMCTL" -j tunnel show ntm0 2>/dev/null | $NTMJSON tunnels | cut -d' ' -f1)
	put memory ntm dump_count "${cnt:-0}"
	t0=$(now)
	A "$NTMCTL" tunnel flush ntm0 || err "ntm memory: flush failed"
	put memory ntm flush_seconds "$(elapsed "$t0")"
	put memory ntm del_seconds "$(elapsed "$t0")"
	mem_probe ntm_after_flush "${n}"
}

bench_mem_wg() {
	local n=$NWG d=$RES/wgmem t0
	mkdir -p "$d"
	A ip link add wgm type wireguard || { err "wg memory: no wireguard"; return 1; }
	wg genkey >"$d/priv"
	A wg set wgm listen-port 51830 private-key "$d/priv"
	$PY - "$n" "$d/peers.conf" <<-'EOF'
	import base64, os, sys
	n, path = int(sys.argv[1]), sys.argv[2]
	with open(path, "w") as f:
	    for i in range(1, n + 1):
	        # Any 32 random bytes are a usable Curve25519 public key.
	        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.%d.%d/32\nEndpoint = 192.0.2.2:51830\n\n" % (
	            base64.b64encode(os.urandom(32)).decode(), (i >> 8) & 0xff, i & 0xff))
	EOF
	mem_base
	t0=$(now)
	A wg addconf wgm "$d/peers.conf" || err "wg memory: addconf failed"
	put memory wireguard add_seconds "$(elapsed "$t0")"
	mem_probe wireguard "$(A wg show wgm peers | wc -l)"
	# Deleting 10 000 peers takes minutes under emulation (a synchronize_net
	# per peer): the namespace teardown at exit does it, after the last
	# measurement.
}

bench_mem_xfrm() {
	local n=$NSA f=$RES/xfrm.batch t0
	$PY - "$n" "$f" <<-'EOF'
	import os, sys
	n, path = int(sys.argv[1]), sys.argv[2]
	with open(path, "w") as f:
	    for i in range(1, n + 1):
	        f.write("xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x%x "
	                "reqid %d mode tunnel replay-window 64 aead rfc4106(gcm(aes)) 0x%s 128 "
	                "encap espinudp 4500 4500 0.0.0.0\n" % (0x100000 + i, i, os.urandom(36).hex()))
	EOF
	mem_base
	t0=$(now)
	A ip -batch "$f" >/dev/null 2>&1 || err "xfrm memory: ip -batch failed"
	put memory xfrm add_seconds "$(elapsed "$t0")"
	mem_probe xfrm "$(A ip xfrm state count 2>/dev/null | awk '{ print $NF }')"
	t0=$(now)
	A ip xfrm state flush
	put memory xfrm del_seconds "$(elapsed "$t0")"
}

# Tunnels that keep a crypto API transform each (D106), measured apart and
# fewer of them: AES-GCM (always), and ChaCha20-Poly1305 with the module
# parameter chacha_api=1 (what every ChaCha tunnel cost before D106).
# bench_mem_ntm_api SECTION CIPHER CHACHA_API(0|1) COUNT
bench_mem_ntm_api() {
	local sec=$1 cipher=$2 api=$3 n=$4 f=$RES/batch-add-$1.txt t0 out cnt
	local param=/sys/module/ntm/parameters/chacha_api
	[ -n "$(A ip -br link show ntm0 2>/dev/null)" ] || topo_ntm_up ||
		{ err "memory: ntm setup failed"; return 1; }
	topo_tunnel_flush >/dev/null 2>&1
	log "ntm memory: generating $n $cipher tunnels with distinct keys (chacha_api=$api)"
	$PY - "$n" "$f" "$cipher" <<-'EOF'
	import os, sys
	n, path, cipher = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	with open(path, "w") as f:
	    for i in range(1, n + 1):
	        f.write("tunnel add ntm0 --local-index %d --remote-index %d "
	                "--endpoint 192.0.2.2:51820 --vip4 198.18.%d.%d --cipher %s "
	                "--key %s --tx-salt %s --rx-salt %s\n" % (
	                    i + 300000, i + 300000, (i >> 8) & 0xff, i & 0xff, cipher,
	                    os.urandom(32).hex(),
	                    "a" + os.urandom(4).hex()[1:], "b" + os.urandom(4).hex()[1:]))
	EOF
	echo "$api" >$param || { err "$sec: cannot set chacha_api"; return 1; }
	mem_base
	t0=$(now)
	out=$(A "$NTMCTL" batch "$f" 2>&1) || err "$sec: batch add failed: $(printf '%s' "$out" | tail -n 3)"
	put memory "$sec" add_seconds "$(elapsed "$t0")"
	echo 0 >$param
	cnt=$(topo_dstat "$NS_A" num_tunnels)
	mem_probe "$sec" "${cnt:-$n}"
	A "$NTMCTL" tunnel flush ntm0 || err "$sec: flush failed"
}

if want memory; then
	[ $ntm_ok = 1 ] && [ "$NTUN" -gt 0 ] && bench_mem_ntm
	if [ $ntm_ok = 1 ] && [ "$NTUN_API" -gt 0 ]; then
		bench_mem_ntm_api ntm_aes aes-gcm 0 "$NTUN_API"
		bench_mem_ntm_api ntm_chacha_api chacha20-poly1305 1 "$NTUN_API"
	fi
	[ "$NSA" -gt 0 ] && bench_mem_xfrm
	[ "$NWG" -gt 0 ] && bench_mem_wg
fi

# --------------------------------------------------------------- report
$PY "$HERE/results.py" collect "$RES/values.tsv" "$RES/errors.txt" "$RES/runs.tsv" >"$RES/results.json" ||
	err "could not assemble results"
if [ -n "${NTM_BENCH_OUT:-}" ] && mkdir -p "$NTM_BENCH_OUT" 2>/dev/null &&
	cp "$RES/results.json" "$NTM_BENCH_OUT/results.json" 2>/dev/null; then
	# The host's python3-matplotlib is visible in the VM too: render here.
	$PY "$HERE/results.py" table "$RES/results.json" >"$NTM_BENCH_OUT/results.txt"
	MPLCONFIGDIR=$RES $PY "$HERE/results.py" chart "$RES/results.json" "$NTM_BENCH_OUT/results.png" ||
		log "no chart (python3-matplotlib missing?)"
	log "results written to $NTM_BENCH_OUT/results.{json,txt,png}"
fi
echo "=== NTM-BENCH-JSON BEGIN ==="
cat "$RES/results.json"
echo "=== NTM-BENCH-JSON END ==="
[ "${NTM_BENCH_TABLE:-1}" != 0 ] && $PY "$HERE/results.py" table "$RES/results.json" >&2
exit 0
