// SPDX-License-Identifier: GPL-2.0
/*
 * Proposal and traffic selector selection of the IKEv2 role: pure functions
 * of what a peer sent and what ntmd.toml configures, no SA state (so unit
 * tests reach them: tests/unit/test_ike_select.cpp). RFC 7296 sections 2.7
 * (proposals, in the peer's order) and 2.9 (selector narrowing).
 */
#ifndef NTMD_IKE_SELECT_HPP
#define NTMD_IKE_SELECT_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ntm/config.hpp"
#include "ntm/ike.hpp"

namespace ntmd {

/** What was agreed for an IKE SA or CHILD SA. */
struct Chosen {
	ntm::ike::Encr encr = ntm::ike::Encr::aes_gcm_16;
	std::optional<std::uint16_t> key_bits;
	ntm::ike::Prf prf = ntm::ike::Prf::hmac_sha2_256;
	ntm::ike::DhGroup dh = ntm::ike::DhGroup::none;
	bool esn = false;
	ntm::ike::Bytes spi; /* the peer's SPI from its proposal */
	ntm::ike::Proposal proposal; /* as answered: one transform per type */
};

ntm::ike::TrafficSelector ts_of(const ntm::sig::Prefix &p);

/*
 * Intersection of a proposed selector with a configured prefix; the
 * kernel enforces address prefixes only, so protocol/port restrictions and
 * results that are not one prefix are refused (nullopt).
 */
std::optional<ntm::ike::TrafficSelector> narrow(const ntm::ike::TrafficSelector &proposed,
						const ntm::ike::TrafficSelector &mine);
/* inner lies within one of outer (same family) */
bool ts_within(const ntm::ike::TrafficSelector &inner, const std::vector<ntm::ike::TrafficSelector> &outer);
/* every proposed selector narrowed to every configured prefix, without repeats, at most NTM_TS_MAX */
std::vector<ntm::ike::TrafficSelector> narrow_all(const std::vector<ntm::ike::TrafficSelector> &proposed,
						  const std::vector<ntm::sig::Prefix> &config);

/* our IKE SA proposals (spi: empty in IKE_SA_INIT, the new SPI in a rekey) */
std::vector<ntm::ike::Proposal> ike_proposals(const std::vector<ntm::config::IkeProposal> &cfg, ntm::ike::ByteView spi);
/* our ESP proposals; with_dh: name the groups (PFS in CREATE_CHILD_SA) */
std::vector<ntm::ike::Proposal> esp_proposals(const std::vector<ntm::config::IkeProposal> &cfg, std::uint32_t spi,
					      bool with_dh);

/* "AES_GCM_16_256/X25519/NO_ESN, CHACHA20_POLY1305" - what a peer offered, for refusal logs */
std::string describe(const std::vector<ntm::ike::Proposal> &props, ntm::ike::Protocol proto);
/* the same for our configuration */
std::string describe(const std::vector<ntm::config::IkeProposal> &ours, bool ike_sa);
std::string describe(const std::vector<ntm::ike::TrafficSelector> &ts);
std::string describe(const std::vector<ntm::sig::Prefix> &ps);

/*
 * Picks from the peer's proposals (in the peer's order, RFC 7296 section
 * 2.7) the first that one of ours covers. want_dh: for CREATE_CHILD_SA with
 * a KE payload, the group the proposal must hold; ike::DhGroup::none means
 * that the proposal must offer no group or NONE.
 */
std::optional<Chosen> choose(const std::vector<ntm::ike::Proposal> &theirs,
			     const std::vector<ntm::config::IkeProposal> &ours, ntm::ike::Protocol proto,
			     std::optional<ntm::ike::DhGroup> want_dh, bool require_pfs = false);
/* Checks that a responder's single answer is one of the proposals we offered. */
std::optional<Chosen> accept_answer(const std::vector<ntm::ike::Proposal> &answer,
				    const std::vector<ntm::config::IkeProposal> &ours, ntm::ike::Protocol proto,
				    std::optional<ntm::ike::DhGroup> want_dh);
/* "AES_GCM_16_256/PRF_HMAC_SHA2_256/X25519" for logs and ntmctl */
std::string suite_name(const Chosen &c, bool ike_sa);

} // namespace ntmd

#endif
