// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP side of ntmd's Prometheus endpoint (D97): plain HTTP/1.1 on
 * ntmd's event loop, GET /metrics only. One request per connection
 * ("Connection: close"); at most 8 connections at once, 8 KiB of request
 * head, 10 s to send it; anything else is answered 400, 404, 405, 431 or
 * 505 and closed.
 */
#ifndef NTMD_METRICS_HTTP_HPP
#define NTMD_METRICS_HTTP_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "ntm/model.hpp"

namespace ntmd {

inline constexpr std::size_t kMaxHttpHead = 8192;

/** What parse_http_request made of the bytes received so far. */
struct HttpRequest {
	enum class Result {
		incomplete, /* no end of the head yet */
		ok,
		bad,	    /* 400 */
		too_large,  /* 431: no end of the head within max bytes */
		version,    /* 505: not HTTP/1.0 or HTTP/1.1 */
	} result = Result::incomplete;
	std::string method;
	std::string target; /* the path, without a query */
};

/**
 * Parses a request head (request line and header fields up to the empty
 * line, CRLF or bare LF) per RFC 9112: a token method, an origin-form
 * target of visible ASCII, HTTP/1.x, fields "name: value" with a token
 * name; obsolete line folding, NUL and other control bytes are bad.
 */
HttpRequest parse_http_request(std::string_view data, std::size_t max = kMaxHttpHead);

/** The status line, headers and body of the answer to a parsed request. */
struct HttpAnswer {
	int status = 200;
	std::string body;
};
/** The answer to anything but GET /metrics: 405 for other methods, 404 for other targets, errors as their status. */
std::optional<HttpAnswer> http_refusal(const HttpRequest &req);
/** GET /metrics: render(); anything else http_refusal(). */
HttpAnswer answer_http(const HttpRequest &req, const std::function<std::string()> &render);
/** The bytes on the wire for an answer (Content-Type text/plain; version=0.0.4, Connection: close). */
std::string http_response(const HttpAnswer &a);

class MetricsServer {
public:
	/* a coroutine on the loop: what blocks (the kernel read) it awaits elsewhere (KernelReader) */
	using Render = std::function<asio::awaitable<std::string>()>;

	/** Binds listen (port 0: any); throws ntm::Error. render is awaited for every scrape. */
	MetricsServer(asio::io_context &io, const ntm::Endpoint &listen, Render render);
	MetricsServer(const MetricsServer &) = delete;
	MetricsServer &operator=(const MetricsServer &) = delete;
	MetricsServer(MetricsServer &&) = delete;
	MetricsServer &operator=(MetricsServer &&) = delete;
	~MetricsServer();

	void start();
	/** Closes the listener and every connection. */
	void stop();
	/** The bound port (the real one after port 0). */
	[[nodiscard]] std::uint16_t port() const;
	[[nodiscard]] std::uint64_t scrapes() const noexcept;
	[[nodiscard]] std::uint64_t errors() const noexcept;

private:
	struct Impl;
	std::shared_ptr<Impl> impl_;
};

} // namespace ntmd

#endif
