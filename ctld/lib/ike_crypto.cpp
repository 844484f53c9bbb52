// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 cryptography on OpenSSL 3 (see ntm/ike_crypto.hpp): HMAC PRFs
 * through EVP_MAC, ECDH on P-256 and X25519 through EVP_PKEY, ECDSA and
 * Ed25519 through EVP_DigestSign/Verify, the key schedules of RFC 7296
 * sections 2.13-2.18, PSK and RFC 7427 signature AUTH, NAT detection.
 */
#include "ntm/ike_crypto.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <string>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ntm/error.hpp"
#include "ossl.hpp"

namespace ntm::ike {

namespace {

constexpr std::size_t kP256CoordLen = 32;
constexpr std::size_t kX25519Len = 32;
constexpr std::uint8_t kUncompressed = 0x04;
constexpr std::string_view kKeyPad = "Key Pad for IKEv2";

/* DER AlgorithmIdentifiers of RFC 7427 appendix A and RFC 8420 section 2 */
constexpr std::array<std::uint8_t, 12> kAlgEcdsaSha256{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
						       0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr std::array<std::uint8_t, 12> kAlgEcdsaSha384{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
						       0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr std::array<std::uint8_t, 12> kAlgEcdsaSha512{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
						       0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
constexpr std::array<std::uint8_t, 7> kAlgEd25519{0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

enum class SigKind { ecdsa, ed25519 };

struct SigAlg {
	ByteView der;
	HashAlg hash;
	SigKind kind;
};

const std::array<SigAlg, 4> &sig_algs()
{
	static const std::array<SigAlg, 4> algs{{
		{kAlgEcdsaSha256, HashAlg::sha2_256, SigKind::ecdsa},
		{kAlgEcdsaSha384, HashAlg::sha2_384, SigKind::ecdsa},
		{kAlgEcdsaSha512, HashAlg::sha2_512, SigKind::ecdsa},
		{kAlgEd25519, HashAlg::identity, SigKind::ed25519},
	}};
	return algs;
}

/* ---- OpenSSL handles ---- */

using ossl::Ptr;

Bytes x25519_public(EVP_PKEY *key)
{
	Bytes pub(kX25519Len);
	std::size_t len = kX25519Len;
	if (EVP_PKEY_get_raw_public_key(key, pub.data(), &len) != 1 || len != kX25519Len)
		ossl::failed("X25519 public key");
	return pub;
}

[[noreturn]] void bad_peer(const std::string &what)
{
	ERR_clear_error();
	throw CryptoError(what);
}

const char *prf_digest(Prf p)
{
	switch (p) {
	case Prf::hmac_sha2_256:
		return "SHA256";
	case Prf::hmac_sha2_384:
		return "SHA384";
	case Prf::hmac_sha2_512:
		return "SHA512";
	}
	throw CryptoError("unsupported PRF " + std::to_string(static_cast<unsigned>(p)));
}

const EVP_MD *hash_md(HashAlg h)
{
	switch (h) {
	case HashAlg::sha2_256:
		return EVP_sha256();
	case HashAlg::sha2_384:
		return EVP_sha384();
	case HashAlg::sha2_512:
		return EVP_sha512();
	case HashAlg::identity:
		break;
	}
	return nullptr;
}

EVP_MAC *hmac()
{
	/* fetched once; EVP_MAC is reference counted and thread safe */
	static EVP_MAC *const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
	if (mac == nullptr)
		ossl::failed("EVP_MAC_fetch(HMAC)");
	return mac;
}

/* HMAC(key, parts...) into out (prf_len(p) bytes) */
void hmac_parts(Prf p, ByteView key, std::initializer_list<ByteView> parts, std::span<std::uint8_t> out)
{
	const Ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(hmac()));
	if (!ctx)
		ossl::failed("EVP_MAC_CTX_new");
	std::array<char, 16> digest{};
	const std::string_view name = prf_digest(p);
	std::copy(name.begin(), name.end(), digest.begin());
	const std::array<OSSL_PARAM, 2> params{
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
		OSSL_PARAM_construct_end(),
	};
	static const std::uint8_t kEmpty = 0;
	const std::uint8_t *k = key.empty() ? &kEmpty : key.data();
	if (EVP_MAC_init(ctx.get(), k, key.size(), params.data()) != 1)
		ossl::failed("HMAC init");
	for (const auto &part : parts)
		if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1)
			ossl::failed("HMAC update");
	std::size_t outl = 0;
	if (EVP_MAC_final(ctx.get(), out.data(), &outl, out.size()) != 1 || outl != out.size())
		ossl::failed("HMAC final");
}

SecretBytes concat(std::initializer_list<ByteView> parts)
{
	std::size_t n = 0;
	for (const auto &p : parts)
		n += p.size();
	SecretBytes out(n);
	std::size_t at = 0;
	for (const auto &p : parts) {
		std::copy(p.begin(), p.end(), out.data() + at);
		at += p.size();
	}
	return out;
}

std::array<std::uint8_t, 8> be64(std::uint64_t v) noexcept
{
	std::array<std::uint8_t, 8> b{};
	for (std::size_t i = 0; i < 8; i++)
		b.at(i) = static_cast<std::uint8_t>(v >> (56 - 8 * i));
	return b;
}

void check_suite(const IkeSuite &s)
{
	if (!supported(s.encr, s.key_bits))
		throw CryptoError("unsupported encryption transform");
	if (!supported(s.prf))
		throw CryptoError("unsupported PRF");
}

/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
IkeKeys expand_ike_keys(const IkeSuite &s, ByteView skeyseed, ByteView ni, ByteView nr, std::uint64_t spi_i,
			std::uint64_t spi_r)
{
	const std::size_t pl = prf_len(s.prf);
	const std::size_t ek = encr_key_len(s.encr, s.key_bits) + kAeadSaltLen;
	const auto si = be64(spi_i);
	const auto sr = be64(spi_r);
	const SecretBytes seed = concat({ni, nr, si, sr});
	const SecretBytes km = prf_plus(s.prf, skeyseed, seed.span(), 3 * pl + 2 * ek);
	const ByteView all = km.span();
	IkeKeys k;
	std::size_t at = 0;
	const auto take = [&](std::size_t n) {
		SecretBytes part(all.subspan(at, n));
		at += n;
		return part;
	};
	k.sk_d = take(pl);
	/* SK_ai, SK_ar: none with an AEAD (RFC 5282 section 7.1) */
	k.sk_ei = SkKey{s.encr, take(ek)};
	k.sk_er = SkKey{s.encr, take(ek)};
	k.sk_pi = take(pl);
	k.sk_pr = take(pl);
	return k;
}

Ptr<EVP_PKEY> p256_from_point(ByteView point, EVP_PKEY_CTX *ctx, std::optional<ByteView> priv)
{
	/* point: 0x04 | x | y */
	const Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
	if (!bld)
		ossl::failed("OSSL_PARAM_BLD_new");
	Ptr<BIGNUM> d;
	if (priv) {
		d.reset(BN_bin2bn(priv->data(), static_cast<int>(priv->size()), nullptr));
		if (!d)
			ossl::failed("BN_bin2bn");
	}
	if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1 ||
	    (d && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1))
		ossl::failed("OSSL_PARAM_BLD_push");
	const Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
	if (!params)
		ossl::failed("OSSL_PARAM_BLD_to_param");
	EVP_PKEY *raw = nullptr;
	if (EVP_PKEY_fromdata_init(ctx) != 1)
		ossl::failed("EVP_PKEY_fromdata_init");
	if (EVP_PKEY_fromdata(ctx, &raw, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
		return nullptr;
	return Ptr<EVP_PKEY>(raw);
}

Ptr<EVP_PKEY_CTX> ec_ctx()
{
	Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
	if (!ctx)
		ossl::failed("EVP_PKEY_CTX_new_from_name(EC)");
	return ctx;
}

SecretBytes derive(EVP_PKEY *own, EVP_PKEY *peer, std::size_t expect)
{
	const Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
	if (!ctx)
		ossl::failed("EVP_PKEY_CTX_new_from_pkey");
	if (EVP_PKEY_derive_init(ctx.get()) != 1)
		ossl::failed("EVP_PKEY_derive_init");
	/* validate the peer key (on the curve, not of low order) */
	if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 1) != 1)
		bad_peer("peer public value rejected");
	std::size_t len = expect;
	SecretBytes out(expect);
	if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
		bad_peer("Diffie-Hellman with the peer's value failed");
	if (len != expect)
		ossl::failed("EVP_PKEY_derive length");
	return out;
}

SigKind key_kind(EVP_PKEY *key)
{
	if (key == nullptr)
		throw CryptoError("no key");
	if (EVP_PKEY_is_a(key, "EC") == 1)
		return SigKind::ecdsa;
	if (EVP_PKEY_is_a(key, "ED25519") == 1)
		return SigKind::ed25519;
	throw CryptoError("key type not supported for IKE signatures");
}

} // namespace

/* ---- PRF ---- */

std::size_t prf_len(Prf p)
{
	switch (p) {
	case Prf::hmac_sha2_256:
		return 32;
	case Prf::hmac_sha2_384:
		return 48;
	case Prf::hmac_sha2_512:
		return 64;
	}
	throw CryptoError("unsupported PRF " + std::to_string(static_cast<unsigned>(p)));
}

SecretBytes prf(Prf p, ByteView key, ByteView data)
{
	SecretBytes out(prf_len(p));
	hmac_parts(p, key, {data}, out.span());
	return out;
}

SecretBytes prf_plus(Prf p, ByteView key, ByteView seed, std::size_t len)
{
	const std::size_t pl = prf_len(p);
	if (len > 255 * pl)
		throw std::invalid_argument("prf+: more than 255 blocks requested");
	SecretBytes out(len);
	SecretBytes t(pl);
	std::size_t at = 0;
	for (unsigned i = 1; at < len; i++) {
		const std::array<std::uint8_t, 1> counter{static_cast<std::uint8_t>(i)};
		/* T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
		const ByteView prev = i == 1 ? ByteView() : t.span();
		SecretBytes next(pl);
		hmac_parts(p, key, {prev, seed, counter}, next.span());
		t = std::move(next);
		const std::size_t n = std::min(pl, len - at);
		std::copy_n(t.data(), n, out.data() + at);
		at += n;
	}
	return out;
}

/* ---- transforms ---- */

bool supported(Encr e, std::optional<std::uint16_t> key_bits)
{
	switch (e) {
	case Encr::aes_gcm_16:
		return key_bits && (*key_bits == 128 || *key_bits == 192 || *key_bits == 256);
	case Encr::chacha20_poly1305:
		/* RFC 7634 section 3: no Key Length attribute */
		return !key_bits;
	}
	return false;
}

bool supported(Prf p)
{
	return p == Prf::hmac_sha2_256 || p == Prf::hmac_sha2_384 || p == Prf::hmac_sha2_512;
}

bool supported(DhGroup g)
{
	return g == DhGroup::ecp256 || g == DhGroup::curve25519;
}

std::size_t encr_key_len(Encr e, std::optional<std::uint16_t> key_bits)
{
	if (!supported(e, key_bits))
		throw CryptoError("unsupported encryption transform " + std::to_string(static_cast<unsigned>(e)));
	return e == Encr::chacha20_poly1305 ? 32 : std::size_t{*key_bits} / 8;
}

std::size_t dh_public_len(DhGroup g)
{
	switch (g) {
	case DhGroup::ecp256:
		return 2 * kP256CoordLen;
	case DhGroup::curve25519:
		return kX25519Len;
	case DhGroup::none:
		break;
	}
	throw CryptoError("unsupported Diffie-Hellman group " + std::to_string(static_cast<unsigned>(g)));
}

/* ---- Diffie-Hellman ---- */

void DhKey::Deleter::operator()(EVP_PKEY *k) const noexcept
{
	EVP_PKEY_free(k);
}

DhKey DhKey::generate(DhGroup g)
{
	DhKey k;
	k.group_ = g;
	switch (g) {
	case DhGroup::ecp256: {
		k.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
		if (!k.key_)
			ossl::failed("P-256 key generation");
		std::array<std::uint8_t, 1 + 2 * kP256CoordLen> pt{};
		std::size_t len = 0;
		if (EVP_PKEY_get_octet_string_param(k.key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt.data(),
						    pt.size(), &len) != 1 ||
		    len != pt.size() || pt[0] != kUncompressed)
			ossl::failed("P-256 public key encoding");
		k.public_.assign(pt.begin() + 1, pt.end());
		return k;
	}
	case DhGroup::curve25519: {
		k.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
		if (!k.key_)
			ossl::failed("X25519 key generation");
		k.public_ = x25519_public(k.key_.get());
		return k;
	}
	case DhGroup::none:
		break;
	}
	throw CryptoError("unsupported Diffie-Hellman group " + std::to_string(static_cast<unsigned>(g)));
}

DhKey DhKey::from_private(DhGroup g, ByteView priv)
{
	DhKey k;
	k.group_ = g;
	switch (g) {
	case DhGroup::ecp256: {
		if (priv.size() != kP256CoordLen)
			throw CryptoError("P-256 private value is not 32 bytes");
		const Ptr<EC_GROUP> grp(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
		const Ptr<BN_CTX> bn(BN_CTX_new());
		const Ptr<BIGNUM> d(BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr));
		if (!grp || !bn || !d)
			ossl::failed("P-256 setup");
		const Ptr<EC_POINT> pub(EC_POINT_new(grp.get()));
		if (!pub)
			ossl::failed("EC_POINT_new");
		if (BN_is_zero(d.get()) == 1 || BN_cmp(d.get(), EC_GROUP_get0_order(grp.get())) >= 0)
			throw CryptoError("P-256 private value out of range");
		std::array<std::uint8_t, 1 + 2 * kP256CoordLen> pt{};
		if (EC_POINT_mul(grp.get(), pub.get(), d.get(), nullptr, nullptr, bn.get()) != 1 ||
		    EC_POINT_point2oct(grp.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, pt.data(), pt.size(),
				       bn.get()) != pt.size())
			ossl::failed("P-256 public key computation");
		const auto ctx = ec_ctx();
		k.key_.reset(p256_from_point(pt, ctx.get(), priv).release());
		if (!k.key_)
			ossl::failed("P-256 key import");
		k.public_.assign(pt.begin() + 1, pt.end());
		return k;
	}
	case DhGroup::curve25519: {
		if (priv.size() != kX25519Len)
			throw CryptoError("X25519 private value is not 32 bytes");
		k.key_.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
		if (!k.key_)
			ossl::failed("X25519 key import");
		k.public_ = x25519_public(k.key_.get());
		return k;
	}
	case DhGroup::none:
		break;
	}
	throw CryptoError("unsupported Diffie-Hellman group " + std::to_string(static_cast<unsigned>(g)));
}

SecretBytes DhKey::shared(ByteView peer) const
{
	if (!key_)
		throw CryptoError("no Diffie-Hellman key");
	switch (group_) {
	case DhGroup::ecp256: {
		/* RFC 5903 section 7: x | y without the 0x04 of SEC1 */
		if (peer.size() != 2 * kP256CoordLen)
			bad_peer("ECP-256 public value is not 64 bytes");
		std::array<std::uint8_t, 1 + 2 * kP256CoordLen> pt{};
		pt[0] = kUncompressed;
		std::copy(peer.begin(), peer.end(), pt.begin() + 1);
		const auto ctx = ec_ctx();
		const auto pk = p256_from_point(pt, ctx.get(), std::nullopt);
		if (!pk)
			bad_peer("ECP-256 public value is not a point on the curve");
		const Ptr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pk.get(), nullptr));
		if (!check)
			ossl::failed("EVP_PKEY_CTX_new_from_pkey");
		if (EVP_PKEY_public_check(check.get()) != 1)
			bad_peer("ECP-256 public value is not a valid point");
		/* the shared secret is the x coordinate (RFC 5903 section 7) */
		return derive(key_.get(), pk.get(), kP256CoordLen);
	}
	case DhGroup::curve25519: {
		if (peer.size() != kX25519Len)
			bad_peer("Curve25519 public value is not 32 bytes");
		const Ptr<EVP_PKEY> pk(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
		if (!pk)
			bad_peer("Curve25519 public value rejected");
		SecretBytes out = derive(key_.get(), pk.get(), kX25519Len);
		/* RFC 8031 section 2.3 (RFC 7748 section 6.1): reject all zeros */
		const std::array<std::uint8_t, kX25519Len> zeros{};
		if (CRYPTO_memcmp(out.data(), zeros.data(), kX25519Len) == 0)
			bad_peer("Curve25519 shared secret is all zeros");
		return out;
	}
	case DhGroup::none:
		break;
	}
	throw CryptoError("unsupported Diffie-Hellman group");
}

/* ---- key schedules ---- */

IkeKeys derive_ike_keys(const IkeSuite &s, ByteView shared, ByteView ni, ByteView nr, std::uint64_t spi_i,
			std::uint64_t spi_r)
{
	check_suite(s);
	/* SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 section 2.14) */
	const SecretBytes nonces = concat({ni, nr});
	const SecretBytes skeyseed = prf(s.prf, nonces.span(), shared);
	return expand_ike_keys(s, skeyseed.span(), ni, nr, spi_i, spi_r);
}

IkeKeys derive_rekeyed_ike_keys(Prf old_prf, ByteView old_sk_d, const IkeSuite &s, ByteView shared, ByteView ni,
				ByteView nr, std::uint64_t spi_i, std::uint64_t spi_r)
{
	check_suite(s);
	/* SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old IKE
	 * SA's PRF; prf+ then uses the new one (RFC 7296 section 2.18) */
	const SecretBytes data = concat({shared, ni, nr});
	const SecretBytes skeyseed = prf(old_prf, old_sk_d, data.span());
	return expand_ike_keys(s, skeyseed.span(), ni, nr, spi_i, spi_r);
}

ChildKeys derive_child_keys(Prf p, ByteView sk_d, std::optional<ByteView> shared, ByteView ni, ByteView nr,
			    Encr e, std::optional<std::uint16_t> key_bits)
{
	const std::size_t ek = encr_key_len(e, key_bits) + kAeadSaltLen;
	/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 section 2.17) */
	const SecretBytes seed = concat({shared.value_or(ByteView()), ni, nr});
	const SecretBytes km = prf_plus(p, sk_d, seed.span(), 2 * ek);
	ChildKeys k;
	k.i_to_r = SecretBytes(km.span().first(ek));
	k.r_to_i = SecretBytes(km.span().subspan(ek, ek));
	return k;
}

/* ---- AUTH ---- */

Bytes auth_octets(Prf p, ByteView message, ByteView peer_nonce, ByteView sk_p, const Identity &id)
{
	const SecretBytes maced = prf(p, sk_p, id.body());
	Bytes out;
	out.reserve(message.size() + peer_nonce.size() + maced.size());
	out.insert(out.end(), message.begin(), message.end());
	out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
	out.insert(out.end(), maced.data(), maced.data() + maced.size());
	return out;
}

SecretBytes psk_auth(Prf p, ByteView psk, ByteView octets)
{
	/* prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) (RFC 7296 section 2.15) */
	const ByteView pad(reinterpret_cast<const std::uint8_t *>(kKeyPad.data()), // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
			   kKeyPad.size());
	const SecretBytes key = prf(p, psk, pad);
	return prf(p, key.span(), octets);
}

bool psk_auth_matches(Prf p, ByteView psk, ByteView octets, ByteView received)
{
	const SecretBytes expect = psk_auth(p, psk, octets);
	return received.size() == expect.size() &&
	       CRYPTO_memcmp(received.data(), expect.data(), expect.size()) == 0;
}

Bytes sign_auth(EVP_PKEY *key, HashAlg hash, ByteView octets)
{
	const SigKind kind = key_kind(key);
	const EVP_MD *md = nullptr;
	ByteView alg;
	if (kind == SigKind::ed25519) {
		alg = kAlgEd25519;
	} else {
		md = hash_md(hash);
		if (md == nullptr)
			throw CryptoError("ECDSA needs SHA2-256, SHA2-384 or SHA2-512");
		for (const auto &a : sig_algs())
			if (a.kind == SigKind::ecdsa && a.hash == hash)
				alg = a.der;
	}
	const Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	if (!ctx)
		ossl::failed("EVP_MD_CTX_new");
	if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md == nullptr ? nullptr : EVP_MD_get0_name(md), nullptr,
				  nullptr, key, nullptr) != 1)
		ossl::failed("EVP_DigestSignInit");
	std::size_t siglen = 0;
	if (EVP_DigestSign(ctx.get(), nullptr, &siglen, octets.data(), octets.size()) != 1)
		ossl::failed("EVP_DigestSign (size)");
	Bytes out;
	out.reserve(1 + alg.size() + siglen);
	out.push_back(static_cast<std::uint8_t>(alg.size()));
	out.insert(out.end(), alg.begin(), alg.end());
	const std::size_t at = out.size();
	out.resize(at + siglen);
	if (EVP_DigestSign(ctx.get(), out.data() + at, &siglen, octets.data(), octets.size()) != 1)
		ossl::failed("EVP_DigestSign");
	out.resize(at + siglen);
	return out;
}

