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
# HZ=250) and fires up to that much after its expiry.  Pings from B reach
# A 0.3 s after A's deadline: with the per-packet check none is accepted;
# with the timer alone they almost always are (it fires within the first
# 1.2 s of its slack about one time in fourteen).
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
rx0=$(dstat stats.rx_packets) de0=$(dstat stats.drop_expired)
# until 0.3 s after the latest possible deadline
sleep "$(echo "w = $t1 + $LT + 0.3 - $(uptime_s); if (w < 0) w = 0; w" | bc)"
got=$(B ping -n -c 4 -i 0.2 -W 1 $VIP4_A 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p')
got=${got:-0}
late=$(echo "$(uptime_s) - $t1 - $LT" | bc)
rx1=$(dstat stats.rx_packets) de1=$(dstat stats.drop_expired)
left=$(nctl "$NS_A" -j device show $NTM_DEV 2>/dev/null | $NTMJSON get num_tunnels)
ktap_diag "pings from B answered $got/4 (done ${late} s after the deadline); A: rx_packets +$((rx1 - rx0)), drop_expired +$((de1 - de0)), tunnels left $left"
ktap_result "hard lifetime checked per packet: nothing accepted after it, before the timer ran" \
	$([ "$got" -eq 0 ] && [ "$rx1" -eq "$rx0" ] && echo 0 || echo 1)

ktap_finish
