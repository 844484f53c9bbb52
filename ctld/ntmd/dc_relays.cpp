// SPDX-License-Identifier: GPL-2.0
#include "dc_relays.hpp"
#include "events.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <exception>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"
#include "sigio.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
namespace sig = ntm::sig;

RelayPool::RelayPool(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver)
    : io_(io), domain_(cfg.dc->domain), ctx_(tls::client_context(cfg.tls, true)), timer_(io)
{
	for (const auto &hp : cfg.dc->relays) {
		Relay r;
		r.link = std::make_shared<tls::TlsLink>(io, ctx_, resolver, hp, "dc");
		relays_.push_back(std::move(r));
	}
}

void RelayPool::start()
{
	if (relays_.empty())
		return;
	asio::co_spawn(io_, heartbeat_loop(), asio::detached);
}

void RelayPool::stop() noexcept
{
	stopped_ = true;
	tls::cancel_timer(timer_);
	for (auto &r : relays_)
		r.link->close();
}

awaitable<void> RelayPool::heartbeat_loop()
{
	const auto self = shared_from_this();
	while (!stopped_) {
		for (auto &r : relays_) {
			if (stopped_)
				break;
			co_await share(r);
		}
		timer_.expires_after(kHeartbeat);
		asio::error_code ec;
		co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
	}
}

awaitable<void> RelayPool::share(Relay &r)
{
	sig::Message ks;
	ks.type = sig::MsgType::key_sharing;
	ks.txid = sig::random_u32_nonzero();
	ks.fqdn = domain_;
	try {
		const auto ack = co_await r.link->exchange(ks, kTimeout);
		if (*ack.status != sig::Status::ok)
			throw ntm::Error(std::string("key sharing refused: ") + std::string(sig::status_name(*ack.status)));
		const bool was_up = r.view.up;
		r.eps = ack.relay_eps;
		r.view.up = true;
		r.view.has_v4 = std::ranges::any_of(r.eps, [](const ntm::Endpoint &e) { return e.family() == AF_INET; });
		r.view.has_v6 = std::ranges::any_of(r.eps, [](const ntm::Endpoint &e) { return e.family() == AF_INET6; });
		r.view.sessions = ack.sessions.value_or(0);
		r.view.capacity = ack.capacity.value_or(0);
		r.last_error.clear();
		if (!was_up) {
			spdlog::info("dc: relay {} up: {} of {} sessions", r.link->peer().to_string(), r.view.sessions,
				     r.view.capacity);
			emit_event("dc", "relay_up", {{"relay", r.link->peer().to_string()}});
		}
	} catch (const std::exception &e) {
		mark_down(r, e.what());
	}
}

void RelayPool::mark_down(Relay &r, const std::string &why)
{
	if (r.view.up || r.last_error != why) {
		spdlog::warn("dc: relay {} down: {}", r.link->peer().to_string(), why);
		emit_event("dc", "relay_down", {{"relay", r.link->peer().to_string()}, {"error", why}});
	}
	r.view.up = false;
	r.last_error = why;
}

std::vector<route::RelayView> RelayPool::views() const
{
	std::vector<route::RelayView> out;
	out.reserve(relays_.size());
	for (const auto &r : relays_)
		out.push_back(r.view);
	return out;
}

std::optional<ntm::Endpoint> RelayPool::endpoint(std::size_t relay, int family) const
{
	for (const auto &e : relays_.at(relay).eps)
		if (e.family() == family)
			return e;
	return std::nullopt;
}

std::string RelayPool::name(std::size_t relay) const
{
	return relays_.at(relay).link->peer().to_string();
}

awaitable<sig::Message> RelayPool::direct(std::size_t relay, sig::Message req)
{
	const auto self = shared_from_this();
	Relay &r = relays_.at(relay);
	req.txid = sig::random_u32_nonzero();
	try {
		auto ack = co_await r.link->exchange(req, kTimeout);
		r.directions++;
		if (ack.status == sig::Status::ok)
			r.view.sessions++; /* until the next heartbeat says how many */
		co_return ack;
	} catch (const std::exception &e) {
		mark_down(r, e.what());
		throw;
	}
}

awaitable<void> RelayPool::release(std::size_t relay, std::uint32_t comm_id)
{
	const auto self = shared_from_this();
	Relay &r = relays_.at(relay);
	sig::Message req;
	req.type = sig::MsgType::relay_release;
	req.txid = sig::random_u32_nonzero();
	req.comm_id = comm_id;
	try {
		const auto ack = co_await r.link->exchange(req, kTimeout);
		if (ack.status == sig::Status::ok && r.view.sessions > 0)
			r.view.sessions--;
	} catch (const std::exception &e) {
		spdlog::debug("dc: relay release {} at {}: {}", hex_id(comm_id), name(relay), e.what());
	}
}

nlohmann::json RelayPool::status() const
{
	auto out = nlohmann::json::array();
	for (const auto &r : relays_) {
		auto eps = nlohmann::json::array();
		for (const auto &e : r.eps)
			eps.push_back(e.to_string());
		out.push_back({{"relay", r.link->peer().to_string()},
			       {"up", r.view.up},
			       {"endpoints", eps},
			       {"sessions", r.view.sessions},
			       {"capacity", r.view.capacity},
			       {"directions", r.directions},
			       {"error", r.last_error}});
	}
	return out;
}

} // namespace ntmd
