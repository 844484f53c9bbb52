// SPDX-License-Identifier: GPL-2.0
/*
 * tunnel.c - the tunnel table of an ntm device.
 *
 * Three resizable hash tables give O(1) lookups on the packet path: by
 * local receiver index (receive), by peer virtual IPv4 and by peer virtual
 * IPv6 address (transmit).  Readers use RCU and take a reference; writers
 * hold nd->lock.  An rbtree ordered by local index serves the control plane
 * only: dumps resume "after the last index sent", which stays correct when
 * tunnels come and go between two dump messages.
 *
 * ESP tunnels live in the same index table (their local index is the
 * inbound SPI) but have no virtual address: transmit finds them by longest
 * prefix match of the inner destination over their remote traffic
 * selectors, in a hash table per device keyed by prefix (selector.c):
 * O(prefix lengths in use), only reached when the O(1) virtual-address
 * lookup missed, so NTM traffic never pays for it.
 *
 * Make-before-break rekey: a successor (NEW_TUNNEL with REPLACES) is
 * hashed by index at once, so it receives under its new key, but it is
 * PENDING and out of the virtual-address tables.  When it takes over (at
 * once with NTM_TAKEOVER_NOW, on its first authenticated packet with
 * NTM_TAKEOVER_ON_RX, or when its predecessor goes) rhashtable_replace_fast()
 * swaps it in for its predecessor under nd->tbl_lock, bucket by bucket
 * with one pointer store, so a transmit lookup finds one of the two and
 * never neither.  The predecessor is then RETIRED: out of the
 * virtual-address tables, still in the index table, decrypting what is
 * still in flight under the old key until it is deleted.
 *
 * ESP SA pairs rekey the same way (CREATE_CHILD_SA, RFC 7296 2.8): they
 * have no virtual address, so the takeover is their state alone: the ESP
 * transmit lookup takes ACTIVE SAs only, so a PENDING successor receives
 * but sends nothing and a RETIRED predecessor only receives.  The
 * responder of the rekey installs the successor with ON_RX: the initiator
 * may install its inbound SA only once it has read the answer, so the
 * responder keeps sending on the old SA until ESP arrives on the new one
 * or the initiator deletes the old one.
 *
 * A new tunnel may also be held (NEW_TUNNEL with TAKEOVER ON_RX and no
 * REPLACES): the responder of a key exchange installs its tunnel before
 * the initiator has read the answer, so a packet sent at once would reach
 * a peer without the key.  A held tunnel is PENDING but hashed by virtual
 * address, so transmit finds it and parks the packet in the acquire queue
 * (ntm_acquire_hold()); the peer's first authenticated packet, or ntmd
 * with SET_TUNNEL TAKEOVER NOW, confirms it and the queue drains through it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/ktime.h>
#include "ntm.h"
#include "ntm_events.h"

/* Own cache: the tunnel is ~750 bytes, kmalloc would round it to 1 KiB. */
static struct kmem_cache *ntm_tunnel_cache;

int ntm_tunnel_cache_init(void)
{
	ntm_tunnel_cache = KMEM_CACHE(ntm_tunnel, SLAB_ACCOUNT);
	return ntm_tunnel_cache ? 0 : -ENOMEM;
}

void ntm_tunnel_cache_exit(void)
{
	kmem_cache_destroy(ntm_tunnel_cache);
}

static void ntm_tunnel_free(struct ntm_tunnel *t)
{
	/* the salts are key material too */
	memzero_explicit(t, sizeof(*t));
	kmem_cache_free(ntm_tunnel_cache, t);
}

static const struct rhashtable_params ntm_index_params = {
	.key_len = sizeof(u32),
	.key_offset = offsetof(struct ntm_tunnel, local_index),
	.head_offset = offsetof(struct ntm_tunnel, index_node),
	.automatic_shrinking = true,
};

static const struct rhashtable_params ntm_vip4_params = {
	.key_len = sizeof(__be32),
	.key_offset = offsetof(struct ntm_tunnel, vip4),
	.head_offset = offsetof(struct ntm_tunnel, vip4_node),
	.automatic_shrinking = true,
};

static const struct rhashtable_params ntm_vip6_params = {
	.key_len = sizeof(struct in6_addr),
	.key_offset = offsetof(struct ntm_tunnel, vip6),
	.head_offset = offsetof(struct ntm_tunnel, vip6_node),
	.automatic_shrinking = true,
};

