// SPDX-License-Identifier: GPL-2.0
/*
 * The signalling codec of Documentation/protocol/signalling.rst: bodies
 * (round trips, every class of decode error, validate()), the sealed
 * envelope, NOTICEs, the replay window, and the primitives (published
 * vectors of RFC 8439, RFC 5869 and RFC 4231). The tunnel key exchange and
 * its TLVs: test_tunnel_kx.cpp.
 *
 * SigCorpus.DISABLED_WriteSeeds writes the seed corpora of the sig and
 * envelope fuzz harnesses (see tests/fuzz/fuzz_sig.cpp).
 */
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/sig.hpp"

namespace sig = ntm::sig;
using sig::Message;
using sig::MsgType;
using sig::ParseError;
using sig::Status;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes hex(std::string_view h)
{
	Bytes out;
	for (std::size_t i = 0; i + 1 < h.size(); i += 2)
		out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(h.substr(i, 2)), nullptr, 16)));
	return out;
}

Bytes seq_bytes(std::size_t n, std::uint8_t first)
{
	Bytes b(n);
	for (std::size_t i = 0; i < n; i++)
		b[i] = static_cast<std::uint8_t>(first + i);
	return b;
}

ntm::SecretBytes key_of(std::uint8_t first)
{
	return ntm::SecretBytes(seq_bytes(sig::kKeyLen, first));
}

ntm::IpAddress ip(const char *text)
{
	std::array<std::uint8_t, 16> b{};
	if (inet_pton(AF_INET, text, b.data()) == 1)
		return *ntm::IpAddress::from_bytes(std::span(b).first(4));
	EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
	return *ntm::IpAddress::from_bytes(b);
}

ntm::Endpoint ep(const char *addr, std::uint16_t port)
{
	return {ip(addr), port};
}

const ntm::SecretText kPassword{'s', 'e', 'c', 'r', 'e', 't', ' ', 'p', 'w'};

/* A message of type t with every TLV its direction carries (spec, Messages). */
Message full_message(MsgType t, bool response)
{
	Message m;
	m.type = t;
	m.response = response;
	m.txid = 0x01020304U + static_cast<std::uint32_t>(t);
	if (response)
		m.status = Status::ok;
	const bool route = (t == MsgType::direction && response) || (t == MsgType::route_direction && !response);
	if (route) {
		m.action = sig::Action::open;
		m.comm_id = 0xc0ffee;
		m.k_tun = key_of(0x20);
		m.k_tmp = key_of(0x40);
		m.cipher = NTM_CIPHER_CHACHA20_POLY1305;
		m.peer_fqdn = "bob.example.net";
		m.peer_ep = ep("198.51.100.7", 7480);
		m.peer_vip4 = ip("10.77.0.9");
		m.peer_vip6 = ip("fd00:77::9");
		return m;
	}
	switch (t) {
	case MsgType::login:
		if (response) {
			m.key_id = 77;
			m.key = key_of(1);
			m.lifetime = 86400;
			m.fqdn = "alice.example.com";
		} else {
			m.account = "alice@example.com";
			m.password = kPassword;
		}
		break;
	case MsgType::key_distribution:
		if (!response) {
			m.key_id = 77;
			m.key = key_of(1);
			m.lifetime = 86400;
			m.fqdn = "alice.example.com";
		}
		break;
	case MsgType::registration:
		if (response) {
			m.vip4 = ip("10.77.0.5");
			m.vip6 = ip("fd00:77::5");
			m.pool4 = sig::Prefix{ip("10.77.0.0"), 16};
			m.pool6 = sig::Prefix{ip("fd00:77::"), 64};
			m.external_ep = ep("203.0.113.1", 40000);
			m.nated = true;
			m.interval = 20;
			m.lifetime = 3600;
		} else {
			m.fqdn = "alice.example.com";
			m.local_eps = {ep("192.168.1.10", 7480), ep("2001:db8::10", 7480)};
			m.ciphers = {NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM};
		}
		break;
	case MsgType::keepalive:
		if (response)
			m.external_ep = ep("2001:db8::1", 65535);
		break;
	case MsgType::direction:
		m.peer_fqdn = "bob.example.net";
		m.ciphers = {NTM_CIPHER_AES_GCM};
		break;
	case MsgType::tunnel:
		m.ephemeral = seq_bytes(sig::kEphemeralLen, response ? 0x70 : 0x60);
		m.auth = seq_bytes(sig::kAuthLen, response ? 0xb0 : 0xc0);
		if (response) {
			m.index = 0x5151;
			m.confirm = seq_bytes(sig::kConfirmLen, 0x90);
		} else {
			m.fqdn = "alice.example.com";
			m.index = 0x4242;
			m.cipher = NTM_CIPHER_AES_GCM;
			m.vip4 = ip("10.77.0.5");
			m.vip6 = ip("fd00:77::5");
			m.generation = 0;
		}
		break;
	case MsgType::key_sharing:
		if (response) {
			m.capacity = 1000;
			m.sessions = 10;
			m.relay_eps = {ep("198.51.100.5", 7480)};
		} else {
			m.fqdn = "dc.example.net";
		}
		break;
	case MsgType::relay_direction:
		if (response) {
			m.relay_eps = {ep("198.51.100.5", 7480), ep("2001:db8::5", 7480)};
		} else {
			m.comm_id = 0xc0ffee;
			m.k_tun = key_of(0x20);
			m.lifetime = 3600;
			m.fqdn = "alice.example.com";
			m.peer_fqdn = "bob.example.net";
			m.external_ep = ep("203.0.113.1", 40000);
			m.peer_ep = ep("203.0.113.2", 7480);
		}
		break;
	case MsgType::relay_release:
		if (!response)
			m.comm_id = 0xc0ffee;
		break;
	case MsgType::relay_bind:
		if (response)
			m.observed_ep = ep("203.0.113.1", 40000);
		else
			m.leg = sig::Leg::opener;
		break;
	case MsgType::probe:
		m.probe_nonce = seq_bytes(sig::kProbeNonceLen, 0x33);
		break;
	case MsgType::route_direction:
	case MsgType::deregistration:
		break;
	}
	return m;
}

/* Every field set at once (decode() does not care which type carries what). */
Message kitchen_sink()
{
	Message m = full_message(MsgType::direction, true);
	m.status = Status::not_found;
	m.error_text = "no node called bob, \xc3\xbc";
	m.account = "alice@example.com";
	m.password = kPassword;
	m.fqdn = "alice.example.com";
	m.key_id = 1;
	m.key = key_of(1);
	m.lifetime = 0xffffffffU;
	m.vip4 = ip("10.77.0.5");
	m.vip6 = ip("fd00:77::5");
	m.pool4 = sig::Prefix{ip("0.0.0.0"), 0};
	m.pool6 = sig::Prefix{ip("fd00:77::ff00"), 120};
	m.local_eps = {ep("192.168.1.10", 1), ep("2001:db8::10", 2), ep("10.0.0.1", 3)};
	m.external_ep = ep("203.0.113.1", 0);
	m.interval = 65535;
	m.ciphers = {1, 2, 1, 2, 1, 2, 1, 2};
	m.index = 0xffffffffU;
	m.confirm = seq_bytes(sig::kConfirmLen, 0xa0);
	m.nated = false;
	m.ephemeral = seq_bytes(sig::kEphemeralLen, 0x11);
	m.auth = seq_bytes(sig::kAuthLen, 0x22);
	m.generation = 0xffffffffU;
	return m;
}

