// SPDX-License-Identifier: GPL-2.0
/*
 * The generic-netlink client against the kernel's own "nlctrl" family,
 * which every Linux has: requests with acks and replies, errors, dumps,
 * recovery after an abandoned dump, multicast groups. No ntm.ko needed.
 */
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "attr_writer.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/genl.hpp"
#include "ntm/handle.hpp"
#include "ntm/json.hpp"
#include "ntm/parse.hpp"

namespace {

std::string family_name(const ntm::GenlReply &r)
{
	std::array<nlattr *, CTRL_ATTR_MAX + 1> tb{};
	// NOLINTNEXTLINE
	nla_parse(tb.data(), CTRL_ATTR_MAX, reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(r.attrs.data())),
		  static_cast<int>(r.attrs.size()), nullptr);
	if (tb[CTRL_ATTR_FAMILY_NAME] == nullptr)
		return {};
	return static_cast<const char *>(nla_data(tb[CTRL_ATTR_FAMILY_NAME]));
}

ntm::NlMsgPtr get_family(ntm::GenlSocket &gs, const char *name)
{
	auto msg = gs.new_message(CTRL_CMD_GETFAMILY, 0);
	nla_put_string(msg.get(), CTRL_ATTR_FAMILY_NAME, name);
	return msg;
}

} // namespace

TEST(GenlOffline, MissingFamily)
{
	try {
		ntm::GenlSocket gs("ntm-no-such-family");
		FAIL();
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ENOENT);
		EXPECT_NE(std::string(e.what()).find("family not found"), std::string::npos);
	}
}

TEST(GenlOffline, MissingNtmMessage)
{
	EXPECT_EQ(ntm::kFamilyMissing, "ntm: family not found (is ntm.ko loaded? try: modprobe ntm)");
}

TEST(GenlOffline, DoitReplyAndAck)
{
	ntm::GenlSocket gs("nlctrl");
	EXPECT_EQ(gs.family_id(), GENL_ID_CTRL);
	for (int i = 0; i < 3; i++) { /* the socket is reusable */
		std::vector<std::string> names;
		gs.request(get_family(gs, "nlctrl"), "get family",
			   [&names](const ntm::GenlReply &r) { names.push_back(family_name(r)); });
		ASSERT_EQ(names.size(), 1U);
		EXPECT_EQ(names[0], "nlctrl");
	}
}

TEST(GenlOffline, KernelError)
{
	ntm::GenlSocket gs("nlctrl");
	try {
		gs.request(get_family(gs, "ntmnosuchfam"), "get family x");
		FAIL();
	} catch (const ntm::KernelError &e) {
		EXPECT_EQ(e.code(), ENOENT);
		EXPECT_EQ(std::string(e.what()).rfind("get family x: No such file or directory", 0), 0U) << e.what();
	}
	/* and the socket still works after an error */
	int n = 0;
	gs.request(get_family(gs, "nlctrl"), "again", [&n](const ntm::GenlReply &) { n++; });
	EXPECT_EQ(n, 1);
}

TEST(GenlOffline, Dump)
{
	ntm::GenlSocket gs("nlctrl");
	std::set<std::string> names;
	gs.dump(gs.new_message(CTRL_CMD_GETFAMILY, NLM_F_DUMP), "dump families", [&names](const ntm::GenlReply &r) {
		EXPECT_EQ(r.cmd, CTRL_CMD_NEWFAMILY);
		names.insert(family_name(r));
	});
	EXPECT_TRUE(names.contains("nlctrl"));
}

TEST(GenlOffline, AbandonedDumpRecovers)
{
	ntm::GenlSocket gs("nlctrl");
	EXPECT_THROW(gs.dump(gs.new_message(CTRL_CMD_GETFAMILY, NLM_F_DUMP), "dump",
			     [](const ntm::GenlReply &) { throw std::runtime_error("stop"); }),
		     std::runtime_error);
	/* leftovers of the dump must not be taken for the next reply */
	std::vector<std::string> names;
	gs.request(get_family(gs, "nlctrl"), "get family",
		   [&names](const ntm::GenlReply &r) { names.push_back(family_name(r)); });
	ASSERT_EQ(names.size(), 1U);
	EXPECT_EQ(names[0], "nlctrl");
}

