// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: toml++ checks the syntax, this file the schema. The reader
 * walks the document table by table; every key it does not know is an
 * error, every value is checked for its type and range, and every message
 * is "<path>:<line>: <dotted.key>: <problem>". The format is documented in
 * ntmd.toml(5).
 */
#include "ntm/config.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <utility>

#include <toml++/toml.h>

#include "ntm/error.hpp"
#include "ntm/parse.hpp"

namespace ntm::config {

namespace {

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

bool is_digits(std::string_view s) noexcept
{
	return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<IpAddress> ipv4_literal(std::string_view s)
{
	if (s.empty() || s.size() > 15)
		return std::nullopt;
	const std::string z(s);
	in_addr a{};
	if (z.find('\0') != std::string::npos || inet_pton(AF_INET, z.c_str(), &a) != 1)
		return std::nullopt;
	return IpAddress::v4(a);
}

std::optional<IpAddress> ipv6_literal(std::string_view s)
{
	if (s.empty() || s.size() >= INET6_ADDRSTRLEN)
		return std::nullopt;
	const std::string z(s);
	in6_addr a{};
	if (z.find('\0') != std::string::npos || inet_pton(AF_INET6, z.c_str(), &a) != 1)
		return std::nullopt;
	return IpAddress::v6(a);
}

std::optional<IpAddress> ip_literal(std::string_view s)
{
	return s.find(':') != std::string_view::npos ? ipv6_literal(s) : ipv4_literal(s);
}

bool is_unspecified(const IpAddress &a) noexcept
{
	return std::ranges::all_of(a.bytes(), [](std::uint8_t b) { return b == 0; });
}

bool is_multicast(const IpAddress &a) noexcept
{
	const auto b = a.bytes();
	if (b.empty())
		return false;
	return a.is_v4() ? (b[0] & 0xf0U) == 0xe0U : b[0] == 0xffU;
}

std::uint16_t parse_port_text(std::string_view s)
{
	if (s.empty())
		throw std::invalid_argument("missing port after ':'");
	if (!is_digits(s) || s.size() > 5)
		throw std::invalid_argument("the port must be a number 1..65535");
	unsigned v = 0;
	for (const char c : s)
		v = v * 10 + static_cast<unsigned>(c - '0');
	if (v == 0 || v > 65535)
		throw std::invalid_argument("the port must be 1..65535");
	return static_cast<std::uint16_t>(v);
}

/* A literal address with an optional port: listen and resolver endpoints. */
Endpoint parse_literal_endpoint(std::string_view s, std::uint16_t default_port, bool wildcard_ok)
{
	const HostPort hp = parse_host_port(s, default_port);
	const auto addr = ip_literal(hp.host);
	if (!addr)
		throw std::invalid_argument("expected a literal IP address, not a host name");
	if (is_multicast(*addr))
		throw std::invalid_argument("a multicast address is not allowed here");
	if (!wildcard_ok && is_unspecified(*addr))
		throw std::invalid_argument("the unspecified address is not allowed here");
	return {*addr, hp.port};
}

/* Printable for messages: at most 64 characters, anything odd as \xNN. */
std::string quote(std::string_view s)
{
	constexpr std::size_t max = 64;
	std::string r = "\"";
	for (std::size_t i = 0; i < s.size() && i < max; i++) {
		const auto u = static_cast<unsigned char>(s[i]);
		if (u < 0x20 || u >= 0x7f || s[i] == '"' || s[i] == '\\') {
			std::array<char, 5> buf{};
			(void)std::snprintf(buf.data(), buf.size(), "\\x%02x", u);
			r += buf.data();
		} else {
			r += s[i];
		}
	}
	if (s.size() > max)
		r += "...";
	return r + "\"";
}

/* A key as it would be written in the file: bare when it can be. */
std::string key_text(std::string_view k)
{
	const bool bare = !k.empty() && std::ranges::all_of(k, [](char c) {
		return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
	});
	return bare ? std::string(k) : quote(k);
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
	std::vector<std::size_t> row(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); j++)
		row[j] = j;
	for (std::size_t i = 1; i <= a.size(); i++) {
		std::size_t diag = row[0];
		row[0] = i;
		for (std::size_t j = 1; j <= b.size(); j++) {
			const std::size_t up = row[j];
			row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0U : 1U)});
			diag = up;
		}
	}
	return row[b.size()];
}

/* The known key closest to an unknown one, or "" when none is close. */
std::string_view closest(std::string_view key, std::initializer_list<std::string_view> known)
{
	std::string_view best;
	std::size_t best_d = std::numeric_limits<std::size_t>::max();
	if (key.size() > 64)
		return best;
	for (const auto k : known) {
		std::size_t d = edit_distance(key, k);
		if (key.size() >= 3 && k.starts_with(key))
			d = std::min<std::size_t>(d, 1);
		if (d <= 2 && 2 * d <= key.size() && d < best_d) {
			best = k;
			best_d = d;
		}
	}
	return best;
}

std::string type_name(toml::node_type t)
{
	switch (t) {
	case toml::node_type::table:
		return "a table";
	case toml::node_type::array:
		return "an array";
	case toml::node_type::string:
		return "a string";
	case toml::node_type::integer:
		return "an integer";
	case toml::node_type::floating_point:
		return "a float";
	case toml::node_type::boolean:
		return "a boolean";
	case toml::node_type::date:
		return "a date";
	case toml::node_type::time:
		return "a time";
	case toml::node_type::date_time:
		return "a date-time";
	case toml::node_type::none:
		break;
	}
	return "nothing";
}

