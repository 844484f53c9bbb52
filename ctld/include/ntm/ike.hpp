// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 (RFC 7296) message codec: the fixed header, every payload ntmd
 * understands, and the Encrypted payload (SK) for the AEAD transforms
 * (RFC 5282: AES-GCM; RFC 7634: ChaCha20-Poly1305).
 *
 * Nothing here does I/O and nothing keeps state. Parsing never trusts its
 * input: every failure is an ike::ParseError naming the notify a responder
 * should answer with (INVALID_SYNTAX, INVALID_MAJOR_VERSION,
 * UNSUPPORTED_CRITICAL_PAYLOAD) or none, when the message is to be dropped
 * silently (RFC 7296 section 2.21: failed integrity).
 *
 * Key derivation, DH, AUTH and signatures live in ntm/ike_crypto.hpp.
 */
#ifndef NTM_IKE_HPP
#define NTM_IKE_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ntm/model.hpp"
#include "ntm/secret.hpp"

namespace ntm::ike {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline constexpr std::size_t kHeaderLen = 28;
inline constexpr std::size_t kSpiLen = 8;
/* Largest message accepted or built; no fragmentation (RFC 7383) support. */
inline constexpr std::size_t kMaxMessage = 65535;
inline constexpr std::uint16_t kPortIke = 500;
inline constexpr std::uint16_t kPortNatT = 4500;
/* The four zero bytes in front of IKE on port 4500 (RFC 3948 section 2.2). */
inline constexpr std::size_t kNonEspMarkerLen = 4;

enum class Exchange : std::uint8_t {
	ike_sa_init = 34,
	ike_auth = 35,
	create_child_sa = 36,
	informational = 37,
};

/* Header flags (RFC 7296 section 3.1). */
inline constexpr std::uint8_t kFlagInitiator = 0x08;
inline constexpr std::uint8_t kFlagVersion = 0x10;
inline constexpr std::uint8_t kFlagResponse = 0x20;

enum class PayloadType : std::uint8_t {
	none = 0,
	sa = 33,
	ke = 34,
	idi = 35,
	idr = 36,
	cert = 37,
	certreq = 38,
	auth = 39,
	nonce = 40,
	notify = 41,
	del = 42,
	vendor = 43,
	tsi = 44,
	tsr = 45,
	sk = 46,
	cp = 47,
	eap = 48,
	skf = 53,
};

enum class Protocol : std::uint8_t { none = 0, ike = 1, ah = 2, esp = 3 };

enum class TransformType : std::uint8_t { encr = 1, prf = 2, integ = 3, dh = 4, esn = 5 };

/* Transform IDs ntmd implements; others parse fine and are never chosen. */
enum class Encr : std::uint16_t { aes_gcm_16 = 20, chacha20_poly1305 = 28 };
enum class Prf : std::uint16_t { hmac_sha2_256 = 5, hmac_sha2_384 = 6, hmac_sha2_512 = 7 };
enum class DhGroup : std::uint16_t { none = 0, ecp256 = 19, curve25519 = 31 };
enum class Esn : std::uint16_t { no = 0, yes = 1 };
inline constexpr std::uint16_t kAttrKeyLength = 14; /* TV format, bits */

enum class IdType : std::uint8_t {
	ipv4_addr = 1,
	fqdn = 2,
	rfc822_addr = 3,
	ipv6_addr = 5,
	der_asn1_dn = 9,
	key_id = 11,
};

enum class AuthMethod : std::uint8_t { rsa_sig = 1, psk = 2, dss_sig = 3, digital_signature = 14 };
enum class CertEncoding : std::uint8_t { x509_sig = 4 };

enum class TsType : std::uint8_t { ipv4_range = 7, ipv6_range = 8 };

/* Notify message types (IANA "IKEv2 Notify Message Types"). */
enum class NotifyType : std::uint16_t {
	unsupported_critical_payload = 1,
	invalid_ike_spi = 4,
	invalid_major_version = 5,
	invalid_syntax = 7,
	invalid_message_id = 9,
	invalid_spi = 11,
	no_proposal_chosen = 14,
	invalid_ke_payload = 17,
	authentication_failed = 24,
	single_pair_required = 34,
	no_additional_sas = 35,
	internal_address_failure = 36,
	failed_cp_required = 37,
	ts_unacceptable = 38,
	invalid_selectors = 39,
	temporary_failure = 43,
	child_sa_not_found = 44,
	/* status types, >= 16384 */
	initial_contact = 16384,
	set_window_size = 16385,
	additional_ts_possible = 16386,
	ipcomp_supported = 16387,
	nat_detection_source_ip = 16388,
	nat_detection_destination_ip = 16389,
	cookie = 16390,
	use_transport_mode = 16391,
	http_cert_lookup_supported = 16392,
	rekey_sa = 16393,
	esp_tfc_padding_not_supported = 16394,
	non_first_fragments_also = 16395,
	mobike_supported = 16396,
	additional_ip4_address = 16397,
	additional_ip6_address = 16398,
	no_additional_addresses = 16399,
	update_sa_addresses = 16400,
	cookie2 = 16401,
	no_nats_allowed = 16402,
	multiple_auth_supported = 16404,
	redirect_supported = 16406,
	ikev2_fragmentation_supported = 16430,
	signature_hash_algorithms = 16431,
};
/* Notify types below this are errors (RFC 7296 section 3.10.1). */
inline constexpr std::uint16_t kNotifyStatusMin = 16384;

/* Hash algorithm identifiers of SIGNATURE_HASH_ALGORITHMS (RFC 7427). */
enum class HashAlg : std::uint16_t { sha2_256 = 2, sha2_384 = 3, sha2_512 = 4, identity = 5 };

/** "IKE_SA_INIT", "IKE_AUTH", ...; "EXCHANGE(n)" for others. */
std::string exchange_name(std::uint8_t e);
/** "NO_PROPOSAL_CHOSEN", "NAT_DETECTION_SOURCE_IP", ...; "NOTIFY(n)" for others. */
std::string notify_name(std::uint16_t n);
/** "AES_GCM_16_256", "CHACHA20_POLY1305", "PRF_HMAC_SHA2_256", "ECP_256", "CURVE_25519". */
std::string transform_name(TransformType type, std::uint16_t id, std::optional<std::uint16_t> key_bits = {});

/**
 * A parse or validation failure. notify() is what a responder answers with
 * (RFC 7296 section 2.21), or nothing when the message is dropped silently.
 */
class ParseError : public std::runtime_error {
public:
	ParseError(std::optional<NotifyType> n, const std::string &msg) : std::runtime_error(msg), notify_(n) {}
	ParseError(std::optional<NotifyType> n, const std::string &msg, std::vector<std::uint8_t> data)
		: std::runtime_error(msg), notify_(n), data_(std::move(data))
	{}
	[[nodiscard]] std::optional<NotifyType> notify() const noexcept { return notify_; }
	/**
	 * The Notification Data to send with notify(): the one-octet type of
	 * the payload for UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 section 3.10.1),
	 * empty otherwise.
	 */
	[[nodiscard]] const std::vector<std::uint8_t> &notify_data() const noexcept { return data_; }

private:
	std::optional<NotifyType> notify_;
	std::vector<std::uint8_t> data_;
};

struct Header {
	std::uint64_t spi_i = 0; /* host order; the wire carries 8 bytes big endian */
	std::uint64_t spi_r = 0;
	PayloadType next = PayloadType::none;
	std::uint8_t major = 2;
	std::uint8_t minor = 0;
	Exchange exchange = Exchange::ike_sa_init;
	std::uint8_t flags = 0;
	std::uint32_t msgid = 0;
	std::uint32_t length = 0; /* filled in by the encoders */

