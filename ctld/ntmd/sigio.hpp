// SPDX-License-Identifier: GPL-2.0
/*
 * Sealed signalling over UDP (Documentation/protocol/signalling.rst,
 * sections "The UDP envelope" and "Reliability"), shared by the DC and the
 * node roles:
 *   - opening: key lookup by (kind, key id), AEAD, replay window, decode,
 *     validate; every failure is a counted drop that changes no state;
 *   - requests: retransmission with back-off until the response with the
 *     same transaction id arrives;
 *   - responses: remembered for 30 s per (kind, key id, txid) so that a
 *     retransmitted request is answered again without being processed
 *     twice.
 */
#ifndef NTMD_SIGIO_HPP
#define NTMD_SIGIO_HPP

#include <array>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <sys/socket.h>
#include <netinet/in.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "addr.hpp"
#include "limits.hpp"
#include "ntm/model.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"

namespace ntmd {

/** Counted drops, by reason (spec: Counted drops). */
struct SigDrops {
	std::uint64_t malformed = 0;
	std::uint64_t auth = 0;
	std::uint64_t replay = 0;
	std::uint64_t unknown_key = 0;
	std::uint64_t expired_key = 0;
	std::uint64_t unexpected = 0;
	std::uint64_t rate = 0;	    /* NOTICEs not sent: over the global or the per-address rate (D68) */
	std::uint64_t rate_request = 0; /* authentic requests refused by the admission check (D68) */
	[[nodiscard]] nlohmann::json to_json() const;
};

/** One key in one role: what is needed to seal, open and check replays. */
struct SigSession {
	ntm::sig::Kind kind = ntm::sig::Kind::dc;
	std::uint32_t key_id = 0;
	ntm::SecretBytes key;
	ntm::sig::Direction my_dir = ntm::sig::Direction::node;
	ntm::sig::Direction peer_dir = ntm::sig::Direction::dc;
	ntm::sig::ReplayWindow rx;
	/*
	 * A relayed communication: the Relay Server answers this node's Relay
	 * Binds under the same key with a direction of its own (relay.rst),
	 * opened with relay_dir and checked against its own window.
	 */
	std::optional<ntm::sig::Direction> relay_dir;
	ntm::sig::ReplayWindow relay_rx;
	std::uint64_t tx_seq = 0; /* last used; nodes only (the DC draws from its store) */
	std::string fqdn;	  /* DC: the key's node; node: unused */
};

/** A received, authenticated and validated message. */
struct Inbound {
	std::shared_ptr<SigSession> session;
	ntm::sig::Message msg;
	ntm::Endpoint from;
};

enum class KeyState { ok, unknown, expired };

class SigIo {
public:
	/** Datagrams per recvmmsg and sendmmsg call of a batch (sigio_batch.cpp). */
	static constexpr std::size_t kMmsg = 32;
	using KeyLookup = std::function<std::pair<KeyState, std::shared_ptr<SigSession>>(ntm::sig::Kind, std::uint32_t)>;
	/** Handles a request; must answer with respond() (at most once) or not at all. */
	using RequestHandler = std::function<asio::awaitable<void>(Inbound)>;
	using NoticeHandler = std::function<void(const ntm::sig::Notice &, const ntm::Endpoint &)>;
	/** Admission of an authentic request before it is processed or remembered; false: dropped (rate_request). */
	using Admit = std::function<bool(const Inbound &)>;
	/** Sequence numbers for sessions whose my_dir is Direction::dc. */
	using SeqSource = std::function<std::uint64_t()>;
	/** An authentic datagram moved a session's receive window to seq; runs before the message is acted on. */
	using RxHook = std::function<void(const SigSession &, std::uint64_t seq)>;
	/**
	 * Group commit (D109): begin runs before a batch of received datagrams
	 * is fed, commit after it and before anything the batch caused is sent
	 * or any request of it is handed to the (asynchronous) request handler.
	 * commit false: the batch's datagrams are dropped unsent, its requests
	 * forgotten (a retransmission is processed anew).
	 */
	using BatchBegin = std::function<void()>;
	using BatchCommit = std::function<bool()>;
	/** A request handled to its end without suspending; true when it took it (and answered or not). */
	using SyncHandler = std::function<bool(const Inbound &)>;

	/** The sockets stay owned by the caller and must outlive this object. */
	SigIo(asio::io_context &io, asio::ip::udp::socket *sock4, asio::ip::udp::socket *sock6);

