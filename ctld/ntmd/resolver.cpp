// SPDX-License-Identifier: GPL-2.0
#include "resolver.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <exception>
#include <string_view>
#include <tuple>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include "addr.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

constexpr int kTriesPerServer = 3;
constexpr std::size_t kMaxMessage = 65535;

/* Closes a socket at a deadline or on cancel; unregisters on scope exit. */
template <typename Socket> class Watchdog {
public:
	Watchdog(Socket &s, std::chrono::milliseconds timeout, DnsCancelSet *cancel)
		: sock_(s), timer_(s.get_executor(), timeout), deadline_(Clock::now() + timeout), cancel_(cancel)
	{
		timer_.async_wait([&s](const std::error_code &ec) {
			if (!ec) {
				std::error_code ignored;
				s.close(ignored);
			}
		});
		if (cancel_ != nullptr)
			id_ = cancel_->add([&s] {
				std::error_code ignored;
				s.close(ignored);
			});
	}
	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;
	Watchdog(Watchdog &&) = delete;
	Watchdog &operator=(Watchdog &&) = delete;
	~Watchdog()
	{
		if (cancel_ != nullptr)
			cancel_->remove(id_);
		try {
			timer_.cancel();
		} catch (const std::system_error &) {
			/* the timer goes with this object anyway */
		}
	}
	/* The timer handler may have run while no operation was pending. */
	[[nodiscard]] bool expired() const { return Clock::now() >= deadline_ || !sock_.is_open(); }

private:
	Socket &sock_;
	asio::steady_timer timer_;
	Clock::time_point deadline_;
	DnsCancelSet *cancel_;
	DnsCancelSet::Id id_ = 0;
};

std::string type_name(std::uint16_t qtype)
{
	switch (qtype) {
	case ntm::dns::kTypeA:
		return "A";
	case ntm::dns::kTypeAAAA:
		return "AAAA";
	case ntm::dns::kTypeNS:
		return "NS";
	default:
		return "TYPE" + std::to_string(qtype);
	}
}

std::string rcode_name(ntm::dns::Rcode rc)
{
	switch (rc) {
	case ntm::dns::Rcode::noerror:
		return "NOERROR";
	case ntm::dns::Rcode::formerr:
		return "FORMERR";
	case ntm::dns::Rcode::servfail:
		return "SERVFAIL";
	case ntm::dns::Rcode::nxdomain:
		return "NXDOMAIN";
	case ntm::dns::Rcode::notimp:
		return "NOTIMP";
	case ntm::dns::Rcode::refused:
		return "REFUSED";
	}
	return "RCODE" + std::to_string(static_cast<unsigned>(rc));
}

/* A literal address, with or without [brackets]; nullopt for a name. */
std::optional<ntm::IpAddress> literal_address(std::string_view s)
{
	if (s.size() > 2 && s.front() == '[' && s.back() == ']')
		s = s.substr(1, s.size() - 2);
	try {
		return ntm::parse_address(s);
	} catch (const ntm::UsageError &) {
		return std::nullopt;
	}
}

/* What one question brought: a response, or why there is none. */
struct Outcome {
	std::optional<ntm::dns::Response> response;
	std::string error;
};

} // namespace

DnsCancelSet::Id DnsCancelSet::add(std::function<void()> f)
{
	if (cancelled_) {
		f();
		return 0;
	}
	const Id id = next_++;
	fns_.emplace(id, std::move(f));
	return id;
}

void DnsCancelSet::remove(Id id) noexcept
{
	fns_.erase(id);
}

void DnsCancelSet::cancel_all() noexcept
{
	cancelled_ = true;
	/* a function may remove entries: run them from a moved-out copy */
	auto fns = std::move(fns_);
	fns_.clear();
	for (auto &[id, f] : fns) {
		try {
			f();
		} catch (const std::exception &e) {
			spdlog::debug("dns: cancel: {}", e.what());
		}
	}
}

