// SPDX-License-Identifier: GPL-2.0
/*
 * The IKEv2 codec (ntm/ike.hpp): round trips of every payload, byte-exact
 * encodings, every class of parse error with the notify it must carry, the
 * AEAD SK payload against published vectors (McGrew-Viega GCM test cases,
 * RFC 8439 section 2.8.2, RFC 7634 appendix B), an IKE_SA_INIT built with
 * scapy's IKEv2 layer, and the helpers (names, Identity, TrafficSelector).
 *
 * IkeCorpus.DISABLED_WriteSeeds writes the seed corpus of
 * tests/fuzz/fuzz_ike.cpp (see there).
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/ike.hpp"

namespace ike = ntm::ike;
using ike::Bytes;
using ike::NotifyType;
using ike::ParseError;
using ike::PayloadType;

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

ntm::IpAddress ip(const char *text)
{
	std::array<std::uint8_t, 16> b{};
	if (inet_pton(AF_INET, text, b.data()) == 1)
		return *ntm::IpAddress::from_bytes(std::span<const std::uint8_t>(b.data(), 4));
	EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
	return *ntm::IpAddress::from_bytes(b);
}

ike::SkKey gcm_key(std::size_t key_len = 16)
{
	return ike::SkKey{ike::Encr::aes_gcm_16, ntm::SecretBytes(seq(key_len + 4, 0x40))};
}

ike::Header header(ike::Exchange ex = ike::Exchange::ike_sa_init)
{
	ike::Header h;
	h.spi_i = 0x0102030405060708ULL;
	h.spi_r = ex == ike::Exchange::ike_sa_init ? 0 : 0x1112131415161718ULL;
	h.exchange = ex;
	h.flags = ike::kFlagInitiator;
	h.msgid = ex == ike::Exchange::ike_sa_init ? 0 : 7;
	return h;
}

/* A message with every payload the codec knows. */
ike::Payloads everything()
{
	ike::Payloads p;
	using TT = ike::TransformType;
	ike::Proposal prop1{1, ike::Protocol::ike, {},
			    {{TT::encr, 20, 256}, {TT::encr, 28, {}}, {TT::prf, 5, {}}, {TT::prf, 7, {}}, {TT::dh, 19, {}},
			     {TT::dh, 31, {}}}};
	ike::Proposal prop2{2, ike::Protocol::esp, ike::esp_spi_bytes(0xc0ffee01),
			    {{TT::encr, 20, 128}, {TT::esn, 0, {}}, {TT::esn, 1, {}}}};
	ike::Proposal prop3{3, ike::Protocol::ike, seq(8, 0x90), {{TT::encr, 20, 192}, {TT::prf, 6, {}}}};
	p.sa = {prop1, prop2, prop3};
	p.has_sa = true;
	p.ke = ike::KeyExchange{ike::DhGroup::ecp256, seq(64, 1)};
	p.nonce = seq(32, 0xa0);
	p.idi = ike::Identity{ike::IdType::fqdn, Bytes{'a', '.', 'e', 'x'}};
	p.idr = ike::Identity{ike::IdType::ipv4_addr, Bytes{192, 0, 2, 1}};
	p.certs = {{ike::CertEncoding::x509_sig, seq(100, 0)}, {ike::CertEncoding::x509_sig, seq(3, 7)}};
	p.certreqs = {{ike::CertEncoding::x509_sig, seq(40, 9)}};
	p.auth = ike::Auth{ike::AuthMethod::psk, seq(32, 0x33)};
	p.notifies = {
		{ike::Protocol::none, {}, static_cast<std::uint16_t>(NotifyType::nat_detection_source_ip), seq(20, 1)},
		{ike::Protocol::esp, ike::esp_spi_bytes(0x01020304),
		 static_cast<std::uint16_t>(NotifyType::rekey_sa), {}},
		{ike::Protocol::ike, seq(8, 0x55), static_cast<std::uint16_t>(NotifyType::invalid_syntax), {}},
		{ike::Protocol::none, {}, static_cast<std::uint16_t>(NotifyType::cookie), seq(16, 0xc0)},
		{ike::Protocol::none, {}, 40000, {}},
	};
	p.deletes = {{ike::Protocol::ike, {}}, {ike::Protocol::esp, {seq(4, 1), seq(4, 5)}}};
	ike::TrafficSelector ts4 = ike::TrafficSelector::from_prefix(ip("10.1.0.0"), 16);
	ike::TrafficSelector tcp = ike::TrafficSelector::from_prefix(ip("10.2.0.5"), 32);
	tcp.ip_proto = 6;
	tcp.start_port = 80;
	tcp.end_port = 80;
	p.tsi = std::vector<ike::TrafficSelector>{ts4, tcp};
	p.tsr = std::vector<ike::TrafficSelector>{ike::TrafficSelector::any(AF_INET6),
						  ike::TrafficSelector::from_prefix(ip("fd00:1::"), 64)};
	p.vendor_ids = {seq(16, 0x88), Bytes{}};
	return p;
}

void expect_same(const ike::Payloads &a, const ike::Payloads &b)
{
	EXPECT_EQ(a.has_sa, b.has_sa);
	EXPECT_EQ(a.sa, b.sa);
	ASSERT_EQ(a.ke.has_value(), b.ke.has_value());
	if (a.ke) {
		EXPECT_EQ(a.ke->group, b.ke->group);
		EXPECT_EQ(a.ke->data, b.ke->data);
	}
	EXPECT_EQ(a.nonce, b.nonce);
	EXPECT_EQ(a.idi, b.idi);
	EXPECT_EQ(a.idr, b.idr);
	ASSERT_EQ(a.certs.size(), b.certs.size());
	for (std::size_t i = 0; i < a.certs.size(); i++) {
		EXPECT_EQ(a.certs[i].encoding, b.certs[i].encoding);
		EXPECT_EQ(a.certs[i].data, b.certs[i].data);
	}
	ASSERT_EQ(a.certreqs.size(), b.certreqs.size());
	for (std::size_t i = 0; i < a.certreqs.size(); i++)
		EXPECT_EQ(a.certreqs[i].data, b.certreqs[i].data);
	ASSERT_EQ(a.auth.has_value(), b.auth.has_value());
	if (a.auth) {
		EXPECT_EQ(a.auth->method, b.auth->method);
		EXPECT_EQ(a.auth->data, b.auth->data);
	}
	ASSERT_EQ(a.notifies.size(), b.notifies.size());
	ASSERT_EQ(a.deletes.size(), b.deletes.size());
	for (std::size_t i = 0; i < a.deletes.size(); i++) {
		EXPECT_EQ(a.deletes[i].protocol, b.deletes[i].protocol);
		EXPECT_EQ(a.deletes[i].spis, b.deletes[i].spis);
	}
	EXPECT_EQ(a.tsi, b.tsi);
	EXPECT_EQ(a.tsr, b.tsr);
	EXPECT_EQ(a.vendor_ids, b.vendor_ids);
	EXPECT_EQ(a.has_cp, b.has_cp);
	EXPECT_EQ(a.has_eap, b.has_eap);
}