TEST(GenlOffline, Groups)
{
	ntm::GenlSocket gs("nlctrl");
	const auto id = gs.group_id("notify");
	EXPECT_GT(id, 0U);
	gs.join_group(id);
	gs.set_rcvbuf(1 << 20);
	gs.set_nonblocking();
	EXPECT_EQ(gs.receive_events([](const ntm::GenlReply &) {}), ntm::GenlSocket::RecvStatus::would_block);
	EXPECT_THROW((void)gs.group_id("no-such-group"), ntm::Error);
}

TEST(GenlOffline, DescribeError)
{
	EXPECT_EQ(ntm::describe_kernel_error(EEXIST, ""), "File exists");
	EXPECT_EQ(ntm::describe_kernel_error(EINVAL, "salt equal in both directions"),
		  "Invalid argument: salt equal in both directions");
	EXPECT_EQ(ntm::describe_kernel_error(EPERM, ""), "Operation not permitted (ntm needs CAP_NET_ADMIN)");
	const ntm::KernelError e("add tunnel 5 on ntm0", EEXIST, "local index in use");
	EXPECT_STREQ(e.what(), "add tunnel 5 on ntm0: File exists: local index in use");
	EXPECT_EQ(e.extack(), "local index in use");
	EXPECT_EQ(e.code(), EEXIST);
}

TEST(GenlOffline, ExtendedAck)
{
	/* a name longer than GENL_NAMSIZ fails nlctrl's policy, with an extack message */
	ntm::GenlSocket gs("nlctrl");
	try {
		gs.request(get_family(gs, "a-name-longer-than-genl-namsiz"), "get family");
		FAIL();
	} catch (const ntm::KernelError &e) {
		EXPECT_EQ(e.code(), EINVAL);
		if (e.extack().empty())
			GTEST_SKIP() << "kernel without extended acks";
		EXPECT_NE(std::string(e.what()).find(e.extack()), std::string::npos);
	}
}

/*
 * ESP in UDP and SA limits (NTM_TUNNEL_A_ENCAP .. HARD_PACKETS): requests
 * built by put_tunnel() read back attribute by attribute, replies laid out
 * the way ntm.ko sends them (attr_writer.hpp) parsed into the model.
 */
namespace {

using ntmtest::AttrWriter;

ntm::NlMsgPtr esp_msg(std::uint8_t cmd)
{
	auto msg = ntm::make_nlmsg();
	EXPECT_NE(genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, 0x20, 0, 0, cmd, NTM_GENL_VERSION), nullptr);
	return msg;
}

std::span<const std::uint8_t> esp_attrs(const ntm::NlMsgPtr &msg)
{
	auto *gh = static_cast<genlmsghdr *>(nlmsg_data(nlmsg_hdr(msg.get())));
	return {static_cast<const std::uint8_t *>(static_cast<void *>(genlmsg_attrdata(gh, 0))),
		static_cast<std::size_t>(genlmsg_attrlen(gh, 0))};
}

template <std::size_t N> std::array<nlattr *, N + 1> esp_table(std::span<const std::uint8_t> s)
{
	std::array<nlattr *, N + 1> tb{};
	// NOLINTNEXTLINE
	EXPECT_EQ(nla_parse(tb.data(), N, reinterpret_cast<nlattr *>(const_cast<std::uint8_t *>(s.data())),
			    static_cast<int>(s.size()), nullptr),
		  0);
	return tb;
}

std::span<const std::uint8_t> esp_payload(const nlattr *a)
{
	return {static_cast<const std::uint8_t *>(nla_data(a)), static_cast<std::size_t>(nla_len(a))};
}

