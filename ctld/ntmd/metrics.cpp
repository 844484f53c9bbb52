// SPDX-License-Identifier: GPL-2.0
#include "metrics.hpp"

#include <cmath>
#include <exception>
#include <initializer_list>

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "ntm/genl.hpp"
#include "ntm/ops.hpp"
#include "ntm/rtnl.hpp"

namespace ntmd {

namespace {

using Type = Exposition::Type;
using Labels = Exposition::Labels;
using json = nlohmann::json;

constexpr Type kCounter = Type::counter;
constexpr Type kGauge = Type::gauge;

/* a counter or gauge of the status JSON: an unsigned or signed number, a bool; else nullopt */
std::optional<std::uint64_t> number(const json &j, std::string_view key)
{
	if (!j.is_object())
		return std::nullopt;
	const auto it = j.find(key);
	if (it == j.end())
		return std::nullopt;
	if (it->is_number_unsigned())
		return it->get<std::uint64_t>();
	if (it->is_number_integer()) {
		const auto v = it->get<std::int64_t>();
		return v < 0 ? 0 : static_cast<std::uint64_t>(v);
	}
	if (it->is_boolean())
		return it->get<bool>() ? 1 : 0;
	return std::nullopt;
}

std::string text(const json &j, std::string_view key)
{
	if (!j.is_object())
		return {};
	const auto it = j.find(key);
	return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Entry {
	std::string_view key;
	std::string_view help;
};

/* prefix_KEY_total for each listed key present in j */
void counters(Exposition &ex, std::string_view prefix, const json &j, std::initializer_list<Entry> entries)
{
	for (const auto &e : entries)
		if (const auto v = number(j, e.key))
			ex.add(fmt::format("{}_{}_total", prefix, e.key), kCounter, e.help, {}, *v);
}

void gauges(Exposition &ex, std::string_view prefix, const json &j, std::initializer_list<Entry> entries)
{
	for (const auto &e : entries)
		if (const auto v = number(j, e.key))
			ex.add(fmt::format("{}_{}", prefix, e.key), kGauge, e.help, {}, *v);
}

/* every number of obj as one labelled sample of name */
void labelled(Exposition &ex, std::string_view name, Type type, std::string_view help, const Labels &base,
	      std::string_view label, const json &obj)
{
	if (!obj.is_object())
		return;
	for (const auto &[k, v] : obj.items()) {
		const auto n = number(obj, k);
		if (!n)
			continue;
		Labels l = base;
		l.emplace_back(label, k);
		ex.add(name, type, help, l, *n);
	}
}

void signalling(Exposition &ex, std::string_view role, const json &j)
{
	const Labels r{{"role", std::string(role)}};
	for (const auto *dir : {"rx", "tx"})
		if (const auto v = number(j, dir))
			ex.add("ntm_signalling_messages_total", kCounter,
			       "Sealed signalling messages (UDP envelope) received (rx, authentic) and sent (tx)",
			       {{"role", std::string(role)}, {"direction", dir}}, *v);
	if (j.contains("drops"))
		labelled(ex, "ntm_signalling_drops_total", kCounter,
			 "Signalling datagrams dropped, by reason (protocol/signalling.rst, Counted drops)", r, "reason",
			 j["drops"]);
}

void render_node(Exposition &ex, const json &n)
{
	gauges(ex, "ntm_node", n,
	       {{"registered", "1 while the node is registered with its DC"},
		{"nated", "1 when the DC sees the node behind a NAT"}});
	std::uint64_t peers = 0;
	std::uint64_t relayed = 0;
	if (n.contains("peers") && n["peers"].is_array()) {
		for (const auto &p : n["peers"]) {
			peers++;
			if (p.contains("path") && text(p["path"], "path") == "relay")
				relayed++;
		}
	}
	ex.add("ntm_node_peers", kGauge, "Peers with a data tunnel", {}, peers);
	ex.add("ntm_node_peers_relayed", kGauge, "Peers whose tunnel goes through a relay now", {}, relayed);
	counters(ex, "ntm_node", n,
		 {{"tunnels_built", "Data tunnels built (opener or waiter)"},
		  {"tunnels_failed", "Tunnel exchanges that failed"},
		  {"tunnels_dead", "Tunnels removed because the peer went silent"},
		  {"held_released", "Tunnels released by the kernel's held-packet takeover"},
		  {"rekeys", "Data-tunnel rekeys completed"},
		  {"rekeys_failed", "Data-tunnel rekeys that failed"},
		  {"dns_hooked", "DNS questions answered with a tunnel (hooked)"},
		  {"acquires", "Kernel acquire events acted on"},
		  {"logins", "Logins at the AS"},
		  {"logins_unanswered", "Logins abandoned without an answer"},
		  {"notices_ignored", "DC NOTICEs ignored by the re-login guard"},
		  {"stale_removed", "Stale kernel tunnels removed at start"}});
	signalling(ex, "node", n);
	if (n.contains("dns"))
		labelled(ex, "ntm_node_dns_total", kCounter,
			 "The DNS stub: queries, and what became of them (hooked, forwarded, refused, ...)", {}, "counter",
			 n["dns"]);
}

void render_dc(Exposition &ex, const json &d)
{
	gauges(ex, "ntm_dc", d,
	       {{"nodes", "Nodes in the DC's registry"}, {"online", "Registered nodes online (keepalives arrive)"}});
	counters(ex, "ntm_dc", d,
		 {{"registrations", "Registrations accepted"},
		  {"directions", "Direction Requests answered with a path"},
		  {"directions_failed", "Direction Requests refused (NOT_FOUND, NO_ROUTE, ...)"},
		  {"directions_relayed", "Directions through a relay"},
		  {"keys_received", "Key Distributions from an AS"},
		  {"rx_seq_errors", "Writes of the receive-mark log that failed (D114)"},
		  {"last_seen_errors", "Write-backs of last_seen to the registry that failed (D114)"},
		  {"batches_failed", "Group commits that failed: their answers were not sent (D109)"}});
	signalling(ex, "dc", d);
	if (d.contains("limits") && d["limits"].is_object()) {
		const auto &l = d["limits"];
		for (const auto *k : {"registration_key", "direction_key", "request_address"})
			if (const auto v = number(l, k))
				ex.add("ntm_dc_admission_refused_total", kCounter,
				       "Authentic requests refused by an admission limit (D68), by limit", {{"limit", k}}, *v);
		counters(ex, "ntm_dc", l,
			 {{"unknown_key_cached", "Unknown-key lookups answered from the negative cache"},
			  {"registry_lookups", "Registry lookups for Direction Requests"},
			  {"table_evictions", "Entries evicted from the admission tables"}});
	}
	std::uint64_t relays = 0;
	std::uint64_t up = 0;
	if (d.contains("relays") && d["relays"].is_array()) {
		for (const auto &r : d["relays"]) {
			relays++;
			const Labels l{{"relay", text(r, "relay")}};
			const auto is_up = number(r, "up").value_or(0);
			up += is_up;
			ex.add("ntm_dc_relay_up", kGauge, "1 while the DC's link to the relay is up", l, is_up);
			ex.add("ntm_dc_relay_sessions", kGauge, "Relay sessions the relay reports in use", l,
			       number(r, "sessions").value_or(0));
			ex.add("ntm_dc_relay_capacity", kGauge, "Relay sessions the relay offers", l,
			       number(r, "capacity").value_or(0));
			ex.add("ntm_dc_relay_directions_total", kCounter, "Directions this DC sent through the relay", l,
			       number(r, "directions").value_or(0));
		}
	}
	ex.add("ntm_dc_relays", kGauge, "Relay Servers configured ([dc] relays)", {}, relays);
	ex.add("ntm_dc_relays_up", kGauge, "Relay Servers whose link is up", {}, up);
}

void render_ike(Exposition &ex, const json &k)
{
	ex.add("ntm_ike_sas", kGauge, "IKE SAs in any state", {}, number(k, "ike_sas").value_or(0));
	ex.add("ntm_ike_sas_established", kGauge, "IKE SAs established", {}, number(k, "established").value_or(0));
	ex.add("ntm_ike_sas_half_open", kGauge, "Half-open IKE SAs (responder, before IKE_AUTH)", {},
	       number(k, "half_open").value_or(0));
	ex.add("ntm_ike_child_sas", kGauge, "CHILD SAs (ESP SA pairs)", {}, number(k, "child_sas").value_or(0));
	if (!k.contains("counters") || !k["counters"].is_object())
		return;
	const auto &c = k["counters"];
	for (const auto &[key, v] : c.items()) {
		const auto n = number(c, key);
		if (!n)
			continue;
		if (key == "rx" || key == "tx")
			ex.add("ntm_ike_messages_total", kCounter, "IKE messages received and sent",
			       {{"direction", key}}, *n);
		else if (key.starts_with("drop_"))
			ex.add("ntm_ike_drops_total", kCounter, "IKE datagrams dropped, by reason",
			       {{"reason", key.substr(5)}}, *n);
		else
			ex.add("ntm_ike_" + key + "_total", kCounter, "IKE role counter " + key + " (ntmctl status)", {},
			       *n);
	}
}

void render_rs(Exposition &ex, const json &r)
{
	gauges(ex, "ntm_rs", r,
	       {{"communications", "Relayed communications"},
		{"capacity", "Relay sessions offered"},
		{"kernel_sessions", "Relay sessions in the kernel"},
		{"dc_connections", "DC connections (mutual TLS)"}});
	counters(ex, "ntm_rs", r,
		 {{"sessions_created", "Kernel relay sessions created"},
		  {"sessions_restored", "Kernel relay sessions restored by a Relay Bind"},
		  {"binds", "Relay Binds accepted"},
		  {"forwarded", "Signalling envelopes forwarded between legs"},
		  {"dc_orders", "Orders from DCs"},
		  {"tx_errors", "Datagrams that could not be sent"}});
	if (r.contains("drops"))
		labelled(ex, "ntm_rs_drops_total", kCounter, "Relay signalling dropped, by reason", {}, "reason",
			 r["drops"]);
}

/* who each tunnel leads to, by (device, local index): node peers and IKE CHILD SAs */
std::map<std::pair<std::string, std::uint32_t>, std::string> peers_of(const MetricsInput &in)
{
	std::map<std::pair<std::string, std::uint32_t>, std::string> out;
	const auto &st = in.status;
	if (st.contains("node") && st["node"].is_object()) {
		const auto &n = st["node"];
		const auto dev = text(n, "interface");
		if (n.contains("peers") && n["peers"].is_array())
			for (const auto &p : n["peers"])
				if (const auto idx = number(p, "local_index"))
					out[{dev, static_cast<std::uint32_t>(*idx)}] = text(p, "fqdn");
	}
	if (st.contains("ike") && st["ike"].is_object() && in.ike_list.contains("sas") && in.ike_list["sas"].is_array()) {
		const auto dev = text(st["ike"], "interface");
		for (const auto &sa : in.ike_list["sas"]) {
			if (!sa.contains("children") || !sa["children"].is_array())
				continue;
			for (const auto &c : sa["children"]) {
				const auto spi = text(c, "spi_in");
				try {
					if (!spi.empty())
						out[{dev, static_cast<std::uint32_t>(std::stoul(spi, nullptr, 16))}] =
							"ike " + text(sa, "connection");
				} catch (const std::exception &) {
					/* not a number: no label */
				}
			}
		}
	}
	return out;
}

void render_kernel(Exposition &ex, const MetricsInput &in)
{
	ex.add("ntm_kernel_up", kGauge, "1 when ntmd could read the module's counters over genetlink", {},
	       std::uint64_t{in.kernel.ok ? 1U : 0U});
	if (!in.kernel.ok)
		return;
	const auto peers = peers_of(in);
	for (const auto &d : in.kernel.devices) {
		const auto &dev = d.device.name;
		const Labels l{{"dev", dev}};
		ex.add("ntm_device_tunnels", kGauge, "Tunnels of the device", l, std::uint64_t{d.device.num_tunnels});
		ex.add("ntm_device_relay_sessions", kGauge, "Relay sessions of the device", l,
		       std::uint64_t{d.device.num_relays});
		for (const auto &s : ntm::kStats) {
			const auto v = d.device.stats.get(s.attr);
			if (s.name.starts_with("drop_"))
				ex.add("ntm_device_drops_total", kCounter,
				       "Packets the device dropped, by reason (netlink-api.rst, Counters)",
				       {{"dev", dev}, {"reason", std::string(s.name.substr(5))}}, v);
			else
				ex.add(fmt::format("ntm_device_{}_total", s.name), kCounter,
				       fmt::format("Device counter {} (netlink-api.rst, Counters)", s.name), l, v);
		}
		ex.add("ntm_device_tunnel_series_capped", kGauge,
		       "Tunnels beyond [metrics] max_tunnel_series, summed in the peer=\"other\" series", l,
		       d.other_tunnels);
		auto tunnel = [&](const Labels &tl, const ntm::Stats &st) {
			ex.add("ntm_tunnel_rx_packets_total", kCounter, "Packets received through the tunnel", tl,
			       st.get(NTM_STAT_A_RX_PACKETS));
			ex.add("ntm_tunnel_rx_bytes_total", kCounter, "Inner bytes received through the tunnel", tl,
			       st.get(NTM_STAT_A_RX_BYTES));
			ex.add("ntm_tunnel_tx_packets_total", kCounter, "Packets sent through the tunnel", tl,
			       st.get(NTM_STAT_A_TX_PACKETS));
			ex.add("ntm_tunnel_tx_bytes_total", kCounter, "Inner bytes sent through the tunnel", tl,
			       st.get(NTM_STAT_A_TX_BYTES));
			ex.add("ntm_tunnel_drops_total", kCounter, "Packets of the tunnel dropped, all reasons", tl,
			       st.drops());
		};
		for (const auto &t : d.tunnels) {
			const auto it = peers.find({dev, t.local_index});
			tunnel({{"dev", dev},
				{"index", t.is_esp() ? ntm::spi_string(t.local_index) : std::to_string(t.local_index)},
				{"peer", it != peers.end() ? it->second : std::string()}},
			       t.stats);
		}
		if (d.other_tunnels > 0)
			tunnel({{"dev", dev}, {"index", "other"}, {"peer", "other"}}, d.other);
	}
}

} // namespace

/* ---- the writer ---- */

bool Exposition::valid_name(std::string_view s, bool label) noexcept
{
	if (s.empty())
		return false;
	for (std::size_t i = 0; i < s.size(); i++) {
		const char c = s[i];
		const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

std::string Exposition::escape_help(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (const char c : s) {
		if (c == '\\')
			out += "\\\\";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}

std::string Exposition::escape_label(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (const char c : s) {
		if (c == '\\')
			out += "\\\\";
		else if (c == '"')
			out += "\\\"";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}

Exposition::Family &Exposition::family(std::string_view name, Type type, std::string_view help)
{
	const auto it = families_.find(name);
	if (it != families_.end())
		return it->second;
	if (!valid_name(name, false))
		throw std::invalid_argument("invalid metric name " + std::string(name));
	Family f;
	f.head = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name,
			     type == Type::counter ? "counter" : "gauge");
	order_.emplace_back(name);
	return families_.emplace(std::string(name), std::move(f)).first->second;
}

void Exposition::sample(std::string_view name, Type type, std::string_view help, const Labels &labels,
			const std::string &value)
{
	auto &f = family(name, type, help);
	f.samples += name;
	if (!labels.empty()) {
		f.samples += '{';
		bool first = true;
		for (const auto &[k, v] : labels) {
			if (!valid_name(k, true) || k.starts_with("__"))
				throw std::invalid_argument("invalid label name " + k);
			if (!first)
				f.samples += ',';
			first = false;
			f.samples += k;
			f.samples += "=\"";
			f.samples += escape_label(v);
			f.samples += '"';
		}
		f.samples += '}';
	}
	f.samples += ' ';
	f.samples += value;
	f.samples += '\n';
}

void Exposition::add(std::string_view name, Type type, std::string_view help, const Labels &labels,
		     std::uint64_t value)
{
	sample(name, type, help, labels, std::to_string(value));
}

void Exposition::add(std::string_view name, Type type, std::string_view help, const Labels &labels, double value)
{
	std::string v;
	if (std::isnan(value))
		v = "NaN";
	else if (std::isinf(value))
		v = value > 0 ? "+Inf" : "-Inf";
	else
		v = fmt::format("{}", value);
	sample(name, type, help, labels, v);
}

std::string Exposition::str() const
{
	std::string out;
	for (const auto &name : order_) {
		const auto &f = families_.find(name)->second;
		out += f.head;
		out += f.samples;
	}
	return out;
}

/* ---- the kernel ---- */

KernelSnapshot read_kernel(std::uint32_t max_tunnel_series)
{
	KernelSnapshot snap;
	try {
		ntm::GenlSocket gs;
		for (const auto &l : ntm::list_links_of_kind(NTM_LINK_KIND)) {
			DeviceSnapshot d;
			try {
				d.device = ntm::get_device(gs, ntm::DeviceRef::by_index(l.ifindex));
				ntm::dump_tunnels(gs, ntm::DeviceRef::by_index(l.ifindex), [&](ntm::Tunnel &&t) {
					if (d.tunnels.size() < max_tunnel_series) {
						d.tunnels.push_back(std::move(t));
						return;
					}
					d.other_tunnels++;
					for (int a = 1; a <= NTM_STAT_A_MAX; a++)
						d.other.set(a, d.other.get(a) + t.stats.get(a));
				});
			} catch (const ntm::KernelError &e) {
				if (e.code() == ENODEV)
					continue; /* gone since the listing */
				throw;
			}
			snap.devices.push_back(std::move(d));
		}
		snap.ok = true;
	} catch (const std::exception &e) {
		snap.ok = false;
		snap.error = e.what();
		snap.devices.clear();
	}
	return snap;
}

KernelReader::KernelReader(asio::io_context &io, Read read) : read_(std::move(read)), done_(io) {}

asio::awaitable<KernelSnapshot> KernelReader::read()
{
	if (running_) {
		const std::uint64_t gen = generation_;
		while (generation_ == gen) {
			asio::error_code ec; /* operation_aborted: the read ended */
			co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
		}
		co_return *last_;
	}
	running_ = true;
	done_.expires_at(asio::steady_timer::time_point::max());
	KernelSnapshot snap;
	try {
		/* resumes on this coroutine's executor, the loop */
		snap = co_await asio::co_spawn(
			worker_, [this]() -> asio::awaitable<KernelSnapshot> { co_return read_(); }, asio::use_awaitable);
	} catch (const std::exception &e) {
		snap = KernelSnapshot{};
		snap.error = e.what();
	}
	last_ = std::make_shared<const KernelSnapshot>(snap);
	generation_++;
	running_ = false;
	done_.cancel();
	co_return snap;
}

/* ---- the page ---- */

std::string render_metrics(const MetricsInput &in)
{
	Exposition ex;
	ex.add("ntm_build_info", kGauge, "ntmd's version, as a label; always 1", {{"version", in.version}},
	       std::uint64_t{1});
	if (in.status.contains("roles") && in.status["roles"].is_array())
		for (const auto &r : in.status["roles"])
			if (r.is_string())
				ex.add("ntm_role", kGauge, "The roles this ntmd runs; always 1", {{"role", r.get<std::string>()}},
				       std::uint64_t{1});
	ex.add("ntm_metrics_scrapes_total", kCounter, "Requests for /metrics answered", {}, in.scrapes);
	ex.add("ntm_metrics_http_errors_total", kCounter,
	       "HTTP requests refused (malformed, too large, not GET /metrics, too many connections)", {},
	       in.http_errors);
	for (const auto &[name, n] : in.events)
		ex.add("ntm_daemon_events_total", kCounter, "Daemon events emitted (ntmctl monitor), by event",
		       {{"event", name}}, n);
	const auto &st = in.status;
	if (st.contains("as") && st["as"].is_object())
		counters(ex, "ntm_as", st["as"],
			 {{"logins_ok", "Logins accepted"},
			  {"logins_failed", "Logins refused"},
			  {"malformed", "Malformed login requests"},
			  {"dc_failures", "Key Distributions a DC did not accept"},
			  {"key_id_retries", "Key ids drawn again after a collision"},
			  {"dc_unpinned", "DCs refused for a name outside as.dc_names"},
			  {"logins_throttled", "Logins refused by the rate limit"},
			  {"connections_refused", "TLS connections refused (limit)"}});
	if (st.contains("dc") && st["dc"].is_object())
		render_dc(ex, st["dc"]);
	if (st.contains("node") && st["node"].is_object())
		render_node(ex, st["node"]);
	if (st.contains("ike") && st["ike"].is_object())
		render_ike(ex, st["ike"]);
	if (st.contains("rs") && st["rs"].is_object())
		render_rs(ex, st["rs"]);
	render_kernel(ex, in);
	return ex.str();
}

} // namespace ntmd
