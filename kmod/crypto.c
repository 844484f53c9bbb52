// SPDX-License-Identifier: GPL-2.0
/*
 * crypto.c - AEAD transforms for NTM tunnels through the kernel crypto API.
 *
 * ChaCha20-Poly1305 NTM tunnels use chachapoly.c instead unless told
 * otherwise (ntm_crypto_use_lib()).  Otherwise one transform per tunnel:
 * both directions share the key (K_mncn) and are kept apart by their
 * 4-byte salts, which form the first part of the nonce.
 * The algorithm names are the generic templates, so the crypto API picks
 * the fastest registered implementation, synchronous (AES-NI, AVX2) or
 * asynchronous (cryptd fallback, hardware engines); the data path copes
 * with both.
 *
 * ESP SAs use the IPsec forms instead, one transform per direction: the
 * key is followed by the SA's 4-byte salt, the 8-byte explicit IV travels
 * after the ESP header and the AAD is the header itself (RFC 4106, 7634).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/delay.h>
#include "ntm.h"

static bool force_async;
module_param(force_async, bool, 0444);
MODULE_PARM_DESC(force_async,
		 "wrap every AEAD in cryptd so all requests complete asynchronously (tests the callback path)");

static bool chacha_api;
module_param(chacha_api, bool, 0644);
MODULE_PARM_DESC(chacha_api,
		 "seal ChaCha20-Poly1305 NTM tunnels created from now on through the crypto API (offload engines) instead of the ChaCha20/Poly1305 library");

static const char *const ntm_aead_names[__NTM_CIPHER_MAX] = {
	[NTM_CIPHER_AES_GCM] = "gcm(aes)",
	[NTM_CIPHER_CHACHA20_POLY1305] = "rfc7539(chacha20,poly1305)",
};

/*
 * cryptd only wraps synchronous algorithms; "gcm(aes)" usually resolves to
 * an asynchronous SIMD wrapper and the SIMD ChaCha/Poly1305 drivers would
 * not nest either, so the test mode names generic synchronous drivers.
 */
static const char *const ntm_async_names[__NTM_CIPHER_MAX] = {
	[NTM_CIPHER_AES_GCM] =
		"cryptd(gcm_base(ctr(aes-generic),ghash-generic))",
	[NTM_CIPHER_CHACHA20_POLY1305] =
		"cryptd(rfc7539(chacha20-generic,poly1305-generic))",
};

static const char *const ntm_esp_names[__NTM_CIPHER_MAX] = {
	[NTM_CIPHER_AES_GCM] = "rfc4106(gcm(aes))",
	[NTM_CIPHER_CHACHA20_POLY1305] = "rfc7539esp(chacha20,poly1305)",
};

static const char *const ntm_esp_async_names[__NTM_CIPHER_MAX] = {
	[NTM_CIPHER_AES_GCM] =
		"cryptd(rfc4106(gcm_base(ctr(aes-generic),ghash-generic)))",
	[NTM_CIPHER_CHACHA20_POLY1305] =
		"cryptd(rfc7539esp(chacha20-generic,poly1305-generic))",
};

/*
 * The first transform of an algorithm makes the crypto manager build the
 * template instance and run its self-tests: seconds under emulation, on
 * the NEW_TUNNEL that happens to come first.  At load, a work item
 * allocates (and frees) one of each kind the module uses, so the instances
 * are registered and tested before a tunnel needs them; they stay
 * registered after the free.
 */
static void ntm_crypto_warm_fn(struct work_struct *work)
{
	static const char *const names[] = {
		"gcm(aes)", "rfc4106(gcm(aes))", "rfc7539(chacha20,poly1305)",
		"rfc7539esp(chacha20,poly1305)",
	};
	struct crypto_aead *aead;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		aead = crypto_alloc_aead(names[i], 0, 0);
		if (IS_ERR(aead))
			pr_debug("%s not available yet: %ld\n", names[i],
				 PTR_ERR(aead));
		else
			crypto_free_aead(aead);
	}
}

static DECLARE_WORK(ntm_crypto_warm_work, ntm_crypto_warm_fn);

/* Queued on ntm_wq, whose destruction at unload waits for it. */
void ntm_crypto_warm(void)
{
	queue_work(ntm_wq, &ntm_crypto_warm_work);
}

