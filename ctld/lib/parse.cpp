// SPDX-License-Identifier: GPL-2.0
#include "ntm/parse.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"

namespace ntm {

namespace {

/* The value as it may appear in an error message: printable, bounded. */
std::string quote(std::string_view s)
{
	constexpr std::size_t kMax = 64;
	std::string out = "'";
	for (std::size_t i = 0; i < s.size() && i < kMax; i++) {
		const auto c = static_cast<unsigned char>(s[i]);
		out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
	}
	if (s.size() > kMax)
		out += "...";
	out += "'";
	return out;
}

[[noreturn]] void invalid(std::string_view what, std::string_view value, std::string_view why)
{
	throw UsageError("invalid " + std::string(what) + " " + quote(value) + ": " + std::string(why));
}

int hex_value(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool all_hex(std::string_view s) noexcept
{
	return std::ranges::all_of(s, [](char c) { return hex_value(c) >= 0; });
}

/* Decodes an even number of hex digits that all_hex() accepted. */
void decode_hex(std::string_view s, std::span<std::uint8_t> out) noexcept
{
	for (std::size_t i = 0; i < out.size(); i++) {
		const int hi = hex_value(s[2 * i]);
		const int lo = hex_value(s[2 * i + 1]);
		out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
	}
}

bool is_v4_unicast(const IpAddress &a) noexcept
{
	const auto b = a.bytes();
	const bool unspecified = b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0;
	const bool broadcast = b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255;
	const bool multicast = (b[0] & 0xf0) == 0xe0;
	return !unspecified && !broadcast && !multicast;
}

const char *v6_unusable(const IpAddress &a) noexcept
{
	const in6_addr in6 = a.to_in6_addr();
	if (IN6_IS_ADDR_UNSPECIFIED(&in6))
		return "the unspecified address";
	if (IN6_IS_ADDR_MULTICAST(&in6))
		return "a multicast address";
	if (IN6_IS_ADDR_V4MAPPED(&in6))
		return "an IPv4-mapped address (write the IPv4 address instead)";
	return nullptr;
}

std::uint16_t parse_port(std::string_view s, std::string_view whole)
{
	if (s.empty() || s.size() > 5 || !std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; }))
		invalid("endpoint", whole, "port must be a decimal number 1..65535");
	if (s.size() > 1 && s[0] == '0')
		invalid("endpoint", whole, "port has leading zeros");
	unsigned v = 0;
	(void)std::from_chars(s.data(), s.data() + s.size(), v);
	if (v < 1 || v > 65535)
		invalid("endpoint", whole, "port must be 1..65535");
	return static_cast<std::uint16_t>(v);
}

} // namespace

IpAddress parse_ipv4(std::string_view s)
{
	if (s.empty() || s.size() > 15 || s.find('\0') != std::string_view::npos)
		invalid("IPv4 address", s, "expected a.b.c.d");
	const std::string z(s);
	in_addr a{};
	if (inet_pton(AF_INET, z.c_str(), &a) != 1)
		invalid("IPv4 address", s, "expected a.b.c.d");
	return IpAddress::v4(a);
}

IpAddress parse_ipv6(std::string_view s)
{
	if (s.find('%') != std::string_view::npos)
		invalid("IPv6 address", s, "scoped addresses (%zone) are not supported");
	if (s.empty() || s.size() >= INET6_ADDRSTRLEN || s.find('\0') != std::string_view::npos)
		invalid("IPv6 address", s, "expected an RFC 4291 address such as 2001:db8::1");
	const std::string z(s);
	in6_addr a{};
	if (inet_pton(AF_INET6, z.c_str(), &a) != 1)
		invalid("IPv6 address", s, "expected an RFC 4291 address such as 2001:db8::1");
	return IpAddress::v6(a);
}

