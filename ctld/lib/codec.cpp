// SPDX-License-Identifier: GPL-2.0
#include "ntm/codec.hpp"

#include <net/if.h>

#include <array>
#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "ntm/error.hpp"

namespace ntm {

namespace {

/* ---- building ---- */

void check_put(int rc, const char *attr)
{
	if (rc < 0)
		throw Error(std::string("netlink message too small for ") + attr, EMSGSIZE);
}

void put_u32(nl_msg *msg, int type, std::uint32_t v, const char *name)
{
	check_put(nla_put_u32(msg, type, v), name);
}

void put_u64(nl_msg *msg, int type, std::uint64_t v, const char *name)
{
	check_put(nla_put_u64(msg, type, v), name);
}

void put_bytes(nl_msg *msg, int type, std::span<const std::uint8_t> b, const char *name)
{
	check_put(nla_put(msg, type, static_cast<int>(b.size()), b.data()), name);
}

/* A nest of NTM_TS_A_PREFIX, one struct ntm_prefix each. */
void put_ts(nl_msg *msg, int type, const std::vector<Prefix> &ts, const char *name)
{
	nlattr *nest = nla_nest_start(msg, type | NLA_F_NESTED);
	if (nest == nullptr)
		check_put(-1, name);
	for (const auto &p : ts) {
		const ntm_prefix u = p.to_uapi();
		check_put(nla_put(msg, NTM_TS_A_PREFIX, sizeof(u), &u), name);
	}
	check_put(nla_nest_end(msg, nest), name);
}

/* ---- parsing ---- */

/*
 * libnl accesses attribute headers and u16/u32 payloads in place, so the
 * stream must be 4-aligned; messages from the socket are, fuzzer input may
 * not be: copy it then.
 */
class AlignedAttrs {
public:
	explicit AlignedAttrs(AttrBytes b)
	{
		if (b.size() > static_cast<std::size_t>(INT_MAX))
			throw ProtocolError("attribute stream too long");
		len_ = static_cast<int>(b.size());
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): alignment test
		if (reinterpret_cast<std::uintptr_t>(b.data()) % NLA_ALIGNTO == 0) {
			data_ = b.data();
		} else {
			copy_.resize((b.size() + 3) / 4);
			if (!b.empty())
				std::memcpy(copy_.data(), b.data(), b.size());
			data_ = copy_.data();
		}
	}
	[[nodiscard]] nlattr *head() const noexcept
	{
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast,cppcoreguidelines-pro-type-const-cast)
		return reinterpret_cast<nlattr *>(const_cast<void *>(data_));
	}
	[[nodiscard]] int len() const noexcept { return len_; }

private:
	const void *data_ = nullptr;
	int len_ = 0;
	std::vector<std::uint32_t> copy_;
};

/*
 * Attribute access inline, not through libnl's exported functions: a dump
 * of 100 000 tunnels walks 8 million attributes (the stats nest is most of
 * them), and a call per attribute and field was the larger part of the
 * parse time under the test VM.  The stream is 4-aligned (AlignedAttrs).
 */
constexpr std::size_t kAttrHdr = 4; /* NLA_HDRLEN */

constexpr std::size_t attr_align(std::size_t n) noexcept
{
	return (n + 3) & ~std::size_t{3}; /* NLA_ALIGN */
}

int attr_len(const nlattr *a) noexcept
{
	return static_cast<int>(a->nla_len) - static_cast<int>(kAttrHdr);
}

int attr_type(const nlattr *a) noexcept
{
	return a->nla_type & NLA_TYPE_MASK;
}

const std::uint8_t *attr_data(const nlattr *a) noexcept
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast,cppcoreguidelines-pro-bounds-pointer-arithmetic)
	return reinterpret_cast<const std::uint8_t *>(a) + kAttrHdr;
}

/* Calls f(attr) for each well-formed attribute, stops at the first that is not (like nla_for_each_attr). */
template <class F> void for_each_attr(const nlattr *head, int len, F &&f)
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	const auto *p = reinterpret_cast<const std::uint8_t *>(head);
	auto rem = static_cast<std::size_t>(len > 0 ? len : 0);
	while (rem >= kAttrHdr) {
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		const auto *a = reinterpret_cast<const nlattr *>(p);
		const std::size_t n = a->nla_len;
		if (n < kAttrHdr || n > rem)
			break;
		f(a);
		const std::size_t step = attr_align(n);
		if (step >= rem)
			break;
		p += step; // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		rem -= step;
	}
}

