// SPDX-License-Identifier: GPL-2.0
/*
 * The key exchange of a data tunnel (Documentation/protocol/tunnel-keys.rst):
 * an ephemeral X25519 exchange between the two nodes inside Tunnel Request
 * and Response, authenticated with K_auth (HKDF of K_tmp), with the data key,
 * the two direction salts and the confirmation key derived from the X25519
 * result and a hash of the whole transcript. K_tmp authenticates only: a
 * server that holds it (and K_tun, K_ntmdc and every captured message)
 * cannot compute the data keys.
 *
 * The order of the work is the protocol's: the waiter checks AUTH before any
 * X25519 work (Waiter's constructor), the opener checks the response's AUTH
 * before its X25519 work and CONFIRM before it returns keys
 * (Opener::finish). Private keys live in OpenSSL's EVP_PKEY (freed, and so
 * cleansed, with the Opener/Waiter); shared secrets and derived keys are
 * SecretBytes.
 */
#ifndef NTM_TUNNEL_KX_HPP
#define NTM_TUNNEL_KX_HPP

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntm/model.hpp"
#include "ntm/secret.hpp"
#include "ntm/sig.hpp"

namespace ntm::kx {

using Mac = std::array<std::uint8_t, 32>;

/** A refused exchange: what to answer (waiter) or to report (opener). */
class KxError : public std::runtime_error {
public:
	KxError(sig::Status s, const std::string &msg) : std::runtime_error(msg), status_(s) {}
	[[nodiscard]] sig::Status status() const noexcept { return status_; }

private:
	sig::Status status_;
};

/** One node of the communication as the transcript names it. */
struct Party {
	std::string fqdn;
	std::optional<IpAddress> vip4;
	std::optional<IpAddress> vip6;
};

/** What the request transcript binds besides the opener's INDEX and key. */
struct Context {
	std::uint32_t comm_id = 0;
	std::uint32_t generation = 0;
	Party opener;
	Party waiter;
	std::uint8_t cipher = 0;
};

/* ---- the spec's building blocks (public for the known-answer tests) ---- */

/** T_req (tunnel-keys.rst, "Transcript"). Throws std::invalid_argument for a bad key size or name. */
std::vector<std::uint8_t> request_transcript(const Context &c, std::uint32_t opener_index,
					     std::span<const std::uint8_t> opener_ephemeral);
/** T_resp: label | SHA-256(T_req) | waiter INDEX | waiter EPHEMERAL. */
std::vector<std::uint8_t> response_transcript(std::span<const std::uint8_t> t_req, std::uint32_t waiter_index,
					      std::span<const std::uint8_t> waiter_ephemeral);
/** TH = SHA-256(T_req | T_resp). */
Mac transcript_hash(std::span<const std::uint8_t> t_req, std::span<const std::uint8_t> t_resp);
/** K_auth = HKDF-SHA256(IKM K_tmp, salt be32 COMM_ID, info "ntm tunnel auth"), 32 bytes. */
SecretBytes auth_key(std::span<const std::uint8_t> k_tmp, std::uint32_t comm_id);

/** What both ends derive (tunnel-keys.rst, "Key schedule"). */
struct TunnelKeys {
	SecretBytes data_key;	 /* 32 bytes */
	Salt opener_salt{};	 /* tx salt of the opener, rx salt of the waiter */
	Salt waiter_salt{};	 /* tx salt of the waiter */
	SecretBytes confirm_key; /* 32 bytes */
};
/** PRK = HKDF-Extract(TH, shared); then one HKDF-Expand per output. */
TunnelKeys derive_keys(std::span<const std::uint8_t> shared, const Mac &th);
/** CONFIRM = HMAC-SHA256(confirmation key, "ntm tunnel confirm" | TH). */
Mac compute_confirm(const TunnelKeys &k, const Mac &th);

/* ---- the two roles ---- */

/** The opener: one per Tunnel Request (a fresh key pair each time). */
class Opener {
public:
	/** Draws the ephemeral key pair. k_tmp: the communication's K_tmp. */
	Opener(Context c, std::span<const std::uint8_t> k_tmp, std::uint32_t opener_index);
	/** A fixed private key instead (known-answer tests). */
	Opener(Context c, std::span<const std::uint8_t> k_tmp, std::uint32_t opener_index,
	       std::span<const std::uint8_t> private_key);
	~Opener();
	Opener(const Opener &) = delete;
	Opener &operator=(const Opener &) = delete;
	Opener(Opener &&) noexcept;
	Opener &operator=(Opener &&) noexcept;

	/** Sets FQDN, INDEX, CIPHER, VIP4/VIP6, GENERATION, EPHEMERAL and AUTH of a Tunnel Request. */
	void fill_request(sig::Message &req) const;

	/**
	 * Checks an OK Tunnel Response: AUTH (before any X25519 work), the
	 * X25519 result (not all zeros), CONFIRM, distinct salts. Throws
	 * KxError(auth_failed) on any failure; returns the keys otherwise.
	 */
	[[nodiscard]] TunnelKeys finish(const sig::Message &resp) const;

private:
	struct State;
	std::unique_ptr<State> s_;
};

/** The waiter's side of one Tunnel Request. */
class Waiter {
public:
	/**
	 * Verifies the request's AUTH under K_auth over T_req built from
	 * the request's own fields (opener FQDN, VIPs, CIPHER, INDEX,
	 * GENERATION, EPHEMERAL), waiter_party and comm_id. Throws
	 * KxError(auth_failed) when it does not verify; does no X25519 work.
	 * The caller then compares context() with what the DC said.
	 */
	Waiter(const sig::Message &req, std::uint32_t comm_id, Party waiter_party, std::span<const std::uint8_t> k_tmp);
	~Waiter();
	Waiter(const Waiter &) = delete;
	Waiter &operator=(const Waiter &) = delete;
	Waiter(Waiter &&) noexcept;
	Waiter &operator=(Waiter &&) noexcept;

	/** The authenticated request as the transcript saw it. */
	[[nodiscard]] const Context &context() const noexcept;

	/**
	 * Draws the waiter's key pair, computes the X25519 result (refusing a
	 * low-order opener key: KxError(malformed)), derives the keys (a new
	 * key pair when the two salts come out equal), and sets INDEX,
	 * EPHEMERAL, AUTH and CONFIRM of resp. private_key: a fixed key
	 * (known-answer tests; then equal salts throw KxError(internal)).
	 */
	[[nodiscard]] TunnelKeys answer(std::uint32_t waiter_index, sig::Message &resp,
					std::span<const std::uint8_t> private_key = {});

private:
	struct State;
	std::unique_ptr<State> s_;
};

} // namespace ntm::kx

#endif
