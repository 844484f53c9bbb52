// SPDX-License-Identifier: GPL-2.0
/*
 * chachapoly.c - ChaCha20-Poly1305 (RFC 8439 section 2.8) in place over a
 * scatterlist, on the kernel's ChaCha20 and Poly1305 libraries (D106).
 *
 * An NTM tunnel sealed this way keeps only its 32-byte key: no crypto API
 * transform (about 350 B per tunnel), no request to set up per packet.
 * The library's own chacha20poly1305_*_sg_inplace() cannot be used: it
 * fixes the first 32 bits of the nonce to zero, and the NTM nonce starts
 * with the direction's salt.  The SIMD drivers behind chacha_crypt() and
 * poly1305_update() take and release the FPU themselves, and fall back to
 * the generic code where the FPU is not usable, so this runs in any
 * context but hard IRQ.
 *
 * The result is the same as the crypto API's rfc7539(chacha20,poly1305):
 * ntm_chachapoly_selftest() checks the RFC's test vector at module load,
 * split over scatterlists in several ways, and the ntm_crypto selftest
 * runs tunnels with this code on one end and the crypto API on the other.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <crypto/chacha.h>
#include <crypto/poly1305.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <asm/unaligned.h>
#include "ntm.h"

#define NTM_CHACHA_ROUNDS	20
#define NTM_CHACHA_KEY_WORDS	(CHACHA_KEY_SIZE / sizeof(u32))

struct ntm_cp {
	u32 chacha[CHACHA_STATE_WORDS];
	struct poly1305_desc_ctx poly;
	/* keystream of a block that straddles two scatterlist segments */
	u8 stream[CHACHA_BLOCK_SIZE];
	unsigned int left;	/* its unused bytes, at its end */
};

static const u8 ntm_cp_zero[POLY1305_BLOCK_SIZE];

/* Pad what Poly1305 has seen of a part (AD, ciphertext) of @len bytes. */
static void ntm_cp_pad(struct ntm_cp *s, unsigned int len)
{
	unsigned int pad = -len & (POLY1305_BLOCK_SIZE - 1);

	if (pad)
		poly1305_update(&s->poly, ntm_cp_zero, pad);
}

/*
 * XOR the next @len bytes of keystream into @p.  ChaCha20 advances its
 * block counter per 64-byte block, so a block cut by a segment boundary
 * is generated into @s->stream and used up across the boundary; the last
 * piece of the message (@last) needs no such care.
 */
static void ntm_cp_xor(struct ntm_cp *s, u8 *p, unsigned int len, bool last)
{
	unsigned int n;

	if (s->left) {
		n = min(len, s->left);
		crypto_xor(p, s->stream + CHACHA_BLOCK_SIZE - s->left, n);
		s->left -= n;
		p += n;
		len -= n;
	}
	n = last ? len : round_down(len, CHACHA_BLOCK_SIZE);
	if (n) {
		chacha_crypt(s->chacha, p, p, n, NTM_CHACHA_ROUNDS);
		p += n;
		len -= n;
	}
	if (len) {
		memset(s->stream, 0, sizeof(s->stream));
		chacha_crypt(s->chacha, s->stream, s->stream, CHACHA_BLOCK_SIZE,
			     NTM_CHACHA_ROUNDS);
		crypto_xor(p, s->stream, len);
		s->left = CHACHA_BLOCK_SIZE - len;
	}
}

/**
 * ntm_chachapoly_crypt - seal or open a message in place
 * @sg: the message: @adlen bytes of AD, @cryptlen of text, then the tag
 * @adlen: bytes of associated data at the start
 * @cryptlen: bytes to encrypt or decrypt after the AD
 * @key: 32-byte key
 * @nonce: 12-byte nonce
 * @encrypt: seal (write the tag) or open (check it)
 *
 * Return: 0; -EBADMSG when opening finds a wrong tag (the text is then
 * garbage and must be dropped); -EINVAL when @sg is shorter than the
 * message and its tag (nothing can be trusted then either).
 */
