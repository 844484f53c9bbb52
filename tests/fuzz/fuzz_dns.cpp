// SPDX-License-Identifier: GPL-2.0
/*
 * ntm/dns.hpp on hostile bytes. The first byte picks the entry point:
 *   0 parse_query(); a query we serve must get an answer that parses back
 *   1 parse_response() for a.ntm.test/A; what it returns must be consistent
 *   2 build_error(); never throws, keeps the id
 */
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"

namespace {

namespace dns = ntm::dns;

std::uint16_t id_of(std::span<const std::uint8_t> w)
{
	return static_cast<std::uint16_t>((w[0] << 8) | w[1]);
}

void fuzz_query(std::span<const std::uint8_t> in)
{
	const auto q = dns::parse_query(in);
	if (!q)
		return;
	if (q->qtype == 0) {
		FUZZ_CHECK(q->name.empty());
		return;
	}
	FUZZ_CHECK(dns::normalize_name(q->name) == q->name);
	in_addr v4{};
	v4.s_addr = 0x0900400a; /* 10.64.0.9 */
	in6_addr v6{};
	v6.s6_addr[0] = 0xfd;
	v6.s6_addr[15] = 9;
	const std::vector<ntm::IpAddress> addrs{ntm::IpAddress::v4(v4), ntm::IpAddress::v6(v6)};
	for (const auto rc : {dns::Rcode::noerror, dns::Rcode::nxdomain}) {
		const auto ans = dns::build_answer(in, rc, addrs, 30);
		const auto r = dns::parse_response(ans, q->name, q->qtype);
		FUZZ_CHECK(r.has_value());
		FUZZ_CHECK(r->id == q->id);
		FUZZ_CHECK(r->rcode == rc);
		FUZZ_CHECK(!r->truncated);
		if (rc == dns::Rcode::noerror && q->qtype == dns::kTypeA)
			FUZZ_CHECK(r->addrs == std::vector<ntm::IpAddress>{addrs[0]});
		if (rc == dns::Rcode::noerror && q->qtype == dns::kTypeAAAA)
			FUZZ_CHECK(r->addrs == std::vector<ntm::IpAddress>{addrs[1]});
		if (rc != dns::Rcode::noerror)
			FUZZ_CHECK(r->addrs.empty());
	}
	const auto err = dns::build_error(in, dns::Rcode::servfail);
	const auto r = dns::parse_response(err, q->name, q->qtype);
	FUZZ_CHECK(r.has_value() && r->rcode == dns::Rcode::servfail && r->id == q->id);
}

void fuzz_response(std::span<const std::uint8_t> in)
{
	const auto r = dns::parse_response(in, "a.ntm.test", dns::kTypeA);
	if (!r)
		return;
	FUZZ_CHECK(std::all_of(r->addrs.begin(), r->addrs.end(), [](const auto &a) { return a.is_v4(); }));
	for (const auto &[name, addr] : r->glue) {
		FUZZ_CHECK(std::find(r->ns_names.begin(), r->ns_names.end(), name) != r->ns_names.end());
		FUZZ_CHECK(addr.is_v4() || addr.is_v6());
	}
	/* the same message asked with another name is refused */
	FUZZ_CHECK(!dns::parse_response(in, "b.ntm.test", dns::kTypeA));
}

void fuzz_error(std::span<const std::uint8_t> in)
{
	const auto err = dns::build_error(in, dns::Rcode::formerr);
	FUZZ_CHECK(err.size() >= 12);
	if (in.size() >= 2)
		FUZZ_CHECK(id_of(err) == id_of(in));
	FUZZ_CHECK((err[2] & 0x80) != 0 && (err[3] & 0x0f) == 1);
	try {
		(void)dns::build_answer(in, dns::Rcode::noerror, {}, 0);
	} catch (const ntm::Error &) {
		FUZZ_CHECK(!dns::parse_query(in).has_value());
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0)
		return 0;
	const std::span<const std::uint8_t> all(data, size);
	const auto in = all.subspan(1);
	switch (all[0] % 3) {
	case 0:
		fuzz_query(in);
		break;
	case 1:
		fuzz_response(in);
		break;
	default:
		fuzz_error(in);
		break;
	}
	return 0;
}
