#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_metrics.sh - ntmd's logs and metrics (D97) on the signalling testbed
# (lib/sigbed.sh): the Prometheus endpoint of the DC and of node A
# ([metrics] listen on each namespace's loopback) scraped with curl, its
# counters moving when the nodes register and traffic flows; `ntmctl
# monitor` printing timestamped daemon events (the DC's registrations, A's
# tunnel); the journal's priority prefixes of ntmd's log; the refusal of a
# metrics address that is not loopback.
# shellcheck disable=SC2034
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"

ktap_plan 10

why=$(sigbed_missing)
[ -z "$why" ] && ! command -v curl >/dev/null 2>&1 && why="curl not installed"
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

MPORT=9477
METRICS_TOML="[metrics]
listen = \"127.0.0.1:$MPORT\""
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} '

# scrape NAME [PATH]: the body of GET PATH (default /metrics) in NAME's namespace
scrape() { sigbed_in "$1" curl -sS --max-time 10 "http://127.0.0.1:$MPORT${2:-/metrics}"; }
# metric NAME SERIES: the value of one series (exact name and labels), "" when absent
metric() { scrape "$1" | awk -v s="$2" '$1 == s { print $2; exit }'; }
# valid_page FILE: every line is a HELP/TYPE comment or a sample of the text format
valid_page() {
	awk '
	/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? [0-9.e+-]+$/ { next }
	{ print "bad line " NR ": " $0; bad = 1 }
	END { exit bad }' "$1"
}

# --- 1: ntmd's log in the journal's format -----------------------------------------------
# A socket-owner ntmd for a device that does not exist fails with an error
# after logging is up: what its log line looks like is the point.
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm_metrics.XXXXXX")
ktap_at_cleanup "rm -rf $T"
"$NTMD" --interface ntmnone0 --port 7999 --log-target journal 2>"$T/journal.err"
"$NTMD" --interface ntmnone0 --port 7999 --log-target console 2>"$T/console.err"
: >"$T/auto.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/auto.err") "$NTMD" --interface ntmnone0 --port 7999 2>>"$T/auto.err"
JOURNAL_STREAM=1:1 "$NTMD" --interface ntmnone0 --port 7999 2>"$T/other.err"
ktap_diag "journal: $(head -c 200 "$T/journal.err")"
ktap_diag "console: $(head -c 200 "$T/console.err")"
ktap_diag "auto, stderr is JOURNAL_STREAM: $(head -c 200 "$T/auto.err")"
ktap_diag "auto, JOURNAL_STREAM names another file: $(head -c 200 "$T/other.err")"
rc=1
grep -q '^<3>' "$T/journal.err" && grep -q '^<3>' "$T/auto.err" &&
	grep -Eq '^[0-9-]+ [0-9:.]+ ntmd\[[0-9]+\] error: ' "$T/console.err" &&
	grep -Eq '^[0-9-]+ [0-9:.]+ ntmd\[[0-9]+\] error: ' "$T/other.err" &&
	! grep -q '<error>' "$T/journal.err" "$T/auto.err" && rc=0
check "log: <3> priority prefix for the journal (--log-target journal, JOURNAL_STREAM = stderr), timestamps on a console" $rc

# --- 2: a metrics address that is not loopback needs allow_remote ---------------------------
T0=$EPOCHSECONDS
sigbed_setup || ktap_bail "testbed setup failed"
ktap_diag "testbed setup: $((EPOCHSECONDS - T0)) s"
sigbed_write_as_conf
sigbed_write_dc_conf "[metrics]
listen = \"$SB_DC4:$MPORT\""
out=$("$NTMD" --config "$(sigbed_conf dc)" --check-config 2>&1)
rc1=$?
ktap_diag "listen = \"$SB_DC4:$MPORT\": exit $rc1: $out"
sigbed_write_dc_conf "$METRICS_TOML"
out2=$("$NTMD" --config "$(sigbed_conf dc)" --check-config 2>&1)
rc2=$?
check "config: [metrics] listen on $SB_DC4 refused without allow_remote (exit $rc1), loopback accepted (exit $rc2)" \
	"$( { [ $rc1 -eq 2 ] && [ $rc2 -eq 0 ] && [[ $out == *allow_remote* ]]; } && echo 0 || echo 1)"

