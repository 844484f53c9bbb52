// SPDX-License-Identifier: GPL-2.0
#include "ntm/secret.hpp"

#include <openssl/crypto.h>

namespace ntm {

void secure_wipe(void *p, std::size_t n) noexcept
{
	if (p != nullptr && n > 0)
		OPENSSL_cleanse(p, n);
}

void secure_wipe(std::string &s) noexcept
{
	secure_wipe(s.data(), s.size());
	s.clear();
}

bool operator==(const SecretBytes &a, const SecretBytes &b) noexcept
{
	return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

} // namespace ntm
