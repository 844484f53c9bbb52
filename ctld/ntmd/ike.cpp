// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 role. One event loop, no threads: every IKE SA is an object in
 * sas_ (by local SPI), its exchanges driven by datagrams and asio timers.
 *
 * Message flow per IKE SA (RFC 7296 section 2.1-2.3): a window of one.
 * Requests we send are queued; the head is on the wire with a retransmit
 * timer until its response arrives. The response to the peer's last
 * request is kept and sent again, byte for byte, when that request is
 * retransmitted.
 *
 * ESP is always UDP-encapsulated: ntm.ko has no plain ESP. So ntmd sends a
 * NAT_DETECTION_SOURCE_IP that never matches (what strongSwan's encap=yes
 * does) and every peer believes we are behind a NAT, floats to port 4500
 * and sends ESP in UDP. Real NATs are still detected (our own
 * NAT_DETECTION_DESTINATION_IP check) and then we send keepalives.
 */
#include "ike_impl.hpp"
#include "events.hpp"

namespace ntmd {

std::shared_ptr<asio::steady_timer> IkeRole::Impl::loose_timer(std::chrono::milliseconds after)
{
	std::erase_if(loose, [](const auto &w) { return w.expired(); });
	auto t = std::make_shared<asio::steady_timer>(io, after);
	loose.push_back(t);
	return t;
}

IkeRole::Impl::Impl(asio::io_context &io_, const ntm::config::Config &c)
	: io(io_), cfg(c), icfg(*c.ike), evdesc(io_), addrdesc(io_), addr_settle(io_), resolver(io_)
{
	load_credentials();
	try {
		link = open_ntm_link(icfg.interface, "ike");
		/* the SAs of an earlier, killed run: their IKE SAs are gone (D80) */
		(void)clear_stale_state(genl, link, icfg.interface, "ike", false);
		ntm::set_link_up(link.ifindex);
		ntm::DeviceSettings s;
		s.flags = NTM_DEV_F_NO_ACQUIRE;
		ntm::set_device(genl, dev(), s);
		setup_sockets();
		watch_kernel_events(events, evdesc);
		watch_rtnetlink(addrdesc, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
						  RTMGRP_IPV6_ROUTE);
	} catch (...) {
		teardown();
		throw;
	}
}

/* ---- setup ---- */

void IkeRole::Impl::load_credentials()
{
	if (!icfg.ca.empty())
		anchors = ikecred::load_trust_anchors(icfg.ca);
	for (const auto &c : icfg.connections) {
		if (c.local_auth == ntm::config::IkeAuth::psk || c.remote_auth == ntm::config::IkeAuth::psk)
			psks.emplace(c.name, ikecred::load_psk(c.psk_file));
		if (c.local_auth == ntm::config::IkeAuth::pubkey) {
			const auto &cert = c.certificate.empty() ? icfg.certificate : c.certificate;
			const auto &key = c.private_key.empty() ? icfg.private_key : c.private_key;
			if (!identities.contains(cert))
				identities.emplace(cert, ikecred::load_identity(cert, key));
		}
		if (c.remote_auth == ntm::config::IkeAuth::pubkey && !anchors)
			throw ntm::Error("ike connection " + c.name + ": remote_auth pubkey needs [ike] ca", EINVAL);
	}
}

const ikecred::Identity *IkeRole::Impl::identity_of(const IkeConnection &c) const
{
	const auto &cert = c.certificate.empty() ? icfg.certificate : c.certificate;
	const auto it = identities.find(cert);
	return it == identities.end() ? nullptr : &it->second;
}

void IkeRole::Impl::open_sock(int family, std::uint16_t port, bool natt)
{
	auto sk = std::make_unique<Sock>(io);
	try {
		sk->s = open_asio_udp_socket(io, family, port);
	} catch (const ntm::Error &e) {
		if (family == AF_INET6 && e.code() == EAFNOSUPPORT) {
			spdlog::warn("ike: IPv6 is not available");
			return;
		}
		throw;
	}
	const int one = 1;
	const int fd = sk->s.native_handle();
	if (family == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			ntm::throw_errno("IP_PKTINFO");
	} else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0) {
		ntm::throw_errno("IPV6_RECVPKTINFO");
	}
	sk->family = family;
	sk->natt = natt;
	socks.push_back(std::move(sk));
}

