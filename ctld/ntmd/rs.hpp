// SPDX-License-Identifier: GPL-2.0
/*
 * The Relay Server role (Documentation/protocol/relay.rst): an ntm device
 * whose adopted UDP sockets carry relayed data in the kernel, the
 * signalling engine (relay_engine.hpp) on the datagrams the kernel leaves
 * on those sockets, and a mutual-TLS listener for the DCs that order
 * relays.
 */
#ifndef NTMD_RS_HPP
#define NTMD_RS_HPP

#include <memory>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"

namespace ntmd {

class RsRole {
public:
	/** Opens the device, the sockets and the listeners; throws ntm::Error. */
	RsRole(asio::io_context &io, const ntm::config::Config &cfg);
	RsRole(const RsRole &) = delete;
	RsRole &operator=(const RsRole &) = delete;
	RsRole(RsRole &&) = delete;
	RsRole &operator=(RsRole &&) = delete;
	~RsRole();

	void start();
	/** Closes the listeners and sockets; the kernel sessions are removed. */
	void stop();

	/** Counters for `ntmctl status`. */
	[[nodiscard]] nlohmann::json status() const;

	struct Impl;

private:
	std::shared_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