	void set_key_lookup(KeyLookup f) { lookup_ = std::move(f); }
	void set_request_handler(RequestHandler f) { on_request_ = std::move(f); }
	void set_notice_handler(NoticeHandler f) { on_notice_ = std::move(f); }
	void set_seq_source(SeqSource f) { seq_source_ = std::move(f); }
	void set_rx_hook(RxHook f) { rx_hook_ = std::move(f); }
	/** The DC answers unknown/expired keys with NOTICEs (rate-limited). */
	void set_send_notices(bool on) { send_notices_ = on; }
	void set_admit(Admit f) { admit_ = std::move(f); }
	/** Up to max datagrams per batch (sigio_batch.cpp); without hooks batches only save wake-ups. */
	void set_batch(BatchBegin begin, BatchCommit commit, std::size_t max)
	{
		batch_begin_ = std::move(begin);
		batch_commit_ = std::move(commit);
		batch_max_ = max == 0 ? 1 : max;
	}
	void set_sync_handler(SyncHandler f) { sync_handler_ = std::move(f); }
	/** NOTICEs per source address (on top of the global limit); table of max_entries addresses. */
	void set_notice_limit(RateSpec per_addr, std::size_t max_entries)
	{
		notice_limit_ = std::make_unique<TokenBuckets<std::string>>(per_addr, max_entries);
	}

	/** Spawns the receive loops on the sockets. */
	void start();
	/** Fails every pending request (ECANCELED). */
	void stop();
	/**
	 * Fails the pending requests sealed under (kind, key_id) at once with
	 * ntm::Error(EKEYREJECTED): the peer refused that key, waiting for
	 * their retransmissions to time out would only delay a new login.
	 * Returns how many were abandoned.
	 */
	std::size_t abandon(ntm::sig::Kind kind, std::uint32_t key_id);
	/**
	 * Sends the pending requests sealed under (kind, key_id) again now
	 * instead of at their next retransmission: the local network changed,
	 * so the last copy may have left by a path that is gone (or by none).
	 * A hurried resend uses up no attempt and leaves the back-off as it
	 * was; hurries before the resend happens count once. A request is
	 * hurried at most as many times as it may be sent, so a link that
	 * keeps changing cannot put off its failure for ever. Returns how many requests were hurried.
	 */
	std::size_t hurry(ntm::sig::Kind kind, std::uint32_t key_id);

	/** A datagram from one of the sockets (also used by tests). */
	void feed(std::span<const std::uint8_t> datagram, const ntm::Endpoint &from);

	/**
	 * Sends req (txid filled in when 0) and waits for its response,
	 * retransmitting after 0.5, 1, 2, 4, 8 s (retries overrides the count;
	 * from receives the response's source). Throws ntm::Error(ETIMEDOUT)
	 * when none comes, ntm::Error(ECANCELED) after stop().
	 */
	asio::awaitable<ntm::sig::Message> request(std::shared_ptr<SigSession> s, ntm::Endpoint to,
						   ntm::sig::Message req, std::optional<unsigned> retries = std::nullopt,
						   ntm::Endpoint *from = nullptr);
	/** Answers an Inbound request (and remembers the answer for retransmissions). */
	void respond(const Inbound &in, const ntm::sig::Message &resp);

	[[nodiscard]] const SigDrops &drops() const noexcept { return drops_; }
	[[nodiscard]] std::uint64_t rx_messages() const noexcept { return rx_; }
	[[nodiscard]] std::uint64_t tx_messages() const noexcept { return tx_; }
	/** Batches whose commit failed, and the datagrams they dropped unsent. */
	[[nodiscard]] std::uint64_t batches_failed() const noexcept { return batches_failed_; }
	[[nodiscard]] std::uint64_t batch_drops() const noexcept { return batch_drops_; }
	/** Retransmission schedule (tests shorten it). */
	void set_rto(std::chrono::milliseconds first, unsigned retries)
	{
		rto_ = first;
		retries_ = retries;
	}

private:
	using TxKey = std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>; /* kind, key id, txid */
	struct Pending {
		std::optional<ntm::sig::Message> result;
		ntm::Endpoint from;
		asio::steady_timer *timer = nullptr;
		bool abandoned = false;
		bool hurried = false;	   /* resend at once, attempt not used up */
		unsigned hurries_left = 0; /* request() sets it to the copies it may send */
	};
	/* an encoded response may carry keys (K_tmp in a Route Direction): wiped when it goes */
	struct Cached {
		std::vector<std::uint8_t> body; /* empty while the request is being processed */
		std::chrono::steady_clock::time_point expires;
		Cached(std::vector<std::uint8_t> b, std::chrono::steady_clock::time_point e) : body(std::move(b)), expires(e)
		{}
		Cached(const Cached &) = delete;
		Cached &operator=(const Cached &) = delete;
		Cached(Cached &&) noexcept = default;
		Cached &operator=(Cached &&o) noexcept
		{
			ntm::secure_wipe(body.data(), body.size());
			body = std::move(o.body);
			expires = o.expires;
			return *this;
		}
		~Cached() { ntm::secure_wipe(body.data(), body.size()); }
	};

