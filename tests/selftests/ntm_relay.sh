#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_relay.sh - the Relay Server fast path (relay.c).  Three hosts on one
# underlay: A and B have ordinary ntm tunnels whose endpoint is the relay
# RS; RS has no tunnel and no key, only a relay session joining
# (A's endpoint, A's index) and (B's endpoint, B's index).  Checks: ping and
# TCP through RS; RS counts them in its relay counters while its own
# tunnel counters stay still; the NTM messages leave RS byte for byte as
# they came; a spoofed source with a valid index is a counted drop; a
# replayed datagram is forwarded and B drops it as a replay; a moved node
# is blocked until SET_RELAY moves its leg; an IPv4 leg faces an IPv6 leg;
# packet limit and idle timeout remove the session with an event; the
# session limit; hostile netlink input; 100 000 sessions with their memory
# per session; module unload under relayed traffic; a clean kernel log.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

N_BULK=${NTM_RELAY_N:-100000}
GENL="$PY $HERE/lib/ntm_genl.py"
PKT="$PY $HERE/lib/ntmpkt.py"
CIPHER=chacha20-poly1305
ktap_plan 30
topo_need_ntm

RS() { ip netns exec "$NS_RS" "$@"; }
T=$(topo_tmpdir)
topo_dmesg_mark "ntm_relay: start"
DMESG0=$(dmesg | wc -l)

EP_A4="$UL4_A:$NTM_PORT"
EP_B4="$UL4_B:$NTM_PORT"
EP_B6="[$UL6_B]:$NTM_PORT"
RS4="$UL4_RS:$NTM_PORT"
RS6="[$UL6_RS]:$NTM_PORT"

# rstat FIELD [DEV]: a device counter of RS; rsess ID FIELD [DEV]: a field of
# a relay session (legs.0.rx_packets, drop_src, legs.1.endpoint)
rstat() { num "$(topo_genl "$NS_RS" devstats "${2:-$NTM_DEV}" 2>/dev/null | topo_json get "$1")"; }
nrelays() { num "$(topo_genl "$NS_RS" relay-count "$1" 2>/dev/null)"; }
rsess() { topo_genl "$NS_RS" relay "${3:-$NTM_DEV}" "$1" 2>/dev/null | topo_json get "$2"; }
# relay_gone ID: RS has no relay session ID (any more)
relay_gone() { ! topo_genl "$NS_RS" relay $NTM_DEV "$1" >/dev/null 2>&1; }
tstat() { num "$(topo_tstat "$1" "$2")"; }
# ntmctl drives the sessions; lib/ntm_genl.py reads the counters on its own
relay_add() { nctl "$NS_RS" relay add $NTM_DEV "$@"; }
relay_set() { nctl "$NS_RS" relay set $NTM_DEV "$@"; }
# ev_has FILE ID REASON: a relay_expired event of session ID for REASON in
# FILE (the JSON lines of ntmctl -j monitor or of ntm_genl.py monitor)
ev_has() {
	"$PY" - "$@" <<-'EOF'
	import json, sys
	for line in open(sys.argv[1]):
	    try:
	        e = json.loads(line)
	    except ValueError:
	        continue
	    r = e.get("relay", e)
	    if e.get("event") == "relay_expired" and r.get("id") == int(sys.argv[2]) and \
	            str(e.get("reason", "")).replace("-", "_") == sys.argv[3]:
	        sys.exit(0)
	sys.exit(1)
	EOF
}
pings() { topo_ping "$NS_A" "$@" >/dev/null 2>&1; }

# --- setup --------------------------------------------------------------------
topo_init bridge || ktap_bail "underlay setup failed"
topo_rs_init || ktap_bail "relay host setup failed"
topo_py_start "$NS_RS" && topo_py_start "$NS_A" || ktap_bail "pyserve did not start"
topo_ntm_up || ktap_bail "ntmd setup on A and B failed"
topo_ntmd "$NS_RS" || ktap_bail "ntmd on RS failed"
KEY=$(topo_hex 32)
TUN_SALT_AB=$(topo_hex 4)
TUN_SALT_BA=$(topo_hex 4)
while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
# shellcheck disable=SC2046
nctl "$NS_A" $(topo_relay_tunnel_line "$NS_A" $CIPHER - "$RS4") <<<"$KEY" ||
	ktap_bail "tunnel on A failed"
# shellcheck disable=SC2046
nctl "$NS_B" $(topo_relay_tunnel_line "$NS_B" $CIPHER - "$RS4") <<<"$KEY" ||
	ktap_bail "tunnel on B failed"
