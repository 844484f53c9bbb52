// SPDX-License-Identifier: GPL-2.0
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include "ntm/error.hpp"
#include "ntm/parse.hpp"
#include "ntm/secret.hpp"

using ntm::UsageError;

TEST(ParseAddress, Ipv4Good)
{
	EXPECT_EQ(ntm::parse_ipv4("10.1.0.2").to_string(), "10.1.0.2");
	EXPECT_EQ(ntm::parse_ipv4("0.0.0.0").to_string(), "0.0.0.0");
	EXPECT_EQ(ntm::parse_ipv4("255.255.255.255").to_string(), "255.255.255.255");
	EXPECT_TRUE(ntm::parse_address("192.0.2.1").is_v4());
}

TEST(ParseAddress, Ipv4Bad)
{
	for (const char *s : {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04", "01.2.3.4", " 1.2.3.4",
			      "1.2.3.4 ", "1.2.3.4/24", "0x1.2.3.4", "1..3.4", "a.b.c.d", "1.2.3.-4"})
		EXPECT_THROW(ntm::parse_ipv4(s), UsageError) << s;
	EXPECT_THROW(ntm::parse_ipv4(std::string("1.2.3.4\0", 8)), UsageError);
}

TEST(ParseAddress, Ipv6Good)
{
	EXPECT_EQ(ntm::parse_ipv6("2001:db8::1").to_string(), "2001:db8::1");
	EXPECT_EQ(ntm::parse_ipv6("2001:DB8:0:0:0:0:0:1").to_string(), "2001:db8::1");
	EXPECT_EQ(ntm::parse_ipv6("::").to_string(), "::");
	EXPECT_EQ(ntm::parse_ipv6("::ffff:1.2.3.4").to_string(), "::ffff:1.2.3.4");
	EXPECT_TRUE(ntm::parse_address("fd00::2").is_v6());
}

TEST(ParseAddress, Ipv6Bad)
{
	for (const char *s : {"", ":", ":::", "2001:db8::1::2", "[2001:db8::1]", "2001:db8::g", "fe80::1%eth0",
			      "fe80::1%2", "1:2:3:4:5:6:7:8:9", " ::1"})
		EXPECT_THROW(ntm::parse_ipv6(s), UsageError) << s;
	try {
		ntm::parse_ipv6("fe80::1%eth0");
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("scoped"), std::string::npos);
	}
}

TEST(ParseAddress, Either)
{
	EXPECT_THROW(ntm::parse_address("host.example"), UsageError);
	EXPECT_THROW(ntm::parse_address(""), UsageError);
	EXPECT_THROW(ntm::parse_address("1.2.3.4:5"), UsageError);
}

TEST(ParseVip, UnicastOnly)
{
	EXPECT_EQ(ntm::parse_vip("10.1.0.2", AF_INET, "--vip4").to_string(), "10.1.0.2");
	EXPECT_EQ(ntm::parse_vip("fd00::2", AF_INET6, "--vip6").to_string(), "fd00::2");
	EXPECT_THROW(ntm::parse_vip("0.0.0.0", AF_INET, "--vip4"), UsageError);
	EXPECT_THROW(ntm::parse_vip("255.255.255.255", AF_INET, "--vip4"), UsageError);
	EXPECT_THROW(ntm::parse_vip("224.0.0.1", AF_INET, "--vip4"), UsageError);
	EXPECT_THROW(ntm::parse_vip("fd00::2", AF_INET, "--vip4"), UsageError);
	EXPECT_THROW(ntm::parse_vip("10.0.0.1", AF_INET6, "--vip6"), UsageError);
	EXPECT_THROW(ntm::parse_vip("::", AF_INET6, "--vip6"), UsageError);
	EXPECT_THROW(ntm::parse_vip("ff02::1", AF_INET6, "--vip6"), UsageError);
	EXPECT_THROW(ntm::parse_vip("::ffff:10.0.0.1", AF_INET6, "--vip6"), UsageError);
	try {
		ntm::parse_vip("224.0.0.1", AF_INET, "--vip4");
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "invalid --vip4 '224.0.0.1': not a unicast address");
	}
}

