// SPDX-License-Identifier: GPL-2.0
#include "check_files.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"

namespace ntmd::check {

namespace {

/* The user ntmd.service runs ntmd as (sysusers.d/ntm.conf, D98). */
constexpr const char *kDaemonUser = "ntm";

struct Account {
	uid_t uid = 0;
	gid_t gid = 0;
};

std::optional<Account> lookup_user(const char *name)
{
	passwd pw{};
	passwd *res = nullptr;
	std::array<char, 4096> buf{};
	if (::getpwnam_r(name, &pw, buf.data(), buf.size(), &res) != 0 || res == nullptr)
		return std::nullopt;
	return Account{pw.pw_uid, pw.pw_gid};
}

/* "alice (uid 1000)", or "uid 1000" without a passwd entry */
std::string user_name(uid_t uid)
{
	passwd pw{};
	passwd *res = nullptr;
	std::array<char, 4096> buf{};
	std::string id = "uid " + std::to_string(uid);
	if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || res == nullptr)
		return id;
	return std::string(pw.pw_name) + " (" + id + ")";
}

std::string group_name(gid_t gid)
{
	group gr{};
	group *res = nullptr;
	std::array<char, 4096> buf{};
	std::string id = "gid " + std::to_string(gid);
	if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) != 0 || res == nullptr)
		return id;
	return std::string(gr.gr_name) + " (" + id + ")";
}

bool owns(const Principal &p, const struct stat &st)
{
	return std::ranges::find(p.uids, st.st_uid) != p.uids.end();
}

/*
 * Whether the daemon, without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 * (ntmd.service bounds them away), has the permission bits want
 * (a combination of 4, 2, 1) on st: the owner's bits when it is the
 * owner, else the group's when the group is its own, else the others'.
 */
bool daemon_may(const Principal &p, const struct stat &st, unsigned want)
{
	const auto mode = static_cast<unsigned>(st.st_mode);
	if (owns(p, st))
		return ((mode >> 6) & want) == want;
	if (std::ranges::find(p.gids, st.st_gid) != p.gids.end() && ((mode >> 3) & want) == want)
		return true;
	return (mode & want) == want;
}

std::string owner_mode(const struct stat &st)
{
	return "owner " + user_name(st.st_uid) + ", group " + group_name(st.st_gid) + ", mode " +
	       mode_string(st.st_mode);
}

std::string not_owner(const Principal &p, const struct stat &st, const std::string &path)
{
	return "owned by " + user_name(st.st_uid) + ", not by " + p.names + " (chown " + p.chown_to + " " + path +
	       ")";
}

std::string who(const Principal &p)
{
	return "ntmd (" + p.names + ", without CAP_DAC_OVERRIDE)";
}

bool under(const std::string &path, const std::string &prefix)
{
	return path == prefix || (path.starts_with(prefix) && (prefix.ends_with('/') || path[prefix.size()] == '/'));
}

void check_sandbox_read(Report &r, const Options &o, const std::string &path, const std::string &what)
{
	for (const auto &h : o.hidden_prefixes)
		if (under(path, h)) {
			std::string text = what;
			text += ": ntmd.service cannot see files below ";
			text += h;
			text += " (ProtectHome=yes, PrivateTmp=yes)";
			r.warning(path, text);
			return;
		}
}

std::string absolute(const std::string &path)
{
	std::error_code ec;
	auto p = std::filesystem::absolute(path, ec);
	return ec ? path : p.lexically_normal().string();
}

void check_dirs_above(Report &r, const Options &o, const std::string &path)
{
	std::filesystem::path d = std::filesystem::path(absolute(path)).parent_path();
	for (;;) {
		const std::string ds = d.string();
		struct stat st {};
		if (!ds.empty() && ::stat(ds.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
			if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0)
				r.error(ds, "directory writable by others: anyone can replace what is in it (chmod o-w " +
						    ds + ")");
			if (!daemon_may(o.daemon, st, 1))
				r.error(ds, who(o.daemon) + " cannot enter this directory (" + owner_mode(st) + ")");
		}
		if (!d.has_relative_path() || d == d.parent_path())
			break;
		d = d.parent_path();
	}
}

} // namespace

Principal daemon_principal()
{
	if (const auto ntm = lookup_user(kDaemonUser); ntm && ntm->uid != 0)
		return Principal{{ntm->uid}, {ntm->gid}, kDaemonUser, std::string(kDaemonUser) + ":" + kDaemonUser, {0}};
	return Principal{{0}, {0}, "root", "root", {}};
}

Options default_options()
{
	Options o;
	o.daemon = daemon_principal();
	o.now = std::time(nullptr);
	/* ntmd.service (ctld/systemd/ntmd.service.in): ProtectHome=yes, PrivateTmp=yes, ProtectSystem=strict */
	o.hidden_prefixes = {"/home", "/root", "/run/user", "/tmp", "/var/tmp"};
	o.writable_prefixes = {"/var/lib/ntm", "/run/ntm"};
	o.unit_dirs = o.writable_prefixes;
	return o;
}

