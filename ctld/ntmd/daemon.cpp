// SPDX-License-Identifier: GPL-2.0
#include "daemon.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <exception>
#include <optional>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <linux/ntm.h>

#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/genl.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "udp.hpp"
#include "watchdog.hpp"

namespace ntmd {

namespace {

using asio::awaitable;
using asio::use_awaitable;

constexpr int kEventRcvBuf = 4 << 20;

/* Deletes the link on scope exit when ntmd created it. */
class LinkGuard {
public:
	LinkGuard() = default;
	LinkGuard(const LinkGuard &) = delete;
	LinkGuard &operator=(const LinkGuard &) = delete;
	LinkGuard(LinkGuard &&) = delete;
	LinkGuard &operator=(LinkGuard &&) = delete;
	~LinkGuard()
	{
		if (ifindex_ == 0)
			return;
		try {
			ntm::delete_link(ifindex_);
			spdlog::info("deleted {}", name_);
		} catch (const std::exception &e) {
			spdlog::warn("{}", e.what());
		}
	}
	void arm(std::uint32_t ifindex, std::string name)
	{
		ifindex_ = ifindex;
		name_ = std::move(name);
	}

private:
	std::uint32_t ifindex_ = 0;
	std::string name_;
};

/* Detaches the sockets from the device on scope exit (fd -1). */
class AttachGuard {
public:
	AttachGuard(ntm::GenlSocket &gs, std::uint32_t ifindex) : gs_(gs), ifindex_(ifindex) {}
	AttachGuard(const AttachGuard &) = delete;
	AttachGuard &operator=(const AttachGuard &) = delete;
	AttachGuard(AttachGuard &&) = delete;
	AttachGuard &operator=(AttachGuard &&) = delete;
	~AttachGuard() { detach(); }

	void attach(const ntm::DeviceSettings &s)
	{
		ntm::set_device(gs_, ntm::DeviceRef::by_index(ifindex_), s);
		v4_ = s.udp4_fd.has_value();
		v6_ = s.udp6_fd.has_value();
	}