std::string lower_name(std::string_view s)
{
	if (s.ends_with('.'))
		s.remove_suffix(1);
	std::string r(s);
	std::ranges::transform(r, r.begin(),
			       [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
	return r;
}

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
	[[nodiscard]] IkeConnection read_connection(const Section &s, const Section &ike_section, const Ike &ike) const;
	[[nodiscard]] std::vector<IkeProposal> proposals(const Section &s, std::string_view key, bool ike,
							 std::initializer_list<std::string_view> defaults) const;
	[[nodiscard]] std::vector<sig::Prefix> selectors(const Section &s, std::string_view key) const;
	[[nodiscard]] std::optional<IkeId> ike_id(const Section &s, std::string_view key) const;

	std::string path_;
	std::vector<Endpoint> resolv_;
};

void Reader::check_keys(const Section &s, std::initializer_list<std::string_view> known) const
{
	if (s.t == nullptr)
		return;
	for (auto &&[k, v] : *s.t) {
		const std::string_view ks = k.str();
		if (std::ranges::find(known, ks) != known.end())
			continue;
		std::string problem = "unknown key";
		if (const auto hint = closest(ks, known); !hint.empty())
			problem += " (did you mean " + std::string(hint) + "?)";
		const Line kl = k.source().begin.line;
		fail(kl != 0 ? kl : line_of(v, s.line), dotted(s, ks), problem);
	}
}

const toml::node *Reader::find(const Section &s, std::string_view key) const
{
	return s.t == nullptr ? nullptr : s.t->get(key);
}

void Reader::expect(const Section &s, std::string_view key, const toml::node &n, toml::node_type t) const
{
	if (n.type() != t)
		fail(line_of(n, s.line), dotted(s, key), "expected " + type_name(t) + ", got " + type_name(n.type()));
}

void Reader::missing(const Section &s, std::string_view key, std::string_view why) const
{
	std::string problem = "required key is missing";
	if (!why.empty())
		problem += " (" + std::string(why) + ")";
	fail(s.line, dotted(s, key), problem);
}

Section Reader::table(const Section &parent, std::string_view key) const
{
	Section r{nullptr, dotted(parent, key), parent.line};
	const toml::node *n = find(parent, key);
	if (n == nullptr)
		return r;
	expect(parent, key, *n, toml::node_type::table);
	r.t = n->as_table();
	r.line = line_of(*n, parent.line);
	return r;
}

std::optional<Item> Reader::string(const Section &s, std::string_view key) const
{
	const toml::node *n = find(s, key);
	if (n == nullptr)
		return std::nullopt;
	expect(s, key, *n, toml::node_type::string);
	return Item{n->as_string()->get(), line_of(*n, s.line)};
}

std::optional<std::int64_t> Reader::integer(const Section &s, std::string_view key, std::int64_t min,
					    std::int64_t max) const
{
	const toml::node *n = find(s, key);
	if (n == nullptr)
		return std::nullopt;
	expect(s, key, *n, toml::node_type::integer);
	const std::int64_t v = n->as_integer()->get();
	if (v < min || v > max)
		fail(line_of(*n, s.line), dotted(s, key),
		     "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + std::to_string(v));
	return v;
}

std::optional<std::vector<Item>> Reader::strings(const Section &s, std::string_view key) const
{
	const toml::node *n = find(s, key);
	if (n == nullptr)
		return std::nullopt;
	expect(s, key, *n, toml::node_type::array);
	const Line al = line_of(*n, s.line);
	std::vector<Item> r;
	for (const toml::node &el : *n->as_array()) {
		if (!el.is_string())
			fail(line_of(el, al), dotted(s, key),
			     "expected an array of strings, found " + type_name(el.type()) + " in it");
		r.push_back(Item{el.as_string()->get(), line_of(el, al)});
	}
	return r;
}

void Reader::seconds_or_zero(const Section &s, std::string_view key, std::chrono::seconds &out, std::int64_t min,
			     std::int64_t max, std::string_view zero_means) const
{
	const auto v = integer(s, key, 0, max);
	if (!v)
		return;
	if (*v != 0 && *v < min)
		fail(line_of(*find(s, key), s.line), dotted(s, key),
		     "must be 0 (" + std::string(zero_means) + ") or " + std::to_string(min) + ".." +
			     std::to_string(max) + ", got " + std::to_string(*v));
	out = std::chrono::seconds(*v);
}

void Reader::boolean(const Section &s, std::string_view key, bool &out) const
{
	const toml::node *n = find(s, key);
	if (n == nullptr)
		return;
	expect(s, key, *n, toml::node_type::boolean);
	out = n->as_boolean()->get();
}

void Reader::path(const Section &s, std::string_view key, std::string &out) const
{
	const auto v = string(s, key);
	if (!v)
		return;
	if (!v->value.starts_with('/'))
		fail(v->line, dotted(s, key), "expected an absolute path, got " + quote(v->value));
	if (v->value.find('\0') != std::string::npos)
		fail(v->line, dotted(s, key), "a path cannot contain a NUL character");
	if (v->value.size() > 4095)
		fail(v->line, dotted(s, key), "path too long");
	out = v->value;
}

void Reader::one_of(const Section &s, std::string_view key, std::string &out,
		    std::initializer_list<std::string_view> allowed) const
{
	const auto v = string(s, key);
	if (!v)
		return;
	if (std::ranges::find(allowed, v->value) == allowed.end()) {
		std::string list;
		for (const auto a : allowed)
			list += (list.empty() ? "" : ", ") + std::string(a);
		fail(v->line, dotted(s, key), "expected one of " + list + ", got " + quote(v->value));
	}
	out = v->value;
}

std::optional<std::vector<Endpoint>> Reader::endpoints(const Section &s, std::string_view key,
						       std::uint16_t default_port, bool wildcard_ok,
						       bool nonempty) const
{
	const auto items = strings(s, key);
	if (!items)
		return std::nullopt;
	if (nonempty && items->empty())
		fail(line_of(*find(s, key), s.line), dotted(s, key), "must not be empty");
	std::vector<Endpoint> r;
	for (const auto &it : *items) {
		Endpoint e;
		try {
			e = parse_literal_endpoint(it.value, default_port, wildcard_ok);
		} catch (const std::invalid_argument &ex) {
			fail(it.line, dotted(s, key), quote(it.value) + ": " + ex.what());
		}
		if (std::ranges::find(r, e) != r.end())
			fail(it.line, dotted(s, key), "duplicate endpoint " + e.to_string());
		r.push_back(e);
	}
	return r;
}

std::optional<HostPort> Reader::host_port(const Section &s, std::string_view key, std::uint16_t default_port) const
{
	const auto v = string(s, key);
	if (!v)
		return std::nullopt;
	try {
		return parse_host_port(v->value, default_port);
	} catch (const std::invalid_argument &ex) {
		fail(v->line, dotted(s, key), quote(v->value) + ": " + ex.what());
	}
}

std::optional<std::vector<std::string>> Reader::names(const Section &s, std::string_view key, bool nonempty) const
{
	const auto items = strings(s, key);
	if (!items)
		return std::nullopt;
	if (nonempty && items->empty())
		fail(line_of(*find(s, key), s.line), dotted(s, key), "must not be empty");
	std::vector<std::string> r;
	for (const auto &it : *items) {
		if (!is_dns_name(it.value))
			fail(it.line, dotted(s, key), quote(it.value) + ": not a valid DNS name");
		std::string n = lower_name(it.value);
		if (std::ranges::find(r, n) != r.end())
			fail(it.line, dotted(s, key), "duplicate name " + quote(n));
		r.push_back(std::move(n));
	}
	return r;
}

void Reader::read_tls(const Section &root, Config &c, Line roles_line) const
{
	const Section s = table(root, "tls");
	check_keys(s, {"ca", "certificate", "private_key"});
	path(s, "ca", c.tls.ca);
	path(s, "certificate", c.tls.certificate);
	path(s, "private_key", c.tls.private_key);

	/* a missing table is reported at the roles line, a missing key at its table */
	const Section where = s.t != nullptr ? s : Section{nullptr, "tls", roles_line};
	if (c.tls.certificate.empty() != c.tls.private_key.empty())
		missing(where, c.tls.certificate.empty() ? "certificate" : "private_key",
			"certificate and private_key go together");
	const bool server = c.role_as || c.role_dc;
	const bool node_cert = c.node && c.node->auth == AuthMode::certificate;
	const char *who = c.role_as ? "role as" : c.role_dc ? "role dc" : "role node";
	if ((server || c.role_node) && c.tls.ca.empty())
		missing(where, "ca", std::string("needed by ") + who);
	if ((server || node_cert) && c.tls.certificate.empty())
		missing(where, "certificate",
			server ? std::string("needed by ") + who : "needed by node.auth = \"certificate\"");
}

As Reader::read_as(const Section &s, const Config &c) const
{
	As a;
	check_keys(s, {"listen", "database", "key_lifetime", "dc_port", "kdf", "dc"});
	a.listen = endpoints(s, "listen", sig::kDefaultAsPort, true, true)
			   .value_or(std::vector<Endpoint>{
				   Endpoint(IpAddress::v4(in_addr{}), sig::kDefaultAsPort),
				   Endpoint(IpAddress::v6(in6addr_any), sig::kDefaultAsPort),
			   });
	a.database = c.state_dir + "/accounts.db";
	path(s, "database", a.database);
	seconds(s, "key_lifetime", a.key_lifetime, 60, kMaxKeyLifetime);
	number(s, "dc_port", a.dc_port, 1, 65535);

	const Section kdf = table(s, "kdf");
	check_keys(kdf, {"n_log2", "r", "p"});
	number(kdf, "n_log2", a.kdf.n_log2, 10, 20);
	number(kdf, "r", a.kdf.r, 1, 32);
	number(kdf, "p", a.kdf.p, 1, 16);
	if (std::uint64_t{128} * a.kdf.r * (std::uint64_t{1} << a.kdf.n_log2) > kMaxScryptMemory)
		fail(kdf.line, kdf.name, "128 * r * 2^n_log2 bytes exceed the limit of 1 GiB; lower r or n_log2");

	const Section dcs = table(s, "dc");
	if (dcs.t != nullptr) {
		for (auto &&[k, v] : *dcs.t) {
			const std::string_view domain = k.str();
			const Line kl = k.source().begin.line != 0 ? k.source().begin.line : dcs.line;
			if (!is_dns_name(domain))
				fail(kl, dotted(dcs, domain), "the key must be a DNS domain name");
			const auto hp = host_port(dcs, domain, a.dc_port);
			const std::string name = lower_name(domain);
			if (std::ranges::any_of(a.dcs, [&](const auto &p) { return p.first == name; }))
				fail(kl, dotted(dcs, domain), "domain given twice");
			a.dcs.emplace_back(name, *hp);
		}
	}
	return a;
}

Dc Reader::read_dc(const Section &s, const Config &c) const
{
	Dc d;
	check_keys(s, {"domain", "port", "listen_tls", "database", "pool4", "pool6", "keepalive_interval",
		       "registration_lifetime", "trusted_as"});
	const auto domain = string(s, "domain");
	if (!domain)
		missing(s, "domain");
	if (!is_dns_name(domain->value))
		fail(domain->line, dotted(s, "domain"), quote(domain->value) + ": not a valid DNS name");
	d.domain = lower_name(domain->value);
	number(s, "port", d.port, 1, 65535);
	d.listen_tls = endpoints(s, "listen_tls", sig::kDefaultDcTlsPort, true, true)
			       .value_or(std::vector<Endpoint>{
				       Endpoint(IpAddress::v4(in_addr{}), sig::kDefaultDcTlsPort),
				       Endpoint(IpAddress::v6(in6addr_any), sig::kDefaultDcTlsPort),
			       });
	d.database = c.state_dir + "/registry.db";
	path(s, "database", d.database);

	struct PoolRule {
		const char *key;
		int family;
		unsigned min, max;
		std::optional<sig::Prefix> *out;
	};
	const std::array<PoolRule, 2> pools{
		{{"pool4", AF_INET, 8, 30, &d.pool4}, {"pool6", AF_INET6, 64, 124, &d.pool6}}};
	for (const auto &rule : pools) {
		const auto v = string(s, rule.key);
		if (!v)
			continue;
		sig::Prefix p;
		try {
			p = parse_prefix(v->value);
		} catch (const std::invalid_argument &ex) {
			fail(v->line, dotted(s, rule.key), quote(v->value) + ": " + ex.what());
		}
		const std::string fam = rule.family == AF_INET ? "IPv4" : "IPv6";
		if (p.addr.family() != rule.family)
			fail(v->line, dotted(s, rule.key), quote(v->value) + ": expected an " + fam + " prefix");
		if (p.len < rule.min || p.len > rule.max)
			fail(v->line, dotted(s, rule.key),
			     quote(v->value) + ": the prefix length must be " + std::to_string(rule.min) + ".." +
				     std::to_string(rule.max));
		if (is_multicast(p.addr) || is_unspecified(p.addr))
			fail(v->line, dotted(s, rule.key), quote(v->value) + ": not a unicast network");
		*rule.out = p;
	}
	if (!d.pool4 && !d.pool6)
		missing(s, "pool4", "at least one of pool4 and pool6 is needed");

	seconds(s, "keepalive_interval", d.keepalive_interval, 5, 300);
	seconds(s, "registration_lifetime", d.registration_lifetime, 1, kMaxRegistrationLifetime);
	if (d.registration_lifetime < 3 * d.keepalive_interval) {
		const toml::node *n = find(s, "registration_lifetime");
		fail(n != nullptr ? line_of(*n, s.line) : s.line, dotted(s, "registration_lifetime"),
		     "must be at least 3 * keepalive_interval (" + std::to_string(3 * d.keepalive_interval.count()) +
			     "), got " + std::to_string(d.registration_lifetime.count()));
	}
	auto trusted = names(s, "trusted_as", true);
	if (!trusted)
		missing(s, "trusted_as", "certificate names of the account servers allowed to send keys");
	d.trusted_as = std::move(*trusted);
	return d;
}

Node Reader::read_node(const Section &s) const
{
	Node n;
	check_keys(s, {"interface", "port", "as", "auth", "account", "password_file", "ciphers", "dc", "dns_listen",
		       "dns_upstream", "ntm_domains", "resolved", "tunnel_lifetime"});
	if (const auto v = string(s, "interface")) {
		try {
			n.interface = parse_ifname(v->value);
		} catch (const UsageError &) {
			fail(v->line, dotted(s, "interface"),
			     quote(v->value) + ": expected 1..15 characters without '/', ':' or blanks");
		}
	}
	number(s, "port", n.port, 1, 65535);
	auto as = host_port(s, "as", sig::kDefaultAsPort);
	if (!as)
		missing(s, "as");
	n.as = std::move(*as);

	std::string auth = "password";
	one_of(s, "auth", auth, {"password", "certificate"});
	n.auth = auth == "password" ? AuthMode::password : AuthMode::certificate;
	const auto account = string(s, "account");
	std::string pwfile;
	path(s, "password_file", pwfile);
	if (n.auth == AuthMode::password) {
		if (!account)
			missing(s, "account", "needed by auth = \"password\"");
		if (pwfile.empty())
			missing(s, "password_file", "needed by auth = \"password\"");
		const auto &a = account->value;
		if (a.empty() || a.size() > sig::kMaxTlvValue)
			fail(account->line, dotted(s, "account"), "must be 1..255 bytes");
		if (std::ranges::any_of(a, [](char c) {
			    const auto u = static_cast<unsigned char>(c);
			    return u <= 0x20 || u == 0x7f;
		    }))
			fail(account->line, dotted(s, "account"),
			     quote(a) + ": blanks and control characters are not allowed");
		n.account = a;
		n.password_file = pwfile;
	} else {
		for (const char *k : {"account", "password_file"})
			if (const toml::node *x = find(s, k))
				fail(line_of(*x, s.line), dotted(s, k), "only used with auth = \"password\"");
	}

	if (const auto ciphers = strings(s, "ciphers")) {
		if (ciphers->empty())
			fail(line_of(*find(s, "ciphers"), s.line), dotted(s, "ciphers"), "must not be empty");
		n.ciphers.clear();
		for (const auto &it : *ciphers) {
			std::uint16_t c = 0;
			try {
				c = parse_cipher(it.value);
			} catch (const UsageError &) {
				fail(it.line, dotted(s, "ciphers"),
				     quote(it.value) + ": expected chacha20-poly1305 or aes-gcm");
			}
			const auto c8 = static_cast<std::uint8_t>(c);
			if (std::ranges::find(n.ciphers, c8) != n.ciphers.end())
				fail(it.line, dotted(s, "ciphers"), "duplicate cipher " + it.value);
			n.ciphers.push_back(c8);
		}
	}
	n.dc = host_port(s, "dc", sig::kDefaultPort);

	n.dns_listen = endpoints(s, "dns_listen", kDnsPort, true, true)
			       .value_or(std::vector<Endpoint>{
				       Endpoint(IpAddress::v4(in_addr{htonl(0x7f00004dU)}), kDnsPort), /* 127.0.0.77 */
			       });
	const auto listens_on = [&](const IpAddress &a) {
		return std::ranges::any_of(n.dns_listen, [&](const Endpoint &e) { return e.address() == a; });
	};
	if (auto up = endpoints(s, "dns_upstream", kDnsPort, false, false)) {
		for (const auto &e : *up)
			if (std::ranges::find(n.dns_listen, e) != n.dns_listen.end())
				fail(line_of(*find(s, "dns_upstream"), s.line), dotted(s, "dns_upstream"),
				     e.to_string() + " is a dns_listen endpoint (a forwarding loop)");
		n.dns_upstream = std::move(*up);
	} else {
		for (const auto &e : resolv_)
			if (!listens_on(e.address()))
				n.dns_upstream.push_back(e);
	}
	if (auto d = names(s, "ntm_domains", false))
		n.ntm_domains = std::move(*d);

	std::string resolved = "auto";
	one_of(s, "resolved", resolved, {"auto", "yes", "no"});
	n.resolved = resolved == "yes"	? Node::Resolved::yes
		     : resolved == "no" ? Node::Resolved::no
					: Node::Resolved::automatic;
	if (const auto lt = integer(s, "tunnel_lifetime", 0, kMaxTunnelLifetime)) {
		if (*lt != 0 && *lt < 60)
			fail(line_of(*find(s, "tunnel_lifetime"), s.line), dotted(s, "tunnel_lifetime"),
			     "must be 0 (none) or 60.." + std::to_string(kMaxTunnelLifetime) + ", got " +
				     std::to_string(*lt));
		n.tunnel_lifetime = static_cast<std::uint32_t>(*lt);
	}
	return n;
}

std::vector<IkeProposal> Reader::proposals(const Section &s, std::string_view key, bool ike,
					   std::initializer_list<std::string_view> defaults) const
{
	std::vector<IkeProposal> r;
	const auto items = strings(s, key);
	if (!items) {
		for (const auto d : defaults)
			r.push_back(parse_ike_proposal(d, ike));
		return r;
	}
	if (items->empty())
		fail(line_of(*find(s, key), s.line), dotted(s, key), "must not be empty");
	for (const auto &it : *items) {
		IkeProposal p;
		try {
			p = parse_ike_proposal(it.value, ike);
		} catch (const std::invalid_argument &ex) {
			fail(it.line, dotted(s, key), quote(it.value) + ": " + ex.what());
		}
		if (std::ranges::find(r, p) != r.end())
			fail(it.line, dotted(s, key), "duplicate proposal " + quote(it.value));
		r.push_back(std::move(p));
	}
	return r;
}

std::vector<sig::Prefix> Reader::selectors(const Section &s, std::string_view key) const
{
	const auto items = strings(s, key);
	if (!items)
		missing(s, key, "at least one prefix");
	const Line al = line_of(*find(s, key), s.line);
	if (items->empty())
		fail(al, dotted(s, key), "must not be empty");
	if (items->size() > NTM_TS_MAX)
		fail(al, dotted(s, key),
		     "at most " + std::to_string(NTM_TS_MAX) + " prefixes, got " + std::to_string(items->size()));
	std::vector<sig::Prefix> r;
	for (const auto &it : *items) {
		sig::Prefix p;
		try {
			p = parse_prefix(it.value);
		} catch (const std::invalid_argument &ex) {
			fail(it.line, dotted(s, key), quote(it.value) + ": " + ex.what());
		}
		if (std::ranges::find(r, p) != r.end())
			fail(it.line, dotted(s, key), "duplicate prefix " + p.to_string());
		r.push_back(p);
	}
	return r;
}

std::optional<IkeId> Reader::ike_id(const Section &s, std::string_view key) const
{
	const auto v = string(s, key);
	if (!v)
		return std::nullopt;
	try {
		return parse_ike_id(v->value);
	} catch (const std::invalid_argument &ex) {
		fail(v->line, dotted(s, key), quote(v->value) + ": " + ex.what());
	}
}

IkeConnection Reader::read_connection(const Section &s, const Section &ike_section, const Ike &ike) const
{
	IkeConnection c;
	check_keys(s, {"name", "remote_addrs", "remote_port", "local_id", "remote_id", "auth", "local_auth",
		       "remote_auth", "psk_file", "certificate", "private_key", "proposals", "esp_proposals", "local_ts",
		       "remote_ts", "start_action", "mobike", "install_routes", "dpd_delay", "rekey_time",
		       "child_rekey_time", "child_life_time", "child_rekey_bytes", "child_rekey_packets"});
	const auto name = string(s, "name");
	if (!name)
		missing(s, "name");
	if (name->value.empty() || name->value.size() > kMaxConnectionName ||
	    !std::ranges::all_of(name->value, [](char ch) {
		    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '.' || ch == '-';
	    }))
		fail(name->line, dotted(s, "name"),
		     quote(name->value) + ": expected 1.." + std::to_string(kMaxConnectionName) +
			     " letters, digits, '_', '.' or '-'");
	c.name = name->value;

	if (const auto addrs = strings(s, "remote_addrs")) {
		for (const auto &it : *addrs) {
			if (it.value == "%any") {
				if (addrs->size() != 1)
					fail(it.line, dotted(s, "remote_addrs"),
					     "\"%any\" cannot be combined with addresses");
				continue;
			}
			std::string host;
			if (const auto a = ip_literal(it.value)) {
				if (is_unspecified(*a))
					fail(it.line, dotted(s, "remote_addrs"),
					     quote(it.value) + ": the unspecified address is not allowed here; "
							       "write \"%any\" for any peer");
				if (is_multicast(*a))
					fail(it.line, dotted(s, "remote_addrs"),
					     quote(it.value) + ": a multicast address is not allowed here");
				host = a->to_string();
			} else if (is_dns_name(it.value)) {
				host = lower_name(it.value);
			} else {
				fail(it.line, dotted(s, "remote_addrs"),
				     quote(it.value) + ": expected an IP address, a DNS name or \"%any\"");
			}
			if (std::ranges::find(c.remote_addrs, host) != c.remote_addrs.end())
				fail(it.line, dotted(s, "remote_addrs"), "duplicate address " + quote(host));
			c.remote_addrs.push_back(std::move(host));
		}
	}
	number(s, "remote_port", c.remote_port, 1, 65535);
	c.local_id = ike_id(s, "local_id");
	c.remote_id = ike_id(s, "remote_id");

	/* auth sets both sides; local_auth and remote_auth one each (default psk) */
	std::string both, local, remote;
	one_of(s, "auth", both, {"psk", "pubkey"});
	one_of(s, "local_auth", local, {"psk", "pubkey"});
	one_of(s, "remote_auth", remote, {"psk", "pubkey"});
	if (!both.empty())
		for (const char *k : {"local_auth", "remote_auth"})
			if (const toml::node *x = find(s, k))
				fail(line_of(*x, s.line), dotted(s, k),
				     "cannot be combined with auth (auth sets local_auth and remote_auth)");
	if (!both.empty())
		local = remote = both;
	c.local_auth = local == "pubkey" ? IkeAuth::pubkey : IkeAuth::psk;
	c.remote_auth = remote == "pubkey" ? IkeAuth::pubkey : IkeAuth::psk;
	/* which key made a side's method, for messages: auth = "psk", local_auth = "psk" (the default) */
	const auto why = [&](bool is_local, IkeAuth a) {
		const char *key = !both.empty() ? "auth" : is_local ? "local_auth" : "remote_auth";
		std::string r = std::string(key) + (a == IkeAuth::psk ? " = \"psk\"" : " = \"pubkey\"");
		if (find(s, key) == nullptr)
			r += ", the default";
		return r;
	};

	path(s, "psk_file", c.psk_file);
	const bool psk = c.local_auth == IkeAuth::psk || c.remote_auth == IkeAuth::psk;
	if (psk && c.psk_file.empty())
		missing(s, "psk_file",
			"needed by " + (c.local_auth == IkeAuth::psk ? why(true, IkeAuth::psk) : why(false, IkeAuth::psk)));
	if (!psk && !c.psk_file.empty())
		fail(line_of(*find(s, "psk_file"), s.line), dotted(s, "psk_file"),
		     "only used with psk authentication (local_auth or remote_auth = \"psk\")");

	path(s, "certificate", c.certificate);
	path(s, "private_key", c.private_key);
	if (c.certificate.empty() != c.private_key.empty())
		missing(s, c.certificate.empty() ? "certificate" : "private_key",
			"certificate and private_key go together");
	if (c.local_auth == IkeAuth::pubkey) {
		if (c.certificate.empty()) {
			c.certificate = ike.certificate;
			c.private_key = ike.private_key;
		}
		if (c.certificate.empty())
			missing(s, "certificate",
				"needed by " + why(true, IkeAuth::pubkey) +
					"; or set ike.certificate and ike.private_key");
	} else if (const toml::node *x = find(s, "certificate")) {
		fail(line_of(*x, s.line), dotted(s, "certificate"), "only used with local_auth = \"pubkey\"");
	}
	if (c.remote_auth == IkeAuth::pubkey && ike.ca.empty())
		missing(ike_section, "ca", "needed by " + s.name + "." + why(false, IkeAuth::pubkey));

	c.proposals = proposals(s, "proposals", true,
				{"aes256gcm16-prfsha256-ecp256", "chacha20poly1305-prfsha256-x25519"});
	c.esp_proposals = proposals(s, "esp_proposals", false, {"aes256gcm16", "chacha20poly1305"});
	c.local_ts = selectors(s, "local_ts");
	c.remote_ts = selectors(s, "remote_ts");

	std::string start = "none";
	one_of(s, "start_action", start, {"none", "start", "trap"});
	c.start_action = start == "start" ? IkeStart::start : start == "trap" ? IkeStart::trap : IkeStart::none;
	if (c.start_action != IkeStart::none && c.remote_addrs.empty())
		fail(line_of(*find(s, "start_action"), s.line), dotted(s, "start_action"),
		     quote(start) + " needs remote_addrs (the peer's address or DNS name)");
	boolean(s, "mobike", c.mobike);
	boolean(s, "install_routes", c.install_routes);

	seconds(s, "dpd_delay", c.dpd_delay, 0, 86400);
	seconds_or_zero(s, "rekey_time", c.rekey_time, 10, kMaxSaLifetime, "never");
	seconds_or_zero(s, "child_rekey_time", c.child_rekey_time, 10, kMaxSaLifetime, "never");
	c.child_life_time = c.child_rekey_time * 11 / 10;
	seconds_or_zero(s, "child_life_time", c.child_life_time, 10, 2 * kMaxSaLifetime, "none");
	if (c.child_rekey_time.count() != 0 && c.child_life_time.count() != 0 &&
	    c.child_life_time <= c.child_rekey_time) {
		const toml::node *n = find(s, "child_life_time");
		fail(n != nullptr ? line_of(*n, s.line) : s.line, dotted(s, "child_life_time"),
		     "must be greater than child_rekey_time (" + std::to_string(c.child_rekey_time.count()) +
			     "), got " + std::to_string(c.child_life_time.count()));
	}
	number(s, "child_rekey_bytes", c.child_rekey_bytes, 0, std::numeric_limits<std::int64_t>::max());
	number(s, "child_rekey_packets", c.child_rekey_packets, 0, std::numeric_limits<std::int64_t>::max());
	return c;
}

Ike Reader::read_ike(const Section &s) const
{
	Ike k;
	check_keys(s, {"interface", "port", "natt_port", "ca", "certificate", "private_key", "cookie_threshold",
		       "half_open_max", "retransmit_timeout", "retransmit_base", "retransmit_tries", "nat_keepalive",
		       "connection"});
	if (const auto v = string(s, "interface")) {
		try {
			k.interface = parse_ifname(v->value);
		} catch (const UsageError &) {
			fail(v->line, dotted(s, "interface"),
			     quote(v->value) + ": expected 1..15 characters without '/', ':' or blanks");
		}
	}
	number(s, "port", k.port, 1, 65535);
	number(s, "natt_port", k.natt_port, 1, 65535);
	if (k.port == k.natt_port) {
		/* blame the key that was written: natt_port, else port */
		const bool natt = find(s, "natt_port") != nullptr;
		fail(line_of(*find(s, natt ? "natt_port" : "port"), s.line), dotted(s, natt ? "natt_port" : "port"),
		     natt ? "must differ from port (" + std::to_string(k.port) + ")"
			  : "must differ from natt_port (" + std::to_string(k.natt_port) + ")");
	}
	path(s, "ca", k.ca);
	path(s, "certificate", k.certificate);
	path(s, "private_key", k.private_key);
	if (k.certificate.empty() != k.private_key.empty())
		missing(s, k.certificate.empty() ? "certificate" : "private_key",
			"certificate and private_key go together");
	number(s, "half_open_max", k.half_open_max, 1, kMaxHalfOpen);
	number(s, "cookie_threshold", k.cookie_threshold, 0, kMaxHalfOpen);
	if (k.cookie_threshold > k.half_open_max) {
		if (const toml::node *n = find(s, "cookie_threshold"))
			fail(line_of(*n, s.line), dotted(s, "cookie_threshold"),
			     "must not exceed half_open_max (" + std::to_string(k.half_open_max) + "), got " +
				     std::to_string(k.cookie_threshold));
		fail(line_of(*find(s, "half_open_max"), s.line), dotted(s, "half_open_max"),
		     "must be at least cookie_threshold (" + std::to_string(k.cookie_threshold) + "), got " +
			     std::to_string(k.half_open_max));
	}
	if (const auto ms = integer(s, "retransmit_timeout", 100, 60000))
		k.retransmit_timeout = std::chrono::milliseconds(*ms);
	if (const toml::node *n = find(s, "retransmit_base")) {
		double v = 0;
		if (const auto *i = n->as_integer()) {
			v = static_cast<double>(i->get());
		} else {
			expect(s, "retransmit_base", *n, toml::node_type::floating_point);
			v = n->as_floating_point()->get();
		}
		if (!(v >= 1.0 && v <= 4.0)) {
			std::ostringstream text;
			text << v;
			fail(line_of(*n, s.line), dotted(s, "retransmit_base"), "must be 1.0..4.0, got " + text.str());
		}
		k.retransmit_base = v;
	}
	number(s, "retransmit_tries", k.retransmit_tries, 1, 20);
	seconds_or_zero(s, "nat_keepalive", k.nat_keepalive, 5, 3600, "off");

	const toml::node *conns = find(s, "connection");
	if (conns == nullptr)
		missing(s, "connection", "at least one [[ike.connection]]");
	const Line cl = line_of(*conns, s.line);
	const std::string cname = dotted(s, "connection");
	const toml::array *arr = conns->as_array();
	if (arr == nullptr)
		fail(cl, cname, "expected an array of tables ([[" + cname + "]]), got " + type_name(conns->type()));
	if (arr->empty())
		fail(cl, cname, "must not be empty");
	std::size_t index = 0;
	for (const toml::node &el : *arr) {
		const std::string name = cname + "[" + std::to_string(index++) + "]";
		if (!el.is_table())
			fail(line_of(el, cl), name, "expected a table, got " + type_name(el.type()));
		const Section cs{el.as_table(), name, line_of(el, cl)};
		IkeConnection c = read_connection(cs, s, k);
		if (std::ranges::any_of(k.connections, [&](const IkeConnection &o) { return o.name == c.name; }))
			fail(line_of(*find(cs, "name"), cs.line), dotted(cs, "name"),
			     "duplicate connection name " + quote(c.name));
		k.connections.push_back(std::move(c));
	}
	return k;
}

Config Reader::read(const toml::table &root_table)
{
	Config c;
	c.path = path_;
	const Section root{&root_table, "", 1};
	check_keys(root, {"roles", "log_level", "state_dir", "control_socket", "dns_servers", "tls", "as", "dc", "node",
			  "ike"});

	const auto roles = strings(root, "roles");
	if (!roles)
		missing(root, "roles", "a list of node, dc, as, ike");
	const Line roles_line = line_of(*find(root, "roles"), 1);
	if (roles->empty())
		fail(roles_line, "roles", "must name at least one of node, dc, as, ike");
	for (const auto &r : *roles) {
		bool *flag = r.value == "node"	? &c.role_node
			     : r.value == "dc"	? &c.role_dc
			     : r.value == "as"	? &c.role_as
			     : r.value == "ike" ? &c.role_ike
						: nullptr;
		if (flag == nullptr)
			fail(r.line, "roles", quote(r.value) + ": expected node, dc, as or ike");
		if (*flag)
			fail(r.line, "roles", "duplicate role " + r.value);
		*flag = true;
	}

	one_of(root, "log_level", c.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
	path(root, "state_dir", c.state_dir);
	path(root, "control_socket", c.control_socket);
	if (c.control_socket.size() >= sizeof(sockaddr_un::sun_path))
		fail(line_of(*find(root, "control_socket"), 1), "control_socket",
		     "longer than a unix socket path can be (" + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
			     " bytes)");

	struct RoleTable {
		const char *name;
		bool on;
	};
	for (const auto &[name, on] :
	     {RoleTable{"as", c.role_as}, RoleTable{"dc", c.role_dc}, RoleTable{"node", c.role_node},
	      RoleTable{"ike", c.role_ike}}) {
		const Section s = table(root, name);
		if (s.t != nullptr && !on)
			fail(s.line, name,
			     "[" + std::string(name) + "] given but roles does not include \"" + name + "\"");
		if (s.t == nullptr && on)
			fail(roles_line, name,
			     "roles includes \"" + std::string(name) + "\" but there is no [" + name + "] table");
	}
	if (c.role_node)
		c.node = read_node(table(root, "node"));
	if (c.role_as)
		c.as = read_as(table(root, "as"), c);
	if (c.role_dc)
		c.dc = read_dc(table(root, "dc"), c);
	if (c.role_ike)
		c.ike = read_ike(table(root, "ike"));
	read_tls(root, c, roles_line);

	if (auto servers = endpoints(root, "dns_servers", kDnsPort, false, false)) {
		c.dns_servers = std::move(*servers);
	} else {
		/* our own stub would forward the query back to us: skip it */
		for (const auto &e : resolv_)
			if (!c.node || std::ranges::none_of(c.node->dns_listen, [&](const Endpoint &l) {
				    return l.address() == e.address();
			    }))
				c.dns_servers.push_back(e);
	}
	return c;
}

std::string read_text_file(const std::string &path, std::size_t limit)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw ConfigError(path + ": cannot open: " + errno_string(errno));
	std::string text;
	std::array<char, 8192> buf{};
	while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
		text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
		if (text.size() > limit)
			throw ConfigError(path + ": larger than " + std::to_string(limit) + " bytes");
	}
	if (in.bad())
		throw ConfigError(path + ": read error");
	return text;
}

std::string system_resolv_conf()
{
	try {
		return read_text_file(kResolvConf, std::size_t{64} << 10);
	} catch (const ConfigError &) {
		return {}; /* no resolv.conf: no default resolvers */
	}
}

} // namespace

