// SPDX-License-Identifier: GPL-2.0
/*
 * The systemd watchdog: when the service has WatchdogSec= (systemd passes
 * WATCHDOG_USEC and WATCHDOG_PID), WATCHDOG=1 goes out at half that
 * interval from a timer on the event loop.  A loop that blocks or spins
 * stops the pings, and systemd restarts the service (Restart=on-failure).
 */
#ifndef NTMD_WATCHDOG_HPP
#define NTMD_WATCHDOG_HPP

#include <chrono>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace ntmd {

class SdWatchdog {
public:
	/** Starts pinging if systemd asked for it (a no-op otherwise). */
	explicit SdWatchdog(asio::io_context &io);
	SdWatchdog(const SdWatchdog &) = delete;
	SdWatchdog &operator=(const SdWatchdog &) = delete;
	SdWatchdog(SdWatchdog &&) = delete;
	SdWatchdog &operator=(SdWatchdog &&) = delete;
	~SdWatchdog() { stop(); }

	/** No more pings (shutting down: systemd's stop timeout takes over). */
	void stop() noexcept;
	[[nodiscard]] bool enabled() const noexcept { return period_.count() != 0; }

private:
	void arm();

	asio::steady_timer timer_;
	std::chrono::microseconds period_{0};
	bool stopped_ = false;
};

} // namespace ntmd

#endif
