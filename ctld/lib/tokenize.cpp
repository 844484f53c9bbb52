// SPDX-License-Identifier: GPL-2.0
#include "ntm/tokenize.hpp"

#include "ntm/error.hpp"

namespace ntm {

namespace {

bool is_blank(char c) noexcept
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

} // namespace

std::vector<std::string> tokenize_line(std::string_view line)
{
	std::vector<std::string> words;
	std::string cur;
	bool in_word = false;
	std::size_t i = 0;
	const std::size_t n = line.size();

	while (i < n) {
		const char c = line[i];
		if (is_blank(c)) {
			if (in_word) {
				words.push_back(std::move(cur));
				cur.clear();
				in_word = false;
			}
			i++;
		} else if (c == '#' && !in_word) {
			break; /* comment to the end of the line */
		} else if (c == '\'') {
			const auto close = line.find('\'', i + 1);
			if (close == std::string_view::npos)
				throw UsageError("unterminated single quote");
			cur.append(line.substr(i + 1, close - i - 1));
			in_word = true;
			i = close + 1;
		} else if (c == '"') {
			in_word = true;
			i++;
			bool closed = false;
			while (i < n) {
				const char d = line[i];
				if (d == '"') {
					closed = true;
					i++;
					break;
				}
				if (d == '\\' && i + 1 < n && (line[i + 1] == '"' || line[i + 1] == '\\')) {
					cur += line[i + 1];
					i += 2;
					continue;
				}
				cur += d;
				i++;
			}
			if (!closed)
				throw UsageError("unterminated double quote");
		} else if (c == '\\') {
			if (i + 1 >= n)
				throw UsageError("trailing backslash");
			cur += line[i + 1];
			in_word = true;
			i += 2;
		} else {
			cur += c;
			in_word = true;
			i++;
		}
	}
	if (in_word)
		words.push_back(std::move(cur));
	return words;
}

} // namespace ntm
