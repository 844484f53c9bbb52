// SPDX-License-Identifier: GPL-2.0
/*
 * Splitting a line of an ntmctl batch file into words, like a POSIX shell
 * without expansions: blanks separate words; '...' is literal; "..." allows
 * \" and \\ escapes; a backslash outside quotes escapes the next character;
 * a '#' at the start of a word starts a comment. Unterminated quotes and a
 * trailing backslash are UsageErrors.
 */
#ifndef NTM_TOKENIZE_HPP
#define NTM_TOKENIZE_HPP

#include <string>
#include <string_view>
#include <vector>

namespace ntm {

/** The words of the line; empty for a blank or comment-only line. */
std::vector<std::string> tokenize_line(std::string_view line);

} // namespace ntm

#endif
