// SPDX-License-Identifier: GPL-2.0
/* ntmctl monitor's line formats (D97): the ISO 8601 time and daemon events. */
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <regex>

#include <nlohmann/json.hpp>

#include "monitor.hpp"

using ntmctl::format_daemon_event;
using ntmctl::iso_timestamp;

TEST(Monitor, IsoTimestampLocalWithMilliseconds)
{
	const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796555820123LL));
	const auto s = iso_timestamp(t);
	EXPECT_TRUE(std::regex_match(s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.123[+-]\d\d:\d\d)"))) << s;
	/* in UTC the whole string is known */
	// NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded test
	::setenv("TZ", "UTC", 1);
	::tzset();
	EXPECT_EQ(iso_timestamp(t), "2026-12-06T11:17:00.123+00:00");
	// NOLINTNEXTLINE(concurrency-mt-unsafe)
	::setenv("TZ", "Asia/Kolkata", 1);
	::tzset();
	const auto k = iso_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(5)));
	/* without tzdata the zone falls back to UTC: either is ISO 8601 */
	EXPECT_TRUE(k == "1970-01-01T05:30:00.005+05:30" || k == "1970-01-01T00:00:00.005+00:00") << k;
	// NOLINTNEXTLINE(concurrency-mt-unsafe)
	::unsetenv("TZ");
	::tzset();
}

TEST(Monitor, DaemonEventLine)
{
	const auto ev = nlohmann::json::parse(R"({"event":"tunnel_up","role":"node","time_ms":1,"source":"ntmd",
		"peer":"b.ntm.test","local_index":7,"path":"direct","relay":"","error":"no \"route\" here",
		"roles":["dc","node"]})");
	EXPECT_EQ(format_daemon_event(ev), "ntmd node tunnel-up error \"no \\\"route\\\" here\" local-index 7 path direct "
					   "peer b.ntm.test relay \"\" roles dc,node");
	EXPECT_EQ(format_daemon_event(nlohmann::json{{"event", "stopping"}, {"role", "daemon"}}), "ntmd daemon stopping");
}
