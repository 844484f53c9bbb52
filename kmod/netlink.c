// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c - the "ntm" generic netlink family: configuration, state dumps
 * and events.  uapi/linux/ntm.h documents every command and attribute.
 *
 * All policies are strict (resv_start_op 0): unknown attributes, wrong
 * lengths and read-only attributes in requests are refused with an extack
 * message naming the attribute.
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

static struct genl_family ntm_family;

enum { NTM_MCGRP_EVENTS_IDX };

static const struct genl_multicast_group ntm_mcgrps[] = {
	[NTM_MCGRP_EVENTS_IDX] = { .name = NTM_GENL_MCGRP_EVENTS },
};

static const struct nla_policy ntm_ts_policy[NTM_TS_A_MAX + 1] = {
	[NTM_TS_A_PREFIX] = NLA_POLICY_EXACT_LEN(sizeof(struct ntm_prefix)),
};

static const struct nla_policy ntm_tunnel_policy[NTM_TUNNEL_A_MAX + 1] = {
	[NTM_TUNNEL_A_LOCAL_INDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_TUNNEL_A_REMOTE_INDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_TUNNEL_A_ENDPOINT] = NLA_POLICY_RANGE(NLA_BINARY,
						   sizeof(struct sockaddr_in),
						   sizeof(struct sockaddr_in6)),
	[NTM_TUNNEL_A_VIP4] = NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[NTM_TUNNEL_A_VIP6] = NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[NTM_TUNNEL_A_CIPHER] = NLA_POLICY_RANGE(NLA_U16, NTM_CIPHER_AES_GCM,
						 __NTM_CIPHER_MAX - 1),
	[NTM_TUNNEL_A_KEY] = NLA_POLICY_RANGE(NLA_BINARY, 16, 32),
	[NTM_TUNNEL_A_TX_SALT] = NLA_POLICY_EXACT_LEN(NTM_SALT_LEN),
	[NTM_TUNNEL_A_RX_SALT] = NLA_POLICY_EXACT_LEN(NTM_SALT_LEN),
	[NTM_TUNNEL_A_LIFETIME] = { .type = NLA_U32 },
	[NTM_TUNNEL_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, __NTM_TUNNEL_F_ALL),
	[NTM_TUNNEL_A_TX_COUNTER] = { .type = NLA_U64 },
	[NTM_TUNNEL_A_RX_COUNTER] = { .type = NLA_REJECT },
	[NTM_TUNNEL_A_LAST_RX_NS] = { .type = NLA_REJECT },
	[NTM_TUNNEL_A_AGE_S] = { .type = NLA_REJECT },
	[NTM_TUNNEL_A_STATS] = { .type = NLA_REJECT },
	[NTM_TUNNEL_A_ENCAP] = NLA_POLICY_MAX(NLA_U8, __NTM_ENCAP_MAX - 1),
	[NTM_TUNNEL_A_RX_KEY] = NLA_POLICY_RANGE(NLA_BINARY, 16, 32),
	[NTM_TUNNEL_A_ESN] = { .type = NLA_FLAG },
	[NTM_TUNNEL_A_REMOTE_TS] = NLA_POLICY_NESTED(ntm_ts_policy),
	[NTM_TUNNEL_A_LOCAL_TS] = NLA_POLICY_NESTED(ntm_ts_policy),
	[NTM_TUNNEL_A_SOFT_LIFETIME] = { .type = NLA_U32 },
	[NTM_TUNNEL_A_SOFT_BYTES] = { .type = NLA_U64 },
	[NTM_TUNNEL_A_HARD_BYTES] = { .type = NLA_U64 },
	[NTM_TUNNEL_A_SOFT_PACKETS] = { .type = NLA_U64 },
	[NTM_TUNNEL_A_HARD_PACKETS] = { .type = NLA_U64 },
	[NTM_TUNNEL_A_REPLACES] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_TUNNEL_A_TAKEOVER] = NLA_POLICY_MAX(NLA_U8, __NTM_TAKEOVER_MAX - 1),
	[NTM_TUNNEL_A_STATE] = { .type = NLA_REJECT },
};

static const struct nla_policy
ntm_relay_leg_policy[NTM_RELAY_LEG_A_MAX + 1] = {
	[NTM_RELAY_LEG_A_SIDE] = NLA_POLICY_RANGE(NLA_U8, 1, 2),
	[NTM_RELAY_LEG_A_ENDPOINT] = NLA_POLICY_RANGE(NLA_BINARY,
						      sizeof(struct sockaddr_in),
						      sizeof(struct sockaddr_in6)),
	[NTM_RELAY_LEG_A_INDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_RELAY_LEG_A_RX_PACKETS] = { .type = NLA_REJECT },
	[NTM_RELAY_LEG_A_RX_BYTES] = { .type = NLA_REJECT },
};

static struct netlink_range_validation ntm_relay_idle_range = {
	.max = NTM_RELAY_IDLE_MAX,
};

