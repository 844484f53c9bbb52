// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: IKE_SA_INIT, initiator and responder (RFC 7296 section
 * 1.2): proposals, KE and nonces, NAT detection, COOKIE and
 * INVALID_KE_PAYLOAD rounds; the responder's half-open SAs and their
 * limits (half_open_max, half_open_per_source, cookie_threshold; D65, D67).
 */
#include "ike_impl.hpp"

namespace ntmd {

namespace {

ike::Identity address_identity(const ntm::IpAddress &a)
{
	ike::Identity r;
	r.type = a.is_v4() ? ike::IdType::ipv4_addr : ike::IdType::ipv6_addr;
	r.data.assign(a.bytes().begin(), a.bytes().end());
	return r;
}

} // namespace

/* ---- initiator: IKE_SA_INIT ---- */

/* remote_addrs' first entry when it is an address (no lookup, never blocks) */
std::optional<ntm::Endpoint> IkeRole::Impl::numeric_remote(const IkeConnection &c)
{
	addrinfo hints{};
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	addrinfo *res = nullptr;
	if (::getaddrinfo(c.remote_addrs.front().c_str(), nullptr, &hints, &res) != 0 || res == nullptr)
		return std::nullopt;
	const auto ep = endpoint_from_sockaddr(res->ai_addr, res->ai_addrlen);
	::freeaddrinfo(res);
	if (!ep)
		return std::nullopt;
	return ntm::Endpoint{ep->address(), c.remote_port};
}

/*
 * Starts an IKE SA. A host name in remote_addrs is looked up on asio's
 * resolver thread (D66): the SA exists at once (state "resolving") and
 * IKE_SA_INIT goes out when the answer is back on the loop; a failed
 * lookup ends the SA with a log line.
 */
IkeRole::Impl::SaPtr IkeRole::Impl::initiate_conn(const IkeConnection &c)
{
	if (c.remote_addrs.empty())
		throw ntm::Error("connection " + c.name + " has no remote_addrs (responder only)", EINVAL);
	auto sa = std::make_shared<Sa>(io);
	sa->id = next_id++;
	sa->initiator = true;
	sa->mobike_initiator = true;
	sa->conn = &c;
	sa->spi_i = new_ike_spi();
	sa->dh = ike::DhKey::generate(static_cast<ike::DhGroup>(c.proposals.front().dh.front()));
	sa->ni = ike::random_bytes(kNonceLen);
	sas[sa->spi_i] = sa;
	if (const auto ep = numeric_remote(c)) {
		start_initiator(sa, *ep);
		return sa;
	}
	const auto &host = c.remote_addrs.front();
	sa->resolving = true;
	spdlog::info("ike: {}: resolving {}", sa->name(), host);
	resolver.async_resolve(host, std::to_string(c.remote_port), asio::ip::resolver_base::numeric_service,
			       [this, w = std::weak_ptr<Sa>(sa), host](const asio::error_code &ec,
								       const asio::ip::udp::resolver::results_type &res) {
				       auto s = w.lock();
				       if (!s || s->state == State::dead || !s->resolving)
					       return; /* gone meanwhile (terminated, or the daemon stops) */
				       s->resolving = false;
				       std::optional<ntm::IpAddress> addr;
				       for (const auto &e : res) {
					       const auto a = e.endpoint().address();
					       if (a.is_v4())
						       addr = ntm::IpAddress::v4(in_addr{htonl(a.to_v4().to_uint())});
					       else if (a.is_v6()) {
						       in6_addr a6{};
						       const auto b = a.to_v6().to_bytes();
						       std::memcpy(&a6, b.data(), sizeof(a6));
						       addr = ntm::IpAddress::v6(a6);
					       }
					       if (addr)
						       break;
				       }
				       if (ec || !addr) {
					       ctr.ike_failed++;
					       spdlog::warn("ike: {}: cannot resolve {}: {}", s->name(), host,
							    ec ? ec.message() : "no IPv4 or IPv6 address");
					       note_failure(s, "cannot resolve " + host + ": " +
								       (ec ? ec.message() : "no IPv4 or IPv6 address"));
					       destroy(s, false);
					       return;
				       }
				       start_initiator(s, {*addr, s->conn->remote_port});
			       });
	return sa;
}

void IkeRole::Impl::start_initiator(const SaPtr &sa, const ntm::Endpoint &remote)
{
	sa->path.remote = remote;
	sa->path.natt = sa->conn->remote_port != icfg.port;
	sa->local_id = local_identity(*sa->conn, sa->path);
	spdlog::info("ike: {}: initiating to {}", sa->name(), sa->path.remote.to_string());
	send_init(sa);
}

ike::Identity IkeRole::Impl::local_identity(const IkeConnection &c, const Path &p) const
{
	if (c.local_id)
		return to_identity(*c.local_id);
	if (c.local_auth == ntm::config::IkeAuth::pubkey)
		if (const auto *id = identity_of(c))
			return id->subject_id();
	if (p.local.family() != AF_UNSPEC)
		return address_identity(p.local);
	/* the address routing would use towards the peer */
	if (const auto src = route_source(p.remote))
		return address_identity(*src);
	return address_identity(p.remote.address());
}

void IkeRole::Impl::add_nat_detection(const Sa &sa, ike::Payloads &pl, const ntm::Endpoint &peer) const
{
	/* source: never matches, so the peer always encapsulates ESP in UDP */
	pl.notifies.push_back({ike::Protocol::none, {},
			       static_cast<std::uint16_t>(ike::NotifyType::nat_detection_source_ip),
			       ike::random_bytes(20)});
	pl.notifies.push_back({ike::Protocol::none, {},
			       static_cast<std::uint16_t>(ike::NotifyType::nat_detection_destination_ip),
			       ike::nat_detection_hash(sa.spi_i, sa.spi_r, peer)});
}

void IkeRole::Impl::add_sig_hash_algorithms(ike::Payloads &pl)
{
	Bytes d;
	for (auto a : {ike::HashAlg::sha2_256, ike::HashAlg::sha2_384, ike::HashAlg::sha2_512, ike::HashAlg::identity}) {
		const auto b = be16(static_cast<std::uint16_t>(a));
		d.insert(d.end(), b.begin(), b.end());
	}
	pl.notifies.push_back({ike::Protocol::none, {},
			       static_cast<std::uint16_t>(ike::NotifyType::signature_hash_algorithms), d});
}

void IkeRole::Impl::send_init(const SaPtr &sa)
{
	const auto &c = *sa->conn;
	ike::Payloads pl;
	if (!sa->cookie.empty())
		pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::cookie), sa->cookie});
	pl.has_sa = true;
	pl.sa = ike_proposals(c.proposals, {});
	pl.ke = ike::KeyExchange{sa->dh->group(), sa->dh->public_value()};
	pl.nonce = sa->ni;
	add_nat_detection(*sa, pl, sa->path.remote);
	add_sig_hash_algorithms(pl);
	ike::Header h;
	h.spi_i = sa->spi_i;
	h.exchange = ike::Exchange::ike_sa_init;
	h.flags = ike::kFlagInitiator;
	sa->init_req = ike::encode_plain(h, pl);
	sa->state = State::init_sent;
	sa->tries = 0;
	send_msg(sa->path, sa->init_req);
	arm_retransmit(sa);
}

