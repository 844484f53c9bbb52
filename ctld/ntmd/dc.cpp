// SPDX-License-Identifier: GPL-2.0
#include "dc.hpp"
#include "events.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>

#include <asio/co_spawn.hpp>
#include <asio/ip/udp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "as.hpp"
#include "dc_live.hpp"
#include "dc_relays.hpp"
#include "keylog.hpp"
#include "limits.hpp"
#include "ntm/dns.hpp"
#include "ntm/error.hpp"
#include "ntm/handle.hpp"
#include "ntm/marklog.hpp"
#include "ntm/store.hpp"
#include "sigio.hpp"
#include "route.hpp"
#include "udp.hpp"

namespace ntmd {

using asio::awaitable;
namespace sig = ntm::sig;

namespace {

constexpr std::uint64_t kSeqBlock = 4096;
constexpr std::int64_t kKeyGrace = 86400; /* expired keys are kept a day to answer KEY_EXPIRED */
constexpr int kRcvBuf = 4 << 20;
/* datagrams per group commit (D109): bounds the latency a batch adds */
constexpr std::size_t kBatchMax = 1024;
/* how long an unknown KEY_ID is known missing without asking the registry again (D69) */
constexpr auto kUnknownKeyTtl = std::chrono::seconds(10);
/* how long a relay keeps a communication (the nodes rebind and rekey under its K_tun) */
constexpr std::uint32_t kRelayLifetime = 86400;
/*
 * how far behind a live node's last_seen in the registry may be (D114):
 * what ntmctl dc nodes shows; expiry and restarts do not read it
 */
constexpr std::int64_t kLastSeenPersist = 300;

route::NatMapping to_route(sig::NatMapping m) noexcept
{
	switch (m) {
	case sig::NatMapping::endpoint_independent:
		return route::NatMapping::endpoint_independent;
	case sig::NatMapping::per_destination:
		return route::NatMapping::per_destination;
	case sig::NatMapping::unknown:
		break;
	}
	return route::NatMapping::unknown;
}

/*
 * After a DC restart every node registers within one keepalive interval:
 * a receive buffer of the default size drops most of that burst
 * (Documentation/benchmarks.rst). FORCE works with CAP_NET_ADMIN, the
 * plain option up to net.core.rmem_max otherwise.
 */
void grow_rcvbuf(asio::ip::udp::socket &s)
{
	const int fd = s.native_handle();
	if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kRcvBuf, sizeof(kRcvBuf)) == 0)
		return;
	(void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kRcvBuf, sizeof(kRcvBuf));
}

} // namespace

struct DcRole::Impl {
	struct Key {
		std::shared_ptr<SigSession> session;
		std::int64_t expires = 0;
	};

	asio::io_context &io;
	ntm::config::Config cfg;
	const ntm::config::Dc &dc;
	ntm::store::Registry reg;
	/* the receive marks (D58) since D114: appended per batch, not SQLite */
	ntm::store::MarkLog marks;
	/* online nodes and their last keepalive, in memory (D114) */
	LiveNodes live;
	/* nodes whose registry row the open batch wrote: forgotten if it fails */
	std::vector<std::string> batch_stored;
	bool in_batch = false;
	asio::ip::udp::socket sock4;
	asio::ip::udp::socket sock6;
	SigIo sigio;
	std::unique_ptr<KeyListener> keys;
	std::shared_ptr<RelayPool> relays;
	/* NAT_MAPPING as each node last reported it */
	std::map<std::string, sig::NatMapping> mappings;
	/* the relayed communication of each pair of nodes: released when the pair gets a new one */
	struct Relayed {
		std::uint32_t comm = 0;
		std::size_t relay = 0;
	};
	std::map<std::pair<std::string, std::string>, Relayed> relayed;
	std::uint64_t directions_relayed = 0;
	std::map<std::uint32_t, Key> sessions;
	std::uint64_t seq_next = 0;
	std::uint64_t seq_end = 0;
	asio::steady_timer tick;
	bool stopped = false;
	std::uint64_t registrations = 0;
	std::uint64_t directions = 0;
	std::uint64_t directions_failed = 0;
	std::uint64_t keys_received = 0;
	std::uint64_t rx_seq_errors = 0; /* batches whose receive marks could not be written */
	std::uint64_t last_seen_errors = 0; /* write-backs of last_seen that failed */
	bool batch_tx = false;		 /* a group-commit transaction is open (D109) */
	/* admission (D68): per key and per source address; unknown KEY_IDs (D69) */
	TokenBuckets<std::uint32_t> reg_by_key;
	TokenBuckets<std::uint32_t> dir_by_key;
	TokenBuckets<std::string> req_by_addr;
	NegativeCache<std::uint32_t> unknown_keys;
	std::uint64_t registry_lookups = 0;

