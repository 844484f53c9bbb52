// SPDX-License-Identifier: GPL-2.0
/*
 * The IKEv2 role of ntmd (RFC 7296): initiator and responder, NAT traversal
 * (RFC 3948), MOBIKE (RFC 4555), with the CHILD SAs installed as ESP-in-UDP
 * tunnels of an ntm device. Documentation/ike.rst describes what is
 * supported and how; the configuration is the [ike] table of ntmd.toml(5).
 *
 * Sockets: port 500 (plain IKE) belongs to ntmd alone; port 4500 is adopted
 * by ntm.ko, which consumes ESP and the 0xff keepalives and leaves IKE
 * (behind the non-ESP marker) on the socket for ntmd.
 */
#ifndef NTMD_IKE_HPP
#define NTMD_IKE_HPP

#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"

namespace ntmd {

class IkeRole {
public:
	/** Opens the sockets and the device; throws ntm::Error / ConfigError-like messages. */
	IkeRole(asio::io_context &io, const ntm::config::Config &cfg);
	IkeRole(const IkeRole &) = delete;
	IkeRole &operator=(const IkeRole &) = delete;
	IkeRole(IkeRole &&) = delete;
	IkeRole &operator=(IkeRole &&) = delete;
	~IkeRole();

	void start();
	/** Closes sockets and timers; the kernel SAs are removed. */
	void stop();
	/** Sends Delete for every IKE SA (bounded wait), then stop(). */
	void shutdown_gracefully();

	/** Counters and SA counts for `ntmctl status`. */
	[[nodiscard]] nlohmann::json status() const;
	/** Every IKE SA with its CHILD SAs (`ntmctl ike list`). */
	[[nodiscard]] nlohmann::json list() const;
	/** Starts the connection; {"ok":true} once the IKE_SA_INIT went out. */
	nlohmann::json initiate(const std::string &connection);
	/** Deletes the IKE SAs of a connection (name) or one IKE SA ("#N"). */
	nlohmann::json terminate(const std::string &what);
	/** Rekeys the IKE SAs (child: their CHILD SAs) of a connection or of "#N" now. */
	nlohmann::json rekey(const std::string &what, bool child);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
