// SPDX-License-Identifier: GPL-2.0
/*
 * systemd-resolved's per-link DNS settings for the ntm device over D-Bus
 * (sd-bus, org.freedesktop.resolve1.Manager): the DNS hook as the link's
 * DNS server, the NTM domains as routing-only ("~ntm.test") domains, and
 * DefaultRoute=no so no other name goes there (D99). Each call is
 * synchronous with a timeout of a few seconds; ntmd makes them at start,
 * after a registration that changed the virtual address, and at stop.
 */
#ifndef NTMD_RESOLVED_HPP
#define NTMD_RESOLVED_HPP

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ntm/model.hpp"

struct sd_bus;

namespace ntmd {

class ResolvedLink {
public:
	/** Whether org.freedesktop.resolve1 has an owner on the system bus. */
	static bool available() noexcept;

	/** Connects to the system bus; throws ntm::Error. */
	ResolvedLink(int ifindex, std::string ifname);
	ResolvedLink(const ResolvedLink &) = delete;
	ResolvedLink &operator=(const ResolvedLink &) = delete;
	ResolvedLink(ResolvedLink &&) = delete;
	ResolvedLink &operator=(ResolvedLink &&) = delete;
	/** revert() */
	~ResolvedLink();

	/**
	 * SetLinkDNS(servers), SetLinkDomains(each of domains routing-only),
	 * SetLinkDefaultRoute(false); throws ntm::Error with resolved's error
	 * (access denied, no such link...).
	 */
	void apply(const std::vector<ntm::IpAddress> &servers, const std::vector<std::string> &domains);
	/** RevertLink, if apply() succeeded once; never throws, false on an error (logged). */
	bool revert() noexcept;
	[[nodiscard]] bool applied() const noexcept { return applied_; }

private:
	struct BusDeleter {
		void operator()(sd_bus *b) const noexcept;
	};
	std::unique_ptr<sd_bus, BusDeleter> bus_;
	int ifindex_;
	std::string ifname_;
	bool applied_ = false;
};

} // namespace ntmd

#endif
