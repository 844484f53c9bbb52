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
#include "ike.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <unistd.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <linux/ntm.h>

#include "ike_cred.hpp"
#include "ike_select.hpp"
#include "kdev.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/genl.hpp"
#include "ntm/handle.hpp"
#include "ntm/ike.hpp"
#include "ntm/ike_cookie.hpp"
#include "ntm/ike_crypto.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "udp.hpp"

namespace ntmd {

namespace {

namespace ike = ntm::ike;
using ike::Bytes;
using ike::ByteView;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;
using ntm::config::IkeConnection;

constexpr std::size_t kNonceLen = 32;
constexpr auto kHalfOpenTimeout = std::chrono::seconds(30);
constexpr unsigned kMaxInitRetries = 3; /* COOKIE and INVALID_KE_PAYLOAD rounds */

/* ---- small helpers ---- */

Bytes be16(std::uint16_t v)
{
	return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::string hex_spi(std::uint64_t v)
{
	return fmt::format("{:016x}", v);
}

/* A sockaddr from the kernel (recvmsg, getaddrinfo, getsockname) as an endpoint. */
std::optional<ntm::Endpoint> endpoint_from_sockaddr(const void *sa, socklen_t len)
{
	return ntm::Endpoint::from_sockaddr({static_cast<const std::uint8_t *>(sa), len});
}

ike::Identity to_identity(const ntm::config::IkeId &id)
{
	ike::Identity r;
	r.type = static_cast<ike::IdType>(id.type);
	r.data = id.data;
	return r;
}

/* SHA-256 of a message: a retransmission must be the request we answered, byte for byte */
std::array<std::uint8_t, 32> message_digest(ike::ByteView d)
{
	std::array<std::uint8_t, 32> md{};
	unsigned int len = 0;
	if (EVP_Digest(d.data(), d.size(), md.data(), &len, EVP_sha256(), nullptr) != 1 || len != md.size())
		throw ntm::Error("SHA-256 failed");
	return md;
}

ike::Identity address_identity(const ntm::IpAddress &a)
{
	ike::Identity r;
	r.type = a.is_v4() ? ike::IdType::ipv4_addr : ike::IdType::ipv6_addr;
	r.data.assign(a.bytes().begin(), a.bytes().end());
	return r;
}

} // namespace

/* ------------------------------------------------------------------------ */

struct IkeRole::Impl {
	struct Counters {
		std::uint64_t rx = 0;
		std::uint64_t tx = 0;
		std::uint64_t retransmits = 0;
		std::uint64_t responses_resent = 0;
		std::uint64_t drop_malformed = 0;
		std::uint64_t drop_unknown_spi = 0;
		std::uint64_t drop_icv = 0;
		std::uint64_t drop_msgid = 0;
		std::uint64_t drop_not_resent = 0; /* the last message ID again, but not the request we answered */
		std::uint64_t drop_unauth = 0;	   /* a request other than IKE_AUTH before the peer authenticated */
		std::uint64_t drop_half_open = 0;	   /* half_open_max reached */
		std::uint64_t drop_half_open_source = 0; /* half_open_per_source reached by the sender's address */
		std::uint64_t drop_not_ike = 0;
		std::uint64_t cookies_sent = 0;
		std::uint64_t cookies_bad = 0;
		std::uint64_t ike_established = 0;
		std::uint64_t ike_failed = 0;
		std::uint64_t auth_failed = 0;
		std::uint64_t child_installed = 0;
		std::uint64_t child_rekeyed = 0;
		std::uint64_t ike_rekeyed = 0;
		std::uint64_t dead_peers = 0;
		std::uint64_t mobike_updates = 0;
	};

	/** Where an IKE SA talks: peer endpoint, our address, and whether over 4500 with the marker. */
	struct Path {
		ntm::Endpoint remote;
		ntm::IpAddress local; /* unset: let routing choose */
		bool natt = false;
	};

	struct Child {
		std::uint64_t id = 0;
		std::uint32_t spi_in = 0;
		std::uint32_t spi_out = 0;
		Chosen suite;
		std::vector<ike::TrafficSelector> ts_local;
		std::vector<ike::TrafficSelector> ts_remote;
		Clock::time_point created = Clock::now();
		Clock::time_point rekey_at{}; /* planned at install; kept across an IKE rekey */
		bool installed = false;
		bool rekeying = false; /* our CREATE_CHILD_SA for it is outstanding */
		bool rekeyed = false;  /* replaced; waiting for its Delete */
		bool deleting = false; /* our Delete is outstanding */
		/* a collision: the peer rekeyed it while our rekey was outstanding */
		std::optional<Bytes> peer_rekey_min_nonce;
		std::optional<std::uint32_t> peer_rekey_new_spi_in;
	};