out=$(relay_add --id 1 --leg1 "$EP_A4" --index1 $IDX_A --leg2 "$EP_B4" --index2 $IDX_B 2>&1) ||
	ktap_bail "relay add: $out"
topo_iperf_server "$NS_B" || ktap_bail "iperf3 server did not start"
ktap_ok "setup: A and B tunnel to RS:$NTM_PORT, RS relays ($EP_A4, $IDX_A) <-> ($EP_B4, $IDX_B)"

# --- traffic through the relay -------------------------------------------------
topo_capture_start "$NS_RS" vR "$T/rs.pcap" "udp port $NTM_PORT" || ktap_diag "no capture on RS"
if topo_wait 15 topo_ping "$NS_A" 4 -c1 -W2 && pings 4 -c 5 -i 0.2 -W 2; then
	ktap_ok "ping A -> B (inner IPv4) through the relay"
else
	ktap_fail "ping A -> B (inner IPv4) through the relay"
fi
pings 6 -c 5 -i 0.2 -W 2
ktap_result "ping A -> B (inner IPv6) through the relay" $?
topo_capture_stop
topo_iperf "$NS_A" $VIP4_B "$T/iperf.json" -t 2
bytes=$(iperf_bytes "$T/iperf.json")
ktap_result "TCP (iperf3 2 s) through the relay: $bytes bytes" $([ "$bytes" -gt 0 ] && echo 0 || echo 1)

