// SPDX-License-Identifier: GPL-2.0
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "cli.hpp"
#include "ntm/error.hpp"
#include "ntm/tokenize.hpp"

using ntm::UsageError;
using ntmctl::Cli;

namespace {

const std::string kKey32 = std::string(64, 'a');
const std::string kAdd = "tunnel add ntm0 --local-index 5 --remote-index 6 --endpoint 192.0.2.1:4500 "
			 "--vip4 10.1.0.2 --cipher chacha20-poly1305 --key " +
			 kKey32 + " --tx-salt 01020304 --rx-salt 05060708";

ntmctl::Invocation parse(Cli &cli, const std::string &line)
{
	return cli.parse(ntm::tokenize_line(line));
}

template <class T> T as(const ntmctl::Invocation &inv)
{
	EXPECT_TRUE(std::holds_alternative<T>(inv.cmd));
	return std::get<T>(inv.cmd);
}

} // namespace

TEST(Cli, Show)
{
	Cli cli;
	auto inv = parse(cli, "show");
	EXPECT_FALSE(inv.json);
	EXPECT_FALSE(as<ntmctl::ShowCmd>(inv).dev);
	inv = parse(cli, "-j show ntm0");
	EXPECT_TRUE(inv.json);
	EXPECT_EQ(*as<ntmctl::ShowCmd>(inv).dev, "ntm0");
	inv = parse(cli, "show ntm0 --json");
	EXPECT_TRUE(inv.json);
	/* state of the previous parse does not leak */
	inv = parse(cli, "show");
	EXPECT_FALSE(inv.json);
	EXPECT_FALSE(as<ntmctl::ShowCmd>(inv).dev);
}

TEST(Cli, Device)
{
	Cli cli;
	EXPECT_EQ(as<ntmctl::DeviceShowCmd>(parse(cli, "device show ntm0")).dev, "ntm0");
	const auto set =
		as<ntmctl::DeviceSetCmd>(parse(cli, "device set ntm0 --fwmark 0x10 --acquire-qlen 10 --roaming off "
						    "--acquire on"));
	EXPECT_EQ(set.dev, "ntm0");
	EXPECT_EQ(set.fwmark, 16U);
	EXPECT_EQ(set.acquire_qlen, 10U);
	EXPECT_EQ(set.roaming, false);
	EXPECT_EQ(set.acquire, true);
	const auto one = as<ntmctl::DeviceSetCmd>(parse(cli, "device set ntm0 --fwmark 0"));
	EXPECT_EQ(one.fwmark, 0U);
	EXPECT_FALSE(one.acquire_qlen);
	EXPECT_FALSE(one.roaming);
	EXPECT_THROW(parse(cli, "device set ntm0"), UsageError);
	EXPECT_THROW(parse(cli, "device set ntm0 --acquire-qlen 5000"), UsageError);
	EXPECT_THROW(parse(cli, "device set ntm0 --roaming maybe"), UsageError);
	EXPECT_THROW(parse(cli, "device show"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "device"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "device show ntm0 extra"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "device show bad/name"), UsageError);
}

