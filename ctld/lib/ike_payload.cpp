// SPDX-License-Identifier: GPL-2.0
/*
 * IKEv2 payload codec (RFC 7296 section 3.2-3.16): the generic payload
 * header chain and every payload body, plus the Identity, TrafficSelector
 * and Payloads helpers of ntm/ike.hpp. The message header and the
 * Encrypted payload are in ike_message.cpp, names for logs in ike_names.cpp.
 *
 * Parsing reads through a bounds-checked cursor: no length field is trusted,
 * every count is bounded, and every failure is a ParseError. Encoding
 * refuses (std::invalid_argument) whatever the parser would reject, so that
 * whatever parses encodes and parses again to the same payloads.
 */
#include "ntm/ike.hpp"

/*
 * GCC 12 at -O3 (CMAKE_BUILD_TYPE=Release) reports std::string and
 * std::vector internals here as overlapping or out-of-bounds copies (the
 * GCC PR 105329/105651 family of false positives); -O2 builds are clean.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "ike_wire.hpp"
#include "ntm/error.hpp"

namespace ntm::ike {

using namespace detail; /* the codec's shared internals (ike_wire.hpp) */

namespace {

constexpr std::uint8_t kCriticalBit = 0x80;
/* bounds on what one message may hold; far above anything a peer needs */
constexpr std::size_t kMaxPayloads = 128;
constexpr std::size_t kMaxProposals = 64;
constexpr std::size_t kMaxTransforms = 64;
constexpr std::size_t kMaxAttributes = 16;
constexpr std::size_t kMaxSelectors = 64;
constexpr std::size_t kMaxDeleteSpis = 1024;
constexpr std::size_t kMinNonce = 16;
constexpr std::size_t kMaxNonce = 256;
constexpr std::uint8_t kMoreProposals = 2;
constexpr std::uint8_t kMoreTransforms = 3;
constexpr std::uint16_t kAttrTv = 0x8000;
constexpr std::size_t kTsV4Len = 16;
constexpr std::size_t kTsV6Len = 40;

void patch16(Bytes &out, std::size_t at, std::size_t v)
{
	if (v > 0xffff)
		bad_arg("length over 65535");
	out.at(at) = static_cast<std::uint8_t>(v >> 8);
	out.at(at + 1) = static_cast<std::uint8_t>(v);
}

/* ---- rules shared by parser and encoder ---- */

/* SPI sizes (RFC 7296 sections 3.3.1, 3.10, 3.11); nullptr when fine */
const char *proposal_spi_error(Protocol proto, std::size_t size) noexcept
{
	switch (proto) {
	case Protocol::ike:
		return (size == 0 || size == kSpiLen) ? nullptr : "IKE proposal SPI size not 0 or 8";
	case Protocol::ah:
	case Protocol::esp:
		return size == 4 ? nullptr : "ESP/AH proposal SPI size not 4";
	case Protocol::none:
		break;
	}
	return size <= kSpiLen ? nullptr : "proposal SPI size over 8";
}

const char *notify_spi_error(std::size_t size) noexcept
{
	return (size == 0 || size == 4 || size == kSpiLen) ? nullptr : "notify SPI size not 0, 4 or 8";
}

bool known_transform_type(std::uint8_t t) noexcept
{
	return t >= static_cast<std::uint8_t>(TransformType::encr) && t <= static_cast<std::uint8_t>(TransformType::esn);
}

std::size_t id_fixed_len(IdType t) noexcept
{
	switch (t) {
	case IdType::ipv4_addr:
		return 4;
	case IdType::ipv6_addr:
		return 16;
	default:
		return 0;
	}
}

const char *identity_error(const Identity &id) noexcept
{
	if (id.data.empty())
		return "empty identification data";
	const std::size_t fixed = id_fixed_len(id.type);
	if (fixed != 0 && id.data.size() != fixed)
		return "IP address identity of the wrong size";
	return nullptr;
}

const char *ts_error(const TrafficSelector &ts) noexcept
{
	switch (ts.type) {
	case TsType::ipv4_range:
		return (ts.start.is_v4() && ts.end.is_v4()) ? nullptr : "IPv4 selector without IPv4 addresses";
	case TsType::ipv6_range:
		return (ts.start.is_v6() && ts.end.is_v6()) ? nullptr : "IPv6 selector without IPv6 addresses";
	}
	return "unknown traffic selector type";
}

/* ---- payload bodies: parsing ---- */

/* A transform with unknown attributes is rejected (RFC 7296 section 3.3.6). */
std::optional<Transform> parse_transform(Reader &pr, bool &last)
{
	if (pr.left() < 8)
		syntax("SA: truncated transform");
	const std::uint8_t more = pr.u8();
	(void)pr.u8();
	const std::uint16_t len = pr.u16();
	if (more != 0 && more != kMoreTransforms)
		syntax("SA: bad transform substructure type");
	if (len < 8 || len - 4U > pr.left())
		syntax("SA: bad transform length");
	last = more == 0;
	Reader tr(pr.take(len - 4U), "SA transform");
	Transform t;
	t.type = static_cast<TransformType>(tr.u8());
	(void)tr.u8();
	t.id = tr.u16();
	bool understood = true;
	std::size_t nattr = 0;
	while (!tr.done()) {
		if (++nattr > kMaxAttributes)
			syntax("SA: too many transform attributes");
		if (tr.left() < 4)
			syntax("SA: truncated transform attribute");
		const std::uint16_t af_type = tr.u16();
		const bool tv = (af_type & kAttrTv) != 0;
		const auto type = static_cast<std::uint16_t>(af_type & ~kAttrTv);
		std::uint16_t value = 0;
		if (tv) {
			value = tr.u16();
		} else {
			const std::uint16_t alen = tr.u16();
			(void)tr.take(alen);
		}
		if (type == kAttrKeyLength) {
			if (!tv)
				syntax("SA: Key Length attribute not in TV format");
			if (t.key_bits)
				syntax("SA: two Key Length attributes");
			t.key_bits = value;
		} else {
			understood = false;
		}
	}
	if (!understood)
		return std::nullopt;
	return t;
}

std::vector<Proposal> parse_sa(ByteView body)
{
	std::vector<Proposal> out;
	Reader r(body, "SA");
	bool last = r.done();
	std::size_t count = 0;
	while (!last) {
		if (++count > kMaxProposals)
			syntax("SA: too many proposals");
		if (r.left() < 8)
			syntax("SA: truncated proposal");
		const std::uint8_t more = r.u8();
		(void)r.u8();
		const std::uint16_t len = r.u16();
		if (more != 0 && more != kMoreProposals)
			syntax("SA: bad proposal substructure type");
		if (len < 8 || len - 4U > r.left())
			syntax("SA: bad proposal length");
		last = more == 0;
		Reader pr(r.take(len - 4U), "SA proposal");
		Proposal p;
		p.num = pr.u8();
		p.protocol = static_cast<Protocol>(pr.u8());
		const std::uint8_t spi_size = pr.u8();
		const std::uint8_t ntrans = pr.u8();
		if (const char *e = proposal_spi_error(p.protocol, spi_size))
			syntax(std::string("SA: ") + e);
		const auto spi = pr.take(spi_size);
		p.spi.assign(spi.begin(), spi.end());
		if (ntrans > kMaxTransforms)
			syntax("SA: too many transforms");
		bool tlast = ntrans == 0;
		bool unknown_type = false;
		for (std::size_t i = 0; i < ntrans; i++) {
			if (tlast)
				syntax("SA: transform count does not match the last transform");
			auto t = parse_transform(pr, tlast);
			if (!t)
				continue;
			if (!known_transform_type(static_cast<std::uint8_t>(t->type)))
				unknown_type = true;
			else
				p.transforms.push_back(*t);
		}
		if (!tlast || !pr.done())
			syntax("SA: transforms do not fill the proposal");
		/* RFC 7296 section 3.3.6: a proposal with a transform type we do not
		 * know (e.g. RFC 9370 additional key exchanges) cannot be chosen */
		if (!unknown_type)
			out.push_back(std::move(p));
	}
	if (!r.done())
		syntax("SA: bytes after the last proposal");
	return out;
}

KeyExchange parse_ke(ByteView body)
{
	Reader r(body, "KE");
	KeyExchange ke;
	ke.group = static_cast<DhGroup>(r.u16());
	(void)r.u16();
	const auto d = r.rest();
	if (d.empty())
		syntax("KE: no key exchange data");
	ke.data.assign(d.begin(), d.end());
	return ke;
}

Identity parse_id(ByteView body)
{
	Reader r(body, "ID");
	Identity id;
	id.type = static_cast<IdType>(r.u8());
	(void)r.take(3);
	const auto d = r.rest();
	id.data.assign(d.begin(), d.end());
	if (const char *e = identity_error(id))
		syntax(std::string("ID: ") + e);
	return id;
}

Auth parse_auth(ByteView body)
{
	Reader r(body, "AUTH");
	Auth a;
	a.method = static_cast<AuthMethod>(r.u8());
	(void)r.take(3);
	const auto d = r.rest();
	if (d.empty())
		syntax("AUTH: no authentication data");
	a.data.assign(d.begin(), d.end());
	return a;
}

Notify parse_notify(ByteView body)
{
	Reader r(body, "Notify");
	Notify n;
	n.protocol = static_cast<Protocol>(r.u8());
	const std::uint8_t spi_size = r.u8();
	n.type = r.u16();
	if (const char *e = notify_spi_error(spi_size))
		syntax(std::string("Notify: ") + e);
	const auto spi = r.take(spi_size);
	n.spi.assign(spi.begin(), spi.end());
	const auto d = r.rest();
	n.data.assign(d.begin(), d.end());
	return n;
}

Delete parse_delete(ByteView body)
{
	Reader r(body, "Delete");
	Delete d;
	d.protocol = static_cast<Protocol>(r.u8());
	const std::uint8_t spi_size = r.u8();
	const std::uint16_t num = r.u16();
	switch (d.protocol) {
	case Protocol::ike:
		if (spi_size != 0 || num != 0)
			syntax("Delete: IKE SA with SPIs");
		break;
	case Protocol::ah:
	case Protocol::esp:
		if (spi_size != 4)
			syntax("Delete: ESP/AH SPI size not 4");
		if (num == 0 || num > kMaxDeleteSpis)
			syntax("Delete: bad number of SPIs");
		break;
	case Protocol::none:
	default:
		syntax("Delete: unknown protocol");
	}
	if (r.left() != std::size_t{spi_size} * num)
		syntax("Delete: length does not match the SPIs");
	for (std::size_t i = 0; i < num; i++) {
		const auto s = r.take(spi_size);
		d.spis.emplace_back(s.begin(), s.end());
	}
	return d;
}

/* Selectors of unknown types (e.g. RFC 9478 security labels) are skipped. */
std::vector<TrafficSelector> parse_ts(ByteView body, const char *what)
{
	Reader r(body, what);
	const std::uint8_t num = r.u8();
	(void)r.take(3);
	if (num > kMaxSelectors)
		syntax(std::string(what) + ": too many selectors");
	std::vector<TrafficSelector> out;
	for (std::size_t i = 0; i < num; i++) {
		if (r.left() < 4)
			syntax(std::string(what) + ": truncated selector");
		const std::uint8_t type = r.u8();
		const std::uint8_t proto = r.u8();
		const std::uint16_t len = r.u16();
		if (len < 4 || len - 4U > r.left())
			syntax(std::string(what) + ": bad selector length");
		Reader sr(r.take(len - 4U), what);
		std::size_t alen = 0;
		if (type == static_cast<std::uint8_t>(TsType::ipv4_range))
			alen = 4;
		else if (type == static_cast<std::uint8_t>(TsType::ipv6_range))
			alen = 16;
		else
			continue;
		if (len != (alen == 4 ? kTsV4Len : kTsV6Len))
			syntax(std::string(what) + ": bad selector length");
		TrafficSelector ts;
		ts.type = static_cast<TsType>(type);
		ts.ip_proto = proto;
		ts.start_port = sr.u16();
		ts.end_port = sr.u16();
		ts.start = *IpAddress::from_bytes(sr.take(alen));
		ts.end = *IpAddress::from_bytes(sr.take(alen));
		out.push_back(ts);
	}
	if (!r.done())
		syntax(std::string(what) + ": bytes after the last selector");
	return out;
}

template <class T> void set_once(std::optional<T> &slot, T v, const char *what)
{
	if (slot)
		syntax(std::string("two ") + what + " payloads");
	slot = std::move(v);
}

void parse_one(Payloads &p, PayloadType type, bool critical, ByteView body)
{
	switch (type) {
	case PayloadType::sa:
		if (p.has_sa)
			syntax("two SA payloads");
		p.sa = parse_sa(body);
		p.has_sa = true;
		break;
	case PayloadType::ke:
		set_once(p.ke, parse_ke(body), "KE");
		break;
	case PayloadType::idi:
		set_once(p.idi, parse_id(body), "IDi");
		break;
	case PayloadType::idr:
		set_once(p.idr, parse_id(body), "IDr");
		break;
	case PayloadType::cert: {
		Reader r(body, "CERT");
		Cert c;
		c.encoding = static_cast<CertEncoding>(r.u8());
		const auto d = r.rest();
		if (d.empty())
			syntax("CERT: no certificate data");
		c.data.assign(d.begin(), d.end());
		p.certs.push_back(std::move(c));
		break;
	}
	case PayloadType::certreq: {
		Reader r(body, "CERTREQ");
		CertReq c;
		c.encoding = static_cast<CertEncoding>(r.u8());
		const auto d = r.rest();
		c.data.assign(d.begin(), d.end());
		p.certreqs.push_back(std::move(c));
		break;
	}
	case PayloadType::auth:
		set_once(p.auth, parse_auth(body), "AUTH");
		break;
	case PayloadType::nonce:
		if (body.size() < kMinNonce || body.size() > kMaxNonce)
			syntax("Nonce: not 16 to 256 bytes");
		set_once(p.nonce, Bytes(body.begin(), body.end()), "Nonce");
		break;
	case PayloadType::notify:
		p.notifies.push_back(parse_notify(body));
		break;
	case PayloadType::del:
		p.deletes.push_back(parse_delete(body));
		break;
	case PayloadType::vendor:
		p.vendor_ids.emplace_back(body.begin(), body.end());
		break;
	case PayloadType::tsi:
		set_once(p.tsi, parse_ts(body, "TSi"), "TSi");
		break;
	case PayloadType::tsr:
		set_once(p.tsr, parse_ts(body, "TSr"), "TSr");
		break;
	case PayloadType::cp:
		p.has_cp = true;
		break;
	case PayloadType::eap:
		p.has_eap = true;
		break;
	case PayloadType::sk:
	case PayloadType::skf:
		syntax("Encrypted payload where it is not allowed");
	case PayloadType::none:
	default:
		if (critical)
			throw ParseError(NotifyType::unsupported_critical_payload,
					 "unsupported critical payload " + std::to_string(static_cast<unsigned>(type)),
					 Bytes{static_cast<std::uint8_t>(type)});
		break;
	}
}

/* ---- payload bodies: encoding ---- */

struct Item {
	PayloadType type;
	Bytes body;
};

Bytes encode_sa(const std::vector<Proposal> &sa)
{
	if (sa.size() > kMaxProposals)
		bad_arg("too many proposals");
	Bytes out;
	for (std::size_t i = 0; i < sa.size(); i++) {
		const Proposal &p = sa[i];
		if (const char *e = proposal_spi_error(p.protocol, p.spi.size()))
			bad_arg(e);
		if (p.transforms.size() > kMaxTransforms)
			bad_arg("too many transforms");
		const std::size_t start = out.size();
		put8(out, i + 1 == sa.size() ? 0 : kMoreProposals);
		put8(out, 0);
		put16(out, 0);
		put8(out, p.num);
		put8(out, static_cast<std::uint8_t>(p.protocol));
		put8(out, static_cast<std::uint8_t>(p.spi.size()));
		put8(out, static_cast<std::uint8_t>(p.transforms.size()));
		put_bytes(out, p.spi);
		for (std::size_t k = 0; k < p.transforms.size(); k++) {
			const Transform &t = p.transforms[k];
			if (!known_transform_type(static_cast<std::uint8_t>(t.type)))
				bad_arg("unknown transform type");
			put8(out, k + 1 == p.transforms.size() ? 0 : kMoreTransforms);
			put8(out, 0);
			put16(out, t.key_bits ? 12 : 8);
			put8(out, static_cast<std::uint8_t>(t.type));
			put8(out, 0);
			put16(out, t.id);
			if (t.key_bits) {
				put16(out, kAttrTv | kAttrKeyLength);
				put16(out, *t.key_bits);
			}
		}
		patch16(out, start + 2, out.size() - start);
	}
	return out;
}

Bytes encode_id(const Identity &id)
{
	if (const char *e = identity_error(id))
		bad_arg(e);
	return id.body();
}

Bytes encode_notify(const Notify &n)
{
	if (const char *e = notify_spi_error(n.spi.size()))
		bad_arg(e);
	Bytes out;
	put8(out, static_cast<std::uint8_t>(n.protocol));
	put8(out, static_cast<std::uint8_t>(n.spi.size()));
	put16(out, n.type);
	put_bytes(out, n.spi);
	put_bytes(out, n.data);
	return out;
}

Bytes encode_delete(const Delete &d)
{
	Bytes out;
	put8(out, static_cast<std::uint8_t>(d.protocol));
	switch (d.protocol) {
	case Protocol::ike:
		if (!d.spis.empty())
			bad_arg("Delete of an IKE SA carries no SPIs");
		put8(out, 0);
		put16(out, 0);
		return out;
	case Protocol::ah:
	case Protocol::esp:
		if (d.spis.empty() || d.spis.size() > kMaxDeleteSpis)
			bad_arg("bad number of SPIs in Delete");
		put8(out, 4);
		put16(out, static_cast<std::uint16_t>(d.spis.size()));
		for (const auto &s : d.spis) {
			if (s.size() != 4)
				bad_arg("ESP/AH SPI not 4 bytes");
			put_bytes(out, s);
		}
		return out;
	case Protocol::none:
		break;
	}
	bad_arg("Delete of an unknown protocol");
}

Bytes encode_ts(const std::vector<TrafficSelector> &v)
{
	if (v.size() > kMaxSelectors)
		bad_arg("too many traffic selectors");
	Bytes out;
	put8(out, static_cast<std::uint8_t>(v.size()));
	put8(out, 0);
	put16(out, 0);
	for (const auto &ts : v) {
		if (const char *e = ts_error(ts))
			bad_arg(e);
		put8(out, static_cast<std::uint8_t>(ts.type));
		put8(out, ts.ip_proto);
		put16(out, static_cast<std::uint16_t>(ts.type == TsType::ipv4_range ? kTsV4Len : kTsV6Len));
		put16(out, ts.start_port);
		put16(out, ts.end_port);
		put_bytes(out, ts.start.bytes());
		put_bytes(out, ts.end.bytes());
	}
	return out;
}

std::vector<Item> encode_items(const Payloads &p)
{
	std::vector<Item> items;
	const Notify *cookie = p.find(NotifyType::cookie);
	if (cookie != nullptr)
		items.push_back({PayloadType::notify, encode_notify(*cookie)});
	if (p.has_sa || !p.sa.empty())
		items.push_back({PayloadType::sa, encode_sa(p.sa)});
	if (p.ke) {
		if (p.ke->data.empty())
			bad_arg("KE without data");
		Bytes b;
		put16(b, static_cast<std::uint16_t>(p.ke->group));
		put16(b, 0);
		put_bytes(b, p.ke->data);
		items.push_back({PayloadType::ke, std::move(b)});
	}
	if (p.nonce) {
		if (p.nonce->size() < kMinNonce || p.nonce->size() > kMaxNonce)
			bad_arg("nonce not 16 to 256 bytes");
		items.push_back({PayloadType::nonce, *p.nonce});
	}
	if (p.idi)
		items.push_back({PayloadType::idi, encode_id(*p.idi)});
	for (const auto &c : p.certs) {
		if (c.data.empty())
			bad_arg("CERT without data");
		Bytes b{static_cast<std::uint8_t>(c.encoding)};
		put_bytes(b, c.data);
		items.push_back({PayloadType::cert, std::move(b)});
	}
	for (const auto &c : p.certreqs) {
		Bytes b{static_cast<std::uint8_t>(c.encoding)};
		put_bytes(b, c.data);
		items.push_back({PayloadType::certreq, std::move(b)});
	}
	if (p.idr)
		items.push_back({PayloadType::idr, encode_id(*p.idr)});
	if (p.auth) {
		if (p.auth->data.empty())
			bad_arg("AUTH without data");
		Bytes b{static_cast<std::uint8_t>(p.auth->method), 0, 0, 0};
		put_bytes(b, p.auth->data);
		items.push_back({PayloadType::auth, std::move(b)});
	}
	for (const auto &n : p.notifies)
		if (&n != cookie)
			items.push_back({PayloadType::notify, encode_notify(n)});
	for (const auto &d : p.deletes)
		items.push_back({PayloadType::del, encode_delete(d)});
	if (p.tsi)
		items.push_back({PayloadType::tsi, encode_ts(*p.tsi)});
	if (p.tsr)
		items.push_back({PayloadType::tsr, encode_ts(*p.tsr)});
	for (const auto &v : p.vendor_ids)
		items.push_back({PayloadType::vendor, v});
	if (items.size() > kMaxPayloads)
		bad_arg("too many payloads");
	return items;
}

/* ---- text of identities ---- */

std::string hex_of(ByteView b)
{
	static constexpr std::string_view kDigits = "0123456789abcdef";
	std::string s;
	s.reserve(b.size() * 2);
	for (const auto c : b) {
		s.push_back(kDigits[c >> 4]);
		s.push_back(kDigits[c & 0x0f]);
	}
	return s;
}

/* printable ASCII as is, the rest as \xNN (identities go to logs) */
std::string printable(ByteView b)
{
	std::string s;
	for (const auto c : b) {
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			s.push_back(static_cast<char>(c));
		} else {
			std::array<char, 5> buf{};
			(void)std::snprintf(buf.data(), buf.size(), "\\x%02x", c);
			s += buf.data();
		}
	}
	return s;
}

