// SPDX-License-Identifier: GPL-2.0
/*
 * Building and parsing the attributes of the ntm generic-netlink family.
 *
 * Parsers take the attribute stream of one message (the bytes after the
 * struct genlmsghdr), accept any alignment of the buffer, check the length
 * of every attribute they use, ignore unknown attributes (newer kernels),
 * and throw ProtocolError on anything malformed. They never read outside the
 * buffer whatever it holds (fuzzed in tests/fuzz).
 */
#ifndef NTM_CODEC_HPP
#define NTM_CODEC_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "ntm/model.hpp"

struct nl_msg;
struct nlattr;

namespace ntm {

/* ---- requests ---- */

/** NTM_A_IFINDEX when ref.ifindex != 0, else NTM_A_IFNAME. */
void put_device_ref(nl_msg *msg, const DeviceRef &ref);
void put_device_settings(nl_msg *msg, const DeviceSettings &s);
/** One NTM_A_TUNNEL nest with the set fields of s. */
void put_tunnel(nl_msg *msg, const TunnelSettings &s);
/** NTM_A_TUNNEL nest holding only NTM_TUNNEL_A_LOCAL_INDEX. */
void put_tunnel_index(nl_msg *msg, std::uint32_t local_index);
void put_flag(nl_msg *msg, int attr);
/** One NTM_A_RELAY nest with the set fields of s (legs carry their SIDE). */
void put_relay(nl_msg *msg, const RelaySettings &s);
/** NTM_A_RELAY nest holding only NTM_RELAY_A_ID. */
void put_relay_id(nl_msg *msg, std::uint32_t id);

/* ---- replies ---- */

using AttrBytes = std::span<const std::uint8_t>;

/** Reply of NTM_CMD_GET_DEVICE. */
Device parse_device(AttrBytes attrs);

/**
 * Message of NTM_CMD_GET_TUNNEL (doit reply or one dump part): calls sink
 * for each NTM_A_TUNNEL in order. Returns NTM_A_IFINDEX (0 if absent).
 */
std::uint32_t parse_tunnels(AttrBytes attrs, const std::function<void(Tunnel &&)> &sink);

/** The nested NTM_A_TUNNEL payload (attributes of enum ntm_tunnel_attr). */
Tunnel parse_tunnel_attrs(AttrBytes nested);

/**
 * Message of NTM_CMD_GET_RELAY (doit reply or one dump part): calls sink
 * for each NTM_A_RELAY in order. Returns NTM_A_IFINDEX (0 if absent).
 */
std::uint32_t parse_relays(AttrBytes attrs, const std::function<void(Relay &&)> &sink);

/**
 * The nested NTM_A_RELAY payload: ID is required, legs are placed by
 * their SIDE (by position when it is absent); more than two legs, a SIDE
 * out of range or a leg given twice is a ProtocolError.
 */
Relay parse_relay_attrs(AttrBytes nested);

/** The nested NTM_A_STATS / NTM_TUNNEL_A_STATS payload. */
Stats parse_stats(AttrBytes nested);

/**
 * Multicast message of the events group. nullopt when cmd is not an event
 * command (ignored, for forward compatibility).
 */
std::optional<Event> parse_event(std::uint8_t cmd, AttrBytes attrs);

} // namespace ntm

#endif