void expect_same(const Message &a, const Message &b)
{
	EXPECT_EQ(a.type, b.type);
	EXPECT_EQ(a.response, b.response);
	EXPECT_EQ(a.txid, b.txid);
	EXPECT_EQ(a.status, b.status);
	EXPECT_EQ(a.error_text, b.error_text);
	EXPECT_EQ(a.account, b.account);
	EXPECT_TRUE(a.password == b.password);
	EXPECT_EQ(a.fqdn, b.fqdn);
	EXPECT_EQ(a.key_id, b.key_id);
	EXPECT_TRUE(a.key == b.key);
	EXPECT_EQ(a.lifetime, b.lifetime);
	EXPECT_EQ(a.peer_fqdn, b.peer_fqdn);
	EXPECT_TRUE(a.vip4 == b.vip4);
	EXPECT_TRUE(a.vip6 == b.vip6);
	EXPECT_TRUE(a.pool4 == b.pool4);
	EXPECT_TRUE(a.pool6 == b.pool6);
	EXPECT_TRUE(a.local_eps == b.local_eps);
	EXPECT_TRUE(a.external_ep == b.external_ep);
	EXPECT_EQ(a.interval, b.interval);
	EXPECT_EQ(a.comm_id, b.comm_id);
	EXPECT_TRUE(a.k_tun == b.k_tun);
	EXPECT_TRUE(a.k_tmp == b.k_tmp);
	EXPECT_EQ(a.action, b.action);
	EXPECT_TRUE(a.peer_ep == b.peer_ep);
	EXPECT_TRUE(a.peer_vip4 == b.peer_vip4);
	EXPECT_TRUE(a.peer_vip6 == b.peer_vip6);
	EXPECT_EQ(a.ciphers, b.ciphers);
	EXPECT_EQ(a.cipher, b.cipher);
	EXPECT_EQ(a.index, b.index);
	EXPECT_EQ(a.confirm, b.confirm);
	EXPECT_EQ(a.nated, b.nated);
	EXPECT_EQ(a.ephemeral, b.ephemeral);
	EXPECT_EQ(a.auth, b.auth);
	EXPECT_EQ(a.generation, b.generation);
}

constexpr std::array kAllTypes{MsgType::login,	   MsgType::key_distribution, MsgType::registration,
			       MsgType::keepalive, MsgType::direction,	      MsgType::route_direction,
			       MsgType::tunnel,	   MsgType::deregistration};

/* A body by hand: header, then TLVs appended with tlv(). */
struct RawBody {
	Bytes b;
	explicit RawBody(std::uint8_t type = 4, std::uint8_t flags = 0, std::uint32_t txid = 0x11223344,
			 std::uint8_t version = 1)
	    : b{version,
		type,
		flags,
		0,
		static_cast<std::uint8_t>(txid >> 24),
		static_cast<std::uint8_t>(txid >> 16),
		static_cast<std::uint8_t>(txid >> 8),
		static_cast<std::uint8_t>(txid)}
	{}
	RawBody &tlv(std::uint16_t type, const Bytes &v) { return tlv_len(type, v, v.size()); }
	RawBody &tlv_len(std::uint16_t type, const Bytes &v, std::size_t len)
	{
		b.push_back(static_cast<std::uint8_t>(type >> 8));
		b.push_back(static_cast<std::uint8_t>(type));
		b.push_back(static_cast<std::uint8_t>(len >> 8));
		b.push_back(static_cast<std::uint8_t>(len));
		b.insert(b.end(), v.begin(), v.end());
		return *this;
	}
	RawBody &text(std::uint16_t type, std::string_view s) { return tlv(type, Bytes(s.begin(), s.end())); }
};

std::uint16_t T(sig::Tlv t)
{
	return static_cast<std::uint16_t>(t);
}

/* Status of the ParseError decode() throws, or ok when it does not throw. */
Status decode_status(const Bytes &b)
{
	try {
		(void)sig::decode(b);
	} catch (const ParseError &e) {
		return e.status();
	}
	return Status::ok;
}

Status validate_status(const Message &m)
{
	try {
		sig::validate(m);
	} catch (const ParseError &e) {
		return e.status();
	}
	return Status::ok;
}

} // namespace

/* ---- bodies ---- */

TEST(SigBody, RoundTripEveryMessageType)
{
	for (const auto t : kAllTypes) {
		for (const bool response : {false, true}) {
			SCOPED_TRACE(sig::message_name(t, response));
			const Message m = full_message(t, response);
			EXPECT_NO_THROW(sig::validate(m));
			const Bytes wire = sig::encode(m);
			ASSERT_GE(wire.size(), sig::kBodyHeaderLen);
			EXPECT_EQ(wire[0], sig::kVersion);
			EXPECT_EQ(wire[1], static_cast<std::uint8_t>(t));
			EXPECT_EQ(wire[2], response ? sig::kFlagResponse : 0);
			const Message back = sig::decode(wire);
			expect_same(m, back);
			EXPECT_NO_THROW(sig::validate(back));
			EXPECT_EQ(sig::encode(back), wire);
		}
	}
}

TEST(SigBody, RoundTripEveryField)
{
	const Message m = kitchen_sink();
	const Bytes wire = sig::encode(m);
	const Message back = sig::decode(wire);
	expect_same(m, back);
	EXPECT_EQ(sig::encode(back), wire);
}

TEST(SigBody, WireLayout)
{
	Message m;
	m.type = MsgType::keepalive;
	m.txid = 0xdeadbeef;
	m.status = Status::fqdn_mismatch;
	m.response = true;
	m.local_eps = {ep("192.0.2.1", 0x1d24)};
	EXPECT_EQ(sig::encode(m), hex("01040100deadbeef"
				      "00010002000e"
				      "000e0007"
				      "04c00002011d24"));
	m.local_eps = {ep("2001:db8::1", 7480)};
	m.status.reset();
	m.response = false;
	EXPECT_EQ(sig::encode(m), hex("01040000deadbeef"
				      "000e0013"
				      "06"
				      "20010db8000000000000000000000001"
				      "1d38"));
}

TEST(SigBody, PeekBody)
{
	EXPECT_FALSE(sig::peek_body(hex("01020304050607")));
	const auto h = sig::peek_body(hex("02091f00cafef00d"));
	ASSERT_TRUE(h);
	EXPECT_EQ(h->version, 2);
	EXPECT_EQ(h->type, 9);
	EXPECT_TRUE(h->response);
	EXPECT_EQ(h->txid, 0xcafef00dU);
}

TEST(SigBody, FlagsAndReservedIgnored)
{
	RawBody r(3, 0xfe, 5);
	r.b[3] = 0xff;
	r.text(T(sig::Tlv::fqdn), "a.b");
	const Message m = sig::decode(r.b);
	EXPECT_FALSE(m.response);
	EXPECT_EQ(m.type, MsgType::registration);
	EXPECT_EQ(m.txid, 5U);
	EXPECT_EQ(m.fqdn, "a.b");
	/* encoded again with the bits zero */
	EXPECT_EQ(sig::encode(m)[2], 0);
	EXPECT_EQ(sig::encode(m)[3], 0);
}

TEST(SigDecode, TruncatedHeader)
{
	EXPECT_EQ(decode_status({}), Status::malformed);
	EXPECT_EQ(decode_status(hex("01040000000001")), Status::malformed);
	EXPECT_EQ(decode_status(hex("0104000000000001")), Status::ok);
}

TEST(SigDecode, BadVersion)
{
	EXPECT_EQ(decode_status(RawBody(4, 0, 1, 2).b), Status::unsupported_version);
	EXPECT_EQ(decode_status(RawBody(4, 0, 1, 0).b), Status::unsupported_version);
	/* version is checked before anything else of the body */
	EXPECT_EQ(decode_status(RawBody(99, 0, 0, 2).tlv_len(1, {}, 40).b), Status::unsupported_version);
}

TEST(SigDecode, HeaderFields)
{
	EXPECT_EQ(decode_status(RawBody(0).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody(14).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody(4, 0, 0).b), Status::malformed) << "txid 0";
	for (const auto t : kAllTypes)
		EXPECT_EQ(decode_status(RawBody(static_cast<std::uint8_t>(t), 1).b), Status::ok);
}

