// SPDX-License-Identifier: GPL-2.0
/*
 * nl_tunnel.c - NEW/SET/DEL/GET_TUNNEL of the "ntm" generic netlink family:
 * NTM tunnels, ESP SA pairs, make-before-break successors and held new
 * tunnels (uapi/linux/ntm.h documents every attribute).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/inetdevice.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include "ntm.h"
#include "nl.h"

static int ntm_put_ts(struct sk_buff *skb, int type,
		      const struct ntm_ts_list *l)
{
	struct nlattr *nest = nla_nest_start(skb, type);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < l->n; i++) {
		const struct ntm_ts *ts = &l->ts[i];
		struct ntm_prefix p = {
			.family = ts->family,
			.prefixlen = ts->prefixlen,
		};

		if (ts->family == AF_INET)
			memcpy(p.addr, &ts->a4, sizeof(ts->a4));
		else
			memcpy(p.addr, &ts->a6, sizeof(ts->a6));
		if (nla_put(skb, NTM_TS_A_PREFIX, sizeof(p), &p)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Encapsulation-specific and lifetime attributes of a tunnel. */
static int ntm_put_tunnel_extra(struct sk_buff *skb, struct ntm_tunnel *t)
{
	const struct ntm_esp *e = t->esp;
	struct ntm_limits l;

	ntm_tunnel_get_limits(t, &l);
	if (nla_put_u8(skb, NTM_TUNNEL_A_ENCAP, t->encap) ||
	    nla_put_u32(skb, NTM_TUNNEL_A_SOFT_LIFETIME, t->soft_lifetime) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_SOFT_BYTES, l.soft_bytes,
			      NTM_TUNNEL_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_HARD_BYTES, l.hard_bytes,
			      NTM_TUNNEL_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_SOFT_PACKETS, l.soft_packets,
			      NTM_TUNNEL_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_HARD_PACKETS, l.hard_packets,
			      NTM_TUNNEL_A_PAD))
		return -EMSGSIZE;
	if (!e)
		return 0;
	if ((e->esn && nla_put_flag(skb, NTM_TUNNEL_A_ESN)) ||
	    ntm_put_ts(skb, NTM_TUNNEL_A_REMOTE_TS, &e->remote_ts) ||
	    (e->local_ts.n &&
	     ntm_put_ts(skb, NTM_TUNNEL_A_LOCAL_TS, &e->local_ts)))
		return -EMSGSIZE;
	return 0;
}

