// SPDX-License-Identifier: GPL-2.0
/*
 * Password hashing for the AS: scrypt (RFC 7914, memory-hard) through
 * OpenSSL's EVP_KDF. Stored as a self-describing string
 *   $scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>
 * so the cost can be raised later without invalidating old hashes.
 */
#ifndef NTM_KDF_HPP
#define NTM_KDF_HPP

#include <string>
#include <string_view>

#include "ntm/config.hpp"

namespace ntm::kdf {

/** New hash with a random 16-byte salt and a 32-byte output. */
std::string hash_password(std::string_view password, const config::Scrypt &params);
/**
 * True when password matches; false on mismatch or an unparsable stored
 * string (never throws for bad input; throws ntm::Error when OpenSSL fails).
 * Comparison is constant time.
 */
bool verify_password(std::string_view password, std::string_view stored);

} // namespace ntm::kdf

#endif
