// SPDX-License-Identifier: GPL-2.0
/*
 * resolv.conf text (D99): parse_resolv_conf() and the stub line ntmd adds
 * never crash; adding and removing the line gives back the other lines
 * unchanged, the stub is the first nameserver, and it is never an upstream.
 */
#include <arpa/inet.h>

#include <cstdint>

#include "fuzz_common.hpp"
#include "ntm/config.hpp"
#include "resolvconf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	namespace rc = ntmd::resolvconf;
	const std::string_view text = as_text(data, size);
	(void)ntm::config::parse_resolv_conf(text);
	in_addr a{};
	a.s_addr = htonl(0x7f00004dU); /* 127.0.0.77 */
	const ntm::IpAddress stub = ntm::IpAddress::v4(a);
	const std::string base = rc::without_stub(text);
	FUZZ_CHECK(!rc::has_stub(base));
	FUZZ_CHECK(rc::without_stub(base) == base);
	const std::string edited = rc::with_stub(text, stub);
	FUZZ_CHECK(rc::has_stub(edited));
	FUZZ_CHECK(rc::without_stub(edited) == base);
	FUZZ_CHECK(rc::with_stub(edited, stub) == edited);
	const auto servers = ntm::config::parse_resolv_conf(edited);
	FUZZ_CHECK(!servers.empty() && servers.front().address() == stub);
	for (const auto &e : rc::upstream_servers(edited, {stub}))
		FUZZ_CHECK(!(e.address() == stub));
	return 0;
}
