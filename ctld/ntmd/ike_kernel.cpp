// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: the kernel side: a negotiated CHILD SA pair becomes
 * one ESP-in-UDP tunnel of the ntm device (genetlink), with its selectors,
 * lifetimes and routes; kernel events (soft/hard expiry, endpoint moves).
 */
#include "ike_impl.hpp"
#include "events.hpp"

namespace ntmd {

/* ---- CHILD SAs in the kernel ---- */

ntm::Prefix IkeRole::Impl::prefix_of(const ike::TrafficSelector &t)
{
	return ntm::Prefix{t.start, static_cast<std::uint8_t>(t.prefix_len().value_or(0))};
}

/*
 * Derives the keys and installs the SA pair. we_initiated: we sent the
 * request of the exchange that created it (KEYMAT order, RFC 7296
 * section 2.17). replaces: the inbound SPI of the CHILD SA this one
 * rekeys; the new pair becomes its successor in the kernel (D83). As the
 * initiator we read the answer, so the peer holds the new SA: it sends at
 * once (TAKEOVER NOW). As the responder the peer may install its inbound
 * SA only once it reads our answer: the new pair receives at once but we
 * keep sending on the old one until ESP arrives on the new one or the old
 * one is deleted (TAKEOVER ON_RX). A kernel that refuses the successor
 * (a module without ESP REPLACES, an old SA still pending itself) gets
 * the pair as a plain new one, which sends at once as the newest.
 * Returns false (and forgets the SPI) on failure.
 */
bool IkeRole::Impl::install_child(const SaPtr &sa, Child ch, std::optional<ByteView> shared, ByteView ni, ByteView nr,
				  bool we_initiated, std::optional<std::uint32_t> replaces)
{
	const auto &c = *sa->conn;
	ike::ChildKeys k;
	try {
		k = ike::derive_child_keys(sa->suite.prf, sa->keys.sk_d.span(), shared, ni, nr, ch.suite.encr,
					   ch.suite.key_bits);
	} catch (const std::exception &e) {
		spdlog::warn("ike: {}: CHILD SA keys: {}", sa->name(), e.what());
		spis_in.erase(ch.spi_in);
		return false;
	}
	const auto &out = we_initiated ? k.i_to_r : k.r_to_i;
	const auto &in = we_initiated ? k.r_to_i : k.i_to_r;
	const std::size_t klen = out.size() - ike::kAeadSaltLen;
	ntm::TunnelSettings s;
	s.encap = NTM_ENCAP_ESP_UDP;
	s.local_index = ch.spi_in;
	s.remote_index = ch.spi_out;
	s.endpoint = sa->path.remote;
	s.cipher = ch.suite.encr == ike::Encr::aes_gcm_16 ? NTM_CIPHER_AES_GCM : NTM_CIPHER_CHACHA20_POLY1305;
	s.key = ntm::SecretBytes(out.span().first(klen));
	s.rx_key = ntm::SecretBytes(in.span().first(klen));
	ntm::Salt ts{};
	ntm::Salt rs{};
	std::copy_n(out.data() + klen, ts.size(), ts.begin());
	std::copy_n(in.data() + klen, rs.size(), rs.begin());
	s.tx_salt = ts;
	s.rx_salt = rs;
	s.esn = ch.suite.esn;
	for (const auto &t : ch.ts_remote)
		s.remote_ts.push_back(prefix_of(t));
	for (const auto &t : ch.ts_local)
		s.local_ts.push_back(prefix_of(t));
	if (c.child_life_time.count() > 0)
		s.lifetime = static_cast<std::uint32_t>(c.child_life_time.count());
	if (c.child_rekey_bytes > 0) {
		s.soft_bytes = c.child_rekey_bytes;
		s.hard_bytes = c.child_rekey_bytes + c.child_rekey_bytes / 10;
	}
	if (c.child_rekey_packets > 0) {
		s.soft_packets = c.child_rekey_packets;
		s.hard_packets = c.child_rekey_packets + c.child_rekey_packets / 10;
	}
	/* without ESN the 32-bit sequence must never wrap: rekey well before */
	if (!ch.suite.esn && (!s.soft_packets || *s.soft_packets > 0xC0000000ULL))
		s.soft_packets = 0xC0000000ULL;
	if (replaces) {
		s.replaces = *replaces;
		s.takeover = we_initiated ? NTM_TAKEOVER_NOW : NTM_TAKEOVER_ON_RX;
		try {
			ntm::new_tunnel(genl, dev(), s);
			ch.installed = true;
		} catch (const std::exception &e) {
			spdlog::info("ike: {}: CHILD SA {:08x} as successor of {:08x}: {}; installing it plain",
				     sa->name(), ch.spi_in, *replaces, e.what());
			s.replaces.reset();
			s.takeover.reset();
		}
	}
	try {
		if (!ch.installed)
			ntm::new_tunnel(genl, dev(), s);
	} catch (const std::exception &e) {
		spdlog::warn("ike: {}: install CHILD SA {:08x}/{:08x}: {}", sa->name(), ch.spi_in, ch.spi_out, e.what());
		spis_in.erase(ch.spi_in);
		return false;
	}
	ch.installed = true;
	ch.id = next_child_id++;
	ch.created = Clock::now();
	if (c.child_rekey_time.count() > 0)
		ch.rekey_at = ch.created + jittered(c.child_rekey_time);
	ctr.child_installed++;
	std::string tsl;
	std::string tsr;
	for (const auto &t : ch.ts_local)
		tsl += (tsl.empty() ? "" : ",") + t.to_string();
	for (const auto &t : ch.ts_remote)
		tsr += (tsr.empty() ? "" : ",") + t.to_string();
	spdlog::info("ike: {}: CHILD SA #{} {:08x}_i {:08x}_o {} === {} {}", sa->name(), ch.id, ch.spi_in, ch.spi_out, tsl,
		     tsr, suite_name(ch.suite, false));
	emit_event("ike", "child_sa_up",
		   {{"name", c.name},
		    {"ike_sa", sa->id},
		    {"child", ch.id},
		    {"spi_in", fmt::format("{:08x}", ch.spi_in)},
		    {"spi_out", fmt::format("{:08x}", ch.spi_out)},
		    {"local_ts", tsl},
		    {"remote_ts", tsr}});
	if (c.install_routes)
		for (const auto &t : ch.ts_remote)
			install_route(prefix_of(t));
	const auto id = ch.id;
	sa->children.push_back(std::move(ch));
	arm_child_rekey(sa, id);
	return true;
}

void IkeRole::Impl::install_route(const ntm::Prefix &p)
{
	const auto key = p.to_string();
	if (routes_installed.contains(key))
		return;
	try {
		ntm::replace_route(link.ifindex, p.addr, p.len);
		routes_installed.insert(key);
	} catch (const std::exception &e) {
		spdlog::warn("ike: route to {} via {}: {}", key, icfg.interface, e.what());
	}
}

void IkeRole::Impl::remove_child_kernel(Child &c)
{
	if (c.installed) {
		try {
			ntm::del_tunnel(genl, dev(), c.spi_in);
		} catch (const ntm::Error &e) {
			if (e.code() != ENOENT)
				spdlog::warn("ike: remove SA {:08x}: {}", c.spi_in, e.what());
		}
		c.installed = false;
	}
	spis_in.erase(c.spi_in);
}

/* ---- kernel events ---- */

IkeRole::Impl::SaPtr IkeRole::Impl::sa_of_child(std::uint32_t spi_in)
{
	for (const auto &[spi, sa] : sas)
		if (sa->child_by_in(spi_in) != nullptr)
			return sa;
	return nullptr;
}

void IkeRole::Impl::on_event(const ntm::Event &ev)
{
	if (ntm::event_ifindex(ev) != link.ifindex)
		return;
	if (const auto *ex = std::get_if<ntm::ExpiredEvent>(&ev)) {
		auto sa = sa_of_child(ex->local_index);
		if (!sa)
			return;
		if (ex->soft()) {
			spdlog::info("ike: {}: CHILD SA {:08x} soft limit ({}): rekeying", sa->name(), ex->local_index,
				     ntm::expire_reason_name(ex->reason));
			rekey_child(sa, ex->local_index);
			return;
		}
		spdlog::info("ike: {}: CHILD SA {:08x} expired ({})", sa->name(), ex->local_index,
			     ntm::expire_reason_name(ex->reason));
		if (Child *c = sa->child_by_in(ex->local_index)) {
			c->installed = false;
			if (!c->deleting)
				delete_child(sa, ex->local_index);
		}
	} else if (const auto *tk = std::get_if<ntm::TakeoverEvent>(&ev)) {
		/* a rekeyed CHILD SA's successor sends now: the peer sent on it, or the old SA went */
		if (auto sa = sa_of_child(tk->local_index); sa && tk->replaces != 0)
			spdlog::debug("ike: {}: CHILD SA {:08x} sends now, {:08x} only receives", sa->name(),
				      tk->local_index, tk->replaces);
	} else if (const auto *ep = std::get_if<ntm::EndpointEvent>(&ev)) {
		auto sa = sa_of_child(ep->local_index);
		if (sa && sa->nat_remote && !sa->peer_mobike && !(sa->path.remote == ep->endpoint)) {
			Path p = sa->path;
			p.remote = ep->endpoint;
			set_path(sa, p);
		}
	}
}

} // namespace ntmd
