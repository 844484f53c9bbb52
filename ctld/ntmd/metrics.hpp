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
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
