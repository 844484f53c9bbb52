// SPDX-License-Identifier: GPL-2.0
/* scrypt password hashes (ntm/kdf.hpp): RFC 7914 vector, format, bad stored strings. */
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ntm/error.hpp"
#include "ntm/kdf.hpp"

namespace {

using ntm::config::Scrypt;
namespace kdf = ntm::kdf;

/* cheap parameters: the format and logic do not depend on the cost */
constexpr Scrypt kFast{10, 8, 1};

std::vector<std::uint8_t> bytes(std::string_view s)
{
	return {s.begin(), s.end()};
}

TEST(Kdf, Rfc7914Vector2)
{
	/* RFC 7914 section 12: scrypt(P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64) */
	constexpr std::array<std::uint8_t, 64> kExpected{
		0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00, 0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe,
		0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23, 0x78, 0x30, 0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62,
		0x2e, 0xaf, 0x30, 0xd9, 0x2e, 0x22, 0xa3, 0x88, 0x6f, 0xf1, 0x09, 0x27, 0x9d, 0x98, 0x30, 0xda,
		0xc7, 0x27, 0xaf, 0xb9, 0x4a, 0x83, 0xee, 0x6d, 0x83, 0x60, 0xcb, 0xdf, 0xa2, 0xcc, 0x06, 0x40};
	const auto salt = bytes("NaCl");
	const auto out = kdf::scrypt_raw("password", salt, 1024, 8, 16, 64);
	ASSERT_EQ(out.size(), kExpected.size());
	EXPECT_TRUE(std::equal(kExpected.begin(), kExpected.end(), out.data()));
}

TEST(Kdf, RawRejectsBadParameters)
{
	const auto salt = bytes("salt");
	EXPECT_THROW((void)kdf::scrypt_raw("pw", salt, 1000, 8, 1, 32), ntm::Error); /* not a power of 2 */
	EXPECT_THROW((void)kdf::scrypt_raw("pw", salt, 1, 8, 1, 32), ntm::Error);
	EXPECT_THROW((void)kdf::scrypt_raw("pw", salt, 1024, 0, 1, 32), ntm::Error);
	EXPECT_THROW((void)kdf::scrypt_raw("pw", salt, 1024, 8, 1, 0), ntm::Error);
	EXPECT_THROW((void)kdf::scrypt_raw("pw", salt, std::uint64_t{1} << 22, 32, 1, 32), ntm::Error); /* 16 GiB */
}

TEST(Kdf, HashFormatAndVerify)
{
	const auto h = kdf::hash_password("correct horse", kFast);
	ASSERT_TRUE(h.starts_with("$scrypt$ln=10,r=8,p=1$")) << h;
	/* 16-byte salt -> 22 chars, 32-byte hash -> 43 chars, no padding */
	const auto rest = h.substr(std::string("$scrypt$ln=10,r=8,p=1$").size());
	const auto dollar = rest.find('$');
	ASSERT_NE(dollar, std::string::npos);
	EXPECT_EQ(dollar, 22U);
	EXPECT_EQ(rest.size() - dollar - 1, 43U);
	EXPECT_EQ(h.find('='), std::string("$scrypt$ln").size());

	EXPECT_TRUE(kdf::verify_password("correct horse", h));
	EXPECT_FALSE(kdf::verify_password("correct horsE", h));
	EXPECT_FALSE(kdf::verify_password("", h));
	EXPECT_FALSE(kdf::verify_password("correct horse ", h));

	/* random salt: two hashes of one password differ, both verify */
	const auto h2 = kdf::hash_password("correct horse", kFast);
	EXPECT_NE(h, h2);
	EXPECT_TRUE(kdf::verify_password("correct horse", h2));

	const auto params = kdf::parse_params(h);
	ASSERT_TRUE(params);
	EXPECT_EQ(params->n_log2, 10U);
	EXPECT_EQ(params->r, 8U);
	EXPECT_EQ(params->p, 1U);
}

TEST(Kdf, EmptyAndBinaryPasswords)
{
	const auto e = kdf::hash_password("", kFast);
	EXPECT_TRUE(kdf::verify_password("", e));
	EXPECT_FALSE(kdf::verify_password("x", e));
	const std::string bin("a\0b\xff", 4);
	const auto b = kdf::hash_password(bin, kFast);
	EXPECT_TRUE(kdf::verify_password(bin, b));
	EXPECT_FALSE(kdf::verify_password("a", b));
}

TEST(Kdf, OtherParametersVerify)
{
	const auto h = kdf::hash_password("pw", Scrypt{11, 4, 2});
	EXPECT_TRUE(h.starts_with("$scrypt$ln=11,r=4,p=2$"));
	EXPECT_TRUE(kdf::verify_password("pw", h));
}

TEST(Kdf, HashRejectsOutOfRangeParameters)
{
	EXPECT_THROW((void)kdf::hash_password("pw", Scrypt{21, 8, 1}), ntm::Error);
	EXPECT_THROW((void)kdf::hash_password("pw", Scrypt{0, 8, 1}), ntm::Error);
	EXPECT_THROW((void)kdf::hash_password("pw", Scrypt{10, 33, 1}), ntm::Error);
	EXPECT_THROW((void)kdf::hash_password("pw", Scrypt{10, 8, 17}), ntm::Error);
	EXPECT_THROW((void)kdf::hash_password("pw", Scrypt{20, 32, 1}), ntm::Error); /* 4 GiB */
}

TEST(Kdf, MalformedStoredStringsAreFalse)
{
	const auto good = kdf::hash_password("pw", kFast);
	const auto tail = good.substr(std::string("$scrypt$ln=10,r=8,p=1").size()); /* "$salt$hash" */
	const std::vector<std::string> bad{
		"",
		"$",
		"$scrypt$",
		"$scrypt$$$",
		"$argon2id$ln=10,r=8,p=1" + tail,
		"$scrypt$ln=10,r=8" + tail,
		"$scrypt$ln=10,r=8,p=1,x=1" + tail,
		"$scrypt$r=8,ln=10,p=1" + tail,
		"$scrypt$ln=010,r=8,p=1" + tail,
		"$scrypt$ln=-1,r=8,p=1" + tail,
		"$scrypt$ln=+10,r=8,p=1" + tail,
		"$scrypt$ln=,r=8,p=1" + tail,
		"$scrypt$ln=99999999999999999999,r=8,p=1" + tail,
		/* the sanity limits: a corrupted row must not allocate gigabytes */
		"$scrypt$ln=21,r=8,p=1" + tail,
		"$scrypt$ln=30,r=8,p=1" + tail,
		"$scrypt$ln=20,r=32,p=1" + tail,
		"$scrypt$ln=10,r=33,p=1" + tail,
		"$scrypt$ln=10,r=8,p=17" + tail,
		"$scrypt$ln=0,r=8,p=1" + tail,
		"$scrypt$ln=10,r=0,p=1" + tail,
		"$scrypt$ln=10,r=8,p=0" + tail,
		good + "$",
		good + "=",
		good.substr(0, good.rfind('$')),
		good.substr(0, good.rfind('$')) + "$",
		good.substr(0, good.rfind('$')) + "$AAAA",			  /* 3-byte hash: too short */
		"$scrypt$ln=10,r=8,p=1$AAAA$" + good.substr(good.rfind('$') + 1), /* 3-byte salt */
		"$scrypt$ln=10,r=8,p=1$!!!!!!!!!!!!!!!!!!!!!!$" + good.substr(good.rfind('$') + 1),
		std::string("$scrypt$ln=10,r=8,p=1\0", 22) + tail,
		" " + good,
	};
	for (const auto &s : bad) {
		EXPECT_FALSE(kdf::verify_password("pw", s)) << s;
		EXPECT_FALSE(kdf::parse_params(s)) << s;
	}
	/* well-formed, but a hash of another length: parses, never verifies */
	for (const auto &s : {good + "A", good + "AAAA", good.substr(0, good.size() - 1)})
		EXPECT_FALSE(kdf::verify_password("pw", s)) << s;
	EXPECT_TRUE(kdf::verify_password("pw", good));
}

TEST(Kdf, DummyHashIsWellFormedAndMatchesNothing)
{
	const auto d = kdf::dummy_hash(kFast);
	const auto params = kdf::parse_params(d);
	ASSERT_TRUE(params);
	EXPECT_EQ(params->n_log2, 10U);
	EXPECT_FALSE(kdf::verify_password("", d));
	EXPECT_FALSE(kdf::verify_password("password", d));
}

} // namespace
