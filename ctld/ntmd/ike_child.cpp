// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: CREATE_CHILD_SA for CHILD SAs (RFC 7296 sections 1.3.1,
 * 1.3.3, 2.8): new CHILD SAs and their rekey from both sides, with or
 * without PFS, rekey collisions (section 2.8.1), and CHILD SA Delete.
 */
#include "ike_impl.hpp"

namespace ntmd {

/* ---- CHILD SA negotiation, responder side ---- */

void IkeRole::Impl::notify_only(ike::Payloads &resp, ike::NotifyType t, Bytes data)
{
	resp = {};
	resp.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(t), std::move(data)});
}

/*
 * Answers a CHILD SA request: proposal, selectors, SPI, kernel. In
 * IKE_AUTH a failure here leaves the IKE SA up (RFC 7296 section 1.2), so
 * only the notify is added; in CREATE_CHILD_SA it is the whole answer.
 */
bool IkeRole::Impl::respond_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, std::optional<ByteView> shared,
				  ByteView ni, ByteView nr, std::optional<ike::DhGroup> group,
				  std::optional<std::uint32_t> replaces)
{
	const auto &c = *sa->conn;
	const bool in_auth = resp.auth.has_value();
	const auto refuse = [&](ike::NotifyType t, const std::string &why) {
		spdlog::info("ike: {}: CHILD SA refused: {}", sa->name(), why);
		if (in_auth)
			resp.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(t), {}});
		else
			notify_only(resp, t);
		return false;
	};
	if (!pl.has_sa || !pl.tsi || !pl.tsr)
		return refuse(ike::NotifyType::invalid_syntax, "SA, TSi or TSr missing");
	if (pl.find(ike::NotifyType::use_transport_mode) != nullptr && !in_auth)
		return refuse(ike::NotifyType::no_proposal_chosen, "transport mode is not supported");
	auto chosen = choose(pl.sa, c.esp_proposals, ike::Protocol::esp, group.value_or(ike::DhGroup::none), !in_auth);
	if (!chosen)
		return refuse(ike::NotifyType::no_proposal_chosen,
			      "NO_PROPOSAL_CHOSEN: offered " + describe(pl.sa, ike::Protocol::esp) +
				      (group ? " with a KE for " + ike::transform_name(ike::TransformType::dh,
									       static_cast<std::uint16_t>(*group))
					     : std::string(in_auth ? "" : " without KE (no PFS)")) +
				      "; configured esp_proposals " + describe(c.esp_proposals, false));
	auto tsi = narrow_all(*pl.tsi, c.remote_ts);
	auto tsr = narrow_all(*pl.tsr, c.local_ts);
	if (tsi.empty() || tsr.empty())
		return refuse(ike::NotifyType::ts_unacceptable,
			      "TS_UNACCEPTABLE: offered TSi " + describe(*pl.tsi) + ", TSr " + describe(*pl.tsr) +
				      "; configured remote_ts " + describe(c.remote_ts) + ", local_ts " +
				      describe(c.local_ts));
	Child ch;
	ch.spi_in = new_esp_spi();
	ch.spi_out = ike::esp_spi_value(chosen->spi).value_or(0);
	if (ch.spi_out < NTM_ESP_SPI_MIN) {
		spis_in.erase(ch.spi_in);
		return refuse(ike::NotifyType::invalid_syntax, "reserved ESP SPI");
	}
	ch.suite = *chosen;
	ch.ts_local = tsr;
	ch.ts_remote = tsi;
	const auto spi_in = ch.spi_in;
	if (!install_child(sa, std::move(ch), shared, ni, nr, false, replaces))
		return refuse(ike::NotifyType::temporary_failure, "the kernel refused the SA");
	auto prop = chosen->proposal;
	prop.spi = ike::esp_spi_bytes(spi_in);
	resp.has_sa = true;
	resp.sa = {prop};
	resp.tsi = tsi;
	resp.tsr = tsr;
	return true;
}

