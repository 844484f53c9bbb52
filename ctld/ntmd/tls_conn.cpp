// SPDX-License-Identifier: GPL-2.0
#include "tls_conn.hpp"

#include <algorithm>
#include <utility>

#include <openssl/x509.h>

#include <asio/ip/v6_only.hpp>

#include "ntm/dns.hpp"
#include "ntm/error.hpp"

namespace ntmd::tls {

using asio::awaitable;
using asio::use_awaitable;
using ntm::sig::Message;
using ntm::sig::MsgType;

std::string peer_of(const tcp::socket &s)
{
	std::error_code ec;
	const tcp::endpoint e = s.remote_endpoint(ec);
	if (ec)
		return "?";
	return e.address().to_string();
}

/* Listening TCP sockets for every configured address. */
std::vector<tcp::acceptor> open_acceptors(asio::io_context &io, const std::vector<ntm::Endpoint> &eps, const char *what)
{
	std::vector<tcp::acceptor> out;
	for (const ntm::Endpoint &ep : eps) {
		const tcp::endpoint e = to_asio<tcp>(ep);
		tcp::acceptor a(io);
		std::error_code ec;
		a.open(e.protocol(), ec);
		if (!ec)
			a.set_option(tcp::acceptor::reuse_address(true), ec);
		if (!ec && e.address().is_v6())
			a.set_option(asio::ip::v6_only(true), ec);
		if (!ec)
			a.bind(e, ec);
		if (!ec)
			a.listen(asio::socket_base::max_listen_connections, ec);
		if (ec)
			throw ntm::Error(std::string(what) + " " + ep.to_string() + ": " + ec.message(), ec.value());
		out.push_back(std::move(a));
	}
	if (out.empty())
		throw ntm::Error(std::string(what) + ": no address to listen on");
	return out;
}

std::vector<ntm::Endpoint> bound(const std::vector<tcp::acceptor> &acceptors)
{
	std::vector<ntm::Endpoint> out;
	for (const tcp::acceptor &a : acceptors) {
		std::error_code ec;
		const tcp::endpoint e = a.local_endpoint(ec);
		if (!ec)
			out.push_back(to_ntm(e));
	}
	return out;
}

void cancel_timer(asio::steady_timer &t) noexcept
{
	try {
		t.cancel();
	} catch (const std::exception &) {
		/* only fails when the reactor is gone: nothing left to wake */
	}
}

void close_stream(Stream &s) noexcept
{
	std::error_code ignored;
	s.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
	s.lowest_layer().close(ignored);
}

namespace {

/* Why verification of the peer failed, when it did. */
std::string handshake_error(Stream &s, const std::error_code &ec)
{
	const long v = SSL_get_verify_result(s.native_handle());
	if (v != X509_V_OK)
		return std::string("certificate verification failed: ") + X509_verify_cert_error_string(v);
	return ec.message();
}

} // namespace

/* TCP to the first endpoint that answers, then the TLS handshake as a client. */
awaitable<std::shared_ptr<Stream>> connect_tls(asio::any_io_executor ex, asio::ssl::context &ctx,
						    const std::vector<ntm::Endpoint> &eps, const std::string &host)
{
	std::string errors;
	for (const ntm::Endpoint &ep : eps) {
		auto s = std::make_shared<Stream>(ex, ctx);
		std::error_code ec;
		{
			const Watchdog w(ex, s, kConnectTimeout);
			co_await s->lowest_layer().async_connect(to_asio<tcp>(ep), asio::redirect_error(use_awaitable, ec));
			if (ec) {
				errors += (errors.empty() ? "" : ", ") + ep.to_string() + ": " +
					  (w.fired() ? std::string("timed out") : ec.message());
				continue;
			}
		}
		s->lowest_layer().set_option(tcp::no_delay(true), ec);
		set_verify_host(*s, host);
		{
			const Watchdog w(ex, s, kHandshakeTimeout);
			co_await s->async_handshake(asio::ssl::stream_base::client,
						    asio::redirect_error(use_awaitable, ec));
			if (ec)
				throw ntm::Error(host + " (" + ep.to_string() + "): TLS handshake: " +
						 (w.fired() ? std::string("timed out") : handshake_error(*s, ec)));
		}
		co_return s;
	}
	throw ntm::Error("cannot connect to " + host + (errors.empty() ? std::string() : ": " + errors));
}

/* The 8-byte body header of an undecodable request, enough to answer it. */
std::optional<Message> request_header(std::span<const std::uint8_t> body, MsgType expect)
{
	if (body.size() < ntm::sig::kBodyHeaderLen)
		return std::nullopt;
	if (body[1] != static_cast<std::uint8_t>(expect) || (body[2] & ntm::sig::kFlagResponse) != 0)
		return std::nullopt;
	Message m;
	m.type = expect;
	m.txid = (std::uint32_t{body[4]} << 24) | (std::uint32_t{body[5]} << 16) | (std::uint32_t{body[6]} << 8) |
		 std::uint32_t{body[7]};
	return m;
}

/* Cuts an ERROR_TEXT to what a TLV holds, on a UTF-8 character boundary. */
std::string clip(std::string s)
{
	if (s.size() <= kMaxErrorText)
		return s;
	std::size_t n = kMaxErrorText;
	while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0U) == 0x80U)
		--n;
	s.resize(n);
	return s;
}

