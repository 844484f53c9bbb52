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
# two-VM make check run on a 2-core machine, 2026-12-06; ntm_esp,
# ntm_esp_scale and ntm_relay scaled by their speed-up alone from D105); a
# suite missing from the table counts as 120 s.  Every VM runs its own
# kernel, so each has its own ntm.ko and its own ntm_unload at the end.
#
# With NTM_TESTS set (make vm-test NTM_TESTS="basic esp"), or NTM_VM_JOBS=1,
# one VM runs the tests and prints as it goes, as before.
#
# Output: each VM's log is kept in build/check/vm-test.<n>.log and printed
# whole when that VM ends; the last lines are a per-VM summary.

set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
VM=${VM:-scripts/vm}
JOBS=${NTM_VM_JOBS:-2}
logdir=build/check

if [ -n "${NTM_TESTS:-}" ] || [ "$JOBS" -le 1 ]; then
	exec $VM -- tests/selftests/run.sh
fi

declare -A weight=(
	[ntm_signalling]=442 [ntm_esp]=232 [ntm_relay]=247 [ntm_rekey_cases]=338
	[ntm_esp_scale]=156 [ntm_ike]=292 [ntm_relay_nat]=290 [ntm_relay_cases]=271
	[ntm_basic]=262 [ntm_tamper]=213 [ntm_rekey]=187 [ntm_lifetime]=186
	[ntm_sigflood]=185 [ntm_acquire]=180 [ntm_tunnel_life]=174
	[ntm_metrics]=151 [ntm_keyrecovery]=138 [ntm_ike_rekey]=115 [ntm_async]=107 [ntm_nlfuzz]=103
	[ntm_fuzz]=100 [ntm_roaming]=88 [ntm_netlink]=71 [ntm_socket]=66
	[ntm_replay]=65 [ntm_scale]=31 [ntm_secrets]=29 [ntm_restart]=28
	[ntm_unload]=23
)

# every suite, longest first
mapfile -t suites < <(for f in tests/selftests/ntm_*.sh; do
	t=$(basename "$f" .sh)
	echo "${weight[$t]:-120} $t"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2)

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
	NTM_TESTS="${groups[i]# }" $VM --timeout 4200 -- tests/selftests/run.sh </dev/null \
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
