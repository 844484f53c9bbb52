// SPDX-License-Identifier: GPL-2.0
/*
 * ntm_encap.c - the NTM data message: encapsulation, encryption, sending,
 * receiving, decryption and delivery.
 *
 *   outer IP | UDP | type=1 | receiver | counter | AEAD(inner packet) | tag
 *
 * The 16-byte header is the AAD; the nonce is the direction's salt followed
 * by the big-endian counter, so neither is sent twice under one key.
 *
 * Both directions run the AEAD in place on the skb.  The crypto API may
 * complete asynchronously (-EINPROGRESS, then a callback in another
 * context): everything the second half needs travels in struct ntm_crypt,
 * which holds references on the tunnel, the device and the route, so a
 * pending request keeps them alive and device teardown waits for it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/route.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/ip_tunnels.h>
#include <net/ip6_route.h>
#include <net/inet_sock.h>
#include <net/inet_ecn.h>
#include <asm/unaligned.h>
#include "ntm.h"
#include "ntm_events.h"

struct ntm_crypt *ntm_crypt_alloc(struct crypto_aead *aead, int nfrags,
				  u8 **iv, struct aead_request **req,
				  struct scatterlist **sg)
{
	unsigned int len, mask = aead ? crypto_aead_alignmask(aead) : 0;
	struct ntm_crypt *c;
	u8 *p;

	len = sizeof(*c) + mask + NTM_NONCE_LEN;
	if (aead)
		len += crypto_tfm_ctx_alignment() + sizeof(**req) +
		       crypto_aead_reqsize(aead);
	len += __alignof__(struct scatterlist) +
	       nfrags * sizeof(struct scatterlist);

	c = kmalloc(len, GFP_ATOMIC);
	if (!c)
		return NULL;
	p = PTR_ALIGN((u8 *)(c + 1), mask + 1);
	*iv = p;
	p += NTM_NONCE_LEN;
	/* the library (aead NULL) needs no request */
	*req = NULL;
	if (aead) {
		p = PTR_ALIGN(p, crypto_tfm_ctx_alignment());
		*req = (struct aead_request *)p;
		p += sizeof(**req) + crypto_aead_reqsize(aead);
	}
	*sg = PTR_ALIGN((struct scatterlist *)p, __alignof__(struct scatterlist));
	c->sg = *sg;
	c->iv = *iv;
	return c;
}

static void ntm_nonce(u8 *iv, const u8 *salt, u64 counter)
{
	__be64 ctr = cpu_to_be64(counter);

	memcpy(iv, salt, NTM_SALT_LEN);
	memcpy(iv + NTM_SALT_LEN, &ctr, sizeof(ctr));
}

void ntm_crypt_free(struct ntm_crypt *c)
{
	ntm_tunnel_put(c->t);
	netdev_put(c->dev, &c->dev_tracker);
	kfree(c);
}

/* Completion of an asynchronous request: same context as the sync path. */
static void ntm_crypt_done(struct crypto_async_request *areq, int err)
{
	struct ntm_crypt *c = areq->data;

	local_bh_disable();
	rcu_read_lock();
	c->finish(c, err);
	rcu_read_unlock();
	local_bh_enable();
}

/*
 * Map all of @skb into @sg for in-place AEAD and bind @c and @req to @t and
 * @skb.  @c then holds a device reference and takes over the caller's
 * tunnel reference.  On failure nothing is bound and @c is freed.
 */
int ntm_crypt_bind(struct ntm_crypt *c, struct ntm_tunnel *t,
		   struct sk_buff *skb, struct aead_request *req,
		   struct crypto_aead *aead, struct scatterlist *sg, int nfrags,
		   void (*finish)(struct ntm_crypt *c, int err))
{
	int err;

	sg_init_table(sg, nfrags);
	err = skb_to_sgvec(skb, sg, 0, skb->len);
	if (unlikely(err < 0)) {
		kfree(c);
		return err;
	}
	c->finish = finish;
	c->skb = skb;
	c->t = t;
	c->dev = t->nd->dev;
	netdev_hold(c->dev, &c->dev_tracker, GFP_ATOMIC);
	if (aead) {
		aead_request_set_tfm(req, aead);
		aead_request_set_callback(req, 0, ntm_crypt_done, c);
	}
	return 0;
}

