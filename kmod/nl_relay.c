// SPDX-License-Identifier: GPL-2.0
/*
 * nl_relay.c - NEW/SET/DEL/GET_RELAY of the "ntm" generic netlink family:
 * relay sessions of two legs (uapi/linux/ntm.h documents every attribute).
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

int ntm_new_relay(struct sk_buff *skb, struct genl_info *info)
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

int ntm_set_relay(struct sk_buff *skb, struct genl_info *info)
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

int ntm_del_relay(struct sk_buff *skb, struct genl_info *info)
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

int ntm_get_relay(struct sk_buff *skb, struct genl_info *info)
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
int ntm_dump_relays(struct sk_buff *skb, struct netlink_callback *cb)
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
