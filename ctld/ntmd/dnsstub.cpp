// SPDX-License-Identifier: GPL-2.0
#include "dnsstub.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include "addr.hpp"
#include "ntm/error.hpp"
#include "resolver.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
namespace dns = ntm::dns;

constexpr std::size_t kMaxInflight = 256;
constexpr std::size_t kMaxTcpClients = 64;
constexpr auto kTcpIdle = std::chrono::seconds(10);
constexpr auto kUpstreamTimeout = std::chrono::milliseconds(2000);
constexpr std::size_t kMaxMessage = 65535;
constexpr std::size_t kHeaderLen = 12;
constexpr std::uint16_t kTypeSOA = 6;
constexpr std::uint16_t kTypeANY = 255;
constexpr int kBindAttempts = 8;

void set_id(std::vector<std::uint8_t> &msg, std::uint16_t id) noexcept
{
	if (msg.size() < 2)
		return;
	msg[0] = static_cast<std::uint8_t>(id >> 8);
	msg[1] = static_cast<std::uint8_t>(id & 0xff);
}

std::uint16_t get_id(std::span<const std::uint8_t> msg) noexcept
{
	return msg.size() < 2 ? 0 : static_cast<std::uint16_t>((msg[0] << 8) | msg[1]);
}

/* Completion of the detached coroutines: logs what escapes them (bad_alloc and the like). */
struct LogException {
	void operator()(const std::exception_ptr &e) const noexcept
	{
		if (!e)
			return;
		try {
			std::rethrow_exception(e);
		} catch (const std::exception &ex) {
			spdlog::warn("dns stub: {}", ex.what());
		} catch (...) {
			spdlog::warn("dns stub: unknown exception");
		}
	}
};
constexpr LogException log_exception{};

/* Increments a counter for its lifetime. */
class CountGuard {
public:
	explicit CountGuard(std::size_t &n) noexcept : n_(n) { ++n_; }
	CountGuard(const CountGuard &) = delete;
	CountGuard &operator=(const CountGuard &) = delete;
	CountGuard(CountGuard &&) = delete;
	CountGuard &operator=(CountGuard &&) = delete;
	~CountGuard() { --n_; }

private:
	std::size_t &n_;
};

} // namespace

struct DnsStub::Impl {
	/* Everything the coroutines use; they hold it by shared_ptr, so it outlives the DnsStub. */
	struct State {
		explicit State(asio::io_context &ctx) : io(ctx) {}

		asio::io_context &io;
		std::vector<std::unique_ptr<asio::ip::udp::socket>> udp;
		std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp;
		std::vector<ntm::Endpoint> local;
		std::vector<ntm::Endpoint> upstream;
		std::vector<ntm::Prefix> allow;
		std::vector<std::string> domains;
		DnsHook hook;
		DnsStubCounters counters;
		DnsCancelSet cancel;
		std::size_t inflight = 0;
		std::size_t tcp_clients = 0;
		bool started = false;
		bool stopped = false;
	};

	/* One TCP client: answers may complete out of order, writes are queued. */
	struct Conn : std::enable_shared_from_this<Conn> {
		Conn(std::shared_ptr<State> s, asio::ip::tcp::socket sk)
			: st(std::move(s)), sock(std::move(sk)), idle(sock.get_executor())
		{
			++st->tcp_clients;
		}
		Conn(const Conn &) = delete;
		Conn &operator=(const Conn &) = delete;
		Conn(Conn &&) = delete;
		Conn &operator=(Conn &&) = delete;
		~Conn()
		{
			st->cancel.remove(cancel_id);
			--st->tcp_clients;
		}

		void close() noexcept
		{
			std::error_code ignored;
			sock.close(ignored);
			try {
				idle.cancel();
			} catch (const std::system_error &) {
				/* nothing pending to cancel then */
			}
		}

		/* Closes the connection after kTcpIdle without a query and with nothing in flight. */
		void arm_idle()
		{
			idle.expires_after(kTcpIdle);
			idle.async_wait([w = weak_from_this()](const std::error_code &ec) {
				if (ec)
					return;
				const auto c = w.lock();
				if (!c)
					return;
				if (c->pending > 0 || c->writing)
					c->arm_idle();
				else
					c->close();
			});
		}

		void send(std::vector<std::uint8_t> msg)
		{
			if (msg.size() > kMaxMessage || !sock.is_open())
				return;
			out.push_back(std::move(msg));
			if (!writing) {
				writing = true;
				asio::co_spawn(sock.get_executor(), write_loop(shared_from_this()), log_exception);
			}
		}