	[[nodiscard]] bool is_response() const noexcept { return (flags & kFlagResponse) != 0; }
	[[nodiscard]] bool from_initiator() const noexcept { return (flags & kFlagInitiator) != 0; }
};

struct Transform {
	TransformType type = TransformType::encr;
	std::uint16_t id = 0;
	std::optional<std::uint16_t> key_bits; /* Key Length attribute */
	friend bool operator==(const Transform &, const Transform &) = default;
};

struct Proposal {
	std::uint8_t num = 1;
	Protocol protocol = Protocol::ike;
	Bytes spi; /* empty for IKE in IKE_SA_INIT, 8 bytes for IKE rekey, 4 for ESP */
	std::vector<Transform> transforms;
	friend bool operator==(const Proposal &, const Proposal &) = default;
};

struct KeyExchange {
	DhGroup group = DhGroup::none;
	Bytes data;
};

struct Identity {
	IdType type = IdType::fqdn;
	Bytes data;
	/** The ID payload body after the generic header: type, 3 reserved, data (input of AUTH). */
	[[nodiscard]] Bytes body() const;
	/** "fqdn:host.example", "ipv4:192.0.2.1", "dn:<hex>", ... for logs. */
	[[nodiscard]] std::string to_string() const;
	friend bool operator==(const Identity &, const Identity &) = default;
};

struct Cert {
	CertEncoding encoding = CertEncoding::x509_sig;
	Bytes data;
};

struct CertReq {
	CertEncoding encoding = CertEncoding::x509_sig;
	Bytes data; /* concatenated SHA-1 hashes of CA public keys */
};

struct Auth {
	AuthMethod method = AuthMethod::psk;
	Bytes data;
};

struct Notify {
	Protocol protocol = Protocol::none;
	Bytes spi;
	std::uint16_t type = 0;
	Bytes data;
	[[nodiscard]] bool is_error() const noexcept { return type < kNotifyStatusMin; }
};

struct Delete {
	Protocol protocol = Protocol::ike;
	std::vector<Bytes> spis; /* empty for IKE; 4 bytes each for ESP */
};

/** An address range with protocol and port range (RFC 7296 section 3.13.1). */
struct TrafficSelector {
	TsType type = TsType::ipv4_range;
	std::uint8_t ip_proto = 0; /* 0: any */
	std::uint16_t start_port = 0;
	std::uint16_t end_port = 0xffff;
	IpAddress start;
	IpAddress end;

