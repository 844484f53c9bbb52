// SPDX-License-Identifier: GPL-2.0
/* LiveNodes: the DC's online nodes and their last keepalive, in memory (D114). */
#include "dc_live.hpp"

#include <algorithm>

namespace ntmd {

bool LiveNodes::refresh(const std::string &fqdn, const ntm::Endpoint &from, std::int64_t now)
{
	const auto it = nodes_.find(fqdn);
	if (it == nodes_.end() || !(it->second.ep == from))
		return false;
	it->second.heard = std::max(it->second.heard, now);
	refreshed_++;
	return true;
}

void LiveNodes::stored(const std::string &fqdn, const ntm::Endpoint &ep, std::int64_t now)
{
	auto &e = nodes_[fqdn];
	e.ep = ep;
	e.heard = std::max(e.heard, now);
	e.stored = std::max(e.stored, now);
}

void LiveNodes::erase(const std::string &fqdn)
{
	nodes_.erase(fqdn);
}

std::vector<std::string> LiveNodes::expire(std::int64_t cutoff)
{
	std::vector<std::string> gone;
	for (auto it = nodes_.begin(); it != nodes_.end();) {
		if (it->second.heard < cutoff) {
			gone.push_back(it->first);
			it = nodes_.erase(it);
		} else {
			++it;
		}
	}
	std::ranges::sort(gone);
	return gone;
}

std::vector<std::pair<std::string, std::int64_t>> LiveNodes::due(std::int64_t persist)
{
	std::vector<std::pair<std::string, std::int64_t>> out;
	for (auto &[fqdn, e] : nodes_) {
		if (e.heard > e.stored && e.heard - e.stored >= std::max<std::int64_t>(persist, 1)) {
			out.emplace_back(fqdn, e.heard);
			e.stored = e.heard;
		}
	}
	return out;
}

void LiveNodes::unstore(const std::vector<std::pair<std::string, std::int64_t>> &failed)
{
	for (const auto &[fqdn, at] : failed) {
		const auto it = nodes_.find(fqdn);
		if (it != nodes_.end() && it->second.stored == at)
			it->second.stored = 0;
	}
}

} // namespace ntmd
