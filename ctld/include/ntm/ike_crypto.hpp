// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 cryptography on OpenSSL 3: the PRF and prf+, Diffie-Hellman groups 19
 * (RFC 5903) and 31 (RFC 8031), the key schedule of IKE and CHILD SAs (RFC
 * 7296 sections 2.13-2.18), the AUTH payload for pre-shared keys and
 * digital signatures (RFC 7427 with ECDSA and Ed25519), NAT detection hashes
 * and COOKIE computation.
 *
 * Secrets are SecretBytes and wipe themselves. Every failure of a peer's
 * value (a point not on the curve, an all-zero X25519 result) throws
 * CryptoError; failures of OpenSSL itself throw ntm::Error.
 */
#ifndef NTM_IKE_CRYPTO_HPP
#define NTM_IKE_CRYPTO_HPP

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include <openssl/evp.h>

#include "ntm/ike.hpp"
#include "ntm/model.hpp"
#include "ntm/secret.hpp"

namespace ntm::ike {

class CryptoError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/** Output (and preferred key) length of a PRF in bytes: 32, 48, 64. */
std::size_t prf_len(Prf prf);
/** HMAC with the PRF's hash. */
SecretBytes prf(Prf p, ByteView key, ByteView data);
/** prf+ (RFC 7296 section 2.13): len bytes of T1 | T2 | ...; len <= 255 * prf_len. */
SecretBytes prf_plus(Prf p, ByteView key, ByteView seed, std::size_t len);

/** Whether ntmd implements the transform. */
bool supported(Encr e, std::optional<std::uint16_t> key_bits);
bool supported(Prf p);
bool supported(DhGroup g);
/** Key bytes of an AEAD transform without the salt: 16/24/32 for AES-GCM, 32 for ChaCha20. */
std::size_t encr_key_len(Encr e, std::optional<std::uint16_t> key_bits);
/** Salt bytes that follow the key in keying material: 4 for both AEADs. */
inline constexpr std::size_t kAeadSaltLen = 4;
/** Public value length of a group: 64 for ECP-256 (x | y), 32 for Curve25519. */
std::size_t dh_public_len(DhGroup g);

/** An ephemeral Diffie-Hellman key pair. */
class DhKey {
public:
	/** A fresh key pair of the group; throws CryptoError for unsupported groups. */
	static DhKey generate(DhGroup g);
	/** A key pair from a known private value (tests with published vectors). */
	static DhKey from_private(DhGroup g, ByteView priv);

