// SPDX-License-Identifier: GPL-2.0
#include "ntm/json.hpp"

#include <type_traits>

namespace ntm {

using nlohmann::json;

namespace {

template <class T> json opt(const std::optional<T> &v)
{
	return v ? json(*v) : json(nullptr);
}

} // namespace

void to_json(json &j, const IpAddress &a)
{
	j = a.to_string();
}

void to_json(json &j, const Endpoint &e)
{
	j = e.to_string();
}

void to_json(json &j, const Stats &s)
{
	j = json::object();
	for (const auto &st : kStats)
		j[std::string(st.name)] = s.get(st.attr);
}

void to_json(json &j, const Device &d)
{
	j = json{
		{"ifindex", d.ifindex},
		{"ifname", d.name},
		{"flags", d.flags},
		{"roaming", (d.flags & NTM_DEV_F_NO_ROAMING) == 0},
		{"acquire", (d.flags & NTM_DEV_F_NO_ACQUIRE) == 0},
		{"fwmark", d.fwmark},
		{"port4", opt(d.port4)},
		{"port6", opt(d.port6)},
		{"num_tunnels", d.num_tunnels},
		{"acquire_qlen", d.acquire_qlen},
		{"stats", d.stats},
		{"num_relays", d.num_relays},
		{"max_relays", d.max_relays},
		{"max_tunnels", d.max_tunnels},
	};
}

void to_json(json &j, const Prefix &p)
{
	j = p.to_string();
}

void to_json(json &j, const Tunnel &t)
{
	const bool esp = t.is_esp();
	j = json{
		{"encap", encap_name(t.encap)},
		{"local_index", t.local_index},
		{"remote_index", t.remote_index},
		{"endpoint", opt(t.endpoint)},
		{"vip4", opt(t.vip4)},
		{"vip6", opt(t.vip6)},
		{"cipher", cipher_name(t.cipher)},
		{"lifetime", t.lifetime},
		{"flags", t.flags},
		{"roaming", (t.flags & NTM_TUNNEL_F_NO_ROAMING) == 0},
		{"tx_counter", t.tx_counter},
		{"rx_counter", t.rx_counter},
		{"last_rx_ns", t.last_rx_ns},
		{"age_s", t.age_s},
		{"stats", t.stats},
		/* ESP: the SPIs in hex as ip xfrm shows them, null for NTM tunnels */
		{"spi_in", esp ? json(spi_string(t.local_index)) : json(nullptr)},
		{"spi_out", esp ? json(spi_string(t.remote_index)) : json(nullptr)},
		{"esn", t.esn},
		{"remote_ts", t.remote_ts},
		{"local_ts", t.local_ts},
		{"soft_lifetime", t.soft_lifetime},
		{"soft_bytes", t.soft_bytes},
		{"hard_bytes", t.hard_bytes},
		{"soft_packets", t.soft_packets},
		{"hard_packets", t.hard_packets},
		{"state", tunnel_state_name(t.state)},
		{"replaces", opt(t.replaces)},
	};
}

void to_json(json &j, const RelayLeg &l)
{
	j = json{
		{"endpoint", l.endpoint},
		{"index", l.index},
		{"rx_packets", l.rx_packets},
		{"rx_bytes", l.rx_bytes},
	};
}

void to_json(json &j, const Relay &r)
{
	j = json{
		{"id", r.id},
		{"legs", json::array({r.legs[0], r.legs[1]})},
		{"hard_bytes", r.hard_bytes},
		{"hard_packets", r.hard_packets},
		{"idle_timeout", r.idle_timeout},
		{"age_s", r.age_s},
		{"idle_s", r.idle_s},
		{"drop_src", r.drop_src},
		{"drop_tx", r.drop_tx},
	};
}

std::string json_dump(const json &j)
{
	return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json event_to_json(const Event &ev, const std::string &ifname)
{
	json j = std::visit(
		[](const auto &e) -> json {
			using T = std::decay_t<decltype(e)>;
			if constexpr (std::is_same_v<T, AcquireEvent>) {
				return json{{"event", "acquire"}, {"dst", e.dst}, {"src", e.src}};
			} else if constexpr (std::is_same_v<T, EndpointEvent>) {
				return json{{"event", "endpoint"},
					    {"local_index", e.local_index},
					    {"endpoint", e.endpoint}};
			} else if constexpr (std::is_same_v<T, TakeoverEvent>) {
				return json{{"event", "takeover"},
					    {"local_index", e.local_index},
					    {"remote_index", e.remote_index},
					    {"replaces", e.replaces}};
			} else if constexpr (std::is_same_v<T, RelayExpiredEvent>) {
				return json{{"event", "relay_expired"},
					    {"relay", e.relay},
					    {"reason", expire_reason_name(e.reason)},
					    {"reason_code", e.reason}};
			} else {
				return json{{"event", "expired"},
					    {"local_index", e.local_index},
					    {"remote_index", e.remote_index},
					    {"reason", expire_reason_name(e.reason)},
					    {"reason_code", e.reason},
					    {"soft", e.soft()}};
			}
		},
		ev);
	j["ifindex"] = event_ifindex(ev);
	j["ifname"] = ifname.empty() ? json(nullptr) : json(ifname);
	return j;
}

} // namespace ntm
