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
 *
 * The queue is bounded in packets (acquire_qlen) and in bytes (truesize,
 * NTM_ACQUIRE_BYTES_PER_PKT per packet of the bound), and one destination
 * holds at most its share of both (NTM_ACQUIRE_DST_SHARE), so a flood
 * toward an address that never resolves leaves room for the others.  The
 * event is decided before the packet is queued: a destination whose packet
 * does not fit is still announced (D82).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <net/ipv6.h>
#include "ntm.h"
#include "ntm_events.h"

struct ntm_acquire_cb {
	unsigned long enqueued;
	u32 truesize;			/* as charged to the bounds */
	u16 slot;			/* index in acq->dst[] */
};

static struct ntm_acquire_cb *ntm_acb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct ntm_acquire_cb) > sizeof(skb->cb));
	return (struct ntm_acquire_cb *)skb->cb;
}

/* Under acq->lock: take @skb out of the queue and uncharge it. */
static void ntm_acq_unlink(struct ntm_acquire *acq, struct sk_buff *skb)
{
	struct ntm_acquire_cb *cb = ntm_acb(skb);
	struct ntm_acquire_slot *s = &acq->dst[cb->slot];

	__skb_unlink(skb, &acq->queue);
	s->qlen--;
	s->bytes -= cb->truesize;
	acq->bytes -= cb->truesize;
}

/* Count @n packets dropped from the acquire queue for reason @stat. */
static void ntm_acq_drop_count(struct ntm_dev *nd, unsigned int stat,
			       unsigned int n)
{
	ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), n);
	ntm_dev_count(nd, stat, n);
	while (n--)
		dev_core_stats_tx_dropped_inc(nd->dev);
}

static void ntm_acquire_timer(struct timer_list *timer)
{
	struct ntm_dev *nd = from_timer(nd, timer, acq.timer);
	struct ntm_acquire *acq = &nd->acq;
	unsigned long timeout = msecs_to_jiffies(NTM_ACQUIRE_TIMEOUT_MS);
	unsigned int dropped = 0, stat;
	struct sk_buff_head old;
	struct sk_buff *skb;

	__skb_queue_head_init(&old);
	spin_lock_bh(&acq->lock);
	while ((skb = skb_peek(&acq->queue)) &&
	       time_after_eq(jiffies, ntm_acb(skb)->enqueued + timeout)) {
		ntm_acq_unlink(acq, skb);
		__skb_queue_tail(&old, skb);
		dropped++;
	}
	if (skb)
		mod_timer(&acq->timer, ntm_acb(skb)->enqueued + timeout);
	spin_unlock_bh(&acq->lock);

	if (dropped) {
		stat = NTM_STAT(DROP_ACQUIRE_TIMEOUT);
		ntm_acq_drop_count(nd, stat, dropped);
		while ((skb = __skb_dequeue(&old)))
			kfree_skb_reason(skb, ntm_drop_reason(stat));
	}
}

void ntm_acquire_init(struct ntm_dev *nd)
{
	spin_lock_init(&nd->acq.lock);
	skb_queue_head_init(&nd->acq.queue);
	nd->acq.bytes = 0;
	timer_setup(&nd->acq.timer, ntm_acquire_timer, 0);
	memset(nd->acq.dst, 0, sizeof(nd->acq.dst));
	nd->acq.overflow_sent = false;
}