static const struct nla_policy ntm_relay_policy[NTM_RELAY_A_MAX + 1] = {
	[NTM_RELAY_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_RELAY_A_LEG] = NLA_POLICY_NESTED(ntm_relay_leg_policy),
	[NTM_RELAY_A_HARD_BYTES] = { .type = NLA_U64 },
	[NTM_RELAY_A_HARD_PACKETS] = { .type = NLA_U64 },
	[NTM_RELAY_A_IDLE_TIMEOUT] = NLA_POLICY_FULL_RANGE(NLA_U32,
							   &ntm_relay_idle_range),
	[NTM_RELAY_A_AGE_S] = { .type = NLA_REJECT },
	[NTM_RELAY_A_IDLE_S] = { .type = NLA_REJECT },
	[NTM_RELAY_A_DROP_SRC] = { .type = NLA_REJECT },
	[NTM_RELAY_A_DROP_TX] = { .type = NLA_REJECT },
};

static struct netlink_range_validation ntm_max_relays_range = {
	.max = NTM_RELAY_MAX_LIMIT,
};

static const struct nla_policy ntm_policy[NTM_A_MAX + 1] = {
	[NTM_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[NTM_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[NTM_A_UDP4_FD] = NLA_POLICY_MIN(NLA_S32, -1),
	[NTM_A_UDP6_FD] = NLA_POLICY_MIN(NLA_S32, -1),
	[NTM_A_PORT4] = { .type = NLA_REJECT },
	[NTM_A_PORT6] = { .type = NLA_REJECT },
	[NTM_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, __NTM_DEV_F_ALL),
	[NTM_A_FWMARK] = { .type = NLA_U32 },
	[NTM_A_ACQUIRE_QLEN] = NLA_POLICY_MAX(NLA_U32, NTM_ACQUIRE_QLEN_MAX),
	[NTM_A_NUM_TUNNELS] = { .type = NLA_REJECT },
	[NTM_A_STATS] = { .type = NLA_REJECT },
	[NTM_A_TUNNEL] = NLA_POLICY_NESTED(ntm_tunnel_policy),
	[NTM_A_INNER_DST] = { .type = NLA_REJECT },
	[NTM_A_INNER_SRC] = { .type = NLA_REJECT },
	[NTM_A_REASON] = { .type = NLA_REJECT },
	[NTM_A_FLUSH] = { .type = NLA_FLAG },
	[NTM_A_RELAY] = NLA_POLICY_NESTED(ntm_relay_policy),
	[NTM_A_MAX_RELAYS] = NLA_POLICY_FULL_RANGE(NLA_U32,
						   &ntm_max_relays_range),
	[NTM_A_NUM_RELAYS] = { .type = NLA_REJECT },
};

/* ---- helpers ----------------------------------------------------------- */

static struct ntm_dev *ntm_lookup(struct net *net, struct nlattr **attrs,
				  struct netlink_ext_ack *extack)
{
	struct ntm_dev *nd;

	if (attrs[NTM_A_IFINDEX])
		nd = ntm_dev_get_by_ifindex(net,
					    nla_get_u32(attrs[NTM_A_IFINDEX]));
	else if (attrs[NTM_A_IFNAME])
		nd = ntm_dev_get_by_name(net, nla_data(attrs[NTM_A_IFNAME]));
	else
		nd = ERR_PTR(-EINVAL);

	if (PTR_ERR_OR_ZERO(nd) == -EINVAL)
		NL_SET_ERR_MSG(extack, "NTM_A_IFINDEX or NTM_A_IFNAME required");
	else if (PTR_ERR_OR_ZERO(nd) == -ENODEV)
		NL_SET_ERR_MSG(extack, "no such device");
	else if (PTR_ERR_OR_ZERO(nd) == -EOPNOTSUPP)
		NL_SET_ERR_MSG(extack, "device is not an ntm device");
	return nd;
}

/* Take nd->lock unless the device is going away. */
static int ntm_lock(struct ntm_dev *nd, struct netlink_ext_ack *extack)
{
	mutex_lock(&nd->lock);
	if (nd->dead) {
		mutex_unlock(&nd->lock);
		NL_SET_ERR_MSG(extack, "device is being removed");
		return -ENODEV;
	}
	return 0;
}

static int ntm_put_stats(struct sk_buff *skb, int type, const u64 *v)
{
	struct nlattr *nest = nla_nest_start(skb, type);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < NTM_STAT_NR; i++)
		if (i + 1 != NTM_STAT_A_PAD &&
		    nla_put_u64_64bit(skb, i + 1, v[i], NTM_STAT_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	nla_nest_end(skb, nest);
	return 0;
}

static unsigned int ntm_sockaddr_len(const union ntm_sockaddr *ep)
{
	return ep->sa.sa_family == AF_INET ? sizeof(ep->sin) :
					     sizeof(ep->sin6);
}

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
	    ntm_put_stats(skb, NTM_TUNNEL_A_STATS, stats)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* ---- devices ----------------------------------------------------------- */

static int ntm_put_device(struct sk_buff *skb, struct ntm_dev *nd)
{
	u64 stats[NTM_STAT_NR];
	u16 port4 = ntm_socket_port(nd, AF_INET);
	u16 port6 = ntm_socket_port(nd, AF_INET6);

	ntm_dev_stats_read(nd, stats);
	if (nla_put_u32(skb, NTM_A_IFINDEX, nd->dev->ifindex) ||
	    nla_put_string(skb, NTM_A_IFNAME, nd->dev->name) ||
	    nla_put_u32(skb, NTM_A_FLAGS, nd->flags) ||
	    nla_put_u32(skb, NTM_A_FWMARK, nd->fwmark) ||
	    nla_put_u32(skb, NTM_A_ACQUIRE_QLEN, nd->acquire_qlen) ||
	    nla_put_u32(skb, NTM_A_NUM_TUNNELS, nd->num_tunnels) ||
	    nla_put_u32(skb, NTM_A_NUM_RELAYS, nd->num_relays) ||
	    nla_put_u32(skb, NTM_A_MAX_RELAYS, nd->max_relays) ||
	    (port4 && nla_put_u16(skb, NTM_A_PORT4, port4)) ||
	    (port6 && nla_put_u16(skb, NTM_A_PORT6, port6)) ||
	    ntm_put_stats(skb, NTM_A_STATS, stats))
		return -EMSGSIZE;
	return 0;
}

typedef int (*ntm_fill_t)(struct sk_buff *msg, struct ntm_dev *nd,
			  const void *arg, struct netlink_ext_ack *extack);

/* Answer a doit request with one message that @fill writes under nd->lock. */
static int ntm_reply(struct genl_info *info, u8 cmd, ntm_fill_t fill,
		     const void *arg)
{
	struct ntm_dev *nd;
	struct sk_buff *msg;
	void *hdr;
	int err;

	nd = ntm_lookup(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		err = -ENOMEM;
		goto out;
	}
	hdr = genlmsg_put_reply(msg, info, &ntm_family, 0, cmd);
	err = ntm_lock(nd, info->extack);
	if (err)
		goto out_free;
	err = hdr ? fill(msg, nd, arg, info->extack) : -EMSGSIZE;
	mutex_unlock(&nd->lock);
	if (err)
		goto out_free;
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
	goto out;

out_free:
	nlmsg_free(msg);
out:
	dev_put(nd->dev);
	return err;
}

static int ntm_fill_device(struct sk_buff *msg, struct ntm_dev *nd,
			   const void *arg, struct netlink_ext_ack *extack)
{
	return ntm_put_device(msg, nd);
}

static int ntm_get_device(struct sk_buff *skb, struct genl_info *info)
{
	return ntm_reply(info, NTM_CMD_GET_DEVICE, ntm_fill_device, NULL);
}

static int ntm_set_fd(struct ntm_dev *nd, int family, struct nlattr *attr,
		      struct netlink_ext_ack *extack)
{
	s32 fd = nla_get_s32(attr);
	int err;

	if (fd == -1) {
		ntm_socket_detach(nd, family);
		return 0;
	}
	err = ntm_socket_attach(nd, family, fd);
	switch (err) {
	case 0:
		break;
	case -EBADF:
	case -ENOTSOCK:
		NL_SET_ERR_MSG_ATTR(extack, attr, "not a socket descriptor");
		break;
	case -EPROTOTYPE:
		if (family == AF_INET)
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "not an AF_INET UDP socket");
		else
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "not an AF_INET6 UDP socket");
		break;
	case -EDESTADDRREQ:
		NL_SET_ERR_MSG_ATTR(extack, attr, "socket is not bound");
		break;
	case -EBUSY:
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "socket already used by an encapsulation");
		break;
	default:
		NL_SET_ERR_MSG_ATTR(extack, attr, "cannot adopt socket");
	}
	return err;
}

