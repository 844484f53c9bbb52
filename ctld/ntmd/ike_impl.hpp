// SPDX-License-Identifier: GPL-2.0
/*
 * The IKEv2 role's state (IkeRole::Impl), private to ntmd and shared by the
 * files that implement it, one concern each (decisions.rst D75):
 *
 *   ike.cpp          lifecycle, sockets, datagram dispatch, SA table, ntmctl
 *   ike_window.cpp   message IDs, retransmission, the response cache
 *   ike_sa_init.cpp  IKE_SA_INIT, both sides; half-open SAs, COOKIE
 *   ike_auth.cpp     IKE_AUTH, both sides
 *   ike_child.cpp    CREATE_CHILD_SA for CHILD SAs (new, rekey), their Delete
 *   ike_rekey.cpp    CREATE_CHILD_SA for the IKE SA (rekey), rekey timers
 *   ike_info.cpp     INFORMATIONAL (Delete, UPDATE_SA_ADDRESSES), DPD,
 *                    NAT keepalives, MOBIKE
 *   ike_kernel.cpp   CHILD SAs as ESP-in-UDP tunnels of ntm.ko, routes,
 *                    kernel events
 *   ike_select.cpp   proposal and traffic selector choice (pure functions)
 *
 * The message flow per IKE SA is described at the top of ike.cpp.
 */
#ifndef NTMD_IKE_IMPL_HPP
#define NTMD_IKE_IMPL_HPP

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

namespace ike = ntm::ike;
using ike::Bytes;
using ike::ByteView;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;
using ntm::config::IkeConnection;

inline constexpr std::size_t kNonceLen = 32;
inline constexpr auto kHalfOpenTimeout = std::chrono::seconds(30);
inline constexpr unsigned kMaxInitRetries = 3; /* COOKIE and INVALID_KE_PAYLOAD rounds */

/* ---- small helpers ---- */

