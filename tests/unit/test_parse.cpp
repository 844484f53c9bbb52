// SPDX-License-Identifier: GPL-2.0
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

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
	     {std::string(), std::string(31, 'a'), std::string(33, 'a'), std::string(48, 'a'), std::string(63, 'a'),
	      std::string(66, 'a'), std::string(32, 'g'), "0x" + std::string(30, 'a'), std::string(31, 'a') + " "})
		EXPECT_THROW(ntm::parse_hex_key(s), UsageError) << s;
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