void IkeRole::Impl::setup_sockets()
{
	open_sock(AF_INET, icfg.port, false);
	open_sock(AF_INET6, icfg.port, false);
	open_sock(AF_INET, icfg.natt_port, true);
	open_sock(AF_INET6, icfg.natt_port, true);
	ntm::DeviceSettings s;
	for (const auto &sk : socks)
		if (sk->natt)
			(sk->family == AF_INET ? s.udp4_fd : s.udp6_fd) = sk->s.native_handle();
	ntm::set_device(genl, dev(), s);
	attached = true;
}

void IkeRole::Impl::teardown() noexcept
{
	try {
		teardown_steps();
	} catch (...) { // NOLINT(bugprone-empty-catch): logging failed; nothing else in there throws
	}
}

void IkeRole::Impl::teardown_steps()
{
	asio::error_code ignored;
	for (auto &[spi, sa] : sas)
		sa->cancel_timers();
	for (const auto &w : loose)
		if (auto t = w.lock())
			t->cancel();
	loose.clear();
	sas.clear();
	half_open.clear();
	half_open_by_src.clear();
	resolver.cancel();
	if (attached) {
		try {
			ntm::DeviceSettings s;
			for (const auto &sk : socks)
				if (sk->natt)
					(sk->family == AF_INET ? s.udp4_fd : s.udp6_fd) = -1;
			ntm::set_device(genl, dev(), s);
		} catch (const std::exception &e) {
			spdlog::debug("ike: detach: {}", e.what());
		}
		attached = false;
	}
	for (auto &sk : socks)
		sk->s.close(ignored);
	evdesc.close(ignored);
	addrdesc.close(ignored);
	addr_settle.cancel();
	close_ntm_link(genl, link, icfg.interface, "ike");
}

void IkeRole::Impl::start()
{
	for (auto &sk : socks)
		asio::co_spawn(io, recv_loop(*sk), asio::detached);
	asio::co_spawn(
		io, kernel_event_loop(evdesc, events, stopped, [this](const ntm::Event &e) { on_event(e); }, "ike"),
		asio::detached);
	asio::co_spawn(io, addr_loop(), asio::detached);
	for (const auto &c : icfg.connections)
		if (c.start_action == ntm::config::IkeStart::start)
			try {
				(void)initiate_conn(c);
			} catch (const std::exception &e) {
				spdlog::error("ike: {}: cannot start: {}", c.name, e.what());
			}
}

void IkeRole::Impl::stop()
{
	stopped = true;
	teardown();
}

/* ---- transport ---- */

IkeRole::Impl::Sock *IkeRole::Impl::sock_for(int family, bool natt)
{
	for (auto &sk : socks)
		if (sk->family == family && sk->natt == natt)
			return sk.get();
	return nullptr;
}