static void ntm_reset_routes(struct ntm_dev *nd)
{
	struct rb_node *n;

	for (n = rb_first(&nd->by_index); n; n = rb_next(n)) {
		struct ntm_tunnel *t = rb_entry(n, struct ntm_tunnel, rb);

		write_seqlock_bh(&t->ep_lock);
		dst_cache_reset(&t->dst_cache);
		write_sequnlock_bh(&t->ep_lock);
	}
}

static int ntm_set_device(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct ntm_dev *nd;
	int err;

	nd = ntm_lookup(genl_info_net(info), attrs, info->extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, info->extack);
	if (err)
		goto out;
	if (attrs[NTM_A_UDP4_FD]) {
		err = ntm_set_fd(nd, AF_INET, attrs[NTM_A_UDP4_FD],
				 info->extack);
		if (err)
			goto out_unlock;
	}
	if (attrs[NTM_A_UDP6_FD]) {
		err = ntm_set_fd(nd, AF_INET6, attrs[NTM_A_UDP6_FD],
				 info->extack);
		if (err)
			goto out_unlock;
	}
	if (attrs[NTM_A_FLAGS])
		WRITE_ONCE(nd->flags, nla_get_u32(attrs[NTM_A_FLAGS]));
	if (attrs[NTM_A_ACQUIRE_QLEN])
		WRITE_ONCE(nd->acquire_qlen,
			   nla_get_u32(attrs[NTM_A_ACQUIRE_QLEN]));
	if (attrs[NTM_A_FWMARK]) {
		WRITE_ONCE(nd->fwmark, nla_get_u32(attrs[NTM_A_FWMARK]));
		ntm_reset_routes(nd);
	}
	if (attrs[NTM_A_MAX_RELAYS])
		WRITE_ONCE(nd->max_relays,
			   nla_get_u32(attrs[NTM_A_MAX_RELAYS]));
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

/* ---- tunnels ----------------------------------------------------------- */

static int ntm_parse_endpoint(struct ntm_dev *nd, struct nlattr *attr,
			      union ntm_sockaddr *ep,
			      struct netlink_ext_ack *extack)
{
	unsigned int len = nla_len(attr);

	memset(ep, 0, sizeof(*ep));
	memcpy(ep, nla_data(attr), min_t(unsigned int, len, sizeof(*ep)));
	if (len == sizeof(ep->sin) && ep->sa.sa_family == AF_INET) {
		__be32 a = ep->sin.sin_addr.s_addr;

		if (!ep->sin.sin_port || ipv4_is_zeronet(a) ||
		    ipv4_is_multicast(a) || ipv4_is_lbcast(a))
			goto bad;
		memset(ep->sin.sin_zero, 0, sizeof(ep->sin.sin_zero));
		if (!rcu_access_pointer(nd->sk4))
			goto nosock;
		return 0;
	}
	if (len == sizeof(ep->sin6) && ep->sa.sa_family == AF_INET6) {
		const struct in6_addr *a = &ep->sin6.sin6_addr;

		if (!ep->sin6.sin6_port || ipv6_addr_any(a) ||
		    ipv6_addr_is_multicast(a))
			goto bad;
		ep->sin6.sin6_flowinfo = 0;
		if (!rcu_access_pointer(nd->sk6))
			goto nosock;
		return 0;
	}
bad:
	NL_SET_ERR_MSG_ATTR(extack, attr,
			    "endpoint must be a unicast sockaddr_in or sockaddr_in6 with a port");
	return -EINVAL;
nosock:
	NL_SET_ERR_MSG_ATTR(extack, attr,
			    "no UDP socket of the endpoint's family adopted");
	return -EADDRNOTAVAIL;
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

static int ntm_require(struct genl_info *info, struct nlattr **tb,
		       const int *types, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!tb[types[i]]) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[NTM_A_TUNNEL],
					    "tunnel attribute missing");
			NL_SET_ERR_ATTR_MISS(info->extack,
					     info->attrs[NTM_A_TUNNEL],
					     types[i]);
			return -EINVAL;
		}
	return 0;
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

