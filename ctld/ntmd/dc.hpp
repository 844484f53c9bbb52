// SPDX-License-Identifier: GPL-2.0
/*
 * The Direction Coordinator role: node registry (SQLite, survives
 * restarts), virtual-address allocation, keepalive tracking, and the
 * route decision for Direction Requests (Documentation/protocol/
 * signalling.rst). Keys arrive from the AS over mutual TLS (KeyListener).
 */
#ifndef NTMD_DC_HPP
#define NTMD_DC_HPP

#include <memory>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"
#include "resolver.hpp"

namespace ntmd {

class DcRole {
public:
	/**
	 * Opens the registry, binds UDP cfg.dc->port and the TLS listener;
	 * reaches the relays of cfg.dc->relays through resolver once started.
	 * Throws ntm::Error.
	 */
	DcRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver);
	DcRole(const DcRole &) = delete;
	DcRole &operator=(const DcRole &) = delete;
	DcRole(DcRole &&) = delete;
	DcRole &operator=(DcRole &&) = delete;
	~DcRole();

	void start();
	void stop();
	/** For the control socket: domain, node counts, counters. */
	[[nodiscard]] nlohmann::json status() const;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
