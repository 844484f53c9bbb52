// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 COOKIEs (ntm/ike_cookie.hpp): what a cookie binds (nonce, SPI,
 * address, source port) and the secret's rotation (current and previous
 * secret accepted, older ones not). Time is passed in.
 */
#include <chrono>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/ike_cookie.hpp"
#include "ntm/parse.hpp"

namespace {

using ntm::ike::Bytes;
using ntm::ike::CookieJar;
using namespace std::chrono_literals;

const Bytes kNi(32, 0x5a);
constexpr std::uint64_t kSpi = 0x0123456789abcdefULL;

ntm::Endpoint ep(const char *addr, std::uint16_t port)
{
	return {ntm::parse_address(addr), port};
}

TEST(IkeCookie, ValidForTheSameRequestOnly)
{
	const auto t0 = CookieJar::Clock::time_point{} + 1000s;
	CookieJar jar(t0);
	const auto peer = ep("192.0.2.1", 500);
	const auto c = jar.make(kNi, peer, kSpi, t0);
	ASSERT_EQ(c.size(), CookieJar::kSize);
	EXPECT_EQ(c, jar.make(kNi, peer, kSpi, t0 + 1s)); /* stateless: the same request, the same cookie */
	EXPECT_TRUE(jar.valid(c, kNi, peer, kSpi, t0 + 5s));
	Bytes ni2 = kNi;
	ni2[0] ^= 1;
	EXPECT_FALSE(jar.valid(c, ni2, peer, kSpi, t0));
	EXPECT_FALSE(jar.valid(c, kNi, peer, kSpi + 1, t0));
	EXPECT_FALSE(jar.valid(c, kNi, ep("192.0.2.2", 500), kSpi, t0));
	Bytes bad = c;
	bad.back() ^= 0x80;
	EXPECT_FALSE(jar.valid(bad, kNi, peer, kSpi, t0));
	EXPECT_FALSE(jar.valid(Bytes(c.begin(), c.end() - 1), kNi, peer, kSpi, t0));
	EXPECT_FALSE(jar.valid({}, kNi, peer, kSpi, t0));
}

TEST(IkeCookie, BindsTheSourcePort)
{
	const auto t0 = CookieJar::Clock::time_point{} + 1000s;
	CookieJar jar(t0);
	const auto c = jar.make(kNi, ep("192.0.2.1", 500), kSpi, t0);
	EXPECT_TRUE(jar.valid(c, kNi, ep("192.0.2.1", 500), kSpi, t0));
	EXPECT_FALSE(jar.valid(c, kNi, ep("192.0.2.1", 4500), kSpi, t0));
	EXPECT_FALSE(jar.valid(c, kNi, ep("192.0.2.1", 501), kSpi, t0));
	EXPECT_NE(c, jar.make(kNi, ep("192.0.2.1", 40000), kSpi, t0));
	const auto c6 = jar.make(kNi, ep("2001:db8::1", 500), kSpi, t0);
	EXPECT_TRUE(jar.valid(c6, kNi, ep("2001:db8::1", 500), kSpi, t0));
	EXPECT_FALSE(jar.valid(c6, kNi, ep("2001:db8::1", 4500), kSpi, t0));
}

TEST(IkeCookie, RotatesPreviousAcceptedOlderNot)
{
	const auto t0 = CookieJar::Clock::time_point{} + 1000s;
	CookieJar jar(t0);
	const auto peer = ep("198.51.100.7", 4500);
	const auto v0 = jar.version(t0);
	const auto c0 = jar.make(kNi, peer, kSpi, t0);
	/* still the same secret just before the period ends */
	EXPECT_EQ(jar.version(t0 + CookieJar::kRotate - 1s), v0);
	EXPECT_EQ(c0, jar.make(kNi, peer, kSpi, t0 + CookieJar::kRotate - 1s));
	/* one rotation: a new secret and version; the old cookie is still good */
	const auto t1 = t0 + CookieJar::kRotate;
	const auto c1 = jar.make(kNi, peer, kSpi, t1);
	EXPECT_NE(c1, c0);
	EXPECT_EQ(c1[0], static_cast<std::uint8_t>(v0 + 1));
	EXPECT_TRUE(jar.valid(c0, kNi, peer, kSpi, t1));
	EXPECT_TRUE(jar.valid(c1, kNi, peer, kSpi, t1));
	/* a second rotation: c0's secret is two behind and refused; c1 still good */
	const auto t2 = t1 + CookieJar::kRotate;
	EXPECT_FALSE(jar.valid(c0, kNi, peer, kSpi, t2));
	EXPECT_TRUE(jar.valid(c1, kNi, peer, kSpi, t2));
	/* a long idle gap replaces both secrets */
	const auto c2 = jar.make(kNi, peer, kSpi, t2);
	EXPECT_FALSE(jar.valid(c2, kNi, peer, kSpi, t2 + 2 * CookieJar::kRotate));
	EXPECT_FALSE(jar.valid(c1, kNi, peer, kSpi, t2 + 2 * CookieJar::kRotate));
}

TEST(IkeCookie, ForgedVersionByteRefused)
{
	const auto t0 = CookieJar::Clock::time_point{} + 1000s;
	CookieJar jar(t0);
	const auto peer = ep("192.0.2.1", 500);
	auto c = jar.make(kNi, peer, kSpi, t0);
	c[0] = static_cast<std::uint8_t>(c[0] + 1);
	EXPECT_FALSE(jar.valid(c, kNi, peer, kSpi, t0));
	/* two jars (two daemons, or a restart) do not share secrets */
	CookieJar other(t0);
	EXPECT_FALSE(other.valid(jar.make(kNi, peer, kSpi, t0), kNi, peer, kSpi, t0));
}

} // namespace
