// SPDX-License-Identifier: GPL-2.0
#include "ntm/model.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace ntm {

IpAddress IpAddress::v4(const in_addr &a) noexcept
{
	IpAddress r;
	r.family_ = AF_INET;
	std::memcpy(r.bytes_.data(), &a, sizeof(a));
	return r;
}

IpAddress IpAddress::v6(const in6_addr &a) noexcept
{
	IpAddress r;
	r.family_ = AF_INET6;
	std::memcpy(r.bytes_.data(), &a, sizeof(a));
	return r;
}

std::optional<IpAddress> IpAddress::from_bytes(std::span<const std::uint8_t> b) noexcept
{
	IpAddress r;
	if (b.size() == 4)
		r.family_ = AF_INET;
	else if (b.size() == 16)
		r.family_ = AF_INET6;
	else
		return std::nullopt;
	std::copy(b.begin(), b.end(), r.bytes_.begin());
	return r;
}

std::span<const std::uint8_t> IpAddress::bytes() const noexcept
{
	switch (family_) {
	case AF_INET:
		return {bytes_.data(), 4};
	case AF_INET6:
		return {bytes_.data(), 16};
	default:
		return {};
	}
}

in_addr IpAddress::to_in_addr() const noexcept
{
	in_addr a{};
	std::memcpy(&a, bytes_.data(), sizeof(a));
	return a;
}

in6_addr IpAddress::to_in6_addr() const noexcept
{
	in6_addr a{};
	std::memcpy(&a, bytes_.data(), sizeof(a));
	return a;
}

std::string IpAddress::to_string() const
{
	std::array<char, INET6_ADDRSTRLEN> buf{};
	if (family_ != AF_INET && family_ != AF_INET6)
		return "unspecified";
	if (inet_ntop(family_, bytes_.data(), buf.data(), static_cast<socklen_t>(buf.size())) == nullptr)
		return "invalid";
	return {buf.data()};
}

bool operator==(const IpAddress &a, const IpAddress &b) noexcept
{
	return a.family_ == b.family_ && std::ranges::equal(a.bytes(), b.bytes());
}

Endpoint::Endpoint(const IpAddress &addr, std::uint16_t port) noexcept
{
	if (addr.is_v6()) {
		family_ = AF_INET6;
		v6_.sin6_family = AF_INET6;
		v6_.sin6_port = htons(port);
		v6_.sin6_addr = addr.to_in6_addr();
	} else {
		v4_.sin_family = AF_INET;
		v4_.sin_port = htons(port);
		v4_.sin_addr = addr.to_in_addr();
	}
}

std::optional<Endpoint> Endpoint::from_sockaddr(std::span<const std::uint8_t> b) noexcept
{
	sa_family_t family = 0;
	if (b.size() < sizeof(family))
		return std::nullopt;
	std::memcpy(&family, b.data(), sizeof(family));
	Endpoint e;
	if (family == AF_INET && b.size() == sizeof(sockaddr_in)) {
		std::memcpy(&e.v4_, b.data(), sizeof(e.v4_));
		std::memset(&e.v4_.sin_zero, 0, sizeof(e.v4_.sin_zero));
		return e;
	}
	if (family == AF_INET6 && b.size() == sizeof(sockaddr_in6)) {
		e.family_ = AF_INET6;
		std::memcpy(&e.v6_, b.data(), sizeof(e.v6_));
		return e;
	}
	return std::nullopt;
}

int Endpoint::family() const noexcept
{
	return family_;
}

IpAddress Endpoint::address() const noexcept
{
	if (family_ == AF_INET6)
		return IpAddress::v6(v6_.sin6_addr);
	return IpAddress::v4(v4_.sin_addr);
}

std::uint16_t Endpoint::port() const noexcept
{
	return ntohs(family_ == AF_INET6 ? v6_.sin6_port : v4_.sin_port);
}

std::span<const std::uint8_t> Endpoint::sockaddr_bytes() const noexcept
{
	/* the kernel takes the struct as it is: NTM_TUNNEL_A_ENDPOINT */
	// NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
	if (family_ == AF_INET6)
		return {reinterpret_cast<const std::uint8_t *>(&v6_), sizeof(v6_)};
	return {reinterpret_cast<const std::uint8_t *>(&v4_), sizeof(v4_)};
	// NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
}

