// SPDX-License-Identifier: GPL-2.0
/*
 * Stateless IKEv2 COOKIEs (RFC 7296 section 2.6) with a rotating secret.
 *
 * A cookie is <version of the secret> | SHA-256(Ni | IPi | port | SPIi |
 * secret): it binds the initiator's nonce, SPI, address and source port, so
 * a cookie handed to one (address, port) is worthless from another. The
 * secret is replaced every kRotate; a cookie made with the previous secret
 * is still accepted (an initiator may be mid-retry across a rotation), one
 * made with any older secret is not (decisions.rst D65).
 *
 * Time is passed in, so tests need no clock.
 */
#ifndef NTM_IKE_COOKIE_HPP
#define NTM_IKE_COOKIE_HPP

#include <array>
#include <chrono>
#include <cstdint>

#include "ntm/ike.hpp"
#include "ntm/model.hpp"

namespace ntm::ike {

class CookieJar {
public:
	using Clock = std::chrono::steady_clock;
	static constexpr std::chrono::seconds kRotate{120};
	static constexpr std::size_t kSize = 1 + 32;

	explicit CookieJar(Clock::time_point now);

	/** The cookie to demand from this initiator now. */
	Bytes make(ByteView ni, const Endpoint &peer, std::uint64_t spi_i, Clock::time_point now);
	/** Whether a returned cookie was made for this request with the current or the previous secret. */
	bool valid(ByteView cookie, ByteView ni, const Endpoint &peer, std::uint64_t spi_i, Clock::time_point now);
	/** The version byte of the current secret (tests, logs). */
	std::uint8_t version(Clock::time_point now);

private:
	struct Secret {
		std::uint8_t version = 0;
		std::array<std::uint8_t, 32> key{};
		bool set = false;
	};
	void rotate(Clock::time_point now);
	static Bytes compute(const Secret &s, ByteView ni, const Endpoint &peer, std::uint64_t spi_i);
	static Secret fresh(std::uint8_t version);

	Secret cur_;
	Secret prev_;
	Clock::time_point since_;
};

} // namespace ntm::ike

#endif
