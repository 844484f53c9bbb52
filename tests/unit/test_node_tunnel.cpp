// SPDX-License-Identifier: GPL-2.0
/*
 * The liveness and rekey rules of a node's data tunnel (node_tunnel.hpp).
 */
#include <gtest/gtest.h>

#include "node_relay.hpp"
#include "node_tunnel.hpp"

using ntmd::KeyChange;
using ntmd::KeyChangeDue;
using ntmd::TunnelDue;
using ntmd::TunnelObservation;
using ntmd::TunnelPolicy;

namespace {

TunnelObservation fresh(bool opener)
{
	TunnelObservation o;
	o.silent_s = 0.5;
	o.key_age_s = 5;
	o.packets = 100;
	o.opener = opener;
	return o;
}

} // namespace

TEST(TunnelDue, QuietWhileTheKeyIsYoungAndThePeerTalks)
{
	const TunnelPolicy p;
	EXPECT_EQ(ntmd::tunnel_due(p, fresh(true)), TunnelDue::nothing);
	EXPECT_EQ(ntmd::tunnel_due(p, fresh(false)), TunnelDue::nothing);
}

TEST(TunnelDue, ProbesASilentPeerEveryThirdOfTheKeepalive)
{
	const TunnelPolicy p; /* keepalive 10 s: a probe every 3 s */
	auto o = fresh(false);
	o.silent_s = 9.9;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
	o.silent_s = 10;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::probe);
	o.since_probe_s = 2;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
	o.since_probe_s = 3;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::probe);
}

TEST(TunnelDue, DeadAfterTheLimitEvenWhileRekeying)
{
	const TunnelPolicy p;
	auto o = fresh(true);
	o.silent_s = 30;
	o.changing_key = true;
	o.key_age_s = 1e6;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::dead);
}

TEST(TunnelDue, ZeroDisablesProbesAndDeath)
{
	TunnelPolicy p;
	p.keepalive = std::chrono::seconds(0);
	p.dead_after = std::chrono::seconds(0);
	auto o = fresh(false);
	o.silent_s = 1e6;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
}

TEST(TunnelDue, OnlyTheOpenerRekeysByAgeOrPackets)
{
	TunnelPolicy p;
	p.rekey_after = std::chrono::seconds(60);
	p.rekey_packets = 1000;
	auto o = fresh(true);
	o.key_age_s = 60;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::rekey);
	o.key_age_s = 5;
	o.packets = 1000;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::rekey);
	o.opener = false;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
}

TEST(TunnelDue, NoRekeyDuringAChangeNorRightAfterAFailure)
{
	TunnelPolicy p;
	p.rekey_after = std::chrono::seconds(60);
	auto o = fresh(true);
	o.key_age_s = 100;
	o.changing_key = true;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
	o.changing_key = false;
	o.since_rekey_try_s = 9;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
	o.since_rekey_try_s = 10;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::rekey);
	p.rekey_after = std::chrono::seconds(0);
	p.rekey_packets = 0;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::nothing);
}

TEST(TunnelDue, ARekeyWinsOverAProbe)
{
	TunnelPolicy p;
	p.rekey_after = std::chrono::seconds(60);
	auto o = fresh(true);
	o.key_age_s = 61;
	o.silent_s = 15;
	EXPECT_EQ(ntmd::tunnel_due(p, o), TunnelDue::rekey);
}

TEST(TunnelPolicy, DefaultKeyLifetimeIsTwiceTheRekeyTime)
{
	TunnelPolicy p;
	p.rekey_after = std::chrono::seconds(300);
	EXPECT_EQ(p.default_key_lifetime(), 600U);
	p.rekey_after = std::chrono::seconds(0);
	EXPECT_EQ(p.default_key_lifetime(), 0U);
	p.keepalive = std::chrono::seconds(2);
	EXPECT_EQ(p.probe_every(), std::chrono::seconds(1));
}