ntm::TunnelSettings esp_settings()
{
	ntm::TunnelSettings t;
	t.encap = NTM_ENCAP_ESP_UDP;
	t.local_index = 0x1000;
	t.remote_index = 0x2000;
	t.endpoint = ntm::parse_endpoint("192.0.2.1:4500");
	t.cipher = NTM_CIPHER_AES_GCM;
	t.key = ntm::parse_hex_key("000102030405060708090a0b0c0d0e0f");
	t.rx_key = ntm::parse_hex_key("101112131415161718191a1b1c1d1e1f");
	t.tx_salt = ntm::parse_salt("01020304", "tx");
	t.rx_salt = ntm::parse_salt("05060708", "rx");
	t.esn = true;
	t.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts"),
		       ntm::parse_traffic_selector("fd00:2::/64", "ts")};
	t.local_ts = {ntm::parse_traffic_selector("10.1.0.0/16", "ts")};
	t.lifetime = 3600;
	t.soft_lifetime = 3000;
	t.soft_bytes = 1ULL << 30;
	t.hard_bytes = 2ULL << 30;
	t.soft_packets = 1000;
	t.hard_packets = 0x1'0000'0000ULL;
	return t;
}

std::vector<ntm_prefix> ts_of(const nlattr *nest)
{
	std::vector<ntm_prefix> out;
	const nlattr *pos = nullptr;
	int rem = 0;
	// NOLINTNEXTLINE
	nla_for_each_nested(pos, const_cast<nlattr *>(nest), rem)
	{
		EXPECT_EQ(nla_type(pos), NTM_TS_A_PREFIX);
		EXPECT_EQ(nla_len(pos), static_cast<int>(sizeof(ntm_prefix)));
		ntm_prefix p{};
		std::memcpy(&p, nla_data(pos), sizeof(p));
		out.push_back(p);
	}
	return out;
}

void put_ts(AttrWriter &w, int type, const std::vector<ntm::Prefix> &ts)
{
	const auto nest = w.nest_start(type);
	for (const auto &p : ts) {
		const ntm_prefix u = p.to_uapi();
		w.put_raw(NTM_TS_A_PREFIX, &u, sizeof(u));
	}
	w.nest_end(nest);
}

/* One NTM_A_TUNNEL of an ESP SA pair as ntm.ko reports it. */
void put_esp_tunnel(AttrWriter &w, std::uint32_t spi_in)
{
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, spi_in);
	w.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 0xc0de0001);
	w.put(NTM_TUNNEL_A_ENDPOINT, ntm::parse_endpoint("[2001:db8::1]:4500").sockaddr_bytes());
	w.put_u16(NTM_TUNNEL_A_CIPHER, NTM_CIPHER_CHACHA20_POLY1305);
	w.put_u32(NTM_TUNNEL_A_LIFETIME, 3600);
	w.put_u64_64bit(NTM_TUNNEL_A_TX_COUNTER, 1ULL << 33, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_RX_COUNTER, 7, NTM_TUNNEL_A_PAD);
	w.put_u32(NTM_TUNNEL_A_AGE_S, 42);
	const std::uint8_t encap = NTM_ENCAP_ESP_UDP;
	w.put_raw(NTM_TUNNEL_A_ENCAP, &encap, 1);
	w.put_flag(NTM_TUNNEL_A_ESN);
	put_ts(w, NTM_TUNNEL_A_REMOTE_TS,
	       {ntm::parse_traffic_selector("10.2.0.0/16", "ts"), ntm::parse_traffic_selector("fd00:2::/64", "ts")});
	put_ts(w, NTM_TUNNEL_A_LOCAL_TS, {ntm::parse_traffic_selector("0.0.0.0/0", "ts")});
	w.put_u32(NTM_TUNNEL_A_SOFT_LIFETIME, 3000);
	w.put_u64_64bit(NTM_TUNNEL_A_SOFT_BYTES, 100, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_HARD_BYTES, 200, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_SOFT_PACKETS, 300, NTM_TUNNEL_A_PAD);
	w.put_u64_64bit(NTM_TUNNEL_A_HARD_PACKETS, UINT64_MAX, NTM_TUNNEL_A_PAD);
	const auto stats = w.nest_start(NTM_TUNNEL_A_STATS);
	w.put_u64_64bit(NTM_STAT_A_DROP_TS, 3, NTM_STAT_A_PAD);
	w.put_u64_64bit(NTM_STAT_A_DUMMY_RX, 4, NTM_STAT_A_PAD);
	w.nest_end(stats);
	w.nest_end(nest);
}

