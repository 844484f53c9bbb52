// SPDX-License-Identifier: GPL-2.0
/*
 * The DC's side of its Relay Servers (Documentation/protocol/relay.rst):
 * one long-lived mutual-TLS connection to each relay of dc.relays, a Key
 * Sharing heartbeat that learns each relay's endpoints and load and notices
 * a dead one, and the Relay Direction / Relay Release exchanges.
 */
#ifndef NTMD_DC_RELAYS_HPP
#define NTMD_DC_RELAYS_HPP

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "ntm/config.hpp"
#include "ntm/sig.hpp"
#include "resolver.hpp"
#include "route.hpp"
#include "tls_conn.hpp"

namespace ntmd {

class RelayPool : public std::enable_shared_from_this<RelayPool> {
public:
	static constexpr auto kHeartbeat = std::chrono::seconds(5);
	static constexpr auto kTimeout = std::chrono::seconds(3);

	/** cfg.dc->relays; nothing happens before start(). Throws ntm::Error (TLS files). */
	RelayPool(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver);
	RelayPool(const RelayPool &) = delete;
	RelayPool &operator=(const RelayPool &) = delete;
	RelayPool(RelayPool &&) = delete;
	RelayPool &operator=(RelayPool &&) = delete;
	~RelayPool() = default;

	void start();
	void stop() noexcept;

	[[nodiscard]] bool empty() const noexcept { return relays_.empty(); }
	/** What route::decide() needs, in configuration order. */
	[[nodiscard]] std::vector<route::RelayView> views() const;
	/** The relay's endpoint of family, once a Key Sharing Ack named it. */
	[[nodiscard]] std::optional<ntm::Endpoint> endpoint(std::size_t relay, int family) const;
	[[nodiscard]] std::string name(std::size_t relay) const;

	/**
	 * Relay Direction to relay: returns its ack (STATUS checked by the
	 * caller). A transport failure marks the relay down and throws
	 * ntm::Error.
	 */
	asio::awaitable<ntm::sig::Message> direct(std::size_t relay, ntm::sig::Message req);
	/** Relay Release, best effort (logged). */
	asio::awaitable<void> release(std::size_t relay, std::uint32_t comm_id);

	[[nodiscard]] nlohmann::json status() const;

private:
	struct Relay {
		std::shared_ptr<tls::TlsLink> link;
		route::RelayView view;
		std::vector<ntm::Endpoint> eps;
		std::string last_error;
		std::uint64_t directions = 0;
	};

	asio::awaitable<void> heartbeat_loop();
	asio::awaitable<void> share(Relay &r);
	void mark_down(Relay &r, const std::string &why);

	asio::io_context &io_;
	std::string domain_;
	asio::ssl::context ctx_;
	std::vector<Relay> relays_;
	asio::steady_timer timer_;
	bool stopped_ = false;
};

} // namespace ntmd

#endif
