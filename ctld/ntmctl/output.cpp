// SPDX-License-Identifier: GPL-2.0
#include "output.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>

#include "ntm/format.hpp"

namespace ntmctl {

namespace {

std::string opt_str(const std::optional<ntm::IpAddress> &a)
{
	return a ? a->to_string() : "-";
}

using Json = nlohmann::ordered_json;

bool is_scalar(const Json &j)
{
	return !j.is_object() && !j.is_array();
}

std::string scalar_text(const Json &j)
{
	if (j.is_null())
		return "-";
	if (j.is_string())
		return j.get<std::string>();
	return j.dump();
}

using Lines = std::vector<std::string>;

void render(const Json &j, const std::string &indent, Lines &lines);

/* "key: value" or "key:" and the nested value below it */
void render_member(const std::string &key, const Json &v, const std::string &indent, Lines &lines)
{
	if (is_scalar(v) || v.empty()) {
		lines.push_back(indent + key + ": " + (is_scalar(v) ? scalar_text(v) : "-"));
	} else if (v.is_array() && std::ranges::all_of(v, is_scalar)) {
		std::string line;
		for (const auto &e : v)
			line += (line.empty() ? "" : ", ") + scalar_text(e);
		lines.push_back(indent + key + ": " + line);
	} else {
		lines.push_back(indent + key + ":");
		render(v, indent + "  ", lines);
	}
}

void render(const Json &j, const std::string &indent, Lines &lines)
{
	if (j.is_object()) {
		for (const auto &[k, v] : j.items())
			render_member(k, v, indent, lines);
	} else if (j.is_array()) {
		for (const auto &e : j) {
			if (is_scalar(e) || e.empty()) {
				lines.push_back(indent + "- " + (is_scalar(e) ? scalar_text(e) : "-"));
				continue;
			}
			/* the item's first line on the dash's line, the others aligned below it */
			Lines item;
			render(e, "", item);
			for (std::size_t i = 0; i < item.size(); i++)
				lines.push_back(indent + (i == 0 ? "- " : "  ") + item[i]);
		}
	} else {
		lines.push_back(indent + scalar_text(j));
	}
}

bool is_drop(const ntm::StatInfo &s)
{
	return s.name.starts_with("drop_");
}

/* "10.2.0.0/16, fd00:2::/64" or "(any)" */
std::string ts_list(const std::vector<ntm::Prefix> &ts)
{
	std::string out;
	for (const auto &p : ts)
		out += (out.empty() ? "" : ", ") + p.to_string();
	return out.empty() ? "(any)" : out;
}

/* the index of a tunnel as a user names it: decimal, or the SPI in hex for ESP */
std::string index_text(const ntm::Tunnel &t, std::uint32_t index)
{
	return t.is_esp() ? ntm::spi_string(index) : std::to_string(index);
}

/* "1 hour (expires in 10 minutes)": a time limit against the tunnel's age */
std::string time_limit(std::uint32_t limit, std::uint32_t age, const char *when, const char *past)
{
	return ntm::format_duration(limit) + (limit > age
						      ? fmt::format(" ({} {})", when, ntm::format_duration(limit - age))
						      : fmt::format(" ({})", past));
}

/* "soft 1.00 GiB, hard 2.00 GiB" for the limits that are set */
std::string limits_text(std::uint64_t soft, std::uint64_t hard, bool bytes)
{
	auto text = [bytes](std::uint64_t v) { return bytes ? ntm::format_bytes(v) : std::to_string(v); };
	std::string out;
	if (soft != 0)
		out = "soft " + text(soft);
	if (hard != 0)
		out += (out.empty() ? "" : ", ") + std::string("hard ") + text(hard);
	return out;
}

bool is_transfer(const ntm::StatInfo &s)
{
	return s.attr == NTM_STAT_A_RX_PACKETS || s.attr == NTM_STAT_A_RX_BYTES || s.attr == NTM_STAT_A_TX_PACKETS ||
	       s.attr == NTM_STAT_A_TX_BYTES;
}

} // namespace

std::uint64_t boottime_ns() noexcept
{
	timespec ts{};
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return 0;
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string format_time(std::int64_t unix_s)
{
	if (unix_s == 0)
		return "never";
	const auto t = static_cast<std::time_t>(unix_s);
	std::tm tm{};
	if (gmtime_r(&t, &tm) == nullptr)
		return std::to_string(unix_s);
	std::array<char, 32> buf{};
	const auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%SZ", &tm);
	return n == 0 ? std::to_string(unix_s) : std::string(buf.data(), n);
}

void print_table(std::FILE *out, const std::vector<std::vector<std::string>> &rows)
{
	std::vector<std::size_t> width;
	for (const auto &r : rows) {
		if (width.size() < r.size())
			width.resize(r.size());
		for (std::size_t i = 0; i < r.size(); i++)
			width[i] = std::max(width[i], r[i].size());
	}
	for (const auto &r : rows) {
		std::string line;
		for (std::size_t i = 0; i < r.size(); i++) {
			line += r[i];
			if (i + 1 < r.size())
				line.append(width[i] - r[i].size() + 2, ' ');
		}
		fmt::print(out, "{}\n", line);
	}
}

void print_json_text(std::FILE *out, const nlohmann::ordered_json &j)
{
	Lines lines;
	render(j, "", lines);
	for (const auto &l : lines)
		fmt::print(out, "{}\n", l);
}

std::string latest_rx(std::uint64_t last_rx_ns, std::uint64_t now_ns)
{
	if (last_rx_ns == 0)
		return "never";
	const std::uint64_t ago = now_ns > last_rx_ns ? (now_ns - last_rx_ns) / 1000000000ULL : 0;
	if (ago == 0)
		return "just now";
	return ntm::format_duration(ago) + " ago";
}

void print_device(std::FILE *out, const ntm::Device &d)
{
	fmt::print(out, "interface: {}\n", d.name.empty() ? std::to_string(d.ifindex) : d.name);
	fmt::print(out, "  ifindex: {}\n", d.ifindex);
	if (!d.port4 && !d.port6) {
		fmt::print(out, "  listening port: none\n");
	} else {
		std::string ports;
		if (d.port4)
			ports = fmt::format("{} (ipv4)", *d.port4);
		if (d.port6)
			ports += fmt::format("{}{} (ipv6)", ports.empty() ? "" : ", ", *d.port6);
		fmt::print(out, "  listening port: {}\n", ports);
	}
	fmt::print(out, "  flags: {}\n", ntm::device_flags_string(d.flags));
	if (d.fwmark != 0)
		fmt::print(out, "  fwmark: {:#x}\n", d.fwmark);
	fmt::print(out, "  acquire queue: {} packets\n", d.acquire_qlen);
	if (d.max_tunnels != 0)
		fmt::print(out, "  tunnels: {} (at most {})\n", d.num_tunnels, d.max_tunnels);
	else
		fmt::print(out, "  tunnels: {}\n", d.num_tunnels);
	if (d.num_relays != 0)
		fmt::print(out, "  relay sessions: {} (at most {})\n", d.num_relays, d.max_relays);
	const auto &s = d.stats;
	if (s.get(NTM_STAT_A_RX_BYTES) != 0 || s.get(NTM_STAT_A_TX_BYTES) != 0)
		fmt::print(out, "  transfer: {} received, {} sent\n", ntm::format_bytes(s.get(NTM_STAT_A_RX_BYTES)),
			   ntm::format_bytes(s.get(NTM_STAT_A_TX_BYTES)));
	for (const auto &st : ntm::kStats)
		if (const auto v = s.get(st.attr); v != 0)
			fmt::print(out, "  {}: {}\n", st.name, v);
}

void print_tunnel(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns, const std::string &peer)
{
	const bool esp = t.is_esp();
	fmt::print(out, "\ntunnel: {}{}\n", index_text(t, t.local_index), peer.empty() ? "" : " (" + peer + ")");
	if (esp) {
		fmt::print(out, "  encap: {}\n", ntm::encap_name(t.encap));
		fmt::print(out, "  spi: in {}, out {}\n", ntm::spi_string(t.local_index),
			   ntm::spi_string(t.remote_index));
	} else {
		if (t.encap != NTM_ENCAP_NTM)
			fmt::print(out, "  encap: {}\n", ntm::encap_name(t.encap));
		fmt::print(out, "  remote index: {}\n", t.remote_index);
	}
	fmt::print(out, "  endpoint: {}\n", t.endpoint ? t.endpoint->to_string() : "(none)");
	if (t.state != NTM_TUNNEL_STATE_ACTIVE || t.replaces)
		fmt::print(out, "  state: {}{}\n", ntm::tunnel_state_name(t.state),
			   t.replaces ? fmt::format(" (replaces {})", *t.replaces) : std::string());
	std::string vips;
	if (t.vip4)
		vips = t.vip4->to_string();
	if (t.vip6)
		vips += (vips.empty() ? "" : ", ") + t.vip6->to_string();
	if (!esp || !vips.empty())
		fmt::print(out, "  virtual ips: {}\n", vips.empty() ? "(none)" : vips);
	if (esp || !t.remote_ts.empty() || !t.local_ts.empty()) {
		fmt::print(out, "  remote ts: {}\n", ts_list(t.remote_ts));
		fmt::print(out, "  local ts: {}\n", ts_list(t.local_ts));
	}
	fmt::print(out, "  cipher: {}\n", ntm::cipher_name(t.cipher));
	if (esp || t.esn)
		fmt::print(out, "  esn: {}\n", t.esn ? "on" : "off");
	if (t.flags != 0)
		fmt::print(out, "  flags: {}\n", ntm::tunnel_flags_string(t.flags));
	fmt::print(out, "  age: {}\n", ntm::format_duration(t.age_s));
	if (t.lifetime != 0)
		fmt::print(out, "  lifetime: {}\n", time_limit(t.lifetime, t.age_s, "expires in", "expired"));
	if (t.soft_lifetime != 0)
		fmt::print(out, "  soft lifetime: {}\n", time_limit(t.soft_lifetime, t.age_s, "rekey in", "rekey due"));
	if (const auto b = limits_text(t.soft_bytes, t.hard_bytes, true); !b.empty())
		fmt::print(out, "  byte limits: {}\n", b);
	if (const auto p = limits_text(t.soft_packets, t.hard_packets, false); !p.empty())
		fmt::print(out, "  packet limits: {}\n", p);
	fmt::print(out, "  {}: tx {}, rx {}\n", esp ? "sequence numbers" : "counters", t.tx_counter, t.rx_counter);
	fmt::print(out, "  latest rx: {}\n", latest_rx(t.last_rx_ns, now_ns));
	const auto &s = t.stats;
	fmt::print(out, "  transfer: {} received, {} sent ({} / {} packets)\n",
		   ntm::format_bytes(s.get(NTM_STAT_A_RX_BYTES)), ntm::format_bytes(s.get(NTM_STAT_A_TX_BYTES)),
		   s.get(NTM_STAT_A_RX_PACKETS), s.get(NTM_STAT_A_TX_PACKETS));
	std::string drops;
	std::string other;
	for (const auto &st : ntm::kStats) {
		const auto v = s.get(st.attr);
		if (v == 0 || is_transfer(st))
			continue;
		std::string &dst = is_drop(st) ? drops : other;
		const auto name = is_drop(st) ? st.name.substr(5) : st.name;
		dst += fmt::format("{}{} {}", dst.empty() ? "" : ", ", name, v);
	}
	if (!drops.empty())
		fmt::print(out, "  drops: {}\n", drops);
	if (!other.empty())
		fmt::print(out, "  events: {}\n", other);
}

void print_relay_header(std::FILE *out)
{
	fmt::print(out, "{:<10} {:<28} {:<10} {:<28} {:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {}\n", "ID", "LEG1",
		   "INDEX1", "LEG2", "INDEX2", "RX1-PKTS", "RX2-PKTS", "DROP-TX", "AGE", "IDLE", "LIMITS");
}

void print_relay_row(std::FILE *out, const ntm::Relay &r)
{
	std::string lim = limits_text(0, r.hard_bytes, true);
	if (r.hard_packets != 0)
		lim += (lim.empty() ? "" : ", ") + std::to_string(r.hard_packets) + " packets";
	if (r.idle_timeout != 0)
		lim += (lim.empty() ? "" : ", ") + fmt::format("idle {}s", r.idle_timeout);
	fmt::print(out, "{:<10} {:<28} {:<10} {:<28} {:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {}\n", r.id,
		   r.legs[0].endpoint.to_string(), r.legs[0].index, r.legs[1].endpoint.to_string(), r.legs[1].index,
		   r.legs[0].rx_packets, r.legs[1].rx_packets, r.drop_tx, r.age_s, r.idle_s, lim.empty() ? "-" : lim);
}

void print_tunnel_header(std::FILE *out)
{
	fmt::print(out, "{:<10} {:<10} {:<24} {:<15} {:<24} {:<17} {:<7} {:<7} {:>8} {:>8} {:>10} {:>10} {:>8} {}\n",
		   "LOCAL", "REMOTE", "ENDPOINT", "VIP4", "VIP6", "CIPHER", "ENCAP", "STATE", "AGE", "LIFETIME",
		   "RX-PKTS", "TX-PKTS", "DROPS", "LATEST-RX");
}

void format_tunnel_row(fmt::memory_buffer &buf, const ntm::Tunnel &t, std::uint64_t now_ns)
{
	/* -, or a count with unit: small enough for std::string's inline buffer */
	std::string rx = "never";
	if (t.last_rx_ns != 0)
		rx = fmt::format("{}s", now_ns > t.last_rx_ns ? (now_ns - t.last_rx_ns) / 1000000000ULL : 0);
	fmt::format_to(fmt::appender(buf),
		       "{:<10} {:<10} {:<24} {:<15} {:<24} {:<17} {:<7} {:<7} {:>8} {:>8} {:>10} {:>10} {:>8} {}\n",
		       index_text(t, t.local_index), index_text(t, t.remote_index),
		       t.endpoint ? t.endpoint->to_string() : "-", opt_str(t.vip4), opt_str(t.vip6),
		       ntm::cipher_name(t.cipher), ntm::encap_name(t.encap), ntm::tunnel_state_name(t.state), t.age_s,
		       t.lifetime != 0 ? std::to_string(t.lifetime) : "-", t.stats.get(NTM_STAT_A_RX_PACKETS),
		       t.stats.get(NTM_STAT_A_TX_PACKETS), t.stats.drops(), rx);
}

void print_tunnel_row(std::FILE *out, const ntm::Tunnel &t, std::uint64_t now_ns)
{
	DumpWriter w(out);
	format_tunnel_row(w.buf(), t, now_ns);
}

void DumpWriter::flush() noexcept
{
	if (buf_.size() != 0)
		(void)std::fwrite(buf_.data(), 1, buf_.size(), out_);
	buf_.clear();
}

std::string human_bytes(std::uint64_t n)
{
	if (n < 1024)
		return fmt::format("{} B", n);
	constexpr std::array<const char *, 6> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	auto v = static_cast<double>(n) / 1024.0;
	std::size_t u = 0;
	while (v >= 1024.0 && u + 1 < kUnits.size()) {
		v /= 1024.0;
		u++;
	}
	return fmt::format("{:.1f} {}", v, kUnits.at(u));
}

std::string ago(std::int64_t seconds)
{
	if (seconds < 0)
		return "-";
	if (seconds < 120)
		return fmt::format("{}s ago", seconds);
	if (seconds < 2 * 3600)
		return fmt::format("{}m ago", seconds / 60);
	if (seconds < 2 * 86400)
		return fmt::format("{}h ago", seconds / 3600);
	return fmt::format("{}d ago", seconds / 86400);
}

std::vector<std::vector<std::string>> peer_table(const nlohmann::ordered_json &node,
						 const std::map<std::uint32_t, Traffic> &traffic)
{
	std::vector<std::vector<std::string>> rows{
		{"PEER", "VIRTUAL", "PATH", "ENDPOINT", "HANDSHAKE", "RX", "TX"}};
	const auto str = [](const Json &j, const char *k) {
		const auto it = j.find(k);
		return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
	};
	const auto peers = node.find("peers");
	if (peers == node.end() || !peers->is_array())
		return rows;
	for (const auto &p : *peers) {
		if (!p.is_object())
			continue;
		const std::string endpoint = str(p, "endpoint");
		std::string name = str(p, "fqdn");
		if (name.empty())
			name = endpoint.empty() ? "-" : endpoint;
		std::string vips = str(p, "vip4");
		if (const auto v6 = str(p, "vip6"); !v6.empty())
			vips += (vips.empty() ? "" : ",") + v6;
		std::string path = "direct";
		if (const auto pa = p.find("path"); pa != p.end() && pa->is_object() && str(*pa, "path") == "relay")
			path = "relayed via " + str(*pa, "relay");
		std::string handshake = "-";
		if (const auto k = p.find("key_age_s"); k != p.end() && k->is_number_integer())
			handshake = ago(k->get<std::int64_t>());
		std::string rx = "-";
		std::string tx = "-";
		if (const auto li = p.find("local_index"); li != p.end() && li->is_number_unsigned()) {
			const auto t = traffic.find(li->get<std::uint32_t>());
			if (t != traffic.end()) {
				rx = human_bytes(t->second.rx);
				tx = human_bytes(t->second.tx);
			}
		}
		rows.push_back({name, vips.empty() ? "-" : vips, path, endpoint.empty() ? "-" : endpoint, handshake, rx,
				tx});
	}
	return rows;
}

} // namespace ntmctl
