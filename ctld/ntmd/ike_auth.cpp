// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: IKE_AUTH, initiator and responder (RFC 7296 section 1.2,
 * 2.15): identities, AUTH by shared key or signature (RFC 7427), the
 * first CHILD SA.
 */
#include "ike_impl.hpp"
#include "events.hpp"

namespace ntmd {

/* ---- authentication ---- */

/* AUTH payload for our side; octets per RFC 7296 section 2.15. */
std::optional<ike::Auth> IkeRole::Impl::make_auth(const Sa &sa, const IkeConnection &c)
{
	const ByteView msg = sa.initiator ? ByteView(sa.init_req) : ByteView(sa.init_resp);
	const ByteView nonce = sa.initiator ? ByteView(sa.nr) : ByteView(sa.ni);
	const auto &skp = sa.initiator ? sa.keys.sk_pi : sa.keys.sk_pr;
	const auto octets = ike::auth_octets(sa.suite.prf, msg, nonce, skp.span(), sa.local_id);
	ike::Auth a;
	if (c.local_auth == ntm::config::IkeAuth::psk) {
		a.method = ike::AuthMethod::psk;
		const auto v = ike::psk_auth(sa.suite.prf, psks.at(c.name).span(), octets);
		a.data.assign(v.span().begin(), v.span().end());
	} else {
		const auto *id = identity_of(c);
		if (id == nullptr)
			return std::nullopt;
		a.method = ike::AuthMethod::digital_signature;
		a.data = ike::sign_auth(id->key.get(), ike::HashAlg::sha2_256, octets);
	}
	return a;
}

/* Checks the peer's AUTH (and certificate); why says what failed. */
bool IkeRole::Impl::verify_auth(const Sa &sa, const IkeConnection &c, const ike::Payloads &pl, std::string &why)
{
	if (!pl.auth) {
		why = "no AUTH payload (EAP is not supported)";
		return false;
	}
	const ByteView msg = sa.initiator ? ByteView(sa.init_resp) : ByteView(sa.init_req);
	const ByteView nonce = sa.initiator ? ByteView(sa.ni) : ByteView(sa.nr);
	const auto &skp = sa.initiator ? sa.keys.sk_pr : sa.keys.sk_pi;
	const auto octets = ike::auth_octets(sa.suite.prf, msg, nonce, skp.span(), sa.remote_id);
	if (c.remote_auth == ntm::config::IkeAuth::psk) {
		if (pl.auth->method != ike::AuthMethod::psk) {
			why = "peer authenticates with method " + std::to_string(static_cast<int>(pl.auth->method)) +
			      ", expected a shared key";
			return false;
		}
		if (!ike::psk_auth_matches(sa.suite.prf, psks.at(c.name).span(), octets, pl.auth->data)) {
			why = "shared key AUTH does not verify";
			return false;
		}
		return true;
	}
	if (pl.auth->method != ike::AuthMethod::digital_signature) {
		why = "peer authenticates with method " + std::to_string(static_cast<int>(pl.auth->method)) +
		      ", expected a digital signature (RFC 7427)";
		return false;
	}
	auto key = ikecred::verify_peer(pl.certs, *anchors, sa.remote_id, why);
	if (!key)
		return false;
	/* Ed25519 signs the message itself: the "identity" hash (RFC 8420) */
	static constexpr std::array<ike::HashAlg, 4> kAccept{ike::HashAlg::sha2_256, ike::HashAlg::sha2_384,
							     ike::HashAlg::sha2_512, ike::HashAlg::identity};
	if (!ike::verify_auth(key.get(), pl.auth->data, octets, kAccept)) {
		why = "signature does not verify";
		return false;
	}
	return true;
}

void IkeRole::Impl::add_cert_payloads(const IkeConnection &c, ike::Payloads &pl, bool certreq)
{
	if (c.local_auth == ntm::config::IkeAuth::pubkey)
		if (const auto *id = identity_of(c))
			for (const auto &x : id->chain)
				pl.certs.push_back({ike::CertEncoding::x509_sig, ikecred::cert_der(x.get())});
	if (certreq && c.remote_auth == ntm::config::IkeAuth::pubkey && anchors)
		pl.certreqs.push_back({ike::CertEncoding::x509_sig, anchors->certreq});
}

/* ---- initiator: IKE_AUTH ---- */

void IkeRole::Impl::send_auth(const SaPtr &sa)
{
	const auto &c = *sa->conn;
	ike::Payloads pl;
	pl.idi = sa->local_id;
	if (c.remote_id)
		pl.idr = to_identity(*c.remote_id);
	add_cert_payloads(c, pl, true);
	auto auth = make_auth(*sa, c);
	if (!auth)
		return fail(sa, "no certificate for public key authentication");
	pl.auth = std::move(*auth);
	if (!has_other_sa(*sa))
		pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::initial_contact), {}});
	if (c.mobike)
		pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::mobike_supported), {}});
	const auto spi_in = new_esp_spi();
	pl.has_sa = true;
	pl.sa = esp_proposals(c.esp_proposals, spi_in, false);
	pl.tsi = std::vector<ike::TrafficSelector>{};
	for (const auto &t : c.local_ts)
		pl.tsi->push_back(ts_of(t));
	pl.tsr = std::vector<ike::TrafficSelector>{};
	for (const auto &t : c.remote_ts)
		pl.tsr->push_back(ts_of(t));
	const auto tsi = *pl.tsi;
	const auto tsr = *pl.tsr;
	queue_request(sa, {ike::Exchange::ike_auth, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa), spi_in, tsi, tsr](const ike::Header &, const ike::Payloads &r) {
				   if (auto s = w.lock())
					   on_auth_response(s, r, spi_in, tsi, tsr);
			   },
			   {}});
}

