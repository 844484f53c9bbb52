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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/ktime.h>
#include "ntm.h"

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
	nd->by_index = RB_ROOT;
	nd->num_tunnels = 0;
	return 0;

err_vip4:
	rhashtable_destroy(&nd->vip4_ht);
err_index:
	rhashtable_destroy(&nd->index_ht);
	return err;
}

/* Called once every tunnel was removed. */
void ntm_tables_destroy(struct ntm_dev *nd)
{
	rhashtable_destroy(&nd->vip6_ht);
	rhashtable_destroy(&nd->vip4_ht);
	rhashtable_destroy(&nd->index_ht);
}

static void ntm_tunnel_free_work(struct work_struct *work)
{
	struct ntm_tunnel *t = container_of(to_rcu_work(work),
					    struct ntm_tunnel, free_work);

	crypto_free_aead(t->aead);
	dst_cache_destroy(&t->dst_cache);
	free_percpu(t->pcpu);
	ntm_tunnel_free(t);
}

void ntm_tunnel_put(struct ntm_tunnel *t)
{
	if (refcount_dec_and_test(&t->ref))
		queue_rcu_work(ntm_wq, &t->free_work);
}

static struct ntm_tunnel *ntm_tunnel_get_rcu(struct ntm_tunnel *t)
{
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

static void ntm_lifetime_timer(struct timer_list *timer)
{
	struct ntm_tunnel *t = from_timer(t, timer, lifetime_timer);

	ntm_tunnel_expire(t, NTM_EXPIRE_LIFETIME);
}

void ntm_tunnel_set_lifetime(struct ntm_tunnel *t, u32 lifetime)
{
	u64 deadline_ns, now = ktime_get_boottime_ns();

	lockdep_assert_held(&t->nd->lock);
	t->lifetime = lifetime;
	if (!lifetime) {
		del_timer_sync(&t->lifetime_timer);
		return;
	}
	deadline_ns = t->created_ns + (u64)lifetime * NSEC_PER_SEC;
	if (deadline_ns <= now)
		mod_timer(&t->lifetime_timer, jiffies);
	else
		mod_timer(&t->lifetime_timer,
			  jiffies + nsecs_to_jiffies(deadline_ns - now));
}

int ntm_tunnel_create(struct ntm_dev *nd, const struct ntm_tunnel_params *p,
		      struct ntm_tunnel **out)
{
	struct ntm_tunnel *t;
	int cpu, err;

	lockdep_assert_held(&nd->lock);

	if (ntm_tunnel_find_index_locked(nd, p->local_index))
		return -EEXIST;
	if (p->has_vip4 && rhashtable_lookup_fast(&nd->vip4_ht, &p->vip4,
						  ntm_vip4_params))
		return -EEXIST;
	if (p->has_vip6 && rhashtable_lookup_fast(&nd->vip6_ht, &p->vip6,
						  ntm_vip6_params))
		return -EEXIST;

