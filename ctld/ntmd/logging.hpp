// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd's log: spdlog on standard error, in one of two formats (D97).
 *
 *  - console: "2026-12-06 11:17:00.123 ntmd[42] info: text", for a
 *    terminal or a file;
 *  - journal: "<6>text", the sd-daemon(3) priority prefix that journald
 *    reads from a service's stream (syslog levels: critical 2, error 3,
 *    warning 4, info 6, debug and trace 7), without a timestamp: the
 *    journal adds its own.  `journalctl -p err -u ntmd` then finds errors.
 *
 * The target "auto" picks journal when standard error is the stream
 * systemd connected to the journal: $JOURNAL_STREAM ("DEV:INODE") names
 * the device and inode of fstat(2), the check systemd.exec(5) documents.
 * A child with inherited JOURNAL_STREAM but stderr redirected elsewhere
 * gets the console format.
 */
#ifndef NTMD_LOGGING_HPP
#define NTMD_LOGGING_HPP

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/common.h>
#include <spdlog/formatter.h>

namespace ntmd {

enum class LogTarget { automatic, console, journal };

/** "auto", "console", "journal"; throws ntm::UsageError otherwise. */
LogTarget parse_log_target(std::string_view s);
/** "trace", "debug", "info", "warn"/"warning", "error", "critical", "off"; throws ntm::UsageError. */
spdlog::level::level_enum parse_log_level(std::string_view s);

/** The syslog(3) priority of a level: 2 critical, 3 error, 4 warning, 6 info, 7 debug and trace. */
int syslog_priority(spdlog::level::level_enum level) noexcept;

/**
 * Whether a $JOURNAL_STREAM value ("DEV:INODE", decimal) names the file
 * with this device and inode. nullptr, empty or malformed: false.
 */
bool journal_stream_matches(const char *value, dev_t dev, ino_t ino) noexcept;

/** automatic resolved against $JOURNAL_STREAM and fstat(STDERR_FILENO). */
LogTarget resolve_log_target(LogTarget t);

/** The formatter of a resolved target (console or journal). */
std::unique_ptr<spdlog::formatter> make_log_formatter(LogTarget resolved);

/** ntmd's default logger "ntmd" on standard error: the target's format, flushed on every line. */
void setup_logging(spdlog::level::level_enum level, LogTarget target);

} // namespace ntmd

#endif
