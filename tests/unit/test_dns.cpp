// SPDX-License-Identifier: GPL-2.0
/*
 * ntm/dns.hpp (codec), ntmd::Resolver and ntmd::DnsStub. The messages are
 * built by hand here, byte by byte, so the codec is checked against the
 * wire format rather than against ldns itself. The end-to-end tests run a
 * fake upstream server and the stub on 127.0.0.1 with ephemeral ports.
 */
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "dnsstub.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "resolver.hpp"

namespace {

using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;
namespace dns = ntm::dns;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t kQR = 0x8000;
constexpr std::uint16_t kAA = 0x0400;
constexpr std::uint16_t kTC = 0x0200;
constexpr std::uint16_t kRD = 0x0100;
constexpr std::uint16_t kRA = 0x0080;
constexpr std::uint16_t kTypeCNAME = 5;
constexpr std::uint16_t kTypeSOA = 6;
constexpr std::uint16_t kTypeMX = 15;
constexpr std::uint16_t kTypeANY = 255;

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at)
{
	return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

ntm::IpAddress ip(std::string_view s)
{
	return ntm::parse_address(s);
}

/* A DNS message written by hand; sections must be added in order. */
class Msg {
public:
	enum Section : std::size_t { question = 4, answer = 6, authority = 8, additional = 10 };

	Msg(std::uint16_t id, std::uint16_t flags) : b_(12, 0)
	{
		put_at(0, id);
		put_at(2, flags);
	}
	Msg &q(std::string_view name, std::uint16_t type)
	{
		put_name(name);
		put16(type);
		put16(dns::kClassIN);
		bump(question);
		return *this;
	}
	Msg &rr(Section s, std::string_view owner, std::uint16_t type, const Bytes &rdata, std::uint32_t ttl = 300)
	{
		put_name(owner);
		put16(type);
		put16(dns::kClassIN);
		put16(static_cast<std::uint16_t>(ttl >> 16));
		put16(static_cast<std::uint16_t>(ttl & 0xffff));
		put16(static_cast<std::uint16_t>(rdata.size()));
		b_.insert(b_.end(), rdata.begin(), rdata.end());
		bump(s);
		return *this;
	}
	Msg &addr(Section s, std::string_view owner, std::string_view a)
	{
		const auto x = ip(a);
		return rr(s, owner, x.is_v4() ? dns::kTypeA : dns::kTypeAAAA, Bytes(x.bytes().begin(), x.bytes().end()));
	}
	Msg &name_rr(Section s, std::string_view owner, std::uint16_t type, std::string_view target)
	{
		return rr(s, owner, type, encode_name(target));
	}
	[[nodiscard]] const Bytes &bytes() const { return b_; }

	static Bytes encode_name(std::string_view name)
	{
		Bytes out;
		while (!name.empty()) {
			const auto dot = name.find('.');
			const auto label = name.substr(0, dot);
			out.push_back(static_cast<std::uint8_t>(label.size()));
			out.insert(out.end(), label.begin(), label.end());
			name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
		}
		out.push_back(0);
		return out;
	}

private:
	void put_at(std::size_t at, std::uint16_t v)
	{
		b_[at] = static_cast<std::uint8_t>(v >> 8);
		b_[at + 1] = static_cast<std::uint8_t>(v & 0xff);
	}
	void put16(std::uint16_t v)
	{
		b_.push_back(static_cast<std::uint8_t>(v >> 8));
		b_.push_back(static_cast<std::uint8_t>(v & 0xff));
	}
	void put_name(std::string_view n)
	{
		const Bytes e = encode_name(n);
		b_.insert(b_.end(), e.begin(), e.end());
	}
	void bump(Section s) { put_at(s, static_cast<std::uint16_t>(be16(b_, s) + 1)); }

	Bytes b_;
};

/* ---- codec ---- */

TEST(DnsCodec, NamesAndDomains)
{
	EXPECT_EQ(dns::normalize_name("X.Ntm.TEST."), "x.ntm.test");
	EXPECT_EQ(dns::normalize_name("."), "");
	EXPECT_EQ(dns::normalize_name("a\\."), "a\\.");
	EXPECT_TRUE(dns::in_domain("x.ntm.test", "ntm.test"));
	EXPECT_TRUE(dns::in_domain("ntm.test", "ntm.test"));
	EXPECT_FALSE(dns::in_domain("xntm.test", "ntm.test"));
	EXPECT_FALSE(dns::in_domain("test", "ntm.test"));
	EXPECT_FALSE(dns::in_domain("x\\.ntm.test", "ntm.test")); /* one label "x.ntm" */
	EXPECT_EQ(dns::parent_domain("a.ntm.test"), "ntm.test");
	EXPECT_EQ(dns::parent_domain("test"), "");
	EXPECT_EQ(dns::parent_domain(""), "");
}

TEST(DnsCodec, QueryRoundTrip)
{
	const Bytes w = dns::build_query(0x1234, "X.Ntm.Test", dns::kTypeAAAA);
	ASSERT_GE(w.size(), 12U);
	EXPECT_EQ(be16(w, 0), 0x1234);
	EXPECT_EQ(be16(w, 2) & kRD, kRD);
	const auto q = dns::parse_query(w);
	ASSERT_TRUE(q);
	EXPECT_EQ(q->id, 0x1234);
	EXPECT_EQ(q->name, "x.ntm.test");
	EXPECT_EQ(q->qtype, dns::kTypeAAAA);
	EXPECT_EQ(q->qclass, dns::kClassIN);
	EXPECT_TRUE(q->rd);
}

TEST(DnsCodec, ParseQueryRejects)
{
	EXPECT_FALSE(dns::parse_query(Bytes{}));
	EXPECT_FALSE(dns::parse_query(Bytes{1, 2, 3}));
	/* counts promise a question that is not there */
	EXPECT_FALSE(dns::parse_query(Bytes{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
	/* a name whose label runs past the end */
	Bytes bad = Msg(7, kRD).q("a.ntm.test", dns::kTypeA).bytes();
	bad.resize(16);
	EXPECT_FALSE(dns::parse_query(bad));

	/* parsable, but not a query we serve: qtype 0 */
	const auto none = dns::parse_query(Msg(9, kRD).bytes());
	ASSERT_TRUE(none);
	EXPECT_EQ(none->id, 9);
	EXPECT_EQ(none->qtype, 0);
	const auto two = dns::parse_query(Msg(9, 0).q("a.test", dns::kTypeA).q("b.test", dns::kTypeA).bytes());
	ASSERT_TRUE(two);
	EXPECT_EQ(two->qtype, 0);
	const auto notify = dns::parse_query(Msg(9, 4 << 11).q("a.test", kTypeSOA).bytes());
	ASSERT_TRUE(notify);
	EXPECT_EQ(notify->qtype, 0);
}

TEST(DnsCodec, AnswerCopiesIdFlagsAndQuestion)
{
	const Bytes query = Msg(0xbeef, kRD).q("X.ntm.test", dns::kTypeA).bytes();
	const std::vector<ntm::IpAddress> addrs{ip("10.77.0.9"), ip("fd00::9"), ip("10.77.0.10")};
	const Bytes a = dns::build_answer(query, dns::Rcode::noerror, addrs, 60);
	EXPECT_EQ(be16(a, 0), 0xbeef);
	const std::uint16_t flags = be16(a, 2);
	EXPECT_EQ(flags & (kQR | kAA | kRD | kRA), kQR | kAA | kRD | kRA);
	EXPECT_EQ(flags & 0x0f, 0);
	EXPECT_EQ(be16(a, 6), 2); /* two A records, the AAAA left out */
	const auto r = dns::parse_response(a, "x.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->addrs, (std::vector<ntm::IpAddress>{ip("10.77.0.9"), ip("10.77.0.10")}));

	/* RD not set in the query: not set in the answer */
	const Bytes q2 = Msg(1, 0).q("x.ntm.test", dns::kTypeAAAA).bytes();
	const Bytes a2 = dns::build_answer(q2, dns::Rcode::noerror, addrs, 60);
	EXPECT_EQ(be16(a2, 2) & kRD, 0);
	const auto r2 = dns::parse_response(a2, "x.ntm.test", dns::kTypeAAAA);
	ASSERT_TRUE(r2);
	EXPECT_EQ(r2->addrs, std::vector<ntm::IpAddress>{ip("fd00::9")});

	/* ANY: both families */
	const Bytes q3 = Msg(2, kRD).q("x.ntm.test", kTypeANY).bytes();
	EXPECT_EQ(be16(dns::build_answer(q3, dns::Rcode::noerror, addrs, 60), 6), 3);
}

TEST(DnsCodec, NxdomainNodataAndErrors)
{
	const Bytes query = Msg(0x4242, kRD).q("y.ntm.test", dns::kTypeA).bytes();
	const Bytes nx = dns::build_answer(query, dns::Rcode::nxdomain, {ip("10.0.0.1")}, 60);
	auto r = dns::parse_response(nx, "y.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->rcode, dns::Rcode::nxdomain);
	EXPECT_TRUE(r->addrs.empty());
	EXPECT_EQ(be16(nx, 6), 0);

	const Bytes nodata = dns::build_answer(query, dns::Rcode::noerror, {}, 60);
	r = dns::parse_response(nodata, "y.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->rcode, dns::Rcode::noerror);
	EXPECT_TRUE(r->addrs.empty());

	const Bytes sf = dns::build_error(query, dns::Rcode::servfail);
	EXPECT_EQ(be16(sf, 0), 0x4242);
	EXPECT_EQ(be16(sf, 2) & 0x0f, 2);
	r = dns::parse_response(sf, "y.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->rcode, dns::Rcode::servfail);

	/* garbage: a bare header with whatever id there was */
	const Bytes junk{0xab, 0xcd, 0xff};
	const Bytes err = dns::build_error(junk, dns::Rcode::formerr);
	ASSERT_EQ(err.size(), 12U);
	EXPECT_EQ(be16(err, 0), 0xabcd);
	EXPECT_EQ(be16(err, 2) & (kQR | 0x0f), kQR | 1);
	EXPECT_EQ(dns::build_error({}, dns::Rcode::formerr).size(), 12U);
	EXPECT_THROW((void)dns::build_answer(junk, dns::Rcode::noerror, {}, 1), ntm::Error);
}

TEST(DnsCodec, CnameChainIsFollowed)
{
	using S = Msg::Section;
	const Bytes w = Msg(5, kQR | kRD | kRA)
				.q("www.example.com", dns::kTypeA)
				.name_rr(S::answer, "www.example.com", kTypeCNAME, "Edge.CDN.net")
				.name_rr(S::answer, "edge.cdn.net", kTypeCNAME, "e1.cdn.net")
				.addr(S::answer, "other.cdn.net", "192.0.2.99")
				.addr(S::answer, "E1.cdn.net", "192.0.2.10")
				.addr(S::answer, "e1.cdn.net", "192.0.2.11")
				.addr(S::answer, "e1.cdn.net", "2001:db8::1")
				.bytes();
	const auto r = dns::parse_response(w, "WWW.example.com.", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->id, 5);
	EXPECT_EQ(r->addrs, (std::vector<ntm::IpAddress>{ip("192.0.2.10"), ip("192.0.2.11")}));
}

TEST(DnsCodec, CnameLoopsAndLongChainsEnd)
{
	using S = Msg::Section;
	const Bytes loop = Msg(5, kQR)
				   .q("a.test", dns::kTypeA)
				   .name_rr(S::answer, "a.test", kTypeCNAME, "b.test")
				   .name_rr(S::answer, "b.test", kTypeCNAME, "a.test")
				   .bytes();
	auto r = dns::parse_response(loop, "a.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->addrs.empty());

	/* 8 hops are followed, the 9th is not */
	auto chain = [](int hops) {
		Msg m(6, kQR);
		m.q("c0.test", dns::kTypeA);
		for (int i = 0; i < hops; i++)
			m.name_rr(S::answer, "c" + std::to_string(i) + ".test", kTypeCNAME,
				  "c" + std::to_string(i + 1) + ".test");
		m.addr(S::answer, "c" + std::to_string(hops) + ".test", "192.0.2.1");
		return m.bytes();
	};
	r = dns::parse_response(chain(8), "c0.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->addrs.size(), 1U);
	r = dns::parse_response(chain(9), "c0.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->addrs.empty());
}

TEST(DnsCodec, ReferralGivesNsAndGlue)
{
	using S = Msg::Section;
	const Bytes w = Msg(7, kQR | kRD | kRA)
				.q("x.ntm.test", dns::kTypeNS)
				.name_rr(S::authority, "ntm.test", dns::kTypeNS, "ns2.ntm.test")
				.name_rr(S::authority, "NTM.test", dns::kTypeNS, "ns1.ntm.test")
				.name_rr(S::authority, "elsewhere.example", dns::kTypeNS, "evil.example")
				.addr(S::additional, "ns1.ntm.test", "10.0.0.53")
				.addr(S::additional, "ns2.ntm.test", "fd00::53")
				.addr(S::additional, "evil.example", "10.6.6.6")
				.bytes();
	const auto r = dns::parse_response(w, "x.ntm.test", dns::kTypeNS);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->ns_names, (std::vector<std::string>{"ns2.ntm.test", "ns1.ntm.test"}));
	ASSERT_EQ(r->glue.size(), 2U);
	EXPECT_EQ(r->glue[0], std::make_pair(std::string("ns1.ntm.test"), ip("10.0.0.53")));
	EXPECT_EQ(r->glue[1], std::make_pair(std::string("ns2.ntm.test"), ip("fd00::53")));

	/* NS in the answer win over the authority section */
	const Bytes ans = Msg(8, kQR)
				  .q("ntm.test", dns::kTypeNS)
				  .name_rr(S::answer, "ntm.test", dns::kTypeNS, "a.ns.test")
				  .name_rr(S::authority, "ntm.test", dns::kTypeNS, "b.ns.test")
				  .bytes();
	const auto r2 = dns::parse_response(ans, "ntm.test", dns::kTypeNS);
	ASSERT_TRUE(r2);
	EXPECT_EQ(r2->ns_names, std::vector<std::string>{"a.ns.test"});
}

TEST(DnsCodec, MismatchedQuestionIsRejected)
{
	const Bytes w = Msg(9, kQR).q("a.test", dns::kTypeA).addr(Msg::answer, "a.test", "192.0.2.1").bytes();
	EXPECT_TRUE(dns::parse_response(w, "A.TEST", dns::kTypeA));
	EXPECT_FALSE(dns::parse_response(w, "b.test", dns::kTypeA));
	EXPECT_FALSE(dns::parse_response(w, "a.test", dns::kTypeAAAA));
	/* a query is not a response */
	EXPECT_FALSE(dns::parse_response(Msg(9, 0).q("a.test", dns::kTypeA).bytes(), "a.test", dns::kTypeA));
	/* no question */
	EXPECT_FALSE(dns::parse_response(Msg(9, kQR | 2).bytes(), "a.test", dns::kTypeA));
}

TEST(DnsCodec, TruncatedPacketsNeverCrash)
{
	using S = Msg::Section;
	const Bytes w = Msg(10, kQR | kTC)
				.q("a.ntm.test", dns::kTypeA)
				.name_rr(S::answer, "a.ntm.test", kTypeCNAME, "b.ntm.test")
				.addr(S::answer, "b.ntm.test", "192.0.2.1")
				.name_rr(S::authority, "ntm.test", dns::kTypeNS, "ns.ntm.test")
				.addr(S::additional, "ns.ntm.test", "192.0.2.53")
				.bytes();
	const auto full = dns::parse_response(w, "a.ntm.test", dns::kTypeA);
	ASSERT_TRUE(full);
	EXPECT_TRUE(full->truncated);
	EXPECT_EQ(full->addrs, std::vector<ntm::IpAddress>{ip("192.0.2.1")});
	for (std::size_t n = 0; n < w.size(); n++) {
		const Bytes cut(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(n));
		EXPECT_FALSE(dns::parse_response(cut, "a.ntm.test", dns::kTypeA)) << n;
		(void)dns::parse_query(cut);
		(void)dns::build_error(cut, dns::Rcode::formerr);
	}
	/* a compression pointer to itself */
	Bytes loop = Msg(11, kQR).bytes();
	loop[5] = 1;
	loop.insert(loop.end(), {0xc0, 12, 0, 1, 0, 1});
	EXPECT_FALSE(dns::parse_response(loop, "a.test", dns::kTypeA));
	EXPECT_FALSE(dns::parse_query(loop));
}

/* ldns 1.8.3 leaks the earlier of two TSIG records, or of two OPT records'
 * data, of one message: such messages are refused before it reads them. */
TEST(DnsCodec, SecondTsigOrOptRefusedBeforeLdns)
{
	const auto with_additional = [](std::initializer_list<std::uint16_t> types) {
		Bytes w = Msg(12, 0).q("a.ntm.test", dns::kTypeA).bytes();
		w[11] = static_cast<std::uint8_t>(types.size());
		for (const auto t : types) {
			/* root owner, TYPE, CLASS 4096 (an OPT's UDP size), TTL 0, 4 bytes of data */
			const Bytes rr{0, static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t & 0xff),
				       0x10, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0};
			w.insert(w.end(), rr.begin(), rr.end());
		}
		return w;
	};
	EXPECT_TRUE(dns::parse_query(with_additional({41})));
	EXPECT_FALSE(dns::parse_query(with_additional({41, 41})));
	EXPECT_FALSE(dns::parse_query(with_additional({250})));
	EXPECT_FALSE(dns::parse_query(with_additional({250, 250})));
	Bytes resp = with_additional({250, 250});
	resp[2] |= 0x80;
	EXPECT_FALSE(dns::parse_response(resp, "a.ntm.test", dns::kTypeA));
}

/* ---- end to end ---- */

/* Runs aw on io until it completes (or 4 s pass) and returns its result. */
template <typename T> T run(asio::io_context &io, awaitable<T> aw)
{
	bool done = false;
	std::exception_ptr err;
	T result{};
	asio::co_spawn(io, std::move(aw), [&](const std::exception_ptr &e, T v) {
		done = true;
		err = e;
		result = std::move(v);
		io.stop();
	});
	io.restart();
	io.run_for(4s);
	if (!done)
		throw std::runtime_error("test coroutine did not finish");
	if (err)
		std::rethrow_exception(err);
	return result;
}

/* A fake DNS server on 127.0.0.1 (UDP and TCP, same port), answering through a callback. */
class FakeServer : public std::enable_shared_from_this<FakeServer> {
public:
	/* query and transport ("udp"/"tcp") -> reply, or nullopt to stay silent */
	using Responder = std::function<std::optional<Bytes>(const Bytes &, bool tcp)>;

	static std::shared_ptr<FakeServer> start(asio::io_context &io, Responder r)
	{
		auto s = std::make_shared<FakeServer>(io, std::move(r));
		asio::co_spawn(io, udp_loop(s), asio::detached);
		asio::co_spawn(io, tcp_loop(s), asio::detached);
		return s;
	}

	FakeServer(asio::io_context &io, Responder r)
		: udp_(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), tcp_(io), respond_(std::move(r))
	{
		const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), udp_.local_endpoint().port());
		tcp_.open(ep.protocol());
		tcp_.set_option(asio::socket_base::reuse_address(true));
		tcp_.bind(ep);
		tcp_.listen();
	}
	FakeServer(const FakeServer &) = delete;
	FakeServer &operator=(const FakeServer &) = delete;
	FakeServer(FakeServer &&) = delete;
	FakeServer &operator=(FakeServer &&) = delete;
	~FakeServer() = default;

	void stop()
	{
		std::error_code ec;
		udp_.close(ec);
		tcp_.close(ec);
	}
	[[nodiscard]] ntm::Endpoint endpoint() const { return {ip("127.0.0.1"), udp_.local_endpoint().port()}; }

	std::vector<dns::Question> udp_seen;
	std::vector<dns::Question> tcp_seen;

private:
	static awaitable<void> udp_loop(std::shared_ptr<FakeServer> s)
	{
		Bytes buf(65535);
		asio::ip::udp::endpoint from;
		for (;;) {
			std::error_code ec;
			const std::size_t n = co_await s->udp_.async_receive_from(asio::buffer(buf), from,
										  asio::redirect_error(use_awaitable, ec));
			if (ec)
				co_return;
			const Bytes q(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
			if (auto pq = dns::parse_query(q))
				s->udp_seen.push_back(*pq);
			if (auto reply = s->respond_(q, false))
				co_await s->udp_.async_send_to(asio::buffer(*reply), from,
							       asio::redirect_error(use_awaitable, ec));
		}
	}
	static awaitable<void> tcp_loop(std::shared_ptr<FakeServer> s)
	{
		for (;;) {
			std::error_code ec;
			asio::ip::tcp::socket c = co_await s->tcp_.async_accept(asio::redirect_error(use_awaitable, ec));
			if (ec)
				co_return;
			std::array<std::uint8_t, 2> len{};
			co_await asio::async_read(c, asio::buffer(len), asio::redirect_error(use_awaitable, ec));
			Bytes q(static_cast<std::size_t>((len[0] << 8) | len[1]));
			if (!ec)
				co_await asio::async_read(c, asio::buffer(q), asio::redirect_error(use_awaitable, ec));
			if (ec)
				continue;
			if (auto pq = dns::parse_query(q))
				s->tcp_seen.push_back(*pq);
			if (auto reply = s->respond_(q, true)) {
				len = {static_cast<std::uint8_t>(reply->size() >> 8),
				       static_cast<std::uint8_t>(reply->size() & 0xff)};
				const std::array<asio::const_buffer, 2> bufs{asio::buffer(len), asio::buffer(*reply)};
				co_await asio::async_write(c, bufs, asio::redirect_error(use_awaitable, ec));
			}
		}
	}

	asio::ip::udp::socket udp_;
	asio::ip::tcp::acceptor tcp_;
	Responder respond_;
};

/* The reply skeleton for a query: its id and question, QR RD RA and rcode. */
Msg reply_to(const Bytes &query, unsigned rcode = 0, std::uint16_t extra = 0)
{
	const auto q = dns::parse_query(query);
	Msg m(q ? q->id : 0, static_cast<std::uint16_t>(kQR | kRD | kRA | extra | rcode));
	if (q && q->qtype != 0)
		m.q(q->name, q->qtype);
	return m;
}

/* 192.0.2.1 / 2001:db8::1 for any name; UDP answers set TC when truncate is set. */
FakeServer::Responder fixed_answers(bool truncate = false)
{
	return [truncate](const Bytes &query, bool tcp) -> std::optional<Bytes> {
		const auto q = dns::parse_query(query);
		if (!q)
			return std::nullopt;
		if (truncate && !tcp)
			return reply_to(query, 0, kTC).bytes();
		Msg m = reply_to(query);
		if (q->qtype == dns::kTypeA)
			m.addr(Msg::answer, q->name, "192.0.2.1");
		else if (q->qtype == dns::kTypeAAAA)
			m.addr(Msg::answer, q->name, "2001:db8::1");
		return m.bytes();
	};
}

FakeServer::Responder silent()
{
	return [](const Bytes &, bool) -> std::optional<Bytes> { return std::nullopt; };
}

/* A 127.0.0.1 port where nothing listens (ICMP port unreachable). */
ntm::Endpoint closed_port()
{
	asio::io_context io;
	const asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
	return {ip("127.0.0.1"), s.local_endpoint().port()};
}

awaitable<ntmd::HookAnswer> test_hook(const dns::Question &q)
{
	asio::steady_timer t(co_await asio::this_coro::executor, q.name == "slow.ntm.test" ? 1000ms : 50ms);
	co_await t.async_wait(use_awaitable);
	ntmd::HookAnswer a;
	if (q.name == "x.ntm.test" || q.name == "slow.ntm.test") {
		a.rcode = dns::Rcode::noerror;
		a.addrs = {ip("10.77.0.9"), ip("fd00:77::9")};
		a.ttl = 5;
	} else {
		a.rcode = dns::Rcode::nxdomain;
	}
	co_return a;
}

/* The stub on 127.0.0.1:0 for the NTM domain ntm.test. */
std::unique_ptr<ntmd::DnsStub> make_stub(asio::io_context &io, std::vector<ntm::Endpoint> upstream)
{
	auto stub = std::make_unique<ntmd::DnsStub>(io, std::vector<ntm::Endpoint>{{ip("127.0.0.1"), 0}},
						    std::move(upstream), std::vector<std::string>{"NTM.test."},
						    std::vector<ntm::Prefix>{}, test_hook);
	stub->start();
	return stub;
}

/* Asks the stub over UDP or TCP; the reply must carry id. */
std::optional<Bytes> ask(asio::io_context &io, const ntm::Endpoint &to, const Bytes &query, bool tcp = false)
{
	const std::uint16_t id = be16(query, 0);
	auto check = [id](std::span<const std::uint8_t> r) { return r.size() >= 2 && be16(r, 0) == id; };
	if (tcp)
		return run(io, ntmd::dns_exchange_tcp(to, query, 3000ms, check));
	return run(io, ntmd::dns_exchange_udp(to, query, 3000ms, check));
}

TEST(DnsStub, HookedNamesAnswered)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	const auto stub = make_stub(io, {up->endpoint()});
	const auto at = stub->local_endpoints().at(0);
	EXPECT_NE(at.port(), 0);

	auto reply = ask(io, at, Msg(0x1111, kRD).q("X.ntm.test", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	auto r = dns::parse_response(*reply, "x.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->id, 0x1111);
	EXPECT_EQ(r->rcode, dns::Rcode::noerror);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("10.77.0.9")});
	EXPECT_EQ(be16(*reply, 2) & kAA, kAA);

	reply = ask(io, at, Msg(0x2222, kRD).q("x.ntm.test", dns::kTypeAAAA).bytes());
	ASSERT_TRUE(reply);
	r = dns::parse_response(*reply, "x.ntm.test", dns::kTypeAAAA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("fd00:77::9")});

	reply = ask(io, at, Msg(0x2323, kRD).q("x.ntm.test", kTypeANY).bytes());
	ASSERT_TRUE(reply);
	EXPECT_EQ(be16(*reply, 6), 2);

	reply = ask(io, at, Msg(0x3333, kRD).q("nobody.ntm.test", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	r = dns::parse_response(*reply, "nobody.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->rcode, dns::Rcode::nxdomain);

	/* other types in the domain: NODATA, without the hook or upstream */
	reply = ask(io, at, Msg(0x4444, kRD).q("x.ntm.test", kTypeMX).bytes());
	ASSERT_TRUE(reply);
	r = dns::parse_response(*reply, "x.ntm.test", kTypeMX);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->rcode, dns::Rcode::noerror);
	EXPECT_EQ(be16(*reply, 6), 0);

	EXPECT_EQ(stub->counters().hooked, 4U);
	EXPECT_EQ(stub->counters().forwarded, 0U);
	EXPECT_TRUE(up->udp_seen.empty());

	/* the apex and SOA/NS of the domain go upstream */
	reply = ask(io, at, Msg(0x5555, kRD).q("ntm.test", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	reply = ask(io, at, Msg(0x5556, kRD).q("x.ntm.test", kTypeSOA).bytes());
	ASSERT_TRUE(reply);
	EXPECT_EQ(stub->counters().forwarded, 2U);
	EXPECT_EQ(up->udp_seen.size(), 2U);
	up->stop();
}

TEST(DnsStub, ForwardsAndRestoresId)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	/* the first upstream refuses (ICMP): the second answers */
	const auto stub = make_stub(io, {closed_port(), up->endpoint()});
	const auto at = stub->local_endpoints().at(0);

	const auto reply = ask(io, at, Msg(0x7777, kRD).q("www.Example.com", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	const auto r = dns::parse_response(*reply, "www.example.com", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->id, 0x7777);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("192.0.2.1")});
	ASSERT_EQ(up->udp_seen.size(), 1U);
	EXPECT_EQ(up->udp_seen[0].name, "www.example.com");
	EXPECT_EQ(stub->counters().forwarded, 1U);
	EXPECT_EQ(stub->counters().upstream_failures, 0U);
	up->stop();
}

/* D99: the upstream list follows resolv.conf; systemd-resolved reaches a second listener */
TEST(DnsStub, UpstreamReplacedAndListenerAdded)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	const auto stub = make_stub(io, {closed_port()});
	const auto at = stub->local_endpoints().at(0);
	auto reply = ask(io, at, Msg(0x1212, kRD).q("www.example.com", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	EXPECT_EQ((*reply)[3] & 0x0f, static_cast<int>(dns::Rcode::servfail));

	stub->set_upstream({up->endpoint()});
	EXPECT_EQ(stub->upstream(), std::vector<ntm::Endpoint>{up->endpoint()});
	reply = ask(io, at, Msg(0x1313, kRD).q("www.example.com", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	EXPECT_TRUE(dns::parse_response(*reply, "www.example.com", dns::kTypeA));

	stub->add_listener({ip("127.0.0.2"), 0});
	ASSERT_EQ(stub->local_endpoints().size(), 2U);
	const auto second = stub->local_endpoints().at(1);
	EXPECT_EQ(second.address(), ip("127.0.0.2"));
	reply = ask(io, second, Msg(0x1414, kRD).q("x.ntm.test", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	const auto r = dns::parse_response(*reply, "x.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("10.77.0.9")});
	EXPECT_EQ(stub->domains(), std::vector<std::string>{"ntm.test"});
	stub->remove_listener(second);
	reply = ask(io, at, Msg(0x1515, kRD).q("x.ntm.test", dns::kTypeA).bytes());
	EXPECT_TRUE(reply); /* the first one keeps serving */
	stub->stop();
	up->stop();
}

TEST(DnsStub, UpstreamTimeoutIsServfail)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, silent());
	const auto stub = make_stub(io, {up->endpoint()});
	const auto reply = ask(io, stub->local_endpoints().at(0), Msg(0x0102, kRD).q("a.example", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	const auto r = dns::parse_response(*reply, "a.example", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->id, 0x0102);
	EXPECT_EQ(r->rcode, dns::Rcode::servfail);
	EXPECT_EQ(stub->counters().upstream_failures, 1U);
	up->stop();
}

TEST(DnsStub, TruncatedRelayedThenTcp)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers(true));
	const auto stub = make_stub(io, {up->endpoint()});
	const auto at = stub->local_endpoints().at(0);

	/* UDP: the TC answer as is */
	auto reply = ask(io, at, Msg(0x0a0a, kRD).q("big.example", dns::kTypeA).bytes());
	ASSERT_TRUE(reply);
	auto r = dns::parse_response(*reply, "big.example", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->truncated);
	EXPECT_EQ(r->id, 0x0a0a);

	/* TCP: forwarded over TCP */
	reply = ask(io, at, Msg(0x0b0b, kRD).q("big.example", dns::kTypeA).bytes(), true);
	ASSERT_TRUE(reply);
	r = dns::parse_response(*reply, "big.example", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_FALSE(r->truncated);
	EXPECT_EQ(r->id, 0x0b0b);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("192.0.2.1")});
	EXPECT_EQ(up->tcp_seen.size(), 1U);

	/* TCP: hooked */
	reply = ask(io, at, Msg(0x0c0c, kRD).q("x.ntm.test", dns::kTypeA).bytes(), true);
	ASSERT_TRUE(reply);
	r = dns::parse_response(*reply, "x.ntm.test", dns::kTypeA);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->addrs, std::vector<ntm::IpAddress>{ip("10.77.0.9")});
	up->stop();
}

/* Two queries on one TCP connection: the slow hooked one does not hold up the forwarded one. */
awaitable<std::vector<std::uint16_t>> pipelined(ntm::Endpoint at)
{
	asio::ip::tcp::socket s(co_await asio::this_coro::executor);
	const ntm::IpAddress addr = at.address();
	const auto b = addr.bytes();
	asio::ip::address_v4::bytes_type v4{};
	std::copy(b.begin(), b.end(), v4.begin());
	const asio::ip::tcp::endpoint ep(asio::ip::address_v4(v4), at.port());
	co_await s.async_connect(ep, use_awaitable);
	Bytes out;
	for (const Bytes &q : {Msg(0x5101, kRD).q("slow.ntm.test", dns::kTypeA).bytes(),
			       Msg(0x5102, kRD).q("fast.example", dns::kTypeA).bytes()}) {
		out.push_back(static_cast<std::uint8_t>(q.size() >> 8));
		out.push_back(static_cast<std::uint8_t>(q.size() & 0xff));
		out.insert(out.end(), q.begin(), q.end());
	}
	co_await asio::async_write(s, asio::buffer(out), use_awaitable);
	std::vector<std::uint16_t> ids;
	for (int i = 0; i < 2; i++) {
		std::array<std::uint8_t, 2> len{};
		co_await asio::async_read(s, asio::buffer(len), use_awaitable);
		Bytes m(static_cast<std::size_t>((len[0] << 8) | len[1]));
		co_await asio::async_read(s, asio::buffer(m), use_awaitable);
		ids.push_back(be16(m, 0));
	}
	co_return ids;
}

TEST(DnsStub, TcpPipelinedQueriesAnsweredOutOfOrder)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	const auto stub = make_stub(io, {up->endpoint()});
	const auto ids = run(io, pipelined(stub->local_endpoints().at(0)));
	EXPECT_EQ(ids, (std::vector<std::uint16_t>{0x5102, 0x5101}));
	EXPECT_EQ(stub->counters().queries, 2U);
	up->stop();
}

TEST(DnsStub, GarbageDroppedAndCounted)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	const auto stub = make_stub(io, {up->endpoint()});
	const auto at = stub->local_endpoints().at(0);
	const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), at.port());

	/* from one socket: garbage, a response, then a real query; only the query is answered */
	auto exchange = [&]() -> awaitable<std::vector<Bytes>> {
		asio::ip::udp::socket s(co_await asio::this_coro::executor, asio::ip::udp::v4());
		const Bytes junk{0xde, 0xad, 0xbe, 0xef, 0x01};
		co_await s.async_send_to(asio::buffer(junk), to, use_awaitable);
		const Bytes resp = Msg(0x0909, kQR).q("x.ntm.test", dns::kTypeA).bytes();
		co_await s.async_send_to(asio::buffer(resp), to, use_awaitable);
		const Bytes two = Msg(0x0808, kRD).q("a.test", dns::kTypeA).q("b.test", dns::kTypeA).bytes();
		co_await s.async_send_to(asio::buffer(two), to, use_awaitable);
		const Bytes q = Msg(0x0707, kRD).q("x.ntm.test", dns::kTypeA).bytes();
		co_await s.async_send_to(asio::buffer(q), to, use_awaitable);
		std::vector<Bytes> got;
		Bytes buf(2048);
		for (int i = 0; i < 2; i++) {
			const std::size_t n = co_await s.async_receive(asio::buffer(buf), use_awaitable);
			got.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
		}
		co_return got;
	};
	const auto got = run(io, exchange());
	ASSERT_EQ(got.size(), 2U);
	/* FORMERR for two questions first (no hook delay), then the answer */
	EXPECT_EQ(be16(got[0], 0), 0x0808);
	EXPECT_EQ(be16(got[0], 2) & 0x0f, 1);
	EXPECT_EQ(be16(got[1], 0), 0x0707);
	EXPECT_EQ(stub->counters().queries, 4U);
	EXPECT_EQ(stub->counters().malformed, 3U);
	up->stop();
}

TEST(DnsStub, BindConflictAndStopTwice)
{
	asio::io_context io;
	auto stub = make_stub(io, {});
	const auto at = stub->local_endpoints().at(0);
	EXPECT_THROW(ntmd::DnsStub(io, {at}, {}, {"ntm.test"}, {}, test_hook), ntm::Error);
	stub->stop();
	stub->stop();
	/* after stop the port is free again */
	EXPECT_NO_THROW(ntmd::DnsStub(io, {at}, {}, {"ntm.test"}, {}, test_hook));
	stub.reset();
	io.restart();
	io.run_for(100ms);
}

TEST(DnsStub, OnlyLoopbackAndAllowedClients)
{
	const auto a = [](const char *s) { return asio::ip::make_address(s); };
	const std::vector<ntm::Prefix> none;
	const std::vector<ntm::Prefix> lan{{ip("192.168.7.0"), 24}, {ip("fd00:7::"), 64}};
	for (const char *lo : {"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.77"}) {
		EXPECT_TRUE(ntmd::dns_client_allowed(none, a(lo))) << lo;
		EXPECT_TRUE(ntmd::dns_client_allowed(lan, a(lo))) << lo;
	}
	for (const char *in : {"192.168.7.1", "::ffff:192.168.7.200", "fd00:7::53"}) {
		EXPECT_FALSE(ntmd::dns_client_allowed(none, a(in))) << in;
		EXPECT_TRUE(ntmd::dns_client_allowed(lan, a(in))) << in;
	}
	for (const char *out : {"192.168.8.1", "10.0.0.1", "fd00:8::1", "::", "0.0.0.0", "::ffff:10.0.0.1"})
		EXPECT_FALSE(ntmd::dns_client_allowed(lan, a(out))) << out;
}

/* ---- resolver ---- */

TEST(DnsResolver, AddressesInParallel)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers());
	ntmd::Resolver res(io, {up->endpoint()});
	const auto addrs = run(io, res.addresses("Host.Example."));
	EXPECT_EQ(addrs, (std::vector<ntm::IpAddress>{ip("192.0.2.1"), ip("2001:db8::1")}));
	ASSERT_EQ(up->udp_seen.size(), 2U);
	EXPECT_EQ(up->udp_seen[0].name, "host.example");
	EXPECT_NE(up->udp_seen[0].id, up->udp_seen[1].id); /* random ids: equal once in 65536 */

	EXPECT_EQ(run(io, res.addresses("10.1.2.3")), std::vector<ntm::IpAddress>{ip("10.1.2.3")});
	EXPECT_EQ(run(io, res.addresses("[fd00::1]")), std::vector<ntm::IpAddress>{ip("fd00::1")});
	const auto eps = run(io, res.resolve({"host.example", 7481}));
	ASSERT_EQ(eps.size(), 2U);
	EXPECT_EQ(eps[0], ntm::Endpoint(ip("192.0.2.1"), 7481));
	EXPECT_EQ(up->udp_seen.size(), 4U);
	up->stop();
}

TEST(DnsResolver, TruncationFallsBackToTcp)
{
	asio::io_context io;
	const auto up = FakeServer::start(io, fixed_answers(true));
	ntmd::Resolver res(io, {up->endpoint()});
	const auto addrs = run(io, res.addresses("host.example"));
	EXPECT_EQ(addrs.size(), 2U);
	EXPECT_EQ(up->tcp_seen.size(), 2U);
	up->stop();
}

TEST(DnsResolver, FindNsWalksUp)
{
	asio::io_context io;
	using S = Msg::Section;
	const auto up = FakeServer::start(io, [](const Bytes &query, bool) -> std::optional<Bytes> {
		const auto q = dns::parse_query(query);
		if (!q || q->qtype != dns::kTypeNS)
			return std::nullopt;
		if (q->name == "ntm.test")
			return reply_to(query)
				.name_rr(S::authority, "ntm.test", dns::kTypeNS, "ns2.ntm.test")
				.name_rr(S::authority, "ntm.test", dns::kTypeNS, "ns1.ntm.test")
				.addr(S::additional, "ns1.ntm.test", "192.0.2.53")
				.bytes();
		return reply_to(query, 3).bytes(); /* NXDOMAIN */
	});
	ntmd::Resolver res(io, {up->endpoint()});
	EXPECT_EQ(run(io, res.find_ns("x.NTM.test")), "ns1.ntm.test");
	ASSERT_EQ(up->udp_seen.size(), 2U);
	EXPECT_EQ(up->udp_seen[0].name, "x.ntm.test");
	EXPECT_EQ(up->udp_seen[1].name, "ntm.test");

	try {
		(void)run(io, res.find_ns("a.b.example"));
		ADD_FAILURE() << "no exception";
	} catch (const ntm::Error &e) {
		EXPECT_STREQ(e.what(), "no NS record for a.b.example");
	}
	/* a.b.example, b.example, example; never the root */
	EXPECT_EQ(up->udp_seen.size(), 5U);
	up->stop();
}

TEST(DnsResolver, TimeoutAndFailover)
{
	asio::io_context io;
	const auto dead = FakeServer::start(io, silent());
	const auto good = FakeServer::start(io, fixed_answers());
	ntmd::Resolver res(io, {dead->endpoint()});
	res.set_timeout(100ms);
	EXPECT_THROW((void)run(io, res.addresses("host.example")), ntm::Error);
	EXPECT_EQ(dead->udp_seen.size(), 6U); /* 3 tries for A and for AAAA */

	ntmd::Resolver two(io, {dead->endpoint(), good->endpoint()});
	two.set_timeout(100ms);
	EXPECT_EQ(run(io, two.addresses("host.example")).size(), 2U);

	ntmd::Resolver none(io, {});
	EXPECT_THROW((void)run(io, none.find_ns("a.example")), ntm::Error);
	dead->stop();
	good->stop();
}

} // namespace
