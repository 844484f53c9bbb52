// SPDX-License-Identifier: GPL-2.0
/*
 * LiveNodes: which registered nodes are online, and when the DC last
 * heard from each, kept in memory (D114).
 *
 * A keepalive from the endpoint the registry already holds changes only
 * the time: no SQLite statement. The registry is written when a node's
 * endpoint changes, when it comes online or goes offline, and every
 * `persist` seconds per node for last_seen (what `ntmctl dc nodes`
 * shows), in one transaction per tick. Expiry runs on these times; a
 * restarted DC gives every node the registry had online a fresh period.
 *
 * An entry exists only for a node the registry has online, so entries
 * are bounded by the registry's nodes. Owned by the DC's event loop.
 */
#ifndef NTMD_DC_LIVE_HPP
#define NTMD_DC_LIVE_HPP

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ntm/model.hpp"

namespace ntmd {

class LiveNodes {
public:
	/**
	 * A keepalive of fqdn from `from` at now: true when fqdn is online at
	 * that endpoint already (only the time changes); false when the
	 * registry must be written (then call stored()).
	 */
	bool refresh(const std::string &fqdn, const ntm::Endpoint &from, std::int64_t now);
	/** The registry now has fqdn online at ep with last_seen now. */
	void stored(const std::string &fqdn, const ntm::Endpoint &ep, std::int64_t now);
	/** fqdn is offline (deregistered) or unknown to the registry. */
	void erase(const std::string &fqdn);
	/** Removes and returns, sorted, the nodes last heard from before cutoff. */
	std::vector<std::string> expire(std::int64_t cutoff);
	/**
	 * The (fqdn, last heard) of nodes whose time in the registry is
	 * `persist` seconds or more behind; with persist 0, every node whose
	 * time changed. They count as written from then on.
	 */
	std::vector<std::pair<std::string, std::int64_t>> due(std::int64_t persist);
	/** The registry's write failed: due() offers those times again. */
	void unstore(const std::vector<std::pair<std::string, std::int64_t>> &failed);

	[[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
	[[nodiscard]] std::uint64_t refreshed() const noexcept { return refreshed_; }

private:
	struct Entry {
		ntm::Endpoint ep;
		std::int64_t heard = 0;	 /* last keepalive or registration */
		std::int64_t stored = 0; /* last_seen as the registry has it */
	};
	std::unordered_map<std::string, Entry> nodes_;
	std::uint64_t refreshed_ = 0; /* keepalives that needed no write */
};

} // namespace ntmd

#endif
