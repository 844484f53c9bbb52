// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>

#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/model.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"

TEST(IpAddress, FromBytes)
{
	const std::uint8_t v4[] = {10, 0, 0, 1};
	const auto a = ntm::IpAddress::from_bytes(v4);
	ASSERT_TRUE(a);
	EXPECT_EQ(a->to_string(), "10.0.0.1");
	std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	v6[15] = 1;
	EXPECT_EQ(ntm::IpAddress::from_bytes(v6)->to_string(), "2001:db8::1");
	const std::uint8_t bad[5] = {};
	EXPECT_FALSE(ntm::IpAddress::from_bytes(bad));
	EXPECT_FALSE(ntm::IpAddress::from_bytes({}));
	EXPECT_EQ(ntm::IpAddress().to_string(), "unspecified");
	EXPECT_TRUE(ntm::IpAddress().bytes().empty());
}

TEST(Endpoint, SockaddrRoundTrip)
{
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4500);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	std::uint8_t raw[sizeof(sin)];
	std::memcpy(raw, &sin, sizeof(sin));
	const auto e = ntm::Endpoint::from_sockaddr(raw);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->to_string(), "192.0.2.7:4500");
	EXPECT_EQ(std::memcmp(e->sockaddr_bytes().data(), raw, sizeof(raw)), 0);

	sockaddr_in6 sin6{};
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(1);
	inet_pton(AF_INET6, "2001:db8::2", &sin6.sin6_addr);
	std::uint8_t raw6[sizeof(sin6)];
	std::memcpy(raw6, &sin6, sizeof(sin6));
	const auto e6 = ntm::Endpoint::from_sockaddr(raw6);
	ASSERT_TRUE(e6);
	EXPECT_EQ(e6->to_string(), "[2001:db8::2]:1");
}

TEST(Endpoint, SockaddrRejects)
{
	sockaddr_in sin{};
	sin.sin_family = AF_INET6; /* family does not match the size */
	std::uint8_t raw[sizeof(sin)];
	std::memcpy(raw, &sin, sizeof(sin));
	EXPECT_FALSE(ntm::Endpoint::from_sockaddr(raw));
	EXPECT_FALSE(ntm::Endpoint::from_sockaddr(std::span<const std::uint8_t>(raw, 15)));
	EXPECT_FALSE(ntm::Endpoint::from_sockaddr({}));
	sockaddr_in6 sin6{};
	sin6.sin6_family = AF_INET;
	std::uint8_t raw6[sizeof(sin6)];
	std::memcpy(raw6, &sin6, sizeof(sin6));
	EXPECT_FALSE(ntm::Endpoint::from_sockaddr(raw6));
}

TEST(Endpoint, Equality)
{
	EXPECT_EQ(ntm::parse_endpoint("1.2.3.4:5"), ntm::parse_endpoint("1.2.3.4:5"));
	EXPECT_NE(ntm::parse_endpoint("1.2.3.4:5"), ntm::parse_endpoint("1.2.3.4:6"));
	EXPECT_NE(ntm::parse_endpoint("1.2.3.4:5"), ntm::parse_endpoint("1.2.3.5:5"));
	EXPECT_NE(ntm::parse_endpoint("[::1]:5"), ntm::parse_endpoint("1.2.3.4:5"));
}

TEST(Names, CipherAndReason)
{
	EXPECT_EQ(ntm::cipher_name(NTM_CIPHER_AES_GCM), "aes-gcm");
	EXPECT_EQ(ntm::cipher_name(NTM_CIPHER_CHACHA20_POLY1305), "chacha20-poly1305");
	EXPECT_EQ(ntm::cipher_name(NTM_CIPHER_NONE), "none");
	EXPECT_EQ(ntm::cipher_name(77), "unknown-77");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_LIFETIME), "lifetime");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_COUNTER), "counter");
	EXPECT_EQ(ntm::expire_reason_name(9), "unknown-9");
}

TEST(Stats, Table)
{
	ASSERT_EQ(ntm::kStats.size(), 39U);
	/* 1..17, then the counters appended after NTM_STAT_A_PAD (18) */
	for (std::size_t i = 0; i < ntm::kStats.size(); i++)
		EXPECT_EQ(ntm::kStats[i].attr, static_cast<int>(i) + (i < 17 ? 1 : 2)) << i;
	EXPECT_EQ(ntm::kStats.front().name, "rx_packets");
	EXPECT_EQ(ntm::kStats[16].name, "keepalive_rx");
	EXPECT_EQ(ntm::kStats[17].name, "drop_ts");
	EXPECT_EQ(ntm::kStats[18].name, "dummy_rx");
	EXPECT_EQ(ntm::kStats[19].name, "relay_rx_packets");
	EXPECT_EQ(ntm::kStats[27].name, "relay_expired");
	EXPECT_EQ(ntm::kStats[28].name, "takeover");
	EXPECT_EQ(ntm::kStats[29].name, "event_nomem");
	EXPECT_EQ(ntm::kStats[30].name, "confirmed");
	EXPECT_EQ(ntm::kStats[31].name, "drop_ecn");
	EXPECT_EQ(ntm::kStats[32].name, "tunnel_refused");
	EXPECT_EQ(ntm::kStats[33].name, "roam_event_suppressed");
	EXPECT_EQ(ntm::kStats.back().name, "drop_acquire_timeout");
	EXPECT_EQ(ntm::kStats.back().attr, NTM_STAT_A_MAX);
}

