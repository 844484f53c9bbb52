// SPDX-License-Identifier: GPL-2.0
/*
 * The Relay Server's signalling (Documentation/protocol/relay.rst): the
 * communications the DCs asked it to relay, the Relay Binds that tell it
 * where each node is, the node<->node envelopes it forwards between bound
 * legs, and the kernel relay sessions it creates once both receiver
 * indexes are known.
 *
 * No I/O here: datagrams come in through on_datagram() and leave through
 * the Send callback, DC orders arrive as decoded messages, and the kernel
 * is reached through the RelayKernel interface. So the whole state
 * machine runs in unit tests.
 *
 * Rules it enforces: nothing is answered or forwarded before the envelope
 * authenticates under the communication's K_tun and passes the replay
 * window of its direction; a leg's endpoint changes only with an
 * authentic Relay Bind from the new address; node<->node envelopes are
 * forwarded only from a bound leg's endpoint to the other bound leg. Every
 * refusal is a counted drop.
 */
#ifndef NTMD_RELAY_ENGINE_HPP
#define NTMD_RELAY_ENGINE_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ntm/model.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"

namespace ntmd {

/** One leg of a kernel relay session: where the node is and its receiver index. */
struct RelayLeg {
	ntm::Endpoint endpoint;
	std::uint32_t index = 0;
};

/** What the engine needs from ntm.ko; implemented over genetlink by the rs role, faked in tests. */
class RelayKernel {
public:
	RelayKernel() = default;
	RelayKernel(const RelayKernel &) = delete;
	RelayKernel &operator=(const RelayKernel &) = delete;
	RelayKernel(RelayKernel &&) = delete;
	RelayKernel &operator=(RelayKernel &&) = delete;
	virtual ~RelayKernel() = default;
	/** Adds session id joining a and b. Throws on failure. */
	virtual void add(std::uint32_t id, const RelayLeg &a, const RelayLeg &b) = 0;
	/** Moves leg 0 (a) or 1 (b) of session id. Throws on failure. */
	virtual void move(std::uint32_t id, unsigned leg, const ntm::Endpoint &to) = 0;
	/** Removes session id; never throws (logs). */
	virtual void remove(std::uint32_t id) noexcept = 0;
};

/** Counted refusals of the relay's signalling. */
struct RelayDrops {
	std::uint64_t malformed = 0;   /* not a kind 0x11 envelope, or a body that does not parse */
	std::uint64_t unknown = 0;     /* no communication with that COMM_ID */
	std::uint64_t auth = 0;	       /* does not open under K_tun in either node direction */
	std::uint64_t replay = 0;      /* sequence seen or too old in its direction */
	std::uint64_t unbound = 0;     /* from an address that is not the bound leg's */
	std::uint64_t peer_unbound = 0; /* the other node has not bound yet */
	std::uint64_t wrong_leg = 0;   /* a Relay Bind for the other node's leg */
	std::uint64_t kernel = 0;      /* programming ntm.ko failed */
	[[nodiscard]] nlohmann::json to_json() const;
};

class RelayEngine {
public:
	using Clock = std::chrono::steady_clock;
	using Send = std::function<void(const ntm::Endpoint &to, std::span<const std::uint8_t> datagram)>;

	/**
	 * relay_eps: the RS's endpoints nodes send to (one per family);
	 * capacity: communications at most; old_session_grace: how long the
	 * kernel session of a replaced pair of indexes (a rekey) is kept so
	 * that packets in flight under the old keys still arrive.
	 */
	RelayEngine(RelayKernel &kernel, Send send, std::vector<ntm::Endpoint> relay_eps, std::uint32_t capacity,
		    std::chrono::seconds old_session_grace = std::chrono::seconds(30));

	/* ---- orders from a DC (decoded, validated requests; the answer is returned) ---- */
	ntm::sig::Message on_relay_direction(const ntm::sig::Message &req, Clock::time_point now);
	ntm::sig::Message on_relay_release(const ntm::sig::Message &req);
	/** The Key Sharing Ack: this relay's endpoints, capacity and load (the DC asks every few seconds). */
	ntm::sig::Message key_sharing_ack(const ntm::sig::Message &req) const;

	/* ---- from the nodes ---- */
	/** A datagram the kernel left on the relay's socket. */
	void on_datagram(std::span<const std::uint8_t> datagram, const ntm::Endpoint &from, Clock::time_point now);

	/* ---- housekeeping ---- */
	/** Removes communications past their lifetime and old kernel sessions past their grace. */
	void expire(Clock::time_point now);
	/**
	 * The kernel removed session id. After idleness (idle: true) the
	 * communication keeps its indexes and the next Relay Bind creates the
	 * session again; after a limit the nodes must exchange new indexes.
	 */
	void kernel_session_gone(std::uint32_t id, bool idle);
	/** Removes every kernel session (shutdown). */
	void clear() noexcept;

	[[nodiscard]] std::size_t communications() const noexcept { return comms_.size(); }
	[[nodiscard]] std::size_t kernel_sessions() const noexcept { return by_session_.size(); }
	[[nodiscard]] const RelayDrops &drops() const noexcept { return drops_; }
	[[nodiscard]] nlohmann::json status() const;
	/** One entry per communication: legs, indexes, kernel session ids. */
	[[nodiscard]] nlohmann::json list() const;

private:
	struct Side {
		std::optional<ntm::Endpoint> endpoint; /* from its last authentic Relay Bind */
		std::optional<std::uint32_t> index;    /* its receiver index, from the Tunnel Request/Response */
		ntm::sig::ReplayWindow rx;
		std::uint64_t tx_seq = 0; /* the relay's own sequence toward this node */
		std::string fqdn;
	};
	struct Comm {
		std::uint32_t id = 0;
		ntm::SecretBytes k_tun;
		Clock::time_point expires;
		Side opener;
		Side waiter;
		std::uint32_t session = 0; /* current kernel session, 0: none */
		std::uint32_t session_opener_index = 0; /* the indexes it was created with */
		std::uint32_t session_waiter_index = 0;
		std::uint32_t pending_opener_index = 0; /* from a Tunnel Request not yet answered */
		std::vector<std::pair<std::uint32_t, Clock::time_point>> old_sessions; /* replaced, removed later */
		std::uint64_t forwarded = 0;
	};

	void bind(Comm &c, Side &side, bool opener_side, const ntm::sig::Message &m, const ntm::Endpoint &from,
		  Clock::time_point now);
	void forward(Comm &c, bool from_opener, const ntm::sig::Message &m, std::span<const std::uint8_t> datagram,
		     const ntm::Endpoint &from, Clock::time_point now);
	void program(Comm &c, Clock::time_point now);
	void drop_comm(std::map<std::uint32_t, Comm>::iterator it);
	std::uint32_t new_session_id();

	RelayKernel &kernel_;
	Send send_;
	std::vector<ntm::Endpoint> relay_eps_;
	std::uint32_t capacity_;
	std::chrono::seconds grace_;
	std::map<std::uint32_t, Comm> comms_;		    /* by COMM_ID */
	std::map<std::uint32_t, std::uint32_t> by_session_; /* kernel session id -> COMM_ID */
	std::uint32_t next_session_ = 1;
	RelayDrops drops_;
	std::uint64_t binds_ = 0;
	std::uint64_t forwarded_ = 0;
	std::uint64_t sessions_created_ = 0;
	std::uint64_t sessions_restored_ = 0; /* created again by a Relay Bind after an idle removal */
};

} // namespace ntmd

#endif
