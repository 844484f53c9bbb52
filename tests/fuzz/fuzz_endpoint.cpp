// SPDX-License-Identifier: GPL-2.0
/* parse_endpoint(): never crashes; what it accepts prints and re-parses to itself. */
#include <cstdint>

#include "fuzz_common.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	try {
		const ntm::Endpoint ep = ntm::parse_endpoint(as_text(data, size));
		FUZZ_CHECK(ep.port() != 0);
		const std::string text = ep.to_string();
		const ntm::Endpoint again = ntm::parse_endpoint(text);
		FUZZ_CHECK(again == ep);
		FUZZ_CHECK(again.to_string() == text);
		const auto raw = ep.sockaddr_bytes();
		const auto back = ntm::Endpoint::from_sockaddr(raw);
		FUZZ_CHECK(back && *back == ep);
	} catch (const ntm::UsageError &) {
	}
	return 0;
}
