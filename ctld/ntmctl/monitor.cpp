// SPDX-License-Identifier: GPL-2.0
#include "monitor.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "control.hpp"
#include "ntm/codec.hpp"
#include "ntm/error.hpp"
#include "ntm/format.hpp"
#include "ntm/genl.hpp"
#include "ntm/handle.hpp"
#include "ntm/json.hpp"
#include "ntm/ops.hpp"

namespace ntmctl {

namespace {

constexpr int kEventRcvBuf = 4 << 20;
constexpr std::size_t kMaxEventLine = 1 << 20;

std::string dashed(std::string s)
{
	for (auto &ch : s)
		if (ch == '_')
			ch = '-';
	return s;
}

std::string plain_value(const nlohmann::json &v)
{
	if (v.is_string()) {
		const auto &s = v.get_ref<const std::string &>();
		const bool plain = !s.empty() && s.find_first_of(" \t\"\\\n") == std::string::npos &&
				   std::ranges::all_of(s, [](char ch) { return static_cast<unsigned char>(ch) >= 0x20; });
		return plain ? s : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	}
	if (v.is_array()) {
		std::string out;
		for (const auto &e : v)
			out += (out.empty() ? "" : ",") + (e.is_string() ? e.get<std::string>() : e.dump());
		return out.empty() ? "-" : out;
	}
	return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/* The control socket of ntmd: --socket, else the configuration's; nullopt when none can be named. */
std::optional<std::string> monitor_socket(const MonitorCmd &c, const std::optional<std::string> &cfg_path)
{
	if (c.socket)
		return c.socket;
	try {
		const auto cfg = load_config(cfg_path);
		return cfg ? cfg->control_socket : ntm::config::Config{}.control_socket;
	} catch (const std::exception &) {
		return ntm::config::Config{}.control_socket;
	}
}

/*
 * Connects to ntmd and subscribes; the socket (blocking until the answer,
 * then non-blocking) or an invalid one. A daemon that is not running is
 * silent unless --socket named it; other failures are a note on stderr.
 */
ntm::UniqueFd subscribe(Context &ctx, const std::string &path, bool explicit_socket)
{
	auto note = [&](const std::string &why) {
		fmt::print(ctx.err(), "ntmctl: monitor: no daemon events: {}\n", why);
		(void)std::fflush(ctx.err());
	};
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	if (path.size() >= sizeof(sa.sun_path)) {
		note("control socket path too long: " + path);
		return {};
	}
	std::memcpy(static_cast<char *>(sa.sun_path), path.data(), path.size());
	ntm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		ntm::throw_errno("control socket");
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0) {
		const int err = errno;
		if (err == EACCES || err == EPERM)
			note("permission denied on " + path + " (are you in the ntm group / root?)");
		else if (explicit_socket)
			note("ntmd is not running (connect " + path + ": " + ntm::errno_string(err) + ")");
		return {};
	}
	const std::string req = "{\"cmd\":\"subscribe\"}\n";
	if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
		note("control socket " + path + ": send: " + ntm::errno_string(errno));
		return {};
	}
	/* the answer: one line, within 10 s */
	std::string line;
	char ch = 0;
	while (line.size() < kMaxEventLine) {
		pollfd pfd{fd.get(), POLLIN, 0};
		const int rc = ::poll(&pfd, 1, 10000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			note("control socket " + path + ": no answer from ntmd");
			return {};
		}
		const ssize_t n = ::recv(fd.get(), &ch, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			note("control socket " + path + ": ntmd closed the connection");
			return {};
		}
		if (ch == '\n')
			break;
		line.push_back(ch);
	}
	const auto ans = nlohmann::json::parse(line, nullptr, false);
	if (!ans.is_object() || !ans.value("subscribed", false)) {
		const std::string err = ans.is_object() && ans.contains("error") && ans["error"].is_string()
						? ans["error"].get<std::string>()
						: std::string("unexpected answer");
		note("ntmd: " + err + " (an ntmd older than ntmctl?)");
		return {};
	}
	return fd;
}

std::chrono::system_clock::time_point event_time(const nlohmann::json &ev)
{
	const auto it = ev.find("time_ms");
	if (it != ev.end() && it->is_number_integer())
		return std::chrono::system_clock::time_point(std::chrono::milliseconds(it->get<std::int64_t>()));
	return std::chrono::system_clock::now();
}

} // namespace

std::string iso_timestamp(std::chrono::system_clock::time_point t)
{
	const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
	const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	const auto frac = static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000);
	std::tm tm{};
	if (::localtime_r(&secs, &tm) == nullptr)
		return "?";
	std::array<char, 32> buf{};
	const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
	const long off = tm.tm_gmtoff / 60;
	const long aoff = off < 0 ? -off : off;
	return fmt::format("{}.{:03}{}{:02}:{:02}", std::string_view(buf.data(), n), frac, off < 0 ? '-' : '+',
			   aoff / 60, aoff % 60);
}

