# SPDX-License-Identifier: GPL-2.0
# topo.sh - network-namespace topologies for the ntm selftests, the
# benchmark and the demo.  Source it from bash (after ktap.sh when used by a
# test: teardown is hooked to ktap's exit trap; otherwise call topo_cleanup
# yourself or use topo_trap).
#
# Every address used here lives only in namespaces this library creates:
#
#   underlay (bridge "br0" in switch namespace $NS_S, or a direct veth pair)
#     A  vA  192.0.2.1/24    2001:db8::1/64
#     B  vB  192.0.2.2/24    2001:db8::2/64
#     R  wan 192.0.2.254/24  2001:db8::fe/64      (topo_nat_init)
#   NAT LAN between R and B (topo_nat_init)
#     R  lan 203.0.113.1/24   B vBn 203.0.113.2/24  (nftables masquerade on R)
#   inner (virtual) addresses on ntm0
#     A  198.51.100.1/32  fd00:77::1/128
#     B  198.51.100.2/32  fd00:77::2/128
#
# Tunnel indexes: A's local index is $IDX_A (B sends to it), B's is $IDX_B.

TOPO_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NTM_REPO=${NTM_REPO:-$(cd "$TOPO_LIB_DIR/../../.." && pwd)}
NTM_BIN=${NTM_BIN:-$NTM_REPO/build/ctld}
NTMCTL=${NTMCTL:-$NTM_BIN/ntmctl}
NTMD=${NTMD:-$NTM_BIN/ntmd}
# scapy is a Debian package: use Debian's interpreter, not whatever python3
# comes first in PATH.
PY=${NTM_PYTHON:-/usr/bin/python3}
NTMJSON="$PY $TOPO_LIB_DIR/ntmjson.py"

TOPO_ID=${TOPO_ID:-$$}
NS_A=ntmA$TOPO_ID
NS_B=ntmB$TOPO_ID
NS_R=ntmR$TOPO_ID
NS_S=ntmS$TOPO_ID

UL4_A=192.0.2.1
UL4_B=192.0.2.2
UL4_B2=192.0.2.3
UL4_R=192.0.2.254
UL6_A=2001:db8::1
UL6_B=2001:db8::2
UL6_B2=2001:db8::3
UL6_R=2001:db8::fe
LAN4_R=203.0.113.1
LAN4_B=203.0.113.2
VIP4_A=198.51.100.1
VIP4_B=198.51.100.2
VIP6_A=fd00:77::1
VIP6_B=fd00:77::2
NTM_PORT=${NTM_PORT:-51820}
IDX_A=1001
IDX_B=2002
NTM_DEV=ntm0

TOPO_NAMESPACES=""
TOPO_PIDS=""
TOPO_TMP=""
TOPO_UNDERLAY=""
TOPO_NAT=0

topo_log() {
	if declare -F ktap_diag >/dev/null; then
		ktap_diag "$*"
	else
		printf '%s\n' "$*" >&2
	fi
}

