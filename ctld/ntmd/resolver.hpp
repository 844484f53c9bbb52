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
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ntm/config.hpp"
#include "ntm/dns.hpp"
#include "ntm/model.hpp"

namespace ntmd {

/**
 * Aborts in-flight DNS exchanges at once (DnsStub::stop()): each exchange
 * registers a function that closes its socket while it runs.
 */
class DnsCancelSet {
public:
	using Id = std::uint64_t;
	/** Registers f; when cancel_all() was already called, runs it at once. */
	Id add(std::function<void()> f);
	void remove(Id id) noexcept;
	/** Runs every registered function (once) and every later add(). */
	void cancel_all() noexcept;
	[[nodiscard]] bool cancelled() const noexcept { return cancelled_; }

private:
	std::map<Id, std::function<void()>> fns_;
	Id next_ = 1;
	bool cancelled_ = false;
};

/** Accepts a reply of an exchange (checks id and question). */
using DnsReplyCheck = std::function<bool(std::span<const std::uint8_t>)>;

/**
 * One DNS exchange over UDP from a fresh connect()ed socket (random source
 * port): sends msg to server and returns the first datagram check accepts
 * (others are ignored), or nullopt at the deadline, on a socket error (e.g.
 * ICMP port unreachable) or when cancel fires. Never throws but for
 * std::bad_alloc.
 */
asio::awaitable<std::optional<std::vector<std::uint8_t>>>
dns_exchange_udp(ntm::Endpoint server, std::vector<std::uint8_t> msg, std::chrono::milliseconds timeout,
		 DnsReplyCheck check, DnsCancelSet *cancel = nullptr);
/** The same over TCP with the 2-byte length framing of RFC 1035 (one connection per exchange). */
asio::awaitable<std::optional<std::vector<std::uint8_t>>>
dns_exchange_tcp(ntm::Endpoint server, std::vector<std::uint8_t> msg, std::chrono::milliseconds timeout,
		 DnsReplyCheck check, DnsCancelSet *cancel = nullptr);

/** A random 16-bit DNS message id (RAND_bytes). Throws ntm::Error when the RNG fails. */
std::uint16_t dns_random_id();

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
	/* One question to the servers in order, 3 tries each; throws ntm::Error when none answers. */
	asio::awaitable<ntm::dns::Response> query(std::string name, std::uint16_t qtype);

	asio::io_context &io_;
	std::vector<ntm::Endpoint> servers_;
	std::chrono::milliseconds timeout_{1000};
};

} // namespace ntmd

#endif