void IkeRole::Impl::note_failure(const SaPtr &sa, const std::string &why)
{
	constexpr std::size_t kFailuresKept = 16;
	failures.emplace_back(sa->id, why);
	while (failures.size() > kFailuresKept)
		failures.pop_front();
}

void IkeRole::Impl::fail(const SaPtr &sa, const std::string &why)
{
	ctr.ike_failed++;
	spdlog::warn("ike: {}: {}", sa->name(), why);
	note_failure(sa, why);
	destroy(sa, false);
}

void IkeRole::Impl::on_init_response(const SaPtr &sa, const Path &p, const ike::Header &h, const ike::Payloads &pl, ByteView raw)
{
	const auto &c = *sa->conn;
	if (const auto *n = pl.find(ike::NotifyType::cookie)) {
		if (++sa->init_rounds > kMaxInitRetries || n->data.empty() || n->data.size() > 64)
			return fail(sa, "COOKIE exchange does not converge");
		sa->cookie = n->data;
		sa->retransmit.cancel();
		send_init(sa);
		return;
	}
	if (const auto *n = pl.find(ike::NotifyType::invalid_ke_payload)) {
		if (++sa->init_rounds > kMaxInitRetries || n->data.size() != 2)
			return fail(sa, "INVALID_KE_PAYLOAD exchange does not converge");
		const auto g = static_cast<std::uint16_t>((n->data[0] << 8) | n->data[1]);
		const bool offered = std::ranges::any_of(c.proposals, [&](const auto &pr) {
			return std::ranges::find(pr.dh, g) != pr.dh.end();
		});
		if (!offered || g == static_cast<std::uint16_t>(sa->dh->group()))
			return fail(sa, "peer asks for DH group " + std::to_string(g) + " which we did not offer");
		spdlog::info("ike: {}: peer prefers DH group {}", sa->name(), g);
		sa->dh = ike::DhKey::generate(static_cast<ike::DhGroup>(g));
		sa->retransmit.cancel();
		send_init(sa);
		return;
	}
	if (const auto *n = pl.first_error())
		return fail(sa, "IKE_SA_INIT refused: " + ike::notify_name(n->type));
	if (h.spi_r == 0 || !pl.has_sa || !pl.ke || !pl.nonce)
		return fail(sa, "IKE_SA_INIT response lacks SPI, SA, KE or Nonce");
	auto chosen = accept_answer(pl.sa, c.proposals, ike::Protocol::ike, std::nullopt);
	if (!chosen || chosen->dh != sa->dh->group() || pl.ke->group != sa->dh->group())
		return fail(sa, "IKE_SA_INIT response chose a proposal we did not offer");
	sa->retransmit.cancel();
	sa->suite = *chosen;
	sa->spi_r = h.spi_r;
	sa->nr = *pl.nonce;
	sa->init_resp.assign(raw.begin(), raw.end());
	try {
		const auto shared = sa->dh->shared(pl.ke->data);
		sa->keys = ike::derive_ike_keys({sa->suite.encr, sa->suite.key_bits, sa->suite.prf, sa->suite.dh}, shared.span(),
						sa->ni, sa->nr, sa->spi_i, sa->spi_r);
	} catch (const ike::CryptoError &e) {
		return fail(sa, std::string("key exchange: ") + e.what());
	}
	sa->dh.reset();
	detect_nat(*sa, pl, p);
	sa->path.local = p.local;
	/* ESP must go in UDP: move IKE to the NAT-T port now (RFC 7296 section 2.23) */
	if (!sa->path.natt) {
		sa->path.natt = true;
		sa->path.remote = ntm::Endpoint(sa->path.remote.address(), icfg.natt_port);
	}
	sa->state = State::auth_sent;
	sa->next_msgid = 1; /* IKE_SA_INIT was message 0 */
	send_auth(sa);
}