rx=$(rstat relay_rx_packets) tx=$(rstat relay_tx_packets)
l0=$(num "$(rsess 1 legs.0.rx_packets)") l1=$(num "$(rsess 1 legs.1.rx_packets)")
c0=$(nctl "$NS_RS" -j relay show $NTM_DEV --id 1 | "$PY" -c '
import json, sys
print(json.load(sys.stdin)[0]["legs"][0]["rx_packets"])' 2>/dev/null)
ktap_diag "RS relay_rx $rx relay_tx $tx bytes $(rstat relay_tx_bytes); session: from A $l0 (ntmctl: $c0), from B $l1"
ktap_diag "$(nctl "$NS_RS" relay show $NTM_DEV 2>&1)"
ktap_result "RS relay counters count both directions (genl and ntmctl agree)" \
	$([ "$rx" -gt 20 ] && [ "$tx" -gt 20 ] && [ "$l0" -gt 0 ] && [ "$l1" -gt 0 ] &&
		[ $((l0 + l1)) -eq "$rx" ] && [ "$(num "$c0")" -ge "$l0" ] && echo 0 || echo 1)

own=$(($(rstat rx_packets) + $(rstat drop_no_tunnel) + $(rstat drop_auth) + $(rstat drop_replay) +
	$(rstat drop_malformed) + $(rstat tx_packets)))
ntun=$(num "$(topo_dstat "$NS_RS" num_tunnels)")
ktap_diag "RS own tunnel path: $own packets/drops, $ntun tunnels"
ktap_result "RS has no tunnel and no key; its own tunnel counters did not move" \
	$([ "$own" -eq 0 ] && [ "$ntun" -eq 0 ] && echo 0 || echo 1)

# Every message RS sent is one it received, byte for byte (only the outer
# IP/UDP headers differ): nothing was decrypted or re-sealed.
same=$("$PY" - "$T/rs.pcap" "$UL4_RS" <<-EOF
	import ipaddress, sys
	sys.path.insert(0, "$HERE/lib")
	import ntmpkt
	rs = ipaddress.ip_address(sys.argv[2]).packed
	got, sent = set(), []
	for raw in ntmpkt.read_pcap(sys.argv[1]):
	    f = ntmpkt.Frame(raw)
	    if not f.ok or len(f.payload) < 32:
	        continue
	    if f.dst == rs:
	        got.add(bytes(f.payload))
	    elif f.src == rs:
	        sent.append(bytes(f.payload))
	print(len(sent), sum(p in got for p in sent))
	EOF
)
ktap_diag "captured at RS: sent/identical to a received one: $same"
read -r nsent nsame <<<"$same"
ktap_result "RS forwards the NTM messages unchanged (16-byte header and ciphertext)" \
	$([ "${nsent:-0}" -gt 5 ] && [ "$nsent" = "$nsame" ] && echo 0 || echo 1)

# --- a spoofed source with a valid index -----------------------------------------
A ip addr add 192.0.2.66/24 dev vA
src0=$(rstat drop_relay_src) brx0=$(tstat "$NS_B" stats.rx_packets)
bnt0=$(num "$(topo_dstat "$NS_B" stats.drop_no_tunnel)")
topo_genl "$NS_A" relay-sport 192.0.2.66 $NTM_PORT $UL4_RS 40001 $IDX_B 5 >/dev/null
topo_genl "$NS_A" relay-sport $UL4_A $NTM_PORT $UL4_RS 40000 $IDX_B 5 >/dev/null
sleep 1
src1=$(rstat drop_relay_src) brx1=$(tstat "$NS_B" stats.rx_packets)
# counted per device only: no table by index charges them to a session (D53)
ktap_diag "drop_relay_src $src0 -> $src1"
ktap_result "datagrams with B's index from a wrong address or port are counted source-mismatch drops" \
	$([ $((src1 - src0)) -eq 10 ] && echo 0 || echo 1)
bnt1=$(num "$(topo_dstat "$NS_B" stats.drop_no_tunnel)")
ktap_result "the spoofed datagrams never reach B" \
	$([ "$brx1" -eq "$brx0" ] && [ "$bnt1" -eq "$bnt0" ] && echo 0 || echo 1)

# --- replay: the relay forwards, the receiving node drops -----------------------
topo_capture_start "$NS_A" vA "$T/a.pcap" "udp and dst host $UL4_RS and dst port $NTM_PORT"
pings 4 -c 3 -i 0.2 -W 2
topo_capture_stop
rr0=$(rstat relay_tx_packets) rp0=$(tstat "$NS_B" stats.drop_replay)
out=$(A $PKT inject "$T/a.pcap" vA --pick 0 2>&1)
sleep 1
rr1=$(rstat relay_tx_packets) rp1=$(tstat "$NS_B" stats.drop_replay)
ktap_diag "replayed $out; RS relay_tx $rr0 -> $rr1, B drop_replay $rp0 -> $rp1"
ktap_result "a replayed datagram from A's address is forwarded (no replay check at the relay)" \
	$([ "$rr1" -gt "$rr0" ] && echo 0 || echo 1)
ktap_result "B drops the replayed datagram as a replay" $([ "$rp1" -gt "$rp0" ] && echo 0 || echo 1)

# --- B moves: its leg stays until SET_RELAY ---------------------------------------
src0=$(rstat drop_relay_src)
topo_b_readdress
B ping -c 2 -W 1 $VIP4_A >/dev/null 2>&1 && moved_ok=1 || moved_ok=0
src1=$(rstat drop_relay_src)
ktap_diag "B moved to $UL4_B2: ping before SET_RELAY ok=$moved_ok, drop_relay_src $src0 -> $src1"
ktap_result "after B moved, its datagrams are source mismatches until the leg moves" \
	$([ $moved_ok -eq 0 ] && [ "$src1" -gt "$src0" ] && echo 0 || echo 1)
out=$(relay_set --id 1 --leg2 "$UL4_B2:$NTM_PORT" 2>&1)
ktap_diag "relay-set leg 2: $out; leg 2 now $(rsess 1 legs.1.endpoint)"
topo_wait 10 B ping -c 1 -W 2 $VIP4_A && pings 4 -c 3 -i 0.2 -W 2
ktap_result "SET_RELAY moved B's leg: traffic flows again" $?

# --- an IPv4 leg facing an IPv6 leg -----------------------------------------------
nctl "$NS_B" tunnel set $NTM_DEV --local-index $IDX_B --endpoint "$RS6" || ktap_diag "B tunnel set failed"
out=$(relay_set --id 1 --leg2 "$EP_B6" 2>&1)
ktap_diag "relay-set leg 2 to IPv6: $out; legs $(rsess 1 legs.0.endpoint) / $(rsess 1 legs.1.endpoint)"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 && pings 4 -c 3 -i 0.2 -W 2 && pings 6 -c 3 -i 0.2 -W 2
ktap_result "A reaches RS over IPv4, B over IPv6: ping both inner families" $?
topo_iperf "$NS_A" $VIP6_B "$T/iperf6.json" -t 2
bytes=$(iperf_bytes "$T/iperf6.json")
ktap_result "TCP across the IPv4/IPv6 relay: $bytes bytes" $([ "$bytes" -gt 0 ] && echo 0 || echo 1)

# --- packet limit ---------------------------------------------------------------------
topo_bg "$NS_RS" "$T/mon1.events" $GENL monitor 60
MON=$TOPO_LAST_PID
topo_bg "$NS_RS" "$T/mon2.events" "$NTMCTL" -j monitor --timeout 60
MON2=$TOPO_LAST_PID
topo_wait 10 grep -q ready "$T/mon1.events"
sleep 1
total=$(($(num "$(rsess 1 legs.0.rx_packets)") + $(num "$(rsess 1 legs.1.rx_packets)")))
relay_set --id 1 --hard-packets $((total + 10)) >/dev/null
pings 4 -c 12 -i 0.2 -W 1
topo_wait 10 relay_gone 1
gone=$?
ktap_result "hard packet limit ($((total + 10))) removes the session" $gone
pings 4 -c 2 -W 1
ktap_result "no traffic once the session is gone" $([ $? -ne 0 ] && echo 0 || echo 1)
topo_wait 5 ev_has "$T/mon1.events" 1 hard_packets
topo_wait 5 ev_has "$T/mon2.events" 1 hard_packets
ktap_diag "events: $(head -c 400 "$T/mon2.events")"
ev_has "$T/mon1.events" 1 hard_packets && ev_has "$T/mon2.events" 1 hard_packets
ktap_result "relay_expired event with reason hard-packets (genl listener and ntmctl monitor)" $?

# --- idle timeout -----------------------------------------------------------------------
out=$(relay_add --id 2 --leg1 "$EP_A4" --index1 $IDX_A --leg2 "$EP_B6" --index2 $IDX_B --idle-timeout 3 2>&1) ||
	ktap_diag "relay add 2: $out"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2
ok_before=$?
topo_wait 20 relay_gone 2
gone=$?
ktap_result "idle timeout (3 s) removes a session that carried traffic" \
	$([ $ok_before -eq 0 ] && [ $gone -eq 0 ] && echo 0 || echo 1)
topo_wait 5 ev_has "$T/mon2.events" 2 idle
ev_has "$T/mon1.events" 2 idle && ev_has "$T/mon2.events" 2 idle
ktap_result "relay_expired event with reason idle" $?
topo_kill "$MON"
topo_kill "$MON2"
ktap_diag "relay_expired counter: $(rstat relay_expired)"

# --- the session limit --------------------------------------------------------------------
nctl "$NS_RS" device set $NTM_DEV --max-relays 2
ref0=$(rstat relay_refused)
r1=$(relay_add --id 11 --leg1 192.0.2.101:1 --index1 1 --leg2 192.0.2.102:1 --index2 2 2>&1; echo "rc=$?")
r2=$(relay_add --id 12 --leg1 192.0.2.103:1 --index1 1 --leg2 192.0.2.104:1 --index2 2 2>&1; echo "rc=$?")
r3=$(topo_genl "$NS_RS" relay-add $NTM_DEV 13 192.0.2.105:1 1 192.0.2.106:1 2 2>&1)
r4=$(relay_add --id 14 --leg1 192.0.2.107:1 --index1 1 --leg2 192.0.2.108:1 --index2 2 2>&1; echo "rc=$?")
ref1=$(rstat relay_refused)
ktap_diag "max_relays 2: $r1 | $r2 | $r3 | $r4; relay_refused $ref0 -> $ref1"
ktap_result "sessions beyond --max-relays are refused with ENOSPC and a message, and counted" \
	$(case $r3 in *ENOSPC*limit*) case $r4 in *limit*"rc=1") [ $((ref1 - ref0)) -eq 2 ] && echo 0 || echo 1 ;;
		*) echo 1 ;; esac ;; *) echo 1 ;; esac)
