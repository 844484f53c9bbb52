// SPDX-License-Identifier: GPL-2.0
/*
 * Names of IKEv2 exchanges, notify types and transforms (IANA "Internet
 * Key Exchange Version 2 (IKEv2) Parameters"), for logs and ntmctl.
 */
#include "ntm/ike.hpp"

/*
 * GCC 12 at -O3 (CMAKE_BUILD_TYPE=Release) reports std::string and
 * std::vector internals here as overlapping or out-of-bounds copies (the
 * GCC PR 105329/105651 family of false positives); -O2 builds are clean.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

#include <string>

namespace ntm::ike {

namespace {

std::string numbered(const char *what, unsigned n)
{
	return std::string(what) + "(" + std::to_string(n) + ")";
}

} // namespace

/* ---- names ---- */

std::string exchange_name(std::uint8_t e)
{
	switch (static_cast<Exchange>(e)) {
	case Exchange::ike_sa_init:
		return "IKE_SA_INIT";
	case Exchange::ike_auth:
		return "IKE_AUTH";
	case Exchange::create_child_sa:
		return "CREATE_CHILD_SA";
	case Exchange::informational:
		return "INFORMATIONAL";
	}
	return numbered("EXCHANGE", e);
}

std::string notify_name(std::uint16_t n)
{
	switch (static_cast<NotifyType>(n)) {
	case NotifyType::unsupported_critical_payload:
		return "UNSUPPORTED_CRITICAL_PAYLOAD";
	case NotifyType::invalid_ike_spi:
		return "INVALID_IKE_SPI";
	case NotifyType::invalid_major_version:
		return "INVALID_MAJOR_VERSION";
	case NotifyType::invalid_syntax:
		return "INVALID_SYNTAX";
	case NotifyType::invalid_message_id:
		return "INVALID_MESSAGE_ID";
	case NotifyType::invalid_spi:
		return "INVALID_SPI";
	case NotifyType::no_proposal_chosen:
		return "NO_PROPOSAL_CHOSEN";
	case NotifyType::invalid_ke_payload:
		return "INVALID_KE_PAYLOAD";
	case NotifyType::authentication_failed:
		return "AUTHENTICATION_FAILED";
	case NotifyType::single_pair_required:
		return "SINGLE_PAIR_REQUIRED";
	case NotifyType::no_additional_sas:
		return "NO_ADDITIONAL_SAS";
	case NotifyType::internal_address_failure:
		return "INTERNAL_ADDRESS_FAILURE";
	case NotifyType::failed_cp_required:
		return "FAILED_CP_REQUIRED";
	case NotifyType::ts_unacceptable:
		return "TS_UNACCEPTABLE";
	case NotifyType::invalid_selectors:
		return "INVALID_SELECTORS";
	case NotifyType::temporary_failure:
		return "TEMPORARY_FAILURE";
	case NotifyType::child_sa_not_found:
		return "CHILD_SA_NOT_FOUND";
	case NotifyType::initial_contact:
		return "INITIAL_CONTACT";
	case NotifyType::set_window_size:
		return "SET_WINDOW_SIZE";
	case NotifyType::additional_ts_possible:
		return "ADDITIONAL_TS_POSSIBLE";
	case NotifyType::ipcomp_supported:
		return "IPCOMP_SUPPORTED";
	case NotifyType::nat_detection_source_ip:
		return "NAT_DETECTION_SOURCE_IP";
	case NotifyType::nat_detection_destination_ip:
		return "NAT_DETECTION_DESTINATION_IP";
	case NotifyType::cookie:
		return "COOKIE";
	case NotifyType::use_transport_mode:
		return "USE_TRANSPORT_MODE";
	case NotifyType::http_cert_lookup_supported:
		return "HTTP_CERT_LOOKUP_SUPPORTED";
	case NotifyType::rekey_sa:
		return "REKEY_SA";
	case NotifyType::esp_tfc_padding_not_supported:
		return "ESP_TFC_PADDING_NOT_SUPPORTED";
	case NotifyType::non_first_fragments_also:
		return "NON_FIRST_FRAGMENTS_ALSO";
	case NotifyType::mobike_supported:
		return "MOBIKE_SUPPORTED";
	case NotifyType::additional_ip4_address:
		return "ADDITIONAL_IP4_ADDRESS";
	case NotifyType::additional_ip6_address:
		return "ADDITIONAL_IP6_ADDRESS";
	case NotifyType::no_additional_addresses:
		return "NO_ADDITIONAL_ADDRESSES";
	case NotifyType::update_sa_addresses:
		return "UPDATE_SA_ADDRESSES";
	case NotifyType::cookie2:
		return "COOKIE2";
	case NotifyType::no_nats_allowed:
		return "NO_NATS_ALLOWED";
	case NotifyType::multiple_auth_supported:
		return "MULTIPLE_AUTH_SUPPORTED";
	case NotifyType::redirect_supported:
		return "REDIRECT_SUPPORTED";
	case NotifyType::ikev2_fragmentation_supported:
		return "IKEV2_FRAGMENTATION_SUPPORTED";
	case NotifyType::signature_hash_algorithms:
		return "SIGNATURE_HASH_ALGORITHMS";
	}
	return numbered("NOTIFY", n);
}

