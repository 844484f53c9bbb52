// SPDX-License-Identifier: GPL-2.0
/*
 * esp.c - ESP tunnel mode (RFC 4303) in UDP (RFC 3948), the second
 * encapsulation of an ntm tunnel.
 *
 *   outer IP | UDP | SPI | seq | IV | AEAD(inner | pad | padlen | nh) | ICV
 *
 * An ESP tunnel is an SA pair set up by an IKE daemon in user space: the
 * inbound SPI is the tunnel's local index (so receive finds it in the index
 * table like an NTM tunnel), the outbound SPI its remote index.  Each
 * direction has its own AEAD transform: rfc4106(gcm(aes)) or
 * rfc7539esp(chacha20,poly1305), 16-byte ICV, key followed by a 4-byte
 * salt.  The explicit IV is the 64-bit sequence number, which never repeats
 * under one key.
 *
 * Sequence numbers are 64 bit inside; without ESN the SA expires before
 * the 32-bit wire field would wrap.  With ESN the high half is not sent
 * but authenticated: the AAD is SPI | seq_hi | seq_lo, built in place in
 * front of the packet, and the receiver infers seq_hi from its window
 * (RFC 4303 appendix A.2).  Anti-replay is the RFC 6479 window of replay.c:
 * checked before decryption, updated after authentication.
 *
 * Crypto runs in place on the skb and may complete asynchronously; the
 * request context (struct ntm_crypt) and its references are shared with
 * the NTM path in ntm_encap.c, as are routing, sending and delivery.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/inetdevice.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <asm/unaligned.h>
#include "ntm.h"

/* Next header values of the ESP trailer (IANA protocol numbers). */
enum {
	NTM_ESP_NH_IPV4 = IPPROTO_IPIP,
	NTM_ESP_NH_IPV6 = IPPROTO_IPV6,
	NTM_ESP_NH_DUMMY = NEXTHDR_NONE,	/* TFC dummy packet */
};

/* Length of the AAD: SPI and the sequence number(s) as authenticated. */
static unsigned int ntm_esp_aad_len(const struct ntm_esp *e)
{
	return e->esn ? 3 * sizeof(__be32) : NTM_ESP_HDR_LEN;
}

/* ---- transmit ---------------------------------------------------------- */

/* Put the sent header back: SPI | seq_lo, without the ESN high half. */
static void ntm_esp_encrypt_finish(struct ntm_crypt *c, int err)
{
	struct sk_buff *skb = c->skb;

	if (!err && c->t->esp->esn) {
		u32 spi = get_unaligned_be32(skb->data);

		__skb_pull(skb, sizeof(__be32));
		put_unaligned_be32(spi, skb->data);
	}
	ntm_encrypt_finish(c, err);
}

/*
 * Encrypt and send one non-GSO inner packet through ESP tunnel @t.
 * Consumes @skb and one tunnel reference; @r's dst reference is cloned.
 */
void ntm_esp_encrypt_one(struct ntm_tunnel *t, struct sk_buff *skb,
			 const struct ntm_route *r)
{
	const struct ntm_esp *e = t->esp;
	unsigned int aadlen = ntm_esp_aad_len(e);
	unsigned int stat, plen, padlen, tailen, i;
	struct aead_request *req;
	struct scatterlist *sg;
	struct sk_buff *trailer;
	struct ntm_crypt *c;
	u8 *hdr, *tail, *iv;
	u64 seq, limit;
	u8 nexthdr;
	int nfrags;

	/* the SA is done at the limit: IKE must have rekeyed by now */
	limit = e->esn ? NTM_COUNTER_LIMIT : (u64)NTM_ESP_SEQ_MAX + 1;
	if (unlikely(!ntm_tx_counter(t, limit, &seq))) {
		stat = NTM_STAT(DROP_EXPIRED);
		goto drop;
	}
	nexthdr = skb->protocol == htons(ETH_P_IP) ? NTM_ESP_NH_IPV4 :
						     NTM_ESP_NH_IPV6;

	stat = NTM_STAT(DROP_NOMEM);
	plen = skb->len;
	/* pad so that payload, pad length and next header end 4-aligned */
	padlen = (4 - ((plen + 2) & 3)) & 3;
	tailen = padlen + 2 + NTM_ESP_ICV_LEN;
	nfrags = ntm_tx_cow(skb, r, aadlen + NTM_ESP_IV_LEN, tailen, &trailer);
	if (unlikely(nfrags < 0))
		goto drop;
	c = ntm_crypt_alloc(t->aead, nfrags, &iv, &req, &sg);
	if (unlikely(!c))
		goto drop;

	c->inner_len = plen;
	c->ds = ntm_inner_ecn(skb);
	skb_set_inner_network_header(skb, 0);
	/* RFC 4303 2.4: the default padding is 1, 2, 3, ... */
	tail = pskb_put(skb, trailer, tailen);
	for (i = 0; i < padlen; i++)
		tail[i] = i + 1;
	tail[padlen] = padlen;
	tail[padlen + 1] = nexthdr;

	hdr = skb_push(skb, aadlen + NTM_ESP_IV_LEN);
	put_unaligned(t->remote_index, (__be32 *)hdr);
	if (e->esn) {
		put_unaligned_be32(upper_32_bits(seq), hdr + 4);
		put_unaligned_be32(lower_32_bits(seq), hdr + 8);
	} else {
		put_unaligned_be32(lower_32_bits(seq), hdr + 4);
	}
	put_unaligned_be64(seq, hdr + aadlen);
	memcpy(iv, hdr + aadlen, NTM_ESP_IV_LEN);

	if (unlikely(ntm_crypt_bind(c, t, skb, req, t->aead, sg, nfrags,
				    ntm_esp_encrypt_finish))) {
		stat = NTM_STAT(DROP_MALFORMED);
		goto drop;
	}
	c->counter = seq;
	aead_request_set_crypt(req, sg, sg, plen + padlen + 2, iv);
	/* the IV sits between AAD and payload; rfc4106/rfc7539esp skip it */
	aead_request_set_ad(req, aadlen + NTM_ESP_IV_LEN);
	ntm_encrypt_submit(c, req, r, ntm_esp_encrypt_finish);
	return;

drop:
	ntm_tx_drop(t, skb, stat);
	ntm_tunnel_put(t);
}