	Impl(asio::io_context &io_, ntm::config::Config c, Resolver &resolver)
	    : io(io_), cfg(std::move(c)), dc(*cfg.dc), reg(dc.database, dc.pool4, dc.pool6), marks(dc.database + "-marks"), sock4(open_asio_udp_socket(io_, AF_INET, dc.port)),
	      sock6(io_), sigio(io_, &sock4, &sock6), tick(io_),
	      reg_by_key(RateSpec::per_minute(dc.registration_rate), dc.rate_table_size),
	      dir_by_key(RateSpec::per_minute(dc.direction_rate), dc.rate_table_size),
	      req_by_addr(RateSpec::per_minute(dc.address_rate), dc.rate_table_size),
	      unknown_keys(kUnknownKeyTtl, dc.rate_table_size)
	{
		(void)KeyLog::instance(); /* NTM_KEYLOG: warns now, at start */
		try {
			sock6 = open_asio_udp_socket(io_, AF_INET6, dc.port);
		} catch (const ntm::Error &e) {
			if (e.code() != EAFNOSUPPORT)
				throw;
			spdlog::warn("dc: IPv6 is not available: IPv4 only");
		}
		grow_rcvbuf(sock4);
		if (sock6.is_open())
			grow_rcvbuf(sock6);
		sigio.set_send_notices(true);
		sigio.set_notice_limit(RateSpec::per_minute(dc.notice_rate), dc.rate_table_size);
		sigio.set_admit([this](const Inbound &in) { return admit(in, LimitClock::now()); });
		sigio.set_seq_source([this] { return next_seq(); });
		sigio.set_rx_hook([this](const SigSession &s, std::uint64_t seq) { note_rx(s, seq); });
		sigio.set_key_lookup([this](sig::Kind k, std::uint32_t id) { return lookup(k, id); });
		sigio.set_request_handler([this](Inbound in) { return handle(std::move(in)); });
		sigio.set_sync_handler([this](const Inbound &in) { return handle_now(in); });
		sigio.set_batch([this] { begin_batch(); }, [this] { return commit_batch(); }, kBatchMax);
		keys = std::make_unique<KeyListener>(io, cfg, [this](const ntm::store::NodeKey &k) { return on_key(k); });
		if (marks.torn_records() > 0)
			spdlog::warn("dc: {}: {} damaged records at the end dropped (a write the crash cut short)",
				     marks.path(), marks.torn_records());
		/* marks of keys purged before a restart: gone with the next snapshot */
		std::vector<std::uint32_t> ids;
		for (const auto &k : reg.list_keys())
			ids.push_back(k.key_id);
		std::ranges::sort(ids);
		marks.retain(ids);
		/* a restart gives every node the registry has online a full expiry period */
		const auto now = unix_now();
		for (const auto &[fqdn, ep] : reg.online_nodes())
			live.stored(fqdn, ep, now);
		relays = std::make_shared<RelayPool>(io, cfg, resolver);
	}

	std::uint64_t next_seq()
	{
		if (seq_next == seq_end) {
			seq_next = reg.reserve_seq(kSeqBlock);
			seq_end = seq_next + kSeqBlock;
		}
		return seq_next++;
	}

	/*
	 * Group commit (D109): the datagrams of one receive turn share one
	 * write transaction; SigIo sends their answers, and hands their
	 * Direction Requests on, only once commit_batch() returned true.
	 * Without a transaction (BEGIN failed: another writer holds the lock
	 * past the busy timeout) every write commits on its own, as before.
	 */
	void begin_batch()
	{
		in_batch = true;
		try {
			reg.begin();
			batch_tx = true;
		} catch (const std::exception &e) {
			batch_tx = false;
			spdlog::warn("dc: opening a batch transaction: {}", e.what());
		}
	}

	bool commit_batch()
	{
		in_batch = false;
		bool ok = true;
		if (batch_tx) {
			batch_tx = false;
			try {
				reg.commit();
			} catch (const std::exception &e) {
				spdlog::error("dc: committing a batch: {}", e.what());
				ok = false;
			}
			if (!ok) {
				reg.rollback();
				/* a sequence block reserved in the batch is gone too: never seal with it */
				seq_next = seq_end;
			}
		}
		/* marks of a failed batch are written all the same: refusing more is safe */
		if (!sync_marks())
			ok = false;
		if (!ok) {
			/* what the batch wrote is not in the registry: write it again next time */
			for (const auto &f : batch_stored)
				live.erase(f);
		}
		batch_stored.clear();
		return ok;
	}