/* The first of @types present in @tb, or NULL. */
static struct nlattr *ntm_present(struct nlattr **tb, const int *types,
				  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (tb[types[i]])
			return tb[types[i]];
	return NULL;
}

static int ntm_parse_esp(struct genl_info *info, struct nlattr **tb,
			 struct ntm_tunnel_params *p)
{
	static const int required[] = {
		NTM_TUNNEL_A_RX_KEY, NTM_TUNNEL_A_REMOTE_TS,
	};
	static const int refused[] = { NTM_TUNNEL_A_VIP4, NTM_TUNNEL_A_VIP6 };
	static const int rekey[] = {
		NTM_TUNNEL_A_REPLACES, NTM_TUNNEL_A_TAKEOVER,
	};
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
	bad = ntm_present(tb, rekey, ARRAY_SIZE(rekey));
	if (bad) {
		/* a new SA pair wins by being the newest (RFC 7296 2.8) */
		NL_SET_ERR_MSG_ATTR(extack, bad,
				    "an ESP SA pair is rekeyed by adding the new one: it takes over as the newest");
		return -EINVAL;
	}
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
 * active NTM tunnel of the device with no pending successor, carrying
 * exactly the virtual addresses of the new tunnel.
 */
static int ntm_parse_replaces(struct ntm_dev *nd, struct nlattr *attr,
			      struct ntm_tunnel_params *p,
			      struct netlink_ext_ack *extack)
{
	struct ntm_rekey_info rk;
	struct ntm_tunnel *pred;

	pred = ntm_tunnel_find_index_locked(nd, nla_get_u32(attr));
	if (!pred) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "no tunnel with the local index to replace");
		return -ENOENT;
	}
	if (pred->esp) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "the tunnel to replace is an ESP SA pair, not an NTM tunnel");
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

static int ntm_new_tunnel(struct sk_buff *skb, struct genl_info *info)
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
 * NTM tunnel (a successor, or a new tunnel held for its peer) send at once;
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
	if (t->esp) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "an ESP SA pair has no takeover");
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

static int ntm_set_tunnel(struct sk_buff *skb, struct genl_info *info)
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

static int ntm_del_tunnel(struct sk_buff *skb, struct genl_info *info)
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

static int ntm_get_tunnel(struct sk_buff *skb, struct genl_info *info)
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

/*
 * Dump state in cb->args: [0] ifindex, [1] last local index sent,
 * [2] set once the last tunnel was sent.
 */
