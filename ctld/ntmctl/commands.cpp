// SPDX-License-Identifier: GPL-2.0
#include "commands.hpp"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ntm/codec.hpp"
#include "ntm/format.hpp"
#include "ntm/json.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"
#include "ntm/secret.hpp"
#include "ntm/tokenize.hpp"
#include "output.hpp"

namespace ntmctl {

namespace {

using nlohmann::json;
using ntm::DeviceRef;

constexpr int kEventRcvBuf = 4 << 20;

/* ---- show ---- */

int cmd_show(Context &ctx, const ShowCmd &c, bool as_json)
{
	std::vector<DeviceRef> refs;
	if (c.dev) {
		refs.push_back(DeviceRef::by_name(*c.dev));
	} else {
		for (const auto &l : ntm::list_links_of_kind(NTM_LINK_KIND))
			refs.push_back(DeviceRef::by_index(l.ifindex));
	}

	std::FILE *out = ctx.out();
	if (as_json)
		fmt::print(out, "[");
	bool first_dev = true;
	for (const auto &ref : refs) {
		ntm::Device d;
		try {
			d = ntm::get_device(ctx.genl(), ref);
		} catch (const ntm::KernelError &e) {
			/* a device that went away since the link listing */
			if (!c.dev && e.code() == ENODEV)
				continue;
			throw;
		}
		const auto now = boottime_ns();
		const auto dev_ref = DeviceRef::by_index(d.ifindex);
		if (as_json) {
			std::string obj = ntm::json_dump(json(d));
			obj.pop_back(); /* reopen the object to stream "tunnels" */
			fmt::print(out, "{}{},\"tunnels\":[", first_dev ? "" : ",", obj);
			bool first = true;
			ntm::dump_tunnels(ctx.genl(), dev_ref, [&](ntm::Tunnel &&t) {
				fmt::print(out, "{}{}", first ? "" : ",", ntm::json_dump(json(t)));
				first = false;
			});
			fmt::print(out, "]}}");
		} else {
			if (!first_dev)
				fmt::print(out, "\n");
			print_device(out, d);
			ntm::dump_tunnels(ctx.genl(), dev_ref, [&](ntm::Tunnel &&t) { print_tunnel(out, t, now); });
		}
		first_dev = false;
	}
	if (as_json)
		fmt::print(out, "]\n");
	return kExitOk;
}

int cmd_device_show(Context &ctx, const DeviceShowCmd &c, bool as_json)
{
	const auto d = ntm::get_device(ctx.genl(), DeviceRef::by_name(c.dev));
	if (as_json)
		fmt::print(ctx.out(), "{}\n", ntm::json_dump(json(d)));
	else
		print_device(ctx.out(), d);
	return kExitOk;
}

int cmd_device_set(Context &ctx, const DeviceSetCmd &c)
{
	const auto ref = DeviceRef::by_name(c.dev);
	ntm::DeviceSettings s;
	s.fwmark = c.fwmark;
	s.acquire_qlen = c.acquire_qlen;
	if (c.roaming || c.acquire) {
		/* NTM_A_FLAGS replaces the whole word: change only our bits */
		std::uint32_t flags = ntm::get_device(ctx.genl(), ref).flags;
		if (c.roaming)
			flags = ntm::with_flag(flags, NTM_DEV_F_NO_ROAMING, !*c.roaming);
		if (c.acquire)
			flags = ntm::with_flag(flags, NTM_DEV_F_NO_ACQUIRE, !*c.acquire);
		s.flags = flags;
	}
	ntm::set_device(ctx.genl(), ref, s);
	return kExitOk;
}

/* ---- tunnel ---- */

int cmd_tunnel_add(Context &ctx, const TunnelAddCmd &c)
{
	ntm::new_tunnel(ctx.genl(), DeviceRef::by_name(c.dev), c.tunnel);
	return kExitOk;
}

int cmd_tunnel_set(Context &ctx, const TunnelSetCmd &c)
{
	const auto ref = DeviceRef::by_name(c.dev);
	ntm::TunnelSettings s = c.tunnel;
	if (c.roaming) {
		std::uint32_t flags = ntm::get_tunnel(ctx.genl(), ref, s.local_index).flags;
		flags = ntm::with_flag(flags, NTM_TUNNEL_F_NO_ROAMING, !*c.roaming);
		s.flags = flags;
	}
	ntm::set_tunnel(ctx.genl(), ref, s);
	return kExitOk;
}

int cmd_tunnel_show(Context &ctx, const TunnelShowCmd &c, bool as_json)
{
	const auto ref = DeviceRef::by_name(c.dev);
	std::FILE *out = ctx.out();
	const auto now = boottime_ns();
	bool first = true;
	auto emit = [&](const ntm::Tunnel &t) {
		if (as_json)
			fmt::print(out, "{}{}", first ? "" : ",\n", ntm::json_dump(json(t)));
		else
			print_tunnel_row(out, t, now);
		first = false;
	};

	if (c.local_index) {
		const auto t = ntm::get_tunnel(ctx.genl(), ref, *c.local_index);
		if (as_json)
			fmt::print(out, "[");
		else
			print_tunnel_header(out);
		emit(t);
	} else {
		/* stream: 100k tunnels never sit in memory at once */
		bool started = false;
		auto start = [&] {
			if (started)
				return;
			started = true;
			if (as_json)
				fmt::print(out, "[");
			else
				print_tunnel_header(out);
		};
		/* errors before the first tunnel leave stdout untouched */
		ntm::dump_tunnels(ctx.genl(), ref, [&](ntm::Tunnel &&t) {
			start();
			emit(t);
		});
		start();
	}
	if (as_json)
		fmt::print(out, "]\n");
	return kExitOk;
}

/* ---- monitor ---- */

int cmd_monitor(Context &ctx, const MonitorCmd &c, bool as_json)
{
	ntm::GenlSocket ev;
	ev.join_group(ev.group_id(NTM_GENL_MCGRP_EVENTS));
	ev.set_rcvbuf(kEventRcvBuf);
	ev.set_nonblocking();

	using Clock = std::chrono::steady_clock;
	const auto deadline =
		c.timeout_s ? Clock::now() + std::chrono::seconds(*c.timeout_s) : Clock::time_point::max();
	std::uint64_t seen = 0;
	auto done = [&] { return c.count && seen >= *c.count; };

	while (!done()) {
		int wait_ms = -1;
		if (c.timeout_s) {
			const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
			if (left <= 0)
				return c.count ? kExitFailed : kExitOk;
			wait_ms = left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
		}
		pollfd pfd{ev.fd(), POLLIN, 0};
		const int rc = poll(&pfd, 1, wait_ms);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			ntm::throw_errno("monitor: poll");
		}
		if (rc == 0)
			continue; /* the deadline check above ends it */
		const auto status = ev.receive_events([&](const ntm::GenlReply &r) {
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
			if (as_json)
				fmt::print(ctx.out(), "{}\n", ntm::json_dump(ntm::event_to_json(*e, ifname)));
			else
				fmt::print(ctx.out(), "{}\n", ntm::format_event(*e, ifname));
			(void)std::fflush(ctx.out());
			seen++;
		});
		if (status == ntm::GenlSocket::RecvStatus::overrun) {
			fmt::print(ctx.err(), "ntmctl: monitor: events lost (receive buffer overflow)\n");
			(void)std::fflush(ctx.err());
		}
	}
	return kExitOk;
}

/* ---- batch ---- */

struct FileCloser {
	void operator()(std::FILE *f) const noexcept
	{
		(void)std::fclose(f); // NOLINT(cppcoreguidelines-owning-memory): the unique_ptr owns it
	}
};

struct LineBuf {
	char *data = nullptr;
	std::size_t cap = 0;
	LineBuf() = default;
	LineBuf(const LineBuf &) = delete;
	LineBuf &operator=(const LineBuf &) = delete;
	LineBuf(LineBuf &&) = delete;
	LineBuf &operator=(LineBuf &&) = delete;
	~LineBuf()
	{
		ntm::secure_wipe(data, cap); /* lines may hold keys */
		/* getline() allocates with malloc() */
		// NOLINTNEXTLINE(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
		std::free(data);
	}
};

/* Runs one line; returns its status and leaves the error message in msg. */
int run_line(Context &ctx, Cli &cli, std::string_view line, bool as_json, std::string &msg)
{
	try {
		auto words = ntm::tokenize_line(line);
		if (words.empty())
			return kExitOk;
		Invocation inv = cli.parse(std::move(words));
		if (std::holds_alternative<BatchCmd>(inv.cmd) || std::holds_alternative<MonitorCmd>(inv.cmd))
			throw ntm::UsageError("batch and monitor cannot run inside a batch");
		inv.json = inv.json || as_json;
		return execute(ctx, cli, inv);
	} catch (const CLI::ParseError &e) {
		if (e.get_exit_code() == 0) {
			fmt::print(ctx.out(), "{}", cli.help());
			return kExitOk;
		}
		msg = e.what();
		return kExitUsage;
	} catch (const ntm::UsageError &e) {
		msg = e.what();
		return kExitUsage;
	} catch (const ntm::Error &e) {
		msg = e.what();
		return kExitFailed;
	}
}

int cmd_batch(Context &ctx, Cli &cli, const BatchCmd &c, bool as_json)
{
	std::unique_ptr<std::FILE, FileCloser> owned;
	std::FILE *in = stdin;
	if (c.file != "-") {
		// NOLINTNEXTLINE(cppcoreguidelines-owning-memory): owned now
		owned.reset(std::fopen(c.file.c_str(), "re"));
		if (!owned)
			ntm::throw_errno("batch " + c.file);
		in = owned.get();
	}

	LineBuf buf;
	std::uint64_t line_no = 0;
	std::uint64_t failed = 0;
	for (;;) {
		const ssize_t n = getline(&buf.data, &buf.cap, in);
		if (n < 0)
			break;
		line_no++;
		std::string msg;
		const int rc =
			run_line(ctx, cli, std::string_view(buf.data, static_cast<std::size_t>(n)), as_json, msg);
		ntm::secure_wipe(buf.data, static_cast<std::size_t>(n));
		if (rc == kExitOk)
			continue;
		failed++;
		fmt::print(ctx.err(), "ntmctl: batch line {}: {}\n", line_no, msg.empty() ? "failed" : msg);
		if (!c.force)
			return kExitFailed;
	}
	if (std::ferror(in) != 0)
		ntm::throw_errno("batch " + c.file);
	if (failed != 0) {
		fmt::print(ctx.err(), "ntmctl: batch: {} of {} lines failed\n", failed, line_no);
		return kExitFailed;
	}
	return kExitOk;
}

} // namespace

