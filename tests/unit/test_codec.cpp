// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink attributes of the ntm family: requests built with libnl are read
 * back attribute by attribute; replies are handcrafted the way the kernel
 * lays them out (see attr_writer.hpp) and parsed into the model.
 */
#include <arpa/inet.h>
#include <linux/genetlink.h>

#include <array>
#include <cstring>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "attr_writer.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/handle.hpp"
#include "ntm/parse.hpp"

using ntm::ProtocolError;
using ntmtest::AttrWriter;

namespace {

/* A generic netlink message of family 0x20 with cmd, built by libnl. */
ntm::NlMsgPtr genl_msg(std::uint8_t cmd)
{
	auto msg = ntm::make_nlmsg();
	EXPECT_NE(genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, 0x20, 0, 0, cmd, NTM_GENL_VERSION), nullptr);
	return msg;
}

/* The attribute stream after the genlmsghdr of a libnl message. */
std::span<const std::uint8_t> attrs_of(const ntm::NlMsgPtr &msg)
{
	auto *gh = static_cast<genlmsghdr *>(nlmsg_data(nlmsg_hdr(msg.get())));
	return {static_cast<const std::uint8_t *>(static_cast<void *>(genlmsg_attrdata(gh, 0))),
		static_cast<std::size_t>(genlmsg_attrlen(gh, 0))};
}

template <std::size_t N> std::array<nlattr *, N + 1> table(std::span<const std::uint8_t> s)
{
	std::array<nlattr *, N + 1> tb{};
	// NOLINTNEXTLINE
	EXPECT_EQ(nla_parse(tb.data(), N, reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(s.data())),
			    static_cast<int>(s.size()), nullptr),
		  0);
	return tb;
}

std::span<const std::uint8_t> payload(const nlattr *a)
{
	return {static_cast<const std::uint8_t *>(nla_data(a)), static_cast<std::size_t>(nla_len(a))};
}

ntm::TunnelSettings full_tunnel()
{
	ntm::TunnelSettings t;
	t.local_index = 7;
	t.remote_index = 9;
	t.endpoint = ntm::parse_endpoint("192.0.2.1:4500");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.vip6 = ntm::parse_ipv6("fd00::2");
	t.cipher = NTM_CIPHER_AES_GCM;
	t.key = ntm::parse_hex_key("000102030405060708090a0b0c0d0e0f");
	t.tx_salt = ntm::parse_salt("01020304", "tx");
	t.rx_salt = ntm::parse_salt("05060708", "rx");
	t.lifetime = 3600;
	t.flags = NTM_TUNNEL_F_NO_ROAMING;
	return t;
}

void put_stats(AttrWriter &w, int type, std::uint64_t base)
{
	const auto nest = w.nest_start(type);
	for (const auto &s : ntm::kStats)
		w.put_u64_64bit(s.attr, base + static_cast<std::uint64_t>(s.attr), NTM_STAT_A_PAD);
	w.nest_end(nest);
}

void put_tunnel_nest(AttrWriter &w, std::uint32_t local, const std::string &ep)
{
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, local);
	w.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, local + 100);
	const auto e = ntm::parse_endpoint(ep);
	w.put(NTM_TUNNEL_A_ENDPOINT, e.sockaddr_bytes());
	w.put(NTM_TUNNEL_A_VIP4, ntm::parse_ipv4("10.1.0.2").bytes());
	w.put(NTM_TUNNEL_A_VIP6, ntm::parse_ipv6("fd00::2").bytes());
	w.put_u16(NTM_TUNNEL_A_CIPHER, NTM_CIPHER_CHACHA20_POLY1305);
	w.put_u32(NTM_TUNNEL_A_LIFETIME, 600);
	w.put_u32(NTM_TUNNEL_A_FLAGS, NTM_TUNNEL_F_NO_ROAMING);
	w.put_u64_64bit(NTM_TUNNEL_A_TX_COUNTER, 1000, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_RX_COUNTER, 2000, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_LAST_RX_NS, 3000, NTM_TUNNEL_A_PAD);
	w.put_u32(NTM_TUNNEL_A_AGE_S, 42);
	put_stats(w, NTM_TUNNEL_A_STATS, 10);
	w.nest_end(nest);
}

} // namespace

/* ---- requests ---- */

TEST(CodecRequest, DeviceRef)
{
	auto msg = genl_msg(NTM_CMD_GET_DEVICE);
	ntm::put_device_ref(msg.get(), ntm::DeviceRef::by_name("ntm0"));
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_IFNAME], nullptr);
	EXPECT_EQ(tb[NTM_A_IFINDEX], nullptr);
	EXPECT_EQ(nla_len(tb[NTM_A_IFNAME]), 5); /* NUL-terminated */
	EXPECT_STREQ(static_cast<const char *>(nla_data(tb[NTM_A_IFNAME])), "ntm0");

	auto msg2 = genl_msg(NTM_CMD_GET_DEVICE);
	ntm::put_device_ref(msg2.get(), ntm::DeviceRef::by_index(12));
	auto tb2 = table<NTM_A_MAX>(attrs_of(msg2));
	ASSERT_NE(tb2[NTM_A_IFINDEX], nullptr);
	EXPECT_EQ(nla_len(tb2[NTM_A_IFINDEX]), 4);
	EXPECT_EQ(nla_get_u32(tb2[NTM_A_IFINDEX]), 12U);
	EXPECT_EQ(tb2[NTM_A_IFNAME], nullptr);
}

