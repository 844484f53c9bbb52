// SPDX-License-Identifier: GPL-2.0
/* ntmd.toml: the schema, its defaults, its error messages, and the small parsers behind it. */
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "ntm/config.hpp"
#include "ntm/parse.hpp"

using namespace ntm::config;
using ntm::Endpoint;
using ntm::parse_address;

namespace {

constexpr std::string_view kResolv = "# generated\n"
				     "search example.org\n"
				     "nameserver 192.0.2.53\n"
				     "nameserver 127.0.0.77\n"
				     "nameserver 2001:db8::53\n"
				     "options edns0\n";

Config parse_text(std::string_view text)
{
	return parse(text, "t.toml", kResolv);
}

/* what() of the ConfigError parse() throws, or "" when it accepts the text */
std::string error_of(std::string_view text)
{
	try {
		(void)parse_text(text);
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}

Endpoint ep(const char *addr, std::uint16_t port)
{
	return {parse_address(addr), port};
}

/* a minimal node in password mode; lines appended to it land in [node] from line 8 on */
constexpr std::string_view kNode = R"(roles = ["node"]
[tls]
ca = "/etc/ntm/ca.pem"
[node]
as = "as.ntm.test"
account = "alice@ntm.test"
password_file = "/etc/ntm/password"
)";

/* a minimal AS + DC; lines appended to it land in [dc] from line 11 on */
constexpr std::string_view kServer = R"(roles = ["as", "dc"]
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/server.pem"
private_key = "/etc/ntm/server.key"
[as]
[dc]
domain = "ntm.test"
pool4 = "10.77.0.0/16"
trusted_as = ["as.ntm.test"]
)";

std::string with(std::string_view base, std::string_view extra)
{
	return std::string(base) + std::string(extra) + "\n";
}

std::filesystem::path example_path()
{
	/* tests/unit/test_config.cpp -> ctld/ntmd.toml.example */
	return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "ctld" / "ntmd.toml.example";
}

} // namespace

TEST(ConfigParse, NodePassword)
{
	const Config c = parse_text(R"(# a laptop
roles = ["node"]
log_level = "debug"
state_dir = "/var/lib/ntm-test"
control_socket = "/run/ntm/test.sock"
dns_servers = ["192.0.2.1", "[2001:db8::1]:5353"]

[tls]
ca = "/etc/ntm/ca.pem"

[node]
interface = "ntm1"
port = 17480
as = "as.ntm.test:17481"
auth = "password"
account = "alice@ntm.test"
password_file = "/etc/ntm/password"
ciphers = ["aes-gcm", "chacha20-poly1305"]
dc = "192.0.2.20"
dns_listen = ["127.0.0.78:5300", "[::1]:5300"]
dns_upstream = ["192.0.2.53", "2001:db8::53"]
ntm_domains = ["NTM.test.", "other.example"]
resolved = "no"
tunnel_lifetime = 3600
)");
	EXPECT_EQ(c.path, "t.toml");
	EXPECT_TRUE(c.role_node);
	EXPECT_FALSE(c.role_dc);
	EXPECT_FALSE(c.role_as);
	EXPECT_FALSE(c.as);
	EXPECT_FALSE(c.dc);
	EXPECT_EQ(c.log_level, "debug");
	EXPECT_EQ(c.state_dir, "/var/lib/ntm-test");
	EXPECT_EQ(c.control_socket, "/run/ntm/test.sock");
	EXPECT_EQ(c.dns_servers, (std::vector<Endpoint>{ep("192.0.2.1", 53), ep("2001:db8::1", 5353)}));
	EXPECT_EQ(c.tls.ca, "/etc/ntm/ca.pem");
	EXPECT_EQ(c.tls.certificate, "");
	ASSERT_TRUE(c.node);
	const Node &n = *c.node;
	EXPECT_EQ(n.interface, "ntm1");
	EXPECT_EQ(n.port, 17480);
	EXPECT_EQ(n.as, (HostPort{"as.ntm.test", 17481}));
	EXPECT_EQ(n.auth, AuthMode::password);
	EXPECT_EQ(n.account, "alice@ntm.test");
	EXPECT_EQ(n.password_file, "/etc/ntm/password");
	EXPECT_EQ(n.ciphers, (std::vector<std::uint8_t>{NTM_CIPHER_AES_GCM, NTM_CIPHER_CHACHA20_POLY1305}));
	ASSERT_TRUE(n.dc);
	EXPECT_EQ(*n.dc, (HostPort{"192.0.2.20", 7480}));
	EXPECT_EQ(n.dns_listen, (std::vector<Endpoint>{ep("127.0.0.78", 5300), ep("::1", 5300)}));
	EXPECT_EQ(n.dns_upstream, (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("2001:db8::53", 53)}));
	EXPECT_TRUE(n.dns_upstream_explicit); /* never re-read (D99) */
	EXPECT_EQ(n.ntm_domains, (std::vector<std::string>{"ntm.test", "other.example"}));
	EXPECT_EQ(n.resolved, Node::Resolved::no);
	EXPECT_EQ(n.tunnel_lifetime, 3600U);
}

TEST(ConfigParse, NodeCertificate)
{
	const Config c = parse_text(R"(roles = ["node"]
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/bob.pem"
private_key = "/etc/ntm/bob.key"
[node]
as = "[2001:db8::10]:7481"
auth = "certificate"
resolved = "yes"
)");
	ASSERT_TRUE(c.node);
	EXPECT_EQ(c.node->auth, AuthMode::certificate);
	EXPECT_EQ(c.node->as, (HostPort{"2001:db8::10", 7481}));
	EXPECT_EQ(c.node->as.to_string(), "[2001:db8::10]:7481");
	EXPECT_EQ(c.node->account, "");
	EXPECT_EQ(c.node->password_file, "");
	EXPECT_EQ(c.node->resolved, Node::Resolved::yes);
	EXPECT_EQ(c.tls.certificate, "/etc/ntm/bob.pem");
	EXPECT_EQ(c.tls.private_key, "/etc/ntm/bob.key");
}

TEST(ConfigParse, AsAndDc)
{
	const Config c = parse_text(R"(roles = ["dc", "as"]
state_dir = "/srv/ntm"
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/server.pem"
private_key = "/etc/ntm/server.key"

[as]
listen = ["192.0.2.10:7491", "[2001:db8::10]"]
database = "/srv/ntm/as.db"
key_lifetime = 3600
dc_port = 17482
[as.kdf]
n_log2 = 14
r = 4
p = 2
[as.dc]
"ntm.test" = "dc.ntm.test"
"Other.Example" = "[2001:db8::20]:9000"

[dc]
domain = "NTM.test"
port = 17480
listen_tls = ["0.0.0.0:17482"]
database = "/srv/ntm/dc.db"
pool4 = "10.77.0.0/16"
pool6 = "fd00:77::/64"
keepalive_interval = 30
registration_lifetime = 90
trusted_as = ["as.ntm.test", "as2.ntm.test"]
)");
	EXPECT_TRUE(c.role_as);
	EXPECT_TRUE(c.role_dc);
	EXPECT_FALSE(c.role_node);
	EXPECT_FALSE(c.node);
	ASSERT_TRUE(c.as);
	const As &a = *c.as;
	EXPECT_EQ(a.listen, (std::vector<Endpoint>{ep("192.0.2.10", 7491), ep("2001:db8::10", 7481)}));
	EXPECT_EQ(a.database, "/srv/ntm/as.db");
	EXPECT_EQ(a.key_lifetime, std::chrono::seconds(3600));
	EXPECT_EQ(a.dc_port, 17482);
	EXPECT_EQ(a.kdf.n_log2, 14U);
	EXPECT_EQ(a.kdf.r, 4U);
	EXPECT_EQ(a.kdf.p, 2U);
	ASSERT_EQ(a.dcs.size(), 2U);
	/* toml tables are ordered by key; names are lower-cased */
	EXPECT_EQ(a.dcs[0].first, "other.example");
	EXPECT_EQ(a.dcs[0].second, (HostPort{"2001:db8::20", 9000}));
	EXPECT_EQ(a.dcs[1].first, "ntm.test");
	EXPECT_EQ(a.dcs[1].second, (HostPort{"dc.ntm.test", 17482})); /* dc_port is the default port */

	ASSERT_TRUE(c.dc);
	const Dc &d = *c.dc;
	EXPECT_EQ(d.domain, "ntm.test");
	EXPECT_EQ(d.port, 17480);
	EXPECT_EQ(d.listen_tls, (std::vector<Endpoint>{ep("0.0.0.0", 17482)}));
	EXPECT_EQ(d.database, "/srv/ntm/dc.db");
	ASSERT_TRUE(d.pool4);
	EXPECT_EQ(d.pool4->addr, parse_address("10.77.0.0"));
	EXPECT_EQ(d.pool4->len, 16);
	ASSERT_TRUE(d.pool6);
	EXPECT_EQ(d.pool6->addr, parse_address("fd00:77::"));
	EXPECT_EQ(d.pool6->len, 64);
	EXPECT_EQ(d.keepalive_interval, std::chrono::seconds(30));
	EXPECT_EQ(d.registration_lifetime, std::chrono::seconds(90));
	EXPECT_EQ(d.trusted_as, (std::vector<std::string>{"as.ntm.test", "as2.ntm.test"}));
}

/* D78: a server CA of its own and the DCs DNS may name */
TEST(ConfigParse, ServerCaAndDcNames)
{
	const std::string base = "roles = [\"as\"]\n[tls]\nca = \"/etc/ntm/nodes.pem\"\n"
				 "certificate = \"/etc/ntm/as.pem\"\nprivate_key = \"/etc/ntm/as.key\"\n";
	const Config plain = parse_text(base + "[as]\n");
	EXPECT_EQ(plain.tls.server_ca, "");
	ASSERT_TRUE(plain.as);
	EXPECT_TRUE(plain.as->dc_names.empty());

	const Config c = parse_text(base + "server_ca = \"/etc/ntm/servers.pem\"\n[as]\n"
					   "dc_names = [\"DC.Infra.Test.\", \"dc2.infra.test\"]\n");
	EXPECT_EQ(c.tls.ca, "/etc/ntm/nodes.pem");
	EXPECT_EQ(c.tls.server_ca, "/etc/ntm/servers.pem");
	ASSERT_TRUE(c.as);
	EXPECT_EQ(c.as->dc_names, (std::vector<std::string>{"dc.infra.test", "dc2.infra.test"}));

	EXPECT_EQ(error_of(base + "server_ca = \"servers.pem\"\n[as]\n"),
		  "t.toml:6: tls.server_ca: expected an absolute path, got \"servers.pem\"");
	EXPECT_EQ(error_of(base + "[as]\ndc_names = []\n"), "t.toml:7: as.dc_names: must not be empty");
	EXPECT_EQ(error_of(base + "[as]\ndc_names = [\"not a name\"]\n"),
		  "t.toml:7: as.dc_names: \"not a name\": not a valid DNS name");
}

TEST(ConfigParse, AllRolesInOneFile)
{
	std::string text = with(kServer, R"(
[node]
as = "127.0.0.1"
auth = "certificate"
dns_listen = ["127.0.0.77", "[::1]:53"])");
	text.replace(0, text.find('\n'), R"(roles = ["node", "as", "dc"])");
	const Config c = parse_text(text);
	EXPECT_TRUE(c.role_as && c.role_dc && c.role_node);
	ASSERT_TRUE(c.as && c.dc && c.node);
	EXPECT_EQ(c.node->auth, AuthMode::certificate);
	EXPECT_EQ(c.node->as, (HostPort{"127.0.0.1", 7481}));
	EXPECT_EQ(c.dc->domain, "ntm.test");
	/* the node's stub is not a resolver of ntmd's own lookups */
	EXPECT_EQ(c.dns_servers, (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("2001:db8::53", 53)}));
}

TEST(ConfigParse, ExampleFile)
{
	const auto path = example_path();
	ASSERT_TRUE(std::filesystem::exists(path)) << path;
	const Config c = load(path.string());
	EXPECT_TRUE(c.role_node && c.role_dc && c.role_as);
	ASSERT_TRUE(c.node && c.dc && c.as);
	EXPECT_EQ(c.dc->domain, "ntm.test");
	EXPECT_EQ(c.node->as, (HostPort{"as.ntm.test", 7481}));
}

