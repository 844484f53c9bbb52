// SPDX-License-Identifier: GPL-2.0
/*
 * SigIo, the sealed UDP transport of the DC and node roles, end to end on
 * 127.0.0.1: request/response, retransmission, the duplicate cache, replay
 * and authentication drops, NOTICEs for unknown keys, timeouts.
 */
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "ntm/error.hpp"
#include "sigio.hpp"

namespace {

namespace sig = ntm::sig;
using ntmd::Inbound;
using ntmd::KeyState;
using ntmd::SigIo;
using ntmd::SigSession;

asio::ip::udp::socket loopback(asio::io_context &io)
{
	asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
	s.non_blocking(true);
	return s;
}

std::shared_ptr<SigSession> session(std::uint32_t id, const ntm::SecretBytes &key, sig::Direction me,
				    sig::Direction peer)
{
	auto s = std::make_shared<SigSession>();
	s->kind = sig::Kind::dc;
	s->key_id = id;
	s->key = key;
	s->my_dir = me;
	s->peer_dir = peer;
	s->fqdn = "a.ntm.test";
	return s;
}

/* A "DC" and a "node" SigIo sharing K_ntmdc 0x1234. */
class SigIoTest : public ::testing::Test {
protected:
	asio::io_context io;
	asio::ip::udp::socket dsock = loopback(io);
	asio::ip::udp::socket nsock = loopback(io);
	SigIo dc{io, &dsock, nullptr};
	SigIo node{io, &nsock, nullptr};
	ntm::SecretBytes key = sig::random_key();
	std::shared_ptr<SigSession> dc_side = session(0x1234, key, sig::Direction::dc, sig::Direction::node);
	std::shared_ptr<SigSession> node_side = session(0x1234, key, sig::Direction::node, sig::Direction::dc);
	int handled = 0;
	std::uint64_t dc_seq = 100;

	void SetUp() override
	{
		dc.set_key_lookup([this](sig::Kind k, std::uint32_t id) -> std::pair<KeyState, std::shared_ptr<SigSession>> {
			if (k == sig::Kind::dc && id == 0x1234)
				return {KeyState::ok, dc_side};
			if (id == 0x5555)
				return {KeyState::expired, nullptr};
			return {KeyState::unknown, nullptr};
		});
		dc.set_seq_source([this] { return ++dc_seq; });
		dc.set_send_notices(true);
		dc.set_request_handler([this](Inbound in) -> asio::awaitable<void> {
			handled++;
			auto r = sig::make_response(in.msg, sig::Status::ok);
			r.external_ep = in.from;
			dc.respond(in, r);
			co_return;
		});
		node.set_key_lookup([this](sig::Kind, std::uint32_t id) -> std::pair<KeyState, std::shared_ptr<SigSession>> {
			if (id == 0x1234)
				return {KeyState::ok, node_side};
			return {KeyState::unknown, nullptr};
		});
		node.set_rto(std::chrono::milliseconds(50), 3);
		dc.start();
		node.start();
	}

	ntm::Endpoint dc_ep() { return ntmd::to_ntm(dsock.local_endpoint()); }

	/*
	 * A test that failed inside run() leaves coroutines suspended in
	 * dc and node: they must unwind while dc, node and the sockets still
	 * exist, not when io (the first member, destroyed last) drops them.
	 */
	void TearDown() override
	{
		dc.stop();
		node.stop();
		asio::error_code ignored;
		dsock.close(ignored);
		nsock.close(ignored);
		io.restart();
		io.run_for(std::chrono::milliseconds(200));
	}

	/* runs coroutine f to completion (bounded) */
	template <class F> void run(F f)
	{
		struct Outcome {
			bool done = false;
			std::exception_ptr err;
		};
		/* shared: after a timeout the handler may still run, in TearDown */
		auto out = std::make_shared<Outcome>();
		asio::co_spawn(io, f(), [out](const std::exception_ptr &e) {
			out->err = e;
			out->done = true;
		});
		const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		while (!out->done && std::chrono::steady_clock::now() < deadline)
			io.run_for(std::chrono::milliseconds(20));
		ASSERT_TRUE(out->done);
		if (out->err)
			std::rethrow_exception(out->err);
	}

