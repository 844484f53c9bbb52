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
#include <vector>

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

/**
 * An IPv4 or IPv6 network: an address pool, an ESP traffic selector
 * (struct ntm_prefix). Aggregate, so Prefix{addr, len} works.
 */
struct Prefix {
	IpAddress addr;
	std::uint8_t len = 0;

	friend bool operator==(const Prefix &a, const Prefix &b) noexcept = default;
	/** 10.77.0.0/16, fd00::/64 */
	[[nodiscard]] std::string to_string() const;
	/** addr is IPv4 or IPv6, len fits the family, no host bit is set. */
	[[nodiscard]] bool valid() const noexcept;
	/** a lies in the network (same family, first len bits equal). */
	[[nodiscard]] bool contains(const IpAddress &a) const noexcept;
	/** The same network with the host bits of addr cleared (len clamped). */
	[[nodiscard]] Prefix masked() const noexcept;

	/** The uapi form, as sent in NTM_TS_A_PREFIX. */
	[[nodiscard]] ntm_prefix to_uapi() const noexcept;
	/**
	 * From an NTM_TS_A_PREFIX payload: exactly sizeof(struct ntm_prefix)
	 * bytes, family AF_INET/AF_INET6, prefixlen within it, no host bits.
	 * nullopt otherwise (reserved bytes and the unused tail of an IPv4
	 * address are ignored).
	 */
	static std::optional<Prefix> from_uapi(std::span<const std::uint8_t> b) noexcept;
};

/** Name of an enum ntm_cipher value on the command line and in JSON. */
std::string cipher_name(std::uint16_t cipher);
/** Name of an enum ntm_encap value: "ntm", "esp-udp", "unknown-N". */
std::string encap_name(std::uint8_t encap);
/**
 * Name of an enum ntm_expire_reason value: lifetime, counter, hard-bytes,
 * hard-packets, idle, soft-time, soft-bytes, soft-packets, unknown-N.
 */
std::string expire_reason_name(std::uint32_t reason);
/** Soft reasons (>= NTM_EXPIRE_SOFT_TIME) leave the tunnel in place. */
constexpr bool expire_reason_is_soft(std::uint32_t reason) noexcept
{
	return reason >= NTM_EXPIRE_SOFT_TIME;
}
/**
 * Name of an enum ntm_tunnel_state value: "active", "pending", "retired",
 * "unknown-N".
 */
std::string tunnel_state_name(std::uint8_t state);
/** Name of an enum ntm_takeover value: "rx", "now", "unknown-N". */
std::string takeover_name(std::uint8_t takeover);
/** An ESP SPI as shown to users: 0x0000c0de. */
std::string spi_string(std::uint32_t spi);

/** Attribute and name of one counter of enum ntm_stat_attr. */
struct StatInfo {
	int attr;
	std::string_view name;
};

/* the counters before NTM_STAT_A_PAD, then the ones appended after it */
inline constexpr std::size_t kStatCount = NTM_STAT_A_KEEPALIVE_RX + (NTM_STAT_A_MAX - NTM_STAT_A_PAD);
static_assert(NTM_STAT_A_KEEPALIVE_RX + 1 == NTM_STAT_A_PAD && NTM_STAT_A_DROP_ACQUIRE_TIMEOUT == NTM_STAT_A_MAX,
	      "update kStats for the new counters");

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
	{NTM_STAT_A_DROP_TS, "drop_ts"},
	{NTM_STAT_A_DUMMY_RX, "dummy_rx"},
	{NTM_STAT_A_RELAY_RX_PACKETS, "relay_rx_packets"},
	{NTM_STAT_A_RELAY_RX_BYTES, "relay_rx_bytes"},
	{NTM_STAT_A_RELAY_TX_PACKETS, "relay_tx_packets"},
	{NTM_STAT_A_RELAY_TX_BYTES, "relay_tx_bytes"},
	{NTM_STAT_A_DROP_RELAY_SRC, "drop_relay_src"},
	{NTM_STAT_A_DROP_RELAY_LIMIT, "drop_relay_limit"},
	{NTM_STAT_A_DROP_RELAY_TX, "drop_relay_tx"},
	{NTM_STAT_A_RELAY_REFUSED, "relay_refused"},
	{NTM_STAT_A_RELAY_EXPIRED, "relay_expired"},
	{NTM_STAT_A_TAKEOVER, "takeover"},
	{NTM_STAT_A_EVENT_NOMEM, "event_nomem"},
	{NTM_STAT_A_CONFIRMED, "confirmed"},
	{NTM_STAT_A_DROP_ECN, "drop_ecn"},
	{NTM_STAT_A_TUNNEL_REFUSED, "tunnel_refused"},
	{NTM_STAT_A_ROAM_EVENT_SUPPRESSED, "roam_event_suppressed"},
	{NTM_STAT_A_DROP_MAPPED, "drop_mapped"},
	{NTM_STAT_A_TX_TS_REFUSED, "tx_ts_refused"},
	{NTM_STAT_A_DROP_ACQUIRE_FULL, "drop_acquire_full"},
	{NTM_STAT_A_DROP_ACQUIRE_DST, "drop_acquire_dst"},
	{NTM_STAT_A_DROP_ACQUIRE_TIMEOUT, "drop_acquire_timeout"},
}};

