// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: the [ike] table and its connections, and the strongSwan-style
 * proposal and identity syntax (parse_ike_proposal, parse_ike_id). Same
 * rules as config.cpp: every unknown key is an error, every message names
 * the file, the line and the key.
 */
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "config_reader.hpp"
#include "ntm/error.hpp"
#include "ntm/parse.hpp"

namespace ntm::config {

namespace detail {

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
	if (const auto any = string(s, "remote_id"); any && any->value == "%any")
		c.remote_id_any = true;
	else
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
	/*
	 * A certificate proves an identity; without remote_id any identity
	 * certified by ike.ca would do, which is rarely meant (D78).
	 * "%any" says so explicitly; with psk, the key is the identity.
	 */
	if (c.remote_auth == IkeAuth::pubkey && !c.remote_id && !c.remote_id_any)
		missing(s, "remote_id",
			"needed by " + why(false, IkeAuth::pubkey) +
				": the identity the peer's certificate must prove, or \"%any\" for any that ike.ca certifies");
	if (c.remote_id_any && c.remote_auth != IkeAuth::pubkey)
		fail(line_of(*find(s, "remote_id"), s.line), dotted(s, "remote_id"),
		     "\"%any\" is only used with remote_auth = \"pubkey\"; leave remote_id out instead");

	c.proposals = proposals(s, "proposals", true,
				{"aes256gcm16-prfsha256-ecp256", "chacha20poly1305-prfsha256-x25519"});
	/* without and with PFS, so a peer that rekeys either way gets its CHILD SA (D64) */
	c.esp_proposals = proposals(s, "esp_proposals", false,
				    {"aes256gcm16", "chacha20poly1305", "aes256gcm16-x25519-ecp256",
				     "chacha20poly1305-x25519-ecp256"});
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
		       "half_open_max", "half_open_per_source", "retransmit_timeout", "retransmit_base", "retransmit_tries", "nat_keepalive",
		       "connection"});
	ifname(s, "interface", k.interface);
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
	number(s, "half_open_per_source", k.half_open_per_source, 1, kMaxHalfOpen);
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

} // namespace detail

using detail::ip_literal;
using detail::ipv4_literal;
using detail::ipv6_literal;
using detail::kMaxIdData;
using detail::kMaxIdText;
using detail::quote;

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

} // namespace ntm::config
