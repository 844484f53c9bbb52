// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous DNS lookups for ntmd (servers, the DC of a domain), over
 * UDP with retries, falling back to TCP on truncation. Messages are built
 * and parsed by ntm/dns.hpp (ldns).
 */
#ifndef NTMD_RESOLVER_HPP
#define NTMD_RESOLVER_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ntm/config.hpp"
#include "ntm/dns.hpp"
#include "ntm/model.hpp"

namespace ntmd {

class Resolver {
public:
	/** servers: recursive resolvers to ask, in order (port 53 usually). */
	Resolver(asio::io_context &io, std::vector<ntm::Endpoint> servers);

	/**
	 * IPv4 and IPv6 addresses of name (A and AAAA, asked in parallel).
	 * A literal address is returned as is. Empty on NXDOMAIN/NODATA.
	 * Throws ntm::Error when no server answers (timeout: 1 s per try, 3
	 * tries per server) or all answer SERVFAIL/REFUSED.
	 */
	asio::awaitable<std::vector<ntm::IpAddress>> addresses(std::string name);

	/**
	 * The name server of the zone that holds fqdn: asks NS for fqdn, then
	 * its parent, and so on (answer or referral in the authority section),
	 * stopping before the root. Returns the lowest-sorted NS target name.
	 * Throws ntm::Error "no NS record for <fqdn>" when there is none.
	 */
	asio::awaitable<std::string> find_ns(std::string fqdn);

	/** host:port to endpoints (literal, or addresses()); throws when none. */
	asio::awaitable<std::vector<ntm::Endpoint>> resolve(ntm::config::HostPort hp);

	/** Per-try timeout (tests shorten it). */
	void set_timeout(std::chrono::milliseconds t) noexcept { timeout_ = t; }

private:
	asio::io_context &io_;
	std::vector<ntm::Endpoint> servers_;
	std::chrono::milliseconds timeout_{1000};
};

} // namespace ntmd

#endif
