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
 *
 * Who may do what (D98): the socket is 0660, so its group (ntmd's, "ntm"
 * under ntmd.service) may connect. Every client's uid comes from
 * SO_PEERCRED: root and ntmd's own uid may run every command, anyone else
 * only the read-only ones of command_access(); the rest are answered
 * {"ok":false,"error":"permission denied: CMD needs root"}.
 */
#ifndef NTMD_CONTROL_HPP
#define NTMD_CONTROL_HPP

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace ntmd {

class EventBus;

/** What a control command does: reads state, or changes it (D98). */
enum class Access { read, admin };

/**
 * The policy: status, ike-list and subscribe only read; every other
 * command, unknown ones included, changes state. A new read-only command
 * must be added here, or the group cannot run it.
 */
Access command_access(std::string_view cmd);

/** The answer to a command refused to its client: {"ok":false,"error":"permission denied: CMD needs root"}. */
nlohmann::json refusal(std::string_view cmd);

/** root and this process's effective uid: the clients that may run admin commands. */
std::vector<uid_t> default_admins();

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
	/** The uids that may run admin commands (default_admins() unless set; tests narrow it). */
	void set_admins(std::vector<uid_t> uids);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
