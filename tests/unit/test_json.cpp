// SPDX-License-Identifier: GPL-2.0
#include <gtest/gtest.h>

#include "ntm/json.hpp"
#include "ntm/parse.hpp"

using nlohmann::json;

TEST(Json, Stats)
{
	ntm::Stats s;
	s.set(NTM_STAT_A_TX_BYTES, 1234);
	const json j = s;
	ASSERT_TRUE(j.is_object());
	EXPECT_EQ(j.size(), 17U);
	EXPECT_EQ(j.at("tx_bytes"), 1234);
	EXPECT_EQ(j.at("rx_packets"), 0);
	for (const char *k : {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drop_replay", "drop_auth",
			      "drop_no_tunnel", "drop_malformed", "drop_inner_src", "drop_nomem", "drop_tx_error",
			      "drop_expired", "drop_acquire", "acquire_queued", "passed_up", "roamed", "keepalive_rx"})
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
			      R"("reason":"lifetime","reason_code":1})"));
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
