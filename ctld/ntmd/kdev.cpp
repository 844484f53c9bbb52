// SPDX-License-Identifier: GPL-2.0
#include "kdev.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <linux/ntm.h>

#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/handle.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"

namespace ntmd {

namespace {
/* a burst of expiries or acquires must not overflow it */
constexpr int kEventRcvBuf = 4 << 20;
} // namespace

NtmLink open_ntm_link(const std::string &name, const char *who)
{
	NtmLink l;
	auto link = ntm::find_link(name);
	if (!link) {
		ntm::create_link(name, NTM_LINK_KIND);
		link = ntm::find_link(name);
		if (!link)
			throw ntm::Error("device " + name + " vanished after creation", ENODEV);
		l.created = true;
		spdlog::info("{}: created {} (ifindex {})", who, name, link->ifindex);
	} else if (link->kind != NTM_LINK_KIND) {
		throw ntm::Error(name + " exists and is not an ntm device", EEXIST);
	}
	l.ifindex = link->ifindex;
	return l;
}

std::size_t clear_stale_state(ntm::GenlSocket &genl, const NtmLink &link, const std::string &name, const char *who,
			      bool relays)
{
	if (link.created)
		return 0;
	const auto dev = ntm::DeviceRef::by_index(link.ifindex);
	std::size_t tunnels = 0;
	std::size_t sessions = 0;
	ntm::dump_tunnels(genl, dev, [&tunnels](ntm::Tunnel &&) { tunnels++; });
	if (tunnels != 0)
		ntm::flush_tunnels(genl, dev);
	if (relays) {
		ntm::dump_relays(genl, dev, [&sessions](ntm::Relay &&) { sessions++; });
		if (sessions != 0)
			ntm::flush_relays(genl, dev);
	}
	if (tunnels + sessions != 0)
		spdlog::warn("{}: {} held {} tunnels and {} relay sessions of an earlier run: removed", who, name, tunnels,
			     sessions);
	return tunnels + sessions;
}

void close_ntm_link(ntm::GenlSocket &genl, NtmLink &link, const std::string &name, const char *who) noexcept
{
	if (link.ifindex == 0)
		return;
	try {
		if (link.created) {
			ntm::delete_link(link.ifindex);
			spdlog::info("{}: deleted {}", who, name);
		} else {
			ntm::flush_tunnels(genl, ntm::DeviceRef::by_index(link.ifindex));
		}
	} catch (const std::exception &e) {
		try {
			spdlog::warn("{}: cleanup of {}: {}", who, name, e.what());
		} catch (...) { // NOLINT(bugprone-empty-catch): logging failed, nothing left to do
		}
	}
	link.ifindex = 0;
}

void watch_kernel_events(ntm::GenlSocket &events, asio::posix::stream_descriptor &d)
{
	events.join_group(events.group_id(NTM_GENL_MCGRP_EVENTS));
	events.set_rcvbuf(kEventRcvBuf);
	events.set_nonblocking();
	ntm::UniqueFd fd(::fcntl(events.fd(), F_DUPFD_CLOEXEC, 0));
	if (!fd)
		ntm::throw_errno("dup event socket");
	d.assign(fd.get());
	(void)fd.release();
}

void watch_rtnetlink(asio::posix::stream_descriptor &d, std::uint32_t groups)
{
	ntm::UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
	if (!fd)
		ntm::throw_errno("rtnetlink socket");
	sockaddr_nl sa{};
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = groups;
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) < 0)
		ntm::throw_errno("rtnetlink bind");
	d.assign(fd.get());
	(void)fd.release();
}

asio::awaitable<void> kernel_event_loop(asio::posix::stream_descriptor &d, ntm::GenlSocket &events, const bool &stopped,
					std::function<void(const ntm::Event &)> sink, const char *who)
{
	for (;;) {
		asio::error_code ec;
		co_await d.async_wait(asio::posix::descriptor_base::wait_read,
				      asio::redirect_error(asio::use_awaitable, ec));
		if (ec || stopped)
			co_return;
		const auto st = events.receive_events([&](const ntm::GenlReply &r) {
			try {
				if (const auto e = ntm::parse_event(r.cmd, r.attrs))
					sink(*e);
			} catch (const std::exception &e) {
				spdlog::warn("{}: event: {}", who, e.what());
			}
		});
		if (st == ntm::GenlSocket::RecvStatus::overrun)
			spdlog::warn("{}: kernel events lost (receive buffer overflow)", who);
	}
}

} // namespace ntmd