TEST(ConfigDefaults, Node)
{
	const Config c = parse_text(kNode);
	EXPECT_EQ(c.log_level, "info");
	EXPECT_EQ(c.state_dir, "/var/lib/ntm");
	EXPECT_EQ(c.control_socket, "/run/ntm/ntmd.sock");
	/* resolv.conf, without our own stub at 127.0.0.77 */
	EXPECT_EQ(c.dns_servers, (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("2001:db8::53", 53)}));
	ASSERT_TRUE(c.node);
	const Node &n = *c.node;
	EXPECT_EQ(n.interface, "ntm0");
	EXPECT_EQ(n.port, 7480);
	EXPECT_EQ(n.as, (HostPort{"as.ntm.test", 7481}));
	EXPECT_EQ(n.auth, AuthMode::password);
	EXPECT_EQ(n.ciphers, (std::vector<std::uint8_t>{NTM_CIPHER_CHACHA20_POLY1305, NTM_CIPHER_AES_GCM}));
	EXPECT_FALSE(n.dc);
	EXPECT_EQ(n.dns_listen, (std::vector<Endpoint>{ep("127.0.0.77", 53)}));
	EXPECT_EQ(n.dns_upstream, (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("2001:db8::53", 53)}));
	EXPECT_FALSE(n.dns_upstream_explicit); /* from resolv.conf: follows it (D99) */
	EXPECT_TRUE(n.ntm_domains.empty());
	EXPECT_EQ(n.resolved, Node::Resolved::automatic);
	EXPECT_EQ(n.tunnel_lifetime, 0U);
	EXPECT_EQ(n.keepalive, std::chrono::seconds(10));
	EXPECT_EQ(n.dead_after, std::chrono::seconds(30));
	EXPECT_EQ(n.rekey_after, std::chrono::seconds(600));
	EXPECT_EQ(n.rekey_packets, 1ULL << 31);
}

TEST(ConfigNode, TunnelTimers)
{
	const Config c = parse_text(with(kNode, "keepalive = 3\ndead_after = 9\nrekey_after = 15\nrekey_packets = 0"));
	EXPECT_EQ(c.node->keepalive, std::chrono::seconds(3));
	EXPECT_EQ(c.node->dead_after, std::chrono::seconds(9));
	EXPECT_EQ(c.node->rekey_after, std::chrono::seconds(15));
	EXPECT_EQ(c.node->rekey_packets, 0U);
	/* a short key lifetime alone pulls the rekey time in: a sixth before the end */
	const Config l = parse_text(with(kNode, "tunnel_lifetime = 120"));
	EXPECT_EQ(l.node->rekey_after, std::chrono::seconds(100));
	const Config off = parse_text(with(kNode, "keepalive = 0\ndead_after = 0\nrekey_after = 0"));
	EXPECT_EQ(off.node->keepalive.count(), 0);
	EXPECT_EQ(off.node->rekey_after.count(), 0);
	EXPECT_EQ(error_of(with(kNode, "keepalive = 10\ndead_after = 19")),
		  "t.toml:9: node.dead_after: dead_after (19) must be at least twice keepalive (10)");
	EXPECT_EQ(error_of(with(kNode, "tunnel_lifetime = 600\nrekey_after = 600")),
		  "t.toml:9: node.rekey_after: must be below tunnel_lifetime (600)");
	EXPECT_EQ(error_of(with(kNode, "rekey_after = 5")),
		  "t.toml:8: node.rekey_after: must be 0 (never) or 10..604800, got 5");
}

TEST(ConfigDefaults, DnsUpstreamSkipsOwnListenAddresses)
{
	const Config c = parse_text(with(kNode, "dns_listen = [\"192.0.2.53:53\"]\ndns_allow = [\"192.0.2.0/24\"]"));
	EXPECT_EQ(c.node->dns_allow, (std::vector<ntm::sig::Prefix>{{parse_address("192.0.2.0"), 24}}));
	EXPECT_EQ(c.node->dns_upstream, (std::vector<Endpoint>{ep("127.0.0.77", 53), ep("2001:db8::53", 53)}));
	const Config none = parse(kNode, "t.toml", "");
	EXPECT_TRUE(none.node->dns_upstream.empty());
	EXPECT_TRUE(none.dns_servers.empty());
}

TEST(ConfigDefaults, Server)
{
	const Config c = parse_text(kServer);
	EXPECT_EQ(c.dns_servers,
		  (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("127.0.0.77", 53), ep("2001:db8::53", 53)}));
	ASSERT_TRUE(c.as);
	EXPECT_EQ(c.as->listen, (std::vector<Endpoint>{ep("0.0.0.0", 7481), ep("::", 7481)}));
	EXPECT_EQ(c.as->database, "/var/lib/ntm/accounts.db");
	EXPECT_EQ(c.as->key_lifetime, std::chrono::seconds(86400));
	EXPECT_EQ(c.as->dc_port, 7482);
	EXPECT_EQ(c.as->kdf.n_log2, 15U);
	EXPECT_EQ(c.as->kdf.r, 8U);
	EXPECT_EQ(c.as->kdf.p, 1U);
	EXPECT_TRUE(c.as->dcs.empty());
	ASSERT_TRUE(c.dc);
	EXPECT_EQ(c.dc->port, 7480);
	EXPECT_EQ(c.dc->listen_tls, (std::vector<Endpoint>{ep("0.0.0.0", 7482), ep("::", 7482)}));
	EXPECT_EQ(c.dc->database, "/var/lib/ntm/registry.db");
	EXPECT_FALSE(c.dc->pool6);
	EXPECT_EQ(c.dc->keepalive_interval, std::chrono::seconds(20));
	EXPECT_EQ(c.dc->registration_lifetime, std::chrono::seconds(3600));
	EXPECT_EQ(c.dc->registration_rate, 30U);
	EXPECT_EQ(c.dc->direction_rate, 120U);
	EXPECT_EQ(c.dc->address_rate, 1200U);
	EXPECT_EQ(c.dc->notice_rate, 12U);
	EXPECT_EQ(c.dc->rate_table_size, 16384U);

	const Config moved = parse_text(std::string(R"(state_dir = "/srv/x")") + "\n" + std::string(kServer));
	EXPECT_EQ(moved.as->database, "/srv/x/accounts.db");
	EXPECT_EQ(moved.dc->database, "/srv/x/registry.db");
}

TEST(ConfigErrors, Syntax)
{
	const auto e = error_of("roles = [\"node\"]\n[node\nas = 1\n");
	EXPECT_TRUE(e.starts_with("t.toml:2: syntax error: ")) << e;
	EXPECT_TRUE(error_of("roles = [\"node\"]\nroles = [\"dc\"]\n").starts_with("t.toml:2: syntax error: "));
	EXPECT_TRUE(error_of("\xff\xfe").starts_with("t.toml:1: syntax error: "));
}

TEST(ConfigErrors, UnknownKeys)
{
	EXPECT_EQ(error_of(with(kServer, R"(pool = "10.0.0.0/8")")),
		  "t.toml:11: dc.pool: unknown key (did you mean pool4?)");
	EXPECT_EQ(error_of(with(kNode, "colour = 1")), "t.toml:8: node.colour: unknown key");
	EXPECT_EQ(error_of(with(kNode, "keepalive_interval = 1")), "t.toml:8: node.keepalive_interval: unknown key");
	EXPECT_EQ(error_of(with(kNode, "[other]")), "t.toml:8: other: unknown key");
	EXPECT_EQ(error_of(std::string("loglevel = \"info\"\n") + std::string(kNode)),
		  "t.toml:1: loglevel: unknown key (did you mean log_level?)");
	EXPECT_EQ(error_of(with(kNode, "[tls.x]")), "t.toml:8: tls.x: unknown key");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\nn_log = 14")),
		  "t.toml:12: as.kdf.n_log: unknown key (did you mean n_log2?)");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\nN = 14")), "t.toml:12: as.kdf.N: unknown key");
	EXPECT_EQ(error_of(with(kNode, R"("odd key" = 1)")), "t.toml:8: node.\"odd key\": unknown key");
}

TEST(ConfigErrors, Types)
{
	EXPECT_EQ(error_of(with(kNode, R"(port = "7480")")), "t.toml:8: node.port: expected an integer, got a string");
	EXPECT_EQ(error_of(with(kNode, "port = 7480.0")), "t.toml:8: node.port: expected an integer, got a float");
	EXPECT_EQ(error_of(with(kNode, "interface = true")),
		  "t.toml:8: node.interface: expected a string, got a boolean");
	EXPECT_EQ(error_of(with(kNode, R"(ciphers = "aes-gcm")")),
		  "t.toml:8: node.ciphers: expected an array, got a string");
	EXPECT_EQ(error_of(with(kNode, "ciphers = [\n\"aes-gcm\",\n2]")),
		  "t.toml:10: node.ciphers: expected an array of strings, found an integer in it");
	EXPECT_EQ(error_of("roles = \"node\"\n"), "t.toml:1: roles: expected an array, got a string");
	EXPECT_EQ(error_of("roles = [\"node\"]\n[[node]]\nas = \"x\"\n"),
		  "t.toml:2: node: expected a table, got an array");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\nr = 1979-05-27")),
		  "t.toml:12: as.kdf.r: expected an integer, got a date");
}

TEST(ConfigErrors, Ranges)
{
	EXPECT_EQ(error_of(with(kServer, "keepalive_interval = 4")),
		  "t.toml:11: dc.keepalive_interval: must be 5..300, got 4");
	EXPECT_EQ(error_of(with(kServer, "rate_table_size = 10")),
		  "t.toml:11: dc.rate_table_size: must be 64..1048576, got 10");
	EXPECT_EQ(parse_text(with(kServer, "registration_rate = 0")).dc->registration_rate, 0U);
	EXPECT_EQ(error_of(with(kNode, "port = 0")), "t.toml:8: node.port: must be 1..65535, got 0");
	EXPECT_EQ(error_of(with(kNode, "port = 65536")), "t.toml:8: node.port: must be 1..65535, got 65536");
	EXPECT_EQ(error_of(with(kNode, "tunnel_lifetime = 59")),
		  "t.toml:8: node.tunnel_lifetime: must be 0 (none) or 60..604800, got 59");
	EXPECT_EQ(error_of(with(kNode, "tunnel_lifetime = -1")),
		  "t.toml:8: node.tunnel_lifetime: must be 0..604800, got -1");
	EXPECT_EQ(error_of(with(kServer, "registration_lifetime = 59")),
		  "t.toml:11: dc.registration_lifetime: must be at least 3 * keepalive_interval (60), got 59");
	EXPECT_EQ(error_of(with(kServer, "registration_lifetime = 600\nkeepalive_interval = 300")),
		  "t.toml:11: dc.registration_lifetime: must be at least 3 * keepalive_interval (900), got 600");
	const std::string server_kdf = std::string(kServer).replace(kServer.find("[as]"), 4, "[as]\nkey_lifetime = 59");
	EXPECT_EQ(error_of(server_kdf), "t.toml:7: as.key_lifetime: must be 60..31536000, got 59");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\nn_log2 = 21")), "t.toml:12: as.kdf.n_log2: must be 10..20, got 21");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\nn_log2 = 20\nr = 16")),
		  "t.toml:11: as.kdf: 128 * r * 2^n_log2 bytes exceed the limit of 1 GiB; lower r or n_log2");
	EXPECT_EQ(error_of(with(kServer, "[as.kdf]\np = 17")), "t.toml:12: as.kdf.p: must be 1..16, got 17");
}

TEST(ConfigErrors, MissingKeys)
{
	EXPECT_EQ(error_of("log_level = \"info\"\n"),
		  "t.toml:1: roles: required key is missing (a list of node, dc, as, ike, rs)");
	EXPECT_EQ(error_of("\n\nroles = []\n"), "t.toml:3: roles: must name at least one of node, dc, as, ike, rs");
	std::string no_domain(kServer);
	no_domain.erase(no_domain.find("domain = \"ntm.test\"\n"), 20);
	EXPECT_EQ(error_of(no_domain), "t.toml:7: dc.domain: required key is missing");
	std::string no_as(kNode);
	no_as.erase(no_as.find("as = \"as.ntm.test\"\n"), 19);
	EXPECT_EQ(error_of(no_as), "t.toml:4: node.as: required key is missing");
	std::string no_account(kNode);
	no_account.erase(no_account.find("account ="), 27);
	EXPECT_EQ(error_of(no_account),
		  "t.toml:4: node.account: required key is missing (needed by auth = \"password\")");
	std::string no_pool(kServer);
	no_pool.erase(no_pool.find("pool4"), 23);
	EXPECT_EQ(error_of(no_pool),
		  "t.toml:7: dc.pool4: required key is missing (at least one of pool4 and pool6 is needed)");
	std::string no_trusted(kServer);
	no_trusted.erase(no_trusted.find("trusted_as"));
	EXPECT_TRUE(error_of(no_trusted).starts_with("t.toml:7: dc.trusted_as: required key is missing"));
	EXPECT_EQ(error_of(with(no_trusted, "trusted_as = []")), "t.toml:10: dc.trusted_as: must not be empty");
}