int ntm_chachapoly_crypt(struct scatterlist *sg, unsigned int adlen,
			 unsigned int cryptlen, const u8 *key, const u8 *nonce,
			 bool encrypt)
{
	const unsigned int end = adlen + cryptlen;
	const unsigned int total = end + POLY1305_DIGEST_SIZE;
	u8 tag[2][POLY1305_DIGEST_SIZE];
	u32 k[NTM_CHACHA_KEY_WORDS];
	struct sg_mapping_iter miter;
	bool ad_done = false, sealed = false;
	u8 iv[CHACHA_IV_SIZE];
	unsigned int pos = 0;
	struct ntm_cp s;
	int i, ret = 0;

	for (i = 0; i < NTM_CHACHA_KEY_WORDS; i++)
		k[i] = get_unaligned_le32(key + i * sizeof(u32));
	/* block counter 0, then the 96-bit nonce */
	memset(iv, 0, sizeof(__le32));
	memcpy(iv + sizeof(__le32), nonce, NTM_NONCE_LEN);
	chacha_init(s.chacha, k, iv);
	memzero_explicit(k, sizeof(k));

	/* block 0 keys Poly1305; the text starts at block 1 */
	memset(s.stream, 0, sizeof(s.stream));
	chacha_crypt(s.chacha, s.stream, s.stream, CHACHA_BLOCK_SIZE,
		     NTM_CHACHA_ROUNDS);
	poly1305_init(&s.poly, s.stream);
	s.left = 0;

	/* one walk: AD, text, then the tag (written or read) */
	sg_miter_start(&miter, sg, sg_nents(sg),
		       SG_MITER_ATOMIC | SG_MITER_TO_SG | SG_MITER_FROM_SG);
	while (pos < total && sg_miter_next(&miter)) {
		unsigned int n, len = min_t(size_t, miter.length, total - pos);
		u8 *p = miter.addr;

		if (pos < adlen) {
			n = min(len, adlen - pos);
			poly1305_update(&s.poly, p, n);
			p += n;
			len -= n;
			pos += n;
		}
		if (!ad_done && pos == adlen) {
			ntm_cp_pad(&s, adlen);
			ad_done = true;
		}
		if (pos < end && len) {
			n = min(len, end - pos);
			if (!encrypt)
				poly1305_update(&s.poly, p, n);
			ntm_cp_xor(&s, p, n, pos + n == end);
			if (encrypt)
				poly1305_update(&s.poly, p, n);
			p += n;
			len -= n;
			pos += n;
		}
		if (!sealed && pos == end) {
			__le64 lens[2] = { cpu_to_le64(adlen),
					   cpu_to_le64(cryptlen) };

			ntm_cp_pad(&s, cryptlen);
			poly1305_update(&s.poly, (const u8 *)lens, sizeof(lens));
			poly1305_final(&s.poly, tag[0]);
			sealed = true;
		}
		if (len) {	/* within the tag */
			if (encrypt)
				memcpy(p, tag[0] + pos - end, len);
			else
				memcpy(tag[1] + pos - end, p, len);
			pos += len;
		}
	}
	sg_miter_stop(&miter);

	if (unlikely(pos < total))
		ret = -EINVAL;		/* the scatterlist is too short */
	else if (!encrypt &&
		 crypto_memneq(tag[0], tag[1], POLY1305_DIGEST_SIZE))
		ret = -EBADMSG;
	memzero_explicit(&s, sizeof(s));
	memzero_explicit(tag, sizeof(tag));
	return ret;
}

/* ---- known-answer test at load ------------------------------------------ */

/* RFC 8439 section 2.8.2: 12 bytes of AD, 114 of text, the tag */
static const u8 ntm_kat_key[CHACHA_KEY_SIZE] = {
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
	0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
};

static const u8 ntm_kat_nonce[NTM_NONCE_LEN] = {
	0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43,
	0x44, 0x45, 0x46, 0x47,
};

static const u8 ntm_kat_ad[12] = {
	0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3,
	0xc4, 0xc5, 0xc6, 0xc7,
};

/* the RFC's text, in two parts that fit a line */
static const char ntm_kat_text1[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you ";
static const char ntm_kat_text2[] =
	"only one tip for the future, sunscreen would be it.";

#define NTM_KAT_TEXT1_LEN	(sizeof(ntm_kat_text1) - 1)
#define NTM_KAT_TEXT_LEN	(NTM_KAT_TEXT1_LEN + sizeof(ntm_kat_text2) - 1)
#define NTM_KAT_LEN		(sizeof(ntm_kat_ad) + NTM_KAT_TEXT_LEN + \
				 POLY1305_DIGEST_SIZE)

static const u8 ntm_kat_sealed[NTM_KAT_TEXT_LEN + POLY1305_DIGEST_SIZE] = {
	0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb,
	0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2,
	0xa4, 0xad, 0xed, 0x51, 0x29, 0x6e, 0x08, 0xfe,
	0xa9, 0xe2, 0xb5, 0xa7, 0x36, 0xee, 0x62, 0xd6,
	0x3d, 0xbe, 0xa4, 0x5e, 0x8c, 0xa9, 0x67, 0x12,
	0x82, 0xfa, 0xfb, 0x69, 0xda, 0x92, 0x72, 0x8b,
	0x1a, 0x71, 0xde, 0x0a, 0x9e, 0x06, 0x0b, 0x29,
	0x05, 0xd6, 0xa5, 0xb6, 0x7e, 0xcd, 0x3b, 0x36,
	0x92, 0xdd, 0xbd, 0x7f, 0x2d, 0x77, 0x8b, 0x8c,
	0x98, 0x03, 0xae, 0xe3, 0x28, 0x09, 0x1b, 0x58,
	0xfa, 0xb3, 0x24, 0xe4, 0xfa, 0xd6, 0x75, 0x94,
	0x55, 0x85, 0x80, 0x8b, 0x48, 0x31, 0xd7, 0xbc,
	0x3f, 0xf4, 0xde, 0xf0, 0x8e, 0x4b, 0x7a, 0x9d,
	0xe5, 0x76, 0xd2, 0x65, 0x86, 0xce, 0xc6, 0x4b,
	0x61, 0x16,
	/* tag */
	0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
	0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91,
};