static int ntm_dump_tunnels_start(struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct ntm_dev *nd;

	nd = ntm_lookup(sock_net(cb->skb->sk), info->attrs, cb->extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	cb->args[0] = nd->dev->ifindex;
	cb->args[1] = 0;
	cb->args[2] = 0;
	dev_put(nd->dev);
	return 0;
}

static int ntm_dump_tunnels(struct sk_buff *skb, struct netlink_callback *cb)
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

/* ---- relay sessions ---------------------------------------------------- */

static int ntm_put_relay(struct sk_buff *skb, const struct ntm_relay_info *i)
{
	struct nlattr *nest, *leg;
	int s;

	nest = nla_nest_start(skb, NTM_A_RELAY);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, NTM_RELAY_A_ID, i->id))
		goto cancel;
	for (s = 0; s < 2; s++) {
		leg = nla_nest_start(skb, NTM_RELAY_A_LEG);
		if (!leg ||
		    nla_put_u8(skb, NTM_RELAY_LEG_A_SIDE, s + 1) ||
		    nla_put(skb, NTM_RELAY_LEG_A_ENDPOINT,
			    ntm_sockaddr_len(&i->ep[s]), &i->ep[s]) ||
		    nla_put_u32(skb, NTM_RELAY_LEG_A_INDEX, i->index[s]) ||
		    nla_put_u64_64bit(skb, NTM_RELAY_LEG_A_RX_PACKETS,
				      i->rx_packets[s], NTM_RELAY_LEG_A_PAD) ||
		    nla_put_u64_64bit(skb, NTM_RELAY_LEG_A_RX_BYTES,
				      i->rx_bytes[s], NTM_RELAY_LEG_A_PAD))
			goto cancel;
		nla_nest_end(skb, leg);
	}
	if (nla_put_u64_64bit(skb, NTM_RELAY_A_HARD_BYTES, i->hard_bytes,
			      NTM_RELAY_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_RELAY_A_HARD_PACKETS, i->hard_packets,
			      NTM_RELAY_A_PAD) ||
	    nla_put_u32(skb, NTM_RELAY_A_IDLE_TIMEOUT, i->idle_timeout) ||
	    nla_put_u32(skb, NTM_RELAY_A_AGE_S, i->age_s) ||
	    nla_put_u32(skb, NTM_RELAY_A_IDLE_S, i->idle_s) ||
	    nla_put_u64_64bit(skb, NTM_RELAY_A_DROP_SRC, i->drop_src,
			      NTM_RELAY_A_PAD) ||
	    nla_put_u64_64bit(skb, NTM_RELAY_A_DROP_TX, i->drop_tx,
			      NTM_RELAY_A_PAD))
		goto cancel;
	nla_nest_end(skb, nest);
	return 0;

cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int ntm_parse_relay_nest(struct genl_info *info, struct nlattr **tb)
{
	int err;

	if (!info->attrs[NTM_A_RELAY]) {
		NL_SET_ERR_MSG(info->extack, "NTM_A_RELAY required");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, NTM_RELAY_A_MAX, info->attrs[NTM_A_RELAY],
			       ntm_relay_policy, info->extack);
	if (err)
		return err;
	if (!tb[NTM_RELAY_A_ID]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[NTM_A_RELAY],
				    "relay session id missing");
		NL_SET_ERR_ATTR_MISS(info->extack, info->attrs[NTM_A_RELAY],
				     NTM_RELAY_A_ID);
		return -EINVAL;
	}
	return 0;
}

/* The NTM_RELAY_A_LEG nests of @relay, in order; at most two. */
static int ntm_relay_legs(struct nlattr *relay, struct nlattr **legs,
			  unsigned int *n, struct netlink_ext_ack *extack)
{
	struct nlattr *a;
	int rem;

	*n = 0;
	nla_for_each_nested(a, relay, rem) {
		if (nla_type(a) != NTM_RELAY_A_LEG)
			continue;
		if (*n == 2) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "a relay session has two legs");
			return -EINVAL;
		}
		legs[(*n)++] = a;
	}
	return 0;
}

/*
 * One leg of a NEW_RELAY (@pos: its position) or SET_RELAY (@pos < 0: it
 * names itself with SIDE) into @p.  Under nd->lock (socket check).
 */
