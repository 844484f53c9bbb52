// SPDX-License-Identifier: GPL-2.0
#include "ntm/secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <openssl/crypto.h>

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