	/*
	 * settle: lets whatever is in flight run for 100 ms, for checks that
	 * nothing (more) happens. On a loaded host the thread may get no CPU
	 * in those 100 ms and run_for then runs nothing: a check that something
	 * did happen waits for it with settle_until instead.
	 */
	void settle() { io.run_for(std::chrono::milliseconds(100)); }

	/* runs the loop until pred() holds, for at most 10 s; returns pred() */
	template <class P> bool settle_until(P pred)
	{
		const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		while (!pred() && std::chrono::steady_clock::now() < deadline)
			io.run_for(std::chrono::milliseconds(10));
		return pred();
	}
};

sig::Message keepalive()
{
	sig::Message m;
	m.type = sig::MsgType::keepalive;
	return m;
}

TEST_F(SigIoTest, RequestResponse)
{
	run([this]() -> asio::awaitable<void> {
		const auto r = co_await node.request(node_side, dc_ep(), keepalive());
		EXPECT_TRUE(r.response);
		EXPECT_EQ(r.status, sig::Status::ok);
		EXPECT_TRUE(r.external_ep); /* (no ASSERT_* in a coroutine: it returns) */
		if (r.external_ep) {
			EXPECT_EQ(*r.external_ep, ntmd::to_ntm(nsock.local_endpoint()));
		}
	});
	EXPECT_EQ(handled, 1);
	EXPECT_EQ(dc.rx_messages(), 1U);
	EXPECT_EQ(dc.drops().replay + dc.drops().auth + dc.drops().malformed, 0U);
}

TEST_F(SigIoTest, RetransmissionIsAnsweredFromTheCacheNotProcessedTwice)
{
	/* the DC handler never answers the first time: the node retransmits */
	int calls = 0;
	std::optional<Inbound> held;
	dc.set_request_handler([&](Inbound in) -> asio::awaitable<void> {
		calls++;
		held = std::move(in);
		co_return;
	});
	bool done = false;
	asio::co_spawn(
		io,
		[&]() -> asio::awaitable<void> {
			const auto r = co_await node.request(node_side, dc_ep(), keepalive());
			EXPECT_EQ(r.status, sig::Status::ok);
			done = true;
		},
		asio::detached);
	io.run_for(std::chrono::milliseconds(400)); /* several retransmissions */
	EXPECT_EQ(calls, 1) << "a retransmission must not reach the handler again";
	ASSERT_TRUE(held);
	dc.respond(*held, sig::make_response(held->msg, sig::Status::ok));
	EXPECT_TRUE(settle_until([&] { return done; }));
	EXPECT_EQ(calls, 1);
}

TEST_F(SigIoTest, TimeoutWhenNobodyAnswers)
{
	dc.set_request_handler([](Inbound) -> asio::awaitable<void> { co_return; });
	try {
		run([this]() -> asio::awaitable<void> { (void)co_await node.request(node_side, dc_ep(), keepalive()); });
		FAIL() << "expected a timeout";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ETIMEDOUT);
		EXPECT_NE(std::string(e.what()).find("no answer"), std::string::npos);
	}
}

TEST_F(SigIoTest, AbandonFailsPendingRequestsUnderTheKeyAtOnce)
{
	/* nobody answers and the retransmissions would go on for 15 s */
	dc.set_request_handler([](Inbound) -> asio::awaitable<void> { co_return; });
	node.set_rto(std::chrono::milliseconds(1000), 3);
	asio::steady_timer later(io);
	later.expires_after(std::chrono::milliseconds(100));
	std::size_t abandoned = 0;
	later.async_wait([&](const asio::error_code &) {
		EXPECT_EQ(node.abandon(sig::Kind::dc, 0x9999), 0U) << "another key's requests are not touched";
		abandoned = node.abandon(sig::Kind::dc, 0x1234);
	});
	const auto t0 = std::chrono::steady_clock::now();
	try {
		run([this]() -> asio::awaitable<void> { (void)co_await node.request(node_side, dc_ep(), keepalive()); });
		FAIL() << "expected the request to be abandoned";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), EKEYREJECTED);
		EXPECT_NE(std::string(e.what()).find("abandoned"), std::string::npos);
	}
	EXPECT_EQ(abandoned, 1U);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
	EXPECT_EQ(node.abandon(sig::Kind::dc, 0x1234), 0U) << "nothing left pending";
}

