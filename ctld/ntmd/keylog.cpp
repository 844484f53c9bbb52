// SPDX-License-Identifier: GPL-2.0
#include "keylog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "ntm/error.hpp"
#include "ntm/secret.hpp"

namespace ntmd {

namespace {

std::string hex(std::span<const std::uint8_t> b)
{
	static constexpr std::string_view kDigits = "0123456789abcdef";
	std::string s;
	s.reserve(2 * b.size());
	for (const std::uint8_t x : b) {
		s.push_back(kDigits[x >> 4]);
		s.push_back(kDigits[x & 0x0f]);
	}
	return s;
}

std::string hex32(std::uint32_t v)
{
	const std::array<std::uint8_t, 4> b{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
					    static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
	return hex(b);
}

} // namespace

KeyLog &KeyLog::instance()
{
	static KeyLog log;
	return log;
}

KeyLog::KeyLog()
{
	// NOLINTNEXTLINE(concurrency-mt-unsafe): ntmd reads it once, on its one thread
	const char *path = std::getenv("NTM_KEYLOG");
	if (path == nullptr || *path == '\0')
		return;
	const int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		spdlog::error("NTM_KEYLOG={}: {}: no key log", path, ntm::errno_string(errno));
		return;
	}
	file_.reset(::fdopen(fd, "a"));
	if (!file_) {
		::close(fd);
		spdlog::error("NTM_KEYLOG={}: fdopen failed: no key log", path);
		return;
	}
	spdlog::warn("NTM_KEYLOG is set: writing tunnel keys to {}. This is a debugging aid that defeats the "
		     "security of every tunnel; never set it in production",
		     path);
}

void KeyLog::line(const std::string &text)
{
	(void)std::fputs(text.c_str(), file_.get());
	(void)std::fputc('\n', file_.get());
	(void)std::fflush(file_.get());
}

void KeyLog::tunnel(std::uint32_t comm_id, bool opener, std::uint32_t local_index, std::uint32_t remote_index,
		    std::uint8_t cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> tx_salt,
		    std::span<const std::uint8_t> rx_salt)
{
	if (!active())
		return;
	std::string l = "TUNNEL comm=" + hex32(comm_id) + " role=" + (opener ? "opener" : "waiter") +
			" local=" + hex32(local_index) + " remote=" + hex32(remote_index) +
			" cipher=" + std::to_string(cipher) + " key=" + hex(key) + " tx_salt=" + hex(tx_salt) +
			" rx_salt=" + hex(rx_salt);
	line(l);
	ntm::secure_wipe(l);
}

void KeyLog::comm(std::uint32_t comm_id, std::span<const std::uint8_t> k_tun, std::span<const std::uint8_t> k_tmp)
{
	if (!active())
		return;
	std::string l = "COMM comm=" + hex32(comm_id) + " k_tun=" + hex(k_tun) + " k_tmp=" + hex(k_tmp);
	line(l);
	ntm::secure_wipe(l);
}

} // namespace ntmd
