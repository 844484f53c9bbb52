// SPDX-License-Identifier: GPL-2.0
/* Stateless IKEv2 COOKIEs with a rotating secret (ntm/ike_cookie.hpp). */
#include "ntm/ike_cookie.hpp"

#include <algorithm>

#include "ntm/ike_crypto.hpp"

namespace ntm::ike {

CookieJar::CookieJar(Clock::time_point now) : cur_(fresh(1)), since_(now) {}

CookieJar::Secret CookieJar::fresh(std::uint8_t version)
{
	Secret s;
	s.version = version;
	const auto r = random_bytes(s.key.size());
	std::copy(r.begin(), r.end(), s.key.begin());
	s.set = true;
	return s;
}

void CookieJar::rotate(Clock::time_point now)
{
	if (now - since_ < kRotate)
		return;
	const auto steps = (now - since_) / kRotate;
	const auto next = static_cast<std::uint8_t>(cur_.version + 1);
	/* one period passed: the current secret becomes the previous; more: both go */
	prev_ = steps == 1 ? cur_ : Secret{};
	cur_ = fresh(next);
	since_ += steps * kRotate;
}

Bytes CookieJar::compute(const Secret &s, ByteView ni, const Endpoint &peer, std::uint64_t spi_i)
{
	const auto ip = peer.address(); /* bytes() views it */
	const auto addr = ip.bytes();
	const std::array<std::uint8_t, 2> port{static_cast<std::uint8_t>(peer.port() >> 8U),
					       static_cast<std::uint8_t>(peer.port() & 0xffU)};
	const auto spi = ike_spi_bytes(spi_i);
	auto h = sha256({ni, addr, port, spi, s.key});
	h.insert(h.begin(), s.version);
	return h;
}

Bytes CookieJar::make(ByteView ni, const Endpoint &peer, std::uint64_t spi_i, Clock::time_point now)
{
	rotate(now);
	return compute(cur_, ni, peer, spi_i);
}

bool CookieJar::valid(ByteView cookie, ByteView ni, const Endpoint &peer, std::uint64_t spi_i, Clock::time_point now)
{
	rotate(now);
	if (cookie.size() != kSize)
		return false;
	for (const auto *s : {&cur_, &prev_}) {
		if (!s->set || s->version != cookie[0])
			continue;
		const auto want = compute(*s, ni, peer, spi_i);
		std::uint8_t diff = 0;
		for (std::size_t i = 0; i < kSize; i++)
			diff |= static_cast<std::uint8_t>(want[i] ^ cookie[i]);
		return diff == 0;
	}
	return false;
}

std::uint8_t CookieJar::version(Clock::time_point now)
{
	rotate(now);
	return cur_.version;
}

} // namespace ntm::ike