	/** The selector covering every address of family af, every protocol and port. */
	static TrafficSelector any(int af);
	/** The selector of a prefix, every protocol and port. */
	static TrafficSelector from_prefix(const IpAddress &addr, unsigned len);
	/** The prefix length when [start, end] is exactly one CIDR prefix, else nothing. */
	[[nodiscard]] std::optional<unsigned> prefix_len() const;
	/** "10.1.0.0/16", "10.1.0.5-10.1.0.9", with "[proto/ports]" when not any. */
	[[nodiscard]] std::string to_string() const;
	friend bool operator==(const TrafficSelector &, const TrafficSelector &) = default;
};

/**
 * The payloads of one message (plain, or inside SK). The encoder writes them
 * in this order: Notify COOKIE (must be first, RFC 7296 section 2.6), SA, KE,
 * Nonce, IDi, CERT..., CERTREQ..., IDr, AUTH, remaining Notify..., Delete...,
 * TSi, TSr, Vendor ID...; the parser accepts any order and keeps the order of
 * repeated payloads.
 */
struct Payloads {
	std::vector<Proposal> sa; /* empty: no SA payload */
	bool has_sa = false;
	std::optional<KeyExchange> ke;
	std::optional<Bytes> nonce;
	std::optional<Identity> idi;
	std::optional<Identity> idr;
	std::vector<Cert> certs;
	std::vector<CertReq> certreqs;
	std::optional<Auth> auth;
	std::vector<Notify> notifies;
	std::vector<Delete> deletes;
	std::optional<std::vector<TrafficSelector>> tsi;
	std::optional<std::vector<TrafficSelector>> tsr;
	std::vector<Bytes> vendor_ids;
	bool has_cp = false; /* a Configuration payload was seen (ntmd has no CP support) */
	bool has_eap = false;

