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

/** 32 or 64 hex digits (either case) into 16 or 32 bytes. */
SecretBytes parse_hex_key(std::string_view s);
/** Throws UsageError unless a key of key_len bytes suits the cipher. */
void check_key_length(std::uint16_t cipher, std::size_t key_len);
/**
 * The text of a key file: the hex key, optionally followed by whitespace
 * (a trailing newline).
 */
SecretBytes parse_key_text(std::string_view s);
/** Reads and parses a key file (at most 4 KiB). Throws Error when unreadable. */
SecretBytes read_key_file(const std::string &path);

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

/** An interface name as the kernel accepts it: 1..15 bytes, no '/', ':' or space. */
std::string parse_ifname(std::string_view s);

} // namespace ntm

#endif
