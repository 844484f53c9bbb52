// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: CREATE_CHILD_SA for the IKE SA itself (RFC 7296 section
 * 1.3.2, 2.18) from both sides, and the timers that start rekeys.
 */
#include "ike_impl.hpp"

namespace ntmd {

/* ---- IKE SA rekey, responder side ---- */

void IkeRole::Impl::respond_ike_rekey(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, const Bytes &nr)
{
	if (!pl.ke) {
		notify_only(resp, ike::NotifyType::invalid_syntax);
		return;
	}
	auto chosen = choose(pl.sa, sa->conn->proposals, ike::Protocol::ike, std::nullopt);
	if (!chosen || ike::ike_spi_value(chosen->spi).value_or(0) == 0) {
		spdlog::info("ike: {}: IKE SA rekey refused: NO_PROPOSAL_CHOSEN: offered {}; configured {}", sa->name(),
			     describe(pl.sa, ike::Protocol::ike), describe(sa->conn->proposals, true));
		notify_only(resp, ike::NotifyType::no_proposal_chosen);
		return;
	}
	if (pl.ke->group != chosen->dh) {
		spdlog::info("ike: {}: IKE SA rekey: INVALID_KE_PAYLOAD: KE for {}, the proposal chosen wants {}",
			     sa->name(), ike::transform_name(ike::TransformType::dh, static_cast<std::uint16_t>(pl.ke->group)),
			     ike::transform_name(ike::TransformType::dh, static_cast<std::uint16_t>(chosen->dh)));
		notify_only(resp, ike::NotifyType::invalid_ke_payload, be16(static_cast<std::uint16_t>(chosen->dh)));
		return;
	}
	auto nsa = std::make_shared<Sa>(io);
	nsa->id = next_id++;
	nsa->initiator = false; /* the peer initiated the rekey: it is the new original initiator */
	nsa->conn = sa->conn;
	nsa->spi_i = ike::ike_spi_value(chosen->spi).value_or(0);
	nsa->spi_r = new_ike_spi();
	nsa->suite = *chosen;
	nsa->ni = *pl.nonce;
	nsa->nr = nr;
	try {
		const auto dh = ike::DhKey::generate(chosen->dh);
		const auto shared = dh.shared(pl.ke->data);
		nsa->keys = ike::derive_rekeyed_ike_keys(sa->suite.prf, sa->keys.sk_d.span(),
							 {chosen->encr, chosen->key_bits, chosen->prf, chosen->dh},
							 shared.span(), nsa->ni, nsa->nr, nsa->spi_i, nsa->spi_r);
		resp.ke = ike::KeyExchange{dh.group(), dh.public_value()};
	} catch (const ike::CryptoError &) {
		notify_only(resp, ike::NotifyType::invalid_syntax);
		return;
	}
	auto prop = chosen->proposal;
	prop.spi = ike::ike_spi_bytes(nsa->spi_r);
	resp.has_sa = true;
	resp.sa = {prop};
	resp.nonce = nr;
	adopt(sa, nsa);
	spdlog::info("ike: {}: IKE SA rekeyed by the peer, now {}", sa->name(), nsa->name());
	/* the peer deletes the old SA; if it never does, it goes anyway */
	sa->state = State::rekeyed;
	sa->expire.expires_after(std::chrono::seconds(30));
	sa->expire.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		if (auto s = w.lock(); !ec && s && s->state == State::rekeyed)
			destroy(s, false);
	});
}

/* The new IKE SA takes over everything of the old one but its keys and SPIs. */
void IkeRole::Impl::adopt(const SaPtr &old, const SaPtr &nsa)
{
	nsa->path = old->path;
	nsa->local_id = old->local_id;
	nsa->remote_id = old->remote_id;
	nsa->nat_local = old->nat_local;
	nsa->nat_remote = old->nat_remote;
	nsa->mobike_initiator = old->mobike_initiator;
	nsa->children = std::move(old->children);
	old->children.clear();
	sas[nsa->local_spi()] = nsa;
	ctr.ike_rekeyed++;
	ctr.ike_established--; /* established() counts it again */
	established(nsa, old->peer_mobike);
	for (const auto &c : nsa->children)
		arm_child_rekey(nsa, c.id);
}

/* ---- rekeying, initiator side ---- */

std::chrono::milliseconds IkeRole::Impl::jittered(std::chrono::seconds base)
{
	/* 90..100 %: both sides rarely rekey at the same instant */
	std::uniform_int_distribution<std::int64_t> d(base.count() * 900, base.count() * 1000);
	return std::chrono::milliseconds(d(jitter));
}

void IkeRole::Impl::retry_later(const SaPtr &sa, std::function<void(const SaPtr &)> fn)
{
	std::uniform_int_distribution<int> d(1000, 5000);
	auto t = loose_timer(std::chrono::milliseconds(d(jitter)));
	t->async_wait([t, w = std::weak_ptr<Sa>(sa), fn = std::move(fn), this](const asio::error_code &ec) {
		if (auto s = w.lock(); !ec && s && !stopped && s->state == State::established)
			fn(s);
	});
}