TEST(ParseEndpoint, Good)
{
	auto e = ntm::parse_endpoint("1.2.3.4:5000");
	EXPECT_EQ(e.family(), AF_INET);
	EXPECT_EQ(e.port(), 5000);
	EXPECT_EQ(e.address().to_string(), "1.2.3.4");
	EXPECT_EQ(e.to_string(), "1.2.3.4:5000");
	EXPECT_EQ(e.sockaddr_bytes().size(), 16U);

	e = ntm::parse_endpoint("[2001:db8::1]:5000");
	EXPECT_EQ(e.family(), AF_INET6);
	EXPECT_EQ(e.port(), 5000);
	EXPECT_EQ(e.to_string(), "[2001:db8::1]:5000");
	EXPECT_EQ(e.sockaddr_bytes().size(), 28U);

	EXPECT_EQ(ntm::parse_endpoint("[::1]:1").to_string(), "[::1]:1");
	EXPECT_EQ(ntm::parse_endpoint("127.0.0.1:65535").port(), 65535);
}

TEST(ParseEndpoint, Bad)
{
	for (const char *s : {"",
			      "1.2.3.4",
			      "1.2.3.4:",
			      "1.2.3.4:0",
			      "1.2.3.4:65536",
			      "1.2.3.4:99999",
			      "1.2.3.4:-1",
			      "1.2.3.4:+5",
			      "1.2.3.4:0x10",
			      "1.2.3.4:05",
			      "1.2.3.4: 5",
			      "1.2.3.4:5 ",
			      ":5",
			      "2001:db8::1:5",
			      "[2001:db8::1]",
			      "[2001:db8::1]5",
			      "[2001:db8::1:5",
			      "[1.2.3.4]:5",
			      "[]:5",
			      "host:5",
			      "0.0.0.0:5",
			      "[::]:5",
			      "224.0.0.1:5",
			      "255.255.255.255:5",
			      "[ff02::1]:5",
			      "[::ffff:1.2.3.4]:5",
			      "[fe80::1%eth0]:5",
			      "1.2.3.4:5:6"})
		EXPECT_THROW(ntm::parse_endpoint(s), UsageError) << s;
}

TEST(ParseEndpoint, MessageNamesValue)
{
	try {
		ntm::parse_endpoint("1.2.3.4:70000");
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "invalid endpoint '1.2.3.4:70000': port must be 1..65535");
	}
}

TEST(ParseCipher, Names)
{
	EXPECT_EQ(ntm::parse_cipher("aes-gcm"), NTM_CIPHER_AES_GCM);
	EXPECT_EQ(ntm::parse_cipher("chacha20-poly1305"), NTM_CIPHER_CHACHA20_POLY1305);
	for (const char *s : {"", "AES-GCM", "aes", "none", "chacha20", "aes-gcm "})
		EXPECT_THROW(ntm::parse_cipher(s), UsageError) << s;
}

TEST(ParseKey, Lengths)
{
	const auto k16 = ntm::parse_hex_key("000102030405060708090a0b0c0d0e0f");
	ASSERT_EQ(k16.size(), 16U);
	EXPECT_EQ(k16.data()[15], 0x0f);
	const auto k32 = ntm::parse_hex_key(std::string(64, 'F'));
	ASSERT_EQ(k32.size(), 32U);
	EXPECT_EQ(k32.data()[0], 0xff);
	for (const std::string &s :
	     {std::string(), std::string(31, 'a'), std::string(33, 'a'), std::string(47, 'a'), std::string(63, 'a'),
	      std::string(66, 'a'), std::string(32, 'g'), "0x" + std::string(30, 'a'), std::string(31, 'a') + " "})
		EXPECT_THROW(ntm::parse_hex_key(s), UsageError) << s;
	/* AES-192 of ESP */
	EXPECT_EQ(ntm::parse_hex_key(std::string(48, 'a')).size(), 24U);
}

TEST(ParseKey, NeverEchoed)
{
	const std::string secret = "zz" + std::string(30, '7');
	try {
		ntm::parse_hex_key(secret);
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_EQ(std::string(e.what()).find("777"), std::string::npos);
	}
}