TEST_F(SigIoTest, HurryResendsNowWithoutUsingAnAttempt)
{
	/*
	 * The DC holds the request; the node may send once (no retransmission)
	 * and waits 2 s. Hurried at 1.5 s, it sends a second copy (the only
	 * way a second copy can exist) and waits 2 s from then.
	 */
	std::optional<Inbound> held;
	int calls = 0;
	dc.set_request_handler([&](Inbound in) -> asio::awaitable<void> {
		calls++;
		held = std::move(in);
		co_return;
	});
	node.set_rto(std::chrono::milliseconds(2000), 0);
	std::size_t hurried = 0;
	std::uint64_t dc_rx_at_answer = 0;
	asio::steady_timer at_1500(io);
	at_1500.expires_after(std::chrono::milliseconds(1500));
	at_1500.async_wait([&](const asio::error_code &) {
		EXPECT_EQ(node.hurry(sig::Kind::dc, 0x9999), 0U) << "another key's requests are not touched";
		hurried = node.hurry(sig::Kind::dc, 0x1234);
		EXPECT_EQ(node.hurry(sig::Kind::dc, 0x1234), 1U) << "a second hurry before the resend counts once";
	});
	/* 0.75 s after the first copy's deadline, 0.75 s before the hurried copy's */
	asio::steady_timer at_2750(io);
	at_2750.expires_after(std::chrono::milliseconds(2750));
	at_2750.async_wait([&](const asio::error_code &) {
		dc_rx_at_answer = dc.rx_messages();
		if (held)
			dc.respond(*held, sig::make_response(held->msg, sig::Status::ok));
	});
	run([this]() -> asio::awaitable<void> {
		const auto r = co_await node.request(node_side, dc_ep(), keepalive());
		EXPECT_EQ(r.status, sig::Status::ok);
	});
	EXPECT_EQ(hurried, 1U);
	EXPECT_EQ(dc_rx_at_answer, 2U) << "one hurried copy, however many hurries before it left";
	EXPECT_EQ(calls, 1) << "the second copy is the same request";
	EXPECT_EQ(node.hurry(sig::Kind::dc, 0x1234), 0U) << "nothing left pending";
}

TEST_F(SigIoTest, HurriesCannotPutOffTheFailureForEver)
{
	/*
	 * Nobody answers and a flapping link hurries every 100 ms, faster than
	 * the first RTO: each hurried copy re-arms the wait, so without a cap
	 * the request would never time out. With 2 retransmissions it may send
	 * 3 copies, so 3 hurries are free; later ones wait for the normal
	 * schedule, which then runs out.
	 */
	dc.set_request_handler([](Inbound) -> asio::awaitable<void> { co_return; });
	node.set_rto(std::chrono::milliseconds(200), 2);
	std::size_t hurried = 0;
	asio::steady_timer flap(io);
	std::function<void(const asio::error_code &)> tick = [&](const asio::error_code &ec) {
		if (ec)
			return;
		hurried += node.hurry(sig::Kind::dc, 0x1234);
		flap.expires_after(std::chrono::milliseconds(100));
		flap.async_wait(tick);
	};
	flap.expires_after(std::chrono::milliseconds(100));
	flap.async_wait(tick);
	const auto t0 = std::chrono::steady_clock::now();
	try {
		run([this]() -> asio::awaitable<void> {
			(void)co_await node.request(node_side, dc_ep(), keepalive());
		});
		FAIL() << "expected a timeout";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ETIMEDOUT);
	}
	flap.cancel();
	settle();
	/* 0.2 + 0.4 + 0.8 s of normal schedule, plus at most 3 x 0.2 s of hurries */
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
	EXPECT_GE(hurried, 3U);
	EXPECT_EQ(dc.rx_messages(), 6U) << "the first copy, 3 hurried ones and 2 retransmissions";
	EXPECT_EQ(node.hurry(sig::Kind::dc, 0x1234), 0U) << "nothing left pending";
}

TEST_F(SigIoTest, ReplayedDatagramIsDropped)
{
	const sig::EnvelopeHeader h{sig::Kind::dc, 0x1234, 7};
	sig::Message m = keepalive();
	m.txid = 99;
	const auto d = sig::seal(h, sig::Direction::node, key.span(), sig::encode(m));
	const auto from = ntmd::to_ntm(nsock.local_endpoint());
	dc.feed(d, from);
	EXPECT_TRUE(settle_until([this] { return handled == 1; }));
	dc.feed(d, from);
	EXPECT_TRUE(settle_until([this] { return dc.drops().replay == 1U; }));
	settle();
	EXPECT_EQ(handled, 1);
	EXPECT_EQ(dc.drops().replay, 1U);
}