/* parse_tunnels() of a one-tunnel message whose nest is built by f */
void parse_one(const std::function<void(AttrWriter &)> &f)
{
	AttrWriter w;
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 0x1000);
	f(w);
	w.nest_end(nest);
	(void)ntm::parse_tunnels(w.span(), [](ntm::Tunnel &&) {});
}

} // namespace

TEST(GenlEsp, NewTunnelLayout)
{
	auto msg = esp_msg(NTM_CMD_NEW_TUNNEL);
	ntm::put_device_ref(msg.get(), ntm::DeviceRef::by_name("ntm0"));
	ntm::put_tunnel(msg.get(), esp_settings());
	auto tb = esp_table<NTM_A_MAX>(esp_attrs(msg));
	ASSERT_NE(tb[NTM_A_TUNNEL], nullptr);
	auto t = esp_table<NTM_TUNNEL_A_MAX>(esp_payload(tb[NTM_A_TUNNEL]));
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_LOCAL_INDEX]), 0x1000U);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_REMOTE_INDEX]), 0x2000U);
	ASSERT_NE(t[NTM_TUNNEL_A_ENCAP], nullptr);
	EXPECT_EQ(nla_len(t[NTM_TUNNEL_A_ENCAP]), 1);
	EXPECT_EQ(nla_get_u8(t[NTM_TUNNEL_A_ENCAP]), NTM_ENCAP_ESP_UDP);
	ASSERT_NE(t[NTM_TUNNEL_A_KEY], nullptr);
	ASSERT_NE(t[NTM_TUNNEL_A_RX_KEY], nullptr);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_RX_KEY]), 16);
	EXPECT_EQ(static_cast<const std::uint8_t *>(nla_data(t[NTM_TUNNEL_A_KEY]))[0], 0x00);
	EXPECT_EQ(static_cast<const std::uint8_t *>(nla_data(t[NTM_TUNNEL_A_RX_KEY]))[0], 0x10);
	EXPECT_EQ(static_cast<const std::uint8_t *>(nla_data(t[NTM_TUNNEL_A_RX_KEY]))[15], 0x1f);
	ASSERT_NE(t[NTM_TUNNEL_A_ESN], nullptr);
	EXPECT_EQ(nla_len(t[NTM_TUNNEL_A_ESN]), 0);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_SOFT_LIFETIME]), 3000U);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_LIFETIME]), 3600U);
	for (const int a :
	     {NTM_TUNNEL_A_SOFT_BYTES, NTM_TUNNEL_A_HARD_BYTES, NTM_TUNNEL_A_SOFT_PACKETS, NTM_TUNNEL_A_HARD_PACKETS})
		EXPECT_EQ(nla_len(t[static_cast<std::size_t>(a)]), 8) << a;
	EXPECT_EQ(nla_get_u64(t[NTM_TUNNEL_A_SOFT_BYTES]), 1ULL << 30);
	EXPECT_EQ(nla_get_u64(t[NTM_TUNNEL_A_HARD_BYTES]), 2ULL << 30);
	EXPECT_EQ(nla_get_u64(t[NTM_TUNNEL_A_SOFT_PACKETS]), 1000U);
	EXPECT_EQ(nla_get_u64(t[NTM_TUNNEL_A_HARD_PACKETS]), 0x1'0000'0000ULL);

	/* traffic selectors: nests with NLA_F_NESTED of struct ntm_prefix */
	ASSERT_NE(t[NTM_TUNNEL_A_REMOTE_TS], nullptr);
	EXPECT_NE(t[NTM_TUNNEL_A_REMOTE_TS]->nla_type & NLA_F_NESTED, 0);
	EXPECT_NE(t[NTM_TUNNEL_A_LOCAL_TS]->nla_type & NLA_F_NESTED, 0);
	const auto remote = ts_of(t[NTM_TUNNEL_A_REMOTE_TS]);
	ASSERT_EQ(remote.size(), 2U);
	EXPECT_EQ(remote[0].family, AF_INET);
	EXPECT_EQ(remote[0].prefixlen, 16);
	EXPECT_EQ(remote[0].addr[0], 10);
	EXPECT_EQ(remote[0].addr[1], 2);
	EXPECT_EQ(remote[0].addr[4], 0);
	EXPECT_EQ(remote[1].family, AF_INET6);
	EXPECT_EQ(remote[1].prefixlen, 64);
	EXPECT_EQ(remote[1].addr[0], 0xfd);
	EXPECT_EQ(remote[1].addr[3], 0x02);
	EXPECT_EQ(remote[1].reserved[0] | remote[1].reserved[1], 0);
	const auto local = ts_of(t[NTM_TUNNEL_A_LOCAL_TS]);
	ASSERT_EQ(local.size(), 1U);
	EXPECT_EQ(local[0].prefixlen, 16);
	EXPECT_EQ(t[NTM_TUNNEL_A_VIP4], nullptr);
	EXPECT_EQ(t[NTM_TUNNEL_A_TX_COUNTER], nullptr); /* unset: the kernel's default */

	/* the first sequence number, create only */
	auto msg2 = esp_msg(NTM_CMD_NEW_TUNNEL);
	auto s2 = esp_settings();
	s2.tx_counter = 0x1'0000'0001ULL;
	ntm::put_tunnel(msg2.get(), s2);
	auto tb2 = esp_table<NTM_A_MAX>(esp_attrs(msg2));
	auto t2 = esp_table<NTM_TUNNEL_A_MAX>(esp_payload(tb2[NTM_A_TUNNEL]));
	ASSERT_NE(t2[NTM_TUNNEL_A_TX_COUNTER], nullptr);
	EXPECT_EQ(nla_len(t2[NTM_TUNNEL_A_TX_COUNTER]), 8);
	EXPECT_EQ(nla_get_u64(t2[NTM_TUNNEL_A_TX_COUNTER]), 0x1'0000'0001ULL);
}