IpAddress parse_address(std::string_view s)
{
	if (s.find(':') != std::string_view::npos)
		return parse_ipv6(s);
	if (s.empty() || !std::ranges::all_of(s, [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
		invalid("address", s, "expected an IPv4 or IPv6 address");
	return parse_ipv4(s);
}

IpAddress parse_vip(std::string_view s, int family, std::string_view what)
{
	IpAddress a;
	try {
		a = family == AF_INET6 ? parse_ipv6(s) : parse_ipv4(s);
	} catch (const UsageError &) {
		invalid(what, s, family == AF_INET6 ? "expected an IPv6 address" : "expected an IPv4 address");
	}
	if (family == AF_INET) {
		if (!is_v4_unicast(a))
			invalid(what, s, "not a unicast address");
	} else if (const char *why = v6_unusable(a)) {
		invalid(what, s, std::string("cannot be ") + why);
	}
	return a;
}

Endpoint parse_endpoint(std::string_view s)
{
	IpAddress addr;
	std::string_view port;
	if (s.starts_with('[')) {
		const auto close = s.find(']');
		if (close == std::string_view::npos)
			invalid("endpoint", s, "missing ']'");
		if (close + 1 >= s.size() || s[close + 1] != ':')
			invalid("endpoint", s, "expected [ADDRESS]:PORT");
		const auto host = s.substr(1, close - 1);
		if (host.find(':') == std::string_view::npos)
			invalid("endpoint", s, "brackets are for IPv6 addresses; write ADDRESS:PORT");
		try {
			addr = parse_ipv6(host);
		} catch (const UsageError &e) {
			invalid("endpoint", s, e.what());
		}
		port = s.substr(close + 2);
	} else {
		const auto colon = s.rfind(':');
		if (colon == std::string_view::npos)
			invalid("endpoint", s, "expected ADDRESS:PORT or [ADDRESS]:PORT");
		const auto host = s.substr(0, colon);
		if (host.find(':') != std::string_view::npos)
			invalid("endpoint", s, "write IPv6 endpoints as [ADDRESS]:PORT");
		try {
			addr = parse_ipv4(host);
		} catch (const UsageError &e) {
			invalid("endpoint", s, e.what());
		}
		port = s.substr(colon + 1);
	}
	const std::uint16_t p = parse_port(port, s);
	if (addr.is_v4()) {
		if (!is_v4_unicast(addr))
			invalid("endpoint", s, "not a unicast address");
	} else if (const char *why = v6_unusable(addr)) {
		invalid("endpoint", s, std::string("cannot be ") + why);
	}
	return {addr, p};
}

std::uint16_t parse_cipher(std::string_view s)
{
	if (s == "aes-gcm")
		return NTM_CIPHER_AES_GCM;
	if (s == "chacha20-poly1305")
		return NTM_CIPHER_CHACHA20_POLY1305;
	invalid("cipher", s, "expected aes-gcm or chacha20-poly1305");
}

SecretBytes parse_hex_key(std::string_view s)
{
	/* never echo key material in the message */
	if ((s.size() != 32 && s.size() != 48 && s.size() != 64) || !all_hex(s))
		throw UsageError("invalid key: expected 32, 48 or 64 hex digits (a 16, 24 or 32 byte key)");
	SecretBytes key(s.size() / 2);
	decode_hex(s, key.span());
	return key;
}

void check_key_length(std::uint16_t cipher, std::size_t key_len, std::uint8_t encap)
{
	switch (cipher) {
	case NTM_CIPHER_AES_GCM:
		if (key_len == 16 || key_len == 32)
			return;
		/* rfc4106(gcm(aes)) of ESP also has AES-192 */
		if (encap == NTM_ENCAP_ESP_UDP) {
			if (key_len == 24)
				return;
			throw UsageError("cipher aes-gcm needs a 16, 24 or 32 byte key, got " +
					 std::to_string(key_len) + " bytes");
		}
		throw UsageError("cipher aes-gcm needs a 16 or 32 byte key, got " + std::to_string(key_len) + " bytes");
	case NTM_CIPHER_CHACHA20_POLY1305:
		if (key_len == 32)
			return;
		throw UsageError("cipher chacha20-poly1305 needs a 32 byte key (64 hex digits), got " +
				 std::to_string(key_len) + " bytes");
	default:
		throw UsageError("unknown cipher " + std::to_string(cipher));
	}
}

SecretBytes parse_key_text(std::string_view s)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
		s.remove_suffix(1);
	return parse_hex_key(s);
}

SecretBytes read_key_fd(int fd, const std::string &what)
{
	constexpr std::size_t kMax = 4096;
	const SecretText text = read_secret(fd, kMax + 1, what);
	if (text.size() > kMax)
		throw UsageError(what + ": too large for a key");
	try {
		return parse_key_text(std::string_view(text.data(), text.size()));
	} catch (const UsageError &e) {
		throw UsageError(what + ": " + e.what());
	}
}

SecretBytes read_key_file(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (!fd)
		throw_errno("key file " + path);
	return read_key_fd(fd.get(), "key file " + path);
}

Salt parse_salt(std::string_view s, std::string_view what)
{
	if (s.size() != std::size_t{2} * NTM_SALT_LEN || !all_hex(s))
		throw UsageError("invalid " + std::string(what) + ": expected 8 hex digits (4 bytes)");
	Salt salt{};
	decode_hex(s, salt);
	return salt;
}

std::uint64_t parse_unsigned(std::string_view s, std::string_view what, std::uint64_t min, std::uint64_t max)
{
	int base = 10;
	std::string_view digits = s;
	if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = s.substr(2);
	}
	const bool ok_chars = !digits.empty() && std::ranges::all_of(digits, [base](char c) {
		return base == 16 ? hex_value(c) >= 0 : (c >= '0' && c <= '9');
	});
	if (!ok_chars)
		invalid(what, s, "expected an unsigned number");
	std::uint64_t v = 0;
	const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
	if (ec == std::errc::result_out_of_range || ptr != digits.data() + digits.size() || v < min || v > max)
		invalid(what, s, "must be in " + std::to_string(min) + ".." + std::to_string(max));
	return v;
}

std::uint32_t parse_u32(std::string_view s, std::string_view what, std::uint32_t min, std::uint32_t max)
{
	return static_cast<std::uint32_t>(parse_unsigned(s, what, min, max));
}

bool parse_on_off(std::string_view s, std::string_view what)
{
	if (s == "on")
		return true;
	if (s == "off")
		return false;
	invalid(what, s, "expected on or off");
}

std::uint8_t parse_takeover(std::string_view s)
{
	if (s == "rx" || s == "on-rx")
		return NTM_TAKEOVER_ON_RX;
	if (s == "now")
		return NTM_TAKEOVER_NOW;
	invalid("takeover", s, "expected now or rx");
}

std::uint8_t parse_encap(std::string_view s)
{
	if (s == "ntm")
		return NTM_ENCAP_NTM;
	if (s == "esp-udp")
		return NTM_ENCAP_ESP_UDP;
	invalid("encapsulation", s, "expected ntm or esp-udp");
}

Prefix parse_traffic_selector(std::string_view s, std::string_view what)
{
	const auto slash = s.find('/');
	const auto addr_text = s.substr(0, slash);
	IpAddress addr;
	try {
		addr = parse_address(addr_text);
	} catch (const UsageError &) {
		invalid(what, s, "expected ADDRESS/LENGTH, like 10.2.0.0/16 or fd00:2::/64");
	}
	const std::size_t max = addr.bytes().size() * 8;
	std::size_t len = max;
	if (slash != std::string_view::npos) {
		const auto len_text = s.substr(slash + 1);
		if (len_text.empty() || len_text.size() > 3 ||
		    !std::ranges::all_of(len_text, [](char c) { return c >= '0' && c <= '9'; }) ||
		    (len_text.size() > 1 && len_text[0] == '0'))
			invalid(what, s, "the prefix length must be a number 0.." + std::to_string(max));
		len = 0;
		for (const char c : len_text)
			len = len * 10 + static_cast<std::size_t>(c - '0');
		if (len > max)
			invalid(what, s, "the prefix length must be 0.." + std::to_string(max));
	}
	if (addr.is_v6()) {
		const in6_addr in6 = addr.to_in6_addr();
		if (IN6_IS_ADDR_V4MAPPED(&in6))
			invalid(what, s, "IPv4-mapped addresses are not supported (write the IPv4 prefix)");
	}
	const Prefix p{addr, static_cast<std::uint8_t>(len)};
	if (!p.valid())
		invalid(what, s, "host bits are set (the network is " + p.masked().to_string() + ")");
	return p;
}

void parse_traffic_selectors(std::string_view s, std::string_view what, std::vector<Prefix> &out)
{
	if (s.empty())
		invalid(what, s, "expected ADDRESS/LENGTH[,ADDRESS/LENGTH...]");
	std::size_t start = 0;
	for (;;) {
		const auto comma = s.find(',', start);
		const auto item =
			s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
		if (item.empty())
			invalid(what, s, "empty item in the list");
		if (out.size() >= NTM_TS_MAX)
			throw UsageError("too many " + std::string(what) + " selectors: at most " +
					 std::to_string(NTM_TS_MAX));
		out.push_back(parse_traffic_selector(item, what));
		if (comma == std::string_view::npos)
			break;
		start = comma + 1;
	}
}

std::uint64_t parse_amount(std::string_view s, std::string_view what)
{
	static constexpr std::string_view kSuffixes = "KMGTPE";
	unsigned shift = 0;
	std::string_view digits = s;
	const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	if (!hex && !s.empty()) {
		const char last =
			(s.back() >= 'a' && s.back() <= 'z') ? static_cast<char>(s.back() - 'a' + 'A') : s.back();
		if (const auto pos = kSuffixes.find(last); pos != std::string_view::npos) {
			shift = 10 * static_cast<unsigned>(pos + 1);
			digits.remove_suffix(1);
		}
	}
	std::uint64_t v = 0;
	try {
		v = parse_unsigned(digits, what, 0, UINT64_MAX);
	} catch (const UsageError &) {
		invalid(what, s, "expected a number with an optional suffix K, M, G, T, P or E (powers of 1024)");
	}
	if (shift != 0 && v > (UINT64_MAX >> shift))
		invalid(what, s, "too large (at most 2^64-1)");
	return v << shift;
}

namespace {

[[noreturn]] void bad_tunnel(const std::string &why)
{
	throw UsageError(why);
}

void check_soft_hard(std::string_view soft_name, std::optional<std::uint64_t> soft, std::string_view hard_name,
		     std::optional<std::uint64_t> hard)
{
	if (soft && hard && *hard != 0 && *soft != 0 && *soft >= *hard)
		bad_tunnel(std::string(soft_name) + " " + std::to_string(*soft) + " must be below " +
			   std::string(hard_name) + " " + std::to_string(*hard));
}

std::optional<std::uint64_t> widen(std::optional<std::uint32_t> v)
{
	return v ? std::optional<std::uint64_t>(*v) : std::nullopt;
}

void check_selectors(const std::vector<Prefix> &ts, std::string_view what)
{
	if (ts.size() > NTM_TS_MAX)
		bad_tunnel("too many " + std::string(what) + " selectors: " + std::to_string(ts.size()) + ", at most " +
			   std::to_string(NTM_TS_MAX));
	for (const auto &p : ts)
		if (!p.valid())
			bad_tunnel("invalid " + std::string(what) + " " + p.to_string() +
				   ": not a network (host bits set or bad length)");
}

void check_create(const TunnelSettings &s)
{
	const bool esp = s.encap == NTM_ENCAP_ESP_UDP;
	if (s.encap && *s.encap != NTM_ENCAP_NTM && !esp)
		bad_tunnel("unknown encapsulation " + std::to_string(*s.encap));
	if (!s.remote_index || *s.remote_index == 0)
		bad_tunnel("the remote index is required (1..2^32-1)");
	if (!s.endpoint)
		bad_tunnel("the endpoint is required");
	if (!s.cipher)
		bad_tunnel("the cipher is required");
	if (s.key.empty())
		bad_tunnel("the key is required");
	check_key_length(*s.cipher, s.key.size(), esp ? NTM_ENCAP_ESP_UDP : NTM_ENCAP_NTM);
	if (!s.tx_salt || !s.rx_salt)
		bad_tunnel("tx-salt and rx-salt are required");
	if (s.takeover && *s.takeover >= __NTM_TAKEOVER_MAX)
		bad_tunnel("unknown takeover mode " + std::to_string(*s.takeover));
	if (s.replaces && (*s.replaces == 0 || *s.replaces == s.local_index))
		bad_tunnel("replaces must name another tunnel: the successor needs a local index of its own");
	if (!esp) {
		if (!s.vip4 && !s.vip6)
			bad_tunnel("vip4 or vip6 is required");
		if (s.tx_counter && *s.tx_counter >= NTM_COUNTER_LIMIT)
			bad_tunnel("tx-counter " + std::to_string(*s.tx_counter) + " is at or above the limit " +
				   std::to_string(NTM_COUNTER_LIMIT));
		if (*s.tx_salt == *s.rx_salt)
			bad_tunnel("tx-salt and rx-salt must differ");
		if (!s.rx_key.empty())
			bad_tunnel("rx-key needs encap esp-udp (an NTM tunnel has one key)");
		if (s.esn)
			bad_tunnel("esn needs encap esp-udp");
		if (!s.remote_ts.empty() || !s.local_ts.empty())
			bad_tunnel("traffic selectors (remote-ts, local-ts) need encap esp-udp");
		return;
	}
	if (s.vip4 || s.vip6)
		bad_tunnel("vip4 and vip6 do not apply to ESP tunnels (packets are chosen by remote-ts)");
	if (s.replaces || s.takeover)
		bad_tunnel("replaces and takeover do not apply to ESP tunnels (a new SA pair takes over as the "
			   "newest)");
	if (s.tx_counter) {
		/* RFC 4303: sequence numbers start at 1; 32 bits without ESN */
		const std::uint64_t max = s.esn ? NTM_COUNTER_LIMIT - 1 : UINT32_MAX;
		if (*s.tx_counter == 0 || *s.tx_counter > max)
			bad_tunnel("tx-counter " + std::to_string(*s.tx_counter) + " is out of range: 1.." +
				   std::to_string(max) + (s.esn ? " with esn" : " without esn"));
	}
	if (s.local_index < NTM_ESP_SPI_MIN)
		bad_tunnel("invalid inbound SPI " + std::to_string(s.local_index) + ": ESP SPIs are " +
			   std::to_string(NTM_ESP_SPI_MIN) + "..2^32-1 (1..255 are reserved)");
	if (*s.remote_index < NTM_ESP_SPI_MIN)
		bad_tunnel("invalid outbound SPI " + std::to_string(*s.remote_index) + ": ESP SPIs are " +
			   std::to_string(NTM_ESP_SPI_MIN) + "..2^32-1 (1..255 are reserved)");
	if (s.rx_key.empty())
		bad_tunnel("an ESP tunnel needs rx-key (the inbound SA's key)");
	try {
		check_key_length(*s.cipher, s.rx_key.size(), NTM_ENCAP_ESP_UDP);
	} catch (const UsageError &e) {
		bad_tunnel(std::string("rx-key: ") + e.what());
	}
	if (s.rx_key.size() != s.key.size())
		bad_tunnel("key and rx-key must have the same length");
	if (s.rx_key == s.key && *s.tx_salt == *s.rx_salt)
		bad_tunnel("key and rx-key are equal: tx-salt and rx-salt must differ");
	if (s.remote_ts.empty())
		bad_tunnel("an ESP tunnel needs at least one remote-ts (the peer's networks)");
	check_selectors(s.remote_ts, "remote-ts");
	check_selectors(s.local_ts, "local-ts");
}

void check_change(const TunnelSettings &s)
{
	const char *what = nullptr;
	if (s.remote_index)
		what = "the remote index";
	else if (s.vip4 || s.vip6)
		what = "the virtual addresses";
	else if (s.cipher || !s.key.empty() || !s.rx_key.empty() || s.tx_salt || s.rx_salt)
		what = "the cipher, keys and salts";
	else if (s.tx_counter)
		what = "tx-counter";
	else if (s.encap)
		what = "the encapsulation";
	else if (s.esn)
		what = "esn";
	else if (!s.remote_ts.empty() || !s.local_ts.empty())
		what = "the traffic selectors";
	else if (s.replaces)
		what = "replaces";
	if (what != nullptr)
		bad_tunnel(std::string(what) + " cannot be changed (a rekey is a new tunnel)");
	if (s.takeover && *s.takeover != NTM_TAKEOVER_NOW)
		bad_tunnel("a change takes only takeover now (make a pending tunnel send at once)");
}

} // namespace

void check_tunnel(const TunnelSettings &s, TunnelRequest what)
{
	if (s.local_index == 0)
		bad_tunnel("the local index is required (1..2^32-1)");
	if (what == TunnelRequest::create)
		check_create(s);
	else
		check_change(s);
	if (s.flags && (*s.flags & ~static_cast<std::uint32_t>(__NTM_TUNNEL_F_ALL)) != 0)
		bad_tunnel("unknown tunnel flags " + std::to_string(*s.flags));
	check_soft_hard("soft-lifetime", widen(s.soft_lifetime), "lifetime", widen(s.lifetime));
	check_soft_hard("soft-bytes", s.soft_bytes, "hard-bytes", s.hard_bytes);
	check_soft_hard("soft-packets", s.soft_packets, "hard-packets", s.hard_packets);
}

void check_relay(const RelaySettings &s, RelayRequest what)
{
	if (s.id == 0)
		throw UsageError("the relay id is required (1..2^32-1)");
	if (s.idle_timeout && *s.idle_timeout > NTM_RELAY_IDLE_MAX)
		throw UsageError("idle timeout " + std::to_string(*s.idle_timeout) + " is above " +
				 std::to_string(NTM_RELAY_IDLE_MAX) + " seconds (a week)");
	bool any_leg = false;
	for (std::size_t i = 0; i < s.legs.size(); i++) {
		const auto &leg = s.legs.at(i);
		const std::string name = "leg " + std::to_string(i + 1);
		if (what == RelayRequest::create) {
			if (!leg.endpoint)
				throw UsageError(name + ": the endpoint is required");
			if (!leg.index || *leg.index == 0)
				throw UsageError(name + ": the receiver index is required (1..2^32-1)");
		} else if (leg.index) {
			throw UsageError(name + ": a leg's index cannot change (add a new relay session)");
		}
		if (leg.endpoint) {
			any_leg = true;
			const auto a = leg.endpoint->address();
			if (a.is_v6() && a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0x80)
				throw UsageError(name + ": link-local endpoint " + leg.endpoint->to_string() +
						 " cannot be a relay leg");
		}
	}
	if (what == RelayRequest::create) {
		if (*s.legs[0].endpoint == *s.legs[1].endpoint && *s.legs[0].index == *s.legs[1].index)
			throw UsageError("both legs have the same endpoint and index: the relay could not tell "
					 "their messages apart");
	} else if (!any_leg && !s.hard_bytes && !s.hard_packets && !s.idle_timeout) {
		throw UsageError("nothing to change (give a leg endpoint, --hard-bytes, --hard-packets or "
				 "--idle-timeout)");
	}
}

std::string parse_ifname(std::string_view s)
{
	if (s.empty() || s.size() >= IFNAMSIZ)
		invalid("interface name", s, "must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters");
	if (s == "." || s == "..")
		invalid("interface name", s, "reserved name");
	for (const char c : s) {
		const auto u = static_cast<unsigned char>(c);
		if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f)
			invalid("interface name", s, "contains '/', ':', a blank or a control character");
	}
	return std::string(s);
}

} // namespace ntm