TEST_F(SigIoTest, ForgedAndMalformedAreCountedNotProcessed)
{
	const auto from = ntmd::to_ntm(nsock.local_endpoint());
	/* wrong key */
	const auto other = sig::random_key();
	sig::Message m = keepalive();
	m.txid = 5;
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 1}, sig::Direction::node, other.span(), sig::encode(m)), from);
	/* right key, wrong direction (a reflected DC message) */
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 2}, sig::Direction::dc, key.span(), sig::encode(m)), from);
	EXPECT_EQ(dc.drops().auth, 2U);
	/* authenticated garbage body */
	const std::vector<std::uint8_t> junk{1, 2, 3};
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 3}, sig::Direction::node, key.span(), junk), from);
	EXPECT_EQ(dc.drops().malformed, 1U);
	/* header only, random bytes */
	std::vector<std::uint8_t> d(40, 0xab);
	d[0] = d[1] = d[2] = 0;
	d[3] = 0x10;
	dc.feed(d, from);
	settle();
	EXPECT_EQ(handled, 0);
	/* the replay window was not advanced by any of it: seq 1 still works */
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 1}, sig::Direction::node, key.span(), sig::encode(m)), from);
	EXPECT_TRUE(settle_until([this] { return handled == 1; }));
}

TEST_F(SigIoTest, UnknownAndExpiredKeysGetANotice)
{
	std::optional<sig::Notice> got;
	node.set_notice_handler([&](const sig::Notice &n, const ntm::Endpoint &) { got = n; });
	auto stranger = session(0x9999, sig::random_key(), sig::Direction::node, sig::Direction::dc);
	asio::co_spawn(
		io,
		[&]() -> asio::awaitable<void> {
			try {
				(void)co_await node.request(stranger, dc_ep(), keepalive(), 0U);
			} catch (const ntm::Error &) {
			}
		},
		asio::detached);
	ASSERT_TRUE(settle_until([&] { return got.has_value(); }));
	EXPECT_EQ(got->key_id, 0x9999U);
	EXPECT_EQ(got->status, sig::Status::unknown_key);
	EXPECT_GE(dc.drops().unknown_key, 1U);

	got.reset();
	auto old = session(0x5555, sig::random_key(), sig::Direction::node, sig::Direction::dc);
	asio::co_spawn(
		io,
		[&]() -> asio::awaitable<void> {
			try {
				(void)co_await node.request(old, dc_ep(), keepalive(), 0U);
			} catch (const ntm::Error &) {
			}
		},
		asio::detached);
	ASSERT_TRUE(settle_until([&] { return got.has_value(); }));
	EXPECT_EQ(got->status, sig::Status::key_expired);
	EXPECT_EQ(dc.drops().expired_key, 1U);
}

TEST_F(SigIoTest, NoticesAreRateLimited)
{
	const auto from = ntmd::to_ntm(nsock.local_endpoint());
	sig::Message m = keepalive();
	m.txid = 1;
	const auto k = sig::random_key();
	for (std::uint64_t i = 1; i <= 50; i++)
		dc.feed(sig::seal({sig::Kind::dc, 0x7777, i}, sig::Direction::node, k.span(), sig::encode(m)), from);
	EXPECT_EQ(dc.drops().unknown_key, 50U);
	EXPECT_GE(dc.drops().rate, 39U);
}

/*
 * One source flooding unknown KEY_IDs gets its few NOTICEs; another
 * address still gets its own in the same second (D68). Without the
 * per-address limit, the flood uses up the global 10 per second.
 */
