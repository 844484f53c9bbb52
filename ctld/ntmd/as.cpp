// SPDX-License-Identifier: GPL-2.0
#include "as.hpp"
#include "limits.hpp"

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
#include "tls_conn.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using ntm::sig::Message;
using ntm::sig::MsgType;
using ntm::sig::Status;
using namespace std::chrono_literals;

constexpr auto kDcTimeout = 5s;	     /* one Key Distribution exchange */
constexpr auto kLoginTimeout = 30s;  /* node: from request to response (the AS talks to the DC) */
constexpr auto kFailDelay = 1s;	     /* before AUTH_FAILED */
constexpr unsigned kKeyIdAttempts = 4; /* Key Distributions per login when the DC holds the KEY_ID */
/*
 * Failed-login throttling (D70): after kAccountFree failures of an account
 * (kAddressFree of a source address) in a row, its next attempt waits 2 s,
 * then 4, 8, ... up to the cap; until then it is refused without the
 * password check. A success clears both.
 */
constexpr auto kFirstWait = 2s;
constexpr unsigned kAccountFree = 5;
constexpr auto kAccountMaxWait = 60s;
constexpr unsigned kAddressFree = 20;
constexpr auto kAddressMaxWait = 300s;
constexpr std::size_t kThrottleEntries = 16384;
constexpr std::size_t kConnectionsPerAddress = 8; /* open login connections of one source address */

const char *const kWrongPassword = "wrong account or password";
const char *const kUnboundCert = "certificate not bound to an account";

using tls::bound;
using tls::clip;
using tls::close_acceptors;
using tls::close_stream;
using tls::ConnEntry;
using tls::ConnSet;
using tls::connect_tls;
using tls::join;
using tls::kHandshakeTimeout;
using tls::open_acceptors;
using tls::peer_of;
using tls::request_header;
using tls::send_message;
using tls::start_listening;
using tls::Watchdog;
using tls::WipedBytes;

std::int64_t unix_now() noexcept
{
	return static_cast<std::int64_t>(std::time(nullptr));
}

std::string hex_id(std::uint32_t id)
{
	return fmt::format("{:#010x}", id);
}

} // namespace

/* ======================================================================
 * AsRole
 * ====================================================================== */

struct AsRole::Impl : std::enable_shared_from_this<AsRole::Impl> {
	Impl(asio::io_context &io_, const ntm::config::Config &c, Resolver &r)
	    : io(io_), cfg(c), as(c.as ? *c.as : throw ntm::Error("as: the role is not configured")), resolver(r),
	      store(as.database, true), server_ctx(tls::server_context(c.tls, tls::Clients::nodes)),
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
	std::map<std::string, std::shared_ptr<tls::TlsLink>> links; /* one long-lived connection per DC */
	AsCounters counters;
	FailureThrottle<std::string> fail_by_account{{kAccountFree, kFirstWait, kAccountMaxWait}, kThrottleEntries};
	FailureThrottle<std::string> fail_by_address{{kAddressFree, kFirstWait, kAddressMaxWait}, kThrottleEntries};
	std::map<std::string, std::size_t> conns_by_address; /* at most kMaxConnections entries */
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
						 const std::string &peer, const std::string &addr);
	awaitable<Status> deliver(const Message &kd);
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
	for (auto &[name, link] : links)
		link->close();
}

awaitable<void> AsRole::Impl::session(tcp::socket sock)
{
	const auto self = shared_from_this();
	const std::string peer = peer_of(sock);
	std::error_code aec;
	const std::string addr = sock.remote_endpoint(aec).address().to_string();
	/* one address cannot hold every connection slot with idle handshakes (D70) */
	struct AddrSlot {
		std::map<std::string, std::size_t> &m;
		std::string a;
		AddrSlot(std::map<std::string, std::size_t> &m_, std::string a_) : m(m_), a(std::move(a_)) { m[a]++; }
		AddrSlot(const AddrSlot &) = delete;
		AddrSlot &operator=(const AddrSlot &) = delete;
		AddrSlot(AddrSlot &&) = delete;
		AddrSlot &operator=(AddrSlot &&) = delete;
		~AddrSlot()
		{
			if (--m[a] == 0)
				m.erase(a);
		}
	} slot(conns_by_address, addr);
	if (conns_by_address[addr] > kConnectionsPerAddress) {
		++counters.connections_refused;
		spdlog::debug("as: {} has {} connections open: refusing another", addr, kConnectionsPerAddress);
		sock.close(aec);
		co_return;
	}
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
		const std::optional<Message> resp = co_await handle(body.v, *s, peer, addr);
		if (resp)
			co_await send_message(ex, s, *resp);
	} catch (const std::exception &e) {
		if (!stopped)
			spdlog::debug("as: connection from {}: {}", peer, e.what());
	}
	close_stream(*s);
}