TEST(Cli, TunnelAdd)
{
	Cli cli;
	const auto add = as<ntmctl::TunnelAddCmd>(parse(cli, kAdd + " --lifetime 60 --roaming off --vip6 fd00::2"));
	EXPECT_EQ(add.dev, "ntm0");
	const auto &t = add.tunnel;
	EXPECT_EQ(t.local_index, 5U);
	EXPECT_EQ(t.remote_index, 6U);
	EXPECT_EQ(t.endpoint->to_string(), "192.0.2.1:4500");
	EXPECT_EQ(t.vip4->to_string(), "10.1.0.2");
	EXPECT_EQ(t.vip6->to_string(), "fd00::2");
	EXPECT_EQ(t.cipher, NTM_CIPHER_CHACHA20_POLY1305);
	EXPECT_EQ(t.key.size(), 32U);
	EXPECT_EQ(t.key.data()[0], 0xaa);
	EXPECT_EQ((*t.tx_salt)[3], 0x04);
	EXPECT_EQ((*t.rx_salt)[0], 0x05);
	EXPECT_EQ(t.lifetime, 60U);
	EXPECT_EQ(t.flags, static_cast<std::uint32_t>(NTM_TUNNEL_F_NO_ROAMING));

	/* optional values of the previous line do not leak into this one */
	const auto plain = as<ntmctl::TunnelAddCmd>(parse(cli, kAdd));
	EXPECT_FALSE(plain.tunnel.lifetime);
	EXPECT_FALSE(plain.tunnel.flags);
	EXPECT_FALSE(plain.tunnel.vip6);

	const auto on = as<ntmctl::TunnelAddCmd>(parse(cli, kAdd + " --roaming on"));
	EXPECT_EQ(on.tunnel.flags, 0U);
}

TEST(Cli, TunnelAddErrors)
{
	Cli cli;
	auto without = [](const std::string &opt) {
		std::string s = kAdd;
		const auto p = s.find(opt);
		const auto end = s.find(' ', s.find(' ', p) + 1);
		return s.erase(p, end == std::string::npos ? std::string::npos : end - p + 1);
	};
	/* required options */
	for (const char *opt : {"--local-index", "--remote-index", "--endpoint", "--cipher", "--tx-salt", "--rx-salt"})
		EXPECT_THROW(parse(cli, without(opt)), CLI::ParseError) << opt;
	EXPECT_THROW(parse(cli, without("--vip4")), UsageError);
	EXPECT_THROW(parse(cli, without("--key")), UsageError);
	EXPECT_THROW(parse(cli, kAdd + " --key-file /nonexistent"), CLI::ParseError); /* excludes --key */
	/* values */
	EXPECT_THROW(parse(cli, kAdd + " --lifetime -1"), UsageError);
	std::string s = kAdd;
	EXPECT_THROW(parse(cli, s.replace(s.find("--local-index 5"), 15, "--local-index 0")), UsageError);
	s = kAdd;
	EXPECT_THROW(parse(cli, s.replace(s.find("192.0.2.1:4500"), 14, "192.0.2.1")), UsageError);
	s = kAdd;
	EXPECT_THROW(parse(cli, s.replace(s.find("05060708"), 8, "01020304")), UsageError); /* equal salts */
	s = kAdd;
	EXPECT_THROW(parse(cli, s.replace(s.find(kKey32), 64, std::string(32, 'a'))), UsageError); /* chacha: 32 */
	s = kAdd;
	EXPECT_NO_THROW(parse(cli, s.replace(s.find("chacha20-poly1305"), 17, "aes-gcm")
					   .replace(s.find(kKey32), 64, std::string(32, 'a'))));
	s = kAdd;
	EXPECT_THROW(parse(cli, s.replace(s.find("chacha20-poly1305"), 17, "rot13")), UsageError);
	EXPECT_THROW(parse(cli, kAdd + " --bogus"), CLI::ParseError);
}

TEST(Cli, TunnelAddKeyFile)
{
	std::string path = ::testing::TempDir() + "ntmclikeyXXXXXX";
	const int fd = mkstemp(path.data());
	ASSERT_GE(fd, 0);
	::close(fd);
	std::ofstream(path) << std::string(32, 'b') << "\n";
	std::string line = kAdd;
	line.replace(line.find("--key " + kKey32), 6 + 64, "--key-file " + path);
	line.replace(line.find("chacha20-poly1305"), 17, "aes-gcm");
	Cli cli;
	const auto add = as<ntmctl::TunnelAddCmd>(parse(cli, line));
	EXPECT_EQ(add.tunnel.key.size(), 16U);
	EXPECT_EQ(add.tunnel.key.data()[0], 0xbb);
	::unlink(path.c_str());
	EXPECT_THROW(parse(cli, line), ntm::Error); /* unreadable: an operation error */
}