/* AEAD over [header | payload | tag] of @skb, bound as ntm_crypt_bind(). */
static int ntm_crypt_setup(struct ntm_crypt *c, struct ntm_tunnel *t,
			   struct sk_buff *skb, struct aead_request *req,
			   struct scatterlist *sg, int nfrags, u8 *iv,
			   const u8 *salt, u64 counter, unsigned int cryptlen,
			   void (*finish)(struct ntm_crypt *c, int err))
{
	int err;

	err = ntm_crypt_bind(c, t, skb, req, t->aead, sg, nfrags, finish);
	if (unlikely(err))
		return err;
	ntm_nonce(iv, salt, counter);
	c->counter = counter;
	c->cryptlen = cryptlen;
	if (req) {
		aead_request_set_crypt(req, sg, sg, cryptlen, iv);
		aead_request_set_ad(req, NTM_DATA_HDR_LEN);
	}
	return 0;
}

/* ---- transmit ---------------------------------------------------------- */

/*
 * The outer route of @t for the endpoint @ep and route key @key read
 * together under ep_lock: cached (route.c) or looked up and cached under
 * @key.  If the endpoint moved since, @key is dead and what is stored
 * under it is never found again; this packet still goes to the endpoint
 * it was sent to.
 */
static int ntm_route4(struct ntm_tunnel *t, const union ntm_sockaddr *ep,
		      u64 key, struct ntm_route *r)
{
	struct ntm_dev *nd = t->nd;
	struct sock *sk = rcu_dereference_bh(nd->sk4);
	struct dst_entry *dst;
	struct rtable *rt;

	if (!sk)
		return -ENOTCONN;
	r->sk = sk;
	r->sport = inet_sk(sk)->inet_sport;
	r->dport = ep->sin.sin_port;
	r->daddr.a4 = ep->sin.sin_addr.s_addr;
	dst = ntm_route_cache_get(nd, key, &r->saddr);
	if (!dst) {
		struct flowi4 fl4 = {
			.daddr = r->daddr.a4,
			.saddr = inet_sk(sk)->inet_saddr,
			.flowi4_mark = READ_ONCE(nd->fwmark),
			.flowi4_proto = IPPROTO_UDP,
			.flowi4_oif = sk->sk_bound_dev_if,
			.fl4_sport = r->sport,
			.fl4_dport = r->dport,
		};

		rt = ip_route_output_flow(sock_net(sk), &fl4, sk);
		if (IS_ERR(rt))
			return PTR_ERR(rt);
		if (rt->dst.dev == nd->dev) {
			ip_rt_put(rt);
			return -ELOOP;
		}
		dst = &rt->dst;
		r->saddr.a4 = fl4.saddr;
		ntm_route_cache_set(nd, key, dst, &r->saddr, AF_INET);
	}
	r->dst = dst;
	return 0;
}

static int ntm_route6(struct ntm_tunnel *t, const union ntm_sockaddr *ep,
		      u64 key, struct ntm_route *r)
{
#if IS_ENABLED(CONFIG_IPV6)
	struct ntm_dev *nd = t->nd;
	struct sock *sk = rcu_dereference_bh(nd->sk6);
	struct dst_entry *dst;

	if (!sk)
		return -ENOTCONN;
	r->sk = sk;
	r->sport = inet_sk(sk)->inet_sport;
	r->dport = ep->sin6.sin6_port;
	r->daddr.a6 = ep->sin6.sin6_addr;
	dst = ntm_route_cache_get(nd, key, &r->saddr);
	if (!dst) {
		struct flowi6 fl6 = {
			.daddr = r->daddr.a6,
			.saddr = sk->sk_v6_rcv_saddr,
			.flowi6_mark = READ_ONCE(nd->fwmark),
			.flowi6_proto = IPPROTO_UDP,
			.flowi6_oif = ep->sin6.sin6_scope_id ?:
				      sk->sk_bound_dev_if,
			.fl6_sport = r->sport,
			.fl6_dport = r->dport,
		};

		dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, &fl6,
						      NULL);
		if (IS_ERR(dst))
			return PTR_ERR(dst);
		if (dst->dev == nd->dev) {
			dst_release(dst);
			return -ELOOP;
		}
		r->saddr.a6 = fl6.saddr;
		ntm_route_cache_set(nd, key, dst, &r->saddr, AF_INET6);
	}
	r->dst = dst;
	return 0;
