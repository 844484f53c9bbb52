#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_scale.sh - 10 000 tunnels (NTM_SCALE_N) with distinct keys through one
# `ntmctl batch`; the dump lists each exactly once in ascending order;
# lookups of single tunnels work; half are deleted by a batch of dels, the
# rest by a flush; the device then still carries traffic.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

N=${NTM_SCALE_N:-10000}
ktap_plan 9
topo_need_ntm

topo_setup_or_bail
ktap_ok "setup"
T=$(topo_tmpdir)

# Indexes 100001..100000+N, virtual addresses from 198.18.0.0/15, keys and
# salts random; every other one aes-gcm.
"$PY" - "$N" "$T/add.batch" "$T/del.batch" <<-'EOF'
import os, sys
n = int(sys.argv[1])
with open(sys.argv[2], "w") as add, open(sys.argv[3], "w") as dele:
    for i in range(1, n + 1):
        vip = "198.%d.%d.%d" % (18 + (i >> 16), (i >> 8) & 0xff, i & 0xff)
        cipher = "aes-gcm" if i % 2 else "chacha20-poly1305"
        add.write("tunnel add ntm0 --local-index %d --remote-index %d --endpoint 192.0.2.2:51820 "
                  "--vip4 %s --cipher %s --key %s --tx-salt a%s --rx-salt b%s\n" % (
                      100000 + i, 200000 + i, vip, cipher, os.urandom(32).hex(),
                      os.urandom(4).hex()[1:], os.urandom(4).hex()[1:]))
        if i % 2 == 0:
            dele.write("tunnel del ntm0 --local-index %d\n" % (100000 + i))
EOF

t0=$EPOCHSECONDS
out=$(A "$NTMCTL" batch "$T/add.batch" 2>&1)
rc=$?
t1=$EPOCHSECONDS
n=$(num "$(topo_dstat "$NS_A" num_tunnels)")
ktap_diag "batch add of $N: rc $rc in $((t1 - t0)) s; device reports $n tunnels"
[ $rc -ne 0 ] && ktap_diag "$(printf '%s' "$out" | tail -n 5)"
ktap_result "ntmctl batch added $N tunnels" $([ $rc -eq 0 ] && [ "$n" -eq "$N" ] && echo 0 || echo 1)

t0=$EPOCHSECONDS
A "$NTMCTL" -j tunnel show $NTM_DEV >"$T/dump.json" 2>"$T/dump.err"
rc=$?
t1=$EPOCHSECONDS
read -r cnt uniq < <($NTMJSON tunnels <"$T/dump.json")
ktap_diag "dump: rc $rc, $cnt tunnels, $uniq distinct indexes, $((t1 - t0)) s, $(wc -c <"$T/dump.json") bytes"
ktap_result "the dump lists $N tunnels" $([ $rc -eq 0 ] && [ "${cnt:-0}" -eq "$N" ] && echo 0 || echo 1)
ktap_result "no duplicates in the dump" $([ "${uniq:-0}" -eq "${cnt:--1}" ] && echo 0 || echo 1)
ordered=$("$PY" -c "
import json, sys
sys.path.insert(0, '$TOPO_LIB_DIR')
import ntmjson
doc = json.load(open('$T/dump.json'))
idx = [t['local_index'] for t in ntmjson.tunnels(doc)]
print(int(idx == sorted(idx) and len(idx) > 0))
" 2>&1)
ktap_result "the dump is in ascending local index order" $([ "$ordered" = 1 ] && echo 0 || echo 1)

mid=$((100000 + N / 2 + 1))
ep=$(nctl "$NS_A" -j tunnel show $NTM_DEV --local-index $mid 2>/dev/null | topo_json tunnel remote_index)
ktap_result "single lookup among $N: index $mid has remote index $((mid + 100000))" \
	$([ "$ep" = "$((mid + 100000))" ] && echo 0 || echo 1)

t0=$EPOCHSECONDS
out=$(A "$NTMCTL" batch "$T/del.batch" 2>&1)
rc=$?
n=$(num "$(topo_dstat "$NS_A" num_tunnels)")
ktap_diag "batch del of $((N / 2)): rc $rc in $((EPOCHSECONDS - t0)) s; $n left"
ktap_result "a batch of $((N / 2)) dels leaves $((N - N / 2))" \
	$([ $rc -eq 0 ] && [ "$n" -eq $((N - N / 2)) ] && echo 0 || echo 1)

t0=$EPOCHSECONDS
nctl "$NS_A" tunnel flush $NTM_DEV
rc=$?
n=$(num "$(topo_dstat "$NS_A" num_tunnels)")
cnt=$(nctl "$NS_A" -j tunnel show $NTM_DEV 2>/dev/null | $NTMJSON tunnels | cut -d' ' -f1)
ktap_diag "flush: rc $rc in $((EPOCHSECONDS - t0)) s; device reports $n, dump lists ${cnt:-?}"
ktap_result "flush removes the rest (count 0)" $([ $rc -eq 0 ] && [ "$n" -eq 0 ] && [ "${cnt:-1}" -eq 0 ] && echo 0 || echo 1)

topo_tunnel_pair chacha20-poly1305 4 &&
	topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 &&
	topo_ping "$NS_A" 6 -c 2 -W 2 >/dev/null
ktap_result "the device still carries traffic" $?

ktap_finish