static int ntm_parse_leg(struct ntm_dev *nd, struct nlattr *attr, int pos,
			 struct ntm_relay_params *p,
			 struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NTM_RELAY_LEG_A_MAX + 1];
	int side = pos, err;

	err = nla_parse_nested(tb, NTM_RELAY_LEG_A_MAX, attr,
			       ntm_relay_leg_policy, extack);
	if (err)
		return err;
	if (tb[NTM_RELAY_LEG_A_SIDE])
		side = nla_get_u8(tb[NTM_RELAY_LEG_A_SIDE]) - 1;
	if (pos >= 0 && side != pos) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_RELAY_LEG_A_SIDE],
				    "leg side does not match its position");
		return -EINVAL;
	}
	if (side < 0) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "a leg to change needs NTM_RELAY_LEG_A_SIDE");
		NL_SET_ERR_ATTR_MISS(extack, attr, NTM_RELAY_LEG_A_SIDE);
		return -EINVAL;
	}
	if (p->has_ep[side]) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "the same leg is given twice");
		return -EINVAL;
	}
	if (!tb[NTM_RELAY_LEG_A_ENDPOINT]) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "leg endpoint missing");
		NL_SET_ERR_ATTR_MISS(extack, attr, NTM_RELAY_LEG_A_ENDPOINT);
		return -EINVAL;
	}
	if (pos >= 0 && !tb[NTM_RELAY_LEG_A_INDEX]) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "leg receiver index missing");
		NL_SET_ERR_ATTR_MISS(extack, attr, NTM_RELAY_LEG_A_INDEX);
		return -EINVAL;
	}
	if (pos < 0 && tb[NTM_RELAY_LEG_A_INDEX]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_RELAY_LEG_A_INDEX],
				    "a leg's index cannot change: add a new session");
		return -EINVAL;
	}
	err = ntm_parse_endpoint(nd, tb[NTM_RELAY_LEG_A_ENDPOINT],
				 &p->ep[side], extack);
	if (err)
		return err;
	if (p->ep[side].sa.sa_family == AF_INET6 &&
	    (ipv6_addr_type(&p->ep[side].sin6.sin6_addr) &
	     (IPV6_ADDR_LINKLOCAL | IPV6_ADDR_MAPPED))) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NTM_RELAY_LEG_A_ENDPOINT],
				    "link-local and v4-mapped addresses cannot be relay legs");
		return -EINVAL;
	}
	p->has_ep[side] = true;
	if (tb[NTM_RELAY_LEG_A_INDEX])
		p->index[side] = nla_get_u32(tb[NTM_RELAY_LEG_A_INDEX]);
	return 0;
}

static void ntm_parse_relay_limits(struct nlattr **tb,
				   struct ntm_relay_params *p)
{
	if (tb[NTM_RELAY_A_HARD_BYTES]) {
		p->has_hard_bytes = true;
		p->hard_bytes = nla_get_u64(tb[NTM_RELAY_A_HARD_BYTES]);
	}
	if (tb[NTM_RELAY_A_HARD_PACKETS]) {
		p->has_hard_packets = true;
		p->hard_packets = nla_get_u64(tb[NTM_RELAY_A_HARD_PACKETS]);
	}
	if (tb[NTM_RELAY_A_IDLE_TIMEOUT]) {
		p->has_idle = true;
		p->idle_timeout = nla_get_u32(tb[NTM_RELAY_A_IDLE_TIMEOUT]);
	}
}

static void ntm_relay_errmsg(struct netlink_ext_ack *extack, int err,
			     u32 conflict)
{
	switch (err) {
	case -EEXIST:
		if (conflict)
			NL_SET_ERR_MSG(extack,
				       "a leg's (source, receiver index) key is already used by another relay session");
		else
			NL_SET_ERR_MSG(extack, "relay session id already in use");
		break;
	case -EINVAL:
		NL_SET_ERR_MSG(extack,
			       "both legs would have the same (source, receiver index) key");
		break;
	case -ENOSPC:
		NL_SET_ERR_MSG(extack,
			       "relay session limit of the device reached (NTM_A_MAX_RELAYS)");
		break;
	case -ENOMEM:
		NL_SET_ERR_MSG(extack, "out of memory");
		break;
	}
}

