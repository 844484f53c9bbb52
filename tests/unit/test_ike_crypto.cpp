// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 cryptography (ntm/ike_crypto.hpp) against published vectors:
 *  - HMAC-SHA2-256/384/512: RFC 4231 test cases 1, 2 and 6;
 *  - IKEv2 KDF (SKEYSEED, prf+ DKM, SKEYSEED(Rekey)): the NIST CAVP
 *    SP 800-135 IKEv2 sample for SHA-256 as carried by NSS
 *    (gtests/common/testvectors/ike-sha256-vectors.h, "these vectors are
 *    from this NIST samples": g^ir 0f4d.., Ni 3f30.., Nr 8c33..);
 *  - ECP-256: RFC 5903 section 8.1; X25519: RFC 7748 section 6.1;
 *  - Ed25519: RFC 8032 section 7.1 TEST 1.
 * The CHILD SA KEYMAT, PSK AUTH and NAT-D known answers were computed with
 * an independent Python reference (hmac/hashlib); that reference
 * reproduces the CAVP SHA-1 IKEv2 vector (libreswan
 * programs/cavp/test.acvp.ikev2.run: SKEYSEED a9a7b222.., DKM(Child SA)
 * 8059e3ee.., DKM(Child SA D-H) bb43244c.., SKEYSEED(Rekey) 63e81194..)
 * exactly, which this library cannot run itself (no SHA-1 PRF).
 */
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "ntm/ike_crypto.hpp"

namespace ike = ntm::ike;
using ike::Bytes;
using ike::ByteView;
using ike::HashAlg;
using ike::Prf;

namespace {

Bytes hex(std::string_view h)
{
	Bytes out;
	std::string clean;
	for (const char c : h)
		if (c != ' ' && c != '\n')
			clean.push_back(c);
	for (std::size_t i = 0; i + 1 < clean.size(); i += 2)
		out.push_back(static_cast<std::uint8_t>(std::stoul(clean.substr(i, 2), nullptr, 16)));
	return out;
}

Bytes seq(std::size_t n, std::uint8_t first)
{
	Bytes b(n);
	for (std::size_t i = 0; i < n; i++)
		b[i] = static_cast<std::uint8_t>(first + i);
	return b;
}

Bytes bytes(const ntm::SecretBytes &s)
{
	return {s.data(), s.data() + s.size()};
}

Bytes text(std::string_view s)
{
	return {s.begin(), s.end()};
}

Bytes cat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const auto &p : parts)
		out.insert(out.end(), p.begin(), p.end());
	return out;
}

struct PkeyFree {
	void operator()(EVP_PKEY *k) const noexcept { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey ec_key(const char *curve)
{
	Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
	EXPECT_TRUE(k);
	return k;
}

Pkey ed25519_key()
{
	Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
	EXPECT_TRUE(k);
	return k;
}

/* NIST CAVP IKEv2 KDF sample, SHA-256 (see the top of this file) */
const Bytes kGir = hex("0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29");
const Bytes kGirNew = hex("25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c");
const Bytes kNi = hex("3f302be1abcb28e1");
const Bytes kNr = hex("8c332ee006064c9b");
constexpr std::uint64_t kSpiI = 0x40dac39e1e1a8640ULL;
constexpr std::uint64_t kSpiR = 0x8619a1cf9a6e4c07ULL;
const Bytes kSkeyseed = hex("5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe");
const Bytes kDkm = hex("0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec"
		       "e98aca531188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6"
		       "cdf6854379e31be72b8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4"
		       "e1c19bdcd4db14b29d98db1a74ad405c588662c14a04d0d36aa4ab55e90f8986"
		       "d12d4aad"); /* 132 bytes */
const Bytes kSkeyseedRekey = hex("2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398");

Bytes ike_seed()
{
	return cat({kNi, kNr, hex("40dac39e1e1a8640"), hex("8619a1cf9a6e4c07")});
}

Bytes keys_concat(const ike::IkeKeys &k)
{
	return cat({bytes(k.sk_d), bytes(k.sk_ei.key), bytes(k.sk_er.key), bytes(k.sk_pi), bytes(k.sk_pr)});
}

} // namespace

/* ---- PRF ---- */

/* RFC 4231 sections 4.2, 4.3 and 4.7 */
TEST(IkePrf, Rfc4231)
{
	const Bytes k1(20, 0x0b);
	const Bytes d1 = text("Hi There");
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_256, k1, d1)),
		  hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_384, k1, d1)),
		  hex("afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
		      "faea9ea9076ede7f4af152e8b2fa9cb6"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_512, k1, d1)),
		  hex("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
		      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"));

	const Bytes k2 = text("Jefe");
	const Bytes d2 = text("what do ya want for nothing?");
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_256, k2, d2)),
		  hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_384, k2, d2)),
		  hex("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
		      "8e2240ca5e69e2c78b3239ecfab21649"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_512, k2, d2)),
		  hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
		      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"));

	const Bytes k6(131, 0xaa);
	const Bytes d6 = text("Test Using Larger Than Block-Size Key - Hash Key First");
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_256, k6, d6)),
		  hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_384, k6, d6)),
		  hex("4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
		      "0c2ef6ab4030fe8296248df163f44952"));
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_512, k6, d6)),
		  hex("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
		      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"));
}

