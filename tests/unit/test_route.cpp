// SPDX-License-Identifier: GPL-2.0
/*
 * The DC's route decision (ntmd/route.cpp): every row of the table in
 * Documentation/protocol/relay.rst, and the choice of a relay.
 */
#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "ntm/parse.hpp"
#include "route.hpp"

using namespace ntmd::route;

namespace {

NodeView node(const char *addr, bool nated, NatMapping m = NatMapping::unknown)
{
	return {.external = ntm::Endpoint(ntm::parse_address(addr), 7480), .nated = nated, .mapping = m};
}

RelayView rs(bool v4, bool v6, std::uint32_t sessions = 0, std::uint32_t capacity = 100, bool up = true)
{
	return {.up = up, .has_v4 = v4, .has_v6 = v6, .sessions = sessions, .capacity = capacity};
}

const std::vector<RelayView> kNone;

} // namespace

TEST(Route, DirectWhenOneSideIsReachable)
{
	const auto pub = node("198.51.100.1", false);
	const auto nat = node("203.0.113.1", true);
	auto d = decide(pub, pub, kNone);
	ASSERT_TRUE(std::holds_alternative<Direct>(d));
	EXPECT_TRUE(std::get<Direct>(d).cn_opens) << "neither NATed: CN opens";
	d = decide(pub, nat, kNone);
	ASSERT_TRUE(std::holds_alternative<Direct>(d));
	EXPECT_TRUE(std::get<Direct>(d).cn_opens) << "CN NATed: CN opens";
	d = decide(nat, pub, kNone);
	ASSERT_TRUE(std::holds_alternative<Direct>(d));
	EXPECT_FALSE(std::get<Direct>(d).cn_opens) << "MN NATed: MN opens";
	/* relays do not change a direct path */
	const std::vector<RelayView> one{rs(true, true)};
	EXPECT_TRUE(std::holds_alternative<Direct>(decide(nat, pub, one)));
}

TEST(Route, BothNatedRelayAndProbe)
{
	const std::vector<RelayView> one{rs(true, false)};
	const auto d = decide(node("203.0.113.1", true), node("203.0.113.2", true), one);
	ASSERT_TRUE(std::holds_alternative<Relayed>(d));
	EXPECT_EQ(std::get<Relayed>(d).relay, 0U);
	EXPECT_TRUE(std::get<Relayed>(d).probe);
}

TEST(Route, PerDestinationMappingStaysRelayed)
{
	const std::vector<RelayView> one{rs(true, false)};
	for (const bool mn_symmetric : {true, false}) {
		const auto mn = node("203.0.113.1", true,
				     mn_symmetric ? NatMapping::per_destination : NatMapping::endpoint_independent);
		const auto cn = node("203.0.113.2", true,
				     mn_symmetric ? NatMapping::unknown : NatMapping::per_destination);
		const auto d = decide(mn, cn, one);
		ASSERT_TRUE(std::holds_alternative<Relayed>(d));
		EXPECT_FALSE(std::get<Relayed>(d).probe);
	}
}

TEST(Route, NoCommonFamilyNeedsADualStackRelay)
{
	const auto v4 = node("198.51.100.1", false);
	const auto v6 = node("2001:db8::1", false);
	const std::vector<RelayView> v4_only{rs(true, false)};
	auto d = decide(v4, v6, v4_only);
	ASSERT_TRUE(std::holds_alternative<NoRoute>(d));
	EXPECT_EQ(std::get<NoRoute>(d).why, "no common address family and no relay serving both families is available");
	const std::vector<RelayView> mixed{rs(true, false), rs(true, true)};
	d = decide(v4, v6, mixed);
	ASSERT_TRUE(std::holds_alternative<Relayed>(d));
	EXPECT_EQ(std::get<Relayed>(d).relay, 1U);
	EXPECT_FALSE(std::get<Relayed>(d).probe) << "no common family: nothing to punch";
	d = decide(v4, v6, kNone);
	ASSERT_TRUE(std::holds_alternative<NoRoute>(d));
	EXPECT_EQ(std::get<NoRoute>(d).why, "no common address family and no relay is configured");
}

TEST(Route, NoRelayConfiguredOrUsable)
{
	const auto a = node("203.0.113.1", true);
	const auto b = node("203.0.113.2", true);
	auto d = decide(a, b, kNone);
	ASSERT_TRUE(std::holds_alternative<NoRoute>(d));
	EXPECT_EQ(std::get<NoRoute>(d).why, "both nodes are behind NATs and no relay is configured");
	const std::vector<RelayView> unusable{rs(true, true, 0, 100, false), rs(true, true, 100, 100),
					      rs(false, true), rs(true, true, 0, 0)};
	d = decide(a, b, unusable);
	ASSERT_TRUE(std::holds_alternative<NoRoute>(d));
	EXPECT_EQ(std::get<NoRoute>(d).why, "both nodes are behind NATs and no relay is available");
}

TEST(Route, LeastLoadedRelativeToCapacityFirstOnTie)
{
	std::vector<RelayView> r{rs(true, true, 50, 100), rs(true, true, 10, 100), rs(true, true, 10, 100)};
	EXPECT_EQ(pick_relay(AF_INET, AF_INET, r), 1U);
	r[0] = rs(true, true, 50, 1000); /* 5 % beats 10 % */
	EXPECT_EQ(pick_relay(AF_INET, AF_INET, r), 0U);
	EXPECT_EQ(pick_relay(AF_INET6, AF_INET, r), 0U);
	r[0].up = false;
	EXPECT_EQ(pick_relay(AF_INET, AF_INET6, r), 1U);
	/* large numbers do not overflow the comparison */
	const std::vector<RelayView> big{rs(true, true, 4000000000U, 4000000001U), rs(true, true, 1, 2)};
	EXPECT_EQ(pick_relay(AF_INET, AF_INET, big), 1U);
}