	enum class State { init_sent, init_done, auth_sent, established, rekeyed, deleting, dead };

	struct Request {
		ike::Exchange exchange;
		ike::Payloads payloads;
		std::function<void(const ike::Header &, const ike::Payloads &)> on_response;
		std::function<void()> on_timeout; /* before the SA is declared dead; may be empty */
	};

	struct Sa : std::enable_shared_from_this<Sa> {
		Sa(asio::io_context &io) : retransmit(io), dpd(io), rekey(io), keepalive(io), expire(io) {}

		std::uint64_t id = 0;
		bool initiator = false; /* original initiator of this IKE SA (the I flag) */
		/* started the first IKE SA of the chain: MOBIKE's initiator (RFC 4555), kept across rekeys */
		bool mobike_initiator = false;
		const IkeConnection *conn = nullptr;
		std::vector<const IkeConnection *> candidates; /* responder before IKE_AUTH */
		State state = State::init_sent;
		std::uint64_t spi_i = 0;
		std::uint64_t spi_r = 0;
		Path path;
		Chosen suite;
		std::optional<ike::DhKey> dh;
		Bytes ni, nr;
		Bytes init_req, init_resp; /* as sent, without marker */
		Bytes cookie;
		unsigned init_rounds = 0;
		std::string half_open_src; /* responder: the address its half-open entry counts against */
		bool resolving = false;	   /* initiator: remote_addrs is a name being looked up (D66) */
		ike::IkeKeys keys;
		ike::Identity local_id, remote_id;
		bool nat_local = false;	 /* a real NAT in front of us */
		bool nat_remote = false; /* the peer is behind a NAT (or fakes it) */
		bool peer_mobike = false;
		bool initial_contact = false;
		std::uint64_t iv = 1;
		Clock::time_point created = Clock::now();
		Clock::time_point established_at{};
		Clock::time_point last_rx = Clock::now();

		/* requests (window of one) */
		std::uint32_t next_msgid = 0;
		std::deque<Request> queue;
		std::optional<Request> inflight;
		Bytes inflight_wire;
		std::uint32_t inflight_msgid = 0;
		unsigned tries = 0;

		/* responses */
		std::uint32_t expect_msgid = 0;
		Bytes last_response;
		bool have_last_response = false;
		std::array<std::uint8_t, 32> last_request_digest{}; /* of the request last_response answers */
		Path last_response_path;			   /* where it went */

		bool ike_rekeying = false;
		std::vector<Child> children;

		asio::steady_timer retransmit;
		asio::steady_timer dpd;
		asio::steady_timer rekey;
		asio::steady_timer keepalive;
		asio::steady_timer expire;

		[[nodiscard]] std::uint64_t local_spi() const noexcept { return initiator ? spi_i : spi_r; }
		[[nodiscard]] const ike::SkKey &send_key() const noexcept { return initiator ? keys.sk_ei : keys.sk_er; }
		[[nodiscard]] const ike::SkKey &recv_key() const noexcept { return initiator ? keys.sk_er : keys.sk_ei; }
		[[nodiscard]] std::string name() const
		{
			return (conn != nullptr ? conn->name : std::string("?")) + "[" + std::to_string(id) + "]";
		}
		Child *child_by_in(std::uint32_t spi)
		{
			for (auto &c : children)
				if (c.spi_in == spi)
					return &c;
			return nullptr;
		}
		Child *child_by_out(std::uint32_t spi)
		{
			for (auto &c : children)
				if (c.spi_out == spi)
					return &c;
			return nullptr;
		}
		void cancel_timers()
		{
			retransmit.cancel();
			dpd.cancel();
			rekey.cancel();
			keepalive.cancel();
			expire.cancel();
		}
	};
	using SaPtr = std::shared_ptr<Sa>;

	struct Sock {
		explicit Sock(asio::io_context &io) : s(io) {}
		asio::ip::udp::socket s;
		int family = AF_INET;
		bool natt = false;
	};