	bool sync_marks()
	{
		try {
			marks.sync();
			return true;
		} catch (const std::exception &e) {
			rx_seq_errors++;
			spdlog::error("dc: writing the receive marks: {}", e.what());
		}
		return false;
	}

	/*
	 * Every message a node's key moves forward is written down before it
	 * acts (D58): inside a batch its mark is made durable with the batch's
	 * (D109, D114), outside one at once.
	 */
	void note_rx(const SigSession &s, std::uint64_t seq)
	{
		if (s.kind != sig::Kind::dc)
			return;
		marks.note(s.key_id, seq);
		if (!in_batch)
			(void)sync_marks();
	}

	/* the registry row of fqdn was written in this batch (or now, outside one) */
	void stored(const std::string &fqdn, const ntm::Endpoint &ep, std::int64_t now)
	{
		live.stored(fqdn, ep, now);
		if (in_batch)
			batch_stored.push_back(fqdn);
	}

	sig::Status on_key(const ntm::store::NodeKey &k)
	{
		if (!ntm::dns::in_domain(k.fqdn, dc.domain)) {
			spdlog::warn("dc: key {} for {} refused: not in domain {}", hex_id(k.key_id), k.fqdn, dc.domain);
			return sig::Status::not_found;
		}
		try {
			if (!reg.add_key(k, unix_now())) {
				/* never a silent replacement of another node's live key (D59) */
				spdlog::warn("dc: key {} for {} refused: the id names a live key", hex_id(k.key_id), k.fqdn);
				return sig::Status::key_id_in_use;
			}
		} catch (const std::exception &e) {
			spdlog::error("dc: storing key {}: {}", hex_id(k.key_id), e.what());
			return sig::Status::internal;
		}
		sessions.erase(k.key_id);
		unknown_keys.forget(k.key_id);
		/* an expired key's id given again (D59): its old mark must not refuse the new key */
		if (marks.get(k.key_id) != 0) {
			try {
				marks.reset(k.key_id);
			} catch (const std::exception &e) {
				spdlog::error("dc: resetting the receive mark of key {}: {}", hex_id(k.key_id), e.what());
			}
		}
		keys_received++;
		spdlog::info("dc: key distribution: key {} for {}, valid {} s", hex_id(k.key_id), k.fqdn,
			     k.expires - unix_now());
		return sig::Status::ok;
	}

	std::pair<KeyState, std::shared_ptr<SigSession>> lookup(sig::Kind kind, std::uint32_t id)
	{
		if (kind != sig::Kind::dc)
			return {KeyState::unknown, nullptr};
		auto it = sessions.find(id);
		if (it == sessions.end()) {
			/* a flood of made-up KEY_IDs costs no registry lookup each (D69) */
			const auto now = LimitClock::now();
			if (unknown_keys.missing(id, now))
				return {KeyState::unknown, nullptr};
			registry_lookups++;
			auto k = reg.find_key(id);
			if (!k) {
				unknown_keys.remember(id, now);
				return {KeyState::unknown, nullptr};
			}
			auto s = std::make_shared<SigSession>();
			s->kind = sig::Kind::dc;
			s->key_id = id;
			s->key = std::move(k->key);
			s->my_dir = sig::Direction::dc;
			s->peer_dir = sig::Direction::node;
			s->fqdn = k->fqdn;
			/* what was accepted before a restart stays refused (D58, D114) */
			s->rx.restore(std::max(k->rx_seq, marks.get(id)));
			it = sessions.emplace(id, Key{std::move(s), k->expires}).first;
		}
		if (it->second.expires <= unix_now())
			return {KeyState::expired, it->second.session};
		return {KeyState::ok, it->second.session};
	}

	/*
	 * Registrations and Direction Requests cost SQLite writes, address
	 * allocation and messages to other nodes and relays: each key and each
	 * source address gets a bounded rate of them (D68).
	 */
	bool admit(const Inbound &in, LimitClock::time_point now)
	{
		TokenBuckets<std::uint32_t> *by_key = nullptr;
		if (in.msg.type == sig::MsgType::registration)
			by_key = &reg_by_key;
		else if (in.msg.type == sig::MsgType::direction)
			by_key = &dir_by_key;
		else
			return true;
		/* the key first: a node over its own rate does not use up its address's share */
		if (!by_key->admit(in.session->key_id, now))
			return false;
		return req_by_addr.admit(addr_key(in.from.address()), now);
	}

