// SPDX-License-Identifier: GPL-2.0
#include "metrics_http.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <optional>
#include <set>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"
#include "tls_conn.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using Tcp = asio::ip::tcp;

constexpr unsigned kMaxConnections = 8;
constexpr auto kRequestTimeout = std::chrono::seconds(10);

/* RFC 9110 tchar */
bool is_tchar(char c) noexcept
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept
{
	return !s.empty() && std::ranges::all_of(s, is_tchar);
}

/* a header field value: visible ASCII, SP, HTAB, obs-text */
bool is_field_value(std::string_view s) noexcept
{
	return std::ranges::all_of(s, [](char c) {
		const auto u = static_cast<unsigned char>(c);
		return u == '\t' || (u >= 0x20U && u != 0x7fU);
	});
}

const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

} // namespace

HttpRequest parse_http_request(std::string_view data, std::size_t max)
{
	HttpRequest r;
	/* the end of the head: an empty line */
	std::size_t end = std::string_view::npos;
	for (std::size_t i = data.find('\n'); i != std::string_view::npos; i = data.find('\n', i + 1)) {
		if (i + 1 < data.size() && data[i + 1] == '\n') {
			end = i + 2;
			break;
		}
		if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') {
			end = i + 3;
			break;
		}
	}
	if (end == std::string_view::npos || end > max) {
		r.result = data.size() >= max ? HttpRequest::Result::too_large : HttpRequest::Result::incomplete;
		return r;
	}
	const std::string_view head = data.substr(0, end);
	r.result = HttpRequest::Result::bad;
	std::size_t pos = 0;
	auto next_line = [&](std::string_view &line) {
		const auto nl = head.find('\n', pos);
		if (nl == std::string_view::npos)
			return false;
		line = head.substr(pos, nl - pos);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		pos = nl + 1;
		return true;
	};
	std::string_view line;
	if (!next_line(line))
		return r;
	/* method SP target SP version */
	const auto sp1 = line.find(' ');
	if (sp1 == std::string_view::npos)
		return r;
	const auto sp2 = line.find(' ', sp1 + 1);
	if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
		return r;
	const auto method = line.substr(0, sp1);
	const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
	const auto version = line.substr(sp2 + 1);
	if (!is_token(method) || target.empty() || target.front() != '/')
		return r;
	if (!std::ranges::all_of(target, [](char c) { return c > 0x20 && c < 0x7f; }))
		return r;
	if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' || version[5] < '0' ||
	    version[5] > '9' || version[7] < '0' || version[7] > '9')
		return r;
	/* header fields up to the empty line */
	for (;;) {
		if (!next_line(line))
			return r;
		if (line.empty())
			break;
		if (line.front() == ' ' || line.front() == '\t')
			return r; /* obs-fold */
		const auto colon = line.find(':');
		if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) ||
		    !is_field_value(line.substr(colon + 1)))
			return r;
	}
	if (version != "HTTP/1.1" && version != "HTTP/1.0") {
		r.result = HttpRequest::Result::version;
		return r;
	}
	r.method = std::string(method);
	r.target = std::string(target.substr(0, target.find('?')));
	r.result = HttpRequest::Result::ok;
	return r;
}

std::optional<HttpAnswer> http_refusal(const HttpRequest &req)
{
	switch (req.result) {
	case HttpRequest::Result::ok:
		break;
	case HttpRequest::Result::too_large:
		return HttpAnswer{431, "request head too large\n"};
	case HttpRequest::Result::version:
		return HttpAnswer{505, "HTTP/1.1 only\n"};
	default:
		return HttpAnswer{400, "malformed request\n"};
	}
	if (req.target != "/metrics")
		return HttpAnswer{404, "ntmd serves /metrics only\n"};
	if (req.method != "GET")
		return HttpAnswer{405, "GET only\n"};
	return std::nullopt;
}

HttpAnswer answer_http(const HttpRequest &req, const std::function<std::string()> &render)
{
	if (auto refused = http_refusal(req))
		return *refused;
	return {200, render()};
}

std::string http_response(const HttpAnswer &a)
{
	std::string out = fmt::format("HTTP/1.1 {} {}\r\n", a.status, reason(a.status));
	if (a.status == 200)
		out += "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
	else
		out += "Content-Type: text/plain; charset=utf-8\r\n";
	if (a.status == 405)
		out += "Allow: GET\r\n";
	out += fmt::format("Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n", a.body.size());
	out += a.body;
	return out;
}

/* ---- the server ---- */

