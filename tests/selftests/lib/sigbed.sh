# SPDX-License-Identifier: GPL-2.0
# sigbed.sh - the NTMobile signalling testbed: network namespaces with an
# Account Server, a Direction Coordinator, a DNS server (knot), a public node
# and a node behind a NAT router.  Sourced by tests/selftests/ntm_signalling.sh
# and scripts/demo.sh; runs as root inside the VM (scripts/vm), where
# everything written at run time goes under $TMPDIR (a tmpfs).
#
#   public network 192.0.2.0/24 (bridge br0 in namespace $SB_NS_SW)
#     AS   192.0.2.10   as.infra.test   ntmd roles=[as], TLS 7481
#     DC   192.0.2.20   dc.infra.test   ntmd roles=[dc], UDP 7480, TLS 7482
#     DNS  192.0.2.53   ns.infra.test   knotd, authoritative for "test."
#     A    192.0.2.1    a.ntm.test      ntmd roles=[node]
#     C    192.0.2.3    c.ntm.test      (sigbed_add_public c 192.0.2.3)
#     R    192.0.2.254  NAT router, public side
#   private network 10.0.0.0/24 behind R (masquerade)
#     R    10.0.0.1
#     B    10.0.0.2     b.ntm.test      default route via R
#
# The zone "test." holds the infrastructure names, www.example.test
# (192.0.2.80, for the forwarding check) and the delegation
# "ntm.test. NS dc.infra.test.": that NS record is how nodes and the AS find
# the DC of the node domain ntm.test.  Names inside ntm.test are answered by
# each node's own DNS hook (127.0.0.77:53 in the node's namespace).
#
# Use:
#	. tests/selftests/lib/sigbed.sh
#	sigbed_missing && exit          # prints why the testbed cannot run
#	sigbed_setup || fail            # namespaces, NAT, DNS, PKI
#	sigbed_write_as_conf; sigbed_write_dc_conf
#	sigbed_start as; sigbed_start dc
#	sigbed_password a 'secret-a'; sigbed_account_add a@ntm.test a.ntm.test "$(sigbed_pwfile a)"
#	sigbed_write_node_conf a a@ntm.test "$(sigbed_pwfile a)"; sigbed_start a
#	sigbed_getent a ahostsv4 b.ntm.test
#	sigbed_teardown                 # trap-safe, idempotent
#
# Instances (as, dc, a, b, c, ...) each have a namespace, a configuration
# $SB_DIR/NAME.toml, a state directory $SB_DIR/NAME/ with the control socket,
# and a log $SB_DIR/NAME.log.  With ktap.sh sourced first, teardown is hooked
# to ktap's exit trap; otherwise call sigbed_trap (or sigbed_teardown).

# Names and addresses below are for the users of this library.
# shellcheck disable=SC2034
SB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NTM_REPO=${NTM_REPO:-$(cd "$SB_LIB_DIR/../../.." && pwd)}
NTM_BIN=${NTM_BIN:-$NTM_REPO/build/ctld}
NTMCTL=${NTMCTL:-$NTM_BIN/ntmctl}
NTMD=${NTMD:-$NTM_BIN/ntmd}
PY=${NTM_PYTHON:-/usr/bin/python3}
NTMSIG="$PY $SB_LIB_DIR/ntmsig.py"

# shellcheck disable=SC2034
SB_ID=${SB_ID:-$$}
SB_NS_SW=sbS$SB_ID
SB_DOMAIN=ntm.test
SB_NET4=192.0.2
SB_AS4=192.0.2.10
SB_DC4=192.0.2.20
SB_DNS4=192.0.2.53
SB_A4=192.0.2.1
SB_C4=192.0.2.3
SB_R4=192.0.2.254
SB_LAN_R4=10.0.0.1
SB_B4=10.0.0.2
SB_WWW4=192.0.2.80
SB_POOL4=10.77.0.0/16
SB_POOL6=fd00:77::/64
SB_PORT=7480
SB_AS_PORT=7481
SB_DC_TLS_PORT=7482
SB_DNS_HOOK=127.0.0.77
SB_KEEPALIVE=${SB_KEEPALIVE:-5}
SB_LOG_LEVEL=${SB_LOG_LEVEL:-debug}
# How configuration files name a DNS server (an endpoint with its port).
SB_DNS_EP=${SB_DNS_EP:-$SB_DNS4:53}
SB_DEV=ntm0
# Readiness timeouts (s): everything is slow under software emulation.
SB_START_TIMEOUT=${SB_START_TIMEOUT:-60}