inline Bytes be16(std::uint16_t v)
{
	return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

inline std::string hex_spi(std::uint64_t v)
{
	return fmt::format("{:016x}", v);
}

/* A sockaddr from the kernel (recvmsg, getaddrinfo, getsockname) as an endpoint. */
inline std::optional<ntm::Endpoint> endpoint_from_sockaddr(const void *sa, socklen_t len)
{
	return ntm::Endpoint::from_sockaddr({static_cast<const std::uint8_t *>(sa), len});
}

inline ike::Identity to_identity(const ntm::config::IkeId &id)
{
	ike::Identity r;
	r.type = static_cast<ike::IdType>(id.type);
	r.data = id.data;
	return r;
}

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

	/*
	 * The state of an IKE SA. Initiator: init_sent (our IKE_SA_INIT on the
	 * wire; Sa::resolving before that while remote_addrs is looked up) ->
	 * auth_sent (IKE_AUTH request queued) -> established. Responder:
	 * init_done (half-open: IKE_SA_INIT answered, IKE_AUTH awaited) ->
	 * established. From established: rekeyed (a new IKE SA took over its
	 * CHILD SAs; its Delete is awaited or outstanding) or deleting (our
	 * Delete is outstanding). Every state ends in dead (destroy(): out of
	 * sas, timers cancelled, CHILD SAs removed from the kernel).
	 * state_name() gives the names ntmctl shows.
	 */
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
	/* why the latest SAs failed (id, reason), newest last: ike-list's "failed", for ntmctl ike initiate (D93) */
	std::deque<std::pair<std::uint64_t, std::string>> failures;
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

	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() { teardown(); }

	/* ---- lifecycle, sockets and transport, SA table, ntmctl (ike.cpp) ---- */

	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(link.ifindex); }
	void send_msg(const Path &p, ByteView msg) { send_raw(p, msg, p.natt); }
	std::shared_ptr<asio::steady_timer> loose_timer(std::chrono::milliseconds after);
	Impl(asio::io_context &io_, const ntm::config::Config &c);
	void load_credentials();
	const ikecred::Identity *identity_of(const IkeConnection &c) const;
	void open_sock(int family, std::uint16_t port, bool natt);
	void setup_sockets();
	void teardown() noexcept;
	void teardown_steps();
	void start();
	void stop();
	Sock *sock_for(int family, bool natt);
	void send_raw(const Path &p, ByteView msg, bool marker);
	awaitable<void> recv_loop(Sock &sk);
	void on_datagram(const Path &p, ByteView d);
	[[nodiscard]] std::uint64_t new_ike_spi() const;
	std::uint32_t new_esp_spi();
	void erase_child(Sa &sa, std::uint32_t spi_in);
	void destroy(const SaPtr &sa, bool notify);
	static std::string state_name(State s);
	static std::int64_t age(Clock::time_point t);
	nlohmann::json child_json(const Child &c);
	nlohmann::json list();
	nlohmann::json status() const;
	const IkeConnection *find_conn(const std::string &name) const;
	nlohmann::json initiate(const std::string &name);
	void delete_ike(const SaPtr &sa);
	std::vector<SaPtr> select(const std::string &what, std::string &err) const;
	nlohmann::json rekey(const std::string &what, bool child);
	nlohmann::json terminate(const std::string &what);
	void shutdown_gracefully();

	/* ---- message window: message IDs, retransmission, the response cache (ike_window.cpp) ---- */

	ike::Header header_for(const Sa &sa, ike::Exchange ex, std::uint32_t msgid, bool response) const;
	void queue_request(const SaPtr &sa, Request r);
	void pump(const SaPtr &sa);
	std::chrono::milliseconds backoff(unsigned tries) const;
	void arm_retransmit(const SaPtr &sa);
	void on_retransmit(const SaPtr &sa);
	void on_response(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d);
	void on_request(const SaPtr &sa, const Path &p, const ike::Header &h, ByteView d);
	void answer(const SaPtr &sa, const Path &p, const ike::Header &req, ByteView raw, const ike::Payloads &resp);

	/* ---- IKE_SA_INIT, initiator and responder; half-open SAs, COOKIE (ike_sa_init.cpp) ---- */

	static std::optional<ntm::Endpoint> numeric_remote(const IkeConnection &c);
	SaPtr initiate_conn(const IkeConnection &c);
	void start_initiator(const SaPtr &sa, const ntm::Endpoint &remote);
	ike::Identity local_identity(const IkeConnection &c, const Path &p) const;
	void add_nat_detection(const Sa &sa, ike::Payloads &pl, const ntm::Endpoint &peer) const;
	static void add_sig_hash_algorithms(ike::Payloads &pl);
	void send_init(const SaPtr &sa);
	void fail(const SaPtr &sa, const std::string &why);
	/* remembers why sa ends, for ike-list (the last kFailuresKept) */
	void note_failure(const SaPtr &sa, const std::string &why);
	void on_init_response(const SaPtr &sa, const Path &p, const ike::Header &h, const ike::Payloads &pl, ByteView raw);
	void detect_nat(Sa &sa, const ike::Payloads &pl, const Path &p) const;
	std::vector<const IkeConnection *> candidates_for(const ntm::Endpoint &peer) const;
	void forget_half_open(const SaPtr &sa);
	unsigned half_open_from(const std::string &addr) const;
	void send_unprotected_notify(const Path &p, const ike::Header &req, ike::NotifyType t, Bytes data);
	void responder_init(const Path &p, const ike::Header &h, ByteView raw);

	/* ---- IKE_AUTH, initiator and responder (ike_auth.cpp) ---- */

	std::optional<ike::Auth> make_auth(const Sa &sa, const IkeConnection &c);
	bool verify_auth(const Sa &sa, const IkeConnection &c, const ike::Payloads &pl, std::string &why);
	void add_cert_payloads(const IkeConnection &c, ike::Payloads &pl, bool certreq);
	void send_auth(const SaPtr &sa);
	bool has_other_sa(const Sa &sa) const;
	void on_auth_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t spi_in,
			      const std::vector<ike::TrafficSelector> &tsi, const std::vector<ike::TrafficSelector> &tsr);
	void established(const SaPtr &sa, bool peer_mobike);
	bool responder_auth(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp);
	void drop_old_sas(const SaPtr &sa);

	/* ---- CREATE_CHILD_SA: new CHILD SAs, CHILD SA rekey, CHILD SA delete (ike_child.cpp) ---- */

	static void notify_only(ike::Payloads &resp, ike::NotifyType t, Bytes data = {});
	bool respond_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, std::optional<ByteView> shared,
			   ByteView ni, ByteView nr, std::optional<ike::DhGroup> group,
			   std::optional<std::uint32_t> replaces = std::nullopt);
	void on_create_child(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp);
	void arm_orphan_delete(const SaPtr &sa, std::uint32_t spi_in);
	void arm_child_rekey(const SaPtr &sa, std::uint64_t child_id);
	void rekey_child(const SaPtr &sa, std::uint32_t spi_in);
	void on_child_rekey_response(const SaPtr &sa, const ike::Payloads &r, std::uint32_t old_in, std::uint32_t new_in,
				     const Bytes &ni, const ike::DhKey *dh, const std::vector<ike::TrafficSelector> &tsi,
				     const std::vector<ike::TrafficSelector> &tsr);
	void delete_child(const SaPtr &sa, std::uint32_t spi_in);
	void send_child_delete_raw(const SaPtr &sa, std::uint32_t spi_in);

	/* ---- IKE SA rekey; rekey timers and retries (ike_rekey.cpp) ---- */

	void respond_ike_rekey(const SaPtr &sa, const ike::Payloads &pl, ike::Payloads &resp, const Bytes &nr);
	void adopt(const SaPtr &old, const SaPtr &nsa);
	std::chrono::milliseconds jittered(std::chrono::seconds base);
	void retry_later(const SaPtr &sa, std::function<void(const SaPtr &)> fn);
	void arm_ike_rekey(const SaPtr &sa);
	void rekey_ike(const SaPtr &sa);

	/* ---- INFORMATIONAL: Delete, DPD, NAT keepalives, MOBIKE (ike_info.cpp) ---- */

	void set_path(const SaPtr &sa, const Path &p);
	bool on_informational(const SaPtr &sa, const Path &p, const ike::Payloads &pl, ike::Payloads &resp);
	std::uint64_t boottime_ns() const;
	std::chrono::seconds idle(const Sa &sa);
	void arm_dpd(const SaPtr &sa);
	void arm_keepalive(const SaPtr &sa);
	static std::optional<ntm::IpAddress> route_source(const ntm::Endpoint &peer);
	awaitable<void> addr_loop();
	void addresses_changed();
	void mobike_update(const SaPtr &sa, const ntm::IpAddress &src);

	/* ---- the kernel: CHILD SAs as ESP-in-UDP tunnels, routes, kernel events (ike_kernel.cpp) ---- */

	static ntm::Prefix prefix_of(const ike::TrafficSelector &t);
	bool install_child(const SaPtr &sa, Child ch, std::optional<ByteView> shared, ByteView ni, ByteView nr,
			   bool we_initiated, std::optional<std::uint32_t> replaces = std::nullopt);
	void install_route(const ntm::Prefix &p);
	void remove_child_kernel(Child &c);
	SaPtr sa_of_child(std::uint32_t spi_in);
	void on_event(const ntm::Event &ev);
};

} // namespace ntmd

#endif
