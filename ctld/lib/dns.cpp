// SPDX-License-Identifier: GPL-2.0
/*
 * DNS messages with ldns. Every ldns object lives in a unique_ptr with the
 * matching free function; every ldns status is checked, so any input
 * either parses or yields nullopt / ntm::Error.
 */
#include "ntm/dns.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "ntm/error.hpp"

namespace ntm::dns {

namespace {

constexpr std::uint16_t kTypeCNAME = 5;
constexpr std::uint16_t kTypeANY = 255;
constexpr int kMaxCnameHops = 8;
constexpr std::size_t kHeaderLen = 12;

struct PktFree {
	void operator()(ldns_pkt *p) const noexcept { ldns_pkt_free(p); }
};
struct RrFree {
	void operator()(ldns_rr *r) const noexcept { ldns_rr_free(r); }
};
struct RdfFree {
	void operator()(ldns_rdf *r) const noexcept { ldns_rdf_deep_free(r); }
};
/* ldns_rdf2str() and ldns_pkt2wire() hand out malloc()ed buffers */
struct MallocFree {
	// NOLINTNEXTLINE(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
	void operator()(void *p) const noexcept { std::free(p); }
};

using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using CharPtr = std::unique_ptr<char, MallocFree>;
using BytePtr = std::unique_ptr<std::uint8_t, MallocFree>;

constexpr std::uint16_t kTypeOPT = 41;
constexpr std::uint16_t kTypeTSIG = 250;

/* The offset after the (possibly compressed) name at @pos, or 0. */
std::size_t skip_name(std::span<const std::uint8_t> wire, std::size_t pos)
{
	while (pos < wire.size()) {
		const std::uint8_t len = wire[pos];
		if ((len & 0xc0) == 0xc0)
			return pos + 2 <= wire.size() ? pos + 2 : 0;
		if ((len & 0xc0) != 0)
			return 0;
		pos += 1U + len;
		if (len == 0)
			return pos;
	}
	return 0;
}

std::uint16_t be16(std::span<const std::uint8_t> wire, std::size_t pos)
{
	return static_cast<std::uint16_t>((wire[pos] << 8) | wire[pos + 1]);
}

/*
 * Whether the records of @wire are ones ldns reads without leaking.  Its
 * wire parser (1.8.3) keeps only the last TSIG record and the last OPT
 * record's data of a message, without freeing the earlier ones: any
 * datagram with two of either would leak ~100 bytes in ntmd (found by
 * fuzz_dns).  ntmd uses no TSIG, and RFC 6891 makes a second OPT a
 * FORMERR, so such messages are refused before ldns sees them.  A message
 * whose records run past its end is left to ldns, which refuses it.
 */
bool records_acceptable(std::span<const std::uint8_t> wire)
{
	const std::size_t qd = be16(wire, 4);
	const std::size_t rrs = std::size_t{be16(wire, 6)} + be16(wire, 8) + be16(wire, 10);
	std::size_t pos = kHeaderLen;
	for (std::size_t i = 0; i < qd; i++) {
		pos = skip_name(wire, pos);
		if (pos == 0 || pos + 4 > wire.size())
			return true;
		pos += 4;
	}
	unsigned opts = 0;
	for (std::size_t i = 0; i < rrs; i++) {
		pos = skip_name(wire, pos);
		if (pos == 0 || pos + 10 > wire.size())
			return true;
		const std::uint16_t type = be16(wire, pos);
		if (type == kTypeTSIG || (type == kTypeOPT && ++opts > 1))
			return false;
		pos += 10U + be16(wire, pos + 8);
	}
	return true;
}

/* nullptr when wire is not a DNS message ldns can read. */
PktPtr wire_to_pkt(std::span<const std::uint8_t> wire)
{
	if (wire.size() < kHeaderLen || !records_acceptable(wire))
		return nullptr;
	ldns_pkt *raw = nullptr;
	if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
		ldns_pkt_free(raw);
		return nullptr;
	}
	return PktPtr(raw);
}

std::vector<std::uint8_t> pkt_to_wire(const ldns_pkt *pkt)
{
	std::uint8_t *raw = nullptr;
	std::size_t size = 0;
	const ldns_status st = ldns_pkt2wire(&raw, pkt, &size);
	const BytePtr buf(raw);
	if (st != LDNS_STATUS_OK || !buf)
		throw Error(std::string("DNS: cannot encode message: ") + ldns_get_errorstr_by_id(st));
	return {buf.get(), buf.get() + size};
}

/* Text of a domain name rdf, normalized; nullopt for anything else. */
std::optional<std::string> dname_text(const ldns_rdf *rdf)
{
	if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return std::nullopt;
	const CharPtr s(ldns_rdf2str(rdf));
	if (!s)
		return std::nullopt;
	return normalize_name(s.get());
}

std::optional<std::string> owner_name(const ldns_rr *rr)
{
	return dname_text(ldns_rr_owner(rr));
}

/* The first rdata field of rr when it is a domain name (CNAME, NS targets). */
std::optional<std::string> target_name(const ldns_rr *rr)
{
	if (ldns_rr_rd_count(rr) < 1)
		return std::nullopt;
	return dname_text(ldns_rr_rdf(rr, 0));
}

/* The address of an A/AAAA record, nullopt for anything else. */
std::optional<IpAddress> rr_address(const ldns_rr *rr)
{
	const auto type = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
	if ((type != kTypeA && type != kTypeAAAA) || ldns_rr_rd_count(rr) != 1)
		return std::nullopt;
	const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
	if (rd == nullptr)
		return std::nullopt;
	const std::size_t want = type == kTypeA ? 4 : 16;
	if (ldns_rdf_size(rd) != want)
		return std::nullopt;
	return IpAddress::from_bytes({ldns_rdf_data(rd), want});
}

std::size_t rr_count(const ldns_rr_list *list)
{
	return list == nullptr ? 0 : ldns_rr_list_rr_count(list);
}

template <typename F> void for_each_rr(const ldns_rr_list *list, F &&f)
{
	const std::size_t n = rr_count(list);
	for (std::size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (rr != nullptr)
			f(rr);
	}
}

bool type_wanted(std::uint16_t rrtype, std::uint16_t qtype) noexcept
{
	if (qtype == kTypeANY)
		return rrtype == kTypeA || rrtype == kTypeAAAA;
	return rrtype == qtype;
}

void add_unique(std::vector<std::string> &v, std::string s)
{
	if (std::find(v.begin(), v.end(), s) == v.end())
		v.push_back(std::move(s));
}

/* The only question of pkt, or nullptr. */
const ldns_rr *only_question(const ldns_pkt *pkt)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	if (rr_count(q) != 1)
		return nullptr;
	return ldns_rr_list_rr(q, 0);
}

