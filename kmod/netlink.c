// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c - the "ntm" generic netlink family: its registration and
 * operations, the device commands (GET/SET_DEVICE) and the events.  The
 * tunnel and relay commands are in nl_tunnel.c and nl_relay.c, what they
 * share (policies, lookup, replies) in nl_common.c.  uapi/linux/ntm.h
 * documents every command and attribute.
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
#include "ntm_events.h"

enum { NTM_MCGRP_EVENTS_IDX };

static const struct genl_multicast_group ntm_mcgrps[] = {
	[NTM_MCGRP_EVENTS_IDX] = { .name = NTM_GENL_MCGRP_EVENTS },
};

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
	    nla_put_u32(skb, NTM_A_MAX_TUNNELS, READ_ONCE(nd->max_tunnels)) ||
	    (port4 && nla_put_u16(skb, NTM_A_PORT4, port4)) ||
	    (port6 && nla_put_u16(skb, NTM_A_PORT6, port6)) ||
	    ntm_put_stats(skb, NTM_A_STATS, stats, NULL))
		return -EMSGSIZE;
	return 0;
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

/*
 * Check and hook the socket of one NTM_A_UDPx_FD attribute without
 * publishing it (-1: detach, nothing to prepare).
 */
static int ntm_prepare_fd(struct ntm_dev *nd, int family, struct nlattr *attr,
			  struct ntm_sock_adopt *a,
			  struct netlink_ext_ack *extack)
{
	s32 fd = nla_get_s32(attr);
	int err;

	memset(a, 0, sizeof(*a));
	if (fd == -1)
		return 0;
	err = ntm_socket_prepare(nd, family, fd, a);
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
		t->route_key = ntm_route_key_next();
		write_sequnlock_bh(&t->ep_lock);
	}
}

/* Publish a prepared socket or detach; returns whether anything changed. */
static bool ntm_commit_fd(struct ntm_dev *nd, int family, struct nlattr *attr,
			  struct ntm_sock_adopt *a)
{
	bool changed;

	if (!attr)
		return false;
	if (nla_get_s32(attr) == -1) {
		ntm_socket_detach(nd, family);
		return true;
	}
	changed = !a->same;
	ntm_socket_commit(nd, a);
	return changed;
}

static int ntm_set_device(struct sk_buff *skb, struct genl_info *info)
{
	struct ntm_sock_adopt a4 = {}, a6 = {};
	struct nlattr **attrs = info->attrs;
	struct ntm_dev *nd;
	int err;

	nd = ntm_lookup(genl_info_net(info), attrs, info->extack);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	err = ntm_lock(nd, info->extack);
	if (err)
		goto out;
	/*
	 * Make before break (D76): both new sockets are checked and hooked
	 * before either is published, so a refused request changes nothing.
	 */
	if (attrs[NTM_A_UDP4_FD]) {
		err = ntm_prepare_fd(nd, AF_INET, attrs[NTM_A_UDP4_FD], &a4,
				     info->extack);
		if (err)
			goto out_unlock;
	}
	if (attrs[NTM_A_UDP6_FD]) {
		err = ntm_prepare_fd(nd, AF_INET6, attrs[NTM_A_UDP6_FD], &a6,
				     info->extack);
		if (err) {
			ntm_socket_abort(nd, &a4);
			goto out_unlock;
		}
	}
	if (ntm_commit_fd(nd, AF_INET, attrs[NTM_A_UDP4_FD], &a4) |
	    ntm_commit_fd(nd, AF_INET6, attrs[NTM_A_UDP6_FD], &a6))
		ntm_reset_routes(nd);	/* no route of the old binding stays */
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
	if (attrs[NTM_A_MAX_TUNNELS])
		WRITE_ONCE(nd->max_tunnels,
			   nla_get_u32(attrs[NTM_A_MAX_TUNNELS]));
out_unlock:
	mutex_unlock(&nd->lock);
out:
	dev_put(nd->dev);
	return err;
}

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
		.start = ntm_dump_start,
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
		.start = ntm_dump_start,
		.dumpit = ntm_dump_relays,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

struct genl_family ntm_family __ro_after_init = {
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