template <std::size_t N> using AttrTable = std::array<const nlattr *, N + 1>;

/* nla_parse() without a policy: the last of a type wins, types above N are ignored */
template <std::size_t N> AttrTable<N> parse_table(const nlattr *head, int len)
{
	AttrTable<N> tb{};
	for_each_attr(head, len, [&tb](const nlattr *a) {
		const auto type = static_cast<std::size_t>(attr_type(a));
		if (type <= N)
			tb[type] = a; // NOLINT(cppcoreguidelines-pro-bounds-constant-array-index): checked
	});
	return tb;
}

AttrBytes payload(const nlattr *a) noexcept
{
	const int n = attr_len(a);
	return {attr_data(a), n > 0 ? static_cast<std::size_t>(n) : 0U};
}

[[noreturn]] void bad_len(const char *name, const nlattr *a, const char *expected)
{
	throw ProtocolError(std::string(name) + " has " + std::to_string(attr_len(a)) + " bytes, expected " + expected);
}

std::uint8_t get_u8(const nlattr *a, const char *name)
{
	if (attr_len(a) != 1)
		bad_len(name, a, "1");
	std::uint8_t v = 0;
	std::memcpy(&v, attr_data(a), sizeof(v));
	return v;
}

std::uint16_t get_u16(const nlattr *a, const char *name)
{
	if (attr_len(a) != 2)
		bad_len(name, a, "2");
	std::uint16_t v = 0;
	std::memcpy(&v, attr_data(a), sizeof(v));
	return v;
}

std::uint32_t get_u32(const nlattr *a, const char *name)
{
	if (attr_len(a) != 4)
		bad_len(name, a, "4");
	std::uint32_t v = 0;
	std::memcpy(&v, attr_data(a), sizeof(v));
	return v;
}

std::uint64_t get_u64(const nlattr *a, const char *name)
{
	if (attr_len(a) != 8)
		bad_len(name, a, "8");
	std::uint64_t v = 0;
	std::memcpy(&v, attr_data(a), sizeof(v)); /* payload may be only 4-aligned */
	return v;
}

std::string get_ifname(const nlattr *a)
{
	const auto p = payload(a);
	const void *nul = p.empty() ? nullptr : std::memchr(p.data(), '\0', p.size());
	if (nul == nullptr)
		throw ProtocolError("NTM_A_IFNAME is not NUL-terminated");
	const auto n = static_cast<std::size_t>(static_cast<const std::uint8_t *>(nul) - p.data());
	if (n >= IFNAMSIZ)
		throw ProtocolError("NTM_A_IFNAME too long");
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	return {reinterpret_cast<const char *>(p.data()), n};
}

IpAddress get_address(const nlattr *a, const char *name, std::size_t want = 0)
{
	const auto p = payload(a);
	auto addr = IpAddress::from_bytes(p);
	if (!addr || (want != 0 && p.size() != want))
		bad_len(name, a, want == 4 ? "4" : want == 16 ? "16" : "4 or 16");
	return *addr;
}

Endpoint get_endpoint(const nlattr *a)
{
	auto ep = Endpoint::from_sockaddr(payload(a));
	if (!ep)
		throw ProtocolError("NTM_TUNNEL_A_ENDPOINT is not a sockaddr_in or sockaddr_in6");
	return *ep;
}

[[noreturn]] void missing(const char *name)
{
	throw ProtocolError(std::string(name) + " missing");
}

Stats parse_stats_nest(const nlattr *nest)
{
	return parse_stats(payload(nest));
}

/* NTM_TUNNEL_A_REMOTE_TS / LOCAL_TS: NTM_TS_A_PREFIX in order, others ignored. */
std::vector<Prefix> get_ts(const nlattr *nest, const char *name)
{
	const AlignedAttrs aa(payload(nest));
	std::vector<Prefix> out;
	const nlattr *pos = nullptr;
	int rem = 0;
	nla_for_each_attr(pos, aa.head(), aa.len(), rem)
	{
		if (nla_type(pos) != NTM_TS_A_PREFIX)
			continue;
		auto p = Prefix::from_uapi(payload(pos));
		if (!p)
			throw ProtocolError(std::string(name) + " holds a bad struct ntm_prefix (" +
					    std::to_string(nla_len(pos)) + " bytes)");
		out.push_back(*p);
	}
	return out;
}

} // namespace