bool verify_auth(EVP_PKEY *key, ByteView auth_data, ByteView octets, std::span<const HashAlg> accept)
{
	const SigKind kind = key_kind(key);
	if (auth_data.empty())
		return false;
	const std::size_t alen = auth_data[0];
	if (auth_data.size() <= 1 + alen)
		return false;
	const ByteView alg = auth_data.subspan(1, alen);
	const ByteView sig = auth_data.subspan(1 + alen);
	const SigAlg *found = nullptr;
	for (const auto &a : sig_algs())
		if (std::equal(a.der.begin(), a.der.end(), alg.begin(), alg.end()))
			found = &a;
	if (found == nullptr || found->kind != kind)
		return false;
	if (std::find(accept.begin(), accept.end(), found->hash) == accept.end())
		return false;
	const EVP_MD *md = hash_md(found->hash);
	const Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	if (!ctx)
		ossl::failed("EVP_MD_CTX_new");
	if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, md == nullptr ? nullptr : EVP_MD_get0_name(md), nullptr,
				    nullptr, key, nullptr) != 1)
		ossl::failed("EVP_DigestVerifyInit");
	const int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), octets.data(), octets.size());
	ERR_clear_error();
	return rc == 1;
}

/* ---- NAT detection, hashes, randomness ---- */