TEST(GenlEsp, UnsetFieldsAreNotSent)
{
	/* an NTM tunnel of before: none of the new attributes (old kernels stay happy) */
	auto msg = esp_msg(NTM_CMD_NEW_TUNNEL);
	ntm::TunnelSettings s;
	s.local_index = 7;
	s.remote_index = 9;
	s.key = ntm::parse_hex_key(std::string(64, 'a'));
	ntm::put_tunnel(msg.get(), s);
	auto tb = esp_table<NTM_A_MAX>(esp_attrs(msg));
	auto t = esp_table<NTM_TUNNEL_A_MAX>(esp_payload(tb[NTM_A_TUNNEL]));
	for (int a = NTM_TUNNEL_A_ENCAP; a <= NTM_TUNNEL_A_HARD_PACKETS; a++)
		EXPECT_EQ(t[static_cast<std::size_t>(a)], nullptr) << a;
	EXPECT_EQ(t[NTM_TUNNEL_A_TX_COUNTER], nullptr);

	/* a set of limits only */
	auto set = esp_msg(NTM_CMD_SET_TUNNEL);
	ntm::TunnelSettings c;
	c.local_index = 0x1000;
	c.hard_bytes = 0; /* 0 is a value: "no limit" */
	c.soft_lifetime = 10;
	ntm::put_tunnel(set.get(), c);
	auto tb2 = esp_table<NTM_A_MAX>(esp_attrs(set));
	auto t2 = esp_table<NTM_TUNNEL_A_MAX>(esp_payload(tb2[NTM_A_TUNNEL]));
	ASSERT_NE(t2[NTM_TUNNEL_A_HARD_BYTES], nullptr);
	EXPECT_EQ(nla_get_u64(t2[NTM_TUNNEL_A_HARD_BYTES]), 0U);
	EXPECT_EQ(nla_get_u32(t2[NTM_TUNNEL_A_SOFT_LIFETIME]), 10U);
	for (int a : {NTM_TUNNEL_A_ENCAP, NTM_TUNNEL_A_RX_KEY, NTM_TUNNEL_A_ESN, NTM_TUNNEL_A_REMOTE_TS,
		      NTM_TUNNEL_A_LOCAL_TS, NTM_TUNNEL_A_SOFT_BYTES, NTM_TUNNEL_A_SOFT_PACKETS,
		      NTM_TUNNEL_A_HARD_PACKETS, NTM_TUNNEL_A_KEY, NTM_TUNNEL_A_LIFETIME})
		EXPECT_EQ(t2[static_cast<std::size_t>(a)], nullptr) << a;
}

