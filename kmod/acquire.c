// SPDX-License-Identifier: GPL-2.0
/*
 * acquire.c - packets for destinations that have no tunnel yet.
 *
 * Like xfrm's ACQUIRE: the first packets toward an unknown virtual address
 * are held in a small bounded per-device queue and an event tells ntmd to
 * build the tunnel.  When the tunnel appears the held packets leave through
 * it, so the connection attempt that triggered the lookup is not lost.
 * Events are rate-limited per destination; packets older than
 * NTM_ACQUIRE_TIMEOUT_MS are dropped and counted.  The same queue holds
 * what is sent to a new tunnel that waits for its peer's first packet.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <net/ipv6.h>
#include "ntm.h"

struct ntm_acquire_cb {
	unsigned long enqueued;
};

static struct ntm_acquire_cb *ntm_acb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct ntm_acquire_cb) > sizeof(skb->cb));
	return (struct ntm_acquire_cb *)skb->cb;
}

static void ntm_acquire_timer(struct timer_list *timer)
{
	struct ntm_dev *nd = from_timer(nd, timer, acq.timer);
	struct ntm_acquire *acq = &nd->acq;
	unsigned long timeout = msecs_to_jiffies(NTM_ACQUIRE_TIMEOUT_MS);
	struct sk_buff *skb;
	unsigned int dropped = 0;
	struct sk_buff_head old;

	__skb_queue_head_init(&old);
	spin_lock_bh(&acq->lock);
	while ((skb = skb_peek(&acq->queue)) &&
	       time_after_eq(jiffies, ntm_acb(skb)->enqueued + timeout)) {
		__skb_unlink(skb, &acq->queue);
		__skb_queue_tail(&old, skb);
		dropped++;
	}
	if (skb)
		mod_timer(&acq->timer, ntm_acb(skb)->enqueued + timeout);
	spin_unlock_bh(&acq->lock);

	if (dropped) {
		ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), dropped);
		while (dropped--)
			dev_core_stats_tx_dropped_inc(nd->dev);
		__skb_queue_purge(&old);
	}
}

void ntm_acquire_init(struct ntm_dev *nd)
{
	spin_lock_init(&nd->acq.lock);
	skb_queue_head_init(&nd->acq.queue);
	timer_setup(&nd->acq.timer, ntm_acquire_timer, 0);
	memset(nd->acq.recent, 0, sizeof(nd->acq.recent));
	nd->acq.next_slot = 0;
}

void ntm_acquire_destroy(struct ntm_dev *nd)
{
	del_timer_sync(&nd->acq.timer);
	skb_queue_purge(&nd->acq.queue);
}

static bool ntm_slot_match(const struct ntm_acquire_slot *s, int family,
			   const void *dst)
{
	if (s->family != family)
		return false;
	if (family == AF_INET)
		return s->a4 == *(const __be32 *)dst;
	return ipv6_addr_equal(&s->a6, dst);
}

/* Called under acq->lock: true if an event should go out for @dst. */
static bool ntm_acquire_should_notify(struct ntm_acquire *acq, int family,
				      const void *dst)
{
	unsigned long interval = msecs_to_jiffies(NTM_ACQUIRE_INTERVAL_MS);
	struct ntm_acquire_slot *s;
	unsigned int i;

	for (i = 0; i < NTM_ACQUIRE_SLOTS; i++) {
		s = &acq->recent[i];
		if (!ntm_slot_match(s, family, dst))
			continue;
		if (time_before(jiffies, s->when + interval))
			return false;
		s->when = jiffies;
		return true;
	}
	s = &acq->recent[acq->next_slot];
	acq->next_slot = (acq->next_slot + 1) % NTM_ACQUIRE_SLOTS;
	s->family = family;
	if (family == AF_INET)
		s->a4 = *(const __be32 *)dst;
	else
		s->a6 = *(const struct in6_addr *)dst;
	s->when = jiffies;
	return true;
}

/* Transmit path, BH disabled: no tunnel for the destination of @skb. */
void ntm_acquire_packet(struct ntm_dev *nd, struct sk_buff *skb)
{
	struct ntm_acquire *acq = &nd->acq;
	u8 dst[16], src[16];
	bool notify;
	int family;

	if (skb->protocol == htons(ETH_P_IP)) {
		family = AF_INET;
		memcpy(dst, &ip_hdr(skb)->daddr, 4);
		memcpy(src, &ip_hdr(skb)->saddr, 4);
	} else {
		family = AF_INET6;
		memcpy(dst, &ipv6_hdr(skb)->daddr, 16);
		memcpy(src, &ipv6_hdr(skb)->saddr, 16);
	}

	if ((READ_ONCE(nd->flags) & NTM_DEV_F_NO_ACQUIRE) ||
	    !READ_ONCE(nd->acquire_qlen)) {
		ntm_dev_count(nd, NTM_STAT(DROP_NO_TUNNEL), 1);
		dev_core_stats_tx_dropped_inc(nd->dev);
		kfree_skb(skb);
		return;
	}

	/* the packet may wait: keep its route and drop socket accounting */
	skb_dst_force(skb);
	skb_orphan(skb);
	ntm_acb(skb)->enqueued = jiffies;

	spin_lock(&acq->lock);
	if (skb_queue_len(&acq->queue) >= READ_ONCE(nd->acquire_qlen)) {
		spin_unlock(&acq->lock);
		ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), 1);
		dev_core_stats_tx_dropped_inc(nd->dev);
		kfree_skb(skb);
		return;
	}
	__skb_queue_tail(&acq->queue, skb);
	if (!timer_pending(&acq->timer))
		mod_timer(&acq->timer, jiffies +
			  msecs_to_jiffies(NTM_ACQUIRE_TIMEOUT_MS));
	notify = ntm_acquire_should_notify(acq, family, dst);
	spin_unlock(&acq->lock);

	ntm_dev_count(nd, NTM_STAT(ACQUIRE_QUEUED), 1);
	if (notify)
		ntm_event_acquire(nd, family, dst, src);
}

