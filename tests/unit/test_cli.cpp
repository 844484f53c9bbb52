// SPDX-License-Identifier: GPL-2.0
#include <unistd.h>

#include <array>
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
	return cli.parse(ntm::tokenize_line(line), ntmctl::Origin::batch_line);
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
	EXPECT_THROW(parse(cli, kAdd + " --bogus"), UsageError);
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
	EXPECT_THROW(parse(cli, "tunnel frob ntm0"), UsageError);
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
	EXPECT_THROW(parse(cli, "frobnicate"), UsageError);
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

/* ---- ESP in UDP ---- */

namespace {

const std::string kKey16 = std::string(32, '1');
const std::string kRxKey16 = std::string(32, '2');
const std::string kEsp = "tunnel add ntm0 --encap esp-udp --spi-in 0x1000 --spi-out 0x2000 --endpoint 10.0.0.2:4500 "
			 "--cipher aes-gcm --key " +
			 kKey16 + " --rx-key " + kRxKey16 + " --tx-salt 01020304 --rx-salt 05060708 " +
			 "--remote-ts 10.2.0.0/16";

std::string usage_error(Cli &cli, const std::string &line)
{
	try {
		(void)parse(cli, line);
	} catch (const UsageError &e) {
		return e.what();
	}
	return "no UsageError";
}

} // namespace

TEST(Cli, TunnelAddEsp)
{
	Cli cli;
	const auto add = as<ntmctl::TunnelAddCmd>(
		parse(cli, kEsp + " --remote-ts fd00:2::/64,10.3.0.0/16 --local-ts 10.1.0.0/16 --esn --lifetime 3600 "
				  "--soft-lifetime 3000 --soft-bytes 512M --hard-bytes 1G --soft-packets 1000 "
				  "--hard-packets 2K"));
	const auto &t = add.tunnel;
	EXPECT_EQ(t.encap, NTM_ENCAP_ESP_UDP);
	EXPECT_EQ(t.local_index, 0x1000U);
	EXPECT_EQ(t.remote_index, 0x2000U);
	EXPECT_EQ(t.endpoint->to_string(), "10.0.0.2:4500");
	EXPECT_FALSE(t.vip4);
	EXPECT_EQ(t.key.size(), 16U);
	EXPECT_EQ(t.key.data()[0], 0x11);
	EXPECT_EQ(t.rx_key.size(), 16U);
	EXPECT_EQ(t.rx_key.data()[0], 0x22);
	EXPECT_TRUE(t.esn);
	ASSERT_EQ(t.remote_ts.size(), 3U);
	EXPECT_EQ(t.remote_ts[0].to_string(), "10.2.0.0/16");
	EXPECT_EQ(t.remote_ts[1].to_string(), "fd00:2::/64");
	EXPECT_EQ(t.remote_ts[2].to_string(), "10.3.0.0/16");
	ASSERT_EQ(t.local_ts.size(), 1U);
	EXPECT_EQ(t.local_ts[0].to_string(), "10.1.0.0/16");
	EXPECT_EQ(t.lifetime, 3600U);
	EXPECT_EQ(t.soft_lifetime, 3000U);
	EXPECT_EQ(t.soft_bytes, 512ULL << 20);
	EXPECT_EQ(t.hard_bytes, 1ULL << 30);
	EXPECT_EQ(t.soft_packets, 1000U);
	EXPECT_EQ(t.hard_packets, 2048U);
	EXPECT_FALSE(t.tx_counter);
	EXPECT_EQ(as<ntmctl::TunnelAddCmd>(parse(cli, kEsp + " --tx-counter 0x10")).tunnel.tx_counter, 16U);
	EXPECT_EQ(as<ntmctl::TunnelAddCmd>(parse(cli, kAdd + " --tx-counter 0")).tunnel.tx_counter, 0U);

	/* the plain line, then nothing leaks from the previous one */
	const auto plain = as<ntmctl::TunnelAddCmd>(parse(cli, kEsp));
	EXPECT_FALSE(plain.tunnel.esn);
	EXPECT_EQ(plain.tunnel.remote_ts.size(), 1U);
	EXPECT_TRUE(plain.tunnel.local_ts.empty());
	EXPECT_FALSE(plain.tunnel.soft_lifetime);
	EXPECT_FALSE(plain.tunnel.hard_bytes);
	/* --local-index / --remote-index are the same options */
	std::string s = kEsp;
	s.replace(s.find("--spi-in"), 8, "--local-index").replace(s.find("--spi-out"), 9, "--remote-index");
	EXPECT_EQ(as<ntmctl::TunnelAddCmd>(parse(cli, s)).tunnel.local_index, 0x1000U);
	/* an NTM tunnel stays as it was: no encap attribute unless asked */
	EXPECT_FALSE(as<ntmctl::TunnelAddCmd>(parse(cli, kAdd)).tunnel.encap);
	EXPECT_EQ(as<ntmctl::TunnelAddCmd>(parse(cli, kAdd + " --encap ntm --hard-packets 5")).tunnel.encap,
		  NTM_ENCAP_NTM);
}

