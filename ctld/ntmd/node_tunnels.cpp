// SPDX-License-Identifier: GPL-2.0
/*
 * The node role's data tunnels (Documentation/protocol/tunnel-keys.rst,
 * relay.rst): the X25519 exchange as opener and waiter, relayed paths,
 * make-before-break rekeying, liveness probes and dead peers, and the
 * signalling that arrives from peers under K_tun.
 */
#include "node_impl.hpp"
#include "events.hpp"

namespace ntmd {

std::uint32_t NodeRole::Impl::new_local_index() const
{
	for (;;) {
		const auto idx = sig::random_u32_nonzero();
		if (std::none_of(peers.begin(), peers.end(),
				 [idx](const auto &p) { return p.second.local_index == idx; }))
			return idx;
	}
}

void NodeRole::Impl::install(Peer p, const kx::TunnelKeys &k)
{
	/* a rebuilt tunnel replaces the old one, and a stale one holding the same address goes too */
	for (auto it = peers.begin(); it != peers.end();) {
		const bool same = it->first == p.fqdn || (p.vip4 && it->second.vip4 == p.vip4) ||
				  (p.vip6 && it->second.vip6 == p.vip6);
		if (same && it->second.path && it->second.path != p.path)
			it->second.path->stop();
		if (same) {
			del_tunnels(it->second);
			it = peers.erase(it);
		} else {
			++it;
		}
	}
	auto s = tunnel_settings(p, p.local_index, p.remote_index, k);
	if (!p.opener) {
		/* the opener may not have read our answer yet: nothing leaves before it has the key */
		s.takeover = NTM_TAKEOVER_ON_RX;
		p.held_since = Clock::now();
	}
	ntm::new_tunnel(genl, dev(), s);
	KeyLog::instance().tunnel(p.comm_id, p.opener, p.local_index, p.remote_index, p.cipher, k.data_key.span(),
				  *s.tx_salt, *s.rx_salt);
	p.established = unix_now();
	p.key_installed = Clock::now();
	p.last_heard = p.key_installed;
	tunnels_built++;
	spdlog::info("node: tunnel to {} ({} {}) via {}: local {} remote {}, {}, we {}", p.fqdn,
		     p.vip4 ? p.vip4->to_string() : "-", p.vip6 ? p.vip6->to_string() : "-",
		     p.endpoint.to_string(), hex_id(p.local_index), hex_id(p.remote_index),
		     ntm::cipher_name(p.cipher), p.opener ? "opened" : "waited");
	emit_event("node", "tunnel_up",
		   {{"peer", p.fqdn},
		    {"local_index", p.local_index},
		    {"remote_index", p.remote_index},
		    {"endpoint", p.endpoint.to_string()},
		    {"path", p.path ? "relay" : "direct"},
		    {"relay", p.path ? p.path->relay().to_string() : ""},
		    {"cipher", ntm::cipher_name(p.cipher)},
		    {"side", p.opener ? "opener" : "waiter"}});
	auto path = p.path;
	peers[p.fqdn] = std::move(p);
	if (path)
		path->start();
}

ntm::TunnelSettings NodeRole::Impl::tunnel_settings(const Peer &p, std::uint32_t local_index,
						    std::uint32_t remote_index, const kx::TunnelKeys &k) const
{
	ntm::TunnelSettings s;
	s.local_index = local_index;
	s.remote_index = remote_index;
	s.endpoint = p.endpoint;
	s.vip4 = p.vip4;
	s.vip6 = p.vip6;
	s.cipher = p.cipher;
	s.key = k.data_key;
	s.tx_salt = p.opener ? k.opener_salt : k.waiter_salt;
	s.rx_salt = p.opener ? k.waiter_salt : k.opener_salt;
	apply_key_limits(s, p);
	return s;
}

void NodeRole::Impl::apply_key_limits(ntm::TunnelSettings &s, const Peer &p) const
{
	const std::uint32_t life = ncfg.tunnel_lifetime != 0 ? ncfg.tunnel_lifetime : policy.default_key_lifetime();
	if (life != 0)
		s.lifetime = life;
	/* relayed: ntmd moves the endpoint (relay or direct), packets on the other path must not */
	if (p.path)
		s.flags = NTM_TUNNEL_F_NO_ROAMING;
}

void NodeRole::Impl::del_tunnels(const Peer &p)
{
	for (const auto idx : p.indexes()) {
		try {
			ntm::del_tunnel(genl, dev(), idx);
		} catch (const std::exception &e) {
			spdlog::debug("node: remove tunnel {}: {}", hex_id(idx), e.what());
		}
	}
}

void NodeRole::Impl::make_relayed(Comm &c, const sig::Message &m)
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
				/* both keys during a key change: they share the path */
				for (const auto idx : it->second.indexes()) {
					ntm::TunnelSettings s;
					s.local_index = idx;
					s.endpoint = to;
					try {
						ntm::set_tunnel(genl, dev(), s);
					} catch (const std::exception &) {
						if (idx == it->second.local_index)
							throw;
					}
				}
				it->second.endpoint = to;
			},
		.rx_idle_s = [this, peer]() -> std::optional<double> { return rx_idle(peer); },
		.tx_packets = [this, peer]() -> std::optional<std::uint64_t> {
			const auto it = peers.find(peer);
			if (it == peers.end())
				return std::nullopt;
			try {
				return ntm::get_tunnel(genl, dev(), it->second.local_index)
					.stats.get(NTM_STAT_A_TX_PACKETS);
			} catch (const std::exception &) {
				return std::nullopt;
			}
		},
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

