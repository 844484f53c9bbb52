// SPDX-License-Identifier: GPL-2.0
#include <iterator>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>

#include "ntm/format.hpp"
#include "ntm/parse.hpp"
#include "output.hpp"

TEST(Format, Bytes)
{
	EXPECT_EQ(ntm::format_bytes(0), "0 B");
	EXPECT_EQ(ntm::format_bytes(1023), "1023 B");
	EXPECT_EQ(ntm::format_bytes(1024), "1.00 KiB");
	EXPECT_EQ(ntm::format_bytes(1536), "1.50 KiB");
	EXPECT_EQ(ntm::format_bytes(5ULL << 20), "5.00 MiB");
	EXPECT_EQ(ntm::format_bytes(UINT64_MAX), "16.00 EiB");
}

TEST(Format, Duration)
{
	EXPECT_EQ(ntm::format_duration(0), "0 seconds");
	EXPECT_EQ(ntm::format_duration(1), "1 second");
	EXPECT_EQ(ntm::format_duration(62), "1 minute, 2 seconds");
	EXPECT_EQ(ntm::format_duration(3600), "1 hour");
	EXPECT_EQ(ntm::format_duration(2 * 86400 + 3), "2 days, 3 seconds");
}

TEST(Format, EventLines)
{
	const ntm::Event acq = ntm::AcquireEvent{5, ntm::parse_ipv4("10.1.0.2"), ntm::parse_ipv4("10.1.0.1")};
	EXPECT_EQ(ntm::format_event(acq, "ntm0"), "acquire dev ntm0 dst 10.1.0.2 src 10.1.0.1");
	const ntm::Event ep = ntm::EndpointEvent{5, 7, ntm::parse_endpoint("1.2.3.4:5")};
	EXPECT_EQ(ntm::format_event(ep, "ntm0"), "endpoint dev ntm0 local-index 7 endpoint 1.2.3.4:5");
	const ntm::Event ep6 = ntm::EndpointEvent{5, 7, ntm::parse_endpoint("[2001:db8::1]:5")};
	EXPECT_EQ(ntm::format_event(ep6, "ntm0"), "endpoint dev ntm0 local-index 7 endpoint [2001:db8::1]:5");
	const ntm::Event exp = ntm::ExpiredEvent{5, 7, 9, NTM_EXPIRE_LIFETIME};
	EXPECT_EQ(ntm::format_event(exp, "ntm0"), "expired dev ntm0 local-index 7 remote-index 9 reason lifetime");
	/* device gone: its index */
	EXPECT_EQ(ntm::format_event(exp, ""), "expired dev 5 local-index 7 remote-index 9 reason lifetime");
	const std::pair<int, const char *> reasons[] = {
		{NTM_EXPIRE_COUNTER, "counter"},
		{NTM_EXPIRE_HARD_BYTES, "hard-bytes"},
		{NTM_EXPIRE_HARD_PACKETS, "hard-packets"},
		{NTM_EXPIRE_SOFT_TIME, "soft-time"},
		{NTM_EXPIRE_SOFT_BYTES, "soft-bytes"},
		{NTM_EXPIRE_SOFT_PACKETS, "soft-packets"},
		{42, "unknown-42"},
	};
	for (const auto &[code, name] : reasons) {
		const ntm::Event e = ntm::ExpiredEvent{5, 4096, 8192, static_cast<std::uint32_t>(code)};
		EXPECT_EQ(ntm::format_event(e, "ntm0"),
			  std::string("expired dev ntm0 local-index 4096 remote-index 8192 reason ") + name);
	}
}