A() { ip netns exec "$NS_A" "$@"; }
B() { ip netns exec "$NS_B" "$@"; }
R() { ip netns exec "$NS_R" "$@"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ntmctl in namespace NS
nctl() { local ns=$1; shift; ip netns exec "$ns" "$NTMCTL" "$@"; }

topo_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# topo_wait TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds
topo_wait() {
	local t=$1 end
	shift
	end=$((EPOCHSECONDS + t))
	while ! "$@" >/dev/null 2>&1; do
		[ "$EPOCHSECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
	return 0
}

topo_have_ntm() {
	[ -x "$NTMCTL" ] && [ -x "$NTMD" ] && modprobe -q ntm 2>/dev/null
}

topo_tmpdir() {
	if [ -z "$TOPO_TMP" ]; then
		TOPO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ntmtest.XXXXXX")
	fi
	echo "$TOPO_TMP"
}

topo_ns_add() {
	local ns=$1
	ip netns add "$ns" || return 1
	TOPO_NAMESPACES="$ns $TOPO_NAMESPACES"
	in_ns "$ns" ip link set lo up
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 2>/dev/null
	return 0
}

# topo_bg NS LOGFILE CMD...: start CMD in NS in the background, remember it
# for teardown; sets TOPO_LAST_PID.
topo_bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	TOPO_LAST_PID=$!
	TOPO_PIDS="$TOPO_LAST_PID $TOPO_PIDS"
}

topo_kill() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

topo_cleanup() {
	local pid ns p
	for pid in $TOPO_PIDS; do
		topo_kill "$pid" TERM
	done
	TOPO_PIDS=""
	for ns in $TOPO_NAMESPACES; do
		# Anything still running inside was started by this test.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NAMESPACES=""
	if [ -n "$TOPO_TMP" ] && [ -z "${NTM_KEEP_TMP:-}" ]; then
		rm -rf "$TOPO_TMP"
	fi
	TOPO_TMP=""
}

# Standalone users (bench, demo): tear down on exit.
topo_trap() {
	trap 'topo_cleanup' EXIT
	trap 'exit 130' INT TERM HUP
}

# topo_init [bridge|veth]: namespaces A and B on an IPv4+IPv6 underlay.
# "bridge" (default) puts a switch namespace in between so a NAT router can
# join later; "veth" joins A and B directly (benchmarks).
topo_init() {
	local mode=${1:-bridge}
	TOPO_UNDERLAY=$mode
	topo_tmpdir >/dev/null
	if declare -F ktap_at_cleanup >/dev/null; then
		ktap_at_cleanup topo_cleanup
	fi
	topo_ns_add "$NS_A" || return 1
	topo_ns_add "$NS_B" || return 1
	if [ "$mode" = veth ]; then
		ip link add vA netns "$NS_A" type veth peer name vB netns "$NS_B" || return 1
	else
		topo_ns_add "$NS_S" || return 1
		in_ns "$NS_S" ip link add br0 type bridge mcast_snooping 0 || return 1
		in_ns "$NS_S" ip link set br0 up
		topo_switch_port "$NS_A" vA sA || return 1
		topo_switch_port "$NS_B" vB sB || return 1
	fi
	A ip addr add $UL4_A/24 dev vA
	A ip addr add $UL6_A/64 dev vA nodad
	A ip link set vA up
	B ip addr add $UL4_B/24 dev vB
	B ip addr add $UL6_B/64 dev vB nodad
	B ip link set vB up
	topo_wait 10 A ping -c1 -W1 $UL4_B || { topo_log "underlay IPv4 A->B does not work"; return 1; }
	topo_wait 10 A ping -6 -c1 -W1 $UL6_B || { topo_log "underlay IPv6 A->B does not work"; return 1; }
	return 0
}

# topo_switch_port NS IFNAME SWITCHSIDE: a veth from NS into the bridge
topo_switch_port() {
	local ns=$1 ifn=$2 sw=$3
	ip link add "$ifn" netns "$ns" type veth peer name "$sw" netns "$NS_S" || return 1
	in_ns "$NS_S" ip link set "$sw" master br0 || return 1
	in_ns "$NS_S" ip link set "$sw" up
}

# topo_nat_init: NAT router R on the underlay (wan), with a LAN towards B
# (interface vBn in B).  B keeps its direct underlay address until
# topo_b_behind_nat moves it.  R masquerades LAN sources with random ports,
# so a move behind it changes both address and port.
topo_nat_init() {
	[ "$TOPO_UNDERLAY" = bridge ] || { topo_log "NAT needs the bridge underlay"; return 1; }
	topo_ns_add "$NS_R" || return 1
	topo_switch_port "$NS_R" wan sR || return 1
	R ip addr add $UL4_R/24 dev wan
	R ip addr add $UL6_R/64 dev wan nodad
	R ip link set wan up
	ip link add lan netns "$NS_R" type veth peer name vBn netns "$NS_B" || return 1
	R ip addr add $LAN4_R/24 dev lan
	R ip link set lan up
	B ip addr add $LAN4_B/24 dev vBn
	B ip link set vBn up
	R sysctl -qw net.ipv4.ip_forward=1
	R nft -f - <<-EOF || return 1
	table ip nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "wan" ip saddr 203.0.113.0/24 masquerade random
		}
	}
	EOF
	TOPO_NAT=1
	topo_wait 10 R ping -c1 -W1 $LAN4_B || { topo_log "NAT LAN does not work"; return 1; }
	return 0
}

