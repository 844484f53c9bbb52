// SPDX-License-Identifier: GPL-2.0
/*
 * The Relay Server's signalling engine (ntmd/relay_engine.cpp) against a
 * fake kernel: DC orders, Relay Binds, forwarding between bound legs, the
 * kernel session created before the opener can send data, leg moves,
 * rekeys, and every refusal counted.
 */
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/parse.hpp"
#include "ntm/sig.hpp"
#include "relay_engine.hpp"

namespace sig = ntm::sig;
using ntmd::RelayEngine;
using ntmd::RelayLeg;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

namespace {

ntm::Endpoint ep(const char *a, std::uint16_t port)
{
	return {ntm::parse_address(a), port};
}

struct FakeKernel : ntmd::RelayKernel {
	struct Session {
		RelayLeg a, b;
	};
	std::map<std::uint32_t, Session> sessions;
	std::vector<std::string> log;
	bool fail = false;

	void add(std::uint32_t id, const RelayLeg &a, const RelayLeg &b) override
	{
		if (fail)
			throw std::runtime_error("EEXIST");
		sessions[id] = {a, b};
		log.push_back("add " + std::to_string(id));
	}
	void move(std::uint32_t id, unsigned leg, const ntm::Endpoint &to) override
	{
		auto &s = sessions.at(id);
		(leg == 0 ? s.a : s.b).endpoint = to;
		log.push_back("move " + std::to_string(id) + " " + std::to_string(leg) + " " + to.to_string());
	}
	void remove(std::uint32_t id) noexcept override
	{
		sessions.erase(id);
		log.push_back("remove " + std::to_string(id));
	}
};

struct Sent {
	ntm::Endpoint to;
	Bytes datagram;
};

constexpr std::uint32_t kComm = 0xc0ffee;
const ntm::Endpoint kRs4 = ep("198.51.100.5", 7480);
const ntm::Endpoint kRs6 = ep("2001:db8::5", 7480);
const ntm::Endpoint kOpener = ep("203.0.113.1", 40001);
const ntm::Endpoint kWaiter = ep("203.0.113.2", 40002);

class RelayEngineTest : public ::testing::Test {
protected:
	FakeKernel kernel;
	std::vector<Sent> sent;
	RelayEngine rs{kernel, [this](const ntm::Endpoint &to, std::span<const std::uint8_t> d) {
			       sent.push_back({to, Bytes(d.begin(), d.end())});
		       },
		       {kRs4, kRs6}, 2, 30s};
	ntm::SecretBytes k_tun = sig::random_key();
	RelayEngine::Clock::time_point t0 = RelayEngine::Clock::now();
	std::uint64_t seq_opener = 0;
	std::uint64_t seq_waiter = 0;
	std::uint32_t txid = 100;

	sig::Message direction(std::uint32_t comm = kComm, const ntm::Endpoint &waiter = kWaiter)
	{
		sig::Message m;
		m.type = sig::MsgType::relay_direction;
		m.txid = ++txid;
		m.comm_id = comm;
		m.k_tun = k_tun;
		m.lifetime = 3600;
		m.fqdn = "a.ntm.test";
		m.peer_fqdn = "b.ntm.test";
		m.external_ep = kOpener;
		m.peer_ep = waiter;
		sig::validate(m);
		return m;
	}

	Bytes seal(bool opener, const sig::Message &m, std::uint32_t comm = kComm)
	{
		const sig::EnvelopeHeader h{sig::Kind::tun, comm, opener ? ++seq_opener : ++seq_waiter};
		return sig::seal(h, opener ? sig::Direction::opener : sig::Direction::waiter, k_tun.span(),
				 sig::encode(m));
	}

	Bytes bind(bool opener, std::optional<sig::Leg> leg = std::nullopt)
	{
		sig::Message m;
		m.type = sig::MsgType::relay_bind;
		m.txid = ++txid;
		m.leg = leg.value_or(opener ? sig::Leg::opener : sig::Leg::waiter);
		return seal(opener, m);
	}

	Bytes tunnel_request(std::uint32_t index)
	{
		sig::Message m;
		m.type = sig::MsgType::tunnel;
		m.txid = ++txid;
		m.fqdn = "a.ntm.test";
		m.index = index;
		m.cipher = 2;
		m.vip4 = ntm::parse_address("10.77.0.1");
		/* the relay does not look inside the key exchange: any authentic request is forwarded */
		m.generation = 0;
		m.ephemeral = Bytes(sig::kEphemeralLen, 1);
		m.auth = Bytes(sig::kAuthLen, 3);
		return seal(true, m);
	}

