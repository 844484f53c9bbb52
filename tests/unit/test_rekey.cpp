// SPDX-License-Identifier: GPL-2.0
/*
 * Make-before-break rekey in libntm and ntmctl: NTM_TUNNEL_A_REPLACES and
 * _TAKEOVER in NEW_TUNNEL requests, NTM_TUNNEL_A_STATE / REPLACES in
 * GET_TUNNEL replies, NTM_CMD_EVENT_TAKEOVER, their checks, names, JSON
 * and text.
 */
#include <linux/genetlink.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "attr_writer.hpp"
#include "cli.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/handle.hpp"
#include "ntm/json.hpp"
#include "ntm/parse.hpp"
#include "ntm/tokenize.hpp"
#include "output.hpp"

using ntm::ProtocolError;
using ntm::UsageError;
using ntmtest::AttrWriter;

namespace {

ntm::NlMsgPtr genl_msg(std::uint8_t cmd)
{
	auto msg = ntm::make_nlmsg();
	EXPECT_NE(genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, 0x20, 0, 0, cmd, NTM_GENL_VERSION), nullptr);
	return msg;
}

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

/* the successor of a tunnel 1001 <-> 2002 carrying 198.51.100.2 */
ntm::TunnelSettings successor()
{
	ntm::TunnelSettings t;
	t.local_index = 1011;
	t.remote_index = 2012;
	t.endpoint = ntm::parse_endpoint("192.0.2.2:51820");
	t.vip4 = ntm::parse_ipv4("198.51.100.2");
	t.cipher = NTM_CIPHER_CHACHA20_POLY1305;
	t.key = ntm::parse_hex_key(std::string(64, 'b'));
	t.tx_salt = ntm::parse_salt("01020304", "tx");
	t.rx_salt = ntm::parse_salt("05060708", "rx");
	t.replaces = 1001;
	return t;
}

std::string capture(const std::function<void(std::FILE *)> &f)
{
	char *buf = nullptr;
	std::size_t len = 0;
	std::FILE *m = open_memstream(&buf, &len);
	f(m);
	std::fclose(m);
	std::string s(buf, len);
	std::free(buf);
	return s;
}

AttrWriter takeover_event(bool with_replaces)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 6);
	const auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1011);
	w.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 2012);
	if (with_replaces)
		w.put_u32(NTM_TUNNEL_A_REPLACES, 1001);
	w.nest_end(nest);
	return w;
}

} // namespace

TEST(Rekey, UapiValues)
{
	/* append-only uapi: the values ntmd and other clients rely on */
	EXPECT_EQ(NTM_TAKEOVER_ON_RX, 0);
	EXPECT_EQ(NTM_TAKEOVER_NOW, 1);
	EXPECT_EQ(NTM_TUNNEL_STATE_ACTIVE, 0);
	EXPECT_EQ(NTM_TUNNEL_STATE_PENDING, 1);
	EXPECT_EQ(NTM_TUNNEL_STATE_RETIRED, 2);
	EXPECT_EQ(NTM_TUNNEL_A_REPLACES, NTM_TUNNEL_A_HARD_PACKETS + 1);
	EXPECT_EQ(NTM_TUNNEL_A_TAKEOVER, NTM_TUNNEL_A_HARD_PACKETS + 2);
	EXPECT_EQ(NTM_TUNNEL_A_STATE, NTM_TUNNEL_A_HARD_PACKETS + 3);
	EXPECT_EQ(NTM_CMD_EVENT_TAKEOVER, NTM_CMD_EVENT_RELAY_EXPIRED + 1);
	EXPECT_EQ(NTM_STAT_A_TAKEOVER, NTM_STAT_A_RELAY_EXPIRED + 1);
}