TEST(SigDecode, TlvPastEnd)
{
	EXPECT_EQ(decode_status(RawBody().tlv_len(T(sig::Tlv::lifetime), {0, 0}, 4).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv_len(300, {}, 1).b), Status::malformed);
	/* a partial TLV header */
	auto r = RawBody();
	r.b.insert(r.b.end(), {0, 8, 0});
	EXPECT_EQ(decode_status(r.b), Status::malformed);
	/* values are at most 255 bytes, even unknown ones */
	EXPECT_EQ(decode_status(RawBody().tlv(300, Bytes(256)).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(300, Bytes(255)).b), Status::ok);
}

TEST(SigDecode, WrongFixedLengths)
{
	struct Case {
		sig::Tlv t;
		std::size_t good;
	};
	const std::vector<Case> cases{
		{sig::Tlv::status, 2},	 {sig::Tlv::key_id, 4},	     {sig::Tlv::key, 32},
		{sig::Tlv::lifetime, 4}, {sig::Tlv::vip4, 4},	     {sig::Tlv::vip6, 16},
		{sig::Tlv::pool4, 5},	 {sig::Tlv::pool6, 17},	     {sig::Tlv::interval, 2},
		{sig::Tlv::comm_id, 4},	 {sig::Tlv::k_tun, 32},	     {sig::Tlv::k_tmp, 32},
		{sig::Tlv::action, 1},	 {sig::Tlv::peer_vip4, 4},   {sig::Tlv::peer_vip6, 16},
		{sig::Tlv::cipher, 1},	 {sig::Tlv::index, 4},	     {sig::Tlv::confirm, 32},
		{sig::Tlv::nated, 1},	 {sig::Tlv::ephemeral, 32},  {sig::Tlv::auth, 32},
		{sig::Tlv::generation, 4},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(static_cast<int>(c.t));
		Bytes good(c.good, 0);
		good[0] = 1; /* not 0 for the ids, ACTION 1, CIPHER 1, NATED 1 */
		if (c.t == sig::Tlv::pool4 || c.t == sig::Tlv::pool6)
			good.back() = static_cast<std::uint8_t>((c.good - 1) * 8); /* a host route */
		EXPECT_EQ(decode_status(RawBody().tlv(T(c.t), good).b), Status::ok);
		EXPECT_EQ(decode_status(RawBody().tlv(T(c.t), Bytes(c.good - 1, 1)).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(c.t), Bytes(c.good + 1, 1)).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(c.t), {}).b), Status::malformed);
	}
}

TEST(SigDecode, ValueRanges)
{
	for (const auto t : {sig::Tlv::key_id, sig::Tlv::comm_id, sig::Tlv::index})
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {0, 0, 0, 0}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::action), {3}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::action), {0}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::action), {2}).b), Status::ok);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::nated), {2}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::nated), {0}).b), Status::ok);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::cipher), {0}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::cipher), {3}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::ciphers), {}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::ciphers), {2, 1, 3}).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::ciphers), Bytes(9, 1)).b), Status::malformed);
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::ciphers), Bytes(8, 2)).b), Status::ok);
	/* an unknown status code (of a later version) is kept */
	const auto m = sig::decode(RawBody(4, 1).tlv(T(sig::Tlv::status), {0x12, 0x34}).b);
	EXPECT_EQ(static_cast<std::uint16_t>(*m.status), 0x1234);
	EXPECT_EQ(sig::status_name(*m.status), "UNKNOWN_STATUS");
}

TEST(SigDecode, Text)
{
	for (const auto t : {sig::Tlv::error_text, sig::Tlv::account, sig::Tlv::password}) {
		SCOPED_TRACE(static_cast<int>(t));
		EXPECT_EQ(decode_status(RawBody().text(T(t), "").b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().text(T(t), "caf\xc3\xa9 \xf0\x9f\x94\x91").b), Status::ok);
		EXPECT_EQ(decode_status(RawBody().text(T(t), std::string(255, 'x')).b), Status::ok);
		for (const char *bad : {"\xff", "a\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"})
			EXPECT_EQ(decode_status(RawBody().text(T(t), bad).b), Status::malformed) << bad;
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {'a', 0, 'b'}).b), Status::malformed);
	}
	const auto m = sig::decode(RawBody(1).text(T(sig::Tlv::password), "hunter2").b);
	EXPECT_EQ(std::string(m.password.begin(), m.password.end()), "hunter2");
}

TEST(SigDecode, DuplicateTlv)
{
	const Bytes id{0, 0, 0, 1};
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::key_id), id).tlv(T(sig::Tlv::key_id), id).b),
		  Status::malformed);
	EXPECT_EQ(decode_status(RawBody().text(T(sig::Tlv::fqdn), "a.b").text(T(sig::Tlv::fqdn), "a.b").b),
		  Status::malformed);
	/* a duplicate with the critical bit is still a duplicate */
	EXPECT_EQ(decode_status(RawBody().tlv(T(sig::Tlv::key_id), id).tlv(0x8000 | T(sig::Tlv::key_id), id).b),
		  Status::malformed);
	/* LOCAL_EP repeats, in order */
	const Bytes ep1{4, 192, 0, 2, 1, 0x1d, 0x38};
	const Bytes ep2{4, 192, 0, 2, 2, 0x1d, 0x38};
	const auto m = sig::decode(RawBody().tlv(T(sig::Tlv::local_ep), ep1).tlv(T(sig::Tlv::local_ep), ep2).b);
	ASSERT_EQ(m.local_eps.size(), 2U);
	EXPECT_EQ(m.local_eps[0].to_string(), "192.0.2.1:7480");
	EXPECT_EQ(m.local_eps[1].to_string(), "192.0.2.2:7480");
	/* unknown non-critical TLVs may repeat too */
	EXPECT_EQ(decode_status(RawBody().tlv(999, {1}).tlv(999, {1}).b), Status::ok);
}

TEST(SigDecode, UnknownTlvs)
{
	/* ignored without C, in any place */
	auto r = RawBody(3).tlv(0, {}).tlv(39, {1, 2, 3}).text(T(sig::Tlv::fqdn), "a.example").tlv(0x7fff, Bytes(255));
	const auto m = sig::decode(r.b);
	EXPECT_EQ(m.fqdn, "a.example");
	/* and not encoded again */
	EXPECT_EQ(sig::encode(m), RawBody(3).text(T(sig::Tlv::fqdn), "a.example").b);
	/* rejected with C */
	EXPECT_EQ(decode_status(RawBody().tlv(0x8000 | 39, {}).b), Status::unsupported_tlv);
	EXPECT_EQ(decode_status(RawBody().tlv(0xffff, {1}).b), Status::unsupported_tlv);
	EXPECT_EQ(decode_status(RawBody().tlv(0x8000, {}).b), Status::unsupported_tlv);
	/* a known TLV with C is just known */
	const auto k = sig::decode(RawBody().tlv(0x8000 | T(sig::Tlv::interval), {0, 20}).b);
	EXPECT_EQ(k.interval, 20);
}

TEST(SigDecode, DnsNames)
{
	EXPECT_TRUE(sig::valid_dns_name("alice.example.com"));
	EXPECT_TRUE(sig::valid_dns_name("a"));
	EXPECT_TRUE(sig::valid_dns_name("x-1.0-9"));
	EXPECT_TRUE(sig::valid_dns_name(std::string(63, 'a') + ".b"));
	std::string n253;
	while (n253.size() < 253)
		n253 += n253.empty() ? "a" : ".a";
	ASSERT_EQ(n253.size(), 253U);
	EXPECT_TRUE(sig::valid_dns_name(n253));
	for (const std::string &bad :
	     {std::string(), std::string("Alice.example.com"), std::string("a..b"), std::string("a."),
	      std::string(".a"), std::string("."), std::string("a_b.c"), std::string("a b"), std::string(64, 'a'),
	      n253 + "a", std::string("a\0b", 3), std::string("caf\xc3\xa9")})
		EXPECT_FALSE(sig::valid_dns_name(bad)) << bad;

	for (const auto t : {sig::Tlv::fqdn, sig::Tlv::peer_fqdn}) {
		EXPECT_EQ(decode_status(RawBody().text(T(t), "Bob.example.net").b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().text(T(t), "bob.example.net.").b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().text(T(t), "").b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().text(T(t), "bob.example.net").b), Status::ok);
	}
}

