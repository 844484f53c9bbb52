// SPDX-License-Identifier: GPL-2.0
#include "dbowner.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "ntm/error.hpp"

namespace ntmctl {

namespace {

std::string db_dir(const std::string &db_path)
{
	std::error_code ec;
	auto p = std::filesystem::absolute(db_path, ec);
	if (ec)
		p = db_path;
	const auto dir = p.lexically_normal().parent_path();
	return dir.empty() ? std::string(".") : dir.string();
}

} // namespace

AsDbOwner::AsDbOwner(const std::string &db_path)
{
	if (::geteuid() != 0)
		return;
	const std::string dir = db_dir(db_path);
	struct stat st {};
	if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0)
		return; /* the open reports a missing directory; root's directory: root's files */
	const auto fail = [&](const char *step) {
		const int err = errno;
		restore();
		throw ntm::Error("cannot switch to uid " + std::to_string(st.st_uid) + " gid " +
					 std::to_string(st.st_gid) + ", the owner of " + dir + " (" + step + ": " +
					 ntm::errno_string(err) + "); run ntmctl as that user",
				 err);
	};
	egid_ = ::getegid();
	const int n = ::getgroups(0, nullptr);
	if (n < 0)
		fail("getgroups");
	groups_.resize(static_cast<std::size_t>(n));
	if (n > 0 && ::getgroups(n, groups_.data()) < 0)
		fail("getgroups");
	const gid_t gid = st.st_gid;
	if (::setgroups(1, &gid) != 0)
		fail("setgroups");
	groups_set_ = true;
	if (::setresgid(static_cast<gid_t>(-1), gid, static_cast<gid_t>(-1)) != 0)
		fail("setresgid");
	gid_set_ = true;
	if (::setresuid(static_cast<uid_t>(-1), st.st_uid, static_cast<uid_t>(-1)) != 0)
		fail("setresuid");
	switched_ = true;
}

AsDbOwner::~AsDbOwner()
{
	restore();
}

void AsDbOwner::restore() noexcept
{
	/* the real and saved uid are 0: switching back cannot fail unless something else changed them */
	bool ok = true;
	if (switched_)
		ok = ::setresuid(static_cast<uid_t>(-1), 0, static_cast<uid_t>(-1)) == 0;
	if (ok && gid_set_)
		ok = ::setresgid(static_cast<gid_t>(-1), egid_, static_cast<gid_t>(-1)) == 0;
	if (ok && groups_set_)
		ok = ::setgroups(groups_.size(), groups_.data()) == 0;
	if (!ok) {
		(void)std::fprintf(stderr, "ntmctl: cannot switch back to root: %s\n", ntm::errno_string(errno).c_str());
		std::abort();
	}
	switched_ = gid_set_ = groups_set_ = false;
}

} // namespace ntmctl
