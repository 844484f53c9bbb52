// SPDX-License-Identifier: GPL-2.0
/*
 * The node role's state (NodeRole::Impl), private to ntmd and shared by its
 * two halves: node.cpp (login, registration, keepalives to the DC, the DNS
 * hook and direction requests, kernel events, status) and node_tunnels.cpp
 * (data tunnels: the key exchange, relayed paths, rekeying, liveness, the
 * signalling that comes from peers).
 */
#ifndef NTMD_NODE_IMPL_HPP
#define NTMD_NODE_IMPL_HPP

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <set>
#include <unordered_map>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <linux/ntm.h>

#include "as.hpp"
#include "dns_setup.hpp"
#include "dnsstub.hpp"
#include "kdev.hpp"
#include "keylog.hpp"
#include "limits.hpp"
#include "ntm/codec.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/genl.hpp"
#include "ntm/handle.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "ntm/tunnel_kx.hpp"
#include "node.hpp"
#include "node_relay.hpp"
#include "node_tunnel.hpp"
#include "sigio.hpp"
#include "udp.hpp"

namespace ntmd {

using asio::awaitable;
using asio::use_awaitable;
namespace sig = ntm::sig;
namespace kx = ntm::kx;
using Clock = std::chrono::steady_clock;

constexpr auto kWaitForTunnel = std::chrono::seconds(15);
constexpr auto kCommLifetime = std::chrono::seconds(60);
/*
 * The waiter's new tunnel sends nothing until the opener shows it has the
 * key (its first packet, or its Probe); after this long it sends anyway
 * (decisions.rst D55).  Below NTM_ACQUIRE_TIMEOUT_MS, so what waited still leaves.
 */
constexpr auto kHoldMax = std::chrono::seconds(2);
constexpr std::uint32_t kDnsTtl = 60;
constexpr unsigned kKeepaliveRetries = 2;
constexpr unsigned kMissedKeepalives = 3;
constexpr auto kMaxBackoff = std::chrono::seconds(60);

inline bool in_prefix(const ntm::IpAddress &a, const std::optional<sig::Prefix> &p)
{
	if (!p || a.family() != p->addr.family())
		return false;
	const auto x = a.bytes();
	const auto y = p->addr.bytes();
	unsigned bits = p->len;
	for (std::size_t i = 0; i < x.size() && bits > 0; i++) {
		const unsigned n = std::min(bits, 8U);
		const auto mask = static_cast<std::uint8_t>(0xff00U >> n);
		if ((x[i] & mask) != (y[i] & mask))
			return false;
		bits -= n;
	}
	return true;
}

inline std::optional<std::string> opt_str(const std::optional<ntm::IpAddress> &a)
{
	if (!a)
		return std::nullopt;
	return a->to_string();
}

inline nlohmann::json json_or_null(const std::optional<std::string> &s)
{
	return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

/* A one-shot event that coroutines can wait for with a timeout. */
class Completion {
public:
	void finish()
	{
		done_ = true;
		for (auto *t : waiters_)
			t->cancel();
	}
	[[nodiscard]] bool done() const noexcept { return done_; }

	/** True when finished, false on timeout. */
	awaitable<bool> wait(asio::io_context &io, Clock::duration timeout)
	{
		if (done_)
			co_return true;
		asio::steady_timer t(io);
		t.expires_after(timeout);
		waiters_.push_back(&t);
		asio::error_code ec;
		co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
		std::erase(waiters_, &t);
		co_return done_;
	}

private:
	bool done_ = false;
	std::vector<asio::steady_timer *> waiters_;
};

/* members grouped by what they serve, not packed: one object per daemon */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct NodeRole::Impl {
	struct Peer {
		std::string fqdn;
		std::optional<ntm::IpAddress> vip4;
		std::optional<ntm::IpAddress> vip6;
		std::uint32_t local_index = 0;
		std::uint32_t remote_index = 0;
		ntm::Endpoint endpoint;
		bool opener = false;
		std::uint8_t cipher = 0;
		std::uint32_t comm_id = 0;
		std::int64_t established = 0;
		std::shared_ptr<RelayedPath> path; /* relayed: the relay, probing, the direct path */
		/* liveness and rekeying (node_tunnel.hpp) */
		std::uint32_t generation = 0;	  /* of the key local_index uses */
		Clock::time_point key_installed{}; /* of that key */
		Clock::time_point last_heard{};	  /* the peer's last signalling to us or answer */
		Clock::time_point last_probe{};
		Clock::time_point last_rekey_fail{};
		bool exchanging = false;	   /* a rekey exchange in flight */
		std::optional<KeyChange> change;   /* successor installed, predecessor not yet gone */
		/* waiter: the new tunnel is held in the kernel until the opener confirms it (D55) */
		std::optional<Clock::time_point> held_since;
		std::uint64_t rekeys = 0;
		std::uint64_t probes_sent = 0;
		std::uint64_t probes_answered = 0;

		/** Every kernel tunnel of this peer: the current one and, during a key change, the other. */
		[[nodiscard]] std::vector<std::uint32_t> indexes() const
		{
			std::vector<std::uint32_t> v{local_index};
			if (change) {
				for (const auto i : {change->old_index, change->new_index})
					if (i != 0 && i != local_index)
						v.push_back(i);
			}
			return v;
		}
	};

	/* one communication being set up (COMM_ID, K_tun) */
	struct Comm {
		std::shared_ptr<SigSession> tun;
		ntm::SecretBytes k_tmp;
		sig::Action action = sig::Action::wait;
		std::uint8_t cipher = 0;
		std::string peer_fqdn;
		std::optional<ntm::IpAddress> peer_vip4;
		std::optional<ntm::IpAddress> peer_vip6;
		ntm::Endpoint peer_ep;
		Clock::time_point expires;
		Completion completion;
		sig::Status status = sig::Status::ok;
		std::string error;
		std::shared_ptr<RelayedPath> path; /* set when the DC sent PATH relay */
	};

	/* a lookup in flight (DNS or acquire), shared by concurrent askers */
	struct Lookup {
		Completion completion;
		sig::Status status = sig::Status::internal;
		std::string error;
		std::string peer_fqdn;
	};

	asio::io_context &io;
	ntm::config::Config cfg;
	const ntm::config::Node &ncfg;
	Resolver &resolver;

	ntm::GenlSocket genl;
	ntm::GenlSocket events;
	NtmLink link;
	asio::ip::udp::socket sock4;
	asio::ip::udp::socket sock6;
	asio::posix::stream_descriptor evdesc;
	asio::posix::stream_descriptor addrdesc;
	bool attached = false;
	SigIo sigio;
	std::unique_ptr<DnsStub> dns;
	std::unique_ptr<DnsSetup> dns_setup; /* after dns: it holds a reference to it */

	/* login and registration */
	std::shared_ptr<SigSession> dc_session;
	std::optional<ntm::Endpoint> dc_ep;
	std::string fqdn;
	Clock::time_point relogin_at;
	bool need_login = true;
	std::string failed; /* the fatal error that stopped the role (others keep running) */
	std::size_t stale_removed = 0; /* tunnels of an earlier run found at start (D80) */
	bool need_register = true;
	bool registered = false;
	std::optional<ntm::IpAddress> vip4;
	std::optional<ntm::IpAddress> vip6;
	std::optional<sig::Prefix> pool4;
	std::optional<sig::Prefix> pool6;
	std::optional<ntm::Endpoint> external_ep;
	bool nated = false;
	std::chrono::seconds interval{20};
	std::optional<sig::NatMapping> nat_mapping; /* measured against a relay, told to the DC */
	unsigned missed = 0;
	/* logins without a NOTICE, and not one per spoofed NOTICE (D71) */
	ReloginGuard relogin_guard;
	std::uint64_t logins = 0;
	std::uint64_t logins_unanswered = 0; /* logins because registrations went unanswered */
	std::uint64_t addr_gen = 0; /* bumped on every local address change */
	asio::steady_timer wake;
	bool stopped = false;
	std::string last_error;

	std::map<std::string, Peer> peers;
	std::map<std::uint32_t, std::shared_ptr<Comm>> comms;
	std::map<std::string, std::shared_ptr<Lookup>> lookups;

	TunnelPolicy policy;

	std::uint64_t tunnels_built = 0;
	std::uint64_t tunnels_failed = 0;
	std::uint64_t tunnels_dead = 0;
	std::uint64_t held_released = 0; /* held tunnels released by kHoldMax, not by the opener */
	std::uint64_t rekeys = 0;
	std::uint64_t rekeys_failed = 0;
	std::uint64_t dns_hooked = 0;
	std::uint64_t acquires = 0;

	Impl(asio::io_context &io_, ntm::config::Config c, Resolver &r);

	Impl(const Impl &) = delete;
	Impl &operator=(const Impl &) = delete;
	Impl(Impl &&) = delete;
	Impl &operator=(Impl &&) = delete;
	~Impl() { teardown(); }

	/* ---- kernel side ---- */

	[[nodiscard]] ntm::DeviceRef dev() const { return ntm::DeviceRef::by_index(link.ifindex); }

	void setup_sockets();

	void teardown() noexcept;

	/* ---- signalling keys ---- */

	std::pair<KeyState, std::shared_ptr<SigSession>> lookup_key(sig::Kind kind, std::uint32_t id);

	void on_notice(const sig::Notice &n, const ntm::Endpoint &from);

	/* ---- main loop: login, registration, keepalive ---- */

	awaitable<void> sleep(Clock::duration d);

	std::vector<ntm::Endpoint> local_endpoints() const;

	awaitable<void> do_login();

	void apply_addresses();

	awaitable<void> do_register();

	awaitable<void> do_keepalive();

	bool comm_alive(std::uint32_t id, const Comm &c, Clock::time_point now);
	void expire_comms();

	awaitable<void> main_loop();

	/* ---- tunnels ---- */

	std::uint32_t new_local_index() const;

	void install(Peer p, const kx::TunnelKeys &k);

	/* The kernel's hard lifetime of one key, and no roaming on relayed tunnels. */
	void apply_key_limits(ntm::TunnelSettings &s, const Peer &p) const;

	/* A kernel tunnel to p under k with these indexes: the first key and every successor. */
	ntm::TunnelSettings tunnel_settings(const Peer &p, std::uint32_t local_index, std::uint32_t remote_index,
					    const kx::TunnelKeys &k) const;

	/* Removes every kernel tunnel of a peer (both keys during a key change). */
	void del_tunnels(const Peer &p);

	/* PATH relay / relay only: the relay's endpoint, the candidates to probe, and its bind */
	void make_relayed(Comm &c, const sig::Message &m);

	/* seconds since the tunnel to peer received an authentic packet */
	std::optional<double> rx_idle(const std::string &peer);

	std::shared_ptr<Comm> make_comm(const sig::Message &m);

	/* The opener's side: an ephemeral X25519 key in the Tunnel Request, authenticated with K_tmp. */
	awaitable<void> open_tunnel(std::shared_ptr<Comm> c);

	/*
	 * The waiter's side of a Tunnel Request (the envelope opened with
	 * K_tun): AUTH first, then the match with the Route Direction, then
	 * the X25519 work, the tunnel, the answer. A retransmitted request
	 * never gets here: SigIo answers it from its cache (same ephemeral).
	 */
	void on_tunnel_request(const Inbound &in);

	/* ---- living tunnels: liveness and rekeying (node_tunnel.hpp, tunnel-keys.rst) ---- */

	Peer *peer_by_comm(std::uint32_t comm_id);

	/* Where signalling to the peer goes now: the tunnel's path. */
	static ntm::Endpoint sig_endpoint(const Peer &p);

	/* The kernel tunnel of a successor, programmed next to the predecessor (make-before-break). */
	void install_successor(Peer &p, std::uint32_t new_index, std::uint32_t new_remote, const kx::TunnelKeys &k,
			       std::uint32_t generation);

	/* The successor carries the traffic: it is the peer's tunnel now. */
	static void promote(Peer &p, KeyChange &kc);

	/* The opener's rekey: a new exchange (GENERATION + 1) on the living communication. */
	awaitable<void> rekey(std::string name);

	/*
	 * The waiter's side of a rekey (the request's AUTH already checked):
	 * only the next generation of a tunnel of this communication, and the
	 * successor does not send until the opener uses it.
	 */
	void on_rekey_request(const Inbound &in, kx::Waiter &exchange,
			      const std::function<void(sig::Status, const std::string &)> &refuse);

	/* A liveness probe (and, with a generation, the opener's confirmation of a new key). */
	awaitable<void> probe_peer(std::string name, std::optional<std::uint32_t> generation = std::nullopt);

	/* An authentic probe from the peer: it is alive; with a generation, it uses that key now. */
	void on_peer_probe(const Inbound &in);

	/* The waiter's held tunnel may send: the opener has the key (or kHoldMax passed). */
	void confirm(Peer &p, const char *why);

	/* The peer is gone: the tunnel, its path and its communication go; the DNS hook asks the DC again. */
	void remove_peer(const std::string &name, const std::string &why);

	/* A key change's next step: retire the predecessor, or give up an unconfirmed successor. */
	void step_key_change(Peer &p, const std::optional<ntm::Tunnel> &successor);

	/* Once a second: every tunnel's liveness, rekey and key change, from one dump of the device's tunnels. */
	awaitable<void> tunnel_loop();

	/* One peer's tick; kernel: the device's tunnels by local index. */
	void tend(const std::string &name, const std::unordered_map<std::uint32_t, ntm::Tunnel> &kernel);

	awaitable<void> handle(Inbound in);

	/* Direction Request for a name or an address, shared by concurrent askers. */
	awaitable<std::shared_ptr<Lookup>> ensure_peer(std::string target, bool by_vip);

	awaitable<void> direction(Lookup &l, const std::string &target, bool by_vip);

	awaitable<HookAnswer> on_dns(const ntm::dns::Question &q);

	/* ---- kernel events ---- */

	void on_event(const ntm::Event &ev);

	awaitable<void> addr_loop();

	nlohmann::json status() const;
};

} // namespace ntmd

#endif