TEST(SigDecode, Endpoints)
{
	for (const auto t : {sig::Tlv::local_ep, sig::Tlv::external_ep, sig::Tlv::peer_ep}) {
		SCOPED_TRACE(static_cast<int>(t));
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {4, 1, 2, 3, 4, 0, 80}).b), Status::ok);
		Bytes v6(19, 0);
		v6[0] = 6;
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), v6).b), Status::ok);
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {5, 1, 2, 3, 4, 0, 80}).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {6, 1, 2, 3, 4, 0, 80}).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {0, 1, 2, 3, 4, 0, 80}).b), Status::malformed);
		v6[0] = 4;
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), v6).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {4, 1, 2, 3, 4, 0}).b), Status::malformed);
		EXPECT_EQ(decode_status(RawBody().tlv(T(t), {4, 1, 2, 3, 4, 0, 80, 0}).b), Status::malformed);
	}
	const auto m = sig::decode(RawBody().tlv(T(sig::Tlv::peer_ep), {4, 198, 51, 100, 7, 0x1d, 0x38}).b);
	EXPECT_EQ(m.peer_ep->to_string(), "198.51.100.7:7480");
}

TEST(SigDecode, Prefixes)
{
	const auto pool4 = [](Bytes v) { return decode_status(RawBody().tlv(T(sig::Tlv::pool4), v).b); };
	const auto pool6 = [](Bytes v) { return decode_status(RawBody().tlv(T(sig::Tlv::pool6), v).b); };
	EXPECT_EQ(pool4({10, 77, 0, 0, 16}), Status::ok);
	EXPECT_EQ(pool4({10, 77, 0, 1, 16}), Status::malformed);
	EXPECT_EQ(pool4({10, 77, 128, 0, 16}), Status::malformed);
	EXPECT_EQ(pool4({10, 77, 128, 0, 17}), Status::ok);
	EXPECT_EQ(pool4({10, 77, 0, 1, 32}), Status::ok);
	EXPECT_EQ(pool4({10, 77, 0, 0, 33}), Status::malformed);
	EXPECT_EQ(pool4({0, 0, 0, 0, 0}), Status::ok);
	EXPECT_EQ(pool4({1, 0, 0, 0, 0}), Status::malformed);
	Bytes v6 = hex("fd000077000000000000000000000000");
	v6.push_back(64);
	EXPECT_EQ(pool6(v6), Status::ok);
	v6[16] = 12;
	EXPECT_EQ(pool6(v6), Status::malformed);
	v6[16] = 128;
	EXPECT_EQ(pool6(v6), Status::ok);
	v6[16] = 129;
	EXPECT_EQ(pool6(v6), Status::malformed);
	v6[16] = 64;
	v6[15] = 1;
	EXPECT_EQ(pool6(v6), Status::malformed);

	const auto m = sig::decode(RawBody().tlv(T(sig::Tlv::pool4), {10, 77, 0, 0, 16}).b);
	EXPECT_EQ(m.pool4->to_string(), "10.77.0.0/16");
	EXPECT_EQ((sig::Prefix{ip("fd00:77::"), 64}.to_string()), "fd00:77::/64");
}

TEST(SigDecode, OversizeBody)
{
	/* a well-formed body of n bytes: unknown TLVs */
	const auto body_of = [](std::size_t n) {
		RawBody r;
		while (r.b.size() + 4 + 255 < n)
			r.tlv(300, Bytes(255, 0));
		r.tlv(300, Bytes(n - r.b.size() - 4, 0));
		return r.b;
	};
	EXPECT_EQ(body_of(sig::kMaxBody).size(), sig::kMaxBody);
	EXPECT_EQ(decode_status(body_of(sig::kMaxBody)), Status::ok);
	EXPECT_EQ(body_of(sig::kMaxBody + 1).size(), sig::kMaxBody + 1);
	EXPECT_EQ(decode_status(body_of(sig::kMaxBody + 1)), Status::malformed);
	EXPECT_EQ(decode_status(body_of(4000)), Status::malformed);
}

TEST(SigEncode, OutOfRangeFields)
{
	const auto bad = [](const std::function<void(Message &)> &f) {
		Message m = full_message(MsgType::registration, false);
		f(m);
		EXPECT_THROW((void)sig::encode(m), std::invalid_argument);
	};
	bad([](Message &m) { m.txid = 0; });
	bad([](Message &m) { m.type = static_cast<MsgType>(14); });
	bad([](Message &m) { m.fqdn = "Alice.example.com"; });
	bad([](Message &m) { m.peer_fqdn = "a..b"; });
	bad([](Message &m) { m.account = std::string(256, 'a'); });
	bad([](Message &m) { m.error_text = "\xff"; });
	bad([](Message &m) { m.password = ntm::SecretText{'a', '\0'}; });
	bad([](Message &m) { m.key = ntm::SecretBytes(Bytes(31)); });
	bad([](Message &m) { m.k_tun = ntm::SecretBytes(Bytes(33)); });
	bad([](Message &m) { m.k_tmp = ntm::SecretBytes(Bytes(1)); });
	bad([](Message &m) { m.key_id = 0; });
	bad([](Message &m) { m.comm_id = 0; });
	bad([](Message &m) { m.index = 0; });
	bad([](Message &m) { m.vip4 = ip("fd00::1"); });
	bad([](Message &m) { m.vip6 = ip("10.0.0.1"); });
	bad([](Message &m) { m.peer_vip4 = ntm::IpAddress(); });
	bad([](Message &m) { m.pool4 = sig::Prefix{ip("10.77.0.1"), 16}; });
	bad([](Message &m) { m.pool4 = sig::Prefix{ip("10.77.0.0"), 33}; });
	bad([](Message &m) { m.pool6 = sig::Prefix{ip("10.77.0.0"), 16}; });
	bad([](Message &m) { m.ciphers = Bytes(9, 1); });
	bad([](Message &m) { m.ciphers = {3}; });
	bad([](Message &m) { m.cipher = 0; });
	bad([](Message &m) { m.action = static_cast<sig::Action>(7); });
	bad([](Message &m) { m.confirm = Bytes(33); });
	bad([](Message &m) { m.ephemeral = Bytes(31); });
	bad([](Message &m) { m.auth = Bytes(33); });
	bad([](Message &m) { m.local_eps.assign(100, ep("2001:db8::1", 1)); }); /* > kMaxBody */
	/* the largest body fits */
	Message m;
	m.txid = 1;
	m.local_eps.assign((sig::kMaxBody - sig::kBodyHeaderLen) / (4 + 19), ep("2001:db8::1", 1));
	EXPECT_LE(sig::encode(m).size(), sig::kMaxBody);
}

/* ---- validate() ---- */

