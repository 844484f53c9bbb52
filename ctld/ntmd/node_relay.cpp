// SPDX-License-Identifier: GPL-2.0
#include "node_relay.hpp"
#include "events.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
namespace sig = ntm::sig;

namespace {

/*
 * Relay Bind: 0.5 + 1 + 2 + 4 s, so a dead relay is noticed within about
 * 7.5 s of silence, and a slow one (software emulation, a loaded relay) is
 * not mistaken for a dead one.
 */
constexpr unsigned kBindRetries = 3;
/* while the relay stays lost, ask for a new path again this often */
constexpr auto kLostAgain = std::chrono::seconds(10);

const char *mapping_name(sig::NatMapping m) noexcept
{
	switch (m) {
	case sig::NatMapping::endpoint_independent:
		return "endpoint-independent";
	case sig::NatMapping::per_destination:
		return "per-destination";
	case sig::NatMapping::unknown:
		break;
	}
	return "unknown";
}

} // namespace

RelayedPath::RelayedPath(PathEnv env, std::shared_ptr<SigSession> tun, sig::Leg leg, ntm::Endpoint relay_ep,
			 std::vector<ntm::Endpoint> candidates, bool probe, std::string peer)
    : env_(std::move(env)), tun_(std::move(tun)), leg_(leg), relay_ep_(relay_ep), candidates_(std::move(candidates)),
      probe_(probe), peer_(std::move(peer))
{
	if (!candidates_.empty())
		external_ = candidates_.back();
	/* the relay answers this node under its own direction of K_tun */
	tun_->relay_dir = leg == sig::Leg::opener ? sig::Direction::rs_to_opener : sig::Direction::rs_to_waiter;
}

sig::NatMapping RelayedPath::verdict(const ntm::Endpoint &seen_by_dc, const ntm::Endpoint &seen_by_relay)
{
	if (seen_by_dc.address() != seen_by_relay.address())
		return sig::NatMapping::unknown; /* several external addresses (a NAT pool): cannot tell */
	return seen_by_dc.port() == seen_by_relay.port() ? sig::NatMapping::endpoint_independent
							 : sig::NatMapping::per_destination;
}

awaitable<void> RelayedPath::bind()
{
	const auto self = shared_from_this();
	sig::Message req;
	req.type = sig::MsgType::relay_bind;
	req.leg = leg_;
	binds_++;
	const auto resp = co_await env_.sigio.request(tun_, relay_ep_, req, kBindRetries);
	if (resp.status != sig::Status::ok)
		throw ntm::Error("relay " + relay_ep_.to_string() + " refused the bind: " +
				 std::string(sig::status_name(*resp.status)));
	last_ack_ = Clock::now();
	const auto ext = env_.external_ep();
	if (resp.observed_ep && ext) {
		const auto v = verdict(*ext, *resp.observed_ep);
		if (v != mapping_) {
			mapping_ = v;
			spdlog::info("node: NAT mapping toward {} and the relay: {} ({} / {})", peer_, mapping_name(v),
				     ext->to_string(), resp.observed_ep->to_string());
			env_.on_mapping(v);
		}
	}
}

void RelayedPath::start()
{
	if (started_ || stopped_)
		return;
	started_ = true;
	const auto self = shared_from_this();
	asio::co_spawn(env_.io, check_loop(), asio::detached);
	if (probe_ && !candidates_.empty())
		asio::co_spawn(env_.io, probe_loop(), asio::detached);
}

void RelayedPath::stop() noexcept
{
	stopped_ = true;
	try {
		for (auto *t : sleepers_)
			t->cancel();
	} catch (...) { // NOLINT(bugprone-empty-catch): a missed sleeper sees stopped_ when it wakes
	}
}

void RelayedPath::network_changed()
{
	reprobe_ = true;
	last_ack_ = {}; /* bind again at the next check */
	for (auto *t : sleepers_)
		t->cancel();
	/* a bind or probe already waiting for its answer goes again by the new path now */
	env_.sigio.hurry(tun_->kind, tun_->key_id);
}

awaitable<void> RelayedPath::sleep(Clock::duration d)
{
	asio::steady_timer t(env_.io);
	t.expires_after(d);
	sleepers_.push_back(&t);
	asio::error_code ec;
	co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
	std::erase(sleepers_, &t);
}

