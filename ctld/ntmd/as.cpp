// SPDX-License-Identifier: GPL-2.0
#include "as.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include <openssl/x509.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "addr.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/handle.hpp"
#include "tls.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using ntm::sig::Message;
using ntm::sig::MsgType;
using ntm::sig::Status;
using namespace std::chrono_literals;

constexpr auto kHandshakeTimeout = 10s; /* TLS handshake and the Login Request */
constexpr auto kWriteTimeout = 10s;
constexpr auto kConnectTimeout = 5s; /* per address */
constexpr auto kDcTimeout = 5s;	     /* one Key Distribution exchange */
constexpr auto kLoginTimeout = 30s;  /* node: from request to response (the AS talks to the DC) */
constexpr auto kFailDelay = 1s;	     /* before AUTH_FAILED */
constexpr std::size_t kMaxConnections = 256;
constexpr std::size_t kMaxErrorText = 200; /* ERROR_TEXT must stay below the TLV limit */

const char *const kWrongPassword = "wrong account or password";
const char *const kUnboundCert = "certificate not bound to an account";

/* ---- small helpers ---- */

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

/* A byte buffer that may hold a password or a key: wiped when it goes. */
struct WipedBytes {
	std::vector<std::uint8_t> v;
	WipedBytes() = default;
	explicit WipedBytes(std::vector<std::uint8_t> b) : v(std::move(b)) {}
	WipedBytes(const WipedBytes &) = delete;
	WipedBytes &operator=(const WipedBytes &) = delete;
	WipedBytes(WipedBytes &&) = delete;
	WipedBytes &operator=(WipedBytes &&) = delete;
	~WipedBytes() { ntm::secure_wipe(v.data(), v.size()); }
};

void cancel_timer(asio::steady_timer &t) noexcept
{
	try {
		t.cancel();
	} catch (const std::exception &) {
		/* only fails when the reactor is gone: nothing left to wake */
	}
}

/* Closes the stream's socket when the deadline passes; disarmed when it goes. */
class Watchdog {
public:
	Watchdog(const asio::any_io_executor &ex, const std::shared_ptr<tls::Stream> &s,
		 std::chrono::steady_clock::duration d)
	    : timer_(ex)
	{
		timer_.expires_after(d);
		timer_.async_wait([w = std::weak_ptr<tls::Stream>(s), fired = fired_](std::error_code ec) {
			if (ec)
				return;
			*fired = true;
			if (auto p = w.lock()) {
				std::error_code ignored;
				p->lowest_layer().close(ignored);
			}
		});
	}
	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;
	Watchdog(Watchdog &&) = delete;
	Watchdog &operator=(Watchdog &&) = delete;
	~Watchdog() { cancel_timer(timer_); }
	[[nodiscard]] bool fired() const noexcept { return *fired_; }

private:
	std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
	asio::steady_timer timer_;
};

void close_stream(tls::Stream &s) noexcept
{
	std::error_code ignored;
	s.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
	s.lowest_layer().close(ignored);
}

/* Why verification of the peer failed, when it did. */
std::string handshake_error(tls::Stream &s, const std::error_code &ec)
{
	const long v = SSL_get_verify_result(s.native_handle());
	if (v != X509_V_OK)
		return std::string("certificate verification failed: ") + X509_verify_cert_error_string(v);
	return ec.message();
}

