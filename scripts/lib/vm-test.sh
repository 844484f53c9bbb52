#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/lib/vm-test.sh - the driver behind `make vm-test`: runs the VM
# selftests (tests/selftests/run.sh) in NTM_VM_JOBS virtual machines at once
# (default 2), each with its own share of the suites, and fails when any of
# them fails.
#
# Most of a suite's time is spent waiting (timers, retransmissions, DPD,
# lifetimes), not computing, so two VMs on a 2-core host finish in a little
# over half the time of one (Documentation/testing.rst, "Parallel VMs").
# The suites are dealt out longest first to the VM with the least work
# (greedy LPT), using the durations below (seconds each suite took in a
# two-VM make check run on a 2-core machine, 2026-12-07, after D105); a
# suite missing from the table counts as 120 s.  Every VM runs its own
# kernel, so each has its own ntm.ko and its own ntm_unload at the end.
#
# With NTM_TESTS set (make vm-test NTM_TESTS="basic esp"), or NTM_VM_JOBS=1,
# one VM runs the tests and prints as it goes, as before; NTM_TESTS with an
# explicit NTM_VM_JOBS of 2 or more deals the named suites out the same way
# (make check-debug does).  NTM_VM_TIMEOUT: seconds each VM may take (4200).
#
# Output: each VM's log is kept in build/check/vm-test.<n>.log and printed
# whole when that VM ends; the last lines are a per-VM summary.

set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
VM=${VM:-scripts/vm}
JOBS=${NTM_VM_JOBS:-2}
VM_TIMEOUT=${NTM_VM_TIMEOUT:-4200}
logdir=build/check

case $JOBS$VM_TIMEOUT in '' | *[!0-9]*) echo "vm-test: NTM_VM_JOBS and NTM_VM_TIMEOUT are numbers" >&2; exit 2 ;; esac
if { [ -n "${NTM_TESTS:-}" ] && [ -z "${NTM_VM_JOBS:-}" ]; } || [ "$JOBS" -le 1 ]; then
	exec $VM ${NTM_VM_TIMEOUT:+--timeout "$NTM_VM_TIMEOUT"} -- tests/selftests/run.sh
fi

declare -A weight=(
	[ntm_signalling]=373 [ntm_rekey_cases]=370 [ntm_ike]=340 [ntm_relay_cases]=318
	[ntm_relay_nat]=277 [ntm_sigflood]=215 [ntm_relay]=198 [ntm_basic]=195
	[ntm_rekey]=182 [ntm_lifetime]=170 [ntm_esp]=158 [ntm_acquire]=153
	[ntm_tunnel_life]=147 [ntm_keyrecovery]=116 [ntm_tamper]=110 [ntm_fuzz]=108
	[ntm_esp_scale]=101 [ntm_roaming]=91 [ntm_metrics]=86 [ntm_ike_rekey]=85
	[ntm_crypto]=95 [ntm_nlfuzz]=71 [ntm_async]=65 [ntm_replay]=57 [ntm_socket]=50 [ntm_unload]=45
	[ntm_netlink]=36 [ntm_scale]=32 [ntm_restart]=28 [ntm_secrets]=22
)

# every suite (or those NTM_TESTS names: "basic" or "ntm_basic"), longest first
if [ -n "${NTM_TESTS:-}" ]; then
	named=()
	for t in $NTM_TESTS; do
		t=$(basename "${t%.sh}")
		[ -f "tests/selftests/$t.sh" ] || t=ntm_$t
		[ -f "tests/selftests/$t.sh" ] || { echo "vm-test: no such test: ${t#ntm_}" >&2; exit 2; }
		named+=("tests/selftests/$t.sh")
	done
else
	named=(tests/selftests/ntm_*.sh)
fi
mapfile -t suites < <(for f in "${named[@]}"; do
	t=$(basename "$f" .sh)
	echo "${weight[$t]:-120} $t"
done | sort -k1,1nr -k2,2 -u | cut -d' ' -f2)

declare -a load groups
for ((i = 0; i < JOBS; i++)); do
	load[i]=0
	groups[i]=""
done
for t in "${suites[@]}"; do
	best=0
	for ((i = 1; i < JOBS; i++)); do
		[ "${load[i]}" -lt "${load[best]}" ] && best=$i
	done
	groups[best]="${groups[best]} $t"
	load[best]=$((load[best] + ${weight[$t]:-120}))
done
# ntm_unload unloads the module: last in its VM, whatever its weight
for ((i = 0; i < JOBS; i++)); do
	case " ${groups[i]} " in
	*" ntm_unload "*) groups[i]="$(printf '%s' "${groups[i]}" | sed 's/ ntm_unload//') ntm_unload" ;;
	esac
done

mkdir -p "$logdir"
declare -A pid_of_vm
declare -a rc t_end
t0=$SECONDS
for ((i = 0; i < JOBS; i++)); do
	[ -n "${groups[i]}" ] || continue
	echo "vm-test: VM $i (~${load[i]} s of suites):${groups[i]}"
	# a VM's share runs ~1.5x slower than alone: more than scripts/vm's
	# default 3000 s must be allowed before it counts as hung
	NTM_TESTS="${groups[i]# }" $VM --timeout "$VM_TIMEOUT" -- tests/selftests/run.sh </dev/null \
		>"$logdir/vm-test.$i.log" 2>&1 &
	pid_of_vm[$!]=$i
	# the VMs boot one after the other (staging the module, caches)
	sleep 5
done
echo "vm-test: logs in $logdir/vm-test.<n>.log; each is printed when its VM ends"

left=${#pid_of_vm[@]}
while [ "$left" -gt 0 ]; do
	wait -n -p done_pid
	st=$?
	[ -n "${done_pid:-}" ] || continue
	i=${pid_of_vm[$done_pid]}
	rc[i]=$st
	t_end[i]=$((SECONDS - t0))
	left=$((left - 1))
	echo
	echo "======================================== vm-test: VM $i ended (exit $st, ${t_end[i]} s)"
	cat "$logdir/vm-test.$i.log"
done

echo
echo "======================================== vm-test summary ($((SECONDS - t0)) s)"
failed=0
for ((i = 0; i < JOBS; i++)); do
	[ -n "${groups[i]}" ] || continue
	if [ "${rc[i]}" = 0 ]; then
		printf '  PASS  VM %d %5s s:%s\n' "$i" "${t_end[i]}" "${groups[i]}"
	else
		printf '  FAIL  VM %d %5s s (exit %s, log %s):%s\n' "$i" "${t_end[i]}" "${rc[i]}" \
			"$logdir/vm-test.$i.log" "${groups[i]}"
		grep -E '^(/|[^ ]*/)?[^ ]*ntm_[a-z_]+\.sh .*(Wstat|Failed)|^  Failed tests' \
			"$logdir/vm-test.$i.log" | sed 's/^/        /'
		failed=1
	fi
done
exit $failed