std::string Endpoint::to_string() const
{
	const auto addr = address().to_string();
	const auto port_s = std::to_string(port());
	if (family() == AF_INET6)
		return "[" + addr + "]:" + port_s;
	return addr + ":" + port_s;
}

bool operator==(const Endpoint &a, const Endpoint &b) noexcept
{
	if (a.family_ != b.family_ || a.port() != b.port() || a.address() != b.address())
		return false;
	return a.family_ != AF_INET6 || a.v6_.sin6_scope_id == b.v6_.sin6_scope_id;
}

namespace {

std::size_t max_prefix_len(const IpAddress &a) noexcept
{
	return a.bytes().size() * 8;
}

/* The mask byte of byte i of a prefix of length len. */
std::uint8_t mask_byte(std::size_t i, std::size_t len) noexcept
{
	const std::size_t bit = i * 8;
	if (bit >= len)
		return 0;
	if (len - bit >= 8)
		return 0xff;
	return static_cast<std::uint8_t>(0xffU << (8 - (len - bit)));
}

} // namespace

std::string Prefix::to_string() const
{
	return addr.to_string() + "/" + std::to_string(len);
}

bool Prefix::valid() const noexcept
{
	const auto b = addr.bytes();
	if (b.empty() || len > max_prefix_len(addr))
		return false;
	for (std::size_t i = 0; i < b.size(); i++)
		if ((b[i] & static_cast<std::uint8_t>(~mask_byte(i, len))) != 0)
			return false;
	return true;
}

bool Prefix::contains(const IpAddress &a) const noexcept
{
	const auto net = addr.bytes();
	const auto b = a.bytes();
	if (net.empty() || a.family() != addr.family())
		return false;
	for (std::size_t i = 0; i < b.size(); i++) {
		const std::uint8_t m = mask_byte(i, len);
		if ((b[i] & m) != (net[i] & m))
			return false;
	}
	return true;
}

Prefix Prefix::masked() const noexcept
{
	const auto b = addr.bytes();
	const std::size_t l = std::min<std::size_t>(len, max_prefix_len(addr));
	std::array<std::uint8_t, 16> out{};
	for (std::size_t i = 0; i < b.size(); i++)
		out.at(i) = static_cast<std::uint8_t>(b[i] & mask_byte(i, l));
	auto a = IpAddress::from_bytes(std::span<const std::uint8_t>(out.data(), b.size()));
	return Prefix{a ? *a : IpAddress{}, static_cast<std::uint8_t>(l)};
}

ntm_prefix Prefix::to_uapi() const noexcept
{
	ntm_prefix p{};
	p.family = static_cast<std::uint8_t>(addr.family());
	p.prefixlen = len;
	const auto b = addr.bytes();
	std::copy(b.begin(), b.end(), std::begin(p.addr));
	return p;
}

std::optional<Prefix> Prefix::from_uapi(std::span<const std::uint8_t> b) noexcept
{
	ntm_prefix p{};
	if (b.size() != sizeof(p))
		return std::nullopt;
	std::memcpy(&p, b.data(), sizeof(p));
	std::optional<IpAddress> a;
	const std::span<const std::uint8_t> addr(std::begin(p.addr), std::end(p.addr));
	if (p.family == AF_INET)
		a = IpAddress::from_bytes(addr.first(4));
	else if (p.family == AF_INET6)
		a = IpAddress::from_bytes(addr);
	if (!a)
		return std::nullopt;
	Prefix r{*a, p.prefixlen};
	if (!r.valid())
		return std::nullopt;
	return r;
}

std::string cipher_name(std::uint16_t cipher)
{
	switch (cipher) {
	case NTM_CIPHER_NONE:
		return "none";
	case NTM_CIPHER_AES_GCM:
		return "aes-gcm";
	case NTM_CIPHER_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	default:
		return "unknown-" + std::to_string(cipher);
	}
}

std::string expire_reason_name(std::uint32_t reason)
{
	switch (reason) {
	case NTM_EXPIRE_LIFETIME:
		return "lifetime";
	case NTM_EXPIRE_COUNTER:
		return "counter";
	case NTM_EXPIRE_HARD_BYTES:
		return "hard-bytes";
	case NTM_EXPIRE_HARD_PACKETS:
		return "hard-packets";
	case NTM_EXPIRE_IDLE:
		return "idle";
	case NTM_EXPIRE_SOFT_TIME:
		return "soft-time";
	case NTM_EXPIRE_SOFT_BYTES:
		return "soft-bytes";
	case NTM_EXPIRE_SOFT_PACKETS:
		return "soft-packets";
	default:
		return "unknown-" + std::to_string(reason);
	}
}