#else
	return -EAFNOSUPPORT;
#endif
}

/* Under rcu_read_lock_bh(); returns a route with a dst reference. */
static int ntm_route(struct ntm_tunnel *t, struct ntm_route *r)
{
	union ntm_sockaddr ep;
	unsigned int seq;
	u64 key;

	ntm_assert_rcu();
	do {
		seq = read_seqbegin(&t->ep_lock);
		ep = t->ep;
		key = t->route_key;
	} while (read_seqretry(&t->ep_lock, seq));
	r->family = ep.sa.sa_family;
	if (r->family == AF_INET)
		return ntm_route4(t, &ep, key, r);
	return ntm_route6(t, &ep, key, r);
}

static void ntm_udp_send(struct ntm_crypt *c)
{
	struct ntm_tunnel *t = c->t;
	struct ntm_route *r = &c->route;
	struct sk_buff *skb = c->skb;
	struct ntm_lim *lim;

#if IS_ENABLED(CONFIG_IPV6)
	/*
	 * udp_tunnel_xmit_skb() scrubs (iptunnel_xmit()), the IPv6 one does
	 * not: the inner flow's conntrack entry, extensions and mark must not
	 * ride on the outer packet, or the outer flow escapes conntrack/NAT.
	 */
	if (r->family == AF_INET6)
		skb_scrub_packet(skb, c->xnet);
#endif
	skb->dev = c->dev;
	skb->mark = READ_ONCE(t->nd->fwmark);
	skb->ignore_df = 1;

	atomic64_inc(&t->tx_packets);
	atomic64_add(c->inner_len, &t->tx_bytes);
	ntm_dev_count(t->nd, NTM_STAT(TX_PACKETS), 1);
	ntm_dev_count(t->nd, NTM_STAT(TX_BYTES), c->inner_len);
	lim = READ_ONCE(t->lim);
	if (unlikely(lim))
		ntm_tunnel_charge(t, lim, NTM_DIR_TX, c->inner_len);

	if (r->family == AF_INET)
		udp_tunnel_xmit_skb((struct rtable *)r->dst, r->sk, skb,
				    r->saddr.a4, r->daddr.a4, c->ds,
				    ip4_dst_hoplimit(r->dst), 0, r->sport,
				    r->dport, c->xnet, false);
#if IS_ENABLED(CONFIG_IPV6)
	else
		udp_tunnel6_xmit_skb(r->dst, r->sk, skb, c->dev, &r->saddr.a6,
				     &r->daddr.a6, c->ds,
				     ip6_dst_hoplimit(r->dst), 0, r->sport,
				     r->dport, false);
#endif
	/* the route reference went with the skb */
	r->dst = NULL;
}

/* Count and free a dropped outbound packet; @t's reference stays. */
void ntm_tx_drop(struct ntm_tunnel *t, struct sk_buff *skb, unsigned int stat)
{
	ntm_tunnel_count(t, stat);
	dev_core_stats_tx_dropped_inc(t->nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(stat));
}

void ntm_encrypt_finish(struct ntm_crypt *c, int err)
{
	if (likely(!err))
		ntm_udp_send(c);
	else
		ntm_tx_drop(c->t, c->skb, NTM_STAT(DROP_TX_ERROR));
	dst_release(c->route.dst);
	sock_put(c->route.sk);
	ntm_crypt_free(c);
}