Bytes nat_detection_hash(std::uint64_t spi_i, std::uint64_t spi_r, const Endpoint &ep)
{
	const auto si = be64(spi_i);
	const auto sr = be64(spi_r);
	const IpAddress addr = ep.address();
	const std::uint16_t port = ep.port();
	const std::array<std::uint8_t, 2> pb{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
	const Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	Bytes out(20);
	unsigned len = 0;
	if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1 ||
	    EVP_DigestUpdate(ctx.get(), si.data(), si.size()) != 1 ||
	    EVP_DigestUpdate(ctx.get(), sr.data(), sr.size()) != 1 ||
	    EVP_DigestUpdate(ctx.get(), addr.bytes().data(), addr.bytes().size()) != 1 ||
	    EVP_DigestUpdate(ctx.get(), pb.data(), pb.size()) != 1 ||
	    EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
		ossl::failed("SHA-1");
	return out;
}

Bytes sha256(std::initializer_list<ByteView> parts)
{
	const Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
	if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
		ossl::failed("SHA-256 init");
	for (const auto &p : parts)
		if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
			ossl::failed("SHA-256 update");
	Bytes out(32);
	unsigned len = 0;
	if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
		ossl::failed("SHA-256 final");
	return out;
}

Bytes random_bytes(std::size_t n)
{
	Bytes out(n);
	if (n > static_cast<std::size_t>(INT_MAX))
		throw std::invalid_argument("random_bytes: too many bytes");
	if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
		ossl::failed("RAND_bytes");
	return out;
}

std::uint64_t random_u64()
{
	const Bytes b = random_bytes(8);
	std::uint64_t v = 0;
	for (const auto c : b)
		v = (v << 8) | c;
	return v;
}

} // namespace ntm::ike
