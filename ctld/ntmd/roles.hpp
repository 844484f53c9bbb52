// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd with a configuration file: runs the roles it names (as, dc, node)
 * on one event loop, with the control socket and signal handling:
 * SIGTERM/SIGINT stop (the node deregisters first), SIGHUP makes the node
 * register again, SIGUSR1 logs the status of every role.
 */
#ifndef NTMD_ROLES_HPP
#define NTMD_ROLES_HPP

#include "ntm/config.hpp"

namespace ntmd {

/** Runs until SIGTERM/SIGINT (returns 0); throws on fatal errors after cleaning up. */
int run_roles(const ntm::config::Config &cfg);

} // namespace ntmd

#endif