TEST(Cli, TunnelAddEspRxKeyFile)
{
	std::string path = ::testing::TempDir() + "ntmclirxkeyXXXXXX";
	const int fd = mkstemp(path.data());
	ASSERT_GE(fd, 0);
	::close(fd);
	std::ofstream(path) << std::string(32, 'c') << "\n";
	std::string line = kEsp;
	line.replace(line.find("--rx-key " + kRxKey16), 9 + 32, "--rx-key-file " + path);
	Cli cli;
	const auto add = as<ntmctl::TunnelAddCmd>(parse(cli, line));
	EXPECT_EQ(add.tunnel.rx_key.size(), 16U);
	EXPECT_EQ(add.tunnel.rx_key.data()[0], 0xcc);
	EXPECT_THROW(parse(cli, line + " --rx-key " + kRxKey16), CLI::ParseError); /* excludes */
	::unlink(path.c_str());
	EXPECT_THROW(parse(cli, line), ntm::Error);
}

TEST(Cli, TunnelAddEspErrors)
{
	Cli cli;
	auto with = [](std::string s, const std::string &from, const std::string &to) {
		return s.replace(s.find(from), from.size(), to);
	};
	EXPECT_EQ(usage_error(cli, with(kEsp, "0x1000", "255")),
		  "tunnel add: invalid inbound SPI 255: ESP SPIs are 256..2^32-1 (1..255 are reserved)");
	EXPECT_EQ(usage_error(cli, with(kEsp, "0x2000", "0xff")),
		  "tunnel add: invalid outbound SPI 255: ESP SPIs are 256..2^32-1 (1..255 are reserved)");
	EXPECT_EQ(usage_error(cli, with(kEsp, "--rx-key " + kRxKey16, "")),
		  "tunnel add: --encap esp-udp needs --rx-key or --rx-key-file");
	EXPECT_EQ(usage_error(cli, with(kEsp, "--rx-key " + kRxKey16, "--rx-key " + std::string(64, '2'))),
		  "tunnel add: key and rx-key must have the same length");
	EXPECT_EQ(usage_error(cli, with(kEsp, "--remote-ts 10.2.0.0/16", "")),
		  "tunnel add: an ESP tunnel needs at least one remote-ts (the peer's networks)");
	EXPECT_EQ(usage_error(cli, with(kEsp, "10.2.0.0/16", "10.2.0.1/16")),
		  "invalid --remote-ts '10.2.0.1/16': host bits are set (the network is 10.2.0.0/16)");
	EXPECT_EQ(usage_error(cli, kEsp + " --local-ts 10.1.0.0/33"),
		  "invalid --local-ts '10.1.0.0/33': the prefix length must be 0..32");
	EXPECT_EQ(usage_error(cli, kEsp + " --remote-ts 10.3.0.0/16,10.4.0.0/16,10.5.0.0/16,10.6.0.0/16 --remote-ts "
					  "10.7.0.0/16,10.8.0.0/16,10.9.0.0/16,10.10.0.0/16"),
		  "too many --remote-ts selectors: at most 8");
	EXPECT_EQ(usage_error(cli, with(kEsp, "esp-udp", "esp")),
		  "invalid encapsulation 'esp': expected ntm or esp-udp");
	EXPECT_EQ(usage_error(cli, kEsp + " --soft-bytes 2G --hard-bytes 1G"),
		  "tunnel add: soft-bytes 2147483648 must be below hard-bytes 1073741824");
	EXPECT_EQ(usage_error(cli, kEsp + " --soft-lifetime 60 --lifetime 60"),
		  "tunnel add: soft-lifetime 60 must be below lifetime 60");
	EXPECT_NE(usage_error(cli, kEsp + " --hard-bytes 1.5G").find("invalid --hard-bytes '1.5G'"), std::string::npos);
	EXPECT_NE(usage_error(cli, kEsp + " --hard-packets -1").find("invalid --hard-packets"), std::string::npos);
	EXPECT_NE(usage_error(cli, kEsp + " --soft-lifetime 4294967296").find("invalid --soft-lifetime"),
		  std::string::npos);
	/* an equal key pair needs distinct salts */
	EXPECT_EQ(usage_error(cli, with(with(kEsp, kRxKey16, kKey16), "05060708", "01020304")),
		  "tunnel add: key and rx-key are equal: tx-salt and rx-salt must differ");
	EXPECT_NO_THROW(parse(cli, with(kEsp, "05060708", "01020304")));
	EXPECT_EQ(usage_error(cli, kEsp + " --vip4 10.2.0.1"),
		  "tunnel add: --vip4 and --vip6 do not apply to --encap esp-udp (packets are chosen by --remote-ts)");
	EXPECT_EQ(usage_error(cli, kEsp + " --tx-counter 0"),
		  "tunnel add: tx-counter 0 is out of range: 1..4294967295 without esn");
	EXPECT_NE(usage_error(cli, kEsp + " --tx-counter x").find("invalid --tx-counter"), std::string::npos);
	/* AES-192: ESP only */
	EXPECT_EQ(as<ntmctl::TunnelAddCmd>(
			  parse(cli, with(with(kEsp, kKey16, std::string(48, '1')), kRxKey16, std::string(48, '2'))))
			  .tunnel.key.size(),
		  24U);
	std::string ntm192 = kAdd;
	ntm192.replace(ntm192.find("chacha20-poly1305"), 17, "aes-gcm")
		.replace(ntm192.find(kKey32), 64, std::string(48, 'a'));
	EXPECT_EQ(usage_error(cli, ntm192), "cipher aes-gcm needs a 16 or 32 byte key, got 24 bytes");
	/* ESP-only options on an NTM tunnel */
	EXPECT_EQ(usage_error(cli, kAdd + " --esn"), "tunnel add: esn needs encap esp-udp");
	EXPECT_EQ(usage_error(cli, kAdd + " --rx-key " + std::string(64, 'b')),
		  "tunnel add: --rx-key and --rx-key-file need --encap esp-udp");
	EXPECT_EQ(usage_error(cli, kAdd + " --remote-ts 10.2.0.0/16"),
		  "tunnel add: traffic selectors (remote-ts, local-ts) need encap esp-udp");
	EXPECT_EQ(usage_error(cli, kAdd + " --encap ntm --local-ts 10.2.0.0/16"),
		  "tunnel add: traffic selectors (remote-ts, local-ts) need encap esp-udp");
	/* --remote-ts takes one value per occurrence: "ntm0" is not swallowed */
	EXPECT_NO_THROW(parse(cli, with(kEsp, "tunnel add ntm0", "tunnel add") + " ntm0"));
	EXPECT_THROW(parse(cli, kEsp + " 10.3.0.0/16"), CLI::ParseError);
	EXPECT_THROW(parse(cli, kEsp + " --esn=maybe"), CLI::ParseError);
}