void put_device_ref(nl_msg *msg, const DeviceRef &ref)
{
	if (ref.ifindex != 0)
		put_u32(msg, NTM_A_IFINDEX, ref.ifindex, "NTM_A_IFINDEX");
	else
		check_put(nla_put_string(msg, NTM_A_IFNAME, ref.name.c_str()), "NTM_A_IFNAME");
}

void put_device_settings(nl_msg *msg, const DeviceSettings &s)
{
	if (s.udp4_fd)
		check_put(nla_put_s32(msg, NTM_A_UDP4_FD, *s.udp4_fd), "NTM_A_UDP4_FD");
	if (s.udp6_fd)
		check_put(nla_put_s32(msg, NTM_A_UDP6_FD, *s.udp6_fd), "NTM_A_UDP6_FD");
	if (s.flags)
		put_u32(msg, NTM_A_FLAGS, *s.flags, "NTM_A_FLAGS");
	if (s.fwmark)
		put_u32(msg, NTM_A_FWMARK, *s.fwmark, "NTM_A_FWMARK");
	if (s.acquire_qlen)
		put_u32(msg, NTM_A_ACQUIRE_QLEN, *s.acquire_qlen, "NTM_A_ACQUIRE_QLEN");
	if (s.max_relays)
		put_u32(msg, NTM_A_MAX_RELAYS, *s.max_relays, "NTM_A_MAX_RELAYS");
	if (s.max_tunnels)
		put_u32(msg, NTM_A_MAX_TUNNELS, *s.max_tunnels, "NTM_A_MAX_TUNNELS");
}

void put_tunnel(nl_msg *msg, const TunnelSettings &s)
{
	/* the kernel validates strictly: nests must carry NLA_F_NESTED */
	nlattr *nest = nla_nest_start(msg, NTM_A_TUNNEL | NLA_F_NESTED);
	if (nest == nullptr)
		check_put(-1, "NTM_A_TUNNEL");
	put_u32(msg, NTM_TUNNEL_A_LOCAL_INDEX, s.local_index, "NTM_TUNNEL_A_LOCAL_INDEX");
	if (s.remote_index)
		put_u32(msg, NTM_TUNNEL_A_REMOTE_INDEX, *s.remote_index, "NTM_TUNNEL_A_REMOTE_INDEX");
	if (s.endpoint)
		put_bytes(msg, NTM_TUNNEL_A_ENDPOINT, s.endpoint->sockaddr_bytes(), "NTM_TUNNEL_A_ENDPOINT");
	if (s.vip4)
		put_bytes(msg, NTM_TUNNEL_A_VIP4, s.vip4->bytes(), "NTM_TUNNEL_A_VIP4");
	if (s.vip6)
		put_bytes(msg, NTM_TUNNEL_A_VIP6, s.vip6->bytes(), "NTM_TUNNEL_A_VIP6");
	if (s.cipher)
		check_put(nla_put_u16(msg, NTM_TUNNEL_A_CIPHER, *s.cipher), "NTM_TUNNEL_A_CIPHER");
	if (!s.key.empty())
		put_bytes(msg, NTM_TUNNEL_A_KEY, s.key.span(), "NTM_TUNNEL_A_KEY");
	if (s.tx_salt)
		put_bytes(msg, NTM_TUNNEL_A_TX_SALT, *s.tx_salt, "NTM_TUNNEL_A_TX_SALT");
	if (s.rx_salt)
		put_bytes(msg, NTM_TUNNEL_A_RX_SALT, *s.rx_salt, "NTM_TUNNEL_A_RX_SALT");
	if (s.lifetime)
		put_u32(msg, NTM_TUNNEL_A_LIFETIME, *s.lifetime, "NTM_TUNNEL_A_LIFETIME");
	if (s.flags)
		put_u32(msg, NTM_TUNNEL_A_FLAGS, *s.flags, "NTM_TUNNEL_A_FLAGS");
	if (s.tx_counter)
		put_u64(msg, NTM_TUNNEL_A_TX_COUNTER, *s.tx_counter, "NTM_TUNNEL_A_TX_COUNTER");
	if (s.encap)
		check_put(nla_put_u8(msg, NTM_TUNNEL_A_ENCAP, *s.encap), "NTM_TUNNEL_A_ENCAP");
	if (!s.rx_key.empty())
		put_bytes(msg, NTM_TUNNEL_A_RX_KEY, s.rx_key.span(), "NTM_TUNNEL_A_RX_KEY");
	if (s.esn)
		check_put(nla_put_flag(msg, NTM_TUNNEL_A_ESN), "NTM_TUNNEL_A_ESN");
	if (!s.remote_ts.empty())
		put_ts(msg, NTM_TUNNEL_A_REMOTE_TS, s.remote_ts, "NTM_TUNNEL_A_REMOTE_TS");
	if (!s.local_ts.empty())
		put_ts(msg, NTM_TUNNEL_A_LOCAL_TS, s.local_ts, "NTM_TUNNEL_A_LOCAL_TS");
	if (s.soft_lifetime)
		put_u32(msg, NTM_TUNNEL_A_SOFT_LIFETIME, *s.soft_lifetime, "NTM_TUNNEL_A_SOFT_LIFETIME");
	if (s.soft_bytes)
		put_u64(msg, NTM_TUNNEL_A_SOFT_BYTES, *s.soft_bytes, "NTM_TUNNEL_A_SOFT_BYTES");
	if (s.hard_bytes)
		put_u64(msg, NTM_TUNNEL_A_HARD_BYTES, *s.hard_bytes, "NTM_TUNNEL_A_HARD_BYTES");
	if (s.soft_packets)
		put_u64(msg, NTM_TUNNEL_A_SOFT_PACKETS, *s.soft_packets, "NTM_TUNNEL_A_SOFT_PACKETS");
	if (s.hard_packets)
		put_u64(msg, NTM_TUNNEL_A_HARD_PACKETS, *s.hard_packets, "NTM_TUNNEL_A_HARD_PACKETS");
	if (s.replaces)
		put_u32(msg, NTM_TUNNEL_A_REPLACES, *s.replaces, "NTM_TUNNEL_A_REPLACES");
	if (s.takeover)
		check_put(nla_put_u8(msg, NTM_TUNNEL_A_TAKEOVER, *s.takeover), "NTM_TUNNEL_A_TAKEOVER");
	check_put(nla_nest_end(msg, nest), "NTM_A_TUNNEL");
}