std::optional<double> NodeRole::Impl::rx_idle(const std::string &peer)
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

std::shared_ptr<NodeRole::Impl::Comm> NodeRole::Impl::make_comm(const sig::Message &m)
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

awaitable<void> NodeRole::Impl::open_tunnel(std::shared_ptr<Comm> c)
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
		/* the waiter holds its tunnel until it hears from us: tell it now, even if we stay silent */
		asio::co_spawn(io, probe_peer(c->peer_fqdn), asio::detached);
	} catch (const std::exception &e) {
		tunnels_failed++;
		c->status = sig::Status::no_route;
		c->error = e.what();
		spdlog::warn("node: tunnel to {}: {}", c->peer_fqdn, e.what());
	}
	c->completion.finish();
}

void NodeRole::Impl::on_tunnel_request(const Inbound &in)
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
		on_rekey_request(in, *exchange, refuse);
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

NodeRole::Impl::Peer *NodeRole::Impl::peer_by_comm(std::uint32_t comm_id)
{
	for (auto &[name, p] : peers)
		if (p.comm_id == comm_id)
			return &p;
	return nullptr;
}

ntm::Endpoint NodeRole::Impl::sig_endpoint(const Peer &p)
{
	if (p.path)
		return p.path->direct().value_or(p.path->relay());
	return p.endpoint;
}

void NodeRole::Impl::install_successor(Peer &p, std::uint32_t new_index, std::uint32_t new_remote, const kx::TunnelKeys &k,
		       std::uint32_t generation)
{
	auto s = tunnel_settings(p, new_index, new_remote, k);
	s.replaces = p.local_index;
	/* the opener sends under the new key at once (the waiter has it: it answered); the
	 * waiter waits for the opener's first packet under it, or its confirmation */
	s.takeover = p.opener ? NTM_TAKEOVER_NOW : NTM_TAKEOVER_ON_RX;
	ntm::new_tunnel(genl, dev(), s);
	KeyLog::instance().tunnel(p.comm_id, p.opener, new_index, new_remote, p.cipher, k.data_key.span(),
				  *s.tx_salt, *s.rx_salt);
	KeyChange kc;
	kc.generation = generation;
	kc.old_index = p.local_index;
	kc.new_index = new_index;
	kc.new_remote = new_remote;
	kc.started = Clock::now();
	if (p.opener)
		promote(p, kc);
	p.change = kc;
	spdlog::info("node: tunnel to {}: key {} installed: local {} remote {}{}", p.fqdn, generation,
		     hex_id(new_index), hex_id(new_remote), p.opener ? "" : " (sends once the opener does)");
	emit_event("node", "tunnel_rekeyed",
		   {{"peer", p.fqdn}, {"generation", generation}, {"local_index", new_index}, {"remote_index", new_remote}});
}

void NodeRole::Impl::promote(Peer &p, KeyChange &kc)
{
	kc.switched = true;
	p.local_index = kc.new_index;
	p.remote_index = kc.new_remote;
	p.generation = kc.generation;
	p.key_installed = Clock::now();
	p.rekeys++;
}

