// SPDX-License-Identifier: GPL-2.0
/*
 * The node role: login at the AS, registration and keepalives at the DC,
 * the DNS hook and direction requests, kernel events, status. The data
 * tunnels themselves are node_tunnels.cpp's.
 */
#include "node_impl.hpp"
#include "events.hpp"

namespace ntmd {

NodeRole::Impl::Impl(asio::io_context &io_, ntm::config::Config c, Resolver &r)
    : io(io_), cfg(std::move(c)), ncfg(*cfg.node), resolver(r), sock4(io_), sock6(io_), evdesc(io_), addrdesc(io_),
      sigio(io_, &sock4, &sock6), wake(io_)
{
	policy.keepalive = ncfg.keepalive;
	policy.dead_after = ncfg.dead_after;
	policy.rekey_after = ncfg.rekey_after;
	policy.rekey_packets = ncfg.rekey_packets;
	link = open_ntm_link(ncfg.interface, "node");
	(void)KeyLog::instance(); /* NTM_KEYLOG: warns now, at start */
	try {
		stale_removed = clear_stale_state(genl, link, ncfg.interface, "node", false);
		setup_sockets();
		watch_kernel_events(events, evdesc);
		/* a default route is the last step of a move: binds sent before it go nowhere */
		watch_rtnetlink(addrdesc, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
						  RTMGRP_IPV6_ROUTE);
		sigio.set_key_lookup([this](sig::Kind k, std::uint32_t id) { return lookup_key(k, id); });
		sigio.set_request_handler([this](Inbound in) { return handle(std::move(in)); });
		sigio.set_notice_handler(
			[this](const sig::Notice &n, const ntm::Endpoint &from) { on_notice(n, from); });
		if (!ncfg.dns_listen.empty()) {
			auto domains = ncfg.ntm_domains;
			dns = std::make_unique<DnsStub>(
				io, ncfg.dns_listen, ncfg.dns_upstream, std::move(domains), ncfg.dns_allow,
				[this](const ntm::dns::Question &q) { return on_dns(q); });
			DnsSetup::Options o;
			o.resolved = ncfg.resolved;
			o.ifname = ncfg.interface;
			o.ifindex = static_cast<int>(link.ifindex);
			o.state_dir = cfg.state_dir;
			o.upstream_explicit = ncfg.dns_upstream_explicit;
			o.listen = ncfg.dns_listen;
			dns_setup = std::make_unique<DnsSetup>(io, std::move(o), *dns);
		}
	} catch (...) {
		teardown();
		throw;
	}
}

void NodeRole::Impl::setup_sockets()
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

void NodeRole::Impl::teardown() noexcept
{
	asio::error_code ignored;
	if (dns_setup)
		dns_setup->stop();
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

std::pair<KeyState, std::shared_ptr<SigSession>> NodeRole::Impl::lookup_key(sig::Kind kind, std::uint32_t id)
{
	if (kind == sig::Kind::dc) {
		if (dc_session && dc_session->key_id == id)
			return {KeyState::ok, dc_session};
		return {KeyState::unknown, nullptr};
	}
	const auto it = comms.find(id);
	if (it == comms.end() || !comm_alive(it->first, *it->second, Clock::now()))
		return {KeyState::unknown, nullptr};
	return {KeyState::ok, it->second->tun};
}

void NodeRole::Impl::on_notice(const sig::Notice &n, const ntm::Endpoint &from)
{
	if (!dc_session || n.key_id != dc_session->key_id || !dc_ep || from != *dc_ep)
		return;
	/* anyone can send a NOTICE with our address and KEY_ID: one login per minute at most (D71) */
	if (!relogin_guard.notice(LimitClock::now())) {
		spdlog::debug("node: {} from {} ignored: logged in a short while ago",
			      sig::status_name(n.status), from.to_string());
		return;
	}
	spdlog::warn("node: DC {} says {} for our key: logging in again", from.to_string(),
		     sig::status_name(n.status));
	need_login = true;
	wake.cancel();
	/* a registration in flight under the refused key would hold the login back for its whole back-off */
	if (const auto n_abandoned = sigio.abandon(sig::Kind::dc, n.key_id); n_abandoned != 0)
		spdlog::debug("node: {} requests under key {} abandoned", n_abandoned, hex_id(n.key_id));
}

awaitable<void> NodeRole::Impl::sleep(Clock::duration d)
{
	wake.expires_after(d);
	asio::error_code ec;
	co_await wake.async_wait(asio::redirect_error(use_awaitable, ec));
}

std::vector<ntm::Endpoint> NodeRole::Impl::local_endpoints() const
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

awaitable<void> NodeRole::Impl::do_login()
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
	logins++;
	relogin_guard.logged_in(LimitClock::now());
	need_register = true;
	spdlog::info("node: logged in as {}: key {} (K_ntmdc) valid {} s", fqdn, hex_id(r.key_id),
		     r.lifetime.count());
	emit_event("node", "logged_in", {{"fqdn", fqdn}, {"as", ncfg.as.to_string()}});
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

void NodeRole::Impl::apply_addresses()
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

awaitable<void> NodeRole::Impl::do_register()
{
	sig::Message req;
	req.type = sig::MsgType::registration;
	req.fqdn = fqdn;
	const auto gen = addr_gen;
	req.local_eps = local_endpoints();
	req.ciphers = ncfg.ciphers;
	sig::Message resp;
	try {
		resp = co_await sigio.request(dc_session, *dc_ep, req);
	} catch (const ntm::Error &e) {
		/*
		 * A DC that lost our key answers nothing sealed, only NOTICEs,
		 * which may not get through: after a few silent registrations,
		 * a new key (D71). The main loop's back-off spaces them.
		 */
		if (e.code() == ETIMEDOUT && relogin_guard.no_answer()) {
			spdlog::warn("node: {} registrations unanswered: logging in again", relogin_guard.misses());
			need_login = true;
			logins_unanswered++;
		}
		throw;
	}
	relogin_guard.answered();
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
	if (dns_setup && dns)
		dns_setup->registered(vip4, vip6, dns->domains());
	registered = true;
	/* addresses changed while this was in flight: what we sent is stale */
	need_register = gen != addr_gen;
	missed = 0;
	spdlog::info("node: registered as {}: virtual {} {}, seen from {} ({}){}", fqdn,
		     vip4 ? vip4->to_string() : "-", vip6 ? vip6->to_string() : "-",
		     external_ep ? external_ep->to_string() : "?", nated ? "behind NAT" : "public",
		     changed ? "" : ", unchanged");
	emit_event("node", "registered",
		   {{"fqdn", fqdn},
		    {"vip4", vip4 ? vip4->to_string() : ""},
		    {"vip6", vip6 ? vip6->to_string() : ""},
		    {"external", external_ep ? external_ep->to_string() : ""},
		    {"nated", nated},
		    {"dc", dc_ep ? dc_ep->to_string() : ""}});
	(void)sd_notifyf(0, "STATUS=registered as %s (%s)", fqdn.c_str(),
			 vip4 ? vip4->to_string().c_str() : "-");
}

awaitable<void> NodeRole::Impl::do_keepalive()
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
 * A communication's keys (K_tun, K_tmp) are needed while it is set up, and
 * then for as long as its tunnel lives (rekeys, probes) or its relayed path
 * is active (Relay Binds).
 */
bool NodeRole::Impl::comm_alive(std::uint32_t id, const Comm &c, Clock::time_point now)
{
	return c.expires >= now || (c.path && c.path->active()) || peer_by_comm(id) != nullptr;
}

void NodeRole::Impl::expire_comms()
{
	const auto now = Clock::now();
	for (auto it = comms.begin(); it != comms.end();) {
		if (!comm_alive(it->first, *it->second, now))
			it = comms.erase(it);
		else
			++it;
	}
}

awaitable<void> NodeRole::Impl::main_loop()
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
			if (e.code() == EKEYREJECTED && need_login)
				continue; /* the DC refused our key (NOTICE): log in now, no back-off */
			last_error = e.what();
			spdlog::warn("node: {}; retrying in {} s", e.what(), backoff.count());
			emit_event("node", "registration_failed", {{"error", last_error}, {"retry_s", backoff.count()}});
		}
		if (!last_error.empty()) {
			co_await sleep(backoff);
			backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::seconds>(kMaxBackoff));
		}
	}
}