ntm::GenlSocket &Context::genl()
{
	if (!genl_)
		genl_.emplace();
	return *genl_;
}

int execute(Context &ctx, Cli &cli, const Invocation &inv)
{
	const bool j = inv.json;
	return std::visit(
		[&](const auto &c) -> int {
			using T = std::decay_t<decltype(c)>;
			if constexpr (std::is_same_v<T, ShowCmd>)
				return cmd_show(ctx, c, j);
			else if constexpr (std::is_same_v<T, DeviceShowCmd>)
				return cmd_device_show(ctx, c, j);
			else if constexpr (std::is_same_v<T, DeviceSetCmd>)
				return cmd_device_set(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelAddCmd>)
				return cmd_tunnel_add(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelSetCmd>)
				return cmd_tunnel_set(ctx, c);
			else if constexpr (std::is_same_v<T, TunnelDelCmd>) {
				ntm::del_tunnel(ctx.genl(), DeviceRef::by_name(c.dev), c.local_index);
				return kExitOk;
			} else if constexpr (std::is_same_v<T, TunnelFlushCmd>) {
				ntm::flush_tunnels(ctx.genl(), DeviceRef::by_name(c.dev));
				return kExitOk;
			} else if constexpr (std::is_same_v<T, TunnelShowCmd>)
				return cmd_tunnel_show(ctx, c, j);
			else if constexpr (std::is_same_v<T, MonitorCmd>)
				return cmd_monitor(ctx, c, j);
			else
				return cmd_batch(ctx, cli, c, j);
		},
		inv.cmd);
}