TEST(ParseKey, CipherLength)
{
	EXPECT_NO_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 16));
	EXPECT_NO_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 32));
	EXPECT_NO_THROW(ntm::check_key_length(NTM_CIPHER_CHACHA20_POLY1305, 32));
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_CHACHA20_POLY1305, 16), UsageError);
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 24), UsageError);
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_NONE, 32), UsageError);
	/* ESP: rfc4106(gcm(aes)) takes AES-192 too, ChaCha20-Poly1305 still 32 only */
	EXPECT_NO_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 24, NTM_ENCAP_ESP_UDP));
	EXPECT_NO_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 16, NTM_ENCAP_ESP_UDP));
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 20, NTM_ENCAP_ESP_UDP), UsageError);
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_CHACHA20_POLY1305, 24, NTM_ENCAP_ESP_UDP), UsageError);
	EXPECT_THROW(ntm::check_key_length(NTM_CIPHER_AES_GCM, 24, NTM_ENCAP_NTM), UsageError);
}

TEST(ParseKey, Text)
{
	const std::string hex(64, 'a');
	EXPECT_EQ(ntm::parse_key_text(hex + "\n").size(), 32U);
	EXPECT_EQ(ntm::parse_key_text(hex + "\r\n").size(), 32U);
	EXPECT_EQ(ntm::parse_key_text(hex).size(), 32U);
	EXPECT_THROW(ntm::parse_key_text(" " + hex), UsageError);
	EXPECT_THROW(ntm::parse_key_text(hex + "\n" + hex), UsageError);
	EXPECT_THROW(ntm::parse_key_text(""), UsageError);
}

class KeyFile : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = ::testing::TempDir() + "ntmkeyXXXXXX";
		const int fd = mkstemp(tmpl.data());
		ASSERT_GE(fd, 0);
		::close(fd);
		path_ = tmpl;
	}
	void TearDown() override { ::unlink(path_.c_str()); }
	void write(const std::string &s) const { std::ofstream(path_, std::ios::binary) << s; }
	std::string path_;
};

TEST_F(KeyFile, Reads)
{
	write(std::string(32, '1') + "\n");
	const auto k = ntm::read_key_file(path_);
	ASSERT_EQ(k.size(), 16U);
	EXPECT_EQ(k.data()[0], 0x11);
}

TEST_F(KeyFile, BadContent)
{
	write("not a key\n");
	try {
		ntm::read_key_file(path_);
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("key file " + path_), std::string::npos);
	}
	write(std::string(5000, 'a'));
	EXPECT_THROW(ntm::read_key_file(path_), UsageError);
}

TEST_F(KeyFile, Missing)
{
	try {
		ntm::read_key_file(path_ + ".missing");
		FAIL();
	} catch (const UsageError &) {
		FAIL() << "unreadable file is an operation error";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), ENOENT);
	}
}

/* read_password_file() (libntm/secret): node login and ntmctl account add */
TEST_F(KeyFile, PasswordFirstLine)
{
	::chmod(path_.c_str(), 0600);
	write("s3cret\r\nsecond line\n");
	const auto pw = ntm::read_password_file(path_, 255);
	EXPECT_EQ(std::string(pw.begin(), pw.end()), "s3cret");
	write(std::string(255, 'p'));
	EXPECT_EQ(ntm::read_password_file(path_, 255).size(), 255U);
}

TEST_F(KeyFile, PasswordRefused)
{
	auto message = [this](std::size_t max) {
		try {
			(void)ntm::read_password_file(path_, max);
		} catch (const ntm::Error &e) {
			return std::string(e.what());
		}
		return std::string("accepted");
	};
	::chmod(path_.c_str(), 0640);
	write("s3cret\n");
	EXPECT_NE(message(255).find("accessible by group or others (chmod 600"), std::string::npos);
	::chmod(path_.c_str(), 0600);
	write("\nsecond\n");
	EXPECT_NE(message(255).find("empty first line"), std::string::npos);
	write(std::string(256, 'p') + "\n");
	EXPECT_NE(message(255).find("longer than 255 bytes"), std::string::npos);
	const std::string dir = path_ + ".d";
	ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
	try {
		(void)ntm::read_password_file(dir, 255);
		ADD_FAILURE() << "a directory was accepted";
	} catch (const ntm::Error &e) {
		EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
	}
	::rmdir(dir.c_str());
}