/* TCP to the first endpoint that answers, then the TLS handshake as a client. */
awaitable<std::shared_ptr<tls::Stream>> connect_tls(asio::any_io_executor ex, asio::ssl::context &ctx,
						    const std::vector<ntm::Endpoint> &eps, const std::string &host)
{
	std::string errors;
	for (const ntm::Endpoint &ep : eps) {
		auto s = std::make_shared<tls::Stream>(ex, ctx);
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
		tls::set_verify_host(*s, host);
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

std::int64_t unix_now() noexcept
{
	return static_cast<std::int64_t>(std::time(nullptr));
}

std::string hex_id(std::uint32_t id)
{
	return fmt::format("{:#010x}", id);
}

std::string join(const std::vector<std::string> &v)
{
	std::string out;
	for (const std::string &s : v)
		out += (out.empty() ? "" : ", ") + s;
	return out.empty() ? std::string("none") : out;
}

/* A set of open connections that stop() closes. */
class ConnSet {
public:
	std::uint64_t add(const std::shared_ptr<tls::Stream> &s)
	{
		const std::uint64_t id = next_++;
		conns_.emplace(id, s);
		return id;
	}
	void remove(std::uint64_t id) noexcept { conns_.erase(id); }
	[[nodiscard]] std::size_t size() const noexcept { return conns_.size(); }
	void close_all() noexcept
	{
		for (auto &[id, w] : conns_)
			if (auto s = w.lock())
				close_stream(*s);
	}

private:
	std::map<std::uint64_t, std::weak_ptr<tls::Stream>> conns_;
	std::uint64_t next_ = 1;
};

/* Removes a connection from its set when the session ends. */
class ConnEntry {
public:
	ConnEntry(ConnSet &set, const std::shared_ptr<tls::Stream> &s) : set_(set), id_(set.add(s)) {}
	ConnEntry(const ConnEntry &) = delete;
	ConnEntry &operator=(const ConnEntry &) = delete;
	ConnEntry(ConnEntry &&) = delete;
	ConnEntry &operator=(ConnEntry &&) = delete;
	~ConnEntry() { set_.remove(id_); }

private:
	ConnSet &set_;
	std::uint64_t id_;
};

void close_acceptors(std::vector<tcp::acceptor> &acceptors) noexcept
{
	for (tcp::acceptor &a : acceptors) {
		std::error_code ignored;
		a.close(ignored);
	}
}

/*
 * The accept loop of a TLS listener (the AS's login port, the DC's key
 * port): each connection runs in self->session(); past kMaxConnections
 * new ones are closed at once. Listener: acceptors, conns, io, stopped.
 */
template <class Listener>
awaitable<void> accept_connections(std::shared_ptr<Listener> self, std::size_t idx, const char *role)
{
	while (!self->stopped) {
		std::error_code ec;
		tcp::socket sock =
			co_await self->acceptors[idx].async_accept(asio::redirect_error(use_awaitable, ec));
		if (self->stopped)
			break;
		if (ec) {
			if (ec == asio::error::operation_aborted)
				break;
			spdlog::warn("{}: accept: {}", role, ec.message());
			asio::steady_timer t(self->io, 100ms); /* EMFILE and friends: do not spin */
			co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
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

/* Logs each listening address and starts its accept loop. */
template <class Listener> void start_listening(const std::shared_ptr<Listener> &self, const char *role, const char *what)
{
	for (std::size_t i = 0; i < self->acceptors.size(); ++i) {
		std::error_code ec;
		const tcp::endpoint e = self->acceptors[i].local_endpoint(ec);
		spdlog::info("{}: {} on {}", role, what, ec ? std::string("?") : to_ntm(e).to_string());
		asio::co_spawn(self->io, accept_connections(self, i, role), asio::detached);
	}
}

/* Encodes and writes a response, wiping the encoded copy. */
awaitable<void> send_message(const asio::any_io_executor &ex, const std::shared_ptr<tls::Stream> &s, const Message &m)
{
	const WipedBytes out(ntm::sig::encode(m));
	const Watchdog w(ex, s, kWriteTimeout);
	co_await tls::write_frame(*s, out.v);
}

} // namespace

/* ======================================================================
 * AsRole
 * ====================================================================== */

/* One long-lived mutual-TLS connection to a DC; one exchange at a time. */
struct DcLink {
	ntm::config::HostPort hp;
	std::shared_ptr<tls::Stream> stream;
	bool busy = false;
	std::deque<std::shared_ptr<asio::steady_timer>> waiters;
};

struct AsRole::Impl : std::enable_shared_from_this<AsRole::Impl> {
	Impl(asio::io_context &io_, const ntm::config::Config &c, Resolver &r)
	    : io(io_), cfg(c), as(c.as ? *c.as : throw ntm::Error("as: the role is not configured")), resolver(r),
	      store(as.database, true), server_ctx(tls::server_context(c.tls, false)),
	      client_ctx(tls::client_context(c.tls, true)), acceptors(open_acceptors(io_, as.listen, "as.listen"))
	{}
	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() = default;

	asio::io_context &io;
	ntm::config::Config cfg;
	ntm::config::As as;
	Resolver &resolver;
	ntm::store::AccountStore store; /* used on the worker thread only */
	asio::ssl::context server_ctx;
	asio::ssl::context client_ctx;
	std::vector<tcp::acceptor> acceptors;
	ConnSet conns;
	std::map<std::string, std::shared_ptr<DcLink>> links;
	AsCounters counters;
	bool started = false;
	bool stopped = false;
	/* scrypt and SQLite off the event loop; destroyed (joined) before the store */
	asio::thread_pool worker{1};

	template <class F> awaitable<std::invoke_result_t<F &>> on_worker(F f)
	{
		using R = std::invoke_result_t<F &>;
		co_return co_await asio::co_spawn(
			worker.get_executor(), [&f]() -> awaitable<R> { co_return f(); }, use_awaitable);
	}

	void start();
	void stop() noexcept;
	awaitable<void> session(tcp::socket sock);
	awaitable<std::optional<Message>> handle(std::span<const std::uint8_t> body, tls::Stream &s,
						 const std::string &peer);
	awaitable<Status> deliver(const Message &kd);
	awaitable<Status> exchange(std::shared_ptr<DcLink> link, const Message &kd);
	awaitable<void> acquire(DcLink &link);
	static void release(DcLink &link) noexcept;
};

void AsRole::Impl::start()
{
	if (started || stopped)
		return;
	started = true;
	start_listening(shared_from_this(), "as", "listening");
}

void AsRole::Impl::stop() noexcept
{
	if (stopped)
		return;
	stopped = true;
	close_acceptors(acceptors);
	conns.close_all();
	for (auto &[name, link] : links) {
		if (link->stream)
			close_stream(*link->stream);
		for (const auto &t : link->waiters)
			cancel_timer(*t);
	}
}

awaitable<void> AsRole::Impl::session(tcp::socket sock)
{
	const auto self = shared_from_this();
	const std::string peer = peer_of(sock);
	const asio::any_io_executor ex = sock.get_executor();
	auto s = std::make_shared<tls::Stream>(std::move(sock), server_ctx);
	const ConnEntry entry(conns, s);
	try {
		WipedBytes body;
		{
			const Watchdog w(ex, s, kHandshakeTimeout);
			co_await s->async_handshake(asio::ssl::stream_base::server, use_awaitable);
			body.v = co_await tls::read_frame(*s);
		}
		const std::optional<Message> resp = co_await handle(body.v, *s, peer);
		if (resp)
			co_await send_message(ex, s, *resp);
	} catch (const std::exception &e) {
		if (!stopped)
			spdlog::debug("as: connection from {}: {}", peer, e.what());
	}
	close_stream(*s);
}

awaitable<std::optional<Message>> AsRole::Impl::handle(std::span<const std::uint8_t> body, tls::Stream &s,
						       const std::string &peer)
{
	Message req;
	try {
		req = ntm::sig::decode(body);
		ntm::sig::validate(req);
	} catch (const ntm::sig::ParseError &e) {
		++counters.malformed;
		spdlog::debug("as: malformed login request from {}: {}", peer, e.what());
		std::optional<Message> hdr = request_header(body, MsgType::login);
		if (!hdr)
			co_return std::nullopt;
		co_return ntm::sig::make_response(*hdr, e.status(), clip(e.what()));
	}
	if (req.type != MsgType::login || req.response) {
		++counters.malformed;
		spdlog::debug("as: unexpected {} from {}", ntm::sig::message_name(req.type, req.response), peer);
		co_return std::nullopt;
	}

	/* ---- authentication ---- */
	const bool cert_mode = req.account.empty();
	std::optional<ntm::store::Account> acc;
	std::string who = req.account;
	std::string why;
	try {
		if (!cert_mode) {
			const std::string_view pw(req.password.data(), req.password.size());
			acc = co_await on_worker([&] { return store.verify(req.account, pw); });
			if (!acc)
				why = kWrongPassword;
		} else {
			const std::vector<std::string> names = tls::peer_dns_names(s);
			who = "certificate " + join(names);
			if (!names.empty())
				acc = co_await on_worker([&]() -> std::optional<ntm::store::Account> {
					for (const std::string &n : names) {
						auto a = store.find_by_fqdn(n);
						if (a && a->certificate)
							return a;
					}
					return std::nullopt;
				});
			if (!acc)
				why = kUnboundCert;
		}
	} catch (const std::exception &e) {
		spdlog::error("login {} from {}: account database: {}", who, peer, e.what());
		co_return ntm::sig::make_response(req, Status::internal, "internal error");
	}
	if (!acc || !ntm::sig::valid_dns_name(acc->fqdn)) {
		++counters.logins_failed;
		spdlog::info("login {} from {}: refused, {}", who, peer, why.empty() ? "invalid FQDN" : why);
		asio::steady_timer t(io, kFailDelay);
		std::error_code ec;
		co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
		co_return ntm::sig::make_response(req, Status::auth_failed, why.empty() ? kWrongPassword : why);
	}
	who = acc->name;

	/* ---- key distribution ---- */
	Message kd;
	kd.type = MsgType::key_distribution;
	kd.txid = ntm::sig::random_u32_nonzero();
	kd.key_id = ntm::sig::random_u32_nonzero();
	kd.key = ntm::sig::random_key();
	kd.lifetime = static_cast<std::uint32_t>(
		std::clamp<std::int64_t>(as.key_lifetime.count(), 1, std::numeric_limits<std::uint32_t>::max()));
	kd.fqdn = acc->fqdn;

	std::string dc_error;
	Status dc_status = Status::internal;
	try {
		dc_status = co_await deliver(kd);
		if (dc_status != Status::ok)
			dc_error = "the DC answered " + std::string(ntm::sig::status_name(dc_status));
	} catch (const std::exception &e) {
		dc_error = e.what();
	}
	if (!dc_error.empty()) {
		++counters.dc_failures;
		spdlog::warn("login {} ({}) from {}: key distribution failed: {}", who, acc->fqdn, peer, dc_error);
		co_return ntm::sig::make_response(req, Status::dc_unreachable,
						  clip("key distribution to the DC failed: " + dc_error));
	}

	const std::string name = acc->name;
	const std::int64_t now = unix_now();
	const bool touched = co_await on_worker([&]() noexcept {
		try {
			store.touch_login(name, now);
			return true;
		} catch (const std::exception &e) {
			spdlog::warn("as: {}: last login not recorded: {}", name, e.what());
			return false;
		}
	});
	(void)touched;
	++counters.logins_ok;
	spdlog::info("login {} ({}) from {}: ok, key {}", who, acc->fqdn, peer, hex_id(*kd.key_id));

	Message resp = ntm::sig::make_response(req, Status::ok);
	resp.key_id = kd.key_id;
	resp.key = std::move(kd.key);
	resp.lifetime = kd.lifetime;
	resp.fqdn = acc->fqdn;
	co_return resp;
}

awaitable<Status> AsRole::Impl::deliver(const Message &kd)
{
	const std::string domain = ntm::dns::parent_domain(kd.fqdn);
	std::optional<ntm::config::HostPort> hp;
	for (const auto &[d, where] : as.dcs)
		if (ntm::dns::normalize_name(d) == domain) {
			hp = where;
			break;
		}
	if (!hp) {
		const std::string ns = co_await resolver.find_ns(kd.fqdn);
		hp = ntm::config::HostPort{ntm::dns::normalize_name(ns), as.dc_port};
	}
	const std::string key = hp->to_string();
	std::shared_ptr<DcLink> &link = links[key];
	if (!link) {
		link = std::make_shared<DcLink>();
		link->hp = *hp;
	}
	co_return co_await exchange(link, kd);
}

awaitable<void> AsRole::Impl::acquire(DcLink &link)
{
	while (link.busy) {
		if (stopped)
			throw ntm::Error("stopped");
		auto t = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
		link.waiters.push_back(t);
		std::error_code ec;
		co_await t->async_wait(asio::redirect_error(use_awaitable, ec));
	}
	if (stopped)
		throw ntm::Error("stopped");
	link.busy = true;
}

void AsRole::Impl::release(DcLink &link) noexcept
{
	link.busy = false;
	if (!link.waiters.empty()) {
		cancel_timer(*link.waiters.front());
		link.waiters.pop_front();
	}
}

awaitable<Status> AsRole::Impl::exchange(std::shared_ptr<DcLink> link, const Message &kd)
{
	const auto self = shared_from_this();
	co_await acquire(*link);
	struct Releaser {
		DcLink &l;
		explicit Releaser(DcLink &dl) : l(dl) {}
		Releaser(const Releaser &) = delete;
		Releaser &operator=(const Releaser &) = delete;
		Releaser(Releaser &&) = delete;
		Releaser &operator=(Releaser &&) = delete;
		~Releaser() { release(l); }
	} const releaser{*link};

	const std::string where = "DC " + link->hp.to_string();
	const WipedBytes out(ntm::sig::encode(kd));
	for (int attempt = 0;; ++attempt) {
		if (stopped)
			throw ntm::Error(where + ": stopped");
		const bool fresh = !link->stream;
		if (fresh) {
			const std::vector<ntm::Endpoint> eps = co_await resolver.resolve(link->hp);
			link->stream = co_await connect_tls(io.get_executor(), client_ctx, eps, link->hp.host);
			spdlog::info("as: connected to {}", where);
		}
		const std::shared_ptr<tls::Stream> s = link->stream;
		std::string error;
		bool timed_out = false;
		std::optional<Status> result;
		{
			const Watchdog w(io.get_executor(), s, kDcTimeout);
			try {
				co_await tls::write_frame(*s, out.v);
				const WipedBytes in(co_await tls::read_frame(*s));
				const Message ack = ntm::sig::decode(in.v);
				ntm::sig::validate(ack);
				if (ack.type != MsgType::key_distribution || !ack.response || ack.txid != kd.txid ||
				    !ack.status)
					throw ntm::Error("unexpected " +
							 ntm::sig::message_name(ack.type, ack.response));
				result = *ack.status;
			} catch (const std::exception &e) {
				error = e.what();
			}
			timed_out = w.fired();
		}
		if (result)
			co_return *result;
		close_stream(*s);
		if (link->stream == s)
			link->stream.reset();
		if (timed_out)
			error = fmt::format("no answer within {} s", kDcTimeout.count());
		if (fresh || attempt > 0 || timed_out || stopped)
			throw ntm::Error(fmt::format("{}: {}", where, error));
		spdlog::info("as: connection to {} lost ({}), reconnecting", where, error);
	}
}

AsRole::AsRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver)
    : impl_(std::make_shared<Impl>(io, cfg, resolver))
{}

AsRole::~AsRole()
{
	stop();
}

void AsRole::start()
{
	impl_->start();
}

void AsRole::stop()
{
	if (impl_)
		impl_->stop();
}

const AsCounters &AsRole::counters() const noexcept
{
	return impl_->counters;
}

std::vector<ntm::Endpoint> AsRole::local_endpoints() const
{
	return bound(impl_->acceptors);
}

/* ======================================================================
 * KeyListener
 * ====================================================================== */

struct KeyListener::Impl : std::enable_shared_from_this<KeyListener::Impl> {
	Impl(asio::io_context &io_, const ntm::config::Config &c, KeyHandler h)
	    : io(io_), dc(c.dc ? *c.dc : throw ntm::Error("dc: the role is not configured")), handler(std::move(h)),
	      ctx(tls::server_context(c.tls, true)), acceptors(open_acceptors(io_, dc.listen_tls, "dc.listen_tls"))
	{
		for (const std::string &n : dc.trusted_as)
			trusted.push_back(ntm::dns::normalize_name(n));
	}

	asio::io_context &io;
	ntm::config::Dc dc;
	KeyHandler handler;
	std::vector<std::string> trusted;
	asio::ssl::context ctx;
	std::vector<tcp::acceptor> acceptors;
	ConnSet conns;
	bool started = false;
	bool stopped = false;

	void start();
	void stop() noexcept;
	awaitable<void> session(tcp::socket sock);
	std::optional<Message> handle(std::span<const std::uint8_t> body, const std::string &as_name);
};

void KeyListener::Impl::start()
{
	if (started || stopped)
		return;
	started = true;
	start_listening(shared_from_this(), "dc", "key distribution");
}

void KeyListener::Impl::stop() noexcept
{
	if (stopped)
		return;
	stopped = true;
	close_acceptors(acceptors);
	conns.close_all();
}

awaitable<void> KeyListener::Impl::session(tcp::socket sock)
{
	const auto self = shared_from_this();
	const std::string peer = peer_of(sock);
	const asio::any_io_executor ex = sock.get_executor();
	auto s = std::make_shared<tls::Stream>(std::move(sock), ctx);
	const ConnEntry entry(conns, s);
	try {
		{
			const Watchdog w(ex, s, kHandshakeTimeout);
			co_await s->async_handshake(asio::ssl::stream_base::server, use_awaitable);
		}
		const std::vector<std::string> names = tls::peer_dns_names(*s);
		const auto it = std::find_first_of(names.begin(), names.end(), trusted.begin(), trusted.end());
		if (it == names.end()) {
			spdlog::warn("dc: key distribution from {}: untrusted AS certificate (names {})", peer,
				     join(names));
			close_stream(*s);
			co_return;
		}
		const std::string &as_name = *it;
		spdlog::info("dc: AS {} connected from {}", as_name, peer);
		for (;;) {
			auto in = co_await tls::read_frame_or_eof(*s);
			if (!in)
				break;
			const WipedBytes body(std::move(*in));
			const std::optional<Message> resp = handle(body.v, as_name);
			if (!resp)
				break;
			co_await send_message(ex, s, *resp);
		}
		spdlog::info("dc: AS {} ({}) disconnected", as_name, peer);
	} catch (const std::exception &e) {
		if (!stopped)
			spdlog::info("dc: key distribution connection from {}: {}", peer, e.what());
	}
	close_stream(*s);
}

std::optional<Message> KeyListener::Impl::handle(std::span<const std::uint8_t> body, const std::string &as_name)
{
	Message req;
	try {
		req = ntm::sig::decode(body);
		ntm::sig::validate(req);
	} catch (const ntm::sig::ParseError &e) {
		spdlog::warn("dc: malformed key distribution from {}: {}", as_name, e.what());
		std::optional<Message> hdr = request_header(body, MsgType::key_distribution);
		if (!hdr)
			return std::nullopt;
		return ntm::sig::make_response(*hdr, e.status(), clip(e.what()));
	}
	if (req.type != MsgType::key_distribution || req.response) {
		spdlog::warn("dc: unexpected {} from AS {}", ntm::sig::message_name(req.type, req.response), as_name);
		return std::nullopt;
	}
	if (!ntm::dns::in_domain(req.fqdn, dc.domain)) {
		spdlog::warn("dc: AS {} sent a key for {}, which is not in {}", as_name, req.fqdn, dc.domain);
		return ntm::sig::make_response(req, Status::fqdn_mismatch,
					       clip(req.fqdn + " is not in the domain " + dc.domain));
	}
	ntm::store::NodeKey k;
	k.key_id = req.key_id.value_or(0);
	k.fqdn = req.fqdn;
	k.key = std::move(req.key);
	k.expires = unix_now() + static_cast<std::int64_t>(req.lifetime.value_or(0));
	Status st = Status::internal;
	try {
		st = handler(k);
	} catch (const std::exception &e) {
		spdlog::warn("dc: storing key {} for {}: {}", hex_id(k.key_id), k.fqdn, e.what());
	}
	spdlog::info("dc: key {} for {} from AS {} (lifetime {} s): {}", hex_id(k.key_id), k.fqdn, as_name,
		     req.lifetime.value_or(0), ntm::sig::status_name(st));
	return ntm::sig::make_response(req, st);
}

KeyListener::KeyListener(asio::io_context &io, const ntm::config::Config &cfg, KeyHandler handler)
    : impl_(std::make_shared<Impl>(io, cfg, std::move(handler)))
{}

KeyListener::~KeyListener()
{
	stop();
}

void KeyListener::start()
{
	impl_->start();
}

void KeyListener::stop()
{
	if (impl_)
		impl_->stop();
}

std::vector<ntm::Endpoint> KeyListener::local_endpoints() const
{
	return bound(impl_->acceptors);
}

/* ======================================================================
 * login()
 * ====================================================================== */

namespace {

/* The first line of the password file; refuses files others may read. */
ntm::SecretText read_password_file(const std::string &path)
{
	if (path.empty())
		throw ntm::Error("node.password_file: not configured");
	return ntm::read_password_file(path, ntm::sig::kMaxTlvValue);
}

} // namespace

awaitable<LoginResult> login(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver)
{
	if (!cfg.node)
		throw ntm::Error("node: the role is not configured");
	const ntm::config::Node &node = *cfg.node;
	const bool cert_mode = node.auth == ntm::config::AuthMode::certificate;
	const std::string &host = node.as.host;

	Message req;
	req.type = MsgType::login;
	req.txid = ntm::sig::random_u32_nonzero();
	if (!cert_mode) {
		if (node.account.empty())
			throw ntm::Error("node.account: not configured");
		req.account = node.account;
		req.password = read_password_file(node.password_file);
	}
	const WipedBytes out(ntm::sig::encode(req));

	asio::ssl::context ctx = tls::client_context(cfg.tls, cert_mode);
	const std::vector<ntm::Endpoint> eps = co_await resolver.resolve(node.as);
	const asio::any_io_executor ex = io.get_executor();
	const std::shared_ptr<tls::Stream> s = co_await connect_tls(ex, ctx, eps, host);

	std::optional<Message> resp;
	std::string error;
	{
		const Watchdog w(ex, s, kLoginTimeout);
		try {
			co_await tls::write_frame(*s, out.v);
			const WipedBytes in(co_await tls::read_frame(*s));
			resp = ntm::sig::decode(in.v);
			ntm::sig::validate(*resp);
		} catch (const std::exception &e) {
			error = e.what();
			resp.reset();
		}
		if (w.fired())
			error = "no answer within " + std::to_string(kLoginTimeout.count()) + " s";
	}
	close_stream(*s);
	if (!resp)
		throw ntm::Error("login at " + host + ": " + error);
	if (resp->type != MsgType::login || !resp->response || resp->txid != req.txid || !resp->status)
		throw ntm::Error("login at " + host + ": unexpected " +
				 ntm::sig::message_name(resp->type, resp->response));

	const Status st = *resp->status;
	if (st != Status::ok) {
		std::string text = resp->error_text;
		if (text.empty())
			text = st == Status::auth_failed && !cert_mode ? std::string(kWrongPassword)
								       : std::string(ntm::sig::status_name(st));
		throw LoginError(st, "login refused by " + host + ": " + text);
	}
	if (!resp->key_id || *resp->key_id == 0 || resp->key.size() != ntm::sig::kKeyLen || !resp->lifetime ||
	    *resp->lifetime == 0 || !ntm::sig::valid_dns_name(resp->fqdn))
		throw ntm::Error("login at " + host + ": incomplete login response");

	LoginResult r;
	r.key_id = *resp->key_id;
	r.key = std::move(resp->key);
	r.lifetime = std::chrono::seconds(*resp->lifetime);
	r.fqdn = resp->fqdn;
	spdlog::debug("logged in at {} as {}: key {}, lifetime {} s", host, r.fqdn, hex_id(r.key_id),
		      r.lifetime.count());
	co_return r;
}

} // namespace ntmd