TEST(Rekey, RequestCarriesReplacesAndTakeover)
{
	auto msg = genl_msg(NTM_CMD_NEW_TUNNEL);
	auto s = successor();
	s.takeover = NTM_TAKEOVER_NOW;
	ntm::put_tunnel(msg.get(), s);
	auto tb = table<NTM_A_MAX>(attrs_of(msg));
	ASSERT_NE(tb[NTM_A_TUNNEL], nullptr);
	auto t = table<NTM_TUNNEL_A_MAX>(payload(tb[NTM_A_TUNNEL]));
	ASSERT_NE(t[NTM_TUNNEL_A_REPLACES], nullptr);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_REPLACES]), 4);
	EXPECT_EQ(nla_get_u32(t[NTM_TUNNEL_A_REPLACES]), 1001U);
	ASSERT_NE(t[NTM_TUNNEL_A_TAKEOVER], nullptr);
	ASSERT_EQ(nla_len(t[NTM_TUNNEL_A_TAKEOVER]), 1);
	EXPECT_EQ(nla_get_u8(t[NTM_TUNNEL_A_TAKEOVER]), NTM_TAKEOVER_NOW);
	/* read only: never sent */
	EXPECT_EQ(t[NTM_TUNNEL_A_STATE], nullptr);

	/* unset: not sent (the kernel's default is NTM_TAKEOVER_ON_RX) */
	auto plain = genl_msg(NTM_CMD_NEW_TUNNEL);
	s.replaces.reset();
	s.takeover.reset();
	ntm::put_tunnel(plain.get(), s);
	auto tp = table<NTM_A_MAX>(attrs_of(plain));
	auto tt = table<NTM_TUNNEL_A_MAX>(payload(tp[NTM_A_TUNNEL]));
	EXPECT_EQ(tt[NTM_TUNNEL_A_REPLACES], nullptr);
	EXPECT_EQ(tt[NTM_TUNNEL_A_TAKEOVER], nullptr);
}

TEST(Rekey, ReplyStateAndReplaces)
{
	AttrWriter w;
	w.put_u32(NTM_A_IFINDEX, 6);
	auto nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1011);
	w.put_raw(NTM_TUNNEL_A_STATE, "\x01", 1);
	w.put_u32(NTM_TUNNEL_A_REPLACES, 1001);
	w.nest_end(nest);
	nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1001);
	w.put_raw(NTM_TUNNEL_A_STATE, "\x02", 1);
	w.nest_end(nest);
	nest = w.nest_start(NTM_A_TUNNEL);
	w.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 3); /* a kernel without rekey */
	w.nest_end(nest);
	std::vector<ntm::Tunnel> out;
	EXPECT_EQ(ntm::parse_tunnels(w.span(), [&out](ntm::Tunnel &&t) { out.push_back(std::move(t)); }), 6U);
	ASSERT_EQ(out.size(), 3U);
	EXPECT_EQ(out[0].state, NTM_TUNNEL_STATE_PENDING);
	EXPECT_TRUE(out[0].is_pending());
	EXPECT_EQ(out[0].replaces, 1001U);
	EXPECT_EQ(out[1].state, NTM_TUNNEL_STATE_RETIRED);
	EXPECT_TRUE(out[1].is_retired());
	EXPECT_FALSE(out[1].replaces);
	EXPECT_EQ(out[2].state, NTM_TUNNEL_STATE_ACTIVE);
	EXPECT_FALSE(out[2].is_pending());
	EXPECT_FALSE(out[2].is_retired());

	/* wrong sizes are protocol errors */
	AttrWriter bad;
	bad.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1);
	bad.put_u32(NTM_TUNNEL_A_STATE, 1);
	EXPECT_THROW((void)ntm::parse_tunnel_attrs(bad.span()), ProtocolError);
	AttrWriter bad2;
	bad2.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1);
	bad2.put_u16(NTM_TUNNEL_A_REPLACES, 1);
	EXPECT_THROW((void)ntm::parse_tunnel_attrs(bad2.span()), ProtocolError);
}

TEST(Rekey, TakeoverEvent)
{
	const auto ev = ntm::parse_event(NTM_CMD_EVENT_TAKEOVER, takeover_event(true).span());
	ASSERT_TRUE(ev);
	const auto *t = std::get_if<ntm::TakeoverEvent>(&*ev);
	ASSERT_NE(t, nullptr);
	EXPECT_EQ(*t, (ntm::TakeoverEvent{6, 1011, 2012, 1001}));
	EXPECT_EQ(ntm::event_ifindex(*ev), 6U);
	EXPECT_EQ(ntm::format_event(*ev, "ntm0"), "takeover dev ntm0 local-index 1011 remote-index 2012 replaces 1001");
	const auto j = ntm::event_to_json(*ev, "ntm0");
	EXPECT_EQ(j.at("event"), "takeover");
	EXPECT_EQ(j.at("local_index"), 1011);
	EXPECT_EQ(j.at("remote_index"), 2012);
	EXPECT_EQ(j.at("replaces"), 1001);
	EXPECT_EQ(j.at("ifindex"), 6);
	EXPECT_EQ(j.at("ifname"), "ntm0");

	/* REPLACES 0: a held new tunnel was confirmed */
	AttrWriter conf;
	conf.put_u32(NTM_A_IFINDEX, 6);
	const auto n = conf.nest_start(NTM_A_TUNNEL);
	conf.put_u32(NTM_TUNNEL_A_LOCAL_INDEX, 1011);
	conf.put_u32(NTM_TUNNEL_A_REMOTE_INDEX, 2012);
	conf.put_u32(NTM_TUNNEL_A_REPLACES, 0);
	conf.nest_end(n);
	const auto cev = ntm::parse_event(NTM_CMD_EVENT_TAKEOVER, conf.span());
	ASSERT_TRUE(cev);
	EXPECT_EQ(ntm::format_event(*cev, "ntm0"), "takeover dev ntm0 local-index 1011 remote-index 2012 confirmed");

	/* a takeover event without the predecessor is malformed */
	EXPECT_THROW((void)ntm::parse_event(NTM_CMD_EVENT_TAKEOVER, takeover_event(false).span()), ProtocolError);
	AttrWriter bare;
	bare.put_u32(NTM_A_IFINDEX, 6);
	EXPECT_THROW((void)ntm::parse_event(NTM_CMD_EVENT_TAKEOVER, bare.span()), ProtocolError);
}