TEST(ParseSalt, Good)
{
	const auto s = ntm::parse_salt("0a0B0c0D", "--tx-salt");
	EXPECT_EQ(s[0], 0x0a);
	EXPECT_EQ(s[3], 0x0d);
}

TEST(ParseSalt, Bad)
{
	for (const char *s : {"", "0a0b0c0", "0a0b0c0d0", "0a0b0c0g", "0x0a0b0c"})
		EXPECT_THROW(ntm::parse_salt(s, "--tx-salt"), UsageError) << s;
}

TEST(ParseUnsigned, Good)
{
	EXPECT_EQ(ntm::parse_unsigned("0", "n", 0, 10), 0U);
	EXPECT_EQ(ntm::parse_unsigned("10", "n", 0, 10), 10U);
	EXPECT_EQ(ntm::parse_unsigned("007", "n", 0, 10), 7U);
	EXPECT_EQ(ntm::parse_unsigned("0x1f", "n", 0, 100), 31U);
	EXPECT_EQ(ntm::parse_unsigned("0XFF", "n", 0, 1000), 255U);
	EXPECT_EQ(ntm::parse_u32("4294967295", "n"), UINT32_MAX);
	EXPECT_EQ(ntm::parse_unsigned("18446744073709551615", "n", 0, UINT64_MAX), UINT64_MAX);
}

TEST(ParseUnsigned, Bad)
{
	for (const char *s : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x", "0xg", "abc", "4294967296",
			      "18446744073709551616", "1_000"})
		EXPECT_THROW(ntm::parse_u32(s, "n"), UsageError) << s;
	EXPECT_THROW(ntm::parse_u32("0", "--local-index", 1), UsageError);
	EXPECT_THROW(ntm::parse_u32("4097", "--acquire-qlen", 0, 4096), UsageError);
	try {
		ntm::parse_u32("0", "--local-index", 1);
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "invalid --local-index '0': must be in 1..4294967295");
	}
}

TEST(ParseOnOff, Values)
{
	EXPECT_TRUE(ntm::parse_on_off("on", "--roaming"));
	EXPECT_FALSE(ntm::parse_on_off("off", "--roaming"));
	for (const char *s : {"", "ON", "yes", "1", "true", "of"})
		EXPECT_THROW(ntm::parse_on_off(s, "--roaming"), UsageError) << s;
}

TEST(ParseIfname, Rules)
{
	EXPECT_EQ(ntm::parse_ifname("ntm0"), "ntm0");
	EXPECT_EQ(ntm::parse_ifname(std::string(15, 'x')), std::string(15, 'x'));
	for (const std::string &s : {std::string(), std::string(16, 'x'), std::string("a/b"), std::string("a:b"),
				     std::string("a b"), std::string("."), std::string(".."), std::string("a\tb")})
		EXPECT_THROW(ntm::parse_ifname(s), UsageError) << s;
}

/* ---- ESP in UDP: encapsulation, traffic selectors, amounts, tunnel checks ---- */

TEST(ParseEncap, Names)
{
	EXPECT_EQ(ntm::parse_encap("ntm"), NTM_ENCAP_NTM);
	EXPECT_EQ(ntm::parse_encap("esp-udp"), NTM_ENCAP_ESP_UDP);
	for (const char *s : {"", "esp", "ESP-UDP", "esp-udp ", "1"})
		EXPECT_THROW(ntm::parse_encap(s), UsageError) << s;
}

