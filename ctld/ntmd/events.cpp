// SPDX-License-Identifier: GPL-2.0
#include "events.hpp"

#include <chrono>
#include <exception>
#include <vector>

#include <spdlog/spdlog.h>

namespace ntmd {

namespace {

EventBus *g_bus = nullptr;

} // namespace

EventBus::EventBus()
{
	g_bus = this;
}

EventBus::~EventBus()
{
	if (g_bus == this)
		g_bus = nullptr;
}

EventBus *EventBus::current() noexcept
{
	return g_bus;
}

std::uint64_t EventBus::subscribe(Sink sink)
{
	const std::uint64_t id = next_id_++;
	sinks_.emplace(id, std::move(sink));
	return id;
}

void EventBus::unsubscribe(std::uint64_t id)
{
	sinks_.erase(id);
}

void EventBus::publish(const nlohmann::json &ev)
{
	const auto name = ev.value("event", std::string("unknown"));
	counts_[name]++;
	if (sinks_.empty())
		return;
	const std::string line = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	/* a sink may unsubscribe (its client went away): iterate over a copy of the ids */
	std::vector<std::uint64_t> ids;
	ids.reserve(sinks_.size());
	for (const auto &[id, s] : sinks_)
		ids.push_back(id);
	for (const auto id : ids) {
		const auto it = sinks_.find(id);
		if (it != sinks_.end())
			it->second(line);
	}
}

void emit_event(std::string_view role, std::string_view name, nlohmann::json fields)
{
	EventBus *bus = EventBus::current();
	if (bus == nullptr)
		return;
	try {
		/* the three common members win over a field of the same name */
		nlohmann::json ev = fields.is_object() ? std::move(fields) : nlohmann::json::object();
		ev["event"] = std::string(name);
		ev["role"] = std::string(role);
		ev["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
					std::chrono::system_clock::now().time_since_epoch())
					.count();
		bus->publish(ev);
	} catch (const std::exception &e) {
		/* an event is never worth failing the work that caused it */
		spdlog::debug("event {}: {}", name, e.what());
	}
}

} // namespace ntmd
