// SPDX-License-Identifier: GPL-2.0
/*
 * How the system's resolver reaches the node's DNS hook (D99), by
 * node.resolved:
 *   systemd-resolved  per-link DNS on the ntm device: the stub also listens
 *                     on the node's virtual IPv4 address (IPv6 when it
 *                     has no IPv4 one), port 53, which
 *                     becomes the link's DNS server with "~domain" routing
 *                     for the NTM domains and DefaultRoute=no;
 *   resolvconf(8)     a "lo.ntmd" record with "nameserver STUB";
 *   direct edit       "nameserver STUB" first in /etc/resolv.conf, with a
 *                     backup in state_dir restored on stop (or next start);
 * all undone on stop. The stub's upstream resolvers follow the system's
 * (inotify on the file they come from) unless node.dns_upstream is set.
 */
#ifndef NTMD_DNS_SETUP_HPP
#define NTMD_DNS_SETUP_HPP

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "dnsstub.hpp"
#include "ntm/config.hpp"
#include "resolvconf.hpp"
#include "resolved.hpp"

namespace ntmd {

class DnsSetup {
public:
	enum class Mode { none, resolved, resolvconf, edit };

	struct Options {
		ntm::config::Node::Resolved resolved = ntm::config::Node::Resolved::automatic;
		std::string ifname;
		int ifindex = 0;
		std::string state_dir;
		std::string resolv_conf = ntm::config::kResolvConf;
		bool upstream_explicit = false; /* node.dns_upstream set: never replaced */
		std::vector<ntm::Endpoint> listen; /* node.dns_listen */
	};

	DnsSetup(asio::io_context &io, Options o, DnsStub &stub);
	DnsSetup(const DnsSetup &) = delete;
	DnsSetup &operator=(const DnsSetup &) = delete;
	DnsSetup(DnsSetup &&) = delete;
	DnsSetup &operator=(DnsSetup &&) = delete;
	~DnsSetup();

	/**
	 * Chooses the mode and applies what needs no virtual address (resolvconf,
	 * the edit). Throws ntm::Error for resolved = "yes" without a reachable
	 * systemd-resolved; other failures are logged and leave Mode::none.
	 */
	void start();
	/**
	 * After each registration: the virtual addresses and the NTM domains
	 * (resolved mode).  resolved is pointed at the virtual IPv4 address, or
	 * at the virtual IPv6 address of a node that has none.
	 */
	void registered(const std::optional<ntm::IpAddress> &vip4, const std::optional<ntm::IpAddress> &vip6,
			const std::vector<std::string> &domains);
	/** Undoes everything; idempotent, never throws. */
	void stop() noexcept;
	/** Re-reads the upstream resolvers now (network change). */
	void reread_upstream();

	[[nodiscard]] Mode mode() const noexcept { return mode_; }
	[[nodiscard]] static const char *mode_name(Mode m) noexcept;
	[[nodiscard]] std::string last_error() const { return last_error_; }

private:
	void watch_upstream();
	void arm_watch();
	[[nodiscard]] std::vector<ntm::IpAddress> our_addresses() const;
	void refused(const std::string &what, const ntm::IpAddress &vip);

	asio::io_context &io_;
	Options o_;
	DnsStub &stub_;
	Mode mode_ = Mode::none;
	std::unique_ptr<ResolvedLink> resolved_;
	std::unique_ptr<resolvconf::FileEdit> edit_;
	std::optional<std::string> resolvconf_tool_;
	std::optional<ntm::IpAddress> link_addr_; /* the extra listener, resolved mode */
	std::vector<std::string> link_domains_;
	std::string upstream_file_;
	std::string watch_dir_;
	asio::posix::stream_descriptor inotify_;
	std::string last_error_;
	bool stopped_ = false;
	bool refusal_logged_ = false; /* resolved's access denied, logged once as an error */
};

} // namespace ntmd

#endif
