// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd --check-config: the files and directories the configuration names,
 * seen as ntmd will see them (D95): they exist, ntmd may read them (or
 * create files in them) without CAP_DAC_OVERRIDE, secrets are its own and
 * 0600 or stricter, nothing on the way can be replaced by other users.
 * Who ntmd runs as is one function, daemon_principal(); tests pass their
 * own uid instead and need no root.
 */
#ifndef NTMD_CHECK_FILES_HPP
#define NTMD_CHECK_FILES_HPP

#include <sys/types.h>

#include <ctime>
#include <string>
#include <vector>

#include "check_report.hpp"

namespace ntmd::check {

/** Who ntmd runs as: the owners accepted for secrets and for the directories it writes. */
struct Principal {
	std::vector<uid_t> uids; /* accepted owners */
	std::vector<gid_t> gids; /* their primary groups: group permissions count for these */
	std::string names;	 /* "ntm", in messages */
	std::string chown_to;	 /* "ntm:ntm", in the chown hints */
	/* may also own what is not secret (the configuration, certificates) without a warning */
	std::vector<uid_t> trusted;
};

/**
 * The single place that says who ntmd is (D95, D98): the system user
 * "ntm" (sysusers.d/ntm.conf), which ntmd.service runs it as, when it
 * exists; root otherwise (a host without the packages' user, where ntmd is
 * started by hand). Secrets and the directories ntmd writes must be that
 * user's alone: with "ntm", ntm:ntm 0600 keys and password files, and root
 * may no longer own them, since ntmd could not read them. Root may own the
 * configuration and the certificates (readable by ntmd through the mode).
 */
Principal daemon_principal();

struct Options {
	Principal daemon;
	std::time_t now = 0;	     /* certificate validity is checked at this time */
	long expiry_warning_days = 30; /* a certificate that ends sooner is a warning */
	/* ntmd.service cannot see below these (ProtectHome=yes, PrivateTmp=yes): a warning */
	std::vector<std::string> hidden_prefixes;
	/* ntmd.service may write only below these (ProtectSystem=strict); empty: anywhere */
	std::vector<std::string> writable_prefixes;
	/* ntmd.service creates these for the daemon's user at start (StateDirectory=, RuntimeDirectory=) */
	std::vector<std::string> unit_dirs;
};

/** daemon_principal(), the current time, and the sandbox of ntmd.service. */
Options default_options();

enum class Kind {
	config,	     /* ntmd.toml itself */
	public_file, /* a certificate or CA file: anyone may read it, nobody else write it */
	secret,	     /* a private key, password or PSK file, a database: the daemon's alone */
};

/**
 * A file ntmd reads, named by the configuration key what ("tls.ca"), and
 * the directories above it. Returns whether this process could open it, so
 * that its loader may run without repeating an error already reported.
 */
bool check_file(Report &r, const Options &o, const std::string &path, const std::string &what, Kind kind);

/** A directory ntmd creates files in (what: "as.database's directory"), created first if missing. */
void check_write_dir(Report &r, const Options &o, const std::string &dir, const std::string &what);

/** A file ntmd creates if missing and then reads and writes (a database): a secret once it exists. */
void check_state_file(Report &r, const Options &o, const std::string &path, const std::string &what);

/** Nobody but ntm's principal may replace anything on the way to path: world-writable directories above it. */
void check_ancestors(Report &r, const Options &o, const std::string &path);

/** "0644" */
std::string mode_string(mode_t mode);

} // namespace ntmd::check

#endif