	asio::io_context &io;
	const ntm::config::Config &cfg;
	const ntm::config::Ike &icfg;
	Counters ctr;
	ntm::GenlSocket genl;
	ntm::GenlSocket events;
	asio::posix::stream_descriptor evdesc;
	asio::posix::stream_descriptor addrdesc;
	asio::steady_timer addr_settle;
	NtmLink link;
	bool attached = false;
	bool stopped = false;
	std::vector<std::unique_ptr<Sock>> socks;
	std::map<std::uint64_t, SaPtr> sas; /* by local SPI */
	std::map<std::pair<std::uint64_t, std::string>, SaPtr> half_open; /* responder: (SPIi, peer) */
	std::map<std::string, unsigned> half_open_by_src;		   /* half_open entries per peer address */
	asio::ip::udp::resolver resolver; /* getaddrinfo() on asio's own thread, never on the loop (D66) */
	std::set<std::uint32_t> spis_in;
	std::uint64_t next_id = 1;
	std::uint64_t next_child_id = 1;
	ike::CookieJar cookies{Clock::now()};
	std::map<std::string, ntm::SecretBytes> psks; /* by connection */
	std::optional<ikecred::TrustAnchors> anchors;
	std::map<std::string, ikecred::Identity> identities; /* by cert path */
	std::set<std::string> routes_installed;
	std::mt19937_64 jitter{std::random_device{}()};
	/* one-shot timers not owned by an SA (rekey, retry); cancelled on stop */
	std::vector<std::weak_ptr<asio::steady_timer>> loose;

	std::shared_ptr<asio::steady_timer> loose_timer(std::chrono::milliseconds after)
	{
		std::erase_if(loose, [](const auto &w) { return w.expired(); });
		auto t = std::make_shared<asio::steady_timer>(io, after);
		loose.push_back(t);
		return t;
	}

	Impl(asio::io_context &io_, const ntm::config::Config &c)
		: io(io_), cfg(c), icfg(*c.ike), evdesc(io_), addrdesc(io_), addr_settle(io_), resolver(io_)
	{
		load_credentials();
		try {
			link = open_ntm_link(icfg.interface, "ike");
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
	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() { teardown(); }

	/* ---- setup ---- */

	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(link.ifindex); }

	void load_credentials()
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

	const ikecred::Identity *identity_of(const IkeConnection &c) const
	{
		const auto &cert = c.certificate.empty() ? icfg.certificate : c.certificate;
		const auto it = identities.find(cert);
		return it == identities.end() ? nullptr : &it->second;
	}


	void open_sock(int family, std::uint16_t port, bool natt)
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

	void setup_sockets()
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

	void teardown() noexcept
	{
		try {
			teardown_steps();
		} catch (...) { // NOLINT(bugprone-empty-catch): logging failed; nothing else in there throws
		}
	}

	void teardown_steps()
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

	void start()
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

	void stop()
	{
		stopped = true;
		teardown();
	}

	/* ---- transport ---- */

	Sock *sock_for(int family, bool natt)
	{
		for (auto &sk : socks)
			if (sk->family == family && sk->natt == natt)
				return sk.get();
		return nullptr;
	}

	void send_raw(const Path &p, ByteView msg, bool marker)
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

	void send_msg(const Path &p, ByteView msg) { send_raw(p, msg, p.natt); }

	awaitable<void> recv_loop(Sock &sk)
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

	void on_datagram(const Path &p, ByteView d)
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

	/* ---- requests we send: window of one, retransmission with back-off ---- */

	ike::Header header_for(const Sa &sa, ike::Exchange ex, std::uint32_t msgid, bool response) const
	{
		ike::Header h;
		h.spi_i = sa.spi_i;
		h.spi_r = sa.spi_r;
		h.exchange = ex;
		h.msgid = msgid;
		h.flags = static_cast<std::uint8_t>((sa.initiator ? ike::kFlagInitiator : 0) |
						    (response ? ike::kFlagResponse : 0));
		return h;
	}

	void queue_request(const SaPtr &sa, Request r)
	{
		if (sa->state == State::dead)
			return;
		sa->queue.push_back(std::move(r));
		pump(sa);
	}

	void pump(const SaPtr &sa)
	{
		if (sa->inflight || sa->queue.empty() || sa->state == State::dead)
			return;
		sa->inflight = std::move(sa->queue.front());
		sa->queue.pop_front();
		sa->inflight_msgid = sa->next_msgid++;
		const auto h = header_for(*sa, sa->inflight->exchange, sa->inflight_msgid, false);
		sa->inflight_wire = ike::encode_encrypted(h, sa->inflight->payloads, sa->send_key(), sa->iv++);
		sa->tries = 0;
		send_msg(sa->path, sa->inflight_wire);
		arm_retransmit(sa);
	}

	std::chrono::milliseconds backoff(unsigned tries) const
	{
		auto ms = static_cast<double>(icfg.retransmit_timeout.count());
		for (unsigned i = 0; i < tries; i++)
			ms *= icfg.retransmit_base;
		return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
	}

	void arm_retransmit(const SaPtr &sa)
	{
		sa->retransmit.expires_after(backoff(sa->tries));
		sa->retransmit.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
			auto s = w.lock();
			if (ec || !s || stopped || s->state == State::dead)
				return;
			on_retransmit(s);
		});
	}