nctl "$NS_RS" relay flush $NTM_DEV
nctl "$NS_RS" device set $NTM_DEV --max-relays 131072
ktap_result "after a flush and a larger limit a session is accepted again" \
	$(relay_add --id 1 --leg1 "$EP_A4" --index1 $IDX_A --leg2 "$EP_B6" --index2 $IDX_B >/dev/null && echo 0 || echo 1)

# --- hostile netlink input -------------------------------------------------------------------
topo_ntmd "$NS_RS" $((NTM_PORT + 1)) ntm1 || ktap_diag "ntmd for ntm1 failed"
RS ip link add ntm9 type ntm
topo_genl "$NS_RS" relay-check ntm1 ntm9 >"$T/battery.out" 2>&1
nok=$(grep -c '^ok' "$T/battery.out") nbad=$(grep -c '^not ok' "$T/battery.out")
grep '^not ok' "$T/battery.out" | while read -r l; do ktap_diag "$l"; done
ktap_result "hostile relay requests get errors, never a change of state ($nok passed, $nbad failed)" \
	$([ "$nbad" -eq 0 ] && [ "$nok" -gt 30 ] && echo 0 || echo 1)

# --- 100 000 sessions, memory per session ------------------------------------------------------
slabdir=/sys/kernel/slab/ntm_relay
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
objs() { num "$(cat $slabdir/total_objects 2>/dev/null | cut -d' ' -f1)"; }
sync
o0=$(objs) slab0=$(meminfo Slab) vm0=$(meminfo VmallocUsed)
out=$(topo_genl "$NS_RS" relay-bulk ntm1 "$N_BULK" 100000 2>&1)
o1=$(objs) slab1=$(meminfo Slab) vm1=$(meminfo VmallocUsed)
n=$(nrelays ntm1)
ktap_diag "bulk add: $out; ntm1 has $n sessions"
ktap_result "$N_BULK sessions added in pipelined NEW_RELAY requests" \
	$([ "$n" -eq "$N_BULK" ] && echo 0 || echo 1)
