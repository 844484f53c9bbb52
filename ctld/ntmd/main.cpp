// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd - the NTMobile daemon. With --config it runs the roles of
 * /etc/ntm/ntmd.toml (node, dc, as); with --interface/--port it only owns
 * the UDP sockets of one ntm device (manually keyed tunnels). See ntmd(8).
 */
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "check_config.hpp"
#include "daemon.hpp"
#include "logging.hpp"
#include "ntm/config.hpp"
#include "roles.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"
#include "ntm/version.hpp"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

/* the secure heap for key buffers (ntm/secret.hpp): 32 768 keys of 32 bytes */
constexpr std::size_t kSecureHeapBytes = std::size_t{1} << 20;

/*
 * Before any key is read: no core dumps (unless --allow-core-dumps), key
 * buffers in memory that is never dumped and, if the memlock limit allows,
 * never swapped. Logged once logging is up.
 */
struct Hardening {
	bool dumpable = true;
	int dumpable_errno = 0;
	ntm::SecureMemory heap = ntm::SecureMemory::off;
};

Hardening harden(bool allow_core_dumps)
{
	Hardening h;
	if (!allow_core_dumps) {
		h.dumpable = !ntm::disable_core_dumps();
		if (h.dumpable)
			h.dumpable_errno = errno;
	}
	h.heap = ntm::init_secure_memory(kSecureHeapBytes);
	return h;
}

void log_hardening(const Hardening &h, bool allow_core_dumps)
{
	if (allow_core_dumps)
		spdlog::warn("core dumps allowed (--allow-core-dumps): a dump of this process may hold keys");
	else if (h.dumpable)
		spdlog::warn("could not disable core dumps: {}", ntm::errno_string(h.dumpable_errno));
	switch (h.heap) {
	case ntm::SecureMemory::locked:
		spdlog::debug("key memory: {} KiB secure heap, locked, excluded from core dumps",
			      kSecureHeapBytes / 1024);
		break;
	case ntm::SecureMemory::not_locked:
		spdlog::info("key memory: {} KiB secure heap excluded from core dumps, but not locked in RAM "
			     "(RLIMIT_MEMLOCK): keys may be swapped",
			     kSecureHeapBytes / 1024);
		break;
	case ntm::SecureMemory::off:
		spdlog::warn("key memory: no secure heap; keys are wiped after use but may appear in a core "
			     "dump or swap");
		break;
	}
}

/* --check-config after the file parsed: every file it names (D95) */
int check_config(const ntm::config::Config &cfg)
{
	const ntmd::check::Options o = ntmd::check::default_options();
	/* root opens anything, and the modes are judged as the daemon's user anyway (D98) */
	if (::geteuid() != 0 && std::ranges::find(o.daemon.uids, ::geteuid()) == o.daemon.uids.end())
		(void)std::fprintf(stderr,
				   "ntmd: note: checking as uid %u, not as %s: files that only ntmd may read are "
				   "reported as unreadable\n",
				   static_cast<unsigned>(::geteuid()), o.daemon.names.c_str());
	const auto report = ntmd::check::check_config(cfg, o);
	(void)std::fflush(stdout);
	report.print(stderr, stdout, cfg.path);
	return report.exit_status();
}

int run(int argc, char **argv)
{
	CLI::App app("ntmd: NTMobile daemon", "ntmd");
	std::string config;
	std::string ifname;
	std::string port;
	bool create = false;
	bool foreground = false;
	bool check = false;
	bool allow_core_dumps = false;
	std::string pidfile;
	std::string level;
	std::string target;
	app.add_option("-c,--config", config, "Run the roles of this configuration file (ntmd.toml(5))")
		->type_name("FILE");
	app.add_flag("--check-config", check,
		     "Check --config and every file it names (keys, certificates, modes, owners), report all "
		     "problems, and exit");
	app.add_option("-i,--interface", ifname, "Socket-owner mode: the ntm device to serve")->type_name("DEV");
	app.add_option("-p,--port", port, "Socket-owner mode: UDP port of the IPv4 and IPv6 sockets")
		->type_name("N");
	app.add_flag("--create", create, "Socket-owner mode: create the device if missing (and delete it on exit)");
	app.add_flag("-f,--foreground", foreground,
		     "Accepted for compatibility: ntmd always runs in the foreground (systemd style)");
	app.add_option("--pidfile", pidfile, "Write the process id to PATH (socket-owner mode)")->type_name("PATH");
	app.add_flag("--allow-core-dumps", allow_core_dumps,
		     "Debugging only: let this process dump core (a dump may hold keys; see ntmd(8))");
	app.add_option("--log-level", level,
		       "trace, debug, info, warn, error, critical, off (default: the config's log_level, or info)")
		->type_name("LEVEL");
	app.add_option("--log-target", target,
		       "auto, console, journal: the log format (default: the config's log_target, or auto: journal "
		       "when standard error is the journal's stream)")
		->type_name("TARGET");
	app.set_version_flag("--version", std::string("ntmd ") + ntm::kVersion, "Print the version and exit");
	app.footer("Either --config FILE, or --interface DEV --port N.\n"
		   "Exit status: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage or configuration error. "
		   "See ntmd(8), ntmd.toml(5).");

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForVersion &e) {
		(void)std::printf("%s\n", e.what());
		return 0;
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

	const Hardening hardening = harden(allow_core_dumps);

	if (!config.empty()) {
		if (!ifname.empty() || !port.empty() || create)
			throw ntm::UsageError("--config cannot be combined with --interface, --port or --create");
		ntm::config::Config cfg;
		try {
			cfg = ntm::config::load(config);
		} catch (const ntm::config::ConfigError &e) {
			throw ntm::UsageError(e.what());
		}
		if (check)
			return check_config(cfg);
		ntmd::setup_logging(ntmd::parse_log_level(level.empty() ? cfg.log_level : level),
				    ntmd::parse_log_target(target.empty() ? cfg.log_target : target));
		log_hardening(hardening, allow_core_dumps);
		return ntmd::run_roles(cfg);
	}
	if (check)
		throw ntm::UsageError("--check-config needs --config FILE");
	if (ifname.empty() || port.empty())
		throw ntm::UsageError("give --config FILE, or --interface DEV and --port N");

	ntmd::Config cfg;
	cfg.ifname = ntm::parse_ifname(ifname);
	cfg.port = static_cast<std::uint16_t>(ntm::parse_u32(port, "--port", 1, 65535));
	cfg.create = create;
	cfg.pidfile = pidfile;
	ntmd::setup_logging(ntmd::parse_log_level(level.empty() ? "info" : level),
			    ntmd::parse_log_target(target.empty() ? "auto" : target));
	log_hardening(hardening, allow_core_dumps);
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
