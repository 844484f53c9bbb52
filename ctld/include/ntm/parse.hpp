// SPDX-License-Identifier: GPL-2.0
/*
 * Strict parsers for user input. Each throws UsageError with a message that
 * names the offending value (never for key material) and what was expected.
 */
#ifndef NTM_PARSE_HPP
#define NTM_PARSE_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/model.hpp"
#include "ntm/secret.hpp"

namespace ntm {

/** Dotted-quad IPv4 ("10.0.0.1"); no leading zeros, no shorthand. */
IpAddress parse_ipv4(std::string_view s);
/** RFC 4291 text form of an IPv6 address; no zone ("%eth0"), no brackets. */
IpAddress parse_ipv6(std::string_view s);
/** Either of the above. */
IpAddress parse_address(std::string_view s);

/**
 * A peer's virtual address: unicast only (not unspecified, multicast,
 * limited broadcast, or an IPv4-mapped IPv6 address). family is AF_INET or
 * AF_INET6; what names the option in error messages.
 */
IpAddress parse_vip(std::string_view s, int family, std::string_view what);

/**
 * "1.2.3.4:5000" or "[2001:db8::1]:5000", port 1..65535. The address must be
 * usable as a destination: not unspecified, not multicast, not IPv4-mapped
 * (write the IPv4 form instead).
 */
Endpoint parse_endpoint(std::string_view s);

/** "aes-gcm" or "chacha20-poly1305": the enum ntm_cipher value. */
std::uint16_t parse_cipher(std::string_view s);

/** 32, 48 or 64 hex digits (either case) into 16, 24 or 32 bytes. */
SecretBytes parse_hex_key(std::string_view s);
/**
 * Throws UsageError unless a key of key_len bytes suits the cipher:
 * AES-GCM 16 or 32 bytes (ESP, encap NTM_ENCAP_ESP_UDP: also 24),
 * ChaCha20-Poly1305 32.
 */
void check_key_length(std::uint16_t cipher, std::size_t key_len, std::uint8_t encap = NTM_ENCAP_NTM);
/**
 * The text of a key file: the hex key, optionally followed by whitespace
 * (a trailing newline).
 */
SecretBytes parse_key_text(std::string_view s);
/** Reads and parses a key file (at most 4 KiB). Throws Error when unreadable. */
SecretBytes read_key_file(const std::string &path);
/** Reads and parses a key from an open descriptor (at most 4 KiB; what names it in errors). */
SecretBytes read_key_fd(int fd, const std::string &what);

/** Exactly 8 hex digits: a 4-byte salt. */
Salt parse_salt(std::string_view s, std::string_view what);

/**
 * Unsigned integer in decimal or 0x-prefixed hex, no sign, no spaces, in
 * [min, max]; what names the value in error messages.
 */
std::uint64_t parse_unsigned(std::string_view s, std::string_view what, std::uint64_t min, std::uint64_t max);
std::uint32_t parse_u32(std::string_view s, std::string_view what, std::uint32_t min = 0,
			std::uint32_t max = UINT32_MAX);

/** "on" -> true, "off" -> false. */
bool parse_on_off(std::string_view s, std::string_view what);

/** "now" or "rx" (also "on-rx"): the enum ntm_takeover value. */
std::uint8_t parse_takeover(std::string_view s);

/** "ntm" or "esp-udp": the enum ntm_encap value. */
std::uint8_t parse_encap(std::string_view s);

/**
 * A traffic selector: ADDRESS/LENGTH (10.2.0.0/16, fd00:2::/64) or a bare
 * address (a /32 or /128 host). Host bits must be zero; IPv4-mapped IPv6
 * addresses are refused. what names the option in error messages.
 */
Prefix parse_traffic_selector(std::string_view s, std::string_view what);
/**
 * A comma-separated list of traffic selectors ("10.2.0.0/16,fd00:2::/64"),
 * appended to out; throws when out would hold more than NTM_TS_MAX.
 */
void parse_traffic_selectors(std::string_view s, std::string_view what, std::vector<Prefix> &out);

/**
 * An amount of bytes or packets: an unsigned number (decimal or 0x hex)
 * with an optional suffix K, M, G, T, P or E (powers of 1024): 1G is
 * 1073741824. At most UINT64_MAX.
 */
std::uint64_t parse_amount(std::string_view s, std::string_view what);

/** What check_tunnel() validates a TunnelSettings for. */
enum class TunnelRequest { create, change };

/**
 * Validates a request before it is sent, so that mistakes get a clear
 * UsageError instead of the kernel's EINVAL:
 *   create: local/remote index, endpoint, cipher, key, both salts; an NTM
 *     tunnel needs vip4 or vip6 and different salts and takes no rx_key,
 *     esn or traffic selectors, tx_counter below NTM_COUNTER_LIMIT; an ESP
 *     tunnel (encap esp-udp) needs SPIs >= NTM_ESP_SPI_MIN, rx_key (same
 *     length as key), at least one remote_ts, no vip4/vip6, a tx_counter
 *     of 1..2^32-1 (esn: 1..NTM_COUNTER_LIMIT-1); at most NTM_TS_MAX
 *     selectors per direction, all valid (no host bits); a key pair and
 *     salt pair that are both equal are refused (nonce reuse); replaces
 *     (NTM only) must differ from the local index and be non-zero;
 *     takeover is NTM_TAKEOVER_ON_RX or _NOW (ON_RX without replaces holds
 *     a new tunnel until its peer's first packet).
 *   change: local index plus any of endpoint, flags, the lifetimes and
 *     limits, and takeover NTM_TAKEOVER_NOW (a pending tunnel sends at
 *     once); anything else (tx_counter too) is create-only ("a rekey is a
 *     new tunnel").
 * Both: known flag bits only; a soft limit must be below its hard limit
 * when both are given and the hard one is not 0.
 */
void check_tunnel(const TunnelSettings &s, TunnelRequest what);

/** What check_relay() validates a RelaySettings for. */
enum class RelayRequest { create, change };

/**
 * Validates a relay request before it is sent:
 *   create: id, both legs with an endpoint and an index (1..2^32-1); the
 *     two legs must not install the same (source, index) key, i.e. not the
 *     same endpoint and the same index.
 *   change: id and something to change: a leg endpoint (never an index:
 *     a new index is a new session) or a limit.
 * Both: id 1..2^32-1, idle_timeout at most NTM_RELAY_IDLE_MAX, endpoints
 * that are not IPv6 link-local.
 */
void check_relay(const RelaySettings &s, RelayRequest what);

/** An interface name as the kernel accepts it: 1..15 bytes, no '/', ':' or space. */
std::string parse_ifname(std::string_view s);

} // namespace ntm

#endif
