// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: the [rs] table of the Relay Server role
 * (Documentation/protocol/relay.rst). Same rules as config.cpp: every
 * unknown key is an error, every message names the file, the line and the
 * key.
 */
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "config_reader.hpp"

namespace ntm::config::detail {

namespace {

constexpr std::int64_t kMaxRelaySessions = std::int64_t{1} << 22; /* 4 Mi: far beyond one host's memory budget */
constexpr std::int64_t kMaxSessionIdle = 86400;

} // namespace

Rs Reader::read_rs(const Section &s) const
{
	Rs r;
	check_keys(s, {"interface", "port", "listen_tls", "addresses", "trusted_dc", "max_sessions", "session_idle",
		       "session_bytes"});
	ifname(s, "interface", r.interface);
	number(s, "port", r.port, 1, 65535);
	r.listen_tls = endpoints(s, "listen_tls", kDefaultRsTlsPort, true, true)
			       .value_or(std::vector<Endpoint>{
				       Endpoint(IpAddress::v4(in_addr{}), kDefaultRsTlsPort),
				       Endpoint(IpAddress::v6(in6addr_any), kDefaultRsTlsPort),
			       });

	const auto addrs = strings(s, "addresses");
	if (!addrs || addrs->empty())
		missing(s, "addresses", "the public addresses nodes send relayed traffic to (one IPv4, one IPv6 at most)");
	for (const auto &a : *addrs) {
		const auto ip = ip_literal(a.value);
		if (!ip)
			fail(a.line, dotted(s, "addresses"), quote(a.value) + ": expected an IPv4 or IPv6 address");
		if (is_unspecified(*ip) || is_multicast(*ip))
			fail(a.line, dotted(s, "addresses"), quote(a.value) + ": not a unicast address");
		if (std::ranges::any_of(r.addresses, [&](const IpAddress &o) { return o.family() == ip->family(); }))
			fail(a.line, dotted(s, "addresses"),
			     quote(a.value) + ": a second " + (ip->family() == AF_INET ? "IPv4" : "IPv6") +
				     " address (one per family)");
		r.addresses.push_back(*ip);
	}

	auto trusted = names(s, "trusted_dc", true);
	if (!trusted)
		missing(s, "trusted_dc", "certificate names of the DCs this relay serves");
	r.trusted_dc = std::move(*trusted);

	number(s, "max_sessions", r.max_sessions, 1, kMaxRelaySessions);
	seconds(s, "session_idle", r.session_idle, 5, kMaxSessionIdle);
	if (const auto v = integer(s, "session_bytes", 0, INT64_MAX))
		r.session_bytes = static_cast<std::uint64_t>(*v);
	return r;
}

} // namespace ntm::config::detail