# --- 3: the DC's endpoint -----------------------------------------------------------------
SERVERS_UP=0
sigbed_start dc && sigbed_start as && SERVERS_UP=1
DC_MON=""
if needs "DC: GET /metrics answers 200 in the text format 0.0.4" SERVERS_UP; then
	# the DC's daemon events from now on, as a user sees them
	sigbed_in dc "$NTMCTL" monitor --socket "$(sigbed_sock dc)" >"$T/dc.monitor" 2>&1 &
	DC_MON=$!
	SB_BGPIDS="$DC_MON $SB_BGPIDS"
	sigbed_in dc curl -sS --max-time 10 -D "$T/dc.head" -o "$T/dc.page" "http://127.0.0.1:$MPORT/metrics"
	code404=$(sigbed_in dc curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
	code405=$(sigbed_in dc curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MPORT/metrics")
	ktap_diag "$(head -1 "$T/dc.head" | tr -d '\r'); $(grep -i '^content-type' "$T/dc.head" | tr -d '\r'); / $code404, POST $code405; $(wc -l <"$T/dc.page") lines"
	bad=$(valid_page "$T/dc.page")
	[ -n "$bad" ] && ktap_diag "$bad"
	rc=1
	grep -q '^HTTP/1.1 200' "$T/dc.head" && grep -qi '^content-type: text/plain; version=0.0.4' "$T/dc.head" &&
		[ -z "$bad" ] && grep -q '^ntm_role{role="dc"} 1$' "$T/dc.page" && grep -q '^ntm_dc_nodes ' "$T/dc.page" &&
		grep -q '^# TYPE ntm_signalling_messages_total counter$' "$T/dc.page" &&
		[ "$code404" = 404 ] && [ "$code405" = 405 ] && rc=0
	check "DC: GET /metrics answers 200, Content-Type version=0.0.4, valid lines; / is 404, POST 405" $rc dc
fi

# --- 4-5: nodes register; the DC's counters move -------------------------------------------
A_UP=0 B_UP=0
if needs "nodes A and B register; the DC's registration counters move" SERVERS_UP; then
	reg0=$(metric dc ntm_dc_registrations_total)
	rx0=$(metric dc 'ntm_signalling_messages_total{role="dc",direction="rx"}')
	sigbed_password a "pw a $(sigbed_hex 4)"
	sigbed_password b "pw b $(sigbed_hex 4)"
	sigbed_account_add "a@$SB_DOMAIN" "a.$SB_DOMAIN" "$(sigbed_pwfile a)" >/dev/null 2>&1
	sigbed_account_add "b@$SB_DOMAIN" "b.$SB_DOMAIN" "$(sigbed_pwfile b)" >/dev/null 2>&1
	sigbed_write_node_conf a "a@$SB_DOMAIN" "$(sigbed_pwfile a)" password "$METRICS_TOML"
	sigbed_write_node_conf b "b@$SB_DOMAIN" "$(sigbed_pwfile b)"
	sigbed_start a && A_UP=1
	sigbed_start b && B_UP=1
	reg1=$(metric dc ntm_dc_registrations_total)
	rx1=$(metric dc 'ntm_signalling_messages_total{role="dc",direction="rx"}')
	online=$(metric dc ntm_dc_online)
	ktap_diag "DC: registrations $reg0 -> $reg1, signalling rx $rx0 -> $rx1, online $online"
	check "nodes A and B register; DC: ntm_dc_registrations_total $reg0 -> $reg1, rx $rx0 -> $rx1, online $online" \
		"$( { [ $A_UP = 1 ] && [ $B_UP = 1 ] && [ "${reg1:-0}" -ge $((${reg0:-0} + 2)) ] &&
			[ "${rx1:-0}" -gt "${rx0:-0}" ] && [ "${online:-0}" = 2 ]; } && echo 0 || echo 1)" a b dc
fi
if needs "monitor on the DC: timestamped node-registered events of A and B" SERVERS_UP; then
	sigbed_wait 10 grep -q "ntmd dc node-registered.*fqdn b.$SB_DOMAIN" "$T/dc.monitor"
	ktap_diag_file "$T/dc.monitor" 6
	rc=1
	grep -Eq "${TS_RE}ntmd dc node-registered .*fqdn a\.$SB_DOMAIN" "$T/dc.monitor" &&
		grep -Eq "${TS_RE}ntmd dc node-registered .*fqdn b\.$SB_DOMAIN" "$T/dc.monitor" && rc=0
	check "ntmctl monitor on the DC: timestamped 'ntmd dc node-registered' lines for A and B" $rc dc
fi