void IkeRole::Impl::send_raw(const Path &p, ByteView msg, bool marker)
{
	Sock *sk = sock_for(p.remote.family(), p.natt);
	if (sk == nullptr || !sk->s.is_open())
		return;
	static constexpr std::array<std::uint8_t, 4> kMarker{};
	std::array<iovec, 2> iov{};
	std::size_t n = 0;
	if (marker)
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
		iov[n++] = {const_cast<std::uint8_t *>(kMarker.data()), kMarker.size()};
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
	iov[n++] = {const_cast<std::uint8_t *>(msg.data()), msg.size()};
	msghdr mh{};
	const auto sa = p.remote.sockaddr_bytes();
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
	mh.msg_name = const_cast<std::uint8_t *>(sa.data());
	mh.msg_namelen = static_cast<socklen_t>(sa.size());
	mh.msg_iov = iov.data();
	mh.msg_iovlen = n;
	alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(in6_pktinfo))> cbuf{};
	if (p.local.family() == p.remote.family()) {
		mh.msg_control = cbuf.data();
		cmsghdr *cm = nullptr;
		if (p.local.is_v4()) {
			mh.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
			in_pktinfo pi{};
			pi.ipi_spec_dst = p.local.to_in_addr();
			std::memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			mh.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
			in6_pktinfo pi{};
			pi.ipi6_addr = p.local.to_in6_addr();
			std::memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	if (::sendmsg(sk->s.native_handle(), &mh, MSG_DONTWAIT) < 0) {
		const int err = errno;
		/* the source address may be gone (MOBIKE): let routing pick one */
		if ((err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH) && mh.msg_control != nullptr) {
			mh.msg_control = nullptr;
			mh.msg_controllen = 0;
			if (::sendmsg(sk->s.native_handle(), &mh, MSG_DONTWAIT) >= 0) {
				ctr.tx++;
				return;
			}
		}
		spdlog::debug("ike: send to {}: {}", p.remote.to_string(), ntm::errno_string(errno));
		return;
	}
	ctr.tx++;
}

awaitable<void> IkeRole::Impl::recv_loop(Sock &sk)
{
	std::vector<std::uint8_t> buf(ike::kMaxMessage + ike::kNonEspMarkerLen);
	for (;;) {
		asio::error_code ec;
		co_await sk.s.async_wait(asio::ip::udp::socket::wait_read, asio::redirect_error(use_awaitable, ec));
		if (ec || stopped)
			co_return;
		for (int burst = 0; burst < 64; burst++) {
			sockaddr_storage from{};
			iovec iov{buf.data(), buf.size()};
			alignas(cmsghdr) std::array<std::uint8_t, 256> cbuf{};
			msghdr mh{};
			mh.msg_name = &from;
			mh.msg_namelen = sizeof(from);
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			mh.msg_control = cbuf.data();
			mh.msg_controllen = cbuf.size();
			const ssize_t n = ::recvmsg(sk.s.native_handle(), &mh, MSG_DONTWAIT);
			if (n < 0)
				break;
			if ((mh.msg_flags & MSG_TRUNC) != 0) {
				ctr.drop_malformed++;
				spdlog::debug("ike: a datagram longer than {} bytes: dropped", buf.size());
				continue;
			}
			ntm::IpAddress local;
			for (cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
				if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
					in_pktinfo pi{};
					std::memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
					local = ntm::IpAddress::v4(pi.ipi_addr);
				} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
					in6_pktinfo pi{};
					std::memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
					local = ntm::IpAddress::v6(pi.ipi6_addr);
				}
			}
			const auto remote = endpoint_from_sockaddr(&from, mh.msg_namelen);
			if (!remote) {
				ctr.drop_malformed++;
				spdlog::debug("ike: a datagram from an address family other than IPv4/IPv6: dropped");
				continue;
			}
			Path p{*remote, local, sk.natt};
			try {
				on_datagram(p, ByteView(buf.data(), static_cast<std::size_t>(n)));
			} catch (const std::exception &e) {
				/* a bug must not take the daemon down with it: log and count */
				ctr.drop_malformed++;
				spdlog::warn("ike: datagram from {}: {}", p.remote.to_string(), e.what());
			}
		}
	}
}

void IkeRole::Impl::on_datagram(const Path &p, ByteView d)
{
	ctr.rx++;
	if (p.natt) {
		if (d.size() == 1 && d[0] == 0xff)
			return; /* NAT keepalive (normally consumed by ntm.ko) */
		if (d.size() < ike::kNonEspMarkerLen || d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != 0) {
			ctr.drop_not_ike++; /* ESP for an SPI the module does not know */
			spdlog::debug("ike: from {}: {} bytes without the non-ESP marker (ESP for an unknown SPI?): dropped",
				      p.remote.to_string(), d.size());
			return;
		}
		d = d.subspan(ike::kNonEspMarkerLen);
	}
	ike::Header h;
	try {
		h = ike::parse_header(d);
	} catch (const ike::ParseError &e) {
		ctr.drop_malformed++;
		spdlog::debug("ike: from {}: {}", p.remote.to_string(), e.what());
		return;
	}
	if (h.exchange == ike::Exchange::ike_sa_init && !h.is_response() && h.spi_r == 0) {
		if (!h.from_initiator() || h.msgid != 0) {
			ctr.drop_malformed++;
			spdlog::debug("ike: IKE_SA_INIT request from {} without the I flag or with message ID {}: dropped",
				      p.remote.to_string(), h.msgid);
			return;
		}
		responder_init(p, h, d);
		return;
	}
	const std::uint64_t local = h.from_initiator() ? h.spi_r : h.spi_i;
	const auto it = sas.find(local);
	if (it == sas.end()) {
		ctr.drop_unknown_spi++;
		spdlog::debug("ike: {} from {}: unknown SPI {}", ike::exchange_name(static_cast<std::uint8_t>(h.exchange)),
			      p.remote.to_string(), hex_spi(local));
		return;
	}
	SaPtr sa = it->second;
	/* the I flag must say the sender is the other side of this SA */
	if (h.from_initiator() == sa->initiator || sa->resolving) {
		ctr.drop_malformed++;
		spdlog::debug("ike: {}: {} from {} with the I flag of our own side (or before IKE_SA_INIT): dropped",
			      sa->name(), ike::exchange_name(static_cast<std::uint8_t>(h.exchange)), p.remote.to_string());
		return;
	}
	if (h.is_response())
		on_response(sa, p, h, d);
	else
		on_request(sa, p, h, d);
}

