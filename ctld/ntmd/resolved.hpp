// SPDX-License-Identifier: GPL-2.0
/*
 * systemd-resolved's per-link DNS settings for the ntm device over D-Bus
 * (sd-bus, org.freedesktop.resolve1.Manager): the DNS hook as the link's
 * DNS server, the NTM domains as routing-only ("~ntm.test") domains, and
 * DefaultRoute=no so no other name goes there (D99). Each call is
 * synchronous with a timeout of a few seconds; ntmd makes them at start,
 * after a registration that changed the virtual address, and at stop.
 *
 * resolved keeps per-link settings in memory only: when it restarts (an
 * upgrade, a crash), the link has no DNS any more. follow() watches the
 * bus for a new owner of org.freedesktop.resolve1 (NameOwnerChanged, the
 * connection's fd on the event loop) and applies the last settings again,
 * retrying for a while if the new instance does not know the link yet
 * (D102).
 */
#ifndef NTMD_RESOLVED_HPP
#define NTMD_RESOLVED_HPP

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <systemd/sd-bus.h>

#include "ntm/model.hpp"

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

	/**
	 * From now on, when systemd-resolved restarts, apply the settings of the
	 * last successful apply() again (on io's thread). Throws ntm::Error when
	 * the bus refuses the match.
	 */
	void follow(asio::io_context &io);
	/** Times the settings were applied again after a restart of resolved. */
	[[nodiscard]] unsigned reapplied() const noexcept { return reapplied_; }

private:
	struct BusDeleter {
		void operator()(sd_bus *b) const noexcept;
	};
	struct SlotDeleter {
		void operator()(sd_bus_slot *s) const noexcept;
	};
	static int on_owner_changed(sd_bus_message *m, void *self, sd_bus_error *err);
	void arm_bus();
	void drain() noexcept;
	void schedule(std::chrono::milliseconds after);
	void reapply();

	std::unique_ptr<sd_bus, BusDeleter> bus_;
	int ifindex_;
	std::string ifname_;
	bool applied_ = false;
	/* the last settings applied, for a restarted resolved */
	std::vector<ntm::IpAddress> servers_;
	std::vector<std::string> domains_;
	bool have_settings_ = false;
	bool owner_changed_ = false;
	unsigned reapplied_ = 0;
	unsigned retries_ = 0;
	std::unique_ptr<sd_bus_slot, SlotDeleter> match_;
	std::unique_ptr<asio::posix::stream_descriptor> fd_; /* sd-bus's fd: released, never closed, by us */
	std::unique_ptr<asio::steady_timer> retry_;
};

} // namespace ntmd

#endif
