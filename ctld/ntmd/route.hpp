// SPDX-License-Identifier: GPL-2.0
/*
 * The DC's route decision for one Direction Request: direct (and who
 * opens) or through a Relay Server (and which one), as specified in
 * Documentation/protocol/relay.rst, "The DC's route decision". Pure: it
 * sees what the registry and the relay connections know, and does no I/O,
 * so every row of the table is a unit test.
 */
#ifndef NTMD_ROUTE_HPP
#define NTMD_ROUTE_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "ntm/model.hpp"

namespace ntmd::route {

/** How a node's NAT maps, as the node measured it (NAT_MAPPING). */
enum class NatMapping : std::uint8_t {
	unknown = 0,
	endpoint_independent = 1,
	per_destination = 2, /* RFC 4787 address(-and-port)-dependent: punching cannot work */
};

/** What the DC knows of one node of the pair. */
struct NodeView {
	ntm::Endpoint external; /* the source of its keepalives */
	bool nated = false;
	NatMapping mapping = NatMapping::unknown;
};

/** What the DC knows of one Relay Server. */
struct RelayView {
	bool up = false; /* TLS connection established and its Key Sharing acknowledged */
	bool has_v4 = false;
	bool has_v6 = false;
	std::uint32_t sessions = 0;
	std::uint32_t capacity = 0;
};

/** A direct path: the opener sends the Tunnel Request to the waiter's external endpoint. */
struct Direct {
	bool cn_opens = true;
};

/** A relayed path through relays[relay]. */
struct Relayed {
	std::size_t relay = 0;
	bool probe = false; /* the nodes try to move to a direct path (route optimisation) */
};

/** No path: the DC answers NO_ROUTE with why. */
struct NoRoute {
	std::string why;
};

using Decision = std::variant<Direct, Relayed, NoRoute>;

/**
 * Decides the path between MN and CN. relays are in configuration order;
 * among the usable ones (up, not full, with an address of each leg's
 * family) the least loaded relative to its capacity wins, the first on a
 * tie.
 */
Decision decide(const NodeView &mn, const NodeView &cn, std::span<const RelayView> relays);

/** The usable relay for legs of these families, least loaded first; nullopt when none. */
std::optional<std::size_t> pick_relay(int mn_family, int cn_family, std::span<const RelayView> relays);

} // namespace ntmd::route

#endif