/* ---- SA bookkeeping ---- */

std::uint64_t IkeRole::Impl::new_ike_spi() const
{
	for (;;) {
		const auto v = ike::random_u64();
		if (v != 0 && !sas.contains(v))
			return v;
	}
}

std::uint32_t IkeRole::Impl::new_esp_spi()
{
	for (;;) {
		const auto b = ike::random_bytes(4);
		const std::uint32_t v = ike::esp_spi_value(b).value_or(0);
		if (v >= NTM_ESP_SPI_MIN && !spis_in.contains(v)) {
			spis_in.insert(v);
			return v;
		}
	}
}

void IkeRole::Impl::erase_child(Sa &sa, std::uint32_t spi_in)
{
	for (auto it = sa.children.begin(); it != sa.children.end(); ++it)
		if (it->spi_in == spi_in) {
			emit_event("ike", "child_sa_down",
				   {{"name", sa.conn != nullptr ? sa.conn->name : std::string("?")},
				    {"ike_sa", sa.id},
				    {"spi_in", fmt::format("{:08x}", it->spi_in)},
				    {"spi_out", fmt::format("{:08x}", it->spi_out)}});
			remove_child_kernel(*it);
			sa.children.erase(it);
			return;
		}
}

/* Forgets the SA; with notify, tells the peer first (best effort, no wait). */
void IkeRole::Impl::destroy(const SaPtr &sa, bool notify)
{
	if (sa->state == State::dead)
		return;
	const bool was_established = sa->state == State::established;
	if (notify && sa->state == State::established && !sa->inflight) {
		ike::Payloads pl;
		pl.deletes.push_back({ike::Protocol::ike, {}});
		const auto h = header_for(*sa, ike::Exchange::informational, sa->next_msgid++, false);
		send_msg(sa->path, ike::encode_encrypted(h, pl, sa->send_key(), sa->iv++));
	}
	for (auto &c : sa->children)
		remove_child_kernel(c);
	sa->children.clear();
	sa->state = State::dead;
	sa->cancel_timers();
	sa->queue.clear();
	sa->inflight.reset();
	const auto it = sas.find(sa->local_spi());
	if (it != sas.end() && it->second == sa)
		sas.erase(it);
	forget_half_open(sa);
	spdlog::info("ike: {}: IKE SA {}_i {}_r gone", sa->name(), hex_spi(sa->spi_i), hex_spi(sa->spi_r));
	if (was_established)
		emit_event("ike", "ike_sa_down",
			   {{"name", sa->conn != nullptr ? sa->conn->name : std::string("?")},
			    {"id", sa->id},
			    {"remote", sa->path.remote.to_string()}});
}

/* ---- ntmctl ---- */

std::string IkeRole::Impl::state_name(State s)
{
	switch (s) {
	case State::init_sent:
		return "connecting";
	case State::init_done:
		return "half-open";
	case State::auth_sent:
		return "authenticating";
	case State::established:
		return "established";
	case State::rekeyed:
		return "rekeyed";
	case State::deleting:
		return "deleting";
	case State::dead:
		return "dead";
	}
	return "?";
}

std::int64_t IkeRole::Impl::age(Clock::time_point t)
{
	return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t).count();
}

nlohmann::json IkeRole::Impl::child_json(const Child &c)
{
	nlohmann::json j = {{"id", c.id},
			    {"spi_in", fmt::format("{:08x}", c.spi_in)},
			    {"spi_out", fmt::format("{:08x}", c.spi_out)},
			    {"encr", suite_name(c.suite, false)},
			    {"esn", c.suite.esn},
			    {"age_s", age(c.created)},
			    {"state", c.deleting ? "deleting" : c.rekeyed ? "rekeyed" : c.rekeying ? "rekeying" : "installed"}};
	nlohmann::json l = nlohmann::json::array();
	nlohmann::json r = nlohmann::json::array();
	for (const auto &t : c.ts_local)
		l.push_back(t.to_string());
	for (const auto &t : c.ts_remote)
		r.push_back(t.to_string());
	j["local_ts"] = l;
	j["remote_ts"] = r;
	if (c.installed) {
		try {
			const auto t = ntm::get_tunnel(genl, dev(), c.spi_in);
			j["rx_packets"] = t.stats.get(NTM_STAT_A_RX_PACKETS);
			j["rx_bytes"] = t.stats.get(NTM_STAT_A_RX_BYTES);
			j["tx_packets"] = t.stats.get(NTM_STAT_A_TX_PACKETS);
			j["tx_bytes"] = t.stats.get(NTM_STAT_A_TX_BYTES);
			j["drops"] = t.stats.drops();
		} catch (const std::exception &) {
			j["installed"] = false;
		}
	}
	return j;
}