declare -gA SB_NS=() SB_PID=() SB_ADDR=()
SB_DIR=""
SB_NAMESPACES=""
SB_BGPIDS=""
SB_KNOT_PID=""

sigbed_log() {
	if declare -F ktap_diag >/dev/null; then
		ktap_diag "$*"
	else
		printf 'sigbed: %s\n' "$*" >&2
	fi
}

# sigbed_logtail FILE [N]: the tail of a log, as diagnostics
sigbed_logtail() {
	local f=$1 n=${2:-30}
	[ -s "$f" ] || { sigbed_log "($f is empty or missing)"; return 0; }
	if declare -F ktap_diag_file >/dev/null; then
		ktap_diag_file "$f" "$n"
	else
		printf -- '--- %s (last %s lines) ---\n' "$(basename "$f")" "$n" >&2
		tail -n "$n" "$f" >&2
	fi
}

# sigbed_wait TIMEOUT_S CMD...: poll CMD every 0.5 s until it succeeds
sigbed_wait() {
	local t=$1 end
	shift
	end=$((EPOCHSECONDS + t))
	while ! "$@" >/dev/null 2>&1; do
		[ "$EPOCHSECONDS" -ge "$end" ] && return 1
		sleep 0.5
	done
	return 0
}

# sigbed_in NAME CMD...: run CMD in instance NAME's namespace
sigbed_in() {
	local n=$1
	shift
	[ -n "${SB_NS[$n]:-}" ] || { sigbed_log "no namespace for '$n'"; return 1; }
	ip netns exec "${SB_NS[$n]}" "$@"
}

sigbed_conf() { echo "$SB_DIR/$1.toml"; }
sigbed_logfile() { echo "$SB_DIR/$1.log"; }
sigbed_pwfile() { echo "$SB_DIR/$1.pw"; }
sigbed_sock() { echo "$SB_DIR/$1/ntmd.sock"; }

# sigbed_ctl NAME ARGS...: ntmctl --config NAME.toml ARGS in NAME's namespace
sigbed_ctl() {
	local n=$1
	shift
	sigbed_in "$n" "$NTMCTL" --config "$(sigbed_conf "$n")" "$@"
}

# sigbed_status NAME: ntmd's status JSON (control socket)
sigbed_status() {
	sigbed_ctl "$1" status -j --socket "$(sigbed_sock "$1")"
}

# sigbed_jq NAME FILTER: a jq filter over NAME's status (raw output)
sigbed_jq() {
	sigbed_status "$1" 2>/dev/null | jq -r "$2" 2>/dev/null
}

# sigbed_missing: print why the testbed cannot run here (nothing: it can)
sigbed_missing() {
	local c
	[ "$(id -u)" = 0 ] || { echo "not root"; return 0; }
	for c in ip nft knotd knotc kdig openssl jq getent unshare tcpdump socat; do
		command -v "$c" >/dev/null 2>&1 || { echo "$c not installed (scripts/install-deps.sh)"; return 0; }
	done
	"$PY" -c 'import cryptography' 2>/dev/null ||
		{ echo "python3-cryptography not installed"; return 0; }
	[ -x "$NTMD" ] || { echo "no $NTMD (make ctld)"; return 0; }
	[ -x "$NTMCTL" ] || { echo "no $NTMCTL (make ctld)"; return 0; }
	modprobe -q ntm 2>/dev/null || { echo "modprobe ntm failed (make kmod; run inside scripts/vm)"; return 0; }
	return 1
}