TEST(Stats, GetSetDrops)
{
	ntm::Stats s;
	s.set(NTM_STAT_A_RX_PACKETS, 5);
	s.set(NTM_STAT_A_DROP_AUTH, 2);
	s.set(NTM_STAT_A_DROP_ACQUIRE, 3);
	s.set(NTM_STAT_A_ROAMED, 100);
	s.set(0, 9);		  /* ignored */
	s.set(NTM_STAT_A_PAD, 9); /* ignored */
	EXPECT_EQ(s.get(NTM_STAT_A_RX_PACKETS), 5U);
	EXPECT_EQ(s.get(0), 0U);
	EXPECT_EQ(s.get(NTM_STAT_A_PAD), 0U);
	EXPECT_EQ(s.get(1000), 0U);
	EXPECT_EQ(s.drops(), 5U);
	/* the counters appended after NTM_STAT_A_PAD */
	s.set(NTM_STAT_A_DROP_TS, 4);
	s.set(NTM_STAT_A_DUMMY_RX, 6);
	EXPECT_EQ(s.get(NTM_STAT_A_DROP_TS), 4U);
	EXPECT_EQ(s.get(NTM_STAT_A_DUMMY_RX), 6U);
	EXPECT_EQ(s.drops(), 9U);
	EXPECT_EQ(s.get(NTM_STAT_A_MAX + 1), 0U);
}

TEST(Flags, Strings)
{
	EXPECT_EQ(ntm::device_flags_string(0), "none");
	EXPECT_EQ(ntm::device_flags_string(NTM_DEV_F_NO_ROAMING), "no-roaming");
	EXPECT_EQ(ntm::device_flags_string(NTM_DEV_F_NO_ROAMING | NTM_DEV_F_NO_ACQUIRE), "no-roaming,no-acquire");
	EXPECT_EQ(ntm::device_flags_string(0x10 | NTM_DEV_F_NO_ACQUIRE), "no-acquire,0x10");
	EXPECT_EQ(ntm::tunnel_flags_string(NTM_TUNNEL_F_NO_ROAMING), "no-roaming");
	EXPECT_EQ(ntm::with_flag(0, 4, true), 4U);
	EXPECT_EQ(ntm::with_flag(7, 4, false), 3U);
}

TEST(DeviceRef, Text)
{
	EXPECT_EQ(ntm::DeviceRef::by_name("ntm0").to_string(), "ntm0");
	EXPECT_EQ(ntm::DeviceRef::by_index(7).to_string(), "ifindex 7");
}

TEST(Secret, WipesAndCompares)
{
	ntm::SecretBytes a(4);
	a.data()[0] = 1;
	ntm::SecretBytes b = a;
	EXPECT_TRUE(a == b);
	b.data()[3] = 9;
	EXPECT_FALSE(a == b);
	ntm::SecretBytes c = std::move(b);
	EXPECT_EQ(c.size(), 4U);
	std::string s = "secret";
	ntm::secure_wipe(s);
	EXPECT_TRUE(s.empty());
}

TEST(Names, EncapReasonsSpi)
{
	EXPECT_EQ(ntm::encap_name(NTM_ENCAP_NTM), "ntm");
	EXPECT_EQ(ntm::encap_name(NTM_ENCAP_ESP_UDP), "esp-udp");
	EXPECT_EQ(ntm::encap_name(9), "unknown-9");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_HARD_BYTES), "hard-bytes");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_HARD_PACKETS), "hard-packets");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_SOFT_TIME), "soft-time");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_SOFT_BYTES), "soft-bytes");
	EXPECT_EQ(ntm::expire_reason_name(NTM_EXPIRE_SOFT_PACKETS), "soft-packets");
	EXPECT_EQ(ntm::expire_reason_name(0), "unknown-0");
	EXPECT_EQ(ntm::expire_reason_name(19), "unknown-19");
	for (const auto r : {NTM_EXPIRE_LIFETIME, NTM_EXPIRE_COUNTER, NTM_EXPIRE_HARD_BYTES, NTM_EXPIRE_HARD_PACKETS})
		EXPECT_FALSE(ntm::expire_reason_is_soft(r)) << r;
	for (const auto r : {NTM_EXPIRE_SOFT_TIME, NTM_EXPIRE_SOFT_BYTES, NTM_EXPIRE_SOFT_PACKETS})
		EXPECT_TRUE(ntm::expire_reason_is_soft(r)) << r;
	EXPECT_TRUE((ntm::ExpiredEvent{1, 2, 3, NTM_EXPIRE_SOFT_BYTES}.soft()));
	EXPECT_FALSE((ntm::ExpiredEvent{1, 2, 3, NTM_EXPIRE_HARD_BYTES}.soft()));
	EXPECT_EQ(ntm::spi_string(0x1000), "0x00001000");
	EXPECT_EQ(ntm::spi_string(0xdeadbeef), "0xdeadbeef");
}