TEST(CodecRequest, GenlHeader)
{
	auto msg = genl_msg(NTM_CMD_SET_DEVICE);
	const auto *gh = static_cast<const genlmsghdr *>(nlmsg_data(nlmsg_hdr(msg.get())));
	EXPECT_EQ(gh->cmd, NTM_CMD_SET_DEVICE);
	EXPECT_EQ(gh->version, NTM_GENL_VERSION);
	EXPECT_EQ(gh->reserved, 0);
}

TEST(CodecRequest, DeviceSettings)
{
	auto msg = genl_msg(NTM_CMD_SET_DEVICE);
	ntm::DeviceSettings s;
	s.udp4_fd = 5;
	s.udp6_fd = -1;
	s.flags = NTM_DEV_F_NO_ROAMING;
	s.acquire_qlen = 0;
	ntm::put_device_settings(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_UDP4_FD], nullptr);
	ASSERT_NE(tb[NTM_A_UDP6_FD], nullptr);
	EXPECT_EQ(nla_len(tb[NTM_A_UDP4_FD]), 4);
	EXPECT_EQ(nla_get_s32(tb[NTM_A_UDP4_FD]), 5);
	EXPECT_EQ(nla_get_s32(tb[NTM_A_UDP6_FD]), -1);
	EXPECT_EQ(nla_get_u32(tb[NTM_A_FLAGS]), static_cast<std::uint32_t>(NTM_DEV_F_NO_ROAMING));
	ASSERT_NE(tb[NTM_A_ACQUIRE_QLEN], nullptr);
	EXPECT_EQ(nla_get_u32(tb[NTM_A_ACQUIRE_QLEN]), 0U);
	EXPECT_EQ(tb[NTM_A_FWMARK], nullptr); /* unset: not sent */
}

TEST(CodecRequest, TunnelLayout)
{
	auto msg = genl_msg(NTM_CMD_NEW_TUNNEL);
	ntm::put_device_ref(msg.get(), ntm::DeviceRef::by_name("ntm0"));
	ntm::put_tunnel(msg.get(), full_tunnel());
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_TUNNEL], nullptr);
	/* strict kernel validation wants NLA_F_NESTED on nests */
	EXPECT_NE(tb[NTM_A_TUNNEL]->nla_type & NLA_F_NESTED, 0);

	auto t = table<NTM_TUNNEL_A_MAX>(payload(tb[NTM_A_TUNNEL]));
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_LOCAL_INDEX]), 7U);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_REMOTE_INDEX]), 9U);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_ENDPOINT]), static_cast<int>(sizeof(sockaddr_in)));
	sockaddr_in sin{};
	std::memcpy(&sin, nla_data(t[NTM_TUNNEL_A_ENDPOINT]), sizeof(sin));
	EXPECT_EQ(sin.sin_family, AF_INET);
	EXPECT_EQ(sin.sin_port, htons(4500)); /* network order, as in the struct */
	EXPECT_EQ(sin.sin_addr.s_addr, inet_addr("192.0.2.1"));
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_VIP4]), 4);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_VIP6]), 16);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_CIPHER]), 2);
	EXPECT_EQ(nla_get_u16(t[NTM_TUNNEL_A_CIPHER]), NTM_CIPHER_AES_GCM);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_KEY]), 16);
	EXPECT_EQ(static_cast<const std::uint8_t *>(nla_data(t[NTM_TUNNEL_A_KEY]))[15], 0x0f);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_TX_SALT]), NTM_SALT_LEN);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_RX_SALT]), NTM_SALT_LEN);
	EXPECT_EQ(static_cast<const std::uint8_t *>(nla_data(t[NTM_TUNNEL_A_RX_SALT]))[0], 0x05);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_LIFETIME]), 3600U);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_FLAGS]), static_cast<std::uint32_t>(NTM_TUNNEL_F_NO_ROAMING));
}

