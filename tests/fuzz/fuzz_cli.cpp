// SPDX-License-Identifier: GPL-2.0
/*
 * A batch line through the tokenizer and the ntmctl grammar and value
 * checks (nothing is executed). One Cli object parses every input, as in
 * batch mode, so state leaking from one parse into the next shows up.
 */
#include <cstdint>
#include <string_view>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "ntm/error.hpp"
#include "ntm/tokenize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	static ntmctl::Cli cli;
	const auto text = as_text(data, size);
	/* --key-file would read files named by the input (even /dev/stdin) */
	if (text.find("key-file") != std::string_view::npos || text.find('\0') != std::string_view::npos)
		return 0;
	try {
		(void)cli.parse(ntm::tokenize_line(text), ntmctl::Origin::batch_line); /* never reads stdin */
	} catch (const CLI::Error &) {
	} catch (const ntm::UsageError &) {
	} catch (const ntm::Error &) {
	}
	return 0;
}