TEST(Rekey, Names)
{
	EXPECT_EQ(ntm::tunnel_state_name(NTM_TUNNEL_STATE_ACTIVE), "active");
	EXPECT_EQ(ntm::tunnel_state_name(NTM_TUNNEL_STATE_PENDING), "pending");
	EXPECT_EQ(ntm::tunnel_state_name(NTM_TUNNEL_STATE_RETIRED), "retired");
	EXPECT_EQ(ntm::tunnel_state_name(9), "unknown-9");
	EXPECT_EQ(ntm::takeover_name(NTM_TAKEOVER_ON_RX), "rx");
	EXPECT_EQ(ntm::takeover_name(NTM_TAKEOVER_NOW), "now");
	EXPECT_EQ(ntm::takeover_name(7), "unknown-7");
	EXPECT_EQ(ntm::parse_takeover("now"), NTM_TAKEOVER_NOW);
	EXPECT_EQ(ntm::parse_takeover("rx"), NTM_TAKEOVER_ON_RX);
	EXPECT_EQ(ntm::parse_takeover("on-rx"), NTM_TAKEOVER_ON_RX);
	EXPECT_THROW((void)ntm::parse_takeover("later"), UsageError);
	EXPECT_THROW((void)ntm::parse_takeover(""), UsageError);
}

TEST(Rekey, CheckTunnel)
{
	using ntm::TunnelRequest;
	auto s = successor();
	EXPECT_NO_THROW(ntm::check_tunnel(s, TunnelRequest::create));
	s.takeover = NTM_TAKEOVER_NOW;
	EXPECT_NO_THROW(ntm::check_tunnel(s, TunnelRequest::create));
	s.takeover = 2;
	EXPECT_THROW(ntm::check_tunnel(s, TunnelRequest::create), UsageError);

	auto self = successor();
	self.replaces = self.local_index;
	EXPECT_THROW(ntm::check_tunnel(self, TunnelRequest::create), UsageError);
	self.replaces = 0;
	EXPECT_THROW(ntm::check_tunnel(self, TunnelRequest::create), UsageError);

	/* takeover without replaces: rx holds a new tunnel for its peer, now is a plain one */
	auto held = successor();
	held.replaces.reset();
	held.takeover = NTM_TAKEOVER_ON_RX;
	EXPECT_NO_THROW(ntm::check_tunnel(held, TunnelRequest::create));
	held.takeover = NTM_TAKEOVER_NOW;
	EXPECT_NO_THROW(ntm::check_tunnel(held, TunnelRequest::create));

	/* ESP SA pairs are rekeyed by adding the newer pair */
	ntm::TunnelSettings esp;
	esp.encap = NTM_ENCAP_ESP_UDP;
	esp.local_index = 0x1000;
	esp.remote_index = 0x2000;
	esp.endpoint = ntm::parse_endpoint("192.0.2.2:4500");
	esp.cipher = NTM_CIPHER_AES_GCM;
	esp.key = ntm::parse_hex_key(std::string(32, 'c'));
	esp.rx_key = ntm::parse_hex_key(std::string(32, 'd'));
	esp.tx_salt = ntm::parse_salt("01020304", "tx");
	esp.rx_salt = ntm::parse_salt("05060708", "rx");
	esp.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts")};
	EXPECT_NO_THROW(ntm::check_tunnel(esp, TunnelRequest::create));
	esp.replaces = 0x1001;
	EXPECT_THROW(ntm::check_tunnel(esp, TunnelRequest::create), UsageError);

	/* create only */
	ntm::TunnelSettings change;
	change.local_index = 5;
	change.replaces = 4;
	EXPECT_THROW(ntm::check_tunnel(change, TunnelRequest::change), UsageError);
	change.replaces.reset();
	/* a change may only make a pending tunnel send at once */
	change.takeover = NTM_TAKEOVER_NOW;
	EXPECT_NO_THROW(ntm::check_tunnel(change, TunnelRequest::change));
	change.takeover = NTM_TAKEOVER_ON_RX;
	EXPECT_THROW(ntm::check_tunnel(change, TunnelRequest::change), UsageError);
}

