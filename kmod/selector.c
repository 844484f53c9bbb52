// SPDX-License-Identifier: GPL-2.0
/*
 * selector.c - traffic selectors of ESP tunnels and the transmit lookup
 * by selector (D81).
 *
 * Every REMOTE_TS prefix of every ESP SA is one entry of nd->sel_ht, an
 * rhltable keyed by (family, prefix length, address masked to that
 * length).  Entries with the same key chain in the table's per-key list;
 * rhltable inserts a duplicate key at the head of that list, so the chain
 * is newest SA first.  Beside the table, one bitmap per family records the
 * prefix lengths in use (a count per length under nd->lock keeps it).
 *
 * Transmit looks up the inner destination once per length in use, longest
 * first: O(distinct prefix lengths) hash lookups whatever the number of
 * SAs, one for a device with host selectors only.  The first entry that
 * accepts the packet wins:
 *
 *  - an SA that is expiring (expire_state) or not ACTIVE (a pending rekey
 *    successor, a retired predecessor) is skipped, so that it never
 *    shadows the SA that should carry the packet; a retired SA is used
 *    only when no active one takes the packet (the instant of a takeover,
 *    D83);
 *  - an SA with LOCAL_TS carries only packets whose inner source lies in
 *    it (the second key, as an xfrm policy's source selector).
 *
 * A skipped entry falls back to the next one: an older SA with the same
 * prefix, then shorter prefixes.  A packet that found a covering REMOTE_TS
 * but was refused for its source by each is counted (TX_TS_REFUSED) and
 * goes to acquire like any miss.
 *
 * Readers run under RCU (the transmit path, BH off); writers hold
 * nd->lock.  The entries live in struct ntm_esp, freed with the tunnel
 * after a grace period, so the table needs no allocation per entry beyond
 * its own bucket array, and holds at most NTM_TS_MAX entries per tunnel.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/inetdevice.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <asm/unaligned.h>
#include "ntm.h"

static const struct rhashtable_params ntm_sel_params = {
	.head_offset = offsetof(struct ntm_sel, node),
	.key_offset = offsetof(struct ntm_sel, key),
	.key_len = sizeof(struct ntm_sel_key),
	.automatic_shrinking = true,
};

/* ---- selectors --------------------------------------------------------- */

static bool ntm_ts_covers(const struct ntm_ts *ts, int family,
			  const void *addr)
{
	if (ts->family != family)
		return false;
	if (!ts->prefixlen)
		return true;
	if (family == AF_INET)
		return !((get_unaligned((const __be32 *)addr) ^ ts->a4) &
			 inet_make_mask(ts->prefixlen));
	return ipv6_prefix_equal(addr, &ts->a6, ts->prefixlen);
}

/* Does a selector of @l cover @addr (4 or 16 bytes, network order)? */
bool ntm_ts_match(const struct ntm_ts_list *l, int family, const void *addr)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (ntm_ts_covers(&l->ts[i], family, addr))
			return true;
	return false;
}

/* @addr (4 or 16 bytes) masked to @plen bits. */
static void ntm_sel_key_set(struct ntm_sel_key *k, int family,
			    const void *addr, unsigned int plen)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->prefixlen = plen;
	if (family == AF_INET)
		k->addr[0] = get_unaligned((const __be32 *)addr) &
			     inet_make_mask(plen);
	else
		ipv6_addr_prefix((struct in6_addr *)k->addr, addr, plen);
}

/* ---- the table --------------------------------------------------------- */

int ntm_sel_init(struct ntm_dev *nd)
{
	bitmap_zero(nd->sel_lens4, 33);
	bitmap_zero(nd->sel_lens6, 129);
	memset(nd->sel_refs4, 0, sizeof(nd->sel_refs4));
	memset(nd->sel_refs6, 0, sizeof(nd->sel_refs6));
	return rhltable_init(&nd->sel_ht, &ntm_sel_params);
}

/* Called once every tunnel was removed: the table is empty. */
void ntm_sel_destroy(struct ntm_dev *nd)
{
	rhltable_destroy(&nd->sel_ht);
}

static void ntm_sel_len_get(struct ntm_dev *nd, int family, unsigned int plen)
{
	if (family == AF_INET) {
		if (!nd->sel_refs4[plen]++)
			set_bit(plen, nd->sel_lens4);
	} else {
		if (!nd->sel_refs6[plen]++)
			set_bit(plen, nd->sel_lens6);
	}
}

static void ntm_sel_len_put(struct ntm_dev *nd, int family, unsigned int plen)
{
	if (family == AF_INET) {
		if (!--nd->sel_refs4[plen])
			clear_bit(plen, nd->sel_lens4);
	} else {
		if (!--nd->sel_refs6[plen])
			clear_bit(plen, nd->sel_lens6);
	}
}

void ntm_sel_remove(struct ntm_dev *nd, struct ntm_esp *e)
{
	struct ntm_sel *s;

	lockdep_assert_held(&nd->lock);
	while (e->nsel) {
		s = &e->sel[--e->nsel];
		/* cannot fail: the entry is in the table */
		rhltable_remove(&nd->sel_ht, &s->node, ntm_sel_params);
		ntm_sel_len_put(nd, s->key.family, s->key.prefixlen);
	}
}