awaitable<void> NodeRole::Impl::rekey(std::string name)
{
	auto pit = peers.find(name);
	if (pit == peers.end())
		co_return;
	auto &p0 = pit->second;
	const auto cit = comms.find(p0.comm_id);
	if (cit == comms.end()) {
		p0.last_rekey_fail = Clock::now();
		co_return;
	}
	const auto c = cit->second;
	const std::uint32_t generation = p0.generation + 1;
	const std::uint32_t old_index = p0.local_index;
	const auto to = sig_endpoint(p0);
	p0.exchanging = true;
	try {
		const auto idx = new_local_index();
		const kx::Opener exchange(kx::Context{.comm_id = p0.comm_id,
						      .generation = generation,
						      .opener = {fqdn, vip4, vip6},
						      .waiter = {p0.fqdn, p0.vip4, p0.vip6},
						      .cipher = p0.cipher},
					  c->k_tmp.span(), idx);
		sig::Message req;
		req.type = sig::MsgType::tunnel;
		exchange.fill_request(req);
		spdlog::info("node: rekeying the tunnel to {} (key {}, via {})", name, generation, to.to_string());
		const auto resp = co_await sigio.request(c->tun, to, req);
		if (resp.status != sig::Status::ok)
			throw ntm::Error(name + " refused the rekey: " + std::string(sig::status_name(*resp.status)) +
					 (resp.error_text.empty() ? "" : " (" + resp.error_text + ")"));
		const auto keys = exchange.finish(resp);
		pit = peers.find(name);
		if (pit == peers.end() || pit->second.local_index != old_index || pit->second.change)
			throw ntm::Error("the tunnel changed meanwhile");
		pit->second.last_heard = Clock::now();
		install_successor(pit->second, idx, *resp.index, keys, generation);
		pit->second.exchanging = false;
		rekeys++;
	} catch (const std::exception &e) {
		rekeys_failed++;
		spdlog::warn("node: rekey of the tunnel to {}: {}", name, e.what());
		if (const auto it = peers.find(name); it != peers.end()) {
			it->second.exchanging = false;
			it->second.last_rekey_fail = Clock::now();
		}
		co_return;
	}
	/* tell the waiter at once, in case we have nothing to send under the new key */
	co_await probe_peer(name, generation);
}

void NodeRole::Impl::on_rekey_request(const Inbound &in, kx::Waiter &exchange,
		      const std::function<void(sig::Status, const std::string &)> &refuse)
{
	const auto gen = exchange.context().generation;
	Peer *p = peer_by_comm(in.session->key_id);
	if (p == nullptr) {
		refuse(sig::Status::not_found, "no tunnel of this communication to rekey");
		return;
	}
	if (gen != p->generation + 1) {
		refuse(sig::Status::malformed, "GENERATION " + std::to_string(gen) + ", expected " +
						       std::to_string(p->generation + 1));
		return;
	}
	if (p->change) {
		if (p->change->switched) {
			refuse(sig::Status::malformed, "the previous key change is not finished");
			return;
		}
		/* an exchange the opener gave up on: its successor goes */
		try {
			ntm::del_tunnel(genl, dev(), p->change->new_index);
		} catch (const std::exception &e) {
			spdlog::debug("node: remove abandoned successor: {}", e.what());
		}
		p->change.reset();
	}
	const auto idx = new_local_index();
	auto resp = sig::make_response(in.msg, sig::Status::ok);
	try {
		const auto keys = exchange.answer(idx, resp);
		install_successor(*p, idx, *in.msg.index, keys, gen);
	} catch (const kx::KxError &e) {
		refuse(e.status(), e.what());
		return;
	} catch (const std::exception &e) {
		refuse(sig::Status::internal, e.what());
		return;
	}
	p->last_heard = Clock::now();
	rekeys++;
	sigio.respond(in, resp);
}

