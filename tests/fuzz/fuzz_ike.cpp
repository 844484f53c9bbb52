// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 codec (ntm/ike.hpp). The first input byte selects what the rest is:
 *
 *   mode & 3 == 0  a whole plain message: parse_header(), parse_plain()
 *   mode & 3 == 1  a whole encrypted message: parse_encrypted() with the
 *                  fixed key (SK authentication stops most mutations, the
 *                  header and SK checks before it are reached)
 *   mode & 3 == 2  a payload chain: one byte first payload type, then the
 *                  chain for parse_payloads()
 *   mode & 3 == 3  an SK plaintext: one byte inner first payload type, then
 *                  inner payloads | padding | pad length, which the harness
 *                  seals with the fixed key, so parse_encrypted() reaches the
 *                  inner parser through the real SK path
 *   mode & 4       the fixed key is ChaCha20-Poly1305 instead of AES-GCM-128
 *
 * Properties: every failure is a ParseError with one of the notifies RFC
 * 7296 section 2.21 allows (none only before the ICV was verified); whatever
 * parses encodes without an error, and parses again to payloads that encode
 * to the same bytes.
 *
 * Seeds (corpus/ike/) are written by a unit test that is disabled by default:
 *
 *   NTM_FUZZ_CORPUS=$PWD/tests/fuzz/corpus build/ctld/tests/unit/ntm_unit_tests \
 *	--gtest_also_run_disabled_tests --gtest_filter=IkeCorpus.DISABLED_WriteSeeds
 */
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "fuzz_common.hpp"
#include "ntm/ike.hpp"

namespace ike = ntm::ike;
using ike::Bytes;
using ike::ByteView;

namespace {

ike::SkKey fixed_key(bool chacha)
{
	/* the same bytes as IkeCorpus.DISABLED_WriteSeeds: 0x01, 0x02, ... */
	const std::size_t n = chacha ? 36 : 20;
	ntm::SecretBytes k(n);
	for (std::size_t i = 0; i < n; i++)
		k.data()[i] = static_cast<std::uint8_t>(1 + i);
	return ike::SkKey{chacha ? ike::Encr::chacha20_poly1305 : ike::Encr::aes_gcm_16, k};
}

bool allowed(const ike::ParseError &e, bool may_be_silent)
{
	const auto n = e.notify();
	if (!n)
		return may_be_silent;
	if (*n == ike::NotifyType::unsupported_critical_payload)
		return e.notify_data().size() == 1;
	return e.notify_data().empty() &&
	       (*n == ike::NotifyType::invalid_syntax || *n == ike::NotifyType::invalid_major_version);
}

/* the helpers must not crash on whatever parsed */
void touch(const ike::Payloads &p)
{
	for (const auto &prop : p.sa)
		for (const auto &t : prop.transforms)
			(void)ike::transform_name(t.type, t.id, t.key_bits);
	for (const auto &n : p.notifies)
		(void)ike::notify_name(n.type);
	if (p.idi)
		(void)p.idi->to_string();
	if (p.idr)
		(void)p.idr->to_string();
	for (const auto *ts : {&p.tsi, &p.tsr})
		if (*ts)
			for (const auto &s : **ts) {
				(void)s.to_string();
				(void)s.prefix_len();
			}
	(void)p.first_error();
}

/* encode -> parse -> encode is stable */
void check_plain(const ike::Header &h, const ike::Payloads &p)
{
	touch(p);
	Bytes first;
	bool encodes = true;
	try {
		first = ike::encode_plain(h, p);
	} catch (const std::invalid_argument &) {
		encodes = false;
	}
	FUZZ_CHECK(encodes);
	ike::Header h2;
	std::optional<ike::Payloads> again;
	try {
		again = ike::parse_plain(first, h2);
	} catch (const ike::ParseError &) {
	}
	FUZZ_CHECK(again.has_value());
	FUZZ_CHECK(h2.length == first.size());
	FUZZ_CHECK(ike::encode_plain(h2, *again) == first);
}

void check_encrypted(const ike::Header &h, const ike::Payloads &p, const ike::SkKey &key)
{
	touch(p);
	Bytes first;
	bool encodes = true;
	try {
		first = ike::encode_encrypted(h, p, key, 7);
	} catch (const std::invalid_argument &) {
		encodes = false;
	}
	FUZZ_CHECK(encodes);
	ike::Header h2;
	std::optional<ike::Payloads> again;
	try {
		again = ike::parse_encrypted(first, key, h2);
	} catch (const ike::ParseError &) {
	}
	FUZZ_CHECK(again.has_value());
	FUZZ_CHECK(ike::encode_encrypted(h2, *again, key, 7) == first);
}

ike::Header chain_header()
{
	ike::Header h;
	h.spi_i = 0x0102030405060708ULL;
	h.spi_r = 0x1112131415161718ULL;
	h.exchange = ike::Exchange::ike_auth;
	h.flags = ike::kFlagInitiator;
	h.msgid = 1;
	return h;
}

/* header | SK header | IV | sealed plaintext */
Bytes seal(const ike::SkKey &key, std::uint8_t inner_first, ByteView plaintext)
{
	const std::size_t sk_len = 4 + ike::kSkIvLen + plaintext.size() + ike::kSkIcvLen;
	const std::size_t total = ike::kHeaderLen + sk_len;
	Bytes m{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 46, 0x20, 35, 0x08, 0, 0, 0, 1};
	for (int shift = 24; shift >= 0; shift -= 8)
		m.push_back(static_cast<std::uint8_t>(total >> shift));
	m.push_back(inner_first);
	m.push_back(0);
	m.push_back(static_cast<std::uint8_t>(sk_len >> 8));
	m.push_back(static_cast<std::uint8_t>(sk_len));
	const Bytes aad = m;
	const Bytes iv{9, 9, 9, 9, 9, 9, 9, 9};
	m.insert(m.end(), iv.begin(), iv.end());
	const Bytes sealed = ike::sk_seal(key, iv, aad, plaintext);
	m.insert(m.end(), sealed.begin(), sealed.end());
	return m;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size < 1)
		return 0;
	const std::uint8_t mode = data[0];
	const ByteView in(data + 1, size - 1); // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	const ike::SkKey key = fixed_key((mode & 4) != 0);

