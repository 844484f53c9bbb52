// SPDX-License-Identifier: GPL-2.0
#include "node.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <linux/ntm.h>

#include "as.hpp"
#include "dnsstub.hpp"
#include "kdev.hpp"
#include "keylog.hpp"
#include "ntm/codec.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/genl.hpp"
#include "ntm/handle.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "ntm/tunnel_kx.hpp"
#include "node_relay.hpp"
#include "sigio.hpp"
#include "udp.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
namespace sig = ntm::sig;
namespace kx = ntm::kx;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kWaitForTunnel = std::chrono::seconds(15);
constexpr auto kCommLifetime = std::chrono::seconds(60);
constexpr std::uint32_t kDnsTtl = 60;
constexpr unsigned kKeepaliveRetries = 2;
constexpr unsigned kMissedKeepalives = 3;
constexpr auto kMaxBackoff = std::chrono::seconds(60);

bool in_prefix(const ntm::IpAddress &a, const std::optional<sig::Prefix> &p)
{
	if (!p || a.family() != p->addr.family())
		return false;
	const auto x = a.bytes();
	const auto y = p->addr.bytes();
	unsigned bits = p->len;
	for (std::size_t i = 0; i < x.size() && bits > 0; i++) {
		const unsigned n = std::min(bits, 8U);
		const auto mask = static_cast<std::uint8_t>(0xff00U >> n);
		if ((x[i] & mask) != (y[i] & mask))
			return false;
		bits -= n;
	}
	return true;
}

std::optional<std::string> opt_str(const std::optional<ntm::IpAddress> &a)
{
	if (!a)
		return std::nullopt;
	return a->to_string();
}

nlohmann::json json_or_null(const std::optional<std::string> &s)
{
	return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

/* A one-shot event that coroutines can wait for with a timeout. */
class Completion {
public:
	void finish()
	{
		done_ = true;
		for (auto *t : waiters_)
			t->cancel();
	}
	[[nodiscard]] bool done() const noexcept { return done_; }

	/** True when finished, false on timeout. */
	awaitable<bool> wait(asio::io_context &io, Clock::duration timeout)
	{
		if (done_)
			co_return true;
		asio::steady_timer t(io);
		t.expires_after(timeout);
		waiters_.push_back(&t);
		asio::error_code ec;
		co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
		std::erase(waiters_, &t);
		co_return done_;
	}

private:
	bool done_ = false;
	std::vector<asio::steady_timer *> waiters_;
};

} // namespace