awaitable<void> NodeRole::Impl::probe_peer(std::string name, std::optional<std::uint32_t> generation)
{
	auto it = peers.find(name);
	if (it == peers.end())
		co_return;
	const auto cit = comms.find(it->second.comm_id);
	if (cit == comms.end())
		co_return;
	const auto tun = cit->second->tun;
	const auto to = sig_endpoint(it->second);
	sig::Message req;
	req.type = sig::MsgType::probe;
	req.probe_nonce.resize(sig::kProbeNonceLen);
	sig::random_fill(req.probe_nonce);
	req.generation = generation;
	it->second.last_probe = Clock::now();
	it->second.probes_sent++;
	try {
		const auto resp = co_await sigio.request(tun, to, req, 2U);
		if (resp.status == sig::Status::ok && resp.probe_nonce == req.probe_nonce) {
			if (it = peers.find(name); it != peers.end()) {
				it->second.last_heard = Clock::now();
				it->second.probes_answered++;
			}
		}
	} catch (const std::exception &e) {
		spdlog::debug("node: probe of {}: {}", name, e.what());
	}
}

void NodeRole::Impl::on_peer_probe(const Inbound &in)
{
	Peer *p = peer_by_comm(in.session->key_id);
	if (p == nullptr)
		return;
	p->last_heard = Clock::now();
	if (p->held_since)
		confirm(*p, "the opener's probe");
	/* the peer is relayed while we send direct: its direct path broke (maybe one way only) */
	if (p->path && p->path->direct() && in.from == p->path->relay())
		p->path->peer_on_relay();
	if (in.msg.generation && p->change && p->change->generation == *in.msg.generation && !p->opener &&
	    !p->change->retire_at) {
		/* the opener confirms: retiring the old key makes the kernel switch to the new one */
		p->change->retire_at = Clock::now() + TunnelPolicy::kRetireGrace / 2;
	}
}

void NodeRole::Impl::confirm(Peer &p, const char *why)
{
	if (!p.held_since)
		return;
	p.held_since.reset();
	ntm::TunnelSettings s;
	s.local_index = p.local_index;
	s.takeover = NTM_TAKEOVER_NOW;
	try {
		ntm::set_tunnel(genl, dev(), s);
		spdlog::info("node: tunnel to {}: {} confirmed it", p.fqdn, why);
	} catch (const std::exception &e) {
		spdlog::warn("node: tunnel to {}: releasing it: {}", p.fqdn, e.what());
	}
}

void NodeRole::Impl::remove_peer(const std::string &name, const std::string &why)
{
	const auto it = peers.find(name);
	if (it == peers.end())
		return;
	spdlog::warn("node: tunnel to {} removed: {}", name, why);
	emit_event("node", "tunnel_down", {{"peer", name}, {"local_index", it->second.local_index}, {"reason", why}});
	if (it->second.path)
		it->second.path->stop();
	del_tunnels(it->second);
	comms.erase(it->second.comm_id);
	peers.erase(it);
	tunnels_dead++;
}

void NodeRole::Impl::step_key_change(Peer &p, const std::optional<ntm::Tunnel> &successor)
{
	auto &kc = *p.change;
	const bool rx = successor && successor->last_rx_ns != 0;
	if (!p.opener && !kc.switched && successor && successor->state == NTM_TUNNEL_STATE_ACTIVE)
		promote(p, kc); /* the kernel switched on the opener's first packet */
	switch (key_change_due(kc, p.opener, rx, Clock::now())) {
	case KeyChangeDue::nothing:
		return;
	case KeyChangeDue::retire_old:
		try {
			ntm::del_tunnel(genl, dev(), kc.old_index);
		} catch (const std::exception &e) {
			spdlog::debug("node: retire {}: {}", hex_id(kc.old_index), e.what());
		}
		if (!kc.switched)
			promote(p, kc); /* deleting the predecessor made the successor take over */
		spdlog::info("node: tunnel to {}: key {} retired, key {} in use (local {})", p.fqdn,
			     kc.generation - 1, kc.generation, hex_id(p.local_index));
		p.change.reset();
		return;
	case KeyChangeDue::abort_new:
		try {
			ntm::del_tunnel(genl, dev(), kc.new_index);
		} catch (const std::exception &e) {
			spdlog::debug("node: abort {}: {}", hex_id(kc.new_index), e.what());
		}
		spdlog::warn("node: tunnel to {}: key {} never used by the opener: dropped", p.fqdn,
			     kc.generation);
		p.change.reset();
		return;
	}
}

