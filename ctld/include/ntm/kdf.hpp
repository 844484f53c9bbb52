// SPDX-License-Identifier: GPL-2.0
/*
 * Password hashing for the AS: scrypt (RFC 7914, memory-hard) through
 * OpenSSL's EVP_KDF. Stored as a self-describing string
 *   $scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>
 * so the cost can be raised later without invalidating old hashes.
 * ln is log2(N). b64 is the standard alphabet (A-Z a-z 0-9 + /) without
 * '=' padding. New hashes have a 16-byte salt and a 32-byte output; stored
 * strings are accepted with salts of 8..64 and outputs of 16..64 bytes.
 *
 * Parameters read from a stored string are bounded (ln <= 20, r <= 32,
 * p <= 16, and at most kMaxMemory bytes of scrypt working memory), so a
 * corrupted database cannot make the AS allocate gigabytes: such a string
 * simply does not verify.
 */
#ifndef NTM_KDF_HPP
#define NTM_KDF_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ntm/config.hpp"
#include "ntm/secret.hpp"

namespace ntm::kdf {

inline constexpr unsigned kMinLn = 1;
inline constexpr unsigned kMaxLn = 20;
inline constexpr unsigned kMaxR = 32;
inline constexpr unsigned kMaxP = 16;
/** Working memory scrypt may use (128 * r * (N + p + 2) bytes): 1 GiB + 1 MiB. */
inline constexpr std::uint64_t kMaxMemory = (std::uint64_t{1025}) << 20;
inline constexpr std::size_t kSaltLen = 16;
inline constexpr std::size_t kHashLen = 32;

/**
 * New hash with a random 16-byte salt and a 32-byte output. Throws
 * ntm::Error when the parameters are outside the bounds above or OpenSSL
 * fails.
 */
std::string hash_password(std::string_view password, const config::Scrypt &params);
/**
 * True when password matches; false on mismatch or an unparsable stored
 * string (never throws for bad input; throws ntm::Error when OpenSSL fails).
 * Comparison is constant time.
 */
bool verify_password(std::string_view password, std::string_view stored);

/** The parameters of a stored string, nullopt when it does not parse or is out of bounds. */
std::optional<config::Scrypt> parse_params(std::string_view stored) noexcept;

/**
 * A well-formed stored string with these parameters that no password
 * matches in practice (fixed salt and output): what the AS verifies
 * against for unknown accounts, so that they cost the same time.
 */
std::string dummy_hash(const config::Scrypt &params);

/**
 * Raw scrypt: out_len bytes from password and salt with N = n, r, p.
 * Throws ntm::Error for parameters OpenSSL refuses (n not a power of two,
 * memory above kMaxMemory) or when it fails.
 */
SecretBytes scrypt_raw(std::string_view password, std::span<const std::uint8_t> salt, std::uint64_t n, std::uint32_t r,
		       std::uint32_t p, std::size_t out_len);

} // namespace ntm::kdf

#endif
