// SPDX-License-Identifier: GPL-2.0
/*
 * The value parsers of ntmctl: the first byte picks one (key, key file text,
 * salt, cipher, unsigned, on/off, interface name), the rest is the input.
 */
#include <cstdint>

#include "fuzz_common.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0)
		return 0;
	// NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	const auto text = as_text(data + 1, size - 1);
	try {
		switch (data[0] % 7) {
		case 0: {
			const auto key = ntm::parse_hex_key(text);
			/* 24: AES-192-GCM, taken by ESP SAs only */
			FUZZ_CHECK(key.size() == 16 || key.size() == 24 || key.size() == 32);
			FUZZ_CHECK(key.size() * 2 == text.size());
			ntm::check_key_length(NTM_CIPHER_AES_GCM, key.size());
			break;
		}
		case 1: {
			const auto key = ntm::parse_key_text(text);
			FUZZ_CHECK(key.size() == 16 || key.size() == 24 || key.size() == 32);
			break;
		}
		case 2:
			(void)ntm::parse_salt(text, "--tx-salt");
			FUZZ_CHECK(text.size() == 8);
			break;
		case 3: {
			const auto c = ntm::parse_cipher(text);
			FUZZ_CHECK(ntm::cipher_name(c) == text);
			break;
		}
		case 4: {
			const auto v = ntm::parse_unsigned(text, "N", 1, 65535);
			FUZZ_CHECK(v >= 1 && v <= 65535);
			break;
		}
		case 5:
			(void)ntm::parse_on_off(text, "--roaming");
			break;
		default: {
			const auto name = ntm::parse_ifname(text);
			FUZZ_CHECK(!name.empty() && name.size() < 16);
			break;
		}
		}
	} catch (const ntm::UsageError &) {
	}
	return 0;
}
