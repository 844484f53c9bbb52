// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: the [metrics] table, ntmd's Prometheus endpoint (D97). It
 * belongs to no role: any ntmd may serve it. Off unless listen is given;
 * an address other than loopback needs allow_remote = true, because the
 * metrics name peers and their traffic and the endpoint has no
 * authentication of its own.
 */
#include <cstdint>
#include <string>

#include "config_reader.hpp"

namespace ntm::config::detail {

namespace {

constexpr std::int64_t kMaxTunnelSeries = 100000;

} // namespace

Metrics Reader::read_metrics(const Section &s) const
{
	Metrics m;
	if (s.t == nullptr)
		return m;
	check_keys(s, {"listen", "allow_remote", "max_tunnel_series"});
	boolean(s, "allow_remote", m.allow_remote);
	number(s, "max_tunnel_series", m.max_tunnel_series, 0, kMaxTunnelSeries);
	const auto v = string(s, "listen");
	if (!v)
		missing(s, "listen", "the address and port of the endpoint, e.g. \"127.0.0.1:9477\"");
	Endpoint e;
	try {
		e = parse_literal_endpoint(v->value, kDefaultMetricsPort, true);
	} catch (const std::invalid_argument &ex) {
		fail(v->line, dotted(s, "listen"), quote(v->value) + ": " + ex.what());
	}
	if (!is_loopback(e.address()) && !m.allow_remote)
		fail(v->line, dotted(s, "listen"),
		     quote(v->value) + ": not a loopback address; the metrics have no access control, so set "
				       "allow_remote = true to serve them to the network");
	m.listen = e;
	return m;
}

} // namespace ntm::config::detail