std::string format_daemon_event(const nlohmann::json &ev)
{
	std::string out = "ntmd";
	if (ev.contains("role") && ev["role"].is_string())
		out += " " + ev["role"].get<std::string>();
	out += " " + dashed(ev.value("event", std::string("unknown")));
	for (const auto &[k, v] : ev.items()) {
		if (k == "event" || k == "role" || k == "time_ms" || k == "source" || k == "time")
			continue;
		out += " " + dashed(k) + " " + plain_value(v);
	}
	return out;
}

int cmd_monitor(Context &ctx, const MonitorCmd &c, const std::optional<std::string> &cfg_path, bool as_json)
{
	std::optional<ntm::GenlSocket> ev;
	try {
		ev.emplace();
		ev->join_group(ev->group_id(NTM_GENL_MCGRP_EVENTS));
		ev->set_rcvbuf(kEventRcvBuf);
		ev->set_nonblocking();
	} catch (const ntm::Error &e) {
		if (!c.daemon)
			throw;
		/* without the module or CAP_NET_ADMIN the daemon's events may still come */
		ev.reset();
		fmt::print(ctx.err(), "ntmctl: monitor: no kernel events: {}\n", e.what());
		(void)std::fflush(ctx.err());
	}
	ntm::UniqueFd ctl;
	if (c.daemon) {
		if (const auto path = monitor_socket(c, cfg_path))
			ctl = subscribe(ctx, *path, c.socket.has_value());
	}
	if (!ev && !ctl)
		throw ntm::Error("monitor: neither kernel nor daemon events can be read");

	using Clock = std::chrono::steady_clock;
	const auto deadline =
		c.timeout_s ? Clock::now() + std::chrono::seconds(*c.timeout_s) : Clock::time_point::max();
	std::uint64_t seen = 0;
	auto done = [&] { return c.count && seen >= *c.count; };
	auto print = [&](nlohmann::json j, const std::string &text, std::chrono::system_clock::time_point when) {
		if (as_json) {
			if (c.timestamps)
				j["time"] = iso_timestamp(when);
			fmt::print(ctx.out(), "{}\n", ntm::json_dump(j));
		} else if (c.timestamps) {
			fmt::print(ctx.out(), "{} {}\n", iso_timestamp(when), text);
		} else {
			fmt::print(ctx.out(), "{}\n", text);
		}
		(void)std::fflush(ctx.out());
		seen++;
	};
	std::string pending; /* a partial line from ntmd */

	while (!done()) {
		int wait_ms = -1;
		if (c.timeout_s) {
			const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
			if (left <= 0)
				return c.count ? kExitFailed : kExitOk;
			wait_ms = left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
		}
		std::array<pollfd, 2> pfd{};
		nfds_t n = 0;
		const int kfd = ev ? ev->fd() : -1;
		if (ev)
			pfd[n++] = {kfd, POLLIN, 0};
		if (ctl)
			pfd[n++] = {ctl.get(), POLLIN, 0};
		if (n == 0)
			return kExitOk; /* the daemon went and there is no kernel socket */
		const int rc = poll(pfd.data(), n, wait_ms);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("monitor: poll");
		}
		if (rc == 0)
			continue; /* the deadline check above ends it */
		for (nfds_t i = 0; i < n && !done(); i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == kfd) {
				const auto status = ev->receive_events([&](const ntm::GenlReply &r) {
					if (done())
						return;
					std::optional<ntm::Event> e;
					try {
						e = ntm::parse_event(r.cmd, r.attrs);
					} catch (const ntm::ProtocolError &pe) {
						fmt::print(ctx.err(), "ntmctl: monitor: {}\n", pe.what());
						return;
					}
					if (!e)
						return;
					const auto ifname = ntm::ifname_of(ntm::event_ifindex(*e));
					const auto now = std::chrono::system_clock::now();
					if (as_json)
						print(ntm::event_to_json(*e, ifname), {}, now);
					else
						print({}, ntm::format_event(*e, ifname), now);
				});
				if (status == ntm::GenlSocket::RecvStatus::overrun) {
					fmt::print(ctx.err(), "ntmctl: monitor: events lost (receive buffer overflow)\n");
					(void)std::fflush(ctx.err());
				}
				continue;
			}
			std::array<char, 65536> buf{};
			const ssize_t got = ::recv(ctl.get(), buf.data(), buf.size(), MSG_DONTWAIT);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				fmt::print(ctx.err(), "ntmctl: monitor: ntmd closed the event stream\n");
				(void)std::fflush(ctx.err());
				ctl.reset();
				if (!ev)
					return kExitFailed;
				continue;
			}
			pending.append(buf.data(), static_cast<std::size_t>(got));
			std::size_t nl = 0;
			while (!done() && (nl = pending.find('\n')) != std::string::npos) {
				const auto line = pending.substr(0, nl);
				pending.erase(0, nl + 1);
				auto j = nlohmann::json::parse(line, nullptr, false);
				if (!j.is_object())
					continue;
				const auto when = event_time(j);
				j["source"] = "ntmd";
				print(j, format_daemon_event(j), when);
			}
			if (pending.size() > kMaxEventLine)
				pending.clear();
		}
	}
	return kExitOk;
}

} // namespace ntmctl