static int ntm_put_tunnel(struct sk_buff *skb, struct ntm_tunnel *t)
{
	struct ntm_rekey_info rk;
	u64 stats[NTM_STAT_NR];
	union ntm_sockaddr ep;
	struct nlattr *nest;
	u64 tx, now;

	nest = nla_nest_start(skb, NTM_A_TUNNEL);
	if (!nest)
		return -EMSGSIZE;
	ntm_tunnel_rekey_info(t, &rk);
	ntm_tunnel_get_endpoint(t, &ep);
	ntm_tunnel_stats_read(t, stats);
	tx = min_t(u64, atomic64_read(&t->tx_counter), NTM_COUNTER_LIMIT);
	now = ktime_get_boottime_ns();
	if (nla_put_u32(skb, NTM_TUNNEL_A_LOCAL_INDEX, t->local_index) ||
	    nla_put_u32(skb, NTM_TUNNEL_A_REMOTE_INDEX,
			be32_to_cpu(t->remote_index)) ||
	    nla_put(skb, NTM_TUNNEL_A_ENDPOINT, ntm_sockaddr_len(&ep), &ep) ||
	    (t->has_vip4 &&
	     nla_put_in_addr(skb, NTM_TUNNEL_A_VIP4, t->vip4)) ||
	    (t->has_vip6 &&
	     nla_put_in6_addr(skb, NTM_TUNNEL_A_VIP6, &t->vip6)) ||
	    nla_put_u16(skb, NTM_TUNNEL_A_CIPHER, t->cipher) ||
	    nla_put_u32(skb, NTM_TUNNEL_A_LIFETIME, t->lifetime) ||
	    nla_put_u32(skb, NTM_TUNNEL_A_FLAGS, READ_ONCE(t->flags)) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_TX_COUNTER, tx,
			      NTM_TUNNEL_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_RX_COUNTER,
			      ntm_replay_top(&t->replay), NTM_TUNNEL_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_TUNNEL_A_LAST_RX_NS,
			      READ_ONCE(t->last_rx_ns), NTM_TUNNEL_A_PAD) ||
	    nla_put_u32(skb, NTM_TUNNEL_A_AGE_S,
			div_u64(now - t->created_ns, NSEC_PER_SEC)) ||
	    ntm_put_tunnel_extra(skb, t) ||
	    nla_put_u8(skb, NTM_TUNNEL_A_STATE, rk.state) ||
	    (rk.replaces &&
	     nla_put_u32(skb, NTM_TUNNEL_A_REPLACES, rk.replaces)) ||
	    ntm_put_stats(skb, NTM_TUNNEL_A_STATS, stats,
			  ntm_tunnel_stat_kept)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int ntm_parse_tunnel_nest(struct genl_info *info, struct nlattr **tb)
{
	if (!info->attrs[NTM_A_TUNNEL]) {
		NL_SET_ERR_MSG(info->extack, "NTM_A_TUNNEL required");
		return -EINVAL;
	}
	return nla_parse_nested(tb, NTM_TUNNEL_A_MAX, info->attrs[NTM_A_TUNNEL],
				ntm_tunnel_policy, info->extack);
}

/* One nest of NTM_TS_A_PREFIX into @l, with every rule checked. */
static int ntm_parse_ts(struct nlattr *nest, struct ntm_ts_list *l,
			struct netlink_ext_ack *extack)
{
	struct nlattr *a;
	int rem;

	l->n = 0;
	nla_for_each_nested(a, nest, rem) {
		struct ntm_ts *ts;
		struct ntm_prefix p;

		if (nla_type(a) != NTM_TS_A_PREFIX ||
		    nla_len(a) != sizeof(p)) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "traffic selector must be an NTM_TS_A_PREFIX of struct ntm_prefix");
			return -EINVAL;
		}
		if (l->n == NTM_TS_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "more than NTM_TS_MAX traffic selectors");
			return -E2BIG;
		}
		memcpy(&p, nla_data(a), sizeof(p));
		if (p.reserved[0] || p.reserved[1]) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "traffic selector: reserved bytes must be zero");
			return -EINVAL;
		}
		ts = &l->ts[l->n];
		memset(ts, 0, sizeof(*ts));
		ts->family = p.family;
		ts->prefixlen = p.prefixlen;
		if (p.family == AF_INET) {
			static const u8 zero[12];

			if (p.prefixlen > 32) {
				NL_SET_ERR_MSG_ATTR(extack, a,
						    "IPv4 traffic selector prefix longer than 32");
				return -EINVAL;
			}
			if (memcmp(p.addr + 4, zero, sizeof(zero)))
				goto bad_addr;
			memcpy(&ts->a4, p.addr, sizeof(ts->a4));
			if (ts->a4 & ~inet_make_mask(p.prefixlen))
				goto host_bits;
		} else if (p.family == AF_INET6) {
			struct in6_addr masked;

			if (p.prefixlen > 128) {
				NL_SET_ERR_MSG_ATTR(extack, a,
						    "IPv6 traffic selector prefix longer than 128");
				return -EINVAL;
			}
			memcpy(&ts->a6, p.addr, sizeof(ts->a6));
			ipv6_addr_prefix(&masked, &ts->a6, p.prefixlen);
			if (!ipv6_addr_equal(&masked, &ts->a6))
				goto host_bits;
		} else {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "traffic selector family must be AF_INET or AF_INET6");
			return -EAFNOSUPPORT;
		}
		l->n++;
	}
	return 0;

bad_addr:
	NL_SET_ERR_MSG_ATTR(extack, nest,
			    "IPv4 traffic selector: address bytes 4..15 must be zero");
	return -EINVAL;