TEST(ParseTrafficSelector, Good)
{
	EXPECT_EQ(ntm::parse_traffic_selector("10.2.0.0/16", "ts").to_string(), "10.2.0.0/16");
	EXPECT_EQ(ntm::parse_traffic_selector("0.0.0.0/0", "ts").to_string(), "0.0.0.0/0");
	EXPECT_EQ(ntm::parse_traffic_selector("10.2.0.7", "ts").to_string(), "10.2.0.7/32");
	EXPECT_EQ(ntm::parse_traffic_selector("fd00:2::/64", "ts").to_string(), "fd00:2::/64");
	EXPECT_EQ(ntm::parse_traffic_selector("::/0", "ts").to_string(), "::/0");
	EXPECT_EQ(ntm::parse_traffic_selector("fd00::1", "ts").len, 128);
	EXPECT_EQ(ntm::parse_traffic_selector("10.2.0.128/25", "ts").len, 25);
}

TEST(ParseTrafficSelector, Bad)
{
	for (const char *s :
	     {"", "/16", "10.2.0.0/", "10.2.0.0/33", "10.2.0.0/016", "10.2.0.0/-1", "10.2.0.0/1x", "fd00::/129",
	      "10.2.0/16", "host/16", "10.2.0.0/16/8", "::ffff:10.2.0.0/112", "10.2.0.0 /16", "fe80::1%eth0/128"})
		EXPECT_THROW(ntm::parse_traffic_selector(s, "--remote-ts"), UsageError) << s;
	try {
		(void)ntm::parse_traffic_selector("10.2.0.1/16", "--remote-ts");
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "invalid --remote-ts '10.2.0.1/16': host bits are set (the network is "
				       "10.2.0.0/16)");
	}
	EXPECT_THROW(ntm::parse_traffic_selector("fd00::1/64", "ts"), UsageError);
}

TEST(ParseTrafficSelector, Lists)
{
	std::vector<ntm::Prefix> ts;
	ntm::parse_traffic_selectors("10.2.0.0/16,fd00:2::/64", "--remote-ts", ts);
	ntm::parse_traffic_selectors("192.0.2.1", "--remote-ts", ts);
	ASSERT_EQ(ts.size(), 3U);
	EXPECT_EQ(ts[1].to_string(), "fd00:2::/64");
	EXPECT_EQ(ts[2].to_string(), "192.0.2.1/32");
	for (const char *s : {"", ",", "10.2.0.0/16,", ",10.2.0.0/16", "10.2.0.0/16,,10.3.0.0/16"}) {
		std::vector<ntm::Prefix> v;
		EXPECT_THROW(ntm::parse_traffic_selectors(s, "ts", v), UsageError) << s;
	}
	/* at most NTM_TS_MAX in all */
	std::vector<ntm::Prefix> many;
	std::string list;
	for (int i = 0; i < NTM_TS_MAX; i++)
		list += (i != 0 ? "," : "") + std::string("10.") + std::to_string(i) + ".0.0/16";
	ntm::parse_traffic_selectors(list, "ts", many);
	EXPECT_EQ(many.size(), static_cast<std::size_t>(NTM_TS_MAX));
	try {
		ntm::parse_traffic_selectors("10.99.0.0/16", "--local-ts", many);
		FAIL();
	} catch (const UsageError &e) {
		EXPECT_STREQ(e.what(), "too many --local-ts selectors: at most 8");
	}
}

TEST(ParseAmount, Suffixes)
{
	EXPECT_EQ(ntm::parse_amount("0", "n"), 0U);
	EXPECT_EQ(ntm::parse_amount("1000", "n"), 1000U);
	EXPECT_EQ(ntm::parse_amount("0x10", "n"), 16U);
	EXPECT_EQ(ntm::parse_amount("1K", "n"), 1024U);
	EXPECT_EQ(ntm::parse_amount("3k", "n"), 3072U);
	EXPECT_EQ(ntm::parse_amount("2M", "n"), 2U << 20);
	EXPECT_EQ(ntm::parse_amount("1G", "n"), 1ULL << 30);
	EXPECT_EQ(ntm::parse_amount("5T", "n"), 5ULL << 40);
	EXPECT_EQ(ntm::parse_amount("15E", "n"), 15ULL << 60);
	EXPECT_EQ(ntm::parse_amount("18446744073709551615", "n"), UINT64_MAX);
	for (const char *s : {"", "K", "1KB", "1.5G", "-1", "16E", "18446744073709551616", "1 G", "G1", "0x10K", "1X"})
		EXPECT_THROW(ntm::parse_amount(s, "--hard-bytes"), UsageError) << s;
}