TEST(SigValidate, RequiredTlvs)
{
	struct Case {
		MsgType t;
		bool response;
		std::function<void(Message &)> drop;
	};
	const std::vector<Case> cases{
		{MsgType::login, false, [](Message &m) { m.password.clear(); }},
		{MsgType::login, false, [](Message &m) { m.account.clear(); }},
		{MsgType::login, true, [](Message &m) { m.key_id.reset(); }},
		{MsgType::login, true, [](Message &m) { m.key.clear(); }},
		{MsgType::login, true, [](Message &m) { m.lifetime.reset(); }},
		{MsgType::login, true, [](Message &m) { m.fqdn.clear(); }},
		{MsgType::login, true, [](Message &m) { m.status.reset(); }},
		{MsgType::key_distribution, false, [](Message &m) { m.key_id.reset(); }},
		{MsgType::key_distribution, false, [](Message &m) { m.key.clear(); }},
		{MsgType::key_distribution, false, [](Message &m) { m.lifetime.reset(); }},
		{MsgType::key_distribution, false, [](Message &m) { m.fqdn.clear(); }},
		{MsgType::key_distribution, true, [](Message &m) { m.status.reset(); }},
		{MsgType::registration, false, [](Message &m) { m.fqdn.clear(); }},
		{MsgType::registration, true,
		 [](Message &m) {
			 m.vip4.reset();
			 m.vip6.reset();
		 }},
		{MsgType::registration, true,
		 [](Message &m) {
			 m.pool4.reset();
			 m.pool6.reset();
		 }},
		{MsgType::registration, true, [](Message &m) { m.external_ep.reset(); }},
		{MsgType::registration, true, [](Message &m) { m.nated.reset(); }},
		{MsgType::registration, true, [](Message &m) { m.interval.reset(); }},
		{MsgType::registration, true, [](Message &m) { m.lifetime.reset(); }},
		{MsgType::keepalive, true, [](Message &m) { m.status.reset(); }},
		{MsgType::direction, false, [](Message &m) { m.peer_fqdn.clear(); }},
		{MsgType::direction, false, [](Message &m) { m.peer_vip4 = ip("10.77.0.9"); }},
		{MsgType::direction, false, [](Message &m) { m.peer_vip6 = ip("fd00:77::9"); }},
		{MsgType::direction, true, [](Message &m) { m.action.reset(); }},
		{MsgType::direction, true, [](Message &m) { m.comm_id.reset(); }},
		{MsgType::direction, true, [](Message &m) { m.k_tun.clear(); }},
		{MsgType::direction, true, [](Message &m) { m.k_tmp.clear(); }},
		{MsgType::direction, true, [](Message &m) { m.cipher.reset(); }},
		{MsgType::direction, true, [](Message &m) { m.peer_fqdn.clear(); }},
		{MsgType::direction, true, [](Message &m) { m.peer_ep.reset(); }},
		{MsgType::direction, true,
		 [](Message &m) {
			 m.peer_vip4.reset();
			 m.peer_vip6.reset();
		 }},
		{MsgType::route_direction, false, [](Message &m) { m.action.reset(); }},
		{MsgType::route_direction, false, [](Message &m) { m.comm_id.reset(); }},
		{MsgType::route_direction, false, [](Message &m) { m.k_tun.clear(); }},
		{MsgType::route_direction, false, [](Message &m) { m.k_tmp.clear(); }},
		{MsgType::route_direction, false, [](Message &m) { m.cipher.reset(); }},
		{MsgType::route_direction, false, [](Message &m) { m.peer_fqdn.clear(); }},
		{MsgType::route_direction, false, [](Message &m) { m.peer_ep.reset(); }},
		{MsgType::route_direction, false,
		 [](Message &m) {
			 m.peer_vip4.reset();
			 m.peer_vip6.reset();
		 }},
		{MsgType::route_direction, true, [](Message &m) { m.status.reset(); }},
		{MsgType::tunnel, false, [](Message &m) { m.fqdn.clear(); }},
		{MsgType::tunnel, false, [](Message &m) { m.index.reset(); }},
		{MsgType::tunnel, false, [](Message &m) { m.cipher.reset(); }},
		{MsgType::tunnel, false, [](Message &m) { m.ephemeral.clear(); }},
		{MsgType::tunnel, false, [](Message &m) { m.auth.clear(); }},
		{MsgType::tunnel, false, [](Message &m) { m.generation.reset(); }},
		{MsgType::tunnel, false,
		 [](Message &m) {
			 m.vip4.reset();
			 m.vip6.reset();
		 }},
		{MsgType::tunnel, true, [](Message &m) { m.index.reset(); }},
		{MsgType::tunnel, true, [](Message &m) { m.confirm.clear(); }},
		{MsgType::tunnel, true, [](Message &m) { m.ephemeral.clear(); }},
		{MsgType::tunnel, true, [](Message &m) { m.auth.clear(); }},
		{MsgType::deregistration, true, [](Message &m) { m.status.reset(); }},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(sig::message_name(c.t, c.response));
		Message m = full_message(c.t, c.response);
		EXPECT_EQ(validate_status(m), Status::ok);
		c.drop(m);
		EXPECT_EQ(validate_status(m), Status::malformed);
		/* the same through the wire */
		EXPECT_EQ(validate_status(sig::decode(sig::encode(m))), Status::malformed);
	}
}

TEST(SigValidate, OptionalAndAlternatives)
{
	/* public-key mode: a login request with neither ACCOUNT nor PASSWORD */
	Message login = full_message(MsgType::login, false);
	login.account.clear();
	login.password.clear();
	EXPECT_EQ(validate_status(login), Status::ok);
	/* VIP4 or VIP6 suffices */
	Message reg = full_message(MsgType::registration, true);
	reg.vip6.reset();
	reg.pool4.reset();
	EXPECT_EQ(validate_status(reg), Status::ok);
	/* only the optional TLVs missing */
	Message regreq = full_message(MsgType::registration, false);
	regreq.local_eps.clear();
	regreq.ciphers.clear();
	EXPECT_EQ(validate_status(regreq), Status::ok);
	Message ka = full_message(MsgType::keepalive, true);
	ka.external_ep.reset();
	EXPECT_EQ(validate_status(ka), Status::ok);
	/* a direction request by virtual address */
	Message dir = full_message(MsgType::direction, false);
	dir.peer_fqdn.clear();
	dir.peer_vip6 = ip("fd00:77::9");
	EXPECT_EQ(validate_status(dir), Status::ok);
	Message bad;
	bad.type = static_cast<MsgType>(0);
	EXPECT_EQ(validate_status(bad), Status::malformed);
}

TEST(SigValidate, ErrorResponsesNeedOnlyStatus)
{
	for (const auto t : kAllTypes) {
		SCOPED_TRACE(sig::message_name(t, true));
		Message req = full_message(t, false);
		const Message r = sig::make_response(req, Status::peer_offline, "bob is offline");
		EXPECT_EQ(validate_status(r), Status::ok);
		const Message back = sig::decode(sig::encode(r));
		EXPECT_TRUE(back.response);
		EXPECT_EQ(back.type, t);
		EXPECT_EQ(back.txid, req.txid);
		EXPECT_EQ(back.status, Status::peer_offline);
		EXPECT_EQ(back.error_text, "bob is offline");
		EXPECT_EQ(validate_status(back), Status::ok);
	}
	/* an OK response without its TLVs is not */
	const Message ok = sig::make_response(full_message(MsgType::tunnel, false), Status::ok);
	EXPECT_EQ(validate_status(ok), Status::malformed);
	EXPECT_TRUE(ok.error_text.empty());
}

/* ---- names ---- */

TEST(SigNames, Messages)
{
	const std::pair<MsgType, std::array<const char *, 2>> names[] = {
		{MsgType::login, {"login request", "login response"}},
		{MsgType::key_distribution, {"key distribution", "ntm ack"}},
		{MsgType::registration, {"registration request", "registration response"}},
		{MsgType::keepalive, {"keepalive", "keepalive ack"}},
		{MsgType::direction, {"direction request", "route direction"}},
		{MsgType::route_direction, {"route direction", "route direction ack"}},
		{MsgType::tunnel, {"tunnel request", "tunnel response"}},
		{MsgType::deregistration, {"deregistration", "deregistration ack"}},
	};
	for (const auto &[t, n] : names) {
		EXPECT_EQ(sig::message_name(t, false), n[0]);
		EXPECT_EQ(sig::message_name(t, true), n[1]);
		EXPECT_FALSE(sig::msg_type_name(t).empty());
		EXPECT_NE(sig::msg_type_name(t), "unknown");
	}
	EXPECT_EQ(sig::msg_type_name(MsgType::key_distribution), "key distribution");
	EXPECT_EQ(sig::msg_type_name(static_cast<MsgType>(42)), "unknown");
	EXPECT_EQ(sig::message_name(static_cast<MsgType>(42), true), "message type 42 response");
}