std::uint16_t dns_random_id()
{
	std::array<unsigned char, 2> b{};
	if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
		throw ntm::Error("DNS: RAND_bytes failed");
	return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

awaitable<std::optional<std::vector<std::uint8_t>>> dns_exchange_udp(ntm::Endpoint server,
								     std::vector<std::uint8_t> msg,
								     std::chrono::milliseconds timeout,
								     DnsReplyCheck check, DnsCancelSet *cancel)
{
	const auto ex = co_await asio::this_coro::executor;
	const asio::ip::udp::endpoint ep(to_asio(server.address()), server.port());
	asio::ip::udp::socket sock(ex);
	std::error_code ec;
	/* a fresh socket per exchange: connect() gives it a random source port and filters other sources */
	if (sock.open(ep.protocol(), ec); !ec)
		sock.connect(ep, ec);
	if (ec) {
		spdlog::debug("dns: {}: {}", server.to_string(), ec.message());
		co_return std::nullopt;
	}
	const Watchdog<asio::ip::udp::socket> dog(sock, timeout, cancel);
	co_await sock.async_send(asio::buffer(msg), asio::redirect_error(use_awaitable, ec));
	if (ec) {
		spdlog::debug("dns: send to {}: {}", server.to_string(), ec.message());
		co_return std::nullopt;
	}
	std::vector<std::uint8_t> buf(kMaxMessage);
	while (!dog.expired()) {
		const std::size_t n =
			co_await sock.async_receive(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
		if (ec) {
			if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
				spdlog::debug("dns: receive from {}: {}", server.to_string(), ec.message());
			co_return std::nullopt;
		}
		const std::span<const std::uint8_t> reply(buf.data(), n);
		if (check(reply))
			co_return std::vector<std::uint8_t>(reply.begin(), reply.end());
		spdlog::debug("dns: ignored a stray reply from {}", server.to_string());
	}
	co_return std::nullopt;
}

awaitable<std::optional<std::vector<std::uint8_t>>> dns_exchange_tcp(ntm::Endpoint server,
								     std::vector<std::uint8_t> msg,
								     std::chrono::milliseconds timeout,
								     DnsReplyCheck check, DnsCancelSet *cancel)
{
	if (msg.size() > kMaxMessage)
		co_return std::nullopt;
	const auto ex = co_await asio::this_coro::executor;
	const asio::ip::tcp::endpoint ep(to_asio(server.address()), server.port());
	asio::ip::tcp::socket sock(ex);
	std::error_code ec;
	if (sock.open(ep.protocol(), ec); ec)
		co_return std::nullopt;
	const Watchdog<asio::ip::tcp::socket> dog(sock, timeout, cancel);
	co_await sock.async_connect(ep, asio::redirect_error(use_awaitable, ec));
	if (ec || dog.expired()) {
		spdlog::debug("dns: connect to {}: {}", server.to_string(), ec ? ec.message() : "timeout");
		co_return std::nullopt;
	}
	const std::array<std::uint8_t, 2> len{static_cast<std::uint8_t>(msg.size() >> 8),
					      static_cast<std::uint8_t>(msg.size() & 0xff)};
	const std::array<asio::const_buffer, 2> out{asio::buffer(len), asio::buffer(msg)};
	co_await asio::async_write(sock, out, asio::redirect_error(use_awaitable, ec));
	/* a server may answer several replies on the connection: skip the ones check refuses */
	std::vector<std::uint8_t> buf;
	while (!ec && !dog.expired()) {
		std::array<std::uint8_t, 2> rlen{};
		co_await asio::async_read(sock, asio::buffer(rlen), asio::redirect_error(use_awaitable, ec));
		if (ec)
			break;
		buf.resize(static_cast<std::size_t>((rlen[0] << 8) | rlen[1]));
		co_await asio::async_read(sock, asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
		if (ec)
			break;
		if (check(buf))
			co_return buf;
	}
	if (ec && ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
		spdlog::debug("dns: tcp {}: {}", server.to_string(), ec.message());
	co_return std::nullopt;
}

Resolver::Resolver(asio::io_context &io, std::vector<ntm::Endpoint> servers) : io_(io), servers_(std::move(servers))
{
}

awaitable<ntm::dns::Response> Resolver::query(std::string name, std::uint16_t qtype)
{
	using ntm::dns::Rcode;
	if (servers_.empty())
		throw ntm::Error("DNS: no name server configured to look up " + name);
	const std::string what = name + " " + type_name(qtype);
	std::string last_error = "no answer";
	for (const auto &server : servers_) {
		for (int attempt = 0; attempt < kTriesPerServer; attempt++) {
			const std::uint16_t id = dns_random_id();
			const auto check = [id, &name, qtype](std::span<const std::uint8_t> reply) {
				const auto r = ntm::dns::parse_response(reply, name, qtype);
				return r && r->id == id;
			};
			auto reply = co_await asio::co_spawn(
				io_, dns_exchange_udp(server, ntm::dns::build_query(id, name, qtype), timeout_, check),
				use_awaitable);
			if (!reply) {
				last_error = server.to_string() + ": no answer";
				continue;
			}
			auto resp = ntm::dns::parse_response(*reply, name, qtype);
			if (resp && resp->truncated) {
				spdlog::debug("dns: {} truncated by {}: retrying over TCP", what, server.to_string());
				const std::uint16_t tid = dns_random_id();
				const auto tcheck = [tid, &name, qtype](std::span<const std::uint8_t> r) {
					const auto p = ntm::dns::parse_response(r, name, qtype);
					return p && p->id == tid;
				};
				reply = co_await asio::co_spawn(
					io_,
					dns_exchange_tcp(server, ntm::dns::build_query(tid, name, qtype), timeout_,
							 tcheck),
					use_awaitable);
				if (!reply) {
					last_error = server.to_string() + ": no answer over TCP";
					continue;
				}
				resp = ntm::dns::parse_response(*reply, name, qtype);
			}
			if (!resp)
				continue; /* cannot happen: check parsed it */
			if (resp->rcode != Rcode::noerror && resp->rcode != Rcode::nxdomain) {
				last_error = server.to_string() + ": " + rcode_name(resp->rcode);
				break; /* a server that failed will fail again: next server */
			}
			co_return std::move(*resp);
		}
	}
	throw ntm::Error("DNS: cannot look up " + what + ": " + last_error);
}

awaitable<std::vector<ntm::IpAddress>> Resolver::addresses(std::string name)
{
	using namespace asio::experimental::awaitable_operators;
	if (auto lit = literal_address(name))
		co_return std::vector<ntm::IpAddress>{*lit};
	name = ntm::dns::normalize_name(name);

	/* never throws, so that one family failing does not cancel the other */
	auto ask = [this](std::string n, std::uint16_t qtype) -> awaitable<Outcome> {
		Outcome o;
		try {
			o.response = co_await query(std::move(n), qtype);
		} catch (const std::exception &e) {
			o.error = e.what();
		}
		co_return o;
	};
	auto [v4, v6] = co_await (ask(name, ntm::dns::kTypeA) && ask(name, ntm::dns::kTypeAAAA));
	if (!v4.response && !v6.response)
		throw ntm::Error(v4.error);
	std::vector<ntm::IpAddress> out;
	for (const Outcome *o : {&v4, &v6}) {
		if (!o->response)
			continue;
		for (const auto &a : o->response->addrs)
			if (std::find(out.begin(), out.end(), a) == out.end())
				out.push_back(a);
	}
	co_return out;
}

awaitable<std::string> Resolver::find_ns(std::string fqdn)
{
	const std::string name = ntm::dns::normalize_name(fqdn);
	for (std::string zone = name; !zone.empty(); zone = ntm::dns::parent_domain(zone)) {
		const auto resp = co_await query(zone, ntm::dns::kTypeNS);
		if (!resp.ns_names.empty()) {
			auto ns = *std::min_element(resp.ns_names.begin(), resp.ns_names.end());
			spdlog::debug("dns: NS of {}: {} (zone {})", name, ns, zone);
			co_return ns;
		}
	}
	throw ntm::Error("no NS record for " + name);
}

awaitable<std::vector<ntm::Endpoint>> Resolver::resolve(ntm::config::HostPort hp)
{
	std::vector<ntm::Endpoint> out;
	const auto addrs = co_await addresses(hp.host);
	out.reserve(addrs.size());
	for (const auto &a : addrs)
		out.emplace_back(a, hp.port);
	if (out.empty())
		throw ntm::Error("DNS: " + hp.host + " has no address");
	co_return out;
}

} // namespace ntmd