awaitable<std::shared_ptr<NodeRole::Impl::Lookup>> NodeRole::Impl::ensure_peer(std::string target, bool by_vip)
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

awaitable<void> NodeRole::Impl::direction(Lookup &l, const std::string &target, bool by_vip)
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

awaitable<HookAnswer> NodeRole::Impl::on_dns(const ntm::dns::Question &q)
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

void NodeRole::Impl::on_event(const ntm::Event &ev)
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
	} else if (const auto *tk = std::get_if<ntm::TakeoverEvent>(&ev)) {
		for (auto &[name, p] : peers) {
			if (tk->replaces == 0 && p.held_since && p.local_index == tk->local_index) {
				p.held_since.reset();
				spdlog::info("node: tunnel to {}: the opener's first packet confirmed it", name);
			}
			if (p.change && p.change->new_index == tk->local_index && !p.change->switched) {
				promote(p, *p.change);
				p.change->retire_at = Clock::now() + TunnelPolicy::kRetireGrace;
				spdlog::info("node: tunnel to {}: the peer sends under key {}: switched", name,
					     p.generation);
			}
		}
	} else if (const auto *ex = std::get_if<ntm::ExpiredEvent>(&ev)) {
		if (ex->soft())
			return; /* rekeying is ntmd's, by time and packets (tend) */
		for (auto it = peers.begin(); it != peers.end();) {
			auto &p = it->second;
			if (p.change && ex->local_index == p.change->old_index) {
				/* the old key ended first: the kernel switched to the successor */
				if (!p.change->switched)
					promote(p, *p.change);
				p.change.reset();
			} else if (p.change && ex->local_index == p.change->new_index && !p.change->switched) {
				p.change.reset(); /* an unused successor ended; the old key carries on */
			} else if (p.local_index == ex->local_index) {
				spdlog::info("node: tunnel to {} expired ({})", it->first,
					     ntm::expire_reason_name(ex->reason));
				emit_event("node", "tunnel_down",
					   {{"peer", it->first},
					    {"local_index", p.local_index},
					    {"reason", "expired: " + ntm::expire_reason_name(ex->reason)}});
				if (p.path)
					p.path->stop();
				del_tunnels(p); /* a retired predecessor still there */
				it = peers.erase(it);
				continue;
			}
			++it;
		}
	}
}