void put_tunnel_index(nl_msg *msg, std::uint32_t local_index)
{
	TunnelSettings s;
	s.local_index = local_index;
	put_tunnel(msg, s);
}

void put_flag(nl_msg *msg, int attr)
{
	check_put(nla_put_flag(msg, attr), "flag");
}

void put_relay(nl_msg *msg, const RelaySettings &s)
{
	nlattr *nest = nla_nest_start(msg, NTM_A_RELAY | NLA_F_NESTED);
	if (nest == nullptr)
		check_put(-1, "NTM_A_RELAY");
	put_u32(msg, NTM_RELAY_A_ID, s.id, "NTM_RELAY_A_ID");
	for (std::size_t i = 0; i < s.legs.size(); i++) {
		const auto &leg = s.legs.at(i);
		if (!leg.endpoint && !leg.index)
			continue;
		nlattr *ln = nla_nest_start(msg, NTM_RELAY_A_LEG | NLA_F_NESTED);
		if (ln == nullptr)
			check_put(-1, "NTM_RELAY_A_LEG");
		check_put(nla_put_u8(msg, NTM_RELAY_LEG_A_SIDE, static_cast<std::uint8_t>(i + 1)),
			  "NTM_RELAY_LEG_A_SIDE");
		if (leg.endpoint)
			put_bytes(msg, NTM_RELAY_LEG_A_ENDPOINT, leg.endpoint->sockaddr_bytes(),
				  "NTM_RELAY_LEG_A_ENDPOINT");
		if (leg.index)
			put_u32(msg, NTM_RELAY_LEG_A_INDEX, *leg.index, "NTM_RELAY_LEG_A_INDEX");
		check_put(nla_nest_end(msg, ln), "NTM_RELAY_A_LEG");
	}
	if (s.hard_bytes)
		put_u64(msg, NTM_RELAY_A_HARD_BYTES, *s.hard_bytes, "NTM_RELAY_A_HARD_BYTES");
	if (s.hard_packets)
		put_u64(msg, NTM_RELAY_A_HARD_PACKETS, *s.hard_packets, "NTM_RELAY_A_HARD_PACKETS");
	if (s.idle_timeout)
		put_u32(msg, NTM_RELAY_A_IDLE_TIMEOUT, *s.idle_timeout, "NTM_RELAY_A_IDLE_TIMEOUT");
	check_put(nla_nest_end(msg, nest), "NTM_A_RELAY");
}