/*
 * The relay must keep knowing where we are: a Relay Bind every kRebind,
 * and at once when the tunnel has been silent for kRxStale although it is
 * relayed (the relay may be gone). A bind that gets no answer while the
 * tunnel depends on the relay is a lost relay.
 */
awaitable<void> RelayedPath::check_loop()
{
	const auto self = shared_from_this();
	bool lost = false;
	Clock::time_point lost_at{};
	while (!stopped_) {
		co_await sleep(kCheck);
		if (stopped_)
			break;
		const auto now = Clock::now();
		const auto since_ack = now - last_ack_;
		bool need = since_ack >= kRebind;
		if (!need && !direct_ && since_ack >= kRxStale) {
			const auto idle = env_.rx_idle_s();
			need = idle && *idle * 1000.0 >= static_cast<double>(kRxStale.count());
		}
		if (!need)
			continue;
		try {
			co_await bind();
			if (lost)
				spdlog::info("node: relay {} answers again", relay_ep_.to_string());
			lost = false;
		} catch (const std::exception &e) {
			if (stopped_)
				break;
			bind_failures_++;
			/* reported once, then again while it lasts: the first new path may fail too */
			if (!direct_ && (!lost || Clock::now() - lost_at >= kLostAgain)) {
				lost = true;
				lost_at = Clock::now();
				spdlog::warn("node: relay {} for {} lost: {}", relay_ep_.to_string(), peer_, e.what());
				env_.on_relay_lost();
			}
		}
	}
}

awaitable<bool> RelayedPath::probe(const ntm::Endpoint &to, unsigned retries)
{
	const auto self = shared_from_this();
	sig::Message req;
	req.type = sig::MsgType::probe;
	req.probe_nonce.resize(sig::kProbeNonceLen);
	sig::random_fill(req.probe_nonce);
	probes_sent_++;
	try {
		/* punching and the fallback's Probe via the relay: one retransmission (an answer within
		 * 1.5 s counts, software emulation is slow); checking a direct path: none (500 ms) */
		const auto resp = co_await env_.sigio.request(tun_, to, req, retries);
		if (resp.status == sig::Status::ok && resp.probe_nonce == req.probe_nonce) {
			probes_answered_++;
			co_return true;
		}
	} catch (const std::exception &) {
		/* no answer: this candidate does not work (yet) */
	}
	co_return false;
}

void RelayedPath::use(const std::optional<ntm::Endpoint> &direct)
{
	const ntm::Endpoint to = direct ? *direct : relay_ep_;
	try {
		env_.set_endpoint(to);
	} catch (const std::exception &e) {
		spdlog::warn("node: tunnel to {}: moving to {}: {}", peer_, to.to_string(), e.what());
		return;
	}
	direct_ = direct;
	if (direct) {
		to_direct_++;
		spdlog::info("node: tunnel to {} is direct now via {} (relay {} stays as the fallback)", peer_,
			     to.to_string(), relay_ep_.to_string());
		emit_event("node", "path", {{"peer", peer_}, {"path", "direct"}, {"endpoint", to.to_string()},
					    {"relay", relay_ep_.to_string()}});
	} else {
		to_relay_++;
		spdlog::info("node: tunnel to {}: the direct path broke, back through relay {}", peer_,
			     relay_ep_.to_string());
		emit_event("node", "path", {{"peer", peer_}, {"path", "relay"}, {"relay", relay_ep_.to_string()}});
	}
}

/*
 * Both nodes probe every candidate at the same time, so each NAT has sent
 * toward the other's mapping before the other's probe arrives. The first
 * candidate whose Probe Ack comes back carries the tunnel; while direct,
 * a probe every kDirectCheck (no retransmission) keeps checking
 * it, and direct_broken() decides when misses send it back to the relay.
 */