int run_main(int argc, const char *const *argv, std::FILE *out, std::FILE *err) noexcept
{
	/* messages in the handlers must not throw: plain stdio */
	auto say = [err](const char *what) noexcept {
		(void)std::fputs("ntmctl: ", err);
		(void)std::fputs(what, err);
		(void)std::fputc('\n', err);
	};
	try {
		Cli cli;
		Invocation inv;
		try {
			std::vector<std::string> args;
			for (int i = 1; i < argc; i++)
				// NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic)
				args.emplace_back(argv[i]);
			inv = cli.parse(std::move(args));
		} catch (const CLI::ParseError &e) {
			if (e.get_exit_code() == 0) {
				fmt::print(out, "{}", cli.help());
				return kExitOk;
			}
			say(e.what());
			(void)std::fputs("Run 'ntmctl --help' for usage.\n", err);
			return kExitUsage;
		}
		Context ctx(out, err);
		const int rc = execute(ctx, cli, inv);
		if (std::fflush(out) != 0) {
			say(("write error: " + ntm::errno_string(errno)).c_str());
			return kExitFailed;
		}
		return rc;
	} catch (const ntm::UsageError &e) {
		say(e.what());
		return kExitUsage;
	} catch (const ntm::Error &e) {
		(void)std::fflush(out);
		say(e.what());
		return kExitFailed;
	} catch (const std::bad_alloc &) {
		say("out of memory");
		return kExitFailed;
	} catch (const std::exception &e) {
		say(e.what());
		return kExitFailed;
	} catch (...) {
		say("unexpected error");
		return kExitFailed;
	}
}

} // namespace ntmctl