TEST(GenlEsp, RequestRoundTrip)
{
	auto msg = esp_msg(NTM_CMD_NEW_TUNNEL);
	const auto in = esp_settings();
	ntm::put_tunnel(msg.get(), in);
	std::vector<ntm::Tunnel> out;
	(void)ntm::parse_tunnels(esp_attrs(msg), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); });
	ASSERT_EQ(out.size(), 1U);
	const auto &t = out[0];
	EXPECT_TRUE(t.is_esp());
	EXPECT_EQ(t.local_index, in.local_index);
	EXPECT_EQ(t.remote_index, *in.remote_index);
	EXPECT_TRUE(t.esn);
	EXPECT_EQ(t.remote_ts, in.remote_ts);
	EXPECT_EQ(t.local_ts, in.local_ts);
	EXPECT_EQ(t.soft_lifetime, *in.soft_lifetime);
	EXPECT_EQ(t.soft_bytes, *in.soft_bytes);
	EXPECT_EQ(t.hard_bytes, *in.hard_bytes);
	EXPECT_EQ(t.soft_packets, *in.soft_packets);
	EXPECT_EQ(t.hard_packets, *in.hard_packets);
}

TEST(GenlEsp, DumpReply)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 5);
	put_esp_tunnel(w, 0x1000);
	put_esp_tunnel(w, 0x1001);
	std::vector<ntm::Tunnel> out;
	EXPECT_EQ(ntm::parse_tunnels(w.span(), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); }), 5U);
	ASSERT_EQ(out.size(), 2U);
	EXPECT_EQ(out[1].local_index, 0x1001U);
	const auto &t = out[0];
	EXPECT_EQ(t.encap, NTM_ENCAP_ESP_UDP);
	EXPECT_EQ(t.remote_index, 0xc0de0001U);
	EXPECT_EQ(t.endpoint->to_string(), "[2001:db8::1]:4500");
	EXPECT_EQ(t.cipher, NTM_CIPHER_CHACHA20_POLY1305);
	EXPECT_TRUE(t.esn);
	ASSERT_EQ(t.remote_ts.size(), 2U);
	EXPECT_EQ(t.remote_ts[0].to_string(), "10.2.0.0/16");
	EXPECT_EQ(t.remote_ts[1].to_string(), "fd00:2::/64");
	ASSERT_EQ(t.local_ts.size(), 1U);
	EXPECT_EQ(t.local_ts[0].to_string(), "0.0.0.0/0");
	EXPECT_EQ(t.tx_counter, 1ULL << 33);
	EXPECT_EQ(t.rx_counter, 7U);
	EXPECT_EQ(t.soft_lifetime, 3000U);
	EXPECT_EQ(t.soft_bytes, 100U);
	EXPECT_EQ(t.hard_bytes, 200U);
	EXPECT_EQ(t.soft_packets, 300U);
	EXPECT_EQ(t.hard_packets, UINT64_MAX);
	EXPECT_EQ(t.age_s, 42U);
	EXPECT_EQ(t.stats.get(NTM_STAT_A_DROP_TS), 3U);
	EXPECT_EQ(t.stats.get(NTM_STAT_A_DUMMY_RX), 4U);
	EXPECT_EQ(t.stats.drops(), 3U);

	/* unaligned, as fuzzer input may be */
	std::vector<std::uint8_t> shifted(w.bytes().size() + 1);
	std::memcpy(shifted.data() + 1, w.bytes().data(), w.bytes().size());
	std::vector<ntm::Tunnel> again;
	(void)ntm::parse_tunnels({shifted.data() + 1, w.bytes().size()},
				 [&again](ntm::Tunnel &&x) { again.push_back(std::move(x)); });
	ASSERT_EQ(again.size(), 2U);
	EXPECT_EQ(again[0].remote_ts, t.remote_ts);
	EXPECT_EQ(again[0].hard_packets, UINT64_MAX);
}