/* members grouped by what they serve, not packed: one object per daemon */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct NodeRole::Impl {
	struct Peer {
		std::string fqdn;
		std::optional<ntm::IpAddress> vip4;
		std::optional<ntm::IpAddress> vip6;
		std::uint32_t local_index = 0;
		std::uint32_t remote_index = 0;
		ntm::Endpoint endpoint;
		bool opener = false;
		std::uint8_t cipher = 0;
		std::uint32_t comm_id = 0;
		std::int64_t established = 0;
		std::shared_ptr<RelayedPath> path; /* relayed: the relay, probing, the direct path */
	};

	/* one communication being set up (COMM_ID, K_tun) */
	struct Comm {
		std::shared_ptr<SigSession> tun;
		ntm::SecretBytes k_tmp;
		sig::Action action = sig::Action::wait;
		std::uint8_t cipher = 0;
		std::string peer_fqdn;
		std::optional<ntm::IpAddress> peer_vip4;
		std::optional<ntm::IpAddress> peer_vip6;
		ntm::Endpoint peer_ep;
		Clock::time_point expires;
		Completion completion;
		sig::Status status = sig::Status::ok;
		std::string error;
		std::shared_ptr<RelayedPath> path; /* set when the DC sent PATH relay */
	};

	/* a lookup in flight (DNS or acquire), shared by concurrent askers */
	struct Lookup {
		Completion completion;
		sig::Status status = sig::Status::internal;
		std::string error;
		std::string peer_fqdn;
	};

	asio::io_context &io;
	ntm::config::Config cfg;
	const ntm::config::Node &ncfg;
	Resolver &resolver;

	ntm::GenlSocket genl;
	ntm::GenlSocket events;
	NtmLink link;
	asio::ip::udp::socket sock4;
	asio::ip::udp::socket sock6;
	asio::posix::stream_descriptor evdesc;
	asio::posix::stream_descriptor addrdesc;
	bool attached = false;
	SigIo sigio;
	std::unique_ptr<DnsStub> dns;

	/* login and registration */
	std::shared_ptr<SigSession> dc_session;
	std::optional<ntm::Endpoint> dc_ep;
	std::string fqdn;
	Clock::time_point relogin_at;
	bool need_login = true;
	bool need_register = true;
	bool registered = false;
	std::optional<ntm::IpAddress> vip4;
	std::optional<ntm::IpAddress> vip6;
	std::optional<sig::Prefix> pool4;
	std::optional<sig::Prefix> pool6;
	std::optional<ntm::Endpoint> external_ep;
	bool nated = false;
	std::chrono::seconds interval{20};
	std::optional<sig::NatMapping> nat_mapping; /* measured against a relay, told to the DC */
	unsigned missed = 0;
	std::uint64_t addr_gen = 0; /* bumped on every local address change */
	asio::steady_timer wake;
	bool stopped = false;
	std::string last_error;

	std::map<std::string, Peer> peers;
	std::map<std::uint32_t, std::shared_ptr<Comm>> comms;
	std::map<std::string, std::shared_ptr<Lookup>> lookups;

	std::uint64_t tunnels_built = 0;
	std::uint64_t tunnels_failed = 0;
	std::uint64_t dns_hooked = 0;
	std::uint64_t acquires = 0;

	Impl(asio::io_context &io_, ntm::config::Config c, Resolver &r)
	    : io(io_), cfg(std::move(c)), ncfg(*cfg.node), resolver(r), sock4(io_), sock6(io_), evdesc(io_), addrdesc(io_),
	      sigio(io_, &sock4, &sock6), wake(io_)
	{
		link = open_ntm_link(ncfg.interface, "node");
		(void)KeyLog::instance(); /* NTM_KEYLOG: warns now, at start */
		try {
			setup_sockets();
			watch_kernel_events(events, evdesc);
			watch_rtnetlink(addrdesc, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
			sigio.set_key_lookup([this](sig::Kind k, std::uint32_t id) { return lookup_key(k, id); });
			sigio.set_request_handler([this](Inbound in) { return handle(std::move(in)); });
			sigio.set_notice_handler(
				[this](const sig::Notice &n, const ntm::Endpoint &from) { on_notice(n, from); });
			if (!ncfg.dns_listen.empty()) {
				auto domains = ncfg.ntm_domains;
				dns = std::make_unique<DnsStub>(
					io, ncfg.dns_listen, ncfg.dns_upstream, std::move(domains),
					[this](const ntm::dns::Question &q) { return on_dns(q); });
			}
		} catch (...) {
			teardown();
			throw;
		}
	}

	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() { teardown(); }

	/* ---- kernel side ---- */

	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(link.ifindex); }


	void setup_sockets()
	{
		sock4 = open_asio_udp_socket(io, AF_INET, ncfg.port);
		try {
			sock6 = open_asio_udp_socket(io, AF_INET6, ncfg.port);
		} catch (const ntm::Error &e) {
			if (e.code() != EAFNOSUPPORT)
				throw;
			spdlog::warn("node: IPv6 is not available: IPv4 only");
		}
		ntm::DeviceSettings s;
		s.udp4_fd = sock4.native_handle();
		if (sock6.is_open())
			s.udp6_fd = sock6.native_handle();
		ntm::set_device(genl, dev(), s);
		attached = true;
	}

	void teardown() noexcept
	{
		asio::error_code ignored;
		if (dns)
			dns->stop();
		if (attached) {
			try {
				ntm::DeviceSettings s;
				s.udp4_fd = -1;
				if (sock6.is_open())
					s.udp6_fd = -1;
				ntm::set_device(genl, dev(), s);
			} catch (const std::exception &e) {
				spdlog::debug("node: detach: {}", e.what());
			}
			attached = false;
		}
		sock4.close(ignored);
		sock6.close(ignored);
		evdesc.close(ignored);
		addrdesc.close(ignored);
		close_ntm_link(genl, link, ncfg.interface, "node");
	}

	/* ---- signalling keys ---- */

	std::pair<KeyState, std::shared_ptr<SigSession>> lookup_key(sig::Kind kind, std::uint32_t id)
	{
		if (kind == sig::Kind::dc) {
			if (dc_session && dc_session->key_id == id)
				return {KeyState::ok, dc_session};
			return {KeyState::unknown, nullptr};
		}
		const auto it = comms.find(id);
		if (it == comms.end() || !comm_alive(*it->second, Clock::now()))
			return {KeyState::unknown, nullptr};
		return {KeyState::ok, it->second->tun};
	}

	void on_notice(const sig::Notice &n, const ntm::Endpoint &from)
	{
		if (!dc_session || n.key_id != dc_session->key_id || !dc_ep || from != *dc_ep)
			return;
		spdlog::warn("node: DC {} says {} for our key: logging in again", from.to_string(),
			     sig::status_name(n.status));
		need_login = true;
		wake.cancel();
	}

	/* ---- main loop: login, registration, keepalive ---- */

	awaitable<void> sleep(Clock::duration d)
	{
		wake.expires_after(d);
		asio::error_code ec;
		co_await wake.async_wait(asio::redirect_error(use_awaitable, ec));
	}

	std::vector<ntm::Endpoint> local_endpoints() const
	{
		std::vector<ntm::Endpoint> out;
		ifaddrs *raw = nullptr;
		if (::getifaddrs(&raw) < 0)
			return out;
		const std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> list(raw, &::freeifaddrs);
		for (const ifaddrs *i = list.get(); i != nullptr; i = i->ifa_next) {
			if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_LOOPBACK) != 0 ||
			    (i->ifa_flags & IFF_UP) == 0 || ncfg.interface == i->ifa_name)
				continue;
			if (i->ifa_addr->sa_family == AF_INET && sock4.is_open()) {
				// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
				const auto *sa = reinterpret_cast<const sockaddr_in *>(i->ifa_addr);
				const auto a = ntm::IpAddress::v4(sa->sin_addr);
				if (a.bytes()[0] == 169 && a.bytes()[1] == 254)
					continue;
				out.emplace_back(a, ncfg.port);
			} else if (i->ifa_addr->sa_family == AF_INET6 && sock6.is_open()) {
				// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
				const auto *sa = reinterpret_cast<const sockaddr_in6 *>(i->ifa_addr);
				if (IN6_IS_ADDR_LINKLOCAL(&sa->sin6_addr))
					continue;
				out.emplace_back(ntm::IpAddress::v6(sa->sin6_addr), ncfg.port);
			}
			if (out.size() >= 16)
				break;
		}
		return out;
	}

	awaitable<void> do_login()
	{
		spdlog::info("node: logging in at {}", ncfg.as.to_string());
		auto r = co_await login(io, cfg, resolver);
		auto s = std::make_shared<SigSession>();
		s->kind = sig::Kind::dc;
		s->key_id = r.key_id;
		s->key = std::move(r.key);
		s->my_dir = sig::Direction::node;
		s->peer_dir = sig::Direction::dc;
		if (!fqdn.empty() && fqdn != r.fqdn)
			spdlog::warn("node: FQDN changed from {} to {}", fqdn, r.fqdn);
		fqdn = r.fqdn;
		dc_session = std::move(s);
		relogin_at = Clock::now() + r.lifetime * 8 / 10;
		need_login = false;
		need_register = true;
		spdlog::info("node: logged in as {}: key {} (K_ntmdc) valid {} s", fqdn, hex_id(r.key_id),
			     r.lifetime.count());
		if (dns && ncfg.ntm_domains.empty())
			dns->set_domains({ntm::dns::parent_domain(fqdn)});

		/* the DC of our domain: configured, or the NS record of our FQDN */
		std::vector<ntm::Endpoint> eps;
		if (ncfg.dc) {
			eps = co_await resolver.resolve(*ncfg.dc);
		} else {
			const auto name = co_await resolver.find_ns(fqdn);
			/* a named argument: GCC 12 destroys braced temporaries of a co_await twice */
			const ntm::config::HostPort hp{name, sig::kDefaultPort};
			eps = co_await resolver.resolve(hp);
			spdlog::info("node: DC of {} is {} (NS record)", ntm::dns::parent_domain(fqdn), name);
		}
		dc_ep.reset();
		for (const auto &e : eps) {
			if ((e.family() == AF_INET && sock4.is_open()) || (e.family() == AF_INET6 && sock6.is_open())) {
				dc_ep = e;
				break;
			}
		}
		if (!dc_ep)
			throw ntm::Error("no usable address for the DC", EADDRNOTAVAIL);
	}

	void apply_addresses()
	{
		if (vip4)
			ntm::add_address(link.ifindex, *vip4, 32);
		if (vip6)
			ntm::add_address(link.ifindex, *vip6, 128);
		ntm::set_link_up(link.ifindex);
		if (pool4)
			ntm::replace_route(link.ifindex, pool4->addr, pool4->len);
		if (pool6)
			ntm::replace_route(link.ifindex, pool6->addr, pool6->len);
	}

	awaitable<void> do_register()
	{
		sig::Message req;
		req.type = sig::MsgType::registration;
		req.fqdn = fqdn;
		const auto gen = addr_gen;
		req.local_eps = local_endpoints();
		req.ciphers = ncfg.ciphers;
		const auto resp = co_await sigio.request(dc_session, *dc_ep, req);
		if (resp.status != sig::Status::ok) {
			if (resp.status == sig::Status::unknown_key || resp.status == sig::Status::key_expired)
				need_login = true;
			throw ntm::Error("registration refused by the DC: " +
					 std::string(sig::status_name(*resp.status)) +
					 (resp.error_text.empty() ? "" : ": " + resp.error_text));
		}
		const bool changed = resp.vip4 != vip4 || resp.vip6 != vip6;
		vip4 = resp.vip4;
		vip6 = resp.vip6;
		pool4 = resp.pool4;
		pool6 = resp.pool6;
		external_ep = resp.external_ep;
		nated = resp.nated.value_or(false);
		interval = std::chrono::seconds(std::max<unsigned>(resp.interval.value_or(20), 1));
		apply_addresses();
		registered = true;
		/* addresses changed while this was in flight: what we sent is stale */
		need_register = gen != addr_gen;
		missed = 0;
		spdlog::info("node: registered as {}: virtual {} {}, seen from {} ({}){}", fqdn,
			     vip4 ? vip4->to_string() : "-", vip6 ? vip6->to_string() : "-",
			     external_ep ? external_ep->to_string() : "?", nated ? "behind NAT" : "public",
			     changed ? "" : ", unchanged");
		(void)sd_notifyf(0, "STATUS=registered as %s (%s)", fqdn.c_str(),
				 vip4 ? vip4->to_string().c_str() : "-");
	}

	awaitable<void> do_keepalive()
	{
		sig::Message req;
		req.type = sig::MsgType::keepalive;
		req.nat_mapping = nat_mapping;
		try {
			const auto resp = co_await sigio.request(dc_session, *dc_ep, req, kKeepaliveRetries);
			if (resp.status == sig::Status::not_registered) {
				spdlog::info("node: the DC does not know us (restarted?): registering again");
				need_register = true;
				co_return;
			}
			if (resp.status != sig::Status::ok) {
				if (resp.status == sig::Status::unknown_key || resp.status == sig::Status::key_expired)
					need_login = true;
				need_register = true;
				co_return;
			}
			missed = 0;
			if (resp.external_ep && external_ep && *resp.external_ep != *external_ep) {
				spdlog::info("node: NAT mapping changed: {} -> {}", external_ep->to_string(),
					     resp.external_ep->to_string());
				need_register = true;
			}
		} catch (const ntm::Error &e) {
			if (e.code() == ECANCELED)
				throw;
			if (++missed >= kMissedKeepalives) {
				spdlog::warn("node: {} keepalives unanswered: registering again", missed);
				need_register = true;
			}
		}
	}

	/*
	 * K_tun of a direct tunnel is needed only while it is set up; a
	 * relayed one keeps using it (Relay Bind, Probe) for the tunnel's life.
	 */
	static bool comm_alive(const Comm &c, Clock::time_point now)
	{
		return c.expires >= now || (c.path && c.path->active());
	}

	void expire_comms()
	{
		const auto now = Clock::now();
		for (auto it = comms.begin(); it != comms.end();) {
			if (!comm_alive(*it->second, now))
				it = comms.erase(it);
			else
				++it;
		}
	}

	awaitable<void> main_loop()
	{
		auto backoff = std::chrono::seconds(1);
		while (!stopped) {
			try {
				/* also when the DC's lookup failed after a login: never register without dc_ep */
				if (need_login || !dc_session || !dc_ep || Clock::now() >= relogin_at)
					co_await do_login();
				if (need_register || !registered)
					co_await do_register();
				backoff = std::chrono::seconds(1);
				last_error.clear();
				if (need_login || need_register) {
					/* something changed meanwhile: again, shortly */
					co_await sleep(std::chrono::seconds(1));
					continue;
				}
				co_await sleep(interval);
				if (stopped)
					break;
				expire_comms();
				if (need_login || need_register)
					continue;
				co_await do_keepalive();
			} catch (const LoginError &e) {
				if (e.status() == sig::Status::auth_failed)
					throw; /* fatal: the configuration is wrong */
				last_error = e.what();
				spdlog::error("node: {}", e.what());
			} catch (const ntm::Error &e) {
				if (stopped || e.code() == ECANCELED)
					break;
				last_error = e.what();
				spdlog::warn("node: {}; retrying in {} s", e.what(), backoff.count());
			}
			if (!last_error.empty()) {
				co_await sleep(backoff);
				backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::seconds>(kMaxBackoff));
			}
		}
	}

	/* ---- tunnels ---- */

	std::uint32_t new_local_index() const
	{
		for (;;) {
			const auto idx = sig::random_u32_nonzero();
			if (std::none_of(peers.begin(), peers.end(),
					 [idx](const auto &p) { return p.second.local_index == idx; }))
				return idx;
		}
	}

	void install(Peer p, const kx::TunnelKeys &k)
	{
		/* a rebuilt tunnel replaces the old one, and a stale one holding the same address goes too */
		for (auto it = peers.begin(); it != peers.end();) {
			const bool same = it->first == p.fqdn || (p.vip4 && it->second.vip4 == p.vip4) ||
					  (p.vip6 && it->second.vip6 == p.vip6);
			if (same && it->second.path && it->second.path != p.path)
				it->second.path->stop();
			if (same) {
				try {
					ntm::del_tunnel(genl, dev(), it->second.local_index);
				} catch (const std::exception &e) {
					spdlog::debug("node: remove old tunnel: {}", e.what());
				}
				it = peers.erase(it);
			} else {
				++it;
			}
		}
		ntm::TunnelSettings s;
		s.local_index = p.local_index;
		s.remote_index = p.remote_index;
		s.endpoint = p.endpoint;
		s.vip4 = p.vip4;
		s.vip6 = p.vip6;
		s.cipher = p.cipher;
		s.key = k.data_key;
		s.tx_salt = p.opener ? k.opener_salt : k.waiter_salt;
		s.rx_salt = p.opener ? k.waiter_salt : k.opener_salt;
		if (ncfg.tunnel_lifetime != 0)
			s.lifetime = ncfg.tunnel_lifetime;
		/* relayed: ntmd moves the endpoint (relay or direct), packets on the other path must not */
		if (p.path)
			s.flags = NTM_TUNNEL_F_NO_ROAMING;
		ntm::new_tunnel(genl, dev(), s);
		KeyLog::instance().tunnel(p.comm_id, p.opener, p.local_index, p.remote_index, p.cipher, k.data_key.span(),
					  *s.tx_salt, *s.rx_salt);
		p.established = unix_now();
		tunnels_built++;
		spdlog::info("node: tunnel to {} ({} {}) via {}: local {} remote {}, {}, we {}", p.fqdn,
			     p.vip4 ? p.vip4->to_string() : "-", p.vip6 ? p.vip6->to_string() : "-",
			     p.endpoint.to_string(), hex_id(p.local_index), hex_id(p.remote_index),
			     ntm::cipher_name(p.cipher), p.opener ? "opened" : "waited");
		auto path = p.path;
		peers[p.fqdn] = std::move(p);
		if (path)
			path->start();
	}

	/* PATH relay / relay only: the relay's endpoint, the candidates to probe, and its bind */
	void make_relayed(Comm &c, const sig::Message &m)
	{
		if (!m.path || *m.path == sig::Path::direct || m.relay_eps.empty())
			return;
		const auto leg = c.action == sig::Action::open ? sig::Leg::opener : sig::Leg::waiter;
		std::vector<ntm::Endpoint> candidates = m.peer_local_eps;
		if (m.peer_ep)
			candidates.push_back(*m.peer_ep);
		std::erase_if(candidates, [&](const ntm::Endpoint &e) {
			return (e.family() == AF_INET && !sock4.is_open()) || (e.family() == AF_INET6 && !sock6.is_open());
		});
		const std::string peer = c.peer_fqdn;
		PathEnv env{
			.io = io,
			.sigio = sigio,
			.set_endpoint =
				[this, peer](const ntm::Endpoint &to) {
					const auto it = peers.find(peer);
					if (it == peers.end())
						throw ntm::Error("no tunnel to " + peer);
					ntm::TunnelSettings s;
					s.local_index = it->second.local_index;
					s.endpoint = to;
					ntm::set_tunnel(genl, dev(), s);
					it->second.endpoint = to;
				},
			.rx_idle_s = [this, peer]() -> std::optional<double> { return rx_idle(peer); },
			.external_ep = [this] { return external_ep; },
			.on_mapping =
				[this](sig::NatMapping v) {
					nat_mapping = v;
				},
			.on_relay_lost =
				[this, peer, leg] {
					/* the opener asks for a new path; the waiter waits for its Tunnel Request */
					if (leg == sig::Leg::opener && !stopped)
						asio::co_spawn(io, ensure_peer(peer, false), asio::detached);
				},
		};
		c.path = std::make_shared<RelayedPath>(std::move(env), c.tun, leg, m.relay_eps.front(),
						       std::move(candidates), *m.path == sig::Path::relay, peer);
	}

	/* seconds since the tunnel to peer received an authentic packet */
	std::optional<double> rx_idle(const std::string &peer)
	{
		const auto it = peers.find(peer);
		if (it == peers.end())
			return std::nullopt;
		try {
			const auto t = ntm::get_tunnel(genl, dev(), it->second.local_index);
			timespec now{};
			::clock_gettime(CLOCK_BOOTTIME, &now);
			const double now_s = static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
			const double since = t.last_rx_ns == 0 ? static_cast<double>(t.age_s)
							       : now_s - static_cast<double>(t.last_rx_ns) / 1e9;
			return since;
		} catch (const std::exception &) {
			return std::nullopt;
		}
	}

	std::shared_ptr<Comm> make_comm(const sig::Message &m)
	{
		auto c = std::make_shared<Comm>();
		c->action = *m.action;
		auto s = std::make_shared<SigSession>();
		s->kind = sig::Kind::tun;
		s->key_id = *m.comm_id;
		s->key = m.k_tun;
		s->my_dir = c->action == sig::Action::open ? sig::Direction::opener : sig::Direction::waiter;
		s->peer_dir = c->action == sig::Action::open ? sig::Direction::waiter : sig::Direction::opener;
		c->tun = std::move(s);
		c->k_tmp = m.k_tmp;
		c->cipher = *m.cipher;
		c->peer_fqdn = m.peer_fqdn;
		c->peer_vip4 = m.peer_vip4;
		c->peer_vip6 = m.peer_vip6;
		c->peer_ep = *m.peer_ep;
		c->expires = Clock::now() + kCommLifetime;
		make_relayed(*c, m);
		comms[*m.comm_id] = c;
		return c;
	}

	/* The opener's side: an ephemeral X25519 key in the Tunnel Request, authenticated with K_tmp. */
	awaitable<void> open_tunnel(std::shared_ptr<Comm> c)
	{
		const std::uint32_t comm = c->tun->key_id;
		try {
			const auto idx = new_local_index();
			const kx::Opener exchange(kx::Context{.comm_id = comm,
							      .generation = 0,
							      .opener = {fqdn, vip4, vip6},
							      .waiter = {c->peer_fqdn, c->peer_vip4, c->peer_vip6},
							      .cipher = c->cipher},
						  c->k_tmp.span(), idx);
			sig::Message req;
			req.type = sig::MsgType::tunnel;
			exchange.fill_request(req);
			/* relayed: tell the relay where we are, then everything goes through it */
			if (c->path)
				co_await c->path->bind();
			const ntm::Endpoint to = c->path ? c->path->relay() : c->peer_ep;
			spdlog::info("node: tunnel request to {} at {}{} (comm {})", c->peer_fqdn, to.to_string(),
				     c->path ? " (relay)" : "", hex_id(comm));
			ntm::Endpoint from;
			const auto resp = co_await sigio.request(c->tun, to, req, std::nullopt, &from);
			if (resp.status != sig::Status::ok)
				throw ntm::Error(c->peer_fqdn + " refused the tunnel: " +
						 std::string(sig::status_name(*resp.status)) +
						 (resp.error_text.empty() ? "" : " (" + resp.error_text + ")"));
			/* AUTH, X25519, CONFIRM: nothing is programmed before all three hold */
			const auto keys = exchange.finish(resp);
			Peer p;
			p.fqdn = c->peer_fqdn;
			p.vip4 = c->peer_vip4;
			p.vip6 = c->peer_vip6;
			p.local_index = idx;
			p.remote_index = *resp.index;
			p.endpoint = from;
			p.opener = true;
			p.cipher = c->cipher;
			p.comm_id = comm;
			p.path = c->path;
			install(std::move(p), keys);
			c->status = sig::Status::ok;
		} catch (const std::exception &e) {
			tunnels_failed++;
			c->status = sig::Status::no_route;
			c->error = e.what();
			spdlog::warn("node: tunnel to {}: {}", c->peer_fqdn, e.what());
		}
		c->completion.finish();
	}

	/*
	 * The waiter's side of a Tunnel Request (the envelope opened with
	 * K_tun): AUTH first, then the match with the Route Direction, then
	 * the X25519 work, the tunnel, the answer. A retransmitted request
	 * never gets here: SigIo answers it from its cache (same ephemeral).
	 */
	void on_tunnel_request(const Inbound &in)
	{
		const auto &m = in.msg;
		const auto it = comms.find(in.session->key_id);
		if (it == comms.end() || it->second->action != sig::Action::wait) {
			sigio.respond(in, sig::make_response(m, sig::Status::not_found, "no such communication"));
			return;
		}
		auto c = it->second;
		auto refuse = [&](sig::Status st, const std::string &why) {
			tunnels_failed++;
			spdlog::warn("node: tunnel request from {}: {}", in.from.to_string(), why);
			sigio.respond(in, sig::make_response(m, st, why));
		};
		std::optional<kx::Waiter> exchange;
		try {
			exchange.emplace(m, c->tun->key_id, kx::Party{fqdn, vip4, vip6}, c->k_tmp.span());
		} catch (const kx::KxError &e) {
			refuse(e.status(), e.what());
			return;
		}
		if (m.fqdn != c->peer_fqdn || m.vip4 != c->peer_vip4 || m.vip6 != c->peer_vip6 || m.cipher != c->cipher) {
			refuse(sig::Status::auth_failed, "does not match the route direction");
			return;
		}
		if (exchange->context().generation != 0) {
			refuse(sig::Status::malformed, "GENERATION " + std::to_string(exchange->context().generation) +
							       ": this version does not rekey");
			return;
		}
		Peer p;
		p.fqdn = c->peer_fqdn;
		p.vip4 = c->peer_vip4;
		p.vip6 = c->peer_vip6;
		p.local_index = new_local_index();
		p.remote_index = *m.index;
		p.endpoint = in.from;
		p.opener = false;
		p.cipher = c->cipher;
		p.comm_id = c->tun->key_id;
		p.path = c->path;
		const auto idx = p.local_index;
		auto resp = sig::make_response(m, sig::Status::ok);
		try {
			const auto keys = exchange->answer(idx, resp);
			install(std::move(p), keys);
		} catch (const kx::KxError &e) {
			refuse(e.status(), e.what());
			return;
		} catch (const std::exception &e) {
			refuse(sig::Status::internal, e.what());
			return;
		}
		sigio.respond(in, resp);
		c->status = sig::Status::ok;
		c->completion.finish();
	}

	awaitable<void> handle(Inbound in)
	{
		if (in.session->kind == sig::Kind::tun) {
			if (in.msg.type == sig::MsgType::tunnel) {
				on_tunnel_request(in);
			} else if (in.msg.type == sig::MsgType::probe) {
				/* route optimisation: answer to wherever it came from */
				auto ack = sig::make_response(in.msg, sig::Status::ok);
				ack.probe_nonce = in.msg.probe_nonce;
				sigio.respond(in, ack);
			} else
				sigio.respond(in, sig::make_response(in.msg, sig::Status::malformed, "unexpected"));
			co_return;
		}
		if (in.msg.type != sig::MsgType::route_direction || !dc_ep) {
			sigio.respond(in, sig::make_response(in.msg, sig::Status::malformed, "unexpected"));
			co_return;
		}
		/* Route Direction from our DC: a peer wants us */
		const auto &m = in.msg;
		auto c = make_comm(m);
		spdlog::info("node: route direction from the DC: {} {}{} (comm {})",
			     c->action == sig::Action::open ? "open a tunnel to" : "wait for a tunnel from",
			     c->peer_fqdn, c->path ? " through relay " + c->path->relay().to_string() : "",
			     hex_id(*m.comm_id));
		if (c->path && c->action == sig::Action::wait) {
			/* bound before the ack, so the opener's Tunnel Request finds us at the relay */
			try {
				co_await c->path->bind();
			} catch (const std::exception &e) {
				spdlog::warn("node: relay {}: {}", c->path->relay().to_string(), e.what());
				c->path->stop();
				sigio.respond(in, sig::make_response(m, sig::Status::no_route, "relay unreachable"));
				co_return;
			}
		}
		sigio.respond(in, sig::make_response(m, sig::Status::ok));
		if (c->action == sig::Action::open)
			co_await open_tunnel(c);
	}

	/* Direction Request for a name or an address, shared by concurrent askers. */
	awaitable<std::shared_ptr<Lookup>> ensure_peer(std::string target, bool by_vip)
	{
		if (const auto it = lookups.find(target); it != lookups.end()) {
			auto l = it->second;
			(void)co_await l->completion.wait(io, kWaitForTunnel + std::chrono::seconds(20));
			co_return l;
		}
		auto l = std::make_shared<Lookup>();
		lookups[target] = l;
		try {
			co_await direction(*l, target, by_vip);
		} catch (const std::exception &e) {
			l->status = sig::Status::internal;
			l->error = e.what();
		}
		lookups.erase(target);
		if (l->status != sig::Status::ok)
			spdlog::info("node: no tunnel to {}: {} {}", target, sig::status_name(l->status), l->error);
		l->completion.finish();
		co_return l;
	}

	awaitable<void> direction(Lookup &l, const std::string &target, bool by_vip)
	{
		if (!registered || !dc_session || !dc_ep) {
			l.status = sig::Status::not_registered;
			l.error = "not registered yet";
			co_return;
		}
		sig::Message req;
		req.type = sig::MsgType::direction;
		req.ciphers = ncfg.ciphers;
		if (by_vip) {
			in_addr v4{};
			in6_addr v6{};
			if (::inet_pton(AF_INET, target.c_str(), &v4) == 1)
				req.peer_vip4 = ntm::IpAddress::v4(v4);
			else if (::inet_pton(AF_INET6, target.c_str(), &v6) == 1)
				req.peer_vip6 = ntm::IpAddress::v6(v6);
			else
				throw ntm::Error("bad address " + target);
		} else {
			req.peer_fqdn = target;
		}
		spdlog::info("node: direction request for {}", target);
		const auto resp = co_await sigio.request(dc_session, *dc_ep, req);
		if (resp.status != sig::Status::ok) {
			l.status = *resp.status;
			l.error = resp.error_text;
			if (resp.status == sig::Status::unknown_key || resp.status == sig::Status::key_expired) {
				need_login = true;
				wake.cancel();
			} else if (resp.status == sig::Status::not_registered) {
				need_register = true;
				wake.cancel();
			}
			co_return;
		}
		l.peer_fqdn = resp.peer_fqdn;
		auto c = make_comm(resp);
		spdlog::info("node: route direction for {}: {} (comm {})", resp.peer_fqdn,
			     c->action == sig::Action::open ? "we open" : "the peer opens, we wait",
			     hex_id(*resp.comm_id));
		if (c->action == sig::Action::open)
			co_await open_tunnel(c);
		else if (!co_await c->completion.wait(io, kWaitForTunnel)) {
			tunnels_failed++;
			c->status = sig::Status::no_route;
			c->error = "no tunnel request from " + c->peer_fqdn + " within " +
				   std::to_string(kWaitForTunnel.count()) + " s";
		}
		l.status = c->status;
		l.error = c->error;
	}

	awaitable<HookAnswer> on_dns(const ntm::dns::Question &q)
	{
		dns_hooked++;
		HookAnswer a;
		a.ttl = kDnsTtl;
		auto fill = [&](const std::optional<ntm::IpAddress> &v4, const std::optional<ntm::IpAddress> &v6) {
			a.rcode = ntm::dns::Rcode::noerror;
			if (v4 && (q.qtype == ntm::dns::kTypeA || q.qtype == 255))
				a.addrs.push_back(*v4);
			if (v6 && (q.qtype == ntm::dns::kTypeAAAA || q.qtype == 255))
				a.addrs.push_back(*v6);
		};
		try {
			if (q.name == fqdn) {
				fill(vip4, vip6);
				co_return a;
			}
			if (const auto it = peers.find(q.name); it != peers.end()) {
				fill(it->second.vip4, it->second.vip6);
				co_return a;
			}
			const auto l = co_await ensure_peer(q.name, false);
			if (l->status == sig::Status::ok) {
				if (const auto it = peers.find(q.name); it != peers.end()) {
					fill(it->second.vip4, it->second.vip6);
					co_return a;
				}
			}
			a.rcode = l->status == sig::Status::not_found ? ntm::dns::Rcode::nxdomain
								      : ntm::dns::Rcode::servfail;
		} catch (const std::exception &e) {
			spdlog::warn("node: DNS hook for {}: {}", q.name, e.what());
			a.rcode = ntm::dns::Rcode::servfail;
		}
		co_return a;
	}

	/* ---- kernel events ---- */

	void on_event(const ntm::Event &ev)
	{
		if (ntm::event_ifindex(ev) != link.ifindex)
			return;
		if (const auto *acq = std::get_if<ntm::AcquireEvent>(&ev)) {
			const auto &dst = acq->dst;
			if (!in_prefix(dst, pool4) && !in_prefix(dst, pool6))
				return;
			if ((vip4 && dst == *vip4) || (vip6 && dst == *vip6))
				return;
			acquires++;
			spdlog::info("node: acquire: a packet for {} has no tunnel", dst.to_string());
			asio::co_spawn(io, ensure_peer(dst.to_string(), true), asio::detached);
		} else if (const auto *ep = std::get_if<ntm::EndpointEvent>(&ev)) {
			for (auto &[name, p] : peers) {
				if (p.local_index == ep->local_index) {
					spdlog::info("node: {} moved to {}", name, ep->endpoint.to_string());
					p.endpoint = ep->endpoint;
				}
			}
		} else if (const auto *ex = std::get_if<ntm::ExpiredEvent>(&ev)) {
			std::erase_if(peers, [&](const auto &kv) {
				if (kv.second.local_index != ex->local_index)
					return false;
				spdlog::info("node: tunnel to {} expired ({})", kv.first,
					     ntm::expire_reason_name(ex->reason));
				return true;
			});
		}
	}

	awaitable<void> addr_loop()
	{
		std::vector<std::uint8_t> buf(16384);
		for (;;) {
			asio::error_code ec;
			co_await addrdesc.async_wait(asio::posix::descriptor_base::wait_read,
						     asio::redirect_error(use_awaitable, ec));
			if (ec || stopped)
				co_return;
			bool relevant = false;
			for (;;) {
				const ssize_t n = ::recv(addrdesc.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
				if (n <= 0)
					break;
				auto len = static_cast<std::size_t>(n);
				// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
				for (auto *h = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(h, len);
				     h = NLMSG_NEXT(h, len)) {
					if (h->nlmsg_type != RTM_NEWADDR && h->nlmsg_type != RTM_DELADDR)
						continue;
					if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg)))
						continue;
					const auto *ifa = static_cast<const ifaddrmsg *>(NLMSG_DATA(h));
					if (ifa->ifa_index != link.ifindex)
						relevant = true;
				}
			}
			if (relevant)
				addr_gen++;
			if (relevant)
				for (auto &[name, p] : peers)
					if (p.path)
						p.path->network_changed();
			if (relevant && registered) {
				spdlog::info("node: local addresses changed: registering again");
				/* let a burst of changes settle */
				need_register = true;
				wake.expires_after(std::chrono::seconds(1));
			}
		}
	}

	nlohmann::json status() const
	{
		nlohmann::json ps = nlohmann::json::array();
		for (const auto &[name, p] : peers) {
			ps.push_back({{"fqdn", name},
				      {"vip4", json_or_null(opt_str(p.vip4))},
				      {"vip6", json_or_null(opt_str(p.vip6))},
				      {"local_index", p.local_index},
				      {"remote_index", p.remote_index},
				      {"endpoint", p.endpoint.to_string()},
				      {"role", p.opener ? "opener" : "waiter"},
				      {"cipher", ntm::cipher_name(p.cipher)},
				      {"comm_id", p.comm_id},
				      {"established", p.established},
				      {"path", p.path ? p.path->status() : nlohmann::json{{"path", "direct"}}}});
		}
		nlohmann::json j = {
			{"interface", ncfg.interface},
			{"port", ncfg.port},
			{"fqdn", fqdn},
			{"registered", registered},
			{"vip4", json_or_null(opt_str(vip4))},
			{"vip6", json_or_null(opt_str(vip6))},
			{"external_ep", external_ep ? nlohmann::json(external_ep->to_string()) : nlohmann::json(nullptr)},
			{"nated", nated},
			{"nat_mapping", !nat_mapping ? "unknown"
				       : *nat_mapping == sig::NatMapping::per_destination ? "per-destination"
				       : *nat_mapping == sig::NatMapping::endpoint_independent ? "endpoint-independent"
												: "unknown"},
			{"dc", dc_ep ? nlohmann::json(dc_ep->to_string()) : nlohmann::json(nullptr)},
			{"key_id", dc_session ? dc_session->key_id : 0U},
			{"peers", ps},
			{"tunnels_built", tunnels_built},
			{"tunnels_failed", tunnels_failed},
			{"dns_hooked", dns_hooked},
			{"acquires", acquires},
			{"rx", sigio.rx_messages()},
			{"tx", sigio.tx_messages()},
			{"drops", sigio.drops().to_json()},
		};
		if (!last_error.empty())
			j["last_error"] = last_error;
		if (dns) {
			const auto &c = dns->counters();
			j["dns"] = {{"queries", c.queries},
				    {"hooked", c.hooked},
				    {"forwarded", c.forwarded},
				    {"upstream_failures", c.upstream_failures},
				    {"malformed", c.malformed}};
		}
		return j;
	}
};

