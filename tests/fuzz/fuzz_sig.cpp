// SPDX-License-Identifier: GPL-2.0
/*
 * Signalling bodies (ntm::sig::decode): whatever decodes must validate or
 * throw ParseError, encode without an error, and decode again to a message
 * that encodes to the same bytes.
 *
 * Seeds (corpus/sig/, and corpus/envelope/ of fuzz_envelope.cpp) are written
 * by a unit test that is disabled by default, from a configured build dir:
 *
 *   NTM_FUZZ_CORPUS=$PWD/tests/fuzz/corpus build/ctld/tests/unit/ntm_unit_tests \
 *	--gtest_also_run_disabled_tests --gtest_filter=SigCorpus.DISABLED_WriteSeeds
 *
 * (tests/unit/test_sig.cpp): a valid body of every message type in both
 * directions, one with every TLV, an error response, and broken ones (short
 * header, version 2, TLV past the end, wrong length, duplicate, unknown
 * critical TLV, bad DNS name, endpoint family, prefix host bits, UTF-8,
 * oversize).
 */
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "fuzz_common.hpp"
#include "ntm/sig.hpp"

namespace sig = ntm::sig;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::span<const std::uint8_t> in(data, size);
	const auto head = sig::peek_body(in);
	FUZZ_CHECK(head.has_value() == (size >= sig::kBodyHeaderLen));

	sig::Message m;
	try {
		m = sig::decode(in);
	} catch (const sig::ParseError &e) {
		FUZZ_CHECK(e.status() == sig::Status::malformed || e.status() == sig::Status::unsupported_version ||
			   e.status() == sig::Status::unsupported_tlv);
		FUZZ_CHECK((e.status() == sig::Status::unsupported_version) ==
			   (head && head->version != sig::kVersion));
		return 0;
	}
	FUZZ_CHECK(size >= sig::kBodyHeaderLen && size <= sig::kMaxBody);
	FUZZ_CHECK(head && head->version == sig::kVersion && head->txid == m.txid && head->response == m.response &&
		   head->type == static_cast<std::uint8_t>(m.type));
	(void)sig::message_name(m.type, m.response);
	if (m.status)
		(void)sig::status_name(*m.status);

	try {
		sig::validate(m);
	} catch (const sig::ParseError &e) {
		FUZZ_CHECK(e.status() == sig::Status::malformed);
	}

	std::vector<std::uint8_t> first;
	bool decoded_body_encodes = true;
	try {
		first = sig::encode(m);
	} catch (const std::invalid_argument &) {
		decoded_body_encodes = false;
	}
	FUZZ_CHECK(decoded_body_encodes);
	/* known TLVs keep their size, unknown ones are dropped */
	FUZZ_CHECK(first.size() <= size);

	sig::Message again;
	bool encoded_body_decodes = true;
	try {
		again = sig::decode(first);
	} catch (const sig::ParseError &) {
		encoded_body_decodes = false;
	}
	FUZZ_CHECK(encoded_body_decodes);
	FUZZ_CHECK(sig::encode(again) == first);
	return 0;
}
