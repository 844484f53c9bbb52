/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nl.h - shared by the files of the "ntm" generic netlink family:
 * netlink.c (the family, devices, events), nl_tunnel.c, nl_relay.c and
 * nl_common.c, which the other three use and which uses none of them.
 */
#ifndef _NTM_NL_H
#define _NTM_NL_H

#include <net/genetlink.h>
#include "ntm.h"

/* netlink.c: replies and dumps name the family */
extern struct genl_family ntm_family;

extern const struct nla_policy ntm_ts_policy[NTM_TS_A_MAX + 1];
extern const struct nla_policy ntm_tunnel_policy[NTM_TUNNEL_A_MAX + 1];
extern const struct nla_policy ntm_relay_leg_policy[NTM_RELAY_LEG_A_MAX + 1];
extern const struct nla_policy ntm_relay_policy[NTM_RELAY_A_MAX + 1];
extern const struct nla_policy ntm_policy[NTM_A_MAX + 1];

/* nl_common.c */
typedef int (*ntm_fill_t)(struct sk_buff *msg, struct ntm_dev *nd,
			  const void *arg, struct netlink_ext_ack *extack);

struct ntm_dev *ntm_lookup(struct net *net, struct nlattr **attrs,
			   struct netlink_ext_ack *extack);
int ntm_lock(struct ntm_dev *nd, struct netlink_ext_ack *extack);
int ntm_reply(struct genl_info *info, u8 cmd, ntm_fill_t fill,
	      const void *arg);
int ntm_put_stats(struct sk_buff *skb, int type, const u64 *v,
		  bool (*want)(unsigned int stat));
unsigned int ntm_sockaddr_len(const union ntm_sockaddr *ep);
int ntm_put_relay(struct sk_buff *skb, const struct ntm_relay_info *i);
int ntm_parse_endpoint(struct ntm_dev *nd, struct nlattr *attr,
		       union ntm_sockaddr *ep, struct netlink_ext_ack *extack);
int ntm_require(struct genl_info *info, struct nlattr **tb,
		const int *types, unsigned int n);
struct nlattr *ntm_present(struct nlattr **tb, const int *types,
			   unsigned int n);
int ntm_dump_start(struct netlink_callback *cb);

/* nl_tunnel.c */
int ntm_new_tunnel(struct sk_buff *skb, struct genl_info *info);
int ntm_set_tunnel(struct sk_buff *skb, struct genl_info *info);
int ntm_del_tunnel(struct sk_buff *skb, struct genl_info *info);
int ntm_get_tunnel(struct sk_buff *skb, struct genl_info *info);
int ntm_dump_tunnels(struct sk_buff *skb, struct netlink_callback *cb);

/* nl_relay.c */
int ntm_new_relay(struct sk_buff *skb, struct genl_info *info);
int ntm_set_relay(struct sk_buff *skb, struct genl_info *info);
int ntm_del_relay(struct sk_buff *skb, struct genl_info *info);
int ntm_get_relay(struct sk_buff *skb, struct genl_info *info);
int ntm_dump_relays(struct sk_buff *skb, struct netlink_callback *cb);

#endif /* _NTM_NL_H */
