// SPDX-License-Identifier: GPL-2.0
/* tokenize_line(): never crashes; re-quoting the words gives the same words. */
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "ntm/error.hpp"
#include "ntm/tokenize.hpp"

namespace {

std::string single_quote(const std::string &w)
{
	std::string out = "'";
	for (const char c : w) {
		if (c == '\'')
			out += "'\\''";
		else
			out += c;
	}
	return out + "'";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	try {
		const auto words = ntm::tokenize_line(as_text(data, size));
		std::string line;
		for (const auto &w : words)
			line += single_quote(w) + " ";
		FUZZ_CHECK(ntm::tokenize_line(line) == words);
	} catch (const ntm::UsageError &) {
	}
	return 0;
}
