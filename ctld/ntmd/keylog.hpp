// SPDX-License-Identifier: GPL-2.0
/*
 * NTM_KEYLOG: a debugging aid in the spirit of SSLKEYLOGFILE. When the
 * environment variable NTM_KEYLOG names a file at start, ntmd appends to it
 * the keys that let a capture be read: a node the data key and salts of every
 * tunnel it programs, a DC the K_tun and K_tmp of every communication it
 * directs. It defeats the security of the tunnels and is off unless set;
 * ntmd says so at warning level when it is on. ntmd(8) documents the format;
 * tests/selftests/ntm_keyrecovery.sh uses it.
 */
#ifndef NTMD_KEYLOG_HPP
#define NTMD_KEYLOG_HPP

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

namespace ntmd {

class KeyLog {
public:
	/** The process's key log: opened from NTM_KEYLOG on the first call (say, at a role's start). */
	static KeyLog &instance();

	[[nodiscard]] bool active() const noexcept { return file_ != nullptr; }

	/** TUNNEL comm=<hex> role=<opener|waiter> local=<hex> remote=<hex> cipher=<n> key=<hex> tx_salt=<hex> rx_salt=<hex> */
	void tunnel(std::uint32_t comm_id, bool opener, std::uint32_t local_index, std::uint32_t remote_index,
		    std::uint8_t cipher, std::span<const std::uint8_t> key, std::span<const std::uint8_t> tx_salt,
		    std::span<const std::uint8_t> rx_salt);
	/** COMM comm=<hex> k_tun=<hex> k_tmp=<hex> */
	void comm(std::uint32_t comm_id, std::span<const std::uint8_t> k_tun, std::span<const std::uint8_t> k_tmp);

private:
	KeyLog();
	void line(const std::string &text);

	struct Close {
		void operator()(std::FILE *f) const noexcept
		{
			(void)std::fclose(f); // NOLINT(cppcoreguidelines-owning-memory): the unique_ptr owns it
		}
	};
	std::unique_ptr<std::FILE, Close> file_;
};

} // namespace ntmd

#endif
