# SPDX-License-Identifier: GPL-2.0
# ikebed.sh - IKEv2 interop testbed: ntmd + ntm.ko in namespace L behind an
# nftables NAT router N, strongSwan's charon in namespace S.  Source it from
# bash after ktap.sh.  Every address lives in namespaces made here:
#
#   L  l0 10.0.1.2/24 (10.0.1.3 for MOBIKE)  -- N n0 10.0.1.1/24
#   N  n1 10.0.2.1/24 (masquerade; UDP 500/4500 forwarded to L) -- S s0 10.0.2.2/24
#   inner: L 10.1.0.1/32 on ipsec0 (10.1.0.0/24), S 10.2.0.1/32 on dummy (10.2.0.0/24)
#
# charon runs in its own mount namespace with a private /run; its
# configuration, vici socket and log live in $IB_DIR.

IB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NTM_REPO=${NTM_REPO:-$(cd "$IB_LIB_DIR/../../.." && pwd)}
NTM_BIN=${NTM_BIN:-$NTM_REPO/build/ctld}
NTMCTL=${NTMCTL:-$NTM_BIN/ntmctl}
NTMD=${NTMD:-$NTM_BIN/ntmd}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
SWANCTL=${SWANCTL:-swanctl}

IB_ID=${IB_ID:-$$}
NS_L=ikeL$IB_ID
NS_N=ikeN$IB_ID
NS_S=ikeS$IB_ID
IB_L=10.0.1.2
IB_L2=10.0.1.3
IB_NL=10.0.1.1
IB_NS=10.0.2.1
IB_S=10.0.2.2
IB_IN_L=10.1.0.1
IB_IN_S=10.2.0.1
IB_DIR=""
IB_CHARON_PID=""
IB_NTMD_PID=""
IB_PSK="ntm-interop-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"

L() { ip netns exec "$NS_L" "$@"; }
N() { ip netns exec "$NS_N" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }

ib_log() { ktap_diag "$*"; }

# ib_wait TIMEOUT_S CMD...: poll CMD every 0.5 s until it succeeds
ib_wait() {
	local end=$((EPOCHSECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$EPOCHSECONDS" -ge "$end" ] && return 1
		sleep 0.5
	done
	return 0
}

ib_missing() {
	local t
	for t in "$CHARON" "$NTMD" "$NTMCTL" nft openssl python3; do
		command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "missing $t"; return; }
	done
	command -v "$SWANCTL" >/dev/null 2>&1 || { echo "missing swanctl"; return; }
	modprobe ntm 2>/dev/null || { echo "cannot load ntm.ko"; return; }
}

ib_setup() {
	IB_DIR=$(mktemp -d /tmp/ikebed.XXXXXX)
	ip netns add "$NS_L" && ip netns add "$NS_N" && ip netns add "$NS_S" || return 1
	ip link add l0 netns "$NS_L" type veth peer name n0 netns "$NS_N" || return 1
	ip link add s0 netns "$NS_S" type veth peer name n1 netns "$NS_N" || return 1
	L ip link set lo up; N ip link set lo up; S ip link set lo up
	# MOBIKE moves L to a second address of the subnet: keep it when the first goes
	L sysctl -qw net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.l0.promote_secondaries=1
	L ip addr add $IB_L/24 dev l0; L ip link set l0 up
	N ip addr add $IB_NL/24 dev n0; N ip link set n0 up
	N ip addr add $IB_NS/24 dev n1; N ip link set n1 up
	S ip addr add $IB_S/24 dev s0; S ip link set s0 up
	L ip route add default via $IB_NL
	S ip route add default via $IB_NS
	N sysctl -qw net.ipv4.ip_forward=1
	N nft -f - <<EOF || return 1
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "n1" udp dport { 500, 4500 } dnat to $IB_L
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "n1" masquerade
	}
}
EOF
	S ip link add dum0 type dummy && S ip addr add $IB_IN_S/32 dev dum0 && S ip link set dum0 up || return 1
	# the ntm device exists before ntmd: it carries the inner address
	L ip link add ipsec0 type ntm || return 1
	L ip addr add $IB_IN_L/32 dev ipsec0 && L ip link set ipsec0 up || return 1
	ib_pki || return 1
	printf '%s\n' "$IB_PSK" >"$IB_DIR/psk" && chmod 600 "$IB_DIR/psk"
}