TEST(CodecRequest, TunnelOnlySetFields)
{
	auto msg = genl_msg(NTM_CMD_SET_TUNNEL);
	ntm::TunnelSettings s;
	s.local_index = 3;
	s.endpoint = ntm::parse_endpoint("[2001:db8::9]:1");
	ntm::put_tunnel(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	auto t = table<NTM_TUNNEL_A_MAX>(payload(tb[NTM_A_TUNNEL]));
	EXPECT_NE(t[NTM_TUNNEL_A_LOCAL_INDEX], nullptr);
	ASSERT_NE(t[NTM_TUNNEL_A_ENDPOINT], nullptr);
	EXPECT_EQ(nla_len(t[NTM_TUNNEL_A_ENDPOINT]), static_cast<int>(sizeof(sockaddr_in6)));
	for (int a :
	     {NTM_TUNNEL_A_REMOTE_INDEX, NTM_TUNNEL_A_VIP4, NTM_TUNNEL_A_VIP6, NTM_TUNNEL_A_CIPHER, NTM_TUNNEL_A_KEY,
	      NTM_TUNNEL_A_TX_SALT, NTM_TUNNEL_A_RX_SALT, NTM_TUNNEL_A_LIFETIME, NTM_TUNNEL_A_FLAGS})
		EXPECT_EQ(t[static_cast<std::size_t>(a)], nullptr) << a;
}

TEST(CodecRequest, DeleteAndFlush)
{
	auto msg = genl_msg(NTM_CMD_DEL_TUNNEL);
	ntm::put_tunnel_index(msg.get(), 77);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	auto t = table<NTM_TUNNEL_A_MAX>(payload(tb[NTM_A_TUNNEL]));
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_LOCAL_INDEX]), 77U);

	auto flush = genl_msg(NTM_CMD_DEL_TUNNEL);
	ntm::put_flag(flush.get(), NTM_A_FLUSH);
	auto tf = table<NTM_A_MAX>(attrs_of(flush));
	ASSERT_NE(tf[NTM_A_FLUSH], nullptr);
	EXPECT_EQ(nla_len(tf[NTM_A_FLUSH]), 0);
	EXPECT_EQ(tf[NTM_A_TUNNEL], nullptr);
}

TEST(CodecRequest, TunnelRoundTrip)
{
	auto msg = genl_msg(NTM_CMD_NEW_TUNNEL);
	const auto in = full_tunnel();
	ntm::put_tunnel(msg.get(), in);
	std::vector<ntm::Tunnel> out;
	(void)ntm::parse_tunnels(attrs_of(msg), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); });
	ASSERT_EQ(out.size(), 1U);
	EXPECT_EQ(out[0].local_index, in.local_index);
	EXPECT_EQ(out[0].remote_index, *in.remote_index);
	EXPECT_EQ(out[0].endpoint, in.endpoint);
	EXPECT_EQ(out[0].vip4, in.vip4);
	EXPECT_EQ(out[0].vip6, in.vip6);
	EXPECT_EQ(out[0].cipher, *in.cipher);
	EXPECT_EQ(out[0].lifetime, *in.lifetime);
	EXPECT_EQ(out[0].flags, *in.flags);
}

/* ---- replies ---- */

TEST(CodecReply, Device)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5)
		.put_string(NTM_A_IFNAME, "ntm0")
		.put_u32(NTM_A_FLAGS, NTM_DEV_F_NO_ACQUIRE)
		.put_u32(NTM_A_FWMARK, 0x77)
		.put_u16(NTM_A_PORT4, 4500)
		.put_u32(NTM_A_NUM_TUNNELS, 3)
		.put_u32(NTM_A_ACQUIRE_QLEN, 64);
	put_stats(w, NTM_A_STATS, 1000);
	w.put_u32(250, 1); /* a newer kernel's attribute: ignored */

	const auto d = ntm::parse_device(w.span());
	EXPECT_EQ(d.ifindex, 5U);
	EXPECT_EQ(d.name, "ntm0");
	EXPECT_EQ(d.flags, static_cast<std::uint32_t>(NTM_DEV_F_NO_ACQUIRE));
	EXPECT_EQ(d.fwmark, 0x77U);
	ASSERT_TRUE(d.port4);
	EXPECT_EQ(*d.port4, 4500);
	EXPECT_FALSE(d.port6);
	EXPECT_EQ(d.num_tunnels, 3U);
	EXPECT_EQ(d.acquire_qlen, 64U);
	for (const auto &s : ntm::kStats)
		EXPECT_EQ(d.stats.get(s.attr), 1000U + static_cast<std::uint64_t>(s.attr)) << s.name;
}

TEST(CodecReply, DeviceMinimal)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 1);
	const auto d = ntm::parse_device(w.span());
	EXPECT_EQ(d.ifindex, 1U);
	EXPECT_TRUE(d.name.empty());
	EXPECT_EQ(d.stats, ntm::Stats{});
}

TEST(CodecReply, PadAttributesAreIgnored)
{
	AttrWriter w(0); /* stream start 8-aligned: every u64 needs a pad */
	const auto nest = w.nest_start(NTM_A_STATS);
	w.put_u64_64bit(NTM_STAT_A_RX_PACKETS, 1, NTM_STAT_A_PAD);
	w.put_u64_64bit(NTM_STAT_A_TX_PACKETS, 2, NTM_STAT_A_PAD);
	w.nest_end(nest);
	const auto tb = table<NTM_A_MAX>(w.span());
	const auto st = ntm::parse_stats(payload(tb[NTM_A_STATS]));
	EXPECT_EQ(st.get(NTM_STAT_A_RX_PACKETS), 1U);
	EXPECT_EQ(st.get(NTM_STAT_A_TX_PACKETS), 2U);
}