std::string join(const std::vector<std::string> &v)
{
	std::string out;
	for (const std::string &s : v)
		out += (out.empty() ? "" : ", ") + s;
	return out.empty() ? std::string("none") : out;
}

void close_acceptors(std::vector<tcp::acceptor> &acceptors) noexcept
{
	for (tcp::acceptor &a : acceptors) {
		std::error_code ignored;
		a.close(ignored);
	}
}

/* Encodes and writes a response, wiping the encoded copy. */
awaitable<void> send_message(const asio::any_io_executor &ex, const std::shared_ptr<Stream> &s, const Message &m)
{
	const WipedBytes out(ntm::sig::encode(m));
	const Watchdog w(ex, s, kWriteTimeout);
	co_await write_frame(*s, out.v);
}

Watchdog::Watchdog(const asio::any_io_executor &ex, const std::shared_ptr<Stream> &s,
		   std::chrono::steady_clock::duration d)
    : timer_(ex)
{
	timer_.expires_after(d);
	timer_.async_wait([w = std::weak_ptr<Stream>(s), fired = fired_](std::error_code ec) {
		if (ec)
			return;
		*fired = true;
		if (auto p = w.lock()) {
			std::error_code ignored;
			p->lowest_layer().close(ignored);
		}
	});
}

Watchdog::~Watchdog()
{
	cancel_timer(timer_);
}

std::uint64_t ConnSet::add(const std::shared_ptr<Stream> &s)
{
	const std::uint64_t id = next_++;
	conns_.emplace(id, s);
	return id;
}

void ConnSet::close_all() noexcept
{
	for (auto &[id, w] : conns_)
		if (auto s = w.lock())
			close_stream(*s);
}

awaitable<void> serve_trusted(std::shared_ptr<Stream> s, const std::string &peer, const std::vector<std::string> &trusted,
			      const char *role, const char *what, FrameHandler handle, const bool &stopped)
{
	const asio::any_io_executor ex = s->get_executor();
	try {
		{
			const Watchdog w(ex, s, kHandshakeTimeout);
			co_await s->async_handshake(asio::ssl::stream_base::server, use_awaitable);
		}
		const std::vector<std::string> names = peer_dns_names(*s);
		const auto it = std::find_first_of(names.begin(), names.end(), trusted.begin(), trusted.end());
		if (it == names.end()) {
			spdlog::warn("{}: {} from {}: untrusted certificate (names {})", role, what, peer, join(names));
			close_stream(*s);
			co_return;
		}
		const std::string name = *it;
		spdlog::info("{}: {} connected from {}", role, name, peer);
		for (;;) {
			auto in = co_await read_frame_or_eof(*s);
			if (!in)
				break;
			const WipedBytes body(std::move(*in));
			const std::optional<Message> resp = handle(body.v, name);
			if (!resp)
				break;
			co_await send_message(ex, s, *resp);
		}
		spdlog::info("{}: {} ({}) disconnected", role, name, peer);
	} catch (const std::exception &e) {
		if (!stopped)
			spdlog::info("{}: {} connection from {}: {}", role, what, peer, e.what());
	}
	close_stream(*s);
}