	Bytes tunnel_response(std::uint32_t index, sig::Status st = sig::Status::ok)
	{
		sig::Message m;
		m.type = sig::MsgType::tunnel;
		m.response = true;
		m.txid = ++txid;
		m.status = st;
		if (st == sig::Status::ok) {
			m.index = index;
			m.ephemeral = Bytes(sig::kEphemeralLen, 4);
			m.auth = Bytes(sig::kAuthLen, 5);
			m.confirm = Bytes(sig::kConfirmLen, 2);
		}
		return seal(false, m);
	}

	/* the Relay Bind Ack sent to a node: opened with the relay's direction toward it */
	sig::Message open_ack(const Sent &s, bool opener)
	{
		const auto body =
			sig::open(s.datagram, opener ? sig::Direction::rs_to_opener : sig::Direction::rs_to_waiter,
				  k_tun.span());
		EXPECT_TRUE(body);
		if (!body)
			return {};
		auto m = sig::decode(*body);
		sig::validate(m);
		return m;
	}

	void bound_pair()
	{
		ASSERT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
		rs.on_datagram(bind(true), kOpener, t0);
		rs.on_datagram(bind(false), kWaiter, t0);
		ASSERT_EQ(sent.size(), 2U);
		sent.clear();
	}
};

} // namespace

TEST_F(RelayEngineTest, DirectionAckNamesTheRelayEndpointsOfBothFamilies)
{
	auto ack = rs.on_relay_direction(direction(), t0);
	EXPECT_EQ(ack.status, sig::Status::ok);
	ASSERT_EQ(ack.relay_eps.size(), 1U);
	EXPECT_EQ(ack.relay_eps[0], kRs4);
	sig::validate(ack);
	/* mixed legs: one endpoint of each family */
	ack = rs.on_relay_direction(direction(7, ep("2001:db8::2", 7480)), t0);
	ASSERT_EQ(ack.relay_eps.size(), 2U);
	EXPECT_EQ(ack.relay_eps[1], kRs6);
	/* the same order again is answered again; capacity 2 is reached */
	EXPECT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
	EXPECT_EQ(rs.on_relay_direction(direction(8), t0).status, sig::Status::no_route);
	EXPECT_EQ(rs.communications(), 2U);
	/* another key under a used COMM_ID is refused */
	k_tun = sig::random_key();
	EXPECT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::internal);
}

TEST_F(RelayEngineTest, RelayWithoutTheFamilyRefuses)
{
	FakeKernel k;
	RelayEngine v4only(k, [](const ntm::Endpoint &, std::span<const std::uint8_t>) {}, {kRs4}, 10);
	const auto ack = v4only.on_relay_direction(direction(kComm, ep("2001:db8::2", 7480)), t0);
	EXPECT_EQ(ack.status, sig::Status::no_route);
	EXPECT_EQ(ack.error_text, "relay has no IPv6 address");
	EXPECT_EQ(v4only.communications(), 0U);
}

TEST_F(RelayEngineTest, BindIsAnsweredWithTheObservedEndpoint)
{
	ASSERT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
	rs.on_datagram(bind(true), kOpener, t0);
	ASSERT_EQ(sent.size(), 1U);
	EXPECT_EQ(sent[0].to, kOpener);
	const auto ack = open_ack(sent[0], true);
	EXPECT_TRUE(ack.response);
	EXPECT_EQ(ack.observed_ep, kOpener);
	/* the ack does not open under a node's own direction: no nonce is shared with the peer */
	EXPECT_FALSE(sig::open(sent[0].datagram, sig::Direction::waiter, k_tun.span()));
	EXPECT_FALSE(sig::open(sent[0].datagram, sig::Direction::opener, k_tun.span()));
}

TEST_F(RelayEngineTest, TunnelExchangeIsForwardedAndTheSessionExistsBeforeTheOpenerLearnsOfIt)
{
	ASSERT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
	rs.on_datagram(bind(true), kOpener, t0);
	sent.clear();
	/* the waiter has not bound yet: nothing to forward to */
	const auto early = tunnel_request(0x1111);
	rs.on_datagram(early, kOpener, t0);
	EXPECT_TRUE(sent.empty());
	EXPECT_EQ(rs.drops().peer_unbound, 1U);

	rs.on_datagram(bind(false), kWaiter, t0);
	sent.clear();
	const auto req = tunnel_request(0x1111);
	rs.on_datagram(req, kOpener, t0);
	ASSERT_EQ(sent.size(), 1U);
	EXPECT_EQ(sent[0].to, kWaiter);
	EXPECT_EQ(sent[0].datagram, req) << "forwarded byte for byte";
	EXPECT_TRUE(kernel.sessions.empty());

	const auto resp = tunnel_response(0x2222);
	rs.on_datagram(resp, kWaiter, t0);
	ASSERT_EQ(sent.size(), 2U);
	EXPECT_EQ(sent[1].to, kOpener);
	EXPECT_EQ(sent[1].datagram, resp);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	const auto &s = kernel.sessions.begin()->second;
	EXPECT_EQ(s.a.endpoint, kOpener);
	EXPECT_EQ(s.a.index, 0x1111U);
	EXPECT_EQ(s.b.endpoint, kWaiter);
	EXPECT_EQ(s.b.index, 0x2222U);
	EXPECT_EQ(kernel.log.back(), "add 1");

	/* a retransmitted response does not create a second session */
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	EXPECT_EQ(kernel.sessions.size(), 1U);
	EXPECT_EQ(rs.kernel_sessions(), 1U);
}