TEST(Cli, TunnelSetLimits)
{
	Cli cli;
	const auto set = as<ntmctl::TunnelSetCmd>(
		parse(cli, "tunnel set ntm0 --spi-in 0x1000 --soft-lifetime 100 --lifetime 200 --soft-bytes 1M "
			   "--hard-bytes 2M --soft-packets 10 --hard-packets 0 --endpoint 10.0.0.3:4500"));
	const auto &t = set.tunnel;
	EXPECT_EQ(t.local_index, 0x1000U);
	EXPECT_EQ(t.soft_lifetime, 100U);
	EXPECT_EQ(t.lifetime, 200U);
	EXPECT_EQ(t.soft_bytes, 1U << 20);
	EXPECT_EQ(t.hard_bytes, 2U << 20);
	EXPECT_EQ(t.soft_packets, 10U);
	EXPECT_EQ(t.hard_packets, 0U);
	EXPECT_EQ(t.endpoint->to_string(), "10.0.0.3:4500");
	/* one limit alone is a change */
	const auto one = as<ntmctl::TunnelSetCmd>(parse(cli, "tunnel set ntm0 --local-index 5 --hard-packets 7"));
	EXPECT_EQ(one.tunnel.hard_packets, 7U);
	EXPECT_FALSE(one.tunnel.soft_packets);
	EXPECT_FALSE(one.tunnel.lifetime);
	EXPECT_EQ(usage_error(cli, "tunnel set ntm0 --local-index 5 --soft-packets 9 --hard-packets 7"),
		  "tunnel set: soft-packets 9 must be below hard-packets 7");
	EXPECT_THROW(parse(cli, "tunnel set ntm0 --local-index 5 --esn"), UsageError);
	EXPECT_THROW(parse(cli, "tunnel set ntm0 --local-index 5 --tx-counter 1"), UsageError);
	EXPECT_THROW(parse(cli, "tunnel set ntm0 --local-index 5 --remote-ts 10.0.0.0/8"), UsageError);
	EXPECT_NE(usage_error(cli, "tunnel set ntm0 --local-index 5").find("nothing to change"), std::string::npos);
	/* del and show name ESP tunnels by their inbound SPI */
	EXPECT_EQ(as<ntmctl::TunnelDelCmd>(parse(cli, "tunnel del ntm0 --spi-in 0x1000")).local_index, 0x1000U);
	EXPECT_EQ(as<ntmctl::TunnelShowCmd>(parse(cli, "tunnel show ntm0 --spi-in 4096")).local_index, 4096U);
}