awaitable<void> NodeRole::Impl::tunnel_loop()
{
	asio::steady_timer t(io);
	while (!stopped) {
		t.expires_after(std::chrono::seconds(1));
		asio::error_code ec;
		co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
		if (stopped)
			co_return;
		if (peers.empty())
			continue;
		/* one dump for every peer, not a GET_TUNNEL per peer and key */
		std::unordered_map<std::uint32_t, ntm::Tunnel> kernel;
		try {
			ntm::dump_tunnels(genl, dev(), [&kernel](ntm::Tunnel &&tun) {
				const auto idx = tun.local_index;
				kernel.insert_or_assign(idx, std::move(tun));
			});
		} catch (const std::exception &e) {
			spdlog::warn("node: listing the kernel tunnels: {}", e.what());
			continue;
		}
		std::vector<std::string> names;
		names.reserve(peers.size());
		for (const auto &kv : peers)
			names.push_back(kv.first);
		for (const auto &name : names)
			tend(name, kernel);
	}
}

void NodeRole::Impl::tend(const std::string &name, const std::unordered_map<std::uint32_t, ntm::Tunnel> &kernel)
{
	const auto it = peers.find(name);
	if (it == peers.end())
		return;
	auto &p = it->second;
	const auto now = Clock::now();
	const auto find = [&kernel](std::uint32_t idx) -> std::optional<ntm::Tunnel> {
		const auto k = kernel.find(idx);
		if (k == kernel.end())
			return std::nullopt;
		return k->second;
	};
	const std::optional<ntm::Tunnel> cur = find(p.local_index);
	if (!cur) {
		/* the kernel no longer has it (expired, flushed): forget it */
		remove_peer(name, "gone from the kernel");
		return;
	}
	if (p.held_since) {
		if (cur->state == NTM_TUNNEL_STATE_ACTIVE) {
			p.held_since.reset(); /* confirmed by a packet; the event was lost */
		} else if (now - *p.held_since >= kHoldMax) {
			held_released++;
			spdlog::warn("node: tunnel to {}: nothing from the opener in {} s, sending anyway", name,
				     std::chrono::duration_cast<std::chrono::seconds>(kHoldMax).count());
			confirm(p, "the hold limit");
		}
	}
	std::optional<ntm::Tunnel> succ;
	if (p.change)
		succ = find(p.change->new_index);
	/* the communication (K_tun, K_tmp) lives as long as its tunnel */
	if (const auto cit = comms.find(p.comm_id); cit != comms.end())
		cit->second->expires = now + kCommLifetime;
	if (p.change)
		step_key_change(p, succ);

	TunnelObservation o;
	const auto to_s = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
	double rx_idle = to_s(now - p.key_installed);
	for (const auto &t : {cur, succ}) {
		if (!t || t->last_rx_ns == 0)
			continue;
		timespec ts{};
		::clock_gettime(CLOCK_BOOTTIME, &ts);
		const double now_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
		rx_idle = std::min(rx_idle, now_s - static_cast<double>(t->last_rx_ns) / 1e9);
	}
	o.silent_s = std::min(rx_idle, to_s(now - p.last_heard));
	o.key_age_s = to_s(now - p.key_installed);
	o.packets = cur->stats.get(NTM_STAT_A_TX_PACKETS) + cur->stats.get(NTM_STAT_A_RX_PACKETS);
	o.opener = p.opener;
	o.changing_key = p.exchanging || p.change.has_value();
	o.since_probe_s = to_s(now - p.last_probe);
	o.since_rekey_try_s = to_s(now - p.last_rekey_fail);
	switch (tunnel_due(policy, o)) {
	case TunnelDue::nothing:
		break;
	case TunnelDue::dead:
		remove_peer(name, "nothing heard for " + std::to_string(static_cast<long>(o.silent_s)) + " s");
		break;
	case TunnelDue::rekey:
		asio::co_spawn(io, rekey(name), asio::detached);
		break;
	case TunnelDue::probe:
		asio::co_spawn(io, probe_peer(name), asio::detached);
		break;
	}
}

awaitable<void> NodeRole::Impl::handle(Inbound in)
{
	if (in.session->kind == sig::Kind::tun) {
		if (in.msg.type == sig::MsgType::tunnel) {
			on_tunnel_request(in);
		} else if (in.msg.type == sig::MsgType::probe) {
			on_peer_probe(in);
			/* route optimisation and liveness: answer to wherever it came from */
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

} // namespace ntmd