TEST(CodecReply, TunnelDumpMessage)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	put_tunnel_nest(w, 1, "192.0.2.1:4500");
	put_tunnel_nest(w, 2, "[2001:db8::1]:4501");
	put_tunnel_nest(w, 3, "198.51.100.1:1");
	std::vector<ntm::Tunnel> out;
	const auto ifindex = ntm::parse_tunnels(w.span(), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); });
	EXPECT_EQ(ifindex, 5U);
	ASSERT_EQ(out.size(), 3U);
	EXPECT_EQ(out[0].local_index, 1U);
	EXPECT_EQ(out[1].local_index, 2U);
	EXPECT_EQ(out[2].local_index, 3U);
	const auto &t = out[1];
	EXPECT_EQ(t.remote_index, 102U);
	EXPECT_EQ(t.endpoint->to_string(), "[2001:db8::1]:4501");
	EXPECT_EQ(t.vip4->to_string(), "10.1.0.2");
	EXPECT_EQ(t.vip6->to_string(), "fd00::2");
	EXPECT_EQ(t.cipher, NTM_CIPHER_CHACHA20_POLY1305);
	EXPECT_EQ(t.lifetime, 600U);
	EXPECT_EQ(t.flags, static_cast<std::uint32_t>(NTM_TUNNEL_F_NO_ROAMING));
	EXPECT_EQ(t.tx_counter, 1000U);
	EXPECT_EQ(t.rx_counter, 2000U);
	EXPECT_EQ(t.last_rx_ns, 3000U);
	EXPECT_EQ(t.age_s, 42U);
	EXPECT_EQ(t.stats.get(NTM_STAT_A_KEEPALIVE_RX), 10U + NTM_STAT_A_KEEPALIVE_RX);
}

TEST(CodecReply, EmptyDumpMessage)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	int n = 0;
	EXPECT_EQ(ntm::parse_tunnels(w.span(), [&n](ntm::Tunnel &&) { n++; }), 5U);
	EXPECT_EQ(n, 0);
	EXPECT_EQ(ntm::parse_tunnels({}, [&n](ntm::Tunnel &&) { n++; }), 0U);
}

TEST(CodecReply, UnalignedBuffer)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	put_tunnel_nest(w, 9, "192.0.2.1:4500");
	std::vector<std::uint8_t> shifted(w.bytes().size() + 1);
	std::memcpy(shifted.data() + 1, w.bytes().data(), w.bytes().size());
	std::vector<ntm::Tunnel> out;
	(void)ntm::parse_tunnels({shifted.data() + 1, w.bytes().size()},
				 [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); });
	ASSERT_EQ(out.size(), 1U);
	EXPECT_EQ(out[0].local_index, 9U);
	EXPECT_EQ(out[0].tx_counter, 1000U);
}

TEST(CodecReply, EventAcquire)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	w.put(NTM_A_INNER_DST, ntm::parse_ipv4("10.1.0.2").bytes());
	w.put(NTM_A_INNER_SRC, ntm::parse_ipv4("10.1.0.1").bytes());
	const auto ev = ntm::parse_event(NTM_CMD_EVENT_ACQUIRE, w.span());
	ASSERT_TRUE(ev);
	const auto &a = std::get<ntm::AcquireEvent>(*ev);
	EXPECT_EQ(a.ifindex, 5U);
	EXPECT_EQ(a.dst.to_string(), "10.1.0.2");
	EXPECT_EQ(a.src.to_string(), "10.1.0.1");

	AttrWriter w6;
	w6.put_u32(NTM_A_IFINDEX, 5);
	w6.put(NTM_A_INNER_DST, ntm::parse_ipv6("fd00::2").bytes());
	w6.put(NTM_A_INNER_SRC, ntm::parse_ipv6("fd00::1").bytes());
	const auto ev6 = ntm::parse_event(NTM_CMD_EVENT_ACQUIRE, w6.span());
	EXPECT_EQ(std::get<ntm::AcquireEvent>(*ev6).dst.to_string(), "fd00::2");
}

TEST(CodecReply, EventEndpoint)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 7);
	w.put(NTM_TUNNEL_A_ENDPOINT, ntm::parse_endpoint("1.2.3.4:5").sockaddr_bytes());
	w.nest_end(nest);
	const auto ev = ntm::parse_event(NTM_CMD_EVENT_ENDPOINT, w.span());
	ASSERT_TRUE(ev);
	const auto &e = std::get<ntm::EndpointEvent>(*ev);
	EXPECT_EQ(e.local_index, 7U);
	EXPECT_EQ(e.endpoint.to_string(), "1.2.3.4:5");
}

TEST(CodecReply, EventExpired)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 7);
	w.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 9);
	w.nest_end(nest);
	w.put_u32(NTM_A_REASON, NTM_EXPIRE_COUNTER);
	const auto ev = ntm::parse_event(NTM_CMD_EVENT_EXPIRED, w.span());
	ASSERT_TRUE(ev);
	const auto &e = std::get<ntm::ExpiredEvent>(*ev);
	EXPECT_EQ(e.local_index, 7U);
	EXPECT_EQ(e.remote_index, 9U);
	EXPECT_EQ(e.reason, static_cast<std::uint32_t>(NTM_EXPIRE_COUNTER));
}

TEST(CodecReply, NotAnEvent)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	EXPECT_FALSE(ntm::parse_event(NTM_CMD_GET_DEVICE, w.span()));
	EXPECT_FALSE(ntm::parse_event(200, w.span()));
}

/* ---- malformed replies ---- */