namespace {

ntm::TunnelSettings esp_tunnel()
{
	ntm::TunnelSettings t;
	t.encap = NTM_ENCAP_ESP_UDP;
	t.local_index = 0x1000;
	t.remote_index = 0x2000;
	t.endpoint = ntm::parse_endpoint("192.0.2.1:4500");
	t.cipher = NTM_CIPHER_AES_GCM;
	t.key = ntm::parse_hex_key(std::string(32, '1'));
	t.rx_key = ntm::parse_hex_key(std::string(32, '2'));
	t.tx_salt = ntm::parse_salt("01020304", "tx");
	t.rx_salt = ntm::parse_salt("01020304", "rx"); /* different keys: equal salts are fine */
	t.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts")};
	t.local_ts = {ntm::parse_traffic_selector("10.1.0.0/16", "ts")};
	t.esn = true;
	t.lifetime = 3600;
	t.soft_lifetime = 3000;
	t.soft_bytes = 1000;
	t.hard_bytes = 2000;
	t.soft_packets = 10;
	t.hard_packets = 20;
	return t;
}

ntm::TunnelSettings ntm_tunnel()
{
	ntm::TunnelSettings t;
	t.local_index = 7;
	t.remote_index = 9;
	t.endpoint = ntm::parse_endpoint("192.0.2.1:4500");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.cipher = NTM_CIPHER_CHACHA20_POLY1305;
	t.key = ntm::parse_hex_key(std::string(64, 'a'));
	t.tx_salt = ntm::parse_salt("01020304", "tx");
	t.rx_salt = ntm::parse_salt("05060708", "rx");
	return t;
}

std::string check_message(const ntm::TunnelSettings &t, ntm::TunnelRequest what = ntm::TunnelRequest::create)
{
	try {
		ntm::check_tunnel(t, what);
	} catch (const UsageError &e) {
		return e.what();
	}
	return "ok";
}

} // namespace

TEST(CheckTunnel, GoodRequests)
{
	EXPECT_EQ(check_message(esp_tunnel()), "ok");
	EXPECT_EQ(check_message(ntm_tunnel()), "ok");
	auto t = ntm_tunnel();
	t.encap = NTM_ENCAP_NTM; /* explicit default */
	t.hard_packets = 100;	 /* limits suit NTM tunnels too */
	EXPECT_EQ(check_message(t), "ok");
	auto e = esp_tunnel();
	e.local_ts.clear();
	e.esn = false;
	e.soft_bytes = 5000; /* hard 2000 ... */
	e.hard_bytes = 0;    /* ... is "no limit" */
	e.tx_counter = UINT32_MAX;
	e.local_index = NTM_ESP_SPI_MIN;
	e.remote_index = UINT32_MAX;
	EXPECT_EQ(check_message(e), "ok");

	ntm::TunnelSettings set;
	set.local_index = 0x1000;
	set.endpoint = ntm::parse_endpoint("192.0.2.9:4500");
	set.soft_lifetime = 100;
	set.lifetime = 200;
	set.hard_bytes = 1;
	set.flags = NTM_TUNNEL_F_NO_ROAMING;
	EXPECT_EQ(check_message(set, ntm::TunnelRequest::change), "ok");
}

