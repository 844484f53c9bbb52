// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include <gtest/gtest.h>

#include "ntm/error.hpp"
#include "udp.hpp"

using ntmd::classify_datagram;
using ntmd::DatagramKind;

TEST(Datagram, Classify)
{
	using V = std::vector<std::uint8_t>;
	EXPECT_EQ(classify_datagram(V{0xff}), DatagramKind::nat_keepalive);
	EXPECT_EQ(classify_datagram(V{}), DatagramKind::runt);
	EXPECT_EQ(classify_datagram(V{0, 0, 0}), DatagramKind::runt);
	EXPECT_EQ(classify_datagram(V{0, 0, 0, 0, 0x20}), DatagramKind::non_esp);
	EXPECT_EQ(classify_datagram(V{0, 0, 0, 1}), DatagramKind::ntm_data);
	EXPECT_EQ(classify_datagram(V{0, 0, 0, 2}), DatagramKind::ntm_reserved);
	EXPECT_EQ(classify_datagram(V{0, 0, 0, 0x10}), DatagramKind::ntm_signal);
	EXPECT_EQ(classify_datagram(V{0, 0, 0, 0xff, 1, 2}), DatagramKind::ntm_signal);
	EXPECT_EQ(classify_datagram(V{0, 0, 1, 0}), DatagramKind::esp);
	EXPECT_EQ(classify_datagram(V{0xde, 0xad, 0xbe, 0xef}), DatagramKind::esp);
	EXPECT_EQ(ntmd::kind_name(DatagramKind::non_esp), "ike");
}

namespace {

int int_opt(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	EXPECT_EQ(getsockopt(fd, level, opt, &v, &len), 0);
	return v;
}

std::uint16_t bound_port(int fd)
{
	sockaddr_storage ss{};
	socklen_t len = sizeof(ss);
	EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
	return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
}

} // namespace

TEST(UdpSocket, Options)
{
	/* port 0 lets the kernel pick, so the test never collides */
	const auto fd4 = ntmd::open_udp_socket(AF_INET, 0);
	ASSERT_TRUE(fd4);
	EXPECT_NE(fcntl(fd4.get(), F_GETFD) & FD_CLOEXEC, 0);
	EXPECT_NE(fcntl(fd4.get(), F_GETFL) & O_NONBLOCK, 0);
	EXPECT_EQ(int_opt(fd4.get(), SOL_SOCKET, SO_REUSEADDR), 0);
	EXPECT_EQ(int_opt(fd4.get(), SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	EXPECT_NE(bound_port(fd4.get()), 0);

	ntm::UniqueFd fd6;
	try {
		fd6 = ntmd::open_udp_socket(AF_INET6, 0);
	} catch (const ntm::Error &e) {
		GTEST_SKIP() << "no IPv6: " << e.what();
	}
	EXPECT_EQ(int_opt(fd6.get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
	EXPECT_EQ(int_opt(fd6.get(), SOL_SOCKET, SO_REUSEADDR), 0);
	EXPECT_NE(fcntl(fd6.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(UdpSocket, PortInUse)
{
	const auto a = ntmd::open_udp_socket(AF_INET, 0);
	const auto port = bound_port(a.get());
	try {
		(void)ntmd::open_udp_socket(AF_INET, port);
		FAIL() << "second bind must fail without SO_REUSEADDR";
	} catch (const ntm::Error &e) {
		EXPECT_EQ(e.code(), EADDRINUSE);
	}
}
