// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role: INFORMATIONAL exchanges (RFC 7296 section 1.4): Delete,
 * dead peer detection, NAT keepalives, and MOBIKE (RFC 4555) address
 * updates from both sides.
 */
#include "ike_impl.hpp"

namespace ntmd {

/* ---- INFORMATIONAL ---- */

void IkeRole::Impl::set_path(const SaPtr &sa, const Path &p)
{
	if (sa->path.remote == p.remote && sa->path.local == p.local && sa->path.natt == p.natt)
		return;
	spdlog::info("ike: {}: peer now at {} (we at {})", sa->name(), p.remote.to_string(),
		     p.local.family() != AF_UNSPEC ? p.local.to_string() : std::string("?"));
	const bool remote_moved = !(sa->path.remote == p.remote);
	sa->path = p;
	if (!remote_moved)
		return;
	for (auto &c : sa->children) {
		if (!c.installed)
			continue;
		ntm::TunnelSettings s;
		s.local_index = c.spi_in;
		s.endpoint = p.remote;
		try {
			ntm::set_tunnel(genl, dev(), s);
		} catch (const std::exception &e) {
			spdlog::warn("ike: {}: move SA {:08x}: {}", sa->name(), c.spi_in, e.what());
		}
	}
}

/* Returns true when the IKE SA is to be deleted after the answer. */
bool IkeRole::Impl::on_informational(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp)
{
	for (const auto &d : pl.deletes) {
		if (d.protocol == ike::Protocol::ike) {
			spdlog::info("ike: {}: the peer deletes the IKE SA", sa->name());
			return true;
		}
		if (d.protocol != ike::Protocol::esp)
			continue;
		ike::Delete mine{ike::Protocol::esp, {}};
		for (const auto &spi : d.spis) {
			const auto v = ike::esp_spi_value(spi);
			Child *c = v ? sa->child_by_out(*v) : nullptr;
			if (c == nullptr)
				continue;
			const auto in = c->spi_in;
			if (!c->deleting)
				mine.spis.push_back(ike::esp_spi_bytes(in));
			erase_child(*sa, in);
			spdlog::info("ike: {}: the peer deleted CHILD SA {:08x}", sa->name(), in);
		}
		if (!mine.spis.empty())
			resp.deletes.push_back(std::move(mine));
	}
	if (pl.find(ike::NotifyType::update_sa_addresses) != nullptr) {
		if (!sa->peer_mobike) {
			resp.notifies.push_back(
				{ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::invalid_syntax), {}});
			return false;
		}
		ctr.mobike_updates++;
		detect_nat(*sa, pl, p);
		set_path(sa, p);
		add_nat_detection(*sa, resp, p.remote);
	} else if (sa->nat_remote && !sa->peer_mobike && !(p.remote == sa->path.remote)) {
		/* a NATed peer's mapping changed (RFC 7296 section 2.23) */
		set_path(sa, p);
	}
	if (const auto *n = pl.find(ike::NotifyType::cookie2))
		resp.notifies.push_back(*n);
	return false;
}

/* ---- liveness ---- */

std::uint64_t IkeRole::Impl::boottime_ns() const
{
	timespec ts{};
	::clock_gettime(CLOCK_BOOTTIME, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

/* Seconds since anything authentic came from the peer: IKE or ESP. */
std::chrono::seconds IkeRole::Impl::idle(const Sa &sa)
{
	auto best = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - sa.last_rx);
	const auto now = boottime_ns();
	for (const auto &c : sa.children) {
		if (!c.installed)
			continue;
		try {
			const auto t = ntm::get_tunnel(genl, dev(), c.spi_in);
			if (t.last_rx_ns != 0 && t.last_rx_ns <= now)
				best = std::min(best, std::chrono::seconds((now - t.last_rx_ns) / 1000000000ULL));
		} catch (const std::exception &) {
			/* gone: the expiry event tells */
		}
	}
	return best;
}

void IkeRole::Impl::arm_dpd(const SaPtr &sa)
{
	const auto delay = sa->conn->dpd_delay;
	if (delay.count() == 0)
		return;
	sa->dpd.expires_after(delay);
	sa->dpd.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		auto s = w.lock();
		if (ec || !s || stopped || s->state != State::established)
			return;
		if (!s->inflight && s->queue.empty() && idle(*s) >= s->conn->dpd_delay) {
			spdlog::debug("ike: {}: dead peer detection", s->name());
			queue_request(s, {ike::Exchange::informational, {}, {}, {}});
		}
		arm_dpd(s);
	});
}