read -r cnt uniq ordered < <(topo_genl "$NS_RS" relays ntm1)
ktap_diag "dump: $cnt sessions, $uniq distinct ids, ordered $ordered"
ktap_result "the dump lists each session once, in id order" \
	$([ "${cnt:-0}" -eq "$N_BULK" ] && [ "$uniq" -eq "$cnt" ] && [ "$ordered" = 1 ] && echo 0 || echo 1)
osz=$(cat $slabdir/object_size 2>/dev/null) ssz=$(cat $slabdir/slab_size 2>/dev/null)
per_slab=$(((o1 - o0) * ${ssz:-0} / N_BULK))
per_total=$((((slab1 - slab0) + (vm1 - vm0)) * 1024 / N_BULK))
ktap_diag "memory per session: object $osz bytes, slab $ssz bytes, slab objects +$((o1 - o0)) = $per_slab bytes/session; Slab+Vmalloc (incl. the hash tables) +$((slab1 - slab0 + vm1 - vm0)) KiB = $per_total bytes/session"
ktap_result "a session takes at most 256 bytes of slab ($ssz; $per_total with the hash tables)" \
	$([ -n "$ssz" ] && [ "$ssz" -le 256 ] && echo 0 || echo 1)
t0=$EPOCHSECONDS
topo_genl "$NS_RS" relay-del ntm1 flush >/dev/null
ktap_result "flush of $N_BULK sessions ($((EPOCHSECONDS - t0)) s)" \
	$([ "$(nrelays ntm1)" -eq 0 ] && echo 0 || echo 1)

# --- unload under relayed traffic ---------------------------------------------------------------
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 || ktap_diag "relay 1 does not carry traffic before the unload"
topo_bg "$NS_A" "$T/iperf-unload.json" iperf3 -c $VIP4_B -t 30 -J
IPERF=$TOPO_LAST_PID
topo_bg "$NS_B" "$T/ping-unload.out" ping -n -i 0.05 -W 1 -c 400 $VIP6_A
PING=$TOPO_LAST_PID
sleep 3
rx0=$(rstat relay_rx_packets)
for ns in "$NS_A" "$NS_B" "$NS_RS"; do
	kill -KILL "$(topo_ntmd_pid "$ns")" 2>/dev/null
done
kill -KILL "$(topo_ntmd_pid "$NS_RS" ntm1)" 2>/dev/null
ok=1
for i in $(seq 60); do
	if modprobe -r ntm 2>"$T/rmmod.err"; then ok=0; break; fi
	sleep 0.5
done
ktap_diag "relay_rx before the unload: $rx0; modprobe -r after $i attempts $(cat "$T/rmmod.err")"
ktap_result "modprobe -r ntm while the relay forwards iperf3 and ping" $ok
topo_kill "$IPERF"
topo_kill "$PING"
modprobe ntm
ktap_result "the module loads again" $?

# --- kernel log ---------------------------------------------------------------------------------
bad=$(dmesg | tail -n +$((DMESG0 + 1)) | grep -E 'BUG:|WARNING:|Oops|refcount_t|UBSAN|KASAN|general protection|list_(add|del) corruption|soft lockup|blocked for more than')
[ -n "$bad" ] && ktap_diag "$bad"
ktap_result "no warnings, oopses or leaks in the kernel log" $([ -z "$bad" ] && echo 0 || echo 1)

ktap_finish
