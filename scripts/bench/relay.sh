#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/relay.sh - Relay Server benchmark; runs INSIDE the VM as root:
#
#   NTM_BENCH_OUT=$PWD/build/bench scripts/vm --rw build/bench --timeout 1500 -- scripts/bench/relay.sh
#
# Three parts, in one VM run:
#   forward - namespaces A, B and RS on one bridge (lib/topo.sh, the
#             topology of tests/selftests/ntm_relay.sh), ntmd --create on
#             each, one chacha20-poly1305 tunnel A <-> B (inner MTU $MTU)
#             whose endpoints are switched between three paths:
#               direct - A and B send to each other;
#               relay  - both send to RS:51820, where one kernel relay
#                        session (ntmctl relay add) joins the two legs;
#               socat  - both send to a user-space UDP forwarder in RS
#                        (socat, A -> RS:40001, RS:40002 -> B), which
#                        carries the same encrypted tunnel datagrams;
#             the tunnels never roam (--roaming off), so each path is
#             exactly what the endpoints say.  For each path: iperf3 TCP
#             (one stream) and 64-byte UDP packets per second received,
#             NTM_RELAY_REPS repetitions, interleaved (the order of the
#             paths rotates from one repetition to the next);
#   capacity- the same three paths without the tunnel's crypto: 64-byte
#             NTM-shaped datagrams from udp_blast.py, what arrives at B
#             per second (the forwarder's own limit);
#   memory  - NTM_RELAY_SESSIONS relay sessions (random receiver indexes,
#             distinct leg addresses) through one `ntmctl batch` on a
#             second device of RS; kernel memory before and after (after
#             sync, drop_caches and an RCU settle): the session cache of
#             /sys/kernel/slab, the rhashtable bucket arrays of
#             /proc/vmallocinfo, Slab+Percpu+VmallocUsed, MemFree and
#             MemAvailable;
#   dns     - the testbed of tests/selftests/lib/relaybed.sh (AS, DC, knot,
#             two relays, NATs): node B behind R looks up dK.ntm.test for
#             NTM_RELAY_PEERS nodes dK behind the NAT R2 -- the DC relays
#             (both behind NATs) -- with kdig at B's DNS hook; then B's
#             ntmd status is polled until its path to dK is direct (the
#             hole punching worked).  Interleaved with each, public node
#             A looks up dK (the DC directs a direct tunnel): the same
#             query without a relay.
# It reports numbers and never judges them.  The JSON document goes to
# stdout between the NTM-RELAY-BENCH-JSON markers and, with NTM_BENCH_OUT
# naming a writable directory, to $NTM_BENCH_OUT/relay-results.{json,txt,png};
# scripts/bench/relay_results.py renders it.
#
# Knobs: NTM_BENCH_TIME (s per iperf3 run, 5), NTM_RELAY_REPS (5),
# NTM_RELAY_SESSIONS (100000), NTM_RELAY_PEERS (5), NTM_RELAY_ONLY
# (subset of "forward capacity memory dns"; capacity needs forward),
# NTM_BENCH_TABLE (0: no text table on stderr), NTM_RELAY_PIN (0: no CPU
# pinning), NTM_RELAY_CHART (0: no chart), NTM_RELAY_LOGS (0: the daemons'
# logs are not copied to $NTM_BENCH_OUT/relay-logs).
# Code run from traps, "a && b || c" and the word-split $PIN0/$PIN1 are meant:
# shellcheck disable=SC2317,SC2119,SC2034,SC2015,SC2086
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NTM_REPO=$REPO
TOPO_ID=rlb
. "$REPO/tests/selftests/lib/topo.sh"
SB_LOG_LEVEL=info
. "$REPO/tests/selftests/lib/sigbed.sh"
. "$REPO/tests/selftests/lib/relaybed.sh"

T=${NTM_BENCH_TIME:-5}
REPS=${NTM_RELAY_REPS:-5}
NSESS=${NTM_RELAY_SESSIONS:-100000}
PEERS=${NTM_RELAY_PEERS:-5}
ONLY=${NTM_RELAY_ONLY:-forward capacity memory dns}
MTU=1420
CIPHER=chacha20-poly1305
SOCAT_A=40001 # A sends to RS:40001
SOCAT_B=40002 # socat sends to B from RS:40002, B sends back there
RES=$(mktemp -d /tmp/ntmrelaybench.XXXXXX)
TOPO_TMP=$RES/topo
mkdir -p "$TOPO_TMP"
NTM_KEEP_TMP=1

