// SPDX-License-Identifier: GPL-2.0
/*
 * Proposal and traffic selector selection of ntmd's IKEv2 role
 * (ctld/ntmd/ike_select.hpp): which of a peer's proposals is chosen (the
 * peer's order, DH groups with and without PFS), what is refused, how
 * selectors are narrowed to the configured prefixes, and that an answer
 * naming something we did not offer is not accepted.
 */
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <linux/ntm.h>

#include "ike_select.hpp"
#include "ntm/parse.hpp"

namespace {

namespace ike = ntm::ike;
using ike::DhGroup;
using ike::Protocol;
using ike::TransformType;
using ntm::config::IkeProposal;

constexpr std::uint16_t kGcm = 20;
constexpr std::uint16_t kChacha = 28;
constexpr std::uint16_t kSha256 = 5;
constexpr std::uint16_t kSha384 = 6;
constexpr std::uint16_t kEcp256 = 19;
constexpr std::uint16_t kX25519 = 31;

IkeProposal ours(std::uint16_t encr, std::optional<std::uint16_t> bits, std::vector<std::uint16_t> dh,
		 std::uint16_t prf = kSha256, std::vector<std::uint16_t> esn = {})
{
	IkeProposal p;
	p.encr = encr;
	p.key_bits = bits;
	p.prf = prf;
	p.dh = std::move(dh);
	p.esn = std::move(esn);
	return p;
}

/* a peer's IKE proposal: ENCR, PRF, the groups */
ike::Proposal ike_prop(std::uint8_t num, std::uint16_t encr, std::optional<std::uint16_t> bits, std::uint16_t prf,
		       const std::vector<std::uint16_t> &dh)
{
	ike::Proposal p;
	p.num = num;
	p.protocol = Protocol::ike;
	p.transforms.push_back({TransformType::encr, encr, bits});
	p.transforms.push_back({TransformType::prf, prf, std::nullopt});
	for (auto g : dh)
		p.transforms.push_back({TransformType::dh, g, std::nullopt});
	return p;
}

/* a peer's ESP proposal with a 4-byte SPI: ENCR, the groups (0 is NONE), ESN */
ike::Proposal esp_prop(std::uint8_t num, std::uint16_t encr, std::optional<std::uint16_t> bits,
		       const std::vector<std::uint16_t> &dh, std::vector<std::uint16_t> esn = {0})
{
	ike::Proposal p;
	p.num = num;
	p.protocol = Protocol::esp;
	p.spi = ike::esp_spi_bytes(0xc0ffee01);
	p.transforms.push_back({TransformType::encr, encr, bits});
	for (auto g : dh)
		p.transforms.push_back({TransformType::dh, g, std::nullopt});
	for (auto e : esn)
		p.transforms.push_back({TransformType::esn, e, std::nullopt});
	return p;
}

ike::TrafficSelector ts(const char *prefix)
{
	const std::string s(prefix);
	const auto slash = s.find('/');
	return ike::TrafficSelector::from_prefix(ntm::parse_address(s.substr(0, slash)),
						 static_cast<unsigned>(std::stoul(s.substr(slash + 1))));
}

ike::TrafficSelector range(const char *start, const char *end)
{
	ike::TrafficSelector t;
	t.start = ntm::parse_address(start);
	t.end = ntm::parse_address(end);
	t.type = t.start.is_v4() ? ike::TsType::ipv4_range : ike::TsType::ipv6_range;
	return t;
}

ntm::sig::Prefix pfx(const char *prefix)
{
	const auto t = ts(prefix);
	return ntm::sig::Prefix{t.start, static_cast<std::uint8_t>(*t.prefix_len())};
}

/* ---- proposals ---- */

TEST(IkeSelect, IkeTakesThePeersFirstProposalThatOneOfOursCovers)
{
	/* our order does not matter, the peer's does (RFC 7296 section 2.7) */
	const std::vector<IkeProposal> mine{ours(kChacha, std::nullopt, {kEcp256}), ours(kGcm, 256, {kX25519})};
	const std::vector<ike::Proposal> theirs{ike_prop(1, kGcm, 128, kSha256, {kX25519}),
						ike_prop(2, kGcm, 256, kSha256, {kEcp256, kX25519}),
						ike_prop(3, kChacha, std::nullopt, kSha256, {kEcp256})};
	const auto c = ntmd::choose(theirs, mine, Protocol::ike, std::nullopt);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->proposal.num, 2);
	EXPECT_EQ(c->encr, ike::Encr::aes_gcm_16);
	EXPECT_EQ(c->key_bits, 256);
	EXPECT_EQ(c->prf, ike::Prf::hmac_sha2_256);
	EXPECT_EQ(c->dh, DhGroup::curve25519); /* the group of ours, not the peer's first */
	/* the answer holds one transform of each type */
	ASSERT_EQ(c->proposal.transforms.size(), 3U);
	EXPECT_EQ(c->proposal.transforms[2], (ike::Transform{TransformType::dh, kX25519, std::nullopt}));
	EXPECT_EQ(ntmd::suite_name(*c, true), "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
}

TEST(IkeSelect, IkeNoMatchIsRefused)
{
	const std::vector<IkeProposal> mine{ours(kGcm, 256, {kX25519})};
	/* another key size, another PRF, another group, no group at all */
	EXPECT_FALSE(ntmd::choose({ike_prop(1, kGcm, 128, kSha256, {kX25519})}, mine, Protocol::ike, std::nullopt));
	EXPECT_FALSE(ntmd::choose({ike_prop(1, kGcm, 256, kSha384, {kX25519})}, mine, Protocol::ike, std::nullopt));
	EXPECT_FALSE(ntmd::choose({ike_prop(1, kGcm, 256, kSha256, {kEcp256})}, mine, Protocol::ike, std::nullopt));
	EXPECT_FALSE(ntmd::choose({ike_prop(1, kGcm, 256, kSha256, {})}, mine, Protocol::ike, std::nullopt));
	/* an integrity algorithm cannot go with AEAD */
	auto integ = ike_prop(1, kGcm, 256, kSha256, {kX25519});
	integ.transforms.push_back({TransformType::integ, 12, std::nullopt});
	EXPECT_FALSE(ntmd::choose({integ}, mine, Protocol::ike, std::nullopt));
	/* ESP proposals do not answer an IKE SA */
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {kX25519})}, mine, Protocol::ike, std::nullopt));
	EXPECT_EQ(ntmd::describe(mine, true), "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
}