/* ---- address arithmetic for selectors ---- */

using Addr = std::array<std::uint8_t, 16>;

Addr addr_bytes(const IpAddress &a, std::size_t &len)
{
	Addr out{};
	const auto b = a.bytes();
	len = b.size();
	std::copy(b.begin(), b.end(), out.begin());
	return out;
}

IpAddress make_addr(const Addr &a, std::size_t len)
{
	return *IpAddress::from_bytes(ByteView(a.data(), len));
}

std::uint8_t prefix_mask_byte(std::size_t i, unsigned len) noexcept
{
	const std::size_t bits_before = i * 8;
	if (len >= bits_before + 8)
		return 0xff;
	if (len <= bits_before)
		return 0;
	return static_cast<std::uint8_t>(0xff00U >> (len - bits_before));
}

std::string proto_name(std::uint8_t p)
{
	switch (p) {
	case 0:
		return "any";
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "ipv6-icmp";
	default:
		return std::to_string(p);
	}
}

} // namespace

/* The chain of generic headers and bodies; first is the type of the first. */
Bytes detail::encode_chain(const Payloads &p, PayloadType &first)
{
	const auto items = encode_items(p);
	Bytes out;
	first = items.empty() ? PayloadType::none : items.front().type;
	for (std::size_t i = 0; i < items.size(); i++) {
		const Item &it = items[i];
		if (it.body.size() + kGenericLen > kMaxPayloadLen)
			bad_arg("payload over 65535 bytes");
		put8(out, static_cast<std::uint8_t>(i + 1 < items.size() ? items[i + 1].type : PayloadType::none));
		put8(out, 0);
		put16(out, static_cast<std::uint16_t>(it.body.size() + kGenericLen));
		put_bytes(out, it.body);
	}
	return out;
}

