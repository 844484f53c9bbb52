// SPDX-License-Identifier: GPL-2.0
#include "ntm/kdf.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <utility>
#include <vector>

#include "ntm/error.hpp"
#include "ossl.hpp"

namespace ntm::kdf {

namespace {

constexpr std::string_view kPrefix = "$scrypt$";
constexpr std::size_t kMinStoredSalt = 8;
constexpr std::size_t kMaxStoredSalt = 64;
constexpr std::size_t kMinStoredHash = 16;
constexpr std::size_t kMaxStoredHash = 64;

/* Bytes of working memory scrypt needs: B (128 r p) and V (128 r (N + 2)). */
std::uint64_t memory_needed(std::uint64_t n, std::uint64_t r, std::uint64_t p) noexcept
{
	return 128 * r * (n + 2 + p);
}

bool params_in_bounds(unsigned ln, unsigned r, unsigned p) noexcept
{
	return ln >= kMinLn && ln <= kMaxLn && r >= 1 && r <= kMaxR && p >= 1 && p <= kMaxP &&
	       memory_needed(std::uint64_t{1} << ln, r, p) <= kMaxMemory;
}

std::string describe(std::uint64_t n, std::uint32_t r, std::uint32_t p)
{
	return "N=" + std::to_string(n) + " r=" + std::to_string(r) + " p=" + std::to_string(p);
}

bool is_b64_char(char c) noexcept
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

std::string b64_encode(std::span<const std::uint8_t> in)
{
	std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's text is unsigned char
	auto *text = reinterpret_cast<unsigned char *>(out.data());
	const int n = EVP_EncodeBlock(text, in.data(), static_cast<int>(in.size()));
	out.resize(static_cast<std::size_t>(n));
	while (!out.empty() && out.back() == '=')
		out.pop_back();
	return out;
}

/* Unpadded base64 -> bytes; nullopt for anything else (bad characters, length, non-zero trailing bits). */
std::optional<std::vector<std::uint8_t>> b64_decode(std::string_view in)
{
	if (in.empty() || in.size() % 4 == 1 || !std::ranges::all_of(in, is_b64_char))
		return std::nullopt;
	const std::size_t pad = (4 - in.size() % 4) % 4;
	std::string padded(in);
	padded.append(pad, '=');
	std::vector<std::uint8_t> out(padded.size() / 4 * 3);
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's text is unsigned char
	const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char *>(padded.data()),
				      static_cast<int>(padded.size()));
	if (n < 0 || static_cast<std::size_t>(n) != out.size())
		return std::nullopt;
	out.resize(out.size() - pad);
	/* canonical form only: what we would have written */
	if (b64_encode(out) != in)
		return std::nullopt;
	return out;
}

/* "15" -> 15: digits only, no leading zero, at most max. */
std::optional<unsigned> parse_small(std::string_view s, unsigned max) noexcept
{
	if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0'))
		return std::nullopt;
	unsigned v = 0;
	const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc{} || ptr != s.data() + s.size() || v > max)
		return std::nullopt;
	return v;
}

struct Parsed {
	config::Scrypt params;
	std::vector<std::uint8_t> salt;
	std::vector<std::uint8_t> hash;
};

/* Splits s at the first sep: head returned, s keeps the rest (or is empty). */
std::string_view take(std::string_view &s, char sep) noexcept
{
	const auto i = s.find(sep);
	const auto head = s.substr(0, i);
	s = i == std::string_view::npos ? std::string_view{} : s.substr(i + 1);
	return head;
}

std::optional<config::Scrypt> parse_param_list(std::string_view s) noexcept
{
	/* exactly ln=A,r=B,p=C in this order */
	constexpr std::array<std::string_view, 3> kNames{"ln=", "r=", "p="};
	constexpr std::array<unsigned, 3> kMax{kMaxLn, kMaxR, kMaxP};
	std::array<unsigned, 3> v{};
	for (std::size_t i = 0; i < kNames.size(); i++) {
		const bool last = i + 1 == kNames.size();
		if (!last && s.find(',') == std::string_view::npos)
			return std::nullopt;
		auto item = last ? std::exchange(s, {}) : take(s, ',');
		if (!item.starts_with(kNames.at(i)))
			return std::nullopt;
		const auto n = parse_small(item.substr(kNames.at(i).size()), kMax.at(i));
		if (!n)
			return std::nullopt;
		v.at(i) = *n;
	}
	if (!params_in_bounds(v[0], v[1], v[2]))
		return std::nullopt;
	return config::Scrypt{v[0], v[1], v[2]};
}

std::optional<Parsed> parse_stored(std::string_view s)
{
	if (!s.starts_with(kPrefix))
		return std::nullopt;
	s.remove_prefix(kPrefix.size());
	if (std::ranges::count(s, '$') != 2)
		return std::nullopt;
	const auto params = take(s, '$');
	const auto salt = take(s, '$');
	const auto hash = s;
	Parsed p;
	const auto pp = parse_param_list(params);
	if (!pp)
		return std::nullopt;
	p.params = *pp;
	auto salt_b = b64_decode(salt);
	auto hash_b = b64_decode(hash);
	if (!salt_b || !hash_b || salt_b->size() < kMinStoredSalt || salt_b->size() > kMaxStoredSalt ||
	    hash_b->size() < kMinStoredHash || hash_b->size() > kMaxStoredHash)
		return std::nullopt;
	p.salt = std::move(*salt_b);
	p.hash = std::move(*hash_b);
	return p;
}