	switch (mode & 3) {
	case 0: {
		std::optional<ike::Header> hdr;
		try {
			hdr = ike::parse_header(in);
		} catch (const ike::ParseError &e) {
			FUZZ_CHECK(allowed(e, false));
		}
		ike::Header h;
		ike::Payloads p;
		try {
			p = ike::parse_plain(in, h);
		} catch (const ike::ParseError &e) {
			FUZZ_CHECK(allowed(e, false));
			return 0;
		}
		FUZZ_CHECK(hdr.has_value() && hdr->length == in.size() && h.next == hdr->next);
		FUZZ_CHECK(h.major == 2 && in.size() >= ike::kHeaderLen && in.size() <= ike::kMaxMessage);
		(void)ike::exchange_name(static_cast<std::uint8_t>(h.exchange));
		check_plain(h, p);
		break;
	}
	case 1: {
		ike::Header h;
		ike::Payloads p;
		try {
			p = ike::parse_encrypted(in, key, h);
		} catch (const ike::ParseError &e) {
			FUZZ_CHECK(allowed(e, true));
			return 0;
		}
		FUZZ_CHECK(h.next == ike::PayloadType::sk);
		check_encrypted(h, p, key);
		break;
	}
	case 2: {
		/* what parses must fit into one encrypted message */
		if (in.empty() || in.size() > ike::kMaxMessage - ike::kHeaderLen - 4 - ike::kSkIvLen - ike::kSkIcvLen - 1)
			return 0;
		ike::Payloads p;
		try {
			p = ike::parse_payloads(static_cast<ike::PayloadType>(in[0]), in.subspan(1));
		} catch (const ike::ParseError &e) {
			FUZZ_CHECK(allowed(e, false));
			return 0;
		}
		check_plain(chain_header(), p);
		check_encrypted(chain_header(), p, key);
		break;
	}
	default: {
		/* at least the pad length byte; the message must fit in 65535 */
		if (in.size() < 2 || in.size() - 1 > ike::kMaxMessage - ike::kHeaderLen - 4 - ike::kSkIvLen - ike::kSkIcvLen)
			return 0;
		const Bytes m = seal(key, in[0], in.subspan(1));
		ike::Header h;
		ike::Payloads p;
		try {
			p = ike::parse_encrypted(m, key, h);
		} catch (const ike::ParseError &e) {
			/* authenticated: never silent */
			FUZZ_CHECK(allowed(e, false));
			return 0;
		}
		check_encrypted(h, p, key);
		break;
	}
	}
	return 0;
}
