// SPDX-License-Identifier: GPL-2.0
/*
 * nl_common.c - what the commands of the "ntm" generic netlink family share:
 * the attribute policies (all strict: unknown attributes, wrong lengths and
 * read-only attributes in requests are refused with an extack message naming
 * the attribute), the device lookup and lock, one-message replies, the
 * attribute writers that events use too, and the dump start.
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

const struct nla_policy ntm_ts_policy[NTM_TS_A_MAX + 1] = {
	[NTM_TS_A_PREFIX] = NLA_POLICY_EXACT_LEN(sizeof(struct ntm_prefix)),
};

const struct nla_policy ntm_tunnel_policy[NTM_TUNNEL_A_MAX + 1] = {
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

const struct nla_policy
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

const struct nla_policy ntm_relay_policy[NTM_RELAY_A_MAX + 1] = {
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

static struct netlink_range_validation ntm_max_tunnels_range = {
	.max = NTM_TUNNEL_MAX_LIMIT,
};

const struct nla_policy ntm_policy[NTM_A_MAX + 1] = {
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
	[NTM_A_MAX_TUNNELS] = NLA_POLICY_FULL_RANGE(NLA_U32,
						    &ntm_max_tunnels_range),
};

struct ntm_dev *ntm_lookup(struct net *net, struct nlattr **attrs,
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
int ntm_lock(struct ntm_dev *nd, struct netlink_ext_ack *extack)
{
	mutex_lock(&nd->lock);
	if (nd->dead) {
		mutex_unlock(&nd->lock);
		NL_SET_ERR_MSG(extack, "device is being removed");
		return -ENODEV;
	}
	return 0;
}

/* The counters in @v that @want (NULL: all) selects, nested under @type. */
int ntm_put_stats(struct sk_buff *skb, int type, const u64 *v,
		  bool (*want)(unsigned int stat))
{
	struct nlattr *nest = nla_nest_start(skb, type);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < NTM_STAT_NR; i++)
		if (i + 1 != NTM_STAT_A_PAD && (!want || want(i)) &&
		    nla_put_u64_64bit(skb, i + 1, v[i], NTM_STAT_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	nla_nest_end(skb, nest);
	return 0;
}

unsigned int ntm_sockaddr_len(const union ntm_sockaddr *ep)
{
	return ep->sa.sa_family == AF_INET ? sizeof(ep->sin) :
					     sizeof(ep->sin6);
}

/* Answer a doit request with one message that @fill writes under nd->lock. */
int ntm_reply(struct genl_info *info, u8 cmd, ntm_fill_t fill,
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

int ntm_parse_endpoint(struct ntm_dev *nd, struct nlattr *attr,
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

int ntm_require(struct genl_info *info, struct nlattr **tb,
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

/* The first of @types present in @tb, or NULL. */
struct nlattr *ntm_present(struct nlattr **tb, const int *types,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (tb[types[i]])
			return tb[types[i]];
	return NULL;
}

int ntm_put_relay(struct sk_buff *skb, const struct ntm_relay_info *i)
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

/*
 * Dump state in cb->args: [0] ifindex, [1] last local index sent,
 * [2] set once the last tunnel was sent.
 */
int ntm_dump_start(struct netlink_callback *cb)
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