void IkeRole::Impl::on_create_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp)
{
	if (sa->ike_rekeying || sa->state == State::rekeyed) {
		/* an IKE rekey is under way: the peer retries (RFC 7296 section 2.25) */
		notify_only(resp, ike::NotifyType::temporary_failure);
		return;
	}
	if (!pl.has_sa || pl.sa.empty() || !pl.nonce || pl.nonce->size() < 16) {
		notify_only(resp, ike::NotifyType::invalid_syntax);
		return;
	}
	const Bytes nr = ike::random_bytes(kNonceLen);
	if (pl.sa.front().protocol == ike::Protocol::ike) {
		respond_ike_rekey(sa, pl, resp, nr);
		return;
	}
	Child *old = nullptr;
	if (const auto *n = pl.find(ike::NotifyType::rekey_sa)) {
		const auto spi = ike::esp_spi_value(n->spi);
		old = spi ? sa->child_by_out(*spi) : nullptr;
		if (old == nullptr || old->rekeyed || old->deleting) {
			notify_only(resp, ike::NotifyType::child_sa_not_found);
			return;
		}
	}
	std::optional<ike::DhKey> dh;
	std::optional<ntm::SecretBytes> shared;
	if (pl.ke) {
		const bool ok = std::ranges::any_of(sa->conn->esp_proposals, [&](const auto &pr) {
			return std::ranges::find(pr.dh, static_cast<std::uint16_t>(pl.ke->group)) != pr.dh.end();
		});
		if (!ok || !ike::supported(pl.ke->group)) {
			/* a group of ours, if any of our proposals names one (RFC 7296 section 1.3) */
			const auto it = std::ranges::find_if(sa->conn->esp_proposals,
							     [](const auto &pr) { return !pr.dh.empty(); });
			const auto ke = ike::transform_name(ike::TransformType::dh,
							    static_cast<std::uint16_t>(pl.ke->group));
			if (it == sa->conn->esp_proposals.end()) {
				spdlog::info("ike: {}: CHILD SA refused: NO_PROPOSAL_CHOSEN: KE for {} (PFS), but "
					     "no esp_proposal names a DH group; configured {}",
					     sa->name(), ke, describe(sa->conn->esp_proposals, false));
				notify_only(resp, ike::NotifyType::no_proposal_chosen);
			} else {
				spdlog::info("ike: {}: CHILD SA refused: INVALID_KE_PAYLOAD: KE for {}, asking for {}; "
					     "configured {}",
					     sa->name(), ke, ike::transform_name(ike::TransformType::dh, it->dh.front()),
					     describe(sa->conn->esp_proposals, false));
				notify_only(resp, ike::NotifyType::invalid_ke_payload, be16(it->dh.front()));
			}
			return;
		}
		try {
			dh = ike::DhKey::generate(pl.ke->group);
			shared = dh->shared(pl.ke->data);
		} catch (const ike::CryptoError &) {
			notify_only(resp, ike::NotifyType::invalid_syntax);
			return;
		}
	}
	const auto old_spi = old != nullptr ? std::optional<std::uint32_t>(old->spi_in) : std::nullopt;
	std::optional<ByteView> sv;
	if (shared)
		sv = shared->span();
	/* a rekey: the new pair receives at once, sends once the peer does (D83) */
	if (!respond_child(sa, pl, resp, sv, *pl.nonce, nr, pl.ke ? std::optional(pl.ke->group) : std::nullopt,
			   old_spi))
		return;
	resp.nonce = nr;
	if (dh)
		resp.ke = ike::KeyExchange{dh->group(), dh->public_value()};
	if (old_spi) {
		Child *o = sa->child_by_in(*old_spi);
		const auto new_spi = ike::esp_spi_value(resp.sa.front().spi).value_or(0);
		ctr.child_rekeyed++;
		if (o != nullptr && o->rekeying) {
			/* collision (RFC 7296 section 2.8.1): remember this exchange's lowest nonce */
			o->peer_rekey_min_nonce = std::min(*pl.nonce, nr);
			o->peer_rekey_new_spi_in = new_spi;
			spdlog::info("ike: {}: CHILD SA {:08x} rekeyed by both sides", sa->name(), *old_spi);
		} else if (o != nullptr) {
			o->rekeyed = true; /* the peer deletes it */
			arm_orphan_delete(sa, *old_spi);
		}
	}
}