nlohmann::json IkeRole::Impl::list()
{
	nlohmann::json arr = nlohmann::json::array();
	for (const auto &[spi, sa] : sas) {
		nlohmann::json j = {{"id", sa->id},
				    {"connection", sa->conn != nullptr ? sa->conn->name : ""},
				    {"state", sa->resolving ? std::string("resolving") : state_name(sa->state)},
				    {"initiator", sa->initiator},
				    {"spi_i", hex_spi(sa->spi_i)},
				    {"spi_r", hex_spi(sa->spi_r)},
				    {"local", sa->path.local.family() != AF_UNSPEC ? sa->path.local.to_string() : ""},
				    {"remote", sa->path.remote.to_string()},
				    {"local_id", sa->local_id.data.empty() ? "" : sa->local_id.to_string()},
				    {"remote_id", sa->remote_id.data.empty() ? "" : sa->remote_id.to_string()},
				    {"nat_local", sa->nat_local},
				    {"nat_remote", sa->nat_remote},
				    {"mobike", sa->peer_mobike},
				    {"age_s", age(sa->created)}};
		if (sa->state == State::established || sa->state == State::rekeyed) {
			j["encr"] = suite_name(sa->suite, true);
			j["established_s"] = age(sa->established_at);
			if (sa->conn != nullptr && sa->conn->rekey_time.count() > 0)
				j["rekey_time_s"] = sa->conn->rekey_time.count();
		}
		nlohmann::json ch = nlohmann::json::array();
		for (const auto &c : sa->children)
			ch.push_back(child_json(c));
		j["children"] = ch;
		arr.push_back(j);
	}
	nlohmann::json failed = nlohmann::json::array();
	for (const auto &[id, why] : failures)
		failed.push_back({{"id", id}, {"error", why}});
	return {{"ok", true}, {"sas", arr}, {"failed", failed}};
}

nlohmann::json IkeRole::Impl::status() const
{
	std::size_t established_n = 0;
	std::size_t children = 0;
	for (const auto &[spi, sa] : sas) {
		if (sa->state == State::established)
			established_n++;
		children += sa->children.size();
	}
	return {{"interface", icfg.interface},
		{"ike_sas", sas.size()},
		{"established", established_n},
		{"half_open", half_open.size()},
		{"child_sas", children},
		{"counters",
		 {{"rx", ctr.rx},
		  {"tx", ctr.tx},
		  {"retransmits", ctr.retransmits},
		  {"responses_resent", ctr.responses_resent},
		  {"drop_malformed", ctr.drop_malformed},
		  {"drop_unknown_spi", ctr.drop_unknown_spi},
		  {"drop_icv", ctr.drop_icv},
		  {"drop_msgid", ctr.drop_msgid},
		  {"drop_not_resent", ctr.drop_not_resent},
		  {"drop_unauth", ctr.drop_unauth},
		  {"drop_half_open", ctr.drop_half_open},
		  {"drop_half_open_source", ctr.drop_half_open_source},
		  {"drop_not_ike", ctr.drop_not_ike},
		  {"cookies_sent", ctr.cookies_sent},
		  {"cookies_bad", ctr.cookies_bad},
		  {"ike_established", ctr.ike_established},
		  {"ike_failed", ctr.ike_failed},
		  {"auth_failed", ctr.auth_failed},
		  {"child_installed", ctr.child_installed},
		  {"child_rekeyed", ctr.child_rekeyed},
		  {"ike_rekeyed", ctr.ike_rekeyed},
		  {"dead_peers", ctr.dead_peers},
		  {"mobike_updates", ctr.mobike_updates}}}};
}

const IkeConnection *IkeRole::Impl::find_conn(const std::string &name) const
{
	for (const auto &c : icfg.connections)
		if (c.name == name)
			return &c;
	return nullptr;
}

nlohmann::json IkeRole::Impl::initiate(const std::string &name)
{
	const auto *c = find_conn(name);
	if (c == nullptr)
		return {{"ok", false}, {"error", "no connection '" + name + "'"}};
	try {
		const auto sa = initiate_conn(*c);
		return {{"ok", true}, {"id", sa->id}};
	} catch (const std::exception &e) {
		return {{"ok", false}, {"error", e.what()}};
	}
}

