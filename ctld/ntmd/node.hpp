// SPDX-License-Identifier: GPL-2.0
/*
 * The node role: owns the ntm device and its UDP sockets (handed to
 * ntm.ko), logs in at the AS, registers at the DC (at start, on address
 * changes, after a DC restart), keeps the NAT mapping open with keepalives,
 * hooks DNS lookups of NTM names and kernel acquire events, and builds
 * tunnels with Direction Request / Route Direction / Tunnel Request
 * (Documentation/protocol/signalling.rst).
 */
#ifndef NTMD_NODE_HPP
#define NTMD_NODE_HPP

#include <memory>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"
#include "resolver.hpp"

namespace ntmd {

class NodeRole {
public:
	/**
	 * Creates (or takes over) the device, opens and attaches the sockets,
	 * binds the DNS hook; throws ntm::Error. Nothing is sent yet.
	 */
	NodeRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver);
	NodeRole(const NodeRole &) = delete;
	NodeRole &operator=(const NodeRole &) = delete;
	NodeRole(NodeRole &&) = delete;
	NodeRole &operator=(NodeRole &&) = delete;
	/** Detaches the sockets and deletes the device it created (or flushes its tunnels). */
	~NodeRole();

	/**
	 * Starts login, registration and keepalives. A refused login (wrong
	 * password, ...) is fatal: it escapes io.run() as a LoginError.
	 */
	void start();
	/** Deregisters (best effort, bounded) before the daemon stops. */
	asio::awaitable<void> shutdown();
	/** Closes sockets and timers so every coroutine of the role ends (no deregistration). */
	void stop();
	/** Re-registers now (SIGHUP, address change). */
	void refresh();
	[[nodiscard]] nlohmann::json status() const;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