/* A rekeyed CHILD SA the peer should delete; if it never does, we do. */
void IkeRole::Impl::arm_orphan_delete(const SaPtr &sa, std::uint32_t spi_in)
{
	auto t = loose_timer(std::chrono::seconds(30));
	t->async_wait([this, t, w = std::weak_ptr<Sa>(sa), spi_in](const asio::error_code &ec) {
		auto s = w.lock();
		if (ec || !s || s->state != State::established || stopped)
			return;
		if (Child *c = s->child_by_in(spi_in); c != nullptr && !c->deleting)
			delete_child(s, spi_in);
	});
}

/* ---- rekeying, initiator side ---- */

void IkeRole::Impl::arm_child_rekey(const SaPtr &sa, std::uint64_t child_id)
{
	if (sa->conn->child_rekey_time.count() == 0)
		return;
	Clock::time_point when{};
	for (const auto &c : sa->children)
		if (c.id == child_id)
			when = c.rekey_at;
	const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now());
	auto t = loose_timer(std::max(left, std::chrono::milliseconds(0)));
	t->async_wait([this, t, w = std::weak_ptr<Sa>(sa), child_id](const asio::error_code &ec) {
		auto s = w.lock();
		if (ec || !s || stopped || s->state != State::established)
			return;
		for (auto &c : s->children)
			if (c.id == child_id)
				rekey_child(s, c.spi_in);
	});
}

void IkeRole::Impl::rekey_child(const SaPtr &sa, std::uint32_t spi_in)
{
	Child *c = sa->child_by_in(spi_in);
	if (c == nullptr || c->rekeying || c->rekeyed || c->deleting || sa->state != State::established)
		return;
	if (sa->ike_rekeying)
		return retry_later(sa, [this, spi_in](const SaPtr &s) { rekey_child(s, spi_in); });
	const auto &conn = *sa->conn;
	c->rekeying = true;
	const auto new_in = new_esp_spi();
	const Bytes ni = ike::random_bytes(kNonceLen);
	std::shared_ptr<ike::DhKey> dh;
	const bool pfs = !conn.esp_proposals.front().dh.empty();
	if (pfs)
		dh = std::make_shared<ike::DhKey>(
			ike::DhKey::generate(static_cast<ike::DhGroup>(conn.esp_proposals.front().dh.front())));
	ike::Payloads pl;
	pl.notifies.push_back({ike::Protocol::esp, ike::esp_spi_bytes(spi_in),
			       static_cast<std::uint16_t>(ike::NotifyType::rekey_sa), {}});
	pl.has_sa = true;
	pl.sa = esp_proposals(conn.esp_proposals, new_in, pfs);
	pl.nonce = ni;
	if (dh)
		pl.ke = ike::KeyExchange{dh->group(), dh->public_value()};
	pl.tsi = c->ts_local;
	pl.tsr = c->ts_remote;
	const auto tsi = c->ts_local;
	const auto tsr = c->ts_remote;
	spdlog::info("ike: {}: rekeying CHILD SA #{} ({:08x})", sa->name(), c->id, spi_in);
	queue_request(sa, {ike::Exchange::create_child_sa, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa), spi_in, new_in, ni, dh, tsi, tsr](const ike::Header &,
												 const ike::Payloads &r) {
				   auto s = w.lock();
				   if (!s)
					   return;
				   on_child_rekey_response(s, r, spi_in, new_in, ni, dh.get(), tsi, tsr);
			   },
			   {}});
}