/* notifies in encoder order: COOKIE first, the others as given */
void expect_notifies_cookie_first(const ike::Payloads &sent, const ike::Payloads &got)
{
	std::vector<const ike::Notify *> want;
	if (const auto *c = sent.find(NotifyType::cookie))
		want.push_back(c);
	for (const auto &n : sent.notifies)
		if (&n != sent.find(NotifyType::cookie))
			want.push_back(&n);
	ASSERT_EQ(want.size(), got.notifies.size());
	for (std::size_t i = 0; i < want.size(); i++) {
		EXPECT_EQ(want[i]->protocol, got.notifies[i].protocol) << i;
		EXPECT_EQ(want[i]->spi, got.notifies[i].spi) << i;
		EXPECT_EQ(want[i]->type, got.notifies[i].type) << i;
		EXPECT_EQ(want[i]->data, got.notifies[i].data) << i;
	}
}

template <class F> std::optional<NotifyType> notify_of(F &&f)
{
	try {
		f();
	} catch (const ParseError &e) {
		return e.notify();
	}
	ADD_FAILURE() << "no ParseError";
	return NotifyType::temporary_failure; /* distinct from every expectation */
}

/* header + raw chain with the header length fixed up */
Bytes raw_message(PayloadType first, const Bytes &chain, std::uint8_t version = 0x20)
{
	Bytes m = hex("0102030405060708 0000000000000000");
	m.push_back(static_cast<std::uint8_t>(first));
	m.push_back(version);
	m.push_back(34);
	m.push_back(0x08);
	for (int i = 0; i < 4; i++)
		m.push_back(0);
	const auto len = static_cast<std::uint32_t>(ike::kHeaderLen + chain.size());
	m.push_back(static_cast<std::uint8_t>(len >> 24));
	m.push_back(static_cast<std::uint8_t>(len >> 16));
	m.push_back(static_cast<std::uint8_t>(len >> 8));
	m.push_back(static_cast<std::uint8_t>(len));
	m.insert(m.end(), chain.begin(), chain.end());
	return m;
}

/* one generic payload */
Bytes payload(PayloadType next, const Bytes &body, std::uint8_t flags = 0)
{
	Bytes p{static_cast<std::uint8_t>(next), flags};
	const auto len = static_cast<std::uint16_t>(body.size() + 4);
	p.push_back(static_cast<std::uint8_t>(len >> 8));
	p.push_back(static_cast<std::uint8_t>(len));
	p.insert(p.end(), body.begin(), body.end());
	return p;
}

Bytes cat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const auto &p : parts)
		out.insert(out.end(), p.begin(), p.end());
	return out;
}

const Bytes kNonce = seq(16, 0x10);

std::optional<NotifyType> plain_error(PayloadType first, const Bytes &chain)
{
	const Bytes m = raw_message(first, chain);
	return notify_of([&] {
		ike::Header h;
		(void)ike::parse_plain(m, h);
	});
}

/* an SK message around arbitrary plaintext (inner chain | padding | pad length) */
Bytes sk_message(const ike::SkKey &key, PayloadType inner_first, const Bytes &plaintext)
{
	Bytes m = hex("0102030405060708 1112131415161718 2e202308 00000007 00000000");
	const std::size_t sk_len = 4 + 8 + plaintext.size() + 16;
	const auto total = static_cast<std::uint32_t>(ike::kHeaderLen + sk_len);
	m[24] = static_cast<std::uint8_t>(total >> 24);
	m[25] = static_cast<std::uint8_t>(total >> 16);
	m[26] = static_cast<std::uint8_t>(total >> 8);
	m[27] = static_cast<std::uint8_t>(total);
	m.push_back(static_cast<std::uint8_t>(inner_first));
	m.push_back(0);
	m.push_back(static_cast<std::uint8_t>(sk_len >> 8));
	m.push_back(static_cast<std::uint8_t>(sk_len));
	const Bytes iv = seq(8, 0xee);
	const Bytes aad(m.begin(), m.end());
	m.insert(m.end(), iv.begin(), iv.end());
	const Bytes sealed = ike::sk_seal(key, iv, aad, plaintext);
	m.insert(m.end(), sealed.begin(), sealed.end());
	return m;
}

std::optional<NotifyType> encrypted_error(const ike::SkKey &key, const Bytes &m)
{
	return notify_of([&] {
		ike::Header h;
		(void)ike::parse_encrypted(m, key, h);
	});
}

} // namespace

/* ---- header ---- */

TEST(IkeHeader, EncodesAndParses)
{
	ike::Header h = header();
	h.flags = ike::kFlagInitiator | ike::kFlagResponse;
	h.msgid = 0x01020304;
	ike::Payloads p;
	p.nonce = kNonce;
	const Bytes m = ike::encode_plain(h, p);
	EXPECT_EQ(m, cat({hex("0102030405060708 0000000000000000 28 20 22 28 01020304 00000030"),
			  payload(PayloadType::none, kNonce)}));
	const ike::Header got = ike::parse_header(m);
	EXPECT_EQ(got.spi_i, h.spi_i);
	EXPECT_EQ(got.spi_r, 0U);
	EXPECT_EQ(got.next, PayloadType::nonce);
	EXPECT_EQ(got.major, 2);
	EXPECT_EQ(got.minor, 0);
	EXPECT_EQ(got.exchange, ike::Exchange::ike_sa_init);
	EXPECT_TRUE(got.is_response());
	EXPECT_TRUE(got.from_initiator());
	EXPECT_EQ(got.msgid, 0x01020304U);
	EXPECT_EQ(got.length, m.size());
}

TEST(IkeHeader, Errors)
{
	const Bytes good = ike::encode_plain(header(), ike::Payloads{});
	ASSERT_EQ(good.size(), ike::kHeaderLen);
	EXPECT_NO_THROW(ike::parse_header(good));
	/* truncated */
	EXPECT_EQ(notify_of([&] { ike::parse_header(ike::ByteView(good).first(27)); }), NotifyType::invalid_syntax);
	EXPECT_EQ(notify_of([&] { ike::parse_header({}); }), NotifyType::invalid_syntax);
	/* length field larger / smaller than the datagram */
	Bytes longer = good;
	longer.push_back(0);
	EXPECT_EQ(notify_of([&] { ike::parse_header(longer); }), NotifyType::invalid_syntax);
	Bytes lie = good;
	lie[27] = 29;
	EXPECT_EQ(notify_of([&] { ike::parse_header(lie); }), NotifyType::invalid_syntax);
	/* major version 3 (RFC 7296 section 2.5), minor versions are fine */
	Bytes v3 = good;
	v3[17] = 0x30;
	EXPECT_EQ(notify_of([&] { ike::parse_header(v3); }), NotifyType::invalid_major_version);
	Bytes v1 = good;
	v1[17] = 0x10;
	EXPECT_EQ(notify_of([&] { ike::parse_header(v1); }), NotifyType::invalid_major_version);
	Bytes v21 = good;
	v21[17] = 0x21;
	EXPECT_EQ(ike::parse_header(v21).minor, 1);
	/* over kMaxMessage even when consistent */
	Bytes huge(ike::kMaxMessage + 1);
	std::copy(good.begin(), good.end(), huge.begin());
	huge[24] = 0;
	huge[25] = 1;
	huge[26] = 0;
	huge[27] = 0;
	EXPECT_EQ(notify_of([&] { ike::parse_header(huge); }), NotifyType::invalid_syntax);
}