TEST_F(RelayEngineTest, RefusalsAreCountedAndChangeNothing)
{
	bound_pair();
	/* forged: another key */
	const auto good = k_tun;
	k_tun = sig::random_key();
	rs.on_datagram(tunnel_request(1), kOpener, t0);
	EXPECT_EQ(rs.drops().auth, 1U);
	k_tun = good;
	/* replayed */
	const auto req = tunnel_request(1);
	rs.on_datagram(req, kOpener, t0);
	rs.on_datagram(req, kOpener, t0);
	EXPECT_EQ(rs.drops().replay, 1U);
	EXPECT_EQ(sent.size(), 1U);
	/* authentic, but from an address that is not the opener's bound leg */
	rs.on_datagram(tunnel_request(1), ep("192.0.2.66", 40001), t0);
	EXPECT_EQ(rs.drops().unbound, 1U);
	/* a bind for the other node's leg */
	rs.on_datagram(bind(true, sig::Leg::waiter), ep("192.0.2.66", 1), t0);
	EXPECT_EQ(rs.drops().wrong_leg, 1U);
	/* unknown communication, not an envelope, an authentic bind ack from a node */
	sig::Message stray;
	stray.type = sig::MsgType::relay_bind;
	stray.txid = 1;
	stray.leg = sig::Leg::opener;
	rs.on_datagram(seal(true, stray, 99), kOpener, t0);
	EXPECT_EQ(rs.drops().unknown, 1U);
	rs.on_datagram(Bytes{1, 2, 3, 4, 5}, kOpener, t0);
	rs.on_datagram(Bytes{0xff}, kOpener, t0); /* NAT keepalive: not a drop */
	EXPECT_EQ(rs.drops().malformed, 1U);
	sig::Message fake_ack;
	fake_ack.type = sig::MsgType::relay_bind;
	fake_ack.response = true;
	fake_ack.txid = 5;
	fake_ack.status = sig::Status::ok;
	fake_ack.observed_ep = kOpener;
	rs.on_datagram(seal(false, fake_ack), kWaiter, t0);
	EXPECT_EQ(rs.drops().malformed, 2U);
	EXPECT_EQ(sent.size(), 1U) << "nothing else answered or forwarded";
	EXPECT_TRUE(kernel.sessions.empty());
}

TEST_F(RelayEngineTest, ALegMovesOnlyWithAnAuthenticBind)
{
	bound_pair();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	const std::uint32_t id = kernel.sessions.begin()->first;
	const auto moved = ep("203.0.113.77", 50000);
	/* data-plane spoofing is the kernel's business; here a forged bind from the new address */
	const auto good = k_tun;
	k_tun = sig::random_key();
	rs.on_datagram(bind(false), moved, t0);
	k_tun = good;
	EXPECT_EQ(kernel.sessions.at(id).b.endpoint, kWaiter);
	rs.on_datagram(bind(false), moved, t0);
	EXPECT_EQ(kernel.sessions.at(id).b.endpoint, moved);
	EXPECT_EQ(kernel.log.back(), "move " + std::to_string(id) + " 1 " + moved.to_string());
	/* forwarding follows the new address */
	sent.clear();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	ASSERT_EQ(sent.size(), 1U);
	EXPECT_EQ(sent[0].to, moved);
}

TEST_F(RelayEngineTest, AReplayedBindFromAnotherAddressMovesNothing)
{
	bound_pair();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	const std::uint32_t id = kernel.sessions.begin()->first;
	const auto captured = bind(false);
	rs.on_datagram(captured, kWaiter, t0);
	sent.clear();
	/* the same authentic datagram from an attacker's address, and from the waiter's own */
	rs.on_datagram(captured, ep("192.0.2.66", 7480), t0);
	rs.on_datagram(captured, kWaiter, t0);
	EXPECT_EQ(rs.drops().replay, 2U);
	EXPECT_EQ(kernel.sessions.at(id).b.endpoint, kWaiter);
	EXPECT_TRUE(sent.empty()) << "a replay is not answered";
	/* an older one than the window is refused too */
	const auto old = bind(false);
	for (int i = 0; i < 70; i++)
		rs.on_datagram(bind(false), kWaiter, t0);
	sent.clear();
	rs.on_datagram(old, ep("192.0.2.66", 7480), t0);
	EXPECT_EQ(rs.drops().replay, 3U);
	EXPECT_EQ(kernel.sessions.at(id).b.endpoint, kWaiter);
	EXPECT_TRUE(sent.empty());
}