	/* what needs no coroutine: answered inside the batch (D109) */
	bool handle_now(const Inbound &in)
	{
		switch (in.msg.type) {
		case sig::MsgType::registration:
			on_registration(in);
			return true;
		case sig::MsgType::keepalive:
			on_keepalive(in);
			return true;
		case sig::MsgType::direction:
			return false;
		default:
			break;
		}
		return false;
	}

	awaitable<void> handle(Inbound in)
	{
		switch (in.msg.type) {
		case sig::MsgType::registration:
			on_registration(in);
			break;
		case sig::MsgType::keepalive:
			on_keepalive(in);
			break;
		case sig::MsgType::direction:
			co_await on_direction(in);
			break;
		case sig::MsgType::deregistration:
			reg.set_online(in.session->fqdn, false);
			live.erase(in.session->fqdn);
			spdlog::info("dc: {} deregistered", in.session->fqdn);
			emit_event("dc", "node_deregistered", {{"fqdn", in.session->fqdn}});
			sigio.respond(in, sig::make_response(in.msg, sig::Status::ok));
			break;
		default:
			spdlog::debug("dc: {} from {}: not served by a DC", sig::message_name(in.msg.type, false),
				      in.from.to_string());
			sigio.respond(in, sig::make_response(in.msg, sig::Status::malformed, "not served by a DC"));
			break;
		}
	}

	void on_registration(const Inbound &in)
	{
		const auto &m = in.msg;
		if (m.fqdn != in.session->fqdn) {
			sigio.respond(in, sig::make_response(m, sig::Status::fqdn_mismatch,
							     "key " + hex_id(in.session->key_id) + " belongs to " +
								     in.session->fqdn));
			return;
		}
		ntm::store::NodeRecord r;
		r.fqdn = m.fqdn;
		r.external_ep = in.from;
		r.local_eps = m.local_eps;
		r.nated = std::find(m.local_eps.begin(), m.local_eps.end(), in.from) == m.local_eps.end();
		r.online = true;
		r.key_id = in.session->key_id;
		r.ciphers = m.ciphers;
		r.registered = r.last_seen = unix_now();
		ntm::store::NodeRecord rec;
		try {
			rec = reg.register_node(r);
		} catch (const ntm::Error &e) {
			const auto st = e.code() == ENOSPC ? sig::Status::pool_exhausted : sig::Status::internal;
			spdlog::error("dc: registration of {}: {}", m.fqdn, e.what());
			sigio.respond(in, sig::make_response(m, st, e.what()));
			return;
		}
		registrations++;
		stored(m.fqdn, in.from, r.last_seen);
		note_mapping(m.fqdn, m);
		auto resp = sig::make_response(m, sig::Status::ok);
		resp.vip4 = rec.vip4;
		resp.vip6 = rec.vip6;
		resp.pool4 = dc.pool4;
		resp.pool6 = dc.pool6;
		resp.external_ep = in.from;
		resp.nated = r.nated;
		resp.interval = static_cast<std::uint16_t>(dc.keepalive_interval.count());
		resp.lifetime = static_cast<std::uint32_t>(dc.registration_lifetime.count());
		spdlog::info("dc: registration {} from {} ({}): {} {}", m.fqdn, in.from.to_string(),
			     r.nated ? "behind NAT" : "public", rec.vip4 ? rec.vip4->to_string() : "-",
			     rec.vip6 ? rec.vip6->to_string() : "-");
		emit_event("dc", "node_registered",
			   {{"fqdn", m.fqdn},
			    {"from", in.from.to_string()},
			    {"nated", r.nated},
			    {"vip4", rec.vip4 ? rec.vip4->to_string() : ""},
			    {"vip6", rec.vip6 ? rec.vip6->to_string() : ""}});
		sigio.respond(in, resp);
	}

	void on_keepalive(const Inbound &in)
	{
		const auto &fqdn = in.session->fqdn;
		const auto now = unix_now();
		/* online at the same endpoint: only the time changes, in memory (D114) */
		if (!live.refresh(fqdn, in.from, now)) {
			if (!reg.seen(fqdn, in.from, now)) {
				live.erase(fqdn);
				sigio.respond(in, sig::make_response(in.msg, sig::Status::not_registered));
				return;
			}
			stored(fqdn, in.from, now);
		}
		note_mapping(in.session->fqdn, in.msg);
		auto resp = sig::make_response(in.msg, sig::Status::ok);
		resp.external_ep = in.from;
		sigio.respond(in, resp);
	}