struct MetricsServer::Impl : std::enable_shared_from_this<MetricsServer::Impl> {
	struct Conn {
		explicit Conn(Tcp::socket s, asio::io_context &io) : sock(std::move(s)), deadline(io) {}
		Tcp::socket sock;
		asio::steady_timer deadline;
	};

	/* the TLS servers' listener (tls_conn.hpp): v6-only for an IPv6 address, throws ntm::Error */
	Impl(asio::io_context &io_, const ntm::Endpoint &listen, Render r)
	    : io(io_), acceptor(std::move(tls::open_acceptors(io_, {listen}, "metrics: listen on").front())),
	      render(std::move(r))
	{}

	asio::io_context &io;
	Tcp::acceptor acceptor;
	Render render;
	std::set<std::shared_ptr<Conn>> conns;
	bool stopped = false;
	std::uint64_t scrapes = 0;
	std::uint64_t errors = 0;

	/* the connection closes kRequestTimeout from now unless cancelled or armed again */
	static void arm(const std::shared_ptr<Conn> &c)
	{
		c->deadline.expires_after(kRequestTimeout);
		c->deadline.async_wait([c](const asio::error_code &ec) {
			if (!ec) {
				asio::error_code ignored;
				c->sock.close(ignored);
			}
		});
	}

	awaitable<void> serve(std::shared_ptr<Conn> c)
	{
		auto self = shared_from_this();
		arm(c); /* for the request head */
		std::string data;
		std::array<char, 2048> buf{};
		HttpRequest req;
		for (;;) {
			asio::error_code ec;
			const std::size_t n =
				co_await c->sock.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
			if (ec)
				break;
			data.append(buf.data(), n);
			req = parse_http_request(data);
			if (req.result != HttpRequest::Result::incomplete)
				break;
		}
		if (req.result != HttpRequest::Result::incomplete && !stopped) {
			HttpAnswer a;
			if (auto refused = http_refusal(req)) {
				a = std::move(*refused);
			} else {
				/* the render's own time (a kernel dump) is not the client's: no deadline */
				c->deadline.cancel();
				try {
					/* not in a braced list: GCC 12 frees the awaited string too early there */
					std::string body = co_await render();
					a = HttpAnswer{200, std::move(body)};
				} catch (const std::exception &e) {
					spdlog::warn("metrics: {}", e.what());
					a = {500, "internal error\n"};
				}
				if (!stopped)
					arm(c); /* for the answer */
			}
			if (a.status == 200)
				scrapes++;
			else
				errors++;
			const std::string out = http_response(a);
			asio::error_code ec;
			co_await asio::async_write(c->sock, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
			if (!ec)
				(void)c->sock.shutdown(Tcp::socket::shutdown_send, ec);
		} else {
			errors++; /* closed or timed out before a whole request */
		}
		c->deadline.cancel();
		asio::error_code ignored;
		c->sock.close(ignored);
		conns.erase(c);
	}

	awaitable<void> accept_loop()
	{
		auto self = shared_from_this();
		for (;;) {
			asio::error_code ec;
			Tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
			if (stopped || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
				co_return;
			if (ec)
				continue;
			if (conns.size() >= kMaxConnections) {
				errors++;
				continue; /* s closes */
			}
			auto c = std::make_shared<Conn>(std::move(s), io);
			conns.insert(c);
			asio::co_spawn(io, serve(c), asio::detached);
		}
	}
};

MetricsServer::MetricsServer(asio::io_context &io, const ntm::Endpoint &listen, Render render)
    : impl_(std::make_shared<Impl>(io, listen, std::move(render)))
{}

MetricsServer::~MetricsServer()
{
	try {
		stop();
	} catch (...) {
		/* closing never throws with error codes; nothing to report from a destructor */
	}
}

void MetricsServer::start()
{
	asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

void MetricsServer::stop()
{
	if (impl_->stopped)
		return;
	impl_->stopped = true;
	asio::error_code ignored;
	impl_->acceptor.close(ignored);
	for (const auto &c : impl_->conns) {
		c->deadline.cancel();
		c->sock.close(ignored);
	}
}

std::uint16_t MetricsServer::port() const
{
	asio::error_code ec;
	return impl_->acceptor.local_endpoint(ec).port();
}

std::uint64_t MetricsServer::scrapes() const noexcept
{
	return impl_->scrapes;
}

std::uint64_t MetricsServer::errors() const noexcept
{
	return impl_->errors;
}

} // namespace ntmd