# sigbed_ntmsig NAME ARGS...: lib/ntmsig.py in NAME's namespace
sigbed_ntmsig() {
	local n=$1
	shift
	sigbed_in "$n" "$PY" "$SB_LIB_DIR/ntmsig.py" "$@"
}

sigbed_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# --- namespaces ---------------------------------------------------------------

sigbed__ns_add() {
	local ns=$1
	ip netns add "$ns" || return 1
	SB_NAMESPACES="$ns $SB_NAMESPACES"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 2>/dev/null
	return 0
}

# sigbed_add_public NAME ADDR: a host on the public bridge (interface pub0)
sigbed_add_public() {
	local n=$1 addr=$2 ns=sb${1^}$SB_ID
	[ -z "${SB_NS[$n]:-}" ] || return 0
	sigbed__ns_add "$ns" || return 1
	SB_NS[$n]=$ns
	# shellcheck disable=SC2034
	SB_ADDR[$n]=$addr
	ip link add pub0 netns "$ns" type veth peer name "p$n" netns "$SB_NS_SW" || return 1
	ip netns exec "$SB_NS_SW" ip link set "p$n" master br0 up || return 1
	ip netns exec "$ns" ip addr add "$addr/24" dev pub0 || return 1
	# SB_PUB6=2001:db8 (a /64 without "::"): dual-stack, also SB_PUB6::OCTET
	if [ -n "${SB_PUB6:-}" ]; then
		ip netns exec "$ns" ip -6 addr add "$SB_PUB6::${addr##*.}/64" dev pub0 nodad || return 1
	fi
	ip netns exec "$ns" ip link set pub0 up
}

# sigbed_add_private NAME ADDR: a host on R's private network (interface
# lan0, port of R's bridge lanbr), default route via R
sigbed_add_private() {
	local n=$1 addr=$2 ns=sb${1^}$SB_ID
	[ -z "${SB_NS[$n]:-}" ] || return 0
	sigbed__ns_add "$ns" || return 1
	SB_NS[$n]=$ns
	SB_ADDR[$n]=$addr
	ip link add lan0 netns "$ns" type veth peer name "l$n" netns "${SB_NS[r]}" || return 1
	sigbed_in r ip link set "l$n" master lanbr up || return 1
	ip netns exec "$ns" ip addr add "$addr/24" dev lan0 || return 1
	ip netns exec "$ns" ip link set lan0 up
	ip netns exec "$ns" ip route add default via $SB_LAN_R4
}

sigbed__nat() {
	sigbed_add_public r $SB_R4 || return 1
	sigbed_in r ip link add lanbr type bridge mcast_snooping 0 || return 1
	sigbed_in r ip addr add $SB_LAN_R4/24 dev lanbr
	sigbed_in r ip link set lanbr up
	sigbed_in r sysctl -qw net.ipv4.ip_forward=1
	sigbed_in r nft -f - <<-'EOF' || return 1
	table ip sigbed_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "pub0" ip saddr 10.0.0.0/24 masquerade
		}
	}
	EOF
}

# --- DNS: knot, authoritative for "test." ---------------------------------------

sigbed__knot() {
	local k=$SB_DIR/knot
	mkdir -p "$k/run" "$k/db" "$k/zones"
	cat >"$k/knot.conf" <<-EOF
	# knotd configuration of the sigbed DNS server (generated)
	server:
	    rundir: "$k/run"
	    pidfile: "$k/run/knot.pid"
	    listen: [ $SB_DNS4@53${SB_PUB6:+, $SB_PUB6::53@53} ]
	log:
	  - target: stderr
	    any: info
	database:
	    storage: "$k/db"
	control:
	    listen: "$k/run/knot.sock"
	template:
	  - id: default
	    storage: "$k/zones"
	    file: "%s.zone"
	    zonefile-sync: -1
	    journal-content: none
	zone:
	  - domain: test.
	EOF
	cat >"$k/zones/test.zone" <<-EOF
	\$ORIGIN test.
	\$TTL 30
	@            SOA   ns.infra.test. hostmaster.infra.test. 1 3600 600 86400 30
	@            NS    ns.infra.test.
	ns.infra     A     $SB_DNS4
	as.infra     A     $SB_AS4
	dc.infra     A     $SB_DC4
	; the node domain ntm.test is the DC's: this delegation names it
	ntm          NS    dc.infra.test.
	www.example  A     $SB_WWW4
	EOF
	sigbed_in dns knotd -c "$k/knot.conf" >"$SB_DIR/knot.log" 2>&1 &
	SB_KNOT_PID=$!
	SB_BGPIDS="$SB_KNOT_PID $SB_BGPIDS"
	if ! sigbed_wait 30 sigbed_in a kdig +time=1 +retry=0 @$SB_DNS4 SOA test. +short; then
		sigbed_log "knotd does not answer on $SB_DNS4"
		sigbed_logtail "$SB_DIR/knot.log"
		return 1
	fi
}

