// SPDX-License-Identifier: GPL-2.0
#include "dns_setup.hpp"

#include <pwd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "ntm/error.hpp"

namespace ntmd {

namespace {

constexpr const char *kResolvedUplinks = "/run/systemd/resolve/resolv.conf";
constexpr const char *kResolvconfRecords = "/run/resolvconf/interface";
constexpr std::uint16_t kDnsPort = 53;

/* the polkit rule of the ntmd package and make install (D98) */
constexpr const char *kPolkitRule = "/usr/share/polkit-1/rules.d/ntmd.rules";

std::string user_name(uid_t uid)
{
	std::array<char, 1024> buf{};
	passwd pw{};
	passwd *res = nullptr;
	if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res != nullptr)
		return std::string("user ") + res->pw_name;
	return "uid " + std::to_string(uid);
}

std::string dir_of(const std::string &path)
{
	const auto slash = path.rfind('/');
	return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

const char *DnsSetup::mode_name(Mode m) noexcept
{
	switch (m) {
	case Mode::none:
		return "none";
	case Mode::resolved:
		return "systemd-resolved";
	case Mode::resolvconf:
		return "resolvconf";
	case Mode::edit:
		return "resolv.conf";
	}
	return "?";
}

DnsSetup::DnsSetup(asio::io_context &io, Options o, DnsStub &stub)
    : io_(io), o_(std::move(o)), stub_(stub), upstream_file_(o_.resolv_conf), inotify_(io)
{}

DnsSetup::~DnsSetup()
{
	stop();
}

std::vector<ntm::IpAddress> DnsSetup::our_addresses() const
{
	std::vector<ntm::IpAddress> r;
	for (const auto &e : stub_.local_endpoints())
		r.push_back(e.address());
	for (const auto &e : o_.listen)
		r.push_back(e.address());
	if (link_addr_)
		r.push_back(*link_addr_);
	return r;
}

void DnsSetup::start()
{
	using R = ntm::config::Node::Resolved;
	const std::string stub_addr = o_.listen.empty() ? std::string("?") : o_.listen.front().address().to_string();
	const std::string backup = o_.state_dir + "/resolv.conf.ntmd-backup";
	edit_ = std::make_unique<resolvconf::FileEdit>(o_.resolv_conf, backup);
	try {
		/* a backup left by a crash is restored whatever this run does */
		(void)edit_->recover();
	} catch (const std::exception &e) {
		spdlog::warn("dns: {}", e.what());
	}
	if (o_.resolved == R::no) {
		spdlog::info("dns: resolved = \"no\": applications reach the DNS hook when {} says 'nameserver {}'",
			     o_.resolv_conf, stub_addr);
		watch_upstream();
		return;
	}
	if (ResolvedLink::available()) {
		try {
			resolved_ = std::make_unique<ResolvedLink>(o_.ifindex, o_.ifname);
			try {
				resolved_->follow(io_);
			} catch (const std::exception &e) {
				spdlog::warn("dns: {}: {} loses its DNS settings if resolved restarts", e.what(),
					     o_.ifname);
			}
			mode_ = Mode::resolved;
			upstream_file_ = kResolvedUplinks;
			spdlog::info("dns: systemd-resolved is running: {} gets per-link DNS once registered", o_.ifname);
			reread_upstream();
			watch_upstream();
			return;
		} catch (const std::exception &e) {
			if (o_.resolved == R::yes)
				throw;
			spdlog::warn("dns: {}", e.what());
		}
	} else if (o_.resolved == R::yes) {
		throw ntm::Error("node.resolved = \"yes\" but systemd-resolved (org.freedesktop.resolve1) is not on the "
				 "system bus: start it, or set resolved = \"auto\" or \"no\"",
				 ENOENT);
	}
	/* auto without resolved */
	const auto kind = resolvconf::classify(o_.resolv_conf);
	if (o_.listen.empty() || (kind != resolvconf::Kind::regular && kind != resolvconf::Kind::other_symlink)) {
		spdlog::info("dns: {} is {}: not changed; applications reach the DNS hook with 'nameserver {}'",
			     o_.resolv_conf, resolvconf::kind_name(kind), stub_addr);
		watch_upstream();
		return;
	}
	const auto stub = o_.listen.front().address();
	resolvconf_tool_ = resolvconf::find_resolvconf();
	if (resolvconf_tool_) {
		try {
			resolvconf::resolvconf_add(*resolvconf_tool_, "lo", stub);
			mode_ = Mode::resolvconf;
			if (std::filesystem::is_directory(kResolvconfRecords))
				upstream_file_.clear(); /* the other records of resolvconf */
			reread_upstream();
			watch_upstream();
			return;
		} catch (const std::exception &e) {
			last_error_ = e.what();
			spdlog::warn("dns: {}", e.what());
		}
	}
	if (kind != resolvconf::Kind::regular) {
		spdlog::info("dns: {} is {}: not edited; applications reach the DNS hook with 'nameserver {}'",
			     o_.resolv_conf, resolvconf::kind_name(kind), stub_addr);
		watch_upstream();
		return;
	}
	try {
		edit_->apply(stub);
		mode_ = Mode::edit;
	} catch (const std::exception &e) {
		last_error_ = e.what();
		spdlog::warn("dns: {}: applications reach the DNS hook only with 'nameserver {}' (a unit with "
			     "ProtectSystem=strict needs ReadWritePaths=/etc/resolv.conf, ntmd(8) DNS)",
			     e.what(), stub_addr);
	}
	watch_upstream();
}

void DnsSetup::registered(const std::optional<ntm::IpAddress> &vip4, const std::optional<ntm::IpAddress> &vip6,
			  const std::vector<std::string> &domains)
{
	if (mode_ != Mode::resolved || stopped_)
		return;
	/* one server for the link: a second would only be asked when the first fails, and it is the same stub */
	const auto vip = vip4 ? vip4 : vip6;
	if (!vip) {
		spdlog::warn("dns: no virtual address: systemd-resolved is not told about {}", o_.ifname);
		return;
	}
	try {
		if (link_addr_ != vip) {
			if (link_addr_)
				stub_.remove_listener(ntm::Endpoint(*link_addr_, kDnsPort));
			link_addr_.reset();
			stub_.add_listener(ntm::Endpoint(*vip, kDnsPort));
			link_addr_ = vip;
			link_domains_.clear();
		}
		if (link_domains_ != domains || !resolved_->applied()) {
			resolved_->apply({*vip}, domains);
			link_domains_ = domains;
		}
		last_error_.clear();
		refusal_logged_ = false;
	} catch (const ntm::Error &e) {
		if (e.code() == EACCES || e.code() == EPERM)
			refused(e.what(), *vip);
		else {
			last_error_ = e.what();
			spdlog::warn("dns: {}", e.what());
		}
	} catch (const std::exception &e) {
		last_error_ = e.what();
		spdlog::warn("dns: {}", e.what());
	}
}

/*
 * resolved grants per-link DNS to root, or to others through polkit only:
 * ntmd as the user ntm (D98) needs polkitd and the rule of its package.
 * Nothing else can stand in (resolv.conf is resolved's stub, and a user
 * changes neither it nor resolvconf's records): the stub on the virtual
 * address stays, for applications told 'nameserver VIP'.  Said once as an
 * error, then at debug level after each registration that retries.
 */
void DnsSetup::refused(const std::string &what, const ntm::IpAddress &vip)
{
	const uid_t uid = geteuid();
	std::string why;
	if (uid == 0)
		why = "ntmd runs as root, yet was refused";
	else if (std::error_code ec; !std::filesystem::exists(kPolkitRule, ec))
		why = "ntmd runs as " + user_name(uid) + ", which resolved allows only through polkit, and the rule " +
		      kPolkitRule + " (package ntmd, make install) is missing";
	else
		why = "ntmd runs as " + user_name(uid) + ", which resolved allows only through polkit: polkitd is " +
		      "needed (apt install polkitd) for the rule " + kPolkitRule;
	last_error_ = what + " (access denied): " + why + "; applications reach the DNS hook only with 'nameserver " +
		      vip.to_string() + "'";
	spdlog::log(refusal_logged_ ? spdlog::level::debug : spdlog::level::err, "dns: {}", last_error_);
	refusal_logged_ = true;
}

void DnsSetup::stop() noexcept
{
	if (stopped_)
		return;
	stopped_ = true;
	std::error_code ignored;
	inotify_.close(ignored);
	if (resolved_)
		(void)resolved_->revert();
	if (mode_ == Mode::resolvconf && resolvconf_tool_)
		(void)resolvconf::resolvconf_delete(*resolvconf_tool_, "lo");
	if (edit_)
		(void)edit_->restore();
}

void DnsSetup::reread_upstream()
{
	if (o_.upstream_explicit || stopped_)
		return;
	std::string text;
	if (upstream_file_.empty()) {
		std::error_code ec;
		for (const auto &f : std::filesystem::directory_iterator(kResolvconfRecords, ec))
			if (f.path().filename() != "lo.ntmd")
				text += resolvconf::read_file(f.path()).value_or("") + "\n";
	} else {
		const auto t = resolvconf::read_file(upstream_file_);
		if (!t)
			return; /* being replaced: the next event reads it */
		text = *t;
	}
	auto up = resolvconf::upstream_servers(text, our_addresses());
	if (up == stub_.upstream())
		return;
	std::string s;
	for (const auto &e : up)
		s += (s.empty() ? "" : " ") + e.address().to_string();
	if (up.empty())
		spdlog::warn("dns: no upstream resolver left in {}: other names get SERVFAIL",
			     upstream_file_.empty() ? kResolvconfRecords : upstream_file_);
	else
		spdlog::info("dns: upstream resolvers now {}", s);
	stub_.set_upstream(std::move(up));
}

void DnsSetup::watch_upstream()
{
	if (o_.upstream_explicit)
		return;
	watch_dir_ = upstream_file_.empty() ? std::string(kResolvconfRecords) : dir_of(upstream_file_);
	const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		spdlog::warn("dns: inotify: {}: upstream resolvers are not followed", ntm::errno_string(errno));
		return;
	}
	if (::inotify_add_watch(fd, watch_dir_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
		spdlog::warn("dns: inotify on {}: {}: upstream resolvers are not followed", watch_dir_,
			     ntm::errno_string(errno));
		::close(fd);
		return;
	}
	inotify_.assign(fd);
	arm_watch();
}

void DnsSetup::arm_watch()
{
	inotify_.async_wait(asio::posix::descriptor_base::wait_read, [this](const std::error_code &ec) {
		if (ec || stopped_)
			return;
		std::array<char, 4096> buf{};
		while (::read(inotify_.native_handle(), buf.data(), buf.size()) > 0) {
		}
		reread_upstream();
		arm_watch();
	});
}

} // namespace ntmd
