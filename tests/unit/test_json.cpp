// SPDX-License-Identifier: GPL-2.0
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "ntm/json.hpp"
#include "ntm/json_stream.hpp"
#include "ntm/parse.hpp"

using nlohmann::json;

TEST(Json, Stats)
{
	ntm::Stats s;
	s.set(NTM_STAT_A_TX_BYTES, 1234);
	const json j = s;
	ASSERT_TRUE(j.is_object());
	EXPECT_EQ(j.size(), ntm::kStats.size()); /* 19 tunnel counters, 9 relay ones, 2 rekey/event ones */
	EXPECT_EQ(j.at("tx_bytes"), 1234);
	EXPECT_EQ(j.at("rx_packets"), 0);
	for (const char *k :
	     {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drop_replay", "drop_auth", "drop_no_tunnel",
	      "drop_malformed", "drop_inner_src", "drop_nomem", "drop_tx_error", "drop_expired", "drop_acquire",
	      "acquire_queued", "passed_up", "roamed", "keepalive_rx", "drop_ts", "dummy_rx"})
		EXPECT_TRUE(j.contains(k)) << k;
}

TEST(Json, Device)
{
	ntm::Device d;
	d.ifindex = 5;
	d.name = "ntm0";
	d.flags = NTM_DEV_F_NO_ACQUIRE;
	d.fwmark = 0x42;
	d.port4 = 4500;
	d.num_tunnels = 2;
	d.acquire_qlen = 64;
	d.stats.set(NTM_STAT_A_ROAMED, UINT64_MAX);
	const json j = d;
	EXPECT_EQ(j.at("ifindex"), 5);
	EXPECT_EQ(j.at("ifname"), "ntm0");
	EXPECT_EQ(j.at("flags"), NTM_DEV_F_NO_ACQUIRE);
	EXPECT_EQ(j.at("roaming"), true);
	EXPECT_EQ(j.at("acquire"), false);
	EXPECT_EQ(j.at("fwmark"), 0x42);
	EXPECT_EQ(j.at("port4"), 4500);
	EXPECT_TRUE(j.at("port6").is_null());
	EXPECT_EQ(j.at("num_tunnels"), 2);
	EXPECT_EQ(j.at("acquire_qlen"), 64);
	EXPECT_EQ(j.at("stats").at("roamed").get<std::uint64_t>(), UINT64_MAX);
	/* the text survives a round trip through a JSON parser */
	EXPECT_EQ(json::parse(j.dump()), j);
}

TEST(Json, Tunnel)
{
	ntm::Tunnel t;
	t.local_index = 7;
	t.remote_index = 9;
	t.endpoint = ntm::parse_endpoint("[2001:db8::1]:4500");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.cipher = NTM_CIPHER_CHACHA20_POLY1305;
	t.lifetime = 3600;
	t.flags = NTM_TUNNEL_F_NO_ROAMING;
	t.tx_counter = 10;
	t.rx_counter = 11;
	t.last_rx_ns = 12;
	t.age_s = 13;
	t.stats.set(NTM_STAT_A_RX_PACKETS, 3);
	const json j = t;
	EXPECT_EQ(j.at("local_index"), 7);
	EXPECT_EQ(j.at("remote_index"), 9);
	EXPECT_EQ(j.at("endpoint"), "[2001:db8::1]:4500");
	EXPECT_EQ(j.at("vip4"), "10.1.0.2");
	EXPECT_TRUE(j.at("vip6").is_null());
	EXPECT_EQ(j.at("cipher"), "chacha20-poly1305");
	EXPECT_EQ(j.at("lifetime"), 3600);
	EXPECT_EQ(j.at("flags"), 1);
	EXPECT_EQ(j.at("roaming"), false);
	EXPECT_EQ(j.at("tx_counter"), 10);
	EXPECT_EQ(j.at("rx_counter"), 11);
	EXPECT_EQ(j.at("last_rx_ns"), 12);
	EXPECT_EQ(j.at("age_s"), 13);
	EXPECT_EQ(j.at("stats").at("rx_packets"), 3);
	EXPECT_FALSE(j.contains("key"));
	EXPECT_FALSE(j.contains("tx_salt"));
	/* the ESP fields exist for every tunnel */
	EXPECT_EQ(j.at("encap"), "ntm");
	EXPECT_TRUE(j.at("spi_in").is_null());
	EXPECT_TRUE(j.at("spi_out").is_null());
	EXPECT_EQ(j.at("esn"), false);
	EXPECT_EQ(j.at("remote_ts"), json::array());
	EXPECT_EQ(j.at("local_ts"), json::array());
	EXPECT_EQ(j.at("soft_lifetime"), 0);
	EXPECT_EQ(j.at("hard_bytes"), 0);
}

