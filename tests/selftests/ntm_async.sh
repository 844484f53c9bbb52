#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_async.sh - the asynchronous crypto completion path.  The module is
# reloaded with force_async=1, which wraps every AEAD in cryptd, so every
# packet is encrypted and decrypted by a callback on another thread (the
# path hardware engines and FPU-busy fallbacks take).  Both ciphers carry
# ping and TCP with no loss counted, and the module unloads cleanly with
# requests in flight.  Restores the normal module at the end.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 10
topo_need_ntm

reload_normal() {
	modprobe -r ntm 2>/dev/null
	modprobe ntm
}
ktap_at_cleanup reload_normal

# No ntm device may exist for the reload; earlier tests clean up after
# themselves, so a leftover is a bug worth reporting.
if ! modprobe -r ntm; then
	ktap_bail "ntm is busy: an earlier test left a device behind"
fi
# cryptd and the generic AES/GHASH back the cryptd(...) instances.  The
# inner synchronous algorithms are instantiated (and self-tested, slow under
# emulation) through AF_ALG first, so cryptd finds them ready.
modprobe -a cryptd aes_generic ghash_generic chacha_generic poly1305_generic 2>/dev/null
$PY - <<'PYEOF' || ktap_bail "cannot instantiate the inner AEAD algorithms"
import socket
for name in ("gcm_base(ctr(aes-generic),ghash-generic)",
             "rfc7539(chacha20-generic,poly1305-generic)"):
    s = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
    s.bind(("aead", name))
    s.close()
PYEOF
modprobe ntm force_async=1
[ "$(cat /sys/module/ntm/parameters/force_async 2>/dev/null)" = Y ]
ktap_result "ntm loaded with force_async=1" $?

topo_setup_or_bail
topo_iperf_server "$NS_B" || ktap_bail "iperf3 server did not start"

for cipher in ${NTM_ASYNC_CIPHERS:-chacha20-poly1305 aes-gcm}; do
	topo_tunnel_flush >/dev/null 2>&1
	topo_tunnel_pair "$cipher" 4 || ktap_bail "$cipher: tunnel setup failed"
	grep -q 'driver *: cryptd(' /proc/crypto
	ktap_result "$cipher: the tunnel's transform is a cryptd instance" $?
	if topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 &&
		topo_ping "$NS_A" 6 -c 5 -i 0.2 -W 2 >/dev/null; then
		ktap_ok "$cipher: ping IPv4 and IPv6 through async crypto"
	else
		ktap_fail "$cipher: ping IPv4 and IPv6 through async crypto"
	fi
	f=$(topo_tmpdir)/iperf-async-$cipher.json
	topo_iperf "$NS_A" "$VIP4_B" "$f" -t 3
	bytes=$(iperf_bytes "$f")
	[ "$bytes" -gt 0 ]
	ktap_result "$cipher: iperf3 TCP through async crypto ($bytes bytes)" $?
	drops=$(topo_tunnel_drops)
	[ "$drops" -eq 0 ]
	ktap_result "$cipher: no drops counted on either side ($drops)" $?
done

# Unload with requests queued in cryptd: teardown must wait for them.
topo_bg "$NS_A" "$(topo_tmpdir)/iperf-unload.json" iperf3 -c $VIP4_B -t 20 -J
sleep 2
topo_cleanup
ok=1
for i in $(seq 60); do
	if modprobe -r ntm 2>/dev/null; then ok=0; break; fi
	sleep 0.5
done
ktap_result "modprobe -r ntm with async requests in flight" $ok

ktap_finish
