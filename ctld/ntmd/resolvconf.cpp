// SPDX-License-Identifier: GPL-2.0
#include "resolvconf.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "ntm/config.hpp"
#include "ntm/error.hpp"

extern char **environ; // NOLINT(readability-redundant-declaration): posix_spawn's environment

namespace ntmd::resolvconf {

namespace {

constexpr std::size_t kMaxFile = std::size_t{64} << 10;

std::string errno_text(int e)
{
	return std::error_code(e, std::generic_category()).message();
}

bool ours(std::string_view line)
{
	return line.size() >= kMarker.size() && line.substr(line.size() - kMarker.size()) == kMarker;
}

/* Lines without their '\n'; a last line without one counts. */
std::vector<std::string_view> lines(std::string_view text)
{
	std::vector<std::string_view> r;
	while (!text.empty()) {
		const auto nl = text.find('\n');
		r.push_back(text.substr(0, nl));
		if (nl == std::string_view::npos)
			break;
		text.remove_prefix(nl + 1);
	}
	return r;
}

/* Writes all of text into an open descriptor; false with errno set. */
bool write_all(int fd, std::string_view text)
{
	while (!text.empty()) {
		const ssize_t n = ::write(fd, text.data(), text.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		text.remove_prefix(static_cast<std::size_t>(n));
	}
	return true;
}

/* In place: same inode, owner and mode. */
void rewrite(const std::string &path, std::string_view text)
{
	const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		throw ntm::Error(path + ": cannot write: " + errno_text(errno), errno);
	const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
	const int e = errno;
	::close(fd);
	if (!ok)
		throw ntm::Error(path + ": write: " + errno_text(e), e);
}

/* A new file, complete or not there at all: temporary, fsync, rename. */
void write_new(const std::string &path, std::string_view text)
{
	const std::string tmp = path + ".tmp";
	const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		throw ntm::Error(tmp + ": cannot create: " + errno_text(errno), errno);
	const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
	const int e = errno;
	::close(fd);
	if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
		const int e2 = ok ? errno : e;
		::unlink(tmp.c_str());
		throw ntm::Error(path + ": " + errno_text(e2), e2);
	}
}

} // namespace

std::string with_stub(std::string_view text, const ntm::IpAddress &stub)
{
	std::string out = "nameserver " + stub.to_string() + " " + std::string(kMarker) + "\n";
	out += without_stub(text);
	return out;
}

std::string without_stub(std::string_view text)
{
	std::string out;
	out.reserve(text.size());
	std::size_t pos = 0;
	while (pos < text.size()) {
		const auto nl = text.find('\n', pos);
		const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
		const auto line = text.substr(pos, (nl == std::string_view::npos ? text.size() : nl) - pos);
		if (!ours(line))
			out.append(text.substr(pos, end - pos));
		pos = end;
	}
	return out;
}

bool has_stub(std::string_view text)
{
	for (const auto l : lines(text))
		if (ours(l))
			return true;
	return false;
}

Kind classify(const std::string &path)
{
	struct stat st {};
	if (::lstat(path.c_str(), &st) != 0)
		return Kind::missing;
	if (S_ISREG(st.st_mode))
		return Kind::regular;
	if (!S_ISLNK(st.st_mode))
		return Kind::other_symlink;
	std::array<char, 4096> buf{};
	const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
	const std::string_view target(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
	/* ../run/systemd/resolve/stub-resolv.conf, /run/systemd/resolve/resolv.conf */
	if (target.find("systemd/resolve/") != std::string_view::npos)
		return Kind::resolved_stub;
	return Kind::other_symlink;
}

const char *kind_name(Kind k) noexcept
{
	switch (k) {
	case Kind::missing:
		return "missing";
	case Kind::regular:
		return "a regular file";
	case Kind::resolved_stub:
		return "systemd-resolved's symlink";
	case Kind::other_symlink:
		return "a symlink not to systemd-resolved";
	}
	return "?";
}

std::optional<std::string> read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return std::nullopt;
	std::string text;
	std::array<char, 8192> buf{};
	while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
		text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
		if (text.size() > kMaxFile)
			return std::nullopt;
	}
	if (in.bad())
		return std::nullopt;
	return text;
}

FileEdit::FileEdit(std::string path, std::string backup_path) : path_(std::move(path)), backup_(std::move(backup_path))
{}

FileEdit::~FileEdit()
{
	(void)restore();
}

bool FileEdit::recover()
{
	const auto saved = read_file(backup_);
	if (!saved)
		return false;
	const auto now = read_file(path_);
	if (now && has_stub(*now)) {
		rewrite(path_, *saved);
		spdlog::warn("dns: {}: restored from {}, left by a run that did not stop cleanly", path_, backup_);
	} else {
		spdlog::info("dns: {}: rewritten since the last run: its backup {} is dropped", path_, backup_);
	}
	::unlink(backup_.c_str());
	return true;
}

