#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_ike.sh - IKEv2 interoperability with strongSwan: ntmd + ntm.ko in a
# namespace behind an nftables NAT, charon (Debian's strongSwan) on the
# other side (lib/ikebed.sh has the map).  ntmd as initiator and responder,
# PSK and ECDSA certificates, NAT-T on port 4500, ESP-in-UDP through the
# module both ways, a CHILD SA rekey under a running ping with no loss, a
# MOBIKE move of the ntm side under a TCP connection, dead peer
# detection, and an attacker that holds its own IKE SA (no pre-auth
# requests, no reflected retransmissions).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/ikebed.sh"

ktap_plan 23

why=$(ib_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi
ktap_at_cleanup ib_teardown

check() { # DESC RC
	if [ "$2" -eq 0 ]; then
		ktap_ok "$1"
	else
		ib_logtail 40
		ktap_fail "$1"
	fi
}
rc() { if "$@" >/dev/null 2>&1; then echo 0; else echo 1; fi; }

counter() { ib_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["ike"]["counters"][sys.argv[1]])' "$1"; }
ping_l() { L ping -q -c "${2:-3}" -W 2 -I $IB_IN_L "$1"; }
ping_s() { S ping -q -c "${2:-3}" -W 2 -I $IB_IN_S "$1"; }

# --- 1: testbed -------------------------------------------------------------
if ib_setup && ib_charon_start && ib_swanctl_load >/dev/null; then
	ktap_ok "testbed: namespaces, NAT, PKI, charon with 4 connections"
else
	ib_logtail 20
	ktap_bail "testbed setup failed"
fi

# ntmd's resolver asks a DNS server that never answers (decisions.rst D66);
# "slow" is a connection whose peer is a host name
# (it holds no descriptor of ours and ends by itself; killed by the pid it writes)
ip netns exec "$NS_L" python3 -c 'import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))
open(sys.argv[1], "w").write(str(os.getpid())); time.sleep(900)' "$IB_DIR/dns_sink.pid" </dev/null >/dev/null 2>&1 &
printf 'nameserver 127.0.0.1\noptions timeout:4 attempts:2\n' >"$IB_DIR/resolv.conf"
IB_DPD=3 IB_CHILD_REKEY=25 IB_RESOLV="$IB_DIR/resolv.conf" ib_ntmd_start "cookie_threshold = 4
[[ike.connection]]
name = \"slow\"
remote_addrs = [\"slow.ntm.test\"]
remote_id = \"fqdn:slow.test\"
auth = \"psk\"
psk_file = \"$IB_DIR/psk\"
local_ts = [\"10.1.0.0/24\"]
remote_ts = [\"10.2.0.0/24\"]"
check "ntmd starts with the ike role on ipsec0 (ports 500 and 4500)" "$(rc ib_ctl status)"

# --- 3-4: PSK, ntmd initiates through the NAT ---------------------------------
# ntmctl ike initiate waits for the SA by default (D93)
init_out=$(ib_ctl ike initiate psk --timeout 40 2>&1)
init_rc=$?
ib_wait 40 ib_established psk
r=$?
if [ $r -eq 0 ]; then
	sas=$(ib_swanctl --list-sas --ike psk 2>/dev/null)
	ktap_diag "$(printf '%s' "$sas" | head -n 6 | tr '\n' '|')"
	printf '%s' "$sas" | grep -q "ESTABLISHED" && printf '%s' "$sas" | grep -q "INSTALLED" || r=1
	# the NAT is in front of ntmd: charon must see it and use port 4500
	printf '%s' "$sas" | grep -q "remote 'ntm.test' @ $IB_NS\[4500\]" || r=1
	printf '%s' "$sas" | grep -q "TUNNEL-in-UDP" || r=1
fi
check "PSK: ntmd initiates through the NAT, charon installs the CHILD SA (NAT-T)" $r
ktap_diag "ike initiate psk: exit $init_rc, '$(printf '%s' "$init_out" | tr '\n' ' ')'"
r=1
[ "$init_rc" = 0 ] && printf '%s' "$init_out" | grep -q '^psk: IKE SA #[0-9]* established with ' && r=0
check "ntmctl ike initiate waits until the SA is up: exit 0, 'psk: IKE SA #N established with ...'" $r

r=0
ping_l $IB_IN_S 3 >/dev/null || r=1
ping_s $IB_IN_L 3 >/dev/null || r=1
check "PSK: ESP-in-UDP through ntm.ko and charon's xfrm, both directions" $r

# --- 5: CHILD rekey under a running ping --------------------------------------
# ntmd rekeys its CHILD SAs every ~25 s (IB_CHILD_REKEY); a 0.1 s ping runs
# across it and must not lose a packet.
before=$(ib_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["ike"]["counters"]["child_rekeyed"])')
out=$(L ping -q -c 330 -i 0.1 -W 2 -I $IB_IN_L $IB_IN_S 2>&1)
after=$(ib_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["ike"]["counters"]["child_rekeyed"])')
loss=$(printf '%s' "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
ktap_diag "rekeys $before -> $after, ping: $(printf '%s' "$out" | grep 'packet loss')"
r=1
[ "${after:-0}" -gt "${before:-0}" ] && [ "$loss" = "0" ] && r=0
check "CHILD SA rekeyed by ntmd under a 10/s ping with 0% loss" $r

# --- 6: charon rekeys (peer-initiated rekey) ----------------------------------
inbound_spi() { ib_swanctl --list-sas --ike psk 2>/dev/null | grep -Eo '^ +in +[0-9a-f]{8}' | head -1; }
spi_before=$(inbound_spi)
peer_del_before=$(grep -c 'the peer deleted CHILD SA' "$IB_DIR/ntmd.log")
ib_swanctl --rekey --child net >/dev/null 2>&1
peer_rekeyed() {
	[ "$(inbound_spi)" != "$spi_before" ] &&
		[ "$(grep -c 'the peer deleted CHILD SA' "$IB_DIR/ntmd.log")" -gt "$peer_del_before" ]
}
ib_wait 30 peer_rekeyed
spi_after=$(inbound_spi)
ktap_diag "charon's inbound SA: $spi_before -> $spi_after"
r=0
[ -n "$spi_after" ] && [ "$spi_before" != "$spi_after" ] || r=1
# the rekey's initiator deletes the old SA: charon did, ntmd answered
[ "$(grep -c 'the peer deleted CHILD SA' "$IB_DIR/ntmd.log")" -gt "$peer_del_before" ] || r=1
ping_l $IB_IN_S 3 >/dev/null || r=1
check "CHILD SA rekeyed by charon; traffic flows on the new SA" $r

# --- IKE SA rekeyed by both sides ------------------------------------------------
# the CHILD SA moves to the new IKE SA; the old IKE SA is deleted on both ends
ike_rekeys() { counter ike_rekeyed; }
swan_ike_sas() { ib_swanctl --list-sas --ike psk 2>/dev/null | grep -c 'ESTABLISHED'; }
rekeyed_to() { [ "$(ike_rekeys)" -ge "$1" ] && [ "$(swan_ike_sas)" = 1 ] && ib_established psk; }
r=0
ib_ctl ike rekey psk >/dev/null || r=1
ib_wait 30 rekeyed_to 1 || r=1
ping_l $IB_IN_S 2 >/dev/null || r=1
ib_swanctl --rekey --ike psk >/dev/null 2>&1
ib_wait 30 rekeyed_to 2 || r=1
ping_s $IB_IN_L 2 >/dev/null || r=1
ktap_diag "ike_rekeyed=$(ike_rekeys), charon IKE SAs=$(swan_ike_sas)"
check "IKE SA rekeyed by ntmd (ntmctl ike rekey) and by charon; CHILD SA moves, traffic flows" $r

# --- CHILD rekeys from both ends ---------------------------------------------------
# both ends are told to rekey the same CHILD SA at the same moment; whether
# the exchanges cross (the nonce rule of RFC 7296 2.8.1) or follow each
# other depends on timing: either way one SA pair must remain per side
swan_children() { ib_swanctl --list-sas --ike psk 2>/dev/null | grep -c 'INSTALLED'; }
ntm_children() { ib_ike_sas | python3 -c 'import json,sys; print(sum(len(s["children"]) for s in json.load(sys.stdin)["sas"] if s["connection"] == "psk"))'; }
settled() { [ "$(swan_children)" = 1 ] && [ "$(ntm_children)" = 1 ]; }
r=0
ib_ctl ike rekey psk --child >/dev/null &
p1=$!
ib_swanctl --rekey --child net >/dev/null 2>&1 &
p2=$!
wait $p1 $p2
sleep 2
ib_wait 40 settled || r=1
ping_l $IB_IN_S 2 >/dev/null || r=1
ping_s $IB_IN_L 2 >/dev/null || r=1
ktap_diag "CHILD SAs after the collision: charon $(swan_children), ntmd $(ntm_children); $(grep -c 'rekey collision\|rekeyed by both sides' "$IB_DIR/ntmd.log") collision lines"
check "CHILD rekeys started by both ends at once settle on one SA pair per side; traffic flows" $r

# --- 7: MOBIKE: the ntm side changes address under a TCP connection -----------
S python3 - $IB_IN_S >"$IB_DIR/echo.log" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7007)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
while True:
    d = c.recv(4096)
    if not d:
        break
    c.sendall(d)
EOF
echo_pid=$!
sleep 1
L python3 - $IB_IN_S $IB_IN_L >"$IB_DIR/tcp.log" 2>&1 <<'EOF' &
import socket, sys, time
c = socket.create_connection((sys.argv[1], 7007), timeout=30, source_address=(sys.argv[2], 0))
for i in range(80):
    m = b"line %d\n" % i
    c.sendall(m)
    got = b""
    while len(got) < len(m):
        got += c.recv(4096)
    assert got == m, got
    time.sleep(0.25)
print("tcp ok")
EOF
tcp_pid=$!
sleep 4
L ip addr add $IB_L2/24 dev l0
L ip addr del $IB_L/24 dev l0
L ip route replace default via $IB_NL src $IB_L2
wait $tcp_pid
tcp_rc=$?
kill $echo_pid 2>/dev/null
r=$tcp_rc
grep -q "UPDATE_SA_ADDRESSES" "$IB_DIR/ntmd.log" || r=1
ktap_diag "$(tail -n 2 "$IB_DIR/tcp.log" | tr '\n' ' ')"
check "MOBIKE: ntm side moves to $IB_L2, UPDATE_SA_ADDRESSES, TCP connection survives" $r

# --- 8: DPD -------------------------------------------------------------------
# charon's host drops off the network: ntmd's DPD (3 s, 3 retransmissions)
# must declare the peer dead and remove the SAs.
S ip link set s0 down
r=1
dead=0
for _ in $(seq 1 80); do
	dead=$(ib_ctl -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["ike"]["counters"]["dead_peers"])')
	[ "${dead:-0}" -ge 1 ] && { r=0; break; }
	sleep 0.5
done
S ip link set s0 up
S ip route replace default via $IB_NS
check "DPD: a silent peer is declared dead and its SAs are removed (dead_peers=$dead)" $r
L ip addr add $IB_L/24 dev l0
L ip route replace default via $IB_NL src $IB_L
ib_swanctl --terminate --ike psk --force >/dev/null 2>&1

# --- 9-10: charon initiates, ntmd responds (PSK, ChaCha20-Poly1305 + ESN) ------
r=0
ib_swanctl --initiate --child netr --timeout 40 >"$IB_DIR/init.log" 2>&1 || r=1
[ $r -eq 0 ] && { ib_established pskr || r=1; }
check "PSK: charon initiates through the port forward, ntmd responds" $r
r=0
ping_s $IB_IN_L 3 >/dev/null || r=1
ping_l $IB_IN_S 3 >/dev/null || r=1
sas=$(ib_ctl -j ike list)
printf '%s' "$sas" | grep -q 'CHACHA20' || r=1
check "responder SA: ChaCha20-Poly1305 with ESN, traffic both ways" $r
ib_swanctl --terminate --ike pskr >/dev/null 2>&1

# --- 11a: PFS rekey against ntmd's default ESP proposals (D64) ----------------
# charon's netp: esp_proposals = aes256gcm16-x25519, so its CHILD rekey
# carries a KE payload; ntmd's connection "pfsr" names no esp_proposals.
r=0
ib_swanctl --initiate --child netp --timeout 40 >"$IB_DIR/initp.log" 2>&1 || r=1
[ $r -eq 0 ] && { ib_established pfsr || r=1; }
pfs_spi() { ib_swanctl --list-sas --ike pfsr 2>/dev/null | grep -Eo '^ +in +[0-9a-f]{8}' | head -1; }
pfs_suites() { ib_ike_sas | python3 -c 'import json,sys
print(" ".join(c.get("encr", "?") for s in json.load(sys.stdin)["sas"] if s["connection"] == "pfsr" for c in s["children"]))'; }
spi_before=$(pfs_spi)
ib_swanctl --rekey --child netp >/dev/null 2>&1
pfs_rekeyed() { [ -n "$(pfs_spi)" ] && [ "$(pfs_spi)" != "$spi_before" ] && pfs_suites | grep -q CURVE_25519; }
ib_wait 30 pfs_rekeyed || r=1
ktap_diag "charon's inbound SA: $spi_before -> $(pfs_spi); ntmd's CHILD SAs: $(pfs_suites)"
ping_s $IB_IN_L 3 >/dev/null || r=1
[ $r -eq 0 ] || grep 'pfsr\|CHILD SA refused' "$IB_DIR/ntmd.log" | tail -n 5 | while IFS= read -r l; do ktap_diag "$l"; done
check "PFS: charon rekeys its CHILD SA with a KE (X25519) against ntmd's default esp_proposals" $r
ib_swanctl --terminate --ike pfsr >/dev/null 2>&1

# --- 11: hostile input --------------------------------------------------------
ikepkt() { S python3 "$HERE/lib/ikepkt.py" "$@"; }
mal_before=$(counter drop_malformed)
out=$(ikepkt garbage $IB_NS 2>&1)
sleep 1
mal_after=$(counter drop_malformed)
r=0
kill -0 "$IB_NTMD_PID" 2>/dev/null || r=1
[ "${mal_after:-0}" -gt "${mal_before:-0}" ] || r=1
ktap_diag "$out, drop_malformed $mal_before -> $mal_after"
check "hostile datagrams on 500 and 4500 are counted drops; ntmd keeps running" $r

# --- 11c: an IKE_SA_INIT that reuses a half-open SPI is a counted drop (D67) ---
nr0=$(counter drop_not_resent)
out=$(ikepkt changed $IB_NS 2>&1)
nr1=$(counter drop_not_resent)
ktap_diag "$out; drop_not_resent $nr0 -> $nr1"
r=0
[ "$out" = "first=SA changed=none again=SA" ] || r=1
[ "${nr1:-0}" -gt "${nr0:-0}" ] || r=1
check "IKE_SA_INIT with a half-open SPI but other content: no answer, counted (drop_not_resent); the copy is answered again" $r

# --- 11b: an attacker with a handshake of its own (decisions.rst D56) ---------
# ntm-ikebench --hostile from S: a CREATE_CHILD_SA and an INFORMATIONAL Delete
# before IKE_AUTH (neither may be answered or acted on: IKE_AUTH must still
# succeed), then a changed copy of the IKE_AUTH request (no answer), three
# exact copies from a forged source 10.0.2.3 (answered, if at all, to the
# peer's stored address, never to the forged one) and one exact copy from
# the peer itself (answered again): 4 answers at the peer, 0 elsewhere.
S ip addr add 10.0.2.3/24 dev s0 2>/dev/null
un0=$(counter drop_unauth) nr0=$(counter drop_not_resent)
out=$(S "$NTM_BIN/ntm-ikebench" --target $IB_NS --bind $IB_S --hostile 10.0.2.3 --psk-file "$IB_DIR/psk" \
	--id fqdn:swan-r.test --peer-id fqdn:ntm-r.test --proposal aes256gcm16-prfsha256-ecp256 \
	--esp-proposal aes256gcm16 --ts-local 10.2.0.0/24 --ts-whole --ts-remote 10.1.0.0/24 \
	--rto-ms 5000 --retries 1 --duration 40 --json 2>&1)
un1=$(counter drop_unauth) nr1=$(counter drop_not_resent)
got=$(printf '%s' "$out" | python3 -c 'import json,sys
j = json.load(sys.stdin); h = j["hostile"]
print(j["handshakes_total"], h["preauth_answered"], h["auth_resent"], h["reflected"])' 2>&1)
ktap_diag "ikebench --hostile: handshakes, pre-auth answers, IKE_AUTH answers again, reflected: $got;" \
	"drop_unauth $un0 -> $un1, drop_not_resent $nr0 -> $nr1"
r=0
[ "$got" = "1 0 4 0" ] || { r=1; ktap_diag "$out"; }
[ $((un1 - un0)) -ge 2 ] && [ $((nr1 - nr0)) -ge 1 ] || r=1
kill -0 "$IB_NTMD_PID" 2>/dev/null || r=1
check "no answer before IKE_AUTH; IKE_AUTH resent only for the same request, only to the peer (no reflection)" $r
S ip addr del 10.0.2.3/24 dev s0 2>/dev/null

# --- 12: COOKIE ----------------------------------------------------------------
# cookie_threshold = 4: half-open SAs from a flood make ntmd demand cookies;
# a request that returns the cookie is served, and charon (which handles
# COOKIE itself) still gets through.
# The flood's own half-open SAs live 30 s; those left by earlier steps may
# expire between the flood and the probe (a loaded host), leaving ntmd
# under its threshold: flood again then, at most three times.
for attempt in 1 2 3; do
	flood=$(ikepkt flood $IB_NS 8 2>&1)
	ck=$(ikepkt cookie $IB_NS 2>&1)
	[ "$ck" = "first=SA second=skipped" ] || break
	ktap_diag "attempt $attempt: flood $flood, then $ck (the half-open SAs expired meanwhile)"
done
r=0
ib_swanctl --initiate --child netr --timeout 40 >"$IB_DIR/init2.log" 2>&1 || r=1
sent=$(counter cookies_sent)
ktap_diag "flood: $flood; retry: $ck; cookies_sent=$sent"
case "$flood" in *"cookies=0"*) r=1 ;; esac
[ "$ck" = "first=cookie second=SA" ] || r=1
ib_established pskr || r=1
check "COOKIE under a flood of half-open SAs; a cookie-returning initiator and charon get through" $r
ib_swanctl --terminate --ike pskr >/dev/null 2>&1

# --- 12b: half-open IKE SAs per source address (D65) ---------------------------
# half_open_per_source is 16 (the default): a flood from S that answers every
# COOKIE fills S's share and is then dropped (counted); a second source still
# completes IKE_SA_INIT.
S ip addr add 10.0.2.4/24 dev s0 2>/dev/null
hs0=$(counter drop_half_open_source)
flood=$(ikepkt flood-cookie $IB_NS 24 2>&1)
hs1=$(counter drop_half_open_source)
other=$(ikepkt --bind 10.0.2.4 cookie $IB_NS 2>&1)
ktap_diag "flood from $IB_S: $flood; drop_half_open_source $hs0 -> $hs1; from 10.0.2.4: $other"
r=0
[ "${hs1:-0}" -gt "${hs0:-0}" ] 2>/dev/null || r=1
case "$flood" in *"silent=0"*) r=1 ;; esac
case "$other" in *"SA"*) ;; *) r=1 ;; esac
check "half-open IKE SAs limited per source address; another source still gets IKE_SA_INIT answered" $r
S ip addr del 10.0.2.4/24 dev s0 2>/dev/null

# --- 13-14: ECDSA certificates, ntmd initiates ---------------------------------
ib_ctl ike initiate cert >/dev/null
r=0
ib_wait 40 ib_established cert || r=1
check "ECDSA certificates (RFC 7427 signatures, CA-verified) establish" $r
r=0
ping_l $IB_IN_S 3 >/dev/null || r=1
# a CHILD rekey with PFS (KE payloads, ECP-256) before the Delete
rk_before=$(counter child_rekeyed)
ib_ctl ike rekey cert --child >/dev/null || r=1
rekeyed_more() { [ "$(counter child_rekeyed)" -gt "$rk_before" ]; }
ib_wait 30 rekeyed_more || r=1
ping_l $IB_IN_S 3 >/dev/null || r=1
ib_ctl ike terminate cert >/dev/null || r=1
sleep 3
ib_swanctl --list-sas --ike cert 2>/dev/null | grep -q ESTABLISHED && r=1
check "certificate SA carries traffic, rekeys with PFS; ntmctl ike terminate deletes it at charon too" $r

# --- 20: a host name in remote_addrs is resolved off the event loop (D66) ------
# the DNS server never answers: initiate returns at once with an SA in state
# "resolving", ntmd keeps serving, and the SA goes when the lookup fails.
r=0
out=$(ib_ctl -j ike initiate slow --no-wait 2>&1) || r=1
st=$(ib_ike_sas | python3 -c 'import json,sys
print(" ".join(s["state"] for s in json.load(sys.stdin)["sas"] if s["connection"] == "slow"))' 2>&1)
ib_ctl status >/dev/null || r=1
[ "$st" = resolving ] || r=1
slow_gone() { grep -q 'cannot resolve slow.ntm.test' "$IB_DIR/ntmd.log" && [ -z "$(ib_ike_sas | grep -o '"slow"')" ]; }
ib_wait 60 slow_gone || r=1
ktap_diag "initiate: $(printf '%s' "$out" | tr '\n' ' '); state while resolving: '$st'; $(grep -o 'cannot resolve slow.*' "$IB_DIR/ntmd.log" | head -1)"
check "remote_addrs host name resolved off the event loop: initiate answers at once, the failed lookup ends the SA" $r

# --- 23: a wait that times out; permission errors named (D93) -----------------
# the lookup of slow.ntm.test is not answered: initiate gives up after --timeout
# with status 1 and the SA's state, or, waiting longer, reports the failed
# lookup as the reason; a user without CAP_NET_ADMIN is told so
r=0
t0=$(date +%s)
out=$(ib_ctl ike initiate slow --timeout 2 2>&1)
rc_slow=$?
t1=$(date +%s)
[ "$rc_slow" = 1 ] && printf '%s' "$out" | grep -q 'slow: IKE SA #[0-9]* not up after 2 s (state: resolving)' &&
	[ $((t1 - t0)) -ge 2 ] || r=1
# waiting through the failed lookup: status 1 with the reason ntmd remembers
t2=$(date +%s)
out2=$(ib_ctl ike initiate slow --timeout 120 2>&1)
rc_fail=$?
t3=$(date +%s)
[ "$rc_fail" = 1 ] && printf '%s' "$out2" | grep -q 'slow: IKE SA #[0-9]* failed: cannot resolve slow.ntm.test' || r=1
ktap_diag "initiate slow --timeout 120: exit $rc_fail after $((t3 - t2)) s: $out2"
perm=$(L setpriv --reuid=65534 --regid=65534 --clear-groups "$NTMCTL" device show ipsec0 2>&1)
rc_perm=$?
[ "$rc_perm" = 1 ] && printf '%s' "$perm" | grep -q 'ipsec0: Operation not permitted (ntm needs CAP_NET_ADMIN)' || r=1
ktap_diag "initiate slow --timeout 2: exit $rc_slow after $((t1 - t0)) s: $out; as nobody: exit $rc_perm: $perm"
check "ike initiate: --timeout ends the wait with the SA's state, a failed SA with ntmd's reason (status 1); genetlink EPERM named" $r
kill "$(cat "$IB_DIR/dns_sink.pid" 2>/dev/null)" 2>/dev/null

ktap_finish