TEST(ConfigErrors, Roles)
{
	EXPECT_EQ(error_of(R"(roles = ["node", "ns"])"), "t.toml:1: roles: \"ns\": expected node, dc, as, ike or rs");
	EXPECT_EQ(error_of("roles = [\n\"node\",\n\"node\"]"), "t.toml:3: roles: duplicate role node");
	EXPECT_EQ(error_of(with(kNode, "[dc]\ndomain = \"x.test\"")),
		  "t.toml:8: dc: [dc] given but roles does not include \"dc\"");
	EXPECT_EQ(error_of("\nroles = [\"dc\"]\n[tls]\n"),
		  "t.toml:2: dc: roles includes \"dc\" but there is no [dc] table");
}

TEST(ConfigErrors, Tls)
{
	std::string no_ca(kNode);
	no_ca.erase(no_ca.find("ca = "), 23);
	EXPECT_EQ(error_of(no_ca), "t.toml:2: tls.ca: required key is missing (needed by role node)");
	std::string no_tls(kNode);
	no_tls.erase(no_tls.find("[tls]"), 29);
	EXPECT_EQ(error_of(no_tls), "t.toml:1: tls.ca: required key is missing (needed by role node)");
	EXPECT_EQ(error_of(R"(roles = ["node"]
[tls]
ca = "/ca.pem"
[node]
as = "as.test"
auth = "certificate"
)"),
		  "t.toml:2: tls.certificate: required key is missing (needed by node.auth = \"certificate\")");
	std::string no_key(kServer);
	no_key.erase(no_key.find("private_key"), 36);
	EXPECT_EQ(error_of(no_key),
		  "t.toml:2: tls.private_key: required key is missing (certificate and private_key go together)");
	EXPECT_EQ(error_of(with(kNode, "[tls]")).substr(0, 19), "t.toml:8: syntax er");
	EXPECT_EQ(error_of(std::string(kNode).replace(kNode.find("/etc/ntm/ca.pem"), 15, "ca.pem")),
		  "t.toml:3: tls.ca: expected an absolute path, got \"ca.pem\"");
}

TEST(ConfigErrors, Values)
{
	EXPECT_EQ(
		error_of(std::string("log_level = \"verbose\"\n") + std::string(kNode)),
		"t.toml:1: log_level: expected one of trace, debug, info, warn, error, critical, off, got \"verbose\"");
	EXPECT_EQ(error_of(with(kNode, R"(interface = "ntm/0")")),
		  "t.toml:8: node.interface: \"ntm/0\": expected 1..15 characters without '/', ':' or blanks");
	EXPECT_EQ(error_of(with(kNode, R"(interface = "a-very-long-name0")")).substr(0, 26),
		  "t.toml:8: node.interface: ");
	EXPECT_EQ(error_of(with(kNode, R"(auth = "psk")")),
		  "t.toml:8: node.auth: expected one of password, certificate, got \"psk\"");
	EXPECT_EQ(error_of(with(kNode, R"(resolved = "true")")),
		  "t.toml:8: node.resolved: expected one of auto, yes, no, got \"true\"");
	EXPECT_EQ(error_of(with(kNode, "ciphers = []")), "t.toml:8: node.ciphers: must not be empty");
	EXPECT_EQ(error_of(with(kNode, R"(ciphers = ["aes-gcm", "aes-gcm"])")),
		  "t.toml:8: node.ciphers: duplicate cipher aes-gcm");
	EXPECT_EQ(error_of(with(kNode, R"(ciphers = ["aes-ccm"])")),
		  "t.toml:8: node.ciphers: \"aes-ccm\": expected chacha20-poly1305 or aes-gcm");
	EXPECT_EQ(error_of(with(kNode, R"(dc = "dc.test:0")")),
		  "t.toml:8: node.dc: \"dc.test:0\": the port must be 1..65535");
	EXPECT_EQ(error_of(with(kNode, R"(dns_listen = ["localhost:53"])")),
		  "t.toml:8: node.dns_listen: \"localhost:53\": expected a literal IP address, not a host name");
	EXPECT_EQ(error_of(with(kNode, R"(dns_listen = [])")), "t.toml:8: node.dns_listen: must not be empty");
	EXPECT_EQ(error_of(with(kNode, R"(dns_listen = ["0.0.0.0:53"])")),
		  "t.toml:8: node.dns_listen: 0.0.0.0:53 is not a loopback address: set node.dns_allow to the "
		  "networks whose clients may query the stub");
	EXPECT_EQ(error_of(with(kNode, R"(dns_listen = ["127.0.0.1", "[2001:db8::53]"])")),
		  "t.toml:8: node.dns_listen: [2001:db8::53]:53 is not a loopback address: set node.dns_allow to "
		  "the networks whose clients may query the stub");
	EXPECT_EQ(error_of(with(kNode, "dns_listen = [\"::\"]\ndns_allow = [\"10.0.0.1/8\"]")),
		  "t.toml:9: node.dns_allow: \"10.0.0.1/8\": host bits are set (the network is 10.0.0.0/8)");
	EXPECT_EQ(error_of(with(kNode, R"(dns_upstream = ["0.0.0.0"])")),
		  "t.toml:8: node.dns_upstream: \"0.0.0.0\": the unspecified address is not allowed here");
	EXPECT_EQ(error_of(with(kNode, R"(dns_upstream = ["127.0.0.77"])")),
		  "t.toml:8: node.dns_upstream: 127.0.0.77:53 is a dns_listen endpoint (a forwarding loop)");
	EXPECT_EQ(error_of(with(kNode, R"(dns_listen = ["127.0.0.1", "127.0.0.1:53"])")),
		  "t.toml:8: node.dns_listen: duplicate endpoint 127.0.0.1:53");
	EXPECT_EQ(error_of(with(kNode, R"(ntm_domains = ["-bad.test"])")),
		  "t.toml:8: node.ntm_domains: \"-bad.test\": not a valid DNS name");
	EXPECT_EQ(error_of(with(kNode, R"(ntm_domains = ["a.test", "A.test."])")),
		  "t.toml:8: node.ntm_domains: duplicate name \"a.test\"");
	EXPECT_EQ(error_of(with(kNode, "account = \"bob smith\"")).substr(0, 12), "t.toml:8: sy");
	EXPECT_EQ(error_of(std::string(kNode).replace(kNode.find("alice@"), 6, "al ice@")),
		  "t.toml:6: node.account: \"al ice@ntm.test\": blanks and control characters are not allowed");
	EXPECT_EQ(error_of(std::string(kNode).replace(kNode.find("as.ntm.test\""), 12, "as_x.test\"")),
		  "t.toml:5: node.as: \"as_x.test\": not a valid host name or IPv4 address");
	EXPECT_EQ(error_of(with(kNode, "auth = \"certificate\"")),
		  "t.toml:6: node.account: only used with auth = \"password\"");
	EXPECT_EQ(error_of(std::string("control_socket = \"/") + std::string(120, 'x') + "\"\n" + std::string(kNode)),
		  "t.toml:1: control_socket: longer than a unix socket path can be (107 bytes)");
	EXPECT_EQ(error_of(std::string("dns_servers = [\"ns.example\"]\n") + std::string(kNode)),
		  "t.toml:1: dns_servers: \"ns.example\": expected a literal IP address, not a host name");
	/* control characters in values are escaped in messages */
	EXPECT_EQ(error_of(with(kNode, R"(auth = "a\u0001\n")")),
		  "t.toml:8: node.auth: expected one of password, certificate, got \"a\\x01\\x0a\"");
}

TEST(ConfigErrors, DcValues)
{
	const auto dc = [](std::string_view pool) {
		std::string t(kServer);
		return t.replace(t.find("pool4 = \"10.77.0.0/16\""), 22, pool);
	};
	EXPECT_EQ(error_of(dc(R"(pool4 = "10.77.0.1/16")")),
		  "t.toml:9: dc.pool4: \"10.77.0.1/16\": host bits are set (the network is 10.77.0.0/16)");
	EXPECT_EQ(error_of(dc(R"(pool4 = "10.0.0.0/7")")),
		  "t.toml:9: dc.pool4: \"10.0.0.0/7\": the prefix length must be 8..30");
	EXPECT_EQ(error_of(dc(R"(pool4 = "10.0.0.0/31")")),
		  "t.toml:9: dc.pool4: \"10.0.0.0/31\": the prefix length must be 8..30");
	EXPECT_EQ(error_of(dc(R"(pool4 = "fd00::/64")")), "t.toml:9: dc.pool4: \"fd00::/64\": expected an IPv4 prefix");
	EXPECT_EQ(error_of(dc(R"(pool6 = "fd00::/48")")),
		  "t.toml:9: dc.pool6: \"fd00::/48\": the prefix length must be 64..124");
	EXPECT_EQ(error_of(dc(R"(pool6 = "fd00::/125")")),
		  "t.toml:9: dc.pool6: \"fd00::/125\": the prefix length must be 64..124");
	EXPECT_EQ(error_of(dc(R"(pool4 = "224.0.0.0/8")")),
		  "t.toml:9: dc.pool4: \"224.0.0.0/8\": not a unicast network");
	EXPECT_EQ(error_of(dc(R"(pool4 = "10.77.0.0")")),
		  "t.toml:9: dc.pool4: \"10.77.0.0\": expected ADDRESS/LENGTH, like 10.77.0.0/16");
	std::string bad_domain(kServer);
	bad_domain.replace(bad_domain.find("\"ntm.test\""), 10, "\"ntm..test\"");
	EXPECT_EQ(error_of(bad_domain), "t.toml:8: dc.domain: \"ntm..test\": not a valid DNS name");
	EXPECT_EQ(error_of(with(kServer, R"(listen_tls = ["dc.ntm.test:7482"])")),
		  "t.toml:11: dc.listen_tls: \"dc.ntm.test:7482\": expected a literal IP address, not a host name");
	EXPECT_EQ(error_of(with(kServer, R"(listen_tls = ["224.0.0.1:7482"])")),
		  "t.toml:11: dc.listen_tls: \"224.0.0.1:7482\": a multicast address is not allowed here");
	EXPECT_EQ(error_of(with(kServer, "[as.dc]\n\"bad_domain\" = \"dc.test\"")),
		  "t.toml:12: as.dc.bad_domain: the key must be a DNS domain name");
	EXPECT_EQ(error_of(with(kServer, "[as.dc]\n\"ntm.test\" = \"dc.test:x\"")),
		  "t.toml:12: as.dc.\"ntm.test\": \"dc.test:x\": the port must be a number 1..65535");
	EXPECT_EQ(error_of(with(kServer, "[as.dc]\n\"ntm.test\" = 7482")),
		  "t.toml:12: as.dc.\"ntm.test\": expected a string, got an integer");
	EXPECT_EQ(error_of(with(kServer, "[as.dc]\n\"a.test\" = \"dc\"\n\"A.test\" = \"dc\"")),
		  "t.toml:12: as.dc.\"a.test\": domain given twice");
}