awaitable<void> RelayedPath::probe_loop()
{
	const auto self = shared_from_this();
	auto again = kProbeAgainMin;
	while (!stopped_) {
		reprobe_ = false;
		const auto start = Clock::now();
		while (!stopped_ && !direct_ && Clock::now() - start < kProbeFor) {
			/* our NAT maps per destination: punching through it cannot work, the LAN still can */
			const bool lan_only = mapping_ == sig::NatMapping::per_destination;
			for (const auto &c : candidates_) {
				if (lan_only && external_ && c == *external_)
					continue;
				asio::co_spawn(
					env_.io,
					[self, c]() -> awaitable<void> {
						if (co_await self->probe(c) && !self->direct_ && !self->stopped_)
							self->use(c);
					},
					asio::detached);
			}
			co_await sleep(Clock::now() - start < kProbeFastFor ? Clock::duration(kProbeFast)
									    : Clock::duration(kProbeSlow));
		}
		unsigned misses = 0;
		while (!stopped_ && direct_ && !reprobe_) {
			co_await sleep(kDirectCheck);
			if (stopped_ || !direct_)
				break;
			if (co_await probe(*direct_, 0U)) {
				misses = 0;
				again = kProbeAgainMin;
			} else if (direct_ && !stopped_ && direct_broken_now(++misses)) {
				fall_back();
			}
		}
		if (stopped_)
			break;
		if (reprobe_)
			continue;
		co_await sleep(again);
		again = std::min(again * 2, std::chrono::duration_cast<std::chrono::seconds>(kProbeAgainMax));
	}
}

/*
 * Two probes in a row unanswered (about 2 s after the break at most) are
 * enough when the kernel confirms it: the tunnel kept sending since the
 * first miss but received no authentic packet for kDirectRxStale. An idle
 * tunnel loses nothing while it waits, and probes may just be slow under
 * load: kDirectMissesMax misses then (about 4 s), as when packets still
 * arrive (through the relay from a peer that already fell back -- which
 * also tells us with a Probe via the relay -- or on a path broken one way
 * only). A wrong fallback costs only delay: the relay stays bound, and the
 * direct path is tried again after kProbeAgainMin.
 */
bool RelayedPath::direct_broken(unsigned misses, std::optional<std::uint64_t> tx_first,
				std::optional<std::uint64_t> tx_now, std::optional<double> rx_idle_s)
{
	if (misses >= kDirectMissesMax)
		return true;
	if (misses < kDirectMisses || !tx_first || !tx_now || *tx_now <= *tx_first)
		return false;
	return !rx_idle_s || *rx_idle_s * 1000.0 >= static_cast<double>(kDirectRxStale.count());
}

bool RelayedPath::direct_broken_now(unsigned misses)
{
	if (misses >= kDirectMissesMax)
		return true;
	const auto tx = env_.tx_packets ? env_.tx_packets() : std::nullopt;
	if (misses <= 1) {
		tx_at_miss_ = tx;
		return false;
	}
	return direct_broken(misses, tx_at_miss_, tx, env_.rx_idle_s());
}

void RelayedPath::fall_back()
{
	use(std::nullopt);
	if (direct_)
		return; /* the kernel refused the move: still direct */
	asio::co_spawn(
		env_.io,
		[self = shared_from_this()]() -> awaitable<void> {
			try {
				co_await self->bind();
			} catch (const std::exception &e) {
				/* check_loop notices a lost relay and asks for a new path */
				spdlog::debug("node: relay {} after the fallback: {}", self->relay_ep_.to_string(),
					      e.what());
				co_return;
			}
			/* tell the peer through the relay: its direct path may work one way only */
			if (!self->direct_ && !self->stopped_)
				co_await self->probe(self->relay_ep_, 1U);
		},
		asio::detached);
}

void RelayedPath::peer_on_relay()
{
	if (!direct_ || stopped_)
		return;
	spdlog::info("node: tunnel to {}: the peer sends through relay {}, so do we", peer_,
		     relay_ep_.to_string());
	fall_back();
}

nlohmann::json RelayedPath::status() const
{
	return {{"path", direct_ ? "direct" : "relay"},
		{"relay", relay_ep_.to_string()},
		{"direct", direct_ ? nlohmann::json(direct_->to_string()) : nlohmann::json(nullptr)},
		{"probe", probe_},
		{"nat_mapping", mapping_name(mapping_)},
		{"binds", binds_},
		{"bind_failures", bind_failures_},
		{"probes_sent", probes_sent_},
		{"probes_answered", probes_answered_},
		{"to_direct", to_direct_},
		{"to_relay", to_relay_}};
}

} // namespace ntmd