# sigbed_dns_check: the delegation of ntm.test is served (a referral to
# dc.infra.test for any name under it)
sigbed_dns_check() {
	local out
	out=$(sigbed_in a kdig +time=2 @$SB_DNS4 NS b.$SB_DOMAIN 2>&1)
	printf '%s\n' "$out" | grep -Eq "^$SB_DOMAIN\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+NS[[:space:]]+dc\.infra\.test\." ||
		{ printf '%s\n' "$out"; return 1; }
	out=$(sigbed_in a kdig +time=2 +short @$SB_DNS4 A dc.infra.test 2>&1)
	[ "$out" = "$SB_DC4" ] || { echo "dc.infra.test: $out"; return 1; }
	out=$(sigbed_in a kdig +time=2 +short @$SB_DNS4 A www.example.test 2>&1)
	[ "$out" = "$SB_WWW4" ] || { echo "www.example.test: $out"; return 1; }
}

# --- PKI: a throw-away CA and ECDSA P-256 certificates ----------------------------

# sigbed_cert NAME DNSNAME EKU: $SB_DIR/pki/NAME.{key,pem}
sigbed_cert() {
	local n=$1 dns=$2 eku=$3 p=$SB_DIR/pki
	(
		umask 077
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/$n.key" 2>/dev/null &&
			openssl req -new -key "$p/$n.key" -subj "/CN=$dns" -out "$p/$n.csr" 2>/dev/null
	) || return 1
	printf '%s\n' "basicConstraints = critical, CA:FALSE" \
		"keyUsage = critical, digitalSignature" \
		"extendedKeyUsage = $eku" \
		"subjectAltName = DNS:$dns" \
		"subjectKeyIdentifier = hash" \
		"authorityKeyIdentifier = keyid" >"$p/$n.ext"
	openssl x509 -req -in "$p/$n.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" -set_serial "0x$(sigbed_hex 8)" \
		-days 7 -sha256 -extfile "$p/$n.ext" -out "$p/$n.pem" 2>/dev/null || return 1
	rm -f "$p/$n.csr" "$p/$n.ext"
}

sigbed__pki() {
	local p=$SB_DIR/pki
	mkdir -p "$p"
	(
		umask 077
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/ca.key" 2>/dev/null &&
			openssl req -x509 -new -key "$p/ca.key" -sha256 -days 7 -subj "/CN=ntm sigbed test CA" \
				-addext "basicConstraints = critical, CA:TRUE" \
				-addext "keyUsage = critical, keyCertSign, cRLSign" -out "$p/ca.pem" 2>/dev/null
	) || { sigbed_log "cannot make the CA"; return 1; }
	# The AS is also a TLS client (of the DC); the DC serves both the AS and,
	# in later versions, other DCs.
	sigbed_cert as as.infra.test serverAuth,clientAuth || return 1
	sigbed_cert dc dc.infra.test serverAuth,clientAuth || return 1
	# Certificate-mode login of node C: the AS binds the certificate to the
	# account whose FQDN is the subjectAltName.
	sigbed_cert c c.$SB_DOMAIN clientAuth || return 1
}

