// SPDX-License-Identifier: GPL-2.0
#include "ntm/json_stream.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ntm {

namespace {

/*
 * nlohmann::json keeps object members in a std::map: its dump lists them
 * in byte order of the key.  The stats in that order, computed once.
 */
constexpr auto kStatsByName = [] {
	auto a = kStats;
	std::sort(a.begin(), a.end(), [](const StatInfo &x, const StatInfo &y) { return x.name < y.name; });
	return a;
}();

void raw(fmt::memory_buffer &out, std::string_view s)
{
	out.append(s.data(), s.data() + s.size());
}

/*
 * ,"key": (or {"key": for the first) as one append: keys are constants that
 * need no escaping, and a tunnel has 66 of them.
 */
template <std::size_t N> void key(fmt::memory_buffer &out, const char (&k)[N], bool first = false)
{
	out.push_back(first ? '{' : ',');
	out.push_back('"');
	out.append(k, k + N - 1);
	out.push_back('"');
	out.push_back(':');
}

/* ,"rx_packets": for each counter, in kStatsByName order, built once */
const std::array<std::string, kStatCount> &stat_keys()
{
	static const auto keys = [] {
		std::array<std::string, kStatCount> a;
		for (std::size_t i = 0; i < a.size(); i++)
			a.at(i) = ",\"" + std::string(kStatsByName.at(i).name) + "\":";
		return a;
	}();
	return keys;
}

template <class T> void num(fmt::memory_buffer &out, T v)
{
	const fmt::format_int f(v);
	out.append(f.data(), f.data() + f.size());
}

void boolean(fmt::memory_buffer &out, bool v)
{
	raw(out, v ? std::string_view("true") : std::string_view("false"));
}

template <class T> void opt_string(fmt::memory_buffer &out, const std::optional<T> &v)
{
	if (v)
		append_json_string(out, v->to_string());
	else
		raw(out, "null");
}

void prefixes(fmt::memory_buffer &out, const std::vector<Prefix> &ps)
{
	out.push_back('[');
	bool first = true;
	for (const auto &p : ps) {
		if (!first)
			out.push_back(',');
		first = false;
		append_json_string(out, p.to_string());
	}
	out.push_back(']');
}

} // namespace

void append_json_string(fmt::memory_buffer &out, std::string_view s)
{
	const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
		const auto u = static_cast<unsigned char>(c);
		return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
	});
	if (!plain) {
		/* escapes and UTF-8 repair exactly as json_dump does them */
		raw(out, nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
		return;
	}
	out.push_back('"');
	raw(out, s);
	out.push_back('"');
}

void append_json(fmt::memory_buffer &out, const Stats &s)
{
	const auto &keys = stat_keys();
	for (std::size_t i = 0; i < keys.size(); i++) {
		const std::string &k = keys.at(i);
		/* the first without its comma: {"acquire_queued": */
		out.push_back(i == 0 ? '{' : ',');
		out.append(k.data() + 1, k.data() + k.size());
		num(out, s.get(kStatsByName.at(i).attr));
	}
	out.push_back('}');
}

void append_json(fmt::memory_buffer &out, const Tunnel &t, std::string_view peer)
{
	const bool esp = t.is_esp();
	/* in byte order of the key, like to_json(Tunnel) after std::map */
	key(out, "age_s", true);
	num(out, t.age_s);
	key(out, "cipher");
	append_json_string(out, cipher_name(t.cipher));
	key(out, "encap");
	append_json_string(out, encap_name(t.encap));
	key(out, "endpoint");
	opt_string(out, t.endpoint);
	key(out, "esn");
	boolean(out, t.esn);
	key(out, "flags");
	num(out, t.flags);
	key(out, "hard_bytes");
	num(out, t.hard_bytes);
	key(out, "hard_packets");
	num(out, t.hard_packets);
	key(out, "last_rx_ns");
	num(out, t.last_rx_ns);
	key(out, "lifetime");
	num(out, t.lifetime);
	key(out, "local_index");
	num(out, t.local_index);
	key(out, "local_ts");
	prefixes(out, t.local_ts);
	if (!peer.empty()) {
		key(out, "peer");
		append_json_string(out, peer);
	}
	key(out, "remote_index");
	num(out, t.remote_index);
	key(out, "remote_ts");
	prefixes(out, t.remote_ts);
	key(out, "replaces");
	if (t.replaces)
		num(out, *t.replaces);
	else
		raw(out, "null");
	key(out, "roaming");
	boolean(out, (t.flags & NTM_TUNNEL_F_NO_ROAMING) == 0);
	key(out, "rx_counter");
	num(out, t.rx_counter);
	key(out, "soft_bytes");
	num(out, t.soft_bytes);
	key(out, "soft_lifetime");
	num(out, t.soft_lifetime);
	key(out, "soft_packets");
	num(out, t.soft_packets);
	key(out, "spi_in");
	if (esp)
		append_json_string(out, spi_string(t.local_index));
	else
		raw(out, "null");
	key(out, "spi_out");
	if (esp)
		append_json_string(out, spi_string(t.remote_index));
	else
		raw(out, "null");
	key(out, "state");
	append_json_string(out, tunnel_state_name(t.state));
	key(out, "stats");
	append_json(out, t.stats);
	key(out, "tx_counter");
	num(out, t.tx_counter);
	key(out, "vip4");
	opt_string(out, t.vip4);
	key(out, "vip6");
	opt_string(out, t.vip6);
	out.push_back('}');
}

} // namespace ntm