void ntm_acquire_destroy(struct ntm_dev *nd)
{
	del_timer_sync(&nd->acq.timer);
	skb_queue_purge(&nd->acq.queue);
	nd->acq.bytes = 0;
	memset(nd->acq.dst, 0, sizeof(nd->acq.dst));
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

/* Whether free slot @a is a better one to reuse than @b. */
static bool ntm_slot_before(const struct ntm_acquire_slot *a,
			    const struct ntm_acquire_slot *b)
{
	if (!a->family || !b->family)
		return !a->family && b->family;
	if (!a->notified || !b->notified)
		return !a->notified && b->notified;
	return time_before(a->when, b->when);
}

/*
 * Under acq->lock: the slot of @dst, or a new one in the free slot used
 * longest ago (its rate limit is forgotten).  NULL when every slot holds
 * packets: NTM_ACQUIRE_SLOTS destinations wait already.
 */
static struct ntm_acquire_slot *ntm_acq_slot(struct ntm_acquire *acq,
					     int family, const void *dst)
{
	struct ntm_acquire_slot *s, *free = NULL;
	unsigned int i;

	for (i = 0; i < NTM_ACQUIRE_SLOTS; i++) {
		s = &acq->dst[i];
		if (ntm_slot_match(s, family, dst))
			return s;
		if (!s->qlen && (!free || ntm_slot_before(s, free)))
			free = s;
	}
	if (!free)
		return NULL;
	memset(free, 0, sizeof(*free));
	free->family = family;
	if (family == AF_INET)
		free->a4 = *(const __be32 *)dst;
	else
		free->a6 = *(const struct in6_addr *)dst;
	return free;
}

/*
 * Under acq->lock: true if an event should go out for the destination of
 * @s, one per NTM_ACQUIRE_INTERVAL_MS; without a slot, one per interval
 * for all of them.
 */
static bool ntm_acquire_should_notify(struct ntm_acquire *acq,
				      struct ntm_acquire_slot *s)
{
	unsigned long interval = msecs_to_jiffies(NTM_ACQUIRE_INTERVAL_MS);

	if (!s) {
		if (acq->overflow_sent &&
		    time_before(jiffies, acq->overflow_when + interval))
			return false;
		acq->overflow_sent = true;
		acq->overflow_when = jiffies;
		return true;
	}
	if (s->notified && time_before(jiffies, s->when + interval))
		return false;
	s->notified = true;
	s->when = jiffies;
	return true;
}

/*
 * Under acq->lock: queue @skb for the destination of @s.  Returns 0, or
 * the counter of the bound that refused it.  The first packet of an empty
 * queue and the first of a destination always fit their byte bound, so a
 * packet larger than a share can still wait.
 */
static int ntm_acq_enqueue(struct ntm_dev *nd, struct ntm_acquire_slot *s,
			   struct sk_buff *skb)
{
	struct ntm_acquire *acq = &nd->acq;
	u32 qlen = READ_ONCE(nd->acquire_qlen);
	u32 bmax = qlen * NTM_ACQUIRE_BYTES_PER_PKT;
	u32 dmax = min(max_t(u32, qlen / NTM_ACQUIRE_DST_SHARE,
			     NTM_ACQUIRE_DST_MIN), qlen);
	u32 ts = skb->truesize;
	u32 n = skb_queue_len(&acq->queue);

	if (!s || n >= qlen || (n && acq->bytes + ts > bmax))
		return NTM_STAT(DROP_ACQUIRE_FULL);
	if (s->qlen && (s->qlen >= dmax ||
			s->bytes + ts > dmax * NTM_ACQUIRE_BYTES_PER_PKT))
		return NTM_STAT(DROP_ACQUIRE_DST);

	ntm_acb(skb)->enqueued = jiffies;
	ntm_acb(skb)->truesize = ts;
	ntm_acb(skb)->slot = s - acq->dst;
	__skb_queue_tail(&acq->queue, skb);
	s->qlen++;
	s->bytes += ts;
	acq->bytes += ts;
	if (!timer_pending(&acq->timer))
		mod_timer(&acq->timer, jiffies +
			  msecs_to_jiffies(NTM_ACQUIRE_TIMEOUT_MS));
	return 0;
}

/* The inner family and destination address of @skb. */
static int ntm_acq_daddr(struct sk_buff *skb, u8 *dst, u8 *src)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		memcpy(dst, &ip_hdr(skb)->daddr, 4);
		if (src)
			memcpy(src, &ip_hdr(skb)->saddr, 4);
		return AF_INET;
	}
	memcpy(dst, &ipv6_hdr(skb)->daddr, 16);
	if (src)
		memcpy(src, &ipv6_hdr(skb)->saddr, 16);
	return AF_INET6;
}

/* Transmit path, BH disabled: no tunnel for the destination of @skb. */
void ntm_acquire_packet(struct ntm_dev *nd, struct sk_buff *skb)
{
	struct ntm_acquire *acq = &nd->acq;
	struct ntm_acquire_slot *s;
	u8 dst[16], src[16];
	bool notify;
	int family, stat;

	family = ntm_acq_daddr(skb, dst, src);

	if ((READ_ONCE(nd->flags) & NTM_DEV_F_NO_ACQUIRE) ||
	    !READ_ONCE(nd->acquire_qlen)) {
		ntm_dev_count(nd, NTM_STAT(DROP_NO_TUNNEL), 1);
		dev_core_stats_tx_dropped_inc(nd->dev);
		kfree_skb_reason(skb, SKB_DROP_REASON_IP_OUTNOROUTES);
		return;
	}

	/* the packet may wait: keep its route and drop socket accounting */
	skb_dst_force(skb);
	skb_orphan(skb);

	spin_lock(&acq->lock);
	s = ntm_acq_slot(acq, family, dst);
	/* decided first: a destination whose packet finds no room is announced */
	notify = ntm_acquire_should_notify(acq, s);
	stat = ntm_acq_enqueue(nd, s, skb);
	spin_unlock(&acq->lock);

	if (stat) {
		ntm_acq_drop_count(nd, stat, 1);
		kfree_skb_reason(skb, ntm_drop_reason(stat));
	} else {
		ntm_dev_count(nd, NTM_STAT(ACQUIRE_QUEUED), 1);
	}
	if (notify)
		ntm_event_acquire(nd, family, dst, src);
}

