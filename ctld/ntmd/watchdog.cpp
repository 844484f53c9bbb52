// SPDX-License-Identifier: GPL-2.0
#include "watchdog.hpp"

#include <cstdint>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace ntmd {

SdWatchdog::SdWatchdog(asio::io_context &io) : timer_(io)
{
	std::uint64_t usec = 0;
	/* > 0: enabled for this process; 0: not asked; < 0: malformed environment */
	const int r = sd_watchdog_enabled(0, &usec);
	if (r <= 0 || usec == 0)
		return;
	period_ = std::chrono::microseconds(usec / 2);
	spdlog::info("systemd watchdog: WATCHDOG=1 every {} ms", period_.count() / 1000);
	(void)sd_notify(0, "WATCHDOG=1");
	arm();
}

void SdWatchdog::arm()
{
	timer_.expires_after(period_);
	timer_.async_wait([this](const asio::error_code &ec) {
		if (ec || stopped_)
			return;
		(void)sd_notify(0, "WATCHDOG=1");
		arm();
	});
}

void SdWatchdog::stop() noexcept
{
	stopped_ = true;
	try {
		timer_.cancel();
	} catch (...) { // NOLINT(bugprone-empty-catch): nothing to cancel then
	}
}

} // namespace ntmd