void IkeRole::Impl::delete_ike(const SaPtr &sa)
{
	if (sa->state != State::established) {
		destroy(sa, false);
		return;
	}
	sa->state = State::deleting;
	ike::Payloads pl;
	pl.deletes.push_back({ike::Protocol::ike, {}});
	queue_request(sa, {ike::Exchange::informational, std::move(pl),
			   [this, w = std::weak_ptr<Sa>(sa)](const ike::Header &, const ike::Payloads &) {
				   if (auto s = w.lock())
					   destroy(s, false);
			   },
			   {}});
}

/* The SAs "what" names: a connection, or "#ID"; error text in err. */
std::vector<IkeRole::Impl::SaPtr> IkeRole::Impl::select(const std::string &what, std::string &err) const
{
	std::vector<SaPtr> out;
	std::uint64_t id = 0;
	const bool by_id = what.size() > 1 && what[0] == '#';
	if (by_id) {
		try {
			id = std::stoull(what.substr(1));
		} catch (const std::exception &) {
			err = "'" + what + "' is not #NUMBER";
			return out;
		}
	} else if (find_conn(what) == nullptr) {
		err = "no connection '" + what + "'";
		return out;
	}
	for (const auto &[spi, sa] : sas)
		if (by_id ? sa->id == id : (sa->conn != nullptr && sa->conn->name == what))
			out.push_back(sa);
	if (out.empty())
		err = "no IKE SA matches '" + what + "'";
	return out;
}

nlohmann::json IkeRole::Impl::rekey(const std::string &what, bool child)
{
	std::string err;
	const auto sel = select(what, err);
	if (sel.empty())
		return {{"ok", false}, {"error", err}};
	std::size_t n = 0;
	for (const auto &sa : sel) {
		if (sa->state != State::established)
			continue;
		if (child) {
			std::vector<std::uint32_t> spis;
			for (const auto &c : sa->children)
				if (!c.rekeyed && !c.deleting)
					spis.push_back(c.spi_in);
			for (auto spi : spis)
				rekey_child(sa, spi);
			n += spis.size();
		} else {
			rekey_ike(sa);
			n++;
		}
	}
	return {{"ok", true}, {"rekeying", n}};
}

nlohmann::json IkeRole::Impl::terminate(const std::string &what)
{
	std::vector<SaPtr> victims;
	std::uint64_t id = 0;
	const bool by_id = what.size() > 1 && what[0] == '#';
	if (by_id) {
		try {
			id = std::stoull(what.substr(1));
		} catch (const std::exception &) {
			return {{"ok", false}, {"error", "'" + what + "' is not #NUMBER"}};
		}
	} else if (find_conn(what) == nullptr) {
		return {{"ok", false}, {"error", "no connection '" + what + "'"}};
	}
	for (const auto &[spi, sa] : sas)
		if (by_id ? sa->id == id : (sa->conn != nullptr && sa->conn->name == what))
			victims.push_back(sa);
	if (victims.empty())
		return {{"ok", false}, {"error", "no IKE SA matches '" + what + "'"}};
	for (const auto &sa : victims)
		delete_ike(sa);
	return {{"ok", true}, {"terminated", victims.size()}};
}

void IkeRole::Impl::shutdown_gracefully()
{
	std::vector<SaPtr> all;
	for (const auto &[spi, sa] : sas)
		all.push_back(sa);
	for (const auto &sa : all)
		destroy(sa, true);
}

IkeRole::IkeRole(asio::io_context &io, const ntm::config::Config &cfg) : impl_(std::make_unique<Impl>(io, cfg)) {}
IkeRole::~IkeRole() = default;
void IkeRole::start()
{
	impl_->start();
}
void IkeRole::stop()
{
	impl_->stop();
}
void IkeRole::shutdown_gracefully()
{
	impl_->shutdown_gracefully();
}
nlohmann::json IkeRole::status() const
{
	return impl_->status();
}
nlohmann::json IkeRole::list() const
{
	return impl_->list();
}
nlohmann::json IkeRole::initiate(const std::string &connection)
{
	return impl_->initiate(connection);
}
nlohmann::json IkeRole::terminate(const std::string &what)
{
	return impl_->terminate(what);
}
nlohmann::json IkeRole::rekey(const std::string &what, bool child)
{
	return impl_->rekey(what, child);
}

} // namespace ntmd