/*
 * Segment lengths the vector is cut into (0 ends a layout; the rest of
 * the message is the last segment): inside and at the end of the AD,
 * blocks cut once and twice, one-byte segments, a segment ending in the
 * tag.
 */
static const u8 ntm_kat_cuts[][8] = {
	{ 0 },
	{ 12, 0 },
	{ 5, 7, 64, 0 },
	{ 13, 1, 1, 60, 3, 0 },
	{ 12, 63, 2, 40, 0 },
	{ 3, 20, 50, 33, 11, 3, 0 },
	{ 126, 7, 0 },
};

/* Run the vector sealed and opened in layout @cuts; 0 when both match. */
static int ntm_kat_one(u8 *buf, const u8 *cuts)
{
	struct scatterlist sg[ARRAY_SIZE(ntm_kat_cuts[0]) + 1];
	const unsigned int adlen = sizeof(ntm_kat_ad);
	unsigned int off = 0, n = 0;
	int err;

	memcpy(buf, ntm_kat_ad, adlen);
	memcpy(buf + adlen, ntm_kat_text1, NTM_KAT_TEXT1_LEN);
	memcpy(buf + adlen + NTM_KAT_TEXT1_LEN, ntm_kat_text2,
	       NTM_KAT_TEXT_LEN - NTM_KAT_TEXT1_LEN);
	memset(buf + adlen + NTM_KAT_TEXT_LEN, 0, POLY1305_DIGEST_SIZE);

	sg_init_table(sg, ARRAY_SIZE(sg));
	for (; n < ARRAY_SIZE(ntm_kat_cuts[0]) && cuts[n]; n++) {
		sg_set_buf(&sg[n], buf + off, cuts[n]);
		off += cuts[n];
	}
	sg_set_buf(&sg[n], buf + off, NTM_KAT_LEN - off);
	sg_mark_end(&sg[n]);

	err = ntm_chachapoly_crypt(sg, adlen, NTM_KAT_TEXT_LEN, ntm_kat_key,
				   ntm_kat_nonce, true);
	if (err || memcmp(buf + adlen, ntm_kat_sealed, sizeof(ntm_kat_sealed)))
		return -EINVAL;
	err = ntm_chachapoly_crypt(sg, adlen, NTM_KAT_TEXT_LEN, ntm_kat_key,
				   ntm_kat_nonce, false);
	if (err || memcmp(buf + adlen, ntm_kat_text1, NTM_KAT_TEXT1_LEN) ||
	    memcmp(buf + adlen + NTM_KAT_TEXT1_LEN, ntm_kat_text2,
		   NTM_KAT_TEXT_LEN - NTM_KAT_TEXT1_LEN))
		return -EINVAL;
	/* one flipped bit anywhere in the AD, text or tag must be refused */
	buf[off] ^= 0x20;
	err = ntm_chachapoly_crypt(sg, adlen, NTM_KAT_TEXT_LEN, ntm_kat_key,
				   ntm_kat_nonce, false);
	return err == -EBADMSG ? 0 : -EINVAL;
}

/*
 * An NTM keepalive: the 16-byte data header as AD and no text.  Key as
 * above, salt a1b2c3d4, counter 5, receiver index 42.
 */
static int ntm_kat_empty(u8 *buf)
{
	static const u8 hdr[NTM_DATA_HDR_LEN] = {
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
	};
	static const u8 nonce[NTM_NONCE_LEN] = {
		0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x05,
	};
	static const u8 tag[POLY1305_DIGEST_SIZE] = {
		0x5e, 0xb3, 0x1f, 0xe3, 0x80, 0x66, 0xca, 0x71,
		0xba, 0xe6, 0xef, 0xb8, 0xef, 0xc2, 0xb8, 0x15,
	};
	struct scatterlist sg;
	int err;

	memcpy(buf, hdr, sizeof(hdr));
	sg_init_one(&sg, buf, sizeof(hdr) + sizeof(tag));
	err = ntm_chachapoly_crypt(&sg, sizeof(hdr), 0, ntm_kat_key, nonce,
				   true);
	if (err || memcmp(buf + sizeof(hdr), tag, sizeof(tag)))
		return -EINVAL;
	return ntm_chachapoly_crypt(&sg, sizeof(hdr), 0, ntm_kat_key, nonce,
				    false);
}

int ntm_chachapoly_selftest(void)
{
	unsigned int i;
	int err = 0;
	u8 *buf;

	/* heap, not stack: a scatterlist cannot map a vmalloc'ed stack */
	buf = kmalloc(NTM_KAT_LEN, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(ntm_kat_cuts) && !err; i++) {
		err = ntm_kat_one(buf, ntm_kat_cuts[i]);
		if (err)
			pr_err("ChaCha20-Poly1305 self-test failed (layout %u)\n",
			       i);
	}
	if (!err) {
		err = ntm_kat_empty(buf);
		if (err)
			pr_err("ChaCha20-Poly1305 self-test failed (keepalive)\n");
	}
	kfree(buf);
	return err;
}
