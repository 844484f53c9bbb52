// SPDX-License-Identifier: GPL-2.0
/* Text output of ntmctl (the JSON forms live in libntm, ntm/json.hpp). */
#ifndef NTMCTL_OUTPUT_HPP
#define NTMCTL_OUTPUT_HPP

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ntm/model.hpp"

namespace ntmctl {

/** CLOCK_BOOTTIME now, the clock of NTM_TUNNEL_A_LAST_RX_NS. */
std::uint64_t boottime_ns() noexcept;

/** "interface: ntm0" section of show / device show. */
void print_device(std::FILE *out, const ntm::Device &d);
/** "tunnel: 7" section of show (wg show style). */
void print_tunnel(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns);
/** The table of tunnel show: header, then one row per tunnel. */
void print_tunnel_header(std::FILE *out);
void print_tunnel_row(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns);

/** The table of relay show: header, then one row per session. */
void print_relay_header(std::FILE *out);
void print_relay_row(std::FILE *out, const ntm::Relay &r);

/** "3 seconds ago", "never", for the last rx time. */
std::string latest_rx(std::uint64_t last_rx_ns, std::uint64_t now_ns);

/** Unix seconds as "2026-01-02 03:04:05Z" (UTC); "never" for 0. */
std::string format_time(std::int64_t unix_s);

/** A text table: columns padded to their widest cell, two spaces apart. */
void print_table(std::FILE *out, const std::vector<std::vector<std::string>> &rows);

/**
 * A JSON value as indented "key: value" lines (ntmctl status): nested
 * objects indent by two, arrays of scalars print on one line joined by
 * ", ", arrays of objects as "- " items; strings unquoted, null as "-".
 * Members keep the order ntmd sent them in.
 */
void print_json_text(std::FILE *out, const nlohmann::ordered_json &j);

} // namespace ntmctl

#endif