std::string format_stored(const config::Scrypt &params, std::span<const std::uint8_t> salt,
			  std::span<const std::uint8_t> hash)
{
	return std::string(kPrefix) + "ln=" + std::to_string(params.n_log2) + ",r=" + std::to_string(params.r) +
	       ",p=" + std::to_string(params.p) + "$" + b64_encode(salt) + "$" + b64_encode(hash);
}

} // namespace

SecretBytes scrypt_raw(std::string_view password, std::span<const std::uint8_t> salt, std::uint64_t n, std::uint32_t r,
		       std::uint32_t p, std::size_t out_len)
{
	if (n < 2 || (n & (n - 1)) != 0)
		throw Error("scrypt: N must be a power of two greater than 1");
	if (r == 0 || p == 0 || out_len == 0)
		throw Error("scrypt: r, p and the output length must not be zero");
	if (n > (std::uint64_t{1} << 32) || r > 1024 || p > 1024 || memory_needed(n, r, p) > kMaxMemory)
		throw Error("scrypt: " + describe(n, r, p) + " needs more than the " +
			    std::to_string(kMaxMemory >> 20) + " MiB limit");

	const ossl::Ptr<EVP_KDF> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_SCRYPT, nullptr));
	if (!kdf)
		throw Error("scrypt: not available in OpenSSL");
	const ossl::Ptr<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(kdf.get()));
	if (!ctx)
		throw Error("scrypt: out of memory");

	/* OpenSSL copies the buffers; a zero-length password still needs a valid pointer */
	static const char kEmpty = '\0';
	std::uint64_t n_v = n;
	std::uint32_t r_v = r;
	std::uint32_t p_v = p;
	std::uint64_t maxmem = kMaxMemory;
	std::array<OSSL_PARAM, 7> params{
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
						  const_cast<char *>(password.empty() ? &kEmpty : password.data()),
						  password.size()),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
						  const_cast<std::uint8_t *>(salt.data()), salt.size()),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n_v),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r_v),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p_v),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};
	SecretBytes out(out_len);
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1)
		throw Error("scrypt: derivation failed (" + describe(n, r, p) + ")");
	return out;
}

std::string hash_password(std::string_view password, const config::Scrypt &params)
{
	if (!params_in_bounds(params.n_log2, params.r, params.p))
		throw Error("scrypt parameters ln=" + std::to_string(params.n_log2) + " r=" + std::to_string(params.r) +
			    " p=" + std::to_string(params.p) + " out of range (ln 1.." + std::to_string(kMaxLn) +
			    ", r 1.." + std::to_string(kMaxR) + ", p 1.." + std::to_string(kMaxP) + ", at most " +
			    std::to_string(kMaxMemory >> 20) + " MiB of memory)");
	std::array<std::uint8_t, kSaltLen> salt{};
	if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
		throw Error("scrypt: no random bytes for the salt");
	const auto hash = scrypt_raw(password, salt, std::uint64_t{1} << params.n_log2, params.r, params.p, kHashLen);
	return format_stored(params, salt, hash.span());
}

bool verify_password(std::string_view password, std::string_view stored)
{
	std::optional<Parsed> p;
	try {
		p = parse_stored(stored);
	} catch (const std::bad_alloc &) {
		return false;
	}
	if (!p)
		return false;
	const auto got =
		scrypt_raw(password, p->salt, std::uint64_t{1} << p->params.n_log2, p->params.r, p->params.p, kHashLen);
	/*
	 * Only our own length verifies. A shorter stored hash would otherwise
	 * match a prefix of the real one (scrypt's output prefix does not
	 * depend on the length asked for): a truncated row, or a base64 tail
	 * that happens to decode, must not become an easier password.
	 */
	return p->hash.size() == kHashLen && CRYPTO_memcmp(got.data(), p->hash.data(), kHashLen) == 0;
}

std::optional<config::Scrypt> parse_params(std::string_view stored) noexcept
{
	try {
		const auto p = parse_stored(stored);
		if (!p)
			return std::nullopt;
		return p->params;
	} catch (...) {
		return std::nullopt;
	}
}

std::string dummy_hash(const config::Scrypt &params)
{
	/* any fixed salt and output: finding a password for them is a preimage attack on scrypt */
	constexpr std::array<std::uint8_t, kSaltLen> kSalt{0x6e, 0x74, 0x6d, 0x2d, 0x64, 0x75, 0x6d, 0x6d,
							   0x79, 0x2d, 0x73, 0x61, 0x6c, 0x74, 0x2d, 0x31};
	std::array<std::uint8_t, kHashLen> hash{};
	hash.fill(0xa5);
	return format_stored(params, kSalt, hash);
}

} // namespace ntm::kdf
