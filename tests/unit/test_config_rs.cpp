// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd.toml: the [rs] table (Relay Server role) and [dc] relays.
 */
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ntm/config.hpp"
#include "ntm/parse.hpp"

using ntm::config::Config;
using ntm::config::ConfigError;
using ntm::config::parse;

namespace {

Config parse_text(std::string_view text)
{
	return parse(text, "t.toml", "nameserver 192.0.2.53\n");
}

std::string error_of(std::string_view text)
{
	try {
		(void)parse_text(text);
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}

/* a minimal relay; lines appended land in [rs] from line 9 on */
constexpr std::string_view kRs = R"(roles = ["rs"]
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/rs.pem"
private_key = "/etc/ntm/rs.key"
[rs]
addresses = ["198.51.100.5", "2001:db8::5"]
trusted_dc = ["dc.ntm.test"]
)";

std::string with(std::string_view extra)
{
	return std::string(kRs) + std::string(extra) + "\n";
}

/* a minimal DC; lines appended land in [dc] from line 10 on */
constexpr std::string_view kDc = R"(roles = ["dc"]
[tls]
ca = "/etc/ntm/ca.pem"
certificate = "/etc/ntm/server.pem"
private_key = "/etc/ntm/server.key"
[dc]
domain = "ntm.test"
pool4 = "10.77.0.0/16"
trusted_as = ["as.ntm.test"]
)";

} // namespace

TEST(ConfigRs, Defaults)
{
	const auto c = parse_text(kRs);
	ASSERT_TRUE(c.role_rs);
	ASSERT_TRUE(c.rs);
	EXPECT_FALSE(c.role_dc || c.role_node || c.role_as || c.role_ike);
	const auto &r = *c.rs;
	EXPECT_EQ(r.interface, "ntmrs0");
	EXPECT_EQ(r.port, 7480);
	ASSERT_EQ(r.listen_tls.size(), 2U);
	EXPECT_EQ(r.listen_tls[0].to_string(), "0.0.0.0:7483");
	EXPECT_EQ(r.listen_tls[1].to_string(), "[::]:7483");
	ASSERT_EQ(r.addresses.size(), 2U);
	EXPECT_EQ(r.addresses[0].to_string(), "198.51.100.5");
	EXPECT_EQ(r.addresses[1].to_string(), "2001:db8::5");
	ASSERT_EQ(r.trusted_dc.size(), 1U);
	EXPECT_EQ(r.trusted_dc[0], "dc.ntm.test");
	EXPECT_EQ(r.max_sessions, 131072U);
	EXPECT_EQ(r.session_idle.count(), 120);
	EXPECT_EQ(r.session_bytes, 0U);
}

TEST(ConfigRs, Everything)
{
	const auto c = parse_text(with(R"(interface = "relay0"
port = 7490
listen_tls = ["192.0.2.9:7500"]
max_sessions = 1000
session_idle = 30
session_bytes = 1000000000)"));
	const auto &r = *c.rs;
	EXPECT_EQ(r.interface, "relay0");
	EXPECT_EQ(r.port, 7490);
	ASSERT_EQ(r.listen_tls.size(), 1U);
	EXPECT_EQ(r.listen_tls[0].to_string(), "192.0.2.9:7500");
	EXPECT_EQ(r.max_sessions, 1000U);
	EXPECT_EQ(r.session_idle.count(), 30);
	EXPECT_EQ(r.session_bytes, 1000000000U);
}

TEST(ConfigRs, Errors)
{
	EXPECT_EQ(error_of(with("bogus = 1")), "t.toml:9: rs.bogus: unknown key");
	EXPECT_EQ(error_of(with("interface = \"a/b\"")),
		  "t.toml:9: rs.interface: \"a/b\": expected 1..15 characters without '/', ':' or blanks");
	EXPECT_EQ(error_of(with("max_sessions = 0")), "t.toml:9: rs.max_sessions: must be 1..4194304, got 0");
	EXPECT_EQ(error_of(with("session_idle = 1")), "t.toml:9: rs.session_idle: must be 5..86400, got 1");
	EXPECT_EQ(error_of(with("session_bytes = -1")),
		  "t.toml:9: rs.session_bytes: must be 0..9223372036854775807, got -1");

	std::string t(kRs);
	const auto addr_line = t.find("addresses");
	const auto swap_addresses = [&](std::string_view v) {
		std::string u(t);
		const auto end = u.find('\n', addr_line);
		return u.replace(addr_line, end - addr_line, std::string("addresses = ") + std::string(v));
	};
	EXPECT_EQ(error_of(swap_addresses(R"(["rs.ntm.test"])")),
		  "t.toml:7: rs.addresses: \"rs.ntm.test\": expected an IPv4 or IPv6 address");
	EXPECT_EQ(error_of(swap_addresses(R"(["0.0.0.0"])")), "t.toml:7: rs.addresses: \"0.0.0.0\": not a unicast address");
	EXPECT_EQ(error_of(swap_addresses(R"(["192.0.2.1", "192.0.2.2"])")),
		  "t.toml:7: rs.addresses: \"192.0.2.2\": a second IPv4 address (one per family)");
	EXPECT_NE(error_of(swap_addresses("[]")).find("rs.addresses"), std::string::npos);

	std::string no_dc(kRs);
	no_dc.erase(no_dc.find("trusted_dc"));
	EXPECT_NE(error_of(no_dc).find("rs.trusted_dc"), std::string::npos);

	std::string no_cert(kRs);
	no_cert.erase(no_cert.find("certificate"), no_cert.find("[rs]") - no_cert.find("certificate"));
	EXPECT_NE(error_of(no_cert).find("needed by role rs"), std::string::npos);

	EXPECT_NE(error_of("roles = [\"rs\"]\n").find("there is no [rs] table"), std::string::npos);
	EXPECT_EQ(error_of(std::string(kDc) + std::string(kRs).substr(kRs.find("[rs]"))),
		  "t.toml:10: rs: [rs] given but roles does not include \"rs\"");
}

TEST(ConfigRs, DcRelays)
{
	EXPECT_TRUE(parse_text(kDc).dc->relays.empty());
	const auto c = parse_text(std::string(kDc) + "relays = [\"rs1.ntm.test\", \"[2001:db8::7]:7600\"]\n");
	ASSERT_EQ(c.dc->relays.size(), 2U);
	EXPECT_EQ(c.dc->relays[0].to_string(), "rs1.ntm.test:7483");
	EXPECT_EQ(c.dc->relays[1].to_string(), "[2001:db8::7]:7600");
	EXPECT_EQ(error_of(std::string(kDc) + "relays = [\"rs1.ntm.test\", \"rs1.ntm.test:7483\"]\n"),
		  "t.toml:10: dc.relays: \"rs1.ntm.test:7483\": listed twice");
	EXPECT_EQ(error_of(std::string(kDc) + "relays = [\"rs1.ntm.test:x\"]\n"),
		  "t.toml:10: dc.relays: \"rs1.ntm.test:x\": the port must be a number 1..65535");
}