TEST(SigNames, Statuses)
{
	EXPECT_EQ(sig::status_name(Status::ok), "OK");
	EXPECT_EQ(sig::status_name(Status::unsupported_version), "UNSUPPORTED_VERSION");
	EXPECT_EQ(sig::status_name(Status::fqdn_mismatch), "FQDN_MISMATCH");
	std::set<std::string_view> seen;
	EXPECT_EQ(sig::status_name(Status::key_id_in_use), "KEY_ID_IN_USE");
	for (std::uint16_t s = 0; s <= 15; s++)
		EXPECT_TRUE(seen.insert(sig::status_name(static_cast<Status>(s))).second) << s;
	EXPECT_EQ(sig::status_name(static_cast<Status>(16)), "UNKNOWN_STATUS");
}

/* ---- envelope ---- */

namespace {

const Bytes kEnvKey = seq_bytes(32, 0x11);

Bytes sealed_sample(sig::Kind kind = sig::Kind::dc, sig::Direction dir = sig::Direction::node)
{
	const Bytes body = sig::encode(full_message(MsgType::registration, false));
	return sig::seal({kind, 0x01020304, 0x0000000500000006ULL}, dir, kEnvKey, body);
}

} // namespace

TEST(SigEnvelope, SealOpenRoundTrip)
{
	const Bytes body = sig::encode(full_message(MsgType::registration, false));
	for (const auto kind : {sig::Kind::dc, sig::Kind::tun}) {
		for (const auto dir :
		     {sig::Direction::node, sig::Direction::dc, sig::Direction::opener, sig::Direction::waiter}) {
			const Bytes d = sig::seal({kind, 0xa1b2c3d4, 42}, dir, kEnvKey, body);
			ASSERT_EQ(d.size(), sig::kEnvelopeHeaderLen + body.size() + sig::kTagLen);
			const auto h = sig::peek_header(d);
			ASSERT_TRUE(h);
			EXPECT_EQ(h->kind, kind);
			EXPECT_EQ(h->key_id, 0xa1b2c3d4U);
			EXPECT_EQ(h->seq, 42U);
			const auto opened = sig::open(d, dir, kEnvKey);
			ASSERT_TRUE(opened);
			EXPECT_EQ(*opened, body);
		}
	}
	/* header layout: be32 kind, be32 key id, be64 seq */
	const Bytes d = sealed_sample();
	EXPECT_EQ(Bytes(d.begin(), d.begin() + 16), hex("00000010010203040000000500000006"));
	/* an empty body is fine */
	const Bytes e = sig::seal({sig::Kind::tun, 7, 1}, sig::Direction::waiter, kEnvKey, {});
	ASSERT_EQ(e.size(), 32U);
	const auto eo = sig::open(e, sig::Direction::waiter, kEnvKey);
	ASSERT_TRUE(eo);
	EXPECT_TRUE(eo->empty());
}

TEST(SigEnvelope, NonceAndAad)
{
	/* the envelope is aead_seal with nonce = be32 direction | be64 seq and AAD = header */
	const Bytes body = {1, 2, 3};
	const Bytes d = sig::seal({sig::Kind::tun, 9, 0x0102030405060708ULL}, sig::Direction::opener, kEnvKey, body);
	const Bytes nonce = hex("000000030102030405060708");
	const Bytes aad(d.begin(), d.begin() + 16);
	EXPECT_EQ(Bytes(d.begin() + 16, d.end()), sig::aead_seal(kEnvKey, nonce, aad, body));
}

TEST(SigEnvelope, Rejections)
{
	const Bytes d = sealed_sample();
	ASSERT_TRUE(sig::open(d, sig::Direction::node, kEnvKey));
	/* wrong key, wrong direction */
	EXPECT_FALSE(sig::open(d, sig::Direction::node, seq_bytes(32, 0x12)));
	EXPECT_FALSE(sig::open(d, sig::Direction::dc, kEnvKey));
	EXPECT_FALSE(sig::open(sealed_sample(sig::Kind::dc, sig::Direction::opener), sig::Direction::waiter, kEnvKey));
	/* every flipped bit: header, body, tag */
	for (std::size_t i = 0; i < d.size(); i++) {
		for (int bit = 0; bit < 8; bit++) {
			Bytes x = d;
			x[i] ^= static_cast<std::uint8_t>(1U << bit);
			EXPECT_FALSE(sig::open(x, sig::Direction::node, kEnvKey)) << i << "/" << bit;
		}
	}
	/* truncated */
	for (std::size_t n = 0; n < d.size(); n++)
		EXPECT_FALSE(sig::open(std::span(d).first(n), sig::Direction::node, kEnvKey)) << n;
	/* one byte more */
	Bytes longer = d;
	longer.push_back(0);
	EXPECT_FALSE(sig::open(longer, sig::Direction::node, kEnvKey));
	/* a NOTICE is never opened */
	EXPECT_FALSE(sig::open(sig::encode_notice(1, Status::unknown_key), sig::Direction::dc, kEnvKey));
	/* bad arguments */
	EXPECT_THROW((void)sig::open(d, sig::Direction::node, Bytes(16)), std::invalid_argument);
	EXPECT_THROW((void)sig::seal({sig::Kind::dc, 1, 1}, sig::Direction::node, Bytes(31), {}),
		     std::invalid_argument);
	EXPECT_THROW((void)sig::seal({sig::Kind::notice, 1, 1}, sig::Direction::node, kEnvKey, {}),
		     std::invalid_argument);
	EXPECT_THROW((void)sig::seal({sig::Kind::dc, 1, 0}, sig::Direction::node, kEnvKey, {}), std::invalid_argument);
}

TEST(SigEnvelope, PeekHeader)
{
	EXPECT_FALSE(sig::peek_header(hex("000000100102030400000000000000")));
	EXPECT_FALSE(sig::peek_header(hex("00000013010203040000000000000001")));
	EXPECT_FALSE(sig::peek_header(hex("00000000010203040000000000000001")));
	EXPECT_FALSE(sig::peek_header(hex("10000000010203040000000000000001")));
	const auto h = sig::peek_header(hex("00000011fffffffe0123456789abcdef99"));
	ASSERT_TRUE(h);
	EXPECT_EQ(h->kind, sig::Kind::tun);
	EXPECT_EQ(h->key_id, 0xfffffffeU);
	EXPECT_EQ(h->seq, 0x0123456789abcdefULL);
}

TEST(SigEnvelope, Frame)
{
	EXPECT_EQ(sig::frame(Bytes{1, 2, 3}), hex("00000003010203"));
	EXPECT_EQ(sig::frame({}), hex("00000000"));
	EXPECT_EQ(sig::frame(Bytes(sig::kMaxFrame)).size(), sig::kMaxFrame + 4);
	EXPECT_THROW((void)sig::frame(Bytes(sig::kMaxFrame + 1)), std::invalid_argument);
}

TEST(SigNotice, EncodeDecode)
{
	const Bytes n = sig::encode_notice(0xa0b0c0d0, Status::key_expired);
	EXPECT_EQ(n, hex("00000012a0b0c0d000000000000000000006"));
	const auto h = sig::peek_header(n);
	ASSERT_TRUE(h);
	EXPECT_EQ(h->kind, sig::Kind::notice);
	EXPECT_EQ(h->seq, 0U);
	const auto d = sig::decode_notice(n);
	ASSERT_TRUE(d);
	EXPECT_EQ(d->key_id, 0xa0b0c0d0U);
	EXPECT_EQ(d->status, Status::key_expired);
	const auto u = sig::decode_notice(sig::encode_notice(5, Status::unknown_key));
	ASSERT_TRUE(u);
	EXPECT_EQ(u->status, Status::unknown_key);

	EXPECT_FALSE(sig::decode_notice(hex("00000012a0b0c0d0000000000000000000")));	 /* short */
	EXPECT_FALSE(sig::decode_notice(hex("00000012a0b0c0d00000000000000000000600"))); /* long */
	EXPECT_FALSE(sig::decode_notice(hex("00000010a0b0c0d000000000000000000006")));	 /* kind */
	EXPECT_FALSE(sig::decode_notice(hex("00000012a0b0c0d000000000000000010006")));	 /* seq */
	EXPECT_FALSE(sig::decode_notice(hex("00000012a0b0c0d000000000000000000000")));	 /* OK */
	EXPECT_FALSE(sig::decode_notice(hex("00000012a0b0c0d000000000000000000001")));	 /* other */
	EXPECT_FALSE(sig::decode_notice(sealed_sample()));
	EXPECT_THROW((void)sig::encode_notice(1, Status::ok), std::invalid_argument);
	EXPECT_THROW((void)sig::encode_notice(1, Status::internal), std::invalid_argument);
}