/* ---- receive ----------------------------------------------------------- */

/*
 * The full sequence number of an ESN packet from its low half, RFC 4303
 * appendix A.2: the high half is the one that puts it nearest the window.
 */
static u64 ntm_esp_infer_seq(struct ntm_tunnel *t, u32 seq_lo)
{
	const u32 w = NTM_REPLAY_WINDOW;
	u64 top = ntm_replay_top(&t->replay);
	u64 last = top ? top - 1 : 0;	/* highest accepted */
	u32 tl = lower_32_bits(last);
	u64 th = upper_32_bits(last);

	if (tl >= w - 1) {
		/* window within one 2^32 block: lower means the next one */
		if (seq_lo < tl - w + 1)
			th++;
	} else if (seq_lo >= tl - w + 1 && th) {
		/* window spans a block boundary: high means the previous */
		th--;
	}
	return th << 32 | seq_lo;
}

/* Is the padding 1, 2, 3, ... as RFC 4303 2.4 prescribes? */
static bool ntm_esp_pad_ok(struct sk_buff *skb, unsigned int off,
			   unsigned int padlen)
{
	u8 buf[32];
	unsigned int done, n, i;

	for (done = 0; done < padlen; done += n) {
		n = min_t(unsigned int, padlen - done, sizeof(buf));
		if (skb_copy_bits(skb, off + done, buf, n))
			return false;
		for (i = 0; i < n; i++)
			if (buf[i] != (u8)(done + i + 1))
				return false;
	}
	return true;
}

static void ntm_esp_decrypt_finish(struct ntm_crypt *c, int err)
{
	struct ntm_tunnel *t = c->t;
	const struct ntm_esp *e = t->esp;
	struct sk_buff *skb = c->skb;
	const void *saddr, *daddr;
	unsigned int stat, padlen;
	__be16 proto, want;
	int family;
	u8 trail[2];

	if (unlikely(!ntm_rx_accept(c, err, &stat)))
		goto drop;
	/* c->inner_len carries the AAD length on receive */
	__skb_pull(skb, c->inner_len + NTM_ESP_IV_LEN);
	stat = NTM_STAT(DROP_NOMEM);
	if (pskb_trim(skb, skb->len - NTM_ESP_ICV_LEN))
		goto drop;
	stat = NTM_STAT(DROP_MALFORMED);
	if (skb_copy_bits(skb, skb->len - 2, trail, 2))
		goto drop;
	padlen = trail[0];
	if (padlen + 2 > skb->len ||
	    !ntm_esp_pad_ok(skb, skb->len - 2 - padlen, padlen))
		goto drop;
	switch (trail[1]) {
	case NTM_ESP_NH_IPV4:
		want = htons(ETH_P_IP);
		break;
	case NTM_ESP_NH_IPV6:
		want = htons(ETH_P_IPV6);
		break;
	case NTM_ESP_NH_DUMMY:
		/* traffic flow confidentiality filler: never delivered */
		ntm_tunnel_count(t, NTM_STAT(DUMMY_RX));
		consume_skb(skb);
		goto out;
	default:
		goto drop;
	}
	stat = NTM_STAT(DROP_NOMEM);
	if (pskb_trim(skb, skb->len - padlen - 2))
		goto drop;
	stat = NTM_STAT(DROP_MALFORMED);
	proto = ntm_inner_parse(skb);
	if (!proto || proto != want)
		goto drop;

	/* the header is linear after ntm_inner_parse() */
	if (proto == htons(ETH_P_IP)) {
		const struct iphdr *iph = (const struct iphdr *)skb->data;

		family = AF_INET;
		saddr = &iph->saddr;
		daddr = &iph->daddr;
	} else {
		const struct ipv6hdr *ip6h = (const struct ipv6hdr *)skb->data;

		family = AF_INET6;
		saddr = &ip6h->saddr;
		daddr = &ip6h->daddr;
	}
	stat = NTM_STAT(DROP_TS);
	if (!ntm_ts_match(&e->remote_ts, family, saddr) ||
	    (e->local_ts.n && !ntm_ts_match(&e->local_ts, family, daddr)))
		goto drop;

	ntm_deliver(t, skb, proto, c->xnet, c->ds);
	goto out;

drop:
	ntm_rx_drop(t, skb, stat);
out:
	ntm_crypt_free(c);
}

