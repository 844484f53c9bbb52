// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: toml++ checks the syntax, this file the schema. The reader
 * walks the document table by table; every key it does not know is an
 * error, every value is checked for its type and range, and every message
 * is "<path>:<line>: <dotted.key>: <problem>". The format is documented in
 * ntmd.toml(5).
 */
#include "ntm/config.hpp"
#include "ntm/text.hpp"

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

#include "config_reader.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

namespace ntm::config {

namespace detail {

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

bool is_loopback(const IpAddress &a) noexcept
{
	const auto b = a.bytes();
	if (a.is_v4())
		return b[0] == 127;
	return std::all_of(b.begin(), b.end() - 1, [](std::uint8_t x) { return x == 0; }) && b.back() == 1;
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

void Reader::ifname(const Section &s, std::string_view key, std::string &out) const
{
	if (const auto v = string(s, key)) {
		try {
			out = parse_ifname(v->value);
		} catch (const UsageError &) {
			fail(v->line, dotted(s, key), quote(v->value) + ": expected 1..15 characters without '/', ':' or blanks");
		}
	}
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
	check_keys(s, {"ca", "server_ca", "certificate", "private_key"});
	path(s, "ca", c.tls.ca);
	path(s, "server_ca", c.tls.server_ca);
	path(s, "certificate", c.tls.certificate);
	path(s, "private_key", c.tls.private_key);

	/* a missing table is reported at the roles line, a missing key at its table */
	const Section where = s.t != nullptr ? s : Section{nullptr, "tls", roles_line};
	if (c.tls.certificate.empty() != c.tls.private_key.empty())
		missing(where, c.tls.certificate.empty() ? "certificate" : "private_key",
			"certificate and private_key go together");
	const bool server = c.role_as || c.role_dc || c.role_rs;
	const bool node_cert = c.node && c.node->auth == AuthMode::certificate;
	const char *who = c.role_as ? "role as" : c.role_dc ? "role dc" : c.role_rs ? "role rs" : "role node";
	if ((server || c.role_node) && c.tls.ca.empty())
		missing(where, "ca", std::string("needed by ") + who);
	if ((server || node_cert) && c.tls.certificate.empty())
		missing(where, "certificate",
			server ? std::string("needed by ") + who : "needed by node.auth = \"certificate\"");
}

As Reader::read_as(const Section &s, const Config &c) const
{
	As a;
	check_keys(s, {"listen", "database", "key_lifetime", "dc_port", "dc_names", "kdf", "dc"});
	a.listen = endpoints(s, "listen", sig::kDefaultAsPort, true, true)
			   .value_or(std::vector<Endpoint>{
				   Endpoint(IpAddress::v4(in_addr{}), sig::kDefaultAsPort),
				   Endpoint(IpAddress::v6(in6addr_any), sig::kDefaultAsPort),
			   });
	a.database = c.state_dir + "/accounts.db";
	path(s, "database", a.database);
	seconds(s, "key_lifetime", a.key_lifetime, 60, kMaxKeyLifetime);
	number(s, "dc_port", a.dc_port, 1, 65535);
	if (auto pins = names(s, "dc_names", true))
		a.dc_names = std::move(*pins);

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
		       "registration_lifetime", "trusted_as", "relays", "registration_rate", "direction_rate",
		       "address_rate", "notice_rate", "rate_table_size"});
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
	number(s, "registration_rate", d.registration_rate, 0, 1000000);
	number(s, "direction_rate", d.direction_rate, 0, 1000000);
	number(s, "address_rate", d.address_rate, 0, 1000000);
	number(s, "notice_rate", d.notice_rate, 0, 1000000);
	number(s, "rate_table_size", d.rate_table_size, 64, 1048576);
	auto trusted = names(s, "trusted_as", true);
	if (!trusted)
		missing(s, "trusted_as", "certificate names of the account servers allowed to send keys");
	d.trusted_as = std::move(*trusted);
	if (const auto relays = strings(s, "relays")) {
		for (const auto &r : *relays) {
			HostPort hp;
			try {
				hp = parse_host_port(r.value, kDefaultRsTlsPort);
			} catch (const std::invalid_argument &ex) {
				fail(r.line, dotted(s, "relays"), quote(r.value) + ": " + ex.what());
			}
			if (std::ranges::find(d.relays, hp) != d.relays.end())
				fail(r.line, dotted(s, "relays"), quote(r.value) + ": listed twice");
			d.relays.push_back(std::move(hp));
		}
	}
	return d;
}

Node Reader::read_node(const Section &s) const
{
	Node n;
	check_keys(s, {"interface", "port", "as", "auth", "account", "password_file", "ciphers", "dc", "dns_listen", "dns_allow",
		       "dns_upstream", "ntm_domains", "resolved", "tunnel_lifetime", "keepalive", "dead_after",
		       "rekey_after", "rekey_packets"});
	ifname(s, "interface", n.interface);
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
	if (const auto allow = strings(s, "dns_allow")) {
		for (const auto &it : *allow) {
			try {
				n.dns_allow.push_back(parse_prefix(it.value));
			} catch (const std::invalid_argument &ex) {
				fail(it.line, dotted(s, "dns_allow"), quote(it.value) + ": " + ex.what());
			}
		}
	} else {
		/* a stub others can reach answers, forwards and starts tunnels for them: say for whom */
		for (const auto &e : n.dns_listen)
			if (!is_loopback(e.address()))
				fail(line_of(*find(s, "dns_listen"), s.line), dotted(s, "dns_listen"),
				     e.to_string() + " is not a loopback address: set node.dns_allow to the networks "
						     "whose clients may query the stub");
	}
	const auto listens_on = [&](const IpAddress &a) {
		return std::ranges::any_of(n.dns_listen, [&](const Endpoint &e) { return e.address() == a; });
	};
	if (auto up = endpoints(s, "dns_upstream", kDnsPort, false, false)) {
		for (const auto &e : *up)
			if (std::ranges::find(n.dns_listen, e) != n.dns_listen.end())
				fail(line_of(*find(s, "dns_upstream"), s.line), dotted(s, "dns_upstream"),
				     e.to_string() + " is a dns_listen endpoint (a forwarding loop)");
		n.dns_upstream = std::move(*up);
		n.dns_upstream_explicit = true;
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
	seconds_or_zero(s, "keepalive", n.keepalive, 2, 3600, "never");
	seconds_or_zero(s, "dead_after", n.dead_after, 6, 86400, "never");
	seconds_or_zero(s, "rekey_after", n.rekey_after, 10, kMaxTunnelLifetime, "never");
	number(s, "rekey_packets", n.rekey_packets, 0, std::int64_t{1} << 62);
	if (n.keepalive.count() != 0 && n.dead_after.count() != 0 && n.dead_after < 2 * n.keepalive) {
		const std::string_view key = find(s, "dead_after") != nullptr ? "dead_after" : "keepalive";
		fail(line_of(*find(s, key), s.line), dotted(s, key),
		     "dead_after (" + std::to_string(n.dead_after.count()) + ") must be at least twice keepalive (" +
			     std::to_string(n.keepalive.count()) + ")");
	}
	if (n.tunnel_lifetime != 0 && n.rekey_after.count() >= static_cast<std::int64_t>(n.tunnel_lifetime)) {
		if (find(s, "rekey_after") != nullptr)
			fail(line_of(*find(s, "rekey_after"), s.line), dotted(s, "rekey_after"),
			     "must be below tunnel_lifetime (" + std::to_string(n.tunnel_lifetime) + ")");
		/* a short key lifetime alone: rekey a sixth of it before the end */
		n.rekey_after = std::chrono::seconds(n.tunnel_lifetime - n.tunnel_lifetime / 6);
	}
	return n;
}

Config Reader::read(const toml::table &root_table)
{
	Config c;
	c.path = path_;
	const Section root{&root_table, "", 1};
	check_keys(root, {"roles", "log_level", "state_dir", "control_socket", "dns_servers", "tls", "as", "dc", "node",
			  "ike", "rs", "log_target", "metrics"});

	const auto roles = strings(root, "roles");
	if (!roles)
		missing(root, "roles", "a list of node, dc, as, ike, rs");
	const Line roles_line = line_of(*find(root, "roles"), 1);
	if (roles->empty())
		fail(roles_line, "roles", "must name at least one of node, dc, as, ike, rs");
	for (const auto &r : *roles) {
		bool *flag = r.value == "node"	? &c.role_node
			     : r.value == "dc"	? &c.role_dc
			     : r.value == "as"	? &c.role_as
			     : r.value == "ike" ? &c.role_ike
			     : r.value == "rs"	? &c.role_rs
						: nullptr;
		if (flag == nullptr)
			fail(r.line, "roles", quote(r.value) + ": expected node, dc, as, ike or rs");
		if (*flag)
			fail(r.line, "roles", "duplicate role " + r.value);
		*flag = true;
	}

	one_of(root, "log_level", c.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
	one_of(root, "log_target", c.log_target, {"auto", "console", "journal"});
	c.metrics = read_metrics(table(root, "metrics"));
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
	      RoleTable{"ike", c.role_ike}, RoleTable{"rs", c.role_rs}}) {
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
	if (c.role_rs)
		c.rs = read_rs(table(root, "rs"));
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

} // namespace detail

namespace {

using detail::ip_literal;
using detail::ipv4_literal;
using detail::ipv6_literal;
using detail::is_digits;
using detail::kDnsPort;
using detail::parse_port_text;
using detail::Reader;

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