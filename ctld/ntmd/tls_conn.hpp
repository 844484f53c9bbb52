// SPDX-License-Identifier: GPL-2.0
/*
 * The TCP/TLS plumbing shared by the roles that talk over mutual TLS (the
 * AS and its DCs, the DC and its Relay Servers): listeners and their
 * connection sets, deadlines on a stream, connecting as a client, and
 * TlsLink, one long-lived client connection that carries one request and
 * its response at a time and reconnects when the peer went away.
 */
#ifndef NTMD_TLS_CONN_HPP
#define NTMD_TLS_CONN_HPP

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "addr.hpp"
#include "ntm/config.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"
#include "resolver.hpp"
#include "tls.hpp"

namespace ntmd::tls {

using tcp = asio::ip::tcp;

inline constexpr std::size_t kMaxConnections = 256; /* per listener */
inline constexpr std::size_t kMaxErrorText = 200;    /* ERROR_TEXT must stay below the TLV limit */
inline constexpr auto kConnectTimeout = std::chrono::seconds(5); /* per address */
inline constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
inline constexpr auto kWriteTimeout = std::chrono::seconds(10);

/** The peer's address, for logs ("?" when unknown). */
std::string peer_of(const tcp::socket &s);
/** Listening TCP sockets for every configured address; throws ntm::Error naming what. */
std::vector<tcp::acceptor> open_acceptors(asio::io_context &io, const std::vector<ntm::Endpoint> &eps, const char *what);
/** The bound addresses of acceptors (the real port when 0 was configured). */
std::vector<ntm::Endpoint> bound(const std::vector<tcp::acceptor> &acceptors);
void close_acceptors(std::vector<tcp::acceptor> &acceptors) noexcept;

using ntm::WipedBytes;

void cancel_timer(asio::steady_timer &t) noexcept;

/** Closes the stream's socket when the deadline passes; disarmed when it goes. */
class Watchdog {
public:
	Watchdog(const asio::any_io_executor &ex, const std::shared_ptr<Stream> &s,
		 std::chrono::steady_clock::duration d);
	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;
	Watchdog(Watchdog &&) = delete;
	Watchdog &operator=(Watchdog &&) = delete;
	~Watchdog();
	[[nodiscard]] bool fired() const noexcept { return *fired_; }

private:
	std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
	asio::steady_timer timer_;
};

void close_stream(Stream &s) noexcept;

/** TCP to the first endpoint that answers, then the TLS handshake as a client verifying host. */
asio::awaitable<std::shared_ptr<Stream>> connect_tls(asio::any_io_executor ex, asio::ssl::context &ctx,
						     const std::vector<ntm::Endpoint> &eps, const std::string &host);

/** The 8-byte body header of an undecodable request of type expect, enough to answer it. */
std::optional<ntm::sig::Message> request_header(std::span<const std::uint8_t> body, ntm::sig::MsgType expect);
/** Cuts an ERROR_TEXT to what a TLV holds, on a UTF-8 character boundary. */
std::string clip(std::string s);
/** "a, b" or "none". */
std::string join(const std::vector<std::string> &v);

/** Encodes and writes a message, wiping the encoded copy; closes the stream after kWriteTimeout. */
asio::awaitable<void> send_message(const asio::any_io_executor &ex, const std::shared_ptr<Stream> &s,
				   const ntm::sig::Message &m);

/** A set of open connections that a listener's stop() closes. */
class ConnSet {
public:
	std::uint64_t add(const std::shared_ptr<Stream> &s);
	void remove(std::uint64_t id) noexcept { conns_.erase(id); }
	[[nodiscard]] std::size_t size() const noexcept { return conns_.size(); }
	void close_all() noexcept;

private:
	std::map<std::uint64_t, std::weak_ptr<Stream>> conns_;
	std::uint64_t next_ = 1;
};

/** Removes a connection from its set when the session ends. */
class ConnEntry {
public:
	ConnEntry(ConnSet &set, const std::shared_ptr<Stream> &s) : set_(set), id_(set.add(s)) {}
	ConnEntry(const ConnEntry &) = delete;
	ConnEntry &operator=(const ConnEntry &) = delete;
	ConnEntry(ConnEntry &&) = delete;
	ConnEntry &operator=(ConnEntry &&) = delete;
	~ConnEntry() { set_.remove(id_); }

private:
	ConnSet &set_;
	std::uint64_t id_;
};

/*
 * The accept loop of a TLS listener (the AS's login port, the DC's key
 * port, the relay's DC port): each connection runs in self->session(); past
 * kMaxConnections new ones are closed at once. Listener: acceptors, conns,
 * io, stopped.
 */
template <class Listener>
asio::awaitable<void> accept_connections(std::shared_ptr<Listener> self, std::size_t idx, const char *role)
{
	using namespace std::chrono_literals;
	while (!self->stopped) {
		std::error_code ec;
		tcp::socket sock =
			co_await self->acceptors[idx].async_accept(asio::redirect_error(asio::use_awaitable, ec));
		if (self->stopped)
			break;
		if (ec) {
			if (ec == asio::error::operation_aborted)
				break;
			spdlog::warn("{}: accept: {}", role, ec.message());
			asio::steady_timer t(self->io, 100ms); /* EMFILE and friends: do not spin */
			co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
			continue;
		}
		if (self->conns.size() >= kMaxConnections) {
			spdlog::debug("{}: too many connections, refusing {}", role, peer_of(sock));
			sock.close(ec);
			continue;
		}
		asio::co_spawn(self->io, self->session(std::move(sock)), asio::detached);
	}
}

/** Logs each listening address and starts its accept loop. */
template <class Listener> void start_listening(const std::shared_ptr<Listener> &self, const char *role, const char *what)
{
	for (std::size_t i = 0; i < self->acceptors.size(); ++i) {
		std::error_code ec;
		const tcp::endpoint e = self->acceptors[i].local_endpoint(ec);
		spdlog::info("{}: {} on {}", role, what, ec ? std::string("?") : to_ntm(e).to_string());
		asio::co_spawn(self->io, accept_connections(self, i, role), asio::detached);
	}
}

/**
 * The server side of a long-lived mutual-TLS connection from a trusted
 * peer: the handshake (kHandshakeTimeout), the check that the client
 * certificate names one of trusted, then one response per request frame
 * from handle (nullopt closes the connection) until the peer closes.
 * Every outcome is logged with role and what.
 */
using FrameHandler = std::function<std::optional<ntm::sig::Message>(std::span<const std::uint8_t> body,
								    const std::string &peer_name)>;
asio::awaitable<void> serve_trusted(std::shared_ptr<Stream> s, const std::string &peer,
				    const std::vector<std::string> &trusted, const char *role, const char *what,
				    FrameHandler handle, const bool &stopped);

/**
 * One long-lived mutual-TLS client connection (AS -> DC, DC -> RS), one
 * exchange at a time: callers queue. It connects on first use, and when a
 * connection that was up fails, it reconnects once and sends again.
 */
class TlsLink : public std::enable_shared_from_this<TlsLink> {
public:
	TlsLink(asio::io_context &io, asio::ssl::context &ctx, Resolver &resolver, ntm::config::HostPort hp,
		std::string who);
	TlsLink(const TlsLink &) = delete;
	TlsLink &operator=(const TlsLink &) = delete;
	TlsLink(TlsLink &&) = delete;
	TlsLink &operator=(TlsLink &&) = delete;
	~TlsLink() = default;

	/**
	 * Sends req and returns the response with the same type and txid
	 * (decoded and validated). Throws ntm::Error naming the peer on
	 * failure, timeout (per attempt) or after close().
	 */
	asio::awaitable<ntm::sig::Message> exchange(const ntm::sig::Message &req,
						    std::chrono::steady_clock::duration timeout);
	/** Closes the connection and fails every queued and later exchange. */
	void close() noexcept;
	[[nodiscard]] bool connected() const noexcept { return stream_ != nullptr; }
	[[nodiscard]] const ntm::config::HostPort &peer() const noexcept { return hp_; }

private:
	asio::awaitable<void> acquire();
	void release() noexcept;

	asio::io_context &io_;
	asio::ssl::context &ctx_;
	Resolver &resolver_;
	ntm::config::HostPort hp_;
	std::string who_; /* "as", "dc": log prefix */
	std::shared_ptr<Stream> stream_;
	bool busy_ = false;
	bool closed_ = false;
	std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

} // namespace ntmd::tls

#endif