TEST(Json, EspTunnel)
{
	ntm::Tunnel t;
	t.encap = NTM_ENCAP_ESP_UDP;
	t.local_index = 0x1000;
	t.remote_index = 0xc0de0001;
	t.cipher = NTM_CIPHER_AES_GCM;
	t.esn = true;
	t.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts"),
		       ntm::parse_traffic_selector("fd00:2::/64", "ts")};
	t.local_ts = {ntm::parse_traffic_selector("10.1.0.0/16", "ts")};
	t.soft_lifetime = 3000;
	t.soft_bytes = 1;
	t.hard_bytes = UINT64_MAX;
	t.soft_packets = 3;
	t.hard_packets = 4;
	const json j = t;
	EXPECT_EQ(j.at("encap"), "esp-udp");
	EXPECT_EQ(j.at("local_index"), 0x1000);
	EXPECT_EQ(j.at("remote_index"), 0xc0de0001U);
	EXPECT_EQ(j.at("spi_in"), "0x00001000");
	EXPECT_EQ(j.at("spi_out"), "0xc0de0001");
	EXPECT_EQ(j.at("esn"), true);
	EXPECT_EQ(j.at("remote_ts"), json::parse(R"(["10.2.0.0/16","fd00:2::/64"])"));
	EXPECT_EQ(j.at("local_ts"), json::parse(R"(["10.1.0.0/16"])"));
	EXPECT_EQ(j.at("soft_lifetime"), 3000);
	EXPECT_EQ(j.at("soft_bytes"), 1);
	EXPECT_EQ(j.at("hard_bytes").get<std::uint64_t>(), UINT64_MAX);
	EXPECT_EQ(j.at("soft_packets"), 3);
	EXPECT_EQ(j.at("hard_packets"), 4);
	EXPECT_FALSE(j.contains("rx_key"));
	EXPECT_EQ(json::parse(ntm::json_dump(j)), j);
}

TEST(Json, Events)
{
	const ntm::Event acq = ntm::AcquireEvent{5, ntm::parse_ipv4("10.1.0.2"), ntm::parse_ipv4("10.1.0.1")};
	EXPECT_EQ(ntm::event_to_json(acq, "ntm0"),
		  json::parse(R"({"event":"acquire","ifindex":5,"ifname":"ntm0","dst":"10.1.0.2","src":"10.1.0.1"})"));

	const ntm::Event ep = ntm::EndpointEvent{5, 7, ntm::parse_endpoint("1.2.3.4:5")};
	EXPECT_EQ(ntm::event_to_json(ep, ""),
		  json::parse(
			  R"({"event":"endpoint","ifindex":5,"ifname":null,"local_index":7,"endpoint":"1.2.3.4:5"})"));

	const ntm::Event exp = ntm::ExpiredEvent{5, 7, 9, NTM_EXPIRE_LIFETIME};
	EXPECT_EQ(ntm::event_to_json(exp, "ntm0"),
		  json::parse(R"({"event":"expired","ifindex":5,"ifname":"ntm0","local_index":7,"remote_index":9,)"
			      R"("reason":"lifetime","reason_code":1,"soft":false})"));

	const ntm::Event soft = ntm::ExpiredEvent{5, 4096, 8192, NTM_EXPIRE_SOFT_BYTES};
	EXPECT_EQ(ntm::event_to_json(soft, "ntm0"),
		  json::parse(R"({"event":"expired","ifindex":5,"ifname":"ntm0","local_index":4096,)"
			      R"("remote_index":8192,"reason":"soft-bytes","reason_code":17,"soft":true})"));
	const ntm::Event hard = ntm::ExpiredEvent{5, 4096, 8192, NTM_EXPIRE_HARD_PACKETS};
	EXPECT_EQ(ntm::event_to_json(hard, "").at("reason"), "hard-packets");
}