std::string HostPort::to_string() const
{
	if (host.find(':') != std::string::npos)
		return "[" + host + "]:" + std::to_string(port);
	return host + ":" + std::to_string(port);
}

bool is_dns_name(std::string_view s) noexcept
{
	if (s.ends_with('.'))
		s.remove_suffix(1);
	if (s.empty() || s.size() > 253)
		return false;
	std::string_view last;
	while (true) {
		const auto dot = s.find('.');
		const std::string_view label = s.substr(0, dot);
		if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
			return false;
		if (!std::ranges::all_of(label, [](char c) {
			    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				   c == '-';
		    }))
			return false;
		last = label;
		if (dot == std::string_view::npos)
			break;
		s.remove_prefix(dot + 1);
	}
	return !is_digits(last);
}

HostPort parse_host_port(std::string_view s, std::uint16_t default_port)
{
	if (s.empty())
		throw std::invalid_argument("expected HOST:PORT, [IPV6]:PORT or HOST");
	if (s.find('%') != std::string_view::npos)
		throw std::invalid_argument("scoped addresses (%zone) are not supported");
	HostPort r;
	r.port = default_port;
	if (s.front() == '[') {
		const auto close = s.find(']');
		if (close == std::string_view::npos)
			throw std::invalid_argument("missing ']'");
		const auto host = s.substr(1, close - 1);
		if (!ipv6_literal(host))
			throw std::invalid_argument("brackets must hold an IPv6 address");
		const auto rest = s.substr(close + 1);
		if (!rest.empty()) {
			if (rest.front() != ':')
				throw std::invalid_argument("expected ':' and a port after ']'");
			r.port = parse_port_text(rest.substr(1));
		}
		r.host = std::string(host);
		return r;
	}
	const auto colon = s.find(':');
	if (colon != std::string_view::npos && s.find(':', colon + 1) != std::string_view::npos) {
		/* more than one colon: a bare IPv6 address, without a port */
		if (!ipv6_literal(s))
			throw std::invalid_argument(
				"not an IPv6 address; write an IPv6 address with a port as [ADDRESS]:PORT");
		r.host = std::string(s);
		return r;
	}
	std::string_view host = s;
	if (colon != std::string_view::npos) {
		host = s.substr(0, colon);
		r.port = parse_port_text(s.substr(colon + 1));
	}
	if (host.empty())
		throw std::invalid_argument("missing host");
	if (!ipv4_literal(host) && !is_dns_name(host))
		throw std::invalid_argument("not a valid host name or IPv4 address");
	r.host = std::string(host);
	return r;
}

