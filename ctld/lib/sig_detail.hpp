// SPDX-License-Identifier: GPL-2.0
/*
 * Internal to libntm's signalling sources (sig.cpp, sig_envelope.cpp,
 * sig_crypto.cpp), not installed: big-endian helpers and the envelope's
 * AEAD, which checks its key and nonce sizes.
 */
#ifndef NTM_LIB_SIG_DETAIL_HPP
#define NTM_LIB_SIG_DETAIL_HPP

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ntm::sig::detail {

inline void put_be16(std::vector<std::uint8_t> &out, std::uint16_t v)
{
	out.push_back(static_cast<std::uint8_t>(v >> 8));
	out.push_back(static_cast<std::uint8_t>(v));
}

inline void put_be32(std::vector<std::uint8_t> &out, std::uint32_t v)
{
	for (int shift = 24; shift >= 0; shift -= 8)
		out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put_be64(std::vector<std::uint8_t> &out, std::uint64_t v)
{
	for (int shift = 56; shift >= 0; shift -= 8)
		out.push_back(static_cast<std::uint8_t>(v >> shift));
}

/* b must hold at least the bytes read */
inline std::uint16_t get_be16(std::span<const std::uint8_t> b) noexcept
{
	return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

inline std::uint32_t get_be32(std::span<const std::uint8_t> b) noexcept
{
	std::uint32_t v = 0;
	for (std::size_t i = 0; i < 4; i++)
		v = (v << 8) | b[i];
	return v;
}

inline std::uint64_t get_be64(std::span<const std::uint8_t> b) noexcept
{
	std::uint64_t v = 0;
	for (std::size_t i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

inline std::array<std::uint8_t, 4> be32_bytes(std::uint32_t v) noexcept
{
	return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
		static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

/* ChaCha20-Poly1305 (kKeyLen key, kAeadNonceLen nonce, else std::invalid_argument).
 * Seal: out holds exactly plaintext.size() + kTagLen bytes. */
void aead_seal_into(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext,
		    std::span<std::uint8_t> out);
/* Open: out holds exactly input.size() - kTagLen bytes; wiped when false. */
bool aead_open_into(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
		    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> input, std::span<std::uint8_t> out);

} // namespace ntm::sig::detail

#endif