/* ---- replay window ---- */

TEST(SigReplay, InOrder)
{
	sig::ReplayWindow w;
	EXPECT_EQ(w.highest(), 0U);
	for (std::uint64_t s = 1; s <= 200; s++) {
		ASSERT_TRUE(w.check(s)) << s;
		w.update(s);
		EXPECT_FALSE(w.check(s)) << s;
		EXPECT_EQ(w.highest(), s);
	}
}

TEST(SigReplay, CheckDoesNotRecord)
{
	sig::ReplayWindow w;
	EXPECT_TRUE(w.check(5));
	EXPECT_TRUE(w.check(5));
	EXPECT_EQ(w.highest(), 0U);
	w.update(5);
	EXPECT_FALSE(w.check(5));
}

TEST(SigReplay, ZeroNeverValid)
{
	sig::ReplayWindow w;
	EXPECT_FALSE(w.check(0));
	w.update(0);
	EXPECT_EQ(w.highest(), 0U);
	EXPECT_TRUE(w.check(1));
	w.update(10);
	EXPECT_FALSE(w.check(0));
}

TEST(SigReplay, OutOfOrderWithinWindow)
{
	sig::ReplayWindow w;
	w.update(100);
	for (const std::uint64_t s : {99U, 50U, 37U, 98U, 60U}) {
		ASSERT_TRUE(w.check(s)) << s;
		w.update(s);
		EXPECT_FALSE(w.check(s)) << s;
	}
	EXPECT_EQ(w.highest(), 100U);
	EXPECT_TRUE(w.check(97));
	EXPECT_TRUE(w.check(101));
	/* a duplicate of the top and of older ones */
	EXPECT_FALSE(w.check(100));
	EXPECT_FALSE(w.check(50));
}

/* After a restart every number up to the stored mark is a replay (D58). */
TEST(SigReplay, Restore)
{
	sig::ReplayWindow w;
	w.restore(1000);
	EXPECT_EQ(w.highest(), 1000U);
	EXPECT_FALSE(w.check(1000));
	EXPECT_FALSE(w.check(999));
	EXPECT_FALSE(w.check(1000 - 63));
	EXPECT_FALSE(w.check(1));
	EXPECT_TRUE(w.check(1001));
	w.update(1003);
	EXPECT_FALSE(w.check(1000));
	EXPECT_TRUE(w.check(1001));
	EXPECT_TRUE(w.check(1002));
	sig::ReplayWindow fresh;
	fresh.restore(0); /* a key never used: as new */
	EXPECT_TRUE(fresh.check(1));
	EXPECT_FALSE(fresh.check(0));
}

TEST(SigReplay, TooOld)
{
	sig::ReplayWindow w;
	w.update(1000);
	EXPECT_TRUE(w.check(1000 - 63));
	EXPECT_FALSE(w.check(1000 - 64));
	EXPECT_FALSE(w.check(1));
	w.update(1000 - 64); /* ignored */
	EXPECT_TRUE(w.check(1000 - 63));
	/* the window slides */
	w.update(1001);
	EXPECT_FALSE(w.check(1000 - 63));
	EXPECT_TRUE(w.check(1000 - 62));
}

TEST(SigReplay, BigJump)
{
	sig::ReplayWindow w;
	for (std::uint64_t s = 1; s <= 64; s++)
		w.update(s);
	w.update(64 + 63); /* the old ones shift out */
	EXPECT_FALSE(w.check(64));
	EXPECT_TRUE(w.check(65));
	w.update(1ULL << 40);
	EXPECT_EQ(w.highest(), 1ULL << 40);
	EXPECT_FALSE(w.check(64 + 63));
	EXPECT_TRUE(w.check((1ULL << 40) - 1));
	EXPECT_FALSE(w.check(1ULL << 40));
	w.update(UINT64_MAX);
	EXPECT_FALSE(w.check(UINT64_MAX));
	EXPECT_TRUE(w.check(UINT64_MAX - 1));
	EXPECT_FALSE(w.check(1ULL << 40));
}

TEST(SigReplay, MatchesModel)
{
	/* a pseudo-random walk against a set of everything seen */
	sig::ReplayWindow w;
	std::set<std::uint64_t> seen;
	std::uint64_t top = 0;
	std::uint32_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245U + 12345U;
		const std::uint64_t delta = (x >> 16) % 150;
		const std::uint64_t s = top + 20 > delta ? top + 20 - delta : 0;
		const bool expect = s != 0 && !seen.contains(s) && (s > top || top - s < 64);
		ASSERT_EQ(w.check(s), expect) << "seq " << s << " top " << top;
		if (expect) {
			w.update(s);
			seen.insert(s);
			top = std::max(top, s);
		}
	}
}

/* ---- cryptography ---- */

TEST(SigCrypto, Rfc8439AeadVector)
{
	/* RFC 8439, section 2.8.2 */
	const std::string_view text = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
				      "the future, sunscreen would be it.";
	const Bytes plaintext(text.begin(), text.end());
	const Bytes key = seq_bytes(32, 0x80);
	const Bytes nonce = hex("070000004041424344454647");
	const Bytes aad = hex("50515253c0c1c2c3c4c5c6c7");
	const Bytes expected = hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
				   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
				   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
				   "3ff4def08e4b7a9de576d26586cec64b6116"
				   "1ae10b594f09e26a7e902ecbd0600691");
	EXPECT_EQ(sig::aead_seal(key, nonce, aad, plaintext), expected);
	const auto opened = sig::aead_open(key, nonce, aad, expected);
	ASSERT_TRUE(opened);
	EXPECT_EQ(*opened, plaintext);

	Bytes bad = expected;
	bad.back() ^= 1;
	EXPECT_FALSE(sig::aead_open(key, nonce, aad, bad));
	EXPECT_FALSE(sig::aead_open(key, nonce, hex("50515253c0c1c2c3c4c5c6c6"), expected));
	EXPECT_FALSE(sig::aead_open(key, nonce, aad, Bytes(15)));
	EXPECT_THROW((void)sig::aead_seal(Bytes(31), nonce, aad, plaintext), std::invalid_argument);
	EXPECT_THROW((void)sig::aead_seal(key, Bytes(8), aad, plaintext), std::invalid_argument);
	EXPECT_THROW((void)sig::aead_open(key, Bytes(13), aad, expected), std::invalid_argument);
	/* empty plaintext and AAD: only a tag */
	const Bytes tag = sig::aead_seal(key, nonce, {}, {});
	EXPECT_EQ(tag.size(), sig::kTagLen);
	const auto empty = sig::aead_open(key, nonce, {}, tag);
	ASSERT_TRUE(empty);
	EXPECT_TRUE(empty->empty());
}