host_bits:
	NL_SET_ERR_MSG_ATTR(extack, nest,
			    "traffic selector has host bits set beyond its prefix length");
	return -EINVAL;
}

/*
 * Lifetime attributes of NEW_TUNNEL and SET_TUNNEL into @p / @l (which
 * hold the current values); a soft limit must lie below its hard one.
 */
static int ntm_parse_limits(struct nlattr **tb, struct ntm_limits *l,
			    u32 *hard_time, u32 *soft_time,
			    struct netlink_ext_ack *extack)
{
	if (tb[NTM_TUNNEL_A_LIFETIME])
		*hard_time = nla_get_u32(tb[NTM_TUNNEL_A_LIFETIME]);
	if (tb[NTM_TUNNEL_A_SOFT_LIFETIME])
		*soft_time = nla_get_u32(tb[NTM_TUNNEL_A_SOFT_LIFETIME]);
	if (tb[NTM_TUNNEL_A_SOFT_BYTES])
		l->soft_bytes = nla_get_u64(tb[NTM_TUNNEL_A_SOFT_BYTES]);
	if (tb[NTM_TUNNEL_A_HARD_BYTES])
		l->hard_bytes = nla_get_u64(tb[NTM_TUNNEL_A_HARD_BYTES]);
	if (tb[NTM_TUNNEL_A_SOFT_PACKETS])
		l->soft_packets = nla_get_u64(tb[NTM_TUNNEL_A_SOFT_PACKETS]);
	if (tb[NTM_TUNNEL_A_HARD_PACKETS])
		l->hard_packets = nla_get_u64(tb[NTM_TUNNEL_A_HARD_PACKETS]);

	if (*hard_time && *soft_time >= *hard_time) {
		NL_SET_ERR_MSG(extack, "soft lifetime must be below the hard lifetime");
		return -EINVAL;
	}
	if (l->hard_bytes && l->soft_bytes >= l->hard_bytes) {
		NL_SET_ERR_MSG(extack, "soft byte limit must be below the hard one");
		return -EINVAL;
	}
	if (l->hard_packets && l->soft_packets >= l->hard_packets) {
		NL_SET_ERR_MSG(extack, "soft packet limit must be below the hard one");
		return -EINVAL;
	}
	return 0;
}

static int ntm_parse_esp(struct genl_info *info, struct nlattr **tb,
			 struct ntm_tunnel_params *p)
{
	static const int required[] = {
		NTM_TUNNEL_A_RX_KEY, NTM_TUNNEL_A_REMOTE_TS,
	};
	static const int refused[] = { NTM_TUNNEL_A_VIP4, NTM_TUNNEL_A_VIP6 };
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *bad;
	u64 max;
	int err;

