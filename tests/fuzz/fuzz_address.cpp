// SPDX-License-Identifier: GPL-2.0
/* parse_address() / parse_vip(): never crash; accepted addresses round-trip. */
#include <cstdint>

#include <sys/socket.h>

#include "fuzz_common.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const auto text = as_text(data, size);
	try {
		const ntm::IpAddress a = ntm::parse_address(text);
		FUZZ_CHECK(a.is_v4() || a.is_v6());
		FUZZ_CHECK(ntm::parse_address(a.to_string()) == a);
		FUZZ_CHECK(ntm::IpAddress::from_bytes(a.bytes()) == a);
	} catch (const ntm::UsageError &) {
	}
	for (const int family : {AF_INET, AF_INET6}) {
		try {
			const ntm::IpAddress v = ntm::parse_vip(text, family, "--vip");
			FUZZ_CHECK(v.family() == family);
		} catch (const ntm::UsageError &) {
		}
	}
	return 0;
}
