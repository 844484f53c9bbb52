// SPDX-License-Identifier: GPL-2.0
/*
 * Daemon events for `ntmctl monitor` (D97): registration, tunnels up and
 * down, the path a tunnel takes, IKE and CHILD SAs. A role calls
 * emit_event(); the EventBus of the running ntmd (one per process, made
 * by run_roles) hands each event as one JSON line to every subscriber of
 * the control socket ({"cmd":"subscribe"}, see control.hpp). Without a
 * bus (unit tests, socket-owner mode) emit_event does nothing.
 *
 * An event line: {"event":"tunnel_up","role":"node","time_ms":UNIX_MS,...}
 * with the fields of the event. Everything runs on ntmd's one event-loop
 * thread: emit_event must not be called from another thread.
 */
#ifndef NTMD_EVENTS_HPP
#define NTMD_EVENTS_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ntmd {

class EventBus {
public:
	/** Receives one event line (JSON, no newline). Must not throw. */
	using Sink = std::function<void(const std::string &line)>;

	/** Becomes the process's bus (the one emit_event reaches) until destroyed. */
	EventBus();
	EventBus(const EventBus &) = delete;
	EventBus &operator=(const EventBus &) = delete;
	EventBus(EventBus &&) = delete;
	EventBus &operator=(EventBus &&) = delete;
	~EventBus();

	std::uint64_t subscribe(Sink sink);
	void unsubscribe(std::uint64_t id);
	/** Sends ev (an object with "event") to every subscriber. */
	void publish(const nlohmann::json &ev);

	[[nodiscard]] std::size_t subscribers() const noexcept { return sinks_.size(); }
	/** Events emitted since start, by name (the metric ntm_daemon_events_total). */
	[[nodiscard]] const std::map<std::string, std::uint64_t> &counts() const noexcept { return counts_; }

	/** The process's bus, or nullptr. */
	static EventBus *current() noexcept;

private:
	std::map<std::uint64_t, Sink> sinks_;
	std::map<std::string, std::uint64_t> counts_;
	std::uint64_t next_id_ = 1;
};

/**
 * An event of role ("node", "dc", "ike", "rs", "daemon") named name
 * (lower case, words joined by '_') with fields (an object); adds "event",
 * "role" and "time_ms" and publishes it on the current bus, if any.
 */
void emit_event(std::string_view role, std::string_view name, nlohmann::json fields = nlohmann::json::object());

} // namespace ntmd

#endif