	asio::awaitable<void> receive_loop(asio::ip::udp::socket &sock);
	/* sigio_batch.cpp: the first datagram, then whatever else is queued, as one batch */
	/* recvmmsg's buffers: pages are touched only as datagrams fill them */
	struct RecvSlots {
		static constexpr std::size_t kSlotBytes = 65536;
		std::unique_ptr<std::uint8_t[]> data = std::make_unique_for_overwrite<std::uint8_t[]>(kMmsg * kSlotBytes);
		std::array<mmsghdr, kMmsg> msgs{};
		std::array<iovec, kMmsg> iov{};
		std::array<std::array<std::uint8_t, sizeof(sockaddr_in6)>, kMmsg> names{};
	};
	void feed_batch(asio::ip::udp::socket &sock, RecvSlots &slots, std::span<const std::uint8_t> first,
			const ntm::Endpoint &from);
	void end_batch(bool ok);
	struct Held;
	/* sigio_batch.cpp: the held datagrams of a committed batch, with sendmmsg */
	void send_held(const std::vector<Held> &held);
	void spawn_request(Inbound in);
	void send_now(const ntm::Endpoint &to, std::span<const std::uint8_t> bytes);
	void send_sealed(SigSession &s, const ntm::Endpoint &to, std::span<const std::uint8_t> body);
	void send_raw(const ntm::Endpoint &to, std::span<const std::uint8_t> bytes);
	void maybe_notice(const ntm::Endpoint &to, std::uint32_t key_id, ntm::sig::Status st);
	std::uint64_t next_seq(SigSession &s);
	void remember(const TxKey &key, std::vector<std::uint8_t> body);
	void expire_cache();

	asio::io_context &io_;
	asio::ip::udp::socket *sock4_;
	asio::ip::udp::socket *sock6_;
	KeyLookup lookup_;
	RequestHandler on_request_;
	NoticeHandler on_notice_;
	SeqSource seq_source_;
	RxHook rx_hook_;
	Admit admit_;
	std::unique_ptr<TokenBuckets<std::string>> notice_limit_;
	bool send_notices_ = false;
	std::map<TxKey, Pending *> pending_;
	/* f(pending) for each request sealed under (kind, key_id) that is still waiting */
	template <typename F> std::size_t for_each_pending(ntm::sig::Kind kind, std::uint32_t key_id, F f)
	{
		std::size_t n = 0;
		for (auto &[k, p] : pending_)
			if (std::get<0>(k) == static_cast<std::uint32_t>(kind) && std::get<1>(k) == key_id &&
			    !p->abandoned && !p->result && f(*p))
				n++;
		return n;
	}
	std::map<TxKey, Cached> cache_;
	std::deque<std::pair<TxKey, std::chrono::steady_clock::time_point>> cache_order_;
	std::chrono::steady_clock::time_point notice_window_{};
	unsigned notices_in_window_ = 0;
	std::chrono::milliseconds rto_{500};
	unsigned retries_ = 5;
	bool stopped_ = false;
	/* group commit (sigio_batch.cpp) */
	struct Held {
		ntm::Endpoint to;
		std::vector<std::uint8_t> bytes; /* sealed */
	};
	BatchBegin batch_begin_;
	BatchCommit batch_commit_;
	SyncHandler sync_handler_;
	std::size_t batch_max_ = 64;
	bool holding_ = false;
	std::vector<Held> held_;
	std::vector<TxKey> batch_keys_;
	std::vector<Inbound> deferred_;
	std::uint64_t batches_failed_ = 0;
	std::uint64_t batch_drops_ = 0;
	SigDrops drops_;
	std::uint64_t rx_ = 0;
	std::uint64_t tx_ = 0;
};

/** A key id or communication id as logs show it: 0x1234abcd. */
std::string hex_id(std::uint32_t v);
/** Unix time in seconds (what the stores keep). */
std::int64_t unix_now() noexcept;

} // namespace ntmd

#endif