NodeRole::NodeRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver)
    : impl_(std::make_unique<Impl>(io, cfg, resolver))
{}

NodeRole::~NodeRole() = default;

void NodeRole::start()
{
	auto &i = *impl_;
	i.sigio.start();
	if (i.dns)
		i.dns->start();
	asio::co_spawn(i.io,
		       kernel_event_loop(i.evdesc, i.events, i.stopped, [&i](const ntm::Event &e) { i.on_event(e); }, "node"),
		       asio::detached);
	asio::co_spawn(i.io, i.addr_loop(), asio::detached);
	asio::co_spawn(i.io, i.main_loop(), [](const std::exception_ptr &e) {
		if (e)
			std::rethrow_exception(e);
	});
	spdlog::info("node: {} on UDP port {}{}", i.ncfg.interface, i.ncfg.port,
		     i.dns ? ", DNS hook on " + i.ncfg.dns_listen.front().to_string() : "");
	if (i.dns) {
		/* systemd-resolved per-link routing is not implemented: say how to use the hook */
		const auto hook = i.ncfg.dns_listen.front().address().to_string();
		spdlog::info("node: applications reach the DNS hook when /etc/resolv.conf says 'nameserver {}'",
			     hook);
		if (i.ncfg.resolved == ntm::config::Node::Resolved::yes)
			spdlog::warn("node: resolved = \"yes\": systemd-resolved integration is not implemented in "
				     "this version; configure resolv.conf (or a resolved DNS= entry) for {}",
				     hook);
	}
}