bool IkeRole::Impl::has_other_sa(const Sa &sa) const
{
	return std::ranges::any_of(sas, [&](const auto &kv) {
		const auto &o = *kv.second;
		return &o != &sa && o.conn == sa.conn && o.state == State::established;
	});
}

void IkeRole::Impl::on_auth_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t spi_in,
				     const std::vector<ike::TrafficSelector> &tsi, const std::vector<ike::TrafficSelector> &tsr)
{
	const auto &c = *sa->conn;
	if (!r.auth || !r.idr) {
		spis_in.erase(spi_in);
		const auto *n = r.first_error();
		ctr.auth_failed++;
		return fail(sa, "IKE_AUTH refused: " + (n != nullptr ? ike::notify_name(n->type) : std::string("no AUTH")));
	}
	sa->remote_id = *r.idr;
	if (c.remote_id && !ikecred::same_identity(sa->remote_id, to_identity(*c.remote_id))) {
		spis_in.erase(spi_in);
		ctr.auth_failed++;
		return fail(sa, "peer identity " + sa->remote_id.to_string() + " is not the configured " + c.remote_id->text);
	}
	std::string why;
	if (!verify_auth(*sa, c, r, why)) {
		spis_in.erase(spi_in);
		ctr.auth_failed++;
		return fail(sa, "authentication of " + sa->remote_id.to_string() + " failed: " + why);
	}
	established(sa, r.find(ike::NotifyType::mobike_supported) != nullptr);
	if (const auto *n = r.first_error()) {
		spis_in.erase(spi_in);
		spdlog::warn("ike: {}: no CHILD SA: {}", sa->name(), ike::notify_name(n->type));
		return;
	}
	auto chosen = r.has_sa ? accept_answer(r.sa, c.esp_proposals, ike::Protocol::esp, ike::DhGroup::none) : std::nullopt;
	if (!chosen || !r.tsi || !r.tsr || r.tsi->empty() || r.tsr->empty() ||
	    !std::ranges::all_of(*r.tsi, [&](const auto &t) { return ts_within(t, tsi) && t.prefix_len(); }) ||
	    !std::ranges::all_of(*r.tsr, [&](const auto &t) { return ts_within(t, tsr) && t.prefix_len(); })) {
		spdlog::warn("ike: {}: CHILD SA answer is not acceptable; deleting it", sa->name());
		if (chosen)
			send_child_delete_raw(sa, spi_in);
		spis_in.erase(spi_in);
		return;
	}
	Child ch;
	ch.spi_in = spi_in;
	ch.spi_out = ike::esp_spi_value(chosen->spi).value_or(0);
	ch.suite = *chosen;
	ch.ts_local = *r.tsi;
	ch.ts_remote = *r.tsr;
	install_child(sa, std::move(ch), std::nullopt, sa->ni, sa->nr, true);
}