/* ---- round trips ---- */

TEST(IkeCodec, RoundTripEveryPayload)
{
	const ike::Payloads p = everything();
	const Bytes m = ike::encode_plain(header(), p);
	ike::Header h;
	const ike::Payloads got = ike::parse_plain(m, h);
	EXPECT_EQ(h.length, m.size());
	/* COOKIE first (RFC 7296 section 2.6), then SA */
	EXPECT_EQ(h.next, PayloadType::notify);
	expect_same(p, got);
	expect_notifies_cookie_first(p, got);
	/* stable */
	EXPECT_EQ(ike::encode_plain(header(), got), m);
}

TEST(IkeCodec, RoundTripEncrypted)
{
	const ike::Payloads p = everything();
	for (const std::size_t klen : {16U, 24U, 32U}) {
		const ike::SkKey key = gcm_key(klen);
		const Bytes m = ike::encode_encrypted(header(ike::Exchange::ike_auth), p, key, 42);
		ike::Header h;
		const ike::Payloads got = ike::parse_encrypted(m, key, h);
		EXPECT_EQ(h.next, PayloadType::sk);
		EXPECT_EQ(h.exchange, ike::Exchange::ike_auth);
		EXPECT_EQ(h.msgid, 7U);
		expect_same(p, got);
		expect_notifies_cookie_first(p, got);
		/* IV is the counter */
		EXPECT_EQ(Bytes(m.begin() + 32, m.begin() + 40), hex("000000000000002a"));
	}
	const ike::SkKey cc{ike::Encr::chacha20_poly1305, ntm::SecretBytes(seq(36, 3))};
	const Bytes m = ike::encode_encrypted(header(ike::Exchange::ike_auth), p, cc, 1);
	ike::Header h;
	expect_same(p, ike::parse_encrypted(m, cc, h));
}

TEST(IkeCodec, EmptyEncryptedMessage)
{
	/* an INFORMATIONAL liveness check: SK with no inner payloads */
	const ike::SkKey key = gcm_key();
	const Bytes m = ike::encode_encrypted(header(ike::Exchange::informational), {}, key, 0);
	EXPECT_EQ(m.size(), ike::kHeaderLen + 4 + 8 + 1 + 16);
	EXPECT_EQ(m[28], 0); /* SK's next payload: none */
	ike::Header h;
	const auto p = ike::parse_encrypted(m, key, h);
	EXPECT_TRUE(p.notifies.empty());
	EXPECT_FALSE(p.has_sa);
}

TEST(IkeCodec, ProposalWireFormat)
{
	/* RFC 7296 section 3.3: proposal and transform substructures, Key
	 * Length attribute in TV format (0x800e) */
	ike::Payloads p;
	p.has_sa = true;
	p.sa = {ike::Proposal{1, ike::Protocol::esp, hex("c0ffee01"),
			      {{ike::TransformType::encr, 20, 256}, {ike::TransformType::esn, 0, {}}}}};
	const Bytes m = ike::encode_plain(header(), p);
	EXPECT_EQ(Bytes(m.begin() + 28, m.end()),
		  hex("00000024"			 /* SA generic header, 36 bytes */
		      "00000020 01 03 04 02 c0ffee01"	 /* last proposal, 32 bytes, #1, ESP, SPI 4, 2 transforms */
		      "0300000c 01 00 0014 800e0100"	 /* ENCR 20, key length 256 */
		      "00000008 05 00 0000"));		 /* last: ESN 0 */
}

TEST(IkeCodec, DeleteAndNotifyWireFormat)
{
	ike::Payloads p;
	p.deletes = {{ike::Protocol::esp, {hex("01020304"), hex("05060708")}}, {ike::Protocol::ike, {}}};
	p.notifies = {{ike::Protocol::esp, hex("aabbccdd"), 16393, {}}};
	const Bytes m = ike::encode_plain(header(), p);
	EXPECT_EQ(Bytes(m.begin() + 28, m.end()), hex("2a00000c 03 04 4009 aabbccdd"
						      "2a000010 03 04 0002 01020304 05060708"
						      "00000008 01 00 0000"));
}

TEST(IkeCodec, TrafficSelectorWireFormat)
{
	ike::Payloads p;
	ike::TrafficSelector ts = ike::TrafficSelector::from_prefix(ip("10.1.0.0"), 16);
	ts.ip_proto = 17;
	ts.start_port = 500;
	ts.end_port = 4500;
	p.tsi = std::vector<ike::TrafficSelector>{ts};
	p.tsr = std::vector<ike::TrafficSelector>{ike::TrafficSelector::from_prefix(ip("2001:db8::"), 32)};
	const Bytes m = ike::encode_plain(header(), p);
	EXPECT_EQ(Bytes(m.begin() + 28, m.end()),
		  hex("2d000018 01000000 07 11 0010 01f4 1194 0a010000 0a01ffff"
		      "00000030 01000000 08 00 0028 0000 ffff 20010db8000000000000000000000000"
		      "20010db8ffffffffffffffffffffffff"));
}

TEST(IkeCodec, EncoderRefusesWhatTheParserRejects)
{
	ike::Payloads p;
	p.nonce = seq(15, 0);
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.nonce = seq(257, 0);
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.nonce.reset();
	p.idi = ike::Identity{ike::IdType::ipv4_addr, Bytes{1, 2, 3}};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.idi.reset();
	p.deletes = {{ike::Protocol::esp, {Bytes{1, 2, 3}}}};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.deletes = {{ike::Protocol::ike, {Bytes{1, 2, 3, 4}}}};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.deletes.clear();
	p.has_sa = true;
	p.sa = {ike::Proposal{1, ike::Protocol::esp, {}, {}}};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.sa = {};
	p.vendor_ids = {Bytes(70000)};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	p.vendor_ids = {Bytes(40000), Bytes(40000)};
	EXPECT_THROW(ike::encode_plain(header(), p), std::invalid_argument);
	ike::Header v3 = header();
	v3.major = 3;
	EXPECT_THROW(ike::encode_plain(v3, {}), std::invalid_argument);
	/* a wrong key size is a programming error */
	const ike::SkKey bad{ike::Encr::aes_gcm_16, ntm::SecretBytes(seq(16, 0))};
	EXPECT_THROW(ike::encode_encrypted(header(), {}, bad, 1), std::invalid_argument);
}

/* ---- malformed input ---- */

