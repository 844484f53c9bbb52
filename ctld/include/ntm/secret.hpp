// SPDX-License-Identifier: GPL-2.0
/*
 * Buffers for key material: wiped with OPENSSL_cleanse() when freed, also
 * when a std::vector reallocates, so no stale copy survives on the heap.
 * Once init_secure_memory() ran they live in OpenSSL's secure heap: pages
 * marked MADV_DONTDUMP (never in a core dump) and, where the memlock limit
 * allows, locked in RAM (never swapped). See decisions.rst D72.
 */
#ifndef NTM_SECRET_HPP
#define NTM_SECRET_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

namespace ntm {

/** Overwrite memory in a way the optimiser cannot remove. */
void secure_wipe(void *p, std::size_t n) noexcept;
/** Overwrite the characters of a string (best effort for argv copies). */
void secure_wipe(std::string &s) noexcept;

/** What init_secure_memory() achieved. */
enum class SecureMemory {
	off,	      ///< no secure heap: key buffers are on the ordinary heap (still wiped)
	not_locked,   ///< heap excluded from core dumps, but mlock() was refused (RLIMIT_MEMLOCK)
	locked,	      ///< excluded from core dumps and locked in RAM
};

/**
 * Create the process's secure heap of `bytes` (a power of two) for key
 * buffers; call once, before any thread. Idempotent: a second call reports
 * the state of the first.
 */
SecureMemory init_secure_memory(std::size_t bytes) noexcept;

/**
 * Key buffers that did not fit in the secure heap and went to the ordinary
 * heap instead (still wiped when freed), since the start of the process.
 */
std::uint64_t secure_memory_fallbacks() noexcept;

/** Memory for key material: from the secure heap when there is one and it has room. */
void *secret_alloc(std::size_t bytes);
/** Wipe and free memory from secret_alloc(). */
void secret_free(void *p, std::size_t bytes) noexcept;

/**
 * Make the process undumpable: no core dump, no ptrace by other users,
 * /proc/PID/mem and environ readable by root only. Returns false (errno
 * set) when prctl() refused.
 */
bool disable_core_dumps() noexcept;

template <class T> struct ZeroizingAllocator {
	using value_type = T;
	ZeroizingAllocator() noexcept = default;
	template <class U>
	// NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions)
	ZeroizingAllocator(const ZeroizingAllocator<U> & /*other*/) noexcept
	{}
	T *allocate(std::size_t n)
	{
		if (n > SIZE_MAX / sizeof(T))
			throw std::bad_array_new_length();
		return static_cast<T *>(secret_alloc(n * sizeof(T)));
	}
	void deallocate(T *p, std::size_t n) noexcept { secret_free(p, n * sizeof(T)); }
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
 * A transient byte buffer that may hold a password or a key (an encoded
 * or opened signalling body): ordinary heap, wiped when it goes.  Not
 * copyable or movable, so no unwiped copy is left behind by accident.
 */
struct WipedBytes {
	std::vector<std::uint8_t> v;
	WipedBytes() = default;
	explicit WipedBytes(std::vector<std::uint8_t> b) : v(std::move(b)) {}
	WipedBytes(const WipedBytes &) = delete;
	WipedBytes &operator=(const WipedBytes &) = delete;
	WipedBytes(WipedBytes &&) = delete;
	WipedBytes &operator=(WipedBytes &&) = delete;
	~WipedBytes() { secure_wipe(v.data(), v.size()); }
};

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