int ntm_tables_init(struct ntm_dev *nd)
{
	int err;

	err = rhashtable_init(&nd->index_ht, &ntm_index_params);
	if (err)
		return err;
	err = rhashtable_init(&nd->vip4_ht, &ntm_vip4_params);
	if (err)
		goto err_index;
	err = rhashtable_init(&nd->vip6_ht, &ntm_vip6_params);
	if (err)
		goto err_vip4;
	spin_lock_init(&nd->tbl_lock);
	nd->by_index = RB_ROOT;
	nd->num_tunnels = 0;
	nd->max_tunnels = NTM_TUNNEL_MAX_DEFAULT;
	nd->num_esp = 0;
	err = ntm_sel_init(nd);
	if (err)
		goto err_vip6;
	return 0;

err_vip6:
	rhashtable_destroy(&nd->vip6_ht);
err_vip4:
	rhashtable_destroy(&nd->vip4_ht);
err_index:
	rhashtable_destroy(&nd->index_ht);
	return err;
}

/* Called once every tunnel was removed. */
void ntm_tables_destroy(struct ntm_dev *nd)
{
	ntm_sel_destroy(nd);
	rhashtable_destroy(&nd->vip6_ht);
	rhashtable_destroy(&nd->vip4_ht);
	rhashtable_destroy(&nd->index_ht);
}

static void ntm_tunnel_free_work(struct work_struct *work)
{
	struct ntm_tunnel *t = container_of(to_rcu_work(work),
					    struct ntm_tunnel, free_work);

	crypto_free_aead(t->aead);
	if (t->esp) {
		crypto_free_aead(t->esp->rx_aead);
		kfree_sensitive(t->esp);
	}
	kfree(t->lim);
	ntm_tunnel_free(t);
}

void ntm_tunnel_put(struct ntm_tunnel *t)
{
	if (refcount_dec_and_test(&t->ref))
		queue_rcu_work(ntm_wq, &t->free_work);
}

static struct ntm_tunnel *ntm_tunnel_get_rcu(struct ntm_tunnel *t)
{
	ntm_assert_rcu();
	if (t && !refcount_inc_not_zero(&t->ref))
		return NULL;
	return t;
}

/* The lookups below run under rcu_read_lock() and return a reference. */
struct ntm_tunnel *ntm_tunnel_find_index(struct ntm_dev *nd, u32 index)
{
	return ntm_tunnel_get_rcu(rhashtable_lookup(&nd->index_ht, &index,
						    ntm_index_params));
}

struct ntm_tunnel *ntm_tunnel_find_vip4(struct ntm_dev *nd, __be32 addr)
{
	return ntm_tunnel_get_rcu(rhashtable_lookup(&nd->vip4_ht, &addr,
						    ntm_vip4_params));
}

struct ntm_tunnel *ntm_tunnel_find_vip6(struct ntm_dev *nd,
					const struct in6_addr *addr)
{
	return ntm_tunnel_get_rcu(rhashtable_lookup(&nd->vip6_ht, addr,
						    ntm_vip6_params));
}

/* Whether a tunnel has local index @index; under RCU, no reference. */
bool ntm_tunnel_index_used(struct ntm_dev *nd, u32 index)
{
	ntm_assert_rcu();
	return rhashtable_lookup(&nd->index_ht, &index, ntm_index_params);
}

/* Control-plane lookups under nd->lock: no reference taken. */
struct ntm_tunnel *ntm_tunnel_find_index_locked(struct ntm_dev *nd, u32 idx)
{
	struct rb_node *n = nd->by_index.rb_node;

	lockdep_assert_held(&nd->lock);
	while (n) {
		struct ntm_tunnel *t = rb_entry(n, struct ntm_tunnel, rb);

		if (idx < t->local_index)
			n = n->rb_left;
		else if (idx > t->local_index)
			n = n->rb_right;
		else
			return t;
	}
	return NULL;
}

/* First tunnel whose local index is greater than @after (or >= 0 if -1). */
struct ntm_tunnel *ntm_tunnel_next_locked(struct ntm_dev *nd, u32 after)
{
	struct rb_node *n = nd->by_index.rb_node;
	struct ntm_tunnel *best = NULL;

