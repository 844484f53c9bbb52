// SPDX-License-Identifier: GPL-2.0
/*
 * relay.c - the Relay Server fast path: NTM data messages between the two
 * legs of a relay session, forwarded with new outer IP/UDP headers and
 * never decrypted (Documentation/protocol/relay-data.rst).
 *
 * A session joins leg 1 = (ep1, idx1) and leg 2 = (ep2, idx2), where idxN
 * is the receiver index leg N's node chose: leg 1 sends messages carrying
 * idx2, leg 2 messages carrying idx1.  Receiver indexes are unique only
 * per node, never at the relay, so a leg is found by (source address,
 * source port, receiver index): leg N's key is (the other leg's endpoint,
 * idxN), and a message that matches it goes to legN's endpoint.  That
 * endpoint is stored once, as the source part of the other leg's key.
 *
 * A data message on a relaying device that no leg accepts (a wrong source
 * for its index, or an index no leg has) is a source mismatch: counted on
 * the device and dropped, never given to the tunnel path, unless the
 * device has a tunnel of its own with that index (an RS may be a node too;
 * the tunnel's AEAD then decides).  There is no second table by index to
 * charge the mismatch to a session: at 100k sessions it cost 80 bytes a
 * session (decisions.rst D53).  The kernel never moves a leg: ntmd does,
 * with NTM_CMD_SET_RELAY, after it authenticated the node at its new
 * address.
 *
 * Readers (the UDP encap_rcv softirq) use RCU only.  Writers hold
 * nd->lock.  A leg moves by taking its key out of the forwarding table,
 * waiting for readers, rewriting it and putting it back; the copy of the
 * endpoint that the other direction sends to is read under a seqcount.
 * Limits and idleness are checked by one delayed work per device, kicked
 * at once when a datagram reaches a limit and otherwise run every
 * NTM_RELAY_SCAN_S seconds while some session has an idle timeout: no
 * timer per session and no work per packet.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#include <net/route.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/inet_sock.h>
#include "ntm.h"
#include "ntm_events.h"

/*
 * Hash key of a leg: the source it accepts messages from and its own
 * receiver index.  @side is not part of the key (see ntm_relay_fwd_params)
 * and tells which leg of its session the entry is.
 */
struct ntm_relay_key {
	union {
		__be32 a4;
		struct in6_addr a6;
	} addr;
	__be32 index;
	__be16 port;
	u8 family;
	u8 side;
};

#define NTM_RELAY_KEY_LEN	offsetof(struct ntm_relay_key, side)

struct ntm_relay_leg {
	struct rhash_head fwd;		/* nd->relay_ht, by key */
	struct ntm_relay_key key;
	/* datagrams and bytes forwarded towards this leg */
	atomic64_t packets;
	atomic64_t bytes;
};

struct ntm_relay {
	struct ntm_relay_leg leg[2];
	struct rb_node rb;		/* nd->relay_by_id, under nd->lock */
	struct rcu_head rcu;
	u64 hard_bytes;			/* READ_ONCE on the packet path */
	u64 hard_packets;
	atomic_t drop_tx;
	/*
	 * Low 32 bits of jiffies at the last datagram: idle times are right
	 * up to 2^32 jiffies (198 days at HZ=250), far beyond the longest
	 * idle timeout (NTM_RELAY_IDLE_MAX, a week).
	 */
	u32 last_active;
	u32 id;
	u32 created_s;			/* ktime_get_boottime_seconds() */
	u32 idle_timeout;		/* seconds, 0: none */
	u32 expire_reason;		/* set once, by the first limit hit */
	/* endpoints moved by SET_RELAY: the destination copy in leg[].key */
	seqcount_t ep_seq;
	bool unlinked;
};

/*
 * 100 000 sessions in at most 256 bytes each (issue 9): their 200 000 legs
 * make the forwarding table grow to 2^19 buckets of 8 bytes; with its
 * header that array takes a 6 MiB vmalloc area in the VM (63 bytes a
 * session, measured by make bench-relay), which leaves 193 for the object
 * and its share of a slab page: 184 bytes, 22 to a page, 186 each.
 */
#define NTM_RELAY_OBJ_MAX	184

static struct kmem_cache *ntm_relay_cache;

