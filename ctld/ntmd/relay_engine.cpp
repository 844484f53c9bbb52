// SPDX-License-Identifier: GPL-2.0
#include "relay_engine.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "sigio.hpp"

namespace ntmd {

namespace sig = ntm::sig;

nlohmann::json RelayDrops::to_json() const
{
	return {{"malformed", malformed}, {"unknown", unknown},		 {"auth", auth},
		{"replay", replay},	  {"unbound", unbound},		 {"peer_unbound", peer_unbound},
		{"wrong_leg", wrong_leg}, {"kernel", kernel}};
}

RelayEngine::RelayEngine(RelayKernel &kernel, Send send, std::vector<ntm::Endpoint> relay_eps,
			 std::uint32_t capacity, std::chrono::seconds old_session_grace)
    : kernel_(kernel), send_(std::move(send)), relay_eps_(std::move(relay_eps)), capacity_(capacity),
      grace_(old_session_grace)
{}

/* ---- orders from a DC ---- */

sig::Message RelayEngine::on_relay_direction(const sig::Message &req, Clock::time_point now)
{
	const std::uint32_t id = *req.comm_id;
	const auto it = comms_.find(id);
	if (it != comms_.end()) {
		/* the same order again is answered again; another under the same id is refused */
		if (!(it->second.k_tun == req.k_tun))
			return sig::make_response(req, sig::Status::internal, "COMM_ID " + hex_id(id) + " is in use");
	} else if (comms_.size() >= capacity_) {
		return sig::make_response(req, sig::Status::no_route, "relay at capacity");
	}
	auto ack = sig::make_response(req, sig::Status::ok);
	for (const int family : {req.external_ep->family(), req.peer_ep->family()}) {
		const auto ep = std::ranges::find_if(relay_eps_, [&](const ntm::Endpoint &e) { return e.family() == family; });
		if (ep == relay_eps_.end())
			return sig::make_response(req, sig::Status::no_route,
						  family == AF_INET ? "relay has no IPv4 address" : "relay has no IPv6 address");
		if (std::ranges::find(ack.relay_eps, *ep) == ack.relay_eps.end())
			ack.relay_eps.push_back(*ep);
	}
	if (it == comms_.end()) {
		Comm c;
		c.id = id;
		c.k_tun = req.k_tun;
		c.opener.fqdn = req.fqdn;
		c.waiter.fqdn = req.peer_fqdn;
		c.expires = now + std::chrono::seconds(*req.lifetime);
		comms_.emplace(id, std::move(c));
		spdlog::info("rs: relay {} <-> {}, comm {}", req.fqdn, req.peer_fqdn, hex_id(id));
	}
	return ack;
}

sig::Message RelayEngine::on_relay_release(const sig::Message &req)
{
	const auto it = comms_.find(*req.comm_id);
	if (it == comms_.end())
		return sig::make_response(req, sig::Status::not_found, "no communication " + hex_id(*req.comm_id));
	spdlog::info("rs: comm {} released", hex_id(it->first));
	drop_comm(it);
	return sig::make_response(req, sig::Status::ok);
}

sig::Message RelayEngine::key_sharing_ack(const sig::Message &req) const
{
	auto ack = sig::make_response(req, sig::Status::ok);
	ack.capacity = capacity_;
	ack.sessions = static_cast<std::uint32_t>(comms_.size());
	ack.relay_eps = relay_eps_;
	return ack;
}

/* ---- from the nodes ---- */

void RelayEngine::on_datagram(std::span<const std::uint8_t> datagram, const ntm::Endpoint &from,
			      Clock::time_point now)
{
	const auto hdr = sig::peek_header(datagram);
	if (!hdr || hdr->kind != sig::Kind::tun || hdr->seq == 0) {
		/* RFC 3948 NAT keepalives toward the relay's port are not drops */
		if (datagram.size() != 1 || datagram[0] != 0xff)
			drops_.malformed++;
		return;
	}
	const auto it = comms_.find(hdr->key_id);
	if (it == comms_.end()) {
		drops_.unknown++;
		return;
	}
	Comm &c = it->second;
	/* the envelope does not say which node sealed it: the direction that opens it does */
	bool from_opener = true;
	auto body = sig::open(datagram, sig::Direction::opener, c.k_tun.span());
	if (!body) {
		from_opener = false;
		body = sig::open(datagram, sig::Direction::waiter, c.k_tun.span());
	}
	if (!body) {
		drops_.auth++;
		return;
	}
	Side &side = from_opener ? c.opener : c.waiter;
	if (!side.rx.check(hdr->seq)) {
		drops_.replay++;
		return;
	}
	side.rx.update(hdr->seq);
	sig::Message m;
	try {
		m = sig::decode(*body);
		sig::validate(m);
	} catch (const sig::ParseError &e) {
		drops_.malformed++;
		spdlog::debug("rs: comm {} from {}: {}", hex_id(c.id), from.to_string(), e.what());
		return;
	}
	if (m.type == sig::MsgType::relay_bind) {
		if (m.response) {
			drops_.malformed++; /* only the relay answers binds */
			return;
		}
		bind(c, side, from_opener, m, from, now);
		return;
	}
	forward(c, from_opener, m, datagram, from, now);
}

void RelayEngine::bind(Comm &c, Side &side, bool opener_side, const sig::Message &m, const ntm::Endpoint &from,
		       Clock::time_point now)
{
	if (*m.leg != (opener_side ? sig::Leg::opener : sig::Leg::waiter)) {
		drops_.wrong_leg++;
		return;
	}
	const bool moved = side.endpoint && !(*side.endpoint == from);
	side.endpoint = from;
	binds_++;
	if (moved) {
		spdlog::info("rs: comm {}: {} moved to {}", hex_id(c.id), side.fqdn, from.to_string());
		if (c.session != 0) {
			try {
				kernel_.move(c.session, opener_side ? 0 : 1, from);
			} catch (const std::exception &e) {
				drops_.kernel++;
				spdlog::warn("rs: comm {}: moving a leg: {}", hex_id(c.id), e.what());
			}
		}
	}
	if (c.session == 0 && c.opener.index && c.waiter.index && c.opener.endpoint && c.waiter.endpoint) {
		/*
		 * The kernel removed the session for idleness (a quiet tunnel, or
		 * one that went direct) but the tunnel still exists: the nodes
		 * bind while it lives, so the relay path is ready again for a
		 * fallback or new traffic.
		 */
		program(c, now);
		if (c.session != 0) {
			sessions_restored_++;
			spdlog::info("rs: comm {}: session {} restored by a Relay Bind of {}", hex_id(c.id), c.session,
				     side.fqdn);
		}
	}
	auto ack = sig::make_response(m, sig::Status::ok);
	ack.observed_ep = from;
	const sig::EnvelopeHeader h{sig::Kind::tun, c.id, ++side.tx_seq};
	send_(from, sig::seal(h, opener_side ? sig::Direction::rs_to_opener : sig::Direction::rs_to_waiter,
			      c.k_tun.span(), sig::encode(ack)));
}

void RelayEngine::forward(Comm &c, bool from_opener, const sig::Message &m, std::span<const std::uint8_t> datagram,
			  const ntm::Endpoint &from, Clock::time_point now)
{
	const Side &src = from_opener ? c.opener : c.waiter;
	const Side &dst = from_opener ? c.waiter : c.opener;
	if (!src.endpoint || !(*src.endpoint == from)) {
		drops_.unbound++;
		return;
	}
	if (!dst.endpoint) {
		drops_.peer_unbound++;
		return;
	}
	if (m.type == sig::MsgType::tunnel) {
		if (!m.response && from_opener) {
			c.pending_opener_index = *m.index;
		} else if (m.response && !from_opener && m.status == sig::Status::ok && c.pending_opener_index != 0) {
			c.opener.index = c.pending_opener_index;
			c.waiter.index = *m.index;
			/* the session exists before the opener, told by this response, sends data */
			program(c, now);
		}
	}
	send_(*dst.endpoint, datagram);
	c.forwarded++;
	forwarded_++;
}

void RelayEngine::program(Comm &c, Clock::time_point now)
{
	const RelayLeg a{*c.opener.endpoint, *c.opener.index};
	const RelayLeg b{*c.waiter.endpoint, *c.waiter.index};
	if (c.session != 0 && c.session_opener_index == a.index && c.session_waiter_index == b.index)
		return; /* a retransmitted response: the session is there */
	const std::uint32_t id = new_session_id();
	try {
		kernel_.add(id, a, b);
	} catch (const std::exception &e) {
		drops_.kernel++;
		spdlog::warn("rs: comm {}: kernel session: {}", hex_id(c.id), e.what());
		return;
	}
	if (c.session != 0)
		c.old_sessions.emplace_back(c.session, now + grace_);
	c.session = id;
	c.session_opener_index = a.index;
	c.session_waiter_index = b.index;
	by_session_[id] = c.id;
	sessions_created_++;
	spdlog::info("rs: comm {}: session {} {} {} <-> {} {}", hex_id(c.id), id, a.endpoint.to_string(),
		     hex_id(a.index), b.endpoint.to_string(), hex_id(b.index));
}

/* ---- housekeeping ---- */

void RelayEngine::expire(Clock::time_point now)
{
	for (auto it = comms_.begin(); it != comms_.end();) {
		if (it->second.expires <= now) {
			spdlog::info("rs: comm {} expired", hex_id(it->first));
			auto next = std::next(it);
			drop_comm(it);
			it = next;
			continue;
		}
		auto &old = it->second.old_sessions;
		for (auto o = old.begin(); o != old.end();) {
			if (o->second <= now) {
				kernel_.remove(o->first);
				by_session_.erase(o->first);
				o = old.erase(o);
			} else {
				++o;
			}
		}
		++it;
	}
}

void RelayEngine::kernel_session_gone(std::uint32_t id, bool idle)
{
	const auto s = by_session_.find(id);
	if (s == by_session_.end())
		return;
	const auto c = comms_.find(s->second);
	by_session_.erase(s);
	if (c == comms_.end())
		return;
	if (c->second.session == id) {
		c->second.session = 0;
		if (!idle) {
			/* a limit: the operator's cap; only new indexes (a new tunnel) get a session */
			c->second.opener.index.reset();
			c->second.waiter.index.reset();
		}
	}
	std::erase_if(c->second.old_sessions, [id](const auto &o) { return o.first == id; });
}

void RelayEngine::clear() noexcept
{
	for (const auto &[id, comm] : by_session_)
		kernel_.remove(id);
	by_session_.clear();
	comms_.clear();
}

void RelayEngine::drop_comm(std::map<std::uint32_t, Comm>::iterator it)
{
	Comm &c = it->second;
	if (c.session != 0) {
		kernel_.remove(c.session);
		by_session_.erase(c.session);
	}
	for (const auto &[id, until] : c.old_sessions) {
		kernel_.remove(id);
		by_session_.erase(id);
	}
	comms_.erase(it);
}

std::uint32_t RelayEngine::new_session_id()
{
	/* ids are per device and u32; skip 0 and any still in use after a wrap */
	for (;;) {
		const std::uint32_t id = next_session_++;
		if (id != 0 && !by_session_.contains(id))
			return id;
	}
}

nlohmann::json RelayEngine::status() const
{
	return {{"communications", comms_.size()},
		{"capacity", capacity_},
		{"kernel_sessions", by_session_.size()},
		{"sessions_created", sessions_created_},
		{"sessions_restored", sessions_restored_},
		{"binds", binds_},
		{"forwarded", forwarded_},
		{"drops", drops_.to_json()}};
}

nlohmann::json RelayEngine::list() const
{
	auto out = nlohmann::json::array();
	const auto side = [](const Side &s) {
		nlohmann::json j = {{"fqdn", s.fqdn}};
		j["endpoint"] = s.endpoint ? nlohmann::json(s.endpoint->to_string()) : nlohmann::json(nullptr);
		j["index"] = s.index ? nlohmann::json(hex_id(*s.index)) : nlohmann::json(nullptr);
		return j;
	};
	for (const auto &[id, c] : comms_)
		out.push_back({{"comm_id", hex_id(id)},
			       {"opener", side(c.opener)},
			       {"waiter", side(c.waiter)},
			       {"session", c.session},
			       {"old_sessions", c.old_sessions.size()},
			       {"forwarded", c.forwarded}});
	return out;
}

} // namespace ntmd