/*
 * The outer DS field for the inner packet at skb->data: its ECN bits
 * (RFC 6040 normal mode: ECT and CE are copied), DSCP 0 so that the inner
 * traffic class does not show on the wire.
 */
u8 ntm_inner_ecn(const struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return INET_ECN_encapsulate(0, ((const struct iphdr *)skb->data)->tos);
	if (skb->protocol == htons(ETH_P_IPV6))
		return INET_ECN_encapsulate(0, ipv6_get_dsfield((const struct ipv6hdr *)skb->data));
	return 0;
}

/*
 * Encrypt and send one non-GSO packet.  Consumes @skb and one tunnel
 * reference; @r's dst reference is cloned, not consumed.
 */
static void ntm_encrypt_one(struct ntm_tunnel *t, struct sk_buff *skb,
			    const struct ntm_route *r)
{
	struct ntm_data_hdr *hdr;
	struct aead_request *req;
	struct scatterlist *sg;
	struct sk_buff *trailer;
	unsigned int stat;
	struct ntm_crypt *c;
	int nfrags, err;
	u64 counter;
	u8 *iv;

	if (unlikely(!ntm_tx_counter(t, NTM_COUNTER_LIMIT, &counter))) {
		stat = NTM_STAT(DROP_EXPIRED);
		goto drop;
	}
	stat = NTM_STAT(DROP_NOMEM);
	nfrags = ntm_tx_cow(skb, r, NTM_DATA_HDR_LEN, NTM_AEAD_TAG_LEN,
			    &trailer);
	if (unlikely(nfrags < 0))
		goto drop;
	c = ntm_crypt_alloc(t->aead, nfrags, &iv, &req, &sg);
	if (unlikely(!c))
		goto drop;

	c->inner_len = skb->len;
	c->ds = ntm_inner_ecn(skb);
	/* the tunnel's transmit byte count starts here (iptunnel_xmit()) */
	skb_set_inner_network_header(skb, 0);
	hdr = skb_push(skb, NTM_DATA_HDR_LEN);
	hdr->type = htonl(NTM_MSG_DATA);
	hdr->receiver = t->remote_index;
	hdr->counter = cpu_to_be64(counter);
	pskb_put(skb, trailer, NTM_AEAD_TAG_LEN);

	err = ntm_crypt_setup(c, t, skb, req, sg, nfrags, iv, t->tx_salt,
			      counter, c->inner_len, ntm_encrypt_finish);
	if (unlikely(err < 0)) {
		stat = NTM_STAT(DROP_MALFORMED);
		goto drop;
	}
	ntm_encrypt_submit(c, req, r, ntm_encrypt_finish);
	return;

drop:
	ntm_tx_drop(t, skb, stat);
	ntm_tunnel_put(t);
}

/* A direct branch, not a (retpolined) indirect call per packet. */
static void ntm_encrypt_dispatch(struct ntm_tunnel *t, struct sk_buff *skb,
				 const struct ntm_route *r)
{
	if (t->esp)
		ntm_esp_encrypt_one(t, skb, r);
	else
		ntm_encrypt_one(t, skb, r);
}

/*
 * What ESP adds to an inner packet of the largest size that fits the
 * route's MTU: outer IP, UDP, SPI and sequence number, IV, ICV, and the
 * pad length and next header bytes after an inner packet padded to a
 * multiple of 4 (RFC 4303 2.4).  Exact, not the worst case of 3 padding
 * bytes: the inner path learns the largest size that leaves unfragmented,
 * e.g. 1418 over IPv6 and 1438 over IPv4 on a 1500-byte path.
 */
static unsigned int ntm_esp_overhead(const struct ntm_route *r)
{
	unsigned int fixed = (r->family == AF_INET ? sizeof(struct iphdr) :
						    sizeof(struct ipv6hdr)) +
			     sizeof(struct udphdr) + NTM_ESP_HDR_LEN +
			     NTM_ESP_IV_LEN + NTM_ESP_ICV_LEN;
	unsigned int mtu = dst_mtu(r->dst);

	if (mtu < fixed + 4)
		return fixed + 2 + 3;
	return mtu - (round_down(mtu - fixed, 4) - 2);
}