	void detach() noexcept
	{
		if (!v4_ && !v6_)
			return;
		ntm::DeviceSettings s;
		if (v4_)
			s.udp4_fd = -1;
		if (v6_)
			s.udp6_fd = -1;
		v4_ = v6_ = false;
		try {
			ntm::set_device(gs_, ntm::DeviceRef::by_index(ifindex_), s);
			spdlog::debug("sockets detached");
		} catch (const ntm::Error &e) {
			/* gone with the device, or the module: nothing to undo */
			if (e.code() == ENODEV)
				spdlog::debug("detach: {}", e.what());
			else
				spdlog::warn("detach: {}", e.what());
		} catch (const std::exception &e) {
			spdlog::warn("detach: {}", e.what());
		}
	}

private:
	ntm::GenlSocket &gs_;
	std::uint32_t ifindex_;
	bool v4_ = false;
	bool v6_ = false;
};

/* Writes the pid file, removes it on scope exit. */
class PidFile {
public:
	explicit PidFile(std::string path) : path_(std::move(path))
	{
		if (path_.empty())
			return;
		const ntm::UniqueFd fd(
			::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
		if (!fd)
			ntm::throw_errno("pid file " + path_);
		const std::string s = std::to_string(::getpid()) + "\n";
		if (::write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size())) {
			const int err = errno;
			(void)::unlink(path_.c_str());
			ntm::throw_errno("pid file " + path_, err);
		}
		written_ = true;
	}
	PidFile(const PidFile &) = delete;
	PidFile &operator=(const PidFile &) = delete;
	PidFile(PidFile &&) = delete;
	PidFile &operator=(PidFile &&) = delete;
	~PidFile()
	{
		if (written_)
			(void)::unlink(path_.c_str());
	}

private:
	std::string path_;
	bool written_ = false;
};

struct Counters {
	std::array<std::uint64_t, kDatagramKinds> by_kind{};
	std::uint64_t datagrams = 0;
	std::uint64_t bytes = 0;
	std::uint64_t events = 0;
	std::uint64_t events_lost = 0;
};

void log_counters(const Counters &c)
{
	std::string kinds;
	for (std::size_t i = 0; i < c.by_kind.size(); i++) {
		if (c.by_kind.at(i) == 0)
			continue;
		kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", kind_name(static_cast<DatagramKind>(i)),
				     c.by_kind.at(i));
	}
	spdlog::info("received {} datagrams ({} bytes){}{}; {} events ({} lost)", c.datagrams, c.bytes,
		     kinds.empty() ? "" : ": ", kinds, c.events, c.events_lost);
}

awaitable<void> udp_loop(asio::ip::udp::socket &sock, const char *name, Counters &counters)
{
	std::vector<std::uint8_t> buf(65536);
	for (;;) {
		asio::error_code ec;
		asio::ip::udp::endpoint from;
		const std::size_t n = co_await sock.async_receive_from(asio::buffer(buf), from,
								       asio::redirect_error(use_awaitable, ec));
		if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
			co_return;
		if (ec) {
			/* e.g. ECONNREFUSED from an ICMP error: per datagram, keep going */
			spdlog::debug("{}: receive: {}", name, ec.message());
			continue;
		}
		const auto kind = classify_datagram({buf.data(), n});
		counters.datagrams++;
		counters.bytes += n;
		counters.by_kind.at(static_cast<std::size_t>(kind))++;
		if (spdlog::should_log(spdlog::level::debug)) {
			const bool v6 = from.address().is_v6();
			spdlog::debug("{}: {} bytes from {}{}{}:{}: {}", name, n, v6 ? "[" : "",
				      from.address().to_string(), v6 ? "]" : "", from.port(), kind_name(kind));
		}
	}
}

awaitable<void> event_loop(asio::posix::stream_descriptor &desc, ntm::GenlSocket &ev, std::uint32_t ifindex,
			   Counters &counters)
{
	for (;;) {
		asio::error_code ec;
		co_await desc.async_wait(asio::posix::descriptor_base::wait_read,
					 asio::redirect_error(use_awaitable, ec));
		if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
			co_return;
		if (ec) {
			spdlog::warn("events: {}", ec.message());
			continue;
		}
		const auto status = ev.receive_events([&](const ntm::GenlReply &r) {
			std::optional<ntm::Event> e;
			try {
				e = ntm::parse_event(r.cmd, r.attrs);
			} catch (const ntm::ProtocolError &pe) {
				spdlog::warn("event: {}", pe.what());
				return;
			}
			if (!e)
				return;
			counters.events++;
			const auto idx = ntm::event_ifindex(*e);
			const auto line = ntm::format_event(*e, ntm::ifname_of(idx));
			if (idx == ifindex)
				spdlog::info("event: {}", line);
			else
				spdlog::debug("event (other device): {}", line);
		});
		if (status == ntm::GenlSocket::RecvStatus::overrun) {
			counters.events_lost++;
			spdlog::warn("events lost: receive buffer overflow");
		}
	}
}

/* SIGHUP: log the counters; SIGTERM/SIGINT: stop the loop, the caller cleans up. */
class SignalHandler {
public:
	SignalHandler(asio::signal_set &signals, asio::io_context &io, const Counters &counters)
	    : signals_(signals), io_(io), counters_(counters)
	{}
	void arm()
	{
		signals_.async_wait([this](const asio::error_code &ec, int signo) { on_signal(ec, signo); });
	}

private:
	void on_signal(const asio::error_code &ec, int signo)
	{
		if (ec)
			return;
		if (signo == SIGHUP) {
			spdlog::info("SIGHUP: nothing to reload");
			log_counters(counters_);
			arm();
			return;
		}
		spdlog::info("{}: shutting down", signo == SIGTERM ? "SIGTERM" : "SIGINT");
		(void)sd_notify(0, "STOPPING=1");
		io_.stop();
	}

	asio::signal_set &signals_;
	asio::io_context &io_;
	const Counters &counters_;
};

void rethrow(const std::exception_ptr &e)
{
	if (e)
		std::rethrow_exception(e);
}

} // namespace

