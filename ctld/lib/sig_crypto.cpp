// SPDX-License-Identifier: GPL-2.0
/*
 * Cryptographic primitives of the signalling and of the tunnel key exchange
 * (tunnel_kx.cpp), all OpenSSL 3: ChaCha20-Poly1305 through EVP, HKDF
 * through EVP_KDF, HMAC-SHA256, the random number generator.
 */
#include "ntm/sig.hpp"

#include <climits>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ntm/error.hpp"
#include "ossl.hpp"
#include "sig_detail.hpp"

namespace ntm::sig {

namespace {

constexpr std::size_t kHashLen = 32; /* SHA-256 */
constexpr std::size_t kMaxHkdfLen = std::size_t{255} * kHashLen;

void check_aead_args(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce)
{
	if (key.size() != kKeyLen)
		throw std::invalid_argument("ChaCha20-Poly1305 key must have " + std::to_string(kKeyLen) + " bytes");
	if (nonce.size() != kAeadNonceLen)
		throw std::invalid_argument("ChaCha20-Poly1305 nonce must have " + std::to_string(kAeadNonceLen) +
					    " bytes");
}

} // namespace

namespace detail {

/* out: exactly plaintext.size() + kTagLen bytes */
void aead_seal_into(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext,
		    std::span<std::uint8_t> out)
{
	check_aead_args(key, nonce);
	ossl::aead_seal_into(EVP_chacha20_poly1305(), key, nonce, aad, plaintext, out);
}

/* out: exactly input.size() - kTagLen bytes; wiped when false */
bool aead_open_into(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> input, std::span<std::uint8_t> out)
{
	check_aead_args(key, nonce);
	return ossl::aead_open_into(EVP_chacha20_poly1305(), key, nonce, aad, input, out);
}

} // namespace detail

using detail::aead_open_into;
using detail::aead_seal_into;
using detail::get_be32;

/* ---- crypto helpers ---- */

void random_fill(std::span<std::uint8_t> out)
{
	while (!out.empty()) {
		const std::size_t n = std::min<std::size_t>(out.size(), INT_MAX);
		if (RAND_bytes(out.data(), static_cast<int>(n)) != 1)
			throw Error("random number generator failed");
		out = out.subspan(n);
	}
}

SecretBytes random_key()
{
	SecretBytes k(kKeyLen);
	random_fill(k.span());
	return k;
}

std::uint32_t random_u32_nonzero()
{
	for (;;) {
		std::array<std::uint8_t, 4> b{};
		random_fill(b);
		const std::uint32_t v = get_be32(b);
		if (v != 0)
			return v;
	}
}

std::vector<std::uint8_t> aead_seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
				    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext)
{
	std::vector<std::uint8_t> out(plaintext.size() + kTagLen);
	aead_seal_into(key, nonce, aad, plaintext, out);
	return out;
}

std::optional<std::vector<std::uint8_t>> aead_open(std::span<const std::uint8_t> key,
						   std::span<const std::uint8_t> nonce,
						   std::span<const std::uint8_t> aad,
						   std::span<const std::uint8_t> ciphertext_with_tag)
{
	check_aead_args(key, nonce);
	if (ciphertext_with_tag.size() < kTagLen)
		return std::nullopt;
	std::vector<std::uint8_t> out(ciphertext_with_tag.size() - kTagLen);
	if (!aead_open_into(key, nonce, aad, ciphertext_with_tag, out))
		return std::nullopt;
	return out;
}

namespace {

enum class HkdfMode { both = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, extract = EVP_KDF_HKDF_MODE_EXTRACT_ONLY,
		      expand = EVP_KDF_HKDF_MODE_EXPAND_ONLY };

/* key: the IKM (both, extract) or the PRK (expand) */
SecretBytes hkdf(HkdfMode mode, std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
		 std::span<const std::uint8_t> info, std::size_t length)
{
	if (length == 0 || length > kMaxHkdfLen)
		throw std::invalid_argument("HKDF-SHA256 output must be 1.." + std::to_string(kMaxHkdfLen) + " bytes");
	if (key.empty())
		throw std::invalid_argument("HKDF-SHA256 needs input key material");
	const ossl::Ptr<EVP_KDF> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
	if (!kdf)
		ossl::failed("EVP_KDF_fetch(HKDF)");
	const ossl::Ptr<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(kdf.get()));
	if (!ctx)
		ossl::failed("EVP_KDF_CTX_new");

	std::array<char, 7> digest{"SHA256"};
	int imode = static_cast<int>(mode);
	std::array<OSSL_PARAM, 6> params{};
	std::size_t n = 0;
	/* OSSL_PARAM takes non-const pointers; OpenSSL only reads these */
	// NOLINTBEGIN(cppcoreguidelines-pro-type-const-cast)
	params.at(n++) = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
	params.at(n++) = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &imode);
	params.at(n++) = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t *>(key.data()),
							   key.size());
	if (!salt.empty())
		params.at(n++) = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t *>(salt.data()), salt.size());
	if (!info.empty())
		params.at(n++) = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t *>(info.data()), info.size());
	// NOLINTEND(cppcoreguidelines-pro-type-const-cast)
	params.at(n) = OSSL_PARAM_construct_end();

	SecretBytes out(length);
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1)
		ossl::failed("HKDF-SHA256");
	return out;
}

} // namespace

SecretBytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
			std::span<const std::uint8_t> info, std::size_t length)
{
	return hkdf(HkdfMode::both, ikm, salt, info, length);
}

SecretBytes hkdf_extract(std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm)
{
	return hkdf(HkdfMode::extract, ikm, salt, {}, kHashLen);
}

SecretBytes hkdf_expand(std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info, std::size_t length)
{
	if (prk.size() < kHashLen)
		throw std::invalid_argument("HKDF-Expand needs a PRK of at least " + std::to_string(kHashLen) + " bytes");
	return hkdf(HkdfMode::expand, prk, {}, info, length);
}

std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data)
{
	std::array<std::uint8_t, kHashLen> mac{};
	unsigned int maclen = 0;
	if (HMAC(EVP_sha256(), key.data(), ossl::int_len(key.size()), data.data(), data.size(), mac.data(),
		 &maclen) == nullptr ||
	    maclen != kHashLen)
		ossl::failed("HMAC-SHA256");
	return mac;
}

bool mac_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept
{
	return a.size() == kConfirmLen && b.size() == kConfirmLen &&
	       CRYPTO_memcmp(a.data(), b.data(), kConfirmLen) == 0;
}

} // namespace ntm::sig
