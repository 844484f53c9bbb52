// SPDX-License-Identifier: GPL-2.0
/*
 * Group commit (D109): SigIo feeds the datagrams queued on a socket as one
 * batch, the DC's receive marks go into one SQLite transaction, and no
 * answer leaves before that transaction is committed. A second connection
 * to the database file sees only what was committed: it stands in for the
 * DC after a crash.
 */
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "ntm/store.hpp"
#include "sigio.hpp"
#include "temp_dir.hpp"

namespace {

namespace sig = ntm::sig;
using ntm::store::NodeKey;
using ntm::store::Registry;
using ntmd::Inbound;
using ntmd::KeyState;
using ntmd::SigIo;
using ntmd::SigSession;

constexpr std::uint32_t kKeyId = 0x4242;
constexpr int kBurst = 20;

using ntm::test::TempDir;

asio::ip::udp::socket loopback(asio::io_context &io)
{
	asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
	s.non_blocking(true);
	return s;
}

/* The DC's side of a batch, wired as dc.cpp wires it, against a real registry. */
class BatchTest : public ::testing::Test {
protected:
	TempDir dir;
	std::string db = dir.file("registry.db");
	asio::io_context io;
	asio::ip::udp::socket dsock = loopback(io);
	asio::ip::udp::socket nsock = loopback(io); /* the "node": raw datagrams, read by the test */
	std::optional<Registry> reg;
	SigIo dc{io, &dsock, nullptr};
	ntm::SecretBytes key = sig::random_key();
	std::shared_ptr<SigSession> session;
	std::uint64_t node_seq = 0;
	std::uint64_t dc_seq = 1000;
	int handled = 0;
	int commits = 0;
	bool fail_commit = false;
	int answered = 0;		 /* answers the node had received when the latest batch began */
	bool sent_early = false;	 /* an answer reached the node before its batch was committed */
	std::uint64_t mark_before_commit = 0;

	void SetUp() override
	{
		reg.emplace(db, std::nullopt, std::nullopt);
		reg->put_key(NodeKey{kKeyId, "a.ntm.test", key, 4102444800, 0});
		session = std::make_shared<SigSession>();
		session->kind = sig::Kind::dc;
		session->key_id = kKeyId;
		session->key = key;
		session->my_dir = sig::Direction::dc;
		session->peer_dir = sig::Direction::node;
		session->fqdn = "a.ntm.test";
		dc.set_key_lookup([this](sig::Kind, std::uint32_t id) -> std::pair<KeyState, std::shared_ptr<SigSession>> {
			if (id == kKeyId)
				return {KeyState::ok, session};
			return {KeyState::unknown, nullptr};
		});
		dc.set_seq_source([this] { return ++dc_seq; });
		dc.set_rx_hook([this](const SigSession &s, std::uint64_t seq) { reg->note_rx_seq(s.key_id, seq); });
		dc.set_sync_handler([this](const Inbound &in) {
			handled++;
			dc.respond(in, sig::make_response(in.msg, sig::Status::ok));
			return true;
		});
		dc.set_request_handler([](Inbound) -> asio::awaitable<void> { co_return; });
		dc.set_batch(
			[this] {
				answered += answers(); /* the node's socket is empty when a batch begins */
				reg->begin();
			},
			[this] {
				     commits++;
				     if (nsock.available() != 0)
					     sent_early = true;
				     mark_before_commit = committed_mark();
				     if (fail_commit) {
					     reg->rollback();
					     return false;
				     }
				     reg->commit();
				     return true;
			     },
			     64);
		dc.start();
	}

	/* what a DC restarted now would find: a connection of its own */
	std::uint64_t committed_mark()
	{
		Registry other(db, std::nullopt, std::nullopt, false);
		const auto k = other.find_key(kKeyId);
		return k ? k->rx_seq : 0;
	}

	/* a keepalive with a new sequence number and the given txid */
	void send_keepalive(std::uint32_t txid)
	{
		sig::Message m;
		m.type = sig::MsgType::keepalive;
		m.txid = txid;
		const sig::EnvelopeHeader h{sig::Kind::dc, kKeyId, ++node_seq};
		const auto d = sig::seal(h, sig::Direction::node, key.span(), sig::encode(m));
		nsock.send_to(asio::buffer(d), dsock.local_endpoint());
	}

	/* answers the node got so far */
	int answers()
	{
		int n = 0;
		std::vector<std::uint8_t> buf(2048);
		for (;;) {
			asio::ip::udp::endpoint from;
			asio::error_code ec;
			const auto len = nsock.receive_from(asio::buffer(buf), from, 0, ec);
			if (ec)
				return n;
			const auto body = sig::open({buf.data(), len}, sig::Direction::dc, key.span());
			if (body)
				n++;
		}
	}

	/* every answer since the last call */
	int got()
	{
		const int n = answered + answers();
		answered = 0;
		return n;
	}

	/* lets the loop run 200 ms, for checks that nothing (more) happens */
	void settle() { io.run_for(std::chrono::milliseconds(200)); }

