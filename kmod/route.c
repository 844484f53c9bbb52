// SPDX-License-Identifier: GPL-2.0
/*
 * route.c - the outer route cache, per device and per CPU (D90).
 *
 * A route lookup per sent packet costs a FIB walk, so the routes of the
 * outer packets are cached.  The kernel's struct dst_cache is per CPU and
 * would be per tunnel here, about 40 bytes per possible CPU for every
 * tunnel: 100 000 tunnels on a machine with 64 possible CPUs would spend
 * 250 MB on it.  Instead each device has, per CPU, a small two-way set
 * associative cache of NTM_RTC_SLOTS routes.  A tunnel's entry is found by
 * its route key, a 64-bit number drawn from one module-wide sequence when
 * the tunnel is created and again whenever its route may change (endpoint,
 * device fwmark, socket): an old key is never drawn again, so an entry
 * stored under it is dead and no reset has to reach the other CPUs.  A
 * sender that looked a route up under a key that was replaced meanwhile
 * stores it under that old key, where nothing finds it: the race between
 * a route lookup and an endpoint change needs no lock.
 *
 * The memory is per device, not per tunnel: NTM_RTC_SLOTS x 40 bytes per
 * possible CPU.  A CPU that sends to more tunnels than its cache holds
 * looks their routes up again, as it would without a cache.  Entries hold
 * a route reference until they are replaced, found stale, or the device
 * is destroyed; like any cached route, the FIB moves a dead route's
 * device reference to the blackhole device, so a stale entry never holds
 * up the unregistration of the device it went through.
 *
 * Every access is from the owning CPU with bottom halves disabled (the
 * transmit path), so a slot needs no lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include "ntm.h"
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ip6_fib.h>
#endif

#define NTM_RTC_SET_BITS	6
#define NTM_RTC_SLOTS		(2U << NTM_RTC_SET_BITS)

struct ntm_rtc_slot {
	u64 key;			/* route key, 0: empty */
	struct dst_entry *dst;		/* holds a reference */
	union ntm_inaddr saddr;
	u32 cookie;			/* IPv6 route validity cookie */
	bool recent;			/* the set's most recently used way */
};

struct ntm_rtc {
	struct ntm_rtc_slot slot[NTM_RTC_SLOTS];
};

static atomic64_t ntm_route_key_seq = ATOMIC64_INIT(0);

u64 ntm_route_key_next(void)
{
	return atomic64_inc_return(&ntm_route_key_seq);
}

int ntm_route_cache_init(struct ntm_dev *nd)
{
	nd->rtc = alloc_percpu_gfp(struct ntm_rtc, GFP_KERNEL_ACCOUNT);
	return nd->rtc ? 0 : -ENOMEM;
}

/* When no packet can be sent any more (the device's destructor). */
void ntm_route_cache_destroy(struct ntm_dev *nd)
{
	unsigned int i;
	int cpu;

	if (!nd->rtc)
		return;
	for_each_possible_cpu(cpu) {
		struct ntm_rtc *c = per_cpu_ptr(nd->rtc, cpu);

		for (i = 0; i < NTM_RTC_SLOTS; i++)
			dst_release(c->slot[i].dst);
	}
	free_percpu(nd->rtc);
	nd->rtc = NULL;
}

static struct ntm_rtc_slot *ntm_rtc_set(struct ntm_dev *nd, u64 key)
{
	struct ntm_rtc *c = this_cpu_ptr(nd->rtc);

	return &c->slot[hash_64(key, NTM_RTC_SET_BITS) << 1];
}

static void ntm_rtc_touch(struct ntm_rtc_slot *set, unsigned int way)
{
	if (!set[way].recent) {
		set[way].recent = true;
		set[way ^ 1].recent = false;
	}
}

/*
 * The cached route of @key with a reference for the caller and its source
 * address in @saddr, or NULL.  BH disabled.
 */
struct dst_entry *ntm_route_cache_get(struct ntm_dev *nd, u64 key,
				      union ntm_inaddr *saddr)
{
	struct ntm_rtc_slot *set = ntm_rtc_set(nd, key);
	unsigned int way;

	lockdep_assert_once(in_softirq());
	for (way = 0; way < 2; way++) {
		struct ntm_rtc_slot *s = &set[way];
		struct dst_entry *dst = s->dst;

		if (s->key != key || !dst)
			continue;
		/* the slot's own reference keeps it alive until here */
		dst_hold(dst);
		if (unlikely(dst->obsolete &&
			     !dst->ops->check(dst, s->cookie))) {
			s->key = 0;
			s->dst = NULL;
			s->recent = false;
			dst_release(dst);
			dst_release(dst);
			return NULL;
		}
		*saddr = s->saddr;
		ntm_rtc_touch(set, way);
		return dst;
	}
	return NULL;
}

/*
 * Remember @dst (the caller keeps its own reference) as the route of @key,
 * in the set's empty or least recently used way.  BH disabled.
 */
void ntm_route_cache_set(struct ntm_dev *nd, u64 key, struct dst_entry *dst,
			 const union ntm_inaddr *saddr, sa_family_t family)
{
	struct ntm_rtc_slot *set = ntm_rtc_set(nd, key);
	struct dst_entry *old;
	unsigned int way;

	lockdep_assert_once(in_softirq());
	if (set[0].key == key || !set[0].dst)
		way = 0;
	else if (set[1].key == key || !set[1].dst)
		way = 1;
	else
		way = set[0].recent ? 1 : 0;

	old = set[way].dst;
	dst_hold(dst);
	set[way].dst = dst;
	set[way].key = key;
	set[way].saddr = *saddr;
	set[way].cookie = 0;
#if IS_ENABLED(CONFIG_IPV6)
	if (family == AF_INET6)
		set[way].cookie = rt6_get_cookie(container_of(dst,
							      struct rt6_info,
							      dst));
#endif
	ntm_rtc_touch(set, way);
	dst_release(old);
}
