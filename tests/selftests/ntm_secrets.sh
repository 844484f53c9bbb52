#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_secrets.sh - key hygiene of the processes (decisions.rst D72): ntmd
# keeps its key buffers in a secure heap that is excluded from core dumps,
# and by default cannot dump core at all. A plain process under the same
# settings does dump core (the positive control), and so does ntmd with
# --allow-core-dumps: the test can see a dump when there is one.
# The node's DNS stub (D73) answers only loopback clients and the networks
# of node.dns_allow; a listen address others can reach needs dns_allow.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 8
topo_need_ntm

NS=ntmsec$$
T=$(topo_tmpdir)
ktap_at_cleanup topo_cleanup
CORES=$T/cores
mkdir -p "$CORES"
OLD_PATTERN=$(cat /proc/sys/kernel/core_pattern)
restore_pattern() { printf '%s\n' "$OLD_PATTERN" >/proc/sys/kernel/core_pattern; }
ktap_at_cleanup restore_pattern
printf '%s\n' "$CORES/core.%e.%p" >/proc/sys/kernel/core_pattern || ktap_bail "cannot set core_pattern"
ulimit -c unlimited || ktap_bail "cannot raise RLIMIT_CORE"
topo_ns_add "$NS" || ktap_bail "netns"

# cores_of PID: the number of core files PID left
cores_of() { find "$CORES" -name "core.*.$1" | wc -l; }

# crash PID: SIGSEGV, then wait for it and for the kernel to write the dump
crash() {
	kill -SEGV "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	sleep 0.5
}

# 1. positive control: an ordinary process dumps core here
sleep 60 &
p=$!
# a signal before the exec would hit the forked shell, which runs our exit trap
topo_wait 10 grep -qx sleep "/proc/$p/comm"
crash $p
[ "$(cores_of $p)" -eq 1 ]
ktap_result "a plain process (sleep) leaves a core under these settings" $?

# 2, 3. ntmd in socket-owner mode
start_ntmd() {
	topo_bg "$NS" "$T/ntmd-$1.log" "$NTMD" --interface ntmsec0 --port 5391 --create "${@:2}"
	NTMD_PID=$TOPO_LAST_PID
	topo_wait 30 topo_dev_has_port "$NS" ntmsec0 || {
		ktap_diag_file "$T/ntmd-$1.log"
		return 1
	}
}
start_ntmd hardened || ktap_bail "ntmd did not start"
# the secure heap: one mapping of at least 1 MiB marked "dd" (MADV_DONTDUMP)
dd_kib=$(awk '/^Size:/ { size = $2 } /^VmFlags:/ { if ($0 ~ / dd( |$)/ && size > max) max = size }
	END { print max + 0 }' "/proc/$NTMD_PID/smaps")
ktap_diag "largest MADV_DONTDUMP mapping of ntmd: $dd_kib KiB"
[ "$dd_kib" -ge 1024 ]
ktap_result "ntmd's key heap (>= 1 MiB) is excluded from core dumps" $?
crash "$NTMD_PID"
n=$(cores_of "$NTMD_PID")
ktap_diag "cores left by ntmd: $n"
[ "$n" -eq 0 ]
ktap_result "ntmd killed with SIGSEGV leaves no core" $?
in_ns "$NS" ip link del ntmsec0 2>/dev/null

# 4. the debugging switch works, so point 3 saw a real refusal
start_ntmd allowed --allow-core-dumps || ktap_bail "ntmd --allow-core-dumps did not start"
grep -q "core dumps allowed" "$T/ntmd-allowed.log"
ok=$?
crash "$NTMD_PID"
[ $ok -eq 0 ] && [ "$(cores_of "$NTMD_PID")" -eq 1 ]
ktap_result "ntmd --allow-core-dumps warns and does leave a core" $?
in_ns "$NS" ip link del ntmsec0 2>/dev/null
rm -rf "$CORES"

# 5..8. the DNS stub's clients. A node whose AS does not answer (nothing
# listens at 10.99.0.1:443) still runs its stub. Client namespace C has
# 10.99.0.2 (outside dns_allow) and 10.99.1.2 (inside).
CNS=ntmsecc$$
topo_ns_add "$CNS" || ktap_bail "netns"
ip link add vsec0 netns "$NS" type veth peer name vsec1 netns "$CNS" || ktap_bail "veth"
in_ns "$NS" ip addr add 10.99.0.1/24 dev vsec0
in_ns "$NS" ip addr add 10.99.1.1/24 dev vsec0
in_ns "$NS" ip link set vsec0 up
in_ns "$CNS" ip addr add 10.99.0.2/24 dev vsec1
in_ns "$CNS" ip addr add 10.99.1.2/24 dev vsec1
in_ns "$CNS" ip link set vsec1 up
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
	-subj "/CN=ntm_secrets CA" -days 1 2>/dev/null || ktap_bail "openssl"
printf 'secret\n' >"$T/pw"
chmod 600 "$T/pw"
node_conf() { # LISTEN [ALLOW]
	cat <<-EOF
	roles = ["node"]
	state_dir = "$T"
	control_socket = "$T/ntmd.sock"
	dns_servers = []
	[tls]
	ca = "$T/ca.pem"
	[node]
	interface = "ntmsec1"
	port = 5392
	as = "10.99.0.1:443"
	account = "alice@ntm.test"
	password_file = "$T/pw"
	dns_listen = ["$1"]
	dns_upstream = []
	EOF
	[ $# -gt 1 ] && echo "dns_allow = [$2]"
}
node_conf "0.0.0.0:5353" >"$T/wild.toml"
out=$("$NTMD" --config "$T/wild.toml" --check-config 2>&1)
rc=$?
ktap_diag "$out"
[ $rc -eq 2 ] && [[ $out == *"is not a loopback address: set node.dns_allow"* ]]
ktap_result "a wildcard dns_listen without dns_allow is a configuration error" $?

node_conf "10.99.0.1:5353" '"10.99.1.0/24"' >"$T/node.toml"
topo_bg "$NS" "$T/ntmd-node.log" "$NTMD" --config "$T/node.toml"
ask() { # SOURCE: 0 when the stub at 10.99.0.1:5353 answers a query from SOURCE
	in_ns "$CNS" python3 - "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind((sys.argv[1], 0))
	s.settimeout(2)
	q = bytes.fromhex("abcd01000001000000000000") + b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
	s.sendto(q, ("10.99.0.1", 5353))
	try:
	    r = s.recv(512)
	except socket.timeout:
	    sys.exit(1)
	sys.exit(0 if r[:2] == b"\xab\xcd" else 1)
	EOF
}
topo_wait 30 ask 10.99.1.2
ktap_result "the stub answers a client inside dns_allow" $?
ask 10.99.0.2
rc=$?
refused=$("$NTMCTL" status -j --socket "$T/ntmd.sock" 2>/dev/null | jq -r '.node.dns.refused')
ktap_diag "answered: $([ $rc -eq 0 ] && echo yes || echo no), dns.refused: ${refused:-?}"
[ $rc -ne 0 ]
ktap_result "a client outside dns_allow gets no answer" $?
[ "${refused:-0}" -ge 1 ]
ktap_result "the refusal is counted in dns.refused" $?

ktap_finish