/* An A or AAAA record: owner (cloned) ttl IN addr. */
RrPtr address_rr(const ldns_rdf *owner, const IpAddress &a, std::uint32_t ttl)
{
	RrPtr rr(ldns_rr_new());
	RdfPtr name(ldns_rdf_clone(owner));
	if (!rr || !name)
		throw Error("DNS: out of memory");
	ldns_rr_set_owner(rr.get(), name.release());
	ldns_rr_set_type(rr.get(), a.is_v4() ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
	ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr.get(), ttl);
	const auto b = a.bytes();
	RdfPtr rd(ldns_rdf_new_frm_data(a.is_v4() ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, b.size(), b.data()));
	if (!rd || !ldns_rr_push_rdf(rr.get(), rd.get()))
		throw Error("DNS: out of memory");
	(void)rd.release();
	return rr;
}

void push_rr(ldns_pkt *pkt, ldns_pkt_section section, RrPtr rr)
{
	if (!ldns_pkt_push_rr(pkt, section, rr.get()))
		throw Error("DNS: cannot add a record");
	(void)rr.release();
}

/* A response skeleton for query: id, RD and (when it has one) the question copied. */
PktPtr response_for(const ldns_pkt *query, Rcode rcode)
{
	PktPtr pkt(ldns_pkt_new());
	if (!pkt)
		throw Error("DNS: out of memory");
	ldns_pkt_set_id(pkt.get(), ldns_pkt_id(query));
	ldns_pkt_set_qr(pkt.get(), true);
	ldns_pkt_set_opcode(pkt.get(), ldns_pkt_get_opcode(query));
	ldns_pkt_set_rd(pkt.get(), ldns_pkt_rd(query));
	ldns_pkt_set_cd(pkt.get(), ldns_pkt_cd(query));
	ldns_pkt_set_ra(pkt.get(), true);
	ldns_pkt_set_rcode(pkt.get(), static_cast<std::uint8_t>(rcode));
	if (const ldns_rr *q = only_question(query)) {
		RrPtr copy(ldns_rr_clone(q));
		if (!copy)
			throw Error("DNS: out of memory");
		ldns_rr_set_question(copy.get(), true);
		push_rr(pkt.get(), LDNS_SECTION_QUESTION, std::move(copy));
	}
	return pkt;
}