int ntm_crypto_check(u8 cipher, unsigned int key_len)
{
	switch (cipher) {
	case NTM_CIPHER_AES_GCM:
		return (key_len == 16 || key_len == 32) ? 0 : -EINVAL;
	case NTM_CIPHER_CHACHA20_POLY1305:
		return key_len == 32 ? 0 : -EINVAL;
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * Whether a new NTM tunnel of @cipher is sealed by chachapoly.c with its
 * key kept in the tunnel instead of by a crypto API transform (D106).  The
 * crypto API stays for AES-GCM (6.1 has no AES-GCM library; AES-NI is
 * reached only through it), for ESP, and on request (chacha_api,
 * force_async).
 */
bool ntm_crypto_use_lib(u8 cipher)
{
	return cipher == NTM_CIPHER_CHACHA20_POLY1305 && !force_async &&
	       !READ_ONCE(chacha_api);
}

/* ESP also knows AES-192 (RFC 4106 allows all three AES key sizes). */
int ntm_esp_crypto_check(u8 cipher, unsigned int key_len)
{
	switch (cipher) {
	case NTM_CIPHER_AES_GCM:
		return (key_len == 16 || key_len == 24 || key_len == 32) ?
		       0 : -EINVAL;
	case NTM_CIPHER_CHACHA20_POLY1305:
		return key_len == 32 ? 0 : -EINVAL;
	default:
		return -EOPNOTSUPP;
	}
}

static struct crypto_aead *ntm_aead_get(const char *name, const char *async)
{
	struct crypto_aead *aead;

	if (force_async) {
		int tries = 20;

		/*
		 * The first use of a nested template can report -ENOENT
		 * while the crypto manager still self-tests the new inner
		 * instance (slow under emulation): retry for up to 2 s.
		 */
		do {
			aead = crypto_alloc_aead(async, 0, 0);
			if (PTR_ERR_OR_ZERO(aead) != -ENOENT)
				break;
			msleep(100);
		} while (--tries);
		return aead;
	}
	return crypto_alloc_aead(name, 0, 0);
}

struct crypto_aead *ntm_esp_aead_alloc(u8 cipher, const u8 *key,
				       unsigned int key_len, const u8 *salt)
{
	u8 material[32 + NTM_SALT_LEN];
	struct crypto_aead *aead;
	int err;

	err = ntm_esp_crypto_check(cipher, key_len);
	if (err)
		return ERR_PTR(err);
	aead = ntm_aead_get(ntm_esp_names[cipher], ntm_esp_async_names[cipher]);
	if (IS_ERR(aead))
		return aead;

	/* setkey takes the key followed by the salt */
	memcpy(material, key, key_len);
	memcpy(material + key_len, salt, NTM_SALT_LEN);
	err = crypto_aead_setkey(aead, material, key_len + NTM_SALT_LEN);
	memzero_explicit(material, sizeof(material));
	if (!err)
		err = crypto_aead_setauthsize(aead, NTM_ESP_ICV_LEN);
	if (!err && crypto_aead_ivsize(aead) != NTM_ESP_IV_LEN)
		err = -EINVAL;
	if (err) {
		crypto_free_aead(aead);
		return ERR_PTR(err);
	}
	return aead;
}

struct crypto_aead *ntm_aead_alloc(u8 cipher, const u8 *key,
				   unsigned int key_len)
{
	struct crypto_aead *aead;
	int err;

	err = ntm_crypto_check(cipher, key_len);
	if (err)
		return ERR_PTR(err);

	if (force_async) {
		int tries = 20;

		/*
		 * The first use of a nested template can report -ENOENT
		 * while the crypto manager still self-tests the new inner
		 * instance (slow under emulation): retry for up to 2 s.
		 */
		do {
			aead = crypto_alloc_aead(ntm_async_names[cipher], 0, 0);
			if (PTR_ERR_OR_ZERO(aead) != -ENOENT)
				break;
			msleep(100);
		} while (--tries);
	} else {
		aead = crypto_alloc_aead(ntm_aead_names[cipher], 0, 0);
	}
	if (IS_ERR(aead))
		return aead;

	err = crypto_aead_setkey(aead, key, key_len);
	if (!err)
		err = crypto_aead_setauthsize(aead, NTM_AEAD_TAG_LEN);
	if (!err && crypto_aead_ivsize(aead) != NTM_NONCE_LEN)
		err = -EINVAL;
	if (err) {
		crypto_free_aead(aead);
		return ERR_PTR(err);
	}
	return aead;
}