		static awaitable<void> write_loop(std::shared_ptr<Conn> c)
		{
			while (!c->out.empty()) {
				const std::vector<std::uint8_t> msg = std::move(c->out.front());
				c->out.pop_front();
				const std::array<std::uint8_t, 2> len{static_cast<std::uint8_t>(msg.size() >> 8),
								      static_cast<std::uint8_t>(msg.size() & 0xff)};
				const std::array<asio::const_buffer, 2> bufs{asio::buffer(len), asio::buffer(msg)};
				std::error_code ec;
				co_await asio::async_write(c->sock, bufs, asio::redirect_error(use_awaitable, ec));
				if (ec) {
					c->out.clear();
					c->close();
				}
			}
			c->writing = false;
		}

		std::shared_ptr<State> st;
		asio::ip::tcp::socket sock;
		asio::steady_timer idle;
		std::deque<std::vector<std::uint8_t>> out;
		bool writing = false;
		std::size_t pending = 0;
		DnsCancelSet::Id cancel_id = 0;
	};

	static void bind(State &st, const ntm::Endpoint &ep);
	static awaitable<std::optional<std::vector<std::uint8_t>>> answer(std::shared_ptr<State> st,
									  std::vector<std::uint8_t> wire, bool tcp);
	static awaitable<std::optional<std::vector<std::uint8_t>>>
	forward(std::shared_ptr<State> st, std::vector<std::uint8_t> wire, dns::Question q, bool tcp);
	static awaitable<void> udp_loop(std::shared_ptr<State> st, std::size_t idx);
	static awaitable<void> udp_query(std::shared_ptr<State> st, std::size_t idx, std::vector<std::uint8_t> wire,
					 asio::ip::udp::endpoint from);
	static awaitable<void> tcp_accept_loop(std::shared_ptr<State> st, std::size_t idx);
	static awaitable<void> tcp_client(std::shared_ptr<State> st, asio::ip::tcp::socket sock);
	static awaitable<void> tcp_query(std::shared_ptr<Conn> c, std::vector<std::uint8_t> wire);

	std::shared_ptr<State> st;
};

void DnsStub::Impl::bind(State &st, const ntm::Endpoint &ep)
{
	const auto addr = to_asio(ep.address());
	std::error_code ec;
	for (int attempt = 0; attempt < kBindAttempts; attempt++) {
		auto us = std::make_unique<asio::ip::udp::socket>(st.io);
		const asio::ip::udp::endpoint uep(addr, ep.port());
		if (us->open(uep.protocol(), ec); !ec && addr.is_v6())
			us->set_option(asio::ip::v6_only(true), ec);
		if (!ec)
			us->bind(uep, ec);
		if (ec)
			throw ntm::Error("DNS stub: cannot bind UDP " + ep.to_string() + ": " + ec.message(),
					 ec.value());
		/* TCP on the port UDP got (the same one, unless listen asked for port 0) */
		const std::uint16_t port = us->local_endpoint().port();
		auto acc = std::make_unique<asio::ip::tcp::acceptor>(st.io);
		const asio::ip::tcp::endpoint tep(addr, port);
		if (acc->open(tep.protocol(), ec); !ec)
			acc->set_option(asio::socket_base::reuse_address(true), ec);
		if (!ec && addr.is_v6())
			acc->set_option(asio::ip::v6_only(true), ec);
		if (!ec)
			acc->bind(tep, ec);
		if (!ec)
			acc->listen(asio::socket_base::max_listen_connections, ec);
		if (ec && ep.port() == 0 && ec == asio::error::address_in_use)
			continue; /* the free UDP port is taken for TCP: try another */
		if (ec)
			throw ntm::Error("DNS stub: cannot bind TCP " + ntm::Endpoint(ep.address(), port).to_string() +
						 ": " + ec.message(),
					 ec.value());
		st.local.emplace_back(to_ntm(us->local_endpoint().address()), port);
		st.udp.push_back(std::move(us));
		st.tcp.push_back(std::move(acc));
		return;
	}
	throw ntm::Error("DNS stub: no free port for UDP and TCP on " + ep.to_string(), ec.value());
}