TEST(IkeParse, PayloadLengths)
{
	/* a chain that fits */
	EXPECT_NO_THROW(ike::parse_payloads(PayloadType::nonce, payload(PayloadType::none, kNonce)));
	/* payload length under 4 */
	Bytes short_len = payload(PayloadType::none, kNonce);
	short_len[2] = 0;
	short_len[3] = 3;
	EXPECT_EQ(plain_error(PayloadType::nonce, short_len), NotifyType::invalid_syntax);
	/* length past the end */
	Bytes past = payload(PayloadType::none, kNonce);
	past[3] = static_cast<std::uint8_t>(past[3] + 1);
	EXPECT_EQ(plain_error(PayloadType::nonce, past), NotifyType::invalid_syntax);
	/* truncated generic header */
	EXPECT_EQ(plain_error(PayloadType::nonce, Bytes{0, 0, 0}), NotifyType::invalid_syntax);
	/* next payload promised but no bytes */
	EXPECT_EQ(plain_error(PayloadType::nonce, payload(PayloadType::vendor, kNonce)),
		  NotifyType::invalid_syntax);
	/* bytes after the last payload */
	Bytes trailing = payload(PayloadType::none, kNonce);
	trailing.push_back(0);
	EXPECT_EQ(plain_error(PayloadType::nonce, trailing), NotifyType::invalid_syntax);
	/* zero-length chain with a first payload */
	EXPECT_EQ(plain_error(PayloadType::nonce, {}), NotifyType::invalid_syntax);
}

TEST(IkeParse, CriticalBit)
{
	/* unknown, not critical: skipped (RFC 7296 section 2.5) */
	const Bytes skip = cat({payload(PayloadType::nonce, Bytes{1, 2, 3}), payload(PayloadType::none, kNonce)});
	ike::Header h;
	const Bytes m = raw_message(static_cast<PayloadType>(200), skip);
	EXPECT_EQ(ike::parse_plain(m, h).nonce, kNonce);
	/* unknown and critical */
	const Bytes crit = cat({payload(PayloadType::nonce, Bytes{1, 2, 3}, 0x80), payload(PayloadType::none, kNonce)});
	const Bytes mc = raw_message(static_cast<PayloadType>(200), crit);
	try {
		(void)ike::parse_plain(mc, h);
		ADD_FAILURE() << "critical payload accepted";
	} catch (const ParseError &e) {
		EXPECT_EQ(e.notify(), NotifyType::unsupported_critical_payload);
		EXPECT_EQ(e.notify_data(), Bytes{200});
	}
	/* known payload with the critical bit: fine */
	EXPECT_EQ(ike::parse_plain(raw_message(PayloadType::nonce, payload(PayloadType::none, kNonce, 0x80)), h).nonce,
		  kNonce);
	/* reserved flag bits are ignored */
	EXPECT_NO_THROW(ike::parse_plain(raw_message(PayloadType::nonce, payload(PayloadType::none, kNonce, 0x7f)), h));
	/* SK inside a chain */
	EXPECT_EQ(plain_error(PayloadType::sk, payload(PayloadType::none, seq(30, 0))), NotifyType::invalid_syntax);
}

TEST(IkeParse, PayloadBodies)
{
	const auto err = [](PayloadType t, const Bytes &body) { return plain_error(t, payload(PayloadType::none, body)); };
	const auto inv = NotifyType::invalid_syntax;
	/* Nonce 16..256 */
	EXPECT_EQ(err(PayloadType::nonce, seq(15, 0)), inv);
	EXPECT_EQ(err(PayloadType::nonce, seq(257, 0)), inv);
	/* KE without data */
	EXPECT_EQ(err(PayloadType::ke, hex("00130000")), inv);
	EXPECT_EQ(err(PayloadType::ke, hex("0013")), inv);
	/* ID */
	EXPECT_EQ(err(PayloadType::idi, hex("01000000 c00002")), inv);
	EXPECT_EQ(err(PayloadType::idi, hex("02000000")), inv);
	EXPECT_EQ(err(PayloadType::idr, hex("050000")), inv);
	/* AUTH, CERT without data */
	EXPECT_EQ(err(PayloadType::auth, hex("02000000")), inv);
	EXPECT_EQ(err(PayloadType::cert, hex("04")), inv);
	EXPECT_EQ(err(PayloadType::cert, {}), inv);
	/* Notify: SPI past the end, SPI size 3 */
	EXPECT_EQ(err(PayloadType::notify, hex("03044009 aabbcc")), inv);
	EXPECT_EQ(err(PayloadType::notify, hex("03034009 aabbcc")), inv);
	EXPECT_EQ(err(PayloadType::notify, hex("0300")), inv);
	/* Delete */
	EXPECT_EQ(err(PayloadType::del, hex("01080001 0102030405060708")), inv); /* IKE with an SPI */
	EXPECT_EQ(err(PayloadType::del, hex("03040002 01020304")), inv);	   /* count > SPIs */
	EXPECT_EQ(err(PayloadType::del, hex("03040001 0102030405")), inv);	   /* extra byte */
	EXPECT_EQ(err(PayloadType::del, hex("03080001 0102030405060708")), inv); /* ESP SPI size 8 */
	EXPECT_EQ(err(PayloadType::del, hex("03040000")), inv);		   /* no SPIs */
	EXPECT_EQ(err(PayloadType::del, hex("09000000")), inv);		   /* unknown protocol */
	/* TS */
	EXPECT_EQ(err(PayloadType::tsi, hex("01000000 07000010 0000ffff 0a000000")), inv); /* short */
	EXPECT_EQ(err(PayloadType::tsi, hex("01000000 07000014 0000ffff 0a000000 0a0000ff 00000000")), inv);
	EXPECT_EQ(err(PayloadType::tsi, hex("02000000 07000010 0000ffff 0a000000 0a0000ff")), inv); /* count */
	EXPECT_EQ(err(PayloadType::tsi, hex("01000000 07000010 0000ffff 0a000000 0a0000ff 00")), inv);
	EXPECT_EQ(err(PayloadType::tsi, hex("01000000 07000002")), inv);
	/* duplicates */
	EXPECT_EQ(plain_error(PayloadType::nonce,
			      cat({payload(PayloadType::nonce, kNonce), payload(PayloadType::none, kNonce)})),
		  inv);
	EXPECT_EQ(plain_error(PayloadType::sa, cat({payload(PayloadType::sa, {}), payload(PayloadType::none, {})})),
		  inv);
}

TEST(IkeParse, UnknownSelectorTypesAreSkipped)
{
	/* a TS_SECLABEL (type 10, RFC 9478) next to an IPv4 range */
	ike::Header h;
	const Bytes body = hex("02000000 0a000008 73797374 07000010 0000ffff 0a000000 0a0000ff");
	const auto p = ike::parse_plain(raw_message(PayloadType::tsi, payload(PayloadType::none, body)), h);
	ASSERT_TRUE(p.tsi);
	ASSERT_EQ(p.tsi->size(), 1U);
	EXPECT_EQ((*p.tsi)[0].to_string(), "10.0.0.0/24");
}