void put_relay_id(nl_msg *msg, std::uint32_t id)
{
	RelaySettings s;
	s.id = id;
	put_relay(msg, s);
}

Stats parse_stats(AttrBytes nested)
{
	const AlignedAttrs aa(nested);
	Stats st;
	/* one pass, no table: this nest is 60 of a dumped tunnel's 80 attributes */
	for_each_attr(aa.head(), aa.len(), [&st](const nlattr *a) {
		const int type = attr_type(a);
		if (type >= 1 && type <= NTM_STAT_A_MAX && type != NTM_STAT_A_PAD)
			st.set(type, get_u64(a, "NTM_STAT_A_*"));
	});
	return st;
}

Device parse_device(AttrBytes attrs)
{
	const AlignedAttrs aa(attrs);
	const auto tb = parse_table<NTM_A_MAX>(aa.head(), aa.len());
	Device d;
	if (tb[NTM_A_IFINDEX] == nullptr)
		missing("NTM_A_IFINDEX");
	d.ifindex = get_u32(tb[NTM_A_IFINDEX], "NTM_A_IFINDEX");
	if (tb[NTM_A_IFNAME] != nullptr)
		d.name = get_ifname(tb[NTM_A_IFNAME]);
	if (tb[NTM_A_FLAGS] != nullptr)
		d.flags = get_u32(tb[NTM_A_FLAGS], "NTM_A_FLAGS");
	if (tb[NTM_A_FWMARK] != nullptr)
		d.fwmark = get_u32(tb[NTM_A_FWMARK], "NTM_A_FWMARK");
	if (tb[NTM_A_PORT4] != nullptr)
		d.port4 = get_u16(tb[NTM_A_PORT4], "NTM_A_PORT4");
	if (tb[NTM_A_PORT6] != nullptr)
		d.port6 = get_u16(tb[NTM_A_PORT6], "NTM_A_PORT6");
	if (tb[NTM_A_NUM_TUNNELS] != nullptr)
		d.num_tunnels = get_u32(tb[NTM_A_NUM_TUNNELS], "NTM_A_NUM_TUNNELS");
	if (tb[NTM_A_ACQUIRE_QLEN] != nullptr)
		d.acquire_qlen = get_u32(tb[NTM_A_ACQUIRE_QLEN], "NTM_A_ACQUIRE_QLEN");
	if (tb[NTM_A_STATS] != nullptr)
		d.stats = parse_stats_nest(tb[NTM_A_STATS]);
	if (tb[NTM_A_NUM_RELAYS] != nullptr)
		d.num_relays = get_u32(tb[NTM_A_NUM_RELAYS], "NTM_A_NUM_RELAYS");
	if (tb[NTM_A_MAX_RELAYS] != nullptr)
		d.max_relays = get_u32(tb[NTM_A_MAX_RELAYS], "NTM_A_MAX_RELAYS");
	if (tb[NTM_A_MAX_TUNNELS] != nullptr)
		d.max_tunnels = get_u32(tb[NTM_A_MAX_TUNNELS], "NTM_A_MAX_TUNNELS");
	return d;
}

namespace {

RelayLeg parse_relay_leg(const nlattr *nest, std::uint8_t &side)
{
	const AlignedAttrs aa(payload(nest));
	const auto tb = parse_table<NTM_RELAY_LEG_A_MAX>(aa.head(), aa.len());
	RelayLeg leg;
	side = 0;
	if (tb[NTM_RELAY_LEG_A_SIDE] != nullptr)
		side = get_u8(tb[NTM_RELAY_LEG_A_SIDE], "NTM_RELAY_LEG_A_SIDE");
	if (tb[NTM_RELAY_LEG_A_ENDPOINT] == nullptr)
		missing("NTM_RELAY_LEG_A_ENDPOINT");
	leg.endpoint = get_endpoint(tb[NTM_RELAY_LEG_A_ENDPOINT]);
	if (tb[NTM_RELAY_LEG_A_INDEX] != nullptr)
		leg.index = get_u32(tb[NTM_RELAY_LEG_A_INDEX], "NTM_RELAY_LEG_A_INDEX");
	if (tb[NTM_RELAY_LEG_A_RX_PACKETS] != nullptr)
		leg.rx_packets = get_u64(tb[NTM_RELAY_LEG_A_RX_PACKETS], "NTM_RELAY_LEG_A_RX_PACKETS");
	if (tb[NTM_RELAY_LEG_A_RX_BYTES] != nullptr)
		leg.rx_bytes = get_u64(tb[NTM_RELAY_LEG_A_RX_BYTES], "NTM_RELAY_LEG_A_RX_BYTES");
	return leg;
}

} // namespace