TEST(IkePrf, Lengths)
{
	EXPECT_EQ(ike::prf_len(Prf::hmac_sha2_256), 32U);
	EXPECT_EQ(ike::prf_len(Prf::hmac_sha2_384), 48U);
	EXPECT_EQ(ike::prf_len(Prf::hmac_sha2_512), 64U);
	EXPECT_THROW(ike::prf_len(static_cast<Prf>(2)), ike::CryptoError);
	EXPECT_TRUE(ike::supported(Prf::hmac_sha2_384));
	EXPECT_FALSE(ike::supported(static_cast<Prf>(2)));
}

/* NIST CAVP sample (SHA-256): SKEYSEED and DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
TEST(IkePrf, PrfPlusCavp)
{
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_256, cat({kNi, kNr}), kGir)), kSkeyseed);
	EXPECT_EQ(bytes(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 132)), kDkm);
	/* NSS's truncations of the same vector: 32 and 15 bytes */
	EXPECT_EQ(bytes(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 32)), Bytes(kDkm.begin(), kDkm.begin() + 32));
	EXPECT_EQ(bytes(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 15)), Bytes(kDkm.begin(), kDkm.begin() + 15));
	EXPECT_TRUE(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 0).empty());
	EXPECT_EQ(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 255 * 32).size(), 255U * 32);
	EXPECT_THROW(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 255 * 32 + 1), std::invalid_argument);
}

/* ---- key schedules ---- */

TEST(IkeKdf, InitialIkeKeysCavp)
{
	/* AES-GCM-16/128 with PRF-HMAC-SHA2-256: SK_d 32 | SK_ei 16+4 | SK_er 16+4 | SK_pi 32 | SK_pr 32 = 136
	 * bytes; the published DKM has the first 132, the last 4 come from the
	 * Python reference */
	const ike::IkeSuite s{ike::Encr::aes_gcm_16, 128, Prf::hmac_sha2_256, ike::DhGroup::ecp256};
	const ike::IkeKeys k = ike::derive_ike_keys(s, kGir, kNi, kNr, kSpiI, kSpiR);
	EXPECT_EQ(k.sk_d.size(), 32U);
	EXPECT_EQ(k.sk_ei.key.size(), 20U);
	EXPECT_EQ(k.sk_er.key.size(), 20U);
	EXPECT_EQ(k.sk_pi.size(), 32U);
	EXPECT_EQ(k.sk_pr.size(), 32U);
	EXPECT_EQ(k.sk_ei.encr, ike::Encr::aes_gcm_16);
	EXPECT_EQ(keys_concat(k), cat({kDkm, hex("5ce032b9")}));
	EXPECT_EQ(bytes(k.sk_d), Bytes(kDkm.begin(), kDkm.begin() + 32));

	/* other suites slice the same stream */
	const ike::IkeSuite cc{ike::Encr::chacha20_poly1305, {}, Prf::hmac_sha2_256, ike::DhGroup::curve25519};
	const ike::IkeKeys kc = ike::derive_ike_keys(cc, kGir, kNi, kNr, kSpiI, kSpiR);
	EXPECT_EQ(kc.sk_ei.key.size(), 36U);
	EXPECT_EQ(kc.sk_ei.encr, ike::Encr::chacha20_poly1305);
	const Bytes all_c = keys_concat(kc);
	EXPECT_EQ(all_c, bytes(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseed, ike_seed(), 32 + 72 + 64)));
	EXPECT_EQ(Bytes(all_c.begin(), all_c.begin() + 132), kDkm);

	const ike::IkeSuite s512{ike::Encr::aes_gcm_16, 256, Prf::hmac_sha2_512, ike::DhGroup::ecp256};
	const ike::IkeKeys k512 = ike::derive_ike_keys(s512, kGir, kNi, kNr, kSpiI, kSpiR);
	EXPECT_EQ(k512.sk_d.size(), 64U);
	EXPECT_EQ(k512.sk_pr.size(), 64U);
	const auto seed512 = ike::prf(Prf::hmac_sha2_512, cat({kNi, kNr}), kGir);
	EXPECT_EQ(keys_concat(k512), bytes(ike::prf_plus(Prf::hmac_sha2_512, seed512.span(), ike_seed(), 64 * 3 + 72)));

	EXPECT_THROW(ike::derive_ike_keys({ike::Encr::aes_gcm_16, {}, Prf::hmac_sha2_256, ike::DhGroup::ecp256}, kGir,
					  kNi, kNr, kSpiI, kSpiR),
		     ike::CryptoError);
}