/*
 * Send @skb (an inner IPv4/IPv6 packet, possibly GSO) through @t.
 * Called with BH disabled under RCU; consumes @skb and a reference on @t.
 */
netdev_tx_t ntm_xmit_tunnel(struct ntm_tunnel *t, struct sk_buff *skb)
{
	struct sk_buff *segs, *next;
	unsigned int stat, overhead;
	struct ntm_route r;
	int err;

	if (unlikely(ntm_tunnel_expired(t))) {
		stat = NTM_STAT(DROP_EXPIRED);
		goto drop;
	}
	err = ntm_route(t, &r);
	if (unlikely(err)) {
		stat = NTM_STAT(DROP_TX_ERROR);
		goto drop;
	}
	/* let the inner path learn the MTU left after encapsulation */
	if (t->esp)
		overhead = ntm_esp_overhead(&r);
	else
		overhead = r.family == AF_INET ? NTM_OVERHEAD_V4 :
						 NTM_OVERHEAD_V6;
	skb_tunnel_check_pmtu(skb, r.dst, overhead, false);
	skb_dst_drop(skb);

	if (!skb_is_gso(skb)) {
		ntm_encrypt_dispatch(t, skb, &r);
		dst_release(r.dst);
		return NETDEV_TX_OK;
	}

	segs = skb_gso_segment(skb, 0);
	if (IS_ERR_OR_NULL(segs)) {
		dst_release(r.dst);
		ntm_tunnel_count(t, NTM_STAT(DROP_MALFORMED));
		dev_core_stats_tx_dropped_inc(t->nd->dev);
		kfree_skb_reason(skb, SKB_DROP_REASON_SKB_GSO_SEG);
		ntm_tunnel_put(t);
		return NETDEV_TX_OK;
	}
	consume_skb(skb);
	skb_list_walk_safe(segs, skb, next) {
		skb_mark_not_on_list(skb);
		refcount_inc(&t->ref);
		ntm_encrypt_dispatch(t, skb, &r);
	}
	dst_release(r.dst);
	ntm_tunnel_put(t);
	return NETDEV_TX_OK;

drop:
	ntm_tx_drop(t, skb, stat);
	ntm_tunnel_put(t);
	return NETDEV_TX_OK;
}

/* ---- receive ----------------------------------------------------------- */

static bool ntm_sockaddr_equal(const union ntm_sockaddr *a,
			       const union ntm_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return a->sin6.sin6_port == b->sin6.sin6_port &&
	       ipv6_addr_equal(&a->sin6.sin6_addr, &b->sin6.sin6_addr) &&
	       a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
}

/*
 * Whether an endpoint event of @t may go now: one per
 * NTM_ROAM_EVENT_INTERVAL_MS, so that a peer (or whoever can replay its
 * packets from changing sources) cannot flood the listeners.  Concurrent
 * receivers race for the slot with cmpxchg; one wins.
 */
static bool ntm_roam_event_slot(struct ntm_tunnel *t)
{
	u64 now = ktime_get_coarse_boottime_ns();
	u64 last = READ_ONCE(t->roam_ev_ns);

	if (last && now - last < NTM_ROAM_EVENT_INTERVAL_MS * NSEC_PER_MSEC)
		return false;
	return cmpxchg64(&t->roam_ev_ns, last, now) == last;
}

