// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl's own view of its command tree: "unknown command 'x', did you
 * mean 'y'?" for a mistyped word, and the list of commands and options the
 * man page test and the shell completion checks compare against.
 */
#ifndef NTMCTL_SUGGEST_HPP
#define NTMCTL_SUGGEST_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace ntmctl {

/**
 * The candidate closest to word, when it is close enough to be a typo:
 * a prefix of it, or within a third of word's length (at least 1, at most
 * 3 edits). nullopt when nothing is close; ties go to the first candidate.
 */
std::optional<std::string> closest(std::string_view word, const std::vector<std::string> &candidates);

/**
 * Why CLI11 refused words, in the user's terms: the first word that is no
 * subcommand where one is expected ("unknown command 'tunnel ad', did you
 * mean 'tunnel add'?") or an option no command on the path knows ("unknown
 * option '--jsno' for 'show', did you mean '--json'?"). nullopt when every
 * word is known (the error is of another kind: CLI11's message stands).
 */
std::optional<std::string> explain_unknown(const CLI::App &top, const std::vector<std::string> &words);

/** One command of the tree: its path ("tunnel add") and long options. */
struct CommandInfo {
	std::string path;
	bool leaf = false; /* runs something (no subcommands of its own) */
	std::vector<std::string> options; /* "--json", "--local-index", ... */
};

/** Every (sub)command under top, depth first, top itself first with path "". */
std::vector<CommandInfo> command_tree(const CLI::App &top);

} // namespace ntmctl

#endif