sig::Prefix parse_prefix(std::string_view s)
{
	const auto slash = s.find('/');
	if (slash == std::string_view::npos)
		throw std::invalid_argument("expected ADDRESS/LENGTH, like 10.77.0.0/16");
	const auto addr_text = s.substr(0, slash);
	const auto len_text = s.substr(slash + 1);
	const auto addr = ip_literal(addr_text);
	if (!addr)
		throw std::invalid_argument("expected ADDRESS/LENGTH with an IPv4 or IPv6 address");
	const unsigned max = addr->is_v4() ? 32 : 128;
	if (!is_digits(len_text) || len_text.size() > 3 || (len_text.size() > 1 && len_text.front() == '0'))
		throw std::invalid_argument("the prefix length must be a number 0.." + std::to_string(max));
	unsigned len = 0;
	for (const char c : len_text)
		len = len * 10 + static_cast<unsigned>(c - '0');
	if (len > max)
		throw std::invalid_argument("the prefix length must be 0.." + std::to_string(max));

	const auto bytes = addr->bytes();
	std::array<std::uint8_t, 16> masked{};
	bool host_bits = false;
	for (std::size_t i = 0; i < bytes.size(); i++) {
		const std::size_t bit = i * 8;
		std::uint8_t keep = 0xff;
		if (bit >= len)
			keep = 0;
		else if (len - bit < 8)
			keep = static_cast<std::uint8_t>(0xffU << (8 - (len - bit)));
		masked[i] = static_cast<std::uint8_t>(bytes[i] & keep);
		host_bits = host_bits || masked[i] != bytes[i];
	}
	if (host_bits) {
		const auto net = IpAddress::from_bytes(std::span<const std::uint8_t>(masked.data(), bytes.size()));
		throw std::invalid_argument("host bits are set (the network is " + net->to_string() + "/" +
					    std::to_string(len) + ")");
	}
	return sig::Prefix{*addr, static_cast<std::uint8_t>(len)};
}

