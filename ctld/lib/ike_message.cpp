// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 messages (RFC 7296 section 3.1): the IKE header, plain messages, and
 * the AEAD Encrypted payload (RFC 5282 sections 3-5 for AES-GCM, RFC 7634
 * for ChaCha20-Poly1305). The payloads inside are ike_payload.cpp's.
 */
#include "ntm/ike.hpp"

/*
 * GCC 12 at -O3 (CMAKE_BUILD_TYPE=Release) reports std::string and
 * std::vector internals here as overlapping or out-of-bounds copies (the
 * GCC PR 105329/105651 family of false positives); -O2 builds are clean.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <openssl/evp.h>

#include "ike_wire.hpp"
#include "ntm/error.hpp"
#include "ossl.hpp"

namespace ntm::ike {

using namespace detail; /* the codec's shared internals (ike_wire.hpp) */

namespace {

constexpr std::size_t kSkMinLen = kGenericLen + kSkIvLen + 1 + kSkIcvLen;
constexpr std::size_t kSaltLen = 4;
constexpr std::size_t kNonceLen = kSaltLen + kSkIvLen;

void put_header(Bytes &out, const Header &h)
{
	put64(out, h.spi_i);
	put64(out, h.spi_r);
	put8(out, static_cast<std::uint8_t>(h.next));
	put8(out, static_cast<std::uint8_t>((h.major << 4) | (h.minor & 0x0f)));
	put8(out, static_cast<std::uint8_t>(h.exchange));
	put8(out, h.flags);
	put32(out, h.msgid);
	put32(out, h.length);
}

void check_header_for_encoding(const Header &h)
{
	if (h.major != 2 || h.minor > 0x0f)
		bad_arg("version is not 2.x");
}

/* ---- AEAD ---- */

const EVP_CIPHER *sk_cipher(const SkKey &key)
{
	const std::size_t n = key.key.size();
	switch (key.encr) {
	case Encr::aes_gcm_16:
		if (n == 16 + kSaltLen)
			return EVP_aes_128_gcm();
		if (n == 24 + kSaltLen)
			return EVP_aes_192_gcm();
		if (n == 32 + kSaltLen)
			return EVP_aes_256_gcm();
		break;
	case Encr::chacha20_poly1305:
		if (n == 32 + kSaltLen)
			return EVP_chacha20_poly1305();
		break;
	}
	throw std::invalid_argument("SK key of the wrong size for its transform");
}

static_assert(kSkIcvLen == ossl::kAeadTagLen);

/* RFC 5282 section 4 / RFC 7634 section 2: salt (the key's last 4 bytes) | IV */
std::array<std::uint8_t, kNonceLen> sk_nonce(const SkKey &key, ByteView iv)
{
	if (iv.size() != kSkIvLen)
		throw std::invalid_argument("SK IV is not 8 bytes");
	std::array<std::uint8_t, kNonceLen> nonce{};
	const auto salt = key.key.span().last(kSaltLen);
	std::copy(salt.begin(), salt.end(), nonce.begin());
	std::copy(iv.begin(), iv.end(), nonce.begin() + kSaltLen);
	return nonce;
}

ByteView sk_key_bytes(const SkKey &key)
{
	return key.key.span().first(key.key.size() - kSaltLen);
}

} // namespace

/* ---- messages ---- */

Header parse_header(ByteView msg)
{
	if (msg.size() < kHeaderLen)
		syntax("IKE header truncated");
	Reader r(msg, "IKE header");
	Header h;
	h.spi_i = r.u64();
	h.spi_r = r.u64();
	h.next = static_cast<PayloadType>(r.u8());
	const std::uint8_t version = r.u8();
	h.major = static_cast<std::uint8_t>(version >> 4);
	h.minor = static_cast<std::uint8_t>(version & 0x0f);
	h.exchange = static_cast<Exchange>(r.u8());
	h.flags = r.u8();
	h.msgid = r.u32();
	h.length = r.u32();
	if (h.major != 2)
		throw ParseError(NotifyType::invalid_major_version,
				 "IKE major version " + std::to_string(static_cast<unsigned>(h.major)));
	if (h.length != msg.size())
		syntax("IKE header length " + std::to_string(h.length) + " does not match the message size " +
		       std::to_string(msg.size()));
	if (h.length > kMaxMessage)
		syntax("IKE message too long");
	return h;
}