std::uint16_t raw_id(std::span<const std::uint8_t> wire) noexcept
{
	if (wire.size() < 2)
		return 0;
	return static_cast<std::uint16_t>((wire[0] << 8) | wire[1]);
}

/* Position after an unescaped '.' in s at or after from; npos when none. */
std::size_t next_label(std::string_view s, std::size_t from) noexcept
{
	bool escaped = false;
	for (std::size_t i = from; i < s.size(); i++) {
		if (escaped)
			escaped = false;
		else if (s[i] == '\\')
			escaped = true;
		else if (s[i] == '.')
			return i + 1;
	}
	return std::string_view::npos;
}

} // namespace

std::string normalize_name(std::string_view name)
{
	std::string s(name);
	std::transform(s.begin(), s.end(), s.begin(), [](char c) {
		return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
	});
	/* strip one trailing dot, unless it is escaped ("a\.") */
	if (!s.empty() && s.back() == '.') {
		std::size_t bs = 0;
		for (std::size_t i = s.size() - 1; i > 0 && s[i - 1] == '\\'; i--)
			bs++;
		if (bs % 2 == 0)
			s.pop_back();
	}
	return s;
}

bool in_domain(std::string_view name, std::string_view domain) noexcept
{
	if (name == domain)
		return true;
	if (domain.empty())
		return true; /* everything is below the root */
	if (name.size() <= domain.size() + 1)
		return false;
	const std::size_t dot = name.size() - domain.size() - 1;
	if (name.substr(dot + 1) != domain || name[dot] != '.')
		return false;
	/* the dot must be a label separator, not an escaped "\." */
	std::size_t bs = 0;
	for (std::size_t i = dot; i > 0 && name[i - 1] == '\\'; i--)
		bs++;
	return bs % 2 == 0;
}

std::string parent_domain(std::string_view fqdn)
{
	const std::size_t p = next_label(fqdn, 0);
	if (p == std::string_view::npos)
		return {};
	return std::string(fqdn.substr(p));
}

std::optional<Question> parse_query(std::span<const std::uint8_t> wire)
{
	const PktPtr pkt = wire_to_pkt(wire);
	if (!pkt)
		return std::nullopt;
	Question q;
	q.id = ldns_pkt_id(pkt.get());
	q.rd = ldns_pkt_rd(pkt.get());
	if (ldns_pkt_qr(pkt.get()) || ldns_pkt_get_opcode(pkt.get()) != LDNS_PACKET_QUERY)
		return q;
	const ldns_rr *rr = only_question(pkt.get());
	if (rr == nullptr)
		return q;
	auto name = owner_name(rr);
	const auto qtype = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
	if (!name || qtype == 0)
		return q;
	q.name = std::move(*name);
	q.qtype = qtype;
	q.qclass = static_cast<std::uint16_t>(ldns_rr_get_class(rr));
	return q;
}

std::vector<std::uint8_t> build_answer(std::span<const std::uint8_t> query, Rcode rcode,
				       const std::vector<IpAddress> &addrs, std::uint32_t ttl)
{
	const PktPtr q = wire_to_pkt(query);
	if (!q)
		throw Error("DNS: cannot answer a query that does not parse");
	PktPtr pkt = response_for(q.get(), rcode);
	ldns_pkt_set_aa(pkt.get(), true);
	const ldns_rr *question = only_question(q.get());
	if (rcode == Rcode::noerror && question != nullptr) {
		const auto qtype = static_cast<std::uint16_t>(ldns_rr_get_type(question));
		for (const auto &a : addrs) {
			const bool fits = (a.is_v4() && type_wanted(kTypeA, qtype)) ||
					  (a.is_v6() && type_wanted(kTypeAAAA, qtype));
			if (fits)
				push_rr(pkt.get(), LDNS_SECTION_ANSWER, address_rr(ldns_rr_owner(question), a, ttl));
		}
	}
	return pkt_to_wire(pkt.get());
}