void IkeRole::Impl::arm_keepalive(const SaPtr &sa)
{
	if (icfg.nat_keepalive.count() == 0 || !sa->nat_local)
		return;
	sa->keepalive.expires_after(icfg.nat_keepalive);
	sa->keepalive.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
		auto s = w.lock();
		if (ec || !s || stopped || s->state != State::established)
			return;
		static constexpr std::array<std::uint8_t, 1> kKeepalive{0xff};
		Path p = s->path;
		p.natt = true;
		send_raw(p, kKeepalive, false);
		arm_keepalive(s);
	});
}

/* ---- MOBIKE (RFC 4555): our addresses changed ---- */

/* The source address routing picks towards peer now, or nothing. */
std::optional<ntm::IpAddress> IkeRole::Impl::route_source(const ntm::Endpoint &peer)
{
	/* connect() on a UDP socket sends nothing: it only asks routing */
	const ntm::UniqueFd fd(::socket(peer.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (!fd)
		return std::nullopt;
	const auto sa = peer.sockaddr_bytes();
	sockaddr_storage ss{};
	socklen_t len = sizeof(ss);
	// NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(sa.data()), static_cast<socklen_t>(sa.size())) != 0 ||
	    ::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
		return std::nullopt;
	// NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
	const auto ep = endpoint_from_sockaddr(&ss, len);
	return ep ? std::optional(ep->address()) : std::nullopt;
}

awaitable<void> IkeRole::Impl::addr_loop()
{
	std::vector<std::uint8_t> buf(16384);
	for (;;) {
		asio::error_code ec;
		co_await addrdesc.async_wait(asio::posix::descriptor_base::wait_read,
					     asio::redirect_error(use_awaitable, ec));
		if (ec || stopped)
			co_return;
		while (::recv(addrdesc.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
		}
		/* addresses and routes change in bursts: act once it settles */
		addr_settle.expires_after(std::chrono::milliseconds(500));
		addr_settle.async_wait([this](const asio::error_code &e) {
			if (!e && !stopped)
				addresses_changed();
		});
	}
}

void IkeRole::Impl::addresses_changed()
{
	for (const auto &[spi, sa] : sas) {
		if (!sa->mobike_initiator || !sa->peer_mobike || sa->state != State::established)
			continue;
		const auto src = route_source(sa->path.remote);
		if (!src || (sa->path.local.family() != AF_UNSPEC && *src == sa->path.local))
			continue;
		mobike_update(sa, *src);
	}
}

void IkeRole::Impl::mobike_update(const SaPtr &sa, const ntm::IpAddress &src)
{
	spdlog::info("ike: {}: our address is now {}: UPDATE_SA_ADDRESSES", sa->name(), src.to_string());
	sa->path.local = src;
	sa->path.natt = true;
	ike::Payloads pl;
	pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::update_sa_addresses), {}});
	add_nat_detection(*sa, pl, sa->path.remote);
	const Bytes cookie2 = ike::random_bytes(16);
	pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(ike::NotifyType::cookie2), cookie2});
	/* a request already on the wire goes out again from the new address */
	queue_request(sa, {ike::Exchange::informational, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa), cookie2](const ike::Header &, const ike::Payloads &r) {
				   auto s = w.lock();
				   if (!s)
					   return;
				   const auto *n = r.find(ike::NotifyType::cookie2);
				   if (n == nullptr || n->data != cookie2) {
					   spdlog::warn("ike: {}: UPDATE_SA_ADDRESSES answer without our COOKIE2", s->name());
					   return;
				   }
				   ctr.mobike_updates++;
				   spdlog::info("ike: {}: the peer follows us to {}", s->name(), s->path.local.to_string());
			   },
			   {}});
}

} // namespace ntmd