void IkeRole::Impl::on_child_rekey_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t old_in, std::uint32_t new_in,
					    const Bytes &ni, const ike::DhKey *dh, const std::vector<ike::TrafficSelector> &tsi,
					    const std::vector<ike::TrafficSelector> &tsr)
{
	Child *old = sa->child_by_in(old_in);
	if (old != nullptr)
		old->rekeying = false;
	const auto give_up = [&](const std::string &why, bool retry) {
		spis_in.erase(new_in);
		spdlog::info("ike: {}: CHILD SA {:08x} rekey: {}", sa->name(), old_in, why);
		if (retry)
			retry_later(sa, [this, old_in](const SaPtr &s) { rekey_child(s, old_in); });
	};
	if (const auto *n = r.first_error()) {
		if (n->type == static_cast<std::uint16_t>(ike::NotifyType::child_sa_not_found)) {
			give_up("the peer no longer has it", false);
			if (old != nullptr)
				erase_child(*sa, old_in);
			return;
		}
		return give_up("refused: " + ike::notify_name(n->type), true);
	}
	if (old == nullptr)
		return give_up("the SA went away meanwhile", false);
	auto chosen = accept_answer(r.sa, sa->conn->esp_proposals, ike::Protocol::esp,
				    dh != nullptr ? dh->group() : ike::DhGroup::none);
	if (!chosen || !r.nonce || !r.tsi || !r.tsr || (dh != nullptr && (!r.ke || r.ke->group != dh->group())) ||
	    !std::ranges::all_of(*r.tsi, [&](const auto &t) { return ts_within(t, tsi) && t.prefix_len(); }) ||
	    !std::ranges::all_of(*r.tsr, [&](const auto &t) { return ts_within(t, tsr) && t.prefix_len(); }))
		return give_up("unacceptable answer", true);
	std::optional<ntm::SecretBytes> shared;
	if (dh != nullptr) {
		try {
			shared = dh->shared(r.ke->data);
		} catch (const ike::CryptoError &e) {
			return give_up(e.what(), true);
		}
	}
	Child ch;
	ch.spi_in = new_in;
	ch.spi_out = ike::esp_spi_value(chosen->spi).value_or(0);
	ch.suite = *chosen;
	ch.ts_local = *r.tsi;
	ch.ts_remote = *r.tsr;
	std::optional<ByteView> sv;
	if (shared)
		sv = shared->span();
	const auto collision = old->peer_rekey_min_nonce;
	if (!install_child(sa, std::move(ch), sv, ni, *r.nonce, true, old_in))
		return give_up("cannot install", true);
	ctr.child_rekeyed++;
	old = sa->child_by_in(old_in);
	if (old == nullptr)
		return;
	if (collision) {
		const Bytes ours = std::min(ni, *r.nonce);
		if (ours < *collision) {
			/* our exchange holds the lowest nonce: its SA is the redundant one */
			spdlog::info("ike: {}: rekey collision: deleting our redundant CHILD SA {:08x}", sa->name(), new_in);
			old->rekeyed = true;
			delete_child(sa, new_in);
			arm_orphan_delete(sa, old_in);
			return;
		}
	}
	old->rekeyed = true;
	delete_child(sa, old_in);
}

void IkeRole::Impl::delete_child(const SaPtr &sa, std::uint32_t spi_in)
{
	Child *c = sa->child_by_in(spi_in);
	if (c == nullptr || c->deleting)
		return;
	c->deleting = true;
	ike::Payloads pl;
	pl.deletes.push_back({ike::Protocol::esp, {ike::esp_spi_bytes(spi_in)}});
	queue_request(sa, {ike::Exchange::informational, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa), spi_in](const ike::Header &, const ike::Payloads &) {
				   if (auto s = w.lock()) {
					   erase_child(*s, spi_in);
					   spdlog::info("ike: {}: CHILD SA {:08x} deleted", s->name(), spi_in);
				   }
			   },
			   {}});
}

void IkeRole::Impl::send_child_delete_raw(const SaPtr &sa, std::uint32_t spi_in)
{
	ike::Payloads pl;
	pl.deletes.push_back({ike::Protocol::esp, {ike::esp_spi_bytes(spi_in)}});
	queue_request(sa, {ike::Exchange::informational, std::move(pl), {}, {}});
}

} // namespace ntmd