static int ntm_new_relay(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[NTM_RELAY_A_MAX + 1];
	struct ntm_relay_params p = {};
	struct nlattr *legs[2];
	struct ntm_dev *nd;
	unsigned int n, i;
	u32 conflict;
	int err;

	err = ntm_parse_relay_nest(info, tb);
	if (err)
		return err;
	err = ntm_relay_legs(info->attrs[NTM_A_RELAY], legs, &n, extack);
	if (err)
		return err;
	if (n != 2) {
		NL_SET_ERR_MSG_ATTR(extack, info->attrs[NTM_A_RELAY],
				    "a relay session needs two NTM_RELAY_A_LEG nests");
		return -EINVAL;
	}
	p.id = nla_get_u32(tb[NTM_RELAY_A_ID]);
	ntm_parse_relay_limits(tb, &p);

	nd = ntm_lookup(genl_info_net(info), info->attrs, extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, extack);
	if (err)
		goto out;
	for (i = 0; i < n && !err; i++)
		err = ntm_parse_leg(nd, legs[i], i, &p, extack);
	if (!err) {
		err = ntm_relay_create(nd, &p, &conflict);
		ntm_relay_errmsg(extack, err, conflict);
	}
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

static int ntm_set_relay(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[NTM_RELAY_A_MAX + 1];
	struct ntm_relay_params p = {};
	struct nlattr *legs[2];
	struct ntm_relay *r;
	struct ntm_dev *nd;
	unsigned int n, i;
	u32 conflict;
	int err;

	err = ntm_parse_relay_nest(info, tb);
	if (err)
		return err;
	err = ntm_relay_legs(info->attrs[NTM_A_RELAY], legs, &n, extack);
	if (err)
		return err;
	p.id = nla_get_u32(tb[NTM_RELAY_A_ID]);
	ntm_parse_relay_limits(tb, &p);

	nd = ntm_lookup(genl_info_net(info), info->attrs, extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, extack);
	if (err)
		goto out;
	r = ntm_relay_find_locked(nd, p.id);
	if (!r) {
		NL_SET_ERR_MSG(extack, "no relay session with this id");
		err = -ENOENT;
		goto out_unlock;
	}
	for (i = 0; i < n && !err; i++)
		err = ntm_parse_leg(nd, legs[i], -1, &p, extack);
	if (!err) {
		err = ntm_relay_change(nd, r, &p, &conflict);
		ntm_relay_errmsg(extack, err, conflict);
	}
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

static int ntm_del_relay(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	bool flush = nla_get_flag(info->attrs[NTM_A_FLUSH]);
	struct nlattr *tb[NTM_RELAY_A_MAX + 1];
	struct ntm_relay *r;
	struct ntm_dev *nd;
	int err;

	if (flush && info->attrs[NTM_A_RELAY]) {
		NL_SET_ERR_MSG(extack, "NTM_A_FLUSH and NTM_A_RELAY exclude each other");
		return -EINVAL;
	}
	if (!flush) {
		err = ntm_parse_relay_nest(info, tb);
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
		ntm_relay_remove_all(nd);
	} else {
		r = ntm_relay_find_locked(nd, nla_get_u32(tb[NTM_RELAY_A_ID]));
		if (r) {
			ntm_relay_remove(nd, r);
		} else {
			NL_SET_ERR_MSG(extack, "no relay session with this id");
			err = -ENOENT;
		}
	}
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

static int ntm_fill_relay(struct sk_buff *msg, struct ntm_dev *nd,
			  const void *arg, struct netlink_ext_ack *extack)
{
	struct ntm_relay_info info;
	struct ntm_relay *r;

	r = ntm_relay_find_locked(nd, *(const u32 *)arg);
	if (!r) {
		NL_SET_ERR_MSG(extack, "no relay session with this id");
		return -ENOENT;
	}
	ntm_relay_get_info(r, &info);
	if (nla_put_u32(msg, NTM_A_IFINDEX, nd->dev->ifindex) ||
	    ntm_put_relay(msg, &info))
		return -EMSGSIZE;
	return 0;
}

static int ntm_get_relay(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[NTM_RELAY_A_MAX + 1];
	u32 id;
	int err;

	err = ntm_parse_relay_nest(info, tb);
	if (err)
		return err;
	id = nla_get_u32(tb[NTM_RELAY_A_ID]);
	return ntm_reply(info, NTM_CMD_GET_RELAY, ntm_fill_relay, &id);
}

/* As ntm_dump_tunnels(): [0] ifindex, [1] last id sent, [2] done. */
static int ntm_dump_relays(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ntm_relay_info info;
	struct ntm_relay *r;
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
			  &ntm_family, NLM_F_MULTI, NTM_CMD_GET_RELAY);
	if (!hdr || nla_put_u32(skb, NTM_A_IFINDEX, nd->dev->ifindex)) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	for (r = ntm_relay_next_locked(nd, cb->args[1]); r;
	     r = ntm_relay_next_locked(nd, ntm_relay_id(r))) {
		ntm_relay_get_info(r, &info);
		if (ntm_put_relay(skb, &info))
			break;
		cb->args[1] = info.id;
		n++;
	}
	if (!r)
		cb->args[2] = 1;
	if (!n) {
		genlmsg_cancel(skb, hdr);
		err = r ? -EMSGSIZE : 0;
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

/* ---- events ------------------------------------------------------------ */

static struct sk_buff *ntm_event_new(struct net_device *dev, u8 cmd,
				     void **hdr)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&ntm_family, dev_net(dev),
				NTM_MCGRP_EVENTS_IDX))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_ATOMIC);
	if (!msg) {
		/* a listener misses this one: let it see that it did */
		ntm_dev_count(netdev_priv(dev), NTM_STAT(EVENT_NOMEM), 1);
		return NULL;
	}
	*hdr = genlmsg_put(msg, 0, 0, &ntm_family, 0, cmd);
	if (!*hdr || nla_put_u32(msg, NTM_A_IFINDEX, dev->ifindex)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void ntm_event_send(struct net_device *dev, struct sk_buff *msg,
			   void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&ntm_family, dev_net(dev), msg, 0,
				NTM_MCGRP_EVENTS_IDX, GFP_ATOMIC);
}

void ntm_event_acquire(struct ntm_dev *nd, int family, const void *dst,
		       const void *src)
{
	int len = family == AF_INET ? 4 : 16;
	struct sk_buff *msg;
	void *hdr;

	msg = ntm_event_new(nd->dev, NTM_CMD_EVENT_ACQUIRE, &hdr);
	if (!msg)
		return;
	if (nla_put(msg, NTM_A_INNER_DST, len, dst) ||
	    nla_put(msg, NTM_A_INNER_SRC, len, src)) {
		nlmsg_free(msg);
		return;
	}
	ntm_event_send(nd->dev, msg, hdr);
}

void ntm_event_endpoint(struct ntm_tunnel *t, const union ntm_sockaddr *ep)
{
	struct net_device *dev = t->nd->dev;
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;

	msg = ntm_event_new(dev, NTM_CMD_EVENT_ENDPOINT, &hdr);
	if (!msg)
		return;
	nest = nla_nest_start(msg, NTM_A_TUNNEL);
	if (!nest ||
	    nla_put_u32(msg, NTM_TUNNEL_A_LOCAL_INDEX, t->local_index) ||
	    nla_put(msg, NTM_TUNNEL_A_ENDPOINT, ntm_sockaddr_len(ep), ep)) {
		nlmsg_free(msg);
		return;
	}
	nla_nest_end(msg, nest);
	ntm_event_send(dev, msg, hdr);
}

void ntm_event_expired(struct ntm_dev *nd, u32 local_index, u32 remote_index,
		       u32 reason)
{
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;

	msg = ntm_event_new(nd->dev, NTM_CMD_EVENT_EXPIRED, &hdr);
	if (!msg)
		return;
	nest = nla_nest_start(msg, NTM_A_TUNNEL);
	if (!nest ||
	    nla_put_u32(msg, NTM_TUNNEL_A_LOCAL_INDEX, local_index) ||
	    nla_put_u32(msg, NTM_TUNNEL_A_REMOTE_INDEX, remote_index)) {
		nlmsg_free(msg);
		return;
	}
	nla_nest_end(msg, nest);
	if (nla_put_u32(msg, NTM_A_REASON, reason)) {
		nlmsg_free(msg);
		return;
	}
	ntm_event_send(nd->dev, msg, hdr);
}

void ntm_event_relay_expired(struct ntm_dev *nd,
			     const struct ntm_relay_info *info, u32 reason)
{
	struct sk_buff *msg;
	void *hdr;

	msg = ntm_event_new(nd->dev, NTM_CMD_EVENT_RELAY_EXPIRED, &hdr);
	if (!msg)
		return;
	if (ntm_put_relay(msg, info) || nla_put_u32(msg, NTM_A_REASON, reason)) {
		nlmsg_free(msg);
		return;
	}
	ntm_event_send(nd->dev, msg, hdr);
}

/*
 * A successor took its predecessor's place.  Any context but hard IRQ (the
 * receive path sends it from softirq): atomic allocation, no sleeping.
 */
void ntm_event_takeover(struct ntm_dev *nd, u32 local_index, u32 remote_index,
			u32 replaces)
{
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;

	msg = ntm_event_new(nd->dev, NTM_CMD_EVENT_TAKEOVER, &hdr);
	if (!msg)
		return;
	nest = nla_nest_start(msg, NTM_A_TUNNEL);
	if (!nest ||
	    nla_put_u32(msg, NTM_TUNNEL_A_LOCAL_INDEX, local_index) ||
	    nla_put_u32(msg, NTM_TUNNEL_A_REMOTE_INDEX, remote_index) ||
	    nla_put_u32(msg, NTM_TUNNEL_A_REPLACES, replaces)) {
		nlmsg_free(msg);
		return;
	}
	nla_nest_end(msg, nest);
	ntm_event_send(nd->dev, msg, hdr);
}

/* ---- family ------------------------------------------------------------ */

static const struct genl_ops ntm_ops[] = {
	{
		.cmd = NTM_CMD_GET_DEVICE,
		.doit = ntm_get_device,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_SET_DEVICE,
		.doit = ntm_set_device,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_NEW_TUNNEL,
		.doit = ntm_new_tunnel,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_SET_TUNNEL,
		.doit = ntm_set_tunnel,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_DEL_TUNNEL,
		.doit = ntm_del_tunnel,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_GET_TUNNEL,
		.doit = ntm_get_tunnel,
		.start = ntm_dump_tunnels_start,
		.dumpit = ntm_dump_tunnels,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_NEW_RELAY,
		.doit = ntm_new_relay,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_SET_RELAY,
		.doit = ntm_set_relay,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_DEL_RELAY,
		.doit = ntm_del_relay,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = NTM_CMD_GET_RELAY,
		.doit = ntm_get_relay,
		.start = ntm_dump_tunnels_start,
		.dumpit = ntm_dump_relays,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family ntm_family __ro_after_init = {
	.name = NTM_GENL_NAME,
	.version = NTM_GENL_VERSION,
	.maxattr = NTM_A_MAX,
	.policy = ntm_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = ntm_ops,
	.n_ops = ARRAY_SIZE(ntm_ops),
	.mcgrps = ntm_mcgrps,
	.n_mcgrps = ARRAY_SIZE(ntm_mcgrps),
};

int ntm_genl_init(void)
{
	return genl_register_family(&ntm_family);
}

void ntm_genl_exit(void)
{
	genl_unregister_family(&ntm_family);
}
