// SPDX-License-Identifier: GPL-2.0
#include "ntm/format.hpp"

#include <net/if.h>

#include <array>
#include <cstdio>
#include <type_traits>

namespace ntm {

std::string format_bytes(std::uint64_t n)
{
	static constexpr std::array<const char *, 6> units{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (n < 1024)
		return std::to_string(n) + " B";
	auto v = static_cast<double>(n) / 1024.0;
	std::size_t u = 0;
	while (v >= 1024.0 && u + 1 < units.size()) {
		v /= 1024.0;
		u++;
	}
	std::array<char, 32> buf{};
	(void)std::snprintf(buf.data(), buf.size(), "%.2f %s", v, units.at(u));
	return buf.data();
}

std::string format_duration(std::uint64_t seconds)
{
	struct Unit {
		std::uint64_t secs;
		const char *name;
	};
	static constexpr std::array<Unit, 4> units{{{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}}};
	if (seconds == 0)
		return "0 seconds";
	std::string out;
	for (const auto &u : units) {
		const std::uint64_t k = seconds / u.secs;
		if (k == 0)
			continue;
		seconds %= u.secs;
		if (!out.empty())
			out += ", ";
		out += std::to_string(k) + " " + u.name + (k == 1 ? "" : "s");
	}
	return out;
}

std::string ifname_of(std::uint32_t ifindex)
{
	std::array<char, IF_NAMESIZE> buf{};
	if (ifindex == 0 || if_indextoname(ifindex, buf.data()) == nullptr)
		return {};
	return buf.data();
}

std::string format_event(const Event &ev, const std::string &ifname)
{
	const std::string dev = "dev " + (ifname.empty() ? std::to_string(event_ifindex(ev)) : ifname);
	return std::visit(
		[&dev](const auto &e) -> std::string {
			using T = std::decay_t<decltype(e)>;
			if constexpr (std::is_same_v<T, AcquireEvent>) {
				return "acquire " + dev + " dst " + e.dst.to_string() + " src " + e.src.to_string();
			} else if constexpr (std::is_same_v<T, EndpointEvent>) {
				return "endpoint " + dev + " local-index " + std::to_string(e.local_index) +
				       " endpoint " + e.endpoint.to_string();
			} else if constexpr (std::is_same_v<T, TakeoverEvent>) {
				return "takeover " + dev + " local-index " + std::to_string(e.local_index) +
				       " remote-index " + std::to_string(e.remote_index) +
				       /* no predecessor: a held new tunnel was confirmed */
				       (e.replaces != 0 ? " replaces " + std::to_string(e.replaces) : " confirmed");
			} else if constexpr (std::is_same_v<T, RelayExpiredEvent>) {
				return "relay-expired " + dev + " id " + std::to_string(e.relay.id) + " reason " +
				       expire_reason_name(e.reason) + " leg1 " + e.relay.legs[0].endpoint.to_string() +
				       " leg2 " + e.relay.legs[1].endpoint.to_string();
			} else {
				return "expired " + dev + " local-index " + std::to_string(e.local_index) +
				       " remote-index " + std::to_string(e.remote_index) + " reason " +
				       expire_reason_name(e.reason);
			}
		},
		ev);
}

} // namespace ntm
