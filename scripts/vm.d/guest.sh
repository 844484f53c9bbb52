#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stage 2 of a scripts/vm guest: PID 1 after switch_root into the host root
# (the initramfs /init did the mounts), or with --systemd the service
# ntm-vm.service of systemd, PID 1.  Runs the command (or a shell),
# writes its exit status into the run share and powers the VM off.
# /run/ntm-vm/{config,env,cmd} are written by scripts/vm on the host.

R=/run/ntm-vm
. $R/config

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8 SHELL=/bin/bash
unset LS_COLORS

set -a
. $R/env
set +a
. $R/cmd

if ! cd "$CWD" 2>/dev/null; then
	echo "vm: $CWD does not exist in the guest, running in /" >&2
	cd /
fi
ulimit -c 0
ulimit -n 65536 2>/dev/null

uptime() { local u; read -r u _ </proc/uptime; echo "$u"; }
[ -n "$VM_DEBUG" ] && echo "vm: command starts at $(uptime) s (guest uptime)" >&2

# kmemleak: the objects that look leaked already (boot) are not ours.
# An object is reported once two scans found it unreferenced and unchanged.
kmemleak() { echo "$1" >/sys/kernel/debug/kmemleak; }
if [ "$KMEMLEAK" = 1 ] && [ -w /sys/kernel/debug/kmemleak ]; then
	t=$(uptime)
	kmemleak scan && kmemleak scan && kmemleak clear
	echo "vm: kmemleak: boot objects cleared in $(echo "$(uptime) - $t" | bc) s" >&2
fi

if [ "$MODE" = shell ]; then
	echo "vm: kernel $(uname -r) in qemu; cwd $PWD; 'exit' or Ctrl-D powers off," \
		"Ctrl-A x kills qemu"
	TERM=${HOST_TERM:-vt100} setsid -c /bin/bash -i </dev/ttyS0 >/dev/ttyS0 2>&1
	rc=$?
else
	"${CMD[@]}" </dev/null
	rc=$?
fi

[ -n "$VM_DEBUG" ] && echo "vm: command done at $(uptime) s" >&2
if [ "$KMEMLEAK" = 1 ] && [ -w /sys/kernel/debug/kmemleak ]; then
	# kfree_rcu() batches and deferred work hold objects for a few seconds.
	t=$(uptime)
	sleep 6
	kmemleak scan && kmemleak scan
	cat /sys/kernel/debug/kmemleak >$R/kmemleak.tmp && mv $R/kmemleak.tmp $R/kmemleak
	echo "vm: kmemleak: scanned in $(echo "$(uptime) - $t" | bc) s," \
		"$(grep -c '^unreferenced object' $R/kmemleak) report(s)" >&2
fi
# Let the kernel log reader catch up with the last messages, then stop it.
read -r -t 0.2 <> <(:) 2>/dev/null
read -r kmsg_pid <$R/kmsg.pid && kill "$kmsg_pid" 2>/dev/null
# 9p with cache=none writes through: the host sees the file at once.
echo "$rc" >$R/status
echo 1 >/proc/sys/kernel/printk
exec "$BUSYBOX" poweroff -f
