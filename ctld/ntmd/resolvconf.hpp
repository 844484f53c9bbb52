// SPDX-License-Identifier: GPL-2.0
/*
 * The DNS hook without systemd-resolved (D99): /etc/resolv.conf gets a
 * "nameserver STUB" line first, through resolvconf(8) when it is
 * installed, else by editing the file with a backup that is restored on
 * a clean stop and, after a crash, on the next start.
 */
#ifndef NTMD_RESOLVCONF_HPP
#define NTMD_RESOLVCONF_HPP

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/model.hpp"

namespace ntmd::resolvconf {

/** Ends the nameserver line ntmd adds; how a later run recognises it. */
inline constexpr std::string_view kMarker = "# added by ntmd (DNS hook)";

/** The text with "nameserver STUB <marker>" first and every other line kept (an older line of ours dropped). */
std::string with_stub(std::string_view text, const ntm::IpAddress &stub);
/** The text without the lines ntmd added. */
std::string without_stub(std::string_view text);
/** Whether the text has a line ntmd added. */
bool has_stub(std::string_view text);

enum class Kind {
	missing,       /* no such file */
	regular,       /* a file of its own: edit it (or let resolvconf do it) */
	resolved_stub, /* a symlink into /run/systemd/resolve: systemd-resolved's */
	other_symlink, /* a symlink elsewhere (resolvconf's /run/resolvconf/resolv.conf, NetworkManager...) */
};
Kind classify(const std::string &path);
const char *kind_name(Kind k) noexcept;

/** The file's whole text; nullopt when it cannot be read. */
std::optional<std::string> read_file(const std::string &path);

/**
 * A direct edit of a resolv.conf with a backup of what it held before.
 * The file is rewritten in place (same inode, owner and mode: it may be
 * a bind mount); the backup is written, synced and renamed into place
 * before the file is touched, so a crash leaves either the old file and
 * no backup, or the edited file and its backup.
 */
class FileEdit {
public:
	FileEdit(std::string path, std::string backup_path);
	FileEdit(const FileEdit &) = delete;
	FileEdit &operator=(const FileEdit &) = delete;
	FileEdit(FileEdit &&) = delete;
	FileEdit &operator=(FileEdit &&) = delete;
	/** restore() */
	~FileEdit();

	/**
	 * A backup left by a run that did not stop cleanly: the file gets it
	 * back if it still holds our line (else someone rewrote it since and
	 * it stays), then the backup goes. Returns whether a backup was found.
	 * Throws ntm::Error when the file cannot be written.
	 */
	bool recover();
	/** Puts "nameserver stub" first (recover() first); throws ntm::Error. */
	void apply(const ntm::IpAddress &stub);
	/**
	 * Back to the text before apply(), byte for byte, if the file is still
	 * what apply() wrote; if something rewrote it meanwhile only our line
	 * is taken out. Then the backup goes. Never throws; false on an error
	 * (logged).
	 */
	bool restore() noexcept;
	[[nodiscard]] bool applied() const noexcept { return applied_; }

private:
	std::string path_;
	std::string backup_;
	std::string written_;
	bool applied_ = false;
};

/** resolvconf(8), when installed: its path, else nullopt. */
std::optional<std::string> find_resolvconf();
/** `resolvconf -a IFACE.ntmd` with "nameserver STUB"; throws ntm::Error. */
void resolvconf_add(const std::string &tool, const std::string &ifname, const ntm::IpAddress &stub);
/** `resolvconf -d IFACE.ntmd`; false on an error (logged). */
bool resolvconf_delete(const std::string &tool, const std::string &ifname) noexcept;

/**
 * The nameservers of a resolv.conf text that are not one of ours (the
 * stub's own addresses would forward queries back to the stub).
 */
std::vector<ntm::Endpoint> upstream_servers(std::string_view text, const std::vector<ntm::IpAddress> &ours);

} // namespace ntmd::resolvconf

#endif