void FileEdit::apply(const ntm::IpAddress &stub)
{
	if (applied_)
		(void)restore();
	(void)recover();
	const auto old = read_file(path_);
	if (!old)
		throw ntm::Error(path_ + ": cannot read", EIO);
	write_new(backup_, *old);
	written_ = with_stub(*old, stub);
	try {
		rewrite(path_, written_);
	} catch (...) {
		::unlink(backup_.c_str());
		throw;
	}
	applied_ = true;
	spdlog::info("dns: {}: 'nameserver {}' added first (backup in {})", path_, stub.to_string(), backup_);
}

bool FileEdit::restore() noexcept
{
	if (!applied_)
		return true;
	applied_ = false;
	try {
		const auto saved = read_file(backup_);
		const auto now = read_file(path_);
		if (!now) {
			spdlog::warn("dns: {}: gone; not restored", path_);
		} else if (saved && *now == written_) {
			rewrite(path_, *saved);
			spdlog::info("dns: {}: restored", path_);
		} else if (has_stub(*now)) {
			rewrite(path_, without_stub(*now));
			spdlog::info("dns: {}: rewritten by someone else meanwhile: only our nameserver line taken out",
				     path_);
		}
		::unlink(backup_.c_str());
		return true;
	} catch (const std::exception &e) {
		spdlog::warn("dns: {}: not restored: {} (the backup stays in {})", path_, e.what(), backup_);
		return false;
	}
}

std::optional<std::string> find_resolvconf()
{
	for (const char *p : {"/usr/sbin/resolvconf", "/sbin/resolvconf"}) {
		if (::access(p, X_OK) != 0)
			continue;
		/*
		 * systemd-resolved's package ships resolvconf as a link to
		 * resolvectl: with resolved stopped it would start it (D-Bus
		 * activation) and refuse "lo"; that is not a resolvconf.
		 */
		std::error_code ec;
		const auto real = std::filesystem::canonical(p, ec);
		if (!ec && real.filename() == "resolvectl")
			continue;
		return std::string(p);
	}
	return std::nullopt;
}

namespace {

/* Runs tool with args, stdin from input; the exit status, or -1. */
int run(const std::string &tool, const std::vector<std::string> &args, std::string_view input)
{
	std::array<int, 2> fds{};
	if (::pipe2(fds.data(), O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
	std::vector<char *> argv;
	std::vector<std::string> all{tool};
	all.insert(all.end(), args.begin(), args.end());
	for (auto &a : all)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	pid_t pid = 0;
	const int rc = posix_spawn(&pid, tool.c_str(), &fa, nullptr, argv.data(), environ);
	posix_spawn_file_actions_destroy(&fa);
	::close(fds[0]);
	if (rc != 0) {
		::close(fds[1]);
		errno = rc;
		return -1;
	}
	(void)write_all(fds[1], input);
	::close(fds[1]);
	int status = 0;
	while (::waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

void resolvconf_add(const std::string &tool, const std::string &ifname, const ntm::IpAddress &stub)
{
	const std::string rec = ifname + ".ntmd";
	const int st = run(tool, {"-a", rec}, "nameserver " + stub.to_string() + "\n");
	if (st != 0)
		throw ntm::Error(tool + " -a " + rec + " failed" + (st > 0 ? " (exit status " + std::to_string(st) + ")" : ""),
				 EIO);
	spdlog::info("dns: {} -a {}: nameserver {}", tool, rec, stub.to_string());
}

bool resolvconf_delete(const std::string &tool, const std::string &ifname) noexcept
{
	try {
		const std::string rec = ifname + ".ntmd";
		const int st = run(tool, {"-d", rec}, "");
		if (st != 0) {
			spdlog::warn("dns: {} -d {} failed", tool, rec);
			return false;
		}
		spdlog::info("dns: {} -d {}", tool, rec);
		return true;
	} catch (const std::exception &e) {
		spdlog::warn("dns: resolvconf -d: {}", e.what());
		return false;
	}
}

std::vector<ntm::Endpoint> upstream_servers(std::string_view text, const std::vector<ntm::IpAddress> &ours_addrs)
{
	std::vector<ntm::Endpoint> r;
	for (const auto &e : ntm::config::parse_resolv_conf(text))
		if (std::ranges::find(ours_addrs, e.address()) == ours_addrs.end())
			r.push_back(e);
	return r;
}

} // namespace ntmd::resolvconf
