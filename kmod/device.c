// SPDX-License-Identifier: GPL-2.0
/*
 * device.c - the "ntm" link kind: a layer-3 point-to-point device whose
 * transmit path picks a tunnel by inner destination address: an NTM tunnel
 * by exact virtual address (O(1)), else an ESP tunnel by longest match on
 * its traffic selectors, else the acquire queue.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/percpu.h>
#include <net/rtnetlink.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/ip_tunnels.h>
#include "ntm.h"

void ntm_dev_count(struct ntm_dev *nd, unsigned int stat, u64 n)
{
	this_cpu_add(nd->stats->c[stat], n);
}

void ntm_dev_stats_read(struct ntm_dev *nd, u64 *out)
{
	unsigned int i;
	int cpu;

	memset(out, 0, sizeof(u64) * NTM_STAT_NR);
	for_each_possible_cpu(cpu) {
		const struct ntm_dev_stats *s = per_cpu_ptr(nd->stats, cpu);

		for (i = 0; i < NTM_STAT_NR; i++)
			out[i] += READ_ONCE(s->c[i]);
	}
}

static bool ntm_is_multicast(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return ipv4_is_multicast(ip_hdr(skb)->daddr) ||
		       ipv4_is_lbcast(ip_hdr(skb)->daddr);
	return ipv6_addr_is_multicast(&ipv6_hdr(skb)->daddr);
}

static netdev_tx_t ntm_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct ntm_dev *nd = netdev_priv(dev);
	struct ntm_tunnel *t = NULL;

	rcu_read_lock_bh();
	switch (skb->protocol) {
	case htons(ETH_P_IP):
		if (!pskb_network_may_pull(skb, sizeof(struct iphdr)) ||
		    ip_hdr(skb)->version != 4)
			goto malformed;
		t = ntm_tunnel_find_vip4(nd, ip_hdr(skb)->daddr);
		/* virtual addresses first: ESP selectors only on a miss */
		if (!t && READ_ONCE(nd->num_esp))
			t = ntm_tunnel_find_ts(nd, AF_INET,
					       &ip_hdr(skb)->daddr,
					       &ip_hdr(skb)->saddr);
		break;
	case htons(ETH_P_IPV6):
		if (!pskb_network_may_pull(skb, sizeof(struct ipv6hdr)) ||
		    ipv6_hdr(skb)->version != 6)
			goto malformed;
		t = ntm_tunnel_find_vip6(nd, &ipv6_hdr(skb)->daddr);
		if (!t && READ_ONCE(nd->num_esp))
			t = ntm_tunnel_find_ts(nd, AF_INET6,
					       &ipv6_hdr(skb)->daddr,
					       &ipv6_hdr(skb)->saddr);
		break;
	default:
		goto malformed;
	}
	if (t && unlikely(READ_ONCE(t->held)) && ntm_acquire_hold(nd, t, skb))
		ntm_tunnel_put(t);	/* waits for the peer's confirmation */
	else if (t)
		ntm_xmit_tunnel(t, skb);
	else if (ntm_is_multicast(skb))
		goto no_tunnel;	/* no peer to acquire for */
	else
		ntm_acquire_packet(nd, skb);
	rcu_read_unlock_bh();
	return NETDEV_TX_OK;

no_tunnel:
	rcu_read_unlock_bh();
	ntm_dev_count(nd, NTM_STAT(DROP_NO_TUNNEL), 1);
	dev_core_stats_tx_dropped_inc(dev);
	kfree_skb_reason(skb, SKB_DROP_REASON_IP_OUTNOROUTES);
	return NETDEV_TX_OK;

malformed:
	rcu_read_unlock_bh();
	ntm_dev_count(nd, NTM_STAT(DROP_MALFORMED), 1);
	dev_core_stats_tx_dropped_inc(dev);
	kfree_skb_reason(skb, ntm_drop_reason(NTM_STAT(DROP_MALFORMED)));
	return NETDEV_TX_OK;
}

static int ntm_dev_init(struct net_device *dev)
{
	struct ntm_dev *nd = netdev_priv(dev);
	int err;

	nd->dev = dev;
	mutex_init(&nd->lock);
	spin_lock_init(&nd->sock_lock);
	spin_lock_init(&nd->expire_lock);
	INIT_LIST_HEAD(&nd->expire_list);
	INIT_WORK(&nd->expire_work, ntm_expire_work);
	nd->acquire_qlen = NTM_ACQUIRE_QLEN_DEFAULT;
	ntm_acquire_init(nd);

	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;
	nd->stats = alloc_percpu(struct ntm_dev_stats);
	if (!nd->stats) {
		err = -ENOMEM;
		goto err_tstats;
	}
	err = gro_cells_init(&nd->gro_cells, dev);
	if (err)
		goto err_stats;
	err = ntm_route_cache_init(nd);
	if (err)
		goto err_gro;
	err = ntm_tables_init(nd);
	if (err)
		goto err_rtc;
	err = ntm_relay_init(nd);
	if (err)
		goto err_tables;
	return 0;

err_tables:
	ntm_tables_destroy(nd);
err_rtc:
	ntm_route_cache_destroy(nd);
err_gro:
	gro_cells_destroy(&nd->gro_cells);
err_stats:
	free_percpu(nd->stats);
	nd->stats = NULL;
err_tstats:
	free_percpu(dev->tstats);
	dev->tstats = NULL;
	return err;
}

