// SPDX-License-Identifier: GPL-2.0
/*
 * The life of a node's data tunnel after it is built
 * (Documentation/protocol/tunnel-keys.rst, "Rekeying" and "Liveness"):
 * when to probe a silent peer, when to declare it dead, when the opener
 * starts a new key exchange, and the make-before-break steps of a key
 * change (successor installed, predecessor retired after a grace).
 *
 * Pure decisions over what the node observed at one tick, so that every
 * rule is unit-tested (tests/unit/test_node_tunnel.cpp); node.cpp does the
 * signalling and programs the kernel.
 */
#ifndef NTMD_NODE_TUNNEL_HPP
#define NTMD_NODE_TUNNEL_HPP

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace ntmd {

/** The knobs, from ntmd.toml's [node] (ntmd.toml(5)). */
struct TunnelPolicy {
	using seconds = std::chrono::seconds;
	seconds keepalive{10};	     /* probe a peer silent this long */
	seconds dead_after{30};	     /* remove a tunnel silent this long */
	seconds rekey_after{600};    /* the opener rekeys a key this old; 0: never */
	std::uint64_t rekey_packets = 1ULL << 31; /* ... or after this many packets both ways; 0: never */

	/* fixed: not worth a knob */
	static constexpr auto kRekeyRetry = std::chrono::seconds(10);	  /* after a failed exchange */
	static constexpr auto kRetireGrace = std::chrono::seconds(2);	  /* old key kept after the switch */
	static constexpr auto kTakeoverWait = std::chrono::seconds(30); /* successor unconfirmed this long */

	/** Seconds between liveness probes while the peer is silent: a third of keepalive, at least 1 s. */
	[[nodiscard]] std::chrono::seconds probe_every() const noexcept
	{
		return std::max(seconds(1), keepalive / 3);
	}
	/** Hard lifetime of one key in the kernel when tunnel_lifetime is not set: twice rekey_after. */
	[[nodiscard]] std::uint32_t default_key_lifetime() const noexcept
	{
		return rekey_after.count() == 0 ? 0U : static_cast<std::uint32_t>(2 * rekey_after.count());
	}
};

/** What the node saw of one tunnel at one tick. */
struct TunnelObservation {
	double silent_s = 0;	      /* since the peer last proved it is there: data or signalling */
	double key_age_s = 0;	      /* since the current key was installed */
	std::uint64_t packets = 0;    /* under the current key, both directions */
	bool opener = false;	      /* only the opener starts a rekey */
	bool changing_key = false;    /* an exchange in flight or a predecessor not yet retired */
	double since_probe_s = 1e9;   /* since our last liveness probe */
	double since_rekey_try_s = 1e9; /* since our last failed exchange */
};

enum class TunnelDue { nothing, probe, rekey, dead };

/**
 * One tick's decision, in this order: dead (silent for dead_after), rekey
 * (opener, key old or worn, no change in progress, not right after a
 * failure; a rekey also proves liveness), probe (silent for keepalive, one
 * probe every probe_every()).
 */
TunnelDue tunnel_due(const TunnelPolicy &p, const TunnelObservation &o) noexcept;

/** One key change of a tunnel, from the exchange until the old key is gone. */
struct KeyChange {
	using Clock = std::chrono::steady_clock;
	std::uint32_t generation = 0;  /* of the new key */
	std::uint32_t old_index = 0;   /* the predecessor's local index */
	std::uint32_t new_index = 0;   /* the successor's */
	std::uint32_t new_remote = 0;  /* the peer's index of the new key */
	Clock::time_point started{};   /* successor programmed */
	bool switched = false;	       /* the successor transmits (opener: at once; waiter: takeover) */
	std::optional<Clock::time_point> retire_at; /* when the predecessor goes */
};

enum class KeyChangeDue { nothing, retire_old, abort_new };

/**
 * What to do with a key change now.
 * opener: the successor took over at creation; the predecessor is deleted
 * kRetireGrace after the successor first received (the waiter has
 * switched), or kTakeoverWait after the start whatever happened.
 * waiter: the successor takes over on its first authentic packet (the
 * kernel) or when the opener's confirmation arrives; the predecessor goes
 * kRetireGrace later; a successor that never took over within
 * kTakeoverWait is removed and the old key stays.
 * successor_rx: the successor has received an authentic packet.
 */
KeyChangeDue key_change_due(KeyChange &k, bool opener, bool successor_rx, KeyChange::Clock::time_point now);

} // namespace ntmd

#endif
