// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd - the NTMobile daemon. For now: owns the UDP sockets of one ntm
 * device and hands them to the kernel. See ntmd(8).
 */
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

spdlog::level::level_enum parse_level(const std::string &s)
{
	using spdlog::level::level_enum;
	if (s == "trace")
		return level_enum::trace;
	if (s == "debug")
		return level_enum::debug;
	if (s == "info")
		return level_enum::info;
	if (s == "warn" || s == "warning")
		return level_enum::warn;
	if (s == "error")
		return level_enum::err;
	if (s == "critical")
		return level_enum::critical;
	if (s == "off")
		return level_enum::off;
	throw ntm::UsageError("invalid --log-level '" + s +
			      "': expected trace, debug, info, warn, error, critical or off");
}

void setup_logging(spdlog::level::level_enum level)
{
	auto logger = spdlog::stderr_logger_st("ntmd");
	/* the journal adds its own timestamps */
	// NOLINTNEXTLINE(concurrency-mt-unsafe): before any thread
	if (std::getenv("JOURNAL_STREAM") != nullptr)
		logger->set_pattern("<%l> %v");
	else
		logger->set_pattern("%Y-%m-%d %H:%M:%S.%e ntmd[%P] %l: %v");
	logger->set_level(level);
	logger->flush_on(spdlog::level::trace);
	spdlog::set_default_logger(logger);
}

int run(int argc, char **argv)
{
	CLI::App app("ntmd: NTMobile daemon (minimal role: UDP socket owner of one ntm device)", "ntmd");
	std::string ifname;
	std::string port;
	bool create = false;
	bool foreground = false;
	std::string pidfile;
	std::string level = "info";
	app.add_option("-i,--interface", ifname, "ntm device to serve")->required()->type_name("DEV");
	app.add_option("-p,--port", port, "UDP port of the IPv4 and IPv6 sockets")->required()->type_name("N");
	app.add_flag("--create", create, "Create the device if missing (and delete it on exit)");
	app.add_flag("-f,--foreground", foreground,
		     "Accepted for compatibility: ntmd always runs in the foreground (systemd style)");
	app.add_option("--pidfile", pidfile, "Write the process id to PATH")->type_name("PATH");
	app.add_option("--log-level", level, "trace, debug, info (default), warn, error, critical, off")
		->type_name("LEVEL");
	app.footer("Exit status: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage error. See ntmd(8).");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		if (e.get_exit_code() == 0) {
			std::string help = app.help();
			if (!help.ends_with('\n'))
				help += '\n';
			(void)std::fputs(help.c_str(), stdout);
			return 0;
		}
		(void)std::fprintf(stderr, "ntmd: %s\nRun 'ntmd --help' for usage.\n", e.what());
		return kExitUsage;
	}

	ntmd::Config cfg;
	cfg.ifname = ntm::parse_ifname(ifname);
	cfg.port = static_cast<std::uint16_t>(ntm::parse_u32(port, "--port", 1, 65535));
	cfg.create = create;
	cfg.pidfile = pidfile;
	setup_logging(parse_level(level));
	return ntmd::run_daemon(cfg);
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const ntm::UsageError &e) {
		(void)std::fprintf(stderr, "ntmd: %s\n", e.what());
		return kExitUsage;
	} catch (const std::bad_alloc &) {
		(void)std::fputs("ntmd: out of memory\n", stderr);
		return kExitFailed;
	} catch (const std::exception &e) {
		/* the logger may not exist yet; stderr is the log anyway */
		spdlog::error("{}", e.what());
		return kExitFailed;
	} catch (...) {
		(void)std::fputs("ntmd: unexpected error\n", stderr);
		return kExitFailed;
	}
}