void IkeRole::Impl::established(const SaPtr &sa, bool peer_mobike)
{
	sa->state = State::established;
	sa->established_at = Clock::now();
	sa->peer_mobike = peer_mobike && sa->conn->mobike;
	forget_half_open(sa);
	ctr.ike_established++;
	spdlog::info("ike: {}: IKE SA established with {} ({}) at {}, {}{}{}", sa->name(), sa->remote_id.to_string(),
		     sa->initiator ? "we initiated" : "peer initiated", sa->path.remote.to_string(),
		     suite_name(sa->suite, true), sa->nat_local ? ", we are behind a NAT" : "",
		     sa->peer_mobike ? ", MOBIKE" : "");
	emit_event("ike", "ike_sa_up",
		   {{"name", sa->conn != nullptr ? sa->conn->name : std::string("?")},
		    {"id", sa->id},
		    {"remote", sa->path.remote.to_string()},
		    {"remote_id", sa->remote_id.to_string()},
		    {"initiator", sa->initiator}});
	arm_dpd(sa);
	arm_ike_rekey(sa);
	arm_keepalive(sa);
}

/* ---- responder: IKE_AUTH ---- */

/* Fills resp; false when the IKE SA must go after the answer. */
bool IkeRole::Impl::responder_auth(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp)
{
	const auto refuse = [&](const std::string &why) {
		ctr.auth_failed++;
		ctr.ike_failed++;
		spdlog::warn("ike: {}: authentication of {} failed: {}", sa->name(), p.remote.to_string(), why);
		resp = {};
		resp.notifies.push_back(
			{ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::authentication_failed), {}});
		return false;
	};
	if (!pl.idi)
		return refuse("no IDi");
	sa->remote_id = *pl.idi;
	sa->path = p; /* the peer may have moved to port 4500 */
	const IkeConnection *conn = nullptr;
	for (const auto *c : sa->candidates) {
		if (c->remote_id && !ikecred::same_identity(*pl.idi, to_identity(*c->remote_id)))
			continue;
		if (pl.idr && c->local_id && !ikecred::same_identity(*pl.idr, to_identity(*c->local_id)))
			continue;
		conn = c;
		break;
	}
	if (conn == nullptr)
		return refuse("no connection for identity " + pl.idi->to_string());
	sa->conn = conn;
	sa->local_id = local_identity(*conn, sa->path);
	std::string why;
	if (!verify_auth(*sa, *conn, pl, why))
		return refuse(why);
	auto auth = make_auth(*sa, *conn);
	if (!auth)
		return refuse("no certificate of our own");
	resp.idr = sa->local_id;
	add_cert_payloads(*conn, resp, false);
	resp.auth = std::move(*auth);
	const bool mobike = pl.find(ike::NotifyType::mobike_supported) != nullptr;
	if (mobike && conn->mobike)
		resp.notifies.push_back(
			{ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::mobike_supported), {}});
	if (pl.find(ike::NotifyType::initial_contact) != nullptr)
		drop_old_sas(sa);
	established(sa, mobike);
	if (!pl.has_sa || !pl.tsi || !pl.tsr)
		return true; /* an IKE SA without a CHILD SA */
	respond_child(sa, pl, resp, std::nullopt, sa->ni, sa->nr, std::nullopt);
	return true;
}

/* INITIAL_CONTACT: older IKE SAs with the same peer identity are stale (RFC 7296 section 2.4). */
void IkeRole::Impl::drop_old_sas(const SaPtr &sa)
{
	std::vector<SaPtr> old;
	for (const auto &[spi, o] : sas)
		if (o != sa && o->conn == sa->conn && o->state == State::established &&
		    ikecred::same_identity(o->remote_id, sa->remote_id))
			old.push_back(o);
	for (const auto &o : old) {
		spdlog::info("ike: {}: INITIAL_CONTACT replaces {}", sa->name(), o->name());
		destroy(o, false);
	}
}

} // namespace ntmd