namespace {

/* IANA numbers (ntm/ike.hpp): ike::IdType, ike::Encr, ike::Prf, ike::DhGroup, ike::Esn */
constexpr std::uint8_t kIdIpv4 = 1;
constexpr std::uint8_t kIdFqdn = 2;
constexpr std::uint8_t kIdEmail = 3;
constexpr std::uint8_t kIdIpv6 = 5;
constexpr std::uint8_t kIdDn = 9;
constexpr std::uint8_t kIdKeyId = 11;
constexpr std::uint16_t kEncrAesGcm16 = 20;
constexpr std::uint16_t kEncrChaCha20Poly1305 = 28;

struct EncrName {
	std::string_view name;
	std::uint16_t id;
	std::uint16_t key_bits; /* 0: none (fixed key size) */
};
constexpr std::array<EncrName, 7> kEncrNames{{
	{"aes128gcm16", kEncrAesGcm16, 128},
	{"aes192gcm16", kEncrAesGcm16, 192},
	{"aes256gcm16", kEncrAesGcm16, 256},
	{"aes128gcm", kEncrAesGcm16, 128}, /* strongSwan's aliases: ICV 16 */
	{"aes192gcm", kEncrAesGcm16, 192},
	{"aes256gcm", kEncrAesGcm16, 256},
	{"chacha20poly1305", kEncrChaCha20Poly1305, 0},
}};

struct IdName {
	std::string_view name;
	std::uint16_t id;
};
constexpr std::array<IdName, 3> kPrfNames{{{"prfsha256", 5}, {"prfsha384", 6}, {"prfsha512", 7}}};
constexpr std::array<IdName, 3> kDhNames{{{"ecp256", 19}, {"x25519", 31}, {"curve25519", 31}}};
constexpr std::array<IdName, 2> kEsnNames{{{"esn", 1}, {"noesn", 0}}};

template <typename Names>
void list_names(std::string &out, const Names &names)
{
	for (const auto &n : names)
		out += (out.empty() ? "" : ", ") + std::string(n.name);
}

template <typename Names>
const typename Names::value_type *lookup(const Names &names, std::string_view token)
{
	const auto it = std::ranges::find(names, token, &Names::value_type::name);
	return it == names.end() ? nullptr : &*it;
}

void check_id_text(std::string_view s, std::string_view what)
{
	if (s.empty())
		throw std::invalid_argument("empty " + std::string(what));
	if (s.size() > kMaxIdData)
		throw std::invalid_argument(std::string(what) + " longer than " + std::to_string(kMaxIdData) +
					    " bytes");
	if (!std::ranges::all_of(s, [](char c) { return c > ' ' && c < 0x7f; }))
		throw std::invalid_argument(std::string(what) + ": blanks, control characters and non-ASCII bytes " +
					    "are not allowed");
}

std::vector<std::uint8_t> to_bytes(std::string_view s)
{
	return {s.begin(), s.end()};
}

struct X509NameFree {
	void operator()(X509_NAME *n) const noexcept { X509_NAME_free(n); }
};

/* The attribute names of a dn:, as OpenSSL knows them. */
constexpr std::array<std::string_view, 8> kDnKeys{"CN", "O", "OU", "C", "L", "ST", "emailAddress", "DC"};

std::string_view dn_key(std::string_view key)
{
	for (const auto k : kDnKeys)
		if (k.size() == key.size() && std::ranges::equal(k, key, [](char a, char b) {
			    return std::tolower(static_cast<unsigned char>(a)) ==
				   std::tolower(static_cast<unsigned char>(b));
		    }))
			return k;
	std::string list;
	for (const auto k : kDnKeys)
		list += (list.empty() ? "" : ", ") + std::string(k);
	throw std::invalid_argument("unknown attribute " + quote(key) + " in the dn; expected one of " + list);
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
		s.remove_suffix(1);
	return s;
}

/*
 * "CN=moon, O=strongSwan, C=CH" or "/C=CH/O=strongSwan/CN=moon" to DER, the
 * RDNs in the order written (as strongSwan and `openssl req -subj` do). A
 * backslash takes the next character literally (\, \/ \\).
 */
std::vector<std::uint8_t> dn_to_der(std::string_view s)
{
	const std::unique_ptr<X509_NAME, X509NameFree> name(X509_NAME_new());
	if (!name)
		throw std::bad_alloc();
	std::size_t i = !s.empty() && s.front() == '/' ? 1 : 0;
	while (i < s.size()) {
		const auto eq = s.find_first_of("=,/", i);
		if (eq == std::string_view::npos || s[eq] != '=')
			throw std::invalid_argument("expected KEY=VALUE in the dn, got " +
						    quote(s.substr(i, eq == std::string_view::npos ? eq : eq - i)));
		const std::string_view key = dn_key(trim(s.substr(i, eq - i)));
		std::string value;
		std::size_t keep = 0; /* value length without trailing blanks (escaped ones stay) */
		i = eq + 1;
		for (; i < s.size() && s[i] != ',' && s[i] != '/'; i++) {
			char ch = s[i];
			const bool escaped = ch == '\\';
			if (escaped) {
				if (++i == s.size())
					throw std::invalid_argument("a '\\' at the end of the dn");
				ch = s[i];
			}
			const auto u = static_cast<unsigned char>(ch);
			if (u < 0x20 || u == 0x7f)
				throw std::invalid_argument("control characters are not allowed in the dn");
			if (value.empty() && !escaped && (ch == ' ' || ch == '\t'))
				continue;
			value += ch;
			if (escaped || (ch != ' ' && ch != '\t'))
				keep = value.size();
		}
		value.resize(keep);
		if (value.empty())
			throw std::invalid_argument("empty value of " + std::string(key) + " in the dn");
		std::vector<unsigned char> bytes(value.begin(), value.end());
		if (X509_NAME_add_entry_by_txt(name.get(), std::string(key).c_str(), MBSTRING_UTF8, bytes.data(),
					       static_cast<int>(bytes.size()), -1, 0) != 1) {
			ERR_clear_error();
			throw std::invalid_argument(std::string(key) + "=" + quote(value) +
						    ": not a valid value of this attribute (C is 2 letters, "
						    "most others at most 64 characters of UTF-8)");
		}
		if (i < s.size())
			i++; /* the separator */
	}
	if (X509_NAME_entry_count(name.get()) == 0)
		throw std::invalid_argument("empty dn");
	const int len = i2d_X509_NAME(name.get(), nullptr);
	if (len <= 0) {
		ERR_clear_error();
		throw std::invalid_argument("cannot encode the dn");
	}
	std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
	unsigned char *out = der.data();
	if (i2d_X509_NAME(name.get(), &out) != len) {
		ERR_clear_error();
		throw std::invalid_argument("cannot encode the dn");
	}
	return der;
}

std::vector<std::uint8_t> parse_key_id(std::string_view s)
{
	if (s.starts_with('#'))
		s.remove_prefix(1); /* strongSwan writes keyid:#0123 */
	if (s.empty() || s.size() % 2 != 0 || s.size() > 2 * kMaxIdData ||
	    !std::ranges::all_of(s, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }))
		throw std::invalid_argument("expected keyid:HEX with an even number of hex digits, 2.." +
					    std::to_string(2 * kMaxIdData));
	const auto nibble = [](char c) {
		return static_cast<unsigned>(c <= '9' ? c - '0' : (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10));
	};
	std::vector<std::uint8_t> r;
	for (std::size_t i = 0; i < s.size(); i += 2)
		r.push_back(static_cast<std::uint8_t>(nibble(s[i]) << 4U | nibble(s[i + 1])));
	return r;
}

} // namespace

