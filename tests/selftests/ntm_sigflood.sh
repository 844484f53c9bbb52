#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_sigflood.sh - the signalling servers under floods (D68, D69, D71):
# lib/sigbed.sh's AS, DC and DNS, node A (public) and node M, whose key the
# test takes from the DC's registry to play a node that floods.  M floods
# Registrations under its own key: the DC answers its per-key burst and
# counts the rest (drops.rate_request, limits.registration_key); A keeps
# registering.  A flood of one made-up KEY_ID costs the DC one registry
# lookup (limits.unknown_key_cached) and few NOTICEs (drops.rate); another
# address still gets its NOTICE.  Last, the DC forgets A's key while A's
# namespace drops every NOTICE: A logs in again on its own after its
# Registrations go unanswered (node.logins_unanswered).
# Without the fixes: every flooded Registration is answered, each datagram
# of the made-up KEY_ID is a registry lookup, and A never logs in again.
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"

ktap_plan 7

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

SB_M4=192.0.2.5
FLOOD=300
dc_limit() { # NAME: a counter of the DC's limits object (0 when missing)
	local v
	v=$(sigbed_jq dc ".dc.limits.$1 // 0")
	[[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
dc_count() { # NAME: a top-level counter of the DC
	local v
	v=$(sigbed_jq dc ".dc.$1 // 0")
	[[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
field() { # LINE KEY: the value of KEY=... in an ntmsig.py result line
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

T0=$EPOCHSECONDS
# --- 1: testbed, AS, DC, accounts ---------------------------------------------------
UP=0
if sigbed_setup && sigbed_add_public m $SB_M4; then
	sigbed_write_as_conf
	sigbed_write_dc_conf
	if sigbed_start dc && sigbed_start as; then
		sigbed_password a "correct horse a $(sigbed_hex 4)"
		sigbed_password m "correct horse m $(sigbed_hex 4)"
		sigbed_account_add "a@$SB_DOMAIN" "a.$SB_DOMAIN" "$(sigbed_pwfile a)" >/dev/null &&
			sigbed_account_add "m@$SB_DOMAIN" "m.$SB_DOMAIN" "$(sigbed_pwfile m)" >/dev/null && UP=1
	fi
fi
check "testbed, AS and DC up; accounts a@ and m@$SB_DOMAIN (setup $((EPOCHSECONDS - T0)) s)" $((1 - UP)) as dc

# --- 2: both nodes register; M's key is taken from the registry -------------------------
NODES=0
if needs "nodes A and M register; M stops and its key is read from the DC's registry" UP; then
	sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)"
	sigbed_write_node_conf m "m@$SB_DOMAIN" "$(sigbed_pwfile m)"
	if sigbed_start a && sigbed_start m; then
		M_KEY_ID=$(sigbed_node m key_id)
		sigbed_stop m
		row=$(sqlite3 "$SB_DIR/dc/registry.db" "SELECT key_id || ' ' || hex(key) FROM keys WHERE key_id = ${M_KEY_ID:-0}")
		M_KEY=${row#* }
		ktap_diag "M's key id $M_KEY_ID ($(printf '%#x' "${M_KEY_ID:-0}")), ${#M_KEY} hex digits"
		[ -n "$M_KEY_ID" ] && [ ${#M_KEY} = 64 ] && NODES=1
	fi
	check "nodes A and M register; M stops and its key is read from the DC's registry" $((1 - NODES)) a m dc as
fi

# --- 3-4: a Registration flood under M's key --------------------------------------------
if needs "a Registration flood under one key: the DC answers its burst, counts the rest" NODES; then
	reg0=$(dc_count registrations)
	rr0=$(sigbed_dc_drop rate_request)
	lk0=$(dc_limit registration_key)
	out=$(sigbed_ntmsig m flood --to $SB_DC4:$SB_PORT --key-id "$M_KEY_ID" --key "$M_KEY" --seq 1000 \
		--msg registration --fqdn "m.$SB_DOMAIN" --local-ep "$SB_M4:$SB_PORT" --count $FLOOD --wait 3 2>&1)
	sleep 1
	reg1=$(dc_count registrations)
	rr1=$(sigbed_dc_drop rate_request)
	lk1=$(dc_limit registration_key)
	answered=$(field "$out" answered)
	ktap_diag "flood: $out"
	ktap_diag "DC registrations $reg0 -> $reg1, drops.rate_request $rr0 -> $rr1, limits.registration_key $lk0 -> $lk1"
	# the burst is a third of dc.registration_rate (30 a minute): 10, and a token a 2 s
	rc=1
	[ "${answered:-0}" -ge 1 ] && [ "${answered:-0}" -le 20 ] && [ $((reg1 - reg0)) -le 20 ] &&
		[ $((rr1 - rr0)) -ge $((FLOOD - 20)) ] && [ $((lk1 - lk0)) -ge $((FLOOD - 20)) ] && rc=0
	check "$FLOOD Registrations under M's key: at most 20 answered and served, the rest counted (drops.rate_request)" $rc dc
fi
if needs "during the flood A is still registered and its keepalives answered" NODES; then
	ka0=$(sigbed_jq a '.node.rx')
	sleep $((SB_KEEPALIVE + 2))
	ka1=$(sigbed_jq a '.node.rx')
	ktap_diag "A: registered $(sigbed_node a registered), signalling messages received $ka0 -> $ka1; online at the DC: $(sigbed_dc_node a.$SB_DOMAIN online)"
	[ "$(sigbed_node a registered)" = true ] && [ "${ka1:-0}" -gt "${ka0:-0}" ] &&
		[ "$(sigbed_dc_node a.$SB_DOMAIN online)" = true ]
	check "A (another key, another address) stays registered; its keepalives are answered" $? a dc
fi

# --- 5-6: a flood of one made-up KEY_ID ------------------------------------------------
if needs "a flood of one unknown KEY_ID costs one registry lookup and few NOTICEs" UP; then
	uk0=$(sigbed_dc_drop unknown_key)
	rl0=$(dc_limit registry_lookups)
	nc0=$(dc_limit unknown_key_cached)
	rt0=$(sigbed_dc_drop rate)
	out=$(sigbed_ntmsig m flood --to $SB_DC4:$SB_PORT --key-id 0x0badf00d --msg registration \
		--fqdn "nobody.$SB_DOMAIN" --count $FLOOD --wait 2 2>&1)
	sleep 1
	uk1=$(sigbed_dc_drop unknown_key)
	rl1=$(dc_limit registry_lookups)
	nc1=$(dc_limit unknown_key_cached)
	rt1=$(sigbed_dc_drop rate)
	notices=$(field "$out" notices)
	ktap_diag "flood: $out"
	ktap_diag "DC drops.unknown_key $uk0 -> $uk1, limits.registry_lookups $rl0 -> $rl1, limits.unknown_key_cached $nc0 -> $nc1, drops.rate $rt0 -> $rt1"
	# dc.notice_rate 12 a minute: a burst of 4 to one address
	rc=1
	[ $((uk1 - uk0)) -eq $FLOOD ] && [ $((rl1 - rl0)) -le 2 ] && [ $((nc1 - nc0)) -ge $((FLOOD - 2)) ] &&
		[ "${notices:-99}" -le 6 ] && [ $((rt1 - rt0)) -ge $((FLOOD - 6)) ] && rc=0
	check "$FLOOD datagrams of one unknown KEY_ID: all counted, at most 2 registry lookups, at most 6 NOTICEs to the sender" $rc dc
fi
if needs "after that flood another address still gets its NOTICE" UP; then
	got=$(sigbed_ntmsig a expect-notice --to $SB_DC4:$SB_PORT --timeout 10 2>&1)
	ktap_diag "A's probe with a made-up key: $got"
	check "another address (A) still gets its NOTICE unknown_key" "$(rc [ "$got" = unknown_key ])" dc
fi

# --- 7: the DC forgets A's key; A does not hear any NOTICE ----------------------------------
if needs "A logs in again on its own when the DC forgot its key and NOTICEs do not arrive" NODES; then
	old_key=$(sigbed_node a key_id)
	logins0=$(sigbed_node a logins)
	# every NOTICE to A (18 bytes of UDP payload) is dropped in A's namespace
	sigbed_in a nft -f - <<-EOF
	table inet nonotice {
		chain in {
			type filter hook input priority 0;
			ip saddr $SB_DC4 udp sport $SB_PORT udp length 26 counter drop
		}
	}
	EOF
	sigbed_stop dc
	sqlite3 "$SB_DIR/dc/registry.db" "DELETE FROM keys WHERE fqdn = 'a.$SB_DOMAIN'"
	sigbed_start dc
	sigbed_wait 150 sh -c "[ \"\$(ip netns exec ${SB_NS[a]} $NTMCTL status -j --socket $(sigbed_sock a) | jq -r '.node.key_id')\" != \"$old_key\" ]"
	sigbed_wait 30 sh -c "ip netns exec ${SB_NS[a]} $NTMCTL status -j --socket $(sigbed_sock a) | jq -e '.node.registered' >/dev/null"
	new_key=$(sigbed_node a key_id)
	dropped=$(sigbed_in a nft list table inet nonotice 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p')
	ktap_diag "A's key $old_key -> $new_key; NOTICEs dropped at A: ${dropped:-?}; A logins ${logins0:-?} -> $(sigbed_node a logins), logins_unanswered $(sigbed_node a logins_unanswered); $(grep -m1 'registrations unanswered' "$(sigbed_logfile a)")"
	[ -n "$new_key" ] && [ "$new_key" != "$old_key" ] && [ "$(sigbed_node a registered)" = true ] &&
		[ "${dropped:-0}" -ge 1 ] && [ "$(sigbed_node a logins_unanswered)" -ge 1 ]
	check "the DC forgot A's key, NOTICEs dropped: A logs in again by itself (new key) and registers" $? a dc as
fi

ktap_diag "total time $((EPOCHSECONDS - T0)) s"
ktap_finish
