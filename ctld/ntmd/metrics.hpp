// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd's metrics in the Prometheus text exposition format 0.0.4 (D97,
 * Documentation/metrics.rst): the writer, the kernel snapshot (the
 * counters `ntmctl show` reads over genetlink) and the rendering of both
 * with the roles' status (what `ntmctl status` reads). The HTTP side is
 * metrics_http.hpp.
 */
#ifndef NTMD_METRICS_HPP
#define NTMD_METRICS_HPP

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "ntm/model.hpp"

namespace ntmd {

/** Text exposition 0.0.4: families with HELP and TYPE, their samples together. */
class Exposition {
public:
	enum class Type { counter, gauge };
	using Labels = std::vector<std::pair<std::string, std::string>>;

	/** A sample of family name (created at first use; type and help of the first use count). */
	void add(std::string_view name, Type type, std::string_view help, const Labels &labels, std::uint64_t value);
	void add(std::string_view name, Type type, std::string_view help, const Labels &labels, double value);
	/** Every family in the order of first use. */
	[[nodiscard]] std::string str() const;

	/** HELP text: \ and newline escaped. */
	static std::string escape_help(std::string_view s);
	/** A label value: \, " and newline escaped. */
	static std::string escape_label(std::string_view s);
	/** [a-zA-Z_:][a-zA-Z0-9_:]* (a label name: no ':'). */
	static bool valid_name(std::string_view s, bool label) noexcept;

private:
	struct Family {
		std::string head;
		std::string samples;
	};
	Family &family(std::string_view name, Type type, std::string_view help);
	void sample(std::string_view name, Type type, std::string_view help, const Labels &labels,
		    const std::string &value);

	std::vector<std::string> order_;
	std::map<std::string, Family, std::less<>> families_;
};

/** One device's counters and its tunnels, at most max per-tunnel series; the rest summed. */
struct DeviceSnapshot {
	ntm::Device device;
	std::vector<ntm::Tunnel> tunnels;
	std::uint64_t other_tunnels = 0; /* beyond the cap */
	ntm::Stats other;		 /* their counters, summed */
};

struct KernelSnapshot {
	bool ok = false;
	std::string error; /* why not */
	std::vector<DeviceSnapshot> devices;
};

/** Reads every ntm device of the network namespace and its tunnels (blocking genetlink). */
KernelSnapshot read_kernel(std::uint32_t max_tunnel_series);

/**
 * Runs a blocking kernel read (read_kernel) on a thread of its own, so
 * that a dump of many tunnels never holds the event loop (D112): the
 * signalling, the control socket and the watchdog go on meanwhile.  A
 * scrape that comes while a read runs waits for that read and gets its
 * result, so the work is bounded by one read at a time, whatever the
 * number of scrapes.  read() runs on the loop of io; the read function on
 * the worker, so it must touch nothing the loop owns, the logger included
 * (spdlog's stderr_logger_st is not thread-safe: read_kernel returns its
 * error in the snapshot instead of logging it).
 */
class KernelReader {
public:
	using Read = std::function<KernelSnapshot()>;

	KernelReader(asio::io_context &io, Read read);
	KernelReader(const KernelReader &) = delete;
	KernelReader &operator=(const KernelReader &) = delete;
	KernelReader(KernelReader &&) = delete;
	KernelReader &operator=(KernelReader &&) = delete;
	/** Waits for a read in progress (the worker is joined). */
	~KernelReader() = default;

	/** The snapshot of a read started now, or of the one already running. */
	asio::awaitable<KernelSnapshot> read();
	/** Reads run on the worker (shared ones counted once). */
	[[nodiscard]] std::uint64_t reads() const noexcept { return generation_; }

private:
	Read read_;
	asio::steady_timer done_; /* cancelled when the running read ends: its waiters go on */
	std::shared_ptr<const KernelSnapshot> last_;
	std::uint64_t generation_ = 0; /* reads finished */
	bool running_ = false;
	asio::thread_pool worker_{1}; /* last: joined first, while the rest still exists */
};

/* NOLINTNEXTLINE(bugprone-exception-escape): the implicit move of its std::map is not noexcept */
struct MetricsInput {
	nlohmann::json status;	 /* the control socket's "status" answer */
	nlohmann::json ike_list; /* "ike-list", or null without the ike role */
	std::map<std::string, std::uint64_t> events; /* daemon events emitted, by name */
	KernelSnapshot kernel;
	std::uint64_t scrapes = 0;
	std::uint64_t http_errors = 0;
	std::string version;
};

/** The whole /metrics page. */
std::string render_metrics(const MetricsInput &in);

} // namespace ntmd

#endif