TEST(Cli, EspHelp)
{
	Cli cli;
	EXPECT_THROW(parse(cli, "tunnel add --help"), CLI::ParseError);
	const auto h = cli.help();
	for (const char *opt :
	     {"--encap", "--spi-in", "--spi-out", "--rx-key", "--rx-key-file", "--esn", "--remote-ts", "--local-ts",
	      "--tx-counter", "--soft-lifetime", "--soft-bytes", "--hard-bytes", "--soft-packets", "--hard-packets"})
		EXPECT_NE(h.find(opt), std::string::npos) << opt;
}

TEST(Cli, RelayAdd)
{
	Cli cli;
	const std::string base = "relay add ntm0 --id 7 --leg1 192.0.2.1:51820 --index1 1001 --leg2 "
				 "[2001:db8::2]:51820 --index2 2002";
	const auto add = as<ntmctl::RelayAddCmd>(
		parse(cli, base + " --hard-bytes 1G --hard-packets 1000 --idle-timeout 60"));
	EXPECT_EQ(add.dev, "ntm0");
	const auto &r = add.relay;
	EXPECT_EQ(r.id, 7U);
	EXPECT_EQ(r.legs[0].endpoint->to_string(), "192.0.2.1:51820");
	EXPECT_EQ(r.legs[1].endpoint->to_string(), "[2001:db8::2]:51820");
	EXPECT_EQ(r.legs[0].index, 1001U);
	EXPECT_EQ(r.legs[1].index, 2002U);
	EXPECT_EQ(r.hard_bytes, 1ULL << 30);
	EXPECT_EQ(r.hard_packets, 1000U);
	EXPECT_EQ(r.idle_timeout, 60U);
	/* nothing of the previous line leaks into this one */
	const auto plain = as<ntmctl::RelayAddCmd>(parse(cli, base));
	EXPECT_FALSE(plain.relay.hard_bytes);
	EXPECT_FALSE(plain.relay.idle_timeout);
}

TEST(Cli, RelayErrors)
{
	Cli cli;
	const std::string leg1 = "--leg1 192.0.2.1:1 --index1 1";
	const std::string leg2 = " --leg2 192.0.2.2:1 --index2 2";
	EXPECT_THROW(parse(cli, "relay add ntm0 " + leg1 + leg2), CLI::ParseError); /* no --id */
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 " + leg1), CLI::ParseError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 0 " + leg1 + leg2), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 --leg1 192.0.2.1:1 --index1 0" + leg2), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 --leg1 192.0.2.1 --index1 1" + leg2), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 --leg1 [fe80::1]:5 --index1 1" + leg2), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 " + leg1 + " --leg2 192.0.2.1:1 --index2 1"), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 " + leg1 + leg2 + " --idle-timeout 604801"), UsageError);
	EXPECT_THROW(parse(cli, "relay add ntm0 --id 1 " + leg1 + leg2 + " --hard-packets lots"), UsageError);
	EXPECT_THROW(parse(cli, "relay set ntm0 --id 1"), UsageError); /* nothing to change */
	EXPECT_THROW(parse(cli, "relay set ntm0 --id 1 --index1 5"), UsageError);
	EXPECT_THROW(parse(cli, "relay del ntm0"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "relay show ntm0 --id x"), UsageError);
	EXPECT_THROW(parse(cli, "relay"), CLI::ParseError);
	EXPECT_THROW(parse(cli, "device set ntm0 --max-relays 16777217"), UsageError);
	EXPECT_THROW(parse(cli, "device set ntm0 --max-tunnels 16777217"), UsageError);
	EXPECT_THROW(parse(cli, "device set ntm0 --max-tunnels x"), UsageError);
}