TEST(IkeParse, SecurityAssociation)
{
	const auto sa = [](const Bytes &body) {
		ike::Header h;
		return ike::parse_plain(raw_message(PayloadType::sa, payload(PayloadType::none, body)), h);
	};
	const auto err = [](const Bytes &body) { return plain_error(PayloadType::sa, payload(PayloadType::none, body)); };
	const auto inv = NotifyType::invalid_syntax;
	/* good: IKE proposal, ENCR AES-GCM-16/256, PRF, DH */
	const Bytes good = hex("0000002c 01010004"
			       "0300000c 01000014 800e0100"
			       "03000008 02000005"
			       "03000008 0400001f"
			       "00000008 04000013");
	const auto p = sa(good);
	ASSERT_EQ(p.sa.size(), 1U);
	EXPECT_EQ(p.sa[0].transforms.size(), 4U);
	EXPECT_EQ(p.sa[0].transforms[0].key_bits, 256);
	/* transform count too high / too low */
	Bytes count = good;
	count[7] = 5;
	EXPECT_EQ(err(count), inv);
	count[7] = 3;
	EXPECT_EQ(err(count), inv);
	/* proposal length beyond the SA */
	Bytes plen = good;
	plen[3] = 0x2d;
	EXPECT_EQ(err(plen), inv);
	/* proposal length under 8 */
	EXPECT_EQ(err(hex("00000004 01010000")), inv);
	/* transform length under 8 */
	Bytes tlen = good;
	tlen[11] = 4;
	EXPECT_EQ(err(tlen), inv);
	/* "more" proposals announced but none follows */
	Bytes more = good;
	more[0] = 2;
	EXPECT_EQ(err(more), inv);
	/* bad substructure values */
	Bytes sub = good;
	sub[0] = 1;
	EXPECT_EQ(err(sub), inv);
	Bytes tsub = good;
	tsub[8] = 1;
	EXPECT_EQ(err(tsub), inv);
	/* key length in TLV format */
	EXPECT_EQ(err(hex("00000014 01010001 0000000c 01000014 000e0000")), inv);
	/* two key lengths */
	EXPECT_EQ(err(hex("00000018 01010001 00000010 01000014 800e0100 800e0080")), inv);
	/* attribute truncated */
	EXPECT_EQ(err(hex("00000012 01010001 0000000a 01000014 800e")), inv);
	/* IKE SPI size 4, ESP SPI size 0 */
	EXPECT_EQ(err(hex("00000014 01010401 01020304 00000008 01000014")), inv);
	EXPECT_EQ(err(hex("00000010 01030001 00000008 01000014")), inv);
	/* a transform with an unknown attribute is dropped (RFC 7296 section 3.3.6) */
	const auto unk = sa(hex("0000001c 01010002 0300000c 01000014 80ff0001 00000008 02000005"));
	ASSERT_EQ(unk.sa.size(), 1U);
	ASSERT_EQ(unk.sa[0].transforms.size(), 1U);
	EXPECT_EQ(unk.sa[0].transforms[0].type, ike::TransformType::prf);
	/* TLV attributes are skipped by their length */
	const auto tlv = sa(hex("0000001c 01010002 0300000c 01000014 00ff0000 00000008 02000005"));
	EXPECT_EQ(tlv.sa[0].transforms.size(), 1U);
	/* a proposal with an unknown transform type (RFC 9370 ADDKE) is dropped */
	const auto addke = sa(hex("02000010 01010001 00000008 06000023"
				  "00000010 02010001 00000008 02000005"));
	ASSERT_EQ(addke.sa.size(), 1U);
	EXPECT_EQ(addke.sa[0].num, 2);
	/* an empty SA parses (and will be answered with NO_PROPOSAL_CHOSEN) */
	EXPECT_TRUE(sa({}).has_sa);
}

/* ---- the SK payload ---- */

/* RFC 7634 appendix B: an INFORMATIONAL request with SET_WINDOW_SIZE 10
 * protected with ChaCha20-Poly1305 (also strongSwan's test_message_chapoly.c) */
TEST(IkeSk, Rfc7634AppendixB)
{
	const ike::SkKey key{ike::Encr::chacha20_poly1305, ntm::SecretBytes(hex("808182838485868788898a8b8c8d8e8f"
										  "909192939495969798999a9b9c9d9e9f"
										  "a0a1a2a3"))};
	const Bytes expected = hex("c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045"
				   "29000029 1011121314151617"
				   "6103947 01f8d017f 7c12924889"
				   "6b71bfe25236efd7cdc670669063 15b2");
	ike::Header h;
	h.spi_i = 0xc0c1c2c3c4c5c6c7ULL;
	h.spi_r = 0xd0d1d2d3d4d5d6d7ULL;
	h.exchange = ike::Exchange::informational;
	h.flags = 0;
	h.msgid = 9;
	ike::Payloads p;
	p.notifies = {{ike::Protocol::none, {}, static_cast<std::uint16_t>(NotifyType::set_window_size), hex("0000000a")}};
	EXPECT_EQ(ike::encode_encrypted(h, p, key, 0x1011121314151617ULL), expected);

	ike::Header got;
	const auto q = ike::parse_encrypted(expected, key, got);
	EXPECT_EQ(got.exchange, ike::Exchange::informational);
	EXPECT_EQ(got.msgid, 9U);
	ASSERT_EQ(q.notifies.size(), 1U);
	EXPECT_EQ(q.notifies[0].type, 16385);
	EXPECT_EQ(q.notifies[0].data, hex("0000000a"));
}

/* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 4
 * (AES-128) and 16 (AES-256): IV cafebabe|facedbaddecaf888 = salt | IV */
TEST(IkeSk, GcmSpecVectors)
{
	const Bytes pt = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
			     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
	const Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
	const Bytes iv = hex("facedbaddecaf888");
	const ike::SkKey k128{ike::Encr::aes_gcm_16, ntm::SecretBytes(hex("feffe9928665731c6d6a8f9467308308 cafebabe"))};
	const Bytes c128 = hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
			       "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
			       "5bc94fbc3221a5db94fae95ae7121a47");
	EXPECT_EQ(ike::sk_seal(k128, iv, aad, pt), c128);
	const auto o128 = ike::sk_open(k128, iv, aad, c128);
	ASSERT_TRUE(o128);
	EXPECT_EQ(Bytes(o128->data(), o128->data() + o128->size()), pt);

	const ike::SkKey k256{ike::Encr::aes_gcm_16,
			      ntm::SecretBytes(hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
						   "cafebabe"))};
	const Bytes c256 = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
			       "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
			       "76fc6ece0f4e1768cddf8853bb2d551b");
	EXPECT_EQ(ike::sk_seal(k256, iv, aad, pt), c256);
	EXPECT_TRUE(ike::sk_open(k256, iv, aad, c256));

	/* tampering with anything fails */
	Bytes bad = c256;
	bad.back() ^= 1;
	EXPECT_FALSE(ike::sk_open(k256, iv, aad, bad));
	bad = c256;
	bad[0] ^= 1;
	EXPECT_FALSE(ike::sk_open(k256, iv, aad, bad));
	Bytes bad_aad = aad;
	bad_aad[0] ^= 1;
	EXPECT_FALSE(ike::sk_open(k256, iv, bad_aad, c256));
	EXPECT_FALSE(ike::sk_open(k256, iv, aad, ike::ByteView(c256).first(15)));
	EXPECT_THROW(ike::sk_open(k256, hex("00"), aad, c256), std::invalid_argument);
}