TEST(CodecMalformed, WrongLengths)
{
	{
		AttrWriter w;
		w.put_u16(NTM_A_IFINDEX, 5);
		EXPECT_THROW(ntm::parse_device(w.span()), ProtocolError);
	}
	{
		AttrWriter w;
		w.put_u32(NTM_A_IFINDEX, 5).put_u32(NTM_A_PORT4, 4500);
		EXPECT_THROW(ntm::parse_device(w.span()), ProtocolError);
	}
	{
		AttrWriter w;
		w.put_u32(NTM_A_IFINDEX, 5);
		const auto n = w.nest_start(NTM_A_STATS);
		w.put_u32(NTM_STAT_A_RX_PACKETS, 1);
		w.nest_end(n);
		EXPECT_THROW(ntm::parse_device(w.span()), ProtocolError);
	}
	{
		AttrWriter w;
		const auto n = w.nest_start(NTM_A_TUNNEL);
		w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1);
		w.put(NTM_TUNNEL_A_VIP4, ntm::parse_ipv6("fd00::1").bytes());
		w.nest_end(n);
		EXPECT_THROW(ntm::parse_tunnels(w.span(), [](ntm::Tunnel &&) {}), ProtocolError);
	}
	{
		AttrWriter w;
		const auto n = w.nest_start(NTM_A_TUNNEL);
		w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1);
		const std::uint8_t ep[10] = {AF_INET};
		w.put(NTM_TUNNEL_A_ENDPOINT, ep);
		w.nest_end(n);
		EXPECT_THROW(ntm::parse_tunnels(w.span(), [](ntm::Tunnel &&) {}), ProtocolError);
	}
}

TEST(CodecMalformed, Strings)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5).put_raw(NTM_A_IFNAME, "ntm0", 4);
	EXPECT_THROW(ntm::parse_device(w.span()), ProtocolError);
	AttrWriter w2;
	w2.put_u32(NTM_A_IFINDEX, 5).put_string(NTM_A_IFNAME, std::string(20, 'x'));
	EXPECT_THROW(ntm::parse_device(w2.span()), ProtocolError);
	AttrWriter w3;
	w3.put_u32(NTM_A_IFINDEX, 5).put(NTM_A_IFNAME, {});
	EXPECT_THROW(ntm::parse_device(w3.span()), ProtocolError);
}

TEST(CodecMalformed, Missing)
{
	AttrWriter w;
	w.put_string(NTM_A_IFNAME, "ntm0");
	EXPECT_THROW(ntm::parse_device(w.span()), ProtocolError);
	EXPECT_THROW(ntm::parse_event(NTM_CMD_EVENT_ACQUIRE, w.span()), ProtocolError);

	AttrWriter t;
	const auto n = t.nest_start(NTM_A_TUNNEL);
	t.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 1);
	t.nest_end(n);
	EXPECT_THROW(ntm::parse_tunnels(t.span(), [](ntm::Tunnel &&) {}), ProtocolError);

	AttrWriter e;
	e.put_u32(NTM_A_IFINDEX, 5);
	EXPECT_THROW(ntm::parse_event(NTM_CMD_EVENT_ENDPOINT, e.span()), ProtocolError);
	EXPECT_THROW(ntm::parse_event(NTM_CMD_EVENT_EXPIRED, e.span()), ProtocolError);
	e.put(NTM_A_INNER_DST, ntm::parse_ipv4("10.0.0.1").bytes());
	EXPECT_THROW(ntm::parse_event(NTM_CMD_EVENT_ACQUIRE, e.span()), ProtocolError);
}

TEST(CodecMalformed, TruncatedStream)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5).put_string(NTM_A_IFNAME, "ntm0");
	const auto full = w.bytes();
	/* cut inside the last attribute: it is dropped, never read past the end */
	for (std::size_t cut = 0; cut < full.size(); cut++) {
		const std::vector<std::uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
		try {
			const auto d = ntm::parse_device(part);
			EXPECT_EQ(d.ifindex, 5U);
		} catch (const ProtocolError &) {
			EXPECT_LT(cut, 8U);
		}
	}
}

/* ---- relay sessions ---- */

