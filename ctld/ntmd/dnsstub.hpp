// SPDX-License-Identifier: GPL-2.0
/*
 * The node's DNS hook: a stub server (UDP and TCP) on the configured
 * addresses. Queries for names in an NTM domain go to the hook (which
 * builds the tunnel and returns the peer's virtual address); all other
 * queries are forwarded verbatim to the upstream servers and their answer
 * relayed back.
 */
#ifndef NTMD_DNSSTUB_HPP
#define NTMD_DNSSTUB_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

#include "ntm/dns.hpp"
#include "ntm/model.hpp"

namespace ntmd {

struct HookAnswer {
	ntm::dns::Rcode rcode = ntm::dns::Rcode::servfail;
	std::vector<ntm::IpAddress> addrs; /* of the question's type; empty = NODATA */
	std::uint32_t ttl = 0;
};
/** Called for A/AAAA/ANY... questions in an NTM domain; must not throw. */
using DnsHook = std::function<asio::awaitable<HookAnswer>(const ntm::dns::Question &)>;

struct DnsStubCounters {
	std::uint64_t queries = 0;
	std::uint64_t hooked = 0;
	std::uint64_t forwarded = 0;
	std::uint64_t upstream_failures = 0; /* answered SERVFAIL */
	std::uint64_t malformed = 0;	      /* dropped or FORMERR */
	std::uint64_t overloaded = 0;	      /* over the in-flight or TCP client limit: SERVFAIL or closed */
	std::uint64_t refused = 0;	      /* from a source neither loopback nor allowed: dropped or closed */
};

/**
 * Whether the stub takes a query from `from`: loopback sources (this host
 * and network namespace) always, others only inside a prefix of allow
 * (node.dns_allow). IPv4-mapped IPv6 sources count as IPv4.
 */
bool dns_client_allowed(const std::vector<ntm::Prefix> &allow, const asio::ip::address &from);

class DnsStub {
public:
	/**
	 * Binds every listen endpoint (UDP and TCP) at once; throws
	 * ntm::Error naming the address when one fails (e.g. EADDRINUSE).
	 * Queries are taken from loopback sources and from the networks in
	 * allow only; others are dropped (UDP) or closed (TCP) and counted.
	 */
	DnsStub(asio::io_context &io, const std::vector<ntm::Endpoint> &listen, std::vector<ntm::Endpoint> upstream,
		std::vector<std::string> ntm_domains, std::vector<ntm::Prefix> allow, DnsHook hook);
	DnsStub(const DnsStub &) = delete;
	DnsStub &operator=(const DnsStub &) = delete;
	DnsStub(DnsStub &&) = delete;
	DnsStub &operator=(DnsStub &&) = delete;
	~DnsStub();

	/** Starts serving (spawns the receive loops). */
	void start();
	/** Closes the sockets; pending queries are abandoned. */
	void stop();
	/** Domains may be learned after start (the node's own after login). */
	void set_domains(std::vector<std::string> ntm_domains);
	[[nodiscard]] std::vector<std::string> domains() const;
	/** The resolvers for other names, e.g. after resolv.conf changed (D99). */
	void set_upstream(std::vector<ntm::Endpoint> upstream);
	[[nodiscard]] std::vector<ntm::Endpoint> upstream() const;
	/**
	 * One more listen endpoint after start (the virtual address on the ntm
	 * device for systemd-resolved, D99); queries from the endpoint's own
	 * address (this host) are taken. Throws ntm::Error like the constructor.
	 */
	void add_listener(const ntm::Endpoint &ep);
	/** Closes the listener add_listener() bound on ep, if any. */
	void remove_listener(const ntm::Endpoint &ep);
	[[nodiscard]] const DnsStubCounters &counters() const noexcept;
	/**
	 * The bound addresses, one per listen endpoint (UDP and TCP share the
	 * port; port 0 in listen picks a free one for both).
	 */
	[[nodiscard]] std::vector<ntm::Endpoint> local_endpoints() const;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