/* RFC 8439 section 2.8.2: nonce 07000000 | 4041424344454647 = salt | IV */
TEST(IkeSk, Rfc8439Aead)
{
	const std::string_view text = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
				      "for the future, sunscreen would be it.";
	const Bytes pt(text.begin(), text.end());
	const ike::SkKey key{ike::Encr::chacha20_poly1305,
			     ntm::SecretBytes(hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
						  "07000000"))};
	const Bytes out = ike::sk_seal(key, hex("4041424344454647"), hex("50515253c0c1c2c3c4c5c6c7"), pt);
	EXPECT_EQ(out, hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
			   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
			   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
			   "3ff4def08e4b7a9de576d26586cec64b6116"
			   "1ae10b594f09e26a7e902ecbd0600691"));
}

TEST(IkeSk, IntegrityFailuresAreSilent)
{
	const ike::SkKey key = gcm_key();
	ike::Payloads p;
	p.nonce = kNonce;
	const Bytes m = ike::encode_encrypted(header(ike::Exchange::ike_auth), p, key, 5);
	ike::Header h;
	EXPECT_EQ(ike::parse_encrypted(m, key, h).nonce, kNonce);
	/* tampered ICV, ciphertext, IV, header (AAD), SK header (AAD) */
	for (const std::size_t at : {m.size() - 1, m.size() - 20, std::size_t{35}, std::size_t{20}, std::size_t{29}}) {
		Bytes bad = m;
		bad[at] ^= 0x01;
		EXPECT_EQ(encrypted_error(key, bad), std::nullopt) << at;
	}
	/* wrong key, other direction's key */
	EXPECT_EQ(encrypted_error(gcm_key(32), m), std::nullopt);
	ike::SkKey other = gcm_key();
	other.key.data()[0] ^= 1;
	EXPECT_EQ(encrypted_error(other, m), std::nullopt);
	/* SK not last: a byte after it (header length adjusted) */
	Bytes trailing = m;
	trailing.push_back(0);
	trailing[27] = static_cast<std::uint8_t>(trailing.size());
	EXPECT_EQ(encrypted_error(key, trailing), std::nullopt);
	/* SK too short for IV and ICV */
	const Bytes tiny = raw_message(PayloadType::sk, payload(PayloadType::none, seq(20, 0)));
	EXPECT_EQ(encrypted_error(key, tiny), std::nullopt);
	/* first payload not SK: INVALID_SYNTAX; a broken header keeps its notify */
	const Bytes plain = ike::encode_plain(header(), p);
	EXPECT_EQ(encrypted_error(key, plain), NotifyType::invalid_syntax);
	Bytes v3 = m;
	v3[17] = 0x30;
	EXPECT_EQ(encrypted_error(key, v3), NotifyType::invalid_major_version);
}

TEST(IkeSk, InnerErrorsAfterAuthentication)
{
	const ike::SkKey key = gcm_key();
	ike::Header h;
	/* padding is allowed and removed */
	const Bytes padded = cat({payload(PayloadType::none, kNonce), Bytes{9, 9, 9, 3}});
	EXPECT_EQ(ike::parse_encrypted(sk_message(key, PayloadType::nonce, padded), key, h).nonce, kNonce);
	/* pad length past the plaintext */
	const Bytes badpad = cat({payload(PayloadType::none, kNonce), Bytes{200}});
	EXPECT_EQ(encrypted_error(key, sk_message(key, PayloadType::nonce, badpad)), NotifyType::invalid_syntax);
	/* a broken inner chain is INVALID_SYNTAX */
	Bytes inner = payload(PayloadType::none, kNonce);
	inner[3] = 2;
	inner.push_back(0);
	EXPECT_EQ(encrypted_error(key, sk_message(key, PayloadType::nonce, inner)), NotifyType::invalid_syntax);
	/* unknown critical inner payload */
	const Bytes crit = cat({payload(PayloadType::none, Bytes{1}, 0x80), Bytes{0}});
	EXPECT_EQ(encrypted_error(key, sk_message(key, static_cast<PayloadType>(99), crit)),
		  NotifyType::unsupported_critical_payload);
	/* nested SK */
	const Bytes nested = cat({payload(PayloadType::none, seq(40, 0)), Bytes{0}});
	EXPECT_EQ(encrypted_error(key, sk_message(key, PayloadType::sk, nested)), NotifyType::invalid_syntax);
	/* CP and EAP are noted */
	const Bytes cp = cat({payload(PayloadType::eap, hex("01000000")), payload(PayloadType::none, hex("01020004")),
			      Bytes{0}});
	const auto p = ike::parse_encrypted(sk_message(key, PayloadType::cp, cp), key, h);
	EXPECT_TRUE(p.has_cp);
	EXPECT_TRUE(p.has_eap);
}

/* ---- interop ---- */

namespace {

/* An IKE_SA_INIT request laid out as strongSwan 5.9 sends one (SA with two
 * IKE proposals, KE group 19 with the RFC 5903 initiator value, Nonce,
 * NAT_DETECTION_SOURCE/DESTINATION_IP, IKEV2_FRAGMENTATION_SUPPORTED,
 * SIGNATURE_HASH_ALGORITHMS, REDIRECT_SUPPORTED, a Vendor ID), built with
 * scapy 2.5's scapy.contrib.ikev2 (IKEv2 / IKEv2_payload_SA / ... , raw()),
 * independently of this codec. */
Bytes scapy_ike_sa_init()
{
	return hex(
		"1a2b3c4d5e6f7081000000000000000021202208000000000000014c2200005802000034010100050300000c01000014"
		"800e0100030000080200000503000008020000070300000804000013000000080400001f000000200201000303000008"
		"0100001c0300000802000005000000080400001f2800004800130000dad0b65394221cf9b051e1feca5787d098dfe637"
		"fc90b9ef945d0c37725811805271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb329000024"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f2900001c00004004000102030405060708"
		"090a0b0c0d0e0f101112132900001c000040051415161718191a1b1c1d1e1f2021222324252627290000080000402e2900"
		"00100000402f00020003000400052b0000080000401600000014882fe56d6fd20dbc2251613b2ebe5beb");
}

} // namespace

