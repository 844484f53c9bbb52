// SPDX-License-Identifier: GPL-2.0
/*
 * OpenSSL plumbing shared by libntm's sources (not installed, not part of
 * the API): owning handles, the error helper, and the AEAD used by the
 * signalling envelope (ChaCha20-Poly1305) and IKE's Encrypted payload
 * (AES-GCM, ChaCha20-Poly1305), all with a 16-byte tag.
 */
#ifndef NTM_LIB_OSSL_HPP
#define NTM_LIB_OSSL_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

namespace ntm::ossl {

struct Free {
	void operator()(EVP_CIPHER *p) const noexcept { EVP_CIPHER_free(p); }
	void operator()(EVP_CIPHER_CTX *p) const noexcept { EVP_CIPHER_CTX_free(p); }
	void operator()(EVP_KDF *p) const noexcept { EVP_KDF_free(p); }
	void operator()(EVP_KDF_CTX *p) const noexcept { EVP_KDF_CTX_free(p); }
	void operator()(EVP_MAC_CTX *p) const noexcept { EVP_MAC_CTX_free(p); }
	void operator()(EVP_MD_CTX *p) const noexcept { EVP_MD_CTX_free(p); }
	void operator()(EVP_PKEY *p) const noexcept { EVP_PKEY_free(p); }
	void operator()(EVP_PKEY_CTX *p) const noexcept { EVP_PKEY_CTX_free(p); }
	void operator()(BIGNUM *p) const noexcept { BN_clear_free(p); }
	void operator()(BN_CTX *p) const noexcept { BN_CTX_free(p); }
	void operator()(EC_GROUP *p) const noexcept { EC_GROUP_free(p); }
	void operator()(EC_POINT *p) const noexcept { EC_POINT_free(p); }
	void operator()(OSSL_PARAM_BLD *p) const noexcept { OSSL_PARAM_BLD_free(p); }
	void operator()(OSSL_PARAM *p) const noexcept { OSSL_PARAM_free(p); }
};
template <class T> using Ptr = std::unique_ptr<T, Free>;

/** Clears OpenSSL's error queue and throws ntm::Error("OpenSSL: <what> failed"). */
[[noreturn]] void failed(const std::string &what);

/** n as an int for OpenSSL's length parameters; std::invalid_argument beyond INT_MAX. */
int int_len(std::size_t n);

inline constexpr std::size_t kAeadTagLen = 16;

/**
 * AEAD encryption with cipher (an EVP AEAD with a 16-byte tag) and a nonce
 * of any length the cipher accepts; out must hold exactly
 * plaintext.size() + kAeadTagLen bytes: the ciphertext, then the tag.
 */
void aead_seal_into(const EVP_CIPHER *cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext,
		    std::span<std::uint8_t> out);

/**
 * The inverse: input is ciphertext | tag (at least kAeadTagLen bytes), out
 * exactly input.size() - kAeadTagLen bytes. False (and out wiped) when the
 * tag does not verify.
 */
bool aead_open_into(const EVP_CIPHER *cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> input, std::span<std::uint8_t> out);

} // namespace ntm::ossl

#endif