TEST(GenlEsp, OldKernelReply)
{
	/* a kernel without ESP sends none of the new attributes: an NTM tunnel */
	AttrWriter w;
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 7);
	w.nest_end(nest);
	std::vector<ntm::Tunnel> out;
	(void)ntm::parse_tunnels(w.span(), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); });
	ASSERT_EQ(out.size(), 1U);
	EXPECT_EQ(out[0].encap, NTM_ENCAP_NTM);
	EXPECT_FALSE(out[0].is_esp());
	EXPECT_FALSE(out[0].esn);
	EXPECT_TRUE(out[0].remote_ts.empty());
	EXPECT_EQ(out[0].hard_bytes, 0U);
}

TEST(GenlEsp, TsNestIgnoresUnknownAttributes)
{
	EXPECT_NO_THROW(parse_one([](AttrWriter &w) {
		const auto nest = w.nest_start(NTM_TUNNEL_A_REMOTE_TS);
		w.put_u32(7, 1); /* a newer kernel's attribute */
		const ntm_prefix u = ntm::Prefix{ntm::parse_ipv4("10.0.0.0"), 8}.to_uapi();
		w.put_raw(NTM_TS_A_PREFIX, &u, sizeof(u));
		w.nest_end(nest);
	}));
	EXPECT_NO_THROW(parse_one([](AttrWriter &w) { w.nest_end(w.nest_start(NTM_TUNNEL_A_LOCAL_TS)); }));
}

TEST(GenlEsp, MalformedReplies)
{
	using ntm::ProtocolError;
	EXPECT_THROW(parse_one([](AttrWriter &w) { w.put_u32(NTM_TUNNEL_A_ENCAP, NTM_ENCAP_ESP_UDP); }), ProtocolError);
	EXPECT_THROW(parse_one([](AttrWriter &w) { w.put_u32(NTM_TUNNEL_A_ESN, 1); }), ProtocolError);
	EXPECT_THROW(parse_one([](AttrWriter &w) { w.put_u16(NTM_TUNNEL_A_SOFT_LIFETIME, 1); }), ProtocolError);
	EXPECT_THROW(parse_one([](AttrWriter &w) { w.put_u32(NTM_TUNNEL_A_HARD_BYTES, 1); }), ProtocolError);
	EXPECT_THROW(parse_one([](AttrWriter &w) { w.put_u32(NTM_TUNNEL_A_SOFT_PACKETS, 1); }), ProtocolError);
	auto bad_ts = [](const std::function<void(ntm_prefix &)> &f, std::size_t len = sizeof(ntm_prefix)) {
		return [f, len](AttrWriter &w) {
			ntm_prefix u = ntm::Prefix{ntm::parse_ipv4("10.2.0.0"), 16}.to_uapi();
			f(u);
			const auto nest = w.nest_start(NTM_TUNNEL_A_REMOTE_TS);
			w.put_raw(NTM_TS_A_PREFIX, &u, len);
			w.nest_end(nest);
		};
	};
	EXPECT_NO_THROW(parse_one(bad_ts([](ntm_prefix &) {})));
	EXPECT_THROW(parse_one(bad_ts([](ntm_prefix &) {}, 16)), ProtocolError);
	EXPECT_THROW(parse_one(bad_ts([](ntm_prefix &u) { u.family = 0; })), ProtocolError);
	EXPECT_THROW(parse_one(bad_ts([](ntm_prefix &u) { u.prefixlen = 33; })), ProtocolError);
	EXPECT_THROW(parse_one(bad_ts([](ntm_prefix &u) { u.addr[3] = 1; })), ProtocolError);
	try {
		parse_one(bad_ts([](ntm_prefix &u) {
			u.family = AF_INET6;
			u.prefixlen = 129;
		}));
		FAIL();
	} catch (const ProtocolError &e) {
		EXPECT_NE(std::string(e.what()).find("NTM_TUNNEL_A_REMOTE_TS"), std::string::npos) << e.what();
	}
}