TEST(ConfigHostPort, Variants)
{
	EXPECT_EQ(parse_host_port("as.ntm.test:7481", 1), (HostPort{"as.ntm.test", 7481}));
	EXPECT_EQ(parse_host_port("as.ntm.test", 7481), (HostPort{"as.ntm.test", 7481}));
	EXPECT_EQ(parse_host_port("as.ntm.test.:99", 1), (HostPort{"as.ntm.test.", 99}));
	EXPECT_EQ(parse_host_port("localhost", 53), (HostPort{"localhost", 53}));
	EXPECT_EQ(parse_host_port("192.0.2.10:7481", 1), (HostPort{"192.0.2.10", 7481}));
	EXPECT_EQ(parse_host_port("192.0.2.10", 7481), (HostPort{"192.0.2.10", 7481}));
	EXPECT_EQ(parse_host_port("[2001:db8::1]:7481", 1), (HostPort{"2001:db8::1", 7481}));
	EXPECT_EQ(parse_host_port("[2001:db8::1]", 7481), (HostPort{"2001:db8::1", 7481}));
	EXPECT_EQ(parse_host_port("2001:db8::1", 7481), (HostPort{"2001:db8::1", 7481}));
	EXPECT_EQ(parse_host_port("x:65535", 1).port, 65535);
	EXPECT_EQ(parse_host_port("x:1", 2).port, 1);
	for (const char *s : {"",
			      ":7481",
			      "host:",
			      "host:0",
			      "host:65536",
			      "host:99999999",
			      "host:-1",
			      "host:+1",
			      "host:0x10",
			      "host: 1",
			      "ho st:1",
			      "host:1:2",
			      "[2001:db8::1",
			      "[2001:db8::1]7481",
			      "[2001:db8::1]:",
			      "[192.0.2.1]:1",
			      "[]:1",
			      "[host]:1",
			      "2001:db8::g",
			      "fe80::1%eth0",
			      "[fe80::1%eth0]:1",
			      "-host:1",
			      "host-:1",
			      "a..b:1",
			      "1.2.3.999:1",
			      "1.2.3:1",
			      "_srv.x:1",
			      "h\xc3\xa9.test:1"})
		EXPECT_THROW(parse_host_port(s, 7481), std::invalid_argument) << s;
	EXPECT_THROW(parse_host_port(std::string("a\0b:1", 5), 1), std::invalid_argument);
	EXPECT_THROW(parse_host_port(std::string(254, 'a'), 1), std::invalid_argument);
}

TEST(ConfigHostPort, ToString)
{
	EXPECT_EQ((HostPort{"as.ntm.test", 7481}).to_string(), "as.ntm.test:7481");
	EXPECT_EQ((HostPort{"192.0.2.1", 1}).to_string(), "192.0.2.1:1");
	EXPECT_EQ((HostPort{"2001:db8::1", 7481}).to_string(), "[2001:db8::1]:7481");
	for (const char *s : {"a.test:1", "[::1]:53", "10.0.0.1:65535"})
		EXPECT_EQ(parse_host_port(s, 9).to_string(), s);
}

TEST(ConfigDnsName, Rules)
{
	const std::string label63(63, 'a');
	for (const char *s : {"a", "ntm.test", "NTM.Test.", "a-b.c0", "x1.example", label63.c_str()})
		EXPECT_TRUE(is_dns_name(s)) << s;
	const std::string long_label(64, 'a');
	std::string long_name;
	while (long_name.size() < 254)
		long_name += "abcdefg.";
	long_name += "x";
	for (const std::string s : {"", ".", "..", "a..b", ".a", "-a", "a-", "a_b", "a b", "1.2.3.4", "a.123",
				    long_label.c_str(), long_name.c_str(), "a.b.."})
		EXPECT_FALSE(is_dns_name(s)) << s;
}

TEST(ConfigPrefix, Parse)
{
	auto p = parse_prefix("10.77.0.0/16");
	EXPECT_EQ(p.addr, parse_address("10.77.0.0"));
	EXPECT_EQ(p.len, 16);
	p = parse_prefix("fd00:77::/64");
	EXPECT_EQ(p.addr, parse_address("fd00:77::"));
	EXPECT_EQ(p.len, 64);
	EXPECT_EQ(parse_prefix("0.0.0.0/0").len, 0);
	EXPECT_EQ(parse_prefix("192.0.2.1/32").len, 32);
	EXPECT_EQ(parse_prefix("10.77.128.0/17").len, 17);
	EXPECT_EQ(parse_prefix("2001:db8::1/128").len, 128);
	EXPECT_EQ(parse_prefix("fd00:77::10/124").len, 124);
	for (const char *s : {"", "/", "10.77.0.0", "10.77.0.0/", "10.77.0.0/33", "10.77.0.1/16", "10.77.128.0/16",
			      "10.77.0.0/016", "10.77.0.0/ 16", "10.77.0.0/16/1", "10.77/16", "fd00::1/64",
			      "fd00::/129", "fd00::/-1", "host/16", "[fd00::]/64", "fe80::%eth0/64", "10.77.0.0/1000"})
		EXPECT_THROW(parse_prefix(s), std::invalid_argument) << s;
	try {
		(void)parse_prefix("10.77.0.1/16");
		FAIL();
	} catch (const std::invalid_argument &e) {
		EXPECT_STREQ(e.what(), "host bits are set (the network is 10.77.0.0/16)");
	}
}

TEST(ConfigResolvConf, Parse)
{
	const auto r = parse_resolv_conf("# comment\n"
					 "; nameserver 10.0.0.1\n"
					 "domain example.org\n"
					 "search a.example b.example\n"
					 "nameserver 192.0.2.1\n"
					 "  nameserver\t192.0.2.2   # trailing comment\n"
					 "nameserver fe80::1%eth0\n"
					 "nameserver 2001:db8::53\n"
					 "nameserver 192.0.2.1\n"
					 "nameserver ns.example.org\n"
					 "nameserver\n"
					 "nameservers 192.0.2.9\n"
					 "options ndots:2 edns0\n"
					 "nameserver 192.0.2.3");
	EXPECT_EQ(r, (std::vector<Endpoint>{ep("192.0.2.1", 53), ep("192.0.2.2", 53), ep("fe80::1", 53),
					    ep("2001:db8::53", 53), ep("192.0.2.3", 53)}));
	EXPECT_TRUE(parse_resolv_conf("").empty());
	EXPECT_TRUE(parse_resolv_conf(std::string("nameserver \0 1.2.3.4\n", 21)).empty());
}

TEST(ConfigLoad, Files)
{
	char dir_template[] = "/tmp/ntm-config-test-XXXXXX";
	ASSERT_NE(mkdtemp(dir_template), nullptr);
	const std::filesystem::path dir(dir_template);
	const auto file = (dir / "ntmd.toml").string();
	{
		std::ofstream out(file);
		out << kNode;
	}
	const Config c = load(file);
	EXPECT_EQ(c.path, file);
	EXPECT_TRUE(c.node);
	{
		std::ofstream out(file);
		out << kNode << "port = 0\n";
	}
	try {
		(void)load(file);
		FAIL();
	} catch (const ConfigError &e) {
		EXPECT_EQ(std::string(e.what()), file + ":8: node.port: must be 1..65535, got 0");
	}
	{
		std::ofstream out(file);
		out << std::string(kMaxConfigSize + 1, '#');
	}
	EXPECT_THROW((void)load(file), ConfigError);
	try {
		(void)load((dir / "missing.toml").string());
		FAIL();
	} catch (const ConfigError &e) {
		EXPECT_EQ(std::string(e.what()),
			  (dir / "missing.toml").string() + ": cannot open: No such file or directory");
	}
	std::filesystem::remove_all(dir);
}

namespace {

/* a minimal IKE responder: lines appended to it land in the connection from line 8 on */
constexpr std::string_view kIke = R"(roles = ["ike"]
[ike]
[[ike.connection]]
name = "gw"
psk_file = "/etc/ntm/gw.psk"
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
)";

/* kIke with lines in [ike] (from line 3 on; the connection moves down) */
std::string in_ike(std::string_view extra)
{
	std::string t(kIke);
	return t.insert(t.find("[ike]\n") + 6, std::string(extra) + "\n");
}

/* kIke without the line that starts with key */
std::string without(std::string_view key)
{
	std::string t(kIke);
	const auto at = t.find("\n" + std::string(key) + " = ");
	return t.erase(at + 1, t.find('\n', at + 1) - at);
}

IkeProposal proposal(std::uint16_t encr, std::optional<std::uint16_t> bits, std::uint16_t prf,
		     std::vector<std::uint16_t> dh, std::vector<std::uint16_t> esn)
{
	IkeProposal p;
	p.encr = encr;
	p.key_bits = bits;
	p.prf = prf;
	p.dh = std::move(dh);
	p.esn = std::move(esn);
	return p;
}

ntm::sig::Prefix prefix(const char *s)
{
	return parse_prefix(s);
}

/* what() of the invalid_argument f throws, or "" */
template <typename F>
std::string invalid_of(F f)
{
	try {
		(void)f();
	} catch (const std::invalid_argument &e) {
		return e.what();
	}
	return "";
}

/* DER of a name built the way `openssl req -subj` does it, straight from OpenSSL */
std::vector<std::uint8_t> openssl_dn(std::initializer_list<std::pair<const char *, const char *>> rdns)
{
	X509_NAME *name = X509_NAME_new();
	for (const auto &[k, v] : rdns) {
		std::string value(v);
		std::vector<unsigned char> bytes(value.begin(), value.end());
		EXPECT_EQ(X509_NAME_add_entry_by_txt(name, k, MBSTRING_ASC, bytes.data(), static_cast<int>(bytes.size()),
						     -1, 0),
			  1);
	}
	const int len = i2d_X509_NAME(name, nullptr);
	std::vector<std::uint8_t> der(static_cast<std::size_t>(len > 0 ? len : 0));
	unsigned char *p = der.data();
	EXPECT_EQ(i2d_X509_NAME(name, &p), len);
	X509_NAME_free(name);
	return der;
}

} // namespace