TEST(IkeInterop, ScapyIkeSaInit)
{
	const Bytes m = scapy_ike_sa_init();
	ASSERT_EQ(m.size(), 332U);
	ike::Header h;
	const auto p = ike::parse_plain(m, h);
	EXPECT_EQ(h.spi_i, 0x1a2b3c4d5e6f7081ULL);
	EXPECT_EQ(h.spi_r, 0U);
	EXPECT_EQ(h.exchange, ike::Exchange::ike_sa_init);
	EXPECT_TRUE(h.from_initiator());
	EXPECT_FALSE(h.is_response());
	ASSERT_EQ(p.sa.size(), 2U);
	using TT = ike::TransformType;
	EXPECT_EQ(p.sa[0], (ike::Proposal{1, ike::Protocol::ike, {},
					  {{TT::encr, 20, 256}, {TT::prf, 5, {}}, {TT::prf, 7, {}}, {TT::dh, 19, {}},
					   {TT::dh, 31, {}}}}));
	EXPECT_EQ(p.sa[1],
		  (ike::Proposal{2, ike::Protocol::ike, {}, {{TT::encr, 28, {}}, {TT::prf, 5, {}}, {TT::dh, 31, {}}}}));
	ASSERT_TRUE(p.ke);
	EXPECT_EQ(p.ke->group, ike::DhGroup::ecp256);
	EXPECT_EQ(p.ke->data.size(), 64U);
	EXPECT_EQ(p.nonce, seq(32, 0x20));
	ASSERT_EQ(p.notifies.size(), 5U);
	ASSERT_NE(p.find(NotifyType::nat_detection_source_ip), nullptr);
	EXPECT_EQ(p.find(NotifyType::nat_detection_source_ip)->data, seq(20, 0));
	EXPECT_EQ(p.find(NotifyType::nat_detection_destination_ip)->data, seq(20, 20));
	EXPECT_EQ(p.find(NotifyType::signature_hash_algorithms)->data, hex("0002000300040005"));
	EXPECT_NE(p.find(NotifyType::ikev2_fragmentation_supported), nullptr);
	EXPECT_NE(p.find(NotifyType::redirect_supported), nullptr);
	EXPECT_EQ(p.first_error(), nullptr);
	EXPECT_EQ(p.vendor_ids, std::vector<Bytes>{hex("882fe56d6fd20dbc2251613b2ebe5beb")});
	/* our encoder writes the same payload order for this set: same bytes */
	EXPECT_EQ(ike::encode_plain(h, p), m);
}

/* ---- helpers ---- */

TEST(IkeNames, Names)
{
	EXPECT_EQ(ike::exchange_name(34), "IKE_SA_INIT");
	EXPECT_EQ(ike::exchange_name(37), "INFORMATIONAL");
	EXPECT_EQ(ike::exchange_name(99), "EXCHANGE(99)");
	EXPECT_EQ(ike::notify_name(14), "NO_PROPOSAL_CHOSEN");
	EXPECT_EQ(ike::notify_name(16388), "NAT_DETECTION_SOURCE_IP");
	EXPECT_EQ(ike::notify_name(12345), "NOTIFY(12345)");
	EXPECT_EQ(ike::transform_name(ike::TransformType::encr, 20, 256), "AES_GCM_16_256");
	EXPECT_EQ(ike::transform_name(ike::TransformType::encr, 28), "CHACHA20_POLY1305");
	EXPECT_EQ(ike::transform_name(ike::TransformType::prf, 5), "PRF_HMAC_SHA2_256");
	EXPECT_EQ(ike::transform_name(ike::TransformType::dh, 19), "ECP_256");
	EXPECT_EQ(ike::transform_name(ike::TransformType::dh, 31), "CURVE_25519");
	EXPECT_EQ(ike::transform_name(ike::TransformType::esn, 0), "NO_ESN");
	EXPECT_EQ(ike::transform_name(ike::TransformType::dh, 999), "DH(999)");
}

TEST(IkeIdentity, BodyAndText)
{
	const ike::Identity fqdn{ike::IdType::fqdn, Bytes{'h', 'o', 's', 't'}};
	EXPECT_EQ(fqdn.body(), hex("02000000 686f7374"));
	EXPECT_EQ(fqdn.to_string(), "fqdn:host");
	EXPECT_EQ((ike::Identity{ike::IdType::ipv4_addr, Bytes{192, 0, 2, 1}}).to_string(), "ipv4:192.0.2.1");
	EXPECT_EQ((ike::Identity{ike::IdType::ipv6_addr, hex("20010db8000000000000000000000001")}).to_string(),
		  "ipv6:2001:db8::1");
	EXPECT_EQ((ike::Identity{ike::IdType::der_asn1_dn, hex("3000")}).to_string(), "dn:3000");
	EXPECT_EQ((ike::Identity{ike::IdType::key_id, hex("abcd")}).to_string(), "keyid:abcd");
	EXPECT_EQ((ike::Identity{ike::IdType::rfc822_addr, Bytes{'a', '@', 'b'}}).to_string(), "email:a@b");
	EXPECT_EQ((ike::Identity{ike::IdType::fqdn, Bytes{'a', '\n'}}).to_string(), "fqdn:a\\x0a");
	EXPECT_EQ((ike::Identity{static_cast<ike::IdType>(12), Bytes{1}}).to_string(), "id12:01");
}