TEST(IkeSelect, EspWithoutPfs)
{
	const std::vector<IkeProposal> mine{ours(kGcm, 256, {})};
	const auto c = ntmd::choose({esp_prop(1, kGcm, 256, {})}, mine, Protocol::esp, DhGroup::none);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->dh, DhGroup::none);
	EXPECT_FALSE(c->esn);
	EXPECT_EQ(c->spi, ike::esp_spi_bytes(0xc0ffee01));
	ASSERT_EQ(c->proposal.transforms.size(), 2U); /* ENCR and ESN, no DH */
	/* an ESP SPI is 4 bytes */
	auto bad_spi = esp_prop(1, kGcm, 256, {});
	bad_spi.spi = {1, 2, 3};
	EXPECT_FALSE(ntmd::choose({bad_spi}, mine, Protocol::esp, DhGroup::none));
	/* ESN only when we allow it */
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {}, {1})}, mine, Protocol::esp, DhGroup::none));
	const std::vector<IkeProposal> esn{ours(kGcm, 256, {}, kSha256, {1, 0})};
	const auto e = ntmd::choose({esp_prop(1, kGcm, 256, {}, {1, 0})}, esn, Protocol::esp, DhGroup::none);
	ASSERT_TRUE(e);
	EXPECT_TRUE(e->esn);
}

TEST(IkeSelect, EspPfsGroupMustMatchTheKe)
{
	const std::vector<IkeProposal> mine{ours(kGcm, 256, {kX25519})};
	const auto c = ntmd::choose({esp_prop(1, kGcm, 256, {kEcp256, kX25519})}, mine, Protocol::esp, DhGroup::curve25519);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->dh, DhGroup::curve25519);
	ASSERT_EQ(c->proposal.transforms.size(), 3U);
	/* a KE of a group the proposal or our configuration lacks */
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {kX25519})}, mine, Protocol::esp, DhGroup::ecp256));
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {kEcp256})}, mine, Protocol::esp, DhGroup::ecp256));
	/* a KE, but the proposal names no group */
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {})}, mine, Protocol::esp, DhGroup::curve25519));
}

TEST(IkeSelect, EspPeerWantsPfsWithoutKe)
{
	/* groups but no KE (IKE_AUTH, or a peer without PFS): only if NONE is offered too */
	const std::vector<IkeProposal> mine{ours(kGcm, 256, {kX25519})};
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {kX25519})}, mine, Protocol::esp, DhGroup::none));
	const auto c = ntmd::choose({esp_prop(1, kGcm, 256, {kX25519, 0})}, mine, Protocol::esp, DhGroup::none);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->dh, DhGroup::none);
	ASSERT_EQ(c->proposal.transforms.size(), 2U);
}