	err = ntm_require(info, tb, required, ARRAY_SIZE(required));
	if (err)
		return err;
	bad = ntm_present(tb, refused, ARRAY_SIZE(refused));
	if (bad) {
		NL_SET_ERR_MSG_ATTR(extack, bad,
				    "ESP tunnels are chosen by traffic selector, not by virtual address");
		return -EINVAL;
	}
	if (tb[NTM_TUNNEL_A_TAKEOVER] && !tb[NTM_TUNNEL_A_REPLACES]) {
		/* a new selector is covered by no SA yet: nothing to hold */
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_TAKEOVER],
				    "TAKEOVER on an ESP SA pair needs REPLACES");
		return -EINVAL;
	}
	if (tb[NTM_TUNNEL_A_TAKEOVER])
		p->takeover = nla_get_u8(tb[NTM_TUNNEL_A_TAKEOVER]);
	if (p->local_index < NTM_ESP_SPI_MIN) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_LOCAL_INDEX],
				    "inbound SPI must be at least 256");
		return -EINVAL;
	}
	if (p->remote_index < NTM_ESP_SPI_MIN) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_REMOTE_INDEX],
				    "outbound SPI must be at least 256");
		return -EINVAL;
	}
	if (tb[NTM_TUNNEL_A_REPLACES] &&
	    nla_get_u32(tb[NTM_TUNNEL_A_REPLACES]) == p->local_index) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_REPLACES],
				    "a successor needs an inbound SPI of its own");
		return -EINVAL;
	}
	p->rx_key = nla_data(tb[NTM_TUNNEL_A_RX_KEY]);
	p->rx_key_len = nla_len(tb[NTM_TUNNEL_A_RX_KEY]);
	if (ntm_esp_crypto_check(p->cipher, p->key_len)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_KEY],
				    "key length does not fit the cipher");
		return -EINVAL;
	}
	if (ntm_esp_crypto_check(p->cipher, p->rx_key_len)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_RX_KEY],
				    "key length does not fit the cipher");
		return -EINVAL;
	}
	if (p->key_len == p->rx_key_len &&
	    !memcmp(p->key, p->rx_key, p->key_len) &&
	    !memcmp(p->tx_salt, p->rx_salt, NTM_SALT_LEN)) {
		/* both SAs would use the same nonces */
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_RX_KEY],
				    "inbound and outbound SA need different keys or salts");
		return -EINVAL;
	}
	p->esn = nla_get_flag(tb[NTM_TUNNEL_A_ESN]);
	err = ntm_parse_ts(tb[NTM_TUNNEL_A_REMOTE_TS], &p->remote_ts, extack);
	if (err)
		return err;
	if (!p->remote_ts.n) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_REMOTE_TS],
				    "an ESP tunnel needs at least one remote traffic selector");
		return -EINVAL;
	}
	if (tb[NTM_TUNNEL_A_LOCAL_TS]) {
		err = ntm_parse_ts(tb[NTM_TUNNEL_A_LOCAL_TS], &p->local_ts,
				   extack);
		if (err)
			return err;
	}
	p->tx_counter = 1;	/* RFC 4303 3.3.3: the first packet has 1 */
	if (tb[NTM_TUNNEL_A_TX_COUNTER]) {
		p->tx_counter = nla_get_u64(tb[NTM_TUNNEL_A_TX_COUNTER]);
		max = p->esn ? NTM_COUNTER_LIMIT - 1 : NTM_ESP_SEQ_MAX;
		if (!p->tx_counter || p->tx_counter > max) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_TX_COUNTER],
					    "first sequence number out of range (1..2^32-1, ESN: 1..NTM_COUNTER_LIMIT-1)");
			return -EINVAL;
		}
	}
	return 0;
}

static int ntm_parse_ntm(struct genl_info *info, struct nlattr **tb,
			 struct ntm_tunnel_params *p)
{
	static const int refused[] = {
		NTM_TUNNEL_A_RX_KEY, NTM_TUNNEL_A_ESN, NTM_TUNNEL_A_REMOTE_TS,
		NTM_TUNNEL_A_LOCAL_TS,
	};
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *bad;