	void note_mapping(const std::string &fqdn, const sig::Message &m)
	{
		if (m.nat_mapping)
			mappings[fqdn] = *m.nat_mapping;
	}

	[[nodiscard]] route::NodeView view_of(const ntm::store::NodeRecord &n) const
	{
		const auto it = mappings.find(n.fqdn);
		return {.external = *n.external_ep,
			.nated = n.nated,
			.mapping = it == mappings.end() ? route::NatMapping::unknown : to_route(it->second)};
	}

	static void set_peer(sig::Message &m, const ntm::store::NodeRecord &peer)
	{
		m.peer_fqdn = peer.fqdn;
		m.peer_ep = peer.external_ep;
		m.peer_vip4 = peer.vip4;
		m.peer_vip6 = peer.vip6;
	}

	awaitable<void> on_direction(const Inbound &in)
	{
		const auto &m = in.msg;
		auto fail = [&](sig::Status st, const std::string &why) {
			directions_failed++;
			spdlog::info("dc: direction from {}: {} ({})", in.session->fqdn, sig::status_name(st), why);
			emit_event("dc", "direction_failed",
				   {{"from", in.session->fqdn}, {"status", sig::status_name(st)}, {"error", why}});
			sigio.respond(in, sig::make_response(m, st, why));
		};
		const auto mn = reg.find(in.session->fqdn);
		if (!mn || !mn->online || !mn->external_ep) {
			fail(sig::Status::not_registered, in.session->fqdn + " is not registered");
			co_return;
		}
		std::optional<ntm::store::NodeRecord> cn;
		std::string target;
		if (!m.peer_fqdn.empty()) {
			target = m.peer_fqdn;
			if (!ntm::dns::in_domain(m.peer_fqdn, dc.domain)) {
				fail(sig::Status::not_found, m.peer_fqdn + " is not in domain " + dc.domain +
								     " (directions across DCs are not supported)");
				co_return;
			}
			cn = reg.find(m.peer_fqdn);
		} else {
			const auto &vip = m.peer_vip4 ? *m.peer_vip4 : *m.peer_vip6;
			target = vip.to_string();
			cn = reg.find_by_vip(vip);
		}
		if (!cn) {
			fail(sig::Status::not_found, "no node " + target);
			co_return;
		}
		if (cn->fqdn == mn->fqdn) {
			fail(sig::Status::not_found, target + " is the requesting node itself");
			co_return;
		}
		if (!cn->online || !cn->external_ep) {
			fail(sig::Status::peer_offline, cn->fqdn + " is offline");
			co_return;
		}
		const auto decision = route::decide(view_of(*mn), view_of(*cn), relays->views());
		if (const auto *no = std::get_if<route::NoRoute>(&decision)) {
			fail(sig::Status::no_route, no->why);
			co_return;
		}
		auto [cn_state, cn_session] = lookup(sig::Kind::dc, cn->key_id);
		if (cn_state != KeyState::ok) {
			fail(sig::Status::peer_offline, cn->fqdn + " has no valid key");
			co_return;
		}
		const auto &offer = m.ciphers.empty() ? mn->ciphers : m.ciphers;
		std::optional<std::uint8_t> cipher;
		for (auto c : offer) {
			if (cn->ciphers.empty() || std::find(cn->ciphers.begin(), cn->ciphers.end(), c) != cn->ciphers.end()) {
				cipher = c;
				break;
			}
		}
		if (!cipher && offer.empty())
			cipher = cn->ciphers.empty() ? static_cast<std::uint8_t>(NTM_CIPHER_CHACHA20_POLY1305)
						     : cn->ciphers.front();
		if (!cipher) {
			fail(sig::Status::no_route, "no data cipher both nodes support");
			co_return;
		}

		const std::uint32_t comm = sig::random_u32_nonzero();
		const auto k_tun = sig::random_key();
		const auto k_tmp = sig::random_key();
		KeyLog::instance().comm(comm, k_tun.span(), k_tmp.span());
		if (const auto *r = std::get_if<route::Relayed>(&decision)) {
			co_await direct_through_relay(in, *mn, *cn, cn_session, *r, comm, k_tun, k_tmp, *cipher);
			co_return;
		}
		/* figure 6: the NATed side opens; neither: CN opens */
		const bool cn_opens = std::get<route::Direct>(decision).cn_opens;

		sig::Message to_cn;
		to_cn.type = sig::MsgType::route_direction;
		to_cn.action = cn_opens ? sig::Action::open : sig::Action::wait;
		to_cn.comm_id = comm;
		to_cn.k_tun = k_tun;
		to_cn.k_tmp = k_tmp;
		to_cn.cipher = cipher;
		set_peer(to_cn, *mn);

		auto to_mn = sig::make_response(m, sig::Status::ok);
		to_mn.action = cn_opens ? sig::Action::wait : sig::Action::open;
		to_mn.comm_id = comm;
		to_mn.k_tun = k_tun;
		to_mn.k_tmp = k_tmp;
		to_mn.cipher = cipher;
		set_peer(to_mn, *cn);

		directions++;
		spdlog::info("dc: direction {} -> {}: {} behind NAT: {} opens, comm {}", mn->fqdn, cn->fqdn,
			     cn->nated ? cn->fqdn : (mn->nated ? mn->fqdn : "neither"),
			     cn_opens ? cn->fqdn : mn->fqdn, hex_id(comm));
		emit_event("dc", "direction",
			   {{"from", mn->fqdn}, {"to", cn->fqdn}, {"path", "direct"}, {"opener", cn_opens ? cn->fqdn : mn->fqdn},
			    {"comm", hex_id(comm)}});
		if (cn_opens) {
			/* the waiter first, so the Tunnel Request finds it ready */
			sigio.respond(in, to_mn);
			try {
				const auto ack = co_await sigio.request(cn_session, *cn->external_ep, to_cn);
				if (ack.status != sig::Status::ok)
					spdlog::warn("dc: route direction to {}: {}", cn->fqdn,
						     sig::status_name(*ack.status));
			} catch (const std::exception &e) {
				spdlog::warn("dc: route direction to {}: {}", cn->fqdn, e.what());
			}
			co_return;
		}
		try {
			const auto ack = co_await sigio.request(cn_session, *cn->external_ep, to_cn);
			if (ack.status != sig::Status::ok) {
				fail(sig::Status::peer_offline,
				     cn->fqdn + " refused the route direction: " +
					     std::string(sig::status_name(*ack.status)));
				co_return;
			}
		} catch (const std::exception &e) {
			fail(sig::Status::peer_offline, cn->fqdn + " did not answer the route direction");
			co_return;
		}
		sigio.respond(in, to_mn);
	}