TEST(IkeTrafficSelector, Prefixes)
{
	const auto v4 = ike::TrafficSelector::from_prefix(ip("10.1.2.3"), 16);
	EXPECT_EQ(v4.type, ike::TsType::ipv4_range);
	EXPECT_EQ(v4.start, ip("10.1.0.0"));
	EXPECT_EQ(v4.end, ip("10.1.255.255"));
	EXPECT_EQ(v4.prefix_len(), 16U);
	EXPECT_EQ(v4.to_string(), "10.1.0.0/16");
	EXPECT_EQ(ike::TrafficSelector::from_prefix(ip("10.1.2.3"), 32).prefix_len(), 32U);
	EXPECT_EQ(ike::TrafficSelector::from_prefix(ip("10.1.2.3"), 0).prefix_len(), 0U);
	EXPECT_EQ(ike::TrafficSelector::from_prefix(ip("10.1.2.3"), 27).to_string(), "10.1.2.0/27");
	EXPECT_THROW(ike::TrafficSelector::from_prefix(ip("10.1.2.3"), 33), std::invalid_argument);
	EXPECT_THROW(ike::TrafficSelector::from_prefix(ntm::IpAddress(), 0), std::invalid_argument);
	const auto any4 = ike::TrafficSelector::any(AF_INET);
	EXPECT_EQ(any4.to_string(), "0.0.0.0/0");
	EXPECT_EQ(any4, ike::TrafficSelector::from_prefix(ip("1.2.3.4"), 0));
	const auto any6 = ike::TrafficSelector::any(AF_INET6);
	EXPECT_EQ(any6.type, ike::TsType::ipv6_range);
	EXPECT_EQ(any6.prefix_len(), 0U);
	EXPECT_EQ(any6.to_string(), "::/0");
	EXPECT_THROW(ike::TrafficSelector::any(AF_UNIX), std::invalid_argument);
	const auto v6 = ike::TrafficSelector::from_prefix(ip("2001:db8:1:2:3::1"), 64);
	EXPECT_EQ(v6.start, ip("2001:db8:1:2::"));
	EXPECT_EQ(v6.end, ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
	EXPECT_EQ(v6.prefix_len(), 64U);
	EXPECT_EQ(ike::TrafficSelector::from_prefix(ip("2001:db8::1"), 128).prefix_len(), 128U);
	EXPECT_EQ(ike::TrafficSelector::from_prefix(ip("2001:db8::1"), 71).prefix_len(), 71U);

	/* ranges that are not one prefix */
	ike::TrafficSelector r = v4;
	r.start = ip("10.1.0.5");
	r.end = ip("10.1.0.9");
	EXPECT_EQ(r.prefix_len(), std::nullopt);
	EXPECT_EQ(r.to_string(), "10.1.0.5-10.1.0.9");
	r.start = ip("10.1.0.1");
	r.end = ip("10.1.0.2");
	EXPECT_EQ(r.prefix_len(), std::nullopt);
	r.start = ip("10.1.0.4");
	r.end = ip("10.1.0.3");
	EXPECT_EQ(r.prefix_len(), std::nullopt);
	r.end = ip("2001:db8::1");
	EXPECT_EQ(r.prefix_len(), std::nullopt);

	/* protocol and ports */
	ike::TrafficSelector t = v4;
	t.ip_proto = 6;
	EXPECT_EQ(t.to_string(), "10.1.0.0/16[tcp]");
	t.start_port = 80;
	t.end_port = 80;
	EXPECT_EQ(t.to_string(), "10.1.0.0/16[tcp/80]");
	t.ip_proto = 17;
	t.end_port = 90;
	EXPECT_EQ(t.to_string(), "10.1.0.0/16[udp/80-90]");
	t.ip_proto = 0;
	EXPECT_EQ(t.to_string(), "10.1.0.0/16[any/80-90]");
	t.start_port = 0xffff;
	t.end_port = 0;
	EXPECT_EQ(t.to_string(), "10.1.0.0/16[any/opaque]");
}

TEST(IkePayloads, FindAndFirstError)
{
	ike::Payloads p;
	EXPECT_EQ(p.find(NotifyType::cookie), nullptr);
	EXPECT_EQ(p.first_error(), nullptr);
	p.notifies = {{ike::Protocol::none, {}, 16388, {}}, {ike::Protocol::none, {}, 14, {}},
		      {ike::Protocol::none, {}, 24, {}}, {ike::Protocol::none, {}, 16388, {1}}};
	ASSERT_NE(p.find(NotifyType::nat_detection_source_ip), nullptr);
	EXPECT_TRUE(p.find(NotifyType::nat_detection_source_ip)->data.empty());
	ASSERT_NE(p.first_error(), nullptr);
	EXPECT_EQ(p.first_error()->type, 14);
	EXPECT_TRUE(p.first_error()->is_error());
	EXPECT_FALSE(p.notifies[0].is_error());
}

TEST(IkeSpi, EspHelpers)
{
	EXPECT_EQ(ike::esp_spi_bytes(0xc0ffee01), hex("c0ffee01"));
	EXPECT_EQ(ike::esp_spi_value(hex("c0ffee01")), 0xc0ffee01U);
	EXPECT_EQ(ike::esp_spi_value(hex("c0ffee")), std::nullopt);
	EXPECT_EQ(ike::esp_spi_value(hex("c0ffee0102")), std::nullopt);
}

/* ---- the fuzz corpus ---- */

namespace {

void write_seed(const std::filesystem::path &dir, const std::string &name, std::uint8_t mode, const Bytes &data)
{
	std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
	out.put(static_cast<char>(mode));
	out.write(reinterpret_cast<const char *>(data.data()), // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
		  static_cast<std::streamsize>(data.size()));
	ASSERT_TRUE(out.good()) << name;
}

} // namespace

/*
 * Writes tests/fuzz/corpus/ike/ (format: see tests/fuzz/fuzz_ike.cpp):
 *
 *   NTM_FUZZ_CORPUS=$PWD/tests/fuzz/corpus build/ctld/tests/unit/ntm_unit_tests \
 *	--gtest_also_run_disabled_tests --gtest_filter=IkeCorpus.DISABLED_WriteSeeds
 */
TEST(IkeCorpus, DISABLED_WriteSeeds)
{
	const char *root = std::getenv("NTM_FUZZ_CORPUS");
	ASSERT_NE(root, nullptr) << "set NTM_FUZZ_CORPUS to tests/fuzz/corpus";
	const std::filesystem::path dir = std::filesystem::path(root) / "ike";
	std::filesystem::create_directories(dir);
	/* the harness's fixed keys: mode bit 0x04 selects ChaCha20-Poly1305 */
	const ike::SkKey gcm{ike::Encr::aes_gcm_16, ntm::SecretBytes(seq(20, 0x01))};
	const ike::SkKey chacha{ike::Encr::chacha20_poly1305, ntm::SecretBytes(seq(36, 0x01))};

	const ike::Payloads all = everything();
	write_seed(dir, "plain-everything", 0, ike::encode_plain(header(), all));
	ike::Payloads init;
	init.has_sa = true;
	init.sa = {all.sa[0]};
	init.ke = all.ke;
	init.nonce = all.nonce;
	init.notifies = {all.notifies[0]};
	write_seed(dir, "plain-ike-sa-init", 0, ike::encode_plain(header(), init));
	write_seed(dir, "plain-scapy-ike-sa-init", 0, scapy_ike_sa_init());
	write_seed(dir, "plain-empty", 0, ike::encode_plain(header(), {}));
	write_seed(dir, "plain-truncated", 0, Bytes(20, 0));
	write_seed(dir, "plain-critical", 0,
		   raw_message(static_cast<PayloadType>(200),
			       cat({payload(PayloadType::none, Bytes{1}, 0x80)})));
	write_seed(dir, "plain-v3", 0, raw_message(PayloadType::none, {}, 0x30));

	write_seed(dir, "sk-gcm-everything", 1, ike::encode_encrypted(header(ike::Exchange::ike_auth), all, gcm, 1));
	write_seed(dir, "sk-chacha-everything", 5,
		   ike::encode_encrypted(header(ike::Exchange::ike_auth), all, chacha, 1));
	write_seed(dir, "sk-gcm-empty", 1, ike::encode_encrypted(header(ike::Exchange::informational), {}, gcm, 2));

	/* mode 2: one byte first payload type | chain */
	PayloadType first = PayloadType::none;
	const Bytes m = ike::encode_plain(header(), all);
	first = ike::parse_header(m).next;
	write_seed(dir, "chain-everything", 2,
		   cat({Bytes{static_cast<std::uint8_t>(first)}, Bytes(m.begin() + 28, m.end())}));
	write_seed(dir, "chain-sa", 2,
		   cat({Bytes{33}, payload(PayloadType::none, hex("0000001c 01010002 0300000c 01000014 80ff0001 "
								  "00000008 02000005"))}));
	write_seed(dir, "chain-ts", 2,
		   cat({Bytes{44}, payload(PayloadType::none, hex("02000000 0a000008 73797374 07000010 0000ffff "
								  "0a000000 0a0000ff"))}));
	/* mode 3: the harness seals the rest: inner first type | plaintext */
	const Bytes ch = Bytes(m.begin() + 28, m.end());
	write_seed(dir, "seal-everything", 3, cat({Bytes{static_cast<std::uint8_t>(first)}, ch, Bytes{0}}));
	write_seed(dir, "seal-padded", 7, cat({Bytes{40}, payload(PayloadType::none, kNonce), Bytes{1, 2, 2}}));
}