TEST(IkeSelect, EspRequirePfsAfterIkeAuth)
{
	/* a CHILD SA created after IKE_AUTH: our proposal names a group, so no PFS is refused */
	const std::vector<IkeProposal> pfs{ours(kGcm, 256, {kX25519})};
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {kX25519, 0})}, pfs, Protocol::esp, DhGroup::none, true));
	EXPECT_FALSE(ntmd::choose({esp_prop(1, kGcm, 256, {})}, pfs, Protocol::esp, DhGroup::none, true));
	EXPECT_TRUE(ntmd::choose({esp_prop(1, kGcm, 256, {kX25519})}, pfs, Protocol::esp, DhGroup::curve25519, true));
	/* without a group of ours, no PFS is fine */
	const std::vector<IkeProposal> nopfs{ours(kGcm, 256, {})};
	EXPECT_TRUE(ntmd::choose({esp_prop(1, kGcm, 256, {})}, nopfs, Protocol::esp, DhGroup::none, true));
}

TEST(IkeSelect, OurProposals)
{
	const std::vector<IkeProposal> cfg{ours(kGcm, 256, {kX25519, kEcp256}), ours(kChacha, std::nullopt, {kX25519})};
	const auto ikep = ntmd::ike_proposals(cfg, {});
	ASSERT_EQ(ikep.size(), 2U);
	EXPECT_EQ(ikep[0].num, 1);
	EXPECT_EQ(ikep[1].num, 2);
	EXPECT_TRUE(ikep[0].spi.empty());
	EXPECT_EQ(ikep[0].transforms.size(), 4U);
	/* what we offer is what we accept */
	EXPECT_TRUE(ntmd::choose(ikep, cfg, Protocol::ike, std::nullopt));

	const auto with = ntmd::esp_proposals(cfg, 0x12345678, true);
	ASSERT_EQ(with.size(), 2U);
	EXPECT_EQ(with[0].spi, ike::esp_spi_bytes(0x12345678));
	EXPECT_EQ(with[0].transforms.size(), 4U); /* ENCR, 2 DH, ESN */
	/* without groups the two proposals still differ */
	EXPECT_EQ(ntmd::esp_proposals(cfg, 0x12345678, false).size(), 2U);
	/* but proposals that differ in their groups only collapse into one (D64) */
	const std::vector<IkeProposal> same{ours(kGcm, 256, {kX25519}), ours(kGcm, 256, {kEcp256})};
	EXPECT_EQ(ntmd::esp_proposals(same, 0x12345678, true).size(), 2U);
	const auto without = ntmd::esp_proposals(same, 0x12345678, false);
	ASSERT_EQ(without.size(), 1U);
	EXPECT_EQ(without[0].transforms.size(), 2U);
	EXPECT_EQ(ntmd::describe(without, Protocol::esp), "AES_GCM_16_256/NO_ESN");
	EXPECT_EQ(ntmd::describe(without, Protocol::ike), "nothing");
}

TEST(IkeSelect, AcceptAnswerOnlyOfWhatWeOffered)
{
	const std::vector<IkeProposal> mine{ours(kGcm, 256, {kX25519})};
	/* the answer a responder builds from our offer passes */
	const auto chosen = ntmd::choose(ntmd::ike_proposals(mine, {}), mine, Protocol::ike, std::nullopt);
	ASSERT_TRUE(chosen);
	auto answer = chosen->proposal;
	answer.spi = ike::ike_spi_bytes(0x1122334455667788);
	const auto ok = ntmd::accept_answer({answer}, mine, Protocol::ike, std::nullopt);
	ASSERT_TRUE(ok);
	EXPECT_EQ(ok->dh, DhGroup::curve25519);
	/* an algorithm we did not offer */
	EXPECT_FALSE(ntmd::accept_answer({ike_prop(1, kChacha, std::nullopt, kSha256, {kX25519})}, mine, Protocol::ike,
					 std::nullopt));
	EXPECT_FALSE(ntmd::accept_answer({ike_prop(1, kGcm, 256, kSha256, {kEcp256})}, mine, Protocol::ike, std::nullopt));
	/* more than one proposal, or two transforms of one type */
	EXPECT_FALSE(ntmd::accept_answer({answer, answer}, mine, Protocol::ike, std::nullopt));
	EXPECT_FALSE(ntmd::accept_answer({}, mine, Protocol::ike, std::nullopt));
	auto twice = answer;
	twice.transforms.push_back({TransformType::dh, kX25519, std::nullopt});
	EXPECT_FALSE(ntmd::accept_answer({twice}, mine, Protocol::ike, std::nullopt));
	/* a CHILD SA answer with a group we offered no KE for */
	const std::vector<IkeProposal> esp{ours(kGcm, 256, {kX25519})};
	EXPECT_FALSE(ntmd::accept_answer({esp_prop(1, kGcm, 256, {kX25519})}, esp, Protocol::esp, DhGroup::none));
	EXPECT_TRUE(ntmd::accept_answer({esp_prop(1, kGcm, 256, {})}, esp, Protocol::esp, DhGroup::none));
}