void ntm_roam(struct ntm_tunnel *t, const union ntm_sockaddr *src)
{
	union ntm_sockaddr cur;

	if ((READ_ONCE(t->nd->flags) & NTM_DEV_F_NO_ROAMING) ||
	    (READ_ONCE(t->flags) & NTM_TUNNEL_F_NO_ROAMING))
		return;
	ntm_tunnel_get_endpoint(t, &cur);
	if (likely(ntm_sockaddr_equal(&cur, src))) {
		/* a suppressed move is reported once the interval is over */
		if (unlikely(test_bit(NTM_T_ROAM_SUPPRESSED, &t->roam_state)) &&
		    ntm_roam_event_slot(t)) {
			clear_bit(NTM_T_ROAM_SUPPRESSED, &t->roam_state);
			ntm_event_endpoint(t, &cur);
		}
		return;
	}
	ntm_tunnel_set_endpoint(t, src);
	ntm_tunnel_count(t, NTM_STAT(ROAMED));
	if (ntm_roam_event_slot(t)) {
		clear_bit(NTM_T_ROAM_SUPPRESSED, &t->roam_state);
		ntm_event_endpoint(t, src);
	} else {
		set_bit(NTM_T_ROAM_SUPPRESSED, &t->roam_state);
		ntm_tunnel_count(t, NTM_STAT(ROAM_EVENT_SUPPRESSED));
	}
}

/*
 * Validate the header of a decrypted inner packet and trim what follows
 * it; returns its protocol, or 0 when it is malformed.
 */
__be16 ntm_inner_parse(struct sk_buff *skb)
{
	if (!pskb_may_pull(skb, 1))
		return 0;
	switch (skb->data[0] >> 4) {
	case 4: {
		const struct iphdr *iph;
		unsigned int len;

		if (!pskb_may_pull(skb, sizeof(*iph)))
			return 0;
		iph = (const struct iphdr *)skb->data;
		len = ntohs(iph->tot_len);
		if (iph->ihl < 5 || len < iph->ihl * 4 || len > skb->len)
			return 0;
		if (pskb_trim(skb, len))
			return 0;
		return htons(ETH_P_IP);
	}
	case 6: {
		const struct ipv6hdr *ip6h;
		unsigned int len;

		if (!pskb_may_pull(skb, sizeof(*ip6h)))
			return 0;
		ip6h = (const struct ipv6hdr *)skb->data;
		len = ntohs(ip6h->payload_len) + sizeof(*ip6h);
		if (len > skb->len)
			return 0;
		if (pskb_trim(skb, len))
			return 0;
		return htons(ETH_P_IPV6);
	}
	default:
		return 0;
	}
}

/* Validate the decrypted inner packet; returns its protocol or 0. */
static __be16 ntm_inner_check(struct ntm_tunnel *t, struct sk_buff *skb,
			      unsigned int *stat)
{
	__be16 proto = ntm_inner_parse(skb);

	*stat = NTM_STAT(DROP_MALFORMED);
	if (!proto)
		return 0;
	/* ntm_inner_parse() left the header in the linear area */
	*stat = NTM_STAT(DROP_INNER_SRC);
	if (proto == htons(ETH_P_IP)) {
		const struct iphdr *iph = (const struct iphdr *)skb->data;

		if (!t->has_vip4 || iph->saddr != t->vip4)
			return 0;
	} else {
		const struct ipv6hdr *ip6h = (const struct ipv6hdr *)skb->data;

		if (!t->has_vip6 || !ipv6_addr_equal(&ip6h->saddr, &t->vip6))
			return 0;
	}
	return proto;
}

/*
 * Hand an authenticated, validated inner packet to the stack.  Consumes
 * @skb.  Runs with BH disabled.
 */
void ntm_deliver(struct ntm_tunnel *t, struct sk_buff *skb, __be16 proto,
		 bool xnet, u8 outer_ds)
{
	struct ntm_dev *nd = t->nd;
	struct ntm_lim *lim;
	unsigned int len;

	skb_scrub_packet(skb, xnet);
	skb->dev = nd->dev;
	skb->protocol = proto;
	skb->pkt_type = PACKET_HOST;
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	/*
	 * RFC 6040: CE on the outer header marks the inner one; CE on an
	 * inner packet that is not ECN-capable cannot be carried: drop.
	 */
	if (unlikely(INET_ECN_decapsulate(skb, outer_ds,
					  proto == htons(ETH_P_IP) ?
					  ip_hdr(skb)->tos :
					  ipv6_get_dsfield(ipv6_hdr(skb))) > 1)) {
		ntm_rx_drop(t, skb, NTM_STAT(DROP_ECN));
		return;
	}
	skb_probe_transport_header(skb);
	/* the AEAD tag vouches for every byte, as the sender's checksums did */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;

	len = skb->len;
	atomic64_inc(&t->rx_packets);
	atomic64_add(len, &t->rx_bytes);
	ntm_dev_count(nd, NTM_STAT(RX_PACKETS), 1);
	ntm_dev_count(nd, NTM_STAT(RX_BYTES), len);
	lim = READ_ONCE(t->lim);
	if (unlikely(lim))
		ntm_tunnel_charge(t, lim, NTM_DIR_RX, len);
	dev_sw_netstats_rx_add(nd->dev, len);
	gro_cells_receive(&nd->gro_cells, skb);
}