/*
 * Enter every REMOTE_TS prefix of @e (sel[] has room for remote_ts.n).
 * The length goes into the bitmap first: a reader that sees the length
 * but not yet the entry just misses, as it would a moment earlier.
 */
int ntm_sel_insert(struct ntm_dev *nd, struct ntm_esp *e)
{
	const struct ntm_ts *ts;
	struct ntm_sel *s;
	int err;

	lockdep_assert_held(&nd->lock);
	while (e->nsel < e->remote_ts.n) {
		ts = &e->remote_ts.ts[e->nsel];
		s = &e->sel[e->nsel];
		s->e = e;
		ntm_sel_key_set(&s->key, ts->family, &ts->a4, ts->prefixlen);
		ntm_sel_len_get(nd, ts->family, ts->prefixlen);
		err = rhltable_insert(&nd->sel_ht, &s->node, ntm_sel_params);
		if (err) {
			ntm_sel_len_put(nd, ts->family, ts->prefixlen);
			ntm_sel_remove(nd, e);
			return err;
		}
		e->nsel++;
	}
	return 0;
}

/* ---- transmit lookup --------------------------------------------------- */

/*
 * The first acceptable SA among the entries of key @k, newest first, with
 * a reference; NULL if none.  Under RCU.
 */
static struct ntm_tunnel *ntm_sel_pick(struct ntm_dev *nd,
				       const struct ntm_sel_key *k,
				       const void *saddr, bool *refused,
				       struct ntm_tunnel **retired)
{
	struct rhlist_head *list, *pos;
	struct ntm_tunnel *t;
	struct ntm_sel *s;
	u8 state;

	list = rhltable_lookup(&nd->sel_ht, k, ntm_sel_params);
	rhl_for_each_entry_rcu(s, pos, list, node) {
		t = s->e->t;
		/* on its way out, or not sending yet: not in the way */
		if (test_bit(NTM_T_EXPIRE_QUEUED, &t->expire_state))
			continue;
		state = READ_ONCE(t->state);
		if (state == NTM_TUNNEL_STATE_PENDING)
			continue;
		if (s->e->local_ts.n &&
		    !ntm_ts_match(&s->e->local_ts, k->family, saddr)) {
			*refused = true;
			continue;
		}
		if (state != NTM_TUNNEL_STATE_ACTIVE) {
			/* retired: only if no active SA takes the packet */
			if (!*retired)
				*retired = t;
			continue;
		}
		if (refcount_inc_not_zero(&t->ref))
			return t;
	}
	return NULL;
}

/*
 * Transmit lookup for ESP (under rcu_read_lock, BH off): the active SA
 * whose REMOTE_TS has the longest prefix covering @daddr and whose
 * LOCAL_TS, if any, covers @saddr; the newest SA wins a tie.  Returns a
 * reference, or NULL (the caller acquires).  @count: a packet is being
 * sent, so a refusal by LOCAL_TS is counted in TX_TS_REFUSED.
 */
static struct ntm_tunnel *ntm_find_ts(struct ntm_dev *nd, int family,
				      const void *daddr, const void *saddr,
				      bool count)
{
	const unsigned long *lens = family == AF_INET ? nd->sel_lens4 :
							nd->sel_lens6;
	int w = family == AF_INET ? BITS_TO_LONGS(33) : BITS_TO_LONGS(129);
	struct ntm_tunnel *t, *retired = NULL;
	struct ntm_sel_key k;
	bool refused = false;
	unsigned long bits;
	unsigned int plen;

	ntm_assert_rcu();
	while (w-- > 0) {
		bits = READ_ONCE(lens[w]);
		while (bits) {
			plen = __fls(bits);
			bits &= ~BIT(plen);
			ntm_sel_key_set(&k, family, daddr,
					w * BITS_PER_LONG + plen);
			t = ntm_sel_pick(nd, &k, saddr, &refused, &retired);
			if (t)
				return t;
		}
	}
	/*
	 * A takeover marks the successor ACTIVE, then its predecessor
	 * RETIRED; a reader between the two may have passed the successor
	 * as PENDING and now find the predecessor RETIRED.  The retired SA
	 * still works until it is deleted: better than the acquire queue.
	 */
	if (retired && refcount_inc_not_zero(&retired->ref))
		return retired;
	if (refused && count)
		ntm_dev_count(nd, NTM_STAT(TX_TS_REFUSED), 1);
	return NULL;
}

/* The lookup of a packet being sent: a LOCAL_TS refusal is counted. */
struct ntm_tunnel *ntm_tunnel_find_ts(struct ntm_dev *nd, int family,
				      const void *daddr, const void *saddr)
{
	return ntm_find_ts(nd, family, daddr, saddr, true);
}

/*
 * The same lookup for a packet that is only looked at (the acquire queue
 * deciding whom a queued packet waits for): nothing is counted, or each
 * new SA would count every packet still queued once more.
 */
struct ntm_tunnel *ntm_tunnel_peek_ts(struct ntm_dev *nd, int family,
				      const void *daddr, const void *saddr)
{
	return ntm_find_ts(nd, family, daddr, saddr, false);
}