	bad = ntm_present(tb, refused, ARRAY_SIZE(refused));
	if (bad) {
		NL_SET_ERR_MSG_ATTR(extack, bad,
				    "attribute only applies to ESP tunnels");
		return -EINVAL;
	}
	if (!tb[NTM_TUNNEL_A_VIP4] && !tb[NTM_TUNNEL_A_VIP6]) {
		NL_SET_ERR_MSG(extack, "a tunnel needs NTM_TUNNEL_A_VIP4 or _VIP6");
		return -EINVAL;
	}
	if (ntm_crypto_check(p->cipher, p->key_len)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_KEY],
				    "key length does not fit the cipher");
		return -EINVAL;
	}
	if (!memcmp(p->tx_salt, p->rx_salt, NTM_SALT_LEN)) {
		/* equal salts would reuse nonces across directions */
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_RX_SALT],
				    "transmit and receive salts must differ");
		return -EINVAL;
	}
	if (tb[NTM_TUNNEL_A_VIP4]) {
		p->has_vip4 = true;
		p->vip4 = nla_get_in_addr(tb[NTM_TUNNEL_A_VIP4]);
		if (ipv4_is_zeronet(p->vip4) || ipv4_is_multicast(p->vip4) ||
		    ipv4_is_lbcast(p->vip4)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_VIP4],
					    "virtual IPv4 must be unicast");
			return -EINVAL;
		}
	}
	if (tb[NTM_TUNNEL_A_VIP6]) {
		p->has_vip6 = true;
		p->vip6 = nla_get_in6_addr(tb[NTM_TUNNEL_A_VIP6]);
		if (ipv6_addr_any(&p->vip6) ||
		    ipv6_addr_is_multicast(&p->vip6)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_VIP6],
					    "virtual IPv6 must be unicast");
			return -EINVAL;
		}
	}
	if (tb[NTM_TUNNEL_A_TX_COUNTER]) {
		p->tx_counter = nla_get_u64(tb[NTM_TUNNEL_A_TX_COUNTER]);
		if (p->tx_counter >= NTM_COUNTER_LIMIT) {
			NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_TX_COUNTER],
					    "first counter at or above NTM_COUNTER_LIMIT");
			return -EINVAL;
		}
	}
	if (tb[NTM_TUNNEL_A_TAKEOVER])
		p->takeover = nla_get_u8(tb[NTM_TUNNEL_A_TAKEOVER]);
	/* a new tunnel that sends once the peer has shown it holds the key */
	p->hold = tb[NTM_TUNNEL_A_TAKEOVER] && !tb[NTM_TUNNEL_A_REPLACES] &&
		  p->takeover == NTM_TAKEOVER_ON_RX;
	if (tb[NTM_TUNNEL_A_REPLACES] &&
	    nla_get_u32(tb[NTM_TUNNEL_A_REPLACES]) == p->local_index) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_TUNNEL_A_REPLACES],
				    "a successor needs a local index of its own");
		return -EINVAL;
	}
	return 0;
}

/*
 * NEW_TUNNEL with REPLACES, under nd->lock: the predecessor must be an
 * active tunnel of the device of the same kind with no pending successor:
 * an NTM tunnel carrying exactly the virtual addresses of the new one, or
 * an ESP SA pair (whose selectors may differ: a rekey may narrow them).
 */
static int ntm_parse_replaces(struct ntm_dev *nd, struct nlattr *attr,
			      struct ntm_tunnel_params *p,
			      struct netlink_ext_ack *extack)
{
	bool esp = p->encap == NTM_ENCAP_ESP_UDP;
	struct ntm_rekey_info rk;
	struct ntm_tunnel *pred;

	pred = ntm_tunnel_find_index_locked(nd, nla_get_u32(attr));
	if (!pred) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "no tunnel with the local index to replace");
		return -ENOENT;
	}
	if (!pred->esp == esp) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "an NTM tunnel replaces an NTM tunnel, an ESP SA pair an ESP SA pair");
		return -EINVAL;
	}
	if (pred->has_vip4 != p->has_vip4 || pred->has_vip6 != p->has_vip6 ||
	    (p->has_vip4 && pred->vip4 != p->vip4) ||
	    (p->has_vip6 && !ipv6_addr_equal(&pred->vip6, &p->vip6))) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "a successor must carry exactly the virtual addresses of the tunnel it replaces");
		return -EINVAL;
	}
	/* stable while nd->lock is held: only this lock adds successors */
	ntm_tunnel_rekey_info(pred, &rk);
	if (rk.state == NTM_TUNNEL_STATE_RETIRED) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "the tunnel to replace is retired: replace its successor");
		return -EBUSY;
	}
	if (rk.state == NTM_TUNNEL_STATE_PENDING) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "the tunnel to replace is pending (a successor, or held for its peer)");
		return -EBUSY;
	}
	if (rk.has_succ) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "the tunnel to replace already has a pending successor");
		return -EBUSY;
	}
	p->pred = pred;
	return 0;
}