TEST(GenlEsp, ExpiredEvents)
{
	for (const std::uint32_t reason : {NTM_EXPIRE_HARD_BYTES, NTM_EXPIRE_HARD_PACKETS, NTM_EXPIRE_SOFT_TIME,
					   NTM_EXPIRE_SOFT_BYTES, NTM_EXPIRE_SOFT_PACKETS}) {
		AttrWriter w;
		w.put_u32(NTM_A_IFINDEX, 5);
		const auto nest = w.nest_start(NTM_A_TUNNEL);
		w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 0x1000);
		w.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 0x2000);
		const std::uint8_t encap = NTM_ENCAP_ESP_UDP;
		w.put_raw(NTM_TUNNEL_A_ENCAP, &encap, 1);
		w.nest_end(nest);
		w.put_u32(NTM_A_REASON, reason);
		const auto ev = ntm::parse_event(NTM_CMD_EVENT_EXPIRED, w.span());
		ASSERT_TRUE(ev);
		const auto &e = std::get<ntm::ExpiredEvent>(*ev);
		EXPECT_EQ(e.local_index, 0x1000U);
		EXPECT_EQ(e.remote_index, 0x2000U);
		EXPECT_EQ(e.reason, reason);
		EXPECT_EQ(e.soft(), reason >= NTM_EXPIRE_SOFT_TIME);
		EXPECT_EQ(ntm::expire_reason_name(e.reason).find("unknown"), std::string::npos);
	}
}

/* Relay events as ntmctl monitor and ntmd's log show them. */
TEST(GenlRelay, EventTextAndJson)
{
	ntm::RelayExpiredEvent e;
	e.ifindex = 3;
	e.relay.id = 12;
	e.relay.legs[0].endpoint = ntm::parse_endpoint("192.0.2.1:51820");
	e.relay.legs[0].index = 1001;
	e.relay.legs[1].endpoint = ntm::parse_endpoint("[2001:db8::2]:51820");
	e.relay.legs[1].index = 2002;
	e.relay.legs[1].rx_packets = 9;
	e.reason = NTM_EXPIRE_HARD_PACKETS;
	const ntm::Event ev = e;
	EXPECT_EQ(ntm::event_ifindex(ev), 3U);
	EXPECT_EQ(ntm::format_event(ev, "ntm0"),
		  "relay-expired dev ntm0 id 12 reason hard-packets leg1 192.0.2.1:51820 leg2 [2001:db8::2]:51820");
	const auto j = ntm::event_to_json(ev, "ntm0");
	EXPECT_EQ(j.at("event"), "relay_expired");
	EXPECT_EQ(j.at("reason"), "hard-packets");
	EXPECT_EQ(j.at("reason_code"), NTM_EXPIRE_HARD_PACKETS);
	EXPECT_EQ(j.at("relay").at("id"), 12);
	EXPECT_EQ(j.at("relay").at("legs").at(1).at("endpoint"), "[2001:db8::2]:51820");
	EXPECT_EQ(j.at("relay").at("legs").at(1).at("rx_packets"), 9);
	EXPECT_EQ(j.at("ifname"), "ntm0");
}
