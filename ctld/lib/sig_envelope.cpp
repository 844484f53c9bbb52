// SPDX-License-Identifier: GPL-2.0
/*
 * NTMobile signalling v1 (Documentation/protocol/signalling.rst): the sealed
 * UDP envelope, NOTICEs, stream framing and the replay window.
 */
#include "ntm/sig.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "sig_detail.hpp"

namespace ntm::sig {

using detail::aead_open_into;
using detail::aead_seal_into;
using detail::get_be16;
using detail::get_be32;
using detail::get_be64;
using detail::put_be16;
using detail::put_be32;
using detail::put_be64;

namespace {

constexpr std::size_t kNoticeLen = kEnvelopeHeaderLen + 2;

std::array<std::uint8_t, kAeadNonceLen> envelope_nonce(Direction dir, std::uint64_t seq) noexcept
{
	std::array<std::uint8_t, kAeadNonceLen> n{};
	const auto d = static_cast<std::uint32_t>(dir);
	for (std::size_t i = 0; i < 4; i++)
		n.at(i) = static_cast<std::uint8_t>(d >> (24 - 8 * i));
	for (std::size_t i = 0; i < 8; i++)
		n.at(4 + i) = static_cast<std::uint8_t>(seq >> (56 - 8 * i));
	return n;
}

std::array<std::uint8_t, kEnvelopeHeaderLen> header_bytes(Kind kind, std::uint32_t key_id, std::uint64_t seq)
{
	std::vector<std::uint8_t> v;
	v.reserve(kEnvelopeHeaderLen);
	put_be32(v, static_cast<std::uint32_t>(kind));
	put_be32(v, key_id);
	put_be64(v, seq);
	std::array<std::uint8_t, kEnvelopeHeaderLen> h{};
	std::copy(v.begin(), v.end(), h.begin());
	return h;
}

} // namespace

/* ---- envelope ---- */

std::optional<EnvelopeHeader> peek_header(std::span<const std::uint8_t> datagram) noexcept
{
	if (datagram.size() < kEnvelopeHeaderLen)
		return std::nullopt;
	const std::uint32_t kind = get_be32(datagram);
	if (kind != static_cast<std::uint32_t>(Kind::dc) && kind != static_cast<std::uint32_t>(Kind::tun) &&
	    kind != static_cast<std::uint32_t>(Kind::notice))
		return std::nullopt;
	return EnvelopeHeader{static_cast<Kind>(kind), get_be32(datagram.subspan(4)), get_be64(datagram.subspan(8))};
}

std::vector<std::uint8_t> seal(const EnvelopeHeader &h, Direction dir, std::span<const std::uint8_t> key,
			       std::span<const std::uint8_t> body)
{
	if (h.kind != Kind::dc && h.kind != Kind::tun)
		throw std::invalid_argument("only kinds 0x10 and 0x11 are sealed");
	if (h.seq == 0)
		throw std::invalid_argument("sequence number 0 is never sent");
	const auto aad = header_bytes(h.kind, h.key_id, h.seq);
	std::vector<std::uint8_t> out(kEnvelopeHeaderLen + body.size() + kTagLen);
	std::copy(aad.begin(), aad.end(), out.begin());
	aead_seal_into(key, envelope_nonce(dir, h.seq), aad, body, std::span(out).subspan(kEnvelopeHeaderLen));
	return out;
}

std::optional<std::vector<std::uint8_t>> open(std::span<const std::uint8_t> datagram, Direction dir,
					      std::span<const std::uint8_t> key)
{
	if (key.size() != kKeyLen)
		throw std::invalid_argument("envelope key must have " + std::to_string(kKeyLen) + " bytes");
	if (datagram.size() < kEnvelopeHeaderLen + kTagLen)
		return std::nullopt;
	const auto h = peek_header(datagram);
	if (!h || h->kind == Kind::notice || h->seq == 0)
		return std::nullopt;
	const auto sealed = datagram.subspan(kEnvelopeHeaderLen);
	std::vector<std::uint8_t> body(sealed.size() - kTagLen);
	if (!aead_open_into(key, envelope_nonce(dir, h->seq), datagram.first(kEnvelopeHeaderLen), sealed, body))
		return std::nullopt;
	return body;
}

std::vector<std::uint8_t> encode_notice(std::uint32_t key_id, Status s)
{
	if (s != Status::unknown_key && s != Status::key_expired)
		throw std::invalid_argument("a NOTICE carries UNKNOWN_KEY or KEY_EXPIRED");
	const auto h = header_bytes(Kind::notice, key_id, 0);
	std::vector<std::uint8_t> out(h.begin(), h.end());
	put_be16(out, static_cast<std::uint16_t>(s));
	return out;
}

std::optional<Notice> decode_notice(std::span<const std::uint8_t> datagram) noexcept
{
	if (datagram.size() != kNoticeLen)
		return std::nullopt;
	const auto h = peek_header(datagram);
	if (!h || h->kind != Kind::notice || h->seq != 0)
		return std::nullopt;
	const auto s = static_cast<Status>(get_be16(datagram.subspan(kEnvelopeHeaderLen)));
	if (s != Status::unknown_key && s != Status::key_expired)
		return std::nullopt;
	return Notice{h->key_id, s};
}

std::vector<std::uint8_t> frame(std::span<const std::uint8_t> body)
{
	if (body.size() > kMaxFrame)
		throw std::invalid_argument("frame body exceeds " + std::to_string(kMaxFrame) + " bytes");
	std::vector<std::uint8_t> out;
	out.reserve(4 + body.size());
	put_be32(out, static_cast<std::uint32_t>(body.size()));
	out.insert(out.end(), body.begin(), body.end());
	return out;
}

/* ---- replay window ---- */

bool ReplayWindow::check(std::uint64_t seq) const noexcept
{
	if (seq == 0)
		return false;
	if (seq > top_)
		return true;
	const std::uint64_t age = top_ - seq;
	if (age >= 64)
		return false;
	return (bits_ & (std::uint64_t{1} << age)) == 0;
}

void ReplayWindow::restore(std::uint64_t floor) noexcept
{
	top_ = floor;
	bits_ = floor == 0 ? 0 : ~std::uint64_t{0};
}

void ReplayWindow::update(std::uint64_t seq) noexcept
{
	if (seq == 0)
		return;
	if (seq > top_) {
		const std::uint64_t shift = seq - top_;
		bits_ = shift >= 64 ? 1 : ((bits_ << shift) | 1);
		top_ = seq;
		return;
	}
	const std::uint64_t age = top_ - seq;
	if (age < 64)
		bits_ |= std::uint64_t{1} << age;
}

} // namespace ntm::sig
