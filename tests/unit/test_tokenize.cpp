// SPDX-License-Identifier: GPL-2.0
#include <gtest/gtest.h>

#include "ntm/error.hpp"
#include "ntm/tokenize.hpp"

using ntm::tokenize_line;
using W = std::vector<std::string>;

TEST(Tokenize, Blank)
{
	EXPECT_EQ(tokenize_line(""), W{});
	EXPECT_EQ(tokenize_line("   \t  \r\n"), W{});
	EXPECT_EQ(tokenize_line("# a comment"), W{});
	EXPECT_EQ(tokenize_line("   # indented comment 'with quote"), W{});
}

TEST(Tokenize, Words)
{
	EXPECT_EQ(tokenize_line("tunnel add ntm0 --local-index 5\n"),
		  (W{"tunnel", "add", "ntm0", "--local-index", "5"}));
	EXPECT_EQ(tokenize_line("  a\t\tb  "), (W{"a", "b"}));
}

TEST(Tokenize, Comments)
{
	EXPECT_EQ(tokenize_line("show ntm0 # trailing"), (W{"show", "ntm0"}));
	/* '#' inside a word is not a comment */
	EXPECT_EQ(tokenize_line("a#b c"), (W{"a#b", "c"}));
	EXPECT_EQ(tokenize_line("'#x' \"#y\" \\#z"), (W{"#x", "#y", "#z"}));
}

TEST(Tokenize, Quotes)
{
	EXPECT_EQ(tokenize_line("--key-file '/tmp/my keys/k'"), (W{"--key-file", "/tmp/my keys/k"}));
	EXPECT_EQ(tokenize_line("\"a \\\"b\\\" \\\\ \\n\""), (W{"a \"b\" \\ \\n"}));
	EXPECT_EQ(tokenize_line("'it''s'"), (W{"its"}));
	EXPECT_EQ(tokenize_line("a'b c'd"), (W{"ab cd"}));
	EXPECT_EQ(tokenize_line("'' \"\""), (W{"", ""}));
	EXPECT_EQ(tokenize_line("'a\\b'"), (W{"a\\b"}));
}

TEST(Tokenize, Backslash)
{
	EXPECT_EQ(tokenize_line("a\\ b"), (W{"a b"}));
	EXPECT_EQ(tokenize_line("\\'x"), (W{"'x"}));
}

TEST(Tokenize, Errors)
{
	EXPECT_THROW(tokenize_line("'open"), ntm::UsageError);
	EXPECT_THROW(tokenize_line("\"open"), ntm::UsageError);
	EXPECT_THROW(tokenize_line("\"open\\\""), ntm::UsageError);
	EXPECT_THROW(tokenize_line("trailing\\"), ntm::UsageError);
}