namespace {

ntm::RelaySettings full_relay()
{
	ntm::RelaySettings s;
	s.id = 42;
	s.legs[0].endpoint = ntm::parse_endpoint("192.0.2.1:51820");
	s.legs[0].index = 1001;
	s.legs[1].endpoint = ntm::parse_endpoint("[2001:db8::2]:51821");
	s.legs[1].index = 2002;
	s.hard_bytes = 1ULL << 40;
	s.hard_packets = 5000;
	s.idle_timeout = 30;
	return s;
}

/* One NTM_A_RELAY laid out as relay.c/netlink.c send it. */
void put_relay_nest(AttrWriter &w, std::uint32_t id, bool with_side = true, int extra_legs = 0)
{
	const auto nest = w.nest_start(NTM_A_RELAY);
	w.put_u32(NTM_RELAY_A_ID, id);
	const std::array<const char *, 3> eps{"192.0.2.1:51820", "[2001:db8::2]:51821", "192.0.2.9:1"};
	for (int i = 0; i < 2 + extra_legs; i++) {
		const auto leg = w.nest_start(NTM_RELAY_A_LEG);
		if (with_side) {
			const auto side = static_cast<std::uint8_t>(i + 1);
			w.put_raw(NTM_RELAY_LEG_A_SIDE, &side, 1);
		}
		w.put(NTM_RELAY_LEG_A_ENDPOINT,
		      ntm::parse_endpoint(eps.at(static_cast<std::size_t>(i))).sockaddr_bytes());
		w.put_u32(NTM_RELAY_LEG_A_INDEX, 1001U + 1001U * static_cast<std::uint32_t>(i));
		w.put_u64_64bit(NTM_RELAY_LEG_A_RX_PACKETS, 10U + static_cast<std::uint64_t>(i), NTM_RELAY_LEG_A_PAD);
		w.put_u64_64bit(NTM_RELAY_LEG_A_RX_BYTES, 1000U + static_cast<std::uint64_t>(i), NTM_RELAY_LEG_A_PAD);
		w.nest_end(leg);
	}
	w.put_u64_64bit(NTM_RELAY_A_HARD_BYTES, 0, NTM_RELAY_A_PAD);
	w.put_u64_64bit(NTM_RELAY_A_HARD_PACKETS, 500, NTM_RELAY_A_PAD);
	w.put_u32(NTM_RELAY_A_IDLE_TIMEOUT, 60);
	w.put_u32(NTM_RELAY_A_AGE_S, 7);
	w.put_u32(NTM_RELAY_A_IDLE_S, 2);
	w.put_u64_64bit(NTM_RELAY_A_DROP_SRC, 3, NTM_RELAY_A_PAD);
	w.put_u64_64bit(NTM_RELAY_A_DROP_TX, 4, NTM_RELAY_A_PAD);
	w.nest_end(nest);
}

} // namespace

TEST(CodecRelay, RequestLayout)
{
	auto msg = genl_msg(NTM_CMD_NEW_RELAY);
	ntm::put_device_ref(msg.get(), ntm::DeviceRef::by_name("ntm0"));
	ntm::put_relay(msg.get(), full_relay());
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_RELAY], nullptr);
	EXPECT_NE(tb[NTM_A_RELAY]->nla_type & NLA_F_NESTED, 0);
	auto r = table<NTM_RELAY_A_MAX>(payload(tb[NTM_A_RELAY]));
	EXPECT_EQ(nla_get_u32(r[NTM_RELAY_A_ID]), 42U);
	EXPECT_EQ(nla_get_u64(r[NTM_RELAY_A_HARD_BYTES]), 1ULL << 40);
	EXPECT_EQ(nla_get_u64(r[NTM_RELAY_A_HARD_PACKETS]), 5000U);
	EXPECT_EQ(nla_get_u32(r[NTM_RELAY_A_IDLE_TIMEOUT]), 30U);
	/* both legs, in order, each nested and naming its side */
	std::vector<std::pair<int, std::uint32_t>> legs;
	const nlattr *pos = nullptr;
	int rem = 0;
	const auto p = payload(tb[NTM_A_RELAY]);
	// NOLINTNEXTLINE
	nla_for_each_attr(pos, reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(p.data())),
			  static_cast<int>(p.size()), rem)
	{
		if (nla_type(pos) != NTM_RELAY_A_LEG)
			continue;
		EXPECT_NE(pos->nla_type & NLA_F_NESTED, 0);
		auto l = table<NTM_RELAY_LEG_A_MAX>(payload(pos));
		ASSERT_NE(l[NTM_RELAY_LEG_A_SIDE], nullptr);
		ASSERT_NE(l[NTM_RELAY_LEG_A_ENDPOINT], nullptr);
		legs.emplace_back(nla_get_u8(l[NTM_RELAY_LEG_A_SIDE]), nla_get_u32(l[NTM_RELAY_LEG_A_INDEX]));
	}
	ASSERT_EQ(legs.size(), 2U);
	EXPECT_EQ(legs[0], std::make_pair(1, 1001U));
	EXPECT_EQ(legs[1], std::make_pair(2, 2002U));
}