awaitable<std::optional<Message>> AsRole::Impl::handle(std::span<const std::uint8_t> body, tls::Stream &s,
						       const std::string &peer, const std::string &addr)
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

	/* ---- throttling (D70): before the costly password check ---- */
	const bool cert_mode = req.account.empty();
	const auto now_steady = LimitClock::now();
	const auto wait = std::max(fail_by_address.wait(addr, now_steady),
				   cert_mode ? LimitClock::duration::zero() : fail_by_account.wait(req.account, now_steady));
	if (wait > LimitClock::duration::zero()) {
		++counters.logins_throttled;
		const auto secs = std::chrono::ceil<std::chrono::seconds>(wait).count();
		/* debug: a guesser must not flood the log either */
		spdlog::debug("login {} from {}: throttled after failed logins, {} s to wait",
			      cert_mode ? "(certificate)" : req.account, peer, secs);
		/* not AUTH_FAILED: nothing was checked, and a node takes that as fatal */
		co_return ntm::sig::make_response(req, Status::internal,
						  "too many failed logins: try again in " + std::to_string(secs) + " s");
	}
	/* the back-off runs from the refusal, after kFailDelay */
	const auto note_failure = [&] {
		const auto now = LimitClock::now();
		fail_by_address.failed(addr, now);
		if (!cert_mode)
			fail_by_account.failed(req.account, now);
	};

	/* ---- authentication ---- */
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
		note_failure();
		co_return ntm::sig::make_response(req, Status::auth_failed, why.empty() ? kWrongPassword : why);
	}
	who = acc->name;
	fail_by_address.succeeded(addr);
	if (!cert_mode)
		fail_by_account.succeeded(req.account);

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
		/* a KEY_ID the DC already holds: draw again (D59) */
		for (unsigned attempt = 1;; attempt++) {
			dc_status = co_await deliver(kd);
			if (dc_status != Status::key_id_in_use || attempt == kKeyIdAttempts)
				break;
			++counters.key_id_retries;
			spdlog::info("login {} ({}): the DC holds key id {} already: drawing another", who, acc->fqdn,
				     hex_id(*kd.key_id));
			kd.key_id = ntm::sig::random_u32_nonzero();
			kd.key = ntm::sig::random_key();
		}
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

void require_pinned_dc(const std::vector<std::string> &dc_names, const std::string &ns, const std::string &domain)
{
	if (!dc_names.empty() && std::ranges::find(dc_names, ntm::dns::normalize_name(ns)) == dc_names.end())
		throw ntm::Error("DNS names " + ns + " as the DC of " + domain + ", which is not one of as.dc_names");
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
		const std::string ns = ntm::dns::normalize_name(co_await resolver.find_ns(kd.fqdn));
		try {
			require_pinned_dc(as.dc_names, ns, domain);
		} catch (const ntm::Error &) {
			++counters.dc_unpinned;
			throw;
		}
		hp = ntm::config::HostPort{ns, as.dc_port};
	}
	const std::string key = hp->to_string();
	std::shared_ptr<tls::TlsLink> &link = links[key];
	if (!link)
		link = std::make_shared<tls::TlsLink>(io, client_ctx, resolver, *hp, "as");
	const Message ack = co_await link->exchange(kd, kDcTimeout);
	co_return *ack.status;
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
	      ctx(tls::server_context(c.tls, tls::Clients::servers)), acceptors(open_acceptors(io_, dc.listen_tls, "dc.listen_tls"))
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
	auto s = std::make_shared<tls::Stream>(std::move(sock), ctx);
	const ConnEntry entry(conns, s);
	co_await tls::serve_trusted(
		s, peer, trusted, "dc", "key distribution",
		[this](std::span<const std::uint8_t> body, const std::string &as_name) { return handle(body, as_name); },
		stopped);
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

ntm::SecretText read_node_password(const std::string &path)
{
	if (path.empty())
		throw ntm::Error("node.password_file: not configured");
	return ntm::read_password_file(path, ntm::sig::kMaxTlvValue);
}

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
		req.password = read_node_password(node.password_file);
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
