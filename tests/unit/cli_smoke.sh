#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# cli_smoke.sh NTMCTL NTMD: exit statuses of the real binaries that do not
# depend on the kernel (run by ctest).
set -u
NTMCTL=$1
NTMD=$2
fail=0

expect() { # expect RC CMD...: CMD exits with RC
	want=$1
	shift
	"$@" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $* exited $rc, want $want"
		fail=1
	else
		echo "ok: $* -> $rc"
	fi
}

expect 0 "$NTMCTL" --help
expect 2 "$NTMCTL"
expect 2 "$NTMCTL" show a/b
expect 2 "$NTMCTL" tunnel flush
expect 2 "$NTMCTL" device set ntm0
expect 2 "$NTMCTL" monitor --count 0
expect 2 "$NTMCTL" monitor --socket ''
# ---- account, dc, status: usage errors, missing databases, a round trip ----
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-cli-smoke.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
DB=$T/accounts.db
PW=$T/pw
printf 'correct horse\n' >"$PW"
chmod 600 "$PW"

expect_stdin() { # expect_stdin RC INPUT CMD...: CMD with the line INPUT on stdin exits with RC
	want=$1
	input=$2
	shift 2
	printf '%s\n' "$input" | "$@" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $* (stdin) exited $rc, want $want"
		fail=1
	else
		echo "ok: $* (stdin) -> $rc"
	fi
}

expect_out() { # expect_out PATTERN yes|no CMD...: CMD exits 0 and its stdout does (not) match PATTERN
	pattern=$1
	want=$2
	shift 2
	out=$("$@" 2>/dev/null)
	rc=$?
	if printf '%s\n' "$out" | grep -q -e "$pattern"; then has=yes; else has=no; fi
	if [ "$rc" -ne 0 ] || [ "$has" != "$want" ]; then
		echo "FAIL: $* exited $rc, output matching '$pattern': $has, want $want"
		fail=1
	else
		echo "ok: $* -> '$pattern' $has"
	fi
}

expect 2 "$NTMCTL" account
expect 2 "$NTMCTL" account add
expect 2 "$NTMCTL" account add alice@ntm.test --db "$DB"
expect 2 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --db "$DB"
expect 2 "$NTMCTL" account add alice@ntm.test --fqdn A_B.ntm.test --certificate --db "$DB"
expect 2 "$NTMCTL" account add 'al ice' --fqdn a.ntm.test --certificate --db "$DB"
expect 2 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --password-file "$PW" --password-stdin --db "$DB"
expect 2 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --password-file "$PW" --kdf-cost 9 --db "$DB"
expect 2 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --password alice --db "$DB"
expect 2 "$NTMCTL" account del
expect 2 "$NTMCTL" account list extra
expect 2 "$NTMCTL" dc
expect 2 "$NTMCTL" dc nodes extra
expect 2 "$NTMCTL" dc keys --db
expect 2 "$NTMCTL" status extra
expect 2 "$NTMCTL" status --socket ""
expect 1 "$NTMCTL" account list --db "$T/missing.db"
expect 1 "$NTMCTL" account del alice@ntm.test --db "$T/missing.db"
expect 1 "$NTMCTL" dc nodes --db "$T/missing.db"
expect 1 "$NTMCTL" dc keys --db "$T/missing.db"
expect 1 "$NTMCTL" --config "$T/missing.toml" account list
expect 1 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --password-file "$T/nopw" --db "$DB"
expect 1 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --certificate --db "$T/no/dir/accounts.db"
expect 1 "$NTMCTL" status --socket "$T/ntmd.sock"
[ ! -e "$T/missing.db" ] || { echo "FAIL: a missing database was created"; fail=1; }
[ ! -e "$DB" ] || { echo "FAIL: a failed add created the database"; fail=1; }

expect 0 "$NTMCTL" account add alice@ntm.test --fqdn a.ntm.test --password-file "$PW" --kdf-cost 10 --db "$DB"
expect 1 "$NTMCTL" account add alice@ntm.test --fqdn z.ntm.test --password-file "$PW" --kdf-cost 10 --db "$DB"
expect 1 "$NTMCTL" account add mallory@ntm.test --fqdn a.ntm.test --certificate --db "$DB"
expect_stdin 0 'bob secret' "$NTMCTL" account add bob@ntm.test --fqdn b.ntm.test --password-stdin --certificate \
	--kdf-cost 10 --db "$DB"