/* Count and free a dropped inbound packet; @t's reference stays. */
void ntm_rx_drop(struct ntm_tunnel *t, struct sk_buff *skb, unsigned int stat)
{
	ntm_tunnel_count(t, stat);
	dev_core_stats_rx_dropped_inc(t->nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(stat));
}

static void ntm_decrypt_finish(struct ntm_crypt *c, int err)
{
	struct ntm_tunnel *t = c->t;
	struct sk_buff *skb = c->skb;
	unsigned int stat;
	__be16 proto;

	if (unlikely(!ntm_rx_accept(c, err, &stat)))
		goto drop;
	__skb_pull(skb, NTM_DATA_HDR_LEN);
	if (pskb_trim(skb, skb->len - NTM_AEAD_TAG_LEN)) {
		stat = NTM_STAT(DROP_NOMEM);
		goto drop;
	}
	if (!skb->len) {
		ntm_tunnel_count(t, NTM_STAT(KEEPALIVE_RX));
		consume_skb(skb);
		goto out;
	}
	proto = ntm_inner_check(t, skb, &stat);
	if (!proto)
		goto drop;
	ntm_deliver(t, skb, proto, c->xnet, c->ds);
	goto out;

drop:
	ntm_rx_drop(t, skb, stat);
out:
	ntm_crypt_free(c);
}

void ntm_outer_source(struct sk_buff *skb, union ntm_sockaddr *src)
{
	const struct udphdr *uh = udp_hdr(skb);

	memset(src, 0, sizeof(*src));
	if (ip_hdr(skb)->version == 4) {
		src->sin.sin_family = AF_INET;
		src->sin.sin_addr.s_addr = ip_hdr(skb)->saddr;
		src->sin.sin_port = uh->source;
	} else {
		src->sin6.sin6_family = AF_INET6;
		src->sin6.sin6_addr = ipv6_hdr(skb)->saddr;
		src->sin6.sin6_port = uh->source;
		src->sin6.sin6_scope_id =
			ipv6_iface_scope_id(&ipv6_hdr(skb)->saddr,
					    skb->skb_iif);
	}
}

/*
 * A dual-stack AF_INET6 socket (IPV6_V6ONLY off) also receives IPv4
 * datagrams.  Their outer source is IPv4: a tunnel would roam to it and
 * answer from the device's AF_INET socket -- another port and NAT
 * mapping than the one the peer reached, or no socket at all.  What the
 * module would consume from such a source is dropped and counted (D76);
 * the owner still gets everything else.
 */
static bool ntm_rx_mapped(struct ntm_dev *nd, struct sock *sk,
			  struct sk_buff *skb)
{
	if (likely(sk->sk_family != AF_INET6 || ip_hdr(skb)->version != 4))
		return false;
	ntm_dev_count(nd, NTM_STAT(DROP_MAPPED), 1);
	dev_core_stats_rx_dropped_inc(nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(NTM_STAT(DROP_MAPPED)));
	return true;
}

/*
 * encap_rcv hook: skb->data is the UDP header.  Returns 0 when the datagram
 * was consumed (delivered or dropped), 1 to leave it on the socket.
 */
