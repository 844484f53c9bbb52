// SPDX-License-Identifier: GPL-2.0
#include "check_report.hpp"

#include <algorithm>

namespace ntmd::check {

namespace {

std::string count(std::size_t n, const char *what)
{
	return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

} // namespace

void Report::add(Severity s, const std::string &file, const std::string &text)
{
	Problem p{s, file, text};
	if (std::ranges::find(problems_, p) != problems_.end())
		return;
	problems_.push_back(std::move(p));
	if (s == Severity::error)
		errors_++;
	else
		warnings_++;
}

void Report::error(const std::string &file, const std::string &text)
{
	add(Severity::error, file, text);
}

void Report::warning(const std::string &file, const std::string &text)
{
	add(Severity::warning, file, text);
}

std::string Report::line(const Problem &p)
{
	return "ntmd: " + p.file + (p.severity == Severity::error ? ": error: " : ": warning: ") + p.text;
}

std::string Report::summary() const
{
	return count(errors_, "error") + ", " + count(warnings_, "warning");
}

void Report::print(std::FILE *diag, std::FILE *out, const std::string &config) const
{
	for (const auto &p : problems_)
		(void)std::fprintf(diag, "%s\n", line(p).c_str());
	if (problems_.empty())
		(void)std::fprintf(out, "%s: ok\n", config.c_str());
	else
		(void)std::fprintf(out, "%s: %s\n", config.c_str(), summary().c_str());
}

} // namespace ntmd::check