# A CA and ECDSA P-256 certificates for ntm.test and swan.test (SAN DNS).
ib_pki() {
	local d=$IB_DIR n
	openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null || return 1
	openssl req -x509 -new -key "$d/ca.key" -subj "/CN=ntm interop CA" -days 2 -out "$d/ca.pem" 2>/dev/null || return 1
	for n in ntm swan; do
		openssl ecparam -name prime256v1 -genkey -noout -out "$d/$n.key.sec1" 2>/dev/null || return 1
		openssl pkcs8 -topk8 -nocrypt -in "$d/$n.key.sec1" -out "$d/$n.key" 2>/dev/null || return 1
		openssl req -new -key "$d/$n.key" -subj "/CN=$n.test" -out "$d/$n.csr" 2>/dev/null || return 1
		printf 'subjectAltName=DNS:%s.test\n' "$n" >"$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
			-extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null || return 1
	done
	chmod 600 "$d"/*.key
	# swanctl loads credentials from the directory of its --file
	mkdir -p "$d/x509" "$d/x509ca" "$d/pkcs8"
	cp "$d/swan.pem" "$d/x509/" && cp "$d/ca.pem" "$d/x509ca/" && cp "$d/swan.key" "$d/pkcs8/"
}

# ib_charon_conf EXTRA_CHARON: strongswan.conf for the instance in S
ib_charon_start() {
	cat >"$IB_DIR/strongswan.conf" <<EOF
charon {
	load_modular = yes
	install_routes = yes
	retransmit_timeout = 2.0
	retransmit_tries = 4
	plugins {
		include /etc/strongswan.d/charon/*.conf
		vici {
			socket = unix://$IB_DIR/charon.vici
		}
		kernel-libipsec {
			load = no
		}
	}
	filelog {
		ib {
			path = $IB_DIR/charon.log
			time_format = %T
			default = 1
			ike = 2
			cfg = 2
			knl = 1
			flush_line = yes
		}
	}
}
include /etc/strongswan.d/*.conf
EOF
	STRONGSWAN_CONF="$IB_DIR/strongswan.conf" ip netns exec "$NS_S" unshare -m sh -c \
		'mount -t tmpfs r /run && exec "$0"' "$CHARON" >"$IB_DIR/charon.out" 2>&1 &
	IB_CHARON_PID=$!
	ib_wait 60 ib_swanctl --stats
}

ib_swanctl() { local op=$1; shift; S "$SWANCTL" "$op" --uri "unix://$IB_DIR/charon.vici" "$@"; }

# swanctl.conf: connections for every case; loaded once
ib_swanctl_load() {
	local d=$IB_DIR
	cat >"$d/swanctl.conf" <<EOF
connections {
	# ntmd initiates (PSK) through the NAT
	psk {
		version = 2
		local_addrs = $IB_S
		proposals = aes256gcm16-prfsha256-ecp256,chacha20poly1305-prfsha256-x25519
		dpd_delay = 0
		rekey_time = 0
		local { auth = psk
			id = swan.test }
		remote { auth = psk
			id = ntm.test }
		children {
			net {
				local_ts = 10.2.0.0/24
				remote_ts = 10.1.0.0/24
				esp_proposals = aes256gcm16,chacha20poly1305
				rekey_time = 0
			}
		}
	}
	# charon initiates towards ntmd (PSK), reaching it through the port forward
	pskr {
		version = 2
		local_addrs = $IB_S
		remote_addrs = $IB_NS
		proposals = chacha20poly1305-prfsha384-x25519
		rekey_time = 0
		local { auth = psk
			id = swan-r.test }
		remote { auth = psk
			id = ntm-r.test }
		children {
			netr {
				local_ts = 10.2.0.0/24
				remote_ts = 10.1.0.0/24
				esp_proposals = chacha20poly1305-esn
				rekey_time = 0
			}
		}
	}
	# charon initiates towards ntmd's default ESP proposals and insists on
	# PFS (a KE payload) when it rekeys the CHILD SA (decisions.rst D64)
	pfsr {
		version = 2
		local_addrs = $IB_S
		remote_addrs = $IB_NS
		proposals = chacha20poly1305-prfsha256-x25519
		rekey_time = 0
		local { auth = psk
			id = swan-p.test }
		remote { auth = psk
			id = ntm-p.test }
		children {
			netp {
				local_ts = 10.2.0.0/24
				remote_ts = 10.1.0.0/24
				esp_proposals = aes256gcm16-x25519
				rekey_time = 0
			}
		}
	}
	# certificates, ntmd initiates
	cert {
		version = 2
		local_addrs = $IB_S
		proposals = aes128gcm16-prfsha256-ecp256
		rekey_time = 0
		local { auth = pubkey
			certs = swan.pem
			id = swan.test }
		remote { auth = pubkey
			cacerts = ca.pem
			id = ntm.test }
		children {
			netc {
				local_ts = 10.2.0.0/24
				remote_ts = 10.1.0.0/24
				esp_proposals = aes128gcm16-ecp256-esn
				rekey_time = 0
			}
		}
	}
}
secrets {
	ike-psk { id-a = ntm.test
		id-b = swan.test
		secret = "$IB_PSK" }
	ike-pskr { id-a = ntm-r.test
		id-b = swan-r.test
		secret = "$IB_PSK" }
	ike-pfsr { id-a = ntm-p.test
		id-b = swan-p.test
		secret = "$IB_PSK" }
}
EOF
	ib_swanctl --load-all --file "$d/swanctl.conf"
}

# ib_ntmd_conf EXTRA: ntmd.toml with the connections matching ib_swanctl_load
ib_ntmd_conf() {
	local d=$IB_DIR
	cat >"$d/ntmd.toml" <<EOF
roles = ["ike"]
log_level = "debug"
state_dir = "$d/state"
control_socket = "$d/ntmd.sock"

[ike]
interface = "ipsec0"
ca = "$d/ca.pem"
certificate = "$d/ntm.pem"
private_key = "$d/ntm.key"
retransmit_timeout = 1000
retransmit_base = 1.8
retransmit_tries = 4
$1

[[ike.connection]]
name = "psk"
remote_addrs = ["$IB_S"]
local_id = "ntm.test"
remote_id = "swan.test"
auth = "psk"
psk_file = "$d/psk"
proposals = ["aes256gcm16-prfsha256-ecp256"]
esp_proposals = ["aes256gcm16"]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
dpd_delay = ${IB_DPD:-0}
child_rekey_time = ${IB_CHILD_REKEY:-0}
rekey_time = 0

[[ike.connection]]
name = "pskr"
local_id = "ntm-r.test"
remote_id = "swan-r.test"
auth = "psk"
psk_file = "$d/psk"
proposals = ["aes256gcm16-prfsha256-ecp256", "chacha20poly1305-prfsha384-x25519"]
esp_proposals = ["aes256gcm16", "chacha20poly1305-esn"]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
dpd_delay = 0
child_rekey_time = 0
rekey_time = 0

# ntmd's default proposals (no proposals, no esp_proposals): charon's pfsr
[[ike.connection]]
name = "pfsr"
local_id = "ntm-p.test"
remote_id = "swan-p.test"
auth = "psk"
psk_file = "$d/psk"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
dpd_delay = 0
child_rekey_time = 0
rekey_time = 0

[[ike.connection]]
name = "cert"
remote_addrs = ["$IB_S"]
local_id = "ntm.test"
remote_id = "swan.test"
auth = "pubkey"
proposals = ["aes128gcm16-prfsha256-ecp256"]
esp_proposals = ["aes128gcm16-ecp256-esn"]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
dpd_delay = 0
child_rekey_time = 0
rekey_time = 0
EOF
}

ib_ntmd_start() {
	ib_ntmd_conf "${1:-}"
	mkdir -p "$IB_DIR/state"
	# IB_RESOLV: a resolv.conf for ntmd alone (ip netns exec gives it a mount namespace of its own)
	ip netns exec "$NS_L" sh -c '[ -z "$1" ] || mount --bind "$1" /etc/resolv.conf || exit 1; shift; exec "$@"' \
		sh "${IB_RESOLV:-}" "$NTMD" --config "$IB_DIR/ntmd.toml" >>"$IB_DIR/ntmd.log" 2>&1 &
	IB_NTMD_PID=$!
	ib_wait 20 ib_ctl status
}

ib_ntmd_stop() {
	[ -n "$IB_NTMD_PID" ] || return 0
	kill "$IB_NTMD_PID" 2>/dev/null
	wait "$IB_NTMD_PID" 2>/dev/null
	IB_NTMD_PID=""
}

ib_ctl() { L "$NTMCTL" "$@" --socket "$IB_DIR/ntmd.sock"; }

# ib_ike_sas: the JSON list of ntmd's IKE SAs
ib_ike_sas() { ib_ctl -j ike list; }

# ib_established CONN: ntmd has an established IKE SA with a CHILD SA for CONN
ib_established() {
	ib_ike_sas | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = any(s["connection"] == sys.argv[1] and s["state"] == "established" and s["children"] for s in d["sas"])
sys.exit(0 if ok else 1)' "$1"
}

ib_logtail() {
	ktap_diag "--- ntmd log (tail)"
	tail -n "${1:-30}" "$IB_DIR/ntmd.log" 2>/dev/null | while IFS= read -r l; do ktap_diag "$l"; done
	ktap_diag "--- charon log (tail)"
	tail -n "${1:-30}" "$IB_DIR/charon.log" 2>/dev/null | while IFS= read -r l; do ktap_diag "$l"; done
}

ib_teardown() {
	ib_ntmd_stop
	if [ -n "$IB_CHARON_PID" ]; then
		kill "$IB_CHARON_PID" 2>/dev/null
		wait "$IB_CHARON_PID" 2>/dev/null
	fi
	ip netns del "$NS_L" 2>/dev/null
	ip netns del "$NS_N" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	if [ -n "$IB_DIR" ] && [ -z "${IB_KEEP:-}" ]; then
		rm -rf "$IB_DIR"
	fi
}