	void on_retransmit(const SaPtr &sa)
	{
		const bool init = sa->state == State::init_sent;
		if (!init && !sa->inflight)
			return;
		if (++sa->tries > icfg.retransmit_tries) {
			ctr.dead_peers++;
			spdlog::warn("ike: {}: no answer from {} after {} retransmissions: peer is dead", sa->name(),
				     sa->path.remote.to_string(), icfg.retransmit_tries);
			destroy(sa, false);
			return;
		}
		ctr.retransmits++;
		spdlog::debug("ike: {}: retransmission {} to {}", sa->name(), sa->tries, sa->path.remote.to_string());
		if (init)
			send_msg(sa->path, sa->init_req);
		else
			send_msg(sa->path, sa->inflight_wire);
		arm_retransmit(sa);
	}

	/* The response to the head request: decrypt, check, hand to its handler. */
	void on_response(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d)
	{
		if (h.exchange == ike::Exchange::ike_sa_init) {
			if (sa->state != State::init_sent || h.msgid != 0) {
				ctr.drop_msgid++;
				spdlog::debug("ike: {}: IKE_SA_INIT response (message ID {}) not expected now: dropped", sa->name(),
					      h.msgid);
				return;
			}
			ike::Header hh;
			ike::Payloads pl;
			try {
				pl = ike::parse_plain(d, hh);
			} catch (const ike::ParseError &e) {
				ctr.drop_malformed++;
				spdlog::debug("ike: {}: IKE_SA_INIT response: {}", sa->name(), e.what());
				return;
			}
			on_init_response(sa, p, hh, pl, d);
			return;
		}
		if (!sa->inflight || h.msgid != sa->inflight_msgid) {
			ctr.drop_msgid++;
			spdlog::debug("ike: {}: response with message ID {}, {}: dropped", sa->name(), h.msgid,
				      sa->inflight ? "expected " + std::to_string(sa->inflight_msgid) : std::string("none pending"));
			return;
		}
		ike::Header hh;
		ike::Payloads pl;
		try {
			pl = ike::parse_encrypted(d, sa->recv_key(), hh);
		} catch (const ike::ParseError &e) {
			if (e.notify())
				ctr.drop_malformed++;
			else
				ctr.drop_icv++;
			spdlog::debug("ike: {}: response {}: {}", sa->name(), h.msgid, e.what());
			return;
		}
		if (hh.exchange != sa->inflight->exchange) {
			ctr.drop_malformed++;
			spdlog::debug("ike: {}: response {} is {}, the request was {}: dropped", sa->name(), h.msgid,
				      ike::exchange_name(static_cast<std::uint8_t>(hh.exchange)),
				      ike::exchange_name(static_cast<std::uint8_t>(sa->inflight->exchange)));
			return;
		}
		sa->retransmit.cancel();
		sa->last_rx = Clock::now();
		auto req = std::move(*sa->inflight);
		sa->inflight.reset();
		sa->inflight_wire.clear();
		if (req.on_response)
			req.on_response(hh, pl);
		pump(sa);
	}

