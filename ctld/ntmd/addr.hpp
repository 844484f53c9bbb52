// SPDX-License-Identifier: GPL-2.0
/*
 * Conversions between libntm's addresses and asio's, for every socket of
 * ntmd (UDP signalling, TLS, DNS). An IPv4-mapped IPv6 address becomes the
 * IPv4 address, so a peer is the same ntm::Endpoint whichever socket saw it.
 */
#ifndef NTMD_ADDR_HPP
#define NTMD_ADDR_HPP

#include <algorithm>

#include <asio/ip/address.hpp>
#include <asio/ip/basic_endpoint.hpp>

#include "ntm/model.hpp"

namespace ntmd {

inline asio::ip::address to_asio(const ntm::IpAddress &a)
{
	const auto b = a.bytes();
	if (a.is_v4()) {
		asio::ip::address_v4::bytes_type v4{};
		std::copy(b.begin(), b.end(), v4.begin());
		return asio::ip::address_v4(v4);
	}
	asio::ip::address_v6::bytes_type v6{};
	std::copy(b.begin(), b.end(), v6.begin());
	return asio::ip::address_v6(v6);
}

inline ntm::IpAddress to_ntm(const asio::ip::address &a)
{
	if (a.is_v4())
		return *ntm::IpAddress::from_bytes(a.to_v4().to_bytes());
	const auto v6 = a.to_v6();
	if (v6.is_v4_mapped())
		return *ntm::IpAddress::from_bytes(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes());
	return *ntm::IpAddress::from_bytes(v6.to_bytes());
}

/** to_asio<asio::ip::udp>(ep), to_asio<asio::ip::tcp>(ep) */
template <class Protocol> asio::ip::basic_endpoint<Protocol> to_asio(const ntm::Endpoint &e)
{
	return {to_asio(e.address()), e.port()};
}

template <class Protocol> ntm::Endpoint to_ntm(const asio::ip::basic_endpoint<Protocol> &e)
{
	return {to_ntm(e.address()), e.port()};
}

} // namespace ntmd

#endif
