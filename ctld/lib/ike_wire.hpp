// SPDX-License-Identifier: GPL-2.0
/*
 * Internal to libntm's IKEv2 codec (ike_payload.cpp, ike_message.cpp), not
 * installed: the bounds-checked reader, big-endian writers, the generic
 * payload header, and the error helpers both halves share.
 */
#ifndef NTM_LIB_IKE_WIRE_HPP
#define NTM_LIB_IKE_WIRE_HPP

#include <cstdint>
#include <stdexcept>
#include <string>

#include "ntm/ike.hpp"

namespace ntm::ike::detail {

inline constexpr std::size_t kGenericLen = 4;
inline constexpr std::size_t kMaxPayloadLen = 0xffff;

[[noreturn]] inline void syntax(const std::string &msg)
{
	throw ParseError(NotifyType::invalid_syntax, msg);
}

[[noreturn]] inline void bad_arg(const std::string &msg)
{
	throw std::invalid_argument("IKE encode: " + msg);
}

/* ---- reading ---- */

class Reader {
public:
	Reader(ByteView b, const char *what) noexcept : b_(b), what_(what) {}

	[[nodiscard]] std::size_t left() const noexcept { return b_.size() - pos_; }
	[[nodiscard]] bool done() const noexcept { return pos_ == b_.size(); }

	ByteView take(std::size_t n)
	{
		if (n > left())
			syntax(std::string(what_) + ": truncated");
		const ByteView v = b_.subspan(pos_, n);
		pos_ += n;
		return v;
	}
	ByteView rest() { return take(left()); }
	std::uint8_t u8() { return take(1)[0]; }
	std::uint16_t u16()
	{
		const auto v = take(2);
		return static_cast<std::uint16_t>((v[0] << 8) | v[1]);
	}
	std::uint32_t u32()
	{
		const auto v = take(4);
		std::uint32_t x = 0;
		for (const auto c : v)
			x = (x << 8) | c;
		return x;
	}
	std::uint64_t u64()
	{
		const auto v = take(8);
		std::uint64_t x = 0;
		for (const auto c : v)
			x = (x << 8) | c;
		return x;
	}

private:
	ByteView b_;
	std::size_t pos_ = 0;
	const char *what_;
};

/* ---- writing ---- */

inline void put8(Bytes &out, std::uint8_t v)
{
	out.push_back(v);
}

inline void put16(Bytes &out, std::uint16_t v)
{
	out.push_back(static_cast<std::uint8_t>(v >> 8));
	out.push_back(static_cast<std::uint8_t>(v));
}

inline void put32(Bytes &out, std::uint32_t v)
{
	for (int shift = 24; shift >= 0; shift -= 8)
		out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put64(Bytes &out, std::uint64_t v)
{
	for (int shift = 56; shift >= 0; shift -= 8)
		out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put_bytes(Bytes &out, ByteView b)
{
	out.insert(out.end(), b.begin(), b.end());
}

/* The chain of generic headers and bodies; first is the type of the first (ike_payload.cpp). */
Bytes encode_chain(const Payloads &p, PayloadType &first);

} // namespace ntm::ike::detail

#endif