TEST(IkeKdf, RekeyedIkeKeysCavp)
{
	/* SKEYSEED(Rekey) = prf(SK_d (old), g^ir (new) | Ni | Nr), SK_d (old)
	 * being the first 32 bytes of the DKM (CAVP sample) */
	const Bytes old_sk_d(kDkm.begin(), kDkm.begin() + 32);
	EXPECT_EQ(bytes(ike::prf(Prf::hmac_sha2_256, old_sk_d, cat({kGirNew, kNi, kNr}))), kSkeyseedRekey);

	const ike::IkeSuite s{ike::Encr::aes_gcm_16, 256, Prf::hmac_sha2_256, ike::DhGroup::ecp256};
	const std::uint64_t new_i = 0x1111111111111111ULL;
	const std::uint64_t new_r = 0x2222222222222222ULL;
	const Bytes seed = cat({kNi, kNr, hex("1111111111111111"), hex("2222222222222222")});
	const ike::IkeKeys k =
		ike::derive_rekeyed_ike_keys(Prf::hmac_sha2_256, old_sk_d, s, kGirNew, kNi, kNr, new_i, new_r);
	EXPECT_EQ(keys_concat(k), bytes(ike::prf_plus(Prf::hmac_sha2_256, kSkeyseedRekey, seed, 32 * 3 + 72)));

	/* the old SA's PRF makes SKEYSEED, the new SA's PRF runs prf+ (RFC 7296 section 2.18) */
	const ike::IkeSuite s384{ike::Encr::aes_gcm_16, 256, Prf::hmac_sha2_384, ike::DhGroup::ecp256};
	const ike::IkeKeys k384 =
		ike::derive_rekeyed_ike_keys(Prf::hmac_sha2_256, old_sk_d, s384, kGirNew, kNi, kNr, new_i, new_r);
	EXPECT_EQ(k384.sk_d.size(), 48U);
	EXPECT_EQ(keys_concat(k384), bytes(ike::prf_plus(Prf::hmac_sha2_384, kSkeyseedRekey, seed, 48 * 3 + 72)));
}

