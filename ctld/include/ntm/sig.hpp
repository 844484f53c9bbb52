// SPDX-License-Identifier: GPL-2.0
/*
 * NTMobile signalling, version 1: message bodies (TLV), the sealed UDP
 * envelope, NOTICEs, the replay window, and the primitives (AEAD, HKDF,
 * HMAC) they and the tunnel key exchange (ntm/tunnel_kx.hpp) use. The wire
 * format is specified in Documentation/protocol/signalling.rst; this header
 * follows it name for name.
 *
 * Nothing here does I/O. Parsing never trusts its input: every error is a
 * sig::ParseError carrying the status code a responder should answer with.
 */
#ifndef NTM_SIG_HPP
#define NTM_SIG_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/model.hpp"
#include "ntm/secret.hpp"

namespace ntm::sig {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kBodyHeaderLen = 8;
inline constexpr std::size_t kMaxBody = 1200;
inline constexpr std::size_t kMaxTlvValue = 255;
inline constexpr std::size_t kEnvelopeHeaderLen = 16;
inline constexpr std::size_t kTagLen = 16;
inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kConfirmLen = 32;
inline constexpr std::size_t kEphemeralLen = 32; /* an X25519 public key */
inline constexpr std::size_t kAuthLen = 32;	  /* HMAC-SHA256 */
inline constexpr std::uint16_t kDefaultPort = 7480;
inline constexpr std::uint16_t kDefaultAsPort = 7481;
inline constexpr std::uint16_t kDefaultDcTlsPort = 7482;
inline constexpr std::size_t kMaxFrame = 65535; /* TLS framing: be32 length + body */

enum class MsgType : std::uint8_t {
	login = 1,
	key_distribution = 2,
	registration = 3,
	keepalive = 4,
	direction = 5,
	route_direction = 6,
	tunnel = 7,
	deregistration = 8,
	/* relays (Documentation/protocol/relay.rst) */
	key_sharing = 9,     /* DC -> RS over TLS */
	relay_direction = 10, /* DC -> RS over TLS */
	relay_release = 11,  /* DC -> RS over TLS */
	relay_bind = 12,     /* node -> RS, kind 0x11 */
	probe = 13,	     /* node -> node, kind 0x11 */
};
inline constexpr std::uint8_t kFlagResponse = 0x01;

enum class Status : std::uint16_t {
	ok = 0,
	malformed = 1,
	unsupported_version = 2,
	unsupported_tlv = 3,
	auth_failed = 4,
	unknown_key = 5,
	key_expired = 6,
	not_found = 7,
	peer_offline = 8,
	no_route = 9,
	pool_exhausted = 10,
	dc_unreachable = 11,
	not_registered = 12,
	internal = 13,
	fqdn_mismatch = 14,
	key_id_in_use = 15, /* Key Distribution: the DC holds a live key with this KEY_ID */
};

enum class Tlv : std::uint16_t {
	status = 1,
	error_text = 2,
	account = 3,
	password = 4,
	fqdn = 5,
	key_id = 6,
	key = 7,
	lifetime = 8,
	peer_fqdn = 9,
	vip4 = 10,
	vip6 = 11,
	pool4 = 12,
	pool6 = 13,
	local_ep = 14,
	external_ep = 15,
	interval = 16,
	comm_id = 17,
	k_tun = 18,
	k_tmp = 19,
	action = 20,
	peer_ep = 21,
	peer_vip4 = 22,
	peer_vip6 = 23,
	ciphers = 24,
	cipher = 25,
	/* 26 was SEALED_KEY (K_mncn sealed with K_tmp, dropped for the X25519
	 * exchange of tunnel-keys.rst): reserved, decoded as an unknown TLV */
	reserved_sealed_key = 26,
	index = 27,
	confirm = 28,
	nated = 29,
	/* the tunnel key exchange (Documentation/protocol/tunnel-keys.rst) */
	ephemeral = 30,
	auth = 31,
	generation = 32,
	/* relays and route optimisation (Documentation/protocol/relay.rst): 40..48 */
	relay_ep = 40,
	leg = 41,
	capacity = 42,
	sessions = 43,
	observed_ep = 44,
	peer_local_ep = 45,
	probe_nonce = 46,
	path = 47,
	nat_mapping = 48,
};
inline constexpr std::uint16_t kTlvCritical = 0x8000;

enum class Action : std::uint8_t { open = 1, wait = 2 };
/** LEG: which node of a relayed communication a message speaks for. */
enum class Leg : std::uint8_t { opener = 1, waiter = 2 };
/** PATH in a Route Direction: relayed (and probe for a direct path), direct, or relayed for good. */
enum class Path : std::uint8_t { relay = 1, direct = 2, relay_only = 3 };
/** NAT_MAPPING: how the sender's NAT maps, as the sender measured it. */
enum class NatMapping : std::uint8_t { unknown = 0, endpoint_independent = 1, per_destination = 2 };
inline constexpr std::size_t kProbeNonceLen = 16;
inline constexpr std::size_t kMaxRelayEps = 2; /* one per family */
inline constexpr std::size_t kMaxPeerLocalEps = 8;

/** First word of a signalling datagram. */
enum class Kind : std::uint32_t { dc = 0x10, tun = 0x11, notice = 0x12 };

/** Sender role, the first 4 bytes of the nonce. */
enum class Direction : std::uint32_t { node = 1, dc = 2, opener = 3, waiter = 4, rs_to_opener = 5, rs_to_waiter = 6 };

/** "login", "key distribution", ...; "unknown" for other values. */
std::string_view msg_type_name(MsgType t) noexcept;
/** The spec's names: "OK", "MALFORMED", ...; "UNKNOWN_STATUS" for codes this version does not know. */
std::string_view status_name(Status s) noexcept;
/** "login request", "route direction ack", ... for logs. */
std::string message_name(MsgType t, bool response);

/** A parse or validation failure; status() is what to answer. */
class ParseError : public std::runtime_error {
public:
	ParseError(Status s, const std::string &msg) : std::runtime_error(msg), status_(s) {}
	[[nodiscard]] Status status() const noexcept { return status_; }

private:
	Status status_;
};

/** An IPv4 or IPv6 network (POOL4 / POOL6): the model's ntm::Prefix. */
using Prefix = ntm::Prefix;

/**
 * One message body. Fields map 1:1 to TLVs; unset optionals (and empty
 * vectors/strings/keys) are not encoded. Secret fields wipe themselves.
 */
struct Message {
	MsgType type = MsgType::keepalive;
	bool response = false;
	std::uint32_t txid = 0;

