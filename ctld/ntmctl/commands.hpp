// SPDX-License-Identifier: GPL-2.0
/* Execution of ntmctl commands. */
#ifndef NTMCTL_COMMANDS_HPP
#define NTMCTL_COMMANDS_HPP

#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "ntm/genl.hpp"

namespace ntmctl {

/** Exit statuses a script can rely on. */
enum Exit : int { kExitOk = 0, kExitFailed = 1, kExitUsage = 2 };

/** Output streams and the one netlink socket of a run (also of a batch). */
class Context {
public:
	Context(std::FILE *out, std::FILE *err) : out_(out), err_(err) {}
	/** The generic-netlink socket, opened on first use. */
	ntm::GenlSocket &genl();
	[[nodiscard]] std::FILE *out() const noexcept { return out_; }
	[[nodiscard]] std::FILE *err() const noexcept { return err_; }

private:
	std::FILE *out_;
	std::FILE *err_;
	std::optional<ntm::GenlSocket> genl_;
};

/**
 * Runs one parsed command and returns its exit status; throws ntm::Error
 * (status 1) or ntm::UsageError (status 2).
 */
int execute(Context &ctx, Cli &cli, const Invocation &inv);

/** The whole program: parse argv, run, map every error to an exit status. */
int run_main(int argc, const char *const *argv, std::FILE *out, std::FILE *err) noexcept;

} // namespace ntmctl

#endif