	[[nodiscard]] DhGroup group() const noexcept { return group_; }
	/** The KE payload data: x | y for ECP-256 (RFC 5903 section 7), u for Curve25519. */
	[[nodiscard]] const Bytes &public_value() const noexcept { return public_; }
	/**
	 * g^ir: the x coordinate for ECP-256, the X25519 output for Curve25519.
	 * Throws CryptoError for a malformed, off-curve or low-order peer value.
	 */
	[[nodiscard]] SecretBytes shared(ByteView peer) const;

private:
	struct Deleter {
		void operator()(EVP_PKEY *k) const noexcept;
	};
	DhGroup group_ = DhGroup::none;
	std::unique_ptr<EVP_PKEY, Deleter> key_;
	Bytes public_;
};

/** The negotiated algorithms of an IKE SA. */
struct IkeSuite {
	Encr encr = Encr::aes_gcm_16;
	std::optional<std::uint16_t> key_bits; /* AES-GCM: 128/192/256; ChaCha20: none */
	Prf prf = Prf::hmac_sha2_256;
	DhGroup dh = DhGroup::ecp256;
};

/** The seven keys of an IKE SA (SK_ai/SK_ar are empty with AEAD). */
struct IkeKeys {
	SecretBytes sk_d;
	SkKey sk_ei; /* protects messages sent by the original initiator */
	SkKey sk_er;
	SecretBytes sk_pi;
	SecretBytes sk_pr;
};

/**
 * The initial key schedule (RFC 7296 section 2.14):
 * SKEYSEED = prf(Ni | Nr, g^ir), then prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
 * With AES-GCM the PRF key Ni | Nr is used whole (RFC 7296 section 2.14
 * allows it; RFC 5282 transforms have no fixed-key-size PRF here).
 */
IkeKeys derive_ike_keys(const IkeSuite &s, ByteView shared, ByteView ni, ByteView nr, std::uint64_t spi_i,
			std::uint64_t spi_r);

/**
 * The key schedule of a rekeyed IKE SA (RFC 7296 section 2.18):
 * SKEYSEED = prf_old(SK_d old, g^ir new | Ni | Nr), then prf+ of the new
 * suite over Ni | Nr | SPIi | SPIr with the new SPIs.
 */
IkeKeys derive_rekeyed_ike_keys(Prf old_prf, ByteView old_sk_d, const IkeSuite &s, ByteView shared, ByteView ni,
				ByteView nr, std::uint64_t spi_i, std::uint64_t spi_r);

/** The keys of a CHILD SA: one AEAD key || salt per direction. */
struct ChildKeys {
	SecretBytes i_to_r; /* key | salt of the SA carrying initiator -> responder traffic */
	SecretBytes r_to_i;
};

/**
 * KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 sections 2.17), taken
 * as initiator-to-responder key then responder-to-initiator key. "Initiator"
 * is the initiator of the exchange that created the CHILD SA.
 */
ChildKeys derive_child_keys(Prf p, ByteView sk_d, std::optional<ByteView> shared, ByteView ni, ByteView nr,
			    Encr e, std::optional<std::uint16_t> key_bits);

/**
 * The octets an AUTH payload signs or MACs (RFC 7296 section 2.15):
 * message | nonce | prf(SK_p, ID body). message is the sender's first
 * message (IKE_SA_INIT request or response) as sent, nonce the peer's nonce,
 * sk_p the sender's SK_pi/SK_pr, id the sender's identity.
 */
Bytes auth_octets(Prf p, ByteView message, ByteView peer_nonce, ByteView sk_p, const Identity &id);

/** AUTH data for a shared key: prf(prf(psk, "Key Pad for IKEv2"), octets). */
SecretBytes psk_auth(Prf p, ByteView psk, ByteView octets);
/** Constant-time comparison for received PSK AUTH data. */
bool psk_auth_matches(Prf p, ByteView psk, ByteView octets, ByteView received);

/**
 * Digital Signature AUTH data (RFC 7427 section 3): 1-byte length of the
 * AlgorithmIdentifier, the DER AlgorithmIdentifier, the signature. ECDSA
 * keys (P-256/P-384/P-521) sign with hash (ecdsa-with-SHA256/384/512, DER
 * Ecdsa-Sig-Value); Ed25519 keys ignore hash (RFC 8420, id-Ed25519).
 */
Bytes sign_auth(EVP_PKEY *key, HashAlg hash, ByteView octets);
/**
 * Verifies Digital Signature AUTH data with the peer's public key. The
 * AlgorithmIdentifier must match the key type; unknown algorithms, RSA and
 * hash algorithms not in accept (a SIGNATURE_HASH_ALGORITHMS set) fail.
 * An Ed25519 signature counts as HashAlg::identity (RFC 8420 section 2):
 * accept must contain identity for Ed25519 peers.
 */
bool verify_auth(EVP_PKEY *key, ByteView auth_data, ByteView octets, std::span<const HashAlg> accept);

/** NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | address | port) (RFC 7296 section 2.23). */
Bytes nat_detection_hash(std::uint64_t spi_i, std::uint64_t spi_r, const Endpoint &ep);

/** SHA-256 over the concatenation of parts (COOKIE computation and similar). */
Bytes sha256(std::initializer_list<ByteView> parts);

/** n bytes from the CSPRNG; throws ntm::Error when it fails. */
Bytes random_bytes(std::size_t n);
std::uint64_t random_u64();

} // namespace ntm::ike

#endif
