// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd --check-config: certificates and keys, read by the loaders ntmd
 * uses at start (tls.cpp for [tls], ike_cred.cpp for [ike]), then the
 * validity period of every certificate and the extended key usage of the
 * own TLS certificate (D95).
 */
#ifndef NTMD_CHECK_CERTS_HPP
#define NTMD_CHECK_CERTS_HPP

#include <string>

#include <openssl/x509.h>

#include "check_files.hpp"
#include "check_report.hpp"
#include "ntm/config.hpp"

namespace ntmd::check {

/** What the own TLS certificate is used for: peers require the matching extended key usage (D78). */
struct TlsUses {
	bool server = false; /* as, dc, rs: serverAuth */
	bool client = false; /* as (to the DC), dc with relays, node in certificate mode: clientAuth */
};

/** A CA file of [tls] through tls::load_ca (key: "tls.ca" or "tls.server_ca"). */
void check_tls_ca(Report &r, const Options &o, const char *key, const std::string &file);

/**
 * tls.certificate and tls.private_key through tls::load_certificate and
 * tls::load_private_key; cert_opens and key_opens say which of the two
 * check_file() could open (the others were reported already).
 */
void check_tls_identity(Report &r, const Options &o, const ntm::config::Tls &t, bool cert_opens, bool key_opens,
			TlsUses uses);

/** ike.ca through ikecred::load_trust_anchors. */
void check_ike_ca(Report &r, const Options &o, const std::string &file);

/**
 * A certificate and key of the IKE role through ikecred::load_identity;
 * prefix "ike." or "ike.connection[0]." names them. A key is parsed only
 * when its certificate is (the loader reads the two in that order).
 */
void check_ike_identity(Report &r, const Options &o, const std::string &prefix, const std::string &cert,
			const std::string &key);

/** The validity period of x, a certificate of file: error outside it, warning when it ends soon. */
void check_validity(Report &r, const Options &o, const std::string &file, const std::string &what, X509 *x);

} // namespace ntmd::check

#endif