/* Under RTNL, after the device stopped transmitting. */
static void ntm_dev_uninit(struct net_device *dev)
{
	struct ntm_dev *nd = netdev_priv(dev);
	struct ntm_tunnel *t, *tmp;
	LIST_HEAD(pending);

	mutex_lock(&nd->lock);
	spin_lock_irq(&nd->expire_lock);
	nd->dead = true;
	list_splice_init(&nd->expire_list, &pending);
	spin_unlock_irq(&nd->expire_lock);
	/* no new receive after this: detach waits for readers */
	ntm_socket_detach(nd, AF_INET);
	ntm_socket_detach(nd, AF_INET6);
	ntm_tunnel_remove_all(nd);
	ntm_relay_remove_all(nd);
	mutex_unlock(&nd->lock);

	ntm_relay_stop(nd);
	cancel_work_sync(&nd->expire_work);
	list_for_each_entry_safe(t, tmp, &pending, expire_list) {
		list_del_init(&t->expire_list);
		ntm_tunnel_put(t);
	}
	ntm_acquire_destroy(nd);
	ntm_relay_destroy(nd);
	ntm_tables_destroy(nd);
}

/* After the last reference: no packet can be in flight any more. */
static void ntm_dev_destruct(struct net_device *dev)
{
	struct ntm_dev *nd = netdev_priv(dev);

	gro_cells_destroy(&nd->gro_cells);
	ntm_route_cache_destroy(nd);
	free_percpu(nd->stats);
	free_percpu(dev->tstats);
}

static const struct net_device_ops ntm_netdev_ops = {
	.ndo_init = ntm_dev_init,
	.ndo_uninit = ntm_dev_uninit,
	.ndo_start_xmit = ntm_xmit,
	.ndo_get_stats64 = dev_get_tstats64,
};

static struct device_type ntm_device_type = {
	.name = NTM_LINK_KIND,
};

#define NTM_FEATURES (NETIF_F_HW_CSUM | NETIF_F_RXCSUM | NETIF_F_SG | \
		      NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA)

static void ntm_setup(struct net_device *dev)
{
	dev->netdev_ops = &ntm_netdev_ops;
	dev->header_ops = NULL;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->features |= NETIF_F_LLTX | NTM_FEATURES;
	dev->hw_features |= NTM_FEATURES;
	dev->hw_enc_features |= NTM_FEATURES;
	/* outer IPv6 is the worst case; IPv4-only users may raise it */
	dev->mtu = ETH_DATA_LEN - NTM_OVERHEAD_V6;
	dev->min_mtu = IPV4_MIN_MTU;
	dev->max_mtu = IP_MAX_MTU - NTM_OVERHEAD_V6;
	/*
	 * Room for the larger encapsulation, so that neither ever has to
	 * reallocate: ESP pushes SPI, ESN high half and sequence number and
	 * the IV in front (20 bytes, NTM 16) and appends up to 3 bytes of
	 * padding, pad length, next header and the ICV (21 bytes, NTM 16).
	 */
	dev->needed_headroom = LL_MAX_HEADER + sizeof(struct ipv6hdr) +
			       sizeof(struct udphdr) +
			       max_t(unsigned int, NTM_DATA_HDR_LEN,
				     NTM_ESP_HDR_LEN + sizeof(__be32) +
				     NTM_ESP_IV_LEN);
	dev->needed_tailroom = max_t(unsigned int, NTM_AEAD_TAG_LEN,
				     NTM_ESP_TRAILER_MAX);
	dev->needs_free_netdev = true;
	dev->priv_destructor = ntm_dev_destruct;
	SET_NETDEV_DEVTYPE(dev, &ntm_device_type);
	netif_keep_dst(dev);
}

static int ntm_validate(struct nlattr *tb[], struct nlattr *data[],
			struct netlink_ext_ack *extack)
{
	if (tb[IFLA_ADDRESS]) {
		NL_SET_ERR_MSG(extack, "ntm devices have no link-layer address");
		return -EINVAL;
	}
	return 0;
}

struct rtnl_link_ops ntm_link_ops __read_mostly = {
	.kind = NTM_LINK_KIND,
	.priv_size = sizeof(struct ntm_dev),
	.setup = ntm_setup,
	.validate = ntm_validate,
};

static struct ntm_dev *ntm_dev_check(struct net_device *dev)
{
	if (!dev)
		return ERR_PTR(-ENODEV);
	if (dev->rtnl_link_ops != &ntm_link_ops) {
		dev_put(dev);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return netdev_priv(dev);
}

/* Returns a device with a reference held (dev_put(nd->dev) when done). */
struct ntm_dev *ntm_dev_get_by_ifindex(struct net *net, int ifindex)
{
	return ntm_dev_check(dev_get_by_index(net, ifindex));
}

struct ntm_dev *ntm_dev_get_by_name(struct net *net, const char *name)
{
	return ntm_dev_check(dev_get_by_name(net, name));
}

int ntm_device_init(void)
{
	return rtnl_link_register(&ntm_link_ops);
}

void ntm_device_exit(void)
{
	rtnl_link_unregister(&ntm_link_ops);
}
