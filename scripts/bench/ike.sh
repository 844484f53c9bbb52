#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench/ike.sh - IKEv2 handshake benchmark; runs INSIDE the VM as root:
#
#   NTM_BENCH_OUT=$PWD/build/bench scripts/vm --rw build/bench --timeout 900 -- scripts/bench/ike.sh
#
# IKEv2 handshakes per second with ntmd as responder, compared with
# strongSwan's charon as responder, in one run.  Three namespaces:
#
#   G (generator)  g1 10.0.1.1/24 -- r0 10.0.1.2/24  R (ntmd + ntm.ko, ipsec0)
#                  g2 10.0.2.1/24 -- s0 10.0.2.2/24  S (charon, xfrm; private /run)
#
# ntm-ikebench in G plays N concurrent initiators against one responder at
# a time: IKE_SA_INIT on port 500, IKE_AUTH with PSK (fqdn identities), one
# CHILD SA (aes256gcm16, TSi a /32 of 10.1.0.0/16 per handshake, TSr
# 10.2.0.0/24) on port 4500, then an INFORMATIONAL Delete of the IKE SA.
# Both responders have the same PSK, identities, proposals and group, no
# COOKIE threshold below the load, no DPD, no rekeying, no routes, little
# logging, and install every CHILD SA in the kernel (ntm.ko tunnel or xfrm
# state + policies) and remove it on the Delete.  The generator runs on CPU
# 0, the responder (all of charon's threads) on CPU 1.  Recorded per run:
# the generator's JSON (handshakes/s, latency, failures by kind), the
# responder's CPU time and VmRSS, and what the responder still holds a few
# seconds after the run (IKE SAs, half-open, kernel SAs): leaks show there.
# It reports numbers and never judges them.  The JSON document goes to
# stdout between the NTM-IKE-BENCH-JSON markers, and to
# $NTM_BENCH_OUT/ike-results.{json,txt,png} when NTM_BENCH_OUT names a
# writable directory; scripts/bench/ike_results.py renders it.
#
# Knobs (environment): NTM_IKE_TIME (s per run, 20), NTM_IKE_WARMUP (s not
# counted, 2), NTM_IKE_CONC ("4 32": concurrency levels), NTM_IKE_GROUP (19),
# NTM_IKE_RESPONDERS ("ntmd charon"), NTM_IKE_DH_POOL (16: DH key pairs the
# generator reuses, so that it is not the bottleneck), NTM_IKEBENCH (the
# binary, default $NTM_BIN/ntm-ikebench, NTM_BIN defaulting to build/ctld),
# NTM_IKE_LOG (ntmd log_level, "warn"), NTM_BENCH_TABLE (0: no text table on
# stderr).
# shellcheck disable=SC2317
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
NTM_BIN=${NTM_BIN:-$REPO/build/ctld}
NTMD=${NTMD:-$NTM_BIN/ntmd}
NTMCTL=${NTMCTL:-$NTM_BIN/ntmctl}
IKEBENCH=${NTM_IKEBENCH:-$NTM_BIN/ntm-ikebench}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
SWANCTL=${SWANCTL:-swanctl}
PY=/usr/bin/python3

T=${NTM_IKE_TIME:-20}
WARMUP=${NTM_IKE_WARMUP:-2}
CONC=${NTM_IKE_CONC:-4 32}
GROUP=${NTM_IKE_GROUP:-19}
RESPONDERS=${NTM_IKE_RESPONDERS:-ntmd charon}
DH_POOL=${NTM_IKE_DH_POOL:-16}
NTMD_LOG=${NTM_IKE_LOG:-warn}
PROPOSAL=aes256gcm16-prfsha256-ecp256
[ "$GROUP" = 31 ] && PROPOSAL=aes256gcm16-prfsha256-x25519
ESP=aes256gcm16
ID_I=ikebench.test
ID_R=responder.test
TS_I=10.1.0.0/16
TS_R=10.2.0.0/24

ID=$$
NS_G=ikbG$ID
NS_R=ikbR$ID
NS_S=ikbS$ID
G_R=10.0.1.1
R=10.0.1.2
G_S=10.0.2.1
S=10.0.2.2
CPU_GEN=0
CPU_RESP=1
[ "$(nproc)" -lt 2 ] && CPU_RESP=0

RES=$(mktemp -d "${TMPDIR:-/tmp}/ntmikebench.XXXXXX")
CHARON_PID=""
NTMD_PID=""

log() { printf '[ike-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
err() { log "ERROR: $*"; printf '%s\n' "$*" >>"$RES/errors.txt"; }
put() { printf '%s\t%s\n' "$2" "$3" >>"$1"; }
want() { case " $RESPONDERS " in *" $1 "*) return 0 ;; esac; return 1; }

