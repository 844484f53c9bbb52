// SPDX-License-Identifier: GPL-2.0
/*
 * The relay block of the signalling codec (Documentation/protocol/relay.rst):
 * message types 9..13 and TLVs 40..48 -- round trips, what validate()
 * requires, and every decode error of the new TLVs.
 */
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ntm/parse.hpp"
#include "ntm/sig.hpp"

namespace sig = ntm::sig;
using sig::Message;
using sig::MsgType;
using sig::ParseError;
using sig::Status;
using sig::Tlv;
using Bytes = std::vector<std::uint8_t>;

namespace {

ntm::Endpoint ep(const char *addr, std::uint16_t port)
{
	return {ntm::parse_address(addr), port};
}

ntm::SecretBytes key32(std::uint8_t v)
{
	return ntm::SecretBytes(Bytes(sig::kKeyLen, v));
}

Message request(MsgType t)
{
	Message m;
	m.type = t;
	m.txid = 0x11223344;
	return m;
}

/* a body of one message type whose TLVs are given raw */
Bytes raw_body(MsgType t, const std::vector<std::pair<std::uint16_t, Bytes>> &tlvs)
{
	Bytes b{sig::kVersion, static_cast<std::uint8_t>(t), 0, 0, 0, 0, 0, 9};
	for (const auto &[type, v] : tlvs) {
		b.push_back(static_cast<std::uint8_t>(type >> 8));
		b.push_back(static_cast<std::uint8_t>(type));
		b.push_back(static_cast<std::uint8_t>(v.size() >> 8));
		b.push_back(static_cast<std::uint8_t>(v.size()));
		b.insert(b.end(), v.begin(), v.end());
	}
	return b;
}

Bytes ep4(std::uint8_t last, std::uint16_t port)
{
	return {4, 192, 0, 2, last, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
}

std::string decode_error(const Bytes &body)
{
	try {
		(void)sig::decode(body);
	} catch (const ParseError &e) {
		return e.what();
	}
	return "";
}

std::string validate_error(const Message &m)
{
	try {
		sig::validate(m);
	} catch (const ParseError &e) {
		return e.what();
	}
	return "";
}

Message round_trip(const Message &m)
{
	const auto b = sig::encode(m);
	auto d = sig::decode(b);
	sig::validate(d);
	EXPECT_EQ(sig::encode(d), b);
	return d;
}

} // namespace

TEST(SigRelay, Names)
{
	EXPECT_EQ(sig::msg_type_name(MsgType::relay_direction), "relay direction");
	EXPECT_EQ(sig::message_name(MsgType::relay_bind, true), "relay bind ack");
	EXPECT_EQ(sig::message_name(MsgType::probe, false), "probe");
	EXPECT_EQ(sig::message_name(MsgType::key_sharing, true), "key sharing ack");
}

TEST(SigRelay, RelayDirectionRoundTrip)
{
	auto m = request(MsgType::relay_direction);
	m.comm_id = 0xc0ffee;
	m.k_tun = key32(7);
	m.lifetime = 3600;
	m.fqdn = "a.ntm.test";
	m.peer_fqdn = "b.ntm.test";
	m.external_ep = ep("203.0.113.1", 40000);
	m.peer_ep = ep("2001:db8::2", 7480);
	const auto d = round_trip(m);
	EXPECT_EQ(d.comm_id, 0xc0ffeeU);
	EXPECT_EQ(d.peer_ep->to_string(), "[2001:db8::2]:7480");

	auto ack = sig::make_response(m, Status::ok);
	ack.relay_eps = {ep("198.51.100.5", 7480), ep("2001:db8::5", 7480)};
	const auto a = round_trip(ack);
	ASSERT_EQ(a.relay_eps.size(), 2U);
	EXPECT_EQ(a.relay_eps[1].to_string(), "[2001:db8::5]:7480");

	/* a relay never receives K_tmp */
	m.k_tmp = key32(9);
	EXPECT_EQ(validate_error(sig::decode(sig::encode(m))), "relay direction with K_TMP: a relay never receives it");
	m.k_tmp.clear();
	m.peer_ep.reset();
	EXPECT_EQ(validate_error(m), "relay direction without PEER_EP");
	ack.relay_eps.clear();
	EXPECT_EQ(validate_error(ack), "relay direction ack without RELAY_EP");
}

TEST(SigRelay, BindProbeSharingReport)
{
	auto bind = request(MsgType::relay_bind);
	bind.leg = sig::Leg::waiter;
	EXPECT_EQ(round_trip(bind).leg, sig::Leg::waiter);
	auto back = sig::make_response(bind, Status::ok);
	back.observed_ep = ep("203.0.113.9", 1024);
	EXPECT_EQ(round_trip(back).observed_ep->to_string(), "203.0.113.9:1024");
	back.observed_ep.reset();
	EXPECT_EQ(validate_error(back), "relay bind ack without OBSERVED_EP");
	EXPECT_EQ(validate_error(request(MsgType::relay_bind)), "relay bind without LEG");

	auto probe = request(MsgType::probe);
	probe.probe_nonce = Bytes(sig::kProbeNonceLen, 0xab);
	EXPECT_EQ(round_trip(probe).probe_nonce, probe.probe_nonce);
	EXPECT_EQ(validate_error(request(MsgType::probe)), "probe without PROBE_NONCE");
	probe.probe_nonce = Bytes(15, 1);
	EXPECT_THROW((void)sig::encode(probe), std::invalid_argument);

	auto ks = request(MsgType::key_sharing);
	ks.fqdn = "dc.infra.test";
	EXPECT_EQ(round_trip(ks).fqdn, "dc.infra.test");
	auto ksa = sig::make_response(ks, Status::ok);
	ksa.capacity = 1000;
	ksa.sessions = 0;
	ksa.relay_eps = {ep("198.51.100.5", 7480)};
	const auto k = round_trip(ksa);
	EXPECT_EQ(k.capacity, 1000U);
	EXPECT_EQ(k.sessions, 0U);

	auto rel = request(MsgType::relay_release);
	EXPECT_EQ(validate_error(rel), "relay release without COMM_ID");
	rel.comm_id = 1;
	EXPECT_EQ(round_trip(rel).comm_id, 1U);
}

TEST(SigRelay, RouteDirectionWithRelay)
{
	auto m = request(MsgType::route_direction);
	m.action = sig::Action::wait;
	m.comm_id = 77;
	m.k_tun = key32(1);
	m.k_tmp = key32(2);
	m.cipher = 2;
	m.peer_fqdn = "b.ntm.test";
	m.peer_ep = ep("203.0.113.2", 7480);
	m.peer_vip4 = ntm::parse_address("10.77.0.2");
	m.path = sig::Path::relay;
	EXPECT_EQ(validate_error(m), "route direction without RELAY_EP (PATH is relay)");
	m.relay_eps = {ep("198.51.100.5", 7480)};
	m.peer_local_eps = {ep("10.1.0.3", 7480), ep("fd00::3", 7480)};
	const auto d = round_trip(m);
	EXPECT_EQ(d.path, sig::Path::relay);
	ASSERT_EQ(d.peer_local_eps.size(), 2U);
	EXPECT_EQ(d.peer_local_eps[1].to_string(), "[fd00::3]:7480");

	auto ka = request(MsgType::keepalive);
	ka.nat_mapping = sig::NatMapping::per_destination;
	EXPECT_EQ(round_trip(ka).nat_mapping, sig::NatMapping::per_destination);
}

TEST(SigRelay, DecodeErrors)
{
	const auto t = [](Tlv x) { return static_cast<std::uint16_t>(x); };
	EXPECT_EQ(decode_error(raw_body(MsgType::relay_bind, {{t(Tlv::leg), {3}}})), "LEG 3 is out of range");
	EXPECT_EQ(decode_error(raw_body(MsgType::relay_bind, {{t(Tlv::leg), {1, 1}}})), "LEG has 2 bytes, expected 1");
	EXPECT_EQ(decode_error(raw_body(MsgType::route_direction, {{t(Tlv::path), {0}}})), "PATH 0 is out of range");
	EXPECT_EQ(decode_error(raw_body(MsgType::route_direction, {{t(Tlv::path), {4}}})), "PATH 4 is out of range");
	EXPECT_EQ(decode_error(raw_body(MsgType::route_direction, {{t(Tlv::path), {3}}})), "");
	EXPECT_EQ(decode_error(raw_body(MsgType::keepalive, {{t(Tlv::nat_mapping), {3}}})),
		  "NAT_MAPPING 3 is out of range");
	EXPECT_EQ(decode_error(raw_body(MsgType::key_sharing, {{t(Tlv::capacity), {0, 0, 1}}})),
		  "CAPACITY has 3 bytes, expected 4");
	EXPECT_EQ(decode_error(raw_body(MsgType::probe, {{t(Tlv::probe_nonce), Bytes(17, 0)}})),
		  "PROBE_NONCE has 17 bytes, expected 16");
	EXPECT_EQ(decode_error(raw_body(MsgType::relay_bind, {{t(Tlv::leg), {1}}, {t(Tlv::leg), {2}}})),
		  "duplicate LEG");
	EXPECT_EQ(decode_error(raw_body(MsgType::relay_direction,
					{{t(Tlv::relay_ep), ep4(1, 1)}, {t(Tlv::relay_ep), ep4(2, 2)}})),
		  "RELAY_EP more than once per family");
	std::vector<std::pair<std::uint16_t, Bytes>> many;
	for (std::uint8_t i = 0; i < 9; i++)
		many.emplace_back(t(Tlv::peer_local_ep), ep4(i, 7480));
	EXPECT_EQ(decode_error(raw_body(MsgType::route_direction, many)), "more than 8 PEER_LOCAL_EP");
	many.pop_back();
	EXPECT_EQ(decode_error(raw_body(MsgType::route_direction, many)), "");
	EXPECT_EQ(decode_error(raw_body(MsgType::relay_bind, {{t(Tlv::observed_ep), {5, 1, 2, 3, 4, 0, 1}}})),
		  "OBSERVED_EP has a bad address family 5");
	/* types past the relay block are still unknown: ignored, or refused when critical */
	EXPECT_EQ(decode_error(raw_body(MsgType::probe, {{49, {1}}})), "");
	try {
		(void)sig::decode(raw_body(MsgType::probe, {{0x8000 | 49, {1}}}));
		ADD_FAILURE() << "an unknown critical TLV was accepted";
	} catch (const ParseError &e) {
		EXPECT_EQ(e.status(), Status::unsupported_tlv);
	}
	/* message type 14 is not defined */
	Bytes b = raw_body(MsgType::probe, {});
	b[1] = 14;
	EXPECT_EQ(decode_error(b), "unknown message type 14");
}

TEST(SigRelay, EncodeRefusesTwoRelayEndpointsOfOneFamily)
{
	auto m = sig::make_response(request(MsgType::relay_direction), Status::ok);
	m.relay_eps = {ep("198.51.100.5", 1), ep("198.51.100.6", 1)};
	EXPECT_THROW((void)sig::encode(m), std::invalid_argument);
	m.relay_eps = {ep("198.51.100.5", 1), ep("2001:db8::1", 1), ep("2001:db8::2", 1)};
	EXPECT_THROW((void)sig::encode(m), std::invalid_argument);
}