IkeProposal parse_ike_proposal(std::string_view s, bool ike)
{
	std::string accepted;
	list_names(accepted, kEncrNames);
	if (ike)
		list_names(accepted, kPrfNames);
	list_names(accepted, kDhNames);
	if (!ike)
		list_names(accepted, kEsnNames);

	IkeProposal p;
	std::string_view encr, prf;
	if (s.empty())
		throw std::invalid_argument("empty proposal; expected algorithms separated by '-', like " +
					    std::string(ike ? "aes256gcm16-prfsha256-ecp256" : "aes256gcm16"));
	std::size_t pos = 0;
	while (true) {
		const auto dash = s.find('-', pos);
		const std::string_view token = s.substr(pos, dash == std::string_view::npos ? dash : dash - pos);
		if (token.empty())
			throw std::invalid_argument("empty algorithm name (a stray '-')");
		if (const auto *e = lookup(kEncrNames, token)) {
			if (!encr.empty())
				throw std::invalid_argument("more than one encryption algorithm (" + quote(encr) + " and " +
							    quote(token) + "); write one proposal each");
			encr = token;
			p.encr = e->id;
			if (e->key_bits != 0)
				p.key_bits = e->key_bits;
		} else if (const auto *f = lookup(kPrfNames, token)) {
			if (!ike)
				throw std::invalid_argument(quote(token) + ": a PRF belongs in IKE proposals, not ESP");
			if (!prf.empty())
				throw std::invalid_argument("more than one PRF (" + quote(prf) + " and " + quote(token) +
							    ")");
			prf = token;
			p.prf = f->id;
		} else if (const auto *d = lookup(kDhNames, token)) {
			if (std::ranges::find(p.dh, d->id) != p.dh.end())
				throw std::invalid_argument("DH group " + quote(token) + " given twice");
			p.dh.push_back(d->id);
		} else if (const auto *n = lookup(kEsnNames, token)) {
			if (ike)
				throw std::invalid_argument(quote(token) + ": ESN belongs in ESP proposals, not IKE");
			if (std::ranges::find(p.esn, n->id) != p.esn.end())
				throw std::invalid_argument(quote(token) + " given twice");
			p.esn.push_back(n->id);
		} else {
			throw std::invalid_argument("unknown algorithm " + quote(token) + "; expected " + accepted);
		}
		if (dash == std::string_view::npos)
			break;
		pos = dash + 1;
	}
	if (encr.empty()) {
		std::string list;
		list_names(list, kEncrNames);
		throw std::invalid_argument("no encryption algorithm; expected one of " + list);
	}
	if (ike && p.dh.empty()) {
		std::string list;
		list_names(list, kDhNames);
		throw std::invalid_argument("no DH group; an IKE proposal needs one of " + list);
	}
	if (!ike && p.esn.empty())
		p.esn.push_back(0);
	return p;
}