TEST(CodecRelay, SetSendsOnlyTheMovedLeg)
{
	auto msg = genl_msg(NTM_CMD_SET_RELAY);
	ntm::RelaySettings s;
	s.id = 5;
	s.legs[1].endpoint = ntm::parse_endpoint("192.0.2.3:51820");
	ntm::put_relay(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	auto r = table<NTM_RELAY_A_MAX>(payload(tb[NTM_A_RELAY]));
	ASSERT_NE(r[NTM_RELAY_A_LEG], nullptr);
	auto l = table<NTM_RELAY_LEG_A_MAX>(payload(r[NTM_RELAY_A_LEG]));
	EXPECT_EQ(nla_get_u8(l[NTM_RELAY_LEG_A_SIDE]), 2);
	EXPECT_EQ(l[NTM_RELAY_LEG_A_INDEX], nullptr);
	for (int a : {NTM_RELAY_A_HARD_BYTES, NTM_RELAY_A_HARD_PACKETS, NTM_RELAY_A_IDLE_TIMEOUT})
		EXPECT_EQ(r[static_cast<std::size_t>(a)], nullptr) << a;

	auto del = genl_msg(NTM_CMD_DEL_RELAY);
	ntm::put_relay_id(del.get(), 77);
	auto td = table<NTM_A_MAX>(attrs_of(del));
	auto rd = table<NTM_RELAY_A_MAX>(payload(td[NTM_A_RELAY]));
	EXPECT_EQ(nla_get_u32(rd[NTM_RELAY_A_ID]), 77U);
	EXPECT_EQ(rd[NTM_RELAY_A_LEG], nullptr);
}

TEST(CodecRelay, RequestRoundTrip)
{
	auto msg = genl_msg(NTM_CMD_NEW_RELAY);
	const auto in = full_relay();
	ntm::put_relay(msg.get(), in);
	std::vector<ntm::Relay> out;
	(void)ntm::parse_relays(attrs_of(msg), [&out](ntm::Relay &&r) { out.push_back(r); });
	ASSERT_EQ(out.size(), 1U);
	EXPECT_EQ(out[0].id, in.id);
	for (std::size_t i = 0; i < 2; i++) {
		EXPECT_EQ(out[0].legs.at(i).endpoint, *in.legs.at(i).endpoint);
		EXPECT_EQ(out[0].legs.at(i).index, *in.legs.at(i).index);
	}
	EXPECT_EQ(out[0].hard_bytes, *in.hard_bytes);
	EXPECT_EQ(out[0].hard_packets, *in.hard_packets);
	EXPECT_EQ(out[0].idle_timeout, *in.idle_timeout);
}

TEST(CodecRelay, DumpReply)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 9);
	put_relay_nest(w, 1);
	put_relay_nest(w, 2, false); /* no SIDE: by position */
	w.put_u32(250, 1);	     /* a newer kernel's attribute */
	std::vector<ntm::Relay> out;
	EXPECT_EQ(ntm::parse_relays(w.span(), [&out](ntm::Relay &&r) { out.push_back(r); }), 9U);
	ASSERT_EQ(out.size(), 2U);
	for (const auto &r : out) {
		EXPECT_EQ(r.legs[0].endpoint.to_string(), "192.0.2.1:51820");
		EXPECT_EQ(r.legs[1].endpoint.to_string(), "[2001:db8::2]:51821");
		EXPECT_EQ(r.legs[0].index, 1001U);
		EXPECT_EQ(r.legs[1].index, 2002U);
		EXPECT_EQ(r.legs[0].rx_packets, 10U);
		EXPECT_EQ(r.legs[1].rx_bytes, 1001U);
		EXPECT_EQ(r.hard_packets, 500U);
		EXPECT_EQ(r.idle_timeout, 60U);
		EXPECT_EQ(r.age_s, 7U);
		EXPECT_EQ(r.idle_s, 2U);
		EXPECT_EQ(r.drop_src, 3U);
		EXPECT_EQ(r.drop_tx, 4U);
	}
	EXPECT_EQ(out[1].id, 2U);
}

TEST(CodecRelay, Malformed)
{
	AttrWriter three;
	put_relay_nest(three, 1, true, 1);
	auto tb = table<NTM_A_MAX>(three.span());
	EXPECT_THROW((void)ntm::parse_relay_attrs(payload(tb[NTM_A_RELAY])), ProtocolError);

	AttrWriter noid;
	const auto n = noid.nest_start(NTM_A_RELAY);
	noid.nest_end(n);
	auto tn = table<NTM_A_MAX>(noid.span());
	EXPECT_THROW((void)ntm::parse_relay_attrs(payload(tn[NTM_A_RELAY])), ProtocolError);

	/* the same side twice, and a side out of range */
	for (std::uint8_t side : {std::uint8_t{1}, std::uint8_t{3}}) {
		AttrWriter w;
		const auto r = w.nest_start(NTM_A_RELAY);
		w.put_u32(NTM_RELAY_A_ID, 1);
		for (int i = 0; i < 2; i++) {
			const auto l = w.nest_start(NTM_RELAY_A_LEG);
			w.put_raw(NTM_RELAY_LEG_A_SIDE, &side, 1);
			w.put(NTM_RELAY_LEG_A_ENDPOINT, ntm::parse_endpoint("192.0.2.1:1").sockaddr_bytes());
			w.nest_end(l);
		}
		w.nest_end(r);
		auto t = table<NTM_A_MAX>(w.span());
		EXPECT_THROW((void)ntm::parse_relay_attrs(payload(t[NTM_A_RELAY])), ProtocolError) << int(side);
	}

	/* a leg without an endpoint, an id of the wrong size */
	AttrWriter noep;
	const auto r = noep.nest_start(NTM_A_RELAY);
	noep.put_u32(NTM_RELAY_A_ID, 1);
	const auto l = noep.nest_start(NTM_RELAY_A_LEG);
	noep.put_u32(NTM_RELAY_LEG_A_INDEX, 5);
	noep.nest_end(l);
	noep.nest_end(r);
	auto te = table<NTM_A_MAX>(noep.span());
	EXPECT_THROW((void)ntm::parse_relay_attrs(payload(te[NTM_A_RELAY])), ProtocolError);

	AttrWriter shortid;
	const auto s = shortid.nest_start(NTM_A_RELAY);
	shortid.put_u16(NTM_RELAY_A_ID, 1);
	shortid.nest_end(s);
	auto ts = table<NTM_A_MAX>(shortid.span());
	EXPECT_THROW((void)ntm::parse_relay_attrs(payload(ts[NTM_A_RELAY])), ProtocolError);
}