TEST(IkeKdf, ChildKeys)
{
	/* KEYMAT = prf+(SK_d, Ni | Nr) and prf+(SK_d, g^ir (new) | Ni | Nr) with
	 * the CAVP sample's SK_d; expected values from the Python reference
	 * (see the top of this file) */
	const Bytes sk_d(kDkm.begin(), kDkm.begin() + 32);
	const Bytes keymat = hex("7d808e2b44635300e7025f1b640c431b13a9b3b891cd45a15261f4f3c4a7e39b3a3c8017"
				 "ccc2b74610faf52ba3faf6d9e83c859b448217b24dadc82c9887460b7bd724236b988591");
	const Bytes keymat_dh = hex("67edd256e64542436173e3ca39ef1fdec3c8240b860df26f84caf5258578ff35df40ddc3"
				    "1ea210e0523988b7531c9dc3207e0e98e256214999c7712f73ff044a9cf6e3a5e421862b");
	const auto k = ike::derive_child_keys(Prf::hmac_sha2_256, sk_d, std::nullopt, kNi, kNr, ike::Encr::aes_gcm_16,
					      256);
	EXPECT_EQ(bytes(k.i_to_r), Bytes(keymat.begin(), keymat.begin() + 36));
	EXPECT_EQ(bytes(k.r_to_i), Bytes(keymat.begin() + 36, keymat.end()));
	const auto kd = ike::derive_child_keys(Prf::hmac_sha2_256, sk_d, ByteView(kGirNew), kNi, kNr,
					       ike::Encr::chacha20_poly1305, std::nullopt);
	EXPECT_EQ(bytes(kd.i_to_r), Bytes(keymat_dh.begin(), keymat_dh.begin() + 36));
	EXPECT_EQ(bytes(kd.r_to_i), Bytes(keymat_dh.begin() + 36, keymat_dh.end()));
	const auto k128 = ike::derive_child_keys(Prf::hmac_sha2_256, sk_d, std::nullopt, kNi, kNr,
						 ike::Encr::aes_gcm_16, 128);
	EXPECT_EQ(bytes(k128.i_to_r), Bytes(keymat.begin(), keymat.begin() + 20));
	EXPECT_EQ(bytes(k128.r_to_i), Bytes(keymat.begin() + 20, keymat.begin() + 40));
}

TEST(IkeKdf, Transforms)
{
	EXPECT_TRUE(ike::supported(ike::Encr::aes_gcm_16, 128));
	EXPECT_TRUE(ike::supported(ike::Encr::aes_gcm_16, 192));
	EXPECT_TRUE(ike::supported(ike::Encr::aes_gcm_16, 256));
	EXPECT_FALSE(ike::supported(ike::Encr::aes_gcm_16, std::nullopt));
	EXPECT_FALSE(ike::supported(ike::Encr::aes_gcm_16, 512));
	EXPECT_TRUE(ike::supported(ike::Encr::chacha20_poly1305, std::nullopt));
	EXPECT_FALSE(ike::supported(ike::Encr::chacha20_poly1305, 256));
	EXPECT_FALSE(ike::supported(static_cast<ike::Encr>(12), 128));
	EXPECT_EQ(ike::encr_key_len(ike::Encr::aes_gcm_16, 192), 24U);
	EXPECT_EQ(ike::encr_key_len(ike::Encr::chacha20_poly1305, std::nullopt), 32U);
	EXPECT_THROW(ike::encr_key_len(ike::Encr::aes_gcm_16, 100), ike::CryptoError);
	EXPECT_TRUE(ike::supported(ike::DhGroup::ecp256));
	EXPECT_TRUE(ike::supported(ike::DhGroup::curve25519));
	EXPECT_FALSE(ike::supported(static_cast<ike::DhGroup>(14)));
	EXPECT_EQ(ike::dh_public_len(ike::DhGroup::ecp256), 64U);
	EXPECT_EQ(ike::dh_public_len(ike::DhGroup::curve25519), 32U);
	EXPECT_THROW(ike::dh_public_len(ike::DhGroup::none), ike::CryptoError);
}

/* ---- Diffie-Hellman ---- */