TEST(Format, LatestRx)
{
	EXPECT_EQ(ntmctl::latest_rx(0, 100), "never");
	EXPECT_EQ(ntmctl::latest_rx(1'000'000'000, 4'500'000'000), "3 seconds ago");
	EXPECT_EQ(ntmctl::latest_rx(5'000'000'000, 5'000'000'001), "just now");
	/* clock skew never underflows */
	EXPECT_EQ(ntmctl::latest_rx(9'000'000'000, 1), "just now");
}

TEST(Format, IfnameOf)
{
	EXPECT_EQ(ntm::ifname_of(0), "");
	EXPECT_EQ(ntm::ifname_of(1), "lo");
}

namespace {

std::string capture(const std::function<void(std::FILE *)> &f)
{
	char *buf = nullptr;
	std::size_t len = 0;
	std::FILE *m = open_memstream(&buf, &len);
	f(m);
	std::fclose(m);
	std::string s(buf, len);
	std::free(buf);
	return s;
}

} // namespace

TEST(Output, DeviceSection)
{
	ntm::Device d;
	d.ifindex = 5;
	d.name = "ntm0";
	d.port4 = 4500;
	d.port6 = 4500;
	d.acquire_qlen = 64;
	d.num_tunnels = 1;
	d.stats.set(NTM_STAT_A_DROP_AUTH, 3);
	const auto s = capture([&](std::FILE *f) { ntmctl::print_device(f, d); });
	EXPECT_NE(s.find("interface: ntm0\n"), std::string::npos) << s;
	EXPECT_NE(s.find("listening port: 4500 (ipv4), 4500 (ipv6)\n"), std::string::npos) << s;
	EXPECT_NE(s.find("flags: none\n"), std::string::npos) << s;
	EXPECT_NE(s.find("tunnels: 1\n"), std::string::npos) << s;
	d.max_tunnels = 3;
	const auto lim = capture([&](std::FILE *f) { ntmctl::print_device(f, d); });
	EXPECT_NE(lim.find("tunnels: 1 (at most 3)\n"), std::string::npos) << lim;
	EXPECT_NE(s.find("drop_auth: 3\n"), std::string::npos) << s;
	/* zero counters are not printed */
	EXPECT_EQ(s.find("rx_packets"), std::string::npos) << s;
}

TEST(Output, TunnelSection)
{
	ntm::Tunnel t;
	t.local_index = 7;
	t.remote_index = 9;
	t.endpoint = ntm::parse_endpoint("1.2.3.4:5");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.vip6 = ntm::parse_ipv6("fd00::2");
	t.cipher = NTM_CIPHER_AES_GCM;
	t.last_rx_ns = 1'000'000'000;
	t.stats.set(NTM_STAT_A_RX_BYTES, 2048);
	t.stats.set(NTM_STAT_A_TX_BYTES, 100);
	t.stats.set(NTM_STAT_A_DROP_REPLAY, 2);
	const auto s = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 6'000'000'000); });
	EXPECT_NE(s.find("tunnel: 7\n"), std::string::npos) << s;
	EXPECT_NE(s.find("remote index: 9\n"), std::string::npos) << s;
	EXPECT_NE(s.find("endpoint: 1.2.3.4:5\n"), std::string::npos) << s;
	EXPECT_NE(s.find("virtual ips: 10.1.0.2, fd00::2\n"), std::string::npos) << s;
	EXPECT_NE(s.find("cipher: aes-gcm\n"), std::string::npos) << s;
	EXPECT_NE(s.find("latest rx: 5 seconds ago\n"), std::string::npos) << s;
	EXPECT_NE(s.find("transfer: 2.00 KiB received, 100 B sent"), std::string::npos) << s;
	EXPECT_NE(s.find("drops: replay 2\n"), std::string::npos) << s;
}

TEST(Output, TunnelTable)
{
	ntm::Tunnel t;
	t.local_index = 7;
	t.remote_index = 9;
	t.endpoint = ntm::parse_endpoint("1.2.3.4:5");
	t.vip4 = ntm::parse_ipv4("10.1.0.2");
	t.cipher = NTM_CIPHER_AES_GCM;
	const auto s = capture([&](std::FILE *f) {
		ntmctl::print_tunnel_header(f);
		ntmctl::print_tunnel_row(f, t, 0);
	});
	std::istringstream in(s);
	std::string header;
	std::string row;
	std::getline(in, header);
	std::getline(in, row);
	EXPECT_EQ(header.rfind("LOCAL", 0), 0U);
	std::istringstream words(row);
	std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
	ASSERT_GE(w.size(), 6U);
	EXPECT_EQ(w[0], "7");
	EXPECT_EQ(w[1], "9");
	EXPECT_EQ(w[2], "1.2.3.4:5");
	EXPECT_EQ(w[3], "10.1.0.2");
	EXPECT_EQ(w[4], "-");
	EXPECT_EQ(w[5], "aes-gcm");
	EXPECT_EQ(w[6], "ntm");
	EXPECT_EQ(w.back(), "never");
}

namespace {

ntm::Tunnel esp_tunnel()
{
	ntm::Tunnel t;
	t.encap = NTM_ENCAP_ESP_UDP;
	t.local_index = 0x1000;
	t.remote_index = 0xc0de0001;
	t.endpoint = ntm::parse_endpoint("192.0.2.1:4500");
	t.cipher = NTM_CIPHER_AES_GCM;
	t.esn = true;
	t.remote_ts = {ntm::parse_traffic_selector("10.2.0.0/16", "ts"),
		       ntm::parse_traffic_selector("fd00:2::/64", "ts")};
	t.age_s = 100;
	t.lifetime = 3600;
	t.soft_lifetime = 3000;
	t.soft_bytes = 1ULL << 30;
	t.hard_bytes = 2ULL << 30;
	t.hard_packets = 1000000;
	t.tx_counter = 5;
	t.rx_counter = 3;
	return t;
}

} // namespace

TEST(Output, EspTunnelSection)
{
	const auto s = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, esp_tunnel(), 0); });
	EXPECT_NE(s.find("tunnel: 0x00001000\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  encap: esp-udp\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  spi: in 0x00001000, out 0xc0de0001\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  remote ts: 10.2.0.0/16, fd00:2::/64\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  local ts: (any)\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  esn: on\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  lifetime: 1 hour (expires in 58 minutes, 20 seconds)\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  soft lifetime: 50 minutes (rekey in 48 minutes, 20 seconds)\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  byte limits: soft 1.00 GiB, hard 2.00 GiB\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  packet limits: hard 1000000\n"), std::string::npos) << s;
	EXPECT_NE(s.find("  sequence numbers: tx 5, rx 3\n"), std::string::npos) << s;
	/* no NTM-only lines */
	EXPECT_EQ(s.find("remote index"), std::string::npos) << s;
	EXPECT_EQ(s.find("virtual ips"), std::string::npos) << s;

	auto t = esp_tunnel();
	t.age_s = 3000;
	t.local_ts = {ntm::parse_traffic_selector("10.1.0.0/16", "ts")};
	t.esn = false;
	const auto s2 = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_NE(s2.find("  soft lifetime: 50 minutes (rekey due)\n"), std::string::npos) << s2;
	EXPECT_NE(s2.find("  local ts: 10.1.0.0/16\n"), std::string::npos) << s2;
	EXPECT_NE(s2.find("  esn: off\n"), std::string::npos) << s2;
}