TEST(CodecRelay, ExpiredEvent)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 4);
	put_relay_nest(w, 8);
	w.put_u32(NTM_A_REASON, NTM_EXPIRE_IDLE);
	const auto ev = ntm::parse_event(NTM_CMD_EVENT_RELAY_EXPIRED, w.span());
	ASSERT_TRUE(ev);
	const auto *x = std::get_if<ntm::RelayExpiredEvent>(&*ev);
	ASSERT_NE(x, nullptr);
	EXPECT_EQ(x->ifindex, 4U);
	EXPECT_EQ(x->relay.id, 8U);
	EXPECT_EQ(x->reason, static_cast<std::uint32_t>(NTM_EXPIRE_IDLE));
	EXPECT_EQ(x->relay.legs[1].index, 2002U);
	EXPECT_EQ(ntm::event_ifindex(*ev), 4U);
	EXPECT_EQ(ntm::expire_reason_name(x->reason), "idle");

	AttrWriter bare;
	bare.put_u32(NTM_A_IFINDEX, 4);
	EXPECT_THROW((void)ntm::parse_event(NTM_CMD_EVENT_RELAY_EXPIRED, bare.span()), ProtocolError);
}

TEST(CodecRelay, DeviceRelayCounts)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5).put_u32(NTM_A_NUM_RELAYS, 3).put_u32(NTM_A_MAX_RELAYS, NTM_RELAY_MAX_DEFAULT);
	const auto d = ntm::parse_device(w.span());
	EXPECT_EQ(d.num_relays, 3U);
	EXPECT_EQ(d.max_relays, static_cast<std::uint32_t>(NTM_RELAY_MAX_DEFAULT));

	auto msg = genl_msg(NTM_CMD_SET_DEVICE);
	ntm::DeviceSettings s;
	s.max_relays = 10;
	ntm::put_device_settings(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_MAX_RELAYS], nullptr);
	EXPECT_EQ(nla_get_u32(tb[NTM_A_MAX_RELAYS]), 10U);
}

TEST(Codec, DeviceTunnelLimit)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5).put_u32(NTM_A_NUM_TUNNELS, 2).put_u32(NTM_A_MAX_TUNNELS, 3);
	const auto d = ntm::parse_device(w.span());
	EXPECT_EQ(d.num_tunnels, 2U);
	EXPECT_EQ(d.max_tunnels, 3U);
	AttrWriter old; /* a kernel without the limit */
	old.put_u32(NTM_A_IFINDEX, 5);
	EXPECT_EQ(ntm::parse_device(old.span()).max_tunnels, 0U);

	auto msg = genl_msg(NTM_CMD_SET_DEVICE);
	ntm::DeviceSettings s;
	s.max_tunnels = 3;
	ntm::put_device_settings(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_MAX_TUNNELS], nullptr);
	EXPECT_EQ(nla_get_u32(tb[NTM_A_MAX_TUNNELS]), 3U);
	EXPECT_EQ(tb[NTM_A_MAX_RELAYS], nullptr);
}

TEST(CodecRelay, CheckRelay)
{
	auto ok = full_relay();
	EXPECT_NO_THROW(ntm::check_relay(ok, ntm::RelayRequest::create));
	auto same = ok;
	same.legs[1] = same.legs[0];
	EXPECT_THROW(ntm::check_relay(same, ntm::RelayRequest::create), ntm::UsageError);
	auto noindex = ok;
	noindex.legs[0].index.reset();
	EXPECT_THROW(ntm::check_relay(noindex, ntm::RelayRequest::create), ntm::UsageError);
	auto ll = ok;
	ll.legs[1].endpoint = ntm::parse_endpoint("[fe80::1]:5");
	EXPECT_THROW(ntm::check_relay(ll, ntm::RelayRequest::create), ntm::UsageError);
	auto idle = ok;
	idle.idle_timeout = NTM_RELAY_IDLE_MAX + 1;
	EXPECT_THROW(ntm::check_relay(idle, ntm::RelayRequest::create), ntm::UsageError);

	ntm::RelaySettings ch;
	ch.id = 1;
	EXPECT_THROW(ntm::check_relay(ch, ntm::RelayRequest::change), ntm::UsageError); /* nothing to change */
	ch.legs[0].endpoint = ntm::parse_endpoint("192.0.2.5:1");
	EXPECT_NO_THROW(ntm::check_relay(ch, ntm::RelayRequest::change));
	ch.legs[0].index = 3;
	EXPECT_THROW(ntm::check_relay(ch, ntm::RelayRequest::change), ntm::UsageError); /* index is fixed */
	ch.legs[0].index.reset();
	ch.id = 0;
	EXPECT_THROW(ntm::check_relay(ch, ntm::RelayRequest::change), ntm::UsageError);
}
