// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd's control socket: a UNIX stream socket speaking JSON lines. Each
 * request is one object with "cmd"; each answer one object with "ok" and
 * either the result or "error". Used by ntmctl (status); mode 0660, so
 * the group of the daemon may read state without root.
 */
#ifndef NTMD_CONTROL_HPP
#define NTMD_CONTROL_HPP

#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace ntmd {

class ControlServer {
public:
	/** Handler: request object -> answer object (must not throw; errors as {"ok":false}). */
	using Handler = std::function<nlohmann::json(const nlohmann::json &)>;

	/** Binds path (creating its directory, replacing a stale socket); throws ntm::Error. */
	ControlServer(asio::io_context &io, std::string path, Handler handler);
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;
	ControlServer(ControlServer &&) = delete;
	ControlServer &operator=(ControlServer &&) = delete;
	/** Closes and unlinks the socket. */
	~ControlServer();
	void start();
	void stop();

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
