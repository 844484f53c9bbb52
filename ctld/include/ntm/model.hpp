// SPDX-License-Identifier: GPL-2.0
/*
 * Typed model of what the ntm generic-netlink family reports and accepts
 * (see uapi/linux/ntm.h for the semantics of every field).
 */
#ifndef NTM_MODEL_HPP
#define NTM_MODEL_HPP

#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <linux/ntm.h>

#include "ntm/secret.hpp"

namespace ntm {

/** An IPv4 or IPv6 address. */
class IpAddress {
public:
	IpAddress() = default;
	static IpAddress v4(const in_addr &a) noexcept;
	static IpAddress v6(const in6_addr &a) noexcept;
	/** 4 bytes make an IPv4, 16 bytes an IPv6 address; other sizes nullopt. */
	static std::optional<IpAddress> from_bytes(std::span<const std::uint8_t> b) noexcept;

	/** AF_INET, AF_INET6, or AF_UNSPEC for a default-constructed one. */
	[[nodiscard]] int family() const noexcept { return family_; }
	[[nodiscard]] bool is_v4() const noexcept { return family_ == AF_INET; }
	[[nodiscard]] bool is_v6() const noexcept { return family_ == AF_INET6; }
	/** Network-order bytes: 4 for IPv4, 16 for IPv6, 0 when unset. */
	[[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept;
	[[nodiscard]] in_addr to_in_addr() const noexcept;
	[[nodiscard]] in6_addr to_in6_addr() const noexcept;
	/** inet_ntop() text: 10.0.0.1, 2001:db8::1. */
	[[nodiscard]] std::string to_string() const;

	friend bool operator==(const IpAddress &a, const IpAddress &b) noexcept;

private:
	int family_ = AF_UNSPEC;
	std::array<std::uint8_t, 16> bytes_{};
};

/** A UDP endpoint: struct sockaddr_in or sockaddr_in6 (network-order port). */
class Endpoint {
public:
	Endpoint() = default;
	Endpoint(const IpAddress &addr, std::uint16_t port) noexcept;
	/**
	 * From the NTM_TUNNEL_A_ENDPOINT payload: 16 bytes with sin_family
	 * AF_INET or 28 bytes with sin6_family AF_INET6. nullopt otherwise.
	 */
	static std::optional<Endpoint> from_sockaddr(std::span<const std::uint8_t> b) noexcept;

	[[nodiscard]] int family() const noexcept;
	[[nodiscard]] IpAddress address() const noexcept;
	/** Port in host order. */
	[[nodiscard]] std::uint16_t port() const noexcept;
	/** The raw sockaddr, as sent in NTM_TUNNEL_A_ENDPOINT. */
	[[nodiscard]] std::span<const std::uint8_t> sockaddr_bytes() const noexcept;
	/** 1.2.3.4:5 or [2001:db8::1]:5 */
	[[nodiscard]] std::string to_string() const;

	friend bool operator==(const Endpoint &a, const Endpoint &b) noexcept;

private:
	int family_ = AF_INET;
	sockaddr_in v4_{};  /* valid when family_ == AF_INET */
	sockaddr_in6 v6_{}; /* valid when family_ == AF_INET6 */
};

/** Name of an enum ntm_cipher value on the command line and in JSON. */
std::string cipher_name(std::uint16_t cipher);
/** Name of an enum ntm_expire_reason value. */
std::string expire_reason_name(std::uint32_t reason);

/** Attribute and name of one counter of enum ntm_stat_attr. */
struct StatInfo {
	int attr;
	std::string_view name;
};

inline constexpr std::size_t kStatCount = NTM_STAT_A_KEEPALIVE_RX;
static_assert(kStatCount + 1 == NTM_STAT_A_PAD, "update kStats for the new counters");

inline constexpr std::array<StatInfo, kStatCount> kStats{{
	{NTM_STAT_A_RX_PACKETS, "rx_packets"},
	{NTM_STAT_A_RX_BYTES, "rx_bytes"},
	{NTM_STAT_A_TX_PACKETS, "tx_packets"},
	{NTM_STAT_A_TX_BYTES, "tx_bytes"},
	{NTM_STAT_A_DROP_REPLAY, "drop_replay"},
	{NTM_STAT_A_DROP_AUTH, "drop_auth"},
	{NTM_STAT_A_DROP_NO_TUNNEL, "drop_no_tunnel"},
	{NTM_STAT_A_DROP_MALFORMED, "drop_malformed"},
	{NTM_STAT_A_DROP_INNER_SRC, "drop_inner_src"},
	{NTM_STAT_A_DROP_NOMEM, "drop_nomem"},
	{NTM_STAT_A_DROP_TX_ERROR, "drop_tx_error"},
	{NTM_STAT_A_DROP_EXPIRED, "drop_expired"},
	{NTM_STAT_A_DROP_ACQUIRE, "drop_acquire"},
	{NTM_STAT_A_ACQUIRE_QUEUED, "acquire_queued"},
	{NTM_STAT_A_PASSED_UP, "passed_up"},
	{NTM_STAT_A_ROAMED, "roamed"},
	{NTM_STAT_A_KEEPALIVE_RX, "keepalive_rx"},
}};

/** The counters of a device or a tunnel, indexed by enum ntm_stat_attr. */
struct Stats {
	/** values[attr - 1] is the counter of attribute attr */
	std::array<std::uint64_t, kStatCount> values{};

	[[nodiscard]] std::uint64_t get(int attr) const noexcept;
	void set(int attr, std::uint64_t v) noexcept;
	/** Sum of every drop_* counter. */
	[[nodiscard]] std::uint64_t drops() const noexcept;

	friend bool operator==(const Stats &a, const Stats &b) noexcept = default;
};

/** Reply of NTM_CMD_GET_DEVICE. */
struct Device {
	std::uint32_t ifindex = 0;
	std::string name;
	std::uint32_t flags = 0; /* enum ntm_device_flags */
	std::uint32_t fwmark = 0;
	std::optional<std::uint16_t> port4;
	std::optional<std::uint16_t> port6;
	std::uint32_t num_tunnels = 0;
	std::uint32_t acquire_qlen = 0;
	Stats stats;
};

/** One NTM_A_TUNNEL of NTM_CMD_GET_TUNNEL (keys are never reported). */
struct Tunnel {
	std::uint32_t local_index = 0;
	std::uint32_t remote_index = 0;
	std::optional<Endpoint> endpoint;
	std::optional<IpAddress> vip4;
	std::optional<IpAddress> vip6;
	std::uint16_t cipher = NTM_CIPHER_NONE;
	std::uint32_t lifetime = 0;
	std::uint32_t flags = 0; /* enum ntm_tunnel_flags */
	std::uint64_t tx_counter = 0;
	std::uint64_t rx_counter = 0;
	std::uint64_t last_rx_ns = 0; /* CLOCK_BOOTTIME, 0 = never */
	std::uint32_t age_s = 0;
	Stats stats;
};

using Salt = std::array<std::uint8_t, NTM_SALT_LEN>;

/** Device selector of a request: ifindex when non-zero, else name. */
struct DeviceRef {
	std::uint32_t ifindex = 0;
	std::string name;

	static DeviceRef by_name(std::string n) { return DeviceRef{0, std::move(n)}; }
	static DeviceRef by_index(std::uint32_t i) { return DeviceRef{i, {}}; }
	/** For messages: the name, or "ifindex N". */
	[[nodiscard]] std::string to_string() const;
};

/** Attributes of NTM_CMD_SET_DEVICE; unset ones are not sent. */
struct DeviceSettings {
	std::optional<std::int32_t> udp4_fd;
	std::optional<std::int32_t> udp6_fd;
	std::optional<std::uint32_t> flags;
	std::optional<std::uint32_t> fwmark;
	std::optional<std::uint32_t> acquire_qlen;
};

/** NTM_A_TUNNEL of NTM_CMD_NEW_TUNNEL / SET_TUNNEL; unset ones are not sent. */
struct TunnelSettings {
	TunnelSettings() = default;
	TunnelSettings(const TunnelSettings &) = default;
	TunnelSettings(TunnelSettings &&) noexcept = default;
	TunnelSettings &operator=(const TunnelSettings &) = default;
	TunnelSettings &operator=(TunnelSettings &&) noexcept = default;
	~TunnelSettings();

	std::uint32_t local_index = 0;
	std::optional<std::uint32_t> remote_index;
	std::optional<Endpoint> endpoint;
	std::optional<IpAddress> vip4;
	std::optional<IpAddress> vip6;
	std::optional<std::uint16_t> cipher;
	SecretBytes key;
	std::optional<Salt> tx_salt;
	std::optional<Salt> rx_salt;
	std::optional<std::uint32_t> lifetime;
	std::optional<std::uint32_t> flags;
};

struct AcquireEvent {
	std::uint32_t ifindex = 0;
	IpAddress dst;
	IpAddress src;
};

struct EndpointEvent {
	std::uint32_t ifindex = 0;
	std::uint32_t local_index = 0;
	Endpoint endpoint;
};

struct ExpiredEvent {
	std::uint32_t ifindex = 0;
	std::uint32_t local_index = 0;
	std::uint32_t remote_index = 0;
	std::uint32_t reason = 0; /* enum ntm_expire_reason */
};

using Event = std::variant<AcquireEvent, EndpointEvent, ExpiredEvent>;

/** ifindex of any event. */
std::uint32_t event_ifindex(const Event &ev) noexcept;

/** flags with bit set or cleared. */
constexpr std::uint32_t with_flag(std::uint32_t flags, std::uint32_t bit, bool set) noexcept
{
	return set ? (flags | bit) : (flags & ~bit);
}

/** Names of the set bits of enum ntm_device_flags ("no-roaming,no-acquire", "none"). */
std::string device_flags_string(std::uint32_t flags);
std::string tunnel_flags_string(std::uint32_t flags);

} // namespace ntm

#endif
