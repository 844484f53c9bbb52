// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd's control socket: a UNIX stream socket speaking JSON lines. Each
 * request is one object with "cmd"; each answer one object with "ok" and
 * either the result or "error". Used by ntmctl (status); mode 0660, so
 * the group of the daemon may read state without root.
 *
 * {"cmd":"subscribe"} (with an EventBus) is answered {"ok":true,
 * "subscribed":true} and turns the connection into a stream of daemon
 * events, one JSON object per line (events.hpp), until the client closes
 * it or sends anything; a client that reads too slowly loses events
 * beyond 4096 queued lines, reported as {"event":"lost","count":N} (D97).
 */
#ifndef NTMD_CONTROL_HPP
#define NTMD_CONTROL_HPP

#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace ntmd {

class EventBus;

class ControlServer {
public:
	/** Handler: request object -> answer object (must not throw; errors as {"ok":false}). */
	using Handler = std::function<nlohmann::json(const nlohmann::json &)>;

	/**
	 * Binds path (creating its directory, replacing a stale socket); throws
	 * ntm::Error. events (may be null: no subscriptions) must outlive it.
	 */
	ControlServer(asio::io_context &io, std::string path, Handler handler, EventBus *events = nullptr);
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