log() { printf '[relay-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
err() { log "ERROR: $*"; printf '%s\n' "$*" >>"$RES/errors.txt"; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# put FILE FIELDS...: one tab-separated line
put() {
	local f=$1
	shift
	(IFS=$'\t'; printf '%s\n' "$*") >>"$RES/$f"
}
now_ns() { date +%s%N; }
ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

cleanup() {
	topo_cleanup
	sigbed_teardown
	rm -rf "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

iperf_field() {
	$PY - "$1" "$2" <<-'EOF'
	import json, sys
	try:
	    d = json.load(open(sys.argv[1]))
	    if "error" in d and "end" not in d:
	        raise ValueError(d["error"])
	    print(eval(sys.argv[2]))
	except Exception:
	    print("")
	EOF
}

# --------------------------------------------------------------- meta
put meta.tsv kernel "$(uname -r)"
put meta.tsv cpus "$(nproc)"
put meta.tsv date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put meta.tsv virt "$(if dmesg 2>/dev/null | grep -q 'Hypervisor detected'; then
	dmesg | sed -n 's/.*Hypervisor detected: //p' | head -n1
elif grep -qw hypervisor /proc/cpuinfo; then echo "qemu TCG, software emulation"; else echo "none detected"; fi)"
put meta.tsv iperf_seconds "$T"
put meta.tsv repetitions "$REPS"
put meta.tsv inner_mtu "$MTU"
put meta.tsv cipher "$CIPHER"
put meta.tsv socat "$(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -n1)"
log "kernel $(uname -r), $(nproc) CPUs; iperf3 ${T}s per run, $REPS repetitions"
T_START=$(now_ns)

# clock_mark TAG: the guest's clock next to the host's, read as the mtime the
# host gives a file created on the scripts/vm --rw share.  Under TCG the
# guest calibrates its TSC at boot; on a loaded host that can go wrong by a
# factor, and every time-based figure with it (relay_results.py reports the
# rate).
clock_mark() {
	local f=${NTM_BENCH_OUT:-}/.relay-clock-$1
	[ -n "${NTM_BENCH_OUT:-}" ] && [ -d "$NTM_BENCH_OUT" ] && [ -w "$NTM_BENCH_OUT" ] || return 0
	rm -f "$f"
	: >"$f" || return 0
	put meta.tsv "clock_${1}_guest_ns" "$(now_ns)"
	put meta.tsv "clock_${1}_host_s" "$(stat -c %.9Y "$f")"
	rm -f "$f"
}
clock_mark start
# logs of the daemons next to the results (NTM_RELAY_LOGS=0: none)
if [ -n "${NTM_BENCH_OUT:-}" ] && [ "${NTM_RELAY_LOGS:-1}" != 0 ]; then
	LOGS=$NTM_BENCH_OUT/relay-logs
	rm -rf "$LOGS"
	mkdir -p "$LOGS" 2>/dev/null && export NTM_SIGBED_SAVE=$LOGS/dns
fi
save_topo_logs() {
	[ -n "${LOGS:-}" ] && mkdir -p "$LOGS/topo" && cp "$RES"/topo/*.log "$RES"/*.log "$LOGS/topo/" 2>/dev/null
	return 0
}

# --------------------------------------------------------------- forward
RS4=$UL4_RS:$NTM_PORT
ep_of() { # ep_of PATH SIDE(A|B): where SIDE's tunnel sends on PATH
	case $1:$2 in
	direct:A) echo "$UL4_B:$NTM_PORT" ;;
	direct:B) echo "$UL4_A:$NTM_PORT" ;;
	relay:*) echo "$RS4" ;;
	socat:A) echo "$UL4_RS:$SOCAT_A" ;;
	socat:B) echo "$UL4_RS:$SOCAT_B" ;;
	esac
}

# use_path PATH: point both tunnels at PATH and check that it carries a ping
use_path() {
	local p=$1 a b
	a=$(ep_of "$p" A) b=$(ep_of "$p" B)
	nctl "$NS_A" tunnel set $NTM_DEV --local-index $IDX_A --endpoint "$a" &&
		nctl "$NS_B" tunnel set $NTM_DEV --local-index $IDX_B --endpoint "$b" || return 1
	[ "$(topo_tstat "$NS_A" endpoint)" = "$a" ] && [ "$(topo_tstat "$NS_B" endpoint)" = "$b" ] ||
		{ err "forward $p: endpoints are $(topo_tstat "$NS_A" endpoint) / $(topo_tstat "$NS_B" endpoint), not $a / $b"; return 1; }
	topo_wait 20 A ping -c1 -W1 $VIP4_B
}

relay_rx() { num "$(nctl "$NS_RS" -j relay show $NTM_DEV --id 1 2>/dev/null | $PY -c '
import json, sys
r = json.load(sys.stdin)[0]
print(sum(l["rx_packets"] for l in r["legs"]))' 2>/dev/null)"; }

# measure REP PATH: TCP one stream and UDP 64 B, A -> B
measure() {
	local rep=$1 p=$2 f v r1
	f=$RES/fwd-$rep-$p-tcp.json
	in_ns "$NS_A" timeout 60 $PIN0 iperf3 -c $VIP4_B -J -t "$T" -O 1 >"$f" 2>&1 || err "forward $rep $p: iperf3 TCP failed: $(head -c 300 "$f")"
	v=$(iperf_field "$f" 'd["end"]["sum_received"]["bits_per_second"]')
	put forward.tsv "$rep" "$p" tcp_bps "$v"
	put forward.tsv "$rep" "$p" tcp_retransmits "$(iperf_field "$f" 'd["end"]["sum_sent"].get("retransmits", 0)')"
	put forward.tsv "$rep" "$p" tcp_cpu_sender_pct "$(iperf_field "$f" 'round(d["end"]["cpu_utilization_percent"]["host_total"], 1)')"
	f=$RES/fwd-$rep-$p-udp.json
	in_ns "$NS_A" timeout 60 $PIN0 iperf3 -c $VIP4_B -J -u -l 64 -b 0 -t "$T" >"$f" 2>&1 || err "forward $rep $p: iperf3 UDP failed: $(head -c 300 "$f")"
	put forward.tsv "$rep" "$p" udp64_rx_pps \
		"$(iperf_field "$f" 'round(d["end"]["sum_received"]["bytes"] / 64 / d["end"]["sum_received"]["seconds"])')"
	put forward.tsv "$rep" "$p" udp64_tx_pps \
		"$(iperf_field "$f" 'round(d["end"]["sum_sent"]["packets"] / d["end"]["sum_sent"]["seconds"])')"
	put forward.tsv "$rep" "$p" udp64_lost_pct "$(iperf_field "$f" 'round(d["end"]["sum_received"]["lost_percent"], 2)')"
	r1=$(relay_rx)
	put forward.tsv "$rep" "$p" relay_session_packets "$((r1 - RELAY_RX))"
	log "forward $rep $p: TCP $v bit/s, UDP 64 B $(tail -n 3 "$RES/forward.tsv" | head -n 1 | cut -f4) pps received; relay session +$((r1 - RELAY_RX)) datagrams"
	RELAY_RX=$r1
}

bench_forward() {
	local key paths rep i p
	topo_init bridge || { err "forward: underlay setup failed"; return 1; }
	topo_rs_init || { err "forward: RS setup failed"; return 1; }
	topo_ntm_up || { err "forward: ntmd on A and B failed"; return 1; }
	topo_ntmd "$NS_RS" || { err "forward: ntmd on RS failed"; return 1; }
	A ip link set ntm0 mtu $MTU
	B ip link set ntm0 mtu $MTU
	key=$(topo_hex 32)
	TUN_SALT_AB=$(topo_hex 4)
	TUN_SALT_BA=$(topo_hex 4)
	while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
	# shellcheck disable=SC2046
	nctl "$NS_A" $(topo_relay_tunnel_line "$NS_A" $CIPHER - "$(ep_of direct A)") <<<"$key" &&
		nctl "$NS_B" $(topo_relay_tunnel_line "$NS_B" $CIPHER - "$(ep_of direct B)") <<<"$key" ||
		{ err "forward: tunnel add failed"; return 1; }
	nctl "$NS_A" tunnel set $NTM_DEV --local-index $IDX_A --roaming off &&
		nctl "$NS_B" tunnel set $NTM_DEV --local-index $IDX_B --roaming off ||
		err "forward: --roaming off failed (the tunnels may follow the last source)"
	# One CPU for the endpoints, one for the forwarder: A and B (iperf3,
	# sealing in the sender's context, opening in B's receive softirq) on
	# CPU 0, RS (its receive softirq through RPS: the kernel relay; socat
	# itself) on CPU 1.  Without it, veth delivers in the sender's context
	# and the kernel relay shares A's CPU while socat runs on the idle
	# other one: the comparison would be of schedulers, not forwarders.
	# (NTM_RELAY_PIN=0: no pinning.)
	if [ "${NTM_RELAY_PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ]; then
		A sh -c 'echo 1 >/sys/class/net/vA/queues/rx-0/rps_cpus' &&
			B sh -c 'echo 1 >/sys/class/net/vB/queues/rx-0/rps_cpus' &&
			in_ns "$NS_RS" sh -c 'echo 2 >/sys/class/net/vR/queues/rx-0/rps_cpus' ||
			err "forward: RPS settings failed"
		PIN0="taskset -c 0" PIN1="taskset -c 1"
		put meta.tsv cpu_pinning "A, B and iperf3 on CPU 0 (RPS of vA, vB; taskset); RS receive (RPS of vR) and socat on CPU 1"
	else
		PIN0="" PIN1=""
		put meta.tsv cpu_pinning "none"
	fi
	nctl "$NS_RS" relay add $NTM_DEV --id 1 --leg1 "$UL4_A:$NTM_PORT" --index1 $IDX_A \
		--leg2 "$UL4_B:$NTM_PORT" --index2 $IDX_B >/dev/null || { err "forward: relay add failed"; return 1; }
	# shellcheck disable=SC2086
	topo_bg "$NS_RS" "$RES/socat.log" $PIN1 socat -b 65536 \
		"UDP4-LISTEN:$SOCAT_A,bind=$UL4_RS,reuseaddr" "UDP4:$UL4_B:$NTM_PORT,bind=$UL4_RS:$SOCAT_B"
	SOCAT_PID=$TOPO_LAST_PID
	# shellcheck disable=SC2086
	topo_bg "$NS_B" "$RES/iperf3-server.log" $PIN0 iperf3 -s
	topo_wait 10 sh -c "ip netns exec $NS_B ss -Hltn 'sport = :5201' | grep -q LISTEN" ||
		{ err "forward: iperf3 server did not start"; return 1; }
	paths="direct relay socat"
	RELAY_RX=0
	for rep in $(seq 1 "$REPS"); do
		# rotate: direct relay socat, relay socat direct, socat direct relay, ...
		set -- $paths
		for i in $(seq 0 2); do
			eval "p=\${$(((rep - 1 + i) % 3 + 1))}"
			if ! use_path "$p"; then
				err "forward $rep $p: no ping on this path"
				continue
			fi
			measure "$rep" "$p"
		done
	done
	want capacity && bench_capacity
	put meta.tsv socat_alive "$(kill -0 "$SOCAT_PID" 2>/dev/null && echo 1 || echo 0)"
	put meta.tsv rs_relay "$(nctl "$NS_RS" -j relay show $NTM_DEV --id 1 2>/dev/null | tr -d '\n' | head -c 2000)"
	put meta.tsv rs_device_relay_drops "$(nctl "$NS_RS" -j device show $NTM_DEV 2>/dev/null |
		$PY -c 'import json,sys; d=json.load(sys.stdin); s=d.get("stats", d); print({k: v for k, v in s.items() if "relay" in k})' 2>/dev/null)"
	put meta.tsv rs_udp "$(in_ns "$NS_RS" cat /proc/net/snmp | awk '$1 == "Udp:"' | tr '\n' ' ')"
}

# --------------------------------------------------------------- capacity
# The tunnel's crypto at A and B bounds the paths above; this is what the
# forwarder alone can do.  udp_blast.py in A (CPU 0) sends 64-byte
# datagrams shaped like NTM data messages (type 1, a receiver index, noise;
# no crypto) from A:50000 for T seconds; B counts (nftables, then drops)
# what arrives at B:50001:
#   direct - to B:50001 (the sender's and the counter's own limit);
#   relay  - to RS:51820, relay session 2 joining (A:50000, 0x5001) and
#            (B:50001, 0x5002);
#   socat  - to RS:40011, socat -> B:50001 from RS:40012 (CPU 1).
CAP_IDX_B=0x5002
cap_count() {
	B nft list chain inet rlbcap pre 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -n1
}
bench_capacity() {
	local rep i p dst c0 c1 out sent secs
	B nft -f - <<-EOF || { err "capacity: nftables counter in B failed"; return 1; }
	table inet rlbcap {
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			udp dport 50001 counter drop
		}
	}
	EOF
	nctl "$NS_RS" relay add $NTM_DEV --id 2 --leg1 "$UL4_A:50000" --index1 0x5001 \
		--leg2 "$UL4_B:50001" --index2 $CAP_IDX_B >/dev/null || { err "capacity: relay add failed"; return 1; }
	# shellcheck disable=SC2086
	topo_bg "$NS_RS" "$RES/socat-cap.log" $PIN1 socat -b 2048 \
		"UDP4-LISTEN:40011,bind=$UL4_RS,reuseaddr" "UDP4:$UL4_B:50001,bind=$UL4_RS:40012"
	set -- direct relay socat
	for rep in $(seq 1 "$REPS"); do
		for i in 0 1 2; do
			eval "p=\${$(((rep - 1 + i) % 3 + 1))}"
			case $p in
			direct) dst=$UL4_B:50001 ;;
			relay) dst=$UL4_RS:$NTM_PORT ;;
			socat) dst=$UL4_RS:40011 ;;
			esac
			c0=$(num "$(cap_count)")
			# shellcheck disable=SC2086
			out=$(in_ns "$NS_A" timeout $((T + 30)) $PIN0 "$PY" "$HERE/udp_blast.py" "$UL4_A:50000" "$dst" $CAP_IDX_B "$T" 2>&1) ||
				err "capacity $rep $p: udp_blast.py: $(printf '%s' "$out" | tail -n 1)"
			sleep 1 # what is still queued
			c1=$(num "$(cap_count)")
			sent=$(printf '%s' "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
			secs=$(printf '%s' "$out" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
			put forward.tsv "$rep" "$p" cap_sent_pps "$(awk -v n="${sent:-0}" -v t="${secs:-0}" 'BEGIN { if (t > 0) printf "%.0f", n / t }')"
			put forward.tsv "$rep" "$p" cap_rx_pps "$(awk -v n="$((c1 - c0))" -v t="${secs:-0}" 'BEGIN { if (t > 0) printf "%.0f", n / t }')"
			log "capacity $rep $p: sent ${sent:-?} in ${secs:-?} s, $((c1 - c0)) arrived at B"
		done
	done
	put meta.tsv capacity_relay_session "$(nctl "$NS_RS" -j relay show $NTM_DEV --id 2 2>/dev/null | tr -d '\n' | head -c 1000)"
	put meta.tsv capacity_rs_softnet "$(awk '{ printf "%s ", $2 }' /proc/net/softnet_stat)"
}

# --------------------------------------------------------------- memory
settle() {
	local i prev=-1 cur
	sync
	echo 3 >/proc/sys/vm/drop_caches
	# RCU callbacks, deferred frees, rhashtable resizes: until the bucket
	# arrays stop changing (a resize of 200 000 keys takes seconds under
	# emulation; the old array is freed only after it), at most 30 s
	sleep 3
	for i in $(seq 1 30); do
		cur=$(vmalloc_of bucket_table_alloc)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 1
	done
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
}
meminfo() { awk -v k="$1:" '$1 == k { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }
kernel_bytes() { awk '/^(Slab|Percpu|VmallocUsed):/ { s += $2 } END { printf "%.0f\n", s * 1024 }' /proc/meminfo; }
# bytes of vmalloc areas allocated by CALLER (/proc/vmallocinfo)
vmalloc_of() { awk -v c="$1" 'index($0, c) { s += $2 } END { printf "%.0f\n", s }' /proc/vmallocinfo; }
SLAB=/sys/kernel/slab/ntm_relay
slab() { cut -d' ' -f1 "$SLAB/$1" 2>/dev/null; }

mem_snapshot() { # mem_snapshot TAG
	put memory.tsv "$1_kernel_bytes" "$(kernel_bytes)"
	put memory.tsv "$1_slab_bytes" "$(meminfo Slab)"
	put memory.tsv "$1_memfree_bytes" "$(meminfo MemFree)"
	put memory.tsv "$1_memavailable_bytes" "$(meminfo MemAvailable)"
	put memory.tsv "$1_vmalloc_used_bytes" "$(meminfo VmallocUsed)"
	put memory.tsv "$1_bucket_table_vmalloc_bytes" "$(vmalloc_of bucket_table_alloc)"
	put memory.tsv "$1_cache_objects" "$(slab total_objects)"
	put memory.tsv "$1_cache_slabs" "$(slab slabs)"
	put memory.tsv "$1_kmalloc_bytes" "$(grep -E '^kmalloc-(cg-)?[0-9]+k? ' /proc/slabinfo | awk '{ s += $3 * $4 } END { print s + 0 }')"
}

bench_memory() {
	local dev=ntm1 t0 out n
	if ! ip netns list | grep -qw "$NS_RS"; then
		topo_init bridge && topo_rs_init || { err "memory: RS setup failed"; return 1; }
	fi
	topo_ntmd "$NS_RS" $((NTM_PORT + 1)) $dev || { err "memory: ntmd for $dev failed"; return 1; }
	nctl "$NS_RS" device set $dev --max-relays $((NSESS + 1024)) ||
		err "memory: --max-relays $((NSESS + 1024)) failed"
	put memory.tsv sessions "$NSESS"
	put memory.tsv object_size "$(cat $SLAB/object_size 2>/dev/null)"
	put memory.tsv slab_size "$(cat $SLAB/slab_size 2>/dev/null)"
	put memory.tsv objs_per_slab "$(cat $SLAB/objs_per_slab 2>/dev/null)"
	put memory.tsv slab_order "$(cat $SLAB/order 2>/dev/null)"
	put memory.tsv cache_aliases "$(cat $SLAB/aliases 2>/dev/null)"
	put memory.tsv cache_is_alias "$([ -L $SLAB ] && readlink $SLAB || echo no)"
	put memory.tsv page_size "$(getconf PAGESIZE)"
	settle
	mem_snapshot before
	cat /proc/slabinfo >"$RES/slabinfo.before"
	log "memory: adding $NSESS relay sessions (pipelined NEW_RELAY)"
	t0=$(now_ns)
	out=$(in_ns "$NS_RS" "$PY" "$HERE/relay_bulk.py" $dev "$NSESS" 2>&1) || err "memory: relay_bulk.py: $out"
	put memory.tsv add_ms "$(ms_since "$t0")"
	put memory.tsv add_result "$out"
	n=$(num "$(topo_dstat "$NS_RS" num_relays $dev)")
	put memory.tsv sessions_reported "$n"
	log "memory: $out; the device reports $n sessions"
	settle
	mem_snapshot after
	cat /proc/slabinfo >"$RES/slabinfo.after"
	grep bucket_table_alloc /proc/vmallocinfo >"$RES/vmalloc-buckets.after"
	put memory.tsv after_bucket_arrays "$(awk '{ printf "%s%d", (NR > 1 ? "+" : ""), $2 }' "$RES/vmalloc-buckets.after")"
	# the caches that grew most (objects x object size)
	put memory.tsv slab_growth "$(awk 'FNR == 1 { f++ } $1 ~ /^#|^slabinfo/ { next }
		{ v = $3 * $4; if (f == 1) b[$1] = v; else d[$1] = v - b[$1] }
		END { for (k in d) if (d[k] > 0) printf "%d %s\n", d[k], k }' "$RES/slabinfo.before" "$RES/slabinfo.after" |
		sort -rn | head -n 6 | awk '{ printf "%s%s:%d", (NR > 1 ? "," : ""), $2, $1 }')"
	log "memory: kernel (Slab+Percpu+Vmalloc) $(($(kernel_bytes) - $(awk -F'\t' '$1 == "before_kernel_bytes" { print $2 }' "$RES/memory.tsv"))) B more"
	t0=$(now_ns)
	nctl "$NS_RS" relay flush $dev || err "memory: flush failed"
	put memory.tsv flush_ms "$(ms_since "$t0")"
	settle
	mem_snapshot flushed
}

# --------------------------------------------------------------- dns
D=$SB_DOMAIN
# path_of NODE PEER: relay|direct (the node's status), "" without a peer entry
path_of() { relaybed_peer "$1" "$2.$D" '.path.path' 2>/dev/null; }

# logts FROM PATTERN: ns timestamp of the first line of FROM's ntmd log
# (after line $LOGL) matching PATTERN, empty without one
logts() {
	local ts
	ts=$(tail -n +"$((LOGL + 1))" "$(sigbed_logfile "$1")" | grep -m1 -e "$2" | cut -d' ' -f1,2)
	[ -n "$ts" ] && date -d "$ts" +%s%N 2>/dev/null
}
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.1f", (b - a) / 1e6 }'; }

# lookup CASE K FROM PEER: kdig at FROM's DNS hook for PEER's A record.
# Relay case: from FROM's ntmd log (millisecond timestamps), when the tunnel
# came up through the relay and when ntmd moved it to the direct path;
# then FROM's status is polled until the path reads direct (a check, the
# poll itself takes about a second under emulation).
# dns.tsv: case k from peer kdig_ms wall_ms rcode ok path_at_answer
#   relay_to_direct_ms (log: tunnel via the relay -> direct now)
#   answer_to_direct_ms (log: direct now - the answer; < 0: before it)
#   relay (the endpoint the tunnel came up on) status_direct (1: confirmed)
lookup() {
	local c=$1 k=$2 from=$3 peer=$4 t0 t1 out ms st got want ok=0 p0 tr="" td="" r2d="" a2d="" rp="" sd="" end
	want=$(sigbed_node "$peer" vip4)
	LOGL=$(wc -l <"$(sigbed_logfile "$from")")
	t0=$(now_ns)
	out=$(sigbed_in "$from" kdig +time=40 +retry=0 @$SB_DNS_HOOK -p 53 "$peer.$D" A 2>&1)
	t1=$(now_ns)
	ms=$(printf '%s\n' "$out" | sed -n 's/^;; From .* in \([0-9.]*\) ms$/\1/p' | head -n1)
	st=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -n1)
	got=$(printf '%s\n' "$out" | awk '!/^;/ && $4 == "A" { print $5; exit }')
	[ -n "$got" ] && [ "$got" = "$want" ] && ok=1
	p0=$(path_of "$from" "$peer")
	if [ "$c" = relay ] && [ $ok = 1 ]; then
		end=$(($(date +%s) + 30))
		while [ "$(path_of "$from" "$peer")" != direct ] && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.2
		done
		[ "$(path_of "$from" "$peer")" = direct ] && sd=1
		rp=$(relaybed_peer "$from" "$peer.$D" '.path.relay')
		tr=$(logts "$from" "tunnel to $peer.$D (.*) via ${rp%:*}:")
		td=$(logts "$from" "tunnel to $peer.$D is direct now")
		r2d=$(ms_between "$tr" "$td")
		a2d=$(ms_between "$t1" "$td")
	fi
	put dns.tsv "$c" "$k" "$from" "$peer" "${ms:-}" "$(ms_between "$t0" "$t1")" "${st:-none}" "$ok" "${p0:-}" \
		"$r2d" "$a2d" "$rp" "$sd"
	log "dns $c $k: $from -> $peer: ${ms:-?} ms, ${st:-no answer}, ${got:-no address} (want $want), path at the answer ${p0:-none}${rp:+; tunnel up via relay $rp, direct ${r2d:-?} ms later (${a2d:-?} ms after the answer)}"
	[ $ok = 1 ] || printf '%s\n' "$out" | head -n 20 >&2
}

bench_dns() {
	local k n peers="" rc=0 t0
	why=$(sigbed_missing)
	[ -n "$why" ] && { err "dns: testbed unavailable: $why"; return 1; }
	t0=$(now_ns)
	TMPDIR=$RES relaybed_setup || { err "dns: relay testbed setup failed"; return 1; }
	for k in $(seq 1 "$PEERS"); do
		relaybed_add_private r2 "d$k" "10.2.0.$((10 + k))" || { err "dns: namespace d$k failed"; return 1; }
		peers="$peers d$k"
	done
	sigbed_write_as_conf
	sigbed_write_dc_conf "$(relaybed_dc_relays)"
	relaybed_write_rs_conf rs1 $RB_RS1
	relaybed_write_rs_conf rs2 $RB_RS2
	sigbed_start rs1 && sigbed_start rs2 && sigbed_start dc && sigbed_start as ||
		{ err "dns: AS, DC or a relay did not start"; return 1; }
	relaybed_wait_relays 60 2 ||
		err "dns: the DC does not see both relays up: $(sigbed_jq dc '.dc.relays' | jq -c . 2>/dev/null)"
	for n in a b $peers; do
		sigbed_password "$n" "bench $n $(sigbed_hex 6)"
		sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile "$n")" >/dev/null 2>&1 || rc=1
		sigbed_write_node_conf "$n" "$n@$D" "$(sigbed_pwfile "$n")"
	done
	for n in a b $peers; do sigbed_start_bg "$n" || rc=1; done
	for n in a b $peers; do sigbed_wait_ready "$n" 90 || rc=1; done
	[ $rc = 0 ] || { err "dns: nodes did not come up"; return 1; }
	put meta.tsv dns_testbed_seconds "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
	put meta.tsv dns_nated "b=$(sigbed_node b nated) d1=$(sigbed_node d1 nated) a=$(sigbed_node a nated)"
	log "dns: testbed up; B nated $(sigbed_node b nated), d1 nated $(sigbed_node d1 nated), A nated $(sigbed_node a nated)"
	# interleaved: relay (B -> dK, both behind NATs), direct (A -> dK)
	for k in $(seq 1 "$PEERS"); do
		lookup relay "$k" b "d$k"
		lookup direct "$k" a "d$k"
	done
	put meta.tsv dns_dc_directions "$(sigbed_jq dc '.dc.directions // empty')"
	put meta.tsv dns_dc_directions_relayed "$(sigbed_jq dc '.dc.directions_relayed // empty')"
	put meta.tsv dns_rs "$(for n in rs1 rs2; do sigbed_jq $n '.rs | {communications, kernel_sessions, forwarded, binds}' | jq -c --arg n $n '{($n): .}'; done | tr '\n' ' ')"
}

# --------------------------------------------------------------- run
modprobe ntm || err "modprobe ntm failed"
if want forward; then
	t0=$(now_ns)
	bench_forward
	put meta.tsv forward_seconds "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
fi
if want memory; then
	t0=$(now_ns)
	bench_memory
	put meta.tsv memory_seconds "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
fi
save_topo_logs
topo_cleanup
if want dns; then
	t0=$(now_ns)
	bench_dns
	put meta.tsv dns_seconds "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"
fi
clock_mark end
put meta.tsv total_seconds "$(awk -v a="$T_START" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')"

# --------------------------------------------------------------- report
$PY "$HERE/relay_results.py" collect "$RES" >"$RES/relay-results.json" || err "could not assemble results"
if [ -n "${NTM_BENCH_OUT:-}" ] && mkdir -p "$NTM_BENCH_OUT" 2>/dev/null &&
	cp "$RES/relay-results.json" "$NTM_BENCH_OUT/relay-results.json" 2>/dev/null; then
	$PY "$HERE/relay_results.py" table "$RES/relay-results.json" >"$NTM_BENCH_OUT/relay-results.txt"
	# NTM_RELAY_CHART=0: the host renders it (make bench-relay: matplotlib
	# builds its font cache first, minutes under emulation)
	if [ "${NTM_RELAY_CHART:-1}" != 0 ]; then
		MPLCONFIGDIR=$RES $PY "$HERE/relay_results.py" chart "$RES/relay-results.json" "$NTM_BENCH_OUT/relay-results.png" ||
			log "no chart (python3-matplotlib missing?)"
	fi
	log "results written to $NTM_BENCH_OUT/relay-results.{json,txt,png}"
fi
echo "=== NTM-RELAY-BENCH-JSON BEGIN ==="
cat "$RES/relay-results.json"
echo "=== NTM-RELAY-BENCH-JSON END ==="
[ "${NTM_BENCH_TABLE:-1}" != 0 ] && $PY "$HERE/relay_results.py" table "$RES/relay-results.json" >&2
exit 0
