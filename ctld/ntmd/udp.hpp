// SPDX-License-Identifier: GPL-2.0
/*
 * The UDP sockets ntmd owns and hands to the kernel, and the classification
 * of the datagrams the kernel leaves on them.
 */
#ifndef NTMD_UDP_HPP
#define NTMD_UDP_HPP

#include <cstdint>
#include <span>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "ntm/handle.hpp"

namespace ntmd {

/**
 * A UDP socket bound to the wildcard address and port: AF_INET 0.0.0.0:port,
 * or AF_INET6 [::]:port with IPV6_V6ONLY=1. Close-on-exec, non-blocking,
 * without SO_REUSEADDR (a second daemon on the port must fail). Throws
 * ntm::Error.
 */
ntm::UniqueFd open_udp_socket(int family, std::uint16_t port);
/** open_udp_socket() as an asio socket of io. */
asio::ip::udp::socket open_asio_udp_socket(asio::io_context &io, int family, std::uint16_t port);

/** What a datagram passed up by the kernel is (first 32-bit word, RFC 3948). */
enum class DatagramKind {
	nat_keepalive, /* the single byte 0xff */
	runt,	       /* shorter than 4 bytes */
	non_esp,       /* marker 0: IKE follows */
	ntm_data,      /* NTM_MSG_DATA: the kernel should have consumed it */
	ntm_reserved,  /* 2..0x0f */
	ntm_signal,    /* NTM_MSG_SIGNAL_MIN..NTM_MSG_TYPE_MAX */
	esp,	       /* an SPI > 255 */
};
inline constexpr std::size_t kDatagramKinds = 7;

DatagramKind classify_datagram(std::span<const std::uint8_t> d) noexcept;
std::string_view kind_name(DatagramKind k) noexcept;

} // namespace ntmd

#endif