int ntm_udp_encap_recv(struct sock *sk, struct sk_buff *skb)
{
	const unsigned int off = sizeof(struct udphdr);
	struct ntm_data_hdr *hdr;
	struct aead_request *req;
	struct scatterlist *sg;
	struct sk_buff *trailer;
	struct ntm_tunnel *t;
	union ntm_sockaddr src;
	struct ntm_crypt *c;
	struct ntm_dev *nd;
	unsigned int stat;
	int nfrags, err;
	u64 counter;
	u8 *iv;

	nd = rcu_dereference_sk_user_data(sk);
	if (unlikely(!nd))
		return 1;

	/*
	 * RFC 3948 demux applies once the device has an ESP SA: a lone 0xff
	 * is a NAT keepalive, a first word of 256 or more an SPI.  Without
	 * ESP SAs the port is NTM only and such datagrams stay ntmd's.
	 */
	if (READ_ONCE(nd->num_esp)) {
		u32 word;

		if (skb->len == off + 1 && pskb_may_pull(skb, off + 1) &&
		    skb->data[off] == 0xff) {
			ntm_dev_count(nd, NTM_STAT(KEEPALIVE_RX), 1);
			consume_skb(skb);
			return 0;
		}
		if (skb->len >= off + sizeof(__be32) &&
		    pskb_may_pull(skb, off + sizeof(__be32))) {
			word = get_unaligned_be32(skb->data + off);
			if (word >= NTM_ESP_SPI_MIN)
				return ntm_rx_mapped(nd, sk, skb) ? 0 :
				       ntm_esp_recv(nd, sk, skb);
		}
	}

	if (skb->len < off + sizeof(__be32) ||
	    !pskb_may_pull(skb, off + sizeof(__be32)) ||
	    *(__be32 *)(skb->data + off) != htonl(NTM_MSG_DATA)) {
		/*
		 * signalling, IKE behind the non-ESP marker, keepalives,
		 * garbage: the owner decides
		 */
		ntm_dev_count(nd, NTM_STAT(PASSED_UP), 1);
		return 1;
	}
	if (ntm_rx_mapped(nd, sk, skb))
		return 0;

	if (skb->len < off + NTM_DATA_HDR_LEN + NTM_AEAD_TAG_LEN ||
	    !pskb_may_pull(skb, off + NTM_DATA_HDR_LEN)) {
		stat = NTM_STAT(DROP_MALFORMED);
		ntm_dev_count(nd, stat, 1);
		goto drop_nocount;
	}
	/* a relay forwards before the device's own tunnels look (RS role) */
	if (READ_ONCE(nd->num_relays) && !ntm_relay_recv(nd, sk, skb))
		return 0;
	hdr = (struct ntm_data_hdr *)(skb->data + off);
	counter = be64_to_cpu(hdr->counter);
	t = ntm_rx_tunnel(nd, be32_to_cpu(hdr->receiver), false);
	if (unlikely(!t)) {
		/* counted by ntm_rx_tunnel() */
		stat = NTM_STAT(DROP_NO_TUNNEL);
		goto drop_nocount;
	}
	nfrags = ntm_rx_prepare(t, skb, counter, &src, &trailer, &stat);
	if (unlikely(nfrags < 0))
		goto drop;
	__skb_pull(skb, off);

	stat = NTM_STAT(DROP_NOMEM);
	c = ntm_crypt_alloc(t->aead, nfrags, &iv, &req, &sg);
	if (unlikely(!c))
		goto drop;
	err = ntm_crypt_setup(c, t, skb, req, sg, nfrags, iv, t->rx_salt,
			      counter, skb->len - NTM_DATA_HDR_LEN,
			      ntm_decrypt_finish);
	if (unlikely(err < 0)) {
		stat = NTM_STAT(DROP_MALFORMED);
		goto drop;
	}
	ntm_decrypt_submit(c, req, sk, &src, ntm_decrypt_finish);
	return 0;

drop:
	ntm_tunnel_count(t, stat);
	ntm_tunnel_put(t);
drop_nocount:
	dev_core_stats_rx_dropped_inc(nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(stat));
	return 0;
}