/* Our real NAT status from the peer's NAT_DETECTION_DESTINATION_IP; the peer's from its source hash. */
void IkeRole::Impl::detect_nat(Sa &sa, const ike::Payloads &pl, const Path &p) const
{
	bool saw_dst = false;
	bool dst_match = false;
	bool saw_src = false;
	bool src_match = false;
	const std::uint16_t myport = p.natt ? icfg.natt_port : icfg.port;
	const auto mine = ike::nat_detection_hash(sa.spi_i, sa.spi_r, ntm::Endpoint(p.local, myport));
	const auto theirs = ike::nat_detection_hash(sa.spi_i, sa.spi_r, p.remote);
	for (const auto &n : pl.notifies) {
		if (n.type == static_cast<std::uint16_t>(ike::NotifyType::nat_detection_destination_ip)) {
			saw_dst = true;
			dst_match = dst_match || n.data == mine;
		} else if (n.type == static_cast<std::uint16_t>(ike::NotifyType::nat_detection_source_ip)) {
			saw_src = true;
			src_match = src_match || n.data == theirs;
		}
	}
	sa.nat_local = saw_dst && !dst_match && p.local.family() != AF_UNSPEC;
	sa.nat_remote = saw_src && !src_match;
}

/* ---- responder: IKE_SA_INIT ---- */

std::vector<const IkeConnection *> IkeRole::Impl::candidates_for(const ntm::Endpoint &peer) const
{
	std::vector<const IkeConnection *> exact;
	std::vector<const IkeConnection *> any;
	const auto addr = peer.address().to_string();
	for (const auto &c : icfg.connections) {
		if (c.remote_addrs.empty() || std::ranges::find(c.remote_addrs, "%any") != c.remote_addrs.end())
			any.push_back(&c);
		else if (std::ranges::find(c.remote_addrs, addr) != c.remote_addrs.end())
			exact.push_back(&c);
	}
	exact.insert(exact.end(), any.begin(), any.end());
	return exact;
}