/*
 * Transmit path, BH disabled, RCU: @skb is for @t, a new tunnel held until
 * the peer confirms it.  The packet waits in the acquire queue (same bounds,
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
	u8 dst[16];
	int family, stat;

	skb_dst_force(skb);
	skb_orphan(skb);
	family = ntm_acq_daddr(skb, dst, NULL);

	spin_lock(&acq->lock);
	if (!READ_ONCE(t->held)) {
		spin_unlock(&acq->lock);
		return false;
	}
	stat = ntm_acq_enqueue(nd, ntm_acq_slot(acq, family, dst), skb);
	spin_unlock(&acq->lock);
	if (stat) {
		ntm_acq_drop_count(nd, stat, 1);
		kfree_skb_reason(skb, ntm_drop_reason(stat));
	} else {
		ntm_dev_count(nd, NTM_STAT(ACQUIRE_QUEUED), 1);
	}
	return true;
}

/*
 * Under RCU: whether @t is the ESP SA that traffic to @addr takes now, the
 * longest remote_ts match among the ESP SAs present whose local_ts takes
 * @saddr.  A packet that a
 * narrower SA still to come is meant for keeps waiting for it.
 */
static bool ntm_acquire_esp_best(struct ntm_dev *nd, struct ntm_tunnel *t,
				 int family, const void *addr,
				 const void *saddr)
{
	struct ntm_tunnel *best;

	if (!ntm_ts_match(&t->esp->remote_ts, family, addr))
		return false;
	best = ntm_tunnel_peek_ts(nd, family, addr, saddr);
	if (best)
		ntm_tunnel_put(best);
	return best == t;
}

static bool ntm_acquire_match(struct ntm_dev *nd, struct ntm_tunnel *t,
			      struct sk_buff *skb)
{
	if (t->esp) {
		if (skb->protocol == htons(ETH_P_IP))
			return ntm_acquire_esp_best(nd, t, AF_INET,
						    &ip_hdr(skb)->daddr,
						    &ip_hdr(skb)->saddr);
		return ntm_acquire_esp_best(nd, t, AF_INET6,
					    &ipv6_hdr(skb)->daddr,
					    &ipv6_hdr(skb)->saddr);
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
	rcu_read_lock();
	spin_lock_bh(&acq->lock);
	skb_queue_walk_safe(&acq->queue, skb, tmp) {
		if (ntm_acquire_match(nd, t, skb)) {
			ntm_acq_unlink(acq, skb);
			__skb_queue_tail(&ready, skb);
		}
	}
	/* a later miss for these addresses notifies again at once */
	for (i = 0; i < NTM_ACQUIRE_SLOTS; i++) {
		struct ntm_acquire_slot *s = &acq->dst[i];

		if ((t->has_vip4 && ntm_slot_match(s, AF_INET, &t->vip4)) ||
		    (t->has_vip6 && ntm_slot_match(s, AF_INET6, &t->vip6)))
			s->notified = false;
		else if (t->esp && s->family &&
			 ntm_ts_match(&t->esp->remote_ts, s->family, &s->a4))
			s->notified = false;
	}
	spin_unlock_bh(&acq->lock);
	rcu_read_unlock();

	local_bh_disable();
	rcu_read_lock();
	while ((skb = __skb_dequeue(&ready))) {
		if (refcount_inc_not_zero(&t->ref)) {
			ntm_xmit_tunnel(t, skb);
		} else {
			ntm_dev_count(nd, NTM_STAT(DROP_ACQUIRE), 1);
			kfree_skb_reason(skb,
					 ntm_drop_reason(NTM_STAT(DROP_ACQUIRE)));
		}
	}
	rcu_read_unlock();
	local_bh_enable();
}