awaitable<std::optional<std::vector<std::uint8_t>>>
DnsStub::Impl::answer(std::shared_ptr<State> st, std::vector<std::uint8_t> wire, bool tcp)
{
	/* responses are never answered: two stubs must not bounce errors forever */
	if (wire.size() < kHeaderLen || (wire[2] & 0x80) != 0) {
		st->counters.malformed++;
		co_return std::nullopt;
	}
	auto q = dns::parse_query(wire);
	if (!q) {
		st->counters.malformed++;
		co_return std::nullopt;
	}
	if (q->qtype == 0) {
		st->counters.malformed++;
		const unsigned opcode = (wire[2] >> 3) & 0x0fU;
		co_return dns::build_error(wire, opcode != 0 ? dns::Rcode::notimp : dns::Rcode::formerr);
	}

	const std::string *domain = nullptr;
	for (const auto &d : st->domains)
		if (dns::in_domain(q->name, d) && (domain == nullptr || d.size() > domain->size()))
			domain = &d;
	/* the apex, its SOA and NS are the real DNS's business: forward them */
	const bool ours = domain != nullptr && q->qclass == dns::kClassIN && q->name != *domain &&
			  q->qtype != kTypeSOA && q->qtype != dns::kTypeNS;
	if (!ours)
		co_return co_await forward(std::move(st), std::move(wire), std::move(*q), tcp);

	if (q->qtype != dns::kTypeA && q->qtype != dns::kTypeAAAA && q->qtype != kTypeANY)
		co_return dns::build_answer(wire, dns::Rcode::noerror, {}, 0); /* NODATA */

	st->counters.hooked++;
	HookAnswer ha;
	try {
		const DnsHook hook = st->hook;
		if (hook)
			ha = co_await hook(*q);
	} catch (const std::exception &e) {
		spdlog::warn("dns stub: hook for {}: {}", q->name, e.what());
		ha = HookAnswer{};
	}
	if (st->stopped)
		co_return std::nullopt;
	co_return dns::build_answer(wire, ha.rcode, ha.addrs, ha.ttl);
}

awaitable<std::optional<std::vector<std::uint8_t>>>
DnsStub::Impl::forward(std::shared_ptr<State> st, std::vector<std::uint8_t> wire, dns::Question q, bool tcp)
{
	st->counters.forwarded++;
	const std::uint16_t client_id = q.id;
	const auto upstream = st->upstream; /* a copy: set_domains() may run meanwhile */
	for (const auto &server : upstream) {
		if (st->stopped)
			co_return std::nullopt;
		const std::uint16_t id = dns_random_id();
		set_id(wire, id);
		/* the reply must carry our id and the question (or be an error without one) */
		const auto check = [id, &q](std::span<const std::uint8_t> reply) {
			if (reply.size() < kHeaderLen || get_id(reply) != id)
				return false;
			if (dns::parse_response(reply, q.name, q.qtype))
				return true;
			const bool no_question = reply[4] == 0 && reply[5] == 0;
			return (reply[2] & 0x80) != 0 && (reply[3] & 0x0f) != 0 && no_question;
		};
		/* no co_await inside ?: (GCC 12 destroys its temporaries too early) */
		std::optional<std::vector<std::uint8_t>> reply;
		if (tcp)
			reply = co_await dns_exchange_tcp(server, wire, kUpstreamTimeout, check, &st->cancel);
		else
			reply = co_await dns_exchange_udp(server, wire, kUpstreamTimeout, check, &st->cancel);
		if (reply) {
			set_id(*reply, client_id);
			co_return reply;
		}
		spdlog::debug("dns stub: upstream {} did not answer {}", server.to_string(), q.name);
	}
	if (st->stopped)
		co_return std::nullopt;
	st->counters.upstream_failures++;
	set_id(wire, client_id);
	co_return dns::build_error(wire, dns::Rcode::servfail);
}

