// SPDX-License-Identifier: GPL-2.0
/*
 * The tunnel key exchange of Documentation/protocol/tunnel-keys.rst
 * (ntm/tunnel_kx.hpp): a known-answer test whose expected values were
 * computed from the specification with python3-cryptography
 * (tests/selftests/lib/ntmsig.py, written independently of the C++), the
 * refusals (every transcript field changed, low-order keys, AUTH before any
 * X25519 work), and the codec of the new TLVs (EPHEMERAL, AUTH, GENERATION;
 * SEALED_KEY's number 26 now an unknown TLV). The primitives' own vectors:
 * RFC 5869 (extract/expand) and RFC 4231 (HMAC-SHA256).
 */
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/sig.hpp"
#include "ntm/tunnel_kx.hpp"

namespace sig = ntm::sig;
namespace kx = ntm::kx;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes hex(std::string_view h)
{
	Bytes out;
	for (std::size_t i = 0; i + 1 < h.size(); i += 2)
		out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(h.substr(i, 2)), nullptr, 16)));
	return out;
}

template <class T> Bytes bytes(const T &x)
{
	return {x.begin(), x.end()};
}

Bytes seq_bytes(std::size_t n, std::uint8_t first)
{
	Bytes b(n);
	for (std::size_t i = 0; i < n; i++)
		b[i] = static_cast<std::uint8_t>(first + i);
	return b;
}

ntm::IpAddress ip(const char *text)
{
	std::array<std::uint8_t, 16> b{};
	if (inet_pton(AF_INET, text, b.data()) == 1)
		return *ntm::IpAddress::from_bytes(std::span(b).first(4));
	EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
	return *ntm::IpAddress::from_bytes(b);
}

/* The inputs of the known-answer vector (the same in ntmsig.py's selftest). */
constexpr std::uint32_t kComm = 0xa1b2c3d4;
constexpr std::uint32_t kOpenerIndex = 0x11111111;
constexpr std::uint32_t kWaiterIndex = 0x22222222;
const Bytes kTmp = seq_bytes(32, 0x40);
/* RFC 7748 section 6.1: Alice's and Bob's private keys */
const Bytes kOpenerPriv = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const Bytes kWaiterPriv = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");

kx::Party opener_party()
{
	return {"b.ntm.test", ip("10.77.0.2"), ip("fd00:77::2")};
}

kx::Party waiter_party()
{
	return {"a.ntm.test", ip("10.77.0.1"), ip("fd00:77::1")};
}

kx::Context context()
{
	return {.comm_id = kComm, .generation = 0, .opener = opener_party(), .waiter = waiter_party(), .cipher = 2};
}

sig::Message request_of(const kx::Opener &o)
{
	sig::Message m;
	m.type = sig::MsgType::tunnel;
	m.txid = 7;
	o.fill_request(m);
	return m;
}

/* A Tunnel Response from a waiter that accepted req. */
sig::Message answer(const sig::Message &req, kx::TunnelKeys *keys = nullptr, kx::Party w = waiter_party(),
		    const Bytes &k_tmp = kTmp)
{
	kx::Waiter waiter(req, kComm, std::move(w), k_tmp);
	auto resp = sig::make_response(req, sig::Status::ok);
	auto k = waiter.answer(kWaiterIndex, resp);
	if (keys != nullptr)
		*keys = std::move(k);
	return resp;
}

sig::Status waiter_status(const sig::Message &req, kx::Party w = waiter_party(), const Bytes &k_tmp = kTmp,
			  std::uint32_t comm = kComm)
{
	try {
		kx::Waiter waiter(req, comm, std::move(w), k_tmp);
		auto resp = sig::make_response(req, sig::Status::ok);
		(void)waiter.answer(kWaiterIndex, resp);
	} catch (const kx::KxError &e) {
		return e.status();
	}
	return sig::Status::ok;
}

sig::Status opener_status(const kx::Opener &o, const sig::Message &resp)
{
	try {
		(void)o.finish(resp);
	} catch (const kx::KxError &e) {
		return e.status();
	}
	return sig::Status::ok;
}