# topo_b_behind_nat: B loses its underlay address; its traffic to the
# underlay now leaves through R and is masqueraded to 192.0.2.254:random.
topo_b_behind_nat() {
	B ip link set vB down || return 1
	B ip route replace 192.0.2.0/24 via $LAN4_R dev vBn
}

# topo_b_readdress: B's underlay address changes 192.0.2.2 -> 192.0.2.3
topo_b_readdress() {
	# Keep the new address when the old (primary) one goes.
	B sysctl -qw net.ipv4.conf.vB.promote_secondaries=1
	B ip addr add $UL4_B2/24 dev vB || return 1
	B ip addr del $UL4_B/24 dev vB
}

# topo_ntmd NS [PORT] [DEV]: start ntmd in NS and wait until the device has
# its sockets.
topo_ntmd() {
	local ns=$1 port=${2:-$NTM_PORT} dev=${3:-$NTM_DEV} log
	log="$(topo_tmpdir)/ntmd-$ns-$dev.log"
	topo_bg "$ns" "$log" "$NTMD" --interface "$dev" --port "$port" --create
	eval "NTMD_PID_${ns}_${dev}=$TOPO_LAST_PID"
	if ! topo_wait 30 topo_dev_has_port "$ns" "$dev"; then
		topo_log "ntmd in $ns did not bring up $dev with port $port"
		declare -F ktap_diag_file >/dev/null && ktap_diag_file "$log"
		return 1
	fi
	return 0
}

topo_ntmd_pid() {
	eval "echo \${NTMD_PID_${1}_${2:-$NTM_DEV}:-}"
}

topo_dev_has_port() {
	local ns=$1 dev=$2
	nctl "$ns" -j device show "$dev" 2>/dev/null |
		topo_json get port4 | grep -qx '[1-9][0-9]*'
}

# topo_ntm_addrs NS: inner addresses and routes on ntm0 of A or B
topo_ntm_addrs() {
	local ns=$1 dev=${2:-$NTM_DEV} l4 l6 p4 p6
	if [ "$ns" = "$NS_A" ]; then
		l4=$VIP4_A l6=$VIP6_A p4=$VIP4_B p6=$VIP6_B
	else
		l4=$VIP4_B l6=$VIP6_B p4=$VIP4_A p6=$VIP6_A
	fi
	# No link-local address, no router solicitations: an ntm device has no
	# neighbours, and the periodic multicast would show up in the drop
	# counters the tests compare.
	in_ns "$ns" sysctl -qw "net.ipv6.conf.$dev.addr_gen_mode=1" \
		"net.ipv6.conf.$dev.router_solicitations=0" 2>/dev/null
	in_ns "$ns" ip addr add $l4/32 dev "$dev" || return 1
	in_ns "$ns" ip addr add $l6/128 dev "$dev" nodad || return 1
	in_ns "$ns" ip link set "$dev" up || return 1
	in_ns "$ns" ip route add $p4/32 dev "$dev" src $l4 || return 1
	in_ns "$ns" ip -6 route add $p6/128 dev "$dev" src $l6 || return 1
}

# topo_ntm_up: ntmd, inner addresses and routes on both A and B (no tunnel)
topo_ntm_up() {
	topo_ntmd "$NS_A" || return 1
	topo_ntmd "$NS_B" || return 1
	topo_ntm_addrs "$NS_A" || return 1
	topo_ntm_addrs "$NS_B" || return 1
}