TEST(CheckTunnel, EspErrors)
{
	auto t = esp_tunnel();
	t.local_index = 255;
	EXPECT_EQ(check_message(t), "invalid inbound SPI 255: ESP SPIs are 256..2^32-1 (1..255 are reserved)");
	t = esp_tunnel();
	t.remote_index = 1;
	EXPECT_EQ(check_message(t), "invalid outbound SPI 1: ESP SPIs are 256..2^32-1 (1..255 are reserved)");
	t = esp_tunnel();
	t.rx_key = ntm::SecretBytes{};
	EXPECT_EQ(check_message(t), "an ESP tunnel needs rx-key (the inbound SA's key)");
	t = esp_tunnel();
	t.rx_key = ntm::parse_hex_key(std::string(64, '2'));
	EXPECT_EQ(check_message(t), "key and rx-key must have the same length");
	t.key = ntm::parse_hex_key(std::string(48, '1')); /* AES-192 */
	t.rx_key = ntm::parse_hex_key(std::string(48, '2'));
	EXPECT_EQ(check_message(t), "ok");
	auto n = ntm_tunnel();
	n.cipher = NTM_CIPHER_AES_GCM;
	n.key = ntm::parse_hex_key(std::string(48, '1')); /* not for NTM tunnels */
	EXPECT_EQ(check_message(n), "cipher aes-gcm needs a 16 or 32 byte key, got 24 bytes");
	t = esp_tunnel();
	t.cipher = NTM_CIPHER_CHACHA20_POLY1305; /* 16-byte keys */
	EXPECT_NE(check_message(t).find("chacha20-poly1305 needs a 32 byte key"), std::string::npos);
	t.key = ntm::parse_hex_key(std::string(64, '1'));
	EXPECT_EQ(check_message(t).rfind("rx-key: cipher chacha20-poly1305 needs a 32 byte key", 0), 0U);
	t = esp_tunnel();
	t.rx_key = ntm::parse_hex_key(std::string(32, '1')); /* same key ... */
	EXPECT_EQ(check_message(t), "key and rx-key are equal: tx-salt and rx-salt must differ");
	t.rx_salt = ntm::parse_salt("05060708", "rx"); /* ... different salts: distinct nonces */
	EXPECT_EQ(check_message(t), "ok");
	t = esp_tunnel();
	t.remote_ts.clear();
	EXPECT_EQ(check_message(t), "an ESP tunnel needs at least one remote-ts (the peer's networks)");
	t = esp_tunnel();
	t.remote_ts.assign(NTM_TS_MAX + 1, ntm::Prefix{ntm::parse_ipv4("10.0.0.0"), 8});
	EXPECT_EQ(check_message(t), "too many remote-ts selectors: 9, at most 8");
	t = esp_tunnel();
	t.local_ts.push_back(ntm::Prefix{ntm::parse_ipv4("10.1.2.3"), 16});
	EXPECT_EQ(check_message(t), "invalid local-ts 10.1.2.3/16: not a network (host bits set or bad length)");
	t.local_ts.back() = ntm::Prefix{ntm::parse_ipv4("10.0.0.0"), 33};
	EXPECT_NE(check_message(t), "ok");
	t.local_ts.back() = ntm::Prefix{};
	EXPECT_NE(check_message(t), "ok");
	t = esp_tunnel();
	t.encap = 7;
	EXPECT_EQ(check_message(t), "unknown encapsulation 7");
	t = esp_tunnel();
	t.vip4 = ntm::parse_ipv4("10.2.0.1");
	EXPECT_EQ(check_message(t), "vip4 and vip6 do not apply to ESP tunnels (packets are chosen by remote-ts)");
	/* the first sequence number: 1..2^32-1, with ESN up to the counter limit */
	t = esp_tunnel();
	t.tx_counter = 1;
	EXPECT_EQ(check_message(t), "ok");
	t.tx_counter = 0;
	EXPECT_EQ(check_message(t), "tx-counter 0 is out of range: 1..18446744073709543422 with esn");
	t.tx_counter = NTM_COUNTER_LIMIT - 1;
	EXPECT_EQ(check_message(t), "ok");
	t.tx_counter = NTM_COUNTER_LIMIT;
	EXPECT_NE(check_message(t), "ok");
	t.esn = false;
	t.tx_counter = 1ULL << 32;
	EXPECT_EQ(check_message(t), "tx-counter 4294967296 is out of range: 1..4294967295 without esn");
}