TEST(ConfigIke, Full)
{
	const Config c = parse_text(R"(roles = ["ike"]
[ike]
interface = "ipsec1"
port = 1500
natt_port = 14500
ca = "/etc/ntm/ike-ca.pem"
certificate = "/etc/ntm/ike.pem"
private_key = "/etc/ntm/ike.key"
cookie_threshold = 10
half_open_max = 100
half_open_per_source = 7
retransmit_timeout = 500
retransmit_base = 2.5
retransmit_tries = 3
nat_keepalive = 0

[[ike.connection]]
name = "site-a"
remote_addrs = ["192.0.2.1", "GW.Example.org.", "2001:DB8::1"]
remote_port = 4501
local_id = "dn:C=JP, O=ntm, CN=moon"
remote_id = "sun.example.org"
auth = "pubkey"
proposals = ["aes128gcm16-prfsha384-x25519-ecp256", "chacha20poly1305-ecp256"]
esp_proposals = ["aes256gcm16-ecp256-esn-noesn"]
local_ts = ["10.1.0.0/16", "fd00:1::/64"]
remote_ts = ["0.0.0.0/0"]
start_action = "start"
mobike = false
install_routes = false
dpd_delay = 0
rekey_time = 0
child_rekey_time = 600
child_life_time = 700
child_rekey_bytes = 1000000000
child_rekey_packets = 1000000

[[ike.connection]]
name = "road_warrior.2"
remote_addrs = ["%any"]
local_auth = "pubkey"
remote_auth = "psk"
psk_file = "/etc/ntm/rw.psk"
certificate = "/etc/ntm/rw.pem"
private_key = "/etc/ntm/rw.key"
remote_id = "email:alice@example.org"
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.3.0.0/24"]
start_action = "none"
child_rekey_time = 0

[[ike.connection]]
name = "trap"
remote_addrs = ["peer.example.org"]
remote_id = "%any"
local_auth = "psk"
remote_auth = "pubkey"
psk_file = "/etc/ntm/trap.psk"
local_ts = ["fd00:1::/64"]
remote_ts = ["fd00:2::/64"]
start_action = "trap"
child_life_time = 0
)");
	EXPECT_TRUE(c.role_ike);
	EXPECT_FALSE(c.role_node || c.role_dc || c.role_as);
	EXPECT_FALSE(c.node || c.dc || c.as);
	ASSERT_TRUE(c.ike);
	const Ike &k = *c.ike;
	EXPECT_EQ(k.interface, "ipsec1");
	EXPECT_EQ(k.port, 1500);
	EXPECT_EQ(k.natt_port, 14500);
	EXPECT_EQ(k.ca, "/etc/ntm/ike-ca.pem");
	EXPECT_EQ(k.certificate, "/etc/ntm/ike.pem");
	EXPECT_EQ(k.private_key, "/etc/ntm/ike.key");
	EXPECT_EQ(k.cookie_threshold, 10U);
	EXPECT_EQ(k.half_open_max, 100U);
	EXPECT_EQ(k.half_open_per_source, 7U);
	EXPECT_EQ(k.retransmit_timeout, std::chrono::milliseconds(500));
	EXPECT_DOUBLE_EQ(k.retransmit_base, 2.5);
	EXPECT_EQ(k.retransmit_tries, 3U);
	EXPECT_EQ(k.nat_keepalive, std::chrono::seconds(0));
	ASSERT_EQ(k.connections.size(), 3U);

	const IkeConnection &a = k.connections[0];
	EXPECT_EQ(a.name, "site-a");
	/* literal addresses in canonical form, names lower case without the dot */
	EXPECT_EQ(a.remote_addrs, (std::vector<std::string>{"192.0.2.1", "gw.example.org", "2001:db8::1"}));
	EXPECT_EQ(a.remote_port, 4501);
	ASSERT_TRUE(a.local_id);
	EXPECT_EQ(a.local_id->type, 9);
	EXPECT_EQ(a.local_id->data, openssl_dn({{"C", "JP"}, {"O", "ntm"}, {"CN", "moon"}}));
	EXPECT_EQ(a.local_id->text, "dn:C=JP, O=ntm, CN=moon");
	ASSERT_TRUE(a.remote_id);
	EXPECT_EQ(a.remote_id->type, 2);
	EXPECT_EQ(a.local_auth, IkeAuth::pubkey);
	EXPECT_EQ(a.remote_auth, IkeAuth::pubkey);
	EXPECT_EQ(a.psk_file, "");
	EXPECT_EQ(a.certificate, "/etc/ntm/ike.pem"); /* from [ike] */
	EXPECT_EQ(a.private_key, "/etc/ntm/ike.key");
	EXPECT_EQ(a.proposals, (std::vector<IkeProposal>{proposal(20, 128, 6, {31, 19}, {}),
							 proposal(28, std::nullopt, 5, {19}, {})}));
	EXPECT_EQ(a.esp_proposals, (std::vector<IkeProposal>{proposal(20, 256, 5, {19}, {1, 0})}));
	EXPECT_EQ(a.local_ts, (std::vector<ntm::sig::Prefix>{prefix("10.1.0.0/16"), prefix("fd00:1::/64")}));
	EXPECT_EQ(a.remote_ts, (std::vector<ntm::sig::Prefix>{prefix("0.0.0.0/0")}));
	EXPECT_EQ(a.start_action, IkeStart::start);
	EXPECT_FALSE(a.mobike);
	EXPECT_FALSE(a.install_routes);
	EXPECT_EQ(a.dpd_delay, std::chrono::seconds(0));
	EXPECT_EQ(a.rekey_time, std::chrono::seconds(0));
	EXPECT_EQ(a.child_rekey_time, std::chrono::seconds(600));
	EXPECT_EQ(a.child_life_time, std::chrono::seconds(700));
	EXPECT_EQ(a.child_rekey_bytes, 1000000000U);
	EXPECT_EQ(a.child_rekey_packets, 1000000U);

	const IkeConnection &b = k.connections[1];
	EXPECT_EQ(b.name, "road_warrior.2");
	EXPECT_TRUE(b.remote_addrs.empty()); /* %any */
	EXPECT_EQ(b.local_auth, IkeAuth::pubkey);
	EXPECT_EQ(b.remote_auth, IkeAuth::psk);
	EXPECT_EQ(b.psk_file, "/etc/ntm/rw.psk");
	EXPECT_EQ(b.certificate, "/etc/ntm/rw.pem");
	EXPECT_EQ(b.private_key, "/etc/ntm/rw.key");
	EXPECT_FALSE(b.local_id);
	ASSERT_TRUE(b.remote_id);
	EXPECT_EQ(b.remote_id->type, 3);
	EXPECT_EQ(b.remote_id->data, (std::vector<std::uint8_t>{'a', 'l', 'i', 'c', 'e', '@', 'e', 'x', 'a', 'm', 'p',
								'l', 'e', '.', 'o', 'r', 'g'}));
	EXPECT_EQ(b.start_action, IkeStart::none);
	EXPECT_EQ(b.child_rekey_time, std::chrono::seconds(0));
	EXPECT_EQ(b.child_life_time, std::chrono::seconds(0)); /* 0 * 11 / 10 */

	const IkeConnection &t = k.connections[2];
	EXPECT_EQ(t.local_auth, IkeAuth::psk);
	EXPECT_EQ(t.remote_auth, IkeAuth::pubkey);
	EXPECT_EQ(t.certificate, ""); /* psk locally: no certificate */
	EXPECT_FALSE(t.remote_id);
	EXPECT_TRUE(t.remote_id_any);
	EXPECT_FALSE(a.remote_id_any);
	EXPECT_EQ(t.start_action, IkeStart::trap);
	EXPECT_EQ(t.child_rekey_time, std::chrono::seconds(3600));
	EXPECT_EQ(t.child_life_time, std::chrono::seconds(0)); /* explicitly none */
}

TEST(ConfigIke, Defaults)
{
	/* no [tls]: the ike role does not use it */
	const Config c = parse_text(kIke);
	EXPECT_TRUE(c.role_ike);
	EXPECT_EQ(c.tls.ca, "");
	EXPECT_EQ(c.dns_servers,
		  (std::vector<Endpoint>{ep("192.0.2.53", 53), ep("127.0.0.77", 53), ep("2001:db8::53", 53)}));
	ASSERT_TRUE(c.ike);
	const Ike &k = *c.ike;
	EXPECT_EQ(k.interface, "ipsec0");
	EXPECT_EQ(k.port, 500);
	EXPECT_EQ(k.natt_port, 4500);
	EXPECT_EQ(k.ca, "");
	EXPECT_EQ(k.certificate, "");
	EXPECT_EQ(k.private_key, "");
	EXPECT_EQ(k.cookie_threshold, 32U);
	EXPECT_EQ(k.half_open_max, 4096U);
	EXPECT_EQ(k.half_open_per_source, 16U);
	EXPECT_EQ(k.retransmit_timeout, std::chrono::milliseconds(1000));
	EXPECT_DOUBLE_EQ(k.retransmit_base, 1.8);
	EXPECT_EQ(k.retransmit_tries, 5U);
	EXPECT_EQ(k.nat_keepalive, std::chrono::seconds(20));
	ASSERT_EQ(k.connections.size(), 1U);
	const IkeConnection &a = k.connections[0];
	EXPECT_EQ(a.name, "gw");
	EXPECT_TRUE(a.remote_addrs.empty());
	EXPECT_EQ(a.remote_port, 500);
	EXPECT_FALSE(a.local_id);
	EXPECT_FALSE(a.remote_id);
	EXPECT_EQ(a.local_auth, IkeAuth::psk);
	EXPECT_EQ(a.remote_auth, IkeAuth::psk);
	EXPECT_EQ(a.psk_file, "/etc/ntm/gw.psk");
	EXPECT_EQ(a.certificate, "");
	EXPECT_EQ(a.private_key, "");
	EXPECT_EQ(a.proposals, (std::vector<IkeProposal>{proposal(20, 256, 5, {19}, {}),
							 proposal(28, std::nullopt, 5, {31}, {})}));
	/* without and with PFS (D64): X25519 (31) and ECP-256 (19) */
	EXPECT_EQ(a.esp_proposals, (std::vector<IkeProposal>{proposal(20, 256, 5, {}, {0}),
							     proposal(28, std::nullopt, 5, {}, {0}),
							     proposal(20, 256, 5, {31, 19}, {0}),
							     proposal(28, std::nullopt, 5, {31, 19}, {0})}));
	EXPECT_EQ(a.local_ts, (std::vector<ntm::sig::Prefix>{prefix("10.1.0.0/16")}));
	EXPECT_EQ(a.remote_ts, (std::vector<ntm::sig::Prefix>{prefix("10.2.0.0/16")}));
	EXPECT_EQ(a.start_action, IkeStart::none);
	EXPECT_TRUE(a.mobike);
	EXPECT_TRUE(a.install_routes);
	EXPECT_EQ(a.dpd_delay, std::chrono::seconds(30));
	EXPECT_EQ(a.rekey_time, std::chrono::seconds(14400));
	EXPECT_EQ(a.child_rekey_time, std::chrono::seconds(3600));
	EXPECT_EQ(a.child_life_time, std::chrono::seconds(3960));
	EXPECT_EQ(a.child_rekey_bytes, 0U);
	EXPECT_EQ(a.child_rekey_packets, 0U);

	EXPECT_EQ(parse_text(with(kIke, "child_rekey_time = 100")).ike->connections[0].child_life_time,
		  std::chrono::seconds(110));
	EXPECT_EQ(parse_text(in_ike("port = 4501")).ike->port, 4501); /* natt_port stays 4500 */
	EXPECT_DOUBLE_EQ(parse_text(in_ike("retransmit_base = 2")).ike->retransmit_base, 2.0);
	EXPECT_EQ(parse_text(in_ike("cookie_threshold = 0")).ike->cookie_threshold, 0U);
	EXPECT_TRUE(parse_text(with(kIke, "remote_addrs = []")).ike->connections[0].remote_addrs.empty());
	/* [ike] may be left implicit */
	EXPECT_TRUE(parse_text(std::string(kIke).erase(kIke.find("[ike]\n"), 6)).ike);
	/* mixed families in the selectors are fine */
	EXPECT_EQ(parse_text(with(without("remote_ts"), R"(remote_ts = ["fd00:2::/64", "10.2.0.0/16"])"))
			  .ike->connections[0]
			  .remote_ts.size(),
		  2U);
}

TEST(ConfigIke, CertificateAuthNeedsARemoteId)
{
	/* without remote_id any identity certified by ike.ca would be accepted (D78) */
	const std::string base = "roles = [\"ike\"]\n[ike]\nca = \"/etc/ntm/ca.pem\"\n"
				 "certificate = \"/etc/ntm/c.pem\"\nprivate_key = \"/etc/ntm/c.key\"\n"
				 "[[ike.connection]]\nname = \"x\"\nauth = \"pubkey\"\n"
				 "local_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n";
	EXPECT_EQ(error_of(base), "t.toml:6: ike.connection[0].remote_id: required key is missing (needed by "
				  "auth = \"pubkey\": the identity the peer's certificate must prove, or \"%any\" for "
				  "any that ike.ca certifies)");
	const Config any = parse_text(base + "remote_id = \"%any\"\n");
	ASSERT_TRUE(any.ike);
	EXPECT_TRUE(any.ike->connections[0].remote_id_any);
	EXPECT_FALSE(any.ike->connections[0].remote_id);
	const Config named = parse_text(base + "remote_id = \"gw.example.org\"\n");
	ASSERT_TRUE(named.ike);
	EXPECT_FALSE(named.ike->connections[0].remote_id_any);
	EXPECT_TRUE(named.ike->connections[0].remote_id);
	/* with psk the key is the identity: "%any" is refused as meaningless */
	EXPECT_EQ(error_of("roles = [\"ike\"]\n[ike]\n[[ike.connection]]\nname = \"x\"\npsk_file = \"/p\"\n"
			   "remote_id = \"%any\"\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n"),
		  "t.toml:6: ike.connection[0].remote_id: \"%any\" is only used with remote_auth = \"pubkey\"; leave "
		  "remote_id out instead");
}

TEST(ConfigIke, WithOtherRoles)
{
	std::string text = with(kNode, "[ike]\n[[ike.connection]]\nname = \"x\"\nauth = \"pubkey\"\n"
				       "remote_id = \"peer.example.org\"\nlocal_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]");
	text.replace(0, text.find('\n'), R"(roles = ["ike", "node"])");
	/* [tls] is the node's; [ike] has its own ca and certificate */
	EXPECT_EQ(error_of(text), "t.toml:9: ike.connection[0].certificate: required key is missing (needed by "
				  "auth = \"pubkey\"; or set ike.certificate and ike.private_key)");
	text.insert(text.find("[ike]\n") + 6, "certificate = \"/etc/ntm/c.pem\"\nprivate_key = \"/etc/ntm/c.key\"\n");
	EXPECT_EQ(error_of(text), "t.toml:8: ike.ca: required key is missing (needed by "
				  "ike.connection[0].auth = \"pubkey\")");
	text.insert(text.find("[ike]\n") + 6, "ca = \"/etc/ntm/ca.pem\"\n");
	const Config c = parse_text(text);
	EXPECT_TRUE(c.role_ike && c.role_node);
	ASSERT_TRUE(c.ike && c.node);
	EXPECT_EQ(c.ike->connections[0].certificate, "/etc/ntm/c.pem");
	EXPECT_EQ(c.ike->connections[0].private_key, "/etc/ntm/c.key");
	EXPECT_EQ(c.tls.certificate, "");
}