static const struct rhashtable_params ntm_relay_fwd_params = {
	.key_len = NTM_RELAY_KEY_LEN,
	.key_offset = offsetof(struct ntm_relay_leg, key),
	.head_offset = offsetof(struct ntm_relay_leg, fwd),
	.automatic_shrinking = true,
};

int ntm_relay_cache_init(void)
{
	/*
	 * sessions only: 100k of them must stay within 256 bytes each; lock
	 * debugging (lockdep, make check-debug) makes the locks bigger
	 */
	if (!IS_ENABLED(CONFIG_DEBUG_SPINLOCK) && !IS_ENABLED(CONFIG_DEBUG_LOCK_ALLOC))
		BUILD_BUG_ON(sizeof(struct ntm_relay) > NTM_RELAY_OBJ_MAX);
	ntm_relay_cache = KMEM_CACHE(ntm_relay, SLAB_ACCOUNT);
	return ntm_relay_cache ? 0 : -ENOMEM;
}

void ntm_relay_cache_exit(void)
{
	kmem_cache_destroy(ntm_relay_cache);
}

static struct ntm_relay *ntm_relay_of(const struct ntm_relay_leg *leg)
{
	return container_of(leg - leg->key.side, struct ntm_relay, leg[0]);
}

static void ntm_relay_work(struct work_struct *work);

int ntm_relay_init(struct ntm_dev *nd)
{
	int err;

	/* nothing is queued before the first session */
	INIT_DELAYED_WORK(&nd->relay_work, ntm_relay_work);
	err = rhashtable_init(&nd->relay_ht, &ntm_relay_fwd_params);
	if (err)
		return err;
	nd->relay_by_id = RB_ROOT;
	nd->num_relays = 0;
	nd->relay_idle_n = 0;
	nd->max_relays = NTM_RELAY_MAX_DEFAULT;
	return 0;
}

/* After ntm_relay_stop() and with every session removed. */
void ntm_relay_destroy(struct ntm_dev *nd)
{
	rhashtable_destroy(&nd->relay_ht);
}

/* Device teardown, after nd->dead was set: no work runs after this. */
void ntm_relay_stop(struct ntm_dev *nd)
{
	cancel_delayed_work_sync(&nd->relay_work);
}

/* Queue the scan after @delay unless the device is going away. */
static void ntm_relay_arm(struct ntm_dev *nd, unsigned long delay, bool now)
{
	unsigned long flags;

	spin_lock_irqsave(&nd->expire_lock, flags);
	if (!nd->dead) {
		if (now)
			mod_delayed_work(ntm_wq, &nd->relay_work, 0);
		else
			queue_delayed_work(ntm_wq, &nd->relay_work, delay);
	}
	spin_unlock_irqrestore(&nd->expire_lock, flags);
}

static void ntm_relay_key_set(struct ntm_relay_key *k,
			      const union ntm_sockaddr *ep, u32 index)
{
	u8 side = k->side;

	memset(k, 0, sizeof(*k));
	k->side = side;
	k->family = ep->sa.sa_family;
	k->index = cpu_to_be32(index);
	if (k->family == AF_INET) {
		k->addr.a4 = ep->sin.sin_addr.s_addr;
		k->port = ep->sin.sin_port;
	} else {
		k->addr.a6 = ep->sin6.sin6_addr;
		k->port = ep->sin6.sin6_port;
	}
}

static void ntm_relay_key_ep(const struct ntm_relay_key *k,
			     union ntm_sockaddr *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->sa.sa_family = k->family;
	if (k->family == AF_INET) {
		ep->sin.sin_addr.s_addr = k->addr.a4;
		ep->sin.sin_port = k->port;
	} else {
		ep->sin6.sin6_addr = k->addr.a6;
		ep->sin6.sin6_port = k->port;
	}
}

static bool ntm_relay_key_equal(const struct ntm_relay_key *a,
				const struct ntm_relay_key *b)
{
	return !memcmp(a, b, NTM_RELAY_KEY_LEN);
}

/* ---- control plane (nd->lock) ------------------------------------------ */

struct ntm_relay *ntm_relay_find_locked(struct ntm_dev *nd, u32 id)
{
	struct rb_node *n = nd->relay_by_id.rb_node;

	lockdep_assert_held(&nd->lock);
	while (n) {
		struct ntm_relay *r = rb_entry(n, struct ntm_relay, rb);

		if (id < r->id)
			n = n->rb_left;
		else if (id > r->id)
			n = n->rb_right;
		else
			return r;
	}
	return NULL;
}