	lockdep_assert_held(&nd->lock);
	while (n) {
		struct ntm_tunnel *t = rb_entry(n, struct ntm_tunnel, rb);

		if (t->local_index > after) {
			best = t;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

static void ntm_rb_insert(struct ntm_dev *nd, struct ntm_tunnel *t)
{
	struct rb_node **link = &nd->by_index.rb_node, *parent = NULL;

	while (*link) {
		struct ntm_tunnel *cur = rb_entry(*link, struct ntm_tunnel, rb);

		parent = *link;
		if (t->local_index < cur->local_index)
			link = &(*link)->rb_left;
		else
			link = &(*link)->rb_right;
	}
	rb_link_node(&t->rb, parent, link);
	rb_insert_color(&t->rb, &nd->by_index);
}

static u64 ntm_deadline_ns(struct ntm_tunnel *t, u32 seconds)
{
	return t->created_ns + (u64)seconds * NSEC_PER_SEC;
}

/*
 * Arm the lifetime timer for the next of the soft lifetime (until it was
 * reported) and the hard lifetime; with neither, leave it alone (the
 * callback checks both again, so a stale expiry does nothing).
 */
static void ntm_lifetime_arm(struct ntm_tunnel *t)
{
	u32 soft = READ_ONCE(t->soft_lifetime), hard = READ_ONCE(t->lifetime);
	u64 next = U64_MAX, now = ktime_get_boottime_ns();

	if (soft && !test_bit(NTM_T_SOFT_REPORTED, &t->soft_state))
		next = ntm_deadline_ns(t, soft);
	if (hard)
		next = min(next, ntm_deadline_ns(t, hard));
	if (next == U64_MAX)
		return;
	mod_timer(&t->lifetime_timer, jiffies + (next <= now ? 0 :
		  nsecs_to_jiffies(next - now)));
}

static void ntm_lifetime_timer(struct timer_list *timer)
{
	struct ntm_tunnel *t = from_timer(t, timer, lifetime_timer);
	u32 soft = READ_ONCE(t->soft_lifetime), hard = READ_ONCE(t->lifetime);
	u64 now = ktime_get_boottime_ns();

	if (soft && now >= ntm_deadline_ns(t, soft))
		ntm_tunnel_soft_expire(t, NTM_EXPIRE_SOFT_TIME);
	if (hard && now >= ntm_deadline_ns(t, hard)) {
		ntm_tunnel_expire(t, NTM_EXPIRE_LIFETIME);
		return;
	}
	ntm_lifetime_arm(t);
}

static void ntm_lifetime_update(struct ntm_tunnel *t)
{
	if (!t->lifetime &&
	    (!t->soft_lifetime ||
	     test_bit(NTM_T_SOFT_REPORTED, &t->soft_state)))
		del_timer_sync(&t->lifetime_timer);
	else
		ntm_lifetime_arm(t);
}

void ntm_tunnel_set_lifetime(struct ntm_tunnel *t, u32 lifetime)
{
	lockdep_assert_held(&t->nd->lock);
	WRITE_ONCE(t->lifetime, lifetime);
	ntm_lifetime_update(t);
}

void ntm_tunnel_set_soft_lifetime(struct ntm_tunnel *t, u32 lifetime)
{
	lockdep_assert_held(&t->nd->lock);
	WRITE_ONCE(t->soft_lifetime, lifetime);
	ntm_lifetime_update(t);
}

/*
 * Byte and packet limits.  The limit state is allocated with the first
 * limit; on a running tunnel its totals start from the traffic counters so
 * far.  Returns -ENOMEM and changes nothing when that allocation fails.
 */
int ntm_tunnel_set_limits(struct ntm_tunnel *t, const struct ntm_limits *l)
{
	struct ntm_lim *lim = t->lim;

	lockdep_assert_held(&t->nd->lock);
	if (!lim) {
		u64 st[NTM_STAT_NR];

		if (!l->soft_bytes && !l->hard_bytes && !l->soft_packets &&
		    !l->hard_packets)
			return 0;
		lim = kzalloc(sizeof(*lim), GFP_KERNEL_ACCOUNT);
		if (!lim)
			return -ENOMEM;
		ntm_tunnel_stats_read(t, st);
		atomic64_set(&lim->bytes[NTM_DIR_RX], st[NTM_STAT(RX_BYTES)]);
		atomic64_set(&lim->bytes[NTM_DIR_TX], st[NTM_STAT(TX_BYTES)]);
		atomic64_set(&lim->packets[NTM_DIR_RX],
			     st[NTM_STAT(RX_PACKETS)]);
		atomic64_set(&lim->packets[NTM_DIR_TX],
			     st[NTM_STAT(TX_PACKETS)]);
		lim->limits = *l;
		/* readers find it with READ_ONCE: publish it initialised */
		smp_store_release(&t->lim, lim);
		return 0;
	}
	WRITE_ONCE(lim->limits.soft_bytes, l->soft_bytes);
	WRITE_ONCE(lim->limits.hard_bytes, l->hard_bytes);
	WRITE_ONCE(lim->limits.soft_packets, l->soft_packets);
	WRITE_ONCE(lim->limits.hard_packets, l->hard_packets);
	return 0;
}

void ntm_tunnel_get_limits(struct ntm_tunnel *t, struct ntm_limits *l)
{
	const struct ntm_lim *lim = READ_ONCE(t->lim);

	if (lim)
		*l = lim->limits;
	else
		memset(l, 0, sizeof(*l));
}

/*
 * Account one packet of @bytes inner bytes in direction @dir against the
 * limits; any context.  Reaching a limit in either direction triggers it:
 * the packet that reaches a hard limit is the last one through.
 */
void ntm_tunnel_charge(struct ntm_tunnel *t, struct ntm_lim *lim, int dir,
		       unsigned int bytes)
{
	u64 b = atomic64_add_return(bytes, &lim->bytes[dir]);
	u64 p = atomic64_inc_return(&lim->packets[dir]);
	u64 v;

	if (!test_bit(NTM_T_SOFT_REPORTED, &t->soft_state)) {
		v = READ_ONCE(lim->limits.soft_bytes);
		if (v && b >= v)
			ntm_tunnel_soft_expire(t, NTM_EXPIRE_SOFT_BYTES);
		v = READ_ONCE(lim->limits.soft_packets);
		if (v && p >= v)
			ntm_tunnel_soft_expire(t, NTM_EXPIRE_SOFT_PACKETS);
	}
	v = READ_ONCE(lim->limits.hard_bytes);
	if (v && b >= v)
		ntm_tunnel_expire(t, NTM_EXPIRE_HARD_BYTES);
	v = READ_ONCE(lim->limits.hard_packets);
	if (v && p >= v)
		ntm_tunnel_expire(t, NTM_EXPIRE_HARD_PACKETS);
}

/*
 * Report a soft expiry, once per tunnel; the tunnel stays.  Any context.
 * A retired tunnel was rekeyed already: it asks for no other rekey.
 */
void ntm_tunnel_soft_expire(struct ntm_tunnel *t, u32 reason)
{
	if (READ_ONCE(t->unlinked) ||
	    test_bit(NTM_T_EXPIRE_QUEUED, &t->expire_state) ||
	    READ_ONCE(t->state) == NTM_TUNNEL_STATE_RETIRED ||
	    test_and_set_bit(NTM_T_SOFT_REPORTED, &t->soft_state))
		return;
	ntm_event_expired(t->nd, t->local_index, be32_to_cpu(t->remote_index),
			  reason);
}

/* ---- make-before-break rekey ------------------------------------------- */

/* What the takeover event reports, copied under nd->tbl_lock. */
struct ntm_takeover_ev {
	u32 local_index;
	u32 remote_index;
	u32 replaces;
};

/* Under nd->tbl_lock: hash @t's virtual addresses; all or none. */
static int ntm_vip_insert(struct ntm_dev *nd, struct ntm_tunnel *t)
{
	int err;

	lockdep_assert_held(&nd->tbl_lock);
	if (t->has_vip4) {
		err = rhashtable_insert_fast(&nd->vip4_ht, &t->vip4_node,
					     ntm_vip4_params);
		if (err)
			return err;
	}
	if (t->has_vip6) {
		err = rhashtable_insert_fast(&nd->vip6_ht, &t->vip6_node,
					     ntm_vip6_params);
		if (err) {
			if (t->has_vip4)
				rhashtable_remove_fast(&nd->vip4_ht,
						       &t->vip4_node,
						       ntm_vip4_params);
			return err;
		}
	}
	return 0;
}

static void ntm_vip_remove(struct ntm_dev *nd, struct ntm_tunnel *t)
{
	lockdep_assert_held(&nd->tbl_lock);
	if (t->has_vip4)
		rhashtable_remove_fast(&nd->vip4_ht, &t->vip4_node,
				       ntm_vip4_params);
	if (t->has_vip6)
		rhashtable_remove_fast(&nd->vip6_ht, &t->vip6_node,
				       ntm_vip6_params);
}

/*
 * Under nd->tbl_lock, any context but hard IRQ: @succ, pending, takes the
 * place of its predecessor in the virtual-address tables.  Each replace is
 * one rcu_assign_pointer() in the bucket: a concurrent lookup finds the
 * predecessor or the successor.  The predecessor is retired.
 */
static void ntm_takeover_locked(struct ntm_tunnel *succ,
				struct ntm_takeover_ev *ev)
{
	struct ntm_tunnel *pred = succ->pred;
	struct ntm_dev *nd = succ->nd;

	lockdep_assert_held(&nd->tbl_lock);
	/* same keys, pred hashed (ACTIVE): replace cannot fail */
	if (pred->has_vip4)
		WARN_ON_ONCE(rhashtable_replace_fast(&nd->vip4_ht,
						     &pred->vip4_node,
						     &succ->vip4_node,
						     ntm_vip4_params));
	if (pred->has_vip6)
		WARN_ON_ONCE(rhashtable_replace_fast(&nd->vip6_ht,
						     &pred->vip6_node,
						     &succ->vip6_node,
						     ntm_vip6_params));
	/*
	 * ESP transmit chooses by state: the successor becomes a candidate
	 * before its predecessor stops being one.
	 */
	WRITE_ONCE(succ->state, NTM_TUNNEL_STATE_ACTIVE);
	WRITE_ONCE(pred->state, NTM_TUNNEL_STATE_RETIRED);
	pred->succ = NULL;
	succ->pred = NULL;
	ev->local_index = succ->local_index;
	ev->remote_index = be32_to_cpu(succ->remote_index);
	ev->replaces = pred->local_index;
}

/* After nd->tbl_lock was dropped: count and report a takeover. */
static void ntm_takeover_report(struct ntm_dev *nd,
				const struct ntm_takeover_ev *ev)
{
	ntm_dev_count(nd, NTM_STAT(TAKEOVER), 1);
	ntm_event_takeover(nd, ev->local_index, ev->remote_index,
			   ev->replaces);
}

/*
 * A pending tunnel starts to send: a successor takes its predecessor's
 * place, a held new tunnel is confirmed and what waited for it in the
 * acquire queue leaves.  Called by the receive path (softirq or an async
 * crypto completion, BH off, RCU) when @t, held by the caller,
 * authenticated a packet, and by SET_TUNNEL with TAKEOVER NOW.  Whoever
 * holds the lock first decides: a concurrent deletion of @t (or of its
 * predecessor) clears the links and @held, and then there is nothing to do.
 * Returns whether @t started to send.
 */
bool ntm_tunnel_activate(struct ntm_tunnel *t)
{
	struct ntm_dev *nd = t->nd;
	struct ntm_takeover_ev ev;
	bool took_over = false, confirmed = false;

	spin_lock_bh(&nd->tbl_lock);
	if (t->pred && t->state == NTM_TUNNEL_STATE_PENDING) {
		ntm_takeover_locked(t, &ev);
		took_over = true;
	} else if (t->held) {
		/* before the acquire queue is walked: see ntm_acquire_hold() */
		WRITE_ONCE(t->held, false);
		WRITE_ONCE(t->state, NTM_TUNNEL_STATE_ACTIVE);
		ev.local_index = t->local_index;
		ev.remote_index = be32_to_cpu(t->remote_index);
		ev.replaces = 0;
		confirmed = true;
	}
	spin_unlock_bh(&nd->tbl_lock);
	if (took_over) {
		ntm_takeover_report(nd, &ev);
	} else if (confirmed) {
		ntm_dev_count(nd, NTM_STAT(CONFIRMED), 1);
		ntm_event_takeover(nd, ev.local_index, ev.remote_index, 0);
		ntm_acquire_release(nd, t);
	}
	return took_over || confirmed;
}

void ntm_tunnel_rekey_info(struct ntm_tunnel *t, struct ntm_rekey_info *i)
{
	struct ntm_dev *nd = t->nd;

	spin_lock_bh(&nd->tbl_lock);
	i->state = t->state;
	i->has_succ = !!t->succ;
	i->replaces = t->pred ? t->pred->local_index : 0;
	spin_unlock_bh(&nd->tbl_lock);
}

int ntm_tunnel_create(struct ntm_dev *nd, const struct ntm_tunnel_params *p,
		      struct ntm_tunnel **out)
{
	struct ntm_takeover_ev ev;
	bool took_over = false;
	struct ntm_tunnel *t;
	int err;

	lockdep_assert_held(&nd->lock);

	if (ntm_tunnel_find_index_locked(nd, p->local_index))
		return -EEXIST;
	/*
	 * A successor may go beyond the limit, up to twice it: a rekey must
	 * work on a full device, and every tunnel has at most one successor
	 * while its retired predecessors wait for their deletion.
	 */
	if ((u64)nd->num_tunnels >= (u64)nd->max_tunnels * (p->pred ? 2 : 1)) {
		ntm_dev_count(nd, NTM_STAT(TUNNEL_REFUSED), 1);
		return -ENOSPC;
	}
	/* a successor shares its predecessor's addresses (checked by caller) */
	if (!p->pred && p->has_vip4 &&
	    rhashtable_lookup_fast(&nd->vip4_ht, &p->vip4, ntm_vip4_params))
		return -EEXIST;
	if (!p->pred && p->has_vip6 &&
	    rhashtable_lookup_fast(&nd->vip6_ht, &p->vip6, ntm_vip6_params))
		return -EEXIST;

	t = kmem_cache_zalloc(ntm_tunnel_cache, GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->route_key = ntm_route_key_next();
	if (p->encap == NTM_ENCAP_ESP_UDP) {
		t->esp = kzalloc(struct_size(t->esp, sel, p->remote_ts.n),
				 GFP_KERNEL_ACCOUNT);
		if (!t->esp) {
			err = -ENOMEM;
			goto err_free;
		}
		t->esp->t = t;
		t->esp->esn = p->esn;
		t->esp->remote_ts = p->remote_ts;
		t->esp->local_ts = p->local_ts;
		t->esp->rx_aead = ntm_esp_aead_alloc(p->cipher, p->rx_key,
						     p->rx_key_len, p->rx_salt);
		if (IS_ERR(t->esp->rx_aead)) {
			err = PTR_ERR(t->esp->rx_aead);
			goto err_esp;
		}
		t->aead = ntm_esp_aead_alloc(p->cipher, p->key, p->key_len,
					     p->tx_salt);
	} else if (ntm_crypto_use_lib(p->cipher)) {
		err = ntm_crypto_check(p->cipher, p->key_len);
		if (err)
			goto err_free;
		memcpy(t->key, p->key, NTM_LIB_KEY_LEN);
		t->aead = NULL;
	} else {
		t->aead = ntm_aead_alloc(p->cipher, p->key, p->key_len);
	}
	if (IS_ERR(t->aead)) {
		err = PTR_ERR(t->aead);
		goto err_rx_aead;
	}

	t->nd = nd;
	refcount_set(&t->ref, 1);	/* owned by the tables */
	t->local_index = p->local_index;
	t->remote_index = cpu_to_be32(p->remote_index);
	t->has_vip4 = p->has_vip4;
	t->vip4 = p->vip4;
	t->has_vip6 = p->has_vip6;
	t->vip6 = p->vip6;
	t->cipher = p->cipher;
	t->encap = p->encap;
	t->flags = p->flags;
	seqlock_init(&t->ep_lock);
	t->ep = p->ep;
	memcpy(t->tx_salt, p->tx_salt, NTM_SALT_LEN);
	memcpy(t->rx_salt, p->rx_salt, NTM_SALT_LEN);
	atomic64_set(&t->tx_counter, p->tx_counter);
	ntm_replay_init(&t->replay);
	t->created_ns = ktime_get_boottime_ns();
	timer_setup(&t->lifetime_timer, ntm_lifetime_timer, 0);
	INIT_LIST_HEAD(&t->expire_list);
	INIT_RCU_WORK(&t->free_work, ntm_tunnel_free_work);
	/* before publishing: the packet path may look at it at once */
	t->held = !p->pred && p->hold;
	t->state = p->pred || t->held ? NTM_TUNNEL_STATE_PENDING :
					NTM_TUNNEL_STATE_ACTIVE;
	err = ntm_tunnel_set_limits(t, &p->limits);
	if (err)
		goto err_aead;
	if (t->esp) {
		err = ntm_sel_insert(nd, t->esp);
		if (err)
			goto err_aead;
	}

	err = rhashtable_insert_fast(&nd->index_ht, &t->index_node,
				     ntm_index_params);
	if (err)
		goto err_sel;
	spin_lock_bh(&nd->tbl_lock);
	if (p->pred) {
		/* receives from now on; sends once it takes over */
		t->pred = p->pred;
		p->pred->succ = t;
		if (p->takeover == NTM_TAKEOVER_NOW) {
			ntm_takeover_locked(t, &ev);
			took_over = true;
		}
	} else {
		err = ntm_vip_insert(nd, t);
	}
	spin_unlock_bh(&nd->tbl_lock);
	if (err)
		goto err_index;
	ntm_rb_insert(nd, t);
	nd->num_tunnels++;
	if (t->esp)
		WRITE_ONCE(nd->num_esp, nd->num_esp + 1);
	if (p->lifetime)
		ntm_tunnel_set_lifetime(t, p->lifetime);
	if (p->soft_lifetime)
		ntm_tunnel_set_soft_lifetime(t, p->soft_lifetime);
	if (took_over)
		ntm_takeover_report(nd, &ev);
	*out = t;
	return 0;

err_index:
	rhashtable_remove_fast(&nd->index_ht, &t->index_node,
			       ntm_index_params);
err_sel:
	if (t->esp)
		ntm_sel_remove(nd, t->esp);
	/* a reader may have found it meanwhile: free only after RCU */
	ntm_tunnel_put(t);
	return err;
err_aead:
	kfree(t->lim);
	crypto_free_aead(t->aead);
err_rx_aead:
	if (t->esp)
		crypto_free_aead(t->esp->rx_aead);
err_esp:
	kfree_sensitive(t->esp);
err_free:
	ntm_tunnel_free(t);
	return err;
}

/*
 * Take @t out of the virtual-address tables and out of any rekey.  A
 * pending successor leaves its predecessor as it was.  An active tunnel
 * with a pending successor hands its addresses over (@handover), so that
 * traffic never finds no tunnel, or (flush, teardown) just goes.  A retired
 * tunnel is in no virtual-address table.  Returns whether a successor took
 * over (and fills @ev).
 */
static bool ntm_tunnel_unlink_vips(struct ntm_tunnel *t, bool handover,
				   struct ntm_takeover_ev *ev)
{
	struct ntm_dev *nd = t->nd;
	bool took_over = false;

	spin_lock_bh(&nd->tbl_lock);
	if (t->pred) {
		t->pred->succ = NULL;
		t->pred = NULL;
	} else if (t->succ && handover) {
		ntm_takeover_locked(t->succ, ev);
		took_over = true;
	} else if (t->state == NTM_TUNNEL_STATE_ACTIVE || t->held) {
		WRITE_ONCE(t->held, false);
		if (t->succ) {
			t->succ->pred = NULL;
			t->succ = NULL;
		}
		ntm_vip_remove(nd, t);
	}
	spin_unlock_bh(&nd->tbl_lock);
	return took_over;
}

static void __ntm_tunnel_remove(struct ntm_tunnel *t, bool handover)
{
	struct ntm_dev *nd = t->nd;
	struct ntm_takeover_ev ev;
	bool took_over;

	lockdep_assert_held(&nd->lock);
	if (t->unlinked)
		return;
	WRITE_ONCE(t->unlinked, true);
	took_over = ntm_tunnel_unlink_vips(t, handover, &ev);
	rhashtable_remove_fast(&nd->index_ht, &t->index_node,
			       ntm_index_params);
	rb_erase(&t->rb, &nd->by_index);
	nd->num_tunnels--;
	if (t->esp) {
		ntm_sel_remove(nd, t->esp);
		WRITE_ONCE(nd->num_esp, nd->num_esp - 1);
	}
	del_timer_sync(&t->lifetime_timer);
	ntm_tunnel_put(t);
	if (took_over)
		ntm_takeover_report(nd, &ev);
}

/*
 * Delete one tunnel (DEL_TUNNEL, expiry).  A predecessor whose successor
 * is still pending makes the successor take over at once.
 */
void ntm_tunnel_remove(struct ntm_tunnel *t)
{
	__ntm_tunnel_remove(t, true);
}

/* Flush and teardown: everything goes, nothing takes over. */
void ntm_tunnel_remove_all(struct ntm_dev *nd)
{
	struct rb_node *n;

	lockdep_assert_held(&nd->lock);
	while ((n = rb_first(&nd->by_index))) {
		__ntm_tunnel_remove(rb_entry(n, struct ntm_tunnel, rb), false);
		cond_resched();
	}
}

/* counter -> 1 + its NTM_TSTAT_* slot in a tunnel; 0: a device total */
static const u8 ntm_tstat_map[NTM_STAT_NR] = {
	[NTM_STAT(DROP_REPLAY)] = 1 + NTM_TSTAT_DROP_REPLAY,
	[NTM_STAT(DROP_AUTH)] = 1 + NTM_TSTAT_DROP_AUTH,
	[NTM_STAT(DROP_MALFORMED)] = 1 + NTM_TSTAT_DROP_MALFORMED,
	[NTM_STAT(DROP_INNER_SRC)] = 1 + NTM_TSTAT_DROP_INNER_SRC,
	[NTM_STAT(DROP_NOMEM)] = 1 + NTM_TSTAT_DROP_NOMEM,
	[NTM_STAT(DROP_TX_ERROR)] = 1 + NTM_TSTAT_DROP_TX_ERROR,
	[NTM_STAT(DROP_EXPIRED)] = 1 + NTM_TSTAT_DROP_EXPIRED,
	[NTM_STAT(DROP_TS)] = 1 + NTM_TSTAT_DROP_TS,
	[NTM_STAT(DROP_ECN)] = 1 + NTM_TSTAT_DROP_ECN,
	[NTM_STAT(ROAMED)] = 1 + NTM_TSTAT_ROAMED,
	[NTM_STAT(ROAM_EVENT_SUPPRESSED)] = 1 + NTM_TSTAT_ROAM_EVENT_SUPPRESSED,
	[NTM_STAT(KEEPALIVE_RX)] = 1 + NTM_TSTAT_KEEPALIVE_RX,
	[NTM_STAT(DUMMY_RX)] = 1 + NTM_TSTAT_DUMMY_RX,
};

/* Whether a tunnel counts @stat itself (its traffic, or a slot). */
bool ntm_tunnel_stat_kept(unsigned int stat)
{
	return stat == NTM_STAT(RX_PACKETS) || stat == NTM_STAT(RX_BYTES) ||
	       stat == NTM_STAT(TX_PACKETS) || stat == NTM_STAT(TX_BYTES) ||
	       (stat < NTM_STAT_NR && ntm_tstat_map[stat]);
}

void ntm_tunnel_count(struct ntm_tunnel *t, unsigned int stat)
{
	if (likely(stat < NTM_STAT_NR && ntm_tstat_map[stat]))
		atomic64_inc(&t->drops[ntm_tstat_map[stat] - 1]);
	ntm_dev_count(t->nd, stat, 1);
}

void ntm_tunnel_stats_read(struct ntm_tunnel *t, u64 *out)
{
	unsigned int i;

	for (i = 0; i < NTM_STAT_NR; i++)
		out[i] = ntm_tstat_map[i] ?
			 atomic64_read(&t->drops[ntm_tstat_map[i] - 1]) : 0;
	out[NTM_STAT(RX_PACKETS)] = atomic64_read(&t->rx_packets);
	out[NTM_STAT(RX_BYTES)] = atomic64_read(&t->rx_bytes);
	out[NTM_STAT(TX_PACKETS)] = atomic64_read(&t->tx_packets);
	out[NTM_STAT(TX_BYTES)] = atomic64_read(&t->tx_bytes);
}

void ntm_tunnel_set_endpoint(struct ntm_tunnel *t,
			     const union ntm_sockaddr *ep)
{
	write_seqlock_bh(&t->ep_lock);
	t->ep = *ep;
	t->route_key = ntm_route_key_next();
	write_sequnlock_bh(&t->ep_lock);
}

void ntm_tunnel_get_endpoint(struct ntm_tunnel *t, union ntm_sockaddr *ep)
{
	unsigned int seq;

	do {
		seq = read_seqbegin(&t->ep_lock);
		*ep = t->ep;
	} while (read_seqretry(&t->ep_lock, seq));
}

/*
 * Ask the expiry worker to remove @t.  Callable from any context; holds a
 * reference until the worker ran.  Only the first call counts.
 */
void ntm_tunnel_expire(struct ntm_tunnel *t, u32 reason)
{
	struct ntm_dev *nd = t->nd;
	unsigned long flags;

	if (test_and_set_bit(NTM_T_EXPIRE_QUEUED, &t->expire_state))
		return;
	if (!refcount_inc_not_zero(&t->ref))
		return;
	spin_lock_irqsave(&nd->expire_lock, flags);
	if (nd->dead) {
		spin_unlock_irqrestore(&nd->expire_lock, flags);
		ntm_tunnel_put(t);
		return;
	}
	t->expire_reason = reason;
	list_add_tail(&t->expire_list, &nd->expire_list);
	queue_work(ntm_wq, &nd->expire_work);
	spin_unlock_irqrestore(&nd->expire_lock, flags);
}

void ntm_expire_work(struct work_struct *work)
{
	struct ntm_dev *nd = container_of(work, struct ntm_dev, expire_work);
	struct ntm_tunnel *t;
	LIST_HEAD(batch);

	spin_lock_irq(&nd->expire_lock);
	list_splice_init(&nd->expire_list, &batch);
	spin_unlock_irq(&nd->expire_lock);

	mutex_lock(&nd->lock);
	while ((t = list_first_entry_or_null(&batch, struct ntm_tunnel,
					     expire_list))) {
		list_del_init(&t->expire_list);
		if (!t->unlinked && !nd->dead) {
			u32 local = t->local_index;
			u32 remote = be32_to_cpu(t->remote_index);

			ntm_tunnel_remove(t);
			ntm_event_expired(nd, local, remote, t->expire_reason);
		}
		ntm_tunnel_put(t);
	}
	mutex_unlock(&nd->lock);
}