TEST_F(SigIoTest, NoticesAreLimitedPerSourceAddress)
{
	dc.set_notice_limit(ntmd::RateSpec::per_minute(12), 64); /* burst 4 per address */
	/* another address: 127.0.0.2 (all of 127/8 is loopback) */
	asio::ip::udp::socket other(io, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.2"), 0));
	other.non_blocking(true);
	const auto flooder = ntmd::to_ntm(nsock.local_endpoint());
	const auto victim = ntmd::to_ntm(other.local_endpoint());
	sig::Message m = keepalive();
	m.txid = 1;
	const auto k = sig::random_key();
	for (std::uint64_t i = 1; i <= 50; i++)
		dc.feed(sig::seal({sig::Kind::dc, 0x7777, i}, sig::Direction::node, k.span(), sig::encode(m)), flooder);
	EXPECT_EQ(dc.drops().rate, 46U);
	dc.feed(sig::seal({sig::Kind::dc, 0x8888, 1}, sig::Direction::node, k.span(), sig::encode(m)), victim);
	EXPECT_EQ(dc.drops().rate, 46U) << "the other address's NOTICE was suppressed";
	std::array<std::uint8_t, 64> buf{};
	asio::error_code ec;
	const auto n = other.receive(asio::buffer(buf), 0, ec);
	ASSERT_FALSE(ec) << ec.message();
	const auto notice = sig::decode_notice({buf.data(), n});
	ASSERT_TRUE(notice);
	EXPECT_EQ(notice->key_id, 0x8888U);
}

/* The admission check refuses before processing; refused requests are counted and not remembered (D68). */
TEST_F(SigIoTest, AdmissionRefusesAndCounts)
{
	ntmd::TokenBuckets<std::uint32_t> per_key(ntmd::RateSpec::per_minute(15), 16); /* burst 5 */
	dc.set_admit([&](const Inbound &in) { return per_key.admit(in.session->key_id, ntmd::LimitClock::time_point{}); });
	const auto from = ntmd::to_ntm(nsock.local_endpoint());
	for (std::uint32_t i = 1; i <= 30; i++) {
		sig::Message m = keepalive();
		m.txid = i;
		dc.feed(sig::seal({sig::Kind::dc, 0x1234, i}, sig::Direction::node, key.span(), sig::encode(m)), from);
	}
	EXPECT_TRUE(settle_until([this] { return handled == 5; }));
	settle();
	EXPECT_EQ(handled, 5);
	EXPECT_EQ(dc.drops().rate_request, 25U);
	EXPECT_EQ(per_key.refused(), 25U);
	/* a refused txid is not remembered: once admitted, it is processed */
	dc.set_admit(nullptr);
	sig::Message m = keepalive();
	m.txid = 30;
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 31}, sig::Direction::node, key.span(), sig::encode(m)), from);
	EXPECT_TRUE(settle_until([this] { return handled == 6; }));
}

TEST_F(SigIoTest, AuthenticatedMalformedRequestIsAnsweredWithItsStatus)
{
	/* a peer with the right key but a newer version: told so, not silently dropped */
	asio::ip::udp::socket probe = loopback(io);
	const auto from = ntmd::to_ntm(probe.local_endpoint());
	const std::vector<std::uint8_t> v2{2, static_cast<std::uint8_t>(sig::MsgType::keepalive), 0, 0, 0, 0, 0, 77};
	dc.feed(sig::seal({sig::Kind::dc, 0x1234, 1}, sig::Direction::node, key.span(), v2), from);
	EXPECT_EQ(dc.drops().malformed, 1U);
	EXPECT_EQ(handled, 0);
	std::vector<std::uint8_t> buf(2048);
	asio::error_code ec;
	std::size_t n = 0;
	for (int i = 0; i < 50 && n == 0; i++) {
		n = probe.receive(asio::buffer(buf), 0, ec);
		if (ec == asio::error::would_block) {
			n = 0;
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
	}
	ASSERT_GT(n, 0U) << ec.message();
	buf.resize(n);
	const auto body = sig::open(buf, sig::Direction::dc, key.span());
	ASSERT_TRUE(body);
	const auto r = sig::decode(*body);
	EXPECT_TRUE(r.response);
	EXPECT_EQ(r.txid, 77U);
	EXPECT_EQ(r.type, sig::MsgType::keepalive);
	EXPECT_EQ(r.status, sig::Status::unsupported_version);
}

TEST_F(SigIoTest, UnsolicitedResponseIsUnexpected)
{
	auto r = sig::make_response(keepalive(), sig::Status::ok);
	r.txid = 42;
	node.feed(sig::seal({sig::Kind::dc, 0x1234, 1}, sig::Direction::dc, key.span(), sig::encode(r)),
		  dc_ep());
	EXPECT_EQ(node.drops().unexpected, 1U);
}

} // namespace
