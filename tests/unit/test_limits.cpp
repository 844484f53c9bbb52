// SPDX-License-Identifier: GPL-2.0
/*
 * The admission tables of the signalling servers (limits.hpp, D68-D71),
 * driven by an injected clock: token buckets, their size bound, the
 * unknown-KEY_ID cache, the failed-login throttle and the node's re-login
 * guard.
 */
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "limits.hpp"

namespace {

using namespace std::chrono_literals;
using ntmd::FailureThrottle;
using ntmd::LimitClock;
using ntmd::NegativeCache;
using ntmd::RateSpec;
using ntmd::ReloginGuard;
using ntmd::TokenBuckets;

const LimitClock::time_point t0 = LimitClock::time_point{} + 1000h;

TEST(Limits, BucketAdmitsTheBurstThenTheRate)
{
	TokenBuckets<std::uint32_t> b(RateSpec::per_minute(60), 16); /* 1/s, burst 20 */
	int ok = 0;
	for (int i = 0; i < 100; i++)
		ok += b.admit(7, t0) ? 1 : 0;
	EXPECT_EQ(ok, 20);
	EXPECT_EQ(b.refused(), 80U);
	/* another key has its own bucket */
	EXPECT_TRUE(b.admit(8, t0));
	/* 5 s later: 5 more tokens, not more */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += b.admit(7, t0 + 5s) ? 1 : 0;
	EXPECT_EQ(ok, 5);
	/* refills up to the burst only */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += b.admit(7, t0 + 1h) ? 1 : 0;
	EXPECT_EQ(ok, 20);
}

TEST(Limits, ZeroRateAdmitsEverything)
{
	TokenBuckets<std::uint32_t> b(RateSpec::per_minute(0), 16);
	for (int i = 0; i < 1000; i++)
		ASSERT_TRUE(b.admit(1, t0));
	EXPECT_EQ(b.refused(), 0U);
	EXPECT_EQ(b.size(), 0U);
}

/* A flood of new keys cannot grow a table past its size: the oldest go. */
TEST(Limits, BucketTableIsBoundedAndEvictsTheOldest)
{
	TokenBuckets<std::uint32_t> b(RateSpec::per_minute(3), 100); /* burst 1 */
	for (std::uint32_t k = 0; k < 100000; k++)
		(void)b.admit(k, t0);
	EXPECT_EQ(b.size(), 100U);
	EXPECT_EQ(b.evicted(), 99900U);
	/* the most recent key keeps its (empty) bucket; an evicted one starts full */
	EXPECT_FALSE(b.admit(99999, t0));
	EXPECT_TRUE(b.admit(0, t0));
}

TEST(Limits, RecentlyUsedKeySurvivesEviction)
{
	TokenBuckets<std::uint32_t> b(RateSpec::per_minute(3), 3);
	ASSERT_TRUE(b.admit(1, t0));
	(void)b.admit(2, t0);
	(void)b.admit(3, t0);
	EXPECT_FALSE(b.admit(1, t0)); /* used again: now the newest */
	(void)b.admit(4, t0);	      /* evicts 2, not 1 */
	EXPECT_FALSE(b.admit(1, t0));
	EXPECT_TRUE(b.admit(2, t0));
}

TEST(Limits, NegativeCacheHitsExpireAndAreForgotten)
{
	NegativeCache<std::uint32_t> c(10s, 1000);
	EXPECT_FALSE(c.missing(5, t0));
	c.remember(5, t0);
	EXPECT_TRUE(c.missing(5, t0 + 1s));
	EXPECT_TRUE(c.missing(5, t0 + 9s));
	EXPECT_EQ(c.hits(), 2U);
	EXPECT_FALSE(c.missing(5, t0 + 10s)); /* expired: ask the registry again */
	EXPECT_EQ(c.size(), 0U);
	c.remember(6, t0);
	c.forget(6); /* the key was added */
	EXPECT_FALSE(c.missing(6, t0 + 1s));
}

TEST(Limits, NegativeCacheIsBounded)
{
	NegativeCache<std::uint32_t> c(10s, 64);
	for (std::uint32_t k = 0; k < 10000; k++)
		c.remember(k, t0);
	EXPECT_EQ(c.size(), 64U);
	EXPECT_TRUE(c.missing(9999, t0));
	EXPECT_FALSE(c.missing(0, t0));
}

TEST(Limits, FailureThrottleBacksOffAndSuccessClears)
{
	FailureThrottle<std::string> f({3, 1s, 60s}, 100);
	for (int i = 0; i < 2; i++)
		f.failed("a", t0);
	EXPECT_EQ(f.wait("a", t0), LimitClock::duration::zero()); /* two free failures */
	f.failed("a", t0);
	EXPECT_EQ(f.wait("a", t0), 1s);
	f.failed("a", t0 + 1s);
	EXPECT_EQ(f.wait("a", t0 + 1s), 2s);
	f.failed("a", t0 + 3s);
	EXPECT_EQ(f.wait("a", t0 + 3s), 4s);
	for (int i = 0; i < 30; i++)
		f.failed("a", t0 + 10s);
	EXPECT_EQ(f.wait("a", t0 + 10s), 60s); /* capped */
	EXPECT_EQ(f.wait("a", t0 + 70s), LimitClock::duration::zero());
	EXPECT_EQ(f.wait("b", t0), LimitClock::duration::zero());
	f.succeeded("a");
	f.failed("a", t0 + 71s);
	EXPECT_EQ(f.wait("a", t0 + 71s), LimitClock::duration::zero());
}

TEST(Limits, FailureThrottleIsBounded)
{
	FailureThrottle<std::string> f({1, 1s, 60s}, 50);
	for (int i = 0; i < 5000; i++)
		f.failed("user" + std::to_string(i), t0);
	EXPECT_EQ(f.size(), 50U);
}

TEST(Limits, ReloginAfterUnansweredRegistrations)
{
	ReloginGuard g(2, 60s);
	EXPECT_FALSE(g.no_answer());
	g.answered();
	EXPECT_FALSE(g.no_answer());
	EXPECT_TRUE(g.no_answer());
	g.logged_in(t0);
	EXPECT_FALSE(g.no_answer());
}

/* Spoofed NOTICEs: one login per minute, the rest counted and ignored. */
TEST(Limits, NoticeTriggeredLoginsAreLimited)
{
	ReloginGuard g(2, 60s);
	EXPECT_TRUE(g.notice(t0)); /* never logged in through one yet */
	g.logged_in(t0);
	int logins = 0;
	for (int s = 1; s <= 600; s++) { /* a NOTICE a second for 10 minutes */
		const auto now = t0 + std::chrono::seconds(s);
		if (g.notice(now)) {
			logins++;
			g.logged_in(now);
		}
	}
	EXPECT_EQ(logins, 10);
	EXPECT_EQ(g.suppressed(), 590U);
}

} // namespace