/* ---- traffic selectors ---- */

TEST(IkeSelect, NarrowSubsetAndSuperset)
{
	const auto mine = ts("10.1.0.0/16");
	EXPECT_EQ(ntmd::narrow(ts("10.1.2.0/24"), mine), ts("10.1.2.0/24"));
	EXPECT_EQ(ntmd::narrow(ts("0.0.0.0/0"), mine), mine);
	EXPECT_EQ(ntmd::narrow(mine, mine), mine);
	EXPECT_EQ(ntmd::narrow(ts("2001:db8::/32"), ts("2001:db8:1::/48")), ts("2001:db8:1::/48"));
	EXPECT_EQ(ntmd::narrow(ts("2001:db8:1:2::/64"), ts("2001:db8:1::/48")), ts("2001:db8:1:2::/64"));
}

TEST(IkeSelect, NarrowDisjointAndOtherFamily)
{
	EXPECT_FALSE(ntmd::narrow(ts("10.2.0.0/16"), ts("10.1.0.0/16")));
	EXPECT_FALSE(ntmd::narrow(ts("2001:db8:2::/48"), ts("2001:db8:1::/48")));
	/* IPv4 against IPv6, even when both cover everything */
	EXPECT_FALSE(ntmd::narrow(ts("0.0.0.0/0"), ts("::/0")));
	EXPECT_FALSE(ntmd::narrow(ts("::/0"), ts("10.1.0.0/16")));
}

TEST(IkeSelect, NarrowPartialOverlap)
{
	/* the intersection is one prefix: taken */
	EXPECT_EQ(ntmd::narrow(range("10.0.128.0", "10.1.127.255"), ts("10.1.0.0/16")), ts("10.1.0.0/17"));
	/* the intersection is no prefix: the kernel could not enforce it */
	EXPECT_FALSE(ntmd::narrow(range("10.0.128.0", "10.1.2.255"), ts("10.1.0.0/16")));
	/* ports and protocols are not enforced either */
	auto tcp = ts("10.1.0.0/16");
	tcp.ip_proto = 6;
	EXPECT_FALSE(ntmd::narrow(tcp, ts("10.1.0.0/16")));
	auto port = ts("10.1.0.0/16");
	port.start_port = 443;
	port.end_port = 443;
	EXPECT_FALSE(ntmd::narrow(port, ts("10.1.0.0/16")));
}

TEST(IkeSelect, NarrowAll)
{
	const std::vector<ntm::sig::Prefix> cfg{pfx("10.1.0.0/16"), pfx("2001:db8:1::/48")};
	const auto r = ntmd::narrow_all({ts("0.0.0.0/0"), ts("::/0"), ts("10.1.0.0/16"), ts("10.9.0.0/16")}, cfg);
	ASSERT_EQ(r.size(), 2U); /* no repeats, nothing for the disjoint one */
	EXPECT_EQ(r[0], ts("10.1.0.0/16"));
	EXPECT_EQ(r[1], ts("2001:db8:1::/48"));
	EXPECT_EQ(ntmd::describe(r), "10.1.0.0/16 2001:db8:1::/48");
	EXPECT_TRUE(ntmd::narrow_all({ts("10.9.0.0/16")}, cfg).empty());
	/* at most what the kernel takes */
	std::vector<ntm::sig::Prefix> many;
	std::vector<ike::TrafficSelector> offered;
	for (int i = 0; i < NTM_TS_MAX + 3; i++) {
		const auto p = "10." + std::to_string(i) + ".0.0/16";
		many.push_back(pfx(p.c_str()));
		offered.push_back(ts(p.c_str()));
	}
	EXPECT_EQ(ntmd::narrow_all(offered, many).size(), static_cast<std::size_t>(NTM_TS_MAX));
}

TEST(IkeSelect, TsWithin)
{
	const std::vector<ike::TrafficSelector> outer{ts("10.1.0.0/16"), ts("2001:db8::/32")};
	EXPECT_TRUE(ntmd::ts_within(ts("10.1.2.0/24"), outer));
	EXPECT_TRUE(ntmd::ts_within(ts("10.1.0.0/16"), outer));
	EXPECT_TRUE(ntmd::ts_within(ts("2001:db8:5::/48"), outer));
	EXPECT_FALSE(ntmd::ts_within(ts("10.0.0.0/8"), outer));
	EXPECT_FALSE(ntmd::ts_within(range("10.0.255.0", "10.1.0.255"), outer));
	EXPECT_FALSE(ntmd::ts_within(ts("::/0"), outer));
	EXPECT_FALSE(ntmd::ts_within(ts("10.1.0.0/16"), {}));
}

} // namespace