std::vector<std::uint8_t> build_error(std::span<const std::uint8_t> query, Rcode rcode)
{
	if (const PktPtr q = wire_to_pkt(query)) {
		const PktPtr pkt = response_for(q.get(), rcode);
		return pkt_to_wire(pkt.get());
	}
	/* not even parsable: a bare header with the id, if there is one */
	std::vector<std::uint8_t> out(kHeaderLen, 0);
	const std::uint16_t id = raw_id(query);
	out[0] = static_cast<std::uint8_t>(id >> 8);
	out[1] = static_cast<std::uint8_t>(id & 0xff);
	out[2] = 0x80; /* QR */
	if (query.size() > 2)
		out[2] = static_cast<std::uint8_t>(out[2] | (query[2] & 0x79)); /* opcode, RD */
	out[3] = static_cast<std::uint8_t>(0x80 | (static_cast<std::uint8_t>(rcode) & 0x0f)); /* RA */
	return out;
}

std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t qtype)
{
	const std::string text = name.empty() ? std::string(".") : std::string(name);
	RdfPtr dname(ldns_dname_new_frm_str(text.c_str()));
	if (!dname)
		throw Error("DNS: invalid name '" + std::string(name) + "'");
	PktPtr pkt(ldns_pkt_query_new(dname.get(), static_cast<ldns_rr_type>(qtype), LDNS_RR_CLASS_IN, LDNS_RD));
	if (!pkt)
		throw Error("DNS: cannot build a query for '" + std::string(name) + "'");
	(void)dname.release(); /* owned by pkt now */
	ldns_pkt_set_id(pkt.get(), id);
	return pkt_to_wire(pkt.get());
}

std::optional<Response> parse_response(std::span<const std::uint8_t> wire, std::string_view name,
				       std::uint16_t qtype)
{
	const PktPtr pkt = wire_to_pkt(wire);
	if (!pkt || !ldns_pkt_qr(pkt.get()) || ldns_pkt_get_opcode(pkt.get()) != LDNS_PACKET_QUERY)
		return std::nullopt;
	const ldns_rr *question = only_question(pkt.get());
	if (question == nullptr || static_cast<std::uint16_t>(ldns_rr_get_type(question)) != qtype)
		return std::nullopt;
	const std::string want = normalize_name(name);
	const auto qname = owner_name(question);
	if (!qname || *qname != want)
		return std::nullopt;

	Response r;
	r.id = ldns_pkt_id(pkt.get());
	r.rcode = static_cast<Rcode>(ldns_pkt_get_rcode(pkt.get()));
	r.truncated = ldns_pkt_tc(pkt.get());

	const ldns_rr_list *answer = ldns_pkt_answer(pkt.get());
	const ldns_rr_list *authority = ldns_pkt_authority(pkt.get());
	const ldns_rr_list *additional = ldns_pkt_additional(pkt.get());

	/* answer: records of the name, or of the end of its CNAME chain */
	std::string current = want;
	std::vector<std::string> seen{current};
	for (int hop = 0; hop <= kMaxCnameHops; hop++) {
		bool found = false;
		std::optional<std::string> cname;
		for_each_rr(answer, [&](const ldns_rr *rr) {
			const auto owner = owner_name(rr);
			if (!owner || *owner != current || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
				return;
			const auto type = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
			if (type_wanted(type, qtype)) {
				found = true;
				if (type == kTypeNS) {
					if (auto t = target_name(rr))
						add_unique(r.ns_names, std::move(*t));
				} else if (auto a = rr_address(rr)) {
					r.addrs.push_back(*a);
				}
			} else if (type == kTypeCNAME && !cname) {
				cname = target_name(rr);
			}
		});
		if (found || !cname || qtype == kTypeCNAME)
			break;
		if (std::find(seen.begin(), seen.end(), *cname) != seen.end())
			break; /* a loop */
		seen.push_back(*cname);
		current = std::move(*cname);
	}

	/* referral or NODATA: NS records of an enclosing zone in the authority section */
	if (r.addrs.empty() && r.ns_names.empty()) {
		for_each_rr(authority, [&](const ldns_rr *rr) {
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
				return;
			const auto owner = owner_name(rr);
			if (!owner || !in_domain(current, *owner))
				return;
			if (auto t = target_name(rr))
				add_unique(r.ns_names, std::move(*t));
		});
	}

	/* glue for the NS targets */
	for_each_rr(additional, [&](const ldns_rr *rr) {
		const auto a = rr_address(rr);
		if (!a || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			return;
		auto owner = owner_name(rr);
		if (owner && std::find(r.ns_names.begin(), r.ns_names.end(), *owner) != r.ns_names.end())
			r.glue.emplace_back(std::move(*owner), *a);
	});
	return r;
}

} // namespace ntm::dns
