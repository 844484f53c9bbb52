// SPDX-License-Identifier: GPL-2.0
#include "logging.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "ntm/error.hpp"

namespace ntmd {

namespace {

/* "%*" in a pattern: the sd-daemon(3) priority digit of the message's level */
class PriorityFlag final : public spdlog::custom_flag_formatter {
public:
	void format(const spdlog::details::log_msg &msg, const std::tm & /*tm*/, spdlog::memory_buf_t &dest) override
	{
		const char digit = static_cast<char>('0' + syslog_priority(msg.level));
		dest.push_back(digit);
	}
	[[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override
	{
		return std::make_unique<PriorityFlag>();
	}
};

/* a decimal unsigned number filling all of s */
template <typename T> bool parse_decimal(std::string_view s, T &out) noexcept
{
	if (s.empty())
		return false;
	const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
	return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

} // namespace

LogTarget parse_log_target(std::string_view s)
{
	if (s == "auto")
		return LogTarget::automatic;
	if (s == "console")
		return LogTarget::console;
	if (s == "journal")
		return LogTarget::journal;
	throw ntm::UsageError("invalid log target '" + std::string(s) + "': expected auto, console or journal");
}

spdlog::level::level_enum parse_log_level(std::string_view s)
{
	using spdlog::level::level_enum;
	if (s == "trace")
		return level_enum::trace;
	if (s == "debug")
		return level_enum::debug;
	if (s == "info")
		return level_enum::info;
	if (s == "warn" || s == "warning")
		return level_enum::warn;
	if (s == "error")
		return level_enum::err;
	if (s == "critical")
		return level_enum::critical;
	if (s == "off")
		return level_enum::off;
	throw ntm::UsageError("invalid --log-level '" + std::string(s) +
			      "': expected trace, debug, info, warn, error, critical or off");
}

int syslog_priority(spdlog::level::level_enum level) noexcept
{
	switch (level) {
	case spdlog::level::critical:
		return 2; /* LOG_CRIT */
	case spdlog::level::err:
		return 3; /* LOG_ERR */
	case spdlog::level::warn:
		return 4; /* LOG_WARNING */
	case spdlog::level::info:
		return 6; /* LOG_INFO */
	case spdlog::level::debug:
	case spdlog::level::trace:
	default:
		return 7; /* LOG_DEBUG */
	}
}

bool journal_stream_matches(const char *value, dev_t dev, ino_t ino) noexcept
{
	if (value == nullptr)
		return false;
	const std::string_view v(value);
	const auto colon = v.find(':');
	if (colon == std::string_view::npos)
		return false;
	std::uint64_t d = 0;
	std::uint64_t i = 0;
	if (!parse_decimal(v.substr(0, colon), d) || !parse_decimal(v.substr(colon + 1), i))
		return false;
	return d == static_cast<std::uint64_t>(dev) && i == static_cast<std::uint64_t>(ino);
}

LogTarget resolve_log_target(LogTarget t)
{
	if (t != LogTarget::automatic)
		return t;
	struct stat st {};
	if (::fstat(STDERR_FILENO, &st) != 0)
		return LogTarget::console;
	// NOLINTNEXTLINE(concurrency-mt-unsafe): before any thread
	return journal_stream_matches(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino) ? LogTarget::journal
											    : LogTarget::console;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogTarget resolved)
{
	auto f = std::make_unique<spdlog::pattern_formatter>();
	if (resolved == LogTarget::journal)
		f->add_flag<PriorityFlag>('*').set_pattern("<%*>%v");
	else
		f->set_pattern("%Y-%m-%d %H:%M:%S.%e ntmd[%P] %l: %v");
	return f;
}

void setup_logging(spdlog::level::level_enum level, LogTarget target)
{
	auto logger = spdlog::get("ntmd");
	if (!logger)
		logger = spdlog::stderr_logger_st("ntmd");
	logger->set_formatter(make_log_formatter(resolve_log_target(target)));
	logger->set_level(level);
	logger->flush_on(spdlog::level::trace);
	spdlog::set_default_logger(logger);
}

} // namespace ntmd