	t = kmem_cache_zalloc(ntm_tunnel_cache, GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->pcpu = alloc_percpu_gfp(struct ntm_tunnel_pcpu, GFP_KERNEL_ACCOUNT);
	if (!t->pcpu) {
		err = -ENOMEM;
		goto err_free;
	}
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(t->pcpu, cpu)->syncp);
	err = dst_cache_init(&t->dst_cache, GFP_KERNEL_ACCOUNT);
	if (err)
		goto err_pcpu;
	t->aead = ntm_aead_alloc(p->cipher, p->key, p->key_len);
	if (IS_ERR(t->aead)) {
		err = PTR_ERR(t->aead);
		goto err_dst;
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
	t->flags = p->flags;
	seqlock_init(&t->ep_lock);
	t->ep = p->ep;
	memcpy(t->tx_salt, p->tx_salt, NTM_SALT_LEN);
	memcpy(t->rx_salt, p->rx_salt, NTM_SALT_LEN);
	atomic64_set(&t->tx_counter, 0);
	ntm_replay_init(&t->replay);
	t->created_ns = ktime_get_boottime_ns();
	timer_setup(&t->lifetime_timer, ntm_lifetime_timer, 0);
	INIT_LIST_HEAD(&t->expire_list);
	INIT_RCU_WORK(&t->free_work, ntm_tunnel_free_work);

	err = rhashtable_insert_fast(&nd->index_ht, &t->index_node,
				     ntm_index_params);
	if (err)
		goto err_aead;
	if (t->has_vip4) {
		err = rhashtable_insert_fast(&nd->vip4_ht, &t->vip4_node,
					     ntm_vip4_params);
		if (err)
			goto err_index;
	}
	if (t->has_vip6) {
		err = rhashtable_insert_fast(&nd->vip6_ht, &t->vip6_node,
					     ntm_vip6_params);
		if (err)
			goto err_vip4;
	}
	ntm_rb_insert(nd, t);
	nd->num_tunnels++;
	if (p->lifetime)
		ntm_tunnel_set_lifetime(t, p->lifetime);
	*out = t;
	return 0;

err_vip4:
	if (t->has_vip4)
		rhashtable_remove_fast(&nd->vip4_ht, &t->vip4_node,
				       ntm_vip4_params);
err_index:
	rhashtable_remove_fast(&nd->index_ht, &t->index_node,
			       ntm_index_params);
	/* a reader may have found it meanwhile: free only after RCU */
	ntm_tunnel_put(t);
	return err;
err_aead:
	crypto_free_aead(t->aead);
err_dst:
	dst_cache_destroy(&t->dst_cache);
err_pcpu:
	free_percpu(t->pcpu);
err_free:
	ntm_tunnel_free(t);
	return err;
}

void ntm_tunnel_remove(struct ntm_tunnel *t)
{
	struct ntm_dev *nd = t->nd;

	lockdep_assert_held(&nd->lock);
	if (t->unlinked)
		return;
	WRITE_ONCE(t->unlinked, true);
	rhashtable_remove_fast(&nd->index_ht, &t->index_node,
			       ntm_index_params);
	if (t->has_vip4)
		rhashtable_remove_fast(&nd->vip4_ht, &t->vip4_node,
				       ntm_vip4_params);
	if (t->has_vip6)
		rhashtable_remove_fast(&nd->vip6_ht, &t->vip6_node,
				       ntm_vip6_params);
	rb_erase(&t->rb, &nd->by_index);
	nd->num_tunnels--;
	del_timer_sync(&t->lifetime_timer);
	ntm_tunnel_put(t);
}

void ntm_tunnel_remove_all(struct ntm_dev *nd)
{
	struct rb_node *n;

	lockdep_assert_held(&nd->lock);
	while ((n = rb_first(&nd->by_index))) {
		ntm_tunnel_remove(rb_entry(n, struct ntm_tunnel, rb));
		cond_resched();
	}
}

void ntm_tunnel_count(struct ntm_tunnel *t, unsigned int stat)
{
	atomic64_inc(&t->drops[stat]);
	ntm_dev_count(t->nd, stat, 1);
}

void ntm_tunnel_stats_read(struct ntm_tunnel *t, u64 *out)
{
	unsigned int i, start;
	int cpu;

	for (i = 0; i < NTM_STAT_NR; i++)
		out[i] = atomic64_read(&t->drops[i]);
	for_each_possible_cpu(cpu) {
		const struct ntm_tunnel_pcpu *s = per_cpu_ptr(t->pcpu, cpu);
		u64 rxp, rxb, txp, txb;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			rxp = s->rx_packets;
			rxb = s->rx_bytes;
			txp = s->tx_packets;
			txb = s->tx_bytes;
		} while (u64_stats_fetch_retry(&s->syncp, start));
		out[NTM_STAT(RX_PACKETS)] += rxp;
		out[NTM_STAT(RX_BYTES)] += rxb;
		out[NTM_STAT(TX_PACKETS)] += txp;
		out[NTM_STAT(TX_BYTES)] += txb;
	}
}

void ntm_tunnel_set_endpoint(struct ntm_tunnel *t,
			     const union ntm_sockaddr *ep)
{
	write_seqlock_bh(&t->ep_lock);
	t->ep = *ep;
	dst_cache_reset(&t->dst_cache);
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

	if (test_and_set_bit(0, &t->expire_state))
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