TEST(Cli, RelayOthers)
{
	Cli cli;
	const auto set = as<ntmctl::RelaySetCmd>(parse(cli, "relay set ntm0 --id 3 --leg2 192.0.2.3:51820"));
	EXPECT_EQ(set.relay.id, 3U);
	EXPECT_FALSE(set.relay.legs[0].endpoint);
	EXPECT_EQ(set.relay.legs[1].endpoint->to_string(), "192.0.2.3:51820");
	EXPECT_FALSE(set.relay.legs[1].index);
	const auto lim = as<ntmctl::RelaySetCmd>(parse(cli, "relay set ntm0 --id 3 --hard-packets 0"));
	EXPECT_EQ(lim.relay.hard_packets, 0U);
	EXPECT_EQ(as<ntmctl::RelayDelCmd>(parse(cli, "relay del ntm0 --id 9")).id, 9U);
	EXPECT_EQ(as<ntmctl::RelayFlushCmd>(parse(cli, "relay flush ntm0")).dev, "ntm0");
	auto inv = parse(cli, "-j relay show ntm0 --id 4");
	EXPECT_TRUE(inv.json);
	EXPECT_EQ(as<ntmctl::RelayShowCmd>(inv).id, 4U);
	EXPECT_FALSE(as<ntmctl::RelayShowCmd>(parse(cli, "relay show ntm0")).id);
	EXPECT_EQ(as<ntmctl::DeviceSetCmd>(parse(cli, "device set ntm0 --max-relays 5")).max_relays, 5U);
	EXPECT_EQ(as<ntmctl::DeviceSetCmd>(parse(cli, "device set ntm0 --max-tunnels 3")).max_tunnels, 3U);
	EXPECT_EQ(as<ntmctl::DeviceSetCmd>(parse(cli, "device set ntm0 --max-tunnels 0")).max_tunnels, 0U);
}

/* A key written out is taken only from a batch line; the command line reads it from stdin. */
TEST(Cli, NoKeyOnTheCommandLine)
{
	Cli cli;
	try {
		(void)cli.parse(ntm::tokenize_line(kAdd), ntmctl::Origin::command_line);
		ADD_FAILURE() << "a literal key was accepted on the command line";
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "tunnel add: --key: a key on the command line is readable by every user "
				       "(/proc/PID/cmdline); use --key-file FILE, or --key - to read it from stdin");
	}
	/* inside a batch, stdin is the batch itself (or the terminal): "-" is refused */
	const std::string from_stdin = "tunnel add ntm0 --local-index 5 --remote-index 6 --endpoint 192.0.2.1:4500 "
				       "--vip4 10.1.0.2 --cipher chacha20-poly1305 --key - --tx-salt 01020304 "
				       "--rx-salt 05060708";
	try {
		(void)parse(cli, from_stdin);
		ADD_FAILURE() << "--key - was accepted in a batch line";
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("stdin is not read inside a batch"), std::string::npos) << e.what();
	}
	/* both keys cannot come from the one stdin; refused before anything is read */
	const std::string esp = "tunnel add ntm0 --encap esp-udp --spi-in 0x1000 --spi-out 0x2000 --endpoint "
				"192.0.2.1:4500 --cipher aes-gcm --key - --rx-key - --tx-salt 01020304 "
				"--rx-salt 05060708 --remote-ts 10.0.0.0/8";
	for (const auto origin : {ntmctl::Origin::command_line, ntmctl::Origin::batch_line}) {
		try {
			(void)cli.parse(ntm::tokenize_line(esp), origin);
			ADD_FAILURE() << "two keys from stdin";
		} catch (const UsageError &e) {
			EXPECT_NE(std::string(e.what()).find("cannot both read stdin"), std::string::npos) << e.what();
		}
	}
}

TEST(Cli, KeyFromStdin)
{
	/* a pipe stands in for stdin */
	std::array<int, 2> p{};
	ASSERT_EQ(::pipe(p.data()), 0);
	const int saved = ::dup(STDIN_FILENO);
	ASSERT_GE(saved, 0);
	ASSERT_EQ(::dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	::close(p[0]);
	const std::string text = kKey32 + "\n";
	ASSERT_EQ(::write(p[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
	::close(p[1]);
	Cli cli;
	std::string line = kAdd;
	line.replace(line.find(kKey32), kKey32.size(), "-");
	ntmctl::Invocation inv;
	EXPECT_NO_THROW(inv = cli.parse(ntm::tokenize_line(line), ntmctl::Origin::command_line));
	ASSERT_EQ(::dup2(saved, STDIN_FILENO), STDIN_FILENO);
	::close(saved);
	const auto &t = as<ntmctl::TunnelAddCmd>(inv).tunnel;
	ASSERT_EQ(t.key.size(), 32U);
	EXPECT_EQ(t.key.data()[0], 0xaa);
}