/* ---- Identity ---- */

Bytes Identity::body() const
{
	/* sized up front: GCC 12 at -O3 warns (falsely) about insert() into a 4-byte vector */
	Bytes out(4 + data.size(), 0);
	out[0] = static_cast<std::uint8_t>(type);
	std::copy(data.begin(), data.end(), out.begin() + 4);
	return out;
}

std::string Identity::to_string() const
{
	switch (type) {
	case IdType::ipv4_addr:
	case IdType::ipv6_addr:
		if (const auto a = IpAddress::from_bytes(data); a && id_fixed_len(type) == data.size())
			return (type == IdType::ipv4_addr ? "ipv4:" : "ipv6:") + a->to_string();
		return "ip:" + hex_of(data);
	case IdType::fqdn:
		return "fqdn:" + printable(data);
	case IdType::rfc822_addr:
		return "email:" + printable(data);
	case IdType::der_asn1_dn:
		return "dn:" + hex_of(data);
	case IdType::key_id:
		return "keyid:" + hex_of(data);
	}
	return "id" + std::to_string(static_cast<unsigned>(type)) + ":" + hex_of(data);
}

/* ---- TrafficSelector ---- */

TrafficSelector TrafficSelector::any(int af)
{
	std::size_t len = 0;
	if (af == AF_INET)
		len = 4;
	else if (af == AF_INET6)
		len = 16;
	else
		throw std::invalid_argument("TrafficSelector::any: not AF_INET or AF_INET6");
	TrafficSelector ts;
	ts.type = len == 4 ? TsType::ipv4_range : TsType::ipv6_range;
	Addr lo{};
	Addr hi{};
	hi.fill(0xff);
	ts.start = make_addr(lo, len);
	ts.end = make_addr(hi, len);
	return ts;
}