/** The counters of a device or a tunnel, indexed by enum ntm_stat_attr. */
struct Stats {
	/** values[attr - 1] is the counter of attribute attr (NTM_STAT_A_PAD's slot stays 0) */
	std::array<std::uint64_t, NTM_STAT_A_MAX> values{};

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
	std::uint32_t num_relays = 0; /* relay sessions (RS role) */
	std::uint32_t max_relays = 0; /* NTM_A_MAX_RELAYS; 0 from kernels without relays */
	std::uint32_t max_tunnels = 0; /* NTM_A_MAX_TUNNELS; 0 from kernels without the limit */
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
	/* enum ntm_encap; for NTM_ENCAP_ESP_UDP local_index is the inbound SPI,
	 * remote_index the outbound one */
	std::uint8_t encap = NTM_ENCAP_NTM;
	bool esn = false;
	std::vector<Prefix> remote_ts;
	std::vector<Prefix> local_ts;
	std::uint32_t soft_lifetime = 0; /* seconds from creation, 0: none */
	std::uint64_t soft_bytes = 0;	 /* 0: no limit, for all four */
	std::uint64_t hard_bytes = 0;
	std::uint64_t soft_packets = 0;
	std::uint64_t hard_packets = 0;
	/* make-before-break rekey: enum ntm_tunnel_state (ACTIVE from kernels
	 * without rekey), and while PENDING the predecessor's local index */
	std::uint8_t state = NTM_TUNNEL_STATE_ACTIVE;
	std::optional<std::uint32_t> replaces;

	[[nodiscard]] bool is_esp() const noexcept { return encap == NTM_ENCAP_ESP_UDP; }
	[[nodiscard]] bool is_pending() const noexcept { return state == NTM_TUNNEL_STATE_PENDING; }
	[[nodiscard]] bool is_retired() const noexcept { return state == NTM_TUNNEL_STATE_RETIRED; }
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
	std::optional<std::uint32_t> max_relays; /* 0..NTM_RELAY_MAX_LIMIT */
	std::optional<std::uint32_t> max_tunnels; /* 0..NTM_TUNNEL_MAX_LIMIT */
};

/**
 * NTM_A_TUNNEL of NTM_CMD_NEW_TUNNEL / SET_TUNNEL; unset ones (nullopt,
 * empty keys and vectors, esn false) are not sent.
 *
 * An ESP SA pair (encap NTM_ENCAP_ESP_UDP): local_index = inbound SPI,
 * remote_index = outbound SPI (both >= NTM_ESP_SPI_MIN); key/tx_salt seal
 * outbound packets, rx_key/rx_salt open inbound ones; remote_ts/local_ts
 * are the traffic selectors (at most NTM_TS_MAX each). check_tunnel() of
 * ntm/parse.hpp validates a request before it is sent.
 */
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
	/* first counter (ESP: sequence number) to send, create only; the
	 * kernel's default is 0 for NTM, 1 for ESP */
	std::optional<std::uint64_t> tx_counter;
	/* ESP in UDP and SA limits */
	std::optional<std::uint8_t> encap; /* enum ntm_encap, create only */
	SecretBytes rx_key;		   /* ESP inbound key */
	bool esn = false;		   /* ESP: 64-bit sequence numbers, create only */
	std::vector<Prefix> remote_ts;
	std::vector<Prefix> local_ts;
	std::optional<std::uint32_t> soft_lifetime;
	std::optional<std::uint64_t> soft_bytes;
	std::optional<std::uint64_t> hard_bytes;
	std::optional<std::uint64_t> soft_packets;
	std::optional<std::uint64_t> hard_packets;
	/*
	 * Make-before-break rekey, create only, NTM tunnels only: the local
	 * index of the ACTIVE tunnel this one replaces (same vip4/vip6, its
	 * own new local_index), and when it starts to send: NTM_TAKEOVER_NOW
	 * (initiator) or NTM_TAKEOVER_ON_RX (responder; the kernel's default).
	 * Without replaces, NTM_TAKEOVER_ON_RX holds a new tunnel until its
	 * peer's first packet; in a change, NTM_TAKEOVER_NOW makes a pending
	 * tunnel send at once.
	 */
	std::optional<std::uint32_t> replaces;
	std::optional<std::uint8_t> takeover; /* enum ntm_takeover */

	[[nodiscard]] bool is_esp() const noexcept { return encap == NTM_ENCAP_ESP_UDP; }
};

