// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd --check-config (D95, ntmd(8)): after the configuration parsed, every
 * file and directory it names for the roles it enables, checked the way
 * ntmd will use them at start, with all problems collected.
 */
#ifndef NTMD_CHECK_CONFIG_HPP
#define NTMD_CHECK_CONFIG_HPP

#include "check_files.hpp"
#include "check_report.hpp"
#include "ntm/config.hpp"

namespace ntmd::check {

/**
 * The configuration file itself (cfg.path), then per enabled role: [tls]
 * CA files, certificate and key (node, as, dc, rs), node.password_file,
 * the databases and their directories (as, dc), [ike] CA, certificates,
 * keys and PSK files, and the control socket's directory. Never throws for
 * a problem of a file: every one is in the report.
 */
Report check_config(const ntm::config::Config &cfg, const Options &o);

} // namespace ntmd::check

#endif
