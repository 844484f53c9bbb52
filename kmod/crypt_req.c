// SPDX-License-Identifier: GPL-2.0
/*
 * crypt_req.c - one packet's AEAD request, shared by the NTM data path
 * (ntm_encap.c) and ESP (esp.c).
 *
 * struct ntm_crypt carries what the second half of a sealing or opening
 * needs when the crypto API may complete it asynchronously (references on
 * the tunnel, the device and, on transmit, the route and socket), with the
 * nonce, the aead_request and the scatterlist in the same allocation.
 * Library tunnels (D106) need none of it in softirq context: they take
 * this CPU's scatterlist from ntm_sg_get() and finish before returning
 * (D110).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include "ntm.h"

/*
 * A scatterlist of NTM_SG_MAX entries per CPU, for the synchronous library
 * path: receive refuses datagrams that need more (ntm_rx_prepare()),
 * transmit takes the allocating path for them.
 */
#define NTM_SG_MAX	(MAX_SKB_FRAGS + 8)

struct ntm_sg_buf {
	struct scatterlist sg[NTM_SG_MAX];
};

static struct ntm_sg_buf __percpu *ntm_sg_bufs;

static bool lib_inline = true;
module_param(lib_inline, bool, 0644);
MODULE_PARM_DESC(lib_inline,
		 "seal and open packets of ChaCha20-Poly1305 library tunnels in the caller's context on a per-CPU scatterlist (N: through a per-packet allocation, the path of hard IRQ and netpoll context; for tests)");

int __init ntm_crypt_req_init(void)
{
	ntm_sg_bufs = alloc_percpu(struct ntm_sg_buf);
	return ntm_sg_bufs ? 0 : -ENOMEM;
}

void ntm_crypt_req_exit(void)
{
	free_percpu(ntm_sg_bufs);
}

/*
 * This CPU's scatterlist, initialised for @nfrags entries, or NULL when it
 * may not be used here.  It is in use from here until the library returns,
 * never across a send or a delivery.  With BH disabled nothing else on
 * this CPU runs the data path in that window but a hard IRQ, an NMI or
 * netpoll (which transmits with IRQs disabled, from any context): those
 * get NULL, as does a caller without BH disabled, and allocate instead
 * (as every caller does while the parameter lib_inline is off).
 */
struct scatterlist *ntm_sg_get(int nfrags)
{
	struct scatterlist *sg;

	if (unlikely(nfrags > NTM_SG_MAX || !in_softirq() || in_hardirq() ||
		     in_nmi() || irqs_disabled() || !READ_ONCE(lib_inline)))
		return NULL;
	sg = this_cpu_ptr(ntm_sg_bufs)->sg;
	sg_init_table(sg, nfrags);
	return sg;
}

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

void ntm_nonce(u8 *iv, const u8 *salt, u64 counter)
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
int ntm_crypt_setup(struct ntm_crypt *c, struct ntm_tunnel *t,
		    struct sk_buff *skb, struct aead_request *req,
		    struct scatterlist *sg, int nfrags, u8 *iv, const u8 *salt,
		    u64 counter, unsigned int cryptlen,
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
