// SPDX-License-Identifier: GPL-2.0
#include "route.hpp"

#include <sys/socket.h>

namespace ntmd::route {

namespace {

bool serves(const RelayView &r, int family) noexcept
{
	return family == AF_INET ? r.has_v4 : family == AF_INET6 && r.has_v6;
}

/* a's load below b's, as sessions / capacity, without division */
bool less_loaded(const RelayView &a, const RelayView &b) noexcept
{
	return std::uint64_t{a.sessions} * b.capacity < std::uint64_t{b.sessions} * a.capacity;
}

} // namespace

std::optional<std::size_t> pick_relay(int mn_family, int cn_family, std::span<const RelayView> relays)
{
	std::optional<std::size_t> best;
	for (std::size_t i = 0; i < relays.size(); i++) {
		const auto &r = relays[i];
		if (!r.up || r.capacity == 0 || r.sessions >= r.capacity || !serves(r, mn_family) ||
		    !serves(r, cn_family))
			continue;
		if (!best || less_loaded(r, relays[*best]))
			best = i;
	}
	return best;
}

Decision decide(const NodeView &mn, const NodeView &cn, std::span<const RelayView> relays)
{
	const bool common_family = mn.external.family() == cn.external.family();
	if (common_family && !(mn.nated && cn.nated)) {
		/* figure 6: the NATed side opens; neither: CN opens (D12) */
		return Direct{.cn_opens = !(mn.nated && !cn.nated)};
	}
	const auto rs = pick_relay(mn.external.family(), cn.external.family(), relays);
	if (!rs) {
		if (relays.empty())
			return NoRoute{common_family ? "both nodes are behind NATs and no relay is configured"
						     : "no common address family and no relay is configured"};
		return NoRoute{common_family ? "both nodes are behind NATs and no relay is available"
					     : "no common address family and no relay serving both families is available"};
	}
	/* punching needs a common family and NATs that keep one mapping for all destinations */
	const bool probe = common_family && mn.mapping != NatMapping::per_destination &&
			   cn.mapping != NatMapping::per_destination;
	return Relayed{.relay = *rs, .probe = probe};
}

} // namespace ntmd::route
