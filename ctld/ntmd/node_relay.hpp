// SPDX-License-Identifier: GPL-2.0
/*
 * A node's relayed tunnel (Documentation/protocol/relay.rst, "The relayed
 * sequence" and "Route optimisation"): the Relay Binds that tell the relay
 * where this node is and keep its NAT mapping toward the relay open, the
 * Probes that look for a direct path and move the tunnel to it, the
 * checks that move it back to the relay when the direct path breaks, and
 * the NAT-mapping verdict that the relay's OBSERVED_EP makes possible.
 *
 * The node role owns one RelayedPath per relayed communication; the path
 * reaches the kernel and the rest of the node only through PathEnv.
 */
#ifndef NTMD_NODE_RELAY_HPP
#define NTMD_NODE_RELAY_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "ntm/model.hpp"
#include "ntm/sig.hpp"
#include "sigio.hpp"

namespace ntmd {

/** What a relayed path needs from the node role. */
struct PathEnv {
	asio::io_context &io;
	SigIo &sigio;
	/** Moves the tunnel's endpoint (SET_TUNNEL); throws on failure. */
	std::function<void(const ntm::Endpoint &)> set_endpoint;
	/** Seconds since the tunnel last received an authentic packet; nullopt when unknown (no tunnel yet). */
	std::function<std::optional<double>()> rx_idle_s;
	/** Packets the tunnel has sent (its current key); nullopt when unknown. */
	std::function<std::optional<std::uint64_t>()> tx_packets;
	/** The node's external endpoint as its DC sees it. */
	std::function<std::optional<ntm::Endpoint>()> external_ep;
	/** The relay's OBSERVED_EP told how the NAT maps. */
	std::function<void(ntm::sig::NatMapping)> on_mapping;
	/** The relay stopped answering while the tunnel depends on it. */
	std::function<void()> on_relay_lost;
};

class RelayedPath : public std::enable_shared_from_this<RelayedPath> {
public:
	using Clock = std::chrono::steady_clock;
	/* timers of relay.rst */
	static constexpr auto kRebind = std::chrono::seconds(10);
	static constexpr auto kCheck = std::chrono::seconds(1);
	static constexpr auto kRxStale = std::chrono::milliseconds(2500);
	static constexpr auto kProbeFast = std::chrono::milliseconds(200);
	static constexpr auto kProbeFastFor = std::chrono::seconds(2);
	static constexpr auto kProbeSlow = std::chrono::seconds(1);
	static constexpr auto kProbeFor = std::chrono::seconds(10);
	/* while direct: a probe every kDirectCheck, answered within SigIo's first timeout (500 ms, no
	 * retransmission) */
	static constexpr auto kDirectCheck = std::chrono::milliseconds(500);
	/* back to the relay after kDirectMisses misses in a row when the tunnel sends but has received
	 * nothing for kDirectRxStale, after kDirectMissesMax otherwise (D54) */
	static constexpr unsigned kDirectMisses = 2;
	static constexpr auto kDirectRxStale = std::chrono::milliseconds(1000);
	static constexpr unsigned kDirectMissesMax = 4;
	static constexpr auto kProbeAgainMin = std::chrono::seconds(15);
	static constexpr auto kProbeAgainMax = std::chrono::seconds(120);

	/**
	 * tun: the communication's K_tun session (its relay_dir is set here);
	 * candidates: the PEER_LOCAL_EP values, then the peer's external
	 * endpoint (last);
	 * probe: PATH relay (true) or relay only (false).
	 */
	RelayedPath(PathEnv env, std::shared_ptr<SigSession> tun, ntm::sig::Leg leg, ntm::Endpoint relay_ep,
		    std::vector<ntm::Endpoint> candidates, bool probe, std::string peer);
	RelayedPath(const RelayedPath &) = delete;
	RelayedPath &operator=(const RelayedPath &) = delete;
	RelayedPath(RelayedPath &&) = delete;
	RelayedPath &operator=(RelayedPath &&) = delete;
	~RelayedPath() = default;

	/** One Relay Bind with retransmissions; throws ntm::Error when the relay does not answer. */
	asio::awaitable<void> bind();
	/** Starts rebinding, liveness checks and (when allowed) probing; the tunnel exists now. */
	void start();
	void stop() noexcept;
	/** Local addresses changed: bind again at once and probe again. */
	void network_changed();
	/** An authentic probe from the peer came through the relay: it fell back, so do we (D54). */
	void peer_on_relay();

	[[nodiscard]] const ntm::Endpoint &relay() const noexcept { return relay_ep_; }
	[[nodiscard]] std::optional<ntm::Endpoint> direct() const noexcept { return direct_; }
	[[nodiscard]] bool active() const noexcept { return !stopped_; }
	[[nodiscard]] nlohmann::json status() const;

	/**
	 * Is a direct path broken after misses unanswered probes in a row? tx_first: the tunnel's
	 * tx packets at the first miss, tx_now: now; rx_idle_s: seconds since its last authentic
	 * packet (D54; exposed for tests).
	 */
	static bool direct_broken(unsigned misses, std::optional<std::uint64_t> tx_first,
				  std::optional<std::uint64_t> tx_now, std::optional<double> rx_idle_s);

	/** The relay's verdict from two views of the node's mapping (exposed for tests). */
	static ntm::sig::NatMapping verdict(const ntm::Endpoint &seen_by_dc, const ntm::Endpoint &seen_by_relay);

private:
	asio::awaitable<void> check_loop();
	asio::awaitable<void> probe_loop();
	/* retries: retransmissions, each after the SigIo schedule (0.5, 1, ... s) */
	asio::awaitable<bool> probe(const ntm::Endpoint &to, unsigned retries = 1);
	/* direct_broken() with this tunnel's counters (the tx count is taken at the first miss) */
	[[nodiscard]] bool direct_broken_now(unsigned misses);
	/* Back to the relay, and a Relay Bind at once: the relay may have dropped the idle session. */
	void fall_back();
	asio::awaitable<void> sleep(Clock::duration d);
	void use(const std::optional<ntm::Endpoint> &direct);

	PathEnv env_;
	std::shared_ptr<SigSession> tun_;
	ntm::sig::Leg leg_;
	ntm::Endpoint relay_ep_;
	std::vector<ntm::Endpoint> candidates_;
	std::optional<ntm::Endpoint> external_; /* the candidate that is the peer's NAT */
	bool probe_;
	std::optional<std::uint64_t> tx_at_miss_; /* the tunnel's tx packets at the first miss */
	std::string peer_;
	std::optional<ntm::Endpoint> direct_;
	Clock::time_point last_ack_{};
	bool stopped_ = false;
	bool started_ = false;
	bool reprobe_ = false;
	std::vector<asio::steady_timer *> sleepers_;
	ntm::sig::NatMapping mapping_ = ntm::sig::NatMapping::unknown;
	std::uint64_t binds_ = 0;
	std::uint64_t bind_failures_ = 0;
	std::uint64_t probes_sent_ = 0;
	std::uint64_t probes_answered_ = 0;
	std::uint64_t to_direct_ = 0;
	std::uint64_t to_relay_ = 0;
};

} // namespace ntmd

#endif
