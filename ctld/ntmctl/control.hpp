// SPDX-License-Identifier: GPL-2.0
/* ntmctl commands that talk to ntmd's control socket (control.cpp). */
#ifndef NTMCTL_CONTROL_HPP
#define NTMCTL_CONTROL_HPP

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "commands.hpp"
#include "ntm/config.hpp"

namespace ntmctl {

/*
 * The configuration: the file of --config (which must load), or the
 * default one when it exists; nullopt when there is none to read
 * (commands.cpp).
 */
std::optional<ntm::config::Config> load_config(const std::optional<std::string> &path);

int cmd_status(Context &ctx, const StatusCmd &c, const std::optional<std::string> &cfg_path, bool as_json);
int cmd_ike(Context &ctx, const IkeCmd &c, const std::optional<std::string> &cfg_path, bool as_json);

/**
 * Who each tunnel leads to, by local index, from a running ntmd: the node
 * role's peers (FQDN) and the ike role's CHILD SAs ("ike NAME", by inbound
 * SPI). Empty when no daemon answers: show works without one.
 */
std::map<std::uint32_t, std::string> tunnel_peers(const std::optional<std::string> &cfg_path) noexcept;

} // namespace ntmctl

#endif
