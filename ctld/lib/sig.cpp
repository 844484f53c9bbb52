// SPDX-License-Identifier: GPL-2.0
/*
 * NTMobile signalling v1 (Documentation/protocol/signalling.rst): the TLV
 * body codec -- names, encoding, decoding and the checks every message
 * passes.  The sealed envelope, NOTICEs and the replay window are in
 * sig_envelope.cpp; the cryptographic primitives in sig_crypto.cpp.
 */
#include "ntm/sig.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <string>
#include <utility>

#include "ntm/error.hpp"
#include "sig_detail.hpp"

namespace ntm::sig {

static_assert(NTM_SALT_LEN == 4, "the spec derives two 4-byte salts");

namespace {

constexpr std::uint16_t kMaxTlvType = static_cast<std::uint16_t>(Tlv::generation);
/* the relay TLVs, a block of their own (relay.rst) */
constexpr std::uint16_t kRelayTlvMin = static_cast<std::uint16_t>(Tlv::relay_ep);
constexpr std::uint16_t kRelayTlvMax = static_cast<std::uint16_t>(Tlv::nat_mapping);
constexpr std::array<std::string_view, kRelayTlvMax - kRelayTlvMin + 1> kRelayTlvNames{
	"RELAY_EP", "LEG", "CAPACITY", "SESSIONS", "OBSERVED_EP", "PEER_LOCAL_EP", "PROBE_NONCE", "PATH", "NAT_MAPPING",
};

bool relay_tlv(std::uint16_t type) noexcept
{
	return type >= kRelayTlvMin && type <= kRelayTlvMax;
}
constexpr std::size_t kTlvHeaderLen = 4;
constexpr std::size_t kMaxCiphers = 8;

using detail::be32_bytes;
using detail::get_be16;
using detail::get_be32;
using detail::put_be16;
using detail::put_be32;

/* ---- names ---- */

constexpr std::array<std::string_view, kMaxTlvType + 1> kTlvNames{
	"TLV 0",    "STATUS",	 "ERROR_TEXT", "ACCOUNT", "PASSWORD", "FQDN",	 "KEY_ID",    "KEY",
	"LIFETIME", "PEER_FQDN", "VIP4",       "VIP6",	  "POOL4",    "POOL6",	 "LOCAL_EP",  "EXTERNAL_EP",
	"INTERVAL", "COMM_ID",	 "K_TUN",      "K_TMP",	  "ACTION",   "PEER_EP", "PEER_VIP4", "PEER_VIP6",
	"CIPHERS",  "CIPHER",	 "TLV 26",     "INDEX",	  "CONFIRM",  "NATED",	 "EPHEMERAL", "AUTH",
	"GENERATION",
};

std::string tlv_name(Tlv t)
{
	const auto i = static_cast<std::uint16_t>(t);
	if (i >= 1 && i <= kMaxTlvType)
		return std::string(kTlvNames.at(i));
	if (relay_tlv(i))
		return std::string(kRelayTlvNames.at(i - kRelayTlvMin));
	return "TLV " + std::to_string(i);
}

bool known_type(MsgType t) noexcept
{
	const auto v = static_cast<std::uint8_t>(t);
	return v >= static_cast<std::uint8_t>(MsgType::login) && v <= static_cast<std::uint8_t>(MsgType::probe);
}

/* ---- field checks shared by encode and decode ---- */

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without U+0000, which no name or password contains and which
 * would cut C strings short. */
bool valid_text(std::span<const std::uint8_t> s) noexcept
{
	std::size_t i = 0;
	while (i < s.size()) {
		const std::uint8_t c = s[i];
		std::size_t n = 0;
		std::uint32_t cp = 0;
		std::uint32_t min = 0;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1fU;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0fU;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07U;
			min = 0x10000;
		} else {
			return false;
		}
		if (s.size() - i <= n)
			return false;
		for (std::size_t k = 1; k <= n; k++) {
			const std::uint8_t cc = s[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3fU);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

std::span<const std::uint8_t> text_bytes(std::string_view s) noexcept
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	return {reinterpret_cast<const std::uint8_t *>(s.data()), s.size()};
}

bool valid_cipher(std::uint8_t c) noexcept
{
	return c == NTM_CIPHER_AES_GCM || c == NTM_CIPHER_CHACHA20_POLY1305;
}

bool valid_action(std::uint8_t a) noexcept
{
	return a == static_cast<std::uint8_t>(Action::open) || a == static_cast<std::uint8_t>(Action::wait);
}

/* all bits after the first len bits are zero */
bool host_bits_zero(std::span<const std::uint8_t> addr, std::size_t len) noexcept
{
	for (std::size_t i = 0; i < addr.size(); i++) {
		const std::size_t first = i * 8; /* bit number of the byte's MSB */
		std::uint8_t mask = 0xff;
		if (first + 8 <= len)
			continue;
		if (first < len)
			mask = static_cast<std::uint8_t>(0xffU >> (len - first));
		if ((addr[i] & mask) != 0)
			return false;
	}
	return true;
}

/* ---- encoding ---- */

/*
 * Builds a body in one buffer reserved up front (no reallocation leaves a
 * stale copy of a key on the heap) and wipes it unless it was handed out.
 */
class Writer {
public:
	Writer() { out_.reserve(kMaxBody); }
	Writer(const Writer &) = delete;
	Writer &operator=(const Writer &) = delete;
	~Writer() { secure_wipe(out_.data(), out_.size()); }

	void raw(std::span<const std::uint8_t> b)
	{
		if (b.size() > kMaxBody - out_.size())
			throw std::invalid_argument("signalling body exceeds " + std::to_string(kMaxBody) + " bytes");
		out_.insert(out_.end(), b.begin(), b.end());
	}
	void tlv(Tlv t, std::span<const std::uint8_t> value)
	{
		if (value.size() > kMaxTlvValue)
			throw std::invalid_argument(tlv_name(t) + " value exceeds " + std::to_string(kMaxTlvValue) +
						    " bytes");
		std::array<std::uint8_t, kTlvHeaderLen> h{};
		const auto type = static_cast<std::uint16_t>(t);
		const auto len = static_cast<std::uint16_t>(value.size());
		h[0] = static_cast<std::uint8_t>(type >> 8);
		h[1] = static_cast<std::uint8_t>(type);
		h[2] = static_cast<std::uint8_t>(len >> 8);
		h[3] = static_cast<std::uint8_t>(len);
		raw(h);
		raw(value);
	}
	void u8(Tlv t, std::uint8_t v) { tlv(t, std::array<std::uint8_t, 1>{v}); }
	void u16(Tlv t, std::uint16_t v)
	{
		tlv(t, std::array<std::uint8_t, 2>{static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
	}
	void u32(Tlv t, std::uint32_t v) { tlv(t, be32_bytes(v)); }
	void nonzero_u32(Tlv t, const std::optional<std::uint32_t> &v)
	{
		if (!v)
			return;
		if (*v == 0)
			throw std::invalid_argument(tlv_name(t) + " must not be 0");
		u32(t, *v);
	}
	void text(Tlv t, std::span<const std::uint8_t> s)
	{
		if (s.empty())
			return;
		if (s.size() > kMaxTlvValue || !valid_text(s))
			throw std::invalid_argument(tlv_name(t) + " is not UTF-8 text of 1.." +
						    std::to_string(kMaxTlvValue) + " bytes");
		tlv(t, s);
	}
	void dns_name(Tlv t, const std::string &name)
	{
		if (name.empty())
			return;
		if (!valid_dns_name(name))
			throw std::invalid_argument(tlv_name(t) + " is not a valid DNS name");
		tlv(t, text_bytes(name));
	}
	void fixed(Tlv t, std::span<const std::uint8_t> b, std::size_t len)
	{
		if (b.empty())
			return;
		if (b.size() != len)
			throw std::invalid_argument(tlv_name(t) + " must have " + std::to_string(len) + " bytes");
		tlv(t, b);
	}
	void address(Tlv t, const std::optional<IpAddress> &a, int family)
	{
		if (!a)
			return;
		if (a->family() != family)
			throw std::invalid_argument(tlv_name(t) + " has the wrong address family");
		tlv(t, a->bytes());
	}
	void prefix(Tlv t, const std::optional<Prefix> &p, int family)
	{
		if (!p)
			return;
		const auto bytes = p->addr.bytes();
		if (p->addr.family() != family || p->len > bytes.size() * 8 || !host_bits_zero(bytes, p->len))
			throw std::invalid_argument(tlv_name(t) + " is not a valid network prefix");
		std::array<std::uint8_t, 17> v{};
		std::copy(bytes.begin(), bytes.end(), v.begin());
		v.at(bytes.size()) = p->len;
		tlv(t, std::span<const std::uint8_t>(v.data(), bytes.size() + 1));
	}
	void endpoint(Tlv t, const Endpoint &ep)
	{
		const IpAddress a = ep.address();
		const auto bytes = a.bytes();
		if (!a.is_v4() && !a.is_v6())
			throw std::invalid_argument(tlv_name(t) + " has no address");
		std::array<std::uint8_t, 19> v{};
		v[0] = a.is_v4() ? 4 : 6;
		std::copy(bytes.begin(), bytes.end(), v.begin() + 1);
		v.at(bytes.size() + 1) = static_cast<std::uint8_t>(ep.port() >> 8);
		v.at(bytes.size() + 2) = static_cast<std::uint8_t>(ep.port());
		tlv(t, std::span<const std::uint8_t>(v.data(), bytes.size() + 3));
	}

	std::vector<std::uint8_t> take() noexcept { return std::exchange(out_, {}); }

private:
	std::vector<std::uint8_t> out_;
};

/* ---- decoding ---- */

[[noreturn]] void malformed(const std::string &what)
{
	throw ParseError(Status::malformed, what);
}

void need_len(Tlv t, std::span<const std::uint8_t> v, std::size_t len)
{
	if (v.size() != len)
		malformed(tlv_name(t) + " has " + std::to_string(v.size()) + " bytes, expected " + std::to_string(len));
}

std::uint32_t dec_nonzero_u32(Tlv t, std::span<const std::uint8_t> v)
{
	need_len(t, v, 4);
	const std::uint32_t x = get_be32(v);
	if (x == 0)
		malformed(tlv_name(t) + " is 0");
	return x;
}

void dec_text_check(Tlv t, std::span<const std::uint8_t> v)
{
	if (v.empty() || !valid_text(v))
		malformed(tlv_name(t) + " is not UTF-8 text of 1.." + std::to_string(kMaxTlvValue) + " bytes");
}

std::string dec_text(Tlv t, std::span<const std::uint8_t> v)
{
	dec_text_check(t, v);
	return {v.begin(), v.end()};
}

std::string dec_dns_name(Tlv t, std::span<const std::uint8_t> v)
{
	std::string name(v.begin(), v.end());
	if (!valid_dns_name(name))
		malformed(tlv_name(t) + " is not a valid DNS name");
	return name;
}

SecretBytes dec_key(Tlv t, std::span<const std::uint8_t> v)
{
	need_len(t, v, kKeyLen);
	return SecretBytes(v);
}

IpAddress dec_address(Tlv t, std::span<const std::uint8_t> v, std::size_t len)
{
	need_len(t, v, len);
	return *IpAddress::from_bytes(v);
}

Prefix dec_prefix(Tlv t, std::span<const std::uint8_t> v, std::size_t addr_len)
{
	need_len(t, v, addr_len + 1);
	const auto addr = v.first(addr_len);
	const std::uint8_t len = v[addr_len];
	if (len > addr_len * 8)
		malformed(tlv_name(t) + " prefix length " + std::to_string(len) + " is too long");
	if (!host_bits_zero(addr, len))
		malformed(tlv_name(t) + " has host bits set");
	return Prefix{*IpAddress::from_bytes(addr), len};
}

Endpoint dec_endpoint(Tlv t, std::span<const std::uint8_t> v)
{
	if (v.size() != 7 && v.size() != 19)
		malformed(tlv_name(t) + " has " + std::to_string(v.size()) + " bytes, expected 7 or 19");
	const std::size_t alen = v.size() - 3;
	if ((v[0] != 4 || alen != 4) && (v[0] != 6 || alen != 16))
		malformed(tlv_name(t) + " has a bad address family " + std::to_string(v[0]));
	return {*IpAddress::from_bytes(v.subspan(1, alen)), get_be16(v.subspan(1 + alen))};
}

std::uint8_t dec_u8(Tlv t, std::span<const std::uint8_t> v)
{
	need_len(t, v, 1);
	return v[0];
}

/* Stores one known TLV's value in m. */
void decode_tlv(Message &m, Tlv t, std::span<const std::uint8_t> v)
{
	switch (t) {
	case Tlv::status:
		need_len(t, v, 2);
		m.status = static_cast<Status>(get_be16(v));
		break;
	case Tlv::error_text:
		m.error_text = dec_text(t, v);
		break;
	case Tlv::account:
		m.account = dec_text(t, v);
		break;
	case Tlv::password:
		dec_text_check(t, v);
		m.password.assign(v.begin(), v.end());
		break;
	case Tlv::fqdn:
		m.fqdn = dec_dns_name(t, v);
		break;
	case Tlv::key_id:
		m.key_id = dec_nonzero_u32(t, v);
		break;
	case Tlv::key:
		m.key = dec_key(t, v);
		break;
	case Tlv::lifetime:
		need_len(t, v, 4);
		m.lifetime = get_be32(v);
		break;
	case Tlv::peer_fqdn:
		m.peer_fqdn = dec_dns_name(t, v);
		break;
	case Tlv::vip4:
		m.vip4 = dec_address(t, v, 4);
		break;
	case Tlv::vip6:
		m.vip6 = dec_address(t, v, 16);
		break;
	case Tlv::pool4:
		m.pool4 = dec_prefix(t, v, 4);
		break;
	case Tlv::pool6:
		m.pool6 = dec_prefix(t, v, 16);
		break;
	case Tlv::local_ep:
		m.local_eps.push_back(dec_endpoint(t, v));
		break;
	case Tlv::external_ep:
		m.external_ep = dec_endpoint(t, v);
		break;
	case Tlv::interval:
		need_len(t, v, 2);
		m.interval = get_be16(v);
		break;
	case Tlv::comm_id:
		m.comm_id = dec_nonzero_u32(t, v);
		break;
	case Tlv::k_tun:
		m.k_tun = dec_key(t, v);
		break;
	case Tlv::k_tmp:
		m.k_tmp = dec_key(t, v);
		break;
	case Tlv::action: {
		const std::uint8_t a = dec_u8(t, v);
		if (!valid_action(a))
			malformed("ACTION " + std::to_string(a) + " is not OPEN or WAIT");
		m.action = static_cast<Action>(a);
		break;
	}
	case Tlv::peer_ep:
		m.peer_ep = dec_endpoint(t, v);
		break;
	case Tlv::peer_vip4:
		m.peer_vip4 = dec_address(t, v, 4);
		break;
	case Tlv::peer_vip6:
		m.peer_vip6 = dec_address(t, v, 16);
		break;
	case Tlv::ciphers:
		if (v.empty() || v.size() > kMaxCiphers || !std::all_of(v.begin(), v.end(), valid_cipher))
			malformed("CIPHERS is not a list of 1.." + std::to_string(kMaxCiphers) + " known ciphers");
		m.ciphers.assign(v.begin(), v.end());
		break;
	case Tlv::cipher: {
		const std::uint8_t c = dec_u8(t, v);
		if (!valid_cipher(c))
			malformed("CIPHER " + std::to_string(c) + " is unknown");
		m.cipher = c;
		break;
	}
	case Tlv::index:
		m.index = dec_nonzero_u32(t, v);
		break;
	case Tlv::confirm:
		need_len(t, v, kConfirmLen);
		m.confirm.assign(v.begin(), v.end());
		break;
	case Tlv::nated: {
		const std::uint8_t n = dec_u8(t, v);
		if (n > 1)
			malformed("NATED " + std::to_string(n) + " is not 0 or 1");
		m.nated = n == 1;
		break;
	}
	case Tlv::ephemeral:
		need_len(t, v, kEphemeralLen);
		m.ephemeral.assign(v.begin(), v.end());
		break;
	case Tlv::auth:
		need_len(t, v, kAuthLen);
		m.auth.assign(v.begin(), v.end());
		break;
	case Tlv::generation:
		need_len(t, v, 4);
		m.generation = get_be32(v);
		break;
	default: /* the relay block: decode_relay_tlv(); 26 never reaches here */
		break;
	}
}

template <typename E>
E dec_enum(Tlv t, std::span<const std::uint8_t> v, std::uint8_t min, std::uint8_t max)
{
	const std::uint8_t x = dec_u8(t, v);
	if (x < min || x > max)
		malformed(tlv_name(t) + " " + std::to_string(x) + " is out of range");
	return static_cast<E>(x);
}

/* Stores one relay TLV's value in m (relay.rst). */
void decode_relay_tlv(Message &m, Tlv t, std::span<const std::uint8_t> v)
{
	switch (t) {
	case Tlv::relay_ep: {
		const auto ep = dec_endpoint(t, v);
		if (m.relay_eps.size() >= kMaxRelayEps ||
		    std::ranges::any_of(m.relay_eps, [&](const Endpoint &e) { return e.family() == ep.family(); }))
			malformed("RELAY_EP more than once per family");
		m.relay_eps.push_back(ep);
		break;
	}
	case Tlv::leg:
		m.leg = dec_enum<Leg>(t, v, 1, 2);
		break;
	case Tlv::capacity:
		need_len(t, v, 4);
		m.capacity = get_be32(v);
		break;
	case Tlv::sessions:
		need_len(t, v, 4);
		m.sessions = get_be32(v);
		break;
	case Tlv::observed_ep:
		m.observed_ep = dec_endpoint(t, v);
		break;
	case Tlv::peer_local_ep:
		if (m.peer_local_eps.size() >= kMaxPeerLocalEps)
			malformed("more than " + std::to_string(kMaxPeerLocalEps) + " PEER_LOCAL_EP");
		m.peer_local_eps.push_back(dec_endpoint(t, v));
		break;
	case Tlv::probe_nonce:
		need_len(t, v, kProbeNonceLen);
		m.probe_nonce.assign(v.begin(), v.end());
		break;
	case Tlv::path:
		m.path = dec_enum<Path>(t, v, 1, 3);
		break;
	case Tlv::nat_mapping:
		m.nat_mapping = dec_enum<NatMapping>(t, v, 0, 2);
		break;
	default:
		break;
	}
}

/* ---- validation ---- */

class Requirements {
public:
	explicit Requirements(const Message &m) : m_(m) {}
	void need(bool present, std::string_view what) const
	{
		if (!present)
			malformed(message_name(m_.type, m_.response) + " without " + std::string(what));
	}

private:
	const Message &m_;
};

void validate_route(const Message &m, const Requirements &r)
{
	r.need(m.action.has_value(), "ACTION");
	r.need(m.comm_id.has_value(), "COMM_ID");
	r.need(!m.k_tun.empty(), "K_TUN");
	r.need(!m.k_tmp.empty(), "K_TMP");
	r.need(m.cipher.has_value(), "CIPHER");
	r.need(!m.peer_fqdn.empty(), "PEER_FQDN");
	r.need(m.peer_ep.has_value(), "PEER_EP");
	r.need(m.peer_vip4 || m.peer_vip6, "PEER_VIP4 or PEER_VIP6");
	if (m.path == Path::relay || m.path == Path::relay_only)
		r.need(!m.relay_eps.empty(), "RELAY_EP (PATH is relay)");
}

void validate_request(const Message &m, const Requirements &r)
{
	switch (m.type) {
	case MsgType::login:
		/* password mode sends both, public-key mode neither */
		if (m.account.empty() != m.password.empty())
			malformed("login request with only one of ACCOUNT and PASSWORD");
		break;
	case MsgType::key_distribution:
		r.need(m.key_id.has_value(), "KEY_ID");
		r.need(!m.key.empty(), "KEY");
		r.need(m.lifetime.has_value(), "LIFETIME");
		r.need(!m.fqdn.empty(), "FQDN");
		break;
	case MsgType::registration:
		r.need(!m.fqdn.empty(), "FQDN");
		break;
	case MsgType::keepalive:
	case MsgType::deregistration:
		break;
	case MsgType::direction: {
		const int n = static_cast<int>(!m.peer_fqdn.empty()) + static_cast<int>(m.peer_vip4.has_value()) +
			      static_cast<int>(m.peer_vip6.has_value());
		if (n != 1)
			malformed("direction request needs exactly one of PEER_FQDN, PEER_VIP4, PEER_VIP6");
		break;
	}
	case MsgType::route_direction:
		validate_route(m, r);
		break;
	case MsgType::key_sharing:
		r.need(!m.fqdn.empty(), "FQDN");
		break;
	case MsgType::relay_direction:
		r.need(m.comm_id.has_value(), "COMM_ID");
		r.need(!m.k_tun.empty(), "K_TUN");
		r.need(m.lifetime.has_value(), "LIFETIME");
		r.need(!m.fqdn.empty(), "FQDN");
		r.need(!m.peer_fqdn.empty(), "PEER_FQDN");
		r.need(m.external_ep.has_value(), "EXTERNAL_EP");
		r.need(m.peer_ep.has_value(), "PEER_EP");
		if (!m.k_tmp.empty())
			malformed("relay direction with K_TMP: a relay never receives it");
		break;
	case MsgType::relay_release:
		r.need(m.comm_id.has_value(), "COMM_ID");
		break;
	case MsgType::relay_bind:
		r.need(m.leg.has_value(), "LEG");
		break;
	case MsgType::probe:
		r.need(!m.probe_nonce.empty(), "PROBE_NONCE");
		break;
	case MsgType::tunnel:
		r.need(!m.fqdn.empty(), "FQDN");
		r.need(m.index.has_value(), "INDEX");
		r.need(m.cipher.has_value(), "CIPHER");
		r.need(m.vip4 || m.vip6, "VIP4 or VIP6");
		r.need(!m.ephemeral.empty(), "EPHEMERAL");
		r.need(!m.auth.empty(), "AUTH");
		r.need(m.generation.has_value(), "GENERATION");
		break;
	}
}

void validate_ok_response(const Message &m, const Requirements &r)
{
	switch (m.type) {
	case MsgType::login:
		r.need(m.key_id.has_value(), "KEY_ID");
		r.need(!m.key.empty(), "KEY");
		r.need(m.lifetime.has_value(), "LIFETIME");
		r.need(!m.fqdn.empty(), "FQDN");
		break;
	case MsgType::registration:
		r.need(m.vip4 || m.vip6, "VIP4 or VIP6");
		r.need(m.pool4 || m.pool6, "POOL4 or POOL6");
		r.need(m.external_ep.has_value(), "EXTERNAL_EP");
		r.need(m.nated.has_value(), "NATED");
		r.need(m.interval.has_value(), "INTERVAL");
		r.need(m.lifetime.has_value(), "LIFETIME");
		break;
	case MsgType::direction:
		validate_route(m, r);
		break;
	case MsgType::tunnel:
		r.need(m.index.has_value(), "INDEX");
		r.need(!m.ephemeral.empty(), "EPHEMERAL");
		r.need(!m.auth.empty(), "AUTH");
		r.need(!m.confirm.empty(), "CONFIRM");
		break;
	case MsgType::key_sharing:
		r.need(m.capacity.has_value(), "CAPACITY");
		r.need(m.sessions.has_value(), "SESSIONS");
		r.need(!m.relay_eps.empty(), "RELAY_EP");
		break;
	case MsgType::relay_direction:
		r.need(!m.relay_eps.empty(), "RELAY_EP");
		break;
	case MsgType::relay_bind:
		r.need(m.observed_ep.has_value(), "OBSERVED_EP");
		break;
	case MsgType::probe:
		r.need(!m.probe_nonce.empty(), "PROBE_NONCE");
		break;
	case MsgType::key_distribution:
	case MsgType::keepalive:
	case MsgType::route_direction:
	case MsgType::deregistration:
	case MsgType::relay_release:
		break;
	}
}
/* The relay block, after every other TLV (types 40..48). */
void encode_relay_tlvs(Writer &w, const Message &m)
{
	if (m.relay_eps.size() > kMaxRelayEps ||
	    (m.relay_eps.size() == 2 && m.relay_eps[0].family() == m.relay_eps[1].family()))
		throw std::invalid_argument("RELAY_EP: at most one per family");
	for (const auto &ep : m.relay_eps)
		w.endpoint(Tlv::relay_ep, ep);
	if (m.leg)
		w.u8(Tlv::leg, static_cast<std::uint8_t>(*m.leg));
	if (m.capacity)
		w.u32(Tlv::capacity, *m.capacity);
	if (m.sessions)
		w.u32(Tlv::sessions, *m.sessions);
	if (m.observed_ep)
		w.endpoint(Tlv::observed_ep, *m.observed_ep);
	if (m.peer_local_eps.size() > kMaxPeerLocalEps)
		throw std::invalid_argument("more than " + std::to_string(kMaxPeerLocalEps) + " PEER_LOCAL_EP");
	for (const auto &ep : m.peer_local_eps)
		w.endpoint(Tlv::peer_local_ep, ep);
	w.fixed(Tlv::probe_nonce, m.probe_nonce, kProbeNonceLen);
	if (m.path)
		w.u8(Tlv::path, static_cast<std::uint8_t>(*m.path));
	if (m.nat_mapping)
		w.u8(Tlv::nat_mapping, static_cast<std::uint8_t>(*m.nat_mapping));
}

} // namespace

/* ---- names ---- */

std::string_view msg_type_name(MsgType t) noexcept
{
	switch (t) {
	case MsgType::login:
		return "login";
	case MsgType::key_distribution:
		return "key distribution";
	case MsgType::registration:
		return "registration";
	case MsgType::keepalive:
		return "keepalive";
	case MsgType::direction:
		return "direction";
	case MsgType::route_direction:
		return "route direction";
	case MsgType::tunnel:
		return "tunnel";
	case MsgType::deregistration:
		return "deregistration";
	case MsgType::key_sharing:
		return "key sharing";
	case MsgType::relay_direction:
		return "relay direction";
	case MsgType::relay_release:
		return "relay release";
	case MsgType::relay_bind:
		return "relay bind";
	case MsgType::probe:
		return "probe";
	}
	return "unknown";
}

std::string_view status_name(Status s) noexcept
{
	switch (s) {
	case Status::ok:
		return "OK";
	case Status::malformed:
		return "MALFORMED";
	case Status::unsupported_version:
		return "UNSUPPORTED_VERSION";
	case Status::unsupported_tlv:
		return "UNSUPPORTED_TLV";
	case Status::auth_failed:
		return "AUTH_FAILED";
	case Status::unknown_key:
		return "UNKNOWN_KEY";
	case Status::key_expired:
		return "KEY_EXPIRED";
	case Status::not_found:
		return "NOT_FOUND";
	case Status::peer_offline:
		return "PEER_OFFLINE";
	case Status::no_route:
		return "NO_ROUTE";
	case Status::pool_exhausted:
		return "POOL_EXHAUSTED";
	case Status::dc_unreachable:
		return "DC_UNREACHABLE";
	case Status::not_registered:
		return "NOT_REGISTERED";
	case Status::internal:
		return "INTERNAL";
	case Status::fqdn_mismatch:
		return "FQDN_MISMATCH";
	case Status::key_id_in_use:
		return "KEY_ID_IN_USE";
	}
	return "UNKNOWN_STATUS";
}

std::string message_name(MsgType t, bool response)
{
	switch (t) {
	case MsgType::login:
		return response ? "login response" : "login request";
	case MsgType::key_distribution:
		return response ? "ntm ack" : "key distribution";
	case MsgType::registration:
		return response ? "registration response" : "registration request";
	case MsgType::keepalive:
		return response ? "keepalive ack" : "keepalive";
	case MsgType::direction:
		return response ? "route direction" : "direction request";
	case MsgType::route_direction:
		return response ? "route direction ack" : "route direction";
	case MsgType::tunnel:
		return response ? "tunnel response" : "tunnel request";
	case MsgType::deregistration:
		return response ? "deregistration ack" : "deregistration";
	case MsgType::key_sharing:
		return response ? "key sharing ack" : "key sharing";
	case MsgType::relay_direction:
		return response ? "relay direction ack" : "relay direction";
	case MsgType::relay_release:
		return response ? "relay release ack" : "relay release";
	case MsgType::relay_bind:
		return response ? "relay bind ack" : "relay bind";
	case MsgType::probe:
		return response ? "probe ack" : "probe";
	}
	return std::string("message type ") + std::to_string(static_cast<unsigned>(t)) +
	       (response ? " response" : " request");
}

Message make_response(const Message &req, Status s, std::string error_text)
{
	Message r;
	r.type = req.type;
	r.response = true;
	r.txid = req.txid;
	r.status = s;
	r.error_text = std::move(error_text);
	return r;
}

/* ---- body ---- */

bool valid_dns_name(std::string_view name) noexcept
{
	if (name.empty() || name.size() > 253)
		return false;
	std::size_t label = 0;
	for (const char c : name) {
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

std::optional<BodyHeader> peek_body(std::span<const std::uint8_t> body) noexcept
{
	if (body.size() < kBodyHeaderLen)
		return std::nullopt;
	return BodyHeader{body[0], body[1], (body[2] & kFlagResponse) != 0, get_be32(body.subspan(4))};
}

std::vector<std::uint8_t> encode(const Message &m)
{
	if (!known_type(m.type))
		throw std::invalid_argument("unknown message type " + std::to_string(static_cast<unsigned>(m.type)));
	if (m.txid == 0)
		throw std::invalid_argument("transaction id must not be 0");

	Writer w;
	std::array<std::uint8_t, kBodyHeaderLen> h{};
	h[0] = kVersion;
	h[1] = static_cast<std::uint8_t>(m.type);
	h[2] = m.response ? kFlagResponse : 0;
	const auto txid = be32_bytes(m.txid);
	std::copy(txid.begin(), txid.end(), h.begin() + 4);
	w.raw(h);

	/* in the order of the TLV types */
	if (m.status)
		w.u16(Tlv::status, static_cast<std::uint16_t>(*m.status));
	w.text(Tlv::error_text, text_bytes(m.error_text));
	w.text(Tlv::account, text_bytes(m.account));
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	w.text(Tlv::password, {reinterpret_cast<const std::uint8_t *>(m.password.data()), m.password.size()});
	w.dns_name(Tlv::fqdn, m.fqdn);
	w.nonzero_u32(Tlv::key_id, m.key_id);
	w.fixed(Tlv::key, m.key.span(), kKeyLen);
	if (m.lifetime)
		w.u32(Tlv::lifetime, *m.lifetime);
	w.dns_name(Tlv::peer_fqdn, m.peer_fqdn);
	w.address(Tlv::vip4, m.vip4, AF_INET);
	w.address(Tlv::vip6, m.vip6, AF_INET6);
	w.prefix(Tlv::pool4, m.pool4, AF_INET);
	w.prefix(Tlv::pool6, m.pool6, AF_INET6);
	for (const auto &ep : m.local_eps)
		w.endpoint(Tlv::local_ep, ep);
	if (m.external_ep)
		w.endpoint(Tlv::external_ep, *m.external_ep);
	if (m.interval)
		w.u16(Tlv::interval, *m.interval);
	w.nonzero_u32(Tlv::comm_id, m.comm_id);
	w.fixed(Tlv::k_tun, m.k_tun.span(), kKeyLen);
	w.fixed(Tlv::k_tmp, m.k_tmp.span(), kKeyLen);
	if (m.action) {
		const auto a = static_cast<std::uint8_t>(*m.action);
		if (!valid_action(a))
			throw std::invalid_argument("ACTION " + std::to_string(a) + " is not OPEN or WAIT");
		w.u8(Tlv::action, a);
	}
	if (m.peer_ep)
		w.endpoint(Tlv::peer_ep, *m.peer_ep);
	w.address(Tlv::peer_vip4, m.peer_vip4, AF_INET);
	w.address(Tlv::peer_vip6, m.peer_vip6, AF_INET6);
	if (!m.ciphers.empty()) {
		if (m.ciphers.size() > kMaxCiphers || !std::all_of(m.ciphers.begin(), m.ciphers.end(), valid_cipher))
			throw std::invalid_argument("CIPHERS must list 1.." + std::to_string(kMaxCiphers) +
						    " known ciphers");
		w.tlv(Tlv::ciphers, m.ciphers);
	}
	if (m.cipher) {
		if (!valid_cipher(*m.cipher))
			throw std::invalid_argument("CIPHER " + std::to_string(*m.cipher) + " is unknown");
		w.u8(Tlv::cipher, *m.cipher);
	}
	w.nonzero_u32(Tlv::index, m.index);
	w.fixed(Tlv::confirm, m.confirm, kConfirmLen);
	if (m.nated)
		w.u8(Tlv::nated, *m.nated ? 1 : 0);
	w.fixed(Tlv::ephemeral, m.ephemeral, kEphemeralLen);
	w.fixed(Tlv::auth, m.auth, kAuthLen);
	if (m.generation)
		w.u32(Tlv::generation, *m.generation);
	encode_relay_tlvs(w, m);
	return w.take();
}

Message decode(std::span<const std::uint8_t> body)
{
	if (body.size() < kBodyHeaderLen)
		malformed("body of " + std::to_string(body.size()) + " bytes is shorter than its header");
	if (body[0] != kVersion)
		throw ParseError(Status::unsupported_version, "version " + std::to_string(body[0]) + " is not 1");
	if (body.size() > kMaxBody)
		malformed("body of " + std::to_string(body.size()) + " bytes exceeds " + std::to_string(kMaxBody));

	Message m;
	m.type = static_cast<MsgType>(body[1]);
	if (!known_type(m.type))
		malformed("unknown message type " + std::to_string(body[1]));
	m.response = (body[2] & kFlagResponse) != 0;
	m.txid = get_be32(body.subspan(4));
	if (m.txid == 0)
		malformed("transaction id 0");

	std::uint64_t seen = 0; /* bit t: TLV type t already present */
	auto rest = body.subspan(kBodyHeaderLen);
	while (!rest.empty()) {
		if (rest.size() < kTlvHeaderLen)
			malformed("truncated TLV header");
		const std::uint16_t raw_type = get_be16(rest);
		const std::uint16_t len = get_be16(rest.subspan(2));
		if (len > kMaxTlvValue)
			malformed("TLV value of " + std::to_string(len) + " bytes exceeds " +
				  std::to_string(kMaxTlvValue));
		if (len > rest.size() - kTlvHeaderLen)
			malformed("TLV runs past the end of the body");
		const auto value = rest.subspan(kTlvHeaderLen, len);
		rest = rest.subspan(kTlvHeaderLen + len);

		const auto type = static_cast<std::uint16_t>(raw_type & ~kTlvCritical);
		if (relay_tlv(type)) {
			const auto t = static_cast<Tlv>(type);
			const std::uint64_t bit = std::uint64_t{1} << type;
			if ((seen & bit) != 0 && t != Tlv::relay_ep && t != Tlv::peer_local_ep)
				malformed("duplicate " + tlv_name(t));
			seen |= bit;
			decode_relay_tlv(m, t, value);
			continue;
		}
		if (type == 0 || type > kMaxTlvType || type == static_cast<std::uint16_t>(Tlv::reserved_sealed_key)) {
			if ((raw_type & kTlvCritical) != 0)
				throw ParseError(Status::unsupported_tlv,
						 "unknown critical TLV " + std::to_string(type));
			continue;
		}
		const auto t = static_cast<Tlv>(type);
		const std::uint64_t bit = std::uint64_t{1} << type;
		if ((seen & bit) != 0 && t != Tlv::local_ep)
			malformed("duplicate " + tlv_name(t));
		seen |= bit;
		decode_tlv(m, t, value);
	}
	return m;
}

void validate(const Message &m)
{
	if (!known_type(m.type))
		malformed("unknown message type " + std::to_string(static_cast<unsigned>(m.type)));
	const Requirements r(m);
	if (!m.response) {
		validate_request(m, r);
		return;
	}
	r.need(m.status.has_value(), "STATUS");
	if (*m.status == Status::ok)
		validate_ok_response(m, r);
}

} // namespace ntm::sig