Relay parse_relay_attrs(AttrBytes nested)
{
	const AlignedAttrs aa(nested);
	const auto tb = parse_table<NTM_RELAY_A_MAX>(aa.head(), aa.len());
	Relay r;
	if (tb[NTM_RELAY_A_ID] == nullptr)
		missing("NTM_RELAY_A_ID");
	r.id = get_u32(tb[NTM_RELAY_A_ID], "NTM_RELAY_A_ID");
	std::array<bool, 2> seen{};
	std::size_t pos = 0;
	const nlattr *a = nullptr;
	int rem = 0;
	nla_for_each_attr(a, aa.head(), aa.len(), rem)
	{
		if (nla_type(a) != NTM_RELAY_A_LEG)
			continue;
		if (pos == 2)
			throw ProtocolError("NTM_A_RELAY has more than two legs");
		std::uint8_t side = 0;
		RelayLeg leg = parse_relay_leg(a, side);
		const std::size_t i = side == 0 ? pos : static_cast<std::size_t>(side) - 1;
		if (i >= 2 || seen.at(i))
			throw ProtocolError("NTM_RELAY_LEG_A_SIDE " + std::to_string(side) + " is out of range or repeated");
		seen.at(i) = true;
		r.legs.at(i) = leg;
		pos++;
	}
	if (tb[NTM_RELAY_A_HARD_BYTES] != nullptr)
		r.hard_bytes = get_u64(tb[NTM_RELAY_A_HARD_BYTES], "NTM_RELAY_A_HARD_BYTES");
	if (tb[NTM_RELAY_A_HARD_PACKETS] != nullptr)
		r.hard_packets = get_u64(tb[NTM_RELAY_A_HARD_PACKETS], "NTM_RELAY_A_HARD_PACKETS");
	if (tb[NTM_RELAY_A_IDLE_TIMEOUT] != nullptr)
		r.idle_timeout = get_u32(tb[NTM_RELAY_A_IDLE_TIMEOUT], "NTM_RELAY_A_IDLE_TIMEOUT");
	if (tb[NTM_RELAY_A_AGE_S] != nullptr)
		r.age_s = get_u32(tb[NTM_RELAY_A_AGE_S], "NTM_RELAY_A_AGE_S");
	if (tb[NTM_RELAY_A_IDLE_S] != nullptr)
		r.idle_s = get_u32(tb[NTM_RELAY_A_IDLE_S], "NTM_RELAY_A_IDLE_S");
	if (tb[NTM_RELAY_A_DROP_SRC] != nullptr)
		r.drop_src = get_u64(tb[NTM_RELAY_A_DROP_SRC], "NTM_RELAY_A_DROP_SRC");
	if (tb[NTM_RELAY_A_DROP_TX] != nullptr)
		r.drop_tx = get_u64(tb[NTM_RELAY_A_DROP_TX], "NTM_RELAY_A_DROP_TX");
	return r;
}

std::uint32_t parse_relays(AttrBytes attrs, const std::function<void(Relay &&)> &sink)
{
	const AlignedAttrs aa(attrs);
	std::uint32_t ifindex = 0;
	const nlattr *pos = nullptr;
	int rem = 0;
	nla_for_each_attr(pos, aa.head(), aa.len(), rem)
	{
		switch (nla_type(pos)) {
		case NTM_A_IFINDEX:
			ifindex = get_u32(pos, "NTM_A_IFINDEX");
			break;
		case NTM_A_RELAY:
			sink(parse_relay_attrs(payload(pos)));
			break;
		default:
			break;
		}
	}
	return ifindex;
}

