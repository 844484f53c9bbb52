// SPDX-License-Identifier: GPL-2.0
#include "ntm/secret.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ntm/error.hpp"
#include "ntm/handle.hpp"

namespace ntm {

void secure_wipe(void *p, std::size_t n) noexcept
{
	if (p != nullptr && n > 0)
		OPENSSL_cleanse(p, n);
}

void secure_wipe(std::string &s) noexcept
{
	secure_wipe(s.data(), s.size());
	s.clear();
}

namespace {

std::atomic<std::uint64_t> g_fallbacks{0};
/* the smallest block the secure heap hands out; keys are 16..64 bytes */
constexpr std::size_t kSecureMinBlock = 32;

} // namespace

SecureMemory init_secure_memory(std::size_t bytes) noexcept
{
	static const SecureMemory state = [bytes] {
		/* 1: heap created and locked; 2: created, but mlock() failed */
		switch (CRYPTO_secure_malloc_init(bytes, kSecureMinBlock)) {
		case 1:
			return SecureMemory::locked;
		case 2:
			return SecureMemory::not_locked;
		default:
			return SecureMemory::off;
		}
	}();
	return state;
}

std::uint64_t secure_memory_fallbacks() noexcept
{
	return g_fallbacks.load(std::memory_order_relaxed);
}

void *secret_alloc(std::size_t bytes)
{
	if (bytes == 0)
		bytes = 1;
	if (CRYPTO_secure_malloc_initialized() != 0) {
		/* NOLINTNEXTLINE(cppcoreguidelines-no-malloc,hicpp-no-malloc): OpenSSL's allocator */
		void *p = OPENSSL_secure_malloc(bytes);
		if (p != nullptr)
			return p;
		/* full: the ordinary heap, still wiped on free; counted */
		ERR_clear_error();
		g_fallbacks.fetch_add(1, std::memory_order_relaxed);
	}
	return ::operator new(bytes);
}

void secret_free(void *p, std::size_t bytes) noexcept
{
	if (p == nullptr)
		return;
	if (bytes == 0)
		bytes = 1;
	if (CRYPTO_secure_allocated(p) != 0) {
		OPENSSL_secure_clear_free(p, bytes);
		return;
	}
	secure_wipe(p, bytes);
	::operator delete(p);
}

bool disable_core_dumps() noexcept
{
	return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
}

bool operator==(const SecretBytes &a, const SecretBytes &b) noexcept
{
	return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

SecretText read_secret(int fd, std::size_t max_bytes, const std::string &what)
{
	SecretText text(max_bytes);
	std::size_t len = 0;
	while (len < text.size()) {
		const ssize_t n = ::read(fd, text.data() + len, text.size() - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw_errno(what);
		}
		if (n == 0)
			break;
		len += static_cast<std::size_t>(n);
	}
	text.resize(len);
	return text;
}

SecretText read_password_file(const std::string &path, std::size_t max_len)
{
	const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (!fd)
		throw_errno("password file " + path);
	struct stat st {};
	if (::fstat(fd.get(), &st) != 0)
		throw_errno("password file " + path);
	if (!S_ISREG(st.st_mode))
		throw Error("password file " + path + ": not a regular file", EINVAL);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		throw Error("password file " + path + ": accessible by group or others (chmod 600 " + path + ")",
			    EACCES);
	/* a line of max_len, its "\r\n", and one more byte to see it is longer */
	const SecretText text = read_secret(fd.get(), max_len + 3, "password file " + path);
	const auto end = text.end();
	auto eol = std::find(text.begin(), end, '\n');
	if (eol != text.begin() && *(eol - 1) == '\r')
		--eol;
	if (eol == text.begin())
		throw Error("password file " + path + ": empty first line", EINVAL);
	if (eol - text.begin() > static_cast<std::ptrdiff_t>(max_len))
		throw Error("password file " + path + ": the first line is longer than " + std::to_string(max_len) +
				    " bytes",
			    EINVAL);
	return {text.begin(), eol};
}

} // namespace ntm