G() { ip netns exec "$NS_G" "$@"; }
Rn() { ip netns exec "$NS_R" "$@"; }
Sn() { ip netns exec "$NS_S" "$@"; }

wait_for() { # TIMEOUT_S CMD...
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

stop_pid() { # PID
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 1 40); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.25
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	stop_pid "$NTMD_PID"
	stop_pid "$CHARON_PID"
	ip netns del "$NS_G" 2>/dev/null
	ip netns del "$NS_R" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

rss() { awk '/^VmRSS:/ { printf "%.0f\n", $2 * 1024 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }
now_ns() { date +%s%N; }

ctl() { Rn "$NTMCTL" "$@" --socket "$RES/ntmd.sock"; }
swan() { local op=$1; shift; Sn "$SWANCTL" "$op" --uri "unix://$RES/charon.vici" "$@"; }

# --------------------------------------------------------------- setup
why=""
tools=$IKEBENCH
want ntmd && tools="$tools $NTMD $NTMCTL"
want charon && tools="$tools $CHARON"
for t in $tools; do
	[ -x "$t" ] || { why="missing $t (build the ntm-ikebench, ntmd and ntmctl targets)"; break; }
done
want charon && { command -v "$SWANCTL" >/dev/null 2>&1 || why=${why:-missing swanctl}; }
want ntmd && [ -z "$why" ] && { modprobe ntm 2>/dev/null || why="cannot load ntm.ko"; }
[ -n "$why" ] && err "testbed unavailable: $why"

M=$RES/meta.tsv
put "$M" kernel "$(uname -r)"
put "$M" cpus "$(nproc)"
put "$M" date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put "$M" virt "$(if dmesg 2>/dev/null | grep -q 'Hypervisor detected'; then
	dmesg | sed -n 's/.*Hypervisor detected: //p' | head -n1
elif grep -qw hypervisor /proc/cpuinfo; then echo "qemu TCG, software emulation"; else echo "none detected"; fi)"
put "$M" charon "$("$CHARON" --version 2>/dev/null | head -n1 || true)"
put "$M" strongswan "$(dpkg-query -W -f '${Version}' strongswan-charon 2>/dev/null || true)"
put "$M" proposal "$PROPOSAL"
put "$M" esp_proposal "$ESP"
put "$M" group "$GROUP"
put "$M" seconds "$T"
put "$M" warmup "$WARMUP"
put "$M" concurrency "$CONC"
put "$M" dh_pool "$DH_POOL"
put "$M" cpu_generator "$CPU_GEN"
put "$M" cpu_responder "$CPU_RESP"
put "$M" ntmd_log_level "$NTMD_LOG"
log "kernel $(uname -r), $(nproc) CPUs; runs of ${T}s at concurrency $CONC"

setup() {
	ip netns add "$NS_G" && ip netns add "$NS_R" && ip netns add "$NS_S" || return 1
	ip link add g1 netns "$NS_G" type veth peer name r0 netns "$NS_R" || return 1
	ip link add g2 netns "$NS_G" type veth peer name s0 netns "$NS_S" || return 1
	G ip link set lo up; Rn ip link set lo up; Sn ip link set lo up
	G ip addr add $G_R/24 dev g1 && G ip link set g1 up || return 1
	G ip addr add $G_S/24 dev g2 && G ip link set g2 up || return 1
	Rn ip addr add $R/24 dev r0 && Rn ip link set r0 up || return 1
	Sn ip addr add $S/24 dev s0 && Sn ip link set s0 up || return 1
	if want ntmd; then
		Rn ip link add ipsec0 type ntm && Rn ip link set ipsec0 up || return 1
	fi
	PSK="ntm-ikebench-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	(umask 077 && printf '%s\n' "$PSK" >"$RES/psk") || return 1
	mkdir -p "$RES/state" && chmod 700 "$RES/state"
}

start_ntmd() {
	cat >"$RES/ntmd.toml" <<-EOF
	# IKE handshake benchmark responder (generated by scripts/bench/ike.sh)
	roles = ["ike"]
	log_level = "$NTMD_LOG"
	state_dir = "$RES/state"
	control_socket = "$RES/ntmd.sock"

	[ike]
	interface = "ipsec0"
	cookie_threshold = 4096
	half_open_max = 4096

	[[ike.connection]]
	name = "bench"
	local_id = "fqdn:$ID_R"
	remote_id = "fqdn:$ID_I"
	auth = "psk"
	psk_file = "$RES/psk"
	proposals = ["$PROPOSAL"]
	esp_proposals = ["$ESP"]
	local_ts = ["$TS_R"]
	remote_ts = ["$TS_I"]
	install_routes = false
	mobike = false
	dpd_delay = 0
	rekey_time = 0
	child_rekey_time = 0
	EOF
	# not through Rn: $! must be ntmd itself (ip and taskset exec), not a subshell
	ip netns exec "$NS_R" taskset -c $CPU_RESP "$NTMD" --config "$RES/ntmd.toml" >>"$RES/ntmd.log" 2>&1 &
	NTMD_PID=$!
	wait_for 30 ctl status
}

start_charon() {
	cat >"$RES/strongswan.conf" <<-EOF
	# IKE handshake benchmark responder (generated by scripts/bench/ike.sh)
	charon {
		load_modular = yes
		install_routes = no
		cookie_threshold = 100000
		block_threshold = 100000
		init_limit_half_open = 0
		plugins {
			include /etc/strongswan.d/charon/*.conf
			vici {
				socket = unix://$RES/charon.vici
			}
			kernel-libipsec {
				load = no
			}
		}
		syslog {
			daemon {
				default = -1
			}
		}
		filelog {
			bench {
				path = $RES/charon.log
				time_format = %T
				default = ${NTM_IKE_CHARON_LOG:-0}
			}
		}
	}
	include /etc/strongswan.d/*.conf
	EOF
	cat >"$RES/swanctl.conf" <<-EOF
	connections {
		bench {
			version = 2
			local_addrs = $S
			proposals = $PROPOSAL
			dpd_delay = 0
			rekey_time = 0
			mobike = no
			local {
				auth = psk
				id = $ID_R
			}
			remote {
				auth = psk
				id = $ID_I
			}
			children {
				net {
					local_ts = $TS_R
					remote_ts = $TS_I
					esp_proposals = $ESP
					rekey_time = 0
				}
			}
		}
	}
	secrets {
		ike-bench {
			id-a = $ID_R
			id-b = $ID_I
			secret = "$PSK"
		}
	}
	EOF
	# shellcheck disable=SC2016 # expanded by the inner sh
	STRONGSWAN_CONF="$RES/strongswan.conf" ip netns exec "$NS_S" unshare -m sh -c \
		'mount -t tmpfs r /run && exec taskset -c "$1" "$0"' "$CHARON" "$CPU_RESP" >"$RES/charon.out" 2>&1 &
	CHARON_PID=$!
	wait_for 60 swan --stats || return 1
	swan --load-all --file "$RES/swanctl.conf" >"$RES/swanctl-load.log" 2>&1
}

# held NAME: what the responder still holds (KEY<TAB>VALUE lines)
held() {
	if [ "$1" = ntmd ]; then
		ctl -j status 2>/dev/null | jq -r '.ike | "ike_sas\t\(.ike_sas)\nhalf_open\t\(.half_open)\nchild_sas\t\(.child_sas)"'
		printf 'kernel_sas\t%s\n' "$(Rn "$NTMCTL" -j tunnel show ipsec0 2>/dev/null | jq '[.. | objects | select(has("local_index"))] | length' 2>/dev/null)"
	else
		swan --stats 2>/dev/null | sed -n 's/.*IKE_SAs: \([0-9]*\) total, \([0-9]*\) half-open.*/ike_sas\t\1\nhalf_open\t\2/p'
		printf 'kernel_sas\t%s\n' "$(Sn ip xfrm state 2>/dev/null | grep -c '^src')"
		printf 'kernel_policies\t%s\n' "$(Sn ip xfrm policy 2>/dev/null | grep -c '^src')"
	fi
}

# bench_run INDEX RESPONDER CONCURRENCY
bench_run() {
	local i=$1 who=$2 c=$3 f pid target c0 c1 t0 t1 rc
	f=$RES/run-$i.tsv
	if [ "$who" = ntmd ]; then pid=$NTMD_PID target=$R; else pid=$CHARON_PID target=$S; fi
	put "$f" responder "$who"
	put "$f" concurrency "$c"
	put "$f" rss_start "$(rss "$pid")"
	c0=$(cpu_ticks "$pid")
	t0=$(now_ns)
	log "run $i: $who, concurrency $c, ${T}s"
	G taskset -c $CPU_GEN "$IKEBENCH" --target "$target" --psk-file "$RES/psk" --id "fqdn:$ID_I" \
		--peer-id "fqdn:$ID_R" --concurrency "$c" --duration "$T" --warmup "$WARMUP" --group "$GROUP" \
		--proposal "$PROPOSAL" --esp-proposal "$ESP" --ts-local "$TS_I" --ts-remote "$TS_R" \
		--rto-ms 5000 --retries 2 --dh-pool "$DH_POOL" --label "$who" -j >"$RES/run-$i.json" 2>"$RES/run-$i.err"
	rc=$?
	t1=$(now_ns)
	c1=$(cpu_ticks "$pid")
	[ $rc -eq 0 ] || err "run $i ($who, concurrency $c): ntm-ikebench exited $rc: $(head -c 300 "$RES/run-$i.err")"
	kill -0 "$pid" 2>/dev/null || err "run $i: $who is gone (pid $pid)"
	put "$f" wall_seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
	put "$f" responder_cpu_seconds "$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / t }')"
	put "$f" rss_end "$(rss "$pid")"
	log "run $i: $(jq -c '{handshakes, per_second, failed, lost, p50: .latency_ms.p50, p99: .latency_ms.p99, failures}' "$RES/run-$i.json" 2>/dev/null)"
	# deletes are answered at once; give stragglers a moment, then look
	sleep 3
	held "$who" | while IFS="$(printf '\t')" read -r k v; do put "$f" "held_$k" "$v"; done
	log "run $i: $who holds afterwards: $(grep '^held_' "$f" | tr '\t\n' '= ')"
	if [ "$who" = ntmd ]; then
		ctl -j status >"$RES/run-$i.status.json" 2>/dev/null
	else
		swan --stats >"$RES/run-$i.status.txt" 2>/dev/null
	fi
}

if [ -z "$why" ]; then
	setup || { err "testbed setup failed"; why="setup failed"; }
fi

i=0
for who in ntmd charon; do
	if [ -n "$why" ] || ! want "$who"; then
		continue
	fi
	if [ "$who" = ntmd ]; then
		start_ntmd || { err "ntmd did not start: $(tail -n 5 "$RES/ntmd.log")"; continue; }
	else
		start_charon || { err "charon did not start: $(tail -n 5 "$RES/charon.out" "$RES/swanctl-load.log")"; continue; }
	fi
	put "$M" "${who}_rss_idle" "$(rss "$([ "$who" = ntmd ] && echo "$NTMD_PID" || echo "$CHARON_PID")")"
	# the baseline of held: charon's IKE sockets carry 8 bypass socket policies
	held "$who" | while IFS="$(printf '\t')" read -r k v; do put "$M" "${who}_idle_$k" "$v"; done
	for c in $CONC; do
		i=$((i + 1))
		bench_run "$i" "$who" "$c"
	done
	if [ "$who" = ntmd ]; then
		grep -E '\[(warning|error|critical)\]' "$RES/ntmd.log" | tail -n 20 >"$RES/ntmd-warnings.txt"
		put "$M" ntmd_log_lines "$(wc -l <"$RES/ntmd.log")"
		stop_pid "$NTMD_PID"
		NTMD_PID=""
	else
		put "$M" charon_log_lines "$(wc -l <"$RES/charon.log" 2>/dev/null || echo 0)"
		stop_pid "$CHARON_PID"
		CHARON_PID=""
	fi
done

# --------------------------------------------------------------- report
$PY "$HERE/ike_results.py" collect "$RES" >"$RES/ike-results.json" || err "could not assemble results"
if [ -n "${NTM_BENCH_OUT:-}" ] && mkdir -p "$NTM_BENCH_OUT" 2>/dev/null &&
	cp "$RES/ike-results.json" "$NTM_BENCH_OUT/ike-results.json" 2>/dev/null; then
	$PY "$HERE/ike_results.py" table "$RES/ike-results.json" >"$NTM_BENCH_OUT/ike-results.txt"
	MPLCONFIGDIR=$RES $PY "$HERE/ike_results.py" chart "$RES/ike-results.json" "$NTM_BENCH_OUT/ike-results.png" ||
		log "no chart (python3-matplotlib missing?)"
	cp "$RES/ntmd.log" "$NTM_BENCH_OUT/ike-ntmd.log" 2>/dev/null
	cp "$RES/charon.log" "$NTM_BENCH_OUT/ike-charon.log" 2>/dev/null
	log "results written to $NTM_BENCH_OUT/ike-results.{json,txt,png}"
fi
echo "=== NTM-IKE-BENCH-JSON BEGIN ==="
cat "$RES/ike-results.json"
echo "=== NTM-IKE-BENCH-JSON END ==="
[ "${NTM_BENCH_TABLE:-1}" != 0 ] && $PY "$HERE/ike_results.py" table "$RES/ike-results.json" >&2
exit 0
