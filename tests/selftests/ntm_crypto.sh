#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_crypto.sh - the two ChaCha20-Poly1305 implementations of NTM tunnels
# (D106): the ChaCha20/Poly1305 library with the key kept in the tunnel
# (the default: no crypto API transform per tunnel) and the crypto API's
# rfc7539(chacha20,poly1305) (module parameter chacha_api=1).  A tunnel
# whose two ends use different implementations carries pings of every size
# around the 64-byte ChaCha block and the tag, fragmented inner pings, TCP,
# and datagrams fragmented on the outer path (reassembled: scatterlists of
# several segments) in both directions with nothing dropped; under
# mismatched keys each end refuses the other's packets.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 11
topo_need_ntm

PARAM=/sys/module/ntm/parameters/chacha_api
restore_param() { [ -w $PARAM ] && echo 0 >$PARAM; }
ktap_at_cleanup restore_param

# the crypto API's rfc7539 instance and its user count (one per transform)
api_refs() {
	awk '/^name/ { name = $3 }
	     /^refcnt/ && name == "rfc7539(chacha20,poly1305)" { n += $3 }
	     END { print n + 0 }' /proc/crypto
}

topo_setup_or_bail
topo_iperf_server "$NS_B" || ktap_bail "iperf3 server did not start"
topo_iperf_server "$NS_A" || ktap_bail "iperf3 server did not start"

[ -w $PARAM ] && [ "$(cat $PARAM)" = N ] && ! dmesg | grep -q "self-test failed"
ktap_result "the library passed its known-answer test at load; chacha_api is off by default" $?

tstat() { num "$(topo_tstat "$1" "$2")"; }

# 1. Default: neither end takes a crypto API transform.
before=$(api_refs)
topo_tunnel_pair chacha20-poly1305 4 || ktap_bail "tunnel setup failed"
after=$(api_refs)
[ "$after" -eq "$before" ]
ktap_result "two library tunnels take no crypto API transform (users $before -> $after)" $?

# 2. B through the crypto API, A through the library.
topo_tunnel_flush >/dev/null 2>&1
TUN_KEY=$(topo_hex 32)
TUN_SALT_AB=$(topo_hex 4)
TUN_SALT_BA=$(topo_hex 4)
while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
before=$(api_refs)
echo 1 >$PARAM
topo_tunnel_add "$NS_B" chacha20-poly1305 4 "$TUN_KEY" || ktap_bail "B: tunnel add failed"
mid=$(api_refs)
echo 0 >$PARAM
topo_tunnel_add "$NS_A" chacha20-poly1305 4 "$TUN_KEY" || ktap_bail "A: tunnel add failed"
after=$(api_refs)
[ "$mid" -gt "$before" ] && [ "$after" -eq "$mid" ]
ktap_result "B seals through the crypto API, A through the library (users $before -> $mid -> $after)" $?

topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 >/dev/null
# payloads around the block and tag sizes, then ones that fragment
bad=""
for s in 0 1 15 16 17 35 36 37 63 64 65 100 127 128 129 1000 1371 1372; do
	topo_ping "$NS_A" 4 -c 1 -W 2 -s $s >/dev/null 2>&1 || bad="$bad $s"
	topo_ping "$NS_B" 6 -c 1 -W 2 -s $s >/dev/null 2>&1 || bad="$bad v6:$s"
done
[ -z "$bad" ]
ktap_result "pings of 36 sizes across block and tag boundaries, both ways${bad:+ (lost:$bad)}" $?

bad=""
for s in 1500 3000 8000 20000; do
	topo_ping "$NS_A" 4 -c 1 -W 3 -s $s >/dev/null 2>&1 || bad="$bad $s"
done
[ -z "$bad" ]
ktap_result "fragmented inner pings up to 20000 bytes${bad:+ (lost:$bad)}" $?

f=$(topo_tmpdir)/iperf-ab.json
topo_iperf "$NS_A" "$VIP4_B" "$f" -t 3
ab=$(num "$(iperf_bytes "$f")")
f=$(topo_tmpdir)/iperf-ba.json
topo_iperf "$NS_B" "$VIP4_A" "$f" -t 3
ba=$(num "$(iperf_bytes "$f")")
[ "$ab" -gt 0 ] && [ "$ba" -gt 0 ]
ktap_result "TCP library -> crypto API ($ab bytes) and back ($ba bytes)" $?

drops=$(topo_tunnel_drops)
[ "$drops" -eq 0 ]
ktap_result "no drops counted on either side ($drops)" $?

# 3. Outer fragments: with both underlays at MTU 1000, a datagram of a
# 1000-1372-byte inner packet leaves in two IP fragments (ignore_df), and
# the receiver opens a reassembled skb -- a frag_list, so a scatterlist of
# several segments whose boundary cuts the text off the 64-byte grid: the
# block-straddling code of the library on A's receive side.
frag_creates() { in_ns "$1" awk '/^Ip:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "FragCreates") c = i; n = 1 } else print $c }' /proc/net/snmp; }
fa0=$(num "$(frag_creates "$NS_A")")
fb0=$(num "$(frag_creates "$NS_B")")
A ip link set vA mtu 1000
B ip link set vB mtu 1000
bad=""
for s in 1000 1100 1111 1200 1300 1372; do
	topo_ping "$NS_A" 4 -c 1 -W 2 -M dont -s $s >/dev/null 2>&1 || bad="$bad $s"
	topo_ping "$NS_B" 4 -c 1 -W 2 -M dont -s $s >/dev/null 2>&1 || bad="$bad B:$s"
done
A ip link set vA mtu 1500
B ip link set vB mtu 1500
fa=$(($(num "$(frag_creates "$NS_A")") - fa0))
fb=$(($(num "$(frag_creates "$NS_B")") - fb0))
[ -z "$bad" ] && [ "$fa" -ge 12 ] && [ "$fb" -ge 12 ]
ktap_result "12 pings both ways in fragmented outer datagrams (fragments made: A $fa, B $fb)${bad:+ (lost:$bad)}" $?
drops=$(topo_tunnel_drops)
[ "$drops" -eq 0 ]
ktap_result "no drops counted after the fragmented datagrams ($drops)" $?

# 4. A wrong key on one end: every packet fails authentication, in both
# implementations, and is counted.
topo_tunnel_flush >/dev/null 2>&1
echo 1 >$PARAM
topo_tunnel_add "$NS_B" chacha20-poly1305 4 "$(topo_hex 32)" || ktap_bail "B: tunnel add failed"
echo 0 >$PARAM
topo_tunnel_add "$NS_A" chacha20-poly1305 4 "$TUN_KEY" || ktap_bail "A: tunnel add failed"
topo_ping "$NS_A" 4 -c 3 -i 0.2 -W 1 >/dev/null 2>&1
topo_ping "$NS_B" 4 -c 3 -i 0.2 -W 1 >/dev/null 2>&1
auth_b=$(tstat "$NS_B" stats.drop_auth)
auth_a=$(tstat "$NS_A" stats.drop_auth)
[ "$auth_b" -ge 3 ]
ktap_result "the crypto API end refuses what the library sealed under another key ($auth_b)" $?
[ "$auth_a" -ge 3 ]
ktap_result "the library end refuses what the crypto API sealed under another key ($auth_a)" $?

topo_tunnel_flush >/dev/null 2>&1
ktap_finish
