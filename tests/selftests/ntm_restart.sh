#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_restart.sh - restart safety of ntmd (decisions.rst D80):
#   - a node that finds its device holding tunnels of an earlier, killed
#     ntmd removes them at start (their keys died with that process; left
#     there they make the rebuilt tunnels fail with EEXIST);
#   - a node role that fails for good (the AS refuses its login) stops
#     alone: the other roles of the same process keep running, and the
#     status says why the node stopped;
#   - with WatchdogSec= (WATCHDOG_USEC), ntmd sends WATCHDOG=1 to systemd
#     at half that interval from its event loop.
# systemd's notification socket is played by a Python receiver.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 7
topo_need_ntm
DMESG0=$(dmesg | wc -l)
topo_setup_or_bail veth
T=$(topo_tmpdir)
AS_PORT=7581

# --- an AS certificate for 127.0.0.1 ---------------------------------------
mkpki() {
	local p=$T/pki
	mkdir -p "$p" && chmod 700 "$p"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/ca.key" 2>/dev/null &&
		openssl req -x509 -new -key "$p/ca.key" -sha256 -days 2 -subj "/CN=ntm restart test CA" \
			-addext "basicConstraints = critical, CA:TRUE" \
			-addext "keyUsage = critical, keyCertSign, cRLSign" -out "$p/ca.pem" 2>/dev/null &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/as.key" 2>/dev/null &&
		openssl req -new -key "$p/as.key" -subj "/CN=as.restart.test" -out "$p/as.csr" 2>/dev/null || return 1
	printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
		"extendedKeyUsage = serverAuth, clientAuth" "subjectAltName = DNS:as.restart.test, IP:127.0.0.1" \
		>"$p/as.ext"
	openssl x509 -req -in "$p/as.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" -set_serial 7 -days 2 -sha256 \
		-extfile "$p/as.ext" -out "$p/as.pem" 2>/dev/null
}
mkpki || ktap_bail "cannot make the test PKI"
(umask 077 && printf 'not the password\n' >"$T/pw")

# roles as + node in one process; the node's account does not exist
cat >"$T/ntmd.toml" <<EOF
roles = ["as", "node"]
log_level = "debug"
state_dir = "$T/state"
control_socket = "$T/ntmd.sock"
dns_servers = ["127.0.0.1:53"]

[tls]
ca = "$T/pki/ca.pem"
certificate = "$T/pki/as.pem"
private_key = "$T/pki/as.key"

[as]
listen = ["127.0.0.1:$AS_PORT"]
database = "$T/state/accounts.db"

[as.kdf]
n_log2 = 10

[node]
interface = "$NTM_DEV"
port = 7580
as = "127.0.0.1:$AS_PORT"
account = "nobody@restart.test"
password_file = "$T/pw"
resolved = "no"
EOF
mkdir -p "$T/state" && chmod 700 "$T/state"

status() { nctl "$NS_A" status -j --socket "$T/ntmd.sock" 2>/dev/null; }

# --- 1. an earlier ntmd killed with its tunnel in place -----------------------
rc=0
topo_tunnel_pair chacha20-poly1305 4 || rc=1
topo_wait 10 topo_ping "$NS_A" 4 -c 1 -W 2 >/dev/null 2>&1 || rc=1
topo_kill "$(topo_ntmd_pid "$NS_A")" KILL
n_before=$(num "$(topo_dstat "$NS_A" num_tunnels)")
ktap_diag "A's ntmd killed; $NTM_DEV still has $n_before tunnel(s)"
[ "$n_before" = 1 ] || rc=1
ktap_result "setup: A's ntmd is killed and leaves $NTM_DEV with its tunnel" $rc

# --- 2. the new ntmd (as + node, watchdog on) ---------------------------------
# the notification socket: every datagram on its own line, for 30 s
"$PY" - "$T/notify" >"$T/notify.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    print(f"{time.monotonic():.3f} " + d.decode(errors="replace").replace("\n", " "), flush=True)
EOF
NOTIFY_PID=$!
TOPO_PIDS="$NOTIFY_PID $TOPO_PIDS"
topo_wait 10 test -S "$T/notify"
topo_bg "$NS_A" "$T/ntmd.log" env NOTIFY_SOCKET="$T/notify" WATCHDOG_USEC=1000000 \
	"$NTMD" --config "$T/ntmd.toml"
PID=$TOPO_LAST_PID
topo_wait 30 sh -c "ip netns exec $NS_A $NTMCTL status -j --socket $T/ntmd.sock >/dev/null 2>&1"
n_after=$(num "$(topo_dstat "$NS_A" num_tunnels)")
removed=$(status | jq -r '.node.stale_removed // "absent"')
ktap_diag "tunnels on $NTM_DEV after the start: $n_after; node.stale_removed: $removed;" \
	"$(grep -m1 'earlier run' "$T/ntmd.log")"
[ "$n_after" = 0 ] && [ "$removed" = 1 ] && grep -q 'earlier run: removed' "$T/ntmd.log"
ktap_result "the node removes the tunnels an earlier run left on its device, and says so" $?

# --- 3. the node's login is refused: only the node stops ----------------------
topo_wait 20 sh -c "ip netns exec $NS_A $NTMCTL status -j --socket $T/ntmd.sock | jq -e '.node.failed' >/dev/null"
failed=$(status | jq -r '.node.failed // empty')
ktap_diag "node.failed: ${failed:-none}"
alive=0
kill -0 "$PID" 2>/dev/null && alive=1
[ -n "$failed" ] && [ $alive = 1 ]
ktap_result "AUTH_FAILED stops the node role, not the process (status says why)" $?

# the AS goes on serving: a login for the same account is answered (refused)
roles=$(status | jq -c '.roles')
ss=$(in_ns "$NS_A" ss -ltnH "sport = :$AS_PORT" | wc -l)
ktap_diag "roles: $roles; AS listeners: $ss"
[ "$roles" = '["as","node"]' ] && [ "$ss" -ge 1 ]
ktap_result "the AS role keeps listening and answering status" $?

# --- 4. the watchdog ------------------------------------------------------------
sleep 3
kill "$NOTIFY_PID" 2>/dev/null
wait "$NOTIFY_PID" 2>/dev/null
pings=$(grep -c 'WATCHDOG=1' "$T/notify.log")
ready=$(grep -c 'READY=1' "$T/notify.log")
span=$(awk '/WATCHDOG=1/ { if (!f) f = $1; l = $1 } END { printf "%.1f", l - f }' "$T/notify.log")
ktap_diag "notifications: READY=1 x$ready, WATCHDOG=1 x$pings over ${span} s (WATCHDOG_USEC=1000000)"
[ "$ready" -ge 1 ]
ktap_result "READY=1 reaches the notification socket" $?
# every 0.5 s: at least 4 pings over a span of 2 s or more
[ "$pings" -ge 4 ] && awk -v s="$span" 'BEGIN { exit !(s >= 2) }'
ktap_result "WATCHDOG=1 at half of WATCHDOG_USEC while the loop runs" $?

topo_kill "$PID"
bad=$(dmesg | tail -n +$((DMESG0 + 1)) | grep -E 'BUG:|WARNING:|Oops')
[ -z "$bad" ] && rc=0 || rc=1
! kill -0 "$PID" 2>/dev/null || rc=1
ktap_result "ntmd stops on SIGTERM; no kernel warning" $rc
ktap_finish