# sigbed_pki_check: every certificate verifies against the CA for its use
sigbed_pki_check() {
	local p=$SB_DIR/pki rc=0 f
	openssl verify -CAfile "$p/ca.pem" -purpose sslserver "$p/as.pem" "$p/dc.pem" || rc=1
	openssl verify -CAfile "$p/ca.pem" -purpose sslclient "$p/as.pem" "$p/dc.pem" "$p/c.pem" || rc=1
	openssl x509 -in "$p/c.pem" -noout -ext subjectAltName | grep -q "DNS:c.$SB_DOMAIN" || rc=1
	for f in "$p"/*.key; do
		[ "$(stat -c %a "$f")" = 600 ] || { echo "$f is not mode 0600"; rc=1; }
	done
	return $rc
}

# --- setup and teardown -----------------------------------------------------------

# sigbed_setup: namespaces, bridge, NAT router, private node B, knot, PKI
sigbed_setup() {
	[ -z "$SB_DIR" ] || return 0
	SB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sigbed.XXXXXX") || return 1
	chmod 0755 "$SB_DIR"
	if declare -F ktap_at_cleanup >/dev/null; then
		ktap_at_cleanup sigbed_teardown
	fi
	sigbed__ns_add "$SB_NS_SW" || return 1
	ip netns exec "$SB_NS_SW" ip link add br0 type bridge mcast_snooping 0 || return 1
	ip netns exec "$SB_NS_SW" ip link set br0 up
	sigbed_add_public as $SB_AS4 || return 1
	sigbed_add_public dc $SB_DC4 || return 1
	sigbed_add_public dns $SB_DNS4 || return 1
	sigbed_add_public a $SB_A4 || return 1
	sigbed__nat || { sigbed_log "NAT router setup failed"; return 1; }
	sigbed_add_private b $SB_B4 || return 1
	sigbed_wait 15 sigbed_in a ping -c1 -W1 $SB_DC4 || { sigbed_log "A cannot reach the DC"; return 1; }
	sigbed_wait 15 sigbed_in b ping -c1 -W1 $SB_A4 || { sigbed_log "B cannot reach A through R"; return 1; }
	sigbed__knot || return 1
	sigbed__pki || return 1
	return 0
}

# sigbed_nat_check: B's traffic reaches the public network as 192.0.2.254
sigbed_nat_check() {
	local f=$SB_DIR/natcheck.txt pid
	sigbed_in a tcpdump -n -l -i pub0 -c 1 "icmp and icmp[icmptype] = icmp-echo" >"$f" 2>"$f.err" &
	pid=$!
	# tcpdump must be listening (slow to start under emulation)
	sigbed_wait 30 grep -q "listening on" "$f.err"
	sigbed_in b ping -c 3 -i 0.5 -W 1 $SB_A4 >/dev/null 2>&1
	sigbed_wait 10 sh -c "! kill -0 $pid 2>/dev/null"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	cat "$f"
	grep -q "$SB_R4 > $SB_A4" "$f"
}

# sigbed_stop NAME [TIMEOUT]: SIGTERM, wait for the exit; returns ntmd's
# exit status (KILL after TIMEOUT, then 137)
sigbed_stop() {
	local n=$1 t=${2:-30} pid rc end
	pid=${SB_PID[$n]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	end=$((EPOCHSECONDS + t))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$EPOCHSECONDS" -ge "$end" ]; then
			sigbed_log "ntmd $n (pid $pid) ignores SIGTERM for $t s: KILL"
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.2
	done
	wait "$pid" 2>/dev/null
	rc=$?
	SB_PID[$n]=""
	return $rc
}

sigbed_teardown() {
	local n pid ns p
	for n in "${!SB_PID[@]}"; do
		[ -n "${SB_PID[$n]}" ] && sigbed_stop "$n" 10
	done
	for pid in $SB_BGPIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $SB_BGPIDS; do
		wait "$pid" 2>/dev/null
	done
	SB_BGPIDS=""
	for ns in $SB_NAMESPACES; do
		# Anything still running inside was started here.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	SB_NAMESPACES=""
	SB_NS=()
	# NTM_SIGBED_SAVE=DIR (say, a scripts/vm --rw share): keep the evidence
	if [ -n "$SB_DIR" ] && [ -n "${NTM_SIGBED_SAVE:-}" ]; then
		mkdir -p "$NTM_SIGBED_SAVE" &&
			(cd "$SB_DIR" && cp -- *.log *.toml *.pcap knot/knot.conf knot/zones/test.zone "$NTM_SIGBED_SAVE/" 2>/dev/null)
		sigbed_log "logs and configuration saved in $NTM_SIGBED_SAVE"
	fi
	if [ -n "$SB_DIR" ] && [ -z "${NTM_KEEP_TMP:-}" ]; then
		rm -rf "$SB_DIR"
	elif [ -n "$SB_DIR" ]; then
		sigbed_log "kept $SB_DIR"
	fi
	SB_DIR=""
	return 0
}

# Standalone users (the demo): tear down on exit.
sigbed_trap() {
	trap 'sigbed_teardown' EXIT
	trap 'exit 130' INT TERM HUP
}

# --- configuration files ------------------------------------------------------------

sigbed__common_conf() { # NAME ROLE
	mkdir -p "$SB_DIR/$1"
	chmod 0700 "$SB_DIR/$1"
	cat <<-EOF
	# $1 of the sigbed testbed (generated by tests/selftests/lib/sigbed.sh)
	roles = ["$2"]
	log_level = "$SB_LOG_LEVEL"
	state_dir = "$SB_DIR/$1"
	control_socket = "$(sigbed_sock "$1")"
	dns_servers = ["$SB_DNS_EP"]
	EOF
}

# sigbed_write_as_conf [EXTRA_TOML]: $SB_DIR/as.toml
sigbed_write_as_conf() {
	{
		sigbed__common_conf as as
		cat <<-EOF

		[tls]
		ca = "$SB_DIR/pki/ca.pem"
		certificate = "$SB_DIR/pki/as.pem"
		private_key = "$SB_DIR/pki/as.key"

		[as]
		listen = ["$SB_AS4:$SB_AS_PORT"]
		database = "$SB_DIR/as/accounts.db"
		dc_port = $SB_DC_TLS_PORT
		EOF
		[ -n "${SB_KEY_LIFETIME:-}" ] && echo "key_lifetime = $SB_KEY_LIFETIME"
		cat <<-EOF

		[as.kdf]
		n_log2 = 10
		r = 8
		p = 1
		EOF
		[ -n "${1:-}" ] && printf '\n%s\n' "$1"
	} >"$(sigbed_conf as)"
}

# sigbed_write_dc_conf [EXTRA_TOML]: $SB_DIR/dc.toml
sigbed_write_dc_conf() {
	{
		sigbed__common_conf dc dc
		cat <<-EOF

		[tls]
		ca = "$SB_DIR/pki/ca.pem"
		certificate = "$SB_DIR/pki/dc.pem"
		private_key = "$SB_DIR/pki/dc.key"

		[dc]
		domain = "$SB_DOMAIN"
		port = $SB_PORT
		listen_tls = ["$SB_DC4:$SB_DC_TLS_PORT"]
		database = "$SB_DIR/dc/registry.db"
		pool4 = "$SB_POOL4"
		pool6 = "$SB_POOL6"
		keepalive_interval = $SB_KEEPALIVE
		registration_lifetime = 3600
		trusted_as = ["as.infra.test"]
		EOF
		[ -n "${1:-}" ] && printf '\n%s\n' "$1"
	} >"$(sigbed_conf dc)"
}

# sigbed_write_node_conf NAME ACCOUNT PASSWORDFILE [password|certificate]:
# $SB_DIR/NAME.toml.  In certificate mode ACCOUNT and PASSWORDFILE may be
# empty; the certificate is $SB_DIR/pki/NAME.pem (sigbed_cert).
sigbed_write_node_conf() {
	local n=$1 account=$2 pw=$3 auth=${4:-password}
	{
		sigbed__common_conf "$n" node
		echo
		echo "[tls]"
		echo "ca = \"$SB_DIR/pki/ca.pem\""
		if [ "$auth" = certificate ]; then
			echo "certificate = \"$SB_DIR/pki/$n.pem\""
			echo "private_key = \"$SB_DIR/pki/$n.key\""
		fi
		cat <<-EOF

		[node]
		interface = "$SB_DEV"
		port = $SB_PORT
		as = "as.infra.test:$SB_AS_PORT"
		auth = "$auth"
		EOF
		if [ "$auth" = password ]; then
			echo "account = \"$account\""
			echo "password_file = \"$pw\""
		fi
		cat <<-EOF
		dns_listen = ["$SB_DNS_HOOK:53"]
		dns_upstream = ["$SB_DNS_EP"]
		resolved = "${SB_RESOLVED:-no}"
		EOF
		[ -n "${SB_NTM_DOMAINS:-}" ] && echo "ntm_domains = [$SB_NTM_DOMAINS]"
		[ -n "${5:-}" ] && printf '\n%s\n' "$5"
	} >"$(sigbed_conf "$n")"
	# What applications in the node's namespace use as resolv.conf.
	printf 'nameserver %s\noptions timeout:10 attempts:2\n' $SB_DNS_HOOK >"$SB_DIR/$n.resolv.conf"
}

# sigbed_password NAME PASSWORD: $SB_DIR/NAME.pw, mode 0600
sigbed_password() {
	(umask 077 && printf '%s\n' "$2" >"$(sigbed_pwfile "$1")")
}

# sigbed_account_add ACCOUNT FQDN PASSWORDFILE|--certificate: an account in
# the AS's database, for password or certificate login
sigbed_account_add() {
	if [ "$3" = --certificate ]; then
		sigbed_ctl as account add "$1" --fqdn "$2" --certificate
	else
		sigbed_ctl as account add "$1" --fqdn "$2" --password-file "$3" --kdf-cost 10
	fi
}

# --- daemons ---------------------------------------------------------------------------

# sigbed_start_bg NAME [ntmd args]: start ntmd for NAME, do not wait
sigbed_start_bg() {
	local n=$1
	shift
	[ -z "${SB_PID[$n]:-}" ] || { sigbed_log "ntmd $n already runs"; return 1; }
	echo "=== $(date +%T) ntmd --config $(sigbed_conf "$n") --log-level $SB_LOG_LEVEL $*" >>"$(sigbed_logfile "$n")"
	[ -n "${SB_NS[$n]:-}" ] || { sigbed_log "no namespace for '$n'"; return 1; }
	# not through the sigbed_in function: $! must be ntmd itself (ip netns
	# exec execs it), or SIGTERM would reach a subshell instead of ntmd
	ip netns exec "${SB_NS[$n]}" "$NTMD" --config "$(sigbed_conf "$n")" --log-level "$SB_LOG_LEVEL" "$@" \
		>>"$(sigbed_logfile "$n")" 2>&1 &
	SB_PID[$n]=$!
}

sigbed_running() { [ -n "${SB_PID[$1]:-}" ] && kill -0 "${SB_PID[$1]}" 2>/dev/null; }

# sigbed_ready NAME: the control socket answers (and a node is registered)
sigbed_ready() {
	local n=$1 out
	out=$(sigbed_status "$n" 2>/dev/null) || return 1
	# one jq per poll: every process costs tens of ms in the emulated guest
	[ "$(printf '%s' "$out" |
		jq -r 'if (.roles | index("node")) then .node.registered else .ok end' 2>/dev/null)" = true ]
}

# sigbed_wait_ready NAME [TIMEOUT]: until ready; fails at once when ntmd exits
sigbed_wait_ready() {
	local n=$1 t=${2:-$SB_START_TIMEOUT} end
	end=$((EPOCHSECONDS + t))
	while ! sigbed_ready "$n"; do
		if ! sigbed_running "$n"; then
			wait "${SB_PID[$n]}" 2>/dev/null
			sigbed_log "ntmd $n exited with status $? before it was ready"
			SB_PID[$n]=""
			sigbed_logtail "$(sigbed_logfile "$n")"
			return 1
		fi
		if [ "$EPOCHSECONDS" -ge "$end" ]; then
			sigbed_log "ntmd $n not ready after $t s"
			sigbed_logtail "$(sigbed_logfile "$n")"
			sigbed_status "$n" 2>&1 | head -c 2000 | while IFS= read -r l; do sigbed_log "status: $l"; done
			return 1
		fi
		sleep 0.5
	done
}

# sigbed_start NAME [ntmd args]: start ntmd and wait until it is ready
sigbed_start() {
	sigbed_start_bg "$@" || return 1
	sigbed_wait_ready "$1"
}

# sigbed_wait_exit NAME TIMEOUT: wait until ntmd exits by itself; returns its
# exit status, 124 when it still runs after TIMEOUT (it is then stopped)
sigbed_wait_exit() {
	local n=$1 t=$2 end pid=${SB_PID[$1]:-}
	[ -n "$pid" ] || return 0
	end=$((EPOCHSECONDS + t))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$EPOCHSECONDS" -ge "$end" ]; then
			sigbed_stop "$n" 10
			return 124
		fi
		sleep 0.5
	done
	SB_PID[$n]=""
	wait "$pid" 2>/dev/null
}

# --- what applications see -----------------------------------------------------------

# sigbed_resolv_run NAME CMD...: CMD in NAME's namespace with /etc/resolv.conf
# pointing at the node's DNS hook (a private mount namespace: the root file
# system of the VM is read-only, and other namespaces keep theirs)
sigbed_resolv_run() {
	local n=$1
	shift
	# shellcheck disable=SC2016
	sigbed_in "$n" unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
		"$SB_DIR/$n.resolv.conf" "$@"
}

# sigbed_getent NAME DB KEY: getent DB KEY (ahostsv4, ahostsv6, hosts) as an
# application in NAME's namespace does it; prints the first address
sigbed_getent() {
	local out
	out=$(sigbed_resolv_run "$1" timeout 60 getent "$2" "$3") || return 1
	printf '%s\n' "$out" | awk 'NR == 1 { print $1 }'
}

# sigbed_node NAME JQ: a field of NAME's node status ("" when missing)
# (false stays "false": jq's // would drop it)
sigbed_node() { sigbed_jq "$1" ".node.$2 | if . == null then empty else . end"; }

# sigbed_dc_node FQDN JQ: a field of the DC's record of FQDN (dc nodes -j)
sigbed_dc_node() {
	sigbed_ctl dc dc nodes -j 2>/dev/null |
		jq -r --arg f "$1" "(if type == \"array\" then . else (.nodes // []) end) | .[] | select(.fqdn == \$f) | .$2 | if . == null then empty else . end" 2>/dev/null
}

# sigbed_dc_drop NAME: a drop counter of the DC (0 when missing)
sigbed_dc_drop() {
	local v
	v=$(sigbed_jq dc ".dc.drops.$1 // 0")
	[[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

# sigbed_tunnels NAME: the kernel tunnels of NAME's ntm device, one JSON
# object per line
sigbed_tunnels() {
	sigbed_in "$1" "$NTMCTL" -j tunnel show $SB_DEV 2>/dev/null |
		jq -c '.. | objects | select(has("local_index"))' 2>/dev/null
}

# sigbed_tunnel_to NAME VIP4: NAME has a kernel tunnel whose peer is VIP4
sigbed_tunnel_to() {
	# (not jq -e: jq 1.6 exits 0 on empty input)
	sigbed_tunnels "$1" | jq -c --arg v "$2" 'select(.vip4 == $v)' 2>/dev/null | grep -q .
}

# sigbed_in_pool ADDR PREFIX: ADDR lies in PREFIX
sigbed_in_pool() {
	"$PY" -c 'import ipaddress, sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' \
		"$1" "$2" 2>/dev/null
}