/** One leg of a relay session: the node's endpoint and the receiver index it chose. */
struct RelayLeg {
	Endpoint endpoint;
	std::uint32_t index = 0;
	std::uint64_t rx_packets = 0; /* from this leg, accepted for forwarding */
	std::uint64_t rx_bytes = 0;

	friend bool operator==(const RelayLeg &a, const RelayLeg &b) noexcept = default;
};

/** One NTM_A_RELAY of NTM_CMD_GET_RELAY or of a relay event. */
struct Relay {
	std::uint32_t id = 0;
	std::array<RelayLeg, 2> legs{}; /* side 1, side 2 */
	std::uint64_t hard_bytes = 0;	/* both directions, 0: none */
	std::uint64_t hard_packets = 0;
	std::uint32_t idle_timeout = 0; /* seconds, 0: none */
	std::uint32_t age_s = 0;
	std::uint32_t idle_s = 0;
	std::uint64_t drop_src = 0; /* datagrams with this session's index from a wrong source */
	std::uint64_t drop_tx = 0;

	friend bool operator==(const Relay &a, const Relay &b) noexcept = default;
};

/**
 * NTM_A_RELAY of NTM_CMD_NEW_RELAY / SET_RELAY; unset fields are not sent.
 * NEW needs both legs with endpoint and index; SET moves the legs whose
 * endpoint is set (their index is not sent) and replaces the limits given.
 * check_relay() of ntm/parse.hpp validates a request before it is sent.
 */
struct RelaySettings {
	struct Leg {
		std::optional<Endpoint> endpoint;
		std::optional<std::uint32_t> index;
	};
	std::uint32_t id = 0;
	std::array<Leg, 2> legs{};
	std::optional<std::uint64_t> hard_bytes;
	std::optional<std::uint64_t> hard_packets;
	std::optional<std::uint32_t> idle_timeout;
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

	/** A soft expiry: the tunnel is still there, rekey it. */
	[[nodiscard]] bool soft() const noexcept { return expire_reason_is_soft(reason); }
};

/** NTM_CMD_EVENT_RELAY_EXPIRED: the kernel removed a relay session. */
struct RelayExpiredEvent {
	std::uint32_t ifindex = 0;
	Relay relay; /* its last state, counters included */
	std::uint32_t reason = 0; /* NTM_EXPIRE_HARD_BYTES, _HARD_PACKETS or _IDLE */
};

/**
 * NTM_CMD_EVENT_TAKEOVER: a successor took its predecessor's place and now
 * sends (NTM_TAKEOVER_NOW at once, ON_RX on its first authenticated
 * packet, or because the predecessor was deleted or expired). The
 * predecessor is retired: delete it once what is in flight has arrived.
 */
struct TakeoverEvent {
	std::uint32_t ifindex = 0;
	std::uint32_t local_index = 0;	/* the successor */
	std::uint32_t remote_index = 0; /* the successor's */
	std::uint32_t replaces = 0;	/* the predecessor's local index */

	friend bool operator==(const TakeoverEvent &a, const TakeoverEvent &b) noexcept = default;
};

using Event = std::variant<AcquireEvent, EndpointEvent, ExpiredEvent, RelayExpiredEvent, TakeoverEvent>;

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