TEST(Rekey, CliTunnelAdd)
{
	ntmctl::Cli cli;
	const std::string add = "tunnel add ntm0 --local-index 1011 --remote-index 2012 --endpoint 192.0.2.2:51820 "
				"--vip4 198.51.100.2 --cipher chacha20-poly1305 --key " +
				std::string(64, 'b') + " --tx-salt 01020304 --rx-salt 05060708";
	auto parse = [&cli](const std::string &line) { return cli.parse(ntm::tokenize_line(line), ntmctl::Origin::batch_line); };
	auto now = std::get<ntmctl::TunnelAddCmd>(parse(add + " --replaces 1001 --takeover now").cmd);
	EXPECT_EQ(now.tunnel.replaces, 1001U);
	EXPECT_EQ(now.tunnel.takeover, NTM_TAKEOVER_NOW);
	auto rx = std::get<ntmctl::TunnelAddCmd>(parse(add + " --replaces 1001 --takeover rx").cmd);
	EXPECT_EQ(rx.tunnel.takeover, NTM_TAKEOVER_ON_RX);
	/* without --takeover: not sent, the kernel's default (rx) applies */
	auto dflt = std::get<ntmctl::TunnelAddCmd>(parse(add + " --replaces 1001").cmd);
	EXPECT_EQ(dflt.tunnel.replaces, 1001U);
	EXPECT_FALSE(dflt.tunnel.takeover);
	/* the previous line does not leak */
	auto plain = std::get<ntmctl::TunnelAddCmd>(parse(add).cmd);
	EXPECT_FALSE(plain.tunnel.replaces);
	EXPECT_FALSE(plain.tunnel.takeover);

	auto held = std::get<ntmctl::TunnelAddCmd>(parse(add + " --takeover rx").cmd);
	EXPECT_FALSE(held.tunnel.replaces);
	EXPECT_EQ(held.tunnel.takeover, NTM_TAKEOVER_ON_RX);
	auto release = std::get<ntmctl::TunnelSetCmd>(parse("tunnel set ntm0 --local-index 5 --takeover now").cmd);
	EXPECT_EQ(release.tunnel.takeover, NTM_TAKEOVER_NOW);
	EXPECT_THROW(parse("tunnel set ntm0 --local-index 5 --takeover rx"), UsageError);
	EXPECT_THROW(parse(add + " --replaces 1001 --takeover soon"), UsageError);
	EXPECT_THROW(parse(add + " --replaces 0"), UsageError);
	EXPECT_THROW(parse(add + " --replaces 1011"), UsageError);
	EXPECT_THROW(parse("tunnel set ntm0 --local-index 5 --replaces 4"), UsageError);
}

TEST(Rekey, JsonAndText)
{
	ntm::Tunnel t;
	t.local_index = 1011;
	t.remote_index = 2012;
	t.cipher = NTM_CIPHER_AES_GCM;
	t.state = NTM_TUNNEL_STATE_PENDING;
	t.replaces = 1001;
	const nlohmann::json j = t;
	EXPECT_EQ(j.at("state"), "pending");
	EXPECT_EQ(j.at("replaces"), 1001);

	const auto s = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_NE(s.find("  state: pending (replaces 1001)\n"), std::string::npos) << s;
	t.state = NTM_TUNNEL_STATE_RETIRED;
	t.replaces.reset();
	const auto r = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_NE(r.find("  state: retired\n"), std::string::npos) << r;
	t.state = NTM_TUNNEL_STATE_ACTIVE;
	const nlohmann::json ja = t;
	EXPECT_EQ(ja.at("state"), "active");
	EXPECT_TRUE(ja.at("replaces").is_null());
	const auto a = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_EQ(a.find("state:"), std::string::npos) << a; /* the usual case stays quiet */

	t.state = NTM_TUNNEL_STATE_RETIRED;
	const auto row = capture([&](std::FILE *f) {
		ntmctl::print_tunnel_header(f);
		ntmctl::print_tunnel_row(f, t, 0);
	});
	std::istringstream in(row);
	std::string header;
	std::string line;
	std::getline(in, header);
	std::getline(in, line);
	EXPECT_NE(header.find(" STATE "), std::string::npos) << header;
	std::istringstream words(line);
	std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
	ASSERT_GE(w.size(), 8U);
	EXPECT_EQ(w[6], "ntm");
	EXPECT_EQ(w[7], "retired");
}