TEST(ConfigIke, RolesAndTables)
{
	EXPECT_EQ(error_of("roles = [\"ike\"]\n"), "t.toml:1: ike: roles includes \"ike\" but there is no [ike] table");
	EXPECT_EQ(error_of(with(kNode, "[ike]")), "t.toml:8: ike: [ike] given but roles does not include \"ike\"");
	EXPECT_EQ(error_of("roles = [\"ike\", \"ike\"]\n"), "t.toml:1: roles: duplicate role ike");
	EXPECT_EQ(error_of("roles = [\"ike\"]\n[ike]\nport = 501\n"),
		  "t.toml:2: ike.connection: required key is missing (at least one [[ike.connection]])");
	EXPECT_EQ(error_of("roles = [\"ike\"]\n[ike]\nconnection = []\n"), "t.toml:3: ike.connection: must not be empty");
	EXPECT_EQ(error_of("roles = [\"ike\"]\n[ike]\nconnection = [\n1]\n"),
		  "t.toml:4: ike.connection[0]: expected a table, got an integer");
	EXPECT_EQ(error_of("roles = [\"ike\"]\n\n[ike.connection]\nname = \"x\"\n"),
		  "t.toml:3: ike.connection: expected an array of tables ([[ike.connection]]), got a table");
	EXPECT_EQ(error_of("roles = [\"ike\"]\nike = 1\n"), "t.toml:2: ike: expected a table, got an integer");
	/* inline tables work as well */
	const Config c = parse_text("roles = [\"ike\"]\nike = { connection = [{ name = \"a\", psk_file = \"/p\", "
				    "local_ts = [\"10.0.0.0/8\"], remote_ts = [\"::/0\"] }] }\n");
	ASSERT_TRUE(c.ike);
	EXPECT_EQ(c.ike->connections.at(0).name, "a");
}

TEST(ConfigIke, UnknownKeysAndTypes)
{
	EXPECT_EQ(error_of(with(kIke, "nam = \"x\"")), "t.toml:8: ike.connection[0].nam: unknown key (did you mean name?)");
	EXPECT_EQ(error_of(with(kIke, "esp_proposal = []")),
		  "t.toml:8: ike.connection[0].esp_proposal: unknown key (did you mean esp_proposals?)");
	EXPECT_EQ(error_of(in_ike("natport = 1")), "t.toml:3: ike.natport: unknown key (did you mean natt_port?)");
	EXPECT_EQ(error_of(in_ike("left = 1")), "t.toml:3: ike.left: unknown key");
	EXPECT_EQ(error_of(with(kIke, "mobike = \"yes\"")),
		  "t.toml:8: ike.connection[0].mobike: expected a boolean, got a string");
	EXPECT_EQ(error_of(with(kIke, "install_routes = 1")),
		  "t.toml:8: ike.connection[0].install_routes: expected a boolean, got an integer");
	EXPECT_EQ(error_of(with(kIke, "remote_addrs = \"192.0.2.1\"")),
		  "t.toml:8: ike.connection[0].remote_addrs: expected an array, got a string");
	EXPECT_EQ(error_of(in_ike("retransmit_base = \"2\"")),
		  "t.toml:3: ike.retransmit_base: expected a float, got a string");
	EXPECT_EQ(error_of(in_ike("retransmit_timeout = 1.5")),
		  "t.toml:3: ike.retransmit_timeout: expected an integer, got a float");
	EXPECT_EQ(error_of(with(kIke, "dpd_delay = \"30s\"")),
		  "t.toml:8: ike.connection[0].dpd_delay: expected an integer, got a string");
}

TEST(ConfigIke, IkeRanges)
{
	EXPECT_EQ(error_of(in_ike("interface = \"ipsec/0\"")),
		  "t.toml:3: ike.interface: \"ipsec/0\": expected 1..15 characters without '/', ':' or blanks");
	EXPECT_EQ(error_of(in_ike("port = 0")), "t.toml:3: ike.port: must be 1..65535, got 0");
	EXPECT_EQ(error_of(in_ike("natt_port = 65536")), "t.toml:3: ike.natt_port: must be 1..65535, got 65536");
	EXPECT_EQ(error_of(in_ike("natt_port = 500")), "t.toml:3: ike.natt_port: must differ from port (500)");
	EXPECT_EQ(error_of(in_ike("port = 4500")), "t.toml:3: ike.port: must differ from natt_port (4500)");
	EXPECT_EQ(error_of(in_ike("half_open_max = 0")), "t.toml:3: ike.half_open_max: must be 1..1048576, got 0");
	EXPECT_EQ(error_of(in_ike("half_open_per_source = 0")),
		  "t.toml:3: ike.half_open_per_source: must be 1..1048576, got 0");
	EXPECT_EQ(error_of(in_ike("cookie_threshold = -1")), "t.toml:3: ike.cookie_threshold: must be 0..1048576, got -1");
	EXPECT_EQ(error_of(in_ike("half_open_max = 10\ncookie_threshold = 11")),
		  "t.toml:4: ike.cookie_threshold: must not exceed half_open_max (10), got 11");
	EXPECT_EQ(error_of(in_ike("half_open_max = 10")),
		  "t.toml:3: ike.half_open_max: must be at least cookie_threshold (32), got 10");
	EXPECT_EQ(error_of(in_ike("retransmit_timeout = 99")),
		  "t.toml:3: ike.retransmit_timeout: must be 100..60000, got 99");
	EXPECT_EQ(error_of(in_ike("retransmit_timeout = 60001")),
		  "t.toml:3: ike.retransmit_timeout: must be 100..60000, got 60001");
	EXPECT_EQ(error_of(in_ike("retransmit_base = 4.5")), "t.toml:3: ike.retransmit_base: must be 1.0..4.0, got 4.5");
	EXPECT_EQ(error_of(in_ike("retransmit_base = 0.99")),
		  "t.toml:3: ike.retransmit_base: must be 1.0..4.0, got 0.99");
	EXPECT_EQ(error_of(in_ike("retransmit_base = 5")), "t.toml:3: ike.retransmit_base: must be 1.0..4.0, got 5");
	EXPECT_EQ(error_of(in_ike("retransmit_base = nan")), "t.toml:3: ike.retransmit_base: must be 1.0..4.0, got nan");
	EXPECT_EQ(error_of(in_ike("retransmit_base = inf")), "t.toml:3: ike.retransmit_base: must be 1.0..4.0, got inf");
	EXPECT_EQ(parse_text(in_ike("retransmit_base = 1.0")).ike->retransmit_base, 1.0);
	EXPECT_EQ(parse_text(in_ike("retransmit_base = 4.0")).ike->retransmit_base, 4.0);
	EXPECT_EQ(error_of(in_ike("retransmit_tries = 0")), "t.toml:3: ike.retransmit_tries: must be 1..20, got 0");
	EXPECT_EQ(error_of(in_ike("retransmit_tries = 21")), "t.toml:3: ike.retransmit_tries: must be 1..20, got 21");
	EXPECT_EQ(error_of(in_ike("nat_keepalive = 4")), "t.toml:3: ike.nat_keepalive: must be 0 (off) or 5..3600, got 4");
	EXPECT_EQ(error_of(in_ike("nat_keepalive = 3601")), "t.toml:3: ike.nat_keepalive: must be 0..3600, got 3601");
	EXPECT_EQ(parse_text(in_ike("nat_keepalive = 5")).ike->nat_keepalive, std::chrono::seconds(5));
	EXPECT_EQ(error_of(in_ike("ca = \"ca.pem\"")), "t.toml:3: ike.ca: expected an absolute path, got \"ca.pem\"");
	EXPECT_EQ(error_of(in_ike("certificate = \"/c.pem\"")),
		  "t.toml:2: ike.private_key: required key is missing (certificate and private_key go together)");
	EXPECT_EQ(error_of(in_ike("private_key = \"/c.key\"")),
		  "t.toml:2: ike.certificate: required key is missing (certificate and private_key go together)");
}