topo_ep() { # topo_ep FAMILY ADDR-OF-WHOM
	local fam=$1 who=$2 a
	if [ "$fam" = 6 ]; then
		eval "a=\$UL6_$who"
		echo "[$a]:$NTM_PORT"
	else
		eval "a=\$UL4_$who"
		echo "$a:$NTM_PORT"
	fi
}

# topo_tunnel_pair CIPHER OUTER_FAMILY [KEY_A [KEY_B]]: a tunnel A<->B
# carrying both inner families.  Different keys make a mismatched pair.
# Sets TUN_KEY, TUN_SALT_AB (A's tx salt), TUN_SALT_BA.
topo_tunnel_pair() {
	local cipher=$1 fam=$2
	TUN_KEY=${3:-$(topo_hex 32)}
	local key_b=${4:-$TUN_KEY}
	TUN_SALT_AB=$(topo_hex 4)
	TUN_SALT_BA=$(topo_hex 4)
	while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
	topo_tunnel_add "$NS_A" "$cipher" "$fam" "$TUN_KEY" || return 1
	topo_tunnel_add "$NS_B" "$cipher" "$fam" "$key_b" || return 1
}

# topo_tunnel_line NS CIPHER OUTER_FAMILY KEY: the "tunnel add" command (for
# ntmctl, without the program name) of A's or B's side
topo_tunnel_line() {
	local ns=$1 cipher=$2 fam=$3 key=$4
	if [ "$ns" = "$NS_A" ]; then
		echo "tunnel add $NTM_DEV --local-index $IDX_A --remote-index $IDX_B" \
			"--endpoint $(topo_ep "$fam" B) --vip4 $VIP4_B --vip6 $VIP6_B" \
			"--cipher $cipher --key $key --tx-salt $TUN_SALT_AB --rx-salt $TUN_SALT_BA"
	else
		echo "tunnel add $NTM_DEV --local-index $IDX_B --remote-index $IDX_A" \
			"--endpoint $(topo_ep "$fam" A) --vip4 $VIP4_A --vip6 $VIP6_A" \
			"--cipher $cipher --key $key --tx-salt $TUN_SALT_BA --rx-salt $TUN_SALT_AB"
	fi
}

# topo_tunnel_add NS CIPHER OUTER_FAMILY KEY [extra ntmctl args]: one side
topo_tunnel_add() {
	local ns=$1 cipher=$2 fam=$3 key=$4 out
	shift 4
	# the key goes in on stdin: ntmctl refuses one on its command line
	# shellcheck disable=SC2046
	out=$(nctl "$ns" $(topo_tunnel_line "$ns" "$cipher" "$fam" -) "$@" 2>&1 <<<"$key") ||
		{ topo_log "tunnel add in $ns failed: $out"; return 1; }
	return 0
}

topo_tunnel_flush() {
	nctl "$NS_A" tunnel flush $NTM_DEV
	nctl "$NS_B" tunnel flush $NTM_DEV
}

topo_idx() { [ "$1" = "$NS_A" ] && echo $IDX_A || echo $IDX_B; }

# topo_json get|tunnel PATH...: fields of ntmctl -j output, in jq (a
# python3 costs 0.4-1 s in the guest, jq a third of that; D105): the
# field PATH (dotted, digits index lists) of the shallowest object holding
# PATH's first component, breadth first, in the JSON on stdin; "tunnel"
# looks only inside the first tunnel object (one with a numeric
# local_index).  One line per PATH; true/false print 1/0; a missing field
# an empty line, and status 1.
# (lib/ntmjson.py searches monitor events the same way.)
TOPO_JQ_FIELD='def field($path):
  ($path | split(".")) as $parts
  | ([paths | select(length > 0 and .[-1] == $parts[0])] | sort_by(length) | .[0]) as $hp
  | if $hp == null then null
    else reduce $parts[] as $p (getpath($hp[:-1]);
      if type == "object" then .[$p]
      elif type == "array" and ($p | test("^[0-9]+$")) then .[$p | tonumber]
      else null end)
    end;