TEST(Cli, TunnelOthers)
{
	Cli cli;
	const auto set = as<ntmctl::TunnelSetCmd>(parse(cli, "tunnel set ntm0 --local-index 5 --endpoint [::1]:9"));
	EXPECT_EQ(set.tunnel.local_index, 5U);
	EXPECT_EQ(set.tunnel.endpoint->to_string(), "[::1]:9");
	EXPECT_FALSE(set.tunnel.lifetime);
	EXPECT_FALSE(set.roaming);
	const auto set2 =
		as<ntmctl::TunnelSetCmd>(parse(cli, "tunnel set ntm0 --local-index 5 --lifetime 0 --roaming on"));
	EXPECT_EQ(set2.tunnel.lifetime, 0U);
	EXPECT_EQ(set2.roaming, true);
	EXPECT_FALSE(set2.tunnel.endpoint);
	EXPECT_THROW(parse(cli, "tunnel set ntm0 --local-index 5"), UsageError);
	EXPECT_THROW(parse(cli, "tunnel set ntm0 --endpoint 1.2.3.4:5"), CLI::ParseError);

	const auto del = as<ntmctl::TunnelDelCmd>(parse(cli, "tunnel del ntm0 --local-index 4294967295"));
	EXPECT_EQ(del.local_index, 4294967295U);
	EXPECT_THROW(parse(cli, "tunnel del ntm0"), CLI::ParseError);
	EXPECT_EQ(as<ntmctl::TunnelFlushCmd>(parse(cli, "tunnel flush ntm0")).dev, "ntm0");

	auto show = as<ntmctl::TunnelShowCmd>(parse(cli, "tunnel show ntm0 --local-index 3"));
	EXPECT_EQ(show.local_index, 3U);
	show = as<ntmctl::TunnelShowCmd>(parse(cli, "tunnel show ntm0"));
	EXPECT_FALSE(show.local_index);
	EXPECT_THROW(parse(cli, "tunnel"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "tunnel frob ntm0"), CLI::ParseError);
}

TEST(Cli, MonitorBatch)
{
	Cli cli;
	auto mon = as<ntmctl::MonitorCmd>(parse(cli, "monitor --count 3 --timeout 10"));
	EXPECT_EQ(mon.count, 3U);
	EXPECT_EQ(mon.timeout_s, 10U);
	mon = as<ntmctl::MonitorCmd>(parse(cli, "-j monitor"));
	EXPECT_FALSE(mon.count);
	EXPECT_FALSE(mon.timeout_s);
	EXPECT_THROW(parse(cli, "monitor --count 0"), UsageError);
	EXPECT_THROW(parse(cli, "monitor --timeout x"), UsageError);

	auto b = as<ntmctl::BatchCmd>(parse(cli, "batch /tmp/f --force"));
	EXPECT_EQ(b.file, "/tmp/f");
	EXPECT_TRUE(b.force);
	b = as<ntmctl::BatchCmd>(parse(cli, "batch -"));
	EXPECT_EQ(b.file, "-");
	EXPECT_FALSE(b.force);
	EXPECT_THROW(parse(cli, "batch"), CLI::ParseError);
}

TEST(Cli, Grammar)
{
	Cli cli;
	EXPECT_THROW(parse(cli, ""), CLI::ParseError);
	EXPECT_THROW(parse(cli, "frobnicate"), CLI::ParseError);
	try {
		parse(cli, "--help");
		FAIL();
	} catch (const CLI::ParseError &e) {
		EXPECT_EQ(e.get_exit_code(), 0);
	}
	EXPECT_NE(cli.help().find("Usage: ntmctl"), std::string::npos);
	try {
		parse(cli, "tunnel add --help");
		FAIL();
	} catch (const CLI::ParseError &e) {
		EXPECT_EQ(e.get_exit_code(), 0);
	}
	EXPECT_NE(cli.help().find("--tx-salt"), std::string::npos);
}