int ntm_new_tunnel(struct sk_buff *skb, struct genl_info *info)
{
	static const int required[] = {
		NTM_TUNNEL_A_LOCAL_INDEX, NTM_TUNNEL_A_REMOTE_INDEX,
		NTM_TUNNEL_A_ENDPOINT, NTM_TUNNEL_A_CIPHER, NTM_TUNNEL_A_KEY,
		NTM_TUNNEL_A_TX_SALT, NTM_TUNNEL_A_RX_SALT,
	};
	struct nlattr *tb[NTM_TUNNEL_A_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct ntm_tunnel_params *p;
	struct ntm_tunnel *t;
	struct ntm_dev *nd;
	int err;

	err = ntm_parse_tunnel_nest(info, tb);
	if (err)
		return err;
	err = ntm_require(info, tb, required, ARRAY_SIZE(required));
	if (err)
		return err;

	/* two selector lists make the parameters too big for the stack */
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	if (tb[NTM_TUNNEL_A_ENCAP])
		p->encap = nla_get_u8(tb[NTM_TUNNEL_A_ENCAP]);
	p->local_index = nla_get_u32(tb[NTM_TUNNEL_A_LOCAL_INDEX]);
	p->remote_index = nla_get_u32(tb[NTM_TUNNEL_A_REMOTE_INDEX]);
	p->cipher = nla_get_u16(tb[NTM_TUNNEL_A_CIPHER]);
	p->key = nla_data(tb[NTM_TUNNEL_A_KEY]);
	p->key_len = nla_len(tb[NTM_TUNNEL_A_KEY]);
	nla_memcpy(p->tx_salt, tb[NTM_TUNNEL_A_TX_SALT], NTM_SALT_LEN);
	nla_memcpy(p->rx_salt, tb[NTM_TUNNEL_A_RX_SALT], NTM_SALT_LEN);
	if (p->encap == NTM_ENCAP_ESP_UDP)
		err = ntm_parse_esp(info, tb, p);
	else
		err = ntm_parse_ntm(info, tb, p);
	if (err)
		goto out_free;
	err = ntm_parse_limits(tb, &p->limits, &p->lifetime,
			       &p->soft_lifetime, extack);
	if (err)
		goto out_free;
	if (tb[NTM_TUNNEL_A_FLAGS])
		p->flags = nla_get_u32(tb[NTM_TUNNEL_A_FLAGS]);

	nd = ntm_lookup(genl_info_net(info), info->attrs, extack);
	if (IS_ERR(nd)) {
		err = PTR_ERR(nd);
		goto out_free;
	}
	err = ntm_lock(nd, extack);
	if (err)
		goto out;
	err = ntm_parse_endpoint(nd, tb[NTM_TUNNEL_A_ENDPOINT], &p->ep, extack);
	if (err)
		goto out_unlock;
	if (tb[NTM_TUNNEL_A_REPLACES]) {
		err = ntm_parse_replaces(nd, tb[NTM_TUNNEL_A_REPLACES], p,
					 extack);
		if (err)
			goto out_unlock;
	}
	err = ntm_tunnel_create(nd, p, &t);
	if (err == -EEXIST && p->encap == NTM_ENCAP_ESP_UDP)
		NL_SET_ERR_MSG(extack, "inbound SPI already used as a local index");
	else if (err == -EEXIST)
		NL_SET_ERR_MSG(extack,
			       "local index or virtual address already in use");
	else if (err == -ENOENT)
		NL_SET_ERR_MSG(extack, "cipher not available in this kernel");
	else if (err == -ENOSPC)
		NL_SET_ERR_MSG(extack,
			       "tunnel limit of the device reached (NTM_A_MAX_TUNNELS)");
	/* a pending successor sends nothing yet, so nothing waits for it */
	if (!err && READ_ONCE(t->state) == NTM_TUNNEL_STATE_ACTIVE)
		ntm_acquire_release(nd, t);
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
out_free:
	kfree_sensitive(p);
	return err;
}

/*
 * SET_TUNNEL with TAKEOVER: only NTM_TAKEOVER_NOW, which makes a pending
 * tunnel (a successor, or a new NTM tunnel held for its peer) send at once;
 * an active one stays as it is.  Under nd->lock.
 */
static int ntm_check_set_takeover(struct ntm_tunnel *t, struct nlattr *attr,
				  struct netlink_ext_ack *extack)
{
	struct ntm_rekey_info rk;

	if (nla_get_u8(attr) != NTM_TAKEOVER_NOW) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "SET_TUNNEL takes only NTM_TAKEOVER_NOW");
		return -EINVAL;
	}
	ntm_tunnel_rekey_info(t, &rk);
	if (rk.state == NTM_TUNNEL_STATE_RETIRED) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "a retired tunnel never sends again");
		return -EINVAL;
	}
	return 0;
}