	/*
	 * Figure 7: the relay first, then the waiter (CN), then the opener
	 * (MN, in the answer to its Direction Request). The relay never sees
	 * K_tmp.
	 */
	awaitable<void> direct_through_relay(const Inbound &in, const ntm::store::NodeRecord &mn,
					     const ntm::store::NodeRecord &cn, std::shared_ptr<SigSession> cn_session,
					     const route::Relayed &chosen, std::uint32_t comm, const ntm::SecretBytes &k_tun,
					     const ntm::SecretBytes &k_tmp, std::uint8_t cipher)
	{
		const auto &m = in.msg;
		auto fail = [&](sig::Status st, const std::string &why) {
			directions_failed++;
			spdlog::info("dc: direction from {}: {} ({})", mn.fqdn, sig::status_name(st), why);
			emit_event("dc", "direction_failed",
				   {{"from", mn.fqdn}, {"status", sig::status_name(st)}, {"error", why}});
			sigio.respond(in, sig::make_response(m, st, why));
		};
		sig::Message rd;
		rd.type = sig::MsgType::relay_direction;
		rd.comm_id = comm;
		rd.k_tun = k_tun;
		rd.lifetime = kRelayLifetime;
		rd.fqdn = mn.fqdn;
		rd.peer_fqdn = cn.fqdn;
		rd.external_ep = mn.external_ep;
		rd.peer_ep = cn.external_ep;
		/* the chosen relay first; when it fails (now down) or refuses, the next usable one */
		route::Relayed r = chosen;
		std::string rs_name;
		sig::Message ack;
		std::string errors;
		std::vector<bool> tried(relays->views().size(), false);
		for (;;) {
			rs_name = relays->name(r.relay);
			tried.at(r.relay) = true;
			try {
				ack = co_await relays->direct(r.relay, rd);
				if (ack.status == sig::Status::ok)
					break;
				errors += (errors.empty() ? "" : "; ") + rs_name + " refused: " +
					  (ack.error_text.empty() ? std::string(sig::status_name(*ack.status)) : ack.error_text);
			} catch (const std::exception &e) {
				errors += (errors.empty() ? "" : "; ") + rs_name + " unreachable";
			}
			auto views = relays->views();
			for (std::size_t i = 0; i < views.size(); i++)
				if (tried[i])
					views[i].up = false;
			const auto next = route::pick_relay(mn.external_ep->family(), cn.external_ep->family(), views);
			if (!next) {
				fail(sig::Status::no_route, "no relay available: " + errors);
				co_return;
			}
			r.relay = *next;
		}
		const auto ep_for = [&](const ntm::store::NodeRecord &n) -> std::optional<ntm::Endpoint> {
			for (const auto &e : ack.relay_eps)
				if (e.family() == n.external_ep->family())
					return e;
			return std::nullopt;
		};
		const auto rs_mn = ep_for(mn);
		const auto rs_cn = ep_for(cn);
		if (!rs_mn || !rs_cn) {
			co_await relays->release(r.relay, comm);
			fail(sig::Status::no_route, "relay " + rs_name + " did not name an endpoint of each family");
			co_return;
		}
		const auto path = r.probe ? sig::Path::relay : sig::Path::relay_only;
		const auto local_eps = [&](const ntm::store::NodeRecord &n) {
			std::vector<ntm::Endpoint> v;
			if (r.probe)
				for (const auto &e : n.local_eps)
					if (v.size() < sig::kMaxPeerLocalEps)
						v.push_back(e);
			return v;
		};

		/* the waiter first: CN binds and waits for the Tunnel Request through the relay */
		/* what both nodes are told: their action, the keys, the peer and the relay */
		const auto direct_to = [&](sig::Message &msg, sig::Action a, const ntm::store::NodeRecord &peer,
					   const ntm::Endpoint &rs_ep) {
			msg.action = a;
			msg.comm_id = comm;
			msg.k_tun = k_tun;
			msg.k_tmp = k_tmp;
			msg.cipher = cipher;
			set_peer(msg, peer);
			msg.path = path;
			msg.relay_eps = {rs_ep};
			msg.peer_local_eps = local_eps(peer);
		};
		sig::Message to_cn;
		to_cn.type = sig::MsgType::route_direction;
		direct_to(to_cn, sig::Action::wait, mn, *rs_cn);
		std::string refused;
		try {
			const auto cn_ack = co_await sigio.request(cn_session, *cn.external_ep, to_cn);
			if (cn_ack.status != sig::Status::ok)
				refused = cn.fqdn + " refused the route direction: " +
					  std::string(sig::status_name(*cn_ack.status));
		} catch (const std::exception &e) {
			refused = cn.fqdn + " did not answer the route direction";
		}
		if (!refused.empty()) {
			co_await relays->release(r.relay, comm);
			fail(sig::Status::peer_offline, refused);
			co_return;
		}

		auto to_mn = sig::make_response(m, sig::Status::ok);
		direct_to(to_mn, sig::Action::open, cn, *rs_mn);
		sigio.respond(in, to_mn);
		directions++;
		directions_relayed++;
		spdlog::info("dc: direction {} -> {}: through relay {} ({}), {} opens, comm {}", mn.fqdn, cn.fqdn,
			     rs_name, r.probe ? "then try direct" : "relay only", mn.fqdn, hex_id(comm));
		emit_event("dc", "direction",
			   {{"from", mn.fqdn}, {"to", cn.fqdn}, {"path", "relay"}, {"relay", rs_name}, {"opener", mn.fqdn},
			    {"comm", hex_id(comm)}});

		/* a pair has one relayed communication: the one it replaces goes */
		auto key = std::minmax(mn.fqdn, cn.fqdn);
		const auto old = relayed.find({key.first, key.second});
		if (old != relayed.end()) {
			const Relayed prev = old->second;
			old->second = Relayed{comm, r.relay};
			co_await relays->release(prev.relay, prev.comm);
		} else {
			relayed.emplace(std::make_pair(key.first, key.second), Relayed{comm, r.relay});
		}
	}