TEST(ConfigIke, ConnectionValues)
{
	EXPECT_EQ(error_of(without("name")), "t.toml:3: ike.connection[0].name: required key is missing");
	EXPECT_EQ(error_of(std::string(kIke).replace(kIke.find("\"gw\""), 4, "\"g w\"")),
		  "t.toml:4: ike.connection[0].name: \"g w\": expected 1..32 letters, digits, '_', '.' or '-'");
	EXPECT_EQ(error_of(std::string(kIke).replace(kIke.find("\"gw\""), 4, "\"\"")),
		  "t.toml:4: ike.connection[0].name: \"\": expected 1..32 letters, digits, '_', '.' or '-'");
	EXPECT_EQ(error_of(std::string(kIke).replace(kIke.find("\"gw\""), 4, "\"" + std::string(33, 'a') + "\""))
			  .substr(0, 33),
		  "t.toml:4: ike.connection[0].name:");
	EXPECT_TRUE(parse_text(std::string(kIke).replace(kIke.find("\"gw\""), 4, "\"" + std::string(32, 'a') + "\"")).ike);
	EXPECT_EQ(error_of(with(kIke, "[[ike.connection]]\nname = \"gw\"\npsk_file = \"/p\"\nlocal_ts = [\"::/0\"]\n"
				      "remote_ts = [\"::/0\"]")),
		  "t.toml:9: ike.connection[1].name: duplicate connection name \"gw\"");
	EXPECT_EQ(error_of(with(kIke, "[[ike.connection]]\nname = \"gw2\"\npsk_file = \"/p\"\nlocal_ts = [\"::/0\"]")),
		  "t.toml:8: ike.connection[1].remote_ts: required key is missing (at least one prefix)");

	const auto conn = [](std::string_view line) { return error_of(with(kIke, line)); };
	EXPECT_EQ(conn(R"(remote_addrs = ["%any", "192.0.2.1"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"%any\" cannot be combined with addresses");
	EXPECT_EQ(conn(R"(remote_addrs = ["0.0.0.0"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"0.0.0.0\": the unspecified address is not allowed here; "
		  "write \"%any\" for any peer");
	EXPECT_EQ(conn(R"(remote_addrs = ["ff02::1"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"ff02::1\": a multicast address is not allowed here");
	EXPECT_EQ(conn(R"(remote_addrs = ["gw_1.example"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"gw_1.example\": expected an IP address, a DNS name or "
		  "\"%any\"");
	EXPECT_EQ(conn(R"(remote_addrs = ["fe80::1%eth0"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"fe80::1%eth0\": expected an IP address, a DNS name or "
		  "\"%any\"");
	EXPECT_EQ(conn(R"(remote_addrs = ["192.0.2.0/24"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: \"192.0.2.0/24\": expected an IP address, a DNS name or "
		  "\"%any\"");
	EXPECT_EQ(conn("remote_addrs = [\n\"a.test\",\n\"A.test.\"]"),
		  "t.toml:10: ike.connection[0].remote_addrs: duplicate address \"a.test\"");
	EXPECT_EQ(conn(R"(remote_addrs = ["2001:db8::1", "2001:DB8:0::1"])"),
		  "t.toml:8: ike.connection[0].remote_addrs: duplicate address \"2001:db8::1\"");
	EXPECT_EQ(conn("remote_port = 0"), "t.toml:8: ike.connection[0].remote_port: must be 1..65535, got 0");
	EXPECT_EQ(conn(R"(local_id = "dn:X=1")"),
		  "t.toml:8: ike.connection[0].local_id: \"dn:X=1\": unknown attribute \"X\" in the dn; expected one "
		  "of CN, O, OU, C, L, ST, emailAddress, DC");
	EXPECT_EQ(conn(R"(remote_id = "a b")"),
		  "t.toml:8: ike.connection[0].remote_id: \"a b\": expected an IP address, a DNS name, an email address "
		  "or one of fqdn:, email:, ipv4:, ipv6:, dn:, keyid:");
	EXPECT_EQ(conn("remote_id = 1"), "t.toml:8: ike.connection[0].remote_id: expected a string, got an integer");
	EXPECT_EQ(conn(R"(auth = "eap")"), "t.toml:8: ike.connection[0].auth: expected one of psk, pubkey, got \"eap\"");
	EXPECT_EQ(conn(R"(local_auth = "PSK")"),
		  "t.toml:8: ike.connection[0].local_auth: expected one of psk, pubkey, got \"PSK\"");
	EXPECT_EQ(conn("auth = \"psk\"\nremote_auth = \"psk\""),
		  "t.toml:9: ike.connection[0].remote_auth: cannot be combined with auth (auth sets local_auth and "
		  "remote_auth)");
	EXPECT_EQ(conn(R"(start_action = "auto")"),
		  "t.toml:8: ike.connection[0].start_action: expected one of none, start, trap, got \"auto\"");
	EXPECT_EQ(conn(R"(start_action = "start")"),
		  "t.toml:8: ike.connection[0].start_action: \"start\" needs remote_addrs (the peer's address or DNS "
		  "name)");
	EXPECT_EQ(conn("remote_addrs = [\"%any\"]\nstart_action = \"trap\""),
		  "t.toml:9: ike.connection[0].start_action: \"trap\" needs remote_addrs (the peer's address or DNS "
		  "name)");
	EXPECT_EQ(parse_text(with(kIke, "remote_addrs = [\"gw.test\"]\nstart_action = \"start\""))
			  .ike->connections[0]
			  .start_action,
		  IkeStart::start);
}

TEST(ConfigIke, Authentication)
{
	EXPECT_EQ(error_of(without("psk_file")),
		  "t.toml:3: ike.connection[0].psk_file: required key is missing (needed by local_auth = \"psk\", the "
		  "default)");
	EXPECT_EQ(error_of(with(without("psk_file"), "auth = \"psk\"")),
		  "t.toml:3: ike.connection[0].psk_file: required key is missing (needed by auth = \"psk\")");
	EXPECT_EQ(error_of(with(without("psk_file"), "local_auth = \"pubkey\"")),
		  "t.toml:3: ike.connection[0].psk_file: required key is missing (needed by remote_auth = \"psk\", the "
		  "default)");
	EXPECT_EQ(error_of(with(without("psk_file"), "remote_auth = \"psk\"\nlocal_auth = \"pubkey\"")),
		  "t.toml:3: ike.connection[0].psk_file: required key is missing (needed by remote_auth = \"psk\")");
	EXPECT_EQ(error_of(with(kIke, "psk_file2 = 1")).substr(0, 40), "t.toml:8: ike.connection[0].psk_file2: u");
	EXPECT_EQ(error_of(std::string(kIke).replace(kIke.find("/etc/ntm/gw.psk"), 15, "gw.psk")),
		  "t.toml:5: ike.connection[0].psk_file: expected an absolute path, got \"gw.psk\"");
	const std::string pubkey = in_ike("ca = \"/ca.pem\"\ncertificate = \"/c.pem\"\nprivate_key = \"/c.key\"");
	EXPECT_EQ(error_of(with(pubkey, "auth = \"pubkey\"")),
		  "t.toml:8: ike.connection[0].psk_file: only used with psk authentication (local_auth or "
		  "remote_auth = \"psk\")");
	const Config ok = parse_text(
		with(std::string(pubkey).erase(pubkey.find("psk_file"), 29), "auth = \"pubkey\"\nremote_id = \"%any\""));
	EXPECT_EQ(ok.ike->connections[0].psk_file, "");
	EXPECT_EQ(ok.ike->connections[0].certificate, "/c.pem");

	EXPECT_EQ(error_of(with(kIke, "local_auth = \"pubkey\"")),
		  "t.toml:3: ike.connection[0].certificate: required key is missing (needed by local_auth = "
		  "\"pubkey\"; or set ike.certificate and ike.private_key)");
	EXPECT_EQ(error_of(with(kIke, "local_auth = \"pubkey\"\ncertificate = \"/x.pem\"")),
		  "t.toml:3: ike.connection[0].private_key: required key is missing (certificate and private_key go "
		  "together)");
	EXPECT_EQ(error_of(with(kIke, "private_key = \"/x.key\"")),
		  "t.toml:3: ike.connection[0].certificate: required key is missing (certificate and private_key go "
		  "together)");
	EXPECT_EQ(error_of(with(kIke, "certificate = \"/x.pem\"\nprivate_key = \"/x.key\"")),
		  "t.toml:8: ike.connection[0].certificate: only used with local_auth = \"pubkey\"");
	EXPECT_EQ(error_of(with(kIke, "remote_auth = \"pubkey\"")),
		  "t.toml:2: ike.ca: required key is missing (needed by ike.connection[0].remote_auth = \"pubkey\")");
	EXPECT_EQ(error_of("roles = [\"ike\"]\n[[ike.connection]]\nname = \"a\"\nauth = \"pubkey\"\ncertificate = "
			   "\"/c\"\nprivate_key = \"/k\"\nlocal_ts = [\"::/0\"]\nremote_ts = [\"::/0\"]\n"),
		  "t.toml:2: ike.ca: required key is missing (needed by ike.connection[0].auth = \"pubkey\")");
	/* a connection's own certificate wins over [ike]'s */
	const Config own = parse_text(with(pubkey, "local_auth = \"pubkey\"\ncertificate = \"/o.pem\"\n"
						   "private_key = \"/o.key\""));
	EXPECT_EQ(own.ike->connections[0].certificate, "/o.pem");
	EXPECT_EQ(own.ike->connections[0].private_key, "/o.key");
	EXPECT_EQ(own.ike->connections[0].remote_auth, IkeAuth::psk);
}

TEST(ConfigIke, ProposalsAndSelectors)
{
	const auto conn = [](std::string_view line) { return error_of(with(kIke, line)); };
	EXPECT_EQ(conn("proposals = []"), "t.toml:8: ike.connection[0].proposals: must not be empty");
	EXPECT_EQ(conn("esp_proposals = []"), "t.toml:8: ike.connection[0].esp_proposals: must not be empty");
	EXPECT_EQ(conn(R"(proposals = ["aes256gcm16"])"),
		  "t.toml:8: ike.connection[0].proposals: \"aes256gcm16\": no DH group; an IKE proposal needs one of "
		  "ecp256, x25519, curve25519");
	EXPECT_EQ(conn(R"(proposals = ["aes256gcm16-ecp256", "aes256gcm16-prfsha256-ecp256"])"),
		  "t.toml:8: ike.connection[0].proposals: duplicate proposal \"aes256gcm16-prfsha256-ecp256\"");
	EXPECT_EQ(conn(R"(esp_proposals = ["aes256gcm16-prfsha256"])"),
		  "t.toml:8: ike.connection[0].esp_proposals: \"aes256gcm16-prfsha256\": \"prfsha256\": a PRF belongs "
		  "in IKE proposals, not ESP");
	EXPECT_EQ(conn(R"(esp_proposals = ["aes256gcm16-sha256"])"),
		  "t.toml:8: ike.connection[0].esp_proposals: \"aes256gcm16-sha256\": unknown algorithm \"sha256\"; "
		  "expected aes128gcm16, aes192gcm16, aes256gcm16, aes128gcm, aes192gcm, aes256gcm, chacha20poly1305, "
		  "ecp256, x25519, curve25519, esn, noesn");
	EXPECT_EQ(conn("proposals = [1]"),
		  "t.toml:8: ike.connection[0].proposals: expected an array of strings, found an integer in it");

	EXPECT_EQ(error_of(without("local_ts")),
		  "t.toml:3: ike.connection[0].local_ts: required key is missing (at least one prefix)");
	EXPECT_EQ(error_of(with(without("remote_ts"), "remote_ts = []")),
		  "t.toml:7: ike.connection[0].remote_ts: must not be empty");
	EXPECT_EQ(error_of(with(without("remote_ts"), R"(remote_ts = ["10.2.0.1/16"])")),
		  "t.toml:7: ike.connection[0].remote_ts: \"10.2.0.1/16\": host bits are set (the network is "
		  "10.2.0.0/16)");
	EXPECT_EQ(error_of(with(without("remote_ts"), R"(remote_ts = ["10.2.0.1"])")),
		  "t.toml:7: ike.connection[0].remote_ts: \"10.2.0.1\": expected ADDRESS/LENGTH, like 10.77.0.0/16");
	EXPECT_EQ(error_of(with(without("local_ts"), "local_ts = [\"fd00::/8\",\n\"FD00::/8\"]")),
		  "t.toml:8: ike.connection[0].local_ts: duplicate prefix fd00::/8");
	std::string nine = "local_ts = [";
	for (int i = 0; i < 9; i++)
		nine += (i != 0 ? ", \"10." : "\"10.") + std::to_string(i) + ".0.0/16\"";
	EXPECT_EQ(error_of(with(without("local_ts"), nine + "]")),
		  "t.toml:7: ike.connection[0].local_ts: at most 8 prefixes, got 9");
	nine.erase(nine.rfind(", "));
	EXPECT_EQ(parse_text(with(without("local_ts"), nine + "]")).ike->connections[0].local_ts.size(), 8U);
}

TEST(ConfigIke, Lifetimes)
{
	const auto conn = [](std::string_view line) { return error_of(with(kIke, line)); };
	EXPECT_EQ(conn("dpd_delay = -1"), "t.toml:8: ike.connection[0].dpd_delay: must be 0..86400, got -1");
	EXPECT_EQ(conn("dpd_delay = 86401"), "t.toml:8: ike.connection[0].dpd_delay: must be 0..86400, got 86401");
	EXPECT_EQ(conn("rekey_time = 9"), "t.toml:8: ike.connection[0].rekey_time: must be 0 (never) or 10..31536000, got 9");
	EXPECT_EQ(conn("rekey_time = 31536001"),
		  "t.toml:8: ike.connection[0].rekey_time: must be 0..31536000, got 31536001");
	EXPECT_EQ(conn("child_rekey_time = 1"),
		  "t.toml:8: ike.connection[0].child_rekey_time: must be 0 (never) or 10..31536000, got 1");
	EXPECT_EQ(conn("child_life_time = 5"),
		  "t.toml:8: ike.connection[0].child_life_time: must be 0 (none) or 10..63072000, got 5");
	EXPECT_EQ(conn("child_rekey_time = 600\nchild_life_time = 600"),
		  "t.toml:9: ike.connection[0].child_life_time: must be greater than child_rekey_time (600), got 600");
	EXPECT_EQ(conn("child_life_time = 3000"),
		  "t.toml:8: ike.connection[0].child_life_time: must be greater than child_rekey_time (3600), got 3000");
	EXPECT_EQ(parse_text(with(kIke, "child_rekey_time = 0\nchild_life_time = 60")).ike->connections[0].child_life_time,
		  std::chrono::seconds(60));
	EXPECT_EQ(conn("child_rekey_bytes = -1"),
		  "t.toml:8: ike.connection[0].child_rekey_bytes: must be 0..9223372036854775807, got -1");
	EXPECT_EQ(conn("child_rekey_packets = -5"),
		  "t.toml:8: ike.connection[0].child_rekey_packets: must be 0..9223372036854775807, got -5");
	EXPECT_EQ(parse_text(with(kIke, "child_rekey_bytes = 9223372036854775807")).ike->connections[0].child_rekey_bytes,
		  9223372036854775807U);
}

TEST(ConfigIkeProposal, Parse)
{
	EXPECT_EQ(parse_ike_proposal("aes256gcm16-prfsha256-ecp256", true), proposal(20, 256, 5, {19}, {}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-prfsha384-x25519", true), proposal(20, 128, 6, {31}, {}));
	EXPECT_EQ(parse_ike_proposal("aes192gcm16-prfsha512-curve25519", true), proposal(20, 192, 7, {31}, {}));
	EXPECT_EQ(parse_ike_proposal("chacha20poly1305-ecp256", true), proposal(28, std::nullopt, 5, {19}, {}));
	/* the order of the tokens does not matter, DH groups keep theirs */
	EXPECT_EQ(parse_ike_proposal("x25519-ecp256-prfsha512-aes256gcm", true), proposal(20, 256, 7, {31, 19}, {}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm-ecp256", true), parse_ike_proposal("aes128gcm16-ecp256", true));
	EXPECT_EQ(parse_ike_proposal("aes256gcm-ecp256", true), parse_ike_proposal("aes256gcm16-ecp256", true));

	EXPECT_EQ(parse_ike_proposal("aes256gcm16", false), proposal(20, 256, 5, {}, {0}));
	EXPECT_EQ(parse_ike_proposal("chacha20poly1305", false), proposal(28, std::nullopt, 5, {}, {0}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-esn", false), proposal(20, 128, 5, {}, {1}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-noesn", false), proposal(20, 128, 5, {}, {0}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-esn-noesn", false), proposal(20, 128, 5, {}, {1, 0}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-noesn-esn", false), proposal(20, 128, 5, {}, {0, 1}));
	EXPECT_EQ(parse_ike_proposal("aes128gcm16-x25519", false), proposal(20, 128, 5, {31}, {0}));
}

TEST(ConfigIkeProposal, Errors)
{
	const auto ike = [](std::string_view s) { return invalid_of([&] { return parse_ike_proposal(s, true); }); };
	const auto esp = [](std::string_view s) { return invalid_of([&] { return parse_ike_proposal(s, false); }); };
	const std::string encr = "aes128gcm16, aes192gcm16, aes256gcm16, aes128gcm, aes192gcm, aes256gcm, chacha20poly1305";
	EXPECT_EQ(ike("aes256gcm16-prfsha256-modp2048"),
		  "unknown algorithm \"modp2048\"; expected " + encr +
			  ", prfsha256, prfsha384, prfsha512, ecp256, x25519, curve25519");
	EXPECT_EQ(esp("aes128gcm12"), "unknown algorithm \"aes128gcm12\"; expected " + encr +
					      ", ecp256, x25519, curve25519, esn, noesn");
	EXPECT_TRUE(ike("AES256GCM16-ecp256").starts_with("unknown algorithm \"AES256GCM16\"; expected aes128gcm16"));
	EXPECT_EQ(ike(""), "empty proposal; expected algorithms separated by '-', like aes256gcm16-prfsha256-ecp256");
	EXPECT_EQ(esp(""), "empty proposal; expected algorithms separated by '-', like aes256gcm16");
	EXPECT_EQ(ike("aes256gcm16--ecp256"), "empty algorithm name (a stray '-')");
	EXPECT_EQ(esp("aes256gcm16-"), "empty algorithm name (a stray '-')");
	EXPECT_EQ(ike("prfsha256-ecp256"), "no encryption algorithm; expected one of " + encr);
	EXPECT_EQ(esp("esn"), "no encryption algorithm; expected one of " + encr);
	EXPECT_EQ(ike("aes256gcm16-chacha20poly1305-ecp256"),
		  "more than one encryption algorithm (\"aes256gcm16\" and \"chacha20poly1305\"); write one proposal "
		  "each");
	EXPECT_EQ(ike("aes256gcm16-prfsha256-prfsha384-ecp256"), "more than one PRF (\"prfsha256\" and \"prfsha384\")");
	EXPECT_EQ(ike("aes256gcm16-prfsha256"), "no DH group; an IKE proposal needs one of ecp256, x25519, curve25519");
	EXPECT_EQ(ike("aes256gcm16-x25519-curve25519"), "DH group \"curve25519\" given twice");
	EXPECT_EQ(esp("aes256gcm16-ecp256-ecp256"), "DH group \"ecp256\" given twice");
	EXPECT_EQ(ike("aes256gcm16-ecp256-esn"), "\"esn\": ESN belongs in ESP proposals, not IKE");
	EXPECT_EQ(esp("aes256gcm16-prfsha256"), "\"prfsha256\": a PRF belongs in IKE proposals, not ESP");
	EXPECT_EQ(esp("aes256gcm16-esn-esn"), "\"esn\" given twice");
	EXPECT_TRUE(esp(std::string("aes256gcm16-\x01", 13)).starts_with("unknown algorithm \"\\x01\"; expected "));
}

TEST(ConfigIkeId, Parse)
{
	const auto bytes = [](std::string_view s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
	IkeId id = parse_ike_id("fqdn:vpn.example.org");
	EXPECT_EQ(id.type, 2);
	EXPECT_EQ(id.data, bytes("vpn.example.org"));
	EXPECT_EQ(id.text, "fqdn:vpn.example.org");
	EXPECT_EQ(parse_ike_id("fqdn:Any_Thing").data, bytes("Any_Thing")); /* the prefix takes any text */
	id = parse_ike_id("email:alice@example.org");
	EXPECT_EQ(id.type, 3);
	EXPECT_EQ(id.data, bytes("alice@example.org"));
	id = parse_ike_id("ipv4:192.0.2.1");
	EXPECT_EQ(id.type, 1);
	EXPECT_EQ(id.data, (std::vector<std::uint8_t>{192, 0, 2, 1}));
	id = parse_ike_id("ipv6:2001:db8::1");
	EXPECT_EQ(id.type, 5);
	EXPECT_EQ(id.data,
		  (std::vector<std::uint8_t>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
	id = parse_ike_id("keyid:0123abCD");
	EXPECT_EQ(id.type, 11);
	EXPECT_EQ(id.data, (std::vector<std::uint8_t>{0x01, 0x23, 0xab, 0xcd}));
	EXPECT_EQ(parse_ike_id("keyid:#ff").data, (std::vector<std::uint8_t>{0xff}));

	/* without a prefix */
	id = parse_ike_id("192.0.2.1");
	EXPECT_EQ(id.type, 1);
	EXPECT_EQ(id.data, (std::vector<std::uint8_t>{192, 0, 2, 1}));
	EXPECT_EQ(id.text, "192.0.2.1");
	EXPECT_EQ(parse_ike_id("::1").type, 5);
	EXPECT_EQ(parse_ike_id("::1").data.size(), 16U);
	id = parse_ike_id("bob@example.org");
	EXPECT_EQ(id.type, 3);
	EXPECT_EQ(id.data, bytes("bob@example.org"));
	id = parse_ike_id("Moon.Example.org");
	EXPECT_EQ(id.type, 2);
	EXPECT_EQ(id.data, bytes("Moon.Example.org")); /* as written */
	EXPECT_EQ(parse_ike_id("moon").type, 2);
}

TEST(ConfigIkeId, Dn)
{
	/* DER of "/C=JP/O=bar/CN=foo" as `openssl req -subj` writes it into a certificate */
	const std::vector<std::uint8_t> req_der{0x30, 0x29, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06,
						0x13, 0x02, 0x4a, 0x50, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55,
						0x04, 0x0a, 0x0c, 0x03, 0x62, 0x61, 0x72, 0x31, 0x0c, 0x30, 0x0a,
						0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, 0x66, 0x6f, 0x6f};
	for (const char *s : {"dn:C=JP, O=bar, CN=foo", "dn:C=JP,O=bar,CN=foo", "dn:/C=JP/O=bar/CN=foo",
			      "dn:  c = JP ,o=bar/ cn=foo  "}) {
		const IkeId id = parse_ike_id(s);
		EXPECT_EQ(id.type, 9) << s;
		EXPECT_EQ(id.data, req_der) << s;
		EXPECT_EQ(id.text, s);
	}
	EXPECT_EQ(parse_ike_id("dn:C=JP, O=bar, CN=foo").data, openssl_dn({{"C", "JP"}, {"O", "bar"}, {"CN", "foo"}}));
	EXPECT_EQ(parse_ike_id("dn:CN=moon.example.org, OU=VPN, O=Example\\, Inc., L=Tokyo, ST=Tokyo, C=JP, "
			       "emailAddress=admin@example.org, DC=example, DC=org")
			  .data,
		  openssl_dn({{"CN", "moon.example.org"},
			      {"OU", "VPN"},
			      {"O", "Example, Inc."},
			      {"L", "Tokyo"},
			      {"ST", "Tokyo"},
			      {"C", "JP"},
			      {"emailAddress", "admin@example.org"},
			      {"DC", "example"},
			      {"DC", "org"}}));
	/* escapes: a separator, a backslash, a kept trailing blank */
	EXPECT_EQ(parse_ike_id("dn:CN=a\\/b\\\\c\\ ").data, openssl_dn({{"CN", "a/b\\c "}}));
	/* UTF-8 */
	EXPECT_EQ(parse_ike_id("dn:CN=\xe6\x9c\x88").data.size(), 16U);
	EXPECT_NE(parse_ike_id("dn:CN=a, O=b").data, parse_ike_id("dn:O=b, CN=a").data); /* order matters */
}

TEST(ConfigIkeId, Errors)
{
	const auto id = [](std::string_view s) { return invalid_of([&] { return parse_ike_id(s); }); };
	const std::string any = "expected an IP address, a DNS name, an email address or one of fqdn:, email:, ipv4:, "
				"ipv6:, dn:, keyid:";
	EXPECT_EQ(id(""), "empty identity");
	EXPECT_EQ(id(std::string(1025, 'a')), "longer than 1024 characters");
	EXPECT_EQ(id("fqdn:"), "empty fqdn");
	EXPECT_EQ(id("fqdn:a b"), "fqdn: blanks, control characters and non-ASCII bytes are not allowed");
	EXPECT_EQ(id("fqdn:" + std::string(256, 'a')), "fqdn longer than 255 bytes");
	EXPECT_EQ(id("email:"), "empty email");
	EXPECT_EQ(id("email:a\tb@c"), "email: blanks, control characters and non-ASCII bytes are not allowed");
	EXPECT_EQ(id("ipv4:2001:db8::1"), "expected ipv4:ADDRESS with an IPv4 address");
	EXPECT_EQ(id("ipv4:"), "expected ipv4:ADDRESS with an IPv4 address");
	EXPECT_EQ(id("ipv6:192.0.2.1"), "expected ipv6:ADDRESS with an IPv6 address");
	EXPECT_EQ(id("ipv6:fe80::1%eth0"), "expected ipv6:ADDRESS with an IPv6 address");
	EXPECT_EQ(id("keyid:"), "expected keyid:HEX with an even number of hex digits, 2..510");
	EXPECT_EQ(id("keyid:abc"), "expected keyid:HEX with an even number of hex digits, 2..510");
	EXPECT_EQ(id("keyid:zz"), "expected keyid:HEX with an even number of hex digits, 2..510");
	EXPECT_EQ(id("keyid:0x12"), "expected keyid:HEX with an even number of hex digits, 2..510");
	EXPECT_EQ(id("@moon.example.org"),
		  "strongSwan's '@' prefix is not supported; write fqdn:NAME or email:ADDRESS");
	EXPECT_EQ(id("a b@c"), "email: blanks, control characters and non-ASCII bytes are not allowed");
	EXPECT_EQ(id("C=JP, CN=x"), "a distinguished name needs the prefix dn:");
	EXPECT_EQ(id("host_name"), any);
	EXPECT_EQ(id("fe80::1%eth0"), any);
	EXPECT_EQ(id("1.2.3"), any);
	EXPECT_EQ(id("x509:CN=a"), "a distinguished name needs the prefix dn:");
	EXPECT_EQ(id("dn:"), "empty dn");
	EXPECT_EQ(id("dn:/"), "empty dn");
	EXPECT_EQ(id("dn:CN"), "expected KEY=VALUE in the dn, got \"CN\"");
	EXPECT_EQ(id("dn:CN=a,,O=b"), "expected KEY=VALUE in the dn, got \"\"");
	EXPECT_EQ(id("dn:CN=a, O"), "expected KEY=VALUE in the dn, got \" O\"");
	EXPECT_EQ(id("dn:CN="), "empty value of CN in the dn");
	EXPECT_EQ(id("dn:CN=  , O=x"), "empty value of CN in the dn");
	EXPECT_EQ(id("dn:E=a@b"),
		  "unknown attribute \"E\" in the dn; expected one of CN, O, OU, C, L, ST, emailAddress, DC");
	EXPECT_EQ(id("dn:CN=a\\"), "a '\\' at the end of the dn");
	EXPECT_EQ(id("dn:CN=a\nb"), "control characters are not allowed in the dn");
	EXPECT_EQ(id("dn:C=Japan"), "C=\"Japan\": not a valid value of this attribute (C is 2 letters, most others "
				    "at most 64 characters of UTF-8)");
	EXPECT_EQ(id("dn:CN=" + std::string(65, 'a')).substr(0, 8), "CN=\"aaaa");
	EXPECT_EQ(id("dn:CN=\xff"), "CN=\"\\xff\": not a valid value of this attribute (C is 2 letters, most others "
				    "at most 64 characters of UTF-8)");
	EXPECT_EQ(ERR_peek_error(), 0UL); /* nothing left in OpenSSL's error queue */
}

TEST(ConfigParse, ExampleFileIke)
{
	/* the commented [ike] block of the example, uncommented ("#" once per line) */
	std::ifstream in(example_path());
	std::string line, block = "roles = [\"ike\"]\n";
	bool on = false;
	while (std::getline(in, line)) {
		on = on || line == "#[ike]";
		if (on) {
			ASSERT_TRUE(line.empty() || line.starts_with('#')) << line;
			block += (line.empty() ? line : line.substr(1)) + "\n";
		}
	}
	ASSERT_TRUE(on) << "no #[ike] line in " << example_path();
	const Config c = parse(block, "example", kResolv);
	ASSERT_TRUE(c.ike);
	EXPECT_GE(c.ike->connections.size(), 2U);
}