std::string mode_string(mode_t mode)
{
	std::array<char, 8> buf{};
	(void)std::snprintf(buf.data(), buf.size(), "%04o", static_cast<unsigned>(mode) & 07777U);
	return buf.data();
}

void check_ancestors(Report &r, const Options &o, const std::string &path)
{
	check_dirs_above(r, o, path);
	/* and those of the file a symbolic link leads to */
	std::array<char, PATH_MAX> real{};
	if (::realpath(path.c_str(), real.data()) != nullptr && absolute(path) != real.data())
		check_dirs_above(r, o, real.data());
}

bool check_file(Report &r, const Options &o, const std::string &path, const std::string &what, Kind kind)
{
	check_ancestors(r, o, path);
	check_sandbox_read(r, o, absolute(path), what);
	struct stat st {};
	if (::stat(path.c_str(), &st) != 0) {
		const int err = errno;
		r.error(path, what + (err == ENOENT ? std::string(": no such file") : ": " + ntm::errno_string(err)));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		r.error(path, what + ": not a regular file");
		return false;
	}
	if (kind == Kind::secret) {
		if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
			r.error(path, what + ": mode " + mode_string(st.st_mode) +
					      " gives group or others access to a secret (chmod 600 " + path + ")");
		if (!owns(o.daemon, st))
			r.error(path, what + ": " + not_owner(o.daemon, st, path));
		else if ((st.st_mode & S_IRUSR) == 0)
			r.error(path, what + ": mode " + mode_string(st.st_mode) + ": its owner cannot read it (chmod 600 " +
					      path + ")");
	} else {
		if ((st.st_mode & S_IWOTH) != 0)
			r.error(path, what + ": writable by others (chmod o-w " + path + ")");
		if (!owns(o.daemon, st) && std::ranges::find(o.daemon.trusted, st.st_uid) == o.daemon.trusted.end())
			r.warning(path, what + ": owned by " + user_name(st.st_uid) + ", who can change it");
		if (!daemon_may(o.daemon, st, 4))
			r.error(path, what + ": " + who(o.daemon) + " cannot read it (" + owner_mode(st) + ")");
	}
	const ntm::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
	if (!fd) {
		r.error(path, what + ": cannot open: " + ntm::errno_string(errno));
		return false;
	}
	return true;
}

void check_write_dir(Report &r, const Options &o, const std::string &dir, const std::string &what)
{
	const std::string abs = absolute(dir);
	if (!o.writable_prefixes.empty() &&
	    std::ranges::none_of(o.writable_prefixes, [&](const std::string &p) { return under(abs, p); })) {
		std::string list;
		for (const auto &p : o.writable_prefixes)
			list += (list.empty() ? "" : " and ") + p;
		r.warning(dir, what + ": ntmd.service may write only below " + list +
				       " (ProtectSystem=strict): add ReadWritePaths=" + abs + " in a drop-in");
	}
	check_sandbox_read(r, o, abs, what);
	check_ancestors(r, o, abs);
	struct stat st {};
	if (::stat(abs.c_str(), &st) != 0) {
		const int err = errno;
		if (err != ENOENT) {
			r.error(dir, what + ": " + ntm::errno_string(err));
			return;
		}
		/* systemd makes it, owned by the daemon's user, before ntmd starts (D98) */
		if (std::ranges::any_of(o.unit_dirs, [&](const std::string &u) {
			    struct stat us {};
			    return under(abs, u) && ::stat(u.c_str(), &us) != 0;
		    }))
			return;
		/* ntmd creates it (create_directories): in the nearest directory that exists */
		std::filesystem::path up = std::filesystem::path(abs).parent_path();
		while (::stat(up.c_str(), &st) != 0 && up.has_relative_path())
			up = up.parent_path();
		if (!S_ISDIR(st.st_mode))
			r.error(dir, what + ": does not exist, and " + up.string() + " is not a directory");
		else if (!daemon_may(o.daemon, st, 3))
			r.error(dir, what + ": does not exist, and " + who(o.daemon) + " cannot create it in " +
					     up.string() + " (" + owner_mode(st) + ")");
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		r.error(dir, what + ": not a directory");
		return;
	}
	if ((st.st_mode & S_IWOTH) != 0)
		r.error(dir, what + ": writable by others (chmod o-w " + abs + ")");
	if (!owns(o.daemon, st))
		r.error(dir, what + ": " + not_owner(o.daemon, st, abs));
	if (!daemon_may(o.daemon, st, 3))
		r.error(dir, what + ": " + who(o.daemon) + " cannot create files in it (" + owner_mode(st) + ")");
}

void check_state_file(Report &r, const Options &o, const std::string &path, const std::string &what)
{
	struct stat st {};
	if (::stat(path.c_str(), &st) != 0 && errno == ENOENT)
		return; /* created at start, mode 0600 */
	if (!check_file(r, o, path, what, Kind::secret))
		return;
	if (owns(o.daemon, st) && (st.st_mode & S_IWUSR) == 0)
		r.error(path, what + ": mode " + mode_string(st.st_mode) + ": ntmd cannot write to it (chmod 600 " + path +
				      ")");
}

} // namespace ntmd::check