int ntm_set_tunnel(struct sk_buff *skb, struct genl_info *info)
{
	static const int required[] = { NTM_TUNNEL_A_LOCAL_INDEX };
	struct nlattr *tb[NTM_TUNNEL_A_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	static const int fixed[] = {
		NTM_TUNNEL_A_REMOTE_INDEX, NTM_TUNNEL_A_VIP4,
		NTM_TUNNEL_A_VIP6, NTM_TUNNEL_A_CIPHER, NTM_TUNNEL_A_KEY,
		NTM_TUNNEL_A_TX_SALT, NTM_TUNNEL_A_RX_SALT,
		NTM_TUNNEL_A_TX_COUNTER, NTM_TUNNEL_A_ENCAP,
		NTM_TUNNEL_A_RX_KEY, NTM_TUNNEL_A_ESN, NTM_TUNNEL_A_REMOTE_TS,
		NTM_TUNNEL_A_LOCAL_TS, NTM_TUNNEL_A_REPLACES,
	};
	u32 hard_time, soft_time;
	struct ntm_limits limits;
	struct nlattr *bad;
	union ntm_sockaddr ep;
	struct ntm_tunnel *t;
	struct ntm_dev *nd;
	u32 index;
	int err;

	err = ntm_parse_tunnel_nest(info, tb);
	if (err)
		return err;
	err = ntm_require(info, tb, required, ARRAY_SIZE(required));
	if (err)
		return err;
	bad = ntm_present(tb, fixed, ARRAY_SIZE(fixed));
	if (bad) {
		NL_SET_ERR_MSG_ATTR(extack, bad,
				    "attribute cannot change: add a new tunnel");
		return -EINVAL;
	}

	nd = ntm_lookup(genl_info_net(info), info->attrs, extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, extack);
	if (err)
		goto out;
	index = nla_get_u32(tb[NTM_TUNNEL_A_LOCAL_INDEX]);
	t = ntm_tunnel_find_index_locked(nd, index);
	if (!t) {
		NL_SET_ERR_MSG(extack, "no tunnel with this local index");
		err = -ENOENT;
		goto out_unlock;
	}
	/* validate everything before changing anything */
	if (tb[NTM_TUNNEL_A_TAKEOVER]) {
		err = ntm_check_set_takeover(t, tb[NTM_TUNNEL_A_TAKEOVER],
					     extack);
		if (err)
			goto out_unlock;
	}
	ntm_tunnel_get_limits(t, &limits);
	hard_time = t->lifetime;
	soft_time = t->soft_lifetime;
	err = ntm_parse_limits(tb, &limits, &hard_time, &soft_time, extack);
	if (err)
		goto out_unlock;
	if (tb[NTM_TUNNEL_A_ENDPOINT]) {
		err = ntm_parse_endpoint(nd, tb[NTM_TUNNEL_A_ENDPOINT], &ep,
					 extack);
		if (err)
			goto out_unlock;
	}
	/* the only step that can fail, so it goes first */
	err = ntm_tunnel_set_limits(t, &limits);
	if (err)
		goto out_unlock;
	/* ESP: MOBIKE (RFC 4555) moves the SA pair from user space */
	if (tb[NTM_TUNNEL_A_ENDPOINT])
		ntm_tunnel_set_endpoint(t, &ep);
	if (tb[NTM_TUNNEL_A_FLAGS])
		WRITE_ONCE(t->flags, nla_get_u32(tb[NTM_TUNNEL_A_FLAGS]));
	if (tb[NTM_TUNNEL_A_LIFETIME])
		ntm_tunnel_set_lifetime(t, hard_time);
	if (tb[NTM_TUNNEL_A_SOFT_LIFETIME])
		ntm_tunnel_set_soft_lifetime(t, soft_time);
	/* last: the packets it releases see the new settings */
	if (tb[NTM_TUNNEL_A_TAKEOVER])
		ntm_tunnel_activate(t);
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

int ntm_del_tunnel(struct sk_buff *skb, struct genl_info *info)
{
	static const int required[] = { NTM_TUNNEL_A_LOCAL_INDEX };
	struct nlattr *tb[NTM_TUNNEL_A_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	bool flush = nla_get_flag(info->attrs[NTM_A_FLUSH]);
	struct ntm_tunnel *t;
	struct ntm_dev *nd;
	u32 index;
	int err;

	if (flush && info->attrs[NTM_A_TUNNEL]) {
		NL_SET_ERR_MSG(extack, "NTM_A_FLUSH and NTM_A_TUNNEL exclude each other");
		return -EINVAL;
	}
	if (!flush) {
		err = ntm_parse_tunnel_nest(info, tb);
		if (err)
			return err;
		err = ntm_require(info, tb, required, ARRAY_SIZE(required));
		if (err)
			return err;
	}

	nd = ntm_lookup(genl_info_net(info), info->attrs, extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, extack);
	if (err)
		goto out;
	if (flush) {
		ntm_tunnel_remove_all(nd);
	} else {
		index = nla_get_u32(tb[NTM_TUNNEL_A_LOCAL_INDEX]);
		t = ntm_tunnel_find_index_locked(nd, index);
		if (t) {
			ntm_tunnel_remove(t);
		} else {
			NL_SET_ERR_MSG(extack, "no tunnel with this local index");
			err = -ENOENT;
		}
	}
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

static int ntm_fill_tunnel(struct sk_buff *msg, struct ntm_dev *nd,
			   const void *arg, struct netlink_ext_ack *extack)
{
	struct ntm_tunnel *t;

	t = ntm_tunnel_find_index_locked(nd, *(const u32 *)arg);
	if (!t) {
		NL_SET_ERR_MSG(extack, "no tunnel with this local index");
		return -ENOENT;
	}
	if (nla_put_u32(msg, NTM_A_IFINDEX, nd->dev->ifindex) ||
	    ntm_put_tunnel(msg, t))
		return -EMSGSIZE;
	return 0;
}

int ntm_get_tunnel(struct sk_buff *skb, struct genl_info *info)
{
	static const int required[] = { NTM_TUNNEL_A_LOCAL_INDEX };
	struct nlattr *tb[NTM_TUNNEL_A_MAX + 1];
	u32 index;
	int err;

	err = ntm_parse_tunnel_nest(info, tb);
	if (err)
		return err;
	err = ntm_require(info, tb, required, ARRAY_SIZE(required));
	if (err)
		return err;
	index = nla_get_u32(tb[NTM_TUNNEL_A_LOCAL_INDEX]);
	return ntm_reply(info, NTM_CMD_GET_TUNNEL, ntm_fill_tunnel, &index);
}

int ntm_dump_tunnels(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ntm_tunnel *t;
	struct ntm_dev *nd;
	unsigned int n = 0;
	void *hdr;
	int err;

	if (cb->args[2])
		return 0;
	nd = ntm_dev_get_by_ifindex(sock_net(skb->sk), cb->args[0]);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, cb->extack);
	if (err)
		goto out;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &ntm_family, NLM_F_MULTI, NTM_CMD_GET_TUNNEL);
	if (!hdr || nla_put_u32(skb, NTM_A_IFINDEX, nd->dev->ifindex)) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	for (t = ntm_tunnel_next_locked(nd, cb->args[1]); t;
	     t = ntm_tunnel_next_locked(nd, t->local_index)) {
		if (ntm_put_tunnel(skb, t))
			break;
		cb->args[1] = t->local_index;
		n++;
	}
	if (!t)
		cb->args[2] = 1;
	if (!n) {
		genlmsg_cancel(skb, hdr);
		/* one tunnel must fit into an empty message */
		err = t ? -EMSGSIZE : 0;
		goto out_unlock;
	}
	genlmsg_end(skb, hdr);
	err = skb->len;
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}