	/** The first notify of this type, or nullptr. */
	[[nodiscard]] const Notify *find(NotifyType t) const noexcept;
	/** The first error notify (type < 16384), or nullptr. */
	[[nodiscard]] const Notify *first_error() const noexcept;
};

/**
 * Parses the fixed header. Checks: at least 28 bytes, length field equals
 * msg.size() and is at most kMaxMessage, major version 2 (else
 * INVALID_MAJOR_VERSION). Does not look at the payloads.
 */
Header parse_header(ByteView msg);

/**
 * Parses a chain of payloads starting with type first. Unknown non-critical
 * payloads are skipped; an unknown critical one throws with
 * UNSUPPORTED_CRITICAL_PAYLOAD. Lengths are checked against the buffer and
 * every payload's own minimum; SK must not appear here.
 */
Payloads parse_payloads(PayloadType first, ByteView chain);

/** Parses an unencrypted message (IKE_SA_INIT): header + payloads. */
Payloads parse_plain(ByteView msg, Header &hdr_out);

/** Encodes an unencrypted message; hdr.length and hdr.next are filled in. */
Bytes encode_plain(Header hdr, const Payloads &p);

/** The keys protecting one direction of SK payloads: key || 4-byte salt. */
struct SkKey {
	Encr encr = Encr::aes_gcm_16;
	SecretBytes key; /* 16/24/32 (+4 salt) for AES-GCM, 32 (+4) for ChaCha20 */
};

/**
 * Encodes a message whose only payload is SK carrying p (RFC 7296 section
 * 3.14, RFC 5282 AEAD layout: 8-byte IV, no pad beyond the mandatory pad
 * length byte, 16-byte ICV). The IV is the 64-bit counter iv_counter, which
 * the caller never repeats for a key (the message ID is not enough: a
 * retransmitted response is sent again byte for byte, not re-encrypted).
 */
Bytes encode_encrypted(Header hdr, const Payloads &p, const SkKey &key, std::uint64_t iv_counter);

/**
 * Checks the header (see parse_header) and, when the first payload is SK,
 * authenticates and decrypts it with key and parses the inner chain. An ICV
 * failure throws ParseError without a notify (drop silently). A message
 * whose first payload is not SK throws INVALID_SYNTAX.
 */
Payloads parse_encrypted(ByteView msg, const SkKey &key, Header &hdr_out);

/* ---- the SK AEAD (exposed for published test vectors) ---- */

inline constexpr std::size_t kSkIvLen = 8;
inline constexpr std::size_t kSkIcvLen = 16;

/**
 * The AEAD of SK payloads: nonce = salt (last 4 bytes of key.key) | iv
 * (RFC 5282 section 4, RFC 7634 section 2). Returns ciphertext | 16-byte ICV.
 * Throws std::invalid_argument for a key or IV of the wrong size.
 */
Bytes sk_seal(const SkKey &key, ByteView iv, ByteView aad, ByteView plaintext);
/** Inverse of sk_seal(); nullopt when the ICV does not verify or the input is shorter than the ICV. */
std::optional<SecretBytes> sk_open(const SkKey &key, ByteView iv, ByteView aad, ByteView ciphertext_with_icv);

/** SPI helpers: an ESP SPI as 4 bytes big endian and back. */
Bytes esp_spi_bytes(std::uint32_t spi);
std::optional<std::uint32_t> esp_spi_value(ByteView spi);
/** An IKE SPI (8 bytes big endian, as in a rekey proposal) and back. */
Bytes ike_spi_bytes(std::uint64_t spi);
std::optional<std::uint64_t> ike_spi_value(ByteView spi);

} // namespace ntm::ike

#endif