/* First session whose id is greater than @after. */
struct ntm_relay *ntm_relay_next_locked(struct ntm_dev *nd, u32 after)
{
	struct rb_node *n = nd->relay_by_id.rb_node;
	struct ntm_relay *best = NULL;

	lockdep_assert_held(&nd->lock);
	while (n) {
		struct ntm_relay *r = rb_entry(n, struct ntm_relay, rb);

		if (r->id > after) {
			best = r;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

u32 ntm_relay_id(const struct ntm_relay *r)
{
	return r->id;
}

static void ntm_relay_rb_insert(struct ntm_dev *nd, struct ntm_relay *r)
{
	struct rb_node **link = &nd->relay_by_id.rb_node, *parent = NULL;

	while (*link) {
		struct ntm_relay *cur = rb_entry(*link, struct ntm_relay, rb);

		parent = *link;
		link = r->id < cur->id ? &(*link)->rb_left : &(*link)->rb_right;
	}
	rb_link_node(&r->rb, parent, link);
	rb_insert_color(&r->rb, &nd->relay_by_id);
}

/* Under nd->lock, so no endpoint moves meanwhile. */
void ntm_relay_get_info(const struct ntm_relay *r, struct ntm_relay_info *i)
{
	u32 idle = (u32)jiffies - READ_ONCE(r->last_active);
	int s;

	memset(i, 0, sizeof(*i));
	i->id = r->id;
	for (s = 0; s < 2; s++) {
		const struct ntm_relay_leg *leg = &r->leg[s];
		const struct ntm_relay_leg *other = &r->leg[!s];

		/* leg s's endpoint is the source the other leg accepts */
		ntm_relay_key_ep(&other->key, &i->ep[s]);
		i->index[s] = be32_to_cpu(leg->key.index);
		/* what came from leg s went towards the other leg */
		i->rx_packets[s] = atomic64_read(&other->packets);
		i->rx_bytes[s] = atomic64_read(&other->bytes);
	}
	i->hard_bytes = READ_ONCE(r->hard_bytes);
	i->hard_packets = READ_ONCE(r->hard_packets);
	i->idle_timeout = r->idle_timeout;
	i->age_s = (u32)ktime_get_boottime_seconds() - r->created_s;
	i->idle_s = idle / HZ;
	i->drop_src = 0;	/* mismatches are counted per device (D53) */
	i->drop_tx = (u32)atomic_read(&r->drop_tx);
}

static void ntm_relay_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(ntm_relay_cache, container_of(head, struct ntm_relay,
						      rcu));
}

/* Take @leg out of the forwarding table. */
static void ntm_relay_leg_unlink(struct ntm_dev *nd, struct ntm_relay_leg *leg)
{
	rhashtable_remove_fast(&nd->relay_ht, &leg->fwd, ntm_relay_fwd_params);
}

/* Id of the session that already installs key @k, for the extack. */
static u32 ntm_relay_owner(struct ntm_dev *nd, const struct ntm_relay_key *k)
{
	struct ntm_relay_leg *leg;
	u32 id = 0;

	rcu_read_lock();
	leg = rhashtable_lookup(&nd->relay_ht, k, ntm_relay_fwd_params);
	if (leg)
		id = ntm_relay_of(leg)->id;
	rcu_read_unlock();
	return id;
}

int ntm_relay_create(struct ntm_dev *nd, const struct ntm_relay_params *p,
		     u32 *conflict)
{
	struct ntm_relay *r;
	int err, s;

	lockdep_assert_held(&nd->lock);
	*conflict = 0;
	if (ntm_relay_find_locked(nd, p->id))
		return -EEXIST;
	if (nd->num_relays >= READ_ONCE(nd->max_relays)) {
		ntm_dev_count(nd, NTM_STAT(RELAY_REFUSED), 1);
		return -ENOSPC;
	}
	r = kmem_cache_zalloc(ntm_relay_cache, GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	r->id = p->id;
	r->hard_bytes = p->hard_bytes;
	r->hard_packets = p->hard_packets;
	r->idle_timeout = p->idle_timeout;
	r->created_s = (u32)ktime_get_boottime_seconds();
	r->last_active = (u32)jiffies;
	seqcount_init(&r->ep_seq);
	for (s = 0; s < 2; s++) {
		r->leg[s].key.side = s;
		/* leg s accepts what the other leg's endpoint sends */
		ntm_relay_key_set(&r->leg[s].key, &p->ep[!s], p->index[s]);
	}
	if (ntm_relay_key_equal(&r->leg[0].key, &r->leg[1].key)) {
		kmem_cache_free(ntm_relay_cache, r);
		return -EINVAL;
	}

	err = rhashtable_lookup_insert_fast(&nd->relay_ht, &r->leg[0].fwd,
					    ntm_relay_fwd_params);
	if (err) {
		if (err == -EEXIST)
			*conflict = ntm_relay_owner(nd, &r->leg[0].key);
		kmem_cache_free(ntm_relay_cache, r);
		return err;
	}
	err = rhashtable_lookup_insert_fast(&nd->relay_ht, &r->leg[1].fwd,
					    ntm_relay_fwd_params);
	if (err) {
		if (err == -EEXIST)
			*conflict = ntm_relay_owner(nd, &r->leg[1].key);
		ntm_relay_leg_unlink(nd, &r->leg[0]);
		goto err_rcu;
	}
	ntm_relay_rb_insert(nd, r);
	WRITE_ONCE(nd->num_relays, nd->num_relays + 1);
	if (r->idle_timeout && !nd->relay_idle_n++)
		ntm_relay_arm(nd, NTM_RELAY_SCAN_S * HZ, false);
	return 0;

err_rcu:
	/* readers may have seen it: free after a grace period */
	call_rcu(&r->rcu, ntm_relay_free_rcu);
	return err;
}

/* The last step of a removal, once the legs are out of the table. */
static void ntm_relay_forget(struct ntm_dev *nd, struct ntm_relay *r)
{
	WRITE_ONCE(r->unlinked, true);
	rb_erase(&r->rb, &nd->relay_by_id);
	WRITE_ONCE(nd->num_relays, nd->num_relays - 1);
	if (r->idle_timeout)
		nd->relay_idle_n--;
	call_rcu(&r->rcu, ntm_relay_free_rcu);
}

void ntm_relay_remove(struct ntm_dev *nd, struct ntm_relay *r)
{
	lockdep_assert_held(&nd->lock);
	if (r->unlinked)
		return;
	ntm_relay_leg_unlink(nd, &r->leg[0]);
	ntm_relay_leg_unlink(nd, &r->leg[1]);
	ntm_relay_forget(nd, r);
}

void ntm_relay_remove_all(struct ntm_dev *nd)
{
	struct rb_node *n;
	unsigned int i = 0;

	lockdep_assert_held(&nd->lock);
	while ((n = rb_first(&nd->relay_by_id))) {
		ntm_relay_remove(nd, rb_entry(n, struct ntm_relay, rb));
		if (!(++i & 1023))
			cond_resched();
	}
}

/*
 * Move the legs @p names and change the limits.  Everything that can fail
 * is checked before anything changes, except re-inserting a moved key,
 * which only fails without memory: the session is then removed.
 */
int ntm_relay_change(struct ntm_dev *nd, struct ntm_relay *r,
		     const struct ntm_relay_params *p, u32 *conflict)
{
	struct ntm_relay_key nk[2];
	bool moved[2] = { false, false };
	int s, err = 0;

	lockdep_assert_held(&nd->lock);
	*conflict = 0;
	for (s = 0; s < 2; s++) {
		nk[s] = r->leg[s].key;
		/* leg s moving changes the source the other leg accepts */
		if (p->has_ep[!s]) {
			ntm_relay_key_set(&nk[s], &p->ep[!s],
					  be32_to_cpu(r->leg[s].key.index));
			moved[s] = !ntm_relay_key_equal(&nk[s], &r->leg[s].key);
		}
	}
	if (ntm_relay_key_equal(&nk[0], &nk[1]))
		return -EINVAL;
	for (s = 0; s < 2; s++) {
		u32 owner;

		if (!moved[s])
			continue;
		owner = ntm_relay_owner(nd, &nk[s]);
		if (owner && owner != r->id) {
			*conflict = owner;
			return -EEXIST;
		}
	}

	if (moved[0] || moved[1]) {
		bool hashed[2] = { true, true };

		for (s = 0; s < 2; s++) {
			if (!moved[s])
				continue;
			ntm_relay_leg_unlink(nd, &r->leg[s]);
			hashed[s] = false;
		}
		/* no reader compares against the keys we are about to change */
		synchronize_net();
		local_bh_disable();
		write_seqcount_begin(&r->ep_seq);
		for (s = 0; s < 2; s++)
			if (moved[s])
				r->leg[s].key = nk[s];
		write_seqcount_end(&r->ep_seq);
		local_bh_enable();
		for (s = 0; s < 2 && !err; s++) {
			if (!moved[s])
				continue;
			err = rhashtable_lookup_insert_fast(&nd->relay_ht,
							    &r->leg[s].fwd,
							    ntm_relay_fwd_params);
			hashed[s] = !err;
		}
		if (err) {
			/* a leg without its key carries nothing: drop it all */
			for (s = 0; s < 2; s++)
				if (hashed[s])
					ntm_relay_leg_unlink(nd, &r->leg[s]);
			ntm_relay_forget(nd, r);
			return err;
		}
	}
	if (p->has_hard_bytes)
		WRITE_ONCE(r->hard_bytes, p->hard_bytes);
	if (p->has_hard_packets)
		WRITE_ONCE(r->hard_packets, p->hard_packets);
	if (p->has_idle && p->idle_timeout != r->idle_timeout) {
		if (!r->idle_timeout && !nd->relay_idle_n++)
			ntm_relay_arm(nd, NTM_RELAY_SCAN_S * HZ, false);
		else if (!p->idle_timeout)
			nd->relay_idle_n--;
		r->idle_timeout = p->idle_timeout;
	}
	return 0;
}

/* The scan: remove sessions past a limit or idle too long. */
static void ntm_relay_work(struct work_struct *work)
{
	struct ntm_dev *nd = container_of(to_delayed_work(work), struct ntm_dev,
					  relay_work);
	struct ntm_relay_info info;
	unsigned long now = jiffies;
	struct rb_node *n, *next;
	unsigned int i = 0;

	mutex_lock(&nd->lock);
	if (nd->dead)
		goto out;
	for (n = rb_first(&nd->relay_by_id); n; n = next) {
		struct ntm_relay *r = rb_entry(n, struct ntm_relay, rb);
		u32 reason = READ_ONCE(r->expire_reason);

		next = rb_next(n);
		if (!reason && r->idle_timeout &&
		    (u32)now - READ_ONCE(r->last_active) >=
		    r->idle_timeout * HZ)
			reason = NTM_EXPIRE_IDLE;
		if (reason) {
			ntm_relay_get_info(r, &info);
			ntm_relay_remove(nd, r);
			ntm_dev_count(nd, NTM_STAT(RELAY_EXPIRED), 1);
			ntm_event_relay_expired(nd, &info, reason);
		}
		/* the tree does not change while we hold nd->lock */
		if (!(++i & 1023))
			cond_resched();
	}
	if (nd->relay_idle_n)
		ntm_relay_arm(nd, NTM_RELAY_SCAN_S * HZ, false);
out:
	mutex_unlock(&nd->lock);
}

/* ---- packet path (RCU, softirq) ---------------------------------------- */

/* First limit reached: the worker removes the session soon. */
static void ntm_relay_expire(struct ntm_dev *nd, struct ntm_relay *r,
			     u32 reason)
{
	if (!cmpxchg(&r->expire_reason, 0, reason))
		ntm_relay_arm(nd, 0, true);
}

/* Count a datagram forwarded towards @leg, and check the limits. */
static void ntm_relay_account(struct ntm_dev *nd, struct ntm_relay *r,
			      struct ntm_relay_leg *leg, unsigned int len)
{
	const struct ntm_relay_leg *other = &r->leg[!leg->key.side];
	u32 now = (u32)jiffies;
	u64 p, b, lim;

	p = atomic64_inc_return(&leg->packets) +
	    atomic64_read(&other->packets);
	b = atomic64_add_return(len, &leg->bytes) +
	    atomic64_read(&other->bytes);
	/* one store per jiffy at most: the line is shared by both directions */
	if (READ_ONCE(r->last_active) != now)
		WRITE_ONCE(r->last_active, now);
	lim = READ_ONCE(r->hard_packets);
	if (unlikely(lim && p >= lim))
		ntm_relay_expire(nd, r, NTM_EXPIRE_HARD_PACKETS);
	lim = READ_ONCE(r->hard_bytes);
	if (unlikely(lim && b >= lim))
		ntm_relay_expire(nd, r, NTM_EXPIRE_HARD_BYTES);
}

static void ntm_relay_drop(struct ntm_dev *nd, struct sk_buff *skb,
			   unsigned int stat)
{
	ntm_dev_count(nd, stat, 1);
	dev_core_stats_rx_dropped_inc(nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(stat));
}

/* The outer source and the receiver index of a datagram, as a key. */
static void ntm_relay_key_of_skb(struct sk_buff *skb, __be32 index,
				 struct ntm_relay_key *k)
{
	memset(k, 0, sizeof(*k));
	k->index = index;
	k->port = udp_hdr(skb)->source;
	if (ip_hdr(skb)->version == 4) {
		k->family = AF_INET;
		k->addr.a4 = ip_hdr(skb)->saddr;
	} else {
		k->family = AF_INET6;
		k->addr.a6 = ipv6_hdr(skb)->saddr;
	}
}

/*
 * Strip the outer UDP header of @skb and make it a fresh packet of @nd
 * with room for new outer headers in front of the untouched NTM message.
 */
static int ntm_relay_prepare(struct ntm_dev *nd, struct sk_buff *skb,
			     struct dst_entry *dst, bool xnet)
{
	__skb_pull(skb, sizeof(struct udphdr));
	if (skb_cow_head(skb, LL_RESERVED_SPACE(dst->dev) +
			 sizeof(struct ipv6hdr) + sizeof(struct udphdr)))
		return -ENOMEM;
	skb_scrub_packet(skb, xnet);
	skb_orphan(skb);
	skb_reset_inner_headers(skb);
	/* the receive checksum state is not the one of the new packet */
	skb->ip_summed = CHECKSUM_NONE;
	skb->dev = nd->dev;
	skb->mark = READ_ONCE(nd->fwmark);
	skb->ignore_df = 1;
	return 0;
}

static int ntm_relay_xmit4(struct ntm_dev *nd, struct sock *sk,
			   struct sk_buff *skb, const struct ntm_relay_key *to,
			   bool xnet)
{
	struct flowi4 fl4 = {
		.daddr = to->addr.a4,
		.saddr = inet_sk(sk)->inet_saddr,
		.flowi4_mark = READ_ONCE(nd->fwmark),
		.flowi4_proto = IPPROTO_UDP,
		.flowi4_oif = sk->sk_bound_dev_if,
		.fl4_sport = inet_sk(sk)->inet_sport,
		.fl4_dport = to->port,
	};
	struct rtable *rt;

	rt = ip_route_output_flow(sock_net(sk), &fl4, sk);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	if (rt->dst.dev == nd->dev ||
	    ntm_relay_prepare(nd, skb, &rt->dst, xnet)) {
		ip_rt_put(rt);
		return -EINVAL;
	}
	udp_tunnel_xmit_skb(rt, sk, skb, fl4.saddr, fl4.daddr, 0,
			    ip4_dst_hoplimit(&rt->dst), 0, fl4.fl4_sport,
			    fl4.fl4_dport, xnet, sk->sk_no_check_tx);
	return 0;
}

static int ntm_relay_xmit6(struct ntm_dev *nd, struct sock *sk,
			   struct sk_buff *skb, const struct ntm_relay_key *to,
			   bool xnet)
{
#if IS_ENABLED(CONFIG_IPV6)
	struct flowi6 fl6 = {
		.daddr = to->addr.a6,
		.saddr = sk->sk_v6_rcv_saddr,
		.flowi6_mark = READ_ONCE(nd->fwmark),
		.flowi6_proto = IPPROTO_UDP,
		.flowi6_oif = sk->sk_bound_dev_if,
		.fl6_sport = inet_sk(sk)->inet_sport,
		.fl6_dport = to->port,
	};
	struct dst_entry *dst;

	dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, &fl6, NULL);
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	if (dst->dev == nd->dev || ntm_relay_prepare(nd, skb, dst, xnet)) {
		dst_release(dst);
		return -EINVAL;
	}
	/* UDP checksums are mandatory for tunnels over IPv6 (RFC 6935) */
	udp_tunnel6_xmit_skb(dst, sk, skb, nd->dev, &fl6.saddr, &fl6.daddr, 0,
			     ip6_dst_hoplimit(dst), 0, fl6.fl6_sport,
			     fl6.fl6_dport, false);
	return 0;
#else
	return -EAFNOSUPPORT;
#endif
}

/*
 * Send @skb (data at its UDP header) to @to through the adopted socket of
 * @to's family.  Consumes @skb.
 */
static void ntm_relay_xmit(struct ntm_dev *nd, struct ntm_relay *r,
			   struct sock *in_sk, struct sk_buff *skb,
			   const struct ntm_relay_key *to)
{
	unsigned int len = skb->len - sizeof(struct udphdr);
	struct sock *sk;
	int err;

	if (to->family == AF_INET)
		sk = rcu_dereference(nd->sk4);
	else
		sk = rcu_dereference(nd->sk6);
	if (unlikely(!sk)) {
		err = -ENOTCONN;
	} else {
		bool xnet = !net_eq(sock_net(in_sk), sock_net(sk));

		if (to->family == AF_INET)
			err = ntm_relay_xmit4(nd, sk, skb, to, xnet);
		else
			err = ntm_relay_xmit6(nd, sk, skb, to, xnet);
	}
	if (unlikely(err)) {
		atomic_inc(&r->drop_tx);
		ntm_dev_count(nd, NTM_STAT(DROP_RELAY_TX), 1);
		dev_core_stats_tx_dropped_inc(nd->dev);
		kfree_skb_reason(skb,
				 ntm_drop_reason(NTM_STAT(DROP_RELAY_TX)));
		return;
	}
	ntm_dev_count(nd, NTM_STAT(RELAY_TX_PACKETS), 1);
	ntm_dev_count(nd, NTM_STAT(RELAY_TX_BYTES), len);
}

/*
 * No leg accepts this (source, index).  Unless a tunnel of the device has
 * the index (an RS that is also a node: its own tunnel's AEAD decides),
 * the datagram is a source mismatch: counted and dropped.  Returns 1 when
 * it is none of the relay's business.
 */
static int ntm_relay_miss(struct ntm_dev *nd, struct sk_buff *skb,
			  const struct ntm_relay_key *k)
{
	if (ntm_tunnel_index_used(nd, be32_to_cpu(k->index)))
		return 1;
	ntm_relay_drop(nd, skb, NTM_STAT(DROP_RELAY_SRC));
	return 0;
}

/*
 * From ntm_udp_encap_recv() under RCU, for an NTM data message whose
 * 16-byte header follows the UDP header in the linear area.  Returns 0
 * when the relay consumed @skb (forwarded or dropped), 1 when the
 * datagram belongs to the device's own tunnels.
 */
int ntm_relay_recv(struct ntm_dev *nd, struct sock *sk, struct sk_buff *skb)
{
	const struct ntm_data_hdr *hdr;
	struct ntm_relay_key key, to;
	struct ntm_relay_leg *leg;
	struct ntm_relay *r;
	unsigned int seq;

	ntm_assert_rcu();
	hdr = (const struct ntm_data_hdr *)(skb->data + sizeof(struct udphdr));
	ntm_relay_key_of_skb(skb, hdr->receiver, &key);
	leg = rhashtable_lookup(&nd->relay_ht, &key, ntm_relay_fwd_params);
	if (!leg)
		return ntm_relay_miss(nd, skb, &key);

	r = ntm_relay_of(leg);
	ntm_dev_count(nd, NTM_STAT(RELAY_RX_PACKETS), 1);
	ntm_dev_count(nd, NTM_STAT(RELAY_RX_BYTES),
		      skb->len - sizeof(struct udphdr));
	if (unlikely(READ_ONCE(r->expire_reason))) {
		ntm_relay_drop(nd, skb, NTM_STAT(DROP_RELAY_LIMIT));
		return 0;
	}
	ntm_relay_account(nd, r, leg, skb->len - sizeof(struct udphdr));
	/* the destination is the source the other leg accepts */
	do {
		seq = read_seqcount_begin(&r->ep_seq);
		to = r->leg[!leg->key.side].key;
	} while (read_seqcount_retry(&r->ep_seq, seq));
	ntm_relay_xmit(nd, r, sk, skb, &to);
	return 0;
}
