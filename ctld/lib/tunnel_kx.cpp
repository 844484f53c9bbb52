// SPDX-License-Identifier: GPL-2.0
/*
 * The tunnel key exchange of Documentation/protocol/tunnel-keys.rst (see
 * ntm/tunnel_kx.hpp). X25519 and SHA-256 are ike_crypto's (ike::DhKey,
 * ike::sha256), HKDF and HMAC-SHA256 the signalling library's: nothing here
 * talks to OpenSSL directly.
 */
#include "ntm/tunnel_kx.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include <sys/socket.h>

#include "ntm/ike_crypto.hpp"

namespace ntm::kx {

namespace {

constexpr std::string_view kLabelRequest = "ntm tunnel request";
constexpr std::string_view kLabelResponse = "ntm tunnel response";
constexpr std::string_view kLabelConfirm = "ntm tunnel confirm";
constexpr std::string_view kInfoAuth = "ntm tunnel auth";
constexpr std::string_view kInfoDataKey = "ntm data key";
constexpr std::string_view kInfoOpenerSalt = "ntm opener salt";
constexpr std::string_view kInfoWaiterSalt = "ntm waiter salt";
constexpr std::string_view kInfoConfirmKey = "ntm confirm key";
/* a waiter draws again when the salts collide (probability 2^-32 each) */
constexpr int kSaltAttempts = 4;

std::span<const std::uint8_t> bytes_of(std::string_view s) noexcept
{
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
	return {reinterpret_cast<const std::uint8_t *>(s.data()), s.size()};
}

class Out {
public:
	void raw(std::span<const std::uint8_t> b) { v_.insert(v_.end(), b.begin(), b.end()); }
	void u8(std::uint8_t x) { v_.push_back(x); }
	void u32(std::uint32_t x)
	{
		for (int shift = 24; shift >= 0; shift -= 8)
			v_.push_back(static_cast<std::uint8_t>(x >> shift));
	}
	/* u8 length | bytes (names, addresses: at most 253 bytes) */
	void lv(std::span<const std::uint8_t> b)
	{
		u8(static_cast<std::uint8_t>(b.size()));
		raw(b);
	}
	void address(const std::optional<IpAddress> &a, int family)
	{
		if (!a) {
			u8(0);
			return;
		}
		if (a->family() != family)
			throw std::invalid_argument("transcript: a virtual address of the wrong family");
		lv(a->bytes());
	}
	void party(const Party &p)
	{
		if (!sig::valid_dns_name(p.fqdn))
			throw std::invalid_argument("transcript: '" + p.fqdn + "' is not a valid DNS name");
		lv(bytes_of(p.fqdn));
	}
	std::vector<std::uint8_t> take() noexcept { return std::exchange(v_, {}); }

private:
	std::vector<std::uint8_t> v_;
};

void need_public(std::span<const std::uint8_t> k)
{
	if (k.size() != sig::kEphemeralLen)
		throw std::invalid_argument("an ephemeral key has " + std::to_string(sig::kEphemeralLen) + " bytes");
}

Mac mac(const SecretBytes &key, std::span<const std::uint8_t> data)
{
	return sig::hmac_sha256(key.span(), data);
}

Mac to_mac(const ike::Bytes &b)
{
	Mac m{};
	std::copy_n(b.begin(), m.size(), m.begin());
	return m;
}

ike::DhKey make_key(std::span<const std::uint8_t> private_key)
{
	if (private_key.empty())
		return ike::DhKey::generate(ike::DhGroup::curve25519);
	return ike::DhKey::from_private(ike::DhGroup::curve25519, private_key);
}

/* The X25519 result with the peer's key; a low-order peer key (all-zero result) throws. */
SecretBytes x25519(const ike::DhKey &mine, std::span<const std::uint8_t> peer, sig::Status on_error)
{
	try {
		return mine.shared(peer);
	} catch (const ike::CryptoError &e) {
		throw KxError(on_error, std::string("peer's ephemeral key refused: ") + e.what());
	}
}

} // namespace

/* ---- building blocks ---- */

std::vector<std::uint8_t> request_transcript(const Context &c, std::uint32_t opener_index,
					     std::span<const std::uint8_t> opener_ephemeral)
{
	need_public(opener_ephemeral);
	Out o;
	o.raw(bytes_of(kLabelRequest));
	o.u32(c.comm_id);
	o.u32(c.generation);
	o.party(c.opener);
	o.party(c.waiter);
	o.u32(opener_index);
	o.u8(c.cipher);
	o.address(c.opener.vip4, AF_INET);
	o.address(c.opener.vip6, AF_INET6);
	o.address(c.waiter.vip4, AF_INET);
	o.address(c.waiter.vip6, AF_INET6);
	o.raw(opener_ephemeral);
	return o.take();
}

std::vector<std::uint8_t> response_transcript(std::span<const std::uint8_t> t_req, std::uint32_t waiter_index,
					      std::span<const std::uint8_t> waiter_ephemeral)
{
	need_public(waiter_ephemeral);
	Out o;
	o.raw(bytes_of(kLabelResponse));
	o.raw(ike::sha256({t_req}));
	o.u32(waiter_index);
	o.raw(waiter_ephemeral);
	return o.take();
}

Mac transcript_hash(std::span<const std::uint8_t> t_req, std::span<const std::uint8_t> t_resp)
{
	return to_mac(ike::sha256({t_req, t_resp}));
}

SecretBytes auth_key(std::span<const std::uint8_t> k_tmp, std::uint32_t comm_id)
{
	if (k_tmp.size() != sig::kKeyLen)
		throw std::invalid_argument("K_tmp must have " + std::to_string(sig::kKeyLen) + " bytes");
	const std::array<std::uint8_t, 4> salt{static_cast<std::uint8_t>(comm_id >> 24),
					       static_cast<std::uint8_t>(comm_id >> 16),
					       static_cast<std::uint8_t>(comm_id >> 8), static_cast<std::uint8_t>(comm_id)};
	return sig::hkdf_sha256(k_tmp, salt, bytes_of(kInfoAuth), sig::kKeyLen);
}

TunnelKeys derive_keys(std::span<const std::uint8_t> shared, const Mac &th)
{
	const SecretBytes prk = sig::hkdf_extract(th, shared);
	TunnelKeys k;
	k.data_key = sig::hkdf_expand(prk.span(), bytes_of(kInfoDataKey), sig::kKeyLen);
	const SecretBytes os = sig::hkdf_expand(prk.span(), bytes_of(kInfoOpenerSalt), NTM_SALT_LEN);
	const SecretBytes ws = sig::hkdf_expand(prk.span(), bytes_of(kInfoWaiterSalt), NTM_SALT_LEN);
	std::copy_n(os.data(), NTM_SALT_LEN, k.opener_salt.begin());
	std::copy_n(ws.data(), NTM_SALT_LEN, k.waiter_salt.begin());
	k.confirm_key = sig::hkdf_expand(prk.span(), bytes_of(kInfoConfirmKey), sig::kKeyLen);
	return k;
}

Mac compute_confirm(const TunnelKeys &k, const Mac &th)
{
	if (k.confirm_key.size() != sig::kKeyLen)
		throw std::invalid_argument("confirmation key must have " + std::to_string(sig::kKeyLen) + " bytes");
	std::vector<std::uint8_t> data(kLabelConfirm.begin(), kLabelConfirm.end());
	data.insert(data.end(), th.begin(), th.end());
	return mac(k.confirm_key, data);
}

/* ---- opener ---- */

struct Opener::State {
	Context ctx;
	SecretBytes k_auth;
	std::uint32_t index = 0;
	ike::DhKey key;
	std::vector<std::uint8_t> t_req;
	Mac auth{};
};

Opener::Opener(Context c, std::span<const std::uint8_t> k_tmp, std::uint32_t opener_index)
    : Opener(std::move(c), k_tmp, opener_index, {})
{}

Opener::Opener(Context c, std::span<const std::uint8_t> k_tmp, std::uint32_t opener_index,
	       std::span<const std::uint8_t> private_key)
    : s_(std::make_unique<State>())
{
	s_->k_auth = auth_key(k_tmp, c.comm_id);
	s_->index = opener_index;
	s_->key = make_key(private_key);
	s_->t_req = request_transcript(c, opener_index, s_->key.public_value());
	s_->auth = mac(s_->k_auth, s_->t_req);
	s_->ctx = std::move(c);
}

Opener::~Opener() = default;
Opener::Opener(Opener &&) noexcept = default;
Opener &Opener::operator=(Opener &&) noexcept = default;

void Opener::fill_request(sig::Message &req) const
{
	const auto &c = s_->ctx;
	req.fqdn = c.opener.fqdn;
	req.index = s_->index;
	req.cipher = c.cipher;
	req.vip4 = c.opener.vip4;
	req.vip6 = c.opener.vip6;
	req.generation = c.generation;
	const auto &pub = s_->key.public_value();
	req.ephemeral.assign(pub.begin(), pub.end());
	req.auth.assign(s_->auth.begin(), s_->auth.end());
}

TunnelKeys Opener::finish(const sig::Message &resp) const
{
	if (!resp.index || resp.ephemeral.size() != sig::kEphemeralLen || resp.auth.size() != sig::kAuthLen ||
	    resp.confirm.size() != sig::kConfirmLen)
		throw KxError(sig::Status::malformed, "tunnel response without INDEX, EPHEMERAL, AUTH or CONFIRM");
	const auto t_resp = response_transcript(s_->t_req, *resp.index, resp.ephemeral);
	/* authenticate first: no X25519 work for a response that is not the waiter's */
	if (!sig::mac_equal(mac(s_->k_auth, t_resp), resp.auth))
		throw KxError(sig::Status::auth_failed, "tunnel response: AUTH does not verify");
	const SecretBytes shared = x25519(s_->key, resp.ephemeral, sig::Status::auth_failed);
	const Mac th = transcript_hash(s_->t_req, t_resp);
	TunnelKeys k = derive_keys(shared.span(), th);
	if (!sig::mac_equal(compute_confirm(k, th), resp.confirm))
		throw KxError(sig::Status::auth_failed, "tunnel response: key confirmation failed");
	if (k.opener_salt == k.waiter_salt)
		throw KxError(sig::Status::auth_failed, "tunnel response: the waiter kept equal salts");
	return k;
}

/* ---- waiter ---- */

struct Waiter::State {
	Context ctx;
	SecretBytes k_auth;
	std::uint32_t opener_index = 0;
	std::vector<std::uint8_t> opener_ephemeral;
	std::vector<std::uint8_t> t_req;
};

Waiter::Waiter(const sig::Message &req, std::uint32_t comm_id, Party waiter_party,
	       std::span<const std::uint8_t> k_tmp)
    : s_(std::make_unique<State>())
{
	if (!req.index || !req.cipher || !req.generation || req.ephemeral.size() != sig::kEphemeralLen ||
	    req.auth.size() != sig::kAuthLen)
		throw KxError(sig::Status::malformed, "tunnel request without INDEX, CIPHER, GENERATION, EPHEMERAL or AUTH");
	auto &c = s_->ctx;
	c.comm_id = comm_id;
	c.generation = *req.generation;
	c.opener = Party{req.fqdn, req.vip4, req.vip6};
	c.waiter = std::move(waiter_party);
	c.cipher = *req.cipher;
	s_->opener_index = *req.index;
	s_->opener_ephemeral = req.ephemeral;
	s_->k_auth = auth_key(k_tmp, comm_id);
	try {
		s_->t_req = request_transcript(c, s_->opener_index, s_->opener_ephemeral);
	} catch (const std::invalid_argument &e) {
		throw KxError(sig::Status::malformed, e.what());
	}
	if (!sig::mac_equal(mac(s_->k_auth, s_->t_req), req.auth))
		throw KxError(sig::Status::auth_failed, "AUTH does not verify");
}

Waiter::~Waiter() = default;
Waiter::Waiter(Waiter &&) noexcept = default;
Waiter &Waiter::operator=(Waiter &&) noexcept = default;

const Context &Waiter::context() const noexcept
{
	return s_->ctx;
}

TunnelKeys Waiter::answer(std::uint32_t waiter_index, sig::Message &resp, std::span<const std::uint8_t> private_key)
{
	for (int attempt = 0; attempt < kSaltAttempts; attempt++) {
		const ike::DhKey key = make_key(private_key);
		const SecretBytes shared = x25519(key, s_->opener_ephemeral, sig::Status::malformed);
		const auto &pub = key.public_value();
		const auto t_resp = response_transcript(s_->t_req, waiter_index, pub);
		const Mac th = transcript_hash(s_->t_req, t_resp);
		TunnelKeys k = derive_keys(shared.span(), th);
		if (k.opener_salt == k.waiter_salt) {
			if (!private_key.empty())
				break;
			continue; /* a new key pair, a new transcript, new salts */
		}
		const Mac auth = mac(s_->k_auth, t_resp);
		const Mac confirm = compute_confirm(k, th);
		resp.index = waiter_index;
		resp.ephemeral.assign(pub.begin(), pub.end());
		resp.auth.assign(auth.begin(), auth.end());
		resp.confirm.assign(confirm.begin(), confirm.end());
		return k;
	}
	throw KxError(sig::Status::internal, "equal direction salts");
}

} // namespace ntm::kx
