// SPDX-License-Identifier: GPL-2.0
#include "control.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include "events.hpp"
#include "ntm/error.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
using Local = asio::local::stream_protocol;

namespace {

constexpr std::size_t kMaxRequest = 65536;
constexpr unsigned kMaxClients = 32;
constexpr std::size_t kMaxQueuedEvents = 4096;

/* one subscriber's queue of event lines, shared with its sink and its close watch */
struct Subscription {
	explicit Subscription(asio::io_context &io) : wake(io) {}
	std::deque<std::string> queue;
	std::uint64_t lost = 0;
	bool closed = false;
	asio::steady_timer wake;

	void push(const std::string &line)
	{
		if (queue.size() >= kMaxQueuedEvents) {
			lost++;
		} else {
			if (lost != 0) {
				queue.push_back(nlohmann::json{{"event", "lost"}, {"count", lost}}.dump() + "\n");
				lost = 0;
			}
			queue.push_back(line + "\n");
		}
		wake.cancel();
	}
	void close()
	{
		closed = true;
		wake.cancel();
	}
};

/* the peer's uid, or nullopt when the kernel does not say (then: read-only) */
std::optional<uid_t> peer_uid(int fd)
{
	ucred cred{};
	socklen_t len = sizeof(cred);
	if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return std::nullopt;
	return cred.uid;
}

} // namespace

Access command_access(std::string_view cmd)
{
	/* what ntmctl status, ike list and monitor send; nothing here changes a role's state */
	constexpr std::array<std::string_view, 3> kReadOnly{"status", "ike-list", "subscribe"};
	return std::ranges::find(kReadOnly, cmd) != kReadOnly.end() ? Access::read : Access::admin;
}

nlohmann::json refusal(std::string_view cmd)
{
	return {{"ok", false}, {"error", "permission denied: " + std::string(cmd) + " needs root"}};
}

std::vector<uid_t> default_admins()
{
	std::vector<uid_t> v{0};
	if (::geteuid() != 0)
		v.push_back(::geteuid());
	return v;
}

struct ControlServer::Impl {
	asio::io_context &io;
	std::string path;
	Handler handler;
	EventBus *events;
	Local::acceptor acceptor;
	unsigned clients = 0;
	bool stopped = false;
	std::set<std::shared_ptr<Subscription>> subscriptions;
	std::vector<uid_t> admins = default_admins();

	Impl(asio::io_context &io_, std::string p, Handler h, EventBus *ev)
	    : io(io_), path(std::move(p)), handler(std::move(h)), events(ev), acceptor(io_)
	{
		std::error_code fec;
		const auto dir = std::filesystem::path(path).parent_path();
		if (!dir.empty())
			std::filesystem::create_directories(dir, fec);
		/* a socket left by a crashed ntmd: replace it, but never another file */
		struct stat st {};
		if (::lstat(path.c_str(), &st) == 0) {
			if (!S_ISSOCK(st.st_mode))
				throw ntm::Error("control socket " + path + " exists and is not a socket", EEXIST);
			Local::socket probe(io);
			asio::error_code ec;
			probe.connect(Local::endpoint(path), ec);
			if (!ec)
				throw ntm::Error("control socket " + path + ": another ntmd is running", EADDRINUSE);
			(void)::unlink(path.c_str());
		}
		asio::error_code ec;
		(void)acceptor.open(Local(), ec);
		if (!ec)
			(void)acceptor.bind(Local::endpoint(path), ec);
		if (!ec)
			(void)acceptor.listen(asio::socket_base::max_listen_connections, ec);
		if (ec)
			throw ntm::Error("control socket " + path + ": " + ec.message(), ec.value());
		(void)::chmod(path.c_str(), 0660);
	}