Payloads parse_plain(ByteView msg, Header &hdr_out)
{
	hdr_out = parse_header(msg);
	return parse_payloads(hdr_out.next, msg.subspan(kHeaderLen));
}

Bytes encode_plain(Header hdr, const Payloads &p)
{
	check_header_for_encoding(hdr);
	PayloadType first = PayloadType::none;
	const Bytes chain = encode_chain(p, first);
	if (kHeaderLen + chain.size() > kMaxMessage)
		bad_arg("message over 65535 bytes");
	hdr.next = first;
	hdr.length = static_cast<std::uint32_t>(kHeaderLen + chain.size());
	Bytes out;
	out.reserve(hdr.length);
	put_header(out, hdr);
	put_bytes(out, chain);
	return out;
}

Bytes sk_seal(const SkKey &key, ByteView iv, ByteView aad, ByteView plaintext)
{
	const EVP_CIPHER *cipher = sk_cipher(key);
	Bytes out(plaintext.size() + kSkIcvLen);
	ossl::aead_seal_into(cipher, sk_key_bytes(key), sk_nonce(key, iv), aad, plaintext, out);
	return out;
}

std::optional<SecretBytes> sk_open(const SkKey &key, ByteView iv, ByteView aad, ByteView ciphertext_with_icv)
{
	const EVP_CIPHER *cipher = sk_cipher(key);
	if (ciphertext_with_icv.size() < kSkIcvLen)
		return std::nullopt;
	SecretBytes out(ciphertext_with_icv.size() - kSkIcvLen);
	if (!ossl::aead_open_into(cipher, sk_key_bytes(key), sk_nonce(key, iv), aad, ciphertext_with_icv, out.span()))
		return std::nullopt;
	return out;
}

Bytes encode_encrypted(Header hdr, const Payloads &p, const SkKey &key, std::uint64_t iv_counter)
{
	check_header_for_encoding(hdr);
	(void)sk_cipher(key);
	PayloadType first = PayloadType::none;
	Bytes plain = encode_chain(p, first);
	plain.push_back(0); /* Pad Length: no padding (RFC 5282 section 3) */
	const std::size_t sk_len = kGenericLen + kSkIvLen + plain.size() + kSkIcvLen;
	if (sk_len > kMaxPayloadLen || kHeaderLen + sk_len > kMaxMessage)
		bad_arg("message over 65535 bytes");
	hdr.next = PayloadType::sk;
	hdr.length = static_cast<std::uint32_t>(kHeaderLen + sk_len);
	Bytes out;
	out.reserve(hdr.length);
	put_header(out, hdr);
	put8(out, static_cast<std::uint8_t>(first));
	put8(out, 0);
	put16(out, static_cast<std::uint16_t>(sk_len));
	const std::size_t aad_len = out.size();
	put64(out, iv_counter);
	const ByteView iv(out.data() + aad_len, kSkIvLen);
	const Bytes sealed = sk_seal(key, iv, ByteView(out.data(), aad_len), plain);
	put_bytes(out, sealed);
	return out;
}

Payloads parse_encrypted(ByteView msg, const SkKey &key, Header &hdr_out)
{
	(void)sk_cipher(key);
	hdr_out = parse_header(msg);
	if (hdr_out.next != PayloadType::sk)
		syntax("first payload is not SK");
	/* Until the ICV is verified nothing is known to come from the peer:
	 * structural errors of the SK payload drop the message silently. */
	const ByteView rest = msg.subspan(kHeaderLen);
	if (rest.size() < kSkMinLen)
		throw ParseError(std::nullopt, "SK payload truncated");
	const auto inner_first = static_cast<PayloadType>(rest[0]);
	const auto sk_len = static_cast<std::size_t>((rest[2] << 8) | rest[3]);
	if (sk_len != rest.size())
		throw ParseError(std::nullopt, "SK payload is not the last payload or its length is wrong");
	const ByteView aad = msg.first(kHeaderLen + kGenericLen);
	const ByteView iv = rest.subspan(kGenericLen, kSkIvLen);
	const ByteView sealed = rest.subspan(kGenericLen + kSkIvLen);
	const auto plain = sk_open(key, iv, aad, sealed);
	if (!plain)
		throw ParseError(std::nullopt, "SK integrity check failed");
	const ByteView pt = plain->span();
	const std::size_t pad = pt.back();
	if (pad + 1 > pt.size())
		syntax("SK pad length past the plaintext");
	return parse_payloads(inner_first, pt.first(pt.size() - 1 - pad));
}

} // namespace ntm::ike
