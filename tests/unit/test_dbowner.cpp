// SPDX-License-Identifier: GPL-2.0
/*
 * D98: ntmctl run as root writes ntmd's databases as the owner of their
 * directory (AsDbOwner), so no root-owned accounts.db, -wal or -shm is
 * left where ntmd, running as the user ntm, must write. Needs root (it
 * chowns a scratch directory to nobody, uid 65534); skipped otherwise.
 */
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "run_ntmctl.hpp"
#include "dbowner.hpp"
#include "ntm/store.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

constexpr uid_t kOther = 65534; /* nobody, nogroup */

using ntm_test::Result;
using ntm_test::run_ntmctl;

uid_t owner_of(const fs::path &p)
{
	struct stat st {};
	EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
	return st.st_uid;
}

/* a scratch directory with a state directory in it, owned by state_uid */
class Scratch {
public:
	Scratch(const std::string &name, uid_t state_uid) : tmp_(name)
	{
		fs::create_directories(state());
		::chmod(top_.c_str(), 0755); /* the state directory's owner must reach it */
		::chmod(state().c_str(), 0700);
		EXPECT_EQ(::chown(state().c_str(), state_uid, state_uid), 0);
		/* a password only root may read: ntmctl reads it before it switches */
		std::ofstream(password()) << "correct horse\n";
		::chmod(password().c_str(), 0600);
	}
	[[nodiscard]] fs::path state() const { return top_ / "state"; }
	[[nodiscard]] fs::path password() const { return top_ / "password"; }
	[[nodiscard]] std::string db() const { return (state() / "accounts.db").string(); }

private:
	ntm::test::TempDir tmp_;
	fs::path top_{tmp_.path()};
};

} // namespace

TEST(AsDbOwner, NothingWhenNotRoot)
{
	if (::geteuid() == 0)
		GTEST_SKIP() << "runs as root";
	const ntmctl::AsDbOwner o("/var/lib/ntm/accounts.db");
	EXPECT_FALSE(o.switched());
}

TEST(AsDbOwner, SwitchesWhileAliveAndBack)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root";
	const Scratch s("ntm-dbowner-scope", kOther);
	const gid_t egid = ::getegid();
	{
		const ntmctl::AsDbOwner o(s.db());
		EXPECT_TRUE(o.switched());
		EXPECT_EQ(::geteuid(), kOther);
		EXPECT_EQ(::getegid(), kOther);
		ntm::store::AccountStore store(s.db(), true);
		(void)store.list();
		/* while the database is open in WAL mode, its -wal and -shm exist: nobody's too */
		EXPECT_EQ(owner_of(s.db()), kOther);
		EXPECT_EQ(owner_of(s.db() + "-wal"), kOther);
		EXPECT_EQ(owner_of(s.db() + "-shm"), kOther);
	}
	EXPECT_EQ(::geteuid(), 0U);
	EXPECT_EQ(::getegid(), egid);
}

TEST(AsDbOwner, RootOwnedDirectoryStaysRoot)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root";
	const Scratch s("ntm-dbowner-root", 0);
	const ntmctl::AsDbOwner o(s.db());
	EXPECT_FALSE(o.switched());
	EXPECT_EQ(::geteuid(), 0U);
}

TEST(AsDbOwner, AccountCommandsLeaveNoRootFiles)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root";
	const Scratch s("ntm-dbowner-cli", kOther);
	const auto add = run_ntmctl({"account", "add", "alice", "--fqdn", "a.ntm.test", "--password-file",
				 s.password().string(), "--kdf-cost", "10", "--db", s.db()});
	EXPECT_EQ(add.rc, 0) << add.err;
	const auto list = run_ntmctl({"account", "list", "--db", s.db()});
	EXPECT_EQ(list.rc, 0) << list.err;
	EXPECT_NE(list.out.find("a.ntm.test"), std::string::npos) << list.out;
	const auto del = run_ntmctl({"account", "del", "alice", "--db", s.db()});
	EXPECT_EQ(del.rc, 0) << del.err;
	EXPECT_EQ(::geteuid(), 0U);
	int files = 0;
	for (const auto &e : fs::directory_iterator(s.state())) {
		EXPECT_EQ(owner_of(e.path()), kOther) << e.path();
		files++;
	}
	EXPECT_GE(files, 1);
}