IkeId parse_ike_id(std::string_view s)
{
	IkeId id;
	id.text = std::string(s);
	if (s.empty())
		throw std::invalid_argument("empty identity");
	if (s.size() > kMaxIdText)
		throw std::invalid_argument("longer than " + std::to_string(kMaxIdText) + " characters");
	const auto rest = [&](std::string_view prefix) { return s.substr(prefix.size()); };
	if (s.starts_with("fqdn:")) {
		check_id_text(rest("fqdn:"), "fqdn");
		id.type = kIdFqdn;
		id.data = to_bytes(rest("fqdn:"));
	} else if (s.starts_with("email:")) {
		check_id_text(rest("email:"), "email");
		id.type = kIdEmail;
		id.data = to_bytes(rest("email:"));
	} else if (s.starts_with("ipv4:")) {
		const auto a = ipv4_literal(rest("ipv4:"));
		if (!a)
			throw std::invalid_argument("expected ipv4:ADDRESS with an IPv4 address");
		id.type = kIdIpv4;
		id.data.assign(a->bytes().begin(), a->bytes().end());
	} else if (s.starts_with("ipv6:")) {
		const auto a = ipv6_literal(rest("ipv6:"));
		if (!a)
			throw std::invalid_argument("expected ipv6:ADDRESS with an IPv6 address");
		id.type = kIdIpv6;
		id.data.assign(a->bytes().begin(), a->bytes().end());
	} else if (s.starts_with("dn:")) {
		id.type = kIdDn;
		id.data = dn_to_der(rest("dn:"));
	} else if (s.starts_with("keyid:")) {
		id.type = kIdKeyId;
		id.data = parse_key_id(rest("keyid:"));
	} else if (const auto a = ip_literal(s)) {
		id.type = a->is_v4() ? kIdIpv4 : kIdIpv6;
		id.data.assign(a->bytes().begin(), a->bytes().end());
	} else if (s.starts_with('@')) {
		throw std::invalid_argument("strongSwan's '@' prefix is not supported; write fqdn:NAME or email:ADDRESS");
	} else if (s.find('@') != std::string_view::npos) {
		check_id_text(s, "email");
		id.type = kIdEmail;
		id.data = to_bytes(s);
	} else if (is_dns_name(s)) {
		id.type = kIdFqdn;
		id.data = to_bytes(s);
	} else if (s.find('=') != std::string_view::npos) {
		throw std::invalid_argument("a distinguished name needs the prefix dn:");
	} else {
		throw std::invalid_argument("expected an IP address, a DNS name, an email address or one of "
					    "fqdn:, email:, ipv4:, ipv6:, dn:, keyid:");
	}
	return id;
}