TEST_F(RelayEngineTest, ABindRestoresASessionTheKernelRemovedForIdleness)
{
	bound_pair();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	/* idle (the tunnel went direct or was quiet): the next bind creates it again, same indexes */
	const std::uint32_t id = kernel.sessions.begin()->first;
	kernel.sessions.clear();
	rs.kernel_session_gone(id, true);
	EXPECT_EQ(rs.kernel_sessions(), 0U);
	const auto moved = ep("203.0.113.9", 41000);
	rs.on_datagram(bind(true), moved, t0);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	const auto &s = kernel.sessions.begin()->second;
	EXPECT_EQ(s.a.endpoint, moved);
	EXPECT_EQ(s.a.index, 0x1111U);
	EXPECT_EQ(s.b.endpoint, kWaiter);
	EXPECT_EQ(s.b.index, 0x2222U);
	EXPECT_EQ(rs.status()["sessions_restored"], 1);
	/* further binds do not add more */
	rs.on_datagram(bind(false), kWaiter, t0);
	EXPECT_EQ(kernel.sessions.size(), 1U);
	/* a limit: no session until new indexes are exchanged */
	const std::uint32_t id2 = kernel.sessions.begin()->first;
	kernel.sessions.clear();
	rs.kernel_session_gone(id2, false);
	rs.on_datagram(bind(true), moved, t0);
	rs.on_datagram(bind(false), kWaiter, t0);
	EXPECT_TRUE(kernel.sessions.empty());
}

TEST_F(RelayEngineTest, RekeyAddsASessionAndRetiresTheOldOneAfterTheGrace)
{
	bound_pair();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	rs.on_datagram(tunnel_request(0x3333), kOpener, t0 + 100s);
	rs.on_datagram(tunnel_response(0x4444), kWaiter, t0 + 100s);
	ASSERT_EQ(kernel.sessions.size(), 2U) << "make before break";
	rs.expire(t0 + 129s);
	EXPECT_EQ(kernel.sessions.size(), 2U);
	rs.expire(t0 + 131s);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	EXPECT_EQ(kernel.sessions.begin()->second.a.index, 0x3333U);
	EXPECT_EQ(rs.kernel_sessions(), 1U);
}

TEST_F(RelayEngineTest, ReleaseLifetimeAndKernelEvents)
{
	bound_pair();
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	ASSERT_EQ(kernel.sessions.size(), 1U);
	/* the kernel removed it (limit): the next exchange creates a new one */
	rs.kernel_session_gone(kernel.sessions.begin()->first, false);
	kernel.sessions.clear();
	EXPECT_EQ(rs.kernel_sessions(), 0U);
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	EXPECT_EQ(kernel.sessions.size(), 1U);

	sig::Message rel;
	rel.type = sig::MsgType::relay_release;
	rel.txid = 9;
	rel.comm_id = kComm;
	EXPECT_EQ(rs.on_relay_release(rel).status, sig::Status::ok);
	EXPECT_TRUE(kernel.sessions.empty());
	EXPECT_EQ(rs.communications(), 0U);
	EXPECT_EQ(rs.on_relay_release(rel).status, sig::Status::not_found);

	ASSERT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
	rs.expire(t0 + 3599s);
	EXPECT_EQ(rs.communications(), 1U);
	rs.expire(t0 + 3600s);
	EXPECT_EQ(rs.communications(), 0U);
}

TEST_F(RelayEngineTest, KernelFailureIsCounted)
{
	bound_pair();
	kernel.fail = true;
	rs.on_datagram(tunnel_request(0x1111), kOpener, t0);
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	EXPECT_EQ(rs.drops().kernel, 1U);
	EXPECT_EQ(rs.kernel_sessions(), 0U);
	kernel.fail = false;
	rs.on_datagram(tunnel_response(0x2222), kWaiter, t0);
	EXPECT_EQ(rs.kernel_sessions(), 1U) << "the retransmitted response tries again";
}

TEST_F(RelayEngineTest, KeySharingReportsTheLoad)
{
	ASSERT_EQ(rs.on_relay_direction(direction(), t0).status, sig::Status::ok);
	sig::Message ks;
	ks.type = sig::MsgType::key_sharing;
	ks.txid = 3;
	ks.fqdn = "dc.infra.test";
	const auto ack = rs.key_sharing_ack(ks);
	sig::validate(ack);
	EXPECT_EQ(ack.relay_eps.size(), 2U);
	EXPECT_EQ(ack.sessions, 1U);
	EXPECT_EQ(ack.capacity, 2U);
	const auto j = rs.status();
	EXPECT_EQ(j["communications"], 1);
	EXPECT_EQ(rs.list().size(), 1U);
}
