// SPDX-License-Identifier: GPL-2.0
/*
 * DNS messages for ntmd's stub resolver and server lookups, built and
 * parsed with ldns. Nothing here does I/O.
 */
#ifndef NTM_DNS_HPP
#define NTM_DNS_HPP

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/model.hpp"

namespace ntm::dns {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeNS = 2;
inline constexpr std::uint16_t kTypeAAAA = 28;
inline constexpr std::uint16_t kClassIN = 1;

enum class Rcode : std::uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };

/** The question of a query. name: lower case, no trailing dot ("" = root). */
struct Question {
	std::uint16_t id = 0;
	std::string name;
	std::uint16_t qtype = 0;
	std::uint16_t qclass = kClassIN;
	bool rd = false;
};

/**
 * A query we can answer or forward: QR=0, OPCODE=0 (QUERY), exactly one
 * question. nullopt for anything that does not parse as DNS at all (drop
 * it); a parsable message that is not such a query yields a Question with
 * qtype 0 (answer FORMERR/NOTIMP with build_error()).
 */
std::optional<Question> parse_query(std::span<const std::uint8_t> wire);

/**
 * Authoritative answer to query (the question is copied from it): rcode,
 * and for NOERROR the addresses of the question's type as A or AAAA
 * records with ttl. An empty list is NODATA. Sets AA, RA and RD as in the
 * query. Throws ntm::Error when query does not parse.
 */
std::vector<std::uint8_t> build_answer(std::span<const std::uint8_t> query, Rcode rcode,
				       const std::vector<IpAddress> &addrs, std::uint32_t ttl);
/**
 * Error response with the query's id (FORMERR, SERVFAIL, NOTIMP, REFUSED):
 * the header, plus the question when the query parses and has exactly one
 * (resolvers such as glibc ignore answers whose question does not match).
 * A query ldns cannot read gets a bare 12-byte header. Never throws for
 * bad input.
 */
std::vector<std::uint8_t> build_error(std::span<const std::uint8_t> query, Rcode rcode);

/** A recursive (RD=1) query for name/qtype with the given id. */
std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t qtype);

struct Response {
	std::uint16_t id = 0;
	Rcode rcode = Rcode::noerror;
	bool truncated = false;
	/** A/AAAA of the queried name, following CNAMEs within the message. */
	std::vector<IpAddress> addrs;
	/** NS target names, from the answer or (referral) the authority section. */
	std::vector<std::string> ns_names;
	/** Glue: A/AAAA of the NS targets from the additional section. */
	std::vector<std::pair<std::string, IpAddress>> glue;
};
/** nullopt when wire is not a DNS response, or its question is not name/qtype. */
std::optional<Response> parse_response(std::span<const std::uint8_t> wire, std::string_view name,
				       std::uint16_t qtype);

/** Lower-cases and strips one trailing dot. */
std::string normalize_name(std::string_view name);
/** True when name equals domain or ends with "." + domain (both normalized). */
bool in_domain(std::string_view name, std::string_view domain) noexcept;
/** The domain of an FQDN: everything after the first label ("a.ntm.test" -> "ntm.test"). */
std::string parent_domain(std::string_view fqdn);

} // namespace ntm::dns

#endif