TEST(SigCrypto, Rfc5869HkdfVectors)
{
	/* RFC 5869, A.1 (test case 1) */
	const Bytes ikm(22, 0x0b);
	const auto okm = sig::hkdf_sha256(ikm, seq_bytes(13, 0), seq_bytes(10, 0xf0), 42);
	EXPECT_EQ(Bytes(okm.span().begin(), okm.span().end()),
		  hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
	/* A.3 (test case 3): no salt, no info */
	const auto okm3 = sig::hkdf_sha256(ikm, {}, {}, 42);
	EXPECT_EQ(Bytes(okm3.span().begin(), okm3.span().end()),
		  hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"));
	EXPECT_THROW((void)sig::hkdf_sha256(ikm, {}, {}, 0), std::invalid_argument);
	EXPECT_THROW((void)sig::hkdf_sha256(ikm, {}, {}, 255 * 32 + 1), std::invalid_argument);
	EXPECT_EQ(sig::hkdf_sha256(ikm, {}, {}, 255 * 32).size(), 255U * 32U);
}

TEST(SigCrypto, Random)
{
	const auto a = sig::random_key();
	const auto b = sig::random_key();
	EXPECT_EQ(a.size(), sig::kKeyLen);
	EXPECT_FALSE(a == b);
	for (int i = 0; i < 100; i++)
		EXPECT_NE(sig::random_u32_nonzero(), 0U);
	Bytes buf(64, 0);
	sig::random_fill(buf);
	EXPECT_NE(buf, Bytes(64, 0));
	sig::random_fill({});
}

/* ---- seed corpora of tests/fuzz ---- */

namespace {

/* The fixed key of tests/fuzz/fuzz_envelope.cpp. */
Bytes fuzz_envelope_key()
{
	return seq_bytes(32, 0xe0);
}

void write_seed(const std::filesystem::path &dir, const std::string &name, const Bytes &b)
{
	std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
	ASSERT_TRUE(out) << (dir / name);
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	out.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

} // namespace

/*
 * NTM_FUZZ_CORPUS=/path/to/tests/fuzz/corpus ntm_unit_tests \
 *	--gtest_also_run_disabled_tests --gtest_filter=SigCorpus.DISABLED_WriteSeeds
 */
TEST(SigCorpus, DISABLED_WriteSeeds)
{
	const char *root = std::getenv("NTM_FUZZ_CORPUS");
	ASSERT_NE(root, nullptr) << "set NTM_FUZZ_CORPUS to tests/fuzz/corpus";
	const std::filesystem::path sdir = std::filesystem::path(root) / "sig";
	const std::filesystem::path edir = std::filesystem::path(root) / "envelope";
	std::filesystem::create_directories(sdir);
	std::filesystem::create_directories(edir);
	std::filesystem::remove(sdir / "seed0");
	std::filesystem::remove(edir / "seed0");

	for (const auto t : kAllTypes) {
		for (const bool response : {false, true}) {
			std::string name = sig::message_name(t, response);
			std::replace(name.begin(), name.end(), ' ', '-');
			write_seed(sdir, "type" + std::to_string(static_cast<int>(t)) + "-" + name,
				   sig::encode(full_message(t, response)));
		}
	}
	write_seed(sdir, "all-fields", sig::encode(kitchen_sink()));
	write_seed(sdir, "error-response",
		   sig::encode(sig::make_response(full_message(MsgType::direction, false), Status::no_route,
						  "both behind NAT")));
	write_seed(sdir, "bad-truncated-header", hex("01040000000001"));
	write_seed(sdir, "bad-version", RawBody(4, 0, 1, 2).b);
	write_seed(sdir, "bad-tlv-past-end", RawBody().tlv_len(T(sig::Tlv::lifetime), {0, 0}, 4).b);
	write_seed(sdir, "bad-key-id-length", RawBody().tlv(T(sig::Tlv::key_id), {0, 1}).b);
	write_seed(sdir, "bad-duplicate", RawBody(3).text(5, "a.b").text(5, "a.b").b);
	write_seed(sdir, "bad-unknown-critical", RawBody().tlv(0x8000 | 77, {1}).b);
	write_seed(sdir, "unknown-noncritical", RawBody(3).tlv(77, {1}).text(5, "a.b").tlv(0x7fff, {}).b);
	write_seed(sdir, "bad-dns-name", RawBody(3).text(5, "A..b.").b);
	write_seed(sdir, "bad-endpoint-family", RawBody().tlv(T(sig::Tlv::external_ep), {6, 1, 2, 3, 4, 0, 1}).b);
	write_seed(sdir, "bad-prefix-host-bits", RawBody().tlv(T(sig::Tlv::pool4), {10, 77, 0, 1, 16}).b);
	write_seed(sdir, "bad-utf8", RawBody(1).text(T(sig::Tlv::account), "\xc0\x80").b);
	write_seed(sdir, "critical-known", RawBody().tlv(0x8000 | T(sig::Tlv::interval), {0, 20}).b);
	/* the tunnel key exchange's TLVs; 26 (the old SEALED_KEY) is an unknown TLV */
	write_seed(sdir, "kx-reserved-26-ignored", RawBody(7).tlv(26, Bytes(60, 1)).tlv(T(sig::Tlv::index), {0, 0, 0, 9}).b);
	write_seed(sdir, "kx-reserved-26-critical", RawBody(7).tlv(0x8000 | 26, Bytes(60, 1)).b);
	write_seed(sdir, "bad-ephemeral-length", RawBody(7).tlv(T(sig::Tlv::ephemeral), Bytes(31, 9)).b);
	write_seed(sdir, "bad-auth-length", RawBody(7).tlv(T(sig::Tlv::auth), Bytes(33, 9)).b);
	write_seed(sdir, "bad-generation-length", RawBody(7).tlv(T(sig::Tlv::generation), {0, 0, 1}).b);
	{
		RawBody r;
		while (r.b.size() <= sig::kMaxBody)
			r.tlv(300, Bytes(200, 0));
		write_seed(sdir, "bad-oversize", r.b);
	}

	const Bytes key = fuzz_envelope_key();
	const auto body = [](MsgType t, bool r) { return sig::encode(full_message(t, r)); };
	write_seed(edir, "dc-node-registration",
		   sig::seal({sig::Kind::dc, 77, 1}, sig::Direction::node, key, body(MsgType::registration, false)));
	write_seed(edir, "dc-dc-registration-response",
		   sig::seal({sig::Kind::dc, 77, 4097}, sig::Direction::dc, key, body(MsgType::registration, true)));
	write_seed(
		edir, "dc-dc-route-direction",
		sig::seal({sig::Kind::dc, 77, 4098}, sig::Direction::dc, key, body(MsgType::route_direction, false)));
	write_seed(edir, "tun-opener-tunnel-request",
		   sig::seal({sig::Kind::tun, 0xc0ffee, 1}, sig::Direction::opener, key, body(MsgType::tunnel, false)));
	write_seed(edir, "tun-waiter-tunnel-response",
		   sig::seal({sig::Kind::tun, 0xc0ffee, 1}, sig::Direction::waiter, key, body(MsgType::tunnel, true)));
	write_seed(edir, "notice-unknown-key", sig::encode_notice(77, Status::unknown_key));
	write_seed(edir, "notice-key-expired", sig::encode_notice(77, Status::key_expired));
	write_seed(edir, "bad-notice-status", hex("000000120000004d00000000000000000001"));
	write_seed(edir, "bad-notice-seq", hex("000000120000004d00000000000000010005"));
	write_seed(edir, "bad-kind", hex("000000130000004d0000000000000001000000000000000000000000000000000000"));
	write_seed(edir, "bad-short-header", hex("000000100000004d000000000000"));
	{
		Bytes d = sig::seal({sig::Kind::dc, 77, 2}, sig::Direction::node, key, body(MsgType::keepalive, false));
		d.back() ^= 1;
		write_seed(edir, "bad-tag", d);
		write_seed(edir, "bad-truncated", Bytes(d.begin(), d.begin() + 31));
	}
	/* sealed, but the body inside is not a valid body */
	write_seed(edir, "dc-node-garbage-body",
		   sig::seal({sig::Kind::dc, 77, 3}, sig::Direction::node, key, hex("02030000000000010001")));
	write_seed(edir, "replay-walk",
		   hex("00000010000000010000000000000040"
		       "0102030405068081828384858687ff7f7e7d7c0000000000000001"));
}