void IkeRole::Impl::arm_ike_rekey(const SaPtr &sa)
{
	if (sa->conn->rekey_time.count() == 0)
		return;
	sa->rekey.expires_after(jittered(sa->conn->rekey_time));
	sa->rekey.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		if (auto s = w.lock(); !ec && s && !stopped)
			rekey_ike(s);
	});
}

void IkeRole::Impl::rekey_ike(const SaPtr &sa)
{
	if (sa->state != State::established || sa->ike_rekeying)
		return;
	if (std::ranges::any_of(sa->children, [](const Child &c) { return c.rekeying; }))
		return retry_later(sa, [this](const SaPtr &s) { rekey_ike(s); });
	const auto &c = *sa->conn;
	sa->ike_rekeying = true;
	const std::uint64_t new_spi = new_ike_spi();
	auto dh = std::make_shared<ike::DhKey>(ike::DhKey::generate(sa->suite.dh));
	const Bytes ni = ike::random_bytes(kNonceLen);
	const auto spi = ike::ike_spi_bytes(new_spi);
	ike::Payloads pl;
	pl.has_sa = true;
	/* the current suite first, so the rekeyed SA keeps it */
	auto props = c.proposals;
	std::stable_partition(props.begin(), props.end(), [&](const auto &p) {
		return p.encr == static_cast<std::uint16_t>(sa->suite.encr) && p.key_bits == sa->suite.key_bits &&
		       p.prf == static_cast<std::uint16_t>(sa->suite.prf);
	});
	for (auto &p : props) {
		std::erase(p.dh, static_cast<std::uint16_t>(sa->suite.dh));
		p.dh.insert(p.dh.begin(), static_cast<std::uint16_t>(sa->suite.dh));
	}
	pl.sa = ike_proposals(props, spi);
	pl.nonce = ni;
	pl.ke = ike::KeyExchange{dh->group(), dh->public_value()};
	spdlog::info("ike: {}: rekeying the IKE SA", sa->name());
	queue_request(sa, {ike::Exchange::create_child_sa, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa), new_spi, dh, ni, props](const ike::Header &, const ike::Payloads &r) {
				   auto s = w.lock();
				   if (!s)
					   return;
				   s->ike_rekeying = false;
				   if (const auto *n = r.first_error()) {
					   spdlog::info("ike: {}: IKE rekey refused: {}; retrying", s->name(),
							ike::notify_name(n->type));
					   return retry_later(s, [this](const SaPtr &x) { rekey_ike(x); });
				   }
				   auto chosen = accept_answer(r.sa, props, ike::Protocol::ike, std::nullopt);
				   if (!chosen || ike::ike_spi_value(chosen->spi).value_or(0) == 0 || !r.ke || r.ke->group != dh->group() ||
				       chosen->dh != dh->group() || !r.nonce) {
					   spdlog::warn("ike: {}: unacceptable IKE rekey answer", s->name());
					   return retry_later(s, [this](const SaPtr &x) { rekey_ike(x); });
				   }
				   auto nsa = std::make_shared<Sa>(io);
				   nsa->id = next_id++;
				   nsa->initiator = true;
				   nsa->conn = s->conn;
				   nsa->spi_i = new_spi;
				   nsa->spi_r = ike::ike_spi_value(chosen->spi).value_or(0);
				   nsa->suite = *chosen;
				   nsa->ni = ni;
				   nsa->nr = *r.nonce;
				   try {
					   const auto shared = dh->shared(r.ke->data);
					   nsa->keys = ike::derive_rekeyed_ike_keys(
						   s->suite.prf, s->keys.sk_d.span(),
						   {chosen->encr, chosen->key_bits, chosen->prf, chosen->dh}, shared.span(), nsa->ni,
						   nsa->nr, nsa->spi_i, nsa->spi_r);
				   } catch (const ike::CryptoError &e) {
					   spdlog::warn("ike: {}: IKE rekey: {}", s->name(), e.what());
					   return;
				   }
				   adopt(s, nsa);
				   spdlog::info("ike: {}: IKE SA rekeyed, now {}", s->name(), nsa->name());
				   s->state = State::rekeyed;
				   ike::Payloads del;
				   del.deletes.push_back({ike::Protocol::ike, {}});
				   queue_request(s, {ike::Exchange::informational, std::move(del),
						     [this, w2 = std::weak_ptr<Sa>(s)](const ike::Header &, const ike::Payloads &) {
							     if (auto o = w2.lock())
								     destroy(o, false);
						     },
						     {}});
				   s->dpd.cancel();
				   s->rekey.cancel();
				   s->keepalive.cancel();
			   },
			   {}});
}

} // namespace ntmd