TEST(Prefix, ValidContainsMasked)
{
	const ntm::Prefix p{ntm::parse_ipv4("10.2.0.0"), 16};
	EXPECT_TRUE(p.valid());
	EXPECT_EQ(p.to_string(), "10.2.0.0/16");
	EXPECT_TRUE(p.contains(ntm::parse_ipv4("10.2.255.1")));
	EXPECT_FALSE(p.contains(ntm::parse_ipv4("10.3.0.1")));
	EXPECT_FALSE(p.contains(ntm::parse_ipv6("::a02:1")));
	EXPECT_FALSE((ntm::Prefix{ntm::parse_ipv4("10.2.0.1"), 16}.valid()));
	EXPECT_FALSE((ntm::Prefix{ntm::parse_ipv4("10.2.0.0"), 33}.valid()));
	EXPECT_FALSE(ntm::Prefix{}.valid());
	EXPECT_FALSE(ntm::Prefix{}.contains(ntm::parse_ipv4("10.2.0.0")));
	EXPECT_EQ((ntm::Prefix{ntm::parse_ipv4("10.2.3.4"), 15}.masked().to_string()), "10.2.0.0/15");
	EXPECT_EQ((ntm::Prefix{ntm::parse_ipv4("10.2.3.4"), 40}.masked().to_string()), "10.2.3.4/32");
	const ntm::Prefix all{ntm::parse_ipv4("0.0.0.0"), 0};
	EXPECT_TRUE(all.valid());
	EXPECT_TRUE(all.contains(ntm::parse_ipv4("255.255.255.255")));
	const ntm::Prefix v6{ntm::parse_ipv6("fd00:2::"), 63};
	EXPECT_TRUE(v6.valid());
	EXPECT_TRUE(v6.contains(ntm::parse_ipv6("fd00:2:0:1::9")));
	EXPECT_FALSE(v6.contains(ntm::parse_ipv6("fd00:2:0:2::")));
	EXPECT_FALSE((ntm::Prefix{ntm::parse_ipv6("fd00::1"), 127}.valid()));
	EXPECT_TRUE((ntm::Prefix{ntm::parse_ipv6("fd00::1"), 128}.valid()));
	/* sig::Prefix is the same type (pools of the signalling) */
	EXPECT_EQ(p, (ntm::Prefix{ntm::parse_ipv4("10.2.0.0"), 16}));
	EXPECT_NE(p, (ntm::Prefix{ntm::parse_ipv4("10.2.0.0"), 17}));
}

TEST(Prefix, Uapi)
{
	static_assert(sizeof(ntm_prefix) == 20);
	auto bytes = [](const ntm_prefix &u) {
		std::vector<std::uint8_t> b(sizeof(u));
		std::memcpy(b.data(), &u, sizeof(u));
		return b;
	};
	const ntm::Prefix p{ntm::parse_ipv4("10.2.0.0"), 16};
	const ntm_prefix u = p.to_uapi();
	EXPECT_EQ(u.family, AF_INET);
	EXPECT_EQ(u.prefixlen, 16);
	EXPECT_EQ(u.reserved[0] | u.reserved[1], 0);
	EXPECT_EQ(u.addr[0], 10);
	EXPECT_EQ(u.addr[1], 2);
	for (std::size_t i = 4; i < 16; i++)
		EXPECT_EQ(u.addr[i], 0) << i;
	EXPECT_EQ(ntm::Prefix::from_uapi(bytes(u)), p);

	const ntm::Prefix p6{ntm::parse_ipv6("fd00:2::"), 64};
	EXPECT_EQ(ntm::Prefix::from_uapi(bytes(p6.to_uapi())), p6);

	auto b = bytes(u);
	EXPECT_FALSE(ntm::Prefix::from_uapi(std::span<const std::uint8_t>(b).first(19)));
	b.push_back(0);
	EXPECT_FALSE(ntm::Prefix::from_uapi(b));
	ntm_prefix bad = u;
	bad.family = 99;
	EXPECT_FALSE(ntm::Prefix::from_uapi(bytes(bad)));
	bad = u;
	bad.prefixlen = 33;
	EXPECT_FALSE(ntm::Prefix::from_uapi(bytes(bad)));
	bad = u;
	bad.addr[3] = 1; /* host bits */
	EXPECT_FALSE(ntm::Prefix::from_uapi(bytes(bad)));
	bad = u;
	bad.addr[8] = 1; /* beyond an IPv4 address: ignored */
	bad.reserved[0] = 1;
	EXPECT_EQ(ntm::Prefix::from_uapi(bytes(bad)), p);
}
