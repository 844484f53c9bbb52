/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the data and table code (tunnel.c, ntm_encap.c, relay.c, acquire.c)
 * reports to user space: the multicast events of the ntm family, and
 * nothing else of the netlink side.  netlink.c implements them; each
 * builds its message with GFP_ATOMIC and may be called from any context,
 * a lost message is counted in NTM_STAT_A_EVENT_NOMEM.
 */
#ifndef _NTM_EVENTS_H
#define _NTM_EVENTS_H

#include <linux/types.h>

struct ntm_dev;
struct ntm_tunnel;
struct ntm_relay_info;
union ntm_sockaddr;

void ntm_event_acquire(struct ntm_dev *nd, int family, const void *dst,
		       const void *src);
void ntm_event_endpoint(struct ntm_tunnel *t, const union ntm_sockaddr *ep);
void ntm_event_expired(struct ntm_dev *nd, u32 local_index, u32 remote_index,
		       u32 reason);
void ntm_event_relay_expired(struct ntm_dev *nd,
			     const struct ntm_relay_info *info, u32 reason);
void ntm_event_takeover(struct ntm_dev *nd, u32 local_index, u32 remote_index,
			u32 replaces);

#endif /* _NTM_EVENTS_H */