awaitable<void> NodeRole::shutdown()
{
	auto &i = *impl_;
	if (i.registered && i.dc_session && i.dc_ep) {
		sig::Message req;
		req.type = sig::MsgType::deregistration;
		try {
			i.sigio.set_rto(std::chrono::milliseconds(300), 1);
			(void)co_await i.sigio.request(i.dc_session, *i.dc_ep, req);
			spdlog::info("node: deregistered");
		} catch (const std::exception &e) {
			spdlog::info("node: deregistration: {}", e.what());
		}
	}
	i.stopped = true;
	i.wake.cancel();
	i.sigio.stop();
}

void NodeRole::stop()
{
	auto &i = *impl_;
	i.stopped = true;
	i.wake.cancel();
	i.sigio.stop();
	if (i.dns)
		i.dns->stop();
	for (auto &[id, c] : i.comms)
		c->completion.finish();
	for (auto &[t, l] : i.lookups)
		l->completion.finish();
	asio::error_code ignored;
	i.evdesc.cancel(ignored);
	i.addrdesc.cancel(ignored);
	i.sock4.cancel(ignored);
	i.sock6.cancel(ignored);
}

void NodeRole::refresh()
{
	impl_->need_register = true;
	impl_->wake.cancel();
}

nlohmann::json NodeRole::status() const
{
	return impl_->status();
}

} // namespace ntmd
