// SPDX-License-Identifier: GPL-2.0
#include "udp.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include <linux/ntm.h>

#include "ntm/error.hpp"

namespace ntmd {

ntm::UniqueFd open_udp_socket(int family, std::uint16_t port)
{
	const char *name = family == AF_INET6 ? "udp6" : "udp4";
	ntm::UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP));
	if (!fd)
		ntm::throw_errno(std::string(name) + " socket");

	int rc = 0;
	if (family == AF_INET6) {
		const int one = 1;
		if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			ntm::throw_errno("udp6 socket: IPV6_V6ONLY");
		sockaddr_in6 sa{};
		sa.sin6_family = AF_INET6;
		sa.sin6_port = htons(port);
		sa.sin6_addr = in6addr_any;
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		rc = ::bind(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa));
	} else {
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
		rc = ::bind(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa));
	}
	if (rc < 0)
		ntm::throw_errno(std::string(name) + " socket: bind port " + std::to_string(port));
	return fd;
}

asio::ip::udp::socket open_asio_udp_socket(asio::io_context &io, int family, std::uint16_t port)
{
	ntm::UniqueFd fd = open_udp_socket(family, port);
	asio::ip::udp::socket s(io);
	s.assign(family == AF_INET6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), fd.get());
	(void)fd.release();
	return s;
}

DatagramKind classify_datagram(std::span<const std::uint8_t> d) noexcept
{
	if (d.size() == 1 && d[0] == 0xff)
		return DatagramKind::nat_keepalive;
	if (d.size() < 4)
		return DatagramKind::runt;
	const std::uint32_t type = (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) |
				   (std::uint32_t{d[2]} << 8) | std::uint32_t{d[3]};
	if (type == 0)
		return DatagramKind::non_esp;
	if (type == NTM_MSG_DATA)
		return DatagramKind::ntm_data;
	if (type < NTM_MSG_SIGNAL_MIN)
		return DatagramKind::ntm_reserved;
	if (type <= NTM_MSG_TYPE_MAX)
		return DatagramKind::ntm_signal;
	return DatagramKind::esp;
}

std::string_view kind_name(DatagramKind k) noexcept
{
	switch (k) {
	case DatagramKind::nat_keepalive:
		return "nat-keepalive";
	case DatagramKind::runt:
		return "runt";
	case DatagramKind::non_esp:
		return "ike";
	case DatagramKind::ntm_data:
		return "ntm-data";
	case DatagramKind::ntm_reserved:
		return "ntm-reserved";
	case DatagramKind::ntm_signal:
		return "ntm-signal";
	case DatagramKind::esp:
		return "esp";
	}
	return "unknown";
}

} // namespace ntmd