awaitable<void> DnsStub::Impl::udp_loop(std::shared_ptr<State> st, std::size_t idx)
{
	std::vector<std::uint8_t> buf(kMaxMessage);
	asio::ip::udp::endpoint from;
	for (;;) {
		asio::ip::udp::socket &sock = *st->udp[idx];
		if (st->stopped || !sock.is_open())
			co_return;
		std::error_code ec;
		const std::size_t n =
			co_await sock.async_receive_from(asio::buffer(buf), from, asio::redirect_error(use_awaitable, ec));
		if (st->stopped)
			co_return;
		if (ec) {
			if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
				co_return;
			spdlog::debug("dns stub: udp receive: {}", ec.message());
			continue;
		}
		if (!dns_client_allowed(st->allow, from.address())) {
			st->counters.refused++;
			continue;
		}
		st->counters.queries++;
		std::vector<std::uint8_t> wire(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
		if (st->inflight >= kMaxInflight) {
			st->counters.overloaded++;
			if (wire.size() >= kHeaderLen && (wire[2] & 0x80) == 0) {
				const auto err = dns::build_error(wire, dns::Rcode::servfail);
				sock.send_to(asio::buffer(err), from, 0, ec);
			}
			continue;
		}
		asio::co_spawn(st->io, udp_query(st, idx, std::move(wire), from), log_exception);
	}
}

awaitable<void> DnsStub::Impl::udp_query(std::shared_ptr<State> st, std::size_t idx, std::vector<std::uint8_t> wire,
					 asio::ip::udp::endpoint from)
{
	const CountGuard busy(st->inflight);
	const auto reply = co_await answer(st, std::move(wire), false);
	if (!reply || st->stopped)
		co_return;
	std::error_code ec;
	co_await st->udp[idx]->async_send_to(asio::buffer(*reply), from, asio::redirect_error(use_awaitable, ec));
	if (ec)
		spdlog::debug("dns stub: send to {}: {}", from.address().to_string(), ec.message());
}

awaitable<void> DnsStub::Impl::tcp_accept_loop(std::shared_ptr<State> st, std::size_t idx)
{
	for (;;) {
		asio::ip::tcp::acceptor &acc = *st->tcp[idx];
		if (st->stopped || !acc.is_open())
			co_return;
		std::error_code ec;
		asio::ip::tcp::socket sock = co_await acc.async_accept(asio::redirect_error(use_awaitable, ec));
		if (st->stopped)
			co_return;
		if (ec) {
			if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
				co_return;
			/* out of descriptors and the like: do not spin */
			spdlog::debug("dns stub: accept: {}", ec.message());
			asio::steady_timer pause(st->io, std::chrono::milliseconds(100));
			co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
			continue;
		}
		{
			std::error_code pe;
			const auto peer = sock.remote_endpoint(pe);
			if (pe || !dns_client_allowed(st->allow, peer.address())) {
				st->counters.refused++;
				sock.close(ec);
				continue;
			}
		}
		if (st->tcp_clients >= kMaxTcpClients) {
			st->counters.overloaded++;
			sock.close(ec);
			continue;
		}
		asio::co_spawn(st->io, tcp_client(st, std::move(sock)), log_exception);
	}
}

awaitable<void> DnsStub::Impl::tcp_client(std::shared_ptr<State> st, asio::ip::tcp::socket sock)
{
	auto c = std::make_shared<Conn>(st, std::move(sock));
	c->cancel_id = st->cancel.add([w = std::weak_ptr<Conn>(c)] {
		if (auto p = w.lock())
			p->close();
	});
	c->arm_idle();
	std::vector<std::uint8_t> wire;
	for (;;) {
		std::array<std::uint8_t, 2> len{};
		std::error_code ec;
		co_await asio::async_read(c->sock, asio::buffer(len), asio::redirect_error(use_awaitable, ec));
		if (!ec) {
			wire.resize(static_cast<std::size_t>((len[0] << 8) | len[1]));
			co_await asio::async_read(c->sock, asio::buffer(wire), asio::redirect_error(use_awaitable, ec));
		}
		if (ec || st->stopped)
			break; /* EOF: answers in flight are still written, then the socket closes */
		c->arm_idle();
		st->counters.queries++;
		if (st->inflight >= kMaxInflight) {
			st->counters.overloaded++;
			if (wire.size() >= kHeaderLen && (wire[2] & 0x80) == 0)
				c->send(dns::build_error(wire, dns::Rcode::servfail));
			continue;
		}
		asio::co_spawn(st->io, tcp_query(c, std::move(wire)), log_exception);
		wire = {};
	}
}

awaitable<void> DnsStub::Impl::tcp_query(std::shared_ptr<Conn> c, std::vector<std::uint8_t> wire)
{
	const CountGuard busy(c->st->inflight);
	const CountGuard pending(c->pending);
	auto reply = co_await answer(c->st, std::move(wire), true);
	if (reply && !c->st->stopped)
		c->send(std::move(*reply));
}

bool dns_client_allowed(const std::vector<ntm::Prefix> &allow, const asio::ip::address &from)
{
	if (from.is_loopback() || (from.is_v6() && from.to_v6().is_v4_mapped() &&
				   asio::ip::make_address_v4(asio::ip::v4_mapped, from.to_v6()).is_loopback()))
		return true;
	const ntm::IpAddress a = to_ntm(from);
	return std::ranges::any_of(allow, [&](const ntm::Prefix &p) { return p.contains(a); });
}

DnsStub::DnsStub(asio::io_context &io, const std::vector<ntm::Endpoint> &listen, std::vector<ntm::Endpoint> upstream,
		 std::vector<std::string> ntm_domains, std::vector<ntm::Prefix> allow, DnsHook hook)
	: impl_(std::make_unique<Impl>())
{
	impl_->st = std::make_shared<Impl::State>(io);
	auto &st = *impl_->st;
	st.upstream = std::move(upstream);
	st.allow = std::move(allow);
	st.hook = std::move(hook);
	set_domains(std::move(ntm_domains));
	for (const auto &ep : listen)
		Impl::bind(st, ep);
}

DnsStub::~DnsStub()
{
	stop();
}

void DnsStub::start()
{
	auto &st = impl_->st;
	if (st->started || st->stopped)
		return;
	st->started = true;
	for (std::size_t i = 0; i < st->udp.size(); i++) {
		asio::co_spawn(st->io, Impl::udp_loop(st, i), log_exception);
		asio::co_spawn(st->io, Impl::tcp_accept_loop(st, i), log_exception);
	}
	for (const auto &ep : st->local)
		spdlog::info("dns stub: listening on {} (UDP and TCP)", ep.to_string());
}

void DnsStub::stop()
{
	if (!impl_ || !impl_->st)
		return;
	auto &st = *impl_->st;
	if (st.stopped)
		return;
	st.stopped = true;
	std::error_code ignored;
	for (auto &s : st.udp)
		s->close(ignored);
	for (auto &a : st.tcp)
		a->close(ignored);
	st.cancel.cancel_all(); /* TCP clients and upstream exchanges */
}

void DnsStub::set_domains(std::vector<std::string> ntm_domains)
{
	std::vector<std::string> out;
	for (auto &d : ntm_domains) {
		d = dns::normalize_name(d);
		if (!d.empty() && std::find(out.begin(), out.end(), d) == out.end())
			out.push_back(std::move(d)); /* never the root: that would hook every name */
	}
	impl_->st->domains = std::move(out);
}

std::vector<std::string> DnsStub::domains() const
{
	return impl_->st->domains;
}

void DnsStub::set_upstream(std::vector<ntm::Endpoint> upstream)
{
	impl_->st->upstream = std::move(upstream);
}

std::vector<ntm::Endpoint> DnsStub::upstream() const
{
	return impl_->st->upstream;
}

void DnsStub::add_listener(const ntm::Endpoint &ep)
{
	auto &st = impl_->st;
	if (st->stopped)
		return;
	Impl::bind(*st, ep);
	const std::size_t i = st->udp.size() - 1;
	/* the source of a query from this host to a non-loopback address is that address */
	const std::uint8_t host = ep.address().is_v4() ? 32 : 128;
	st->allow.push_back(ntm::Prefix{ep.address(), host});
	if (st->started) {
		asio::co_spawn(st->io, Impl::udp_loop(st, i), log_exception);
		asio::co_spawn(st->io, Impl::tcp_accept_loop(st, i), log_exception);
		spdlog::info("dns stub: listening on {} (UDP and TCP)", st->local[i].to_string());
	}
}

void DnsStub::remove_listener(const ntm::Endpoint &ep)
{
	auto &st = *impl_->st;
	std::error_code ignored;
	/* the sockets stay in their slots (the loops index them): closed, they end their loops */
	for (std::size_t i = 0; i < st.local.size(); i++)
		if (st.local[i] == ep && st.udp[i]->is_open()) {
			st.udp[i]->close(ignored);
			st.tcp[i]->close(ignored);
		}
	const std::uint8_t host = ep.address().is_v4() ? 32 : 128;
	std::erase(st.allow, ntm::Prefix{ep.address(), host});
}

const DnsStubCounters &DnsStub::counters() const noexcept
{
	return impl_->st->counters;
}

std::vector<ntm::Endpoint> DnsStub::local_endpoints() const
{
	return impl_->st->local;
}

} // namespace ntmd