awaitable<void> NodeRole::Impl::addr_loop()
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
				if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
					if (h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg)))
						continue;
					const auto *rtm = static_cast<const rtmsg *>(NLMSG_DATA(h));
					/* a new or lost default route of the main table */
					if (rtm->rtm_dst_len == 0 && rtm->rtm_table == RT_TABLE_MAIN &&
					    rtm->rtm_type == RTN_UNICAST)
						relevant = true;
					continue;
				}
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
		if (relevant && dns_setup)
			dns_setup->reread_upstream(); /* inotify misses a resolv.conf written elsewhere and moved in */
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

nlohmann::json NodeRole::Impl::status() const
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
			      {"generation", p.generation},
			      {"key_age_s", std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - p.key_installed).count()},
			      {"silent_s", std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - p.last_heard).count()},
			      {"changing_key", p.exchanging || p.change.has_value()},
			      {"rekeys", p.rekeys},
			      {"probes_sent", p.probes_sent},
			      {"probes_answered", p.probes_answered},
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
		{"tunnels_dead", tunnels_dead},
		{"held_released", held_released},
		{"rekeys", rekeys},
		{"rekeys_failed", rekeys_failed},
		{"dns_hooked", dns_hooked},
		{"acquires", acquires},
		{"logins", logins},
		{"logins_unanswered", logins_unanswered},
		{"notices_ignored", relogin_guard.suppressed()},
		{"rx", sigio.rx_messages()},
		{"tx", sigio.tx_messages()},
		{"drops", sigio.drops().to_json()},
	};
	if (!last_error.empty())
		j["last_error"] = last_error;
	if (!failed.empty())
		j["failed"] = failed;
	j["stale_removed"] = stale_removed;
	if (dns) {
		const auto &c = dns->counters();
		j["dns"] = {{"queries", c.queries},
			    {"hooked", c.hooked},
			    {"forwarded", c.forwarded},
			    {"upstream_failures", c.upstream_failures},
			    {"malformed", c.malformed},
			    {"overloaded", c.overloaded},
			    {"refused", c.refused}};
		if (dns_setup) {
			j["dns"]["system"] = DnsSetup::mode_name(dns_setup->mode());
			if (!dns_setup->last_error().empty())
				j["dns"]["system_error"] = dns_setup->last_error();
		}
	}
	return j;
}

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
	if (i.dns_setup)
		i.dns_setup->start(); /* resolved = "yes" without systemd-resolved: throws, fatal */
	asio::co_spawn(i.io,
		       kernel_event_loop(i.evdesc, i.events, i.stopped, [&i](const ntm::Event &e) { i.on_event(e); }, "node"),
		       asio::detached);
	asio::co_spawn(i.io, i.addr_loop(), asio::detached);
	asio::co_spawn(i.io, i.tunnel_loop(), asio::detached);
	/*
	 * A fatal error (the AS refused our credentials) ends the process when
	 * the node is its only role; next to other roles (a DC, an IKE gateway)
	 * only the node stops, and its status says why.
	 */
	const bool alone = !(i.cfg.role_as || i.cfg.role_dc || i.cfg.role_ike || i.cfg.role_rs);
	asio::co_spawn(i.io, i.main_loop(), [this, alone](const std::exception_ptr &e) {
		if (!e)
			return;
		if (alone)
			std::rethrow_exception(e);
		std::string why = "unknown error";
		try {
			std::rethrow_exception(e);
		} catch (const std::exception &ex) {
			why = ex.what();
		} catch (...) { // NOLINT(bugprone-empty-catch): why stays "unknown error"
		}
		spdlog::error("node: the role stopped: {}; the other roles keep running", why);
		impl_->failed = why;
		stop();
	});
	spdlog::info("node: {} on UDP port {}{}", i.ncfg.interface, i.ncfg.port,
		     i.dns ? ", DNS hook on " + i.ncfg.dns_listen.front().to_string() : "");
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
			emit_event("node", "deregistered", {{"fqdn", i.fqdn}});
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
	if (i.dns_setup)
		i.dns_setup->stop();
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
