// SPDX-License-Identifier: GPL-2.0
/*
 * What every role that drives an ntm device needs from the kernel side:
 * the device itself (found, or created and later deleted), the events
 * multicast group and an rtnetlink watch as asio descriptors, and the loop
 * that turns event datagrams into ntm::Event values. Used by the node and
 * the ike role.
 */
#ifndef NTMD_KDEV_HPP
#define NTMD_KDEV_HPP

#include <cstdint>
#include <functional>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "ntm/genl.hpp"
#include "ntm/model.hpp"

namespace ntmd {

/** An ntm device a role uses, and whether the role created it. */
struct NtmLink {
	std::uint32_t ifindex = 0;
	bool created = false;
};

/**
 * The ntm device name: the existing one, or a new one (created = true).
 * Throws ntm::Error (EEXIST) when name is a device of another kind. who
 * prefixes the log line ("node", "ike").
 */
NtmLink open_ntm_link(const std::string &name, const char *who);

/**
 * Restart resync (D80): a device the role found (not created) may hold
 * tunnels (and, with relays, relay sessions) of an earlier run of ntmd
 * that was killed.  Their keys and state died with that process, so they
 * cannot be adopted; they are removed, and would otherwise make the
 * rebuilt ones fail with EEXIST.  Returns how many were removed; throws
 * ntm::Error when the kernel cannot be asked.
 */
std::size_t clear_stale_state(ntm::GenlSocket &genl, const NtmLink &link, const std::string &name, const char *who,
			      bool relays);

/**
 * Undoes open_ntm_link: deletes the device the role created (with every
 * tunnel, address and route), or removes every tunnel of one it found.
 * Logs failures; never throws. link.ifindex is 0 afterwards.
 */
void close_ntm_link(ntm::GenlSocket &genl, NtmLink &link, const std::string &name, const char *who) noexcept;

/**
 * Joins the events group on events (4 MiB receive buffer, non-blocking)
 * and makes d watch a duplicate of its descriptor.
 */
void watch_kernel_events(ntm::GenlSocket &events, asio::posix::stream_descriptor &d);

/** Makes d watch a new NETLINK_ROUTE socket bound to the RTMGRP_* groups. */
void watch_rtnetlink(asio::posix::stream_descriptor &d, std::uint32_t groups);

/**
 * Reads the kernel's events until d is closed or cancelled, or stopped is
 * set, and hands each parsed one to sink. Unparsable events and losses
 * (receive buffer overruns) are logged with who.
 */
asio::awaitable<void> kernel_event_loop(asio::posix::stream_descriptor &d, ntm::GenlSocket &events, const bool &stopped,
					std::function<void(const ntm::Event &)> sink, const char *who);

} // namespace ntmd

#endif
