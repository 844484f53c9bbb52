#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_lifetime.sh - a tunnel's hard lifetime is enforced per packet on
# CLOCK_BOOTTIME, not only by the lifetime timer (D62).
#
# The real case is a suspend: jiffies, and with them the timer, stand still
# while boottime runs on, so after a resume only the per-packet check stops
# an expired key.  A suspend does not survive this VM (the root file system
# is virtio-9p, which has no suspend/resume support: the guest hangs after
# "PM: suspend exit"), so the test uses the timer wheel's slack instead: a
# timer 140 s out sits in a wheel level of 4096-jiffy granularity (16 s at
# HZ=250) and fires up to that much after its expiry.  B pings A every
# 0.2 s across A's deadline: with the per-packet check no request that
# reaches A more than 0.5 s after the deadline is answered; with the timer
# alone some almost always are (it fires within the first 0.7 s of its
# slack about one time in twenty).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 2
topo_need_ntm
topo_setup_or_bail

LT=140
uptime_s() { cut -d' ' -f1 /proc/uptime; } # CLOCK_BOOTTIME, 10 ms steps
TUN_KEY=$(topo_hex 32)
TUN_SALT_AB=$(topo_hex 4)
TUN_SALT_BA=$(topo_hex 4)
while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
topo_tunnel_add "$NS_B" chacha20-poly1305 4 "$TUN_KEY" || ktap_bail "tunnel add in B failed"
t0=$(uptime_s)
topo_tunnel_add "$NS_A" chacha20-poly1305 4 "$TUN_KEY" --lifetime $LT || ktap_bail "tunnel add in A failed"
t1=$(uptime_s)
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 || ktap_bail "no ping through the tunnel"
ktap_ok "setup: A's tunnel with a $LT s hard lifetime carries traffic (created within $(echo "$t1 - $t0" | bc) s)"

dstat() { num "$(topo_dstat "$NS_A" "$1")"; }
# CLOCK_BOOTTIME -> CLOCK_REALTIME offset (constant: no suspend, no NTP)
off=$($PY -c 'import time; print(time.time() - time.clock_gettime(time.CLOCK_BOOTTIME))')
dl=$(echo "$t1 + $LT + $off" | bc) # latest possible deadline, realtime
de0=$(dstat stats.drop_expired) dn0=$(dstat stats.drop_no_tunnel)
# B pings A from 3 s before the deadline to 5 s after it, every 0.2 s,
# with the reception time of each reply (ping -D)
sleep "$(echo "w = $t1 + $LT - 3 - $(uptime_s); if (w < 0) w = 0; w" | bc)"
B ping -D -n -c 40 -i 0.2 -W 1 $VIP4_A >"$(topo_tmpdir)/ping.out" 2>&1
de1=$(dstat stats.drop_expired) dn1=$(dstat stats.drop_no_tunnel)
# replies received more than 0.5 s after the deadline (the request reached
# A after the deadline), and more than 0.5 s before it
late=$(awk -v d="$dl" '/bytes from/ { t = substr($1, 2, length($1) - 2) + 0; if (t > d + 0.5) n++ } END { print n + 0 }' "$(topo_tmpdir)/ping.out")
early=$(awk -v d="$dl" '/bytes from/ { t = substr($1, 2, length($1) - 2) + 0; if (t < d - 0.5) n++ } END { print n + 0 }' "$(topo_tmpdir)/ping.out")
last=$(awk '/bytes from/ { t = substr($1, 2, length($1) - 2) } END { print t }' "$(topo_tmpdir)/ping.out")
ktap_diag "replies: $early before the deadline, $late later than 0.5 s after it (last reply $(echo "${last:-0} - $dl" | bc) s from the deadline); A: drop_expired +$((de1 - de0)), drop_no_tunnel +$((dn1 - dn0))"
ktap_result "hard lifetime checked per packet: nothing accepted after it, before the timer ran" \
	$([ "$early" -ge 1 ] && [ "$late" -eq 0 ] && echo 0 || echo 1)

ktap_finish
