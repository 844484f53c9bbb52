// SPDX-License-Identifier: GPL-2.0
#include "roles.hpp"

#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "as.hpp"
#include "control.hpp"
#include "dc.hpp"
#include "events.hpp"
#include "ike.hpp"
#include "metrics.hpp"
#include "metrics_http.hpp"
#include "node.hpp"
#include "resolver.hpp"
#include "rs.hpp"
#include "watchdog.hpp"
#include "ntm/version.hpp"

namespace ntmd {

namespace {

void make_parent_dir(const std::string &file)
{
	const auto dir = std::filesystem::path(file).parent_path();
	if (dir.empty())
		return;
	std::error_code ec;
	std::filesystem::create_directories(dir, ec);
	if (ec)
		spdlog::warn("cannot create {}: {}", dir.string(), ec.message());
}

struct Roles {
	std::unique_ptr<DcRole> dc;
	std::unique_ptr<AsRole> as;
	std::unique_ptr<NodeRole> node;
	std::unique_ptr<IkeRole> ike;
	std::unique_ptr<RsRole> rs;

	[[nodiscard]] nlohmann::json status() const
	{
		nlohmann::json roles = nlohmann::json::array();
		nlohmann::json j = {{"ok", true}};
		if (as) {
			roles.push_back("as");
			const auto &c = as->counters();
			j["as"] = {{"logins_ok", c.logins_ok},
				   {"logins_failed", c.logins_failed},
				   {"malformed", c.malformed},
				   {"dc_failures", c.dc_failures},
				   {"key_id_retries", c.key_id_retries},
				   {"dc_unpinned", c.dc_unpinned},
				   {"logins_throttled", c.logins_throttled},
				   {"connections_refused", c.connections_refused}};
		}
		if (dc) {
			roles.push_back("dc");
			j["dc"] = dc->status();
		}
		if (node) {
			roles.push_back("node");
			j["node"] = node->status();
		}
		if (ike) {
			roles.push_back("ike");
			j["ike"] = ike->status();
		}
		if (rs) {
			roles.push_back("rs");
			j["rs"] = rs->status();
		}
		j["roles"] = roles;
		return j;
	}
};

} // namespace

int run_roles(const ntm::config::Config &cfg)
{
	asio::io_context io(1);
	EventBus events;
	Resolver resolver(io, cfg.dns_servers);
	Roles roles;

	if (cfg.role_dc) {
		make_parent_dir(cfg.dc->database);
		roles.dc = std::make_unique<DcRole>(io, cfg, resolver);
	}
	if (cfg.role_as) {
		make_parent_dir(cfg.as->database);
		roles.as = std::make_unique<AsRole>(io, cfg, resolver);
	}
	if (cfg.role_node)
		roles.node = std::make_unique<NodeRole>(io, cfg, resolver);
	if (cfg.role_ike)
		roles.ike = std::make_unique<IkeRole>(io, cfg);
	if (cfg.role_rs)
		roles.rs = std::make_unique<RsRole>(io, cfg);

	ControlServer control(io, cfg.control_socket, [&roles](const nlohmann::json &req) -> nlohmann::json {
		const auto cmd = req["cmd"].get<std::string>();
		if (cmd == "status")
			return roles.status();
		if (cmd == "refresh" && roles.node) {
			roles.node->refresh();
			return {{"ok", true}};
		}
		if (cmd.starts_with("ike-")) {
			if (!roles.ike)
				return {{"ok", false}, {"error", "the ike role is not running"}};
			if (cmd == "ike-list")
				return roles.ike->list();
			const auto name = req.contains("name") && req["name"].is_string() ? req["name"].get<std::string>()
											  : std::string();
			if (name.empty())
				return {{"ok", false}, {"error", cmd + " needs a name"}};
			if (cmd == "ike-initiate")
				return roles.ike->initiate(name);
			if (cmd == "ike-terminate")
				return roles.ike->terminate(name);
			if (cmd == "ike-rekey")
				return roles.ike->rekey(name, req.contains("child") && req["child"].is_boolean() &&
								      req["child"].get<bool>());
		}
		return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
	}, &events);

	/* [metrics]: the Prometheus endpoint, off by default (D97); the kernel read off the loop (D112) */
	std::unique_ptr<KernelReader> kernel_reader;
	std::unique_ptr<MetricsServer> metrics;
	if (cfg.metrics.listen) {
		const std::uint32_t max_series = cfg.metrics.max_tunnel_series;
		kernel_reader = std::make_unique<KernelReader>(io, [max_series] { return read_kernel(max_series); });
		metrics = std::make_unique<MetricsServer>(io, *cfg.metrics.listen, [&]() -> asio::awaitable<std::string> {
			MetricsInput in;
			in.kernel = co_await kernel_reader->read();
			/* the rest after the read: as fresh as the kernel's part */
			in.version = ntm::kVersion;
			in.status = roles.status();
			if (roles.ike)
				in.ike_list = roles.ike->list();
			in.events = events.counts();
			in.scrapes = metrics->scrapes() + 1; /* this one included */
			in.http_errors = metrics->errors();
			co_return render_metrics(in);
		});
	}

	asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
	signals.add(SIGUSR1);
	asio::steady_timer last_resort(io);
	std::unique_ptr<SdWatchdog> watchdog;

	/*
	 * Stopping closes every socket and cancels every timer, so io.run()
	 * returns once the coroutines have unwound: none is left suspended
	 * when the roles are destroyed.
	 */
	auto stop_all = [&] {
		if (watchdog)
			watchdog->stop();
		if (roles.ike)
			roles.ike->stop();
		if (roles.node)
			roles.node->stop();
		if (roles.as)
			roles.as->stop();
		if (roles.dc)
			roles.dc->stop();
		if (roles.rs)
			roles.rs->stop();
		control.stop();
		if (metrics)
			metrics->stop();
		asio::error_code ignored;
		signals.cancel(ignored);
		/* a peer that never answers must not keep us: bounded drain */
		last_resort.expires_after(std::chrono::seconds(5));
		last_resort.async_wait([&io](const asio::error_code &ec) {
			if (!ec)
				io.stop();
		});
	};

	bool stopping = false;
	std::function<void()> arm;
	arm = [&] {
		signals.async_wait([&](const asio::error_code &ec, int signo) {
			if (ec)
				return;
			if (signo == SIGHUP) {
				spdlog::info("SIGHUP: registering again");
				if (roles.node)
					roles.node->refresh();
			} else if (signo == SIGUSR1) {
				spdlog::info("status: {}", roles.status().dump());
			} else if (!stopping) {
				stopping = true;
				spdlog::info("{}: shutting down", signo == SIGTERM ? "SIGTERM" : "SIGINT");
				(void)sd_notify(0, "STOPPING=1");
				emit_event("daemon", "stopping", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
				asio::co_spawn(
					io,
					[&]() -> asio::awaitable<void> {
						if (roles.node)
							co_await roles.node->shutdown();
						if (roles.ike)
							roles.ike->shutdown_gracefully();
						stop_all();
					},
					asio::detached);
				return;
			}
			arm();
		});
	};
	arm();

	if (roles.dc)
		roles.dc->start();
	if (roles.as)
		roles.as->start();
	if (roles.node)
		roles.node->start();
	if (roles.ike)
		roles.ike->start();
	if (roles.rs)
		roles.rs->start();
	control.start();
	if (metrics) {
		metrics->start();
		spdlog::info("metrics: http://{}/metrics", cfg.metrics.listen->to_string());
	}
	watchdog = std::make_unique<SdWatchdog>(io);
	(void)sd_notify(0, "READY=1");
	spdlog::info("ready: roles {}", roles.status()["roles"].dump());
	emit_event("daemon", "ready", {{"roles", roles.status()["roles"]}});

	try {
		io.run();
	} catch (...) {
		/* a fatal error (refused login, ...): unwind everything, then report it */
		const auto err = std::current_exception();
		stopping = true;
		stop_all();
		io.restart();
		try {
			io.run();
		} catch (const std::exception &e) {
			spdlog::debug("while stopping: {}", e.what());
		}
		std::rethrow_exception(err);
	}
	last_resort.cancel();
	return 0;
}

} // namespace ntmd
