// SPDX-License-Identifier: GPL-2.0
#include "ossl.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>

#include <openssl/err.h>

#include "ntm/error.hpp"
#include "ntm/secret.hpp"

namespace ntm::ossl {

void failed(const std::string &what)
{
	ERR_clear_error();
	throw Error("OpenSSL: " + what + " failed");
}

int int_len(std::size_t n)
{
	if (n > static_cast<std::size_t>(INT_MAX))
		throw std::invalid_argument("input too long for OpenSSL");
	return static_cast<int>(n);
}

namespace {

/*
 * OpenSSL 3 looks up a provider's implementation on every init with a
 * legacy EVP_CIPHER such as EVP_chacha20_poly1305() (an implicit fetch:
 * a name lookup under a lock, about a third of a signalling datagram's
 * AEAD cost at the DC).  The AEADs used here are fetched once; a cipher
 * that is not among them, or that the providers cannot give, is used as
 * passed.
 */
const EVP_CIPHER *fetched(const EVP_CIPHER *cipher)
{
	struct Entry {
		int nid;
		Ptr<EVP_CIPHER> impl;
	};
	static const std::array<Entry, 4> table = [] {
		const auto fetch = [](int nid, const char *name) {
			return Entry{nid, Ptr<EVP_CIPHER>(EVP_CIPHER_fetch(nullptr, name, nullptr))};
		};
		std::array<Entry, 4> t{fetch(NID_chacha20_poly1305, "ChaCha20-Poly1305"),
				       fetch(NID_aes_128_gcm, "AES-128-GCM"), fetch(NID_aes_192_gcm, "AES-192-GCM"),
				       fetch(NID_aes_256_gcm, "AES-256-GCM")};
		ERR_clear_error(); /* a provider without one of them is not an error here */
		return t;
	}();
	const int nid = EVP_CIPHER_get_nid(cipher);
	for (const auto &e : table)
		if (e.nid == nid && e.impl)
			return e.impl.get();
	return cipher;
}

Ptr<EVP_CIPHER_CTX> aead_init(const EVP_CIPHER *cipher, std::span<const std::uint8_t> key,
			      std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad, bool enc)
{
	Ptr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
	if (!ctx)
		failed("EVP_CIPHER_CTX_new");
	const int e = enc ? 1 : 0;
	if (EVP_CipherInit_ex(ctx.get(), fetched(cipher), nullptr, nullptr, nullptr, e) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, int_len(nonce.size()), nullptr) != 1 ||
	    EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data(), e) != 1)
		failed("AEAD setup");
	int outl = 0;
	if (!aad.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &outl, aad.data(), int_len(aad.size())) != 1)
		failed("AEAD associated data");
	return ctx;
}

} // namespace

void aead_seal_into(const EVP_CIPHER *cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext,
		    std::span<std::uint8_t> out)
{
	if (out.size() != plaintext.size() + kAeadTagLen)
		throw std::invalid_argument("AEAD output buffer of the wrong size");
	const auto ctx = aead_init(cipher, key, nonce, aad, true);
	int outl = 0;
	if (!plaintext.empty() &&
	    (EVP_CipherUpdate(ctx.get(), out.data(), &outl, plaintext.data(), int_len(plaintext.size())) != 1 ||
	     static_cast<std::size_t>(outl) != plaintext.size()))
		failed("AEAD encryption");
	std::array<std::uint8_t, 16> scratch{};
	int finl = 0;
	auto tag = out.subspan(plaintext.size(), kAeadTagLen);
	if (EVP_CipherFinal_ex(ctx.get(), scratch.data(), &finl) != 1 || finl != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagLen), tag.data()) != 1)
		failed("AEAD tag");
}

bool aead_open_into(const EVP_CIPHER *cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> input, std::span<std::uint8_t> out)
{
	if (input.size() < kAeadTagLen || out.size() != input.size() - kAeadTagLen)
		throw std::invalid_argument("AEAD output buffer of the wrong size");
	const std::size_t ctlen = out.size();
	const auto ctx = aead_init(cipher, key, nonce, aad, false);
	std::array<std::uint8_t, kAeadTagLen> tag{};
	const auto in_tag = input.subspan(ctlen);
	std::copy(in_tag.begin(), in_tag.end(), tag.begin());
	if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagLen), tag.data()) != 1)
		failed("AEAD tag");
	int outl = 0;
	if (ctlen > 0 && (EVP_CipherUpdate(ctx.get(), out.data(), &outl, input.data(), int_len(ctlen)) != 1 ||
			  static_cast<std::size_t>(outl) != ctlen))
		failed("AEAD decryption");
	std::array<std::uint8_t, 16> scratch{};
	int finl = 0;
	if (EVP_CipherFinal_ex(ctx.get(), scratch.data(), &finl) != 1) {
		ERR_clear_error();
		secure_wipe(out.data(), out.size());
		return false;
	}
	return true;
}

} // namespace ntm::ossl
