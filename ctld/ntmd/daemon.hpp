// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd, minimal role: own the UDP sockets of one ntm device, hand them to
 * the kernel, read what the kernel passes up, log kernel events, and undo
 * everything on SIGTERM/SIGINT.
 */
#ifndef NTMD_DAEMON_HPP
#define NTMD_DAEMON_HPP

#include <cstdint>
#include <string>

namespace ntmd {

struct Config {
	std::string ifname;
	std::uint16_t port = 0;
	bool create = false; /* create the link when missing (and delete it on exit) */
	std::string pidfile; /* empty: none */
};

/**
 * Runs until SIGTERM/SIGINT; returns the exit status (0). Throws ntm::Error
 * on any failure after undoing what was done (sockets detached, created
 * link deleted).
 */
int run_daemon(const Config &cfg);

} // namespace ntmd

#endif