/*
 * An ESP datagram on an adopted socket (first word >= 256: an SPI).
 * skb->data is the UDP header.  Always consumes @skb; returns 0.
 */
int ntm_esp_recv(struct ntm_dev *nd, struct sock *sk, struct sk_buff *skb)
{
	const unsigned int off = sizeof(struct udphdr);
	const unsigned int hlen = NTM_ESP_HDR_LEN + NTM_ESP_IV_LEN;
	unsigned int stat, len, aadlen;
	struct aead_request *req;
	union ntm_sockaddr src;
	struct scatterlist *sg;
	struct sk_buff *trailer;
	struct ntm_tunnel *t;
	struct ntm_crypt *c;
	u32 spi, seq_lo;
	int nfrags;
	u64 seq;
	u8 *iv;

	/* header, IV, at least pad length and next header, ICV; 4-aligned */
	len = skb->len - off;
	if (len < hlen + 4 + NTM_ESP_ICV_LEN ||
	    (len - hlen - NTM_ESP_ICV_LEN) % 4 ||
	    !pskb_may_pull(skb, off + hlen)) {
		stat = NTM_STAT(DROP_MALFORMED);
		ntm_dev_count(nd, stat, 1);
		goto drop_nocount;
	}
	spi = get_unaligned_be32(skb->data + off);
	seq_lo = get_unaligned_be32(skb->data + off + sizeof(__be32));
	t = ntm_rx_tunnel(nd, spi, true);
	if (unlikely(!t)) {
		/* counted by ntm_rx_tunnel() */
		stat = NTM_STAT(DROP_NO_TUNNEL);
		goto drop_nocount;
	}
	seq = t->esp->esn ? ntm_esp_infer_seq(t, seq_lo) : seq_lo;
	/* sequence number 0 is never sent (RFC 4303 3.3.3) */
	stat = NTM_STAT(DROP_REPLAY);
	if (unlikely(!seq))
		goto drop;
	nfrags = ntm_rx_prepare(t, skb, seq, &src, &trailer, &stat);
	if (unlikely(nfrags < 0))
		goto drop;
	__skb_pull(skb, off);
	aadlen = ntm_esp_aad_len(t->esp);
	if (t->esp->esn) {
		/*
		 * SPI | seq_hi | seq_lo in place: the 4 bytes in front are
		 * the UDP length and checksum, done with and now private.
		 */
		u8 *p = skb_push(skb, sizeof(__be32));

		put_unaligned_be32(spi, p);
		put_unaligned_be32(upper_32_bits(seq), p + 4);
	}
	stat = NTM_STAT(DROP_NOMEM);
	c = ntm_crypt_alloc(t->esp->rx_aead, nfrags, &iv, &req, &sg);
	if (unlikely(!c))
		goto drop;
	if (unlikely(ntm_crypt_bind(c, t, skb, req, t->esp->rx_aead, sg,
				    nfrags, ntm_esp_decrypt_finish))) {
		stat = NTM_STAT(DROP_MALFORMED);
		goto drop;
	}
	memcpy(iv, skb->data + aadlen, NTM_ESP_IV_LEN);
	c->counter = seq;
	c->inner_len = aadlen;
	aead_request_set_crypt(req, sg, sg,
			       skb->len - aadlen - NTM_ESP_IV_LEN, iv);
	aead_request_set_ad(req, aadlen + NTM_ESP_IV_LEN);
	ntm_decrypt_submit(c, req, sk, &src, ntm_esp_decrypt_finish);
	return 0;

drop:
	ntm_tunnel_count(t, stat);
	ntm_tunnel_put(t);
drop_nocount:
	dev_core_stats_rx_dropped_inc(nd->dev);
	kfree_skb_reason(skb, ntm_drop_reason(stat));
	return 0;
}