(if $m == "tunnel" then (first(.. | objects | select(.local_index | type == "number")) // null) else . end)
| . as $doc | $ARGS.positional[] as $p
| ($doc | if . == null then null else field($p) end)
| if . == null then "\u001fmissing"
  elif type == "boolean" then (if . then 1 else 0 end)
  elif type == "object" or type == "array" then tojson
  else . end'
topo_json() {
	local m=$1 v i=0 rc=0 out
	shift
	mapfile -t out < <(jq -r --arg m "$m" "$TOPO_JQ_FIELD" --args "$@" 2>/dev/null)
	for _ in "$@"; do
		v=${out[i]:-}
		i=$((i + 1))
		if [ -z "$v" ] || [ "$v" = $'\x1fmissing' ]; then
			echo
			rc=1
		else
			printf '%s\n' "$v"
		fi
	done
	return $rc
}

# topo_tstat NS FIELD: one field of the tunnel of A or B (FIELD like
# stats.rx_packets, endpoint, tx_counter); empty when unavailable
topo_tstat() {
	local ns=$1 field=$2
	nctl "$ns" -j tunnel show $NTM_DEV --local-index "$(topo_idx "$ns")" 2>/dev/null |
		topo_json tunnel "$field"
}

# topo_tunnel_drops: drop_auth + drop_replay + drop_nomem + drop_malformed +
# drop_tx_error of A's and B's tunnels together, one read per side
topo_tunnel_drops() {
	local ns v sum=0
	for ns in "$NS_A" "$NS_B"; do
		while read -r v; do
			[[ $v =~ ^[0-9]+$ ]] && sum=$((sum + v))
		done < <(nctl "$ns" -j tunnel show $NTM_DEV --local-index "$(topo_idx "$ns")" 2>/dev/null |
			topo_json tunnel stats.drop_auth stats.drop_replay stats.drop_nomem \
				stats.drop_malformed stats.drop_tx_error)
	done
	echo "$sum"
}

# topo_dstat NS FIELD: one field of the device (e.g. stats.drop_no_tunnel)
topo_dstat() {
	local ns=$1 field=$2 dev=${3:-$NTM_DEV}
	nctl "$ns" -j device show "$dev" 2>/dev/null | topo_json get "$field"
}

topo_peer4() { [ "$1" = "$NS_A" ] && echo $VIP4_B || echo $VIP4_A; }
topo_peer6() { [ "$1" = "$NS_A" ] && echo $VIP6_B || echo $VIP6_A; }

# topo_ping NS FAMILY [ping args]: ping the peer's inner address
topo_ping() {
	local ns=$1 fam=$2 dst
	shift 2
	if [ "$fam" = 6 ]; then dst=$(topo_peer6 "$ns"); else dst=$(topo_peer4 "$ns"); fi
	in_ns "$ns" ping -"$fam" -n "$@" "$dst"
}

# topo_iperf_server NS: iperf3 server in NS (kept until teardown)
topo_iperf_server() {
	local ns=$1
	topo_bg "$ns" "$(topo_tmpdir)/iperf3-server-$ns.log" iperf3 -s
	topo_wait 10 sh -c "ip netns exec $ns ss -Hltn 'sport = :5201' | grep -q LISTEN"
}

# topo_iperf NS DST OUTFILE [iperf3 args]: run a client, JSON to OUTFILE
topo_iperf() {
	local ns=$1 dst=$2 out=$3
	shift 3
	in_ns "$ns" timeout 60 iperf3 -c "$dst" -J "$@" >"$out" 2>&1
}

# iperf_bytes FILE: bytes received by the server in an iperf3 -J report
iperf_bytes() {
	$PY - "$1" <<-'EOF'
	import json, sys
	try:
	    d = json.load(open(sys.argv[1]))
	    e = d.get("end", {})
	    s = e.get("sum_received") or e.get("sum") or {}
	    print(int(s.get("bytes", 0)))
	except Exception:
	    print(0)
	EOF
}

# topo_dmesg_mark: a marker in the kernel log, to tell this test's messages
topo_dmesg_mark() {
	echo "<6>ntm-selftest: $*" >/dev/kmsg 2>/dev/null || true
}

# topo_need_ntm: skip the rest of a test when ntm cannot run here
topo_need_ntm() {
	local why=""
	[ "$(id -u)" = 0 ] || why="not root"
	[ -z "$why" ] && [ ! -x "$NTMCTL" ] && why="no $NTMCTL"
	[ -z "$why" ] && [ ! -x "$NTMD" ] && why="no $NTMD"
	[ -z "$why" ] && ! modprobe -q ntm 2>/dev/null && why="modprobe ntm failed"
	if [ -n "$why" ]; then
		ktap_skip_rest "$why"
		ktap_finish
	fi
}

# topo_setup_or_bail: topo_init + ntmd on both sides, or abort the test
topo_setup_or_bail() {
	topo_init "${1:-bridge}" || ktap_bail "underlay setup failed"
	topo_ntm_up || ktap_bail "ntmd/ntm0 setup failed"
}

# pkt_start NS: an ntmpkt.py server in NS for the pkt function
pkt_start() {
	coproc PKTSRV { exec ip netns exec "$1" "$PY" -u "$TOPO_LIB_DIR/ntmpkt.py" serve 2>&1; }
	TOPO_PIDS="$PKTSRV_PID $TOPO_PIDS"
}

# pkt CMD ARGS...: one ntmpkt.py command through the server; prints its output
pkt() {
	local line
	[ -n "${PKTSRV_PID:-}" ] || { topo_log "pkt: no ntmpkt server"; return 1; }
	printf '%q ' "$@" >&"${PKTSRV[1]}"
	printf '\n' >&"${PKTSRV[1]}"
	if ! IFS= read -r -t 120 line <&"${PKTSRV[0]}"; then
		topo_log "pkt: no answer to: $*"
		return 1
	fi
	case $line in
	"ok "*) printf '%s\n' "${line#ok }" ;;
	ok) ;;
	*) topo_log "pkt $1: $line"; return 1 ;;
	esac
}