	awaitable<void> serve(Local::socket sock)
	{
		clients++;
		struct Dec {
			unsigned &n;
			explicit Dec(unsigned &n_) : n(n_) {}
			Dec(const Dec &) = delete;
			Dec &operator=(const Dec &) = delete;
			Dec(Dec &&) = delete;
			Dec &operator=(Dec &&) = delete;
			~Dec() { n--; }
		} dec{clients};
		const auto uid = peer_uid(sock.native_handle());
		const bool admin = uid && std::ranges::find(admins, *uid) != admins.end();
		bool refusal_logged = false; /* once per connection: a client in a loop must not flood the journal */
		asio::streambuf buf(kMaxRequest);
		for (;;) {
			asio::error_code ec;
			const std::size_t n =
				co_await asio::async_read_until(sock, buf, '\n', asio::redirect_error(use_awaitable, ec));
			if (ec)
				co_return;
			std::string line(asio::buffers_begin(buf.data()),
					 asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
			buf.consume(n);
			nlohmann::json answer;
			bool subscribe = false;
			try {
				const auto req = nlohmann::json::parse(line);
				if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
					answer = {{"ok", false}, {"error", "request must be an object with \"cmd\""}};
				else if (!admin && command_access(req["cmd"].get<std::string>()) == Access::admin) {
					const auto cmd = req["cmd"].get<std::string>();
					if (!std::exchange(refusal_logged, true))
						spdlog::info("control: {} refused to uid {}: not root or ntmd's user", cmd,
							     uid ? std::to_string(*uid) : std::string("unknown"));
					answer = refusal(cmd);
				} else if (req["cmd"] == "subscribe" && events != nullptr && !stopped)
					subscribe = true;
				else
					answer = handler(req);
			} catch (const nlohmann::json::exception &) {
				answer = {{"ok", false}, {"error", "request is not valid JSON"}};
			} catch (const std::exception &e) {
				answer = {{"ok", false}, {"error", e.what()}};
			}
			if (subscribe) {
				co_await stream_events(sock);
				co_return;
			}
			const std::string out = answer.dump() + "\n";
			co_await asio::async_write(sock, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
			if (ec)
				co_return;
		}
	}

	/* the connection as a stream of event lines, after {"ok":true,"subscribed":true} */
	awaitable<void> stream_events(Local::socket &sock)
	{
		auto sub = std::make_shared<Subscription>(io);
		sub->queue.push_back(nlohmann::json{{"ok", true}, {"subscribed", true}}.dump() + "\n");
		const std::uint64_t id = events->subscribe([sub](const std::string &l) { sub->push(l); });
		subscriptions.insert(sub);
		struct Leave {
			Impl &impl;
			std::shared_ptr<Subscription> sub;
			std::uint64_t id;
			Leave(Impl &i, std::shared_ptr<Subscription> s, std::uint64_t n) : impl(i), sub(std::move(s)), id(n) {}
			Leave(const Leave &) = delete;
			Leave &operator=(const Leave &) = delete;
			Leave(Leave &&) = delete;
			Leave &operator=(Leave &&) = delete;
			~Leave()
			{
				impl.events->unsubscribe(id);
				impl.subscriptions.erase(sub);
			}
		} leave{*this, sub, id};
		/* the client says nothing more: readable means it closed (or broke the protocol) */
		sock.async_wait(Local::socket::wait_read, [sub](const asio::error_code &) { sub->close(); });
		for (;;) {
			while (!sub->queue.empty()) {
				std::string out;
				while (!sub->queue.empty() && out.size() < kMaxRequest) {
					out += sub->queue.front();
					sub->queue.pop_front();
				}
				asio::error_code ec;
				co_await asio::async_write(sock, asio::buffer(out),
							   asio::redirect_error(use_awaitable, ec));
				if (ec)
					co_return;
			}
			if (sub->closed || stopped)
				co_return;
			sub->wake.expires_at(asio::steady_timer::time_point::max());
			asio::error_code ec;
			co_await sub->wake.async_wait(asio::redirect_error(use_awaitable, ec));
		}
	}

	awaitable<void> accept_loop()
	{
		for (;;) {
			asio::error_code ec;
			Local::socket s = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
			if (stopped || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
				co_return;
			if (ec)
				continue;
			if (clients >= kMaxClients) {
				spdlog::warn("control: too many clients");
				continue;
			}
			asio::co_spawn(io, serve(std::move(s)), asio::detached);
		}
	}
};

ControlServer::ControlServer(asio::io_context &io, std::string path, Handler handler, EventBus *events)
    : impl_(std::make_unique<Impl>(io, std::move(path), std::move(handler), events))
{}

ControlServer::~ControlServer()
{
	try {
		stop();
	} catch (...) {
		/* closing never throws with error codes; nothing to report from a destructor */
	}
}

void ControlServer::start()
{
	asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

void ControlServer::set_admins(std::vector<uid_t> uids)
{
	impl_->admins = std::move(uids);
}

void ControlServer::stop()
{
	if (impl_->stopped)
		return;
	impl_->stopped = true;
	asio::error_code ignored;
	impl_->acceptor.close(ignored);
	for (const auto &sub : impl_->subscriptions)
		sub->close();
	(void)::unlink(impl_->path.c_str());
}

} // namespace ntmd