/* RFC 5903 section 8.1: 256-bit Random ECP Group, KE data x | y, g^ir = x */
TEST(IkeDh, Rfc5903Ecp256)
{
	const auto i = ike::DhKey::from_private(
		ike::DhGroup::ecp256, hex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"));
	const auto r = ike::DhKey::from_private(
		ike::DhGroup::ecp256, hex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53"));
	const Bytes gi = hex("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
			     "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3");
	const Bytes gr = hex("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
			     "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB");
	const Bytes gir = hex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE");
	EXPECT_EQ(i.group(), ike::DhGroup::ecp256);
	EXPECT_EQ(i.public_value(), gi);
	EXPECT_EQ(r.public_value(), gr);
	EXPECT_EQ(bytes(i.shared(gr)), gir);
	EXPECT_EQ(bytes(r.shared(gi)), gir);
}

TEST(IkeDh, Ecp256Rejects)
{
	const auto k = ike::DhKey::generate(ike::DhGroup::ecp256);
	ASSERT_EQ(k.public_value().size(), 64U);
	const auto other = ike::DhKey::generate(ike::DhGroup::ecp256);
	EXPECT_EQ(k.shared(other.public_value()), other.shared(k.public_value()));
	/* with the SEC1 prefix, truncated */
	EXPECT_THROW(k.shared(cat({Bytes{4}, other.public_value()})), ike::CryptoError);
	EXPECT_THROW(k.shared(ByteView(other.public_value()).first(32)), ike::CryptoError);
	EXPECT_THROW(k.shared({}), ike::CryptoError);
	/* off the curve */
	Bytes bad = other.public_value();
	bad[63] ^= 1;
	EXPECT_THROW(k.shared(bad), ike::CryptoError);
	EXPECT_THROW(k.shared(Bytes(64, 0)), ike::CryptoError);
	/* coordinates not below p */
	EXPECT_THROW(k.shared(Bytes(64, 0xff)), ike::CryptoError);
	/* bad private values */
	EXPECT_THROW(ike::DhKey::from_private(ike::DhGroup::ecp256, Bytes(32, 0)), ike::CryptoError);
	EXPECT_THROW(ike::DhKey::from_private(ike::DhGroup::ecp256, Bytes(32, 0xff)), ike::CryptoError);
	EXPECT_THROW(ike::DhKey::from_private(ike::DhGroup::ecp256, Bytes(31, 1)), ike::CryptoError);
	EXPECT_THROW(ike::DhKey::generate(static_cast<ike::DhGroup>(14)), ike::CryptoError);
}

/* RFC 7748 section 6.1 */
TEST(IkeDh, Rfc7748X25519)
{
	const auto a = ike::DhKey::from_private(
		ike::DhGroup::curve25519, hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
	const auto b = ike::DhKey::from_private(
		ike::DhGroup::curve25519, hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
	EXPECT_EQ(a.public_value(), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
	EXPECT_EQ(b.public_value(), hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
	const Bytes k = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	EXPECT_EQ(bytes(a.shared(b.public_value())), k);
	EXPECT_EQ(bytes(b.shared(a.public_value())), k);
}

TEST(IkeDh, X25519Rejects)
{
	const auto k = ike::DhKey::generate(ike::DhGroup::curve25519);
	ASSERT_EQ(k.public_value().size(), 32U);
	const auto other = ike::DhKey::generate(ike::DhGroup::curve25519);
	EXPECT_EQ(k.shared(other.public_value()), other.shared(k.public_value()));
	EXPECT_THROW(k.shared(Bytes(31, 9)), ike::CryptoError);
	EXPECT_THROW(k.shared(Bytes(33, 9)), ike::CryptoError);
	/* low-order points give the all-zero output (RFC 8031 section 2.3) */
	EXPECT_THROW(k.shared(Bytes(32, 0)), ike::CryptoError);
	Bytes one(32, 0);
	one[0] = 1;
	EXPECT_THROW(k.shared(one), ike::CryptoError);
	/* order-8 point of RFC 7748 / curve25519 small-subgroup lists */
	EXPECT_THROW(k.shared(hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")), ike::CryptoError);
	EXPECT_THROW(ike::DhKey::from_private(ike::DhGroup::curve25519, Bytes(16, 1)), ike::CryptoError);
}

/* ---- AUTH ---- */

TEST(IkeAuth, Octets)
{
	/* message | peer nonce | prf(SK_p, type | 3 reserved | ID data) */
	const ike::Identity id{ike::IdType::fqdn, text("host.example")};
	const Bytes o = ike::auth_octets(Prf::hmac_sha2_256, hex("aabbcc"), hex("ddee"), seq(32, 0x40), id);
	EXPECT_EQ(o, hex("aabbcc ddee ce5044464732c29b0c894c6654fb170ebf614a8983750d35f13084c18022e09b"));
}

/* prf(prf(psk, "Key Pad for IKEv2"), octets); expected from the Python reference */
TEST(IkeAuth, PskKnownAnswer)
{
	const Bytes psk = text("ntm shared secret");
	const Bytes octets = seq(100, 0);
	const Bytes want256 = hex("05f654e22acf99dac5c0e6772467a29af66b8bc35adae49db915ddf9b61e0d81");
	EXPECT_EQ(bytes(ike::psk_auth(Prf::hmac_sha2_256, psk, octets)), want256);
	EXPECT_EQ(bytes(ike::psk_auth(Prf::hmac_sha2_512, psk, octets)),
		  hex("2d675f69c65374a788e6a49c383c1a3391bb4d6fc9c9544ad63052d7beafd895"
		      "b8ee097d5c94837cfb6641a81ac00d4732695bdd93a5d2e700538a945ca73558"));
	EXPECT_TRUE(ike::psk_auth_matches(Prf::hmac_sha2_256, psk, octets, want256));
	Bytes bad = want256;
	bad[31] ^= 1;
	EXPECT_FALSE(ike::psk_auth_matches(Prf::hmac_sha2_256, psk, octets, bad));
	EXPECT_FALSE(ike::psk_auth_matches(Prf::hmac_sha2_256, psk, octets, ByteView(want256).first(31)));
	EXPECT_FALSE(ike::psk_auth_matches(Prf::hmac_sha2_256, psk, octets, {}));
	EXPECT_FALSE(ike::psk_auth_matches(Prf::hmac_sha2_256, text("other"), octets, want256));
	EXPECT_FALSE(ike::psk_auth_matches(Prf::hmac_sha2_384, psk, octets, want256));
}

TEST(IkeAuth, EcdsaSignVerify)
{
	const Pkey key = ec_key("P-256");
	const Pkey other = ec_key("P-256");
	const Bytes octets = seq(200, 3);
	const std::array<HashAlg, 3> sha2{HashAlg::sha2_256, HashAlg::sha2_384, HashAlg::sha2_512};
	struct Case {
		HashAlg hash;
		Bytes prefix; /* length | AlgorithmIdentifier (RFC 7427 appendix A.4) */
	};
	const std::array<Case, 3> cases{{
		{HashAlg::sha2_256, hex("0c 300a06082a8648ce3d040302")},
		{HashAlg::sha2_384, hex("0c 300a06082a8648ce3d040303")},
		{HashAlg::sha2_512, hex("0c 300a06082a8648ce3d040304")},
	}};
	for (const auto &c : cases) {
		const Bytes auth = ike::sign_auth(key.get(), c.hash, octets);
		ASSERT_GT(auth.size(), c.prefix.size() + 8);
		EXPECT_EQ(Bytes(auth.begin(), auth.begin() + 13), c.prefix);
		EXPECT_EQ(auth[13], 0x30); /* DER Ecdsa-Sig-Value */
		EXPECT_TRUE(ike::verify_auth(key.get(), auth, octets, sha2));
		/* wrong key, other octets, tampered signature */
		EXPECT_FALSE(ike::verify_auth(other.get(), auth, octets, sha2));
		Bytes o2 = octets;
		o2[0] ^= 1;
		EXPECT_FALSE(ike::verify_auth(key.get(), auth, o2, sha2));
		Bytes t = auth;
		t.back() ^= 1;
		EXPECT_FALSE(ike::verify_auth(key.get(), t, octets, sha2));
		/* a hash we did not offer in SIGNATURE_HASH_ALGORITHMS */
		const std::array<HashAlg, 1> only{c.hash == HashAlg::sha2_256 ? HashAlg::sha2_512 : HashAlg::sha2_256};
		EXPECT_FALSE(ike::verify_auth(key.get(), auth, octets, only));
		EXPECT_FALSE(ike::verify_auth(key.get(), auth, octets, {}));
	}
	/* P-384 key with SHA2-384 */
	const Pkey p384 = ec_key("P-384");
	EXPECT_TRUE(ike::verify_auth(p384.get(), ike::sign_auth(p384.get(), HashAlg::sha2_384, octets), octets, sha2));
	/* ECDSA needs a real hash */
	EXPECT_THROW(ike::sign_auth(key.get(), HashAlg::identity, octets), ike::CryptoError);
	/* malformed AUTH data */
	const Bytes auth = ike::sign_auth(key.get(), HashAlg::sha2_256, octets);
	EXPECT_FALSE(ike::verify_auth(key.get(), {}, octets, sha2));
	EXPECT_FALSE(ike::verify_auth(key.get(), ByteView(auth).first(13), octets, sha2));
	EXPECT_FALSE(ike::verify_auth(key.get(), hex("ff"), octets, sha2));
	Bytes wrong_len = auth;
	wrong_len[0] = 11;
	EXPECT_FALSE(ike::verify_auth(key.get(), wrong_len, octets, sha2));
	/* RSA-style or unknown AlgorithmIdentifier */
	Bytes rsa = auth;
	rsa[12] = 0x0b;
	EXPECT_FALSE(ike::verify_auth(key.get(), rsa, octets, sha2));
}

TEST(IkeAuth, Ed25519SignVerify)
{
	/* RFC 8032 section 7.1 TEST 1: empty message */
	const Bytes sk = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
	const Pkey rfc(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, sk.data(), sk.size()));
	ASSERT_TRUE(rfc);
	const Bytes auth = ike::sign_auth(rfc.get(), HashAlg::sha2_256, {});
	EXPECT_EQ(auth, hex("07 300506032b6570" /* id-Ed25519 (RFC 8420 section 2) */
			    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
			    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
	const std::array<HashAlg, 1> identity{HashAlg::identity};
	EXPECT_TRUE(ike::verify_auth(rfc.get(), auth, {}, identity));
	/* the identity hash must have been offered (RFC 8420 section 2) */
	const std::array<HashAlg, 3> sha2{HashAlg::sha2_256, HashAlg::sha2_384, HashAlg::sha2_512};
	EXPECT_FALSE(ike::verify_auth(rfc.get(), auth, {}, sha2));

	const Pkey key = ed25519_key();
	const Pkey other = ed25519_key();
	const Bytes octets = seq(300, 9);
	const Bytes a = ike::sign_auth(key.get(), HashAlg::identity, octets);
	EXPECT_TRUE(ike::verify_auth(key.get(), a, octets, identity));
	EXPECT_FALSE(ike::verify_auth(other.get(), a, octets, identity));
	Bytes t = a;
	t[20] ^= 1;
	EXPECT_FALSE(ike::verify_auth(key.get(), t, octets, identity));
	/* key type and AlgorithmIdentifier must match */
	const Pkey ec = ec_key("P-256");
	const std::array<HashAlg, 4> all{HashAlg::sha2_256, HashAlg::sha2_384, HashAlg::sha2_512, HashAlg::identity};
	EXPECT_FALSE(ike::verify_auth(ec.get(), a, octets, all));
	EXPECT_FALSE(ike::verify_auth(key.get(), ike::sign_auth(ec.get(), HashAlg::sha2_256, octets), octets, all));
}

TEST(IkeAuth, UnsupportedKeys)
{
	const Pkey x(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
	ASSERT_TRUE(x);
	EXPECT_THROW(ike::sign_auth(x.get(), HashAlg::sha2_256, {}), ike::CryptoError);
	EXPECT_THROW(ike::sign_auth(nullptr, HashAlg::sha2_256, {}), ike::CryptoError);
}

/* ---- NAT detection, hashes, randomness ---- */

TEST(IkeMisc, NatDetection)
{
	/* SHA-1(SPIi | SPIr | IP | port), expected from Python's hashlib */
	in_addr a4{};
	ASSERT_EQ(inet_pton(AF_INET, "192.0.2.1", &a4), 1);
	EXPECT_EQ(ike::nat_detection_hash(0x0102030405060708ULL, 0x1112131415161718ULL,
					  ntm::Endpoint(ntm::IpAddress::v4(a4), 4500)),
		  hex("5184f43875ff7d9e3dfdc92bd1dee1a08204de3e"));
	in6_addr a6{};
	ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", &a6), 1);
	EXPECT_EQ(ike::nat_detection_hash(0x0102030405060708ULL, 0, ntm::Endpoint(ntm::IpAddress::v6(a6), 500)),
		  hex("7fa12a60a3a27ef1b3fed26cc6d5b8fbf553292f"));
}

TEST(IkeMisc, Sha256AndRandom)
{
	/* FIPS 180-2 "abc", split in parts */
	EXPECT_EQ(ike::sha256({text("a"), text(""), text("bc")}),
		  hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	EXPECT_EQ(ike::random_bytes(0).size(), 0U);
	EXPECT_EQ(ike::random_bytes(33).size(), 33U);
	EXPECT_NE(ike::random_bytes(16), ike::random_bytes(16));
	std::set<std::uint64_t> seen;
	for (int i = 0; i < 8; i++)
		seen.insert(ike::random_u64());
	EXPECT_EQ(seen.size(), 8U);
}
