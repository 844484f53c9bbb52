// SPDX-License-Identifier: GPL-2.0
/*
 * ntmd --check-config: the problems found, in the order found, each once,
 * printed as "ntmd: FILE: error: ..." / "ntmd: FILE: warning: ..." and a
 * summary line (D95, ntmd(8)).
 */
#ifndef NTMD_CHECK_REPORT_HPP
#define NTMD_CHECK_REPORT_HPP

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace ntmd::check {

enum class Severity { error, warning };

struct Problem {
	Severity severity = Severity::error;
	std::string file; /* the file or directory the problem is about */
	std::string text; /* "tls.private_key: mode 0644 ..." */
	friend bool operator==(const Problem &, const Problem &) = default;
};

class Report {
public:
	/** Adds a problem unless the same one is already there (a directory shared by many files). */
	void error(const std::string &file, const std::string &text);
	void warning(const std::string &file, const std::string &text);

	[[nodiscard]] const std::vector<Problem> &problems() const noexcept { return problems_; }
	[[nodiscard]] std::size_t errors() const noexcept { return errors_; }
	[[nodiscard]] std::size_t warnings() const noexcept { return warnings_; }

	/** "ntmd: FILE: error: TEXT" or "ntmd: FILE: warning: TEXT". */
	[[nodiscard]] static std::string line(const Problem &p);
	/** "2 errors, 1 warning". */
	[[nodiscard]] std::string summary() const;
	/** Every line() to diag, then "CONFIG: ok" or "CONFIG: " + summary() to out. */
	void print(std::FILE *diag, std::FILE *out, const std::string &config) const;
	/** 2 (a configuration error, as for a parse error) when there is an error, else 0. */
	[[nodiscard]] int exit_status() const noexcept { return errors_ != 0 ? 2 : 0; }

private:
	void add(Severity s, const std::string &file, const std::string &text);
	std::vector<Problem> problems_;
	std::size_t errors_ = 0;
	std::size_t warnings_ = 0;
};

} // namespace ntmd::check

#endif