	/* one transaction for however many nodes expire in a tick */
	void mark_offline(const std::vector<std::string> &gone)
	{
		if (gone.empty())
			return;
		try {
			reg.begin();
			for (const auto &f : gone)
				reg.set_online(f, false);
			reg.commit();
		} catch (const std::exception &e) {
			reg.rollback();
			/* the registry still has them online: a keepalive puts them back in memory */
			spdlog::warn("dc: marking {} nodes offline: {}", gone.size(), e.what());
		}
	}

	/* last_seen of the nodes whose registry time is persist s or more behind (D114) */
	void write_last_seen(std::int64_t persist)
	{
		const auto due = live.due(persist);
		try {
			reg.store_last_seen(due);
		} catch (const std::exception &e) {
			last_seen_errors++;
			live.unstore(due);
			spdlog::warn("dc: writing last_seen of {} nodes: {}", due.size(), e.what());
		}
	}

	void arm_tick()
	{
		tick.expires_after(dc.keepalive_interval);
		tick.async_wait([this](const asio::error_code &ec) {
			if (ec || stopped)
				return;
			try {
				const auto now = unix_now();
				write_last_seen(kLastSeenPersist);
				const auto gone = live.expire(now - 3 * dc.keepalive_interval.count());
				mark_offline(gone);
				for (const auto &f : gone) {
					spdlog::info("dc: {} offline: no keepalive for {} s", f,
						     3 * dc.keepalive_interval.count());
					emit_event("dc", "node_offline", {{"fqdn", f}});
				}
				const auto purged = reg.purge_keys(now - kKeyGrace);
				if (!purged.empty()) {
					marks.forget(purged);
					spdlog::info("dc: purged {} expired keys", purged.size());
				}
				for (auto it = sessions.begin(); it != sessions.end();) {
					if (it->second.expires < now - kKeyGrace)
						it = sessions.erase(it);
					else
						++it;
				}
			} catch (const std::exception &e) {
				spdlog::error("dc: housekeeping: {}", e.what());
			}
			arm_tick();
		});
	}
};