TrafficSelector TrafficSelector::from_prefix(const IpAddress &addr, unsigned len)
{
	std::size_t alen = 0;
	const Addr a = addr_bytes(addr, alen);
	if (alen == 0)
		throw std::invalid_argument("TrafficSelector::from_prefix: no address");
	if (len > alen * 8)
		throw std::invalid_argument("TrafficSelector::from_prefix: prefix length too long");
	Addr lo{};
	Addr hi{};
	for (std::size_t i = 0; i < alen; i++) {
		const std::uint8_t m = prefix_mask_byte(i, len);
		lo.at(i) = static_cast<std::uint8_t>(a.at(i) & m);
		hi.at(i) = static_cast<std::uint8_t>(a.at(i) | static_cast<std::uint8_t>(~m));
	}
	TrafficSelector ts;
	ts.type = alen == 4 ? TsType::ipv4_range : TsType::ipv6_range;
	ts.start = make_addr(lo, alen);
	ts.end = make_addr(hi, alen);
	return ts;
}

std::optional<unsigned> TrafficSelector::prefix_len() const
{
	std::size_t slen = 0;
	std::size_t elen = 0;
	const Addr s = addr_bytes(start, slen);
	const Addr e = addr_bytes(end, elen);
	if (slen == 0 || slen != elen)
		return std::nullopt;
	/* start ^ end must be 0..01..1, start has zeros and end ones there */
	unsigned len = 0;
	bool in_host = false;
	for (std::size_t i = 0; i < slen; i++) {
		for (int bit = 7; bit >= 0; bit--) {
			const bool sb = ((s.at(i) >> bit) & 1) != 0;
			const bool eb = ((e.at(i) >> bit) & 1) != 0;
			if (!in_host && sb == eb) {
				len++;
				continue;
			}
			in_host = true;
			if (sb || !eb)
				return std::nullopt;
		}
	}
	return len;
}