Tunnel parse_tunnel_attrs(AttrBytes nested)
{
	const AlignedAttrs aa(nested);
	const auto tb = parse_table<NTM_TUNNEL_A_MAX>(aa.head(), aa.len());
	Tunnel t;
	if (tb[NTM_TUNNEL_A_LOCAL_INDEX] == nullptr)
		missing("NTM_TUNNEL_A_LOCAL_INDEX");
	t.local_index = get_u32(tb[NTM_TUNNEL_A_LOCAL_INDEX], "NTM_TUNNEL_A_LOCAL_INDEX");
	if (tb[NTM_TUNNEL_A_REMOTE_INDEX] != nullptr)
		t.remote_index = get_u32(tb[NTM_TUNNEL_A_REMOTE_INDEX], "NTM_TUNNEL_A_REMOTE_INDEX");
	if (tb[NTM_TUNNEL_A_ENDPOINT] != nullptr)
		t.endpoint = get_endpoint(tb[NTM_TUNNEL_A_ENDPOINT]);
	if (tb[NTM_TUNNEL_A_VIP4] != nullptr)
		t.vip4 = get_address(tb[NTM_TUNNEL_A_VIP4], "NTM_TUNNEL_A_VIP4", 4);
	if (tb[NTM_TUNNEL_A_VIP6] != nullptr)
		t.vip6 = get_address(tb[NTM_TUNNEL_A_VIP6], "NTM_TUNNEL_A_VIP6", 16);
	if (tb[NTM_TUNNEL_A_CIPHER] != nullptr)
		t.cipher = get_u16(tb[NTM_TUNNEL_A_CIPHER], "NTM_TUNNEL_A_CIPHER");
	if (tb[NTM_TUNNEL_A_LIFETIME] != nullptr)
		t.lifetime = get_u32(tb[NTM_TUNNEL_A_LIFETIME], "NTM_TUNNEL_A_LIFETIME");
	if (tb[NTM_TUNNEL_A_FLAGS] != nullptr)
		t.flags = get_u32(tb[NTM_TUNNEL_A_FLAGS], "NTM_TUNNEL_A_FLAGS");
	if (tb[NTM_TUNNEL_A_TX_COUNTER] != nullptr)
		t.tx_counter = get_u64(tb[NTM_TUNNEL_A_TX_COUNTER], "NTM_TUNNEL_A_TX_COUNTER");
	if (tb[NTM_TUNNEL_A_RX_COUNTER] != nullptr)
		t.rx_counter = get_u64(tb[NTM_TUNNEL_A_RX_COUNTER], "NTM_TUNNEL_A_RX_COUNTER");
	if (tb[NTM_TUNNEL_A_LAST_RX_NS] != nullptr)
		t.last_rx_ns = get_u64(tb[NTM_TUNNEL_A_LAST_RX_NS], "NTM_TUNNEL_A_LAST_RX_NS");
	if (tb[NTM_TUNNEL_A_AGE_S] != nullptr)
		t.age_s = get_u32(tb[NTM_TUNNEL_A_AGE_S], "NTM_TUNNEL_A_AGE_S");
	if (tb[NTM_TUNNEL_A_STATS] != nullptr)
		t.stats = parse_stats_nest(tb[NTM_TUNNEL_A_STATS]);
	if (tb[NTM_TUNNEL_A_ENCAP] != nullptr)
		t.encap = get_u8(tb[NTM_TUNNEL_A_ENCAP], "NTM_TUNNEL_A_ENCAP");
	if (tb[NTM_TUNNEL_A_ESN] != nullptr) {
		if (nla_len(tb[NTM_TUNNEL_A_ESN]) != 0)
			bad_len("NTM_TUNNEL_A_ESN", tb[NTM_TUNNEL_A_ESN], "0 (a flag)");
		t.esn = true;
	}
	if (tb[NTM_TUNNEL_A_REMOTE_TS] != nullptr)
		t.remote_ts = get_ts(tb[NTM_TUNNEL_A_REMOTE_TS], "NTM_TUNNEL_A_REMOTE_TS");
	if (tb[NTM_TUNNEL_A_LOCAL_TS] != nullptr)
		t.local_ts = get_ts(tb[NTM_TUNNEL_A_LOCAL_TS], "NTM_TUNNEL_A_LOCAL_TS");
	if (tb[NTM_TUNNEL_A_SOFT_LIFETIME] != nullptr)
		t.soft_lifetime = get_u32(tb[NTM_TUNNEL_A_SOFT_LIFETIME], "NTM_TUNNEL_A_SOFT_LIFETIME");
	if (tb[NTM_TUNNEL_A_SOFT_BYTES] != nullptr)
		t.soft_bytes = get_u64(tb[NTM_TUNNEL_A_SOFT_BYTES], "NTM_TUNNEL_A_SOFT_BYTES");
	if (tb[NTM_TUNNEL_A_HARD_BYTES] != nullptr)
		t.hard_bytes = get_u64(tb[NTM_TUNNEL_A_HARD_BYTES], "NTM_TUNNEL_A_HARD_BYTES");
	if (tb[NTM_TUNNEL_A_SOFT_PACKETS] != nullptr)
		t.soft_packets = get_u64(tb[NTM_TUNNEL_A_SOFT_PACKETS], "NTM_TUNNEL_A_SOFT_PACKETS");
	if (tb[NTM_TUNNEL_A_HARD_PACKETS] != nullptr)
		t.hard_packets = get_u64(tb[NTM_TUNNEL_A_HARD_PACKETS], "NTM_TUNNEL_A_HARD_PACKETS");
	if (tb[NTM_TUNNEL_A_STATE] != nullptr)
		t.state = get_u8(tb[NTM_TUNNEL_A_STATE], "NTM_TUNNEL_A_STATE");
	if (tb[NTM_TUNNEL_A_REPLACES] != nullptr)
		t.replaces = get_u32(tb[NTM_TUNNEL_A_REPLACES], "NTM_TUNNEL_A_REPLACES");
	return t;
}