std::string transform_name(TransformType type, std::uint16_t id, std::optional<std::uint16_t> key_bits)
{
	const std::string bits = key_bits ? "_" + std::to_string(*key_bits) : std::string();
	switch (type) {
	case TransformType::encr:
		switch (id) {
		case 3:
			return "3DES";
		case 12:
			return "AES_CBC" + bits;
		case 13:
			return "AES_CTR" + bits;
		case 18:
			return "AES_GCM_8" + bits;
		case 19:
			return "AES_GCM_12" + bits;
		case static_cast<std::uint16_t>(Encr::aes_gcm_16):
			return "AES_GCM_16" + bits;
		case static_cast<std::uint16_t>(Encr::chacha20_poly1305):
			return "CHACHA20_POLY1305" + bits;
		default:
			return numbered("ENCR", id) + bits;
		}
	case TransformType::prf:
		switch (id) {
		case 2:
			return "PRF_HMAC_SHA1";
		case 4:
			return "PRF_AES128_XCBC";
		case static_cast<std::uint16_t>(Prf::hmac_sha2_256):
			return "PRF_HMAC_SHA2_256";
		case static_cast<std::uint16_t>(Prf::hmac_sha2_384):
			return "PRF_HMAC_SHA2_384";
		case static_cast<std::uint16_t>(Prf::hmac_sha2_512):
			return "PRF_HMAC_SHA2_512";
		default:
			return numbered("PRF", id);
		}
	case TransformType::integ:
		switch (id) {
		case 0:
			return "NONE";
		case 2:
			return "AUTH_HMAC_SHA1_96";
		case 5:
			return "AUTH_AES_XCBC_96";
		case 12:
			return "AUTH_HMAC_SHA2_256_128";
		case 13:
			return "AUTH_HMAC_SHA2_384_192";
		case 14:
			return "AUTH_HMAC_SHA2_512_256";
		default:
			return numbered("INTEG", id);
		}
	case TransformType::dh:
		switch (id) {
		case 0:
			return "NONE";
		case 14:
			return "MODP_2048";
		case 15:
			return "MODP_3072";
		case 16:
			return "MODP_4096";
		case static_cast<std::uint16_t>(DhGroup::ecp256):
			return "ECP_256";
		case 20:
			return "ECP_384";
		case 21:
			return "ECP_521";
		case static_cast<std::uint16_t>(DhGroup::curve25519):
			return "CURVE_25519";
		case 32:
			return "CURVE_448";
		default:
			return numbered("DH", id);
		}
	case TransformType::esn:
		switch (id) {
		case static_cast<std::uint16_t>(Esn::no):
			return "NO_ESN";
		case static_cast<std::uint16_t>(Esn::yes):
			return "ESN";
		default:
			return numbered("ESN", id);
		}
	}
	return "TRANSFORM" + std::to_string(static_cast<unsigned>(type)) + "(" + std::to_string(id) + ")";
}

} // namespace ntm::ike