	std::optional<Status> status;
	std::string error_text;
	std::string account;
	SecretText password; /* no NUL terminator; empty = absent */
	std::string fqdn;
	std::optional<std::uint32_t> key_id;
	SecretBytes key; /* K_ntmdc, kKeyLen when present */
	std::optional<std::uint32_t> lifetime;
	std::string peer_fqdn;
	std::optional<IpAddress> vip4;
	std::optional<IpAddress> vip6;
	std::optional<Prefix> pool4;
	std::optional<Prefix> pool6;
	std::vector<Endpoint> local_eps;
	std::optional<Endpoint> external_ep;
	std::optional<std::uint16_t> interval;
	std::optional<std::uint32_t> comm_id;
	SecretBytes k_tun;
	SecretBytes k_tmp;
	std::optional<Action> action;
	std::optional<Endpoint> peer_ep;
	std::optional<IpAddress> peer_vip4;
	std::optional<IpAddress> peer_vip6;
	std::vector<std::uint8_t> ciphers;
	std::optional<std::uint8_t> cipher;
	std::optional<std::uint32_t> index;
	std::vector<std::uint8_t> confirm; /* kConfirmLen when present */
	std::optional<bool> nated;
	std::vector<std::uint8_t> ephemeral; /* kEphemeralLen when present */
	std::vector<std::uint8_t> auth;	     /* kAuthLen when present */
	std::optional<std::uint32_t> generation;
	/* relays */
	std::vector<Endpoint> relay_eps; /* at most kMaxRelayEps, one per family */
	std::optional<Leg> leg;
	std::optional<std::uint32_t> capacity;
	std::optional<std::uint32_t> sessions;
	std::optional<Endpoint> observed_ep;
	std::vector<Endpoint> peer_local_eps; /* at most kMaxPeerLocalEps */
	std::vector<std::uint8_t> probe_nonce; /* kProbeNonceLen when present */
	std::optional<Path> path;
	std::optional<NatMapping> nat_mapping;
};

/** A response to req: same type and txid, R set, status s. */
Message make_response(const Message &req, Status s, std::string error_text = {});

/**
 * Body -> bytes. Throws std::invalid_argument when a field is out of range
 * (a name that is not a valid DNS name, a key of the wrong size, text that
 * is not UTF-8 or contains NUL, txid 0, an unknown type) or the body
 * exceeds kMaxBody. TLVs are written in the order of their types.
 */
std::vector<std::uint8_t> encode(const Message &m);

/**
 * Bytes -> body: version, lengths, TLV sizes, duplicates, unknown critical
 * TLVs, DNS-name syntax. Does not check which TLVs the type requires
 * (validate() does). Throws ParseError: unsupported_version for a version
 * other than 1, unsupported_tlv for an unknown critical TLV, malformed for
 * everything else (also an unknown message type, txid 0, text that is not
 * UTF-8 or holds NUL). Whatever decodes encodes again.
 */
Message decode(std::span<const std::uint8_t> body);

/**
 * Checks that m carries the TLVs its type and direction require (spec,
 * section Messages). Error responses (status != ok) need only STATUS.
 * Throws ParseError(Status::malformed).
 */
void validate(const Message &m);

/** DNS-name syntax of the spec: lower case, no trailing dot, <= 253. */
bool valid_dns_name(std::string_view name) noexcept;

/**
 * The fixed 8 bytes of a body, read without any other check, so that a
 * responder can answer a request decode() rejected (MALFORMED,
 * UNSUPPORTED_VERSION) with its type and transaction id. nullopt when
 * shorter than kBodyHeaderLen. type is the raw byte (may be unknown).
 */
struct BodyHeader {
	std::uint8_t version = 0;
	std::uint8_t type = 0;
	bool response = false;
	std::uint32_t txid = 0;
};
std::optional<BodyHeader> peek_body(std::span<const std::uint8_t> body) noexcept;

/* ---- UDP envelope ---- */

struct EnvelopeHeader {
	Kind kind = Kind::dc;
	std::uint32_t key_id = 0;
	std::uint64_t seq = 0;
};

/** Header of a signalling datagram, or nullopt (short, or kind not ours). */
std::optional<EnvelopeHeader> peek_header(std::span<const std::uint8_t> datagram) noexcept;

/**
 * Seals body under key (32 bytes) with ChaCha20-Poly1305. Throws
 * std::invalid_argument for kind notice, seq 0 or a key of another size.
 */
std::vector<std::uint8_t> seal(const EnvelopeHeader &h, Direction dir, std::span<const std::uint8_t> key,
			       std::span<const std::uint8_t> body);

/**
 * Opens a sealed datagram (header included) that was sealed by a sender of
 * direction dir. nullopt when authentication fails or the datagram is too
 * short (also for a NOTICE or seq 0); the plaintext body otherwise.
 * Throws std::invalid_argument for a key that is not kKeyLen bytes.
 */
std::optional<std::vector<std::uint8_t>> open(std::span<const std::uint8_t> datagram, Direction dir,
					      std::span<const std::uint8_t> key);

/**
 * NOTICE datagram: header (kind notice, key id, seq 0) + u16 status, which
 * is UNKNOWN_KEY or KEY_EXPIRED (else std::invalid_argument). decode_notice()
 * takes exactly that: 18 bytes, seq 0, one of the two statuses.
 */
std::vector<std::uint8_t> encode_notice(std::uint32_t key_id, Status s);
struct Notice {
	std::uint32_t key_id = 0;
	Status status = Status::ok;
};
std::optional<Notice> decode_notice(std::span<const std::uint8_t> datagram) noexcept;

/** TLS framing: be32 length | body. */
std::vector<std::uint8_t> frame(std::span<const std::uint8_t> body);

/** 64-entry sliding window over sequence numbers (per key and direction). */
class ReplayWindow {
public:
	/** True when seq is new (not seen, not older than the window). Does not record. */
	[[nodiscard]] bool check(std::uint64_t seq) const noexcept;
	/** Records seq (call after authentication). */
	void update(std::uint64_t seq) noexcept;
	/**
	 * A window restored after a restart: every number up to floor counts
	 * as seen, since which of them arrived is not known.
	 */
	void restore(std::uint64_t floor) noexcept;
	[[nodiscard]] std::uint64_t highest() const noexcept { return top_; }

private:
	std::uint64_t top_ = 0;
	std::uint64_t bits_ = 0; /* bit i: top_ - i seen */
};

/* ---- crypto helpers (OpenSSL) ---- */

/** Cryptographically random bytes; throws ntm::Error on RNG failure. */
void random_fill(std::span<std::uint8_t> out);
SecretBytes random_key();
/** A random u32 that is not 0. */
std::uint32_t random_u32_nonzero();

/** Constant-time comparison of two MACs (false unless both are kConfirmLen bytes). */
bool mac_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

/* ---- primitives (exposed for the published test vectors) ---- */

inline constexpr std::size_t kAeadNonceLen = 12;

/**
 * ChaCha20-Poly1305 (RFC 8439): ciphertext with the 16-byte tag appended.
 * Throws std::invalid_argument for a key that is not kKeyLen or a nonce
 * that is not kAeadNonceLen bytes, ntm::Error when OpenSSL fails.
 */
std::vector<std::uint8_t> aead_seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
				    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext);
/** Inverse of aead_seal(); nullopt when the tag does not verify or the input is shorter than the tag. */
std::optional<std::vector<std::uint8_t>> aead_open(std::span<const std::uint8_t> key,
						   std::span<const std::uint8_t> nonce,
						   std::span<const std::uint8_t> aad,
						   std::span<const std::uint8_t> ciphertext_with_tag);

/**
 * HKDF-SHA256 (RFC 5869), extract and expand. An empty salt is the RFC's
 * default (zeros). Throws std::invalid_argument unless 1 <= length <= 8160.
 */
SecretBytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
			std::span<const std::uint8_t> info, std::size_t length);
/** HKDF-Extract (RFC 5869 section 2.2): the 32-byte PRK. Throws like hkdf_sha256(). */
SecretBytes hkdf_extract(std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm);
/** HKDF-Expand (RFC 5869 section 2.3) of a PRK of at least 32 bytes. Throws like hkdf_sha256(). */
SecretBytes hkdf_expand(std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info, std::size_t length);

/** HMAC-SHA256 (RFC 2104). Throws ntm::Error when OpenSSL fails. */
std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

} // namespace ntm::sig

#endif