int run_daemon(const Config &cfg)
{
	/* 1. the module: without the family nothing else can work */
	ntm::GenlSocket genl;

	/* 2. the device */
	LinkGuard link_guard;
	auto link = ntm::find_link(cfg.ifname);
	if (!link) {
		if (!cfg.create)
			throw ntm::Error("device " + cfg.ifname + " does not exist (use --create, or: ip link add " +
						 cfg.ifname + " type " NTM_LINK_KIND ")",
					 ENODEV);
		ntm::create_link(cfg.ifname, NTM_LINK_KIND);
		link = ntm::find_link(cfg.ifname);
		if (!link)
			throw ntm::Error("device " + cfg.ifname + " vanished after creation", ENODEV);
		link_guard.arm(link->ifindex, cfg.ifname);
		spdlog::info("created {} (ifindex {})", cfg.ifname, link->ifindex);
	} else if (link->kind != NTM_LINK_KIND) {
		throw ntm::Error(cfg.ifname + " is not an ntm device (kind '" +
					 (link->kind.empty() ? std::string("none") : link->kind) + "')",
				 EOPNOTSUPP);
	}
	const std::uint32_t ifindex = link->ifindex;
	const auto dev = ntm::get_device(genl, ntm::DeviceRef::by_index(ifindex));
	if (dev.port4 || dev.port6)
		spdlog::warn("{} already has sockets (port {}/{}); replacing them", cfg.ifname,
			     dev.port4 ? std::to_string(*dev.port4) : "-",
			     dev.port6 ? std::to_string(*dev.port6) : "-");

	/* 3. events: subscribe before the sockets go live so nothing is missed */
	ntm::GenlSocket events;
	events.join_group(events.group_id(NTM_GENL_MCGRP_EVENTS));
	events.set_rcvbuf(kEventRcvBuf);
	events.set_nonblocking();

	/* 4. the sockets, owned here, adopted by the kernel */
	asio::io_context io(1);
	asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
	ntm::UniqueFd fd4 = open_udp_socket(AF_INET, cfg.port);
	ntm::UniqueFd fd6;
	try {
		fd6 = open_udp_socket(AF_INET6, cfg.port);
	} catch (const ntm::Error &e) {
		if (e.code() != EAFNOSUPPORT)
			throw;
		spdlog::warn("IPv6 is not available: IPv4 only");
	}

	asio::ip::udp::socket sock4(io);
	asio::ip::udp::socket sock6(io);
	asio::posix::stream_descriptor evdesc(io);
	sock4.assign(asio::ip::udp::v4(), fd4.get());
	(void)fd4.release();
	if (fd6) {
		sock6.assign(asio::ip::udp::v6(), fd6.get());
		(void)fd6.release();
	}
	/* asio closes what it owns: give it a duplicate of the netlink fd */
	ntm::UniqueFd evfd(::fcntl(events.fd(), F_DUPFD_CLOEXEC, 0));
	if (!evfd)
		ntm::throw_errno("dup event socket");
	evdesc.assign(evfd.get());
	(void)evfd.release();

	/* declared last: detaches first, before the sockets close */
	AttachGuard attach(genl, ifindex);
	ntm::DeviceSettings s;
	s.udp4_fd = sock4.native_handle();
	if (sock6.is_open())
		s.udp6_fd = sock6.native_handle();
	attach.attach(s);
	spdlog::info("{}: listening on UDP port {} ({})", cfg.ifname, cfg.port,
		     sock6.is_open() ? "IPv4 and IPv6" : "IPv4");

	Counters counters;
	/* keeps run() going until a signal stops it */
	auto work = asio::make_work_guard(io);
	SignalHandler on_signal(signals, io, counters);
	on_signal.arm();
	asio::co_spawn(io, udp_loop(sock4, "udp4", counters), rethrow);
	if (sock6.is_open())
		asio::co_spawn(io, udp_loop(sock6, "udp6", counters), rethrow);
	asio::co_spawn(io, event_loop(evdesc, events, ifindex, counters), rethrow);

	const PidFile pidfile(cfg.pidfile);
	SdWatchdog watchdog(io);
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s: UDP port %u", cfg.ifname.c_str(), static_cast<unsigned>(cfg.port));
	spdlog::info("ready");

	/* exceptions of the loops come out of run(): the guards undo everything */
	io.run();

	/* orderly: detach, close, (pid file, link: by their guards) */
	attach.detach();
	asio::error_code ignored;
	sock4.close(ignored);
	sock6.close(ignored);
	evdesc.close(ignored);
	log_counters(counters);
	return 0;
}

} // namespace ntmd