std::vector<Endpoint> parse_resolv_conf(std::string_view text)
{
	std::vector<Endpoint> r;
	std::istringstream in{std::string(text)};
	std::string line;
	while (std::getline(in, line)) {
		if (const auto hash = line.find_first_of("#;"); hash != std::string::npos)
			line.erase(hash);
		std::istringstream words(line);
		std::string keyword, addr;
		if (!(words >> keyword >> addr) || keyword != "nameserver")
			continue;
		if (const auto pct = addr.find('%'); pct != std::string::npos)
			addr.erase(pct);
		const auto a = ip_literal(addr);
		if (!a)
			continue;
		const Endpoint e(*a, kDnsPort);
		if (std::ranges::find(r, e) == r.end())
			r.push_back(e);
	}
	return r;
}

Config parse(std::string_view text, const std::string &path, std::string_view resolv_conf)
{
	toml::table root;
	try {
		root = toml::parse(text, std::string_view(path));
	} catch (const toml::parse_error &e) {
		const auto &pos = e.source().begin;
		throw ConfigError(path + ":" + std::to_string(pos.line != 0 ? pos.line : 1U) + ": syntax error: " +
				  std::string(e.description()) + " (column " + std::to_string(pos.column) + ")");
	}
	return Reader(path, parse_resolv_conf(resolv_conf)).read(root);
}

Config parse(std::string_view text, const std::string &path)
{
	return parse(text, path, system_resolv_conf());
}

Config load(const std::string &path)
{
	return parse(read_text_file(path, kMaxConfigSize), path);
}

} // namespace ntm::config