# topo_py_start NS: a long-lived interpreter in NS (lib/pyserve.py) that
# topo_py then uses: each python3 started in the guest costs 0.4-1 s under
# TCG before the helper runs (Documentation/testing.rst, "Where the guest's
# time goes").  Call it from the test's own shell, not from $(...), after
# topo_init; the server ends with the test (topo_cleanup).
declare -gA TOPO_PY_W=() TOPO_PY_R=()
topo_py_start() {
	local ns=$1 d w r
	topo_tmpdir >/dev/null
	d=$TOPO_TMP/pyserve.$ns
	rm -f "$d.in" "$d.out"
	mkfifo "$d.in" "$d.out" || return 1
	ip netns exec "$ns" "$PY" -u "$TOPO_LIB_DIR/pyserve.py" <"$d.in" >"$d.out" 2>"$d.log" &
	TOPO_PIDS="$! $TOPO_PIDS"
	exec {w}>"$d.in" {r}<"$d.out"
	TOPO_PY_W[$ns]=$w
	TOPO_PY_R[$ns]=$r
}

# topo_py NS SCRIPT ARGS...: python3 SCRIPT ARGS in NS, with the script's
# stdout, stderr and exit status; through NS's pyserve when topo_py_start
# ran for NS, otherwise in a new interpreter.  Only for helpers that end
# quickly and read no stdin; arguments without newlines.  Callers may run
# at once (subshells, background jobs): one request at a time, by a lock.
topo_py() {
	local ns=$1 w r line req rc=
	shift
	w=${TOPO_PY_W[$ns]:-}
	r=${TOPO_PY_R[$ns]:-}
	if [ -z "$w" ]; then
		ip netns exec "$ns" "$PY" "$@"
		return
	fi
	local IFS=$'\x1f'
	req="$*"
	IFS=$' \t\n'
	{
		flock 9
		printf '%s\n' "$req" >&"$w"
		while IFS= read -r -t 300 line <&"$r"; do
			case $line in
			"O "*) printf '%s\n' "${line:2}" ;;
			"E "*) printf '%s\n' "${line:2}" >&2 ;;
			"R "*) rc=${line:2}; break ;;
			esac
		done
	} 9>"$TOPO_TMP/pyserve.$ns.lock"
	if [ -z "$rc" ]; then
		topo_log "topo_py $ns: no answer from pyserve to: $*"
		return 1
	fi
	return "$rc"
}