/* Drops sa's half-open entries and what they count against its address. */
void IkeRole::Impl::forget_half_open(const SaPtr &sa)
{
	const auto n = std::erase_if(half_open, [&](const auto &kv) { return kv.second == sa; });
	if (n == 0 || sa->half_open_src.empty())
		return;
	if (auto it = half_open_by_src.find(sa->half_open_src); it != half_open_by_src.end()) {
		it->second -= std::min<unsigned>(it->second, static_cast<unsigned>(n));
		if (it->second == 0)
			half_open_by_src.erase(it);
	}
	sa->half_open_src.clear();
}

unsigned IkeRole::Impl::half_open_from(const std::string &addr) const
{
	const auto it = half_open_by_src.find(addr);
	return it == half_open_by_src.end() ? 0 : it->second;
}

void IkeRole::Impl::send_unprotected_notify(const Path &p, const ike::Header &req, ike::NotifyType t, Bytes data)
{
	ike::Payloads pl;
	pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(t), std::move(data)});
	ike::Header h;
	h.spi_i = req.spi_i;
	h.exchange = ike::Exchange::ike_sa_init;
	h.flags = ike::kFlagResponse;
	send_msg(p, ike::encode_plain(h, pl));
}

void IkeRole::Impl::responder_init(const Path &p, const ike::Header &h, ByteView raw)
{
	const auto key = std::make_pair(h.spi_i, p.remote.to_string());
	if (const auto it = half_open.find(key); it != half_open.end()) {
		const auto &sa = it->second;
		if (sa->init_req.size() == raw.size() && std::equal(raw.begin(), raw.end(), sa->init_req.begin())) {
			ctr.responses_resent++;
			send_msg(p, sa->init_resp);
		} else {
			ctr.drop_not_resent++;
			spdlog::debug("ike: IKE_SA_INIT from {}: SPI {} is half-open with another request: dropped",
				      p.remote.to_string(), hex_spi(h.spi_i));
		}
		return;
	}
	ike::Header hh;
	ike::Payloads pl;
	try {
		pl = ike::parse_plain(raw, hh);
	} catch (const ike::ParseError &e) {
		ctr.drop_malformed++;
		spdlog::debug("ike: IKE_SA_INIT from {}: {}", p.remote.to_string(), e.what());
		if (e.notify() && *e.notify() != ike::NotifyType::invalid_syntax)
			send_unprotected_notify(p, h, *e.notify(), e.notify_data());
		return;
	}
	if (!pl.has_sa || !pl.ke || !pl.nonce || pl.nonce->size() < 16) {
		ctr.drop_malformed++;
		send_unprotected_notify(p, h, ike::NotifyType::invalid_syntax, {});
		return;
	}
	if (half_open.size() >= icfg.half_open_max) {
		ctr.drop_half_open++;
		spdlog::debug("ike: IKE_SA_INIT from {} dropped: {} half-open IKE SAs (half_open_max)",
			      p.remote.to_string(), half_open.size());
		return;
	}
	if (half_open.size() >= icfg.cookie_threshold) {
		/* RFC 7296 section 2.6; the cookie binds address and port, its secret rotates (D65) */
		const auto now = Clock::now();
		const auto *n = pl.find(ike::NotifyType::cookie);
		if (n == nullptr || !cookies.valid(n->data, *pl.nonce, p.remote, h.spi_i, now)) {
			if (n != nullptr) {
				ctr.cookies_bad++;
				spdlog::debug("ike: IKE_SA_INIT from {}: wrong or stale COOKIE, another one sent",
					      p.remote.to_string());
			}
			ctr.cookies_sent++;
			send_unprotected_notify(p, h, ike::NotifyType::cookie,
						cookies.make(*pl.nonce, p.remote, h.spi_i, now));
			return;
		}
	}
	/* after the COOKIE check: above cookie_threshold only a sender that owns its address counts (D65) */
	const auto src = p.remote.address().to_string();
	if (half_open_from(src) >= icfg.half_open_per_source) {
		ctr.drop_half_open_source++;
		spdlog::debug("ike: IKE_SA_INIT from {} dropped: {} half-open IKE SAs from {} (half_open_per_source)",
			      p.remote.to_string(), half_open_from(src), src);
		return;
	}
	const auto cands = candidates_for(p.remote);
	std::optional<Chosen> chosen;
	const IkeConnection *matched = nullptr;
	for (const auto *c : cands)
		if ((chosen = choose(pl.sa, c->proposals, ike::Protocol::ike, std::nullopt))) {
			matched = c;
			break;
		}
	if (!chosen) {
		std::string ours;
		for (const auto *c : cands)
			ours += (ours.empty() ? "" : "; ") + c->name + ": " + describe(c->proposals, true);
		spdlog::info("ike: IKE_SA_INIT from {}: NO_PROPOSAL_CHOSEN: offered {}; configured {}",
			     p.remote.to_string(), describe(pl.sa, ike::Protocol::ike),
			     ours.empty() ? "no connection for this address" : ours);
		send_unprotected_notify(p, h, ike::NotifyType::no_proposal_chosen, {});
		return;
	}
	if (pl.ke->group != chosen->dh) {
		/* the group we want is in its proposal: ask for it (RFC 7296 section 1.2) */
		spdlog::info("ike: IKE_SA_INIT from {}: INVALID_KE_PAYLOAD: KE for {}, the proposal chosen wants {}",
			     p.remote.to_string(),
			     ike::transform_name(ike::TransformType::dh, static_cast<std::uint16_t>(pl.ke->group)),
			     ike::transform_name(ike::TransformType::dh, static_cast<std::uint16_t>(chosen->dh)));
		send_unprotected_notify(p, h, ike::NotifyType::invalid_ke_payload,
					be16(static_cast<std::uint16_t>(chosen->dh)));
		return;
	}
	auto sa = std::make_shared<Sa>(io);
	sa->id = next_id++;
	sa->initiator = false;
	sa->candidates = cands;
	sa->conn = matched;
	sa->spi_i = h.spi_i;
	sa->path = p;
	sa->suite = *chosen;
	sa->ni = *pl.nonce;
	sa->nr = ike::random_bytes(kNonceLen);
	detect_nat(*sa, pl, p); /* spi_r is still 0, as in the request's hashes */
	sa->spi_r = new_ike_spi();
	try {
		const auto dh = ike::DhKey::generate(chosen->dh);
		const auto shared = dh.shared(pl.ke->data);
		sa->keys = ike::derive_ike_keys({chosen->encr, chosen->key_bits, chosen->prf, chosen->dh}, shared.span(), sa->ni,
						sa->nr, sa->spi_i, sa->spi_r);
		ike::Payloads r;
		r.has_sa = true;
		r.sa = {chosen->proposal};
		r.ke = ike::KeyExchange{dh.group(), dh.public_value()};
		r.nonce = sa->nr;
		add_nat_detection(*sa, r, p.remote);
		if (std::ranges::any_of(cands, [](const auto *c) { return c->remote_auth == ntm::config::IkeAuth::pubkey; }) &&
		    anchors)
			r.certreqs.push_back({ike::CertEncoding::x509_sig, anchors->certreq});
		add_sig_hash_algorithms(r);
		ike::Header rh;
		rh.spi_i = sa->spi_i;
		rh.spi_r = sa->spi_r;
		rh.exchange = ike::Exchange::ike_sa_init;
		rh.flags = ike::kFlagResponse;
		sa->init_resp = ike::encode_plain(rh, r);
	} catch (const ike::CryptoError &e) {
		ctr.drop_malformed++;
		spdlog::info("ike: IKE_SA_INIT from {}: {}", p.remote.to_string(), e.what());
		send_unprotected_notify(p, h, ike::NotifyType::invalid_syntax, {});
		return;
	}
	sa->init_req.assign(raw.begin(), raw.end());
	sa->state = State::init_done;
	sa->expect_msgid = 1;
	sa->next_msgid = 0;
	sas[sa->spi_r] = sa;
	half_open[key] = sa;
	sa->half_open_src = src;
	half_open_by_src[src]++;
	send_msg(p, sa->init_resp);
	sa->expire.expires_after(kHalfOpenTimeout);
	sa->expire.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		auto s = w.lock();
		if (!ec && s && s->state == State::init_done) {
			spdlog::info("ike: {}: half-open IKE SA timed out", s->name());
			destroy(s, false);
		}
	});
}

} // namespace ntmd