TEST(CheckTunnel, NtmErrors)
{
	auto t = ntm_tunnel();
	t.esn = true;
	EXPECT_EQ(check_message(t), "esn needs encap esp-udp");
	t = ntm_tunnel();
	t.rx_key = ntm::parse_hex_key(std::string(64, 'b'));
	EXPECT_EQ(check_message(t), "rx-key needs encap esp-udp (an NTM tunnel has one key)");
	t = ntm_tunnel();
	t.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts")};
	EXPECT_EQ(check_message(t), "traffic selectors (remote-ts, local-ts) need encap esp-udp");
	t = ntm_tunnel();
	t.rx_salt = t.tx_salt;
	EXPECT_EQ(check_message(t), "tx-salt and rx-salt must differ");
	t = ntm_tunnel();
	t.vip4.reset();
	EXPECT_EQ(check_message(t), "vip4 or vip6 is required");
	t = ntm_tunnel();
	t.local_index = 0;
	EXPECT_EQ(check_message(t), "the local index is required (1..2^32-1)");
	t = ntm_tunnel();
	t.remote_index.reset();
	EXPECT_EQ(check_message(t), "the remote index is required (1..2^32-1)");
	t = ntm_tunnel();
	t.key = ntm::SecretBytes{};
	EXPECT_EQ(check_message(t), "the key is required");
	t = ntm_tunnel();
	t.endpoint.reset();
	EXPECT_EQ(check_message(t), "the endpoint is required");
	t = ntm_tunnel();
	t.cipher.reset();
	EXPECT_EQ(check_message(t), "the cipher is required");
	t = ntm_tunnel();
	t.tx_salt.reset();
	EXPECT_EQ(check_message(t), "tx-salt and rx-salt are required");
	t = ntm_tunnel();
	t.flags = 0x80;
	EXPECT_EQ(check_message(t), "unknown tunnel flags 128");
	t = ntm_tunnel();
	t.tx_counter = 0; /* NTM counters start at 0 */
	EXPECT_EQ(check_message(t), "ok");
	t.tx_counter = NTM_COUNTER_LIMIT;
	EXPECT_EQ(check_message(t), "tx-counter 18446744073709543423 is at or above the limit 18446744073709543423");
}

TEST(CheckTunnel, SoftBelowHard)
{
	auto t = esp_tunnel();
	t.soft_lifetime = 3600;
	EXPECT_EQ(check_message(t), "soft-lifetime 3600 must be below lifetime 3600");
	t = esp_tunnel();
	t.soft_bytes = 2001;
	EXPECT_EQ(check_message(t), "soft-bytes 2001 must be below hard-bytes 2000");
	t = esp_tunnel();
	t.soft_packets = 20;
	EXPECT_EQ(check_message(t), "soft-packets 20 must be below hard-packets 20");
	ntm::TunnelSettings set;
	set.local_index = 5;
	set.soft_packets = 30;
	set.hard_packets = 20;
	EXPECT_EQ(check_message(set, ntm::TunnelRequest::change), "soft-packets 30 must be below hard-packets 20");
}

TEST(CheckTunnel, ChangeIsLimited)
{
	ntm::TunnelSettings set;
	set.local_index = 5;
	EXPECT_EQ(check_message(set, ntm::TunnelRequest::change), "ok");
	auto bad = [&](const std::function<void(ntm::TunnelSettings &)> &f) {
		ntm::TunnelSettings s = set;
		f(s);
		return check_message(s, ntm::TunnelRequest::change);
	};
	EXPECT_EQ(bad([](auto &s) { s.remote_index = 6; }),
		  "the remote index cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.vip6 = ntm::parse_ipv6("fd00::1"); }),
		  "the virtual addresses cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.rx_key = ntm::parse_hex_key(std::string(32, 'c')); }),
		  "the cipher, keys and salts cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.encap = NTM_ENCAP_ESP_UDP; }),
		  "the encapsulation cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.esn = true; }), "esn cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.tx_counter = 5; }), "tx-counter cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.local_ts = {ntm::parse_traffic_selector("10.0.0.0/8", "ts")}; }),
		  "the traffic selectors cannot be changed (a rekey is a new tunnel)");
	EXPECT_EQ(bad([](auto &s) { s.local_index = 0; }), "the local index is required (1..2^32-1)");
}
