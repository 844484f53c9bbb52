// SPDX-License-Identifier: GPL-2.0
/*
 * Builds attribute streams byte by byte the way the kernel does (nla_put,
 * nla_put_u64_64bit with a pad attribute, nla_nest_start with NLA_F_NESTED),
 * independent of libnl, to check the parsers against what ntm.ko will send.
 */
#ifndef NTM_TEST_ATTR_WRITER_HPP
#define NTM_TEST_ATTR_WRITER_HPP

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace ntmtest {

class AttrWriter {
	static constexpr std::size_t kHdr = 4; /* NLA_HDRLEN */
	static constexpr std::size_t align(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

public:
	/* base: offset of the stream in the skb (nlmsghdr 16 + genlmsghdr 4) */
	explicit AttrWriter(std::size_t base = 20) : base_(base) {}

	AttrWriter &put(int type, std::span<const std::uint8_t> payload)
	{
		const std::size_t len = kHdr + payload.size();
		const std::size_t start = buf_.size();
		buf_.resize(start + align(len), 0);
		const nlattr hdr{static_cast<std::uint16_t>(len), static_cast<std::uint16_t>(type)};
		static_assert(sizeof(hdr) == kHdr);
		std::memcpy(buf_.data() + start, &hdr, sizeof(hdr));
		if (!payload.empty())
			std::memcpy(buf_.data() + start + kHdr, payload.data(), payload.size());
		return *this;
	}
	AttrWriter &put_raw(int type, const void *p, std::size_t n)
	{
		return put(type, {static_cast<const std::uint8_t *>(p), n});
	}
	template <class T> AttrWriter &put_int(int type, T v) { return put_raw(type, &v, sizeof(v)); }
	AttrWriter &put_u16(int type, std::uint16_t v) { return put_int(type, v); }
	AttrWriter &put_u32(int type, std::uint32_t v) { return put_int(type, v); }
	AttrWriter &put_s32(int type, std::int32_t v) { return put_int(type, v); }
	AttrWriter &put_string(int type, const std::string &s) { return put_raw(type, s.c_str(), s.size() + 1); }
	AttrWriter &put_flag(int type) { return put(type, {}); }

	/* nla_put_u64_64bit(): a zero-length pad attribute first if needed */
	AttrWriter &put_u64_64bit(int type, std::uint64_t v, int padtype)
	{
		if ((base_ + buf_.size() + kHdr) % 8 != 0)
			put(padtype, {});
		return put_int(type, v);
	}

	std::size_t nest_start(int type)
	{
		const std::size_t start = buf_.size();
		put(type | NLA_F_NESTED, {});
		return start;
	}
	void nest_end(std::size_t start)
	{
		const auto len = static_cast<std::uint16_t>(buf_.size() - start);
		std::memcpy(buf_.data() + start, &len, sizeof(len));
	}

	[[nodiscard]] const std::vector<std::uint8_t> &bytes() const { return buf_; }
	[[nodiscard]] std::span<const std::uint8_t> span() const { return {buf_.data(), buf_.size()}; }

private:
	std::size_t base_;
	std::vector<std::uint8_t> buf_;
};

} // namespace ntmtest

#endif