std::string encap_name(std::uint8_t encap)
{
	switch (encap) {
	case NTM_ENCAP_NTM:
		return "ntm";
	case NTM_ENCAP_ESP_UDP:
		return "esp-udp";
	default:
		return "unknown-" + std::to_string(encap);
	}
}

std::string tunnel_state_name(std::uint8_t state)
{
	switch (state) {
	case NTM_TUNNEL_STATE_ACTIVE:
		return "active";
	case NTM_TUNNEL_STATE_PENDING:
		return "pending";
	case NTM_TUNNEL_STATE_RETIRED:
		return "retired";
	default:
		return "unknown-" + std::to_string(state);
	}
}

std::string takeover_name(std::uint8_t takeover)
{
	switch (takeover) {
	case NTM_TAKEOVER_ON_RX:
		return "rx";
	case NTM_TAKEOVER_NOW:
		return "now";
	default:
		return "unknown-" + std::to_string(takeover);
	}
}

std::string spi_string(std::uint32_t spi)
{
	std::array<char, 16> buf{};
	(void)std::snprintf(buf.data(), buf.size(), "0x%08x", spi);
	return buf.data();
}

std::uint64_t Stats::get(int attr) const noexcept
{
	if (attr < 1 || static_cast<std::size_t>(attr) > values.size())
		return 0;
	return values.at(static_cast<std::size_t>(attr) - 1);
}

void Stats::set(int attr, std::uint64_t v) noexcept
{
	if (attr < 1 || static_cast<std::size_t>(attr) > values.size() || attr == NTM_STAT_A_PAD)
		return;
	values.at(static_cast<std::size_t>(attr) - 1) = v;
}

std::uint64_t Stats::drops() const noexcept
{
	std::uint64_t sum = 0;
	for (const auto &s : kStats)
		if (s.name.starts_with("drop_"))
			sum += get(s.attr);
	return sum;
}

std::string DeviceRef::to_string() const
{
	if (ifindex != 0)
		return "ifindex " + std::to_string(ifindex);
	return name;
}

TunnelSettings::~TunnelSettings()
{
	if (tx_salt)
		secure_wipe(tx_salt->data(), tx_salt->size());
	if (rx_salt)
		secure_wipe(rx_salt->data(), rx_salt->size());
}

std::uint32_t event_ifindex(const Event &ev) noexcept
{
	if (const auto *a = std::get_if<AcquireEvent>(&ev))
		return a->ifindex;
	if (const auto *e = std::get_if<EndpointEvent>(&ev))
		return e->ifindex;
	if (const auto *x = std::get_if<ExpiredEvent>(&ev))
		return x->ifindex;
	if (const auto *r = std::get_if<RelayExpiredEvent>(&ev))
		return r->ifindex;
	if (const auto *t = std::get_if<TakeoverEvent>(&ev))
		return t->ifindex;
	return 0;
}

namespace {

struct FlagName {
	std::uint32_t bit;
	const char *name;
};

std::string flags_string(std::uint32_t flags, std::span<const FlagName> names)
{
	std::string out;
	for (const auto &f : names) {
		if ((flags & f.bit) == 0)
			continue;
		if (!out.empty())
			out += ',';
		out += f.name;
		flags &= ~f.bit;
	}
	if (flags != 0) {
		if (!out.empty())
			out += ',';
		std::array<char, 16> hex{};
		(void)std::snprintf(hex.data(), hex.size(), "0x%x", flags);
		out += hex.data();
	}
	return out.empty() ? "none" : out;
}

} // namespace

std::string device_flags_string(std::uint32_t flags)
{
	static constexpr std::array<FlagName, 2> names{{
		{NTM_DEV_F_NO_ROAMING, "no-roaming"},
		{NTM_DEV_F_NO_ACQUIRE, "no-acquire"},
	}};
	return flags_string(flags, names);
}

std::string tunnel_flags_string(std::uint32_t flags)
{
	static constexpr std::array<FlagName, 1> names{{
		{NTM_TUNNEL_F_NO_ROAMING, "no-roaming"},
	}};
	return flags_string(flags, names);
}

} // namespace ntm
