// SPDX-License-Identifier: GPL-2.0
/*
 * Proposal and traffic selector selection of the IKEv2 role (ike_select.hpp).
 */
#include "ike_select.hpp"

#include <algorithm>
#include <map>

#include <linux/ntm.h>

#include "ntm/ike_crypto.hpp"

namespace ntmd {

namespace ike = ntm::ike;
using ike::ByteView;

namespace {

bool less_eq(const ntm::IpAddress &a, const ntm::IpAddress &b)
{
	return !std::lexicographical_compare(b.bytes().begin(), b.bytes().end(), a.bytes().begin(), a.bytes().end());
}

} // namespace

ike::TrafficSelector ts_of(const ntm::sig::Prefix &p)
{
	return ike::TrafficSelector::from_prefix(p.addr, p.len);
}

/*
 * Intersection of a proposed selector with a configured prefix; the
 * kernel enforces address prefixes only, so protocol/port restrictions and
 * results that are not one prefix are refused (nullopt).
 */
std::optional<ike::TrafficSelector> narrow(const ike::TrafficSelector &proposed, const ike::TrafficSelector &mine)
{
	if (proposed.type != mine.type)
		return std::nullopt;
	if (proposed.ip_proto != 0 || proposed.start_port != 0 || proposed.end_port != 0xffff)
		return std::nullopt;
	ike::TrafficSelector r = mine;
	r.start = less_eq(proposed.start, mine.start) ? mine.start : proposed.start;
	r.end = less_eq(proposed.end, mine.end) ? proposed.end : mine.end;
	if (!less_eq(r.start, r.end))
		return std::nullopt;
	if (!r.prefix_len())
		return std::nullopt;
	return r;
}

bool ts_within(const ike::TrafficSelector &inner, const std::vector<ike::TrafficSelector> &outer)
{
	return std::ranges::any_of(outer, [&](const ike::TrafficSelector &o) {
		return o.type == inner.type && less_eq(o.start, inner.start) && less_eq(inner.end, o.end);
	});
}

std::vector<ike::TrafficSelector> narrow_all(const std::vector<ike::TrafficSelector> &proposed,
					      const std::vector<ntm::sig::Prefix> &config)
{
	std::vector<ike::TrafficSelector> out;
	for (const auto &p : proposed)
		for (const auto &c : config)
			if (auto r = narrow(p, ts_of(c)); r && std::ranges::find(out, *r) == out.end())
				out.push_back(*r);
	if (out.size() > NTM_TS_MAX)
		out.resize(NTM_TS_MAX);
	return out;
}

std::vector<ike::Proposal> ike_proposals(const std::vector<ntm::config::IkeProposal> &cfg, ByteView spi)
{
	std::vector<ike::Proposal> out;
	for (const auto &c : cfg) {
		ike::Proposal p;
		p.num = static_cast<std::uint8_t>(out.size() + 1);
		p.protocol = ike::Protocol::ike;
		p.spi.assign(spi.begin(), spi.end());
		p.transforms.push_back({ike::TransformType::encr, c.encr, c.key_bits});
		p.transforms.push_back({ike::TransformType::prf, c.prf, std::nullopt});
		for (auto g : c.dh)
			p.transforms.push_back({ike::TransformType::dh, g, std::nullopt});
		out.push_back(std::move(p));
	}
	return out;
}

std::vector<ike::Proposal> esp_proposals(const std::vector<ntm::config::IkeProposal> &cfg, std::uint32_t spi,
					 bool with_dh)
{
	std::vector<ike::Proposal> out;
	for (const auto &c : cfg) {
		ike::Proposal p;
		p.num = static_cast<std::uint8_t>(out.size() + 1);
		p.protocol = ike::Protocol::esp;
		p.spi = ike::esp_spi_bytes(spi);
		p.transforms.push_back({ike::TransformType::encr, c.encr, c.key_bits});
		if (with_dh)
			for (auto g : c.dh)
				p.transforms.push_back({ike::TransformType::dh, g, std::nullopt});
		for (auto e : c.esn.empty() ? std::vector<std::uint16_t>{0} : c.esn)
			p.transforms.push_back({ike::TransformType::esn, e, std::nullopt});
		/* without groups, a PFS proposal may repeat one offered already (the defaults, D64) */
		if (std::ranges::any_of(out, [&](const ike::Proposal &q) { return q.transforms == p.transforms; }))
			continue;
		out.push_back(std::move(p));
	}
	return out;
}

/* "AES_GCM_16_256/X25519/NO_ESN, CHACHA20_POLY1305" - what a peer offered, for refusal logs */
std::string describe(const std::vector<ike::Proposal> &props, ike::Protocol proto)
{
	std::string r;
	for (const auto &p : props) {
		if (p.protocol != proto)
			continue;
		std::string one;
		for (const auto &t : p.transforms) {
			if (!one.empty())
				one += "/";
			one += ike::transform_name(t.type, t.id, t.key_bits);
		}
		r += (r.empty() ? "" : ", ") + one;
	}
	return r.empty() ? "nothing" : r;
}

/* the same for our configuration */
std::string describe(const std::vector<ntm::config::IkeProposal> &ours, bool ike_sa)
{
	std::string r;
	for (const auto &o : ours) {
		std::string one = ike::transform_name(ike::TransformType::encr, o.encr, o.key_bits);
		if (ike_sa)
			one += "/" + ike::transform_name(ike::TransformType::prf, o.prf);
		for (auto g : o.dh)
			one += "/" + ike::transform_name(ike::TransformType::dh, g);
		if (!ike_sa)
			for (auto e : o.esn)
				one += "/" + ike::transform_name(ike::TransformType::esn, e);
		r += (r.empty() ? "" : ", ") + one;
	}
	return r;
}

std::string describe(const std::vector<ike::TrafficSelector> &ts)
{
	std::string r;
	for (const auto &t : ts)
		r += (r.empty() ? "" : " ") + t.to_string();
	return r.empty() ? "nothing" : r;
}

std::string describe(const std::vector<ntm::sig::Prefix> &ps)
{
	std::string r;
	for (const auto &p : ps)
		r += (r.empty() ? "" : " ") + p.to_string();
	return r;
}

/*
 * Picks from the peer's proposals (in the peer's order, RFC 7296 section
 * 2.7) the first that one of ours covers. want_dh: for CREATE_CHILD_SA with
 * a KE payload, the group the proposal must hold; ike::DhGroup::none means
 * that the proposal must offer no group or NONE.
 */
std::optional<Chosen> choose(const std::vector<ike::Proposal> &theirs, const std::vector<ntm::config::IkeProposal> &ours,
			     ike::Protocol proto, std::optional<ike::DhGroup> want_dh, bool require_pfs)
{
	for (const auto &p : theirs) {
		if (p.protocol != proto)
			continue;
		if (proto == ike::Protocol::esp && p.spi.size() != 4)
			continue;
		if (proto == ike::Protocol::ike && !(p.spi.empty() || p.spi.size() == 8))
			continue;
		for (const auto &o : ours) {
			Chosen c;
			c.spi = p.spi;
			bool have_encr = false;
			bool have_prf = proto != ike::Protocol::ike;
			bool have_dh = false;
			bool have_esn = proto != ike::Protocol::esp;
			bool offers_dh = false;
			bool bad = false;
			for (const auto &t : p.transforms) {
				switch (t.type) {
				case ike::TransformType::encr:
					if (!have_encr && t.id == o.encr && t.key_bits == o.key_bits &&
					    ike::supported(static_cast<ike::Encr>(t.id), t.key_bits)) {
						have_encr = true;
						c.encr = static_cast<ike::Encr>(t.id);
						c.key_bits = t.key_bits;
					}
					break;
				case ike::TransformType::prf:
					if (proto == ike::Protocol::ike && !have_prf && t.id == o.prf &&
					    ike::supported(static_cast<ike::Prf>(t.id))) {
						have_prf = true;
						c.prf = static_cast<ike::Prf>(t.id);
					}
					break;
				case ike::TransformType::integ:
					/* AEAD only: an integrity algorithm other than NONE cannot be combined */
					if (t.id != 0)
						bad = true;
					break;
				case ike::TransformType::dh:
					if (t.id == 0)
						break;
					offers_dh = true;
					if (have_dh)
						break;
					if (want_dh) {
						if (t.id == static_cast<std::uint16_t>(*want_dh) &&
						    std::ranges::find(o.dh, t.id) != o.dh.end()) {
							have_dh = true;
							c.dh = *want_dh;
						}
					} else if (std::ranges::find(o.dh, t.id) != o.dh.end() &&
						   ike::supported(static_cast<ike::DhGroup>(t.id))) {
						have_dh = true;
						c.dh = static_cast<ike::DhGroup>(t.id);
					}
					break;
				case ike::TransformType::esn:
					if (proto == ike::Protocol::esp && !have_esn) {
						const auto &esn = o.esn.empty() ? std::vector<std::uint16_t>{0} : o.esn;
						if (std::ranges::find(esn, t.id) != esn.end()) {
							have_esn = true;
							c.esn = t.id == 1;
						}
					}
					break;
				}
			}
			if (bad || !have_encr || !have_prf || !have_esn)
				continue;
			if (proto == ike::Protocol::ike && !have_dh)
				continue;
			if (proto == ike::Protocol::esp) {
				if (want_dh && *want_dh != ike::DhGroup::none && !have_dh)
					continue;
				if ((!want_dh || *want_dh == ike::DhGroup::none) && offers_dh) {
					/* peer wants PFS but sent no KE, or we run without: only if NONE offered */
					const bool offers_none = std::ranges::any_of(p.transforms, [](const ike::Transform &t) {
						return t.type == ike::TransformType::dh && t.id == 0;
					});
					if (!offers_none)
						continue;
					c.dh = ike::DhGroup::none;
				}
				/* a CHILD SA created after IKE_AUTH gets PFS when our proposal names a group */
				if (require_pfs && !o.dh.empty() && c.dh == ike::DhGroup::none)
					continue;
			}
			c.proposal.num = p.num;
			c.proposal.protocol = proto;
			c.proposal.transforms.push_back({ike::TransformType::encr, static_cast<std::uint16_t>(c.encr), c.key_bits});
			if (proto == ike::Protocol::ike)
				c.proposal.transforms.push_back({ike::TransformType::prf, static_cast<std::uint16_t>(c.prf), std::nullopt});
			if (c.dh != ike::DhGroup::none)
				c.proposal.transforms.push_back({ike::TransformType::dh, static_cast<std::uint16_t>(c.dh), std::nullopt});
			if (proto == ike::Protocol::esp)
				c.proposal.transforms.push_back({ike::TransformType::esn, static_cast<std::uint16_t>(c.esn ? 1 : 0), std::nullopt});
			return c;
		}
	}
	return std::nullopt;
}

/* Checks that a responder's single answer is one of the proposals we offered. */
std::optional<Chosen> accept_answer(const std::vector<ike::Proposal> &answer, const std::vector<ntm::config::IkeProposal> &ours,
				    ike::Protocol proto, std::optional<ike::DhGroup> want_dh)
{
	if (answer.size() != 1)
		return std::nullopt;
	/* exactly one transform of each type */
	std::map<ike::TransformType, int> n;
	for (const auto &t : answer[0].transforms)
		n[t.type]++;
	for (const auto &[t, k] : n)
		if (k != 1)
			return std::nullopt;
	return choose(answer, ours, proto, want_dh);
}

std::string suite_name(const Chosen &c, bool ike_sa)
{
	std::string s = ike::transform_name(ike::TransformType::encr, static_cast<std::uint16_t>(c.encr), c.key_bits);
	if (ike_sa)
		s += "/" + ike::transform_name(ike::TransformType::prf, static_cast<std::uint16_t>(c.prf));
	if (c.dh != ike::DhGroup::none)
		s += "/" + ike::transform_name(ike::TransformType::dh, static_cast<std::uint16_t>(c.dh));
	if (!ike_sa && c.esn)
		s += "/ESN";
	return s;
}

} // namespace ntmd
