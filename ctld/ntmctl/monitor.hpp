// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl monitor: the kernel's events (genetlink multicast group
 * "events") and ntmd's daemon events (control socket, {"cmd":"subscribe"}),
 * one line each, with a timestamp (D97).
 */
#ifndef NTMCTL_MONITOR_HPP
#define NTMCTL_MONITOR_HPP

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"

namespace ntmctl {

/** ISO 8601 in the local time zone with milliseconds: 2026-12-06T12:17:00.123+01:00. */
std::string iso_timestamp(std::chrono::system_clock::time_point t);

/**
 * One daemon event (a line of ntmd's event stream) as monitor prints it:
 * "ntmd ROLE EVENT key value ...", names with '-' for '_', the fields in
 * key order, values with blanks or quotes (and empty ones) in JSON quotes.
 */
std::string format_daemon_event(const nlohmann::json &ev);

int cmd_monitor(Context &ctx, const MonitorCmd &c, const std::optional<std::string> &cfg_path, bool as_json);

} // namespace ntmctl

#endif