DcRole::DcRole(asio::io_context &io, const ntm::config::Config &cfg, Resolver &resolver)
    : impl_(std::make_unique<Impl>(io, cfg, resolver))
{}

DcRole::~DcRole()
{
	try {
		stop();
	} catch (const std::exception &e) {
		spdlog::warn("dc: stop: {}", e.what());
	}
}

void DcRole::start()
{
	impl_->sigio.start();
	impl_->keys->start();
	impl_->relays->start();
	impl_->arm_tick();
	spdlog::info("dc: domain {}, UDP port {}, {} nodes in the registry", impl_->dc.domain, impl_->dc.port,
		     impl_->reg.count());
}

void DcRole::stop()
{
	if (!impl_ || impl_->stopped)
		return;
	impl_->stopped = true;
	impl_->tick.cancel();
	impl_->write_last_seen(0);
	impl_->sigio.stop();
	impl_->keys->stop();
	impl_->relays->stop();
	asio::error_code ignored;
	impl_->sock4.close(ignored);
	impl_->sock6.close(ignored);
}

nlohmann::json DcRole::status() const
{
	auto &i = *impl_;
	const std::size_t online = i.live.size();
	std::size_t total = 0;
	try {
		total = i.reg.count();
	} catch (const std::exception &e) {
		spdlog::warn("dc: status: {}", e.what());
	}
	return {{"domain", i.dc.domain},
		{"port", i.dc.port},
		{"nodes", total},
		{"online", online},
		{"registrations", i.registrations},
		{"directions", i.directions},
		{"directions_failed", i.directions_failed},
		{"directions_relayed", i.directions_relayed},
		{"relays", i.relays->status()},
		{"keys_received", i.keys_received},
		{"rx_seq_errors", i.rx_seq_errors},
		{"last_seen_errors", i.last_seen_errors},
		{"keepalives_in_memory", i.live.refreshed()},
		{"marks",
		 {{"keys", i.marks.keys()},
		  {"file_bytes", i.marks.file_bytes()},
		  {"snapshots", i.marks.snapshots()},
		  {"snapshot_errors", i.marks.snapshot_errors()},
		  {"torn_records", i.marks.torn_records()}}},
		{"batches_failed", i.sigio.batches_failed()},
		{"rx", i.sigio.rx_messages()},
		{"tx", i.sigio.tx_messages()},
		{"drops", i.sigio.drops().to_json()},
		{"limits",
		 {{"registration_key", i.reg_by_key.refused()},
		  {"direction_key", i.dir_by_key.refused()},
		  {"request_address", i.req_by_addr.refused()},
		  {"unknown_key_cached", i.unknown_keys.hits()},
		  {"registry_lookups", i.registry_lookups},
		  {"table_evictions", i.reg_by_key.evicted() + i.dir_by_key.evicted() + i.req_by_addr.evicted()}}}};
}

} // namespace ntmd
