// SPDX-License-Identifier: GPL-2.0
/*
 * Buffers for key material: wiped with OPENSSL_cleanse() when freed, also
 * when a std::vector reallocates, so no stale copy survives on the heap.
 */
#ifndef NTM_SECRET_HPP
#define NTM_SECRET_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ntm {

/** Overwrite memory in a way the optimiser cannot remove. */
void secure_wipe(void *p, std::size_t n) noexcept;
/** Overwrite the characters of a string (best effort for argv copies). */
void secure_wipe(std::string &s) noexcept;

template <class T> struct ZeroizingAllocator {
	using value_type = T;
	ZeroizingAllocator() noexcept = default;
	template <class U>
	// NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions)
	ZeroizingAllocator(const ZeroizingAllocator<U> & /*other*/) noexcept
	{}
	T *allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
	void deallocate(T *p, std::size_t n) noexcept
	{
		secure_wipe(p, n * sizeof(T));
		std::allocator<T>{}.deallocate(p, n);
	}
	template <class U> bool operator==(const ZeroizingAllocator<U> & /*other*/) const noexcept { return true; }
};

/** Bytes of key material. Copyable (deep copy), movable, wiped on destruction. */
class SecretBytes {
public:
	SecretBytes() = default;
	explicit SecretBytes(std::size_t n) : buf_(n) {}
	explicit SecretBytes(std::span<const std::uint8_t> data) : buf_(data.begin(), data.end()) {}

	[[nodiscard]] std::uint8_t *data() noexcept { return buf_.data(); }
	[[nodiscard]] const std::uint8_t *data() const noexcept { return buf_.data(); }
	[[nodiscard]] std::size_t size() const noexcept { return buf_.size(); }
	[[nodiscard]] bool empty() const noexcept { return buf_.empty(); }
	[[nodiscard]] std::span<const std::uint8_t> span() const noexcept { return {buf_.data(), buf_.size()}; }
	[[nodiscard]] std::span<std::uint8_t> span() noexcept { return {buf_.data(), buf_.size()}; }
	void clear() noexcept { buf_.clear(); }

	friend bool operator==(const SecretBytes &a, const SecretBytes &b) noexcept;

private:
	std::vector<std::uint8_t, ZeroizingAllocator<std::uint8_t>> buf_;
};

/** Text that may hold key material (the contents of a key file). No SSO. */
using SecretText = std::vector<char, ZeroizingAllocator<char>>;

/**
 * Up to max_bytes from fd (fewer at end of file) into wiped memory; what
 * names the source in errors ("key file /etc/ntm/key: ...").
 */
SecretText read_secret(int fd, std::size_t max_bytes, const std::string &what);

/**
 * The first line (without "\n" or "\r\n") of a password file, which must
 * be a regular file that neither group nor others may access. Throws
 * ntm::Error naming the file: missing, not a regular file, "accessible by
 * group or others (chmod 600 FILE)", empty, or a first line longer than
 * max_len bytes.
 */
SecretText read_password_file(const std::string &path, std::size_t max_len);

} // namespace ntm

#endif