	/*
	 * runs the loop until pred() holds (10 s at most): on a loaded host a
	 * fixed 200 ms may pass without the loop getting the CPU at all
	 */
	template <class P> bool settle_until(P pred)
	{
		const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		while (!pred() && std::chrono::steady_clock::now() < deadline)
			io.run_for(std::chrono::milliseconds(10));
		return pred();
	}
};

TEST_F(BatchTest, NoAnswerLeavesBeforeItsMarkIsCommitted)
{
	for (int i = 1; i <= kBurst; i++)
		send_keepalive(static_cast<std::uint32_t>(i));
	EXPECT_TRUE(settle_until([this] { return handled == kBurst && committed_mark() == node_seq; }));
	EXPECT_EQ(handled, kBurst);
	EXPECT_GE(commits, 1);
	EXPECT_LT(commits, kBurst) << "queued datagrams share a transaction";
	EXPECT_FALSE(sent_early) << "an answer was sent before its batch was committed";
	EXPECT_EQ(committed_mark(), node_seq) << "every answered message's mark is durable";
	EXPECT_EQ(got(), kBurst);
}

/*
 * More datagrams than one recvmmsg call reads (SigIo::kMmsg) and than one
 * batch takes (64 here): every one is read, answered once and marked, in
 * as few batches as the limit allows.
 */
TEST_F(BatchTest, QueuesLongerThanACallAndABatchAreReadWhole)
{
	constexpr int kMany = 140;
	static_assert(kMany > 2 * 64 && SigIo::kMmsg < 64);
	for (int i = 1; i <= kMany; i++)
		send_keepalive(static_cast<std::uint32_t>(i));
	EXPECT_TRUE(settle_until([this] { return handled == kMany && committed_mark() == node_seq; }));
	EXPECT_EQ(handled, kMany);
	EXPECT_EQ(commits, 3) << "64 + 64 + 12";
	EXPECT_FALSE(sent_early);
	EXPECT_EQ(committed_mark(), node_seq);
	EXPECT_EQ(got(), kMany);
	EXPECT_EQ(dc.drops().malformed, 0U);
}

TEST_F(BatchTest, MarksAreNotVisibleBeforeTheCommit)
{
	send_keepalive(1);
	EXPECT_TRUE(settle_until([this] { return committed_mark() == 1U; }));
	/* the hook saw the database as a restarted DC would, just before COMMIT */
	EXPECT_EQ(mark_before_commit, 0U);
	EXPECT_EQ(committed_mark(), 1U);
	EXPECT_EQ(got(), 1);
}

TEST_F(BatchTest, FailedCommitSendsNothingAndForgetsTheRequests)
{
	fail_commit = true;
	send_keepalive(7);
	EXPECT_TRUE(settle_until([this] { return dc.batches_failed() == 1U; }));
	settle();
	EXPECT_EQ(handled, 1);
	EXPECT_EQ(got(), 0) << "nothing of a failed batch may be sent";
	EXPECT_EQ(committed_mark(), 0U);
	EXPECT_EQ(dc.batches_failed(), 1U);
	/* the retransmission (same txid, new sequence number) is processed anew, not answered from the cache */
	fail_commit = false;
	send_keepalive(7);
	EXPECT_TRUE(settle_until([this] { return committed_mark() == 2U; }));
	EXPECT_EQ(handled, 2);
	EXPECT_EQ(got(), 1);
	EXPECT_EQ(committed_mark(), 2U);
}

TEST_F(BatchTest, RestartRestoresTheWindow)
{
	for (int i = 1; i <= 5; i++)
		send_keepalive(static_cast<std::uint32_t>(i));
	EXPECT_TRUE(settle_until([this] { return committed_mark() == 5U; }));
	ASSERT_EQ(got(), 5);
	/* the DC restarts: a new registry object, a new session from what it stored */
	reg.reset();
	reg.emplace(db, std::nullopt, std::nullopt);
	const auto k = reg->find_key(kKeyId);
	ASSERT_TRUE(k);
	EXPECT_EQ(k->rx_seq, 5U);
	auto fresh = std::make_shared<SigSession>(*session);
	fresh->rx = sig::ReplayWindow{};
	fresh->rx.restore(k->rx_seq);
	session = fresh;
	/* a replay of an answered message is refused, a new one accepted */
	const auto replays = dc.drops().replay;
	node_seq = 3;
	send_keepalive(100);
	EXPECT_TRUE(settle_until([&] { return dc.drops().replay == replays + 1; }));
	settle();
	EXPECT_EQ(dc.drops().replay, replays + 1);
	EXPECT_EQ(got(), 0);
	node_seq = 5;
	send_keepalive(101);
	EXPECT_TRUE(settle_until([this] { return committed_mark() == 6U; }));
	EXPECT_EQ(got(), 1);
	EXPECT_EQ(committed_mark(), 6U);
}

TEST(RegistryBatch, UncommittedMarksAreLostWithTheProcess)
{
	TempDir dir;
	const auto db = dir.file("r.db");
	{
		Registry r(db, std::nullopt, std::nullopt);
		r.put_key(NodeKey{1, "a.ntm.test", sig::random_key(), 4102444800, 0});
		r.begin();
		r.note_rx_seq(1, 10);
		r.commit();
		r.begin();
		r.note_rx_seq(1, 20);
		EXPECT_TRUE(r.in_transaction());
		/* "crash": destroyed with the transaction open */
	}
	Registry r(db, std::nullopt, std::nullopt);
	EXPECT_FALSE(r.in_transaction());
	EXPECT_EQ(r.find_key(1)->rx_seq, 10U);
	r.begin();
	r.note_rx_seq(1, 30);
	r.rollback();
	EXPECT_FALSE(r.in_transaction());
	EXPECT_EQ(r.find_key(1)->rx_seq, 10U);
}

} // namespace
