// SPDX-License-Identifier: GPL-2.0
/*
 * Credentials of the IKE role: trust anchors, the own certificate chain and
 * private key (OpenSSL), pre-shared keys from files, and the checks that
 * bind an IKE identity to a certificate.
 */
#ifndef NTMD_IKE_CRED_HPP
#define NTMD_IKE_CRED_HPP

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ntm/ike.hpp"
#include "ntm/secret.hpp"

namespace ntmd::ikecred {

struct X509Free {
	void operator()(X509 *x) const noexcept { X509_free(x); }
};
struct PkeyFree {
	void operator()(EVP_PKEY *k) const noexcept { EVP_PKEY_free(k); }
};
struct StoreFree {
	void operator()(X509_STORE *s) const noexcept { X509_STORE_free(s); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;

/** Trust anchors of a CA file, with the CERTREQ data (SHA-1 of each CA's SubjectPublicKeyInfo). */
struct TrustAnchors {
	StorePtr store;
	ntm::ike::Bytes certreq; /* concatenated 20-byte hashes */
	std::size_t count = 0;
};

/** Loads every certificate of a PEM file as a trust anchor; throws ntm::Error. */
TrustAnchors load_trust_anchors(const std::string &pem_file);

/** An own certificate chain (end entity first) and its private key. */
struct Identity {
	std::vector<X509Ptr> chain;
	PkeyPtr key;
	/** The end entity's subject as a DER_ASN1_DN identity. */
	[[nodiscard]] ntm::ike::Identity subject_id() const;
};

/** Loads the chain and key; checks that they match. Throws ntm::Error naming the file. */
Identity load_identity(const std::string &cert_pem, const std::string &key_pem);

/** The DER of a certificate (CERT payload data). */
ntm::ike::Bytes cert_der(X509 *x);

/**
 * Verifies the peer's CERT payloads (end entity first, then intermediates)
 * against the anchors and that the end entity certifies id. Returns its
 * public key, or nothing with the reason in why.
 */
PkeyPtr verify_peer(const std::vector<ntm::ike::Cert> &certs, const TrustAnchors &ta, const ntm::ike::Identity &id,
		    std::string &why);

/** Whether two identities name the same entity (DNs compared as names, the rest byte for byte). */
bool same_identity(const ntm::ike::Identity &a, const ntm::ike::Identity &b);

/** The key of a PSK file (first line, mode 0600 or stricter); throws ntm::Error. */
ntm::SecretBytes load_psk(const std::string &path);

} // namespace ntmd::ikecred

#endif
