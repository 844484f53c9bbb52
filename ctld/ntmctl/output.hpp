// SPDX-License-Identifier: GPL-2.0
/* Text output of ntmctl (the JSON forms live in libntm, ntm/json.hpp). */
#ifndef NTMCTL_OUTPUT_HPP
#define NTMCTL_OUTPUT_HPP

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ntm/model.hpp"

namespace ntmctl {

/** CLOCK_BOOTTIME now, the clock of NTM_TUNNEL_A_LAST_RX_NS. */
std::uint64_t boottime_ns() noexcept;

/** "interface: ntm0" section of show / device show. */
void print_device(std::FILE *out, const ntm::Device &d);
/** "tunnel: 7" section of show (wg show style). */
/** peer: who the tunnel leads to (from ntmd), empty when unknown. */
void print_tunnel(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns, const std::string &peer = {});
/** The table of tunnel show: header, then one row per tunnel. */
void print_tunnel_header(std::FILE *out);
void print_tunnel_row(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns);
/** The same row appended to a buffer (the dump's hot loop). */
void format_tunnel_row(fmt::memory_buffer &buf, const ntm::Tunnel &t, std::uint64_t now_ns);

/**
 * Output of a dump: records are appended to buf() and written to the
 * stream in chunks of 256 KiB, so 100 000 tunnels cost a few hundred
 * write()s instead of one per 4 KiB stdio buffer.  What is buffered is
 * written by flush() and the destructor, also when the dump fails half
 * way (the tunnels before the error were shown before, too).
 */
class DumpWriter {
public:
	explicit DumpWriter(std::FILE *out) noexcept : out_(out) {}
	DumpWriter(const DumpWriter &) = delete;
	DumpWriter &operator=(const DumpWriter &) = delete;
	~DumpWriter() { flush(); }

	[[nodiscard]] fmt::memory_buffer &buf() noexcept { return buf_; }
	/** Call after each record: writes the buffer once it is full. */
	void commit()
	{
		if (buf_.size() >= kChunk)
			flush();
	}
	void flush() noexcept;

private:
	static constexpr std::size_t kChunk = std::size_t{256} * 1024;
	std::FILE *out_;
	fmt::memory_buffer buf_;
};

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

/** Bytes in binary units, one decimal: "0 B", "512 B", "1.5 KiB", "3.0 GiB". */
std::string human_bytes(std::uint64_t n);
/** Seconds as "12s ago", "3m ago", "2h ago", "4d ago"; "-" when negative. */
std::string ago(std::int64_t seconds);

/** Inner bytes of one kernel tunnel, by its local index. */
struct Traffic {
	std::uint64_t rx = 0, tx = 0;
};

/**
 * The peer table of ntmctl status (tailscale status style) from the node
 * role's status object: a header, then per peer its FQDN (the endpoint when
 * unknown), virtual addresses, path (direct, or relayed via the relay's
 * endpoint), endpoint, last handshake (key_age_s), rx and tx from traffic
 * ("-" for a tunnel the kernel did not show). Only the header without peers.
 */
std::vector<std::vector<std::string>> peer_table(const nlohmann::ordered_json &node,
						 const std::map<std::uint32_t, Traffic> &traffic);

} // namespace ntmctl

#endif
