// SPDX-License-Identifier: GPL-2.0
/*
 * Signalling datagrams as they arrive on the NTM port: the envelope header,
 * NOTICEs, and opening under a fixed key in each of the four directions
 * (what opens must seal again to the same bytes, and its body goes through
 * the body decoder). The same bytes then drive a ReplayWindow, checked
 * against a plain set of everything recorded.
 *
 * The seeds in corpus/envelope/ are sealed with kKey below; how they are
 * written is described in fuzz_sig.cpp.
 */
#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "ntm/sig.hpp"

namespace sig = ntm::sig;

namespace {

/* 0xe0, 0xe1, ... 0xff: the key of SigCorpus.DISABLED_WriteSeeds */
constexpr std::array<std::uint8_t, sig::kKeyLen> kKey = [] {
	std::array<std::uint8_t, sig::kKeyLen> k{};
	for (std::size_t i = 0; i < k.size(); i++)
		k.at(i) = static_cast<std::uint8_t>(0xe0 + i);
	return k;
}();

void check_datagram(std::span<const std::uint8_t> in)
{
	const auto h = sig::peek_header(in);
	if (in.size() < sig::kEnvelopeHeaderLen) {
		FUZZ_CHECK(!h);
	} else if (h) {
		FUZZ_CHECK(h->kind == sig::Kind::dc || h->kind == sig::Kind::tun || h->kind == sig::Kind::notice);
	}

	if (const auto n = sig::decode_notice(in)) {
		FUZZ_CHECK(h && h->kind == sig::Kind::notice && h->seq == 0 && h->key_id == n->key_id);
		const auto again = sig::encode_notice(n->key_id, n->status);
		FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
	}

	int opened = 0;
	for (const auto dir :
	     {sig::Direction::node, sig::Direction::dc, sig::Direction::opener, sig::Direction::waiter}) {
		const auto body = sig::open(in, dir, kKey);
		if (!body)
			continue;
		opened++;
		FUZZ_CHECK(h && h->kind != sig::Kind::notice && h->seq != 0);
		FUZZ_CHECK(body->size() + sig::kEnvelopeHeaderLen + sig::kTagLen == in.size());
		/* the AEAD is deterministic: sealing again gives the datagram */
		const auto resealed = sig::seal(*h, dir, kKey, *body);
		FUZZ_CHECK(std::equal(resealed.begin(), resealed.end(), in.begin(), in.end()));
		try {
			const auto m = sig::decode(*body);
			sig::validate(m);
		} catch (const sig::ParseError &) {
		}
	}
	/* one nonce per direction: a tag cannot verify under two */
	FUZZ_CHECK(opened <= 1);
}

/*
 * Each input byte b is one packet: with the top bit set and 8 bytes left,
 * the next 8 bytes are the sequence number; otherwise b & 0x3f steps around
 * the highest one (-44 .. +19). Bit 0x40: record even when check() says no.
 */
void check_replay(std::span<const std::uint8_t> in)
{
	sig::ReplayWindow w;
	std::set<std::uint64_t> seen;
	std::uint64_t top = 0;
	std::size_t i = 0;
	while (i < in.size()) {
		const std::uint8_t b = in[i++];
		std::uint64_t seq = 0;
		if ((b & 0x80) != 0 && in.size() - i >= 8) {
			for (std::size_t k = 0; k < 8; k++)
				seq = (seq << 8) | in[i + k];
			i += 8;
		} else {
			const std::uint64_t step = b & 0x3fU;
			seq = top + step >= 44 ? top + step - 44 : 0;
		}
		const bool expect = seq != 0 && !seen.contains(seq) && (seq > top || top - seq < 64);
		FUZZ_CHECK(w.check(seq) == expect);
		if (expect || (b & 0x40) != 0) {
			w.update(seq);
			if (seq != 0) {
				seen.insert(seq);
				top = std::max(top, seq);
			}
			FUZZ_CHECK(!w.check(seq));
		}
		FUZZ_CHECK(w.highest() == top);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::span<const std::uint8_t> in(data, size);
	check_datagram(in);
	check_replay(in);
	return 0;
}