TEST(Json, NonUtf8NameDoesNotThrow)
{
	ntm::Device d;
	d.ifindex = 1;
	d.name = "n\x92\x8b"; /* interface names are bytes, not UTF-8 */
	std::string out;
	ASSERT_NO_THROW(out = ntm::json_dump(json(d)));
	EXPECT_TRUE(json::accept(out));
}

namespace {

/* what the streaming writer gives for t (and peer) */
std::string streamed(const ntm::Tunnel &t, std::string_view peer = {})
{
	fmt::memory_buffer b;
	ntm::append_json(b, t, peer);
	return fmt::to_string(b);
}

/* the reference: the DOM form, through json_dump */
std::string reference(const ntm::Tunnel &t, const std::string &peer = {})
{
	json j = t;
	if (!peer.empty())
		j["peer"] = peer;
	return ntm::json_dump(j);
}

} // namespace

/* ntmctl -j tunnel show streams; it must print what the DOM form prints, byte for byte */
TEST(JsonStream, TunnelSameAsDocument)
{
	ntm::Tunnel plain;
	EXPECT_EQ(streamed(plain), reference(plain));

	ntm::Tunnel t;
	t.local_index = 7;
	t.remote_index = UINT32_MAX;
	t.endpoint = ntm::parse_endpoint("[2001:db8::1]:4500");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.vip6 = ntm::parse_ipv6("fd00::2");
	t.cipher = NTM_CIPHER_CHACHA20_POLY1305;
	t.lifetime = 3600;
	t.flags = NTM_TUNNEL_F_NO_ROAMING;
	t.tx_counter = 10;
	t.rx_counter = UINT64_MAX;
	t.last_rx_ns = 12;
	t.age_s = 13;
	t.state = NTM_TUNNEL_STATE_PENDING;
	t.replaces = 5;
	for (const auto &st : ntm::kStats)
		t.stats.set(st.attr, 1000U + static_cast<std::uint64_t>(st.attr));
	EXPECT_EQ(streamed(t), reference(t));
	EXPECT_EQ(streamed(t, "bob.example.com"), reference(t, "bob.example.com"));

	ntm::Tunnel esp;
	esp.encap = NTM_ENCAP_ESP_UDP;
	esp.local_index = 0x1000;
	esp.remote_index = 0xc0de0001;
	esp.cipher = NTM_CIPHER_AES_GCM;
	esp.esn = true;
	esp.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts"),
			 ntm::parse_traffic_selector("fd00:2::/64", "ts")};
	esp.local_ts = {ntm::parse_traffic_selector("10.1.0.0/16", "ts")};
	esp.soft_lifetime = 3000;
	esp.soft_bytes = 1;
	esp.hard_bytes = UINT64_MAX;
	esp.soft_packets = 3;
	esp.hard_packets = 4;
	esp.state = NTM_TUNNEL_STATE_RETIRED;
	EXPECT_EQ(streamed(esp), reference(esp));

	/* values the model does not name still print as the document does */
	ntm::Tunnel odd;
	odd.cipher = 77;
	odd.encap = 9;
	odd.state = 200;
	EXPECT_EQ(streamed(odd), reference(odd));
}

TEST(JsonStream, StringsEscapedAsDocument)
{
	const std::vector<std::string> cases{"",	    "plain",	     "q\"uote",    "back\\slash",
					     "nl\n\ttab", std::string("nul\0x", 5), "caf\xc3\xa9", "bad\x92\x8b",
					     "\x7f"};
	for (const auto &s : cases) {
		fmt::memory_buffer b;
		ntm::append_json_string(b, s);
		EXPECT_EQ(fmt::to_string(b), ntm::json_dump(json(s))) << s;
	}
	ntm::Tunnel t;
	EXPECT_EQ(streamed(t, "peer \"x\"\x01"), reference(t, "peer \"x\"\x01"));
	EXPECT_TRUE(json::accept(streamed(t, "n\x92\x8b")));
}
