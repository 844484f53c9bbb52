// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl's database commands (account, dc) run as root write the daemon's
 * SQLite files: without care they would leave root-owned accounts.db,
 * -wal and -shm files in /var/lib/ntm that ntmd, running as the user ntm,
 * can no longer write (D98). AsDbOwner switches the effective uid and gid
 * to the owner of the database's directory for as long as it lives.
 */
#ifndef NTMCTL_DBOWNER_HPP
#define NTMCTL_DBOWNER_HPP

#include <sys/types.h>

#include <string>
#include <vector>

namespace ntmctl {

class AsDbOwner {
public:
	/**
	 * When this process's effective uid is 0 and the directory of db_path
	 * belongs to another user: setgroups() to the directory's group,
	 * setresgid() and setresuid() of the effective ids to the directory's
	 * owner (real and saved ids stay 0, so the destructor can switch back).
	 * Otherwise (not root, a root-owned or missing directory) nothing.
	 * Throws ntm::Error naming the owner when a switch fails.
	 */
	explicit AsDbOwner(const std::string &db_path);
	AsDbOwner(const AsDbOwner &) = delete;
	AsDbOwner &operator=(const AsDbOwner &) = delete;
	AsDbOwner(AsDbOwner &&) = delete;
	AsDbOwner &operator=(AsDbOwner &&) = delete;
	/** Back to uid 0, the old effective gid and supplementary groups. */
	~AsDbOwner();

	[[nodiscard]] bool switched() const noexcept { return switched_; }

private:
	void restore() noexcept;

	bool switched_ = false;
	bool groups_set_ = false;
	bool gid_set_ = false;
	gid_t egid_ = 0;
	std::vector<gid_t> groups_;
};

} // namespace ntmctl

#endif
