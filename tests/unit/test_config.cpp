// SPDX-License-Identifier: GPL-2.0
/* ntmd.toml: the schema, its defaults, its error messages, and the small parsers behind it. */
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

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
	EXPECT_TRUE(n.ntm_domains.empty());
	EXPECT_EQ(n.resolved, Node::Resolved::automatic);
	EXPECT_EQ(n.tunnel_lifetime, 0U);
}

TEST(ConfigDefaults, DnsUpstreamSkipsOwnListenAddresses)
{
	const Config c = parse_text(with(kNode, R"(dns_listen = ["192.0.2.53:53"])"));
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
	EXPECT_EQ(error_of(with(kNode, "keepalive = 1")), "t.toml:8: node.keepalive: unknown key");
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
		  "t.toml:1: roles: required key is missing (a list of node, dc, as)");
	EXPECT_EQ(error_of("\n\nroles = []\n"), "t.toml:3: roles: must name at least one of node, dc, as");
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
	EXPECT_EQ(error_of(R"(roles = ["node", "rs"])"), "t.toml:1: roles: \"rs\": expected node, dc or as");
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