std::string TrafficSelector::to_string() const
{
	/* append() rather than operator+ chains: GCC 12 -O3 -Werror=restrict false positives */
	std::string s = start.to_string();
	if (const auto len = prefix_len()) {
		s.append("/");
		s.append(std::to_string(*len));
	} else {
		s.append("-");
		s.append(end.to_string());
	}
	const bool any_port = start_port == 0 && end_port == 0xffff;
	if (ip_proto == 0 && any_port)
		return s;
	s.append("[");
	s.append(proto_name(ip_proto));
	if (!any_port) {
		s.append("/");
		if (start_port > end_port) {
			s.append("opaque");
		} else {
			s.append(std::to_string(start_port));
			if (start_port != end_port) {
				s.append("-");
				s.append(std::to_string(end_port));
			}
		}
	}
	s.append("]");
	return s;
}

/* ---- Payloads ---- */

const Notify *Payloads::find(NotifyType t) const noexcept
{
	const auto v = static_cast<std::uint16_t>(t);
	const auto it = std::find_if(notifies.begin(), notifies.end(), [v](const Notify &n) { return n.type == v; });
	return it == notifies.end() ? nullptr : &*it;
}

const Notify *Payloads::first_error() const noexcept
{
	const auto it = std::find_if(notifies.begin(), notifies.end(), [](const Notify &n) { return n.is_error(); });
	return it == notifies.end() ? nullptr : &*it;
}