std::uint32_t parse_tunnels(AttrBytes attrs, const std::function<void(Tunnel &&)> &sink)
{
	const AlignedAttrs aa(attrs);
	std::uint32_t ifindex = 0;
	const nlattr *pos = nullptr;
	int rem = 0;
	nla_for_each_attr(pos, aa.head(), aa.len(), rem)
	{
		switch (nla_type(pos)) {
		case NTM_A_IFINDEX:
			ifindex = get_u32(pos, "NTM_A_IFINDEX");
			break;
		case NTM_A_TUNNEL:
			sink(parse_tunnel_attrs(payload(pos)));
			break;
		default:
			break;
		}
	}
	return ifindex;
}

std::optional<Event> parse_event(std::uint8_t cmd, AttrBytes attrs)
{
	if (cmd != NTM_CMD_EVENT_ACQUIRE && cmd != NTM_CMD_EVENT_ENDPOINT && cmd != NTM_CMD_EVENT_EXPIRED &&
	    cmd != NTM_CMD_EVENT_RELAY_EXPIRED && cmd != NTM_CMD_EVENT_TAKEOVER)
		return std::nullopt;

	const AlignedAttrs aa(attrs);
	const auto tb = parse_table<NTM_A_MAX>(aa.head(), aa.len());
	if (tb[NTM_A_IFINDEX] == nullptr)
		missing("NTM_A_IFINDEX");
	const std::uint32_t ifindex = get_u32(tb[NTM_A_IFINDEX], "NTM_A_IFINDEX");

	if (cmd == NTM_CMD_EVENT_ACQUIRE) {
		if (tb[NTM_A_INNER_DST] == nullptr)
			missing("NTM_A_INNER_DST");
		if (tb[NTM_A_INNER_SRC] == nullptr)
			missing("NTM_A_INNER_SRC");
		return AcquireEvent{ifindex, get_address(tb[NTM_A_INNER_DST], "NTM_A_INNER_DST"),
				    get_address(tb[NTM_A_INNER_SRC], "NTM_A_INNER_SRC")};
	}

	if (cmd == NTM_CMD_EVENT_RELAY_EXPIRED) {
		if (tb[NTM_A_RELAY] == nullptr)
			missing("NTM_A_RELAY");
		std::uint32_t reason = 0;
		if (tb[NTM_A_REASON] != nullptr)
			reason = get_u32(tb[NTM_A_REASON], "NTM_A_REASON");
		return RelayExpiredEvent{ifindex, parse_relay_attrs(payload(tb[NTM_A_RELAY])), reason};
	}

	if (tb[NTM_A_TUNNEL] == nullptr)
		missing("NTM_A_TUNNEL");
	const Tunnel t = parse_tunnel_attrs(payload(tb[NTM_A_TUNNEL]));
	if (cmd == NTM_CMD_EVENT_ENDPOINT) {
		if (!t.endpoint)
			missing("NTM_TUNNEL_A_ENDPOINT");
		return EndpointEvent{ifindex, t.local_index, *t.endpoint};
	}
	if (cmd == NTM_CMD_EVENT_TAKEOVER) {
		if (!t.replaces)
			missing("NTM_TUNNEL_A_REPLACES");
		return TakeoverEvent{ifindex, t.local_index, t.remote_index, *t.replaces};
	}
	std::uint32_t reason = 0;
	if (tb[NTM_A_REASON] != nullptr)
		reason = get_u32(tb[NTM_A_REASON], "NTM_A_REASON");
	return ExpiredEvent{ifindex, t.local_index, t.remote_index, reason};
}

} // namespace ntm