# --- 6-9: a tunnel; A's endpoint and events ---------------------------------------------------
TUNNEL=0
A_MON=""
if needs "A resolves b.ntm.test: a tunnel; monitor -j on A shows tunnel_up" A_UP B_UP; then
	sigbed_in a "$NTMCTL" -j monitor --socket "$(sigbed_sock a)" >"$T/a.monitor" 2>&1 &
	A_MON=$!
	SB_BGPIDS="$A_MON $SB_BGPIDS"
	sleep 1
	VIP4_B=$(sigbed_node b vip4)
	got=$(sigbed_getent a ahostsv4 b.$SB_DOMAIN 2>&1)
	sigbed_wait 20 sigbed_tunnel_to a "$VIP4_B" && TUNNEL=1
	sigbed_wait 10 grep -q '"tunnel_up"' "$T/a.monitor"
	ev=$(grep '"tunnel_up"' "$T/a.monitor" | head -1)
	ktap_diag "getent: $got (B: $VIP4_B); event: $ev"
	rc=1
	[ $TUNNEL = 1 ] && [ "$(printf '%s' "$ev" | jq -r '.source + " " + .role + " " + .peer')" = "ntmd node b.$SB_DOMAIN" ] &&
		[[ "$(printf '%s' "$ev" | jq -r .time) " =~ $TS_RE ]] && rc=0
	check "A's tunnel to B; ntmctl -j monitor on A: tunnel_up of b.$SB_DOMAIN with an ISO 8601 time" $rc a b dc
fi
if needs "A's /metrics: per-tunnel and device counters move with traffic" TUNNEL; then
	series="ntm_tunnel_tx_packets_total{dev=\"$SB_DEV\",index=\"$(sigbed_tunnels a | jq -r --arg v "$VIP4_B" 'select(.vip4 == $v) | .local_index' | head -1)\",peer=\"b.$SB_DOMAIN\"}"
	tx0=$(metric a "$series")
	dtx0=$(metric a "ntm_device_tx_packets_total{dev=\"$SB_DEV\"}")
	sigbed_in a ping -c 5 -i 0.2 -W 2 "$VIP4_B" >"$T/ping" 2>&1
	ktap_diag "$(grep 'packet loss' "$T/ping")"
	tx1=$(metric a "$series")
	dtx1=$(metric a "ntm_device_tx_packets_total{dev=\"$SB_DEV\"}")
	scrape a >"$T/a.page"
	bad=$(valid_page "$T/a.page")
	[ -n "$bad" ] && ktap_diag "$bad"
	ktap_diag "$series: $tx0 -> $tx1; device tx_packets $dtx0 -> $dtx1"
	grep -E '^ntm_(node_registered|node_peers|kernel_up|daemon_events_total)' "$T/a.page" | while IFS= read -r l; do ktap_diag "$l"; done
	check "A's /metrics: tunnel to b.$SB_DOMAIN tx $tx0 -> $tx1, device tx $dtx0 -> $dtx1 after 5 pings; registered, 1 peer" \
		"$( { [ -n "$tx0" ] && [ "${tx1:-0}" -ge $((tx0 + 5)) ] && [ "${dtx1:-0}" -ge $((${dtx0:-0} + 5)) ] && [ -z "$bad" ] &&
			grep -q '^ntm_node_registered 1$' "$T/a.page" && grep -q '^ntm_node_peers 1$' "$T/a.page" &&
			grep -q '^ntm_kernel_up 1$' "$T/a.page"; } && echo 0 || echo 1)" a
fi
if needs "DC's /metrics after the direction: directions and events counted" TUNNEL; then
	scrape dc >"$T/dc2.page"
	grep -E '^ntm_(dc_directions_total|daemon_events_total|dc_nodes|dc_online)' "$T/dc2.page" | while IFS= read -r l; do ktap_diag "$l"; done
	check "DC's /metrics: ntm_dc_directions_total >= 1, ntm_daemon_events_total{event=\"node_registered\"} >= 2" \
		"$( { [ "$(awk '$1 == "ntm_dc_directions_total" { print $2 }' "$T/dc2.page")" -ge 1 ] &&
			[ "$(awk '$1 == "ntm_daemon_events_total{event=\"node_registered\"}" { print $2 }' "$T/dc2.page")" -ge 2 ]; } && echo 0 || echo 1)" dc
fi
if needs "monitor on A: the daemon's stopping event on SIGTERM, then the end of the stream" A_UP; then
	sigbed_stop a 30
	sigbed_wait 10 grep -q 'ntmd closed the event stream' "$T/a.monitor"
	ktap_diag "$(grep -c . "$T/a.monitor") lines; last two: $(tail -2 "$T/a.monitor" | tr '\n' ' ')"
	rc=1
	grep -q '"event":"stopping"' "$T/a.monitor" && grep -q 'ntmd closed the event stream' "$T/a.monitor" && rc=0
	check "ntmctl monitor on A: the daemon's 'stopping' event on SIGTERM, then 'ntmd closed the event stream'" $rc a
fi

# --- 10: metrics off by default ------------------------------------------------------------
if needs "B (no [metrics]) serves no endpoint" B_UP; then
	code=$(sigbed_in b curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MPORT/metrics")
	check "node B without [metrics]: nothing listens on $MPORT (curl: $code)" "$(rc [ "$code" = 000 ])" b
fi

ktap_finish