Payloads parse_payloads(PayloadType first, ByteView chain)
{
	Payloads p;
	Reader r(chain, "payload chain");
	PayloadType type = first;
	std::size_t count = 0;
	while (type != PayloadType::none) {
		if (++count > kMaxPayloads)
			syntax("too many payloads");
		if (r.left() < kGenericLen)
			syntax("payload header truncated");
		const auto next = static_cast<PayloadType>(r.u8());
		const bool critical = (r.u8() & kCriticalBit) != 0;
		const std::uint16_t len = r.u16();
		if (len < kGenericLen)
			syntax("payload length under 4");
		if (len - kGenericLen > r.left())
			syntax("payload length past the end of the message");
		parse_one(p, type, critical, r.take(len - kGenericLen));
		type = next;
	}
	if (!r.done())
		syntax("bytes after the last payload");
	return p;
}

Bytes esp_spi_bytes(std::uint32_t spi)
{
	Bytes out;
	put32(out, spi);
	return out;
}

std::optional<std::uint32_t> esp_spi_value(ByteView spi)
{
	if (spi.size() != 4)
		return std::nullopt;
	return (std::uint32_t{spi[0]} << 24) | (std::uint32_t{spi[1]} << 16) | (std::uint32_t{spi[2]} << 8) |
	       std::uint32_t{spi[3]};
}

Bytes ike_spi_bytes(std::uint64_t spi)
{
	Bytes out;
	put64(out, spi);
	return out;
}

std::optional<std::uint64_t> ike_spi_value(ByteView spi)
{
	if (spi.size() != kSpiLen)
		return std::nullopt;
	std::uint64_t v = 0;
	for (const auto b : spi)
		v = (v << 8) | b;
	return v;
}

} // namespace ntm::ike