TEST(KeyChange, OpenerRetiresTheOldKeyAGraceAfterTheFirstPacketUnderTheNew)
{
	const auto t0 = KeyChange::Clock::now();
	KeyChange k;
	k.started = t0;
	k.switched = true;
	EXPECT_EQ(ntmd::key_change_due(k, true, false, t0 + std::chrono::seconds(1)), KeyChangeDue::nothing);
	EXPECT_EQ(ntmd::key_change_due(k, true, true, t0 + std::chrono::seconds(3)), KeyChangeDue::nothing);
	ASSERT_TRUE(k.retire_at);
	EXPECT_EQ(ntmd::key_change_due(k, true, true, t0 + std::chrono::milliseconds(4900)), KeyChangeDue::nothing);
	EXPECT_EQ(ntmd::key_change_due(k, true, true, t0 + std::chrono::seconds(5)), KeyChangeDue::retire_old);
}

TEST(KeyChange, OpenerRetiresAnywayAfterTheTakeoverWait)
{
	const auto t0 = KeyChange::Clock::now();
	KeyChange k;
	k.started = t0;
	k.switched = true;
	EXPECT_EQ(ntmd::key_change_due(k, true, false, t0 + std::chrono::seconds(29)), KeyChangeDue::nothing);
	EXPECT_EQ(ntmd::key_change_due(k, true, false, t0 + std::chrono::seconds(30)), KeyChangeDue::retire_old);
}

TEST(KeyChange, WaiterSwitchesOnRxAndDropsAnUnusedSuccessor)
{
	const auto t0 = KeyChange::Clock::now();
	KeyChange k;
	k.started = t0;
	EXPECT_EQ(ntmd::key_change_due(k, false, true, t0 + std::chrono::seconds(1)), KeyChangeDue::nothing);
	EXPECT_TRUE(k.switched);
	EXPECT_EQ(ntmd::key_change_due(k, false, true, t0 + std::chrono::seconds(3)), KeyChangeDue::retire_old);

	KeyChange unused;
	unused.started = t0;
	EXPECT_EQ(ntmd::key_change_due(unused, false, false, t0 + std::chrono::seconds(29)), KeyChangeDue::nothing);
	EXPECT_EQ(ntmd::key_change_due(unused, false, false, t0 + std::chrono::seconds(30)), KeyChangeDue::abort_new);
	EXPECT_FALSE(unused.switched);
}

TEST(KeyChange, AConfirmedRetirementIsKept)
{
	const auto t0 = KeyChange::Clock::now();
	KeyChange k;
	k.started = t0;
	k.retire_at = t0 + std::chrono::seconds(1); /* the opener's confirmation */
	EXPECT_EQ(ntmd::key_change_due(k, false, false, t0), KeyChangeDue::nothing);
	EXPECT_EQ(ntmd::key_change_due(k, false, false, t0 + std::chrono::seconds(1)), KeyChangeDue::retire_old);
}

/* D54: when a direct path goes back to the relay */
TEST(DirectBroken, OneMissNeverMoves)
{
	EXPECT_FALSE(ntmd::RelayedPath::direct_broken(1, 10, 50, 5.0));
}

TEST(DirectBroken, TwoMissesWhileSendingAndHearingNothing)
{
	EXPECT_TRUE(ntmd::RelayedPath::direct_broken(2, 10, 20, 1.2));
	EXPECT_TRUE(ntmd::RelayedPath::direct_broken(2, 10, 20, std::nullopt));
}

TEST(DirectBroken, TwoMissesAreNotEnoughWhilePacketsArrive)
{
	EXPECT_FALSE(ntmd::RelayedPath::direct_broken(2, 10, 20, 0.3));
	EXPECT_FALSE(ntmd::RelayedPath::direct_broken(3, 10, 20, 0.3));
}

TEST(DirectBroken, TwoMissesAreNotEnoughForAnIdleTunnel)
{
	EXPECT_FALSE(ntmd::RelayedPath::direct_broken(2, 10, 10, 30.0));
	EXPECT_FALSE(ntmd::RelayedPath::direct_broken(3, std::nullopt, 10, 30.0));
}

TEST(DirectBroken, FourMissesMoveWhateverTheKernelSaw)
{
	EXPECT_TRUE(ntmd::RelayedPath::direct_broken(4, 10, 10, 0.1));
	EXPECT_TRUE(ntmd::RelayedPath::direct_broken(4, std::nullopt, std::nullopt, std::nullopt));
}