expect_stdin 2 '' "$NTMCTL" account add empty@ntm.test --fqdn e.ntm.test --password-stdin --kdf-cost 10 --db "$DB"
expect 0 "$NTMCTL" account add carol@ntm.test --fqdn c.ntm.test --certificate --db "$DB"
chmod 640 "$PW"
expect 1 "$NTMCTL" account add dave@ntm.test --fqdn d.ntm.test --password-file "$PW" --kdf-cost 10 --db "$DB"
chmod 600 "$PW"
expect_out 'alice@ntm\.test *a\.ntm\.test *password ' yes "$NTMCTL" account list --db "$DB"
expect_out 'bob@ntm\.test *b\.ntm\.test *password,certificate ' yes "$NTMCTL" account list --db "$DB"
expect_out '"name":"carol@ntm.test","password":false' yes "$NTMCTL" -j account list --db "$DB"
expect_out 'scrypt' no "$NTMCTL" -j account list --db "$DB"
expect_out 'dave' no "$NTMCTL" account list --db "$DB"
expect 0 "$NTMCTL" account del alice@ntm.test --db "$DB"
expect 1 "$NTMCTL" account del alice@ntm.test --db "$DB"
expect_out 'alice' no "$NTMCTL" account list --db "$DB"
# the same database through a configuration file (default path <state_dir>/accounts.db)
cat >"$T/ntmd.toml" <<EOF
roles = ["as"]
state_dir = "$T"
control_socket = "$T/ntmd.sock"
dns_servers = ["192.0.2.53"]
[tls]
ca = "$T/ca.pem"
certificate = "$T/host.pem"
private_key = "$T/host.key"
[as]
EOF
expect_out 'bob@ntm.test' yes "$NTMCTL" --config "$T/ntmd.toml" account list
expect 1 "$NTMCTL" --config "$T/ntmd.toml" dc nodes
expect 1 "$NTMCTL" --config "$T/ntmd.toml" status
# a database of the same schema without nodes or keys lists nothing
expect_out '^FQDN' yes "$NTMCTL" dc nodes --db "$DB"
expect_out '^\[\]$' yes "$NTMCTL" -j dc keys --db "$DB"

# ---- unknown words named, permission errors named (D93) ----
expect_err() { # expect_err RC TEXT CMD...: CMD exits with RC and its stderr holds TEXT
	want=$1
	text=$2
	shift 2
	msg=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! printf '%s\n' "$msg" | grep -qF -e "$text"; then
		echo "FAIL: $* exited $rc with '$msg', want $want and '$text'"
		fail=1
	else
		echo "ok: $* -> $rc, $text"
	fi
}
expect_err 2 "unknown command 'bogus'" "$NTMCTL" bogus
expect_err 2 "unknown command 'sho', did you mean 'show'?" "$NTMCTL" sho
expect_err 2 "unknown command 'tunnel ad', did you mean 'tunnel add'?" "$NTMCTL" tunnel ad ntm0
expect_err 2 "unknown option '--jsno' for 'show', did you mean '--json'?" "$NTMCTL" show --jsno
expect_err 2 "--timeout and --no-wait" "$NTMCTL" ike initiate psk --no-wait --timeout 3
expect_err 1 "ntmd is not running (connect $T/none.sock" "$NTMCTL" status --socket "$T/none.sock"
# a socket nobody listens on: refused for its owner, permission denied for others
if command -v python3 >/dev/null && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$T/ctl.sock')"; then
	chmod 755 "$T"
	chmod 600 "$T/ctl.sock"
	expect_err 1 "ntmd is not running (connect $T/ctl.sock: Connection refused)" \
		"$NTMCTL" status --socket "$T/ctl.sock"
	if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
		expect_err 1 "permission denied on $T/ctl.sock (are you in the ntm group / root?)" \
			setpriv --reuid=65534 --regid=65534 --clear-groups "$NTMCTL" ike list --socket "$T/ctl.sock"
	elif [ "$(id -u)" -ne 0 ]; then
		chmod 000 "$T/ctl.sock"
		expect_err 1 "permission denied on $T/ctl.sock" "$NTMCTL" status --socket "$T/ctl.sock"
	fi
fi

expect 0 "$NTMD" --help
expect 2 "$NTMD"
expect 2 "$NTMD" --interface ntm0
expect 2 "$NTMD" --interface ntm0 --port 0
expect 2 "$NTMD" --interface ntm0 --port 4500 --log-level loud
expect 2 "$NTMD" --interface ntm0 --port 4500 --log-target syslog
expect 2 "$NTMD" --interface bad/name --port 4500
# --check-config: a parse error as before; then every file named, all problems (D95)
printf 'roles = ["node"\n' >"$T/bad.toml"
expect_err 2 "bad.toml:" "$NTMD" --config "$T/bad.toml" --check-config
cat >"$T/ntmd.toml" <<EOF
roles = ["node"]
state_dir = "$T"
control_socket = "$T/ntmd.sock"
dns_servers = []
[tls]
ca = "$T/missing-ca.pem"
[node]
as = "192.0.2.1:7481"
account = "alice@ntm.test"
password_file = "$T/pw-open"
dns_upstream = []
EOF
printf 'correct horse\n' >"$T/pw-open"
chmod 644 "$T/pw-open"
expect_err 2 "ntmd: $T/missing-ca.pem: error: tls.ca: no such file" "$NTMD" --config "$T/ntmd.toml" --check-config
expect_err 2 "ntmd: $T/pw-open: error: node.password_file: mode 0644 gives group or others access" \
	"$NTMD" --config "$T/ntmd.toml" --check-config
out=$("$NTMD" --config "$T/ntmd.toml" --check-config 2>/dev/null)
case $out in
*"$T/ntmd.toml: "*" errors, "*" warning"*) echo "ok: --check-config summary: $out" ;;
*) echo "FAIL: --check-config summary: '$out'"; fail=1 ;;
esac
exit $fail