	/* A request from the peer: retransmission, order, decryption, dispatch, cached answer. */
	void on_request(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d)
	{
		if (sa->state == State::init_sent || sa->state == State::dead) {
			ctr.drop_msgid++;
			spdlog::debug("ike: {}: request {} before our IKE_SA_INIT completed: dropped", sa->name(), h.msgid);
			return;
		}
		if (sa->have_last_response && h.msgid + 1 == sa->expect_msgid) {
			/*
			 * A retransmission gets the same answer, never a second execution,
			 * and only if it is byte for byte the request we answered, and only
			 * where that answer went: a copy from elsewhere or a forged header
			 * must not make us send kilobytes to a victim (decisions.rst D56).
			 */
			if (message_digest(d) != sa->last_request_digest) {
				ctr.drop_not_resent++;
				spdlog::debug("ike: {}: request {} from {} repeats the message ID but not the request: dropped",
					      sa->name(), h.msgid, p.remote.to_string());
				return;
			}
			ctr.responses_resent++;
			send_msg(sa->last_response_path, sa->last_response);
			return;
		}
		if (h.msgid != sa->expect_msgid) {
			ctr.drop_msgid++;
			spdlog::debug("ike: {}: request with message ID {}, expected {}: dropped", sa->name(), h.msgid,
				      sa->expect_msgid);
			return;
		}
		/* before the peer authenticated (IKE_AUTH), IKE_AUTH is the only request there is */
		const bool authenticated = sa->state == State::established || sa->state == State::rekeyed ||
					   sa->state == State::deleting;
		if (!authenticated && h.exchange != ike::Exchange::ike_auth) {
			ctr.drop_unauth++;
			spdlog::debug("ike: {}: {} request before IKE_AUTH from {}: dropped", sa->name(),
				      ike::exchange_name(static_cast<std::uint8_t>(h.exchange)), p.remote.to_string());
			return;
		}
		ike::Header hh;
		ike::Payloads pl;
		try {
			pl = ike::parse_encrypted(d, sa->recv_key(), hh);
		} catch (const ike::ParseError &e) {
			if (!e.notify()) {
				ctr.drop_icv++;
				spdlog::debug("ike: {}: request {}: {}", sa->name(), h.msgid, e.what());
				return;
			}
			/* authentic but malformed: answer with the notify (RFC 7296 section 2.21.2) */
			ctr.drop_malformed++;
			ike::Payloads err;
			err.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(*e.notify()), e.notify_data()});
			answer(sa, p, h, d, err);
			return;
		}
		sa->last_rx = Clock::now();
		ike::Payloads resp;
		bool destroy_after = false;
		switch (hh.exchange) {
		case ike::Exchange::ike_auth:
			if (sa->initiator || sa->state != State::init_done) {
				ctr.drop_malformed++;
				spdlog::debug("ike: {}: IKE_AUTH request in state {}: dropped", sa->name(), state_name(sa->state));
				return;
			}
			destroy_after = !responder_auth(sa, p, pl, resp);
			break;
		case ike::Exchange::create_child_sa:
			if (sa->state != State::established && sa->state != State::rekeyed) {
				resp.notifies.push_back({ike::Protocol::none, {},
							 static_cast<std::uint16_t>(ike::NotifyType::temporary_failure), {}});
				break;
			}
			on_create_child(sa, pl, resp);
			break;
		case ike::Exchange::informational:
			destroy_after = on_informational(sa, p, pl, resp);
			break;
		default:
			ctr.drop_malformed++;
			spdlog::debug("ike: {}: request {} of exchange type {}: dropped", sa->name(), h.msgid,
				      ike::exchange_name(static_cast<std::uint8_t>(hh.exchange)));
			return;
		}
		answer(sa, p, h, d, resp);
		if (destroy_after)
			destroy(sa, false);
	}

	void answer(const SaPtr &sa, const Path &p, const ike::Header &req, ByteView raw, const ike::Payloads &resp)
	{
		const auto h = header_for(*sa, req.exchange, req.msgid, true);
		sa->last_response = ike::encode_encrypted(h, resp, sa->send_key(), sa->iv++);
		sa->have_last_response = true;
		sa->last_request_digest = message_digest(raw);
		sa->last_response_path = p;
		sa->expect_msgid = req.msgid + 1;
		send_msg(p, sa->last_response);
	}

	/* ---- SA bookkeeping ---- */

	[[nodiscard]] std::uint64_t new_ike_spi() const
	{
		for (;;) {
			const auto v = ike::random_u64();
			if (v != 0 && !sas.contains(v))
				return v;
		}
	}

	std::uint32_t new_esp_spi()
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

	void remove_child_kernel(Child &c)
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

	void erase_child(Sa &sa, std::uint32_t spi_in)
	{
		for (auto it = sa.children.begin(); it != sa.children.end(); ++it)
			if (it->spi_in == spi_in) {
				remove_child_kernel(*it);
				sa.children.erase(it);
				return;
			}
	}

	/* Forgets the SA; with notify, tells the peer first (best effort, no wait). */
	void destroy(const SaPtr &sa, bool notify)
	{
		if (sa->state == State::dead)
			return;
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
	}

	/* ---- initiator: IKE_SA_INIT ---- */

	/* remote_addrs' first entry when it is an address (no lookup, never blocks) */
	static std::optional<ntm::Endpoint> numeric_remote(const IkeConnection &c)
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
	SaPtr initiate_conn(const IkeConnection &c)
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
						       destroy(s, false);
						       return;
					       }
					       start_initiator(s, {*addr, s->conn->remote_port});
				       });
		return sa;
	}

	void start_initiator(const SaPtr &sa, const ntm::Endpoint &remote)
	{
		sa->path.remote = remote;
		sa->path.natt = sa->conn->remote_port != icfg.port;
		sa->local_id = local_identity(*sa->conn, sa->path);
		spdlog::info("ike: {}: initiating to {}", sa->name(), sa->path.remote.to_string());
		send_init(sa);
	}

	ike::Identity local_identity(const IkeConnection &c, const Path &p) const
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

	void add_nat_detection(const Sa &sa, ike::Payloads &pl, const ntm::Endpoint &peer) const
	{
		/* source: never matches, so the peer always encapsulates ESP in UDP */
		pl.notifies.push_back({ike::Protocol::none, {},
				       static_cast<std::uint16_t>(ike::NotifyType::nat_detection_source_ip),
				       ike::random_bytes(20)});
		pl.notifies.push_back({ike::Protocol::none, {},
				       static_cast<std::uint16_t>(ike::NotifyType::nat_detection_destination_ip),
				       ike::nat_detection_hash(sa.spi_i, sa.spi_r, peer)});
	}

	static void add_sig_hash_algorithms(ike::Payloads &pl)
	{
		Bytes d;
		for (auto a : {ike::HashAlg::sha2_256, ike::HashAlg::sha2_384, ike::HashAlg::sha2_512, ike::HashAlg::identity}) {
			const auto b = be16(static_cast<std::uint16_t>(a));
			d.insert(d.end(), b.begin(), b.end());
		}
		pl.notifies.push_back({ike::Protocol::none, {},
				       static_cast<std::uint16_t>(ike::NotifyType::signature_hash_algorithms), d});
	}

	void send_init(const SaPtr &sa)
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

	void fail(const SaPtr &sa, const std::string &why)
	{
		ctr.ike_failed++;
		spdlog::warn("ike: {}: {}", sa->name(), why);
		destroy(sa, false);
	}

	void on_init_response(const SaPtr &sa, const Path &p, const ike::Header &h, const ike::Payloads &pl, ByteView raw)
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
	void detect_nat(Sa &sa, const ike::Payloads &pl, const Path &p) const
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

	/* ---- authentication ---- */

	/* AUTH payload for our side; octets per RFC 7296 section 2.15. */
	std::optional<ike::Auth> make_auth(const Sa &sa, const IkeConnection &c)
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
	bool verify_auth(const Sa &sa, const IkeConnection &c, const ike::Payloads &pl, std::string &why)
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

	void add_cert_payloads(const IkeConnection &c, ike::Payloads &pl, bool certreq)
	{
		if (c.local_auth == ntm::config::IkeAuth::pubkey)
			if (const auto *id = identity_of(c))
				for (const auto &x : id->chain)
					pl.certs.push_back({ike::CertEncoding::x509_sig, ikecred::cert_der(x.get())});
		if (certreq && c.remote_auth == ntm::config::IkeAuth::pubkey && anchors)
			pl.certreqs.push_back({ike::CertEncoding::x509_sig, anchors->certreq});
	}

	/* ---- initiator: IKE_AUTH ---- */

	void send_auth(const SaPtr &sa)
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

	bool has_other_sa(const Sa &sa) const
	{
		return std::ranges::any_of(sas, [&](const auto &kv) {
			const auto &o = *kv.second;
			return &o != &sa && o.conn == sa.conn && o.state == State::established;
		});
	}

	void on_auth_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t spi_in,
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

	void established(const SaPtr &sa, bool peer_mobike)
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
		arm_dpd(sa);
		arm_ike_rekey(sa);
		arm_keepalive(sa);
	}

	/* ---- CHILD SAs in the kernel ---- */

	static ntm::Prefix prefix_of(const ike::TrafficSelector &t)
	{
		return ntm::Prefix{t.start, static_cast<std::uint8_t>(t.prefix_len().value_or(0))};
	}

	/*
	 * Derives the keys and installs the SA pair. we_initiated: we sent the
	 * request of the exchange that created it (KEYMAT order, RFC 7296
	 * section 2.17). Returns false (and forgets the SPI) on failure.
	 */
	bool install_child(const SaPtr &sa, Child ch, std::optional<ByteView> shared, ByteView ni, ByteView nr,
			   bool we_initiated)
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
		try {
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
		if (c.install_routes)
			for (const auto &t : ch.ts_remote)
				install_route(prefix_of(t));
		const auto id = ch.id;
		sa->children.push_back(std::move(ch));
		arm_child_rekey(sa, id);
		return true;
	}

	void install_route(const ntm::Prefix &p)
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

	void send_child_delete_raw(const SaPtr &sa, std::uint32_t spi_in)
	{
		ike::Payloads pl;
		pl.deletes.push_back({ike::Protocol::esp, {ike::esp_spi_bytes(spi_in)}});
		queue_request(sa, {ike::Exchange::informational, std::move(pl), {}, {}});
	}

	/* ---- responder: IKE_SA_INIT ---- */

	std::vector<const IkeConnection *> candidates_for(const ntm::Endpoint &peer) const
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
	void forget_half_open(const SaPtr &sa)
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

	unsigned half_open_from(const std::string &addr) const
	{
		const auto it = half_open_by_src.find(addr);
		return it == half_open_by_src.end() ? 0 : it->second;
	}

	void send_unprotected_notify(const Path &p, const ike::Header &req, ike::NotifyType t, Bytes data)
	{
		ike::Payloads pl;
		pl.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(t), std::move(data)});
		ike::Header h;
		h.spi_i = req.spi_i;
		h.exchange = ike::Exchange::ike_sa_init;
		h.flags = ike::kFlagResponse;
		send_msg(p, ike::encode_plain(h, pl));
	}

	void responder_init(const Path &p, const ike::Header &h, ByteView raw)
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

	/* ---- responder: IKE_AUTH ---- */

	/* Fills resp; false when the IKE SA must go after the answer. */
	bool responder_auth(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp)
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
	void drop_old_sas(const SaPtr &sa)
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

	/* ---- CHILD SA negotiation, responder side ---- */

	static void notify_only(ike::Payloads &resp, ike::NotifyType t, Bytes data = {})
	{
		resp = {};
		resp.notifies.push_back({ike::Protocol::none, {}, static_cast<std::uint16_t>(t), std::move(data)});
	}

	/*
	 * Answers a CHILD SA request: proposal, selectors, SPI, kernel. In
	 * IKE_AUTH a failure here leaves the IKE SA up (RFC 7296 section 1.2), so
	 * only the notify is added; in CREATE_CHILD_SA it is the whole answer.
	 */
	bool respond_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, std::optional<ByteView> shared,
			   ByteView ni, ByteView nr, std::optional<ike::DhGroup> group)
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
		if (!install_child(sa, std::move(ch), shared, ni, nr, false))
			return refuse(ike::NotifyType::temporary_failure, "the kernel refused the SA");
		auto prop = chosen->proposal;
		prop.spi = ike::esp_spi_bytes(spi_in);
		resp.has_sa = true;
		resp.sa = {prop};
		resp.tsi = tsi;
		resp.tsr = tsr;
		return true;
	}

	void on_create_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp)
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
		if (!respond_child(sa, pl, resp, sv, *pl.nonce, nr, pl.ke ? std::optional(pl.ke->group) : std::nullopt))
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
	void arm_orphan_delete(const SaPtr &sa, std::uint32_t spi_in)
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

	void respond_ike_rekey(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, const Bytes &nr)
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
	void adopt(const SaPtr &old, const SaPtr &nsa)
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

	std::chrono::milliseconds jittered(std::chrono::seconds base)
	{
		/* 90..100 %: both sides rarely rekey at the same instant */
		std::uniform_int_distribution<std::int64_t> d(base.count() * 900, base.count() * 1000);
		return std::chrono::milliseconds(d(jitter));
	}

	void retry_later(const SaPtr &sa, std::function<void(const SaPtr &)> fn)
	{
		std::uniform_int_distribution<int> d(1000, 5000);
		auto t = loose_timer(std::chrono::milliseconds(d(jitter)));
		t->async_wait([t, w = std::weak_ptr<Sa>(sa), fn = std::move(fn), this](const asio::error_code &ec) {
			if (auto s = w.lock(); !ec && s && !stopped && s->state == State::established)
				fn(s);
		});
	}

	void arm_ike_rekey(const SaPtr &sa)
	{
		if (sa->conn->rekey_time.count() == 0)
			return;
		sa->rekey.expires_after(jittered(sa->conn->rekey_time));
		sa->rekey.async_wait([this, w = std::weak_ptr<Sa>(sa)](const asio::error_code &ec) {
			if (auto s = w.lock(); !ec && s && !stopped)
				rekey_ike(s);
		});
	}

	void arm_child_rekey(const SaPtr &sa, std::uint64_t child_id)
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

	void rekey_ike(const SaPtr &sa)
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

	void rekey_child(const SaPtr &sa, std::uint32_t spi_in)
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

	void on_child_rekey_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t old_in, std::uint32_t new_in,
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
		if (!install_child(sa, std::move(ch), sv, ni, *r.nonce, true))
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

	void delete_child(const SaPtr &sa, std::uint32_t spi_in)
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

	/* ---- INFORMATIONAL ---- */

	void set_path(const SaPtr &sa, const Path &p)
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
	bool on_informational(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp)
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

	std::uint64_t boottime_ns() const
	{
		timespec ts{};
		::clock_gettime(CLOCK_BOOTTIME, &ts);
		return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
	}

	/* Seconds since anything authentic came from the peer: IKE or ESP. */
	std::chrono::seconds idle(const Sa &sa)
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

	void arm_dpd(const SaPtr &sa)
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

	void arm_keepalive(const SaPtr &sa)
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

	/* ---- kernel events ---- */

	SaPtr sa_of_child(std::uint32_t spi_in)
	{
		for (const auto &[spi, sa] : sas)
			if (sa->child_by_in(spi_in) != nullptr)
				return sa;
		return nullptr;
	}

	void on_event(const ntm::Event &ev)
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
		} else if (const auto *ep = std::get_if<ntm::EndpointEvent>(&ev)) {
			auto sa = sa_of_child(ep->local_index);
			if (sa && sa->nat_remote && !sa->peer_mobike && !(sa->path.remote == ep->endpoint)) {
				Path p = sa->path;
				p.remote = ep->endpoint;
				set_path(sa, p);
			}
		}
	}

	/* ---- MOBIKE (RFC 4555): our addresses changed ---- */

	/* The source address routing picks towards peer now, or nothing. */
	static std::optional<ntm::IpAddress> route_source(const ntm::Endpoint &peer)
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

	awaitable<void> addr_loop()
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

	void addresses_changed()
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

	void mobike_update(const SaPtr &sa, const ntm::IpAddress &src)
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

	/* ---- ntmctl ---- */

	static std::string state_name(State s)
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

	static std::int64_t age(Clock::time_point t)
	{
		return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t).count();
	}

	nlohmann::json child_json(const Child &c)
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

	nlohmann::json list()
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
		return {{"ok", true}, {"sas", arr}};
	}

	nlohmann::json status() const
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

	const IkeConnection *find_conn(const std::string &name) const
	{
		for (const auto &c : icfg.connections)
			if (c.name == name)
				return &c;
		return nullptr;
	}

	nlohmann::json initiate(const std::string &name)
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

	void delete_ike(const SaPtr &sa)
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
	std::vector<SaPtr> select(const std::string &what, std::string &err) const
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

	nlohmann::json rekey(const std::string &what, bool child)
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

	nlohmann::json terminate(const std::string &what)
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

	void shutdown_gracefully()
	{
		std::vector<SaPtr> all;
		for (const auto &[spi, sa] : sas)
			all.push_back(sa);
		for (const auto &sa : all)
			destroy(sa, true);
	}
};

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