# topo_genl NS ARGS...: lib/ntm_genl.py ARGS in NS (through topo_py)
topo_genl() {
	local ns=$1
	shift
	topo_py "$ns" "$TOPO_LIB_DIR/ntm_genl.py" "$@"
}

# topo_capture_start NS IFACE FILE FILTER: tcpdump into FILE; sets CAP_PID
topo_capture_start() {
	local ns=$1 ifn=$2 file=$3 filter=$4
	topo_bg "$ns" "$file.log" tcpdump -n -U -s 0 -i "$ifn" -w "$file" "$filter"
	CAP_PID=$TOPO_LAST_PID
	topo_wait 20 grep -q "listening on" "$file.log"
}

topo_capture_stop() {
	sleep 0.5
	topo_kill "$CAP_PID" INT
}

# counter arithmetic on possibly empty values
num() { local v=${1:-0}; [[ $v =~ ^-?[0-9]+$ ]] && echo "$v" || echo 0; }

# ---- relay server (ntm_relay.sh) ----------------------------------------------
# A third host on the underlay bridge, the Relay Server:
#   RS  vR  192.0.2.10/24  2001:db8::10/64
NS_RS=ntmRS$TOPO_ID
UL4_RS=192.0.2.10
UL6_RS=2001:db8::10

# topo_rs_init: namespace RS on the bridge of topo_init (bridge mode)
topo_rs_init() {
	[ "$TOPO_UNDERLAY" = bridge ] || { topo_log "the relay needs the bridge underlay"; return 1; }
	topo_ns_add "$NS_RS" || return 1
	topo_switch_port "$NS_RS" vR sRS || return 1
	in_ns "$NS_RS" ip addr add $UL4_RS/24 dev vR
	in_ns "$NS_RS" ip addr add $UL6_RS/64 dev vR nodad
	in_ns "$NS_RS" ip link set vR up
	topo_wait 10 A ping -c1 -W1 $UL4_RS || { topo_log "underlay IPv4 A->RS does not work"; return 1; }
	topo_wait 10 B ping -6 -c1 -W1 $UL6_RS || { topo_log "underlay IPv6 B->RS does not work"; return 1; }
	return 0
}

# topo_relay_tunnel_line NS CIPHER KEY RS_EP: the "tunnel add" of A's or B's
# side of a tunnel whose endpoint is the relay (RS_EP like 192.0.2.10:51820).
# On ntmctl's command line KEY must be "-" with the key on stdin.
topo_relay_tunnel_line() {
	local ns=$1 cipher=$2 key=$3 ep=$4
	if [ "$ns" = "$NS_A" ]; then
		echo "tunnel add $NTM_DEV --local-index $IDX_A --remote-index $IDX_B" \
			"--endpoint $ep --vip4 $VIP4_B --vip6 $VIP6_B" \
			"--cipher $cipher --key $key --tx-salt $TUN_SALT_AB --rx-salt $TUN_SALT_BA"
	else
		echo "tunnel add $NTM_DEV --local-index $IDX_B --remote-index $IDX_A" \
			"--endpoint $ep --vip4 $VIP4_A --vip6 $VIP6_A" \
			"--cipher $cipher --key $key --tx-salt $TUN_SALT_BA --rx-salt $TUN_SALT_AB"
	fi
}