TEST(Output, NtmTunnelSectionUnchanged)
{
	ntm::Tunnel t;
	t.local_index = 7;
	t.remote_index = 9;
	t.cipher = NTM_CIPHER_AES_GCM;
	const auto s = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_EQ(s.find("encap"), std::string::npos) << s;
	EXPECT_EQ(s.find(" ts:"), std::string::npos) << s;
	EXPECT_EQ(s.find("esn"), std::string::npos) << s;
	EXPECT_EQ(s.find("limits"), std::string::npos) << s;
	EXPECT_NE(s.find("  counters: tx 0, rx 0\n"), std::string::npos) << s;
	t.hard_packets = 10;
	const auto s2 = capture([&](std::FILE *f) { ntmctl::print_tunnel(f, t, 0); });
	EXPECT_NE(s2.find("  packet limits: hard 10\n"), std::string::npos) << s2;
}

TEST(Output, EspTunnelTable)
{
	const auto s = capture([&](std::FILE *f) {
		ntmctl::print_tunnel_header(f);
		ntmctl::print_tunnel_row(f, esp_tunnel(), 0);
	});
	std::istringstream in(s);
	std::string header;
	std::string row;
	std::getline(in, header);
	std::getline(in, row);
	EXPECT_NE(header.find(" ENCAP "), std::string::npos) << header;
	std::istringstream words(row);
	std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
	ASSERT_GE(w.size(), 7U);
	EXPECT_EQ(w[0], "0x00001000");
	EXPECT_EQ(w[1], "0xc0de0001");
	EXPECT_EQ(w[2], "192.0.2.1:4500");
	EXPECT_EQ(w[3], "-");
	EXPECT_EQ(w[4], "-");
	EXPECT_EQ(w[5], "aes-gcm");
	EXPECT_EQ(w[6], "esp-udp");
}

TEST(Output, DumpWriterKeepsOrderAndFlushes)
{
	ntm::Tunnel t;
	t.local_index = 7;
	t.endpoint = ntm::parse_endpoint("1.2.3.4:5");
	const auto one = capture([&](std::FILE *f) { ntmctl::print_tunnel_row(f, t, 0); });
	/* more rows than one chunk: written in the order appended, the tail by the destructor */
	const auto many = capture([&](std::FILE *f) {
		std::fputs("head\n", f);
		ntmctl::DumpWriter w(f);
		for (int i = 0; i < 2000; i++) {
			ntmctl::format_tunnel_row(w.buf(), t, 0);
			w.commit();
		}
	});
	std::string want = "head\n";
	for (int i = 0; i < 2000; i++)
		want += one;
	EXPECT_EQ(many, want);
}
