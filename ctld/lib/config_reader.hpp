// SPDX-License-Identifier: GPL-2.0
/*
 * Internal to the ntmd.toml reader (config.cpp, config_ike.cpp,
 * config_rs.cpp): the table walker every section reader uses, with the
 * "<path>:<line>: <dotted.key>: <problem>" errors, and the small value
 * parsers they share. Not installed; not part of libntm's interface.
 */
#ifndef NTM_CONFIG_READER_HPP
#define NTM_CONFIG_READER_HPP

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "ntm/config.hpp"

namespace ntm::config::detail {

using Line = std::uint32_t;

using Line = std::uint32_t;

constexpr std::int64_t kMaxKeyLifetime = 31536000;	  /* one year */
constexpr std::int64_t kMaxRegistrationLifetime = 604800; /* one week */
constexpr std::int64_t kMaxTunnelLifetime = 604800;
constexpr std::uint64_t kMaxScryptMemory = std::uint64_t{1} << 30; /* 128 * r * N bytes */
constexpr std::uint16_t kDnsPort = 53;
constexpr std::int64_t kMaxSaLifetime = 31536000;		  /* IKE and CHILD SA rekey times: one year */
constexpr std::int64_t kMaxHalfOpen = std::int64_t{1} << 20;	  /* ike.half_open_max, cookie_threshold */
constexpr std::size_t kMaxConnectionName = 32;
constexpr std::size_t kMaxIdText = 1024; /* an IKE identity as written */
constexpr std::size_t kMaxIdData = 255;	 /* fqdn, email, keyid bytes */

bool is_digits(std::string_view s) noexcept;
std::optional<IpAddress> ipv4_literal(std::string_view s);
std::optional<IpAddress> ipv6_literal(std::string_view s);
std::optional<IpAddress> ip_literal(std::string_view s);
bool is_unspecified(const IpAddress &a) noexcept;
bool is_multicast(const IpAddress &a) noexcept;
bool is_loopback(const IpAddress &a) noexcept;
std::uint16_t parse_port_text(std::string_view s);
Endpoint parse_literal_endpoint(std::string_view s, std::uint16_t default_port, bool wildcard_ok);
std::string quote(std::string_view s);
std::string key_text(std::string_view k);
std::string_view closest(std::string_view key, std::initializer_list<std::string_view> known);
std::string type_name(toml::node_type t);
std::string lower_name(std::string_view s);

/* A table of the document: its dotted name and the line of its header (1 for the root). */
struct Section {
	const toml::table *t = nullptr; /* null when absent */
	std::string name;
	Line line = 1;
};

/* A string value and where it was. */
struct Item {
	std::string value;
	Line line = 1;
};

class Reader {
public:
	Reader(std::string path, std::vector<Endpoint> resolv) : path_(std::move(path)), resolv_(std::move(resolv)) {}

	Config read(const toml::table &root);

private:
	[[noreturn]] void fail(Line line, std::string_view key, std::string_view problem) const
	{
		throw ConfigError(path_ + ":" + std::to_string(line) + ": " + std::string(key) + ": " +
				  std::string(problem));
	}

	static std::string dotted(const Section &s, std::string_view key)
	{
		return s.name.empty() ? key_text(key) : s.name + "." + key_text(key);
	}

	static Line line_of(const toml::node &n, Line fallback)
	{
		const Line l = n.source().begin.line;
		return l != 0 ? l : fallback;
	}

	void check_keys(const Section &s, std::initializer_list<std::string_view> known) const;
	[[nodiscard]] const toml::node *find(const Section &s, std::string_view key) const;
	void expect(const Section &s, std::string_view key, const toml::node &n, toml::node_type t) const;
	[[noreturn]] void missing(const Section &s, std::string_view key, std::string_view why = {}) const;

	[[nodiscard]] Section table(const Section &parent, std::string_view key) const;
	[[nodiscard]] std::optional<Item> string(const Section &s, std::string_view key) const;
	[[nodiscard]] std::optional<std::int64_t> integer(const Section &s, std::string_view key, std::int64_t min,
							  std::int64_t max) const;
	[[nodiscard]] std::optional<std::vector<Item>> strings(const Section &s, std::string_view key) const;

	template <typename T>
	void number(const Section &s, std::string_view key, T &out, std::int64_t min, std::int64_t max) const
	{
		if (const auto v = integer(s, key, min, max))
			out = static_cast<T>(*v);
	}
	void seconds(const Section &s, std::string_view key, std::chrono::seconds &out, std::int64_t min,
		     std::int64_t max) const
	{
		if (const auto v = integer(s, key, min, max))
			out = std::chrono::seconds(*v);
	}
	/* 0 (zero_means) or min..max */
	void seconds_or_zero(const Section &s, std::string_view key, std::chrono::seconds &out, std::int64_t min,
			     std::int64_t max, std::string_view zero_means) const;
	void boolean(const Section &s, std::string_view key, bool &out) const;
	void path(const Section &s, std::string_view key, std::string &out) const;
	/* a network interface name (parse_ifname) */
	void ifname(const Section &s, std::string_view key, std::string &out) const;
	void one_of(const Section &s, std::string_view key, std::string &out,
		    std::initializer_list<std::string_view> allowed) const;
	[[nodiscard]] std::optional<std::vector<Endpoint>> endpoints(const Section &s, std::string_view key,
								     std::uint16_t default_port, bool wildcard_ok,
								     bool nonempty) const;
	[[nodiscard]] std::optional<HostPort> host_port(const Section &s, std::string_view key,
							std::uint16_t default_port) const;
	[[nodiscard]] std::optional<std::vector<std::string>> names(const Section &s, std::string_view key,
								    bool nonempty) const;

	void read_tls(const Section &root, Config &c, Line roles_line) const;
	[[nodiscard]] As read_as(const Section &s, const Config &c) const;
	[[nodiscard]] Dc read_dc(const Section &s, const Config &c) const;
	[[nodiscard]] Node read_node(const Section &s) const;
	[[nodiscard]] Ike read_ike(const Section &s) const;
	[[nodiscard]] Rs read_rs(const Section &s) const;
	[[nodiscard]] Metrics read_metrics(const Section &s) const;
	[[nodiscard]] IkeConnection read_connection(const Section &s, const Section &ike_section, const Ike &ike) const;
	[[nodiscard]] std::vector<IkeProposal> proposals(const Section &s, std::string_view key, bool ike,
							 std::initializer_list<std::string_view> defaults) const;
	[[nodiscard]] std::vector<sig::Prefix> selectors(const Section &s, std::string_view key) const;
	[[nodiscard]] std::optional<IkeId> ike_id(const Section &s, std::string_view key) const;

	std::string path_;
	std::vector<Endpoint> resolv_;
};

} // namespace ntm::config::detail

#endif