/* The encoded body survives the wire: what a waiter really receives. */
sig::Message wire(const sig::Message &m)
{
	auto d = sig::decode(sig::encode(m));
	sig::validate(d);
	return d;
}

} // namespace

/* ---- primitives ---- */

TEST(TunnelKx, HkdfExtractExpandRfc5869)
{
	/* RFC 5869 A.1 */
	const Bytes ikm(22, 0x0b);
	const auto prk = sig::hkdf_extract(seq_bytes(13, 0), ikm);
	EXPECT_EQ(bytes(prk.span()), hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"));
	const auto okm = sig::hkdf_expand(prk.span(), seq_bytes(10, 0xf0), 42);
	EXPECT_EQ(bytes(okm.span()),
		  hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
	EXPECT_THROW((void)sig::hkdf_expand(Bytes(31, 1), {}, 32), std::invalid_argument);
	EXPECT_THROW((void)sig::hkdf_extract({}, {}), std::invalid_argument);
}

TEST(TunnelKx, HmacSha256Rfc4231)
{
	/* RFC 4231 test case 2 */
	const std::string key = "Jefe", data = "what do ya want for nothing?";
	EXPECT_EQ(bytes(sig::hmac_sha256(Bytes(key.begin(), key.end()), Bytes(data.begin(), data.end()))),
		  hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	const Bytes a(32, 1);
	Bytes b = a;
	EXPECT_TRUE(sig::mac_equal(a, b));
	b[31] ^= 1;
	EXPECT_FALSE(sig::mac_equal(a, b));
	EXPECT_FALSE(sig::mac_equal(Bytes(31), Bytes(31)));
	EXPECT_FALSE(sig::mac_equal({}, {}));
}

/* ---- the known-answer vector ---- */

TEST(TunnelKx, KnownAnswer)
{
	const kx::Opener opener(context(), kTmp, kOpenerIndex, kOpenerPriv);
	const auto req = request_of(opener);
	/* RFC 7748: Alice's public key */
	EXPECT_EQ(req.ephemeral, hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
	EXPECT_EQ(req.generation, 0U);
	EXPECT_EQ(req.index, kOpenerIndex);
	EXPECT_EQ(req.fqdn, "b.ntm.test");

	const Bytes t_req = kx::request_transcript(context(), kOpenerIndex, req.ephemeral);
	EXPECT_EQ(t_req, hex("6e746d2074756e6e656c2072657175657374"		 /* "ntm tunnel request" */
			     "a1b2c3d4" "00000000"				 /* COMM_ID, GENERATION */
			     "0a622e6e746d2e74657374" "0a612e6e746d2e74657374" /* FQDNs */
			     "11111111" "02"					 /* INDEX, CIPHER */
			     "040a4d0002" "10fd000077000000000000000000000002"	 /* opener VIPs */
			     "040a4d0001" "10fd000077000000000000000000000001"	 /* waiter VIPs */
			     "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
	EXPECT_EQ(bytes(kx::auth_key(kTmp, kComm).span()),
		  hex("8b7fa35e75bd2742abcf7eb230c6710a7c167b9845ee33ba514bc7f403a396b6"));
	EXPECT_EQ(req.auth, hex("0033ed9ba19578de0c3747f870438e880b10f81f6d1c7f2d3ddddde46f0a48a2"));

	kx::Waiter waiter(wire(req), kComm, waiter_party(), kTmp);
	auto resp = sig::make_response(req, sig::Status::ok);
	const auto wkeys = waiter.answer(kWaiterIndex, resp, kWaiterPriv);
	EXPECT_EQ(resp.index, kWaiterIndex);
	/* RFC 7748: Bob's public key */
	EXPECT_EQ(resp.ephemeral, hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
	const Bytes t_resp = kx::response_transcript(t_req, kWaiterIndex, resp.ephemeral);
	EXPECT_EQ(t_resp, hex("6e746d2074756e6e656c20726573706f6e7365" /* "ntm tunnel response" */
			      "662df764e40ce035146f825815df960236653de13d16966977231d2d630b88c6" /* SHA-256(T_req) */
			      "22222222"
			      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
	const auto th = kx::transcript_hash(t_req, t_resp);
	EXPECT_EQ(bytes(th), hex("9c746f3e9bbf0a2cdb7435b4d0b40257e384446243e839a1e2f610064f8d47b4"));
	EXPECT_EQ(resp.auth, hex("7936a8227a7b9c5ee0661da70666d9512896460c9bf27e577d3365541c3fea3c"));
	EXPECT_EQ(resp.confirm, hex("cca3d354fdd492a3ca16838cd0929903820eb5e82129389e4368d9737624714b"));

	EXPECT_EQ(bytes(wkeys.data_key.span()), hex("c4dd37cd1ab879a53b54d4890a60325028f984c9e57a796ec9e0dea01e3fba7a"));
	EXPECT_EQ(bytes(wkeys.opener_salt), hex("ad5785f3"));
	EXPECT_EQ(bytes(wkeys.waiter_salt), hex("ab95f37d"));
	EXPECT_EQ(bytes(wkeys.confirm_key.span()),
		  hex("7037bcf3f54eaaf0c771b5dd42479a9adaee7b20014a8d59661dda9ea63be54d"));

	/* the schedule alone, from the RFC 7748 shared secret: K_tmp is not an input */
	const auto k = kx::derive_keys(hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"), th);
	EXPECT_TRUE(k.data_key == wkeys.data_key);
	EXPECT_EQ(bytes(kx::compute_confirm(k, th)), resp.confirm);

	const auto okeys = opener.finish(wire(resp));
	EXPECT_TRUE(okeys.data_key == wkeys.data_key);
	EXPECT_EQ(okeys.opener_salt, wkeys.opener_salt);
	EXPECT_EQ(okeys.waiter_salt, wkeys.waiter_salt);
}

TEST(TunnelKx, FreshExchanges)
{
	std::set<Bytes> ephemerals;
	std::set<Bytes> data_keys;
	for (int i = 0; i < 20; i++) {
		const kx::Opener opener(context(), kTmp, kOpenerIndex);
		const auto req = request_of(opener);
		kx::TunnelKeys wk;
		const auto resp = answer(wire(req), &wk);
		const auto ok = opener.finish(wire(resp));
		EXPECT_TRUE(ok.data_key == wk.data_key);
		EXPECT_NE(ok.opener_salt, ok.waiter_salt);
		ephemerals.insert(req.ephemeral);
		ephemerals.insert(resp.ephemeral);
		data_keys.insert(bytes(ok.data_key.span()));
	}
	/* a key pair per exchange on both sides, a data key per exchange */
	EXPECT_EQ(ephemerals.size(), 40U);
	EXPECT_EQ(data_keys.size(), 20U);
}

TEST(TunnelKx, SaltsDistinct)
{
	for (int i = 0; i < 256; i++) {
		kx::Mac th{};
		th[0] = static_cast<std::uint8_t>(i);
		const auto k = kx::derive_keys(Bytes(32, static_cast<std::uint8_t>(i + 1)), th);
		EXPECT_NE(k.opener_salt, k.waiter_salt);
		EXPECT_FALSE(k.data_key == k.confirm_key);
	}
}

/* ---- refusals ---- */

TEST(TunnelKx, RequestTamperedFieldsFailAuth)
{
	const kx::Opener opener(context(), kTmp, kOpenerIndex);
	const auto req = wire(request_of(opener));
	ASSERT_EQ(waiter_status(req), sig::Status::ok);
	const std::vector<std::pair<const char *, std::function<void(sig::Message &)>>> changes{
		{"FQDN", [](sig::Message &m) { m.fqdn = "c.ntm.test"; }},
		{"INDEX", [](sig::Message &m) { *m.index ^= 1; }},
		{"CIPHER", [](sig::Message &m) { m.cipher = 1; }},
		{"VIP4", [](sig::Message &m) { m.vip4 = ip("10.77.0.3"); }},
		{"VIP4 absent", [](sig::Message &m) { m.vip4.reset(); }},
		{"VIP6", [](sig::Message &m) { m.vip6 = ip("fd00:77::3"); }},
		{"VIP6 absent", [](sig::Message &m) { m.vip6.reset(); }},
		{"GENERATION", [](sig::Message &m) { m.generation = 1; }},
		{"EPHEMERAL", [](sig::Message &m) { m.ephemeral[5] ^= 1; }},
		{"AUTH", [](sig::Message &m) { m.auth[31] ^= 0x80; }},
	};
	for (const auto &[what, change] : changes) {
		auto m = req;
		change(m);
		EXPECT_EQ(waiter_status(m), sig::Status::auth_failed) << what;
	}
	/* the waiter's side of the transcript: its name, its addresses, the communication, K_tmp */
	auto w = waiter_party();
	w.fqdn = "x.ntm.test";
	EXPECT_EQ(waiter_status(req, w), sig::Status::auth_failed) << "waiter FQDN";
	w = waiter_party();
	w.vip4 = ip("10.77.0.9");
	EXPECT_EQ(waiter_status(req, w), sig::Status::auth_failed) << "waiter VIP4";
	w = waiter_party();
	w.vip6.reset();
	EXPECT_EQ(waiter_status(req, w), sig::Status::auth_failed) << "waiter VIP6";
	EXPECT_EQ(waiter_status(req, waiter_party(), kTmp, kComm + 1), sig::Status::auth_failed) << "COMM_ID";
	EXPECT_EQ(waiter_status(req, waiter_party(), seq_bytes(32, 0x41)), sig::Status::auth_failed) << "K_tmp";
	/* missing fields: malformed, not a crash */
	auto m = req;
	m.ephemeral.clear();
	EXPECT_EQ(waiter_status(m), sig::Status::malformed);
}

TEST(TunnelKx, ResponseTamperedFieldsFail)
{
	const kx::Opener opener(context(), kTmp, kOpenerIndex);
	const auto req = wire(request_of(opener));
	const auto resp = wire(answer(req));
	ASSERT_EQ(opener_status(opener, resp), sig::Status::ok);
	const std::vector<std::pair<const char *, std::function<void(sig::Message &)>>> changes{
		{"INDEX", [](sig::Message &m) { *m.index ^= 1; }},
		{"EPHEMERAL", [](sig::Message &m) { m.ephemeral[0] ^= 1; }},
		{"AUTH", [](sig::Message &m) { m.auth[0] ^= 1; }},
		{"CONFIRM", [](sig::Message &m) { m.confirm[31] ^= 1; }},
	};
	for (const auto &[what, change] : changes) {
		auto m = resp;
		change(m);
		EXPECT_EQ(opener_status(opener, m), sig::Status::auth_failed) << what;
	}
	/* the answer to another request (another opener key): its hash is in T_resp */
	const kx::Opener other(context(), kTmp, kOpenerIndex);
	EXPECT_EQ(opener_status(opener, wire(answer(wire(request_of(other))))), sig::Status::auth_failed);
	/* a waiter that is not the one the DC named (its own view in its transcript) */
	auto c = context();
	c.waiter.fqdn = "x.ntm.test";
	const kx::Opener mistaken(c, kTmp, kOpenerIndex);
	EXPECT_EQ(waiter_status(wire(request_of(mistaken))), sig::Status::auth_failed);
	/* CONFIRM of the right keys over another transcript: AUTH holds, CONFIRM fails */
	auto m = resp;
	const Bytes t_req = kx::request_transcript(context(), kOpenerIndex, req.ephemeral);
	const auto t_resp = kx::response_transcript(t_req, *m.index, m.ephemeral);
	kx::Mac wrong_th = kx::transcript_hash(t_req, t_resp);
	wrong_th[0] ^= 1;
	kx::TunnelKeys k;
	k.confirm_key = ntm::SecretBytes(Bytes(32, 9));
	m.confirm = bytes(kx::compute_confirm(k, wrong_th));
	EXPECT_EQ(opener_status(opener, m), sig::Status::auth_failed);
	/* missing fields */
	m = resp;
	m.confirm.clear();
	EXPECT_EQ(opener_status(opener, m), sig::Status::malformed);
}

namespace {

/* Points of small order on Curve25519 (and their non-canonical twins): X25519 gives all zeros. */
const std::vector<Bytes> &low_order_points()
{
	static const std::vector<Bytes> pts{
		Bytes(32, 0),
		hex("0100000000000000000000000000000000000000000000000000000000000000"),
		hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
		hex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
		hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
	};
	return pts;
}

} // namespace

TEST(TunnelKx, LowOrderOpenerKeyRefusedAfterAuth)
{
	const auto k_auth = kx::auth_key(kTmp, kComm);
	for (const auto &p : low_order_points()) {
		/* a request with a correct AUTH over a low-order key: only K_tmp's holders can send one */
		sig::Message m;
		m.type = sig::MsgType::tunnel;
		m.txid = 9;
		m.fqdn = "b.ntm.test";
		m.index = kOpenerIndex;
		m.cipher = 2;
		m.vip4 = ip("10.77.0.2");
		m.vip6 = ip("fd00:77::2");
		m.generation = 0;
		m.ephemeral = p;
		m.auth = bytes(sig::hmac_sha256(k_auth.span(), kx::request_transcript(context(), kOpenerIndex, p)));
		EXPECT_EQ(waiter_status(wire(m)), sig::Status::malformed);
		/* without a valid AUTH it is refused for that, before any X25519 work */
		m.auth[0] ^= 1;
		EXPECT_EQ(waiter_status(wire(m)), sig::Status::auth_failed);
	}
}

TEST(TunnelKx, LowOrderWaiterKeyRefused)
{
	const kx::Opener opener(context(), kTmp, kOpenerIndex);
	const auto req = wire(request_of(opener));
	const Bytes t_req = kx::request_transcript(context(), kOpenerIndex, req.ephemeral);
	const auto k_auth = kx::auth_key(kTmp, kComm);
	for (const auto &p : low_order_points()) {
		auto resp = sig::make_response(req, sig::Status::ok);
		resp.index = kWaiterIndex;
		resp.ephemeral = p;
		resp.auth = bytes(sig::hmac_sha256(k_auth.span(), kx::response_transcript(t_req, kWaiterIndex, p)));
		/* whatever CONFIRM: the all-zero X25519 result is refused before it is looked at */
		kx::TunnelKeys zero = kx::derive_keys(Bytes(32, 0), kx::transcript_hash(t_req, kx::response_transcript(
												  t_req, kWaiterIndex, p)));
		resp.confirm = bytes(kx::compute_confirm(
			zero, kx::transcript_hash(t_req, kx::response_transcript(t_req, kWaiterIndex, p))));
		EXPECT_EQ(opener_status(opener, wire(resp)), sig::Status::auth_failed);
	}
}

TEST(TunnelKx, BadArguments)
{
	EXPECT_THROW((void)kx::auth_key(Bytes(16), 1), std::invalid_argument);
	EXPECT_THROW((void)kx::request_transcript(context(), 1, Bytes(31)), std::invalid_argument);
	EXPECT_THROW((void)kx::response_transcript({}, 1, Bytes(33)), std::invalid_argument);
	auto c = context();
	c.opener.vip4 = ip("fd00::1");
	EXPECT_THROW((void)kx::request_transcript(c, 1, Bytes(32)), std::invalid_argument);
	c = context();
	c.waiter.fqdn = "Not A Name";
	EXPECT_THROW((void)kx::request_transcript(c, 1, Bytes(32)), std::invalid_argument);
	EXPECT_THROW(kx::Opener(context(), Bytes(31), 1), std::invalid_argument);
}

/* ---- the TLVs ---- */

namespace {

Bytes tlv(std::uint16_t type, const Bytes &v)
{
	Bytes b{static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0,
		static_cast<std::uint8_t>(v.size())};
	b.insert(b.end(), v.begin(), v.end());
	return b;
}

Bytes body(std::initializer_list<Bytes> tlvs)
{
	Bytes b = hex("0107000000000007"); /* version 1, Tunnel Request, txid 7 */
	for (const auto &t : tlvs)
		b.insert(b.end(), t.begin(), t.end());
	return b;
}

sig::Status decode_status(const Bytes &b)
{
	try {
		(void)sig::decode(b);
	} catch (const sig::ParseError &e) {
		return e.status();
	}
	return sig::Status::ok;
}

} // namespace

TEST(TunnelKxCodec, NewTlvs)
{
	const auto m = sig::decode(body({tlv(30, Bytes(32, 0xee)), tlv(31, Bytes(32, 0xaa)), tlv(32, hex("00000005"))}));
	EXPECT_EQ(m.ephemeral, Bytes(32, 0xee));
	EXPECT_EQ(m.auth, Bytes(32, 0xaa));
	EXPECT_EQ(m.generation, 5U);
	/* in type order, after NATED */
	EXPECT_EQ(sig::encode(m), body({tlv(30, Bytes(32, 0xee)), tlv(31, Bytes(32, 0xaa)), tlv(32, hex("00000005"))}));
	for (const std::uint16_t t : {std::uint16_t{30}, std::uint16_t{31}}) {
		EXPECT_EQ(decode_status(body({tlv(t, Bytes(31))})), sig::Status::malformed) << t;
		EXPECT_EQ(decode_status(body({tlv(t, Bytes(33))})), sig::Status::malformed) << t;
		EXPECT_EQ(decode_status(body({tlv(t, {})})), sig::Status::malformed) << t;
		EXPECT_EQ(decode_status(body({tlv(t, Bytes(32)), tlv(t, Bytes(32))})), sig::Status::malformed) << t;
	}
	EXPECT_EQ(decode_status(body({tlv(32, hex("000000"))})), sig::Status::malformed);
	EXPECT_EQ(decode_status(body({tlv(32, hex("0000000000"))})), sig::Status::malformed);
	EXPECT_EQ(decode_status(body({tlv(32, hex("00000000"))})), sig::Status::ok); /* 0 is the first generation */
	/* encode refuses wrong sizes */
	sig::Message e;
	e.type = sig::MsgType::tunnel;
	e.txid = 1;
	e.ephemeral = Bytes(31);
	EXPECT_THROW((void)sig::encode(e), std::invalid_argument);
	e.ephemeral.clear();
	e.auth = Bytes(16);
	EXPECT_THROW((void)sig::encode(e), std::invalid_argument);
}

TEST(TunnelKxCodec, SealedKeyNumberIsUnknownNow)
{
	/* 26 (the old SEALED_KEY, 60 bytes or any other length): ignored, not encoded again */
	const auto m = sig::decode(body({tlv(26, Bytes(60, 1)), tlv(26, Bytes(3, 1)), tlv(27, hex("00000009"))}));
	EXPECT_EQ(m.index, 9U);
	EXPECT_EQ(sig::encode(m), body({tlv(27, hex("00000009"))}));
	/* with C it is an unknown critical TLV */
	EXPECT_EQ(decode_status(body({tlv(0x8000 | 26, Bytes(60))})), sig::Status::unsupported_tlv);
	/* a Tunnel Request that still carries one validates on its other TLVs */
	const kx::Opener opener(context(), kTmp, kOpenerIndex);
	auto enc = sig::encode(request_of(opener));
	const auto old = tlv(26, Bytes(60, 7));
	enc.insert(enc.end(), old.begin(), old.end());
	const auto d = sig::decode(enc);
	EXPECT_NO_THROW(sig::validate(d));
	EXPECT_EQ(waiter_status(d), sig::Status::ok);
}