/* ---- TlsLink ---- */

TlsLink::TlsLink(asio::io_context &io, asio::ssl::context &ctx, Resolver &resolver, ntm::config::HostPort hp,
		 std::string who)
    : io_(io), ctx_(ctx), resolver_(resolver), hp_(std::move(hp)), who_(std::move(who))
{}

void TlsLink::close() noexcept
{
	closed_ = true;
	if (stream_)
		close_stream(*stream_);
	stream_.reset();
	for (const auto &t : waiters_)
		cancel_timer(*t);
}

awaitable<void> TlsLink::acquire()
{
	while (busy_) {
		if (closed_)
			throw ntm::Error(hp_.to_string() + ": closed");
		auto t = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
		waiters_.push_back(t);
		std::error_code ec;
		co_await t->async_wait(asio::redirect_error(use_awaitable, ec));
	}
	if (closed_)
		throw ntm::Error(hp_.to_string() + ": closed");
	busy_ = true;
}

void TlsLink::release() noexcept
{
	busy_ = false;
	if (!waiters_.empty()) {
		cancel_timer(*waiters_.front());
		waiters_.pop_front();
	}
}

awaitable<Message> TlsLink::exchange(const Message &req, std::chrono::steady_clock::duration timeout)
{
	const auto self = shared_from_this();
	co_await acquire();
	struct Releaser {
		TlsLink &l;
		explicit Releaser(TlsLink &link) : l(link) {}
		Releaser(const Releaser &) = delete;
		Releaser &operator=(const Releaser &) = delete;
		Releaser(Releaser &&) = delete;
		Releaser &operator=(Releaser &&) = delete;
		~Releaser() { l.release(); }
	} const releaser{*this};

	const std::string where = hp_.to_string();
	const WipedBytes out(ntm::sig::encode(req));
	for (int attempt = 0;; ++attempt) {
		if (closed_)
			throw ntm::Error(where + ": closed");
		const bool fresh = !stream_;
		if (fresh) {
			const std::vector<ntm::Endpoint> eps = co_await resolver_.resolve(hp_);
			stream_ = co_await connect_tls(io_.get_executor(), ctx_, eps, hp_.host);
			spdlog::info("{}: connected to {}", who_, where);
		}
		const std::shared_ptr<Stream> s = stream_;
		std::string error;
		bool timed_out = false;
		std::optional<Message> result;
		{
			const Watchdog w(io_.get_executor(), s, timeout);
			try {
				co_await write_frame(*s, out.v);
				const WipedBytes in(co_await read_frame(*s));
				Message resp = ntm::sig::decode(in.v);
				ntm::sig::validate(resp);
				if (resp.type != req.type || !resp.response || resp.txid != req.txid || !resp.status)
					throw ntm::Error("unexpected " + ntm::sig::message_name(resp.type, resp.response));
				result = std::move(resp);
			} catch (const std::exception &e) {
				error = e.what();
			}
			timed_out = w.fired();
		}
		if (result)
			co_return std::move(*result);
		close_stream(*s);
		if (stream_ == s)
			stream_.reset();
		if (timed_out)
			error = fmt::format("no answer within {} ms",
					    std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
		if (fresh || attempt > 0 || timed_out || closed_)
			throw ntm::Error(fmt::format("{}: {}", where, error));
		spdlog::info("{}: connection to {} lost ({}), reconnecting", who_, where, error);
	}
}

} // namespace ntmd::tls