/*
 * Transmit path, BH disabled, RCU: @skb is for @t, a new tunnel held until
 * the peer confirms it.  The packet waits in the acquire queue (same bound,
 * same timeout, no event: the tunnel exists) and leaves through @t when
 * ntm_tunnel_activate() releases the queue.  Returns false when @t was
 * confirmed meanwhile: the caller sends @skb itself.  Checking @held under
 * acq->lock closes the race with the confirmation, which clears it before
 * it takes acq->lock to walk the queue.
 */
bool ntm_acquire_hold(struct ntm_dev *nd, struct ntm_tunnel *t,
		      struct sk_buff *skb)
{
	struct ntm_acquire *acq = &nd->acq;

	skb_dst_force(skb);
	skb_orphan(skb);
	ntm_acb(skb)->enqueued = jiffies;

	spin_lock(&acq->lock);
	if (!READ_ONCE(t->held)) {
		spin_unlock(&acq->lock);
		return false;
	}
	if (skb_queue_len(&acq->queue) >= READ_ONCE(nd->acquire_qlen)) {
		spin_unlock(&acq->lock);
		ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), 1);
		dev_core_stats_tx_dropped_inc(nd->dev);
		kfree_skb(skb);
		return true;
	}
	__skb_queue_tail(&acq->queue, skb);
	if (!timer_pending(&acq->timer))
		mod_timer(&acq->timer, jiffies +
			  msecs_to_jiffies(NTM_ACQUIRE_TIMEOUT_MS));
	spin_unlock(&acq->lock);
	ntm_dev_count(nd, NTM_STAT(ACQUIRE_QUEUED), 1);
	return true;
}

static bool ntm_acquire_match(const struct ntm_tunnel *t,
			      struct sk_buff *skb)
{
	if (t->esp) {
		if (skb->protocol == htons(ETH_P_IP))
			return ntm_ts_match(&t->esp->remote_ts, AF_INET,
					    &ip_hdr(skb)->daddr);
		return ntm_ts_match(&t->esp->remote_ts, AF_INET6,
				    &ipv6_hdr(skb)->daddr);
	}
	if (skb->protocol == htons(ETH_P_IP))
		return t->has_vip4 && ip_hdr(skb)->daddr == t->vip4;
	return t->has_vip6 && ipv6_addr_equal(&ipv6_hdr(skb)->daddr,
					      &t->vip6);
}

/*
 * A tunnel was added or confirmed (process context, or the receive path
 * with BH off): send what waited for it.
 */
void ntm_acquire_release(struct ntm_dev *nd, struct ntm_tunnel *t)
{
	struct ntm_acquire *acq = &nd->acq;
	struct sk_buff *skb, *tmp;
	struct sk_buff_head ready;
	unsigned int i;

	__skb_queue_head_init(&ready);
	spin_lock_bh(&acq->lock);
	skb_queue_walk_safe(&acq->queue, skb, tmp) {
		if (ntm_acquire_match(t, skb)) {
			__skb_unlink(skb, &acq->queue);
			__skb_queue_tail(&ready, skb);
		}
	}
	/* a later miss for these addresses notifies again at once */
	for (i = 0; i < NTM_ACQUIRE_SLOTS; i++) {
		struct ntm_acquire_slot *s = &acq->recent[i];

		if ((t->has_vip4 && ntm_slot_match(s, AF_INET, &t->vip4)) ||
		    (t->has_vip6 && ntm_slot_match(s, AF_INET6, &t->vip6)))
			s->family = 0;
		else if (t->esp && s->family &&
			 ntm_ts_match(&t->esp->remote_ts, s->family, &s->a4))
			s->family = 0;
	}
	spin_unlock_bh(&acq->lock);

	local_bh_disable();
	rcu_read_lock();
	while ((skb = __skb_dequeue(&ready))) {
		if (refcount_inc_not_zero(&t->ref)) {
			ntm_xmit_tunnel(t, skb);
		} else {
			ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), 1);
			kfree_skb(skb);
		}
	}
	rcu_read_unlock();
	local_bh_enable();
}
